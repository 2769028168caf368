/* Route templating: ids in a request path collapsed to {id}, the query and
 * fragment dropped (see route.h for the rules). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "agent/route.h"

#define UUID_CHARS 36u
#define HEX_ID_CHARS_MIN 16u
#define TOKEN_ID_CHARS_MIN 24u

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_uuid(const char *s, size_t n)
{
	if (n != UUID_CHARS)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return false;
	}
	return true;
}

static bool segment_is_id(const char *s, size_t n)
{
	size_t digits = 0, hex = 0;

	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		digits += is_digit(s[i]);
		hex += is_hex(s[i]);
	}
	if (digits == n)
		return true;
	if (hex == n && n >= HEX_ID_CHARS_MIN)
		return true;
	if (is_uuid(s, n))
		return true;
	return n >= TOKEN_ID_CHARS_MIN && digits > 0;
}

/* "http://user:pw@host:port/p?q" -> "/p?q", "http://host?q" -> "?q"; a
 * target without a scheme as is. */
static void skip_authority(const char **p, size_t *len)
{
	const char *s = *p, *end = s + *len;

	if (*len < 3 || s[0] == '/')
		return;
	for (const char *c = s; c + 2 < end; c++) {
		if (c[0] == ':' && c[1] == '/' && c[2] == '/') {
			/* the authority ends where the path, the query or the
			 * fragment starts: a '/' in a query is not a path */
			const char *a = c + 3;

			while (a < end && *a != '/' && *a != '?' && *a != '#')
				a++;
			*p = a;
			*len = (size_t)(end - a);
			return;
		}
		if (c[0] == '/' || c[0] == '?' || c[0] == '#')
			return;
	}
}

const char *route_path(const char *target, size_t len, size_t *path_len)
{
	if (!target)
		len = 0;
	skip_authority(&target, &len);
	for (size_t k = 0; k < len; k++) {
		/* a NUL ends the path too: the template is a C string */
		if (target[k] == '?' || target[k] == '#' || !target[k]) {
			len = k;
			break;
		}
	}
	*path_len = len;
	return target;
}

int route_template(const char *path, size_t len, char *out, size_t out_size)
{
	size_t o = 0, cap, i = 0;
	const size_t suffix = sizeof(ROUTE_TRUNCATED_SUFFIX) - 1;

	if (!out || out_size < ROUTE_OUT_BYTES_MIN)
		return -EINVAL;
	path = route_path(path, len, &len);
	cap = out_size - 1; /* room for the NUL */
	if (!len) {
		out[o++] = '/';
		out[o] = 0;
		return (int)o;
	}
	while (i < len) {
		size_t start = i, n, seg_out;
		const char *seg;
		bool id;

		/* one separator (if any) and the segment after it */
		if (path[i] == '/')
			i++;
		seg = path + i;
		while (i < len && path[i] != '/')
			i++;
		n = (size_t)(path + i - seg);
		id = segment_is_id(seg, n);
		seg_out = (size_t)(seg - (path + start)) + (id ? sizeof(ROUTE_ID) - 1 : n);
		/* what follows still needs room for the truncation mark */
		if (o + seg_out > cap || (i < len && o + seg_out + suffix > cap)) {
			if (o + suffix > cap)
				o = cap - suffix;
			memcpy(out + o, ROUTE_TRUNCATED_SUFFIX, suffix);
			o += suffix;
			break;
		}
		memcpy(out + o, path + start, (size_t)(seg - (path + start)));
		o += (size_t)(seg - (path + start));
		if (id) {
			memcpy(out + o, ROUTE_ID, sizeof(ROUTE_ID) - 1);
			o += sizeof(ROUTE_ID) - 1;
		} else {
			memcpy(out + o, seg, n);
			o += n;
		}
	}
	out[o] = 0;
	return (int)o;
}
