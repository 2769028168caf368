/* From raw HTTP tracer records to request records: a bounded connection
 * table (conn_id -> per-connection HTTP/1.x engine and its identity), fed in
 * ring-buffer order, emitting one http_record per exchange. Pure userspace
 * logic: the kernel tests feed it live records, the unit tests and the fuzz
 * target feed it bytes. */
#ifndef SONDE_PIPELINE_HTTP_PIPELINE_H
#define SONDE_PIPELINE_HTTP_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "protocol/http1.h"

#define HTTP_MAX_CONNS_DEFAULT 16384

enum http_side {
	HTTP_SIDE_UNKNOWN = 0,
	HTTP_SIDE_SERVER = 1,
	HTTP_SIDE_CLIENT = 2,
};

/* One request and its response, with the identity of the connection. */
struct http_record {
	uint64_t ts_ns;          /* first byte of the request */
	uint32_t pid;
	char comm[HTTP_COMM_LEN + 1];
	enum http_side side;
	bool tls;
	const struct http1_exchange *ex; /* method, path, status, bytes, times */
	uint64_t latency_ns;     /* 0 if the response was not seen */
	uint64_t ttfb_ns;        /* first response byte - first request byte */
	uint16_t family;         /* AF_INET or AF_INET6 */
	uint16_t lport, rport;
	uint8_t laddr[16], raddr[16];
};

typedef void (*http_record_fn)(const struct http_record *r, void *ctx);

struct http_pipeline_opts {
	uint32_t max_conns;      /* 0: HTTP_MAX_CONNS_DEFAULT */
	bool show_query;         /* false: query values redacted before storage */
	enum http_side side;     /* HTTP_SIDE_UNKNOWN: both sides */
	const char *comm;        /* NULL: every process */
};

/* What happened to the records of the kernel, beyond the ring buffer. */
struct http_pipeline_stats {
	uint64_t conns_opened;
	uint64_t conns_closed;
	uint64_t conns_gone;       /* ended by their process's exit (swept) */
	uint64_t conns_live;
	uint64_t conn_table_full;  /* connections not tracked: --max-conns reached */
	uint64_t events_no_conn;   /* data/close of a connection never opened here */
	uint64_t records;          /* http records emitted */
	uint64_t records_filtered; /* exchanges not shown: --side/--comm */
	struct http1_stats http;   /* the engines' counters, summed */
};

struct http_pipeline;

int http_pipeline_new(struct http_pipeline **out, const struct http_pipeline_opts *opts,
		      http_record_fn fn, void *ctx);
/* One raw record of bpf/http.bpf.c. 0, or -EINVAL if it is malformed. */
int http_pipeline_event(struct http_pipeline *p, const void *data, size_t size);
/* The connection ended without a close record (its process exited). */
void http_pipeline_conn_gone(struct http_pipeline *p, uint64_t conn_id);
/* Close every connection still open (their unfinished exchanges are emitted
 * as incomplete). */
void http_pipeline_finish(struct http_pipeline *p);
void http_pipeline_stats(const struct http_pipeline *p, struct http_pipeline_stats *out);
void http_pipeline_free(struct http_pipeline *p);

#endif
