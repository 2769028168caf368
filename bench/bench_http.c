/* bench_http: the harness behind `make bench-http`. It starts nginx on a free
 * loopback port (generated config, one worker pinned to a CPU, keep-alive,
 * an access log that is the ground truth) and drives it at saturation with
 * wrk (pinned to the other CPU) under each HTTP tracer (none, sonde tracing
 * both sides, sonde tracing only the nginx worker, a bpftrace capture peer,
 * an empty program on sonde's hook: the floor any tracer there pays)
 * in interleaved rounds, in a balanced order. Per run: requests/s and p50/p99 latency,
 * requests in the access log, sonde's server records against them, its drops
 * and accounting, the in-kernel BPF time per request, the tracer's CPU per
 * request and its peak RSS. It writes results.json, report.md and
 * system_info.txt. A tracer that cannot run is reported with its reason; no
 * process (nginx, wrk, tracers) outlives the harness, even on Ctrl-C. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "http.h"
#include "lab/bench.h"
#include "lab/compare.h"
#include "lab/nginx.h"
#include "lab/report_text.h"
#include "lab/stats.h"
#include "lab/sysinfo.h"
#include "lab/tracer_output.h"
#include "lab/tracer_proc.h"

#define TRACERS_MAX 8
#define ROUNDS_MAX 50
#define DIR_BYTES 512 /* --build and --out: leaves room for file names */
#define DEFAULT_ROUNDS 5
#define DEFAULT_DURATION_S 5.0
#define DEFAULT_CONNECTIONS 50
#define DEFAULT_NGINX_CPU 0
#define DEFAULT_WRK_CPU 1
#define DEFAULT_ATTACH_TIMEOUT_S 20.0
#define DEFAULT_PEER_SCRIPT "bench/peers/http_bytes.bt"
/* After wrk: wait until the tracer's output stops growing for
 * DRAIN_STABLE_MS (at most DRAIN_MAX_MS) before reading stats and stopping. */
#define DRAIN_POLL_MS 50
#define DRAIN_STABLE_MS 250
#define DRAIN_MAX_MS 5000
/* Requests still in flight when wrk stops are logged by nginx just after. */
#define ACCESS_LOG_SETTLE_MS 200
/* wrk runs for its duration plus this much before it counts as hung. */
#define WRK_SLACK_MS 20000
/* A warm-up load before the rounds (page cache, nginx's first connections). */
#define WARMUP_S 1.0
/* Targets. */
#define TARGET_COMPLETENESS_PCT 100.0
#define TARGET_LOSS_PCT 5.0
#define TARGET_NS_PER_REQ 1000.0
/* A 1-minute load average above this at start means others were busy. */
#define LOAD_CONTENTION 0.5
/* A run where others used more than this share of the CPUs is called out. */
#define FOREIGN_CPU_PCT_NOISY 5.0
/* "Where the time goes" lists programs costing at least this per request. */
#define PROG_SHOWN_NS_PER_REQ 0.5
/* Per-program figures kept per run. */
#define RUN_PROGS_MAX 32

enum tracer_kind {
	T_NONE,
	T_SONDE,       /* sonde http --json --port P */
	T_SONDE_PID,   /* ... --pid <nginx worker> */
	T_SONDE_SHARDS, /* ... --ring-shards <CPUs online>: a ring per CPU */
	T_SONDE_EXPORTED, /* ... --tls-hooks exported: SSL_read/SSL_write hooked,
			   * not OpenSSL's workers (for HTTPS) */
	T_BPFTRACE,    /* the capture peer */
	T_FLOOR,       /* hook_floor: an empty program on sonde's hook (sys_exit),
			* what any tracer there pays before its own work */
	T_FLOOR_SYSCALLS, /* hook_floor --syscalls: empty programs on the exit
			   * tracepoints of the syscalls sonde reads, the
			   * other hook */
	T_FLOOR_TLS,   /* hook_floor --tls: sys_exit's empty program and empty
			* uprobes on the SSL functions sonde hooks (https run) */
};

struct tracer {
	char name[32];
	enum tracer_kind kind;
	char *argv[12];
	const char *ready_stderr;
	bool available;
	char reason[LAB_REASON_BYTES];
};

struct prog_cost {
	char name[LAB_FUNC_NAME_BYTES];
	uint64_t run_time_ns, run_cnt;
};

struct run {
	int round, tracer_idx;
	bool ok;
	char reason[LAB_REASON_BYTES];
	char label[80];
	/* wrk */
	long wrk_requests, wrk_errors, wrk_non2xx;
	uint64_t wrk_cpu_ns;
	double rps, p50_us, p99_us;
	/* ground truth */
	long logged; /* access-log lines of the run */
	/* sonde */
	long server_records, client_records;
	long produced, delivered, filtered, drops, http_records;
	int invariant; /* -1 n/a */
	char drops_text[LAB_DROPS_TEXT_BYTES];
	char partial_text[LAB_DROPS_TEXT_BYTES];
	long lost; /* peers' "Lost N events", -1 if none printed */
	long out_lines;
	/* cost */
	uint64_t run_time_ns, run_cnt;
	double ns_per_req, cpu_ms, cpu_us_per_req, cpu_total_ms, attach_s;
	double delivery_p50_us, delivery_p99_us; /* sonde: its stats record, NAN if none */
	long maxrss_kb;
	int nprogs;
	struct prog_cost progs[RUN_PROGS_MAX];
	int exit_code;
	/* against none of the same round */
	double loss_pct, p99_change_pct;
	/* CPU the machine spent during wrk outside nginx, wrk and the tracer:
	 * others' load, in % of all CPUs. */
	double foreign_cpu_pct;
};

struct config {
	int rounds;
	double duration_s;
	long connections, nginx_cpu, wrk_cpu;
	double attach_timeout_s;
	bool keep_raw, strict, tls;
	char build[DIR_BYTES], out[DIR_BYTES], peer_script[DIR_BYTES];
	char tracer_list[256];
};

static struct config cfg;
static struct tracer tracers[TRACERS_MAX];
static int ntracers;
static struct run *runs;
static int nruns;
static int stats_fd = -1;
static char stats_error[LAB_REASON_BYTES];
static char loadavg_start[64], loadavg_end[64], others_start[LAB_REASON_BYTES];

/* nginx (lab/nginx.h), in a directory of its own removed by
 * lab_nginx_stop or, on Ctrl-C and at exit, by lab_nginx_cleanup. */
static struct lab_nginx nginx;
static char port_str[16], worker_str[16], shards_str[16];
static char worker_affinity[64];
static char url[64];

static void fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->ok)
		return; /* the first reason is the one that matters */
	r->ok = false;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* Names of other load-related processes running now (others' tests). */
static void others_running(char *buf, size_t len)
{
	static const char *names[] = { "nginx", "wrk", "ab", "curl", "node", "bpftrace", "sonde" };
	int count[7] = { 0 };
	DIR *proc = opendir("/proc");
	struct dirent *pe;
	size_t used = 0;

	buf[0] = '\0';
	if (!proc)
		return;
	while ((pe = readdir(proc))) {
		char path[64], name[64];

		if (pe->d_name[0] < '0' || pe->d_name[0] > '9' || atoi(pe->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/comm", pe->d_name);
		lab_read_first_line(path, name, sizeof(name));
		for (int i = 0; i < 7; i++)
			if (!strcmp(name, names[i]))
				count[i]++;
	}
	closedir(proc);
	for (int i = 0; i < 7; i++) {
		int w;

		if (!count[i])
			continue;
		w = snprintf(buf + used, len - used, "%s%d %s", used ? ", " : "", count[i], names[i]);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

/* Start nginx (lab/nginx.h) on a free port, its worker pinned to
 * cfg.nginx_cpu; fills the strings the tracers' commands and the report use.
 * 0 or -errno with msg filled. */
static int nginx_start(char *msg, size_t len)
{
	struct lab_nginx_opts o = { .port = 0, .body_bytes = LAB_NGINX_PAGE_BYTES,
				    .cpu = (int)cfg.nginx_cpu, .dir = NULL, .tls = cfg.tls };
	cpu_set_t set;
	int err;

	err = lab_nginx_start(&o, &nginx, msg, len);
	if (err)
		return err;
	snprintf(port_str, sizeof(port_str), "%u", (unsigned)nginx.port);
	snprintf(worker_str, sizeof(worker_str), "%d", (int)nginx.worker);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%u/", cfg.tls ? "https" : "http",
		 (unsigned)nginx.port);
	CPU_ZERO(&set);
	worker_affinity[0] = '\0';
	if (!sched_getaffinity(nginx.worker, sizeof(set), &set)) {
		for (int c = 0; c < CPU_SETSIZE && strlen(worker_affinity) < sizeof(worker_affinity) - 8; c++)
			if (CPU_ISSET(c, &set))
				snprintf(worker_affinity + strlen(worker_affinity),
					 sizeof(worker_affinity) - strlen(worker_affinity), "%s%d",
					 worker_affinity[0] ? "," : "", c);
	}
	return 0;
}

/* A wrk latency like "1.85ms", "820.00us", "1.02s" in µs; NaN otherwise. */
static double wrk_time_us(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s)
		return NAN;
	if (!strncmp(end, "us", 2))
		return v;
	if (!strncmp(end, "ms", 2))
		return v * 1e3;
	if (*end == 's')
		return v * 1e6;
	if (*end == 'm')
		return v * 60e6;
	return NAN;
}

/* wrk's output: requests, Requests/sec, the 50 % and 99 % latencies, errors. */
static int wrk_parse(const char *path, struct run *r)
{
	char line[512];
	FILE *f = fopen(path, "r");
	bool got_rps = false;

	if (!f)
		return -errno;
	r->rps = r->p50_us = r->p99_us = NAN;
	r->wrk_requests = -1;
	r->wrk_errors = r->wrk_non2xx = 0;
	while (fgets(line, sizeof(line), f)) {
		char unit[16];
		double pct;
		long a, b, c, d;
		char *p = line + strspn(line, " \t");

		if (sscanf(p, "%lf%% %15s", &pct, unit) == 2) {
			if (pct == 50)
				r->p50_us = wrk_time_us(unit);
			else if (pct == 99)
				r->p99_us = wrk_time_us(unit);
		} else if (sscanf(p, "%ld requests in", &a) == 1) {
			r->wrk_requests = a;
		} else if (sscanf(p, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld",
				  &a, &b, &c, &d) == 4) {
			r->wrk_errors = a + b + c + d;
		} else if (sscanf(p, "Non-2xx or 3xx responses: %ld", &a) == 1) {
			r->wrk_non2xx = a;
		} else if (sscanf(p, "Requests/sec: %lf", &r->rps) == 1) {
			got_rps = true;
		}
	}
	fclose(f);
	return got_rps && r->wrk_requests >= 0 ? 0 : -ENODATA;
}

/* Run wrk against nginx for duration_s; fills the wrk fields of r (when r is
 * NULL: a warm-up, nothing kept). */
static int wrk_run(struct run *r, double duration_s, const char *out_path, const char *err_path)
{
	char conns[16], dur[32], cpu[16];
	char *argv[16];
	int argc = 0, status, err;
	struct rusage ru;
	pid_t pid;

	snprintf(conns, sizeof(conns), "%ld", cfg.connections);
	snprintf(dur, sizeof(dur), "%gs", duration_s);
	snprintf(cpu, sizeof(cpu), "%ld", cfg.wrk_cpu);
	if (cfg.wrk_cpu >= 0) {
		argv[argc++] = "taskset";
		argv[argc++] = "-c";
		argv[argc++] = cpu;
	}
	argv[argc++] = "wrk";
	argv[argc++] = "-t1";
	argv[argc++] = "-c";
	argv[argc++] = conns;
	argv[argc++] = "-d";
	argv[argc++] = dur;
	argv[argc++] = "--latency";
	argv[argc++] = url;
	argv[argc] = NULL;

	pid = lab_spawn_logged(argv, out_path, err_path);
	if (pid < 0) {
		if (r)
			fail(r, "cannot start wrk: %s", strerror(-pid));
		return pid;
	}
	lab_pgrp_track(pid);
	err = lab_wait_exit(pid, (unsigned)(duration_s * 1000) + WRK_SLACK_MS, &status, &ru);
	kill(-pid, SIGKILL);
	if (err)
		lab_wait_exit(pid, LAB_STOP_TIMEOUT_MS, &status, &ru);
	lab_pgrp_untrack(pid);
	if (!r)
		return err;
	r->wrk_cpu_ns = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * LAB_NS_PER_SEC +
			(uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
	if (err) {
		fail(r, "wrk did not finish within %g s", duration_s + WRK_SLACK_MS / 1000.0);
		return -ETIMEDOUT;
	}
	if (wrk_parse(out_path, r)) {
		char last[200];

		lab_read_last_line(err_path, last, sizeof(last));
		fail(r, "wrk exited %d without a result: %s", lab_exit_code(status),
		     last[0] ? last : "(no message)");
		return -EIO;
	}
	return 0;
}

/* CPU time the whole machine spent busy so far (/proc/stat: everything but
 * idle and iowait), ns. */
static uint64_t machine_busy_ns(void)
{
	unsigned long long v[8] = { 0 };
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");
	int n = 0;

	if (f) {
		n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7]);
		fclose(f);
	}
	if (n < 8 || hz <= 0)
		return 0;
	return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * (LAB_NS_PER_SEC / (uint64_t)hz);
}

/* One pass over sonde's output: its server and client http records. */
static int count_sonde_records(const char *path, long *server, long *client, long *lines)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	*server = *client = *lines = 0;
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		(*lines)++;
		if (!strstr(line, "\"type\":\"http\""))
			continue;
		if (strstr(line, "\"side\":\"server\""))
			(*server)++;
		else if (strstr(line, "\"side\":\"client\""))
			(*client)++;
	}
	free(line);
	fclose(f);
	return 0;
}

static void run_path(char *buf, size_t len, const struct run *r, const char *suffix)
{
	snprintf(buf, len, "%s/runs/%s.%s", cfg.out, r->label, suffix);
}

static void copy_object(const char *line, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *d, *end;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\":{", key);
	d = strstr(line, pat);
	if (!d)
		return;
	d += strlen(pat);
	end = strchr(d, '}');
	if (end)
		snprintf(out, len, "%.*s", (int)(end - d), d);
}

/* A variant of sonde http (its argv is sonde's, plus one option). */
static bool sonde_kind(enum tracer_kind k)
{
	return k == T_SONDE || k == T_SONDE_PID || k == T_SONDE_SHARDS || k == T_SONDE_EXPORTED;
}

static void run_one(struct run *r)
{
	const struct tracer *t = &tracers[r->tracer_idx];
	char out_path[LAB_PATH_BYTES], err_path[LAB_PATH_BYTES];
	char wrk_out[LAB_PATH_BYTES], wrk_err[LAB_PATH_BYTES];
	struct lab_tracer lt;
	bool traced = t->kind != T_NONE;
	uint64_t busy0, nginx0, wall0;
	int err;

	r->ok = true;
	r->drops = r->lost = r->produced = r->delivered = r->filtered = r->http_records = -1;
	r->server_records = r->client_records = r->logged = r->maxrss_kb = -1;
	r->invariant = -1;
	r->ns_per_req = r->cpu_ms = r->cpu_us_per_req = r->cpu_total_ms = NAN;
	r->delivery_p50_us = r->delivery_p99_us = NAN;
	r->loss_pct = r->p99_change_pct = NAN;
	r->rps = r->p50_us = r->p99_us = r->foreign_cpu_pct = NAN;
	run_path(out_path, sizeof(out_path), r, "out");
	run_path(err_path, sizeof(err_path), r, "err");
	run_path(wrk_out, sizeof(wrk_out), r, "wrk");
	run_path(wrk_err, sizeof(wrk_err), r, "wrk.err");

	if (!lab_nginx_alive(&nginx)) {
		fail(r, "nginx is not running any more");
		return;
	}
	if (traced) {
		if (lab_tracer_start(&lt, t->argv, out_path, err_path, r->reason, sizeof(r->reason))) {
			r->ok = false;
			return;
		}
		if (lab_tracer_wait_attached(&lt, t->ready_stderr, cfg.attach_timeout_s, r->reason,
					     sizeof(r->reason)) < 0) {
			r->ok = false;
			lab_tracer_stop(&lt);
			return;
		}
		r->attach_s = lt.attach_s;
	}
	if ((err = lab_nginx_reset_log(&nginx))) {
		fail(r, "cannot truncate %s: %s", nginx.access_log, strerror(-err));
		if (traced)
			lab_tracer_stop(&lt);
		return;
	}
	if (traced)
		lab_tracer_mark(&lt);
	busy0 = machine_busy_ns();
	nginx0 = lab_pgrp_cpu_ns(nginx.master);
	wall0 = lab_now_ns();
	wrk_run(r, cfg.duration_s, wrk_out, wrk_err);
	{
		uint64_t wall = lab_now_ns() - wall0, busy = machine_busy_ns() - busy0;
		uint64_t ours = lab_pgrp_cpu_ns(nginx.master) - nginx0 + r->wrk_cpu_ns;
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

		if (traced)
			ours += lab_pgrp_cpu_ns(lt.pid) - lt.cpu_mark_ns;
		r->foreign_cpu_pct = busy0 && wall && ncpu > 0 ?
			fmax(0.0, 100.0 * ((double)busy - (double)ours) / ((double)wall * ncpu)) : NAN;
	}
	if (traced)
		lab_tracer_drain(&lt, DRAIN_POLL_MS, DRAIN_STABLE_MS, DRAIN_MAX_MS);
	else
		lab_sleep_ms(ACCESS_LOG_SETTLE_MS);
	r->logged = lab_nginx_requests(&nginx);
	if (r->logged < 0)
		fail(r, "cannot read the access log: %s", strerror((int)-r->logged));
	else if (r->logged == 0)
		fail(r, "nginx logged no request");
	if (!traced)
		return;

	lab_tracer_sample(&lt);
	lab_tracer_stop(&lt);
	r->exit_code = lt.exit_code;
	r->cpu_total_ms = lt.cpu_total_ms;
	r->maxrss_kb = lt.maxrss_kb;
	r->cpu_ms = lab_tracer_cpu_ms(&lt);
	if (r->logged > 0)
		r->cpu_us_per_req = r->cpu_ms * 1e3 / (double)r->logged;
	if (stats_fd >= 0 && lt.nafter > 0 && r->logged > 0) {
		lab_tracer_bpf_totals(&lt, &r->run_time_ns, &r->run_cnt);
		r->ns_per_req = (double)r->run_time_ns / (double)r->logged;
		r->nprogs = 0;
		for (int i = 0; i < lt.nafter && r->nprogs < RUN_PROGS_MAX; i++) {
			struct prog_cost *pc = &r->progs[r->nprogs++];

			snprintf(pc->name, sizeof(pc->name), "%s",
				 lt.after[i].func_name[0] ? lt.after[i].func_name : lt.after[i].name);
			lab_tracer_prog_delta(&lt, i, &pc->run_time_ns, &pc->run_cnt);
		}
	}
	if (lt.killed) {
		fail(r, "did not exit within %d s of SIGINT (killed)", LAB_STOP_TIMEOUT_MS / 1000);
	} else if (r->exit_code != 0) {
		char last[200];

		lab_read_last_line(err_path, last, sizeof(last));
		fail(r, "exited with code %d: %s", r->exit_code, last);
	}
	r->lost = lab_count_lost(err_path);
	if (t->kind == T_BPFTRACE) {
		long l = lab_count_lost(out_path);

		if (l >= 0)
			r->lost = (r->lost < 0 ? 0 : r->lost) + l;
		r->out_lines = lab_count_lines(out_path, NULL, NULL, NULL);
	} else if (sonde_kind(t->kind)) {
		struct lab_sonde_stats st;
		double v;

		count_sonde_records(out_path, &r->server_records, &r->client_records, &r->out_lines);
		if (lab_sonde_stats_read(out_path, &st)) {
			fail(r, "no {\"type\":\"stats\"} record in its output");
		} else {
			r->produced = st.produced;
			r->delivered = st.delivered;
			r->filtered = st.filtered;
			r->drops = st.drops;
			r->invariant = st.invariant;
			snprintf(r->drops_text, sizeof(r->drops_text), "%s", st.drops_text);
			copy_object(st.line, "partial", r->partial_text, sizeof(r->partial_text));
			r->http_records = lab_json_obj_num(st.line, "http", "records", &v) ? (long)v : -1;
			if (lab_json_obj_num(st.line, "http", "delivery_p50_us", &v))
				r->delivery_p50_us = v;
			if (lab_json_obj_num(st.line, "http", "delivery_p99_us", &v))
				r->delivery_p99_us = v;
		}
	}
	if (!cfg.keep_raw)
		unlink(out_path);
}

static struct tracer *tracer_add(const char *name, enum tracer_kind kind)
{
	struct tracer *t;

	if (ntracers == TRACERS_MAX)
		return NULL;
	t = &tracers[ntracers++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->kind = kind;
	t->available = true;
	return t;
}

static bool in_path(const char *prog)
{
	char buf[4096], *dir, *save;
	const char *path = getenv("PATH");

	snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	for (dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char full[LAB_PATH_BYTES];

		snprintf(full, sizeof(full), "%s/%s", dir, prog);
		if (!access(full, X_OK))
			return true;
	}
	return false;
}

/* Tracers by name; their commands get the port and worker pid once nginx
 * runs (tracers_bind). */
static int tracers_setup(void)
{
	static char sonde[LAB_PATH_BYTES], floor_bin[LAB_PATH_BYTES];
	char list[256], *tok, *save;

	snprintf(sonde, sizeof(sonde), "%s/sonde", cfg.build);
	snprintf(list, sizeof(list), "%s", cfg.tracer_list);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		enum tracer_kind kind;
		struct tracer *t;

		if (!strcmp(tok, "none"))
			kind = T_NONE;
		else if (!strcmp(tok, "sonde"))
			kind = T_SONDE;
		else if (!strcmp(tok, "sonde-server-only"))
			kind = T_SONDE_PID;
		else if (!strcmp(tok, "sonde-sharded"))
			kind = T_SONDE_SHARDS;
		else if (!strcmp(tok, "sonde-exported-hooks"))
			kind = T_SONDE_EXPORTED;
		else if (!strcmp(tok, "bpftrace-peer"))
			kind = T_BPFTRACE;
		else if (!strcmp(tok, "hook-floor"))
			kind = T_FLOOR;
		else if (!strcmp(tok, "hook-floor-syscalls"))
			kind = T_FLOOR_SYSCALLS;
		else if (!strcmp(tok, "hook-floor-tls"))
			kind = T_FLOOR_TLS;
		else {
			fprintf(stderr, "bench_http: unknown tracer '%s' (none, sonde, "
					"sonde-server-only, sonde-sharded, sonde-exported-hooks, "
					"bpftrace-peer, hook-floor, hook-floor-syscalls, "
					"hook-floor-tls)\n", tok);
			return -EINVAL;
		}
		t = tracer_add(tok, kind);
		if (!t)
			return -E2BIG;
		if (sonde_kind(kind)) {
			char *const a[] = { sonde, "http", "--json", "--port", port_str, NULL };

			memcpy(t->argv, a, sizeof(a));
			if (kind == T_SONDE_PID) {
				t->argv[5] = "--pid";
				t->argv[6] = worker_str;
			}
			if (kind == T_SONDE_SHARDS) {
				long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

				snprintf(shards_str, sizeof(shards_str), "%ld",
					 ncpu < 1 ? 1 : ncpu > HTTP_RING_SHARDS_MAX ? HTTP_RING_SHARDS_MAX : ncpu);
				t->argv[5] = "--ring-shards";
				t->argv[6] = shards_str;
			}
			if (kind == T_SONDE_EXPORTED) {
				t->argv[5] = "--tls-hooks";
				t->argv[6] = "exported";
			}
			t->ready_stderr = "sonde http: tracing";
			if (access(sonde, X_OK)) {
				t->available = false;
				snprintf(t->reason, sizeof(t->reason), "%.200s not found (make all)", sonde);
			}
		}
		if (kind == T_FLOOR || kind == T_FLOOR_SYSCALLS || kind == T_FLOOR_TLS) {
			snprintf(floor_bin, sizeof(floor_bin), "%s/bench/hook_floor", cfg.build);
			t->argv[0] = floor_bin;
			if (kind == T_FLOOR_SYSCALLS)
				t->argv[1] = "--syscalls";
			if (kind == T_FLOOR_TLS)
				t->argv[1] = "--tls";
			t->ready_stderr = "hook_floor: attached";
			if (access(floor_bin, X_OK)) {
				t->available = false;
				snprintf(t->reason, sizeof(t->reason), "%.200s not found (make bench-http)",
					 floor_bin);
			} else if (kind == T_FLOOR_SYSCALLS &&
				   access("/sys/kernel/tracing/events/syscalls/sys_exit_read/id", R_OK)) {
				t->available = false;
				snprintf(t->reason, sizeof(t->reason), "no syscall tracepoints: tracefs is "
					 "not mounted at /sys/kernel/tracing (mount -t tracefs nodev "
					 "/sys/kernel/tracing)");
			} else if (kind == T_FLOOR_TLS && !cfg.tls) {
				t->available = false;
				snprintf(t->reason, sizeof(t->reason), "only in the https run (--tls): "
					 "over plain HTTP no SSL call runs its uprobes");
			}
		}
		if (kind == T_BPFTRACE) {
			t->argv[0] = "bpftrace";
			t->argv[1] = cfg.peer_script;
			t->argv[2] = "nginx";
			if (!in_path("bpftrace")) {
				t->available = false;
				snprintf(t->reason, sizeof(t->reason),
					 "bpftrace not found (apt-get install bpftrace)");
			} else if (access(cfg.peer_script, R_OK)) {
				t->available = false;
				snprintf(t->reason, sizeof(t->reason), "%.200s: %s", cfg.peer_script,
					 strerror(errno));
			}
		}
	}
	return 0;
}

/* --- summaries ---------------------------------------------------------- */

enum field {
	F_RPS, F_P50, F_P99, F_LOSS, F_P99_CHANGE, F_LOGGED, F_SERVER, F_CLIENT, F_COMPLETE,
	F_DROPS, F_NS_REQ, F_CPU_US_REQ, F_RSS_MB, F_RUNS_REQ, F_ATTACH, F_FOREIGN,
	F_DELIVERY_P50, F_DELIVERY_P99, F_COUNT
};

struct summary {
	int runs, ok;
	double med[F_COUNT], min[F_COUNT], max[F_COUNT];
	bool complete_every_round; /* server records == access log, 0 drops, every round */
	int invariant_checked, invariant_held;
};

static double run_field(const struct run *r, enum field f)
{
	switch (f) {
	case F_RPS: return r->rps;
	case F_P50: return r->p50_us;
	case F_P99: return r->p99_us;
	case F_LOSS: return r->loss_pct;
	case F_P99_CHANGE: return r->p99_change_pct;
	case F_LOGGED: return r->logged >= 0 ? (double)r->logged : NAN;
	case F_SERVER: return r->server_records >= 0 ? (double)r->server_records : NAN;
	case F_CLIENT: return r->client_records >= 0 ? (double)r->client_records : NAN;
	case F_COMPLETE:
		return r->server_records >= 0 && r->logged > 0 ?
			       100.0 * (double)r->server_records / (double)r->logged : NAN;
	case F_DROPS: return r->drops >= 0 ? (double)r->drops : NAN;
	case F_NS_REQ: return r->ns_per_req;
	case F_CPU_US_REQ: return r->cpu_us_per_req;
	case F_RSS_MB: return r->maxrss_kb >= 0 ? r->maxrss_kb / 1024.0 : NAN;
	case F_RUNS_REQ:
		return r->logged > 0 && r->run_cnt ? (double)r->run_cnt / (double)r->logged : NAN;
	case F_ATTACH: return tracers[r->tracer_idx].kind == T_NONE ? NAN : r->attach_s;
	case F_FOREIGN: return r->foreign_cpu_pct;
	case F_DELIVERY_P50: return r->delivery_p50_us;
	case F_DELIVERY_P99: return r->delivery_p99_us;
	default: return NAN;
	}
}

static void summarize(int ti, struct summary *s)
{
	double v[F_COUNT][ROUNDS_MAX];
	int n = 0;

	memset(s, 0, sizeof(*s));
	s->complete_every_round = true;
	for (int i = 0; i < nruns; i++) {
		const struct run *r = &runs[i];

		if (r->tracer_idx != ti)
			continue;
		s->runs++;
		if (r->invariant >= 0) {
			s->invariant_checked++;
			s->invariant_held += r->invariant;
		}
		if (!r->ok) {
			s->complete_every_round = false;
			continue;
		}
		for (int f = 0; f < F_COUNT; f++)
			v[f][n] = run_field(r, (enum field)f);
		if (r->server_records != r->logged || r->drops != 0)
			s->complete_every_round = false;
		n++;
	}
	s->ok = n;
	if (!n)
		s->complete_every_round = false;
	for (int f = 0; f < F_COUNT; f++) {
		s->min[f] = lab_min(v[f], n);
		s->max[f] = lab_max(v[f], n);
		s->med[f] = lab_median(v[f], n);
	}
}

/* The tracer of that kind (T_FLOOR: hook-floor; T_FLOOR_TLS), -1 when it
 * did not run. */
static int kind_tracer(enum tracer_kind kind)
{
	for (int ti = 0; ti < ntracers; ti++)
		if (tracers[ti].kind == kind && tracers[ti].available)
			return ti;
	return -1;
}

/* The run of tracer ti in that round, if it went well; NULL otherwise. */
static const struct run *round_run(int round, int ti)
{
	for (int j = 0; j < nruns; j++)
		if (runs[j].ok && runs[j].round == round && runs[j].tracer_idx == ti)
			return &runs[j];
	return NULL;
}

/* Loss and p99 change against the none run of the same round. */
static void fill_relative(void)
{
	int none = kind_tracer(T_NONE);

	for (int i = 0; i < nruns; i++) {
		struct run *r = &runs[i];
		const struct run *n = r->ok ? round_run(r->round, none) : NULL;

		if (n) {
			r->loss_pct = 100.0 * (1.0 - r->rps / n->rps);
			r->p99_change_pct = 100.0 * (r->p99_us / n->p99_us - 1.0);
		}
	}
}

/* Per-program medians over the rounds of tracer ti: runs per request and ns
 * per run, in the order of the last round's programs. */
struct prog_summary {
	char name[LAB_FUNC_NAME_BYTES];
	double runs_per_req, ns_per_run, ns_per_req;
};

static int summarize_progs(int ti, struct prog_summary *ps, int max)
{
	const struct run *last = NULL;
	int n = 0;

	for (int i = 0; i < nruns; i++)
		if (runs[i].tracer_idx == ti && runs[i].ok && runs[i].nprogs)
			last = &runs[i];
	if (!last)
		return 0;
	for (int p = 0; p < last->nprogs && n < max; p++) {
		double rpr[ROUNDS_MAX], npr[ROUNDS_MAX], nrq[ROUNDS_MAX];
		int k = 0;

		for (int i = 0; i < nruns; i++) {
			const struct run *r = &runs[i];

			if (r->tracer_idx != ti || !r->ok || r->logged <= 0)
				continue;
			/* The same program by position and name. */
			if (p < r->nprogs && !strcmp(r->progs[p].name, last->progs[p].name)) {
				const struct prog_cost *c = &r->progs[p];

				rpr[k] = (double)c->run_cnt / (double)r->logged;
				npr[k] = c->run_cnt ? (double)c->run_time_ns / (double)c->run_cnt : NAN;
				nrq[k] = (double)c->run_time_ns / (double)r->logged;
				k++;
			}
		}
		snprintf(ps[n].name, sizeof(ps[n].name), "%s", last->progs[p].name);
		ps[n].runs_per_req = lab_median(rpr, k);
		ps[n].ns_per_run = lab_median(npr, k);
		ps[n].ns_per_req = lab_median(nrq, k);
		n++;
	}
	return n;
}

static int floor_tracer(void)
{
	return kind_tracer(T_FLOOR);
}

/* Tracer ti's figure f over the floor's (tracer fl) of the same round,
 * median over the rounds where both ran: the tracer's own share. NAN
 * without such a round. */
static double over_floor(int ti, int fl, enum field f)
{
	double d[ROUNDS_MAX];
	int n = 0;

	for (int i = 0; i < nruns && fl >= 0; i++) {
		const struct run *a = &runs[i], *b;
		double x, y;

		if (a->tracer_idx != ti || !a->ok || !(b = round_run(a->round, fl)))
			continue;
		x = run_field(a, f);
		y = run_field(b, f);
		if (!isnan(x) && !isnan(y) && n < ROUNDS_MAX)
			d[n++] = x - y;
	}
	return lab_median(d, n);
}

/* 95 % confidence interval of tracer ti's throughput loss, in % of the
 * none runs' median req/s: the lab's paired t-interval (lab/compare.h) on
 * req/s over the rounds where both ran. The loss's noise on this VM is of
 * the order of the 5 % target: the interval says whether the rounds can
 * tell. lo and hi NAN with fewer than 2 such rounds. */
static void loss_ci(int ti, double *lo, double *hi)
{
	double a[ROUNDS_MAX], b[ROUNDS_MAX];
	int n = 0, none = kind_tracer(T_NONE);
	struct lab_diff d;

	*lo = *hi = NAN;
	for (int i = 0; i < nruns && tracers[ti].kind != T_NONE && n < ROUNDS_MAX; i++) {
		const struct run *r = &runs[i], *o;

		if (r->tracer_idx != ti || !r->ok || !(o = round_run(r->round, none)))
			continue;
		a[n] = o->rps;
		b[n++] = r->rps;
	}
	if (n < 2 || lab_compare_paired(a, b, n, NULL, &d) || isnan(d.ci_low) ||
	    isnan(d.ci_high) || !(d.median_a > 0))
		return;
	*lo = -100.0 * d.ci_high / d.median_a;
	*hi = -100.0 * d.ci_low / d.median_a;
}

/* "; 95 % CI of the mean lo to hi %", or "" without one. */
static const char *loss_ci_text(int ti)
{
	static char bufs[8][96];
	static int next;
	char *b = bufs[next++ % 8];
	double lo, hi;

	loss_ci(ti, &lo, &hi);
	if (isnan(lo))
		return "";
	snprintf(b, 96, "; 95 %% CI of the mean %s to %s %%", lab_fmt_num(lo, 1),
		 lab_fmt_num(hi, 1));
	return b;
}

static const char *met(bool v)
{
	return v ? "**met**" : "**not met**";
}

static bool is_sonde(int ti)
{
	return sonde_kind(tracers[ti].kind);
}

static bool is_floor(int ti)
{
	return tracers[ti].kind == T_FLOOR || tracers[ti].kind == T_FLOOR_SYSCALLS ||
	       tracers[ti].kind == T_FLOOR_TLS;
}

/* Targets of one sonde variant. */
struct verdict {
	bool complete, loss, ns;
};

static struct verdict verdict_of(const struct summary *s)
{
	struct verdict v;

	v.complete = s->ok > 0 && s->complete_every_round;
	v.loss = !isnan(s->med[F_LOSS]) && s->med[F_LOSS] <= TARGET_LOSS_PCT;
	v.ns = !isnan(s->med[F_NS_REQ]) && s->med[F_NS_REQ] <= TARGET_NS_PER_REQ;
	return v;
}

static void cmd_text(const struct tracer *t, char *cmd, size_t len)
{
	cmd[0] = '\0';
	for (int a = 0; t->argv[a]; a++) {
		strncat(cmd, a ? " " : "", len - strlen(cmd) - 1);
		strncat(cmd, t->argv[a], len - strlen(cmd) - 1);
	}
}

static void write_results_json(const char *path)
{
	static const char *fnames[F_COUNT] = {
		"rps", "p50_us", "p99_us", "throughput_loss_pct", "p99_change_pct", "requests_logged",
		"server_records", "client_records", "completeness_pct", "drops", "bpf_ns_per_request",
		"cpu_us_per_request", "peak_rss_mb", "bpf_runs_per_request", "attach_s",
		"others_cpu_pct", "delivery_p50_us", "delivery_p99_us",
	};
	FILE *f = fopen(path, "w");
	struct utsname u;

	if (!f) {
		fprintf(stderr, "bench_http: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	uname(&u);
	fprintf(f, "{\"benchmark\":\"http\",\"kernel\":");
	lab_json_str(f, u.release);
	fprintf(f, ",\"cpus\":%ld,\"loadavg_start\":", sysconf(_SC_NPROCESSORS_ONLN));
	lab_json_str(f, loadavg_start);
	fprintf(f, ",\"loadavg_end\":");
	lab_json_str(f, loadavg_end);
	fprintf(f, ",\"others_running_at_start\":");
	lab_json_str(f, others_start);
	fprintf(f, ",\n\"config\":{\"rounds\":%d,\"duration_s\":%g,\"connections\":%ld,"
		   "\"wrk_threads\":1,\"nginx_cpu\":%ld,\"wrk_cpu\":%ld,\"port\":%d,"
		   "\"tls\":%s,\"nginx_worker_affinity\":",
		cfg.rounds, cfg.duration_s, cfg.connections, cfg.nginx_cpu, cfg.wrk_cpu,
		(int)nginx.port, cfg.tls ? "true" : "false");
	lab_json_str(f, worker_affinity);
	fprintf(f, ",\"bpf_stats\":");
	lab_json_str(f, stats_fd >= 0 ? "enabled" : stats_error);
	fprintf(f, "},\n\"targets\":{\"completeness_pct\":%.0f,\"drops\":0,\"throughput_loss_pct_max\":%.0f,"
		   "\"bpf_ns_per_request_max\":%.0f},\n\"tracers\":[",
		TARGET_COMPLETENESS_PCT, TARGET_LOSS_PCT, TARGET_NS_PER_REQ);
	for (int i = 0; i < ntracers; i++) {
		char cmd[512];

		cmd_text(&tracers[i], cmd, sizeof(cmd));
		fprintf(f, "%s\n {\"name\":\"%s\",\"available\":%s,\"reason\":", i ? "," : "",
			tracers[i].name, tracers[i].available ? "true" : "false");
		lab_json_str(f, tracers[i].reason);
		fprintf(f, ",\"command\":");
		if (cmd[0])
			lab_json_str(f, cmd);
		else
			fprintf(f, "null");
		fprintf(f, "}");
	}
	fprintf(f, "],\n\"summary\":[");
	for (int ti = 0, first = 1; ti < ntracers; ti++) {
		struct summary s;

		if (!tracers[ti].available)
			continue;
		summarize(ti, &s);
		fprintf(f, "%s\n {\"tracer\":\"%s\",\"rounds\":%d,\"rounds_ok\":%d", first ? "" : ",",
			tracers[ti].name, s.runs, s.ok);
		for (int k = 0; k < F_COUNT; k++)
			fprintf(f, ",\"%s\":{\"median\":%s,\"min\":%s,\"max\":%s}", fnames[k],
				lab_json_num_or_null(s.med[k], 3), lab_json_num_or_null(s.min[k], 3),
				lab_json_num_or_null(s.max[k], 3));
		{
			double lo, hi;

			loss_ci(ti, &lo, &hi);
			fprintf(f, ",\"throughput_loss_pct_ci95\":[%s,", lab_json_num_or_null(lo, 2));
			fprintf(f, "%s]", lab_json_num_or_null(hi, 2));
		}
		if (is_sonde(ti)) {
			struct verdict v = verdict_of(&s);
			struct prog_summary ps[RUN_PROGS_MAX];
			int np = summarize_progs(ti, ps, RUN_PROGS_MAX);

			int fl = floor_tracer(), tfl = kind_tracer(T_FLOOR_TLS);

			fprintf(f, ",\"complete_every_round\":%s,\"stats_invariant_held\":%d,"
				   "\"stats_invariant_checked\":%d,\"targets_met\":{\"completeness\":%s,"
				   "\"throughput_loss\":%s,\"bpf_ns_per_request\":%s},"
				   "\"over_floor\":{\"throughput_loss_pct\":%s,\"bpf_ns_per_request\":%s},"
				   "\"over_tls_floor\":{\"throughput_loss_pct\":%s,"
				   "\"bpf_ns_per_request\":%s},\"programs\":[",
				s.complete_every_round ? "true" : "false", s.invariant_held,
				s.invariant_checked, v.complete ? "true" : "false",
				v.loss ? "true" : "false", v.ns ? "true" : "false",
				lab_json_num_or_null(over_floor(ti, fl, F_LOSS), 2),
				lab_json_num_or_null(over_floor(ti, fl, F_NS_REQ), 1),
				lab_json_num_or_null(over_floor(ti, tfl, F_LOSS), 2),
				lab_json_num_or_null(over_floor(ti, tfl, F_NS_REQ), 1));
			for (int p = 0; p < np; p++)
				fprintf(f, "%s{\"name\":\"%s\",\"runs_per_request\":%s,\"ns_per_run\":%s,"
					   "\"ns_per_request\":%s}", p ? "," : "", ps[p].name,
					lab_json_num_or_null(ps[p].runs_per_req, 3),
					lab_json_num_or_null(ps[p].ns_per_run, 1),
					lab_json_num_or_null(ps[p].ns_per_req, 1));
			fprintf(f, "]");
		}
		fprintf(f, "}");
		first = 0;
	}
	fprintf(f, "],\n\"runs\":[");
	for (int i = 0; i < nruns; i++) {
		const struct run *r = &runs[i];

		fprintf(f, "%s\n {\"round\":%d,\"tracer\":\"%s\",\"ok\":%s,\"reason\":", i ? "," : "",
			r->round + 1, tracers[r->tracer_idx].name, r->ok ? "true" : "false");
		lab_json_str(f, r->reason);
		fprintf(f, ",\"rps\":%s,\"p50_us\":%s,\"p99_us\":%s,\"wrk_requests\":%ld,"
			   "\"wrk_socket_errors\":%ld,\"wrk_non2xx\":%ld,\"requests_logged\":%ld,"
			   "\"server_records\":%ld,\"client_records\":%ld,\"produced\":%ld,"
			   "\"delivered\":%ld,\"filtered\":%ld,\"drops\":%ld,\"http_records\":%ld,"
			   "\"stats_invariant_ok\":%s,\"dropped\":",
			lab_json_num_or_null(r->rps, 1), lab_json_num_or_null(r->p50_us, 1),
			lab_json_num_or_null(r->p99_us, 1), r->wrk_requests, r->wrk_errors,
			r->wrk_non2xx, r->logged, r->server_records, r->client_records, r->produced,
			r->delivered, r->filtered, r->drops, r->http_records,
			r->invariant < 0 ? "null" : r->invariant ? "true" : "false");
		lab_json_str(f, r->drops_text);
		fprintf(f, ",\"partial\":");
		lab_json_str(f, r->partial_text);
		fprintf(f, ",\"lost\":%ld,\"bpf_run_time_ns\":%llu,\"bpf_run_cnt\":%llu,"
			   "\"bpf_ns_per_request\":%s,\"cpu_ms\":%s,\"cpu_us_per_request\":%s,"
			   "\"cpu_total_ms\":%s,\"peak_rss_kb\":%ld,\"throughput_loss_pct\":%s,"
			   "\"p99_change_pct\":%s,\"attach_s\":%s,\"others_cpu_pct\":%s,"
			   "\"exit_code\":%d,\"programs\":[",
			r->lost, (unsigned long long)r->run_time_ns, (unsigned long long)r->run_cnt,
			lab_json_num_or_null(r->ns_per_req, 1), lab_json_num_or_null(r->cpu_ms, 1),
			lab_json_num_or_null(r->cpu_us_per_req, 3),
			lab_json_num_or_null(r->cpu_total_ms, 1), r->maxrss_kb,
			lab_json_num_or_null(r->loss_pct, 2), lab_json_num_or_null(r->p99_change_pct, 2),
			lab_json_num_or_null(tracers[r->tracer_idx].kind == T_NONE ? NAN : r->attach_s, 2),
			lab_json_num_or_null(r->foreign_cpu_pct, 1), r->exit_code);
		for (int p = 0; p < r->nprogs; p++)
			fprintf(f, "%s{\"name\":\"%s\",\"run_time_ns\":%llu,\"run_cnt\":%llu}",
				p ? "," : "", r->progs[p].name,
				(unsigned long long)r->progs[p].run_time_ns,
				(unsigned long long)r->progs[p].run_cnt);
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
	fclose(f);
}

/* "median (min–max)" of a summary field. */
static const char *mmm(const struct summary *s, enum field f, int prec)
{
	static char bufs[32][96];
	static int next;
	char *b = bufs[next++ % 32];

	if (isnan(s->med[f]))
		return "n/a";
	snprintf(b, 96, "%s (%s–%s)", lab_fmt_num(s->med[f], prec), lab_fmt_num(s->min[f], prec),
		 lab_fmt_num(s->max[f], prec));
	return b;
}

/* The hooks' floors, and each sonde variant over the floor of its hook. */
static void write_floor(FILE *f)
{
	int fl = floor_tracer(), tfl = kind_tracer(T_FLOOR_TLS);
	struct summary s;

	if (tfl >= 0) {
		summarize(tfl, &s);
		fprintf(f, "\n**The TLS hooks' floor** (`%s`: the empty program on sys_exit, and "
			   "empty uprobes at the entry and the return of the SSL functions sonde http "
			   "hooks in the system's libssl, planned as sonde plans them): throughput "
			   "loss %s %%%s, %s ns per request in BPF (%s runs per request; the uprobes' "
			   "traps are not BPF time, they show in the loss). Each sonde variant over it, "
			   "per round (median):\n\n", tracers[tfl].name, mmm(&s, F_LOSS, 1),
			loss_ci_text(tfl), mmm(&s, F_NS_REQ, 0), lab_fmt_num(s.med[F_RUNS_REQ], 2));
		fprintf(f, "| tracer | loss %% over the TLS floor | ns/req over the TLS floor |\n"
			   "|---|---|---|\n");
		for (int ti = 0; ti < ntracers; ti++)
			if (is_sonde(ti) && tracers[ti].available)
				fprintf(f, "| %s | %s | %s |\n", tracers[ti].name,
					lab_fmt_num(over_floor(ti, tfl, F_LOSS), 1),
					lab_fmt_num(over_floor(ti, tfl, F_NS_REQ), 0));
	}

	for (int ti = 0; ti < ntracers; ti++) {
		if (tracers[ti].kind != T_FLOOR_SYSCALLS || !tracers[ti].available)
			continue;
		summarize(ti, &s);
		fprintf(f, "\n**The other hook's floor** (`%s`: an empty BPF program on the exit "
			   "tracepoint of each syscall sonde http reads, syscalls:sys_exit_*; only "
			   "those syscalls run it): throughput loss %s %%%s, %s ns per request in BPF "
			   "(%s runs per request).\n", tracers[ti].name, mmm(&s, F_LOSS, 1),
			loss_ci_text(ti), mmm(&s, F_NS_REQ, 0), lab_fmt_num(s.med[F_RUNS_REQ], 2));
	}
	if (fl < 0)
		return;
	summarize(fl, &s);
	fprintf(f, "\n**The hook's floor** (`hook-floor`: an empty BPF program on sys_exit, the "
		   "hook of sonde http, doing nothing; every syscall on the machine runs it): "
		   "throughput loss %s %%%s, %s ns per request in BPF (%s runs per request), %s µs "
		   "of its own CPU per request. Any tracer on this hook pays this before it does any "
		   "work; sonde's own share is the rest, per round against the floor's run of the "
		   "same round (median):\n\n",
		mmm(&s, F_LOSS, 1), loss_ci_text(fl), mmm(&s, F_NS_REQ, 0),
		lab_fmt_num(s.med[F_RUNS_REQ], 2),
		lab_fmt_num(s.med[F_CPU_US_REQ], 2));
	fprintf(f, "| tracer | loss %% over the floor | ns/req over the floor |\n|---|---|---|\n");
	for (int ti = 0; ti < ntracers; ti++)
		if (is_sonde(ti) && tracers[ti].available)
			fprintf(f, "| %s | %s | %s |\n", tracers[ti].name,
				lab_fmt_num(over_floor(ti, fl, F_LOSS), 1),
				lab_fmt_num(over_floor(ti, fl, F_NS_REQ), 0));
}

static void write_report(const char *path)
{
	FILE *f = fopen(path, "w");
	struct utsname u;
	char model[128];
	double load1 = strtod(loadavg_start, NULL);
	bool any_sonde = false;

	if (!f) {
		fprintf(stderr, "bench_http: cannot write %s: %s\n", path, strerror(errno));
		return;
	}
	uname(&u);
	lab_sysinfo_cpu_model(model, sizeof(model));
	fprintf(f, "# sonde HTTP benchmark\n\n");
	fprintf(f, "Kernel %s, %ld CPUs (%s), load average at start %s, at end %s.\n",
		u.release, sysconf(_SC_NPROCESSORS_ONLN), model, loadavg_start, loadavg_end);
	if (load1 > LOAD_CONTENTION)
		fprintf(f, "\n**Contention**: the 1-minute load average at start was %.2f (above "
			   "%.1f): others were using the CPUs. Figures may carry their noise; the "
			   "interleaved rounds spread it over every tracer alike.\n", load1,
			LOAD_CONTENTION);
	if (others_start[0])
		fprintf(f, "\nOther processes running at start (not the harness's): %s.\n",
			others_start);
	{
		int noisy = 0, ran = 0;

		for (int i = 0; i < nruns; i++) {
			if (isnan(runs[i].foreign_cpu_pct))
				continue;
			ran++;
			noisy += runs[i].foreign_cpu_pct > FOREIGN_CPU_PCT_NOISY;
		}
		if (noisy) {
			fprintf(f, "\n**Contention**: in %d of %d runs other processes used more than "
				   "%.0f %% of the CPUs during the load (see *others' CPU %%*):", noisy, ran,
				FOREIGN_CPU_PCT_NOISY);
			for (int i = 0; i < nruns; i++)
				if (runs[i].foreign_cpu_pct > FOREIGN_CPU_PCT_NOISY)
					fprintf(f, " round %d %s %.0f %%;", runs[i].round + 1,
						tracers[runs[i].tracer_idx].name, runs[i].foreign_cpu_pct);
			fprintf(f, " their syscalls also run the tracers' programs, so they inflate "
				   "ns/req too. Rerun on a quiet machine for figures to trust.\n");
		}
	}
	fprintf(f, "\nnginx 1 worker (affinity: CPU %s), %skeep-alive, sendfile on, a %d-byte static "
		   "page on 127.0.0.1:%d; `wrk -t1 -c%ld -d%gs --latency` (saturation, closed loop) "
		   "%s. %d rounds, every tracer once per round, in a balanced order (each after each other equally often). Figures are medians "
		   "over the rounds that ran, (min–max) in brackets.\n\n",
		worker_affinity[0] ? worker_affinity : "?",
		cfg.tls ? "HTTPS (TLS, self-signed certificate; sonde sees the plaintext through its "
			  "SSL uprobes), " : "", (int)LAB_NGINX_PAGE_BYTES, (int)nginx.port,
		cfg.connections,
		cfg.duration_s,
		cfg.wrk_cpu >= 0 ? (cfg.wrk_cpu == 1 ? "pinned to CPU 1" : "pinned") : "not pinned",
		cfg.rounds);
	fprintf(f, "- **requests**: lines nginx wrote to its access log during the run (ground "
		   "truth). **req/s**, **p50/p99**: wrk's.\n"
		   "- **loss %%** and **p99 Δ %%**: against the `none` run of the same round, median "
		   "of the per-round figures.\n"
		   "- **complete %%**: sonde's `\"side\":\"server\"` records against requests; "
		   "**drops**: the sum of its stats record's `dropped` counters.\n"
		   "- **ns/req**: BPF run time (BPF_ENABLE_STATS) of all the tracer's programs "
		   "during the wrk run, divided by requests; every process's syscalls on the machine "
		   "run those programs, wrk's and the tracer's own included.\n"
		   "- **CPU µs/req**: CPU time of the tracer's processes (their CPU clocks: all threads, exited ones included) "
		   "from the start of wrk until its output stopped growing, per request. **RSS**: "
		   "its peak resident set (wait4).\n"
		   "- **others' CPU %%**: CPU the machine spent busy during wrk (/proc/stat) minus "
		   "that of nginx, wrk and the tracer, in %% of all %ld CPUs: others' load, the "
		   "noise in these figures (a few %% of it is interrupt time not charged to any "
		   "task).\n\n", sysconf(_SC_NPROCESSORS_ONLN));
	if (stats_fd < 0)
		fprintf(f, "BPF run-time statistics unavailable: %s\n\n", stats_error);

	fprintf(f, "| tracer | rounds ok | req/s | loss %% | p50 µs | p99 µs | p99 Δ %% | requests | "
		   "server records | complete %% | drops | ns/req (kernel) | CPU µs/req | RSS MB | others' CPU %% |\n");
	fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int ti = 0; ti < ntracers; ti++) {
		struct summary s;

		if (!tracers[ti].available) {
			fprintf(f, "| %s | unavailable: %s ||||||||||||||\n", tracers[ti].name,
				tracers[ti].reason);
			continue;
		}
		summarize(ti, &s);
		if (tracers[ti].kind == T_NONE) {
			fprintf(f, "| none | %d/%d | %s | – | %s | %s | – | %s | – | – | – | – | – | – | %s |\n",
				s.ok, s.runs, mmm(&s, F_RPS, 0), mmm(&s, F_P50, 0), mmm(&s, F_P99, 0),
				mmm(&s, F_LOGGED, 0), mmm(&s, F_FOREIGN, 1));
			continue;
		}
		fprintf(f, "| %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			tracers[ti].name, s.ok, s.runs, mmm(&s, F_RPS, 0), mmm(&s, F_LOSS, 1),
			mmm(&s, F_P50, 0), mmm(&s, F_P99, 0), mmm(&s, F_P99_CHANGE, 1),
			mmm(&s, F_LOGGED, 0), is_sonde(ti) ? mmm(&s, F_SERVER, 0) : "–",
			is_sonde(ti) ? mmm(&s, F_COMPLETE, 2) : "–",
			is_sonde(ti) ? mmm(&s, F_DROPS, 0) : "–", mmm(&s, F_NS_REQ, 0),
			mmm(&s, F_CPU_US_REQ, 2), mmm(&s, F_RSS_MB, 1), mmm(&s, F_FOREIGN, 1));
	}
	fprintf(f, "\n");
	for (int ti = 0; ti < ntracers; ti++) {
		if (tracers[ti].kind == T_BPFTRACE && tracers[ti].available) {
			long lost = 0;
			int with = 0;

			for (int i = 0; i < nruns; i++)
				if (runs[i].tracer_idx == ti && runs[i].ok && runs[i].lost > 0) {
					lost += runs[i].lost;
					with++;
				}
			fprintf(f, "%s (capture only, no HTTP logic) reported %ld lost events in %d "
				   "run(s).\n\n", tracers[ti].name, lost, with);
		}
	}

	fprintf(f, "## Targets\n\n");
	fprintf(f, "1. Completeness: every request nginx logged has a server record, with 0 drops, "
		   "at saturation, in every round.\n"
		   "2. Throughput loss at most %.0f %% against no tracer (median of per-round ratios).\n"
		   "3. In-kernel time at most %.0f ns (%.0f µs) per keep-alive request.\n\n",
		TARGET_LOSS_PCT, TARGET_NS_PER_REQ, TARGET_NS_PER_REQ / 1000);
	fprintf(f, "| tracer | 1. completeness | 2. throughput loss | 3. in-kernel ns/req |\n"
		   "|---|---|---|---|\n");
	for (int ti = 0; ti < ntracers; ti++) {
		struct summary s;
		struct verdict v;
		double worst = NAN;

		if (!is_sonde(ti))
			continue;
		any_sonde = true;
		if (!tracers[ti].available) {
			fprintf(f, "| %s | not run: %s | | |\n", tracers[ti].name, tracers[ti].reason);
			continue;
		}
		summarize(ti, &s);
		v = verdict_of(&s);
		worst = s.min[F_COMPLETE];
		fprintf(f, "| %s | %s: worst round %s %%, drops max %s, %d/%d rounds ok | %s: %s %% "
			   "(%s–%s%s) | %s: %s ns (%s–%s) |\n",
			tracers[ti].name, met(v.complete), lab_fmt_num(worst, 3),
			lab_fmt_num(s.max[F_DROPS], 0), s.ok, s.runs, met(v.loss),
			lab_fmt_num(s.med[F_LOSS], 1), lab_fmt_num(s.min[F_LOSS], 1),
			lab_fmt_num(s.max[F_LOSS], 1), loss_ci_text(ti), met(v.ns),
			lab_fmt_num(s.med[F_NS_REQ], 0),
			lab_fmt_num(s.min[F_NS_REQ], 0), lab_fmt_num(s.max[F_NS_REQ], 0));
	}
	if (!any_sonde)
		fprintf(f, "| (no sonde variant asked for) | | | |\n");
	write_floor(f);

	fprintf(f, "\n## Where the time goes\n\n"
		   "Per BPF program of each sonde variant and of the hook's floor: runs per request, "
		   "ns per run and ns per request (medians over rounds).\n\n");
	for (int ti = 0; ti < ntracers; ti++) {
		struct prog_summary ps[RUN_PROGS_MAX];
		int np;

		if ((!is_sonde(ti) && !is_floor(ti)) || !tracers[ti].available)
			continue;
		np = summarize_progs(ti, ps, RUN_PROGS_MAX);
		fprintf(f, "**%s** (`", tracers[ti].name);
		for (int a = 0; tracers[ti].argv[a]; a++) {
			const char *slash = strrchr(tracers[ti].argv[a], '/');

			/* the program's name, not the build directory's */
			fprintf(f, "%s%s", a ? " " : "",
				a == 0 && slash ? slash + 1 : tracers[ti].argv[a]);
		}
		fprintf(f, "`)\n\n");
		if (!np) {
			fprintf(f, "No program figures (no run succeeded or statistics unavailable).\n\n");
			continue;
		}
		{
			double total = 0;
			int idle = 0;

			fprintf(f, "| program | runs/req | ns/run | ns/req |\n|---|---|---|---|\n");
			for (int p = 0; p < np; p++) {
				if (isnan(ps[p].ns_per_req) || ps[p].ns_per_req < PROG_SHOWN_NS_PER_REQ) {
					idle++;
					continue;
				}
				total += ps[p].ns_per_req;
				fprintf(f, "| %s | %s | %s | %s |\n", ps[p].name,
					lab_fmt_num(ps[p].runs_per_req, 2),
					lab_fmt_num(ps[p].ns_per_run, 0),
					lab_fmt_num(ps[p].ns_per_req, 0));
			}
			fprintf(f, "| **sum of the above** | | | **%.0f** |\n\n", total);
			if (idle) {
				fprintf(f, "Below %.1f ns per request (hardly hit by this workload):",
					PROG_SHOWN_NS_PER_REQ);
				for (int p = 0, k = 0; p < np; p++)
					if (isnan(ps[p].ns_per_req) ||
					    ps[p].ns_per_req < PROG_SHOWN_NS_PER_REQ)
						fprintf(f, "%s %s", k++ ? "," : "", ps[p].name);
				fprintf(f, ".\n\n");
			}
		}
	}

	fprintf(f, "## Accounting\n\n");
	for (int ti = 0; ti < ntracers; ti++) {
		struct summary s;

		if (!is_sonde(ti) || !tracers[ti].available)
			continue;
		summarize(ti, &s);
		fprintf(f, "- %s: produced == delivered + filtered + Σ dropped held in %d of %d runs; "
			   "client records (wrk's side) median %s; delivery (kernel event to record "
			   "emitted) p50 %s µs (%s–%s), p99 %s µs (%s–%s).\n", tracers[ti].name,
			s.invariant_held, s.invariant_checked,
			tracers[ti].kind != T_SONDE_PID ? lab_fmt_num(s.med[F_CLIENT], 0)
							 : "– (not traced)",
			lab_fmt_num(s.med[F_DELIVERY_P50], 0), lab_fmt_num(s.min[F_DELIVERY_P50], 0),
			lab_fmt_num(s.max[F_DELIVERY_P50], 0), lab_fmt_num(s.med[F_DELIVERY_P99], 0),
			lab_fmt_num(s.min[F_DELIVERY_P99], 0), lab_fmt_num(s.max[F_DELIVERY_P99], 0));
	}
	for (int i = 0; i < nruns; i++) {
		const struct run *r = &runs[i];

		if (r->invariant == 0)
			fprintf(f, "- broken: round %d, %s: produced %ld, delivered %ld, filtered %ld, "
				   "dropped %ld (%s)\n", r->round + 1, tracers[r->tracer_idx].name,
				r->produced, r->delivered, r->filtered, r->drops, r->drops_text);
		if (r->ok && is_sonde(r->tracer_idx) &&
		    (r->server_records != r->logged || r->drops > 0))
			fprintf(f, "- round %d, %s: %ld server records for %ld requests, drops %ld "
				   "(%s), partial {%s}\n", r->round + 1, tracers[r->tracer_idx].name,
				r->server_records, r->logged, r->drops, r->drops_text, r->partial_text);
	}

	fprintf(f, "\n## Failed runs\n\n");
	{
		int any = 0;

		for (int ti = 0; ti < ntracers; ti++)
			if (!tracers[ti].available) {
				fprintf(f, "- %s not run: %s\n", tracers[ti].name, tracers[ti].reason);
				any = 1;
			}
		for (int i = 0; i < nruns; i++) {
			if (runs[i].ok && !runs[i].wrk_errors && !runs[i].wrk_non2xx)
				continue;
			any = 1;
			if (!runs[i].ok)
				fprintf(f, "- round %d, %s: %s\n", runs[i].round + 1,
					tracers[runs[i].tracer_idx].name, runs[i].reason);
			else
				fprintf(f, "- round %d, %s: wrk saw %ld socket errors and %ld non-2xx "
					   "responses\n", runs[i].round + 1,
					tracers[runs[i].tracer_idx].name, runs[i].wrk_errors,
					runs[i].wrk_non2xx);
		}
		if (!any)
			fprintf(f, "No run failed; wrk saw no socket error and no non-2xx response.\n");
	}
	fclose(f);
}

static const char usage_text[] =
	"Usage: bench_http --build DIR --out DIR [options]\n"
	"\n"
	"Benchmark HTTP tracers on nginx at saturation (wrk); write DIR/results.json,\n"
	"DIR/report.md and DIR/system_info.txt. Normally run through `make bench-http`\n"
	"(scripts/bench-http.sh).\n"
	"\n"
	"  --rounds N          rounds (default 5)\n"
	"  --duration S        seconds of wrk per run (default 5)\n"
	"  --connections N     wrk connections (default 50)\n"
	"  --tracers LIST      default none,sonde,sonde-server-only,sonde-sharded,bpftrace-peer,\n"
	"                      hook-floor,hook-floor-syscalls (sonde-sharded: --ring-shards\n"
	"                      <CPUs online>, a ring per CPU; hook-floor: an empty program on\n"
	"                      sonde's hook, its floor; hook-floor-syscalls: empty programs on\n"
	"                      the syscalls' own exit tracepoints; with --tls also\n"
	"                      hook-floor-tls: hook-floor and empty uprobes on the SSL\n"
	"                      functions sonde hooks; also sonde-exported-hooks:\n"
	"                      --tls-hooks exported)\n"
	"  --nginx-cpu N       pin nginx's worker to CPU N, -1 for none (default 0)\n"
	"  --wrk-cpu N         pin wrk to CPU N, -1 for none (default 1)\n"
	"  --peer-script PATH  the bpftrace peer (default " DEFAULT_PEER_SCRIPT ")\n"
	"  --attach-timeout S  seconds a tracer may take to attach (default 20)\n"
	"  --keep-raw          keep every tracer's full output under DIR/runs\n"
	"  --strict            exit 1 when sonde misses a target\n"
	"  --tls               nginx over HTTPS (wrk https://)\n"
	"\n"
	"EXAMPLES\n"
	"  bench_http --build build --out bench-results/http/now\n"
	"  bench_http --build build --out /tmp/x --rounds 1 --duration 2 --tracers none,sonde\n";

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "build", required_argument, NULL, 'b' },
		{ "out", required_argument, NULL, 'o' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "connections", required_argument, NULL, 'C' },
		{ "tracers", required_argument, NULL, 't' },
		{ "nginx-cpu", required_argument, NULL, 'N' },
		{ "wrk-cpu", required_argument, NULL, 'W' },
		{ "peer-script", required_argument, NULL, 'p' },
		{ "attach-timeout", required_argument, NULL, 'a' },
		{ "keep-raw", no_argument, NULL, 'k' },
		{ "strict", no_argument, NULL, 's' },
		{ "tls", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), v;
	bool tracers_given = false;
	int c;

	cfg.rounds = DEFAULT_ROUNDS;
	cfg.duration_s = DEFAULT_DURATION_S;
	cfg.connections = DEFAULT_CONNECTIONS;
	cfg.nginx_cpu = ncpu > 1 ? DEFAULT_NGINX_CPU : -1;
	cfg.wrk_cpu = ncpu > 1 ? DEFAULT_WRK_CPU : -1;
	cfg.attach_timeout_s = DEFAULT_ATTACH_TIMEOUT_S;
	snprintf(cfg.peer_script, sizeof(cfg.peer_script), "%s", DEFAULT_PEER_SCRIPT);
	snprintf(cfg.tracer_list, sizeof(cfg.tracer_list), "%s",
		 "none,sonde,sonde-server-only,sonde-sharded,bpftrace-peer,hook-floor,"
		 "hook-floor-syscalls");
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			snprintf(cfg.build, sizeof(cfg.build), "%s", optarg);
			break;
		case 'o':
			snprintf(cfg.out, sizeof(cfg.out), "%s", optarg);
			break;
		case 'n':
			if (cli_parse_long(optarg, 1, ROUNDS_MAX, &v)) {
				fprintf(stderr, "bench_http: --rounds wants 1..%d, not '%s'\n", ROUNDS_MAX, optarg);
				return -EINVAL;
			}
			cfg.rounds = (int)v;
			break;
		case 'd':
			if (cli_parse_seconds(optarg, &cfg.duration_s) || cfg.duration_s < 1) {
				fprintf(stderr, "bench_http: --duration wants seconds >= 1, not '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'C':
			if (cli_parse_long(optarg, 1, 10000, &cfg.connections)) {
				fprintf(stderr, "bench_http: --connections wants 1..10000\n");
				return -EINVAL;
			}
			break;
		case 't':
			snprintf(cfg.tracer_list, sizeof(cfg.tracer_list), "%s", optarg);
			tracers_given = true;
			break;
		case 'N':
		case 'W':
			if (cli_parse_long(optarg, -1, ncpu - 1, &v)) {
				fprintf(stderr, "bench_http: --%s wants a CPU number below %ld, or -1\n",
					c == 'N' ? "nginx-cpu" : "wrk-cpu", ncpu);
				return -EINVAL;
			}
			*(c == 'N' ? &cfg.nginx_cpu : &cfg.wrk_cpu) = v;
			break;
		case 'T':
			cfg.tls = true;
			break;
		case 'p':
			snprintf(cfg.peer_script, sizeof(cfg.peer_script), "%s", optarg);
			break;
		case 'a':
			if (cli_parse_seconds(optarg, &cfg.attach_timeout_s) || cfg.attach_timeout_s <= 0) {
				fprintf(stderr, "bench_http: --attach-timeout wants seconds > 0\n");
				return -EINVAL;
			}
			break;
		case 'k':
			cfg.keep_raw = true;
			break;
		case 's':
			cfg.strict = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fputs(usage_text, stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || !cfg.build[0] || !cfg.out[0]) {
		fprintf(stderr, "bench_http: --build and --out are required; see --help\n");
		return -EINVAL;
	}
	/* the https run's default list has the TLS hooks' floor too */
	if (cfg.tls && !tracers_given)
		snprintf(cfg.tracer_list + strlen(cfg.tracer_list),
			 sizeof(cfg.tracer_list) - strlen(cfg.tracer_list), ",hook-floor-tls");
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const tools[][2] = {
		{ "nginx", "nginx -v 2>&1" },
		{ "wrk", "wrk --version 2>&1 | head -1" },
		{ "bpftrace", "bpftrace --version 2>/dev/null" },
		{ "sonde", "git rev-parse --short HEAD 2>/dev/null" },
		{ NULL, NULL },
	};
	char path[LAB_PATH_BYTES], msg[LAB_REASON_BYTES];
	int order[TRACERS_MAX], nactive = 0, total, done = 0, status = 0;
	uint64_t t_start;

	if (parse_args(argc, argv))
		return 2;
	if (!in_path("nginx") || !in_path("wrk") || (cfg.wrk_cpu >= 0 && !in_path("taskset"))) {
		fprintf(stderr, "bench_http: needs nginx, wrk and taskset in PATH "
				"(apt-get install nginx wrk util-linux)\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/runs", cfg.out);
	if ((mkdir(cfg.out, 0755) && errno != EEXIST) || (mkdir(path, 0755) && errno != EEXIST)) {
		fprintf(stderr, "bench_http: cannot create %s: %s\n", path, strerror(errno));
		return 2;
	}
	/* Every process group started is killed on Ctrl-C and at exit, and
	 * nginx's directory removed. */
	lab_install_cleanup(lab_nginx_cleanup);
	/* Held open for the whole benchmark: run-time statistics stay on while
	 * this fd lives, and go off again when the harness exits. */
	stats_fd = lab_bpf_stats_enable(stats_error, sizeof(stats_error));
	if (tracers_setup())
		return 2;
	lab_sysinfo_loadavg(loadavg_start, sizeof(loadavg_start));
	others_running(others_start, sizeof(others_start));
	snprintf(path, sizeof(path), "%s/system_info.txt", cfg.out);
	lab_sysinfo_write(path, tools);

	if (nginx_start(msg, sizeof(msg))) {
		fprintf(stderr, "bench_http: %s\n", msg);
		return 2;
	}
	fprintf(stderr, "bench_http: nginx on 127.0.0.1:%d, worker pid %d on CPU %s; %s\n",
		(int)nginx.port, (int)nginx.worker, worker_affinity, nginx.dir);
	if (others_start[0])
		fprintf(stderr, "bench_http: also running on this machine: %s (load %s)\n",
			others_start, loadavg_start);

	for (int i = 0; i < ntracers; i++) {
		if (tracers[i].available)
			order[nactive++] = i;
		else
			fprintf(stderr, "bench_http: %s not run: %s\n", tracers[i].name, tracers[i].reason);
	}
	runs = calloc((size_t)(cfg.rounds * nactive) + 1, sizeof(*runs));
	if (!runs) {
		fprintf(stderr, "bench_http: out of memory\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/runs/warmup.wrk", cfg.out);
	wrk_run(NULL, WARMUP_S, path, "/dev/null");

	total = cfg.rounds * nactive;
	t_start = lab_now_ns();
	for (int round = 0; round < cfg.rounds; round++) {
		for (int k = 0; k < nactive; k++) {
			/* A balanced order: each tracer runs right after each
			 * other one equally often. */
			int ti = order[lab_bench_order(nactive, round, k)];
			struct run *r = &runs[nruns++];
			double elapsed;

			r->round = round;
			r->tracer_idx = ti;
			snprintf(r->label, sizeof(r->label), "r%d-%s", round + 1, tracers[ti].name);
			run_one(r);
			done++;
			elapsed = (double)(lab_now_ns() - t_start) / LAB_NS_PER_SEC;
			fprintf(stderr, "[round %d/%d, %3.0f s, ~%.0f s left] %-18s ", round + 1,
				cfg.rounds, elapsed, elapsed / done * (total - done), tracers[ti].name);
			if (!r->ok)
				fprintf(stderr, "FAILED: %s\n", r->reason);
			else if (!sonde_kind(tracers[ti].kind))
				fprintf(stderr, "%.0f req/s, p99 %.0f us, %ld requests, %s ns/req, "
					"lost %ld\n", r->rps, r->p99_us, r->logged,
					lab_fmt_num(r->ns_per_req, 0), r->lost < 0 ? 0 : r->lost);
			else
				fprintf(stderr, "%.0f req/s, p99 %.0f us, %ld/%ld server records, drops "
					"%ld, %s ns/req, %s us CPU/req\n", r->rps, r->p99_us,
					r->server_records, r->logged, r->drops,
					lab_fmt_num(r->ns_per_req, 0), lab_fmt_num(r->cpu_us_per_req, 2));
		}
	}
	lab_nginx_stop(&nginx);
	lab_sysinfo_loadavg(loadavg_end, sizeof(loadavg_end));
	fill_relative();
	snprintf(path, sizeof(path), "%s/results.json", cfg.out);
	write_results_json(path);
	snprintf(path, sizeof(path), "%s/report.md", cfg.out);
	write_report(path);
	if (stats_fd >= 0)
		close(stats_fd);
	if (cfg.strict) {
		for (int ti = 0; ti < ntracers; ti++) {
			struct summary s;
			struct verdict v;

			if (!is_sonde(ti))
				continue;
			summarize(ti, &s);
			v = verdict_of(&s);
			if (!v.complete || !v.loss || !v.ns)
				status = 1;
		}
	}
	return status;
}
