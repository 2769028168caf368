/* `sonde http`: every HTTP/1.x request that processes on this host serve or
 * make, with its response, latency and bytes, as text or JSON lines, and a
 * final accounting record. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/replay.h"
#include "export/http_format.h"
#include "http.h"
#include "loader/bpf_env.h"
#include "loader/http_tracer.h"
#include "loader/privilege.h"
#include "pipeline/http_pipeline.h"

#define CMD "http"
#define MAX_CONNS_MAX (1 << 22)
/* How often connections of exited processes are swept from the maps. */
#define SWEEP_INTERVAL_NS (2ull * 1000000000ull)
#define TLS_SCAN_INTERVAL_NS (1ull * 1000000000ull)

struct http_cli {
	struct cli_output *o;
	struct http_pipeline *pipeline;
	struct http_tracer *tracer;
	uint64_t output_errors;
	uint64_t last_sweep_ns;
	struct cli_record rec;   /* --record FILE */
	uint64_t last_tls_scan_ns;
	bool tls_rescan;         /* off under --user with perf uprobes (CAP_SYS_ADMIN) */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sonde http [options]\n\n"
		"Trace every HTTP/1.x request the processes on this host serve or make:\n"
		"method, path, status, latency and bytes, with the connection's addresses.\n\n"
		"Options:\n"
		"  --pid PID            only this process (HTTPS: the SSL uprobes are set in it\n"
		"                       alone, so other OpenSSL users take no trap)\n"
		"  --comm NAME          only processes with this command name\n"
		"  --port PORT          only connections with this local or remote port\n"
		"  --side SIDE          server, client or both (default both)\n"
		"  --json               one JSON object per line\n"
		"  --duration SECONDS   stop after this long (default: until Ctrl-C)\n"
		"  --capture-bytes N    bytes copied per read/write (default %d, at most %d);\n"
		"                       framing needs only the heads, bodies are counted\n"
		"  --max-conns N        connections tracked at once (default %d); when full,\n"
		"                       the least recently active one is evicted, its\n"
		"                       unfinished requests reported incomplete (stats:\n"
		"                       conns_evicted); at most ~1.1 KiB of memory each\n"
		"  --ringbuf-kb KB      ring buffer size (default %d), of each ring\n"
		"  --ring-shards N      spread the records over N ring buffers (default 1,\n"
		"                       at most %d); a connection's records go to the ring\n"
		"                       of the CPU it was first seen on, so they stay in order\n"
		"  --unsafe-show-query  show query-string values (default: REDACTED)\n"
		CLI_RECORD_HELP
		"  --tls on|off         HTTPS: the plaintext of SSL_read/SSL_write in every\n"
		"                       OpenSSL (libssl, or linked in like node), through\n"
		"                       uprobes; records say \"tls\":true (default on)\n"
		"  --tls-hooks H        where the uprobes go: workers (default) hooks\n"
		"                       OpenSSL's internal read and write functions where\n"
		"                       they are recognised (a hit there is emulated, not\n"
		"                       single-stepped: ~4 us less per SSL call on our lab\n"
		"                       VM); exported hooks SSL_read/SSL_write and their _ex\n"
		"                       forms (stats: tls.files_workers)\n"
		"  --user NAME          once the programs are attached and the files open, run\n"
		"                       as this user with no capability (CAP_BPF only where\n"
		"                       the kernel needs it to read the counters) and\n"
		"                       no_new_privs; OpenSSL in processes started later is\n"
		"                       then looked for only in NAME's processes (kernels\n"
		"                       without uprobe-multi links, before 6.6: not at all;\n"
		"                       stats: tls.rescan false)\n"
		"  -v, --verbose        show libbpf's messages\n"
		"  -h, --help           this help\n\n"
		"Privileges: CAP_BPF and CAP_PERFMON; HTTPS also CAP_SYS_PTRACE (other\n"
		"users' /proc/PID/maps), and CAP_SYS_ADMIN on kernels without uprobe-multi\n"
		"links (before 6.6: perf uprobes). See docs/privileges.md.\n\n"
		"Privacy: query values are replaced by REDACTED before they are stored, and\n"
		"no header value (Authorization, Cookie, Set-Cookie, ...) is ever kept.\n"
		"On exit a stats record gives produced, delivered and every drop by reason;\n"
		"SIGUSR1 prints the counters so far (the same record, \"interim\":true).\n\n"
		"EXAMPLES\n"
		"  sonde http                              all requests, as text\n"
		"  sonde http --side server --port 8080    what the server on 8080 answers\n"
		"  sonde http --json --duration 30 > reqs.jsonl\n"
		"  sonde http --comm curl --json | jq '.status'\n"
		"  sonde http --record web.cap --duration 30; sonde replay web.cap --json\n"
		"  sonde http --user nobody --json        drop root once attached\n",
		HTTP_CAPTURE_BYTES_DEFAULT, HTTP_CAPTURE_BYTES_MAX, HTTP_MAX_CONNS_DEFAULT,
		HTTP_RINGBUF_KB_DEFAULT, HTTP_RING_SHARDS_MAX);
}

/* Said once per process (and exec), on stderr: what sonde cannot see is
 * never left silent. */
static void on_io_uring(uint32_t pid, const char *comm, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "sonde http: pid %u (%s) uses io_uring: the socket I/O it submits there "
			"passes no syscall sonde reads, so its HTTP that way is not seen "
			"(stats: unseen.io_uring_calls)\n", pid, comm);
}

static void on_record(const struct http_record *r, void *ctx)
{
	struct http_cli *c = ctx;

	if (cli_output_http_record(c->o, r))
		c->output_errors++;
}

/* SONDE_DEBUG_RAW=1: one line per raw kernel record on stderr. */
static void debug_raw(const void *data, size_t size)
{
	const struct http_event_hdr *h = data;
	const struct http_data_event *d = data;

	if (size < sizeof(*h))
		return;
	fprintf(stderr, "raw kind=%u pid=%u conn=%llu ts=%llu size=%zu", h->kind, h->pid,
		(unsigned long long)h->conn_id, (unsigned long long)h->ts_ns, size);
	if (h->kind == HTTP_EV_DATA && size >= HTTP_DATA_HEAD_BYTES)
		fprintf(stderr, " dir=%u len=%u cap=%u tail=%u flags=%u data='%.*s'", d->dir, d->len,
			d->cap, d->tail_len, d->flags, d->cap < 40 ? d->cap : 40, (const char *)d->data);
	fputc('\n', stderr);
}

static int on_raw(const void *data, size_t size, void *ctx)
{
	struct http_cli *c = ctx;
	static int debug = -1;

	if (debug < 0)
		debug = getenv("SONDE_DEBUG_RAW") != NULL;
	if (debug)
		debug_raw(data, size);
	if (c->rec.w)
		cli_record_check(&c->rec, capture_writer_raw(c->rec.w, data, size));

	return http_pipeline_event(c->pipeline, data, size);
}

static void on_conn_gone(uint64_t conn_id, void *ctx)
{
	struct http_cli *c = ctx;

	if (c->rec.w)
		cli_record_check(&c->rec, capture_writer_conn_gone(c->rec.w, conn_id, cli_now_ns()));
	http_pipeline_conn_gone(c->pipeline, conn_id);
}

/* --record FILE: the header says how to read the raw records and what the
 * text output took as time 0. */
static int record_open(struct http_cli *c, const char *path, const struct http_tracer_opts *t,
		       const struct http_pipeline_opts *p)
{
	struct capture_info info;

	capture_info_init(&info, CAPTURE_KIND_HTTP, c->o->t0_ns);
	info.capture_bytes = t->capture_bytes ? t->capture_bytes : HTTP_CAPTURE_BYTES_DEFAULT;
	info.max_conns = p->max_conns;
	if (p->evict_oldest)
		info.flags |= CAPTURE_F_HTTP_EVICT_OLDEST;
	return cli_record_open(&c->rec, CMD, path, &info);
}

static int poll_tracer(void *ctx, int timeout_ms)
{
	struct http_cli *c = ctx;
	uint64_t now = cli_now_ns();
	int n = http_tracer_poll(c->tracer, timeout_ms);

	/* after the records already queued, so a close record wins the race */
	if (n >= 0 && now - c->last_sweep_ns >= SWEEP_INTERVAL_NS) {
		c->last_sweep_ns = now;
		http_tracer_sweep(c->tracer, on_conn_gone, c);
	}
	/* OpenSSL in processes started since (a libssl already hooked covers
	 * every process that maps it, from its first call) */
	if (n >= 0 && c->tls_rescan && now - c->last_tls_scan_ns >= TLS_SCAN_INTERVAL_NS) {
		c->last_tls_scan_ns = now;
		http_tracer_tls_rescan(c->tracer);
	}
	return n;
}

/* The closing stats record, or (interim, on SIGUSR1) the counters so far,
 * marked "interim":true. */
static void print_stats(struct http_cli *c, bool interim)
{
	struct tracer_stats s = { .http = true };
	struct http_pipeline_stats ps;
	struct http_tls_stats tls;
	struct cli_output *o = c->o;
	int n;

	if (http_tracer_kernel_stats(c->tracer, s.kernel))
		cli_error(CMD, "reading the kernel counters failed");
	s.delivered = http_tracer_delivered(c->tracer);
	s.user_dropped[USER_DROP_DECODE_ERROR] = http_tracer_decode_errors(c->tracer);
	http_pipeline_stats(c->pipeline, &ps);
	if (o->json) {
		struct json_writer *w = cli_output_json(o);

		json_obj_begin(w);
		tracer_stats_json_fields(&s, w);
		http_pipeline_stats_json(&ps, w);
		http_tracer_tls_stats(c->tracer, &tls);
		json_key(w, "tls");
		json_obj_begin(w);
		json_key(w, "files_hooked");
		json_u64(w, tls.files_hooked);
		json_key(w, "files_unhooked");
		json_u64(w, tls.files_unhooked);
		json_key(w, "files_failed");
		json_u64(w, tls.files_failed);
		json_key(w, "files_workers");
		json_u64(w, tls.files_workers);
		json_key(w, "uprobes");
		json_u64(w, tls.links);
		json_key(w, "rescan");
		json_bool(w, c->tls_rescan);
		json_key(w, "attach");
		json_cstr(w, http_tls_attach_name(tls.attach));
		json_obj_end(w);
		json_key(w, "ring_records");
		json_arr_begin(w);
		for (uint32_t i = 0; i < http_tracer_rings(c->tracer); i++)
			json_u64(w, http_tracer_ring_records(c->tracer, i));
		json_arr_end(w);
		json_key(w, "output_errors");
		json_u64(w, c->output_errors);
		if (interim) {
			json_key(w, "interim");
			json_bool(w, true);
		}
		json_obj_end(w);
		cli_output_json_line(o);
		return;
	}
	n = tracer_stats_to_text(&s, o->line, sizeof(o->line));
	if (n > 0 && (size_t)n < sizeof(o->line))
		snprintf(o->line + n, sizeof(o->line) - (size_t)n,
			 "; requests %llu, incomplete %llu, parse errors %llu, connections %llu",
			 (unsigned long long)ps.records, (unsigned long long)ps.http.incomplete,
			 (unsigned long long)ps.http.parse_errors,
			 (unsigned long long)ps.conns_opened);
	cli_output_line(o, o->line, strlen(o->line));
}

static void print_interim_stats(void *ctx)
{
	print_stats(ctx, true);
}

/* A bpf() call on an fd already held: the one --user must keep working. */
static int read_counters(void *ctx)
{
	struct http_cli *c = ctx;
	uint64_t k[STAT_COUNT];

	return http_tracer_kernel_stats(c->tracer, k);
}

/* HTTPS that cannot be traced is said once, not left to the stats. Perf
 * uprobes (kernels without uprobe-multi links, before 6.6) need
 * CAP_SYS_ADMIN on kernels since mid-2025 ("perf/core: Require
 * CAP_SYS_ADMIN for uprobes", also in stable; CAP_PERFMON before);
 * uprobe-multi links need nothing more than the load did. Other users'
 * /proc/PID/maps need CAP_SYS_PTRACE either way. */
static void warn_tls_privileges(struct http_cli *c)
{
	struct http_tls_stats tls;

	http_tracer_tls_stats(c->tracer, &tls);
	if (tls.files_failed && tls.attach == HTTP_TLS_ATTACH_UPROBE &&
	    !priv_has_cap(CAP_SYS_ADMIN))
		cli_error(CMD, "warning: OpenSSL could not be hooked in %llu file(s): uprobes need CAP_SYS_ADMIN on this kernel (no uprobe-multi links before 6.6); HTTPS there is not traced (stats: tls.files_failed)",
			  (unsigned long long)tls.files_failed);
	else if (tls.files_failed)
		cli_error(CMD, "warning: OpenSSL could not be hooked in %llu file(s); HTTPS there is not traced (stats: tls.files_failed)",
			  (unsigned long long)tls.files_failed);
	if (!priv_has_cap(CAP_SYS_PTRACE))
		cli_error(CMD, "warning: without CAP_SYS_PTRACE, OpenSSL is looked for only in the system libssl and this user's processes");
}

int cmd_http(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'P' },
		{ "side", required_argument, NULL, 's' },
		{ "capture-bytes", required_argument, NULL, 'b' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "unsafe-show-query", no_argument, NULL, 'Q' },
		{ "record", required_argument, NULL, 'R' },
		{ "tls", required_argument, NULL, 'T' },
		{ "tls-hooks", required_argument, NULL, 'H' },
		{ "user", required_argument, NULL, 'U' },
		{ "ring-shards", required_argument, NULL, 'S' },
		CLI_TRACER_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	static const char *const on_off[] = { "on", "off", NULL };
	static const char *const tls_hooks[] = { "workers", "exported", NULL };
	struct http_tracer_opts topts = { .tls = true };
	struct http_pipeline_opts popts = { 0 };
	struct cli_tracer_opts common = { 0 };
	struct http_cli c = { 0 };
	const char *record_path = NULL, *user_name = NULL;
	struct priv_user user;
	char err[256];
	long v;
	int opt, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'P':
			if (cli_parse_range(CMD, "port", optarg, 1, 65535, &v))
				return EXIT_USAGE;
			topts.filter_port = (uint16_t)v;
			break;
		case 's':
			if (http_side_parse(optarg, &popts.side)) {
				cli_error(CMD, "--side takes server, client or both, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'b':
			if (cli_parse_range(CMD, "capture-bytes", optarg, 16, HTTP_CAPTURE_BYTES_MAX,
					    &v))
				return EXIT_USAGE;
			topts.capture_bytes = (uint32_t)v;
			break;
		case 'm':
			if (cli_parse_range(CMD, "max-conns", optarg, 1, MAX_CONNS_MAX, &v))
				return EXIT_USAGE;
			popts.max_conns = (uint32_t)v;
			break;
		case 'Q':
			popts.show_query = true;
			break;
		case 'R':
			record_path = optarg;
			break;
		case 'T':
			if ((v = cli_parse_choice(CMD, "tls", optarg, on_off)) < 0)
				return EXIT_USAGE;
			topts.tls = v == 0;
			break;
		case 'H':
			if ((v = cli_parse_choice(CMD, "tls-hooks", optarg, tls_hooks)) < 0)
				return EXIT_USAGE;
			topts.tls_exported_only = v == 1;
			break;
		case 'U':
			user_name = optarg;
			break;
		case 'S':
			if (cli_parse_range(CMD, "ring-shards", optarg, 1, HTTP_RING_SHARDS_MAX,
					    &v))
				return EXIT_USAGE;
			topts.ring_shards = (uint32_t)v;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			if (cli_tracer_option(CMD, opt, optarg, argv, &common) <= 0)
				return EXIT_USAGE;
		}
	}
	if (cli_no_more_args(CMD, argc, argv))
		return EXIT_USAGE;
	if (user_name && cli_user_lookup(CMD, user_name, &user))
		return EXIT_USAGE;
	/* every hook is a raw tracepoint or a uprobe: no tracefs */
	if (cli_check_privileges(CMD, false))
		return EXIT_USAGE;
	topts.filter_pid = common.pid;
	topts.ringbuf_kb = common.ringbuf_kb;
	popts.comm = common.comm;
	popts.evict_oldest = true;
	popts.measure_delivery = true; /* live: kernel timestamps are now's clock */
	popts.io_uring_fn = on_io_uring;

	c.o = cli_output_new(common.json);
	if (c.o)
		c.o->on_stats = print_interim_stats;
	if (!c.o || http_pipeline_new(&c.pipeline, &popts, on_record, &c)) {
		cli_error(CMD, "out of memory");
		cli_output_free(c.o);
		return EXIT_USAGE;
	}
	if (record_path && record_open(&c, record_path, &topts, &popts)) {
		http_pipeline_free(c.pipeline);
		cli_output_free(c.o);
		return EXIT_USAGE;
	}
	/* libbpf's messages; tracefs, which it also mounts, is not needed */
	bpf_env_prepare(common.verbose);
	if (http_tracer_open(&c.tracer, &topts, on_raw, &c, err, sizeof(err))) {
		cli_error(CMD, "%s", err);
		cli_record_close(&c.rec);
		http_pipeline_free(c.pipeline);
		cli_output_free(c.o);
		return EXIT_USAGE;
	}
	if (topts.tls) {
		struct http_tls_stats tls;

		warn_tls_privileges(&c);
		/* after --user, a new file can be hooked only by a uprobe-multi
		 * link: a perf uprobe would need CAP_SYS_ADMIN kept */
		http_tracer_tls_stats(c.tracer, &tls);
		c.tls_rescan = !user_name || tls.attach == HTTP_TLS_ATTACH_UPROBE_MULTI;
	}
	if (user_name && cli_drop_privileges(CMD, &user, read_counters, &c)) {
		http_tracer_close(c.tracer);
		cli_record_close(&c.rec);
		http_pipeline_free(c.pipeline);
		cli_output_free(c.o);
		return EXIT_USAGE;
	}
	fprintf(stderr, "sonde http: tracing%s%s; %s\n", user_name ? " as " : "",
		user_name ? user_name : "",
		common.duration > 0 ? "stops after --duration" : "Ctrl-C to stop");
	if (!common.json)
		printf("%s\n", http_text_header());
	ret = cli_output_run(c.o, CMD, common.duration, poll_tracer, &c) ? EXIT_USAGE : EXIT_OK;
	http_tracer_stop(c.tracer);
	/* connections still open: what they carried so far, marked incomplete */
	http_pipeline_finish(c.pipeline);
	print_stats(&c, false);
	if (cli_record_close(&c.rec) && ret == EXIT_OK)
		ret = EXIT_USAGE;
	http_tracer_close(c.tracer);
	http_pipeline_free(c.pipeline);
	cli_output_free(c.o);
	return ret;
}
