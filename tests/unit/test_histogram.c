/* The lab's latency histogram: bucket boundaries around every power of two,
 * percentiles within 0.1 % of the exact order statistics, merge, clamping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lab/histogram.h"

#define RANDOM_VALUES 200000u

/* Relative error bound of the histogram: one bucket is < value/1024 wide. */
static void assert_within_precision(uint64_t got, uint64_t want)
{
	uint64_t diff = got > want ? got - want : want - got;

	if (diff * 1000 > want) /* > 0.1 % */
		fail_msg("got %llu, want %llu (off by %llu)", (unsigned long long)got,
			 (unsigned long long)want, (unsigned long long)diff);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
	/* xorshift64*: reproducible across runs and libcs. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* Log-uniform over [LAB_HIST_MIN_NS, LAB_HIST_MAX_NS]: every bucket is hit. */
static uint64_t rng_duration(void)
{
	uint32_t bits = 10 + (uint32_t)(rng_next() % 26); /* 2^10 .. 2^35 */
	uint64_t v = (1ull << bits) + rng_next() % (1ull << bits);

	if (v < LAB_HIST_MIN_NS)
		v = LAB_HIST_MIN_NS;
	if (v > LAB_HIST_MAX_NS)
		v = LAB_HIST_MAX_NS;
	return v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_bucket_boundaries(void **st)
{
	(void)st;
	/* Exact below 2048 ns. */
	for (uint64_t v = LAB_HIST_MIN_NS; v < 2048; v++) {
		uint32_t i = lab_hist_index(v);

		assert_int_equal(lab_hist_bucket_low(i), v);
		assert_int_equal(lab_hist_bucket_high(i), v);
	}
	/* At and around each power of two: the value is inside its bucket, the
	 * bucket is narrower than 1/1024 of it, and neighbouring values land in
	 * the same or the next counter (indexes are monotonic, no gaps). */
	for (uint32_t p = 10; p <= 35; p++) {
		uint64_t pow = 1ull << p;
		uint64_t vals[] = { pow - 2, pow - 1, pow, pow + 1, pow + 2 };

		for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
			uint64_t v = vals[k];
			uint32_t i;

			if (v < LAB_HIST_MIN_NS || v > LAB_HIST_MAX_NS)
				continue;
			i = lab_hist_index(v);
			assert_true(i < LAB_HIST_COUNTS);
			assert_true(lab_hist_bucket_low(i) <= v);
			assert_true(lab_hist_bucket_high(i) >= v);
			/* Exact (width 1) or narrower than v / 1024. */
			assert_true(lab_hist_bucket_high(i) == lab_hist_bucket_low(i) ||
				    (lab_hist_bucket_high(i) - lab_hist_bucket_low(i) + 1) * 1024 <= v);
			if (k > 0 && v - 1 >= LAB_HIST_MIN_NS) {
				uint32_t prev = lab_hist_index(v - 1);

				assert_true(i == prev || i == prev + 1);
			}
		}
		/* A power of two starts a bucket; the value before it ends one. */
		if (pow >= 2048 && pow <= LAB_HIST_MAX_NS) {
			assert_int_equal(lab_hist_bucket_low(lab_hist_index(pow)), pow);
			assert_int_equal(lab_hist_bucket_high(lab_hist_index(pow - 1)), pow - 1);
			assert_int_equal(lab_hist_index(pow), lab_hist_index(pow - 1) + 1);
		}
	}
	/* Consecutive counters tile the range with no gap or overlap. */
	for (uint32_t i = lab_hist_index(LAB_HIST_MIN_NS); i < lab_hist_index(LAB_HIST_MAX_NS); i++)
		assert_int_equal(lab_hist_bucket_high(i) + 1, lab_hist_bucket_low(i + 1));
	assert_true(lab_hist_index(LAB_HIST_MAX_NS) < LAB_HIST_COUNTS);
}

static void test_percentiles_random(void **st)
{
	static const double pcts[] = { 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99 };
	uint64_t *vals = malloc(RANDOM_VALUES * sizeof(*vals));
	struct lab_hist h;
	uint64_t sum = 0;

	(void)st;
	assert_non_null(vals);
	assert_int_equal(lab_hist_init(&h), 0);
	for (uint32_t i = 0; i < RANDOM_VALUES; i++) {
		vals[i] = rng_duration();
		sum += vals[i];
		lab_hist_record(&h, vals[i]);
	}
	qsort(vals, RANDOM_VALUES, sizeof(*vals), cmp_u64);
	assert_int_equal(lab_hist_count(&h), RANDOM_VALUES);
	assert_int_equal(lab_hist_min(&h), vals[0]);
	assert_int_equal(lab_hist_max(&h), vals[RANDOM_VALUES - 1]);
	assert_int_equal(lab_hist_percentile(&h, 100), vals[RANDOM_VALUES - 1]);
	assert_int_equal(lab_hist_percentile(&h, 0), vals[0]);
	assert_true(lab_hist_mean(&h) == (double)sum / RANDOM_VALUES);
	for (size_t k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		/* Exact order statistic: the ceil(p * n)-th smallest value. */
		size_t rank = (size_t)ceil(pcts[k] / 100.0 * RANDOM_VALUES - 1e-9);
		uint64_t got = lab_hist_percentile(&h, pcts[k]);

		if (rank < 1)
			rank = 1;
		assert_within_precision(got, vals[rank - 1]);
		assert_true(got >= vals[rank - 1]); /* upper end of its bucket */
	}
	lab_hist_reset(&h);
	assert_int_equal(lab_hist_count(&h), 0);
	assert_int_equal(lab_hist_max(&h), 0);
	assert_int_equal(lab_hist_min(&h), 0);
	assert_int_equal(lab_hist_percentile(&h, 50), 0);
	assert_true(lab_hist_mean(&h) == 0);
	lab_hist_free(&h);
	free(vals);
}

static void test_small_exact(void **st)
{
	struct lab_hist h;

	(void)st;
	assert_int_equal(lab_hist_init(&h), 0);
	for (uint64_t v = 1; v <= 100; v++)
		lab_hist_record(&h, v * 1000000); /* 1..100 ms */
	assert_within_precision(lab_hist_percentile(&h, 50), 50000000);
	assert_within_precision(lab_hist_percentile(&h, 90), 90000000);
	assert_within_precision(lab_hist_percentile(&h, 99), 99000000);
	assert_within_precision(lab_hist_percentile(&h, 99.9), 100000000);
	assert_int_equal(lab_hist_max(&h), 100000000);
	assert_int_equal(lab_hist_min(&h), 1000000);
	assert_true(lab_hist_mean(&h) == 50500000.0);
	lab_hist_record_n(&h, 5000, 3);
	assert_int_equal(lab_hist_count(&h), 103);
	assert_int_equal(lab_hist_min(&h), 5000);
	assert_within_precision(lab_hist_percentile(&h, 1), 5000);
	assert_int_equal(lab_hist_percentile(&h, 0), 5000);
	lab_hist_free(&h);
}

static void test_merge_equals_recording_all(void **st)
{
	struct lab_hist a, b, all;

	(void)st;
	assert_int_equal(lab_hist_init(&a), 0);
	assert_int_equal(lab_hist_init(&b), 0);
	assert_int_equal(lab_hist_init(&all), 0);
	for (uint32_t i = 0; i < 50000; i++) {
		uint64_t v = rng_duration();

		lab_hist_record(i % 3 ? &a : &b, v);
		lab_hist_record(&all, v);
	}
	lab_hist_record(&b, 10);                   /* clamped up */
	lab_hist_record(&all, 10);
	lab_hist_record(&a, LAB_HIST_MAX_NS * 2);  /* clamped down */
	lab_hist_record(&all, LAB_HIST_MAX_NS * 2);
	assert_int_equal(lab_hist_merge(&a, &b), 0);
	assert_int_equal(a.count, all.count);
	assert_int_equal(a.below_min, all.below_min);
	assert_int_equal(a.above_max, all.above_max);
	assert_int_equal(a.min_ns, all.min_ns);
	assert_int_equal(a.max_ns, all.max_ns);
	assert_int_equal(a.sum_ns, all.sum_ns);
	assert_memory_equal(a.counts, all.counts, LAB_HIST_COUNTS * sizeof(*a.counts));
	for (double p = 1; p < 100; p += 7.5)
		assert_int_equal(lab_hist_percentile(&a, p), lab_hist_percentile(&all, p));
	/* Merging an empty histogram changes nothing. */
	lab_hist_reset(&b);
	assert_int_equal(lab_hist_merge(&a, &b), 0);
	assert_int_equal(a.count, all.count);
	assert_int_equal(a.min_ns, all.min_ns);
	lab_hist_free(&a);
	lab_hist_free(&b);
	lab_hist_free(&all);
}

static void test_clamped_and_counted(void **st)
{
	struct lab_hist h;

	(void)st;
	assert_int_equal(lab_hist_init(&h), 0);
	lab_hist_record(&h, 0);
	lab_hist_record(&h, 999);
	lab_hist_record(&h, LAB_HIST_MIN_NS);      /* in range: not clamped */
	lab_hist_record(&h, LAB_HIST_MAX_NS);      /* in range: not clamped */
	lab_hist_record(&h, LAB_HIST_MAX_NS + 1);
	lab_hist_record(&h, UINT64_MAX);
	assert_int_equal(lab_hist_count(&h), 6);
	assert_int_equal(h.below_min, 2);
	assert_int_equal(h.above_max, 2);
	assert_int_equal(lab_hist_min(&h), LAB_HIST_MIN_NS);
	assert_int_equal(lab_hist_max(&h), LAB_HIST_MAX_NS);
	assert_int_equal(lab_hist_percentile(&h, 10), LAB_HIST_MIN_NS);
	assert_int_equal(lab_hist_percentile(&h, 50), LAB_HIST_MIN_NS);
	assert_int_equal(lab_hist_percentile(&h, 51), LAB_HIST_MAX_NS);
	assert_int_equal(lab_hist_percentile(&h, 99.9), LAB_HIST_MAX_NS);
	assert_true(lab_hist_mean(&h) == (3.0 * LAB_HIST_MIN_NS + 3.0 * LAB_HIST_MAX_NS) / 6);
	lab_hist_free(&h);
	lab_hist_free(&h); /* twice is harmless */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_boundaries),
		cmocka_unit_test(test_percentiles_random),
		cmocka_unit_test(test_small_exact),
		cmocka_unit_test(test_merge_equals_recording_all),
		cmocka_unit_test(test_clamped_and_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
