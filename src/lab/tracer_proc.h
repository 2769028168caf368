/* A tracer under test as the lab sees it: a command started in its own
 * process group, attached once the BPF programs that group holds stop
 * changing, measured between two marks (BPF run-time statistics of exactly
 * those programs, CPU of every thread of the group) and stopped with SIGINT,
 * then SIGKILL. Every process group the lab starts is tracked so that none
 * outlives it, even on Ctrl-C. Used by the benches and `sonde bench`. */
#ifndef SONDE_LAB_TRACER_PROC_H
#define SONDE_LAB_TRACER_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <linux/bpf.h>

#define LAB_NS_PER_MS 1000000ull
#define LAB_NS_PER_SEC 1000000000ull
#define LAB_PROGS_MAX 64
#define LAB_PATH_BYTES 1024
#define LAB_REASON_BYTES 256
#define LAB_FUNC_NAME_BYTES 64
/* Attach detection: poll this often; programs count as attached once their
 * set has not changed for LAB_ATTACH_STABLE_MS. */
#define LAB_ATTACH_POLL_MS 50
#define LAB_ATTACH_STABLE_MS 300
/* SIGINT, then SIGKILL if the tracer has not exited after this long. */
#define LAB_STOP_TIMEOUT_MS 10000

/* One BPF program's run-time statistics (BPF_ENABLE_STATS must be on). */
struct lab_prog_stat {
	uint32_t id;
	uint64_t run_time_ns;
	uint64_t run_cnt;
	char name[BPF_OBJ_NAME_LEN]; /* the kernel's, cut at 15 characters */
	char func_name[LAB_FUNC_NAME_BYTES]; /* the whole name from its BTF, or "" */
	uint32_t type;
};

struct lab_tracer {
	pid_t pid;       /* leader of its process group; 0 once stopped */
	uint32_t min_id; /* programs with a higher id are the tracer's */
	char out_path[LAB_PATH_BYTES];
	char err_path[LAB_PATH_BYTES];
	double attach_s; /* start to attached */
	/* lab_tracer_mark / lab_tracer_sample */
	struct lab_prog_stat before[LAB_PROGS_MAX], after[LAB_PROGS_MAX];
	int nbefore, nafter;
	uint64_t cpu_mark_ns, cpu_sample_ns; /* schedstat of the group */
	/* lab_tracer_stop */
	int exit_code;       /* -1 when it had to be killed */
	bool killed;         /* did not exit within LAB_STOP_TIMEOUT_MS of SIGINT */
	double cpu_total_ms; /* wait4 rusage: user + sys over its whole life */
	long maxrss_kb;      /* wait4 rusage: peak resident set */
};

/* --- clocks ------------------------------------------------------------ */
uint64_t lab_now_ns(void);
void lab_sleep_ms(unsigned ms);

/* --- process groups that must not outlive the lab ---------------------- */
/* Remember / forget a process group to SIGKILL on exit or fatal signal. */
void lab_pgrp_track(pid_t pgid);
void lab_pgrp_untrack(pid_t pgid);
/* SIGKILL every tracked group (atexit-safe, async-signal-safe). */
void lab_pgrp_kill_all(void);
/* SIGINT, SIGTERM and SIGHUP kill and reap every tracked group, run hook (if
 * set; it must be async-signal-safe) and then die of the signal; atexit kills
 * them too. */
void lab_install_cleanup(void (*hook)(void));

/* fork + exec argv in a new process group with stdin from /dev/null and
 * stdout/stderr to files (NULL: /dev/null). Returns the pid or a negative
 * errno. Not tracked: the caller decides. */
pid_t lab_spawn_logged(char *const argv[], const char *out_path, const char *err_path);
/* Wait up to timeout_ms for pid: 0 with status and rusage filled, or
 * -ETIMEDOUT. */
int lab_wait_exit(pid_t pid, unsigned timeout_ms, int *status, struct rusage *ru);
/* Exit code, or 128 + signal, or -1. */
int lab_exit_code(int status);

/* --- BPF programs and CPU of a process group --------------------------- */
/* Turn run-time statistics on for as long as the returned fd is open; a
 * negative errno with a one-line reason in err otherwise. */
int lab_bpf_stats_enable(char *err, size_t len);
/* Highest BPF program id in use now (programs loaded later are above it). */
uint32_t lab_max_prog_id(void);
int lab_prog_stat_read(uint32_t id, struct lab_prog_stat *ps);
/* BPF programs with an id above min_id that processes of group pgid hold (a
 * program fd or a link fd): programs others load meanwhile are left out.
 * O(processes + their fds): polled, never on a hot path. */
int lab_pgrp_prog_ids(pid_t pgid, uint32_t min_id, uint32_t *ids, int max);
/* BPF links processes of group pgid hold (a link fd's "link_id:" in
 * fdinfo): how many ids, or a negative errno. Same cost as above. */
int lab_pgrp_link_ids(pid_t pgid, uint32_t *ids, int max);
/* Sum of the numbers of the "Key:  N" lines (keys NULL-ended, e.g.
 * "VmRSS:") of /proc/PID/status over the processes of group pgid (every
 * thread's status with per_task: counters kept per thread); NaN when none
 * was found. O(processes on the host). */
double lab_pgrp_status_sum(pid_t pgid, const char *const keys[], bool per_task);
/* CPU time (ns) of every process of group pgid, each from its CPU clock
 * (clock_getcpuclockid): every thread, exited ones included, exact to the
 * nanosecond, unlike clock ticks. */
uint64_t lab_pgrp_cpu_ns(pid_t pgid);
/* The same for one process; 0 if it is gone. */
uint64_t lab_proc_cpu_ns(pid_t pid);
/* Is /proc/<pid> (a decimal string) in process group pgid? */
bool lab_proc_in_pgrp(const char *pid, pid_t pgid);
/* Call fn(pid, ctx) for every process of group pgid now: how many, or a
 * negative errno when /proc cannot be read. O(processes on the host). */
int lab_pgrp_for_each(pid_t pgid, void (*fn)(pid_t pid, void *ctx), void *ctx);

/* --- a tracer under test ----------------------------------------------- */
/* Start argv with its output in out_path / err_path, tracked. 0 or a negative
 * errno with reason filled. */
int lab_tracer_start(struct lab_tracer *t, char *const argv[], const char *out_path,
		     const char *err_path, char *reason, size_t reason_len);
/* Wait until its BPF programs are attached: new program ids held by its group,
 * unchanged for LAB_ATTACH_STABLE_MS, and ready_stderr (if not NULL) on its
 * stderr. Returns the number of programs, or a negative errno with reason
 * filled (a tracer that exited is reaped; one that timed out is left running
 * for lab_tracer_stop). */
int lab_tracer_wait_attached(struct lab_tracer *t, const char *ready_stderr, double timeout_s,
			     char *reason, size_t reason_len);
/* Start of the measured interval: program statistics and CPU now. */
void lab_tracer_mark(struct lab_tracer *t);
/* Wait until its stdout file stops growing for stable_ms (at most max_ms):
 * it has caught up with what the kernel buffered. */
void lab_tracer_drain(const struct lab_tracer *t, unsigned poll_ms, unsigned stable_ms,
		      unsigned max_ms);
/* End of the measured interval, read before stopping it: programs of the
 * group now (one that appeared after the mark counts from zero) and CPU. */
void lab_tracer_sample(struct lab_tracer *t);
/* Run time and runs of program i of after[] within the interval. */
void lab_tracer_prog_delta(const struct lab_tracer *t, int i, uint64_t *run_time_ns,
			   uint64_t *run_cnt);
/* Totals of every program within the interval. */
void lab_tracer_bpf_totals(const struct lab_tracer *t, uint64_t *run_time_ns, uint64_t *run_cnt);
/* CPU of the group within the interval, ms. */
double lab_tracer_cpu_ms(const struct lab_tracer *t);
/* SIGINT to its group, SIGKILL after LAB_STOP_TIMEOUT_MS, then SIGKILL to any
 * leftover of the group. Fills exit_code, killed, cpu_total_ms, maxrss_kb. */
void lab_tracer_stop(struct lab_tracer *t);

#endif
