/* `sonde agent` for a kernel test built on http_test_env.h: the agent
 * started with a generated config (stdout and stderr to files in the test
 * dir, killed at teardown like every other child), ready once /health says
 * both tracers are attached; GETs of its endpoints with libcurl; and an
 * OTLP/HTTP receiver in a thread of the test that answers 200 to every
 * request and keeps all of them: every byte received (request line, headers
 * and body) appended to a file, and every body that is JSON parsed, so a
 * test can both search everything the agent pushed and look at its spans.
 * The GETs (agent_http.h) are those of tests/kernel/test_agent.c.
 * Header-only, for tests/kernel/test_privacy.c. */
#ifndef SONDE_TESTS_KERNEL_AGENT_TEST_ENV_H
#define SONDE_TESTS_KERNEL_AGENT_TEST_ENV_H

#include <curl/curl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>

#include "kernel/agent_http.h"
#include "kernel/http_test_env.h"

#define AGENT_READY_MS 20000u
#define AGENT_STOP_MS 8000u
#define RECV_REQ_BYTES_MAX (4u << 20)
#define RECV_CONNS_MAX 32
#define RECV_POLL_MS 100

/* ---- the OTLP receiver ---- */

struct otlp_receiver {
	int fd;
	uint16_t port;
	int raw_fd;                /* every byte received goes here */
	pthread_t thread;
	pthread_t conns[RECV_CONNS_MAX];
	int nconns;
	pthread_mutex_t lock;
	json_t *bodies;            /* array: {"path":"/v1/...","body":<parsed>} */
	int requests;              /* complete requests answered */
	int not_json;              /* bodies that did not parse */
	volatile bool stop;
};

struct recv_conn {
	struct otlp_receiver *r;
	int fd;
};

/* One complete request: keep it (lock taken here). */
static inline void recv_keep(struct otlp_receiver *r, const char *req, size_t head, size_t len)
{
	char path[64] = "";
	const char *sp = memchr(req, ' ', head);
	json_t *body;

	if (sp) {
		const char *end = memchr(sp + 1, ' ', head - (size_t)(sp + 1 - req));
		size_t n = end ? (size_t)(end - sp - 1) : 0;

		if (n >= sizeof(path))
			n = sizeof(path) - 1;
		memcpy(path, sp + 1, n);
		path[n] = 0;
	}
	body = json_loadb(req + head, len - head, 0, NULL);
	pthread_mutex_lock(&r->lock);
	if (env_write_all(r->raw_fd, req, len) || env_write_all(r->raw_fd, "\n", 1))
		r->not_json++; /* cannot keep it: make the test fail */
	r->requests++;
	if (body)
		json_array_append_new(r->bodies, json_pack("{s:s,s:o}", "path", path, "body", body));
	else
		r->not_json++;
	pthread_mutex_unlock(&r->lock);
}

static void *recv_conn_main(void *arg)
{
	struct recv_conn *cn = arg;
	struct otlp_receiver *r = cn->r;
	char *req = malloc(RECV_REQ_BYTES_MAX + 1);
	size_t len = 0, need = 0, head = 0;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				 "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n{}";

	/* keep-alive: requests one after the other on the connection */
	while (req && !r->stop) {
		struct pollfd p = { .fd = cn->fd, .events = POLLIN };
		ssize_t got;

		if (poll(&p, 1, RECV_POLL_MS) <= 0)
			continue;
		got = read(cn->fd, req + len, RECV_REQ_BYTES_MAX - len);
		if (got <= 0)
			break;
		len += (size_t)got;
		req[len] = 0;
		if (!head) {
			char *end = strstr(req, "\r\n\r\n");

			if (end) {
				const char *cl = strcasestr(req, "content-length:");

				head = (size_t)(end + 4 - req);
				need = head + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
			}
		}
		if (!head || len < need)
			continue;
		recv_keep(r, req, head, need);
		if (env_write_all(cn->fd, ok, sizeof(ok) - 1))
			break;
		memmove(req, req + need, len - need);
		len -= need;
		head = need = 0;
	}
	free(req);
	close(cn->fd);
	free(cn);
	return NULL;
}

static void *recv_main(void *arg)
{
	struct otlp_receiver *r = arg;

	while (!r->stop) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		struct recv_conn *cn;
		int c;

		if (poll(&p, 1, RECV_POLL_MS) <= 0)
			continue;
		c = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		cn = malloc(sizeof(*cn));
		if (!cn || r->nconns >= RECV_CONNS_MAX) {
			free(cn);
			close(c);
			continue;
		}
		cn->r = r;
		cn->fd = c;
		if (pthread_create(&r->conns[r->nconns], NULL, recv_conn_main, cn)) {
			free(cn);
			close(c);
			continue;
		}
		r->nconns++;
	}
	return NULL;
}

/* Listen on a loopback port; everything received is appended to raw_path. */
static inline int otlp_receiver_start(struct otlp_receiver *r, const char *raw_path)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->bodies = json_array();
	r->raw_fd = open(raw_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!r->bodies || r->raw_fd < 0 || r->fd < 0 ||
	    bind(r->fd, (struct sockaddr *)&a, sizeof(a)) || listen(r->fd, 16) ||
	    getsockname(r->fd, (struct sockaddr *)&a, &len))
		return -1;
	r->port = ntohs(a.sin_port);
	return pthread_create(&r->thread, NULL, recv_main, r) ? -1 : 0;
}

/* Stop and join every thread; the bodies stay until otlp_receiver_free. */
static inline void otlp_receiver_stop(struct otlp_receiver *r)
{
	r->stop = true;
	pthread_join(r->thread, NULL);
	for (int i = 0; i < r->nconns; i++)
		pthread_join(r->conns[i], NULL);
	close(r->fd);
	close(r->raw_fd);
}

static inline void otlp_receiver_free(struct otlp_receiver *r)
{
	json_decref(r->bodies);
	r->bodies = NULL;
	pthread_mutex_destroy(&r->lock);
}

/* The string or int (as a number) value of a span attribute, or NULL / -1. */
static inline const char *otlp_attr_str(json_t *span, const char *key)
{
	size_t i;
	json_t *at;

	json_array_foreach(json_object_get(span, "attributes"), i, at)
		if (!strcmp(json_string_value(json_object_get(at, "key")) ?: "", key))
			return json_string_value(
				json_object_get(json_object_get(at, "value"), "stringValue"));
	return NULL;
}

static inline long otlp_attr_int(json_t *span, const char *key)
{
	size_t i;
	json_t *at;

	json_array_foreach(json_object_get(span, "attributes"), i, at)
		if (!strcmp(json_string_value(json_object_get(at, "key")) ?: "", key)) {
			const char *v = json_string_value(
				json_object_get(json_object_get(at, "value"), "intValue"));

			return v ? strtol(v, NULL, 10) : -1;
		}
	return -1;
}

/* ---- the agent ---- */

struct agent {
	pid_t pid;
	uint16_t port;
	char out_path[ENV_PATH_BYTES];
	char err_path[ENV_PATH_BYTES];
};

/* `sonde agent --config <dir>/agent.json --port <free port>` with
 * config_json, tracked for teardown; returns once /health answers 200 with
 * both tracers attached (fails the test otherwise). */
static inline void agent_start(struct test_env *e, const char *sonde, const char *config_json,
			       struct agent *a)
{
	char config[ENV_PATH_BYTES], port[16];
	uint64_t deadline;
	long code = 0;

	memset(a, 0, sizeof(*a));
	a->port = (uint16_t)env_free_port(false);
	env_path(e, config, sizeof(config), "agent.json");
	env_path(e, a->out_path, sizeof(a->out_path), "agent.out");
	env_path(e, a->err_path, sizeof(a->err_path), "agent.err");
	if (env_write_file(config, config_json, strlen(config_json)))
		fail_msg("cannot write %s", config);
	snprintf(port, sizeof(port), "%u", a->port);
	{
		char *argv[] = { (char *)sonde, "agent", "--config", config, "--port", port, NULL };

		a->pid = env_spawn(e, argv, a->out_path, a->err_path);
	}
	if (a->pid <= 0)
		fail_msg("cannot start sonde agent");
	deadline = env_now_ms() + AGENT_READY_MS;
	for (;;) {
		char *body = NULL;
		bool ready;

		code = agent_http_get(a->port, "/health", &body);
		ready = code == 200 && strstr(body, "\"http\":\"attached\"") &&
			strstr(body, "\"exec\":\"attached\"");
		free(body);
		if (ready)
			return;
		if (waitpid(a->pid, NULL, WNOHANG) == a->pid) {
			char *s = env_read_file(a->err_path, NULL);

			fail_msg("sonde agent exited before it was ready: %s", s ? s : "?");
		}
		if (env_now_ms() > deadline)
			fail_msg("sonde agent not ready after %u ms (last /health %ld)",
				 AGENT_READY_MS, code);
		env_sleep_ms(100);
	}
}

/* SIGTERM; fails the test unless it exits 0 in time. */
static inline void agent_stop(struct test_env *e, struct agent *a)
{
	int st;

	kill(a->pid, SIGTERM);
	st = env_wait(e, a->pid, AGENT_STOP_MS);
	a->pid = 0;
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *s = env_read_file(a->err_path, NULL);

		fail_msg("sonde agent did not stop cleanly (status %d): %s", st, s ? s : "?");
	}
}

#endif
