/* bench/hook_floor, the floors of bench-http (tracers hook-floor,
 * hook-floor-syscalls and hook-floor-tls), measured through the lab's own
 * tracer API as bench_http does: on sys_exit its empty program runs at the
 * exit of every syscall (getppid included); with --syscalls only at the
 * exits of the syscalls sonde http reads (read, not getppid); with --tls,
 * also as uprobes at the SSL calls of an HTTPS exchange (nginx and curl). A
 * hook that did not attach, or counted the wrong calls, would make its
 * floor a wrong figure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "kernel_test.h"
#include "lab/nginx.h"
#include "lab/tracer_proc.h"

#define CALLS 20000
#define ATTACH_TIMEOUT_S 10.0

/* BUILD/tests/kernel/test_hook_floor -> BUILD/bench/hook_floor. */
static const char *hook_floor_path(void)
{
	static char path[PATH_MAX];
	char self[PATH_MAX - 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *cut;

	if (n > 0) {
		self[n] = '\0';
		cut = strstr(self, "/tests/kernel/");
		if (cut) {
			*cut = '\0';
			snprintf(path, sizeof(path), "%s/bench/hook_floor", self);
			return path;
		}
	}
	return "build/bench/hook_floor";
}

static int stats_fd = -1;

static int setup(void **state)
{
	char err[256];

	(void)state;
	if (geteuid() != 0)
		return 0;
	stats_fd = lab_bpf_stats_enable(err, sizeof(err));
	if (stats_fd < 0)
		fprintf(stderr, "run-time statistics: %s\n", err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (stats_fd >= 0)
		close(stats_fd);
	return 0;
}

struct counts {
	uint64_t getppid_runs, read_runs;
};

/* Start hook_floor with arg (NULL: none), its output in out and err
 * (mkstemp templates, filled in), and wait until its programs are
 * attached: want of them, or the test fails. */
static void floor_start(const char *arg, char *out, char *err, struct lab_tracer *t, int want)
{
	char *argv[] = { (char *)hook_floor_path(), (char *)arg, NULL };
	char reason[256];
	int fd, progs;

	if (access(argv[0], X_OK))
		fail_msg("%s not found: build it first (make test builds it)", argv[0]);
	fd = mkstemp(out);
	assert_true(fd >= 0);
	close(fd);
	fd = mkstemp(err);
	assert_true(fd >= 0);
	close(fd);
	if (lab_tracer_start(t, argv, out, err, reason, sizeof(reason)))
		fail_msg("hook_floor %s did not start: %s", arg ? arg : "", reason);
	progs = lab_tracer_wait_attached(t, "hook_floor: attached", ATTACH_TIMEOUT_S, reason,
					 sizeof(reason));
	if (progs != want) {
		lab_tracer_stop(t);
		fail_msg("hook_floor %s: %d programs attached, want %d: %s", arg ? arg : "", progs,
			 want, reason);
	}
}

/* Start hook_floor with arg (NULL: none), count its program's runs over
 * CALLS getppid and then CALLS one-byte reads of /dev/zero, stop it. */
static void measure(const char *arg, struct counts *c)
{
	char out[] = "/tmp/sonde-test-floor-out.XXXXXX", err[] = "/tmp/sonde-test-floor-err.XXXXXX";
	char byte;
	struct lab_tracer t;
	uint64_t ns, runs;
	int zero;

	KERNEL_TEST_REQUIRE_ROOT();
	if (stats_fd < 0)
		KERNEL_TEST_UNAVAILABLE("BPF run-time statistics cannot be enabled");
	zero = open("/dev/zero", O_RDONLY);
	assert_true(zero >= 0);
	floor_start(arg, out, err, &t, 1);

	lab_tracer_mark(&t);
	for (int i = 0; i < CALLS; i++)
		syscall(SYS_getppid);
	lab_tracer_sample(&t);
	lab_tracer_bpf_totals(&t, &ns, &runs);
	c->getppid_runs = runs;

	lab_tracer_mark(&t);
	for (int i = 0; i < CALLS; i++)
		assert_int_equal(read(zero, &byte, 1), 1);
	lab_tracer_sample(&t);
	lab_tracer_bpf_totals(&t, &ns, &runs);
	c->read_runs = runs;

	lab_tracer_stop(&t);
	assert_int_equal(t.exit_code, 0);
	close(zero);
	unlink(out);
	unlink(err);
}

static void test_sys_exit_runs_on_every_syscall(void **state)
{
	struct counts c;

	(void)state;
	measure(NULL, &c);
	/* every syscall of the machine runs it: ours at least */
	assert_true(c.getppid_runs >= CALLS);
	assert_true(c.read_runs >= CALLS);
}

static void test_syscalls_run_only_on_the_syscalls_sonde_reads(void **state)
{
	struct counts c;

	(void)state;
	measure("--syscalls", &c);
	/* getppid is not one of them: what ran meanwhile is the reads and
	 * writes of other processes and the lab's own reads of /proc when it
	 * samples the statistics (~550 here), far fewer than the calls */
	assert_true(c.getppid_runs < CALLS / 4);
	assert_true(c.read_runs >= CALLS);
}

static void test_unknown_tracepoint_is_one_line_error(void **state)
{
	char *argv[] = { (char *)hook_floor_path(), "no_such_tracepoint", NULL };
	char err[] = "/tmp/sonde-test-floor-err.XXXXXX", buf[512];
	int fd, status;
	ssize_t n;
	pid_t pid;

	(void)state;
	KERNEL_TEST_REQUIRE_ROOT();
	fd = mkstemp(err);
	assert_true(fd >= 0);
	close(fd);
	pid = lab_spawn_logged(argv, NULL, err);
	assert_true(pid > 0);
	assert_int_equal(lab_wait_exit(pid, 10000, &status, NULL), 0);
	assert_int_equal(lab_exit_code(status), 1);
	fd = open(err, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(err);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "hook_floor: attaching to no_such_tracepoint: "));
	assert_ptr_equal(strchr(buf, '\n'), buf + n - 1);
}

/* --tls: sys_exit's program and the uprobe program (a kprobe-type one),
 * the latter run at the entry and the return of each SSL call: an HTTPS
 * exchange makes at least a read and a write on each side. */
static void test_tls_uprobes_run_at_ssl_calls(void **state)
{
	char out[] = "/tmp/sonde-test-floor-out.XXXXXX", err[] = "/tmp/sonde-test-floor-err.XXXXXX";
	struct lab_nginx_opts o = { .cpu = -1, .tls = true };
	enum { REQUESTS = 5 };
	char reason[256], url[64];
	struct lab_nginx n;
	struct lab_tracer t;
	uint64_t uprobe_runs = 0;
	int uprobe_progs = 0;

	(void)state;
	KERNEL_TEST_REQUIRE_ROOT();
	if (stats_fd < 0)
		KERNEL_TEST_UNAVAILABLE("BPF run-time statistics cannot be enabled");
	if (lab_nginx_start(&o, &n, reason, sizeof(reason)))
		fail_msg("nginx over TLS did not start: %s", reason);
	floor_start("--tls", out, err, &t, 2);
	lab_tracer_mark(&t);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", n.port);
	for (int i = 0; i < REQUESTS; i++) {
		char *curl[] = { "curl", "-sk", "-o", "/dev/null", "--noproxy", "*", url, NULL };
		pid_t pid = lab_spawn_logged(curl, NULL, NULL);
		int status;

		assert_true(pid > 0);
		assert_int_equal(lab_wait_exit(pid, 10000, &status, NULL), 0);
		assert_int_equal(lab_exit_code(status), 0);
	}
	assert_true(lab_nginx_wait_requests(&n, REQUESTS, 5000) >= REQUESTS);
	lab_tracer_sample(&t);
	for (int i = 0; i < t.nafter; i++) {
		uint64_t ns, runs;

		if (t.after[i].type != BPF_PROG_TYPE_KPROBE)
			continue;
		uprobe_progs++;
		lab_tracer_prog_delta(&t, i, &ns, &runs);
		uprobe_runs += runs;
	}
	lab_tracer_stop(&t);
	assert_int_equal(t.exit_code, 0);
	lab_nginx_stop(&n);
	unlink(out);
	unlink(err);
	print_message("  %d uprobe program, %llu runs for %d HTTPS requests\n", uprobe_progs,
		      (unsigned long long)uprobe_runs, REQUESTS);
	assert_int_equal(uprobe_progs, 1);
	/* entry and return of a read and a write, nginx's and curl's */
	assert_true(uprobe_runs >= 8 * REQUESTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sys_exit_runs_on_every_syscall),
		cmocka_unit_test(test_syscalls_run_only_on_the_syscalls_sonde_reads),
		cmocka_unit_test(test_unknown_tracepoint_is_one_line_error),
		cmocka_unit_test(test_tls_uprobes_run_at_ssl_calls),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
