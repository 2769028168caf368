/* SVG charts of the lab's results folder: line and grouped bar charts as
 * plain SVG 1.1, viewable in a browser and in GitHub's markdown (no script,
 * no external font or stylesheet, sans-serif text, white background so they
 * stay readable in a dark theme). No dependency beyond libc and libm.
 *
 * Contracts shared by both charts:
 *  - The canvas is fixed, LAB_SVG_WIDTH x LAB_SVG_HEIGHT, with margins for
 *    the title, the axes' labels and a legend at the right.
 *  - Output starts with <svg xmlns="http://www.w3.org/2000/svg" ...> (no XML
 *    declaration, so it can be inlined), then a <title> with the chart's
 *    title; it ends with </svg> and a newline.
 *  - Every text (title, labels, names) is escaped (& < > " '); control
 *    characters and bytes that are not valid UTF-8 become U+FFFD, so any C
 *    string gives well-formed XML. NULL strings are written as "".
 *  - Numbers are formatted by hand (not printf's %f/%g), so they do not
 *    depend on the locale, and carry a bounded number of digits.
 *  - A value that is NaN, +-inf or of magnitude >= 1e300 is a gap; so is, on
 *    a log10 axis, one that is not positive (or below 1e-300). Nothing
 *    non-finite ever reaches the output, and no range makes it divide by 0.
 *  - With no plottable value at all (no series, empty or all gaps), the
 *    chart is still a valid SVG: title, frame, legend and a "no data" note.
 *  - A linear y axis always includes 0 (bars start there; lines are not
 *    exaggerated); a log10 y axis covers the data with 1, 2, 5 x 10^k ticks.
 *  - Series get colours from a fixed colour-blind-safe palette (Okabe-Ito),
 *    cycling past LAB_SVG_COLOURS: lines then get a dash pattern, bars a
 *    lighter fill, so they stay distinct.
 *  - Returns 0, -EINVAL on bad arguments (nothing written), or -EIO if
 *    writing to (or flushing) f failed. f is flushed, not closed.
 *
 * Elements carry classes for tests and for styling by a page that inlines
 * the SVG: "bar" (one per drawn bar), "na" (a value that could not be
 * drawn), "series" (a line series' group), "legend", "nodata". */
#ifndef SONDE_LAB_SVG_H
#define SONDE_LAB_SVG_H

#include <stdbool.h>
#include <stdio.h>

#define LAB_SVG_WIDTH 800
#define LAB_SVG_HEIGHT 400
#define LAB_SVG_COLOURS 8

struct lab_svg_series {
	const char *name;   /* legend text (escaped on output); NULL: "" */
	const double *x;    /* n values; NULL: 0, 1, 2, ... */
	const double *y;    /* n values; a gap (see above) breaks the line */
	int n;
};

/* Line chart: one polyline per run of consecutive plottable points of each
 * series (a point alone is drawn as a dot; with few points every point gets
 * a marker), a legend, linear x axis, linear or log10 y axis, ticks and
 * labels. Points are drawn in the order given (x need not be sorted).
 * -EINVAL if f is NULL, nseries < 0, s is NULL while nseries > 0, or a
 * series has n < 0 or a NULL y while n > 0. */
int lab_svg_line_chart(FILE *f, const char *title, const char *xlabel, const char *ylabel,
		       const struct lab_svg_series *s, int nseries, bool log_y);

/* Grouped bar chart: ngroups categories along the x axis (e.g. "p50", "p90",
 * "p99", "p99.9", "max"), nseries bars in each (e.g. one per tracer), bar s
 * of group g showing values[g * nseries + s]. A gap gets no bar but a small
 * "n/a" mark. Each bar carries its value above it in a compact form (3
 * significant digits, k/M/G/T/P suffixes: 1.23k, 45.6, 0.123), rotated or
 * left out when bars are too narrow, and a tooltip. -EINVAL if f is NULL,
 * ngroups or nseries is negative, ngroups * nseries overflows an int, or
 * groups, series_names or values is NULL while it would be read. */
int lab_svg_bar_chart(FILE *f, const char *title, const char *ylabel,
		      const char *const *groups, int ngroups,
		      const char *const *series_names, int nseries,
		      const double *values, bool log_y);

/* The ticks of a linear axis, exposed for the tests: evenly spaced values
 * k * step, step = 1, 2 or 5 x 10^j, the smallest such step needing at most
 * max ticks, from the largest multiple <= lo to the smallest >= hi, in
 * ascending order (no -0), written to ticks[0 .. max-1]. lo and hi may come
 * in either order; a degenerate range (lo == hi, or narrower than 1e-6 of
 * their magnitude) is first widened by 10 % of it each side ([0, 1] for 0).
 * Returns the count, at least 2 when the range is usable; 0 if max < 2,
 * ticks is NULL, or lo or hi is not finite or of magnitude >= 1e300. In
 * the one case no nice step fits max (max 2 and a range around 0, which
 * needs -step, 0, step), returns the 2 ticks lo and hi. */
int lab_svg_nice_ticks(double lo, double hi, int max, double *ticks);

#endif
