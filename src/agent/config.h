/* The agent's configuration: a JSON file (docs/agent.md documents every
 * key, its default and its unit), checked strictly so that a typo is a
 * one-line error naming the key instead of a setting silently ignored.
 * Every key is optional; the defaults run a useful agent. */
#ifndef SONDE_AGENT_CONFIG_H
#define SONDE_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_LISTEN_ADDRESS_DEFAULT "127.0.0.1"
#define AGENT_LISTEN_PORT_DEFAULT 9464
#define AGENT_SERVICE_NAME_DEFAULT "sonde-agent"
#define AGENT_OTLP_BATCH_SPANS_DEFAULT 512u
#define AGENT_OTLP_QUEUE_SPANS_DEFAULT 8192u
#define AGENT_OTLP_FLUSH_INTERVAL_MS_DEFAULT 1000u
#define AGENT_OTLP_TIMEOUT_MS_DEFAULT 2000u
#define AGENT_OTLP_RETRY_MAX_DEFAULT 3u
#define AGENT_OTLP_BACKOFF_MS_DEFAULT 200u
#define AGENT_OTLP_METRICS_INTERVAL_S_DEFAULT 0u
#define AGENT_CONFIG_FILE_BYTES_MAX (1u << 20)
#define AGENT_STRING_BYTES 256u

struct agent_config {
	char listen_address[AGENT_STRING_BYTES]; /* IPv4 or IPv6 literal */
	uint32_t listen_port;                    /* 0: no HTTP endpoint */
	uint32_t max_series;                     /* RED series kept */
	uint32_t max_processes;                  /* pid cache entries */
	uint32_t capture_bytes;                  /* http tracer, per read/write */
	uint32_t max_conns;                      /* connections tracked */
	uint32_t http_ringbuf_kb;
	uint32_t exec_ringbuf_kb;
	bool tls;                                /* SSL_read/SSL_write uprobes */
	bool tls_exported_hooks;                 /* on the exported functions, not
						  * OpenSSL's workers (--tls-hooks) */
	bool exec;                               /* run the exec tracer */
	bool bpf_stats;                          /* BPF_ENABLE_STATS for run time */
	char service_name[AGENT_STRING_BYTES];   /* OTLP service.name */
	struct {
		char endpoint[AGENT_STRING_BYTES]; /* base URL; "": no push */
		uint32_t batch_spans;
		uint32_t queue_spans;
		uint32_t flush_interval_ms;
		uint32_t timeout_ms;
		uint32_t retry_max;
		uint32_t backoff_ms;
		uint32_t metrics_interval_s;       /* 0: metrics not pushed */
	} otlp;
	struct {
		double cpu_pct;                    /* % of one core: process + BPF */
		uint32_t memory_mb;                /* resident; 0: none */
		uint32_t up_after_s;               /* seconds over per step up */
		uint32_t down_after_s;             /* seconds under 70 % per step down */
		bool enforced;                     /* false: measured, never acted on */
	} budget;
};

void agent_config_defaults(struct agent_config *c);
/* Apply the JSON text[0..len) over c (defaults first). 0, or -EINVAL with
 * a one-line reason naming the key in err ("otlp.batch_spans: expected an
 * integer from 1 to 65536", "budget.cpu_pct: expected a number from 0.01
 * to 10000"). */
int agent_config_parse(struct agent_config *c, const char *text, size_t len, char *err,
		       size_t err_size);
/* The same from a file: also -ENOENT/-EACCES/... with the reason in err. */
int agent_config_load(struct agent_config *c, const char *path, char *err, size_t err_size);

#endif
