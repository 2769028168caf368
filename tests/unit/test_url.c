/* lab/url: parsing of good and bad http:// URLs (ports, brackets, names,
 * query strings, limits) and the reachability check against tiny servers
 * this test runs itself on loopback sockets: one answering 204, a closed
 * port, one closing without answering, one never answering, one not
 * speaking HTTP. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab/url.h"

#define ERR_BYTES 256
#define CHECK_TIMEOUT_MS 2000u
#define SHORT_TIMEOUT_MS 200u
#define REQ_BYTES 4096

/* --- parsing ------------------------------------------------------------- */

static void parse_ok(const char *text, const char *host, uint16_t port, const char *path)
{
	struct lab_url u;
	char err[ERR_BYTES] = "x";

	if (lab_url_parse(text, &u, err, sizeof(err)))
		fail_msg("%s: %s", text, err);
	assert_string_equal(err, "");
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
	assert_string_equal(u.path, path);
	assert_string_equal(u.text, text);
}

/* Refused with a one-line reason holding want, and u left zeroed. */
static void parse_bad(const char *text, const char *want)
{
	struct lab_url u;
	char err[ERR_BYTES] = "";

	memset(&u, 0x55, sizeof(u));
	if (lab_url_parse(text, &u, err, sizeof(err)) != -EINVAL)
		fail_msg("%s: accepted", text);
	if (!strstr(err, want))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", text, err, want);
	assert_null(strchr(err, '\n'));
	assert_int_equal(u.port, 0);
	assert_string_equal(u.host, "");
}

static void test_parse_good(void **st)
{
	(void)st;
	parse_ok("http://127.0.0.1:8080/x", "127.0.0.1", 8080, "/x");
	parse_ok("http://127.0.0.1", "127.0.0.1", 80, "/");
	parse_ok("http://127.0.0.1/", "127.0.0.1", 80, "/");
	parse_ok("HTTP://10.1.2.3:65535/", "10.1.2.3", 65535, "/");
	parse_ok("http://127.0.0.1:1/", "127.0.0.1", 1, "/");
	parse_ok("http://[::1]:8080/", "::1", 8080, "/");
	parse_ok("http://[::1]", "::1", 80, "/");
	parse_ok("http://[0:0:0:0:0:0:0:1]:81/a", "::1", 81, "/a");
}

static void test_parse_path_and_query(void **st)
{
	(void)st;
	parse_ok("http://127.0.0.1:81/a/b?x=1&y=%20z", "127.0.0.1", 81, "/a/b?x=1&y=%20z");
	parse_ok("http://127.0.0.1:81/a?q=1#frag", "127.0.0.1", 81, "/a?q=1");
	parse_ok("http://127.0.0.1?q=1", "127.0.0.1", 80, "/?q=1");
	parse_ok("http://127.0.0.1#top", "127.0.0.1", 80, "/");
}

static void test_parse_localhost(void **st)
{
	struct lab_url u;
	char err[ERR_BYTES];

	(void)st;
	if (lab_url_parse("http://localhost:8080/index.html", &u, err, sizeof(err)))
		fail_msg("localhost: %s", err);
	if (strcmp(u.host, "127.0.0.1") && strcmp(u.host, "::1"))
		fail_msg("localhost resolved to %s", u.host);
	assert_int_equal(u.port, 8080);
	assert_string_equal(u.path, "/index.html");
}

static void test_parse_bad(void **st)
{
	(void)st;
	parse_bad("", "empty URL");
	parse_bad("127.0.0.1:8080/", "no scheme");
	parse_bad("localhost/a://b", "no scheme");
	parse_bad("://127.0.0.1/", "no scheme");
	parse_bad("https://127.0.0.1/", "https URLs are not supported by the load generator yet");
	parse_bad("HTTPS://example.com", "https URLs are not supported");
	parse_bad("ftp://127.0.0.1/", "unsupported scheme ftp://");
	parse_bad("http://127.0.0.1:0/", "bad port '0'");
	parse_bad("http://127.0.0.1:65536/", "bad port '65536'");
	parse_bad("http://127.0.0.1:abc/", "bad port 'abc'");
	parse_bad("http://127.0.0.1:/", "bad port ''");
	parse_bad("http://127.0.0.1:-1/", "bad port");
	parse_bad("http://127.0.0.1:0080000/", "bad port");
	parse_bad("http:///x", "empty host");
	parse_bad("http://", "empty host");
	parse_bad("http://:8080/", "empty host");
	parse_bad("http://[]:8080/", "empty host");
	parse_bad("http://[::g]:8080/", "bad IPv6");
	parse_bad("http://[::1:8080/", "unterminated");
	parse_bad("http://[::1]x/", "junk after");
	parse_bad("http://::1:8080/", "needs brackets");
	parse_bad("http://user@127.0.0.1/", "user info");
	parse_bad("http://bad!host/", "bad host name");
	parse_bad("http://127.0.0.1/a b", "space or control");
	parse_bad("http://127.0.0.1/a\tb", "space or control");
}

static void test_parse_too_long(void **st)
{
	char text[4096];
	int n;

	(void)st;
	/* Longer than text[]. */
	n = snprintf(text, sizeof(text), "http://127.0.0.1/");
	memset(text + n, 'a', 2000);
	text[n + 2000] = '\0';
	parse_bad(text, "URL longer than 1099 bytes");
	/* Fits text[] but not path[]. */
	text[n + 1050] = '\0';
	parse_bad(text, "path longer than 1023 bytes");
	/* Exactly the longest path. */
	text[n + 1022] = '\0';
	{
		struct lab_url u;
		char err[ERR_BYTES];

		assert_int_equal(lab_url_parse(text, &u, err, sizeof(err)), 0);
		assert_int_equal(strlen(u.path), 1023);
	}
	/* A host name over 253 bytes. */
	n = snprintf(text, sizeof(text), "http://");
	memset(text + n, 'h', 300);
	strcpy(text + n + 300, "/");
	parse_bad(text, "host name longer than 253 bytes");
}

/* --- the check against servers of our own -------------------------------- */

enum server_mode {
	SERVE_204,       /* read the request, answer 204 */
	SERVE_CLOSE,     /* accept and close at once */
	SERVE_GARBAGE,   /* answer something that is not HTTP */
};

struct server {
	int lfd;
	uint16_t port;
	enum server_mode mode;
	pthread_t thread;
	char request[REQ_BYTES]; /* what the client sent (SERVE_204) */
};

static void *serve_one(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (s->mode == SERVE_CLOSE) {
		close(fd);
		return NULL;
	}
	while (got < sizeof(s->request) - 1) {
		ssize_t n = recv(fd, s->request + got, sizeof(s->request) - 1 - got, 0);

		if (n <= 0)
			break;
		got += (size_t)n;
		s->request[got] = '\0';
		if (strstr(s->request, "\r\n\r\n"))
			break;
	}
	if (s->mode == SERVE_204) {
		static const char resp[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";

		(void)!send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL);
	} else {
		static const char resp[] = "SSH-2.0-OpenSSH_9.2\r\n";

		(void)!send(fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL);
	}
	close(fd);
	return NULL;
}

/* A listening socket on 127.0.0.1, port chosen by the kernel. */
static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void server_start(struct server *s, enum server_mode mode)
{
	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->lfd = listen_loopback(&s->port);
	assert_int_equal(pthread_create(&s->thread, NULL, serve_one, s), 0);
}

static void server_join(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

/* http://host:port then rest, parsed. */
static void url_for(struct lab_url *u, const char *host, uint16_t port, const char *rest)
{
	char text[256], err[ERR_BYTES];

	snprintf(text, sizeof(text), "http://%s:%u%s", host, (unsigned)port, rest);
	if (lab_url_parse(text, u, err, sizeof(err)))
		fail_msg("%s: %s", text, err);
}

static void test_check_204(void **st)
{
	struct server s;
	struct lab_url u;
	char err[ERR_BYTES] = "x", host[64];
	int status = 0;

	(void)st;
	server_start(&s, SERVE_204);
	url_for(&u, "127.0.0.1", s.port, "/probe?x=1#f");
	assert_int_equal(lab_url_check(&u, CHECK_TIMEOUT_MS, &status, err, sizeof(err)), 0);
	server_join(&s);
	assert_int_equal(status, 204);
	assert_string_equal(err, "");
	assert_true(!strncmp(s.request, "GET /probe?x=1 HTTP/1.1\r\n", 25));
	snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%u\r\n", (unsigned)s.port);
	assert_non_null(strstr(s.request, host));
	assert_non_null(strstr(s.request, "\r\nConnection: close\r\n"));
}

static void test_check_status_optional(void **st)
{
	struct server s;
	struct lab_url u;
	char err[ERR_BYTES];

	(void)st;
	server_start(&s, SERVE_204);
	url_for(&u, "localhost", s.port, "");
	if (strcmp(u.host, "127.0.0.1")) {
		/* localhost is ::1 first here: our server is IPv4 only. */
		server_join(&s);
		skip();
	}
	assert_int_equal(lab_url_check(&u, CHECK_TIMEOUT_MS, NULL, err, sizeof(err)), 0);
	server_join(&s);
	/* A name stays a name in Host (virtual hosts). */
	assert_non_null(strstr(s.request, "\r\nHost: localhost:"));
	assert_true(!strncmp(s.request, "GET / HTTP/1.1\r\n", 16));
}

static void test_check_refused(void **st)
{
	struct lab_url u;
	char err[ERR_BYTES], want[ERR_BYTES];
	uint16_t port;
	int fd, status = -1;

	(void)st;
	/* A port that was just free: bound, then closed without listening. */
	fd = listen_loopback(&port);
	close(fd);
	url_for(&u, "127.0.0.1", port, "/");
	assert_int_equal(lab_url_check(&u, CHECK_TIMEOUT_MS, &status, err, sizeof(err)),
			 -ECONNREFUSED);
	snprintf(want, sizeof(want), "http://127.0.0.1:%u/: connection refused", (unsigned)port);
	assert_string_equal(err, want);
	assert_int_equal(status, -1);
}

static void test_check_closed_without_answer(void **st)
{
	struct server s;
	struct lab_url u;
	char err[ERR_BYTES];
	int rc;

	(void)st;
	server_start(&s, SERVE_CLOSE);
	url_for(&u, "127.0.0.1", s.port, "/");
	rc = lab_url_check(&u, CHECK_TIMEOUT_MS, NULL, err, sizeof(err));
	server_join(&s);
	assert_int_equal(rc, -ECONNRESET);
	assert_non_null(strstr(err, "closed without an HTTP response"));
	assert_null(strchr(err, '\n'));
}

static void test_check_no_answer(void **st)
{
	struct lab_url u;
	char err[ERR_BYTES];
	uint16_t port;
	int fd;

	(void)st;
	/* Listening, never accepting: the connect completes in the backlog. */
	fd = listen_loopback(&port);
	url_for(&u, "127.0.0.1", port, "/");
	assert_int_equal(lab_url_check(&u, SHORT_TIMEOUT_MS, NULL, err, sizeof(err)), -ETIMEDOUT);
	close(fd);
	assert_non_null(strstr(err, "no response within 200 ms"));
}

static void test_check_not_http(void **st)
{
	struct server s;
	struct lab_url u;
	char err[ERR_BYTES];
	int rc;

	(void)st;
	server_start(&s, SERVE_GARBAGE);
	url_for(&u, "127.0.0.1", s.port, "/");
	rc = lab_url_check(&u, CHECK_TIMEOUT_MS, NULL, err, sizeof(err));
	server_join(&s);
	assert_int_equal(rc, -EPROTO);
	assert_non_null(strstr(err, "not an HTTP/1.x response: \"SSH-2.0"));
	assert_null(strchr(err, '\n'));
}

static void test_check_unparsed(void **st)
{
	struct lab_url u;
	char err[ERR_BYTES];

	(void)st;
	memset(&u, 0, sizeof(u));
	assert_int_equal(lab_url_check(&u, CHECK_TIMEOUT_MS, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a parsed URL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_path_and_query),
		cmocka_unit_test(test_parse_localhost),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_too_long),
		cmocka_unit_test(test_check_204),
		cmocka_unit_test(test_check_status_optional),
		cmocka_unit_test(test_check_refused),
		cmocka_unit_test(test_check_closed_without_answer),
		cmocka_unit_test(test_check_no_answer),
		cmocka_unit_test(test_check_not_http),
		cmocka_unit_test(test_check_unparsed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
