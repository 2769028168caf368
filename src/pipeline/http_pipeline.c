/* Connection table and exchange emission for `sonde http`; see
 * http_pipeline.h. The table is open addressing on conn_id with linear
 * probing and backward-shift deletion: O(1) expected per record, no
 * tombstones, bounded by max_conns. Connection objects come from a slab
 * that grows in chunks up to max_conns and is freed only with the pipeline;
 * an intrusive list keeps them in order of last activity, so the least
 * recently active one is found in O(1) when the table is full. */
#include "pipeline/http_pipeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lab/histogram.h"

/* Connection objects per slab chunk: ~80 KiB at a time. */
#define CONN_CHUNK_CONNS 256u
#define NS_PER_US 1000u
/* Below this many open connections, their objects and exchanges (~700 B
 * each) fit in a 1 MiB L2 and http_pipeline_prefetch does nothing. */
#define PREFETCH_MIN_CONNS 1024u

/* Links of the activity list; the pipeline holds the sentinel. */
struct lru_link {
	struct lru_link *prev, *next;
};

struct conn {
	struct lru_link lru;     /* first: a link is its conn */
	uint64_t conn_id;
	struct http_pipeline *p;
	/* next to the id every lookup reads: the engine's state and queue
	 * come first in it; what only a record needs comes last */
	struct http1_engine engine;
	uint32_t pid;
	uint16_t family, lport, rport;
	uint8_t origin;
	char comm[HTTP_COMM_LEN + 1];
	uint8_t laddr[16], raddr[16];
};

/* A table entry holds the id next to the pointer: a probe compares ids
 * without reading the connection objects it passes (thousands of them are
 * out of cache). */
struct slot {
	uint64_t id;
	struct conn *c;          /* NULL: empty */
};

struct http_pipeline {
	struct http_pipeline_opts opts;
	http_record_fn fn;
	void *ctx;
	struct slot *slots;      /* capacity entries */
	uint32_t capacity;       /* power of two, >= 2 * max_conns */
	uint32_t count;
	struct lru_link lru;     /* open connections, least recently active first */
	struct http1_slab conns; /* struct conn objects */
	struct http1_pool pool;  /* their line buffers and exchanges in flight */
	uint64_t event_ts;       /* kernel ts of the record being handled, 0 if none */
	struct lab_hist delivery; /* event -> emission, ns (measure_delivery) */
	uint32_t allocs_fixed;   /* allocations of http_pipeline_new */
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
		const struct slot *s = &p->slots[i];

		if (!s->c)
			return NULL;
		if (s->id == id) {
			if (at)
				*at = i;
			return s->c;
		}
	}
}

/* table_find for a prefetch: only the slot's probe run, no more than the
 * few entries a half-empty table has there. */
static struct conn *table_peek(const struct http_pipeline *p, uint64_t id)
{
	uint32_t i = slot_of(p, id);

	for (int n = 0; n < 4 && p->slots[i].c; n++, i = (i + 1) & (p->capacity - 1))
		if (p->slots[i].id == id)
			return p->slots[i].c;
	return NULL;
}

static void table_insert(struct http_pipeline *p, struct conn *c)
{
	uint32_t i = slot_of(p, c->conn_id);

	while (p->slots[i].c)
		i = (i + 1) & (p->capacity - 1);
	p->slots[i].id = c->conn_id;
	p->slots[i].c = c;
	p->count++;
}

static void table_remove_at(struct http_pipeline *p, uint32_t i)
{
	uint32_t mask = p->capacity - 1, j = i;

	p->slots[i].c = NULL;
	p->count--;
	/* shift back later entries of the same probe run */
	for (;;) {
		uint32_t home;

		j = (j + 1) & mask;
		if (!p->slots[j].c)
			return;
		home = slot_of(p, p->slots[j].id);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			p->slots[i] = p->slots[j];
			p->slots[j].c = NULL;
			i = j;
		}
	}
}

static void lru_unlink(struct conn *c)
{
	c->lru.prev->next = c->lru.next;
	c->lru.next->prev = c->lru.prev;
}

/* Append at the most recently active end. */
static void lru_append(struct http_pipeline *p, struct conn *c)
{
	c->lru.prev = p->lru.prev;
	c->lru.next = &p->lru;
	p->lru.prev->next = &c->lru;
	p->lru.prev = &c->lru;
}

static void lru_touch(struct http_pipeline *p, struct conn *c)
{
	if (p->lru.prev == &c->lru)
		return;
	lru_unlink(c);
	lru_append(p, c);
}

static struct conn *lru_oldest(const struct http_pipeline *p)
{
	return p->lru.next == &p->lru ? NULL : (struct conn *)p->lru.next;
}

static enum http_side side_of(const struct conn *c)
{
	switch (http1_engine_role(&c->engine)) {
	case HTTP1_ROLE_SERVER: return HTTP_SIDE_SERVER;
	case HTTP1_ROLE_CLIENT: return HTTP_SIDE_CLIENT;
	default: return HTTP_SIDE_UNKNOWN;
	}
}

static uint64_t clock_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A record is about to leave: time since the kernel event that made it.
 * Records emitted outside an event (finish, a process exit) are not timed. */
static void delivery_record(struct http_pipeline *p)
{
	uint64_t now;

	if (!p->opts.measure_delivery || !p->event_ts)
		return;
	now = p->opts.clock_ns();
	lab_hist_record(&p->delivery, now > p->event_ts ? now - p->event_ts : 0);
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
	delivery_record(p);
	p->fn(&r, p->ctx);
}

/* End a connection: its unfinished exchanges are emitted as incomplete,
 * its blocks go back to the pool and its object to the slab. */
static void conn_end(struct http_pipeline *p, struct conn *c, uint32_t at)
{
	http1_engine_close(&c->engine);
	table_remove_at(p, at);
	lru_unlink(c);
	http1_slab_put(&p->conns, c);
}

static void conn_close(struct http_pipeline *p, struct conn *c, uint32_t at)
{
	conn_end(p, c, at);
	p->stats.conns_closed++;
}

/* Make room for one more connection. False if the table stays full. */
static bool table_make_room(struct http_pipeline *p)
{
	struct conn *old;
	uint32_t at;

	if (p->count < p->opts.max_conns)
		return true;
	if (!p->opts.evict_oldest)
		return false;
	old = lru_oldest(p);
	if (!old || !table_find(p, old->conn_id, &at))
		return false;
	conn_end(p, old, at);
	p->stats.conns_evicted++;
	return true;
}

static int on_open(struct http_pipeline *p, const struct http_open_event *e)
{
	enum http1_role role = HTTP1_ROLE_UNKNOWN;
	uint32_t opts = p->opts.show_query ? 0 : HTTP1_CONN_REDACT_QUERY;
	uint32_t at;
	struct conn *c = table_find(p, e->hdr.conn_id, &at);

	if (c)
		conn_close(p, c, at); /* a repeated id: never from the kernel */
	if (!table_make_room(p)) {
		p->stats.conn_table_full++;
		return 0;
	}
	c = http1_slab_get(&p->conns);
	if (!c) {
		p->stats.conn_table_full++;
		return 0;
	}
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
	if (e->flags & HTTP_OPEN_F_TLS)
		opts |= HTTP1_CONN_TLS;
	http1_engine_init(&c->engine, &p->pool, role, opts, on_exchange, c, NULL,
			  &p->stats.http);
	table_insert(p, c);
	lru_append(p, c);
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
	lru_touch(p, c);
	http1_engine_feed(&c->engine,
			  e->dir == HTTP_DIR_INGRESS ? HTTP1_DIR_INGRESS : HTTP1_DIR_EGRESS,
			  e->hdr.ts_ns, e->data, e->cap, e->len, e->tail_len ? e->tail : NULL,
			  e->tail_len);
	return 0;
}

static int event_dispatch(struct http_pipeline *p, const void *data, size_t size)
{
	const struct http_event_hdr *h = data;
	uint32_t at;
	struct conn *c;

	switch (h->kind) {
	case HTTP_EV_OPEN:
		if (size < sizeof(struct http_open_event))
			return -EINVAL;
		return on_open(p, data);
	case HTTP_EV_DATA:
		return on_data(p, data, size);
	case HTTP_EV_IO_URING:
		if (size < sizeof(struct http_io_uring_event))
			return -EINVAL;
		p->stats.io_uring_processes++;
		if (p->opts.io_uring_fn) {
			const struct http_io_uring_event *u = data;
			char comm[HTTP_COMM_LEN + 1];

			memcpy(comm, u->comm, HTTP_COMM_LEN);
			comm[HTTP_COMM_LEN] = '\0';
			p->opts.io_uring_fn(h->pid, comm, p->ctx);
		}
		return 0;
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

int http_pipeline_event(struct http_pipeline *p, const void *data, size_t size)
{
	const struct http_event_hdr *h = data;
	int ret;

	if (!data || size < sizeof(*h))
		return -EINVAL;
	p->event_ts = h->ts_ns;
	ret = event_dispatch(p, data, size);
	p->event_ts = 0;
	return ret;
}

bool http_pipeline_prefetch_worth(const struct http_pipeline *p)
{
	return p->count >= PREFETCH_MIN_CONNS;
}

void http_pipeline_prefetch(const struct http_pipeline *p, uint64_t conn_id, unsigned stage)
{
	const struct conn *c;

	if (stage >= HTTP_PREFETCH_STAGES) {
		__builtin_prefetch(&p->slots[slot_of(p, conn_id)]);
		return;
	}
	c = table_peek(p, conn_id);
	if (!c)
		return;
	if (stage == 2) {
		for (size_t off = 0; off < sizeof(*c); off += 64)
			__builtin_prefetch((const char *)c + off, 1);
		__builtin_prefetch((const char *)c + sizeof(*c) - 1, 1);
		return;
	}
	/* the activity list's neighbours are written by lru_touch */
	__builtin_prefetch(c->lru.prev, 1);
	__builtin_prefetch(c->lru.next, 1);
	http1_engine_prefetch(&c->engine);
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

/* n * per_conn_x2 / 2, at least min, within 32 bits. */
static uint32_t pool_bound(uint32_t n, uint32_t per_conn_x2, uint32_t min)
{
	uint64_t v = (uint64_t)n * per_conn_x2 / 2u;

	if (v < min)
		v = min;
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static int pipeline_alloc(struct http_pipeline *p)
{
	uint32_t lines = p->opts.max_line_bufs, slots = p->opts.max_exchanges;

	if (!lines)
		lines = pool_bound(p->opts.max_conns, HTTP_LINES_PER_CONN_X2, HTTP_LINES_MIN);
	if (!slots)
		slots = pool_bound(p->opts.max_conns, HTTP_SLOTS_PER_CONN_X2, HTTP_SLOTS_MIN);
	p->capacity = 16;
	while (p->capacity < 2 * p->opts.max_conns)
		p->capacity <<= 1;
	p->slots = calloc(p->capacity, sizeof(*p->slots));
	if (!p->slots)
		return -ENOMEM;
	p->allocs_fixed++;
	if (http1_slab_init(&p->conns, sizeof(struct conn), p->opts.max_conns, CONN_CHUNK_CONNS) ||
	    http1_pool_init(&p->pool, lines, slots))
		return -EINVAL;
	if (p->opts.measure_delivery) {
		if (lab_hist_init(&p->delivery))
			return -ENOMEM;
		p->allocs_fixed++;
	}
	return 0;
}

int http_pipeline_new(struct http_pipeline **out, const struct http_pipeline_opts *opts,
		      http_record_fn fn, void *ctx)
{
	struct http_pipeline *p = calloc(1, sizeof(*p));
	int ret;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->opts = *opts;
	if (!p->opts.max_conns)
		p->opts.max_conns = HTTP_MAX_CONNS_DEFAULT;
	if (!p->opts.clock_ns)
		p->opts.clock_ns = clock_monotonic_ns;
	p->allocs_fixed = 1;
	p->lru.prev = p->lru.next = &p->lru;
	p->fn = fn;
	p->ctx = ctx;
	ret = pipeline_alloc(p);
	if (ret) {
		http_pipeline_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

void http_pipeline_finish(struct http_pipeline *p)
{
	struct conn *c;
	uint32_t at;

	while ((c = lru_oldest(p)) && table_find(p, c->conn_id, &at))
		conn_close(p, c, at);
}

size_t http_pipeline_memory_bytes(const struct http_pipeline *p)
{
	size_t hist = p->delivery.counts ? LAB_HIST_COUNTS * sizeof(uint64_t) : 0;

	return sizeof(*p) + (size_t)p->capacity * sizeof(*p->slots) + p->conns.bytes +
	       http1_pool_bytes(&p->pool) + hist;
}

void http_pipeline_stats(const struct http_pipeline *p, struct http_pipeline_stats *out)
{
	*out = p->stats;
	out->conns_live = p->count;
	out->memory_bytes = http_pipeline_memory_bytes(p);
	out->allocs = p->allocs_fixed + p->conns.allocs + p->pool.lines.allocs +
		      p->pool.slots.allocs;
	out->line_bufs_used = p->pool.lines.out;
	out->exchanges_used = p->pool.slots.out;
	if (p->delivery.counts) {
		out->delivery_count = lab_hist_count(&p->delivery);
		out->delivery_p50_us = lab_hist_percentile(&p->delivery, 50.0) / NS_PER_US;
		out->delivery_p99_us = lab_hist_percentile(&p->delivery, 99.0) / NS_PER_US;
	}
}

void http_pipeline_free(struct http_pipeline *p)
{
	if (!p)
		return;
	http1_slab_destroy(&p->conns);
	http1_pool_destroy(&p->pool);
	lab_hist_free(&p->delivery);
	free(p->slots);
	free(p);
}
