/* Ring buffer sizes: the kernel wants a power of two, at least a page. */
#ifndef SONDE_LOADER_RINGBUF_SIZE_H
#define SONDE_LOADER_RINGBUF_SIZE_H

#include <stdint.h>

#define RINGBUF_BYTES_MIN 4096u
#define RINGBUF_BYTES_MAX (1u << 30)

/* kb (or default_kb when 0) in bytes, rounded up to a power of two. */
static inline uint32_t ringbuf_bytes(uint32_t kb, uint32_t default_kb)
{
	uint64_t want = (uint64_t)(kb ? kb : default_kb) * 1024;
	uint64_t bytes = RINGBUF_BYTES_MIN;

	while (bytes < want && bytes < RINGBUF_BYTES_MAX)
		bytes <<= 1;
	return (uint32_t)bytes;
}

#endif
