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

/* Template path[0..len) into out (always NUL-terminated). A segment is an id
 * when it is a decimal number, a UUID, 16 or more hex digits, or 24 or more
 * characters with at least one digit (opaque tokens). An absolute-form
 * target (http://host/p) keeps only its path; an empty one becomes "/"; a
 * NUL byte ends the path like '?'.
 * Returns the template's length, or -EINVAL (out NULL or smaller than
 * ROUTE_OUT_BYTES_MIN). */
int route_template(const char *path, size_t len, char *out, size_t out_size);

#endif
