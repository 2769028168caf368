/* Summary statistics of the lab over a handful of rounds: median, min, max
 * and percentiles of doubles, where NaN means "unknown" and is left out.
 * O(n log n) (a sort); n is a number of rounds, not of samples. */
#ifndef SONDE_LAB_STATS_H
#define SONDE_LAB_STATS_H

/* Median of the non-NaN values of v (reordered in place); NaN if none. */
double lab_median(double *v, int n);
/* Smallest / largest non-NaN value; NaN if none. */
double lab_min(const double *v, int n);
double lab_max(const double *v, int n);
/* p-th percentile (0..100, linear interpolation between closest ranks) of the
 * non-NaN values of v (reordered in place); NaN if none. */
double lab_percentile(double *v, int n, double p);

#endif
