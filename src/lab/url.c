/* http:// URLs of servers already running (see url.h): parsing with the
 * host resolved to a numeric address, and a one-request reachability check
 * with a non-blocking connect and poll under a single deadline. */
#include "lab/url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab/tracer_proc.h"

#define URL_DEFAULT_PORT 80
/* Most of a URL quoted in an error message. */
#define URL_QUOTE_MAX 120
#define HOST_NAME_BYTES_MAX 253
#define PORT_DIGITS_MAX 5
#define REQUEST_BYTES (sizeof(((struct lab_url *)0)->path) + 1400)
/* Enough for "HTTP/1.1 200" and then some. */
#define STATUS_LINE_BYTES 256
#define NS_PER_MS 1000000ull

static int fail_parse(struct lab_url *u, char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail_parse(struct lab_url *u, char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	memset(u, 0, sizeof(*u));
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Port text of n bytes: 1..65535, digits only. */
static bool parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;

	if (n == 0 || n > PORT_DIGITS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > UINT16_MAX)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* A literal or a name into a numeric address (first of getaddrinfo). */
static int resolve(const char *name, char *out, size_t out_len, char *err, size_t len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	const void *addr;
	int rc;

	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc || !res) {
		snprintf(err, len, "cannot resolve %s: %s", name,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		if (res)
			freeaddrinfo(res);
		return -EINVAL;
	}
	if (res->ai_family == AF_INET6)
		addr = &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
	else
		addr = &((struct sockaddr_in *)res->ai_addr)->sin_addr;
	if (!inet_ntop(res->ai_family, addr, out, (socklen_t)out_len)) {
		snprintf(err, len, "cannot resolve %s: %s", name, strerror(errno));
		freeaddrinfo(res);
		return -EINVAL;
	}
	freeaddrinfo(res);
	return 0;
}

int lab_url_parse(const char *url, struct lab_url *u, char *err, size_t len)
{
	const char *sep, *auth, *auth_end, *host, *host_end, *port_text = NULL, *rest;
	char name[HOST_NAME_BYTES_MAX + 1];
	size_t host_len, port_len = 0, path_len;
	struct in6_addr a6;
	struct in_addr a4;

	memset(u, 0, sizeof(*u));
	if (len)
		err[0] = '\0';
	if (!url || !url[0])
		return fail_parse(u, err, len, "empty URL: want http://HOST[:PORT][/PATH]");
	if (strlen(url) >= sizeof(u->text))
		return fail_parse(u, err, len, "URL longer than %zu bytes: %.*s...",
				  sizeof(u->text) - 1, URL_QUOTE_MAX / 2, url);
	sep = strstr(url, "://");
	if (!sep || sep == url || strcspn(url, "/?#") < (size_t)(sep - url))
		return fail_parse(u, err, len, "%.*s: no scheme, want http://HOST[:PORT][/PATH]",
				  URL_QUOTE_MAX, url);
	if ((size_t)(sep - url) == 5 && !strncasecmp(url, "https", 5))
		return fail_parse(u, err, len, "https URLs are not supported by the load generator yet");
	if ((size_t)(sep - url) != 4 || strncasecmp(url, "http", 4))
		return fail_parse(u, err, len, "%.*s: unsupported scheme %.*s://, want http://",
				  URL_QUOTE_MAX, url, (int)(sep - url) > 20 ? 20 : (int)(sep - url),
				  url);

	auth = sep + 3;
	auth_end = auth + strcspn(auth, "/?#");
	if (memchr(auth, '@', (size_t)(auth_end - auth)))
		return fail_parse(u, err, len, "%.*s: user info (user@host) is not supported",
				  URL_QUOTE_MAX, url);
	if (*auth == '[') {
		host = auth + 1;
		host_end = memchr(host, ']', (size_t)(auth_end - host));
		if (!host_end)
			return fail_parse(u, err, len, "%.*s: unterminated [IPv6 address]",
					  URL_QUOTE_MAX, url);
		if (host_end + 1 < auth_end) {
			if (host_end[1] != ':')
				return fail_parse(u, err, len, "%.*s: junk after the [IPv6 address]",
						  URL_QUOTE_MAX, url);
			port_text = host_end + 2;
		}
	} else {
		const char *colon = memchr(auth, ':', (size_t)(auth_end - auth));

		host = auth;
		host_end = colon ? colon : auth_end;
		if (colon) {
			if (memchr(colon + 1, ':', (size_t)(auth_end - colon - 1)))
				return fail_parse(u, err, len, "%.*s: an IPv6 address needs brackets: "
						  "http://[::1]:8080/", URL_QUOTE_MAX, url);
			port_text = colon + 1;
		}
	}
	host_len = (size_t)(host_end - host);
	if (!host_len)
		return fail_parse(u, err, len, "%.*s: empty host", URL_QUOTE_MAX, url);
	if (port_text) {
		port_len = (size_t)(auth_end - port_text);
		if (!parse_port(port_text, port_len, &u->port))
			return fail_parse(u, err, len, "%.*s: bad port '%.*s': want 1..65535",
					  URL_QUOTE_MAX, url, port_len > 20 ? 20 : (int)port_len,
					  port_text);
	} else {
		u->port = URL_DEFAULT_PORT;
	}
	if (host_len > HOST_NAME_BYTES_MAX)
		return fail_parse(u, err, len, "%.*s: host name longer than %d bytes", URL_QUOTE_MAX,
				  url, HOST_NAME_BYTES_MAX);
	memcpy(name, host, host_len);
	name[host_len] = '\0';
	if (*auth == '[') {
		if (inet_pton(AF_INET6, name, &a6) != 1)
			return fail_parse(u, err, len, "%.*s: bad IPv6 address [%s]", URL_QUOTE_MAX,
					  url, name);
		inet_ntop(AF_INET6, &a6, u->host, sizeof(u->host));
	} else if (inet_pton(AF_INET, name, &a4) == 1) {
		inet_ntop(AF_INET, &a4, u->host, sizeof(u->host));
	} else {
		for (size_t i = 0; i < host_len; i++)
			if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '.' &&
			    name[i] != '_')
				return fail_parse(u, err, len, "%.*s: bad host name '%s'",
						  URL_QUOTE_MAX, url, name);
		if (resolve(name, u->host, sizeof(u->host), err, len)) {
			char why[256];

			snprintf(why, sizeof(why), "%s", err);
			return fail_parse(u, err, len, "%s", why);
		}
	}

	/* The request target: the path and query, without the fragment. */
	rest = auth_end;
	path_len = strcspn(rest, "#");
	for (size_t i = 0; i < path_len; i++)
		if ((unsigned char)rest[i] <= ' ' || rest[i] == 0x7f)
			return fail_parse(u, err, len, "%.*s: a space or control character in the "
					  "path (encode it: %%20)", URL_QUOTE_MAX, url);
	if (path_len == 0 || rest[0] != '/') {
		u->path[0] = '/';
		if (path_len + 2 > sizeof(u->path))
			return fail_parse(u, err, len, "path longer than %zu bytes",
					  sizeof(u->path) - 1);
		memcpy(u->path + 1, rest, path_len);
		u->path[path_len + 1] = '\0';
	} else {
		if (path_len + 1 > sizeof(u->path))
			return fail_parse(u, err, len, "path longer than %zu bytes",
					  sizeof(u->path) - 1);
		memcpy(u->path, rest, path_len);
		u->path[path_len] = '\0';
	}
	snprintf(u->text, sizeof(u->text), "%s", url);
	return 0;
}

/* --- the check ---------------------------------------------------------- */

/* Milliseconds left until deadline, 0 when it passed. */
static int ms_left(uint64_t deadline)
{
	uint64_t now = lab_now_ns();

	if (now >= deadline)
		return 0;
	return (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
}

/* strerror with a lower-case first letter, for "URL: reason". */
static const char *reason_of(int e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(e));
	if (buf[0] && isupper((unsigned char)buf[0]) && !isupper((unsigned char)buf[1]))
		buf[0] = (char)tolower((unsigned char)buf[0]);
	return buf;
}

/* The URL for messages: as given, or rebuilt for a hand-filled struct. */
static void url_name(const struct lab_url *u, char *buf, size_t len)
{
	if (u->text[0])
		snprintf(buf, len, "%.*s", URL_QUOTE_MAX, u->text);
	else
		snprintf(buf, len, strchr(u->host, ':') ? "http://[%s]:%u%.*s" : "http://%s:%u%.*s",
			 u->host, (unsigned)u->port, URL_QUOTE_MAX / 2, u->path);
}

/* The Host header: the authority of the URL as given (a name stays a name,
 * for virtual hosts), or the address and port. */
static void host_header(const struct lab_url *u, char *buf, size_t len)
{
	const char *sep = strstr(u->text, "://");

	if (sep) {
		const char *auth = sep + 3;

		snprintf(buf, len, "%.*s", (int)strcspn(auth, "/?#"), auth);
		return;
	}
	if (strchr(u->host, ':'))
		snprintf(buf, len, "[%s]:%u", u->host, (unsigned)u->port);
	else
		snprintf(buf, len, "%s:%u", u->host, (unsigned)u->port);
}

static int sockaddr_of(const struct lab_url *u, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, u->host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(u->port);
		*sl = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, u->host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(u->port);
		*sl = sizeof(*a6);
		return 0;
	}
	return -EINVAL;
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int r = poll(&p, 1, ms_left(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -errno : r;
	}
}

static int check_fail(int e, char *err, size_t len, const char *name, const char *what)
{
	snprintf(err, len, "%s: %s", name, what);
	return e;
}

int lab_url_check(const struct lab_url *u, unsigned timeout_ms, int *status, char *err,
		  size_t len)
{
	char name[URL_QUOTE_MAX + 64], host[300], req[REQUEST_BYTES], resp[STATUS_LINE_BYTES];
	char why[128], what[200];
	struct sockaddr_storage ss;
	uint64_t deadline;
	socklen_t sl;
	size_t req_len, sent = 0, got = 0;
	int fd, r, e = 0, code;
	socklen_t el = sizeof(e);

	if (len)
		err[0] = '\0';
	if (!timeout_ms)
		timeout_ms = LAB_URL_TIMEOUT_MS_DEFAULT;
	deadline = lab_now_ns() + (uint64_t)timeout_ms * NS_PER_MS;
	url_name(u, name, sizeof(name));
	if (sockaddr_of(u, &ss, &sl) || !u->port || u->path[0] != '/')
		return check_fail(-EINVAL, err, len, name, "not a parsed URL (lab_url_parse)");

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return check_fail(-errno, err, len, name, reason_of(errno, why, sizeof(why)));
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		e = errno;
		goto sys_fail;
	}
	r = wait_fd(fd, POLLOUT, deadline);
	if (r <= 0) {
		close(fd);
		if (r < 0)
			return check_fail(r, err, len, name, reason_of(-r, why, sizeof(why)));
		snprintf(what, sizeof(what), "no connection within %u ms", timeout_ms);
		return check_fail(-ETIMEDOUT, err, len, name, what);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) || e) {
		e = e ? e : errno;
		goto sys_fail;
	}

	host_header(u, host, sizeof(host));
	req_len = (size_t)snprintf(req, sizeof(req),
				   "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sonde-lab\r\n"
				   "Accept: */*\r\nConnection: close\r\n\r\n", u->path, host);
	if (req_len >= sizeof(req))
		req_len = sizeof(req) - 1;
	while (sent < req_len) {
		ssize_t n = send(fd, req + sent, req_len - sent, MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			close(fd);
			return check_fail(-ECONNRESET, err, len, name,
					  "connection closed without an HTTP response");
		}
		if (n < 0 && errno != EAGAIN) {
			e = errno;
			goto sys_fail;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r <= 0)
			goto timed_out;
	}

	/* Read until the status line is complete (or enough of it is in). */
	while (got < sizeof(resp) - 1 && !memchr(resp, '\n', got)) {
		ssize_t n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);

		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			if (got)
				break; /* a short answer: judged below */
			close(fd);
			return check_fail(-ECONNRESET, err, len, name,
					  "connection closed without an HTTP response");
		}
		if (errno == EINTR)
			continue;
		r = wait_fd(fd, POLLIN, deadline);
		if (r <= 0)
			goto timed_out;
	}
	close(fd);
	resp[got] = '\0';
	if (strncmp(resp, "HTTP/1.", 7) || !isdigit((unsigned char)resp[7]) || resp[8] != ' ' ||
	    !isdigit((unsigned char)resp[9]) || !isdigit((unsigned char)resp[10]) ||
	    !isdigit((unsigned char)resp[11])) {
		resp[strcspn(resp, "\r\n")] = '\0';
		for (char *p = resp; *p; p++)
			if (!isprint((unsigned char)*p))
				*p = '?';
		snprintf(what, sizeof(what), "not an HTTP/1.x response: \"%.40s\"", resp);
		return check_fail(-EPROTO, err, len, name, what);
	}
	code = (resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0');
	if (status)
		*status = code;
	return 0;

timed_out:
	close(fd);
	snprintf(what, sizeof(what), "no response within %u ms", timeout_ms);
	return check_fail(-ETIMEDOUT, err, len, name, what);
sys_fail:
	close(fd);
	return check_fail(-e, err, len, name, reason_of(e, why, sizeof(why)));
}
