/* Aligned text columns built by hand into a caller's buffer: the printf
 * formats they replace ("%-13.6f", "%-8u", "%-16s") cost a third of sonde's
 * CPU with text output at saturation (perf). Once something does not fit
 * the line is full and stays so; the caller returns -ENOSPC. */
#ifndef SONDE_EXPORT_TEXT_LINE_H
#define SONDE_EXPORT_TEXT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_NS_PER_SEC 1000000000ull
#define TEXT_NS_PER_MS 1000000ull

struct text_line {
	char *buf;
	size_t size, off; /* off < size always: room for the NUL */
	bool full;
};

void text_line_init(struct text_line *l, char *buf, size_t size);
void text_line_put(struct text_line *l, const char *s, size_t n);
void text_line_cstr(struct text_line *l, const char *s);
/* Spaces up to width bytes since start, then one more: printf's "%-Ns ". */
void text_line_pad(struct text_line *l, size_t start, size_t width);
void text_line_u64(struct text_line *l, uint64_t v);
void text_line_i64(struct text_line *l, int64_t v);
/* ns in units of unit_ns (a second, a millisecond) with decimals digits,
 * where unit_ns / 10^decimals is 1,000 ns (6 for seconds, 3 for
 * milliseconds), rounded half up: printf's "%.Nf" of the quotient. */
void text_line_fixed(struct text_line *l, uint64_t ns, uint64_t unit_ns, unsigned decimals);
/* Printable ASCII as is, anything else as \xNN, and the backslash too when
 * asked: a path or a command line is the traced program's bytes, no
 * terminal escape gets through. */
void text_line_safe(struct text_line *l, const char *s, size_t n, bool escape_backslash);
/* NUL-terminate: the length, or -ENOSPC when something did not fit. */
int text_line_end(struct text_line *l);

#endif
