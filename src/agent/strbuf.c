/* The agent's bounded growable text buffer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/strbuf.h"

#define STRBUF_MAX_DEFAULT (64u << 20)
#define STRBUF_CAP_MIN 4096u

void strbuf_init(struct strbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : STRBUF_MAX_DEFAULT;
}

void strbuf_reset(struct strbuf *b)
{
	b->len = 0;
	b->overflow = false;
	if (b->buf)
		b->buf[0] = 0;
}

void strbuf_free(struct strbuf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

/* Room for n more bytes and a NUL. */
static int reserve(struct strbuf *b, size_t n)
{
	size_t need = b->len + n + 1, cap = b->cap ? b->cap : STRBUF_CAP_MIN;
	char *p;

	if (need <= b->cap)
		return 0;
	if (need > b->max) {
		b->overflow = true;
		return -ENOSPC;
	}
	while (cap < need)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	p = realloc(b->buf, cap);
	if (!p) {
		b->overflow = true;
		return -ENOMEM;
	}
	b->buf = p;
	b->cap = cap;
	return 0;
}

int strbuf_append(struct strbuf *b, const char *s, size_t n)
{
	int err = reserve(b, n);

	if (err)
		return err;
	memcpy(b->buf + b->len, s, n);
	b->len += n;
	b->buf[b->len] = 0;
	return 0;
}

int strbuf_room(struct strbuf *b, size_t n, char **at)
{
	int err = reserve(b, n);

	*at = err ? NULL : b->buf + b->len;
	return err;
}

void strbuf_commit(struct strbuf *b, size_t n)
{
	b->len += n;
	b->buf[b->len] = 0;
}

int strbuf_puts(struct strbuf *b, const char *s)
{
	return strbuf_append(b, s, strlen(s));
}

int strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_list ap;
	int n, err;

	/* one vsnprintf when it fits (the common case), two when it must grow */
	va_start(ap, fmt);
	n = vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (room)
			b->buf[b->len] = 0;
		return -EINVAL;
	}
	if ((size_t)n < room) {
		b->len += (size_t)n;
		return 0;
	}
	if (room)
		b->buf[b->len] = 0; /* nothing partial stays */
	if ((err = reserve(b, (size_t)n)))
		return err;
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}
