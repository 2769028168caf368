/* Kernel tests of --record and `sonde replay`: a live `sonde http` run on
 * nginx serving curl's keep-alive requests, and a live `sonde exec` run on a
 * few processes, each recorded; the replay of each capture must print
 * exactly the records the live run printed (JSON and text), and the replay
 * of a truncated copy must fail (exit 1) naming the offset, after printing
 * the records before it. Needs root; runs the sonde binary next to this
 * test's build directory (BUILD/sonde), else build/sonde from the
 * repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>

#include "kernel/http_test_env.h"
#include "kernel/kernel_test.h"
#include "kernel/sonde_proc.h"

#define RUN_WAIT_MS 20000
#define SETTLE_MS 300
#define KEEPALIVE_REQUESTS 5
#define TRACERS 2  /* one JSON, one text, at the same time */

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

/* The lines of a file that a record comparison keeps: not the stats line
 * (the live one has the kernel's counters, the replay its own). Returns a
 * malloc'd string of those lines, and their count. */
static char *record_lines(const char *path, size_t *count)
{
	char *s = env_read_file(path, NULL), *out, *o, *line, *save = NULL;

	assert_non_null(s);
	out = malloc(strlen(s) + 1);
	assert_non_null(out);
	o = out;
	*count = 0;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "\"type\":\"stats\"") || !strncmp(line, "stats", 5))
			continue;
		o += sprintf(o, "%s\n", line);
		(*count)++;
	}
	*o = '\0';
	free(s);
	return out;
}

/* Live and replayed records, line for line. */
static void expect_same_records(const char *live_path, const char *replay_path, size_t min_lines)
{
	size_t nl, nr;
	char *live = record_lines(live_path, &nl), *rep = record_lines(replay_path, &nr);

	if (strcmp(live, rep)) {
		size_t i = 0;

		while (live[i] && live[i] == rep[i])
			i++;
		while (i > 0 && live[i - 1] != '\n')
			i--;
		fail_msg("replay of %s differs from the live run (%zu vs %zu lines) at:\n"
			 "live:   %.300s\nreplay: %.300s", replay_path, nl, nr, live + i, rep + i);
	}
	if (nl < min_lines)
		fail_msg("only %zu record lines in %s, want at least %zu", nl, live_path, min_lines);
	free(live);
	free(rep);
}

/* Copy the first len bytes of src to dst. */
static void copy_prefix(const char *src, const char *dst, size_t len)
{
	size_t n;
	char *s = env_read_file(src, &n);

	assert_non_null(s);
	assert_true(len < n);
	assert_int_equal(env_write_file(dst, s, len), 0);
	free(s);
}

static size_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (size_t)st.st_size;
}

/* A truncated capture: exit 1, one line on stderr naming the offset, the
 * stats record saying so, and records from before the cut, each of which the
 * live run printed too (the exchanges open at the cut come out incomplete). */
static void expect_truncated_replay(struct test_env *e, const char *cap, const char *live_out,
				    const char *record_type)
{
	char cut[ENV_PATH_BYTES], out[ENV_PATH_BYTES], err[ENV_PATH_BYTES];
	char *live, *rep, *msg, *line, *save = NULL, needle[64];
	unsigned long long off;
	size_t nl, nr, size = file_size(cap), kept = 0;
	const char *p;

	env_path(e, cut, sizeof(cut), "cut.cap");
	env_path(e, out, sizeof(out), "cut.out");
	env_path(e, err, sizeof(err), "cut.err");
	/* two thirds in, one byte into whatever record is there */
	copy_prefix(cap, cut, size * 2 / 3 + 1);
	assert_int_equal(sonde_run(e, "replay", (char *[]){ cut, "--json", NULL }, out, err), 1);
	msg = env_read_file(err, NULL);
	assert_non_null(msg);
	p = strstr(msg, "offset ");
	if (!p || sscanf(p, "offset %llu", &off) != 1)
		fail_msg("no offset in the error: %s", msg);
	assert_true(off <= size * 2 / 3 + 1 && off >= 128);
	assert_int_equal(strchr(msg, '\n') - msg + 1, (long)strlen(msg)); /* one line */
	snprintf(needle, sizeof(needle), "\"complete\":false,\"error_offset\":%llu", off);
	assert_true(env_file_has(out, needle));

	live = record_lines(live_out, &nl);
	rep = record_lines(out, &nr);
	assert_true(nr > 0);
	for (line = strtok_r(rep, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_non_null(strstr(line, record_type));
		if (strstr(line, "\"incomplete\":true"))
			continue;
		if (!strstr(live, line))
			fail_msg("truncated replay printed a record the live run did not: %s", line);
		kept++;
	}
	assert_true(kept > 0);
	free(live);
	free(rep);
	free(msg);
}

static void test_http_replay_nginx(void **state)
{
	struct test_env *e = *state;
	struct nginx_opts o = { 0 };
	struct nginx n;
	char html[ENV_PATH_BYTES], page[ENV_PATH_BYTES], port[16];
	char cap[TRACERS][ENV_PATH_BYTES], out[TRACERS][ENV_PATH_BYTES], err[TRACERS][ENV_PATH_BYTES];
	char rout[TRACERS][ENV_PATH_BYTES], rerr[TRACERS][ENV_PATH_BYTES];
	char urls[KEEPALIVE_REQUESTS][128];
	char *curl[4 + 3 * KEEPALIVE_REQUESTS];
	pid_t sonde[TRACERS];
	int ac = 0;

	sonde_require();
	env_path(e, html, sizeof(html), "html");
	mkdir(html, 0755);
	env_path(e, page, sizeof(page), "html/index.html");
	assert_int_equal(env_write_file(page, "hello, replay\n", 14), 0);
	if (nginx_start(e, &o, &n))
		fail_msg("nginx did not start (apt-get install nginx)");
	snprintf(port, sizeof(port), "%d", n.port);

	for (int i = 0; i < TRACERS; i++) {
		char *argv[] = { (char *)sonde_path(), "http", "--port", port, "--record", cap[i],
				 i == 0 ? "--json" : NULL, NULL };

		env_path(e, cap[i], sizeof(cap[i]), i == 0 ? "http-json.cap" : "http-text.cap");
		env_path(e, out[i], sizeof(out[i]), i == 0 ? "http-json.out" : "http-text.out");
		env_path(e, err[i], sizeof(err[i]), i == 0 ? "http-json.err" : "http-text.err");
		sonde[i] = env_spawn(e, argv, out[i], err[i]);
		assert_true(sonde[i] > 0);
	}
	for (int i = 0; i < TRACERS; i++)
		sonde_wait_tracing(sonde[i], err[i]);

	/* one curl, one connection, several requests on it */
	curl[ac++] = "curl";
	curl[ac++] = "-s";
	for (int i = 0; i < KEEPALIVE_REQUESTS; i++) {
		static const char *const paths[KEEPALIVE_REQUESTS] = {
			"/index.html", "/missing", "/index.html?token=secret", "/", "/index.html",
		};

		snprintf(urls[i], sizeof(urls[i]), "http://127.0.0.1:%d%s", n.port, paths[i]);
		curl[ac++] = "-o";
		curl[ac++] = "/dev/null";
		curl[ac++] = urls[i];
	}
	curl[ac] = NULL;
	assert_int_equal(env_run(e, curl, NULL, RUN_WAIT_MS), 0);
	{
		uint64_t deadline = env_now_ms() + SONDE_START_WAIT_MS;
		size_t lines = 0;

		while (env_now_ms() < deadline) {
			char *log = env_read_file(n.access_log, NULL);

			lines = 0;
			for (char *p = log; p && *p; p++)
				lines += *p == '\n';
			free(log);
			if (lines >= KEEPALIVE_REQUESTS)
				break;
			env_sleep_ms(20);
		}
		assert_int_equal(lines, KEEPALIVE_REQUESTS);
	}
	env_sleep_ms(SETTLE_MS);
	for (int i = 0; i < TRACERS; i++)
		sonde_stop(e, sonde[i], err[i]);

	for (int i = 0; i < TRACERS; i++) {
		struct stat st;

		assert_int_equal(stat(cap[i], &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		env_path(e, rout[i], sizeof(rout[i]), i == 0 ? "replay-json.out" : "replay-text.out");
		env_path(e, rerr[i], sizeof(rerr[i]), i == 0 ? "replay-json.err" : "replay-text.err");
		assert_int_equal(sonde_run(e, "replay", (char *[]){ cap[i], i == 0 ? "--json" : NULL, NULL },
					    rout[i], rerr[i]), 0);
		/* every request from both sides; text has its column header too */
		expect_same_records(out[i], rout[i], 2 * KEEPALIVE_REQUESTS + (i == 1));
	}
	assert_true(env_file_has(rout[0], "\"type\":\"stats\",\"replay\":true"));
	assert_true(env_file_has(rout[0], "\"path\":\"/index.html?token=REDACTED\""));
	assert_true(env_file_has(rout[1], "stats (replay)"));
	expect_truncated_replay(e, cap[0], out[0], "\"type\":\"http\"");
}

static void test_exec_replay(void **state)
{
	struct test_env *e = *state;
	char cap[TRACERS][ENV_PATH_BYTES], out[TRACERS][ENV_PATH_BYTES], err[TRACERS][ENV_PATH_BYTES];
	char rout[TRACERS][ENV_PATH_BYTES], rerr[TRACERS][ENV_PATH_BYTES];
	pid_t sonde[TRACERS];

	sonde_require();
	for (int i = 0; i < TRACERS; i++) {
		char *argv[] = { (char *)sonde_path(), "exec", "--record", cap[i],
				 i == 0 ? "--json" : NULL, NULL };

		env_path(e, cap[i], sizeof(cap[i]), i == 0 ? "exec-json.cap" : "exec-text.cap");
		env_path(e, out[i], sizeof(out[i]), i == 0 ? "exec-json.out" : "exec-text.out");
		env_path(e, err[i], sizeof(err[i]), i == 0 ? "exec-json.err" : "exec-text.err");
		sonde[i] = env_spawn(e, argv, out[i], err[i]);
		assert_true(sonde[i] > 0);
	}
	for (int i = 0; i < TRACERS; i++)
		sonde_wait_tracing(sonde[i], err[i]);
	assert_int_equal(WEXITSTATUS(env_run(e, (char *[]){ "sh", "-c", "exit 3", NULL }, NULL,
					     RUN_WAIT_MS)), 3);
	assert_int_equal(env_run(e, (char *[]){ "true", "replay-arg", "two words", NULL }, NULL,
				 RUN_WAIT_MS), 0);
	assert_int_equal(env_run(e, (char *[]){ "sh", "-c", "sleep 0.05 & wait", NULL }, NULL,
				 RUN_WAIT_MS), 0);
	env_sleep_ms(SETTLE_MS);
	for (int i = 0; i < TRACERS; i++)
		sonde_stop(e, sonde[i], err[i]);

	for (int i = 0; i < TRACERS; i++) {
		env_path(e, rout[i], sizeof(rout[i]), i == 0 ? "replay-json.out" : "replay-text.out");
		env_path(e, rerr[i], sizeof(rerr[i]), i == 0 ? "replay-json.err" : "replay-text.err");
		assert_int_equal(sonde_run(e, "replay", (char *[]){ cap[i], i == 0 ? "--json" : NULL, NULL },
					    rout[i], rerr[i]), 0);
		/* at least: exec+exit of sh, true, sh, sleep */
		expect_same_records(out[i], rout[i], 8);
	}
	assert_true(env_file_has(rout[0], "\"args\":[\"true\",\"replay-arg\",\"two words\"]"));
	assert_true(env_file_has(rout[0], "\"exit_code\":3"));
	assert_true(env_file_has(rout[0], "\"type\":\"stats\",\"replay\":true"));
	expect_truncated_replay(e, cap[0], out[0], "\"type\":\"e");
}

/* Usage errors and files that are not captures: exit 2, one line. */
static void test_replay_refuses(void **state)
{
	struct test_env *e = *state;
	char out[ENV_PATH_BYTES], err[ENV_PATH_BYTES], junk[ENV_PATH_BYTES];
	char *s;

	if (access(sonde_path(), X_OK))
		fail_msg("%s not found: build it first (make)", sonde_path());
	env_path(e, out, sizeof(out), "refuse.out");
	env_path(e, err, sizeof(err), "refuse.err");
	env_path(e, junk, sizeof(junk), "junk.cap");
	assert_int_equal(env_write_file(junk, "GET / HTTP/1.1\r\n\r\n", 18), 0);
	assert_int_equal(sonde_run(e, "replay", (char *[]){ NULL }, out, err), 2);
	assert_int_equal(sonde_run(e, "replay", (char *[]){ junk, NULL }, out, err), 2);
	assert_true(env_file_has(err, "not a sonde capture"));
	assert_int_equal(sonde_run(e, "replay", (char *[]){ "/nonexistent.cap", NULL }, out, err), 2);
	assert_int_equal(sonde_run(e, "replay", (char *[]){ junk, "--side", "up", NULL }, out, err), 2);
	s = env_read_file(err, NULL);
	assert_non_null(strstr(s, "--side"));
	assert_int_equal(strchr(s, '\n') - s + 1, (long)strlen(s));
	free(s);
	assert_int_equal(sonde_run(e, "replay", (char *[]){ "--help", NULL }, out, err), 0);
	assert_true(env_file_has(out, "EXAMPLES"));
	assert_true(env_file_has(out, "private"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_replay_nginx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_refuses, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
