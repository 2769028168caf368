/* The report side of `sonde bench` (see bench.h): turns the runner's rows
 * into medians, paired differences against the baseline tracer, calibration
 * and A/A checks, grades, threshold checks, recommendations and a comparison
 * with an earlier results.json; then writes the results directory
 * (results.json, summary.txt, report.md, SVG charts). Nothing here runs a
 * process or measures anything: it is pure over lab_bench_result.
 * Cost: O(runs x cells) to gather rows, O(rounds log rounds) per difference. */
#include "lab/bench.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lab/report_text.h"
#include "lab/stats.h"
#include "lab/svg.h"
#include "loader/http_tracer.h"

const struct lab_metric_info lab_metrics[LAB_M_COUNT] = {
	[LAB_M_RPS] = { "rps", "throughput (req/s)", 1, -1, { 0.02, 0 } },
	[LAB_M_P50_MS] = { "p50_ms", "p50 latency (ms)", 3, +1, { 0.05, 0.01 } },
	[LAB_M_P90_MS] = { "p90_ms", "p90 latency (ms)", 3, +1, { 0.05, 0.01 } },
	[LAB_M_P99_MS] = { "p99_ms", "p99 latency (ms)", 3, +1, { 0.05, 0.01 } },
	[LAB_M_P999_MS] = { "p999_ms", "p99.9 latency (ms)", 3, +1, { 0.05, 0.01 } },
	[LAB_M_MAX_MS] = { "max_ms", "max latency (ms)", 3, +1, { 0.05, 0.01 } },
	[LAB_M_ERRORS] = { "errors", "errors (requests)", 0, +1, { 0, 1 } },
	[LAB_M_REQUESTS] = { "requests", "requests answered", 0, 0, { 0, 1 } },
	[LAB_M_SERVER_CPU_US] = { "server_cpu_us_per_req", "server CPU (us/req)", 2, +1,
				  { 0.03, 0.05 } },
	[LAB_M_TRACER_CPU_PCT] = { "tracer_cpu_pct", "tracer CPU (% of one CPU)", 2, +1,
				   { 0, 0.2 } },
	[LAB_M_TRACER_CPU_US] = { "tracer_cpu_us_per_req", "tracer CPU (us/req)", 2, +1,
				  { 0.03, 0.05 } },
	[LAB_M_BPF_NS] = { "bpf_ns_per_req", "in-kernel BPF (ns/req)", 0, +1, { 0.03, 5 } },
	[LAB_M_BPF_CPU_PCT] = { "bpf_cpu_pct", "in-kernel BPF (% of one CPU)", 2, +1, { 0, 0.2 } },
	[LAB_M_RSS_MB] = { "rss_mb", "tracer peak RSS (MB)", 1, +1, { 0, 1 } },
	[LAB_M_FDS] = { "fds", "tracer open fds", 0, +1, { 0, 1 } },
	[LAB_M_CTXSW] = { "ctx_switches", "tracer context switches", 0, +1, { 0, 1 } },
	[LAB_M_EVENTS] = { "events", "events captured", 0, -1, { 0, 1 } },
	[LAB_M_EVENTS_PER_S] = { "events_per_s", "events captured per second", 1, -1,
				 { 0.02, 1 } },
	[LAB_M_CAPTURE_PCT] = { "capture_pct", "capture (% of requests)", 2, -1, { 0, 0.1 } },
	[LAB_M_DROPS] = { "drops", "events dropped", 0, +1, { 0, 1 } },
};

/* A/A compares these only: p99.9 and max rest on a handful of samples in a
 * short run and differ between two identical baselines too often. */
static const int aa_metrics[] = { LAB_M_RPS, LAB_M_P50_MS, LAB_M_P90_MS, LAB_M_P99_MS,
				  LAB_M_SERVER_CPU_US };
/* Compared against a --baseline results.json. */
static const int baseline_metrics[] = { LAB_M_RPS, LAB_M_P50_MS, LAB_M_P99_MS,
					LAB_M_TRACER_CPU_PCT, LAB_M_BPF_NS, LAB_M_RSS_MB,
					LAB_M_SERVER_CPU_US };
/* The latency chart's groups. */
static const int latency_metrics[] = { LAB_M_P50_MS, LAB_M_P90_MS, LAB_M_P99_MS, LAB_M_P999_MS,
				       LAB_M_MAX_MS };
static const char *const latency_groups[] = { "p50", "p90", "p99", "p99.9", "max" };

#define ARRAY_N(x) ((int)(sizeof(x) / sizeof((x)[0])))

/* Capture counts as complete from here (events / requests * 100 is exact
 * for whole numbers, this only absorbs rounding). */
#define CAPTURE_FULL_PCT (100.0 - 1e-9)
/* "The machine was noisy": median half-width of p99's interval above this
 * share of the baseline's median p99. */
#define NOISY_CI_SHARE 0.20
/* Latency chart on a log axis when its largest value is this many times its
 * smallest (max vs p50 often is). */
#define LOG_AXIS_RATIO 100.0
/* Longest per-second series charted (a run of more than a day is not one). */
#define PER_SEC_MAX 100000u
#define JSON_PRECISION 10
/* A ring buffer that dropped: suggest four times the default. */
#define RINGBUF_KB_SUGGESTED (4 * HTTP_RINGBUF_KB_DEFAULT)

/* The grade's limits, A+ .. C (D beyond); see GRADE_FORMULA. */
static const double grade_loss_pct[4] = { 1, 2, 5, 10 };
static const double grade_p99_ms[4] = { 0.1, 0.25, 1, 5 };
static const double grade_cpu_pct[4] = { 1, 2.5, 5, 10 };
static const double grade_capture_pct[4] = { 100, 99.9, 99, 95 };

#define GRADE_FORMULA                                                                          \
	"grade = the worst of four letters, each taken over the worst scenario:\n"             \
	"  throughput loss  (-diff % of rps, counted only when its verdict is \"lower\", else 0):\n" \
	"                   A+ <= 1 %, A <= 2 %, B <= 5 %, C <= 10 %, D above\n"                 \
	"  p99 added        (diff of p99 in ms, counted only when its verdict is \"higher\", else 0):\n" \
	"                   A+ <= 0.1 ms, A <= 0.25 ms, B <= 1 ms, C <= 5 ms, D above\n"         \
	"  tracer CPU       (median over rounds, % of one CPU):\n"                               \
	"                   A+ <= 1 %, A <= 2.5 %, B <= 5 %, C <= 10 %, D above\n"               \
	"  capture          (lowest median of events / requests; drops summed over every run):\n" \
	"                   A+ 100 % and no drop, A >= 99.9 %, B >= 99 %, C >= 95 %, D below\n"  \
	"a criterion that could not be measured (n/a) does not count; none measured: no grade."

static const char *const grade_criteria[4] = { "throughput_loss", "p99_added", "tracer_cpu",
					       "capture" };

const char *lab_grade_name(enum lab_grade g)
{
	switch (g) {
	case LAB_GRADE_A_PLUS:
		return "A+";
	case LAB_GRADE_A:
		return "A";
	case LAB_GRADE_B:
		return "B";
	case LAB_GRADE_C:
		return "C";
	case LAB_GRADE_D:
		return "D";
	case LAB_GRADE_NONE:
	default:
		return "n/a";
	}
}

static bool is_traced(enum lab_tracer_kind k)
{
	return k == LAB_TRACER_SONDE || k == LAB_TRACER_COMMAND;
}

static const char *tracer_kind_name(enum lab_tracer_kind k)
{
	switch (k) {
	case LAB_TRACER_NONE:
		return "none";
	case LAB_TRACER_SONDE:
		return "sonde";
	case LAB_TRACER_COMMAND:
		return "command";
	case LAB_TRACER_CALIBRATE:
		return "calibrate";
	}
	return "unknown";
}

static const char *target_name(enum lab_target_kind k)
{
	switch (k) {
	case LAB_TARGET_BUILTIN:
		return "builtin";
	case LAB_TARGET_NGINX:
		return "nginx";
	case LAB_TARGET_URL:
		return "url";
	}
	return "unknown";
}

/* --- the plan's shape, clamped to the arrays of lab_bench_result --------- */

static int n_scenarios(const struct lab_bench_config *cfg)
{
	return cfg->nscenarios < 0 ? 0 :
	       cfg->nscenarios > LAB_BENCH_SCENARIOS_MAX ? LAB_BENCH_SCENARIOS_MAX : cfg->nscenarios;
}

static int n_tracers(const struct lab_bench_config *cfg)
{
	return cfg->ntracers < 0 ? 0 :
	       cfg->ntracers > LAB_BENCH_TRACERS_MAX ? LAB_BENCH_TRACERS_MAX : cfg->ntracers;
}

static int n_rounds(const struct lab_bench_config *cfg)
{
	return cfg->rounds < 0 ? 0 : cfg->rounds > LAB_BENCH_ROUNDS_MAX ? LAB_BENCH_ROUNDS_MAX : cfg->rounds;
}

/* A row that counts: measured without error, and inside the plan. */
static bool run_usable(const struct lab_bench_result *res, const struct lab_bench_run *r)
{
	const struct lab_bench_config *cfg = res->cfg;

	return r->ok && r->round >= 0 && r->round < n_rounds(cfg) && r->scenario >= 0 &&
	       r->scenario < n_scenarios(cfg) && r->tracer >= 0 && r->tracer < n_tracers(cfg);
}

/* A row the runner never reached (calloc'ed, nothing written). */
static bool run_never_ran(const struct lab_bench_run *r)
{
	return !r->ok && !r->error[0];
}

/* v[m][round]: the metrics of scenario s, tracer t by round, NaN where no
 * usable run. Returns the usable runs found. */
static int by_round(const struct lab_bench_result *res, int s, int t,
		    double v[LAB_M_COUNT][LAB_BENCH_ROUNDS_MAX])
{
	int found = 0;

	for (int m = 0; m < LAB_M_COUNT; m++)
		for (int i = 0; i < LAB_BENCH_ROUNDS_MAX; i++)
			v[m][i] = NAN;
	for (int i = 0; i < res->nruns; i++) {
		const struct lab_bench_run *r = &res->runs[i];

		if (!run_usable(res, r) || r->scenario != s || r->tracer != t)
			continue;
		found++;
		for (int m = 0; m < LAB_M_COUNT; m++)
			v[m][r->round] = r->m[m];
	}
	return found;
}

static void diff_unknown(struct lab_diff *d)
{
	d->n = 0;
	d->median_a = d->median_b = d->diff = d->diff_pct = NAN;
	d->ci_low = d->ci_high = d->noise_floor = NAN;
	d->verdict = LAB_VERDICT_UNKNOWN;
}

__attribute__((format(printf, 2, 3)))
static void recommend(struct lab_bench_result *res, const char *fmt, ...)
{
	va_list ap;

	if (res->nrecommendations >= ARRAY_N(res->recommendations))
		return;
	va_start(ap, fmt);
	vsnprintf(res->recommendations[res->nrecommendations++], sizeof(res->recommendations[0]),
		  fmt, ap);
	va_end(ap);
}

/* --- medians and differences -------------------------------------------- */

static void summarize_cells(struct lab_bench_result *res)
{
	const struct lab_bench_config *cfg = res->cfg;
	int nr = n_rounds(cfg);
	double base[LAB_M_COUNT][LAB_BENCH_ROUNDS_MAX], cur[LAB_M_COUNT][LAB_BENCH_ROUNDS_MAX];
	double tmp[LAB_BENCH_ROUNDS_MAX];

	for (int s = 0; s < n_scenarios(cfg); s++) {
		by_round(res, s, 0, base);
		for (int t = 0; t < n_tracers(cfg); t++) {
			struct lab_bench_cell *c = &res->cells[s][t];

			c->ok_rounds = by_round(res, s, t, cur);
			for (int m = 0; m < LAB_M_COUNT; m++) {
				memcpy(tmp, cur[m], sizeof(double) * (size_t)nr);
				c->median[m] = lab_median(tmp, nr);
				if (t == 0 || lab_compare_paired(base[m], cur[m], nr, &lab_metrics[m].floor,
								 &c->vs_base[m]))
					diff_unknown(&c->vs_base[m]);
			}
		}
	}
}

static void summarize_calibration(struct lab_bench_result *res)
{
	const struct lab_bench_config *cfg = res->cfg;
	struct lab_bench_calibration *cal = &res->calibration;
	int ct = -1;

	for (int t = 1; t < n_tracers(cfg) && ct < 0; t++)
		if (cfg->tracers[t].kind == LAB_TRACER_CALIBRATE)
			ct = t;
	if (ct < 0 || cfg->calibrate_ns == 0)
		return;
	cal->done = true;
	cal->expected_us = (double)cfg->calibrate_ns / 1000.0;
	cal->pass = n_scenarios(cfg) > 0;
	for (int s = 0; s < n_scenarios(cfg); s++) {
		double got = res->cells[s][ct].vs_base[LAB_M_SERVER_CPU_US].diff;

		cal->measured_us[s] = got;
		cal->error_pct[s] = (got - cal->expected_us) / cal->expected_us * 100.0;
		/* NaN (not measured) fails too. */
		if (!(fabs(cal->error_pct[s]) <= LAB_BENCH_CALIBRATE_TOLERANCE_PCT))
			cal->pass = false;
	}
}

/* The A/A check asks whether the lab calls differences where there are
 * none. Its m comparisons (metrics x scenarios) are one family: each is
 * judged at confidence 1 - 0.05 / m (Bonferroni), so that a sound lab on a
 * steady machine passes 95 % of the time. At 95 % each, 10 comparisons
 * would call at least one difference in up to 40 % of A/A runs by chance
 * alone; the per-tracer verdicts of the tables stay at 95 %. */
static void summarize_aa(struct lab_bench_result *res)
{
	const struct lab_bench_config *cfg = res->cfg;
	double base[LAB_M_COUNT][LAB_BENCH_ROUNDS_MAX], twin[LAB_M_COUNT][LAB_BENCH_ROUNDS_MAX];
	int nr = n_rounds(cfg);

	if (!cfg->aa || n_tracers(cfg) < 2)
		return;
	res->aa_comparisons = n_scenarios(cfg) * ARRAY_N(aa_metrics);
	res->aa_confidence = 1.0 - 0.05 / res->aa_comparisons;
	for (int s = 0; s < n_scenarios(cfg); s++) {
		by_round(res, s, 0, base);
		by_round(res, s, 1, twin);
		for (int k = 0; k < ARRAY_N(aa_metrics); k++) {
			int m = aa_metrics[k];
			struct lab_diff d;

			if (lab_compare_paired_conf(base[m], twin[m], nr, &lab_metrics[m].floor,
						    res->aa_confidence, &d))
				continue;
			res->aa_differences += d.verdict == LAB_VERDICT_HIGHER ||
					       d.verdict == LAB_VERDICT_LOWER;
		}
	}
}

/* --- grades -------------------------------------------------------------- */

static enum lab_grade letter_at_most(double v, const double lim[4])
{
	if (isnan(v))
		return LAB_GRADE_NONE;
	for (int i = 0; i < 4; i++)
		if (v <= lim[i])
			return (enum lab_grade)(LAB_GRADE_A_PLUS + i);
	return LAB_GRADE_D;
}

static enum lab_grade letter_capture(double pct, long drops)
{
	if (isnan(pct))
		return LAB_GRADE_NONE;
	if (pct >= CAPTURE_FULL_PCT && drops <= 0)
		return LAB_GRADE_A_PLUS;
	for (int i = 1; i < 4; i++)
		if (pct >= grade_capture_pct[i] - 1e-9)
			return (enum lab_grade)(LAB_GRADE_A_PLUS + i);
	return LAB_GRADE_D;
}

/* A difference as a cost: value when the verdict is `counts` (a real
 * difference in the costly direction), 0 otherwise (within noise, or in the
 * good direction), NaN when the verdict is unknown. */
static double cost_of(const struct lab_diff *d, enum lab_verdict counts, double value)
{
	if (d->verdict == LAB_VERDICT_UNKNOWN)
		return NAN;
	return d->verdict == counts ? value : 0;
}

/* Σ drops over every usable run of tracer t; -1 when none was counted. */
static long drops_total(const struct lab_bench_result *res, int t, int s_only)
{
	double sum = 0;
	bool known = false;

	for (int i = 0; i < res->nruns; i++) {
		const struct lab_bench_run *r = &res->runs[i];

		if (!run_usable(res, r) || r->tracer != t || (s_only >= 0 && r->scenario != s_only) ||
		    isnan(r->m[LAB_M_DROPS]))
			continue;
		sum += r->m[LAB_M_DROPS];
		known = true;
	}
	return known ? (long)llround(sum) : -1;
}

static void grade_tracer(struct lab_bench_result *res, int t)
{
	struct lab_bench_grade *g = &res->grades[t];

	g->loss_pct = g->p99_added_ms = g->cpu_pct = g->capture_pct = NAN;
	for (int s = 0; s < n_scenarios(res->cfg); s++) {
		const struct lab_bench_cell *c = &res->cells[s][t];
		const struct lab_diff *rps = &c->vs_base[LAB_M_RPS], *p99 = &c->vs_base[LAB_M_P99_MS];

		/* fmax/fmin skip a NaN side. */
		g->loss_pct = fmax(g->loss_pct, cost_of(rps, LAB_VERDICT_LOWER, -rps->diff_pct));
		g->p99_added_ms = fmax(g->p99_added_ms, cost_of(p99, LAB_VERDICT_HIGHER, p99->diff));
		g->cpu_pct = fmax(g->cpu_pct, c->median[LAB_M_TRACER_CPU_PCT]);
		g->capture_pct = fmin(g->capture_pct, c->median[LAB_M_CAPTURE_PCT]);
	}
	g->drops = drops_total(res, t, -1);
	g->by[0] = letter_at_most(g->loss_pct, grade_loss_pct);
	g->by[1] = letter_at_most(g->p99_added_ms, grade_p99_ms);
	g->by[2] = letter_at_most(g->cpu_pct, grade_cpu_pct);
	g->by[3] = letter_capture(g->capture_pct, g->drops);
	g->grade = LAB_GRADE_NONE;
	for (int i = 0; i < 4; i++)
		if (g->by[i] > g->grade)
			g->grade = g->by[i];
}

/* --- thresholds ---------------------------------------------------------- */

static void threshold_obs(const struct lab_bench_result *res, int t, struct lab_threshold_obs *o)
{
	o->tracer_cpu_pct = o->rss_mb = o->events_per_s_clean = o->events_per_s_lossy = NAN;
	o->p99_added_ms = NAN;
	for (int s = 0; s < n_scenarios(res->cfg); s++) {
		const struct lab_diff *p99 = &res->cells[s][t].vs_base[LAB_M_P99_MS];

		o->tracer_cpu_pct = fmax(o->tracer_cpu_pct, res->cells[s][t].median[LAB_M_TRACER_CPU_PCT]);
		/* Within noise is 0; a real difference counts as measured, even
		 * a negative one; unknown stays unknown ("not measured"). */
		if (p99->verdict != LAB_VERDICT_UNKNOWN)
			o->p99_added_ms = fmax(o->p99_added_ms,
					       p99->verdict == LAB_VERDICT_SAME ? 0 : p99->diff);
	}
	for (int i = 0; i < res->nruns; i++) {
		const struct lab_bench_run *r = &res->runs[i];
		double eps = r->m[LAB_M_EVENTS_PER_S], cap = r->m[LAB_M_CAPTURE_PCT];
		double drops = r->m[LAB_M_DROPS];
		bool lossy, clean;

		if (!run_usable(res, r) || r->tracer != t)
			continue;
		o->rss_mb = fmax(o->rss_mb, r->m[LAB_M_RSS_MB]);
		if (isnan(eps))
			continue;
		lossy = drops > 0 || cap < CAPTURE_FULL_PCT;          /* false for NaN */
		clean = !lossy && cap >= CAPTURE_FULL_PCT && !(drops > 0); /* NaN drops: capture decides */
		if (lossy)
			o->events_per_s_lossy = fmin(o->events_per_s_lossy, eps);
		else if (clean)
			o->events_per_s_clean = fmax(o->events_per_s_clean, eps);
	}
}

static void summarize_thresholds(struct lab_bench_result *res)
{
	const struct lab_bench_config *cfg = res->cfg;

	for (int t = 1; t < n_tracers(cfg); t++) {
		struct lab_threshold_obs o;
		int failed;

		if (!is_traced(cfg->tracers[t].kind))
			continue;
		threshold_obs(res, t, &o);
		failed = lab_thresholds_check(&cfg->thresholds, &o, res->checks[t]);
		if (failed > 0)
			res->checks_failed += failed;
	}
}

/* --- recommendations ----------------------------------------------------- */

/* Scenario where tracer t's median of m is highest (lowest with low); -1 if none. */
static int worst_scenario(const struct lab_bench_result *res, int t, int m, bool low)
{
	int best = -1;

	for (int s = 0; s < n_scenarios(res->cfg); s++) {
		double v = res->cells[s][t].median[m];

		if (isnan(v))
			continue;
		if (best < 0 || (low ? v < res->cells[best][t].median[m] : v > res->cells[best][t].median[m]))
			best = s;
	}
	return best;
}

static const struct lab_threshold_result *check_of(const struct lab_bench_result *res, int t,
						    const char *key)
{
	for (int i = 0; i < LAB_THRESHOLDS_N; i++)
		if (res->checks[t][i].key && !strcmp(res->checks[t][i].key, key))
			return &res->checks[t][i];
	return NULL;
}

static void recommend_tracer(struct lab_bench_result *res, int t, bool *saturation_hint)
{
	const struct lab_bench_config *cfg = res->cfg;
	const struct lab_bench_tracer *bt = &cfg->tracers[t];
	bool sonde = bt->kind == LAB_TRACER_SONDE;
	const struct lab_threshold_result *chk;
	int s;

	/* Drops. */
	if (res->grades[t].drops > 0) {
		s = worst_scenario(res, t, LAB_M_DROPS, false);
		if (sonde)
			recommend(res, "%s dropped %ld events in all (median %s per run on %s): "
				  "its ring buffer filled up; give it more room with "
				  "`sonde http --ringbuf-kb %d` (default %d)",
				  bt->name, res->grades[t].drops,
				  lab_fmt_num(s >= 0 ? res->cells[s][t].median[LAB_M_DROPS] : NAN, 0),
				  s >= 0 ? cfg->scenarios[s].name : "n/a", RINGBUF_KB_SUGGESTED,
				  HTTP_RINGBUF_KB_DEFAULT);
		else
			recommend(res, "%s reported %ld lost events in all (median %s per run on %s): "
				  "its own buffer was too small for that load",
				  bt->name, res->grades[t].drops,
				  lab_fmt_num(s >= 0 ? res->cells[s][t].median[LAB_M_DROPS] : NAN, 0),
				  s >= 0 ? cfg->scenarios[s].name : "n/a");
	}
	/* Events missing with no drop counted on that scenario. */
	for (s = 0; s < n_scenarios(cfg); s++) {
		double cap = res->cells[s][t].median[LAB_M_CAPTURE_PCT];

		if (!(cap < CAPTURE_FULL_PCT) || drops_total(res, t, s) > 0)
			continue;
		if (sonde)
			recommend(res, "%s captured %s %% of the requests on %s (median) with no drop "
				  "counted: events went missing without a counter: a bug, please "
				  "report it with results.json", bt->name, lab_fmt_num(cap, 2),
				  cfg->scenarios[s].name);
		else
			recommend(res, "%s captured %s %% of the requests on %s (median) and reported "
				  "no loss: it loses events without saying so", bt->name,
				  lab_fmt_num(cap, 2), cfg->scenarios[s].name);
		break;
	}
	/* More events than requests: the tracer reports other traffic too, and
	 * its capture figure then hides any loss. */
	for (s = 0; s < n_scenarios(cfg); s++) {
		double cap = res->cells[s][t].median[LAB_M_CAPTURE_PCT];

		if (!(cap > LAB_CAPTURE_OVER_PCT))
			continue;
		recommend(res, "%s reported %s %% as many events as %s had requests (median): "
			  "it counts other traffic too, so its capture says nothing of loss: "
			  "narrow it to the target (e.g. its port or pid option)", bt->name,
			  lab_fmt_num(cap, 2), cfg->scenarios[s].name);
		break;
	}
	/* CPU above its limit. */
	chk = check_of(res, t, "tracer_cpu_pct");
	if (chk && chk->status == LAB_CHECK_FAIL) {
		s = worst_scenario(res, t, LAB_M_TRACER_CPU_PCT, false);
		if (sonde)
			recommend(res, "%s used %s %% of a CPU on %s, above the %s %% limit: trace "
				  "only the target with `sonde http --pid PID` or `--port PORT`",
				  bt->name, lab_fmt_num(chk->observed, 2),
				  s >= 0 ? cfg->scenarios[s].name : "n/a", lab_fmt_num(chk->limit, 2));
		else
			recommend(res, "%s used %s %% of a CPU on %s, above the %s %% limit: filter "
				  "it to the target's pid or port", bt->name,
				  lab_fmt_num(chk->observed, 2),
				  s >= 0 ? cfg->scenarios[s].name : "n/a", lab_fmt_num(chk->limit, 2));
	}
	/* p99 added beyond noise: the worst scenario. */
	{
		int ws = -1;

		for (s = 0; s < n_scenarios(cfg); s++) {
			const struct lab_diff *d = &res->cells[s][t].vs_base[LAB_M_P99_MS];

			if (d->verdict == LAB_VERDICT_HIGHER &&
			    (ws < 0 || d->diff > res->cells[ws][t].vs_base[LAB_M_P99_MS].diff))
				ws = s;
		}
		if (ws >= 0) {
			const struct lab_bench_cell *c = &res->cells[ws][t];
			const struct lab_diff *d = &c->vs_base[LAB_M_P99_MS];

			recommend(res, "%s adds %s ms to p99 on %s (95 %% CI %s..%s; BPF %s ns/req, "
				  "tracer CPU %s %%)%s", bt->name, lab_fmt_num(d->diff, 3),
				  cfg->scenarios[ws].name, lab_fmt_num(d->ci_low, 3),
				  lab_fmt_num(d->ci_high, 3), lab_fmt_num(c->median[LAB_M_BPF_NS], 0),
				  lab_fmt_num(c->median[LAB_M_TRACER_CPU_PCT], 2),
				  sonde ? ": copy less per request (`--capture-bytes`), trace fewer "
					  "connections (`--pid`, `--port`)" : "");
		}
	}
	/* events_per_s could not be judged: no run heavy enough. */
	chk = check_of(res, t, "events_per_s");
	if (chk && chk->status == LAB_CHECK_NOT_MEASURED && !*saturation_hint) {
		*saturation_hint = true;
		recommend(res, "the events/s limit (%s) was not reached by any run without loss "
			  "(highest: %s events/s by %s): add `--scenario saturation` to judge it",
			  lab_fmt_num(chk->limit, 0), lab_fmt_num(chk->observed, 0), bt->name);
	}
}

static void recommend_noise(struct lab_bench_result *res)
{
	const struct lab_bench_config *cfg = res->cfg;
	double share[LAB_BENCH_SCENARIOS_MAX * LAB_BENCH_TRACERS_MAX], med;
	int n = 0;

	for (int s = 0; s < n_scenarios(cfg); s++)
		for (int t = 1; t < n_tracers(cfg); t++) {
			const struct lab_diff *d = &res->cells[s][t].vs_base[LAB_M_P99_MS];

			if (isfinite(d->ci_low) && isfinite(d->ci_high) && d->median_a > 0)
				share[n++] = (d->ci_high - d->ci_low) / 2 / d->median_a;
		}
	med = lab_median(share, n);
	if (med > NOISY_CI_SHARE)
		recommend(res, "the machine was noisy: p99's 95 %% intervals are +-%s %% of the "
			  "baseline's p99 (median over %d comparisons, more than %.0f %%): run more "
			  "rounds (`--rounds`) or longer ones (`--duration`), on an idle machine",
			  lab_fmt_num(med * 100, 0), n, NOISY_CI_SHARE * 100);
}

static void summarize_recommendations(struct lab_bench_result *res)
{
	const struct lab_bench_config *cfg = res->cfg;
	const struct lab_bench_calibration *cal = &res->calibration;
	bool saturation_hint = false;
	int failed = 0, first = -1, s;

	for (int i = 0; i < res->nruns; i++)
		if (!res->runs[i].ok && !run_never_ran(&res->runs[i]) && failed++ == 0)
			first = i;
	if (failed) {
		const struct lab_bench_run *r = &res->runs[first];

		recommend(res, "%d run%s failed and %s left out (first: %s, round %d, %s: %s)", failed,
			  failed == 1 ? "" : "s", failed == 1 ? "was" : "were",
			  r->tracer >= 0 && r->tracer < n_tracers(cfg) ? cfg->tracers[r->tracer].name : "?",
			  r->round + 1,
			  r->scenario >= 0 && r->scenario < n_scenarios(cfg) ?
				  cfg->scenarios[r->scenario].name : "?", r->error);
	}
	if (n_tracers(cfg) > 0) {
		s = worst_scenario(res, 0, LAB_M_ERRORS, false);
		if (s >= 0 && res->cells[s][0].median[LAB_M_ERRORS] > 0)
			recommend(res, "the target itself failed %s requests per run with no tracer on "
				  "%s (errors and unsent, median): the load is beyond what it serves, "
				  "so the overhead there is not meaningful; lower the rate or the "
				  "connections", lab_fmt_num(res->cells[s][0].median[LAB_M_ERRORS], 0),
				  cfg->scenarios[s].name);
	}
	for (int t = 1; t < n_tracers(cfg); t++)
		if (is_traced(cfg->tracers[t].kind))
			recommend_tracer(res, t, &saturation_hint);
	recommend_noise(res);
	if (cal->done && !cal->pass) {
		int worst = -1;

		for (s = 0; s < n_scenarios(cfg); s++)
			if (worst < 0 || !(fabs(cal->error_pct[s]) <= fabs(cal->error_pct[worst])))
				worst = s;
		if (worst >= 0 && !isnan(cal->measured_us[worst]))
			recommend(res, "calibration failed: %s us/req measured on %s for the %s us/req "
				  "added (%s %%, tolerance %.0f %%): server CPU figures of this machine "
				  "are not to be trusted", lab_fmt_num(cal->measured_us[worst], 2),
				  cfg->scenarios[worst].name, lab_fmt_num(cal->expected_us, 2),
				  lab_fmt_num(cal->error_pct[worst], 1),
				  LAB_BENCH_CALIBRATE_TOLERANCE_PCT);
		else
			recommend(res, "calibration failed: server CPU per request was not measured "
				  "(it needs the built-in server)");
	}
	if (cfg->aa && res->aa_differences > 0)
		recommend(res, "A/A: %d difference%s called between two identical baselines: the "
			  "machine is too noisy for these verdicts; run more rounds on an idle "
			  "machine", res->aa_differences, res->aa_differences == 1 ? "" : "s");
	if (res->baseline_loaded && res->baseline_comparisons == 0)
		recommend(res, "baseline %s shares no scenario and tracer with this run: nothing "
			  "was compared", cfg->baseline_path);
	if (res->nregressions > 0)
		recommend(res, "%d regression%s against %s (see the baseline section)",
			  res->nregressions, res->nregressions == 1 ? "" : "s", cfg->baseline_path);
}

/* --- baseline ------------------------------------------------------------ */

static int baseline_fail(const char *path, const char *why, char *err, size_t len)
{
	lab_set_err(err, len, "baseline %s: not a sonde bench results.json (%s)", path, why);
	return -EINVAL;
}

static bool row_matches(json_t *row, const char *scenario, const char *tracer)
{
	json_t *sc = json_object_get(row, "scenario"), *tr = json_object_get(row, "tracer");

	return json_is_true(json_object_get(row, "ok")) && json_is_string(sc) &&
	       json_is_string(tr) && !strcmp(json_string_value(sc), scenario) &&
	       !strcmp(json_string_value(tr), tracer) && json_is_object(json_object_get(row, "metrics"));
}

static void compare_with_rows(struct lab_bench_result *res, int s, int t, json_t **rows, int nrows)
{
	double old[LAB_COMPARE_N_MAX], cur[LAB_BENCH_ROUNDS_MAX * 2];

	for (int k = 0; k < ARRAY_N(baseline_metrics); k++) {
		int m = baseline_metrics[k], nold = 0, ncur = 0;
		struct lab_diff d;

		for (int i = 0; i < nrows; i++) {
			json_t *v = json_object_get(json_object_get(rows[i], "metrics"), lab_metrics[m].key);

			if (json_is_number(v))
				old[nold++] = json_number_value(v);
		}
		for (int i = 0; i < res->nruns && ncur < ARRAY_N(cur); i++) {
			const struct lab_bench_run *r = &res->runs[i];

			if (run_usable(res, r) && r->scenario == s && r->tracer == t && !isnan(r->m[m]))
				cur[ncur++] = r->m[m];
		}
		if (!nold || !ncur || lab_compare_unpaired(old, nold, cur, ncur, &lab_metrics[m].floor, &d))
			continue;
		res->baseline_comparisons++;
		if (((d.verdict == LAB_VERDICT_HIGHER && lab_metrics[m].worse > 0) ||
		     (d.verdict == LAB_VERDICT_LOWER && lab_metrics[m].worse < 0)) &&
		    res->nregressions < LAB_BENCH_REGRESSIONS_MAX) {
			struct lab_bench_regression *g = &res->regressions[res->nregressions++];

			g->scenario = s;
			g->tracer = t;
			g->metric = m;
			g->diff = d;
		}
	}
}

/* Read and check a results.json to compare with: 0 and *rootp, or -errno
 * with one line in err. */
static int baseline_load(const char *path, json_t **rootp, char *err, size_t len)
{
	json_t *root, *schema, *runs;
	json_error_t jerr;
	struct stat st;
	FILE *f;
	int ret = 0;

	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		lab_set_err(err, len, "baseline %s: %s", path, strerror(errno));
		return ret;
	}
	if (!fstat(fileno(f), &st) && S_ISDIR(st.st_mode)) {
		fclose(f);
		lab_set_err(err, len, "baseline %s: %s", path, strerror(EISDIR));
		return -EISDIR;
	}
	root = json_loadf(f, 0, &jerr);
	fclose(f);
	if (!root) {
		char why[200];

		snprintf(why, sizeof(why), "not JSON: line %d: %s", jerr.line, jerr.text);
		return baseline_fail(path, why, err, len);
	}
	schema = json_object_get(root, "schema");
	runs = json_object_get(root, "runs");
	if (!json_is_object(root)) {
		ret = baseline_fail(path, "not a JSON object", err, len);
	} else if (!json_is_string(schema)) {
		ret = baseline_fail(path, "no \"schema\" key, expected \"" LAB_BENCH_SCHEMA "\"", err, len);
	} else if (strcmp(json_string_value(schema), LAB_BENCH_SCHEMA)) {
		char why[160];

		snprintf(why, sizeof(why), "schema \"%.60s\", expected \"" LAB_BENCH_SCHEMA "\"",
			 json_string_value(schema));
		ret = baseline_fail(path, why, err, len);
	} else if (!json_is_array(runs)) {
		ret = baseline_fail(path, "no \"runs\" array", err, len);
	}
	if (ret) {
		json_decref(root);
		return ret;
	}
	*rootp = root;
	return 0;
}

int lab_bench_baseline_check(const char *path, char *err, size_t len)
{
	json_t *root = NULL;
	int ret;

	if (!path || !path[0]) {
		lab_set_err(err, len, "baseline: no file given");
		return -EINVAL;
	}
	ret = baseline_load(path, &root, err, len);
	json_decref(root);
	return ret;
}

static int summarize_baseline(struct lab_bench_result *res, char *err, size_t len)
{
	const struct lab_bench_config *cfg = res->cfg;
	const char *path = cfg->baseline_path;
	json_t *root = NULL, *runs, *row;
	json_t **rows;
	size_t i;
	int ret;

	ret = baseline_load(path, &root, err, len);
	if (ret)
		return ret;
	runs = json_object_get(root, "runs");
	rows = calloc(LAB_COMPARE_N_MAX, sizeof(*rows));
	if (!rows) {
		json_decref(root);
		lab_set_err(err, len, "baseline %s: out of memory", path);
		return -ENOMEM;
	}
	for (int s = 0; s < n_scenarios(cfg); s++)
		for (int t = 0; t < n_tracers(cfg); t++) {
			int nrows = 0;

			json_array_foreach(runs, i, row) {
				if (nrows < LAB_COMPARE_N_MAX &&
				    row_matches(row, cfg->scenarios[s].name, cfg->tracers[t].name))
					rows[nrows++] = row;
			}
			if (nrows)
				compare_with_rows(res, s, t, rows, nrows);
		}
	free(rows);
	json_decref(root);
	res->baseline_loaded = true;
	return 0;
}

int lab_bench_summarize(struct lab_bench_result *res, char *err, size_t len)
{
	const struct lab_bench_config *cfg;
	int ret = 0;

	if (!res || !res->cfg || (res->nruns > 0 && !res->runs) || res->nruns < 0) {
		lab_set_err(err, len, "bench report: nothing to summarize");
		return -EINVAL;
	}
	cfg = res->cfg;
	memset(res->cells, 0, sizeof(res->cells));
	for (int s = 0; s < LAB_BENCH_SCENARIOS_MAX; s++)
		for (int t = 0; t < LAB_BENCH_TRACERS_MAX; t++) {
			for (int m = 0; m < LAB_M_COUNT; m++) {
				res->cells[s][t].median[m] = NAN;
				diff_unknown(&res->cells[s][t].vs_base[m]);
			}
		}
	memset(res->grades, 0, sizeof(res->grades));
	for (int t = 0; t < LAB_BENCH_TRACERS_MAX; t++) {
		res->grades[t].loss_pct = res->grades[t].p99_added_ms = NAN;
		res->grades[t].cpu_pct = res->grades[t].capture_pct = NAN;
		res->grades[t].drops = -1;
	}
	memset(&res->calibration, 0, sizeof(res->calibration));
	memset(res->checks, 0, sizeof(res->checks));
	res->checks_failed = 0;
	res->aa_differences = 0;
	res->aa_comparisons = 0;
	res->aa_confidence = NAN;
	res->nrecommendations = 0;
	res->baseline_loaded = false;
	res->baseline_comparisons = 0;
	res->nregressions = 0;

	summarize_cells(res);
	summarize_calibration(res);
	summarize_aa(res);
	for (int t = 1; t < n_tracers(cfg); t++)
		if (is_traced(cfg->tracers[t].kind))
			grade_tracer(res, t);
	summarize_thresholds(res);
	if (cfg->baseline_path[0])
		ret = summarize_baseline(res, err, len);
	summarize_recommendations(res);
	return ret;
}

int lab_bench_exit_code(const struct lab_bench_result *res)
{
	if (res->checks_failed > 0 || (res->calibration.done && !res->calibration.pass) ||
	    (res->cfg && res->cfg->aa && res->aa_differences > 0) || res->nregressions > 0)
		return 1;
	return 0;
}

/* One line on why the exit code is 1; NULL when it is 0. */
static const char *exit_reason(const struct lab_bench_result *res)
{
	if (res->checks_failed > 0)
		return "a threshold was missed";
	if (res->calibration.done && !res->calibration.pass)
		return "calibration failed";
	if (res->cfg->aa && res->aa_differences > 0)
		return "the A/A run found differences";
	if (res->nregressions > 0)
		return "regressions against the baseline";
	return NULL;
}

/* --- results.json -------------------------------------------------------- */

/* Building the tree: any failed allocation sets bad (jansson frees a value
 * given to a failed set/append). */
struct jb {
	bool bad;
};

static void oset(struct jb *b, json_t *o, const char *key, json_t *v)
{
	if (json_object_set_new(o, key, v))
		b->bad = true;
}

static void aadd(struct jb *b, json_t *a, json_t *v)
{
	if (json_array_append_new(a, v))
		b->bad = true;
}

static json_t *jnull(void)
{
	return json_null();
}

/* JSON has no NaN or infinity: both are null. */
static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : jnull();
}

static json_t *jint(long long v)
{
	return json_integer((json_int_t)v);
}

/* A C string as JSON; bytes that are not valid UTF-8 become '?' (jansson
 * refuses them). NULL is null. */
static json_t *jstr(const char *s)
{
	json_t *j;
	char *copy;
	size_t n;

	if (!s)
		return jnull();
	j = json_string(s);
	if (j)
		return j;
	n = strlen(s);
	copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (size_t i = 0; i <= n; i++)
		copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/* "" is null. */
static json_t *jstr_or_null(const char *s)
{
	return s && s[0] ? jstr(s) : jnull();
}

static json_t *j_diff(struct jb *b, const struct lab_diff *d)
{
	json_t *o = json_object(), *ci = json_array();

	oset(b, o, "baseline", jnum(d->median_a));
	oset(b, o, "value", jnum(d->median_b));
	oset(b, o, "diff", jnum(d->diff));
	oset(b, o, "diff_pct", jnum(d->diff_pct));
	aadd(b, ci, jnum(d->ci_low));
	aadd(b, ci, jnum(d->ci_high));
	oset(b, o, "ci95", ci);
	oset(b, o, "noise_floor", jnum(d->noise_floor));
	oset(b, o, "verdict", json_string(lab_verdict_name(d->verdict)));
	oset(b, o, "n", jint(d->n));
	return o;
}

static json_t *j_metrics(struct jb *b, const double *m)
{
	json_t *o = json_object();

	for (int k = 0; k < LAB_M_COUNT; k++)
		oset(b, o, lab_metrics[k].key, jnum(m[k]));
	return o;
}

static const char *scenario_name(const struct lab_bench_config *cfg, int s)
{
	return s >= 0 && s < n_scenarios(cfg) ? cfg->scenarios[s].name : NULL;
}

static const char *tracer_name(const struct lab_bench_config *cfg, int t)
{
	return t >= 0 && t < n_tracers(cfg) ? cfg->tracers[t].name : NULL;
}

static json_t *j_config(struct jb *b, const struct lab_bench_config *cfg)
{
	json_t *o = json_object(), *sc = json_array(), *tr = json_array(), *th = json_object();

	oset(b, o, "target", json_string(target_name(cfg->target)));
	oset(b, o, "url", cfg->target == LAB_TARGET_URL ? jstr(cfg->url.text) : jnull());
	oset(b, o, "port", jint(cfg->target == LAB_TARGET_URL ? cfg->url.port : cfg->port));
	oset(b, o, "body_bytes", jint(cfg->body_bytes));
	oset(b, o, "work_ns", jint((long long)cfg->work_ns));
	oset(b, o, "new_conn", json_boolean(cfg->new_conn));
	oset(b, o, "pin", json_boolean(cfg->pin));
	oset(b, o, "rounds", jint(cfg->rounds));
	oset(b, o, "duration_s", jnum(cfg->duration_s));
	oset(b, o, "warmup_s", jnum(cfg->warmup_s));
	oset(b, o, "quick", json_boolean(cfg->quick));
	oset(b, o, "calibrate_ns", jint((long long)cfg->calibrate_ns));
	oset(b, o, "aa", json_boolean(cfg->aa));
	oset(b, o, "sweep", json_boolean(cfg->sweep));
	for (int s = 0; s < n_scenarios(cfg); s++) {
		const struct lab_bench_scenario *x = &cfg->scenarios[s];
		json_t *e = json_object();

		oset(b, e, "name", jstr(x->name));
		oset(b, e, "rate", x->rate > 0 ? jnum(x->rate) : jnull());
		oset(b, e, "conns", jint(x->conns));
		oset(b, e, "mode", json_string(x->rate > 0 ? "open" : "closed"));
		oset(b, e, "sweep_frac", x->sweep_frac > 0 ? jnum(x->sweep_frac) : jnull());
		aadd(b, sc, e);
	}
	oset(b, o, "scenarios", sc);
	for (int t = 0; t < n_tracers(cfg); t++) {
		const struct lab_bench_tracer *x = &cfg->tracers[t];
		json_t *e = json_object();

		oset(b, e, "name", jstr(x->name));
		oset(b, e, "kind", json_string(tracer_kind_name(x->kind)));
		oset(b, e, "command", jstr_or_null(x->cmd));
		aadd(b, tr, e);
	}
	oset(b, o, "tracers", tr);
	oset(b, th, "tracer_cpu_pct", jnum(cfg->thresholds.tracer_cpu_pct));
	oset(b, th, "rss_mb", jnum(cfg->thresholds.rss_mb));
	oset(b, th, "events_per_s", jnum(cfg->thresholds.events_per_s));
	oset(b, th, "p99_added_ms", jnum(cfg->thresholds.p99_added_ms));
	oset(b, o, "thresholds", th);
	oset(b, o, "baseline_path", jstr_or_null(cfg->baseline_path));
	return o;
}

/* Where tracer t ran in its round: its place in lab_bench_order's plan. */
static int order_position(int n, int round, int t)
{
	for (int k = 0; k < n; k++)
		if (lab_bench_order(n, round, k) == t)
			return k;
	return 0;
}

static json_t *j_runs(struct jb *b, const struct lab_bench_result *res)
{
	const struct lab_bench_config *cfg = res->cfg;
	int ns = n_scenarios(cfg), nt = n_tracers(cfg);
	bool planned = ns > 0 && nt > 0 && res->nruns == cfg->rounds * nt * ns;
	json_t *a = json_array();

	for (int i = 0; i < res->nruns; i++) {
		const struct lab_bench_run *r = &res->runs[i];
		int s = r->scenario, t = r->tracer, round = r->round;
		json_t *o, *load, *ps;

		if (run_never_ran(r)) {
			/* The runner stopped before this row: its place in the
			 * plan (lab_bench_run_index) says which it was. */
			if (!planned)
				continue;
			round = i / (nt * ns);
			t = i / ns % nt;
			s = i % ns;
		}
		o = json_object();
		load = json_object();
		ps = json_array();
		oset(b, o, "scenario", jstr(scenario_name(cfg, s)));
		oset(b, o, "tracer", jstr(tracer_name(cfg, t)));
		oset(b, o, "round", jint(round + 1));
		oset(b, o, "position", jint(order_position(nt, round, t) + 1));
		oset(b, o, "ok", json_boolean(r->ok));
		oset(b, o, "error", run_never_ran(r) ? json_string("not run") : jstr_or_null(r->error));
		oset(b, o, "metrics", j_metrics(b, r->m));
		oset(b, load, "scheduled", jint((long long)r->scheduled));
		oset(b, load, "issued", jint((long long)r->issued));
		oset(b, load, "completed", jint((long long)r->completed));
		oset(b, load, "unsent", jint((long long)r->unsent));
		oset(b, load, "elapsed_s", jnum(r->elapsed_s));
		oset(b, o, "load", load);
		for (uint32_t k = 0; r->per_sec && k < r->per_sec_len; k++)
			aadd(b, ps, jint(r->per_sec[k]));
		oset(b, o, "per_sec", ps);
		aadd(b, a, o);
	}
	return a;
}

static json_t *j_summary(struct jb *b, const struct lab_bench_result *res)
{
	const struct lab_bench_config *cfg = res->cfg;
	json_t *a = json_array();

	for (int s = 0; s < n_scenarios(cfg); s++)
		for (int t = 0; t < n_tracers(cfg); t++) {
			const struct lab_bench_cell *c = &res->cells[s][t];
			json_t *o = json_object(), *vs;

			oset(b, o, "scenario", jstr(cfg->scenarios[s].name));
			oset(b, o, "tracer", jstr(cfg->tracers[t].name));
			oset(b, o, "ok_rounds", jint(c->ok_rounds));
			oset(b, o, "medians", j_metrics(b, c->median));
			if (t == 0) {
				vs = jnull();
			} else {
				vs = json_object();
				for (int m = 0; m < LAB_M_COUNT; m++)
					oset(b, vs, lab_metrics[m].key, j_diff(b, &c->vs_base[m]));
			}
			oset(b, o, "vs_baseline", vs);
			aadd(b, a, o);
		}
	return a;
}

static json_t *j_calibration(struct jb *b, const struct lab_bench_result *res)
{
	const struct lab_bench_calibration *cal = &res->calibration;
	json_t *o, *a;

	if (!cal->done)
		return jnull();
	o = json_object();
	a = json_array();
	oset(b, o, "expected_us", jnum(cal->expected_us));
	oset(b, o, "tolerance_pct", jnum(LAB_BENCH_CALIBRATE_TOLERANCE_PCT));
	oset(b, o, "method", json_string("difference of the medians of server_cpu_us_per_req, "
					 "calibrate tracer minus baseline, per scenario"));
	oset(b, o, "pass", json_boolean(cal->pass));
	for (int s = 0; s < n_scenarios(res->cfg); s++) {
		json_t *e = json_object();

		oset(b, e, "scenario", jstr(res->cfg->scenarios[s].name));
		oset(b, e, "measured_us", jnum(cal->measured_us[s]));
		oset(b, e, "error_pct", jnum(cal->error_pct[s]));
		aadd(b, a, e);
	}
	oset(b, o, "scenarios", a);
	return o;
}

static json_t *j_aa(struct jb *b, const struct lab_bench_result *res)
{
	json_t *o, *a;

	if (!res->cfg->aa)
		return jnull();
	o = json_object();
	a = json_array();
	oset(b, o, "differences", jint(res->aa_differences));
	oset(b, o, "pass", json_boolean(res->aa_differences == 0));
	oset(b, o, "comparisons", jint(res->aa_comparisons));
	oset(b, o, "confidence", jnum(res->aa_confidence));
	for (int k = 0; k < ARRAY_N(aa_metrics); k++)
		aadd(b, a, json_string(lab_metrics[aa_metrics[k]].key));
	oset(b, o, "metrics", a);
	return o;
}

static json_t *j_grade_letter(enum lab_grade g)
{
	return g == LAB_GRADE_NONE ? jnull() : json_string(lab_grade_name(g));
}

static json_t *j_grades(struct jb *b, const struct lab_bench_result *res)
{
	const struct lab_bench_config *cfg = res->cfg;
	json_t *a = json_array();

	for (int t = 1; t < n_tracers(cfg); t++) {
		const struct lab_bench_grade *g = &res->grades[t];
		json_t *o, *by;

		if (!is_traced(cfg->tracers[t].kind))
			continue;
		o = json_object();
		by = json_object();
		oset(b, o, "tracer", jstr(cfg->tracers[t].name));
		oset(b, o, "grade", j_grade_letter(g->grade));
		oset(b, o, "loss_pct", jnum(g->loss_pct));
		oset(b, o, "p99_added_ms", jnum(g->p99_added_ms));
		oset(b, o, "cpu_pct", jnum(g->cpu_pct));
		oset(b, o, "capture_pct", jnum(g->capture_pct));
		oset(b, o, "drops", g->drops < 0 ? jnull() : jint(g->drops));
		for (int i = 0; i < 4; i++)
			oset(b, by, grade_criteria[i], j_grade_letter(g->by[i]));
		oset(b, o, "by", by);
		oset(b, o, "formula", json_string(GRADE_FORMULA));
		aadd(b, a, o);
	}
	return a;
}

static json_t *j_thresholds(struct jb *b, const struct lab_bench_result *res)
{
	const struct lab_bench_config *cfg = res->cfg;
	json_t *a = json_array();

	for (int t = 1; t < n_tracers(cfg); t++)
		for (int i = 0; i < LAB_THRESHOLDS_N; i++) {
			const struct lab_threshold_result *c = &res->checks[t][i];
			json_t *o;

			if (!is_traced(cfg->tracers[t].kind) || !c->key)
				continue;
			o = json_object();
			oset(b, o, "tracer", jstr(cfg->tracers[t].name));
			oset(b, o, "key", json_string(c->key));
			oset(b, o, "limit", jnum(c->limit));
			oset(b, o, "observed", jnum(c->observed));
			oset(b, o, "status", json_string(lab_check_name(c->status)));
			oset(b, o, "detail", jstr(c->detail));
			aadd(b, a, o);
		}
	return a;
}

static json_t *j_baseline(struct jb *b, const struct lab_bench_result *res)
{
	json_t *o, *a;

	if (!res->baseline_loaded)
		return jnull();
	o = json_object();
	a = json_array();
	oset(b, o, "path", jstr(res->cfg->baseline_path));
	oset(b, o, "comparisons", jint(res->baseline_comparisons));
	for (int i = 0; i < res->nregressions; i++) {
		const struct lab_bench_regression *g = &res->regressions[i];
		json_t *e = json_object(), *ci = json_array();

		oset(b, e, "scenario", jstr(scenario_name(res->cfg, g->scenario)));
		oset(b, e, "tracer", jstr(tracer_name(res->cfg, g->tracer)));
		oset(b, e, "metric", json_string(lab_metrics[g->metric].key));
		oset(b, e, "old", jnum(g->diff.median_a));
		oset(b, e, "new", jnum(g->diff.median_b));
		oset(b, e, "diff", jnum(g->diff.diff));
		oset(b, e, "diff_pct", jnum(g->diff.diff_pct));
		aadd(b, ci, jnum(g->diff.ci_low));
		aadd(b, ci, jnum(g->diff.ci_high));
		oset(b, e, "ci95", ci);
		oset(b, e, "noise_floor", jnum(g->diff.noise_floor));
		oset(b, e, "verdict", json_string(lab_verdict_name(g->diff.verdict)));
		aadd(b, a, e);
	}
	oset(b, o, "regressions", a);
	return o;
}

static json_t *build_json(const struct lab_bench_result *res, struct jb *b)
{
	json_t *root = json_object(), *recs = json_array();

	oset(b, root, "schema", json_string(LAB_BENCH_SCHEMA));
	oset(b, root, "started", jstr(res->started));
	oset(b, root, "wall_s", jnum(res->wall_s));
	oset(b, root, "error", jstr_or_null(res->error));
	oset(b, root, "config", j_config(b, res->cfg));
	oset(b, root, "saturation_rps", jnum(res->saturation_rps));
	oset(b, root, "runs", j_runs(b, res));
	oset(b, root, "summary", j_summary(b, res));
	oset(b, root, "calibration", j_calibration(b, res));
	oset(b, root, "aa", j_aa(b, res));
	oset(b, root, "grades", j_grades(b, res));
	oset(b, root, "thresholds", j_thresholds(b, res));
	for (int i = 0; i < res->nrecommendations && i < ARRAY_N(res->recommendations); i++)
		aadd(b, recs, jstr(res->recommendations[i]));
	oset(b, root, "recommendations", recs);
	oset(b, root, "baseline", j_baseline(b, res));
	oset(b, root, "exit_code", jint(lab_bench_exit_code(res)));
	return root;
}

int lab_bench_write_json(const struct lab_bench_result *res, FILE *f)
{
	struct jb b = { false };
	json_t *root;
	int ret = 0;

	if (!res || !res->cfg || !f)
		return -EINVAL;
	root = build_json(res, &b);
	if (!root || b.bad)
		ret = -ENOMEM;
	else if (json_dumpf(root, f, JSON_INDENT(2) | JSON_REAL_PRECISION(JSON_PRECISION)) ||
		 fputc('\n', f) == EOF || fflush(f))
		ret = -EIO;
	json_decref(root);
	return ret;
}

/* --- summary.txt --------------------------------------------------------- */

/* "+0.120 [+0.080, +0.160] higher", "n/a" */
static const char *fmt_diff(char *buf, size_t len, const struct lab_diff *d, int prec, bool pct)
{
	if (isnan(d->diff)) {
		snprintf(buf, len, "n/a");
	} else if (pct) {
		snprintf(buf, len, "%+.*f %% %s", 1, d->diff_pct, lab_verdict_name(d->verdict));
	} else if (isnan(d->ci_low)) {
		snprintf(buf, len, "%+.*f %s", prec, d->diff, lab_verdict_name(d->verdict));
	} else {
		snprintf(buf, len, "%+.*f [%+.*f, %+.*f] %s", prec, d->diff, prec, d->ci_low, prec,
			 d->ci_high, lab_verdict_name(d->verdict));
	}
	return buf;
}

static void scenario_line(const struct lab_bench_scenario *x, char *buf, size_t len)
{
	if (x->rate > 0)
		snprintf(buf, len, "open loop, %.0f req/s, %u connections%s", x->rate, x->conns,
			 x->sweep_frac > 0 ? ", sweep point" : "");
	else
		snprintf(buf, len, "closed loop (as fast as it goes), %u connections", x->conns);
}

static void target_line(const struct lab_bench_config *cfg, char *buf, size_t len)
{
	switch (cfg->target) {
	case LAB_TARGET_URL:
		snprintf(buf, len, "%s", cfg->url.text);
		break;
	case LAB_TARGET_NGINX:
		snprintf(buf, len, "nginx, %u-byte body, %s", cfg->body_bytes,
			 cfg->new_conn ? "a new connection per request" : "keep-alive");
		break;
	case LAB_TARGET_BUILTIN:
	default:
		snprintf(buf, len, "built-in server, %u-byte body, %llu ns of work per request, %s",
			 cfg->body_bytes, (unsigned long long)cfg->work_ns,
			 cfg->new_conn ? "a new connection per request" : "keep-alive");
		break;
	}
}

static int name_width(const struct lab_bench_config *cfg)
{
	int w = 6;

	for (int t = 0; t < n_tracers(cfg); t++) {
		int n = (int)strnlen(cfg->tracers[t].name, sizeof(cfg->tracers[t].name));

		if (n > w)
			w = n;
	}
	return w;
}

static void summary_table(const struct lab_bench_result *res, FILE *f, int s)
{
	const struct lab_bench_config *cfg = res->cfg;
	int w = name_width(cfg);
	char line[160], p99[96], rps[48];

	scenario_line(&cfg->scenarios[s], line, sizeof(line));
	fprintf(f, "\n%s (%s)\n", cfg->scenarios[s].name, line);
	fprintf(f, "  %-*s %5s %10s %-17s %8s %8s %-36s %6s %7s %7s %9s %7s\n", w, "tracer", "ok",
		"rps", "rps vs base", "p50 ms", "p99 ms", "p99 added ms [95 % CI]", "CPU %",
		"BPF ns", "RSS MB", "capture %", "drops");
	for (int t = 0; t < n_tracers(cfg); t++) {
		const struct lab_bench_cell *c = &res->cells[s][t];
		char ok[16];

		snprintf(ok, sizeof(ok), "%d/%d", c->ok_rounds, cfg->rounds);
		if (t == 0) {
			snprintf(rps, sizeof(rps), "(baseline)");
			snprintf(p99, sizeof(p99), "-");
		} else {
			fmt_diff(rps, sizeof(rps), &c->vs_base[LAB_M_RPS], 1, true);
			fmt_diff(p99, sizeof(p99), &c->vs_base[LAB_M_P99_MS], 3, false);
		}
		fprintf(f, "  %-*s %5s %10s %-17s %8s %8s %-36s %6s %7s %7s %9s %7s\n", w,
			cfg->tracers[t].name, ok, lab_fmt_num(c->median[LAB_M_RPS], 1), rps,
			lab_fmt_num(c->median[LAB_M_P50_MS], 3), lab_fmt_num(c->median[LAB_M_P99_MS], 3),
			p99, lab_fmt_num(c->median[LAB_M_TRACER_CPU_PCT], 2),
			lab_fmt_num(c->median[LAB_M_BPF_NS], 0), lab_fmt_num(c->median[LAB_M_RSS_MB], 1),
			lab_fmt_num(c->median[LAB_M_CAPTURE_PCT], 2),
			lab_fmt_num(c->median[LAB_M_DROPS], 0));
	}
}

static void grade_detail(const struct lab_bench_grade *g, char *buf, size_t len)
{
	char drops[32];

	if (g->drops < 0)
		snprintf(drops, sizeof(drops), "n/a");
	else
		snprintf(drops, sizeof(drops), "%ld", g->drops);
	snprintf(buf, len, "throughput loss %s %% (%s), p99 added %s ms (%s), CPU %s %% (%s), "
		 "capture %s %% with %s drops (%s)", lab_fmt_num(g->loss_pct, 1),
		 lab_grade_name(g->by[0]), lab_fmt_num(g->p99_added_ms, 3), lab_grade_name(g->by[1]),
		 lab_fmt_num(g->cpu_pct, 2), lab_grade_name(g->by[2]),
		 lab_fmt_num(g->capture_pct, 2), drops, lab_grade_name(g->by[3]));
}

void lab_bench_write_summary(const struct lab_bench_result *res, FILE *f)
{
	const struct lab_bench_config *cfg;
	const char *why;
	char line[256], target[sizeof(res->cfg->url.text) + 64];

	if (!res || !res->cfg || !f)
		return;
	cfg = res->cfg;
	target_line(cfg, target, sizeof(target));
	fprintf(f, "sonde bench: %d scenarios x %d tracers x %d rounds, %s s per run "
		"(started %s, took %s s)\n", n_scenarios(cfg), n_tracers(cfg), cfg->rounds,
		lab_fmt_num(cfg->duration_s, 1), res->started[0] ? res->started : "n/a",
		lab_fmt_num(res->wall_s, 0));
	fprintf(f, "target: %s\n", target);
	if (res->error[0])
		fprintf(f, "error: %s\n", res->error);
	if (!isnan(res->saturation_rps))
		fprintf(f, "saturation: %s req/s (the baseline's closed-loop rate)\n",
			lab_fmt_num(res->saturation_rps, 1));
	for (int s = 0; s < n_scenarios(cfg); s++)
		summary_table(res, f, s);

	fprintf(f, "\ngrades (worst scenario; formula in report.md)\n");
	for (int t = 1; t < n_tracers(cfg); t++) {
		if (!is_traced(cfg->tracers[t].kind))
			continue;
		grade_detail(&res->grades[t], line, sizeof(line));
		fprintf(f, "  %-3s %s: %s\n", lab_grade_name(res->grades[t].grade),
			cfg->tracers[t].name, line);
	}
	fprintf(f, "\nthresholds\n");
	for (int t = 1; t < n_tracers(cfg); t++)
		for (int i = 0; i < LAB_THRESHOLDS_N; i++) {
			const struct lab_threshold_result *c = &res->checks[t][i];

			if (is_traced(cfg->tracers[t].kind) && c->key)
				fprintf(f, "  %-12s %s %s: %s\n", lab_check_name(c->status),
					cfg->tracers[t].name, c->key, c->detail);
		}
	if (res->calibration.done) {
		fprintf(f, "\ncalibration: %s, %s us/req added, tolerance %.0f %%\n",
			res->calibration.pass ? "pass" : "FAIL",
			lab_fmt_num(res->calibration.expected_us, 2), LAB_BENCH_CALIBRATE_TOLERANCE_PCT);
		for (int s = 0; s < n_scenarios(cfg); s++)
			fprintf(f, "  %s: measured %s us/req (%s %%)\n", cfg->scenarios[s].name,
				lab_fmt_num(res->calibration.measured_us[s], 2),
				lab_fmt_num(res->calibration.error_pct[s], 1));
	}
	if (cfg->aa)
		fprintf(f, "\nA/A: %d differences between two identical baselines (%s; %d "
			   "comparisons, each at %s %% confidence)\n",
			res->aa_differences, res->aa_differences ? "FAIL" : "pass",
			res->aa_comparisons, lab_fmt_num(res->aa_confidence * 100, 2));
	if (res->baseline_loaded) {
		fprintf(f, "\nbaseline %s: %d comparisons, %d regressions\n", cfg->baseline_path,
			res->baseline_comparisons, res->nregressions);
		for (int i = 0; i < res->nregressions; i++) {
			const struct lab_bench_regression *g = &res->regressions[i];
			int p = lab_metrics[g->metric].prec;

			fprintf(f, "  %s / %s / %s: %s -> %s (%s %%, 95 %% CI %s..%s) %s\n",
				scenario_name(cfg, g->scenario), tracer_name(cfg, g->tracer),
				lab_metrics[g->metric].key, lab_fmt_num(g->diff.median_a, p),
				lab_fmt_num(g->diff.median_b, p), lab_fmt_num(g->diff.diff_pct, 1),
				lab_fmt_num(g->diff.ci_low, p), lab_fmt_num(g->diff.ci_high, p),
				lab_verdict_name(g->diff.verdict));
		}
	}
	if (res->nrecommendations > 0) {
		fprintf(f, "\nrecommendations\n");
		for (int i = 0; i < res->nrecommendations; i++)
			fprintf(f, "  - %s\n", res->recommendations[i]);
	}
	why = exit_reason(res);
	fprintf(f, "\nexit code %d%s%s\n", lab_bench_exit_code(res), why ? ": " : "", why ? why : "");
}

/* --- report.md ----------------------------------------------------------- */

/* Decimals of a threshold's figures, as the thresholds module prints them. */
static int check_prec(const char *key)
{
	return !strcmp(key, "events_per_s") ? 0 : !strcmp(key, "rss_mb") ? 1 :
	       !strcmp(key, "p99_added_ms") ? 3 : 2;
}

/* Text from the configuration in markdown (a table cell, a heading, a
 * link's text): markup characters escaped, newlines as spaces, so a name
 * cannot break a row or start a link. */
static void md_cell(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (strchr("\\`*_[]<>|#", *s))
			fprintf(f, "\\%c", *s);
		else if (*s == '\n' || *s == '\r')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

/* Text as inline code: a backtick inside would end the span early; in a
 * table a '|' must be escaped even there (GFM). */
static void md_code(FILE *f, const char *s, bool in_table)
{
	fputc('`', f);
	for (; s && *s; s++) {
		if (*s == '|' && in_table)
			fputs("\\|", f);
		else
			fputc(*s == '`' ? '\'' : *s == '\n' || *s == '\r' ? ' ' : *s, f);
	}
	fputc('`', f);
}

/* A scenario's name as part of a file name: [A-Za-z0-9._-] kept, '%' as
 * "pct", anything else '_'. */
static void file_part(char *dst, size_t len, const char *name)
{
	size_t o = 0;

	for (const char *p = name; *p && o + 4 < len; p++) {
		char c = *p;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_') {
			dst[o++] = c;
		} else if (c == '%') {
			memcpy(dst + o, "pct", 3);
			o += 3;
		} else {
			dst[o++] = '_';
		}
	}
	dst[o] = '\0';
}

static void chart_name(char *dst, size_t len, const char *kind, const char *scenario)
{
	char part[LAB_BENCH_NAME_BYTES * 3 + 8];

	file_part(part, sizeof(part), scenario);
	snprintf(dst, len, "%s-%s.svg", kind, part);
}

static const char STATS_METHOD[] =
	"Every tracer runs on every scenario once per round; rounds are interleaved (round 1: "
	"every tracer, then round 2, ...) and the order of the tracers changes from round to "
	"round in a balanced way (a Williams design: each tracer runs right after each other one "
	"equally often), so a slow drift of the machine, and whatever a session leaves to the "
	"next, spreads over all of them.\n\n"
	"- Each figure in the tables is the **median over rounds** of the runs that succeeded.\n"
	"- **Difference** against the baseline (the first tracer, no tracer at all): "
	"diff = median(tracer) - median(baseline); diff % = diff / |median(baseline)| x 100.\n"
	"- **95 % confidence interval** (paired t-interval over rounds): the runs of one round "
	"are a pair, d_i = tracer_i - baseline_i; CI = mean(d) +- t(0.975, n-1) x sd(d) / "
	"sqrt(n), n pairs (a round where either side failed is left out). Needs 2 pairs.\n"
	"- **Noise floor** = max(a minimum per metric, 2 x 1.4826 x MAD of the baseline's "
	"rounds): the baseline's own round-to-round spread (1.4826 x MAD estimates a standard "
	"deviation). Minimums: throughput 2 %; latency 5 % and 0.01 ms; CPU 0.2 percentage "
	"points; per-request CPU 3 % and 0.05 us (BPF 3 % and 5 ns); RSS 1 MB; counts 1.\n"
	"- **Verdict**: *higher* when the whole interval is above 0 and diff exceeds the noise "
	"floor; *lower* when the whole interval is below 0 and -diff exceeds it; otherwise "
	"*same*; *unknown* with fewer than 2 pairs.\n"
	"- **Calibration**: the built-in server burns a known extra time per request under the "
	"`calibrate` tracer; the difference of the medians of server CPU per request must "
	"come back within 10 % of it on every scenario.\n"
	"- **A/A**: a second baseline must show no *higher*/*lower* verdict on throughput, p50, "
	"p90, p99 and server CPU per request (p99.9 and max rest on too few samples in a short "
	"run to be judged this way).\n"
	"- **Against an earlier results.json** (`--baseline`): rounds of two sessions are not "
	"pairs, so Welch's t-interval on the difference of the means is used, with the same "
	"noise floor and verdicts; a regression is a verdict in the worse direction.\n";

static void md_tables(const struct lab_bench_result *res, FILE *f, int s)
{
	const struct lab_bench_config *cfg = res->cfg;
	char line[160], buf[96], chart[LAB_BENCH_NAME_BYTES * 3 + 32];

	scenario_line(&cfg->scenarios[s], line, sizeof(line));
	fprintf(f, "\n### ");
	md_cell(f, cfg->scenarios[s].name);
	fprintf(f, "\n\n%s.\n\n", line);
	fprintf(f, "| tracer | rounds ok | rps | rps vs baseline | p50 ms | p90 ms | p99 ms | "
		"p99.9 ms | max ms | p99 added ms [95 %% CI] | errors |\n");
	fprintf(f, "|---|---:|---:|---|---:|---:|---:|---:|---:|---|---:|\n");
	for (int t = 0; t < n_tracers(cfg); t++) {
		const struct lab_bench_cell *c = &res->cells[s][t];

		fprintf(f, "| ");
		md_cell(f, cfg->tracers[t].name);
		fprintf(f, " | %d/%d | %s | %s | %s | %s | %s | %s | %s | ", c->ok_rounds, cfg->rounds,
			lab_fmt_num(c->median[LAB_M_RPS], 1),
			t ? fmt_diff(line, sizeof(line), &c->vs_base[LAB_M_RPS], 1, true) : "baseline",
			lab_fmt_num(c->median[LAB_M_P50_MS], 3), lab_fmt_num(c->median[LAB_M_P90_MS], 3),
			lab_fmt_num(c->median[LAB_M_P99_MS], 3), lab_fmt_num(c->median[LAB_M_P999_MS], 3),
			lab_fmt_num(c->median[LAB_M_MAX_MS], 3));
		fprintf(f, "%s | %s |\n",
			t ? fmt_diff(buf, sizeof(buf), &c->vs_base[LAB_M_P99_MS], 3, false) : "-",
			lab_fmt_num(c->median[LAB_M_ERRORS], 0));
	}
	fprintf(f, "\n| tracer | server CPU us/req | vs baseline | tracer CPU %% | tracer CPU us/req | "
		"BPF ns/req | BPF CPU %% | RSS MB | fds | ctx switches | events/s | capture %% | "
		"drops |\n");
	fprintf(f, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int t = 0; t < n_tracers(cfg); t++) {
		const struct lab_bench_cell *c = &res->cells[s][t];

		fprintf(f, "| ");
		md_cell(f, cfg->tracers[t].name);
		fprintf(f, " | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			lab_fmt_num(c->median[LAB_M_SERVER_CPU_US], 2),
			t ? fmt_diff(buf, sizeof(buf), &c->vs_base[LAB_M_SERVER_CPU_US], 2, false) : "-",
			lab_fmt_num(c->median[LAB_M_TRACER_CPU_PCT], 2),
			lab_fmt_num(c->median[LAB_M_TRACER_CPU_US], 2),
			lab_fmt_num(c->median[LAB_M_BPF_NS], 0), lab_fmt_num(c->median[LAB_M_BPF_CPU_PCT], 2),
			lab_fmt_num(c->median[LAB_M_RSS_MB], 1), lab_fmt_num(c->median[LAB_M_FDS], 0),
			lab_fmt_num(c->median[LAB_M_CTXSW], 0), lab_fmt_num(c->median[LAB_M_EVENTS_PER_S], 1),
			lab_fmt_num(c->median[LAB_M_CAPTURE_PCT], 2), lab_fmt_num(c->median[LAB_M_DROPS], 0));
	}
	chart_name(chart, sizeof(chart), "latency", cfg->scenarios[s].name);
	fprintf(f, "\n![latency percentiles, ");
	md_cell(f, cfg->scenarios[s].name);
	fprintf(f, "](%s)\n", chart);
	chart_name(chart, sizeof(chart), "throughput", cfg->scenarios[s].name);
	fprintf(f, "\n![throughput over time, ");
	md_cell(f, cfg->scenarios[s].name);
	fprintf(f, "](%s)\n", chart);
}

static void write_report_md(const struct lab_bench_result *res, FILE *f)
{
	const struct lab_bench_config *cfg = res->cfg;
	const char *why = exit_reason(res);
	char line[sizeof(cfg->url.text) + 64];

	fprintf(f, "# sonde bench report\n\n");
	fprintf(f, "Started %s, took %s s. Exit code %d%s%s.\n", res->started[0] ? res->started : "n/a",
		lab_fmt_num(res->wall_s, 0), lab_bench_exit_code(res), why ? ": " : "", why ? why : "");
	if (res->error[0]) {
		fprintf(f, "\n**The run stopped early:** ");
		md_cell(f, res->error);
		fprintf(f, "\n");
	}

	fprintf(f, "\n## Setup\n\n");
	target_line(cfg, line, sizeof(line));
	fprintf(f, "- Target: ");
	md_cell(f, line);
	fprintf(f, "\n- %d rounds of %s s per run, %s s of warm-up per tracer session%s%s\n",
		cfg->rounds, lab_fmt_num(cfg->duration_s, 1), lab_fmt_num(cfg->warmup_s, 1),
		cfg->quick ? ", quick mode" : "", cfg->pin ? ", server and load generator pinned" : "");
	if (!isnan(res->saturation_rps))
		fprintf(f, "- Saturation rate of the baseline: %s req/s (sweep points are fractions of it)\n",
			lab_fmt_num(res->saturation_rps, 1));
	fprintf(f, "- System: see [system_info.txt](system_info.txt); every figure: "
		"[results.json](results.json)\n\n");
	fprintf(f, "| scenario | load |\n|---|---|\n");
	for (int s = 0; s < n_scenarios(cfg); s++) {
		scenario_line(&cfg->scenarios[s], line, sizeof(line));
		fprintf(f, "| ");
		md_cell(f, cfg->scenarios[s].name);
		fprintf(f, " | %s |\n", line);
	}
	fprintf(f, "\n| tracer | kind | command |\n|---|---|---|\n");
	for (int t = 0; t < n_tracers(cfg); t++) {
		fprintf(f, "| ");
		md_cell(f, cfg->tracers[t].name);
		fprintf(f, " | %s%s | ", tracer_kind_name(cfg->tracers[t].kind), t == 0 ? " (baseline)" : "");
		if (cfg->tracers[t].cmd[0])
			md_code(f, cfg->tracers[t].cmd, true);
		fprintf(f, " |\n");
	}

	fprintf(f, "\n## Results\n\nMedians over rounds; differences against ");
	md_code(f, n_tracers(cfg) ? cfg->tracers[0].name : "", false);
	fprintf(f, " with their 95 %% confidence interval and verdict (see *Statistics*).\n");
	for (int s = 0; s < n_scenarios(cfg); s++)
		md_tables(res, f, s);

	fprintf(f, "\n## Grades\n\n| tracer | grade | throughput loss %% | p99 added ms | "
		"tracer CPU %% | capture %% | drops |\n|---|---|---|---|---|---|---|\n");
	for (int t = 1; t < n_tracers(cfg); t++) {
		const struct lab_bench_grade *g = &res->grades[t];

		if (!is_traced(cfg->tracers[t].kind))
			continue;
		fprintf(f, "| ");
		md_cell(f, cfg->tracers[t].name);
		fprintf(f, " | **%s** | %s (%s) | %s (%s) | %s (%s) | %s (%s) | ",
			lab_grade_name(g->grade), lab_fmt_num(g->loss_pct, 1), lab_grade_name(g->by[0]),
			lab_fmt_num(g->p99_added_ms, 3), lab_grade_name(g->by[1]),
			lab_fmt_num(g->cpu_pct, 2), lab_grade_name(g->by[2]),
			lab_fmt_num(g->capture_pct, 2), lab_grade_name(g->by[3]));
		if (g->drops < 0)
			fprintf(f, "n/a |\n");
		else
			fprintf(f, "%ld |\n", g->drops);
	}
	fprintf(f, "\n```\n%s\n```\n", GRADE_FORMULA);

	fprintf(f, "\n## Thresholds\n\n%d failed.\n\n| tracer | check | limit | observed | status | "
		"detail |\n|---|---|---:|---:|---|---|\n", res->checks_failed);
	for (int t = 1; t < n_tracers(cfg); t++)
		for (int i = 0; i < LAB_THRESHOLDS_N; i++) {
			const struct lab_threshold_result *c = &res->checks[t][i];

			if (!is_traced(cfg->tracers[t].kind) || !c->key)
				continue;
			fprintf(f, "| ");
			md_cell(f, cfg->tracers[t].name);
			fprintf(f, " | %s | %s | %s | %s | ", c->key, lab_fmt_num(c->limit, check_prec(c->key)),
				lab_fmt_num(c->observed, check_prec(c->key)), lab_check_name(c->status));
			md_cell(f, c->detail);
			fprintf(f, " |\n");
		}

	if (res->calibration.done) {
		fprintf(f, "\n## Calibration\n\n**%s**: %s us of CPU added per request, measured back as "
			"the difference of the medians of server CPU per request (tolerance %.0f %%).\n\n"
			"| scenario | measured us/req | error %% |\n|---|---:|---:|\n",
			res->calibration.pass ? "pass" : "FAIL",
			lab_fmt_num(res->calibration.expected_us, 2), LAB_BENCH_CALIBRATE_TOLERANCE_PCT);
		for (int s = 0; s < n_scenarios(cfg); s++) {
			fprintf(f, "| ");
			md_cell(f, cfg->scenarios[s].name);
			fprintf(f, " | %s | %s |\n", lab_fmt_num(res->calibration.measured_us[s], 2),
				lab_fmt_num(res->calibration.error_pct[s], 1));
		}
	}
	if (cfg->aa)
		fprintf(f, "\n## A/A\n\n**%s**: %d differences called between two identical baselines "
			"(throughput, p50, p90, p99, server CPU per request; every scenario: %d "
			"comparisons, each at %s %% confidence, so that a sound lab passes 95 %% of "
			"the time).\n",
			res->aa_differences ? "FAIL" : "pass", res->aa_differences,
			res->aa_comparisons, lab_fmt_num(res->aa_confidence * 100, 2));
	if (res->baseline_loaded) {
		fprintf(f, "\n## Against the baseline\n\n");
		md_code(f, cfg->baseline_path, false);
		fprintf(f, ": %d comparisons, %d regressions.\n", res->baseline_comparisons,
			res->nregressions);
		if (res->nregressions)
			fprintf(f, "\n| scenario | tracer | metric | old | new | diff %% | 95 %% CI | "
				"verdict |\n|---|---|---|---:|---:|---:|---|---|\n");
		for (int i = 0; i < res->nregressions; i++) {
			const struct lab_bench_regression *g = &res->regressions[i];
			int p = lab_metrics[g->metric].prec;

			fprintf(f, "| ");
			md_cell(f, scenario_name(cfg, g->scenario));
			fprintf(f, " | ");
			md_cell(f, tracer_name(cfg, g->tracer));
			fprintf(f, " | %s | %s | %s | %s | %s..%s | %s |\n", lab_metrics[g->metric].key,
				lab_fmt_num(g->diff.median_a, p), lab_fmt_num(g->diff.median_b, p),
				lab_fmt_num(g->diff.diff_pct, 1), lab_fmt_num(g->diff.ci_low, p),
				lab_fmt_num(g->diff.ci_high, p), lab_verdict_name(g->diff.verdict));
		}
	}
	fprintf(f, "\n## Recommendations\n\n");
	if (!res->nrecommendations)
		fprintf(f, "None.\n");
	for (int i = 0; i < res->nrecommendations; i++)
		fprintf(f, "- %s\n", res->recommendations[i]);
	fprintf(f, "\n## Statistics\n\n%s", STATS_METHOD);
}

/* --- charts -------------------------------------------------------------- */

static int latency_chart(const struct lab_bench_result *res, FILE *f, int s)
{
	const struct lab_bench_config *cfg = res->cfg;
	int ng = ARRAY_N(latency_metrics), nt = n_tracers(cfg);
	double values[ARRAY_N(latency_metrics) * LAB_BENCH_TRACERS_MAX], lo = NAN, hi = NAN;
	const char *names[LAB_BENCH_TRACERS_MAX];
	char title[160];

	for (int t = 0; t < nt; t++)
		names[t] = cfg->tracers[t].name;
	for (int g = 0; g < ng; g++)
		for (int t = 0; t < nt; t++) {
			double v = res->cells[s][t].median[latency_metrics[g]];

			values[g * nt + t] = v;
			if (v > 0) {
				lo = fmin(lo, v);
				hi = fmax(hi, v);
			}
		}
	snprintf(title, sizeof(title), "Latency, %s (median over rounds)", cfg->scenarios[s].name);
	return lab_svg_bar_chart(f, title, "latency (ms)", latency_groups, ng, names, nt, values,
				 hi / lo > LOG_AXIS_RATIO);
}

/* Per tracer, the median over rounds of each second's completed requests. */
static int throughput_chart(const struct lab_bench_result *res, FILE *f, int s)
{
	const struct lab_bench_config *cfg = res->cfg;
	struct lab_svg_series series[LAB_BENCH_TRACERS_MAX];
	double *xs[LAB_BENCH_TRACERS_MAX] = { 0 }, *ys[LAB_BENCH_TRACERS_MAX] = { 0 };
	double vals[LAB_BENCH_ROUNDS_MAX * 2];
	char title[160];
	int nt = n_tracers(cfg), ret = 0;

	for (int t = 0; t < nt; t++) {
		uint32_t len = 0;

		series[t].name = cfg->tracers[t].name;
		series[t].x = series[t].y = NULL;
		series[t].n = 0;
		for (int i = 0; i < res->nruns; i++) {
			const struct lab_bench_run *r = &res->runs[i];

			if (run_usable(res, r) && r->scenario == s && r->tracer == t && r->per_sec &&
			    r->per_sec_len > len)
				len = r->per_sec_len;
		}
		if (len > PER_SEC_MAX)
			len = PER_SEC_MAX;
		if (!len)
			continue;
		xs[t] = calloc(len, sizeof(double));
		ys[t] = calloc(len, sizeof(double));
		if (!xs[t] || !ys[t]) {
			ret = -ENOMEM;
			goto out;
		}
		for (uint32_t k = 0; k < len; k++) {
			int n = 0;

			for (int i = 0; i < res->nruns && n < ARRAY_N(vals); i++) {
				const struct lab_bench_run *r = &res->runs[i];

				if (run_usable(res, r) && r->scenario == s && r->tracer == t &&
				    r->per_sec && k < r->per_sec_len)
					vals[n++] = r->per_sec[k];
			}
			xs[t][k] = k + 1;
			ys[t][k] = lab_median(vals, n);
		}
		series[t].x = xs[t];
		series[t].y = ys[t];
		series[t].n = (int)len;
	}
	snprintf(title, sizeof(title), "Throughput, %s (median over rounds of each second)",
		 cfg->scenarios[s].name);
	ret = lab_svg_line_chart(f, title, "seconds into the run", "completed requests/s", series, nt,
				 false);
out:
	for (int t = 0; t < nt; t++) {
		free(xs[t]);
		free(ys[t]);
	}
	return ret;
}

/* --- the results directory ----------------------------------------------- */

enum out_kind { OUT_JSON, OUT_SUMMARY, OUT_REPORT, OUT_LATENCY, OUT_THROUGHPUT };

struct out_ctx {
	const struct lab_bench_result *res;
	enum out_kind kind;
	int s;
};

static int write_out(FILE *f, const void *arg)
{
	const struct out_ctx *c = arg;

	switch (c->kind) {
	case OUT_JSON:
		return lab_bench_write_json(c->res, f);
	case OUT_SUMMARY:
		lab_bench_write_summary(c->res, f);
		return 0;
	case OUT_REPORT:
		write_report_md(c->res, f);
		return 0;
	case OUT_LATENCY:
		return latency_chart(c->res, f, c->s);
	case OUT_THROUGHPUT:
		return throughput_chart(c->res, f, c->s);
	}
	return -EINVAL;
}

static int write_one(const struct lab_bench_result *res, const char *name, enum out_kind kind,
		     int s, char *err, size_t len)
{
	struct out_ctx c = { res, kind, s };

	return lab_write_file(res->cfg->out_dir, name, write_out, &c, err, len);
}

int lab_bench_write_all(const struct lab_bench_result *res, char *err, size_t len)
{
	char name[LAB_BENCH_NAME_BYTES * 3 + 32];
	int ret;

	if (!res || !res->cfg || !res->cfg->out_dir[0]) {
		lab_set_err(err, len, "bench report: no results directory");
		return -EINVAL;
	}
	ret = write_one(res, "results.json", OUT_JSON, -1, err, len);
	if (!ret)
		ret = write_one(res, "summary.txt", OUT_SUMMARY, -1, err, len);
	if (!ret)
		ret = write_one(res, "report.md", OUT_REPORT, -1, err, len);
	for (int s = 0; s < n_scenarios(res->cfg) && !ret; s++) {
		chart_name(name, sizeof(name), "latency", res->cfg->scenarios[s].name);
		ret = write_one(res, name, OUT_LATENCY, s, err, len);
		if (ret)
			break;
		chart_name(name, sizeof(name), "throughput", res->cfg->scenarios[s].name);
		ret = write_one(res, name, OUT_THROUGHPUT, s, err, len);
	}
	return ret;
}
