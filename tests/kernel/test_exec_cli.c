/* End-to-end tests of the `sonde exec` command: the JSON lines it prints for
 * a real process, its final stats record, and its answers to bad usage (one
 * line on stderr, exit 2). Run from the repository root (build/sonde). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/kernel_test.h"

#define SONDE ((char *)kernel_test_sonde_path())
#define OUT_BYTES_MAX (1 << 20)

struct run {
	int status;
	char out[OUT_BYTES_MAX];
	char err[8192];
};

static void read_all(int fd, char *buf, size_t size)
{
	size_t n = 0;
	ssize_t r;

	while (n + 1 < size && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
}

/* Run sonde with args to completion, capturing stdout and stderr. */
static void run_sonde(struct run *r, char *const args[])
{
	int out[2], err[2];
	pid_t pid;

	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		execv(SONDE, args);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	read_all(out[0], r->out, sizeof(r->out));
	read_all(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	waitpid(pid, &r->status, 0);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void expect_usage_error(char *const args[], const char *needle)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	run_sonde(r, args);
	assert_true(WIFEXITED(r->status));
	assert_int_equal(WEXITSTATUS(r->status), 2);
	assert_int_equal(count_lines(r->err), 1);
	if (needle && !strstr(r->err, needle))
		fail_msg("stderr '%s' lacks '%s'", r->err, needle);
	free(r);
}

static void test_usage_errors(void **st)
{
	(void)st;
	expect_usage_error((char *[]){ SONDE, "exec", "--bogus", NULL }, NULL);
	expect_usage_error((char *[]){ SONDE, "exec", "--pid", "abc", NULL }, "--pid");
	expect_usage_error((char *[]){ SONDE, "exec", "--pid", "-4", NULL }, "--pid");
	expect_usage_error((char *[]){ SONDE, "exec", "--duration", "soon", NULL }, "--duration");
	expect_usage_error((char *[]){ SONDE, "exec", "--impl", "fentry", NULL }, "--impl");
	expect_usage_error((char *[]){ SONDE, "exec", "--comm", "a-name-longer-than-15", NULL }, "--comm");
	expect_usage_error((char *[]){ SONDE, "exec", "stray", NULL }, "stray");
	expect_usage_error((char *[]){ SONDE, "nosuchcommand", NULL }, "unknown command");
}

static void test_help_has_examples(void **st)
{
	struct run *r = calloc(1, sizeof(*r));

	(void)st;
	assert_non_null(r);
	run_sonde(r, (char *[]){ SONDE, "exec", "--help", NULL });
	assert_int_equal(WEXITSTATUS(r->status), 0);
	assert_non_null(strstr(r->out, "EXAMPLES"));
	assert_non_null(strstr(r->out, "--impl"));
	run_sonde(r, (char *[]){ SONDE, "--help", NULL });
	assert_int_equal(WEXITSTATUS(r->status), 0);
	assert_non_null(strstr(r->out, "exec"));
	free(r);
}

static void test_kprobe_refused_with_reason(void **st)
{
	(void)st;
	KERNEL_TEST_REQUIRE_ROOT();
	if (access("/sys/bus/event_source/devices/kprobe", F_OK) == 0)
		skip(); /* this kernel has kprobes: nothing to refuse */
	expect_usage_error((char *[]){ SONDE, "exec", "--impl", "kprobe", "--duration", "1", NULL },
			   "CONFIG_KPROBES");
}

/* The exact JSON records of one process, selected by a unique command name. */
static void test_json_records_exact(void **st)
{
	struct run *r = calloc(1, sizeof(*r));
	char name[16], path[64], expect[1024], comm_arg[32];
	int out[2], err[2];
	pid_t tracer, child;
	char line[512];
	FILE *ferr;
	int status;

	(void)st;
	KERNEL_TEST_REQUIRE_ROOT();
	assert_non_null(r);
	snprintf(name, sizeof(name), "cli%d", getpid() % 1000000);
	snprintf(path, sizeof(path), "/tmp/%s", name);
	snprintf(comm_arg, sizeof(comm_arg), "%s", name);
	unlink(path);
	assert_int_equal(symlink("/bin/sh", path), 0);

	assert_int_equal(pipe(out), 0);
	assert_int_equal(pipe(err), 0);
	tracer = fork();
	if (tracer == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		execl(SONDE, SONDE, "exec", "--impl", "syscalls", "--json", "--comm", comm_arg,
		      "--duration", "30", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	/* wait until it says it is attached */
	ferr = fdopen(err[0], "r");
	assert_non_null(ferr);
	if (!fgets(line, sizeof(line), ferr) || strncmp(line, "sonde exec: tracing", 19)) {
		kill(tracer, SIGKILL);
		waitpid(tracer, NULL, 0);
		if (strstr(line, "Operation not permitted"))
			KERNEL_TEST_UNAVAILABLE(line);
		fail_msg("sonde exec did not attach: %s", line);
	}

	child = fork();
	if (child == 0) {
		execl(path, path, "-c", "exit 5", "a b", "c\"d", (char *)NULL);
		_exit(99);
	}
	waitpid(child, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 5);
	usleep(200 * 1000);
	kill(tracer, SIGINT);
	read_all(out[0], r->out, sizeof(r->out));
	waitpid(tracer, &status, 0);
	fclose(ferr);
	close(out[0]);
	unlink(path);
	assert_int_equal(WEXITSTATUS(status), 0);

	/* exec: every field in DESIGN.md's order; variable values checked apart */
	snprintf(expect, sizeof(expect),
		 "\"pid\":%d,\"ppid\":%d,\"uid\":0,\"comm\":\"%s\",\"filename\":\"%s\","
		 "\"args\":[\"%s\",\"-c\",\"exit 5\",\"a b\",\"c\\\"d\"],\"args_truncated\":false,"
		 "\"argc\":5,\"args_bytes\":",
		 child, getpid(), name, path, path);
	if (!strstr(r->out, expect))
		fail_msg("no exec record like %s in:\n%s", expect, r->out);
	assert_non_null(strstr(r->out, "{\"type\":\"exec\",\"ts_ns\":"));
	snprintf(expect, sizeof(expect),
		 "\"pid\":%d,\"ppid\":%d,\"comm\":\"%s\",\"exit_code\":5,\"signal\":0,"
		 "\"core_dumped\":false,\"duration_ns\":",
		 child, getpid(), name);
	if (!strstr(r->out, expect))
		fail_msg("no exit record like %s in:\n%s", expect, r->out);
	assert_non_null(strstr(r->out, "\"duration_from\":\"exec\"}\n"));
	/* only this process passed the kernel filter: exec + exit, nothing lost */
	assert_non_null(strstr(r->out,
		"{\"type\":\"stats\",\"produced\":2,\"delivered\":2,\"filtered\":0,"
		"\"dropped\":{\"ringbuf_full\":0,\"read_fault\":0,\"map_full\":0,"
		"\"decode_error\":0,\"output_error\":0},\"partial\":{\"read_fault\":0}}\n"));
	assert_int_equal(count_lines(r->out), 3);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help_has_examples),
		cmocka_unit_test(test_kprobe_refused_with_reason),
		cmocka_unit_test(test_json_records_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
