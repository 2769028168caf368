/* `sonde exec`: every process start (exec, fork) and exit on the host, as
 * text columns or JSON lines, with a final accounting record. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/replay.h"
#include "export/exec_format.h"
#include "loader/bpf_env.h"
#include "loader/exec_tracer.h"
#include "loader/privilege.h"

#define CMD "exec"

struct exec_cli {
	struct cli_output *o;
	struct cli_record rec;   /* --record FILE */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sonde exec [options]\n\n"
		"Trace every process start (exec, and fork with --forks) and exit on this host.\n\n"
		"Options:\n"
		"  --impl NAME        tracepoint (default), raw_tracepoint, syscalls (also\n"
		"                     reports failed execs with their error), kprobe\n"
		"  --pid PID          only this process\n"
		"  --comm NAME        only processes with this command name (after exec)\n"
		"  --uid UID          only processes of this user\n"
		"  --forks            also a record per fork (process, not thread); off by\n"
		"                     default: every shell subshell is one, ~0.5 us each\n"
		"  --json             one JSON object per line\n"
		"  --duration SECONDS stop after this long (default: until Ctrl-C)\n"
		"  --ringbuf-kb KB    ring buffer size (default %d, rounded up to a power of 2)\n"
		"  --record FILE      also write the raw kernel events to FILE (mode 0600), for\n"
		"                     'sonde replay FILE'; it holds argv as run (secrets\n"
		"                     passed as arguments too): keep it private\n"
		"  --user NAME        once the programs are attached and the files open, run\n"
		"                     as this user with no capability (CAP_BPF only where\n"
		"                     the kernel needs it to read the counters) and\n"
		"                     no_new_privs\n"
		"  -v, --verbose      show libbpf's messages\n"
		"  -h, --help         this help\n\n"
		"Privileges: CAP_BPF and CAP_PERFMON, and for the tracepoint and syscalls\n"
		"implementations read access to /sys/kernel/tracing (uid 0, or\n"
		"CAP_DAC_READ_SEARCH; raw_tracepoint does without). See docs/privileges.md.\n\n"
		"On exit it prints a stats record: produced, delivered, and every drop by\n"
		"reason, so that nothing is lost silently.\n\n"
		"EXAMPLES\n"
		"  sonde exec                          all execs and exits, as text\n"
		"  sonde exec --forks                  forks too\n"
		"  sonde exec --json --duration 10     ten seconds of JSON lines\n"
		"  sonde exec --impl syscalls --comm curl   curl runs, failed execs included\n"
		"  sonde exec --uid 1000 --json | jq .args  argv of one user's processes\n"
		"  sonde exec --record procs.cap; sonde replay procs.cap --json\n"
		"  sonde exec --user nobody --json     drop root once attached\n",
		EXEC_RINGBUF_KB_DEFAULT);
}

static int on_record(const struct exec_record *r, void *ctx)
{
	struct exec_cli *c = ctx;

	if (c->rec.w)
		cli_record_check(&c->rec, capture_writer_exec_record(c->rec.w, r));
	return cli_output_exec_record(c->o, r);
}

static int poll_tracer(void *ctx, int timeout_ms)
{
	return exec_tracer_poll(ctx, timeout_ms);
}

/* A bpf() call on an fd already held: the one --user must keep working. */
static int read_counters(void *ctx)
{
	struct tracer_stats s;

	return exec_tracer_stats(ctx, &s);
}

static int print_stats(struct cli_output *o, const struct tracer_stats *s)
{
	int n;

	if (o->json) {
		tracer_stats_to_json(s, cli_output_json(o));
		return cli_output_json_line(o);
	}
	n = tracer_stats_to_text(s, o->line, sizeof(o->line));
	return n < 0 ? n : cli_output_line(o, o->line, (size_t)n);
}

int cmd_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "impl", required_argument, NULL, 'i' },
		{ "uid", required_argument, NULL, 'u' },
		{ "forks", no_argument, NULL, 'f' },
		{ "record", required_argument, NULL, 'R' },
		{ "user", required_argument, NULL, 'U' },
		CLI_TRACER_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct exec_tracer_opts opts = { .impl = EXEC_IMPL_TRACEPOINT };
	struct cli_tracer_opts common = { 0 };
	struct exec_tracer *t = NULL;
	struct exec_cli c = { 0 };
	const char *record_path = NULL, *user_name = NULL;
	struct priv_user user;
	struct cli_output *o;
	struct tracer_stats stats;
	char err[256];
	long v;
	int opt, ret;

	optind = 1;
	opterr = 0; /* one line of our own instead of getopt's */
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (exec_impl_parse(optarg, &opts.impl)) {
				cli_error(CMD, "unknown --impl '%s' (tracepoint, raw_tracepoint, syscalls, kprobe)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'u':
			if (cli_parse_long(optarg, 0, UINT32_MAX - 1, &v)) {
				cli_error(CMD, "--uid takes a user id, not '%s'", optarg);
				return EXIT_USAGE;
			}
			opts.filter_uid_on = true;
			opts.filter_uid = (uint32_t)v;
			break;
		case 'f':
			opts.forks = true;
			break;
		case 'R':
			record_path = optarg;
			break;
		case 'U':
			user_name = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			if (cli_tracer_option(CMD, opt, optarg, argv, &common) <= 0)
				return EXIT_USAGE;
		}
	}
	if (cli_no_more_args(CMD, argc, argv))
		return EXIT_USAGE;
	if (user_name && cli_user_lookup(CMD, user_name, &user))
		return EXIT_USAGE;
	/* tracepoints are attached by their tracefs id; raw ones by name */
	if (opts.impl != EXEC_IMPL_KPROBE &&
	    cli_check_privileges(CMD, opts.impl != EXEC_IMPL_RAW_TRACEPOINT))
		return EXIT_USAGE;
	opts.filter_pid = common.pid;
	opts.filter_comm = common.comm;
	opts.ringbuf_kb = common.ringbuf_kb;

	o = cli_output_new(common.json);
	if (!o) {
		cli_error(CMD, "out of memory");
		return EXIT_USAGE;
	}
	c.o = o;
	if (record_path) {
		struct capture_info info;

		/* exit durations are recorded as printed: see capture.h */
		capture_info_init(&info, CAPTURE_KIND_EXEC, o->t0_ns);
		info.capture_bytes = EXEC_ARGS_BYTES_MAX;
		info.flags = CAPTURE_F_EXEC_DURATION_RESOLVED;
		if (cli_record_open(&c.rec, CMD, record_path, &info)) {
			cli_output_free(o);
			return EXIT_USAGE;
		}
	}
	/* raw tracepoints need no tracefs */
	if ((ret = bpf_env_prepare(common.verbose)) && opts.impl != EXEC_IMPL_RAW_TRACEPOINT)
		cli_error(CMD, "warning: %s", bpf_env_prepare_strerror(ret));
	if (exec_tracer_open(&t, &opts, on_record, &c, err, sizeof(err))) {
		cli_error(CMD, "%s", err);
		cli_record_close(&c.rec);
		cli_output_free(o);
		return EXIT_USAGE;
	}
	if (user_name && cli_drop_privileges(CMD, &user, read_counters, t)) {
		exec_tracer_close(t);
		cli_record_close(&c.rec);
		cli_output_free(o);
		return EXIT_USAGE;
	}
	fprintf(stderr, "sonde exec: tracing (impl %s)%s%s; %s\n", exec_impl_name(opts.impl),
		user_name ? " as " : "", user_name ? user_name : "",
		common.duration > 0 ? "stops after --duration" : "Ctrl-C to stop");
	if (!common.json)
		printf("%s\n", exec_text_header());
	ret = cli_output_run(o, CMD, common.duration, poll_tracer, t) ? EXIT_USAGE : EXIT_OK;
	exec_tracer_stop(t);
	if (exec_tracer_stats(t, &stats))
		cli_error(CMD, "reading the kernel counters failed");
	print_stats(o, &stats);
	if (cli_record_close(&c.rec) && ret == EXIT_OK)
		ret = EXIT_USAGE;
	exec_tracer_close(t);
	cli_output_free(o);
	return ret;
}
