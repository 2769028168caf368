/* Privacy audit: nginx receives requests with a canary secret in every place
 * a secret travels (Authorization, Cookie and an API-key header, query
 * values, a URL fragment, the request body) and answers with canaries in
 * Set-Cookie and the response body. `sonde http`, with default settings,
 * must show none of them in any output: text, --json, and `sonde replay`
 * (text and JSON) of its --record capture, stdout and stderr alike, over
 * plain HTTP and over HTTPS (plaintext from the SSL uprobes). The
 * capture itself holds them (that is what makes the check meaningful, and
 * what its documentation must say), and must be mode 0600 even under umask
 * 000 and over an existing world-readable file. Needs root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>

#include "kernel/http_test_env.h"
#include "kernel/kernel_test.h"

#define START_WAIT_MS 10000
#define STOP_WAIT_MS 20000
#define RUN_WAIT_MS 20000
#define SETTLE_MS 300
#define CAPTURE_MODE 0600
#define TRACERS 2 /* one --json, one text, at the same time */
#define README_PATH "README.md"

/* Every canary starts with this, so one search finds a leak of any of them,
 * whole or cut. */
#define CANARY_STEM "CANARY"
#define CANARY_FRAG "CANARY-FRAG"

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

static int setup(void **state)
{
	return env_setup(state);
}

static int teardown(void **state)
{
	struct test_env *e = *state;

	if (e) {
		env_teardown_base(e);
		free(e);
	}
	return 0;
}

/* Does the file hold needle anywhere, NUL bytes and all? */
static bool file_has(const char *path, const char *needle)
{
	size_t len = 0, nl = strlen(needle);
	char *s = env_read_file(path, &len);
	bool has = false;

	for (size_t i = 0; s && i + nl <= len && !has; i++)
		has = !memcmp(s + i, needle, nl);
	free(s);
	return has;
}

static void require_sonde(void)
{
	KERNEL_TEST_REQUIRE_ROOT();
	if (access(sonde_path(), X_OK))
		fail_msg("%s not found: build it first (make)", sonde_path());
}

static void wait_tracing(pid_t pid, const char *err_path)
{
	uint64_t deadline = env_now_ms() + START_WAIT_MS;

	while (!file_has(err_path, "tracing") && env_now_ms() < deadline &&
	       waitpid(pid, NULL, WNOHANG) == 0)
		env_sleep_ms(20);
	if (!file_has(err_path, "tracing")) {
		char *e = env_read_file(err_path, NULL);

		fail_msg("sonde did not start: %s", e ? e : "?");
	}
}

static void stop_sonde(struct test_env *e, pid_t pid, const char *err_path)
{
	int st;

	kill(pid, SIGINT);
	st = env_wait(e, pid, STOP_WAIT_MS);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *s = env_read_file(err_path, NULL);

		fail_msg("sonde did not stop cleanly (status %d): %s", st, s ? s : "?");
	}
}

/* Run `sonde <args>` to completion, stdout and stderr to files; its exit
 * code. */
static int run_sonde(struct test_env *e, char *const args[], const char *out, const char *err)
{
	char *argv[8];
	int argc = 0, st;
	pid_t pid;

	argv[argc++] = (char *)sonde_path();
	for (int i = 0; args[i] && argc < 7; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	pid = env_spawn(e, argv, out, err);
	assert_true(pid > 0);
	st = env_wait(e, pid, RUN_WAIT_MS);
	assert_true(st != -1 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* No canary, nor its common stem, in an output file. */
static void assert_no_canary(const char *path)
{
	for (size_t k = 0; k < CANARY_COUNT; k++)
		if (file_has(path, canaries[k]))
			fail_msg("%s leaked into %s", canaries[k], path);
	if (file_has(path, CANARY_STEM)) {
		char *s = env_read_file(path, NULL);

		fail_msg("part of a canary leaked into %s: %s", path, s ? s : "?");
	}
}

/* A raw client in a child process (a fragment is never sent by curl):
 * write req, read until the server closes. Exits 0 on a 200. */
static void raw_request(struct test_env *e, int port, const char *req)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[4096];
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
		_exit(strncmp(buf, "HTTP/1.1 200", 12) ? 2 : 0);
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
	assert_true(file_has(hdrs, "Set-Cookie: sid=CANARY-SETCOOKIE"));
	assert_true(file_has(body, "secret=CANARY-RESPBODY"));

	snprintf(post_url, sizeof(post_url), "%s://127.0.0.1:%d/p", scheme, n->port);
	{
		char *curl[] = { "curl", "-s", "-k", "-o", "/dev/null", "--data",
				 "user=alice&password=CANARY-REQBODY", post_url, NULL };

		assert_int_equal(env_run(e, curl, NULL, RUN_WAIT_MS), 0);
	}
	if (!tls) {
		raw_request(e, n->port, "GET /p#" CANARY_FRAG " HTTP/1.1\r\nHost: localhost\r\n"
					"Connection: close\r\n\r\n");
		snprintf(req, sizeof(req), "GET /p?a=1#%s HTTP/1.1\r\nHost: localhost\r\n"
					   "Connection: close\r\n\r\n", CANARY_FRAG);
		raw_request(e, n->port, req);
	}

	deadline = env_now_ms() + START_WAIT_MS;
	while (file_lines(n->access_log) < want && env_now_ms() < deadline)
		env_sleep_ms(20);
	assert_int_equal(file_lines(n->access_log), want);
	env_sleep_ms(SETTLE_MS);
}

static void no_canary_in_any_output(struct test_env *e, bool tls)
{
	struct nginx_opts o = { .extra = NGINX_EXTRA, .tls = tls };
	struct nginx n;
	char port[16];
	char cap[TRACERS][ENV_PATH_BYTES], out[TRACERS][ENV_PATH_BYTES], err[TRACERS][ENV_PATH_BYTES];
	pid_t sonde[TRACERS];
	mode_t old_umask;
	int fd;

	require_sonde();
	if (nginx_start(e, &o, &n))
		fail_msg("nginx did not start (apt-get install nginx)");
	snprintf(port, sizeof(port), "%d", n.port);

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
		wait_tracing(sonde[i], err[i]);
	}
	make_traffic(e, &n, tls);
	for (int i = 0; i < TRACERS; i++)
		stop_sonde(e, sonde[i], err[i]);

	/* Live output: the secrets are not there, the requests are. */
	for (int i = 0; i < TRACERS; i++) {
		assert_no_canary(out[i]);
		assert_no_canary(err[i]);
	}
	assert_true(file_has(out[0], "\"path\":\"/p?token=REDACTED&next=REDACTED\""));
	assert_true(file_has(out[0], "\"method\":\"POST\""));
	assert_true(file_has(out[0], "\"type\":\"stats\""));
	assert_true(file_has(out[0], tls ? "\"tls\":true" : "\"tls\":false"));
	assert_true(file_has(out[1], "/p?token=REDACTED&next=REDACTED"));
	assert_true(file_has(out[1], "POST"));
	if (!tls) {
		/* the raw requests were reported, their fragments redacted */
		assert_true(file_has(out[0], "\"path\":\"/p#REDACTED\""));
		assert_true(file_has(out[0], "\"path\":\"/p?a=REDACTED#REDACTED\""));
		assert_true(file_has(out[1], "/p#REDACTED"));
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
			assert_int_equal(run_sonde(e, (char *[]){ "replay", cap[i],
								 json ? "--json" : NULL, NULL },
						   rout, rerr), 0);
			assert_no_canary(rout);
			assert_no_canary(rerr);
			assert_true(file_has(rout, "/p?token=REDACTED&next=REDACTED"));
			if (!tls)
				assert_true(file_has(rout, "/p?a=REDACTED#REDACTED"));
		}
	}
	/* The capture holds payload as sent, as documented: the canaries were
	 * captured by the kernel side and kept out of every output above. */
	for (size_t k = 0; k < CANARY_COUNT; k++) {
		if (tls && !strcmp(canaries[k], CANARY_FRAG))
			continue;
		if (!file_has(cap[0], canaries[k]))
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

	require_sonde();
	env_path(e, out, sizeof(out), "help.out");
	env_path(e, err, sizeof(err), "help.err");
	assert_int_equal(run_sonde(e, (char *[]){ "http", "--help", NULL }, out, err), 0);
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

	return cmocka_run_group_tests(tests, NULL, NULL);
}
