/* `sonde http` with 10,000 keep-alive connections open at once: a loopback
 * server (a child, epoll) and this process as the client; sonde traces the
 * server only. Every request must be reported, nothing dropped or refused,
 * and sonde's resident memory, read from /proc while the connections are
 * open, must stay within 32 MiB, with the default settings (the 4 MiB ring
 * buffer counts in RSS too: it is mapped twice). Takes ~8 s.
 * Needs root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel/kernel_test.h"

#define CONNS 10000
#define FDS_SPARE 512
#define LISTEN_BACKLOG 4096
#define EPOLL_BATCH 256
#define IO_BYTES 4096
#define RSS_BYTES_MAX (32ull * 1024 * 1024)
#define SONDE_DURATION_S "120"
#define DRAIN_MS 1000
#define OUT_PATH_BYTES 64

static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
#define RESP_BYTES (sizeof(RESP) - 1)

static void raise_nofile(void)
{
	struct rlimit rl = { CONNS + FDS_SPARE, CONNS + FDS_SPARE };

	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/* Answers every request head (ends with a blank line) with RESP, on any
 * number of keep-alive connections. Runs until killed. */
static void serve(int lfd)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[EPOLL_BATCH];
	static int tail_match[CONNS + FDS_SPARE];
	int ep = epoll_create1(0);
	char buf[IO_BYTES];

	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, EPOLL_BATCH, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r;

			if (fd == lfd) {
				int c;

				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					ev.data.fd = c;
					tail_match[c] = 0;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r <= 0) {
				close(fd);
				continue;
			}
			/* "\r\n\r\n" may span reads: keep the match state */
			for (ssize_t k = 0; k < r; k++) {
				static const char end[] = "\r\n\r\n";
				int m = tail_match[fd];

				m = buf[k] == end[m] ? m + 1 : (buf[k] == '\r' ? 1 : 0);
				if (m == 4) {
					m = 0;
					if (write(fd, RESP, RESP_BYTES) != (ssize_t)RESP_BYTES)
						_exit(3);
				}
				tail_match[fd] = m;
			}
		}
	}
}

static pid_t server_start(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	pid_t pid;

	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, LISTEN_BACKLOG), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		serve(lfd);
	close(lfd);
	return pid;
}

/* sonde http on the server's pid, JSON to out_path; returns once it says it
 * is tracing. */
static pid_t sonde_start(pid_t server, const char *out_path, FILE **err_out)
{
	char sonde[PATH_MAX], pid_arg[16], line[512];
	int err[2];
	pid_t pid;
	FILE *ferr;

	snprintf(sonde, sizeof(sonde), "%s", kernel_test_sonde_path());
	snprintf(pid_arg, sizeof(pid_arg), "%d", server);
	assert_int_equal(pipe(err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(out, 1);
		dup2(err[1], 2);
		close(err[0]);
		execl(sonde, sonde, "http", "--pid", pid_arg, "--json", "--duration",
		      SONDE_DURATION_S, (char *)NULL);
		_exit(127);
	}
	close(err[1]);
	ferr = fdopen(err[0], "r");
	assert_non_null(ferr);
	if (!fgets(line, sizeof(line), ferr) || strncmp(line, "sonde http: tracing", 19)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("sonde http did not attach: %s", line);
	}
	*err_out = ferr;
	return pid;
}

static int client_connect(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void write_all(int fd, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(write(fd, s, n), (ssize_t)n);
}

static void read_resp(int fd)
{
	char buf[RESP_BYTES];
	size_t got = 0;

	while (got < RESP_BYTES) {
		ssize_t r = read(fd, buf + got, RESP_BYTES - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_memory_equal(buf, RESP, RESP_BYTES);
}

/* VmRSS or VmHWM of pid, in bytes; 0 if unreadable. */
static uint64_t proc_mem_bytes(pid_t pid, const char *key)
{
	char path[64], line[256];
	unsigned long long kib = 0;
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && sscanf(line + klen, ": %llu kB", &kib) == 1)
			break;
	fclose(f);
	return kib * 1024;
}

static uint64_t json_u64(const char *s, const char *key)
{
	char k[64];
	const char *at;

	snprintf(k, sizeof(k), "\"%s\":", key);
	at = strstr(s, k);
	if (!at)
		fail_msg("no %s in: %.400s", key, s);
	return strtoull(at + strlen(k), NULL, 10);
}

static uint64_t count_str(const char *s, const char *needle)
{
	uint64_t n = 0;

	for (; (s = strstr(s, needle)); s++)
		n++;
	return n;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	long n;
	char *buf;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_10k_keepalive_conns(void **st)
{
	static int fds[CONNS];
	char out_path[OUT_PATH_BYTES], *out;
	const char *stats;
	uint64_t rss, hwm, records;
	uint16_t port;
	pid_t server, sonde;
	FILE *ferr;
	int status;

	(void)st;
	KERNEL_TEST_REQUIRE_ROOT();
	raise_nofile();
	snprintf(out_path, sizeof(out_path), "/tmp/sonde-conns-%d.jsonl", getpid());
	server = server_start(&port);
	sonde = sonde_start(server, out_path, &ferr);

	/* 10,000 connections, one request each, all kept open */
	for (int i = 0; i < CONNS; i++) {
		fds[i] = client_connect(port);
		assert_true(fds[i] >= 0);
	}
	for (int i = 0; i < CONNS; i++)
		write_all(fds[i], "GET /first HTTP/1.1\r\nHost: a\r\n\r\n");
	for (int i = 0; i < CONNS; i++)
		read_resp(fds[i]);
	/* a second one on each, its head in two writes */
	for (int i = 0; i < CONNS; i++)
		write_all(fds[i], "GET /second HTTP/1.1\r\nHo");
	for (int i = 0; i < CONNS; i++)
		write_all(fds[i], "st: a\r\n\r\n");
	for (int i = 0; i < CONNS; i++)
		read_resp(fds[i]);
	usleep(DRAIN_MS * 1000);
	rss = proc_mem_bytes(sonde, "VmRSS");
	hwm = proc_mem_bytes(sonde, "VmHWM");
	print_message("sonde with %d connections open: VmRSS %llu KiB, VmHWM %llu KiB, "
		      "RssAnon %llu KiB, RssFile %llu KiB\n", CONNS,
		      (unsigned long long)rss / 1024, (unsigned long long)hwm / 1024,
		      (unsigned long long)proc_mem_bytes(sonde, "RssAnon") / 1024,
		      (unsigned long long)proc_mem_bytes(sonde, "RssFile") / 1024);

	for (int i = 0; i < CONNS; i++)
		close(fds[i]);
	usleep(DRAIN_MS * 1000);
	kill(sonde, SIGINT);
	waitpid(sonde, &status, 0);
	fclose(ferr);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	out = read_file(out_path);
	unlink(out_path);
	stats = strstr(out, "{\"type\":\"stats\"");
	assert_non_null(stats);
	records = count_str(out, "\"type\":\"http\"");
	/* cmocka's print_message cuts at 1,023 bytes, the newline too */
	print_message("records %llu, first %llu, second %llu; stats: %.900s\n",
		      (unsigned long long)records,
		      (unsigned long long)count_str(out, "\"path\":\"/first\""),
		      (unsigned long long)count_str(out, "\"path\":\"/second\""), stats);
	assert_int_equal(count_str(out, "\"path\":\"/first\",\"status\":200"), CONNS);
	assert_int_equal(count_str(out, "\"path\":\"/second\",\"status\":200"), CONNS);
	assert_int_equal(json_u64(stats, "conns_opened"), CONNS);
	assert_int_equal(json_u64(stats, "conn_table_full"), 0);
	assert_int_equal(json_u64(stats, "ringbuf_full"), 0);
	assert_int_equal(json_u64(stats, "incomplete"), 0);
	assert_true(rss > 0 && hwm > 0);
	assert_true(rss <= RSS_BYTES_MAX);
	assert_true(hwm <= RSS_BYTES_MAX);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_10k_keepalive_conns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
