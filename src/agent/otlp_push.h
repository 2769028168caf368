/* OTLP/HTTP push of the agent's spans (and, every so often, its metrics)
 * with libcurl, from one worker thread: the tracing thread only copies a
 * span into a bounded queue (a full queue drops the new span and counts
 * it), the worker sends batches, retries with exponential backoff, and
 * counts what it finally could not deliver. An unreachable collector costs
 * the worker's time, never the tracer's. */
#ifndef SONDE_AGENT_OTLP_PUSH_H
#define SONDE_AGENT_OTLP_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/otlp.h"
#include "agent/strbuf.h"

struct otlp_push_opts {
	const char *endpoint;      /* base URL: /v1/traces and /v1/metrics are appended */
	struct otlp_resource resource;
	uint32_t batch_spans;      /* spans per request, at most */
	uint32_t queue_spans;      /* spans waiting, at most */
	uint32_t flush_interval_ms; /* a partial batch waits at most this long */
	uint32_t timeout_ms;       /* per HTTP request */
	uint32_t retry_max;        /* retries after the first attempt */
	uint32_t backoff_ms;       /* first retry delay, doubled each time */
	uint32_t metrics_interval_s; /* 0: no metrics push */
	/* Render the metrics body (otlp_metrics_json); called by the worker,
	 * so it must take its own locks. */
	int (*render_metrics)(void *ctx, struct strbuf *b);
	void *ctx;
};

struct otlp_push_stats {
	uint64_t queued;           /* spans accepted into the queue */
	uint64_t sent;             /* spans the collector accepted (2xx) */
	uint64_t dropped_queue_full;
	uint64_t dropped_export;   /* spans of batches that failed every retry */
	uint64_t exports_failed;   /* requests that failed (each attempt) */
	uint64_t retries;
	uint64_t metrics_sent;     /* metrics requests accepted */
	uint32_t queue_len;
};

struct otlp_push;

/* Start the worker. 0 or a negative errno (err says why, one line). */
int otlp_push_start(struct otlp_push **out, const struct otlp_push_opts *opts, char *err,
		    size_t err_size);
/* Queue one span (its strings are copied, truncated to their field sizes).
 * Never blocks on the network. 0, or -ENOSPC when the queue was full (the
 * span is dropped and counted). */
int otlp_push_span(struct otlp_push *p, const struct otlp_span *s);
void otlp_push_stats(struct otlp_push *p, struct otlp_push_stats *out);
/* Send what is queued (with retries, bounded by timeout_ms and the backoff),
 * then stop the worker and free. */
void otlp_push_stop(struct otlp_push *p);

#endif
