/* The misbehaving clients of `sonde stress` (see stress_clients.h): plain
 * blocking sockets with timeouts, one attempt after another, because what
 * matters is the shape of the traffic, not its rate. */
#include "lab/stress_clients.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lab/tracer_proc.h"

#define RESPONSE_BYTES_MAX (1u << 20)
#define GARBAGE_BYTES 512
#define VANISH_PAUSE_MS 5

struct worker {
	struct lab_clients *c;
	pthread_t tid;
	unsigned seed;
	struct lab_clients_counts n;
};

struct lab_clients {
	enum lab_clients_kind kind;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char req[1200];       /* one well-formed request, Connection: close */
	char req_ka[1200];    /* the same, keep-alive (bursts) */
	atomic_bool stop;
	int nthreads;
	struct worker w[LAB_CLIENTS_THREADS_MAX];
};

static int dial(const struct lab_clients *c)
{
	struct timeval tv = { LAB_CLIENTS_TIMEOUT_MS / 1000, (LAB_CLIENTS_TIMEOUT_MS % 1000) * 1000 };
	int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&c->addr, c->addrlen)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Close with a RST instead of a FIN: the peer vanished. */
static void close_rst(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static bool send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Read until the server closes (or the timeout): how many 2xx status lines
 * came, -1 if nothing at all came back before an error. */
static long read_answers(int fd)
{
	static const char status2xx[] = "HTTP/1.1 2";
	char buf[8192];
	size_t total = 0, keep = 0;
	long ok = 0;
	bool any = false;

	for (;;) {
		ssize_t r = recv(fd, buf + keep, sizeof(buf) - keep - 1, 0);

		if (r <= 0) {
			if (r == 0)
				any = true; /* an orderly close is an answer too */
			break;
		}
		any = true;
		total += (size_t)r;
		r += (ssize_t)keep;
		buf[r] = '\0';
		for (char *p = buf; (p = strstr(p, status2xx)); p += sizeof(status2xx) - 1)
			ok++;
		/* a status line cut between two reads is found next time */
		keep = (size_t)r < sizeof(status2xx) ? (size_t)r : sizeof(status2xx) - 1;
		memmove(buf, buf + r - keep, keep);
		if (total > RESPONSE_BYTES_MAX)
			break;
	}
	return any ? ok : -1;
}

/* Returns with fd closed when it cut the request itself (-1), else fd. */
static int slow_attempt(struct worker *w, int fd)
{
	const char *req = w->c->req;
	long ok;

	for (size_t i = 0; req[i]; i++) {
		if (atomic_load(&w->c->stop)) {
			/* stopped mid-request: cut by us, not a failure of the server */
			close_rst(fd);
			w->n.vanished++;
			return -1;
		}
		if (!send_all(fd, req + i, 1)) {
			w->n.errors++;
			return fd;
		}
		lab_sleep_ms(LAB_CLIENTS_SLOW_BYTE_MS);
	}
	ok = read_answers(fd);
	if (ok < 0) {
		w->n.errors++;
		return fd;
	}
	w->n.answered++;
	w->n.ok_2xx += (uint64_t)ok;
	return fd;
}

static void vanish_attempt(struct worker *w, int fd)
{
	const char *req = w->c->req;
	size_t len = strlen(req);

	/* half a request, or a whole one whose answer nobody reads */
	send_all(fd, req, (w->n.attempts & 1) ? len : len / 2);
	close_rst(fd);
	w->n.vanished++;
	lab_sleep_ms(VANISH_PAUSE_MS);
}

static void hostile_attempt(struct worker *w, int fd)
{
	static const char malformed[] =
		"GET /\x01\x7f HTTP/9.9\r\nHost stress\r\n: novalue\r\nContent-Length: -5\r\n\r\n";
	char buf[GARBAGE_BYTES * 2];
	bool sent = true;
	long ok;

	switch (w->n.attempts % 4) {
	case 0:
		sent = send_all(fd, malformed, sizeof(malformed) - 1);
		break;
	case 1:
		for (size_t i = 0; i < GARBAGE_BYTES; i++)
			buf[i] = (char)(rand_r(&w->seed) & 0xff);
		sent = send_all(fd, buf, GARBAGE_BYTES);
		break;
	case 2: {
		/* a head that never ends: header lines until the server gives up */
		uint64_t start = lab_now_ns();

		sent = send_all(fd, "GET / HTTP/1.1\r\nHost: stress\r\n", 30);
		while (sent && !atomic_load(&w->c->stop) &&
		       lab_now_ns() - start < LAB_CLIENTS_ENDLESS_MAX_MS * LAB_NS_PER_MS) {
			sent = send_all(fd, "X-Endless: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 52);
			lab_sleep_ms(LAB_CLIENTS_ENDLESS_LINE_MS);
		}
		sent = true; /* a server closing on us is the expected end */
		shutdown(fd, SHUT_WR);
		break;
	}
	default: {
		/* a pipelined burst, the last one asking to close */
		size_t ka = strlen(w->c->req_ka), cl = strlen(w->c->req), n = 0;
		char *burst = malloc(ka * (LAB_CLIENTS_BURST - 1) + cl);

		if (!burst) {
			w->n.errors++;
			return;
		}
		for (int i = 0; i < LAB_CLIENTS_BURST - 1; i++, n += ka)
			memcpy(burst + n, w->c->req_ka, ka);
		memcpy(burst + n, w->c->req, cl);
		sent = send_all(fd, burst, n + cl);
		free(burst);
		break;
	}
	}
	ok = sent ? read_answers(fd) : -1;
	if (ok < 0) {
		w->n.errors++;
		return;
	}
	w->n.answered++;
	w->n.ok_2xx += (uint64_t)ok;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&w->c->stop)) {
		int fd = dial(w->c);

		if (fd < 0) {
			w->n.attempts++;
			w->n.errors++;
			lab_sleep_ms(LAB_CLIENTS_TIMEOUT_MS / 10);
			continue;
		}
		switch (w->c->kind) {
		case LAB_CLIENTS_SLOW:
			fd = slow_attempt(w, fd);
			break;
		case LAB_CLIENTS_VANISH:
			vanish_attempt(w, fd);
			fd = -1;
			break;
		case LAB_CLIENTS_HOSTILE:
			hostile_attempt(w, fd);
			break;
		}
		w->n.attempts++;
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

int lab_clients_start(struct lab_clients **out, enum lab_clients_kind kind, const char *host,
		      uint16_t port, const char *path, int threads)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM }, *ai;
	struct lab_clients *c;
	char portstr[8];
	int err;

	*out = NULL;
	if (threads < 1 || threads > LAB_CLIENTS_THREADS_MAX || !host || !path ||
	    strlen(path) > 1024)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if (getaddrinfo(host, portstr, &hints, &ai)) {
		free(c);
		return -EINVAL;
	}
	memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
	c->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	c->kind = kind;
	snprintf(c->req, sizeof(c->req), "GET %s HTTP/1.1\r\nHost: stress\r\nConnection: close\r\n\r\n",
		 path);
	snprintf(c->req_ka, sizeof(c->req_ka), "GET %s HTTP/1.1\r\nHost: stress\r\n\r\n", path);
	atomic_init(&c->stop, false);
	for (int i = 0; i < threads; i++) {
		c->w[i].c = c;
		c->w[i].seed = (unsigned)(i + 1) * 2654435761u;
		err = pthread_create(&c->w[i].tid, NULL, worker_main, &c->w[i]);
		if (err) {
			struct lab_clients_counts ignored;

			c->nthreads = i;
			lab_clients_stop(c, &ignored);
			return -err;
		}
		c->nthreads = i + 1;
	}
	*out = c;
	return 0;
}

void lab_clients_request_stop(struct lab_clients *c)
{
	if (c)
		atomic_store(&c->stop, true);
}

void lab_clients_stop(struct lab_clients *c, struct lab_clients_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	atomic_store(&c->stop, true);
	for (int i = 0; i < c->nthreads; i++) {
		pthread_join(c->w[i].tid, NULL);
		out->attempts += c->w[i].n.attempts;
		out->ok_2xx += c->w[i].n.ok_2xx;
		out->answered += c->w[i].n.answered;
		out->vanished += c->w[i].n.vanished;
		out->errors += c->w[i].n.errors;
	}
	free(c);
}
