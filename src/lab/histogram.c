/* HDR-style log-linear histogram (see histogram.h). Layout as in
 * HdrHistogram with a unit of 1 ns: counters [0, 2048) hold the values
 * 0..2047 exactly; after that, each power of two [2^(10+k), 2^(11+k)) is split
 * into 1024 counters 2^k wide. Values under LAB_HIST_MIN_NS are clamped
 * first, so the first 1000 counters stay unused (8 KB, the price of a
 * branch-free index). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab/histogram.h"

/* Power of two (0..LAB_HIST_BUCKETS-1) a clamped value belongs to. */
static inline uint32_t bucket_of(uint64_t ns)
{
	/* | mask: values below 2 * SUB_HALF all go to bucket 0. */
	uint64_t v = ns | (2ull * LAB_HIST_SUB_HALF - 1);

	return (uint32_t)(63 - __builtin_clzll(v)) - LAB_HIST_SUB_BITS;
}

static inline uint64_t clamp_ns(uint64_t ns)
{
	if (ns < LAB_HIST_MIN_NS)
		return LAB_HIST_MIN_NS;
	if (ns > LAB_HIST_MAX_NS)
		return LAB_HIST_MAX_NS;
	return ns;
}

uint32_t lab_hist_index(uint64_t ns)
{
	uint32_t b;
	uint64_t sub;

	ns = clamp_ns(ns);
	b = bucket_of(ns);
	sub = ns >> b; /* in [SUB_HALF, 2 * SUB_HALF) except in bucket 0 */
	return ((b + 1) << LAB_HIST_SUB_BITS) + (uint32_t)sub - LAB_HIST_SUB_HALF;
}

uint64_t lab_hist_bucket_low(uint32_t index)
{
	uint32_t b = index >> LAB_HIST_SUB_BITS;
	uint64_t sub = (index & (LAB_HIST_SUB_HALF - 1)) + LAB_HIST_SUB_HALF;

	if (b == 0)
		return index; /* exact values 0..1023 */
	return sub << (b - 1);
}

uint64_t lab_hist_bucket_high(uint32_t index)
{
	uint32_t b = index >> LAB_HIST_SUB_BITS;

	if (b == 0)
		return index;
	return lab_hist_bucket_low(index) + (1ull << (b - 1)) - 1;
}

int lab_hist_init(struct lab_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->counts = calloc(LAB_HIST_COUNTS, sizeof(*h->counts));
	if (!h->counts)
		return -ENOMEM;
	h->min_ns = UINT64_MAX;
	return 0;
}

void lab_hist_free(struct lab_hist *h)
{
	free(h->counts);
	h->counts = NULL;
}

void lab_hist_reset(struct lab_hist *h)
{
	uint64_t *counts = h->counts;

	if (counts)
		memset(counts, 0, LAB_HIST_COUNTS * sizeof(*counts));
	memset(h, 0, sizeof(*h));
	h->counts = counts;
	h->min_ns = UINT64_MAX;
}

void lab_hist_record_n(struct lab_hist *h, uint64_t ns, uint64_t n)
{
	if (n == 0)
		return;
	if (ns < LAB_HIST_MIN_NS)
		h->below_min += n;
	else if (ns > LAB_HIST_MAX_NS)
		h->above_max += n;
	ns = clamp_ns(ns);
	h->counts[lab_hist_index(ns)] += n;
	h->count += n;
	h->sum_ns += ns * n;
	if (ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

void lab_hist_record(struct lab_hist *h, uint64_t ns)
{
	lab_hist_record_n(h, ns, 1);
}

int lab_hist_merge(struct lab_hist *dst, const struct lab_hist *src)
{
	if (!dst->counts || !src->counts)
		return -EINVAL;
	if (src->count == 0)
		return 0;
	for (uint32_t i = 0; i < LAB_HIST_COUNTS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	dst->below_min += src->below_min;
	dst->above_max += src->above_max;
	dst->sum_ns += src->sum_ns;
	if (src->min_ns < dst->min_ns)
		dst->min_ns = src->min_ns;
	if (src->max_ns > dst->max_ns)
		dst->max_ns = src->max_ns;
	return 0;
}

uint64_t lab_hist_percentile(const struct lab_hist *h, double pct)
{
	uint64_t rank, seen = 0, v;

	if (h->count == 0)
		return 0;
	if (!(pct > 0)) /* also NaN */
		return h->min_ns;
	if (pct >= 100.0)
		return h->max_ns;
	/* Rank of the value wanted, 1-based: ceil(pct% of count), at least 1;
	 * the slack keeps 0.1 % of 200000 at 200 despite rounding. */
	rank = (uint64_t)ceil(pct / 100.0 * (double)h->count - 1e-9);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (uint32_t i = lab_hist_index(h->min_ns); i < LAB_HIST_COUNTS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			v = lab_hist_bucket_high(i);
			if (v > h->max_ns)
				v = h->max_ns;
			if (v < h->min_ns)
				v = h->min_ns;
			return v;
		}
	}
	return h->max_ns;
}

double lab_hist_mean(const struct lab_hist *h)
{
	return h->count ? (double)h->sum_ns / (double)h->count : 0.0;
}
