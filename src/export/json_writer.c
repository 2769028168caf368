/* Fixed-buffer JSON writer; see json_writer.h. Cost: O(bytes written). */
#include "export/json_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void json_init(struct json_writer *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	json_reset(w);
}

void json_reset(struct json_writer *w)
{
	w->len = 0;
	w->overflow = false;
	w->depth = 0;
	w->need_comma[0] = false;
	if (w->cap)
		w->buf[0] = '\0';
}

static void put(struct json_writer *w, const char *s, size_t n)
{
	if (w->overflow || w->len + n >= w->cap) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void putc_(struct json_writer *w, char c)
{
	put(w, &c, 1);
}

/* Before a value: a comma if a sibling came before it. A value right after a
 * key never takes one (json_key already wrote it). */
static void before_value(struct json_writer *w)
{
	if (w->need_comma[w->depth])
		putc_(w, ',');
	w->need_comma[w->depth] = true;
}

static void open_(struct json_writer *w, char c)
{
	before_value(w);
	putc_(w, c);
	if (w->depth + 1 >= JSON_DEPTH_MAX) {
		w->overflow = true;
		return;
	}
	w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_(struct json_writer *w, char c)
{
	if (w->depth > 0)
		w->depth--;
	putc_(w, c);
}

void json_obj_begin(struct json_writer *w) { open_(w, '{'); }
void json_obj_end(struct json_writer *w) { close_(w, '}'); }
void json_arr_begin(struct json_writer *w) { open_(w, '['); }
void json_arr_end(struct json_writer *w) { close_(w, ']'); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates and values past U+10FFFF are invalid */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

long json_escape(const char *s, size_t len, char *out, size_t out_size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0;

#define EMIT(str, n)                                  \
	do {                                          \
		if (o + (n) >= out_size)              \
			return -1;                    \
		memcpy(out + o, (str), (n));          \
		o += (n);                             \
	} while (0)

	while (i < len) {
		unsigned char c = p[i];
		char esc[8];

		if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
			/* a run of plain ASCII, the common case: one copy */
			size_t j = i + 1;

			while (j < len && p[j] >= 0x20 && p[j] < 0x7F && p[j] != '"' && p[j] != '\\')
				j++;
			EMIT((const char *)&p[i], j - i);
			i = j;
			continue;
		}
		if (c == '"') {
			EMIT("\\\"", 2);
		} else if (c == '\\') {
			EMIT("\\\\", 2);
		} else if (c == '\n') {
			EMIT("\\n", 2);
		} else if (c == '\r') {
			EMIT("\\r", 2);
		} else if (c == '\t') {
			EMIT("\\t", 2);
		} else if (c < 0x20 || c == 0x7F) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			EMIT(esc, 6);
		} else {
			size_t n = utf8_seq_len(p + i, len - i);

			if (n == 0) {
				EMIT("\\ufffd", 6);
				i++;
				continue;
			}
			EMIT((const char *)&p[i], n);
			i += n;
			continue;
		}
		i++;
	}
#undef EMIT
	if (o >= out_size)
		return -1;
	out[o] = '\0';
	return (long)o;
}

void json_key(struct json_writer *w, const char *key)
{
	before_value(w);
	putc_(w, '"');
	put(w, key, strlen(key)); /* keys are our own constants */
	put(w, "\":", 2);
	w->need_comma[w->depth] = false; /* the value follows without a comma */
}

void json_str(struct json_writer *w, const char *s, size_t len)
{
	long n;

	before_value(w);
	putc_(w, '"');
	if (w->overflow)
		return;
	n = json_escape(s, len, w->buf + w->len, w->cap - w->len);
	if (n < 0) {
		w->overflow = true;
		return;
	}
	w->len += (size_t)n;
	putc_(w, '"');
	w->need_comma[w->depth] = true;
}

void json_cstr(struct json_writer *w, const char *s)
{
	json_str(w, s, strlen(s));
	w->need_comma[w->depth] = true;
}

static void put_number(struct json_writer *w, const char *fmt_buf, int n)
{
	before_value(w);
	if (n > 0)
		put(w, fmt_buf, (size_t)n);
	w->need_comma[w->depth] = true;
}

/* Decimal digits of v, written backwards from end; returns the first one.
 * Every record has a dozen numbers: printf's format parsing cost more than
 * the rest of the record (measured with perf at saturation). */
static char *u64_digits(uint64_t v, char *end)
{
	char *p = end;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}

void json_u64(struct json_writer *w, uint64_t v)
{
	char b[24], *p = u64_digits(v, b + sizeof(b));

	put_number(w, p, (int)(b + sizeof(b) - p));
}

void json_i64(struct json_writer *w, int64_t v)
{
	char b[24], *p = u64_digits(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, b + sizeof(b));

	if (v < 0)
		*--p = '-';
	put_number(w, p, (int)(b + sizeof(b) - p));
}

void json_double(struct json_writer *w, double v)
{
	char b[32];

	if (!isfinite(v)) {
		json_write_null(w);
		return;
	}
	put_number(w, b, snprintf(b, sizeof(b), "%.17g", v));
}

void json_bool(struct json_writer *w, bool v)
{
	before_value(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
	w->need_comma[w->depth] = true;
}

void json_write_null(struct json_writer *w)
{
	before_value(w);
	put(w, "null", 4);
	w->need_comma[w->depth] = true;
}

int json_finish(struct json_writer *w)
{
	return w->overflow ? -ENOSPC : 0;
}
