/* Helpers every sonde BPF object shares: the per-CPU counters and the one way
 * an event leaves the kernel, so that no event is lost without a count. */
#ifndef SONDE_COMMON_BPF_H
#define SONDE_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "stats.h"

/* Per-CPU event counters indexed by enum sonde_stat; summed by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += n; /* per-CPU slot: no atomic needed */
}

static __always_inline void stat_inc(__u32 idx)
{
	stat_add(idx, 1);
}

/* Wake the reader only once this many bytes are waiting: a wake-up per
 * event would cost a context switch per event (measured here: ~6-12 us
 * each). The loader sets it to min(256 KiB, a quarter of the ring); the
 * reader polls with a timeout, so a quiet trickle of events is still shown
 * within OUTPUT_POLL_INTERVAL_MS. */
const volatile __u64 ringbuf_wakeup_bytes = 256 * 1024;

/* Whether to wake the reader, waiting bytes being in the ring. */
static __always_inline __u64 wakeup_flags(__u64 waiting)
{
	return waiting >= ringbuf_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Emit size bytes of data into ring buffer rb, counting the event as produced
 * and, if the buffer is full, as dropped. waiting: bytes waiting in rb, as
 * bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) said a moment ago (a caller that
 * asked already passes its answer: the query reads the reader's position,
 * a line the other CPU writes). */
static __always_inline int emit_event_waiting(void *rb, void *data, __u64 size, __u64 waiting)
{
	int err;

	stat_inc(STAT_PRODUCED);
	err = bpf_ringbuf_output(rb, data, size, wakeup_flags(waiting));
	if (err)
		stat_inc(STAT_DROP_RINGBUF_FULL);
	return err;
}

static __always_inline int emit_event(void *rb, void *data, __u64 size)
{
	return emit_event_waiting(rb, data, size, bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA));
}

/* Send a record built in the ring itself (bpf_ringbuf_reserve: no copy, no
 * scratch), counted as produced; waiting as for emit_event_waiting, asked
 * before the reserve. A failed reserve is drop_event(STAT_DROP_RINGBUF_FULL). */
static __always_inline void submit_event(void *rec, __u64 waiting)
{
	stat_inc(STAT_PRODUCED);
	bpf_ringbuf_submit(rec, wakeup_flags(waiting));
}

/* Count an event that could not even be built. */
static __always_inline void drop_event(__u32 reason)
{
	stat_inc(STAT_PRODUCED);
	stat_inc(reason);
}

#endif
