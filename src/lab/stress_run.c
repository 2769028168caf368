/* The runner of `sonde stress` (see stress.h): starts the target and the
 * tracer, then runs each phase as steps of constant offered load. The load
 * generator runs in a thread while this one samples, twice a second, the
 * requests the target answered, what the tracer wrote (read incrementally,
 * every line parsed), its drops (sonde: an interim stats record asked for
 * with SIGUSR1), its CPU and RSS, and injects the faults at their time. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "lab/loadgen.h"
#include "lab/report_text.h"
#include "lab/stress.h"
#include "lab/stress_clients.h"
#include "lab/stress_memcg.h"
#include "lab/sysinfo.h"
#include "lab/tracer_output.h"
#include "lab/tracer_proc.h"

#define LOAD_TIMEOUT_MS 5000u
#define LOAD_DRAIN_MS 2000u
/* A tracer's output is caught up once it has not grown for this long. */
#define DRAIN_POLL_MS 25
#define DRAIN_STABLE_MS 200
#define DRAIN_MAX_MS 3000
/* sonde's stats record (SIGUSR1) must show up within this. */
#define STATS_WAIT_MS 3000
/* Load before a fault starts, seconds. */
#define FAULT_LEAD_S 1.0
/* Killed instance: its programs and links must be gone within this. */
#define GONE_TIMEOUT_MS 5000
#define GONE_POLL_MS 10
/* What a kill and restart usually take here: up to ~2 s for the kernel to
 * free the programs (an RCU grace period, under load), ~0.5 s to attach. */
#define KILL_ALLOWANCE_S 3.0
/* Misbehaving client threads per fault. */
#define CLIENT_THREADS 4
/* Ramp-down: fractions of the working rate. */
static const double ramp_down_fracs[] = { 0.5, 0.25, 0.1 };
#define SAMPLES_INITIAL 256
/* Events binned by their request's own time (ts_ns, CLOCK_MONOTONIC like the
 * lab's clock), so a window's capture does not depend on when the tracer
 * flushed: 1 ms bins, 4 bytes each (2.4 MB for 10 minutes). */
#define BIN_NS 1000000ull
#define BINS_INITIAL 65536
#define PARTIAL_LINE_MAX (1 << 20)

/* --- the tracer's output, read as it grows ------------------------------ */

struct bins {
	uint64_t t0_ns;
	uint32_t *n;
	size_t len;
	long dropped;  /* could not grow: counted, the timeline says so */
};

static void bins_add(struct bins *b, uint64_t ts_ns)
{
	size_t i = ts_ns > b->t0_ns ? (size_t)((ts_ns - b->t0_ns) / BIN_NS) : 0;

	if (i >= b->len) {
		size_t len = b->len ? b->len : BINS_INITIAL;
		uint32_t *p;

		while (len <= i)
			len *= 2;
		p = realloc(b->n, len * sizeof(*p));
		if (!p) {
			b->dropped++;
			return;
		}
		memset(p + b->len, 0, (len - b->len) * sizeof(*p));
		b->n = p;
		b->len = len;
	}
	b->n[i]++;
}

struct tail {
	char path[LAB_PATH_BYTES];
	struct bins *bins;      /* NULL: records carry no time (command tracers) */
	long off;
	char *partial;          /* a line not ended yet */
	size_t plen, pcap;
	bool sonde;             /* JSON lines to parse; otherwise lines are counted */
	uint16_t port;
	double events;          /* sonde: complete 2xx server records of port; else lines */
	double partial_records; /* sonde: server records of port that are incomplete or lack a status */
	double drops;           /* Σ dropped of the last stats record */
	struct lab_stress_reason reasons[LAB_STRESS_REASONS_MAX];
	int nreasons;
	long stats_seen;
	bool last_final_ok;     /* the last non-interim stats record balanced */
	bool final_seen;
	long lines, bad_lines, stats_bad;
	char first_bad[160];
};

/* A server record of the target's port: 1 when complete with a 2xx status
 * (a capture), -1 when partial (incomplete, or no status: a head that was
 * not captured, a parse error), 0 otherwise. */
static int server_record_kind(json_t *o, uint16_t port)
{
	json_t *st = json_object_get(o, "status"), *lp = json_object_get(o, "lport");
	const char *side = json_string_value(json_object_get(o, "side"));

	if (!side || strcmp(side, "server") || !json_is_integer(lp) || json_integer_value(lp) != port)
		return 0;
	if (json_is_true(json_object_get(o, "incomplete")) || !json_is_integer(st) ||
	    json_integer_value(st) == 0)
		return -1;
	return json_integer_value(st) >= 200 && json_integer_value(st) < 300;
}

static void tail_stats(struct tail *t, json_t *o)
{
	json_t *dropped = json_object_get(o, "dropped"), *v;
	const char *key;
	double sum = 0;
	bool interim = json_is_true(json_object_get(o, "interim"));
	double produced = json_number_value(json_object_get(o, "produced"));
	double delivered = json_number_value(json_object_get(o, "delivered"));
	double filtered = json_number_value(json_object_get(o, "filtered"));

	t->nreasons = 0;
	json_object_foreach(dropped, key, v) {
		sum += json_number_value(v);
		if (t->nreasons < LAB_STRESS_REASONS_MAX) {
			snprintf(t->reasons[t->nreasons].name, LAB_STRESS_REASON_NAME_BYTES, "%s", key);
			t->reasons[t->nreasons++].n = json_number_value(v);
		}
	}
	t->drops = sum;
	t->stats_seen++;
	if (!interim) {
		/* only the closing record balances exactly: an interim one is
		 * taken while the ring buffer may still hold events */
		t->final_seen = true;
		t->last_final_ok = produced == delivered + filtered + sum;
		if (!t->last_final_ok)
			t->stats_bad++;
	}
}

static void tail_line(struct tail *t, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *o;
	const char *type;

	t->lines++;
	if (!t->sonde) {
		t->events++;
		return;
	}
	o = json_loadb(line, len, 0, &jerr);
	type = json_string_value(json_object_get(o, "type"));
	if (!o || !json_is_object(o) || !type) {
		if (!t->bad_lines++)
			snprintf(t->first_bad, sizeof(t->first_bad), "%.*s",
				 (int)(len < 150 ? len : 150), line);
		json_decref(o);
		return;
	}
	if (!strcmp(type, "http")) {
		json_t *ts = json_object_get(o, "ts_ns");
		int kind = server_record_kind(o, t->port);

		t->partial_records += kind < 0;
		if (kind > 0) {
			t->events++;
			if (t->bins && json_is_integer(ts))
				bins_add(t->bins, (uint64_t)json_integer_value(ts));
		}
	}
	else if (!strcmp(type, "stats"))
		tail_stats(t, o);
	json_decref(o);
}

/* Read what was appended since the last call; complete lines only. */
static void tail_read(struct tail *t)
{
	char buf[65536];
	FILE *f = fopen(t->path, "r");
	size_t n;

	if (!f)
		return;
	if (fseek(f, t->off, SEEK_SET)) {
		fclose(f);
		return;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		size_t start = 0;

		t->off += (long)n;
		for (size_t i = 0; i < n; i++) {
			if (buf[i] != '\n')
				continue;
			if (t->plen) {
				size_t add = i - start;

				if (t->plen + add <= t->pcap) {
					memcpy(t->partial + t->plen, buf + start, add);
					t->plen += add;
				}
				tail_line(t, t->partial, t->plen);
				t->plen = 0;
			} else {
				tail_line(t, buf + start, i - start);
			}
			start = i + 1;
		}
		if (start < n) {
			size_t add = n - start;

			if (!t->partial) {
				t->partial = malloc(PARTIAL_LINE_MAX);
				t->pcap = t->partial ? PARTIAL_LINE_MAX : 0;
			}
			if (t->plen + add <= t->pcap) {
				memcpy(t->partial + t->plen, buf + start, add);
				t->plen += add;
			}
		}
	}
	fclose(f);
}

static void tail_free(struct tail *t)
{
	free(t->partial);
	t->partial = NULL;
	t->plen = t->pcap = 0;
}

/* --- the runner ---------------------------------------------------------- */

struct load_slot {
	pthread_t tid;
	bool started;
	atomic_bool done;
	struct lab_load_opts opts;
	struct lab_load_result res;
	int err;
};

struct srunner {
	struct lab_stress_config *cfg;
	struct lab_stress_result *r;
	struct lab_target tg;
	int instances;            /* tracer instances started */
	struct lab_tracer lt;     /* the running instance (lt.pid 0: none) */
	struct tail tail;
	struct bins bins;         /* every instance's events by request time */
	bool stopped;             /* SIGSTOPped: no SIGUSR1 */
	/* counts of the instances that are gone */
	double base_events, base_drops, base_partial;
	struct lab_stress_reason base_reasons[LAB_STRESS_REASONS_MAX];
	int nbase_reasons;
	long base_lines, base_bad, base_stats_bad, base_finals;
	double extra_truth;       /* URL target: 2xx our own clients got */
	uint64_t t0_ns, cpu_prev_ns, cpu_prev_t_ns;
	int phase;
	char ready[64];
	struct lab_memcg memcg;
	pid_t hog_pgid;
	struct lab_clients *clients;
	enum lab_clients_kind clients_kind;
	int clients_fault;
};

static double now_s(const struct srunner *rn)
{
	return (double)(lab_now_ns() - rn->t0_ns) / 1e9;
}

static void progress(const struct srunner *rn, const char *what)
{
	if (!rn->cfg->progress)
		return;
	fprintf(stderr, "\r\033[K%s · %s · %.0f s", lab_stress_phase_name(rn->phase), what,
		now_s(rn));
	fflush(stderr);
}

/* Ground truth so far: 2xx answered by the target; NaN when it cannot tell
 * (a URL: judged on the steps' totals only). */
static double truth_now(const struct srunner *rn)
{
	if (rn->tg.kind == LAB_TARGET_NGINX) {
		long n = lab_nginx_requests_2xx(&rn->tg.nginx);

		return n < 0 ? NAN : (double)n;
	}
	if (rn->tg.kind == LAB_TARGET_BUILTIN)
		return (double)lab_target_requests(&rn->tg);
	return NAN;
}

static bool tracer_is_sonde(const struct srunner *rn)
{
	return rn->cfg->tracer.kind == LAB_TRACER_SONDE;
}

static double events_now(const struct srunner *rn)
{
	return rn->base_events + rn->tail.events;
}

static double partial_now(const struct srunner *rn)
{
	return rn->base_partial + rn->tail.partial_records;
}

static double drops_now(const struct srunner *rn)
{
	double d = rn->base_drops + rn->tail.drops;

	if (!tracer_is_sonde(rn)) {
		long a = lab_count_lost(rn->lt.err_path), b = lab_count_lost(rn->lt.out_path);

		d = rn->base_drops + (a > 0 ? a : 0) + (b > 0 ? b : 0);
	}
	return d;
}

/* Cumulative drops per reason over every instance. */
static int reasons_now(const struct srunner *rn, struct lab_stress_reason *out)
{
	int n = rn->nbase_reasons;

	memcpy(out, rn->base_reasons, sizeof(rn->base_reasons));
	for (int i = 0; i < rn->tail.nreasons; i++) {
		int k = 0;

		while (k < n && strcmp(out[k].name, rn->tail.reasons[i].name))
			k++;
		if (k == n) {
			if (n == LAB_STRESS_REASONS_MAX)
				continue;
			out[n] = rn->tail.reasons[i];
			out[n++].n = 0;
		}
		out[k].n += rn->tail.reasons[i].n;
	}
	return n;
}

/* Has the running tracer exited on its own? Reaps it then. */
static bool tracer_exited(struct srunner *rn, int *code)
{
	int status;

	if (rn->lt.pid <= 0) {
		if (code)
			*code = rn->lt.exit_code;
		return true;
	}
	if (waitpid(rn->lt.pid, &status, WNOHANG) != rn->lt.pid)
		return false;
	kill(-rn->lt.pid, SIGKILL);
	lab_pgrp_untrack(rn->lt.pid);
	rn->lt.pid = 0;
	rn->lt.exit_code = lab_exit_code(status);
	if (code)
		*code = rn->lt.exit_code;
	/* outside the memory fault (which expects it), an exit is a finding */
	if (!rn->memcg.version) {
		char last[160];

		lab_read_last_line(rn->lt.err_path, last, sizeof(last));
		if (!rn->r->unexpected_exits++)
			snprintf(rn->r->exit_reason, sizeof(rn->r->exit_reason),
				 "at %.1f s, code %d: %s", now_s(rn), rn->lt.exit_code,
				 last[0] ? last : "(no message)");
	}
	return true;
}

static void sample_take(struct srunner *rn)
{
	static const char *const rss_keys[] = { "VmRSS:", NULL };
	struct lab_stress_result *r = rn->r;
	struct lab_stress_sample *s;
	uint64_t now = lab_now_ns(), cpu;
	bool up = !tracer_exited(rn, NULL);

	if (r->nsamples == r->samples_cap) {
		int cap = r->samples_cap ? r->samples_cap * 2 : SAMPLES_INITIAL;
		void *p = realloc(r->samples, (size_t)cap * sizeof(*r->samples));

		if (!p)
			return; /* the timeline gets coarser; the steps' figures stay exact */
		r->samples = p;
		r->samples_cap = cap;
	}
	s = &r->samples[r->nsamples++];
	memset(s, 0, sizeof(*s));
	s->t_s = now_s(rn);
	s->phase = rn->phase;
	s->requests = truth_now(rn);
	tail_read(&rn->tail);
	s->events = events_now(rn);
	s->drops = drops_now(rn);
	s->tracer_up = up && !rn->stopped;
	s->rss_mb = s->cpu_pct = NAN;
	if (up) {
		s->rss_mb = lab_pgrp_status_sum(rn->lt.pid, rss_keys, false) * 1024.0 / 1e6;
		cpu = lab_pgrp_cpu_ns(rn->lt.pid);
		if (rn->cpu_prev_t_ns && cpu >= rn->cpu_prev_ns)
			s->cpu_pct = (double)(cpu - rn->cpu_prev_ns) / (double)(now - rn->cpu_prev_t_ns) * 100.0;
		rn->cpu_prev_ns = cpu;
		rn->cpu_prev_t_ns = now;
		/* ask for the counters now; the record is read at the next sample */
		if (tracer_is_sonde(rn) && !rn->stopped)
			kill(rn->lt.pid, SIGUSR1);
	}
}

/* A fresh stats record of sonde, caught up with the output. */
static void tracer_settle(struct srunner *rn)
{
	long seen;
	uint64_t start;

	if (rn->lt.pid <= 0 || rn->stopped)
		return;
	if (!tracer_is_sonde(rn)) {
		lab_tracer_drain(&rn->lt, DRAIN_POLL_MS, DRAIN_STABLE_MS, DRAIN_MAX_MS);
		tail_read(&rn->tail);
		return;
	}
	/* caught up once the target's records stop coming: sonde traces the
	 * whole host, so its output as a whole may never stop growing */
	start = lab_now_ns();
	for (uint64_t since = start; lab_now_ns() - since < (uint64_t)DRAIN_STABLE_MS * LAB_NS_PER_MS &&
				     lab_now_ns() - start < (uint64_t)DRAIN_MAX_MS * LAB_NS_PER_MS;) {
		double before = rn->tail.events;

		lab_sleep_ms(DRAIN_POLL_MS);
		tail_read(&rn->tail);
		if (rn->tail.events != before)
			since = lab_now_ns();
	}
	seen = rn->tail.stats_seen;
	start = lab_now_ns();
	kill(rn->lt.pid, SIGUSR1);
	while (rn->tail.stats_seen == seen &&
	       lab_now_ns() - start < (uint64_t)STATS_WAIT_MS * LAB_NS_PER_MS) {
		lab_sleep_ms(DRAIN_POLL_MS);
		tail_read(&rn->tail);
	}
}

/* --- the tracer ---------------------------------------------------------- */

/* Start an instance and wait for it to attach. With cgroup (a directory),
 * it joins that cgroup before it execs, so everything it allocates, BPF maps
 * included, is charged there: /bin/sh writes its own pid into cgroup.procs
 * and execs the tracer with the same pid. */
static int tracer_start(struct srunner *rn, const char *cgroup, char *reason, size_t len)
{
	struct lab_stress_config *cfg = rn->cfg;
	char out[LAB_PATH_BYTES], err[LAB_PATH_BYTES], script[LAB_MEMCG_PATH_BYTES + 96];
	char *sonde_argv[8 + LAB_STRESS_SONDE_ARGS_MAX] = { "/bin/sh", "-c", script, cfg->sonde_exe,
							    "http", "--json" };
	char *sh_argv[] = { "/bin/sh", "-c", script, cfg->tracer.cmd, NULL };
	char args[sizeof(cfg->sonde_args)], *save = NULL, **argv;
	bool sonde = tracer_is_sonde(rn);
	int ret, n = 6;

	/* --sonde-args: split on spaces, no quoting (options and numbers) */
	memcpy(args, cfg->sonde_args, sizeof(args));
	for (char *tok = strtok_r(args, " ", &save); tok && n < 6 + LAB_STRESS_SONDE_ARGS_MAX;
	     tok = strtok_r(NULL, " ", &save))
		sonde_argv[n++] = tok;
	sonde_argv[n] = NULL;
	if (cgroup)
		snprintf(script, sizeof(script), "echo $$ > '%s/cgroup.procs' && exec %s", cgroup,
			 sonde ? "\"$0\" \"$@\"" : "/bin/sh -c \"$0\"");
	else
		snprintf(script, sizeof(script), "exec %s", sonde ? "\"$0\" \"$@\"" : "/bin/sh -c \"$0\"");
	argv = sonde ? sonde_argv : sh_argv;

	rn->instances++;
	snprintf(out, sizeof(out), "%s/raw/tracer-%d.out", cfg->out_dir, rn->instances);
	snprintf(err, sizeof(err), "%s/raw/tracer-%d.err", cfg->out_dir, rn->instances);
	ret = lab_tracer_start(&rn->lt, argv, out, err, reason, len);
	if (ret)
		return ret;
	ret = lab_tracer_wait_attached(&rn->lt, sonde ? "sonde http: tracing" : NULL,
				       cfg->attach_timeout_s, reason, len);
	if (ret <= 0) {
		if (ret == 0)
			lab_set_err(reason, len, "loaded no BPF program");
		lab_tracer_stop(&rn->lt);
		return ret ? ret : -ENOENT;
	}
	memset(&rn->tail, 0, sizeof(rn->tail));
	snprintf(rn->tail.path, sizeof(rn->tail.path), "%s", out);
	rn->tail.sonde = sonde;
	rn->tail.port = rn->tg.port;
	rn->tail.bins = sonde ? &rn->bins : NULL;
	rn->cpu_prev_t_ns = 0;
	return 0;
}

/* The running instance's counts go to the base, its output is read to the
 * end (a last line cut by a kill is noted, not counted as corrupt). */
static void tracer_retire(struct srunner *rn)
{
	struct lab_stress_reason sum[LAB_STRESS_REASONS_MAX];

	tail_read(&rn->tail);
	if (rn->tail.plen)
		rn->r->truncated_tail = true;
	rn->nbase_reasons = reasons_now(rn, sum);
	memcpy(rn->base_reasons, sum, sizeof(sum));
	rn->base_drops = drops_now(rn);
	rn->base_events += rn->tail.events;
	rn->base_partial += rn->tail.partial_records;
	rn->base_lines += rn->tail.lines;
	rn->base_bad += rn->tail.bad_lines;
	rn->base_stats_bad += rn->tail.stats_bad;
	rn->base_finals += rn->tail.final_seen;
	if (rn->tail.bad_lines && !rn->r->first_bad[0])
		snprintf(rn->r->first_bad, sizeof(rn->r->first_bad), "%s", rn->tail.first_bad);
	tail_free(&rn->tail);
	memset(&rn->tail, 0, sizeof(rn->tail));
	rn->tail.sonde = tracer_is_sonde(rn);
}

/* SIGINT, then what it wrote last (its closing stats record). */
static void tracer_stop_final(struct srunner *rn)
{
	if (rn->lt.pid > 0) {
		if (rn->stopped)
			kill(-rn->lt.pid, SIGCONT);
		rn->stopped = false;
		lab_tracer_stop(&rn->lt);
	}
	tracer_retire(rn);
}

/* --- load in a thread ---------------------------------------------------- */

static void *load_main(void *arg)
{
	struct load_slot *ls = arg;

	ls->err = lab_load_run(&ls->opts, &ls->res);
	atomic_store(&ls->done, true);
	return NULL;
}

static int load_start(struct srunner *rn, struct load_slot *ls, double rate, double duration_s,
		      bool new_conn)
{
	int err;

	memset(ls, 0, sizeof(*ls));
	ls->opts = (struct lab_load_opts){
		.host = rn->tg.host, .port = rn->tg.port, .path = rn->tg.path,
		.conns = rn->cfg->conns, .threads = 1, .rate = rate, .duration_s = duration_s,
		.new_conn_per_req = new_conn, .timeout_ms = LOAD_TIMEOUT_MS,
		.drain_ms = LOAD_DRAIN_MS,
	};
	atomic_init(&ls->done, false);
	err = pthread_create(&ls->tid, NULL, load_main, ls);
	if (err)
		return -err;
	ls->started = true;
	return 0;
}

static int load_join(struct load_slot *ls)
{
	if (!ls->started)
		return 0;
	pthread_join(ls->tid, NULL);
	ls->started = false;
	return ls->err;
}

/* --- faults -------------------------------------------------------------- */

static bool id_gone(uint32_t id, bool link)
{
	int fd = link ? bpf_link_get_fd_by_id(id) : bpf_prog_get_fd_by_id(id);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == ENOENT;
}

static void kill_and_restart(struct srunner *rn, struct lab_stress_fault_result *fr)
{
	char reason[LAB_REASON_BYTES];
	uint64_t t_kill, deadline;
	int status;

	if (rn->lt.pid <= 0) {
		/* kill(-0) would be our own process group */
		fr->check_ok = false;
		snprintf(fr->detail, sizeof(fr->detail), "the tracer was not running");
		fr->end_s = now_s(rn);
		return;
	}
	fr->nprogs = lab_pgrp_prog_ids(rn->lt.pid, rn->lt.min_id, fr->prog_ids, LAB_STRESS_IDS_MAX);
	fr->nlinks = lab_pgrp_link_ids(rn->lt.pid, fr->link_ids, LAB_STRESS_IDS_MAX);
	if (fr->nprogs < 0)
		fr->nprogs = 0;
	if (fr->nlinks < 0)
		fr->nlinks = 0;
	t_kill = lab_now_ns();
	kill(-rn->lt.pid, SIGKILL);
	lab_wait_exit(rn->lt.pid, LAB_STOP_TIMEOUT_MS, &status, NULL);
	lab_pgrp_untrack(rn->lt.pid);
	rn->lt.pid = 0;
	tracer_retire(rn);
	/* freed after an RCU grace period: poll, never assume */
	deadline = t_kill + (uint64_t)GONE_TIMEOUT_MS * LAB_NS_PER_MS;
	do {
		fr->progs_left = fr->links_left = 0;
		for (int i = 0; i < fr->nprogs; i++)
			fr->progs_left += !id_gone(fr->prog_ids[i], false);
		for (int i = 0; i < fr->nlinks; i++)
			fr->links_left += !id_gone(fr->link_ids[i], true);
		if (!fr->progs_left && !fr->links_left)
			break;
		lab_sleep_ms(GONE_POLL_MS);
	} while (lab_now_ns() < deadline);
	fr->gone_s = (double)(lab_now_ns() - t_kill) / 1e9;
	fr->end_s = now_s(rn);
	if (tracer_start(rn, NULL, reason, sizeof(reason))) {
		fr->check_ok = false;
		snprintf(fr->detail, sizeof(fr->detail), "restart failed: %s", reason);
		return;
	}
	fr->check_ok = fr->nprogs > 0 && !fr->progs_left && !fr->links_left;
	snprintf(fr->detail, sizeof(fr->detail),
		 "killed instance held %d programs and %d links; %d and %d left %.3f s after SIGKILL; restarted, attached in %.2f s",
		 fr->nprogs, fr->nlinks, fr->progs_left, fr->links_left, fr->gone_s, rn->lt.attach_s);
}

static pid_t cpu_hog_start(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	pid_t leader = fork();

	if (leader < 0)
		return -errno;
	if (leader == 0) {
		setpgid(0, 0);
		for (long i = 1; i < ncpu; i++)
			if (fork() == 0)
				break;
		for (volatile unsigned long x = 0;; x++)
			;
	}
	setpgid(leader, leader);
	lab_pgrp_track(leader);
	return leader;
}

static void cpu_hog_stop(pid_t pgid)
{
	if (pgid <= 0)
		return;
	kill(-pgid, SIGKILL);
	lab_wait_exit(pgid, LAB_STOP_TIMEOUT_MS, NULL, NULL);
	lab_pgrp_untrack(pgid);
}

/* The memory fault: the running instance stops (its closing record is
 * checked like any other) and a new one starts inside a memory cgroup with
 * the limit, so that all it allocates counts: moving a running process would
 * leave its earlier charges, BPF maps included, behind. */
static void memory_fault_begin(struct srunner *rn, struct lab_stress_fault_result *fr)
{
	char name[64], err[LAB_REASON_BYTES];
	struct lab_memcg_stats ms = { NAN, NAN, NAN, NAN };
	int ret;

	snprintf(name, sizeof(name), "sonde-stress-%d", (int)getpid());
	fr->memcg_limit_mb = rn->cfg->memcg_mb;
	ret = lab_memcg_create(&rn->memcg, name, (uint64_t)(rn->cfg->memcg_mb * 1e6), err,
			       sizeof(err));
	if (ret < 0) {
		snprintf(fr->detail, sizeof(fr->detail), "%s", err);
		snprintf(fr->outcome, sizeof(fr->outcome), "not run");
		return;
	}
	tracer_stop_final(rn);
	ret = tracer_start(rn, rn->memcg.path, err, sizeof(err));
	fr->limited_from_s = now_s(rn);
	if (!ret)
		return;
	/* it could not even start under the limit: that is the outcome */
	lab_memcg_stats(&rn->memcg, &ms);
	fr->memcg_peak_mb = ms.peak_mb;
	fr->memcg_events = ms.limit_hits;
	fr->oom_kills = ms.oom_kills;
	lab_memcg_destroy(&rn->memcg);
	snprintf(fr->outcome, sizeof(fr->outcome), "exited");
	snprintf(fr->detail, sizeof(fr->detail), "the tracer did not start under memory.max %.0f MB%s: %.200s",
		 rn->cfg->memcg_mb, ms.oom_kills > 0 ? " (killed by the cgroup's OOM killer)" : "", err);
	if (tracer_start(rn, NULL, err, sizeof(err)))
		snprintf(fr->detail + strlen(fr->detail), sizeof(fr->detail) - strlen(fr->detail),
			 "; restart failed: %s", err);
}

static void memory_fault_end(struct srunner *rn, struct lab_stress_fault_result *fr)
{
	struct lab_memcg_stats ms = { NAN, NAN, NAN, NAN };
	char last[160] = "", reason[LAB_REASON_BYTES];
	int code = 0;
	bool exited;

	if (!rn->memcg.version)
		return;
	lab_memcg_stats(&rn->memcg, &ms);
	lab_memcg_set_limit(&rn->memcg, 0);
	exited = tracer_exited(rn, &code);
	lab_memcg_destroy(&rn->memcg);
	fr->memcg_peak_mb = ms.peak_mb;
	fr->memcg_events = ms.limit_hits;
	fr->oom_kills = ms.oom_kills;
	if (exited) {
		lab_read_last_line(rn->lt.err_path, last, sizeof(last));
		tracer_retire(rn);
		snprintf(fr->outcome, sizeof(fr->outcome), "exited");
		snprintf(fr->detail, sizeof(fr->detail),
			 "the tracer exited with code %d under memory.max %.0f MB (OOM kills %.0f): %s",
			 code, rn->cfg->memcg_mb, ms.oom_kills,
			 last[0] ? last : code == 128 + SIGKILL ? "killed by the OOM killer" : "(no message)");
		if (tracer_start(rn, NULL, reason, sizeof(reason)))
			snprintf(fr->detail + strlen(fr->detail), sizeof(fr->detail) - strlen(fr->detail),
				 "; restart failed: %s", reason);
		return;
	}
	/* the instance stays, the limit lifted; the cgroup goes */
	snprintf(fr->detail, sizeof(fr->detail),
		 "started under memory.max %.0f MB: peak %s MB charged, limit hit %.0f times, OOM kills %.0f",
		 rn->cfg->memcg_mb, lab_fmt_num(ms.peak_mb, 1), ms.limit_hits, ms.oom_kills);
}

static void fault_begin(struct srunner *rn, int fault, struct load_slot *extra)
{
	struct lab_stress_fault_result *fr = &rn->r->faults[fault];
	static const enum lab_clients_kind kinds[] = {
		[LAB_STRESS_F_SLOW] = LAB_CLIENTS_SLOW, [LAB_STRESS_F_VANISH] = LAB_CLIENTS_VANISH,
		[LAB_STRESS_F_HOSTILE] = LAB_CLIENTS_HOSTILE,
	};

	fr->ran = true;
	fr->start_s = now_s(rn);
	fr->check_ok = true;
	switch (fault) {
	case LAB_STRESS_F_STALL:
		if (rn->lt.pid > 0 && !kill(-rn->lt.pid, SIGSTOP))
			rn->stopped = true;
		break;
	case LAB_STRESS_F_KILL:
		kill_and_restart(rn, fr);
		break;
	case LAB_STRESS_F_CPU:
		rn->hog_pgid = cpu_hog_start();
		if (rn->hog_pgid < 0) {
			fr->check_ok = false;
			rn->hog_pgid = 0;
		}
		break;
	case LAB_STRESS_F_CHURN:
		if (load_start(rn, extra, rn->r->work_rps / 2, rn->cfg->fault_s, true))
			fr->check_ok = false;
		break;
	case LAB_STRESS_F_SLOW:
	case LAB_STRESS_F_VANISH:
	case LAB_STRESS_F_HOSTILE:
		if (lab_clients_start(&rn->clients, kinds[fault], rn->tg.host, rn->tg.port,
				      rn->tg.path, fault == LAB_STRESS_F_SLOW ? 2 * CLIENT_THREADS :
										   CLIENT_THREADS))
			fr->check_ok = false;
		rn->clients_fault = fault;
		break;
	case LAB_STRESS_F_MEMORY:
		memory_fault_begin(rn, fr);
		break;
	}
}

static void clients_finish(struct srunner *rn)
{
	struct lab_clients_counts n;
	struct lab_stress_fault_result *fr;

	if (!rn->clients)
		return;
	lab_clients_stop(rn->clients, &n);
	rn->clients = NULL;
	fr = &rn->r->faults[rn->clients_fault];
	if (rn->tg.kind == LAB_TARGET_URL)
		rn->extra_truth += (double)n.ok_2xx;
	snprintf(fr->detail, sizeof(fr->detail),
		 "%llu connections: %llu answered (%llu 2xx responses), %llu cut by us, %llu failed",
		 (unsigned long long)n.attempts, (unsigned long long)n.answered,
		 (unsigned long long)n.ok_2xx, (unsigned long long)n.vanished,
		 (unsigned long long)n.errors);
}

static void fault_end(struct srunner *rn, int fault)
{
	struct lab_stress_fault_result *fr = &rn->r->faults[fault];

	switch (fault) {
	case LAB_STRESS_F_STALL:
		if (rn->stopped && rn->lt.pid > 0)
			kill(-rn->lt.pid, SIGCONT);
		rn->stopped = false;
		snprintf(fr->detail, sizeof(fr->detail), "tracer stopped (SIGSTOP) for %.1f s",
			 rn->cfg->fault_s);
		break;
	case LAB_STRESS_F_CPU:
		cpu_hog_stop(rn->hog_pgid);
		rn->hog_pgid = 0;
		snprintf(fr->detail, sizeof(fr->detail), "%ld busy processes for %.1f s",
			 sysconf(_SC_NPROCESSORS_ONLN), rn->cfg->fault_s);
		break;
	case LAB_STRESS_F_CHURN:
		snprintf(fr->detail, sizeof(fr->detail),
			 "%.0f req/s more, a new connection each, for %.1f s", rn->r->work_rps / 2,
			 rn->cfg->fault_s);
		break;
	case LAB_STRESS_F_SLOW:
	case LAB_STRESS_F_VANISH:
	case LAB_STRESS_F_HOSTILE:
		/* joined at the step's end: a client waiting on its read must not
		 * hold up the samples */
		lab_clients_request_stop(rn->clients);
		break;
	case LAB_STRESS_F_MEMORY:
		memory_fault_end(rn, fr);
		break;
	}
	if (fault != LAB_STRESS_F_KILL)
		fr->end_s = now_s(rn);
}

/* --- a step -------------------------------------------------------------- */

struct step_plan {
	int phase, fault;
	const char *label;
	double rate, duration_s;
	double fault_at_s, fault_len_s; /* into the step */
};

static void step_finish(struct srunner *rn, struct lab_stress_step *st, int s0,
			const struct lab_load_result *lr, double truth0, double ev0, double dr0,
			double pa0)
{
	struct lab_stress_result *r = rn->r;
	double cpu_sum = 0, truth1;
	int ncpu = 0;

	st->t_end_s = now_s(rn);
	st->achieved_rps = lr->rate_achieved;
	st->p50_ms = lab_hist_count(&lr->hist) ? (double)lab_hist_percentile(&lr->hist, 50) / 1e6 : NAN;
	st->p99_ms = lab_hist_count(&lr->hist) ? (double)lab_hist_percentile(&lr->hist, 99) / 1e6 : NAN;
	st->sent = lr->issued;
	st->completed = lr->completed;
	st->errors = lr->err_connect + lr->err_timeout + lr->err_status + lr->err_io + lr->unsent;
	truth1 = truth_now(rn);
	st->requests = !isnan(truth1) && !isnan(truth0) ? truth1 - truth0 :
			(double)lr->completed + rn->extra_truth;
	st->events = events_now(rn) - ev0;
	st->partial = tracer_is_sonde(rn) ? partial_now(rn) - pa0 : NAN;
	st->drops = drops_now(rn) - dr0;
	st->capture_pct = st->requests > 0 ? st->events / st->requests * 100.0 : NAN;
	st->rss_mb_max = NAN;
	for (int i = s0; i < r->nsamples; i++) {
		if (!isnan(r->samples[i].cpu_pct)) {
			cpu_sum += r->samples[i].cpu_pct;
			ncpu++;
		}
		if (!isnan(r->samples[i].rss_mb) &&
		    (isnan(st->rss_mb_max) || r->samples[i].rss_mb > st->rss_mb_max))
			st->rss_mb_max = r->samples[i].rss_mb;
	}
	st->cpu_pct_mean = ncpu ? cpu_sum / ncpu : NAN;
	lab_stress_step_judge(st, st->phase == LAB_STRESS_RAMP_UP ? rn->cfg->slo_p99_ms : NAN);
	if (r->phases[st->phase].hist.counts)
		lab_hist_merge(&r->phases[st->phase].hist, &lr->hist);
}

/* Run one step: load in a thread, samples here, the fault at its time.
 * Returns the step, or NULL when the load generator could not run. */
static struct lab_stress_step *step_run(struct srunner *rn, const struct step_plan *p)
{
	struct lab_stress_result *r = rn->r;
	struct lab_stress_step *st;
	struct load_slot main_load, extra = { 0 };
	struct lab_stress_reason re0[LAB_STRESS_REASONS_MAX];
	double truth0, ev0, dr0, pa0, t0;
	bool fault_on = false, fault_done = p->fault < 0;
	int s0, err;

	if (r->nsteps >= LAB_STRESS_STEPS_MAX) {
		lab_set_err(r->error, sizeof(r->error), "more than %d steps", LAB_STRESS_STEPS_MAX);
		return NULL;
	}
	st = &r->steps[r->nsteps];
	memset(st, 0, sizeof(*st));
	st->phase = p->phase;
	st->fault = p->fault;
	snprintf(st->label, sizeof(st->label), "%s", p->label);
	st->offered_rps = p->rate;
	rn->phase = p->phase;
	progress(rn, p->label);
	if (rn->lt.pid <= 0) {
		/* it exited on its own earlier (counted then): the run goes on */
		char reason[LAB_REASON_BYTES];

		tracer_retire(rn);
		tracer_start(rn, NULL, reason, sizeof(reason));
	}
	tracer_settle(rn);
	sample_take(rn);
	s0 = r->nsamples - 1;
	truth0 = truth_now(rn);
	ev0 = events_now(rn);
	dr0 = drops_now(rn);
	pa0 = partial_now(rn);
	reasons_now(rn, re0);
	rn->extra_truth = 0;
	st->t_start_s = t0 = now_s(rn);
	err = load_start(rn, &main_load, p->rate, p->duration_s, false);
	if (err) {
		lab_set_err(r->error, sizeof(r->error), "load generator: %s", strerror(-err));
		return NULL;
	}
	while (!atomic_load(&main_load.done)) {
		double el;

		lab_sleep_ms(LAB_STRESS_SAMPLE_MS);
		el = now_s(rn) - t0;
		if (!fault_done && !fault_on && el >= p->fault_at_s) {
			fault_begin(rn, p->fault, &extra);
			fault_on = true;
		}
		if (fault_on && el >= p->fault_at_s + p->fault_len_s) {
			fault_end(rn, p->fault);
			fault_on = false;
			fault_done = true;
		}
		sample_take(rn);
	}
	if (fault_on)
		fault_end(rn, p->fault);
	err = load_join(&main_load);
	clients_finish(rn);
	if (extra.started) {
		load_join(&extra);
		if (rn->tg.kind == LAB_TARGET_URL)
			rn->extra_truth += (double)extra.res.completed;
		lab_load_result_free(&extra.res);
	}
	tracer_settle(rn);
	sample_take(rn);
	if (err) {
		lab_load_result_free(&main_load.res);
		lab_set_err(r->error, sizeof(r->error), "load generator: %s", strerror(-err));
		return NULL;
	}
	step_finish(rn, st, s0, &main_load.res, truth0, ev0, dr0, pa0);
	lab_load_result_free(&main_load.res);
	{
		/* drops per reason of the phase */
		struct lab_stress_reason re1[LAB_STRESS_REASONS_MAX];
		struct lab_stress_phase_result *ph = &r->phases[p->phase];
		int n1 = reasons_now(rn, re1);

		for (int i = 0; i < n1; i++) {
			double before = 0;
			int k = 0;

			for (int j = 0; j < LAB_STRESS_REASONS_MAX; j++)
				if (!strcmp(re0[j].name, re1[i].name))
					before = re0[j].n;
			while (k < ph->nreasons && strcmp(ph->reasons[k].name, re1[i].name))
				k++;
			if (k == ph->nreasons && k < LAB_STRESS_REASONS_MAX) {
				ph->reasons[k] = re1[i];
				ph->reasons[k].n = 0;
				ph->nreasons++;
			}
			if (k < ph->nreasons)
				ph->reasons[k].n += re1[i].n - before > 0 ? re1[i].n - before : 0;
		}
	}
	r->nsteps++;
	if (p->fault >= 0) {
		struct lab_stress_fault_result *fr = &r->faults[p->fault];

		fr->requests = st->requests;
		fr->events = st->events;
		fr->partial = st->partial;
		fr->drops = st->drops;
		fr->observed_until_s = st->t_end_s;
	}
	return st;
}

/* --- phases -------------------------------------------------------------- */

static int phase_ramp_up(struct srunner *rn)
{
	struct lab_stress_config *cfg = rn->cfg;
	struct lab_stress_result *r = rn->r;
	char label[48];
	double rate = cfg->start_rate;

	for (;;) {
		struct step_plan p = { LAB_STRESS_RAMP_UP, -1, label, rate, cfg->step_s, 0, 0 };
		struct lab_stress_step *st;

		snprintf(label, sizeof(label), "ramp %.0f/s", rate);
		st = step_run(rn, &p);
		if (!st)
			return -EIO;
		if (!st->ok) {
			r->failure_rps = rate;
			snprintf(r->failure_why, sizeof(r->failure_why), "%s", st->why);
			break;
		}
		r->clean_rps = rate;
		if (rate >= cfg->target_rate)
			break;
		rate = fmin(rate * cfg->step_factor, cfg->target_rate);
	}
	r->work_rps = isnan(r->clean_rps) ? cfg->start_rate / 2 : r->clean_rps;
	return 0;
}

static int run_plan(struct srunner *rn)
{
	struct lab_stress_config *cfg = rn->cfg;
	struct lab_stress_result *r = rn->r;
	int err;

	r->work_rps = cfg->target_rate;
	if (cfg->phases[LAB_STRESS_RAMP_UP] && (err = phase_ramp_up(rn)))
		return err;
	if (cfg->phases[LAB_STRESS_SUSTAIN]) {
		struct step_plan p = { LAB_STRESS_SUSTAIN, -1, "sustain", r->work_rps, cfg->sustain_s, 0, 0 };

		if (!step_run(rn, &p))
			return -EIO;
	}
	if (cfg->phases[LAB_STRESS_CHAOS])
		for (int f = 0; f < LAB_STRESS_FAULTS; f++) {
			/* the kill lasts as long as the kernel takes to free the killed
			 * instance's programs and the new one to attach: the load gets
			 * that much more, so that observe_s is left after it */
			bool instant = f == LAB_STRESS_F_KILL;
			struct step_plan p = { LAB_STRESS_CHAOS, f, lab_stress_fault_name(f), r->work_rps,
					       FAULT_LEAD_S + (instant ? KILL_ALLOWANCE_S : cfg->fault_s) +
						       cfg->observe_s,
					       FAULT_LEAD_S, instant ? 0 : cfg->fault_s };

			if (f == LAB_STRESS_F_MEMORY || !cfg->faults[f])
				continue;
			if (!step_run(rn, &p))
				return -EIO;
		}
	if (cfg->phases[LAB_STRESS_MEMORY]) {
		struct step_plan p = { LAB_STRESS_MEMORY, LAB_STRESS_F_MEMORY, "memory", r->work_rps,
				       FAULT_LEAD_S + cfg->memory_s + cfg->observe_s, FAULT_LEAD_S,
				       cfg->memory_s };
		struct lab_stress_fault_result *fr = &r->faults[LAB_STRESS_F_MEMORY];
		struct lab_stress_step *st = step_run(rn, &p);

		if (!st)
			return -EIO;
		if (!strcmp(fr->outcome, "not run"))
			fr->ran = false;
	}
	if (cfg->phases[LAB_STRESS_RAMP_DOWN])
		for (size_t i = 0; i < sizeof(ramp_down_fracs) / sizeof(ramp_down_fracs[0]); i++) {
			char label[48];
			double rate = fmax(1.0, r->work_rps * ramp_down_fracs[i]);
			struct step_plan p = { LAB_STRESS_RAMP_DOWN, -1, label, rate, cfg->step_s, 0, 0 };

			snprintf(label, sizeof(label), "down %.0f/s", rate);
			if (!step_run(rn, &p))
				return -EIO;
		}
	return 0;
}

/* The instance under the limit ran on: unaffected when it captured >= 99 %
 * of the requests (by their time) and its drops did not grow while limited,
 * else degraded. */
static void memory_outcome(struct lab_stress_result *r)
{
	struct lab_stress_fault_result *fr = &r->faults[LAB_STRESS_F_MEMORY];
	int a = -1, b = -1;
	double req, ev, dr;

	if (!fr->ran || fr->outcome[0])
		return;
	for (int i = 0; i < r->nsamples; i++) {
		if (a < 0 && r->samples[i].t_s >= fr->limited_from_s)
			a = i;
		if (r->samples[i].t_s <= fr->end_s)
			b = i;
	}
	if (a < 0 || b <= a) {
		snprintf(fr->outcome, sizeof(fr->outcome), "unaffected");
		return;
	}
	req = r->samples[b].requests - r->samples[a].requests;
	ev = r->samples[b].events_by_time - r->samples[a].events_by_time;
	/* the counters a sample reads are those of about the previous one */
	dr = r->samples[b + 1 < r->nsamples ? b + 1 : b].drops - r->samples[a + 1].drops;
	fr->limited_capture_pct = req > 0 ? ev / req * 100.0 : NAN;
	snprintf(fr->outcome, sizeof(fr->outcome), "%s",
		 dr > 0 || (req > 0 && ev * 100.0 < LAB_STRESS_WINDOW_OK_PCT * req) ? "degraded" :
										    "unaffected");
}

/* Once every record is in: each sample's events by request time (the bins'
 * prefix sums), and from them the recovery of each fault. */
static void timeline_conclude(struct srunner *rn)
{
	struct lab_stress_result *r = rn->r;
	size_t b = 0;
	double sum = 0;

	for (int i = 0; i < r->nsamples; i++) {
		struct lab_stress_sample *s = &r->samples[i];
		size_t upto = (size_t)(s->t_s * 1e9 / BIN_NS);

		if (!tracer_is_sonde(rn) || rn->bins.dropped) {
			s->events_by_time = s->events;
			continue;
		}
		for (; b < upto && b < rn->bins.len; b++)
			sum += rn->bins.n[b];
		s->events_by_time = sum;
	}
	memory_outcome(r);
	for (int f = 0; f < LAB_STRESS_FAULTS; f++) {
		struct lab_stress_fault_result *fr = &r->faults[f];

		if (fr->ran)
			fr->recovery_s = lab_stress_recovery_s(r->samples, r->nsamples, fr->end_s,
							       fr->observed_until_s,
							       LAB_STRESS_WINDOW_OK_PCT);
	}
}

/* Checks of the faults once every instance has stopped: the stalled
 * instance's closing record must balance, and so must the restarted one's. */
static void faults_conclude(struct srunner *rn)
{
	struct lab_stress_result *r = rn->r;
	bool balanced = !tracer_is_sonde(rn) || rn->base_stats_bad == 0;

	for (int f = 0; f < LAB_STRESS_FAULTS; f++) {
		struct lab_stress_fault_result *fr = &r->faults[f];

		if (!fr->ran)
			continue;
		fr->invariant = balanced;
		if (f == LAB_STRESS_F_MEMORY)
			fr->check_ok = rn->base_bad == 0 &&
				       (strcmp(fr->outcome, "exited") || fr->oom_kills > 0 ||
					!strstr(fr->detail, "(no message)"));
		if (!fr->check_ok || !fr->invariant)
			r->hard_failures++;
	}
	if (rn->base_bad || rn->base_stats_bad)
		r->hard_failures++;
	if (r->unexpected_exits)
		r->hard_failures++;
}

int lab_stress_run(struct lab_stress_config *cfg, struct lab_stress_result *r)
{
	static const char *const tools[][2] = {
		{ "nginx", "nginx -v 2>&1" },
		{ "libbpf", "dpkg-query -W -f='${Version}' libbpf1 2>/dev/null" },
		{ NULL, NULL },
	};
	struct srunner rn = { .cfg = cfg, .r = r };
	char path[LAB_PATH_BYTES + 32], reason[LAB_REASON_BYTES];
	int err;

	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->failure_rps = r->clean_rps = r->work_rps = NAN;
	lab_iso_now(r->started, sizeof(r->started));
	rn.t0_ns = lab_now_ns();
	rn.bins.t0_ns = rn.t0_ns;
	for (int p = 0; p < LAB_STRESS_PHASES; p++)
		if (lab_hist_init(&r->phases[p].hist)) {
			lab_set_err(r->error, sizeof(r->error), "out of memory");
			return -ENOMEM;
		}
	for (int f = 0; f < LAB_STRESS_FAULTS; f++)
		r->faults[f].recovery_s = r->faults[f].gone_s = r->faults[f].limited_capture_pct =
			r->faults[f].memcg_peak_mb = r->faults[f].memcg_events =
				r->faults[f].oom_kills = r->faults[f].memcg_limit_mb = NAN;
	snprintf(path, sizeof(path), "%s/raw", cfg->out_dir);
	if (mkdir(path, 0755) && errno != EEXIST) {
		err = -errno;
		lab_set_err(r->error, sizeof(r->error), "%s: %s", path, strerror(errno));
		return err;
	}
	snprintf(path, sizeof(path), "%s/system_info.txt", cfg->out_dir);
	lab_sysinfo_write(path, tools);

	err = lab_target_start(&rn.tg, &cfg->target, r->error, sizeof(r->error));
	if (err)
		return err;
	err = tracer_start(&rn, NULL, reason, sizeof(reason));
	if (err) {
		lab_target_stop(&rn.tg);
		lab_set_err(r->error, sizeof(r->error), "tracer %s did not attach: %s",
			    cfg->tracer.name, reason);
		return err;
	}
	err = run_plan(&rn);
	if (err && !r->error[0])
		lab_set_err(r->error, sizeof(r->error), "the run stopped: %s", strerror(-err));
	/* whatever happened, nothing we started outlives the run */
	if (rn.clients)
		clients_finish(&rn);
	cpu_hog_stop(rn.hog_pgid);
	lab_memcg_destroy(&rn.memcg);
	tracer_stop_final(&rn);
	lab_target_stop(&rn.tg);
	r->lines = rn.base_lines;
	r->bad_lines = rn.base_bad;
	r->stats_bad = rn.base_stats_bad;
	r->stats_records = rn.base_finals;
	r->instances = rn.instances;
	timeline_conclude(&rn);
	faults_conclude(&rn);
	free(rn.bins.n);
	for (int i = 1; i <= rn.instances && !cfg->keep_raw; i++) {
		snprintf(path, sizeof(path), "%s/raw/tracer-%d.out", cfg->out_dir, i);
		unlink(path);
		snprintf(path, sizeof(path), "%s/raw/tracer-%d.err", cfg->out_dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/raw", cfg->out_dir);
	rmdir(path); /* only when empty */
	if (cfg->progress)
		fprintf(stderr, "\r\033[K");
	r->wall_s = now_s(&rn);
	lab_stress_summarize(r);
	return err;
}

void lab_stress_result_free(struct lab_stress_result *r)
{
	free(r->samples);
	r->samples = NULL;
	r->nsamples = r->samples_cap = 0;
	for (int p = 0; p < LAB_STRESS_PHASES; p++)
		lab_hist_free(&r->phases[p].hist);
}

void lab_stress_config_default(struct lab_stress_config *cfg, bool quick)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->target.kind = LAB_TARGET_BUILTIN;
	cfg->target.url = &cfg->url;
	cfg->target.body_bytes = 1024;
	for (int p = 0; p < LAB_STRESS_PHASES; p++)
		cfg->phases[p] = true;
	for (int f = 0; f < LAB_STRESS_FAULTS; f++)
		cfg->faults[f] = true;
	cfg->quick = quick;
	cfg->start_rate = 250;
	cfg->target_rate = quick ? 2000 : 5000;
	cfg->step_factor = quick ? 2.0 : 1.5;
	cfg->conns = 20;
	cfg->step_s = quick ? 3 : 10;
	cfg->sustain_s = quick ? 15 : 180;
	cfg->fault_s = quick ? 3 : 10;
	cfg->observe_s = quick ? 4 : 15;
	cfg->memory_s = quick ? 4 : 30;
	/* sonde http charges about 28.5 MB here at start (its maps included) */
	cfg->memcg_mb = 32;
	cfg->slo_p99_ms = NAN;
	cfg->attach_timeout_s = 30;
	cfg->min_score = NAN;
	lab_thresholds_default(&cfg->thresholds);
}
