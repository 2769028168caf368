/* GETs of `sonde agent`'s endpoints with libcurl in kernel tests, and the
 * value of one Prometheus sample in a /metrics page. Header-only, for
 * tests/kernel/test_agent.c and agent_test_env.h. */
#ifndef SONDE_TESTS_KERNEL_AGENT_HTTP_H
#define SONDE_TESTS_KERNEL_AGENT_HTTP_H

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_GET_TIMEOUT_MS 3000L
#define AGENT_BODY_BYTES_MAX (8u << 20)

struct agent_body {
	char *buf;
	size_t len;
};

static inline size_t agent_on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct agent_body *b = ctx;
	size_t add = size * n;
	char *nb;

	if (b->len + add + 1 > AGENT_BODY_BYTES_MAX)
		return 0;
	nb = realloc(b->buf, b->len + add + 1);
	if (!nb)
		return 0;
	memcpy(nb + b->len, p, add);
	b->buf = nb;
	b->len += add;
	b->buf[b->len] = 0;
	return add;
}

/* GET url: the HTTP status (0 when nothing answered); the body,
 * NUL-terminated, in *out (free it; "" when none) when out is not NULL. */
static inline long agent_http_get_url(const char *url, char **out)
{
	struct agent_body b = { 0 };
	long code = 0;
	CURL *c = curl_easy_init();

	if (!c) {
		if (out)
			*out = strdup("");
		return 0;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, agent_on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, AGENT_GET_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (out)
		*out = b.buf ? b.buf : strdup("");
	else
		free(b.buf);
	return code;
}

/* GET http://127.0.0.1:port<path>, as agent_http_get_url. */
static inline long agent_http_get(uint16_t port, const char *path, char **out)
{
	char url[128];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	return agent_http_get_url(url, out);
}

/* The value of the Prometheus sample whose line is exactly
 * "<prefix> <value>", or -1 when there is none. */
static inline double agent_sample(const char *page, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *l = page; l && *l;) {
		if (!strncmp(l, prefix, n) && l[n] == ' ')
			return strtod(l + n + 1, NULL);
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return -1;
}

#endif
