/* Formatting of HTTP records; see http_format.h. */
#include "export/http_format.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_SEC_U 1000000000ull
#define NS_PER_MS_U 1000000ull

const char *http_side_name(enum http_side side)
{
	switch (side) {
	case HTTP_SIDE_SERVER: return "server";
	case HTTP_SIDE_CLIENT: return "client";
	default: return "unknown";
	}
}

int http_side_parse(const char *s, enum http_side *out)
{
	if (!strcmp(s, "server"))
		*out = HTTP_SIDE_SERVER;
	else if (!strcmp(s, "client"))
		*out = HTTP_SIDE_CLIENT;
	else if (!strcmp(s, "both"))
		*out = HTTP_SIDE_UNKNOWN;
	else
		return -EINVAL;
	return 0;
}

/* IPv4 by hand: inet_ntop formats it with sprintf, a cost paid twice per
 * record. size is at least INET6_ADDRSTRLEN. */
static void addr_str(uint16_t family, const uint8_t *a, char *buf, size_t size)
{
	if (family != AF_INET6) {
		char *p = buf;

		for (int i = 0; i < 4; i++) {
			unsigned v = a[i];

			if (v >= 100)
				*p++ = (char)('0' + v / 100);
			if (v >= 10)
				*p++ = (char)('0' + v / 10 % 10);
			*p++ = (char)('0' + v % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
		return;
	}
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, a, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

int http_record_to_json(const struct http_record *r, struct json_writer *w)
{
	const struct http1_exchange *ex = r->ex;
	char addr[INET6_ADDRSTRLEN];

	json_obj_begin(w);
	json_key(w, "type");
	json_cstr(w, "http");
	json_key(w, "ts_ns");
	json_u64(w, r->ts_ns);
	json_key(w, "pid");
	json_u64(w, r->pid);
	json_key(w, "comm");
	json_cstr(w, r->comm);
	json_key(w, "side");
	json_cstr(w, http_side_name(r->side));
	json_key(w, "tls");
	json_bool(w, r->tls);
	json_key(w, "method");
	json_str(w, ex->method, ex->method_len);
	json_key(w, "path");
	json_str(w, ex->path, ex->path_len);
	json_key(w, "status");
	if (ex->status)
		json_u64(w, ex->status);
	else
		json_write_null(w);
	json_key(w, "latency_ns");
	json_u64(w, r->latency_ns);
	json_key(w, "ttfb_ns");
	json_u64(w, r->ttfb_ns);
	json_key(w, "req_bytes");
	json_u64(w, ex->req_bytes);
	json_key(w, "resp_bytes");
	json_u64(w, ex->resp_bytes);
	addr_str(r->family, r->laddr, addr, sizeof(addr));
	json_key(w, "laddr");
	json_cstr(w, addr);
	json_key(w, "lport");
	json_u64(w, r->lport);
	addr_str(r->family, r->raddr, addr, sizeof(addr));
	json_key(w, "raddr");
	json_cstr(w, addr);
	json_key(w, "rport");
	json_u64(w, r->rport);
	json_key(w, "incomplete");
	json_bool(w, (ex->flags & HTTP1_EXCH_INCOMPLETE) != 0);
	if (ex->flags & (HTTP1_EXCH_PATH_TRUNCATED | HTTP1_EXCH_PIPELINED | HTTP1_EXCH_CHUNKED |
			 HTTP1_EXCH_NO_REQUEST | HTTP1_EXCH_HEAD_LOST | HTTP1_EXCH_ESTIMATED |
			 HTTP1_EXCH_ERROR | HTTP1_EXCH_UPGRADED | HTTP1_EXCH_OVERFLOW)) {
		json_key(w, "notes");
		json_arr_begin(w);
		if (ex->flags & HTTP1_EXCH_PATH_TRUNCATED) json_cstr(w, "path_truncated");
		if (ex->flags & HTTP1_EXCH_PIPELINED) json_cstr(w, "pipelined");
		if (ex->flags & HTTP1_EXCH_CHUNKED) json_cstr(w, "chunked");
		if (ex->flags & HTTP1_EXCH_NO_REQUEST) json_cstr(w, "no_request");
		if (ex->flags & HTTP1_EXCH_HEAD_LOST) json_cstr(w, "head_not_captured");
		if (ex->flags & HTTP1_EXCH_ESTIMATED) json_cstr(w, "end_estimated");
		if (ex->flags & HTTP1_EXCH_ERROR) json_cstr(w, "parse_error");
		if (ex->flags & HTTP1_EXCH_UPGRADED) json_cstr(w, "upgraded");
		if (ex->flags & HTTP1_EXCH_OVERFLOW) json_cstr(w, "pipeline_overflow");
		json_arr_end(w);
	}
	json_obj_end(w);
	return json_finish(w);
}

const char *http_text_header(void)
{
	return "TIME(s)       PID      COMM             SIDE   METHOD  STATUS LATENCY(ms)  REQ/RESP BYTES  PATH";
}

/* A text line being built in a caller's buffer; full once something did
 * not fit (and the NUL must always fit). */
struct line {
	char *buf;
	size_t size, off;
	bool full;
};

static void line_put(struct line *l, const char *s, size_t n)
{
	if (l->full || l->off + n >= l->size) {
		l->full = true;
		return;
	}
	memcpy(l->buf + l->off, s, n);
	l->off += n;
}

/* Spaces up to width bytes since start, then one more: printf's "%-Ns ". */
static void line_pad(struct line *l, size_t start, size_t width)
{
	static const char spaces[] = "                                ";
	size_t used = l->off - start, n = (used < width ? width - used : 0) + 1;

	while (n > 0 && !l->full) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		line_put(l, spaces, k);
		n -= k;
	}
}

static void line_u64(struct line *l, uint64_t v)
{
	char b[24], *p = b + sizeof(b);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	line_put(l, p, (size_t)(b + sizeof(b) - p));
}

/* ns in units of unit_ns with three or six decimals (unit_ns / 10^decimals
 * is 1,000 ns for both columns), rounded half up: printf's %.Nf of the
 * quotient, without its cost (a record has two). */
static void line_fixed(struct line *l, uint64_t ns, uint64_t unit_ns, unsigned decimals)
{
	uint64_t steps = ns / 1000u + (ns % 1000u >= 500u), per = unit_ns / 1000u;
	uint64_t frac = steps % per;
	char digits[8];

	line_u64(l, steps / per);
	line_put(l, ".", 1);
	for (unsigned i = decimals; i > 0; i--) {
		digits[i - 1] = (char)('0' + frac % 10);
		frac /= 10;
	}
	line_put(l, digits, decimals);
}

/* Printable ASCII as is, anything else as \xNN (a path or a command name
 * is the traced program's bytes: no terminal escape gets through). */
static void line_safe(struct line *l, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n && !l->full; i++) {
		unsigned char c = (unsigned char)s[i];
		size_t j = i;

		while (j < n && (unsigned char)s[j] >= 0x20 && (unsigned char)s[j] < 0x7F)
			j++;
		if (j > i) {
			line_put(l, s + i, j - i);
			i = j - 1;
			continue;
		}
		line_put(l, (const char[]){ '\\', 'x', hex[c >> 4], hex[c & 15] }, 4);
	}
}

/* The columns of http_text_header(), by hand: printf's format parsing and
 * float conversion were a third of sonde's CPU with text output at
 * saturation (perf). */
int http_record_to_text(const struct http_record *r, uint64_t t0_ns, char *buf, size_t size)
{
	const struct http1_exchange *ex = r->ex;
	struct line l = { .buf = buf, .size = size };
	const char *side = r->side == HTTP_SIDE_SERVER ? "server" :
			   r->side == HTTP_SIDE_CLIENT ? "client" : "?";
	size_t start;

	if (size == 0)
		return -ENOSPC;
	line_fixed(&l, r->ts_ns >= t0_ns ? r->ts_ns - t0_ns : 0, NS_PER_SEC_U, 6);
	line_pad(&l, 0, 13);
	start = l.off;
	line_u64(&l, r->pid);
	line_pad(&l, start, 8);
	start = l.off;
	line_safe(&l, r->comm, strnlen(r->comm, sizeof(r->comm)));
	line_pad(&l, start, 16);
	start = l.off;
	line_put(&l, side, strlen(side));
	line_pad(&l, start, 6);
	start = l.off;
	line_put(&l, ex->method, ex->method_len < 7 ? ex->method_len : 7);
	line_pad(&l, start, 7);
	start = l.off;
	if (ex->status)
		line_u64(&l, ex->status);
	else
		line_put(&l, "-", 1);
	line_pad(&l, start, 6);
	start = l.off;
	line_fixed(&l, r->latency_ns, NS_PER_MS_U, 3);
	line_pad(&l, start, 12);
	start = l.off;
	line_u64(&l, ex->req_bytes);
	line_put(&l, "/", 1);
	line_u64(&l, ex->resp_bytes);
	line_pad(&l, start, 15);
	line_safe(&l, ex->path, ex->path_len);
	if (ex->flags & HTTP1_EXCH_INCOMPLETE)
		line_put(&l, " [incomplete]", 13);
	if (l.full)
		return -ENOSPC;
	buf[l.off] = '\0';
	return (int)l.off;
}

void http_pipeline_stats_json(const struct http_pipeline_stats *s, struct json_writer *w)
{
	const struct http1_stats *h = &s->http;

	json_key(w, "http");
	json_obj_begin(w);
#define FIELD(name, v) do { json_key(w, name); json_u64(w, v); } while (0)
	FIELD("records", s->records);
	FIELD("records_filtered", s->records_filtered);
	FIELD("conns_opened", s->conns_opened);
	FIELD("conns_closed", s->conns_closed);
	FIELD("conns_gone", s->conns_gone);
	FIELD("conns_live_at_exit", s->conns_live);
	FIELD("conn_table_full", s->conn_table_full);
	FIELD("conns_evicted", s->conns_evicted);
	FIELD("events_no_conn", s->events_no_conn);
	FIELD("exchanges", h->exchanges);
	FIELD("incomplete", h->incomplete);
	FIELD("parse_errors", h->parse_errors);
	FIELD("head_too_large", h->head_too_large);
	FIELD("pipeline_overflow", h->pipeline_overflow);
	FIELD("resp_unmatched", h->resp_unmatched);
	FIELD("bytes_uncaptured", h->bytes_uncaptured);
	FIELD("bytes_desync", h->bytes_desync);
	FIELD("resyncs", h->resyncs);
	FIELD("conns_not_http", h->conns_not_http);
	FIELD("conns_upgraded", h->conns_upgraded);
	FIELD("pool_exhausted", h->pool_exhausted);
	FIELD("memory_bytes", s->memory_bytes);
	FIELD("delivery_count", s->delivery_count);
	FIELD("delivery_p50_us", s->delivery_p50_us);
	FIELD("delivery_p99_us", s->delivery_p99_us);
#undef FIELD
	json_obj_end(w);
}
