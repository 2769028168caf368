/* OTLP/HTTP JSON bodies (opentelemetry-proto, JSON encoding) for the
 * agent's push: one span per HTTP request (server side SPAN_KIND_SERVER,
 * client side SPAN_KIND_CLIENT, with OpenTelemetry's HTTP attributes), and
 * the RED histograms of a series table as cumulative OTLP histograms.
 * Strings are JSON-escaped (invalid UTF-8 becomes U+FFFD); 64-bit integers
 * are decimal strings, as the OTLP JSON mapping asks. */
#ifndef SONDE_AGENT_OTLP_H
#define SONDE_AGENT_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/series.h"
#include "agent/strbuf.h"

#define OTLP_TRACE_ID_BYTES 16
#define OTLP_SPAN_ID_BYTES 8
#define OTLP_SPAN_KIND_SERVER 2
#define OTLP_SPAN_KIND_CLIENT 3
#define OTLP_STATUS_CODE_ERROR 2
#define OTLP_TEMPORALITY_CUMULATIVE 2
#define OTLP_SCOPE_NAME "sonde"
#define OTLP_CONTENT_TYPE "application/json"

/* What the spans and metrics come from: the agent on this host. */
struct otlp_resource {
	const char *service_name;  /* service.name, e.g. "sonde-agent" */
	const char *host_name;     /* host.name; NULL: not sent */
	const char *scope_version; /* the scope's version; NULL: not sent */
};

/* One HTTP request as a span. Strings may hold any bytes (NUL-terminated);
 * NULL or "" optional ones are not sent. */
struct otlp_span {
	uint8_t trace_id[OTLP_TRACE_ID_BYTES];
	uint8_t span_id[OTLP_SPAN_ID_BYTES];
	enum series_side side;
	uint64_t start_unix_ns;
	uint64_t end_unix_ns;
	const char *method;        /* http.request.method (normalised, "_OTHER") */
	const char *method_original; /* http.request.method_original when it differs */
	uint16_t status;           /* http.response.status_code; 0: no response */
	const char *path;          /* the request target; url.path is its path
				    * alone (route_path: no scheme, authority,
				    * query nor fragment) */
	const char *route;         /* http.route; the span name is "METHOD route" */
	const char *server_address; /* server.address: local on the server side,
				     * the peer on the client side */
	uint16_t server_port;      /* server.port; 0: not sent */
	uint32_t pid;              /* process.pid */
	const char *process_name;  /* process.executable.name */
	const char *container_id;  /* container.id */
	bool tls;                  /* url.scheme https instead of http */
};

/* Append a JSON string (quotes included) of s, escaped. 0 or -ENOSPC. */
int otlp_json_string(struct strbuf *b, const char *s);
/* An ExportTraceServiceRequest with spans[0..n) in one ResourceSpans. */
int otlp_spans_json(struct strbuf *b, const struct otlp_resource *res,
		    const struct otlp_span *spans, size_t n);
/* An ExportMetricsServiceRequest: http.server.request.duration and
 * http.client.request.duration (unit s, cumulative since start_unix_ns), one
 * data point per series of t, at now_unix_ns. */
int otlp_metrics_json(struct strbuf *b, const struct otlp_resource *res,
		      const struct series_table *t, uint64_t start_unix_ns, uint64_t now_unix_ns);

#endif
