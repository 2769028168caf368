/* OTLP/HTTP JSON encoding of the agent's spans and RED histograms. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/otlp.h"
#include "agent/route.h"
#include "export/json_writer.h"

/* Longest string sent; longer ones are cut (paths are 256 B at most). */
#define OTLP_STRING_BYTES_MAX 1024u
/* json_escape's worst case: 6 output bytes (\u00XX, \ufffd) per input byte */
#define ESCAPE_RATIO 6u
#define HTTP_SPAN_NAME_BYTES (SERIES_METHOD_BYTES + ROUTE_BYTES_MAX + 1)

int otlp_json_string(struct strbuf *b, const char *s)
{
	char out[OTLP_STRING_BYTES_MAX * ESCAPE_RATIO + 1];
	size_t n = s ? strnlen(s, OTLP_STRING_BYTES_MAX) : 0;
	long len = json_escape(s ? s : "", n, out, sizeof(out));
	int err;

	if (len < 0)
		return -ENOSPC; /* cannot happen: out is sized for the worst case */
	err = strbuf_append(b, "\"", 1);
	if (!err)
		err = strbuf_append(b, out, (size_t)len);
	return err ? err : strbuf_append(b, "\"", 1);
}

static int hex(struct strbuf *b, const uint8_t *p, size_t n)
{
	char out[2 * OTLP_TRACE_ID_BYTES + 2];
	static const char digits[] = "0123456789abcdef";

	out[0] = '"';
	for (size_t i = 0; i < n; i++) {
		out[1 + 2 * i] = digits[p[i] >> 4];
		out[2 + 2 * i] = digits[p[i] & 15];
	}
	out[1 + 2 * n] = '"';
	return strbuf_append(b, out, 2 * n + 2);
}

/* ,{"key":"k","value":{"stringValue":"v"}} unless v is NULL or "". *first
 * says whether a comma is due. */
static int attr_str(struct strbuf *b, bool *first, const char *key, const char *v)
{
	int err;

	if (!v || !*v)
		return 0;
	err = strbuf_printf(b, "%s{\"key\":\"%s\",\"value\":{\"stringValue\":", *first ? "" : ",",
			    key);
	*first = false;
	if (!err)
		err = otlp_json_string(b, v);
	return err ? err : strbuf_puts(b, "}}");
}

static int attr_int(struct strbuf *b, bool *first, const char *key, uint64_t v)
{
	int err = strbuf_printf(b, "%s{\"key\":\"%s\",\"value\":{\"intValue\":\"%llu\"}}",
				*first ? "" : ",", key, (unsigned long long)v);

	*first = false;
	return err;
}

static int resource(struct strbuf *b, const struct otlp_resource *res)
{
	bool first = true;
	int err = strbuf_puts(b, "\"resource\":{\"attributes\":[");

	if (!err)
		err = attr_str(b, &first, "service.name", res && res->service_name ?
						       res->service_name : "sonde-agent");
	if (!err && res)
		err = attr_str(b, &first, "host.name", res->host_name);
	return err ? err : strbuf_puts(b, "]}");
}

static int scope(struct strbuf *b, const struct otlp_resource *res)
{
	int err = strbuf_puts(b, "\"scope\":{\"name\":\"" OTLP_SCOPE_NAME "\"");

	if (!err && res && res->scope_version) {
		err = strbuf_puts(b, ",\"version\":");
		if (!err)
			err = otlp_json_string(b, res->scope_version);
	}
	return err ? err : strbuf_puts(b, "}");
}

/* url.path of a request target: the path alone, whatever the caller gave
 * (route_path: no scheme, authority with its user:password, query nor
 * fragment), "/" when there is none; "" (not sent) for no target. */
static void url_path(const char *target, char *out, size_t size)
{
	size_t n = target ? strnlen(target, OTLP_STRING_BYTES_MAX) : 0;
	const char *p = route_path(target, n, &n);

	if (!target || !*target) {
		out[0] = 0;
		return;
	}
	if (!n) {
		p = "/";
		n = 1;
	}
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = 0;
}

static int span_json(struct strbuf *b, const struct otlp_span *s)
{
	const char *method = s->method && *s->method ? s->method : "_OTHER";
	const char *route = s->route && *s->route ? s->route : NULL;
	char name[HTTP_SPAN_NAME_BYTES], path[OTLP_STRING_BYTES_MAX + 1];
	bool first = true;
	int err;

	url_path(s->path, path, sizeof(path));

	/* semantic conventions: "{method} {http.route}", or the method alone */
	snprintf(name, sizeof(name), "%s%s%s", method, route ? " " : "", route ? route : "");
	err = strbuf_puts(b, "{\"traceId\":");
	if (!err)
		err = hex(b, s->trace_id, OTLP_TRACE_ID_BYTES);
	if (!err)
		err = strbuf_puts(b, ",\"spanId\":");
	if (!err)
		err = hex(b, s->span_id, OTLP_SPAN_ID_BYTES);
	if (!err)
		err = strbuf_puts(b, ",\"name\":");
	if (!err)
		err = otlp_json_string(b, name);
	if (!err)
		err = strbuf_printf(b,
				    ",\"kind\":%d,\"startTimeUnixNano\":\"%llu\","
				    "\"endTimeUnixNano\":\"%llu\",\"attributes\":[",
				    s->side == SERIES_SIDE_CLIENT ? OTLP_SPAN_KIND_CLIENT :
								    OTLP_SPAN_KIND_SERVER,
				    (unsigned long long)s->start_unix_ns,
				    (unsigned long long)s->end_unix_ns);
	if (!err)
		err = attr_str(b, &first, "http.request.method", method);
	if (!err && s->method_original && strcmp(s->method_original, method))
		err = attr_str(b, &first, "http.request.method_original", s->method_original);
	if (!err && s->status)
		err = attr_int(b, &first, "http.response.status_code", s->status);
	if (!err)
		err = attr_str(b, &first, "url.path", path);
	if (!err)
		err = attr_str(b, &first, "url.scheme", s->tls ? "https" : "http");
	if (!err && s->side == SERIES_SIDE_SERVER)
		err = attr_str(b, &first, "http.route", route);
	if (!err)
		err = attr_str(b, &first, "server.address", s->server_address);
	if (!err && s->server_port)
		err = attr_int(b, &first, "server.port", s->server_port);
	if (!err && s->pid)
		err = attr_int(b, &first, "process.pid", s->pid);
	if (!err)
		err = attr_str(b, &first, "process.executable.name", s->process_name);
	if (!err)
		err = attr_str(b, &first, "container.id", s->container_id);
	if (!err)
		err = strbuf_puts(b, "]");
	if (!err && series_is_error(s->side, s->status))
		err = strbuf_printf(b, ",\"status\":{\"code\":%d}", OTLP_STATUS_CODE_ERROR);
	return err ? err : strbuf_puts(b, "}");
}

int otlp_spans_json(struct strbuf *b, const struct otlp_resource *res,
		    const struct otlp_span *spans, size_t n)
{
	int err = strbuf_puts(b, "{\"resourceSpans\":[{");

	if (!err)
		err = resource(b, res);
	if (!err)
		err = strbuf_puts(b, ",\"scopeSpans\":[{");
	if (!err)
		err = scope(b, res);
	if (!err)
		err = strbuf_puts(b, ",\"spans\":[");
	for (size_t i = 0; i < n && !err; i++) {
		if (i)
			err = strbuf_append(b, ",", 1);
		if (!err)
			err = span_json(b, &spans[i]);
	}
	return err ? err : strbuf_puts(b, "]}]}]}");
}

struct points_ctx {
	struct strbuf *b;
	enum series_side side;
	uint64_t start_ns, now_ns;
	bool first;
};

static int point_json(const struct series *s, void *ctx)
{
	struct points_ctx *c = ctx;
	struct strbuf *b = c->b;
	const double *bounds = series_bucket_bounds();
	uint64_t count = 0;
	bool first = true;
	int err;

	if (s->key.side != c->side)
		return 0;
	for (int i = 0; i <= SERIES_BUCKETS; i++)
		count += s->buckets[i];
	err = strbuf_puts(b, c->first ? "{\"attributes\":[" : ",{\"attributes\":[");
	c->first = false;
	if (!err)
		err = attr_str(b, &first, "http.request.method", s->key.method);
	if (!err && s->key.status)
		err = attr_int(b, &first, "http.response.status_code", s->key.status);
	if (!err)
		err = attr_str(b, &first, "http.route", s->key.route);
	if (!err)
		err = attr_str(b, &first, "process.executable.name", s->key.process);
	if (!err)
		err = attr_str(b, &first, "container.id", s->key.container);
	if (!err)
		err = strbuf_printf(b,
				    "],\"startTimeUnixNano\":\"%llu\",\"timeUnixNano\":\"%llu\","
				    "\"count\":\"%llu\",\"sum\":%.17g,\"bucketCounts\":[",
				    (unsigned long long)c->start_ns, (unsigned long long)c->now_ns,
				    (unsigned long long)count, isfinite(s->sum_s) ? s->sum_s : 0.0);
	for (int i = 0; i <= SERIES_BUCKETS && !err; i++)
		err = strbuf_printf(b, "%s\"%llu\"", i ? "," : "",
				    (unsigned long long)s->buckets[i]);
	if (!err)
		err = strbuf_puts(b, "],\"explicitBounds\":[");
	for (int i = 0; i < SERIES_BUCKETS && !err; i++)
		err = strbuf_printf(b, "%s%g", i ? "," : "", bounds[i]);
	return err ? err : strbuf_puts(b, "]}");
}

int otlp_metrics_json(struct strbuf *b, const struct otlp_resource *res,
		      const struct series_table *t, uint64_t start_unix_ns, uint64_t now_unix_ns)
{
	static const char *const names[SERIES_SIDE_COUNT] = {
		[SERIES_SIDE_SERVER] = "http.server.request.duration",
		[SERIES_SIDE_CLIENT] = "http.client.request.duration",
	};
	int err = strbuf_puts(b, "{\"resourceMetrics\":[{");

	if (!err)
		err = resource(b, res);
	if (!err)
		err = strbuf_puts(b, ",\"scopeMetrics\":[{");
	if (!err)
		err = scope(b, res);
	if (!err)
		err = strbuf_puts(b, ",\"metrics\":[");
	for (int s = 0; s < SERIES_SIDE_COUNT && !err; s++) {
		struct points_ctx c = { .b = b, .side = (enum series_side)s,
					.start_ns = start_unix_ns, .now_ns = now_unix_ns,
					.first = true };

		err = strbuf_printf(b,
				    "%s{\"name\":\"%s\",\"unit\":\"s\",\"histogram\":{"
				    "\"aggregationTemporality\":%d,\"dataPoints\":[",
				    s ? "," : "", names[s], OTLP_TEMPORALITY_CUMULATIVE);
		if (!err)
			err = series_table_each(t, point_json, &c);
		if (!err)
			err = strbuf_puts(b, "]}}");
	}
	return err ? err : strbuf_puts(b, "]}]}]}");
}
