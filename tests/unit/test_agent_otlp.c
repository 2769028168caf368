/* agent/otlp: the OTLP/HTTP JSON bodies, checked byte for byte for one
 * server span, one client span with an error and a hostile path, and the
 * metrics of a small table; and parsed back with jansson for a batch of
 * spans with every kind of hostile byte, so the JSON is always valid; and
 * url.path is the path alone whatever target it is given (no query,
 * fragment, or a proxy-form target's user:password). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "agent/otlp.h"

static const struct otlp_resource res = { "sonde-agent", "node-1", "0.1" };

static void fill_ids(struct otlp_span *s, uint8_t seed)
{
	for (int i = 0; i < OTLP_TRACE_ID_BYTES; i++)
		s->trace_id[i] = (uint8_t)(seed + i);
	for (int i = 0; i < OTLP_SPAN_ID_BYTES; i++)
		s->span_id[i] = (uint8_t)(0xf0 + i);
}

static void test_spans_exact(void **state)
{
	struct otlp_span s[2] = { 0 };
	struct strbuf b;

	(void)state;
	fill_ids(&s[0], 0);
	s[0].side = SERIES_SIDE_SERVER;
	s[0].start_unix_ns = 1700000000000000000ull;
	s[0].end_unix_ns = 1700000000001000000ull;
	s[0].method = "GET";
	s[0].status = 200;
	s[0].path = "/users/42";
	s[0].route = "/users/{id}";
	s[0].server_address = "127.0.0.1";
	s[0].server_port = 8080;
	s[0].pid = 1234;
	s[0].process_name = "nginx";
	fill_ids(&s[1], 0x10);
	s[1].side = SERIES_SIDE_CLIENT;
	s[1].start_unix_ns = 5;
	s[1].end_unix_ns = 6;
	s[1].method = "_OTHER";
	s[1].method_original = "BREW";
	s[1].path = "/a\"b\n";
	s[1].route = "/a\"b\n";
	s[1].pid = 7;
	s[1].process_name = "curl";
	s[1].container_id = "abc";
	s[1].tls = true;
	strbuf_init(&b, 0);
	assert_int_equal(otlp_spans_json(&b, &res, s, 2), 0);
	assert_string_equal(b.buf,
		"{\"resourceSpans\":[{\"resource\":{\"attributes\":["
		"{\"key\":\"service.name\",\"value\":{\"stringValue\":\"sonde-agent\"}},"
		"{\"key\":\"host.name\",\"value\":{\"stringValue\":\"node-1\"}}]},"
		"\"scopeSpans\":[{\"scope\":{\"name\":\"sonde\",\"version\":\"0.1\"},\"spans\":["
		"{\"traceId\":\"000102030405060708090a0b0c0d0e0f\",\"spanId\":\"f0f1f2f3f4f5f6f7\","
		"\"name\":\"GET /users/{id}\",\"kind\":2,"
		"\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":\"1700000000001000000\","
		"\"attributes\":["
		"{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}},"
		"{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"200\"}},"
		"{\"key\":\"url.path\",\"value\":{\"stringValue\":\"/users/42\"}},"
		"{\"key\":\"url.scheme\",\"value\":{\"stringValue\":\"http\"}},"
		"{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/users/{id}\"}},"
		"{\"key\":\"server.address\",\"value\":{\"stringValue\":\"127.0.0.1\"}},"
		"{\"key\":\"server.port\",\"value\":{\"intValue\":\"8080\"}},"
		"{\"key\":\"process.pid\",\"value\":{\"intValue\":\"1234\"}},"
		"{\"key\":\"process.executable.name\",\"value\":{\"stringValue\":\"nginx\"}}]},"
		"{\"traceId\":\"101112131415161718191a1b1c1d1e1f\",\"spanId\":\"f0f1f2f3f4f5f6f7\","
		"\"name\":\"_OTHER /a\\\"b\\n\",\"kind\":3,"
		"\"startTimeUnixNano\":\"5\",\"endTimeUnixNano\":\"6\",\"attributes\":["
		"{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"_OTHER\"}},"
		"{\"key\":\"http.request.method_original\",\"value\":{\"stringValue\":\"BREW\"}},"
		"{\"key\":\"url.path\",\"value\":{\"stringValue\":\"/a\\\"b\\n\"}},"
		"{\"key\":\"url.scheme\",\"value\":{\"stringValue\":\"https\"}},"
		"{\"key\":\"process.pid\",\"value\":{\"intValue\":\"7\"}},"
		"{\"key\":\"process.executable.name\",\"value\":{\"stringValue\":\"curl\"}},"
		"{\"key\":\"container.id\",\"value\":{\"stringValue\":\"abc\"}}],"
		"\"status\":{\"code\":2}}]}]}]}");
	strbuf_free(&b);
}

static void test_spans_hostile_valid_json(void **state)
{
	struct otlp_span s[64] = { 0 };
	char paths[64][40];
	struct strbuf b;
	json_error_t jerr;
	json_t *root, *spans;

	(void)state;
	for (int i = 0; i < 64; i++) {
		for (int k = 0; k < 39; k++)
			paths[i][k] = (char)(1 + (i * 39 + k) * 7 % 255); /* every byte but NUL */
		paths[i][39] = 0;
		fill_ids(&s[i], (uint8_t)i);
		s[i].side = (enum series_side)(i & 1);
		s[i].method = paths[i];
		s[i].path = paths[i];
		s[i].route = paths[i];
		s[i].process_name = paths[i];
		s[i].status = (uint16_t)(i * 10);
	}
	strbuf_init(&b, 0);
	assert_int_equal(otlp_spans_json(&b, &res, s, 64), 0);
	root = json_loads(b.buf, 0, &jerr);
	if (!root)
		fail_msg("invalid JSON: %s at %d", jerr.text, jerr.position);
	spans = json_object_get(json_array_get(json_object_get(json_array_get(
		json_object_get(root, "resourceSpans"), 0), "scopeSpans"), 0), "spans");
	assert_int_equal(json_array_size(spans), 64);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(spans, 1), "kind")),
			 OTLP_SPAN_KIND_CLIENT);
	json_decref(root);
	strbuf_free(&b);
}

/* The url.path sent for a span whose target is path. */
static void url_path_is(const char *path, const char *want)
{
	struct otlp_span s = { .side = SERIES_SIDE_CLIENT, .method = "GET", .path = path,
			       .route = "/p" };
	struct strbuf b;
	json_t *root, *attrs, *at;
	const char *got = NULL;
	size_t i;

	strbuf_init(&b, 0);
	assert_int_equal(otlp_spans_json(&b, &res, &s, 1), 0);
	root = json_loads(b.buf, 0, NULL);
	assert_non_null(root);
	attrs = json_object_get(json_array_get(json_object_get(json_array_get(json_object_get(
		json_array_get(json_object_get(root, "resourceSpans"), 0), "scopeSpans"), 0),
		"spans"), 0), "attributes");
	json_array_foreach(attrs, i, at)
		if (!strcmp(json_string_value(json_object_get(at, "key")), "url.path"))
			got = json_string_value(json_object_get(json_object_get(at, "value"),
								"stringValue"));
	if (want ? !got || strcmp(got, want) : got != NULL)
		fail_msg("url.path of \"%s\" is \"%s\", want \"%s\"", path ? path : "(null)",
			 got ? got : "(none)", want ? want : "(none)");
	/* nothing of what was cut is anywhere in the body */
	assert_null(strstr(b.buf, "secret"));
	json_decref(root);
	strbuf_free(&b);
}

/* url.path is the path alone, whatever target the caller passes: no query,
 * no fragment, no scheme nor authority (a proxy-form target's
 * user:password). */
static void test_span_url_path_is_path_only(void **state)
{
	(void)state;
	url_path_is("/p", "/p");
	url_path_is("/p?token=secret&next=secret", "/p");
	url_path_is("/p#secret", "/p");
	url_path_is("/p?a=REDACTED#secret", "/p");
	url_path_is("http://user:secret@127.0.0.1:8080/p?q=secret", "/p");
	url_path_is("http://127.0.0.1:8080?next=/secret", "/");
	url_path_is("http://127.0.0.1:8080", "/");
	url_path_is("", NULL);
	url_path_is(NULL, NULL);
}

static void test_metrics_exact(void **state)
{
	struct series_table *t;
	struct strbuf b;

	(void)state;
	assert_int_equal(series_table_new(&t, 0), 0);
	series_table_observe(t, SERIES_SIDE_SERVER, "GET", 200, "/", "nginx", "", 0.002);
	series_table_observe(t, SERIES_SIDE_SERVER, "GET", 200, "/", "nginx", "", 0.5);
	strbuf_init(&b, 0);
	assert_int_equal(otlp_metrics_json(&b, &res, t, 10, 20), 0);
	assert_string_equal(b.buf,
		"{\"resourceMetrics\":[{\"resource\":{\"attributes\":["
		"{\"key\":\"service.name\",\"value\":{\"stringValue\":\"sonde-agent\"}},"
		"{\"key\":\"host.name\",\"value\":{\"stringValue\":\"node-1\"}}]},"
		"\"scopeMetrics\":[{\"scope\":{\"name\":\"sonde\",\"version\":\"0.1\"},\"metrics\":["
		"{\"name\":\"http.server.request.duration\",\"unit\":\"s\",\"histogram\":{"
		"\"aggregationTemporality\":2,\"dataPoints\":[{\"attributes\":["
		"{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}},"
		"{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"200\"}},"
		"{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/\"}},"
		"{\"key\":\"process.executable.name\",\"value\":{\"stringValue\":\"nginx\"}}],"
		"\"startTimeUnixNano\":\"10\",\"timeUnixNano\":\"20\",\"count\":\"2\",\"sum\":0.502,"
		"\"bucketCounts\":[\"1\",\"0\",\"0\",\"0\",\"0\",\"0\",\"0\",\"1\",\"0\",\"0\",\"0\",\"0\",\"0\",\"0\",\"0\"],"
		"\"explicitBounds\":[0.005,0.01,0.025,0.05,0.075,0.1,0.25,0.5,0.75,1,2.5,5,7.5,10]}]}},"
		"{\"name\":\"http.client.request.duration\",\"unit\":\"s\",\"histogram\":{"
		"\"aggregationTemporality\":2,\"dataPoints\":[]}}]}]}]}");
	strbuf_free(&b);
	series_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spans_exact),
		cmocka_unit_test(test_spans_hostile_valid_json),
		cmocka_unit_test(test_span_url_path_is_path_only),
		cmocka_unit_test(test_metrics_exact),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
