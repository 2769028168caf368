/* `sonde bench`: the overhead lab's command line. Parses the plan into a
 * lab_bench_config, checks what can be checked before anything starts
 * (output folder, thresholds, baseline, root for tracers), runs it and writes
 * the results folder. Exit 0 when every check passed, 1 when one missed, 2 on
 * a usage or environment error. */
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
#include "lab/bench.h"
#include "lab/tracer_proc.h"

#define CMD "bench"
#define DEFAULT_ROUNDS 10
#define DEFAULT_DURATION_S 5.0
#define DEFAULT_WARMUP_S 1.0
#define QUICK_ROUNDS 5
#define QUICK_DURATION_S 1.0
#define QUICK_WARMUP_S 0.5
#define DEFAULT_BODY_BYTES 1024u
#define DEFAULT_ATTACH_TIMEOUT_S 30.0
#define DEFAULT_CALIBRATE_US 50.0
#define CALIBRATE_US_MAX 100000.0
#define RATE_MAX 1000000.0
#define CONNS_MAX 5000

struct preset {
	const char *name;
	double rate;      /* 0: closed loop */
	uint32_t conns;
};

static const struct preset presets[] = {
	{ "light", 50, 5 },
	{ "medium", 200, 10 },
	{ "heavy", 500, 20 },
	{ "stress", 1000, 50 },
	{ "saturation", 0, 50 },
};
#define NPRESETS (sizeof(presets) / sizeof(presets[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sonde bench [options]\n\n"
		"Measure what a tracer costs: the same HTTP load with no tracer and with each\n"
		"tracer under test, in interleaved rounds; medians, the 95 %% confidence\n"
		"interval of every difference, a grade, threshold checks and a results folder\n"
		"(results.json, summary.txt, report.md, system_info.txt, SVG charts).\n\n"
		"Plan:\n"
		"  --quick                %d rounds of %.0f s per scenario (about a minute)\n"
		"                         instead of %d rounds of %.0f s\n"
		"  --rounds N             rounds (every tracer once per round)\n"
		"  --duration SECONDS     load per scenario run\n"
		"  --warmup SECONDS       load before measuring, per tracer start\n"
		"  --scenario LIST        light (50 req/s, 5 conns), medium (200, 10),\n"
		"                         heavy (500, 20), stress (1000, 50), saturation\n"
		"                         (closed loop, 50 conns), sweep (10..95 %% of the\n"
		"                         baseline's saturation rate), all, or RATE:CONNS\n"
		"                         (default light,medium,heavy,stress)\n"
		"  --new-conn             a new connection per request (default keep-alive)\n\n"
		"Target:\n"
		"  --target builtin|nginx the built-in server (default) or nginx started on a\n"
		"                         loopback port with a generated config\n"
		"  --url URL              a server already running (http://HOST:PORT/PATH)\n"
		"  --port PORT            port of the built-in server or nginx (default: free)\n"
		"  --body-bytes N         response body size (default %u)\n"
		"  --work-us US           CPU the built-in server burns per request (default 0)\n\n"
		"Tracers (the baseline 'none' is always first):\n"
		"  --tracer sonde         sonde's HTTP tracer (the default when no tracer,\n"
		"                         --aa or --calibrate is given)\n"
		"  --tracer NAME=COMMAND  any command, run with /bin/sh -c; measured once its\n"
		"                         BPF programs are attached, stopped with SIGINT\n"
		"  --attach-timeout S     how long a tracer may take to attach (default %.0f)\n"
		"  --calibrate[=US]       self-check: a pseudo-tracer that makes the built-in\n"
		"                         server burn US more CPU per request (default %.0f);\n"
		"                         the lab must measure it back within %.0f %%\n"
		"  --aa                   self-check: none against none must show no difference\n\n"
		"Checks and output:\n"
		"  --thresholds FILE      JSON limits (tracer_cpu_pct, rss_mb, events_per_s,\n"
		"                         p99_added_ms); SONDE_THRESHOLD_<KEY> variables win;\n"
		"                         defaults 5 %%, 100 MB, 10000/s, 1 ms\n"
		"  --baseline FILE        an earlier results.json: flag regressions\n"
		"  --out DIR              results folder (default sonde-bench-<timestamp>)\n"
		"  --json                 print results.json instead of the summary\n"
		"  --keep-raw             keep the tracers' output under DIR/raw\n"
		"  --no-pin               do not pin the server to CPU 0 and the load to CPU 1\n"
		"  -h, --help             this help\n\n"
		"Exit status: 0 every check passed, 1 a threshold, the calibration, the A/A\n"
		"check or the baseline comparison failed, 2 usage or environment error.\n\n"
		"EXAMPLES\n"
		"  sonde bench --quick                          sonde vs no tracer, ~1 min\n"
		"  sonde bench --scenario saturation,sweep      overhead as a curve\n"
		"  sonde bench --target nginx --quick\n"
		"  sonde bench --tracer sonde --tracer bt='bpftrace -e \"tracepoint:syscalls:sys_enter_accept4 { @[comm] = count(); }\"'\n"
		"  sonde bench --aa --calibrate --quick         the lab checks itself\n"
		"  sonde bench --url http://127.0.0.1:8080/ --scenario light\n"
		"  sonde bench --baseline old/results.json --out new\n",
		QUICK_ROUNDS, QUICK_DURATION_S, DEFAULT_ROUNDS, DEFAULT_DURATION_S,
		DEFAULT_BODY_BYTES, DEFAULT_ATTACH_TIMEOUT_S, DEFAULT_CALIBRATE_US,
		LAB_BENCH_CALIBRATE_TOLERANCE_PCT);
}

static struct lab_bench_tracer *add_tracer(struct lab_bench_config *cfg, const char *name,
					   enum lab_tracer_kind kind, const char *cmd)
{
	struct lab_bench_tracer *t;

	if (cfg->ntracers >= LAB_BENCH_TRACERS_MAX) {
		cli_error(CMD, "at most %d tracers", LAB_BENCH_TRACERS_MAX - 1);
		return NULL;
	}
	for (int i = 0; i < cfg->ntracers; i++)
		if (!strcmp(cfg->tracers[i].name, name)) {
			cli_error(CMD, "tracer '%s' given twice", name);
			return NULL;
		}
	t = &cfg->tracers[cfg->ntracers++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->kind = kind;
	snprintf(t->cmd, sizeof(t->cmd), "%s", cmd ? cmd : "");
	return t;
}

static int parse_tracer(struct lab_bench_config *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[LAB_BENCH_NAME_BYTES];
	size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);

	if (!eq) {
		if (!strcmp(arg, "sonde"))
			return add_tracer(cfg, "sonde", LAB_TRACER_SONDE, "sonde http --json") ? 0 : -1;
		if (!strcmp(arg, "none")) {
			cli_error(CMD, "'none' is always the baseline; it needs no --tracer");
			return -1;
		}
		cli_error(CMD, "--tracer takes sonde or NAME=COMMAND, not '%s'", arg);
		return -1;
	}
	if (nlen == 0 || nlen >= sizeof(name)) {
		cli_error(CMD, "--tracer NAME=COMMAND: NAME must be 1 to %zu characters",
			  sizeof(name) - 1);
		return -1;
	}
	for (size_t i = 0; i < nlen; i++)
		if (!(arg[i] == '-' || arg[i] == '_' || arg[i] == '.' ||
		      (arg[i] >= 'a' && arg[i] <= 'z') || (arg[i] >= 'A' && arg[i] <= 'Z') ||
		      (arg[i] >= '0' && arg[i] <= '9'))) {
			cli_error(CMD, "--tracer NAME=COMMAND: NAME may hold letters, digits, - _ . only");
			return -1;
		}
	memcpy(name, arg, nlen);
	name[nlen] = '\0';
	if (!strcmp(name, "none") || !strcmp(name, "none-b") || !strcmp(name, "calibrate")) {
		cli_error(CMD, "tracer name '%s' is reserved", name);
		return -1;
	}
	if (!eq[1]) {
		cli_error(CMD, "--tracer %s=: the command is empty", name);
		return -1;
	}
	if (strlen(eq + 1) >= LAB_BENCH_CMD_BYTES) {
		cli_error(CMD, "--tracer %s: command longer than %d bytes", name, LAB_BENCH_CMD_BYTES - 1);
		return -1;
	}
	return add_tracer(cfg, name, LAB_TRACER_COMMAND, eq + 1) ? 0 : -1;
}

static int add_scenario(struct lab_bench_config *cfg, const char *name, double rate,
			uint32_t conns)
{
	struct lab_bench_scenario *sc;

	for (int i = 0; i < cfg->nscenarios; i++)
		if (!strcmp(cfg->scenarios[i].name, name))
			return 0;
	if (cfg->nscenarios >= LAB_BENCH_SCENARIOS_MAX - LAB_BENCH_SWEEP_POINTS) {
		cli_error(CMD, "too many scenarios");
		return -1;
	}
	sc = &cfg->scenarios[cfg->nscenarios++];
	memset(sc, 0, sizeof(*sc));
	snprintf(sc->name, sizeof(sc->name), "%s", name);
	sc->rate = rate;
	sc->conns = conns;
	return 0;
}

/* light,medium,... / all / sweep / RATE:CONNS */
static int parse_scenarios(struct lab_bench_config *cfg, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;
	int ret = 0;

	if (!copy)
		return -1;
	cfg->nscenarios = 0;
	cfg->sweep = false;
	for (char *tok = strtok_r(copy, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		bool found = false;
		char *colon = strchr(tok, ':');

		if (!strcmp(tok, "sweep")) {
			cfg->sweep = true;
			continue;
		}
		if (!strcmp(tok, "all")) {
			for (size_t i = 0; i < NPRESETS && !ret; i++)
				ret = add_scenario(cfg, presets[i].name, presets[i].rate, presets[i].conns);
			cfg->sweep = true;
			continue;
		}
		for (size_t i = 0; i < NPRESETS; i++)
			if (!strcmp(tok, presets[i].name)) {
				ret = add_scenario(cfg, tok, presets[i].rate, presets[i].conns);
				found = true;
			}
		if (found)
			continue;
		if (colon) {
			char *end;
			double rate;
			long conns;

			*colon = '\0';
			rate = !strcmp(tok, "max") ? 0 : strtod(tok, &end);
			if ((strcmp(tok, "max") && (end == tok || *end || !(rate > 0) || rate > RATE_MAX)) ||
			    cli_parse_long(colon + 1, 1, CONNS_MAX, &conns)) {
				cli_error(CMD, "--scenario RATE:CONNS takes a rate in 1..%.0f (or max) and 1..%d connections, not '%s:%s'",
					  RATE_MAX, CONNS_MAX, tok, colon + 1);
				ret = -1;
				break;
			}
			*colon = ':';
			ret = add_scenario(cfg, tok, rate, (uint32_t)conns);
			continue;
		}
		cli_error(CMD, "unknown scenario '%s' (light, medium, heavy, stress, saturation, sweep, all, RATE:CONNS)",
			  tok);
		ret = -1;
	}
	free(copy);
	if (!ret && cfg->nscenarios == 0 && !cfg->sweep) {
		cli_error(CMD, "--scenario: no scenario given");
		ret = -1;
	}
	return ret;
}

/* mkdir -p and check we can write there. */
static int parse_number(const char *opt, const char *arg, double min, double max, double *out)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !(v >= min && v <= max)) {
		cli_error(CMD, "%s takes %g to %g, not '%s'", opt, min, max, arg);
		return -1;
	}
	*out = v;
	return 0;
}

int cmd_bench(int argc, char **argv)
{
	enum {
		O_QUICK = 256, O_ROUNDS, O_DURATION, O_WARMUP, O_SCENARIO, O_NEW_CONN, O_TARGET, O_URL,
		O_PORT, O_BODY, O_WORK, O_TRACER, O_ATTACH, O_CALIBRATE, O_AA, O_THRESHOLDS,
		O_BASELINE, O_OUT, O_JSON, O_KEEP_RAW, O_NO_PIN,
	};
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, O_QUICK },
		{ "rounds", required_argument, NULL, O_ROUNDS },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "scenario", required_argument, NULL, O_SCENARIO },
		{ "new-conn", no_argument, NULL, O_NEW_CONN },
		{ "target", required_argument, NULL, O_TARGET },
		{ "url", required_argument, NULL, O_URL },
		{ "port", required_argument, NULL, O_PORT },
		{ "body-bytes", required_argument, NULL, O_BODY },
		{ "work-us", required_argument, NULL, O_WORK },
		{ "tracer", required_argument, NULL, O_TRACER },
		{ "attach-timeout", required_argument, NULL, O_ATTACH },
		{ "calibrate", optional_argument, NULL, O_CALIBRATE },
		{ "aa", no_argument, NULL, O_AA },
		{ "thresholds", required_argument, NULL, O_THRESHOLDS },
		{ "baseline", required_argument, NULL, O_BASELINE },
		{ "out", required_argument, NULL, O_OUT },
		{ "json", no_argument, NULL, O_JSON },
		{ "keep-raw", no_argument, NULL, O_KEEP_RAW },
		{ "no-pin", no_argument, NULL, O_NO_PIN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct lab_bench_config cfg;
	static struct lab_bench_result res;
	struct lab_bench_tracer extra[LAB_BENCH_TRACERS_MAX];
	const char *thresholds_file = NULL, *url = NULL;
	bool target_set = false, quick = false, any_traced = false;
	int rounds = 0, nextra = 0, opt, ret;
	double duration = NAN, warmup = NAN, calibrate_us = 0, v;
	char err[LAB_BENCH_ERROR_BYTES];
	long lv;

	memset(&cfg, 0, sizeof(cfg));
	cfg.target = LAB_TARGET_BUILTIN;
	cfg.body_bytes = DEFAULT_BODY_BYTES;
	cfg.pin = true;
	cfg.attach_timeout_s = DEFAULT_ATTACH_TIMEOUT_S;
	lab_thresholds_default(&cfg.thresholds);
	add_tracer(&cfg, "none", LAB_TRACER_NONE, NULL);
	for (size_t i = 0; i < 4; i++)
		add_scenario(&cfg, presets[i].name, presets[i].rate, presets[i].conns);

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case O_QUICK:
			quick = true;
			break;
		case O_ROUNDS:
			if (cli_parse_range(CMD, "rounds", optarg, 1, LAB_BENCH_ROUNDS_MAX, &lv))
				return EXIT_USAGE;
			rounds = (int)lv;
			break;
		case O_DURATION:
			if (parse_number("--duration", optarg, 0.2, 3600, &duration))
				return EXIT_USAGE;
			break;
		case O_WARMUP:
			if (parse_number("--warmup", optarg, 0, 600, &warmup))
				return EXIT_USAGE;
			break;
		case O_SCENARIO:
			if (parse_scenarios(&cfg, optarg))
				return EXIT_USAGE;
			break;
		case O_NEW_CONN:
			cfg.new_conn = true;
			break;
		case O_TARGET:
			if (!strcmp(optarg, "builtin"))
				cfg.target = LAB_TARGET_BUILTIN;
			else if (!strcmp(optarg, "nginx"))
				cfg.target = LAB_TARGET_NGINX;
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
			if (cli_parse_range(CMD, "port", optarg, 1, 65535, &lv))
				return EXIT_USAGE;
			cfg.port = (uint16_t)lv;
			break;
		case O_BODY:
			if (cli_parse_range(CMD, "body-bytes", optarg, 0, 64L << 20, &lv))
				return EXIT_USAGE;
			cfg.body_bytes = (uint32_t)lv;
			break;
		case O_WORK:
			if (parse_number("--work-us", optarg, 0, 1e6, &v))
				return EXIT_USAGE;
			cfg.work_ns = (uint64_t)llround(v * 1e3);
			break;
		case O_TRACER:
			if (nextra >= LAB_BENCH_TRACERS_MAX - 2) {
				cli_error(CMD, "at most %d --tracer", LAB_BENCH_TRACERS_MAX - 2);
				return EXIT_USAGE;
			}
			/* parsed into the plan below, after the baselines */
			snprintf(extra[nextra].cmd, sizeof(extra[nextra].cmd), "%s", optarg);
			if (strlen(optarg) >= sizeof(extra[nextra].cmd)) {
				cli_error(CMD, "--tracer: longer than %zu bytes", sizeof(extra[nextra].cmd) - 1);
				return EXIT_USAGE;
			}
			nextra++;
			break;
		case O_ATTACH:
			if (parse_number("--attach-timeout", optarg, 1, 600, &cfg.attach_timeout_s))
				return EXIT_USAGE;
			break;
		case O_CALIBRATE:
			calibrate_us = DEFAULT_CALIBRATE_US;
			if (optarg && parse_number("--calibrate", optarg, 1, CALIBRATE_US_MAX, &calibrate_us))
				return EXIT_USAGE;
			break;
		case O_AA:
			cfg.aa = true;
			break;
		case O_THRESHOLDS:
			thresholds_file = optarg;
			break;
		case O_BASELINE:
			if (lab_bench_baseline_check(optarg, err, sizeof(err))) {
				cli_error(CMD, "%s", err);
				return EXIT_USAGE;
			}
			snprintf(cfg.baseline_path, sizeof(cfg.baseline_path), "%s", optarg);
			break;
		case O_OUT:
			if (strlen(optarg) >= sizeof(cfg.out_dir) - 64 || !optarg[0]) {
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
		case O_NO_PIN:
			cfg.pin = false;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			if (optopt)
				cli_error(CMD, "option '%s' needs a value or takes none; see --help",
					  argv[optind - 1]);
			else
				cli_error(CMD, "unknown option '%s'; see --help", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (cli_no_more_args(CMD, argc, argv))
		return EXIT_USAGE;

	/* the plan */
	cfg.quick = quick;
	cfg.rounds = rounds ? rounds : quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
	cfg.duration_s = !isnan(duration) ? duration : quick ? QUICK_DURATION_S : DEFAULT_DURATION_S;
	cfg.warmup_s = !isnan(warmup) ? warmup : quick ? QUICK_WARMUP_S : DEFAULT_WARMUP_S;
	if (url) {
		if (target_set) {
			cli_error(CMD, "--url and --target exclude each other");
			return EXIT_USAGE;
		}
		if (lab_url_parse(url, &cfg.url, err, sizeof(err))) {
			cli_error(CMD, "--url: %s", err);
			return EXIT_USAGE;
		}
		cfg.target = LAB_TARGET_URL;
	}
	if (cfg.aa)
		add_tracer(&cfg, "none-b", LAB_TRACER_NONE, NULL);
	if (calibrate_us > 0) {
		if (cfg.target != LAB_TARGET_BUILTIN) {
			cli_error(CMD, "--calibrate needs the built-in server (it makes it burn CPU)");
			return EXIT_USAGE;
		}
		cfg.calibrate_ns = (uint64_t)llround(calibrate_us * 1e3);
		add_tracer(&cfg, "calibrate", LAB_TRACER_CALIBRATE, NULL);
	}
	for (int i = 0; i < nextra; i++)
		if (parse_tracer(&cfg, extra[i].cmd))
			return EXIT_USAGE;
	if (!nextra && !cfg.aa && calibrate_us == 0)
		add_tracer(&cfg, "sonde", LAB_TRACER_SONDE, "sonde http --json");
	if (cfg.work_ns && cfg.target != LAB_TARGET_BUILTIN) {
		cli_error(CMD, "--work-us needs the built-in server");
		return EXIT_USAGE;
	}
	for (int i = 0; i < cfg.ntracers; i++)
		any_traced |= cfg.tracers[i].kind == LAB_TRACER_SONDE ||
			      cfg.tracers[i].kind == LAB_TRACER_COMMAND;
	if (any_traced && geteuid() != 0) {
		cli_error(CMD, "tracers need root (BPF programs and their run-time statistics); run as root");
		return EXIT_USAGE;
	}
	if (lab_cli_prepare(CMD, thresholds_file, &cfg.thresholds, cfg.sonde_exe,
			    sizeof(cfg.sonde_exe), cfg.out_dir, sizeof(cfg.out_dir), "sonde-bench"))
		return EXIT_USAGE;
	cfg.progress = !cfg.json && isatty(STDERR_FILENO);

	/* no process of ours outlives the lab, Ctrl-C included */
	lab_install_cleanup(NULL);
	ret = lab_bench_run(&cfg, &res);
	if (ret) {
		/* what was measured before the failure is kept as evidence */
		if (res.nruns > 0 && !lab_bench_summarize(&res, err, sizeof(err)))
			lab_bench_write_all(&res, err, sizeof(err));
		cli_error(CMD, "%s", res.error[0] ? res.error : strerror(-ret));
		lab_bench_result_free(&res);
		return EXIT_USAGE;
	}
	if (lab_bench_summarize(&res, err, sizeof(err))) {
		cli_error(CMD, "%s", err);
		lab_bench_result_free(&res);
		return EXIT_USAGE;
	}
	if (lab_bench_write_all(&res, err, sizeof(err))) {
		cli_error(CMD, "%s", err);
		lab_bench_result_free(&res);
		return EXIT_USAGE;
	}
	if (cfg.json)
		lab_bench_write_json(&res, stdout);
	else
		lab_bench_write_summary(&res, stdout);
	fflush(stdout);
	fprintf(stderr, "sonde bench: results in %s\n", cfg.out_dir);
	ret = lab_bench_exit_code(&res) ? EXIT_CHECK_FAILED : EXIT_OK;
	lab_bench_result_free(&res);
	return ret;
}
