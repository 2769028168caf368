/* Prometheus text exposition of the agent's series and counters. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/prom.h"

#define REPLACEMENT_CHAR "\xef\xbf\xbd" /* U+FFFD */
#define SERIES_LABELS_MAX 5

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

int prom_escape_label(struct strbuf *b, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t n = strlen(value), i = 0, run = 0;
	int err = 0;

	/* copy runs of plain bytes in one append: a label is mostly plain */
	while (i < n && !err) {
		unsigned char c = s[i];
		size_t l = utf8_len(s + i, n - i);
		const char *rep = NULL;

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
		if (run)
			err = strbuf_append(b, value + i - run, run);
		run = 0;
		if (!err)
			err = strbuf_puts(b, rep);
		i++;
	}
	if (run && !err)
		err = strbuf_append(b, value + i - run, run);
	return err;
}

int prom_header(struct strbuf *b, const char *name, const char *type, const char *help)
{
	return strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int labels_write(struct strbuf *b, const char *name, const struct prom_label *labels,
			size_t n)
{
	int err = strbuf_puts(b, name);

	if (!n || err)
		return err;
	err = strbuf_append(b, "{", 1);
	for (size_t i = 0; i < n && !err; i++) {
		err = strbuf_printf(b, "%s%s=\"", i ? "," : "", labels[i].name);
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
	int err = labels_write(b, name, labels, n_labels);

	return err ? err : strbuf_printf(b, " %llu\n", (unsigned long long)value);
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

struct series_ctx {
	struct strbuf *b;
	enum series_side side;
	const char *name;
	bool errors;   /* the error counter instead of the histogram */
};

static size_t series_labels(const struct series *s, struct prom_label *l, char *status,
			    size_t status_size)
{
	size_t n = 0;

	l[n++] = (struct prom_label){ "http_request_method", s->key.method };
	if (s->key.status) {
		snprintf(status, status_size, "%u", s->key.status);
		l[n++] = (struct prom_label){ "http_response_status_code", status };
	}
	l[n++] = (struct prom_label){ "http_route", s->key.route };
	l[n++] = (struct prom_label){ "process_name", s->key.process };
	if (s->key.container[0])
		l[n++] = (struct prom_label){ "container_id", s->key.container };
	return n;
}

/* Decimal text of v into out (>= 21 bytes); its length. printf is the
 * slow part of a big page, and a bucket line is mostly this. */
static size_t u64_text(uint64_t v, char *out)
{
	char tmp[24];
	size_t n = 0, len;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	len = n;
	for (size_t i = 0; i < len; i++)
		out[i] = tmp[--n];
	return len;
}

/* A page of 1,000 series is ~17,000 lines: the escaped label block of a
 * series is built once and copied into each of its lines. */
static int series_one(const struct series *s, void *ctx)
{
	struct series_ctx *c = ctx;
	struct prom_label l[SERIES_LABELS_MAX];
	static const char *const le[SERIES_BUCKETS + 1] = {
		"0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5",
		"0.75",  "1",    "2.5",   "5",    "7.5",   "10",  "+Inf",
	};
	struct strbuf *b = c->b;
	char status[8], num[32], *block;
	size_t n, block_len, name_len = strlen(c->name), mark;
	uint64_t cum = 0;
	int err;

	if (s->key.side != c->side)
		return 0;
	n = series_labels(s, l, status, sizeof(status));
	/* the block goes at the end of the page, is copied, then cut off */
	mark = b->len;
	err = labels_write(b, "", l, n);
	if (err)
		return err;
	block_len = b->len - mark - 1; /* without its closing brace */
	block = malloc(block_len);
	if (!block) {
		b->overflow = true;
		return -ENOMEM;
	}
	memcpy(block, b->buf + mark, block_len);
	b->len = mark;
	if (c->errors) {
		err = strbuf_append(b, c->name, name_len);
		if (!err)
			err = strbuf_append(b, block, block_len);
		if (!err)
			err = strbuf_append(b, "} ", 2);
		if (!err)
			err = strbuf_append(b, num, u64_text(s->errors, num));
		if (!err)
			err = strbuf_append(b, "\n", 1);
		free(block);
		return err;
	}
	for (int i = 0; i <= SERIES_BUCKETS && !err; i++) {
		cum += s->buckets[i];
		err = strbuf_append(b, c->name, name_len);
		if (!err)
			err = strbuf_append(b, "_bucket", 7);
		if (!err)
			err = strbuf_append(b, block, block_len);
		if (!err)
			err = strbuf_append(b, ",le=\"", 5);
		if (!err)
			err = strbuf_puts(b, le[i]);
		if (!err)
			err = strbuf_append(b, "\"} ", 3);
		if (!err)
			err = strbuf_append(b, num, u64_text(cum, num));
		if (!err)
			err = strbuf_append(b, "\n", 1);
	}
	double_text(s->sum_s, num, sizeof(num));
	if (!err)
		err = strbuf_printf(b, "%s_sum%.*s} %s\n", c->name, (int)block_len, block, num);
	if (!err)
		err = strbuf_printf(b, "%s_count%.*s} ", c->name, (int)block_len, block);
	if (!err)
		err = strbuf_append(b, num, u64_text(cum, num));
	if (!err)
		err = strbuf_append(b, "\n", 1);
	free(block);
	return err;
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
	int err = 0;

	for (int s = 0; s < SERIES_SIDE_COUNT && !err; s++) {
		struct series_ctx c = { .b = b, .side = (enum series_side)s };
		char help[160];

		snprintf(help, sizeof(help), "Duration of %s, seen by sonde (first request byte to last response byte).",
			 sides[s].what);
		err = prom_header(b, sides[s].hist, "histogram", help);
		c.name = sides[s].hist;
		if (!err)
			err = series_table_each(t, series_one, &c);
		snprintf(help, sizeof(help), "%s that failed (%s).", sides[s].what,
			 s == SERIES_SIDE_SERVER ? "status >= 500" : "status >= 400 or no response");
		if (!err)
			err = prom_header(b, sides[s].errors, "counter", help);
		c.name = sides[s].errors;
		c.errors = true;
		if (!err)
			err = series_table_each(t, series_one, &c);
	}
	return err;
}
