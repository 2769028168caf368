/* The lab's nginx target (lab/nginx.h) on this machine: started on a free
 * port with a page of the size asked for, fetched with a plain socket client
 * (keep-alive and not), its access log counting exactly those requests, the
 * worker pinned and in nginx's process group, and after stop no process of
 * that group left and its directory gone. Also the one-line start errors
 * (port in use, nginx exiting at start), a caller's directory, a master
 * that dies, and the cleanup hook. nginx missing skips, or fails under CI. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "kernel/kernel_test.h"
#include "lab/nginx.h"
#include "lab/tracer_proc.h"

#define REASON_BYTES 256
#define HEAD_BYTES 4096
#define BODY_BYTES 3000u
#define IO_TIMEOUT_S 5
/* nginx logs a request just after the response left: wait this long at most. */
#define LOG_WAIT_MS 2000u
/* ... and this long more to see that no extra line comes. */
#define LOG_SETTLE_MS 100u
#define AFFINITY_WAIT_MS 2000u
#define GONE_WAIT_MS 1000
#define KEEPALIVE_REQUESTS 3
#define SINGLE_REQUESTS 2

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Skip (fail under CI) when lab_nginx_start said nginx is not installed;
 * the test's own directory (if any) is removed first. */
static void skip_if_missing(int err, const char *reason, const char *test_dir)
{
	if (err != -ENOENT || !strstr(reason, "not installed"))
		return;
	if (test_dir)
		rm_tree(test_dir);
	KERNEL_TEST_UNAVAILABLE(reason);
}

/* Start nginx or skip (fail under CI) when it is not installed. */
static void start_or_skip(const struct lab_nginx_opts *o, struct lab_nginx *n,
			  const char *test_dir)
{
	char reason[REASON_BYTES];
	int err = lab_nginx_start(o, n, reason, sizeof(reason));

	skip_if_missing(err, reason, test_dir);
	if (err)
		fail_msg("lab_nginx_start: %s (%d)", reason, err);
	assert_null(strchr(reason, '\n'));
}

static int connect_port(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* One GET on fd (keep-alive); its status, and the body's first bytes in
 * start (if not NULL). Returns the body length read. */
static long http_get(int fd, const char *path, int *status, char *start, size_t start_len)
{
	char head[HEAD_BYTES + 1], req[256], body[8192];
	size_t got = 0, want, have;
	const char *end, *cl;
	int n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: lab\r\n\r\n", path);
	assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	/* Byte by byte up to the end of the head: nothing of the body is
	 * consumed here, and the next response starts clean. */
	while (got < HEAD_BYTES) {
		ssize_t r = recv(fd, head + got, 1, 0);

		assert_int_equal(r, 1);
		got++;
		head[got] = '\0';
		if (got >= 4 && !memcmp(head + got - 4, "\r\n\r\n", 4))
			break;
	}
	end = strstr(head, "\r\n\r\n");
	assert_non_null(end);
	assert_int_equal(sscanf(head, "HTTP/1.1 %d", status), 1);
	cl = strcasestr(head, "\r\nContent-Length:");
	assert_non_null(cl);
	want = strtoul(cl + 17, NULL, 10);
	if (start && start_len)
		start[0] = '\0';
	for (have = 0; have < want;) {
		size_t ask = want - have < sizeof(body) ? want - have : sizeof(body);
		ssize_t r = recv(fd, body, ask, 0);

		assert_true(r > 0);
		if (start && have < start_len - 1) {
			size_t c = (size_t)r < start_len - 1 - have ? (size_t)r : start_len - 1 - have;

			memcpy(start + have, body, c);
			start[have + c] = '\0';
		}
		have += (size_t)r;
	}
	return (long)have;
}

/* Live processes whose process group is pgid (field 5 of /proc/PID/stat);
 * zombies, dead already and waiting for their reaper, do not count. */
static int group_members(pid_t pgid)
{
	DIR *proc = opendir("/proc");
	struct dirent *pe;
	int count = 0;

	assert_non_null(proc);
	while ((pe = readdir(proc))) {
		char path[64], buf[512], *p;
		int pgrp = 0;
		char state = '?';
		FILE *f;

		if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", pe->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %c %*d %d", &state, &pgrp) == 2 && pgrp == pgid &&
		    state != 'Z')
			count++;
	}
	closedir(proc);
	return count;
}

static pid_t stat_field_pid(pid_t pid, int skip)
{
	char path[64], buf[512], *p;
	int v[3] = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d %d %d", &v[0], &v[1], &v[2]) != 3)
		return -1;
	return v[skip];
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* No live process of the group (a SIGKILLed one may take a moment to die),
 * and the directory gone. */
static void assert_gone(pid_t master, const char *dir)
{
	for (int i = 0; i < GONE_WAIT_MS / 10 && group_members(master); i++)
		lab_sleep_ms(10);
	assert_int_equal(group_members(master), 0);
	if (dir)
		assert_false(exists(dir));
}

static void test_nginx_serves_and_counts(void **st)
{
	struct lab_nginx_opts o = { .port = 0, .body_bytes = BODY_BYTES, .cpu = 0, .dir = NULL };
	struct lab_nginx n;
	char start[32], dir[sizeof(n.dir)];
	cpu_set_t set;
	pid_t master;
	int status, fd, requests = 0;
	uint64_t t0;

	(void)st;
	start_or_skip(&o, &n, NULL);
	master = n.master;
	snprintf(dir, sizeof(dir), "%s", n.dir);
	assert_true(n.master > 0);
	assert_true(n.worker > 0 && n.worker != n.master);
	assert_true(n.port > 0);
	assert_true(n.own_dir);
	assert_true(exists(n.access_log));
	assert_true(lab_nginx_alive(&n));
	/* The worker: a child of the master, in its process group. */
	assert_int_equal(stat_field_pid(n.worker, 0), n.master);
	assert_int_equal(stat_field_pid(n.worker, 1), n.master);
	assert_int_equal(stat_field_pid(n.master, 1), n.master);
	/* ... pinned to CPU 0 (it sets that itself, shortly after it starts). */
	t0 = lab_now_ns();
	for (;;) {
		CPU_ZERO(&set);
		assert_int_equal(sched_getaffinity(n.worker, sizeof(set), &set), 0);
		if ((CPU_COUNT(&set) == 1 && CPU_ISSET(0, &set)) ||
		    lab_now_ns() - t0 > AFFINITY_WAIT_MS * LAB_NS_PER_MS)
			break;
		lab_sleep_ms(10);
	}
	assert_int_equal(CPU_COUNT(&set), 1);
	assert_true(CPU_ISSET(0, &set));

	/* Nothing counted before the first request (the readiness probe only
	 * connects). */
	assert_int_equal(lab_nginx_requests(&n), 0);
	fd = connect_port(n.port);
	for (int i = 0; i < KEEPALIVE_REQUESTS; i++, requests++) {
		assert_int_equal(http_get(fd, "/", &status, start, sizeof(start)), BODY_BYTES);
		assert_int_equal(status, 200);
		assert_true(!strncmp(start, "<html><body>xxx", 15));
	}
	close(fd);
	for (int i = 0; i < SINGLE_REQUESTS; i++, requests++) {
		fd = connect_port(n.port);
		assert_int_equal(http_get(fd, "/", &status, NULL, 0), BODY_BYTES);
		assert_int_equal(status, 200);
		close(fd);
	}
	assert_int_equal(lab_nginx_wait_requests(&n, requests, LOG_WAIT_MS), requests);
	lab_sleep_ms(LOG_SETTLE_MS);
	assert_int_equal(lab_nginx_requests(&n), requests);
	assert_int_equal(lab_nginx_requests_2xx(&n), requests);

	/* A 404 counts as a request, not as a 2xx. */
	fd = connect_port(n.port);
	http_get(fd, "/missing", &status, NULL, 0);
	close(fd);
	assert_int_equal(status, 404);
	assert_int_equal(lab_nginx_wait_requests(&n, requests + 1, LOG_WAIT_MS), requests + 1);
	assert_int_equal(lab_nginx_requests_2xx(&n), requests);

	assert_int_equal(lab_nginx_reset_log(&n), 0);
	assert_int_equal(lab_nginx_requests(&n), 0);
	fd = connect_port(n.port);
	http_get(fd, "/", &status, NULL, 0);
	close(fd);
	assert_int_equal(lab_nginx_wait_requests(&n, 1, LOG_WAIT_MS), 1);

	lab_nginx_stop(&n);
	assert_int_equal(n.master, 0);
	assert_int_equal(n.worker, 0);
	assert_false(n.own_dir);
	assert_gone(master, dir);
	assert_false(lab_nginx_alive(&n));
	lab_nginx_stop(&n); /* idempotent */
	assert_true(lab_nginx_requests(&n) < 0);
}

static void test_nginx_default_page_in_callers_dir(void **st)
{
	char dir[] = "/tmp/sonde-test-nginx.XXXXXX", path[600];
	struct lab_nginx_opts o = { .port = 0, .body_bytes = 0, .cpu = -1 };
	struct lab_nginx n;
	pid_t master;
	int status, fd;

	(void)st;
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0755); /* the worker runs as nobody when we are root */
	snprintf(path, sizeof(path), "%s/sub", dir); /* created by start */
	o.dir = path;
	start_or_skip(&o, &n, dir);
	master = n.master;
	assert_false(n.own_dir);
	assert_string_equal(n.dir, path);
	fd = connect_port(n.port);
	assert_int_equal(http_get(fd, "/", &status, NULL, 0), LAB_NGINX_PAGE_BYTES);
	assert_int_equal(status, 200);
	close(fd);
	assert_int_equal(lab_nginx_wait_requests(&n, 1, LOG_WAIT_MS), 1);
	lab_nginx_stop(&n);
	assert_gone(master, NULL);
	/* The caller's directory stays, with its logs. */
	assert_true(exists(n.access_log));
	snprintf(path, sizeof(path), "%s/sub/nginx.conf", dir);
	assert_true(exists(path));
	rm_tree(dir);
}

static void test_nginx_port_in_use(void **st)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct lab_nginx_opts o = { .cpu = -1 };
	struct lab_nginx n;
	char reason[REASON_BYTES], want[64];
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	(void)st;
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	o.port = ntohs(a.sin_port);
	err = lab_nginx_start(&o, &n, reason, sizeof(reason));
	close(fd);
	skip_if_missing(err, reason, NULL);
	assert_int_equal(err, -EADDRINUSE);
	snprintf(want, sizeof(want), "port %u in use", (unsigned)o.port);
	assert_string_equal(reason, want);
	assert_int_equal(n.master, 0);

	/* The same port, free again: nginx gets exactly that one. */
	start_or_skip(&o, &n, NULL);
	assert_int_equal(n.port, o.port);
	lab_nginx_stop(&n);
}

static void test_nginx_exit_reason(void **st)
{
	char dir[] = "/tmp/sonde-test-nginx.XXXXXX", path[600];
	struct lab_nginx_opts o = { .cpu = -1 };
	struct lab_nginx n;
	char reason[REASON_BYTES];
	int err;

	(void)st;
	assert_non_null(mkdtemp(dir));
	chmod(dir, 0755);
	/* nginx cannot write its pid file: it exits at start. */
	snprintf(path, sizeof(path), "%s/nginx.pid", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	o.dir = dir;
	err = lab_nginx_start(&o, &n, reason, sizeof(reason));
	skip_if_missing(err, reason, dir);
	assert_int_equal(err, -EIO);
	if (strncmp(reason, "nginx exited: [emerg] ", 22) || !strstr(reason, "nginx.pid"))
		fail_msg("reason: %s", reason);
	assert_null(strchr(reason, '\n'));
	assert_int_equal(n.master, 0);
	rm_tree(dir);

	/* Options out of range. */
	o.dir = NULL;
	o.cpu = -2;
	assert_int_equal(lab_nginx_start(&o, &n, reason, sizeof(reason)), -EINVAL);
	o.cpu = -1;
	o.body_bytes = LAB_NGINX_BODY_BYTES_MAX + 1;
	assert_int_equal(lab_nginx_start(&o, &n, reason, sizeof(reason)), -EINVAL);
	o.body_bytes = 0;
	o.dir = "/tmp/with space";
	assert_int_equal(lab_nginx_start(&o, &n, reason, sizeof(reason)), -EINVAL);
	assert_false(exists(o.dir));
}

static void test_nginx_master_dies(void **st)
{
	struct lab_nginx_opts o = { .cpu = -1 };
	struct lab_nginx n;
	char dir[sizeof(n.dir)];
	pid_t master;

	(void)st;
	start_or_skip(&o, &n, NULL);
	master = n.master;
	snprintf(dir, sizeof(dir), "%s", n.dir);
	kill(master, SIGKILL);
	for (int i = 0; i < 200 && lab_nginx_alive(&n); i++)
		lab_sleep_ms(10);
	assert_false(lab_nginx_alive(&n));
	assert_int_equal(n.master, 0);
	/* Its worker went with it: the whole group is killed. */
	assert_gone(master, NULL);
	assert_true(exists(dir));
	lab_nginx_stop(&n);
	assert_false(exists(dir));
}

static void test_nginx_cleanup_hook(void **st)
{
	struct lab_nginx_opts o = { .cpu = -1 };
	struct lab_nginx n;
	char dir[sizeof(n.dir)];
	pid_t master;

	(void)st;
	start_or_skip(&o, &n, NULL);
	master = n.master;
	snprintf(dir, sizeof(dir), "%s", n.dir);
	lab_nginx_cleanup();
	assert_gone(master, dir);
	lab_nginx_stop(&n); /* after the hook: nothing left to do, no harm */
	assert_int_equal(n.master, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nginx_serves_and_counts),
		cmocka_unit_test(test_nginx_default_page_in_callers_dir),
		cmocka_unit_test(test_nginx_port_in_use),
		cmocka_unit_test(test_nginx_exit_reason),
		cmocka_unit_test(test_nginx_master_dies),
		cmocka_unit_test(test_nginx_cleanup_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
