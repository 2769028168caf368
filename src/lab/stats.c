/* Median, min, max and percentiles over rounds; see stats.h. */
#include "lab/stats.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Move the non-NaN values to the front, sorted; returns how many. */
static int sort_known(double *v, int n)
{
	int m = 0;

	for (int i = 0; i < n; i++)
		if (!isnan(v[i]))
			v[m++] = v[i];
	qsort(v, (size_t)m, sizeof(*v), cmp_double);
	return m;
}

double lab_median(double *v, int n)
{
	int m = sort_known(v, n);

	if (!m)
		return NAN;
	return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

double lab_min(const double *v, int n)
{
	double r = NAN;

	for (int i = 0; i < n; i++)
		if (!isnan(v[i]) && (isnan(r) || v[i] < r))
			r = v[i];
	return r;
}

double lab_max(const double *v, int n)
{
	double r = NAN;

	for (int i = 0; i < n; i++)
		if (!isnan(v[i]) && (isnan(r) || v[i] > r))
			r = v[i];
	return r;
}

double lab_percentile(double *v, int n, double p)
{
	int m = sort_known(v, n);
	double rank, frac;
	int lo;

	if (!m)
		return NAN;
	if (p <= 0)
		return v[0];
	if (p >= 100)
		return v[m - 1];
	rank = p / 100.0 * (m - 1);
	lo = (int)rank;
	frac = rank - lo;
	return lo + 1 < m ? v[lo] + frac * (v[lo + 1] - v[lo]) : v[lo];
}
