/* --record FILE of `sonde http` and `sonde exec`: the capture file they write
 * while tracing (pipeline/capture.h), with the command line's way of saying
 * what went wrong. `sonde replay` (replay.c) reads it back. */
#ifndef SONDE_CLI_REPLAY_H
#define SONDE_CLI_REPLAY_H

#include <stdbool.h>

#include "pipeline/capture.h"

/* The help text of --record, shared by both tracers. */
#define CLI_RECORD_HELP                                                                    \
	"  --record FILE        also write the raw kernel events to FILE (mode 0600),\n"   \
	"                       for 'sonde replay FILE'; it holds payload bytes as sent\n" \
	"                       (query values, cookies, tokens): keep it private\n"

struct cli_record {
	struct capture_writer *w;   /* NULL: not recording */
	const char *cmd;
	const char *path;
	bool reported;              /* the first write error was printed */
};

/* Create the capture file. 0, or -1 with one line printed. */
int cli_record_open(struct cli_record *r, const char *cmd, const char *path,
		    const struct capture_info *info);
/* Check what a capture_writer_* call returned: the first write error is
 * printed as one line; recording stops there, and every event after it is
 * counted as not recorded (cli_record_close says how many). */
void cli_record_check(struct cli_record *r, int ret);
/* Finish the file (end record, flush, close); one line when events were
 * not recorded. 0, or -1 when writing failed (the file is incomplete). */
int cli_record_close(struct cli_record *r);

#endif
