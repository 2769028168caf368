/* The built-in HTTP/1.1 server of the lab (see http_server.h). One child
 * process, one epoll loop, edge-triggered connections. Requests are parsed
 * with http1_parse_request and answered strictly in order: each connection
 * keeps a count of identical keep-alive responses still to write plus at most
 * one final one (Connection: close or 400), after which it stops parsing.
 * Responses are never copied per request: a writev points at one shared
 * head and body. */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "lab/http_server.h"
#include "protocol/http1.h"

/* Read buffer per connection: one largest head plus room for the next
 * pipelined bytes. A head still partial in a full buffer is answered 400. */
#define CONN_RBUF_BYTES (HTTP1_HEAD_BYTES_MAX + 4096u)
/* Responses queued per connection before the server stops reading from it:
 * bounds the work a pipelining client can make it do ahead of writing. */
#define CONN_PENDING_MAX 64u
/* Responses handed to one writev (2 iovecs each). */
#define WRITEV_RESPONSES_MAX 32u
#define EPOLL_EVENTS_MAX 256
#define LISTEN_BACKLOG 4096
#define STOP_TIMEOUT_MS 5000
#define NS_PER_SEC 1000000000ull
/* The burn loop checks the CPU clock about this often. */
#define BURN_SLICE_NS 10000ull
#define BURN_CALIBRATE_ITERS 2000000ull
/* The shared page: counters, then the per-request work the parent sets. */
#define SHARED_BYTES (sizeof(struct lab_server_counts) + sizeof(uint64_t))

static uint64_t *work_ctl_of(struct lab_server_counts *shared)
{
	return (uint64_t *)(shared + 1);
}

enum final_kind {
	FINAL_NONE = 0,
	FINAL_CLOSE, /* 200 with Connection: close, then close */
	FINAL_BAD,   /* 400, then close */
};

struct conn {
	int fd;
	uint32_t rpos;        /* first unparsed byte of rbuf */
	uint32_t rlen;        /* bytes in rbuf */
	uint32_t pending;     /* keep-alive responses still to write */
	uint8_t final;        /* enum final_kind, written after pending */
	bool rd_closed;       /* peer sent FIN (or read failed) */
	uint64_t body_left;   /* request body bytes still to skip */
	size_t off;           /* bytes of the first queued response written */
	char rbuf[CONN_RBUF_BYTES];
};

/* One response as head + shared body. */
struct response {
	char head[192];
	size_t head_len;
	size_t body_len;
};

struct server {
	int ep, lfd, ctl;
	const uint64_t *work_ns; /* in the shared page: the parent may change it */
	const char *body;
	struct response ok, ok_close, bad;
	struct lab_server_counts *counts;
	uint32_t nconns;
};

/* Tags for the two non-connection fds in epoll data. */
static char listen_tag, ctl_tag;

/* Spin iterations per ns, measured once per process. */
static double burn_iters_per_ns;

static uint64_t cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void spin(uint64_t iters)
{
	for (volatile uint64_t i = 0; i < iters; i++)
		;
}

static void burn_calibrate(void)
{
	uint64_t t0, dt;

	t0 = cpu_now_ns();
	spin(BURN_CALIBRATE_ITERS);
	dt = cpu_now_ns() - t0;
	burn_iters_per_ns = dt ? (double)BURN_CALIBRATE_ITERS / (double)dt : 1.0;
}

uint64_t lab_burn_cpu_ns(uint64_t work_ns)
{
	uint64_t t0, el;

	if (work_ns == 0)
		return 0;
	if (burn_iters_per_ns == 0)
		burn_calibrate();
	t0 = cpu_now_ns();
	while ((el = cpu_now_ns() - t0) < work_ns) {
		uint64_t rem = work_ns - el;

		/* Spin at most one slice between clock reads: the estimate of
		 * iterations per ns only has to be right within a slice. */
		if (rem > BURN_SLICE_NS)
			rem = BURN_SLICE_NS;
		spin((uint64_t)((double)rem * burn_iters_per_ns * 0.9) + 1);
	}
	return el;
}

static void count_add(uint64_t *c, uint64_t n)
{
	/* Single writer (the child); the parent reads with relaxed loads. */
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static void response_init(struct response *r, int status, const char *reason,
			  size_t body_len, bool close)
{
	int n = snprintf(r->head, sizeof(r->head),
			 "HTTP/1.1 %d %s\r\nServer: sonde-lab\r\n"
			 "Content-Type: application/octet-stream\r\n"
			 "Content-Length: %zu\r\n%s\r\n",
			 status, reason, body_len, close ? "Connection: close\r\n" : "");

	r->head_len = (size_t)n;
	r->body_len = body_len;
}

static void conn_close(struct server *s, struct conn *c)
{
	close(c->fd); /* also leaves the epoll set */
	free(c);
	s->nconns--;
}

/* Queue responses for every complete request in rbuf, in order. */
static void conn_parse(struct server *s, struct conn *c)
{
	while (c->final == FINAL_NONE && c->pending < CONN_PENDING_MAX) {
		struct http1_head h;
		uint32_t avail = c->rlen - c->rpos;
		bool close_after;
		int n;

		if (c->body_left) {
			uint32_t take = avail < c->body_left ? avail : (uint32_t)c->body_left;

			c->rpos += take;
			c->body_left -= take;
			if (c->body_left)
				break;
			continue;
		}
		if (avail == 0)
			break;
		n = http1_parse_request(c->rbuf + c->rpos, avail, 0, &h);
		if (n == HTTP1_PARSE_PARTIAL) {
			if (avail == CONN_RBUF_BYTES)
				c->final = FINAL_BAD; /* head larger than the buffer */
			break;
		}
		/* Transfer-Encoding request bodies are not supported: 400. */
		if (n < 0 || (h.flags & (HTTP1_HEAD_CHUNKED | HTTP1_HEAD_TE_OTHER))) {
			c->final = FINAL_BAD;
			break;
		}
		c->rpos += (uint32_t)n;
		if (h.flags & HTTP1_HEAD_CONTENT_LENGTH)
			c->body_left = h.content_length;
		uint64_t work = __atomic_load_n(s->work_ns, __ATOMIC_RELAXED);

		if (work)
			count_add(&s->counts->work_ns, lab_burn_cpu_ns(work));
		close_after = (h.flags & HTTP1_HEAD_CONN_CLOSE) ||
			      (h.minor_version == 0 && !(h.flags & HTTP1_HEAD_CONN_KEEP_ALIVE));
		if (close_after)
			c->final = FINAL_CLOSE;
		else
			c->pending++;
	}
	if (c->rpos == c->rlen)
		c->rpos = c->rlen = 0;
}

/* Write queued responses. Returns 1 if everything queued is written, 0 if the
 * socket is full, -1 if the connection must be closed now (error, or its
 * final response is out). */
static int conn_write(struct server *s, struct conn *c)
{
	while (c->pending || c->final != FINAL_NONE) {
		struct iovec iov[2 * WRITEV_RESPONSES_MAX + 2];
		const struct response *first = c->pending ? &s->ok :
					       c->final == FINAL_CLOSE ? &s->ok_close : &s->bad;
		struct msghdr msg = { .msg_iov = iov };
		uint32_t nresp = 0, n_ka;
		size_t written;
		ssize_t w;
		int niov = 0;

		/* The first response, from where it was left. */
		if (c->off < first->head_len) {
			iov[niov++] = (struct iovec){ (char *)first->head + c->off, first->head_len - c->off };
			if (first->body_len)
				iov[niov++] = (struct iovec){ (char *)s->body, first->body_len };
		} else {
			size_t boff = c->off - first->head_len;

			iov[niov++] = (struct iovec){ (char *)s->body + boff, first->body_len - boff };
		}
		nresp = 1;
		/* Then whole ones. */
		n_ka = c->pending;
		for (uint32_t i = 1; i < n_ka && nresp < WRITEV_RESPONSES_MAX; i++, nresp++) {
			iov[niov++] = (struct iovec){ s->ok.head, s->ok.head_len };
			if (s->ok.body_len)
				iov[niov++] = (struct iovec){ (char *)s->body, s->ok.body_len };
		}
		msg.msg_iovlen = (size_t)niov;
		w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* Retire the responses that are now fully written. */
		written = (size_t)w;
		while (written) {
			const struct response *r = c->pending ? &s->ok :
						   c->final == FINAL_CLOSE ? &s->ok_close : &s->bad;
			size_t left = r->head_len + r->body_len - c->off;

			if (written < left) {
				c->off += written;
				break;
			}
			written -= left;
			c->off = 0;
			if (c->pending) {
				c->pending--;
				count_add(&s->counts->requests, 1);
			} else {
				if (c->final == FINAL_CLOSE)
					count_add(&s->counts->requests, 1);
				else
					count_add(&s->counts->bad_requests, 1);
				/* Let the peer read the last response before the
				 * close: send FIN first. */
				shutdown(c->fd, SHUT_WR);
				return -1;
			}
		}
	}
	return 1;
}

static bool conn_may_read(const struct conn *c)
{
	return c->final == FINAL_NONE && c->pending < CONN_PENDING_MAX && !c->rd_closed;
}

/* Read, parse, write until the socket has nothing more for us (edge
 * triggered: every path ends on EAGAIN, a full socket or a close). */
static void conn_handle(struct server *s, struct conn *c, uint32_t events)
{
	if (events & EPOLLERR)
		goto close;
	for (;;) {
		bool progress = false, attempted = false;
		int wr;

		if (c->rpos > 0) {
			memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
			c->rlen -= c->rpos;
			c->rpos = 0;
		}
		if (conn_may_read(c) && c->rlen < CONN_RBUF_BYTES) {
			ssize_t r = read(c->fd, c->rbuf + c->rlen, CONN_RBUF_BYTES - c->rlen);

			attempted = true;
			if (r > 0) {
				c->rlen += (uint32_t)r;
				progress = true;
			} else if (r == 0) {
				c->rd_closed = true;
			} else if (errno == EINTR) {
				progress = true;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				goto close;
			}
		}
		conn_parse(s, c);
		wr = conn_write(s, c);
		if (wr < 0)
			goto close;
		if (c->rd_closed && c->pending == 0 && c->final == FINAL_NONE)
			goto close; /* the peer is done and is owed nothing */
		if (progress)
			continue;
		/* Reading was throttled and the writes just freed the queue. */
		if (!attempted && wr == 1 && conn_may_read(c))
			continue;
		break;
	}
	return;
close:
	conn_close(s, c);
}

static void server_accept(struct server *s)
{
	for (;;) {
		int one = 1;
		struct conn *c;
		struct epoll_event ev;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return; /* EAGAIN, or EMFILE and friends: retried on the next event */
		}
		count_add(&s->counts->conns, 1);
		if (s->nconns >= LAB_SERVER_CONNS_MAX || !(c = malloc(sizeof(*c)))) {
			count_add(&s->counts->conns_refused, 1);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		memset(c, 0, offsetof(struct conn, rbuf));
		c->fd = fd;
		ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
		ev.data.ptr = c;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		s->nconns++;
	}
}

static void __attribute__((noreturn)) server_run(struct server *s)
{
	struct epoll_event evs[EPOLL_EVENTS_MAX];

	signal(SIGPIPE, SIG_IGN);
	burn_calibrate();
	for (;;) {
		int n = epoll_wait(s->ep, evs, EPOLL_EVENTS_MAX, -1);

		if (n < 0 && errno != EINTR)
			_exit(1);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &ctl_tag)
				_exit(0); /* the parent closed the pipe or died */
			if (evs[i].data.ptr == &listen_tag)
				server_accept(s);
			else
				conn_handle(s, evs[i].data.ptr, evs[i].events);
		}
	}
}

static void close_except(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	/* Other servers' control pipes, test fds...: the child must not keep
	 * them open, or closing them elsewhere would not be seen. */
	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0u, 0);
}

int lab_server_start(const struct lab_server_opts *opts, struct lab_server *srv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t salen = sizeof(sa);
	int lfd = -1, pfd[2] = { -1, -1 }, one = 1, err;
	struct lab_server_counts *shared;
	pid_t pid;

	memset(srv, 0, sizeof(*srv));
	srv->ctl_fd = -1;
	if (!opts || opts->body_bytes > LAB_SERVER_BODY_BYTES_MAX ||
	    opts->work_ns > LAB_SERVER_WORK_NS_MAX)
		return -EINVAL;
	shared = mmap(NULL, SHARED_BYTES, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return -errno;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		goto fail;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(opts->port);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, LISTEN_BACKLOG) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen))
		goto fail;
	if (pipe2(pfd, O_CLOEXEC))
		goto fail;
	*work_ctl_of(shared) = opts->work_ns;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		struct server s = { .lfd = lfd, .ctl = pfd[0], .work_ns = work_ctl_of(shared),
				    .counts = shared };
		struct epoll_event ev = { .events = EPOLLIN };
		char *body;

		close(pfd[1]);
		close_except(lfd, pfd[0]);
		if (opts->pin && opts->cpu >= 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(opts->cpu, &set);
			sched_setaffinity(0, sizeof(set), &set); /* best effort */
		}
		body = malloc(opts->body_bytes ? opts->body_bytes : 1);
		s.ep = epoll_create1(EPOLL_CLOEXEC);
		if (!body || s.ep < 0)
			_exit(1);
		memset(body, 'x', opts->body_bytes);
		s.body = body;
		response_init(&s.ok, 200, "OK", opts->body_bytes, false);
		response_init(&s.ok_close, 200, "OK", opts->body_bytes, true);
		response_init(&s.bad, 400, "Bad Request", 0, true);
		ev.data.ptr = &listen_tag;
		if (epoll_ctl(s.ep, EPOLL_CTL_ADD, lfd, &ev))
			_exit(1);
		ev.data.ptr = &ctl_tag;
		if (epoll_ctl(s.ep, EPOLL_CTL_ADD, pfd[0], &ev))
			_exit(1);
		server_run(&s);
	}
	close(pfd[0]);
	close(lfd);
	srv->pid = pid;
	srv->port = ntohs(sa.sin_port);
	srv->ctl_fd = pfd[1];
	srv->shared = shared;
	srv->work_ctl = work_ctl_of(shared);
	return 0;
fail:
	err = -errno;
	if (lfd >= 0)
		close(lfd);
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	munmap(shared, SHARED_BYTES);
	return err;
}

int lab_server_set_work(struct lab_server *srv, uint64_t work_ns)
{
	if (!srv->work_ctl || work_ns > LAB_SERVER_WORK_NS_MAX)
		return -EINVAL;
	__atomic_store_n(srv->work_ctl, work_ns, __ATOMIC_RELAXED);
	return 0;
}

void lab_server_counts(const struct lab_server *srv, struct lab_server_counts *out)
{
	if (!srv->shared) {
		*out = srv->final;
		return;
	}
	out->requests = __atomic_load_n(&srv->shared->requests, __ATOMIC_RELAXED);
	out->bad_requests = __atomic_load_n(&srv->shared->bad_requests, __ATOMIC_RELAXED);
	out->conns = __atomic_load_n(&srv->shared->conns, __ATOMIC_RELAXED);
	out->conns_refused = __atomic_load_n(&srv->shared->conns_refused, __ATOMIC_RELAXED);
	out->work_ns = __atomic_load_n(&srv->shared->work_ns, __ATOMIC_RELAXED);
}

int lab_server_stop(struct lab_server *srv)
{
	int status, ret = 0;
	pid_t r = 0;

	if (srv->ctl_fd >= 0) {
		close(srv->ctl_fd);
		srv->ctl_fd = -1;
	}
	if (srv->pid > 0) {
		for (int ms = 0; ms < STOP_TIMEOUT_MS; ms++) {
			r = waitpid(srv->pid, &status, WNOHANG);
			if (r != 0)
				break;
			usleep(1000);
		}
		if (r == 0) {
			kill(srv->pid, SIGKILL);
			r = waitpid(srv->pid, &status, 0);
		}
		if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ret = -ECHILD;
		srv->pid = 0;
	}
	if (srv->shared) {
		lab_server_counts(srv, &srv->final);
		munmap(srv->shared, SHARED_BYTES);
		srv->shared = NULL;
		srv->work_ctl = NULL;
	}
	return ret;
}
