/* The agent's HTTP endpoint on libmicrohttpd: a thread per connection, a
 * bounded number of connections and a short timeout, GET/HEAD only, HTTP/1.1
 * keep-alive; each page is rendered by a callback into a buffer that is
 * reused (a big one is sent from it without a copy), so a flood of scrapes
 * costs the endpoint's threads, never the tracing one, and a /health probe
 * never waits behind a /metrics render on another connection. */
#ifndef SONDE_AGENT_ENDPOINT_H
#define SONDE_AGENT_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/strbuf.h"

/* Connections at once, so threads too (each idle one holds a thread for at
 * most ENDPOINT_TIMEOUT_S; a stack's untouched pages cost no memory). */
#define ENDPOINT_CONNECTIONS_MAX 64u
#define ENDPOINT_TIMEOUT_S 5u
/* A page's bound: /metrics is ~4.5 KB per series, so this holds ~14,000
 * series (the default table holds 2,000). */
#define ENDPOINT_PAGE_BYTES_MAX (64u << 20)

/* Render path into body: return the HTTP status and set *content_type.
 * Called on the thread of the connection that asked, so on several threads
 * at once: it must be thread-safe (body is the caller's alone). */
typedef int (*endpoint_render_fn)(void *ctx, const char *path, struct strbuf *body,
				  const char **content_type);

struct agent_endpoint;

/* Listen on address (IPv4 or IPv6 literal) and port. 0 or a negative errno
 * with a one-line reason in err. */
int agent_endpoint_start(struct agent_endpoint **out, const char *address, uint16_t port,
			 endpoint_render_fn fn, void *ctx, char *err, size_t err_size);
/* The port listened on (the one picked by the kernel when 0 was asked),
 * 0 if unknown. */
uint16_t agent_endpoint_port(const struct agent_endpoint *e);
/* Requests answered, and those refused (bad method). */
uint64_t agent_endpoint_requests(const struct agent_endpoint *e);
void agent_endpoint_stop(struct agent_endpoint *e);

#endif
