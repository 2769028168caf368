/* Where a tracer's records go: stdout, one line each, as text or JSON, and
 * the loop every tracer command runs until Ctrl-C or --duration. Shared so
 * that every command behaves the same way. */
#ifndef SONDE_CLI_OUTPUT_H
#define SONDE_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "export/json_writer.h"
#include "pipeline/tracer_stats.h"

/* A record with 4 KiB of hostile bytes, each escaped as \u00XX, fits. */
#define OUTPUT_LINE_BYTES_MAX (64 * 1024)
#define OUTPUT_POLL_INTERVAL_MS 100

struct cli_output {
	bool json;
	bool broken;            /* stdout went away (EPIPE): stop */
	uint64_t t0_ns;         /* shown as time 0 in text output */
	struct json_writer w;   /* over line[] */
	/* SIGUSR1: called by cli_output_run with its ctx once what the ring
	 * buffer holds is handled; NULL: the signal is ignored. */
	void (*on_stats)(void *ctx);
	char line[OUTPUT_LINE_BYTES_MAX];
};

/* Allocate an output; stdout is block-buffered when it is not a terminal. */
struct cli_output *cli_output_new(bool json);
void cli_output_free(struct cli_output *o);
/* Start a JSON record in o->w (reset). */
struct json_writer *cli_output_json(struct cli_output *o);
/* Write the JSON record built in o->w as one line: 0 or a negative errno. */
int cli_output_json_line(struct cli_output *o);

struct http_record;
struct exec_record;
/* One record of `sonde http` / `sonde exec` (live or replayed), as text or
 * JSON: 0, or a negative errno when it could not be formatted or written. */
int cli_output_http_record(struct cli_output *o, const struct http_record *r);
int cli_output_exec_record(struct cli_output *o, const struct exec_record *r);
/* Write s[0..len) and a newline: 0 or a negative errno. */
int cli_output_line(struct cli_output *o, const char *s, size_t len);

/* Poll until Ctrl-C/SIGTERM, --duration (seconds, 0 = none) or a broken
 * stdout; on SIGUSR1, drain and call o->on_stats. poll returns records handled or a negative errno, which ends the
 * loop and is returned. */
int cli_output_run(struct cli_output *o, const char *cmd, double duration,
		   int (*poll)(void *ctx, int timeout_ms), void *ctx);

#endif
