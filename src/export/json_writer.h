/* A JSON writer into a caller-owned fixed buffer: no allocation, strings
 * escaped so that any bytes (quotes, control characters, invalid UTF-8 from a
 * hostile argv or path) give valid JSON. Invalid UTF-8 bytes become U+FFFD. */
#ifndef SONDE_EXPORT_JSON_WRITER_H
#define SONDE_EXPORT_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JSON_DEPTH_MAX 8

struct json_writer {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;                 /* output did not fit: the text is unusable */
	int depth;
	bool need_comma[JSON_DEPTH_MAX];
};

void json_init(struct json_writer *w, char *buf, size_t cap);
/* Start again on the same buffer. */
void json_reset(struct json_writer *w);

void json_obj_begin(struct json_writer *w);
void json_obj_end(struct json_writer *w);
void json_arr_begin(struct json_writer *w);
void json_arr_end(struct json_writer *w);
/* Internal: s[0..n) as it is, quoted if asked, followed by a colon for a
 * key, after a comma if one is due; one bound check for all (and the NUL):
 * a record has some twenty keys and as many values. */
static inline void json_put_piece(struct json_writer *w, const char *s, size_t n, bool quoted,
				  bool key)
{
	char *p;

	if (w->overflow || w->len + n + 2 + (quoted ? 2 : 0) + key > w->cap) {
		w->overflow = true;
		return;
	}
	p = w->buf + w->len;
	if (w->need_comma[w->depth])
		*p++ = ',';
	if (quoted)
		*p++ = '"';
	memcpy(p, s, n);
	p += n;
	if (quoted)
		*p++ = '"';
	if (key)
		*p++ = ':';
	*p = '\0';
	w->len = (size_t)(p - w->buf);
	w->need_comma[w->depth] = !key; /* a key's value follows without a comma */
}

/* An object key (plain ASCII, nothing to escape: our own names); the next
 * value call writes its value. Inline so that a literal's length is known
 * when compiling. */
static inline void json_key(struct json_writer *w, const char *key)
{
	json_put_piece(w, key, strlen(key), true, true);
}

void json_str(struct json_writer *w, const char *s, size_t len);
void json_cstr(struct json_writer *w, const char *s);
void json_u64(struct json_writer *w, uint64_t v);
void json_i64(struct json_writer *w, int64_t v);
void json_double(struct json_writer *w, double v);
void json_bool(struct json_writer *w, bool v);
void json_write_null(struct json_writer *w);

/* Escape len bytes of s into out (NUL-terminated, without quotes); returns the
 * length written, or -1 if out_size is too small. */
long json_escape(const char *s, size_t len, char *out, size_t out_size);

/* 0 if everything fit, -ENOSPC otherwise. The text is w->buf[0..w->len). */
int json_finish(struct json_writer *w);

#endif
