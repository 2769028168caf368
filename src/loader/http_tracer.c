/* Loader of the HTTP tracer; see http_tracer.h. */
#include "loader/http_tracer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "http.h"
#include "http.skel.h"
#include "loader/bpf_env.h"
#include "loader/ringbuf_reader.h"
#include "loader/tls_scan.h"

struct http_tracer {
	struct http_bpf *skel;
	struct ring_buffer *rb;
	http_raw_fn fn;
	void *ctx;
	uint64_t delivered;
	uint64_t decode_errors;
	bool tls;
	struct tls_scan tls_scan;
	uint32_t tls_uprobes;        /* attached so far (kept after detach) */
};

#define TLS_HOOKS 8

/* The uprobes of one hooked file. */
struct tls_hook {
	struct bpf_link *links[TLS_HOOKS];
	int n;
};

static void tls_detach(void *hook, void *ctx)
{
	struct tls_hook *h = hook;

	(void)ctx;
	while (h->n)
		bpf_link__destroy(h->links[--h->n]);
	free(h);
}

/* Hook SSL_read, SSL_write and their _ex forms (entry and return) in the
 * file at path. The _ex forms exist since OpenSSL 1.1.1: missing ones are
 * fine; a file where neither SSL_read nor SSL_write can be hooked is not. */
static void *tls_attach(const char *path, void *ctx)
{
	struct http_tracer *t = ctx;
	struct tls_hook *h = calloc(1, sizeof(*h));
	const struct {
		struct bpf_program *prog;
		const char *func;
		bool ret;
		bool required;
	} hooks[] = {
		{ t->skel->progs.ssl_read_enter, "SSL_read", false, true },
		{ t->skel->progs.ssl_read_exit, "SSL_read", true, true },
		{ t->skel->progs.ssl_write_enter, "SSL_write", false, true },
		{ t->skel->progs.ssl_write_exit, "SSL_write", true, true },
		{ t->skel->progs.ssl_read_ex_enter, "SSL_read_ex", false, false },
		{ t->skel->progs.ssl_read_ex_exit, "SSL_read_ex", true, false },
		{ t->skel->progs.ssl_write_ex_enter, "SSL_write_ex", false, false },
		{ t->skel->progs.ssl_write_ex_exit, "SSL_write_ex", true, false },
	};
	_Static_assert(sizeof(hooks) / sizeof(hooks[0]) == TLS_HOOKS, "one link per hook");

	if (!h)
		return NULL;
	for (size_t i = 0; i < TLS_HOOKS; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, o, .func_name = hooks[i].func,
			    .retprobe = hooks[i].ret);
		struct bpf_link *l = bpf_program__attach_uprobe_opts(hooks[i].prog, -1, path, 0, &o);

		if (l) {
			h->links[h->n++] = l;
			continue;
		}
		if (hooks[i].required) {
			tls_detach(h, t);
			return NULL;
		}
	}
	t->tls_uprobes += (uint32_t)h->n;
	return h;
}

int http_tracer_tls_rescan(struct http_tracer *t)
{
	if (!t->tls)
		return 0;
	return tls_scan_run(&t->tls_scan);
}

void http_tracer_tls_stats(const struct http_tracer *t, struct http_tls_stats *out)
{
	out->files_hooked = t->tls_scan.hooked;
	out->files_unhooked = t->tls_scan.unhooked;
	out->files_failed = t->tls_scan.failed;
	out->links = t->tls_uprobes;
}

static int handle_raw(void *ctx, void *data, size_t size)
{
	struct http_tracer *t = ctx;

	if (t->fn(data, size, t->ctx))
		t->decode_errors++;
	else
		t->delivered++;
	return 0;
}

int http_tracer_open(struct http_tracer **out, const struct http_tracer_opts *o,
		     http_raw_fn fn, void *ctx, char *err, size_t err_size)
{
	struct http_tracer *t;
	uint32_t cap = o->capture_bytes ? o->capture_bytes : HTTP_CAPTURE_BYTES_DEFAULT;
	uint32_t rb_bytes;
	int ret;

	*out = NULL;
	if (cap > HTTP_CAPTURE_BYTES_MAX) {
		snprintf(err, err_size, "capture size %u is over the maximum %u", cap,
			 HTTP_CAPTURE_BYTES_MAX);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	t->fn = fn;
	t->ctx = ctx;
	t->tls = o->tls;
	tls_scan_init(&t->tls_scan, tls_attach, tls_detach, t);
	t->skel = http_bpf__open();
	if (!t->skel) {
		ret = -errno;
		snprintf(err, err_size, "opening the BPF object failed: %s", strerror(errno));
		goto cleanup;
	}
	t->skel->rodata->capture_bytes = cap;
	t->skel->rodata->filter_pid = o->filter_pid;
	t->skel->rodata->filter_port = o->filter_port;
	t->skel->rodata->self_pid = (uint32_t)getpid();
	rb_bytes = ringbuf_bytes(o->ringbuf_kb, HTTP_RINGBUF_KB_DEFAULT);
	bpf_map__set_max_entries(t->skel->maps.events, rb_bytes);
	t->skel->rodata->ringbuf_wakeup_bytes = ringbuf_wakeup_bytes(rb_bytes);
	t->skel->rodata->shed_bytes = (uint64_t)rb_bytes / 4 * 3;
	t->skel->rodata->tls_on = o->tls;
	ret = http_bpf__load(t->skel);
	if (ret) {
		snprintf(err, err_size,
			 "loading the BPF programs failed: %s (run 'sonde doctor'; -v shows the verifier log)",
			 strerror(-ret));
		goto cleanup;
	}
	ret = http_bpf__attach(t->skel);
	if (ret) {
		snprintf(err, err_size, "attaching the syscall tracepoints failed: %s (run 'sonde doctor')",
			 strerror(-ret));
		goto cleanup;
	}
	t->rb = ringbuf_reader_open(t->skel->maps.events, handle_raw, t, err, err_size);
	if (!t->rb) {
		ret = -errno;
		goto cleanup;
	}
	if (t->tls && (ret = tls_scan_run(&t->tls_scan)) < 0) {
		snprintf(err, err_size, "looking for OpenSSL in /proc failed: %s", strerror(-ret));
		goto cleanup;
	}
	*out = t;
	return 0;
cleanup:
	http_tracer_close(t);
	return ret < 0 ? ret : -EINVAL;
}

int http_tracer_poll(struct http_tracer *t, int timeout_ms)
{
	return ringbuf_reader_poll(t->rb, timeout_ms);
}

int http_tracer_stop(struct http_tracer *t)
{
	tls_scan_free(&t->tls_scan);
	bpf_env_detach_parallel(t->skel->skeleton);
	return ringbuf_reader_drain(t->rb);
}

int http_tracer_kernel_stats(struct http_tracer *t, uint64_t out[STAT_COUNT])
{
	return bpf_env_read_stats(bpf_map__fd(t->skel->maps.stats), out);
}

uint64_t http_tracer_delivered(const struct http_tracer *t)
{
	return t->delivered;
}

uint64_t http_tracer_decode_errors(const struct http_tracer *t)
{
	return t->decode_errors;
}

/* Keys are collected first and deleted after: deleting while walking with
 * get_next_key would restart the walk. */
#define SWEEP_BATCH_KEYS 4096

/* Delete the entries of a map whose key starts with a pid or tid that is
 * gone (the SSL maps: an LRU would evict them eventually, but a process
 * that exits should leave nothing behind). At most SWEEP_BATCH_KEYS. */
static void sweep_dead_ids(int fd, size_t key_size)
{
	static uint8_t keys[SWEEP_BATCH_KEYS][16];
	uint8_t key[16], next[16];
	void *prev = NULL;
	int n = 0;

	if (key_size > sizeof(key))
		return;
	while (n < SWEEP_BATCH_KEYS && bpf_map_get_next_key(fd, prev, next) == 0) {
		uint32_t id;

		memcpy(key, next, key_size);
		prev = key;
		memcpy(&id, key, sizeof(id));
		if (kill((pid_t)id, 0) && errno == ESRCH)
			memcpy(keys[n++], key, key_size);
	}
	for (int i = 0; i < n; i++)
		bpf_map_delete_elem(fd, keys[i]);
}

int http_tracer_sweep(struct http_tracer *t, void (*closed)(uint64_t conn_id, void *ctx),
		      void *ctx)
{
	int fd = bpf_map__fd(t->skel->maps.conns);
	static struct conn_key dead[SWEEP_BATCH_KEYS];
	struct conn_key key, next;
	struct conn_state st;
	void *prev = NULL;
	int n = 0, removed = 0;

	while (n < SWEEP_BATCH_KEYS && bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (kill((pid_t)key.pid, 0) && errno == ESRCH)
			dead[n++] = key;
	}
	for (int i = 0; i < n; i++) {
		if (bpf_map_lookup_elem(fd, &dead[i], &st))
			continue; /* closed meanwhile */
		if (bpf_map_delete_elem(fd, &dead[i]))
			continue;
		removed++;
		if (st.announced && closed)
			closed(st.conn_id, ctx);
	}
	if (t->tls) {
		sweep_dead_ids(bpf_map__fd(t->skel->maps.ssl_fds), sizeof(struct ssl_key));
		sweep_dead_ids(bpf_map__fd(t->skel->maps.tls_last_read), sizeof(uint32_t));
	}
	return removed;
}

void http_tracer_close(struct http_tracer *t)
{
	if (!t)
		return;
	tls_scan_free(&t->tls_scan);
	ring_buffer__free(t->rb);
	http_bpf__destroy(t->skel);
	free(t);
}
