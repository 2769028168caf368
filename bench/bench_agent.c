/* bench_agent: the agent endpoint's targets (issue 7), measured the way a
 * scraper and a flood see them. In this process: agent/endpoint on
 * libmicrohttpd with the agent's real pages (prom_write_series +
 * agent_metrics_self for /metrics, agent_health_json for /health), each
 * page rendered from a copy of its series table taken under a lock, as
 * `sonde agent` does, while a stand-in for the tracing thread observes into
 * the tables under that lock at a steady rate and times every lock wait (how
 * long a scrape holds tracing). Phases, in interleaved rounds whose order
 * is balanced (lab_bench_order: each phase right after each other one
 * equally often), so no phase always runs on a warmer machine:
 *   health       /health at a fixed 1,000 requests/s on one keep-alive
 *                connection, open loop: an answer's time runs from the
 *                request's intended send time, so a stall delays and counts
 *                against every request queued behind it;
 *   metrics-N    /metrics of N series (100, 1,000, 10,000), scraped back to
 *                back on one connection, send to last byte;
 *   mixed        /health at 1,000/s while another connection scrapes
 *                /metrics of 1,000 series every 250 ms (each connection
 *                has its endpoint thread, so /health never queues behind
 *                a render: what is left is the render's CPU, on two cores
 *                shared with the stand-in tracer and the clients).
 * Per round p50 and p99 of each phase; the medians over rounds and their
 * spread (min..max); a verdict against the targets (/health p99 < 1 ms,
 * /metrics of 1,000 series p99 < 10 ms).
 * Then, with --sonde PATH and root, one live run: the real `sonde agent`
 * (a generated config on a free port, budget not enforced so that it never
 * samples) tracing the lab's built-in server, which gets LIVE_PATHS
 * requests of distinct routes (so the agent holds about 1,000 series: the
 * server side and this process's client side of each) and then the lab's
 * load generator at a fixed rate over the same routes in turn,
 * while /health is asked at 1,000/s (open loop) and /metrics scraped every
 * 250 ms. Reported: both answer times, and whether tracing lost anything:
 * the agent's count of the server's requests (from a final /metrics, once
 * it has caught up) against the requests made (the distinct routes plus
 * what the load generator completed), and its drop counters.
 * Writes DIR/results.json, DIR/report.md and DIR/system_info.txt (and, for
 * the live run, DIR/agent.json and DIR/agent.err). The client is a plain
 * socket, not curl, so its own cost in the figures is a send and a read. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/endpoint.h"
#include "agent/prom.h"
#include "agent/selfstats.h"
#include "lab/bench.h"
#include "lab/http_server.h"
#include "lab/loadgen.h"
#include "lab/nginx.h"
#include "lab/sysinfo.h"
#include "lab/tracer_output.h"
#include "lab/tracer_proc.h"

#define ROUNDS_DEFAULT 5
#define ROUNDS_MAX 50
#define HEALTH_RATE 1000              /* requests/s */
#define HEALTH_REQUESTS_DEFAULT 2000  /* per round: 2 s */
#define SCRAPES_DEFAULT 50            /* per round and size (fewer for 10,000) */
#define SIZES_MAX 8
#define MIXED_SCRAPE_INTERVAL_NS 250000000ull
#define MIXED_SERIES 1000
#define TRACER_RATE 20000             /* observations/s of the stand-in tracer */
#define TARGET_HEALTH_P99_US 1000.0
#define TARGET_METRICS_P99_US 10000.0
#define TARGET_METRICS_SERIES 1000
#define RECV_BYTES (256u << 10)
/* a request of this bench that gets no answer fails after this long rather
 * than hanging the run */
#define RECV_TIMEOUT_S 10
#define HOLDS_MAX 4096
/* The live run (--sonde). */
#define LIVE_SECONDS_DEFAULT 5.0
#define LIVE_RATE_DEFAULT 2000.0      /* requests/s to the traced server */
#define LIVE_PATHS_DEFAULT 500        /* distinct routes, each a server and a client series */
#define LIVE_PATHS_MAX 17576          /* three letters */
#define LIVE_CONNS 20                 /* the load generator's */
#define LIVE_BODY_BYTES 612           /* the built-in server's answer, like nginx's page */
#define LIVE_ROUTE "/sonde-bench-live/" /* every route of the run starts so */
#define LIVE_MAX_SERIES 4096          /* the agent's bound: room for every series of the run */
#define AGENT_READY_MS 30000u
#define AGENT_STOP_MS 8000u
/* how long the agent may take to count the last requests */
#define LIVE_SETTLE_MS 10000u
/* the agent's drop counters are a snapshot taken once a second */
#define SNAPSHOT_WAIT_MS 1200u
#define CONTAINER_ID "3f4b1c2d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"

struct table {
	uint32_t n;                   /* series */
	struct series_table *live;    /* what the tracer observes into */
	struct series_table *page;    /* the copy a scrape renders */
	/* as in sonde agent: page_lock (one /metrics render at a time, so one
	 * copy serves them all), then lock (the series, shared with the
	 * tracer) for the copy only */
	pthread_mutex_t page_lock;
	pthread_mutex_t lock;
	struct agent_endpoint *e;
	uint16_t port;
	size_t page_bytes;
	/* how long each timed /metrics held the lock (the copy), µs; written
	 * under page_lock */
	double holds[HOLDS_MAX];
	int n_holds;
};

static struct table tables[SIZES_MAX];
static int n_tables;
/* /health's snapshot, under its own lock as in sonde agent: a probe never
 * waits for a scrape's copy of the series */
static struct agent_snapshot snap;
static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool tracer_stop;
static atomic_uint_fast64_t tracer_obs;
static atomic_bool timing_holds;   /* from the rounds on, not the warm-up */
/* answers that closed their connection: the next request connects anew */
static atomic_uint_fast64_t reconnects;

/* lock waits of the stand-in tracer, ns: the worst and a coarse histogram
 * (power-of-two buckets) for its p99 */
static atomic_uint_fast64_t lock_wait_max_ns;
static atomic_uint_fast64_t lock_wait_hist[40];

static void hist_add(atomic_uint_fast64_t *hist, atomic_uint_fast64_t *max, uint64_t v)
{
	int b = 0;

	while (b < 39 && (1ull << b) < v)
		b++;
	atomic_fetch_add(&hist[b], 1);
	if (v > atomic_load(max))
		atomic_store(max, v);
}

/* The bound of the bucket holding the p-th percentile, ns (power of two). */
static uint64_t hist_pct(atomic_uint_fast64_t *hist, double p)
{
	uint64_t n = 0, acc = 0;

	for (int b = 0; b < 40; b++)
		n += hist[b];
	for (int b = 0; b < 40; b++) {
		acc += hist[b];
		if (n && (double)acc >= (double)n * p / 100.0)
			return 1ull << b;
	}
	return 0;
}

static void sleep_until(uint64_t due_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(due_ns / 1000000000ull),
			       .tv_nsec = (long)(due_ns % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int render(void *ctx, const char *path, struct strbuf *b, const char **type)
{
	struct table *t = ctx;
	struct agent_snapshot s;
	int status = 200, err;

	if (!strcmp(path, "/metrics")) {
		*type = PROM_CONTENT_TYPE;
		uint64_t t0;

		/* as sonde agent: copy under the lock, render without it */
		pthread_mutex_lock(&t->page_lock);
		pthread_mutex_lock(&t->lock);
		t0 = lab_now_ns();
		series_table_copy(t->page, t->live);
		series_table_stats(t->live, &s.series);
		t0 = lab_now_ns() - t0;
		pthread_mutex_unlock(&t->lock);
		pthread_mutex_lock(&snap_lock);
		{
			struct series_stats ss = s.series;

			s = snap;
			s.series = ss;
		}
		pthread_mutex_unlock(&snap_lock);
		if (atomic_load(&timing_holds) && t->n_holds < HOLDS_MAX)
			t->holds[t->n_holds++] = (double)t0 / 1000.0;
		err = prom_write_series(b, t->page);
		pthread_mutex_unlock(&t->page_lock);
		if (err || agent_metrics_self(b, &s))
			return 500;
		return 200;
	}
	if (!strcmp(path, "/health")) {
		*type = "application/json";
		pthread_mutex_lock(&snap_lock);
		s = snap;
		pthread_mutex_unlock(&snap_lock);
		return agent_health_json(b, &s, &status) ? 500 : status;
	}
	return 404;
}

/* The route, method, status and duration of series i of a table of n: a mix
 * like a real service's (a few methods and statuses, durations over the
 * buckets), distinct for every i. */
static void observe(struct series_table *t, uint32_t i, uint64_t salt)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE" };
	static const uint16_t statuses[] = { 200, 201, 404, 500, 0 };
	char route[48];
	double d = (double)((i * 7919u + salt) % 2000u) / 1000.0; /* 0 .. 2 s */

	snprintf(route, sizeof(route), "/api/v1/resource%u/{id}", i / 40);
	series_table_observe(t, (enum series_side)(i & 1), methods[(i >> 1) & 3],
			     statuses[(i >> 3) % 5], route, (i >> 3) % 5 == 4 ? "curl" : "nginx",
			     i % 3 ? CONTAINER_ID : "", d);
}

static int table_make(struct table *t, uint32_t n, char *err, size_t err_size)
{
	int ret;

	t->n = n;
	pthread_mutex_init(&t->page_lock, NULL);
	pthread_mutex_init(&t->lock, NULL);
	if ((ret = series_table_new(&t->live, n)) || (ret = series_table_new(&t->page, n))) {
		snprintf(err, err_size, "series table of %u: %s", n, strerror(-ret));
		return ret;
	}
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < 3; k++)
			observe(t->live, i, k * 131u);
	return 0;
}

/* The stand-in for the tracing thread: TRACER_RATE observations/s, in
 * batches every millisecond, spread over every table, each under its lock,
 * every lock acquisition timed. */
static void *tracer_main(void *arg)
{
	uint64_t next = lab_now_ns(), salt = 0;
	uint32_t per_ms = TRACER_RATE / 1000;

	(void)arg;
	while (!atomic_load(&tracer_stop)) {
		for (int ti = 0; ti < n_tables; ti++) {
			struct table *t = &tables[ti];
			uint64_t t0 = lab_now_ns(), w;

			pthread_mutex_lock(&t->lock);
			w = lab_now_ns() - t0;
			for (uint32_t k = 0; k < per_ms / (uint32_t)n_tables + 1; k++, salt++)
				observe(t->live, (uint32_t)((salt * 2654435761u) % t->n), salt);
			pthread_mutex_unlock(&t->lock);
			atomic_fetch_add(&tracer_obs, per_ms / (uint32_t)n_tables + 1);
			hist_add(lock_wait_hist, &lock_wait_max_ns, w);
		}
		next += 1000000;
		sleep_until(next);
	}
	return NULL;
}

static int conn_open(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S };

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

/* One GET of path on *fd (keep-alive; connected first when *fd < 0, the
 * connect then timed with the request, as a client pays it) and its whole
 * answer read; the status code, or a negative errno. The connection is
 * closed (*fd = -1) when the server says "Connection: close". *bytes: the
 * body's length; the body itself is kept in keep when not NULL, else
 * read through buf and thrown away. */
static int http_get_keep(int *fd, uint16_t port, const char *path, char *buf, size_t size,
			 size_t *bytes, struct strbuf *keep)
{
	char req[128];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", path);
	size_t have = 0, body = 0, want = 0;
	char *end = NULL, *cl, *at;
	int status;

	if (*fd < 0 && (*fd = conn_open(port)) < 0)
		return *fd;
	if (send(*fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		return -EIO;
	while (!end) {
		ssize_t r = recv(*fd, buf + have, size - 1 - have, 0);

		if (r <= 0)
			return -EIO;
		have += (size_t)r;
		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end && have >= size - 1)
			return -E2BIG;
	}
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -EPROTO;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (!cl || cl > end)
		return -EPROTO;
	want = strtoull(cl + 17, NULL, 10);
	body = have - (size_t)(end + 4 - buf);
	/* keep: room for the whole body at once, received straight into it */
	if (keep && (body > want || strbuf_append(keep, end + 4, body) ||
		     strbuf_room(keep, want - body, &at)))
		return -ENOMEM;
	*end = 0;
	if (strcasestr(buf, "\r\nConnection: close")) {
		/* read to the end below, then close */
		status = -status;
	}
	while (body < want) {
		ssize_t r = keep ? recv(*fd, keep->buf + keep->len, want - body, 0)
				 : recv(*fd, buf, size, 0);

		if (r <= 0)
			return -EIO;
		if (keep)
			strbuf_commit(keep, (size_t)r);
		body += (size_t)r;
	}
	*bytes = want;
	if (status < 0) {
		close(*fd);
		*fd = -1;
		status = -status;
		reconnects++;
	}
	return status;
}

static int http_get(int *fd, uint16_t port, const char *path, char *buf, size_t size,
		    size_t *bytes)
{
	return http_get_keep(fd, port, path, buf, size, bytes, NULL);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* p-th percentile (nearest rank) of v[0..n), sorted in place. */
static double pct(double *v, int n, double p)
{
	int i;

	if (n <= 0)
		return NAN;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	i = (int)ceil(p / 100.0 * n) - 1;
	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

struct phase_result {
	double p50_us, p99_us, max_us;
	double wake_p99_us;   /* open loop: how late the client itself woke */
	double sent_p99_us;   /* open loop: p99 from the actual send, not the intended */
	int n, failed;
};

/* /health at HEALTH_RATE, open loop, n requests. */
static int run_health(uint16_t port, int n, struct phase_result *r, char *buf)
{
	double *lat = calloc((size_t)n, sizeof(*lat)), *late = calloc((size_t)n, sizeof(*late));
	double *from_sent = calloc((size_t)n, sizeof(*from_sent));
	int fd = -1, ok = 0;
	uint64_t start, sent;
	size_t bytes;

	if (!lat || !late || !from_sent) {
		free(lat);
		free(late);
		free(from_sent);
		return -ENOMEM;
	}
	r->failed = 0;
	start = lab_now_ns() + 1000000;
	for (int i = 0; i < n; i++) {
		uint64_t due = start + (uint64_t)i * (1000000000ull / HEALTH_RATE);

		sleep_until(due);
		sent = lab_now_ns();
		late[i] = (double)(sent - due) / 1000.0;
		if (http_get(&fd, port, "/health", buf, RECV_BYTES, &bytes) != 200) {
			r->failed++;
			if (fd >= 0)
				close(fd);
			fd = -1;
			continue;
		}
		from_sent[ok] = (double)(lab_now_ns() - sent) / 1000.0;
		lat[ok++] = (double)(lab_now_ns() - due) / 1000.0;
	}
	if (fd >= 0)
		close(fd);
	r->n = ok;
	r->p50_us = pct(lat, ok, 50);
	r->p99_us = pct(lat, ok, 99);
	r->max_us = ok ? lat[ok - 1] : NAN;
	r->wake_p99_us = pct(late, n, 99);
	r->sent_p99_us = pct(from_sent, ok, 99);
	free(lat);
	free(late);
	free(from_sent);
	return 0;
}

/* /metrics on port, n times (or until *stop), every gap_ns (0: back to
 * back); *page_bytes: the last page's size. */
static int run_metrics(uint16_t port, int n, uint64_t gap_ns, struct phase_result *r, char *buf,
		       atomic_bool *stop, size_t *page_bytes)
{
	double *lat = calloc((size_t)n, sizeof(*lat));
	int fd = -1, ok = 0;
	size_t bytes = 0;

	if (!lat)
		return -ENOMEM;
	r->failed = 0;
	for (int i = 0; i < n && !(stop && atomic_load(stop)); i++) {
		uint64_t t0 = lab_now_ns();

		if (http_get(&fd, port, "/metrics", buf, RECV_BYTES, &bytes) != 200) {
			r->failed++;
			if (fd >= 0)
				close(fd);
			fd = -1;
			if (gap_ns)
				sleep_until(t0 + gap_ns);
			continue;
		}
		lat[ok++] = (double)(lab_now_ns() - t0) / 1000.0;
		*page_bytes = bytes;
		if (gap_ns)
			sleep_until(t0 + gap_ns);
	}
	if (fd >= 0)
		close(fd);
	r->n = ok;
	r->p50_us = pct(lat, ok, 50);
	r->p99_us = pct(lat, ok, 99);
	r->max_us = ok ? lat[ok - 1] : NAN;
	free(lat);
	return 0;
}

struct scraper {
	uint16_t port;
	atomic_bool stop;
	struct phase_result r;
	size_t page_bytes;
	char *buf;
};

static void *scraper_main(void *arg)
{
	struct scraper *s = arg;

	run_metrics(s->port, 1 << 20, MIXED_SCRAPE_INTERVAL_NS, &s->r, s->buf, &s->stop,
		    &s->page_bytes);
	return NULL;
}

/* ---- the live run: the real `sonde agent` tracing a real server ---- */

struct live_opts {
	const char *sonde;   /* NULL: not asked for */
	const char *out;
	double seconds, rate;
	int paths;
	char *buf, *buf2;
};

struct live_result {
	char skipped[160];   /* why it did not run; "" when it ran */
	char error[768];     /* why it stopped half-way; "" when it did not */
	struct phase_result health, metrics;
	size_t page_bytes;
	double series;       /* sonde_series at the end */
	uint64_t seeded;     /* distinct-route requests answered 200 */
	uint64_t gen_issued, gen_completed, gen_errors;
	double gen_p99_us;   /* the traced server's answer time, as the generator saw it */
	uint64_t server_answered; /* the built-in server's own count */
	double agent_server, agent_client; /* the agent's counts of our routes */
	double drops;        /* every sonde_events_dropped_total summed */
	char drop_lines[256];
	double agent_cpu_pct; /* during the load, % of one core */
	char agent_last[320]; /* the agent's last line on stderr */
	bool health_ok, metrics_ok, lossless;
};

/* The sum of the samples whose line starts with prefix and contains both
 * needles (NULL: any); lines[] gets the nonzero ones when not NULL. */
static double page_sum(const char *page, const char *prefix, const char *n1, const char *n2,
		       char *lines, size_t lines_size)
{
	size_t plen = strlen(prefix);
	double sum = 0;

	for (const char *l = page; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *eol = strchrnul(l, '\n'), *sp;
		char text[512];
		size_t len = (size_t)(eol - l);
		double v;

		if (strncmp(l, prefix, plen) || len >= sizeof(text))
			continue;
		memcpy(text, l, len);
		text[len] = 0;
		if ((n1 && !strstr(text, n1)) || (n2 && !strstr(text, n2)) || !(sp = strrchr(text, ' ')))
			continue;
		v = strtod(sp + 1, NULL);
		sum += v;
		if (lines && v != 0 && strlen(lines) + len + 3 < lines_size) {
			strcat(lines, *lines ? "; " : "");
			strncat(lines, text, len);
		}
	}
	return sum;
}

/* The whole body of GET path on port, in page (reset first); the status. */
static int fetch(uint16_t port, const char *path, struct strbuf *page, char *buf)
{
	int fd = -1, st;
	size_t bytes;

	strbuf_reset(page);
	st = http_get_keep(&fd, port, path, buf, RECV_BYTES, &bytes, page);
	if (fd >= 0)
		close(fd);
	return st;
}

/* The agent's requests of this run, server side: the built-in server runs
 * in a child of this process, so the agent names it after this program. */
static double live_count(const char *page, const char *side, const char *proc_label)
{
	char prefix[80];

	snprintf(prefix, sizeof(prefix), "http_%s_request_duration_seconds_count{", side);
	return page_sum(page, prefix, "http_route=\"" LIVE_ROUTE, proc_label, NULL, 0);
}

/* CPU of pid, seconds (-1 when gone): the lab's reading keeps the time of
 * threads that exited (the endpoint's thread per connection). */
static double proc_cpu_s(pid_t pid)
{
	uint64_t ns = lab_proc_cpu_ns(pid);

	return ns ? (double)ns / 1e9 : -1;
}

static pid_t agent_spawn(const char *sonde, const char *config, const char *err_path)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		/* never outlive the bench */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd >= 0)
			dup2(fd, 2);
		if (null >= 0)
			dup2(null, 1);
		execl(sonde, sonde, "agent", "--config", config, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* SIGTERM, SIGKILL after AGENT_STOP_MS; its exit status. */
static int agent_stop(pid_t pid)
{
	int st = -1;

	kill(pid, SIGTERM);
	if (lab_wait_exit(pid, AGENT_STOP_MS, &st, NULL)) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	return st;
}

struct loader {
	struct lab_load_opts o;
	struct lab_load_result r;
	int err;
};

static void *loader_main(void *arg)
{
	struct loader *l = arg;

	l->err = lab_load_run(&l->o, &l->r);
	return NULL;
}

#define LIVE_PATH_BYTES 32

/* The i-th distinct route of the live run: letters only, since a segment
 * with digits could be taken for an id. */
static void live_path(int i, char path[LIVE_PATH_BYTES])
{
	snprintf(path, LIVE_PATH_BYTES, LIVE_ROUTE "seed%c%c%c", 'a' + i / 676 % 26,
		 'a' + i / 26 % 26, 'a' + i % 26);
}

/* Seed the agent's series: one request per distinct route, on one
 * keep-alive connection; the answers that came back 200. */
static uint64_t live_seed(uint16_t port, int paths, char *buf)
{
	uint64_t ok = 0;
	size_t bytes;
	int fd = -1;

	for (int i = 0; i < paths; i++) {
		char path[LIVE_PATH_BYTES];

		live_path(i, path);
		if (http_get(&fd, port, path, buf, RECV_BYTES, &bytes) == 200)
			ok++;
		else if (fd >= 0) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static void live_run(const struct live_opts *o, struct live_result *L)
{
	char config[600], err_path[600], text[256], proc_label[96], self[256];
	struct lab_server_opts so = { .body_bytes = LIVE_BODY_BYTES };
	struct lab_server srv = { 0 };
	struct lab_server_counts sc;
	struct loader ld = { 0 };
	struct scraper scr = { .buf = o->buf2 };
	struct strbuf page;
	char *names = NULL;
	const char **targets = NULL;
	pthread_t th_load, th_scrape;
	uint16_t port;
	uint64_t expected, deadline;
	double cpu0, cpu1, t0, t1;
	ssize_t n;
	pid_t agent;
	FILE *f;
	int st, free_port;

	memset(L, 0, sizeof(*L));
	if (!o->sonde) {
		snprintf(L->skipped, sizeof(L->skipped),
			 "no --sonde PATH given (make bench-agent passes build/sonde)");
		return;
	}
	if (geteuid()) {
		snprintf(L->skipped, sizeof(L->skipped),
			 "not root: sonde agent needs BPF (run make bench-agent as root)");
		return;
	}
	if (access(o->sonde, X_OK)) {
		snprintf(L->skipped, sizeof(L->skipped), "%s: %s (build it: make all)", o->sonde,
			 strerror(errno));
		return;
	}
	/* the built-in server is a child of this process, not an exec: the
	 * agent names it after this program's executable */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	snprintf(proc_label, sizeof(proc_label), "process_name=\"%.64s\"",
		 strrchr(self, '/') ? strrchr(self, '/') + 1 : "bench_agent");
	strbuf_init(&page, ENDPOINT_PAGE_BYTES_MAX);

	free_port = lab_free_port();
	port = free_port > 0 ? (uint16_t)free_port : 0;
	snprintf(config, sizeof(config), "%s/agent.json", o->out);
	snprintf(err_path, sizeof(err_path), "%s/agent.err", o->out);
	f = fopen(config, "w");
	if (!f || !port) {
		snprintf(L->error, sizeof(L->error), "cannot write %s or find a free port", config);
		if (f)
			fclose(f);
		strbuf_free(&page);
		return;
	}
	/* budget not enforced: the agent must count every request, never
	 * sample (at this rate it goes over its default 5 % of a core) */
	fprintf(f, "{\"listen_address\":\"127.0.0.1\",\"listen_port\":%u,\"max_series\":%d,"
		   "\"budget\":{\"enforced\":false}}\n", port, LIVE_MAX_SERIES);
	fclose(f);
	agent = agent_spawn(o->sonde, config, err_path);
	if (agent < 0) {
		snprintf(L->error, sizeof(L->error), "fork: %s", strerror(errno));
		strbuf_free(&page);
		return;
	}
	fprintf(stderr, "live: sonde agent (pid %d) on port %u, waiting for its tracers\n", (int)agent,
		port);
	deadline = lab_now_ns() + AGENT_READY_MS * 1000000ull;
	for (;;) {
		if (fetch(port, "/health", &page, o->buf) == 200 && page.buf &&
		    strstr(page.buf, "\"http\":\"attached\""))
			break;
		if (waitpid(agent, &st, WNOHANG) == agent) {
			lab_read_last_line(err_path, text, sizeof(text));
			snprintf(L->error, sizeof(L->error),
				 "sonde agent exited (%s %d) before it was ready: %s",
				 WIFEXITED(st) ? "exit" : "signal",
				 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
				 text[0] ? text : "nothing on stderr");
			strbuf_free(&page);
			return;
		}
		if (lab_now_ns() > deadline) {
			snprintf(L->error, sizeof(L->error), "sonde agent not ready after %u ms, see %s",
				 AGENT_READY_MS, err_path);
			goto out_agent;
		}
		poll(NULL, 0, 100);
	}
	if ((st = lab_server_start(&so, &srv))) {
		snprintf(L->error, sizeof(L->error), "the built-in server did not start: %s",
			 strerror(-st));
		goto out_agent;
	}
	L->seeded = live_seed(srv.port, o->paths, o->buf);
	fprintf(stderr, "live: %llu requests on distinct routes; now %.0f requests/s for %.0f s, "
			"/health at %d/s, /metrics every %llu ms\n",
		(unsigned long long)L->seeded, o->rate, o->seconds, HEALTH_RATE,
		MIXED_SCRAPE_INTERVAL_NS / 1000000ull);

	ld.o = (struct lab_load_opts){ .port = srv.port, .path = LIVE_ROUTE "load",
				       .conns = LIVE_CONNS, .threads = 1, .rate = o->rate,
				       .duration_s = o->seconds };
	/* the load spreads over the same routes, in turn: every series is
	 * observed into while the scrapes copy them */
	names = o->paths > 0 ? calloc((size_t)o->paths, LIVE_PATH_BYTES) : NULL;
	targets = o->paths > 0 ? calloc((size_t)o->paths, sizeof(*targets)) : NULL;
	if (names && targets) {
		for (int i = 0; i < o->paths; i++) {
			live_path(i, names + (size_t)i * LIVE_PATH_BYTES);
			targets[i] = names + (size_t)i * LIVE_PATH_BYTES;
		}
		ld.o.paths = targets;
		ld.o.n_paths = (uint32_t)o->paths;
	}
	scr.port = port;
	cpu0 = proc_cpu_s(agent);
	t0 = (double)lab_now_ns() / 1e9;
	pthread_create(&th_load, NULL, loader_main, &ld);
	pthread_create(&th_scrape, NULL, scraper_main, &scr);
	run_health(port, (int)(o->seconds * HEALTH_RATE), &L->health, o->buf);
	atomic_store(&scr.stop, true);
	pthread_join(th_scrape, NULL);
	pthread_join(th_load, NULL);
	cpu1 = proc_cpu_s(agent);
	t1 = (double)lab_now_ns() / 1e9;
	L->metrics = scr.r;
	L->page_bytes = scr.page_bytes;
	L->agent_cpu_pct = cpu0 >= 0 && cpu1 >= 0 ? (cpu1 - cpu0) / (t1 - t0) * 100.0 : NAN;
	if (ld.err) {
		snprintf(L->error, sizeof(L->error), "load generator: %s", strerror(-ld.err));
		lab_load_result_free(&ld.r);
		goto out_server;
	}
	L->gen_issued = ld.r.issued;
	L->gen_completed = ld.r.completed;
	L->gen_errors = ld.r.err_connect + ld.r.err_timeout + ld.r.err_status + ld.r.err_io +
			ld.r.unsent;
	L->gen_p99_us = (double)lab_hist_percentile(&ld.r.hist, 99) / 1000.0;
	lab_load_result_free(&ld.r);

	/* the agent counts a request once its response is read from the ring
	 * buffer (polled every 100 ms): wait until it has all of them, then
	 * for a fresh snapshot of its drop counters */
	expected = L->seeded + L->gen_completed;
	deadline = lab_now_ns() + LIVE_SETTLE_MS * 1000000ull;
	do {
		if (fetch(port, "/metrics", &page, o->buf) == 200 &&
		    live_count(page.buf, "server", proc_label) >= (double)expected)
			break;
		poll(NULL, 0, 250);
	} while (lab_now_ns() < deadline);
	poll(NULL, 0, SNAPSHOT_WAIT_MS);
	if (fetch(port, "/metrics", &page, o->buf) != 200 || !page.buf) {
		snprintf(L->error, sizeof(L->error), "the final /metrics did not answer 200");
		goto out_server;
	}
	lab_server_counts(&srv, &sc);
	L->server_answered = sc.requests;
	L->agent_server = live_count(page.buf, "server", proc_label);
	L->agent_client = live_count(page.buf, "client", proc_label);
	L->drops = page_sum(page.buf, "sonde_events_dropped_total{", NULL, NULL, L->drop_lines,
			    sizeof(L->drop_lines));
	L->series = page_sum(page.buf, "sonde_series ", NULL, NULL, NULL, 0);
	L->health_ok = L->health.n && !L->health.failed && L->health.p99_us < TARGET_HEALTH_P99_US;
	L->metrics_ok = L->metrics.n && !L->metrics.failed &&
			L->metrics.p99_us < TARGET_METRICS_P99_US;
	L->lossless = L->agent_server == (double)expected && L->drops == 0;
out_server:
	lab_server_stop(&srv);
out_agent:
	st = agent_stop(agent);
	lab_read_last_line(err_path, L->agent_last, sizeof(L->agent_last));
	if (!L->error[0] && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		snprintf(L->error, sizeof(L->error), "sonde agent did not stop cleanly (%s %d), see %s",
			 WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
			 err_path);
		L->health_ok = L->metrics_ok = L->lossless = false;
	}
	strbuf_free(&page);
	free(names);
	free(targets);
}

enum { PH_HEALTH, PH_MIXED, PH_METRICS0 };

struct cfg {
	int rounds, health_requests, scrapes;
	uint32_t sizes[SIZES_MAX];
	int n_sizes;
	const char *out;
	bool strict;
	const char *sonde;      /* the live run's binary; NULL: no live run */
	double live_seconds, live_rate;
	int live_paths;
};

struct summary {
	double med, min, max;
};

#define RENDER_RUNS 11
static struct summary render_us[SIZES_MAX];

static struct summary summarize(const double *v, int n)
{
	double tmp[ROUNDS_MAX];
	struct summary s;

	memcpy(tmp, v, sizeof(*v) * (size_t)n);
	qsort(tmp, (size_t)n, sizeof(*tmp), cmp_double);
	s.min = tmp[0];
	s.max = tmp[n - 1];
	s.med = n & 1 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
	return s;
}

/* A number for results.json: JSON has no NaN (a phase whose every request
 * failed), so null. */
static const char *jnum(char *out, size_t size, double v)
{
	if (isnan(v) || isinf(v))
		snprintf(out, size, "null");
	else
		snprintf(out, size, "%.1f", v);
	return out;
}

/* The live run went to its end (its figures are there to judge). */
static bool live_ran(const struct live_result *L)
{
	return !L->skipped[0] && !L->error[0];
}

/* A string for JSON: the bench's own texts, with quotes and backslashes
 * (a path, an agent's message) escaped. */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static void live_json(FILE *f, const struct cfg *c, const struct live_result *L,
		      const char *load)
{
	char j[8][32];

	fprintf(f, "\"live\":{");
	if (L->skipped[0]) {
		fprintf(f, "\"skipped\":");
		json_str(f, L->skipped);
		fprintf(f, "},\n");
		return;
	}
	if (L->error[0]) {
		fprintf(f, "\"error\":");
		json_str(f, L->error);
		fprintf(f, ",");
	}
	fprintf(f, "\"loadavg_end\":\"%s\",\"rate_per_s\":%.0f,\"seconds\":%.1f,\"distinct_routes\":%d,"
		   "\"scrape_interval_ms\":%llu,\"health_rate_per_s\":%d",
		load, c->live_rate, c->live_seconds, c->live_paths,
		MIXED_SCRAPE_INTERVAL_NS / 1000000ull, HEALTH_RATE);
	if (L->error[0] && !L->health.n) {
		/* stopped before the load: no figure to show */
		fprintf(f, ",\"agent_last_line\":");
		json_str(f, L->agent_last);
		fprintf(f, "},\n");
		return;
	}
	fprintf(f, ",\n");
	fprintf(f, " \"health\":{\"n\":%d,\"failed\":%d,\"p50_us\":%s,\"p99_us\":%s,\"max_us\":%s,"
		   "\"client_wake_late_p99_us\":%s,\"p99_from_actual_send_us\":%s},\n",
		L->health.n, L->health.failed, jnum(j[0], 32, L->health.p50_us),
		jnum(j[1], 32, L->health.p99_us), jnum(j[2], 32, L->health.max_us),
		jnum(j[3], 32, L->health.wake_p99_us), jnum(j[4], 32, L->health.sent_p99_us));
	fprintf(f, " \"metrics\":{\"n\":%d,\"failed\":%d,\"page_bytes\":%zu,\"series\":%s,"
		   "\"p50_us\":%s,\"p99_us\":%s,\"max_us\":%s},\n",
		L->metrics.n, L->metrics.failed, L->page_bytes, jnum(j[0], 32, L->series),
		jnum(j[1], 32, L->metrics.p50_us), jnum(j[2], 32, L->metrics.p99_us),
		jnum(j[3], 32, L->metrics.max_us));
	fprintf(f, " \"requests\":{\"distinct_routes_answered\":%llu,\"generator_issued\":%llu,"
		   "\"generator_completed\":%llu,\"generator_errors\":%llu,\"expected\":%llu,"
		   "\"server_answered\":%llu,\"agent_counted_server\":%s,\"agent_counted_client\":%s},\n",
		(unsigned long long)L->seeded, (unsigned long long)L->gen_issued,
		(unsigned long long)L->gen_completed, (unsigned long long)L->gen_errors,
		(unsigned long long)(L->seeded + L->gen_completed),
		(unsigned long long)L->server_answered, jnum(j[0], 32, L->agent_server),
		jnum(j[1], 32, L->agent_client));
	fprintf(f, " \"target_p99_us\":%s,\"agent_cpu_pct_of_one_core\":%s,\"events_dropped\":%s,"
		   "\"drops\":", jnum(j[0], 32, L->gen_p99_us), jnum(j[1], 32, L->agent_cpu_pct),
		jnum(j[2], 32, L->drops));
	json_str(f, L->drop_lines);
	fprintf(f, ",\"agent_last_line\":");
	json_str(f, L->agent_last);
	fprintf(f, "},\n");
}

static void live_report(FILE *f, const struct cfg *c, const struct live_result *L,
			const char *load)
{
	fprintf(f, "\n## Live: sonde agent tracing a server\n\n");
	if (L->skipped[0]) {
		fprintf(f, "skipped: %s\n", L->skipped);
		return;
	}
	if (L->error[0])
		fprintf(f, "**failed**: %s\n\n", L->error);
	fprintf(f, "`sonde agent` (budget not enforced) traced the lab's built-in server: %llu "
		   "requests of %d distinct routes, then the lab's load generator at %.0f requests/s "
		   "for %.0f s over the same routes in turn, while /health was asked at %d/s "
		   "(open loop) and /metrics every %llu ms. Load average at the end: %s.\n\n",
		(unsigned long long)L->seeded, c->live_paths, c->live_rate, c->live_seconds,
		HEALTH_RATE, MIXED_SCRAPE_INTERVAL_NS / 1000000ull, load);
	if (L->error[0] && !L->health.n) {
		if (L->agent_last[0])
			fprintf(f, "The agent's last line: `%s`\n", L->agent_last);
		return;
	}
	fprintf(f, "| | n | p50 µs | p99 µs | max µs | failed |\n|---|---:|---:|---:|---:|---:|\n");
	fprintf(f, "| /health at %d/s | %d | %.0f | %.0f | %.0f | %d |\n", HEALTH_RATE, L->health.n,
		L->health.p50_us, L->health.p99_us, L->health.max_us, L->health.failed);
	fprintf(f, "| /metrics, %.0f series (%zu bytes) | %d | %.0f | %.0f | %.0f | %d |\n\n", L->series,
		L->page_bytes, L->metrics.n, L->metrics.p50_us, L->metrics.p99_us, L->metrics.max_us,
		L->metrics.failed);
	fprintf(f, "/health: the client woke late by p99 %.0f µs; from the actual send, p99 %.0f µs. "
		   "/metrics: %d scrapes, so its p99 is about their maximum.\n",
		L->health.wake_p99_us, L->health.sent_p99_us, L->metrics.n);
	fprintf(f, "Requests: %llu of distinct routes + %llu the load generator completed "
		   "(%llu issued, %llu errors) = %llu made; the server answered %llu; the agent counted "
		   "%.0f (server side; client side %.0f). Drops: %.0f%s%s. The agent's process used "
		   "%.1f %% of one core during the load (its BPF programs' run time not included); "
		   "the server's p99 as the generator saw it: %.0f µs.\n",
		(unsigned long long)L->seeded, (unsigned long long)L->gen_completed,
		(unsigned long long)L->gen_issued, (unsigned long long)L->gen_errors,
		(unsigned long long)(L->seeded + L->gen_completed),
		(unsigned long long)L->server_answered, L->agent_server, L->agent_client, L->drops,
		L->drop_lines[0] ? ": " : "", L->drop_lines, L->agent_cpu_pct, L->gen_p99_us);
	if (L->agent_last[0])
		fprintf(f, "The agent's last line: `%s`\n", L->agent_last);
	if (L->error[0])
		return;
	fprintf(f, "\n- live /health p99: %.0f µs, target < %.0f µs: **%s**\n"
		   "- live /metrics (%.0f series) p99: %.0f µs, target < %.0f µs: **%s**\n"
		   "- tracing loses nothing (agent's count == requests made, 0 drops): %.0f == %llu, "
		   "%.0f drops: **%s**\n",
		L->health.p99_us, TARGET_HEALTH_P99_US, L->health_ok ? "met" : "missed", L->series,
		L->metrics.p99_us, TARGET_METRICS_P99_US, L->metrics_ok ? "met" : "missed",
		L->agent_server, (unsigned long long)(L->seeded + L->gen_completed), L->drops,
		L->lossless ? "met" : "missed");
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bench_agent [--rounds N] [--out DIR] [--series LIST]\n"
		"                   [--health-requests N] [--scrapes N] [--strict]\n"
		"                   [--sonde PATH [--live-seconds S] [--live-rate R] [--live-paths N]]\n"
		"Measure the agent endpoint: /health at 1,000 requests/s (open loop),\n"
		"/metrics of each size in LIST (default 100,1000,10000), /health during\n"
		"scrapes; N interleaved rounds (default %d). Normally `make bench-agent`.\n"
		"--sonde PATH (as root): then run PATH agent live, tracing the lab's server\n"
		"at R requests/s (default %.0f) for S seconds (default %.0f) after N requests\n"
		"of distinct routes (default %d), /health and /metrics asked meanwhile; its\n"
		"answer times, and its request count and drops against the requests made.\n"
		"--strict: exit 1 when a target is missed.\n",
		ROUNDS_DEFAULT, LIVE_RATE_DEFAULT, LIVE_SECONDS_DEFAULT, LIVE_PATHS_DEFAULT);
}

static int parse_sizes(struct cfg *c, const char *list)
{
	char *copy = strdup(list), *tok, *save = NULL;

	c->n_sizes = 0;
	for (tok = strtok_r(copy, ",", &save); tok && c->n_sizes < SIZES_MAX;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long v = strtoul(tok, NULL, 10);

		if (!v || v > 100000) {
			free(copy);
			return -EINVAL;
		}
		c->sizes[c->n_sizes++] = (uint32_t)v;
	}
	free(copy);
	return c->n_sizes ? 0 : -EINVAL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "series", required_argument, NULL, 's' },
		{ "health-requests", required_argument, NULL, 'H' },
		{ "scrapes", required_argument, NULL, 'S' },
		{ "strict", no_argument, NULL, 'x' },
		{ "sonde", required_argument, NULL, 'L' },
		{ "live-seconds", required_argument, NULL, 'T' },
		{ "live-rate", required_argument, NULL, 'R' },
		{ "live-paths", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static double p50[SIZES_MAX + 2][ROUNDS_MAX], p99[SIZES_MAX + 2][ROUNDS_MAX];
	static double wake99[PH_METRICS0][ROUNDS_MAX], sent99[PH_METRICS0][ROUNDS_MAX];
	static int failed[SIZES_MAX + 2];
	struct cfg c = { .rounds = ROUNDS_DEFAULT, .health_requests = HEALTH_REQUESTS_DEFAULT,
			 .scrapes = SCRAPES_DEFAULT, .out = NULL, .live_seconds = LIVE_SECONDS_DEFAULT,
			 .live_rate = LIVE_RATE_DEFAULT, .live_paths = LIVE_PATHS_DEFAULT };
	struct live_result live;
	const char *const tools[][2] = { { "libmicrohttpd", "dpkg-query -W -f '${Version}' libmicrohttpd12 2>/dev/null" },
					 { NULL, NULL } };
	char err[256], path[512], load_start[128], load_end[128], load_live[128], *buf, *buf2;
	int mixed_table = -1, n_phases, opt, ret = 0;
	uint64_t waits = 0, wait_p99_ns = 0;
	double health_p99_med, metrics_p99_med = NAN;
	bool health_ok, metrics_ok;
	pthread_t tracer;
	FILE *f;

	parse_sizes(&c, "100,1000,10000");
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			c.rounds = atoi(optarg);
			break;
		case 'o':
			c.out = optarg;
			break;
		case 's':
			if (parse_sizes(&c, optarg)) {
				fprintf(stderr, "bench_agent: --series takes sizes like 100,1000\n");
				return 2;
			}
			break;
		case 'H':
			c.health_requests = atoi(optarg);
			break;
		case 'S':
			c.scrapes = atoi(optarg);
			break;
		case 'x':
			c.strict = true;
			break;
		case 'L':
			c.sonde = optarg;
			break;
		case 'T':
			c.live_seconds = atof(optarg);
			break;
		case 'R':
			c.live_rate = atof(optarg);
			break;
		case 'P':
			c.live_paths = atoi(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (c.rounds < 1 || c.rounds > ROUNDS_MAX || c.health_requests < 100 || c.scrapes < 2) {
		fprintf(stderr, "bench_agent: rounds 1..%d, health-requests >= 100, scrapes >= 2\n",
			ROUNDS_MAX);
		return 2;
	}
	if (!(c.live_seconds >= 1 && c.live_seconds <= 600) ||
	    !(c.live_rate > 0 && c.live_rate <= 100000) || c.live_paths < 0 ||
	    c.live_paths > LIVE_PATHS_MAX) {
		fprintf(stderr, "bench_agent: live-seconds 1..600, live-rate 1..100000, live-paths 0..%d\n",
			LIVE_PATHS_MAX);
		return 2;
	}
	if (!c.out) {
		static char def[64];
		time_t now = time(NULL);

		strftime(def, sizeof(def), "bench-results/agent/%Y%m%d-%H%M%S", localtime(&now));
		c.out = def;
	}
	snprintf(path, sizeof(path), "mkdir -p '%s'", c.out);
	if (system(path)) {
		fprintf(stderr, "bench_agent: cannot create %s\n", c.out);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/system_info.txt", c.out);
	lab_sysinfo_write(path, tools);
	lab_sysinfo_loadavg(load_start, sizeof(load_start));
	/* wake-ups of the open-loop client within a microsecond, not 50 */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	snap.tracer[AGENT_TRACER_HTTP].enabled = snap.tracer[AGENT_TRACER_HTTP].attached = true;
	snap.tracer[AGENT_TRACER_EXEC].enabled = snap.tracer[AGENT_TRACER_EXEC].attached = true;
	n_tables = c.n_sizes;
	for (int i = 0; i < n_tables; i++) {
		if (table_make(&tables[i], c.sizes[i], err, sizeof(err)) ||
		    agent_endpoint_start(&tables[i].e, "127.0.0.1", 0, render, &tables[i], err,
					 sizeof(err))) {
			fprintf(stderr, "bench_agent: %s\n", err);
			return 2;
		}
		tables[i].port = agent_endpoint_port(tables[i].e);
		if (c.sizes[i] == MIXED_SERIES)
			mixed_table = i;
	}
	if (mixed_table < 0)
		mixed_table = 0;
	buf = malloc(RECV_BYTES);
	buf2 = malloc(RECV_BYTES);
	if (!buf || !buf2)
		return 2;
	/* the rendering alone, in this thread, for the split between
	 * rendering and sending */
	for (int i = 0; i < n_tables; i++) {
		double v[RENDER_RUNS];
		struct strbuf sb;
		const char *type;

		strbuf_init(&sb, ENDPOINT_PAGE_BYTES_MAX);
		for (int k = 0; k < RENDER_RUNS; k++) {
			uint64_t t0 = lab_now_ns();

			strbuf_reset(&sb);
			render(&tables[i], "/metrics", &sb, &type);
			v[k] = (double)(lab_now_ns() - t0) / 1000.0;
		}
		render_us[i] = summarize(v, RENDER_RUNS);
		strbuf_free(&sb);
		fprintf(stderr, "render only, %u series: median %.0f us (%.0f..%.0f)\n", tables[i].n,
			render_us[i].med, render_us[i].min, render_us[i].max);
	}
	atomic_store(&timing_holds, true);
	pthread_create(&tracer, NULL, tracer_main, NULL);

	n_phases = PH_METRICS0 + c.n_sizes;
	for (int r = 0; r < c.rounds; r++) {
		for (int k = 0; k < n_phases; k++) {
			int ph = lab_bench_order(n_phases, r, k);
			struct phase_result res = { 0 };

			if (ph == PH_HEALTH) {
				run_health(tables[mixed_table].port, c.health_requests, &res, buf);
			} else if (ph == PH_MIXED) {
				struct scraper s = { .port = tables[mixed_table].port, .buf = buf2 };
				pthread_t th;

				pthread_create(&th, NULL, scraper_main, &s);
				run_health(tables[mixed_table].port, c.health_requests, &res, buf);
				atomic_store(&s.stop, true);
				pthread_join(th, NULL);
				res.failed += s.r.failed;
			} else {
				struct table *t = &tables[ph - PH_METRICS0];
				int n = t->n > 5000 ? (c.scrapes + 4) / 5 : c.scrapes;

				run_metrics(t->port, n < 2 ? 2 : n, 0, &res, buf, NULL, &t->page_bytes);
			}
			p50[ph][r] = res.p50_us;
			p99[ph][r] = res.p99_us;
			failed[ph] += res.failed;
			fprintf(stderr, "round %d %-14s p50 %8.0f us  p99 %8.0f us  max %8.0f us%s\n",
				r + 1,
				ph == PH_HEALTH ? "health" : ph == PH_MIXED ? "health+scrape" : "metrics",
				res.p50_us, res.p99_us, res.max_us, res.failed ? "  (failures)" : "");
			if (ph < PH_METRICS0) {
				wake99[ph][r] = res.wake_p99_us;
				sent99[ph][r] = res.sent_p99_us;
				fprintf(stderr, "        (client woke late: p99 %.0f us; from the actual "
						"send: p99 %.0f us)\n", res.wake_p99_us, res.sent_p99_us);
			}
			if (ph >= PH_METRICS0)
				fprintf(stderr, "        (%u series, %zu bytes)\n",
					tables[ph - PH_METRICS0].n, tables[ph - PH_METRICS0].page_bytes);
		}
	}
	atomic_store(&tracer_stop, true);
	pthread_join(tracer, NULL);
	lab_sysinfo_loadavg(load_end, sizeof(load_end));
	/* the live run last: the agent's BPF programs and its load are gone
	 * before the in-process rounds could see them */
	{
		struct live_opts lo = { .sonde = c.sonde, .out = c.out, .seconds = c.live_seconds,
					.rate = c.live_rate, .paths = c.live_paths, .buf = buf,
					.buf2 = buf2 };

		live_run(&lo, &live);
		lab_sysinfo_loadavg(load_live, sizeof(load_live));
		if (live.skipped[0])
			fprintf(stderr, "live: skipped: %s\n", live.skipped);
		else if (live.error[0])
			fprintf(stderr, "live: failed: %s\n", live.error);
	}
	for (int b = 0; b < 40; b++)
		waits += lock_wait_hist[b];
	wait_p99_ns = hist_pct(lock_wait_hist, 99);
	{
		struct summary hs = summarize(p99[PH_HEALTH], c.rounds);

		health_p99_med = hs.med;
		health_ok = hs.med < TARGET_HEALTH_P99_US && !failed[PH_HEALTH];
		metrics_ok = false;
		for (int i = 0; i < c.n_sizes; i++)
			if (c.sizes[i] == TARGET_METRICS_SERIES) {
				struct summary ms = summarize(p99[PH_METRICS0 + i], c.rounds);

				metrics_p99_med = ms.med;
				metrics_ok = ms.med < TARGET_METRICS_P99_US && !failed[PH_METRICS0 + i];
			}
	}

	/* results.json */
	snprintf(path, sizeof(path), "%s/results.json", c.out);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "bench_agent: %s: %s\n", path, strerror(errno));
		return 2;
	}
	fprintf(f, "{\"benchmark\":\"agent\",\"cpus\":%ld,\"loadavg_start\":\"%s\",\"loadavg_end\":\"%s\",\n",
		sysconf(_SC_NPROCESSORS_ONLN), load_start, load_end);
	fprintf(f, "\"config\":{\"rounds\":%d,\"health_rate_per_s\":%d,\"health_requests\":%d,"
		   "\"scrapes\":%d,\"mixed_scrape_interval_ms\":%llu,\"tracer_observations_per_s\":%d},\n",
		c.rounds, HEALTH_RATE, c.health_requests, c.scrapes,
		MIXED_SCRAPE_INTERVAL_NS / 1000000ull, TRACER_RATE);
	fprintf(f, "\"targets\":{\"health_p99_us_max\":%.0f,\"metrics_series\":%d,\"metrics_p99_us_max\":%.0f},\n",
		TARGET_HEALTH_P99_US, TARGET_METRICS_SERIES, TARGET_METRICS_P99_US);
	fprintf(f, "\"phases\":[\n");
	for (int ph = 0; ph < n_phases; ph++) {
		struct summary a = summarize(p50[ph], c.rounds), b = summarize(p99[ph], c.rounds);
		char j[6][32];

		fprintf(f, " {\"phase\":\"%s\"", ph == PH_HEALTH ? "health" : ph == PH_MIXED ? "health_during_scrapes" : "metrics");
		if (ph >= PH_METRICS0)
			fprintf(f, ",\"series\":%u,\"page_bytes\":%zu,\"render_only_us\":{\"median\":%.1f,"
				   "\"min\":%.1f,\"max\":%.1f}",
				tables[ph - PH_METRICS0].n, tables[ph - PH_METRICS0].page_bytes,
				render_us[ph - PH_METRICS0].med, render_us[ph - PH_METRICS0].min,
				render_us[ph - PH_METRICS0].max);
		if (ph >= PH_METRICS0) {
			struct table *t = &tables[ph - PH_METRICS0];
			double h50 = pct(t->holds, t->n_holds, 50), h99 = pct(t->holds, t->n_holds, 99);
			double hmax = t->n_holds ? t->holds[t->n_holds - 1] : NAN;

			fprintf(f, ",\"lock_hold_us\":{\"p50\":%s,\"p99\":%s,\"max\":%s,\"n\":%d}",
				jnum(j[0], 32, h50), jnum(j[1], 32, h99), jnum(j[2], 32, hmax), t->n_holds);
		}
		fprintf(f, ",\"failed\":%d,\"p50_us\":{\"median\":%s,\"min\":%s,\"max\":%s},"
			   "\"p99_us\":{\"median\":%s,\"min\":%s,\"max\":%s},\"p99_us_rounds\":[",
			failed[ph], jnum(j[0], 32, a.med), jnum(j[1], 32, a.min), jnum(j[2], 32, a.max),
			jnum(j[3], 32, b.med), jnum(j[4], 32, b.min), jnum(j[5], 32, b.max));
		for (int r = 0; r < c.rounds; r++)
			fprintf(f, "%s%s", r ? "," : "", jnum(j[0], 32, p99[ph][r]));
		fprintf(f, "]");
		if (ph < PH_METRICS0) {
			struct summary w = summarize(wake99[ph], c.rounds);
			struct summary x = summarize(sent99[ph], c.rounds);

			fprintf(f, ",\"client_wake_late_p99_us\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f}",
				w.med, w.min, w.max);
			fprintf(f, ",\"p99_from_actual_send_us\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f}",
				x.med, x.min, x.max);
		}
		fprintf(f, "}%s\n", ph + 1 < n_phases ? "," : "");
	}
	fprintf(f, "],\n\"tracing_thread\":{\"observations\":%llu,\"lock_acquisitions\":%llu,"
		   "\"lock_wait_p99_us_le\":%.1f,\"lock_wait_max_us\":%.1f},\n\"reconnects\":%llu,\n",
		(unsigned long long)tracer_obs, (unsigned long long)waits, (double)wait_p99_ns / 1000.0,
		(double)lock_wait_max_ns / 1000.0, (unsigned long long)reconnects);
	live_json(f, &c, &live, load_live);
	fprintf(f, "\"verdict\":{\"health\":%s,\"metrics\":%s,\"live_health\":%s,"
		   "\"live_metrics\":%s,\"live_loses_nothing\":%s}}\n",
		health_ok ? "true" : "false", metrics_ok ? "true" : "false",
		live.skipped[0] ? "null" : live.health_ok ? "true" : "false",
		live.skipped[0] ? "null" : live.metrics_ok ? "true" : "false",
		live.skipped[0] ? "null" : live.lossless ? "true" : "false");
	fclose(f);

	/* report.md */
	snprintf(path, sizeof(path), "%s/report.md", c.out);
	f = fopen(path, "w");
	if (!f)
		return 2;
	fprintf(f, "# sonde agent endpoint benchmark\n\n"
		   "%d interleaved rounds on %ld CPUs; load average %s at the start, %s at the end.\n"
		   "A stand-in tracing thread observed %d records/s under the series lock throughout.\n\n",
		c.rounds, sysconf(_SC_NPROCESSORS_ONLN), load_start, load_end, TRACER_RATE);
	fprintf(f, "| phase | series | page bytes | render only µs | p50 µs median (min..max) | p99 µs median (min..max) | failed |\n"
		   "|---|---:|---:|---|---|---|---:|\n");
	for (int ph = 0; ph < n_phases; ph++) {
		struct summary a = summarize(p50[ph], c.rounds), b = summarize(p99[ph], c.rounds);

		if (ph >= PH_METRICS0)
			fprintf(f, "| /metrics | %u | %zu | %.0f (%.0f..%.0f) |", tables[ph - PH_METRICS0].n,
				tables[ph - PH_METRICS0].page_bytes, render_us[ph - PH_METRICS0].med,
				render_us[ph - PH_METRICS0].min, render_us[ph - PH_METRICS0].max);
		else
			fprintf(f, "| %s | | | |", ph == PH_HEALTH ? "/health at 1,000/s" :
				"/health at 1,000/s, scrapes of 1,000 series every 250 ms");
		fprintf(f, " %.0f (%.0f..%.0f) | %.0f (%.0f..%.0f) | %d |\n", a.med, a.min, a.max,
			b.med, b.min, b.max, failed[ph]);
	}
	{
		struct summary w = summarize(wake99[PH_HEALTH], c.rounds);
		struct summary x = summarize(sent99[PH_HEALTH], c.rounds);

		fprintf(f, "\nOpen loop: the client's own lateness in waking for a /health request "
			   "(counted in its answer time): p99 %.0f µs median (%.0f..%.0f); the answer "
			   "time from the actual send instead: p99 %.0f µs median (%.0f..%.0f).\n",
			w.med, w.min, w.max, x.med, x.min, x.max);
	}
	fprintf(f, "A scrape held the series lock (its copy):");
	for (int i = 0; i < n_tables; i++)
		fprintf(f, "%s %u series p50 %.0f µs, p99 %.0f µs, max %.0f µs", i ? ";" : "",
			tables[i].n, pct(tables[i].holds, tables[i].n_holds, 50),
			pct(tables[i].holds, tables[i].n_holds, 99),
			tables[i].n_holds ? tables[i].holds[tables[i].n_holds - 1] : NAN);
	fprintf(f, ".\n");
	fprintf(f, "Tracing thread: %llu lock acquisitions, p99 wait <= %.1f µs, max %.1f µs "
		   "(a wait past the longest hold is the holder descheduled).\n"
		   "Answers that closed their connection (the next request connected anew, "
		   "its connect timed): %llu.\n\n",
		(unsigned long long)waits, (double)wait_p99_ns / 1000.0,
		(double)lock_wait_max_ns / 1000.0, (unsigned long long)reconnects);
	fprintf(f, "## Verdict\n\n- /health p99 at 1,000 requests/s: %.0f µs (median of rounds), target < %.0f µs: **%s**\n"
		   "- /metrics of %d series p99: %.0f µs (median of rounds), target < %.0f µs: **%s**\n",
		health_p99_med, TARGET_HEALTH_P99_US, health_ok ? "met" : "missed", TARGET_METRICS_SERIES,
		metrics_p99_med, TARGET_METRICS_P99_US, metrics_ok ? "met" : "missed");
	live_report(f, &c, &live, load_live);
	fclose(f);

	for (int i = 0; i < n_tables; i++) {
		agent_endpoint_stop(tables[i].e);
		series_table_free(tables[i].live);
		series_table_free(tables[i].page);
	}
	free(buf);
	free(buf2);
	snprintf(path, sizeof(path), "%s/report.md", c.out);
	f = fopen(path, "r");
	if (f) {
		char line[512];

		while (fgets(line, sizeof(line), f))
			fputs(line, stdout);
		fclose(f);
	}
	printf("\nbench_agent: %s/report.md, %s/results.json\n", c.out, c.out);
	if (c.strict && (!health_ok || !metrics_ok ||
			 (!live.skipped[0] && (!live_ran(&live) || !live.health_ok || !live.metrics_ok ||
					       !live.lossless))))
		ret = 1;
	return ret;
}
