/* Latency histogram of the lab: HDR-style log-linear buckets of durations in
 * nanoseconds, 1 us .. 60 s, 3 significant digits (every value lands in a
 * bucket narrower than 1/1024 of it, so any reported value is within 0.1 % of
 * a recorded one). Memory is allocated once by lab_hist_init (216 KiB);
 * recording is O(1) and never allocates, so it can sit on a load generator's
 * hot path. Not thread-safe: one histogram per thread, merged at the end. */
#ifndef SONDE_LAB_HISTOGRAM_H
#define SONDE_LAB_HISTOGRAM_H

#include <stdint.h>

/* Range kept. Smaller and larger values are clamped to these and counted in
 * below_min / above_max (they still count in count, min, max, mean). */
#define LAB_HIST_MIN_NS 1000ull                /* 1 us */
#define LAB_HIST_MAX_NS 60000000000ull         /* 60 s */
/* Sub-buckets per power of two: 2^10 gives 3 significant digits. */
#define LAB_HIST_SUB_BITS 10u
#define LAB_HIST_SUB_HALF (1u << LAB_HIST_SUB_BITS)
/* Powers of two above the first 2 * LAB_HIST_SUB_HALF values: enough for
 * LAB_HIST_MAX_NS (2048 << 25 > 60e9). */
#define LAB_HIST_BUCKETS 26u
#define LAB_HIST_COUNTS ((LAB_HIST_BUCKETS + 1u) * LAB_HIST_SUB_HALF)

struct lab_hist {
	uint64_t *counts;    /* LAB_HIST_COUNTS counters, owned */
	uint64_t count;      /* values recorded */
	uint64_t below_min;  /* ... of which clamped up to LAB_HIST_MIN_NS */
	uint64_t above_max;  /* ... of which clamped down to LAB_HIST_MAX_NS */
	uint64_t min_ns;     /* smallest (clamped) value; UINT64_MAX when empty */
	uint64_t max_ns;     /* largest (clamped) value; 0 when empty */
	uint64_t sum_ns;     /* exact sum of clamped values, for the mean */
};

/* Allocate the counters and empty h. 0 or -ENOMEM. */
int lab_hist_init(struct lab_hist *h);
/* Free the counters; h may be zeroed or already freed. */
void lab_hist_free(struct lab_hist *h);
/* Forget every value; keeps the memory. O(LAB_HIST_COUNTS). */
void lab_hist_reset(struct lab_hist *h);

/* Record one value, or n copies of it. O(1), no allocation. */
void lab_hist_record(struct lab_hist *h, uint64_t ns);
void lab_hist_record_n(struct lab_hist *h, uint64_t ns, uint64_t n);

/* Add every value of src to dst (as if dst had recorded them too).
 * O(LAB_HIST_COUNTS). 0, or -EINVAL if either is not initialised. */
int lab_hist_merge(struct lab_hist *dst, const struct lab_hist *src);

/* Value at or below which pct percent (0..100) of the values lie: the upper
 * end of the bucket holding that rank, never above max nor below min, so it
 * is within 0.1 % of the exact order statistic. pct 100 gives max; 0 when
 * empty. O(LAB_HIST_COUNTS). */
uint64_t lab_hist_percentile(const struct lab_hist *h, double pct);
/* Exact mean of the (clamped) values; 0 when empty. */
double lab_hist_mean(const struct lab_hist *h);
static inline uint64_t lab_hist_count(const struct lab_hist *h) { return h->count; }
/* 0 when empty. */
static inline uint64_t lab_hist_min(const struct lab_hist *h) { return h->count ? h->min_ns : 0; }
static inline uint64_t lab_hist_max(const struct lab_hist *h) { return h->max_ns; }

/* Bucket helpers, exposed for the tests: index of the counter a value goes
 * to (value already clamped), and the lowest and highest value of a counter. */
uint32_t lab_hist_index(uint64_t ns);
uint64_t lab_hist_bucket_low(uint32_t index);
uint64_t lab_hist_bucket_high(uint32_t index);

#endif
