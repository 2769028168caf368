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
/* Parse an option's whole decimal integer in [min, max]: 0, or -1 after
 * saying "cmd: --opt takes MIN to MAX, not 'arg'". */
int cli_parse_range(const char *cmd, const char *opt, const char *arg, long min, long max,
		    long *out);
/* The index of arg in choices (NULL-terminated), or -1 after saying
 * "cmd: --opt takes A or B, not 'arg'". */
int cli_parse_choice(const char *cmd, const char *opt, const char *arg,
		     const char *const choices[]);
/* Parse a non-negative number of seconds (fractions allowed); 0 or -EINVAL. */
int cli_parse_seconds(const char *s, double *out);

/* Print "sonde <cmd>: <message>" as one line on stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Options every tracer command has, parsed the same way everywhere. */
struct cli_tracer_opts {
	bool json;
	bool verbose;
	double duration;      /* seconds, 0: until Ctrl-C */
	uint32_t pid;         /* 0: all */
	const char *comm;     /* NULL: all */
	uint32_t ringbuf_kb;  /* 0: the tracer's default */
};

#define CLI_RINGBUF_KB_MAX (1024 * 1024)
#define CLI_COMM_LEN 16

/* The getopt_long entries of those options (short codes p c j d r v h). */
#define CLI_TRACER_LONGOPTS                                          \
	{ "pid", required_argument, NULL, 'p' },                     \
	{ "comm", required_argument, NULL, 'c' },                    \
	{ "json", no_argument, NULL, 'j' },                          \
	{ "duration", required_argument, NULL, 'd' },                \
	{ "ringbuf-kb", required_argument, NULL, 'r' },              \
	{ "verbose", no_argument, NULL, 'v' },                       \
	{ "help", no_argument, NULL, 'h' }

/* Parse opt (with arg) if it is one of the common options. Returns 1 when
 * it was (o updated), 0 when it is not one of them, -1 on a bad value or an
 * unknown option (one line already printed). 'h' is left to the caller. */
int cli_tracer_option(const char *cmd, int opt, const char *arg, char **argv,
		      struct cli_tracer_opts *o);

/* After getopt: 0 if no argument is left, else -1 with one line printed
 * naming the first one. */
int cli_no_more_args(const char *cmd, int argc, char **argv);

/* Privileges (see docs/privileges.md). Before anything is loaded: can this
 * process load a tracer (needs_tracefs: it attaches tracepoints by tracefs
 * id)? 0, or -1 with one line printed. */
int cli_check_privileges(const char *cmd, bool needs_tracefs);

struct priv_user;
/* --user NAME: looked up at once, so that a typo costs nothing; 0, or -1
 * with one line printed. */
int cli_user_lookup(const char *cmd, const char *name, struct priv_user *u);

/* --user, once everything privileged is done (programs attached, ring
 * buffer and output files open): become u with no capability, except
 * CAP_BPF when counters_op (a bpf() call on an fd already held, say reading
 * the stats map) fails without it on this kernel. 0, or -1 with one line
 * printed: the caller must exit, the process may be half dropped. */
int cli_drop_privileges(const char *cmd, const struct priv_user *u,
			int (*counters_op)(void *ctx), void *ctx);

/* Monotonic clock in nanoseconds. */
uint64_t cli_now_ns(void);

/* Set by SIGINT/SIGTERM once cli_install_stop_signals() ran. */
extern volatile int cli_stop_requested;
/* Set by SIGUSR1 once cli_install_stop_signals() ran: print the counters so
 * far (see cli_output.on_stats). */
extern volatile int cli_stats_requested;
void cli_install_stop_signals(void);

#endif
