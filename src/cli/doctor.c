/* `sonde doctor`: what this kernel offers and what sonde will use. Runs every
 * check of loader/probe.h (each one tries the feature for real) and says, for
 * each, what sonde does with it or without it. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "export/json_writer.h"
#include "loader/bpf_env.h"
#include "loader/probe.h"

#define CMD "doctor"
/* One JSON object for all checks: PROBE_COUNT details plus impacts. */
#define DOCTOR_JSON_BYTES 16384
#define NS_PER_MS 1000000.0
#define STATUS_COL_WIDTH 9

struct check_doc {
	bool required;        /* sonde cannot run without it */
	const char *used_for; /* when ok: what sonde uses it for */
	const char *without;  /* when missing: what sonde does without it */
};

static const struct check_doc check_docs[PROBE_COUNT] = {
	[PROBE_BTF] = { true, "CO-RE: one sonde binary fits this kernel's struct layouts",
			"sonde cannot run: its programs need BTF for CO-RE relocations" },
	[PROBE_RINGBUF] = { true, "every event leaves the kernel through a ring buffer",
			    "sonde cannot run: events leave the kernel only through ring buffers" },
	[PROBE_SYSCALL_TP] = { true, "HTTP capture (close); `sonde exec --impl syscalls`",
			       "sonde cannot run: HTTP capture hooks the close syscall tracepoint" },
	[PROBE_SCHED_TP] = { true, "`sonde exec`: exec, fork and exit events",
			     "sonde cannot run: process tracking needs sched tracepoints" },
	[PROBE_RAW_TP] = { true, "HTTP capture (one program on every syscall exit); "
				 "`sonde exec --impl raw_tracepoint`",
			   "sonde cannot trace HTTP: its syscall-exit hook is a BTF raw tracepoint" },
	[PROBE_KPROBE] = { false, "`sonde exec --impl kprobe` is available",
			   "sonde uses tracepoints instead; `sonde exec --impl kprobe` is unavailable" },
	[PROBE_FENTRY] = { false, "not needed, sonde uses tracepoints",
			   "not needed, sonde uses tracepoints" },
	[PROBE_UPROBE] = { false, "HTTPS (TLS) capture through uprobes on libssl",
			   "HTTPS (TLS) capture unavailable; plain HTTP is still traced" },
	[PROBE_BPF_STATS] = { false, "the lab reports in-kernel BPF time per tracer",
			      "the lab cannot report in-kernel BPF time (shown as unavailable)" },
	[PROBE_LOCKDOWN] = { false, "nothing lost: sonde reads kernel memory, never writes user memory",
			     "CO-RE reads refused: sonde cannot read sockets, argv or paths" },
	[PROBE_MEMLOCK] = { false, "sonde's maps are not bounded by RLIMIT_MEMLOCK",
			    "sonde's maps must fit in RLIMIT_MEMLOCK: raise it (ulimit -l) "
			    "or use smaller ring buffers" },
	[PROBE_CAPS] = { false, "enough to load and attach BPF programs",
			 "run as root, or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on older kernels)" },
};

struct doctor_opts {
	bool json;
	bool verbose;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sonde doctor [--json] [-v] [--help]\n\n"
		"Find out, by trying each one, which BPF features this kernel offers\n"
		"(BTF, ring buffer, tracepoints, kprobes, fentry, uprobes, run-time\n"
		"stats, lockdown, memlock accounting, capabilities) and what sonde does\n"
		"with or without each. Exits 0 when sonde can run here, 2 when it cannot.\n\n"
		"Options:\n"
		"  --json         one JSON object: {\"type\":\"doctor\",\"can_run\":..,\"checks\":[..]}\n"
		"  -v, --verbose  show libbpf's messages and the time each check took\n"
		"  -h, --help     this help\n\n"
		"EXAMPLES\n"
		"  sonde doctor                       the checks as a table\n"
		"  sonde doctor --json | jq .can_run  true when sonde can run here\n"
		"  sonde doctor -v                    with libbpf and verifier messages\n");
}

/* 0 to run, 1 when --help was printed, -EINVAL after a usage error. */
static int parse_args(int argc, char **argv, struct doctor_opts *o)
{
	static const struct option long_opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0; /* our own one-line error instead of getopt's */
	optind = 1;
	while ((c = getopt_long(argc, argv, ":vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); return 1;
		default:
			if (optopt)
				cli_error(CMD, "unknown option '-%c'; run 'sonde doctor --help'", optopt);
			else
				cli_error(CMD, "unknown option '%s'; run 'sonde doctor --help'",
					  argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (cli_no_more_args(CMD, argc, argv))
		return -EINVAL;
	return 0;
}

static const char *check_impact(enum probe_id id, const struct probe_result *r)
{
	return r->ok ? check_docs[id].used_for : check_docs[id].without;
}

static void print_text(const struct probe_result *res, bool can_run)
{
	struct utsname u;
	int name_w = (int)strlen("CHECK");

	for (int i = 0; i < PROBE_COUNT; i++) {
		int n = (int)strlen(probe_name(i));

		if (n > name_w)
			name_w = n;
	}
	name_w += 2;
	if (uname(&u) == 0)
		printf("kernel %s %s\n\n", u.release, u.machine);
	printf("%-*s%-*s%s\n", name_w, "CHECK", STATUS_COL_WIDTH, "STATUS",
	       "DETAIL, then what sonde does");
	for (int i = 0; i < PROBE_COUNT; i++) {
		printf("%-*s%-*s%s\n", name_w, probe_name(i), STATUS_COL_WIDTH,
		       res[i].ok ? "ok" : "missing", res[i].detail);
		printf("%*s-> %s\n", name_w + STATUS_COL_WIDTH, "", check_impact(i, &res[i]));
	}
	printf("\n%s\n", can_run ? "sonde can run here: BTF, ring buffer, syscall and sched "
				   "tracepoints all work."
				 : "sonde cannot run here (see the missing required checks above).");
}

static int print_json(const struct probe_result *res, bool can_run)
{
	static char buf[DOCTOR_JSON_BYTES];
	struct json_writer w;
	int err;

	json_init(&w, buf, sizeof(buf));
	json_obj_begin(&w);
	json_key(&w, "type");
	json_cstr(&w, "doctor");
	json_key(&w, "can_run");
	json_bool(&w, can_run);
	json_key(&w, "checks");
	json_arr_begin(&w);
	for (int i = 0; i < PROBE_COUNT; i++) {
		json_obj_begin(&w);
		json_key(&w, "name");
		json_cstr(&w, probe_name(i));
		json_key(&w, "status");
		json_cstr(&w, res[i].ok ? "ok" : "missing");
		json_key(&w, "required");
		json_bool(&w, check_docs[i].required);
		json_key(&w, "detail");
		json_cstr(&w, res[i].detail);
		json_key(&w, "impact");
		json_cstr(&w, check_impact(i, &res[i]));
		json_obj_end(&w);
	}
	json_arr_end(&w);
	json_obj_end(&w);
	err = json_finish(&w);
	if (err)
		return err;
	printf("%.*s\n", (int)w.len, w.buf);
	return 0;
}

int cmd_doctor(int argc, char **argv)
{
	struct probe_result res[PROBE_COUNT];
	struct doctor_opts o;
	int first_missing = -1, more_missing = 0;
	bool can_run = true;
	int err;

	err = parse_args(argc, argv, &o);
	if (err)
		return err > 0 ? EXIT_OK : EXIT_USAGE;

	/* A tracefs that cannot be mounted shows up as failed tracepoint checks. */
	err = bpf_env_prepare(o.verbose);
	if (err && o.verbose)
		cli_error(CMD, "cannot mount tracefs: %s", strerror(-err));

	for (int i = 0; i < PROBE_COUNT; i++) {
		uint64_t t0 = cli_now_ns();

		probe_run(i, &res[i]);
		if (o.verbose)
			fprintf(stderr, "sonde doctor: %s took %.1f ms\n", probe_name(i),
				(double)(cli_now_ns() - t0) / NS_PER_MS);
		if (check_docs[i].required && !res[i].ok) {
			can_run = false;
			if (first_missing < 0)
				first_missing = i;
			else
				more_missing++;
		}
	}

	if (o.json) {
		err = print_json(res, can_run);
		if (err) {
			cli_error(CMD, "JSON output did not fit in %d bytes", DOCTOR_JSON_BYTES);
			return EXIT_USAGE;
		}
	} else {
		print_text(res, can_run);
	}
	fflush(stdout);

	if (!can_run) {
		cli_error(CMD, "sonde cannot run here: %s missing (%s)%s", probe_name(first_missing),
			  res[first_missing].detail,
			  more_missing ? ", and other required checks failed too" : "");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}
