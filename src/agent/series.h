/* The agent's RED aggregation: request count, error count and a duration
 * histogram per (side, method, status code, route, process name, container
 * id). The number of series is bounded; a record that would need a new
 * series past the bound goes to its route `other` (same other labels), and
 * past a small reserve for those, to one overflow series per side whose
 * every label is `other`. Both are counted, so nothing is lost silently.
 * Pure logic, not thread-safe (the caller locks). */
#ifndef SONDE_AGENT_SERIES_H
#define SONDE_AGENT_SERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/route.h"

/* OpenTelemetry's default explicit bucket boundaries for
 * http.server/client.request.duration, in seconds. */
#define SERIES_BUCKETS 14
#define SERIES_BUCKET_BOUNDS_S                                                   \
	{ 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, \
	  10.0 }
#define SERIES_METHOD_BYTES 17u   /* "_OTHER" for a method not in RFC 9110/5789 */
#define SERIES_NAME_BYTES 33u     /* process name */
#define SERIES_CONTAINER_BYTES 65u /* 64 hex digits, or empty */
#define SERIES_MAX_DEFAULT 2000u
#define SERIES_MAX_MAX (1u << 20)
/* Series kept aside for the `other` routes once the table is full. */
#define SERIES_OTHER_RESERVE 64u
#define SERIES_OTHER "other"

enum series_side {
	SERIES_SIDE_SERVER = 0,
	SERIES_SIDE_CLIENT = 1,
	SERIES_SIDE_COUNT
};

struct series_key {
	uint8_t side;             /* enum series_side */
	uint16_t status;          /* 0: no response seen */
	char method[SERIES_METHOD_BYTES];
	char route[ROUTE_BYTES_MAX];
	char process[SERIES_NAME_BYTES];
	char container[SERIES_CONTAINER_BYTES];
};

struct series {
	struct series_key key;
	uint64_t count;
	uint64_t errors;
	uint64_t buckets[SERIES_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
	double sum_s;
	uint32_t hash;
	bool used;
};

struct series_stats {
	uint64_t records;        /* observations */
	uint64_t series;         /* series in use (overflow series included) */
	uint64_t overflow_other; /* records put in an `other` route: table full */
	uint64_t overflow_all;   /* ... in the all-`other` series: reserve full too */
};

struct series_table;

/* max_series: 0 for SERIES_MAX_DEFAULT, at most SERIES_MAX_MAX. Memory is
 * allocated once: ~450 B per series. 0 or -ENOMEM/-EINVAL. */
int series_table_new(struct series_table **out, uint32_t max_series);
void series_table_free(struct series_table *t);

/* One request: method as sent (one of RFC 9110/5789's, case-sensitive;
 * any other becomes "_OTHER", so a hostile method is no new series), route already templated, duration in seconds (negative: not
 * measured, counted without a histogram observation). An error is a status
 * >= 500 on the server side, >= 400 or no response on the client side (the
 * OpenTelemetry HTTP conventions). O(1) on average. */
void series_table_observe(struct series_table *t, enum series_side side, const char *method,
			  uint16_t status, const char *route, const char *process,
			  const char *container, double duration_s);

/* Every series in use, in an unspecified but stable order, overflow series
 * last. fn returns 0 to go on, anything else stops and is returned. */
int series_table_each(const struct series_table *t,
		      int (*fn)(const struct series *s, void *ctx), void *ctx);
void series_table_stats(const struct series_table *t, struct series_stats *out);
/* Copy src's series and stats into dst, made with the same max_series: the
 * endpoint renders a page from such a copy, so the lock the tracing thread
 * shares is held for one memcpy of the series in use (~450 B each), not for
 * the rendering. dst is then read only (series_table_each, stats; an
 * observation into it is ignored). 0, or -EINVAL when the bounds differ. */
int series_table_copy(struct series_table *dst, const struct series_table *src);
/* The bucket bounds (SERIES_BUCKETS of them), seconds. */
const double *series_bucket_bounds(void);
bool series_is_error(enum series_side side, uint16_t status);
/* method if it is one of RFC 9110/5789's, else "_OTHER". */
const char *series_method_label(const char *method);
const char *series_side_name(enum series_side side);

#endif
