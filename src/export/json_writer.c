/* Fixed-buffer JSON writer; see json_writer.h. Cost: O(bytes written). */
#include "export/json_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

static bool plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x7F && c != '"' && c != '\\';
}

/* Length of the prefix of s[0..len) that needs no escaping: printable ASCII
 * but the quote and the backslash; sixteen bytes at a time where SSE2 is. */
static size_t plain_run(const unsigned char *s, size_t len)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 16 <= len; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		/* signed: below 0x20 is a control or a byte of 0x80 and up */
		__m128i bad = _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
					   _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7F)));
		unsigned m;

		bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
		bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
		m = (unsigned)_mm_movemask_epi8(bad);
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	while (i < len && plain_byte(s[i]))
		i++;
	return i;
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

		if (plain_byte(c)) {
			/* a run of plain ASCII, the common case: one copy */
			size_t j = i + 1 + plain_run(p + i + 1, len - i - 1);

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

void json_str(struct json_writer *w, const char *s, size_t len)
{
	long n;

	/* the usual string (a method, a path, an address) needs no escaping:
	 * one check and one copy */
	if (plain_run((const unsigned char *)s, len) == len) {
		json_put_piece(w, s, len, true, false);
		return;
	}
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

/* A value's bytes (a number, true, null). */
static void put_value(struct json_writer *w, const char *v, size_t n)
{
	json_put_piece(w, v, n, false, false);
}

static void put_number(struct json_writer *w, const char *fmt_buf, int n)
{
	put_value(w, fmt_buf, n > 0 ? (size_t)n : 0);
}

/* Decimal digits of v, written backwards from end; returns the first one.
 * Every record has a dozen numbers: printf's format parsing cost more than
 * the rest of the record (measured with perf at saturation); two digits a
 * step halve the divisions of a 19-digit timestamp. */
static char *u64_digits(uint64_t v, char *end)
{
	static const char pairs[201] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char *p = end;

	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);

		v /= 100;
		p -= 2;
		memcpy(p, pairs + 2 * r, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
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
	put_value(w, v ? "true" : "false", v ? 4 : 5);
}

void json_write_null(struct json_writer *w)
{
	put_value(w, "null", 4);
}

int json_finish(struct json_writer *w)
{
	return w->overflow ? -ENOSPC : 0;
}
