/* bench_pipeline: how fast does userspace turn raw HTTP events into request
 * records? It replays capture files (pipeline/capture.h) through the whole
 * userspace path - frame checks and decode, the connection table,
 * reassembly, HTTP/1.x parsing, request/response pairing - and a RED
 * aggregation (status classes, bytes, a latency histogram), on one pinned
 * core, with no kernel and no output in the way.
 *
 * Captures: four synthetic ones generated with a fixed seed (keep-alive
 * server traffic, client pipelining, chunked responses longer than the
 * capture, 10,000 connections open at once), plus a recorded nginx run:
 * --capture FILE, or --record-nginx, which records one with `sonde http
 * --record` while the lab's load generator runs against nginx.
 *
 * Per capture, in a forked child (so that peak RSS is its own), one pipeline
 * replays it once to warm up and then once per repetition: the median of
 * events/s, ns per event, paired requests/s and allocations per event
 * (malloc, calloc and realloc are counted by wrappers in this binary: the
 * steady state, the pipeline's slabs already filled), and the peak RSS. With valgrind installed, each capture
 * (a smaller one for the synthetic kinds) is also replayed once under
 * callgrind, collecting only inside the replay: instructions per event, a
 * figure that does not depend on the machine's load and compares across
 * commits. Targets: >= 2 M events/s, >= 1 M requests/s, 0 allocations per
 * event; --check exits 1 when one is missed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "cli/cli_common.h"
#include "lab/histogram.h"
#include "lab/loadgen.h"
#include "lab/nginx.h"
#include "lab/tracer_proc.h"
#include "pipeline/capture.h"
#include "pipeline/http_pipeline.h"

#define SEED 0x5eed2024u
#define REPS_DEFAULT 7
#define REPS_QUICK 5
#define REPS_MAX 50
/* Events per synthetic capture: measured, quick, and under callgrind. */
#define EVENTS_FULL 500000u
#define EVENTS_QUICK 100000u
#define EVENTS_CALLGRIND 20000u
#define CAPTURE_BYTES 512u
#define KEEPALIVE_CONNS 64u
#define MANY_CONNS 10000u
#define PIPELINE_DEPTH 4u
#define BODY_BYTES_MAX 32768u
#define WRITE_BYTES_MAX (BODY_BYTES_MAX + 1024u)
#define NS_PER_S 1e9
#define TARGET_EVENTS_PER_S 2e6
#define TARGET_REQUESTS_PER_S 1e6
/* The nginx recording: an open-loop load, light enough to share the box. */
#define NGINX_RATE 5000.0
#define NGINX_RATE_QUICK 2000.0
#define NGINX_SECONDS 2.0
#define NGINX_SECONDS_QUICK 1.0
#define NGINX_CONNS 16u
#define SONDE_START_MS 15000u
#define SONDE_STOP_MS 20000u
#define CALLGRIND_TIMEOUT_S 300
#define SCENARIOS_MAX 6
#define PATH_BYTES 600

/* ---- allocation counting: every malloc in this process goes through here */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void __libc_free(void *p);

/* Single-threaded where it is read: the replay loop. */
static uint64_t alloc_calls;

void *malloc(size_t size)
{
	alloc_calls++;
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	alloc_calls++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	alloc_calls++;
	return __libc_realloc(p, size);
}

void free(void *p)
{
	__libc_free(p);
}

/* ---- synthetic captures ---- */

enum scenario_kind {
	SC_KEEPALIVE,   /* server: one request, one response per exchange, 64 conns */
	SC_PIPELINED,   /* client: 4 requests per write, responses one by one */
	SC_CHUNKED,     /* server: chunked bodies over several writes, longer than the capture */
	SC_MANY_CONNS,  /* server: 10,000 connections open at once, 1-3 requests each */
	SC_SYNTH_COUNT,
	SC_RECORDED = SC_SYNTH_COUNT, /* a capture file from sonde http --record */
};

static const char *const scenario_names[] = {
	[SC_KEEPALIVE] = "keepalive",
	[SC_PIPELINED] = "pipelined",
	[SC_CHUNKED] = "chunked",
	[SC_MANY_CONNS] = "many_conns",
};

struct rng {
	uint64_t s;
};

static uint32_t rng_next(struct rng *r)
{
	/* xorshift64*: fixed seed, same captures on every run and machine */
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (uint32_t)((r->s * 0x2545F4914F6CDD1Dull) >> 32);
}

static uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_next(r) % (hi - lo + 1);
}

struct gen_conn {
	uint64_t id;
	uint32_t exchanges;   /* still to run */
	uint32_t step;        /* within the current exchange; 0 = not opened yet */
	uint32_t chunks;      /* chunked: body writes left */
	uint32_t pending;     /* pipelined: responses still to read */
	bool opened;
};

struct gen {
	struct capture_writer *w;
	struct rng rng;
	enum scenario_kind kind;
	uint64_t ts;
	uint64_t events;
	uint64_t next_id;
	struct http_data_event ev;
	char bytes[WRITE_BYTES_MAX];
};

/* The header every generated record starts with. */
static void gen_hdr(const struct gen *g, const struct gen_conn *c, struct http_event_hdr *h,
		    uint32_t kind)
{
	h->kind = kind;
	h->pid = 4242;
	h->conn_id = c->id;
	h->ts_ns = g->ts;
}

static int emit_open(struct gen *g, struct gen_conn *c)
{
	struct http_open_event e;

	memset(&e, 0, sizeof(e));
	gen_hdr(g, c, &e.hdr, HTTP_EV_OPEN);
	e.fd = (uint32_t)(c->id % 60000) + 10;
	e.origin = g->kind == SC_PIPELINED ? HTTP_ORIGIN_CONNECT : HTTP_ORIGIN_ACCEPT;
	e.family = AF_INET;
	e.lport = g->kind == SC_PIPELINED ? (uint16_t)(20000 + c->id % 40000) : 8080;
	e.rport = g->kind == SC_PIPELINED ? 8080 : (uint16_t)(20000 + c->id % 40000);
	inet_pton(AF_INET, "127.0.0.1", e.laddr);
	inet_pton(AF_INET, "127.0.0.1", e.raddr);
	memcpy(e.comm, g->kind == SC_PIPELINED ? "client" : "server", 6);
	g->events++;
	return capture_writer_raw(g->w, &e, sizeof(e));
}

static int emit_close(struct gen *g, struct gen_conn *c)
{
	struct http_close_event e;

	memset(&e, 0, sizeof(e));
	gen_hdr(g, c, &e.hdr, HTTP_EV_CLOSE);
	g->events++;
	return capture_writer_raw(g->w, &e, sizeof(e));
}

/* One read or write of len bytes, of which g->bytes holds the first ones
 * that matter (the rest is body filler): captured as the kernel would, the
 * first CAPTURE_BYTES and the last HTTP_TAIL_BYTES. */
static int emit_data(struct gen *g, struct gen_conn *c, uint8_t dir, size_t len)
{
	struct http_data_event *e = &g->ev;
	size_t cap = len < CAPTURE_BYTES ? len : CAPTURE_BYTES;

	memset(e, 0, HTTP_DATA_HEAD_BYTES);
	gen_hdr(g, c, &e->hdr, HTTP_EV_DATA);
	e->enter_ns = g->ts - rng_range(&g->rng, 500, 5000);
	e->len = (uint32_t)len;
	e->cap = (uint16_t)cap;
	e->dir = dir;
	e->tid = 4242;
	memcpy(e->data, g->bytes, cap);
	if (len > cap) {
		size_t tail = len - cap < HTTP_TAIL_BYTES ? len - cap : HTTP_TAIL_BYTES;

		e->tail_len = (uint8_t)tail;
		memcpy(e->tail, g->bytes + len - tail, tail);
	}
	g->events++;
	return capture_writer_raw(g->w, e, HTTP_DATA_HEAD_BYTES + cap);
}

/* A request head into g->bytes at off; its length. */
static size_t put_request(struct gen *g, size_t off)
{
	static const char *const paths[] = { "/", "/index.html", "/api/v1/items?id=42",
					     "/static/app.js", "/search?q=sonde&page=2" };
	uint32_t p = rng_next(&g->rng) % (sizeof(paths) / sizeof(paths[0]));

	return (size_t)snprintf(g->bytes + off, sizeof(g->bytes) - off,
				"GET %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench/1.0\r\n"
				"Accept: */*\r\n\r\n", paths[p]);
}

/* A whole Content-Length response (head + body filler) into g->bytes; its
 * length on the wire. */
static size_t put_response(struct gen *g, uint32_t body)
{
	int n = snprintf(g->bytes, sizeof(g->bytes),
			 "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n"
			 "Content-Length: %u\r\nConnection: keep-alive\r\n\r\n", body);

	memset(g->bytes + n, 'x', body);
	return (size_t)n + body;
}

static size_t put_chunk(struct gen *g, uint32_t size)
{
	int n = snprintf(g->bytes, sizeof(g->bytes), "%x\r\n", size);

	memset(g->bytes + n, 'y', size);
	memcpy(g->bytes + n + size, "\r\n", 2);
	return (size_t)n + size + 2;
}

/* Emit the connection's next event; false once it has closed. */
static bool conn_step(struct gen *g, struct gen_conn *c, int *err)
{
	size_t len;

	g->ts += rng_range(&g->rng, 200, 4000);
	if (!c->opened) {
		c->opened = true;
		*err = emit_open(g, c);
		return true;
	}
	if (c->exchanges == 0) {
		*err = emit_close(g, c);
		return false;
	}
	switch (g->kind) {
	case SC_PIPELINED:
		if (c->pending == 0) {
			len = 0;
			for (uint32_t i = 0; i < PIPELINE_DEPTH; i++)
				len += put_request(g, len);
			c->pending = PIPELINE_DEPTH;
			*err = emit_data(g, c, HTTP_DIR_EGRESS, len);
		} else {
			*err = emit_data(g, c, HTTP_DIR_INGRESS,
					 put_response(g, rng_range(&g->rng, 0, 2000)));
			if (--c->pending == 0)
				c->exchanges--;
		}
		return true;
	case SC_CHUNKED:
		if (c->step == 0) {
			*err = emit_data(g, c, HTTP_DIR_INGRESS, put_request(g, 0));
			c->step = 1;
		} else if (c->step == 1) {
			len = (size_t)snprintf(g->bytes, sizeof(g->bytes),
					       "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
					       "Transfer-Encoding: chunked\r\n\r\n");
			*err = emit_data(g, c, HTTP_DIR_EGRESS, len);
			c->chunks = rng_range(&g->rng, 1, 4);
			c->step = 2;
		} else if (c->chunks > 0) {
			*err = emit_data(g, c, HTTP_DIR_EGRESS,
					 put_chunk(g, rng_range(&g->rng, 100, 8000)));
			c->chunks--;
		} else {
			memcpy(g->bytes, "0\r\n\r\n", 5);
			*err = emit_data(g, c, HTTP_DIR_EGRESS, 5);
			c->step = 0;
			c->exchanges--;
		}
		return true;
	default:
		if (c->step == 0) {
			*err = emit_data(g, c, HTTP_DIR_INGRESS, put_request(g, 0));
			c->step = 1;
		} else {
			uint32_t body = rng_next(&g->rng) % 8 ? rng_range(&g->rng, 0, 1500)
							      : rng_range(&g->rng, 1500, BODY_BYTES_MAX);

			*err = emit_data(g, c, HTTP_DIR_EGRESS, put_response(g, body));
			c->step = 0;
			c->exchanges--;
		}
		return true;
	}
}

static void conn_init(struct gen *g, struct gen_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->id = ++g->next_id;
	c->exchanges = g->kind == SC_MANY_CONNS ? rng_range(&g->rng, 1, 3)
						: rng_range(&g->rng, 5, 200);
}

/* Write a synthetic capture of about `events` events; 0 or a negative errno. */
static int generate(enum scenario_kind kind, uint32_t events, const char *path)
{
	uint32_t nconns = kind == SC_MANY_CONNS ? MANY_CONNS : KEEPALIVE_CONNS;
	struct gen *g = calloc(1, sizeof(*g));
	struct gen_conn *conns = calloc(nconns, sizeof(*conns));
	struct capture_info info;
	int ret = -ENOMEM, err = 0;

	if (!g || !conns)
		goto out;
	g->kind = kind;
	g->rng.s = SEED + kind;
	g->ts = 1000000000ull;
	capture_info_init(&info, CAPTURE_KIND_HTTP, 0);
	info.capture_bytes = CAPTURE_BYTES;
	ret = capture_writer_open(&g->w, path, &info);
	if (ret)
		goto out;
	for (uint32_t i = 0; i < nconns; i++)
		conn_init(g, &conns[i]);
	/* many_conns: every connection opens before any request */
	if (kind == SC_MANY_CONNS)
		for (uint32_t i = 0; i < nconns && !err; i++)
			conn_step(g, &conns[i], &err);
	while (g->events < events && !err) {
		struct gen_conn *c = &conns[rng_next(&g->rng) % nconns];

		if (!conn_step(g, c, &err))
			conn_init(g, c);
	}
	/* close what is open, as a finished run would */
	for (uint32_t i = 0; i < nconns && !err; i++)
		if (conns[i].opened)
			err = emit_close(g, &conns[i]);
	ret = capture_writer_close(g->w);
	if (!ret)
		ret = err;
out:
	free(conns);
	free(g);
	return ret;
}

/* ---- replay ---- */

/* What a RED aggregator keeps: rate by status class, bytes, latency. */
struct agg {
	uint64_t records;
	uint64_t status_class[6];   /* 0: no status, 1xx .. 5xx */
	uint64_t req_bytes, resp_bytes;
	struct lab_hist latency;
};

static void aggregate(const struct http_record *r, void *ctx)
{
	struct agg *a = ctx;
	uint32_t cls = r->ex->status / 100;

	a->records++;
	a->status_class[cls < 6 ? cls : 0]++;
	a->req_bytes += r->ex->req_bytes;
	a->resp_bytes += r->ex->resp_bytes;
	if (r->latency_ns)
		lab_hist_record(&a->latency, r->latency_ns);
}

/* The measured unit (callgrind collects only in here): one whole replay. */
__attribute__((noinline)) int bench_replay_once(struct capture_reader *r, struct http_pipeline *p,
						struct capture_replay_stats *rs)
{
	return capture_replay_http(r, p, rs);
}

struct run_result {
	int err;                  /* 0, or a negative errno (message in msg) */
	char msg[CAPTURE_ERR_BYTES];
	uint64_t events, records;
	double ns, allocs;         /* medians: per replay */
	double events_per_s, ns_per_event, records_per_s, allocs_per_event;
	long maxrss_kb;
	uint64_t capture_bytes;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* Replay path reps times (one warm-up first); in the calling process. */
static void replay_file(const char *path, int reps, struct run_result *res)
{
	static double ev_s[REPS_MAX], ns_ev[REPS_MAX], rec_s[REPS_MAX], al_ev[REPS_MAX];
	struct capture_reader *reader = malloc(sizeof(*reader));
	struct http_pipeline_opts po = { .max_conns = MANY_CONNS + 1024 };
	struct http_pipeline *p = NULL;
	struct capture_file f;
	struct agg agg = { 0 };
	volatile uint8_t sink = 0;
	char err[256];

	memset(res, 0, sizeof(*res));
	if (!reader || lab_hist_init(&agg.latency)) {
		res->err = -ENOMEM;
		snprintf(res->msg, sizeof(res->msg), "out of memory");
		free(reader);
		return;
	}
	res->err = capture_file_load(&f, path, err, sizeof(err));
	if (res->err) {
		snprintf(res->msg, sizeof(res->msg), "%.180s", err);
		goto out;
	}
	res->capture_bytes = f.len;
	/* fault the capture in before timing: replay, not page faults */
	for (size_t i = 0; i < f.len; i += 4096)
		sink ^= ((const uint8_t *)f.data)[i];
	(void)sink;
	if (capture_reader_init(reader, f.data, f.len) || reader->info.kind != CAPTURE_KIND_HTTP) {
		res->err = -EINVAL;
		snprintf(res->msg, sizeof(res->msg), "%s",
			 reader->err ? reader->err_msg : "not an http capture");
		goto out;
	}
	if (reader->info.max_conns > po.max_conns)
		po.max_conns = reader->info.max_conns;
	po.evict_oldest = (reader->info.flags & CAPTURE_F_HTTP_EVICT_OLDEST) != 0;
	/* one pipeline for every repetition (each ends with every connection
	 * closed): the warm-up fills its slabs, the measured ones show the
	 * steady state */
	if (http_pipeline_new(&p, &po, aggregate, &agg)) {
		res->err = -ENOMEM;
		snprintf(res->msg, sizeof(res->msg), "out of memory");
		goto out;
	}
	for (int i = -1; i < reps; i++) {
		struct capture_replay_stats rs = { 0 };
		uint64_t a0, t0, t1;
		int ret;

		capture_reader_init(reader, f.data, f.len);
		agg.records = 0;
		a0 = alloc_calls;
		t0 = lab_now_ns();
		ret = bench_replay_once(reader, p, &rs);
		t1 = lab_now_ns();
		a0 = alloc_calls - a0;
		if (ret) {
			res->err = ret;
			snprintf(res->msg, sizeof(res->msg), "%s", reader->err_msg);
			goto out;
		}
		if (i < 0)
			continue; /* warm-up */
		res->events = rs.events + rs.conns_gone;
		res->records = agg.records;
		ev_s[i] = (double)res->events * NS_PER_S / (double)(t1 - t0);
		ns_ev[i] = (double)(t1 - t0) / (double)res->events;
		rec_s[i] = (double)agg.records * NS_PER_S / (double)(t1 - t0);
		al_ev[i] = (double)a0 / (double)res->events;
	}
	res->events_per_s = median(ev_s, reps);
	res->ns_per_event = median(ns_ev, reps);
	res->records_per_s = median(rec_s, reps);
	res->allocs_per_event = median(al_ev, reps);
out:
	{
		struct rusage ru;

		getrusage(RUSAGE_SELF, &ru);
		res->maxrss_kb = ru.ru_maxrss;
	}
	http_pipeline_free(p);
	if (f.data || f.len)
		capture_file_release(&f);
	lab_hist_free(&agg.latency);
	free(reader);
}

/* In a forked child pinned to cpu, so that its peak RSS is its own. */
static void replay_in_child(const char *path, int reps, int cpu, struct run_result *res)
{
	int pfd[2];
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (pipe(pfd)) {
		res->err = -errno;
		snprintf(res->msg, sizeof(res->msg), "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct run_result r;

		close(pfd[0]);
		if (pin_cpu(cpu))
			fprintf(stderr, "bench_pipeline: cannot pin to CPU %d: %s\n", cpu,
				strerror(errno));
		replay_file(path, reps, &r);
		if (write(pfd[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], res, sizeof(*res)) != (ssize_t)sizeof(*res)) {
		res->err = -EIO;
		snprintf(res->msg, sizeof(res->msg), "the replay process died");
	}
	close(pfd[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* ---- callgrind ---- */

static bool have_valgrind(void)
{
	return system("valgrind --version >/dev/null 2>&1") == 0;
}

/* --callgrind-child FILE: one warm-up replay, one measured (the function
 * callgrind collects in); prints the events of one replay. */
static int callgrind_child(const char *path)
{
	struct capture_reader *reader = malloc(sizeof(*reader));
	struct http_pipeline_opts po = { .max_conns = MANY_CONNS + 1024 };
	struct http_pipeline *p;
	struct capture_file f;
	struct agg agg = { 0 };
	char err[256];
	uint64_t events = 0;

	if (!reader || lab_hist_init(&agg.latency) || capture_file_load(&f, path, err, sizeof(err)))
		return 2;
	if (capture_reader_init(reader, f.data, f.len))
		return 2;
	if (reader->info.max_conns > po.max_conns)
		po.max_conns = reader->info.max_conns;
	po.evict_oldest = (reader->info.flags & CAPTURE_F_HTTP_EVICT_OLDEST) != 0;
	if (http_pipeline_new(&p, &po, aggregate, &agg))
		return 2;
	/* a warm-up replay (lazy binding, slabs), then the measured one */
	for (int i = 0; i < 2; i++) {
		struct capture_replay_stats rs = { 0 };

		capture_reader_init(reader, f.data, f.len);
		if (i == 0)
			capture_replay_http(reader, p, &rs);
		else
			bench_replay_once(reader, p, &rs);
		events = rs.events + rs.conns_gone;
	}
	http_pipeline_free(p);
	printf("events %" PRIu64 "\n", events);
	capture_file_release(&f);
	lab_hist_free(&agg.latency);
	free(reader);
	return 0;
}

/* Instructions per event of one replay of path under callgrind, or a
 * negative number when it could not be measured. */
static double callgrind_ir_per_event(const char *self, const char *dir, const char *path,
				     const char *tag, bool keep)
{
	char cmd[4 * PATH_BYTES], out[PATH_BYTES], line[512];
	unsigned long long ir = 0, events = 0;
	FILE *p, *f;

	snprintf(out, sizeof(out), "%s/callgrind.%s.out", dir, tag);
	snprintf(cmd, sizeof(cmd),
		 "timeout %d valgrind --tool=callgrind --callgrind-out-file='%s' "
		 "--toggle-collect=bench_replay_once '%s' --callgrind-child '%s' 2>/dev/null",
		 CALLGRIND_TIMEOUT_S, out, self, path);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		sscanf(line, "events %llu", &events);
	if (pclose(p) != 0 || !events)
		return -1;
	f = fopen(out, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "summary: %llu", &ir) == 1 || sscanf(line, "totals: %llu", &ir) == 1)
			break;
	fclose(f);
	if (!keep)
		unlink(out);
	return ir ? (double)ir / (double)events : -1;
}

/* ---- the recorded nginx capture ---- */

static bool file_contains(const char *path, const char *needle)
{
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* Record `sonde http --record` while the lab's generator loads nginx. 0, or
 * -1 with the reason why not in why. */
static int record_nginx(const char *sonde, const char *dir, bool quick, char *cap, size_t cap_size,
			char *why, size_t why_size)
{
	struct lab_nginx_opts no = { .cpu = -1 };
	struct lab_load_opts lo = { 0 };
	struct lab_load_result lr;
	struct lab_nginx n;
	char port[16], err_path[PATH_BYTES], reason[256];
	uint64_t deadline;
	int status = 0, ret;
	pid_t pid;

	if (geteuid() != 0) {
		snprintf(why, why_size, "needs root to load sonde's BPF programs");
		return -1;
	}
	if (access(sonde, X_OK)) {
		snprintf(why, why_size, "%s not found (make)", sonde);
		return -1;
	}
	if (lab_nginx_start(&no, &n, reason, sizeof(reason))) {
		snprintf(why, why_size, "%s", reason);
		return -1;
	}
	snprintf(port, sizeof(port), "%u", n.port);
	snprintf(cap, cap_size, "%s/nginx.cap", dir);
	snprintf(err_path, sizeof(err_path), "%s/sonde.err", dir);
	{
		char *argv[] = { (char *)sonde, "http", "--port", port, "--record", cap, NULL };

		pid = lab_spawn_logged(argv, NULL, err_path);
	}
	if (pid < 0) {
		snprintf(why, why_size, "cannot run %s: %s", sonde, strerror((int)-pid));
		lab_nginx_stop(&n);
		return -1;
	}
	lab_pgrp_track(pid);
	deadline = lab_now_ns() + SONDE_START_MS * 1000000ull;
	while (!file_contains(err_path, "tracing") && lab_now_ns() < deadline &&
	       waitpid(pid, &status, WNOHANG) == 0)
		lab_sleep_ms(20);
	if (!file_contains(err_path, "tracing")) {
		snprintf(why, why_size, "sonde http did not start (see %.200s)", err_path);
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		lab_pgrp_untrack(pid);
		lab_nginx_stop(&n);
		return -1;
	}
	lo.port = n.port;
	lo.conns = NGINX_CONNS;
	lo.threads = 1;
	lo.rate = quick ? NGINX_RATE_QUICK : NGINX_RATE;
	lo.duration_s = quick ? NGINX_SECONDS_QUICK : NGINX_SECONDS;
	ret = lab_load_run(&lo, &lr);
	lab_load_result_free(&lr);
	kill(pid, SIGINT);
	ret = ret ? ret : lab_wait_exit(pid, SONDE_STOP_MS, &status, NULL);
	lab_pgrp_untrack(pid);
	lab_nginx_stop(&n);
	if (ret || lab_exit_code(status) != 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, WNOHANG);
		snprintf(why, why_size, "the recording failed (load %s, sonde exit %d; see %.150s)",
			 ret ? strerror(-ret) : "ok", lab_exit_code(status), err_path);
		return -1;
	}
	return 0;
}

/* ---- main ---- */

struct scenario {
	const char *name;
	int kind;                    /* enum scenario_kind: synthetic ones are generated */
	char path[PATH_BYTES];       /* capture replayed for the timings */
	char cg_path[PATH_BYTES];    /* capture replayed under callgrind */
	struct run_result res;
	double ir_per_event;         /* < 0: not measured */
};

static const char usage_text[] =
	"Usage: bench_pipeline [--quick] [--reps N] [--cpu N] [--capture FILE]\n"
	"                      [--record-nginx --sonde PATH] [--no-callgrind] [--check]\n"
	"                      [--keep DIR] [--only NAME]\n"
	"\n"
	"Replay HTTP captures through sonde's userspace pipeline (frame checks,\n"
	"decode, reassembly, parsing, pairing, aggregation) on one pinned core:\n"
	"events/s, ns per event, paired requests/s, allocations per event, peak RSS,\n"
	"and instructions per event under callgrind when valgrind is installed.\n"
	"Synthetic captures come from a fixed seed; a recorded one from --capture or\n"
	"--record-nginx (sonde http --record on nginx under the lab's load).\n"
	"\n"
	"  --quick          smaller captures, 5 repetitions (a sanity run)\n"
	"  --reps N         repetitions per capture, medians reported (5..50, default 7)\n"
	"  --cpu N          CPU to pin the replay to (default: the last one)\n"
	"  --capture FILE   also replay this capture of sonde http --record\n"
	"  --record-nginx   record one with --sonde PATH (root, nginx); skipped with a\n"
	"                   reason when that cannot be done\n"
	"  --sonde PATH     the sonde binary (default build/sonde)\n"
	"  --no-callgrind   skip the instruction counts\n"
	"  --check          exit 1 when a target is missed (>= 2 M events/s,\n"
	"                   >= 1 M requests/s, 0 allocations per event)\n"
	"  --keep DIR       keep the callgrind captures and profiles in DIR (an existing\n"
	"                   folder), for callgrind_annotate DIR/callgrind.<capture>.out\n"
	"  --only NAME      of the synthetic captures, only this one (keepalive,\n"
	"                   pipelined, chunked or many_conns)\n"
	"\n"
	"EXAMPLES\n"
	"  bench_pipeline --quick\n"
	"  bench_pipeline --record-nginx --sonde build/sonde\n"
	"  bench_pipeline --capture web.cap --no-callgrind\n";

static void rm_rf(const char *dir)
{
	char cmd[PATH_BYTES + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_pipeline: could not remove %s\n", dir);
}

static char tmp_dir[64];

static void cleanup_tmp(void)
{
	if (tmp_dir[0])
		rm_rf(tmp_dir);
}

static void fmt_rate(double v, char *buf, size_t size)
{
	if (v >= 1e6)
		snprintf(buf, size, "%.2f M", v / 1e6);
	else
		snprintf(buf, size, "%.0f k", v / 1e3);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "reps", required_argument, NULL, 'n' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "capture", required_argument, NULL, 'f' },
		{ "record-nginx", no_argument, NULL, 'N' },
		{ "sonde", required_argument, NULL, 's' },
		{ "no-callgrind", no_argument, NULL, 'G' },
		{ "check", no_argument, NULL, 'k' },
		{ "keep", required_argument, NULL, 'K' },
		{ "only", required_argument, NULL, 'o' },
		{ "callgrind-child", required_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct scenario sc[SCENARIOS_MAX];
	const char *capture = NULL, *sonde = "build/sonde", *keep_dir = NULL, *only = NULL;
	bool quick = false, nginx = false, callgrind = true, check = false, missed = false;
	long cpu = sysconf(_SC_NPROCESSORS_ONLN) - 1, reps = 0, v;
	char self[PATH_BYTES], why[512] = "";
	int nsc = 0, opt;
	ssize_t sl;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'q':
			quick = true;
			break;
		case 'n':
			if (cli_parse_long(optarg, 5, REPS_MAX, &reps)) {
				fprintf(stderr, "bench_pipeline: --reps takes 5 to %d\n", REPS_MAX);
				return 2;
			}
			break;
		case 'C':
			if (cli_parse_long(optarg, 0, CPU_SETSIZE - 1, &v)) {
				fprintf(stderr, "bench_pipeline: --cpu takes a CPU number\n");
				return 2;
			}
			cpu = v;
			break;
		case 'f':
			capture = optarg;
			break;
		case 'N':
			nginx = true;
			break;
		case 's':
			sonde = optarg;
			break;
		case 'G':
			callgrind = false;
			break;
		case 'k':
			check = true;
			break;
		case 'K':
			keep_dir = optarg;
			break;
		case 'o':
			only = optarg;
			break;
		case 'X':
			return callgrind_child(optarg);
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fprintf(stderr, "bench_pipeline: unknown option or missing value '%s'; see --help\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bench_pipeline: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (only) {
		int k = 0;

		while (k < SC_SYNTH_COUNT && strcmp(only, scenario_names[k]))
			k++;
		if (k == SC_SYNTH_COUNT) {
			fprintf(stderr, "bench_pipeline: --only takes keepalive, pipelined, chunked or "
				"many_conns, not '%s'\n", only);
			return 2;
		}
	}
	if (capture && access(capture, R_OK)) {
		fprintf(stderr, "bench_pipeline: cannot read --capture %s: %s\n", capture,
			strerror(errno));
		return 2;
	}
	if (!reps)
		reps = quick ? REPS_QUICK : REPS_DEFAULT;
	sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0) {
		fprintf(stderr, "bench_pipeline: /proc/self/exe: %s\n", strerror(errno));
		return 2;
	}
	self[sl] = '\0';
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/sonde-bench-pipeline-XXXXXX");
	if (!mkdtemp(tmp_dir)) {
		fprintf(stderr, "bench_pipeline: mkdtemp: %s\n", strerror(errno));
		return 2;
	}
	atexit(cleanup_tmp);
	lab_install_cleanup(lab_nginx_cleanup);
	if (callgrind && !have_valgrind()) {
		callgrind = false;
		snprintf(why, sizeof(why), "valgrind not installed (apt-get install valgrind)");
	}

	/* synthetic captures are written just before their replay, and removed
	 * after it: one on disk at a time */
	for (int k = 0; k < SC_SYNTH_COUNT; k++) {
		struct scenario *s;

		if (only && strcmp(only, scenario_names[k]))
			continue;
		s = &sc[nsc++];

		memset(s, 0, sizeof(*s));
		s->name = scenario_names[k];
		s->kind = k;
		s->ir_per_event = -1;
		snprintf(s->path, sizeof(s->path), "%s/%s.cap", tmp_dir, s->name);
		if (callgrind)
			snprintf(s->cg_path, sizeof(s->cg_path), "%s/%s-small.cap",
				 keep_dir ? keep_dir : tmp_dir, s->name);
	}
	if (capture) {
		struct scenario *s = &sc[nsc++];

		memset(s, 0, sizeof(*s));
		s->name = "recorded";
		s->kind = SC_RECORDED;
		s->ir_per_event = -1;
		snprintf(s->path, sizeof(s->path), "%s", capture);
		snprintf(s->cg_path, sizeof(s->cg_path), "%s", capture);
	}
	if (nginx) {
		struct scenario *s = &sc[nsc];
		char reason[256];

		memset(s, 0, sizeof(*s));
		s->name = "nginx";
		s->kind = SC_RECORDED;
		s->ir_per_event = -1;
		printf("recording nginx: sonde http --record under %.0f req/s for %.0f s ...\n",
		       quick ? NGINX_RATE_QUICK : NGINX_RATE, quick ? NGINX_SECONDS_QUICK : NGINX_SECONDS);
		fflush(stdout);
		if (record_nginx(sonde, keep_dir ? keep_dir : tmp_dir, quick, s->path, sizeof(s->path), reason,
				 sizeof(reason))) {
			printf("nginx capture: skipped: %s\n", reason);
		} else {
			memcpy(s->cg_path, s->path, sizeof(s->cg_path));
			nsc++;
		}
	}

	printf("bench_pipeline: replay through decode, reassembly, parse, pairing and aggregation;\n"
	       "CPU %ld, median of %ld repetitions (one warm-up first), seed 0x%x\n\n",
	       cpu, reps, SEED);
	printf("%-11s %9s %9s %10s %9s %11s %12s %9s %9s %11s\n", "capture", "MB", "events",
	       "events/s", "ns/event", "requests/s", "allocs/event", "requests", "peak RSS",
	       "instr/event");
	for (int i = 0; i < nsc; i++) {
		struct scenario *s = &sc[i];
		struct run_result *r = &s->res;
		char evs[32], rqs[32], ir[32] = "-";
		int ret = 0;

		if (s->kind != SC_RECORDED) {
			ret = generate(s->kind, quick ? EVENTS_QUICK : EVENTS_FULL, s->path);
			if (!ret && s->cg_path[0])
				ret = generate(s->kind, EVENTS_CALLGRIND, s->cg_path);
			if (ret) {
				fprintf(stderr, "bench_pipeline: writing %s: %s\n", s->path,
					strerror(-ret));
				return 2;
			}
		}
		replay_in_child(s->path, (int)reps, (int)cpu, r);
		if (s->kind != SC_RECORDED)
			unlink(s->path);
		if (r->err) {
			printf("%-11s replay failed: %s\n", s->name, r->msg);
			missed = true;
			continue;
		}
		if (callgrind && s->cg_path[0]) {
			s->ir_per_event = callgrind_ir_per_event(self, keep_dir ? keep_dir : tmp_dir,
								 s->cg_path, s->name, keep_dir);
			if (s->ir_per_event >= 0)
				snprintf(ir, sizeof(ir), "%.0f", s->ir_per_event);
		}
		if (s->kind != SC_RECORDED && s->cg_path[0] && !keep_dir)
			unlink(s->cg_path);
		fmt_rate(r->events_per_s, evs, sizeof(evs));
		fmt_rate(r->records_per_s, rqs, sizeof(rqs));
		printf("%-11s %9.1f %9" PRIu64 " %10s %9.1f %11s %12.4f %9" PRIu64 " %6.1f MB %11s\n",
		       s->name, (double)r->capture_bytes / 1e6, r->events, evs, r->ns_per_event, rqs,
		       r->allocs_per_event, r->records, (double)r->maxrss_kb / 1024.0, ir);
		fflush(stdout);
	}
	printf("\nevents: raw records and connection-gone records replayed; requests: paired\n"
	       "records emitted; peak RSS of the replaying process, the mapped capture included.\n");
	if (!callgrind)
		printf("instr/event: skipped: %s\n", why[0] ? why : "--no-callgrind");
	else
		printf("instr/event: callgrind, one replay of a %u-event capture per synthetic kind "
		       "(the recorded ones whole)\n", EVENTS_CALLGRIND);
	printf("targets: >= %.0f M events/s, >= %.0f M requests/s, 0 allocations per event\n",
	       TARGET_EVENTS_PER_S / 1e6, TARGET_REQUESTS_PER_S / 1e6);
	for (int i = 0; i < nsc; i++) {
		struct run_result *r = &sc[i].res;
		bool ok_ev, ok_rq, ok_al;

		if (r->err)
			continue;
		ok_ev = r->events_per_s >= TARGET_EVENTS_PER_S;
		ok_rq = r->records_per_s >= TARGET_REQUESTS_PER_S;
		ok_al = r->allocs_per_event == 0;
		printf("  %-11s events/s %s, requests/s %s, allocations %s\n", sc[i].name,
		       ok_ev ? "ok" : "MISSED", ok_rq ? "ok" : "MISSED", ok_al ? "ok" : "MISSED");
		missed |= !ok_ev || !ok_rq || !ok_al;
	}
	return check && missed ? 1 : 0;
}
