/* nginx as a lab target (see nginx.h): a generated config in a directory of
 * its own, started with lab_spawn_logged in a new process group, ready once
 * its worker exists and the port accepts connections. Every nginx started
 * and not yet stopped has a slot in a small table the cleanup reads, also
 * from a signal handler. */
#include "lab/nginx.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lab/tracer_output.h"
#include "lab/tracer_proc.h"

#define NGINX_POLL_MS 20
#define NGINX_LOG_POLL_MS 5
#define NGINX_SLOTS_MAX 8
#define NGINX_DIR_TEMPLATE "/tmp/sonde-nginx.XXXXXX"
/* Characters a directory may not hold: nginx's config syntax ($ starts a
 * variable in root). */
#define NGINX_DIR_BAD_CHARS " \t\r\n;{}\"'$#\\"
#define NGINX_WRITE_CHUNK 65536u
#define NGINX_FTW_FDS 16
#define PAGE_HEAD "<html><body>"
#define PAGE_TAIL "</body></html>\n"
#define MESSAGE_BYTES 200

/* Every file of a dir, for the signal-safe removal (lab_nginx_stop removes
 * the whole tree). */
static const char *const dir_files[] = {
	"www/index.html", "nginx.conf", "access.log", "error.log", "nginx.pid",
	"nginx.out",      "nginx.err",  "nginx.lock", NULL,
};
static const char *const dir_subdirs[] = { "www", "tmp", "", NULL };

/* A running nginx (or an own dir still to remove). Written from the main
 * flow, read by lab_nginx_cleanup, possibly from a signal handler: the
 * fields are filled before owner is set. */
struct slot {
	volatile pid_t owner;  /* getpid() of the process that started it; 0: free */
	volatile pid_t master; /* 0 once reaped */
	volatile bool own_dir;
	char dir[sizeof(((struct lab_nginx *)0)->dir)];
};

static struct slot slots[NGINX_SLOTS_MAX];
static bool cleanup_registered;

/* --- the cleanup table ---------------------------------------------------- */

static struct slot *slot_find(const char *dir)
{
	for (int i = 0; i < NGINX_SLOTS_MAX; i++)
		if (slots[i].owner == getpid() && !strcmp(slots[i].dir, dir))
			return &slots[i];
	return NULL;
}

static struct slot *slot_take(const char *dir, bool own_dir)
{
	for (int i = 0; i < NGINX_SLOTS_MAX; i++) {
		struct slot *s = &slots[i];

		if (s->owner)
			continue;
		snprintf(s->dir, sizeof(s->dir), "%s", dir);
		s->master = 0;
		s->own_dir = own_dir;
		s->owner = getpid();
		return s;
	}
	return NULL;
}

/* dir + "/" + name into out without snprintf (async-signal-safe). */
static void path_join(char *out, size_t len, const char *dir, const char *name)
{
	size_t i = 0;

	for (; *dir && i + 1 < len; dir++)
		out[i++] = *dir;
	if (*name && i + 1 < len)
		out[i++] = '/';
	for (; *name && i + 1 < len; name++)
		out[i++] = *name;
	out[i] = '\0';
}

static void dir_remove_known(const char *dir)
{
	char path[LAB_PATH_BYTES];

	for (int i = 0; dir_files[i]; i++) {
		path_join(path, sizeof(path), dir, dir_files[i]);
		unlink(path);
	}
	for (int i = 0; dir_subdirs[i]; i++) {
		path_join(path, sizeof(path), dir, dir_subdirs[i]);
		rmdir(path);
	}
}

void lab_nginx_cleanup(void)
{
	pid_t self = getpid();

	for (int i = 0; i < NGINX_SLOTS_MAX; i++) {
		struct slot *s = &slots[i];
		pid_t m = s->master;

		if (s->owner != self)
			continue;
		if (m > 0) {
			kill(-m, SIGKILL);
			waitpid(m, NULL, 0);
			s->master = 0;
		}
		if (s->own_dir)
			dir_remove_known(s->dir);
		s->owner = 0;
	}
}

/* --- helpers ---------------------------------------------------------- */

static int ftw_remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void dir_remove_tree(const char *dir)
{
	nftw(dir, ftw_remove, NGINX_FTW_FDS, FTW_DEPTH | FTW_PHYS);
}

/* nginx in PATH or where packages put it (/usr/sbin is often missing from
 * the PATH of users). 0 or -ENOENT. */
static int find_nginx(char *out, size_t len)
{
	static const char *const extra = "/usr/sbin:/usr/local/sbin:/sbin:/usr/local/nginx/sbin";
	const char *env = getenv("PATH");
	char buf[4096], *dir, *save;

	snprintf(buf, sizeof(buf), "%s:%s", env ? env : "/usr/bin:/bin", extra);
	for (dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		struct stat st;

		if (*dir != '/')
			continue; /* a relative PATH entry would depend on the cwd */
		snprintf(out, len, "%s/nginx", dir);
		if (!stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK))
			return 0;
	}
	out[0] = '\0';
	return -ENOENT;
}

int lab_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &alen))
		p = -errno;
	else
		p = ntohs(a.sin_port);
	close(fd);
	return p;
}

/* Can nginx bind 127.0.0.1:port? It sets SO_REUSEADDR, so only a listener
 * (or a bound socket) takes the port, not connections in TIME_WAIT. */
static bool port_taken(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	bool taken;

	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	taken = bind(fd, (struct sockaddr *)&a, sizeof(a)) && errno == EADDRINUSE;
	close(fd);
	return taken;
}

static bool port_accepts(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* The child of ppid whose comm is comm (nginx's worker), 0 if none. */
static pid_t child_named(pid_t ppid, const char *comm)
{
	DIR *proc = opendir("/proc");
	struct dirent *pe;
	pid_t found = 0;

	if (!proc)
		return 0;
	while (!found && (pe = readdir(proc))) {
		char path[64], buf[512], *open_paren, *close_paren;
		int pp = -1;
		FILE *f;

		if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/stat", pe->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		/* "pid (comm) state ppid ...": comm may hold ')' */
		open_paren = strchr(buf, '(');
		close_paren = strrchr(buf, ')');
		if (!open_paren || !close_paren || close_paren < open_paren ||
		    sscanf(close_paren + 1, " %*c %d", &pp) != 1 || pp != ppid)
			continue;
		*close_paren = '\0';
		if (!strcmp(open_paren + 1, comm))
			found = (pid_t)atoi(pe->d_name);
	}
	closedir(proc);
	return found;
}

/* One of nginx's error lines without its time stamp and pid#tid:
 * "2024/05/01 10:00:00 [emerg] 12#12: bind() ... failed" or
 * "nginx: [emerg] bind() ... failed" both give "[emerg] bind() ... failed". */
static void nginx_message(const char *line, char *out, size_t len)
{
	const char *p = line;
	int skip = 0;

	if (!strncmp(p, "nginx: ", 7)) {
		p += 7;
	} else {
		sscanf(p, "%*4d/%*2d/%*2d %*2d:%*2d:%*2d %n", &skip);
		p += skip;
	}
	if (*p == '[' && strchr(p, ']')) {
		const char *level_end = strchr(p, ']') + 1;
		const char *q = level_end + strspn(level_end, " ");
		size_t digits = strspn(q, "0123456789");

		if (digits && q[digits] == '#') {
			q += digits + 1;
			q += strspn(q, "0123456789");
			if (*q == ':') {
				q += 1 + strspn(q + 1, " ");
				snprintf(out, len, "%.*s %s", (int)(level_end - p), p, q);
				return;
			}
		}
	}
	snprintf(out, len, "%s", p);
}

static int write_page(const char *path, uint32_t bytes)
{
	static const char head[] = PAGE_HEAD, tail[] = PAGE_TAIL;
	size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1, fill = bytes;
	char chunk[4096];
	FILE *f;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	fchmod(fd, 0644); /* the worker (nobody, when root) reads it */
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	memset(chunk, 'x', sizeof(chunk));
	if (bytes >= hl + tl) {
		fwrite(head, 1, hl, f);
		fill = bytes - hl - tl;
	}
	while (fill) {
		size_t n = fill < sizeof(chunk) ? fill : sizeof(chunk);

		fwrite(chunk, 1, n, f);
		fill -= n;
	}
	if (bytes >= hl + tl)
		fwrite(tail, 1, tl, f);
	if (ferror(f)) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

/* An empty file (a log that must not count what an earlier nginx wrote). */
static int empty_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int mkdir_mode(const char *path, mode_t mode)
{
	if (mkdir(path, mode) && errno != EEXIST)
		return -errno;
	return chmod(path, mode) ? -errno : 0;
}

/* dir/www/index.html, dir/tmp and empty logs. */
static int dir_populate(const struct lab_nginx *n, uint32_t body_bytes)
{
	char path[LAB_PATH_BYTES];
	int err;

	path_join(path, sizeof(path), n->dir, "www");
	if ((err = mkdir_mode(path, 0755)))
		return err;
	path_join(path, sizeof(path), n->dir, "tmp");
	if ((err = mkdir_mode(path, 0755)))
		return err;
	path_join(path, sizeof(path), n->dir, "www/index.html");
	if ((err = write_page(path, body_bytes)))
		return err;
	path_join(path, sizeof(path), n->dir, "error.log");
	if ((err = empty_file(path)))
		return err;
	return empty_file(n->access_log);
}

/* dir/key.pem and dir/cert.pem: a self-signed certificate for localhost. */
static int make_cert(const struct lab_nginx *n)
{
	char key[LAB_PATH_BYTES], cert[LAB_PATH_BYTES];
	char *argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
			 key, "-out", cert, "-days", "2", "-subj", "/CN=localhost", NULL };
	int status;
	pid_t pid;

	path_join(key, sizeof(key), n->dir, "key.pem");
	path_join(cert, sizeof(cert), n->dir, "cert.pem");
	pid = lab_spawn_logged(argv, NULL, NULL);
	if (pid < 0)
		return (int)pid;
	if (lab_wait_exit(pid, LAB_NGINX_START_TIMEOUT_MS * 4, &status, NULL)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -ETIMEDOUT;
	}
	return lab_exit_code(status) ? -EIO : 0;
}

static int write_config(const struct lab_nginx *n, int cpu)
{
	char path[LAB_PATH_BYTES];
	const char *d = n->dir;
	FILE *f;

	path_join(path, sizeof(path), d, "nginx.conf");
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "# generated by sonde's lab (lab/nginx.c)\n"
		   "daemon off;\n"
		   "master_process on;\n"
		   "worker_processes 1;\n");
	if (cpu >= 0) {
		/* A bit mask, CPU 0 rightmost. */
		fputs("worker_cpu_affinity 1", f);
		for (int c = 0; c < cpu; c++)
			fputc('0', f);
		fputs(";\n", f);
	}
	fprintf(f, "pid %s/nginx.pid;\n"
		   "lock_file %s/nginx.lock;\n"
		   "error_log %s/error.log warn;\n"
		   "events { worker_connections %d; }\n"
		   "http {\n"
		   "  log_format lab '$remote_addr $status $body_bytes_sent \"$request\"';\n"
		   "  access_log %s lab;\n"
		   "  client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n"
		   "  fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;\n"
		   "  sendfile on;\n"
		   "  keepalive_timeout 65;\n"
		   "  keepalive_requests 100000000;\n"
		   "  server {\n"
		   "    listen 127.0.0.1:%u%s;\n"
		   "    root %s/www;\n"
		   "    location / { index index.html; }\n",
		d, d, d, LAB_NGINX_CONNS_MAX, n->access_log, d, d, d, d, d, (unsigned)n->port,
		n->tls ? " ssl" : "", d);
	if (n->tls)
		fprintf(f, "    ssl_certificate %s/cert.pem;\n"
			   "    ssl_certificate_key %s/key.pem;\n", d, d);
	fputs("  }\n}\n", f);
	if (ferror(f)) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

/* The working directory: the caller's (created if missing, made absolute:
 * the config's paths must not depend on nginx's prefix) or a fresh one. */
static int dir_setup(const struct lab_nginx_opts *o, struct lab_nginx *n, char *reason,
		     size_t len)
{
	char real[PATH_MAX];
	int err;

	if (!o->dir) {
		snprintf(n->dir, sizeof(n->dir), "%s", NGINX_DIR_TEMPLATE);
		if (!mkdtemp(n->dir)) {
			err = -errno;
			snprintf(reason, len, "cannot create a directory for nginx under /tmp: %s",
				 strerror(-err));
			return err;
		}
		n->own_dir = true;
		/* The worker runs as nobody when the lab is root: it must reach www. */
		chmod(n->dir, 0755);
	} else {
		if (!o->dir[0] || strpbrk(o->dir, NGINX_DIR_BAD_CHARS)) {
			snprintf(reason, len, "nginx directory %.200s: empty, or a character nginx's "
					      "config cannot take (space ; { } quote $ # \\)", o->dir);
			return -EINVAL;
		}
		if (mkdir(o->dir, 0755) && errno != EEXIST) {
			err = -errno;
			snprintf(reason, len, "cannot create %.200s: %s", o->dir, strerror(-err));
			return err;
		}
		if (!realpath(o->dir, real)) {
			err = -errno;
			snprintf(reason, len, "%.200s: %s", o->dir, strerror(-err));
			return err;
		}
		/* Room for the longest file name in it (access_log). */
		if (strlen(real) + sizeof("/www/index.html") > sizeof(n->dir) ||
		    strpbrk(real, NGINX_DIR_BAD_CHARS)) {
			snprintf(reason, len, "nginx directory %.200s: too long or a character "
					      "nginx's config cannot take", real);
			return -EINVAL;
		}
		snprintf(n->dir, sizeof(n->dir), "%s", real);
	}
	path_join(n->access_log, sizeof(n->access_log), n->dir, "access.log");
	return 0;
}

/* Kill what is left of the group and reap the master (once it exited: the
 * pid is held by the zombie until then, so the group cannot be a stranger's). */
static void group_kill_reap(pid_t master)
{
	kill(-master, SIGKILL);
	waitpid(master, NULL, 0);
	lab_pgrp_untrack(master);
}

/* One start on n->port: 0 (running), -EADDRINUSE (exited: port taken),
 * -EIO (exited otherwise), -ETIMEDOUT, or a spawn error; reason filled. */
static int spawn_and_wait(struct lab_nginx *n, struct slot *s, const char *nginx, char *reason,
			  size_t len)
{
	char conf[LAB_PATH_BYTES], errlog[LAB_PATH_BYTES], out[LAB_PATH_BYTES],
		err_path[LAB_PATH_BYTES];
	char *argv[] = { (char *)nginx, "-p", n->dir, "-c", conf, "-e", errlog, NULL };
	uint64_t start;
	pid_t m;

	path_join(conf, sizeof(conf), n->dir, "nginx.conf");
	path_join(errlog, sizeof(errlog), n->dir, "error.log");
	path_join(out, sizeof(out), n->dir, "nginx.out");
	path_join(err_path, sizeof(err_path), n->dir, "nginx.err");
	m = lab_spawn_logged(argv, out, err_path);
	if (m < 0) {
		snprintf(reason, len, "cannot start nginx: %s", strerror(-m));
		return m;
	}
	lab_pgrp_track(m);
	s->master = m;
	start = lab_now_ns();
	for (;;) {
		siginfo_t si = { 0 };

		/* Exited? Look without reaping, so the group id stays ours. */
		if (!waitid(P_PID, (id_t)m, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid == m) {
			char line[MESSAGE_BYTES], msg[MESSAGE_BYTES];

			group_kill_reap(m);
			s->master = 0;
			lab_read_last_line(err_path, line, sizeof(line));
			if (!line[0])
				lab_read_last_line(errlog, line, sizeof(line));
			if (strstr(line, "Address already in use")) {
				snprintf(reason, len, "port %u in use", (unsigned)n->port);
				return -EADDRINUSE;
			}
			nginx_message(line, msg, sizeof(msg));
			if (msg[0])
				snprintf(reason, len, "nginx exited: %s", msg);
			else
				snprintf(reason, len, "nginx exited with status %d and no message",
					 si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status);
			return -EIO;
		}
		n->worker = child_named(m, "nginx");
		if (n->worker && port_accepts(n->port)) {
			n->master = m;
			return 0;
		}
		if (lab_now_ns() - start >= (uint64_t)LAB_NGINX_START_TIMEOUT_MS * LAB_NS_PER_MS)
			break;
		lab_sleep_ms(NGINX_POLL_MS);
	}
	group_kill_reap(m);
	s->master = 0;
	n->worker = 0;
	snprintf(reason, len, "nginx did not accept connections on port %u within %d ms (timed out)",
		 (unsigned)n->port, LAB_NGINX_START_TIMEOUT_MS);
	return -ETIMEDOUT;
}

/* --- the API ------------------------------------------------------------ */

int lab_nginx_start(const struct lab_nginx_opts *o, struct lab_nginx *n, char *reason, size_t len)
{
	char nginx[LAB_PATH_BYTES];
	struct slot *s;
	int err = 0;

	memset(n, 0, sizeof(*n));
	if (len)
		reason[0] = '\0';
	if (o->body_bytes > LAB_NGINX_BODY_BYTES_MAX) {
		snprintf(reason, len, "nginx body of %u bytes: at most %u", o->body_bytes,
			 LAB_NGINX_BODY_BYTES_MAX);
		return -EINVAL;
	}
	if (o->cpu < -1 || o->cpu > LAB_NGINX_CPU_MAX) {
		snprintf(reason, len, "nginx CPU %d: want 0..%d, or -1", o->cpu, LAB_NGINX_CPU_MAX);
		return -EINVAL;
	}
	if (find_nginx(nginx, sizeof(nginx))) {
		snprintf(reason, len, "nginx not installed (apt-get install nginx)");
		return -ENOENT;
	}
	if (o->port && port_taken(o->port)) {
		snprintf(reason, len, "port %u in use", (unsigned)o->port);
		return -EADDRINUSE;
	}
	if (!cleanup_registered) {
		atexit(lab_nginx_cleanup);
		cleanup_registered = true;
	}
	if ((err = dir_setup(o, n, reason, len)))
		return err;
	s = slot_take(n->dir, n->own_dir);
	if (!s) {
		snprintf(reason, len, "more than %d nginx running at once", NGINX_SLOTS_MAX);
		err = -EBUSY;
		goto fail;
	}
	if ((err = dir_populate(n, o->body_bytes ? o->body_bytes : LAB_NGINX_PAGE_BYTES))) {
		snprintf(reason, len, "writing nginx's files under %.200s: %s", n->dir, strerror(-err));
		goto fail;
	}
	n->tls = o->tls;
	if (n->tls && (err = make_cert(n))) {
		snprintf(reason, len, "making a certificate with openssl req under %.200s: %s",
			 n->dir, strerror(-err));
		goto fail;
	}
	for (int attempt = 0; attempt < LAB_NGINX_START_TRIES; attempt++) {
		int p = o->port ? o->port : lab_free_port();

		if (p <= 0) {
			snprintf(reason, len, "no free loopback port: %s", strerror(-p));
			err = -EADDRINUSE;
			goto fail;
		}
		n->port = (uint16_t)p;
		if ((err = write_config(n, o->cpu))) {
			snprintf(reason, len, "writing %.200s/nginx.conf: %s", n->dir, strerror(-err));
			goto fail;
		}
		err = spawn_and_wait(n, s, nginx, reason, len);
		/* A port of our choosing that someone took meanwhile: another one. */
		if (err != -EADDRINUSE || o->port)
			break;
	}
	if (!err)
		return 0;
fail:
	if (s)
		s->owner = 0;
	if (n->own_dir)
		dir_remove_tree(n->dir);
	n->own_dir = false;
	n->master = n->worker = 0;
	return err;
}

long lab_nginx_requests(const struct lab_nginx *n)
{
	return lab_count_lines_from(n->access_log, 0);
}

long lab_nginx_requests_2xx(const struct lab_nginx *n)
{
	FILE *f = fopen(n->access_log, "re");
	char *line = NULL;
	size_t cap = 0;
	long count = 0;

	if (!f)
		return -errno;
	/* "$remote_addr $status ..." */
	while (getline(&line, &cap, f) > 0) {
		const char *st = strchr(line, ' ');

		if (st && st[1] == '2' && st[2] >= '0' && st[2] <= '9' && st[3] >= '0' &&
		    st[3] <= '9' && st[4] == ' ')
			count++;
	}
	free(line);
	fclose(f);
	return count;
}

long lab_nginx_wait_requests(const struct lab_nginx *n, long want, unsigned timeout_ms)
{
	uint64_t end = lab_now_ns() + (uint64_t)timeout_ms * LAB_NS_PER_MS;
	long got;

	while ((got = lab_nginx_requests(n)) >= 0 && got < want && lab_now_ns() < end)
		lab_sleep_ms(NGINX_LOG_POLL_MS);
	return got;
}

int lab_nginx_reset_log(const struct lab_nginx *n)
{
	/* nginx appends (O_APPEND): its next line lands at the new end. */
	return truncate(n->access_log, 0) ? -errno : 0;
}

bool lab_nginx_alive(struct lab_nginx *n)
{
	siginfo_t si = { 0 };
	struct slot *s;

	if (n->master <= 0)
		return false;
	if (!waitid(P_PID, (id_t)n->master, &si, WEXITED | WNOHANG | WNOWAIT) && !si.si_pid)
		return true;
	/* Exited (or reaped by someone else: ECHILD). */
	if (si.si_pid == n->master)
		group_kill_reap(n->master);
	else
		lab_pgrp_untrack(n->master);
	s = slot_find(n->dir);
	if (s)
		s->master = 0;
	n->master = n->worker = 0;
	return false;
}

void lab_nginx_stop(struct lab_nginx *n)
{
	struct slot *s = n->dir[0] ? slot_find(n->dir) : NULL;

	if (n->master > 0 && lab_nginx_alive(n)) {
		uint64_t end = lab_now_ns() + (uint64_t)LAB_STOP_TIMEOUT_MS * LAB_NS_PER_MS;
		siginfo_t si;

		kill(n->master, SIGQUIT); /* graceful: the worker finishes, the pid file goes */
		for (;;) {
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)n->master, &si, WEXITED | WNOHANG | WNOWAIT) ||
			    si.si_pid == n->master || lab_now_ns() >= end)
				break;
			lab_sleep_ms(NGINX_POLL_MS);
		}
		/* Exited, or too slow: nothing of the group survives either way. */
		group_kill_reap(n->master);
	}
	n->master = n->worker = 0;
	if (s) {
		s->master = 0;
		if (n->own_dir)
			dir_remove_tree(n->dir);
		s->owner = 0;
	} else if (n->own_dir) {
		dir_remove_tree(n->dir);
	}
	n->own_dir = false;
}
