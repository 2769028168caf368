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

/* One ring buffer of the tracer: what its reader callback knows (its
 * tracer, its own count) and, beyond the first (the object's events), the
 * map's fd. */
struct http_ring {
	struct http_tracer *t;
	uint64_t delivered;
	int fd;
};

struct http_tracer {
	struct http_bpf *skel;
	struct ring_buffer *rb;
	http_raw_fn fn;
	void *ctx;
	uint64_t delivered;
	uint64_t decode_errors;
	bool tls;
	enum http_tls_attach tls_attach;
	/* --pid: the SSL uprobes are set in that process only, so no other
	 * process that uses OpenSSL takes their traps; 0: every process */
	pid_t tls_pid;
	struct tls_scan tls_scan;
	uint32_t tls_uprobes;        /* attached so far (kept after detach) */
	uint32_t tls_workers;        /* files hooked at OpenSSL's workers, so far */
	bool tls_exported_only;      /* opts.tls_exported_only */
	uint32_t ring_shards;        /* ring buffers in rings[] */
	struct http_ring rings[HTTP_RING_SHARDS_MAX];
};

const struct http_tls_hook http_tls_hooks[HTTP_TLS_HOOK_COUNT] = {
	{ "ssl_read_enter", "SSL_read", false, true },
	{ "ssl_read_exit", "SSL_read", true, true },
	{ "ssl_write_enter", "SSL_write", false, true },
	{ "ssl_write_exit", "SSL_write", true, true },
	{ "ssl_read_ex_enter", "SSL_read_ex", false, false },
	{ "ssl_read_ex_exit", "SSL_read_ex", true, false },
	{ "ssl_write_ex_enter", "SSL_write_ex", false, false },
	{ "ssl_write_ex_exit", "SSL_write_ex", true, false },
};

const char *http_tls_hook_func(const char *prog)
{
	for (size_t i = 0; i < HTTP_TLS_HOOK_COUNT; i++)
		if (!strcmp(prog, http_tls_hooks[i].prog))
			return http_tls_hooks[i].func;
	return NULL;
}

const char *http_tls_attach_name(enum http_tls_attach a)
{
	return a == HTTP_TLS_ATTACH_UPROBE_MULTI ? "uprobe_multi" : "uprobe";
}

/* The probes of one hooked file: libbpf links (perf uprobes) or the fds of
 * uprobe-multi links, which libbpf 1.1 cannot wrap. */
struct tls_hook {
	struct bpf_link *links[HTTP_TLS_HOOK_COUNT];
	int fds[HTTP_TLS_HOOK_COUNT];
	int nlinks, nfds;
};

static void tls_detach(void *hook, void *ctx)
{
	struct tls_hook *h = hook;

	(void)ctx;
	while (h->nlinks)
		bpf_link__destroy(h->links[--h->nlinks]);
	while (h->nfds)
		close(h->fds[--h->nfds]);
	free(h);
}

static struct bpf_program *tls_prog(struct http_tracer *t, size_t i)
{
	return bpf_object__find_program_by_name(t->skel->obj, http_tls_hooks[i].prog);
}

enum http_tls_attach http_tls_attach_best(void)
{
	return bpf_env_uprobe_multi_supported() == 1 ? HTTP_TLS_ATTACH_UPROBE_MULTI
						     : HTTP_TLS_ATTACH_UPROBE;
}

void http_tls_progs_prepare(struct bpf_object *obj, enum http_tls_attach a)
{
	if (a != HTTP_TLS_ATTACH_UPROBE_MULTI)
		return;
	for (size_t i = 0; i < HTTP_TLS_HOOK_COUNT; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(obj, http_tls_hooks[i].prog);

		if (prog)
			bpf_program__set_expected_attach_type(
				prog, (enum bpf_attach_type)BPF_ENV_TRACE_UPROBE_MULTI);
	}
}

/* The worker that hook i goes on when the workers are hooked (rd or wr:
 * the _ex programs, whose arguments they take), or 0: not hooked then. */
static uint64_t worker_hook_offset(size_t i, uint64_t rd, uint64_t wr)
{
	const char *f = http_tls_hooks[i].func;

	return !strcmp(f, "SSL_read_ex") ? rd : !strcmp(f, "SSL_write_ex") ? wr : 0;
}

int http_tls_plan(const char *path, bool exported_only, uint64_t offsets[HTTP_TLS_HOOK_COUNT],
		  bool *workers)
{
	const char *names[HTTP_TLS_HOOK_COUNT];
	uint64_t rd = 0, wr = 0;
	int ret;

	for (size_t i = 0; i < HTTP_TLS_HOOK_COUNT; i++)
		names[i] = http_tls_hooks[i].func;
	/* one pass over the symbol tables for both plans */
	ret = tls_elf_ssl_funcs(path, names, HTTP_TLS_HOOK_COUNT, offsets,
				exported_only ? NULL : &rd, exported_only ? NULL : &wr);
	*workers = rd && wr;
	if (*workers)
		for (size_t i = 0; i < HTTP_TLS_HOOK_COUNT; i++)
			offsets[i] = worker_hook_offset(i, rd, wr);
	return *workers ? 0 : ret;
}

/* Must hook i be attached for the file to count as hooked? On the
 * workers: every hook that goes there. */
static bool tls_hook_required(size_t i, bool workers)
{
	return workers ? worker_hook_offset(i, 1, 1) != 0 : http_tls_hooks[i].required;
}

/* Attach every planned hook: a perf-event uprobe (libbpf link) or a
 * uprobe-multi link (an fd, which libbpf 1.1 cannot wrap) each. */
static int tls_attach_planned(struct http_tracer *t, const char *path, const uint64_t offsets[],
			      bool workers, struct tls_hook *h)
{
	for (size_t i = 0; i < HTTP_TLS_HOOK_COUNT; i++) {
		struct bpf_program *prog = tls_prog(t, i);
		int fd = -ENOENT;

		if (prog && offsets[i] && t->tls_attach == HTTP_TLS_ATTACH_UPROBE_MULTI) {
			fd = bpf_env_uprobe_multi_attach(bpf_program__fd(prog), path, &offsets[i], 1,
							 http_tls_hooks[i].ret, t->tls_pid);
			if (fd >= 0)
				h->fds[h->nfds++] = fd;
		} else if (prog && offsets[i]) {
			LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = http_tls_hooks[i].ret);
			struct bpf_link *l = bpf_program__attach_uprobe_opts(
				prog, t->tls_pid ? t->tls_pid : -1, path, offsets[i], &o);

			fd = l ? 0 : -errno;
			if (l)
				h->links[h->nlinks++] = l;
		}
		if (fd < 0 && tls_hook_required(i, workers))
			return fd;
	}
	return 0;
}

/* Hook SSL_read, SSL_write and their _ex forms (entry and return) in the
 * file at path. Missing _ex forms are fine; a file where neither SSL_read
 * nor SSL_write can be hooked is not. */
static void *tls_attach(const char *path, void *ctx)
{
	struct http_tracer *t = ctx;
	struct tls_hook *h = calloc(1, sizeof(*h));
	uint64_t offsets[HTTP_TLS_HOOK_COUNT];
	bool workers;
	int ret;

	if (!h)
		return NULL;
	ret = http_tls_plan(path, t->tls_exported_only, offsets, &workers);
	if (!ret)
		ret = tls_attach_planned(t, path, offsets, workers, h);
	if (ret) {
		tls_detach(h, t);
		return NULL;
	}
	t->tls_uprobes += (uint32_t)(h->nlinks + h->nfds);
	t->tls_workers += workers;
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
	out->files_workers = t->tls_workers;
	out->attach = t->tls_attach;
}

static int handle_raw(void *ctx, void *data, size_t size)
{
	struct http_ring *r = ctx;
	struct http_tracer *t = r->t;

	r->delivered++;
	if (t->fn(data, size, t->ctx))
		t->decode_errors++;
	else
		t->delivered++;
	return 0;
}

/* The ring buffers beyond events (--ring-shards), each as large as it, put
 * in shard_rings for the programs to find. 0 or -errno with err filled. */
static int shards_create(struct http_tracer *t, uint32_t rb_bytes, char *err, size_t err_size)
{
	int outer = bpf_map__fd(t->skel->maps.shard_rings);

	for (uint32_t i = 1; i < t->ring_shards; i++) {
		int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "http_shard", 0, 0, rb_bytes, NULL);
		int e = errno;

		if (fd < 0) {
			snprintf(err, err_size, "creating ring buffer %u of %u failed: %s", i + 1,
				 t->ring_shards, strerror(e));
			return -e;
		}
		t->rings[i].fd = fd;
		if (bpf_map_update_elem(outer, &i, &fd, BPF_ANY)) {
			e = errno;
			snprintf(err, err_size, "registering ring buffer %u of %u failed: %s", i + 1,
				 t->ring_shards, strerror(e));
			return -e;
		}
	}
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
	t->tls_pid = (pid_t)o->filter_pid;
	t->tls_exported_only = o->tls_exported_only;
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
	t->ring_shards = o->ring_shards ? o->ring_shards : 1;
	if (t->ring_shards > HTTP_RING_SHARDS_MAX)
		t->ring_shards = HTTP_RING_SHARDS_MAX;
	t->skel->rodata->ring_shards = t->ring_shards;
	/* decided before load: a program loaded for uprobe-multi links cannot
	 * be a perf uprobe, nor the reverse */
	if (o->tls) {
		t->tls_attach = o->tls_perf_uprobes ? HTTP_TLS_ATTACH_UPROBE
						    : http_tls_attach_best();
		http_tls_progs_prepare(t->skel->obj, t->tls_attach);
	}
	ret = http_bpf__load(t->skel);
	if (ret) {
		snprintf(err, err_size,
			 "loading the BPF programs failed: %s (run 'sonde doctor'; -v shows the verifier log)",
			 strerror(-ret));
		goto cleanup;
	}
	ret = shards_create(t, rb_bytes, err, err_size);
	if (ret)
		goto cleanup;
	ret = http_bpf__attach(t->skel);
	if (ret) {
		snprintf(err, err_size, "attaching the syscall tracepoints failed: %s (run 'sonde doctor')",
			 strerror(-ret));
		goto cleanup;
	}
	for (uint32_t i = 0; i < t->ring_shards; i++)
		t->rings[i].t = t;
	t->rb = ringbuf_reader_open(t->skel->maps.events, handle_raw, &t->rings[0], err, err_size);
	if (!t->rb) {
		ret = -errno;
		goto cleanup;
	}
	for (uint32_t i = 1; i < t->ring_shards; i++) {
		ret = ringbuf_reader_add(t->rb, t->rings[i].fd, handle_raw, &t->rings[i], err,
					 err_size);
		if (ret)
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

int http_tracer_set_sampling(struct http_tracer *t, uint32_t keep_one_in)
{
	if (!t || !t->skel->bss)
		return -EINVAL;
	/* one aligned 32-bit store: a program sees the old or the new value */
	__atomic_store_n(&t->skel->bss->sample_keep_one_in, keep_one_in, __ATOMIC_RELAXED);
	return 0;
}

int http_tracer_set_capture_cap(struct http_tracer *t, uint32_t bytes)
{
	if (!t || !t->skel->bss || bytes > HTTP_CAPTURE_BYTES_MAX)
		return -EINVAL;
	__atomic_store_n(&t->skel->bss->capture_cap, bytes, __ATOMIC_RELAXED);
	return 0;
}

uint64_t http_tracer_delivered(const struct http_tracer *t)
{
	return t->delivered;
}

uint32_t http_tracer_rings(const struct http_tracer *t)
{
	return t->ring_shards;
}

uint64_t http_tracer_ring_records(const struct http_tracer *t, uint32_t ring)
{
	return ring < t->ring_shards ? t->rings[ring].delivered : 0;
}

int http_tracer_prog_runs(const struct http_tracer *t, const char *prog, uint64_t *runs)
{
	struct bpf_program *p = bpf_object__find_program_by_name(t->skel->obj, prog);
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	if (!p || bpf_program__fd(p) < 0)
		return -ENOENT;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len))
		return -errno;
	*runs = info.run_cnt;
	return 0;
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
	for (uint32_t i = 1; i < t->ring_shards; i++)
		if (t->rings[i].fd > 0)
			close(t->rings[i].fd);
	free(t);
}
