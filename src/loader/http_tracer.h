/* The HTTP tracer's kernel side as a library: open, load and attach
 * bpf/http.bpf.c, hand every raw record to a callback, stop and account.
 * Used by `sonde http` and by the kernel tests alike. */
#ifndef SONDE_LOADER_HTTP_TRACER_H
#define SONDE_LOADER_HTTP_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

/* 4 MiB: at nginx saturation on a 2-core VM (~86k records/s, both sides)
 * neither drops nor payload shedding with 2, 4 or 16 MiB, and peak RSS is
 * 14 MB instead of 37 MB (the ring is mapped twice into sonde). Larger
 * hosts with more cores: --ringbuf-kb. */
#define HTTP_RINGBUF_KB_DEFAULT 4096
/* Default bytes captured per syscall: enough for a request line and the
 * framing headers of common clients (curl, wrk, ab send < 200 bytes; nginx
 * response heads are ~250 bytes). See the README for the measurement. */
#define HTTP_CAPTURE_BYTES_DEFAULT 512

struct http_tracer_opts {
	uint32_t capture_bytes;  /* 0: default; at most HTTP_CAPTURE_BYTES_MAX */
	uint32_t filter_pid;     /* 0: all */
	uint16_t filter_port;    /* 0: all */
	uint32_t ringbuf_kb;     /* 0: default; rounded up to a power of 2; per shard */
	/* ring buffers the records are spread over, 0 or 1: one; at most
	 * HTTP_RING_SHARDS_MAX (http.h). A connection keeps the one of the
	 * CPU it was first seen on, so its records stay in order. */
	uint32_t ring_shards;
	bool tls;                /* hook SSL_read/SSL_write in OpenSSL (uprobes) */
	/* tests: attach the SSL programs as perf uprobes even where uprobe-
	 * multi links exist (the path kernels before 6.6 take) */
	bool tls_perf_uprobes;
	/* hook the exported SSL_read/SSL_write (and _ex) entries and returns
	 * even where OpenSSL's internal workers are recognised (see
	 * tls_elf_ssl_workers): slower, for comparison and as a way out */
	bool tls_exported_only;
};

/* How the SSL programs are attached, chosen once at open. */
enum http_tls_attach {
	/* one perf-event uprobe per function and file (libbpf); needs
	 * CAP_SYS_ADMIN on kernels since 2025 ("perf/core: Require
	 * CAP_SYS_ADMIN for uprobes"); the fallback before 6.6 */
	HTTP_TLS_ATTACH_UPROBE = 0,
	/* one BPF_TRACE_UPROBE_MULTI link per program and file (6.6+): no
	 * capability at attach time beyond what loaded the programs */
	HTTP_TLS_ATTACH_UPROBE_MULTI,
};

/* What the TLS side found and hooked so far. */
struct http_tls_stats {
	uint32_t files_hooked;   /* libssl copies and executables with OpenSSL */
	uint32_t files_unhooked; /* detached: no process mapped them any more */
	uint32_t files_failed;   /* candidates the uprobes could not attach to */
	uint32_t links;          /* uprobes attached (one per function and file) */
	uint32_t files_workers;  /* ... of the hooked files, those hooked at
				  * OpenSSL's internal read and write workers */
	enum http_tls_attach attach;
};

/* One SSL program of bpf/http.bpf.c and the OpenSSL function it hooks. */
struct http_tls_hook {
	const char *prog;        /* program name in the http object */
	const char *func;        /* OpenSSL function */
	bool ret;                /* return probe */
	bool required;           /* a file without it is not hooked (the _ex
				  * forms exist only since OpenSSL 1.1.1) */
};

#define HTTP_TLS_HOOK_COUNT 8
/* Every SSL program, in attach order: the one list the loader attaches and
 * `sonde doctor --programs` shows. */
extern const struct http_tls_hook http_tls_hooks[HTTP_TLS_HOOK_COUNT];
/* Where each hook goes in the file at path: offsets[i] for
 * http_tls_hooks[i], 0 to leave it out. OpenSSL's workers when they are
 * recognised and not exported_only (the _ex programs on them, nothing on
 * the exported functions), else the exported functions; *workers says
 * which. 0, or a negative errno from reading the file when no worker was
 * recognised (offsets are then whatever was found). */
int http_tls_plan(const char *path, bool exported_only, uint64_t offsets[HTTP_TLS_HOOK_COUNT],
		  bool *workers);
/* The OpenSSL function program prog hooks, or NULL when it is not an SSL
 * program. */
const char *http_tls_hook_func(const char *prog);
/* "uprobe" or "uprobe_multi", as the stats record says it. */
const char *http_tls_attach_name(enum http_tls_attach a);
/* How this kernel lets the SSL programs be attached: uprobe-multi links
 * where the kernel makes them (probed once per process), perf uprobes
 * otherwise. */
enum http_tls_attach http_tls_attach_best(void);

struct bpf_object;
/* Before the http object's load: prepare its SSL programs for attach mode
 * a (uprobe-multi needs them loaded with that attach type). */
void http_tls_progs_prepare(struct bpf_object *obj, enum http_tls_attach a);

/* Called for each raw record; return 0 if it was used, -EINVAL if it was
 * malformed (counted as a decode_error drop). */
typedef int (*http_raw_fn)(const void *data, size_t size, void *ctx);

struct http_tracer;

/* Open, load and attach. On failure a negative errno and a one-line reason
 * (no newline) in err. */
int http_tracer_open(struct http_tracer **out, const struct http_tracer_opts *opts,
		     http_raw_fn fn, void *ctx, char *err, size_t err_size);
/* Wait up to timeout_ms and deliver what arrived: records handled, or a
 * negative errno. */
int http_tracer_poll(struct http_tracer *t, int timeout_ms);
/* Detach every program, then deliver what is left in the ring buffer. */
int http_tracer_stop(struct http_tracer *t);
/* Kernel counters (final after http_tracer_stop), and userspace ones. */
int http_tracer_kernel_stats(struct http_tracer *t, uint64_t out[STAT_COUNT]);
uint64_t http_tracer_delivered(const struct http_tracer *t);
/* Ring buffers (--ring-shards), and the records read from ring i so far. */
uint32_t http_tracer_rings(const struct http_tracer *t);
uint64_t http_tracer_ring_records(const struct http_tracer *t, uint32_t ring);
/* How many times the program named prog ran so far (counted only while
 * the kernel's BPF run statistics are on): 0, or -ENOENT when no such
 * program is loaded. */
int http_tracer_prog_runs(const struct http_tracer *t, const char *prog, uint64_t *runs);
uint64_t http_tracer_decode_errors(const struct http_tracer *t);
/* The agent's budget, changed at run time without a reload (a store into
 * the object's mmaped .bss; cost: none in the kernel while off). Keep 1 in
 * keep_one_in connections tracked from now on (0 or 1: all); a connection
 * is decided once when tracked, and the requests of those left out are
 * counted in STAT_SAMPLED_OUT_SERVER/_CLIENT. 0 or -EINVAL. */
int http_tracer_set_sampling(struct http_tracer *t, uint32_t keep_one_in);
/* Copy at most bytes of each segment's payload from now on, when less than
 * the opened capture_bytes (0: no cap). 0 or -EINVAL (over
 * HTTP_CAPTURE_BYTES_MAX). */
int http_tracer_set_capture_cap(struct http_tracer *t, uint32_t bytes);
/* Connections of processes that exited hold their map entry forever: the
 * kernel closes their fds without a close() syscall. Delete those entries
 * and call closed(conn_id) for each one userspace knew of (announced as
 * HTTP). Cost: one syscall per tracked connection; run it every few
 * seconds. Returns the number removed or a negative errno. */
int http_tracer_sweep(struct http_tracer *t, void (*closed)(uint64_t conn_id, void *ctx),
		      void *ctx);
/* With opts.tls: look for OpenSSL in processes started since the last
 * look (and libraries loaded late) and hook it. Cost: reads every
 * process's maps; run it every second or so. New files hooked, or a
 * negative errno. */
int http_tracer_tls_rescan(struct http_tracer *t);
void http_tracer_tls_stats(const struct http_tracer *t, struct http_tls_stats *out);
void http_tracer_close(struct http_tracer *t);

#endif
