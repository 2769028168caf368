/* nginx as a lab target: started on a loopback port with a generated config
 * (one worker, optionally pinned to a CPU, keep-alive, a static page of a
 * chosen size at "/"), in its own process group that is tracked so that it
 * never outlives the lab, with every file it writes (config, logs, pid file,
 * temp files) in one directory. Its access log is unbuffered: one line per
 * request answered, written by the worker right after it handed the response
 * to the kernel (a client holding its response may be a few microseconds
 * ahead: lab_nginx_wait_requests), so the count of its lines is the exact
 * number of requests served, the ground truth a tracer is checked against.
 * Used by bench_http and `sonde bench`. */
#ifndef SONDE_LAB_NGINX_H
#define SONDE_LAB_NGINX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Body served when body_bytes is 0: about nginx's default index.html. */
#define LAB_NGINX_PAGE_BYTES 612u
#define LAB_NGINX_BODY_BYTES_MAX (64u * 1024u * 1024u)
/* Highest CPU the worker can be pinned to. */
#define LAB_NGINX_CPU_MAX 1023
/* Connections the worker holds at once (worker_connections), listener
 * included. */
#define LAB_NGINX_CONNS_MAX 1024
/* nginx must accept connections within this long of its start. */
#define LAB_NGINX_START_TIMEOUT_MS 5000
/* Free ports tried when the chosen one turns out to be taken meanwhile. */
#define LAB_NGINX_START_TRIES 3

struct lab_nginx_opts {
	uint16_t port;       /* 0: a free loopback port is chosen */
	uint32_t body_bytes; /* size of the page served at "/"; 0: LAB_NGINX_PAGE_BYTES */
	int cpu;             /* pin the worker to this CPU (worker_cpu_affinity); -1: no pinning */
	/* Working directory (config, logs, www/, tmp/), created if missing and
	 * left in place by stop, or NULL: a fresh mkdtemp under /tmp, removed
	 * by stop. When the lab runs as root the worker runs as nobody: it
	 * must be able to reach dir/www. */
	const char *dir;
	/* HTTPS: a self-signed certificate (openssl req) is made in dir. */
	bool tls;
};

struct lab_nginx {
	pid_t master;  /* leader of nginx's process group; 0 when not running */
	pid_t worker;  /* the single worker process (trace this one) */
	uint16_t port; /* 127.0.0.1 */
	char dir[512];
	char access_log[600];
	bool own_dir;  /* dir is ours: removed by lab_nginx_stop */
	bool tls;      /* https:// */
};

/* Start nginx and return once its worker runs and the port accepts
 * connections. 0, or a negative errno with a one-line reason: "nginx not
 * installed (apt-get install nginx)" (-ENOENT), "port 18080 in use"
 * (-EADDRINUSE, only for an explicit port: a chosen one is replaced by
 * another free one up to LAB_NGINX_START_TRIES times), "nginx exited:
 * <last line of its error output>" (-EIO), "nginx did not accept connections
 * ..." (-ETIMEDOUT), bad options (-EINVAL). On error nothing is left running
 * and an own dir is removed. */
int lab_nginx_start(const struct lab_nginx_opts *o, struct lab_nginx *n, char *reason, size_t len);
/* A loopback port nobody uses now (the kernel's pick), or a negative errno:
 * for nginx, and for any other server the lab starts on a port of its own. */
int lab_free_port(void);

/* Requests answered so far: lines of the access log (a count or a negative
 * errno). O(log size). */
long lab_nginx_requests(const struct lab_nginx *n);
/* The same, only those answered with a 2xx status. */
long lab_nginx_requests_2xx(const struct lab_nginx *n);
/* Poll lab_nginx_requests until it reaches at least want or timeout_ms
 * passed; returns the last count (or a negative errno). */
long lab_nginx_wait_requests(const struct lab_nginx *n, long want, unsigned timeout_ms);
/* Empty the access log (counts start again from 0). 0 or a negative errno. */
int lab_nginx_reset_log(const struct lab_nginx *n);

/* Is the master still running? One that exited is reaped (and what is left
 * of its group killed): master becomes 0. */
bool lab_nginx_alive(struct lab_nginx *n);

/* SIGQUIT (graceful: workers finish their requests), SIGKILL to the group
 * after LAB_STOP_TIMEOUT_MS, reap, untrack, remove an own dir. Idempotent;
 * dir keeps its text for messages. */
void lab_nginx_stop(struct lab_nginx *n);

/* SIGKILL and reap every nginx this process started and has not stopped,
 * and remove their own dirs. Async-signal-safe: a hook for
 * lab_install_cleanup. Also run at exit (by the process that started them
 * only, never by a forked child). */
void lab_nginx_cleanup(void);

#endif
