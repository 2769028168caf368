/* Formatting of HTTP records; see http_format.h. */
#include "export/http_format.h"

#include "export/text_line.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>


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

/* The columns of http_text_header(), by hand: printf's format parsing and
 * float conversion were a third of sonde's CPU with text output at
 * saturation (perf). */
int http_record_to_text(const struct http_record *r, uint64_t t0_ns, char *buf, size_t size)
{
	const struct http1_exchange *ex = r->ex;
	struct text_line l;
	const char *side = r->side == HTTP_SIDE_SERVER ? "server" :
			   r->side == HTTP_SIDE_CLIENT ? "client" : "?";
	size_t start;

	text_line_init(&l, buf, size);
	text_line_fixed(&l, r->ts_ns >= t0_ns ? r->ts_ns - t0_ns : 0, TEXT_NS_PER_SEC, 6);
	text_line_pad(&l, 0, 13);
	start = l.off;
	text_line_u64(&l, r->pid);
	text_line_pad(&l, start, 8);
	start = l.off;
	text_line_safe(&l, r->comm, strnlen(r->comm, sizeof(r->comm)), false);
	text_line_pad(&l, start, 16);
	start = l.off;
	text_line_cstr(&l, side);
	text_line_pad(&l, start, 6);
	start = l.off;
	text_line_put(&l, ex->method, ex->method_len < 7 ? ex->method_len : 7);
	text_line_pad(&l, start, 7);
	start = l.off;
	if (ex->status)
		text_line_u64(&l, ex->status);
	else
		text_line_put(&l, "-", 1);
	text_line_pad(&l, start, 6);
	start = l.off;
	text_line_fixed(&l, r->latency_ns, TEXT_NS_PER_MS, 3);
	text_line_pad(&l, start, 12);
	start = l.off;
	text_line_u64(&l, ex->req_bytes);
	text_line_put(&l, "/", 1);
	text_line_u64(&l, ex->resp_bytes);
	text_line_pad(&l, start, 15);
	text_line_safe(&l, ex->path, ex->path_len, false);
	if (ex->flags & HTTP1_EXCH_INCOMPLETE)
		text_line_put(&l, " [incomplete]", 13);
	return text_line_end(&l);
}

void http_pipeline_stats_json(const struct http_pipeline_stats *s, struct json_writer *w)
{
	const struct http1_stats *h = &s->http;

	json_key(w, "http");
	json_obj_begin(w);
#define FIELD(name, v) do { json_key(w, name); json_u64(w, v); } while (0)
	FIELD("records", s->records);
	FIELD("records_filtered", s->records_filtered);
	FIELD("io_uring_processes", s->io_uring_processes);
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
