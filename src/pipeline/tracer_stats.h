/* The accounting every tracer reports on exit: what the kernel produced,
 * what reached the output, and every drop by stage and reason, so that
 * produced == delivered + sum(dropped) can be checked. */
#ifndef SONDE_PIPELINE_TRACER_STATS_H
#define SONDE_PIPELINE_TRACER_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "stats.h"
#include "export/json_writer.h"

enum user_drop {
	USER_DROP_DECODE_ERROR = 0, /* a kernel record that failed to decode */
	USER_DROP_OUTPUT_ERROR,     /* the record could not be written out */
	USER_DROP_COUNT
};

struct tracer_stats {
	uint64_t kernel[STAT_COUNT];     /* summed per-CPU kernel counters */
	uint64_t delivered;              /* records written to the output */
	uint64_t filtered;               /* decoded but not selected by a userspace filter */
	uint64_t user_dropped[USER_DROP_COUNT];
	bool http;                       /* show the HTTP tracer's own reasons too */
};

uint64_t tracer_stats_dropped_total(const struct tracer_stats *s);
/* true when produced == delivered + filtered + sum(dropped) */
bool tracer_stats_balanced(const struct tracer_stats *s);
/* {"type":"stats","produced":..,"delivered":..,"dropped":{..},"partial":{..}}
 * and, for http, "sampled_out":{"server":..,"client":..} */
void tracer_stats_to_json(const struct tracer_stats *s, struct json_writer *w);
/* The same fields, into an object the caller opened (to add its own). */
void tracer_stats_json_fields(const struct tracer_stats *s, struct json_writer *w);
/* One human line: "stats: produced N, delivered N, dropped N (reason n, ...)" */
int tracer_stats_to_text(const struct tracer_stats *s, char *buf, size_t size);

#endif
