/* Kernel tests of the process tracer: for every implementation this kernel
 * has, start the tracer, spawn known processes with unique argv, and assert
 * the exact exec, fork and exit records; then storms that check the
 * accounting: delivered + dropped == produced, exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel/kernel_test.h"
#include "loader/bpf_env.h"
#include "loader/exec_tracer.h"

#define RECORDS_MAX 64
#define ARGS_COPY_BYTES 8192
#define WAIT_RECORDS_MS 3000
#define STORM_PROCESSES 2000
#define SPAWN_BATCH 50

extern char **environ;

struct copied {
	enum exec_event_kind kind;
	uint32_t pid, ppid, uid, flags, argc;
	int32_t retval;
	int exit_code, signal;
	bool args_truncated;
	uint64_t duration_ns, cgroup_id;
	char comm[EXEC_COMM_LEN + 1];
	char filename[EXEC_FILENAME_BYTES_MAX];
	char args[ARGS_COPY_BYTES]; /* arguments joined with '\0' */
	uint32_t args_len;
};

struct collector {
	const char *marker;     /* exec records are kept when an arg equals it */
	pid_t pids[RECORDS_MAX];/* exit/fork records are kept for these pids */
	int npids;
	struct copied recs[RECORDS_MAX];
	int nrecs;
	/* storm counting */
	const char *storm_comm;
	uint64_t storm_execs, storm_exits;
};

static bool has_marker(const struct exec_record *r, const char *marker)
{
	for (uint32_t i = 0; i < r->argc; i++)
		if (r->args[i].len == strlen(marker) && !memcmp(r->args[i].ptr, marker, r->args[i].len))
			return true;
	return false;
}

static bool pid_wanted(const struct collector *c, uint32_t pid)
{
	for (int i = 0; i < c->npids; i++)
		if ((uint32_t)c->pids[i] == pid)
			return true;
	return false;
}

static int collect(const struct exec_record *r, void *ctx)
{
	struct collector *c = ctx;
	struct copied *o;

	if (c->storm_comm && !strcmp(r->comm, c->storm_comm)) {
		if (r->kind == EXEC_EV_EXEC)
			c->storm_execs++;
		else if (r->kind == EXEC_EV_EXIT)
			c->storm_exits++;
		return 0;
	}
	if (!c->marker)
		return 0;
	if (r->kind == EXEC_EV_EXEC ? !has_marker(r, c->marker) : !pid_wanted(c, r->pid))
		return 0;
	if (c->nrecs == RECORDS_MAX)
		return 0;
	o = &c->recs[c->nrecs++];
	memset(o, 0, sizeof(*o));
	o->kind = r->kind;
	o->pid = r->pid;
	o->ppid = r->ppid;
	o->uid = r->uid;
	o->flags = r->flags;
	o->retval = r->retval;
	o->exit_code = r->exit_code;
	o->signal = r->signal;
	o->duration_ns = r->duration_ns;
	o->cgroup_id = r->cgroup_id;
	o->args_truncated = r->args_truncated;
	o->argc = r->argc;
	memcpy(o->comm, r->comm, sizeof(o->comm));
	if (r->filename_len < sizeof(o->filename))
		memcpy(o->filename, r->filename, r->filename_len);
	for (uint32_t i = 0; i < r->argc && o->args_len + r->args[i].len + 1 <= sizeof(o->args); i++) {
		memcpy(o->args + o->args_len, r->args[i].ptr, r->args[i].len);
		o->args_len += r->args[i].len + 1;
	}
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Fork, optionally change uid, exec path with argv. The child exits 99 if
 * the exec fails. */
static pid_t spawn_in(const char *path, char *const argv[], int uid, const char *cgroup_procs)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (cgroup_procs) {
			/* "0" moves the writer itself */
			int fd = open(cgroup_procs, O_WRONLY);

			if (fd < 0 || write(fd, "0", 1) != 1)
				_exit(97);
			close(fd);
		}
		if (uid >= 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid))
			_exit(98);
		execv(path, argv);
		_exit(99);
	}
	return pid;
}

static pid_t spawn(const char *path, char *const argv[], int uid)
{
	return spawn_in(path, argv, uid, NULL);
}

/* Where the cgroup v2 hierarchy is mounted; false if it is not. */
static bool cgroup2_mount(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char mnt[512], fstype[64];
		const char *sep = strstr(line, " - ");

		if (sep && sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1 &&
		    sscanf(sep + 3, "%63s", fstype) == 1 && !strcmp(fstype, "cgroup2")) {
			snprintf(buf, size, "%s", mnt);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

static int wait_status(pid_t pid)
{
	int st = -1;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static struct exec_tracer *open_tracer(enum exec_impl impl, const char *comm, uint32_t ringbuf_kb,
				       struct collector *c)
{
	struct exec_tracer_opts o = { .impl = impl, .filter_comm = comm, .ringbuf_kb = ringbuf_kb,
				      .forks = true };
	struct exec_tracer *t = NULL;
	char err[256];
	int ret;

	bpf_env_prepare(getenv("SONDE_TEST_VERBOSE") != NULL);
	ret = exec_tracer_open(&t, &o, collect, c, err, sizeof(err));
	if (ret) {
		char why[400];

		snprintf(why, sizeof(why), "exec tracer (%s) did not open: %s", exec_impl_name(impl), err);
		if (ret == -EPERM || ret == -EACCES)
			KERNEL_TEST_UNAVAILABLE(why);
		fail_msg("%s", why);
	}
	return t;
}

/* Poll until pred holds or the deadline passes. */
static void poll_until(struct exec_tracer *t, struct collector *c,
		       bool (*pred)(const struct collector *c, const void *arg), const void *arg)
{
	uint64_t deadline = now_ms() + WAIT_RECORDS_MS;

	while (!pred(c, arg) && now_ms() < deadline)
		exec_tracer_poll(t, 50);
}

static const struct copied *find(const struct collector *c, enum exec_event_kind kind, pid_t pid)
{
	for (int i = 0; i < c->nrecs; i++)
		if (c->recs[i].kind == kind && c->recs[i].pid == (uint32_t)pid)
			return &c->recs[i];
	return NULL;
}

static bool have_exit_of(const struct collector *c, const void *arg)
{
	return find(c, EXEC_EV_EXIT, *(const pid_t *)arg) != NULL;
}

static void assert_args(const struct copied *r, char *const argv[])
{
	uint32_t off = 0, n = 0;

	for (; argv[n]; n++) {
		size_t len = strlen(argv[n]);

		assert_true(off + len < r->args_len + 1);
		assert_memory_equal(r->args + off, argv[n], len);
		assert_int_equal(r->args[off + len], '\0');
		off += (uint32_t)len + 1;
	}
	assert_int_equal(r->argc, n);
}

static void make_marker(char *buf, size_t size, const char *what)
{
	snprintf(buf, size, "sonde-test-%s-%d-%llu", what, getpid(), (unsigned long long)now_ms());
}

/* Exact records of a process that exits with a code: exec, fork, exit. */
static void check_exit_code(enum exec_impl impl)
{
	struct collector *c = calloc(1, sizeof(*c));
	struct exec_tracer *t;
	char marker[96], cg[600], procs[700];
	const struct copied *r;
	uint64_t cg_id = 0;
	pid_t pid;

	assert_non_null(c);
	make_marker(marker, sizeof(marker), "code");
	c->marker = marker;
	t = open_tracer(impl, NULL, 0, c);
	char *argv[] = { "/bin/sh", "-c", "exit 7", marker, NULL };

	/* the child runs in a cgroup of its own: its id is that directory's
	 * inode number */
	if (cgroup2_mount(cg, sizeof(cg))) {
		struct stat sb;

		snprintf(cg + strlen(cg), sizeof(cg) - strlen(cg), "/%s", marker);
		assert_int_equal(mkdir(cg, 0755), 0);
		assert_int_equal(stat(cg, &sb), 0);
		cg_id = sb.st_ino;
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	} else {
		print_message("  no cgroup v2 mount: the cgroup id is only checked non-zero\n");
	}
	pid = spawn_in("/bin/sh", argv, -1, cg_id ? procs : NULL);
	c->pids[c->npids++] = pid;
	assert_int_equal(WEXITSTATUS(wait_status(pid)), 7);
	if (cg_id)
		assert_int_equal(rmdir(cg), 0);
	poll_until(t, c, have_exit_of, &pid);

	r = find(c, EXEC_EV_FORK, pid);
	assert_non_null(r);
	assert_int_equal(r->ppid, getpid());

	r = find(c, EXEC_EV_EXEC, pid);
	assert_non_null(r);
	assert_int_equal(r->ppid, getpid());
	assert_int_equal(r->uid, getuid());
	assert_string_equal(r->comm, "sh");
	assert_string_equal(r->filename, "/bin/sh");
	assert_false(r->args_truncated);
	assert_int_equal(r->retval, 0);
	assert_true(r->cgroup_id > 0);
	if (cg_id)
		assert_int_equal(r->cgroup_id, cg_id);
	assert_args(r, argv);

	r = find(c, EXEC_EV_EXIT, pid);
	assert_non_null(r);
	assert_int_equal(r->exit_code, 7);
	assert_int_equal(r->signal, 0);
	assert_int_equal(r->ppid, getpid());
	assert_true(r->duration_ns > 0 && r->duration_ns < 5ull * 1000000000ull);
	assert_false(r->flags & EXIT_F_SINCE_FORK);

	exec_tracer_stop(t);
	exec_tracer_close(t);
	free(c);
}

/* Killed by a signal, run as another user, argv with bytes that are hostile
 * to any output format. */
static void check_signal_uid_hostile(enum exec_impl impl)
{
	struct collector *c = calloc(1, sizeof(*c));
	struct exec_tracer *t;
	char marker[96];
	const struct copied *r;
	pid_t pid;
	int st;

	assert_non_null(c);
	make_marker(marker, sizeof(marker), "sig");
	c->marker = marker;
	t = open_tracer(impl, NULL, 0, c);
	char *argv[] = { "/bin/sh", "-c", "kill -9 $$", marker, "q\"uote", "new\nline",
			 "bad\xff\xfeutf8", "", NULL };

	pid = spawn("/bin/sh", argv, 65534);
	c->pids[c->npids++] = pid;
	st = wait_status(pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	poll_until(t, c, have_exit_of, &pid);

	r = find(c, EXEC_EV_EXEC, pid);
	assert_non_null(r);
	assert_int_equal(r->uid, 65534);
	assert_args(r, argv);
	r = find(c, EXEC_EV_EXIT, pid);
	assert_non_null(r);
	assert_int_equal(r->signal, SIGKILL);

	exec_tracer_stop(t);
	exec_tracer_close(t);
	free(c);
}

/* argv longer than the capture bound: marked truncated, first args exact. */
static void check_long_argv(enum exec_impl impl)
{
	struct collector *c = calloc(1, sizeof(*c));
	struct exec_tracer *t;
	char marker[96];
	char *big = malloc(3500), *big2 = malloc(3500);
	const struct copied *r;
	pid_t pid;

	assert_non_null(c);
	make_marker(marker, sizeof(marker), "long");
	c->marker = marker;
	memset(big, 'a', 3499);
	big[3499] = '\0';
	memset(big2, 'b', 900);
	big2[900] = '\0';
	t = open_tracer(impl, NULL, 0, c);
	char *argv[] = { "/bin/true", marker, big2, big, NULL };

	pid = spawn("/bin/true", argv, -1);
	c->pids[c->npids++] = pid;
	assert_int_equal(WEXITSTATUS(wait_status(pid)), 0);
	poll_until(t, c, have_exit_of, &pid);

	r = find(c, EXEC_EV_EXEC, pid);
	assert_non_null(r);
	assert_true(r->args_truncated);
	assert_true(r->argc >= 3);
	assert_string_equal(r->args + strlen("/bin/true") + 1, marker);
	assert_string_equal(r->args + strlen("/bin/true") + 1 + strlen(marker) + 1, big2);

	exec_tracer_stop(t);
	exec_tracer_close(t);
	free(big);
	free(big2);
	free(c);
}

/* argv of sizes around the kernel side's record size classes (256, 1024
 * and 4096 bytes of arguments): each comes back whole, not marked cut. */
static void check_argv_sizes(enum exec_impl impl)
{
	static const size_t totals[] = { 256, 257, 1024, 1025, 4096 };
	enum { N = sizeof(totals) / sizeof(totals[0]) };
	struct collector *c = calloc(1, sizeof(*c));
	struct exec_tracer *t;
	char marker[96];
	char *pad[N];
	pid_t pids[N];

	assert_non_null(c);
	make_marker(marker, sizeof(marker), "sizes");
	c->marker = marker;
	t = open_tracer(impl, NULL, 0, c);
	for (int i = 0; i < N; i++) {
		/* "/bin/true\0" marker "\0" pad "\0" is totals[i] bytes */
		size_t head = strlen("/bin/true") + 1 + strlen(marker) + 1;
		size_t n = totals[i] - head - 1;

		assert_true(totals[i] > head + 1);
		pad[i] = malloc(n + 1);
		assert_non_null(pad[i]);
		memset(pad[i], 'a' + i, n);
		pad[i][n] = '\0';
		char *argv[] = { "/bin/true", marker, pad[i], NULL };

		pids[i] = spawn("/bin/true", argv, -1);
		c->pids[c->npids++] = pids[i];
		assert_int_equal(WEXITSTATUS(wait_status(pids[i])), 0);
	}
	for (int i = 0; i < N; i++) {
		const struct copied *r;
		size_t off = strlen("/bin/true") + 1 + strlen(marker) + 1;

		poll_until(t, c, have_exit_of, &pids[i]);
		r = find(c, EXEC_EV_EXEC, pids[i]);
		assert_non_null(r);
		assert_false(r->args_truncated);
		assert_int_equal(r->argc, 3);
		assert_int_equal(r->args_len, totals[i]);
		assert_string_equal(r->args + strlen("/bin/true") + 1, marker);
		assert_string_equal(r->args + off, pad[i]);
		free(pad[i]);
	}
	exec_tracer_stop(t);
	exec_tracer_close(t);
	free(c);
}

/* The file name as exec was given it: whole below the bound; cut to the
 * bound and marked so above it. */
static void check_long_filename(enum exec_impl impl)
{
	static const size_t lens[] = { 200, 300 };
	enum { N = sizeof(lens) / sizeof(lens[0]) };
	struct collector *c = calloc(1, sizeof(*c));
	struct exec_tracer *t;
	char marker[96], top[64], dir[200], path[N][400];
	pid_t pids[N];

	assert_non_null(c);
	make_marker(marker, sizeof(marker), "fname");
	c->marker = marker;
	/* a directory with a 100-byte name, for paths longer than NAME_MAX */
	snprintf(top, sizeof(top), "/tmp/sonde-test-fn-%d", getpid());
	assert_int_equal(mkdir(top, 0755), 0);
	snprintf(dir, sizeof(dir), "%s/%0100d", top, 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	t = open_tracer(impl, NULL, 0, c);
	for (int i = 0; i < N; i++) {
		/* dir + "/" + a link name of the length that makes lens[i] */
		size_t name = lens[i] - strlen(dir) - 1;

		assert_true(name < 255);
		snprintf(path[i], sizeof(path[i]), "%s/", dir);
		memset(path[i] + strlen(dir) + 1, 'a' + i, name);
		path[i][lens[i]] = '\0';
		assert_int_equal(symlink("/bin/true", path[i]), 0);
		char *argv[] = { path[i], marker, NULL };

		pids[i] = spawn(path[i], argv, -1);
		c->pids[c->npids++] = pids[i];
		assert_int_equal(WEXITSTATUS(wait_status(pids[i])), 0);
	}
	for (int i = 0; i < N; i++) {
		const struct copied *r;

		poll_until(t, c, have_exit_of, &pids[i]);
		r = find(c, EXEC_EV_EXEC, pids[i]);
		assert_non_null(r);
		if (lens[i] < EXEC_FILENAME_BYTES_MAX) {
			assert_string_equal(r->filename, path[i]);
			assert_false(r->flags & EXEC_F_FILENAME_TRUNCATED);
		} else {
			assert_int_equal(strlen(r->filename), EXEC_FILENAME_BYTES_MAX - 1);
			assert_memory_equal(r->filename, path[i], EXEC_FILENAME_BYTES_MAX - 1);
			assert_true(r->flags & EXEC_F_FILENAME_TRUNCATED);
		}
		unlink(path[i]);
	}
	rmdir(dir);
	rmdir(top);
	exec_tracer_stop(t);
	exec_tracer_close(t);
	free(c);
}

/* A failed exec: reported with its error by the syscalls implementation,
 * absent from the others (they only see execs that happened). */
static void check_failed_exec(enum exec_impl impl)
{
	struct collector *c = calloc(1, sizeof(*c));
	struct exec_tracer *t;
	char marker[96];
	const struct copied *r;
	pid_t pid;

	assert_non_null(c);
	make_marker(marker, sizeof(marker), "fail");
	c->marker = marker;
	t = open_tracer(impl, NULL, 0, c);
	char *argv[] = { "/nonexistent/sonde-no-such-binary", marker, NULL };

	pid = spawn(argv[0], argv, -1);
	c->pids[c->npids++] = pid;
	assert_int_equal(WEXITSTATUS(wait_status(pid)), 99);
	poll_until(t, c, have_exit_of, &pid);

	assert_non_null(find(c, EXEC_EV_EXIT, pid));
	r = find(c, EXEC_EV_EXEC, pid);
	if (impl == EXEC_IMPL_SYSCALLS) {
		assert_non_null(r);
		assert_true(r->flags & EXEC_F_FAILED);
		assert_int_equal(r->retval, -ENOENT);
		assert_string_equal(r->filename, argv[0]);
		assert_args(r, argv);
	} else {
		assert_null(r);
	}
	r = find(c, EXEC_EV_EXIT, pid);
	assert_int_equal(r->exit_code, 99);
	assert_true(r->flags & EXIT_F_SINCE_FORK); /* no exec happened */

	exec_tracer_stop(t);
	exec_tracer_close(t);
	free(c);
}

/* A copy of /bin/true under a unique name, so that the kernel's comm filter
 * selects exactly the storm's processes. */
static void make_storm_binary(char *path, size_t size, char *comm, size_t comm_size)
{
	char buf[65536];
	int in, out;
	ssize_t n;

	snprintf(comm, comm_size, "st%d", getpid() % 1000000);
	snprintf(path, size, "/tmp/%s", comm);
	in = open("/bin/true", O_RDONLY);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* Spawn n processes of path quickly (batches, reaped as they go). If t is
 * given, its ring buffer is polled between batches. */
static void storm(const char *path, int n, struct exec_tracer *t)
{
	char *argv[] = { (char *)path, NULL };

	for (int done = 0; done < n;) {
		pid_t pids[SPAWN_BATCH];
		int k = n - done < SPAWN_BATCH ? n - done : SPAWN_BATCH;

		for (int i = 0; i < k; i++)
			assert_int_equal(posix_spawn(&pids[i], path, NULL, NULL, argv, environ), 0);
		for (int i = 0; i < k; i++)
			assert_int_equal(WEXITSTATUS(wait_status(pids[i])), 0);
		done += k;
		if (t)
			exec_tracer_poll(t, 0);
	}
}

static void check_storm(enum exec_impl impl, uint32_t ringbuf_kb, bool poll_during)
{
	struct collector *c = calloc(1, sizeof(*c));
	struct tracer_stats s;
	struct exec_tracer *t;
	char path[64], comm[16];
	uint64_t t0, dropped;

	assert_non_null(c);
	make_storm_binary(path, sizeof(path), comm, sizeof(comm));
	c->storm_comm = comm;
	t = open_tracer(impl, comm, ringbuf_kb, c);
	t0 = now_ms();
	storm(path, STORM_PROCESSES, poll_during ? t : NULL);
	fprintf(stderr, "  storm (%s, ring buffer %u KiB): %d processes in %llu ms\n",
		exec_impl_name(impl), ringbuf_kb ? ringbuf_kb : EXEC_RINGBUF_KB_DEFAULT,
		STORM_PROCESSES, (unsigned long long)(now_ms() - t0));
	assert_int_equal(exec_tracer_stop(t), 0);
	assert_int_equal(exec_tracer_stats(t, &s), 0);
	dropped = tracer_stats_dropped_total(&s);
	fprintf(stderr, "  produced %llu delivered %llu dropped %llu (execs %llu exits %llu)\n",
		(unsigned long long)s.kernel[STAT_PRODUCED], (unsigned long long)s.delivered,
		(unsigned long long)dropped, (unsigned long long)c->storm_execs,
		(unsigned long long)c->storm_exits);
	/* only the storm passes the comm filter: one exec and one exit each */
	assert_int_equal(s.kernel[STAT_PRODUCED], 2 * STORM_PROCESSES);
	assert_int_equal(s.delivered + dropped, s.kernel[STAT_PRODUCED]);
	assert_int_equal(c->storm_execs + c->storm_exits, s.delivered);
	if (ringbuf_kb == 0) {
		assert_int_equal(dropped, 0);
		assert_int_equal(c->storm_execs, STORM_PROCESSES);
		assert_int_equal(c->storm_exits, STORM_PROCESSES);
	} else {
		assert_true(s.kernel[STAT_DROP_RINGBUF_FULL] > 0);
	}
	exec_tracer_close(t);
	unlink(path);
	free(c);
}

#define IMPL_TESTS(name, impl)                                                       \
	static void test_##name##_exit_code(void **st) { (void)st; KERNEL_TEST_REQUIRE_ROOT(); check_exit_code(impl); } \
	static void test_##name##_signal_uid_hostile(void **st) { (void)st; KERNEL_TEST_REQUIRE_ROOT(); check_signal_uid_hostile(impl); } \
	static void test_##name##_long_argv(void **st) { (void)st; KERNEL_TEST_REQUIRE_ROOT(); check_long_argv(impl); } \
	static void test_##name##_argv_sizes(void **st) { (void)st; KERNEL_TEST_REQUIRE_ROOT(); check_argv_sizes(impl); } \
	static void test_##name##_long_filename(void **st) { (void)st; KERNEL_TEST_REQUIRE_ROOT(); check_long_filename(impl); } \
	static void test_##name##_failed_exec(void **st) { (void)st; KERNEL_TEST_REQUIRE_ROOT(); check_failed_exec(impl); } \
	static void test_##name##_storm(void **st) { (void)st; KERNEL_TEST_REQUIRE_ROOT(); check_storm(impl, 0, true); }

IMPL_TESTS(tracepoint, EXEC_IMPL_TRACEPOINT)
IMPL_TESTS(raw_tracepoint, EXEC_IMPL_RAW_TRACEPOINT)
IMPL_TESTS(syscalls, EXEC_IMPL_SYSCALLS)

/* Fork records are opt-in: without forks, a process gives exec and exit
 * records only, and the fork hook is not even attached. */
static void test_forks_off_by_default(void **st)
{
	struct exec_tracer_opts o = { .impl = EXEC_IMPL_TRACEPOINT };
	struct collector *c = calloc(1, sizeof(*c));
	struct exec_tracer *t = NULL;
	char marker[96], err[256];
	pid_t pid;
	int ret;

	(void)st;
	KERNEL_TEST_REQUIRE_ROOT();
	assert_non_null(c);
	make_marker(marker, sizeof(marker), "nofork");
	c->marker = marker;
	bpf_env_prepare(false);
	ret = exec_tracer_open(&t, &o, collect, c, err, sizeof(err));
	if (ret == -EPERM || ret == -EACCES)
		KERNEL_TEST_UNAVAILABLE(err);
	assert_int_equal(ret, 0);
	char *argv[] = { "/bin/true", marker, NULL };

	pid = spawn("/bin/true", argv, -1);
	c->pids[c->npids++] = pid;
	assert_int_equal(WEXITSTATUS(wait_status(pid)), 0);
	poll_until(t, c, have_exit_of, &pid);
	assert_non_null(find(c, EXEC_EV_EXEC, pid));
	assert_non_null(find(c, EXEC_EV_EXIT, pid));
	assert_null(find(c, EXEC_EV_FORK, pid));
	exec_tracer_stop(t);
	exec_tracer_close(t);
	free(c);
}

/* A ring buffer of one page that nobody reads during the storm: drops are
 * certain, and each one must be counted. */
static void test_storm_overflow_counted(void **st)
{
	(void)st;
	KERNEL_TEST_REQUIRE_ROOT();
	check_storm(EXEC_IMPL_TRACEPOINT, 4, false);
}

/* This kernel has no kprobes: opening must fail with that reason, never
 * pretend to trace. Where kprobes exist, the records must be exact. */
static void test_kprobe_refused_or_exact(void **st)
{
	struct exec_tracer_opts o = { .impl = EXEC_IMPL_KPROBE };
	struct exec_tracer *t = NULL;
	struct collector c = { 0 };
	struct stat sb;
	char err[256];
	int ret;

	(void)st;
	KERNEL_TEST_REQUIRE_ROOT();
	bpf_env_prepare(false);
	ret = exec_tracer_open(&t, &o, collect, &c, err, sizeof(err));
	if (stat("/sys/bus/event_source/devices/kprobe", &sb) != 0) {
		assert_true(ret < 0);
		assert_non_null(strstr(err, "CONFIG_KPROBES"));
		return;
	}
	assert_int_equal(ret, 0);
	exec_tracer_close(t);
	check_exit_code(EXEC_IMPL_KPROBE);
}

int main(void)
{
#define IMPL_ENTRIES(name)                                         \
	cmocka_unit_test(test_##name##_exit_code),                 \
	cmocka_unit_test(test_##name##_signal_uid_hostile),        \
	cmocka_unit_test(test_##name##_long_argv),                 \
	cmocka_unit_test(test_##name##_argv_sizes),                \
	cmocka_unit_test(test_##name##_long_filename),             \
	cmocka_unit_test(test_##name##_failed_exec),               \
	cmocka_unit_test(test_##name##_storm)
	const struct CMUnitTest tests[] = {
		IMPL_ENTRIES(tracepoint),
		IMPL_ENTRIES(raw_tracepoint),
		IMPL_ENTRIES(syscalls),
		cmocka_unit_test(test_storm_overflow_counted),
		cmocka_unit_test(test_forks_off_by_default),
		cmocka_unit_test(test_kprobe_refused_or_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
