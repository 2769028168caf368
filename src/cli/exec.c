/* `sonde exec`: every process start (exec, fork) and exit on the host, as
 * text columns or JSON lines, with a final accounting record. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "export/exec_format.h"
#include "export/json_writer.h"
#include "loader/bpf_env.h"
#include "loader/exec_tracer.h"

#define CMD "exec"
#define POLL_INTERVAL_MS 100
#define LINE_BYTES_MAX (64 * 1024) /* an exec record with 4 KiB of hostile argv, escaped */
#define RINGBUF_KB_MAX (1024 * 1024)

struct exec_cli {
	bool json;
	uint64_t t0_ns;
	bool output_broken;
	struct json_writer w;
	char line[LINE_BYTES_MAX];
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sonde exec [options]\n\n"
		"Trace every process start (exec, fork) and exit on this host.\n\n"
		"Options:\n"
		"  --impl NAME        tracepoint (default), raw_tracepoint, syscalls (also\n"
		"                     reports failed execs with their error), kprobe\n"
		"  --pid PID          only this process\n"
		"  --comm NAME        only processes with this command name (after exec)\n"
		"  --uid UID          only processes of this user\n"
		"  --json             one JSON object per line\n"
		"  --duration SECONDS stop after this long (default: until Ctrl-C)\n"
		"  --ringbuf-kb KB    ring buffer size (default %d, rounded up to a power of 2)\n"
		"  -v, --verbose      show libbpf's messages\n"
		"  -h, --help         this help\n\n"
		"On exit it prints a stats record: produced, delivered, and every drop by\n"
		"reason, so that nothing is lost silently.\n\n"
		"EXAMPLES\n"
		"  sonde exec                          all execs, forks and exits, as text\n"
		"  sonde exec --json --duration 10     ten seconds of JSON lines\n"
		"  sonde exec --impl syscalls --comm curl   curl runs, failed execs included\n"
		"  sonde exec --uid 1000 --json | jq .args  argv of one user's processes\n",
		EXEC_RINGBUF_KB_DEFAULT);
}

static int emit_line(struct exec_cli *c, const char *s, size_t len)
{
	if (c->output_broken)
		return -EPIPE;
	if (fwrite(s, 1, len, stdout) != len || fputc('\n', stdout) == EOF) {
		if (errno == EPIPE)
			c->output_broken = true;
		return -EIO;
	}
	return 0;
}

static int on_record(const struct exec_record *r, void *ctx)
{
	struct exec_cli *c = ctx;
	int n;

	if (c->json) {
		json_reset(&c->w);
		if (exec_record_to_json(r, &c->w))
			return -ENOSPC;
		return emit_line(c, c->w.buf, c->w.len);
	}
	n = exec_record_to_text(r, c->t0_ns, c->line, sizeof(c->line));
	if (n < 0)
		return n;
	return emit_line(c, c->line, (size_t)n);
}

static int print_stats(struct exec_cli *c, const struct tracer_stats *s)
{
	if (c->json) {
		json_reset(&c->w);
		tracer_stats_to_json(s, &c->w);
		if (json_finish(&c->w))
			return -ENOSPC;
		return emit_line(c, c->w.buf, c->w.len);
	}
	int n = tracer_stats_to_text(s, c->line, sizeof(c->line));

	return n < 0 ? n : emit_line(c, c->line, (size_t)n);
}

int cmd_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "impl", required_argument, NULL, 'i' },
		{ "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, 'c' },
		{ "uid", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "duration", required_argument, NULL, 'd' },
		{ "ringbuf-kb", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exec_tracer_opts opts = { .impl = EXEC_IMPL_TRACEPOINT };
	struct exec_tracer *t = NULL;
	struct tracer_stats stats;
	struct exec_cli *c;
	double duration = 0;
	bool verbose = false;
	uint64_t deadline = 0;
	char err[256];
	long v;
	int opt, ret = EXIT_OK;

	c = calloc(1, sizeof(*c));
	if (!c) {
		cli_error(CMD, "out of memory");
		return EXIT_USAGE;
	}
	json_init(&c->w, c->line, sizeof(c->line));
	optind = 1;
	opterr = 0; /* one line of our own instead of getopt's */
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (exec_impl_parse(optarg, &opts.impl)) {
				cli_error(CMD, "unknown --impl '%s' (tracepoint, raw_tracepoint, syscalls, kprobe)", optarg);
				goto usage_error;
			}
			break;
		case 'p':
			if (cli_parse_long(optarg, 1, INT_MAX, &v)) {
				cli_error(CMD, "--pid takes a process id, not '%s'", optarg);
				goto usage_error;
			}
			opts.filter_pid = (uint32_t)v;
			break;
		case 'c':
			if (!*optarg || strlen(optarg) >= EXEC_COMM_LEN) {
				cli_error(CMD, "--comm takes a name of 1 to %d characters", EXEC_COMM_LEN - 1);
				goto usage_error;
			}
			opts.filter_comm = optarg;
			break;
		case 'u':
			if (cli_parse_long(optarg, 0, UINT32_MAX - 1, &v)) {
				cli_error(CMD, "--uid takes a user id, not '%s'", optarg);
				goto usage_error;
			}
			opts.filter_uid_on = true;
			opts.filter_uid = (uint32_t)v;
			break;
		case 'j':
			c->json = true;
			break;
		case 'd':
			if (cli_parse_seconds(optarg, &duration)) {
				cli_error(CMD, "--duration takes seconds, not '%s'", optarg);
				goto usage_error;
			}
			break;
		case 'r':
			if (cli_parse_long(optarg, 4, RINGBUF_KB_MAX, &v)) {
				cli_error(CMD, "--ringbuf-kb takes 4 to %d, not '%s'", RINGBUF_KB_MAX, optarg);
				goto usage_error;
			}
			opts.ringbuf_kb = (uint32_t)v;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			free(c);
			return EXIT_OK;
		default:
			cli_error(CMD, "unknown option or missing value '%s'; see 'sonde exec --help'",
				  argv[optind - 1]);
			goto usage_error;
		}
	}
	if (optind < argc) {
		cli_error(CMD, "unexpected argument '%s'; see 'sonde exec --help'", argv[optind]);
		goto usage_error;
	}

	if (bpf_env_prepare(verbose))
		cli_error(CMD, "warning: tracefs is not mounted and could not be: %s", strerror(errno));
	ret = exec_tracer_open(&t, &opts, on_record, c, err, sizeof(err));
	if (ret) {
		cli_error(CMD, "%s", err);
		free(c);
		return EXIT_USAGE;
	}
	cli_install_stop_signals();
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	c->t0_ns = cli_now_ns();
	if (duration > 0)
		deadline = c->t0_ns + (uint64_t)(duration * 1e9);
	fprintf(stderr, "sonde exec: tracing (impl %s); %s\n", exec_impl_name(opts.impl),
		duration > 0 ? "stops after --duration" : "Ctrl-C to stop");
	if (!c->json)
		printf("%s\n", exec_text_header());

	while (!cli_stop_requested && !c->output_broken) {
		int n = exec_tracer_poll(t, POLL_INTERVAL_MS);

		if (n < 0) {
			cli_error(CMD, "reading the ring buffer failed: %s", strerror(-n));
			ret = EXIT_USAGE;
			break;
		}
		if (n > 0)
			fflush(stdout);
		if (deadline && cli_now_ns() >= deadline)
			break;
	}
	exec_tracer_stop(t);
	if (exec_tracer_stats(t, &stats))
		cli_error(CMD, "reading the kernel counters failed");
	print_stats(c, &stats);
	fflush(stdout);
	exec_tracer_close(t);
	free(c);
	return ret;
usage_error:
	free(c);
	return EXIT_USAGE;
}
