/* The HTTP pipeline from raw kernel records to request records, without a
 * kernel: connection table (open, data, close, table full, eviction, unknown
 * ids), role from the origin, filters, malformed records refused, bounded
 * memory for 10,000 connections, no allocation in steady state, and the
 * delivery-latency percentiles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/http_format.h"
#include "pipeline/http_pipeline.h"

/* Allocation counter: every malloc, calloc and realloc of the process while
 * counting is on, whoever makes it. Under ASan through its allocator hooks;
 * otherwise this program's own malloc family, forwarding to glibc's. */
static bool allocs_counting;
static uint64_t allocs_counted;

#if defined(__SANITIZE_ADDRESS__)
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
					       void (*free_hook)(const volatile void *));

static void count_malloc(const volatile void *ptr, size_t size)
{
	(void)ptr;
	(void)size;
	if (allocs_counting)
		allocs_counted++;
}

static void count_free(const volatile void *ptr)
{
	(void)ptr;
}

static void allocs_start(void)
{
	static bool hooked;

	if (!hooked)
		hooked = __sanitizer_install_malloc_and_free_hooks(count_malloc, count_free) != 0;
	assert_true(hooked);
	allocs_counted = 0;
	allocs_counting = true;
}
#else
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *ptr, size_t size);

void *malloc(size_t size)
{
	if (allocs_counting)
		allocs_counted++;
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	if (allocs_counting)
		allocs_counted++;
	return __libc_calloc(n, size);
}

void *realloc(void *ptr, size_t size)
{
	if (allocs_counting)
		allocs_counted++;
	return __libc_realloc(ptr, size);
}

static void allocs_start(void)
{
	allocs_counted = 0;
	allocs_counting = true;
}
#endif

static uint64_t allocs_stop(void)
{
	allocs_counting = false;
	return allocs_counted;
}

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

/* Prefetch hints change nothing: for open, closed and never-seen ids, at
 * every stage (and out-of-range ones), with a request in flight on each
 * connection, then every exchange still comes out whole. Worth it only once
 * the table outgrows the cache. */
static void test_prefetch_changes_nothing(void **st)
{
	enum { N = 3000 };
	struct http_pipeline_opts o = { .max_conns = N };
	struct http_pipeline_stats before, after;
	struct http_pipeline *p;
	struct sink s = { 0 };

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, collect, &s), 0);
	assert_false(http_pipeline_prefetch_worth(p));
	for (unsigned stage = 0; stage <= HTTP_PREFETCH_STAGES + 1; stage++)
		http_pipeline_prefetch(p, 5, stage);
	for (uint64_t id = 1; id <= N; id++) {
		open_conn(p, id, HTTP_ORIGIN_ACCEPT, "a");
		data(p, id, HTTP_DIR_INGRESS, 100 + id, REQ, 0);
	}
	assert_true(http_pipeline_prefetch_worth(p));
	close_conn(p, 7);
	http_pipeline_stats(p, &before);
	for (uint64_t id = 0; id <= N + 10; id++)
		for (unsigned stage = 0; stage <= HTTP_PREFETCH_STAGES + 1; stage++)
			http_pipeline_prefetch(p, id, stage);
	http_pipeline_stats(p, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	for (uint64_t id = 1; id <= N; id++)
		if (id != 7)
			data(p, id, HTTP_DIR_EGRESS, 10000 + id, RESP, 0);
	http_pipeline_stats(p, &after);
	assert_int_equal(after.records, N);
	assert_int_equal(after.http.incomplete, 1);
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

/* ---- bounded memory, eviction, no allocation, delivery latency ---------- */

struct count_sink {
	uint64_t n, incomplete, head_lost, overflow, path_ok;
};

static void count_records(const struct http_record *r, void *ctx)
{
	struct count_sink *s = ctx;

	s->n++;
	s->incomplete += (r->ex->flags & HTTP1_EXCH_INCOMPLETE) != 0;
	s->head_lost += (r->ex->flags & HTTP1_EXCH_HEAD_LOST) != 0;
	s->overflow += (r->ex->flags & HTTP1_EXCH_OVERFLOW) != 0;
	s->path_ok += strncmp(r->ex->path, "/item/", 6) == 0 && r->ex->method_len == 3;
}

static void assert_conn_accounting(const struct http_pipeline_stats *ps)
{
	assert_int_equal(ps->conns_opened, ps->conns_closed + ps->conns_evicted + ps->conns_live);
}

/* max_conns 100, 150 connections each with a request in flight: the 50 least
 * recently active are evicted and counted, their requests emitted
 * incomplete; a connection with recent data survives. */
static void test_evict_least_recently_active(void **st)
{
	struct http_pipeline_opts o = { .max_conns = 100, .evict_oldest = true };
	struct http_pipeline *p;
	struct count_sink s = { 0 };
	struct http_pipeline_stats ps;
	char req[64];

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, count_records, &s), 0);
	for (uint64_t id = 1; id <= 150; id++) {
		open_conn(p, id, HTTP_ORIGIN_ACCEPT, "srv");
		snprintf(req, sizeof(req), "GET /item/%llu HTTP/1.1\r\n\r\n", (unsigned long long)id);
		data(p, id, HTTP_DIR_INGRESS, id, req, 0);
		if (id == 100) /* conns 1..10 active again: now the most recent */
			for (uint64_t k = 1; k <= 10; k++)
				data(p, k, HTTP_DIR_EGRESS, 1000 + k, "HTTP/1.1 100 Continue\r\n\r\n", 0);
	}
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.conns_evicted, 50);
	assert_int_equal(ps.conn_table_full, 0);
	assert_int_equal(ps.conns_live, 100);
	assert_int_equal(s.n, 50);
	assert_int_equal(s.incomplete, 50);
	assert_int_equal(s.path_ok, 50);
	assert_int_equal(ps.exchanges_used, 100);
	assert_conn_accounting(&ps);
	/* 11..60 went, 1..10 stayed */
	data(p, 11, HTTP_DIR_EGRESS, 2000, RESP, 0);
	data(p, 60, HTTP_DIR_EGRESS, 2000, RESP, 0);
	data(p, 5, HTTP_DIR_EGRESS, 2000, RESP, 0);
	data(p, 61, HTTP_DIR_EGRESS, 2000, RESP, 0);
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.events_no_conn, 2);
	assert_int_equal(s.n, 52);
	assert_int_equal(s.incomplete, 50);
	http_pipeline_finish(p);
	http_pipeline_stats(p, &ps);
	assert_int_equal(s.n, 150);
	assert_int_equal(ps.conns_live, 0);
	assert_int_equal(ps.exchanges_used, 0);
	assert_int_equal(ps.line_bufs_used, 0);
	assert_conn_accounting(&ps);
	http_pipeline_free(p);
}

static long vm_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

#define CONNS_10K 10000u
#define MIB_BYTES (1024u * 1024u)
/* What sonde promises for 10,000 connections: the whole process under
 * 32 MiB; the pipeline's share, every request in flight and a quarter of
 * them in the middle of a split head line, well under that. */
#define RSS_10K_BYTES_MAX (32u * MIB_BYTES)
#define PIPELINE_10K_BYTES_MAX (12u * MIB_BYTES)

/* 10,000 connections with a request in flight on each, its head split
 * across two segments: mid-line on every fourth (a line buffer held), at a
 * line end on the others. The pipeline's own accounting and the process's
 * real RSS both stay within budget, and every request comes out whole. */
static void test_10k_conns_bounded_memory(void **st)
{
	struct http_pipeline_opts o = { 0 };
	struct http_pipeline *p;
	struct count_sink s = { 0 };
	struct http_pipeline_stats ps;
	char seg[96];
	long rss0 = vm_rss_kib(), rss1;
	size_t mem;

	(void)st;
	assert_true(rss0 > 0);
	assert_int_equal(http_pipeline_new(&p, &o, count_records, &s), 0);
	for (uint32_t i = 0; i < CONNS_10K; i++) {
		open_conn(p, 1 + i, HTTP_ORIGIN_ACCEPT, "srv");
		snprintf(seg, sizeof(seg), "GET /item/%u HTTP/1.1\r\n%s", i, i % 4 ? "" : "Host: exa");
		data(p, 1 + i, HTTP_DIR_INGRESS, 10, seg, 0);
	}
	http_pipeline_stats(p, &ps);
	rss1 = vm_rss_kib();
	mem = http_pipeline_memory_bytes(p);
	print_message("10k conns: pipeline %zu B (%zu B/conn), RSS %ld -> %ld KiB\n", mem,
		      mem / CONNS_10K, rss0, rss1);
	assert_int_equal(ps.conns_live, CONNS_10K);
	assert_int_equal(ps.exchanges_used, CONNS_10K);
	assert_int_equal(ps.line_bufs_used, CONNS_10K / 4);
	assert_int_equal(ps.http.pool_exhausted, 0);
	assert_int_equal(ps.memory_bytes, mem);
	assert_true(mem <= PIPELINE_10K_BYTES_MAX);
	assert_true((rss1 - rss0) * 1024 <= (long)RSS_10K_BYTES_MAX);
#if !defined(__SANITIZE_ADDRESS__)
	assert_true(rss1 * 1024 <= (long)RSS_10K_BYTES_MAX); /* ASan's shadow would not */
#endif
	for (uint32_t i = 0; i < CONNS_10K; i++)
		data(p, 1 + i, HTTP_DIR_INGRESS, 20, i % 4 ? "Host: example\r\n\r\n" : "mple\r\n\r\n", 0);
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.line_bufs_used, 0);
	for (uint32_t i = 0; i < CONNS_10K; i += 2)
		data(p, 1 + i, HTTP_DIR_EGRESS, 30, RESP, 0);
	assert_int_equal(s.n, CONNS_10K / 2);
	http_pipeline_finish(p);
	http_pipeline_stats(p, &ps);
	assert_int_equal(s.n, CONNS_10K);
	assert_int_equal(s.path_ok, CONNS_10K);
	assert_int_equal(s.incomplete, CONNS_10K / 2);
	assert_int_equal(s.head_lost, 0);
	assert_int_equal(ps.exchanges_used, 0);
	assert_int_equal(http_pipeline_memory_bytes(p), mem); /* kept for reuse, not grown */
	http_pipeline_free(p);
}

/* Pools far too small for the load: the shortfall is counted and degrades
 * exchanges (head lost, request not kept), never crashes or grows; every
 * block comes back. */
static void test_pool_exhausted_counted(void **st)
{
	struct http_pipeline_opts o = { .max_conns = 64, .max_line_bufs = 2, .max_exchanges = 4 };
	struct http_pipeline *p;
	struct count_sink s = { 0 };
	struct http_pipeline_stats ps;
	char seg[96];
	size_t mem;

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, count_records, &s), 0);
	for (uint32_t i = 0; i < 8; i++) {
		open_conn(p, 1 + i, HTTP_ORIGIN_ACCEPT, "srv");
		snprintf(seg, sizeof(seg), "GET /item/%u HTTP/1.1\r\nHost: exa", i);
		data(p, 1 + i, HTTP_DIR_INGRESS, 10, seg, 0);
	}
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.line_bufs_used, 2);
	assert_int_equal(ps.exchanges_used, 4);
	assert_int_equal(ps.http.pool_exhausted, 6 + 4);
	mem = http_pipeline_memory_bytes(p);
	for (uint32_t i = 0; i < 8; i++) {
		data(p, 1 + i, HTTP_DIR_INGRESS, 20, "mple\r\n\r\n", 0);
		data(p, 1 + i, HTTP_DIR_EGRESS, 30, RESP, 0);
	}
	/* 4 kept their request; 4 did not, and their responses took the freed
	 * slots, flagged */
	assert_int_equal(s.n, 8);
	assert_int_equal(s.path_ok, 4);
	assert_int_equal(s.overflow, 4);
	http_pipeline_finish(p);
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.exchanges_used, 0);
	assert_int_equal(ps.line_bufs_used, 0);
	assert_int_equal(http_pipeline_memory_bytes(p), mem);
	http_pipeline_free(p);
}

#define WARM_CONNS 200u
#define STEADY_ROUNDS 50u
#define CHURN_PER_ROUND 20u

/* One exchange on id: request head split mid-line, response; every
 * pipelined-th time three requests at once. */
static void keepalive_exchange(struct http_pipeline *p, uint64_t id, uint64_t ts, bool pipelined)
{
	data(p, id, HTTP_DIR_INGRESS, ts, "GET /item/1?q=x HTTP/1.1\r\nHo", 0);
	data(p, id, HTTP_DIR_INGRESS, ts + 1, "st: a\r\n\r\n", 0);
	if (pipelined)
		data(p, id, HTTP_DIR_INGRESS, ts + 2,
		     "GET /item/2 HTTP/1.1\r\n\r\nGET /item/3 HTTP/1.1\r\n\r\n", 0);
	data(p, id, HTTP_DIR_EGRESS, ts + 3, RESP, 0);
	if (pipelined)
		data(p, id, HTTP_DIR_EGRESS, ts + 4, "HTTP/1.1 204 No\r\n\r\nHTTP/1.1 304 No\r\n\r\n", 0);
}

/* Steady state: many keep-alive exchanges on open connections (split heads,
 * pipelining) and open/close churn, with delivery timing on: not one
 * allocation once the slabs are warm. */
static void test_steady_state_no_allocation(void **st)
{
	struct http_pipeline_opts o = { .max_conns = 256, .evict_oldest = true,
					.measure_delivery = true };
	struct http_pipeline *p;
	struct count_sink s = { 0 };
	struct http_pipeline_stats ps0, ps;
	static uint64_t ids[WARM_CONNS];
	uint64_t next_id = 1, ts = 1, allocs, warm_records;

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, count_records, &s), 0);
	/* warm-up: the same mix once */
	for (uint32_t i = 0; i < WARM_CONNS; i++) {
		ids[i] = next_id++;
		open_conn(p, ids[i], HTTP_ORIGIN_ACCEPT, "srv");
		keepalive_exchange(p, ids[i], ts += 10, true);
	}
	http_pipeline_stats(p, &ps0);
	warm_records = s.n;
	allocs_start();
	for (uint32_t round = 0; round < STEADY_ROUNDS; round++) {
		for (uint32_t i = 0; i < WARM_CONNS; i++)
			keepalive_exchange(p, ids[i], ts += 10, i % 10 == round % 10);
		/* a few connections end, new ones take their place */
		for (uint32_t k = 0; k < CHURN_PER_ROUND; k++) {
			uint32_t i = (round * CHURN_PER_ROUND + k) % WARM_CONNS;

			close_conn(p, ids[i]);
			ids[i] = next_id++;
			open_conn(p, ids[i], HTTP_ORIGIN_ACCEPT, "srv");
		}
		/* and idle ones beyond the bound: eviction churn */
		for (uint32_t k = 0; k < CHURN_PER_ROUND; k++)
			open_conn(p, next_id++, HTTP_ORIGIN_CONNECT, "cli");
	}
	allocs = allocs_stop();
	http_pipeline_stats(p, &ps);
	print_message("steady state: %llu records, %llu conns opened, %llu allocations\n",
		      (unsigned long long)(s.n - warm_records),
		      (unsigned long long)(ps.conns_opened - ps0.conns_opened),
		      (unsigned long long)allocs);
	assert_int_equal(s.n - warm_records, STEADY_ROUNDS * (WARM_CONNS + 2 * WARM_CONNS / 10));
	assert_true(ps.conns_evicted > 0);
	assert_int_equal(ps.events_no_conn, 0);
	assert_int_equal(ps.http.pool_exhausted, 0);
	assert_int_equal(allocs, 0);
	assert_int_equal(ps.allocs, ps0.allocs);
	assert_int_equal(ps.memory_bytes, ps0.memory_bytes);
	assert_int_equal(ps.delivery_count, s.n);
	http_pipeline_free(p);
}

static uint64_t fake_now_ns;

static uint64_t fake_clock(void)
{
	return fake_now_ns;
}

#define NS_PER_MS 1000000ull

/* Delivery latency: the clock at emission minus the kernel ts of the event
 * that completed the exchange; 100 records 1..100 ms late give p50 50 ms,
 * p99 99 ms (within the histogram's 0.1 %). Records emitted outside an
 * event (finish) are not timed. */
static void test_delivery_percentiles(void **st)
{
	struct http_pipeline_opts o = { .measure_delivery = true, .clock_ns = fake_clock };
	struct http_pipeline *p;
	struct count_sink s = { 0 };
	struct http_pipeline_stats ps;
	const uint64_t t0 = 5000 * NS_PER_MS;

	(void)st;
	assert_int_equal(http_pipeline_new(&p, &o, count_records, &s), 0);
	open_conn(p, 1, HTTP_ORIGIN_ACCEPT, "srv");
	for (uint64_t i = 1; i <= 100; i++) {
		uint64_t ts = t0 + i * 1000 * NS_PER_MS;

		/* shuffled order: the histogram, not the sequence, decides */
		fake_now_ns = ts + ((i * 37) % 100 + 1) * NS_PER_MS;
		data(p, 1, HTTP_DIR_INGRESS, ts - 1, "GET /item/1 HTTP/1.1\r\n\r\n", 0);
		data(p, 1, HTTP_DIR_EGRESS, ts, RESP, 0);
	}
	data(p, 1, HTTP_DIR_INGRESS, t0, "GET /item/2 HTTP/1.1\r\n\r\n", 0);
	http_pipeline_finish(p);
	http_pipeline_stats(p, &ps);
	assert_int_equal(s.n, 101);
	assert_int_equal(ps.delivery_count, 100);
	assert_in_range(ps.delivery_p50_us, 49950, 50050);
	assert_in_range(ps.delivery_p99_us, 98901, 99099);
	http_pipeline_free(p);

	/* off (tests, replay): nothing timed, no histogram */
	o.measure_delivery = false;
	assert_int_equal(http_pipeline_new(&p, &o, count_records, &s), 0);
	open_conn(p, 1, HTTP_ORIGIN_ACCEPT, "srv");
	data(p, 1, HTTP_DIR_INGRESS, 1, "GET /item/1 HTTP/1.1\r\n\r\n", 0);
	data(p, 1, HTTP_DIR_EGRESS, 2, RESP, 0);
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.delivery_count, 0);
	assert_int_equal(ps.delivery_p99_us, 0);
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
		cmocka_unit_test(test_prefetch_changes_nothing),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_evict_least_recently_active),
		cmocka_unit_test(test_10k_conns_bounded_memory),
		cmocka_unit_test(test_pool_exhausted_counted),
		cmocka_unit_test(test_steady_state_no_allocation),
		cmocka_unit_test(test_delivery_percentiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
