/* Small formatting helpers shared by the lab's reports (report.md,
 * results.json): numbers that may be unknown (NaN) and JSON strings. */
#ifndef SONDE_LAB_REPORT_TEXT_H
#define SONDE_LAB_REPORT_TEXT_H

#include <stdio.h>

/* "%.*f", or "n/a" for NaN, in one of LAB_FMT_BUFS rotating buffers: valid
 * until that many more calls, enough for any one fprintf. */
#define LAB_FMT_BUFS 64
const char *lab_fmt_num(double v, int prec);
/* The same, "null" for NaN: a JSON value. */
const char *lab_json_num_or_null(double v, int prec);
/* printf into err[0..len) (nothing when err is NULL or len 0): the lab's
 * one-line error messages. */
void lab_set_err(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write dir/name through fn(f, ctx) (which returns 0 or -errno): 0, or a
 * negative errno with "PATH: reason" in err when the file cannot be opened,
 * fn fails, or writing or closing it does. */
int lab_write_file(const char *dir, const char *name, int (*fn)(FILE *f, const void *ctx),
		   const void *ctx, char *err, size_t len);
/* s as a quoted, escaped JSON string. */
void lab_json_str(FILE *f, const char *s);

#endif
