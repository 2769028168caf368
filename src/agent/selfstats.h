/* The agent's account of itself: a snapshot of its tracers' counters, its
 * BPF programs' run time, its CPU and memory, taken once a second by the
 * tracing thread, and rendered for /metrics (sonde_* and process_*) and
 * /health. The endpoints only read a snapshot, so a flood of scrapes never
 * touches the tracers or their maps. */
#ifndef SONDE_AGENT_SELFSTATS_H
#define SONDE_AGENT_SELFSTATS_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/procinfo.h"
#include "agent/series.h"
#include "agent/strbuf.h"
#include "stats.h"

#define AGENT_PROGS_MAX 64
#define AGENT_PROG_NAME_BYTES 17
/* Drops in the last minute: one total per second, a ring of this many. */
#define AGENT_DROP_WINDOW_S 60

enum agent_tracer_id {
	AGENT_TRACER_HTTP = 0,
	AGENT_TRACER_EXEC = 1,
	AGENT_TRACER_COUNT
};

struct agent_tracer_snap {
	bool enabled;           /* asked for by the config */
	bool attached;          /* open and attached */
	uint64_t delivered;     /* records handed to the agent */
	uint64_t kernel[STAT_COUNT];
	uint64_t decode_errors; /* records that failed to decode */
};

struct agent_prog_time {
	char name[AGENT_PROG_NAME_BYTES];
	uint64_t run_time_ns;
	uint64_t run_cnt;
};

struct agent_snapshot {
	struct agent_tracer_snap tracer[AGENT_TRACER_COUNT];
	uint64_t drops_last_minute;
	struct agent_prog_time progs[AGENT_PROGS_MAX];
	int n_progs;
	bool bpf_stats;         /* BPF_ENABLE_STATS is on: run times are real */
	double cpu_seconds;     /* user + system of this process */
	uint64_t rss_bytes;
	double start_time_s;    /* process start, Unix seconds */
	struct series_stats series;
	struct proc_cache_stats procs;
	uint64_t records_incomplete; /* http exchanges without their end */
	uint64_t io_uring_processes; /* traced processes seen using io_uring */
	/* the budget (agent/budget.h): its step and what it measured */
	struct {
		bool enforced;
		int level;                 /* 0..BUDGET_LEVEL_MAX */
		const char *state;         /* "normal", "sampling", "reduced_capture" */
		uint32_t keep_one_in;      /* 1: every connection */
		uint32_t capture_cap;      /* bytes; 0: no cap */
		double cpu_pct;            /* last second, % of one core (process + BPF) */
		double cpu_budget_pct;
		uint64_t memory_budget_bytes; /* 0: none */
		uint64_t steps_up, steps_down;
		bool bpf_counted;          /* BPF run time is in cpu_pct (bpf_stats on) */
	} budget;
	/* OTLP push (all 0 when off) */
	bool otlp_on;
	uint64_t otlp_spans_sent, otlp_spans_dropped_queue_full, otlp_spans_dropped_export;
	uint64_t otlp_exports_failed, otlp_retries;
};

/* Per-second drop totals, for drops_last_minute. */
struct agent_drop_window {
	uint64_t totals[AGENT_DROP_WINDOW_S + 1];
	uint32_t n;             /* seconds recorded */
};

const char *agent_tracer_name(enum agent_tracer_id id);
/* Drops of one tracer: the kernel's drop reasons and the decode errors. */
uint64_t agent_tracer_dropped(const struct agent_tracer_snap *t);
/* Requests the budget's sampling left out, both sides. */
uint64_t agent_sampled_out(const struct agent_snapshot *s);
/* Record this second's drop total; the difference over the last minute. */
uint64_t agent_drop_window_push(struct agent_drop_window *w, uint64_t total);

/* CPU and RSS of this process, and the run time of every BPF program it
 * holds a file descriptor of (from /proc/self/fd), summed per program name.
 * 0 or a negative errno (what could be read is filled in). */
int agent_snapshot_read_process(struct agent_snapshot *s);

/* The sonde_* and process_* families, with HELP and TYPE. */
int agent_metrics_self(struct strbuf *b, const struct agent_snapshot *s);
/* /health: {"status":"ok"|"degraded","tracers":{"http":"attached",...},
 * "drops_last_minute":N,"budget":{"state":..,"enforced":..,"level":..,
 * "keep_one_in":..,"capture_cap":..,"cpu_pct":..,"cpu_budget_pct":..,
 * "rss_bytes":..,"memory_budget_bytes":..,"sampled_out_requests":..},...};
 * *http_status 200, or 503 when an enabled tracer is not attached (a
 * budget step is not a failure: still 200). */
int agent_health_json(struct strbuf *b, const struct agent_snapshot *s, int *http_status);

#endif
