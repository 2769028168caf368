/* How every tracer reads its ring buffer: sizes the kernel accepts, a poll
 * that copes with the kernel side's batched wake-ups, and a drain after the
 * programs are detached, so that the counters read afterwards are final. */
#ifndef SONDE_LOADER_RINGBUF_READER_H
#define SONDE_LOADER_RINGBUF_READER_H

#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#define RINGBUF_BYTES_MIN 4096u
#define RINGBUF_BYTES_MAX (1u << 30)

#define RINGBUF_WAKEUP_BYTES_MAX (256u * 1024u)

/* kb (or default_kb when 0) in bytes, rounded up to a power of two. */
uint32_t ringbuf_bytes(uint32_t kb, uint32_t default_kb);
/* Bytes waiting before the kernel side wakes the reader, for a ring of
 * ring_bytes: a quarter of it, at most RINGBUF_WAKEUP_BYTES_MAX. */
uint64_t ringbuf_wakeup_bytes(uint32_t ring_bytes);

/* A reader of map calling fn per record; NULL and a one-line reason in err
 * on failure. */
struct ring_buffer *ringbuf_reader_open(struct bpf_map *map, ring_buffer_sample_fn fn,
					void *ctx, char *err, size_t err_size);
/* One more ring buffer (map_fd) for the same reader, read in the same
 * polls. 0 or a negative errno with err filled. */
int ringbuf_reader_add(struct ring_buffer *rb, int map_fd, ring_buffer_sample_fn fn, void *ctx,
		       char *err, size_t err_size);
/* Wait up to timeout_ms, then take whatever is there even if the kernel did
 * not wake us (it wakes only once a batch is waiting). Records handled or a
 * negative errno. */
int ringbuf_reader_poll(struct ring_buffer *rb, int timeout_ms);
/* Take everything left. 0 or a negative errno. */
int ringbuf_reader_drain(struct ring_buffer *rb);

#endif
