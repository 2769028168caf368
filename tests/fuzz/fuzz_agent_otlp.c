/* libFuzzer target for the OTLP JSON encoder: the input becomes a batch of
 * spans whose strings (method, path, route, address, process, container)
 * are hostile bytes, and the metrics of a series table fed the same; both
 * bodies are then checked with a strict JSON scanner: brackets balance,
 * strings hold no raw control byte and only valid escapes, the whole text is
 * valid UTF-8. */
// fuzz-sources: src/agent/otlp.c src/agent/strbuf.c src/agent/series.c src/agent/route.c src/export/json_writer.c
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/otlp.h"

#define FIELD_BYTES_MAX 300u
#define SPANS_MAX 8
#define FIELDS 6
#define DEPTH_MAX 64

static void check_json(const char *s, size_t n)
{
	char stack[DEPTH_MAX];
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (in_str) {
			if (c < 0x20)
				abort();
			if (c == '\\') {
				char e = s[++i];

				if (!strchr("\"\\/bfnrtu", e) || !e)
					abort();
				if (e == 'u')
					for (int k = 0; k < 4; k++)
						if (!strchr("0123456789abcdefABCDEF", s[++i]) || !s[i])
							abort();
			} else if (c == '"') {
				in_str = false;
			} else if (c >= 0x80) {
				size_t l = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;

				if (!l || i + l > n)
					abort();
				for (size_t k = 1; k < l; k++)
					if (((unsigned char)s[i + k] & 0xc0) != 0x80)
						abort();
				i += l - 1;
			}
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '{' || c == '[') {
			if (depth == DEPTH_MAX)
				abort();
			stack[depth++] = (char)c;
		} else if (c == '}' || c == ']') {
			if (!depth || stack[--depth] != (c == '}' ? '{' : '['))
				abort();
		} else if (c < 0x20 || c >= 0x80)
			abort();
	}
	if (in_str || depth)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char fields[SPANS_MAX][FIELDS][FIELD_BYTES_MAX + 1];
	struct otlp_span spans[SPANS_MAX];
	struct otlp_resource res = { "svc\"\n", "host\xff", "1" };
	const uint8_t *p = data, *end = data + size;
	struct series_table *t;
	struct strbuf b;
	int n = 0;

	memset(spans, 0, sizeof(spans));
	if (series_table_new(&t, 4))
		return 0;
	while (p < end && n < SPANS_MAX) {
		struct otlp_span *s = &spans[n];

		s->side = (enum series_side)(*p & 1);
		s->tls = *p & 2;
		s->status = (uint16_t)(*p * 3u);
		s->server_port = *p;
		p++;
		for (int f = 0; f < FIELDS; f++) {
			size_t k = 0;

			while (p < end && *p != 0xfe && k < FIELD_BYTES_MAX) {
				if (*p)
					fields[n][f][k++] = (char)*p;
				p++;
			}
			fields[n][f][k] = 0;
			if (p < end)
				p++;
		}
		s->method = fields[n][0];
		s->method_original = fields[n][0];
		s->path = fields[n][1];
		s->route = fields[n][2];
		s->server_address = fields[n][3];
		s->process_name = fields[n][4];
		s->container_id = fields[n][5];
		series_table_observe(t, s->side, s->method, s->status, s->route, s->process_name,
				     s->container_id, (double)s->status / 100.0);
		n++;
	}
	strbuf_init(&b, 0);
	if (otlp_spans_json(&b, &res, spans, (size_t)n))
		abort();
	check_json(b.buf, b.len);
	strbuf_reset(&b);
	if (otlp_metrics_json(&b, &res, t, 1, 2))
		abort();
	check_json(b.buf, b.len);
	strbuf_free(&b);
	series_table_free(t);
	return 0;
}
