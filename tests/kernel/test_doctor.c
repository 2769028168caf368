/* Kernel test of `sonde doctor`: runs the real binary on this kernel and checks
 * its verdict and every check this machine is known to pass or miss (kprobes
 * and fentry are compiled out here), plus the usage-error contract.
 * Usage: test_doctor [path/to/sonde]   (default build/sonde, then next to
 * this binary's build directory). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernel/kernel_test.h"

#define SONDE_DEFAULT_PATH "build/sonde"
/* From build/tests/kernel/test_doctor to build/sonde. */
#define SONDE_FROM_TEST_DIR "/../../sonde"
#define OUTPUT_BYTES_MAX (64 * 1024)
#define FIELD_BYTES_MAX 1024
#define EXIT_USAGE_CODE 2

static char sonde_path[PATH_MAX];

struct run_result {
	int exit_code;        /* -1 when killed by a signal */
	char out[OUTPUT_BYTES_MAX];
	char err[OUTPUT_BYTES_MAX];
};

static void read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < cap) {
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
}

/* Run sonde with args (NULL-terminated, without argv[0]); 0 or -errno. */
static int run_sonde(const char *const *args, struct run_result *r)
{
	char *argv[8] = { sonde_path };
	int out_pipe[2], err_pipe[2], status;
	size_t i;
	pid_t pid;

	for (i = 0; args[i] && i + 2 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	if (pipe(out_pipe) || pipe(err_pipe))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(out_pipe[1], STDOUT_FILENO);
		dup2(err_pipe[1], STDERR_FILENO);
		close(out_pipe[0]);
		close(err_pipe[0]);
		execv(sonde_path, argv);
		_exit(127);
	}
	close(out_pipe[1]);
	close(err_pipe[1]);
	/* stderr stays far below a pipe's capacity, so reading it second is safe. */
	read_all(out_pipe[0], r->out, sizeof(r->out));
	read_all(err_pipe[0], r->err, sizeof(r->err));
	close(out_pipe[0]);
	close(err_pipe[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return 0;
}

/* Decode the JSON string starting at s (just after its opening quote) into
 * out; returns a pointer past the closing quote, or NULL. Only the escapes
 * sonde's writer produces for ASCII text are decoded; others are kept. */
static const char *json_string_read(const char *s, char *out, size_t cap)
{
	size_t len = 0;

	while (*s && *s != '"') {
		char c = *s++;

		if (c == '\\' && *s) {
			c = *s++;
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
		}
		if (len + 1 < cap)
			out[len++] = c;
	}
	out[len] = '\0';
	return *s == '"' ? s + 1 : NULL;
}

/* In the check object named name, the string value of key; 0 or -ENOENT. */
static int check_field(const char *json, const char *name, const char *key, char *out, size_t cap)
{
	char needle[128], keypat[64];
	const char *obj, *end, *p;

	snprintf(needle, sizeof(needle), "{\"name\":\"%s\"", name);
	obj = strstr(json, needle);
	if (!obj)
		return -ENOENT;
	/* The object ends at the first '}' outside a string. */
	for (end = obj + 1; *end && *end != '}'; end++) {
		if (*end == '"') {
			for (end++; *end && *end != '"'; end++)
				if (*end == '\\' && end[1])
					end++;
		}
	}
	snprintf(keypat, sizeof(keypat), "\"%s\":\"", key);
	p = strstr(obj, keypat);
	if (!p || p > end)
		return -ENOENT;
	return json_string_read(p + strlen(keypat), out, cap) ? 0 : -ENOENT;
}

static void assert_check(const char *json, const char *name, const char *want_status)
{
	char status[FIELD_BYTES_MAX], detail[FIELD_BYTES_MAX];

	if (check_field(json, name, "status", status, sizeof(status)))
		fail_msg("check %s not in the output: %s", name, json);
	if (check_field(json, name, "detail", detail, sizeof(detail)))
		fail_msg("check %s has no detail", name);
	if (strcmp(status, want_status))
		fail_msg("check %s: status %s, expected %s (detail: %s)", name, status,
			 want_status, detail);
	if (!detail[0])
		fail_msg("check %s: empty detail", name);
}

static void test_doctor_json(void **state)
{
	static const char *const args[] = { "doctor", "--json", NULL };
	static const char *const ok_checks[] = {
		"btf", "ringbuf", "syscall_tracepoints", "sched_tracepoints",
		"raw_tracepoints", "uprobes", "bpf_stats",
	};
	static const char *const missing_checks[] = { "kprobes", "fentry" };
	struct run_result *r;

	(void)state;
	KERNEL_TEST_REQUIRE_ROOT();
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(run_sonde(args, r), 0);
	if (r->exit_code != 0)
		fail_msg("sonde doctor --json exited %d; stderr: %s", r->exit_code, r->err);
	assert_non_null(strstr(r->out, "{\"type\":\"doctor\""));
	assert_non_null(strstr(r->out, "\"can_run\":true"));
	/* One JSON object on one line. */
	assert_ptr_equal(strchr(r->out, '\n'), r->out + strlen(r->out) - 1);
	for (size_t i = 0; i < sizeof(ok_checks) / sizeof(ok_checks[0]); i++)
		assert_check(r->out, ok_checks[i], "ok");
	for (size_t i = 0; i < sizeof(missing_checks) / sizeof(missing_checks[0]); i++)
		assert_check(r->out, missing_checks[i], "missing");
	free(r);
}

static void test_doctor_text(void **state)
{
	static const char *const args[] = { "doctor", NULL };
	struct run_result *r;

	(void)state;
	KERNEL_TEST_REQUIRE_ROOT();
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(run_sonde(args, r), 0);
	if (r->exit_code != 0)
		fail_msg("sonde doctor exited %d; stderr: %s", r->exit_code, r->err);
	assert_non_null(strstr(r->out, "CHECK"));
	assert_non_null(strstr(r->out, "kprobes "));
	assert_non_null(strstr(r->out, "sonde can run here"));
	free(r);
}

static void test_doctor_bogus_option(void **state)
{
	static const char *const args[] = { "doctor", "--bogus", NULL };
	struct run_result *r;
	size_t len;

	(void)state;
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(run_sonde(args, r), 0);
	assert_int_equal(r->exit_code, EXIT_USAGE_CODE);
	len = strlen(r->err);
	/* Exactly one non-empty line on stderr, nothing on stdout. */
	assert_true(len > 1);
	assert_ptr_equal(strchr(r->err, '\n'), r->err + len - 1);
	assert_non_null(strstr(r->err, "--bogus"));
	assert_string_equal(r->out, "");
	free(r);
}

static void test_doctor_help(void **state)
{
	static const char *const args[] = { "doctor", "--help", NULL };
	struct run_result *r;

	(void)state;
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(run_sonde(args, r), 0);
	assert_int_equal(r->exit_code, 0);
	assert_non_null(strstr(r->out, "EXAMPLES"));
	free(r);
}

/* argv[1], else build/sonde from the working directory, else relative to
 * this test binary. 0 or -ENOENT. */
static int find_sonde(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t n;

	if (argc > 1) {
		snprintf(sonde_path, sizeof(sonde_path), "%s", argv[1]);
		return access(sonde_path, X_OK) ? -ENOENT : 0;
	}
	snprintf(sonde_path, sizeof(sonde_path), "%s", SONDE_DEFAULT_PATH);
	if (!access(sonde_path, X_OK))
		return 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -ENOENT;
	self[n] = '\0';
	snprintf(sonde_path, sizeof(sonde_path), "%s%s", dirname(self), SONDE_FROM_TEST_DIR);
	return access(sonde_path, X_OK) ? -ENOENT : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doctor_json),
		cmocka_unit_test(test_doctor_text),
		cmocka_unit_test(test_doctor_bogus_option),
		cmocka_unit_test(test_doctor_help),
	};

	if (find_sonde(argc, argv)) {
		fprintf(stderr, "test_doctor: no sonde binary (tried %s); build it with "
				"'make build/sonde' or pass its path\n", sonde_path);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
