/* The world the HTTP kernel tests run in: a temp directory, real servers
 * (nginx with a generated config, node) on free loopback ports, clients run
 * in child processes (the tracer never traces its own process), and a
 * teardown that kills every process started and removes the directory, even
 * after a failed assertion. Header-only, for tests/kernel/test_http.c. */
#ifndef SONDE_TESTS_KERNEL_HTTP_TEST_ENV_H
#define SONDE_TESTS_KERNEL_HTTP_TEST_ENV_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ENV_PIDS_MAX 16
#define ENV_PATH_BYTES 512
#define ENV_DIR_BYTES 64
#define SERVER_READY_MS 5000
#define CHILD_EXIT_WAIT_MS 3000

struct test_env {
	char dir[ENV_DIR_BYTES];     /* temp dir: configs, logs, docroot */
	pid_t pids[ENV_PIDS_MAX];    /* children still to be killed at teardown */
	int npids;
};

static inline uint64_t env_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void env_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline void env_path(const struct test_env *e, char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", e->dir, name);
}

static inline void env_track(struct test_env *e, pid_t pid)
{
	if (pid > 0 && e->npids < ENV_PIDS_MAX)
		e->pids[e->npids++] = pid;
}

static inline void env_untrack(struct test_env *e, pid_t pid)
{
	for (int i = 0; i < e->npids; i++)
		if (e->pids[i] == pid) {
			e->pids[i] = e->pids[--e->npids];
			return;
		}
}

/* Wait for pid up to timeout_ms; the wait status, or -1 if it still runs. */
static inline int env_wait_timeout(pid_t pid, unsigned timeout_ms)
{
	uint64_t deadline = env_now_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -1;
		if (env_now_ms() >= deadline)
			return -1;
		env_sleep_ms(10);
	}
}

/* SIGTERM, then SIGKILL if it does not go; reaps it. */
static inline void env_kill(struct test_env *e, pid_t pid)
{
	kill(pid, SIGTERM);
	if (env_wait_timeout(pid, CHILD_EXIT_WAIT_MS) == -1) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	env_untrack(e, pid);
}

/* Wait for a tracked child to exit by itself; its status (-1: timed out, then
 * killed). */
static inline int env_wait(struct test_env *e, pid_t pid, unsigned timeout_ms)
{
	int st = env_wait_timeout(pid, timeout_ms);

	if (st == -1)
		env_kill(e, pid);
	else
		env_untrack(e, pid);
	return st;
}

static int env_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static inline int env_setup(void **state)
{
	struct test_env *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/sonde-test-http-XXXXXX");
	if (!mkdtemp(e->dir)) {
		free(e);
		return -1;
	}
	*state = e;
	return 0;
}

/* Kill what is left and remove the temp dir (SONDE_TEST_KEEP=1 keeps it). */
static inline void env_teardown_base(struct test_env *e)
{
	while (e->npids > 0)
		env_kill(e, e->pids[e->npids - 1]);
	if (getenv("SONDE_TEST_KEEP"))
		fprintf(stderr, "kept %s\n", e->dir);
	else
		nftw(e->dir, env_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int env_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, data, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

/* A file of size bytes: a repeated pattern, or a sparse file (reads as
 * zeros, costs no disk) when sparse. */
static inline int env_make_file(const char *path, size_t size, bool sparse)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char buf[65536];
	size_t done = 0;
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (sparse) {
		ret = ftruncate(fd, (off_t)size) ? -errno : 0;
		close(fd);
		return ret;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	while (done < size && ret == 0) {
		size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);

		if (write(fd, buf, n) != (ssize_t)n)
			ret = -EIO;
		done += n;
	}
	close(fd);
	return ret;
}

/* Read a whole file (NUL-terminated, malloc'd), or NULL. */
static inline char *env_read_file(const char *path, size_t *len_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 65536, len = 0;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf) {
		buf[len] = '\0';
		if (len_out)
			*len_out = len;
	}
	return buf;
}

/* A loopback port nobody listens on right now. */
static inline int env_free_port(bool v6)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port = -1;

	if (fd < 0)
		return -1;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	}
	if (!bind(fd, (struct sockaddr *)&ss, sl) && !getsockname(fd, (struct sockaddr *)&ss, &sl))
		port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
				: ((struct sockaddr_in *)&ss)->sin_port);
	close(fd);
	return port;
}

/* A TCP socket connected to the loopback port, or -errno. */
static inline int env_connect(int port, bool v6)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons((uint16_t)port);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons((uint16_t)port);
		sl = sizeof(*a);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static inline int env_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* In a freshly forked child: die with the test process, so that a crash of
 * the test (no teardown) leaves no server behind. */
static inline void env_child_init(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* Fork and exec argv (PATH searched) with stdout and stderr to the given
 * files (NULL: /dev/null). The child is tracked for teardown. */
static inline pid_t env_spawn(struct test_env *e, char *const argv[], const char *out_path,
			      const char *err_path)
{
	pid_t pid = fork();

	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);

		env_child_init();
		int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (in < 0 || out < 0 || err < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	env_track(e, pid);
	return pid;
}

/* Run argv to completion (at most timeout_ms); its wait status. */
static inline int env_run(struct test_env *e, char *const argv[], const char *out_path,
			  unsigned timeout_ms)
{
	pid_t pid = env_spawn(e, argv, out_path, NULL);

	return pid < 0 ? -1 : env_wait(e, pid, timeout_ms);
}

/* Poll until something accepts on the port, or pid died, or the deadline.
 * The probe comes from the test process itself, which sonde never traces. */
static inline bool env_wait_listening(pid_t pid, int port, bool v6)
{
	uint64_t deadline = env_now_ms() + SERVER_READY_MS;

	while (env_now_ms() < deadline) {
		int fd = env_connect(port, v6);

		if (fd >= 0) {
			close(fd);
			return true;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return false;
		env_sleep_ms(20);
	}
	return false;
}

/* A self-signed certificate for localhost in the test dir: key.pem and
 * cert.pem, their paths in key and cert (ENV_PATH_BYTES each). */
static inline int env_make_cert(struct test_env *e, char *key, char *cert)
{
	char *argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
			 "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
			 NULL };

	env_path(e, key, ENV_PATH_BYTES, "key.pem");
	env_path(e, cert, ENV_PATH_BYTES, "cert.pem");
	return env_run(e, argv, NULL, 20000) ? -1 : 0;
}

/* nginx in the foreground, one process (master_process off), on a free
 * loopback port, docroot <dir>/html, access log <dir>/access.log with one
 * "METHOD URI STATUS BYTES_SENT" line per request. */
struct nginx_opts {
	bool v6;
	bool sendfile;
	bool tls;            /* HTTPS, with a self-signed certificate made here */
	const char *extra;   /* more directives inside server { } */
};

struct nginx {
	pid_t pid;
	int port;
	bool v6;
	char access_log[ENV_PATH_BYTES];
	char error_log[ENV_PATH_BYTES];
};

static inline int nginx_start(struct test_env *e, const struct nginx_opts *o, struct nginx *n)
{
	char conf[8192], path[ENV_PATH_BYTES], html[ENV_PATH_BYTES], tls[2 * ENV_PATH_BYTES + 96] = "";
	char *argv[8];
	int len;

	memset(n, 0, sizeof(*n));
	n->v6 = o->v6;
	n->port = env_free_port(o->v6);
	if (n->port <= 0)
		return -1;
	env_path(e, html, sizeof(html), "html");
	mkdir(html, 0755);
	env_path(e, n->access_log, sizeof(n->access_log), "access.log");
	env_path(e, n->error_log, sizeof(n->error_log), "error.log");
	env_path(e, path, sizeof(path), "nginx-tmp");
	mkdir(path, 0755);
	if (o->tls) {
		char key[ENV_PATH_BYTES], cert[ENV_PATH_BYTES];

		if (env_make_cert(e, key, cert))
			return -1;
		snprintf(tls, sizeof(tls), "ssl_certificate %s; ssl_certificate_key %s;", cert, key);
	}
	len = snprintf(conf, sizeof(conf),
		"daemon off;\n"
		"master_process off;\n"
		"worker_processes 1;\n"
		"worker_rlimit_nofile 8192;\n"
		"pid %1$s/nginx.pid;\n"
		"error_log %1$s/error.log warn;\n"
		"events { worker_connections 4096; }\n"
		"http {\n"
		"  log_format t '$request_method $request_uri $status $bytes_sent';\n"
		"  access_log %1$s/access.log t;\n"
		"  client_body_temp_path %1$s/nginx-tmp/body;\n"
		"  proxy_temp_path %1$s/nginx-tmp/proxy;\n"
		"  fastcgi_temp_path %1$s/nginx-tmp/fastcgi;\n"
		"  uwsgi_temp_path %1$s/nginx-tmp/uwsgi;\n"
		"  scgi_temp_path %1$s/nginx-tmp/scgi;\n"
		"  default_type text/plain;\n"
		"  sendfile %2$s;\n"
		"  keepalive_requests 100000;\n"
		"  keepalive_timeout 30s;\n"
		"  server {\n"
		"    listen %3$s%4$d%6$s;\n"
		"    root %1$s/html;\n"
		"    %5$s\n"
		"    %7$s\n"
		"  }\n"
		"}\n",
		e->dir, o->sendfile ? "on" : "off", o->v6 ? "[::1]:" : "127.0.0.1:", n->port,
		o->extra ? o->extra : "", o->tls ? " ssl" : "", tls);
	if (len < 0 || (size_t)len >= sizeof(conf))
		return -1;
	env_path(e, path, sizeof(path), "nginx.conf");
	if (env_write_file(path, conf, (size_t)len))
		return -1;
	argv[0] = "nginx";
	argv[1] = "-c";
	argv[2] = path;
	argv[3] = "-p";
	argv[4] = e->dir;
	argv[5] = "-e";
	argv[6] = n->error_log;
	argv[7] = NULL;
	n->pid = env_spawn(e, argv, NULL, NULL);
	if (n->pid < 0)
		return -1;
	if (!env_wait_listening(n->pid, n->port, o->v6)) {
		char *log = env_read_file(n->error_log, NULL);

		fprintf(stderr, "nginx did not start on port %d: %s\n", n->port, log ? log : "?");
		free(log);
		return -1;
	}
	return 0;
}

#endif
