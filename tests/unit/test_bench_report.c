/* The report side of `sonde bench` on synthetic runs whose answers are known:
 * medians, verdicts against the baseline, grades, calibration, A/A,
 * thresholds and the exit code, the results.json schema (parsed back with
 * jansson), the comparison with an earlier results.json, and well-formed
 * SVG charts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/bench.h"

#define ROUNDS 6
#define PER_SEC_LEN 10
#define ARRAY_N(x) ((int)(sizeof(x) / sizeof((x)[0])))

/* Round-to-round noise, in units of a metric's spread: median 0.25. */
static const double noise[ROUNDS] = { 0, 1, -1, 2, -2, 0.5 };
/* The same values in another order: an A/A twin. */
static const double noise_twin[ROUNDS] = { 2, -2, 0.5, 0, 1, -1 };

enum { T_NONE, T_SONDE, T_CAL };

/* What the synthetic tracer "sonde" costs, and the calibrate tracer adds. */
struct opts {
	double sonde_rps_factor;   /* 0.99: 1 % fewer requests/s */
	double sonde_p99_factor;   /* 1.5: p99 x 1.5 */
	double sonde_cpu_pct;
	double sonde_capture_pct;
	double sonde_drops;
	double cal_extra_us;       /* server CPU the calibrate tracer adds, measured */
	bool aa;                   /* tracers: none, none-b (A/A) instead of none, sonde, calibrate */
};

static const struct opts defaults = {
	.sonde_rps_factor = 0.99,
	.sonde_p99_factor = 1.5,
	.sonde_cpu_pct = 0.8,
	.sonde_capture_pct = 100,
	.sonde_drops = 0,
	.cal_extra_us = 20.5,
};

struct fixture {
	struct lab_bench_config cfg;
	struct lab_bench_result res;
	char dir[64];
};

static const double base_rps[2] = { 50, 9000 };

static void fill_run(struct lab_bench_run *r, const struct opts *o, int s, int t, int round,
		     enum lab_tracer_kind kind)
{
	double k = (o->aa && t == 1) ? noise_twin[round] : noise[round];
	double lat = 1 + 0.01 * k;

	r->scenario = s;
	r->tracer = t;
	r->round = round;
	r->ok = true;
	for (int m = 0; m < LAB_M_COUNT; m++)
		r->m[m] = NAN;
	r->m[LAB_M_RPS] = base_rps[s] * (1 + 0.002 * k);
	r->m[LAB_M_P50_MS] = 0.2 * lat;
	r->m[LAB_M_P90_MS] = 0.5 * lat;
	r->m[LAB_M_P99_MS] = 1.0 * lat;
	r->m[LAB_M_P999_MS] = 2.0 * lat;
	r->m[LAB_M_MAX_MS] = 5.0 * lat;
	r->m[LAB_M_ERRORS] = 0;
	r->m[LAB_M_SERVER_CPU_US] = 10 * (1 + 0.005 * k);
	if (kind == LAB_TRACER_SONDE) {
		r->m[LAB_M_RPS] *= o->sonde_rps_factor;
		r->m[LAB_M_P99_MS] *= o->sonde_p99_factor;
		r->m[LAB_M_SERVER_CPU_US] += 0.3;
		r->m[LAB_M_TRACER_CPU_PCT] = o->sonde_cpu_pct * (1 + 0.01 * k);
		r->m[LAB_M_TRACER_CPU_US] = 1.5;
		r->m[LAB_M_BPF_NS] = 800 + k;
		r->m[LAB_M_BPF_CPU_PCT] = 0.1;
		r->m[LAB_M_RSS_MB] = 12 + round * 0.1;
		r->m[LAB_M_FDS] = 9;
		r->m[LAB_M_CTXSW] = 100;
		r->m[LAB_M_CAPTURE_PCT] = o->sonde_capture_pct;
		r->m[LAB_M_EVENTS_PER_S] = r->m[LAB_M_RPS] * o->sonde_capture_pct / 100;
		r->m[LAB_M_DROPS] = o->sonde_drops;
	} else if (kind == LAB_TRACER_CALIBRATE) {
		r->m[LAB_M_SERVER_CPU_US] += o->cal_extra_us;
	}
	r->m[LAB_M_REQUESTS] = r->m[LAB_M_RPS] * 10;
	if (kind == LAB_TRACER_SONDE)
		r->m[LAB_M_EVENTS] = r->m[LAB_M_REQUESTS] * o->sonde_capture_pct / 100;
	r->scheduled = r->issued = r->completed = (uint64_t)r->m[LAB_M_REQUESTS];
	r->elapsed_s = 10;
	r->per_sec = calloc(PER_SEC_LEN, sizeof(*r->per_sec));
	assert_non_null(r->per_sec);
	r->per_sec_len = PER_SEC_LEN;
	for (int i = 0; i < PER_SEC_LEN; i++)
		r->per_sec[i] = (uint32_t)(r->m[LAB_M_RPS] + (i % 3) - 1);
}

static void add_tracer(struct lab_bench_config *cfg, const char *name, enum lab_tracer_kind kind,
		       const char *cmd)
{
	struct lab_bench_tracer *t = &cfg->tracers[cfg->ntracers++];

	snprintf(t->name, sizeof(t->name), "%s", name);
	t->kind = kind;
	snprintf(t->cmd, sizeof(t->cmd), "%s", cmd);
}

static struct fixture *fixture_new(const struct opts *o)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct lab_bench_config *cfg;
	struct lab_bench_result *res;

	assert_non_null(fx);
	cfg = &fx->cfg;
	res = &fx->res;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_bench_report_XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(cfg->out_dir, sizeof(cfg->out_dir), "%s", fx->dir);

	cfg->target = LAB_TARGET_BUILTIN;
	cfg->body_bytes = 256;
	cfg->rounds = ROUNDS;
	cfg->duration_s = 10;
	cfg->warmup_s = 2;
	snprintf(cfg->scenarios[0].name, LAB_BENCH_NAME_BYTES, "light");
	cfg->scenarios[0].rate = 50;
	cfg->scenarios[0].conns = 5;
	/* A '%' in the name: the chart's file name must still be usable. */
	snprintf(cfg->scenarios[1].name, LAB_BENCH_NAME_BYTES, "sweep-50%%");
	cfg->scenarios[1].rate = 0;
	cfg->scenarios[1].conns = 50;
	cfg->scenarios[1].sweep_frac = 0.5;
	cfg->nscenarios = 2;
	add_tracer(cfg, "none", LAB_TRACER_NONE, "");
	if (o->aa) {
		add_tracer(cfg, "none-b", LAB_TRACER_NONE, "");
		cfg->aa = true;
	} else {
		add_tracer(cfg, "sonde", LAB_TRACER_SONDE, "sonde http --json");
		add_tracer(cfg, "calibrate", LAB_TRACER_CALIBRATE, "");
		cfg->calibrate_ns = 20000;
	}
	lab_thresholds_default(&cfg->thresholds);

	res->cfg = cfg;
	snprintf(res->started, sizeof(res->started), "2024-01-02T03:04:05Z");
	res->wall_s = 123;
	res->saturation_rps = NAN;
	res->nruns = cfg->rounds * cfg->ntracers * cfg->nscenarios;
	res->runs = calloc((size_t)res->nruns, sizeof(*res->runs));
	assert_non_null(res->runs);
	for (int round = 0; round < cfg->rounds; round++)
		for (int t = 0; t < cfg->ntracers; t++)
			for (int s = 0; s < cfg->nscenarios; s++)
				fill_run(&res->runs[lab_bench_run_index(cfg, round, t, s)], o, s, t,
					 round, cfg->tracers[t].kind);
	return fx;
}

static void fixture_free(struct fixture *fx)
{
	char cmd[128];

	lab_bench_result_free(&fx->res);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
}

static void summarize_ok(struct fixture *fx)
{
	char err[256] = "";
	int rc = lab_bench_summarize(&fx->res, err, sizeof(err));

	if (rc)
		fail_msg("lab_bench_summarize: %d %s", rc, err);
}

static void assert_near(double got, double want, double eps)
{
	if (!(fabs(got - want) <= eps))
		fail_msg("got %.12g, want %.12g (+- %g)", got, want, eps);
}

static bool has_recommendation(const struct lab_bench_result *res, const char *needle)
{
	for (int i = 0; i < res->nrecommendations; i++)
		if (strstr(res->recommendations[i], needle))
			return true;
	return false;
}

/* ---- the metric table --------------------------------------------------- */

static void test_metric_table(void **st)
{
	static const char *const keys[LAB_M_COUNT] = {
		"rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "errors", "requests",
		"server_cpu_us_per_req", "tracer_cpu_pct", "tracer_cpu_us_per_req", "bpf_ns_per_req",
		"bpf_cpu_pct", "rss_mb", "fds", "ctx_switches", "events", "events_per_s",
		"capture_pct", "drops",
	};

	(void)st;
	for (int m = 0; m < LAB_M_COUNT; m++) {
		assert_non_null(lab_metrics[m].key);
		assert_string_equal(lab_metrics[m].key, keys[m]);
		assert_non_null(lab_metrics[m].label);
		assert_true(lab_metrics[m].floor.rel > 0 || lab_metrics[m].floor.abs > 0);
	}
	assert_near(lab_metrics[LAB_M_RPS].floor.rel, 0.02, 1e-12);
	assert_int_equal(lab_metrics[LAB_M_RPS].worse, -1);
	assert_near(lab_metrics[LAB_M_P99_MS].floor.rel, 0.05, 1e-12);
	assert_near(lab_metrics[LAB_M_P99_MS].floor.abs, 0.01, 1e-12);
	assert_int_equal(lab_metrics[LAB_M_P99_MS].worse, 1);
	assert_near(lab_metrics[LAB_M_TRACER_CPU_PCT].floor.abs, 0.2, 1e-12);
	assert_near(lab_metrics[LAB_M_RSS_MB].floor.abs, 1, 1e-12);
	assert_string_equal(lab_grade_name(LAB_GRADE_A_PLUS), "A+");
	assert_string_equal(lab_grade_name(LAB_GRADE_D), "D");
}

/* ---- summarize ---------------------------------------------------------- */

static void test_medians_verdicts_grade(void **st)
{
	struct fixture *fx = fixture_new(&defaults);
	struct lab_bench_result *res = &fx->res;
	const struct lab_bench_cell *base, *sonde;

	(void)st;
	summarize_ok(fx);
	base = &res->cells[0][T_NONE];
	sonde = &res->cells[0][T_SONDE];
	assert_int_equal(base->ok_rounds, ROUNDS);
	assert_int_equal(sonde->ok_rounds, ROUNDS);
	/* noise sorted: -2 -1 0 0.5 1 2, median 0.25 */
	assert_near(base->median[LAB_M_P99_MS], 1.0025, 1e-12);
	assert_near(base->median[LAB_M_RPS], 50 * 1.0005, 1e-9);
	assert_true(isnan(base->median[LAB_M_TRACER_CPU_PCT]));
	assert_near(sonde->median[LAB_M_P99_MS], 1.5 * 1.0025, 1e-12);
	assert_near(sonde->median[LAB_M_TRACER_CPU_PCT], 0.8 * 1.0025, 1e-12);

	/* p99 x 1.5: clearly higher; a 1 % loss is under the 2 % floor. */
	assert_int_equal(sonde->vs_base[LAB_M_P99_MS].verdict, LAB_VERDICT_HIGHER);
	assert_near(sonde->vs_base[LAB_M_P99_MS].diff, 0.5 * 1.0025, 1e-12);
	assert_true(sonde->vs_base[LAB_M_P99_MS].ci_low > 0);
	assert_int_equal(sonde->vs_base[LAB_M_RPS].verdict, LAB_VERDICT_SAME);
	assert_true(sonde->vs_base[LAB_M_RPS].ci_high < 0); /* real, but under the floor */
	assert_int_equal(sonde->vs_base[LAB_M_P50_MS].verdict, LAB_VERDICT_SAME);
	/* No tracer CPU in the baseline: nothing to pair. */
	assert_int_equal(sonde->vs_base[LAB_M_TRACER_CPU_PCT].verdict, LAB_VERDICT_UNKNOWN);
	assert_int_equal(base->vs_base[LAB_M_P99_MS].verdict, LAB_VERDICT_UNKNOWN);

	/* Grade: loss 0 (A+), p99 +0.50 ms (B), CPU 0.8 % (A+), capture 100 % (A+). */
	assert_int_equal(res->grades[T_SONDE].grade, LAB_GRADE_B);
	assert_int_equal(res->grades[T_SONDE].by[0], LAB_GRADE_A_PLUS);
	assert_int_equal(res->grades[T_SONDE].by[1], LAB_GRADE_B);
	assert_int_equal(res->grades[T_SONDE].by[2], LAB_GRADE_A_PLUS);
	assert_int_equal(res->grades[T_SONDE].by[3], LAB_GRADE_A_PLUS);
	assert_near(res->grades[T_SONDE].loss_pct, 0, 0);
	assert_near(res->grades[T_SONDE].p99_added_ms, 0.5 * 1.0025, 1e-12);
	assert_int_equal(res->grades[T_SONDE].drops, 0);
	assert_int_equal(res->grades[T_NONE].grade, LAB_GRADE_NONE);
	assert_int_equal(res->grades[T_CAL].grade, LAB_GRADE_NONE);

	/* Thresholds: CPU, RSS, p99 (0.50 <= 1) pass; events/s never reached
	 * 10000 without loss: not measured, and a hint to run saturation. */
	assert_int_equal(res->checks_failed, 0);
	assert_string_equal(res->checks[T_SONDE][0].key, "tracer_cpu_pct");
	assert_int_equal(res->checks[T_SONDE][0].status, LAB_CHECK_PASS);
	assert_int_equal(res->checks[T_SONDE][1].status, LAB_CHECK_PASS);
	assert_near(res->checks[T_SONDE][1].observed, 12.5, 1e-9);
	assert_int_equal(res->checks[T_SONDE][2].status, LAB_CHECK_NOT_MEASURED);
	assert_near(res->checks[T_SONDE][2].observed, 9000 * 0.99 * 1.004, 1e-6);
	assert_int_equal(res->checks[T_SONDE][3].status, LAB_CHECK_PASS);
	assert_true(has_recommendation(res, "--scenario saturation"));
	assert_true(has_recommendation(res, "adds 0.501 ms to p99"));

	/* Calibration: 20.5 us measured for 20 us: +2.5 %. */
	assert_true(res->calibration.done);
	assert_true(res->calibration.pass);
	assert_near(res->calibration.expected_us, 20, 1e-12);
	assert_near(res->calibration.measured_us[0], 20.5, 1e-9);
	assert_near(res->calibration.error_pct[1], 2.5, 1e-6);
	assert_int_equal(lab_bench_exit_code(res), 0);
	fixture_free(fx);
}

static void test_loss_lower_graded(void **st)
{
	struct opts o = defaults;
	struct fixture *fx;

	(void)st;
	o.sonde_rps_factor = 0.93; /* 7 % loss: C */
	o.sonde_p99_factor = 1.0;
	fx = fixture_new(&o);
	summarize_ok(fx);
	assert_int_equal(fx->res.cells[1][T_SONDE].vs_base[LAB_M_RPS].verdict, LAB_VERDICT_LOWER);
	assert_near(fx->res.grades[T_SONDE].loss_pct, 7, 1e-9);
	assert_int_equal(fx->res.grades[T_SONDE].by[0], LAB_GRADE_C);
	assert_int_equal(fx->res.grades[T_SONDE].by[1], LAB_GRADE_A_PLUS); /* same: 0 */
	assert_int_equal(fx->res.grades[T_SONDE].grade, LAB_GRADE_C);
	fixture_free(fx);
}

static void test_calibration_outside(void **st)
{
	struct opts o = defaults;
	struct fixture *fx;

	(void)st;
	o.cal_extra_us = 25; /* +25 % */
	fx = fixture_new(&o);
	summarize_ok(fx);
	assert_true(fx->res.calibration.done);
	assert_false(fx->res.calibration.pass);
	assert_near(fx->res.calibration.error_pct[0], 25, 1e-6);
	assert_int_equal(lab_bench_exit_code(&fx->res), 1);
	assert_true(has_recommendation(&fx->res, "calibration failed"));
	fixture_free(fx);

	o.cal_extra_us = 18.5; /* -7.5 %: within */
	fx = fixture_new(&o);
	summarize_ok(fx);
	assert_true(fx->res.calibration.pass);
	assert_int_equal(lab_bench_exit_code(&fx->res), 0);
	fixture_free(fx);
}

static void test_aa_identical(void **st)
{
	struct opts o = defaults;
	struct fixture *fx;

	(void)st;
	o.aa = true;
	fx = fixture_new(&o);
	summarize_ok(fx);
	assert_int_equal(fx->res.aa_differences, 0);
	/* one family: 2 scenarios x 5 metrics, each at 1 - 0.05 / 10 */
	assert_int_equal(fx->res.aa_comparisons, 10);
	assert_true(fabs(fx->res.aa_confidence - 0.995) < 1e-12);
	assert_false(fx->res.calibration.done);
	assert_int_equal(fx->res.checks_failed, 0);
	assert_int_equal(fx->res.cells[0][1].vs_base[LAB_M_P99_MS].verdict, LAB_VERDICT_SAME);
	assert_int_equal(lab_bench_exit_code(&fx->res), 0);
	/* A shifted twin is caught. */
	for (int i = 0; i < fx->res.nruns; i++)
		if (fx->res.runs[i].tracer == 1)
			fx->res.runs[i].m[LAB_M_P99_MS] *= 1.3;
	summarize_ok(fx);
	assert_int_equal(fx->res.aa_differences, 2); /* p99 on both scenarios */
	assert_int_equal(lab_bench_exit_code(&fx->res), 1);
	fixture_free(fx);
}

static void test_threshold_fail_exit_code(void **st)
{
	struct opts o = defaults;
	struct fixture *fx;

	(void)st;
	o.sonde_cpu_pct = 8;
	fx = fixture_new(&o);
	summarize_ok(fx);
	assert_int_equal(fx->res.checks[T_SONDE][0].status, LAB_CHECK_FAIL);
	assert_int_equal(fx->res.checks_failed, 1);
	assert_int_equal(fx->res.grades[T_SONDE].by[2], LAB_GRADE_C);
	assert_int_equal(lab_bench_exit_code(&fx->res), 1);
	assert_true(has_recommendation(&fx->res, "--pid"));
	fixture_free(fx);
}

static void test_drops_and_missing_events(void **st)
{
	struct opts o = defaults;
	struct fixture *fx;

	(void)st;
	o.sonde_drops = 5;
	o.sonde_capture_pct = 99.5;
	fx = fixture_new(&o);
	summarize_ok(fx);
	assert_int_equal(fx->res.grades[T_SONDE].drops, 5 * ROUNDS * 2);
	assert_int_equal(fx->res.grades[T_SONDE].by[3], LAB_GRADE_B);
	/* Lost events at 50/s <= 10000/s: events_per_s fails. */
	assert_int_equal(fx->res.checks[T_SONDE][2].status, LAB_CHECK_FAIL);
	assert_true(has_recommendation(&fx->res, "--ringbuf-kb"));
	assert_false(has_recommendation(&fx->res, "without a counter"));
	fixture_free(fx);

	o.sonde_drops = 0;
	fx = fixture_new(&o);
	summarize_ok(fx);
	assert_true(has_recommendation(&fx->res, "without a counter: a bug"));
	assert_false(has_recommendation(&fx->res, "--ringbuf-kb"));
	assert_false(has_recommendation(&fx->res, "counts other traffic"));
	fixture_free(fx);

	/* twice as many events as requests: other traffic, said; a request
	 * or two at a round's edge is not */
	o.sonde_capture_pct = 200;
	fx = fixture_new(&o);
	summarize_ok(fx);
	assert_true(has_recommendation(&fx->res, "200.00 % as many events as"));
	assert_true(has_recommendation(&fx->res, "counts other traffic too"));
	fixture_free(fx);
	o.sonde_capture_pct = 100.2;
	fx = fixture_new(&o);
	summarize_ok(fx);
	assert_false(has_recommendation(&fx->res, "counts other traffic"));
	fixture_free(fx);
}

static void test_failed_and_missing_runs(void **st)
{
	struct fixture *fx = fixture_new(&defaults);
	struct lab_bench_result *res = &fx->res;
	struct lab_bench_run *r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	json_t *root, *runs;
	json_error_t jerr;
	int notrun = 0;

	(void)st;
	/* Round 2 of sonde on light failed; round 6 of sonde never ran. */
	r = &res->runs[lab_bench_run_index(&fx->cfg, 1, T_SONDE, 0)];
	r->ok = false;
	snprintf(r->error, sizeof(r->error), "sonde did not answer SIGUSR1");
	for (int s = 0; s < 2; s++) {
		r = &res->runs[lab_bench_run_index(&fx->cfg, ROUNDS - 1, T_SONDE, s)];
		free(r->per_sec);
		memset(r, 0, sizeof(*r));
	}
	summarize_ok(fx);
	assert_int_equal(res->cells[0][T_SONDE].ok_rounds, ROUNDS - 2);
	assert_int_equal(res->cells[1][T_SONDE].ok_rounds, ROUNDS - 1);
	assert_int_equal(res->cells[0][T_SONDE].vs_base[LAB_M_P99_MS].n, ROUNDS - 2);
	assert_int_equal(res->cells[0][T_SONDE].vs_base[LAB_M_P99_MS].verdict, LAB_VERDICT_HIGHER);
	assert_true(has_recommendation(res, "1 run failed and was left out"));

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(lab_bench_write_json(res, f), 0);
	fclose(f);
	root = json_loads(buf, 0, &jerr);
	assert_non_null(root);
	runs = json_object_get(root, "runs");
	assert_int_equal(json_array_size(runs), (size_t)res->nruns);
	for (size_t i = 0; i < json_array_size(runs); i++) {
		json_t *row = json_array_get(runs, i);
		json_t *e = json_object_get(row, "error");

		if (json_is_string(e) && !strcmp(json_string_value(e), "not run")) {
			notrun++;
			assert_string_equal(json_string_value(json_object_get(row, "tracer")), "sonde");
			assert_int_equal(json_integer_value(json_object_get(row, "round")), ROUNDS);
			assert_false(json_is_true(json_object_get(row, "ok")));
		}
	}
	assert_int_equal(notrun, 2);
	json_decref(root);
	free(buf);
	fixture_free(fx);
}

static void test_noisy_machine_and_target_errors(void **st)
{
	/* p99 of the tracer scattered by +-50 % around x1.5: wide intervals. */
	static const double scatter[ROUNDS] = { 1.0, 1.5, 0.5, 1.4, 0.6, 1.2 };
	struct fixture *fx = fixture_new(&defaults);
	struct lab_bench_result *res = &fx->res;

	(void)st;
	summarize_ok(fx);
	assert_false(has_recommendation(res, "noisy"));
	assert_false(has_recommendation(res, "target itself"));
	for (int i = 0; i < res->nruns; i++) {
		struct lab_bench_run *r = &res->runs[i];

		if (r->tracer != T_NONE)
			r->m[LAB_M_P99_MS] *= scatter[r->round];
		else if (r->scenario == 1)
			r->m[LAB_M_ERRORS] = 12;
	}
	summarize_ok(fx);
	assert_true(has_recommendation(res, "the machine was noisy"));
	assert_true(has_recommendation(res, "`--rounds`"));
	assert_true(has_recommendation(res, "the target itself failed 12 requests per run"));
	assert_true(has_recommendation(res, "sweep-50%"));
	fixture_free(fx);
}

/* ---- results.json ------------------------------------------------------- */

static json_t *load_results(const char *dir)
{
	char path[128];
	json_error_t jerr;
	json_t *root;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		fail_msg("%s: line %d: %s", path, jerr.line, jerr.text);
	return root;
}

#define assert_json_type(obj, key, pred)                                                       \
	do {                                                                                   \
		json_t *v_ = json_object_get((obj), (key));                                     \
		if (!v_ || !pred(v_))                                                            \
			fail_msg("key \"%s\": missing or not %s", (key), #pred);                 \
	} while (0)

static bool is_number_or_null(const json_t *v)
{
	return json_is_number(v) || json_is_null(v);
}

static bool is_string_or_null(const json_t *v)
{
	return json_is_string(v) || json_is_null(v);
}

static bool is_object_or_null(const json_t *v)
{
	return json_is_object(v) || json_is_null(v);
}

static void test_json_schema(void **st)
{
	static const char *const top[] = {
		"schema", "started", "wall_s", "config", "saturation_rps", "runs", "summary",
		"calibration", "aa", "grades", "thresholds", "recommendations", "baseline",
		"exit_code", "error",
	};
	struct fixture *fx = fixture_new(&defaults);
	char err[256] = "";
	json_t *root, *cfg, *runs, *row, *metrics, *summary, *grades, *v;
	const char *key;
	size_t i;

	(void)st;
	summarize_ok(fx);
	assert_int_equal(lab_bench_write_all(&fx->res, err, sizeof(err)), 0);
	root = load_results(fx->dir);

	for (i = 0; i < sizeof(top) / sizeof(top[0]); i++)
		if (!json_object_get(root, top[i]))
			fail_msg("results.json has no \"%s\"", top[i]);
	assert_string_equal(json_string_value(json_object_get(root, "schema")), LAB_BENCH_SCHEMA);
	assert_json_type(root, "started", json_is_string);
	assert_json_type(root, "wall_s", json_is_number);
	assert_json_type(root, "saturation_rps", json_is_null); /* NaN */
	assert_json_type(root, "runs", json_is_array);
	assert_json_type(root, "summary", json_is_array);
	assert_json_type(root, "calibration", json_is_object);
	assert_json_type(root, "aa", json_is_null);
	assert_json_type(root, "grades", json_is_array);
	assert_json_type(root, "thresholds", json_is_array);
	assert_json_type(root, "recommendations", json_is_array);
	assert_json_type(root, "baseline", json_is_null);
	assert_json_type(root, "exit_code", json_is_integer);
	assert_int_equal(json_integer_value(json_object_get(root, "exit_code")), 0);

	cfg = json_object_get(root, "config");
	assert_non_null(cfg);
	assert_string_equal(json_string_value(json_object_get(cfg, "target")), "builtin");
	assert_json_type(cfg, "url", json_is_null);
	assert_json_type(cfg, "body_bytes", json_is_integer);
	assert_json_type(cfg, "work_ns", json_is_integer);
	assert_json_type(cfg, "new_conn", json_is_boolean);
	assert_json_type(cfg, "rounds", json_is_integer);
	assert_json_type(cfg, "duration_s", json_is_number);
	assert_json_type(cfg, "warmup_s", json_is_number);
	assert_json_type(cfg, "quick", json_is_boolean);
	assert_json_type(cfg, "calibrate_ns", json_is_integer);
	assert_json_type(cfg, "aa", json_is_boolean);
	assert_json_type(cfg, "thresholds", json_is_object);
	v = json_object_get(cfg, "scenarios");
	assert_int_equal(json_array_size(v), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "mode")), "open");
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "mode")), "closed");
	assert_json_type(json_array_get(v, 1), "rate", json_is_null);
	assert_json_type(json_array_get(v, 1), "sweep_frac", json_is_number);
	assert_json_type(json_array_get(v, 0), "conns", json_is_integer);
	v = json_object_get(cfg, "tracers");
	assert_int_equal(json_array_size(v), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "kind")), "sonde");
	assert_json_type(json_array_get(v, 0), "command", json_is_null);
	assert_json_type(json_array_get(v, 1), "command", json_is_string);

	runs = json_object_get(root, "runs");
	assert_int_equal(json_array_size(runs), (size_t)fx->res.nruns);
	json_array_foreach(runs, i, row) {
		assert_json_type(row, "scenario", json_is_string);
		assert_json_type(row, "tracer", json_is_string);
		assert_json_type(row, "round", json_is_integer);
		assert_json_type(row, "ok", json_is_boolean);
		assert_json_type(row, "error", is_string_or_null);
		assert_json_type(row, "metrics", json_is_object);
		assert_json_type(row, "load", json_is_object);
		assert_json_type(row, "per_sec", json_is_array);
		assert_int_equal(json_array_size(json_object_get(row, "per_sec")), PER_SEC_LEN);
		assert_json_type(json_object_get(row, "load"), "completed", json_is_integer);
		assert_json_type(json_object_get(row, "load"), "elapsed_s", json_is_number);
		metrics = json_object_get(row, "metrics");
		assert_int_equal(json_object_size(metrics), LAB_M_COUNT);
		json_object_foreach(metrics, key, v)
			if (!is_number_or_null(v))
				fail_msg("metric %s is neither a number nor null", key);
		/* NaN is null: "none" has no tracer CPU. */
		if (!strcmp(json_string_value(json_object_get(row, "tracer")), "none")) {
			assert_json_type(metrics, "tracer_cpu_pct", json_is_null);
			assert_json_type(metrics, "p99_ms", json_is_number);
		}
	}
	/* Rounds are 1-based. */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(runs, 0), "round")), 1);

	summary = json_object_get(root, "summary");
	assert_int_equal(json_array_size(summary), 6);
	json_array_foreach(summary, i, row) {
		const char *tr = json_string_value(json_object_get(row, "tracer"));
		json_t *vs = json_object_get(row, "vs_baseline");

		assert_json_type(row, "scenario", json_is_string);
		assert_json_type(row, "ok_rounds", json_is_integer);
		assert_json_type(row, "medians", json_is_object);
		assert_json_type(row, "vs_baseline", is_object_or_null);
		if (!strcmp(tr, "none")) {
			assert_true(json_is_null(vs));
			continue;
		}
		assert_int_equal(json_object_size(vs), LAB_M_COUNT);
		v = json_object_get(vs, "p99_ms");
		assert_json_type(v, "baseline", json_is_number);
		assert_json_type(v, "value", json_is_number);
		assert_json_type(v, "diff", json_is_number);
		assert_json_type(v, "diff_pct", json_is_number);
		assert_json_type(v, "noise_floor", json_is_number);
		assert_json_type(v, "verdict", json_is_string);
		assert_int_equal(json_array_size(json_object_get(v, "ci95")), 2);
		if (!strcmp(tr, "sonde"))
			assert_string_equal(json_string_value(json_object_get(v, "verdict")), "higher");
		/* Unknown difference: nulls, verdict "unknown". */
		v = json_object_get(vs, "tracer_cpu_pct");
		assert_json_type(v, "diff", json_is_null);
		assert_string_equal(json_string_value(json_object_get(v, "verdict")), "unknown");
	}

	grades = json_object_get(root, "grades");
	assert_int_equal(json_array_size(grades), 1);
	v = json_array_get(grades, 0);
	assert_string_equal(json_string_value(json_object_get(v, "tracer")), "sonde");
	assert_string_equal(json_string_value(json_object_get(v, "grade")), "B");
	assert_json_type(v, "loss_pct", json_is_number);
	assert_json_type(v, "p99_added_ms", json_is_number);
	assert_json_type(v, "cpu_pct", json_is_number);
	assert_json_type(v, "capture_pct", json_is_number);
	assert_json_type(v, "drops", json_is_integer);
	assert_json_type(v, "by", json_is_object);
	assert_json_type(v, "formula", json_is_string);

	v = json_object_get(root, "thresholds");
	assert_int_equal(json_array_size(v), LAB_THRESHOLDS_N);
	json_array_foreach(v, i, row) {
		assert_json_type(row, "tracer", json_is_string);
		assert_json_type(row, "key", json_is_string);
		assert_json_type(row, "limit", is_number_or_null);
		assert_json_type(row, "observed", is_number_or_null);
		assert_json_type(row, "status", json_is_string);
		assert_json_type(row, "detail", json_is_string);
	}

	v = json_object_get(root, "calibration");
	assert_json_type(v, "expected_us", json_is_number);
	assert_json_type(v, "pass", json_is_true);
	assert_int_equal(json_array_size(json_object_get(v, "scenarios")), 2);

	json_array_foreach(json_object_get(root, "recommendations"), i, v)
		assert_true(json_is_string(v));
	json_decref(root);
	fixture_free(fx);
}

static void test_json_aa_and_odd_strings(void **st)
{
	struct opts o = defaults;
	struct fixture *fx;
	char err[256] = "";
	json_t *root, *aa;

	(void)st;
	o.aa = true;
	fx = fixture_new(&o);
	/* Not UTF-8, a quote and a control character: still valid JSON. */
	snprintf(fx->cfg.tracers[1].name, LAB_BENCH_NAME_BYTES, "b\xff\"\x01");
	summarize_ok(fx);
	assert_int_equal(lab_bench_write_all(&fx->res, err, sizeof(err)), 0);
	root = load_results(fx->dir);
	aa = json_object_get(root, "aa");
	assert_true(json_is_object(aa));
	assert_int_equal(json_integer_value(json_object_get(aa, "differences")), 0);
	assert_true(json_is_true(json_object_get(aa, "pass")));
	assert_true(json_is_null(json_object_get(root, "calibration")));
	assert_int_equal(json_array_size(json_object_get(root, "grades")), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(json_object_get(root, "config"),
								   "tracers"), 1), "name")),
			    "b?\"\x01");
	json_decref(root);
	fixture_free(fx);
}

/* ---- baseline ----------------------------------------------------------- */

static void test_baseline_regression(void **st)
{
	struct fixture *old = fixture_new(&defaults), *same, *worse;
	struct opts o = defaults;
	char err[256] = "";
	bool found = false;
	json_t *root, *bl;

	(void)st;
	summarize_ok(old);
	assert_int_equal(lab_bench_write_all(&old->res, err, sizeof(err)), 0);
	{
		char path[128];

		snprintf(path, sizeof(path), "%s/results.json", old->dir);
		assert_int_equal(lab_bench_baseline_check(path, err, sizeof(err)), 0);
	}

	/* The same figures again: compared, no regression. */
	same = fixture_new(&defaults);
	snprintf(same->cfg.baseline_path, sizeof(same->cfg.baseline_path), "%s/results.json",
		 old->dir);
	summarize_ok(same);
	assert_true(same->res.baseline_loaded);
	assert_true(same->res.baseline_comparisons > 0);
	assert_int_equal(same->res.nregressions, 0);
	assert_int_equal(lab_bench_exit_code(&same->res), 0);

	/* p99 with sonde 2.5x instead of 1.5x: a regression. */
	o.sonde_p99_factor = 2.5;
	worse = fixture_new(&o);
	snprintf(worse->cfg.baseline_path, sizeof(worse->cfg.baseline_path), "%s/results.json",
		 old->dir);
	summarize_ok(worse);
	assert_true(worse->res.nregressions >= 1);
	for (int i = 0; i < worse->res.nregressions; i++) {
		const struct lab_bench_regression *g = &worse->res.regressions[i];

		assert_int_equal(g->tracer, T_SONDE);
		if (g->metric == LAB_M_P99_MS) {
			found = true;
			assert_int_equal(g->diff.verdict, LAB_VERDICT_HIGHER);
			assert_near(g->diff.median_a, 1.5 * 1.0025, 1e-6);
			assert_near(g->diff.median_b, 2.5 * 1.0025, 1e-6);
		}
	}
	assert_true(found);
	assert_int_equal(lab_bench_exit_code(&worse->res), 1);
	assert_int_equal(lab_bench_write_all(&worse->res, err, sizeof(err)), 0);
	root = load_results(worse->dir);
	bl = json_object_get(root, "baseline");
	assert_true(json_is_object(bl));
	assert_true(json_array_size(json_object_get(bl, "regressions")) >= 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(bl, "regressions"), 0), "tracer")),
			    "sonde");
	assert_int_equal(json_integer_value(json_object_get(root, "exit_code")), 1);
	json_decref(root);
	fixture_free(worse);
	fixture_free(same);
	fixture_free(old);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_baseline_bad_file(void **st)
{
	static const struct {
		const char *content;
		const char *want;
	} cases[] = {
		{ "{\"foo\": 1}\n", "not a sonde bench results.json (no \"schema\"" },
		{ "{\"schema\": \"sonde-bench/9\", \"runs\": []}", "schema \"sonde-bench/9\"" },
		{ "{\"schema\": \"sonde-bench/1\"}", "no \"runs\" array" },
		{ "[1, 2]", "not a sonde bench results.json" },
		{ "hello", "not JSON" },
	};
	struct fixture *fx = fixture_new(&defaults);
	char path[128], err[256];
	int rc;

	(void)st;
	snprintf(path, sizeof(path), "%s/bad.json", fx->dir);
	snprintf(fx->cfg.baseline_path, sizeof(fx->cfg.baseline_path), "%s", path);
	for (int i = 0; i < ARRAY_N(cases); i++) {
		write_text(path, cases[i].content);
		err[0] = '\0';
		rc = lab_bench_summarize(&fx->res, err, sizeof(err));
		assert_int_equal(rc, -EINVAL);
		if (!strstr(err, cases[i].want) || strncmp(err, "baseline ", 9) || strchr(err, '\n'))
			fail_msg("case %d: err \"%s\", want \"%s\"", i, err, cases[i].want);
		assert_false(fx->res.baseline_loaded);
		/* Everything else is still summarized. */
		assert_int_equal(fx->res.grades[T_SONDE].grade, LAB_GRADE_B);
		/* The check before the run gives the same answer. */
		char err2[256] = "";

		assert_int_equal(lab_bench_baseline_check(path, err2, sizeof(err2)), -EINVAL);
		assert_string_equal(err2, err);
	}
	snprintf(fx->cfg.baseline_path, sizeof(fx->cfg.baseline_path), "%s/missing.json", fx->dir);
	rc = lab_bench_summarize(&fx->res, err, sizeof(err));
	assert_int_equal(rc, -ENOENT);
	assert_non_null(strstr(err, "missing.json"));
	snprintf(fx->cfg.baseline_path, sizeof(fx->cfg.baseline_path), "%s", fx->dir);
	assert_int_equal(lab_bench_summarize(&fx->res, err, sizeof(err)), -EISDIR);
	assert_int_equal(lab_bench_baseline_check(fx->dir, err, sizeof(err)), -EISDIR);
	assert_int_equal(lab_bench_baseline_check("", err, sizeof(err)), -EINVAL);
	fixture_free(fx);
}

/* ---- files: summary.txt, report.md, SVG ------------------------------- */

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static bool have_xmllint(void)
{
	static int have = -1;

	if (have < 0)
		have = system("command -v xmllint >/dev/null 2>&1") == 0;
	if (!have && getenv("CI"))
		fail_msg("xmllint is missing (install libxml2-utils)");
	return have;
}

static void test_files(void **st)
{
	struct fixture *fx = fixture_new(&defaults);
	char err[256] = "", path[256], cmd[512];
	char *text;
	int nsvg = 0;
	DIR *d;
	struct dirent *e;

	(void)st;
	summarize_ok(fx);
	assert_int_equal(lab_bench_write_all(&fx->res, err, sizeof(err)), 0);

	snprintf(path, sizeof(path), "%s/summary.txt", fx->dir);
	text = read_all(path);
	assert_non_null(strstr(text, "sweep-50%"));
	assert_non_null(strstr(text, "B   sonde"));
	assert_non_null(strstr(text, "higher"));
	assert_non_null(strstr(text, "calibration: pass"));
	assert_non_null(strstr(text, "exit code 0"));
	free(text);

	snprintf(path, sizeof(path), "%s/report.md", fx->dir);
	text = read_all(path);
	assert_non_null(strstr(text, "# sonde bench report"));
	assert_non_null(strstr(text, "grade = the worst of four letters"));
	assert_non_null(strstr(text, "paired t-interval"));
	assert_non_null(strstr(text, "(latency-light.svg)"));
	assert_non_null(strstr(text, "(throughput-sweep-50pct.svg)"));
	assert_null(strstr(text, "nan"));
	free(text);

	d = opendir(fx->dir);
	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (n < 4 || strcmp(e->d_name + n - 4, ".svg"))
			continue;
		nsvg++;
		snprintf(path, sizeof(path), "%s/%s", fx->dir, e->d_name);
		text = read_all(path);
		assert_true(strncmp(text, "<svg", 4) == 0);
		free(text);
		if (have_xmllint()) {
			snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
			if (system(cmd) != 0)
				fail_msg("%s is not well-formed XML", path);
		}
	}
	closedir(d);
	assert_int_equal(nsvg, 4);
	snprintf(path, sizeof(path), "%s/latency-light.svg", fx->dir);
	assert_int_equal(access(path, R_OK), 0);
	snprintf(path, sizeof(path), "%s/throughput-sweep-50pct.svg", fx->dir);
	assert_int_equal(access(path, R_OK), 0);
	if (!have_xmllint()) {
		fprintf(stderr, "SKIP: xmllint is missing (install libxml2-utils)\n");
		fixture_free(fx);
		skip();
	}
	fixture_free(fx);
}

static void test_write_all_bad_dir(void **st)
{
	struct fixture *fx = fixture_new(&defaults);
	char err[256] = "";

	(void)st;
	summarize_ok(fx);
	snprintf(fx->cfg.out_dir, sizeof(fx->cfg.out_dir), "%s/no/such/dir", fx->dir);
	assert_int_equal(lab_bench_write_all(&fx->res, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "results.json"));
	snprintf(fx->cfg.out_dir, sizeof(fx->cfg.out_dir), "%s", fx->dir);
	fixture_free(fx);
}

/* The order of the tracers in a round: a permutation every round, and over
 * a whole cycle (n rounds, 2n for an odd n) each tracer right after each
 * other one equally often, counting the step from one round's last to the
 * next round's first as well only where the design promises it (within a
 * round). A plain rotation fails this for n >= 3. */
static void test_balanced_order(void **st)
{
	(void)st;
	assert_int_equal(lab_bench_order(1, 7, 0), 0);
	for (int n = 2; n <= 8; n++) {
		int cycle = n % 2 ? 2 * n : n, follows[8][8] = { { 0 } };

		for (int round = 0; round < cycle; round++) {
			int seen = 0, prev = -1;

			for (int k = 0; k < n; k++) {
				int t = lab_bench_order(n, round, k);

				assert_true(t >= 0 && t < n);
				assert_false(seen & (1 << t));
				seen |= 1 << t;
				if (prev >= 0)
					follows[prev][t]++;
				prev = t;
			}
		}
		for (int a = 0; a < n; a++)
			for (int b = 0; b < n; b++)
				if (a != b)
					assert_int_equal(follows[a][b], n % 2 ? 2 : 1);
		/* round 2 is not the plain rotation's (n >= 3) */
		if (n >= 3) {
			bool rotated = true;

			for (int k = 0; k < n; k++)
				rotated &= lab_bench_order(n, 1, k) == (1 + k) % n;
			assert_false(rotated);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_table),
		cmocka_unit_test(test_balanced_order),
		cmocka_unit_test(test_medians_verdicts_grade),
		cmocka_unit_test(test_loss_lower_graded),
		cmocka_unit_test(test_calibration_outside),
		cmocka_unit_test(test_aa_identical),
		cmocka_unit_test(test_threshold_fail_exit_code),
		cmocka_unit_test(test_drops_and_missing_events),
		cmocka_unit_test(test_failed_and_missing_runs),
		cmocka_unit_test(test_noisy_machine_and_target_errors),
		cmocka_unit_test(test_json_schema),
		cmocka_unit_test(test_json_aa_and_odd_strings),
		cmocka_unit_test(test_baseline_regression),
		cmocka_unit_test(test_baseline_bad_file),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_write_all_bad_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
