/* bench_exec: the harness behind `make bench-exec`. It runs exec_storm at
 * fixed exec rates under each process tracer (none, the three sonde
 * implementations, libbpf-tools execsnoop, bpftrace's execsnoop.bt) in
 * interleaved rounds, and measures for each run: exec events captured against
 * execs actually started (matched by a marker unique to the run), drops, the
 * in-kernel BPF time per exec (BPF_ENABLE_STATS run-time statistics of the
 * programs the tracer loaded), the tracer's CPU, and the extra wall time per
 * exec against no tracer. It writes results.json and report.md with medians
 * over rounds and a decision matrix. A tracer that cannot run is reported with
 * its reason, never skipped silently; no process outlives the harness. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "cli/cli_common.h"
#include "cli/output.h"
#include "lab/bench.h"
#include "lab/report_text.h"
#include "lab/stats.h"
#include "lab/sysinfo.h"
#include "lab/tracer_output.h"
#include "lab/tracer_proc.h"

#define NS_PER_MS LAB_NS_PER_MS
#define NS_PER_SEC LAB_NS_PER_SEC
#define RATES_MAX 8
#define TRACERS_MAX 12
#define ROUNDS_MAX 100
#define RUN_PROGS_MAX 16 /* programs of one tracer shown in the report */
#define REASON_BYTES LAB_REASON_BYTES
#define PATH_BYTES LAB_PATH_BYTES
#define DIR_BYTES 512 /* --build and --out: leaves room for file names */
#define DEFAULT_ROUNDS 5
#define DEFAULT_DURATION_S 3.0
/* exec_storm not pinned: on one CPU of a 2-core VM it spawns ~4,300 exec/s
 * at most, short of the capture target's 5,000; on both it reaches ~6,000. */
#define DEFAULT_STORM_CPU -1
#define ATTACH_POLL_MS LAB_ATTACH_POLL_MS
#define DEFAULT_ATTACH_TIMEOUT_S 20.0
/* After the storm: wait until the tracer's output stops growing for
 * DRAIN_STABLE_MS (at most DRAIN_MAX_MS) before reading stats and stopping. */
#define DRAIN_POLL_MS 50
#define DRAIN_STABLE_MS 250
#define DRAIN_MAX_MS 5000
#define STOP_TIMEOUT_MS LAB_STOP_TIMEOUT_MS
/* The storm runs for its duration plus this much (reaping, start-up). */
#define STORM_SLACK_MS 30000
/* kprobe availability probe: how long sonde may run before it counts as
 * attached (and is then benchmarked like the others). */
#define PROBE_TIMEOUT_MS 10000
/* Targets of the process tracer. */
#define TARGET_CAPTURE_RATE 5000
#define TARGET_NS_PER_EXEC 1500.0
/* In-kernel cost comparison: with at least PAIRED_ROUNDS_MIN paired rounds an
 * implementation is dearer only if it cost more in every one; with fewer, if
 * its median is more than NS_TIE_FRACTION above. */
#define PAIRED_ROUNDS_MIN 3
#define NS_TIE_FRACTION 0.05
/* A storm that reached less than this fraction of its rate is called out. */
#define ACHIEVED_OK_FRACTION 0.99

enum out_format {
	FMT_NONE,
	FMT_SONDE_JSON, /* one JSON object per line, exec records "type":"exec" */
	FMT_TEXT,       /* one line per exec with its argv */
};

struct tracer {
	char name[32];
	char *argv[10];
	enum out_format fmt;
	const char *ready_stderr; /* also wait for this text on stderr, if set */
	bool is_sonde;
	bool available;
	char reason[REASON_BYTES]; /* why not available */
	int probe_exit; /* exit code of the availability probe, -1 if none */
};

struct run {
	int round, rate_idx, tracer_idx;
	bool ok;
	char reason[REASON_BYTES];
	char marker[48];
	char label[80]; /* names its files under runs/ */
	/* storm */
	long spawned, failed_spawns;
	double achieved_rate, wall_med_us, wall_p99_us, spawn_med_us;
	/* capture */
	long captured;
	long drops; /* -1: tracer does not report them */
	long produced, delivered, filtered;
	int invariant; /* sonde: produced == delivered + filtered + dropped; -1 n/a */
	char drops_text[REASON_BYTES];
	long lost; /* "Lost N events" messages of peers, -1 if none printed */
	/* cost */
	int nprogs;
	char progs_text[REASON_BYTES];
	char top_prog[BPF_OBJ_NAME_LEN]; /* the program with the most run time */
	double top_prog_ns_per_exec;
	/* each program of the tracer, in load order: runs per exec, ns per run */
	struct run_prog {
		char name[BPF_OBJ_NAME_LEN];
		double runs_per_exec, ns_per_run;
	} progs[RUN_PROGS_MAX];
	int nprogs_seen;
	/* sonde: BPF ns per exec of the programs that build the exec record
	 * (named *exec*), the exit and fork records' left out; NAN if unknown */
	double exec_record_ns;
	uint64_t run_time_ns, run_cnt;
	double ns_per_exec; /* NAN if unknown */
	double cpu_total_ms, cpu_storm_ms;
	double extra_wall_us; /* NAN if none's run of the round failed */
	double attach_s;
	int exit_code; /* tracer's, -1 if killed */
};

struct config {
	long rates[RATES_MAX];
	int nrates;
	int rounds;
	double duration_s;
	long storm_cpu;
	double attach_timeout_s;
	bool keep_raw;
	bool strict;
	char build[DIR_BYTES];
	char out[DIR_BYTES];
	char tracer_list[512];
};

static struct config cfg;
static struct tracer tracers[TRACERS_MAX];
static int ntracers;
static struct run *runs;
static int nruns;
static int stats_fd = -1;
static char stats_error[REASON_BYTES];
static char loadavg_start[64], loadavg_end[64];
/* Calibration programs: what a BPF program run costs on this machine before
 * a tracer's own work, measured on the raw tracepoint sched_process_exec
 * under one storm at the top rate. */
enum calib_kind {
	CALIB_EMPTY,          /* r0 = 0; exit */
	CALIB_RINGBUF_QUIET,  /* reserve + submit 64 B, BPF_RB_NO_WAKEUP */
	CALIB_RINGBUF_WAKEUP, /* reserve + submit 64 B, BPF_RB_FORCE_WAKEUP */
	CALIB_COUNT
};

struct calib {
	const char *what;
	double ns; /* per run, NAN if not measured */
	long runs;
	char error[REASON_BYTES];
};

static struct calib calibs[CALIB_COUNT] = {
	[CALIB_EMPTY] = { "empty program", NAN, 0, "" },
	[CALIB_RINGBUF_QUIET] = { "ring buffer reserve+submit of 64 B, no wake-up (BPF_RB_NO_WAKEUP)",
				  NAN, 0, "" },
	[CALIB_RINGBUF_WAKEUP] = { "ring buffer reserve+submit of 64 B with a wake-up (BPF_RB_FORCE_WAKEUP)",
				   NAN, 0, "" },
};
#define CALIB_RECORD_BYTES 64
/* Argument bytes the record floor's argv variant reads: sonde's smallest
 * exec record class (bpf/exec.bpf.c), exec_storm's argv fits in it. */
#define CALIB_ARGV_BYTES 256
/* The start of a calibration storm's marker (argv[1] of its processes). */
#define CALIB_MARKER "sbcalib"
/* The floor of an exec tracer on the ring buffer, at each rate: a
 * CALIB_RECORD_BYTES record reserved and submitted (BPF_RB_NO_WAKEUP) on
 * sched_process_exec and another on sched_process_exit, nothing read into
 * either, and a thread reading them as sonde exec does, in every round before
 * the tracers' runs at that rate; then again with the
 * exec side reading argv into its record. What any tracer that sends an
 * exec and an exit record through the ring pays per process before it
 * reads a field, and with the one field it cannot do without: an exec runs on caches its own loading has just
 * evicted, so the same record costs more there than at the exit. */
struct record_floor {
	/* ns per run in each round (NAN if not measured), and their medians */
	double exec_r[ROUNDS_MAX], exec_argv_r[ROUNDS_MAX], exit_r[ROUNDS_MAX];
	double exec_ns, exec_argv_ns, exit_ns; /* exec_argv: the exec side reading argv */
	int rounds;
	char error[REASON_BYTES];
};
static struct record_floor record_floors[RATES_MAX];
/* Room for every calibration record of a storm without a consumer. */
#define CALIB_RINGBUF_BYTES (64u << 20)

static int top_rate_idx(void);

/* Count the exec records of this run: lines with the run's marker, that are
 * not exec_storm's own exec (its argv holds the marker too) and, for sonde's
 * JSON, are exec records (fork/exit records carry no argv anyway). */
static long count_marker_lines(const char *path, const char *marker, enum out_format fmt)
{
	char *line = NULL;
	size_t cap = 0;
	long n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (!strstr(line, marker) || strstr(line, "exec_storm"))
			continue;
		if (fmt == FMT_SONDE_JSON && !strstr(line, "\"type\":\"exec\""))
			continue;
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

/* sonde's closing {"type":"stats",...} record: produced, delivered, the sum
 * of the dropped counters and the dropped object as text. 0 or -ENOENT. */
static int parse_sonde_stats(const char *path, struct run *r)
{
	struct lab_sonde_stats st;
	int err = lab_sonde_stats_read(path, &st);

	if (err)
		return err;
	r->produced = st.produced;
	r->delivered = st.delivered;
	r->filtered = st.filtered;
	r->drops = st.drops;
	snprintf(r->drops_text, sizeof(r->drops_text), "%s", st.drops_text);
	r->invariant = st.invariant;
	return 0;
}

static void run_path(char *buf, size_t len, const struct run *r, const char *suffix)
{
	snprintf(buf, len, "%s/runs/%s.%s", cfg.out, r->label, suffix);
}

static void fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	r->ok = false;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

static int storm_run(struct run *r)
{
	char out_path[PATH_BYTES], err_path[PATH_BYTES], storm[PATH_BYTES], tiny[PATH_BYTES];
	char rate[32], dur[32], cpu[16], json[4096];
	char *argv[16];
	int argc = 0, status, err;
	struct rusage ru;
	pid_t pid;
	double v;
	FILE *f;

	snprintf(storm, sizeof(storm), "%s/bench/exec_storm", cfg.build);
	snprintf(tiny, sizeof(tiny), "%s/bench/tiny_true", cfg.build);
	snprintf(rate, sizeof(rate), "%ld", cfg.rates[r->rate_idx]);
	snprintf(dur, sizeof(dur), "%g", cfg.duration_s);
	snprintf(cpu, sizeof(cpu), "%ld", cfg.storm_cpu);
	run_path(out_path, sizeof(out_path), r, "storm.json");
	run_path(err_path, sizeof(err_path), r, "storm.err");
	argv[argc++] = storm;
	argv[argc++] = "--rate";
	argv[argc++] = rate;
	argv[argc++] = "--duration";
	argv[argc++] = dur;
	argv[argc++] = "--marker";
	argv[argc++] = r->marker;
	argv[argc++] = "--binary";
	argv[argc++] = tiny;
	if (cfg.storm_cpu >= 0) {
		argv[argc++] = "--cpu";
		argv[argc++] = cpu;
	}
	argv[argc] = NULL;

	pid = lab_spawn_logged(argv, out_path, err_path);
	if (pid < 0) {
		fail(r, "cannot start exec_storm: %s", strerror(-pid));
		return pid;
	}
	lab_pgrp_track(pid);
	err = lab_wait_exit(pid, (unsigned)(cfg.duration_s * 1000) + STORM_SLACK_MS, &status, &ru);
	kill(-pid, SIGKILL);
	if (err) {
		lab_wait_exit(pid, STOP_TIMEOUT_MS, &status, &ru);
		lab_pgrp_untrack(pid);
		fail(r, "exec_storm did not finish in time");
		return -ETIMEDOUT;
	}
	lab_pgrp_untrack(pid);
	f = fopen(out_path, "r");
	json[0] = '\0';
	if (f) {
		if (!fgets(json, sizeof(json), f))
			json[0] = '\0';
		fclose(f);
	}
	if (!strstr(json, "\"type\":\"exec_storm\"")) {
		char last[200];

		lab_read_last_line(err_path, last, sizeof(last));
		fail(r, "exec_storm exited %d without a result: %s", lab_exit_code(status), last);
		return -EIO;
	}
	r->spawned = lab_json_num(json, "spawned", &v) ? (long)v : 0;
	r->failed_spawns = lab_json_num(json, "failed", &v) ? (long)v : 0;
	r->achieved_rate = lab_json_num(json, "achieved_rate", &v) ? v : NAN;
	r->wall_med_us = lab_json_obj_num(json, "exec_wall_us", "median", &v) ? v : NAN;
	r->wall_p99_us = lab_json_obj_num(json, "exec_wall_us", "p99", &v) ? v : NAN;
	r->spawn_med_us = lab_json_obj_num(json, "spawn_us", "median", &v) ? v : NAN;
	if (r->spawned <= 0) {
		fail(r, "exec_storm started no process (%ld failed spawns)", r->failed_spawns);
		return -EIO;
	}
	return 0;
}

/* Fill r from a stopped tracer: exit code and CPU (wait4 rusage: the tracer
 * and the children it waited for). */
static void run_take_stop(struct run *r, const struct lab_tracer *lt)
{
	r->exit_code = lt->exit_code;
	r->cpu_total_ms = lt->cpu_total_ms;
}

static void run_one(struct run *r)
{
	const struct tracer *t = &tracers[r->tracer_idx];
	char out_path[PATH_BYTES], err_path[PATH_BYTES];
	struct lab_tracer lt;
	int nids = 0;
	bool traced = t->fmt != FMT_NONE;

	r->ok = true;
	r->drops = r->lost = r->produced = r->delivered = -1;
	r->invariant = -1;
	r->ns_per_exec = r->extra_wall_us = r->exec_record_ns = NAN;
	r->exit_code = 0;
	run_path(out_path, sizeof(out_path), r, "out");
	run_path(err_path, sizeof(err_path), r, "err");

	if (traced) {
		if (lab_tracer_start(&lt, t->argv, out_path, err_path, r->reason, sizeof(r->reason))) {
			r->ok = false;
			return;
		}
		nids = lab_tracer_wait_attached(&lt, t->ready_stderr, cfg.attach_timeout_s, r->reason,
						sizeof(r->reason));
		r->attach_s = lt.attach_s;
		if (nids < 0) {
			r->ok = false;
			if (lt.pid) {
				lab_tracer_stop(&lt);
				run_take_stop(r, &lt);
			}
			return;
		}
		r->nprogs = nids;
		lab_tracer_mark(&lt);
	}

	if (storm_run(r)) {
		if (traced) {
			lab_tracer_stop(&lt);
			run_take_stop(r, &lt);
		}
		return;
	}

	if (traced) {
		/* Let the tracer catch up with what is buffered before stopping it,
		 * then read its programs' figures while they still exist. */
		lab_tracer_drain(&lt, DRAIN_POLL_MS, DRAIN_STABLE_MS, DRAIN_MAX_MS);
		lab_tracer_sample(&lt);
		lab_tracer_stop(&lt);
		run_take_stop(r, &lt);
		r->cpu_storm_ms = lab_tracer_cpu_ms(&lt);

		if (stats_fd >= 0 && lt.nafter > 0) {
			char *p = r->progs_text;
			size_t left = sizeof(r->progs_text);

			for (int i = 0; i < lt.nafter; i++) {
				const char *name = lt.after[i].name;
				double ns_per_exec, runs_per_exec, ns_per_run;
				uint64_t prt, pcnt;
				int w;

				lab_tracer_prog_delta(&lt, i, &prt, &pcnt);
				ns_per_exec = (double)prt / (double)r->spawned;
				runs_per_exec = (double)pcnt / (double)r->spawned;
				ns_per_run = pcnt ? (double)prt / (double)pcnt : NAN;
				if (tracers[r->tracer_idx].is_sonde && strstr(name, "exec"))
					r->exec_record_ns = (isnan(r->exec_record_ns) ? 0 : r->exec_record_ns) +
							    ns_per_exec;
				if (ns_per_exec > r->top_prog_ns_per_exec) {
					r->top_prog_ns_per_exec = ns_per_exec;
					snprintf(r->top_prog, sizeof(r->top_prog), "%s", name);
				}
				/* Per program: name, runs per exec, ns per run. */
				w = snprintf(p, left, "%s%s %.2fx %.0fns", i ? ", " : "", name, runs_per_exec,
					     pcnt ? ns_per_run : 0.0);
				if (r->nprogs_seen < RUN_PROGS_MAX) {
					struct run_prog *rp = &r->progs[r->nprogs_seen++];

					snprintf(rp->name, sizeof(rp->name), "%s", name);
					rp->runs_per_exec = runs_per_exec;
					rp->ns_per_run = ns_per_run;
				}
				if (w > 0 && (size_t)w < left) {
					p += w;
					left -= (size_t)w;
				}
			}
			r->nprogs = lt.nafter;
			lab_tracer_bpf_totals(&lt, &r->run_time_ns, &r->run_cnt);
			r->ns_per_exec = (double)r->run_time_ns / (double)r->spawned;
		}

		if (lt.killed)
			fail(r, "did not exit within %d s of SIGINT (killed)", STOP_TIMEOUT_MS / 1000);
		else if (r->exit_code != 0) {
			char last[200];

			lab_read_last_line(err_path, last, sizeof(last));
			fail(r, "exited with code %d: %s", r->exit_code, last);
		}
		r->captured = count_marker_lines(out_path, r->marker, t->fmt);
		r->lost = lab_count_lost(err_path);
		if (t->fmt == FMT_TEXT) {
			long l = lab_count_lost(out_path);

			if (l >= 0)
				r->lost = (r->lost < 0 ? 0 : r->lost) + l;
		}
		if (t->is_sonde && parse_sonde_stats(out_path, r) && r->ok)
			fail(r, "no {\"type\":\"stats\"} record in its output");
		if (r->captured < 0 && r->ok)
			fail(r, "cannot read its output: %s", strerror((int)-r->captured));
		if (!cfg.keep_raw)
			unlink(out_path);
	}
}

/* Where the exec's argv is, for a calibration program that reads it: byte
 * offsets of task_struct.mm and of mm_struct.arg_start and .arg_end, from
 * the kernel's BTF. */
struct argv_offsets {
	uint32_t task_mm, arg_start, arg_end;
};

/* Load a calibration program, written as raw instructions (no clang, no
 * object file): empty when map_fd < 0, else a reserve + submit of
 * CALIB_RECORD_BYTES into the ring map_fd with these submit flags; with
 * argv, the record has CALIB_ARGV_BYTES more room and the current task's
 * argument bytes, at most that many, are read into it from its image (as an
 * exec tracer must: bpf_probe_read_user from mm->arg_start). Its fd, or -1
 * with err set. */
static int calib_load(int map_fd, uint64_t flags, const struct argv_offsets *argv, char *err,
		      size_t errlen)
{
	int size = CALIB_RECORD_BYTES + (argv ? CALIB_ARGV_BYTES : 0);
	struct bpf_insn insns[40];
	int n = 0, fd;

	memset(insns, 0, sizeof(insns));
	if (argv) {
		/* r0 = bpf_get_current_task_btf(); r7 = r0->mm; if (!r7) r8 = r9
		 * = 0 else r8 = r7->arg_start, r9 = r7->arg_end */
		insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_CALL,
						.imm = BPF_FUNC_get_current_task_btf };
		insns[n++] = (struct bpf_insn){ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_7,
						.src_reg = BPF_REG_0, .off = (int16_t)argv->task_mm };
		insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
						.dst_reg = BPF_REG_8, .imm = 0 };
		insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
						.dst_reg = BPF_REG_9, .imm = 0 };
		insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_JEQ | BPF_K,
						.dst_reg = BPF_REG_7, .off = 2, .imm = 0 };
		insns[n++] = (struct bpf_insn){ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_8,
						.src_reg = BPF_REG_7, .off = (int16_t)argv->arg_start };
		insns[n++] = (struct bpf_insn){ .code = BPF_LDX | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_9,
						.src_reg = BPF_REG_7, .off = (int16_t)argv->arg_end };
		/* r9 = arg_end - arg_start, the bytes to read */
		insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_SUB | BPF_X,
						.dst_reg = BPF_REG_9, .src_reg = BPF_REG_8 };
	}
	if (map_fd >= 0) {
		/* r1 = map; r2 = size; r3 = 0; r0 = bpf_ringbuf_reserve(r1, r2, r3) */
		insns[n++] = (struct bpf_insn){ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
						.src_reg = BPF_PSEUDO_MAP_FD, .imm = map_fd };
		insns[n++] = (struct bpf_insn){ 0 };
		insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
						.dst_reg = BPF_REG_2, .imm = size };
		insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
						.dst_reg = BPF_REG_3, .imm = 0 };
		insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_CALL,
						.imm = BPF_FUNC_ringbuf_reserve };
		/* if (!r0) skip the rest; r6 = r0 */
		insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_JEQ | BPF_K,
						.dst_reg = BPF_REG_0, .off = argv ? 12 : 4, .imm = 0 };
		insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X,
						.dst_reg = BPF_REG_6, .src_reg = BPF_REG_0 };
		if (argv) {
			/* r2 = min(r9, CALIB_ARGV_BYTES); if (r2) bpf_probe_read_user(
			 * r6 + CALIB_RECORD_BYTES, r2, r8) */
			insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X,
							.dst_reg = BPF_REG_2, .src_reg = BPF_REG_9 };
			insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_JLE | BPF_K,
							.dst_reg = BPF_REG_2, .off = 1,
							.imm = CALIB_ARGV_BYTES };
			insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
							.dst_reg = BPF_REG_2, .imm = CALIB_ARGV_BYTES };
			insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_JEQ | BPF_K,
							.dst_reg = BPF_REG_2, .off = 4, .imm = 0 };
			insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X,
							.dst_reg = BPF_REG_1, .src_reg = BPF_REG_6 };
			insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_ADD | BPF_K,
							.dst_reg = BPF_REG_1, .imm = CALIB_RECORD_BYTES };
			insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X,
							.dst_reg = BPF_REG_3, .src_reg = BPF_REG_8 };
			insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_CALL,
							.imm = BPF_FUNC_probe_read_user };
		}
		/* bpf_ringbuf_submit(r6, flags) */
		insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_X,
						.dst_reg = BPF_REG_1, .src_reg = BPF_REG_6 };
		insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K,
						.dst_reg = BPF_REG_2, .imm = (int32_t)flags };
		insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_CALL,
						.imm = BPF_FUNC_ringbuf_submit };
	}
	insns[n++] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0,
					.imm = 0 };
	insns[n++] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };

	fd = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "sb_calib", "GPL", insns, (size_t)n, NULL);
	if (fd < 0)
		snprintf(err, errlen, "loading the program: %s", strerror(errno));
	return fd;
}

/* Attach prog_fd to the raw tracepoint tp and take its id: the link's fd,
 * or -1 with err set. */
static int calib_attach(int prog_fd, const char *tp, uint32_t *id, char *err, size_t errlen)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int link_fd = bpf_raw_tracepoint_open(tp, prog_fd);

	if (link_fd < 0) {
		snprintf(err, errlen, "attaching to %s: %s", tp, strerror(errno));
		return -1;
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len)) {
		snprintf(err, errlen, "reading its id: %s", strerror(errno));
		close(link_fd);
		return -1;
	}
	*id = info.id;
	return link_fd;
}

/* A storm at rate_idx labelled label; 0, or -1 with err set. */
static int calib_storm(int rate_idx, const char *label, char *err, size_t errlen)
{
	struct run r;

	memset(&r, 0, sizeof(r));
	r.rate_idx = rate_idx;
	snprintf(r.label, sizeof(r.label), "%s", label);
	snprintf(r.marker, sizeof(r.marker), CALIB_MARKER "%08x", (unsigned)rand());
	if (!storm_run(&r))
		return 0;
	snprintf(err, errlen, "%s", r.reason[0] ? r.reason : "the storm failed");
	return -1;
}

/* ns per run between two readings, NAN with err set if it never ran. */
static double calib_ns(const struct lab_prog_stat *before, const struct lab_prog_stat *after,
		       long *run_cnt, char *err, size_t errlen)
{
	if (after->run_cnt <= before->run_cnt) {
		snprintf(err, errlen, "the program never ran");
		return NAN;
	}
	if (run_cnt)
		*run_cnt = (long)(after->run_cnt - before->run_cnt);
	return (double)(after->run_time_ns - before->run_time_ns) /
	       (double)(after->run_cnt - before->run_cnt);
}

/* Run one calibration program (see enum calib_kind) under a storm. */
static void calibrate(enum calib_kind kind, int rate_idx)
{
	struct calib *c = &calibs[kind];
	uint64_t flags = kind == CALIB_RINGBUF_QUIET ? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP;
	struct lab_prog_stat before, after;
	int map_fd = -1, prog_fd = -1, link_fd = -1;
	char label[32];
	uint32_t id;

	if (stats_fd < 0) {
		snprintf(c->error, sizeof(c->error), "%s", stats_error);
		return;
	}
	if (kind != CALIB_EMPTY) {
		map_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "sb_calib_rb", 0, 0,
					CALIB_RINGBUF_BYTES, NULL);
		if (map_fd < 0) {
			snprintf(c->error, sizeof(c->error), "creating a ring buffer: %s",
				 strerror(errno));
			return;
		}
	}
	prog_fd = calib_load(map_fd, flags, NULL, c->error, sizeof(c->error));
	if (prog_fd < 0)
		goto out;
	link_fd = calib_attach(prog_fd, "sched_process_exec", &id, c->error, sizeof(c->error));
	if (link_fd < 0)
		goto out;
	snprintf(label, sizeof(label), "calib-%d", (int)kind);
	if (lab_prog_stat_read(id, &before)) {
		snprintf(c->error, sizeof(c->error), "reading its run-time statistics failed");
		goto out;
	}
	if (calib_storm(rate_idx, label, c->error, sizeof(c->error)))
		goto out;
	if (lab_prog_stat_read(id, &after))
		snprintf(c->error, sizeof(c->error), "reading its run-time statistics failed");
	else
		c->ns = calib_ns(&before, &after, &c->runs, c->error, sizeof(c->error));
out:
	if (link_fd >= 0)
		close(link_fd);
	if (prog_fd >= 0)
		close(prog_fd);
	if (map_fd >= 0)
		close(map_fd);
}

/* The byte offset of member name in the struct or union type_id of btf,
 * looking into anonymous structs and unions; -1 if not found. */
static long btf_member_off(const struct btf *btf, int type_id, const char *name)
{
	const struct btf_type *t = btf__type_by_id(btf, (uint32_t)type_id);
	const struct btf_member *m;

	if (!t || (!btf_is_struct(t) && !btf_is_union(t)))
		return -1;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *mname = btf__name_by_offset(btf, m->name_off);
		long inner;

		if (mname && !strcmp(mname, name))
			return (long)(btf_member_bit_offset(t, (uint32_t)i) / 8);
		if (mname && *mname)
			continue;
		inner = btf_member_off(btf, (int)btf__resolve_type(btf, m->type), name);
		if (inner >= 0)
			return (long)(btf_member_bit_offset(t, (uint32_t)i) / 8) + inner;
	}
	return -1;
}

/* o from the kernel's BTF: 0, or -1 with err set. */
static int argv_offsets_find(struct argv_offsets *o, char *err, size_t errlen)
{
	struct btf *btf = btf__load_vmlinux_btf();
	long mm = -1, start = -1, end = -1;
	int task_id, mm_id;

	if (!btf) {
		snprintf(err, errlen, "reading the kernel's BTF: %s", strerror(errno));
		return -1;
	}
	task_id = btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT);
	mm_id = btf__find_by_name_kind(btf, "mm_struct", BTF_KIND_STRUCT);
	if (task_id > 0 && mm_id > 0) {
		mm = btf_member_off(btf, task_id, "mm");
		start = btf_member_off(btf, mm_id, "arg_start");
		end = btf_member_off(btf, mm_id, "arg_end");
	}
	btf__free(btf);
	if (mm < 0 || start < 0 || end < 0 || mm > INT16_MAX || end > INT16_MAX) {
		snprintf(err, errlen, "task_struct.mm or mm_struct.arg_start/arg_end not in the "
			 "kernel's BTF");
		return -1;
	}
	o->task_mm = (uint32_t)mm;
	o->arg_start = (uint32_t)start;
	o->arg_end = (uint32_t)end;
	return 0;
}

/* The reader of the record floor's ring: polls as sonde exec does. */
struct floor_reader {
	struct ring_buffer *rb;
	atomic_bool stop;
	long records;
	long with_argv; /* records carrying argument bytes (the argv variant) */
};

static int floor_count(void *ctx, void *data, size_t size)
{
	struct floor_reader *fr = ctx;

	fr->records++;
	/* exec_storm's argv holds the storm's marker (calib_storm) */
	if (size > CALIB_RECORD_BYTES && memmem((const char *)data + CALIB_RECORD_BYTES,
						size - CALIB_RECORD_BYTES, CALIB_MARKER,
						strlen(CALIB_MARKER)))
		fr->with_argv++;
	return 0;
}

static void *floor_read(void *arg)
{
	struct floor_reader *fr = arg;

	while (!atomic_load(&fr->stop))
		ring_buffer__poll(fr->rb, OUTPUT_POLL_INTERVAL_MS);
	ring_buffer__consume(fr->rb);
	return NULL;
}

/* The record floor at rate_idx (see struct record_floor): with argv, its
 * exec side reads the exec's argv too. */
static void calibrate_record_floor(int rate_idx, bool argv)
{
	static const char *const tps[2] = { "sched_process_exec", "sched_process_exit" };
	struct record_floor *rf = &record_floors[rate_idx];
	struct lab_prog_stat before[2], after[2];
	struct floor_reader fr = { 0 };
	int map_fd, prog_fd[2] = { -1, -1 }, link_fd[2] = { -1, -1 };
	struct argv_offsets off;
	bool reading = false;
	pthread_t reader;
	char label[32];
	uint32_t id[2];

	if (stats_fd < 0) {
		snprintf(rf->error, sizeof(rf->error), "%s", stats_error);
		return;
	}
	if (argv && argv_offsets_find(&off, rf->error, sizeof(rf->error)))
		return;
	map_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "sb_floor_rb", 0, 0, CALIB_RINGBUF_BYTES, NULL);
	if (map_fd < 0) {
		snprintf(rf->error, sizeof(rf->error), "creating a ring buffer: %s", strerror(errno));
		return;
	}
	fr.rb = ring_buffer__new(map_fd, floor_count, &fr, NULL);
	if (!fr.rb) {
		snprintf(rf->error, sizeof(rf->error), "reading the ring buffer: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		prog_fd[i] = calib_load(map_fd, BPF_RB_NO_WAKEUP, argv && !i ? &off : NULL,
					rf->error, sizeof(rf->error));
		if (prog_fd[i] < 0)
			goto out;
		link_fd[i] = calib_attach(prog_fd[i], tps[i], &id[i], rf->error, sizeof(rf->error));
		if (link_fd[i] < 0)
			goto out;
	}
	if (pthread_create(&reader, NULL, floor_read, &fr)) {
		snprintf(rf->error, sizeof(rf->error), "starting the reader thread failed");
		goto out;
	}
	reading = true;
	snprintf(label, sizeof(label), "floor%s-%ld", argv ? "-argv" : "", cfg.rates[rate_idx]);
	if (lab_prog_stat_read(id[0], &before[0]) || lab_prog_stat_read(id[1], &before[1])) {
		snprintf(rf->error, sizeof(rf->error), "reading the run-time statistics failed");
		goto out;
	}
	if (calib_storm(rate_idx, label, rf->error, sizeof(rf->error)))
		goto out;
	if (lab_prog_stat_read(id[0], &after[0]) || lab_prog_stat_read(id[1], &after[1])) {
		snprintf(rf->error, sizeof(rf->error), "reading the run-time statistics failed");
		goto out;
	}
	*(argv ? &rf->exec_argv_r[rf->rounds] : &rf->exec_r[rf->rounds]) =
		calib_ns(&before[0], &after[0], NULL, rf->error, sizeof(rf->error));
	if (!argv)
		rf->exit_r[rf->rounds] = calib_ns(&before[1], &after[1], NULL, rf->error,
						  sizeof(rf->error));
out:
	if (reading) {
		atomic_store(&fr.stop, true);
		pthread_join(reader, NULL);
	}
	/* a read that faulted would cost less and measure nothing */
	if (argv && !isnan(rf->exec_argv_r[rf->rounds]) && !fr.with_argv) {
		snprintf(rf->error, sizeof(rf->error), "the argv variant's records carried no "
			 "argv (%ld records)", fr.records);
		rf->exec_argv_r[rf->rounds] = NAN;
	}
	for (int i = 0; i < 2; i++) {
		if (link_fd[i] >= 0)
			close(link_fd[i]);
		if (prog_fd[i] >= 0)
			close(prog_fd[i]);
	}
	ring_buffer__free(fr.rb);
	close(map_fd);
}

/* One round of the record floor at rate_idx, both variants. */
static void record_floor_round(int rate_idx)
{
	struct record_floor *rf = &record_floors[rate_idx];
	int i = rf->rounds;

	if (i == ROUNDS_MAX)
		return;
	rf->exec_r[i] = rf->exec_argv_r[i] = rf->exit_r[i] = NAN;
	calibrate_record_floor(rate_idx, false);
	calibrate_record_floor(rate_idx, true);
	if (isnan(rf->exec_r[i]) || isnan(rf->exit_r[i]) || isnan(rf->exec_argv_r[i]))
		fprintf(stderr, "[calibration] record floor at %ld exec/s: failed: %s\n",
			cfg.rates[rate_idx], rf->error);
	else
		fprintf(stderr, "[calibration] record floor at %ld exec/s: exec %.0f ns, exec with "
			"argv %.0f ns, exit %.0f ns per run\n", cfg.rates[rate_idx], rf->exec_r[i],
			rf->exec_argv_r[i], rf->exit_r[i]);
	rf->rounds++;
}

static int parse_rates(const char *s)
{
	char buf[256], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", s);
	cfg.nrates = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (cfg.nrates == RATES_MAX || cli_parse_long(tok, 1, 1000000, &cfg.rates[cfg.nrates]))
			return -EINVAL;
		cfg.nrates++;
	}
	return cfg.nrates ? 0 : -EINVAL;
}

static struct tracer *tracer_add(const char *name)
{
	struct tracer *t;

	if (ntracers == TRACERS_MAX)
		return NULL;
	t = &tracers[ntracers++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->available = true;
	t->probe_exit = -1;
	return t;
}

static bool executable(const char *path)
{
	return access(path, X_OK) == 0;
}

static bool in_path(const char *prog)
{
	char buf[PATH_BYTES * 4], *dir, *save;
	const char *path = getenv("PATH");

	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	for (dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char full[PATH_BYTES];

		snprintf(full, sizeof(full), "%s/%s", dir, prog);
		if (executable(full))
			return true;
	}
	return false;
}

/* Run a sonde implementation briefly to learn whether it can attach here. An
 * implementation that exits at once is unavailable, with sonde's reason. */
static void sonde_probe(struct tracer *t)
{
	char out_path[PATH_BYTES], err_path[PATH_BYTES], line[200];
	struct lab_tracer lt;
	int status;
	uint64_t start = lab_now_ns();

	snprintf(out_path, sizeof(out_path), "%s/runs/probe-%.32s.out", cfg.out, t->name);
	snprintf(err_path, sizeof(err_path), "%s/runs/probe-%.32s.err", cfg.out, t->name);
	if (lab_tracer_start(&lt, t->argv, out_path, err_path, line, sizeof(line))) {
		t->available = false;
		snprintf(t->reason, sizeof(t->reason), "cannot start: %s", line);
		return;
	}
	while (lab_now_ns() - start < (uint64_t)PROBE_TIMEOUT_MS * NS_PER_MS) {
		if (waitpid(lt.pid, &status, WNOHANG) == lt.pid) {
			lab_pgrp_untrack(lt.pid);
			kill(-lt.pid, SIGKILL);
			t->probe_exit = lab_exit_code(status);
			lab_read_first_line(err_path, line, sizeof(line));
			t->available = false;
			snprintf(t->reason, sizeof(t->reason), "exit %d: %s", t->probe_exit,
				 line[0] ? line : "(no message)");
			return;
		}
		if (t->ready_stderr && lab_file_contains(err_path, t->ready_stderr))
			break;
		lab_sleep_ms(ATTACH_POLL_MS);
	}
	/* It attached (or kept running): benchmark it like the others. */
	lab_tracer_stop(&lt);
}

static int tracers_setup(void)
{
	static char sonde[PATH_BYTES];
	static const char *impls[] = { "tracepoint", "raw_tracepoint", "syscalls", "kprobe" };
	char list[512], *tok, *save;

	snprintf(sonde, sizeof(sonde), "%s/sonde", cfg.build);
	snprintf(list, sizeof(list), "%s", cfg.tracer_list);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct tracer *t = tracer_add(tok);
		bool known = false;

		if (!t)
			return -E2BIG;
		if (!strcmp(tok, "none")) {
			t->fmt = FMT_NONE;
			known = true;
		}
		for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
			if (strncmp(tok, "sonde-", 6) || strcmp(tok + 6, impls[i]))
				continue;
			known = true;
			t->is_sonde = true;
			t->fmt = FMT_SONDE_JSON;
			t->ready_stderr = "sonde exec: tracing";
			t->argv[0] = sonde;
			t->argv[1] = "exec";
			t->argv[2] = "--impl";
			t->argv[3] = (char *)impls[i];
			t->argv[4] = "--json";
			if (!executable(sonde)) {
				t->available = false;
				snprintf(t->reason, sizeof(t->reason), "%.200s not found (make all)", sonde);
			}
		}
		if (!strcmp(tok, "execsnoop")) {
			known = true;
			t->fmt = FMT_TEXT;
			t->argv[0] = "/usr/sbin/execsnoop";
			if (!executable(t->argv[0])) {
				t->available = false;
				snprintf(t->reason, sizeof(t->reason),
					 "/usr/sbin/execsnoop not found (apt-get install libbpf-tools)");
			}
		}
		if (!strcmp(tok, "bpftrace-execsnoop")) {
			known = true;
			t->fmt = FMT_TEXT;
			t->argv[0] = "bpftrace";
			t->argv[1] = "/usr/sbin/execsnoop.bt";
			if (!in_path("bpftrace") || access(t->argv[1], R_OK)) {
				t->available = false;
				snprintf(t->reason, sizeof(t->reason),
					 "bpftrace or /usr/sbin/execsnoop.bt not found (apt-get install bpftrace)");
			}
		}
		if (!known) {
			fprintf(stderr, "bench_exec: unknown tracer '%s' (none, sonde-tracepoint, "
					"sonde-raw_tracepoint, sonde-syscalls, sonde-kprobe, execsnoop, "
					"bpftrace-execsnoop)\n", tok);
			return -EINVAL;
		}
	}
	/* kprobes do not exist on every kernel: ask sonde before the rounds. */
	for (int i = 0; i < ntracers; i++)
		if (tracers[i].is_sonde && tracers[i].available && !strcmp(tracers[i].name, "sonde-kprobe"))
			sonde_probe(&tracers[i]);
	return 0;
}

struct summary {
	int runs, ok;
	double achieved, expected, captured, capture_pct, capture_min_pct;
	double drops, lost, ns_per_exec, ns_min, ns_max, runs_per_exec, cpu_storm_ms, cpu_total_ms;
	double wall_med_us, wall_p99_us, extra_wall_us, attach_s;
	double achieved_min; /* lowest exec rate exec_storm reached in a round */
	double wall_min_us, wall_max_us; /* spread of the per-round medians */
	double exec_record_ns; /* median of the runs' exec_record_ns */
	bool complete; /* every round ran and captured every exec, no drops */
	char progs[REASON_BYTES];
};

static void summarize(int ti, int ri, struct summary *s)
{
	double v[13][ROUNDS_MAX];
	int n = 0;

	memset(s, 0, sizeof(*s));
	s->capture_min_pct = NAN;
	s->achieved_min = NAN;
	s->complete = true;
	for (int i = 0; i < nruns; i++) {
		const struct run *r = &runs[i];

		if (r->tracer_idx != ti || r->rate_idx != ri)
			continue;
		s->runs++;
		if (!r->ok) {
			s->complete = false;
			continue;
		}
		double pct = tracers[ti].fmt == FMT_NONE ? NAN : 100.0 * r->captured / r->spawned;
		v[0][n] = r->achieved_rate;
		v[1][n] = r->spawned;
		v[2][n] = tracers[ti].fmt == FMT_NONE ? NAN : r->captured;
		v[3][n] = pct;
		v[4][n] = r->drops >= 0 ? r->drops : NAN;
		v[5][n] = r->lost >= 0 ? r->lost : NAN;
		v[6][n] = r->ns_per_exec;
		v[7][n] = tracers[ti].fmt == FMT_NONE ? NAN : (double)r->run_cnt / r->spawned;
		v[8][n] = tracers[ti].fmt == FMT_NONE ? NAN : r->cpu_storm_ms;
		v[9][n] = tracers[ti].fmt == FMT_NONE ? NAN : r->cpu_total_ms;
		v[10][n] = r->wall_med_us;
		v[11][n] = r->extra_wall_us;
		v[12][n] = r->exec_record_ns;
		if (n == 0 || r->wall_med_us < s->wall_min_us)
			s->wall_min_us = r->wall_med_us;
		if (n == 0 || r->wall_med_us > s->wall_max_us)
			s->wall_max_us = r->wall_med_us;
		if (isnan(s->achieved_min) || r->achieved_rate < s->achieved_min)
			s->achieved_min = r->achieved_rate;
		if (!isnan(pct) && (isnan(s->capture_min_pct) || pct < s->capture_min_pct))
			s->capture_min_pct = pct;
		if (!isnan(r->ns_per_exec)) {
			if (!s->ns_min || r->ns_per_exec < s->ns_min)
				s->ns_min = r->ns_per_exec;
			if (r->ns_per_exec > s->ns_max)
				s->ns_max = r->ns_per_exec;
		}
		if (r->captured != r->spawned || r->drops > 0 || r->lost > 0)
			s->complete = false;
		snprintf(s->progs, sizeof(s->progs), "%s", r->progs_text);
		s->attach_s += r->attach_s;
		n++;
	}
	s->ok = n;
	if (!n) {
		s->complete = false;
		s->achieved = s->expected = s->captured = s->capture_pct = s->drops = s->lost = NAN;
		s->ns_per_exec = s->runs_per_exec = s->cpu_storm_ms = s->cpu_total_ms = NAN;
		s->wall_med_us = s->wall_p99_us = s->extra_wall_us = s->ns_min = s->ns_max = NAN;
		s->exec_record_ns = NAN;
		return;
	}
	s->attach_s /= n;
	s->achieved = lab_median(v[0], n);
	s->expected = lab_median(v[1], n);
	s->captured = lab_median(v[2], n);
	s->capture_pct = lab_median(v[3], n);
	s->drops = lab_median(v[4], n);
	s->lost = lab_median(v[5], n);
	s->ns_per_exec = lab_median(v[6], n);
	s->runs_per_exec = lab_median(v[7], n);
	s->cpu_storm_ms = lab_median(v[8], n);
	s->cpu_total_ms = lab_median(v[9], n);
	s->wall_med_us = lab_median(v[10], n);
	s->extra_wall_us = lab_median(v[11], n);
	s->exec_record_ns = lab_median(v[12], n);
	if (!s->ns_min && !s->ns_max)
		s->ns_min = s->ns_max = NAN;
}

/* Rank of the sonde implementations: capture completeness, then the worst
 * capture, then in-kernel cost, then CPU. In-kernel cost is compared round by
 * round against the cheapest: an implementation is only "more expensive" when
 * it cost more in every paired round (at least PAIRED_ROUNDS_MIN of them);
 * otherwise it ties with the cheapest and CPU decides. */
struct candidate {
	int ti;
	bool complete;
	double capture_min, ns, cpu, extra_wall;
	bool ns_met, capture_met, capture_measured;
	double ns_worst;
	double exec_record_worst; /* the exec record's programs alone, worst rate */
	int tier; /* 0: cheapest in the kernel or not clearly dearer; 1: clearly dearer */
	int cpu_tier; /* within tier 0, the same against the lowest CPU */
	bool cheapest, cpu_lowest;
	double diff_med, diff_min, diff_max; /* ns/exec minus the cheapest's, per round */
	double cpu_diff_med, cpu_diff_min, cpu_diff_max; /* CPU ms minus the lowest's */
};

static int cmp_candidate(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	double nx = isnan(x->ns) ? INFINITY : x->ns, ny = isnan(y->ns) ? INFINITY : y->ns;
	double cx = isnan(x->capture_min) ? -1 : x->capture_min;
	double cy = isnan(y->capture_min) ? -1 : y->capture_min;
	double px = isnan(x->cpu) ? INFINITY : x->cpu, py = isnan(y->cpu) ? INFINITY : y->cpu;

	if (x->complete != y->complete)
		return x->complete ? -1 : 1;
	if (cx != cy)
		return cx > cy ? -1 : 1;
	if (x->tier != y->tier)
		return x->tier < y->tier ? -1 : 1;
	if (x->cpu_tier != y->cpu_tier)
		return x->cpu_tier < y->cpu_tier ? -1 : 1;
	if (nx != ny)
		return nx < ny ? -1 : 1;
	return px < py ? -1 : px > py;
}

enum metric { METRIC_NS_PER_EXEC, METRIC_CPU_STORM_MS };

static double run_metric(const struct run *r, enum metric m)
{
	return m == METRIC_NS_PER_EXEC ? r->ns_per_exec : r->cpu_storm_ms;
}

/* Per-round differences of a metric between tracers a and b at one rate, for
 * the rounds where both ran. Returns how many. */
static int paired_diffs(int ta, int tb, int ri, enum metric m, double *d)
{
	int n = 0;

	for (int i = 0; i < nruns; i++) {
		const struct run *a = &runs[i];

		if (a->tracer_idx != ta || a->rate_idx != ri || !a->ok || isnan(run_metric(a, m)))
			continue;
		for (int j = 0; j < nruns; j++) {
			const struct run *b = &runs[j];

			if (b->tracer_idx == tb && b->rate_idx == ri && b->round == a->round &&
			    b->ok && !isnan(run_metric(b, m)) && n < ROUNDS_MAX)
				d[n++] = run_metric(a, m) - run_metric(b, m);
		}
	}
	return n;
}

/* Is tracer a clearly above tracer b on a metric? Fills the per-round
 * difference's median, min and max (NAN if no round pairs). */
static bool clearly_above(int ta, int tb, int ri, enum metric m, double b_median, double *med,
			  double *min, double *max)
{
	double d[ROUNDS_MAX];
	int k = paired_diffs(ta, tb, ri, m, d);

	*med = *min = *max = NAN;
	if (!k)
		return false;
	*min = *max = d[0];
	for (int j = 1; j < k; j++) {
		*min = fmin(*min, d[j]);
		*max = fmax(*max, d[j]);
	}
	*med = lab_median(d, k);
	return k >= PAIRED_ROUNDS_MIN ? *min > 0 : *med > NS_TIE_FRACTION * b_median;
}

static int top_rate_idx(void)
{
	int best = 0;

	for (int i = 1; i < cfg.nrates; i++)
		if (cfg.rates[i] > cfg.rates[best])
			best = i;
	return best;
}

static int target_rate_idx(void)
{
	for (int i = 0; i < cfg.nrates; i++)
		if (cfg.rates[i] == TARGET_CAPTURE_RATE)
			return i;
	return -1;
}

static int build_candidates(struct candidate *c)
{
	int n = 0, top = top_rate_idx(), tgt = target_rate_idx();

	for (int ti = 0; ti < ntracers; ti++) {
		struct summary s;

		if (!tracers[ti].is_sonde || !tracers[ti].available)
			continue;
		memset(&c[n], 0, sizeof(c[n]));
		c[n].ti = ti;
		c[n].complete = true;
		c[n].capture_min = NAN;
		c[n].ns_worst = NAN;
		c[n].exec_record_worst = NAN;
		c[n].ns_met = true;
		for (int ri = 0; ri < cfg.nrates; ri++) {
			summarize(ti, ri, &s);
			if (!s.complete)
				c[n].complete = false;
			if (ri == top) {
				c[n].capture_min = s.capture_min_pct;
				c[n].ns = s.ns_per_exec;
				c[n].cpu = s.cpu_storm_ms;
				c[n].extra_wall = s.extra_wall_us;
			}
			if (ri == tgt) {
				c[n].capture_measured = s.ok > 0;
				c[n].capture_met = s.ok > 0 && s.complete;
			}
			if (isnan(s.ns_per_exec))
				c[n].ns_met = false;
			else if (isnan(c[n].ns_worst) || s.ns_per_exec > c[n].ns_worst)
				c[n].ns_worst = s.ns_per_exec;
			if (!isnan(s.exec_record_ns) &&
			    (isnan(c[n].exec_record_worst) || s.exec_record_ns > c[n].exec_record_worst))
				c[n].exec_record_worst = s.exec_record_ns;
		}
		if (!isnan(c[n].ns_worst) && c[n].ns_worst > TARGET_NS_PER_EXEC)
			c[n].ns_met = false;
		n++;
	}
	/* Tiers: in-kernel cost against the cheapest, then, among those that tie
	 * with it, CPU against the lowest. */
	{
		int best = -1, low = -1;

		for (int i = 0; i < n; i++) {
			if (isnan(c[i].ns))
				continue;
			if (best < 0 || c[i].complete > c[best].complete ||
			    (c[i].complete == c[best].complete && c[i].ns < c[best].ns))
				best = i;
		}
		for (int i = 0; i < n; i++) {
			c[i].tier = isnan(c[i].ns) ? 1 : 0;
			c[i].cheapest = i == best;
			c[i].diff_med = c[i].diff_min = c[i].diff_max = NAN;
			c[i].cpu_diff_med = c[i].cpu_diff_min = c[i].cpu_diff_max = NAN;
			if (best >= 0 && i != best && !isnan(c[i].ns) &&
			    clearly_above(c[i].ti, c[best].ti, top, METRIC_NS_PER_EXEC, c[best].ns,
					  &c[i].diff_med, &c[i].diff_min, &c[i].diff_max))
				c[i].tier = 1;
		}
		for (int i = 0; i < n; i++)
			if (!c[i].tier && !isnan(c[i].cpu) && (low < 0 || c[i].cpu < c[low].cpu))
				low = i;
		for (int i = 0; i < n; i++) {
			c[i].cpu_lowest = i == low;
			if (!c[i].tier && low >= 0 && i != low &&
			    clearly_above(c[i].ti, c[low].ti, top, METRIC_CPU_STORM_MS, c[low].cpu,
					  &c[i].cpu_diff_med, &c[i].cpu_diff_min, &c[i].cpu_diff_max))
				c[i].cpu_tier = 1;
		}
	}
	qsort(c, (size_t)n, sizeof(*c), cmp_candidate);
	return n;
}

static void write_results_json(const char *path, const struct candidate *c, int nc)
{
	FILE *f = fopen(path, "w");
	struct utsname u;

	if (!f) {
		fprintf(stderr, "bench_exec: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	uname(&u);
	fprintf(f, "{\"benchmark\":\"exec\",\"kernel\":");
	lab_json_str(f, u.release);
	fprintf(f, ",\"cpus\":%ld,\"loadavg_start\":", sysconf(_SC_NPROCESSORS_ONLN));
	lab_json_str(f, loadavg_start);
	fprintf(f, ",\"loadavg_end\":");
	lab_json_str(f, loadavg_end);
	fprintf(f, ",\n\"config\":{\"rounds\":%d,\"duration_s\":%g,\"storm_cpu\":%ld,\"rates\":[",
		cfg.rounds, cfg.duration_s, cfg.storm_cpu);
	for (int i = 0; i < cfg.nrates; i++)
		fprintf(f, "%s%ld", i ? "," : "", cfg.rates[i]);
	fprintf(f, "],\"bpf_stats\":");
	lab_json_str(f, stats_fd >= 0 ? "enabled" : stats_error);
	fprintf(f, "},\n\"calibration\":[");
	for (int k = 0; k < CALIB_COUNT; k++) {
		fprintf(f, "%s{\"program\":", k ? "," : "");
		lab_json_str(f, calibs[k].what);
		fprintf(f, ",\"ns_per_run\":%s,\"runs\":%ld,\"error\":",
			lab_json_num_or_null(calibs[k].ns, 1), calibs[k].runs);
		lab_json_str(f, calibs[k].error);
		fprintf(f, "}");
	}
	fprintf(f, "],\n\"record_floor\":[");
	for (int ri = 0; ri < cfg.nrates; ri++) {
		const struct record_floor *rf = &record_floors[ri];

		fprintf(f, "%s{\"rate\":%ld,\"exec_ns\":%s,", ri ? "," : "", cfg.rates[ri],
			lab_json_num_or_null(rf->exec_ns, 1));
		fprintf(f, "\"exec_argv_ns\":%s,", lab_json_num_or_null(rf->exec_argv_ns, 1));
		fprintf(f, "\"exit_ns\":%s,\"error\":", lab_json_num_or_null(rf->exit_ns, 1));
		lab_json_str(f, rf->error);
		fprintf(f, "}");
	}
	fprintf(f, "],\n\"targets\":{\"capture_pct_at_rate\":%d,\"capture_pct\":100,"
		   "\"ns_per_exec_max\":%.0f},\n\"tracers\":[",
		TARGET_CAPTURE_RATE, TARGET_NS_PER_EXEC);
	for (int i = 0; i < ntracers; i++) {
		fprintf(f, "%s\n {\"name\":\"%s\",\"available\":%s,\"reason\":", i ? "," : "",
			tracers[i].name, tracers[i].available ? "true" : "false");
		lab_json_str(f, tracers[i].reason);
		fprintf(f, ",\"probe_exit_code\":%d,\"command\":", tracers[i].probe_exit);
		if (tracers[i].argv[0]) {
			char cmd[512] = "";

			for (int a = 0; tracers[i].argv[a]; a++) {
				strncat(cmd, a ? " " : "", sizeof(cmd) - strlen(cmd) - 1);
				strncat(cmd, tracers[i].argv[a], sizeof(cmd) - strlen(cmd) - 1);
			}
			lab_json_str(f, cmd);
		} else {
			fprintf(f, "null");
		}
		fprintf(f, "}");
	}
	fprintf(f, "],\n\"summary\":[");
	for (int ti = 0, first = 1; ti < ntracers; ti++) {
		if (!tracers[ti].available)
			continue;
		for (int ri = 0; ri < cfg.nrates; ri++) {
			struct summary s;

			summarize(ti, ri, &s);
			fprintf(f, "%s\n {\"tracer\":\"%s\",\"rate\":%ld,\"rounds\":%d,\"rounds_ok\":%d,"
				   "\"achieved_rate\":%s,\"expected\":%s,\"captured\":%s,"
				   "\"capture_pct\":%s,\"capture_min_pct\":%s,\"complete\":%s,"
				   "\"drops\":%s,\"lost\":%s,\"ns_per_exec\":%s,\"ns_per_exec_min\":%s,"
				   "\"ns_per_exec_max\":%s,\"bpf_runs_per_exec\":%s,"
				   "\"cpu_storm_ms\":%s,\"cpu_total_ms\":%s,\"exec_wall_median_us\":%s,"
				   "\"extra_wall_us\":%s,\"attach_s\":%s,\"exec_record_ns\":%s}",
				first ? "" : ",", tracers[ti].name, cfg.rates[ri], s.runs, s.ok,
				lab_json_num_or_null(s.achieved, 1), lab_json_num_or_null(s.expected, 0),
				lab_json_num_or_null(s.captured, 0), lab_json_num_or_null(s.capture_pct, 3),
				lab_json_num_or_null(s.capture_min_pct, 3), s.complete ? "true" : "false",
				lab_json_num_or_null(s.drops, 0), lab_json_num_or_null(s.lost, 0),
				lab_json_num_or_null(s.ns_per_exec, 1), lab_json_num_or_null(s.ns_min, 1),
				lab_json_num_or_null(s.ns_max, 1), lab_json_num_or_null(s.runs_per_exec, 2),
				lab_json_num_or_null(s.cpu_storm_ms, 1), lab_json_num_or_null(s.cpu_total_ms, 1),
				lab_json_num_or_null(s.wall_med_us, 1), lab_json_num_or_null(s.extra_wall_us, 1),
				lab_json_num_or_null(s.ok ? s.attach_s : NAN, 2),
				lab_json_num_or_null(s.exec_record_ns, 1));
			first = 0;
		}
	}
	fprintf(f, "],\n\"decision\":{\"ranking\":[");
	for (int i = 0; i < nc; i++) {
		fprintf(f, "%s{\"tracer\":\"%s\",\"complete_capture\":%s,\"capture_target_met\":%s,"
			   "\"ns_target_met\":%s,\"ns_per_exec_top_rate\":%s,\"cpu_storm_ms_top_rate\":%s}",
			i ? "," : "", tracers[c[i].ti].name, c[i].complete ? "true" : "false",
			c[i].capture_measured ? (c[i].capture_met ? "true" : "false") : "null",
			c[i].ns_met ? "true" : "false", lab_json_num_or_null(c[i].ns, 1),
			lab_json_num_or_null(c[i].cpu, 1));
	}
	fprintf(f, "],\"recommended\":");
	if (nc)
		lab_json_str(f, tracers[c[0].ti].name);
	else
		fprintf(f, "null");
	fprintf(f, "},\n\"runs\":[");
	for (int i = 0; i < nruns; i++) {
		const struct run *r = &runs[i];

		fprintf(f, "%s\n {\"round\":%d,\"rate\":%ld,\"tracer\":\"%s\",\"ok\":%s,\"reason\":",
			i ? "," : "", r->round + 1, cfg.rates[r->rate_idx], tracers[r->tracer_idx].name,
			r->ok ? "true" : "false");
		lab_json_str(f, r->reason);
		fprintf(f, ",\"marker\":\"%s\",\"spawned\":%ld,\"failed_spawns\":%ld,"
			   "\"achieved_rate\":%s,\"exec_wall_median_us\":%s,\"exec_wall_p99_us\":%s,"
			   "\"spawn_median_us\":%s,\"captured\":%ld,\"produced\":%ld,\"delivered\":%ld,"
			   "\"drops\":%ld,\"stats_invariant_ok\":%s,\"dropped\":",
			r->marker, r->spawned, r->failed_spawns, lab_json_num_or_null(r->achieved_rate, 1),
			lab_json_num_or_null(r->wall_med_us, 1), lab_json_num_or_null(r->wall_p99_us, 1),
			lab_json_num_or_null(r->spawn_med_us, 1), r->captured, r->produced, r->delivered,
			r->drops, r->invariant < 0 ? "null" : r->invariant ? "true" : "false");
		lab_json_str(f, r->drops_text);
		fprintf(f, ",\"lost\":%ld,\"bpf_programs\":%d,\"bpf_program_costs\":", r->lost,
			r->nprogs);
		lab_json_str(f, r->progs_text);
		fprintf(f, ",\"bpf_run_time_ns\":%llu,\"bpf_run_cnt\":%llu,\"ns_per_exec\":%s,"
			   "\"cpu_storm_ms\":%s,\"cpu_total_ms\":%s,\"extra_wall_us\":%s,"
			   "\"attach_s\":%s,\"exit_code\":%d}",
			(unsigned long long)r->run_time_ns, (unsigned long long)r->run_cnt,
			lab_json_num_or_null(r->ns_per_exec, 1), lab_json_num_or_null(r->cpu_storm_ms, 1),
			lab_json_num_or_null(r->cpu_total_ms, 1), lab_json_num_or_null(r->extra_wall_us, 1),
			lab_json_num_or_null(r->attach_s, 2), r->exit_code);
	}
	fprintf(f, "]}\n");
	fclose(f);
}

static const char *yes_no(bool v)
{
	return v ? "**met**" : "**not met**";
}

/* One line of "Where the in-kernel time goes": tracer ti's programs at rate
 * ri, each a median over the rounds whose program list matches the first
 * round's (load order: the same names at the same places). */
static void write_prog_costs(FILE *f, int ti, int ri)
{
	const struct run *first = NULL;
	bool any = false;
	int rounds = 0;

	for (int i = 0; i < nruns && !first; i++)
		if (runs[i].ok && runs[i].tracer_idx == ti && runs[i].rate_idx == ri &&
		    runs[i].nprogs_seen)
			first = &runs[i];
	if (!first)
		return;
	for (int p = 0; p < first->nprogs_seen; p++) {
		double rpe[ROUNDS_MAX], npr[ROUNDS_MAX];
		int n = 0;

		for (int i = 0; i < nruns; i++) {
			const struct run *r = &runs[i];

			if (!r->ok || r->tracer_idx != ti || r->rate_idx != ri ||
			    r->nprogs_seen != first->nprogs_seen ||
			    strcmp(r->progs[p].name, first->progs[p].name) || n == ROUNDS_MAX)
				continue;
			rpe[n] = r->progs[p].runs_per_exec;
			npr[n] = r->progs[p].ns_per_run;
			n++;
		}
		if (n > rounds)
			rounds = n;
		if (!any)
			fprintf(f, "- **%s** at %ld exec/s:", tracers[ti].name, cfg.rates[ri]);
		if (isnan(lab_max(npr, n)))
			fprintf(f, "%s %s never ran", any ? "," : "", first->progs[p].name);
		else
			fprintf(f, "%s %s %.2fx %s ns (%s–%s)", any ? "," : "", first->progs[p].name,
				lab_median(rpe, n), lab_fmt_num(lab_median(npr, n), 0),
				lab_fmt_num(lab_min(npr, n), 0), lab_fmt_num(lab_max(npr, n), 0));
		any = true;
	}
	if (any)
		fprintf(f, " (%d rounds)\n", rounds);
}

/* The record floor per rate (struct record_floor), as a table. */
static void write_record_floor(FILE *f)
{
	fprintf(f, "**The floor of a ring-buffer exec tracer** — a %d B record reserved and "
		   "submitted without a wake-up on sched_process_exec and another on "
		   "sched_process_exit, nothing read into either, a thread reading them as sonde "
		   "exec does (polling every %d ms); then again with the exec side reading the "
		   "exec's argv into its record (%d B more room; bpf_probe_read_user from "
		   "mm->arg_start). A storm per variant in every round, before the tracers' runs "
		   "at that rate; medians over the rounds:\n\n",
		CALIB_RECORD_BYTES, OUTPUT_POLL_INTERVAL_MS, CALIB_ARGV_BYTES);
	fprintf(f, "| exec/s | exec side ns | exec side with argv ns | exit side ns | per process "
		   "with argv ns | left of the %.0f ns budget |\n|---|---|---|---|---|---|\n",
		TARGET_NS_PER_EXEC);
	for (int ri = 0; ri < cfg.nrates; ri++) {
		const struct record_floor *rf = &record_floors[ri];
		double per_process = rf->exec_argv_ns + rf->exit_ns;

		if (isnan(rf->exec_ns) || isnan(per_process)) {
			fprintf(f, "| %ld | failed: %s | | | | |\n", cfg.rates[ri], rf->error);
			continue;
		}
		fprintf(f, "| %ld | %.0f | %.0f | %.0f | %.0f | %.0f |\n", cfg.rates[ri],
			rf->exec_ns, rf->exec_argv_ns, rf->exit_ns, per_process,
			TARGET_NS_PER_EXEC - per_process);
	}
	fprintf(f, "\nWhat is left is the budget for the rest of what the records carry (file "
		   "name, pid, parent, uid, cgroup, time, exit code); the same record costs more "
		   "on the exec side because an exec runs on caches its own loading has just "
		   "evicted.\n\n");
}

/* When the in-kernel target is missed, say where the cost is, from the
 * calibration and the per-program figures of the recommended implementation. */
static void write_cost_hints(FILE *f, const struct candidate *w, int top)
{
	double wake = calibs[CALIB_RINGBUF_WAKEUP].ns - calibs[CALIB_RINGBUF_QUIET].ns;
	double top_ns[ROUNDS_MAX], share[ROUNDS_MAX];
	const char *top_prog = NULL;
	int n = 0, floors = 0;

	/* the dearest program of the first round, over the rounds where it was
	 * the dearest too */
	for (int i = 0; i < nruns && n < ROUNDS_MAX; i++) {
		const struct run *r = &runs[i];

		if (!r->ok || r->tracer_idx != w->ti || r->rate_idx != top || !r->top_prog[0])
			continue;
		if (!top_prog)
			top_prog = r->top_prog;
		if (strcmp(r->top_prog, top_prog))
			continue;
		top_ns[n] = r->top_prog_ns_per_exec;
		share[n] = 100.0 * r->top_prog_ns_per_exec / r->ns_per_exec;
		n++;
	}
	fprintf(f, "\nWhere the cost is:");
	if (top_prog)
		fprintf(f, " its dearest program is %s, %.0f ns per exec (%.0f %% of the total, "
			   "medians over %d rounds at %ld exec/s).", top_prog, lab_median(top_ns, n),
			lab_median(share, n), n, cfg.rates[top]);
	if (!isnan(calibs[CALIB_EMPTY].ns))
		fprintf(f, " The floor here is %.0f ns per program run (empty program)",
			calibs[CALIB_EMPTY].ns);
	if (!isnan(wake))
		fprintf(f, ", a ring-buffer record costs %.0f ns without waking the reader and "
			   "%.0f ns with a wake-up (a wake-up alone: %.0f ns, %.0f %% of the %.1f µs "
			   "budget)", calibs[CALIB_RINGBUF_QUIET].ns, calibs[CALIB_RINGBUF_WAKEUP].ns,
			wake, 100.0 * wake / TARGET_NS_PER_EXEC, TARGET_NS_PER_EXEC / 1000);
	fprintf(f, ".");
	for (int ri = 0; ri < cfg.nrates; ri++) {
		const struct record_floor *rf = &record_floors[ri];

		if (isnan(rf->exec_argv_ns) || isnan(rf->exit_ns))
			continue;
		fprintf(f, "%s%.0f ns at %ld exec/s", floors++ ? ", " : " An exec record with "
			"argv and an exit record through the ring, with nothing else in them (the "
			"record floor above), cost ", rf->exec_argv_ns + rf->exit_ns, cfg.rates[ri]);
	}
	if (floors)
		fprintf(f, " per process.");
	if (!isnan(wake) && !isnan(w->ns) && w->ns > wake / 2)
		fprintf(f, " At %.0f ns per exec the reader is probably woken for many records: "
			   "BPF_RB_NO_WAKEUP with a wake-up every N records or on a timer removes "
			   "that cost.", w->ns);
	fprintf(f, "\n");
}

static void write_report(const char *path, const struct candidate *c, int nc)
{
	FILE *f = fopen(path, "w");
	struct utsname u;
	char model[128];
	int top = top_rate_idx(), tgt = target_rate_idx();

	if (!f) {
		fprintf(stderr, "bench_exec: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	lab_sysinfo_cpu_model(model, sizeof(model));
	uname(&u);

	fprintf(f, "# sonde exec benchmark\n\n");
	fprintf(f, "Kernel %s, %ld CPUs (%s), load average at start %s, at end %s.\n",
		u.release, sysconf(_SC_NPROCESSORS_ONLN), model, loadavg_start, loadavg_end);
	fprintf(f, "%d rounds of %g s per rate and tracer, interleaved (every tracer once per "
		   "round, in a balanced order: each after each other equally often); exec_storm %s%s%s, running `tiny_true` "
		   "(static, exits at once). Figures are medians over the rounds that ran.\n\n",
		cfg.rounds, cfg.duration_s, cfg.storm_cpu >= 0 ? "pinned to CPU " : "not pinned",
		cfg.storm_cpu >= 0 ? lab_fmt_num((double)cfg.storm_cpu, 0) : "",
		cfg.storm_cpu >= 0 ? " (its children inherit it)" : "");
	fprintf(f, "- **captured**: exec records in the tracer's output carrying the run's "
		   "unique argv marker, against processes exec_storm actually started.\n"
		   "- **drops**: sum of sonde's `dropped` counters (stats record); peers report "
		   "none (n/a), but their \"Lost N events\" messages are counted as **lost**.\n"
		   "- **ns/exec**: BPF run time (BPF_ENABLE_STATS) of *all* the programs the tracer "
		   "loaded (exec, fork and exit hooks alike), accrued during the storm, divided by "
		   "execs started; min–max over rounds in brackets. **runs/exec**: program runs per exec.\n"
		   "- **CPU storm**: CPU time of the tracer's processes (their CPU clocks: all threads, exited ones included) "
		   "from storm start until its output stopped growing; **CPU total**: wait4 "
		   "rusage of the tracer over its whole life (start-up, attach, storm, exit).\n"
		   "- **exec wall**: exec_storm's median time from posix_spawn() until the "
		   "child was reaped, (min–max) of the per-round medians: the spread of `none` is "
		   "the noise floor; **extra**: that minus the `none` run of the same round, "
		   "median over rounds.\n\n");
	if (stats_fd < 0)
		fprintf(f, "BPF run-time statistics unavailable: %s\n\n", stats_error);
	fprintf(f, "**Calibration** — what a BPF program run costs on this machine before a "
		   "tracer does any work of its own (hand-written programs on the raw tracepoint "
		   "sched_process_exec, one storm at %ld exec/s each):\n\n", cfg.rates[top_rate_idx()]);
	fprintf(f, "| calibration program | ns per run | runs |\n|---|---|---|\n");
	for (int k = 0; k < CALIB_COUNT; k++) {
		if (isnan(calibs[k].ns))
			fprintf(f, "| %s | failed: %s | |\n", calibs[k].what, calibs[k].error);
		else
			fprintf(f, "| %s | %.0f | %ld |\n", calibs[k].what, calibs[k].ns, calibs[k].runs);
	}
	fprintf(f, "\nThe empty program is the floor under every ns/exec figure, paid once per "
		   "program run (see runs/exec); the difference between the two ring-buffer rows is "
		   "what one consumer wake-up costs inside the traced process.\n\n");
	write_record_floor(f);

	for (int ri = 0; ri < cfg.nrates; ri++) {
		fprintf(f, "## %ld exec/s\n\n", cfg.rates[ri]);
		fprintf(f, "| tracer | rounds ok | achieved exec/s | captured / expected | capture %% "
			   "(min) | drops | lost | ns/exec (min–max) | runs/exec | CPU storm ms | "
			   "CPU total ms | exec wall µs (min–max) | extra µs |\n");
		fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
		for (int ti = 0; ti < ntracers; ti++) {
			struct summary s;

			if (!tracers[ti].available) {
				fprintf(f, "| %s | unavailable: %s |||||||||||| \n", tracers[ti].name,
					tracers[ti].reason);
				continue;
			}
			summarize(ti, ri, &s);
			if (tracers[ti].fmt == FMT_NONE) {
				fprintf(f, "| none | %d/%d | %s | – | – | – | – | – | – | – | – | %s (%s–%s) | 0 |\n",
					s.ok, s.runs, lab_fmt_num(s.achieved, 0), lab_fmt_num(s.wall_med_us, 1),
					lab_fmt_num(s.ok ? s.wall_min_us : NAN, 1),
					lab_fmt_num(s.ok ? s.wall_max_us : NAN, 1));
				continue;
			}
			fprintf(f, "| %s | %d/%d | %s | %s / %s | %s (%s) | %s | %s | %s (%s–%s) | %s | %s | %s | %s (%s–%s) | %s |\n",
				tracers[ti].name, s.ok, s.runs, lab_fmt_num(s.achieved, 0),
				lab_fmt_num(s.captured, 0), lab_fmt_num(s.expected, 0), lab_fmt_num(s.capture_pct, 2),
				lab_fmt_num(s.capture_min_pct, 2), lab_fmt_num(s.drops, 0), lab_fmt_num(s.lost, 0),
				lab_fmt_num(s.ns_per_exec, 0), lab_fmt_num(s.ns_min, 0), lab_fmt_num(s.ns_max, 0),
				lab_fmt_num(s.runs_per_exec, 2), lab_fmt_num(s.cpu_storm_ms, 0),
				lab_fmt_num(s.cpu_total_ms, 0), lab_fmt_num(s.wall_med_us, 1),
				lab_fmt_num(s.ok ? s.wall_min_us : NAN, 1), lab_fmt_num(s.ok ? s.wall_max_us : NAN, 1),
				lab_fmt_num(s.extra_wall_us, 1));
		}
		fprintf(f, "\n");
	}

	fprintf(f, "## Tracers not run\n\n");
	{
		int any = 0;

		for (int ti = 0; ti < ntracers; ti++) {
			if (tracers[ti].available)
				continue;
			fprintf(f, "- **%s**: %s\n", tracers[ti].name, tracers[ti].reason);
			any = 1;
		}
		if (!any)
			fprintf(f, "Every tracer asked for was available.\n");
	}
	fprintf(f, "\n## Failed runs\n\n");
	{
		int any = 0;

		for (int i = 0; i < nruns; i++) {
			if (runs[i].ok)
				continue;
			fprintf(f, "- round %d, %ld exec/s, %s: %s\n", runs[i].round + 1,
				cfg.rates[runs[i].rate_idx], tracers[runs[i].tracer_idx].name,
				runs[i].reason);
			any = 1;
		}
		if (!any)
			fprintf(f, "No run failed.\n");
		for (int i = 0; i < nruns; i++)
			if (runs[i].ok && runs[i].failed_spawns > 0)
				fprintf(f, "- round %d, %ld exec/s, %s: %ld spawns failed (exec_storm "
					   "could not start them; see runs/%s.storm.json)\n",
					runs[i].round + 1, cfg.rates[runs[i].rate_idx],
					tracers[runs[i].tracer_idx].name, runs[i].failed_spawns,
					runs[i].label);
	}

	fprintf(f, "\n## Where the in-kernel time goes\n\n"
		   "Per BPF program of each tracer at each rate: runs per exec and ns per run, "
		   "medians over the rounds that ran (min–max of ns per run).\n\n");
	for (int ti = 0; ti < ntracers; ti++)
		for (int ri = 0; ri < cfg.nrates; ri++)
			write_prog_costs(f, ti, ri);
	{
		int checked = 0, held = 0;

		for (int i = 0; i < nruns; i++) {
			if (runs[i].invariant < 0)
				continue;
			checked++;
			held += runs[i].invariant;
		}
		fprintf(f, "\nsonde's accounting, produced == delivered + filtered + Σ dropped "
			   "(stats record): held in %d of %d runs.\n", held, checked);
		for (int i = 0; i < nruns; i++)
			if (runs[i].invariant == 0)
				fprintf(f, "- broken: round %d, %ld exec/s, %s: produced %ld, delivered "
					   "%ld, filtered %ld, dropped %ld (%s)\n",
					runs[i].round + 1, cfg.rates[runs[i].rate_idx],
					tracers[runs[i].tracer_idx].name, runs[i].produced,
					runs[i].delivered, runs[i].filtered, runs[i].drops,
					runs[i].drops_text);
	}
	fprintf(f, "\n## Targets\n\n");
	fprintf(f, "1. 100 %% of exec events captured at %d exec/s, no drops, in every round.\n",
		TARGET_CAPTURE_RATE);
	fprintf(f, "2. In-kernel cost at most %.1f µs (%.0f ns) per exec event, at every rate "
		   "(all of the tracer's programs per exec: its exit record's too; the programs "
		   "that build the exec record are also shown alone).\n\n",
		TARGET_NS_PER_EXEC / 1000, TARGET_NS_PER_EXEC);
	fprintf(f, "| implementation | worst capture %% at %d/s | lowest exec/s reached | "
		   "ns/exec (worst rate) | of which the exec record (worst rate) | target 1 | "
		   "target 2 |\n", TARGET_CAPTURE_RATE);
	fprintf(f, "|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nc; i++) {
		struct summary s;

		memset(&s, 0, sizeof(s));
		s.achieved_min = NAN;
		if (tgt >= 0)
			summarize(c[i].ti, tgt, &s);
		fprintf(f, "| %s | %s | %s | %s | %s | %s | %s |\n", tracers[c[i].ti].name,
			tgt < 0 ? "not measured" :
				  (s.ok ? lab_fmt_num(s.capture_min_pct, 2) : "no run succeeded"),
			lab_fmt_num(s.achieved_min, 0), lab_fmt_num(c[i].ns_worst, 0),
			lab_fmt_num(c[i].exec_record_worst, 0),
			tgt < 0 ? "not measured (rate not in the list)" : yes_no(c[i].capture_met),
			yes_no(c[i].ns_met));
	}
	if (!nc)
		fprintf(f, "| (no sonde implementation ran) | | | | | | |\n");
	for (int i = 0; i < nc && tgt >= 0; i++) {
		struct summary s;

		summarize(c[i].ti, tgt, &s);
		if (s.ok && s.achieved_min < ACHIEVED_OK_FRACTION * TARGET_CAPTURE_RATE)
			fprintf(f, "\nNote: under %s exec_storm reached only %.0f exec/s in its slowest "
				   "round (the tracer's cost lands on the storm's CPU); capture was checked "
				   "at the rate reached.\n", tracers[c[i].ti].name, s.achieved_min);
	}
	for (int ri = 0; ri < cfg.nrates; ri++) {
		const struct record_floor *rf = &record_floors[ri];
		double floor = rf->exec_argv_ns + rf->exit_ns;

		if (!isnan(floor) && floor > TARGET_NS_PER_EXEC)
			fprintf(f, "\nNote: at %ld exec/s the record floor alone, an exec record with "
				   "only argv and an empty exit record, costs %.0f ns per process, above "
				   "target 2: no tracer sending those two records through a ring buffer "
				   "meets it on this machine.\n", cfg.rates[ri], floor);
	}

	fprintf(f, "\n## Decision matrix\n\n");
	fprintf(f, "Order of the criteria: capture completeness (every exec delivered, no drop, "
		   "every round, every rate), then the worst capture at %ld exec/s, then in-kernel "
		   "ns/exec at %ld exec/s, then tracer CPU, then the median ns/exec. Costs are "
		   "compared round by round with the best implementation: one is *dearer* only if "
		   "it cost more in every paired round (at least %d rounds; with fewer, if its median "
		   "is more than %.0f %% above); otherwise it *ties* and the next criterion decides.\n\n",
		cfg.rates[top], cfg.rates[top], PAIRED_ROUNDS_MIN, NS_TIE_FRACTION * 100);
	fprintf(f, "| rank | implementation | complete capture | min capture %% at %ld/s | "
		   "ns/exec at %ld/s | vs cheapest, per round (min…max) | CPU storm ms at %ld/s | "
		   "extra wall µs at %ld/s | targets |\n",
		cfg.rates[top], cfg.rates[top], cfg.rates[top], cfg.rates[top]);
	fprintf(f, "|---|---|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < nc; i++) {
		char vs[96];

		if (isnan(c[i].diff_med))
			snprintf(vs, sizeof(vs), "%s", isnan(c[i].ns) ? "unknown" :
						      c[i].cheapest ? "cheapest" : "no paired round");
		else
			snprintf(vs, sizeof(vs), "%+.0f (%+.0f…%+.0f), %s", c[i].diff_med, c[i].diff_min,
				 c[i].diff_max, c[i].tier ? "dearer" : "tie");
		fprintf(f, "| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", i + 1,
			tracers[c[i].ti].name, c[i].complete ? "yes" : "no",
			lab_fmt_num(c[i].capture_min, 2), lab_fmt_num(c[i].ns, 0), vs, lab_fmt_num(c[i].cpu, 0),
			lab_fmt_num(c[i].extra_wall, 1),
			(c[i].capture_met && c[i].ns_met) ? "both met" :
			(c[i].capture_met || c[i].ns_met) ? "one missed" : "both missed");
	}
	/* Peers for scale, same columns. */
	for (int ti = 0; ti < ntracers; ti++) {
		struct summary s;

		if (tracers[ti].is_sonde || tracers[ti].fmt == FMT_NONE || !tracers[ti].available)
			continue;
		summarize(ti, top, &s);
		fprintf(f, "| peer | %s | %s | %s | %s | – | %s | %s | – |\n", tracers[ti].name,
			s.complete ? "yes" : "no", lab_fmt_num(s.capture_min_pct, 2),
			lab_fmt_num(s.ns_per_exec, 0), lab_fmt_num(s.cpu_storm_ms, 0),
			lab_fmt_num(s.extra_wall_us, 1));
	}
	fprintf(f, "\n");
	if (!nc) {
		fprintf(f, "**No recommendation**: no sonde implementation produced a result.\n");
	} else {
		const struct candidate *w = &c[0];

		fprintf(f, "**Use %s.** ", tracers[w->ti].name);
		if (w->complete)
			fprintf(f, "It delivered every exec in every round at every rate with no drop");
		else
			fprintf(f, "No implementation captured everything; it lost the least "
				   "(worst round %s %% at %ld exec/s)", lab_fmt_num(w->capture_min, 2),
				cfg.rates[top]);
		fprintf(f, ", at %s ns in the kernel per exec and %s ms of tracer CPU at %ld exec/s.",
			lab_fmt_num(w->ns, 0), lab_fmt_num(w->cpu, 0), cfg.rates[top]);
		for (int i = 1; i < nc; i++) {
			const struct candidate *o = &c[i];

			fprintf(f, " %s: ", tracers[o->ti].name);
			if (w->complete != o->complete)
				fprintf(f, "not complete (worst round %s %%).", lab_fmt_num(o->capture_min, 2));
			else if (w->capture_min != o->capture_min && !isnan(o->capture_min))
				fprintf(f, "lower capture (worst round %s %%).", lab_fmt_num(o->capture_min, 2));
			else if (isnan(o->ns))
				fprintf(f, "in-kernel cost unknown.");
			else if (o->tier)
				fprintf(f, "dearer in the kernel: %s ns/exec, at least %+.0f ns more than "
					   "the cheapest in every round (median %+.0f).", lab_fmt_num(o->ns, 0),
					o->diff_min, o->diff_med);
			else if (o->cpu_tier)
				fprintf(f, "ties in the kernel (%s ns/exec) but used more tracer CPU in "
					   "every round (%s ms, median %+.0f ms).", lab_fmt_num(o->ns, 0),
					lab_fmt_num(o->cpu, 0), o->cpu_diff_med);
			else if (o->cheapest)
				fprintf(f, "the lowest median ns/exec (%s) but not by more than the noise, "
					   "and %s ms of CPU; ranked after by %s.", lab_fmt_num(o->ns, 0),
					lab_fmt_num(o->cpu, 0),
					w->cpu_tier < o->cpu_tier ? "CPU" : "the ranking order");
			else
				fprintf(f, "ties on both in-kernel cost (%s ns/exec, per-round difference "
					   "%s…%s ns) and CPU (%s ms); ranked by median ns/exec.",
					lab_fmt_num(o->ns, 0), lab_fmt_num(o->diff_min, 0),
					lab_fmt_num(o->diff_max, 0), lab_fmt_num(o->cpu, 0));
		}
		fprintf(f, "\n\nTargets for %s: capture at %d exec/s %s; ≤ %.1f µs per exec %s.\n",
			tracers[w->ti].name, TARGET_CAPTURE_RATE,
			tgt < 0 ? "not measured" : (w->capture_met ? "met" : "NOT met"),
			TARGET_NS_PER_EXEC / 1000, w->ns_met ? "met" : "NOT met");
		if (!w->ns_met)
			write_cost_hints(f, w, top);
	}
	fclose(f);
}


static const char usage_text[] =
	"Usage: bench_exec --build DIR --out DIR [options]\n"
	"\n"
	"Benchmark process tracers under an exec storm; write DIR/results.json and\n"
	"DIR/report.md. Normally run through `make bench-exec` (scripts/bench-exec.sh).\n"
	"\n"
	"  --rates LIST        exec/s, comma-separated (default 1000,5000)\n"
	"  --duration S        seconds per storm (default 3)\n"
	"  --rounds N          rounds (default 5)\n"
	"  --tracers LIST      default none,sonde-tracepoint,sonde-raw_tracepoint,\n"
	"                      sonde-syscalls,sonde-kprobe,execsnoop,bpftrace-execsnoop\n"
	"  --storm-cpu N       pin exec_storm to CPU N, -1 for none (default -1: pinned\n"
	"                      to one CPU it may not reach 5,000 exec/s)\n"
	"  --attach-timeout S  seconds a tracer may take to attach (default 20)\n"
	"  --keep-raw          keep every tracer's output under DIR/runs\n"
	"  --strict            exit 1 when the recommended implementation misses a target\n"
	"\n"
	"EXAMPLES\n"
	"  bench_exec --build build --out bench-results/exec/now\n"
	"  bench_exec --build build --out /tmp/x --rounds 1 --tracers none,execsnoop\n";

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "build", required_argument, NULL, 'b' },
		{ "out", required_argument, NULL, 'o' },
		{ "rates", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "tracers", required_argument, NULL, 't' },
		{ "storm-cpu", required_argument, NULL, 'c' },
		{ "attach-timeout", required_argument, NULL, 'a' },
		{ "keep-raw", no_argument, NULL, 'k' },
		{ "strict", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long v;
	int c;

	cfg.rounds = DEFAULT_ROUNDS;
	cfg.duration_s = DEFAULT_DURATION_S;
	cfg.storm_cpu = DEFAULT_STORM_CPU;
	cfg.attach_timeout_s = DEFAULT_ATTACH_TIMEOUT_S;
	parse_rates("1000,5000");
	snprintf(cfg.tracer_list, sizeof(cfg.tracer_list), "%s",
		 "none,sonde-tracepoint,sonde-raw_tracepoint,sonde-syscalls,sonde-kprobe,"
		 "execsnoop,bpftrace-execsnoop");
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			snprintf(cfg.build, sizeof(cfg.build), "%s", optarg);
			break;
		case 'o':
			snprintf(cfg.out, sizeof(cfg.out), "%s", optarg);
			break;
		case 'r':
			if (parse_rates(optarg)) {
				fprintf(stderr, "bench_exec: --rates wants up to %d numbers like 1000,5000\n",
					RATES_MAX);
				return -EINVAL;
			}
			break;
		case 'd':
			if (cli_parse_seconds(optarg, &cfg.duration_s) || cfg.duration_s <= 0) {
				fprintf(stderr, "bench_exec: --duration wants seconds > 0, not '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'n':
			if (cli_parse_long(optarg, 1, ROUNDS_MAX, &v)) {
				fprintf(stderr, "bench_exec: --rounds wants 1..%d, not '%s'\n", ROUNDS_MAX, optarg);
				return -EINVAL;
			}
			cfg.rounds = (int)v;
			break;
		case 't':
			snprintf(cfg.tracer_list, sizeof(cfg.tracer_list), "%s", optarg);
			break;
		case 'c':
			if (cli_parse_long(optarg, -1, 1023, &cfg.storm_cpu)) {
				fprintf(stderr, "bench_exec: --storm-cpu wants a CPU number or -1\n");
				return -EINVAL;
			}
			break;
		case 'a':
			if (cli_parse_seconds(optarg, &cfg.attach_timeout_s) || cfg.attach_timeout_s <= 0) {
				fprintf(stderr, "bench_exec: --attach-timeout wants seconds > 0\n");
				return -EINVAL;
			}
			break;
		case 'k':
			cfg.keep_raw = true;
			break;
		case 's':
			cfg.strict = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fputs(usage_text, stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || !cfg.build[0] || !cfg.out[0]) {
		fprintf(stderr, "bench_exec: --build and --out are required; see --help\n");
		return -EINVAL;
	}
	if (cfg.storm_cpu >= sysconf(_SC_NPROCESSORS_ONLN)) {
		fprintf(stderr, "bench_exec: --storm-cpu %ld: this machine has %ld CPUs\n",
			cfg.storm_cpu, sysconf(_SC_NPROCESSORS_ONLN));
		return -EINVAL;
	}
	return 0;
}

static void fill_extra_wall(void)
{
	for (int i = 0; i < nruns; i++) {
		struct run *r = &runs[i];

		if (!r->ok)
			continue;
		for (int j = 0; j < nruns; j++) {
			const struct run *n = &runs[j];

			if (n->ok && n->round == r->round && n->rate_idx == r->rate_idx &&
			    tracers[n->tracer_idx].fmt == FMT_NONE)
				r->extra_wall_us = r->wall_med_us - n->wall_med_us;
		}
	}
}

int main(int argc, char **argv)
{
	char path[PATH_BYTES], storm[PATH_BYTES], tiny[PATH_BYTES];
	struct candidate cands[TRACERS_MAX];
	int nrun_max, nc, order[TRACERS_MAX], nactive = 0, total, done = 0;
	uint64_t t_start;

	if (parse_args(argc, argv))
		return 2;
	snprintf(storm, sizeof(storm), "%s/bench/exec_storm", cfg.build);
	snprintf(tiny, sizeof(tiny), "%s/bench/tiny_true", cfg.build);
	if (!executable(storm) || !executable(tiny)) {
		fprintf(stderr, "bench_exec: %s or %s missing; run make bench-exec\n", storm, tiny);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/runs", cfg.out);
	if (mkdir(cfg.out, 0755) && errno != EEXIST) {
		fprintf(stderr, "bench_exec: cannot create %s: %s\n", cfg.out, strerror(errno));
		return 2;
	}
	if (mkdir(path, 0755) && errno != EEXIST) {
		fprintf(stderr, "bench_exec: cannot create %s: %s\n", path, strerror(errno));
		return 2;
	}
	lab_install_cleanup(NULL);

	/* Held open for the whole benchmark: run-time statistics stay on while
	 * this fd lives, and go off again when the harness exits. */
	stats_fd = lab_bpf_stats_enable(stats_error, sizeof(stats_error));
	if (tracers_setup())
		return 2;
	lab_sysinfo_loadavg(loadavg_start, sizeof(loadavg_start));

	for (int i = 0; i < ntracers; i++)
		if (tracers[i].available)
			order[nactive++] = i;
	nrun_max = cfg.rounds * cfg.nrates * nactive;
	runs = calloc((size_t)nrun_max + 1, sizeof(*runs));
	if (!runs) {
		fprintf(stderr, "bench_exec: out of memory\n");
		return 2;
	}
	for (int i = 0; i < ntracers; i++)
		if (!tracers[i].available)
			fprintf(stderr, "bench_exec: %s not run: %s\n", tracers[i].name, tracers[i].reason);

	total = nrun_max;
	srand((unsigned)(lab_now_ns() ^ (uint64_t)getpid()));
	for (int k = 0; k < CALIB_COUNT; k++) {
		calibrate((enum calib_kind)k, top_rate_idx());
		if (isnan(calibs[k].ns))
			fprintf(stderr, "[calibration] %s: failed: %s\n", calibs[k].what, calibs[k].error);
		else
			fprintf(stderr, "[calibration] %s: %.0f ns per run (%ld runs)\n",
				calibs[k].what, calibs[k].ns, calibs[k].runs);
	}
	t_start = lab_now_ns();
	for (int round = 0; round < cfg.rounds; round++) {
		for (int ri = 0; ri < cfg.nrates; ri++) {
			record_floor_round(ri);
			for (int k = 0; k < nactive; k++) {
				/* A balanced order: each tracer runs right after
				 * each other one equally often. */
				int ti = order[lab_bench_order(nactive, round, k)];
				struct run *r = &runs[nruns++];
				double elapsed;

				r->round = round;
				r->rate_idx = ri;
				r->tracer_idx = ti;
				snprintf(r->marker, sizeof(r->marker), "sbx%08x%03d", (unsigned)rand(), nruns);
				snprintf(r->label, sizeof(r->label), "r%d-%ld-%s", round + 1, cfg.rates[ri],
					 tracers[ti].name);
				run_one(r);
				done++;
				elapsed = (double)(lab_now_ns() - t_start) / NS_PER_SEC;
				fprintf(stderr, "[round %d/%d, %3.0f s, ~%.0f s left] %5ld exec/s %-20s ",
					round + 1, cfg.rounds, elapsed,
					elapsed / done * (total - done), cfg.rates[ri], tracers[ti].name);
				if (!r->ok)
					fprintf(stderr, "FAILED: %s\n", r->reason);
				else if (tracers[ti].fmt == FMT_NONE)
					fprintf(stderr, "%ld execs, %.0f/s, wall %.1f us\n", r->spawned,
						r->achieved_rate, r->wall_med_us);
				else
					fprintf(stderr, "%ld/%ld captured, drops %s, %s ns/exec, cpu %.0f ms\n",
						r->captured, r->spawned,
						r->drops < 0 ? "n/a" : lab_fmt_num((double)r->drops, 0),
						lab_fmt_num(r->ns_per_exec, 0), r->cpu_storm_ms);
			}
		}
	}
	for (int ri = 0; ri < cfg.nrates; ri++) {
		struct record_floor *rf = &record_floors[ri];

		rf->exec_ns = lab_median(rf->exec_r, rf->rounds);
		rf->exec_argv_ns = lab_median(rf->exec_argv_r, rf->rounds);
		rf->exit_ns = lab_median(rf->exit_r, rf->rounds);
	}
	lab_sysinfo_loadavg(loadavg_end, sizeof(loadavg_end));
	fill_extra_wall();
	nc = build_candidates(cands);
	snprintf(path, sizeof(path), "%s/results.json", cfg.out);
	write_results_json(path, cands, nc);
	snprintf(path, sizeof(path), "%s/report.md", cfg.out);
	write_report(path, cands, nc);
	if (stats_fd >= 0)
		close(stats_fd);
	if (cfg.strict && (!nc || !cands[0].capture_met || !cands[0].ns_met))
		return 1;
	return 0;
}
