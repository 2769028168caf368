/* agent/otlp_push and agent/selfstats: spans pushed to a receiver run by
 * this test on a loopback socket (batches, retries after 503s, every span
 * accepted once), a collector that never answers (the queue bound drops
 * and counts, pushing never blocks, stop is bounded), and the /health and
 * self-metrics texts, exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/otlp_push.h"
#include "agent/selfstats.h"

#define REQ_BYTES_MAX (1u << 20)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Answers the first fail_first requests 503, the others 200; counts the
 * spans of the bodies it accepted. One connection at a time. */
struct receiver {
	int fd;
	uint16_t port;
	int fail_first;
	int requests;
	int spans;
	bool bad_json;
	volatile bool stop;
	pthread_t t;
};

static void serve(struct receiver *r, int c)
{
	char *buf = malloc(REQ_BYTES_MAX + 1);
	size_t len = 0;

	while (buf && !r->stop) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		char *end;
		size_t need;
		ssize_t got;
		const char *cl;

		if (poll(&p, 1, 50) <= 0)
			continue;
		got = read(c, buf + len, REQ_BYTES_MAX - len);
		if (got <= 0)
			break;
		len += (size_t)got;
		buf[len] = 0;
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(buf, "content-length:");
		need = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
		if (len < need)
			continue;
		r->requests++;
		if (r->requests <= r->fail_first) {
			static const char no[] = "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n";

			if (write(c, no, sizeof(no) - 1) < 0)
				break;
		} else {
			static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
			json_t *root = json_loadb(end + 4, need - (size_t)(end + 4 - buf), 0, NULL);
			json_t *spans = json_object_get(json_array_get(json_object_get(json_array_get(
				json_object_get(root, "resourceSpans"), 0), "scopeSpans"), 0), "spans");

			if (!root || !spans)
				r->bad_json = true;
			r->spans += (int)json_array_size(spans);
			json_decref(root);
			if (write(c, ok, sizeof(ok) - 1) < 0)
				break;
		}
		memmove(buf, buf + need, len - need);
		len -= need;
	}
	free(buf);
	close(c);
}

static void *receiver_main(void *arg)
{
	struct receiver *r = arg;

	while (!r->stop) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };

		if (poll(&p, 1, 50) > 0) {
			int c = accept(r->fd, NULL, NULL);

			if (c >= 0)
				serve(r, c);
		}
	}
	return NULL;
}

/* accept: false gives a socket that listens and never accepts. */
static void receiver_start(struct receiver *r, bool accept_conns)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(r->fd, 1), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&a, &len), 0);
	r->port = ntohs(a.sin_port);
	if (accept_conns)
		assert_int_equal(pthread_create(&r->t, NULL, receiver_main, r), 0);
}

static void receiver_stop(struct receiver *r, bool accept_conns)
{
	r->stop = true;
	if (accept_conns)
		pthread_join(r->t, NULL);
	close(r->fd);
}

static void span(struct otlp_span *s, int i)
{
	memset(s, 0, sizeof(*s));
	s->trace_id[0] = (uint8_t)i;
	s->span_id[0] = (uint8_t)i;
	s->method = "GET";
	s->path = "/x/\"quoted\"\n";
	s->route = "/x/{id}";
	s->status = 200;
	s->start_unix_ns = 1;
	s->end_unix_ns = 2;
}

static void opts_for(struct otlp_push_opts *o, char *url, size_t size, uint16_t port)
{
	snprintf(url, size, "http://127.0.0.1:%u/", port);
	memset(o, 0, sizeof(*o));
	o->endpoint = url;
	o->resource.service_name = "test";
	o->batch_spans = 4;
	o->queue_spans = 64;
	o->flush_interval_ms = 20;
	o->timeout_ms = 500;
	o->retry_max = 3;
	o->backoff_ms = 10;
}

static void test_push_retries_and_delivers(void **state)
{
	struct receiver r = { .fail_first = 2 };
	struct otlp_push_opts o;
	struct otlp_push *p;
	struct otlp_push_stats st;
	struct otlp_span s;
	char url[64], err[256];
	uint64_t deadline;

	(void)state;
	receiver_start(&r, true);
	opts_for(&o, url, sizeof(url), r.port);
	assert_int_equal(otlp_push_start(&p, &o, err, sizeof(err)), 0);
	for (int i = 0; i < 10; i++) {
		span(&s, i);
		assert_int_equal(otlp_push_span(p, &s), 0);
	}
	deadline = now_ms() + 5000;
	do {
		usleep(10000);
		otlp_push_stats(p, &st);
	} while (st.sent < 10 && now_ms() < deadline);
	assert_int_equal(st.queued, 10);
	assert_int_equal(st.sent, 10);
	assert_int_equal(st.retries, 2);         /* the two 503s */
	assert_int_equal(st.exports_failed, 2);
	assert_int_equal(st.dropped_export + st.dropped_queue_full, 0);
	otlp_push_stop(p);
	receiver_stop(&r, true);
	assert_int_equal(r.spans, 10);
	assert_false(r.bad_json);
}

static void test_push_unreachable_never_blocks(void **state)
{
	struct receiver r = { 0 };
	struct otlp_push_opts o;
	struct otlp_push *p;
	struct otlp_push_stats st;
	struct otlp_span s;
	char url[64], err[256];
	uint64_t t0, pushed_ms, stop_ms;

	(void)state;
	receiver_start(&r, false);
	opts_for(&o, url, sizeof(url), r.port);
	o.queue_spans = 8;
	o.timeout_ms = 200;
	o.retry_max = 1;
	assert_int_equal(otlp_push_start(&p, &o, err, sizeof(err)), 0);
	t0 = now_ms();
	for (int i = 0; i < 1000; i++) {
		span(&s, i);
		otlp_push_span(p, &s);
	}
	pushed_ms = now_ms() - t0;
	assert_true(pushed_ms < 100); /* 1000 pushes while the worker waits on a dead peer */
	otlp_push_stats(p, &st);
	assert_int_equal(st.queued + st.dropped_queue_full, 1000);
	assert_true(st.dropped_queue_full >= 1000 - 8 - 4);
	t0 = now_ms();
	otlp_push_stop(p);
	stop_ms = now_ms() - t0;
	/* one attempt for the batch in flight, at most one more on stop */
	assert_true(stop_ms < 4 * o.timeout_ms + 500);
	receiver_stop(&r, false);
}

static void test_health_and_self_metrics(void **state)
{
	struct agent_snapshot s;
	struct agent_drop_window w = { 0 };
	struct strbuf b;
	int status;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.tracer[AGENT_TRACER_HTTP] = (struct agent_tracer_snap){ .enabled = true, .attached = true,
								  .delivered = 10 };
	s.tracer[AGENT_TRACER_HTTP].kernel[STAT_DROP_RINGBUF_FULL] = 3;
	s.tracer[AGENT_TRACER_HTTP].kernel[STAT_UNSEEN_IO_URING] = 6;
	s.tracer[AGENT_TRACER_HTTP].kernel[STAT_UNSEEN_CLOSE_RANGE] = 4100;
	s.tracer[AGENT_TRACER_HTTP].kernel[STAT_UNSEEN_MMSG] = 2;
	s.io_uring_processes = 2;
	s.tracer[AGENT_TRACER_EXEC] = (struct agent_tracer_snap){ .enabled = true, .attached = true };
	s.drops_last_minute = 3;
	s.series.series = 2;
	/* the budget sampling 1 in 4 (a step is not a failure: 200) */
	s.budget.enforced = true;
	s.budget.state = "sampling";
	s.budget.level = 2;
	s.budget.keep_one_in = 4;
	s.budget.cpu_pct = 7.5;
	s.budget.cpu_budget_pct = 5;
	s.budget.bpf_counted = true;
	s.budget.memory_budget_bytes = 256u << 20;
	s.budget.steps_up = 2;
	s.rss_bytes = 1000;
	s.tracer[AGENT_TRACER_HTTP].kernel[STAT_SAMPLED_OUT_SERVER] = 5;
	s.tracer[AGENT_TRACER_HTTP].kernel[STAT_SAMPLED_OUT_CLIENT] = 2;
	strbuf_init(&b, 0);
	assert_int_equal(agent_health_json(&b, &s, &status), 0);
	assert_int_equal(status, 200);
	assert_string_equal(b.buf, "{\"status\":\"ok\",\"tracers\":{\"http\":\"attached\",\"exec\":"
				   "\"attached\"},\"drops_last_minute\":3,\"budget\":{\"state\":\"sampling\","
				   "\"enforced\":true,\"level\":2,\"keep_one_in\":4,\"capture_cap\":0,"
				   "\"cpu_pct\":7.500,\"cpu_budget_pct\":5,\"cpu_includes_bpf\":true,"
				   "\"rss_bytes\":1000,\"memory_budget_bytes\":268435456,"
				   "\"sampled_out_requests\":7},\"series\":2,\"otlp\":\"off\"}\n");
	strbuf_reset(&b);
	s.tracer[AGENT_TRACER_EXEC].attached = false;
	assert_int_equal(agent_health_json(&b, &s, &status), 0);
	assert_int_equal(status, 503);
	assert_non_null(strstr(b.buf, "\"status\":\"degraded\""));
	assert_non_null(strstr(b.buf, "\"exec\":\"down\""));
	strbuf_reset(&b);
	s.tracer[AGENT_TRACER_EXEC].enabled = false; /* off by config: not "down" */
	assert_int_equal(agent_health_json(&b, &s, &status), 0);
	assert_int_equal(status, 200);
	assert_non_null(strstr(b.buf, "\"exec\":\"off\""));
	strbuf_reset(&b);
	assert_int_equal(agent_metrics_self(&b, &s), 0);
	assert_non_null(strstr(b.buf, "\nsonde_events_total{tracer=\"http\"} 10\n"));
	assert_null(strstr(b.buf, "sonde_events_total{tracer=\"exec\"}"));
	assert_non_null(strstr(b.buf, "\nsonde_events_dropped_total{tracer=\"http\",reason=\"ringbuf_full\"} 3\n"));
	assert_non_null(strstr(b.buf, "\nsonde_sampled_out_requests_total{side=\"server\"} 5\n"));
	assert_non_null(strstr(b.buf, "\nsonde_unseen_io_uring_calls_total 6\n"));
	assert_non_null(strstr(b.buf, "\nsonde_unseen_close_range_fds_total 4100\n"));
	assert_non_null(strstr(b.buf, "\nsonde_unseen_mmsg_calls_total 2\n"));
	assert_non_null(strstr(b.buf, "\nsonde_io_uring_processes_total 2\n"));
	assert_non_null(strstr(b.buf, "\nsonde_sampled_out_requests_total{side=\"client\"} 2\n"));
	assert_non_null(strstr(b.buf, "\nsonde_budget_state{state=\"sampling\"} 1\n"));
	assert_non_null(strstr(b.buf, "\nsonde_budget_state{state=\"normal\"} 0\n"));
	assert_non_null(strstr(b.buf, "\nsonde_budget_keep_one_in 4\n"));
	assert_non_null(strstr(b.buf, "\nsonde_budget_cpu_ratio 1.5\n"));
	assert_non_null(strstr(b.buf, "# TYPE process_cpu_seconds_total counter\n"));
	assert_non_null(strstr(b.buf, "# TYPE process_resident_memory_bytes gauge\n"));
	strbuf_free(&b);
	/* drops in the last minute: totals recorded once a second */
	assert_int_equal(agent_drop_window_push(&w, 5), 0);
	for (int i = 1; i <= 60; i++)
		assert_int_equal(agent_drop_window_push(&w, 5 + (uint64_t)i), (uint64_t)i);
	assert_int_equal(agent_drop_window_push(&w, 100), 100 - 6);   /* a minute back */
	assert_int_equal(agent_drop_window_push(&w, 100), 100 - 7);
	/* this process's own numbers */
	assert_int_equal(agent_snapshot_read_process(&s), 0);
	assert_true(s.rss_bytes > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push_retries_and_delivers),
		cmocka_unit_test(test_push_unreachable_never_blocks),
		cmocka_unit_test(test_health_and_self_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
