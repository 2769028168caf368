/* A tracer under test in its own process group: start, attach detection,
 * BPF run-time statistics and CPU between two marks, stop; and the registry
 * of process groups that must not outlive the lab. See tracer_proc.h. */
#include "lab/tracer_proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "lab/tracer_output.h"

#define PGRPS_MAX 8

/* Written from the main flow, read from the signal handler. */
static volatile pid_t tracked[PGRPS_MAX];
static void (*cleanup_hook)(void);

uint64_t lab_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * LAB_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

void lab_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void lab_pgrp_track(pid_t pgid)
{
	for (int i = 0; i < PGRPS_MAX; i++) {
		if (tracked[i] == 0) {
			tracked[i] = pgid;
			return;
		}
	}
}

void lab_pgrp_untrack(pid_t pgid)
{
	for (int i = 0; i < PGRPS_MAX; i++)
		if (tracked[i] == pgid)
			tracked[i] = 0;
}

void lab_pgrp_kill_all(void)
{
	for (int i = 0; i < PGRPS_MAX; i++)
		if (tracked[i] > 0)
			kill(-tracked[i], SIGKILL);
}

static void on_fatal_signal(int sig)
{
	lab_pgrp_kill_all();
	for (int i = 0; i < PGRPS_MAX; i++) /* reap them: no zombie outlives the lab */
		if (tracked[i] > 0)
			waitpid(tracked[i], NULL, 0);
	if (cleanup_hook)
		cleanup_hook();
	signal(sig, SIG_DFL);
	raise(sig);
}

void lab_install_cleanup(void (*hook)(void))
{
	struct sigaction sa;

	cleanup_hook = hook;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(lab_pgrp_kill_all);
}

pid_t lab_spawn_logged(char *const argv[], const char *out_path, const char *err_path)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if (in < 0 || out < 0 || err < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

int lab_wait_exit(pid_t pid, unsigned timeout_ms, int *status, struct rusage *ru)
{
	uint64_t end = lab_now_ns() + (uint64_t)timeout_ms * LAB_NS_PER_MS;

	for (;;) {
		pid_t r = wait4(pid, status, WNOHANG, ru);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (lab_now_ns() >= end)
			return -ETIMEDOUT;
		lab_sleep_ms(10);
	}
}

int lab_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

int lab_bpf_stats_enable(char *err, size_t len)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

	if (fd < 0) {
		int e = errno;

		snprintf(err, len, "bpf_enable_stats(BPF_STATS_RUN_TIME): %s", strerror(e));
		return -e;
	}
	return fd;
}

uint32_t lab_max_prog_id(void)
{
	uint32_t id = 0, next;

	while (!bpf_prog_get_next_id(id, &next))
		id = next;
	return id;
}

/* The program's whole name from its BTF function info (the kernel's name is
 * cut at 15 characters: sys_enter_write and sys_enter_writev look alike). */
static void prog_func_name(int fd, const struct bpf_prog_info *prog, char *out, size_t len)
{
	struct bpf_func_info finfo;
	struct bpf_prog_info info;
	uint32_t info_len = sizeof(info);
	const struct btf_type *t;
	struct btf *btf;

	out[0] = '\0';
	if (!prog->btf_id || !prog->nr_func_info)
		return;
	memset(&info, 0, sizeof(info));
	memset(&finfo, 0, sizeof(finfo));
	info.nr_func_info = 1;
	info.func_info_rec_size = sizeof(finfo);
	info.func_info = (uint64_t)(uintptr_t)&finfo;
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return;
	btf = btf__load_from_kernel_by_id(prog->btf_id);
	if (!btf)
		return;
	t = btf__type_by_id(btf, finfo.type_id);
	if (t)
		snprintf(out, len, "%s", btf__name_by_offset(btf, t->name_off));
	btf__free(btf);
}

int lab_prog_stat_read(uint32_t id, struct lab_prog_stat *ps)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id), err = 0;

	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		err = -errno;
	else
		prog_func_name(fd, &info, ps->func_name, sizeof(ps->func_name));
	close(fd);
	if (err)
		return err;
	ps->id = id;
	ps->run_time_ns = info.run_time_ns;
	ps->run_cnt = info.run_cnt;
	ps->type = info.type;
	snprintf(ps->name, sizeof(ps->name), "%s", info.name);
	return 0;
}

bool lab_proc_in_pgrp(const char *pid, pid_t pgid)
{
	char path[64], buf[512], *p;
	int pgrp = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (!p || sscanf(p + 1, " %*c %*d %d", &pgrp) != 1)
		return false;
	return pgrp == pgid;
}

static bool ids_contain(const uint32_t *ids, int n, uint32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

int lab_pgrp_for_each(pid_t pgid, void (*fn)(pid_t pid, void *ctx), void *ctx)
{
	DIR *proc = opendir("/proc");
	struct dirent *pe;
	int n = 0;

	if (!proc)
		return -errno;
	while ((pe = readdir(proc)))
		if (isdigit((unsigned char)pe->d_name[0]) && lab_proc_in_pgrp(pe->d_name, pgid)) {
			fn(atoi(pe->d_name), ctx);
			n++;
		}
	closedir(proc);
	return n;
}

struct prog_ids_ctx {
	const char *key; /* "prog_id:" or "link_id:" */
	uint32_t min_id, *ids;
	int n, max;
};

static void prog_ids_of(pid_t pid, void *arg)
{
	struct prog_ids_ctx *c = arg;
	char path[LAB_PATH_BYTES];
	DIR *fds;
	struct dirent *fe;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	fds = opendir(path);
	if (!fds)
		return;
	while ((fe = readdir(fds))) {
		char fpath[LAB_PATH_BYTES + 288], line[256];
		FILE *f;

		if (fe->d_name[0] == '.')
			continue;
		snprintf(fpath, sizeof(fpath), "%s/%s", path, fe->d_name);
		f = fopen(fpath, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			size_t kl = strlen(c->key);
			unsigned id;

			if (!strncmp(line, c->key, kl) && sscanf(line + kl, "%u", &id) == 1 &&
			    id > c->min_id &&
			    !ids_contain(c->ids, c->n, id) && c->n < c->max)
				c->ids[c->n++] = id;
		}
		fclose(f);
	}
	closedir(fds);
}

int lab_pgrp_prog_ids(pid_t pgid, uint32_t min_id, uint32_t *ids, int max)
{
	struct prog_ids_ctx c = { .key = "prog_id:", .min_id = min_id, .ids = ids, .max = max };
	int err = lab_pgrp_for_each(pgid, prog_ids_of, &c);

	return err < 0 ? err : c.n;
}

int lab_pgrp_link_ids(pid_t pgid, uint32_t *ids, int max)
{
	struct prog_ids_ctx c = { .key = "link_id:", .ids = ids, .max = max };
	int err = lab_pgrp_for_each(pgid, prog_ids_of, &c);

	return err < 0 ? err : c.n;
}

/* Sum of the schedstat run times of the live threads of pid: the fallback
 * when its CPU clock cannot be read. */
static uint64_t live_threads_cpu_ns(pid_t pid)
{
	char path[LAB_PATH_BYTES];
	DIR *tasks;
	struct dirent *te;
	uint64_t total = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	tasks = opendir(path);
	if (!tasks)
		return 0;
	while ((te = readdir(tasks))) {
		char tpath[LAB_PATH_BYTES + 288];
		unsigned long long ns;
		FILE *f;

		if (te->d_name[0] == '.')
			continue;
		snprintf(tpath, sizeof(tpath), "%s/%s/schedstat", path, te->d_name);
		f = fopen(tpath, "r");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			total += ns;
		fclose(f);
	}
	closedir(tasks);
	return total;
}

uint64_t lab_proc_cpu_ns(pid_t pid)
{
	struct timespec ts;
	clockid_t clock;

	/* the process's CPU clock: its live threads and those that exited,
	 * to the nanosecond (a sum over /proc/PID/task misses the exited
	 * ones, a tracer's short-lived threads; /proc/PID/stat has them but
	 * in clock ticks) */
	if (!clock_getcpuclockid(pid, &clock) && !clock_gettime(clock, &ts))
		return (uint64_t)ts.tv_sec * LAB_NS_PER_SEC + (uint64_t)ts.tv_nsec;
	return live_threads_cpu_ns(pid);
}

static void cpu_of(pid_t pid, void *arg)
{
	*(uint64_t *)arg += lab_proc_cpu_ns(pid);
}

uint64_t lab_pgrp_cpu_ns(pid_t pgid)
{
	uint64_t total = 0;

	lab_pgrp_for_each(pgid, cpu_of, &total);
	return total;
}

/* Add the numbers of the "Key:  N" lines of a status file to *total. */
static bool status_add(const char *path, const char *const keys[], double *total)
{
	char line[256];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		for (int k = 0; keys[k]; k++) {
			size_t kl = strlen(keys[k]);

			if (!strncmp(line, keys[k], kl)) {
				*total += strtod(line + kl, NULL);
				found = true;
			}
		}
	fclose(f);
	return found;
}

struct status_sum {
	const char *const *keys;
	bool per_task;  /* every thread's status (counters that are per thread) */
	bool found;
	double total;
};

static void status_of(pid_t pid, void *arg)
{
	struct status_sum *c = arg;
	char dir[64], path[400];
	DIR *tasks;

	if (!c->per_task) {
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		c->found |= status_add(path, c->keys, &c->total);
		return;
	}
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	tasks = opendir(dir);
	if (!tasks)
		return;
	for (struct dirent *te; (te = readdir(tasks));) {
		if (te->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/status", dir, te->d_name);
		c->found |= status_add(path, c->keys, &c->total);
	}
	closedir(tasks);
}

double lab_pgrp_status_sum(pid_t pgid, const char *const keys[], bool per_task)
{
	struct status_sum c = { .keys = keys, .per_task = per_task };

	lab_pgrp_for_each(pgid, status_of, &c);
	return c.found ? c.total : NAN;
}

int lab_tracer_start(struct lab_tracer *t, char *const argv[], const char *out_path,
		     const char *err_path, char *reason, size_t reason_len)
{
	pid_t pid;

	memset(t, 0, sizeof(*t));
	snprintf(t->out_path, sizeof(t->out_path), "%s", out_path);
	snprintf(t->err_path, sizeof(t->err_path), "%s", err_path);
	t->min_id = lab_max_prog_id();
	pid = lab_spawn_logged(argv, out_path, err_path);
	if (pid < 0) {
		snprintf(reason, reason_len, "cannot start %s: %s", argv[0], strerror((int)-pid));
		return (int)pid;
	}
	t->pid = pid;
	lab_pgrp_track(pid);
	return 0;
}

int lab_tracer_wait_attached(struct lab_tracer *t, const char *ready_stderr, double timeout_s,
			     char *reason, size_t reason_len)
{
	uint64_t start = lab_now_ns(), stable_since = 0;
	uint64_t timeout = (uint64_t)(timeout_s * LAB_NS_PER_SEC);
	uint32_t ids[LAB_PROGS_MAX];
	int n = 0, prev = -1;

	for (;;) {
		int status;
		pid_t w = waitpid(t->pid, &status, WNOHANG);
		bool ready;

		if (w == t->pid) {
			char last[200];

			lab_pgrp_untrack(t->pid);
			kill(-t->pid, SIGKILL);
			t->pid = 0;
			t->exit_code = lab_exit_code(status);
			lab_read_last_line(t->err_path, last, sizeof(last));
			snprintf(reason, reason_len, "exited with code %d before attaching: %s",
				 t->exit_code, last[0] ? last : "(no message)");
			return -ECHILD;
		}
		n = lab_pgrp_prog_ids(t->pid, t->min_id, ids, LAB_PROGS_MAX);
		if (n != prev) {
			prev = n;
			stable_since = lab_now_ns();
		}
		ready = !ready_stderr || lab_file_contains(t->err_path, ready_stderr);
		if (n > 0 && ready &&
		    lab_now_ns() - stable_since >= (uint64_t)LAB_ATTACH_STABLE_MS * LAB_NS_PER_MS) {
			t->attach_s = (double)(lab_now_ns() - start) / LAB_NS_PER_SEC;
			return n;
		}
		if (lab_now_ns() - start > timeout) {
			if (n > 0 && !ready)
				snprintf(reason, reason_len,
					 "%d BPF programs loaded but no '%s' on stderr within %g s", n,
					 ready_stderr, timeout_s);
			else if (n > 0)
				snprintf(reason, reason_len,
					 "%d BPF programs loaded, not stable for %d ms within %g s", n,
					 LAB_ATTACH_STABLE_MS, timeout_s);
			else
				snprintf(reason, reason_len, "no BPF programs attached within %g s",
					 timeout_s);
			return -ETIMEDOUT;
		}
		lab_sleep_ms(LAB_ATTACH_POLL_MS);
	}
}

static int read_prog_stats(const struct lab_tracer *t, struct lab_prog_stat *ps)
{
	uint32_t ids[LAB_PROGS_MAX];
	int nids = lab_pgrp_prog_ids(t->pid, t->min_id, ids, LAB_PROGS_MAX), n = 0;

	for (int i = 0; i < nids; i++)
		if (!lab_prog_stat_read(ids[i], &ps[n]))
			n++;
	return n;
}

void lab_tracer_mark(struct lab_tracer *t)
{
	t->nbefore = read_prog_stats(t, t->before);
	t->cpu_mark_ns = lab_pgrp_cpu_ns(t->pid);
}

void lab_tracer_drain(const struct lab_tracer *t, unsigned poll_ms, unsigned stable_ms,
		      unsigned max_ms)
{
	uint64_t start = lab_now_ns(), stable_since = lab_now_ns();
	long size = lab_file_size(t->out_path);

	while (lab_now_ns() - start < (uint64_t)max_ms * LAB_NS_PER_MS &&
	       lab_now_ns() - stable_since < (uint64_t)stable_ms * LAB_NS_PER_MS) {
		long s;

		lab_sleep_ms(poll_ms);
		s = lab_file_size(t->out_path);
		if (s != size) {
			size = s;
			stable_since = lab_now_ns();
		}
	}
}

void lab_tracer_sample(struct lab_tracer *t)
{
	t->cpu_sample_ns = lab_pgrp_cpu_ns(t->pid);
	t->nafter = read_prog_stats(t, t->after);
}

void lab_tracer_prog_delta(const struct lab_tracer *t, int i, uint64_t *run_time_ns,
			   uint64_t *run_cnt)
{
	*run_time_ns = t->after[i].run_time_ns;
	*run_cnt = t->after[i].run_cnt;
	for (int j = 0; j < t->nbefore; j++) {
		if (t->before[j].id == t->after[i].id) {
			*run_time_ns -= t->before[j].run_time_ns;
			*run_cnt -= t->before[j].run_cnt;
		}
	}
}

void lab_tracer_bpf_totals(const struct lab_tracer *t, uint64_t *run_time_ns, uint64_t *run_cnt)
{
	*run_time_ns = *run_cnt = 0;
	for (int i = 0; i < t->nafter; i++) {
		uint64_t rt, cnt;

		lab_tracer_prog_delta(t, i, &rt, &cnt);
		*run_time_ns += rt;
		*run_cnt += cnt;
	}
}

double lab_tracer_cpu_ms(const struct lab_tracer *t)
{
	return (double)(t->cpu_sample_ns - t->cpu_mark_ns) / LAB_NS_PER_MS;
}

void lab_tracer_stop(struct lab_tracer *t)
{
	struct rusage ru;
	int status = 0;

	t->killed = false;
	if (t->pid <= 0)
		return;
	kill(-t->pid, SIGINT);
	memset(&ru, 0, sizeof(ru));
	if (lab_wait_exit(t->pid, LAB_STOP_TIMEOUT_MS, &status, &ru)) {
		t->killed = true;
		kill(-t->pid, SIGKILL);
		lab_wait_exit(t->pid, LAB_STOP_TIMEOUT_MS, &status, &ru);
	}
	kill(-t->pid, SIGKILL); /* leftovers of the group, if any */
	lab_pgrp_untrack(t->pid);
	t->pid = 0;
	t->exit_code = t->killed ? -1 : lab_exit_code(status);
	t->cpu_total_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	t->maxrss_kb = ru.ru_maxrss;
}
