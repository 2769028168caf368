/* `sonde bench`: the overhead lab. A plan (target, scenarios, tracers,
 * rounds) is run as interleaved rounds; every run of a tracer on a scenario
 * yields one row of metrics; the report side turns the rows into medians,
 * differences against the baseline tracer with their 95 % intervals, a grade,
 * threshold checks and the files of the results directory.
 *
 * Runner (bench_run.c): lab_bench_run fills lab_bench_result.runs.
 * Report (bench_report.c): lab_bench_summarize, lab_bench_write_*. */
#ifndef SONDE_LAB_BENCH_H
#define SONDE_LAB_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lab/compare.h"
#include "lab/http_server.h"
#include "lab/nginx.h"
#include "lab/thresholds.h"
#include "lab/url.h"

#define LAB_BENCH_SCHEMA "sonde-bench/1"
#define LAB_BENCH_SCENARIOS_MAX 16
#define LAB_BENCH_TRACERS_MAX 8
#define LAB_BENCH_ROUNDS_MAX 100
#define LAB_BENCH_NAME_BYTES 32
#define LAB_BENCH_CMD_BYTES 1024
#define LAB_BENCH_PATH_BYTES 512
#define LAB_BENCH_ERROR_BYTES 256
/* Sweep points, as fractions of the baseline's saturation rate. */
#define LAB_BENCH_SWEEP_POINTS 6

enum lab_target_kind {
	LAB_TARGET_BUILTIN, /* the built-in server (lab/http_server.h) */
	LAB_TARGET_NGINX,   /* nginx started by the lab (lab/nginx.h) */
	LAB_TARGET_URL,     /* a server already running (lab/url.h) */
};

enum lab_tracer_kind {
	LAB_TRACER_NONE,      /* no tracer: the baseline */
	LAB_TRACER_SONDE,     /* `sonde http --json` of this very binary */
	LAB_TRACER_COMMAND,   /* any command, run with /bin/sh -c */
	LAB_TRACER_CALIBRATE, /* no tracer, the built-in server burns calibrate_ns more per request */
};

struct lab_bench_scenario {
	char name[LAB_BENCH_NAME_BYTES];
	double rate;     /* requests/s, open loop; 0: closed loop (as fast as it goes) */
	uint32_t conns;
	double sweep_frac; /* sweep points: fraction of the saturation rate; 0 otherwise */
};

struct lab_bench_tracer {
	char name[LAB_BENCH_NAME_BYTES];
	enum lab_tracer_kind kind;
	char cmd[LAB_BENCH_CMD_BYTES]; /* COMMAND: the shell command; SONDE: the command line shown */
};

struct lab_bench_config {
	enum lab_target_kind target;
	struct lab_url url;       /* LAB_TARGET_URL */
	uint16_t port;            /* built-in server / nginx port; 0: any free one */
	uint32_t body_bytes;      /* built-in server / nginx response body */
	uint64_t work_ns;         /* built-in server: CPU burned per request */
	bool new_conn;            /* a new connection per request */
	bool pin;                 /* server on CPU 0, load generator on CPU 1 (>= 2 CPUs) */

	struct lab_bench_scenario scenarios[LAB_BENCH_SCENARIOS_MAX];
	int nscenarios;
	bool sweep;               /* scenarios[] gets the sweep points once saturation is known */

	struct lab_bench_tracer tracers[LAB_BENCH_TRACERS_MAX];
	int ntracers;             /* tracers[0] is the baseline ("none") */

	int rounds;
	double duration_s;        /* load per scenario run */
	double warmup_s;          /* load before the first scenario of every tracer session */
	double attach_timeout_s;
	bool quick;

	uint64_t calibrate_ns;    /* > 0: a CALIBRATE tracer is in tracers[] */
	bool aa;                  /* A/A: tracers[1] is a second "none" */

	char out_dir[LAB_BENCH_PATH_BYTES];
	char sonde_exe[LAB_BENCH_PATH_BYTES]; /* this binary, for the sonde tracer */
	bool json;                /* results.json on stdout instead of the summary */
	bool progress;            /* a status line on stderr (a terminal, not --json) */
	bool keep_raw;            /* keep the tracers' output files */

	struct lab_thresholds thresholds;
	char baseline_path[LAB_BENCH_PATH_BYTES]; /* "" : none */
};

/* Per-run metrics. NaN: not measured (e.g. tracer CPU of "none"). */
enum lab_metric {
	LAB_M_RPS,              /* completed requests / load seconds */
	LAB_M_P50_MS,
	LAB_M_P90_MS,
	LAB_M_P99_MS,
	LAB_M_P999_MS,
	LAB_M_MAX_MS,
	LAB_M_ERRORS,           /* connect + timeout + status + io errors + unsent */
	LAB_M_REQUESTS,         /* ground truth: answered by the server (or completed, --url) */
	LAB_M_SERVER_CPU_US,    /* server CPU per request, us (in-kernel BPF time included) */
	LAB_M_TRACER_CPU_PCT,   /* tracer process tree CPU, % of one CPU */
	LAB_M_TRACER_CPU_US,    /* tracer CPU per request, us */
	LAB_M_BPF_NS,           /* in-kernel BPF run time per request, ns */
	LAB_M_BPF_CPU_PCT,      /* in-kernel BPF run time, % of one CPU */
	LAB_M_RSS_MB,           /* tracer peak RSS (VmHWM) so far, MB */
	LAB_M_FDS,              /* tracer open fds at the end of the run */
	LAB_M_CTXSW,            /* tracer context switches during the run */
	LAB_M_EVENTS,           /* records the tracer produced for the target's requests */
	LAB_M_EVENTS_PER_S,
	LAB_M_CAPTURE_PCT,      /* events / requests * 100 */
	LAB_M_DROPS,            /* events the tracer counted as dropped (sonde) or lost (peers) */
	LAB_M_COUNT
};

struct lab_metric_info {
	const char *key;    /* results.json key */
	const char *label;  /* human label with unit */
	int prec;           /* decimals shown */
	int worse;          /* +1: higher is worse, -1: lower is worse, 0: neither */
	struct lab_floor floor; /* minimum noise floor of its differences */
};
extern const struct lab_metric_info lab_metrics[LAB_M_COUNT];

struct lab_bench_run {
	int scenario, tracer, round;
	bool ok;
	char error[LAB_BENCH_ERROR_BYTES];
	double m[LAB_M_COUNT];
	/* load generator counters */
	uint64_t scheduled, issued, completed, unsent;
	double elapsed_s;
	/* completed requests per second of the load, owned (NULL when none) */
	uint32_t *per_sec;
	uint32_t per_sec_len;
};

/* One tracer on one scenario over every round. */
struct lab_bench_cell {
	double median[LAB_M_COUNT];
	struct lab_diff vs_base[LAB_M_COUNT]; /* against tracers[0] on the same scenario */
	int ok_rounds;
};

enum lab_grade { LAB_GRADE_NONE, LAB_GRADE_A_PLUS, LAB_GRADE_A, LAB_GRADE_B, LAB_GRADE_C, LAB_GRADE_D };

struct lab_bench_grade {
	enum lab_grade grade;      /* NONE for the baseline */
	enum lab_grade by[4];      /* throughput loss, p99 added, CPU, capture */
	double loss_pct, p99_added_ms, cpu_pct, capture_pct; /* worst over scenarios (NaN unknown) */
	long drops;
};

struct lab_bench_calibration {
	bool done;
	double expected_us;            /* calibrate_ns / 1000 */
	double measured_us[LAB_BENCH_SCENARIOS_MAX]; /* Δ server CPU per request */
	double error_pct[LAB_BENCH_SCENARIOS_MAX];
	bool pass;                     /* every scenario within LAB_BENCH_CALIBRATE_TOLERANCE_PCT */
};
#define LAB_BENCH_CALIBRATE_TOLERANCE_PCT 10.0

struct lab_bench_regression {
	int scenario, tracer, metric;
	struct lab_diff diff;          /* old (a) vs new (b) */
};
#define LAB_BENCH_REGRESSIONS_MAX 256

struct lab_bench_result {
	const struct lab_bench_config *cfg;
	char started[32];              /* ISO 8601, UTC */
	double wall_s;
	double saturation_rps;         /* sweep: the baseline's closed-loop rate; NaN otherwise */
	char error[LAB_BENCH_ERROR_BYTES]; /* a fatal error of the runner, "" if none */

	struct lab_bench_run *runs;    /* nruns, owned */
	int nruns;

	/* lab_bench_summarize */
	struct lab_bench_cell cells[LAB_BENCH_SCENARIOS_MAX][LAB_BENCH_TRACERS_MAX];
	struct lab_bench_grade grades[LAB_BENCH_TRACERS_MAX];
	struct lab_bench_calibration calibration;
	struct lab_threshold_result checks[LAB_BENCH_TRACERS_MAX][LAB_THRESHOLDS_N];
	int checks_failed;
	/* A/A: differences called between the two baselines (must be 0), over
	 * aa_comparisons, each at aa_confidence (Bonferroni: 1 - 0.05 / m) */
	int aa_differences;
	int aa_comparisons;
	double aa_confidence;
	char recommendations[16][256];
	int nrecommendations;
	bool baseline_loaded;
	int baseline_comparisons;      /* (scenario, tracer, metric) compared with the baseline file */
	struct lab_bench_regression regressions[LAB_BENCH_REGRESSIONS_MAX];
	int nregressions;
};

/* --- the target (bench_run.c), shared with `sonde stress` ------------- */
struct lab_target_opts {
	enum lab_target_kind kind;
	const struct lab_url *url; /* LAB_TARGET_URL */
	uint16_t port;             /* built-in server / nginx; 0: any free one */
	uint32_t body_bytes;
	uint64_t work_ns;          /* built-in server only */
	bool pin;                  /* server (nginx worker) on CPU 0 */
};

struct lab_target {
	enum lab_target_kind kind;
	struct lab_server srv;     /* LAB_TARGET_BUILTIN */
	struct lab_nginx nginx;    /* LAB_TARGET_NGINX */
	const char *host;          /* what the load generator connects to */
	uint16_t port;
	const char *path;
	pid_t cpu_pid;   /* process (group, nginx) whose CPU is the server's; 0: unknown */
	bool cpu_is_pgrp;
};

/* Start the target (a URL is checked to answer HTTP). 0, or a negative errno
 * with a one-line reason in err; nothing is left running on error. */
int lab_target_start(struct lab_target *tg, const struct lab_target_opts *o, char *err,
		     size_t len);
void lab_target_stop(struct lab_target *tg);
/* 2xx requests the server answered so far (the built-in server's counter,
 * nginx's access log); -1 when it cannot tell (a URL). */
long lab_target_requests(const struct lab_target *tg);

/* The time now as ISO 8601 in UTC ("2026-01-02T03:04:05Z"). */
void lab_iso_now(char *buf, size_t len);

/* --- runner (bench_run.c) ---------------------------------------------- */
/* Run the plan; runs[] gets one row per (round, tracer, scenario). With
 * cfg->sweep the sweep points are appended to cfg->scenarios once the
 * baseline's saturation rate is measured. Returns 0, or a negative errno with
 * res->error filled when the lab cannot run at all (target will not start, a
 * tracer never attaches, ...). Every process it started is stopped before it
 * returns. */
int lab_bench_run(struct lab_bench_config *cfg, struct lab_bench_result *res);
/* Which tracer runs k-th in round `round` (0-based) of n: a Williams
 * design, so that over n rounds (2n for an odd n) each tracer comes right
 * after each other one equally often. A plain rotation keeps the cyclic
 * order: the same tracer always follows the same one, and whatever a
 * session leaves behind (a tracer's teardown, the calibration's burnt CPU)
 * always falls on the same next one: a bias, not noise. */
int lab_bench_order(int n, int round, int k);
/* Index of run (round, tracer, scenario) in res->runs. */
static inline int lab_bench_run_index(const struct lab_bench_config *cfg, int round, int tracer,
				      int scenario)
{
	return (round * cfg->ntracers + tracer) * cfg->nscenarios + scenario;
}
void lab_bench_result_free(struct lab_bench_result *res);

/* --- report (bench_report.c) ------------------------------------------- */
/* Medians, differences, calibration, A/A, grades, thresholds,
 * recommendations; with a baseline file, regressions (-errno and err on an
 * unreadable baseline). */
int lab_bench_summarize(struct lab_bench_result *res, char *err, size_t len);
/* Is path a readable results.json of this schema, fit for --baseline? 0, or
 * -errno with the same one-line err lab_bench_summarize would give. For the
 * CLI, to refuse a bad file before the benchmark runs. */
int lab_bench_baseline_check(const char *path, char *err, size_t len);
/* results.json, summary.txt, report.md and the SVG charts into cfg->out_dir
 * (system_info.txt is written by the runner). 0 or -errno with err. */
int lab_bench_write_all(const struct lab_bench_result *res, char *err, size_t len);
int lab_bench_write_json(const struct lab_bench_result *res, FILE *f);
void lab_bench_write_summary(const struct lab_bench_result *res, FILE *f);
const char *lab_grade_name(enum lab_grade g);
/* 0: every check passed (thresholds, calibration, A/A); 1 otherwise. */
int lab_bench_exit_code(const struct lab_bench_result *res);

#endif
