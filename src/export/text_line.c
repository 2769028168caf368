/* Text columns by hand; see text_line.h. */
#include "export/text_line.h"

#include <errno.h>
#include <string.h>

void text_line_init(struct text_line *l, char *buf, size_t size)
{
	l->buf = buf;
	l->size = size;
	l->off = 0;
	l->full = size == 0;
}

void text_line_put(struct text_line *l, const char *s, size_t n)
{
	if (l->full || l->off + n >= l->size) {
		l->full = true;
		return;
	}
	memcpy(l->buf + l->off, s, n);
	l->off += n;
}

void text_line_cstr(struct text_line *l, const char *s)
{
	text_line_put(l, s, strlen(s));
}

void text_line_pad(struct text_line *l, size_t start, size_t width)
{
	static const char spaces[] = "                                ";
	size_t used = l->off - start, n = (used < width ? width - used : 0) + 1;

	while (n > 0 && !l->full) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		text_line_put(l, spaces, k);
		n -= k;
	}
}

void text_line_u64(struct text_line *l, uint64_t v)
{
	char b[24], *p = b + sizeof(b);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	text_line_put(l, p, (size_t)(b + sizeof(b) - p));
}

void text_line_i64(struct text_line *l, int64_t v)
{
	if (v < 0)
		text_line_put(l, "-", 1);
	text_line_u64(l, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

void text_line_fixed(struct text_line *l, uint64_t ns, uint64_t unit_ns, unsigned decimals)
{
	uint64_t steps = ns / 1000u + (ns % 1000u >= 500u), per = unit_ns / 1000u;
	uint64_t frac = steps % per;
	char digits[8];

	if (decimals > sizeof(digits))
		decimals = sizeof(digits);
	text_line_u64(l, steps / per);
	text_line_put(l, ".", 1);
	for (unsigned i = decimals; i > 0; i--) {
		digits[i - 1] = (char)('0' + frac % 10);
		frac /= 10;
	}
	text_line_put(l, digits, decimals);
}

void text_line_safe(struct text_line *l, const char *s, size_t n, bool escape_backslash)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n && !l->full;) {
		size_t j = i;

		/* a run of plain bytes: one copy */
		while (j < n && (unsigned char)s[j] >= 0x20 && (unsigned char)s[j] < 0x7F &&
		       !(escape_backslash && s[j] == '\\'))
			j++;
		if (j > i) {
			text_line_put(l, s + i, j - i);
			i = j;
			continue;
		}
		text_line_put(l, (const char[]){ '\\', 'x', hex[(unsigned char)s[i] >> 4],
						 hex[(unsigned char)s[i] & 15] }, 4);
		i++;
	}
}

int text_line_end(struct text_line *l)
{
	if (l->full)
		return -ENOSPC;
	l->buf[l->off] = '\0';
	return (int)l->off;
}
