/* agent/series and agent/prom: RED aggregation (counts, errors per side,
 * histogram buckets on OpenTelemetry's bounds, method normalisation), the
 * series bound with its `other` route and all-`other` overflow, and the
 * Prometheus text output, checked byte for byte, including hostile label
 * values (quotes, backslashes, newlines, control bytes, invalid UTF-8). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/prom.h"
#include "agent/series.h"

struct found {
	const struct series *s[16];
	int n;
};

static int collect(const struct series *s, void *ctx)
{
	struct found *f = ctx;

	if (f->n < 16)
		f->s[f->n] = s;
	f->n++;
	return 0;
}

static void test_observe(void **state)
{
	struct series_table *t;
	struct series_stats st;
	struct found f = { 0 };

	(void)state;
	assert_int_equal(series_table_new(&t, 0), 0);
	series_table_observe(t, SERIES_SIDE_SERVER, "GET", 200, "/users/{id}", "nginx", "", 0.004);
	series_table_observe(t, SERIES_SIDE_SERVER, "GET", 200, "/users/{id}", "nginx", "", 0.005);
	series_table_observe(t, SERIES_SIDE_SERVER, "GET", 200, "/users/{id}", "nginx", "", 0.3);
	series_table_observe(t, SERIES_SIDE_SERVER, "GET", 200, "/users/{id}", "nginx", "", 99.0);
	series_table_observe(t, SERIES_SIDE_SERVER, "GET", 503, "/users/{id}", "nginx", "", -1);
	series_table_observe(t, SERIES_SIDE_CLIENT, "GET", 404, "/x", "curl", "", 0.01);
	series_table_observe(t, SERIES_SIDE_CLIENT, "BREW", 0, "/x", "curl", "", 0.01);
	series_table_observe(t, SERIES_SIDE_CLIENT, "get", 0, "/x", "curl", "", 0.01);
	assert_int_equal(series_table_each(t, collect, &f), 0);
	assert_int_equal(f.n, 4);
	/* insertion order */
	assert_int_equal(f.s[0]->count, 4);
	assert_int_equal(f.s[0]->errors, 0);
	assert_int_equal(f.s[0]->buckets[0], 2);   /* <= 0.005: le is inclusive */
	assert_int_equal(f.s[0]->buckets[7], 1);   /* 0.3 is in (0.25, 0.5] */
	assert_int_equal(f.s[0]->buckets[SERIES_BUCKETS], 1); /* +Inf */
	assert_int_equal(f.s[1]->key.status, 503);
	assert_int_equal(f.s[1]->count, 1);
	assert_int_equal(f.s[1]->errors, 1);       /* server: >= 500 */
	for (int b = 0; b <= SERIES_BUCKETS; b++)
		assert_int_equal(f.s[1]->buckets[b], 0); /* not measured: not observed */
	assert_int_equal(f.s[2]->errors, 1);       /* client: >= 400 */
	assert_string_equal(f.s[3]->key.method, "_OTHER"); /* BREW and get, one series */
	assert_int_equal(f.s[3]->count, 2);
	assert_int_equal(f.s[3]->errors, 2);       /* client: no response */
	series_table_stats(t, &st);
	assert_int_equal(st.records, 8);
	assert_int_equal(st.series, 4);
	assert_int_equal(st.overflow_other + st.overflow_all, 0);
	assert_true(series_is_error(SERIES_SIDE_SERVER, 500));
	assert_false(series_is_error(SERIES_SIDE_SERVER, 404));
	assert_false(series_is_error(SERIES_SIDE_SERVER, 0));
	series_table_free(t);
}

static void test_bound(void **state)
{
	struct series_table *t;
	struct series_stats st;
	struct found f = { 0 };
	char route[32], proc[32];

	(void)state;
	assert_int_equal(series_table_new(&t, 4), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(route, sizeof(route), "/r%d", i);
		series_table_observe(t, SERIES_SIDE_SERVER, "GET", 200, route, "p", "", 0.001);
	}
	series_table_stats(t, &st);
	assert_int_equal(st.records, 10);
	assert_int_equal(st.series, 5);            /* 4 + one `other` route */
	assert_int_equal(st.overflow_other, 6);
	/* the reserve runs out too: distinct processes each need an `other` */
	for (int i = 0; i < (int)SERIES_OTHER_RESERVE + 10; i++) {
		snprintf(proc, sizeof(proc), "p%d", i);
		series_table_observe(t, SERIES_SIDE_CLIENT, "GET", 200, "/z", proc, "", 0.001);
	}
	series_table_stats(t, &st);
	assert_int_equal(st.series, 4 + SERIES_OTHER_RESERVE + 1);
	assert_int_equal(st.overflow_other, 6 + SERIES_OTHER_RESERVE - 1);
	assert_int_equal(st.overflow_all, 11); /* 63 reserve slots were left */
	series_table_each(t, collect, &f);
	assert_int_equal(f.n, (int)st.series);
	{
		/* a copy renders the same, and is read only */
		struct series_table *copy, *other;
		struct series_stats cs;
		struct strbuf a, b;

		assert_int_equal(series_table_new(&copy, 4), 0);
		assert_int_equal(series_table_new(&other, 5), 0);
		assert_int_equal(series_table_copy(other, t), -EINVAL);
		assert_int_equal(series_table_copy(copy, t), 0);
		series_table_stats(copy, &cs);
		assert_memory_equal(&cs, &st, sizeof(cs));
		strbuf_init(&a, 0);
		strbuf_init(&b, 0);
		assert_int_equal(prom_write_series(&a, t), 0);
		assert_int_equal(prom_write_series(&b, copy), 0);
		assert_string_equal(a.buf, b.buf);
		series_table_observe(copy, SERIES_SIDE_SERVER, "GET", 200, "/r0", "p", "", 0.1);
		series_table_stats(copy, &cs);
		assert_int_equal(cs.records, st.records);
		strbuf_free(&a);
		strbuf_free(&b);
		series_table_free(copy);
		series_table_free(other);
	}
	series_table_free(t);
	assert_int_equal(series_table_new(&t, SERIES_MAX_MAX + 1), -EINVAL);
}

/* A copy taken again and again from a growing table, then from another
 * table, then from the first again, renders exactly as its source each
 * time. */
static void page_is(struct series_table *copy, struct series_table *src)
{
	struct strbuf a, b;

	strbuf_init(&a, 0);
	strbuf_init(&b, 0);
	assert_int_equal(series_table_copy(copy, src), 0);
	assert_int_equal(prom_write_series(&a, src), 0);
	assert_int_equal(prom_write_series(&b, copy), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, a.len);
	strbuf_free(&a);
	strbuf_free(&b);
}

static void test_copy_again(void **state)
{
	struct series_table *t, *u, *copy;
	char route[32];

	(void)state;
	assert_int_equal(series_table_new(&t, 50), 0);
	assert_int_equal(series_table_new(&u, 50), 0);
	assert_int_equal(series_table_new(&copy, 50), 0);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 30 * (round + 1); i++) {
			snprintf(route, sizeof(route), "/r%d", i % (20 * (round + 1)));
			series_table_observe(t, (enum series_side)(i & 1), "GET", 200, route, "p", "",
					     0.001 * i);
		}
		page_is(copy, t);
	}
	/* another table: a whole copy, not its counters over t's keys */
	series_table_observe(u, SERIES_SIDE_CLIENT, "PUT", 0, "/u", "q", "c", 3.0);
	page_is(copy, u);
	page_is(copy, t);
	series_table_free(t);
	series_table_free(u);
	series_table_free(copy);
}

static void escaped_is(const char *in, const char *want)
{
	struct strbuf b;

	strbuf_init(&b, 0);
	assert_int_equal(prom_escape_label(&b, in), 0);
	if (strcmp(b.buf, want))
		fail_msg("escape(\"%s\") = \"%s\", want \"%s\"", in, b.buf, want);
	strbuf_free(&b);
}

static void test_escape(void **state)
{
	(void)state;
	escaped_is("plain", "plain");
	escaped_is("a\"b\\c\nd", "a\\\"b\\\\c\\nd");
	escaped_is("tab\there", "tab\xef\xbf\xbdhere");
	escaped_is("caf\xc3\xa9", "caf\xc3\xa9");          /* valid UTF-8 kept */
	escaped_is("bad\xff\xc3", "bad\xef\xbf\xbd\xef\xbf\xbd");
	escaped_is("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
	escaped_is("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");  /* overlong */
}

static const char expected_page[] =
	"# HELP http_server_request_duration_seconds Duration of HTTP requests served on this host, seen by sonde (first request byte to last response byte).\n"
	"# TYPE http_server_request_duration_seconds histogram\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"0.005\"} 0\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"0.01\"} 0\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"0.025\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"0.05\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"0.075\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"0.1\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"0.25\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"0.5\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"0.75\"} 1\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"1\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"2.5\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"5\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"7.5\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"10\"} 2\n"
	"http_server_request_duration_seconds_bucket{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\",le=\"+Inf\"} 2\n"
	"http_server_request_duration_seconds_sum{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\"} 1.02\n"
	"http_server_request_duration_seconds_count{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\"} 2\n"
	"# HELP http_server_request_errors_total HTTP requests served on this host that failed (status >= 500).\n"
	"# TYPE http_server_request_errors_total counter\n"
	"http_server_request_errors_total{http_request_method=\"GET\",http_response_status_code=\"200\",http_route=\"/u/{id}\",process_name=\"ng\\\"x\",container_id=\"c1\"} 0\n"
	"# HELP http_client_request_duration_seconds Duration of HTTP requests made from this host, seen by sonde (first request byte to last response byte).\n"
	"# TYPE http_client_request_duration_seconds histogram\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"0.005\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"0.01\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"0.025\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"0.05\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"0.075\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"0.1\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"0.25\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"0.5\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"0.75\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"1\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"2.5\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"5\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"7.5\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"10\"} 0\n"
	"http_client_request_duration_seconds_bucket{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\",le=\"+Inf\"} 0\n"
	"http_client_request_duration_seconds_sum{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\"} 0\n"
	"http_client_request_duration_seconds_count{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\"} 0\n"
	"# HELP http_client_request_errors_total HTTP requests made from this host that failed (status >= 400 or no response).\n"
	"# TYPE http_client_request_errors_total counter\n"
	"http_client_request_errors_total{http_request_method=\"POST\",http_route=\"/a\\nb\",process_name=\"curl\"} 1\n";

static void test_page(void **state)
{
	struct series_table *t;
	struct strbuf b;
	struct prom_label l[2] = { { "tracer", "http" }, { "reason", "ringbuf_full" } };

	(void)state;
	assert_int_equal(series_table_new(&t, 0), 0);
	series_table_observe(t, SERIES_SIDE_SERVER, "GET", 200, "/u/{id}", "ng\"x", "c1", 0.02);
	series_table_observe(t, SERIES_SIDE_SERVER, "GET", 200, "/u/{id}", "ng\"x", "c1", 1.0);
	series_table_observe(t, SERIES_SIDE_CLIENT, "POST", 0, "/a\nb", "curl", "", -1);
	strbuf_init(&b, 0);
	assert_int_equal(prom_write_series(&b, t), 0);
	assert_string_equal(b.buf, expected_page);
	strbuf_reset(&b);
	assert_int_equal(prom_sample_u64(&b, "sonde_events_dropped_total", l, 2, 7), 0);
	assert_int_equal(prom_sample_double(&b, "x", NULL, 0, 0.5), 0);
	assert_int_equal(prom_sample_double(&b, "y", NULL, 0, 1.0 / 0.0), 0);
	assert_string_equal(b.buf, "sonde_events_dropped_total{tracer=\"http\",reason=\"ringbuf_full\"} 7\n"
				   "x 0.5\ny +Inf\n");
	strbuf_free(&b);
	/* a bound that is too small: -ENOSPC, flagged, never a partial line */
	strbuf_init(&b, 100);
	assert_int_equal(prom_write_series(&b, t), -ENOSPC);
	assert_true(b.overflow);
	assert_true(b.len < 100);
	strbuf_free(&b);
	series_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_observe),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_copy_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
