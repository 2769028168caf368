/* Output of `sonde http`: JSON lines with the field names of DESIGN.md and
 * aligned text columns, plus the pipeline's counters for the stats record. */
#ifndef SONDE_EXPORT_HTTP_FORMAT_H
#define SONDE_EXPORT_HTTP_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "export/json_writer.h"
#include "pipeline/http_pipeline.h"

int http_record_to_json(const struct http_record *r, struct json_writer *w);
const char *http_text_header(void);
/* One text line (no newline); t0_ns is shown as time 0. Non-printable bytes
 * of the path are shown as \xNN. Returns the length or -ENOSPC. */
int http_record_to_text(const struct http_record *r, uint64_t t0_ns, char *buf, size_t size);
/* "http":{...} counters, into an open object. */
void http_pipeline_stats_json(const struct http_pipeline_stats *s, struct json_writer *w);
const char *http_side_name(enum http_side side);
/* "server", "client" or "both" (HTTP_SIDE_UNKNOWN) into out: 0, or -EINVAL. */
int http_side_parse(const char *s, enum http_side *out);

#endif
