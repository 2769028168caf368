/* Least privilege and running side by side, end to end with the sonde
 * binary: each tracer run as user nobody with exactly the capabilities
 * docs/privileges.md lists captures a real event (curl against nginx, an
 * exec of a uniquely named program); without CAP_BPF it stops at once with
 * one line and exit 2; `--user nobody` leaves a process with nobody's ids,
 * no capability beyond what it keeps and no_new_privs, that still captures,
 * HTTPS of a process started after the drop included (uprobe-multi links).
 * Then two tracers of the same kind at once see exactly the same records, a
 * SIGKILL of one does not disturb the other, and a restarted one captures
 * again. Robust to other sonde instances on the host: records are selected
 * by a port or command name of this test's own, programs by this test's
 * processes' fds, never by global counts. Last, `sonde agent` runs with
 * exactly the capabilities of deploy/sonde-agent.service. Needs root,
 * setpriv (util-linux) and nginx; run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>

#include <bpf/bpf.h>

#include "kernel/http_test_env.h"
#include "kernel/kernel_test.h"
#include "kernel/sonde_proc.h"
#include "loader/bpf_env.h"

#define RECORD_WAIT_MS 5000
#define REFUSE_WAIT_MS 10000
#define PROGS_GONE_MS 5000
#define SETTLE_MS 300
#define CMD_ARGS_MAX 32
#define PROG_IDS_MAX 64
#define TRACER_DURATION "60" /* a bound on a test that dies midway */

/* Capability numbers as /proc/PID/status masks them. */
#define CAPBIT(n) (UINT64_C(1) << (n))
#define CAP_NR_DAC_READ_SEARCH 2
#define CAP_NR_SYS_ADMIN 21
#define CAP_NR_PERFMON 38
#define CAP_NR_BPF 39

/* The sets docs/privileges.md gives, as setpriv spells them. */
#define CAPS_EXEC "+bpf,+perfmon,+dac_read_search"
#define CAPS_EXEC_RAW "+bpf,+perfmon"
#define CAPS_HTTP "+bpf,+perfmon"
/* HTTPS: the same where the kernel makes uprobe-multi links (6.6+); perf
 * uprobes, the fallback, need CAP_SYS_ADMIN since 2025 */
#define CAPS_HTTPS "+bpf,+perfmon"
#define CAPS_HTTPS_PERF_UPROBES "+bpf,+perfmon,+sys_admin"
#define CAPS_NO_BPF "+perfmon,+dac_read_search"

struct tracer {
	pid_t pid;
	int port;   /* http: only records of this test's nginx port count */
	char out[ENV_PATH_BYTES];
	char err[ENV_PATH_BYTES];
};

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

static const char *sonde_path(void)
{
	return kernel_test_sonde_path();
}

static bool have_program(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

static void require_env(bool nginx)
{
	KERNEL_TEST_REQUIRE_ROOT();
	if (access(sonde_path(), X_OK))
		fail_msg("%s not found: build it first (make)", sonde_path());
	if (!have_program("setpriv"))
		KERNEL_TEST_UNAVAILABLE("setpriv (util-linux) is not installed");
	if (nginx && !have_program("nginx"))
		KERNEL_TEST_UNAVAILABLE("nginx is not installed (apt-get install nginx)");
	if (!getpwnam("nobody"))
		KERNEL_TEST_UNAVAILABLE("no user nobody on this host");
}

/* Does this kernel attach the SSL programs with uprobe-multi links? */
static bool have_uprobe_multi(void)
{
	return bpf_env_uprobe_multi_supported() == 1;
}

static const struct passwd *nobody(void)
{
	static struct passwd pw;
	static char name[64];
	const struct passwd *p = getpwnam("nobody");

	assert_non_null(p);
	pw = *p;
	snprintf(name, sizeof(name), "%s", p->pw_name);
	pw.pw_name = name;
	return &pw;
}

/* The setpriv words that run the rest as nobody with exactly caps (a
 * setpriv list like "+bpf,+perfmon"; "" for none), through the ambient
 * set, as a service manager's AmbientCapabilities= would. */
static int as_nobody(char **argv, const char *caps)
{
	static char ids[2][32], inh[128], amb[128];
	const struct passwd *pw = nobody();
	int n = 0;

	snprintf(ids[0], sizeof(ids[0]), "--reuid=%u", (unsigned)pw->pw_uid);
	snprintf(ids[1], sizeof(ids[1]), "--regid=%u", (unsigned)pw->pw_gid);
	snprintf(inh, sizeof(inh), "--inh-caps=-all%s%s", *caps ? "," : "", caps);
	snprintf(amb, sizeof(amb), "--ambient-caps=-all%s%s", *caps ? "," : "", caps);
	argv[n++] = "setpriv";
	argv[n++] = ids[0];
	argv[n++] = ids[1];
	argv[n++] = "--clear-groups";
	argv[n++] = inh;
	argv[n++] = amb;
	argv[n++] = "--";
	return n;
}

/* Start `[prefix...] sonde args...`, stdout and stderr to files named
 * after name in the test dir. */
static void tracer_start(struct test_env *e, struct tracer *t, const char *name, const char *caps,
			 int port, char *const args[])
{
	char *argv[CMD_ARGS_MAX], file[64];
	int n = 0;

	if (caps)
		n = as_nobody(argv, caps);
	argv[n++] = (char *)sonde_path();
	for (int i = 0; args[i] && n < CMD_ARGS_MAX - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	snprintf(file, sizeof(file), "%s.out", name);
	env_path(e, t->out, sizeof(t->out), file);
	snprintf(file, sizeof(file), "%s.err", name);
	env_path(e, t->err, sizeof(t->err), file);
	t->port = port;
	t->pid = env_spawn(e, argv, t->out, t->err);
	assert_true(t->pid > 0);
}

/* Whether an http record is of a connection to the port (its server side
 * has it as local port, its client side as remote); any line when port is
 * 0. Other tests' HTTPS shows up in a `--port` run: the port filter does
 * not apply to the SSL uprobes' records. */
static bool line_of_port(const char *line, int port)
{
	char lport[32], rport[32];

	if (!port)
		return true;
	snprintf(lport, sizeof(lport), "\"lport\":%d,", port);
	snprintf(rport, sizeof(rport), "\"rport\":%d,", port);
	return (strstr(line, lport) && strstr(line, "\"side\":\"server\"")) ||
	       (strstr(line, rport) && strstr(line, "\"side\":\"client\""));
}

/* Lines of the file that contain every needle (NULL-terminated list) and
 * are of the port (0: any). */
static size_t count_port_lines(const char *path, int port, const char *const needles[])
{
	char *s = env_read_file(path, NULL), *line, *save = NULL;
	size_t n = 0;

	for (line = s ? strtok_r(s, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		bool all = line_of_port(line, port);

		for (int i = 0; needles[i] && all; i++)
			all = strstr(line, needles[i]) != NULL;
		n += all;
	}
	free(s);
	return n;
}

static size_t count_lines(const char *path, const char *const needles[])
{
	return count_port_lines(path, 0, needles);
}

static size_t file_lines(const char *path)
{
	return count_lines(path, (const char *const[]){ NULL });
}

/* Wait for "tracing" on its stderr: programs attached, privileges dropped. */
static void wait_tracing(const struct tracer *t)
{
	sonde_wait_tracing(t->pid, t->err);
}

/* Wait until want lines of the port carry every needle; the count seen. */
static size_t wait_port_lines(const char *path, int port, const char *const needles[], size_t want)
{
	uint64_t deadline = env_now_ms() + RECORD_WAIT_MS;
	size_t n;

	while ((n = count_port_lines(path, port, needles)) < want && env_now_ms() < deadline)
		env_sleep_ms(20);
	return n;
}

/* SIGINT, then it must exit 0 by itself. */
static size_t wait_lines(const char *path, const char *const needles[], size_t want)
{
	return wait_port_lines(path, 0, needles, want);
}

static void tracer_stop(struct test_env *e, struct tracer *t)
{
	sonde_stop(e, t->pid, t->err);
}

/* A field of /proc/PID/status ("Uid:", "CapEff:"), as its text. */
static bool status_field(pid_t pid, const char *key, char *out, size_t size)
{
	char path[64], *s, *p, *end;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	s = env_read_file(path, NULL);
	p = s ? strstr(s, key) : NULL;
	if (!p) {
		free(s);
		return false;
	}
	p += strlen(key);
	p += strspn(p, " \t");
	end = strchr(p, '\n');
	snprintf(out, size, "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
	free(s);
	return true;
}

static uint64_t status_caps(pid_t pid, const char *key)
{
	char v[64];

	if (!status_field(pid, key, v, sizeof(v)))
		fail_msg("no %s in /proc/%d/status", key, (int)pid);
	return strtoull(v, NULL, 16);
}

/* The process that runs sonde: setpriv execs it, so the same pid. */
static void expect_caps(const struct tracer *t, uint64_t want)
{
	uint64_t eff = status_caps(t->pid, "CapEff:");

	if (eff != want)
		fail_msg("sonde runs with CapEff %016" PRIx64 ", want exactly %016" PRIx64, eff, want);
}

/* One line on stderr, naming what is missing, exit 2, within the bound. */
static void expect_refused(struct test_env *e, const char *caps_or_null, bool root_bounding,
			   char *const args[], const char *needle)
{
	struct tracer t;
	char *argv[CMD_ARGS_MAX], *s;
	int n = 0, st;

	if (root_bounding) {
		/* uid 0, but its capabilities cut to the bounding set */
		static char bnd[128];

		snprintf(bnd, sizeof(bnd), "--bounding-set=-all,%s", caps_or_null);
		argv[n++] = "setpriv";
		argv[n++] = "--inh-caps=-all";
		argv[n++] = bnd;
		argv[n++] = "--";
	} else {
		n = as_nobody(argv, caps_or_null);
	}
	argv[n++] = (char *)sonde_path();
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	env_path(e, t.out, sizeof(t.out), "refused.out");
	env_path(e, t.err, sizeof(t.err), "refused.err");
	t.pid = env_spawn(e, argv, t.out, t.err);
	assert_true(t.pid > 0);
	st = env_wait(e, t.pid, REFUSE_WAIT_MS);
	s = env_read_file(t.err, NULL);
	assert_non_null(s);
	if (st == -1)
		fail_msg("sonde without CAP_BPF did not exit within %d ms: %s", REFUSE_WAIT_MS, s);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 2)
		fail_msg("sonde without CAP_BPF: status %d, want exit 2: %s", st, s);
	if (file_lines(t.err) != 1 || !strstr(s, needle))
		fail_msg("want one line naming %s on stderr, got: %s", needle, s);
	free(s);
}

/* curl, one request per path, on one connection. */
static void curl_get(struct test_env *e, const char *scheme, int port, const char *const paths[])
{
	char urls[8][128];
	char *argv[4 + 3 * 8];
	int n = 0;

	argv[n++] = "curl";
	argv[n++] = "-sk";
	for (int i = 0; paths[i] && i < 8; i++) {
		snprintf(urls[i], sizeof(urls[i]), "%s://127.0.0.1:%d%s", scheme, port, paths[i]);
		argv[n++] = "-o";
		argv[n++] = "/dev/null";
		argv[n++] = urls[i];
	}
	argv[n] = NULL;
	assert_int_equal(env_run(e, argv, NULL, RECORD_WAIT_MS * 4), 0);
}

static void start_nginx(struct test_env *e, struct nginx *n, bool tls)
{
	struct nginx_opts o = { .tls = tls };
	char html[ENV_PATH_BYTES];

	env_path(e, html, sizeof(html), "html");
	mkdir(html, 0755);
	env_path(e, html, sizeof(html), "html/index.html");
	assert_int_equal(env_write_file(html, "hello\n", 6), 0);
	if (nginx_start(e, &o, n))
		fail_msg("nginx did not start");
}

/* A request's two records (nginx's server side, curl's client side). */
static void expect_request(const struct tracer *t, const char *path, bool tls, int status)
{
	char p[160], st[32];
	const char *tls_field = tls ? "\"tls\":true" : "\"tls\":false";
	size_t n;

	snprintf(p, sizeof(p), "\"path\":\"%s\"", path);
	n = wait_port_lines(t->out, t->port,
			    (const char *const[]){ "\"type\":\"http\"", p, tls_field, NULL }, 2);
	if (n != 2) {
		char *s = env_read_file(t->out, NULL);

		fail_msg("want 2 records of %s (server and client), got %zu:\n%.2000s", path, n,
			 s ? s : "");
	}
	snprintf(st, sizeof(st), "\"status\":%d", status);
	assert_int_equal(count_port_lines(t->out, t->port, (const char *const[]){
		p, "\"side\":\"server\"", st, NULL }), 1);
	assert_int_equal(count_port_lines(t->out, t->port, (const char *const[]){
		p, "\"side\":\"client\"", st, NULL }), 1);
}

/* ---- each tracer with exactly its minimal set ---- */

static void test_http_minimal_caps(void **state)
{
	struct test_env *e = *state;
	struct nginx n;
	struct tracer t;
	char port[16];

	require_env(true);
	start_nginx(e, &n, false);
	snprintf(port, sizeof(port), "%d", n.port);
	tracer_start(e, &t, "http-min", CAPS_HTTP, n.port,
		     (char *[]){ "http", "--json", "--port", port, "--duration", TRACER_DURATION, NULL });
	wait_tracing(&t);
	expect_caps(&t, CAPBIT(CAP_NR_BPF) | CAPBIT(CAP_NR_PERFMON));
	curl_get(e, "http", n.port, (const char *const[]){ "/index.html", NULL });
	expect_request(&t, "/index.html", false, 200);
	tracer_stop(e, &t);
	/* no tracefs: nothing to warn about */
	assert_false(env_file_has(t.err, "tracefs"));
	/* uprobe-multi links need no more than the programs' load did */
	if (have_uprobe_multi()) {
		assert_true(env_file_has(t.out, "\"files_failed\":0"));
		assert_true(env_file_has(t.out, "\"attach\":\"uprobe_multi\""));
	}
	/* since 2025 kernels refuse perf uprobes without CAP_SYS_ADMIN (older
	 * ones took CAP_PERFMON): either hooked, or said and counted */
	if (!env_file_has(t.out, "\"files_failed\":0")) {
		assert_true(env_file_has(t.err, "uprobes need CAP_SYS_ADMIN"));
		assert_int_equal(count_lines(t.out, (const char *const[]){ "\"type\":\"stats\"",
								  "\"files_hooked\":0", NULL }), 1);
	}
}

static void test_https_minimal_caps(void **state)
{
	struct test_env *e = *state;
	uint64_t want = CAPBIT(CAP_NR_BPF) | CAPBIT(CAP_NR_PERFMON);
	bool multi = have_uprobe_multi();
	struct nginx n;
	struct tracer t;
	char port[16];

	require_env(true);
	if (!have_program("openssl"))
		KERNEL_TEST_UNAVAILABLE("openssl is not installed");
	start_nginx(e, &n, true);
	snprintf(port, sizeof(port), "%d", n.port);
	tracer_start(e, &t, "https-min", multi ? CAPS_HTTPS : CAPS_HTTPS_PERF_UPROBES, n.port,
		     (char *[]){ "http", "--json", "--port", port, "--duration", TRACER_DURATION, NULL });
	wait_tracing(&t);
	expect_caps(&t, multi ? want : want | CAPBIT(CAP_NR_SYS_ADMIN));
	curl_get(e, "https", n.port, (const char *const[]){ "/index.html", NULL });
	expect_request(&t, "/index.html", true, 200);
	tracer_stop(e, &t);
	/* the system libssl (nginx's and curl's) is hooked without
	 * CAP_SYS_PTRACE; that others are not looked for is said */
	assert_true(env_file_has(t.err, "without CAP_SYS_PTRACE"));
	assert_true(env_file_has(t.out, "\"files_failed\":0"));
	assert_true(env_file_has(t.out, multi ? "\"attach\":\"uprobe_multi\"" : "\"attach\":\"uprobe\""));
}

/* A uniquely named link to /bin/true in the test dir (gone with it): its
 * comm is the name. */
static void unique_program(struct test_env *e, char *path, size_t size, char *name,
			   size_t name_size)
{
	snprintf(name, name_size, "prv%d", (int)(getpid() % 1000000));
	env_path(e, path, size, name);
	assert_int_equal(symlink("/bin/true", path), 0);
}

static void run_unique(struct test_env *e, const char *path, const char *arg)
{
	assert_int_equal(env_run(e, (char *[]){ (char *)path, (char *)arg, NULL }, NULL,
				 RECORD_WAIT_MS), 0);
}

/* The exec and exit records of one run of the unique program. */
static void expect_exec(const struct tracer *t, const char *name, const char *arg, size_t runs)
{
	char comm[64], args[128];
	size_t n;

	snprintf(comm, sizeof(comm), "\"comm\":\"%s\"", name);
	snprintf(args, sizeof(args), "\"%s\"]", arg);
	n = wait_lines(t->out, (const char *const[]){ "\"type\":\"exec\"", comm, args, NULL }, runs);
	if (n != runs) {
		char *s = env_read_file(t->out, NULL);

		fail_msg("want %zu exec record(s) of %s %s, got %zu:\n%.2000s", runs, name, arg, n,
			 s ? s : "");
	}
	assert_true(wait_lines(t->out, (const char *const[]){ "\"type\":\"exit\"", comm, NULL },
			       runs) >= runs);
}

static void exec_minimal(struct test_env *e, const char *impl, const char *caps, uint64_t want)
{
	char path[ENV_PATH_BYTES], name[16];
	struct tracer t;

	require_env(false);
	unique_program(e, path, sizeof(path), name, sizeof(name));
	tracer_start(e, &t, impl, caps, 0,
		     (char *[]){ "exec", "--json", "--impl", (char *)impl, "--comm", name,
				 "--duration", TRACER_DURATION, NULL });
	wait_tracing(&t);
	expect_caps(&t, want);
	run_unique(e, path, "least-privilege");
	expect_exec(&t, name, "least-privilege", 1);
	tracer_stop(e, &t);
	assert_int_equal(file_lines(t.err), 1); /* "tracing", no warning */
	assert_true(env_file_has(t.out, "\"dropped\":{\"ringbuf_full\":0,\"read_fault\":0,\"map_full\":0"));
}

static void test_exec_minimal_caps(void **state)
{
	exec_minimal(*state, "tracepoint", CAPS_EXEC,
		     CAPBIT(CAP_NR_BPF) | CAPBIT(CAP_NR_PERFMON) | CAPBIT(CAP_NR_DAC_READ_SEARCH));
}

static void test_exec_raw_tracepoint_minimal_caps(void **state)
{
	exec_minimal(*state, "raw_tracepoint", CAPS_EXEC_RAW,
		     CAPBIT(CAP_NR_BPF) | CAPBIT(CAP_NR_PERFMON));
}

/* ---- refused, at once and in one line ---- */

static void test_no_cap_bpf_refused(void **state)
{
	struct test_env *e = *state;

	require_env(false);
	expect_refused(e, CAPS_NO_BPF, false, (char *[]){ "http", "--duration", "5", NULL }, "CAP_BPF");
	expect_refused(e, CAPS_NO_BPF, false, (char *[]){ "exec", "--duration", "5", NULL }, "CAP_BPF");
	expect_refused(e, "+perfmon", false,
		       (char *[]){ "exec", "--impl", "raw_tracepoint", "--duration", "5", NULL }, "CAP_BPF");
	/* uid 0 without CAP_BPF (and CAP_SYS_ADMIN, which stands in for it) */
	expect_refused(e, CAPS_NO_BPF, true, (char *[]){ "http", "--duration", "5", NULL }, "CAP_BPF");
	expect_refused(e, CAPS_NO_BPF, true, (char *[]){ "exec", "--duration", "5", NULL }, "CAP_BPF");
	/* tracefs ids unreadable to nobody without CAP_DAC_READ_SEARCH */
	expect_refused(e, CAPS_EXEC_RAW, false, (char *[]){ "exec", "--duration", "5", NULL },
		       "CAP_DAC_READ_SEARCH");
	/* a user that does not exist: before anything is loaded */
	expect_refused(e, CAPS_HTTP, false,
		       (char *[]){ "http", "--user", "no-such-user-sonde", "--duration", "5", NULL },
		       "no such user");
	/* becoming another user needs CAP_SETUID: said before loading */
	expect_refused(e, CAPS_EXEC, false, (char *[]){ "exec", "--user", "root", "--duration", "5", NULL },
		       "CAP_SETUID");
}

/* ---- --user ---- */

/* nobody's ids everywhere, no capability but maybe CAP_BPF (kernels before
 * 6.5 need it to read the counters), none that could come back. */
static void expect_dropped(const struct tracer *t)
{
	const struct passwd *pw = nobody();
	char v[128], want[128];
	uint64_t eff, kept_max = CAPBIT(CAP_NR_BPF);

	assert_true(status_field(t->pid, "Uid:", v, sizeof(v)));
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned)pw->pw_uid, (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_uid, (unsigned)pw->pw_uid);
	if (strcmp(v, want))
		fail_msg("Uid: %s, want %s", v, want);
	assert_true(status_field(t->pid, "Gid:", v, sizeof(v)));
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", (unsigned)pw->pw_gid, (unsigned)pw->pw_gid,
		 (unsigned)pw->pw_gid, (unsigned)pw->pw_gid);
	if (strcmp(v, want))
		fail_msg("Gid: %s, want %s", v, want);
	eff = status_caps(t->pid, "CapEff:");
	if (eff & ~kept_max)
		fail_msg("CapEff %016" PRIx64 " after --user: more than CAP_BPF kept", eff);
	assert_true(status_caps(t->pid, "CapPrm:") == eff);
	assert_true(status_caps(t->pid, "CapBnd:") == eff);
	assert_true(status_caps(t->pid, "CapInh:") == 0);
	assert_true(status_caps(t->pid, "CapAmb:") == 0);
	assert_true(status_field(t->pid, "NoNewPrivs:", v, sizeof(v)));
	assert_string_equal(v, "1");
}

static void test_http_user_nobody(void **state)
{
	struct test_env *e = *state;
	struct nginx n;
	struct tracer t;
	char port[16];

	require_env(true);
	start_nginx(e, &n, false);
	snprintf(port, sizeof(port), "%d", n.port);
	tracer_start(e, &t, "http-user", NULL, n.port,
		     (char *[]){ "http", "--json", "--port", port, "--user", "nobody",
				 "--duration", TRACER_DURATION, NULL });
	wait_tracing(&t);
	assert_true(env_file_has(t.err, "tracing as nobody"));
	expect_dropped(&t);
	curl_get(e, "http", n.port, (const char *const[]){ "/index.html", "/missing", NULL });
	expect_request(&t, "/index.html", false, 200);
	/* the counters so far, read as nobody */
	kill(t.pid, SIGUSR1);
	assert_int_equal(wait_lines(t.out, (const char *const[]){ "\"type\":\"stats\"",
								   "\"interim\":true", NULL }, 1), 1);
	/* the sweep of exited processes' connections runs every 2 s */
	env_sleep_ms(2500);
	curl_get(e, "http", n.port, (const char *const[]){ "/index.html?after=sweep", NULL });
	expect_request(&t, "/index.html?after=REDACTED", false, 200);
	tracer_stop(e, &t);
	/* the counters were read at the end, as nobody; the OpenSSL rescan
	 * goes on where uprobe-multi links need no capability, else it is off
	 * and said */
	assert_int_equal(count_lines(t.out, (const char *const[]){ "\"type\":\"stats\"",
		"\"dropped\":{\"ringbuf_full\":0,\"read_fault\":0,\"map_full\":0,",
		"\"decode_error\":0,\"output_error\":0}",
		have_uprobe_multi() ? "\"rescan\":true" : "\"rescan\":false", NULL }), 2);
	assert_int_equal(file_lines(t.err), 1);
}

/* Under --user nobody, a process of nobody started after the drop, with a
 * libssl no process had at start (a copy, another inode, through
 * LD_LIBRARY_PATH), is found by the rescan and its HTTPS traced: the
 * uprobe-multi link is made with no capability. */
static void test_https_user_nobody_late_process(void **state)
{
	struct test_env *e = *state;
	char dir[ENV_PATH_BYTES], lib[ENV_PATH_BYTES], env[ENV_PATH_BYTES + 32], client[1024];
	char port[16], rport[32], *argv[CMD_ARGS_MAX];
	char *cp[] = { "cp", "/usr/lib/x86_64-linux-gnu/libssl.so.3", lib, NULL };
	struct nginx n;
	struct tracer t;
	pid_t pid;
	int a, st;

	require_env(true);
	if (!have_uprobe_multi())
		KERNEL_TEST_UNAVAILABLE("no uprobe-multi links on this kernel (< 6.6): no rescan under --user");
	if (!have_program("openssl") || !have_program("python3") ||
	    access("/usr/lib/x86_64-linux-gnu/libssl.so.3", R_OK))
		KERNEL_TEST_UNAVAILABLE("openssl, python3 or Debian's libssl.so.3 is missing");
	start_nginx(e, &n, true);
	/* nobody must reach the copy */
	assert_int_equal(chmod(e->dir, 0755), 0);
	env_path(e, dir, sizeof(dir), "lib");
	assert_int_equal(mkdir(dir, 0755), 0);
	env_path(e, lib, sizeof(lib), "lib/libssl.so.3");
	assert_int_equal(env_run(e, cp, NULL, RECORD_WAIT_MS), 0);
	snprintf(port, sizeof(port), "%d", n.port);
	tracer_start(e, &t, "https-user", NULL, n.port,
		     (char *[]){ "http", "--json", "--port", port, "--user", "nobody",
				 "--duration", TRACER_DURATION, NULL });
	wait_tracing(&t);
	expect_dropped(&t);
	/* started after the drop; waits for a rescan (every second) */
	snprintf(client, sizeof(client),
		 "import ssl, time, http.client\n"
		 "time.sleep(2.5)\n"
		 "c = http.client.HTTPSConnection('127.0.0.1', %d,"
		 " context=ssl._create_unverified_context())\n"
		 "c.request('GET', '/index.html?late=1')\n"
		 "assert c.getresponse().read()\n", n.port);
	snprintf(env, sizeof(env), "LD_LIBRARY_PATH=%s", dir);
	a = as_nobody(argv, "");
	argv[a++] = "env";
	argv[a++] = env;
	argv[a++] = "/usr/bin/python3";
	argv[a++] = "-c";
	argv[a++] = client;
	argv[a] = NULL;
	pid = env_spawn(e, argv, NULL, NULL);
	assert_true(pid > 0);
	st = env_wait(e, pid, RECORD_WAIT_MS * 4);
	assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the client side is python's, through the copy hooked after the drop */
	snprintf(rport, sizeof(rport), "\"rport\":%d,", n.port);
	if (wait_lines(t.out, (const char *const[]){ "\"type\":\"http\"", "\"side\":\"client\"",
						    "\"tls\":true", "/index.html?late=REDACTED",
						    rport, NULL }, 1) != 1) {
		char *s = env_read_file(t.out, NULL);

		fail_msg("no client record of the late python process:\n%.2000s", s ? s : "");
	}
	tracer_stop(e, &t);
	assert_int_equal(count_lines(t.out, (const char *const[]){ "\"type\":\"stats\"",
		"\"rescan\":true", "\"attach\":\"uprobe_multi\"", NULL }), 1);
}

static void test_exec_user_nobody(void **state)
{
	struct test_env *e = *state;
	char path[ENV_PATH_BYTES], name[16], cap[ENV_PATH_BYTES], rout[ENV_PATH_BYTES];
	struct tracer t;

	require_env(false);
	unique_program(e, path, sizeof(path), name, sizeof(name));
	env_path(e, cap, sizeof(cap), "exec-user.cap");
	tracer_start(e, &t, "exec-user", NULL, 0,
		     (char *[]){ "exec", "--json", "--comm", name, "--user", "nobody", "--record", cap,
				 "--duration", TRACER_DURATION, NULL });
	wait_tracing(&t);
	assert_true(env_file_has(t.err, "as nobody"));
	expect_dropped(&t);
	run_unique(e, path, "dropped");
	expect_exec(&t, name, "dropped", 1);
	tracer_stop(e, &t);
	assert_int_equal(count_lines(t.out, (const char *const[]){
		"{\"type\":\"stats\",\"produced\":2,\"delivered\":2,\"filtered\":0,", NULL }), 1);
	/* the capture opened as root was written to the end as nobody */
	env_path(e, rout, sizeof(rout), "exec-user.replay");
	assert_int_equal(env_run(e, (char *[]){ (char *)sonde_path(), "replay", cap, "--json", NULL },
				 rout, RECORD_WAIT_MS), 0);
	assert_int_equal(count_lines(rout, (const char *const[]){ "\"type\":\"exec\"", "\"dropped\"]",
								  NULL }), 1);
}

/* ---- side by side ---- */

/* The BPF programs a process holds, by its own fds (fdinfo prog_id). */
static int prog_ids_of(pid_t pid, uint32_t *ids, int max)
{
	char dir[64], path[320], line[128];
	struct dirent *d;
	int n = 0;
	DIR *dp;

	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)pid);
	dp = opendir(dir);
	if (!dp)
		return 0;
	while ((d = readdir(dp)) && n < max) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f) && n < max) {
			unsigned id;

			if (sscanf(line, "prog_id: %u", &id) == 1) {
				bool dup = false;

				for (int i = 0; i < n; i++)
					dup |= ids[i] == id;
				if (!dup)
					ids[n++] = id;
			}
		}
		fclose(f);
	}
	closedir(dp);
	return n;
}

static bool prog_loaded(uint32_t id)
{
	int fd = bpf_prog_get_fd_by_id(id);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Each tracer loads programs of its own; those of a killed one go, those
 * of the other stay. */
static void kill_one_keep_other(struct test_env *e, struct tracer *victim,
				const struct tracer *other)
{
	uint32_t vid[PROG_IDS_MAX], oid[PROG_IDS_MAX];
	int nv = prog_ids_of(victim->pid, vid, PROG_IDS_MAX);
	int no = prog_ids_of(other->pid, oid, PROG_IDS_MAX);
	uint64_t deadline;
	bool gone;

	assert_true(nv > 0 && no > 0);
	for (int i = 0; i < nv; i++)
		for (int j = 0; j < no; j++)
			assert_true(vid[i] != oid[j]);
	kill(victim->pid, SIGKILL);
	while (waitpid(victim->pid, NULL, 0) < 0 && errno == EINTR)
		;
	env_untrack(e, victim->pid);
	deadline = env_now_ms() + PROGS_GONE_MS;
	do {
		gone = true;
		for (int i = 0; i < nv; i++)
			gone &= !prog_loaded(vid[i]);
		if (!gone)
			env_sleep_ms(20);
	} while (!gone && env_now_ms() < deadline);
	assert_true(gone);
	for (int j = 0; j < no; j++)
		assert_true(prog_loaded(oid[j]));
	assert_int_equal(waitpid(other->pid, NULL, WNOHANG), 0);
}

/* Drop "key":NUMBER from a JSON line, in place. */
static void drop_number_field(char *line, const char *key)
{
	char *p = strstr(line, key), *end;

	if (!p)
		return;
	end = p + strlen(key);
	end += strspn(end, "0123456789");
	if (*end == ',')
		end++;
	memmove(p, end, strlen(end) + 1);
}

/* The records of a type in a file, sorted, as one string, without the
 * times: two tracers of the same events print the same lines but for the
 * timestamps, which each one's own program took (microseconds apart). */
static char *sorted_records(const char *path, int port, const char *type, size_t *count)
{
	char *s = env_read_file(path, NULL), *line, *save = NULL, **lines, *out, *o;
	size_t n = 0, cap = 64, len;

	assert_non_null(s);
	len = strlen(s);
	lines = malloc(cap * sizeof(*lines));
	assert_non_null(lines);
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, type) || !line_of_port(line, port))
			continue;
		drop_number_field(line, "\"ts_ns\":");
		drop_number_field(line, "\"latency_ns\":");
		drop_number_field(line, "\"ttfb_ns\":");
		drop_number_field(line, "\"duration_ns\":");
		if (n == cap) {
			cap *= 2;
			lines = realloc(lines, cap * sizeof(*lines));
			assert_non_null(lines);
		}
		lines[n++] = line;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			char *tmp = lines[j];

			lines[j] = lines[j - 1];
			lines[j - 1] = tmp;
		}
	out = malloc(len + 2);
	assert_non_null(out);
	o = out;
	*o = '\0';
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, "%s\n", lines[i]);
	*count = n;
	free(lines);
	free(s);
	return out;
}

static void expect_same_records(const struct tracer *a, const struct tracer *b, const char *type,
				size_t want)
{
	size_t na, nb;
	char *ra = sorted_records(a->out, a->port, type, &na);
	char *rb = sorted_records(b->out, b->port, type, &nb);

	if (na != want || nb != want || strcmp(ra, rb))
		fail_msg("two tracers differ (%zu and %zu records, want %zu):\n%.1500s\n----\n%.1500s",
			 na, nb, want, ra, rb);
	free(ra);
	free(rb);
}

static void test_two_http_tracers(void **state)
{
	struct test_env *e = *state;
	struct tracer a, b, c;
	struct nginx n;
	char port[16];
	char *args[] = { "http", "--json", "--port", port, "--duration", TRACER_DURATION, NULL };

	require_env(true);
	start_nginx(e, &n, false);
	snprintf(port, sizeof(port), "%d", n.port);
	tracer_start(e, &a, "http-a", NULL, n.port, args);
	tracer_start(e, &b, "http-b", NULL, n.port, args);
	wait_tracing(&a);
	wait_tracing(&b);

	curl_get(e, "http", n.port,
		 (const char *const[]){ "/index.html", "/missing", "/index.html?q=1", NULL });
	expect_request(&a, "/missing", false, 404);
	expect_request(&b, "/missing", false, 404);
	env_sleep_ms(SETTLE_MS);
	/* both sides of three requests, the same lines in both */
	expect_same_records(&a, &b, "\"type\":\"http\"", 6);

	kill_one_keep_other(e, &a, &b);
	curl_get(e, "http", n.port, (const char *const[]){ "/after-kill", NULL });
	expect_request(&b, "/after-kill", false, 404);

	tracer_start(e, &c, "http-c", NULL, n.port, args);
	wait_tracing(&c);
	curl_get(e, "http", n.port, (const char *const[]){ "/after-restart", NULL });
	expect_request(&c, "/after-restart", false, 404);
	expect_request(&b, "/after-restart", false, 404);
	env_sleep_ms(SETTLE_MS);
	tracer_stop(e, &b);
	tracer_stop(e, &c);
	/* b saw everything, c what came after it started, nothing lost */
	assert_int_equal(count_port_lines(b.out, n.port, (const char *const[]){ "\"type\":\"http\"",
									    NULL }), 10);
	assert_int_equal(count_port_lines(c.out, n.port, (const char *const[]){ "\"type\":\"http\"",
									    NULL }), 2);
	assert_int_equal(count_port_lines(b.out, n.port, (const char *const[]){ "\"incomplete\":true",
									    NULL }), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(count_lines(i ? c.out : b.out, (const char *const[]){
			"\"type\":\"stats\"", "\"dropped\":{\"ringbuf_full\":0,\"read_fault\":0,"
			"\"map_full\":0,", "\"decode_error\":0,\"output_error\":0}", NULL }), 1);
}

static void test_two_exec_tracers(void **state)
{
	struct test_env *e = *state;
	char path[ENV_PATH_BYTES], name[16];
	struct tracer a, b, c;
	char *args[8];

	require_env(false);
	unique_program(e, path, sizeof(path), name, sizeof(name));
	args[0] = "exec";
	args[1] = "--json";
	args[2] = "--comm";
	args[3] = name;
	args[4] = "--duration";
	args[5] = TRACER_DURATION;
	args[6] = NULL;
	tracer_start(e, &a, "exec-a", NULL, 0, args);
	tracer_start(e, &b, "exec-b", NULL, 0, args);
	wait_tracing(&a);
	wait_tracing(&b);

	run_unique(e, path, "one");
	run_unique(e, path, "two");
	expect_exec(&a, name, "two", 1);
	expect_exec(&b, name, "two", 1);
	env_sleep_ms(SETTLE_MS);
	expect_same_records(&a, &b, "\"type\":\"exec\"", 2);
	expect_same_records(&a, &b, "\"type\":\"exit\"", 2);

	kill_one_keep_other(e, &a, &b);
	run_unique(e, path, "after-kill");
	expect_exec(&b, name, "after-kill", 1);

	tracer_start(e, &c, "exec-c", NULL, 0, args);
	wait_tracing(&c);
	run_unique(e, path, "after-restart");
	expect_exec(&c, name, "after-restart", 1);
	expect_exec(&b, name, "after-restart", 1);
	env_sleep_ms(SETTLE_MS);
	tracer_stop(e, &b);
	tracer_stop(e, &c);
	/* exact accounting: only this test's program passed the filters */
	assert_int_equal(count_lines(b.out, (const char *const[]){
		"{\"type\":\"stats\",\"produced\":8,\"delivered\":8,\"filtered\":0,", NULL }), 1);
	assert_int_equal(count_lines(c.out, (const char *const[]){
		"{\"type\":\"stats\",\"produced\":2,\"delivered\":2,\"filtered\":0,", NULL }), 1);
}

/* ---- sonde agent with the capabilities deploy/ gives it ---- */

#define UNIT_PATH "deploy/sonde-agent.service"
#define AGENT_READY "sonde agent: serving"

static const struct {
	const char *unit, *setpriv;
	int nr;
} cap_names[] = {
	{ "CAP_BPF", "+bpf", CAP_NR_BPF },
	{ "CAP_PERFMON", "+perfmon", CAP_NR_PERFMON },
	{ "CAP_SYS_ADMIN", "+sys_admin", CAP_NR_SYS_ADMIN },
	{ "CAP_SYS_PTRACE", "+sys_ptrace", 19 },
	{ "CAP_DAC_READ_SEARCH", "+dac_read_search", CAP_NR_DAC_READ_SEARCH },
};

/* The systemd unit's AmbientCapabilities= as setpriv's list and as a mask;
 * a capability this table does not know fails the test (it must be added
 * here on purpose). */
static uint64_t unit_caps(char *list, size_t size)
{
	char *unit = env_read_file(UNIT_PATH, NULL), *line, *tok, *save = NULL;
	uint64_t mask = 0;
	size_t len = 0;

	if (!unit)
		fail_msg("%s not found: run from the repository root", UNIT_PATH);
	line = strstr(unit, "\nAmbientCapabilities=");
	assert_non_null(line);
	line += strlen("\nAmbientCapabilities=");
	line[strcspn(line, "\n")] = '\0';
	list[0] = '\0';
	for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		size_t i = 0;

		while (i < sizeof(cap_names) / sizeof(cap_names[0]) && strcmp(tok, cap_names[i].unit))
			i++;
		if (i == sizeof(cap_names) / sizeof(cap_names[0]))
			fail_msg("%s: unknown capability %s", UNIT_PATH, tok);
		len += (size_t)snprintf(list + len, size - len, "%s%s", len ? "," : "",
					cap_names[i].setpriv);
		mask |= CAPBIT(cap_names[i].nr);
	}
	free(unit);
	assert_true(mask != 0 && len < size);
	return mask;
}

/* GET http://127.0.0.1:port/path into out; the HTTP status, 0 when none. */
static int agent_get(struct test_env *e, int port, const char *path, const char *out)
{
	char url[128], code[ENV_PATH_BYTES];
	char *argv[] = { "curl", "-s", "-o", (char *)out, "-w", "%{http_code}", url, NULL };
	char *text;
	int status;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	env_path(e, code, sizeof(code), "agent-code.txt");
	if (env_run(e, argv, code, RECORD_WAIT_MS))
		return 0;
	text = env_read_file(code, NULL);
	status = text ? atoi(text) : 0;
	free(text);
	return status;
}

/* The agent as a non-root user with exactly the capabilities the systemd
 * unit grants (read from deploy/sonde-agent.service, so the two cannot
 * drift apart): both tracers attach, /health says ok, and a request to
 * nginx reaches /metrics. Run as nobody, which is stricter than the unit's
 * uid 0 with a reduced set. */
static void test_agent_unit_caps(void **state)
{
	struct test_env *e = *state;
	char caps[256], aport[16], health[ENV_PATH_BYTES], metrics[ENV_PATH_BYTES];
	uint64_t mask = unit_caps(caps, sizeof(caps)), deadline;
	struct nginx n;
	struct tracer t;
	int port, status = 0;
	bool seen = false;

	require_env(true);
	start_nginx(e, &n, false);
	port = env_free_port(false);
	snprintf(aport, sizeof(aport), "%d", port);
	tracer_start(e, &t, "agent-unit", caps, n.port,
		     (char *[]){ "agent", "--port", aport, "--duration", TRACER_DURATION, NULL });
	deadline = env_now_ms() + SONDE_START_WAIT_MS;
	while (!env_file_has(t.err, AGENT_READY) && env_now_ms() < deadline &&
	       waitpid(t.pid, NULL, WNOHANG) == 0)
		env_sleep_ms(20);
	if (!env_file_has(t.err, AGENT_READY)) {
		char *s = env_read_file(t.err, NULL);

		fail_msg("sonde agent did not start with %s: %s", caps, s ? s : "?");
	}
	expect_caps(&t, mask);
	env_path(e, health, sizeof(health), "agent-health.json");
	env_path(e, metrics, sizeof(metrics), "agent-metrics.txt");
	status = agent_get(e, port, "/health", health);
	if (status != 200) {
		char *s = env_read_file(health, NULL);

		fail_msg("/health answered %d with %s: %s", status, caps, s ? s : "?");
	}
	assert_true(env_file_has(health, "\"status\":\"ok\""));
	curl_get(e, "http", n.port, (const char *const[]){ "/index.html", NULL });
	deadline = env_now_ms() + RECORD_WAIT_MS;
	while (!seen && env_now_ms() < deadline) {
		env_sleep_ms(100);
		seen = agent_get(e, port, "/metrics", metrics) == 200 &&
		       env_file_has(metrics, "http_route=\"/index.html\"");
	}
	if (!seen)
		fail_msg("the request to nginx never reached /metrics (agent with %s)", caps);
	assert_false(env_file_has(t.err, "tracer down"));
	tracer_stop(e, &t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_minimal_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_minimal_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_minimal_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_raw_tracepoint_minimal_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_cap_bpf_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_user_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_user_nobody_late_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_user_nobody, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_http_tracers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_exec_tracers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_unit_caps, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
