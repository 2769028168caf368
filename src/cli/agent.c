/* `sonde agent`: the node daemon. Runs the http and exec tracers in one
 * process, aggregates every request into bounded RED series, serves them on
 * /metrics (Prometheus) with /health, and pushes one span per request over
 * OTLP/HTTP when a collector is configured. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/budget.h"
#include "agent/config.h"
#include "agent/endpoint.h"
#include "agent/otlp.h"
#include "agent/otlp_push.h"
#include "agent/procinfo.h"
#include "agent/prom.h"
#include "agent/route.h"
#include "agent/selfstats.h"
#include "agent/series.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "loader/bpf_env.h"
#include "loader/exec_tracer.h"
#include "loader/http_tracer.h"
#include "pipeline/http_pipeline.h"

#define CMD "agent"
#define POLL_INTERVAL_MS 100
#define SNAPSHOT_INTERVAL_NS 1000000000ull
#define SWEEP_INTERVAL_NS (2ull * 1000000000ull)
#define TLS_SCAN_INTERVAL_NS (1ull * 1000000000ull)
#define NS_PER_S 1e9
#define ADDR_TEXT_BYTES 48
#define HOSTNAME_BYTES 256

struct agent {
	struct agent_config cfg;
	/* Locks, taken in this order when nested, never the other way: the
	 * tracing thread holds lock (per record, once a second) and snap_lock
	 * (once a second), never both, for an update or a copy; the endpoint's
	 * threads (one per connection) and the OTLP worker copy under them
	 * and render from the copy. /health takes snap_lock only, so it never
	 * waits for a /metrics copy or render. */
	pthread_mutex_t page_lock;     /* page: one /metrics render at a time */
	pthread_mutex_t lock;          /* series */
	pthread_mutex_t snap_lock;     /* snap */
	struct series_table *series;
	struct series_table *page;     /* the /metrics renders' copy of series */
	struct series_table *otlp_page; /* the OTLP worker's copy, for metrics */
	struct agent_snapshot snap;    /* what the endpoint shows, once a second */
	struct proc_cache *procs;      /* tracing thread only */
	struct http_pipeline *pipeline;
	struct http_tracer *http;
	struct exec_tracer *exec;
	struct otlp_push *otlp;
	struct agent_endpoint *endpoint;
	struct agent_drop_window drops;
	struct budget budget;          /* tracing thread only */
	struct otlp_resource resource;
	char hostname[HOSTNAME_BYTES];
	int64_t mono_to_real_ns;       /* kernel timestamps -> Unix time */
	uint64_t start_unix_ns;
	uint64_t rng;                  /* span and trace ids */
	bool http_up, exec_up;
	uint64_t exec_delivered;
	uint32_t io_uring_told;        /* io_uring notices written to stderr */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sonde agent [options]\n\n"
		"Run as the node agent: the http and exec tracers in one process, every\n"
		"request aggregated into RED metrics per (side, method, status, route,\n"
		"process, container), served for Prometheus on /metrics with /health, and\n"
		"one span per request pushed over OTLP/HTTP when otlp.endpoint is set.\n\n"
		"Options:\n"
		"  --config FILE        JSON configuration (every key in docs/agent.md);\n"
		"                       without one the defaults below apply\n"
		"  --listen ADDR        address of /metrics and /health (default %s)\n"
		"  --port PORT          their port (default %d; 0: no endpoint)\n"
		"  --duration SECONDS   stop after this long (default: until SIGTERM/Ctrl-C)\n"
		"  -v, --verbose        show libbpf's messages\n"
		"  -h, --help           this help\n\n"
		"Endpoints: /metrics (Prometheus text format: http_server_request_duration_seconds,\n"
		"http_client_request_duration_seconds, sonde_events_total,\n"
		"sonde_events_dropped_total{reason}, sonde_bpf_run_time_seconds_total{program},\n"
		"process_cpu_seconds_total, process_resident_memory_bytes, ...) and /health\n"
		"(JSON; 503 when a tracer is down). SIGTERM stops it after a final flush.\n"
		"Budget: over budget.cpu_pct (default 5 %% of one core, BPF run time included)\n"
		"or budget.memory_mb, it traces 1 in 2, 4, 8, 16 new connections, then copies\n"
		"fewer bytes, and steps back when load falls; sampled-out requests are counted\n"
		"(sonde_sampled_out_requests_total, /health \"budget\").\n\n"
		"EXAMPLES\n"
		"  sonde agent                                  defaults, 127.0.0.1:9464\n"
		"  curl -s 127.0.0.1:9464/metrics | grep http_server_request_duration_seconds_count\n"
		"  sonde agent --config /etc/sonde/agent.json\n"
		"  echo '{\"otlp\":{\"endpoint\":\"http://127.0.0.1:4318\"}}' > a.json; sonde agent --config a.json\n"
		"  sonde agent --port 9465 --duration 60\n",
		AGENT_LISTEN_ADDRESS_DEFAULT, AGENT_LISTEN_PORT_DEFAULT);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: ids need to be unique, not secret */
static uint64_t next_random(struct agent *a)
{
	uint64_t z = (a->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill_id(struct agent *a, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = next_random(a);

		memcpy(p + i, &r, n - i < 8 ? n - i : 8);
	}
}

/* Name and container of pid: the cache, or /proc once (then cached). */
static const struct proc_entry *process_of(struct agent *a, uint32_t pid, const char *comm)
{
	const struct proc_entry *e = proc_cache_get(a->procs, pid);
	char path[64], exe[PATH_MAX], container[SERIES_CONTAINER_BYTES] = "";
	const char *name = comm;
	ssize_t n;

	if (e && e->container_known)
		return e;
	if (e) {
		/* named by its exec: only the container is still to read */
		char known[SERIES_NAME_BYTES];

		memcpy(known, e->name, sizeof(known));
		container_id_of_pid(pid, container, sizeof(container));
		proc_cache_put(a->procs, pid, known, container);
		return proc_cache_get(a->procs, pid);
	}
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		name = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	}
	container_id_of_pid(pid, container, sizeof(container));
	proc_cache_put(a->procs, pid, name, container);
	return proc_cache_get(a->procs, pid);
}

static void addr_text(uint16_t family, const uint8_t *addr, char *out, size_t size)
{
	if (!inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, out, (socklen_t)size))
		out[0] = 0;
}

static void on_http_record(const struct http_record *r, void *ctx)
{
	struct agent *a = ctx;
	const struct http1_exchange *ex = r->ex;
	enum series_side side = r->side == HTTP_SIDE_CLIENT ? SERIES_SIDE_CLIENT : SERIES_SIDE_SERVER;
	const struct proc_entry *p = process_of(a, r->pid, r->comm);
	char route[ROUTE_BYTES_MAX];
	double duration = r->latency_ns ? (double)r->latency_ns / NS_PER_S : -1.0;

	route_template(ex->path, ex->path_len, route, sizeof(route));
	pthread_mutex_lock(&a->lock);
	series_table_observe(a->series, side, ex->method, ex->status, route, p ? p->name : r->comm,
			     p ? p->container : "", duration);
	pthread_mutex_unlock(&a->lock);
	if (a->otlp) {
		struct otlp_span s = { .side = side, .status = ex->status, .pid = r->pid,
				       .tls = r->tls };
		char path[HTTP1_PATH_BYTES_MAX + 1], server[ADDR_TEXT_BYTES];
		uint64_t start = ex->req_first_ts ? ex->req_first_ts : r->ts_ns;
		const char *q;

		fill_id(a, s.trace_id, sizeof(s.trace_id));
		fill_id(a, s.span_id, sizeof(s.span_id));
		s.start_unix_ns = start + (uint64_t)a->mono_to_real_ns;
		s.end_unix_ns = s.start_unix_ns + r->latency_ns;
		/* the series' normalised method, and the one sent if it differs */
		s.method = series_method_label(ex->method);
		s.method_original = ex->method;
		snprintf(path, sizeof(path), "%s", ex->path);
		if ((q = strpbrk(path, "?#")))
			path[q - path] = 0;
		s.path = path;
		s.route = route;
		addr_text(r->family, side == SERIES_SIDE_SERVER ? r->laddr : r->raddr, server,
			  sizeof(server));
		s.server_address = server;
		s.server_port = side == SERIES_SIDE_SERVER ? r->lport : r->rport;
		s.process_name = p ? p->name : r->comm;
		s.container_id = p ? p->container : NULL;
		otlp_push_span(a->otlp, &s); /* a full queue is counted there */
	}
}

static int on_http_raw(const void *data, size_t size, void *ctx)
{
	struct agent *a = ctx;

	return http_pipeline_event(a->pipeline, data, size);
}

/* A traced process uses io_uring: said on stderr for the first
 * IO_URING_NOTICES_MAX processes (once each per exec, the kernel sees to
 * that), then only counted (sonde_io_uring_processes_total and
 * sonde_unseen_io_uring_calls_total). */
#define IO_URING_NOTICES_MAX 20

static void on_io_uring(uint32_t pid, const char *comm, void *ctx)
{
	struct agent *a = ctx;

	if (a->io_uring_told >= IO_URING_NOTICES_MAX)
		return;
	a->io_uring_told++;
	fprintf(stderr,
		"sonde agent: pid %u (%s) uses io_uring: the socket I/O it submits there is not traced "
		"(metric sonde_unseen_io_uring_calls_total)%s\n",
		pid, comm,
		a->io_uring_told == IO_URING_NOTICES_MAX ? "; further processes are only counted" : "");
}

static void on_conn_gone(uint64_t conn_id, void *ctx)
{
	struct agent *a = ctx;

	http_pipeline_conn_gone(a->pipeline, conn_id);
}

static int on_exec_record(const struct exec_record *r, void *ctx)
{
	struct agent *a = ctx;

	a->exec_delivered++;
	if (r->kind == EXEC_EV_EXEC && !r->retval) {
		char name[SERIES_NAME_BYTES];
		const char *base = r->filename;
		size_t n;

		for (uint32_t i = 0; i < r->filename_len; i++)
			if (r->filename[i] == '/')
				base = r->filename + i + 1;
		n = (size_t)(r->filename + r->filename_len - base);
		if (n >= sizeof(name))
			n = sizeof(name) - 1;
		memcpy(name, base, n);
		name[n] = 0;
		/* the container is read at its first request, if any */
		proc_cache_put(a->procs, r->pid, n ? name : r->comm, NULL);
	} else if (r->kind == EXEC_EV_EXIT) {
		proc_cache_remove(a->procs, r->pid);
	}
	return 0;
}

/* Feed the budget this second's CPU (the process, plus its BPF programs'
 * run time when bpf_stats is on) and RSS; on a step, set the kernel's knobs
 * and say so on stderr (a step is rare: hysteresis). */
static void budget_step(struct agent *a, struct agent_snapshot *s)
{
	double cpu = s->cpu_seconds;
	struct budget *b = &a->budget;

	for (int i = 0; s->bpf_stats && i < s->n_progs; i++)
		cpu += (double)s->progs[i].run_time_ns / NS_PER_S;
	if (budget_update(b, cpu, s->rss_bytes, cli_now_ns()) && a->http) {
		int err = http_tracer_set_sampling(a->http, budget_keep_one_in(b));

		if (!err)
			err = http_tracer_set_capture_cap(a->http, budget_capture_cap(b));
		fprintf(stderr,
			"sonde agent: budget %s: keep 1 in %u new connections, capture cap %u (0: none); "
			"CPU %.2f %% of one core (budget %g %%), RSS %llu MB%s%s\n",
			budget_state_name(budget_state_of(b)), budget_keep_one_in(b),
			budget_capture_cap(b), b->cpu_pct, b->o.cpu_pct,
			(unsigned long long)(s->rss_bytes >> 20), err ? "; setting it failed: " : "",
			err ? strerror(-err) : "");
	}
	s->budget.enforced = b->o.enforced;
	s->budget.level = b->level;
	s->budget.state = budget_state_name(budget_state_of(b));
	s->budget.keep_one_in = budget_keep_one_in(b);
	s->budget.capture_cap = budget_capture_cap(b);
	s->budget.cpu_pct = b->cpu_pct;
	s->budget.cpu_budget_pct = b->o.cpu_pct;
	s->budget.memory_budget_bytes = (uint64_t)b->o.memory_mb << 20;
	s->budget.steps_up = b->steps_up;
	s->budget.steps_down = b->steps_down;
	s->budget.bpf_counted = s->bpf_stats;
}

/* The tracing thread's view, copied for the endpoint once a second. */
static void take_snapshot(struct agent *a)
{
	struct agent_snapshot s;
	struct agent_tracer_snap *h = &s.tracer[AGENT_TRACER_HTTP];
	struct agent_tracer_snap *e = &s.tracer[AGENT_TRACER_EXEC];
	struct http_pipeline_stats ps;
	uint64_t drops = 0;

	memset(&s, 0, sizeof(s));
	h->enabled = true;
	h->attached = a->http_up;
	if (a->http) {
		http_tracer_kernel_stats(a->http, h->kernel);
		h->delivered = http_tracer_delivered(a->http);
		h->decode_errors = http_tracer_decode_errors(a->http);
	}
	e->enabled = a->cfg.exec;
	e->attached = a->exec_up;
	if (a->exec) {
		struct tracer_stats ts;

		if (!exec_tracer_stats(a->exec, &ts)) {
			memcpy(e->kernel, ts.kernel, sizeof(e->kernel));
			e->delivered = ts.delivered;
			e->decode_errors = ts.user_dropped[USER_DROP_DECODE_ERROR];
		}
	}
	for (int t = 0; t < AGENT_TRACER_COUNT; t++)
		drops += agent_tracer_dropped(&s.tracer[t]);
	s.drops_last_minute = agent_drop_window_push(&a->drops, drops);
	s.bpf_stats = a->cfg.bpf_stats;
	s.start_time_s = (double)a->start_unix_ns / NS_PER_S;
	agent_snapshot_read_process(&s);
	budget_step(a, &s);
	proc_cache_stats(a->procs, &s.procs);
	if (a->pipeline) {
		http_pipeline_stats(a->pipeline, &ps);
		s.records_incomplete = ps.http.incomplete;
		s.io_uring_processes = ps.io_uring_processes;
	}
	if (a->otlp) {
		struct otlp_push_stats os;

		otlp_push_stats(a->otlp, &os);
		s.otlp_on = true;
		s.otlp_spans_sent = os.sent;
		s.otlp_spans_dropped_queue_full = os.dropped_queue_full;
		s.otlp_spans_dropped_export = os.dropped_export;
		s.otlp_exports_failed = os.exports_failed;
		s.otlp_retries = os.retries;
	}
	pthread_mutex_lock(&a->lock);
	series_table_stats(a->series, &s.series);
	pthread_mutex_unlock(&a->lock);
	pthread_mutex_lock(&a->snap_lock);
	a->snap = s;
	pthread_mutex_unlock(&a->snap_lock);
}

/* The endpoint's threads (one per connection, several at once): pages from
 * the snapshot and the series. */
static int render(void *ctx, const char *path, struct strbuf *b, const char **type)
{
	struct agent *a = ctx;
	int status = 200, err;

	if (!strcmp(path, "/metrics")) {
		struct agent_snapshot s;

		/* copy under the lock, render without it: a scrape flood never
		 * holds the tracing thread for more than a memcpy. Scrapes at
		 * once take turns on the one copy (page_lock) rather than each
		 * holding a table of max_series of its own */
		*type = PROM_CONTENT_TYPE;
		pthread_mutex_lock(&a->page_lock);
		pthread_mutex_lock(&a->lock);
		series_table_copy(a->page, a->series);
		pthread_mutex_unlock(&a->lock);
		pthread_mutex_lock(&a->snap_lock);
		s = a->snap;
		pthread_mutex_unlock(&a->snap_lock);
		err = prom_write_series(b, a->page);
		pthread_mutex_unlock(&a->page_lock);
		if (!err)
			err = agent_metrics_self(b, &s);
		return err ? 500 : 200;
	}
	if (!strcmp(path, "/health")) {
		struct agent_snapshot s;

		*type = "application/json";
		pthread_mutex_lock(&a->snap_lock);
		s = a->snap;
		pthread_mutex_unlock(&a->snap_lock);
		err = agent_health_json(b, &s, &status);
		return err ? 500 : status;
	}
	*type = "text/plain; charset=utf-8";
	strbuf_puts(b, "sonde agent: /metrics and /health\n");
	return 404;
}

static int render_otlp_metrics(void *ctx, struct strbuf *b)
{
	struct agent *a = ctx;
	int err;

	pthread_mutex_lock(&a->lock);
	series_table_copy(a->otlp_page, a->series);
	pthread_mutex_unlock(&a->lock);
	err = otlp_metrics_json(b, &a->resource, a->otlp_page, a->start_unix_ns,
				clock_ns(CLOCK_REALTIME));
	return err;
}

static int open_tracers(struct agent *a, bool verbose)
{
	struct http_tracer_opts topts = { .capture_bytes = a->cfg.capture_bytes,
					  .ringbuf_kb = a->cfg.http_ringbuf_kb,
					  .tls = a->cfg.tls,
					  .tls_exported_only = a->cfg.tls_exported_hooks };
	struct http_pipeline_opts popts = { .max_conns = a->cfg.max_conns,
					    .evict_oldest = true,
					    .io_uring_fn = on_io_uring };
	struct exec_tracer_opts eopts = { .impl = EXEC_IMPL_TRACEPOINT,
					  .ringbuf_kb = a->cfg.exec_ringbuf_kb };
	char err[256];
	int ret;

	if (http_pipeline_new(&a->pipeline, &popts, on_http_record, a)) {
		cli_error(CMD, "out of memory");
		return -ENOMEM;
	}
	/* tracefs: only the exec tracer's tracepoints need it */
	if ((ret = bpf_env_prepare(verbose)) && a->cfg.exec)
		cli_error(CMD, "warning: %s", bpf_env_prepare_strerror(ret));
	/* the exec tracer first: processes that start while the http tracer
	 * loads are then named from their exec */
	if (a->cfg.exec) {
		if (exec_tracer_open(&a->exec, &eopts, on_exec_record, a, err, sizeof(err)))
			cli_error(CMD, "exec tracer down: %s", err);
		else
			a->exec_up = true;
	}
	if (http_tracer_open(&a->http, &topts, on_http_raw, a, err, sizeof(err)))
		cli_error(CMD, "http tracer down: %s", err);
	else
		a->http_up = true;
	/* with nothing traced there is nothing to serve */
	return a->http_up || a->exec_up ? 0 : -ENODEV;
}

static void run(struct agent *a, double duration)
{
	uint64_t start = cli_now_ns(), last_snap = 0, last_sweep = start, last_tls = start;
	uint64_t end = duration > 0 ? start + (uint64_t)(duration * NS_PER_S) : 0;

	while (!cli_stop_requested) {
		uint64_t now;
		int n;

		if (a->http_up) {
			n = http_tracer_poll(a->http, POLL_INTERVAL_MS);
			if (n < 0 && n != -EINTR) {
				cli_error(CMD, "http tracer down: polling failed: %s", strerror(-n));
				a->http_up = false;
			}
		}
		if (a->exec_up) {
			n = exec_tracer_poll(a->exec, a->http_up ? 0 : POLL_INTERVAL_MS);
			if (n < 0 && n != -EINTR) {
				cli_error(CMD, "exec tracer down: polling failed: %s", strerror(-n));
				a->exec_up = false;
			}
		}
		if (!a->http_up && !a->exec_up)
			poll(NULL, 0, POLL_INTERVAL_MS);
		now = cli_now_ns();
		if (a->http_up && now - last_sweep >= SWEEP_INTERVAL_NS) {
			last_sweep = now;
			http_tracer_sweep(a->http, on_conn_gone, a);
		}
		if (a->http_up && a->cfg.tls && now - last_tls >= TLS_SCAN_INTERVAL_NS) {
			last_tls = now;
			http_tracer_tls_rescan(a->http);
		}
		if (now - last_snap >= SNAPSHOT_INTERVAL_NS) {
			last_snap = now;
			take_snapshot(a);
		}
		if (end && now >= end)
			break;
	}
}

static void shutdown_agent(struct agent *a)
{
	struct series_stats ss;

	/* detach and drain, so the last requests are counted and pushed */
	if (a->http)
		http_tracer_stop(a->http);
	if (a->exec)
		exec_tracer_stop(a->exec);
	if (a->pipeline)
		http_pipeline_finish(a->pipeline);
	take_snapshot(a);
	if (a->otlp) {
		otlp_push_stop(a->otlp); /* final flush */
		a->otlp = NULL;
	}
	series_table_stats(a->series, &ss);
	fprintf(stderr, "sonde agent: stopped; http delivered %llu, dropped %llu; exec delivered %llu, "
		"dropped %llu; requests %llu in %llu series (%llu over the bound)\n",
		(unsigned long long)a->snap.tracer[AGENT_TRACER_HTTP].delivered,
		(unsigned long long)agent_tracer_dropped(&a->snap.tracer[AGENT_TRACER_HTTP]),
		(unsigned long long)a->snap.tracer[AGENT_TRACER_EXEC].delivered,
		(unsigned long long)agent_tracer_dropped(&a->snap.tracer[AGENT_TRACER_EXEC]),
		(unsigned long long)ss.records, (unsigned long long)ss.series,
		(unsigned long long)(ss.overflow_other + ss.overflow_all));
}

static void agent_free(struct agent *a)
{
	agent_endpoint_stop(a->endpoint);
	otlp_push_stop(a->otlp);
	http_tracer_close(a->http);
	exec_tracer_close(a->exec);
	http_pipeline_free(a->pipeline);
	proc_cache_free(a->procs);
	series_table_free(a->series);
	series_table_free(a->page);
	series_table_free(a->otlp_page);
	pthread_mutex_destroy(&a->page_lock);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->snap_lock);
	free(a);
}

int cmd_agent(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'C' },
		{ "listen", required_argument, NULL, 'L' },
		{ "port", required_argument, NULL, 'P' },
		{ "duration", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *listen_addr = NULL;
	long port = -1;
	double duration = 0;
	bool verbose = false;
	struct agent *a;
	char err[512];
	int opt, stats_fd = -1;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C':
			config = optarg;
			break;
		case 'L':
			listen_addr = optarg;
			break;
		case 'P':
			if (cli_parse_range(CMD, "port", optarg, 0, 65535, &port))
				return EXIT_USAGE;
			break;
		case 'd':
			if (cli_parse_seconds(optarg, &duration)) {
				cli_error(CMD, "--duration takes seconds, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			cli_error(CMD, "unknown option '%s'; see sonde agent --help", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (cli_no_more_args(CMD, argc, argv))
		return EXIT_USAGE;
	a = calloc(1, sizeof(*a));
	if (!a) {
		cli_error(CMD, "out of memory");
		return EXIT_USAGE;
	}
	pthread_mutex_init(&a->page_lock, NULL);
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->snap_lock, NULL);
	agent_config_defaults(&a->cfg);
	if (config && agent_config_load(&a->cfg, config, err, sizeof(err))) {
		cli_error(CMD, "%s", err);
		agent_free(a);
		return EXIT_USAGE;
	}
	if (listen_addr)
		snprintf(a->cfg.listen_address, sizeof(a->cfg.listen_address), "%s", listen_addr);
	if (port >= 0)
		a->cfg.listen_port = (uint32_t)port;
	/* three tables of the same bound: the live one, the endpoint's copy
	 * and the OTLP worker's; untouched pages of a copy cost nothing */
	if (series_table_new(&a->series, a->cfg.max_series) ||
	    series_table_new(&a->page, a->cfg.max_series) ||
	    series_table_new(&a->otlp_page, a->cfg.max_series) ||
	    proc_cache_new(&a->procs, a->cfg.max_processes)) {
		cli_error(CMD, "out of memory");
		agent_free(a);
		return EXIT_USAGE;
	}
	if (getrandom(&a->rng, sizeof(a->rng), 0) != sizeof(a->rng))
		a->rng = clock_ns(CLOCK_REALTIME) ^ (uint64_t)getpid();
	a->start_unix_ns = clock_ns(CLOCK_REALTIME);
	a->mono_to_real_ns = (int64_t)(a->start_unix_ns - clock_ns(CLOCK_MONOTONIC));
	if (gethostname(a->hostname, sizeof(a->hostname)))
		a->hostname[0] = 0;
	a->resource = (struct otlp_resource){ a->cfg.service_name, a->hostname, NULL };
	{
		struct budget_opts bo = { .cpu_pct = a->cfg.budget.cpu_pct,
					  .memory_mb = a->cfg.budget.memory_mb,
					  .up_after_s = a->cfg.budget.up_after_s,
					  .down_after_s = a->cfg.budget.down_after_s,
					  .enforced = a->cfg.budget.enforced };

		budget_init(&a->budget, &bo);
	}
	cli_install_stop_signals();
	/* the endpoint first: a port in use is an error before any BPF work */
	if (a->cfg.listen_port &&
	    agent_endpoint_start(&a->endpoint, a->cfg.listen_address, (uint16_t)a->cfg.listen_port,
				 render, a, err, sizeof(err))) {
		cli_error(CMD, "%s", err);
		agent_free(a);
		return EXIT_USAGE;
	}
	if (a->cfg.otlp.endpoint[0]) {
		struct otlp_push_opts po = {
			.endpoint = a->cfg.otlp.endpoint,
			.resource = a->resource,
			.batch_spans = a->cfg.otlp.batch_spans,
			.queue_spans = a->cfg.otlp.queue_spans,
			.flush_interval_ms = a->cfg.otlp.flush_interval_ms,
			.timeout_ms = a->cfg.otlp.timeout_ms,
			.retry_max = a->cfg.otlp.retry_max,
			.backoff_ms = a->cfg.otlp.backoff_ms,
			.metrics_interval_s = a->cfg.otlp.metrics_interval_s,
			.render_metrics = render_otlp_metrics,
			.ctx = a,
		};

		if (otlp_push_start(&a->otlp, &po, err, sizeof(err))) {
			cli_error(CMD, "%s", err);
			agent_free(a);
			return EXIT_USAGE;
		}
	}
	/* run times for sonde_bpf_run_time_seconds_total; costs a clock read
	 * per program run while on */
	if (a->cfg.bpf_stats && (stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME)) < 0)
		cli_error(CMD, "warning: BPF_ENABLE_STATS refused (%s): BPF run times stay 0",
			  strerror(errno));
	if (open_tracers(a, verbose)) {
		cli_error(CMD, "no tracer could attach; see sonde doctor");
		if (stats_fd >= 0)
			close(stats_fd);
		agent_free(a);
		return EXIT_USAGE;
	}
	take_snapshot(a);
	if (a->cfg.listen_port)
		fprintf(stderr, "sonde agent: serving http://%s:%u/metrics and /health; %s\n",
			a->cfg.listen_address, a->cfg.listen_port,
			duration > 0 ? "stops after --duration" : "SIGTERM or Ctrl-C to stop");
	run(a, duration);
	shutdown_agent(a);
	if (stats_fd >= 0)
		close(stats_fd);
	agent_free(a);
	return EXIT_OK;
}
