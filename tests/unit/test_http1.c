/* Unit tests of the HTTP/1.x head parser and connection engine: every test
 * feeds segments as the kernel side would deliver them (full, split, or
 * truncated to cap bytes plus a tail) and asserts the exact exchanges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "protocol/http1.h"

#define SINK_EXCHANGES_MAX 128
#define TAIL_BYTES 16u
#define CAP_SMALL 256u
#define MIB (1024u * 1024u)

struct sink {
	struct http1_exchange ex[SINK_EXCHANGES_MAX];
	int n;
};

static void sink_add(void *ctx, const struct http1_exchange *ex)
{
	struct sink *s = ctx;

	assert_true(s->n < SINK_EXCHANGES_MAX);
	s->ex[s->n++] = *ex;
}

struct fixture {
	struct http1_conn conn;
	struct sink sink;
	struct http1_stats global;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static struct http1_conn *conn_new(void **state, enum http1_role role, uint32_t opts)
{
	struct fixture *fx = *state;

	assert_int_equal(http1_conn_init(&fx->conn, role, opts, sink_add, &fx->sink,
					 &fx->global), 0);
	return &fx->conn;
}

static struct sink *sink_of(void **state)
{
	return &((struct fixture *)*state)->sink;
}

/* A whole segment, fully captured. */
static int feed(struct http1_conn *c, enum http1_dir d, uint64_t ts, const char *s)
{
	return http1_conn_feed(c, d, ts, (const uint8_t *)s, (uint32_t)strlen(s),
			       (uint32_t)strlen(s), NULL, 0);
}

static int feed_bytes(struct http1_conn *c, enum http1_dir d, uint64_t ts,
		      const void *p, uint32_t n)
{
	return http1_conn_feed(c, d, ts, p, n, n, NULL, 0);
}

/* A segment of len real bytes of which the first cap and the last
 * tail_len were captured, as the kernel side sends it. */
static int feed_trunc(struct http1_conn *c, enum http1_dir d, uint64_t ts,
		      const uint8_t *buf, uint32_t len, uint32_t cap, uint32_t tail_len)
{
	if (cap > len)
		cap = len;
	if (len <= cap)
		tail_len = 0;
	if (tail_len > len)
		tail_len = len;
	return http1_conn_feed(c, d, ts, buf, cap, len, buf + len - tail_len, tail_len);
}

#define IN  HTTP1_DIR_INGRESS
#define OUT HTTP1_DIR_EGRESS

static void assert_exchange(const struct http1_exchange *ex, const char *method,
			    const char *path, int status)
{
	assert_string_equal(ex->method, method);
	assert_int_equal(ex->method_len, strlen(method));
	assert_string_equal(ex->path, path);
	assert_int_equal(ex->path_len, strlen(path));
	assert_int_equal(ex->status, status);
}

static void assert_times(const struct http1_exchange *ex, uint64_t req_first, uint64_t req_last,
			 uint64_t resp_first, uint64_t resp_last)
{
	assert_int_equal(ex->req_first_ts, req_first);
	assert_int_equal(ex->req_last_ts, req_last);
	assert_int_equal(ex->resp_first_ts, resp_first);
	assert_int_equal(ex->resp_last_ts, resp_last);
}

/* ---- head parser -------------------------------------------------------- */

static void test_parse_request(void **state)
{
	const char *req = "POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
			  "Transfer-Encoding: gzip, chunked\r\nConnection: keep-alive, Upgrade\r\n"
			  "Expect: 100-Continue\r\n\r\nBODY";
	size_t head_len = strlen(req) - 4;
	struct http1_head h;
	size_t i;

	(void)state;
	assert_int_equal(http1_parse_request(req, strlen(req), 0, &h), (int)head_len);
	assert_int_equal(h.method_len, 4);
	assert_memory_equal(h.method, "POST", 4);
	assert_ptr_equal(h.target, req + 5); /* zero-copy */
	assert_int_equal(h.target_len, 6);
	assert_int_equal(h.minor_version, 1);
	assert_int_equal(h.content_length, 12);
	assert_int_equal(h.num_headers, 5);
	assert_int_equal(h.flags, HTTP1_HEAD_CONTENT_LENGTH | HTTP1_HEAD_CHUNKED |
				  HTTP1_HEAD_CONN_KEEP_ALIVE | HTTP1_HEAD_CONN_UPGRADE |
				  HTTP1_HEAD_EXPECT_CONTINUE);
	/* Every strict prefix is partial, incrementally or not. */
	for (i = 0; i < head_len; i++) {
		assert_int_equal(http1_parse_request(req, i, 0, &h), HTTP1_PARSE_PARTIAL);
		if (i > 0)
			assert_int_equal(http1_parse_request(req, i, i - 1, &h),
					 HTTP1_PARSE_PARTIAL);
	}
	assert_int_equal(http1_parse_request(req, head_len, head_len - 1, &h), (int)head_len);
	/* Bare LF line ends are accepted. */
	assert_int_equal(http1_parse_request("GET / HTTP/1.0\nA: b\n\n", 21, 0, &h), 21);
	assert_int_equal(h.minor_version, 0);
}

static void test_parse_errors(void **state)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"GET /\0 HTTP/1.1\r\n\r\n",
		"\x16\x03\x01\x02\x00",
		"ABCDEFGHIJKLMNOPQR / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
	};
	static const size_t bad_len[] = { 0, 0, 0, 0, 0, 19, 5, 0, 25, 0 };
	struct http1_head h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = bad_len[i] ? bad_len[i] : strlen(bad[i]);

		assert_int_equal(http1_parse_request(bad[i], n, 0, &h), HTTP1_PARSE_ERROR);
	}
	assert_int_equal(http1_parse_response("HTTP/1.1 20 OK\r\n\r\n", 18, 0, &h),
			 HTTP1_PARSE_ERROR);
	assert_int_equal(http1_parse_response("HTTX/1.1", 8, 0, &h), HTTP1_PARSE_ERROR);
}

static void test_parse_response_and_bound(void **state)
{
	const char *resp = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	struct http1_head h;
	char *big;
	size_t big_len = HTTP1_HEAD_BYTES_MAX + 100;

	(void)state;
	assert_int_equal(http1_parse_response(resp, strlen(resp), 0, &h), (int)strlen(resp));
	assert_int_equal(h.status, 404);
	assert_int_equal(h.reason_len, 9);
	assert_memory_equal(h.reason, "Not Found", 9);
	assert_true(h.flags & HTTP1_HEAD_CONN_CLOSE);
	assert_int_equal(http1_parse_response("HTTP/1.1 200\r\n\r\n", 16, 0, &h), 16);
	assert_int_equal(h.reason_len, 0);

	/* A head that never ends is refused at HTTP1_HEAD_BYTES_MAX. */
	big = malloc(big_len);
	assert_non_null(big);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	memset(big + 19, 'a', big_len - 19);
	assert_int_equal(http1_parse_request(big, HTTP1_HEAD_BYTES_MAX, 0, &h),
			 HTTP1_PARSE_PARTIAL);
	assert_int_equal(http1_parse_request(big, big_len, 0, &h), HTTP1_PARSE_ERROR);
	assert_true(h.flags & HTTP1_HEAD_TOO_LARGE);
	assert_int_equal(http1_parse_request(big, big_len, big_len - 1, &h), HTTP1_PARSE_ERROR);
	free(big);
}

/* ---- redaction ---------------------------------------------------------- */

static void check_redact(const char *in, const char *want)
{
	char out[128];

	assert_int_equal(http1_redact_target(in, strlen(in), out, sizeof(out)), (int)strlen(want));
	assert_string_equal(out, want);
}

static void test_redact(void **state)
{
	char out[16];

	(void)state;
	check_redact("/a/b?token=s3cr3t&x=1", "/a/b?token=REDACTED&x=REDACTED");
	check_redact("/a/b", "/a/b");
	check_redact("/", "/");
	check_redact("", "");
	check_redact("/p?", "/p?");
	check_redact("/p?debug", "/p?debug");
	check_redact("/p?debug&k=v", "/p?debug&k=REDACTED");
	check_redact("/p?a=&b==x", "/p?a=REDACTED&b=REDACTED");
	check_redact("/p?a=1&&b=2", "/p?a=REDACTED&&b=REDACTED");
	check_redact("/p?a=1#frag", "/p?a=REDACTED#REDACTED");
	check_redact("/p#x?y=1", "/p#REDACTED");
	check_redact("http://h/p?q=1", "http://h/p?q=REDACTED");
	/* a proxy's absolute-form target: user:password go, whole */
	check_redact("http://user:pw@h:8080/p?q=1", "http://REDACTED@h:8080/p?q=REDACTED");
	check_redact("https://tok@h", "https://REDACTED@h");
	check_redact("http://a@b@h/p", "http://REDACTED@h/p");
	check_redact("http://h/p@x", "http://h/p@x");
	check_redact("http://h?next=u@x", "http://h?next=REDACTED");
	check_redact("git+ssh://k@h/r", "git+ssh://REDACTED@h/r");
	check_redact("/p://u@h", "/p://u@h");
	check_redact("http:/u@h", "http:/u@h");
	assert_int_equal(http1_redact_target("http://user:secret@h/", 21, out, 12), -ENOSPC);
	assert_string_equal(out, "http://");
	/* Too small: a prefix, never a cut "REDACTED" nor a value byte. */
	assert_int_equal(http1_redact_target("/abc?key=secret", 15, out, 12), -ENOSPC);
	assert_string_equal(out, "/abc?key");
	assert_int_equal(http1_redact_target("/abc", 4, out, 0), -EINVAL);
	assert_int_equal(http1_redact_target(NULL, 4, out, sizeof(out)), -EINVAL);
}

/* ---- connection engine -------------------------------------------------- */

static const char RESP_HELLO[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

static void test_get_keepalive_x3(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	char req[64];
	int i;

	for (i = 0; i < 3; i++) {
		uint64_t t = 1000u * (uint64_t)(i + 1);

		size_t req_len = (size_t)snprintf(req, sizeof(req),
						  "GET /item/%d HTTP/1.1\r\nHost: a\r\n\r\n", i);

		assert_int_equal(feed(c, IN, t, req), 0);
		assert_int_equal(feed(c, OUT, t + 70, RESP_HELLO), 1);
		assert_int_equal(s->n, i + 1);
		snprintf(req, sizeof(req), "/item/%d", i);
		assert_exchange(&s->ex[i], "GET", req, 200);
		assert_times(&s->ex[i], t, t, t + 70, t + 70);
		assert_int_equal(s->ex[i].req_bytes, req_len);
		assert_int_equal(s->ex[i].resp_bytes, strlen(RESP_HELLO));
		assert_int_equal(s->ex[i].flags, 0);
	}
	assert_int_equal(http1_conn_close(c), 0);
	assert_int_equal(c->stats.exchanges, 3);
	assert_int_equal(c->stats.incomplete, 0);
	assert_int_equal(((struct fixture *)*state)->global.exchanges, 3);
	assert_int_equal(http1_conn_feed(c, IN, 1, (const uint8_t *)"x", 1, 1, NULL, 0), -EPIPE);
}

static void test_split_one_byte_segments(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	const char *req = "GET /one/byte/at/a/time?x=1 HTTP/1.1\r\nHost: example\r\n\r\n";
	size_t i, n = strlen(req);

	for (i = 0; i < n; i++)
		assert_int_equal(feed_bytes(c, IN, 100 + i, req + i, 1), 0);
	/* The response, also one byte per write: ts of its first and last. */
	for (i = 0; i < strlen(RESP_HELLO); i++)
		feed_bytes(c, OUT, 500 + i, RESP_HELLO + i, 1);
	assert_int_equal(s->n, 1);
	assert_exchange(&s->ex[0], "GET", "/one/byte/at/a/time?x=1", 200);
	assert_times(&s->ex[0], 100, 100 + n - 1, 500, 500 + strlen(RESP_HELLO) - 1);
	assert_int_equal(s->ex[0].req_bytes, n);
	assert_int_equal(s->ex[0].resp_bytes, strlen(RESP_HELLO));
}

static void test_pipelined_10(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	char reqs[2048] = "", resps[4096] = "", one[128];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(one, sizeof(one), "GET /p%d HTTP/1.1\r\nHost: h\r\n\r\n", i);
		strcat(reqs, one);
		snprintf(one, sizeof(one), "HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%.*s",
			 400 + i, i, i, "0123456789");
		strcat(resps, one);
	}
	assert_int_equal(feed(c, IN, 10, reqs), 0);
	assert_int_equal(feed(c, OUT, 20, resps), 10);
	for (i = 0; i < 10; i++) {
		snprintf(one, sizeof(one), "/p%d", i);
		assert_exchange(&s->ex[i], "GET", one, 400 + i);
		assert_times(&s->ex[i], 10, 10, 20, 20);
		assert_int_equal(s->ex[i].flags, i == 0 ? 0 : HTTP1_EXCH_PIPELINED);
		assert_int_equal(s->ex[i].resp_bytes, 37 + i);
	}
}

/* 20 pipelined requests of 61 bytes, read as nginx does: 1,024 bytes
 * (512 captured, the last 16 as the tail), 16 responses, then the rest.
 * The read ends inside p16, whose start was lost in the gap with p09..p15
 * and the end of p08. p08 must pair with the 9th response (it is queued
 * when the gap cuts its head), the 7 requests wholly in the gap show as
 * responses without a request, the head end in the second read is p16's
 * (p08 was answered, and a server answers only whole heads), and p17..p19
 * pair with the last three. */
static void test_pipelined_burst_past_capture(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	char reqs[2048], one[128], want[16];
	uint32_t n = 0;
	int i;

	for (i = 0; i < 20; i++)
		n += (uint32_t)sprintf(reqs + n,
				       "GET /p%02d HTTP/1.1\r\nHost: x\r\nUser-Agent: pipeline-test/1.0\r\n\r\n",
				       i);
	assert_int_equal(n, 20 * 61);
	feed_trunc(c, IN, 10, (const uint8_t *)reqs, 1024, 512, TAIL_BYTES);
	for (i = 0; i < 16; i++) {
		snprintf(one, sizeof(one), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", 200 + i);
		feed(c, OUT, 20 + (uint64_t)i, one);
	}
	assert_int_equal(s->n, 8);
	feed_bytes(c, IN, 40, reqs + 1024, n - 1024);
	for (i = 16; i < 20; i++) {
		snprintf(one, sizeof(one), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", 200 + i);
		feed(c, OUT, 50 + (uint64_t)i, one);
	}
	assert_int_equal(s->n, 20);
	for (i = 0; i < 9; i++) {
		snprintf(want, sizeof(want), "/p%02d", i);
		assert_exchange(&s->ex[i], "GET", want, 200 + i);
	}
	assert_true(s->ex[8].flags & HTTP1_EXCH_HEAD_LOST);
	assert_int_equal(s->ex[8].req_first_ts, 10);
	assert_int_equal(s->ex[8].resp_first_ts, 28);
	for (i = 9; i < 16; i++) {
		assert_exchange(&s->ex[i], "", "", 200 + i);
		assert_true(s->ex[i].flags & HTTP1_EXCH_NO_REQUEST);
	}
	/* p16: its end only */
	assert_exchange(&s->ex[16], "", "", 216);
	assert_true(s->ex[16].flags & HTTP1_EXCH_HEAD_LOST);
	assert_false(s->ex[16].flags & HTTP1_EXCH_NO_REQUEST);
	assert_int_equal(s->ex[16].req_first_ts, 40);
	for (i = 17; i < 20; i++) {
		snprintf(want, sizeof(want), "/p%02d", i);
		assert_exchange(&s->ex[i], "GET", want, 200 + i);
		assert_false(s->ex[i].flags & (HTTP1_EXCH_HEAD_LOST | HTTP1_EXCH_NO_REQUEST));
	}
	assert_int_equal(c->stats.resp_unmatched, 7);
}

/* A request head cut by a gap whose end comes before any response: one
 * request, queued at the gap, ended by the later bytes; and one cut by a
 * gap and then a close: one incomplete request, not two. */
static void test_cut_head_queued_once(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	char req[600];
	int n = sprintf(req, "GET /cut HTTP/1.1\r\nX-Pad: %0500d\r\n", 1);

	/* 256 captured, the rest of the line uncaptured, the end later */
	feed_trunc(c, IN, 1, (const uint8_t *)req, (uint32_t)n, CAP_SMALL, 0);
	feed(c, IN, 2, "Accept: */*\r\n\r\n");
	feed(c, OUT, 3, RESP_HELLO);
	assert_int_equal(s->n, 1);
	assert_exchange(&s->ex[0], "GET", "/cut", 200);
	assert_int_equal(s->ex[0].flags, HTTP1_EXCH_HEAD_LOST);
	assert_int_equal(s->ex[0].req_bytes, (uint64_t)n + 15);
	assert_times(&s->ex[0], 1, 2, 3, 3);

	feed_trunc(c, IN, 4, (const uint8_t *)req, (uint32_t)n, CAP_SMALL, 0);
	assert_int_equal(http1_conn_close(c), 1);
	assert_int_equal(s->n, 2);
	assert_exchange(&s->ex[1], "GET", "/cut", 0);
	assert_true(s->ex[1].flags & HTTP1_EXCH_INCOMPLETE);
	assert_true(s->ex[1].flags & HTTP1_EXCH_HEAD_LOST);

	/* cut, answered, then more head bytes and a close: the cut request
	 * is whole (a server answers only whole heads), the bytes since are
	 * another request's, cut short by the close */
	conn_new(state, HTTP1_ROLE_SERVER, 0);
	s->n = 0;
	feed_trunc(c, IN, 5, (const uint8_t *)req, (uint32_t)n, CAP_SMALL, 0);
	feed(c, OUT, 6, RESP_HELLO);
	feed(c, IN, 7, "X-More: 1\r\n");
	assert_int_equal(s->n, 0);
	assert_int_equal(http1_conn_close(c), 2);
	assert_int_equal(s->n, 2);
	assert_exchange(&s->ex[0], "GET", "/cut", 200);
	assert_int_equal(s->ex[0].flags, HTTP1_EXCH_HEAD_LOST);
	assert_exchange(&s->ex[1], "", "", 0);
	assert_int_equal(s->ex[1].flags, HTTP1_EXCH_INCOMPLETE | HTTP1_EXCH_HEAD_LOST);
}

static void test_pipeline_overflow(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	const int total = HTTP1_PIPELINE_MAX + 8;
	int i;

	for (i = 0; i < total; i++)
		feed(c, IN, 10, "GET /q HTTP/1.1\r\n\r\n");
	assert_int_equal(c->stats.pipeline_overflow, 8);
	for (i = 0; i < total; i++)
		feed(c, OUT, 20 + i, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(s->n, total);
	for (i = 0; i < total; i++) {
		assert_int_equal(s->ex[i].status, 200);
		assert_int_equal(s->ex[i].resp_last_ts, 20 + i);
		if (i < (int)HTTP1_PIPELINE_MAX)
			assert_string_equal(s->ex[i].path, "/q");
		else
			assert_true(s->ex[i].flags & HTTP1_EXCH_OVERFLOW);
	}
	assert_int_equal(c->stats.resp_unmatched, 0);
}

/* A Content-Length body of 1 MiB, written in 64 KiB syscalls of which only
 * 256 bytes each are captured: framing follows by count alone. */
static void *buf_to_free_on_failure;

static void test_content_length_1mib_truncated(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
	const uint32_t seg = 64u * 1024u, head_len = (uint32_t)strlen(head);
	const uint64_t total = head_len + (uint64_t)MIB;
	uint8_t *buf = calloc(1, seg);
	uint64_t sent = 0, ts = 200;
	uint64_t uncaptured = 0;

	assert_non_null(buf);
	memcpy(buf, head, head_len);
	free(buf_to_free_on_failure);
	buf_to_free_on_failure = buf;
	feed(c, IN, 100, "GET /big HTTP/1.1\r\n\r\n");
	while (sent < total) {
		uint32_t len = total - sent < seg ? (uint32_t)(total - sent) : seg;

		assert_int_equal(feed_trunc(c, OUT, ts, buf, len, CAP_SMALL, 0),
				 sent + len == total ? 1 : 0);
		uncaptured += len > CAP_SMALL ? len - CAP_SMALL : 0;
		memset(buf, 'x', head_len); /* later segments are body only */
		sent += len;
		ts += 10;
	}
	assert_int_equal(s->n, 1);
	assert_exchange(&s->ex[0], "GET", "/big", 200);
	assert_times(&s->ex[0], 100, 100, 200, ts - 10);
	assert_int_equal(s->ex[0].resp_bytes, total);
	assert_int_equal(c->stats.bytes_uncaptured, uncaptured);
	/* Still in sync: the next exchange parses. */
	feed(c, IN, 5000, "GET /next HTTP/1.1\r\n\r\n");
	feed(c, OUT, 5100, RESP_HELLO);
	assert_int_equal(s->n, 2);
	assert_exchange(&s->ex[1], "GET", "/next", 200);
	free(buf);
	buf_to_free_on_failure = NULL;
}

static void test_chunked_visible(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	const char *resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			   "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
	size_t n = strlen(resp), cut;

	/* Split at every possible point: the result must not change. */
	for (cut = 1; cut < n; cut++) {
		conn_new(state, HTTP1_ROLE_SERVER, 0);
		s->n = 0;
		feed(c, IN, 1, "GET /c HTTP/1.1\r\n\r\n");
		assert_int_equal(feed_bytes(c, OUT, 2, resp, (uint32_t)cut), 0);
		assert_int_equal(feed_bytes(c, OUT, 3, resp + cut, (uint32_t)(n - cut)), 1);
		assert_int_equal(s->n, 1);
		assert_exchange(&s->ex[0], "GET", "/c", 200);
		assert_times(&s->ex[0], 1, 1, 2, 3);
		assert_int_equal(s->ex[0].resp_bytes, n);
		assert_int_equal(s->ex[0].flags, HTTP1_EXCH_CHUNKED);
		assert_int_equal(c->stats.parse_errors, 0);
	}
}

/* Build a chunked response of body_bytes in chunks of chunk_bytes. */
static size_t chunked_build(uint8_t *out, size_t body_bytes, size_t chunk_bytes)
{
	size_t n = (size_t)sprintf((char *)out,
				   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");

	while (body_bytes > 0) {
		size_t k = body_bytes < chunk_bytes ? body_bytes : chunk_bytes;

		n += (size_t)sprintf((char *)out + n, "%zx\r\n", k);
		memset(out + n, 'b', k);
		n += k;
		memcpy(out + n, "\r\n", 2);
		n += 2;
		body_bytes -= k;
	}
	memcpy(out + n, "0\r\n\r\n", 5);
	return n + 5;
}

/* A 1 MiB chunked response in 40000-byte writes with 256 bytes + a 16-byte
 * tail captured: chunk sizes fall in gaps, the end is found in the tail. */
static void test_chunked_1mib_truncated(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	uint8_t *stream = malloc(MIB + 64 * 1024);
	size_t total, off = 0;
	const uint32_t seg = 40000;
	uint64_t ts = 1000;

	assert_non_null(stream);
	total = chunked_build(stream, MIB, 4096);
	feed(c, IN, 900, "GET /chunky HTTP/1.1\r\n\r\n");
	while (off < total) {
		uint32_t len = total - off < seg ? (uint32_t)(total - off) : seg;

		feed_trunc(c, OUT, ts, stream + off, len, CAP_SMALL, TAIL_BYTES);
		off += len;
		ts += 10;
	}
	assert_int_equal(s->n, 1);
	assert_exchange(&s->ex[0], "GET", "/chunky", 200);
	assert_times(&s->ex[0], 900, 900, 1000, ts - 10);
	assert_int_equal(s->ex[0].resp_bytes, total);
	assert_true(s->ex[0].flags & HTTP1_EXCH_CHUNKED);
	assert_int_equal(c->stats.chunk_tail_ends, 1);
	/* The next exchange on the same connection is in sync. */
	feed(c, IN, 9000, "GET /after HTTP/1.1\r\n\r\n");
	feed(c, OUT, 9100, RESP_HELLO);
	assert_int_equal(s->n, 2);
	assert_exchange(&s->ex[1], "GET", "/after", 200);
	assert_times(&s->ex[1], 9000, 9000, 9100, 9100);
	free(stream);
}

/* The last chunk written in its own syscall, the common server pattern,
 * with a body chunk too big for the capture. */
static void test_chunked_last_chunk_alone(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	uint8_t buf[8192];
	size_t n;

	feed(c, IN, 1, "GET /s HTTP/1.1\r\n\r\n");
	feed(c, OUT, 2, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	n = (size_t)sprintf((char *)buf, "1f40\r\n");
	memset(buf + n, 'z', 8000);
	memcpy(buf + n + 8000, "\r\n", 2);
	n += 8002;
	assert_int_equal(feed_trunc(c, OUT, 3, buf, (uint32_t)n, CAP_SMALL, TAIL_BYTES), 0);
	assert_int_equal(feed(c, OUT, 4, "0\r\n\r\n"), 1);
	assert_times(&s->ex[0], 1, 1, 2, 4);
	assert_int_equal(s->ex[0].flags, HTTP1_EXCH_CHUNKED);
	assert_int_equal(c->stats.chunk_tail_ends, 0);
}

static void test_expect_continue(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	const char *head = "POST /up HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n";
	const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
	const char *fin = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";

	assert_int_equal(feed(c, IN, 100, head), 0);
	assert_int_equal(feed(c, OUT, 110, cont), 0);
	assert_int_equal(feed(c, IN, 120, "0123456789"), 0);
	assert_int_equal(feed(c, OUT, 130, fin), 1);
	assert_exchange(&s->ex[0], "POST", "/up", 201);
	assert_times(&s->ex[0], 100, 120, 130, 130);
	assert_int_equal(s->ex[0].req_bytes, strlen(head) + 10);
	assert_int_equal(s->ex[0].resp_bytes, strlen(cont) + strlen(fin));
	assert_int_equal(s->ex[0].flags, HTTP1_EXCH_INTERIM);

	/* Refused before the body: 417, then the client moves on without it. */
	feed(c, IN, 200, head);
	feed(c, OUT, 210, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(feed(c, IN, 220, "GET /next HTTP/1.1\r\n\r\n"), 1);
	assert_exchange(&s->ex[1], "POST", "/up", 417);
	assert_times(&s->ex[1], 200, 200, 210, 210);
	feed(c, OUT, 230, RESP_HELLO);
	assert_int_equal(s->n, 3);
	assert_exchange(&s->ex[2], "GET", "/next", 200);
}

static void test_head_204_304(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);

	feed(c, IN, 1, "HEAD /h HTTP/1.1\r\n\r\n");
	assert_int_equal(feed(c, OUT, 2, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"), 1);
	feed(c, IN, 3, "DELETE /d HTTP/1.1\r\n\r\n");
	assert_int_equal(feed(c, OUT, 4, "HTTP/1.1 204 No Content\r\n\r\n"), 1);
	feed(c, IN, 5, "GET /cached HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n");
	assert_int_equal(feed(c, OUT, 6, "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"),
			 1);
	feed(c, IN, 7, "GET /last HTTP/1.1\r\n\r\n");
	assert_int_equal(feed(c, OUT, 8, RESP_HELLO), 1);
	assert_int_equal(s->n, 4);
	assert_exchange(&s->ex[0], "HEAD", "/h", 200);
	assert_int_equal(s->ex[0].resp_bytes, 41);
	assert_exchange(&s->ex[1], "DELETE", "/d", 204);
	assert_exchange(&s->ex[2], "GET", "/cached", 304);
	assert_exchange(&s->ex[3], "GET", "/last", 200);
	assert_times(&s->ex[3], 7, 7, 8, 8);
}

static void test_response_until_close(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	static uint8_t body[3000];

	feed(c, IN, 10, "GET /old HTTP/1.0\r\n\r\n");
	feed(c, OUT, 20, "HTTP/1.0 200 OK\r\nServer: x\r\n\r\n");
	feed_trunc(c, OUT, 30, body, sizeof(body), CAP_SMALL, 0);
	feed_trunc(c, OUT, 40, body, sizeof(body), CAP_SMALL, 0);
	assert_int_equal(s->n, 0);
	assert_int_equal(http1_conn_close(c), 1);
	assert_exchange(&s->ex[0], "GET", "/old", 200);
	assert_times(&s->ex[0], 10, 10, 20, 40);
	assert_int_equal(s->ex[0].resp_bytes, 30 + 6000);
	assert_int_equal(s->ex[0].flags, 0);
	assert_int_equal(c->stats.incomplete, 0);
}

static void test_close_mid_exchange(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);

	feed(c, IN, 10, "GET /a HTTP/1.1\r\n\r\n");
	feed(c, IN, 11, "GET /b HTTP/1.1\r\n\r\n");
	feed(c, IN, 12, "GET /c HT");
	feed(c, OUT, 20, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
	assert_int_equal(http1_conn_close(c), 3);
	assert_exchange(&s->ex[0], "GET", "/a", 200);
	assert_int_equal(s->ex[0].flags, HTTP1_EXCH_INCOMPLETE);
	assert_int_equal(s->ex[0].resp_bytes, 40 + 10);
	assert_times(&s->ex[0], 10, 10, 20, 20);
	assert_exchange(&s->ex[1], "GET", "/b", 0);
	assert_int_equal(s->ex[1].flags, HTTP1_EXCH_INCOMPLETE | HTTP1_EXCH_PIPELINED);
	assert_times(&s->ex[1], 11, 11, 0, 0);
	assert_exchange(&s->ex[2], "GET", "/c", 0);
	assert_int_equal(s->ex[2].flags, HTTP1_EXCH_INCOMPLETE);
	assert_int_equal(s->ex[2].req_bytes, 9);
	assert_int_equal(c->stats.incomplete, 3);
	assert_int_equal(c->stats.exchanges, 3);
}

static void test_close_mid_request_body(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);

	feed(c, IN, 10, "PUT /f HTTP/1.1\r\nContent-Length: 1000\r\n\r\nabc");
	feed(c, OUT, 20, "HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	assert_int_equal(s->n, 0); /* the request is still in flight */
	assert_int_equal(http1_conn_close(c), 1);
	assert_exchange(&s->ex[0], "PUT", "/f", 413);
	assert_int_equal(s->ex[0].flags, HTTP1_EXCH_INCOMPLETE | HTTP1_EXCH_CONN_CLOSE);
	assert_int_equal(s->ex[0].req_bytes, 41 + 3);
}

static void test_post_with_body(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	static uint8_t body[2000];
	const char *head = "POST /form HTTP/1.1\r\nContent-Length: 4000\r\n\r\n";

	feed(c, IN, 10, head);
	feed_trunc(c, IN, 11, body, sizeof(body), CAP_SMALL, TAIL_BYTES);
	feed_trunc(c, IN, 12, body, sizeof(body), 0, 0); /* like sendfile */
	feed(c, OUT, 20, RESP_HELLO);
	assert_int_equal(s->n, 1);
	assert_exchange(&s->ex[0], "POST", "/form", 200);
	assert_times(&s->ex[0], 10, 12, 20, 20);
	assert_int_equal(s->ex[0].req_bytes, strlen(head) + 4000);
	/* Head and body in one write, the body mostly uncaptured. */
	{
		uint8_t buf[1500];
		int hl = sprintf((char *)buf, "POST /two HTTP/1.1\r\nContent-Length: %d\r\n\r\n", 1400);

		memset(buf + hl, 'q', sizeof(buf) - (size_t)hl);
		feed_trunc(c, IN, 30, buf, (uint32_t)hl + 1400, CAP_SMALL, TAIL_BYTES);
		feed(c, OUT, 40, RESP_HELLO);
		assert_int_equal(s->n, 2);
		assert_exchange(&s->ex[1], "POST", "/two", 200);
		assert_int_equal(s->ex[1].req_bytes, (uint64_t)hl + 1400);
	}
}

static void test_client_role(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_CLIENT, 0);
	struct sink *s = sink_of(state);

	assert_int_equal(feed(c, OUT, 5, "GET /api HTTP/1.1\r\nHost: svc\r\n\r\n"), 0);
	assert_int_equal(feed(c, IN, 9, RESP_HELLO), 1);
	assert_exchange(&s->ex[0], "GET", "/api", 200);
	assert_times(&s->ex[0], 5, 5, 9, 9);
	/* A request on ingress of a client is not a request: not HTTP. */
	conn_new(state, HTTP1_ROLE_CLIENT, 0);
	feed(c, IN, 1, "GET / HTTP/1.1\r\n\r\n");
	assert_true(http1_conn_ignored(c));
}

static void test_role_inference(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_UNKNOWN, 0);
	struct sink *s = sink_of(state);

	/* 1-byte writes: the role is decided after "GET /". */
	feed(c, IN, 1, "G");
	feed(c, IN, 2, "E");
	assert_int_equal(http1_conn_role(c), HTTP1_ROLE_UNKNOWN);
	feed(c, IN, 3, "T /x HTTP/1.1\r\n\r\n");
	assert_int_equal(http1_conn_role(c), HTTP1_ROLE_SERVER);
	feed(c, OUT, 4, RESP_HELLO);
	assert_int_equal(s->n, 1);
	assert_exchange(&s->ex[0], "GET", "/x", 200);
	assert_times(&s->ex[0], 1, 3, 4, 4);

	conn_new(state, HTTP1_ROLE_UNKNOWN, 0);
	feed(c, OUT, 1, "OPTIONS * HTTP/1.1\r\n\r\n");
	assert_int_equal(http1_conn_role(c), HTTP1_ROLE_CLIENT);

	conn_new(state, HTTP1_ROLE_UNKNOWN, 0);
	feed(c, IN, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(http1_conn_role(c), HTTP1_ROLE_CLIENT);
	assert_int_equal(s->n, 2);
	assert_true(s->ex[1].flags & HTTP1_EXCH_NO_REQUEST);
}

static void test_garbage_ignored(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_UNKNOWN, 0);
	struct fixture *fx = *state;
	const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc };
	int i;

	assert_int_equal(feed_bytes(c, OUT, 1, hello, sizeof(hello)), 0);
	assert_true(http1_conn_ignored(c));
	for (i = 0; i < 1000; i++)
		assert_int_equal(feed(c, IN, 2, "GET / HTTP/1.1\r\n\r\n"), 0);
	assert_int_equal(http1_conn_close(c), 0);
	assert_int_equal(c->stats.conns_not_http, 1);
	assert_int_equal(fx->global.conns_not_http, 1);
	assert_int_equal(c->stats.exchanges, 0);

	/* SSH banner, HTTP/2 preface, lowercase: all not HTTP/1. */
	conn_new(state, HTTP1_ROLE_SERVER, 0);
	feed(c, IN, 1, "SSH-2.0-OpenSSH_9.2\r\n");
	assert_true(http1_conn_ignored(c));
	conn_new(state, HTTP1_ROLE_SERVER, 0);
	feed(c, IN, 1, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
	assert_true(http1_conn_ignored(c));
	conn_new(state, HTTP1_ROLE_UNKNOWN, 0);
	feed(c, IN, 1, "get / HTTP/1.1\r\n\r\n");
	assert_true(http1_conn_ignored(c));
}

static void test_nul_bytes(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	const char first[] = "GET /a\0b HTTP/1.1\r\n\r\n";
	const char later[] = "GET /n HTTP/1.1\r\nX: a\0b\r\n\r\n";
	const char body_nul[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\0\0\0\0";

	/* In the first message: not HTTP. */
	feed_bytes(c, IN, 1, first, sizeof(first) - 1);
	assert_true(http1_conn_ignored(c));

	/* Later: a counted error, then the next request resyncs. */
	conn_new(state, HTTP1_ROLE_SERVER, 0);
	feed(c, IN, 1, "GET /ok HTTP/1.1\r\n\r\n");
	feed_bytes(c, OUT, 2, body_nul, sizeof(body_nul) - 1); /* NUL in a body is fine */
	feed_bytes(c, IN, 3, later, sizeof(later) - 1);
	assert_int_equal(c->stats.parse_errors, 1);
	feed(c, OUT, 4, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
	feed(c, IN, 5, "GET /again HTTP/1.1\r\n\r\n");
	feed(c, OUT, 6, RESP_HELLO);
	assert_int_equal(s->n, 3);
	assert_exchange(&s->ex[0], "GET", "/ok", 200);
	assert_int_equal(s->ex[0].resp_bytes, sizeof(body_nul) - 1);
	assert_exchange(&s->ex[1], "GET", "/n", 400);
	assert_true(s->ex[1].flags & HTTP1_EXCH_ERROR);
	assert_exchange(&s->ex[2], "GET", "/again", 200);
	assert_int_equal(c->stats.resyncs, 1);
}

static void test_head_never_ends(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	char junk[1001];
	int i;

	memset(junk, 'a', 1000);
	junk[1000] = '\0';
	feed(c, IN, 1, "GET /first HTTP/1.1\r\n\r\n");
	feed(c, OUT, 2, RESP_HELLO);
	feed(c, IN, 3, "GET /slow HTTP/1.1\r\nX-Long: ");
	for (i = 0; i < 100; i++) /* 100 KB of one header, 1000 bytes a write */
		feed(c, IN, 4 + (uint64_t)i, junk);
	assert_int_equal(c->stats.head_too_large, 1);
	feed(c, OUT, 200, "HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(s->n, 2);
	assert_exchange(&s->ex[1], "GET", "/slow", 431);
	assert_true(s->ex[1].flags & HTTP1_EXCH_ERROR);
	assert_int_equal(s->ex[1].req_first_ts, 3);
	/* The direction recovers at the next message start. */
	feed(c, IN, 300, "GET /recovered HTTP/1.1\r\n\r\n");
	feed(c, OUT, 301, RESP_HELLO);
	assert_int_equal(s->n, 3);
	assert_exchange(&s->ex[2], "GET", "/recovered", 200);
	assert_int_equal(sizeof(struct http1_conn) < 16u * 1024u, 1);
}

static void test_header_line_100k(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	const size_t n = 100u * 1024u;
	char *req = malloc(n);
	int hl = sprintf(req, "GET /huge HTTP/1.1\r\nCookie: ");

	memset(req + hl, 'c', n - (size_t)hl);
	memcpy(req + n - 4, "\r\n\r\n", 4);
	/* Fully captured, one write. */
	feed_bytes(c, IN, 1, req, (uint32_t)n);
	assert_int_equal(c->stats.head_too_large, 1);
	/* Truncated capture, one write: the size is known from len alone. */
	conn_new(state, HTTP1_ROLE_SERVER, 0);
	feed_trunc(c, IN, 1, (const uint8_t *)req, (uint32_t)n, 4096, TAIL_BYTES);
	assert_int_equal(c->stats.head_too_large, 1);
	assert_int_equal(http1_conn_close(c), 1);
	assert_exchange(&s->ex[0], "GET", "/huge", 0);
	assert_true(s->ex[0].flags & HTTP1_EXCH_ERROR);
	free(req);
}

/* A head longer than the capture: the end is found in the tail. */
static void test_head_longer_than_capture(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	struct sink *s = sink_of(state);
	char req[1200];
	int n = sprintf(req, "GET /long/path HTTP/1.1\r\nCookie: %0900d\r\n\r\n", 7);

	feed_trunc(c, IN, 1, (const uint8_t *)req, (uint32_t)n, CAP_SMALL, TAIL_BYTES);
	feed(c, OUT, 2, RESP_HELLO);
	assert_int_equal(s->n, 1);
	assert_exchange(&s->ex[0], "GET", "/long/path", 200);
	assert_int_equal(s->ex[0].req_bytes, (uint64_t)n);
	assert_int_equal(s->ex[0].flags, HTTP1_EXCH_HEAD_LOST);
}

static void test_long_target_truncated_and_redacted(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, HTTP1_CONN_REDACT_QUERY);
	struct sink *s = sink_of(state);
	char req[2048], want[HTTP1_PATH_BYTES_MAX + 1];
	int n;

	feed(c, IN, 1, "GET /login?user=bob&pass=hunter2 HTTP/1.1\r\n\r\n");
	feed(c, OUT, 2, RESP_HELLO);
	assert_exchange(&s->ex[0], "GET", "/login?user=REDACTED&pass=REDACTED", 200);

	conn_new(state, HTTP1_ROLE_SERVER, 0);
	n = sprintf(req, "GET /%0999d HTTP/1.1\r\n\r\n", 5);
	/* Split so that the request line overflows the line buffer. */
	feed_bytes(c, IN, 1, req, 100);
	feed_bytes(c, IN, 2, req + 100, (uint32_t)n - 100);
	feed(c, OUT, 3, RESP_HELLO);
	assert_int_equal(s->n, 2);
	memset(want, '0', HTTP1_PATH_BYTES_MAX);
	want[0] = '/';
	want[HTTP1_PATH_BYTES_MAX] = '\0';
	assert_string_equal(s->ex[1].path, want);
	assert_int_equal(s->ex[1].path_len, HTTP1_PATH_BYTES_MAX);
	assert_int_equal(s->ex[1].flags, HTTP1_EXCH_PATH_TRUNCATED);
	assert_int_equal(s->ex[1].req_bytes, (uint64_t)n);
}

static void test_upgrade_and_midstream(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, HTTP1_CONN_TLS);
	struct sink *s = sink_of(state);

	feed(c, IN, 1, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
	assert_int_equal(feed(c, OUT, 2, "HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x05hello"), 1);
	assert_int_equal(s->ex[0].status, 101);
	assert_int_equal(s->ex[0].flags, HTTP1_EXCH_UPGRADED | HTTP1_EXCH_TLS);
	assert_true(http1_conn_ignored(c));
	assert_int_equal(c->stats.conns_upgraded, 1);
	assert_int_equal(c->stats.conns_not_http, 0);

	/* Attached mid-body: skip until a message starts a segment. */
	conn_new(state, HTTP1_ROLE_UNKNOWN, HTTP1_CONN_MIDSTREAM);
	feed(c, OUT, 1, "tail of some body\r\n");
	feed(c, IN, 2, "\x01\x02 binary");
	assert_false(http1_conn_ignored(c));
	feed(c, IN, 3, "GET /fresh HTTP/1.1\r\n\r\n");
	feed(c, OUT, 4, RESP_HELLO);
	assert_int_equal(s->n, 2);
	assert_exchange(&s->ex[1], "GET", "/fresh", 200);
	assert_int_equal(http1_conn_role(c), HTTP1_ROLE_SERVER);
}

static void test_bad_args(void **state)
{
	struct http1_conn *c = conn_new(state, HTTP1_ROLE_SERVER, 0);
	uint8_t b[4] = { 0 };

	assert_int_equal(http1_conn_feed(c, IN, 1, b, 5, 4, NULL, 0), -EINVAL);
	assert_int_equal(http1_conn_feed(c, IN, 1, NULL, 1, 4, NULL, 0), -EINVAL);
	assert_int_equal(http1_conn_feed(c, IN, 1, b, 1, 4, NULL, 2), -EINVAL);
	assert_int_equal(http1_conn_feed(c, (enum http1_dir)7, 1, b, 1, 4, NULL, 0), -EINVAL);
	assert_int_equal(http1_conn_init(c, (enum http1_role)9, 0, NULL, NULL, NULL), -EINVAL);
}

/* ---- engines sharing a bounded pool ------------------------------------- */

/* What a connection holds between messages, and with one exchange in flight,
 * is small; the big parts are lent by the pool only while needed. */
static void test_engine_small_and_blocks_lent(void **state)
{
	struct http1_pool pool;
	struct http1_engine e;
	struct sink *s = sink_of(state);

	assert_true(sizeof(struct http1_engine) <= 256);
	assert_true(sizeof(struct http1_pending) <= 384);
	assert_int_equal(http1_pool_init(&pool, 4, 4), 0);
	assert_int_equal(http1_engine_init(&e, &pool, HTTP1_ROLE_SERVER, 0, sink_add, s, NULL,
					   NULL), 0);
	assert_int_equal(http1_pool_bytes(&pool), 0); /* nothing until needed */
	http1_engine_feed(&e, IN, 1, (const uint8_t *)"GET /a HTTP/1.1\r\nHo", 19, 19, NULL, 0);
	assert_int_equal(pool.slots.out, 1);
	assert_int_equal(pool.lines.out, 1);
	http1_engine_feed(&e, IN, 2, (const uint8_t *)"st: x\r\n\r\n", 9, 9, NULL, 0);
	assert_int_equal(pool.lines.out, 0);
	assert_int_equal(pool.slots.out, 1);
	http1_engine_feed(&e, OUT, 3, (const uint8_t *)RESP_HELLO, sizeof(RESP_HELLO) - 1,
			  sizeof(RESP_HELLO) - 1, NULL, 0);
	assert_int_equal(s->n, 1);
	assert_exchange(&s->ex[0], "GET", "/a", 200);
	assert_int_equal(pool.slots.out, 0); /* idle keep-alive: nothing lent */
	assert_true(http1_pool_bytes(&pool) > 0);
	http1_engine_feed(&e, IN, 4, (const uint8_t *)"GET /b HTTP/1.1\r\n", 17, 17, NULL, 0);
	assert_int_equal(http1_engine_close(&e), 1);
	assert_int_equal(pool.slots.out + pool.lines.out, 0);
	http1_pool_destroy(&pool);
}

static int feed_engine(struct http1_engine *e, enum http1_dir d, uint64_t ts, const char *str)
{
	return http1_engine_feed(e, d, ts, (const uint8_t *)str, (uint32_t)strlen(str),
				 (uint32_t)strlen(str), NULL, 0);
}

/* A pool with no line buffer and one exchange slot for two connections:
 * a split line is taken as lost (flagged), a request with no slot is not
 * kept and its response not reported, all counted; framing stays right,
 * so the next exchange is exact once a slot is free again. */
static void test_engine_pool_shortage(void **state)
{
	struct fixture *fx = *state;
	struct sink *s = &fx->sink;
	struct http1_stats *g = &fx->global;
	struct http1_pool pool;
	struct http1_engine a, b;

	assert_int_equal(http1_pool_init(&pool, 0, 1), 0);
	assert_int_equal(http1_engine_init(&a, &pool, HTTP1_ROLE_SERVER, 0, sink_add, s, NULL, g), 0);
	assert_int_equal(http1_engine_init(&b, &pool, HTTP1_ROLE_SERVER, 0, sink_add, s, NULL, g), 0);
	feed_engine(&a, IN, 1, "GET /a HTTP/1.1\r\nHo");
	assert_int_equal(g->pool_exhausted, 1); /* no line buffer */
	feed_engine(&a, IN, 2, "st: x\r\n\r\n");
	feed_engine(&b, IN, 3, "GET /b HTTP/1.1\r\n\r\n");
	assert_int_equal(g->pool_exhausted, 2); /* no slot for /b */
	feed_engine(&b, OUT, 4, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel");
	assert_int_equal(g->pool_exhausted, 3); /* nor for its response */
	feed_engine(&b, OUT, 5, "lo");
	assert_int_equal(s->n, 0);
	feed_engine(&a, OUT, 6, RESP_HELLO);
	assert_int_equal(s->n, 1);
	assert_exchange(&s->ex[0], "GET", "/a", 200);
	assert_int_equal(s->ex[0].flags, HTTP1_EXCH_HEAD_LOST);
	assert_int_equal(s->ex[0].req_bytes, 17 + 2 + 9);
	/* the slot is back: b's next exchange is whole */
	feed_engine(&b, IN, 7, "GET /c HTTP/1.1\r\n\r\n");
	feed_engine(&b, OUT, 8, RESP_HELLO);
	assert_int_equal(s->n, 2);
	assert_exchange(&s->ex[1], "GET", "/c", 200);
	assert_int_equal(s->ex[1].flags, 0);
	/* a start line split with no buffer: the head is lost, not the pairing */
	feed_engine(&a, IN, 9, "GE");
	feed_engine(&a, IN, 10, "T /d HTTP/1.1\r\n\r\n");
	feed_engine(&a, OUT, 11, RESP_HELLO);
	assert_int_equal(s->n, 3);
	assert_exchange(&s->ex[2], "", "", 200);
	assert_true(s->ex[2].flags & HTTP1_EXCH_HEAD_LOST);
	assert_int_equal(g->resp_unmatched, 0);
	assert_int_equal(http1_engine_close(&a), 0);
	assert_int_equal(http1_engine_close(&b), 0);
	assert_int_equal(pool.slots.out + pool.lines.out, 0);
	http1_pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_request),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_response_and_bound),
		cmocka_unit_test(test_redact),
		cmocka_unit_test_setup_teardown(test_get_keepalive_x3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_one_byte_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_10, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_burst_past_capture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_head_queued_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_content_length_1mib_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_visible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_1mib_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_last_chunk_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expect_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_204_304, setup, teardown),
		cmocka_unit_test_setup_teardown(test_response_until_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_mid_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_mid_request_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_with_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_role_inference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_never_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_line_100k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_longer_than_capture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_target_truncated_and_redacted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_and_midstream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_small_and_blocks_lent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_pool_shortage, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
