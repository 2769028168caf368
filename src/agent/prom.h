/* The Prometheus text exposition format (version 0.0.4) for the agent's
 * /metrics: the RED histograms of a series table under OpenTelemetry's HTTP
 * metric names, and single samples for the agent's own counters. Label
 * values are escaped (\\, \", \n) and any byte that is not valid UTF-8 or is
 * a control character becomes U+FFFD, so a hostile path or process name can
 * never break a line or the page. */
#ifndef SONDE_AGENT_PROM_H
#define SONDE_AGENT_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "agent/series.h"
#include "agent/strbuf.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_SERVER_HISTOGRAM "http_server_request_duration_seconds"
#define PROM_CLIENT_HISTOGRAM "http_client_request_duration_seconds"

struct prom_label {
	const char *name;   /* [a-zA-Z_][a-zA-Z0-9_]*: the caller's constant */
	const char *value;  /* any bytes, NUL-terminated */
};

/* Append value, escaped for a label value (without quotes). 0 or -ENOSPC. */
int prom_escape_label(struct strbuf *b, const char *value);
/* "# HELP name help\n# TYPE name type\n". */
int prom_header(struct strbuf *b, const char *name, const char *type, const char *help);
/* One sample line: name{labels} value. Integers are written exactly,
 * doubles with 17 significant digits, infinities as +Inf/-Inf. */
int prom_sample_u64(struct strbuf *b, const char *name, const struct prom_label *labels,
		    size_t n_labels, uint64_t value);
int prom_sample_double(struct strbuf *b, const char *name, const struct prom_label *labels,
		       size_t n_labels, double value);
/* Both histograms (server and client, each with its HELP/TYPE once and its
 * _bucket/_sum/_count lines per series) and the error counters
 * http_{server,client}_request_errors_total, for every series of t. Labels:
 * http_request_method, http_response_status_code (absent when no response
 * was seen), http_route, process_name, container_id (absent when none). */
int prom_write_series(struct strbuf *b, const struct series_table *t);

#endif
