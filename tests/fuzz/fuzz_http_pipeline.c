/* Fuzz target: a stream of raw HTTP tracer records, as the ring buffer could
 * deliver them (any kinds, sizes, ids, lengths), through the connection
 * table and the HTTP/1.x engines, then the output formats. Must never crash,
 * leak or read out of bounds.
 * Input: records of [kind:1][conn_id:1][size:2 little-endian][size bytes]; a
 * record's bytes overlay the event struct after its header. Byte 0 also sets
 * options: bit 0 show_query, bit 1 evict_oldest, bits 2..3 and 4..5 tiny
 * pool bounds (0: the default), bit 6 delivery timing. After the finish every
 * pool block must be back and every connection accounted for.
 */
// fuzz-sources: src/pipeline/http_pipeline.c src/protocol/http1.c src/export/http_format.c src/export/text_line.c src/export/json_writer.c src/lab/histogram.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/http_format.h"
#include "pipeline/http_pipeline.h"

#define FUZZ_MAX_CONNS 4

static char out[65536];

static void sink(const struct http_record *r, void *ctx)
{
	struct json_writer w;

	(void)ctx;
	json_init(&w, out, sizeof(out));
	http_record_to_json(r, &w);
	http_record_to_text(r, 0, out, sizeof(out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_pipeline_opts o = { .max_conns = FUZZ_MAX_CONNS };
	struct http_pipeline *p;
	struct http_pipeline_stats ps;
	size_t at = 0;

	if (size) {
		o.show_query = data[0] & 1;
		o.evict_oldest = (data[0] >> 1) & 1;
		o.max_line_bufs = (data[0] >> 2) & 3u;
		o.max_exchanges = (data[0] >> 4) & 3u;
		o.measure_delivery = (data[0] >> 6) & 1;
	}
	if (http_pipeline_new(&p, &o, sink, NULL))
		return 0;
	while (at + 4 <= size) {
		uint8_t kind = data[at] % 4;
		uint8_t id = data[at + 1] % 8;
		size_t n = (size_t)data[at + 2] | (size_t)data[at + 3] << 8;
		struct http_event_hdr h = { .kind = kind, .pid = 1, .conn_id = id, .ts_ns = at };
		size_t body, total;
		uint8_t *rec;

		at += 4;
		body = n < size - at ? n : size - at;
		total = sizeof(h) + body;
		/* exact-size heap copy: ASan sees any read past the record */
		rec = malloc(total);
		if (!rec)
			break;
		memcpy(rec, &h, sizeof(h));
		memcpy(rec + sizeof(h), data + at, body);
		http_pipeline_event(p, rec, total);
		free(rec);
		at += body;
	}
	http_pipeline_finish(p);
	http_pipeline_stats(p, &ps);
	if (ps.line_bufs_used || ps.exchanges_used || ps.conns_live ||
	    ps.conns_opened != ps.conns_closed + ps.conns_evicted)
		abort();
	http_pipeline_free(p);
	return 0;
}
