/* Record output and the run loop shared by the tracer commands. */
#include "cli/output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "export/exec_format.h"
#include "export/http_format.h"

#define STDOUT_BUFFER_BYTES (1 << 16)
/* SIGUSR1: polls without waiting until the ring buffer is empty, at most. */
#define STATS_DRAIN_POLLS_MAX 64

struct cli_output *cli_output_new(bool json)
{
	struct cli_output *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->json = json;
	json_init(&o->w, o->line, sizeof(o->line));
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, STDOUT_BUFFER_BYTES);
	o->t0_ns = cli_now_ns();
	return o;
}

void cli_output_free(struct cli_output *o)
{
	if (o)
		fflush(stdout);
	free(o);
}

struct json_writer *cli_output_json(struct cli_output *o)
{
	json_reset(&o->w);
	return &o->w;
}

int cli_output_line(struct cli_output *o, const char *s, size_t len)
{
	if (o->broken)
		return -EPIPE;
	if (fwrite(s, 1, len, stdout) != len || fputc('\n', stdout) == EOF) {
		if (errno == EPIPE)
			o->broken = true;
		return -EIO;
	}
	return 0;
}

int cli_output_json_line(struct cli_output *o)
{
	if (json_finish(&o->w))
		return -ENOSPC;
	return cli_output_line(o, o->w.buf, o->w.len);
}

int cli_output_http_record(struct cli_output *o, const struct http_record *r)
{
	int n;

	if (o->json) {
		if (http_record_to_json(r, cli_output_json(o)))
			return -ENOSPC;
		return cli_output_json_line(o);
	}
	n = http_record_to_text(r, o->t0_ns, o->line, sizeof(o->line));
	return n < 0 ? n : cli_output_line(o, o->line, (size_t)n);
}

int cli_output_exec_record(struct cli_output *o, const struct exec_record *r)
{
	int n;

	if (o->json) {
		if (exec_record_to_json(r, cli_output_json(o)))
			return -ENOSPC;
		return cli_output_json_line(o);
	}
	n = exec_record_to_text(r, o->t0_ns, o->line, sizeof(o->line));
	return n < 0 ? n : cli_output_line(o, o->line, (size_t)n);
}

int cli_output_run(struct cli_output *o, const char *cmd, double duration,
		   int (*poll)(void *ctx, int timeout_ms), void *ctx)
{
	uint64_t deadline = duration > 0 ? cli_now_ns() + (uint64_t)(duration * 1e9) : 0;

	cli_install_stop_signals();
	while (!cli_stop_requested && !o->broken) {
		int n = poll(ctx, OUTPUT_POLL_INTERVAL_MS);

		if (n < 0) {
			cli_error(cmd, "reading the ring buffer failed: %s", strerror(-n));
			return n;
		}
		if (n > 0)
			fflush(stdout);
		if (cli_stats_requested) {
			cli_stats_requested = 0;
			/* what was produced before the signal, then the counters */
			int i = 0;

			do
				n = poll(ctx, 0);
			while (n > 0 && ++i < STATS_DRAIN_POLLS_MAX);
			if (n < 0) {
				cli_error(cmd, "reading the ring buffer failed: %s", strerror(-n));
				return n;
			}
			if (o->on_stats)
				o->on_stats(ctx);
			fflush(stdout);
		}
		if (deadline && cli_now_ns() >= deadline)
			break;
	}
	return 0;
}
