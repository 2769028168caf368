/* The agent's self-imposed budget: a controller fed once a second with the
 * agent's CPU (its process plus its BPF programs) and resident memory, that
 * degrades tracing in documented steps when over budget and recovers when
 * load falls, with hysteresis so that it does not flap. Pure: it decides
 * the step; the caller applies it (http_tracer_set_sampling/_capture_cap).
 * The step table is in docs/agent.md. */
#ifndef SONDE_AGENT_BUDGET_H
#define SONDE_AGENT_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#define BUDGET_CPU_PCT_DEFAULT 5.0      /* % of one core */
#define BUDGET_MEMORY_MB_DEFAULT 256u   /* resident memory; 0: no memory budget */
#define BUDGET_UP_AFTER_S_DEFAULT 3u    /* seconds over budget before a step up */
#define BUDGET_DOWN_AFTER_S_DEFAULT 10u /* seconds under the recover line before a step down */
/* Recover line: a step down needs load under this fraction of the budget,
 * so that the load a step saves does not at once push it back up. */
#define BUDGET_RECOVER_RATIO 0.7
/* Steps: 0 normal; 1..4 keep 1 in 2, 4, 8, 16 new connections; 5 and 6
 * also cap the bytes copied per segment at 256, then 128. */
#define BUDGET_LEVEL_MAX 6
#define BUDGET_SAMPLING_LEVELS 4
#define BUDGET_CAP_LEVEL1_BYTES 256u
#define BUDGET_CAP_LEVEL2_BYTES 128u

enum budget_state {
	BUDGET_NORMAL = 0,          /* everything traced */
	BUDGET_SAMPLING,            /* 1 in N new connections traced */
	BUDGET_REDUCED_CAPTURE,     /* sampling at its bound, fewer bytes copied */
	BUDGET_STATE_COUNT
};

struct budget_opts {
	double cpu_pct;             /* % of one core (user+sys+BPF) */
	uint32_t memory_mb;         /* 0: no memory budget */
	uint32_t up_after_s;        /* consecutive seconds over budget per step up */
	uint32_t down_after_s;      /* consecutive seconds under the recover line per step down */
	bool enforced;              /* false: measure and show, never step */
};

struct budget {
	struct budget_opts o;
	int level;                  /* 0..BUDGET_LEVEL_MAX */
	uint32_t over_s, under_s;   /* consecutive measurements over / under */
	uint64_t steps_up, steps_down;
	double cpu_pct;             /* last measurement, % of one core */
	uint64_t rss_bytes;         /* last measurement */
	bool measured;              /* cpu_pct is a real measurement */
	/* previous sample, for the rate */
	bool have_prev;
	double prev_cpu_s;
	uint64_t prev_ns;
};

void budget_init(struct budget *b, const struct budget_opts *o);
/* One measurement: cpu_s is the cumulative CPU seconds (process + BPF),
 * rss_bytes the resident memory, now_ns a monotonic clock. The first call
 * only records the start. Returns true when the step changed (the caller
 * applies the new knobs). */
bool budget_update(struct budget *b, double cpu_s, uint64_t rss_bytes, uint64_t now_ns);
/* The same with the CPU already as a rate (% of one core): the unit tests'
 * way in. */
bool budget_feed(struct budget *b, double cpu_pct, uint64_t rss_bytes);
/* The knobs of the current step: keep 1 in N (1: all), capture cap in
 * bytes (0: none). */
uint32_t budget_keep_one_in(const struct budget *b);
uint32_t budget_capture_cap(const struct budget *b);
enum budget_state budget_state_of(const struct budget *b);
const char *budget_state_name(enum budget_state s);

#endif
