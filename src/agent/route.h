/* Route templates for the agent's metrics: a request path with its ids
 * collapsed (`/users/123/orders/9f3c...` -> `/users/{id}/orders/{id}`) and
 * its query string and fragment dropped, so that one endpoint is one series
 * and no query value ever reaches a label. Pure logic, O(path length). */
#ifndef SONDE_AGENT_ROUTE_H
#define SONDE_AGENT_ROUTE_H

#include <stddef.h>

/* Longest template kept, NUL included; a longer one is cut at a segment
 * boundary and ends in ROUTE_TRUNCATED_SUFFIX. */
#define ROUTE_BYTES_MAX 128u
/* The smallest out buffer route_template accepts. */
#define ROUTE_OUT_BYTES_MIN 16u
#define ROUTE_ID "{id}"
#define ROUTE_TRUNCATED_SUFFIX "/{...}"

/* The path of a request target, target[0..len): an absolute-form target
 * (http://user:pw@host:port/p) loses its scheme and authority, which ends at
 * the first '/', '?' or '#' (so nothing of a query or fragment can pass for
 * a path); then the path is cut at the first '?', '#' or NUL. Returns where
 * the path starts in target, its length in *path_len (0: no path, e.g.
 * "http://host?q" or "?q"). O(len). */
const char *route_path(const char *target, size_t len, size_t *path_len);

/* Template path[0..len) into out (always NUL-terminated). A segment is an id
 * when it is a decimal number, a UUID, 16 or more hex digits, or 24 or more
 * characters with at least one digit (opaque tokens). The path is
 * route_path's (no scheme, authority, query nor fragment); an empty one
 * becomes "/".
 * Returns the template's length, or -EINVAL (out NULL or smaller than
 * ROUTE_OUT_BYTES_MIN). */
int route_template(const char *path, size_t len, char *out, size_t out_size);

#endif
