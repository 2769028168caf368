/* HTTP/1.x reconstruction for `sonde http`: a zero-copy head parser and a
 * per-connection engine that turns captured socket segments (possibly
 * truncated: only the first `cap` of `len` bytes, plus a short tail) into
 * request/response exchanges with byte counts and timestamps. Pure logic, no
 * kernel. An engine is small (struct http1_engine, 232 B); the big parts of
 * a connection (a line being reassembled, an exchange in flight) are lent by
 * a bounded struct http1_pool only while needed, so 10,000 idle keep-alive
 * connections cost a few MiB. The engine never allocates: the pool grows in
 * chunks up to its bound, and once warm lends and takes back in O(1). */
#ifndef SONDE_PROTOCOL_HTTP1_H
#define SONDE_PROTOCOL_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest head (request/status line + headers + blank line) accepted. A
 * bigger one is an error, counted, never buffered: the engine only ever keeps
 * one line of it. */
#define HTTP1_HEAD_BYTES_MAX   (16u * 1024u)
/* Longest head line the engine reassembles across segments, per direction.
 * Longer lines are parsed as a prefix (request target truncated) or skipped
 * (headers sonde does not need). */
#define HTTP1_LINE_BYTES_MAX   512u
/* Method and request-target bytes kept per exchange (longer: truncated and
 * flagged HTTP1_EXCH_PATH_TRUNCATED). */
#define HTTP1_METHOD_BYTES_MAX 16u
#define HTTP1_PATH_BYTES_MAX   256u
/* Requests waiting for their response on one connection (pipelining and
 * 100-continue). More are counted in pipeline_overflow and their responses
 * emitted with HTTP1_EXCH_OVERFLOW, so pairing never shifts. */
#define HTTP1_PIPELINE_MAX     32u
/* Largest tail (last bytes of a truncated segment) the kernel side sends. */
#define HTTP1_TAIL_BYTES_MAX   16u

/* Return codes of the head parser, picohttpparser style. */
#define HTTP1_PARSE_ERROR   (-1)
#define HTTP1_PARSE_PARTIAL (-2)

/* Framing facts a head carries (struct http1_head.flags). */
enum http1_head_flag {
	HTTP1_HEAD_CONTENT_LENGTH  = 1u << 0, /* content_length is valid */
	HTTP1_HEAD_CHUNKED         = 1u << 1, /* last transfer-coding is chunked */
	HTTP1_HEAD_TE_OTHER        = 1u << 2, /* Transfer-Encoding without final chunked */
	HTTP1_HEAD_CONN_CLOSE      = 1u << 3, /* Connection: close */
	HTTP1_HEAD_CONN_KEEP_ALIVE = 1u << 4, /* Connection: keep-alive */
	HTTP1_HEAD_CONN_UPGRADE    = 1u << 5, /* Connection: upgrade */
	HTTP1_HEAD_EXPECT_CONTINUE = 1u << 6, /* Expect: 100-continue */
	HTTP1_HEAD_TOO_LARGE       = 1u << 7, /* error was: head over HTTP1_HEAD_BYTES_MAX */
};

/* A parsed head. Pointers point into the caller's buffer (zero-copy) and are
 * valid as long as it is. Only framing headers are interpreted; no header
 * value is kept. */
struct http1_head {
	const char *method;   /* request only */
	size_t method_len;
	const char *target;   /* request only: request-target as sent */
	size_t target_len;
	const char *reason;   /* response only */
	size_t reason_len;
	int status;           /* response only: 100..999 */
	int minor_version;    /* HTTP/1.<minor_version> */
	uint64_t content_length;
	uint32_t flags;       /* enum http1_head_flag */
	uint32_t num_headers;
};

/* Parse a request head in buf[0..len). Returns the head's length in bytes
 * (blank line included) once complete, HTTP1_PARSE_PARTIAL (-2) if more bytes
 * are needed, HTTP1_PARSE_ERROR (-1) on a syntax error or a head larger than
 * HTTP1_HEAD_BYTES_MAX (HTTP1_HEAD_TOO_LARGE set in h->flags). last_len is the
 * buf length of the previous call on the same growing buffer (0 the first
 * time): like picohttpparser it lets an incomplete head cost O(new bytes),
 * at the price of not re-validating bytes already seen. */
int http1_parse_request(const char *buf, size_t len, size_t last_len,
			struct http1_head *h);
/* Same for a response head (status line + headers). */
int http1_parse_response(const char *buf, size_t len, size_t last_len,
			 struct http1_head *h);

/* Keep the path and query keys of a request target, replace every query
 * value, any fragment, and the user:password of an absolute-form target:
 *   /a/b?token=s3cr3t&x=1#f  ->  /a/b?token=REDACTED&x=REDACTED#REDACTED
 *   http://u:pw@h/a          ->  http://REDACTED@h/a
 * A value that is present but empty ("a=") is redacted too, so the output
 * never tells an empty secret from a set one; a key without '=' ("?debug")
 * is kept as is. out is always NUL-terminated. Returns the output length, or
 * -ENOSPC if out was too small (out holds a truncated prefix that still never
 * contains a value byte), -EINVAL on bad arguments. O(len). */
int http1_redact_target(const char *in, size_t len, char *out, size_t out_size);

enum http1_dir {
	HTTP1_DIR_INGRESS = 0, /* bytes the process read */
	HTTP1_DIR_EGRESS  = 1, /* bytes the process wrote */
};
#define HTTP1_DIR_COUNT 2

enum http1_role {
	HTTP1_ROLE_UNKNOWN = 0, /* inferred from the first bytes of either way */
	HTTP1_ROLE_SERVER,      /* ingress carries requests, egress responses */
	HTTP1_ROLE_CLIENT,      /* egress carries requests, ingress responses */
};

/* Options for http1_conn_init. */
enum http1_conn_opt {
	/* Tracing started on an established connection: the first bytes may be
	 * mid-message, so wait for a message start instead of declaring the
	 * connection not-HTTP. */
	HTTP1_CONN_MIDSTREAM    = 1u << 0,
	/* Run http1_redact_target on every target before it is stored: query
	 * values are never kept in memory. */
	HTTP1_CONN_REDACT_QUERY = 1u << 1,
	/* Segments come from TLS library hooks; exchanges get HTTP1_EXCH_TLS. */
	HTTP1_CONN_TLS          = 1u << 2,
};

/* struct http1_exchange.flags */
enum http1_exch_flag {
	HTTP1_EXCH_INCOMPLETE     = 1u << 0, /* connection closed before it ended */
	HTTP1_EXCH_PATH_TRUNCATED = 1u << 1, /* target longer than HTTP1_PATH_BYTES_MAX */
	HTTP1_EXCH_PIPELINED      = 1u << 2, /* sent before the previous response ended */
	HTTP1_EXCH_CHUNKED        = 1u << 3, /* response body was chunked */
	HTTP1_EXCH_TLS            = 1u << 4, /* reserved: set from HTTP1_CONN_TLS */
	HTTP1_EXCH_INTERIM        = 1u << 5, /* 1xx interim response(s) came first */
	HTTP1_EXCH_NO_REQUEST     = 1u << 6, /* response whose request was not seen */
	HTTP1_EXCH_OVERFLOW       = 1u << 7, /* request not kept: pipeline queue
					      * full, or no pool slot for it */
	HTTP1_EXCH_HEAD_LOST      = 1u << 8, /* part of a head was not captured:
					      * framing headers may have been missed */
	HTTP1_EXCH_ESTIMATED      = 1u << 9, /* response end inferred (chunk framing
					      * lost, ended by the next message) */
	HTTP1_EXCH_ERROR          = 1u << 10, /* a head was malformed or too large;
					       * byte counts and end time unreliable */
	HTTP1_EXCH_UPGRADED       = 1u << 11, /* 101 or CONNECT 2xx: the connection
					       * is no longer HTTP afterwards */
	HTTP1_EXCH_CONN_CLOSE     = 1u << 12, /* response said Connection: close */
};

/* One request and its response. Strings are copies (the segments they came
 * from are transient) in fixed storage, NUL-terminated; a timestamp of 0
 * means that side was never seen. Server-side latency is
 * resp_last_ts - req_first_ts; time to first byte resp_first_ts -
 * req_first_ts. resp_first_ts is the first byte of the final (non-1xx)
 * response; resp_bytes include interim responses. */
struct http1_exchange {
	uint64_t req_first_ts;  /* ns, segment with the request's first byte */
	uint64_t req_last_ts;   /* ns, segment with the request's last byte */
	uint64_t resp_first_ts; /* ns, segment with the final response's first byte */
	uint64_t resp_last_ts;  /* ns, segment with the response's last byte */
	uint64_t req_bytes;     /* head + body bytes of the request */
	uint64_t resp_bytes;    /* head + body bytes of the response(s) */
	uint32_t flags;         /* enum http1_exch_flag */
	uint16_t status;        /* 0 if no final response was seen */
	uint16_t path_len;
	uint8_t method_len;
	char method[HTTP1_METHOD_BYTES_MAX + 1];
	char path[HTTP1_PATH_BYTES_MAX + 1];
};

/* Counters, per connection and summed into an optional global. Every byte or
 * message the engine could not account for exactly lands in one of them. */
struct http1_stats {
	uint64_t exchanges;          /* exchanges emitted (incomplete included) */
	uint64_t incomplete;         /* ... of which HTTP1_EXCH_INCOMPLETE */
	uint64_t parse_errors;       /* malformed heads (head_too_large not included) */
	uint64_t head_too_large;     /* heads over HTTP1_HEAD_BYTES_MAX */
	uint64_t pipeline_overflow;  /* requests not queued: HTTP1_PIPELINE_MAX reached */
	uint64_t resp_unmatched;     /* responses with no request to pair with */
	uint64_t bytes_uncaptured;   /* sum of len - cap: bytes only counted, never seen */
	uint64_t bytes_desync;       /* bytes skipped while framing was lost */
	uint64_t resyncs;            /* framing regained at a message start */
	uint64_t chunk_tail_ends;    /* chunked ends found only in a segment tail */
	uint64_t conns_not_http;     /* connections ignored as not HTTP/1.x */
	uint64_t conns_upgraded;     /* connections that left HTTP (101, CONNECT) */
	uint64_t pool_exhausted;     /* a line buffer or exchange slot was refused by
				      * the pool: that head lost (HTTP1_EXCH_HEAD_LOST),
				      * that request not kept (HTTP1_EXCH_OVERFLOW) or
				      * that unmatched response not reported */
};

/* Called for each completed exchange, in request order. ex is valid only
 * during the call. */
typedef void (*http1_exchange_fn)(void *ctx, const struct http1_exchange *ex);

/* A free list of equal-sized blocks with a bound: blocks come from chunks
 * allocated on demand (http1_slab_init) or from one region the caller owns
 * (http1_slab_init_fixed). Lending and taking back are O(1); a chunk is
 * allocated only when no block is free and the bound is not reached, so once
 * warm a slab never allocates. Never-lent blocks are not touched, so they
 * cost no resident memory. Not thread-safe. */
struct http1_slab {
	void *free;            /* blocks given back, linked through their first bytes */
	char *carve;           /* next never-lent block */
	uint32_t carve_left;   /* blocks left from carve on */
	uint32_t block_bytes;  /* block size, rounded up to 16 */
	uint32_t chunk_blocks; /* blocks per chunk; 0: fixed region, never grows */
	uint32_t held;         /* blocks in the chunks (or the region) */
	uint32_t max;          /* bound on held */
	uint32_t out;          /* blocks lent now */
	void *chunks;          /* allocated chunks, linked; freed by http1_slab_destroy */
	size_t bytes;          /* bytes allocated for chunks */
	uint64_t allocs;       /* chunk allocations so far */
};

/* Blocks of block_bytes, at most max of them, allocated chunk_blocks at a
 * time (nothing is allocated here). 0 or -EINVAL. */
int http1_slab_init(struct http1_slab *s, size_t block_bytes, uint32_t max,
		    uint32_t chunk_blocks);
/* n blocks of block_bytes carved from mem (aligned for a pointer; the
 * caller keeps it alive and frees it). */
void http1_slab_init_fixed(struct http1_slab *s, void *mem, size_t block_bytes, uint32_t n);
/* A block (content undefined), or NULL at the bound or if a chunk
 * allocation failed. */
void *http1_slab_get(struct http1_slab *s);
void http1_slab_put(struct http1_slab *s, void *block);
/* Free every chunk; blocks still lent become invalid. */
void http1_slab_destroy(struct http1_slab *s);

/* What engines borrow: line buffers of HTTP1_LINE_BYTES_MAX (a head line
 * split across segments) and exchange slots (struct http1_pending: one per
 * request in flight). One pool serves every connection of a pipeline. */
struct http1_pool {
	struct http1_slab lines;
	struct http1_slab slots;
};

/* Blocks per chunk of a growing pool: 32 KiB of line buffers at a time. */
#define HTTP1_POOL_CHUNK_BLOCKS 64u

/* A pool that grows up to lines_max line buffers and slots_max exchange
 * slots. 0 or -EINVAL. */
int http1_pool_init(struct http1_pool *p, uint32_t lines_max, uint32_t slots_max);
void http1_pool_destroy(struct http1_pool *p);
/* Bytes the pool has allocated. */
size_t http1_pool_bytes(const struct http1_pool *p);

/* Framing state of one direction. Internal: fields may change. */
struct http1_dir_state {
	uint64_t body_remaining;  /* Content-Length or chunk bytes still due */
	uint64_t head_first_ts;   /* ts of the current head's first byte */
	uint64_t body_bytes;      /* body bytes of the current message so far */
	uint64_t content_length;  /* framing facts of the current head: ... */
	uint32_t head_flags;      /* ... enum http1_head_flag */
	uint16_t status;          /* ... response status */
	uint16_t line_len;        /* bytes buffered in line */
	char *line;               /* pool line buffer, held only while line_len > 0 */
	uint32_t head_bytes;      /* bytes of the current head so far */
	uint8_t state;            /* internal enum */
	uint8_t kind;             /* requests, responses or not yet known */
	uint8_t chunk_state;      /* internal enum */
	uint8_t chunk_digits;     /* hex digits of the current chunk size */
	uint8_t match;            /* progress of a terminator search */
	uint8_t got_start_line;   /* request/status line of this head parsed */
	uint8_t sniffed;          /* the current message's start was checked */
	uint8_t head_lost;        /* part of the current head was not captured */
	uint8_t estimated;        /* framing of the current body is a guess */
	uint8_t head_queued;      /* request head cut by a gap: queued already */
};

/* An exchange in flight: a pool slot, from its request line until it is
 * emitted. */
struct http1_pending {
	struct http1_pending *next; /* queue order (first bytes: the pool's link) */
	struct http1_exchange ex;
	uint8_t req_done;
	uint8_t resp_done;
	uint8_t method_head;    /* HEAD: response has no body */
	uint8_t method_connect; /* CONNECT: 2xx makes a tunnel */
};

/* The reconstruction state of one connection: 232 B on x86-64. An idle
 * keep-alive connection holds nothing else; each exchange in flight holds a
 * pool slot (352 B), each direction in the middle of a split head line a
 * line buffer (512 B). The caller owns it (so a connection table can pool
 * them); no allocation ever happens inside. */
struct http1_engine {
	/* what every segment reads first: the state and the queue, ahead of
	 * the direction states, so that a segment touches this and its one
	 * direction (a connection table of thousands is out of cache) */
	uint8_t state;         /* internal: active, ignored, closed */
	uint8_t role;          /* enum http1_role */
	uint8_t opts;          /* enum http1_conn_opt */
	uint8_t q_count;       /* pending exchanges */
	uint8_t q_resp;        /* leading pending exchanges whose response is done */
	uint8_t req_queued;    /* the newest pending one is the request in flight */
	uint8_t req_cut;       /* the request being read got no slot: not kept */
	uint8_t resp_active;   /* a final response body is being framed */
	uint8_t resp_untracked; /* ... with no slot: framed, not reported */
	struct http1_pool *pool;
	struct http1_pending *q_first; /* exchanges in flight, FIFO */
	struct http1_pending *q_last;
	struct http1_pending *req_cur; /* request whose head is being read */
	struct http1_stats *stats;     /* this connection's counters, may be NULL */
	struct http1_stats *global;    /* summed over connections, may be NULL */
	http1_exchange_fn on_exchange;
	void *ctx;
	uint64_t last_ts[HTTP1_DIR_COUNT]; /* ts of the last segment per direction */
	uint32_t overflowed;   /* requests not queued whose responses are due */
	uint32_t msgs;         /* heads parsed so far */
	struct http1_dir_state dir[HTTP1_DIR_COUNT];
};

/* Prepare e to borrow from pool (any prior content is discarded: close an
 * engine before reusing it, or its blocks stay lent). stats and global may
 * be NULL; global is summed across connections (not thread-safe: one per
 * pipeline thread). 0 or -EINVAL. */
int http1_engine_init(struct http1_engine *e, struct http1_pool *pool, enum http1_role role,
		      uint32_t opts, http1_exchange_fn on_exchange, void *ctx,
		      struct http1_stats *stats, struct http1_stats *global);

/* Feed one segment, in capture order: len is the real byte count of the
 * syscall, data[0..cap) its first captured bytes (cap <= len; cap == 0 for
 * sendfile), tail[0..tail_len) its last bytes when len > cap (may be NULL).
 * Returns the number of exchanges emitted by this call, or -EINVAL on bad
 * arguments, -EPIPE after http1_engine_close. Cost: O(cap + tail_len), O(1)
 * once the connection is ignored; no allocation. */
int http1_engine_feed(struct http1_engine *e, enum http1_dir dir, uint64_t ts_ns,
		      const uint8_t *data, uint32_t cap, uint32_t len,
		      const uint8_t *tail, uint32_t tail_len);

/* The connection closed: finish a response delimited by the close, emit every
 * pending exchange (unfinished ones flagged HTTP1_EXCH_INCOMPLETE) and give
 * every block back to the pool. Returns the number of exchanges emitted, or
 * -EPIPE if already closed. */
int http1_engine_close(struct http1_engine *e);

/* A hint for a caller that knows this engine will be fed soon (its own
 * cache lines fetched already): fetch the exchange slots the next segment
 * is likely to touch, those of the queue's ends and the pool's next free
 * one. Changes nothing. */
void http1_engine_prefetch(const struct http1_engine *e);

/* True once the connection is ignored (not HTTP, or upgraded). */
bool http1_engine_ignored(const struct http1_engine *e);
/* Role as given or inferred so far. */
enum http1_role http1_engine_role(const struct http1_engine *e);

/* A self-contained connection: an engine with its own counters and a
 * private pool big enough for everything it can hold at once (both line
 * buffers, HTTP1_PIPELINE_MAX queued exchanges and the request being read),
 * so it never runs short. 13 KiB; for one connection on its own (tests,
 * tools); a table of many uses engines and one shared pool. */
struct http1_conn {
	struct http1_engine engine;
	struct http1_stats stats;
	struct http1_pool pool;
	char lines[HTTP1_DIR_COUNT][HTTP1_LINE_BYTES_MAX];
	struct http1_pending slots[HTTP1_PIPELINE_MAX + 1];
};

/* http1_engine_* on a self-contained connection; c->stats counts it. */
int http1_conn_init(struct http1_conn *c, enum http1_role role, uint32_t opts,
		    http1_exchange_fn on_exchange, void *ctx,
		    struct http1_stats *global);
int http1_conn_feed(struct http1_conn *c, enum http1_dir dir, uint64_t ts_ns,
		    const uint8_t *data, uint32_t cap, uint32_t len,
		    const uint8_t *tail, uint32_t tail_len);
int http1_conn_close(struct http1_conn *c);
bool http1_conn_ignored(const struct http1_conn *c);
enum http1_role http1_conn_role(const struct http1_conn *c);

#endif
