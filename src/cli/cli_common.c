/* Option parsing and error reporting shared by every subcommand. */
#include "cli/cli_common.h"
#include "loader/privilege.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile int cli_stop_requested;
volatile int cli_stats_requested;

int cli_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end != '\0' || end == s)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int cli_parse_range(const char *cmd, const char *opt, const char *arg, long min, long max,
		    long *out)
{
	if (!cli_parse_long(arg, min, max, out))
		return 0;
	cli_error(cmd, "--%s takes %ld to %ld, not '%s'", opt, min, max, arg);
	return -1;
}

int cli_parse_choice(const char *cmd, const char *opt, const char *arg,
		     const char *const choices[])
{
	char list[256];
	size_t len = 0, n = 0;

	for (; choices[n]; n++)
		if (!strcmp(arg, choices[n]))
			return (int)n;
	list[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(list); i++) {
		int w = snprintf(list + len, sizeof(list) - len, "%s%s",
				 i == 0 ? "" : i + 1 == n ? " or " : ", ", choices[i]);

		if (w > 0)
			len += (size_t)w;
	}
	cli_error(cmd, "--%s takes %s, not '%s'", opt, list, arg);
	return -1;
}

int cli_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end != '\0' || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_tracer_option(const char *cmd, int opt, const char *arg, char **argv,
		      struct cli_tracer_opts *o)
{
	long v;

	switch (opt) {
	case 'p':
		if (cli_parse_long(arg, 1, INT_MAX, &v)) {
			cli_error(cmd, "--pid takes a process id, not '%s'", arg);
			return -1;
		}
		o->pid = (uint32_t)v;
		return 1;
	case 'c':
		if (!*arg || strlen(arg) >= CLI_COMM_LEN) {
			cli_error(cmd, "--comm takes a name of 1 to %d characters", CLI_COMM_LEN - 1);
			return -1;
		}
		o->comm = arg;
		return 1;
	case 'j':
		o->json = true;
		return 1;
	case 'd':
		if (cli_parse_seconds(arg, &o->duration)) {
			cli_error(cmd, "--duration takes seconds, not '%s'", arg);
			return -1;
		}
		return 1;
	case 'r':
		if (cli_parse_long(arg, 4, CLI_RINGBUF_KB_MAX, &v)) {
			cli_error(cmd, "--ringbuf-kb takes 4 to %d, not '%s'", CLI_RINGBUF_KB_MAX, arg);
			return -1;
		}
		o->ringbuf_kb = (uint32_t)v;
		return 1;
	case 'v':
		o->verbose = true;
		return 1;
	case '?':
	case ':':
		cli_error(cmd, "unknown option or missing value '%s'; see 'sonde %s --help'",
			  argv[optind - 1], cmd);
		return -1;
	default:
		return 0;
	}
}

int cli_no_more_args(const char *cmd, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	cli_error(cmd, "unexpected argument '%s'; see 'sonde %s --help'", argv[optind], cmd);
	return -1;
}

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sonde %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t cli_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_stop_signal(int sig)
{
	(void)sig;
	cli_stop_requested = 1;
}

static void on_stats_signal(int sig)
{
	(void)sig;
	cli_stats_requested = 1;
}

void cli_install_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_stats_signal;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cli_check_privileges(const char *cmd, bool needs_tracefs)
{
	char err[320];

	if (!priv_check_tracer(needs_tracefs, err, sizeof(err)))
		return 0;
	cli_error(cmd, "%s", err);
	return -1;
}

int cli_user_lookup(const char *cmd, const char *name, struct priv_user *u)
{
	char err[256];

	if (!priv_user_lookup(name, u, err, sizeof(err)) &&
	    !priv_user_check_switch(u, err, sizeof(err)))
		return 0;
	cli_error(cmd, "%s", err);
	return -1;
}

int cli_drop_privileges(const char *cmd, const struct priv_user *u,
			int (*counters_op)(void *ctx), void *ctx)
{
	priv_caps_t keep = 0;
	char err[320];

	/* kernels before 6.5 with kernel.unprivileged_bpf_disabled refuse
	 * even a lookup on a held map fd without CAP_BPF: keep it only there */
	if (counters_op && priv_op_needs_caps(counters_op, ctx))
		keep |= PRIV_CAP(CAP_BPF);
	if (priv_drop_to_user(u, keep, err, sizeof(err))) {
		cli_error(cmd, "%s", err);
		return -1;
	}
	return 0;
}
