/* The HTTP pipeline from raw kernel records to request records, without a
 * kernel: connection table (open, data, close, table full, unknown ids),
 * role from the origin, filters, and malformed records refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "export/http_format.h"
#include "pipeline/http_pipeline.h"

#define RECS_MAX 64

struct sink {
	int n;
	struct http_record r[RECS_MAX];
	struct http1_exchange ex[RECS_MAX];
};

static void collect(const struct http_record *r, void *ctx)
{
	struct sink *s = ctx;

	if (s->n == RECS_MAX)
		return;
	s->ex[s->n] = *r->ex;
	s->r[s->n] = *r;
	s->r[s->n].ex = &s->ex[s->n];
	s->n++;
}

static void open_conn(struct http_pipeline *p, uint64_t id, uint8_t origin, const char *comm)
{
	struct http_open_event e = { 0 };

	e.hdr.kind = HTTP_EV_OPEN;
	e.hdr.pid = 100;
	e.hdr.conn_id = id;
	e.origin = origin;
	e.family = AF_INET;
	e.lport = 8080;
	e.rport = 40000;
	inet_pton(AF_INET, "127.0.0.1", e.laddr);
	inet_pton(AF_INET, "127.0.0.2", e.raddr);
	memcpy(e.comm, comm, strnlen(comm, sizeof(e.comm) - 1));
	assert_int_equal(http_pipeline_event(p, &e, sizeof(e)), 0);
}

static void data(struct http_pipeline *p, uint64_t id, uint8_t dir, uint64_t ts, const char *bytes,
		 uint32_t len)
{
	static struct http_data_event e;
	uint32_t cap = (uint32_t)strlen(bytes);

	memset(&e, 0, HTTP_DATA_HEAD_BYTES);
	e.hdr.kind = HTTP_EV_DATA;
	e.hdr.pid = 100;
	e.hdr.conn_id = id;
	e.hdr.ts_ns = ts;
	e.dir = dir;
	e.len = len ? len : cap;
	e.cap = (uint16_t)cap;
	memcpy(e.data, bytes, cap);
	assert_int_equal(http_pipeline_event(p, &e, HTTP_DATA_HEAD_BYTES + cap), 0);
}

static void close_conn(struct http_pipeline *p, uint64_t id)
{
	struct http_close_event e = { 0 };

	e.hdr.kind = HTTP_EV_CLOSE;
	e.hdr.conn_id = id;
	assert_int_equal(http_pipeline_event(p, &e, sizeof(e)), 0);
}

static const char REQ[] = "GET /a?k=secret HTTP/1.1\r\nHost: x\r\n\r\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

static void test_server_exchange_exact(void **st)
{
	struct http_pipeline_opts o = { 0 };
	struct http_pipeline *p;
	struct sink s = { 0 };
	struct http_pipeline_stats ps;
	char json[2048];
	struct json_writer w;

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, collect, &s), 0);
	open_conn(p, 1, HTTP_ORIGIN_ACCEPT, "nginx");
	data(p, 1, HTTP_DIR_INGRESS, 1000, REQ, 0);
	data(p, 1, HTTP_DIR_EGRESS, 5000, RESP, 0);
	assert_int_equal(s.n, 1);
	json_init(&w, json, sizeof(json));
	assert_int_equal(http_record_to_json(&s.r[0], &w), 0);
	assert_string_equal(json,
		"{\"type\":\"http\",\"ts_ns\":1000,\"pid\":100,\"comm\":\"nginx\",\"side\":\"server\","
		"\"tls\":false,\"method\":\"GET\",\"path\":\"/a?k=REDACTED\",\"status\":200,"
		"\"latency_ns\":4000,\"ttfb_ns\":4000,\"req_bytes\":37,\"resp_bytes\":43,"
		"\"laddr\":\"127.0.0.1\",\"lport\":8080,\"raddr\":\"127.0.0.2\",\"rport\":40000,"
		"\"incomplete\":false}");
	close_conn(p, 1);
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.conns_opened, 1);
	assert_int_equal(ps.conns_closed, 1);
	assert_int_equal(ps.conns_live, 0);
	assert_int_equal(ps.records, 1);
	http_pipeline_free(p);
}

static void test_client_and_side_filter(void **st)
{
	struct http_pipeline_opts o = { .side = HTTP_SIDE_SERVER, .show_query = true };
	struct http_pipeline *p;
	struct sink s = { 0 };
	struct http_pipeline_stats ps;

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, collect, &s), 0);
	open_conn(p, 7, HTTP_ORIGIN_CONNECT, "curl");
	data(p, 7, HTTP_DIR_EGRESS, 10, REQ, 0);
	data(p, 7, HTTP_DIR_INGRESS, 20, RESP, 0);
	open_conn(p, 8, HTTP_ORIGIN_ACCEPT, "srv");
	data(p, 8, HTTP_DIR_INGRESS, 30, REQ, 0);
	data(p, 8, HTTP_DIR_EGRESS, 40, RESP, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].side, HTTP_SIDE_SERVER);
	assert_string_equal(s.ex[0].path, "/a?k=secret");
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.records_filtered, 1);
	http_pipeline_free(p);
}

static void test_existing_connection_role_inferred(void **st)
{
	struct http_pipeline_opts o = { 0 };
	struct http_pipeline *p;
	struct sink s = { 0 };

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, collect, &s), 0);
	open_conn(p, 3, HTTP_ORIGIN_EXISTING, "old");
	data(p, 3, HTTP_DIR_EGRESS, 10, REQ, 0);   /* it writes a request: a client */
	data(p, 3, HTTP_DIR_INGRESS, 20, RESP, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].side, HTTP_SIDE_CLIENT);
	http_pipeline_free(p);
}

static void test_finish_reports_incomplete(void **st)
{
	struct http_pipeline_opts o = { 0 };
	struct http_pipeline *p;
	struct sink s = { 0 };

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, collect, &s), 0);
	for (uint64_t id = 1; id <= 20; id++) {
		open_conn(p, id, HTTP_ORIGIN_ACCEPT, "srv");
		data(p, id, HTTP_DIR_INGRESS, 1, REQ, 0);
	}
	assert_int_equal(s.n, 0);
	http_pipeline_finish(p);
	assert_int_equal(s.n, 20);
	for (int i = 0; i < s.n; i++)
		assert_true(s.ex[i].flags & HTTP1_EXCH_INCOMPLETE);
	http_pipeline_free(p);
}

static void test_table_full_and_unknown_counted(void **st)
{
	struct http_pipeline_opts o = { .max_conns = 2 };
	struct http_pipeline *p;
	struct sink s = { 0 };
	struct http_pipeline_stats ps;

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, collect, &s), 0);
	open_conn(p, 1, HTTP_ORIGIN_ACCEPT, "a");
	open_conn(p, 2, HTTP_ORIGIN_ACCEPT, "a");
	open_conn(p, 3, HTTP_ORIGIN_ACCEPT, "a"); /* over the bound */
	data(p, 3, HTTP_DIR_INGRESS, 1, REQ, 0);   /* its data: no connection */
	close_conn(p, 99);
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.conn_table_full, 1);
	assert_int_equal(ps.events_no_conn, 2);
	assert_int_equal(ps.conns_live, 2);
	close_conn(p, 1);
	open_conn(p, 4, HTTP_ORIGIN_ACCEPT, "a"); /* room again */
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.conns_live, 2);
	http_pipeline_free(p);
}

static void test_many_conns_table_consistent(void **st)
{
	struct http_pipeline_opts o = { .max_conns = 1000 };
	struct http_pipeline *p;
	struct sink s = { 0 };
	struct http_pipeline_stats ps;

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, collect, &s), 0);
	/* open and close in an interleaved order: backward-shift deletion */
	for (uint64_t id = 1; id <= 1000; id++)
		open_conn(p, id * 7919, HTTP_ORIGIN_ACCEPT, "a");
	for (uint64_t id = 1; id <= 1000; id += 2)
		close_conn(p, id * 7919);
	for (uint64_t id = 2; id <= 1000; id += 2)
		close_conn(p, id * 7919);
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.conns_live, 0);
	assert_int_equal(ps.events_no_conn, 0);
	assert_int_equal(ps.conns_closed, 1000);
	http_pipeline_free(p);
}

static void test_malformed_refused(void **st)
{
	struct http_pipeline_opts o = { 0 };
	struct http_pipeline *p;
	struct sink s = { 0 };
	static struct http_data_event e;
	struct http_event_hdr h = { .kind = 42 };

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, collect, &s), 0);
	open_conn(p, 1, HTTP_ORIGIN_ACCEPT, "a");
	memset(&e, 0, sizeof(e));
	e.hdr.kind = HTTP_EV_DATA;
	e.hdr.conn_id = 1;
	e.len = 10;
	e.cap = 20; /* more captured than moved */
	assert_int_equal(http_pipeline_event(p, &e, HTTP_DATA_HEAD_BYTES + 20), -EINVAL);
	e.cap = 10;
	assert_int_equal(http_pipeline_event(p, &e, HTTP_DATA_HEAD_BYTES + 5), -EINVAL); /* cut */
	e.tail_len = HTTP_TAIL_BYTES + 1;
	assert_int_equal(http_pipeline_event(p, &e, HTTP_DATA_HEAD_BYTES + 10), -EINVAL);
	e.tail_len = 0;
	e.dir = 7;
	assert_int_equal(http_pipeline_event(p, &e, HTTP_DATA_HEAD_BYTES + 10), -EINVAL);
	assert_int_equal(http_pipeline_event(p, &h, sizeof(h)), -EINVAL);
	assert_int_equal(http_pipeline_event(p, &h, 3), -EINVAL);
	h.kind = HTTP_EV_OPEN;
	assert_int_equal(http_pipeline_event(p, &h, sizeof(h)), -EINVAL);
	http_pipeline_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_exchange_exact),
		cmocka_unit_test(test_client_and_side_filter),
		cmocka_unit_test(test_existing_connection_role_inferred),
		cmocka_unit_test(test_finish_reports_incomplete),
		cmocka_unit_test(test_table_full_and_unknown_counted),
		cmocka_unit_test(test_many_conns_table_consistent),
		cmocka_unit_test(test_malformed_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
