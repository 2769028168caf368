/* Option parsing and error reporting shared by every subcommand, so that all
 * of them speak the same command-line shape and exit codes. */
#ifndef SONDE_CLI_COMMON_H
#define SONDE_CLI_COMMON_H

#include <stdbool.h>
#include <stdint.h>

enum {
	EXIT_OK = 0,
	EXIT_CHECK_FAILED = 1,
	EXIT_USAGE = 2, /* usage or environment error */
};

/* Parse a whole decimal integer in [min, max]; 0 or -EINVAL/-ERANGE. */
int cli_parse_long(const char *s, long min, long max, long *out);
/* Parse a non-negative number of seconds (fractions allowed); 0 or -EINVAL. */
int cli_parse_seconds(const char *s, double *out);

/* Print "sonde <cmd>: <message>" as one line on stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Monotonic clock in nanoseconds. */
uint64_t cli_now_ns(void);

/* Set by SIGINT/SIGTERM once cli_install_stop_signals() ran. */
extern volatile int cli_stop_requested;
void cli_install_stop_signals(void);

#endif
