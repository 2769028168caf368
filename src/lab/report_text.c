/* Formatting helpers of the lab's reports; see report_text.h. */
#include "lab/report_text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

const char *lab_fmt_num(double v, int prec)
{
	static char bufs[LAB_FMT_BUFS][32];
	static int next;
	char *b = bufs[next++ % LAB_FMT_BUFS];

	if (isnan(v))
		return "n/a";
	snprintf(b, 32, "%.*f", prec, v);
	return b;
}

const char *lab_json_num_or_null(double v, int prec)
{
	return isnan(v) ? "null" : lab_fmt_num(v, prec);
}

void lab_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void lab_set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

int lab_write_file(const char *dir, const char *name, int (*fn)(FILE *f, const void *ctx),
		   const void *ctx, char *err, size_t len)
{
	char path[1024];
	int ret;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		ret = -errno;
		lab_set_err(err, len, "%s: %s", path, strerror(errno));
		return ret;
	}
	ret = fn(f, ctx);
	if (ferror(f) && !ret)
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	if (ret)
		lab_set_err(err, len, "%s: %s", path, strerror(-ret));
	return ret;
}
