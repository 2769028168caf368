/* Pass/fail limits of the lab: defaults, JSON file, environment, checks;
 * see thresholds.h. */
#include "lab/thresholds.h"
#include "lab/report_text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>

#define SATURATION_HINT "a heavier scenario, e.g. --scenario saturation, is needed"

/* Every limit once: its JSON key, its variable, where it sits in the struct.
 * The order is the order of lab_thresholds_check's results. */
static const struct limit_desc {
	const char *key;
	const char *env;
	size_t off;
} limits[LAB_THRESHOLDS_N] = {
	{ "tracer_cpu_pct", "SONDE_THRESHOLD_TRACER_CPU_PCT",
	  offsetof(struct lab_thresholds, tracer_cpu_pct) },
	{ "rss_mb", "SONDE_THRESHOLD_RSS_MB", offsetof(struct lab_thresholds, rss_mb) },
	{ "events_per_s", "SONDE_THRESHOLD_EVENTS_PER_S",
	  offsetof(struct lab_thresholds, events_per_s) },
	{ "p99_added_ms", "SONDE_THRESHOLD_P99_ADDED_MS",
	  offsetof(struct lab_thresholds, p99_added_ms) },
};

/* Room for a key or value quoted in an error. */
#define QUOTED_BYTES 64

#define KNOWN_KEYS "tracer_cpu_pct, rss_mb, events_per_s, p99_added_ms"

static double *limit_of(struct lab_thresholds *t, int i)
{
	return (double *)((char *)t + limits[i].off);
}

/* src cut to fit and with control characters as '?', so that an error
 * quoting what the user wrote stays on one line. */
static const char *printable(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i]; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
	return dst;
}

void lab_thresholds_default(struct lab_thresholds *t)
{
	t->tracer_cpu_pct = LAB_THRESHOLD_TRACER_CPU_PCT;
	t->rss_mb = LAB_THRESHOLD_RSS_MB;
	t->events_per_s = LAB_THRESHOLD_EVENTS_PER_S;
	t->p99_added_ms = LAB_THRESHOLD_P99_ADDED_MS;
}

static int limit_index(const char *key)
{
	for (int i = 0; i < LAB_THRESHOLDS_N; i++)
		if (!strcmp(limits[i].key, key))
			return i;
	return -1;
}

int lab_thresholds_load_file(struct lab_thresholds *t, const char *path,
			     char *err, size_t len)
{
	struct lab_thresholds next;
	char quoted[QUOTED_BYTES];
	json_error_t jerr;
	json_t *root, *value;
	const char *key;
	struct stat st;
	FILE *f;
	int ret = 0;

	if (!t || !path) {
		lab_set_err(err, len, "thresholds: no file given");
		return -EINVAL;
	}
	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		lab_set_err(err, len, "thresholds %s: %s", path, strerror(-ret));
		return ret;
	}
	/* Reading a directory would fail as "'{' expected near end of file". */
	if (!fstat(fileno(f), &st) && S_ISDIR(st.st_mode)) {
		fclose(f);
		lab_set_err(err, len, "thresholds %s: %s", path, strerror(EISDIR));
		return -EISDIR;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (!root) {
		lab_set_err(err, len, "thresholds %s: line %d column %d: %s",
			path, jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		lab_set_err(err, len, "thresholds %s: expected a JSON object such as "
			"{\"rss_mb\": 100}", path);
		json_decref(root);
		return -EINVAL;
	}
	next = *t;
	json_object_foreach(root, key, value) {
		int i = limit_index(key);
		double v;

		if (i < 0) {
			lab_set_err(err, len, "thresholds %s: unknown key \"%s\" (known: "
				KNOWN_KEYS ")", path, printable(quoted, sizeof(quoted), key));
			ret = -EINVAL;
			break;
		}
		if (json_is_null(value)) {
			*limit_of(&next, i) = NAN;
			continue;
		}
		if (!json_is_number(value)) {
			lab_set_err(err, len, "thresholds %s: \"%s\" must be a number >= 0, "
				"or null to turn the check off", path, key);
			ret = -EINVAL;
			break;
		}
		v = json_number_value(value);
		if (!(v >= 0) || !isfinite(v)) {
			lab_set_err(err, len, "thresholds %s: \"%s\" is %g, must be >= 0 "
				"(or null to turn the check off)", path, key, v);
			ret = -EINVAL;
			break;
		}
		*limit_of(&next, i) = v;
	}
	json_decref(root);
	if (!ret)
		*t = next;
	return ret;
}

int lab_thresholds_load_env(struct lab_thresholds *t, char *err, size_t len)
{
	struct lab_thresholds next;

	if (!t) {
		lab_set_err(err, len, "thresholds: nothing to load into");
		return -EINVAL;
	}
	next = *t;
	for (int i = 0; i < LAB_THRESHOLDS_N; i++) {
		const char *s = getenv(limits[i].env);
		char quoted[QUOTED_BYTES];
		char *end;
		double v;

		if (!s || !*s)
			continue;
		if (!strcasecmp(s, "off")) {
			*limit_of(&next, i) = NAN;
			continue;
		}
		errno = 0;
		v = strtod(s, &end);
		if (end == s || *end || errno || !isfinite(v) || v < 0) {
			lab_set_err(err, len, "%s=%s: expected a number >= 0 or \"off\"",
				limits[i].env, printable(quoted, sizeof(quoted), s));
			return -EINVAL;
		}
		*limit_of(&next, i) = v;
	}
	*t = next;
	return 0;
}

const char *lab_check_name(enum lab_check c)
{
	switch (c) {
	case LAB_CHECK_OFF:
		return "off";
	case LAB_CHECK_PASS:
		return "pass";
	case LAB_CHECK_FAIL:
		return "fail";
	case LAB_CHECK_NOT_MEASURED:
		return "not measured";
	}
	return "unknown";
}

/* A limit as people write it: "5", "0.5", "10000"; never "1e+04". */
static const char *fmt_limit(char *buf, size_t len, double v)
{
	if (fabs(v) < 1e15 && v == floor(v))
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%g", v);
	return buf;
}

/* The checks where less is better: observed <= limit passes. */
static void check_at_most(struct lab_threshold_result *r, const char *what,
			  const char *unit, int prec, double limit, double obs)
{
	char lim[32];

	r->limit = limit;
	r->observed = obs;
	fmt_limit(lim, sizeof(lim), limit);
	if (isnan(limit)) {
		r->status = LAB_CHECK_OFF;
		if (isnan(obs))
			snprintf(r->detail, sizeof(r->detail), "%s check off", what);
		else
			snprintf(r->detail, sizeof(r->detail), "%s %.*f%s (check off)",
				 what, prec, obs, unit);
	} else if (isnan(obs)) {
		r->status = LAB_CHECK_NOT_MEASURED;
		snprintf(r->detail, sizeof(r->detail), "%s not measured (limit %s%s)",
			 what, lim, unit);
	} else if (obs <= limit) {
		r->status = LAB_CHECK_PASS;
		snprintf(r->detail, sizeof(r->detail), "%s %.*f%s <= %s%s",
			 what, prec, obs, unit, lim, unit);
	} else {
		r->status = LAB_CHECK_FAIL;
		snprintf(r->detail, sizeof(r->detail), "%s %.*f%s > %s%s",
			 what, prec, obs, unit, lim, unit);
	}
}

static void check_events(struct lab_threshold_result *r, double limit,
			 double clean, double lossy)
{
	char lim[32];

	r->limit = limit;
	fmt_limit(lim, sizeof(lim), limit);
	if (isnan(limit)) {
		r->status = LAB_CHECK_OFF;
		r->observed = clean;
		snprintf(r->detail, sizeof(r->detail), "events/s check off");
	} else if (lossy <= limit) {   /* false for NaN */
		r->status = LAB_CHECK_FAIL;
		r->observed = lossy;
		snprintf(r->detail, sizeof(r->detail),
			 "lost events at %.0f events/s <= %s events/s it must sustain",
			 lossy, lim);
	} else if (clean >= limit) {
		r->status = LAB_CHECK_PASS;
		r->observed = clean;
		snprintf(r->detail, sizeof(r->detail),
			 "no event lost at %.0f events/s >= %s events/s", clean, lim);
	} else {
		r->status = LAB_CHECK_NOT_MEASURED;
		r->observed = clean;
		if (isnan(clean))
			snprintf(r->detail, sizeof(r->detail),
				 "no run without loss to judge %s events/s by; "
				 SATURATION_HINT, lim);
		else
			snprintf(r->detail, sizeof(r->detail),
				 "highest rate with no loss %.0f events/s < %s events/s; "
				 SATURATION_HINT, clean, lim);
	}
}

int lab_thresholds_check(const struct lab_thresholds *t,
			 const struct lab_threshold_obs *o,
			 struct lab_threshold_result *out)
{
	int failed = 0;

	if (!t || !o || !out)
		return -EINVAL;
	for (int i = 0; i < LAB_THRESHOLDS_N; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].key = limits[i].key;
	}
	check_at_most(&out[0], "tracer CPU", " %", 2, t->tracer_cpu_pct, o->tracer_cpu_pct);
	check_at_most(&out[1], "tracer peak RSS", " MB", 1, t->rss_mb, o->rss_mb);
	check_events(&out[2], t->events_per_s, o->events_per_s_clean, o->events_per_s_lossy);
	check_at_most(&out[3], "p99 latency added", " ms", 3, t->p99_added_ms, o->p99_added_ms);
	for (int i = 0; i < LAB_THRESHOLDS_N; i++)
		failed += out[i].status == LAB_CHECK_FAIL;
	return failed;
}
