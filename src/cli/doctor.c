/* `sonde doctor`: what this kernel offers and what sonde will use. Runs every
 * check of loader/probe.h (each one tries the feature for real) and says, for
 * each, what sonde does with it or without it; `--programs` loads every BPF
 * program sonde ships and reports what each cost the verifier. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "export/json_writer.h"
#include "loader/bpf_env.h"
#include "loader/bpf_programs.h"
#include "loader/probe.h"

#define CMD "doctor"
/* One JSON object for all checks: PROBE_COUNT details plus impacts. */
#define DOCTOR_JSON_BYTES 16384
/* One JSON object for --programs: ~400 bytes per program. */
#define PROGRAMS_JSON_BYTES 65536
#define PROGRAMS_MAX 64
#define PERCENT 100.0
#define NS_PER_MS 1000000.0
#define STATUS_COL_WIDTH 9
#define SINCE_COL_WIDTH 7

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
	[PROBE_SYSCALL_TP] = { false, "`sonde exec --impl syscalls`",
			       "`sonde exec --impl syscalls` is unavailable; the other "
			       "implementations and `sonde http` do not need it" },
	[PROBE_SCHED_TP] = { true, "`sonde exec`: exec, fork and exit events",
			     "sonde cannot run: process tracking needs sched tracepoints" },
	[PROBE_RAW_TP] = { true, "HTTP capture (one program on every syscall exit); "
				 "`sonde exec --impl raw_tracepoint`",
			   "sonde cannot trace HTTP: its syscall-exit hook is a BTF raw tracepoint" },
	[PROBE_KPROBE] = { false, "`sonde exec --impl kprobe` is available",
			   "sonde uses tracepoints instead; `sonde exec --impl kprobe` is unavailable" },
	[PROBE_FENTRY] = { false, "not needed, sonde uses tracepoints",
			   "not needed, sonde uses tracepoints" },
	[PROBE_UPROBE] = { false, "HTTPS (TLS) capture through perf uprobes on libssl where the "
				  "kernel has no uprobe-multi links",
			   "HTTPS (TLS) capture uses uprobe-multi links where the kernel has them "
			   "(uprobe_multi); else only plain HTTP is traced" },
	[PROBE_UPROBE_MULTI] = { false, "HTTPS (TLS) capture: one uprobe-multi link per SSL program "
					"and libssl, needing no CAP_SYS_ADMIN",
				 "HTTPS (TLS) capture through perf uprobes, which need CAP_SYS_ADMIN "
				 "on kernels since 2025" },
	[PROBE_OPENSSL] = { false, "HTTPS: SSL uprobes on OpenSSL's internal functions, whose first "
				   "instruction the kernel emulates at each hit",
			    "HTTPS: SSL uprobes on SSL_read/SSL_write's entries, each hit "
			    "single-stepped (several times dearer per SSL call)" },
	[PROBE_BPF_STATS] = { false, "the lab reports in-kernel BPF time per tracer",
			      "the lab cannot report in-kernel BPF time (shown as unavailable)" },
	[PROBE_LOCKDOWN] = { false, "nothing lost: sonde reads kernel memory, never writes user memory",
			     "CO-RE reads refused: sonde cannot read sockets, argv or paths" },
	[PROBE_MEMLOCK] = { false, "sonde's maps are not bounded by RLIMIT_MEMLOCK",
			    "sonde's maps must fit in RLIMIT_MEMLOCK: raise it (ulimit -l) "
			    "or use smaller ring buffers" },
	[PROBE_CAPS] = { false, "enough to load and attach BPF programs",
			 "run as root, or grant CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on older kernels)" },
	[PROBE_HELPERS] = { true, "argv and iovec copies (bpf_loop), ring buffer output, BTF task access",
			    "sonde cannot run: its programs call helpers this kernel does not offer" },
	[PROBE_TASK_STORAGE] = { true, "`sonde http`: per-thread state of SSL calls",
				 "`sonde http` cannot load: its object holds a task storage map "
				 "(`sonde exec` can still run)" },
	[PROBE_PROGRAMS] = { true, "sonde's exec and http programs pass this kernel's verifier",
			     "sonde cannot run: the verifier refuses one of its programs "
			     "(sonde doctor --programs -v says which and why)" },
};

struct doctor_opts {
	bool json;
	bool verbose;
	bool programs; /* --programs: the verifier's cost of every shipped program */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sonde doctor [--programs] [--json] [-v] [--help]\n\n"
		"Find out, by trying each one, which BPF features this kernel offers\n"
		"(BTF, ring buffer, tracepoints, kprobes, fentry, uprobes, uprobe-multi\n"
		"links, run-time stats, lockdown, memlock accounting, capabilities, the\n"
		"helpers and maps sonde's programs use, where its SSL uprobes go in the\n"
		"system's libssl, and whether those programs load)\n"
		"and what sonde does with or without each. The kernel's version is shown\n"
		"against the oldest one sonde supports (" PROBE_KERNEL_MIN_TEXT "); the checks, not the\n"
		"version, decide.\n"
		"Exits 0 when sonde can run here, 2 when it cannot.\n\n"
		"Options:\n"
		"  --programs     load (never attach) every BPF program sonde ships and print,\n"
		"                 per program: object, name, type, attach point, instructions\n"
		"                 the verifier processed (its log; verified_insns where the\n"
		"                 kernel reports it), share of the 1,000,000 limit, JIT-ed\n"
		"                 size. Exits 1 when one refuses to load or needs more than\n"
		"                 half the limit\n"
		"  --json         one JSON object: {\"type\":\"doctor\",\"can_run\":..,\"checks\":[..]}\n"
		"                 (with --programs: {\"type\":\"doctor_programs\",\"programs\":[..]})\n"
		"  -v, --verbose  show libbpf's messages and the time each check took\n"
		"  -h, --help     this help\n\n"
		"EXAMPLES\n"
		"  sonde doctor                       the checks as a table\n"
		"  sonde doctor --json | jq .can_run  true when sonde can run here\n"
		"  sonde doctor -v                    with libbpf and verifier messages\n"
		"  sonde doctor --programs            verifier cost of each shipped program\n"
		"  sonde doctor --programs --json | jq '.programs[] | {name, insns_processed}'\n");
}

/* 0 to run, 1 when --help was printed, -EINVAL after a usage error. */
static int parse_args(int argc, char **argv, struct doctor_opts *o)
{
	static const struct option long_opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "programs", no_argument, NULL, 'P' },
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
		case 'P': o->programs = true; break;
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

/* The running kernel against the oldest one sonde supports. */
struct kernel_info {
	char release[65];
	char machine[65];
	bool known;       /* major.minor could be read */
	bool new_enough;  /* >= PROBE_KERNEL_MIN */
};

static void kernel_info_get(struct kernel_info *k)
{
	struct utsname u;
	int major = 0, minor = 0;

	memset(k, 0, sizeof(*k));
	if (uname(&u) == 0) {
		snprintf(k->release, sizeof(k->release), "%s", u.release);
		snprintf(k->machine, sizeof(k->machine), "%s", u.machine);
	}
	k->known = probe_kernel_version(&major, &minor) == 0;
	k->new_enough = k->known && (major > PROBE_KERNEL_MIN_MAJOR ||
				     (major == PROBE_KERNEL_MIN_MAJOR && minor >= PROBE_KERNEL_MIN_MINOR));
}

static const char *kernel_verdict(const struct kernel_info *k)
{
	if (!k->known)
		return "version unreadable; the checks below decide";
	return k->new_enough ? "ok"
			     : "older: the checks below decide (distribution kernels backport BPF features)";
}

static void print_text(const struct probe_result *res, bool can_run)
{
	struct kernel_info k;
	int name_w = (int)strlen("CHECK");

	for (int i = 0; i < PROBE_COUNT; i++) {
		int n = (int)strlen(probe_name(i));

		if (n > name_w)
			name_w = n;
	}
	name_w += 2;
	kernel_info_get(&k);
	printf("kernel %s %s; sonde needs %s or later (%s): %s\n\n", k.release, k.machine,
	       PROBE_KERNEL_MIN_TEXT, PROBE_KERNEL_MIN_WHY, kernel_verdict(&k));
	printf("%-*s%-*s%-*s%s\n", name_w, "CHECK", STATUS_COL_WIDTH, "STATUS", SINCE_COL_WIDTH,
	       "SINCE", "DETAIL, then what sonde does");
	for (int i = 0; i < PROBE_COUNT; i++) {
		const char *since = probe_since(i);

		printf("%-*s%-*s%-*s%s\n", name_w, probe_name(i), STATUS_COL_WIDTH,
		       res[i].ok ? "ok" : "missing", SINCE_COL_WIDTH, since[0] ? since : "-",
		       res[i].detail);
		printf("%*s-> %s\n", name_w + STATUS_COL_WIDTH + SINCE_COL_WIDTH, "",
		       check_impact(i, &res[i]));
	}
	printf("\n%s\n", can_run ? "sonde can run here: every required check passed and its "
				   "programs load."
				 : "sonde cannot run here (see the missing required checks above).");
}

static void json_kernel(struct json_writer *w)
{
	struct kernel_info k;

	kernel_info_get(&k);
	json_key(w, "kernel");
	json_obj_begin(w);
	json_key(w, "release");
	json_cstr(w, k.release);
	json_key(w, "machine");
	json_cstr(w, k.machine);
	json_key(w, "minimum");
	json_cstr(w, PROBE_KERNEL_MIN_TEXT);
	json_key(w, "minimum_reason");
	json_cstr(w, PROBE_KERNEL_MIN_WHY);
	json_key(w, "new_enough");
	if (k.known)
		json_bool(w, k.new_enough);
	else
		json_write_null(w);
	json_obj_end(w);
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
	json_kernel(&w);
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
		json_key(&w, "since");
		if (probe_since(i)[0])
			json_cstr(&w, probe_since(i));
		else
			json_write_null(&w);
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

/* ---- --programs ---- */

enum prog_status { PROG_OK, PROG_OVER_BUDGET, PROG_REFUSED };

static const char *const prog_status_names[] = {
	[PROG_OK] = "ok", [PROG_OVER_BUDGET] = "over_budget", [PROG_REFUSED] = "refused",
};

static enum prog_status prog_status_of(const struct bpf_prog_cost *c)
{
	if (c->err)
		return PROG_REFUSED;
	return bpf_prog_cost_insns(c) > BPF_VERIFIER_INSNS_BUDGET ? PROG_OVER_BUDGET : PROG_OK;
}

static double prog_limit_pct(const struct bpf_prog_cost *c)
{
	return (double)bpf_prog_cost_insns(c) * PERCENT / BPF_VERIFIER_INSNS_LIMIT;
}

static void print_programs_text(const struct bpf_prog_cost *c, size_t n)
{
	struct kernel_info k;
	const struct bpf_prog_cost *worst = NULL;

	kernel_info_get(&k);
	printf("kernel %s %s; the verifier may process %d instructions per program, "
	       "sonde's budget is half of that\n\n", k.release, k.machine, BPF_VERIFIER_INSNS_LIMIT);
	printf("%-7s %-20s %-15s %-30s %9s %9s %8s %9s\n", "OBJECT", "PROGRAM", "TYPE", "ATTACH",
	       "INSNS", "VERIFIED", "LIMIT", "JITED");
	for (size_t i = 0; i < n; i++) {
		char verified[24] = "-";

		if (c[i].err) {
			printf("%-7s %-20s %-15s %-30s REFUSED: %s\n", c[i].object, c[i].name,
			       c[i].type, c[i].section, c[i].error);
			continue;
		}
		if (c[i].has_verified_insns)
			snprintf(verified, sizeof(verified), "%u", c[i].verified_insns);
		printf("%-7s %-20s %-15s %-30s %9ld %9s %7.2f%% %7u B%s\n", c[i].object, c[i].name,
		       c[i].type, c[i].section, bpf_prog_cost_insns(&c[i]), verified,
		       prog_limit_pct(&c[i]), c[i].jited_bytes,
		       prog_status_of(&c[i]) == PROG_OVER_BUDGET ? "  OVER BUDGET" : "");
		if (!worst || bpf_prog_cost_insns(&c[i]) > bpf_prog_cost_insns(worst))
			worst = &c[i];
	}
	if (worst)
		printf("\nlargest: %s/%s, %ld instructions, %.2f %% of the limit (budget: %d)\n",
		       worst->object, worst->name, bpf_prog_cost_insns(worst),
		       prog_limit_pct(worst), BPF_VERIFIER_INSNS_BUDGET);
}

static int print_programs_json(const struct bpf_prog_cost *c, size_t n, bool ok)
{
	static char buf[PROGRAMS_JSON_BYTES];
	struct json_writer w;

	json_init(&w, buf, sizeof(buf));
	json_obj_begin(&w);
	json_key(&w, "type");
	json_cstr(&w, "doctor_programs");
	json_key(&w, "ok");
	json_bool(&w, ok);
	json_kernel(&w);
	json_key(&w, "insns_limit");
	json_u64(&w, BPF_VERIFIER_INSNS_LIMIT);
	json_key(&w, "insns_budget");
	json_u64(&w, BPF_VERIFIER_INSNS_BUDGET);
	json_key(&w, "programs");
	json_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		json_obj_begin(&w);
		json_key(&w, "object");
		json_cstr(&w, c[i].object);
		json_key(&w, "name");
		json_cstr(&w, c[i].name);
		json_key(&w, "prog_type");
		json_cstr(&w, c[i].type);
		json_key(&w, "attach");
		json_cstr(&w, c[i].section);
		json_key(&w, "status");
		json_cstr(&w, prog_status_names[prog_status_of(&c[i])]);
		if (c[i].err) {
			json_key(&w, "error");
			json_cstr(&w, c[i].error);
			json_obj_end(&w);
			continue;
		}
		json_key(&w, "insns_processed");
		if (c[i].insns_processed >= 0)
			json_i64(&w, c[i].insns_processed);
		else
			json_write_null(&w);
		json_key(&w, "verified_insns");
		if (c[i].has_verified_insns)
			json_u64(&w, c[i].verified_insns);
		else
			json_write_null(&w);
		json_key(&w, "limit_pct");
		json_double(&w, prog_limit_pct(&c[i]));
		json_key(&w, "verify_us");
		if (c[i].verify_us >= 0)
			json_i64(&w, c[i].verify_us);
		else
			json_write_null(&w);
		json_key(&w, "xlated_bytes");
		json_u64(&w, c[i].xlated_bytes);
		json_key(&w, "jited_bytes");
		json_u64(&w, c[i].jited_bytes);
		json_obj_end(&w);
	}
	json_arr_end(&w);
	json_obj_end(&w);
	if (json_finish(&w))
		return -ENOSPC;
	printf("%.*s\n", (int)w.len, w.buf);
	return 0;
}

/* `sonde doctor --programs`: 0 all loaded within the budget, 1 one refused
 * or over budget, 2 when loading is not allowed at all. */
static int run_programs(const struct doctor_opts *o)
{
	struct bpf_prog_cost *c = calloc(PROGRAMS_MAX, sizeof(*c));
	const struct bpf_prog_cost *bad = NULL;
	size_t n = 0;
	int ret = EXIT_OK;

	if (!c) {
		cli_error(CMD, "out of memory");
		return EXIT_USAGE;
	}
	for (int id = 0; id < BPF_OBJ_COUNT; id++) {
		char why[BPF_PROG_ERROR_BYTES];
		size_t got = 0;
		int err = bpf_shipped_measure(id, c + n, PROGRAMS_MAX - n, &got, why, sizeof(why));

		if (err) {
			cli_error(CMD, "%s", why);
			free(c);
			return EXIT_USAGE;
		}
		n += got;
	}
	for (size_t i = 0; i < n; i++) {
		if (c[i].err == -EPERM) {
			cli_error(CMD, "loading BPF programs is not allowed: run as root, or grant "
				  "CAP_BPF and CAP_PERFMON");
			free(c);
			return EXIT_USAGE;
		}
		if (!bad && prog_status_of(&c[i]) != PROG_OK)
			bad = &c[i];
	}
	if (o->json) {
		if (print_programs_json(c, n, !bad)) {
			cli_error(CMD, "JSON output did not fit in %d bytes", PROGRAMS_JSON_BYTES);
			free(c);
			return EXIT_USAGE;
		}
	} else {
		print_programs_text(c, n);
	}
	fflush(stdout);
	if (bad) {
		if (bad->err)
			cli_error(CMD, "%s/%s does not load on this kernel: %s", bad->object, bad->name,
				  bad->error);
		else
			cli_error(CMD, "%s/%s needs %ld verifier instructions, over sonde's budget of %d",
				  bad->object, bad->name, bpf_prog_cost_insns(bad),
				  BPF_VERIFIER_INSNS_BUDGET);
		ret = EXIT_CHECK_FAILED;
	}
	free(c);
	return ret;
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
		cli_error(CMD, "%s", bpf_env_prepare_strerror(err));
	if (o.programs)
		return run_programs(&o);

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
