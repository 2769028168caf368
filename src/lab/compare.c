/* Baseline vs tracer over rounds: median difference, 95 % interval, noise
 * floor and verdict; see compare.h for the definitions. */
#include "lab/compare.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>

#include "lab/stats.h"

/* 1.4826 * MAD estimates the standard deviation of a normal sample; the
 * floor is two of those. */
#define MAD_TO_SD 1.4826
#define FLOOR_SDS 2.0

/* t 0.975 quantiles, df 1..30 (computed from the regularised incomplete
 * beta function, 9 digits). */
static const double t975_small[30] = {
	12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836,
	2.446911851, 2.364624252, 2.306004135, 2.262157163, 2.228138852,
	2.200985160, 2.178812830, 2.160368656, 2.144786688, 2.131449546,
	2.119905299, 2.109815578, 2.100922040, 2.093024054, 2.085963447,
	2.079613845, 2.073873068, 2.068657610, 2.063898562, 2.059538553,
	2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456,
};

/* Anchors above 30; t is close to linear in 1/df there. */
static const struct {
	int df;
	double t;
} t975_large[] = {
	{ 30, 2.042272456 },
	{ 40, 2.021075390 },
	{ 60, 2.000297822 },
	{ 120, 1.979930405 },
};

#define T975_LARGE_N ((int)(sizeof(t975_large) / sizeof(t975_large[0])))

double lab_t975(int df)
{
	int last = T975_LARGE_N - 1;

	if (df < 1)
		return NAN;
	if (df <= 30)
		return t975_small[df - 1];
	for (int i = 1; i <= last; i++) {
		if (df <= t975_large[i].df) {
			double x0 = 1.0 / t975_large[i - 1].df, x1 = 1.0 / t975_large[i].df;
			double y0 = t975_large[i - 1].t, y1 = t975_large[i].t;

			return y0 + (y1 - y0) * (1.0 / df - x0) / (x1 - x0);
		}
	}
	/* Beyond the last anchor: linear in 1/df toward the normal quantile. */
	return LAB_T975_INF +
	       (t975_large[last].t - LAB_T975_INF) * t975_large[last].df / df;
}

/* Continued fraction of the regularised incomplete beta function (modified
 * Lentz); converges fast for x < (a + 1) / (a + b + 2). */
static double beta_cf(double a, double b, double x)
{
	const double tiny = 1e-300;
	double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0), h;

	if (fabs(d) < tiny)
		d = tiny;
	d = 1.0 / d;
	h = d;
	for (int m = 1; m <= 300; m++) {
		double m2 = 2.0 * m, aa, del;

		aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
		d = 1.0 + aa * d;
		c = 1.0 + aa / c;
		d = 1.0 / (fabs(d) < tiny ? tiny : d);
		c = fabs(c) < tiny ? tiny : c;
		h *= d * c;
		aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
		d = 1.0 + aa * d;
		c = 1.0 + aa / c;
		d = 1.0 / (fabs(d) < tiny ? tiny : d);
		c = fabs(c) < tiny ? tiny : c;
		del = d * c;
		h *= del;
		if (fabs(del - 1.0) < 1e-15)
			break;
	}
	return h;
}

/* I_x(a, b), the regularised incomplete beta function. */
static double beta_inc(double a, double b, double x)
{
	double front;

	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
	if (x < (a + 1.0) / (a + b + 2.0))
		return front * beta_cf(a, b, x) / a;
	return 1.0 - front * beta_cf(b, a, 1.0 - x) / b;
}

/* P(T <= t) for Student's t with df degrees of freedom, t >= 0. */
static double t_cdf(double t, int df)
{
	return 1.0 - 0.5 * beta_inc(df / 2.0, 0.5, df / (df + t * t));
}

double lab_t_quantile(double p, int df)
{
	double lo = 0, hi = 1;

	if (df < 1 || !(p >= 0.5 && p < 1))
		return NAN;
	while (t_cdf(hi, df) < p && hi < 1e12)
		hi *= 2;
	for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
		double mid = (lo + hi) / 2;

		if (t_cdf(mid, df) < p)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

const char *lab_verdict_name(enum lab_verdict v)
{
	switch (v) {
	case LAB_VERDICT_SAME:
		return "same";
	case LAB_VERDICT_HIGHER:
		return "higher";
	case LAB_VERDICT_LOWER:
		return "lower";
	case LAB_VERDICT_UNKNOWN:
	default:
		return "unknown";
	}
}

static double mean_of(const double *v, int n)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	return s / n;
}

/* Sample variance (n - 1), two-pass; n >= 2. */
static double var_of(const double *v, int n, double mean)
{
	double s = 0;

	for (int i = 0; i < n; i++)
		s += (v[i] - mean) * (v[i] - mean);
	return s / (n - 1);
}

static int all_equal(const double *v, int n)
{
	for (int i = 1; i < n; i++)
		if (!(v[i] == v[0]))
			return 0;
	return 1;
}

/* Copy the non-NaN values of v to dst; returns how many. */
static int copy_known(double *dst, const double *v, int n)
{
	int m = 0;

	for (int i = 0; i < n; i++)
		if (!isnan(v[i]))
			dst[m++] = v[i];
	return m;
}

/* Median of the baseline's kept values and the noise floor around it.
 * Sorts a (the caller's local copy); MAD needs one more buffer. */
static void baseline_floor(double *a, int n, const struct lab_floor *f,
			   double *median, double *noise_floor)
{
	double dev[LAB_COMPARE_N_MAX];
	double med, mad, nf = 0;

	med = lab_median(a, n);
	for (int i = 0; i < n; i++)
		dev[i] = fabs(a[i] - med);
	mad = lab_median(dev, n);   /* NaN if inf - inf; fmax skips NaN */
	if (f) {
		nf = fmax(nf, f->abs);
		nf = fmax(nf, f->rel * fabs(med));
	}
	nf = fmax(nf, FLOOR_SDS * MAD_TO_SD * mad);
	*median = med;
	*noise_floor = nf;
}

/* Fill the headline numbers of out from the kept values a[0..na) and
 * b[0..nb), which it sorts; CI and verdict unknown until decide() runs. */
static void headline(struct lab_diff *out, int n, double *a, int na,
		     double *b, int nb, const struct lab_floor *f)
{
	out->n = n;
	baseline_floor(a, na, f, &out->median_a, &out->noise_floor);
	out->median_b = lab_median(b, nb);
	out->diff = out->median_b - out->median_a;
	out->diff_pct = out->median_a == 0 || isnan(out->median_a) ?
			NAN : out->diff / fabs(out->median_a) * 100;
	out->ci_low = out->ci_high = NAN;
	out->verdict = LAB_VERDICT_UNKNOWN;
}

static void decide(struct lab_diff *out)
{
	if (isnan(out->ci_low) || isnan(out->ci_high) || isnan(out->diff))
		out->verdict = LAB_VERDICT_UNKNOWN;
	else if (out->ci_low > 0 && out->diff > out->noise_floor)
		out->verdict = LAB_VERDICT_HIGHER;
	else if (out->ci_high < 0 && out->diff < -out->noise_floor)
		out->verdict = LAB_VERDICT_LOWER;
	else
		out->verdict = LAB_VERDICT_SAME;
}

int lab_compare_paired(const double *a, const double *b, int n,
		       const struct lab_floor *f, struct lab_diff *out)
{
	return lab_compare_paired_conf(a, b, n, f, LAB_CONF_DEFAULT, out);
}

int lab_compare_paired_conf(const double *a, const double *b, int n,
			    const struct lab_floor *f, double conf, struct lab_diff *out)
{
	double ka[LAB_COMPARE_N_MAX], kb[LAB_COMPARE_N_MAX], d[LAB_COMPARE_N_MAX];
	double mean, half;
	int m = 0;

	if (!a || !b || !out || n < 0 || !(conf > 0 && conf < 1))
		return -EINVAL;
	if (n > LAB_COMPARE_N_MAX)
		return -E2BIG;
	for (int i = 0; i < n; i++) {
		if (isnan(a[i]) || isnan(b[i]))
			continue;
		ka[m] = a[i];
		kb[m] = b[i];
		d[m] = b[i] - a[i];
		m++;
	}
	headline(out, m, ka, m, kb, m, f);
	if (m < 2)
		return 0;
	if (all_equal(d, m)) {
		/* Exactly [d, d]: the mean of equal values may round. */
		out->ci_low = out->ci_high = d[0];
	} else {
		mean = mean_of(d, m);
		half = (conf == LAB_CONF_DEFAULT ? lab_t975(m - 1)
						 : lab_t_quantile(1 - (1 - conf) / 2, m - 1)) *
		       sqrt(var_of(d, m, mean) / m);
		out->ci_low = mean - half;
		out->ci_high = mean + half;
	}
	decide(out);
	return 0;
}

int lab_compare_unpaired(const double *a, int na, const double *b, int nb,
			 const struct lab_floor *f, struct lab_diff *out)
{
	double ka[LAB_COMPARE_N_MAX], kb[LAB_COMPARE_N_MAX];
	double mean_a, mean_b, va, vb, se2, wa, wb, df, half;
	int ma, mb;

	if (!a || !b || !out || na < 0 || nb < 0)
		return -EINVAL;
	if (na > LAB_COMPARE_N_MAX || nb > LAB_COMPARE_N_MAX)
		return -E2BIG;
	ma = copy_known(ka, a, na);
	mb = copy_known(kb, b, nb);
	headline(out, ma < mb ? ma : mb, ka, ma, kb, mb, f);
	if (ma < 2 || mb < 2)
		return 0;
	mean_a = mean_of(ka, ma);
	mean_b = mean_of(kb, mb);
	if (all_equal(ka, ma) && all_equal(kb, mb)) {
		out->ci_low = out->ci_high = kb[0] - ka[0];
		decide(out);
		return 0;
	}
	va = var_of(ka, ma, mean_a) / ma;
	vb = var_of(kb, mb, mean_b) / mb;
	se2 = va + vb;
	if (se2 == 0) {
		/* The spread underflowed: as good as no spread. */
		out->ci_low = out->ci_high = mean_b - mean_a;
		decide(out);
		return 0;
	}
	/* Welch-Satterthwaite, written with the shares of se2 so that no
	 * square overflows or underflows; NaN when a side holds inf. */
	wa = va / se2;
	wb = vb / se2;
	df = 1 / (wa * wa / (ma - 1) + wb * wb / (mb - 1));
	if (!isnan(df)) {
		/* In theory df lies in [min(ma, mb) - 1, ma + mb - 2]; clamp so
		 * that rounding cannot leave the range of an int. */
		int idf = df < 1 ? 1 : df > ma + mb - 2 ? ma + mb - 2 : (int)floor(df);

		half = lab_t975(idf) * sqrt(se2);
		out->ci_low = mean_b - mean_a - half;
		out->ci_high = mean_b - mean_a + half;
	}
	decide(out);
	return 0;
}
