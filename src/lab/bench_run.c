/* The runner of `sonde bench` (see bench.h): starts the target, then for
 * every round runs each tracer in turn (in a balanced order that changes
 * from round to round, lab_bench_order: a slow drift of the machine, and
 * what one session leaves to the next, spread over every tracer), and for
 * each tracer session every scenario: mark, load, drain, sample. A tracer is
 * started once per session and waited for until its BPF programs are
 * attached; what it costs is measured between the marks only. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lab/bench.h"
#include "lab/http_server.h"
#include "lab/loadgen.h"
#include "lab/report_text.h"
#include "lab/nginx.h"
#include "lab/stats.h"
#include "lab/sysinfo.h"
#include "lab/tracer_output.h"
#include "lab/tracer_proc.h"

/* A tracer's output is caught up once it has not grown for this long. */
#define DRAIN_POLL_MS 25
#define DRAIN_STABLE_MS 200
#define DRAIN_MAX_MS 3000
/* Without a tracer: let the server log the last responses. */
#define SETTLE_MS 50
/* sonde's interim stats record (SIGUSR1) must show up within this. */
#define INTERIM_STATS_TIMEOUT_MS 3000
/* Warm-up load of a tracer session. */
#define WARMUP_RATE 200.0
#define WARMUP_CONNS 10u
/* Sweep: closed-loop probes of the baseline's saturation rate. */
#define SATURATION_PROBES 3
#define SATURATION_CONNS 50u
/* Load generator settings of every run. */
#define LOAD_TIMEOUT_MS 5000u
#define LOAD_DRAIN_MS 2000u
/* Session costs the time-left estimate assumes, seconds. */
#define EST_TRACER_SESSION_S 3.5
#define EST_RUN_OVERHEAD_S 0.4

static const double sweep_fracs[LAB_BENCH_SWEEP_POINTS] = { 0.10, 0.30, 0.50, 0.70, 0.90, 0.95 };

struct runner {
	struct lab_bench_config *cfg;
	struct lab_bench_result *res;
	struct lab_target tg;
	int stats_fd;
	uint64_t t0_ns;
	double est_total_s;
	int sessions_done, sessions_total;
	bool pin_load;
	cpu_set_t all_cpus, load_cpus;
};

static int fatal(struct runner *rn, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fatal(struct runner *rn, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rn->res->error, sizeof(rn->res->error), fmt, ap);
	va_end(ap);
	return err < 0 ? err : -EIO;
}

/* --- /proc figures of a process group ----------------------------------- */

static void fds_of(pid_t pid, void *arg)
{
	char path[64];
	DIR *fds;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	fds = opendir(path);
	if (!fds)
		return;
	for (struct dirent *fe; (fe = readdir(fds));)
		*(double *)arg += fe->d_name[0] != '.';
	closedir(fds);
}

static double pgrp_fds(pid_t pgid)
{
	double n = 0;

	return lab_pgrp_for_each(pgid, fds_of, &n) < 0 ? NAN : n;
}

static double pgrp_ctxsw(pid_t pgid)
{
	static const char *const keys[] = { "voluntary_ctxt_switches:",
					    "nonvoluntary_ctxt_switches:", NULL };

	return lab_pgrp_status_sum(pgid, keys, true);
}

static double pgrp_hwm_mb(pid_t pgid)
{
	static const char *const keys[] = { "VmHWM:", NULL };
	double kb = lab_pgrp_status_sum(pgid, keys, false);

	return kb * 1024.0 / 1e6;
}

/* --- the target --------------------------------------------------------- */

static uint64_t server_cpu_ns(const struct lab_target *tg)
{
	if (!tg->cpu_pid)
		return 0;
	return tg->cpu_is_pgrp ? lab_pgrp_cpu_ns(tg->cpu_pid) : lab_proc_cpu_ns(tg->cpu_pid);
}

/* Requests the server answered so far; -1 when it cannot tell. */
long lab_target_requests(const struct lab_target *tg)
{
	struct lab_server_counts c;

	switch (tg->kind) {
	case LAB_TARGET_BUILTIN:
		lab_server_counts(&tg->srv, &c);
		return (long)c.requests;
	case LAB_TARGET_NGINX:
		return lab_nginx_requests(&tg->nginx);
	default:
		return -1;
	}
}

int lab_target_start(struct lab_target *tg, const struct lab_target_opts *o, char *err,
		     size_t len)
{
	char reason[LAB_REASON_BYTES];
	int ret;

	memset(tg, 0, sizeof(*tg));
	tg->kind = o->kind;
	switch (o->kind) {
	case LAB_TARGET_BUILTIN: {
		struct lab_server_opts so = { .port = o->port, .body_bytes = o->body_bytes,
					      .work_ns = o->work_ns, .pin = o->pin, .cpu = 0 };

		ret = lab_server_start(&so, &tg->srv);
		if (ret == -EADDRINUSE) {
			lab_set_err(err, len, "port %u is in use", o->port);
			return ret;
		}
		if (ret) {
			lab_set_err(err, len, "the built-in server did not start: %s", strerror(-ret));
			return ret;
		}
		tg->host = "127.0.0.1";
		tg->port = tg->srv.port;
		tg->path = "/";
		tg->cpu_pid = tg->srv.pid;
		return 0;
	}
	case LAB_TARGET_NGINX: {
		struct lab_nginx_opts no = { .port = o->port, .body_bytes = o->body_bytes,
					     .cpu = o->pin ? 0 : -1 };

		ret = lab_nginx_start(&no, &tg->nginx, reason, sizeof(reason));
		if (ret) {
			lab_set_err(err, len, "%s", reason);
			return ret;
		}
		tg->host = "127.0.0.1";
		tg->port = tg->nginx.port;
		tg->path = "/";
		tg->cpu_pid = tg->nginx.master;
		tg->cpu_is_pgrp = true;
		return 0;
	}
	case LAB_TARGET_URL:
		ret = lab_url_check(o->url, 3000, NULL, reason, sizeof(reason));
		if (ret) {
			lab_set_err(err, len, "%s", reason);
			return ret;
		}
		tg->host = o->url->host;
		tg->port = o->url->port;
		tg->path = o->url->path;
		return 0;
	}
	lab_set_err(err, len, "unknown target");
	return -EINVAL;
}

void lab_target_stop(struct lab_target *tg)
{
	if (tg->kind == LAB_TARGET_BUILTIN)
		lab_server_stop(&tg->srv);
	else if (tg->kind == LAB_TARGET_NGINX)
		lab_nginx_stop(&tg->nginx);
}

static int target_start(struct runner *rn)
{
	struct lab_bench_config *cfg = rn->cfg;
	struct lab_target_opts o = { .kind = cfg->target, .url = &cfg->url, .port = cfg->port,
				     .body_bytes = cfg->body_bytes, .work_ns = cfg->work_ns,
				     .pin = rn->pin_load };
	int err = lab_target_start(&rn->tg, &o, rn->res->error, sizeof(rn->res->error));

	return err < 0 ? err : 0;
}

static void target_stop(struct runner *rn)
{
	lab_target_stop(&rn->tg);
}

/* --- load --------------------------------------------------------------- */

static int load(struct runner *rn, double rate, uint32_t conns, double duration_s,
		struct lab_load_result *lr)
{
	struct lab_load_opts lo = {
		.host = rn->tg.host, .port = rn->tg.port, .path = rn->tg.path, .conns = conns,
		.threads = rn->pin_load ? 1 : (conns >= 2 ? 2 : 1), .rate = rate,
		.duration_s = duration_s, .new_conn_per_req = rn->cfg->new_conn,
		.timeout_ms = LOAD_TIMEOUT_MS, .drain_ms = LOAD_DRAIN_MS,
	};
	int err;

	/* the load generator's threads inherit this; tracers started before
	 * (and the server, pinned itself) are not affected */
	if (rn->pin_load)
		sched_setaffinity(0, sizeof(rn->load_cpus), &rn->load_cpus);
	err = lab_load_run(&lo, lr);
	if (rn->pin_load)
		sched_setaffinity(0, sizeof(rn->all_cpus), &rn->all_cpus);
	return err;
}

/* --- progress ----------------------------------------------------------- */

static void progress(struct runner *rn, const char *phase, int round, const char *tracer,
		     const char *scenario)
{
	double el = (double)(lab_now_ns() - rn->t0_ns) / 1e9;
	double left = rn->est_total_s - el;

	if (!rn->cfg->progress)
		return;
	if (left < 0)
		left = 0;
	fprintf(stderr, "\r\033[K%s", phase);
	if (round > 0)
		fprintf(stderr, " · round %d/%d", round, rn->cfg->rounds);
	if (tracer)
		fprintf(stderr, " · %s", tracer);
	if (scenario)
		fprintf(stderr, " · %s", scenario);
	fprintf(stderr, " · ~%.0f s left", left);
	fflush(stderr);
}

static void progress_end(struct runner *rn)
{
	if (rn->cfg->progress)
		fprintf(stderr, "\r\033[K");
}

static double estimate_s(const struct lab_bench_config *cfg)
{
	double per_session = cfg->nscenarios * (cfg->duration_s + EST_RUN_OVERHEAD_S) + cfg->warmup_s;
	double total = 0;

	for (int t = 0; t < cfg->ntracers; t++) {
		bool traced = cfg->tracers[t].kind == LAB_TRACER_SONDE ||
			      cfg->tracers[t].kind == LAB_TRACER_COMMAND;

		total += per_session + (traced ? EST_TRACER_SESSION_S : 0);
	}
	total *= cfg->rounds;
	if (cfg->sweep)
		total += SATURATION_PROBES * (cfg->duration_s + EST_RUN_OVERHEAD_S);
	return total;
}

/* --- sweep -------------------------------------------------------------- */

static int sweep_prepare(struct runner *rn)
{
	struct lab_bench_config *cfg = rn->cfg;
	double rps[SATURATION_PROBES];

	for (int i = 0; i < SATURATION_PROBES; i++) {
		struct lab_load_result lr;
		int err;

		progress(rn, "saturation probe", 0, "none", NULL);
		err = load(rn, 0, SATURATION_CONNS, cfg->duration_s, &lr);
		rps[i] = err ? NAN : lr.rate_achieved;
		lab_load_result_free(&lr);
		if (err)
			return fatal(rn, err, "saturation probe failed: %s", strerror(-err));
	}
	rn->res->saturation_rps = lab_median(rps, SATURATION_PROBES);
	if (!(rn->res->saturation_rps > 0))
		return fatal(rn, -EIO, "saturation probe: the target answered no request");
	for (int i = 0; i < LAB_BENCH_SWEEP_POINTS && cfg->nscenarios < LAB_BENCH_SCENARIOS_MAX; i++) {
		struct lab_bench_scenario *sc = &cfg->scenarios[cfg->nscenarios++];

		memset(sc, 0, sizeof(*sc));
		snprintf(sc->name, sizeof(sc->name), "sweep-%02.0f%%", sweep_fracs[i] * 100);
		sc->sweep_frac = sweep_fracs[i];
		sc->rate = sweep_fracs[i] * rn->res->saturation_rps;
		sc->conns = SATURATION_CONNS;
	}
	return 0;
}

/* --- a tracer session --------------------------------------------------- */

struct session {
	const struct lab_bench_tracer *bt;
	bool traced;
	struct lab_tracer lt;
	char out_path[LAB_PATH_BYTES], err_path[LAB_PATH_BYTES];
	double drops_before;  /* sonde: Σ dropped at the last stats record; peers: lost */
};

/* sonde's output from offset: http server records of the target's port. */
static long count_events(const struct session *s, long offset, uint16_t port)
{
	char pat[32], *line = NULL;
	size_t cap = 0;
	long n = 0;
	FILE *f;

	if (s->bt->kind != LAB_TRACER_SONDE) {
		long lines = lab_count_lines_from(s->out_path, offset);

		return lines;
	}
	f = fopen(s->out_path, "r");
	if (!f)
		return -errno;
	if (offset > 0 && fseek(f, offset, SEEK_SET)) {
		fclose(f);
		return -EIO;
	}
	snprintf(pat, sizeof(pat), "\"lport\":%u,", port);
	while (getline(&line, &cap, f) > 0)
		n += strstr(line, "\"type\":\"http\"") && strstr(line, "\"side\":\"server\"") &&
		     strstr(line, pat);
	free(line);
	fclose(f);
	return n;
}

/* Ask sonde for its counters so far and wait for the record; Σ dropped, or
 * NaN when it did not come. Only what sonde writes after the signal is read:
 * its output may be hundreds of MB by then. */
static double sonde_drops_now(const struct session *s)
{
	uint64_t start = lab_now_ns();
	long offset = lab_file_size(s->out_path);

	if (offset < 0 || kill(s->lt.pid, SIGUSR1))
		return NAN;
	while (lab_now_ns() - start < (uint64_t)INTERIM_STATS_TIMEOUT_MS * LAB_NS_PER_MS) {
		struct lab_sonde_stats st;

		if (!lab_sonde_stats_read_from(s->out_path, offset, &st))
			return st.drops < 0 ? NAN : (double)st.drops;
		lab_sleep_ms(DRAIN_POLL_MS);
	}
	return NAN;
}

static double peer_lost_now(const struct session *s)
{
	long a = lab_count_lost(s->err_path), b = lab_count_lost(s->out_path);

	return (double)((a > 0 ? a : 0) + (b > 0 ? b : 0));
}

static int session_start(struct runner *rn, struct session *s, int round, int ti)
{
	struct lab_bench_config *cfg = rn->cfg;
	char reason[LAB_REASON_BYTES];
	char *sonde_argv[] = { cfg->sonde_exe, "http", "--json", NULL };
	char *sh_argv[] = { "/bin/sh", "-c", s->bt ? (char *)s->bt->cmd : NULL, NULL };
	int err;

	snprintf(s->out_path, sizeof(s->out_path), "%s/raw/round%02d-%s.out", cfg->out_dir, round + 1,
		 s->bt->name);
	snprintf(s->err_path, sizeof(s->err_path), "%s/raw/round%02d-%s.err", cfg->out_dir, round + 1,
		 s->bt->name);
	err = lab_tracer_start(&s->lt, s->bt->kind == LAB_TRACER_SONDE ? sonde_argv : sh_argv,
			       s->out_path, s->err_path, reason, sizeof(reason));
	if (err)
		return fatal(rn, err, "tracer %s: %s", s->bt->name, reason);
	err = lab_tracer_wait_attached(&s->lt,
				       s->bt->kind == LAB_TRACER_SONDE ? "sonde http: tracing" : NULL,
				       cfg->attach_timeout_s, reason, sizeof(reason));
	if (err < 0) {
		lab_tracer_stop(&s->lt);
		return fatal(rn, err, "tracer %s did not attach: %s", s->bt->name, reason);
	}
	if (err == 0) {
		lab_tracer_stop(&s->lt);
		return fatal(rn, -ENOENT, "tracer %s loaded no BPF program", s->bt->name);
	}
	(void)ti;
	return 0;
}

static void fill_load_metrics(struct lab_bench_run *r, const struct lab_load_result *lr,
			      double duration_s)
{
	/* the seconds of the load, not of the drain after it */
	uint32_t secs = (uint32_t)ceil(duration_s);
	static const double pcts[] = { 50, 90, 99, 99.9 };
	static const int keys[] = { LAB_M_P50_MS, LAB_M_P90_MS, LAB_M_P99_MS, LAB_M_P999_MS };
	bool any = lab_hist_count(&lr->hist) > 0;

	r->scheduled = lr->scheduled;
	r->issued = lr->issued;
	r->completed = lr->completed;
	r->unsent = lr->unsent;
	r->elapsed_s = lr->elapsed_s;
	r->m[LAB_M_RPS] = lr->rate_achieved;
	for (int i = 0; i < 4; i++)
		r->m[keys[i]] = any ? (double)lab_hist_percentile(&lr->hist, pcts[i]) / 1e6 : NAN;
	r->m[LAB_M_MAX_MS] = any ? (double)lab_hist_max(&lr->hist) / 1e6 : NAN;
	r->m[LAB_M_ERRORS] = (double)(lr->err_connect + lr->err_timeout + lr->err_status +
				      lr->err_io + lr->unsent);
	if (secs > lr->per_sec_len)
		secs = lr->per_sec_len;
	if (secs) {
		r->per_sec = calloc(secs, sizeof(*r->per_sec));
		if (r->per_sec) {
			r->per_sec_len = secs;
			for (uint32_t i = 0; i < secs; i++)
				r->per_sec[i] = (uint32_t)lr->per_sec[i];
		}
	}
}

static void run_error(struct lab_bench_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run_error(struct lab_bench_run *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->ok)
		return; /* the first error is the one that matters */
	r->ok = false;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

static void run_scenario(struct runner *rn, struct session *s, int round, int ti, int si)
{
	struct lab_bench_config *cfg = rn->cfg;
	const struct lab_bench_scenario *sc = &cfg->scenarios[si];
	struct lab_bench_run *r = &rn->res->runs[lab_bench_run_index(cfg, round, ti, si)];
	struct lab_load_result lr;
	long out_off = 0, req0, req1, events;
	uint64_t srv0, srv1, wall0, wall;
	double ctx0 = NAN, requests;
	int err;

	r->round = round;
	r->tracer = ti;
	r->scenario = si;
	r->ok = true;
	for (int m = 0; m < LAB_M_COUNT; m++)
		r->m[m] = NAN;
	progress(rn, "measuring", round + 1, s->bt->name, sc->name);

	/* Everything the lab reads itself (/proc, logs, the tracer's output)
	 * is read outside the marks: a tracer of read() would count it. */
	if (s->traced) {
		out_off = lab_file_size(s->out_path);
		ctx0 = pgrp_ctxsw(s->lt.pid);
	}
	req0 = lab_target_requests(&rn->tg);
	srv0 = server_cpu_ns(&rn->tg);
	if (s->traced)
		lab_tracer_mark(&s->lt);
	wall0 = lab_now_ns();
	err = load(rn, sc->rate, sc->conns, cfg->duration_s, &lr);
	if (err) {
		run_error(r, "load generator: %s", strerror(-err));
		lab_load_result_free(&lr);
		return;
	}
	fill_load_metrics(r, &lr, cfg->duration_s);
	lab_load_result_free(&lr);
	if (s->traced) {
		lab_tracer_drain(&s->lt, DRAIN_POLL_MS, DRAIN_STABLE_MS, DRAIN_MAX_MS);
		lab_tracer_sample(&s->lt);
	} else {
		lab_sleep_ms(SETTLE_MS);
	}
	wall = lab_now_ns() - wall0;
	srv1 = server_cpu_ns(&rn->tg);
	req1 = lab_target_requests(&rn->tg);

	requests = req0 >= 0 && req1 >= req0 ? (double)(req1 - req0) : (double)r->completed;
	r->m[LAB_M_REQUESTS] = requests;
	if (rn->tg.cpu_pid && requests > 0)
		r->m[LAB_M_SERVER_CPU_US] = (double)(srv1 - srv0) / requests / 1e3;
	if (!s->traced)
		return;
	{
		double cpu_ms = lab_tracer_cpu_ms(&s->lt);
		uint64_t bpf_ns = 0, bpf_runs = 0;

		r->m[LAB_M_TRACER_CPU_PCT] = cpu_ms * 1e6 / (double)wall * 100.0;
		if (requests > 0)
			r->m[LAB_M_TRACER_CPU_US] = cpu_ms * 1e3 / requests;
		if (rn->stats_fd >= 0 && s->lt.nafter > 0) {
			lab_tracer_bpf_totals(&s->lt, &bpf_ns, &bpf_runs);
			r->m[LAB_M_BPF_CPU_PCT] = (double)bpf_ns / (double)wall * 100.0;
			if (requests > 0)
				r->m[LAB_M_BPF_NS] = (double)bpf_ns / requests;
		}
	}
	r->m[LAB_M_CTXSW] = pgrp_ctxsw(s->lt.pid) - ctx0;
	{
		double drops;

		if (s->bt->kind == LAB_TRACER_SONDE) {
			drops = sonde_drops_now(s);
			if (isnan(drops))
				run_error(r, "sonde did not answer SIGUSR1 with its counters");
		} else {
			drops = peer_lost_now(s);
		}
		r->m[LAB_M_DROPS] = drops - s->drops_before;
		s->drops_before = drops;
	}
	r->m[LAB_M_RSS_MB] = pgrp_hwm_mb(s->lt.pid);
	r->m[LAB_M_FDS] = pgrp_fds(s->lt.pid);
	events = count_events(s, out_off, rn->tg.port);
	if (events < 0) {
		run_error(r, "cannot read the tracer's output: %s", strerror((int)-events));
		return;
	}
	r->m[LAB_M_EVENTS] = (double)events;
	if (r->elapsed_s > 0)
		r->m[LAB_M_EVENTS_PER_S] = (double)events / r->elapsed_s;
	if (requests > 0)
		r->m[LAB_M_CAPTURE_PCT] = (double)events / requests * 100.0;
}

int lab_bench_order(int n, int round, int k)
{
	/* first row 0, 1, n-1, 2, n-2, ...; row i adds i to each; for an odd
	 * n the rows reversed as well, taken in turn with the plain ones */
	int row = n % 2 ? round / 2 % n : round % n;
	int j = n % 2 && round % 2 ? n - 1 - k : k;
	int first = j == 0 ? 0 : j % 2 ? (j + 1) / 2 : n - j / 2;

	if (n <= 1)
		return 0;
	return (first + row) % n;
}

static int run_session(struct runner *rn, int round, int ti)
{
	struct lab_bench_config *cfg = rn->cfg;
	struct session s = { .bt = &cfg->tracers[ti] };
	int err;

	s.traced = s.bt->kind == LAB_TRACER_SONDE || s.bt->kind == LAB_TRACER_COMMAND;
	progress(rn, s.traced ? "starting tracer" : "measuring", round + 1, s.bt->name, NULL);
	if (s.traced) {
		err = session_start(rn, &s, round, ti);
		if (err)
			return err;
	}
	if (s.bt->kind == LAB_TRACER_CALIBRATE && rn->tg.kind == LAB_TARGET_BUILTIN)
		lab_server_set_work(&rn->tg.srv, cfg->work_ns + cfg->calibrate_ns);
	if (cfg->warmup_s > 0) {
		struct lab_load_result lr;

		progress(rn, "warming up", round + 1, s.bt->name, NULL);
		load(rn, WARMUP_RATE, WARMUP_CONNS, cfg->warmup_s, &lr);
		lab_load_result_free(&lr);
	}
	if (s.traced) {
		lab_tracer_drain(&s.lt, DRAIN_POLL_MS, DRAIN_STABLE_MS, DRAIN_MAX_MS);
		s.drops_before = s.bt->kind == LAB_TRACER_SONDE ? sonde_drops_now(&s) :
								 peer_lost_now(&s);
	}
	for (int si = 0; si < cfg->nscenarios; si++)
		run_scenario(rn, &s, round, ti, si);
	if (s.bt->kind == LAB_TRACER_CALIBRATE && rn->tg.kind == LAB_TARGET_BUILTIN)
		lab_server_set_work(&rn->tg.srv, cfg->work_ns);
	if (s.traced) {
		progress(rn, "stopping tracer", round + 1, s.bt->name, NULL);
		lab_tracer_stop(&s.lt);
		if (s.lt.killed || s.lt.exit_code != 0) {
			char last[160];

			lab_read_last_line(s.err_path, last, sizeof(last));
			for (int si = 0; si < cfg->nscenarios; si++)
				run_error(&rn->res->runs[lab_bench_run_index(cfg, round, ti, si)],
					  s.lt.killed ? "tracer did not stop within %d s of SIGINT" :
							"tracer exited with code %d: %s",
					  s.lt.killed ? LAB_STOP_TIMEOUT_MS / 1000 : s.lt.exit_code,
					  last);
		}
		if (!cfg->keep_raw) {
			unlink(s.out_path);
			unlink(s.err_path);
		}
	}
	rn->sessions_done++;
	return 0;
}

/* --- the whole plan ----------------------------------------------------- */

void lab_iso_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int lab_bench_run(struct lab_bench_config *cfg, struct lab_bench_result *res)
{
	static const char *const tools[][2] = {
		{ "nginx", "nginx -v 2>&1" },
		{ "bpftrace", "bpftrace --version 2>/dev/null" },
		{ "libbpf", "dpkg-query -W -f='${Version}' libbpf1 2>/dev/null" },
		{ "sonde", "git rev-parse --short HEAD 2>/dev/null" },
		{ NULL, NULL },
	};
	struct runner rn = { .cfg = cfg, .res = res, .stats_fd = -1 };
	char path[LAB_PATH_BYTES + 32], reason[LAB_REASON_BYTES];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	bool any_traced = false;
	int err = 0;

	memset(res, 0, sizeof(*res));
	res->cfg = cfg;
	res->saturation_rps = NAN;
	lab_iso_now(res->started, sizeof(res->started));
	rn.t0_ns = lab_now_ns();
	if (cfg->ntracers < 1 || cfg->rounds < 1 || (cfg->nscenarios < 1 && !cfg->sweep))
		return fatal(&rn, -EINVAL, "nothing to run");

	snprintf(path, sizeof(path), "%s/raw", cfg->out_dir);
	if (mkdir(path, 0755) && errno != EEXIST)
		return fatal(&rn, -errno, "%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/system_info.txt", cfg->out_dir);
	lab_sysinfo_write(path, tools);

	for (int t = 0; t < cfg->ntracers; t++)
		any_traced |= cfg->tracers[t].kind == LAB_TRACER_SONDE ||
			      cfg->tracers[t].kind == LAB_TRACER_COMMAND;
	if (any_traced) {
		rn.stats_fd = lab_bpf_stats_enable(reason, sizeof(reason));
		if (rn.stats_fd < 0 && cfg->progress)
			fprintf(stderr, "sonde bench: warning: no in-kernel BPF time: %s\n", reason);
	}
	sched_getaffinity(0, sizeof(rn.all_cpus), &rn.all_cpus);
	rn.pin_load = cfg->pin && ncpu >= 2 && cfg->target != LAB_TARGET_URL;
	if (rn.pin_load) {
		CPU_ZERO(&rn.load_cpus);
		CPU_SET(1, &rn.load_cpus);
	}

	err = target_start(&rn);
	if (err)
		goto out;
	if (cfg->sweep) {
		err = sweep_prepare(&rn);
		if (err)
			goto out;
	}
	if (cfg->nscenarios < 1) {
		err = fatal(&rn, -EINVAL, "no scenario to run");
		goto out;
	}
	res->nruns = cfg->rounds * cfg->ntracers * cfg->nscenarios;
	res->runs = calloc((size_t)res->nruns, sizeof(*res->runs));
	if (!res->runs) {
		res->nruns = 0;
		err = fatal(&rn, -ENOMEM, "out of memory");
		goto out;
	}
	rn.est_total_s = estimate_s(cfg) + (double)(lab_now_ns() - rn.t0_ns) / 1e9;
	rn.sessions_total = cfg->rounds * cfg->ntracers;
	for (int round = 0; round < cfg->rounds && !err; round++)
		for (int k = 0; k < cfg->ntracers && !err; k++)
			err = run_session(&rn, round, lab_bench_order(cfg->ntracers, round, k));
out:
	progress_end(&rn);
	target_stop(&rn);
	if (rn.stats_fd >= 0)
		close(rn.stats_fd);
	if (!cfg->keep_raw) {
		snprintf(path, sizeof(path), "%s/raw", cfg->out_dir);
		rmdir(path); /* only when empty */
	}
	res->wall_s = (double)(lab_now_ns() - rn.t0_ns) / 1e9;
	return err;
}

void lab_bench_result_free(struct lab_bench_result *res)
{
	for (int i = 0; i < res->nruns; i++)
		free(res->runs[i].per_sec);
	free(res->runs);
	res->runs = NULL;
	res->nruns = 0;
}
