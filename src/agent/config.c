/* Strict JSON configuration of `sonde agent`, table-driven: one row per key
 * with its type and bounds, so the checks and docs/agent.md stay in step. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/budget.h"
#include "agent/config.h"
#include "agent/procinfo.h"
#include "agent/series.h"
#include "http.h"

#define RINGBUF_KB_MIN 4u
#define RINGBUF_KB_MAX (1024u * 1024u)
#define CONNS_MAX (1u << 22)
#define OTLP_BATCH_MAX 65536u
#define OTLP_QUEUE_MAX (1u << 20)
#define MS_MAX 3600000u
#define RETRY_MAX 100u
#define METRICS_INTERVAL_S_MAX 86400u
/* budget.cpu_pct in hundredths of a percent: 0.01 % to 100 cores */
#define CPU_PCT_HUNDREDTHS_MIN 1u
#define CPU_PCT_HUNDREDTHS_MAX 1000000u
#define HUNDREDTHS 100.0
#define MEMORY_MB_MAX (1u << 20)
#define BUDGET_STEP_S_MAX 3600u

/* KEY_NUM: a double; its bounds in hundredths */
enum key_type { KEY_STR, KEY_U32, KEY_BOOL, KEY_NUM };

struct key_spec {
	const char *name;
	enum key_type type;
	size_t offset;
	uint32_t min, max;       /* KEY_U32 bounds; KEY_NUM: x100; KEY_STR: max is the size */
};

#define U32(k, f, lo, hi) { k, KEY_U32, offsetof(struct agent_config, f), lo, hi }
#define STR(k, f) { k, KEY_STR, offsetof(struct agent_config, f), 0, AGENT_STRING_BYTES }
#define BOOL(k, f) { k, KEY_BOOL, offsetof(struct agent_config, f), 0, 0 }
#define NUM(k, f, lo, hi) { k, KEY_NUM, offsetof(struct agent_config, f), lo, hi }

static const struct key_spec top_keys[] = {
	STR("listen_address", listen_address),
	U32("listen_port", listen_port, 0, 65535),
	U32("max_series", max_series, 1, SERIES_MAX_MAX),
	U32("max_processes", max_processes, PROC_CACHE_WAYS, PROC_CACHE_MAX_MAX),
	U32("capture_bytes", capture_bytes, 16, HTTP_CAPTURE_BYTES_MAX),
	U32("max_conns", max_conns, 1, CONNS_MAX),
	U32("http_ringbuf_kb", http_ringbuf_kb, RINGBUF_KB_MIN, RINGBUF_KB_MAX),
	U32("exec_ringbuf_kb", exec_ringbuf_kb, RINGBUF_KB_MIN, RINGBUF_KB_MAX),
	BOOL("tls", tls),
	BOOL("tls_exported_hooks", tls_exported_hooks),
	BOOL("exec", exec),
	BOOL("bpf_stats", bpf_stats),
	STR("service_name", service_name),
};

static const struct key_spec otlp_keys[] = {
	STR("endpoint", otlp.endpoint),
	U32("batch_spans", otlp.batch_spans, 1, OTLP_BATCH_MAX),
	U32("queue_spans", otlp.queue_spans, 1, OTLP_QUEUE_MAX),
	U32("flush_interval_ms", otlp.flush_interval_ms, 10, MS_MAX),
	U32("timeout_ms", otlp.timeout_ms, 10, MS_MAX),
	U32("retry_max", otlp.retry_max, 0, RETRY_MAX),
	U32("backoff_ms", otlp.backoff_ms, 1, MS_MAX),
	U32("metrics_interval_s", otlp.metrics_interval_s, 0, METRICS_INTERVAL_S_MAX),
};

static const struct key_spec budget_keys[] = {
	NUM("cpu_pct", budget.cpu_pct, CPU_PCT_HUNDREDTHS_MIN, CPU_PCT_HUNDREDTHS_MAX),
	U32("memory_mb", budget.memory_mb, 0, MEMORY_MB_MAX),
	U32("up_after_s", budget.up_after_s, 1, BUDGET_STEP_S_MAX),
	U32("down_after_s", budget.down_after_s, 1, BUDGET_STEP_S_MAX),
	BOOL("enforced", budget.enforced),
};

/* Objects inside the top level, each with its own keys. */
static const struct {
	const char *name;
	const struct key_spec *keys;
	size_t n;
} sections[] = {
	{ "otlp", otlp_keys, sizeof(otlp_keys) / sizeof(otlp_keys[0]) },
	{ "budget", budget_keys, sizeof(budget_keys) / sizeof(budget_keys[0]) },
};

void agent_config_defaults(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen_address, sizeof(c->listen_address), "%s", AGENT_LISTEN_ADDRESS_DEFAULT);
	c->listen_port = AGENT_LISTEN_PORT_DEFAULT;
	c->max_series = SERIES_MAX_DEFAULT;
	c->max_processes = PROC_CACHE_MAX_DEFAULT;
	/* 0 below: the tracers' own defaults (HTTP_CAPTURE_BYTES_DEFAULT, ...) */
	c->tls = true;
	c->exec = true;
	c->bpf_stats = true;
	snprintf(c->service_name, sizeof(c->service_name), "%s", AGENT_SERVICE_NAME_DEFAULT);
	c->otlp.batch_spans = AGENT_OTLP_BATCH_SPANS_DEFAULT;
	c->otlp.queue_spans = AGENT_OTLP_QUEUE_SPANS_DEFAULT;
	c->otlp.flush_interval_ms = AGENT_OTLP_FLUSH_INTERVAL_MS_DEFAULT;
	c->otlp.timeout_ms = AGENT_OTLP_TIMEOUT_MS_DEFAULT;
	c->otlp.retry_max = AGENT_OTLP_RETRY_MAX_DEFAULT;
	c->otlp.backoff_ms = AGENT_OTLP_BACKOFF_MS_DEFAULT;
	c->otlp.metrics_interval_s = AGENT_OTLP_METRICS_INTERVAL_S_DEFAULT;
	c->budget.cpu_pct = BUDGET_CPU_PCT_DEFAULT;
	c->budget.memory_mb = BUDGET_MEMORY_MB_DEFAULT;
	c->budget.up_after_s = BUDGET_UP_AFTER_S_DEFAULT;
	c->budget.down_after_s = BUDGET_DOWN_AFTER_S_DEFAULT;
	c->budget.enforced = true;
}

/* A reason is one line whatever the file holds: a key named "a\nb" (a
 * JSON escape) once split it (found by fuzz_agent_config). */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static int fail(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	if (size)
		one_line(err);
	return -EINVAL;
}

static int apply_key(struct agent_config *c, const struct key_spec *k, const char *prefix,
		     json_t *v, char *err, size_t size)
{
	char *field = (char *)c + k->offset;

	switch (k->type) {
	case KEY_STR: {
		const char *s = json_string_value(v);

		if (!json_is_string(v))
			return fail(err, size, "%s%s: expected a string", prefix, k->name);
		if (strlen(s) != json_string_length(v) || strlen(s) >= k->max)
			return fail(err, size, "%s%s: expected a string of at most %u bytes without NUL",
				    prefix, k->name, k->max - 1);
		memcpy(field, s, strlen(s) + 1);
		return 0;
	}
	case KEY_U32: {
		json_int_t n = json_integer_value(v);

		if (!json_is_integer(v) || n < (json_int_t)k->min || n > (json_int_t)k->max)
			return fail(err, size, "%s%s: expected an integer from %u to %u", prefix,
				    k->name, k->min, k->max);
		*(uint32_t *)(void *)field = (uint32_t)n;
		return 0;
	}
	case KEY_NUM: {
		double x = json_number_value(v);

		if (!json_is_number(v) || x < k->min / HUNDREDTHS || x > k->max / HUNDREDTHS)
			return fail(err, size, "%s%s: expected a number from %g to %g", prefix,
				    k->name, k->min / HUNDREDTHS, k->max / HUNDREDTHS);
		*(double *)(void *)field = x;
		return 0;
	}
	case KEY_BOOL:
		if (!json_is_boolean(v))
			return fail(err, size, "%s%s: expected true or false", prefix, k->name);
		*(bool *)field = json_is_true(v);
		return 0;
	}
	return -EINVAL;
}

static int apply_object(struct agent_config *c, json_t *obj, const struct key_spec *keys,
			size_t n_keys, const char *prefix, char *err, size_t size)
{
	const char *name;
	json_t *v;
	int ret;

	json_object_foreach(obj, name, v) {
		const struct key_spec *k = NULL;

		for (size_t i = 0; i < n_keys && !k; i++)
			if (!strcmp(name, keys[i].name))
				k = &keys[i];
		for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]) && !k && !*prefix; i++) {
			char sub[32];

			if (strcmp(name, sections[i].name))
				continue;
			if (!json_is_object(v))
				return fail(err, size, "%s: expected an object", name);
			snprintf(sub, sizeof(sub), "%s.", name);
			ret = apply_object(c, v, sections[i].keys, sections[i].n, sub, err, size);
			if (ret)
				return ret;
			goto next;
		}
		if (!k)
			return fail(err, size, "%s%.64s: unknown key (see docs/agent.md)", prefix, name);
		if ((ret = apply_key(c, k, prefix, v, err, size)))
			return ret;
next:;
	}
	return 0;
}

int agent_config_parse(struct agent_config *c, const char *text, size_t len, char *err,
		       size_t err_size)
{
	json_error_t jerr;
	json_t *root;
	int ret;

	/* JSON_REJECT_DUPLICATES: a key given twice is a mistake, not a choice */
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return fail(err, err_size, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return fail(err, err_size, "the file must hold one JSON object");
	}
	ret = apply_object(c, root, top_keys, sizeof(top_keys) / sizeof(top_keys[0]), "", err,
			   err_size);
	json_decref(root);
	if (!ret && c->otlp.batch_spans > c->otlp.queue_spans)
		return fail(err, err_size, "otlp.batch_spans: larger than otlp.queue_spans (%u)",
			    c->otlp.queue_spans);
	if (!ret && c->otlp.endpoint[0] && strncmp(c->otlp.endpoint, "http://", 7) &&
	    strncmp(c->otlp.endpoint, "https://", 8))
		return fail(err, err_size, "otlp.endpoint: expected an http:// or https:// URL");
	return ret;
}

int agent_config_load(struct agent_config *c, const char *path, char *err, size_t err_size)
{
	size_t n;
	FILE *f = fopen(path, "r");
	char *text;
	int ret;

	if (!f) {
		ret = -errno;
		snprintf(err, err_size, "cannot read %s: %s", path, strerror(-ret));
		return ret;
	}
	text = malloc(AGENT_CONFIG_FILE_BYTES_MAX);
	if (!text) {
		fclose(f);
		return fail(err, err_size, "cannot read %s: out of memory", path);
	}
	n = fread(text, 1, AGENT_CONFIG_FILE_BYTES_MAX, f);
	ret = ferror(f) ? -EIO : 0;
	fclose(f);
	if (ret || n == AGENT_CONFIG_FILE_BYTES_MAX) {
		free(text);
		return fail(err, err_size, "cannot read %s: %s", path,
			    ret ? strerror(EIO) : "larger than 1 MiB");
	}
	ret = agent_config_parse(c, text, n, err, err_size);
	free(text);
	if (ret) {
		char reason[256];

		snprintf(reason, sizeof(reason), "%s", err);
		snprintf(err, err_size, "%s: %s", path, reason);
		one_line(err);
	}
	return ret;
}
