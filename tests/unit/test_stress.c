/* The arithmetic of `sonde stress`: the least-squares slope and the leak
 * verdict, recovery times from a timeline (lag, drops, a tracer that is
 * down, no recovery), the points of a recovery, a step's verdict, the
 * resilience score with phases left out, and the rating's bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "lab/stress.h"

#define EPS 1e-9

static void test_slope(void **st)
{
	const double x[] = { 0, 1, 2, 3, 4 };
	const double y[] = { 10, 12, 14, 16, 18 };
	const double noisy[] = { 1, 3, 2, 4, 3 };
	const double with_nan[] = { 10, NAN, 14, 16, NAN };
	const double flat_x[] = { 2, 2, 2, 2 };

	(void)st;
	assert_true(fabs(lab_stress_slope(x, y, 5) - 2.0) < EPS);
	/* least squares: sxy = 5.0 over sxx = 10 -> 0.5 */
	assert_true(fabs(lab_stress_slope(x, noisy, 5) - 0.5) < EPS);
	/* NaN points are left out: 10, 14, 16 at 0, 2, 3 (84/9 over 42/9) */
	assert_true(fabs(lab_stress_slope(x, with_nan, 5) - 2.0) < EPS);
	assert_true(isnan(lab_stress_slope(x, y, 2)));
	assert_true(isnan(lab_stress_slope(flat_x, y, 4)));
}

static void test_leak_verdict(void **st)
{
	(void)st;
	assert_int_equal(lab_stress_leak_verdict(NAN), LAB_STRESS_LEAK_UNKNOWN);
	assert_int_equal(lab_stress_leak_verdict(-3), LAB_STRESS_LEAK_NONE);
	assert_int_equal(lab_stress_leak_verdict(LAB_STRESS_LEAK_NONE_MB_MIN), LAB_STRESS_LEAK_NONE);
	assert_int_equal(lab_stress_leak_verdict(1.5), LAB_STRESS_LEAK_SUSPECT);
	assert_int_equal(lab_stress_leak_verdict(LAB_STRESS_LEAK_SUSPECT_MB_MIN), LAB_STRESS_LEAK_SUSPECT);
	assert_int_equal(lab_stress_leak_verdict(5.01), LAB_STRESS_LEAK_YES);
	assert_string_equal(lab_stress_leak_name(LAB_STRESS_LEAK_YES), "leak");
}

/* RSS sampled every 0.5 s in sustain: 12 MB flat after a warm-up jump in
 * the first 20 %, then a real 6 MB/min growth in a second series. */
static void test_rss_slope(void **st)
{
	struct lab_stress_sample s[40];

	(void)st;
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 40; i++) {
		s[i].t_s = 10.0 + i * 0.5;
		s[i].phase = i < 5 ? LAB_STRESS_RAMP_UP : LAB_STRESS_SUSTAIN;
		s[i].tracer_up = true;
		s[i].rss_mb = i < 8 ? 4.0 + i : 12.0; /* warm-up inside the first 20 % */
	}
	assert_true(fabs(lab_stress_rss_slope(s, 40, LAB_STRESS_SUSTAIN, 0.2)) < 1e-6);
	for (int i = 0; i < 40; i++)
		s[i].rss_mb = 12.0 + 0.1 * s[i].t_s; /* 0.1 MB/s = 6 MB/min */
	assert_true(fabs(lab_stress_rss_slope(s, 40, LAB_STRESS_SUSTAIN, 0.2) - 6.0) < 1e-6);
	assert_true(isnan(lab_stress_rss_slope(s, 40, LAB_STRESS_CHAOS, 0.2)));
}

/* A timeline at 1000 requests per 0.5 s window; the tracer is stopped for
 * windows ending at 2.0..3.0 s (fault end 3.0) and loses events in them. */
static int timeline(struct lab_stress_sample *s, int n)
{
	double req = 0, ev = 0;

	memset(s, 0, sizeof(*s) * (size_t)n);
	for (int i = 0; i < n; i++) {
		double t = i * 0.5;
		bool down = t > 1.5 && t <= 3.0;

		req += i ? 1000 : 0;
		ev += i && !down ? 1000 : 0;
		s[i].t_s = t;
		s[i].requests = req;
		s[i].events = s[i].events_by_time = ev;
		s[i].tracer_up = !down || t == 3.0;
	}
	return n;
}

static void test_recovery_immediate(void **st)
{
	struct lab_stress_sample s[16];
	int n = timeline(s, 16);

	(void)st;
	/* the first windows after the end are full: recovered at once */
	assert_true(fabs(lab_stress_recovery_s(s, n, 3.0, 100, LAB_STRESS_WINDOW_OK_PCT)) < EPS);
}

static void test_recovery_after_loss_and_drops(void **st)
{
	struct lab_stress_sample s[16];
	int n = timeline(s, 16);

	(void)st;
	/* window (3.0, 3.5] captures 90 %, window (3.5, 4.0] is full but its
	 * counters (read at 4.5) show drops: recovery starts at 4.0 */
	for (int i = 7; i < n; i++)
		s[i].events_by_time -= 100;
	for (int i = 9; i < n; i++)
		s[i].drops = 50;
	assert_true(fabs(lab_stress_recovery_s(s, n, 3.0, 100, LAB_STRESS_WINDOW_OK_PCT) - 1.0) < EPS);
	/* 99 % of a window is still full capture (a record's edge lag) */
	for (int i = 9; i < n; i++)
		s[i].events_by_time -= 10;
	assert_true(fabs(lab_stress_recovery_s(s, n, 3.0, 100, LAB_STRESS_WINDOW_OK_PCT) - 1.0) < EPS);
}

static void test_recovery_never(void **st)
{
	struct lab_stress_sample s[16];
	int n = timeline(s, 16);

	(void)st;
	/* capture stays at 50 % after the fault */
	for (int i = 7; i < n; i++)
		s[i].events_by_time = s[6].events_by_time + (i - 6) * 500;
	assert_true(isnan(lab_stress_recovery_s(s, n, 3.0, 100, LAB_STRESS_WINDOW_OK_PCT)));
	/* a good stretch after until_s does not count */
	timeline(s, n);
	assert_true(isnan(lab_stress_recovery_s(s, n, 3.0, 3.4, LAB_STRESS_WINDOW_OK_PCT)));
	/* the tracer never comes back */
	timeline(s, n);
	for (int i = 4; i < n; i++)
		s[i].tracer_up = false;
	assert_true(isnan(lab_stress_recovery_s(s, n, 3.0, 100, LAB_STRESS_WINDOW_OK_PCT)));
}

static void test_recovery_no_truth(void **st)
{
	struct lab_stress_sample s[16];
	int n = timeline(s, 16);

	(void)st;
	/* a URL target: no requests per window, judged on drops alone */
	for (int i = 0; i < n; i++)
		s[i].requests = NAN;
	for (int i = 0; i < 10; i++)
		s[i].drops = i * 10.0;
	for (int i = 10; i < n; i++)
		s[i].drops = 100;
	/* window (4.0, 4.5] is the first whose counters (at 5.0) stopped */
	assert_true(fabs(lab_stress_recovery_s(s, n, 3.0, 100, LAB_STRESS_WINDOW_OK_PCT) - 1.5) < EPS);
}

static void test_recovery_points(void **st)
{
	(void)st;
	assert_true(lab_stress_recovery_points(0) == 1.0);
	assert_true(lab_stress_recovery_points(LAB_STRESS_RECOVERY_FULL_S) == 1.0);
	assert_true(fabs(lab_stress_recovery_points(15.5) - 0.5) < EPS);
	assert_true(lab_stress_recovery_points(LAB_STRESS_RECOVERY_ZERO_S) == 0.0);
	assert_true(lab_stress_recovery_points(NAN) == 0.0);
}

static void test_step_judge(void **st)
{
	struct lab_stress_step s = { .capture_pct = 100, .p99_ms = 4.0 };

	(void)st;
	assert_true(lab_stress_step_judge(&s, NAN));
	assert_true(lab_stress_step_judge(&s, 5.0));
	assert_false(lab_stress_step_judge(&s, 3.0));
	assert_non_null(strstr(s.why, "SLO"));
	s.capture_pct = 99.99;
	assert_false(lab_stress_step_judge(&s, NAN));
	assert_non_null(strstr(s.why, "capture"));
	s.capture_pct = 100;
	s.drops = 3;
	assert_false(lab_stress_step_judge(&s, NAN));
	assert_string_equal(s.why, "3 drops");
	s.drops = 0;
	s.errors = 2;
	assert_false(lab_stress_step_judge(&s, NAN));
	assert_non_null(strstr(s.why, "load errors"));
	s.errors = 0;
	s.capture_pct = NAN; /* nothing answered: not a clean step */
	assert_false(lab_stress_step_judge(&s, NAN));
	/* more events than requests: other traffic counted, loss hidden */
	s.capture_pct = 180;
	assert_false(lab_stress_step_judge(&s, NAN));
	assert_non_null(strstr(s.why, "more than the target's requests"));
	s.capture_pct = 100.3; /* a request at the step's edge */
	assert_true(lab_stress_step_judge(&s, NAN));
}

static void test_score_and_rating(void **st)
{
	static struct lab_stress_config cfg;
	static struct lab_stress_result r;

	(void)st;
	memset(&r, 0, sizeof(r));
	lab_stress_config_default(&cfg, true);
	r.cfg = &cfg;
	/* only integrity can be judged: 10 of 10, scaled to 100 */
	lab_stress_score(&r, &r.score);
	assert_true(fabs(r.score.total - 100) < EPS);
	assert_true(isnan(r.score.capture) && isnan(r.score.recovery));

	/* everything ran: capture 100 % without drops (30), two faults, one
	 * recovered in 0.5 s (1 point) and one never (0) -> 15, headroom half
	 * the target (10), leak suspect (5), integrity (10): 70 */
	r.phases[LAB_STRESS_SUSTAIN].ran = true;
	r.phases[LAB_STRESS_SUSTAIN].capture_pct = 100;
	r.phases[LAB_STRESS_RAMP_UP].ran = true;
	r.clean_rps = cfg.target_rate / 2;
	r.faults[LAB_STRESS_F_STALL] = (struct lab_stress_fault_result){
		.ran = true, .recovery_s = 0.5, .invariant = true, .check_ok = true };
	r.faults[LAB_STRESS_F_KILL] = (struct lab_stress_fault_result){
		.ran = true, .recovery_s = NAN, .invariant = true, .check_ok = true };
	r.rss_slope_mb_min = 3;
	lab_stress_score(&r, &r.score);
	assert_true(fabs(r.score.capture - 30) < EPS);
	assert_true(fabs(r.score.recovery - 15) < EPS);
	assert_true(fabs(r.score.headroom - 10) < EPS);
	assert_true(fabs(r.score.leak - 5) < EPS);
	assert_true(fabs(r.score.total - 70) < EPS);
	assert_int_equal(lab_stress_rating_of(r.score.total), LAB_STRESS_FAIR);

	/* drops in sustain halve capture; a failed check zeroes its fault;
	 * corrupt output costs integrity */
	r.phases[LAB_STRESS_SUSTAIN].drops = 1;
	r.faults[LAB_STRESS_F_STALL].check_ok = false;
	r.bad_lines = 1;
	lab_stress_score(&r, &r.score);
	assert_true(fabs(r.score.capture - 15) < EPS);
	assert_true(fabs(r.score.recovery - 0) < EPS);
	assert_true(fabs(r.score.integrity - 0) < EPS);
	assert_true(fabs(r.score.total - 30) < EPS);
	assert_int_equal(lab_stress_rating_of(r.score.total), LAB_STRESS_POOR);
}

static void test_rating_bounds(void **st)
{
	(void)st;
	assert_int_equal(lab_stress_rating_of(100), LAB_STRESS_EXCELLENT);
	assert_int_equal(lab_stress_rating_of(90), LAB_STRESS_EXCELLENT);
	assert_int_equal(lab_stress_rating_of(89.99), LAB_STRESS_GOOD);
	assert_int_equal(lab_stress_rating_of(75), LAB_STRESS_GOOD);
	assert_int_equal(lab_stress_rating_of(74.9), LAB_STRESS_FAIR);
	assert_int_equal(lab_stress_rating_of(50), LAB_STRESS_FAIR);
	assert_int_equal(lab_stress_rating_of(49.9), LAB_STRESS_POOR);
	assert_string_equal(lab_stress_rating_name(LAB_STRESS_GOOD), "good");
}

static void test_names(void **st)
{
	(void)st;
	for (int p = 0; p < LAB_STRESS_PHASES; p++)
		assert_int_equal(lab_stress_phase_parse(lab_stress_phase_name(p)), p);
	for (int f = 0; f < LAB_STRESS_FAULTS; f++)
		assert_int_equal(lab_stress_fault_parse(lab_stress_fault_name(f)), f);
	assert_int_equal(lab_stress_fault_parse("nope"), -1);
	assert_string_equal(lab_stress_phase_name(99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slope),
		cmocka_unit_test(test_leak_verdict),
		cmocka_unit_test(test_rss_slope),
		cmocka_unit_test(test_recovery_immediate),
		cmocka_unit_test(test_recovery_after_loss_and_drops),
		cmocka_unit_test(test_recovery_never),
		cmocka_unit_test(test_recovery_no_truth),
		cmocka_unit_test(test_recovery_points),
		cmocka_unit_test(test_step_judge),
		cmocka_unit_test(test_score_and_rating),
		cmocka_unit_test(test_rating_bounds),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
