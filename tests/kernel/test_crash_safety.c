/* Crash safety: a sonde killed with SIGKILL at any moment (loading,
 * attaching, tracing) leaves no BPF program of its own in the kernel, and a
 * new one attaches and traces again. Checked against the kernel's program
 * list (what `bpftool prog` shows): a program of sonde's loaded since the
 * instance started that no live process holds is a leak. Needs root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
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
	"sys_exit_any", "ssl_read_enter", "ssl_read_exit",
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

/* Program ids some live process holds (a program fd, or a link on it:
 * both show "prog_id:" in /proc/PID/fdinfo), sorted. Another sonde on the
 * machine holds its own programs; a killed one's programs have no holder
 * left and must be freed. */
#define HELD_MAX 4096

struct held {
	uint32_t ids[HELD_MAX];
	size_t n;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void fdinfo_ids(const char *dir, struct held *h)
{
	char path[512], line[128];
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) && h->n < HELD_MAX) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f) && h->n < HELD_MAX)
			if (!strncmp(line, "prog_id:", 8))
				h->ids[h->n++] = (uint32_t)strtoul(line + 8, NULL, 10);
		fclose(f);
	}
	closedir(d);
}

static void held_scan(struct held *h, pid_t only)
{
	char dir[300];
	DIR *proc;
	struct dirent *e;

	h->n = 0;
	if (only > 0) {
		snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)only);
		fdinfo_ids(dir, h);
	} else if ((proc = opendir("/proc"))) {
		while ((e = readdir(proc)))
			if (e->d_name[0] >= '1' && e->d_name[0] <= '9') {
				snprintf(dir, sizeof(dir), "/proc/%s/fdinfo", e->d_name);
				fdinfo_ids(dir, h);
			}
		closedir(proc);
	}
	qsort(h->ids, h->n, sizeof(h->ids[0]), cmp_u32);
}

static bool held_has(const struct held *h, uint32_t id)
{
	return bsearch(&id, h->ids, h->n, sizeof(id), cmp_u32) != NULL;
}

static bool is_sonde_prog(const char *name)
{
	for (size_t i = 0; i < sizeof(sonde_progs) / sizeof(sonde_progs[0]); i++)
		if (!strncmp(name, sonde_progs[i], BPF_OBJ_NAME_LEN))
			return true;
	return false;
}

/* Programs with sonde's names loaded since min_id (ids only grow) that
 * holders (see held_scan) does not hold: holders of one process (owner), or
 * of every live process (owner 0). */
static int count_sonde_progs(uint32_t min_id, pid_t owner, bool held)
{
	struct held *h = malloc(sizeof(*h));
	uint32_t id = min_id;
	int n = 0;

	assert_non_null(h);
	held_scan(h, owner);
	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = { 0 };
		uint32_t len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue; /* freed meanwhile */
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && is_sonde_prog(info.name) &&
		    held_has(h, id) == held)
			n++;
		close(fd);
	}
	free(h);
	return n;
}

static uint32_t max_prog_id(void)
{
	uint32_t id = 0, next;

	while (!bpf_prog_get_next_id(id, &next))
		id = next;
	return id;
}

/* Until no sonde program loaded since min_id is left without a holder. */
static bool wait_orphans_gone(uint32_t min_id, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;

	do {
		if (count_sonde_progs(min_id, 0, false) == 0)
			return true;
		sleep_ms(20);
	} while (now_ms() < deadline);
	return false;
}

/* Until process pid holds sonde programs. */
static bool wait_attached(pid_t pid, uint32_t min_id, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;

	do {
		if (count_sonde_progs(min_id, pid, true) > 0)
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

static void require_sonde(void)
{
	KERNEL_TEST_REQUIRE_ROOT();
	if (access(kernel_test_sonde_path(), X_OK))
		fail_msg("%s not found: build it first (make)", kernel_test_sonde_path());
}

/* SIGKILL at random moments, from right after the start to well into
 * tracing: every time, all of that instance's programs are gone. Other
 * sondes may run meanwhile (their programs have a live holder). */
static void kill_at_random_moments(const char *cmd)
{
	unsigned seed = (unsigned)now_ms();
	uint32_t min_id;
	pid_t pid;

	require_sonde();
	for (int i = 0; i < KILLS_PER_TRACER; i++) {
		unsigned delay = (unsigned)rand_r(&seed) % KILL_DELAY_MS_MAX;

		min_id = max_prog_id();
		pid = start_sonde(cmd);
		sleep_ms(delay);
		kill_reap(pid);
		if (!wait_orphans_gone(min_id, GONE_TIMEOUT_MS))
			fail_msg("sonde %s killed %u ms after its start left %d program(s) loaded",
				 cmd, delay, count_sonde_progs(min_id, 0, false));
	}
	/* and a new one attaches again */
	min_id = max_prog_id();
	pid = start_sonde(cmd);
	if (!wait_attached(pid, min_id, ATTACH_TIMEOUT_MS)) {
		kill_reap(pid);
		fail_msg("sonde %s did not attach again after the kills", cmd);
	}
	kill_reap(pid);
	assert_true(wait_orphans_gone(min_id, GONE_TIMEOUT_MS));
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
