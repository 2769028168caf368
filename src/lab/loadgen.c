/* The lab's load generator (see loadgen.h). Each worker owns an epoll set
 * and its connections (edge-triggered, registered once per socket, so a
 * keep-alive request costs one write, one or two reads and no epoll_ctl).
 * Responses are framed from their head (http1_parse_response): by
 * Content-Length, chunked encoding, or the close of the connection; bodies
 * are counted, never stored. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab/loadgen.h"
#include "lab/tracer_proc.h"
#include "protocol/http1.h"

#define NS_PER_SEC 1000000000ull
#define NS_PER_MS 1000000ull
/* Largest response head a connection buffers (nginx and the built-in server
 * send ~200 B); a larger one is an err_io. */
#define CONN_HEAD_BYTES_MAX 8192u
/* Bytes read per read(): bodies go through this per-worker buffer. */
#define READ_CHUNK_BYTES (64u * 1024u)
#define REQUEST_BYTES_MAX (LAB_LOAD_PATH_BYTES_MAX + 256u)
/* Time given to thread start-up and pre-connecting before the first send. */
#define START_DELAY_NS (50ull * NS_PER_MS)
/* How often in-flight requests are checked against their timeout. */
#define TIMEOUT_SCAN_NS (5ull * NS_PER_MS)
/* Closed loop: wait this long before reconnecting after a failed connect,
 * so an unreachable target costs a bounded number of attempts. */
#define CONNECT_RETRY_NS (10ull * NS_PER_MS)
#define EPOLL_EVENTS_MAX 256
#define TIMER_SLACK_NS 1

enum sock_state { SOCK_NONE = 0, SOCK_CONNECTING, SOCK_CONNECTED };
enum req_state { REQ_NONE = 0, REQ_SENDING, REQ_READING, REQ_BACKOFF };
enum body_kind { BODY_NONE = 0, BODY_LENGTH, BODY_CHUNKED, BODY_EOF };
enum chunk_state {
	CH_SIZE = 0, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
	CH_TRAILER_START, CH_TRAILER_LINE, CH_TRAILER_LF,
};

struct lconn {
	int fd;
	uint8_t sock;          /* enum sock_state */
	uint8_t req;           /* enum req_state */
	uint8_t in_head;       /* the response head is not complete yet */
	uint8_t body;          /* enum body_kind */
	uint8_t chunk;         /* enum chunk_state */
	uint8_t resp_close;    /* the response said Connection: close */
	uint8_t fin_seen;      /* the peer closed its side */
	int status;
	const char *wbuf;      /* the request being sent */
	uint32_t wlen;
	uint32_t woff;         /* request bytes written */
	uint32_t hlen;         /* head bytes in hbuf */
	uint64_t body_left;    /* Content-Length or chunk bytes still due */
	uint64_t intended_ns;  /* latency origin */
	uint64_t deadline_ns;  /* request timeout (or end of a back-off) */
	char hbuf[CONN_HEAD_BYTES_MAX];
};

struct worker {
	const struct lab_load_opts *o;
	const struct sockaddr_storage *sa;
	socklen_t salen;
	/* the requests, one per path, taken in turn */
	const char *reqs;
	const uint32_t *req_off, *req_len;
	uint32_t n_reqs, next_req;
	uint32_t id, nthreads;
	int ep;
	struct lconn *conns;
	uint32_t nconns;
	/* FIFO of connections carrying no request (open loop): spreads the
	 * requests over every connection in turn. */
	uint32_t *free_ring;
	uint32_t free_head, free_count;
	uint32_t inflight;     /* requests on a connection or backing off */
	uint64_t start_ns, end_ns, drain_end_ns, last_ns;
	uint64_t next_i;       /* open loop: index of the next request due */
	uint64_t total_i;      /* open loop: requests scheduled overall */
	uint64_t next_scan_ns;
	struct lab_load_result r; /* this worker's share; merged at the end */
	char *rdbuf;
	int err;
};

static bool open_loop(const struct worker *w)
{
	return w->o->rate > 0;
}

/* Intended send time of request i (open loop). */
static uint64_t due_ns(const struct worker *w, uint64_t i)
{
	return w->start_ns + (uint64_t)((double)i * (double)NS_PER_SEC / w->o->rate);
}

static void free_push(struct worker *w, struct lconn *c)
{
	uint32_t idx = (uint32_t)(c - w->conns);

	w->free_ring[(w->free_head + w->free_count) % w->nconns] = idx;
	w->free_count++;
}

static struct lconn *free_pop(struct worker *w)
{
	struct lconn *c;

	if (!w->free_count)
		return NULL;
	c = &w->conns[w->free_ring[w->free_head]];
	w->free_head = (w->free_head + 1) % w->nconns;
	w->free_count--;
	return c;
}

/* Close the socket, abortively when a response is over but the peer has
 * not closed yet, so that new-connection mode leaves no TIME_WAIT behind. */
static void conn_drop(struct lconn *c, bool abort)
{
	if (c->sock == SOCK_NONE)
		return;
	if (abort && !c->fin_seen) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(c->fd);
	c->fd = -1;
	c->sock = SOCK_NONE;
	c->fin_seen = 0;
}

static int conn_connect(struct worker *w, struct lconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
	int one = 1, fd;

	fd = socket(w->sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev)) {
		int err = -errno;

		close(fd);
		return err;
	}
	c->fd = fd;
	c->sock = SOCK_CONNECTING;
	c->fin_seen = 0;
	if (connect(fd, (const struct sockaddr *)w->sa, w->salen) == 0) {
		c->sock = SOCK_CONNECTED;
		w->r.connects++;
		return 0;
	}
	if (errno == EINPROGRESS)
		return 0;
	conn_drop(c, false);
	return -errno;
}

static void conn_send(struct worker *w, struct lconn *c);

/* Start a request on c (which carries none) with the given latency origin. */
static void conn_issue(struct worker *w, struct lconn *c, uint64_t intended, uint64_t now);

/* c's request is over (completed or failed): c is free for the next one. */
static void conn_release(struct worker *w, struct lconn *c, uint64_t now)
{
	c->req = REQ_NONE;
	w->inflight--;
	if (open_loop(w)) {
		free_push(w, c);
	} else if (now < w->end_ns) {
		conn_issue(w, c, now, now);
	}
}

/* The request on c failed: count it, drop the socket, free c. */
static void conn_fail(struct worker *w, struct lconn *c, uint64_t *counter, uint64_t now)
{
	(*counter)++;
	conn_drop(c, true);
	if (counter == &w->r.err_connect && !open_loop(w) && now < w->end_ns) {
		/* Back off before the next attempt on this connection. */
		c->req = REQ_BACKOFF;
		c->deadline_ns = now + CONNECT_RETRY_NS;
		return;
	}
	conn_release(w, c, now);
}

static void conn_issue(struct worker *w, struct lconn *c, uint64_t intended, uint64_t now)
{
	uint32_t k = w->next_req;

	w->next_req = k + 1 < w->n_reqs ? k + 1 : 0;
	w->r.issued++;
	w->inflight++;
	c->req = REQ_SENDING;
	c->wbuf = w->reqs + w->req_off[k];
	c->wlen = w->req_len[k];
	c->woff = 0;
	c->intended_ns = intended;
	c->deadline_ns = now + (uint64_t)w->o->timeout_ms * NS_PER_MS;
	c->in_head = 1;
	c->hlen = 0;
	c->body = BODY_NONE;
	c->resp_close = 0;
	if (c->sock == SOCK_NONE && conn_connect(w, c)) {
		conn_fail(w, c, &w->r.err_connect, now);
		return;
	}
	if (c->sock == SOCK_CONNECTED)
		conn_send(w, c);
}

static void conn_send(struct worker *w, struct lconn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return; /* EPOLLOUT will call again */
			conn_fail(w, c, &w->r.err_io, lab_now_ns());
			return;
		}
		c->woff += (uint32_t)n;
	}
	c->req = REQ_READING;
}

static void conn_complete(struct worker *w, struct lconn *c, uint64_t now)
{
	if (c->status >= 200 && c->status < 300) {
		uint64_t sec = (now - w->start_ns) / NS_PER_SEC;

		w->r.completed++;
		lab_hist_record(&w->r.hist, now - c->intended_ns);
		if (now >= w->start_ns && sec < w->r.per_sec_len)
			w->r.per_sec[sec]++;
	} else {
		w->r.err_status++;
	}
	if (now > w->last_ns)
		w->last_ns = now;
	if (c->resp_close || w->o->new_conn_per_req)
		conn_drop(c, true);
	conn_release(w, c, now);
}

/* Walk chunked framing over data[0..len). Returns bytes consumed, with
 * *done set at the end of the message, or -1 on a framing error. */
static ssize_t chunked_feed(struct lconn *c, const char *data, size_t len, bool *done)
{
	size_t i = 0;

	while (i < len && !*done) {
		char ch = data[i];

		switch (c->chunk) {
		case CH_SIZE: {
			int d = ch >= '0' && ch <= '9' ? ch - '0' :
				ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
				ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

			if (d >= 0) {
				if (c->body_left >> 59)
					return -1; /* absurd size */
				c->body_left = c->body_left * 16 + (uint64_t)d;
			} else if (ch == ';' || ch == ' ' || ch == '\t') {
				c->chunk = CH_EXT;
			} else if (ch == '\r') {
				c->chunk = CH_SIZE_LF;
			} else if (ch == '\n') {
				c->chunk = c->body_left ? CH_DATA : CH_TRAILER_START;
			} else {
				return -1;
			}
			i++;
			break;
		}
		case CH_EXT:
			if (ch == '\n')
				c->chunk = c->body_left ? CH_DATA : CH_TRAILER_START;
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return -1;
			c->chunk = c->body_left ? CH_DATA : CH_TRAILER_START;
			i++;
			break;
		case CH_DATA: {
			size_t take = len - i < c->body_left ? len - i : (size_t)c->body_left;

			i += take;
			c->body_left -= take;
			if (!c->body_left)
				c->chunk = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (ch == '\r')
				c->chunk = CH_DATA_LF;
			else if (ch == '\n')
				c->chunk = CH_SIZE;
			else
				return -1;
			i++;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return -1;
			c->chunk = CH_SIZE;
			i++;
			break;
		case CH_TRAILER_START:
			if (ch == '\r')
				c->chunk = CH_TRAILER_LF;
			else if (ch == '\n')
				*done = true;
			else
				c->chunk = CH_TRAILER_LINE;
			i++;
			break;
		case CH_TRAILER_LINE:
			if (ch == '\n')
				c->chunk = CH_TRAILER_START;
			i++;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return -1;
			*done = true;
			i++;
			break;
		}
	}
	return (ssize_t)i;
}

/* Feed response bytes. Returns 1 when the response is complete, 0 if more
 * is needed, -1 on a malformed response. */
static int conn_feed(struct lconn *c, const char *data, size_t len)
{
	while (len) {
		if (c->in_head) {
			struct http1_head h;
			size_t take = CONN_HEAD_BYTES_MAX - c->hlen, old = c->hlen;
			int n;

			if (take > len)
				take = len;
			memcpy(c->hbuf + c->hlen, data, take);
			c->hlen += (uint32_t)take;
			n = http1_parse_response(c->hbuf, c->hlen, 0, &h);
			if (n == HTTP1_PARSE_PARTIAL) {
				if (c->hlen == CONN_HEAD_BYTES_MAX)
					return -1;
				return 0; /* all of data went into hbuf */
			}
			if (n < 0)
				return -1;
			/* Bytes of data that belonged to the head. */
			data += (size_t)n - old;
			len -= (size_t)n - old;
			c->hlen = 0;
			if (h.status < 200) {
				continue; /* interim (100 Continue...): the real head follows */
			}
			c->in_head = 0;
			c->status = h.status;
			c->resp_close = !!(h.flags & HTTP1_HEAD_CONN_CLOSE) ||
					(h.minor_version == 0 && !(h.flags & HTTP1_HEAD_CONN_KEEP_ALIVE));
			if (h.status == 204 || h.status == 304) {
				c->body = BODY_NONE;
			} else if (h.flags & HTTP1_HEAD_CHUNKED) {
				c->body = BODY_CHUNKED;
				c->chunk = CH_SIZE;
				c->body_left = 0;
			} else if (h.flags & HTTP1_HEAD_CONTENT_LENGTH) {
				c->body = BODY_LENGTH;
				c->body_left = h.content_length;
			} else {
				c->body = BODY_EOF;
				c->resp_close = 1;
			}
			if (c->body == BODY_NONE || (c->body == BODY_LENGTH && !c->body_left))
				return len ? -1 : 1; /* no pipelining: nothing may follow */
			continue;
		}
		if (c->body == BODY_LENGTH) {
			if (len > c->body_left)
				return -1;
			c->body_left -= len;
			return c->body_left ? 0 : 1;
		}
		if (c->body == BODY_CHUNKED) {
			bool done = false;
			ssize_t n = chunked_feed(c, data, len, &done);

			if (n < 0 || (done && (size_t)n != len))
				return -1;
			return done ? 1 : 0;
		}
		return 0; /* BODY_EOF: until the close */
	}
	return 0;
}

static void conn_on_readable(struct worker *w, struct lconn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, w->rdbuf, READ_CHUNK_BYTES);
		uint64_t now;
		int st;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (c->req == REQ_NONE)
				conn_drop(c, false);
			else
				conn_fail(w, c, &w->r.err_io, lab_now_ns());
			return;
		}
		now = lab_now_ns();
		if (n == 0) {
			c->fin_seen = 1;
			if (c->req == REQ_READING && !c->in_head && c->body == BODY_EOF) {
				conn_complete(w, c, now); /* drops the socket: resp_close */
			} else if (c->req == REQ_SENDING || c->req == REQ_READING) {
				conn_fail(w, c, &w->r.err_io, now);
			} else {
				conn_drop(c, false); /* idle keep-alive connection closed */
			}
			return;
		}
		if (c->req != REQ_READING) {
			/* Bytes nobody asked for (or a response racing our send). */
			if (c->req == REQ_SENDING)
				conn_fail(w, c, &w->r.err_io, now);
			else
				conn_drop(c, true);
			return;
		}
		st = conn_feed(c, w->rdbuf, (size_t)n);
		if (st < 0) {
			conn_fail(w, c, &w->r.err_io, now);
			return;
		}
		if (st > 0) {
			/* One request in flight per connection: nothing more is
			 * due until the next one is sent, so skip the read that
			 * would only say EAGAIN (a new response is a new edge). */
			conn_complete(w, c, now);
			return;
		}
	}
}

static void conn_on_event(struct worker *w, struct lconn *c, uint32_t events)
{
	if (c->sock == SOCK_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			conn_drop(c, false);
			if (c->req == REQ_SENDING)
				conn_fail(w, c, &w->r.err_connect, lab_now_ns());
			return;
		}
		c->sock = SOCK_CONNECTED;
		w->r.connects++;
		if (c->req == REQ_SENDING)
			conn_send(w, c);
		if (c->sock != SOCK_CONNECTED)
			return;
	}
	if (c->sock != SOCK_CONNECTED)
		return;
	if ((events & EPOLLOUT) && c->req == REQ_SENDING)
		conn_send(w, c);
	if (c->sock == SOCK_CONNECTED && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		conn_on_readable(w, c);
}

/* Open loop: start every due request a free connection can take. */
static void issue_due(struct worker *w, uint64_t now)
{
	while (w->next_i < w->total_i && due_ns(w, w->next_i) <= now) {
		struct lconn *c = free_pop(w);

		if (!c)
			return; /* all busy: it waits, its latency growing */
		conn_issue(w, c, due_ns(w, w->next_i), now);
		w->next_i += w->nthreads;
		now = lab_now_ns();
	}
}

/* Timeouts and closed-loop back-offs. O(connections), every TIMEOUT_SCAN_NS. */
static void scan_conns(struct worker *w, uint64_t now)
{
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct lconn *c = &w->conns[i];

		if (c->req == REQ_BACKOFF && now >= c->deadline_ns) {
			c->req = REQ_NONE;
			w->inflight--;
			if (now < w->end_ns)
				conn_issue(w, c, now, now);
		} else if ((c->req == REQ_SENDING || c->req == REQ_READING) &&
			   now >= c->deadline_ns) {
			conn_fail(w, c, c->sock == SOCK_CONNECTING ? &w->r.err_connect :
				  &w->r.err_timeout, now);
		}
	}
	w->next_scan_ns = now + TIMEOUT_SCAN_NS;
}

static bool work_left(const struct worker *w, uint64_t now)
{
	if (w->inflight)
		return true;
	if (open_loop(w))
		return w->next_i < w->total_i;
	return now < w->end_ns;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[EPOLL_EVENTS_MAX];
	uint64_t now;
	bool kicked = false;

	prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS);
	/* Pre-connect in keep-alive mode, so the first requests do not pay
	 * for the handshake. A failure here is retried with a request. */
	for (uint32_t i = 0; i < w->nconns; i++) {
		if (!w->o->new_conn_per_req)
			conn_connect(w, &w->conns[i]);
		if (open_loop(w))
			free_push(w, &w->conns[i]);
	}
	w->next_scan_ns = w->start_ns;
	for (;;) {
		struct timespec ts;
		uint64_t wake;
		int n;

		now = lab_now_ns();
		if (now >= w->start_ns) {
			if (!open_loop(w) && !kicked) {
				/* Closed loop: the first request of each connection;
				 * the next ones start from conn_release. */
				kicked = true;
				for (uint32_t i = 0; i < w->nconns; i++)
					if (w->conns[i].req == REQ_NONE)
						conn_issue(w, &w->conns[i], now, now);
			}
			if (now >= w->next_scan_ns)
				scan_conns(w, now);
			if (open_loop(w))
				issue_due(w, now);
			now = lab_now_ns();
			if (now >= w->drain_end_ns || !work_left(w, now))
				break;
		}
		/* Sleep until the next thing due: a send, a scan, the start, the
		 * end of the drain. */
		wake = w->drain_end_ns;
		if (now < w->start_ns)
			wake = w->start_ns;
		if (w->inflight && w->next_scan_ns < wake)
			wake = w->next_scan_ns;
		if (!open_loop(w) && now < w->end_ns && w->end_ns < wake)
			wake = w->end_ns;
		if (open_loop(w) && w->next_i < w->total_i && w->free_count) {
			uint64_t d = due_ns(w, w->next_i);

			if (d < wake)
				wake = d;
		}
		now = lab_now_ns();
		wake = wake > now ? wake - now : 0;
		ts.tv_sec = (time_t)(wake / NS_PER_SEC);
		ts.tv_nsec = (long)(wake % NS_PER_SEC);
		n = epoll_pwait2(w->ep, evs, EPOLL_EVENTS_MAX, &ts, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->err = -errno;
			break;
		}
		for (int i = 0; i < n; i++)
			conn_on_event(w, evs[i].data.ptr, evs[i].events);
	}
	/* What is left when the drain ran out. */
	now = lab_now_ns();
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct lconn *c = &w->conns[i];

		if (c->req == REQ_SENDING || c->req == REQ_READING)
			w->r.err_timeout++;
		conn_drop(c, true);
	}
	if (open_loop(w)) {
		for (uint64_t i = w->next_i; i < w->total_i; i += w->nthreads)
			w->r.unsent++;
	}
	if (w->inflight && now > w->last_ns)
		w->last_ns = now;
	return NULL;
}

static int resolve(const struct lab_load_opts *o, struct sockaddr_storage *sa, socklen_t *len)
{
	const char *host = o->host ? o->host : "127.0.0.1";
	struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(o->port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(o->port);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

static int result_init(struct lab_load_result *r, uint32_t per_sec_len)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = lab_hist_init(&r->hist);
	if (err)
		return err;
	r->per_sec = calloc(per_sec_len, sizeof(*r->per_sec));
	if (!r->per_sec)
		return -ENOMEM;
	r->per_sec_len = per_sec_len;
	return 0;
}

void lab_load_result_free(struct lab_load_result *res)
{
	lab_hist_free(&res->hist);
	free(res->per_sec);
	res->per_sec = NULL;
	res->per_sec_len = 0;
}

static void worker_free(struct worker *w)
{
	if (w->ep > 0)
		close(w->ep);
	free(w->conns);
	free(w->free_ring);
	free(w->rdbuf);
	lab_load_result_free(&w->r);
}

int lab_load_run(const struct lab_load_opts *opts, struct lab_load_result *res)
{
	struct lab_load_opts o;
	struct worker ws[LAB_LOAD_THREADS_MAX];
	pthread_t tids[LAB_LOAD_THREADS_MAX];
	struct sockaddr_storage sa;
	socklen_t salen;
	char hostport[INET6_ADDRSTRLEN + 16], *reqs = NULL;
	uint32_t *req_off = NULL, *req_len = NULL, n_reqs;
	size_t arena;
	uint32_t per_sec_len, started = 0;
	uint64_t start, total = 0, end_all = 0;
	int len, err;

	memset(res, 0, sizeof(*res));
	memset(ws, 0, sizeof(ws));
	if (!opts)
		return -EINVAL;
	o = *opts;
	if (!o.threads)
		o.threads = 1;
	if (!o.timeout_ms)
		o.timeout_ms = LAB_LOAD_TIMEOUT_MS_DEFAULT;
	if (!o.drain_ms)
		o.drain_ms = LAB_LOAD_DRAIN_MS_DEFAULT;
	if (!o.path)
		o.path = "/";
	if (!o.n_paths) {
		o.paths = &o.path;
		o.n_paths = 1;
	}
	if (o.threads > LAB_LOAD_THREADS_MAX || o.conns < o.threads ||
	    o.conns > LAB_LOAD_CONNS_MAX || !(o.rate >= 0) || o.rate > LAB_LOAD_RATE_MAX ||
	    !(o.duration_s > 0) || o.duration_s > LAB_LOAD_DURATION_MAX_S || !o.port ||
	    !o.paths || o.n_paths > LAB_LOAD_PATHS_MAX)
		return -EINVAL;
	for (uint32_t i = 0; i < o.n_paths; i++)
		if (!o.paths[i] || strlen(o.paths[i]) > LAB_LOAD_PATH_BYTES_MAX ||
		    o.paths[i][0] != '/')
			return -EINVAL;
	if (resolve(&o, &sa, &salen))
		return -EINVAL;
	if (sa.ss_family == AF_INET6)
		snprintf(hostport, sizeof(hostport), "[%s]:%u", o.host, o.port);
	else
		snprintf(hostport, sizeof(hostport), "%s:%u", o.host ? o.host : "127.0.0.1", o.port);
	/* every request made once, before the clock starts, into one arena
	 * sized for them: the paths' lengths plus the rest of a request each */
	n_reqs = o.n_paths;
	arena = 1;
	for (uint32_t i = 0; i < n_reqs; i++)
		arena += strlen(o.paths[i]) + REQUEST_BYTES_MAX - LAB_LOAD_PATH_BYTES_MAX;
	reqs = malloc(arena);
	req_off = malloc(n_reqs * sizeof(*req_off));
	req_len = malloc(n_reqs * sizeof(*req_len));
	if (!reqs || !req_off || !req_len) {
		err = -ENOMEM;
		goto out_reqs;
	}
	for (uint32_t i = 0, off = 0; i < n_reqs; i++) {
		len = snprintf(reqs + off, arena - off,
			       "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sonde-lab\r\n%s\r\n",
			       o.paths[i], hostport,
			       o.new_conn_per_req ? "Connection: close\r\n" : "");
		if (len < 0 || (size_t)len >= arena - off) {
			err = -EINVAL;
			goto out_reqs;
		}
		req_off[i] = off;
		req_len[i] = (uint32_t)len;
		off += (uint32_t)len;
	}
	per_sec_len = (uint32_t)ceil(o.duration_s + o.drain_ms / 1000.0) + 1;
	err = result_init(res, per_sec_len);
	if (err)
		goto out_reqs;
	if (o.rate > 0)
		total = (uint64_t)ceil(o.rate * o.duration_s - 1e-9);

	start = lab_now_ns() + START_DELAY_NS;
	for (uint32_t t = 0; t < o.threads; t++) {
		struct worker *w = &ws[t];

		w->o = &o;
		w->sa = &sa;
		w->salen = salen;
		w->reqs = reqs;
		w->req_off = req_off;
		w->req_len = req_len;
		w->n_reqs = n_reqs;
		/* the threads start at different places in the list */
		w->next_req = (uint32_t)((uint64_t)t * n_reqs / o.threads);
		w->id = t;
		w->nthreads = o.threads;
		w->nconns = o.conns / o.threads + (t < o.conns % o.threads);
		w->start_ns = start;
		w->end_ns = start + (uint64_t)(o.duration_s * NS_PER_SEC);
		w->drain_end_ns = w->end_ns + (uint64_t)o.drain_ms * NS_PER_MS;
		w->next_i = t;
		w->total_i = total;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->conns = calloc(w->nconns, sizeof(*w->conns));
		w->free_ring = calloc(w->nconns, sizeof(*w->free_ring));
		w->rdbuf = malloc(READ_CHUNK_BYTES);
		if (w->ep < 0 || !w->conns || !w->free_ring || !w->rdbuf) {
			err = w->ep < 0 ? -errno : -ENOMEM;
			goto out;
		}
		for (uint32_t i = 0; i < w->nconns; i++)
			w->conns[i].fd = -1;
		err = result_init(&w->r, per_sec_len);
		if (err)
			goto out;
	}
	for (; started < o.threads; started++) {
		err = -pthread_create(&tids[started], NULL, worker_main, &ws[started]);
		if (err)
			break;
	}
	for (uint32_t t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	if (err)
		goto out;
	for (uint32_t t = 0; t < o.threads; t++) {
		struct worker *w = &ws[t];
		struct lab_load_result *r = &w->r;

		if (w->err && !err)
			err = w->err;
		res->issued += r->issued;
		res->unsent += r->unsent;
		res->completed += r->completed;
		res->err_connect += r->err_connect;
		res->err_timeout += r->err_timeout;
		res->err_status += r->err_status;
		res->err_io += r->err_io;
		res->connects += r->connects;
		lab_hist_merge(&res->hist, &r->hist);
		for (uint32_t s = 0; s < per_sec_len; s++)
			res->per_sec[s] += r->per_sec[s];
		if (w->last_ns > end_all)
			end_all = w->last_ns;
	}
	res->scheduled = o.rate > 0 ? total : res->issued;
	if (end_all < start + (uint64_t)(o.duration_s * NS_PER_SEC) && o.rate == 0)
		end_all = start + (uint64_t)(o.duration_s * NS_PER_SEC);
	res->elapsed_s = end_all > start ? (double)(end_all - start) / NS_PER_SEC : 0;
	res->rate_achieved = res->elapsed_s > 0 ? (double)res->completed / res->elapsed_s : 0;
out:
	for (uint32_t t = 0; t < o.threads; t++)
		worker_free(&ws[t]);
out_reqs:
	free(reqs);
	free(req_off);
	free(req_len);
	return err;
}
