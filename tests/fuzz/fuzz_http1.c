/* libFuzzer target for the HTTP/1.x engine: the input is a little script of
 * segments (direction, captured bytes, uncaptured gap, tail) fed to one
 * connection, then closed; the head parser and the redaction helper also get
 * the raw input. Must never crash, leak or read out of bounds.
 *
 * Script: byte 0 = role (value mod 3) and options (bits 2..4); bit 7 set:
 * the engine borrows from a tiny shared-style pool (bit 5: one line buffer or
 * none, bit 6: one or two exchange slots) instead of its own, so running
 * short is exercised; either way every block must be back after the close.
 * Then records
 *   [ctl][cap][gap] + cap payload bytes + tail bytes
 *   ctl bit 0: direction; bit 1: the gap is x4096; bits 4..7: tail bytes. */
// fuzz-sources: src/protocol/http1.c
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/http1.h"

#define GAP_SCALE_BIG 4096u
#define REDACT_OUT_BYTES 64u

struct tally {
	uint64_t seen;
};

static void on_exchange(void *ctx, const struct http1_exchange *ex)
{
	struct tally *t = ctx;

	/* Strings are NUL-terminated within their storage. */
	if (strlen(ex->method) != ex->method_len || strlen(ex->path) != ex->path_len)
		abort();
	t->seen++;
}

#define POOLED_BIT 0x80u

static bool pool_empty(const struct http1_pool *p)
{
	return p->lines.out == 0 && p->slots.out == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http1_conn conn;
	struct http1_pool small;
	struct http1_engine *e = &conn.engine;
	struct http1_stats global = { 0 };
	struct tally tally = { 0 };
	struct http1_head head;
	char out[REDACT_OUT_BYTES];
	size_t pos = 1;
	int r;

	if (size == 0)
		return 0;
	http1_parse_request((const char *)data, size, 0, &head);
	http1_parse_response((const char *)data, size, size / 2, &head);
	r = http1_redact_target((const char *)data, size, out, sizeof(out));
	if (r >= (int)sizeof(out) || strlen(out) >= sizeof(out))
		abort();

	if (http1_conn_init(&conn, (enum http1_role)(data[0] % 3), (data[0] >> 2) & 7u,
			    on_exchange, &tally, &global) != 0)
		abort();
	if (data[0] & POOLED_BIT) {
		if (http1_pool_init(&small, (data[0] >> 5) & 1u, 1u + ((data[0] >> 6) & 1u)) ||
		    http1_engine_init(e, &small, (enum http1_role)(data[0] % 3),
				      (data[0] >> 2) & 7u, on_exchange, &tally, &conn.stats,
				      &global))
			abort();
	}
	while (pos + 3 <= size) {
		uint8_t ctl = data[pos];
		uint32_t cap = data[pos + 1];
		uint32_t gap = data[pos + 2] * ((ctl & 2u) ? GAP_SCALE_BIG : 1u);
		uint32_t tail_len = ctl >> 4;
		const uint8_t *payload, *tail;

		pos += 3;
		if (cap > size - pos)
			cap = (uint32_t)(size - pos);
		payload = data + pos;
		pos += cap;
		if (tail_len > cap + gap)
			tail_len = cap + gap;
		if (tail_len > size - pos)
			tail_len = (uint32_t)(size - pos);
		tail = data + pos;
		pos += tail_len;
		/* A tail overlapping the capture is allowed; the engine reads
		 * only its part past cap. */
		r = http1_engine_feed(e, (enum http1_dir)(ctl & 1u), pos, payload, cap,
				      cap + gap, tail, tail_len);
		if (r < 0)
			abort();
	}
	if (http1_engine_close(e) < 0 || !pool_empty(e->pool))
		abort();
	if (data[0] & POOLED_BIT)
		http1_pool_destroy(&small);
	if (tally.seen != conn.stats.exchanges || global.exchanges != conn.stats.exchanges ||
	    conn.stats.incomplete > conn.stats.exchanges)
		abort();
	return 0;
}
