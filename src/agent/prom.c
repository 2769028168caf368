/* Prometheus text exposition of the agent's series and counters. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/prom.h"

#define REPLACEMENT_CHAR "\xef\xbf\xbd" /* U+FFFD */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid.
 * Overlongs, surrogates and code points past U+10FFFF are invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* A byte copied as it is: printable ASCII but \\ and ". */
static inline bool plain_ascii(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* Write the first n bytes of value, escaped, at out, which has room for 3n
 * (the worst case: every byte invalid, each one U+FFFD); the length
 * written. */
static size_t escape_raw(char *out, const char *value, size_t n)
{
	const unsigned char *s = (const unsigned char *)value;
	char *p = out;
	size_t i = 0, run = 0;

	/* copy runs of plain bytes at once: a label is mostly plain ASCII,
	 * skipped by a tight loop before anything else is looked at */
	while (i < n) {
		unsigned char c;
		size_t l;
		const char *rep = NULL;

		while (i < n && plain_ascii(s[i])) {
			i++;
			run++;
		}
		if (i >= n)
			break;
		c = s[i];
		l = utf8_len(s + i, n - i);
		if (c == '\\')
			rep = "\\\\";
		else if (c == '"')
			rep = "\\\"";
		else if (c == '\n')
			rep = "\\n";
		else if (!l || c < 0x20 || c == 0x7f)
			rep = REPLACEMENT_CHAR;
		if (!rep) {
			run += l;
			i += l;
			continue;
		}
		memcpy(p, value + i - run, run);
		p += run;
		run = 0;
		for (; *rep; rep++)
			*p++ = *rep;
		i++;
	}
	memcpy(p, value + i - run, run);
	return (size_t)(p - out) + run;
}

int prom_escape_label(struct strbuf *b, const char *value)
{
	size_t n = strlen(value);
	char *at;
	int err = strbuf_room(b, 3 * n, &at);

	if (!err)
		strbuf_commit(b, escape_raw(at, value, n));
	return err;
}

int prom_header(struct strbuf *b, const char *name, const char *type, const char *help)
{
	return strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Decimal text of v at out (room for 20); its length. printf is the slow
 * part of a big page, and a bucket line is mostly this. */
static size_t u64_text(uint64_t v, char *out)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static int labels_write(struct strbuf *b, const char *name, const struct prom_label *labels,
			size_t n)
{
	int err = strbuf_puts(b, name);

	if (!n || err)
		return err;
	err = strbuf_append(b, "{", 1);
	for (size_t i = 0; i < n && !err; i++) {
		err = i ? strbuf_append(b, ",", 1) : 0;
		if (!err)
			err = strbuf_puts(b, labels[i].name);
		if (!err)
			err = strbuf_append(b, "=\"", 2);
		if (!err)
			err = prom_escape_label(b, labels[i].value ? labels[i].value : "");
		if (!err)
			err = strbuf_append(b, "\"", 1);
	}
	return err ? err : strbuf_append(b, "}", 1);
}

int prom_sample_u64(struct strbuf *b, const char *name, const struct prom_label *labels,
		    size_t n_labels, uint64_t value)
{
	char text[24];
	size_t n;
	int err = labels_write(b, name, labels, n_labels);

	text[0] = ' ';
	n = 1 + u64_text(value, text + 1);
	text[n++] = '\n';
	return err ? err : strbuf_append(b, text, n);
}

static void double_text(double v, char *out, size_t size)
{
	if (isnan(v))
		snprintf(out, size, "NaN");
	else if (isinf(v))
		snprintf(out, size, "%sInf", v > 0 ? "+" : "-");
	else
		snprintf(out, size, "%.17g", v);
}

int prom_sample_double(struct strbuf *b, const char *name, const struct prom_label *labels,
		       size_t n_labels, double value)
{
	char text[32];
	int err = labels_write(b, name, labels, n_labels);

	double_text(value, text, sizeof(text));
	return err ? err : strbuf_printf(b, " %s\n", text);
}

#define DOUBLE_TEXT_MAX 32u
/* One label of a series' block: name="value", value at most its field's
 * size, escaped (x3 at worst). */
#define BLOCK_LABEL_MAX(name, field) (sizeof(name) + 3 + 3 * (field))
#define BLOCK_MAX                                                                       \
	(BLOCK_LABEL_MAX("http_request_method", SERIES_METHOD_BYTES) +                  \
	 BLOCK_LABEL_MAX("http_response_status_code", 5) +                              \
	 BLOCK_LABEL_MAX("http_route", ROUTE_BYTES_MAX) +                                \
	 BLOCK_LABEL_MAX("process_name", SERIES_NAME_BYTES) +                            \
	 BLOCK_LABEL_MAX("container_id", SERIES_CONTAINER_BYTES))
static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

static char *put_label(char *p, bool first, const char *name, size_t name_len, const char *value,
		       size_t value_size)
{
	if (!first)
		*p++ = ',';
	p = put(p, name, name_len);
	*p++ = '=';
	*p++ = '"';
	p += escape_raw(p, value, strnlen(value, value_size));
	*p++ = '"';
	return p;
}

/* The label block of s, without its braces, at out (BLOCK_MAX): the same
 * bytes on each of the series' ~17 lines, so built once per series and
 * copied. Its length. */
static size_t series_block(const struct series *s, char *out)
{
	char *p = out, status[8];
	const struct series_key *k = &s->key;

#define LABEL(p, first, name, value, size) put_label(p, first, name, sizeof(name) - 1, value, size)
	p = LABEL(p, true, "http_request_method", k->method, sizeof(k->method));
	if (k->status) {
		status[u64_text(k->status, status)] = 0;
		p = LABEL(p, false, "http_response_status_code", status, sizeof(status));
	}
	p = LABEL(p, false, "http_route", k->route, sizeof(k->route));
	p = LABEL(p, false, "process_name", k->process, sizeof(k->process));
	if (k->container[0])
		p = LABEL(p, false, "container_id", k->container, sizeof(k->container));
#undef LABEL
	return (size_t)(p - out);
}

struct series_ctx {
	struct strbuf *b;
	enum series_side side;
	const char *name;
	size_t name_len;
	bool errors;   /* the error counter instead of the histogram */
	/* where the histogram pass wrote each series' label block in the page
	 * (its n-th series visited), so the error pass copies it from there
	 * instead of escaping it again; NULL: build it again */
	uint32_t *block_at, *block_len;
	size_t n_blocks, k;
};

/* The `le` label and the space before the value of each bucket line: the
 * bounds' text is fixed, so it is a constant, not a printf per line. */
#define LE(x) { ",le=\"" x "\"} ", sizeof(",le=\"" x "\"} ") - 1 }
static const struct {
	const char *text;
	size_t len;
} le_text[SERIES_BUCKETS + 1] = {
	LE("0.005"), LE("0.01"), LE("0.025"), LE("0.05"), LE("0.075"),
	LE("0.1"),   LE("0.25"), LE("0.5"),   LE("0.75"), LE("1"),
	LE("2.5"),   LE("5"),    LE("7.5"),   LE("10"),   LE("+Inf"),
};
#undef LE
#define LE_TEXT_MAX 16u

/* One series' lines, written straight into the page: one bound check for
 * all of them (a page of 1,000 series is ~17,000 lines, 4 MB). */
static int series_one(const struct series *s, void *ctx)
{
	struct series_ctx *c = ctx;
	char block[BLOCK_MAX], *p, *start;
	const char *blk;
	size_t block_len, line_max, k;
	uint64_t cum = 0;
	bool reuse;
	int err;

	k = c->k++;
	if (s->key.side != c->side)
		return 0;
	reuse = c->errors && c->block_at && k < c->n_blocks;
	block_len = reuse ? c->block_len[k] : series_block(s, block);
	line_max = c->name_len + sizeof("_bucket{") + block_len + LE_TEXT_MAX + DOUBLE_TEXT_MAX + 1;
	err = strbuf_room(c->b, line_max * (c->errors ? 1 : SERIES_BUCKETS + 3), &start);
	if (err)
		return err;
	/* after strbuf_room: the page may have moved */
	blk = reuse ? c->b->buf + c->block_at[k] : block;
	p = start;
	if (c->errors) {
		p = put(p, c->name, c->name_len);
		*p++ = '{';
		p = put(p, blk, block_len);
		*p++ = '}';
		*p++ = ' ';
		p += u64_text(s->errors, p);
		*p++ = '\n';
		strbuf_commit(c->b, (size_t)(p - start));
		return 0;
	}
	for (int i = 0; i <= SERIES_BUCKETS; i++) {
		cum += s->buckets[i];
		p = put(p, c->name, c->name_len);
		p = put(p, "_bucket{", 8);
		p = put(p, blk, block_len);
		p = put(p, le_text[i].text, le_text[i].len);
		p += u64_text(cum, p);
		*p++ = '\n';
	}
	p = put(p, c->name, c->name_len);
	p = put(p, "_sum{", 5);
	p = put(p, blk, block_len);
	*p++ = '}';
	*p++ = ' ';
	double_text(s->sum_s, p, DOUBLE_TEXT_MAX);
	p += strlen(p);
	*p++ = '\n';
	p = put(p, c->name, c->name_len);
	p = put(p, "_count{", 7);
	if (c->block_at && k < c->n_blocks && (size_t)(p - c->b->buf) < UINT32_MAX) {
		c->block_at[k] = (uint32_t)(p - c->b->buf);
		c->block_len[k] = (uint32_t)block_len;
	}
	p = put(p, blk, block_len);
	*p++ = '}';
	*p++ = ' ';
	p += u64_text(cum, p);
	*p++ = '\n';
	strbuf_commit(c->b, (size_t)(p - start));
	return 0;
}

int prom_write_series(struct strbuf *b, const struct series_table *t)
{
	static const struct {
		const char *hist, *errors, *what;
	} sides[SERIES_SIDE_COUNT] = {
		[SERIES_SIDE_SERVER] = { PROM_SERVER_HISTOGRAM, "http_server_request_errors_total",
					 "HTTP requests served on this host" },
		[SERIES_SIDE_CLIENT] = { PROM_CLIENT_HISTOGRAM, "http_client_request_errors_total",
					 "HTTP requests made from this host" },
	};
	struct series_stats st;
	uint32_t *blocks;
	int err = 0;

	/* one allocation per page, for the error pass to reuse the histogram
	 * pass's label blocks (~half the cost of escaping); without it, the
	 * blocks are built again */
	series_table_stats(t, &st);
	blocks = st.series ? malloc(sizeof(*blocks) * 2 * st.series) : NULL;
	for (int s = 0; s < SERIES_SIDE_COUNT && !err; s++) {
		struct series_ctx c = { .b = b, .side = (enum series_side)s, .block_at = blocks,
					.block_len = blocks ? blocks + st.series : NULL,
					.n_blocks = blocks ? st.series : 0 };
		char help[160];

		snprintf(help, sizeof(help), "Duration of %s, seen by sonde (first request byte to last response byte).",
			 sides[s].what);
		err = prom_header(b, sides[s].hist, "histogram", help);
		c.name = sides[s].hist;
		c.name_len = strlen(c.name);
		if (!err)
			err = series_table_each(t, series_one, &c);
		snprintf(help, sizeof(help), "%s that failed (%s).", sides[s].what,
			 s == SERIES_SIDE_SERVER ? "status >= 500" : "status >= 400 or no response");
		if (!err)
			err = prom_header(b, sides[s].errors, "counter", help);
		c.name = sides[s].errors;
		c.name_len = strlen(c.name);
		c.errors = true;
		c.k = 0;
		if (!err)
			err = series_table_each(t, series_one, &c);
	}
	free(blocks);
	return err;
}
