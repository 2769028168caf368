/* Connection table and exchange emission for `sonde http`; see
 * http_pipeline.h. The table is open addressing on conn_id with linear
 * probing and backward-shift deletion: O(1) expected per record, no
 * tombstones, bounded by max_conns. Each connection is allocated once when
 * it opens (an http1_conn is ~13 KiB) and freed when it closes. */
#include "pipeline/http_pipeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct conn {
	uint64_t conn_id;
	uint32_t pid;
	uint16_t family, lport, rport;
	uint8_t laddr[16], raddr[16];
	char comm[HTTP_COMM_LEN + 1];
	uint8_t origin;
	struct http_pipeline *p;
	struct http1_conn engine;
};

struct http_pipeline {
	struct http_pipeline_opts opts;
	http_record_fn fn;
	void *ctx;
	struct conn **slots;     /* capacity entries, NULL = empty */
	uint32_t capacity;       /* power of two, >= 2 * max_conns */
	uint32_t count;
	struct http_pipeline_stats stats;
};

static uint32_t slot_of(const struct http_pipeline *p, uint64_t id)
{
	/* Fibonacci hashing: conn ids are sequential, spread them */
	return (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (p->capacity - 1);
}

static struct conn *table_find(const struct http_pipeline *p, uint64_t id, uint32_t *at)
{
	for (uint32_t i = slot_of(p, id);; i = (i + 1) & (p->capacity - 1)) {
		struct conn *c = p->slots[i];

		if (!c)
			return NULL;
		if (c->conn_id == id) {
			if (at)
				*at = i;
			return c;
		}
	}
}

static void table_insert(struct http_pipeline *p, struct conn *c)
{
	uint32_t i = slot_of(p, c->conn_id);

	while (p->slots[i])
		i = (i + 1) & (p->capacity - 1);
	p->slots[i] = c;
	p->count++;
}

static void table_remove_at(struct http_pipeline *p, uint32_t i)
{
	uint32_t mask = p->capacity - 1, j = i;

	p->slots[i] = NULL;
	p->count--;
	/* shift back later entries of the same probe run */
	for (;;) {
		uint32_t home;

		j = (j + 1) & mask;
		if (!p->slots[j])
			return;
		home = slot_of(p, p->slots[j]->conn_id);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			p->slots[i] = p->slots[j];
			p->slots[j] = NULL;
			i = j;
		}
	}
}

static enum http_side side_of(const struct conn *c)
{
	switch (http1_conn_role(&c->engine)) {
	case HTTP1_ROLE_SERVER: return HTTP_SIDE_SERVER;
	case HTTP1_ROLE_CLIENT: return HTTP_SIDE_CLIENT;
	default: return HTTP_SIDE_UNKNOWN;
	}
}

static void on_exchange(void *ctx, const struct http1_exchange *ex)
{
	struct conn *c = ctx;
	struct http_pipeline *p = c->p;
	struct http_record r;

	memset(&r, 0, sizeof(r));
	r.side = side_of(c);
	if ((p->opts.side != HTTP_SIDE_UNKNOWN && r.side != p->opts.side) ||
	    (p->opts.comm && strcmp(p->opts.comm, c->comm))) {
		p->stats.records_filtered++;
		return;
	}
	r.ts_ns = ex->req_first_ts ? ex->req_first_ts : ex->resp_first_ts;
	r.pid = c->pid;
	memcpy(r.comm, c->comm, sizeof(r.comm));
	r.tls = (ex->flags & HTTP1_EXCH_TLS) != 0;
	r.ex = ex;
	if (ex->req_first_ts && ex->resp_last_ts >= ex->req_first_ts)
		r.latency_ns = ex->resp_last_ts - ex->req_first_ts;
	if (ex->req_first_ts && ex->resp_first_ts >= ex->req_first_ts)
		r.ttfb_ns = ex->resp_first_ts - ex->req_first_ts;
	r.family = c->family;
	r.lport = c->lport;
	r.rport = c->rport;
	memcpy(r.laddr, c->laddr, sizeof(r.laddr));
	memcpy(r.raddr, c->raddr, sizeof(r.raddr));
	p->stats.records++;
	p->fn(&r, p->ctx);
}

static void conn_close(struct http_pipeline *p, struct conn *c, uint32_t at)
{
	http1_conn_close(&c->engine);
	table_remove_at(p, at);
	p->stats.conns_closed++;
	free(c);
}

static int on_open(struct http_pipeline *p, const struct http_open_event *e)
{
	enum http1_role role = HTTP1_ROLE_UNKNOWN;
	uint32_t opts = p->opts.show_query ? 0 : HTTP1_CONN_REDACT_QUERY;
	uint32_t at;
	struct conn *c = table_find(p, e->hdr.conn_id, &at);

	if (c)
		conn_close(p, c, at); /* a repeated id: never from the kernel */
	if (p->count >= p->opts.max_conns) {
		p->stats.conn_table_full++;
		return 0;
	}
	c = malloc(sizeof(*c));
	if (!c) {
		p->stats.conn_table_full++;
		return 0;
	}
	memset(c, 0, offsetof(struct conn, engine));
	c->conn_id = e->hdr.conn_id;
	c->pid = e->hdr.pid;
	c->family = e->family;
	c->lport = e->lport;
	c->rport = e->rport;
	memcpy(c->laddr, e->laddr, sizeof(c->laddr));
	memcpy(c->raddr, e->raddr, sizeof(c->raddr));
	memcpy(c->comm, e->comm, HTTP_COMM_LEN);
	c->comm[HTTP_COMM_LEN] = '\0';
	c->origin = e->origin;
	c->p = p;
	if (e->origin == HTTP_ORIGIN_ACCEPT)
		role = HTTP1_ROLE_SERVER;
	else if (e->origin == HTTP_ORIGIN_CONNECT)
		role = HTTP1_ROLE_CLIENT;
	else
		opts |= HTTP1_CONN_MIDSTREAM;
	http1_conn_init(&c->engine, role, opts, on_exchange, c, &p->stats.http);
	table_insert(p, c);
	p->stats.conns_opened++;
	return 0;
}

static int on_data(struct http_pipeline *p, const struct http_data_event *e, size_t size)
{
	struct conn *c;

	if (size < HTTP_DATA_HEAD_BYTES || e->cap > HTTP_CAPTURE_BYTES_MAX ||
	    size < HTTP_DATA_HEAD_BYTES + e->cap ||
	    e->tail_len > HTTP_TAIL_BYTES || e->cap > e->len || e->dir > HTTP_DIR_EGRESS)
		return -EINVAL;
	c = table_find(p, e->hdr.conn_id, NULL);
	if (!c) {
		p->stats.events_no_conn++;
		return 0;
	}
	http1_conn_feed(&c->engine, e->dir == HTTP_DIR_INGRESS ? HTTP1_DIR_INGRESS : HTTP1_DIR_EGRESS,
			e->hdr.ts_ns, e->data, e->cap, e->len, e->tail_len ? e->tail : NULL,
			e->tail_len);
	return 0;
}

int http_pipeline_event(struct http_pipeline *p, const void *data, size_t size)
{
	const struct http_event_hdr *h = data;
	uint32_t at;
	struct conn *c;

	if (!data || size < sizeof(*h))
		return -EINVAL;
	switch (h->kind) {
	case HTTP_EV_OPEN:
		if (size < sizeof(struct http_open_event))
			return -EINVAL;
		return on_open(p, data);
	case HTTP_EV_DATA:
		return on_data(p, data, size);
	case HTTP_EV_CLOSE:
		if (size < sizeof(struct http_close_event))
			return -EINVAL;
		c = table_find(p, h->conn_id, &at);
		if (!c)
			p->stats.events_no_conn++;
		else
			conn_close(p, c, at);
		return 0;
	default:
		return -EINVAL;
	}
}

void http_pipeline_conn_gone(struct http_pipeline *p, uint64_t conn_id)
{
	uint32_t at;
	struct conn *c = table_find(p, conn_id, &at);

	if (!c)
		return;
	p->stats.conns_gone++;
	conn_close(p, c, at);
}

int http_pipeline_new(struct http_pipeline **out, const struct http_pipeline_opts *opts,
		      http_record_fn fn, void *ctx)
{
	struct http_pipeline *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->opts = *opts;
	if (!p->opts.max_conns)
		p->opts.max_conns = HTTP_MAX_CONNS_DEFAULT;
	p->capacity = 16;
	while (p->capacity < 2 * p->opts.max_conns)
		p->capacity <<= 1;
	p->slots = calloc(p->capacity, sizeof(*p->slots));
	if (!p->slots) {
		free(p);
		return -ENOMEM;
	}
	p->fn = fn;
	p->ctx = ctx;
	*out = p;
	return 0;
}

void http_pipeline_finish(struct http_pipeline *p)
{
	/* a removal may shift a wrapped entry back before i: sweep until empty */
	while (p->count) {
		for (uint32_t i = 0; i < p->capacity; i++)
			while (p->slots[i])
				conn_close(p, p->slots[i], i);
	}
}

void http_pipeline_stats(const struct http_pipeline *p, struct http_pipeline_stats *out)
{
	*out = p->stats;
	out->conns_live = p->count;
}

void http_pipeline_free(struct http_pipeline *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->capacity; i++)
		free(p->slots[i]);
	free(p->slots);
	free(p);
}
