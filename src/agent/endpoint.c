/* The agent's /metrics and /health server, on libmicrohttpd. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/endpoint.h"

#define HTTP_METHOD_NOT_ALLOWED 405
#define HTTP_INTERNAL_ERROR 500

struct agent_endpoint {
	struct MHD_Daemon *d;
	endpoint_render_fn fn;
	void *ctx;
	struct strbuf body;      /* used by the one MHD thread only */
	atomic_uint_fast64_t requests;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	/* MUST_COPY: the buffer is reused by the next request */
	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
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
	int status;

	(void)version;
	(void)upload;
	/* a body sent with the request is ignored, not buffered */
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	(void)con_cls;
	atomic_fetch_add(&e->requests, 1);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, HTTP_METHOD_NOT_ALLOWED, not_allowed, sizeof(not_allowed) - 1,
			     type);
	strbuf_reset(&e->body);
	status = e->fn(e->ctx, url, &e->body, &type);
	if (e->body.overflow) {
		static const char too_big[] = "page larger than the endpoint's bound\n";

		return reply(conn, HTTP_INTERNAL_ERROR, too_big, sizeof(too_big) - 1,
			     "text/plain; charset=utf-8");
	}
	return reply(conn, (unsigned)status, e->body.buf ? e->body.buf : "", e->body.len, type);
}

int agent_endpoint_start(struct agent_endpoint **out, const char *address, uint16_t port,
			 endpoint_render_fn fn, void *ctx, char *err, size_t err_size)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
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
	strbuf_init(&e->body, ENDPOINT_PAGE_BYTES_MAX);
	errno = 0;
	e->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, e, MHD_OPTION_SOCK_ADDR, &ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)ENDPOINT_CONNECTIONS_MAX,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ENDPOINT_TIMEOUT_S,
				MHD_OPTION_END);
	if (!e->d) {
		int ret = errno ? -errno : -EADDRINUSE;

		snprintf(err, err_size, "cannot listen on %s port %u: %s", address, port,
			 strerror(-ret));
		free(e);
		return ret;
	}
	*out = e;
	return 0;
}

uint64_t agent_endpoint_requests(const struct agent_endpoint *e)
{
	return e ? atomic_load(&e->requests) : 0;
}

void agent_endpoint_stop(struct agent_endpoint *e)
{
	if (!e)
		return;
	MHD_stop_daemon(e->d);
	strbuf_free(&e->body);
	free(e);
}
