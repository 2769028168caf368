/* The agent's /metrics and /health server, on libmicrohttpd, a thread per
 * connection: a connection's requests are answered on its own thread, so a
 * /health probe is never queued behind a /metrics page another connection
 * is rendering (with one polling thread it was, ~1 ms for 1,000 series,
 * ~20 ms for 10,000). A thread pool would not promise that: libmicrohttpd
 * ties each connection to the pool thread that accepted it, so a probe and a
 * scrape can land on the same one. MHD_USE_EPOLL does not combine with a
 * thread per connection; each thread polls its one socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/endpoint.h"

#define HTTP_METHOD_NOT_ALLOWED 405
#define HTTP_INTERNAL_ERROR 500
/* A page up to this size is copied into its response and its buffer is
 * free at once; a bigger one (/metrics: ~4.5 KB per series) is handed to
 * libmicrohttpd as it is, and its buffer comes back when the answer is
 * sent. A copy cost a fresh 4.5 MB allocation (every page of it faulted
 * in) and a memcpy per scrape of 1,000 series. */
#define PAGE_COPY_MAX (16u << 10)
/* Page buffers handed out at once; past this, a page is rendered into a
 * buffer of its request's own and copied. A scrape in flight holds its
 * buffer (up to its capacity, twice its size at worst) until the scraper
 * has read it all. */
#define PAGES_OUT_MAX 4u
/* Page buffers kept between requests, with their capacity (up to twice the
 * biggest page: ~8 MB for 1,000 series), so a steady scraper never
 * reallocates; one, as scrapes rarely overlap and the memory counts against
 * the agent's budget (a second scraper at once grows a buffer of its own). */
#define PAGES_IDLE_MAX 1u

struct page {
	struct strbuf sb;
	struct page *next;
	struct agent_endpoint *e;
};

struct agent_endpoint {
	struct MHD_Daemon *d;
	endpoint_render_fn fn;
	void *ctx;
	/* the connections' threads share the page buffers: taken and given
	 * back under pool_lock (a list operation; never held while rendering
	 * or sending) */
	pthread_mutex_t pool_lock;
	struct page *idle;       /* buffers not in use */
	unsigned n_idle, n_out;
	atomic_uint_fast64_t requests;
};

/* A page buffer, or NULL when PAGES_OUT_MAX are out (or out of memory). */
static struct page *page_get(struct agent_endpoint *e)
{
	struct page *p;

	pthread_mutex_lock(&e->pool_lock);
	p = e->idle;
	if (p) {
		e->idle = p->next;
		e->n_idle--;
	} else if (e->n_out < PAGES_OUT_MAX && (p = calloc(1, sizeof(*p)))) {
		strbuf_init(&p->sb, ENDPOINT_PAGE_BYTES_MAX);
		p->e = e;
	}
	if (p)
		e->n_out++;
	pthread_mutex_unlock(&e->pool_lock);
	if (p)
		strbuf_reset(&p->sb);
	return p;
}

static void page_free(struct page *p)
{
	strbuf_free(&p->sb);
	free(p);
}

/* Give p back (libmicrohttpd calls this on the thread that destroys the
 * response: the connection's, or agent_endpoint_stop's). */
static void page_put(void *cls)
{
	struct page *p = cls, **small;
	struct agent_endpoint *e = p->e;

	pthread_mutex_lock(&e->pool_lock);
	e->n_out--;
	if (e->n_idle < PAGES_IDLE_MAX) {
		p->next = e->idle;
		e->idle = p;
		e->n_idle++;
		pthread_mutex_unlock(&e->pool_lock);
		return;
	}
	/* full: keep the biggest buffers, so a /health answered while a scrape
	 * is out does not leave the next scrape a small buffer to regrow */
	small = &e->idle;
	for (struct page **q = &e->idle; *q; q = &(*q)->next)
		if ((*q)->sb.cap < (*small)->sb.cap)
			small = q;
	if ((*small)->sb.cap < p->sb.cap) {
		struct page *drop = *small;

		p->next = drop->next;
		*small = p;
		p = drop;
	}
	pthread_mutex_unlock(&e->pool_lock);
	page_free(p);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	/* MUST_COPY: the buffer is reused or freed once this returns */
	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Answer with page p's text without copying it: p comes back through
 * page_put when libmicrohttpd is done with the response. */
static enum MHD_Result reply_page(struct MHD_Connection *conn, unsigned status, struct page *p,
				  const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer_with_free_callback_cls(p->sb.len, p->sb.buf, page_put,
								   p);
	if (!r) {
		page_put(p);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct agent_endpoint *e = cls;
	const char *type = "text/plain; charset=utf-8";
	static const char not_allowed[] = "only GET and HEAD\n";
	struct strbuf own, *body;
	struct page *p;
	enum MHD_Result ret;
	int status;

	(void)version;
	(void)upload;
	/* Answer on the second call, once the whole request is in: a response
	 * queued from the first call (headers only) makes libmicrohttpd close
	 * the connection after it ("Connection: close"), so every request of a
	 * scraper or a health probe would pay a new TCP connection. */
	if (!*con_cls) {
		*con_cls = e;
		return MHD_YES;
	}
	/* a body sent with the request is ignored, not buffered */
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	atomic_fetch_add(&e->requests, 1);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, HTTP_METHOD_NOT_ALLOWED, not_allowed, sizeof(not_allowed) - 1,
			     type);
	/* every pooled buffer out (slow scrapers): one of this request's own,
	 * copied into the response and freed; bounded by the connections */
	p = page_get(e);
	strbuf_init(&own, ENDPOINT_PAGE_BYTES_MAX);
	body = p ? &p->sb : &own;
	status = e->fn(e->ctx, url, body, &type);
	if (body->overflow) {
		static const char too_big[] = "page larger than the endpoint's bound\n";

		ret = reply(conn, HTTP_INTERNAL_ERROR, too_big, sizeof(too_big) - 1,
			    "text/plain; charset=utf-8");
	} else if (p && body->len > PAGE_COPY_MAX) {
		return reply_page(conn, (unsigned)status, p, type);
	} else {
		ret = reply(conn, (unsigned)status, body->buf ? body->buf : "", body->len, type);
	}
	if (p)
		page_put(p);
	strbuf_free(&own);
	return ret;
}

int agent_endpoint_start(struct agent_endpoint **out, const char *address, uint16_t port,
			 endpoint_render_fn fn, void *ctx, char *err, size_t err_size)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL;
	struct agent_endpoint *e;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, err_size, "listen_address '%s' is not an IPv4 or IPv6 address", address);
		return -EINVAL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	e->fn = fn;
	e->ctx = ctx;
	pthread_mutex_init(&e->pool_lock, NULL);
	errno = 0;
	e->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, e, MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)ENDPOINT_CONNECTIONS_MAX,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ENDPOINT_TIMEOUT_S,
				MHD_OPTION_END);
	if (!e->d) {
		int ret = errno ? -errno : -EADDRINUSE;

		snprintf(err, err_size, "cannot listen on %s port %u: %s", address, port,
			 strerror(-ret));
		pthread_mutex_destroy(&e->pool_lock);
		free(e);
		return ret;
	}
	*out = e;
	return 0;
}

uint16_t agent_endpoint_port(const struct agent_endpoint *e)
{
	const union MHD_DaemonInfo *i;

	if (!e)
		return 0;
	i = MHD_get_daemon_info(e->d, MHD_DAEMON_INFO_BIND_PORT);
	return i ? i->port : 0;
}

uint64_t agent_endpoint_requests(const struct agent_endpoint *e)
{
	return e ? atomic_load(&e->requests) : 0;
}

void agent_endpoint_stop(struct agent_endpoint *e)
{
	if (!e)
		return;
	/* stopping joins every connection's thread and destroys the
	 * responses in flight: their pages come back */
	MHD_stop_daemon(e->d);
	while (e->idle) {
		struct page *p = e->idle;

		e->idle = p->next;
		page_free(p);
	}
	pthread_mutex_destroy(&e->pool_lock);
	free(e);
}
