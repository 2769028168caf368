/* `sonde stress`: where a tracer breaks, what it loses when it does and how
 * fast it comes back. A plan of phases (ramp-up, sustain, chaos, memory
 * pressure, ramp-down) runs against one of the lab's targets while the tracer
 * under test runs; faults are injected during chaos; the lab samples the
 * ground truth (requests answered), what the tracer captured, its drops, CPU
 * and RSS twice a second, and turns that into failure points, recovery times,
 * a leak verdict, a resilience score and a rating.
 *
 * Runner (stress_run.c): lab_stress_run. Computations (stress_calc.c): pure
 * functions the report and the unit tests use. Report (stress_report.c):
 * results.json, report.md, summary.txt, SVG charts. */
#ifndef SONDE_LAB_STRESS_H
#define SONDE_LAB_STRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lab/bench.h"
#include "lab/histogram.h"
#include "lab/thresholds.h"

#define LAB_STRESS_SCHEMA "sonde-stress/1"
#define LAB_STRESS_STEPS_MAX 64
/* Ramp-up steps at most (the other phases take up to 12 steps). */
#define LAB_STRESS_RAMP_STEPS_MAX 40
#define LAB_STRESS_REASONS_MAX 16
#define LAB_STRESS_REASON_NAME_BYTES 32
#define LAB_STRESS_IDS_MAX 64
#define LAB_STRESS_DETAIL_BYTES 320
#define LAB_STRESS_SONDE_ARGS_MAX 16
/* A window counts as full capture at this percentage of the requests the
 * target answered in it: a record of a request answered in a window's last
 * milliseconds may only show up in the next one (the tracer's flush), so
 * exactly 100 % per half-second window would call lag a loss. Whole steps
 * (drained before counting) are judged at exactly 100 %. */
#define LAB_STRESS_WINDOW_OK_PCT 99.0
/* Recovery: the good windows needed in a row. */
#define LAB_STRESS_RECOVERY_WINDOWS 2
/* Leak verdict on the RSS slope during sustain, MB per minute. */
#define LAB_STRESS_LEAK_NONE_MB_MIN 1.0
#define LAB_STRESS_LEAK_SUSPECT_MB_MIN 5.0
/* Recovery points of the score: full up to this, none from the second. */
#define LAB_STRESS_RECOVERY_FULL_S 1.0
#define LAB_STRESS_RECOVERY_ZERO_S 30.0

enum lab_stress_phase {
	LAB_STRESS_RAMP_UP,
	LAB_STRESS_SUSTAIN,
	LAB_STRESS_CHAOS,
	LAB_STRESS_MEMORY,
	LAB_STRESS_RAMP_DOWN,
	LAB_STRESS_PHASES
};

enum lab_stress_fault {
	LAB_STRESS_F_STALL,   /* SIGSTOP the tracer, then SIGCONT */
	LAB_STRESS_F_KILL,    /* SIGKILL and restart; nothing of it may stay attached */
	LAB_STRESS_F_CPU,     /* a busy process per CPU */
	LAB_STRESS_F_CHURN,   /* a new connection per request */
	LAB_STRESS_F_SLOW,    /* clients sending their request a byte at a time */
	LAB_STRESS_F_VANISH,  /* clients that close (RST) mid-request */
	LAB_STRESS_F_HOSTILE, /* malformed HTTP, binary garbage, endless headers, pipelined bursts */
	LAB_STRESS_F_MEMORY,  /* the tracer restarted in a memory cgroup with a low limit (memory phase) */
	LAB_STRESS_FAULTS
};

const char *lab_stress_phase_name(int phase);
const char *lab_stress_fault_name(int fault);
/* Index of a phase / fault name, or -1. */
int lab_stress_phase_parse(const char *name);
int lab_stress_fault_parse(const char *name);

struct lab_stress_config {
	struct lab_target_opts target;
	struct lab_url url;
	struct lab_bench_tracer tracer;   /* SONDE or COMMAND */
	char sonde_args[256];             /* more options of `sonde http --json`, space-separated */
	char sonde_exe[LAB_BENCH_PATH_BYTES];
	char out_dir[LAB_BENCH_PATH_BYTES];

	bool phases[LAB_STRESS_PHASES];
	bool faults[LAB_STRESS_FAULTS];   /* chaos faults (MEMORY: the memory phase) */
	double start_rate;    /* first ramp-up step, req/s */
	double target_rate;   /* ramp-up stops here; sustain, chaos and memory run at
			       * min(target, the last clean ramp rate) */
	double step_factor;   /* ramp-up: next rate = rate * factor */
	uint32_t conns;
	double step_s;        /* load per ramp step */
	double sustain_s;
	double fault_s;       /* how long each fault lasts */
	double observe_s;     /* load after a fault's end: recovery must happen within */
	double memory_s;      /* load with the tracer under the memory limit */
	double memcg_mb;      /* that limit */
	double slo_p99_ms;    /* latency SLO of a ramp step; NaN: none */
	double attach_timeout_s;
	double min_score;     /* exit 1 below it; NaN: off */
	bool quick;
	bool keep_raw;        /* keep the tracer's output files under out_dir/raw */
	bool json;
	bool progress;
	struct lab_thresholds thresholds;
};

/* Fill every field with the defaults (full run, or --quick). */
void lab_stress_config_default(struct lab_stress_config *cfg, bool quick);

/* One sample of the timeline, every LAB_STRESS_SAMPLE_MS. Cumulative counts
 * since the start; NaN where not known. */
#define LAB_STRESS_SAMPLE_MS 500
struct lab_stress_sample {
	double t_s;        /* since the start of the run */
	int phase;
	double requests;   /* ground truth so far */
	double events;     /* records captured so far (every instance of the tracer) */
	/* records of requests that started by t_s, counted once the run is over
	 * (by the record's ts_ns): free of the tracer's output lag. Command
	 * tracers: = events */
	double events_by_time;
	/* events the tracer counted as dropped so far: sonde's counters as of
	 * about the previous sample (asked for with SIGUSR1 at each sample) */
	double drops;
	double rss_mb;     /* tracer's resident set now (VmRSS of its group), MB */
	double cpu_pct;    /* tracer's CPU since the previous sample, % of one CPU */
	bool tracer_up;
};

/* A stretch of constant offered load: a ramp step, the sustain, a fault
 * (with its observation after), the memory phase, a ramp-down step. */
struct lab_stress_step {
	int phase;
	int fault;             /* -1 when none */
	char label[48];
	double t_start_s, t_end_s;
	double offered_rps, achieved_rps;
	double p50_ms, p99_ms; /* of the load generator's requests */
	uint64_t sent, completed, errors;
	double requests, events, capture_pct, drops;
	double partial;        /* sonde: records of the target's requests delivered incomplete or
				* without a status (not captures, not drops either) */
	double cpu_pct_mean, rss_mb_max;
	bool ok;               /* capture 100 %, no drop, SLO held, no load error */
	char why[96];          /* what broke when !ok */
};

struct lab_stress_reason {
	char name[LAB_STRESS_REASON_NAME_BYTES];
	double n;
};

struct lab_stress_phase_result {
	bool ran;
	double offered_rps, achieved_rps, p50_ms, p99_ms;
	uint64_t sent, completed, errors;
	double requests, events, capture_pct, drops, partial;
	struct lab_stress_reason reasons[LAB_STRESS_REASONS_MAX]; /* drops per reason */
	int nreasons;
	double cpu_pct_mean, cpu_pct_max, rss_mb_max;
	struct lab_hist hist;  /* latency of every completed request of the phase */
};

struct lab_stress_fault_result {
	bool ran;
	double start_s, end_s;  /* the fault itself, on the run's clock */
	double recovery_s;      /* end of the fault to capture back and drops stopped; NaN: never */
	double requests, events, drops, partial; /* from the fault's start to the end of observation */
	double observed_until_s;
	bool invariant;         /* sonde: produced == delivered + filtered + Σ dropped afterwards */
	bool check_ok;          /* the fault's own check (see detail) */
	char detail[LAB_STRESS_DETAIL_BYTES];
	/* kill: what the killed instance held, and what was still there after */
	uint32_t prog_ids[LAB_STRESS_IDS_MAX], link_ids[LAB_STRESS_IDS_MAX];
	int nprogs, nlinks, progs_left, links_left;
	double gone_s;          /* SIGKILL to the last of them gone */
	/* memory: how the tracer fared */
	char outcome[24];       /* "unaffected", "degraded", "exited" */
	double limited_from_s;  /* the instance under the limit attached */
	double limited_capture_pct; /* its capture while limited (by request time) */
	double memcg_limit_mb, memcg_peak_mb, memcg_events; /* failcnt/max events */
	double oom_kills;
};

enum lab_stress_leak { LAB_STRESS_LEAK_UNKNOWN, LAB_STRESS_LEAK_NONE, LAB_STRESS_LEAK_SUSPECT,
		       LAB_STRESS_LEAK_YES };
enum lab_stress_rating { LAB_STRESS_POOR, LAB_STRESS_FAIR, LAB_STRESS_GOOD,
			 LAB_STRESS_EXCELLENT };

struct lab_stress_score_parts {
	double capture, recovery, headroom, leak, integrity; /* points, see lab_stress_score */
	double total;
};

struct lab_stress_result {
	const struct lab_stress_config *cfg;
	char started[32];
	double wall_s;
	char error[LAB_BENCH_ERROR_BYTES]; /* fatal error of the runner, "" if none */

	struct lab_stress_sample *samples; /* owned */
	int nsamples, samples_cap;
	struct lab_stress_step steps[LAB_STRESS_STEPS_MAX];
	int nsteps;
	struct lab_stress_phase_result phases[LAB_STRESS_PHASES];
	struct lab_stress_fault_result faults[LAB_STRESS_FAULTS];

	/* ramp-up */
	double failure_rps;      /* lowest offered rate of a step that broke; NaN: none */
	char failure_why[96];
	double clean_rps;        /* highest offered rate of a clean step; NaN: none */
	double work_rps;         /* rate of sustain, chaos and memory */

	/* output integrity, over every instance of the tracer */
	int instances;           /* tracer starts (restarts included) */
	int unexpected_exits;    /* the tracer exited on its own (the memory fault aside) */
	char exit_reason[200];   /* the first such exit */
	long lines, bad_lines;
	long stats_records;      /* closing stats records read (a killed instance has none) */
	long stats_bad;          /* ... of which did not balance */
	bool truncated_tail;     /* a killed instance's last line was cut */
	char first_bad[160];

	double rss_slope_mb_min; /* NaN: not measured */
	enum lab_stress_leak leak;
	struct lab_stress_score_parts score;
	enum lab_stress_rating rating;
	struct lab_threshold_result checks[LAB_THRESHOLDS_N];
	int checks_failed;
	int hard_failures;       /* fault checks, invariant, corrupt output */
};

/* --- computations (stress_calc.c) --------------------------------------- */
/* Least-squares slope of y over x (NaN values left out); NaN with fewer than
 * 3 points or no spread of x. */
double lab_stress_slope(const double *x, const double *y, int n);
/* RSS slope in MB/min over the samples of phase, leaving out its first
 * skip_frac of time (allocations of a warm-up are not a leak). */
double lab_stress_rss_slope(const struct lab_stress_sample *s, int n, int phase,
			    double skip_frac);
enum lab_stress_leak lab_stress_leak_verdict(double slope_mb_min);
const char *lab_stress_leak_name(enum lab_stress_leak l);
/* Seconds from fault_end_s to the start of the first run of
 * LAB_STRESS_RECOVERY_WINDOWS sample windows (window i is (s[i-1], s[i]])
 * starting at or after fault_end_s in which the tracer is up, capture
 * (events_by_time against requests) is at least ok_pct of the requests answered (a window with no request, or no
 * ground truth per window (a URL), is judged on drops alone) and drops do
 * not grow; NaN if there is none before until_s. */
double lab_stress_recovery_s(const struct lab_stress_sample *s, int n, double fault_end_s,
			     double until_s, double ok_pct);
/* Points for one fault's recovery, 0..1: 1 up to LAB_STRESS_RECOVERY_FULL_S,
 * falling linearly to 0 at LAB_STRESS_RECOVERY_ZERO_S; 0 for NaN. */
double lab_stress_recovery_points(double recovery_s);
/* The score, 0..100, from the result's figures (see docs/stress.md):
 *   capture   30 x min(1, sustain capture / 100) x (sustain drops ? 0.5 : 1)
 *   recovery  30 x mean over faults run of recovery points (0 if its check failed)
 *   headroom  20 x min(1, clean rate / target rate)
 *   leak      10 none, 5 suspect or unknown, 0 leak
 *   integrity 10 if every line parsed and every stats record balanced, else 0
 * A phase that did not run gives its full points to no one: its weight is
 * left out and the total is scaled back to 100. */
void lab_stress_score(const struct lab_stress_result *r, struct lab_stress_score_parts *p);
/* excellent >= 90, good >= 75, fair >= 50, else poor. */
enum lab_stress_rating lab_stress_rating_of(double score);
const char *lab_stress_rating_name(enum lab_stress_rating r);
/* Does a step pass: capture exactly 100 %, no drop, p99 within the SLO (NaN:
 * none), no error of the load? why gets the first reason when not. */
bool lab_stress_step_judge(struct lab_stress_step *st, double slo_p99_ms);
/* Sum phase figures from its steps (capture, drops, CPU, RSS); latencies
 * come from the merged histogram. */
void lab_stress_summarize(struct lab_stress_result *r);

/* --- runner (stress_run.c) ---------------------------------------------- */
/* Run the plan. 0, or a negative errno with r->error filled when the lab
 * cannot run at all (target will not start, tracer never attaches). Every
 * process and cgroup it made is gone when it returns. */
int lab_stress_run(struct lab_stress_config *cfg, struct lab_stress_result *r);
void lab_stress_result_free(struct lab_stress_result *r);

/* --- report (stress_report.c) ------------------------------------------- */
int lab_stress_write_all(const struct lab_stress_result *r, char *err, size_t len);
int lab_stress_write_json(const struct lab_stress_result *r, FILE *f);
void lab_stress_write_summary(const struct lab_stress_result *r, FILE *f);
/* 0 when every limit held and no check failed, 1 otherwise. */
int lab_stress_exit_code(const struct lab_stress_result *r);

#endif
