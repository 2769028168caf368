/* A growable text buffer with a hard bound, for the agent's encoders: the
 * /metrics page and OTLP bodies are built in one, reused between calls, so
 * a scrape allocates only while the page grows past its largest size yet. */
#ifndef SONDE_AGENT_STRBUF_H
#define SONDE_AGENT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *buf;       /* NUL-terminated while len < cap */
	size_t len;
	size_t cap;
	size_t max;      /* never grows past this many bytes */
	bool overflow;   /* an append did not fit: the text is incomplete */
};

/* max: the bound in bytes (0: 64 MiB). No allocation yet. */
void strbuf_init(struct strbuf *b, size_t max);
void strbuf_reset(struct strbuf *b);   /* empty, keep the memory */
void strbuf_free(struct strbuf *b);
/* 0, or -ENOSPC / -ENOMEM (overflow set, nothing partial appended). */
int strbuf_append(struct strbuf *b, const char *s, size_t n);
int strbuf_puts(struct strbuf *b, const char *s);
/* Room for n more bytes at the end: *at is where to write them. 0, or
 * -ENOSPC / -ENOMEM (overflow set). The caller writes at most n bytes there,
 * then strbuf_commit()s what it wrote. For encoders writing many short
 * pieces: one bound check per batch instead of one per piece. */
int strbuf_room(struct strbuf *b, size_t n, char **at);
void strbuf_commit(struct strbuf *b, size_t n);
int strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
