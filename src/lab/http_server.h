/* The lab's built-in HTTP/1.1 target: a single-threaded epoll server in a
 * child process (so a tracer can trace it while the lab itself stays
 * untraced), on 127.0.0.1, keep-alive and pipelining-safe, answering every
 * request with the same body of a chosen size after burning a chosen amount
 * of CPU. It counts the requests it answered in shared memory: the ground
 * truth the lab compares a tracer's events and the load generator's
 * completions against. */
#ifndef SONDE_LAB_HTTP_SERVER_H
#define SONDE_LAB_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest response body (the whole response is built once and shared). */
#define LAB_SERVER_BODY_BYTES_MAX (64u * 1024u * 1024u)
/* Largest per-request CPU cost. */
#define LAB_SERVER_WORK_NS_MAX 1000000000ull
/* Connections open at once; more are accepted and closed at once. */
#define LAB_SERVER_CONNS_MAX 16384u

struct lab_server_opts {
	uint16_t port;       /* 0: chosen by the kernel */
	uint32_t body_bytes; /* response body size */
	uint64_t work_ns;    /* CPU time burned per request (thread CPU clock) */
	bool pin;            /* pin the child to CPU cpu */
	int cpu;
};

/* Counters kept by the child in shared memory; readable while it runs and
 * after lab_server_stop. */
struct lab_server_counts {
	uint64_t requests;    /* complete responses written (2xx) */
	uint64_t bad_requests; /* 400 answers (malformed, too large, unsupported) */
	uint64_t conns;       /* connections accepted */
	uint64_t conns_refused; /* closed at once: LAB_SERVER_CONNS_MAX reached */
	uint64_t work_ns;     /* CPU time actually burned, summed */
};

struct lab_server {
	pid_t pid;       /* the child serving; trace this one */
	uint16_t port;   /* port it listens on, 127.0.0.1 */
	int ctl_fd;      /* write end of the control pipe: closing it stops the child */
	struct lab_server_counts *shared; /* MAP_SHARED page */
	uint64_t *work_ctl;  /* in the same page: the work_ns the child applies now */
	struct lab_server_counts final;   /* copy taken by lab_server_stop */
};

/* Bind 127.0.0.1:opts->port, fork the serving child, return once it is
 * accepting (the socket is bound and listening before the fork, so a client
 * may connect as soon as this returns). 0, or a negative errno (-EINVAL for
 * options out of range, -EADDRINUSE, ...). The child exits when
 * lab_server_stop is called or the parent dies. */
int lab_server_start(const struct lab_server_opts *opts, struct lab_server *srv);

/* Stop the child (control pipe closed, SIGKILL after 5 s), reap it, keep its
 * final counters in srv->final. Idempotent. 0, or -ECHILD if the child had
 * died before (counters are kept all the same). */
int lab_server_stop(struct lab_server *srv);

/* Change the CPU time burned per request while the server runs (the lab's
 * calibration): applies from the next request on. -EINVAL when out of range
 * or not running. */
int lab_server_set_work(struct lab_server *srv, uint64_t work_ns);

/* Counters now (while running) or final ones (after stop). */
void lab_server_counts(const struct lab_server *srv, struct lab_server_counts *out);

/* Burn work_ns of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID): a busy
 * loop that checks the clock every ~10 us, so it ends at most one clock read
 * late, also when the thread is preempted. Returns the CPU time burned. */
uint64_t lab_burn_cpu_ns(uint64_t work_ns);

#endif
