/* Kernel test of `sonde doctor`: runs the real binary on this kernel and checks
 * its verdict and every check this machine is known to pass or miss (kprobes
 * and fentry are compiled out here), the kernel version against the minimum,
 * `--programs` (text and JSON) against the programs the skeletons hold, plus
 * the usage-error contract.
 * Usage: test_doctor [path/to/sonde]   (default: BUILD/sonde of this test's
 * build, else build/sonde). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <jansson.h>

#include "exec.skel.h"
#include "http.skel.h"
#include "kernel/kernel_test.h"
#include "loader/bpf_programs.h"
#include "loader/probe.h"

#define OUTPUT_BYTES_MAX (64 * 1024)
#define FIELD_BYTES_MAX 1024
#define EXIT_USAGE_CODE 2

static char sonde_path[PATH_MAX];

struct run_result {
	int exit_code;        /* -1 when killed by a signal */
	char out[OUTPUT_BYTES_MAX];
	char err[OUTPUT_BYTES_MAX];
};

static void read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < cap) {
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
}

/* Run argv (argv[0] a path); 0 or -errno. */
static int run_argv(char *const argv[], struct run_result *r)
{
	int out_pipe[2], err_pipe[2], status;
	pid_t pid;

	if (pipe(out_pipe) || pipe(err_pipe))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(out_pipe[1], STDOUT_FILENO);
		dup2(err_pipe[1], STDERR_FILENO);
		close(out_pipe[0]);
		close(err_pipe[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(out_pipe[1]);
	close(err_pipe[1]);
	/* stderr stays far below a pipe's capacity, so reading it second is safe. */
	read_all(out_pipe[0], r->out, sizeof(r->out));
	read_all(err_pipe[0], r->err, sizeof(r->err));
	close(out_pipe[0]);
	close(err_pipe[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return 0;
}

/* Run sonde with args (NULL-terminated, without argv[0]); 0 or -errno. */
static int run_sonde(const char *const *args, struct run_result *r)
{
	char *argv[8] = { sonde_path };
	size_t i;

	for (i = 0; args[i] && i + 2 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	return run_argv(argv, r);
}

/* Decode the JSON string starting at s (just after its opening quote) into
 * out; returns a pointer past the closing quote, or NULL. Only the escapes
 * sonde's writer produces for ASCII text are decoded; others are kept. */
static const char *json_string_read(const char *s, char *out, size_t cap)
{
	size_t len = 0;

	while (*s && *s != '"') {
		char c = *s++;

		if (c == '\\' && *s) {
			c = *s++;
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
		}
		if (len + 1 < cap)
			out[len++] = c;
	}
	out[len] = '\0';
	return *s == '"' ? s + 1 : NULL;
}

/* In the check object named name, the string value of key; 0 or -ENOENT. */
static int check_field(const char *json, const char *name, const char *key, char *out, size_t cap)
{
	char needle[128], keypat[64];
	const char *obj, *end, *p;

	snprintf(needle, sizeof(needle), "{\"name\":\"%s\"", name);
	obj = strstr(json, needle);
	if (!obj)
		return -ENOENT;
	/* The object ends at the first '}' outside a string. */
	for (end = obj + 1; *end && *end != '}'; end++) {
		if (*end == '"') {
			for (end++; *end && *end != '"'; end++)
				if (*end == '\\' && end[1])
					end++;
		}
	}
	snprintf(keypat, sizeof(keypat), "\"%s\":\"", key);
	p = strstr(obj, keypat);
	if (!p || p > end)
		return -ENOENT;
	return json_string_read(p + strlen(keypat), out, cap) ? 0 : -ENOENT;
}

static void assert_check(const char *json, const char *name, const char *want_status)
{
	char status[FIELD_BYTES_MAX], detail[FIELD_BYTES_MAX];

	if (check_field(json, name, "status", status, sizeof(status)))
		fail_msg("check %s not in the output: %s", name, json);
	if (check_field(json, name, "detail", detail, sizeof(detail)))
		fail_msg("check %s has no detail", name);
	if (strcmp(status, want_status))
		fail_msg("check %s: status %s, expected %s (detail: %s)", name, status,
			 want_status, detail);
	if (!detail[0])
		fail_msg("check %s: empty detail", name);
}

static void test_doctor_json(void **state)
{
	static const char *const args[] = { "doctor", "--json", NULL };
	static const char *const ok_checks[] = {
		"btf", "ringbuf", "syscall_tracepoints", "sched_tracepoints",
		"raw_tracepoints", "uprobes", "uprobe_multi", "openssl", "bpf_stats", "helpers",
		"task_storage", "programs",
	};
	static const char *const missing_checks[] = { "kprobes", "fentry" };
	struct run_result *r;

	(void)state;
	KERNEL_TEST_REQUIRE_ROOT();
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(run_sonde(args, r), 0);
	if (r->exit_code != 0)
		fail_msg("sonde doctor --json exited %d; stderr: %s", r->exit_code, r->err);
	assert_non_null(strstr(r->out, "{\"type\":\"doctor\""));
	assert_non_null(strstr(r->out, "\"can_run\":true"));
	/* This kernel (6.x) against the minimum, and each check's version. */
	assert_non_null(strstr(r->out, "\"minimum\":\"" PROBE_KERNEL_MIN_TEXT "\""));
	assert_non_null(strstr(r->out, "\"new_enough\":true"));
	assert_non_null(strstr(r->out, "\"name\":\"ringbuf\",\"status\":\"ok\",\"required\":true,"
				      "\"since\":\"5.8\""));
	assert_non_null(strstr(r->out, "\"name\":\"uprobe_multi\",\"status\":\"ok\",\"required\":false,"
				      "\"since\":\"6.6\""));
	/* One JSON object on one line. */
	assert_ptr_equal(strchr(r->out, '\n'), r->out + strlen(r->out) - 1);
	for (size_t i = 0; i < sizeof(ok_checks) / sizeof(ok_checks[0]); i++)
		assert_check(r->out, ok_checks[i], "ok");
	for (size_t i = 0; i < sizeof(missing_checks) / sizeof(missing_checks[0]); i++)
		assert_check(r->out, missing_checks[i], "missing");
	free(r);
}

/* As nobody with CAP_BPF and CAP_PERFMON only: perf uprobes are refused
 * (this kernel wants CAP_SYS_ADMIN for them, and the check says so), the
 * uprobe-multi link HTTPS uses instead attaches and fires. */
static void test_doctor_uprobes_without_sys_admin(void **state)
{
	char *const argv[] = { "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
			       "--inh-caps=-all,+bpf,+perfmon,+dac_read_search",
			       "--ambient-caps=-all,+bpf,+perfmon,+dac_read_search", "--",
			       sonde_path, "doctor", "--json", NULL };
	char detail[FIELD_BYTES_MAX];
	struct run_result *r;

	(void)state;
	KERNEL_TEST_REQUIRE_ROOT();
	if (system("command -v setpriv >/dev/null 2>&1") || system("id nobody >/dev/null 2>&1"))
		KERNEL_TEST_UNAVAILABLE("setpriv or user nobody missing");
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(run_argv(argv, r), 0);
	if (r->exit_code != 0)
		fail_msg("sonde doctor --json as nobody exited %d; stderr: %s", r->exit_code, r->err);
	assert_check(r->out, "uprobe_multi", "ok");
	assert_int_equal(check_field(r->out, "uprobes", "detail", detail, sizeof(detail)), 0);
	/* kernels before the 2025 change still let CAP_PERFMON attach them */
	if (!strstr(detail, "attached and ran") && !strstr(detail, "CAP_SYS_ADMIN"))
		fail_msg("uprobes refused without naming CAP_SYS_ADMIN: %s", detail);
	free(r);
}

static void test_doctor_text(void **state)
{
	static const char *const args[] = { "doctor", NULL };
	struct run_result *r;

	(void)state;
	KERNEL_TEST_REQUIRE_ROOT();
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(run_sonde(args, r), 0);
	if (r->exit_code != 0)
		fail_msg("sonde doctor exited %d; stderr: %s", r->exit_code, r->err);
	assert_non_null(strstr(r->out, "CHECK"));
	assert_non_null(strstr(r->out, "kprobes "));
	assert_non_null(strstr(r->out, "sonde needs " PROBE_KERNEL_MIN_TEXT " or later"));
	assert_non_null(strstr(r->out, "CONFIG_KPROBES"));
	assert_non_null(strstr(r->out, "fentry/fexit not available on this kernel"));
	assert_non_null(strstr(r->out, "\nprograms "));
	assert_non_null(strstr(r->out, "sonde can run here"));
	free(r);
}

/* The programs of the shipped skeletons, as "object/name", read from the
 * skeletons themselves (not from sonde's list), so a program missing from
 * the doctor's output is caught. Returns the count. */
#define SHIPPED_PROGS_MAX 64
#define PROG_ID_BYTES 96

static size_t skeleton_programs(char ids[][PROG_ID_BYTES], size_t cap)
{
	struct exec_bpf *e = exec_bpf__open();
	struct http_bpf *h = http_bpf__open();
	struct bpf_program *p;
	size_t n = 0;

	assert_non_null(e);
	assert_non_null(h);
	bpf_object__for_each_program(p, e->obj) {
		assert_true(n < cap);
		snprintf(ids[n++], PROG_ID_BYTES, "exec/%s", bpf_program__name(p));
	}
	bpf_object__for_each_program(p, h->obj) {
		assert_true(n < cap);
		snprintf(ids[n++], PROG_ID_BYTES, "http/%s", bpf_program__name(p));
	}
	exec_bpf__destroy(e);
	http_bpf__destroy(h);
	return n;
}

/* The text line of object/name: starts with the object, then the name. */
static const char *text_program_line(const char *out, const char *object, const char *name,
				     char *line, size_t cap)
{
	const char *p = out;

	while (p && *p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char o[32], nm[BPF_PROG_NAME_BYTES];

		if (sscanf(p, "%31s %63s", o, nm) == 2 && !strcmp(o, object) && !strcmp(nm, name)) {
			snprintf(line, cap, "%.*s", (int)len, p);
			return line;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

static void test_doctor_programs(void **state)
{
	static const char *const json_args[] = { "doctor", "--programs", "--json", NULL };
	static const char *const text_args[] = { "doctor", "--programs", NULL };
	static char ids[SHIPPED_PROGS_MAX][PROG_ID_BYTES];
	struct run_result *rj, *rt;
	json_error_t jerr;
	json_t *root, *progs;
	size_t n;

	(void)state;
	KERNEL_TEST_REQUIRE_ROOT();
	n = skeleton_programs(ids, SHIPPED_PROGS_MAX);
	assert_true(n > 0);
	rj = calloc(1, sizeof(*rj));
	rt = calloc(1, sizeof(*rt));
	assert_non_null(rj);
	assert_non_null(rt);
	assert_int_equal(run_sonde(json_args, rj), 0);
	if (rj->exit_code != 0)
		fail_msg("sonde doctor --programs --json exited %d; stderr: %s", rj->exit_code, rj->err);
	assert_int_equal(run_sonde(text_args, rt), 0);
	if (rt->exit_code != 0)
		fail_msg("sonde doctor --programs exited %d; stderr: %s", rt->exit_code, rt->err);
	assert_string_equal(rj->err, "");
	assert_ptr_equal(strchr(rj->out, '\n'), rj->out + strlen(rj->out) - 1);

	root = json_loads(rj->out, 0, &jerr);
	if (!root)
		fail_msg("--programs --json is not JSON (%s): %s", jerr.text, rj->out);
	assert_string_equal(json_string_value(json_object_get(root, "type")), "doctor_programs");
	assert_true(json_is_true(json_object_get(root, "ok")));
	assert_int_equal(json_integer_value(json_object_get(root, "insns_limit")), 1000000);
	progs = json_object_get(root, "programs");
	assert_true(json_is_array(progs));
	/* Exactly the skeletons' programs, each once. */
	assert_int_equal(json_array_size(progs), n);
	for (size_t i = 0; i < n; i++) {
		const char *slash = strchr(ids[i], '/');
		char object[16], line[512], num[32];
		json_t *hit = NULL, *v;
		size_t k;
		long insns;
		double pct;

		snprintf(object, sizeof(object), "%.*s", (int)(slash - ids[i]), ids[i]);
		json_array_foreach(progs, k, v) {
			if (!strcmp(json_string_value(json_object_get(v, "object")), object) &&
			    !strcmp(json_string_value(json_object_get(v, "name")), slash + 1)) {
				assert_null(hit);
				hit = v;
			}
		}
		if (!hit)
			fail_msg("%s missing from --programs --json", ids[i]);
		assert_string_equal(json_string_value(json_object_get(hit, "status")), "ok");
		assert_non_null(json_string_value(json_object_get(hit, "prog_type")));
		assert_true(strlen(json_string_value(json_object_get(hit, "attach"))) > 0);
		insns = (long)json_integer_value(json_object_get(hit, "insns_processed"));
		/* 6.18 reports verified_insns (5.16+): it must match the log. */
		assert_int_equal(json_integer_value(json_object_get(hit, "verified_insns")), insns);
		if (insns <= 0 || insns > BPF_VERIFIER_INSNS_BUDGET)
			fail_msg("%s: %ld instructions processed", ids[i], insns);
		pct = json_real_value(json_object_get(hit, "limit_pct"));
		assert_true(pct > 0 && pct < 50.0);
		assert_true(pct * 10000.0 > (double)insns - 1 && pct * 10000.0 < (double)insns + 1);
		/* JIT is on here: every program became native code. */
		assert_true(json_integer_value(json_object_get(hit, "jited_bytes")) > 0);
		assert_true(json_integer_value(json_object_get(hit, "xlated_bytes")) > 0);

		/* The text line says the same. */
		if (!text_program_line(rt->out, object, slash + 1, line, sizeof(line)))
			fail_msg("%s missing from --programs text: %s", ids[i], rt->out);
		snprintf(num, sizeof(num), " %ld ", insns);
		if (!strstr(line, num))
			fail_msg("%s: text line lacks its %ld instructions: %s", ids[i], insns, line);
		assert_non_null(strstr(line, "%"));
		assert_null(strstr(line, "REFUSED"));
		assert_null(strstr(line, "OVER BUDGET"));
	}
	assert_non_null(strstr(rt->out, "largest: http/sys_exit_any"));
	json_decref(root);
	free(rj);
	free(rt);
}

/* The helper probe behind the helpers and task_storage checks, in-process:
 * it must say no for a helper the kernel does not know and for one it has
 * but not for the program type (libbpf 1.1's own probe says yes there on
 * 6.x kernels), and yes for those sonde uses. */
static void test_helper_probe(void **state)
{
	(void)state;
	KERNEL_TEST_REQUIRE_ROOT();
	assert_int_equal(probe_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop), 1);
	assert_int_equal(probe_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task_btf), 1);
	assert_int_equal(probe_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_task_storage_get), 1);
	/* networking helper, not offered to tracing programs */
	assert_int_equal(probe_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_skb_store_bytes), 0);
	/* an id past the end of every kernel's helper list */
	assert_int_equal(probe_helper(BPF_PROG_TYPE_TRACEPOINT, 100000), 0);
}

static void test_doctor_bogus_option(void **state)
{
	static const char *const args[] = { "doctor", "--bogus", NULL };
	struct run_result *r;
	size_t len;

	(void)state;
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(run_sonde(args, r), 0);
	assert_int_equal(r->exit_code, EXIT_USAGE_CODE);
	len = strlen(r->err);
	/* Exactly one non-empty line on stderr, nothing on stdout. */
	assert_true(len > 1);
	assert_ptr_equal(strchr(r->err, '\n'), r->err + len - 1);
	assert_non_null(strstr(r->err, "--bogus"));
	assert_string_equal(r->out, "");
	free(r);
}

static void test_doctor_help(void **state)
{
	static const char *const args[] = { "doctor", "--help", NULL };
	struct run_result *r;

	(void)state;
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	assert_int_equal(run_sonde(args, r), 0);
	assert_int_equal(r->exit_code, 0);
	assert_non_null(strstr(r->out, "EXAMPLES"));
	assert_non_null(strstr(r->out, "sonde doctor --programs"));
	free(r);
}

/* argv[1], else the sonde of this test's build (kernel_test_sonde_path).
 * 0 or -ENOENT. */
static int find_sonde(int argc, char **argv)
{
	snprintf(sonde_path, sizeof(sonde_path), "%s",
		 argc > 1 ? argv[1] : kernel_test_sonde_path());
	return access(sonde_path, X_OK) ? -ENOENT : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doctor_json),
		cmocka_unit_test(test_doctor_uprobes_without_sys_admin),
		cmocka_unit_test(test_doctor_text),
		cmocka_unit_test(test_doctor_programs),
		cmocka_unit_test(test_helper_probe),
		cmocka_unit_test(test_doctor_bogus_option),
		cmocka_unit_test(test_doctor_help),
	};

	if (find_sonde(argc, argv)) {
		fprintf(stderr, "test_doctor: no sonde binary (tried %s); build it with "
				"'make build/sonde' or pass its path\n", sonde_path);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
