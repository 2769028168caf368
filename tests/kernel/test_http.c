/* Kernel tests of the HTTP tracer against real servers and clients: nginx
 * (its access log is the ground truth), node, curl, ab, wrk and raw-socket
 * clients, each in a child process (the tracer never traces its own
 * process). Every test asserts the exact records of the traffic it made, and
 * the accounting: produced == delivered + dropped, with no drop at all.
 * Run from the repository root (the CLI test runs build/sonde). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/syscall.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "kernel/http_test_env.h"
#include "kernel/io_uring_child.h"
#include "kernel/kernel_test.h"
#include "loader/bpf_env.h"
#include "loader/http_tracer.h"
#include "pipeline/http_pipeline.h"
#include "protocol/http1.h"

#define SONDE ((char *)kernel_test_sonde_path())
#define WAIT_RECORDS_MS 5000
#define SETTLE_MS 300          /* quiet time to catch records that should not come */
#define POLL_MS 50
#define CLIENT_TIMEOUT_MS 20000
#define PORTS_MAX 4
#define KEY_BYTES (HTTP1_METHOD_BYTES_MAX + HTTP1_PATH_BYTES_MAX + 16)
#define ONE_MB_BYTES 1000000u
#define BIG_FILE_BYTES (50u * 1024u * 1024u)
#define CHUNK_GAP_MS 200
#define NS_PER_MS 1000000ull
#define HALF_OPEN_CONNS 1000
#define HUGE_HEADER_BYTES (100u * 1024u)

/* One record, copied out of the pipeline's callback. */
#define IO_URING_PIDS_MAX 64

struct rec {
	uint64_t ts_ns, latency_ns, req_bytes, resp_bytes;
	uint32_t pid, flags;
	uint16_t status, family, lport, rport;
	enum http_side side;
	bool tls;
	char comm[HTTP_COMM_LEN + 1];
	char method[HTTP1_METHOD_BYTES_MAX + 1];
	char path[HTTP1_PATH_BYTES_MAX + 1];
	uint8_t laddr[16], raddr[16];
};

struct ctx {
	struct test_env env;          /* first: env_teardown_base takes it */
	struct http_tracer *tracer;
	struct http_pipeline *pipeline;
	int ports[PORTS_MAX];         /* records kept: local or remote port in here */
	int nports;
	struct rec *recs;
	size_t nrecs, cap;
	bool stopped;
	char self_comm[HTTP_COMM_LEN + 1]; /* comm of forked raw clients */
	pid_t io_uring_pids[IO_URING_PIDS_MAX]; /* told by io_uring_fn, in order */
	int n_io_uring;
};

/* ---- tracer and collector ---- */

static bool port_kept(const struct ctx *c, uint16_t lport, uint16_t rport)
{
	for (int i = 0; i < c->nports; i++)
		if (lport == c->ports[i] || rport == c->ports[i])
			return true;
	return false;
}

static void on_record(const struct http_record *r, void *arg)
{
	struct ctx *c = arg;
	struct rec *o;

	if (!port_kept(c, r->lport, r->rport))
		return;
	if (c->nrecs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct rec *n = realloc(c->recs, cap * sizeof(*n));

		if (!n)
			return;
		c->recs = n;
		c->cap = cap;
	}
	o = &c->recs[c->nrecs++];
	memset(o, 0, sizeof(*o));
	o->ts_ns = r->ts_ns;
	o->latency_ns = r->latency_ns;
	o->req_bytes = r->ex->req_bytes;
	o->resp_bytes = r->ex->resp_bytes;
	o->pid = r->pid;
	o->flags = r->ex->flags;
	o->status = r->ex->status;
	o->family = r->family;
	o->lport = r->lport;
	o->rport = r->rport;
	o->side = r->side;
	o->tls = r->tls;
	memcpy(o->comm, r->comm, sizeof(o->comm));
	snprintf(o->method, sizeof(o->method), "%.*s", (int)r->ex->method_len, r->ex->method);
	snprintf(o->path, sizeof(o->path), "%.*s", (int)r->ex->path_len, r->ex->path);
	memcpy(o->laddr, r->laddr, sizeof(o->laddr));
	memcpy(o->raddr, r->raddr, sizeof(o->raddr));
}

static int on_raw(const void *data, size_t size, void *arg)
{
	struct ctx *c = arg;

	return http_pipeline_event(c->pipeline, data, size);
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	void *env = NULL;
	FILE *f;

	if (!c || env_setup(&env)) {
		free(c);
		return -1;
	}
	memcpy(&c->env, env, sizeof(c->env));
	free(env);
	f = fopen("/proc/self/comm", "r");
	if (f) {
		if (fgets(c->self_comm, sizeof(c->self_comm), f))
			c->self_comm[strcspn(c->self_comm, "\n")] = '\0';
		fclose(f);
	}
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (!c)
		return 0;
	http_tracer_close(c->tracer);
	http_pipeline_free(c->pipeline);
	env_teardown_base(&c->env);
	free(c->recs);
	free(c);
	return 0;
}

static void keep_port(struct ctx *c, int port)
{
	assert_true(c->nports < PORTS_MAX);
	c->ports[c->nports++] = port;
}

static void trace_start_opts(struct ctx *c, bool show_query, const struct http_tracer_opts *topts);

static void trace_start(struct ctx *c, bool show_query)
{
	struct http_tracer_opts topts = { .tls = true }; /* as sonde http */

	trace_start_opts(c, show_query, &topts);
}

static void on_io_uring(uint32_t pid, const char *comm, void *arg)
{
	struct ctx *c = arg;

	(void)comm;
	if (c->n_io_uring < IO_URING_PIDS_MAX)
		c->io_uring_pids[c->n_io_uring++] = (pid_t)pid;
}

static void trace_start_opts(struct ctx *c, bool show_query, const struct http_tracer_opts *topts)
{
	struct http_pipeline_opts popts = { .show_query = show_query, .io_uring_fn = on_io_uring };
	char err[256];
	int ret;

	KERNEL_TEST_REQUIRE_ROOT();
	assert_int_equal(http_pipeline_new(&c->pipeline, &popts, on_record, c), 0);
	bpf_env_prepare(getenv("SONDE_TEST_VERBOSE") != NULL);
	ret = http_tracer_open(&c->tracer, topts, on_raw, c, err, sizeof(err));
	if (ret) {
		char why[400];

		snprintf(why, sizeof(why), "http tracer did not open: %s", err);
		if (ret == -EPERM || ret == -EACCES)
			KERNEL_TEST_UNAVAILABLE(why);
		fail_msg("%s", why);
	}
}

/* Detach, drain, and close what is still open (emitted as incomplete). */
static void trace_stop(struct ctx *c)
{
	assert_int_equal(http_tracer_stop(c->tracer), 0);
	http_pipeline_finish(c->pipeline);
	c->stopped = true;
}

typedef bool (*rec_pred)(const struct ctx *c, const void *arg);

/* Poll until pred holds or the deadline; then SETTLE_MS more, so that a
 * record that should not be there has its chance to arrive. */
static bool poll_until(struct ctx *c, rec_pred pred, const void *arg)
{
	uint64_t deadline = env_now_ms() + WAIT_RECORDS_MS, settle;
	bool ok;

	while (!(ok = pred(c, arg)) && env_now_ms() < deadline)
		http_tracer_poll(c->tracer, POLL_MS);
	settle = env_now_ms() + SETTLE_MS;
	while (env_now_ms() < settle)
		http_tracer_poll(c->tracer, POLL_MS);
	return ok;
}

static size_t count_side(const struct ctx *c, enum http_side side, int port)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		if (r->side == side && (side == HTTP_SIDE_SERVER ? r->lport : r->rport) == port)
			n++;
	}
	return n;
}

struct want_count {
	int port;
	size_t server, client;
};

static bool have_counts(const struct ctx *c, const void *arg)
{
	const struct want_count *w = arg;

	return count_side(c, HTTP_SIDE_SERVER, w->port) >= w->server &&
	       count_side(c, HTTP_SIDE_CLIENT, w->port) >= w->client;
}

static void dump_recs(const struct ctx *c)
{
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < c->nrecs && i < 64; i++) {
		const struct rec *x = &c->recs[i];

		inet_ntop(x->family, x->laddr, l, sizeof(l));
		inet_ntop(x->family, x->raddr, r, sizeof(r));
		fprintf(stderr, "  rec %zu: %s pid %u %s %s %s %u req %llu resp %llu lat %.3fms "
			"flags 0x%x %s:%u -> %s:%u\n", i, x->comm, x->pid,
			x->side == HTTP_SIDE_SERVER ? "server" : x->side == HTTP_SIDE_CLIENT ? "client" : "?",
			x->method, x->path, x->status, (unsigned long long)x->req_bytes,
			(unsigned long long)x->resp_bytes, (double)x->latency_ns / 1e6, x->flags, l,
			x->lport, r, x->rport);
	}
	if (c->nrecs > 64)
		fprintf(stderr, "  ... %zu records in all\n", c->nrecs);
}

/* Kernel counters after stop: no drop of any kind, no decode error, and
 * produced == delivered + dropped exactly. */
/* The encrypted bytes of TLS connections must not be parsed as HTTP. */
static void assert_no_parse_errors(struct ctx *c)
{
	struct http_pipeline_stats ps;

	http_pipeline_stats(c->pipeline, &ps);
	assert_int_equal(ps.http.parse_errors, 0);
}

static void assert_accounting(struct ctx *c)
{
	uint64_t k[STAT_COUNT] = { 0 };
	uint64_t delivered, decode_errors, dropped;

	assert_true(c->stopped);
	assert_int_equal(http_tracer_kernel_stats(c->tracer, k), 0);
	delivered = http_tracer_delivered(c->tracer);
	decode_errors = http_tracer_decode_errors(c->tracer);
	dropped = k[STAT_DROP_RINGBUF_FULL] + k[STAT_DROP_READ_FAULT] + k[STAT_DROP_MAP_FULL] +
		  k[STAT_DROP_TLS_NO_CONN];
	if (dropped || decode_errors || k[STAT_PRODUCED] != delivered + decode_errors + dropped)
		fprintf(stderr, "accounting: produced %llu delivered %llu decode_errors %llu "
			"ringbuf_full %llu read_fault %llu map_full %llu\n",
			(unsigned long long)k[STAT_PRODUCED], (unsigned long long)delivered,
			(unsigned long long)decode_errors,
			(unsigned long long)k[STAT_DROP_RINGBUF_FULL],
			(unsigned long long)k[STAT_DROP_READ_FAULT],
			(unsigned long long)k[STAT_DROP_MAP_FULL]);
	assert_int_equal(k[STAT_DROP_RINGBUF_FULL], 0);
	assert_int_equal(k[STAT_DROP_READ_FAULT], 0);
	assert_int_equal(k[STAT_DROP_MAP_FULL], 0);
	assert_int_equal(k[STAT_DROP_TLS_NO_CONN], 0);
	assert_int_equal(decode_errors, 0);
	assert_true(delivered > 0);
	assert_int_equal(k[STAT_PRODUCED], delivered + decode_errors + dropped);
}

/* ---- ground truth: nginx's access log against sonde's server records ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "METHOD PATH STATUS" keys, sorted, in one block. */
struct keys {
	char **keys;
	char *block;
	size_t n;
};

static size_t log_keys(const char *path, struct keys *out)
{
	char *log = env_read_file(path, NULL);
	size_t n = 0, lines = 0;
	char **keys, *block, *save = NULL;

	assert_non_null(log);
	for (const char *p = log; *p; p++)
		lines += *p == '\n';
	keys = calloc(lines + 1, sizeof(*keys));
	block = calloc(lines + 1, KEY_BYTES);
	assert_true(keys && block);
	for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char method[64] = "", uri[8192] = "", red[HTTP1_PATH_BYTES_MAX + 1];
		int status = 0;
		unsigned long long sent = 0;

		assert_int_equal(sscanf(line, "%63s %8191s %d %llu", method, uri, &status, &sent), 4);
		/* nginx logs the status it meant to send even when not one byte
		 * of it left (the client was gone): on the wire there was none */
		if (sent == 0)
			status = 0;
		/* nginx logs the raw target, sonde keeps it redacted */
		assert_true(http1_redact_target(uri, strlen(uri), red, sizeof(red)) >= 0);
		keys[n] = block + n * KEY_BYTES;
		snprintf(keys[n], KEY_BYTES, "%s %s %d", method, red, status);
		n++;
	}
	free(log);
	qsort(keys, n, sizeof(*keys), cmp_str);
	*out = (struct keys){ keys, block, n };
	return n;
}

static size_t rec_keys(const struct ctx *c, enum http_side side, int port, struct keys *out)
{
	char **keys = calloc(c->nrecs + 1, sizeof(*keys));
	char *block = calloc(c->nrecs + 1, KEY_BYTES);
	size_t n = 0;

	assert_true(keys && block);
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		if (r->side != side || (side == HTTP_SIDE_SERVER ? r->lport : r->rport) != port)
			continue;
		keys[n] = block + n * KEY_BYTES;
		snprintf(keys[n], KEY_BYTES, "%s %s %u", r->method, r->path, r->status);
		n++;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	*out = (struct keys){ keys, block, n };
	return n;
}

static void free_keys(struct keys *k)
{
	free(k->block);
	free(k->keys);
}

/* The multiset of sonde's server records (method, path, status) equals
 * nginx's access log exactly. Returns the number of requests. */
static size_t assert_server_matches_log(const struct ctx *c, const struct nginx *n)
{
	struct keys lks, rks;
	size_t nl = log_keys(n->access_log, &lks);
	size_t nr = rec_keys(c, HTTP_SIDE_SERVER, n->port, &rks);
	char **lk = lks.keys, **rk = rks.keys;
	size_t i, mismatch = nl == nr ? SIZE_MAX : 0;

	for (i = 0; i < nl && i < nr && mismatch == SIZE_MAX; i++)
		if (strcmp(lk[i], rk[i]))
			mismatch = i;
	if (mismatch != SIZE_MAX) {
		fprintf(stderr, "access log (%zu) vs sonde server records (%zu) differ:\n", nl, nr);
		for (i = mismatch; i < nl && i < mismatch + 10; i++)
			fprintf(stderr, "  log:   %s\n", lk[i]);
		for (i = mismatch; i < nr && i < mismatch + 10; i++)
			fprintf(stderr, "  sonde: %s\n", rk[i]);
		dump_recs(c);
	}
	assert_int_equal(nr, nl);
	assert_true(mismatch == SIZE_MAX);
	free_keys(&lks);
	free_keys(&rks);
	return nl;
}

static size_t log_lines(const char *path)
{
	char *log = env_read_file(path, NULL);
	size_t n = 0;

	if (!log)
		return 0;
	for (const char *p = log; *p; p++)
		n += *p == '\n';
	free(log);
	return n;
}

/* nginx writes a log line when it finalizes a request: wait until n are there. */
static void wait_log_lines(const struct nginx *n, size_t want)
{
	uint64_t deadline = env_now_ms() + WAIT_RECORDS_MS;

	while (log_lines(n->access_log) < want && env_now_ms() < deadline)
		env_sleep_ms(20);
}

static bool is_loopback(const struct rec *r)
{
	static const uint8_t v4[4] = { 127, 0, 0, 1 };

	if (r->family == AF_INET6)
		return !memcmp(r->laddr, &in6addr_loopback, 16) &&
		       !memcmp(r->raddr, &in6addr_loopback, 16);
	return r->family == AF_INET && !memcmp(r->laddr, v4, 4) && !memcmp(r->raddr, v4, 4);
}

static const struct rec *find_rec(const struct ctx *c, enum http_side side, int port,
				  const char *path)
{
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		if (r->side == side && (side == HTTP_SIDE_SERVER ? r->lport : r->rport) == port &&
		    !strcmp(r->path, path))
			return r;
	}
	return NULL;
}

/* ---- raw-socket clients, run in forked children ---- */

/* What a raw client saw, sent back to the parent through a pipe. */
struct raw_result {
	int ok;               /* 1 if it did what it was told */
	int status;           /* status of the last response read */
	int chunked;          /* that response was chunked */
	uint16_t lport;       /* the client's local port */
	uint64_t bytes;       /* response bytes read (all of them on the wire) */
	uint64_t head_bytes;  /* bytes of the last response's head */
	uint64_t first_ms, last_ms; /* when the first / last response byte was read */
};

static const char *find_header(const char *head, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i + nl < len; i++)
		if ((i == 0 || head[i - 1] == '\n') && !strncasecmp(head + i, name, nl) &&
		    head[i + nl] == ':')
			return head + i + nl + 1;
	return NULL;
}

/* Read one response: head, then a Content-Length body, a chunked body (ended
 * by the 0-size chunk: enough for the servers these tests run), or up to EOF.
 * max_bytes > 0: stop (unfinished) once that many bytes were read. */
static int read_response(int fd, struct raw_result *res, uint64_t max_bytes)
{
	static char buf[65536];
	char head[16384];
	size_t hl = 0;
	uint64_t body = 0, want = UINT64_MAX, got = 0;
	char tail[5] = { 0 };
	bool head_done = false, chunked = false;
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return head_done && want == UINT64_MAX && !chunked ? 0 : -1; /* EOF */
		if (!res->first_ms)
			res->first_ms = env_now_ms();
		res->last_ms = env_now_ms();
		res->bytes += (uint64_t)n;
		got += (uint64_t)n;
		size_t off = 0;

		if (!head_done) {
			size_t take = (size_t)n < sizeof(head) - 1 - hl ? (size_t)n : sizeof(head) - 1 - hl;
			size_t hl_before = hl;
			char *end;

			memcpy(head + hl, buf, take);
			hl += take;
			head[hl] = '\0';
			end = strstr(head, "\r\n\r\n");
			if (!end) {
				if (max_bytes && got >= max_bytes)
					return 1;
				continue;
			}
			size_t h = (size_t)(end - head) + 4;
			const char *v;

			head_done = true;
			res->head_bytes = h;
			res->status = atoi(head + 9);
			off = h - hl_before; /* where the body starts in buf */
			if ((v = find_header(head, h, "content-length")))
				want = strtoull(v, NULL, 10);
			if ((v = find_header(head, h, "transfer-encoding")) && strstr(v, "chunked"))
				chunked = true;
			res->chunked = chunked;
		}
		size_t left = (size_t)n - off;

		body += left;
		if (chunked) {
			/* keep the last 5 bytes of the body to spot "0\r\n\r\n" */
			for (size_t i = off; i < (size_t)n; i++) {
				memmove(tail, tail + 1, 4);
				tail[4] = buf[i];
			}
			if (!memcmp(tail, "0\r\n\r\n", 5))
				return 0;
		} else if (want != UINT64_MAX && body >= want) {
			return 0;
		}
		if (max_bytes && got >= max_bytes)
			return 1;
	}
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

typedef void (*child_fn)(int result_fd, void *arg);

/* Fork a child that runs fn and writes its struct raw_result to a pipe. */
static pid_t fork_child(struct ctx *c, child_fn fn, void *arg, int *result_fd)
{
	int p[2];
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		env_child_init();
		close(p[0]);
		fn(p[1], arg);
		_exit(0);
	}
	close(p[1]);
	env_track(&c->env, pid);
	*result_fd = p[0];
	return pid;
}

/* Wait until fd is readable or the deadline, draining the tracer meanwhile:
 * a client that runs while nobody reads the ring buffer would fill it. */
static bool wait_readable(struct ctx *c, int fd, unsigned timeout_ms)
{
	uint64_t deadline = env_now_ms() + timeout_ms;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (env_now_ms() < deadline) {
		if (c->tracer && !c->stopped)
			http_tracer_poll(c->tracer, POLL_MS / 5);
		if (poll(&p, 1, c->tracer && !c->stopped ? 0 : POLL_MS / 5) > 0)
			return true;
	}
	return false;
}

/* Run argv to completion while draining the tracer; its wait status. */
static int run_traced(struct ctx *c, char *const argv[], const char *out_path)
{
	uint64_t deadline = env_now_ms() + CLIENT_TIMEOUT_MS;
	pid_t pid = env_spawn(&c->env, argv, out_path, NULL);
	int st;

	assert_true(pid > 0);
	while (env_now_ms() < deadline) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			env_untrack(&c->env, pid);
			return st;
		}
		if (c->tracer && !c->stopped)
			http_tracer_poll(c->tracer, POLL_MS / 5);
		else
			env_sleep_ms(POLL_MS / 5);
	}
	env_kill(&c->env, pid);
	return -1;
}

/* Read the child's result (or fail), reap it. */
static void child_result(struct ctx *c, pid_t pid, int fd, struct raw_result *res)
{
	ssize_t n = -1;

	memset(res, 0, sizeof(*res));
	if (wait_readable(c, fd, CLIENT_TIMEOUT_MS))
		n = read(fd, res, sizeof(*res));
	close(fd);
	assert_int_not_equal(env_wait(&c->env, pid, CLIENT_TIMEOUT_MS), -1);
	assert_int_equal(n, (ssize_t)sizeof(*res));
}

static void send_result(int fd, const struct raw_result *res)
{
	if (write(fd, res, sizeof(*res)) != (ssize_t)sizeof(*res))
		_exit(1);
}

/* One request on a fresh connection, one response read. */
struct one_req {
	int port;
	bool v6;
	const char *req;
	uint64_t max_bytes;   /* > 0: read that much, then close (unfinished) */
};

static void child_one_request(int out, void *arg)
{
	const struct one_req *o = arg;
	struct raw_result res = { 0 };
	int fd = env_connect(o->port, o->v6);

	if (fd >= 0) {
		res.lport = local_port(fd);
		if (!env_write_all(fd, o->req, strlen(o->req)))
			res.ok = read_response(fd, &res, o->max_bytes) >= 0;
		close(fd);
	}
	send_result(out, &res);
}

static void raw_request(struct ctx *c, const struct one_req *o, struct raw_result *res)
{
	int fd;
	pid_t pid = fork_child(c, child_one_request, (void *)o, &fd);

	child_result(c, pid, fd, res);
	assert_int_equal(res->ok, 1);
}

/* ---- nginx fixtures ---- */

static void docroot(struct ctx *c)
{
	char p[ENV_PATH_BYTES];

	env_path(&c->env, p, sizeof(p), "html");
	mkdir(p, 0755);
	env_path(&c->env, p, sizeof(p), "html/index.html");
	assert_int_equal(env_write_file(p, "<html>hello</html>\n", 19), 0);
	env_path(&c->env, p, sizeof(p), "html/a.txt");
	assert_int_equal(env_write_file(p, "a\n", 2), 0);
}

static void start_nginx(struct ctx *c, const struct nginx_opts *o, struct nginx *n)
{
	docroot(c);
	assert_int_equal(nginx_start(&c->env, o, n), 0);
	keep_port(c, n->port);
}

static void curl_args(char **argv, int *argc, char *urls, size_t url_size, const char *scheme,
		      const char *host, int port, const char *const *paths, size_t npaths)
{
	for (size_t i = 0; i < npaths; i++) {
		char *u = urls + i * url_size;

		snprintf(u, url_size, "%s://%s:%d%s", scheme, host, port, paths[i]);
		argv[(*argc)++] = "-o";
		argv[(*argc)++] = "/dev/null";
		argv[(*argc)++] = u;
	}
	argv[*argc] = NULL;
}

/* curl fetching paths over one keep-alive connection; returns the statuses
 * curl itself reports (one line per transfer) in codes. */
static void run_curl_scheme(struct ctx *c, const char *scheme, const char *host, int port,
			    const char *const *paths, size_t npaths, int *codes)
{
	char *argv[64], urls[16][256], out[ENV_PATH_BYTES];
	int argc = 0;
	char *text, *save = NULL;
	size_t i = 0;

	assert_true(npaths <= 16);
	argv[argc++] = "curl";
	argv[argc++] = "-s";
	argv[argc++] = "-w";
	argv[argc++] = "%{response_code}\\n";
	argv[argc++] = "-k"; /* the tests' self-signed certificate */
	curl_args(argv, &argc, &urls[0][0], sizeof(urls[0]), scheme, host, port, paths, npaths);
	env_path(&c->env, out, sizeof(out), "curl.out");
	assert_int_equal(run_traced(c, argv, out), 0);
	text = env_read_file(out, NULL);
	assert_non_null(text);
	for (char *l = strtok_r(text, "\n", &save); l && i < npaths; l = strtok_r(NULL, "\n", &save))
		codes[i++] = atoi(l);
	free(text);
	assert_int_equal(i, npaths);
}

static void run_curl(struct ctx *c, const char *host, int port, const char *const *paths,
		     size_t npaths, int *codes)
{
	run_curl_scheme(c, "http", host, port, paths, npaths, codes);
}

/* ---- 1: nginx + curl, keep-alive ---- */

static void test_curl_keepalive(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { 0 };
	struct nginx n;
	static const char *const paths[] = { "/index.html", "/a.txt", "/missing",
					     "/a.txt?token=abc&x=1", "/index.html" };
	static const char *const want_path[] = { "/index.html", "/a.txt", "/missing",
						 "/a.txt?token=REDACTED&x=REDACTED", "/index.html" };
	static const int want_status[] = { 200, 200, 404, 200, 200 };
	const size_t np = sizeof(paths) / sizeof(paths[0]);
	struct want_count w;
	int codes[16];
	const struct rec *srv[8] = { 0 }, *cli[8] = { 0 };
	size_t ns = 0, nc = 0;

	start_nginx(c, &o, &n);
	trace_start(c, false);
	run_curl(c, "127.0.0.1", n.port, paths, np, codes);
	for (size_t i = 0; i < np; i++)
		assert_int_equal(codes[i], want_status[i]);
	wait_log_lines(&n, np);
	w = (struct want_count){ n.port, np, np };
	poll_until(c, have_counts, &w);
	trace_stop(c);

	assert_int_equal(assert_server_matches_log(c, &n), np);
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		if (r->side == HTTP_SIDE_SERVER && r->lport == n.port && ns < 8)
			srv[ns++] = r;
		else if (r->side == HTTP_SIDE_CLIENT && r->rport == n.port && nc < 8)
			cli[nc++] = r;
	}
	if (ns != np || nc != np)
		dump_recs(c);
	assert_int_equal(ns, np);
	assert_int_equal(nc, np);
	/* one connection: records in request order, on both sides */
	for (size_t i = 0; i < np; i++) {
		assert_string_equal(srv[i]->method, "GET");
		assert_string_equal(srv[i]->path, want_path[i]);
		assert_int_equal(srv[i]->status, want_status[i]);
		assert_string_equal(srv[i]->comm, "nginx");
		assert_int_equal(srv[i]->pid, n.pid);
		assert_true(srv[i]->req_bytes > 0);
		assert_true(srv[i]->resp_bytes > 0);
		assert_false(srv[i]->flags & HTTP1_EXCH_INCOMPLETE);
		assert_int_equal(srv[i]->family, AF_INET);
		assert_true(is_loopback(srv[i]));
		assert_int_equal(srv[i]->lport, n.port);
		assert_int_equal(srv[i]->rport, srv[0]->rport);

		assert_string_equal(cli[i]->method, "GET");
		assert_string_equal(cli[i]->path, want_path[i]);
		assert_int_equal(cli[i]->status, want_status[i]);
		assert_string_equal(cli[i]->comm, "curl");
		assert_true(cli[i]->req_bytes > 0);
		assert_true(cli[i]->resp_bytes > 0);
		assert_false(cli[i]->flags & HTTP1_EXCH_INCOMPLETE);
		assert_int_equal(cli[i]->family, AF_INET);
		assert_true(is_loopback(cli[i]));
		assert_int_equal(cli[i]->rport, n.port);
		/* the two ends of the same connection agree on every byte */
		assert_int_equal(cli[i]->lport, srv[i]->rport);
		assert_int_equal(cli[i]->req_bytes, srv[i]->req_bytes);
		assert_int_equal(cli[i]->resp_bytes, srv[i]->resp_bytes);
	}
	assert_accounting(c);
}

/* ---- 2: nginx under ab and wrk ---- */

static void load_test(struct ctx *c, char **argv, const char *client_comm, size_t exact_requests,
		      bool tls)
{
	struct nginx_opts o = { .tls = tls };
	struct nginx n;
	struct want_count w;
	char url[128];
	size_t logged;

	start_nginx(c, &o, &n);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d/index.html", tls ? "https" : "http", n.port);
	for (int i = 0; argv[i]; i++)
		if (!strcmp(argv[i], "URL"))
			argv[i] = url;
	trace_start(c, false);
	assert_int_equal(run_traced(c, argv, NULL), 0);
	env_sleep_ms(100);
	logged = log_lines(n.access_log);
	if (exact_requests)
		assert_int_equal(logged, exact_requests);
	assert_true(logged > 0);
	w = (struct want_count){ n.port, logged, 0 };
	poll_until(c, have_counts, &w);
	trace_stop(c);
	assert_int_equal(assert_server_matches_log(c, &n), logged);
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		assert_int_equal(r->tls, tls);
		if (r->side == HTTP_SIDE_SERVER) {
			assert_string_equal(r->comm, "nginx");
			/* only a request whose response never left (wrk quits
			 * with requests in flight) may be unfinished */
			if (r->flags & HTTP1_EXCH_INCOMPLETE)
				assert_int_equal(r->status, 0);
			assert_true(r->req_bytes > 0);
			assert_true(r->resp_bytes > 0 || r->status == 0);
		} else {
			assert_string_equal(r->comm, client_comm);
		}
	}
	if (exact_requests) /* ab reads every response it asked for */
		assert_int_equal(count_side(c, HTTP_SIDE_CLIENT, n.port), exact_requests);
	assert_accounting(c);
	if (tls)
		assert_no_parse_errors(c);
}

static void test_ab(void **state)
{
	char *argv[] = { "ab", "-q", "-k", "-n", "500", "-c", "5", "URL", NULL };

	load_test(*state, argv, "ab", 500, false);
}

static void test_wrk(void **state)
{
	char *argv[] = { "wrk", "-t1", "-c4", "-d2s", "URL", NULL };

	load_test(*state, argv, "wrk", 0, false);
}

/* ---- ring shards (--ring-shards) ---- */

/* curl fetching paths over one keep-alive connection, pinned to cpu. */
static void curl_on_cpu(struct ctx *c, int cpu, int port, const char *const *paths, size_t npaths)
{
	char *argv[64], urls[16][256], cpu_s[16];
	int argc = 0;

	assert_true(npaths <= 16);
	snprintf(cpu_s, sizeof(cpu_s), "%d", cpu);
	argv[argc++] = "taskset";
	argv[argc++] = "-c";
	argv[argc++] = cpu_s;
	argv[argc++] = "curl";
	argv[argc++] = "-s";
	curl_args(argv, &argc, &urls[0][0], sizeof(urls[0]), "http", "127.0.0.1", port, paths,
		  npaths);
	assert_int_equal(run_traced(c, argv, NULL), 0);
}

/* Two rings: a client pinned to each CPU opens its connection there, so
 * each ring carries records; every request is still exact and each
 * connection's records in order (nginx's log is the ground truth). */
static void test_ring_shards(void **state)
{
	struct ctx *c = *state;
	struct http_tracer_opts topts = { .tls = true, .ring_shards = 2 };
	static const char *const paths[] = { "/index.html", "/a.txt", "/missing", "/a.txt" };
	const size_t np = sizeof(paths) / sizeof(paths[0]);
	struct nginx_opts o = { 0 };
	struct want_count w;
	struct nginx n;
	size_t k[2] = { 0, 0 };
	uint16_t lport[2] = { 0, 0 };

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		KERNEL_TEST_UNAVAILABLE("two rings by CPU need two CPUs online");
	start_nginx(c, &o, &n);
	trace_start_opts(c, false, &topts);
	assert_int_equal(http_tracer_rings(c->tracer), 2);
	curl_on_cpu(c, 0, n.port, paths, np);
	curl_on_cpu(c, 1, n.port, paths, np);
	wait_log_lines(&n, 2 * np);
	w = (struct want_count){ n.port, 2 * np, 2 * np };
	poll_until(c, have_counts, &w);
	trace_stop(c);

	assert_int_equal(assert_server_matches_log(c, &n), 2 * np);
	assert_int_equal(count_side(c, HTTP_SIDE_CLIENT, n.port), 2 * np);
	/* each curl's connection (its local port): its client records in
	 * request order */
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];
		size_t j;

		if (r->side != HTTP_SIDE_CLIENT || r->rport != n.port)
			continue;
		for (j = 0; j < 2 && lport[j] && lport[j] != r->lport; j++)
			;
		assert_true(j < 2);
		lport[j] = r->lport;
		assert_true(k[j] < np);
		assert_string_equal(r->path, paths[k[j]]);
		assert_false(r->flags & HTTP1_EXCH_INCOMPLETE);
		k[j]++;
	}
	assert_int_equal(k[0], np);
	assert_int_equal(k[1], np);
	assert_true(http_tracer_ring_records(c->tracer, 0) > 0);
	assert_true(http_tracer_ring_records(c->tracer, 1) > 0);
	assert_int_equal(http_tracer_ring_records(c->tracer, 0) +
				 http_tracer_ring_records(c->tracer, 1),
			 http_tracer_delivered(c->tracer));
	assert_accounting(c);
}

/* ---- 3: pipelining ---- */

#define PIPELINED 10

/* A raw client of nginx on port: count requests for /<prefix>NN (each
 * with the extra header lines, the last with Connection: close) in ONE
 * write, then every response read in reads of read_bytes until the close. */
struct pipelined_client {
	int port;
	int count;
	const char *prefix;
	const char *extra;
	size_t read_bytes;
};

static void child_pipelined(int out, void *arg)
{
	const struct pipelined_client *pc = arg;
	struct raw_result res = { 0 };
	char req[4096], buf[512];
	size_t len = 0, rb = pc->read_bytes < sizeof(buf) ? pc->read_bytes : sizeof(buf);
	ssize_t n;
	int fd = env_connect(pc->port, false);

	for (int i = 0; i < pc->count; i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len,
					"GET /%s%02d HTTP/1.1\r\nHost: t\r\n%s%s\r\n", pc->prefix, i,
					pc->extra, i == pc->count - 1 ? "Connection: close\r\n" : "");
	if (fd >= 0) {
		res.lport = local_port(fd);
		if (write(fd, req, len) == (ssize_t)len) {
			while ((n = read(fd, buf, rb)) > 0)
				res.bytes += (uint64_t)n;
			res.ok = n == 0;
		}
		close(fd);
	}
	send_result(out, &res);
}

/* nginx with /<prefix>NN for even NN (200; odd ones 404), the tracer, and
 * the client of pc run to its end; the records of its requests in. */
static void pipelined_run(struct ctx *c, struct nginx *n, struct pipelined_client *pc,
			  size_t want_client, struct raw_result *res)
{
	struct nginx_opts o = { 0 };
	char p[ENV_PATH_BYTES], name[32];
	struct want_count w;
	int fd;
	pid_t pid;

	start_nginx(c, &o, n);
	for (int i = 0; i < pc->count; i += 2) {
		snprintf(name, sizeof(name), "html/%s%02d", pc->prefix, i);
		env_path(&c->env, p, sizeof(p), name);
		assert_int_equal(env_write_file(p, "pipelined\n", 10), 0);
	}
	pc->port = n->port;
	trace_start(c, false);
	pid = fork_child(c, child_pipelined, pc, &fd);
	child_result(c, pid, fd, res);
	assert_int_equal(res->ok, 1);
	wait_log_lines(n, (size_t)pc->count);
	w = (struct want_count){ n->port, (size_t)pc->count, want_client };
	poll_until(c, have_counts, &w);
	trace_stop(c);
}

static void test_pipelining(void **state)
{
	struct ctx *c = *state;
	/* Reads smaller than the capture size: one big read holding several
	 * responses would put later heads past the captured bytes, where by
	 * design no framing can be recovered (the records would be flagged,
	 * not exact). */
	struct pipelined_client pc = { .count = PIPELINED, .prefix = "p", .extra = "",
				       .read_bytes = HTTP_CAPTURE_BYTES_DEFAULT / 2 };
	struct nginx n;
	struct raw_result res;
	const struct rec *srv[PIPELINED], *cli[PIPELINED];
	size_t ns = 0, nc = 0;

	pipelined_run(c, &n, &pc, PIPELINED, &res);
	assert_int_equal(assert_server_matches_log(c, &n), PIPELINED);
	for (size_t i = 0; i < c->nrecs; i++) {
		if (c->recs[i].side == HTTP_SIDE_SERVER && ns < PIPELINED)
			srv[ns++] = &c->recs[i];
		else if (c->recs[i].side == HTTP_SIDE_CLIENT && nc < PIPELINED)
			cli[nc++] = &c->recs[i];
	}
	if (ns != PIPELINED || nc != PIPELINED)
		dump_recs(c);
	assert_int_equal(ns, PIPELINED);
	assert_int_equal(nc, PIPELINED);
	uint64_t resp_total = 0;

	for (int i = 0; i < PIPELINED; i++)
		if (srv[i]->status != (i % 2 ? 404 : 200) || cli[i]->status != (i % 2 ? 404 : 200)) {
			dump_recs(c);
			break;
		}
	for (int i = 0; i < PIPELINED; i++) {
		char want[16];

		snprintf(want, sizeof(want), "/p%02d", i);
		assert_string_equal(srv[i]->path, want);
		assert_int_equal(srv[i]->status, i % 2 ? 404 : 200);
		assert_false(srv[i]->flags & HTTP1_EXCH_INCOMPLETE);
		assert_string_equal(cli[i]->path, want);
		assert_int_equal(cli[i]->status, i % 2 ? 404 : 200);
		assert_string_equal(cli[i]->comm, c->self_comm);
		assert_int_equal(cli[i]->lport, res.lport);
		assert_int_equal(cli[i]->resp_bytes, srv[i]->resp_bytes);
		resp_total += srv[i]->resp_bytes;
	}
	/* the responses add up to what the client read, byte for byte */
	assert_int_equal(resp_total, res.bytes);
	assert_accounting(c);
}

/* More pipelined requests in one write than the capture holds: nginx reads
 * them in pieces whose middles are not captured. Every response still has
 * its record, in order, and a record that names its request is paired with
 * that request's own response (no shift past the requests lost in the
 * gap). */
#define BURST 24

static void test_pipelined_burst_past_capture(void **state)
{
	struct ctx *c = *state;
	struct pipelined_client pc = { .count = BURST, .prefix = "b",
				       .extra = "User-Agent: pipeline-test/1.0\r\n", .read_bytes = 512 };
	struct nginx n;
	struct raw_result res;
	size_t ns = 0, named = 0;

	pipelined_run(c, &n, &pc, 0, &res);
	assert_int_equal(log_lines(n.access_log), BURST);
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];
		char want[16];

		if (r->side != HTTP_SIDE_SERVER || r->lport != n.port)
			continue;
		/* the i-th response, whatever is known of its request */
		if (r->status != (ns % 2 ? 404 : 200))
			dump_recs(c);
		assert_int_equal(r->status, ns % 2 ? 404 : 200);
		if (r->path[0]) {
			snprintf(want, sizeof(want), "/b%02zu", ns);
			assert_string_equal(r->path, want);
			named++;
		} else {
			assert_true(r->flags & (HTTP1_EXCH_NO_REQUEST | HTTP1_EXCH_HEAD_LOST));
		}
		assert_false(r->flags & HTTP1_EXCH_INCOMPLETE);
		ns++;
	}
	assert_int_equal(ns, BURST);
	/* the first 512 bytes hold 8 whole requests and the start of a ninth */
	assert_true(named >= 9);
	assert_accounting(c);
}

/* ---- 4: chunked response in several writes, and a 1 MB body ---- */

/* Both records of one exchange on port: complete, status 200, every byte the
 * client read, and at least min_latency_ns. */
static void assert_whole_response(const struct ctx *c, int port, const char *path,
				  const struct raw_result *res, const char *server_comm,
				  uint32_t want_flags, uint64_t min_latency_ns)
{
	for (int side = HTTP_SIDE_SERVER; side <= HTTP_SIDE_CLIENT; side++) {
		const struct rec *r = find_rec(c, (enum http_side)side, port, path);

		if (!r || r->flags & HTTP1_EXCH_INCOMPLETE || r->resp_bytes != res->bytes) {
			fprintf(stderr, "%s: the client read %llu bytes\n", path,
				(unsigned long long)res->bytes);
			dump_recs(c);
		}
		assert_non_null(r);
		assert_string_equal(r->comm, side == HTTP_SIDE_SERVER ? server_comm : c->self_comm);
		assert_int_equal(r->status, 200);
		assert_false(r->flags & HTTP1_EXCH_INCOMPLETE);
		assert_int_equal(r->flags & want_flags, want_flags);
		assert_int_equal(r->resp_bytes, res->bytes);
		assert_true(r->latency_ns >= min_latency_ns);
	}
	assert_int_equal(count_side(c, HTTP_SIDE_SERVER, port), 1);
	assert_int_equal(count_side(c, HTTP_SIDE_CLIENT, port), 1);
}

/* node's http module: no Content-Length, so chunked; three writes
 * CHUNK_GAP_MS apart (the last with the terminating chunk). The record must
 * count every byte of head and chunks, and last until the last write. */
/* node -e script, listening on port (whose records are kept). */
static pid_t start_node(struct ctx *c, char *script, int port)
{
	char *argv[] = { "node", "-e", script, NULL };
	pid_t node = env_spawn(&c->env, argv, NULL, NULL);

	assert_true(env_wait_listening(node, port, false));
	keep_port(c, port);
	return node;
}

static void test_chunked_node(void **state)
{
	struct ctx *c = *state;
	struct raw_result res;
	struct want_count w;
	char script[1024];
	int port = env_free_port(false);

	assert_true(port > 0);
	snprintf(script, sizeof(script),
		 "const http=require('http');"
		 "http.createServer((q,r)=>{r.writeHead(200,{'Content-Type':'text/plain'});"
		 "r.write('A'.repeat(1000));"
		 "setTimeout(()=>{r.write('B'.repeat(2000));"
		 "setTimeout(()=>r.end('C'.repeat(3000)),%d)},%d)})"
		 ".listen(%d,'127.0.0.1');", CHUNK_GAP_MS, CHUNK_GAP_MS, port);
	start_node(c, script, port);
	trace_start(c, false);
	struct one_req q = { port, false, "GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n", 0 };

	raw_request(c, &q, &res);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.chunked, 1);
	assert_true(res.last_ms - res.first_ms >= 2 * CHUNK_GAP_MS - 10);
	w = (struct want_count){ port, 1, 1 };
	poll_until(c, have_counts, &w);
	trace_stop(c);
	assert_whole_response(c, port, "/chunked", &res, "node", HTTP1_EXCH_CHUNKED,
			      2 * CHUNK_GAP_MS * NS_PER_MS);
	assert_accounting(c);
}

/* A listening socket on 127.0.0.1:port for a forked server; the child
 * exits if it cannot have one. */
static int child_listen(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 16))
		_exit(1);
	return lfd;
}

/* A forked server's loop: one request per connection (a read), answered
 * by respond(fd), which exits the child when it fails; then the connection
 * is read to its end. The parent's probe of the port sends nothing and is
 * not answered. Until killed. */
static void serve_one_per_conn(int port, void (*respond)(int fd))
{
	int lfd = child_listen(port);
	char buf[4096];

	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			continue;
		if (read(fd, buf, sizeof(buf)) > 0) {
			respond(fd);
			while (read(fd, buf, sizeof(buf)) > 0)
				;
		}
		close(fd);
	}
}

/* The smallest server that answers chunked with one writev whose last
 * entries are short (as node does: "\r\n", then "0\r\n\r\n"), past the
 * capture size. */
static void writev_respond(int fd)
{
	static char body[1000];
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n3e8\r\n";
	static const char crlf[] = "\r\n", last[] = "0\r\n\r\n";
	struct iovec iov[4] = {
		{ (void *)head, sizeof(head) - 1 }, { body, sizeof(body) },
		{ (void *)crlf, 2 }, { (void *)last, 5 },
	};

	memset(body, 'A', sizeof(body));
	if (writev(fd, iov, 4) < 0)
		_exit(1);
}

static void writev_server(int port)
{
	serve_one_per_conn(port, writev_respond);
}

/* serve(port) in a forked child, tracked, listening on port (whose records
 * are kept) when this returns. */
static void start_forked_server(struct ctx *c, void (*serve)(int port), int port)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		env_child_init();
		serve(port);
		_exit(0);
	}
	env_track(&c->env, pid);
	assert_true(env_wait_listening(pid, port, false));
	keep_port(c, port);
}

/* One traced request req from a raw client to serve, forked on a free port:
 * the response (status 200) in res, both records awaited, tracing stopped.
 * The port. */
static int forked_server_exchange(struct ctx *c, void (*serve)(int port), const char *req,
				  struct raw_result *res)
{
	int port = env_free_port(false);
	struct one_req q = { port, false, req, 0 };
	struct want_count w = { port, 1, 1 };

	assert_true(port > 0);
	start_forked_server(c, serve, port);
	trace_start(c, false);
	raw_request(c, &q, res);
	assert_int_equal(res->status, 200);
	poll_until(c, have_counts, &w);
	trace_stop(c);
	return port;
}

static void test_chunked_writev_short_tail(void **state)
{
	struct ctx *c = *state;
	struct raw_result res;
	int port = forked_server_exchange(c, writev_server,
					  "GET /writev HTTP/1.1\r\nHost: t\r\n\r\n", &res);

	assert_int_equal(res.chunked, 1);
	/* the server record must end at the terminating chunk, not at close */
	assert_whole_response(c, port, "/writev", &res, c->self_comm, HTTP1_EXCH_CHUNKED, 0);
	assert_accounting(c);
}

/* A 32-bit syscall's number is another table's: 20 is getpid there and
 * writev here. A server makes one with int $0x80 from a 64-bit process,
 * registers set as for writev(fd, iov, 1) of a bogus response, before it
 * writes the real one: sonde must not read it as a writev. */
static long compat_getpid_as_writev(int fd, const struct iovec *iov)
{
	register long rdi __asm__("rdi") = fd;
	register long rsi __asm__("rsi") = (long)iov;
	register long rdx __asm__("rdx") = 1;
	long r;

	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(20L), "r"(rdi), "r"(rsi), "r"(rdx)
			 : "memory", "r8", "r9", "r10", "r11");
	return r;
}

static void compat_respond(int fd)
{
	static const char bogus[] = "HTTP/1.1 599 Bogus\r\nContent-Length: 0\r\n\r\n";
	static const char real[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct iovec iov = { (void *)bogus, sizeof(bogus) - 1 };

	if (compat_getpid_as_writev(fd, &iov) != getpid())
		_exit(1);
	if (write(fd, real, sizeof(real) - 1) != (ssize_t)sizeof(real) - 1)
		_exit(1);
}

static void compat_server(int port)
{
	serve_one_per_conn(port, compat_respond);
}

static void test_compat_syscall_not_read(void **state)
{
	struct ctx *c = *state;
	struct raw_result res;
	const struct rec *r;
	int port = forked_server_exchange(c, compat_server,
					  "GET /compat HTTP/1.1\r\nHost: t\r\n\r\n", &res);

	r = find_rec(c, HTTP_SIDE_SERVER, port, "/compat");
	assert_non_null(r);
	assert_int_equal(r->status, 200);
	assert_int_equal(r->resp_bytes, 40);
	assert_accounting(c);
}

/* A server that moves bodies with splice, never through user memory (as
 * proxies do): the request body from the socket into a pipe, the response
 * body from a pipe into the socket; heads with read and write. One request
 * per connection. Runs in a forked child until killed. */
#define SPLICE_REQ_BODY 20000
#define SPLICE_RESP_BODY 100000

static void splice_server(int port)
{
	static char chunk[16384];
	int lfd = child_listen(port);
	char head[128];

	memset(chunk, 'S', sizeof(chunk));
	for (;;) {
		int fd = accept(lfd, NULL, NULL), p[2];
		char buf[4096];
		size_t got = 0, body;
		ssize_t n;
		char *end = NULL;

		if (fd < 0)
			continue;
		/* the head, byte by byte so that no body byte is read here */
		while (got < sizeof(buf) - 1 && !end && read(fd, buf + got, 1) == 1) {
			buf[++got] = '\0';
			end = strstr(buf, "\r\n\r\n");
		}
		if (!end || pipe(p)) {
			close(fd);
			continue; /* the parent's probe: no request */
		}
		for (body = SPLICE_REQ_BODY; body > 0; body -= (size_t)n) {
			n = splice(fd, NULL, p[1], NULL, body < sizeof(buf) ? body : sizeof(buf), 0);
			if (n <= 0 || read(p[0], buf, (size_t)n) != n)
				_exit(1);
		}
		n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
			     SPLICE_RESP_BODY);
		if (write(fd, head, (size_t)n) != n)
			_exit(1);
		for (body = SPLICE_RESP_BODY; body > 0;) {
			size_t k = body < sizeof(chunk) ? body : sizeof(chunk);

			if (write(p[1], chunk, k) != (ssize_t)k)
				_exit(1);
			while (k > 0) {
				n = splice(p[0], NULL, fd, NULL, k, 0);
				if (n <= 0)
					_exit(1);
				k -= (size_t)n;
				body -= (size_t)n;
			}
		}
		close(p[0]);
		close(p[1]);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
}

/* Bytes spliced between a socket and a pipe are in no user buffer: counted,
 * never copied, on both sides of the exchange, so that the request and the
 * response are framed whole (without, the request body would be read as
 * the next request and the response would never end). */
static void test_splice_bodies(void **state)
{
	static char req[256 + SPLICE_REQ_BODY];
	struct ctx *c = *state;
	struct raw_result res;
	int port, n;
	const struct rec *r;

	n = snprintf(req, sizeof(req), "POST /splice HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
		     SPLICE_REQ_BODY);
	memset(req + n, 'q', SPLICE_REQ_BODY);
	req[n + SPLICE_REQ_BODY] = '\0';
	port = forked_server_exchange(c, splice_server, req, &res);
	assert_int_equal(res.bytes - res.head_bytes, SPLICE_RESP_BODY);
	assert_whole_response(c, port, "/splice", &res, c->self_comm, 0, 0);
	r = find_rec(c, HTTP_SIDE_SERVER, port, "/splice");
	assert_string_equal(r->method, "POST");
	assert_int_equal(r->req_bytes, strlen(req));
	assert_accounting(c);
}

/* A process that uses io_uring is told, once, and its calls counted: what it
 * submits there passes no syscall sonde reads. */
struct io_uring_want {
	pid_t pid;
};

static bool have_io_uring(const struct ctx *c, const void *arg)
{
	const struct io_uring_want *w = arg;

	for (int i = 0; i < c->n_io_uring; i++)
		if (c->io_uring_pids[i] == w->pid)
			return true;
	return false;
}

static void test_io_uring_said(void **state)
{
	struct ctx *c = *state;
	struct io_uring_want w;
	struct http_pipeline_stats ps;
	uint64_t k[STAT_COUNT] = { 0 };
	int told = 0;
	pid_t pid;

	/* the kernel lets this test use io_uring at all */
	if (!io_uring_usable())
		KERNEL_TEST_UNAVAILABLE("io_uring_setup fails here (kernel.io_uring_disabled?)");
	trace_start(c, false);
	pid = io_uring_child_run(3);
	w.pid = pid;
	assert_true(poll_until(c, have_io_uring, &w));
	trace_stop(c);
	for (int i = 0; i < c->n_io_uring; i++)
		told += c->io_uring_pids[i] == pid;
	assert_int_equal(told, 1);
	assert_int_equal(http_tracer_kernel_stats(c->tracer, k), 0);
	assert_true(k[STAT_UNSEEN_IO_URING] >= 4); /* setup + 3 enters, others' too */
	http_pipeline_stats(c->pipeline, &ps);
	assert_true(ps.io_uring_processes >= 1);
	assert_accounting(c);
}

/* 1,000,000 bytes of body from nginx, with sendfile (no payload in user
 * memory: only counted) and without (plain writes). */
static void body_1mb(struct ctx *c, bool sendfile)
{
	struct nginx_opts o = { .sendfile = sendfile };
	struct nginx n;
	struct raw_result res;
	struct want_count w;
	char p[ENV_PATH_BYTES];

	start_nginx(c, &o, &n);
	env_path(&c->env, p, sizeof(p), "html/1mb");
	assert_int_equal(env_make_file(p, ONE_MB_BYTES, false), 0);
	trace_start(c, false);
	struct one_req q = { n.port, false, "GET /1mb HTTP/1.1\r\nHost: t\r\n\r\n", 0 };

	raw_request(c, &q, &res);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.bytes - res.head_bytes, ONE_MB_BYTES);
	wait_log_lines(&n, 1);
	w = (struct want_count){ n.port, 1, 1 };
	poll_until(c, have_counts, &w);
	trace_stop(c);
	assert_whole_response(c, n.port, "/1mb", &res, "nginx", 0, 0);
	assert_int_equal(assert_server_matches_log(c, &n), 1);
	assert_accounting(c);
}

static void test_body_1mb_sendfile(void **state)
{
	body_1mb(*state, true);
}

static void test_body_1mb_write(void **state)
{
	body_1mb(*state, false);
}

/* ---- 5: IPv6 ---- */

static void test_ipv6(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { .v6 = true };
	struct nginx n;
	static const char *const paths[] = { "/index.html", "/missing" };
	struct want_count w;
	int codes[2];

	start_nginx(c, &o, &n);
	trace_start(c, false);
	run_curl(c, "[::1]", n.port, paths, 2, codes);
	assert_int_equal(codes[0], 200);
	assert_int_equal(codes[1], 404);
	wait_log_lines(&n, 2);
	w = (struct want_count){ n.port, 2, 2 };
	poll_until(c, have_counts, &w);
	trace_stop(c);

	assert_int_equal(assert_server_matches_log(c, &n), 2);
	assert_int_equal(count_side(c, HTTP_SIDE_CLIENT, n.port), 2);
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];
		char l[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];

		assert_int_equal(r->family, AF_INET6);
		assert_non_null(inet_ntop(AF_INET6, r->laddr, l, sizeof(l)));
		assert_non_null(inet_ntop(AF_INET6, r->raddr, ra, sizeof(ra)));
		assert_string_equal(l, "::1");
		assert_string_equal(ra, "::1");
		assert_true(is_loopback(r));
		assert_int_equal(r->side == HTTP_SIDE_SERVER ? r->lport : r->rport, n.port);
	}
	assert_accounting(c);
}

/* ---- 6: a connection opened before the tracer ---- */

struct existing_arg {
	int port;
	int ready_fd;   /* child -> parent: first exchange done */
	int go_fd;      /* parent -> child: tracer is up */
};

static void child_existing(int out, void *arg)
{
	const struct existing_arg *a = arg;
	struct raw_result res = { 0 }, first = { 0 };
	static const char r1[] = "GET /first HTTP/1.1\r\nHost: t\r\n\r\n";
	static const char r2[] = "GET /second HTTP/1.1\r\nHost: t\r\n\r\n";
	int fd = env_connect(a->port, false);
	char b;

	if (fd >= 0 && !env_write_all(fd, r1, sizeof(r1) - 1) && !read_response(fd, &first, 0) &&
	    write(a->ready_fd, "r", 1) == 1 && read(a->go_fd, &b, 1) == 1 &&
	    !env_write_all(fd, r2, sizeof(r2) - 1) && !read_response(fd, &res, 0)) {
		res.ok = first.status == 200;
		res.lport = local_port(fd);
	}
	if (fd >= 0)
		close(fd);
	send_result(out, &res);
}

/* An fd that stops holding its connection with no close(): dup2 of
 * /dev/null over it (an exec closing a CLOEXEC socket, or close_range, do
 * the same), bytes written there, then dup2 of a new connection over it. The
 * bytes written to /dev/null are no request, and the new connection's
 * request is its own, not the old one's. */
static void send_all_read_eof(int fd, const char *req, struct raw_result *res)
{
	char buf[4096];
	ssize_t n;

	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		res->bytes += (uint64_t)n;
	res->ok = n == 0;
}

struct fd_reuse_arg {
	int port;
	bool close_range; /* close_range then open, instead of dup2 */
};

static void child_fd_reused(int out, void *arg)
{
	const struct fd_reuse_arg *a = arg;
	struct raw_result res = { 0 }, second = { 0 };
	static const char fake[] = "GET /fake HTTP/1.1\r\nHost: t\r\n\r\n";
	int fd = env_connect(a->port, false), null = open("/dev/null", O_WRONLY), fd2, f;

	if (fd < 0 || null < 0)
		_exit(1);
	send_all_read_eof(fd, "GET /first HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &res);
	/* fd now holds /dev/null: the socket is closed without close() */
	if (a->close_range) {
		if (close_range((unsigned)fd, (unsigned)fd, 0))
			_exit(1);
		do
			f = open("/dev/null", O_WRONLY);
		while (f >= 0 && f < fd);
		if (f != fd)
			_exit(1);
	} else if (dup2(null, fd) != fd) {
		_exit(1);
	}
	if (write(fd, fake, sizeof(fake) - 1) != (ssize_t)sizeof(fake) - 1)
		_exit(1);
	fd2 = env_connect(a->port, false);
	if (fd2 < 0 || dup2(fd2, fd) != fd)
		_exit(1);
	close(fd2);
	res.lport = local_port(fd);
	send_all_read_eof(fd, "GET /second HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
			  &second);
	res.ok = res.ok && second.ok;
	close(fd);
	close(null);
	send_result(out, &res);
}

/* After a client made /first then /second on two connections of nginx n,
 * one fd number: both requests in the log and exactly these two client
 * records, on two local ports, none for what the fd held in between. */
static void assert_first_second(struct ctx *c, struct nginx *n, const struct rec *cli[2])
{
	struct want_count w = { n->port, 2, 2 };
	size_t nc = 0;

	wait_log_lines(n, 2);
	poll_until(c, have_counts, &w);
	trace_stop(c);
	assert_int_equal(assert_server_matches_log(c, n), 2);
	for (size_t i = 0; i < c->nrecs; i++)
		if (c->recs[i].side == HTTP_SIDE_CLIENT && c->recs[i].rport == n->port) {
			if (nc >= 2)
				dump_recs(c);
			assert_true(nc < 2);
			cli[nc++] = &c->recs[i];
		}
	if (nc != 2)
		dump_recs(c);
	assert_int_equal(nc, 2);
	assert_string_equal(cli[0]->path, "/first");
	assert_string_equal(cli[1]->path, "/second");
	assert_int_not_equal(cli[1]->lport, cli[0]->lport);
}

static void fd_reused_test(struct ctx *c, bool close_range_first)
{
	struct nginx_opts o = { 0 };
	struct nginx n;
	struct raw_result res;
	const struct rec *cli[2];
	struct fd_reuse_arg arg;
	int fd;
	pid_t pid;

	start_nginx(c, &o, &n);
	arg.port = n.port;
	arg.close_range = close_range_first;
	trace_start(c, false);
	pid = fork_child(c, child_fd_reused, &arg, &fd);
	child_result(c, pid, fd, &res);
	assert_int_equal(res.ok, 1);
	assert_first_second(c, &n, cli);
	assert_int_equal(cli[1]->lport, res.lport);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(cli[i]->status, 404);
		assert_false(cli[i]->flags & HTTP1_EXCH_INCOMPLETE);
	}
	assert_accounting(c);
}

static void test_fd_reused_without_close(void **state)
{
	fd_reused_test(*state, false);
}

static void test_fd_closed_by_close_range(void **state)
{
	fd_reused_test(*state, true);
}

/* After a child's one request to nginx n: its log line, at least client
 * and server records on n's port, tracing stopped, the kernel's counters
 * in k. */
static void stop_after_request(struct ctx *c, const struct nginx *n, size_t client,
			       size_t server, uint64_t k[STAT_COUNT])
{
	struct want_count w = { n->port, server, client };

	wait_log_lines(n, 1);
	poll_until(c, have_counts, &w);
	trace_stop(c);
	assert_int_equal(http_tracer_kernel_stats(c->tracer, k), 0);
}

/* A close_range over more fds than sonde looks at: the rest are counted. A
 * child holds a keep-alive connection at fd CR_FD, past the 4,096 fds
 * looked at from the range's start, makes a request on it, then closes
 * every fd above its result pipe with one close_range. */
#define CR_FD 6000
#define CR_SCAN_MAX 4096 /* CLOSE_RANGE_SCAN_MAX, bpf/http.bpf.c */

struct cr_result {
	struct raw_result res;
	unsigned first;   /* the range's first fd */
};

static void child_close_range_wide(int out, void *arg)
{
	const int *port = arg;
	static const char req[] = "GET /cr HTTP/1.1\r\nHost: t\r\n\r\n";
	struct cr_result r = { .first = (unsigned)out + 1 };
	struct rlimit rl;
	int fd = env_connect(*port, false);

	if (fd < 0 || getrlimit(RLIMIT_NOFILE, &rl))
		_exit(1);
	if (rl.rlim_cur <= CR_FD)
		rl.rlim_cur = CR_FD + 1;
	if (rl.rlim_max < rl.rlim_cur)
		rl.rlim_max = rl.rlim_cur; /* the tests run as root */
	if (setrlimit(RLIMIT_NOFILE, &rl) || dup2(fd, CR_FD) != CR_FD)
		_exit(1);
	close(fd);
	r.res.lport = local_port(CR_FD);
	if (env_write_all(CR_FD, req, sizeof(req) - 1) || read_response(CR_FD, &r.res, 0))
		_exit(1);
	if (close_range(r.first, ~0U, 0))
		_exit(1);
	r.res.ok = 1;
	if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(1);
}

static void test_close_range_past_scan_counted(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { 0 };
	uint64_t k[STAT_COUNT] = { 0 };
	struct cr_result r;
	struct nginx n;
	ssize_t got = -1;
	int fd;
	pid_t pid;

	start_nginx(c, &o, &n);
	trace_start(c, false);
	pid = fork_child(c, child_close_range_wide, &n.port, &fd);
	if (wait_readable(c, fd, CLIENT_TIMEOUT_MS))
		got = read(fd, &r, sizeof(r));
	close(fd);
	assert_int_not_equal(env_wait(&c->env, pid, CLIENT_TIMEOUT_MS), -1);
	assert_int_equal(got, (ssize_t)sizeof(r));
	assert_int_equal(r.res.ok, 1);
	assert_int_equal(r.res.status, 404);
	stop_after_request(c, &n, 1, 1, k);
	/* the fd table holds at least CR_FD + 1 fds: the range ran to CR_FD
	 * at least, and others' calls may add to the count */
	print_message("  close_range from fd %u: %" PRIu64 " fds past the scan counted\n", r.first,
		      k[STAT_UNSEEN_CLOSE_RANGE]);
	assert_true(k[STAT_UNSEEN_CLOSE_RANGE] >= (uint64_t)(CR_FD - r.first + 1 - CR_SCAN_MAX));
	/* the request itself was whole on both sides */
	assert_non_null(find_rec(c, HTTP_SIDE_CLIENT, n.port, "/cr"));
	assert_non_null(find_rec(c, HTTP_SIDE_SERVER, n.port, "/cr"));
	assert_accounting(c);
}

/* A client that sends its request with sendmmsg and reads the response with
 * recvmmsg: sonde does not read those calls' bytes, it counts them. nginx's
 * own reads and writes make the server record as usual. */
static void child_mmsg(int out, void *arg)
{
	const int *port = arg;
	static char req[] = "GET /mm HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	char buf[4096];
	struct iovec siov = { req, sizeof(req) - 1 }, riov = { buf, sizeof(buf) };
	struct mmsghdr sm = { .msg_hdr = { .msg_iov = &siov, .msg_iovlen = 1 } };
	struct mmsghdr rm = { .msg_hdr = { .msg_iov = &riov, .msg_iovlen = 1 } };
	struct raw_result res = { 0 };
	int fd = env_connect(*port, false);

	if (fd < 0 || sendmmsg(fd, &sm, 1, 0) != 1 || sm.msg_len != sizeof(req) - 1)
		_exit(1);
	res.lport = local_port(fd);
	/* the head at least, in one segment of a small response */
	if (recvmmsg(fd, &rm, 1, 0, NULL) != 1 || rm.msg_len < 12)
		_exit(1);
	res.status = atoi(buf + 9);
	res.ok = 1;
	close(fd);
	send_result(out, &res);
}

static void test_mmsg_counted(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { 0 };
	uint64_t k[STAT_COUNT] = { 0 };
	struct raw_result res;
	struct nginx n;
	int fd;
	pid_t pid;

	start_nginx(c, &o, &n);
	trace_start(c, false);
	pid = fork_child(c, child_mmsg, &n.port, &fd);
	child_result(c, pid, fd, &res);
	assert_int_equal(res.ok, 1);
	assert_int_equal(res.status, 404);
	stop_after_request(c, &n, 0, 1, k);
	assert_true(k[STAT_UNSEEN_MMSG] >= 2); /* the sendmmsg and the recvmmsg */
	assert_non_null(find_rec(c, HTTP_SIDE_SERVER, n.port, "/mm"));
	assert_accounting(c);
}

/* The same through an exec: the first program's CLOEXEC socket is closed
 * by the exec with no close(), and the new program uses that fd number for
 * its own files (python's modules, then /dev/null, opened with no dup2,
 * where it writes a request-like line) before making its own request. */
static const char exec_first[] =
	"import os, socket, sys\n"
	"s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n"
	"s.sendall(b'GET /first HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n')\n"
	"while s.recv(4096): pass\n"
	"os.execv(sys.executable, [sys.executable, '-c', sys.argv[2], str(s.fileno()), sys.argv[1]])\n";
static const char exec_second[] =
	"import os, socket, sys\n"
	"n, port = int(sys.argv[1]), int(sys.argv[2])\n"
	"while True:\n"
	"    f = os.open('/dev/null', os.O_WRONLY)\n"
	"    if f >= n: break\n"
	"if f != n: sys.exit(3)\n"
	"os.write(n, b'GET /fake HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n')\n"
	"s = socket.create_connection(('127.0.0.1', port))\n"
	"s.sendall(b'GET /second HTTP/1.1\\r\\nHost: t\\r\\nConnection: close\\r\\n\\r\\n')\n"
	"while s.recv(4096): pass\n";

static void test_fd_reused_after_exec(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { 0 };
	struct nginx n;
	char port[16];
	const struct rec *cli[2];

	start_nginx(c, &o, &n);
	snprintf(port, sizeof(port), "%d", n.port);
	trace_start(c, false);
	assert_int_equal(run_traced(c, (char *[]){ "python3", "-c", (char *)exec_first, port,
						   (char *)exec_second, NULL }, NULL), 0);
	assert_first_second(c, &n, cli);
	/* nor were the new program's file reads taken for the old
	 * connection's bytes (python reads its modules on that fd first) */
	assert_no_parse_errors(c);
	assert_accounting(c);
}

static void test_existing_connection(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { 0 };
	struct nginx n;
	struct raw_result res;
	struct want_count w;
	struct existing_arg a;
	int ready[2], go[2], fd;
	char p[ENV_PATH_BYTES], b;
	pid_t pid;

	start_nginx(c, &o, &n);
	env_path(&c->env, p, sizeof(p), "html/first");
	assert_int_equal(env_write_file(p, "1\n", 2), 0);
	env_path(&c->env, p, sizeof(p), "html/second");
	assert_int_equal(env_write_file(p, "2\n", 2), 0);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	a = (struct existing_arg){ n.port, ready[1], go[0] };
	pid = fork_child(c, child_existing, &a, &fd);
	close(ready[1]);
	close(go[0]);
	assert_int_equal(read(ready[0], &b, 1), 1);
	close(ready[0]);

	trace_start(c, false);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	child_result(c, pid, fd, &res);
	assert_int_equal(res.ok, 1);
	assert_int_equal(res.status, 200);
	w = (struct want_count){ n.port, 1, 1 };
	poll_until(c, have_counts, &w);
	trace_stop(c);

	if (c->nrecs != 2)
		dump_recs(c);
	/* exactly the request sent after the start, on both ends */
	assert_int_equal(count_side(c, HTTP_SIDE_SERVER, n.port), 1);
	assert_int_equal(count_side(c, HTTP_SIDE_CLIENT, n.port), 1);
	for (int side = HTTP_SIDE_SERVER; side <= HTTP_SIDE_CLIENT; side++) {
		const struct rec *r = find_rec(c, (enum http_side)side, n.port, "/second");

		assert_non_null(r);
		assert_string_equal(r->method, "GET");
		assert_int_equal(r->status, 200);
		assert_false(r->flags & HTTP1_EXCH_INCOMPLETE);
		assert_int_equal(r->resp_bytes, res.bytes);
		assert_int_equal(r->req_bytes, sizeof("GET /second HTTP/1.1\r\nHost: t\r\n\r\n") - 1);
		assert_true(is_loopback(r));
		if (side == HTTP_SIDE_SERVER) {
			assert_int_equal(r->lport, n.port);
			assert_int_equal(r->rport, res.lport);
		} else {
			assert_int_equal(r->lport, res.lport);
			assert_int_equal(r->rport, n.port);
		}
	}
	assert_accounting(c);
}

/* ---- 7: a client that goes away mid-response ---- */

static void test_client_disconnects(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { .sendfile = true };
	struct nginx n;
	struct raw_result res;
	struct want_count w;
	char p[ENV_PATH_BYTES];
	const struct rec *srv, *cli;
	/* read 64 KiB of a 50 MiB body, then close with the rest unread */
	struct one_req q = { 0, false, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n", 64 * 1024 };

	start_nginx(c, &o, &n);
	env_path(&c->env, p, sizeof(p), "html/big");
	assert_int_equal(env_make_file(p, BIG_FILE_BYTES, true), 0);
	q.port = n.port;
	trace_start(c, false);
	raw_request(c, &q, &res);
	assert_int_equal(res.status, 200);
	assert_true(res.bytes < BIG_FILE_BYTES);
	wait_log_lines(&n, 1);
	w = (struct want_count){ n.port, 1, 1 };
	poll_until(c, have_counts, &w);
	trace_stop(c);

	srv = find_rec(c, HTTP_SIDE_SERVER, n.port, "/big");
	cli = find_rec(c, HTTP_SIDE_CLIENT, n.port, "/big");
	if (!srv || !cli || c->nrecs != 2)
		dump_recs(c);
	/* The client closed with the body unfinished: its record is reported,
	 * marked incomplete, with the bytes it read. nginx logs the request as a
	 * 200 (the status it sent); its sendfile hits a reset socket and it
	 * closes the connection with the body short of Content-Length, so the
	 * server record is incomplete too, with fewer bytes than promised. */
	assert_non_null(cli);
	assert_int_equal(cli->status, 200);
	assert_true(cli->flags & HTTP1_EXCH_INCOMPLETE);
	assert_int_equal(cli->resp_bytes, res.bytes);
	assert_non_null(srv);
	assert_int_equal(srv->status, 200);
	assert_true(srv->flags & HTTP1_EXCH_INCOMPLETE);
	assert_true(srv->resp_bytes >= res.bytes);
	assert_true(srv->resp_bytes < BIG_FILE_BYTES);
	assert_int_equal(c->nrecs, 2);
	assert_int_equal(assert_server_matches_log(c, &n), 1);
	assert_accounting(c);
}

/* ---- 8: privacy canaries through the real CLI ---- */

static bool file_has(const char *path, const char *needle)
{
	char *s = env_read_file(path, NULL);
	bool has = s && strstr(s, needle);

	free(s);
	return has;
}

static bool file_has_bytes(const char *path, const char *needle)
{
	size_t len = 0, nl = strlen(needle);
	char *s = env_read_file(path, &len);
	bool has = false;

	for (size_t i = 0; s && i + nl <= len && !has; i++)
		has = !memcmp(s + i, needle, nl);
	free(s);
	return has;
}

static void test_privacy_canaries(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = {
		.extra = "location /cookie { add_header Set-Cookie \"x=CANARY-S\"; return 200 \"ok\\n\"; }",
	};
	struct nginx n;
	char port[16], url[128], hdrs[ENV_PATH_BYTES];
	char out[2][ENV_PATH_BYTES], err[2][ENV_PATH_BYTES];
	pid_t sonde[2];
	static const char *const canaries[] = { "CANARY-A", "CANARY-C", "CANARY-Q", "CANARY-S",
						"CANARY" };

	KERNEL_TEST_REQUIRE_ROOT();
	if (access(SONDE, X_OK))
		fail_msg("%s not found: run from the repository root after make", SONDE);
	start_nginx(c, &o, &n);
	snprintf(port, sizeof(port), "%d", n.port);
	for (int i = 0; i < 2; i++) {
		char *argv[] = { SONDE, "http", "--port", port, "--duration", "15",
				 i == 0 ? "--json" : NULL, NULL };

		env_path(&c->env, out[i], sizeof(out[i]), i == 0 ? "sonde-json.out" : "sonde-text.out");
		env_path(&c->env, err[i], sizeof(err[i]), i == 0 ? "sonde-json.err" : "sonde-text.err");
		sonde[i] = env_spawn(&c->env, argv, out[i], err[i]);
	}
	for (int i = 0; i < 2; i++) {
		uint64_t deadline = env_now_ms() + WAIT_RECORDS_MS;

		while (!file_has(err[i], "tracing") && env_now_ms() < deadline &&
		       waitpid(sonde[i], NULL, WNOHANG) == 0)
			env_sleep_ms(20);
		if (!file_has(err[i], "tracing")) {
			char *e = env_read_file(err[i], NULL);

			fprintf(stderr, "sonde http did not start: %s\n", e ? e : "?");
			free(e);
			fail();
		}
	}

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/cookie?token=CANARY-Q", n.port);
	env_path(&c->env, hdrs, sizeof(hdrs), "curl.headers");
	char *curl[] = { "curl", "-s", "-o", "/dev/null", "-D", hdrs,
			 "-H", "Authorization: Bearer CANARY-A", "-H", "Cookie: s=CANARY-C", url, NULL };

	assert_int_equal(run_traced(c, curl, NULL), 0);
	/* the canaries really were on the wire */
	assert_true(file_has(hdrs, "Set-Cookie: x=CANARY-S"));
	wait_log_lines(&n, 1);
	env_sleep_ms(SETTLE_MS);
	for (int i = 0; i < 2; i++) {
		int st;

		kill(sonde[i], SIGINT);
		st = env_wait(&c->env, sonde[i], CLIENT_TIMEOUT_MS);
		assert_true(st != -1 && WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}

	for (int i = 0; i < 2; i++)
		for (size_t k = 0; k < sizeof(canaries) / sizeof(canaries[0]); k++) {
			if (file_has_bytes(out[i], canaries[k]) || file_has_bytes(err[i], canaries[k]))
				fprintf(stderr, "%s leaked into %s\n", canaries[k], out[i]);
			assert_false(file_has_bytes(out[i], canaries[k]));
			assert_false(file_has_bytes(err[i], canaries[k]));
		}
	/* and the request was reported, with the query value redacted */
	assert_true(file_has(out[0], "\"side\":\"server\""));
	assert_true(file_has(out[0], "\"side\":\"client\""));
	assert_true(file_has(out[0], "\"path\":\"/cookie?token=REDACTED\""));
	assert_true(file_has(out[0], "\"type\":\"stats\""));
	assert_true(file_has(out[1], "/cookie?token=REDACTED"));
	assert_true(file_has(out[1], "server"));
	assert_true(file_has(out[1], "client"));
}

/* ---- 9: bad input ---- */

static void close_after_reply(int fd, unsigned wait_ms)
{
	struct timeval tv = { 0, (long)wait_ms * 1000 };
	char buf[4096];

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

static void child_bad_input(int out, void *arg)
{
	const int *port = arg;
	struct raw_result res = { 0 };
	static const char not_http[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
	static const char no_end[] = "GET /never-ends HTTP/1.1\r\nHost: t\r\nX-A: b";
	char garbage[4096];
	char *huge = malloc(HUGE_HEADER_BYTES + 256);
	uint32_t x = 12345;
	size_t len;
	int fd, ok = 1;

	if (!huge)
		_exit(1);
	/* bytes that are not HTTP at all */
	fd = env_connect(*port, false);
	ok &= fd >= 0 && !env_write_all(fd, not_http, sizeof(not_http) - 1);
	close_after_reply(fd, 500);
	/* binary garbage, NUL bytes included */
	for (size_t i = 0; i < sizeof(garbage); i++) {
		x = x * 1103515245u + 12345u;
		garbage[i] = i % 7 == 0 ? '\0' : (char)(x >> 16);
	}
	fd = env_connect(*port, false);
	ok &= fd >= 0 && !env_write_all(fd, garbage, sizeof(garbage));
	close_after_reply(fd, 500);
	/* a head that never ends: the client gives up */
	fd = env_connect(*port, false);
	ok &= fd >= 0 && !env_write_all(fd, no_end, sizeof(no_end) - 1);
	close_after_reply(fd, 300);
	/* a 100 KB header line (nginx answers 400) */
	len = (size_t)snprintf(huge, 64, "GET /huge-header HTTP/1.1\r\nHost: t\r\nX-Big: ");
	memset(huge + len, 'A', HUGE_HEADER_BYTES);
	len += HUGE_HEADER_BYTES;
	memcpy(huge + len, "\r\n\r\n", 4);
	len += 4;
	fd = env_connect(*port, false);
	ok &= fd >= 0 && !env_write_all(fd, huge, len);
	close_after_reply(fd, 500);
	/* a 100 KB request target (nginx answers 414) */
	len = (size_t)snprintf(huge, 64, "GET /");
	memset(huge + len, 'B', HUGE_HEADER_BYTES);
	len += HUGE_HEADER_BYTES;
	len += (size_t)snprintf(huge + len, 64, " HTTP/1.1\r\nHost: t\r\n\r\n");
	fd = env_connect(*port, false);
	ok &= fd >= 0 && !env_write_all(fd, huge, len);
	close_after_reply(fd, 500);
	free(huge);
	res.ok = ok;
	send_result(out, &res);
}

struct half_open_arg {
	int port;
	int ready_fd, go_fd;
};

/* Open HALF_OPEN_CONNS connections: half send nothing, half send half a
 * request; hold them until the parent says go, then close them all. */
static void child_half_open(int out, void *arg)
{
	const struct half_open_arg *a = arg;
	static const char half[] = "GET /half HTTP/1.1\r\nHo";
	struct rlimit rl = { HALF_OPEN_CONNS + 256, HALF_OPEN_CONNS + 256 };
	struct raw_result res = { 0 };
	static int fds[HALF_OPEN_CONNS];
	int opened = 0;
	char b;

	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < HALF_OPEN_CONNS; i++) {
		fds[i] = env_connect(a->port, false);
		if (fds[i] < 0)
			break;
		opened++;
		if (i % 2 && env_write_all(fds[i], half, sizeof(half) - 1))
			break;
	}
	res.ok = opened == HALF_OPEN_CONNS;
	res.bytes = (uint64_t)opened;
	if (write(a->ready_fd, "r", 1) != 1 || read(a->go_fd, &b, 1) != 1)
		res.ok = 0;
	for (int i = 0; i < opened; i++)
		close(fds[i]);
	send_result(out, &res);
}

static void test_bad_input(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { 0 };
	struct nginx n;
	struct raw_result res;
	struct want_count w;
	struct half_open_arg a;
	static const char *const during[] = { "/index.html", "/a.txt" };
	static const char *const after[] = { "/index.html", "/missing", "/a.txt" };
	struct http_pipeline_stats ps;
	int codes[4], ready[2], go[2], fd;
	char b;
	pid_t pid;

	start_nginx(c, &o, &n);
	trace_start(c, false);
	pid = fork_child(c, child_bad_input, &n.port, &fd);
	child_result(c, pid, fd, &res);
	assert_int_equal(res.ok, 1);
	http_tracer_poll(c->tracer, POLL_MS);

	/* 1,000 half-open connections, and normal requests while they are held */
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	a = (struct half_open_arg){ n.port, ready[1], go[0] };
	pid = fork_child(c, child_half_open, &a, &fd);
	close(ready[1]);
	close(go[0]);
	assert_true(wait_readable(c, ready[0], CLIENT_TIMEOUT_MS));
	assert_int_equal(read(ready[0], &b, 1), 1);
	close(ready[0]);
	run_curl(c, "127.0.0.1", n.port, during, 2, codes);
	assert_int_equal(codes[0], 200);
	assert_int_equal(codes[1], 200);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	child_result(c, pid, fd, &res);
	assert_int_equal(res.ok, 1);
	assert_int_equal(res.bytes, HALF_OPEN_CONNS);

	/* after all that, normal requests are still reported exactly */
	run_curl(c, "127.0.0.1", n.port, after, 3, codes);
	assert_int_equal(codes[0], 200);
	assert_int_equal(codes[1], 404);
	assert_int_equal(codes[2], 200);
	w = (struct want_count){ n.port, 0, 5 };
	poll_until(c, have_counts, &w);
	trace_stop(c);

	size_t ok_srv = 0, ok_cli = 0;

	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		if (strcmp(r->comm, "curl") && r->side == HTTP_SIDE_CLIENT)
			continue;
		if (r->side == HTTP_SIDE_CLIENT && !strcmp(r->comm, "curl"))
			ok_cli++;
		if (r->side == HTTP_SIDE_SERVER &&
		    (!strcmp(r->path, "/index.html") || !strcmp(r->path, "/a.txt") ||
		     !strcmp(r->path, "/missing")))
			ok_srv++;
	}
	if (ok_srv != 5 || ok_cli != 5)
		dump_recs(c);
	assert_int_equal(ok_cli, 5);
	assert_int_equal(ok_srv, 5);
	for (size_t k = 0; k < 2; k++) {
		assert_non_null(find_rec(c, HTTP_SIDE_SERVER, n.port, during[k]));
		assert_non_null(find_rec(c, HTTP_SIDE_CLIENT, n.port, during[k]));
	}
	for (size_t k = 0; k < 3; k++) {
		assert_non_null(find_rec(c, HTTP_SIDE_SERVER, n.port, after[k]));
		assert_non_null(find_rec(c, HTTP_SIDE_CLIENT, n.port, after[k]));
	}
	/* the half requests are reported, unfinished, on both ends: never
	 * dropped, never invented a status */
	size_t half_srv = 0, half_cli = 0;

	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		if (strcmp(r->path, "/half"))
			continue;
		assert_true(r->flags & HTTP1_EXCH_INCOMPLETE);
		assert_int_equal(r->status, 0);
		half_srv += r->side == HTTP_SIDE_SERVER;
		half_cli += r->side == HTTP_SIDE_CLIENT;
	}
	assert_int_equal(half_srv, HALF_OPEN_CONNS / 2);
	assert_int_equal(half_cli, HALF_OPEN_CONNS / 2);
	http_pipeline_stats(c->pipeline, &ps);
	if (getenv("SONDE_TEST_VERBOSE"))
		fprintf(stderr, "bad input: conns %llu not_http %llu parse_errors %llu "
			"head_too_large %llu incomplete %llu records %llu\n",
			(unsigned long long)ps.conns_opened, (unsigned long long)ps.http.conns_not_http,
			(unsigned long long)ps.http.parse_errors,
			(unsigned long long)ps.http.head_too_large,
			(unsigned long long)ps.http.incomplete, (unsigned long long)ps.records);
	assert_int_equal(ps.conn_table_full, 0);
	assert_accounting(c);
}

/* ---- HTTPS: the plaintext of SSL_read/SSL_write, through uprobes ---- */

/* nginx over TLS, curl with keep-alive: the server records equal the access
 * log, curl's are all there, every one says tls, and the encrypted bytes
 * of the same connections produce nothing. exported: SSL_read/SSL_write and
 * their _ex forms hooked, else (as sonde http by default) OpenSSL's
 * workers, which Debian's libssl must have been recognised for: the test
 * checks which programs ran. */
static void https_curl_keepalive(struct ctx *c, bool exported)
{
	struct http_tracer_opts topts = { .tls = true, .tls_exported_only = exported };
	struct nginx_opts o = { .tls = true };
	struct nginx n;
	static const char *const paths[] = { "/index.html", "/a.txt", "/missing",
					     "/a.txt?token=abc" };
	static const int want_status[] = { 200, 200, 404, 200 };
	const size_t np = sizeof(paths) / sizeof(paths[0]);
	struct http_tls_stats tls;
	uint64_t plain = 0, ex = 0;
	struct want_count w;
	int codes[16], stats_fd;

	KERNEL_TEST_REQUIRE_ROOT();
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME); /* the programs' run counts */
	if (stats_fd < 0)
		KERNEL_TEST_UNAVAILABLE("BPF run statistics cannot be turned on");
	start_nginx(c, &o, &n);
	trace_start_opts(c, false, &topts);
	run_curl_scheme(c, "https", "127.0.0.1", n.port, paths, np, codes);
	for (size_t i = 0; i < np; i++)
		assert_int_equal(codes[i], want_status[i]);
	wait_log_lines(&n, np);
	w = (struct want_count){ n.port, np, np };
	poll_until(c, have_counts, &w);
	http_tracer_tls_stats(c->tracer, &tls);
	assert_int_equal(http_tracer_prog_runs(c->tracer, "ssl_read_enter", &plain), 0);
	assert_int_equal(http_tracer_prog_runs(c->tracer, "ssl_read_ex_enter", &ex), 0);
	trace_stop(c);
	close(stats_fd);

	if (exported) {
		assert_int_equal(tls.files_workers, 0);
		assert_true(plain > 0);
	} else {
		assert_true(tls.files_workers >= 1);
		assert_int_equal(plain, 0);
		assert_true(ex > 0);
	}
	assert_int_equal(assert_server_matches_log(c, &n), np);
	assert_int_equal(count_side(c, HTTP_SIDE_CLIENT, n.port), np);
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		assert_true(r->tls);
		assert_string_equal(r->comm, r->side == HTTP_SIDE_SERVER ? "nginx" : "curl");
		assert_false(r->flags & HTTP1_EXCH_INCOMPLETE);
	}
	assert_accounting(c);
	assert_no_parse_errors(c);
}

static void test_https_curl_keepalive(void **state)
{
	https_curl_keepalive(*state, false);
}

static void test_https_curl_exported_hooks(void **state)
{
	https_curl_keepalive(*state, true);
}

static void test_https_wrk(void **state)
{
	char *argv[] = { "wrk", "-t1", "-c4", "-d2s", "URL", NULL };

	load_test(*state, argv, "wrk", 0, true);
}

#define NODE_TLS_REQUESTS 3

/* node links OpenSSL into its own binary and does its socket I/O outside
 * the SSL calls (memory BIOs); python uses the system libssl. Both sides,
 * in order, on one keep-alive connection. */
static void test_https_node_python(void **state)
{
	struct ctx *c = *state;
	char key[ENV_PATH_BYTES], cert[ENV_PATH_BYTES], script[2048], client[1024];
	const struct rec *srv[NODE_TLS_REQUESTS], *cli[NODE_TLS_REQUESTS];
	size_t ns = 0, nc = 0;
	struct want_count w;
	int port = env_free_port(false);
	pid_t node;

	assert_true(port > 0);
	assert_int_equal(env_make_cert(&c->env, key, cert), 0);
	snprintf(script, sizeof(script),
		 "const fs=require('fs');"
		 "require('https').createServer({key:fs.readFileSync('%s'),cert:fs.readFileSync('%s')},"
		 "(q,r)=>r.end('node over tls\\n')).listen(%d,'127.0.0.1');", key, cert, port);
	node = start_node(c, script, port);
	trace_start(c, false);
	snprintf(client, sizeof(client),
		 "import ssl, http.client\n"
		 "c = http.client.HTTPSConnection('127.0.0.1', %d,"
		 " context=ssl._create_unverified_context())\n"
		 "for i in range(%d):\n"
		 "    c.request('GET', '/n%%d' %% i)\n"
		 "    r = c.getresponse()\n"
		 "    assert r.status == 200 and r.read() == b'node over tls\\n'\n", port,
		 NODE_TLS_REQUESTS);
	char *pargv[] = { "/usr/bin/python3", "-c", client, NULL };

	assert_int_equal(run_traced(c, pargv, NULL), 0);
	w = (struct want_count){ port, NODE_TLS_REQUESTS, NODE_TLS_REQUESTS };
	poll_until(c, have_counts, &w);
	trace_stop(c);

	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		assert_true(r->tls);
		if (r->side == HTTP_SIDE_SERVER && ns < NODE_TLS_REQUESTS)
			srv[ns++] = r;
		else if (r->side == HTTP_SIDE_CLIENT && nc < NODE_TLS_REQUESTS)
			cli[nc++] = r;
	}
	if (ns != NODE_TLS_REQUESTS || nc != NODE_TLS_REQUESTS)
		dump_recs(c);
	assert_int_equal(ns, NODE_TLS_REQUESTS);
	assert_int_equal(nc, NODE_TLS_REQUESTS);
	for (int i = 0; i < NODE_TLS_REQUESTS; i++) {
		char want[16];

		snprintf(want, sizeof(want), "/n%d", i);
		assert_string_equal(srv[i]->path, want);
		assert_string_equal(cli[i]->path, want);
		assert_int_equal(srv[i]->status, 200);
		assert_int_equal(cli[i]->status, 200);
		assert_string_equal(srv[i]->comm, "node");
		assert_int_equal(srv[i]->pid, node);
		assert_int_equal(srv[i]->resp_bytes, cli[i]->resp_bytes);
	}
	assert_accounting(c);
	assert_no_parse_errors(c);
}

/* A libssl that no process had when sonde started (a copy, another inode,
 * loaded through LD_LIBRARY_PATH) is found by the next rescan, before the
 * process makes its requests; once the process is gone, the next rescan
 * detaches from it. */
static void test_https_library_loaded_late(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { .tls = true };
	struct nginx n;
	struct http_tls_stats before, after;
	char dir[ENV_PATH_BYTES], lib[ENV_PATH_BYTES], env[ENV_PATH_BYTES + 32], client[1024];
	char *cp[] = { "cp", "/usr/lib/x86_64-linux-gnu/libssl.so.3", lib, NULL };
	uint64_t deadline;
	struct want_count w;
	int st = -1;
	pid_t pid;

	start_nginx(c, &o, &n);
	env_path(&c->env, dir, sizeof(dir), "lib");
	mkdir(dir, 0755);
	env_path(&c->env, lib, sizeof(lib), "lib/libssl.so.3");
	assert_int_equal(env_run(&c->env, cp, NULL, 10000), 0);
	trace_start(c, false);
	http_tracer_tls_stats(c->tracer, &before);
	snprintf(client, sizeof(client),
		 "import ssl, time, http.client\n"
		 "time.sleep(2.5)\n"
		 "c = http.client.HTTPSConnection('127.0.0.1', %d,"
		 " context=ssl._create_unverified_context())\n"
		 "for p in ('/index.html', '/a.txt'):\n"
		 "    c.request('GET', p)\n"
		 "    assert c.getresponse().read()\n", n.port);
	snprintf(env, sizeof(env), "LD_LIBRARY_PATH=%s", dir);
	char *argv[] = { "env", env, "/usr/bin/python3", "-c", client, NULL };

	pid = env_spawn(&c->env, argv, NULL, NULL);
	assert_true(pid > 0);
	deadline = env_now_ms() + CLIENT_TIMEOUT_MS;
	while (env_now_ms() < deadline && waitpid(pid, &st, WNOHANG) != pid) {
		http_tracer_poll(c->tracer, POLL_MS);
		http_tracer_tls_rescan(c->tracer); /* what sonde http does every second */
	}
	env_untrack(&c->env, pid);
	assert_int_equal(st, 0);
	w = (struct want_count){ n.port, 2, 2 };
	poll_until(c, have_counts, &w);
	http_tracer_tls_rescan(c->tracer);
	http_tracer_tls_stats(c->tracer, &after);
	trace_stop(c);

	assert_int_equal(after.files_hooked, before.files_hooked + 1);
	assert_int_equal(after.files_unhooked, before.files_unhooked + 1);
	assert_int_equal(assert_server_matches_log(c, &n), 2);
	assert_int_equal(count_side(c, HTTP_SIDE_CLIENT, n.port), 2);
	for (size_t i = 0; i < c->nrecs; i++)
		assert_true(c->recs[i].tls);
	assert_accounting(c);
	assert_no_parse_errors(c);
}

/* --tls off: HTTPS traffic gives no record at all (and no garbage). */
static void test_https_tls_off(void **state)
{
	struct ctx *c = *state;
	struct http_tracer_opts topts = { .tls = false };
	struct nginx_opts o = { .tls = true };
	struct nginx n;
	static const char *const paths[] = { "/index.html", "/a.txt" };
	struct want_count w;
	int codes[4];

	start_nginx(c, &o, &n);
	trace_start_opts(c, false, &topts);
	run_curl_scheme(c, "https", "127.0.0.1", n.port, paths, 2, codes);
	assert_int_equal(codes[0], 200);
	wait_log_lines(&n, 2);
	w = (struct want_count){ n.port, 0, 0 };
	poll_until(c, have_counts, &w);
	trace_stop(c);
	assert_int_equal(count_side(c, HTTP_SIDE_SERVER, n.port), 0);
	assert_int_equal(count_side(c, HTTP_SIDE_CLIENT, n.port), 0);
	assert_no_parse_errors(c);
}

/* --port applies to HTTPS too: with nginx's port selected, the plaintext
 * of an OpenSSL server on another port gives no record (it once did: the
 * filter closed only the socket's stream, not the SSL calls'). */
static void test_https_port_filter(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { .tls = true };
	struct http_tracer_opts topts = { .tls = true };
	struct nginx n;
	static const char *const paths[] = { "/index.html", "/a.txt" };
	static const char *const other_paths[] = { "/", "/" };
	char key[ENV_PATH_BYTES], cert[ENV_PATH_BYTES], port_s[16];
	char *argv[] = { "openssl", "s_server", "-quiet", "-www", "-accept", port_s,
			 "-cert", cert, "-key", key, NULL };
	struct want_count w;
	int codes[4], other;
	pid_t pid;

	start_nginx(c, &o, &n);
	assert_int_equal(env_make_cert(&c->env, key, cert), 0);
	other = env_free_port(false);
	snprintf(port_s, sizeof(port_s), "%d", other);
	pid = env_spawn(&c->env, argv, NULL, NULL);
	assert_true(pid > 0);
	assert_true(env_wait_listening(pid, other, false));
	keep_port(c, other);
	topts.filter_port = (uint16_t)n.port;
	trace_start_opts(c, false, &topts);
	run_curl_scheme(c, "https", "127.0.0.1", other, other_paths, 2, codes);
	assert_int_equal(codes[0], 200);
	run_curl_scheme(c, "https", "127.0.0.1", n.port, paths, 2, codes);
	assert_int_equal(codes[0], 200);
	wait_log_lines(&n, 2);
	w = (struct want_count){ n.port, 2, 2 };
	poll_until(c, have_counts, &w);
	trace_stop(c);
	assert_int_equal(count_side(c, HTTP_SIDE_SERVER, n.port), 2);
	assert_int_equal(count_side(c, HTTP_SIDE_CLIENT, n.port), 2);
	assert_int_equal(count_side(c, HTTP_SIDE_SERVER, other), 0);
	assert_int_equal(count_side(c, HTTP_SIDE_CLIENT, other), 0);
	assert_int_equal(c->nrecs, 4);
	assert_accounting(c);
	assert_no_parse_errors(c);
}

/* SSL_read calls of the traced program runs (both forms), so far. */
static uint64_t ssl_read_runs(struct ctx *c)
{
	uint64_t a = 0, b = 0;

	assert_int_equal(http_tracer_prog_runs(c->tracer, "ssl_read_enter", &a), 0);
	if (http_tracer_prog_runs(c->tracer, "ssl_read_ex_enter", &b))
		b = 0; /* not hooked where this OpenSSL lacks the _ex form */
	return a + b;
}

/* One curl download of a 1 MiB body over HTTPS from nginx, traced with
 * filter_pid (0: every process): the SSL_read programs' runs. curl reads
 * the body in 16 KiB records, 64 SSL_read calls or more; nginx reads one
 * request. */
static uint64_t https_download_runs(struct ctx *c, struct nginx *n, uint32_t filter_pid,
				    bool perf_uprobes)
{
	struct http_tracer_opts topts = { .tls = true, .filter_pid = filter_pid,
					  .tls_perf_uprobes = perf_uprobes };
	static const char *const paths[] = { "/big.bin" };
	struct want_count w = { n->port, 1, filter_pid ? 0 : 1 };
	uint64_t runs;
	int codes[1];

	c->nrecs = 0;
	c->stopped = false;
	trace_start_opts(c, false, &topts);
	run_curl_scheme(c, "https", "127.0.0.1", n->port, paths, 1, codes);
	assert_int_equal(codes[0], 200);
	poll_until(c, have_counts, &w);
	runs = ssl_read_runs(c);
	trace_stop(c);
	http_tracer_close(c->tracer);
	c->tracer = NULL;
	http_pipeline_free(c->pipeline);
	c->pipeline = NULL;
	return runs;
}

/* --pid: the SSL uprobes are set in that process only, so another process
 * using OpenSSL (here curl) takes no trap and runs no program; without it
 * curl's SSL_read calls run the programs (the control: the test could
 * fail). */
static void test_https_pid_filter(void **state)
{
	struct ctx *c = *state;
	struct nginx_opts o = { .tls = true };
	struct nginx n;
	char big[ENV_PATH_BYTES], *body;
	uint64_t all, filtered;
	int stats_fd;

	KERNEL_TEST_REQUIRE_ROOT();
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0)
		KERNEL_TEST_UNAVAILABLE("BPF run statistics cannot be turned on");
	start_nginx(c, &o, &n);
	env_path(&c->env, big, sizeof(big), "html/big.bin");
	body = malloc(1 << 20);
	assert_non_null(body);
	memset(body, 'x', 1 << 20);
	assert_int_equal(env_write_file(big, body, 1 << 20), 0);
	free(body);
	/* uprobe-multi links, then perf uprobes (kernels before 6.6) */
	for (int perf = 0; perf <= 1; perf++) {
		all = https_download_runs(c, &n, 0, perf);
		filtered = https_download_runs(c, &n, (uint32_t)n.pid, perf);
		print_message("%s: SSL_read programs ran %" PRIu64 " times for every process, "
			      "%" PRIu64 " times with --pid of nginx\n",
			      perf ? "perf uprobes" : "uprobe-multi", all, filtered);
		assert_true(all >= 60);
		assert_true(filtered < 16);
	}
	close(stats_fd);
}

/* ---- a reader that stalls: payload is shed before opens and closes ---- */

#define STALL_REQUESTS 60
#define STALL_RING_KB 64

/* STALL_REQUESTS keep-alive requests, one at a time, on one connection. */
static void child_sequential(int out, void *arg)
{
	const int *port = arg;
	struct raw_result res = { 0 };
	int fd = env_connect(*port, false);
	char req[128];

	res.ok = fd >= 0;
	if (fd >= 0)
		res.lport = local_port(fd);
	for (int i = 0; i < STALL_REQUESTS && res.ok; i++) {
		int n = snprintf(req, sizeof(req), "GET /p0 HTTP/1.1\r\nHost: t\r\n%s\r\n",
				 i == STALL_REQUESTS - 1 ? "Connection: close\r\n" : "");

		if (env_write_all(fd, req, (size_t)n) || read_response(fd, &res, 0))
			res.ok = 0;
	}
	if (fd >= 0)
		close(fd);
	send_result(out, &res);
}

/* Nobody reads a 64 KiB ring while 60 requests run (240 segments, about
 * 60 KiB with their payload): past three quarters of the ring the segments
 * arrive without their bytes, counted as payload_shed, so that the
 * connection's opens and closes still find room. Nothing is dropped, the
 * accounting balances, and every request before the shedding is exact. */
static void test_stalled_reader_sheds_payload(void **state)
{
	struct ctx *c = *state;
	struct http_tracer_opts topts = { .ringbuf_kb = STALL_RING_KB };
	struct http_pipeline_stats ps;
	uint64_t k[STAT_COUNT];
	struct nginx_opts o = { 0 };
	struct nginx n;
	struct raw_result res;
	size_t exact = 0;
	char p[ENV_PATH_BYTES];
	ssize_t got;
	int fd;
	pid_t pid;

	start_nginx(c, &o, &n);
	env_path(&c->env, p, sizeof(p), "html/p0");
	assert_int_equal(env_write_file(p, "stalled\n", 8), 0);
	trace_start_opts(c, false, &topts);
	pid = fork_child(c, child_sequential, &n.port, &fd);
	/* the stall: wait for the client without polling the tracer */
	assert_int_not_equal(env_wait(&c->env, pid, CLIENT_TIMEOUT_MS), -1);
	got = read(fd, &res, sizeof(res));
	close(fd);
	assert_int_equal(got, (ssize_t)sizeof(res));
	assert_int_equal(res.ok, 1);
	wait_log_lines(&n, STALL_REQUESTS);
	trace_stop(c);

	assert_int_equal(http_tracer_kernel_stats(c->tracer, k), 0);
	http_pipeline_stats(c->pipeline, &ps);
	if (!k[STAT_PARTIAL_SHED] || k[STAT_DROP_RINGBUF_FULL])
		dump_recs(c);
	assert_true(k[STAT_PARTIAL_SHED] > 0);
	assert_int_equal(k[STAT_DROP_RINGBUF_FULL], 0);
	assert_int_equal(k[STAT_PRODUCED], http_tracer_delivered(c->tracer));
	/* both ends of the connection were announced and closed */
	assert_true(ps.conns_opened >= 2);
	assert_true(ps.conns_closed >= 2);
	assert_int_equal(ps.conns_live, 0);
	/* the requests before the shedding are exact, on both sides */
	for (size_t i = 0; i < c->nrecs; i++) {
		const struct rec *r = &c->recs[i];

		if (r->status == 200 && !strcmp(r->path, "/p0") &&
		    !(r->flags & HTTP1_EXCH_INCOMPLETE))
			exact++;
	}
	print_message("  %llu of %llu records shed their payload; %zu exact records of %d\n",
		      (unsigned long long)k[STAT_PARTIAL_SHED], (unsigned long long)k[STAT_PRODUCED],
		      exact, 2 * STALL_REQUESTS);
	assert_true(exact >= 2 * 10);
	assert_true(exact < 2 * STALL_REQUESTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_curl_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_shards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelining, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_burst_past_capture, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_node, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunked_writev_short_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_splice_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io_uring_said, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compat_syscall_not_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_1mb_sendfile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_1mb_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_reused_without_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_reused_after_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_closed_by_close_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_range_past_scan_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmsg_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_disconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_privacy_canaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_reader_sheds_payload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_curl_keepalive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_curl_exported_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_wrk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_node_python, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_library_loaded_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_tls_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_port_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_pid_filter, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	/* SONDE_TEST_FILTER=test_ipv6 (a glob) runs only the matching tests */
	if (getenv("SONDE_TEST_FILTER"))
		cmocka_set_test_filter(getenv("SONDE_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
