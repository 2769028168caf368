/* Pass/fail limits of the lab: defaults, the JSON file and its errors, the
 * environment overriding it, and every check rule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/thresholds.h"

#define ERR_BYTES 256

static const char *const env_vars[] = {
	"SONDE_THRESHOLD_TRACER_CPU_PCT",
	"SONDE_THRESHOLD_RSS_MB",
	"SONDE_THRESHOLD_EVENTS_PER_S",
	"SONDE_THRESHOLD_P99_ADDED_MS",
};

static void unset_env(void)
{
	for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
		unsetenv(env_vars[i]);
}

static int clean_env(void **st)
{
	(void)st;
	unset_env();
	return 0;
}

/* Write text to a new temporary file; its name goes to path. */
static void write_tmp(char *path, size_t len, const char *text)
{
	int fd;

	snprintf(path, len, "/tmp/sonde-thresholds-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Load text as a thresholds file over the defaults; returns the result and
 * leaves the error in err. */
static int load_text(struct lab_thresholds *t, const char *text, char *err)
{
	char path[64];
	int ret;

	lab_thresholds_default(t);
	err[0] = '\0';
	write_tmp(path, sizeof(path), text);
	ret = lab_thresholds_load_file(t, path, err, ERR_BYTES);
	unlink(path);
	return ret;
}

static void assert_defaults(const struct lab_thresholds *t)
{
	assert_true(t->tracer_cpu_pct == 5);
	assert_true(t->rss_mb == 100);
	assert_true(t->events_per_s == 10000);
	assert_true(t->p99_added_ms == 1);
}

static void test_defaults(void **st)
{
	struct lab_thresholds t;

	(void)st;
	memset(&t, 0xff, sizeof(t));
	lab_thresholds_default(&t);
	assert_defaults(&t);
}

static void test_file_valid(void **st)
{
	struct lab_thresholds t;
	char err[ERR_BYTES];

	(void)st;
	assert_int_equal(load_text(&t, "{\"tracer_cpu_pct\": 2.5, \"rss_mb\": 64,\n"
				   " \"events_per_s\": 50000, \"p99_added_ms\": 0.25}\n", err), 0);
	assert_true(t.tracer_cpu_pct == 2.5);
	assert_true(t.rss_mb == 64);
	assert_true(t.events_per_s == 50000);
	assert_true(t.p99_added_ms == 0.25);
	/* Every key optional; 0 is a limit like any other. */
	assert_int_equal(load_text(&t, "{\"rss_mb\": 0}", err), 0);
	assert_true(t.rss_mb == 0);
	assert_true(t.tracer_cpu_pct == 5 && t.events_per_s == 10000 && t.p99_added_ms == 1);
	assert_int_equal(load_text(&t, "{}", err), 0);
	assert_defaults(&t);
	/* null turns a check off. */
	assert_int_equal(load_text(&t, "{\"events_per_s\": null, \"p99_added_ms\": null}", err), 0);
	assert_true(isnan(t.events_per_s) && isnan(t.p99_added_ms));
	assert_true(t.tracer_cpu_pct == 5 && t.rss_mb == 100);
}

/* Each bad file: -EINVAL, a message naming the file and the problem, and
 * the thresholds as they were (nothing applied halfway). */
static void assert_bad_file(const char *text, const char *want_in_err)
{
	struct lab_thresholds t;
	char err[ERR_BYTES];

	assert_int_equal(load_text(&t, text, err), -EINVAL);
	assert_defaults(&t);
	assert_non_null(strstr(err, "thresholds /tmp/sonde-thresholds-"));
	if (!strstr(err, want_in_err))
		fail_msg("error \"%s\" does not say \"%s\"", err, want_in_err);
	assert_null(strchr(err, '\n'));
}

static void test_file_errors(void **st)
{
	(void)st;
	assert_bad_file("{\"rss_mb\": 1, \"cpu\": 3}", "unknown key \"cpu\"");
	assert_bad_file("{\"rss_mb\": \"100\"}", "\"rss_mb\" must be a number");
	assert_bad_file("{\"rss_mb\": true}", "\"rss_mb\" must be a number");
	assert_bad_file("{\"rss_mb\": [100]}", "\"rss_mb\" must be a number");
	assert_bad_file("{\"p99_added_ms\": -0.5}", "\"p99_added_ms\" is -0.5, must be >= 0");
	assert_bad_file("{\"rss_mb\": 100,}", "line 1");
	assert_bad_file("{\"rss_mb\": 1}{", "line 1");
	assert_bad_file("", "line");
	assert_bad_file("[1, 2]", "expected a JSON object");
	assert_bad_file("{\"rss_mb\": 1, \"rss_mb\": 2}", "duplicate");
	assert_bad_file("{\"rss_mb\": 1e400}", "overflow");
	/* What the user wrote is quoted on one line. */
	assert_bad_file("{\"a\\nb\": 1}", "unknown key \"a?b\"");
}

static void test_file_missing(void **st)
{
	struct lab_thresholds t;
	char err[ERR_BYTES];

	(void)st;
	lab_thresholds_default(&t);
	assert_int_equal(lab_thresholds_load_file(&t, "/nonexistent/thresholds.json",
						  err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "thresholds /nonexistent/thresholds.json: "
			    "No such file or directory");
	assert_defaults(&t);
	assert_int_equal(lab_thresholds_load_file(&t, "/tmp", err, sizeof(err)), -EISDIR);
	assert_string_equal(err, "thresholds /tmp: Is a directory");
	/* err may be NULL or short. */
	assert_int_equal(lab_thresholds_load_file(&t, "/nonexistent/x", NULL, 0), -ENOENT);
	assert_int_equal(lab_thresholds_load_file(&t, "/nonexistent/x", err, 8), -ENOENT);
	assert_string_equal(err, "thresho");
	assert_int_equal(lab_thresholds_load_file(&t, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(lab_thresholds_load_file(NULL, "/x", err, sizeof(err)), -EINVAL);
}

static void test_env(void **st)
{
	struct lab_thresholds t;
	char err[ERR_BYTES];

	(void)st;
	/* Nothing set: nothing changes. */
	lab_thresholds_default(&t);
	assert_int_equal(lab_thresholds_load_env(&t, err, sizeof(err)), 0);
	assert_defaults(&t);
	/* After the file: the environment wins, keys it leaves alone keep the
	 * file's value; "off" in any case turns a check off; empty is unset. */
	assert_int_equal(load_text(&t, "{\"rss_mb\": 64, \"tracer_cpu_pct\": 2}", err), 0);
	setenv("SONDE_THRESHOLD_RSS_MB", "250.5", 1);
	setenv("SONDE_THRESHOLD_EVENTS_PER_S", "off", 1);
	setenv("SONDE_THRESHOLD_P99_ADDED_MS", "OFF", 1);
	setenv("SONDE_THRESHOLD_TRACER_CPU_PCT", "", 1);
	assert_int_equal(lab_thresholds_load_env(&t, err, sizeof(err)), 0);
	assert_true(t.rss_mb == 250.5);
	assert_true(t.tracer_cpu_pct == 2);
	assert_true(isnan(t.events_per_s) && isnan(t.p99_added_ms));
	setenv("SONDE_THRESHOLD_TRACER_CPU_PCT", "0", 1);
	assert_int_equal(lab_thresholds_load_env(&t, err, sizeof(err)), 0);
	assert_true(t.tracer_cpu_pct == 0);
	unset_env();
}

static void test_env_bad(void **st)
{
	static const char *const bad[] = { "abc", "-1", "5x", "5 ", "inf", "nan", "1e999", "of",
					   "12MB" };
	struct lab_thresholds t;
	char err[ERR_BYTES];

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[128];

		lab_thresholds_default(&t);
		setenv("SONDE_THRESHOLD_RSS_MB", "1", 1);
		setenv("SONDE_THRESHOLD_P99_ADDED_MS", bad[i], 1);
		assert_int_equal(lab_thresholds_load_env(&t, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "SONDE_THRESHOLD_P99_ADDED_MS=%s: expected a "
			 "number >= 0 or \"off\"", bad[i]);
		assert_string_equal(err, want);
		assert_defaults(&t);   /* RSS_MB was fine but is not applied alone */
	}
	setenv("SONDE_THRESHOLD_EVENTS_PER_S", "1\n2", 1);
	assert_int_equal(lab_thresholds_load_env(&t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "SONDE_THRESHOLD_EVENTS_PER_S=1?2: expected a number >= 0 "
			    "or \"off\"");
	unset_env();
}

static struct lab_threshold_obs obs_all_good(void)
{
	return (struct lab_threshold_obs){
		.tracer_cpu_pct = 1.2,
		.rss_mb = 42.13,
		.events_per_s_clean = 25000,
		.events_per_s_lossy = NAN,
		.p99_added_ms = 0.3124,
	};
}

static void test_check_pass_and_order(void **st)
{
	struct lab_thresholds t;
	struct lab_threshold_obs o = obs_all_good();
	struct lab_threshold_result r[LAB_THRESHOLDS_N];

	(void)st;
	lab_thresholds_default(&t);
	assert_int_equal(lab_thresholds_check(&t, &o, r), 0);
	assert_string_equal(r[0].key, "tracer_cpu_pct");
	assert_string_equal(r[1].key, "rss_mb");
	assert_string_equal(r[2].key, "events_per_s");
	assert_string_equal(r[3].key, "p99_added_ms");
	for (int i = 0; i < LAB_THRESHOLDS_N; i++)
		assert_int_equal(r[i].status, LAB_CHECK_PASS);
	assert_true(r[0].limit == 5 && r[0].observed == 1.2);
	assert_string_equal(r[0].detail, "tracer CPU 1.20 % <= 5 %");
	assert_string_equal(r[1].detail, "tracer peak RSS 42.1 MB <= 100 MB");
	assert_string_equal(r[2].detail, "no event lost at 25000 events/s >= 10000 events/s");
	assert_true(r[2].observed == 25000);
	assert_string_equal(r[3].detail, "p99 latency added 0.312 ms <= 1 ms");
	/* At the limit passes. */
	o.rss_mb = 100;
	o.events_per_s_clean = 10000;
	assert_int_equal(lab_thresholds_check(&t, &o, r), 0);
	assert_int_equal(r[1].status, LAB_CHECK_PASS);
	assert_int_equal(r[2].status, LAB_CHECK_PASS);
	assert_int_equal(lab_thresholds_check(NULL, &o, r), -EINVAL);
	assert_int_equal(lab_thresholds_check(&t, NULL, r), -EINVAL);
	assert_int_equal(lab_thresholds_check(&t, &o, NULL), -EINVAL);
}

static void test_check_fail_off_not_measured(void **st)
{
	struct lab_thresholds t;
	struct lab_threshold_obs o = obs_all_good();
	struct lab_threshold_result r[LAB_THRESHOLDS_N];

	(void)st;
	lab_thresholds_default(&t);
	t.p99_added_ms = 0.5;
	o.tracer_cpu_pct = 7.3;
	o.rss_mb = 100.01;
	o.p99_added_ms = 0.75;
	assert_int_equal(lab_thresholds_check(&t, &o, r), 3);
	assert_int_equal(r[0].status, LAB_CHECK_FAIL);
	assert_string_equal(r[0].detail, "tracer CPU 7.30 % > 5 %");
	assert_int_equal(r[1].status, LAB_CHECK_FAIL);
	assert_int_equal(r[3].status, LAB_CHECK_FAIL);
	assert_string_equal(r[3].detail, "p99 latency added 0.750 ms > 0.5 ms");

	/* Off: whatever was observed, not a failure. */
	t.tracer_cpu_pct = NAN;
	assert_int_equal(lab_thresholds_check(&t, &o, r), 2);
	assert_int_equal(r[0].status, LAB_CHECK_OFF);
	assert_true(isnan(r[0].limit) && r[0].observed == 7.3);
	assert_string_equal(r[0].detail, "tracer CPU 7.30 % (check off)");

	/* Unknown observations. */
	o.rss_mb = NAN;
	o.p99_added_ms = NAN;
	assert_int_equal(lab_thresholds_check(&t, &o, r), 0);
	assert_int_equal(r[1].status, LAB_CHECK_NOT_MEASURED);
	assert_string_equal(r[1].detail, "tracer peak RSS not measured (limit 100 MB)");
	assert_int_equal(r[3].status, LAB_CHECK_NOT_MEASURED);
	o.tracer_cpu_pct = NAN;
	assert_int_equal(lab_thresholds_check(&t, &o, r), 0);
	assert_string_equal(r[0].detail, "tracer CPU check off");

	assert_string_equal(lab_check_name(LAB_CHECK_OFF), "off");
	assert_string_equal(lab_check_name(LAB_CHECK_PASS), "pass");
	assert_string_equal(lab_check_name(LAB_CHECK_FAIL), "fail");
	assert_string_equal(lab_check_name(LAB_CHECK_NOT_MEASURED), "not measured");
}

/* events_per_s alone, limit 10000. */
static enum lab_check events_check(double clean, double lossy, struct lab_threshold_result *r)
{
	struct lab_thresholds t;
	struct lab_threshold_obs o = obs_all_good();
	int failed;

	lab_thresholds_default(&t);
	o.events_per_s_clean = clean;
	o.events_per_s_lossy = lossy;
	failed = lab_thresholds_check(&t, &o, r);
	assert_int_equal(failed, r[2].status == LAB_CHECK_FAIL);
	return r[2].status;
}

static void test_check_events(void **st)
{
	struct lab_threshold_result r[LAB_THRESHOLDS_N];

	(void)st;
	/* Lost events below the rate to sustain: fail, even if another run
	 * was clean above it. */
	assert_int_equal(events_check(25000, 8000, r), LAB_CHECK_FAIL);
	assert_true(r[2].observed == 8000);
	assert_string_equal(r[2].detail,
			    "lost events at 8000 events/s <= 10000 events/s it must sustain");
	assert_int_equal(events_check(NAN, 10000, r), LAB_CHECK_FAIL);
	/* Losses only above the limit do not count against it. */
	assert_int_equal(events_check(12000, 40000, r), LAB_CHECK_PASS);
	assert_true(r[2].observed == 12000);
	/* Never loaded enough to tell. */
	assert_int_equal(events_check(3000, NAN, r), LAB_CHECK_NOT_MEASURED);
	assert_true(r[2].observed == 3000);
	assert_string_equal(r[2].detail,
			    "highest rate with no loss 3000 events/s < 10000 events/s; "
			    "a heavier scenario, e.g. --scenario saturation, is needed");
	assert_int_equal(events_check(3000, 40000, r), LAB_CHECK_NOT_MEASURED);
	assert_int_equal(events_check(NAN, 40000, r), LAB_CHECK_NOT_MEASURED);
	assert_int_equal(events_check(NAN, NAN, r), LAB_CHECK_NOT_MEASURED);
	assert_true(isnan(r[2].observed));
	assert_non_null(strstr(r[2].detail, "--scenario saturation"));
	/* Off. */
	{
		struct lab_thresholds t;
		struct lab_threshold_obs o = obs_all_good();

		lab_thresholds_default(&t);
		t.events_per_s = NAN;
		o.events_per_s_lossy = 5;
		assert_int_equal(lab_thresholds_check(&t, &o, r), 0);
		assert_int_equal(r[2].status, LAB_CHECK_OFF);
		assert_string_equal(r[2].detail, "events/s check off");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_valid),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_missing),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_env_bad),
		cmocka_unit_test(test_check_pass_and_order),
		cmocka_unit_test(test_check_fail_off_not_measured),
		cmocka_unit_test(test_check_events),
	};

	return cmocka_run_group_tests(tests, clean_env, NULL);
}
