/* The lab's HTTP/1.1 load generator, against a loopback host:port.
 *
 * Open loop (rate > 0): request i is due at start + i / rate, whatever
 * happened to the earlier ones. Its latency runs from that intended send time
 * to the last byte of its response, so a stall of the server (or of the
 * generator) shows up in every request it delayed: coordinated omission is
 * corrected. A due request waits for a free connection when all are busy (its
 * latency grows); it is never skipped. Requests are spread over the
 * connections; each connection carries one request at a time.
 *
 * Closed loop (rate == 0, "max"): every connection sends its next request as
 * soon as the previous response is in; latency runs from the send.
 *
 * One epoll loop per worker thread (1..LAB_LOAD_THREADS_MAX), connections
 * split between them. After the duration no new request is started; those in
 * flight (and, open loop, those already due) get a drain period to finish,
 * then are counted as timeouts (resp. unsent). Every request ends in exactly
 * one counter:
 *   scheduled = issued + unsent
 *   issued    = completed + err_connect + err_timeout + err_status + err_io */
#ifndef SONDE_LAB_LOADGEN_H
#define SONDE_LAB_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "lab/histogram.h"

#define LAB_LOAD_THREADS_MAX 2u
#define LAB_LOAD_CONNS_MAX 10000u
#define LAB_LOAD_RATE_MAX 10000000.0
#define LAB_LOAD_DURATION_MAX_S 86400.0
#define LAB_LOAD_PATH_BYTES_MAX 1024u
#define LAB_LOAD_PATHS_MAX 100000u
/* Defaults used when the option is 0. */
#define LAB_LOAD_TIMEOUT_MS_DEFAULT 5000u
#define LAB_LOAD_DRAIN_MS_DEFAULT 2000u

struct lab_load_opts {
	const char *host;    /* IPv4 or IPv6 literal; NULL: 127.0.0.1 */
	uint16_t port;
	const char *path;    /* request target; NULL: "/" */
	/* n_paths > 0: the requests take these targets in turn instead of
	 * path (each worker thread cycles through the list); at most
	 * LAB_LOAD_PATHS_MAX, each like path */
	const char *const *paths;
	uint32_t n_paths;
	uint32_t conns;      /* connections, >= threads */
	uint32_t threads;    /* worker threads, 1..LAB_LOAD_THREADS_MAX; 0: 1 */
	double rate;         /* requests per second (open loop); 0: closed loop */
	double duration_s;   /* how long requests are started for */
	bool new_conn_per_req; /* connect for every request (Connection: close) */
	uint32_t timeout_ms; /* per request, connect included; 0: default */
	uint32_t drain_ms;   /* grace for late requests after the duration; 0: default */
};

struct lab_load_result {
	uint64_t scheduled;   /* open loop: send times due within the duration */
	uint64_t issued;      /* requests started on a connection */
	uint64_t unsent;      /* due but never started (all connections busy to the end) */
	uint64_t completed;   /* 2xx responses received in full */
	uint64_t err_connect; /* connect failed (refused, unreachable, timed out) */
	uint64_t err_timeout; /* no full response within timeout_ms or the drain */
	uint64_t err_status;  /* complete non-2xx responses */
	uint64_t err_io;      /* reset, early close, malformed response */
	uint64_t connects;    /* successful connects */
	double elapsed_s;     /* start to the last request's end */
	double rate_achieved; /* completed / elapsed_s */
	struct lab_hist hist; /* latency of completed requests */
	/* Requests completed in each second since the start: [0] is 0..1 s.
	 * per_sec_len covers the duration and the drain. */
	uint64_t *per_sec;
	uint32_t per_sec_len;
};

/* Run the load, blocking for about duration_s (plus the drain). res is
 * initialised here (free it with lab_load_result_free, also on error).
 * 0, or -EINVAL (bad options), -ENOMEM, or the errno of a thread or epoll
 * failure. Connection-level failures are counted, never returned. */
int lab_load_run(const struct lab_load_opts *opts, struct lab_load_result *res);

void lab_load_result_free(struct lab_load_result *res);

#endif
