/* From raw HTTP tracer records to request records: a bounded connection
 * table (conn_id -> per-connection HTTP/1.x engine and its identity), fed in
 * ring-buffer order, emitting one http_record per exchange. Pure userspace
 * logic: the kernel tests feed it live records, the unit tests and the fuzz
 * target feed it bytes.
 *
 * Memory is bounded and, once warm, never allocated per record: connection
 * objects (336 B: identity and engine) come from a slab of at most
 * max_conns, the table has two 16 B entries per connection, and what a
 * connection needs only now and then (a 512 B line buffer while a head line
 * is split across segments, a 352 B slot per exchange in flight) comes from
 * one pool shared by all of them, bounded too. With the default bounds that
 * is at most ~1.1 KiB per connection, 871 B with a request in flight on each
 * and a quarter of them mid-line. */
#ifndef SONDE_PIPELINE_HTTP_PIPELINE_H
#define SONDE_PIPELINE_HTTP_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "protocol/http1.h"

#define HTTP_MAX_CONNS_DEFAULT 16384
/* Pool bounds when the options leave them 0: every connection can have one
 * exchange in flight and half of them a second one (pipelining, or a request
 * read while the previous response is still due); a head line split across
 * segments is rare (heads come in one write), so half the connections at
 * once. Never below what one connection can use at once, so a small table
 * still pipelines fully. */
#define HTTP_SLOTS_PER_CONN_X2 3u
#define HTTP_LINES_PER_CONN_X2 1u
#define HTTP_SLOTS_MIN (2u * (HTTP1_PIPELINE_MAX + 1u))
#define HTTP_LINES_MIN (2u * HTTP1_DIR_COUNT)

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
	/* Table full: true evicts the least recently active connection (its
	 * unfinished exchanges emitted incomplete, counted in conns_evicted);
	 * false refuses the new one (conn_table_full). */
	bool evict_oldest;
	/* Time from each record's kernel event to its emission, into a
	 * histogram (delivery_* in the stats). For live tracing only: replayed
	 * events carry old timestamps. */
	bool measure_delivery;
	/* Clock for measure_delivery, in the kernel's time base; NULL:
	 * CLOCK_MONOTONIC (tests set their own). */
	uint64_t (*clock_ns)(void);
	/* A traced process uses io_uring (HTTP_EV_IO_URING, once per process
	 * and exec): its pid and comm, with the record function's ctx. The
	 * socket I/O it submits there is not seen. NULL: only counted
	 * (io_uring_processes). */
	void (*io_uring_fn)(uint32_t pid, const char *comm, void *ctx);
	uint32_t max_line_bufs;  /* 0: derived from max_conns (see above) */
	uint32_t max_exchanges;  /* exchange slots; 0: derived from max_conns */
};

/* What happened to the records of the kernel, beyond the ring buffer. */
struct http_pipeline_stats {
	uint64_t conns_opened;
	uint64_t conns_closed;
	uint64_t conns_gone;       /* ended by their process's exit (swept) */
	uint64_t conns_live;
	uint64_t conn_table_full;  /* connections not tracked: table full (and
				    * not evict_oldest) or no memory */
	uint64_t conns_evicted;    /* ... tracked, then evicted for a new one; their
				    * later records count in events_no_conn */
	uint64_t events_no_conn;   /* data/close of a connection never opened here */
	uint64_t records;          /* http records emitted */
	uint64_t records_filtered; /* exchanges not shown: --side/--comm */
	uint64_t io_uring_processes; /* seen using io_uring: their I/O there is
				      * not seen (HTTP_EV_IO_URING) */
	uint64_t memory_bytes;     /* held by the pipeline (http_pipeline_memory_bytes) */
	uint64_t allocs;           /* allocations since http_pipeline_new: grows
				    * only while the slabs warm up */
	uint64_t line_bufs_used;   /* pool blocks lent now */
	uint64_t exchanges_used;
	uint64_t delivery_count;   /* records timed (measure_delivery) */
	uint64_t delivery_p50_us;  /* kernel event -> record emitted, percentiles */
	uint64_t delivery_p99_us;
	struct http1_stats http;   /* the engines' counters, summed */
};

struct http_pipeline;

int http_pipeline_new(struct http_pipeline **out, const struct http_pipeline_opts *opts,
		      http_record_fn fn, void *ctx);
/* One raw record of bpf/http.bpf.c. 0, or -EINVAL if it is malformed. */
int http_pipeline_event(struct http_pipeline *p, const void *data, size_t size);
/* Hints for a caller that sees records before their turn (a replay, a
 * batch): a table of thousands of connections is out of cache, and a record
 * whose connection is fetched only at its turn waits on memory. For the
 * record HTTP_PREFETCH_AHEAD * s records ahead of the next one given to
 * http_pipeline_event, call http_pipeline_prefetch with stage s, 3 down to
 * 1: 3 fetches its table slot, 2 its connection, 1 what its connection
 * points to. They change nothing, and a wrong or unknown id costs only the
 * fetch. Whether they are worth their cost changes slowly: ask
 * http_pipeline_prefetch_worth now and then (every few hundred records),
 * not per record. */
#define HTTP_PREFETCH_AHEAD 4u
#define HTTP_PREFETCH_STAGES 3u
bool http_pipeline_prefetch_worth(const struct http_pipeline *p);
void http_pipeline_prefetch(const struct http_pipeline *p, uint64_t conn_id, unsigned stage);
/* The connection ended without a close record (its process exited). */
void http_pipeline_conn_gone(struct http_pipeline *p, uint64_t conn_id);
/* Close every connection still open (their unfinished exchanges are emitted
 * as incomplete). */
void http_pipeline_finish(struct http_pipeline *p);
/* Percentiles cost O(histogram), ~27k counters: call it for a report, not
 * per record. */
void http_pipeline_stats(const struct http_pipeline *p, struct http_pipeline_stats *out);
/* Bytes the pipeline holds: the pipeline, its table, the connection slab,
 * the pool and the delivery histogram. Bounded by max_conns and the pool
 * bounds; what was never touched is not resident. O(1). */
size_t http_pipeline_memory_bytes(const struct http_pipeline *p);
void http_pipeline_free(struct http_pipeline *p);

#endif
