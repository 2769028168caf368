/* Privacy audit: nginx receives requests with a canary secret in every place
 * a secret travels (Authorization, Cookie and an API-key header, query
 * values, a URL fragment, the request body) and answers with canaries in
 * Set-Cookie and the response body. `sonde http`, with default settings,
 * must show none of them in any output: text, --json, and `sonde replay`
 * (text and JSON) of its --record capture, stdout and stderr alike, over
 * plain HTTP and over HTTPS (plaintext from the SSL uprobes). `sonde agent`,
 * with default settings but an OTLP endpoint (a receiver in this test, which
 * keeps every byte pushed to it, spans and metrics), traces the same
 * requests at the same time: none in /metrics, /health, any OTLP request or
 * its stdout and stderr, while each of them shows the requests themselves
 * (route /p, the methods, spans with url.path /p), so that a silent agent
 * cannot pass. The canaries in the curl command lines reach the agent's exec
 * tracer too, and one more request carries one as the user:password of a
 * proxy-form target. The capture itself holds them (that is what makes the
 * check meaningful, and what its documentation must say), and must be mode 0600
 * even under umask 000 and over an existing world-readable file. Needs
 * root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <math.h>

#include "kernel/agent_test_env.h"
#include "kernel/http_test_env.h"
#include "kernel/kernel_test.h"
#include "kernel/sonde_proc.h"

#define RUN_WAIT_MS 20000
#define SETTLE_MS 300
#define CAPTURE_MODE 0600
#define TRACERS 2 /* one --json, one text, at the same time */
#define README_PATH "README.md"
#define AGENT_WAIT_MS 10000

/* The agent's defaults, plus an OTLP endpoint (this test's receiver) that
 * also gets the RED histograms every second, a short flush, and a queue big
 * enough for whatever else runs on this host meanwhile. None of these keys
 * has anything to do with what is redacted. */
#define AGENT_CONFIG                                                                 \
	"{\"otlp\":{\"endpoint\":\"http://127.0.0.1:%u\",\"queue_spans\":65536,"       \
	"\"flush_interval_ms\":100,\"metrics_interval_s\":1}}"

/* The agent's series for the canary requests: nginx answered them on /p,
 * curl made them. */
#define AGENT_COUNT(side, method, status, process)                                   \
	"http_" side "_request_duration_seconds_count{http_request_method=\"" method "\"," \
	"http_response_status_code=\"" status "\",http_route=\"/p\",process_name=\"" process "\"}"
/* Where a metrics push carries route /p. */
#define OTLP_ROUTE_P "{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/p\"}}"

/* Every canary starts with this, so one search finds a leak of any of them,
 * whole or cut. */
#define CANARY_STEM "CANARY"
#define CANARY_FRAG "CANARY-FRAG"
/* user:password of a proxy-form target (GET http://user:pw@host/p); nginx
 * answers it 400. */
#define CANARY_USERINFO "CANARY-USERINFO"
#define USERINFO_STATUS 400

static const char *const canaries[] = {
	"CANARY-AUTH",      /* Authorization: Bearer */
	"CANARY-COOKIE",    /* Cookie */
	"CANARY-APIKEY",    /* X-Api-Key */
	"CANARY-QUERY",     /* ?token= */
	"CANARY-QUERY2",    /* second query value */
	CANARY_FRAG,        /* #fragment, sent by a raw client (curl drops it) */
	"CANARY-REQBODY",   /* POST body */
	"CANARY-SETCOOKIE", /* Set-Cookie of the response */
	"CANARY-RESPBODY",  /* response body */
};
#define CANARY_COUNT (sizeof(canaries) / sizeof(canaries[0]))

/* The server's answer on /p: a Set-Cookie and a body with canaries. */
#define NGINX_EXTRA                                                                 \
	"location /p { add_header Set-Cookie \"sid=CANARY-SETCOOKIE; HttpOnly\"; " \
	"return 200 \"secret=CANARY-RESPBODY\\n\"; }"

/* Requests nginx will log: two curls, and two raw ones over plain HTTP. */
#define REQUESTS_CURL 2
#define REQUESTS_RAW 2

static const char *sonde_path(void)
{
	return kernel_test_sonde_path();
}

/* The OTLP receiver, static so that its threads outlive a failed assertion;
 * live_receiver is set while it runs, and teardown stops it then. */
static struct otlp_receiver receiver;
static struct otlp_receiver *live_receiver;

static int setup(void **state)
{
	return env_setup(state);
}

static int teardown(void **state)
{
	struct test_env *e = *state;

	if (live_receiver) {
		otlp_receiver_stop(live_receiver);
		otlp_receiver_free(live_receiver);
		live_receiver = NULL;
	}
	if (e) {
		env_teardown_base(e);
		free(e);
	}
	return 0;
}

/* Fail if s[0..len) of path holds needle, showing what surrounds it. */
static void assert_absent(const char *path, const char *s, size_t len, const char *needle)
{
	size_t nl = strlen(needle);

	for (size_t at = 0; at + nl <= len; at++)
		if (!memcmp(s + at, needle, nl)) {
			size_t from = at > 200 ? at - 200 : 0;
			int n = (int)(len - from < 400 ? len - from : 400);

			fail_msg("%s leaked into %s: ...%.*s...", needle, path, n, s + from);
		}
}

/* No canary, nor their common stem (a canary cut), in an output file. */
static void assert_no_canary(const char *path)
{
	size_t len = 0;
	char *s = env_read_file(path, &len);

	assert_non_null(s);
	for (size_t k = 0; k < CANARY_COUNT; k++)
		assert_absent(path, s, len, canaries[k]);
	assert_absent(path, s, len, CANARY_USERINFO);
	assert_absent(path, s, len, CANARY_STEM);
	free(s);
}

/* A raw client in a child process (a fragment is never sent by curl):
 * write req, read until the server closes. Exits 0 when the answer has the
 * status want. */
static void raw_request(struct test_env *e, int port, const char *req, int want)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[4096], status[16];
		size_t len = 0;
		ssize_t n;
		int fd;

		env_child_init();
		fd = env_connect(port, false);
		if (fd < 0 || env_write_all(fd, req, strlen(req)))
			_exit(1);
		while (len + 1 < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)n;
		buf[len] = '\0';
		snprintf(status, sizeof(status), "HTTP/1.1 %d ", want);
		_exit(strncmp(buf, status, strlen(status)) ? 2 : 0);
	}
	env_track(e, pid);
	st = env_wait(e, pid, RUN_WAIT_MS);
	assert_true(st != -1 && WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static size_t file_lines(const char *path)
{
	char *s = env_read_file(path, NULL);
	size_t n = 0;

	for (char *p = s; p && *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

/* The canary requests; over HTTPS (curl -k on the self-signed certificate)
 * the raw fragment requests are left out. */
static void make_traffic(struct test_env *e, const struct nginx *n, bool tls)
{
	const char *scheme = tls ? "https" : "http";
	char url[160], post_url[96], hdrs[ENV_PATH_BYTES], body[ENV_PATH_BYTES];
	char req[512];
	size_t want = REQUESTS_CURL + (tls ? 0 : REQUESTS_RAW);
	uint64_t deadline;

	env_path(e, hdrs, sizeof(hdrs), "curl.headers");
	env_path(e, body, sizeof(body), "curl.body");
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d/p?token=CANARY-QUERY&next=CANARY-QUERY2",
		 scheme, n->port);
	{
		char *curl[] = { "curl", "-s", "-k", "-o", body, "-D", hdrs,
				 "-H", "Authorization: Bearer CANARY-AUTH",
				 "-H", "Cookie: session=CANARY-COOKIE",
				 "-H", "X-Api-Key: CANARY-APIKEY", url, NULL };

		assert_int_equal(env_run(e, curl, NULL, RUN_WAIT_MS), 0);
	}
	/* the canaries of the answer really were on the wire */
	assert_true(env_file_has(hdrs, "Set-Cookie: sid=CANARY-SETCOOKIE"));
	assert_true(env_file_has(body, "secret=CANARY-RESPBODY"));

	snprintf(post_url, sizeof(post_url), "%s://127.0.0.1:%d/p", scheme, n->port);
	{
		char *curl[] = { "curl", "-s", "-k", "-o", "/dev/null", "--data",
				 "user=alice&password=CANARY-REQBODY", post_url, NULL };

		assert_int_equal(env_run(e, curl, NULL, RUN_WAIT_MS), 0);
	}
	if (!tls) {
		raw_request(e, n->port, "GET /p#" CANARY_FRAG " HTTP/1.1\r\nHost: localhost\r\n"
					"Connection: close\r\n\r\n", 200);
		snprintf(req, sizeof(req), "GET /p?a=1#%s HTTP/1.1\r\nHost: localhost\r\n"
					   "Connection: close\r\n\r\n", CANARY_FRAG);
		raw_request(e, n->port, req, 200);
	}

	deadline = env_now_ms() + SONDE_START_WAIT_MS;
	while (file_lines(n->access_log) < want && env_now_ms() < deadline)
		env_sleep_ms(20);
	assert_int_equal(file_lines(n->access_log), want);
	env_sleep_ms(SETTLE_MS);
}

/* Write text to the test dir's file name, for assert_no_canary; its path in
 * path (ENV_PATH_BYTES). */
static void save(struct test_env *e, const char *name, const char *text, char *path)
{
	env_path(e, path, ENV_PATH_BYTES, name);
	assert_int_equal(env_write_file(path, text, strlen(text)), 0);
}

/* The agent's /metrics once it counted every canary request (want_get GETs
 * and one POST answered 200 by nginx, want_400 GETs answered 400, one GET
 * and one POST made by curl), saved to agent-metrics.txt; the exact counts
 * are asserted. A series that is absent counts as 0. */
static void agent_metrics(struct test_env *e, const struct agent *a, double want_get,
			  double want_400)
{
	uint64_t deadline = env_now_ms() + AGENT_WAIT_MS;
	char path[ENV_PATH_BYTES], *page = NULL;
	double sg, sp, s4, cg, cp;

	for (;;) {
		assert_int_equal(agent_http_get(a->port, "/metrics", &page), 200);
		sg = agent_sample(page, AGENT_COUNT("server", "GET", "200", "nginx"));
		sp = agent_sample(page, AGENT_COUNT("server", "POST", "200", "nginx"));
		s4 = fmax(0, agent_sample(page, AGENT_COUNT("server", "GET", "400", "nginx")));
		cg = agent_sample(page, AGENT_COUNT("client", "GET", "200", "curl"));
		cp = agent_sample(page, AGENT_COUNT("client", "POST", "200", "curl"));
		if ((sg >= want_get && sp >= 1 && s4 >= want_400 && cg >= 1 && cp >= 1) ||
		    env_now_ms() >= deadline)
			break;
		free(page);
		env_sleep_ms(100);
	}
	save(e, "agent-metrics.txt", page, path);
	free(page);
	assert_no_canary(path);
	if (sg != want_get || sp != 1 || s4 != want_400 || cg != 1 || cp != 1)
		fail_msg("agent counted server GET %g (want %g), POST %g, GET %d %g (want %g), "
			 "client GET %g, POST %g (want 1): see %s", sg, want_get, sp,
			 USERINFO_STATUS, s4, want_400, cg, cp, path);
	/* the requests' own series carry no query nor fragment */
	assert_false(env_file_has(path, "http_route=\"/p?"));
	assert_false(env_file_has(path, "http_route=\"/p#"));
}

/* /health, saved: ok, both tracers, and no canary. */
static void agent_health(struct test_env *e, const struct agent *a)
{
	char path[ENV_PATH_BYTES], *body = NULL;

	assert_int_equal(agent_http_get(a->port, "/health", &body), 200);
	save(e, "agent-health.json", body, path);
	free(body);
	assert_no_canary(path);
	assert_true(env_file_has(path, "\"status\":\"ok\""));
	assert_true(env_file_has(path, "\"http\":\"attached\""));
	assert_true(env_file_has(path, "\"exec\":\"attached\""));
}

/* Wait until the receiver has a metrics push with route /p. */
static bool otlp_metrics_with_route(struct otlp_receiver *r)
{
	uint64_t deadline = env_now_ms() + AGENT_WAIT_MS;
	bool found = false;

	while (!found && env_now_ms() < deadline) {
		size_t i;
		json_t *b;

		pthread_mutex_lock(&r->lock);
		json_array_foreach(r->bodies, i, b) {
			char *text;

			if (strcmp(json_string_value(json_object_get(b, "path")) ?: "", "/v1/metrics"))
				continue;
			text = json_dumps(json_object_get(b, "body"), JSON_COMPACT);
			found |= text && strstr(text, OTLP_ROUTE_P);
			free(text);
		}
		pthread_mutex_unlock(&r->lock);
		if (!found)
			env_sleep_ms(100);
	}
	return found;
}

struct span_tally {
	int server[2]; /* GET, POST: nginx's spans of the canary requests */
	int server_400; /* nginx's spans of the request with user:password */
	int client;    /* spans of the clients of those requests */
	int total;     /* every span received */
};

/* Every span received: no url.path, http.route or name with a query or a
 * fragment, whoever made the request; the spans of the canary requests
 * (url.path /p, server.port nginx's) counted, with their attributes
 * checked. */
static void tally_spans(struct otlp_receiver *r, int nginx_port, bool tls, struct span_tally *t)
{
	size_t i, k, j, m;
	json_t *b, *rs, *ss, *sp;

	memset(t, 0, sizeof(*t));
	json_array_foreach(r->bodies, i, b) {
		if (strcmp(json_string_value(json_object_get(b, "path")) ?: "", "/v1/traces"))
			continue;
		json_array_foreach(json_object_get(json_object_get(b, "body"), "resourceSpans"), k, rs)
		json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss)
		json_array_foreach(json_object_get(ss, "spans"), m, sp) {
			const char *path = otlp_attr_str(sp, "url.path");
			const char *route = otlp_attr_str(sp, "http.route");
			const char *name = json_string_value(json_object_get(sp, "name"));
			const char *method = otlp_attr_str(sp, "http.request.method");
			json_int_t kind = json_integer_value(json_object_get(sp, "kind"));
			long status;

			t->total++;
			if ((path && strpbrk(path, "?#")) || (route && strpbrk(route, "?#")) ||
			    (name && strpbrk(name, "?#")))
				fail_msg("a span carries a query or fragment: url.path '%s', "
					 "http.route '%s', name '%s'", path ?: "", route ?: "",
					 name ?: "");
			if (!path || strcmp(path, "/p") || otlp_attr_int(sp, "server.port") != nginx_port)
				continue;
			assert_non_null(method);
			assert_string_equal(otlp_attr_str(sp, "url.scheme"), tls ? "https" : "http");
			status = otlp_attr_int(sp, "http.response.status_code");
			if (kind == 3) {
				assert_true(status == 200 || status == USERINFO_STATUS);
				t->client++;
				continue;
			}
			assert_int_equal(kind, 2);
			assert_string_equal(route, "/p");
			assert_string_equal(otlp_attr_str(sp, "process.executable.name"), "nginx");
			if (status == USERINFO_STATUS) {
				assert_string_equal(name, "GET /p");
				t->server_400++;
				continue;
			}
			assert_int_equal(status, 200);
			if (!strcmp(method, "GET")) {
				assert_string_equal(name, "GET /p");
				t->server[0]++;
			} else {
				assert_string_equal(method, "POST");
				assert_string_equal(name, "POST /p");
				t->server[1]++;
			}
		}
	}
}

/* A proxy-form target whose authority carries user:password: `sonde http`
 * shows it as http://REDACTED@host/p (it once printed it whole), the
 * agent's route and url.path are the path alone. */
static void proxy_form_request(struct test_env *e, const struct nginx *n)
{
	char req[256];

	snprintf(req, sizeof(req), "GET http://user:%s@127.0.0.1:%d/p HTTP/1.1\r\n"
				   "Host: localhost\r\nConnection: close\r\n\r\n",
		 CANARY_USERINFO, n->port);
	raw_request(e, n->port, req, USERINFO_STATUS);
}

/* After the traffic: /metrics, /health, the agent stopped (its last OTLP
 * flush), its stdout and stderr, and every OTLP request received. */
static void check_agent(struct test_env *e, struct agent *a, const struct nginx *n, bool tls)
{
	int want_get = REQUESTS_CURL - 1 + (tls ? 0 : REQUESTS_RAW);
	int want_400 = tls ? 0 : 1;
	struct span_tally t;
	char raw[ENV_PATH_BYTES];

	agent_metrics(e, a, want_get, want_400);
	agent_health(e, a);
	if (!otlp_metrics_with_route(&receiver))
		fail_msg("no OTLP metrics push with route /p in %d s", AGENT_WAIT_MS / 1000);
	agent_stop(e, a);
	assert_no_canary(a->out_path);
	assert_no_canary(a->err_path);
	assert_true(env_file_has(a->err_path, "sonde agent: stopped;"));

	otlp_receiver_stop(&receiver);
	live_receiver = NULL;
	env_path(e, raw, sizeof(raw), "otlp-received.txt");
	assert_no_canary(raw);
	assert_int_equal(receiver.not_json, 0);
	tally_spans(&receiver, n->port, tls, &t);
	fprintf(stderr, "agent: %d OTLP requests, %d spans; canary requests: server GET %d, "
			"POST %d, GET %d %d, client %d\n", receiver.requests, t.total, t.server[0],
		t.server[1], USERINFO_STATUS, t.server_400, t.client);
	assert_int_equal(t.server[0], want_get);
	assert_int_equal(t.server[1], 1);
	assert_int_equal(t.server_400, want_400);
	/* curl's two, and the raw requests the test's own children made */
	assert_int_equal(t.client, REQUESTS_CURL + (tls ? 0 : REQUESTS_RAW + want_400));
	otlp_receiver_free(&receiver);
}

static void no_canary_in_any_output(struct test_env *e, bool tls)
{
	struct nginx_opts o = { .extra = NGINX_EXTRA, .tls = tls };
	struct nginx n;
	char port[16];
	char cap[TRACERS][ENV_PATH_BYTES], out[TRACERS][ENV_PATH_BYTES], err[TRACERS][ENV_PATH_BYTES];
	char raw[ENV_PATH_BYTES], config[256];
	pid_t sonde[TRACERS];
	struct agent agent;
	mode_t old_umask;
	int fd;

	sonde_require();
	if (nginx_start(e, &o, &n))
		fail_msg("nginx did not start (apt-get install nginx)");
	snprintf(port, sizeof(port), "%d", n.port);

	/* the agent and its collector, before the tracers */
	env_path(e, raw, sizeof(raw), "otlp-received.txt");
	assert_int_equal(otlp_receiver_start(&receiver, raw), 0);
	live_receiver = &receiver;
	snprintf(config, sizeof(config), AGENT_CONFIG, receiver.port);
	agent_start(e, sonde_path(), config, &agent);

	for (int i = 0; i < TRACERS; i++) {
		env_path(e, cap[i], sizeof(cap[i]), i == 0 ? "json.cap" : "text.cap");
		env_path(e, out[i], sizeof(out[i]), i == 0 ? "live-json.out" : "live-text.out");
		env_path(e, err[i], sizeof(err[i]), i == 0 ? "live-json.err" : "live-text.err");
	}
	/* The text tracer records over a world-writable file that exists. */
	fd = open(cap[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0666), 0);
	close(fd);

	/* Default settings but the port (so only this test's traffic) and the
	 * recording; umask 000 so only sonde's own mode protects the capture. */
	old_umask = umask(0);
	for (int i = 0; i < TRACERS; i++) {
		char *argv[] = { (char *)sonde_path(), "http", "--port", port, "--record", cap[i],
				 i == 0 ? "--json" : NULL, NULL };

		sonde[i] = env_spawn(e, argv, out[i], err[i]);
	}
	umask(old_umask);
	for (int i = 0; i < TRACERS; i++) {
		assert_true(sonde[i] > 0);
		sonde_wait_tracing(sonde[i], err[i]);
	}
	make_traffic(e, &n, tls);
	if (!tls)
		proxy_form_request(e, &n);
	for (int i = 0; i < TRACERS; i++)
		sonde_stop(e, sonde[i], err[i]);
	check_agent(e, &agent, &n, tls);

	/* Live output: the secrets are not there, the requests are. */
	for (int i = 0; i < TRACERS; i++) {
		assert_no_canary(out[i]);
		assert_no_canary(err[i]);
	}
	assert_true(env_file_has(out[0], "\"path\":\"/p?token=REDACTED&next=REDACTED\""));
	assert_true(env_file_has(out[0], "\"method\":\"POST\""));
	assert_true(env_file_has(out[0], "\"type\":\"stats\""));
	assert_true(env_file_has(out[0], tls ? "\"tls\":true" : "\"tls\":false"));
	assert_true(env_file_has(out[1], "/p?token=REDACTED&next=REDACTED"));
	assert_true(env_file_has(out[1], "POST"));
	if (!tls) {
		/* the raw requests were reported, their fragments redacted */
		assert_true(env_file_has(out[0], "\"path\":\"/p#REDACTED\""));
		assert_true(env_file_has(out[0], "\"path\":\"/p?a=REDACTED#REDACTED\""));
		assert_true(env_file_has(out[1], "/p#REDACTED"));
		assert_true(env_file_has(out[0], "\"path\":\"http://REDACTED@127.0.0.1:"));
		assert_true(env_file_has(out[1], "http://REDACTED@127.0.0.1:"));
	}

	for (int i = 0; i < TRACERS; i++) {
		struct stat st;

		assert_int_equal(stat(cap[i], &st), 0);
		if ((st.st_mode & 0777) != CAPTURE_MODE)
			fail_msg("%s has mode %o, not %o", cap[i], st.st_mode & 0777, CAPTURE_MODE);
		/* Replay of each capture, both formats: same rule. */
		for (int json = 0; json < 2; json++) {
			char rout[ENV_PATH_BYTES], rerr[ENV_PATH_BYTES], name[32];

			snprintf(name, sizeof(name), "replay-%d-%s.out", i, json ? "json" : "text");
			env_path(e, rout, sizeof(rout), name);
			snprintf(name, sizeof(name), "replay-%d-%s.err", i, json ? "json" : "text");
			env_path(e, rerr, sizeof(rerr), name);
			assert_int_equal(sonde_run(e, "replay", (char *[]){ cap[i],
								 json ? "--json" : NULL, NULL },
						   rout, rerr), 0);
			assert_no_canary(rout);
			assert_no_canary(rerr);
			assert_true(env_file_has(rout, "/p?token=REDACTED&next=REDACTED"));
			if (!tls)
				assert_true(env_file_has(rout, "/p?a=REDACTED#REDACTED"));
		}
	}
	/* The capture holds payload as sent, as documented: the canaries were
	 * captured by the kernel side and kept out of every output above. */
	for (size_t k = 0; k < CANARY_COUNT; k++) {
		if (tls && !strcmp(canaries[k], CANARY_FRAG))
			continue;
		if (!env_file_has(cap[0], canaries[k]))
			fail_msg("%s was not in the capture: the test did not exercise it", canaries[k]);
	}
}

static void test_no_canary_in_any_output(void **state)
{
	no_canary_in_any_output(*state, false);
}

/* The same over HTTPS: the plaintext comes from the SSL uprobes. */
static void test_no_canary_in_any_output_tls(void **state)
{
	no_canary_in_any_output(*state, true);
}

/* What a capture holds is said where a user decides to make one. */
static void test_capture_contents_documented(void **state)
{
	struct test_env *e = *state;
	char out[ENV_PATH_BYTES], err[ENV_PATH_BYTES];
	char *help, *readme;

	sonde_require();
	env_path(e, out, sizeof(out), "help.out");
	env_path(e, err, sizeof(err), "help.err");
	assert_int_equal(sonde_run(e, "http", (char *[]){ "--help", NULL }, out, err), 0);
	help = env_read_file(out, NULL);
	assert_non_null(help);
	assert_non_null(strstr(help, "--record FILE"));
	assert_non_null(strstr(help, "0600"));
	assert_non_null(strstr(help, "payload bytes"));
	assert_non_null(strstr(help, "cookies"));
	free(help);

	readme = env_read_file(README_PATH, NULL);
	if (!readme)
		fail_msg("%s not found: run from the repository root", README_PATH);
	assert_non_null(strstr(readme, "created with mode 0600"));
	assert_non_null(strstr(readme, "payload bytes as they were"));
	assert_non_null(strstr(readme, "Treat it like a packet capture"));
	free(readme);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_canary_in_any_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_canary_in_any_output_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capture_contents_documented, setup, teardown),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
