/* agent/endpoint with the agent's real pages, functional only: /health
 * answered 200 many times over one keep-alive connection (no new connection
 * per request), /metrics of 1,000 series answered with exactly the page
 * prom_write_series renders (sent from the endpoint's buffer without a
 * copy), unknown paths 404, other methods 405, malformed requests 400, the
 * port in use an error that says so, the request counter. The answer times
 * and their targets are measured by `make bench-agent`, not here: a timed
 * unit test on a shared machine either fails at random or bounds nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/endpoint.h"
#include "agent/prom.h"
#include "agent/selfstats.h"

#define HEALTH_REQUESTS 200
#define METRICS_REQUESTS 5
#define SERIES 1000

struct pages {
	struct series_table *t;
	struct agent_snapshot snap;
};

static int render(void *ctx, const char *path, struct strbuf *b, const char **type)
{
	struct pages *p = ctx;
	int status = 200;

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint),
	};
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return ret;
}
