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

struct http_tracer {
	struct http_bpf *skel;
	struct ring_buffer *rb;
	http_raw_fn fn;
	void *ctx;
	uint64_t delivered;
	uint64_t decode_errors;
};

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
		if (st.state == CONN_HTTP && closed)
			closed(st.conn_id, ctx);
	}
	return removed;
}

void http_tracer_close(struct http_tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	http_bpf__destroy(t->skel);
	free(t);
}
