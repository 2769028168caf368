/* The lab's SVG charts: well-formed XML (checked by xmllint) for ordinary,
 * hostile (markup in names, invalid UTF-8), gappy (NaN, +-inf), empty and
 * degenerate inputs; never "nan" or "inf" in the output; log axes with
 * non-positive values; the nice ticks of a few ranges and of random ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/svg.h"

#define SVG_START "<svg xmlns=\"http://www.w3.org/2000/svg\""

/* ---- helpers ----------------------------------------------------------- */

/* Skip (or, under CI, fail) a test that needs xmllint when it is missing.
 * Called first thing in a test, before anything is allocated. */
static void need_xmllint(void)
{
	static int have = -1;

	if (have < 0)
		have = system("command -v xmllint >/dev/null 2>&1") == 0;
	if (have)
		return;
	if (getenv("CI"))
		fail_msg("xmllint is missing (install libxml2-utils)");
	fprintf(stderr, "SKIP: xmllint is missing (install libxml2-utils)\n");
	skip();
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);

	for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
		n++;
	return n;
}

/* The checks every chart must pass: starts with <svg xmlns=...> and a
 * <title>, ends with </svg>, no NaN or infinity written, and xmllint
 * accepts it. */
static void assert_good_svg(const char *svg)
{
	char path[] = "/tmp/test_svg_XXXXXX";
	char cmd[64];
	size_t len = strlen(svg);
	int fd, rc;

	if (strncmp(svg, SVG_START, strlen(SVG_START)) != 0)
		fail_msg("does not start with %s: %.80s", SVG_START, svg);
	assert_non_null(strstr(svg, "<title>"));
	assert_true(strstr(svg, "<title>") < strstr(svg, "</title>"));
	assert_true(len >= 7 && strcmp(svg + len - 7, "</svg>\n") == 0);
	if (strcasestr(svg, "nan") || strcasestr(svg, "inf"))
		fail_msg("nan or inf in the output:\n%s", svg);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, svg, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
	rc = system(cmd);
	unlink(path);
	if (rc != 0)
		fail_msg("xmllint rejects:\n%s", svg);
}

/* Charts rendered into a malloc'ed string (the caller frees it). */
static char *line_svg(const char *title, const struct lab_svg_series *s, int n, bool log_y)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(lab_svg_line_chart(f, title, "time (s)", "latency (us)", s, n, log_y), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static char *bar_svg(const char *const *groups, int ngroups, const char *const *names,
		     int nseries, const double *values, bool log_y)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(lab_svg_bar_chart(f, "Latency percentiles", "latency (us)", groups,
					   ngroups, names, nseries, values, log_y), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void assert_ticks(const double *got, int n, const double *want, int nwant)
{
	if (n != nwant)
		fail_msg("got %d ticks, want %d", n, nwant);
	for (int i = 0; i < n; i++) {
		if (fabs(got[i] - want[i]) > 1e-12 * fmax(1, fabs(want[i])))
			fail_msg("tick %d: got %.17g, want %.17g", i, got[i], want[i]);
		assert_false(signbit(got[i]) && got[i] == 0); /* no -0 */
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	/* xorshift64*: reproducible across runs and libcs. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static double rng_unit(void)
{
	return (double)(rng_next() >> 11) / 9007199254740992.0; /* [0, 1) */
}

/* ---- ticks ------------------------------------------------------------- */

static void test_nice_ticks_examples(void **st)
{
	double t[16];
	int n;

	(void)st;
	n = lab_svg_nice_ticks(0, 1, 6, t);
	assert_ticks(t, n, (double[]){ 0, 0.2, 0.4, 0.6, 0.8, 1 }, 6);
	n = lab_svg_nice_ticks(1, 0, 6, t); /* either order */
	assert_ticks(t, n, (double[]){ 0, 0.2, 0.4, 0.6, 0.8, 1 }, 6);
	n = lab_svg_nice_ticks(0, 1234, 6, t);
	assert_ticks(t, n, (double[]){ 0, 500, 1000, 1500 }, 4);
	n = lab_svg_nice_ticks(0, 1234, 10, t);
	assert_ticks(t, n, (double[]){ 0, 200, 400, 600, 800, 1000, 1200, 1400 }, 8);
	n = lab_svg_nice_ticks(0.001, 0.0037, 6, t);
	assert_ticks(t, n, (double[]){ 0.001, 0.002, 0.003, 0.004 }, 4);
	n = lab_svg_nice_ticks(-3.7, -0.2, 6, t);
	assert_ticks(t, n, (double[]){ -4, -3, -2, -1, 0 }, 5);
	n = lab_svg_nice_ticks(-50, 150, 6, t);
	assert_ticks(t, n, (double[]){ -50, 0, 50, 100, 150 }, 5);
	n = lab_svg_nice_ticks(-1e-6, -1e-6, 6, t); /* negative and degenerate */
	assert_true(n >= 2 && t[0] <= -1e-6 && t[n - 1] >= -1e-6);

	/* Degenerate: widened, still covering the value. */
	n = lab_svg_nice_ticks(0, 0, 6, t);
	assert_ticks(t, n, (double[]){ 0, 0.2, 0.4, 0.6, 0.8, 1 }, 6);
	n = lab_svg_nice_ticks(5, 5, 6, t);
	assert_ticks(t, n, (double[]){ 4.5, 5, 5.5 }, 3);
	n = lab_svg_nice_ticks(1e9, 1e9 + 1e-3, 6, t);
	assert_true(n >= 2 && n <= 6 && t[0] <= 1e9 && t[n - 1] >= 1e9 + 1e-3);

	/* max 2 around 0 cannot be nice: the ends themselves. */
	n = lab_svg_nice_ticks(-1, 1, 2, t);
	assert_ticks(t, n, (double[]){ -1, 1 }, 2);
	n = lab_svg_nice_ticks(0.9, 1.1, 2, t);
	assert_ticks(t, n, (double[]){ 0, 2 }, 2);

	/* Unusable. */
	assert_int_equal(lab_svg_nice_ticks(0, 1, 1, t), 0);
	assert_int_equal(lab_svg_nice_ticks(0, 1, 6, NULL), 0);
	assert_int_equal(lab_svg_nice_ticks(NAN, 1, 6, t), 0);
	assert_int_equal(lab_svg_nice_ticks(0, INFINITY, 6, t), 0);
	assert_int_equal(lab_svg_nice_ticks(-INFINITY, 0, 6, t), 0);
	assert_int_equal(lab_svg_nice_ticks(0, 1e300, 6, t), 0);
}

/* Random ranges of every magnitude and sign: at most max ticks, at least
 * 2, ascending, evenly spaced by 1, 2 or 5 x 10^k, covering the range. */
static void test_nice_ticks_random(void **st)
{
	double t[16];

	(void)st;
	for (int iter = 0; iter < 20000; iter++) {
		double a = pow(10, rng_unit() * 40 - 20) * (rng_next() % 3 ? 1 : -1);
		double b = rng_next() % 4 ? a + pow(10, rng_unit() * 40 - 20) * (rng_next() % 2 ? 1 : -1)
					  : 0;
		double lo = fmin(a, b), hi = fmax(a, b), span, step, mant;
		int max = 2 + (int)(rng_next() % 13);
		int n = lab_svg_nice_ticks(a, b, max, t);

		if (n < 2 || n > max)
			fail_msg("[%g, %g] max %d: %d ticks", lo, hi, max, n);
		span = t[n - 1] - t[0];
		if (t[0] > lo + 1e-9 * span || t[n - 1] < hi - 1e-9 * span)
			fail_msg("[%.17g, %.17g] max %d: ticks %.17g .. %.17g", lo, hi, max, t[0],
				 t[n - 1]);
		step = t[1] - t[0];
		for (int i = 1; i < n; i++)
			if (!(t[i] > t[i - 1]) || fabs(t[i] - t[i - 1] - step) > 1e-6 * step)
				fail_msg("[%g, %g] max %d: uneven ticks at %d", lo, hi, max, i);
		if (max == 2 && lo < 0 && hi > 0)
			continue; /* the documented fall-back */
		mant = step / pow(10, floor(log10(step)));
		if (fabs(mant - 1) > 1e-6 && fabs(mant - 2) > 1e-6 && fabs(mant - 5) > 1e-6 &&
		    fabs(mant - 10) > 1e-5)
			fail_msg("[%g, %g] max %d: step %.17g", lo, hi, max, step);
	}
}

/* ---- line charts ------------------------------------------------------- */

static void test_line_chart(void **st)
{
	double x[100], y1[100], y2[100];
	struct lab_svg_series s[2] = {
		{ .name = "sonde", .x = x, .y = y1, .n = 100 },
		{ .name = "bpftrace", .x = NULL, .y = y2, .n = 100 },
	};
	char *svg;

	(void)st;
	need_xmllint();
	for (int i = 0; i < 100; i++) {
		x[i] = i * 0.5;
		y1[i] = 1000 + 25000 * (i % 10);
		y2[i] = 2.5e6 * i / 99;
	}
	svg = line_svg("Latency over time", s, 2, false);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "class=\"series\""), 2);
	assert_int_equal(count_str(svg, "<polyline"), 2);
	assert_int_equal(count_str(svg, "<circle"), 0); /* long series: no markers */
	assert_non_null(strstr(svg, "<title>Latency over time</title>"));
	assert_non_null(strstr(svg, ">sonde</text>"));
	assert_non_null(strstr(svg, ">bpftrace</text>"));
	assert_non_null(strstr(svg, ">2.5M</text>")); /* y ticks: 0 .. 2.5M by 0.5M */
	assert_non_null(strstr(svg, ">0.5M</text>"));
	assert_non_null(strstr(svg, ">time (s)</text>"));
	assert_non_null(strstr(svg, "stroke=\"#0072B2\""));
	assert_non_null(strstr(svg, "stroke=\"#E69F00\""));
	free(svg);
}

static void test_escaping(void **st)
{
	static const double y[] = { 1, 2, 3 };
	struct lab_svg_series s[3] = {
		{ .name = "a<b>&\"c'd", .y = y, .n = 3 },
		/* invalid UTF-8, a control character, a lone surrogate, U+FFFF */
		{ .name = "bad \xff\xfe \x01 \xed\xa0\x80 \xef\xbf\xbf end", .y = y, .n = 3 },
		{ .name = "\xc2\xb5s", .y = y, .n = 3 }, /* "µs" stays */
	};
	static const char *const groups[] = { "<p50>", "p&90" };
	static const char *const names[] = { "x'y", "\"q\"" };
	static const double values[] = { 1, 2, 3, 4 };
	char *svg;

	(void)st;
	need_xmllint();
	svg = line_svg("<script>alert('&')</script>", s, 3, false);
	assert_good_svg(svg);
	assert_null(strstr(svg, "<script"));
	assert_null(strstr(svg, "<b>"));
	assert_non_null(strstr(svg, "&lt;script&gt;alert(&#39;&amp;&#39;)&lt;/script&gt;"));
	assert_non_null(strstr(svg, "a&lt;b&gt;&amp;&quot;c&#39;d"));
	assert_non_null(strstr(svg, "bad \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd "));
	assert_non_null(strstr(svg, ">\xc2\xb5s</text>"));
	free(svg);

	svg = bar_svg(groups, 2, names, 2, values, false);
	assert_good_svg(svg);
	assert_non_null(strstr(svg, "&lt;p50&gt;"));
	assert_non_null(strstr(svg, "p&amp;90"));
	assert_non_null(strstr(svg, "x&#39;y"));
	assert_non_null(strstr(svg, "&quot;q&quot;"));
	free(svg);
}

/* Long names are cut with an ellipsis, on a character boundary. */
static void test_long_names(void **st)
{
	char name[400];
	struct lab_svg_series s = { .name = name, .y = (const double[]){ 1, 2 }, .n = 2 };
	char *svg;

	(void)st;
	need_xmllint();
	for (size_t i = 0; i + 2 < sizeof(name); i += 2)
		memcpy(name + i, "\xc3\xa9", 2); /* é */
	name[sizeof(name) - 2] = '\0';
	svg = line_svg(name, &s, 1, false);
	assert_good_svg(svg);
	assert_non_null(strstr(svg, "\xe2\x80\xa6</text>"));
	free(svg);
}

static void test_nan_inf_gaps(void **st)
{
	static const double y[] = { 1, 2, NAN, 3, 4, INFINITY, 5, -INFINITY, 1e308 };
	static const double x[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const double xbad[] = { NAN, 1, 2, INFINITY, 4, 5, 6, 7, 8 };
	struct lab_svg_series s[2] = {
		{ .name = "gappy", .x = x, .y = y, .n = 9 },
		{ .name = "bad x", .x = xbad, .y = y, .n = 9 },
	};
	static const char *const groups[] = { "p50", "p99" };
	static const char *const names[] = { "a", "b" };
	static const double values[] = { NAN, INFINITY, -INFINITY, 42 };
	char *svg;

	(void)st;
	need_xmllint();
	svg = line_svg("gaps", s, 1, false);
	assert_good_svg(svg);
	/* Runs {1, 2}, {3, 4}, {5}: two lines and a dot; short, so markers. */
	assert_int_equal(count_str(svg, "<polyline"), 2);
	assert_int_equal(count_str(svg, "<circle"), 5);
	free(svg);

	svg = line_svg("gaps in x", s + 1, 1, false);
	assert_good_svg(svg);
	/* Runs {1}, {4}, {6}: three dots. */
	assert_int_equal(count_str(svg, "<polyline"), 0);
	assert_int_equal(count_str(svg, "<circle"), 3);
	free(svg);

	svg = line_svg("gaps, log", s, 2, true);
	assert_good_svg(svg);
	free(svg);

	svg = bar_svg(groups, 2, names, 2, values, false);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "class=\"bar\""), 1);
	assert_int_equal(count_str(svg, "class=\"na\""), 3);
	free(svg);
}

static void test_log_axis(void **st)
{
	static const double y[] = { 1, 0, 10, -5, 100, 1000 };
	static const double neg[] = { 0, -1, -2 };
	static const double wide[] = { 1e-5, 3e-2, 7, 1e4, 2.5e12 };
	struct lab_svg_series s = { .name = "log", .y = y, .n = 6 };
	char *svg;

	(void)st;
	need_xmllint();
	svg = line_svg("log", &s, 1, true);
	assert_good_svg(svg);
	/* 0 and -5 are gaps: {1}, {10}, {100, 1000}. */
	assert_int_equal(count_str(svg, "<polyline"), 1);
	assert_int_equal(count_str(svg, "<circle"), 4);
	/* 1, 2, 5 x 10^k ticks from 1 to 1000. */
	assert_non_null(strstr(svg, ">1</text>"));
	assert_non_null(strstr(svg, ">2</text>"));
	assert_non_null(strstr(svg, ">50</text>"));
	assert_non_null(strstr(svg, ">500</text>"));
	assert_non_null(strstr(svg, ">1k</text>"));
	free(svg);

	s.y = neg;
	s.n = 3;
	svg = line_svg("log, nothing positive", &s, 1, true);
	assert_good_svg(svg);
	assert_non_null(strstr(svg, "class=\"nodata\""));
	free(svg);

	s.y = wide;
	s.n = 5;
	svg = line_svg("log, 17 decades", &s, 1, true);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "<polyline"), 1);
	free(svg);

	s.y = (const double[]){ 1e-300, 1e299 };
	s.n = 2;
	svg = line_svg("log, extremes", &s, 1, true);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "<polyline"), 1);
	free(svg);
}

static void test_empty(void **st)
{
	static const double nans[] = { NAN, NAN, INFINITY };
	struct lab_svg_series empty = { .name = "empty", .y = NULL, .n = 0 };
	struct lab_svg_series allnan = { .name = "all gaps", .y = nans, .n = 3 };
	static const char *const groups[] = { "p50", "p90" };
	static const char *const names[] = { "a" };
	char *svg;

	(void)st;
	need_xmllint();
	svg = line_svg("no series", NULL, 0, false);
	assert_good_svg(svg);
	assert_non_null(strstr(svg, ">no data</text>"));
	free(svg);

	svg = line_svg("empty series", &empty, 1, false);
	assert_good_svg(svg);
	assert_non_null(strstr(svg, ">no data</text>"));
	assert_non_null(strstr(svg, ">empty</text>")); /* the legend stays */
	free(svg);

	svg = line_svg("all gaps", &allnan, 1, true);
	assert_good_svg(svg);
	assert_non_null(strstr(svg, ">no data</text>"));
	free(svg);

	svg = line_svg(NULL, &allnan, 1, false); /* NULL title */
	assert_good_svg(svg);
	assert_non_null(strstr(svg, "<title></title>"));
	free(svg);

	svg = bar_svg(groups, 2, names, 1, nans, false);
	assert_good_svg(svg);
	assert_non_null(strstr(svg, ">no data</text>"));
	assert_int_equal(count_str(svg, "class=\"bar\""), 0);
	free(svg);

	svg = bar_svg(NULL, 0, NULL, 0, NULL, true);
	assert_good_svg(svg);
	assert_non_null(strstr(svg, ">no data</text>"));
	free(svg);
}

static void test_degenerate(void **st)
{
	static const double one[] = { 7 };
	static const double flat[] = { 5, 5, 5, 5 };
	static const double same_x[] = { 3, 3, 3, 3 };
	static const double zeros[] = { 0, 0, 0, 0 };
	struct lab_svg_series s = { .name = "one", .y = one, .n = 1 };
	static const char *const groups[] = { "p50", "p90" };
	static const char *const names[] = { "a", "b" };
	char *svg;

	(void)st;
	need_xmllint();
	svg = line_svg("a single point", &s, 1, false);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "<circle"), 1);
	free(svg);

	svg = line_svg("a single point, log", &s, 1, true);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "<circle"), 1);
	free(svg);

	s = (struct lab_svg_series){ .name = "flat", .x = same_x, .y = flat, .n = 4 };
	svg = line_svg("flat, one x", &s, 1, false);
	assert_good_svg(svg);
	free(svg);
	svg = line_svg("flat, one x, log", &s, 1, true);
	assert_good_svg(svg);
	free(svg);

	s.y = zeros;
	svg = line_svg("zeros", &s, 1, false);
	assert_good_svg(svg);
	free(svg);

	svg = bar_svg(groups, 2, names, 2, zeros, false);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "class=\"bar\""), 4);
	free(svg);

	svg = bar_svg(groups, 2, names, 2, flat, true);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "class=\"bar\""), 4);
	free(svg);
}

/* ---- bar charts -------------------------------------------------------- */

static void test_bar_chart(void **st)
{
	static const char *const groups[] = { "p50", "p90", "p99", "p99.9", "max" };
	static const char *const names[] = { "baseline", "sonde", "bpftrace" };
	double values[15] = {
		12.3, 13.1, 15.0,
		45.6, 47.2, 51.9,
		123, 130, 180,
		999.7, 1234, 2100,
		0.123, 1e6, 56789,
	};
	char *svg;

	(void)st;
	need_xmllint();
	svg = bar_svg(groups, 5, names, 3, values, false);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "class=\"bar\""), 15);
	assert_int_equal(count_str(svg, "class=\"na\""), 0);
	assert_int_equal(count_str(svg, "class=\"group-label\""), 5);
	assert_non_null(strstr(svg, ">p99.9</text>"));
	/* Compact values above the bars. */
	assert_non_null(strstr(svg, ">45.6</text>"));
	assert_non_null(strstr(svg, ">1.23k</text>"));
	assert_non_null(strstr(svg, ">1k</text>"));  /* 999.7 */
	assert_non_null(strstr(svg, ">0.123</text>"));
	assert_non_null(strstr(svg, ">1M</text>"));
	assert_non_null(strstr(svg, ">56.8k</text>"));
	assert_non_null(strstr(svg, ">12.3</text>"));
	/* Tooltips name the series and the group. */
	assert_non_null(strstr(svg, "<title>sonde, p99: 130</title>"));
	/* One swatch per series, in palette order. */
	assert_int_equal(count_str(svg, "class=\"swatch\""), 3);
	assert_non_null(strstr(svg, "fill=\"#009E73\""));
	free(svg);

	svg = bar_svg(groups, 5, names, 3, values, true);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "class=\"bar\""), 15);
	free(svg);

	/* NaN: no bar but an n/a mark; on a log axis, so are 0 and negatives. */
	values[4] = NAN;
	values[7] = 0;
	values[8] = -3;
	svg = bar_svg(groups, 5, names, 3, values, false);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "class=\"bar\""), 14);
	assert_int_equal(count_str(svg, "class=\"na\""), 1);
	free(svg);
	svg = bar_svg(groups, 5, names, 3, values, true);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "class=\"bar\""), 12);
	assert_int_equal(count_str(svg, "class=\"na\""), 3);
	free(svg);
}

/* More series than colours and legend rows; narrow bars. */
static void test_many_series(void **st)
{
	enum { NS = 30, NG = 5 };
	static const char *const groups[NG] = { "p50", "p90", "p99", "p99.9", "max" };
	const char *names[NS];
	char name_buf[NS][16];
	double values[NG * NS];
	double y[NS][20];
	struct lab_svg_series s[NS];
	char *svg;

	(void)st;
	need_xmllint();
	for (int i = 0; i < NS; i++) {
		snprintf(name_buf[i], sizeof(name_buf[i]), "tracer %d", i);
		names[i] = name_buf[i];
		for (int k = 0; k < 20; k++)
			y[i][k] = (i + 1) * (k + 1);
		s[i] = (struct lab_svg_series){ .name = names[i], .y = y[i], .n = 20 };
	}
	for (int i = 0; i < NG * NS; i++)
		values[i] = (i % 7) ? 100.0 * i : NAN;

	svg = bar_svg(groups, NG, names, NS, values, false);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "class=\"bar\""), NG * NS - (NG * NS + 6) / 7);
	assert_non_null(strstr(svg, " more</text>"));
	free(svg);

	svg = line_svg("many", s, NS, false);
	assert_good_svg(svg);
	assert_int_equal(count_str(svg, "class=\"series\""), NS);
	/* Series 8 reuses series 0's colour, dashed. */
	assert_non_null(strstr(svg, "stroke=\"#0072B2\" stroke-width=\"2\" stroke-linejoin=\"round\" "
				    "stroke-linecap=\"round\" stroke-dasharray=\"6 3\""));
	free(svg);
}

/* ---- arguments, errors, locale ----------------------------------------- */

static void test_bad_args(void **st)
{
	static const double y[] = { 1, 2 };
	static const char *const groups[] = { "a" };
	struct lab_svg_series ok = { .name = "ok", .y = y, .n = 2 };
	struct lab_svg_series neg = { .name = "neg", .y = y, .n = -1 };
	struct lab_svg_series noy = { .name = "no y", .y = NULL, .n = 2 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)st;
	assert_non_null(f);
	assert_int_equal(lab_svg_line_chart(NULL, "t", "x", "y", &ok, 1, false), -EINVAL);
	assert_int_equal(lab_svg_line_chart(f, "t", "x", "y", &ok, -1, false), -EINVAL);
	assert_int_equal(lab_svg_line_chart(f, "t", "x", "y", NULL, 1, false), -EINVAL);
	assert_int_equal(lab_svg_line_chart(f, "t", "x", "y", &neg, 1, false), -EINVAL);
	assert_int_equal(lab_svg_line_chart(f, "t", "x", "y", &noy, 1, false), -EINVAL);
	assert_int_equal(lab_svg_bar_chart(NULL, "t", "y", groups, 1, groups, 1, y, false), -EINVAL);
	assert_int_equal(lab_svg_bar_chart(f, "t", "y", groups, -1, groups, 1, y, false), -EINVAL);
	assert_int_equal(lab_svg_bar_chart(f, "t", "y", groups, 1, groups, -1, y, false), -EINVAL);
	assert_int_equal(lab_svg_bar_chart(f, "t", "y", NULL, 1, groups, 1, y, false), -EINVAL);
	assert_int_equal(lab_svg_bar_chart(f, "t", "y", groups, 1, NULL, 1, y, false), -EINVAL);
	assert_int_equal(lab_svg_bar_chart(f, "t", "y", groups, 1, groups, 1, NULL, false), -EINVAL);
	assert_int_equal(lab_svg_bar_chart(f, "t", "y", groups, 1 << 20, groups, 1 << 12, y, false),
			 -EINVAL);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(len, 0); /* nothing written */
	free(buf);

	/* A write error is reported. */
	f = fopen("/dev/full", "w");
	if (f) {
		assert_int_equal(lab_svg_line_chart(f, "t", "x", "y", &ok, 1, false), -EIO);
		assert_int_equal(lab_svg_bar_chart(f, "t", "y", groups, 1, groups, 1, y, false),
				 -EIO);
		fclose(f);
	}
}

/* Numbers do not follow LC_NUMERIC: a locale with a decimal comma (when one
 * is installed) gives the very same bytes as "C". */
static void test_locale_independent(void **st)
{
	static const char *const locales[] = { "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "de_DE" };
	static const double y[] = { 0.25, 1.5, 2.75, 1234.5 };
	struct lab_svg_series s = { .name = "s", .y = y, .n = 4 };
	char *c_svg, *other;

	(void)st;
	c_svg = line_svg("locale", &s, 1, false);
	assert_non_null(strstr(c_svg, ".5"));
	for (size_t i = 0; i < sizeof(locales) / sizeof(locales[0]); i++) {
		if (!setlocale(LC_NUMERIC, locales[i]))
			continue;
		other = line_svg("locale", &s, 1, false);
		setlocale(LC_NUMERIC, "C");
		assert_string_equal(other, c_svg);
		free(other);
	}
	free(c_svg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nice_ticks_examples),
		cmocka_unit_test(test_nice_ticks_random),
		cmocka_unit_test(test_line_chart),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_nan_inf_gaps),
		cmocka_unit_test(test_log_axis),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_degenerate),
		cmocka_unit_test(test_bar_chart),
		cmocka_unit_test(test_many_series),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_locale_independent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
