/* agent/endpoint with the agent's real pages, functional only: /health
 * answered 200 many times over one keep-alive connection (no new connection
 * per request), /metrics of 1,000 series answered with exactly the page
 * prom_write_series renders (sent from the endpoint's buffer without a
 * copy), unknown paths 404, other methods 405, malformed requests 400, the
 * port in use an error that says so, the request counter. Threads: /health
 * answered while a render on another connection is held (it would wait for
 * it with one server thread), and big pages sent to several slow readers
 * at once, more than the endpoint's pooled buffers, every byte right. The
 * answer times and their targets are measured by `make bench-agent`, not
 * here: a timed unit test on a shared machine either fails at random or
 * bounds nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/endpoint.h"
#include "agent/prom.h"
#include "agent/selfstats.h"

#define HEALTH_REQUESTS 200
#define METRICS_REQUESTS 5
#define SERIES 1000
/* Long enough for a test that went wrong to fail rather than hang; never a
 * bound on how fast anything is. */
#define WAIT_MS 10000
/* /big: a page larger than loopback's socket buffers (tcp_wmem's 4 MiB and
 * a 4 KiB receive buffer), so a reader that does not read holds it out */
#define BIG_BYTES (8u << 20)
#define BIG_CHUNK_BYTES 65536u
/* slow readers at once: more than the endpoint's pooled page buffers
 * (PAGES_OUT_MAX, 4), so the last ones render into buffers of their own */
#define BIG_READERS 6

struct pages {
	struct series_table *t;
	struct agent_snapshot snap;
	/* /slow: its render waits until released */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool slow_entered, slow_released;
	atomic_int big_rendered;
};

static char big_byte(size_t i)
{
	return (char)('a' + (i * 7 + i / 4096) % 26);
}

static int render(void *ctx, const char *path, struct strbuf *b, const char **type)
{
	struct pages *p = ctx;
	int status = 200;

	if (!strcmp(path, "/slow")) {
		*type = "text/plain";
		pthread_mutex_lock(&p->lock);
		p->slow_entered = true;
		pthread_cond_broadcast(&p->cond);
		while (!p->slow_released)
			pthread_cond_wait(&p->cond, &p->lock);
		pthread_mutex_unlock(&p->lock);
		strbuf_puts(b, "slow\n");
		return 200;
	}
	if (!strcmp(path, "/big")) {
		char chunk[BIG_CHUNK_BYTES];

		*type = "text/plain";
		for (size_t off = 0; off < BIG_BYTES; off += sizeof(chunk)) {
			for (size_t i = 0; i < sizeof(chunk); i++)
				chunk[i] = big_byte(off + i);
			if (strbuf_append(b, chunk, sizeof(chunk)))
				return 500;
		}
		atomic_fetch_add(&p->big_rendered, 1);
		return 200;
	}
	if (!strcmp(path, "/metrics")) {
		*type = PROM_CONTENT_TYPE;
		if (prom_write_series(b, p->t) || agent_metrics_self(b, &p->snap))
			return 500;
		return 200;
	}
	if (!strcmp(path, "/health")) {
		*type = "application/json";
		return agent_health_json(b, &p->snap, &status) ? 500 : status;
	}
	return 404;
}

/* The answer's body, appended to a strbuf. */
static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
	return strbuf_append(ctx, p, size * n) ? 0 : size * n;
}

static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* n GETs of url on one connection; every answer must be want_status, and
 * all but the first on the same connection (keep-alive). The last body is
 * left in body. */
static void gets(CURL *c, const char *url, int n, long want_status, struct strbuf *body)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	for (int i = 0; i < n; i++) {
		long code = 0, connects = -1;

		strbuf_reset(body);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		assert_int_equal(code, want_status);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		if (i)
			assert_int_equal(connects, 0);
	}
}

static void test_endpoint(void **state)
{
	struct agent_endpoint *e, *e2;
	struct pages p;
	char url[64], err[256], route[32];
	uint16_t port = free_port();
	struct strbuf body, want;
	CURL *c;

	(void)state;
	memset(&p, 0, sizeof(p));
	strbuf_init(&body, 0);
	strbuf_init(&want, 0);
	assert_int_equal(series_table_new(&p.t, SERIES), 0);
	for (int i = 0; i < SERIES; i++) {
		snprintf(route, sizeof(route), "/api/v1/resource%d/{id}", i);
		series_table_observe(p.t, (enum series_side)(i & 1), "GET", 200, route, "nginx",
				     "3f4b1c2d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809",
				     0.01);
	}
	p.snap.tracer[AGENT_TRACER_HTTP].enabled = p.snap.tracer[AGENT_TRACER_HTTP].attached = true;
	assert_int_equal(agent_endpoint_start(&e, "127.0.0.1", port, render, &p, err, sizeof(err)),
			 0);
	assert_int_equal(agent_endpoint_port(e), port);
	/* the same port twice: an error naming it */
	assert_true(agent_endpoint_start(&e2, "127.0.0.1", port, render, &p, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot listen on 127.0.0.1 port"));
	assert_int_equal(agent_endpoint_start(&e2, "localhost", port, render, &p, err, sizeof(err)),
			 -EINVAL);

	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", port);
	gets(c, url, HEALTH_REQUESTS, 200, &body);
	assert_non_null(strstr(body.buf, "\"status\""));

	/* the page as sent is the page as rendered, byte for byte, every time
	 * (the big page goes out of a reused buffer) */
	assert_int_equal(render(&p, "/metrics", &want, &(const char *){ NULL }), 200);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	for (int i = 0; i < METRICS_REQUESTS; i++) {
		gets(c, url, 1, 200, &body);
		assert_int_equal(body.len, want.len);
		assert_memory_equal(body.buf, want.buf, want.len);
		/* /health between two scrapes: a small page, copied */
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", port);
		gets(c, url, 1, 200, &body);
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	}

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/other", port);
	gets(c, url, 1, 404, &body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
	gets(c, url, 1, 405, &body);
	curl_easy_cleanup(c);
	assert_true(agent_endpoint_requests(e) >= HEALTH_REQUESTS + 2 * METRICS_REQUESTS + 2);

	/* malformed: 400, and the endpoint still answers */
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		char reply[128];
		ssize_t n;

		assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_true(write(fd, "\x16\x03\x01\x02\x00\x01\r\n\r\n", 10) == 10); /* a TLS hello */
		/* libmicrohttpd answers 400 to a bad request line, and closes
		 * on binary bytes: either way, nothing else */
		n = read(fd, reply, sizeof(reply) - 1);
		assert_true(n >= 0);
		reply[n] = 0;
		if (n)
			assert_non_null(strstr(reply, " 400 "));
		close(fd);
	}
	c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", port);
	gets(c, url, 1, 200, &body);
	curl_easy_cleanup(c);
	agent_endpoint_stop(e);
	series_table_free(p.t);
	strbuf_free(&body);
	strbuf_free(&want);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void pages_init(struct pages *p)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->snap.tracer[AGENT_TRACER_HTTP].enabled = p->snap.tracer[AGENT_TRACER_HTTP].attached = true;
}

/* One GET of url with its own connection; the status (0: no answer within
 * WAIT_MS), the body in body. */
static long get_once(const char *url, struct strbuf *body)
{
	CURL *c = curl_easy_init();
	long code = 0;

	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)WAIT_MS);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code;
}

struct slow_get {
	char url[64];
	atomic_long code;
	struct strbuf body;
};

static void *slow_get_main(void *arg)
{
	struct slow_get *g = arg;

	g->code = get_once(g->url, &g->body);
	return NULL;
}

/* A render in progress on one connection does not hold another's: /health
 * is answered while /slow's render waits, which it could not be with one
 * server thread (it would wait for /slow, and curl give up after WAIT_MS). */
static void test_health_during_render(void **state)
{
	struct agent_endpoint *e;
	struct slow_get g = { 0 };
	struct strbuf body;
	struct pages p;
	char url[64], err[256];
	pthread_t th;
	uint16_t port;
	long code;

	(void)state;
	pages_init(&p);
	strbuf_init(&body, 0);
	strbuf_init(&g.body, 0);
	assert_int_equal(series_table_new(&p.t, 1), 0);
	assert_int_equal(agent_endpoint_start(&e, "127.0.0.1", 0, render, &p, err, sizeof(err)), 0);
	port = agent_endpoint_port(e);
	snprintf(g.url, sizeof(g.url), "http://127.0.0.1:%u/slow", port);
	assert_int_equal(pthread_create(&th, NULL, slow_get_main, &g), 0);
	pthread_mutex_lock(&p.lock);
	for (uint64_t deadline = now_ms() + WAIT_MS; !p.slow_entered && now_ms() < deadline;) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&p.cond, &p.lock, &ts);
	}
	assert_true(p.slow_entered);
	pthread_mutex_unlock(&p.lock);

	/* the render of /slow is held: /health, twice, on new connections */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", port);
	for (int i = 0; i < 2; i++) {
		strbuf_reset(&body);
		code = get_once(url, &body);
		if (code != 200) {
			/* let /slow go, so that a failure does not hang the stop */
			pthread_mutex_lock(&p.lock);
			p.slow_released = true;
			pthread_cond_broadcast(&p.cond);
			pthread_mutex_unlock(&p.lock);
			pthread_join(th, NULL);
			fail_msg("/health during a held render: %ld, want 200", code);
		}
		assert_non_null(strstr(body.buf, "\"status\""));
	}
	pthread_mutex_lock(&p.lock);
	p.slow_released = true;
	pthread_cond_broadcast(&p.cond);
	pthread_mutex_unlock(&p.lock);
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&g.code), 200);
	assert_string_equal(g.body.buf, "slow\n");
	agent_endpoint_stop(e);
	series_table_free(p.t);
	strbuf_free(&body);
	strbuf_free(&g.body);
}

/* Read one answer to a GET on fd: 0 when its status is 200 and its body is
 * /big's, byte for byte. */
static int read_big(int fd)
{
	static char buf[BIG_CHUNK_BYTES];
	size_t have = 0, body, want, at = 0;
	char *end = NULL, *cl;

	while (!end) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, WAIT_MS) != 1 || have >= sizeof(buf) - 1)
			return -1;
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = 0;
		end = strstr(buf, "\r\n\r\n");
	}
	if (strncmp(buf, "HTTP/1.1 200 ", 13) || !(cl = strcasestr(buf, "\r\nContent-Length:")) ||
	    cl > end)
		return -1;
	want = strtoull(cl + 17, NULL, 10);
	if (want != BIG_BYTES)
		return -1;
	body = have - (size_t)(end + 4 - buf);
	for (size_t i = 0; i < body; i++, at++)
		if (end[4 + i] != big_byte(at))
			return -1;
	while (at < want) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, WAIT_MS) != 1)
			return -1;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return -1;
		for (ssize_t i = 0; i < n; i++, at++)
			if (buf[i] != big_byte(at))
				return -1;
	}
	return 0;
}

/* BIG_READERS connections each ask for /big and do not read it yet (a 4 KiB
 * receive buffer: the page stays out, in the endpoint's buffer or its
 * response's copy); once every page is rendered they read: every answer
 * whole and right, whichever buffer it was rendered into, and the endpoint
 * answers as before. */
static void test_pages_out(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const char req[] = "GET /big HTTP/1.1\r\nHost: test\r\n\r\n";
	int fds[BIG_READERS], small = 4096;
	struct agent_endpoint *e;
	struct strbuf body;
	struct pages p;
	char url[64], err[256];
	uint64_t deadline;

	(void)state;
	pages_init(&p);
	strbuf_init(&body, 0);
	assert_int_equal(series_table_new(&p.t, 1), 0);
	assert_int_equal(agent_endpoint_start(&e, "127.0.0.1", 0, render, &p, err, sizeof(err)), 0);
	a.sin_port = htons(agent_endpoint_port(e));
	for (int i = 0; i < BIG_READERS; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(write(fds[i], req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
	}
	deadline = now_ms() + WAIT_MS;
	while (atomic_load(&p.big_rendered) < BIG_READERS && now_ms() < deadline)
		poll(NULL, 0, 10);
	assert_int_equal(atomic_load(&p.big_rendered), BIG_READERS);
	/* read them in reverse: the ones rendered last come back first */
	for (int i = BIG_READERS - 1; i >= 0; i--) {
		if (read_big(fds[i]))
			fail_msg("reader %d: /big not answered 200 with its page", i);
		close(fds[i]);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", ntohs(a.sin_port));
	assert_int_equal(get_once(url, &body), 200);
	agent_endpoint_stop(e);
	series_table_free(p.t);
	strbuf_free(&body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_health_during_render),
		cmocka_unit_test(test_pages_out),
	};
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return ret;
}
