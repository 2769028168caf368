/* Fuzz target: any bytes as a capture file (pipeline/capture.h), read with
 * every frame checked and replayed as `sonde replay` does: http captures
 * into the pipeline, exec captures through the decoder, both into the output
 * formats. Must never crash, leak or read outside the file, and an error
 * must name an offset inside it.
 * Input: the file's bytes; an odd-sized input is read from an unaligned
 * address (the reader's aligned-copy path).
 */
// fuzz-sources: src/pipeline/capture.c src/pipeline/http_pipeline.c src/protocol/http1.c src/pipeline/exec_record.c src/export/http_format.c src/export/exec_format.c src/export/text_line.c src/export/json_writer.c src/lab/histogram.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/exec_format.h"
#include "export/http_format.h"
#include "pipeline/capture.h"
#include "pipeline/http_pipeline.h"

#define FUZZ_MAX_CONNS 4

static char out[65536];

static void http_sink(const struct http_record *r, void *ctx)
{
	struct json_writer w;

	(void)ctx;
	json_init(&w, out, sizeof(out));
	http_record_to_json(r, &w);
	http_record_to_text(r, 0, out, sizeof(out));
}

static void replay_exec(struct capture_reader *r)
{
	static struct exec_record rec;
	struct capture_rec cr;
	struct json_writer w;

	while (capture_reader_next(r, &cr) > 0) {
		if (cr.type != CAPTURE_REC_RAW || exec_record_decode(cr.data, cr.size, &rec))
			continue;
		json_init(&w, out, sizeof(out));
		exec_record_to_json(&rec, &w);
		exec_record_to_text(&rec, r->info.start_monotonic_ns, out, sizeof(out));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct capture_reader r;
	struct http_pipeline_opts o = { .max_conns = FUZZ_MAX_CONNS };
	struct capture_replay_stats rs = { 0 };
	size_t shift = size & 1;
	/* exact-size heap copy: ASan sees any read past the file */
	uint8_t *copy = malloc(size + shift ? size + shift : 1);
	struct http_pipeline *p;

	if (!copy)
		return 0;
	memcpy(copy + shift, data, size);
	if (capture_reader_init(&r, copy + shift, size) == 0) {
		if (r.info.kind == CAPTURE_KIND_HTTP) {
			if (r.info.max_conns == 1)
				o.show_query = true;
			if (http_pipeline_new(&p, &o, http_sink, NULL) == 0) {
				capture_replay_http(&r, p, &rs);
				http_pipeline_free(p);
			}
		} else {
			replay_exec(&r);
		}
		if (r.err && r.err_offset > size)
			abort();
	}
	free(copy);
	return 0;
}
