/* A server that is already running, as a lab target: its http:// URL parsed
 * into what the load generator needs (a numeric address, a port, a request
 * target), and a check that something answering HTTP/1.x is there before a
 * benchmark is started against it. */
#ifndef SONDE_LAB_URL_H
#define SONDE_LAB_URL_H

#include <stddef.h>
#include <stdint.h>

/* lab_url_check waits this long when given 0. */
#define LAB_URL_TIMEOUT_MS_DEFAULT 3000u

struct lab_url {
	char host[64];   /* numeric IPv4 or IPv6 literal, without brackets */
	uint16_t port;
	char path[1024]; /* request target: "/" or "/a/b?q=1" (a fragment is dropped) */
	char text[1100]; /* the URL as given */
};

/* http://HOST[:PORT][/PATH][?QUERY][#FRAGMENT]: HOST an IPv4 literal,
 * [IPv6], or a name resolved with getaddrinfo (first address); PORT 1..65535,
 * default 80; PATH default "/". The scheme is case-insensitive; user info
 * and https:// ("https URLs are not supported by the load generator yet")
 * are refused. 0, or -EINVAL with a one-line reason in err (u is then
 * zeroed). Resolving a name may block (DNS). */
int lab_url_parse(const char *url, struct lab_url *u, char *err, size_t len);

/* Connect within timeout_ms (0: LAB_URL_TIMEOUT_MS_DEFAULT) and send one
 * "GET path HTTP/1.1" with Connection: close and the URL's host as Host.
 * 0 when an HTTP/1.x status line comes back within the same time, whatever
 * the status (stored in *status if not NULL); otherwise a negative errno with
 * a one-line reason naming the URL: "http://127.0.0.1:1/: connection refused"
 * (-ECONNREFUSED), no connection or no answer in time (-ETIMEDOUT), closed
 * without an answer (-ECONNRESET), not HTTP (-EPROTO). */
int lab_url_check(const struct lab_url *u, unsigned timeout_ms, int *status, char *err,
		  size_t len);

#endif
