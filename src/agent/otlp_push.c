/* The OTLP/HTTP JSON exporter: bounded span queue, one worker, libcurl. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/otlp_push.h"
#include "agent/route.h"

#define URL_BYTES 512
#define ADDR_BYTES 48
#define PATH_BYTES 257
#define BODY_BYTES_MAX (64u << 20)
#define MS_PER_S 1000u
#define NS_PER_MS 1000000ull
#define HTTP_STATUS_OK_MIN 200
#define HTTP_STATUS_OK_MAX 299
#define BACKOFF_MS_MAX 30000u

/* A span with its own copies of the strings. */
struct queued_span {
	struct otlp_span s;
	char method[SERIES_METHOD_BYTES];
	char method_original[SERIES_METHOD_BYTES];
	char path[PATH_BYTES];
	char route[ROUTE_BYTES_MAX];
	char server_address[ADDR_BYTES];
	char process_name[SERIES_NAME_BYTES];
	char container_id[SERIES_CONTAINER_BYTES];
};

struct otlp_push {
	struct otlp_push_opts o;
	char traces_url[URL_BYTES], metrics_url[URL_BYTES];
	pthread_t worker;
	pthread_mutex_t lock;
	pthread_cond_t wake;       /* a full batch, or stop */
	bool stopping;
	struct queued_span *q;     /* ring of queue_spans */
	uint32_t head, len;
	struct queued_span *batch; /* the worker's copy of one batch */
	struct otlp_span *spans;   /* ... as otlp_span, for the encoder */
	struct strbuf body;
	CURL *curl;
	struct otlp_push_stats st; /* under lock */
	uint64_t next_metrics_ms;
};

/* The collector's answer body is not needed: counted away, never printed
 * (libcurl's default would write it to stdout). */
static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * MS_PER_S + (uint64_t)ts.tv_nsec / NS_PER_MS;
}

static const char *copy(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	if (!src)
		return NULL;
	memcpy(dst, src, n);
	dst[n] = 0;
	return dst;
}

int otlp_push_span(struct otlp_push *p, const struct otlp_span *s)
{
	struct queued_span *q;
	bool wake;

	pthread_mutex_lock(&p->lock);
	if (p->len >= p->o.queue_spans) {
		p->st.dropped_queue_full++;
		pthread_mutex_unlock(&p->lock);
		return -ENOSPC;
	}
	q = &p->q[(p->head + p->len) % p->o.queue_spans];
	q->s = *s;
	q->s.method = copy(q->method, sizeof(q->method), s->method);
	q->s.method_original = copy(q->method_original, sizeof(q->method_original),
				    s->method_original);
	q->s.path = copy(q->path, sizeof(q->path), s->path);
	q->s.route = copy(q->route, sizeof(q->route), s->route);
	q->s.server_address = copy(q->server_address, sizeof(q->server_address),
				   s->server_address);
	q->s.process_name = copy(q->process_name, sizeof(q->process_name), s->process_name);
	q->s.container_id = copy(q->container_id, sizeof(q->container_id), s->container_id);
	p->len++;
	p->st.queued++;
	wake = p->len == p->o.batch_spans;
	pthread_mutex_unlock(&p->lock);
	if (wake)
		pthread_cond_signal(&p->wake);
	return 0;
}

/* One POST: 0 when the collector answered 2xx, else -EIO. */
static int post(struct otlp_push *p, const char *url)
{
	long code = 0;
	CURLcode rc;

	curl_easy_setopt(p->curl, CURLOPT_URL, url);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, p->body.buf);
	curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE, (long)p->body.len);
	rc = curl_easy_perform(p->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &code);
	return rc == CURLE_OK && code >= HTTP_STATUS_OK_MIN && code <= HTTP_STATUS_OK_MAX ? 0 : -EIO;
}

/* POST the body with retries; the backoff sleep ends early on stop (the
 * final flush then gets one last attempt). */
static int post_retrying(struct otlp_push *p, const char *url)
{
	uint32_t backoff = p->o.backoff_ms;

	for (uint32_t attempt = 0;; attempt++) {
		struct timespec until;
		bool stopping;

		if (!post(p, url))
			return 0;
		pthread_mutex_lock(&p->lock);
		p->st.exports_failed++;
		stopping = p->stopping;
		if (attempt >= p->o.retry_max || stopping) {
			pthread_mutex_unlock(&p->lock);
			return -EIO;
		}
		p->st.retries++;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += backoff / MS_PER_S;
		until.tv_nsec += (long)(backoff % MS_PER_S) * (long)NS_PER_MS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&p->wake, &p->lock, &until);
		pthread_mutex_unlock(&p->lock);
		backoff = backoff * 2 > BACKOFF_MS_MAX ? BACKOFF_MS_MAX : backoff * 2;
	}
}

/* Take up to one batch off the queue (lock held). */
static uint32_t take_batch(struct otlp_push *p)
{
	uint32_t n = p->len < p->o.batch_spans ? p->len : p->o.batch_spans;

	for (uint32_t i = 0; i < n; i++) {
		struct queued_span *dst = &p->batch[i], *src = &p->q[(p->head + i) % p->o.queue_spans];

		*dst = *src;
		/* the strings point into the copy now */
		dst->s.method = src->s.method ? dst->method : NULL;
		dst->s.method_original = src->s.method_original ? dst->method_original : NULL;
		dst->s.path = src->s.path ? dst->path : NULL;
		dst->s.route = src->s.route ? dst->route : NULL;
		dst->s.server_address = src->s.server_address ? dst->server_address : NULL;
		dst->s.process_name = src->s.process_name ? dst->process_name : NULL;
		dst->s.container_id = src->s.container_id ? dst->container_id : NULL;
		p->spans[i] = dst->s;
	}
	p->head = (p->head + n) % p->o.queue_spans;
	p->len -= n;
	return n;
}

static int send_batch(struct otlp_push *p, uint32_t n)
{
	int err;

	strbuf_reset(&p->body);
	err = otlp_spans_json(&p->body, &p->o.resource, p->spans, n);
	if (!err)
		err = post_retrying(p, p->traces_url);
	pthread_mutex_lock(&p->lock);
	if (err)
		p->st.dropped_export += n;
	else
		p->st.sent += n;
	pthread_mutex_unlock(&p->lock);
	return err;
}

static void send_metrics(struct otlp_push *p)
{
	int err;

	strbuf_reset(&p->body);
	err = p->o.render_metrics(p->o.ctx, &p->body);
	if (!err)
		err = post_retrying(p, p->metrics_url);
	if (!err) {
		pthread_mutex_lock(&p->lock);
		p->st.metrics_sent++;
		pthread_mutex_unlock(&p->lock);
	}
}

static void *worker(void *arg)
{
	struct otlp_push *p = arg;

	bool give_up = false;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct timespec until;
		uint32_t n;
		bool stop;

		if (p->len < p->o.batch_spans && !p->stopping) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += p->o.flush_interval_ms / MS_PER_S;
			until.tv_nsec += (long)(p->o.flush_interval_ms % MS_PER_S) * (long)NS_PER_MS;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->wake, &p->lock, &until);
		}
		stop = p->stopping;
		n = take_batch(p);
		if (give_up) {
			/* stopping and the collector failed: the rest is counted,
			 * not sent, so SIGTERM is not held up batch after batch */
			p->st.dropped_export += n;
			n = 0;
		}
		pthread_mutex_unlock(&p->lock);
		if (n && send_batch(p, n) && stop)
			give_up = true;
		if (!give_up && p->o.metrics_interval_s && p->o.render_metrics &&
		    (stop || now_ms() >= p->next_metrics_ms)) {
			p->next_metrics_ms = now_ms() + (uint64_t)p->o.metrics_interval_s * MS_PER_S;
			send_metrics(p);
		}
		pthread_mutex_lock(&p->lock);
		if (stop && !p->len)
			break;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void push_free(struct otlp_push *p)
{
	if (p->curl)
		curl_easy_cleanup(p->curl);
	strbuf_free(&p->body);
	free(p->q);
	free(p->batch);
	free(p->spans);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p);
}

int otlp_push_start(struct otlp_push **out, const struct otlp_push_opts *opts, char *err,
		    size_t err_size)
{
	static struct curl_slist *headers;
	struct otlp_push *p;
	size_t base;

	if (!opts->endpoint || !*opts->endpoint || !opts->batch_spans ||
	    opts->batch_spans > opts->queue_spans) {
		snprintf(err, err_size, "otlp: an endpoint and 1 <= batch_spans <= queue_spans are needed");
		return -EINVAL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	p->o = *opts;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	strbuf_init(&p->body, BODY_BYTES_MAX);
	base = strlen(opts->endpoint);
	while (base && opts->endpoint[base - 1] == '/')
		base--;
	snprintf(p->traces_url, sizeof(p->traces_url), "%.*s/v1/traces", (int)base, opts->endpoint);
	snprintf(p->metrics_url, sizeof(p->metrics_url), "%.*s/v1/metrics", (int)base,
		 opts->endpoint);
	/* the queue is allocated once; pages never reached stay untouched */
	p->q = calloc(opts->queue_spans, sizeof(*p->q));
	p->batch = calloc(opts->batch_spans, sizeof(*p->batch));
	p->spans = calloc(opts->batch_spans, sizeof(*p->spans));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
		p->curl = curl_easy_init();
	if (!headers)
		headers = curl_slist_append(NULL, "Content-Type: " OTLP_CONTENT_TYPE);
	if (!p->q || !p->batch || !p->spans || !p->curl || !headers) {
		snprintf(err, err_size, "otlp: out of memory");
		push_free(p);
		return -ENOMEM;
	}
	curl_easy_setopt(p->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(p->curl, CURLOPT_TIMEOUT_MS, (long)opts->timeout_ms);
	curl_easy_setopt(p->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)opts->timeout_ms);
	curl_easy_setopt(p->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(p->curl, CURLOPT_NOPROXY, "*");
	p->next_metrics_ms = now_ms() + (uint64_t)opts->metrics_interval_s * MS_PER_S;
	if (pthread_create(&p->worker, NULL, worker, p)) {
		snprintf(err, err_size, "otlp: cannot start the worker thread");
		push_free(p);
		return -EAGAIN;
	}
	*out = p;
	return 0;
}

void otlp_push_stats(struct otlp_push *p, struct otlp_push_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->st;
	out->queue_len = p->len;
	pthread_mutex_unlock(&p->lock);
}

void otlp_push_stop(struct otlp_push *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->worker, NULL);
	push_free(p);
}
