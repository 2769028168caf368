/* Ring buffer reading shared by the tracers; see ringbuf_reader.h. */
#include "loader/ringbuf_reader.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

uint32_t ringbuf_bytes(uint32_t kb, uint32_t default_kb)
{
	uint64_t want = (uint64_t)(kb ? kb : default_kb) * 1024;
	uint64_t bytes = RINGBUF_BYTES_MIN;

	while (bytes < want && bytes < RINGBUF_BYTES_MAX)
		bytes <<= 1;
	return (uint32_t)bytes;
}

uint64_t ringbuf_wakeup_bytes(uint32_t ring_bytes)
{
	uint64_t quarter = ring_bytes / 4;

	return quarter < RINGBUF_WAKEUP_BYTES_MAX ? quarter : RINGBUF_WAKEUP_BYTES_MAX;
}

struct ring_buffer *ringbuf_reader_open(struct bpf_map *map, ring_buffer_sample_fn fn,
					void *ctx, char *err, size_t err_size)
{
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(map), fn, ctx, NULL);

	if (!rb)
		snprintf(err, err_size, "opening the ring buffer failed: %s", strerror(errno));
	return rb;
}

int ringbuf_reader_add(struct ring_buffer *rb, int map_fd, ring_buffer_sample_fn fn, void *ctx,
		       char *err, size_t err_size)
{
	int ret = ring_buffer__add(rb, map_fd, fn, ctx);

	if (ret)
		snprintf(err, err_size, "opening a ring buffer shard failed: %s", strerror(-ret));
	return ret;
}

int ringbuf_reader_poll(struct ring_buffer *rb, int timeout_ms)
{
	int n = ring_buffer__poll(rb, timeout_ms);

	if (n == 0 || n == -EINTR)
		n = ring_buffer__consume(rb);
	return n;
}

int ringbuf_reader_drain(struct ring_buffer *rb)
{
	int n;

	do {
		n = ring_buffer__consume(rb);
	} while (n > 0);
	return n < 0 ? n : 0;
}
