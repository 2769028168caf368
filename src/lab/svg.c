/* SVG charts of the lab; see svg.h. Everything is written with fputs and
 * fprintf of integers and strings: numbers go through fmt_fixed, which does
 * the decimal formatting itself, so no locale can turn "1.5" into "1,5". */
#include "lab/svg.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Layout of the canvas: plot area inside these margins; the right margin
 * grows to hold the legend. */
#define W LAB_SVG_WIDTH
#define H LAB_SVG_HEIGHT
#define PAD_L 72
#define PAD_T 48
#define PAD_B 58
#define PAD_R 20
#define LEGEND_ROW 18
#define LEGEND_CP 24      /* legend names are cut to this many characters */
#define CHAR_W 7.0        /* rough width of a character at font-size 12 */
#define SMALL_CHAR_W 6.0  /* ... at font-size 10 */
#define MAX_TICKS 16
#define X_TICKS 10
#define Y_TICKS 8
#define LOG_TICKS 10
#define MARKERS_UP_TO 40  /* series this short get a marker on every point */

/* Magnitudes outside [LO_LIMIT, HI_LIMIT) are not plotted (see svg.h). */
#define HI_LIMIT 1e300
#define LO_LIMIT 1e-300

/* Okabe-Ito, blue first; yellow, the weakest on white, last. */
static const char *const palette[LAB_SVG_COLOURS] = {
	"#0072B2", "#E69F00", "#009E73", "#D55E00",
	"#CC79A7", "#56B4E9", "#000000", "#F0E442",
};
/* Dash patterns of the 2nd, 3rd, ... trip round the palette ("" = solid). */
static const char *const dashes[] = { "", "6 3", "2 2", "8 3 2 3" };

/* ---- numbers ---------------------------------------------------------- */

static const double pow10_small[] = {
	1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
};

/* |v| rounded to dec (0..9) decimals, sign and all, without printf's %f.
 * |v| * 10^dec must stay below 9e18; anything else (and non-finite) is "0",
 * which callers never rely on: they keep their values in range. */
static void fmt_fixed(char *b, size_t n, double v, int dec)
{
	unsigned long long q, p;
	double a;

	if (dec < 0)
		dec = 0;
	if (dec > 9)
		dec = 9;
	a = fabs(v) * pow10_small[dec];
	if (!(a < 9e18)) { /* also NaN */
		snprintf(b, n, "0");
		return;
	}
	q = (unsigned long long)(a + 0.5);
	p = (unsigned long long)pow10_small[dec];
	if (dec == 0)
		snprintf(b, n, "%s%llu", v < 0 && q ? "-" : "", q);
	else
		snprintf(b, n, "%s%llu.%0*llu", v < 0 && q ? "-" : "", q / p, dec, q % p);
}

/* Drop the trailing zeros of a fraction, and its point if nothing is left. */
static void strip_zeros(char *b)
{
	size_t len;

	if (!strchr(b, '.'))
		return;
	len = strlen(b);
	while (len && b[len - 1] == '0')
		b[--len] = '\0';
	if (len && b[len - 1] == '.')
		b[--len] = '\0';
}

static void append(char *b, size_t n, const char *s)
{
	size_t len = strlen(b);

	if (len < n)
		snprintf(b + len, n - len, "%s", s);
}

/* v as mantissa (dec decimals, trailing zeros dropped) "e" exponent. v is
 * finite and not 0. */
static void fmt_sci(char *b, size_t n, double v, int dec)
{
	char e_buf[16];
	double p, m;
	int e;

	if (dec < 0)
		dec = 0;
	if (dec > 9)
		dec = 9;
	e = (int)floor(log10(fabs(v)));
	p = pow(10.0, e);
	if (!(p > 0) || !isfinite(p)) {
		snprintf(b, n, "0");
		return;
	}
	m = v / p;
	if (fabs(m) >= 10) {
		m /= 10;
		e++;
	} else if (fabs(m) < 1) {
		m *= 10;
		e--;
	}
	/* 9.996 with 2 decimals would print as 10.00 */
	if (floor(fabs(m) * pow10_small[dec] + 0.5) >= 10 * pow10_small[dec]) {
		m /= 10;
		e++;
	}
	fmt_fixed(b, n, m, dec);
	strip_zeros(b);
	snprintf(e_buf, sizeof(e_buf), "e%d", e);
	append(b, n, e_buf);
}

static const char si_suffix[][2] = { "", "k", "M", "G", "T", "P" };

/* 3 significant digits, k/M/G/T/P above 1000, scientific below 0.001 and
 * from 1e18: "0", "0.00123", "0.123", "45.6", "123", "1.23k", "45M". */
static void fmt_compact(char *b, size_t n, double v)
{
	double a = fabs(v);
	int k = 0, dec;

	if (!isfinite(v)) {
		snprintf(b, n, "n/a");
		return;
	}
	if (a == 0) {
		snprintf(b, n, "0");
		return;
	}
	if (a < 1e-3 || a >= 999.5e15) {
		fmt_sci(b, n, v, 2);
		return;
	}
	while (k < 5 && a >= 999.5) { /* 999.5 would round up to "1000" */
		a /= 1000;
		v /= 1000;
		k++;
	}
	if (a >= 99.95)
		dec = 0;
	else if (a >= 9.995)
		dec = 1;
	else if (a >= 1)
		dec = 2;
	else
		dec = 2 - (int)floor(log10(a)); /* 0.123 -> 3, 0.00123 -> 5 */
	fmt_fixed(b, n, v, dec);
	strip_zeros(b);
	append(b, n, si_suffix[k]);
}

/* Label of a linear axis' tick v: step = m * 10^step_exp, maxabs = the
 * largest |tick|. Enough decimals to tell ticks apart, one k/M/G/T/P
 * suffix for the whole axis ("0", "0.5M", "1M"), scientific for tiny or
 * huge axes. */
static void fmt_tick(char *b, size_t n, double v, int step_exp, double maxabs)
{
	double d = 1;
	int k = 0;

	if (v == 0) {
		snprintf(b, n, "0");
		return;
	}
	if (maxabs >= 1e18 || maxabs < 1e-4) {
		fmt_sci(b, n, v, (int)floor(log10(fabs(v))) - step_exp);
		return;
	}
	if (maxabs >= 1e4)
		while (k < 5 && d * 1000 <= maxabs) {
			d *= 1000;
			k++;
		}
	fmt_fixed(b, n, v / d, 3 * k - step_exp);
	strip_zeros(b);
	append(b, n, si_suffix[k]);
}

/* A pixel coordinate, 1 decimal at most: rotating thread-local buffers,
 * enough for any one fprintf. Clamped well inside what fmt_fixed takes. */
#define COORD_BUFS 32
static const char *C(double v)
{
	static _Thread_local char bufs[COORD_BUFS][32];
	static _Thread_local unsigned next;
	char *b = bufs[next++ % COORD_BUFS];

	if (!isfinite(v))
		v = 0;
	if (v > 1e6)
		v = 1e6;
	if (v < -1e6)
		v = -1e6;
	fmt_fixed(b, 32, v, 1);
	strip_zeros(b);
	return b;
}

/* ---- text -------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (its code point in *cp), or 0. */
static int utf8_seq(const unsigned char *p, uint32_t *cp)
{
	uint32_t c = p[0], min;
	int len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (int i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* XML 1.0's Char production. */
static bool xml_char(uint32_t c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/* Characters of s as put_text counts them (an invalid byte is one). */
static int text_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int n = 0;

	while (*p) {
		uint32_t c;
		int len = utf8_seq(p, &c);

		p += len ? len : 1;
		if (n < INT_MAX)
			n++;
	}
	return n;
}

/* s as XML character data, escaped, invalid characters as U+FFFD; cut to
 * max characters (the last one an ellipsis) when max > 0 and s is longer. */
static void put_text(FILE *f, const char *s, int max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	int left = max > 0 && text_len(s) > max ? max - 1 : -1;

	while (*p && left != 0) {
		uint32_t c;
		int len = utf8_seq(p, &c);

		if (!len || !xml_char(c)) {
			fputs("\xef\xbf\xbd", f);
			len = len ? len : 1;
		} else if (c == '&') {
			fputs("&amp;", f);
		} else if (c == '<') {
			fputs("&lt;", f);
		} else if (c == '>') {
			fputs("&gt;", f);
		} else if (c == '"') {
			fputs("&quot;", f);
		} else if (c == '\'') {
			fputs("&#39;", f);
		} else {
			fwrite(p, 1, (size_t)len, f);
		}
		p += len;
		if (left > 0)
			left--;
	}
	if (left == 0)
		fputs("\xe2\x80\xa6", f);
}

/* ---- axes -------------------------------------------------------------- */

static bool usable(double v)
{
	return isfinite(v) && fabs(v) < HI_LIMIT;
}

static bool plottable(double v, bool log)
{
	return usable(v) && (!log || v >= LO_LIMIT);
}

/* lab_svg_nice_ticks, also giving the step's exponent (for the labels). */
static int nice_ticks(double lo, double hi, int max, double *ticks, int *step_exp)
{
	static const int mult[] = { 1, 2, 5 };
	double m, raw;
	int e;

	if (!ticks || max < 2 || !usable(lo) || !usable(hi))
		return 0;
	if (lo > hi) {
		double t = lo;

		lo = hi;
		hi = t;
	}
	m = fmax(fabs(lo), fabs(hi));
	/* Narrower than 1e-6 of the values: the ticks' spacing would be lost
	 * in the doubles' rounding and their labels would not differ. */
	if (hi - lo < 1e-200 || hi - lo <= m * 1e-6) {
		if (m < 1e-200) {
			double l = lo < 0 ? -1 : 0;

			hi = hi > 0 || l == 0 ? 1 : 0;
			lo = l;
		} else {
			lo -= m * 0.1;
			hi += m * 0.1;
		}
	}
	raw = (hi - lo) / (max - 1);
	e = (int)floor(log10(raw));
	/* Steps 1, 2, 5 x 10^k from just below raw up: the first that fits.
	 * Each trip multiplies the step by 10, and a step of the whole range
	 * needs at most 3 ticks, so a handful of decades always suffices;
	 * the bound only matters for max == 2 around 0. */
	for (int it = 0; it < 3 * 12; it++) {
		int k = e + it / 3, mm = mult[it % 3];
		double p = pow(10.0, abs(k));
		double step = k >= 0 ? mm * p : mm / p;
		/* lo / step may be off by an ulp or so: 2.9999999999999996
		 * is 3. The slack is relative, so a range far smaller than
		 * the step is not taken for 0. */
		double l = lo / step, h = hi / step;
		double i0 = floor(l + 1e-12 * fabs(l)), i1 = ceil(h - 1e-12 * fabs(h));
		int n;

		if (!(step > 0) || !isfinite(step))
			break;
		if (i1 <= i0)
			i1 = i0 + 1;
		if (i1 - i0 + 1 > max)
			continue;
		n = (int)(i1 - i0) + 1;
		for (int i = 0; i < n; i++) {
			double q = (i0 + i) * mm;

			/* q / 10^j, not q * 10^-j: 0.3, not 0.30000000000000004 */
			ticks[i] = (k >= 0 ? q * p : q / p) + 0.0; /* + 0.0: no -0 */
		}
		*step_exp = k;
		return n;
	}
	ticks[0] = lo;
	ticks[1] = hi;
	*step_exp = (int)floor(log10(hi - lo));
	return 2;
}

int lab_svg_nice_ticks(double lo, double hi, int max, double *ticks)
{
	int step_exp;

	return nice_ticks(lo, hi, max, ticks, &step_exp);
}

struct axis {
	bool log;
	double lo, hi;          /* ends, in axis units (log10 of values if log) */
	int n;
	double t[MAX_TICKS];    /* tick values (data units) */
	int step_exp;           /* linear: the ticks' step is m * 10^step_exp */
	double maxabs;          /* linear: largest |tick| */
};

static void axis_linear(struct axis *a, double lo, double hi, int max)
{
	a->log = false;
	a->n = nice_ticks(lo, hi, max, a->t, &a->step_exp);
	if (a->n < 2) { /* lo, hi not usable: callers do not do that */
		a->n = 2;
		a->t[0] = 0;
		a->t[1] = 1;
		a->step_exp = 0;
	}
	a->lo = a->t[0];
	a->hi = a->t[a->n - 1];
	if (!(a->hi > a->lo))
		a->hi = a->lo + 1;
	a->maxabs = fmax(fabs(a->lo), fabs(a->hi));
}

static int floor_div(int a, int b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Value j of the sequence ..., 0.5, 1, 2, 5, 10, 20, ... (1 at j = 0). */
static double seq125(int j)
{
	static const int mult[] = { 1, 2, 5 };
	int k = floor_div(j, 3);
	double p = pow(10.0, abs(k));

	return k >= 0 ? mult[j - 3 * k] * p : mult[j - 3 * k] / p;
}

/* A log10 axis covering [vmin, vmax] (LO_LIMIT <= vmin <= vmax < HI_LIMIT):
 * from the largest 1, 2, 5 x 10^k <= vmin to the smallest >= vmax, all of
 * them as ticks if they fit max; else whole decades as the ends and every
 * s-th power of ten as a tick, s = 1, 2, 5, 10, ... */
static void axis_log(struct axis *a, double vmin, double vmax, int max)
{
	int jlo = 3 * (int)floor(log10(vmin)), jhi = 3 * (int)floor(log10(vmax));

	a->log = true;
	/* log10 of an exact power of ten may be off by one ulp: adjust. */
	while (seq125(jlo) > vmin)
		jlo--;
	while (seq125(jlo + 1) <= vmin)
		jlo++;
	while (seq125(jhi) < vmax)
		jhi++;
	while (seq125(jhi - 1) >= vmax)
		jhi--;
	if (jhi <= jlo)
		jhi = jlo + 1;
	if (jhi - jlo + 1 <= max) {
		a->n = jhi - jlo + 1;
		for (int i = 0; i < a->n; i++)
			a->t[i] = seq125(jlo + i);
		a->lo = log10(a->t[0]);
		a->hi = log10(a->t[a->n - 1]);
	} else {
		int dlo = floor_div(jlo, 3), dhi = -floor_div(-jhi, 3), s = 1;

		/* Stay within the data's decades: multiples of s beyond them
		 * may not be representable (10^-400). */
		for (int it = 0; it < 12; it++) {
			s = (int)seq125(it);
			if (-floor_div(-dhi, s) - floor_div(dlo, s) + 1 <= max)
				break;
		}
		a->n = 0;
		for (int d = -floor_div(-dlo, s) * s; d <= dhi && a->n < max; d += s)
			a->t[a->n++] = pow(10.0, d);
		a->lo = dlo;
		a->hi = dhi;
	}
	if (!(a->hi > a->lo))
		a->hi = a->lo + 1;
	a->maxabs = 0;
}

/* Where v lies along the axis: 0 at lo, 1 at hi. */
static double axis_frac(const struct axis *a, double v)
{
	double t = a->log ? log10(v) : v;

	return (t - a->lo) / (a->hi - a->lo);
}

static void tick_label(char *b, size_t n, const struct axis *a, double v)
{
	if (a->log)
		fmt_compact(b, n, v);
	else
		fmt_tick(b, n, v, a->step_exp, a->maxabs);
}

/* ---- pieces of a chart ------------------------------------------------- */

struct plot {
	double x0, x1, y0, y1; /* plot area: left, right, top, bottom */
};

static double plot_x(const struct plot *p, const struct axis *a, double v)
{
	return p->x0 + axis_frac(a, v) * (p->x1 - p->x0);
}

static double plot_y(const struct plot *p, const struct axis *a, double v)
{
	return p->y1 - axis_frac(a, v) * (p->y1 - p->y0);
}

/* Width the legend needs for names of up to maxlen characters. */
static double legend_width(int nseries, int maxlen)
{
	if (nseries <= 0)
		return 0;
	if (maxlen > LEGEND_CP)
		maxlen = LEGEND_CP;
	return 30 + CHAR_W * maxlen;
}

static void plot_area(struct plot *p, double legend_w)
{
	p->x0 = PAD_L;
	p->x1 = W - (legend_w > 0 ? legend_w + 16 + 10 : PAD_R);
	if (p->x1 < p->x0 + 100) /* cannot happen with LEGEND_CP, but */
		p->x1 = p->x0 + 100;
	p->y0 = PAD_T;
	p->y1 = H - PAD_B;
}

static void svg_begin(FILE *f, const char *title)
{
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
		   "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		   "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
	fputs("<title>", f);
	put_text(f, title, 0);
	fputs("</title>\n", f);
	fprintf(f, "<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
		W, H);
	fprintf(f, "<text class=\"title\" x=\"%s\" y=\"26\" text-anchor=\"middle\" font-size=\"16\" "
		   "font-weight=\"bold\" fill=\"#222222\">", C(W / 2.0));
	put_text(f, title, (int)(W / 9.0));
	fputs("</text>\n", f);
}

static int svg_end(FILE *f)
{
	fputs("</svg>\n", f);
	if (fflush(f) != 0 || ferror(f))
		return -EIO;
	return 0;
}

static void no_data(FILE *f, const struct plot *p)
{
	fprintf(f, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" "
		   "stroke=\"#cccccc\"/>\n",
		C(p->x0), C(p->y0), C(p->x1 - p->x0), C(p->y1 - p->y0));
	fprintf(f, "<text class=\"nodata\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" "
		   "font-size=\"14\" fill=\"#888888\">no data</text>\n",
		C((p->x0 + p->x1) / 2), C((p->y0 + p->y1) / 2));
}

static void y_axis(FILE *f, const struct plot *p, const struct axis *a, const char *ylabel)
{
	char b[48];

	fputs("<g class=\"y-axis\">\n", f);
	for (int i = 0; i < a->n; i++) {
		double y = plot_y(p, a, a->t[i]);
		bool zero = !a->log && a->t[i] == 0 && a->lo < 0;

		fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\"/>\n",
			C(p->x0), C(y), C(p->x1), C(y), zero ? "#888888" : "#e4e4e4");
		tick_label(b, sizeof(b), a, a->t[i]);
		fprintf(f, "<text x=\"%s\" y=\"%s\" text-anchor=\"end\" fill=\"#444444\">%s</text>\n",
			C(p->x0 - 6), C(y + 4), b);
	}
	fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#444444\"/>\n",
		C(p->x0), C(p->y0), C(p->x0), C(p->y1));
	fprintf(f, "<text x=\"0\" y=\"0\" transform=\"translate(16 %s) rotate(-90)\" "
		   "text-anchor=\"middle\" fill=\"#222222\">", C((p->y0 + p->y1) / 2));
	put_text(f, ylabel, (int)((p->y1 - p->y0) / CHAR_W));
	fputs("</text>\n</g>\n", f);
}

static void x_axis_line(FILE *f, const struct plot *p)
{
	fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#444444\"/>\n",
		C(p->x0), C(p->y1), C(p->x1), C(p->y1));
}

static void x_axis(FILE *f, const struct plot *p, const struct axis *a, const char *xlabel)
{
	char b[48];

	fputs("<g class=\"x-axis\">\n", f);
	for (int i = 0; i < a->n; i++) {
		double x = plot_x(p, a, a->t[i]);

		fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#f0f0f0\"/>\n",
			C(x), C(p->y0), C(x), C(p->y1));
		fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"#444444\"/>\n",
			C(x), C(p->y1), C(x), C(p->y1 + 4));
		tick_label(b, sizeof(b), a, a->t[i]);
		fprintf(f, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"#444444\">%s</text>\n",
			C(x), C(p->y1 + 18), b);
	}
	x_axis_line(f, p);
	fprintf(f, "<text x=\"%s\" y=\"%d\" text-anchor=\"middle\" fill=\"#222222\">",
		C((p->x0 + p->x1) / 2), H - 14);
	put_text(f, xlabel, (int)((p->x1 - p->x0) / CHAR_W));
	fputs("</text>\n</g>\n", f);
}

/* Series i's colour, and its dash pattern / fill opacity on later trips
 * round the palette. */
static const char *colour(int i)
{
	return palette[i % LAB_SVG_COLOURS];
}

static const char *dash(int i)
{
	return dashes[(i / LAB_SVG_COLOURS) % (int)(sizeof(dashes) / sizeof(dashes[0]))];
}

static const char *bar_opacity(int i)
{
	return (i / LAB_SVG_COLOURS) % 2 ? "0.5" : "1";
}

/* Legend at the right of the plot: as many rows as fit, then "+N more". */
static void legend(FILE *f, const struct plot *p, int nseries, bool bars,
		   const char *(*name)(const void *ctx, int i), const void *ctx)
{
	int rows = (int)((p->y1 - p->y0) / LEGEND_ROW);
	double x = p->x1 + 16;

	if (nseries <= 0)
		return;
	if (nseries > rows)
		rows--;
	else
		rows = nseries;
	fputs("<g class=\"legend\">\n", f);
	for (int i = 0; i < rows; i++) {
		double y = p->y0 + 6 + i * LEGEND_ROW;

		if (bars)
			fprintf(f, "<rect class=\"swatch\" x=\"%s\" y=\"%s\" width=\"12\" height=\"12\" "
				   "fill=\"%s\" fill-opacity=\"%s\"/>\n",
				C(x + 4), C(y - 6), colour(i), bar_opacity(i));
		else
			fprintf(f, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" "
				   "stroke-width=\"2\" stroke-dasharray=\"%s\"/>\n",
				C(x), C(y), C(x + 20), C(y), colour(i), *dash(i) ? dash(i) : "none");
		fprintf(f, "<text x=\"%s\" y=\"%s\" fill=\"#222222\">", C(x + 26), C(y + 4));
		put_text(f, name(ctx, i), LEGEND_CP);
		fputs("</text>\n", f);
	}
	if (rows < nseries)
		fprintf(f, "<text x=\"%s\" y=\"%s\" fill=\"#666666\">+%d more</text>\n",
			C(x + 26), C(p->y0 + 10 + rows * LEGEND_ROW), nseries - rows);
	fputs("</g>\n", f);
}

/* ---- line chart -------------------------------------------------------- */

static const char *series_name(const void *ctx, int i)
{
	return ((const struct lab_svg_series *)ctx)[i].name;
}

static double series_x(const struct lab_svg_series *s, int i)
{
	return s->x ? s->x[i] : i;
}

static bool point_ok(const struct lab_svg_series *s, int i, bool log_y)
{
	return plottable(series_x(s, i), false) && plottable(s->y[i], log_y);
}

static void dot(FILE *f, double x, double y, double r, const char *fill)
{
	fprintf(f, "<circle cx=\"%s\" cy=\"%s\" r=\"%s\" fill=\"%s\" stroke=\"none\"/>\n",
		C(x), C(y), C(r), fill);
}

static void line_series(FILE *f, const struct plot *p, const struct axis *ax,
			const struct axis *ay, const struct lab_svg_series *s, int idx, bool log_y)
{
	bool markers = s->n <= MARKERS_UP_TO;

	fprintf(f, "<g class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
		   "stroke-linejoin=\"round\" stroke-linecap=\"round\"", colour(idx));
	if (*dash(idx))
		fprintf(f, " stroke-dasharray=\"%s\"", dash(idx));
	fputs(">\n", f);
	for (int i = 0; i < s->n; i++) {
		int j;

		if (!point_ok(s, i, log_y))
			continue;
		/* A run of plottable points i .. j-1. */
		for (j = i + 1; j < s->n && point_ok(s, j, log_y); j++)
			;
		if (j - i >= 2) {
			fputs("<polyline points=\"", f);
			for (int k = i; k < j; k++)
				fprintf(f, "%s%s,%s", k > i ? " " : "",
					C(plot_x(p, ax, series_x(s, k))), C(plot_y(p, ay, s->y[k])));
			fputs("\"/>\n", f);
		}
		if (markers || j - i == 1)
			for (int k = i; k < j; k++)
				dot(f, plot_x(p, ax, series_x(s, k)), plot_y(p, ay, s->y[k]),
				    j - i == 1 ? 3 : 2.5, colour(idx));
		i = j;
	}
	fputs("</g>\n", f);
}

int lab_svg_line_chart(FILE *f, const char *title, const char *xlabel, const char *ylabel,
		       const struct lab_svg_series *s, int nseries, bool log_y)
{
	double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
	struct axis ax, ay;
	struct plot p;
	long points = 0;
	int maxlen = 0;

	if (!f || nseries < 0 || (nseries > 0 && !s))
		return -EINVAL;
	for (int i = 0; i < nseries; i++)
		if (s[i].n < 0 || (s[i].n > 0 && !s[i].y))
			return -EINVAL;

	for (int i = 0; i < nseries; i++) {
		int len = text_len(s[i].name);

		if (len > maxlen)
			maxlen = len;
		for (int k = 0; k < s[i].n; k++) {
			double x = series_x(&s[i], k), y = s[i].y[k];

			if (!point_ok(&s[i], k, log_y))
				continue;
			xmin = fmin(xmin, x);
			xmax = fmax(xmax, x);
			ymin = fmin(ymin, y);
			ymax = fmax(ymax, y);
			points++;
		}
	}
	plot_area(&p, legend_width(nseries, maxlen));
	svg_begin(f, title);
	if (!points) {
		no_data(f, &p);
	} else {
		axis_linear(&ax, xmin, xmax, X_TICKS);
		if (log_y)
			axis_log(&ay, ymin, ymax, LOG_TICKS);
		else
			axis_linear(&ay, fmin(ymin, 0), fmax(ymax, 0), Y_TICKS);
		y_axis(f, &p, &ay, ylabel);
		x_axis(f, &p, &ax, xlabel);
		for (int i = 0; i < nseries; i++)
			line_series(f, &p, &ax, &ay, &s[i], i, log_y);
	}
	legend(f, &p, nseries, false, series_name, s);
	return svg_end(f);
}

/* ---- bar chart --------------------------------------------------------- */

static const char *array_name(const void *ctx, int i)
{
	return ((const char *const *)ctx)[i];
}

/* A value's text: horizontal above the bar if it fits its width, else
 * rotated upwards if the bar is wide enough for the text's height. y is
 * where the text starts: above the bar's end, or below it for a negative
 * bar. */
static void bar_text(FILE *f, const char *cls, const char *text, double cx, double y,
		     double bw, bool below, const char *fill)
{
	double tw = SMALL_CHAR_W * (double)strlen(text);

	if (bw >= tw + 2) {
		fprintf(f, "<text class=\"%s\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" "
			   "font-size=\"10\" fill=\"%s\">%s</text>\n",
			cls, C(cx), C(below ? y + 11 : y - 3), fill, text);
	} else if (bw >= 9) {
		double ty = below ? y + 3 : y - 3;

		fprintf(f, "<text class=\"%s\" x=\"%s\" y=\"%s\" transform=\"rotate(-90 %s %s)\" "
			   "text-anchor=\"%s\" font-size=\"10\" fill=\"%s\">%s</text>\n",
			cls, C(cx + 3.5), C(ty), C(cx + 3.5), C(ty), below ? "end" : "start",
			fill, text);
	}
}

/* Where a bar cannot be drawn: "n/a" on the baseline, or a grey dash if
 * even rotated text does not fit. */
static void na_mark(FILE *f, double cx, double base, double bw)
{
	if (bw >= 9)
		bar_text(f, "na", "n/a", cx, base, bw, false, "#888888");
	else
		fprintf(f, "<rect class=\"na\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"2\" "
			   "fill=\"#888888\"/>\n", C(cx - bw / 4), C(base - 3), C(bw / 2));
}

int lab_svg_bar_chart(FILE *f, const char *title, const char *ylabel,
		      const char *const *groups, int ngroups,
		      const char *const *series_names, int nseries,
		      const double *values, bool log_y)
{
	double vmin = INFINITY, vmax = -INFINITY, gw, bw, base;
	struct axis ay;
	struct plot p;
	int maxlen = 0, count = 0;

	if (!f || ngroups < 0 || nseries < 0 ||
	    (nseries > 0 && ngroups > INT_MAX / nseries) ||
	    (ngroups > 0 && !groups) || (nseries > 0 && !series_names) ||
	    (ngroups > 0 && nseries > 0 && !values))
		return -EINVAL;

	for (int i = 0; i < nseries; i++) {
		int len = text_len(series_names[i]);

		if (len > maxlen)
			maxlen = len;
	}
	for (int i = 0; i < ngroups * nseries; i++) {
		if (!plottable(values[i], log_y))
			continue;
		vmin = fmin(vmin, values[i]);
		vmax = fmax(vmax, values[i]);
		count++;
	}
	plot_area(&p, legend_width(nseries, maxlen));
	svg_begin(f, title);
	gw = ngroups > 0 ? (p.x1 - p.x0) / ngroups : 0;
	bw = nseries > 0 ? gw * 0.8 / nseries : 0;
	if (!count) {
		no_data(f, &p);
	} else {
		/* Bars of a log axis start at its bottom: keep that below the
		 * smallest value, so its bar does not vanish. */
		if (log_y)
			axis_log(&ay, vmin * (1 - 1e-9), vmax, LOG_TICKS);
		else
			axis_linear(&ay, fmin(vmin, 0), fmax(vmax, 0), Y_TICKS);
		y_axis(f, &p, &ay, ylabel);
		base = log_y ? p.y1 : plot_y(&p, &ay, 0);
		for (int g = 0; g < ngroups; g++) {
			fprintf(f, "<g class=\"group\">\n");
			for (int i = 0; i < nseries; i++) {
				double v = values[g * nseries + i];
				double x = p.x0 + g * gw + gw * 0.1 + i * bw, cx = x + bw / 2;
				double y, top, h;
				char b[48];

				if (!plottable(v, log_y)) {
					na_mark(f, cx, base, bw);
					continue;
				}
				y = plot_y(&p, &ay, v);
				top = fmin(y, base);
				h = fabs(base - y);
				fmt_compact(b, sizeof(b), v);
				fprintf(f, "<rect class=\"bar\" x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" "
					   "fill=\"%s\" fill-opacity=\"%s\"><title>",
					C(x), C(top), C(bw > 1.5 ? bw - 1 : bw), C(h), colour(i),
					bar_opacity(i));
				put_text(f, series_names[i], 0);
				fputs(", ", f);
				put_text(f, groups[g], 0);
				fprintf(f, ": %s</title></rect>\n", b);
				bar_text(f, "value", b, cx, y, bw, y > base, "#333333");
			}
			fputs("</g>\n", f);
		}
	}
	if (count)
		x_axis_line(f, &p);
	for (int g = 0; g < ngroups; g++) {
		fprintf(f, "<text class=\"group-label\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" "
			   "fill=\"#222222\">", C(p.x0 + (g + 0.5) * gw), C(p.y1 + 18));
		put_text(f, groups[g], (int)(gw / CHAR_W) > 1 ? (int)(gw / CHAR_W) : 1);
		fputs("</text>\n", f);
	}
	legend(f, &p, nseries, true, array_name, series_names);
	return svg_end(f);
}
