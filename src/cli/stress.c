/* `sonde stress`: the resilience lab's command line. Parses the plan into a
 * lab_stress_config, checks what can be checked before anything starts (root,
 * output folder, thresholds), runs it and writes the results folder. Exit 0
 * when every limit and check held, 1 when one missed, 2 on a usage or
 * environment error. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/lab_cli.h"
#include "lab/nginx.h"
#include "lab/stress.h"
#include "lab/stress_memcg.h"
#include "lab/tracer_proc.h"

#define CMD "stress"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sonde stress [options]\n\n"
		"Where does a tracer break, what does it lose when it does, and how fast does it\n"
		"come back? Phases ramp-up (the rate rises step by step to --rate or until\n"
		"capture falls below 100 %%, drops appear or the p99 SLO breaks), sustain,\n"
		"chaos (faults, each with its recovery time), memory (the tracer in a memory\n"
		"cgroup with a low limit) and ramp-down, against the lab's targets. Results:\n"
		"results.json, report.md, summary.txt and SVG charts in the results folder.\n\n"
		"Plan:\n"
		"  --quick                every phase in under 3 minutes (3 s steps, 15 s\n"
		"                         sustain, 3 s faults, target 2000 req/s)\n"
		"  --phases LIST          ramp-up,sustain,chaos,memory,ramp-down (default all)\n"
		"  --faults LIST          stall,kill,cpu,churn,slow,vanish,hostile (default all)\n"
		"  --rate-start R         first ramp-up step, req/s (default 250)\n"
		"  --rate R               target rate, req/s (default 5000; quick 2000)\n"
		"  --step-factor F        ramp-up: next rate = rate x F (default 1.5; quick 2)\n"
		"  --conns N              connections of the load (default 20)\n"
		"  --step S               seconds per ramp step (default 10; quick 3)\n"
		"  --sustain S            seconds of sustain (default 180; quick 15)\n"
		"  --fault S              seconds each fault lasts (default 10; quick 3)\n"
		"  --observe S            load after a fault: recovery must come within\n"
		"                         (default 15; quick 4)\n"
		"  --memory S             seconds under the memory limit (default 30; quick 4)\n"
		"  --memcg-mb MB          that limit (default 32); the tracer is restarted\n"
		"                         inside it, so its BPF maps count too\n"
		"  --slo-p99-ms MS        latency SLO of the ramp-up steps (default none)\n\n"
		"Target and tracer:\n"
		"  --target builtin|nginx the built-in server (default) or nginx\n"
		"  --url URL              a server already running (http://HOST:PORT/PATH)\n"
		"  --port PORT            port of the built-in server or nginx (default: free)\n"
		"  --body-bytes N         response body size (default 1024)\n"
		"  --pin                  server (nginx worker) pinned to CPU 0\n"
		"  --tracer sonde         sonde http --json (default)\n"
		"  --sonde-args ARGS      more options for it, e.g. \"--ringbuf-kb 64\"\n"
		"  --tracer NAME=COMMAND  any command, run with /bin/sh -c; its output lines\n"
		"                         are its events, \"Lost N events\" its drops\n"
		"  --attach-timeout S     how long the tracer may take to attach (default 30)\n\n"
		"Checks and output:\n"
		"  --thresholds FILE      JSON limits as for sonde bench (tracer_cpu_pct,\n"
		"                         rss_mb, events_per_s); SONDE_THRESHOLD_<KEY> win\n"
		"  --min-score N          exit 1 when the resilience score is below N\n"
		"  --out DIR              results folder (default sonde-stress-<timestamp>)\n"
		"  --json                 print results.json instead of the summary\n"
		"  --keep-raw             keep the tracer's output under DIR/raw\n"
		"  -h, --help             this help\n\n"
		"Needs root. The machine should be otherwise idle: CPU pressure and the load\n"
		"generator compete with anything else running.\n\n"
		"Exit status: 0 every limit and check held, 1 a threshold, the minimum score,\n"
		"a fault's check (programs of a killed tracer left in the kernel, a stats\n"
		"record that does not balance) or the output's integrity failed, 2 usage or\n"
		"environment error.\n\n"
		"EXAMPLES\n"
		"  sonde stress --quick                           sonde, every phase, < 3 min\n"
		"  sonde stress --phases chaos --faults stall,kill --quick\n"
		"  sonde stress --target nginx --rate 3000 --slo-p99-ms 5\n"
		"  sonde stress --tracer bt='bpftrace -e \"tracepoint:syscalls:sys_enter_accept4 { printf(\\\"a\\\\n\\\"); }\"'\n"
		"  sonde stress --quick --min-score 75 --out /tmp/stress && cat /tmp/stress/report.md\n");
}

static int parse_num(const char *opt, const char *arg, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (end == arg || *end || errno || !(v >= min && v <= max)) {
		cli_error(CMD, "%s takes a number from %g to %g, not '%s'", opt, min, max, arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* Comma-separated names into flags (all cleared first). */
static int parse_list(const char *opt, const char *arg, bool *flags, int n,
		      int (*parse)(const char *), bool no_memory)
{
	char *copy = strdup(arg), *save = NULL;
	int ret = 0;

	if (!copy)
		return -1;
	for (int i = 0; i < n; i++)
		flags[i] = false;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int i = parse(tok);

		if (i < 0 || (no_memory && i == LAB_STRESS_F_MEMORY)) {
			cli_error(CMD, "%s: unknown name '%s'; see --help", opt, tok);
			ret = -1;
			break;
		}
		flags[i] = true;
	}
	free(copy);
	return ret;
}

static int parse_tracer_arg(struct lab_bench_tracer *t, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t nlen = eq ? (size_t)(eq - arg) : 0;

	memset(t, 0, sizeof(*t));
	if (!strcmp(arg, "sonde")) {
		snprintf(t->name, sizeof(t->name), "sonde");
		snprintf(t->cmd, sizeof(t->cmd), "sonde http --json");
		t->kind = LAB_TRACER_SONDE;
		return 0;
	}
	if (!eq || nlen == 0 || nlen >= sizeof(t->name) || !eq[1] ||
	    strlen(eq + 1) >= sizeof(t->cmd) || strspn(arg, "abcdefghijklmnopqrstuvwxyz"
						   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") < nlen) {
		cli_error(CMD, "--tracer takes sonde or NAME=COMMAND (NAME: 1 to %zu letters, digits, - _ .), not '%s'",
			  sizeof(t->name) - 1, arg);
		return -1;
	}
	memcpy(t->name, arg, nlen);
	snprintf(t->cmd, sizeof(t->cmd), "%s", eq + 1);
	t->kind = LAB_TRACER_COMMAND;
	return 0;
}

/* mkdir -p DIR, then a file written and removed: can we write there? */
static void cleanup_hook(void)
{
	lab_nginx_cleanup();
	lab_memcg_cleanup_signal_safe();
}

int cmd_stress(int argc, char **argv)
{
	enum {
		O_QUICK = 256, O_PHASES, O_FAULTS, O_RATE_START, O_RATE, O_FACTOR, O_CONNS, O_STEP,
		O_SUSTAIN, O_FAULT, O_OBSERVE, O_MEMORY, O_MEMCG, O_SLO, O_TARGET, O_URL, O_PORT,
		O_BODY, O_PIN, O_TRACER, O_SONDE_ARGS, O_ATTACH, O_THRESHOLDS, O_MIN_SCORE, O_OUT, O_JSON, O_KEEP_RAW,
	};
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, O_QUICK },
		{ "phases", required_argument, NULL, O_PHASES },
		{ "faults", required_argument, NULL, O_FAULTS },
		{ "rate-start", required_argument, NULL, O_RATE_START },
		{ "rate", required_argument, NULL, O_RATE },
		{ "step-factor", required_argument, NULL, O_FACTOR },
		{ "conns", required_argument, NULL, O_CONNS },
		{ "step", required_argument, NULL, O_STEP },
		{ "sustain", required_argument, NULL, O_SUSTAIN },
		{ "fault", required_argument, NULL, O_FAULT },
		{ "observe", required_argument, NULL, O_OBSERVE },
		{ "memory", required_argument, NULL, O_MEMORY },
		{ "memcg-mb", required_argument, NULL, O_MEMCG },
		{ "slo-p99-ms", required_argument, NULL, O_SLO },
		{ "target", required_argument, NULL, O_TARGET },
		{ "url", required_argument, NULL, O_URL },
		{ "port", required_argument, NULL, O_PORT },
		{ "body-bytes", required_argument, NULL, O_BODY },
		{ "pin", no_argument, NULL, O_PIN },
		{ "tracer", required_argument, NULL, O_TRACER },
		{ "sonde-args", required_argument, NULL, O_SONDE_ARGS },
		{ "attach-timeout", required_argument, NULL, O_ATTACH },
		{ "thresholds", required_argument, NULL, O_THRESHOLDS },
		{ "min-score", required_argument, NULL, O_MIN_SCORE },
		{ "out", required_argument, NULL, O_OUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "keep-raw", no_argument, NULL, O_KEEP_RAW },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct lab_stress_config cfg;
	static struct lab_stress_result res;
	/* options are read twice: --quick first (it sets the defaults), then the rest */
	bool quick = false, target_set = false;
	const char *thresholds_file = NULL, *url = NULL;
	char err[LAB_BENCH_ERROR_BYTES];
	int opt, ret;
	double v;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--quick"))
			quick = true;
	lab_stress_config_default(&cfg, quick);
	parse_tracer_arg(&cfg.tracer, "sonde");
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case O_QUICK:
			break;
		case O_PHASES:
			if (parse_list("--phases", optarg, cfg.phases, LAB_STRESS_PHASES,
				       lab_stress_phase_parse, false))
				return EXIT_USAGE;
			break;
		case O_FAULTS: {
			bool mem = cfg.faults[LAB_STRESS_F_MEMORY];

			if (parse_list("--faults", optarg, cfg.faults, LAB_STRESS_FAULTS,
				       lab_stress_fault_parse, true))
				return EXIT_USAGE;
			cfg.faults[LAB_STRESS_F_MEMORY] = mem;
			break;
		}
		case O_RATE_START:
			if (parse_num("--rate-start", optarg, 1, 1e6, &cfg.start_rate))
				return EXIT_USAGE;
			break;
		case O_RATE:
			if (parse_num("--rate", optarg, 1, 1e6, &cfg.target_rate))
				return EXIT_USAGE;
			break;
		case O_FACTOR:
			if (parse_num("--step-factor", optarg, 1.05, 10, &cfg.step_factor))
				return EXIT_USAGE;
			break;
		case O_CONNS:
			if (parse_num("--conns", optarg, 1, 5000, &v))
				return EXIT_USAGE;
			cfg.conns = (uint32_t)v;
			break;
		case O_STEP:
			if (parse_num("--step", optarg, 0.5, 3600, &cfg.step_s))
				return EXIT_USAGE;
			break;
		case O_SUSTAIN:
			if (parse_num("--sustain", optarg, 1, 86400, &cfg.sustain_s))
				return EXIT_USAGE;
			break;
		case O_FAULT:
			if (parse_num("--fault", optarg, 0.5, 3600, &cfg.fault_s))
				return EXIT_USAGE;
			break;
		case O_OBSERVE:
			if (parse_num("--observe", optarg, 1, 3600, &cfg.observe_s))
				return EXIT_USAGE;
			break;
		case O_MEMORY:
			if (parse_num("--memory", optarg, 0.5, 3600, &cfg.memory_s))
				return EXIT_USAGE;
			break;
		case O_MEMCG:
			if (parse_num("--memcg-mb", optarg, 1, 1e6, &cfg.memcg_mb))
				return EXIT_USAGE;
			break;
		case O_SLO:
			if (parse_num("--slo-p99-ms", optarg, 0.001, 1e6, &cfg.slo_p99_ms))
				return EXIT_USAGE;
			break;
		case O_TARGET:
			if (!strcmp(optarg, "builtin"))
				cfg.target.kind = LAB_TARGET_BUILTIN;
			else if (!strcmp(optarg, "nginx"))
				cfg.target.kind = LAB_TARGET_NGINX;
			else {
				cli_error(CMD, "--target takes builtin or nginx, not '%s' (--url for a running server)",
					  optarg);
				return EXIT_USAGE;
			}
			target_set = true;
			break;
		case O_URL:
			url = optarg;
			break;
		case O_PORT:
			if (parse_num("--port", optarg, 1, 65535, &v))
				return EXIT_USAGE;
			cfg.target.port = (uint16_t)v;
			break;
		case O_BODY:
			if (parse_num("--body-bytes", optarg, 0, 64 << 20, &v))
				return EXIT_USAGE;
			cfg.target.body_bytes = (uint32_t)v;
			break;
		case O_PIN:
			cfg.target.pin = true;
			break;
		case O_TRACER:
			if (parse_tracer_arg(&cfg.tracer, optarg))
				return EXIT_USAGE;
			break;
		case O_SONDE_ARGS:
			if (strlen(optarg) >= sizeof(cfg.sonde_args) ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-=,. ") != strlen(optarg)) {
				cli_error(CMD, "--sonde-args takes sonde http options (letters, digits, - = , . and spaces; under %zu bytes), not '%s'",
					  sizeof(cfg.sonde_args), optarg);
				return EXIT_USAGE;
			}
			snprintf(cfg.sonde_args, sizeof(cfg.sonde_args), "%s", optarg);
			snprintf(cfg.tracer.cmd, sizeof(cfg.tracer.cmd), "sonde http --json %s", optarg);
			break;
		case O_ATTACH:
			if (parse_num("--attach-timeout", optarg, 1, 600, &cfg.attach_timeout_s))
				return EXIT_USAGE;
			break;
		case O_THRESHOLDS:
			thresholds_file = optarg;
			break;
		case O_MIN_SCORE:
			if (parse_num("--min-score", optarg, 0, 100, &cfg.min_score))
				return EXIT_USAGE;
			break;
		case O_OUT:
			if (!optarg[0] || strlen(optarg) >= sizeof(cfg.out_dir) - 64) {
				cli_error(CMD, "--out: 1 to %zu characters", sizeof(cfg.out_dir) - 65);
				return EXIT_USAGE;
			}
			snprintf(cfg.out_dir, sizeof(cfg.out_dir), "%s", optarg);
			break;
		case O_JSON:
			cfg.json = true;
			break;
		case O_KEEP_RAW:
			cfg.keep_raw = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			cli_error(CMD, optopt ? "option '%s' needs a value or takes none; see --help" :
						"unknown option '%s'; see --help",
				  argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (cli_no_more_args(CMD, argc, argv))
		return EXIT_USAGE;
	if (url) {
		if (target_set) {
			cli_error(CMD, "--url and --target exclude each other");
			return EXIT_USAGE;
		}
		if (lab_url_parse(url, &cfg.url, err, sizeof(err))) {
			cli_error(CMD, "--url: %s", err);
			return EXIT_USAGE;
		}
		cfg.target.kind = LAB_TARGET_URL;
	}
	if (cfg.start_rate > cfg.target_rate) {
		cli_error(CMD, "--rate-start %.0f is above --rate %.0f", cfg.start_rate, cfg.target_rate);
		return EXIT_USAGE;
	}
	if (ceil(log(cfg.target_rate / cfg.start_rate) / log(cfg.step_factor)) + 1 >
	    LAB_STRESS_RAMP_STEPS_MAX) {
		cli_error(CMD, "ramp-up from %.0f to %.0f req/s by x%g takes more than %d steps; raise --step-factor or --rate-start",
			  cfg.start_rate, cfg.target_rate, cfg.step_factor, LAB_STRESS_RAMP_STEPS_MAX);
		return EXIT_USAGE;
	}
	cfg.faults[LAB_STRESS_F_MEMORY] = cfg.phases[LAB_STRESS_MEMORY];
	if (geteuid() != 0) {
		cli_error(CMD, "needs root (BPF programs, signals to the tracer, memory cgroups); run as root");
		return EXIT_USAGE;
	}
	if (lab_cli_prepare(CMD, thresholds_file, &cfg.thresholds, cfg.sonde_exe,
			    sizeof(cfg.sonde_exe), cfg.out_dir, sizeof(cfg.out_dir), "sonde-stress"))
		return EXIT_USAGE;
	cfg.progress = !cfg.json && isatty(STDERR_FILENO);

	/* no process or cgroup of ours outlives the run, Ctrl-C included */
	lab_install_cleanup(cleanup_hook);
	ret = lab_stress_run(&cfg, &res);
	if (ret && res.nsteps == 0) {
		cli_error(CMD, "%s", res.error[0] ? res.error : strerror(-ret));
		lab_stress_result_free(&res);
		return EXIT_USAGE;
	}
	/* a run stopped midway still leaves what it measured */
	if (lab_stress_write_all(&res, err, sizeof(err))) {
		cli_error(CMD, "%s", err);
		lab_stress_result_free(&res);
		return EXIT_USAGE;
	}
	if (cfg.json)
		lab_stress_write_json(&res, stdout);
	else
		lab_stress_write_summary(&res, stdout);
	fflush(stdout);
	if (ret) {
		cli_error(CMD, "%s (partial results in %s)", res.error, cfg.out_dir);
		lab_stress_result_free(&res);
		return EXIT_USAGE;
	}
	fprintf(stderr, "sonde stress: results in %s\n", cfg.out_dir);
	ret = lab_stress_exit_code(&res) ? EXIT_CHECK_FAILED : EXIT_OK;
	lab_stress_result_free(&res);
	return ret;
}
