/* libFuzzer target for the Prometheus exposition: the input is split into
 * observations (side, status, method, route, process, container as hostile
 * strings) for a small series table, whose page is then written and parsed
 * back with a strict line grammar: every line is a comment or
 * name{label="value",...} number, quotes only where they belong, escapes
 * only \\ \" \n, valid UTF-8 throughout. A hostile label that broke a line
 * would fail here. */
// fuzz-sources: src/agent/series.c src/agent/prom.c src/agent/strbuf.c src/agent/route.c
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/prom.h"
#include "agent/route.h"
#include "agent/series.h"

#define FIELD_BYTES_MAX 80u
#define TABLE_SERIES 8u

/* The next field: up to a 0xff separator. */
static size_t next_field(const uint8_t **p, const uint8_t *end, char *out)
{
	size_t n = 0;

	while (*p < end && **p != 0xff && n < FIELD_BYTES_MAX) {
		if (**p)  /* labels are C strings */
			out[n++] = (char)**p;
		(*p)++;
	}
	if (*p < end)
		(*p)++;
	out[n] = 0;
	return n;
}

static bool name_char(char c, bool first)
{
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (!first && c >= '0' && c <= '9');
}

static const char *skip_name(const char *s)
{
	if (!name_char(*s, true))
		abort();
	while (name_char(*s, false))
		s++;
	return s;
}

static void check_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t l = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;

		if (!l || i + l > n)
			abort();
		for (size_t k = 1; k < l; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				abort();
		i += l;
	}
}

static void check_line(const char *s, const char *end)
{
	if (*s == '#')
		return;
	s = skip_name(s);
	if (*s == '{') {
		s++;
		while (*s != '}') {
			s = skip_name(s);
			if (*s++ != '=' || *s++ != '"')
				abort();
			while (*s != '"') {
				if (s >= end || *s == '\n')
					abort();
				if (*s == '\\') {
					s++;
					if (*s != '\\' && *s != '"' && *s != 'n')
						abort();
				}
				s++;
			}
			s++;
			if (*s == ',')
				s++;
			else if (*s != '}')
				abort();
		}
		s++;
	}
	if (*s++ != ' ' || s >= end)
		abort();
	if (strspn(s, "0123456789.e+-InfNa") != (size_t)(end - s))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char method[FIELD_BYTES_MAX + 1], path[FIELD_BYTES_MAX + 1], route[ROUTE_BYTES_MAX];
	char proc[FIELD_BYTES_MAX + 1], cont[FIELD_BYTES_MAX + 1];
	struct series_table *t;
	struct strbuf b;

	if (series_table_new(&t, TABLE_SERIES))
		return 0;
	while (p + 2 < end) {
		uint8_t side = p[0] & 1;
		uint16_t status = (uint16_t)(p[1] * 4u);

		p += 2;
		next_field(&p, end, method);
		next_field(&p, end, path);
		next_field(&p, end, proc);
		next_field(&p, end, cont);
		/* both raw hostile routes and templated ones */
		if (status & 4)
			route_template(path, strlen(path), route, sizeof(route));
		else
			memcpy(route, path, strlen(path) + 1);
		series_table_observe(t, side, method, status, route, proc, cont,
				     (double)status / 1000.0);
	}
	strbuf_init(&b, 0);
	if (prom_write_series(&b, t))
		abort();
	check_utf8((const unsigned char *)b.buf, b.len);
	for (const char *l = b.buf; l < b.buf + b.len;) {
		const char *nl = memchr(l, '\n', (size_t)(b.buf + b.len - l));

		if (!nl)
			abort(); /* every line ends in a newline */
		check_line(l, nl);
		l = nl + 1;
	}
	strbuf_free(&b);
	series_table_free(t);
	return 0;
}
