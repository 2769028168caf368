/* Pass/fail limits of the lab: what a tracer may cost (CPU, memory, added
 * p99 latency) and the event rate it must sustain without losing events.
 * Defaults, then a JSON file, then the environment (which wins); then one
 * check per limit against what the lab observed. */
#ifndef SONDE_LAB_THRESHOLDS_H
#define SONDE_LAB_THRESHOLDS_H

#include <stddef.h>

/* Defaults. */
#define LAB_THRESHOLD_TRACER_CPU_PCT 5.0
#define LAB_THRESHOLD_RSS_MB 100.0
#define LAB_THRESHOLD_EVENTS_PER_S 10000.0
#define LAB_THRESHOLD_P99_ADDED_MS 1.0
/* Capture (events / requests, %) above this: the tracer reports more events
 * than the target had requests, beyond a request or two at a run's edges,
 * so it counts other traffic too and a loss would not show. Not a limit one
 * sets: sonde bench recommends narrowing the tracer, sonde stress fails the
 * step. */
#define LAB_CAPTURE_OVER_PCT 100.5

/* A limit of NaN turns its check off. */
struct lab_thresholds {
	double tracer_cpu_pct;  /* tracer CPU (user+sys of its process tree) as % of one CPU, worst scenario */
	double rss_mb;          /* tracer peak RSS, MB (10^6 bytes) */
	double events_per_s;    /* events/s the tracer must sustain with no drop */
	double p99_added_ms;    /* p99 latency added vs no tracer, ms, worst scenario */
};

void lab_thresholds_default(struct lab_thresholds *t);

/* Read limits from a JSON file:
 *   {"tracer_cpu_pct": 5, "rss_mb": 100, "events_per_s": 10000, "p99_added_ms": 1}
 * Every key is optional (a missing one keeps its value in t), null turns a
 * check off; an unknown or repeated key, a value that is not a number, or a
 * negative one is an error. 0, -EINVAL (bad content) or -errno (the file
 * cannot be opened, or is a directory), with one line in err ("thresholds FILE: ..."); t is
 * only changed on 0. err may be NULL. */
int lab_thresholds_load_file(struct lab_thresholds *t, const char *path,
			     char *err, size_t len);

/* Read limits from SONDE_THRESHOLD_TRACER_CPU_PCT, SONDE_THRESHOLD_RSS_MB,
 * SONDE_THRESHOLD_EVENTS_PER_S and SONDE_THRESHOLD_P99_ADDED_MS: a number
 * >= 0, or "off". Unset or empty keeps the value in t. Meant to run after
 * lab_thresholds_load_file, so the environment wins. 0, or -EINVAL with one
 * line in err naming the variable; t is only changed on 0. */
int lab_thresholds_load_env(struct lab_thresholds *t, char *err, size_t len);

/* What the lab saw, NaN where unknown. */
struct lab_threshold_obs {
	double tracer_cpu_pct;     /* worst over scenarios */
	double rss_mb;             /* peak */
	double events_per_s_clean; /* highest events/s of a run with no drop and no event missing */
	double events_per_s_lossy; /* lowest events/s of a run that dropped or missed events */
	double p99_added_ms;       /* worst over scenarios */
};

enum lab_check {
	LAB_CHECK_OFF,
	LAB_CHECK_PASS,
	LAB_CHECK_FAIL,
	LAB_CHECK_NOT_MEASURED,
};

#define LAB_THRESHOLD_DETAIL_BYTES 192

struct lab_threshold_result {
	const char *key;     /* the JSON key: "tracer_cpu_pct", ... (static) */
	double limit;        /* NaN when off */
	double observed;     /* the value judged (events_per_s: see below); NaN if none */
	enum lab_check status;
	char detail[LAB_THRESHOLD_DETAIL_BYTES]; /* a short sentence with the numbers */
};

#define LAB_THRESHOLDS_N 4

/* Judge o against t, one result per limit in out[LAB_THRESHOLDS_N], in the
 * order tracer_cpu_pct, rss_mb, events_per_s, p99_added_ms. Returns how many
 * failed, or -EINVAL for a NULL pointer.
 * - tracer_cpu_pct, rss_mb, p99_added_ms: observed NaN is "not measured",
 *   observed <= limit passes, more fails.
 * - events_per_s fails when a run lost events at a rate <= limit (observed:
 *   that rate); else passes when a clean run reached >= limit (observed: the
 *   clean rate); else is "not measured" (observed: the highest clean rate,
 *   maybe NaN): no run was heavy enough to tell.
 * A limit of NaN is "off" whatever was observed. */
int lab_thresholds_check(const struct lab_thresholds *t,
			 const struct lab_threshold_obs *o,
			 struct lab_threshold_result *out);

/* "off", "pass", "fail", "not measured". */
const char *lab_check_name(enum lab_check c);

#endif
