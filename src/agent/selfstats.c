/* The agent's own counters: how they are read and how they are shown. */
#include <bpf/bpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent/prom.h"
#include "agent/selfstats.h"
#include "loader/bpf_env.h"

#define NS_PER_S 1e9
#define US_PER_S 1e6
#define HTTP_OK 200
#define HTTP_UNAVAILABLE 503

static const enum sonde_stat drop_stats[] = {
	STAT_DROP_RINGBUF_FULL, STAT_DROP_READ_FAULT, STAT_DROP_MAP_FULL, STAT_DROP_TLS_NO_CONN,
};
#define DROP_STATS_COUNT (sizeof(drop_stats) / sizeof(drop_stats[0]))

const char *agent_tracer_name(enum agent_tracer_id id)
{
	return id == AGENT_TRACER_EXEC ? "exec" : "http";
}

uint64_t agent_tracer_dropped(const struct agent_tracer_snap *t)
{
	uint64_t n = t->decode_errors;

	for (size_t i = 0; i < DROP_STATS_COUNT; i++)
		n += t->kernel[drop_stats[i]];
	return n;
}

uint64_t agent_drop_window_push(struct agent_drop_window *w, uint64_t total)
{
	uint32_t slots = AGENT_DROP_WINDOW_S + 1, oldest;

	w->totals[w->n % slots] = total;
	w->n++;
	/* the total a minute ago, or the first one recorded */
	oldest = w->n > slots ? w->n % slots : 0;
	return total - w->totals[oldest];
}

/* The BPF programs behind this process's descriptors. */
static void read_progs(struct agent_snapshot *s)
{
	uint32_t seen[AGENT_PROGS_MAX * 4];
	int n_seen = 0;
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");

	s->n_progs = 0;
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		char link[64];
		struct bpf_prog_info info;
		uint32_t len = sizeof(info);
		ssize_t n;
		int fd, i;
		bool dup = false;

		if (d->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(dir), d->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		if (strcmp(link, "anon_inode:bpf-prog"))
			continue;
		fd = atoi(d->d_name);
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		for (i = 0; i < n_seen && !dup; i++)
			dup = seen[i] == info.id;
		if (dup)
			continue;
		if (n_seen < (int)(sizeof(seen) / sizeof(seen[0])))
			seen[n_seen++] = info.id;
		for (i = 0; i < s->n_progs; i++)
			if (!strcmp(s->progs[i].name, info.name))
				break;
		if (i == s->n_progs) {
			if (s->n_progs == AGENT_PROGS_MAX)
				continue;
			s->n_progs++;
			memset(&s->progs[i], 0, sizeof(s->progs[i]));
			snprintf(s->progs[i].name, sizeof(s->progs[i].name), "%s", info.name);
		}
		s->progs[i].run_time_ns += info.run_time_ns;
		s->progs[i].run_cnt += info.run_cnt;
	}
	closedir(dir);
}

int agent_snapshot_read_process(struct agent_snapshot *s)
{
	struct rusage ru;
	long pages = 0, resident = 0;
	FILE *f;
	int err = 0;

	if (!getrusage(RUSAGE_SELF, &ru))
		s->cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / US_PER_S +
				 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / US_PER_S;
	else
		err = -errno;
	f = fopen("/proc/self/statm", "r");
	if (f && fscanf(f, "%ld %ld", &pages, &resident) == 2)
		s->rss_bytes = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
	else
		err = -EIO;
	if (f)
		fclose(f);
	read_progs(s);
	return err;
}

uint64_t agent_sampled_out(const struct agent_snapshot *s)
{
	const struct agent_tracer_snap *h = &s->tracer[AGENT_TRACER_HTTP];

	return h->kernel[STAT_SAMPLED_OUT_SERVER] + h->kernel[STAT_SAMPLED_OUT_CLIENT];
}

/* sonde_budget_* and sonde_sampled_out_requests_total. */
static int metrics_budget(struct strbuf *b, const struct agent_snapshot *s)
{
	static const char *const states[] = { "normal", "sampling", "reduced_capture" };
	const struct agent_tracer_snap *h = &s->tracer[AGENT_TRACER_HTTP];
	int err;

	err = prom_header(b, "sonde_sampled_out_requests_total", "counter",
			  "Requests not traced because the budget sampled their connection out (counted in the kernel, by side).");
	if (!err) {
		struct prom_label l[] = { { "side", "server" } };

		err = prom_sample_u64(b, "sonde_sampled_out_requests_total", l, 1,
				      h->kernel[STAT_SAMPLED_OUT_SERVER]);
	}
	if (!err) {
		struct prom_label l[] = { { "side", "client" } };

		err = prom_sample_u64(b, "sonde_sampled_out_requests_total", l, 1,
				      h->kernel[STAT_SAMPLED_OUT_CLIENT]);
	}
	if (!err)
		err = prom_header(b, "sonde_budget_state", "gauge",
				  "1 for the budget's current state (normal, sampling, reduced_capture).");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]) && !err; i++) {
		struct prom_label l[] = { { "state", states[i] } };

		err = prom_sample_u64(b, "sonde_budget_state", l, 1,
				      s->budget.state && !strcmp(s->budget.state, states[i]));
	}
	if (!err)
		err = prom_header(b, "sonde_budget_level", "gauge",
				  "Budget step: 0 normal, 1-4 keep 1 in 2/4/8/16 connections, 5-6 also capture 256/128 bytes.");
	if (!err)
		err = prom_sample_u64(b, "sonde_budget_level", NULL, 0, (uint64_t)s->budget.level);
	if (!err)
		err = prom_header(b, "sonde_budget_keep_one_in", "gauge",
				  "New connections traced: 1 in this many.");
	if (!err)
		err = prom_sample_u64(b, "sonde_budget_keep_one_in", NULL, 0, s->budget.keep_one_in);
	if (!err)
		err = prom_header(b, "sonde_budget_cpu_ratio", "gauge",
				  "CPU of the agent (process, and its BPF programs when bpf_stats is on) over the last second, as a fraction of budget.cpu_pct.");
	if (!err)
		err = prom_sample_double(b, "sonde_budget_cpu_ratio", NULL, 0,
					 s->budget.cpu_budget_pct > 0
						 ? s->budget.cpu_pct / s->budget.cpu_budget_pct
						 : 0);
	if (!err)
		err = prom_header(b, "sonde_budget_steps_total", "counter",
				  "Budget steps taken, by direction.");
	if (!err) {
		struct prom_label l[] = { { "direction", "up" } };

		err = prom_sample_u64(b, "sonde_budget_steps_total", l, 1, s->budget.steps_up);
	}
	if (!err) {
		struct prom_label l[] = { { "direction", "down" } };

		err = prom_sample_u64(b, "sonde_budget_steps_total", l, 1, s->budget.steps_down);
	}
	return err;
}

int agent_metrics_self(struct strbuf *b, const struct agent_snapshot *s)
{
	int err;

	err = prom_header(b, "sonde_events_total", "counter",
			  "Records the agent's tracers delivered from the kernel.");
	for (int t = 0; t < AGENT_TRACER_COUNT && !err; t++) {
		struct prom_label l[] = { { "tracer", agent_tracer_name(t) } };

		if (s->tracer[t].enabled)
			err = prom_sample_u64(b, "sonde_events_total", l, 1, s->tracer[t].delivered);
	}
	if (!err)
		err = prom_header(b, "sonde_events_dropped_total", "counter",
				  "Events lost, by tracer and reason (never silently).");
	for (int t = 0; t < AGENT_TRACER_COUNT && !err; t++) {
		const struct agent_tracer_snap *ts = &s->tracer[t];

		if (!ts->enabled)
			continue;
		for (size_t i = 0; i < DROP_STATS_COUNT && !err; i++) {
			struct prom_label l[] = { { "tracer", agent_tracer_name(t) },
						  { "reason", bpf_env_stat_name(drop_stats[i]) } };

			if (drop_stats[i] == STAT_DROP_TLS_NO_CONN && t != AGENT_TRACER_HTTP)
				continue;
			err = prom_sample_u64(b, "sonde_events_dropped_total", l, 2,
					      ts->kernel[drop_stats[i]]);
		}
		if (!err) {
			struct prom_label l[] = { { "tracer", agent_tracer_name(t) },
						  { "reason", "decode_error" } };

			err = prom_sample_u64(b, "sonde_events_dropped_total", l, 2,
					      ts->decode_errors);
		}
	}
	if (!err && s->otlp_on) {
		struct prom_label q[] = { { "tracer", "otlp" }, { "reason", "otlp_queue_full" } };
		struct prom_label e[] = { { "tracer", "otlp" }, { "reason", "otlp_export_failed" } };

		err = prom_sample_u64(b, "sonde_events_dropped_total", q, 2,
				      s->otlp_spans_dropped_queue_full);
		if (!err)
			err = prom_sample_u64(b, "sonde_events_dropped_total", e, 2,
					      s->otlp_spans_dropped_export);
	}
	if (!err && s->tracer[AGENT_TRACER_HTTP].enabled) {
		const uint64_t *k = s->tracer[AGENT_TRACER_HTTP].kernel;
		/* what sonde http cannot see, counted (bpf/stats.h) */
		const struct {
			const char *name, *help;
			uint64_t v;
		} unseen[] = {
			{ "sonde_unseen_io_uring_calls_total",
			  "io_uring_setup and io_uring_enter calls of traced processes: the socket I/O submitted there is not traced.",
			  k[STAT_UNSEEN_IO_URING] },
			{ "sonde_io_uring_processes_total",
			  "Traced processes seen using io_uring (once per process and exec).",
			  s->io_uring_processes },
			{ "sonde_unseen_close_range_fds_total",
			  "fds of close_range calls past the 4096 looked at: a connection among them is not seen closed (its entry goes at exec, fd reuse or exit).",
			  k[STAT_UNSEEN_CLOSE_RANGE] },
			{ "sonde_unseen_mmsg_calls_total",
			  "sendmmsg and recvmmsg calls that moved bytes on traced connections: their bytes are not read.",
			  k[STAT_UNSEEN_MMSG] },
		};

		for (size_t i = 0; i < sizeof(unseen) / sizeof(unseen[0]) && !err; i++) {
			err = prom_header(b, unseen[i].name, "counter", unseen[i].help);
			if (!err)
				err = prom_sample_u64(b, unseen[i].name, NULL, 0, unseen[i].v);
		}
	}
	if (!err)
		err = prom_header(b, "sonde_bpf_run_time_seconds_total", "counter",
				  "Time the kernel spent in the agent's BPF programs (0 unless bpf_stats is on).");
	for (int i = 0; i < s->n_progs && !err; i++) {
		struct prom_label l[] = { { "program", s->progs[i].name } };

		err = prom_sample_double(b, "sonde_bpf_run_time_seconds_total", l, 1,
					 (double)s->progs[i].run_time_ns / NS_PER_S);
	}
	if (!err)
		err = prom_header(b, "sonde_series_overflow_total", "counter",
				  "Requests counted under route \"other\" (or every label \"other\"): the series bound was reached.");
	if (!err) {
		struct prom_label r[] = { { "into", "route_other" } };
		struct prom_label a[] = { { "into", "all_other" } };

		err = prom_sample_u64(b, "sonde_series_overflow_total", r, 1,
				      s->series.overflow_other);
		if (!err)
			err = prom_sample_u64(b, "sonde_series_overflow_total", a, 1,
					      s->series.overflow_all);
	}
	if (!err)
		err = prom_header(b, "sonde_series", "gauge", "RED series in use.");
	if (!err)
		err = prom_sample_u64(b, "sonde_series", NULL, 0, s->series.series);
	if (!err)
		err = prom_header(b, "sonde_process_cache_evictions_total", "counter",
				  "Processes evicted from the bounded pid cache (their next request reads /proc again).");
	if (!err)
		err = prom_sample_u64(b, "sonde_process_cache_evictions_total", NULL, 0,
				      s->procs.evictions);
	if (!err && s->otlp_on) {
		err = prom_header(b, "sonde_otlp_spans_sent_total", "counter",
				  "Spans the OTLP collector accepted.");
		if (!err)
			err = prom_sample_u64(b, "sonde_otlp_spans_sent_total", NULL, 0,
					      s->otlp_spans_sent);
		if (!err)
			err = prom_header(b, "sonde_otlp_export_failures_total", "counter",
					  "OTLP export attempts that failed (each retried up to otlp.retry_max times).");
		if (!err)
			err = prom_sample_u64(b, "sonde_otlp_export_failures_total", NULL, 0,
					      s->otlp_exports_failed);
	}
	if (!err)
		err = metrics_budget(b, s);
	if (!err)
		err = prom_header(b, "process_cpu_seconds_total", "counter",
				  "User and system CPU time of the agent, seconds.");
	if (!err)
		err = prom_sample_double(b, "process_cpu_seconds_total", NULL, 0, s->cpu_seconds);
	if (!err)
		err = prom_header(b, "process_resident_memory_bytes", "gauge",
				  "Resident memory of the agent, bytes.");
	if (!err)
		err = prom_sample_u64(b, "process_resident_memory_bytes", NULL, 0, s->rss_bytes);
	if (!err)
		err = prom_header(b, "process_start_time_seconds", "gauge",
				  "Start time of the agent, Unix seconds.");
	if (!err)
		err = prom_sample_double(b, "process_start_time_seconds", NULL, 0, s->start_time_s);
	return err;
}

int agent_health_json(struct strbuf *b, const struct agent_snapshot *s, int *http_status)
{
	bool down = false;
	int err;

	for (int t = 0; t < AGENT_TRACER_COUNT; t++)
		down |= s->tracer[t].enabled && !s->tracer[t].attached;
	*http_status = down ? HTTP_UNAVAILABLE : HTTP_OK;
	err = strbuf_printf(b, "{\"status\":\"%s\",\"tracers\":{", down ? "degraded" : "ok");
	for (int t = 0; t < AGENT_TRACER_COUNT && !err; t++) {
		const struct agent_tracer_snap *ts = &s->tracer[t];

		err = strbuf_printf(b, "%s\"%s\":\"%s\"", t ? "," : "", agent_tracer_name(t),
				    !ts->enabled ? "off" : ts->attached ? "attached" : "down");
	}
	if (!err)
		err = strbuf_printf(b,
				    "},\"drops_last_minute\":%llu,\"budget\":{\"state\":\"%s\","
				    "\"enforced\":%s,\"level\":%d,\"keep_one_in\":%u,"
				    "\"capture_cap\":%u,\"cpu_pct\":%.3f,\"cpu_budget_pct\":%g,"
				    "\"cpu_includes_bpf\":%s,\"rss_bytes\":%llu,"
				    "\"memory_budget_bytes\":%llu,\"sampled_out_requests\":%llu},"
				    "\"series\":%llu,\"otlp\":\"%s\"}\n",
				    (unsigned long long)s->drops_last_minute,
				    s->budget.state ? s->budget.state : "normal",
				    s->budget.enforced ? "true" : "false", s->budget.level,
				    s->budget.keep_one_in, s->budget.capture_cap, s->budget.cpu_pct,
				    s->budget.cpu_budget_pct, s->budget.bpf_counted ? "true" : "false",
				    (unsigned long long)s->rss_bytes,
				    (unsigned long long)s->budget.memory_budget_bytes,
				    (unsigned long long)agent_sampled_out(s),
				    (unsigned long long)s->series.series, s->otlp_on ? "on" : "off");
	return err;
}
