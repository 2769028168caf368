/* Crash safety: a sonde killed with SIGKILL at any moment (loading,
 * attaching, tracing) leaves no BPF program of its own in the kernel, and a
 * new one attaches and traces again. Checked against the kernel's program
 * list (what `bpftool prog` shows). Needs root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kernel/kernel_test.h"

#define KILLS_PER_TRACER 6
#define KILL_DELAY_MS_MAX 1500   /* sonde http loads and attaches in ~0.4 s */
#define GONE_TIMEOUT_MS 5000     /* programs are freed after an RCU grace period */
#define ATTACH_TIMEOUT_MS 10000

/* Programs only sonde loads, by the names the kernel keeps (15 chars). */
static const char *const sonde_progs[] = {
	"sys_exit_any", "sys_enter_close", "ssl_read_enter", "ssl_read_exit",
	"ssl_write_enter", "ssl_write_exit", "tp_sched_exec", "tp_sched_exit",
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Programs loaded in the kernel now whose name is one of sonde's. */
static int count_sonde_progs(void)
{
	uint32_t id = 0;
	int n = 0;

	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = { 0 };
		uint32_t len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue; /* freed meanwhile */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			for (size_t i = 0; i < sizeof(sonde_progs) / sizeof(sonde_progs[0]); i++)
				if (!strncmp(info.name, sonde_progs[i], sizeof(info.name)))
					n++;
		close(fd);
	}
	return n;
}

static bool wait_progs(bool present, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;

	do {
		if ((count_sonde_progs() > 0) == present)
			return true;
		sleep_ms(20);
	} while (now_ms() < deadline);
	return false;
}

static pid_t start_sonde(const char *cmd)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", 1);

		dup2(null, 1);
		dup2(null, 2);
		execl(kernel_test_sonde_path(), kernel_test_sonde_path(), cmd, "--json",
		      "--duration", "60", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void kill_reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

static void require_clean_start(void)
{
	KERNEL_TEST_REQUIRE_ROOT();
	if (access(kernel_test_sonde_path(), X_OK))
		fail_msg("%s not found: build it first (make)", kernel_test_sonde_path());
	/* another sonde on the machine would make the counts meaningless */
	if (!wait_progs(false, GONE_TIMEOUT_MS))
		fail_msg("sonde programs are loaded before the test: is another sonde running?");
}

/* SIGKILL at random moments, from right after the start to well into
 * tracing: every time, all of that instance's programs are gone. */
static void kill_at_random_moments(const char *cmd)
{
	unsigned seed = (unsigned)now_ms();

	require_clean_start();
	for (int i = 0; i < KILLS_PER_TRACER; i++) {
		unsigned delay = (unsigned)rand_r(&seed) % KILL_DELAY_MS_MAX;
		pid_t pid = start_sonde(cmd);

		sleep_ms(delay);
		kill_reap(pid);
		if (!wait_progs(false, GONE_TIMEOUT_MS))
			fail_msg("sonde %s killed %u ms after its start left %d program(s) loaded",
				 cmd, delay, count_sonde_progs());
	}
	/* and a new one attaches again */
	pid_t pid = start_sonde(cmd);

	if (!wait_progs(true, ATTACH_TIMEOUT_MS)) {
		kill_reap(pid);
		fail_msg("sonde %s did not attach again after the kills", cmd);
	}
	kill_reap(pid);
	assert_true(wait_progs(false, GONE_TIMEOUT_MS));
}

static void test_http_killed(void **state)
{
	(void)state;
	kill_at_random_moments("http");
}

static void test_exec_killed(void **state)
{
	(void)state;
	kill_at_random_moments("exec");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_killed),
		cmocka_unit_test(test_exec_killed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
