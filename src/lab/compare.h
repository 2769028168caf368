/* Is a tracer's metric different from the baseline's, beyond noise? The lab
 * runs interleaved rounds: round i measures the baseline (no tracer) a_i and
 * the tracer b_i. These functions turn those rounds into a headline
 * difference, a 95 % confidence interval and a verdict. NaN means "unknown"
 * and is left out; inf counts as a value. O(n log n) (medians); n is a
 * number of rounds, at most LAB_COMPARE_N_MAX.
 *
 * Definitions (quoted in the lab's report):
 * - Headline difference: diff = median(b) - median(a), over the values kept;
 *   diff_pct = diff / |median(a)| * 100 (NaN when median(a) is 0 or unknown).
 * - Paired (same rounds): a pair with a NaN on either side is left out;
 *   d_i = b_i - a_i; CI = mean(d) +- t975(n-1) * sd(d) / sqrt(n), sd the
 *   sample standard deviation (n-1). Needs n >= 2 pairs.
 * - Unpaired (an earlier run, different rounds): Welch's t-interval on
 *   mean(b) - mean(a), CI = (mean(b) - mean(a)) +- t975(df) * se with
 *   se = sqrt(s_a^2/n_a + s_b^2/n_b) and the Welch-Satterthwaite df rounded
 *   down, at least 1. Needs >= 2 values on each side.
 * - Noise floor = max(floor.abs, floor.rel * |median(a)|, 2 * 1.4826 *
 *   MAD(a)), MAD the median absolute deviation of the baseline's values:
 *   its own round-to-round spread (1.4826 * MAD estimates a normal sd).
 * - Verdict: "higher" when ci_low > 0 and diff > noise floor; "lower" when
 *   ci_high < 0 and diff < -noise floor; otherwise "same". "unknown" when
 *   there are too few values, or the interval cannot be computed (inf - inf).
 *   When every difference is the same (sd 0) the CI is [d, d]. */
#ifndef SONDE_LAB_COMPARE_H
#define SONDE_LAB_COMPARE_H

/* Rounds per side accepted; more is -E2BIG (the work buffers are on the
 * stack, 32 KB at this size). */
#define LAB_COMPARE_N_MAX 1000
/* Student's t 0.975 quantile for infinite degrees of freedom (normal). */
#define LAB_T975_INF 1.959963985

enum lab_verdict {
	LAB_VERDICT_UNKNOWN,
	LAB_VERDICT_SAME,
	LAB_VERDICT_HIGHER,
	LAB_VERDICT_LOWER,
};

/* Smallest difference worth reporting, whatever the baseline's spread:
 * rel * |median(a)| (0.02 = 2 %) and abs in the metric's unit. NaN or 0: no
 * such minimum. */
struct lab_floor {
	double rel;
	double abs;
};

struct lab_diff {
	int n;                  /* pairs kept (paired), or min(n_a, n_b) kept (unpaired) */
	double median_a, median_b;
	double diff;            /* median_b - median_a: the headline difference */
	double diff_pct;        /* diff / |median_a| * 100; NaN when median_a is 0 or unknown */
	double ci_low, ci_high; /* 95 % confidence interval of the difference; NaN if unknown */
	double noise_floor;     /* absolute, in the metric's unit */
	enum lab_verdict verdict;
};

/* Compare n paired rounds a[i] (baseline), b[i] (tracer). f may be NULL (no
 * minimum floor). The arrays are not modified. 0, -EINVAL for a NULL pointer
 * or n < 0, -E2BIG for n > LAB_COMPARE_N_MAX; out is only written on 0.
 * With fewer than 2 pairs the verdict is unknown and the CI NaN (diff is
 * still filled with 1 pair). */
int lab_compare_paired(const double *a, const double *b, int n,
		       const struct lab_floor *f, struct lab_diff *out);
/* The same at another two-sided confidence (0 < conf < 1; ci_low/ci_high
 * are then that interval): for a family of m comparisons, 1 - 0.05 / m
 * keeps the chance of any false call at 5 % (Bonferroni). */
#define LAB_CONF_DEFAULT 0.95
int lab_compare_paired_conf(const double *a, const double *b, int n,
			    const struct lab_floor *f, double conf, struct lab_diff *out);
/* Compare na baseline values with nb tracer values from different rounds
 * (Welch). Same contract as lab_compare_paired. */
int lab_compare_unpaired(const double *a, int na, const double *b, int nb,
			 const struct lab_floor *f, struct lab_diff *out);

/* Student's t 0.975 quantile for df degrees of freedom: exact (9 digits) for
 * 1..30, 40, 60, 120, linear in 1/df between those and toward LAB_T975_INF
 * (within 0.001 of the exact value). NaN for df < 1. */
double lab_t975(int df);
/* Student's t quantile: the t with P(T <= t) = p, for 0.5 <= p < 1, from
 * the regularised incomplete beta function (bisection, ~12 digits). NaN for
 * df < 1 or p out of range. */
double lab_t_quantile(double p, int df);

/* "unknown", "same", "higher", "lower". */
const char *lab_verdict_name(enum lab_verdict v);

#endif
