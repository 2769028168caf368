/* Short versions of `sonde stress`'s faults against sonde, checked outside
 * the lab's own code where it matters: after a consumer stall sonde's
 * closing stats record balances exactly (produced == delivered + filtered +
 * Σ dropped, read here from its raw output) with drops counted; after
 * kill -9 none of the killed instance's programs or links is left in the
 * kernel (asked of the kernel by id) and the restarted instance captures;
 * under a memory cgroup limit sonde degrades or exits with a clear reason
 * and every line it wrote parses, and the cgroup is removed afterwards;
 * slow, vanishing and hostile clients do not corrupt its output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kernel/kernel_test.h"
#include "lab/http_server.h"
#include "lab/loadgen.h"
#include "lab/stress_memcg.h"
#include "lab/tracer_output.h"
#include "lab/tracer_proc.h"

#define RUN_TIMEOUT_S 90
#define LINE_BYTES_MAX (1 << 16)

static char tmp_root[] = "/tmp/sonde-test-stress-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
	return system(cmd) == 0 ? 0 : -1;
}

static void require_env(void)
{
	KERNEL_TEST_REQUIRE_ROOT();
	if (access(kernel_test_sonde_path(), X_OK))
		fail_msg("%s not found: build it first (make)", kernel_test_sonde_path());
}

/* Run `sonde stress ARGS --out DIR --keep-raw --json` with stdout and
 * stderr in DIR.stdout / DIR.stderr; the exit code; *pid gets its pid (the
 * memory cgroup is named after it). */
static int run_stress(const char *dir, const char *const extra[], pid_t *pid_out)
{
	char out[600], err[600];
	const char *args[40] = { kernel_test_sonde_path(), "stress" };
	int n = 2, status;
	pid_t pid;
	time_t start = time(NULL);

	for (int i = 0; extra[i]; i++)
		args[n++] = extra[i];
	args[n++] = "--out";
	args[n++] = dir;
	args[n++] = "--keep-raw";
	args[n++] = "--json";
	args[n] = NULL;
	snprintf(out, sizeof(out), "%s.stdout", dir);
	snprintf(err, sizeof(err), "%s.stderr", dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(o, 1);
		dup2(e, 2);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	if (pid_out)
		*pid_out = pid;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (time(NULL) - start > RUN_TIMEOUT_S) {
			kill(pid, SIGINT);
			waitpid(pid, &status, 0);
			fail_msg("sonde stress did not finish within %d s", RUN_TIMEOUT_S);
		}
		usleep(100000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static json_t *load_results(const char *dir)
{
	char path[600];
	json_error_t jerr;
	json_t *r;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	r = json_load_file(path, 0, &jerr);
	if (!r)
		fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
	return r;
}

static void print_file(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "  | %s", line);
	fclose(f);
}

/* Run `sonde stress` into tmp_root/name (dir gets that path) and load its
 * results.json; an exit other than 0 (or 1 with exit1_ok) shows its stderr
 * and fails. */
static json_t *stress_results(const char *name, const char *const args[], bool exit1_ok,
			      pid_t *pid, char *dir, size_t dir_size)
{
	char raw[700];
	int code;

	snprintf(dir, dir_size, "%s/%s", tmp_root, name);
	code = run_stress(dir, args, pid);
	if (code != 0 && !(exit1_ok && code == 1)) {
		snprintf(raw, sizeof(raw), "%s.stderr", dir);
		print_file(raw);
		fail_msg("sonde stress exited %d", code);
	}
	return load_results(dir);
}

struct output_check {
	long lines, bad, http_server;
	bool cut_tail;         /* the file ends without a newline */
	json_t *last_final;    /* the last closing (not interim) stats record, owned */
};

/* Every complete line of a tracer's output must be one JSON object. */
static void check_output(const char *path, struct output_check *c)
{
	char *line = malloc(LINE_BYTES_MAX);
	FILE *f = fopen(path, "r");

	memset(c, 0, sizeof(*c));
	assert_non_null(line);
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	while (fgets(line, LINE_BYTES_MAX, f)) {
		size_t len = strlen(line);
		json_error_t jerr;
		json_t *o;
		const char *type;

		if (len == 0 || line[len - 1] != '\n') {
			c->cut_tail = true;
			break;
		}
		c->lines++;
		o = json_loadb(line, len - 1, 0, &jerr);
		type = json_string_value(json_object_get(o, "type"));
		if (!type) {
			if (!c->bad++)
				fprintf(stderr, "unparsable line: %.120s\n", line);
			json_decref(o);
			continue;
		}
		if (!strcmp(type, "http") && json_string_value(json_object_get(o, "side")) &&
		    !strcmp(json_string_value(json_object_get(o, "side")), "server"))
			c->http_server++;
		if (!strcmp(type, "stats") && !json_is_true(json_object_get(o, "interim"))) {
			json_decref(c->last_final);
			c->last_final = json_incref(o);
		}
		json_decref(o);
	}
	fclose(f);
	free(line);
}

/* produced == delivered + filtered + Σ dropped; Σ dropped to *dropped. */
static bool stats_balance(json_t *st, double *dropped)
{
	json_t *v;
	const char *k;
	double sum = 0;

	json_object_foreach(json_object_get(st, "dropped"), k, v)
		sum += json_number_value(v);
	*dropped = sum;
	return json_number_value(json_object_get(st, "produced")) ==
	       json_number_value(json_object_get(st, "delivered")) +
		       json_number_value(json_object_get(st, "filtered")) + sum;
}

/* A stall against a 64 KiB ring buffer at 1500 req/s: the ring overflows,
 * and the closing stats record still balances exactly. */
static void test_stall_drops_counted_exactly(void **state)
{
	static const char *const args[] = { "--phases", "chaos", "--faults", "stall", "--fault", "2",
					     "--observe", "3", "--rate", "1500", "--rate-start", "100",
					     "--sonde-args", "--ringbuf-kb 64", NULL };
	char dir[600], raw[700];
	struct output_check oc;
	json_t *r, *fault;
	double dropped;

	(void)state;
	require_env();
	r = stress_results("stall", args, false, NULL, dir, sizeof(dir));
	fault = json_object_get(json_object_get(r, "faults"), "stall");
	assert_true(json_is_true(json_object_get(fault, "ran")));
	assert_true(json_is_true(json_object_get(fault, "invariant")));
	assert_true(json_is_true(json_object_get(fault, "check_ok")));
	assert_true(json_number_value(json_object_get(fault, "drops")) > 0);
	/* capture came back within the observation */
	assert_true(json_is_number(json_object_get(fault, "recovery_s")));
	fprintf(stderr, "stall: %.0f drops, recovery %.2f s\n",
		json_number_value(json_object_get(fault, "drops")),
		json_number_value(json_object_get(fault, "recovery_s")));

	/* the same, from sonde's own output, not the lab's reading of it */
	snprintf(raw, sizeof(raw), "%s/raw/tracer-1.out", dir);
	check_output(raw, &oc);
	assert_int_equal(oc.bad, 0);
	assert_false(oc.cut_tail);
	assert_non_null(oc.last_final);
	assert_true(stats_balance(oc.last_final, &dropped));
	assert_true(dropped > 0);
	assert_true(json_number_value(json_object_get(json_object_get(oc.last_final, "dropped"),
						      "ringbuf_full")) > 0);
	json_decref(oc.last_final);
	json_decref(r);
}

/* kill -9 and restart: every program and link id the killed instance held
 * is gone from the kernel, and the new instance captures requests. */
static void test_kill_leaves_nothing_attached(void **state)
{
	static const char *const args[] = { "--phases", "chaos", "--faults", "kill", "--observe", "3",
					     "--rate", "300", "--rate-start", "100", NULL };
	char dir[600], raw[700];
	struct output_check oc;
	json_t *r, *fault, *ids, *v;
	size_t i;

	(void)state;
	require_env();
	r = stress_results("kill", args, false, NULL, dir, sizeof(dir));
	fault = json_object_get(json_object_get(r, "faults"), "kill");
	assert_true(json_is_true(json_object_get(fault, "check_ok")));
	assert_int_equal(json_integer_value(json_object_get(fault, "progs_left")), 0);
	assert_int_equal(json_integer_value(json_object_get(fault, "links_left")), 0);
	ids = json_object_get(fault, "killed_prog_ids");
	assert_true(json_array_size(ids) > 0);
	json_array_foreach(ids, i, v) {
		int fd = bpf_prog_get_fd_by_id((uint32_t)json_integer_value(v));

		if (fd >= 0)
			fail_msg("program %lld of the killed sonde is still loaded",
				 json_integer_value(v));
		assert_int_equal(errno, ENOENT);
	}
	ids = json_object_get(fault, "killed_link_ids");
	assert_true(json_array_size(ids) > 0);
	json_array_foreach(ids, i, v) {
		int fd = bpf_link_get_fd_by_id((uint32_t)json_integer_value(v));

		if (fd >= 0)
			fail_msg("link %lld of the killed sonde is still there", json_integer_value(v));
		assert_int_equal(errno, ENOENT);
	}
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "output"), "instances")), 2);
	assert_true(json_is_number(json_object_get(fault, "recovery_s")));
	/* the restarted sonde traced the target's requests */
	snprintf(raw, sizeof(raw), "%s/raw/tracer-2.out", dir);
	check_output(raw, &oc);
	assert_int_equal(oc.bad, 0);
	assert_true(oc.http_server > 100);
	json_decref(oc.last_final);
	json_decref(r);
}

/* Slow, vanishing and hostile clients on the traced port: the server keeps
 * answering the real load, sonde's output stays parseable line by line, its
 * books balance, and capture is back at 100 % after each. */
static void test_bad_clients(void **state)
{
	static const char *const args[] = { "--phases", "chaos", "--faults", "slow,vanish,hostile",
					     "--fault", "1", "--observe", "1.5", "--rate", "300",
					     "--rate-start", "100", NULL };
	static const char *const faults[] = { "slow", "vanish", "hostile" };
	char dir[600], raw[700];
	struct output_check oc;
	json_t *r;
	double dropped;

	(void)state;
	require_env();
	r = stress_results("clients", args, false, NULL, dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		json_t *f = json_object_get(json_object_get(r, "faults"), faults[i]);
		const char *detail = json_string_value(json_object_get(f, "detail"));

		fprintf(stderr, "%s: %s\n", faults[i], detail);
		assert_true(json_is_true(json_object_get(f, "check_ok")));
		assert_true(json_is_number(json_object_get(f, "recovery_s")));
		/* the clients did reach the server */
		assert_null(strstr(detail, " 0 connections"));
	}
	snprintf(raw, sizeof(raw), "%s/raw/tracer-1.out", dir);
	check_output(raw, &oc);
	assert_int_equal(oc.bad, 0);
	assert_non_null(oc.last_final);
	assert_true(stats_balance(oc.last_final, &dropped));
	json_decref(oc.last_final);
	json_decref(r);
}

static bool memcg_exists(pid_t stress_pid)
{
	char p1[128], p2[128];

	snprintf(p1, sizeof(p1), "/sys/fs/cgroup/memory/sonde-stress-%d", (int)stress_pid);
	snprintf(p2, sizeof(p2), "/sys/fs/cgroup/sonde-stress-%d", (int)stress_pid);
	return !access(p1, F_OK) || !access(p2, F_OK);
}

/* The memory phase with a 4 MB limit, far below what sonde's maps need: the
 * instance started inside the cgroup exits (its one-line reason, or the
 * cgroup's OOM kill), the lab says so and restarts it outside, every line
 * either instance wrote parses, and the cgroup is gone afterwards. */
static void test_memory_phase(void **state)
{
	static const char *const args[] = { "--phases", "memory", "--memory", "2", "--observe", "2",
					     "--memcg-mb", "4", "--rate", "500", "--rate-start", "100",
					     NULL };
	char dir[600], raw[700];
	const char *outcome;
	json_t *r, *fault;
	pid_t pid;

	(void)state;
	require_env();
	r = stress_results("memory", args, true, &pid, dir, sizeof(dir));
	assert_false(memcg_exists(pid));
	fault = json_object_get(json_object_get(r, "faults"), "memory");
	outcome = json_string_value(json_object_get(fault, "outcome"));
	assert_non_null(outcome);
	fprintf(stderr, "memory: %s: %s\n", outcome, json_string_value(json_object_get(fault, "detail")));
	assert_string_equal(outcome, "exited");
	assert_true(strstr(json_string_value(json_object_get(fault, "detail")), "memory") ||
		    json_number_value(json_object_get(fault, "oom_kills")) >= 1);
	assert_true(json_is_true(json_object_get(fault, "check_ok")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "output"), "bad_lines")), 0);
	for (int i = 1; i <= json_integer_value(json_object_get(json_object_get(r, "output"), "instances")); i++) {
		struct output_check oc;

		snprintf(raw, sizeof(raw), "%s/raw/tracer-%d.out", dir, i);
		check_output(raw, &oc);
		assert_int_equal(oc.bad, 0);
		json_decref(oc.last_final);
	}
	json_decref(r);
}

/* sonde started inside a memory cgroup too small for its maps: it exits
 * with one line saying why (or, below what the loader itself needs, the
 * kernel's OOM killer says so in the cgroup), and never writes a broken
 * line; with room enough it runs and balances its books. */
static void run_in_memcg(double limit_mb)
{
	struct lab_server_opts so = { .body_bytes = 64 };
	struct lab_server srv;
	struct lab_memcg mc;
	struct lab_memcg_stats ms;
	struct lab_load_opts lo = { .port = 0, .conns = 2, .rate = 200, .duration_s = 1 };
	struct lab_load_result lr;
	struct output_check oc;
	char out[600], err[600], name[64], reason[256], last[256] = "";
	int status, sync[2], code;
	long err_lines;
	pid_t pid;
	char go;

	snprintf(name, sizeof(name), "sonde-test-stress-%d", (int)getpid());
	if (lab_memcg_create(&mc, name, (uint64_t)(limit_mb * 1e6), reason, sizeof(reason)))
		KERNEL_TEST_UNAVAILABLE(reason);
	assert_int_equal(lab_server_start(&so, &srv), 0);
	snprintf(out, sizeof(out), "%s/memcg-%.0f.out", tmp_root, limit_mb);
	snprintf(err, sizeof(err), "%s/memcg-%.0f.err", tmp_root, limit_mb);
	assert_int_equal(pipe(sync), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(o, 1);
		dup2(e, 2);
		close(sync[1]);
		if (read(sync[0], &go, 1) != 1) /* in the cgroup before exec */
			_exit(126);
		execl(kernel_test_sonde_path(), kernel_test_sonde_path(), "http", "--json",
		      "--duration", "3", (char *)NULL);
		_exit(127);
	}
	close(sync[0]);
	assert_int_equal(lab_memcg_move_pid(&mc, pid), 0);
	assert_int_equal(write(sync[1], "g", 1), 1);
	close(sync[1]);
	lo.port = srv.port;
	lab_sleep_ms(1000);
	assert_int_equal(lab_load_run(&lo, &lr), 0);
	lab_load_result_free(&lr);
	waitpid(pid, &status, 0);
	lab_memcg_stats(&mc, &ms);
	lab_memcg_destroy(&mc);
	lab_server_stop(&srv);
	assert_true(access(mc.path, F_OK) != 0);

	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	err_lines = lab_count_lines_from(err, 0);
	lab_read_last_line(err, last, sizeof(last));
	fprintf(stderr, "memory.max %.0f MB: exit %d, OOM kills %.0f, stderr: %s\n", limit_mb, code,
		ms.oom_kills, last);
	check_output(out, &oc);
	assert_int_equal(oc.bad, 0);
	if (code == 2) {
		/* a clear reason, in one line */
		assert_int_equal(err_lines, 1);
		assert_non_null(strstr(last, "memory"));
		assert_int_equal(oc.lines, 0);
	} else if (code == 128 + SIGKILL) {
		/* the kernel's reason: the cgroup's OOM killer */
		assert_true(ms.oom_kills >= 1);
	} else {
		double dropped;

		assert_int_equal(code, 0);
		assert_false(oc.cut_tail);
		assert_non_null(oc.last_final);
		assert_true(stats_balance(oc.last_final, &dropped));
	}
	json_decref(oc.last_final);
}

static void test_memcg_from_start(void **state)
{
	(void)state;
	require_env();
	run_in_memcg(20);  /* its maps do not fit: exit 2, one line */
	run_in_memcg(256); /* room enough: runs, balanced */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stall_drops_counted_exactly),
		cmocka_unit_test(test_kill_leaves_nothing_attached),
		cmocka_unit_test(test_bad_clients),
		cmocka_unit_test(test_memory_phase),
		cmocka_unit_test(test_memcg_from_start),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
