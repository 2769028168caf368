/* `sonde replay FILE`: read a capture of `sonde http --record` or `sonde exec
 * --record` and run the same reconstruction on its raw events, printing the
 * records the live run printed (text or JSON lines) and a stats record of
 * its own marked "replay":true. Also the --record side shared by both
 * tracers (replay.h). */
#include "cli/replay.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "export/exec_format.h"
#include "export/http_format.h"
#include "pipeline/http_pipeline.h"

#define CMD "replay"
#define MAX_CONNS_MAX (1 << 22)
#define NS_PER_SEC 1000000000ull

/* ---- --record (sonde http, sonde exec) ---- */

int cli_record_open(struct cli_record *r, const char *cmd, const char *path,
		    const struct capture_info *info)
{
	int ret;

	r->cmd = cmd;
	r->path = path;
	r->reported = false;
	ret = capture_writer_open(&r->w, path, info);
	if (ret) {
		cli_error(cmd, "--record %s: cannot create the file: %s", path, strerror(-ret));
		return -1;
	}
	return 0;
}

void cli_record_check(struct cli_record *r, int ret)
{
	/* -EINVAL: a record no kernel sends (outside the event sizes): counted,
	 * and the pipeline counts it as a decode error too */
	if (!ret || ret == -EINVAL || ret == -ESHUTDOWN || r->reported)
		return;
	r->reported = true;
	cli_error(r->cmd, "--record %s: writing failed: %s; recording stops, the events "
		  "after it are counted as not recorded", r->path, strerror(-ret));
}

int cli_record_close(struct cli_record *r)
{
	uint64_t dropped;
	int ret;

	if (!r->w)
		return 0;
	dropped = capture_writer_dropped(r->w);
	ret = capture_writer_close(r->w);
	r->w = NULL;
	if (ret || dropped)
		cli_error(r->cmd, "--record %s: %" PRIu64 " events not recorded%s%s", r->path,
			  dropped, ret ? ", file incomplete: " : "", ret ? strerror(-ret) : "");
	/* malformed records alone (refused, counted) leave a complete file */
	return ret ? -1 : 0;
}

/* ---- sonde replay ---- */

struct replay {
	struct cli_output *o;
	struct capture_reader *reader;
	const char *comm;            /* exec: only this command name */
	uint64_t delivered;
	uint64_t filtered;
	uint64_t output_errors;
	struct capture_replay_stats rs;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sonde replay FILE [options]\n\n"
		"Read a capture written by 'sonde http --record FILE' or 'sonde exec --record\n"
		"FILE' and run the same reconstruction on its raw events: print the records\n"
		"the live run printed, then a stats record of the replay (\"replay\":true; the\n"
		"kernel's counters of the live run are not in the capture).\n\n"
		"Options:\n"
		"  --json               one JSON object per line\n"
		"  --side SIDE          http: server, client or both (default both)\n"
		"  --comm NAME          only processes with this command name\n"
		"  --max-conns N        http: connections tracked at once (default: what the\n"
		"                       recording used)\n"
		"  --unsafe-show-query  http: show query-string values (default: REDACTED)\n"
		"  --info               print the capture's header and record count, nothing else\n"
		"  -h, --help           this help\n\n"
		"The display filters of the recording (--side, --comm of sonde http) are not\n"
		"stored: give them again. A capture holds payload bytes as they were sent\n"
		"(query values, cookies, tokens): keep it private.\n\n"
		"Exit: 0 the whole capture was replayed; 1 it is truncated or corrupt (one\n"
		"line on stderr names the offset of the first bad record; the records before\n"
		"it were printed); 2 usage error, or not a capture this sonde can read.\n\n"
		"EXAMPLES\n"
		"  sonde http --record web.cap --duration 30 && sonde replay web.cap\n"
		"  sonde replay web.cap --json --side server | jq .status\n"
		"  sonde exec --record procs.cap; sonde replay procs.cap --comm curl\n"
		"  sonde replay web.cap --info\n");
}

static void on_http_record(const struct http_record *r, void *ctx)
{
	struct replay *rp = ctx;

	if (cli_output_http_record(rp->o, r))
		rp->output_errors++;
}

static void print_error_fields(struct replay *rp, struct json_writer *w)
{
	json_key(w, "complete");
	json_bool(w, rp->reader->err == 0);
	if (rp->reader->err) {
		json_key(w, "error_offset");
		json_u64(w, rp->reader->err_offset);
	}
}

static void text_error_suffix(struct replay *rp, char *buf, size_t size)
{
	size_t n = strlen(buf);

	if (rp->reader->err && n < size)
		snprintf(buf + n, size - n, "; capture bad at offset %" PRIu64,
			 rp->reader->err_offset);
}

/* Open the replay's stats record: its type, that it is a replay, and the
 * events replayed (both kinds). */
static void stats_begin(const struct replay *rp, struct json_writer *w)
{
	json_obj_begin(w);
	json_key(w, "type");
	json_cstr(w, "stats");
	json_key(w, "replay");
	json_bool(w, true);
	json_key(w, "events");
	json_u64(w, rp->rs.events);
}

static void print_http_stats(struct replay *rp, struct http_pipeline *p)
{
	struct http_pipeline_stats ps;
	struct cli_output *o = rp->o;

	http_pipeline_stats(p, &ps);
	if (o->json) {
		struct json_writer *w = cli_output_json(o);

		stats_begin(rp, w);
		json_key(w, "conns_gone_records");
		json_u64(w, rp->rs.conns_gone);
		json_key(w, "decode_errors");
		json_u64(w, rp->rs.decode_errors);
		print_error_fields(rp, w);
		http_pipeline_stats_json(&ps, w);
		json_key(w, "output_errors");
		json_u64(w, rp->output_errors);
		json_obj_end(w);
		cli_output_json_line(o);
		return;
	}
	snprintf(o->line, sizeof(o->line),
		 "stats (replay): events %" PRIu64 ", decode errors %" PRIu64
		 "; requests %" PRIu64 ", incomplete %" PRIu64 ", parse errors %" PRIu64
		 ", connections %" PRIu64,
		 rp->rs.events, rp->rs.decode_errors, ps.records, ps.http.incomplete,
		 ps.http.parse_errors, ps.conns_opened);
	text_error_suffix(rp, o->line, sizeof(o->line));
	cli_output_line(o, o->line, strlen(o->line));
}

static int replay_http(struct replay *rp, struct http_pipeline_opts *popts)
{
	struct http_pipeline *p;
	int ret;

	/* the table behaves as it did live: same bound, same policy when full */
	if (!popts->max_conns)
		popts->max_conns = rp->reader->info.max_conns;
	popts->evict_oldest = (rp->reader->info.flags & CAPTURE_F_HTTP_EVICT_OLDEST) != 0;
	if (http_pipeline_new(&p, popts, on_http_record, rp)) {
		cli_error(CMD, "out of memory");
		return -ENOMEM;
	}
	if (!rp->o->json)
		printf("%s\n", http_text_header());
	ret = capture_replay_http(rp->reader, p, &rp->rs);
	print_http_stats(rp, p);
	http_pipeline_free(p);
	return ret;
}

static int print_exec_record(struct replay *rp, const struct exec_record *r)
{
	return cli_output_exec_record(rp->o, r);
}

static void print_exec_stats(struct replay *rp)
{
	struct cli_output *o = rp->o;

	if (o->json) {
		struct json_writer *w = cli_output_json(o);

		stats_begin(rp, w);
		json_key(w, "delivered");
		json_u64(w, rp->delivered);
		json_key(w, "filtered");
		json_u64(w, rp->filtered);
		json_key(w, "decode_errors");
		json_u64(w, rp->rs.decode_errors);
		json_key(w, "output_errors");
		json_u64(w, rp->output_errors);
		print_error_fields(rp, w);
		json_obj_end(w);
		cli_output_json_line(o);
		return;
	}
	snprintf(o->line, sizeof(o->line),
		 "stats (replay): events %" PRIu64 ", delivered %" PRIu64 ", filtered %" PRIu64
		 ", decode errors %" PRIu64 ", output errors %" PRIu64,
		 rp->rs.events, rp->delivered, rp->filtered, rp->rs.decode_errors,
		 rp->output_errors);
	text_error_suffix(rp, o->line, sizeof(o->line));
	cli_output_line(o, o->line, strlen(o->line));
}

/* Exit records already carry the durations `sonde exec` printed
 * (CAPTURE_F_EXEC_DURATION_RESOLVED): decoding is the whole reconstruction. */
static int replay_exec(struct replay *rp)
{
	static struct exec_record rec; /* ~64 KiB of argument slots */
	struct capture_rec cr;
	int ret;

	if (!rp->o->json)
		printf("%s\n", exec_text_header());
	while ((ret = capture_reader_next(rp->reader, &cr)) > 0) {
		if (cr.type != CAPTURE_REC_RAW)
			continue;
		rp->rs.events++;
		if (exec_record_decode(cr.data, cr.size, &rec)) {
			rp->rs.decode_errors++;
			continue;
		}
		if (rp->comm && strcmp(rec.comm, rp->comm)) {
			rp->filtered++;
			continue;
		}
		if (print_exec_record(rp, &rec))
			rp->output_errors++;
		else
			rp->delivered++;
	}
	print_exec_stats(rp);
	return ret;
}

/* --info: the header, and how many records the file holds. */
static int print_info(struct replay *rp, const char *path)
{
	const struct capture_info *in = &rp->reader->info;
	struct cli_output *o = rp->o;
	struct capture_rec cr;
	uint64_t raw = 0, gone = 0;
	time_t secs = (time_t)(in->start_realtime_ns / NS_PER_SEC);
	char when[64] = "?";
	struct tm tm;
	int ret;

	while ((ret = capture_reader_next(rp->reader, &cr)) > 0) {
		raw += cr.type == CAPTURE_REC_RAW;
		gone += cr.type == CAPTURE_REC_CONN_GONE;
	}
	if (gmtime_r(&secs, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (o->json) {
		struct json_writer *w = cli_output_json(o);

		json_obj_begin(w);
		json_key(w, "type");
		json_cstr(w, "capture");
		json_key(w, "file");
		json_cstr(w, path);
		json_key(w, "kind");
		json_cstr(w, capture_kind_name(in->kind));
		json_key(w, "version");
		json_u64(w, in->version);
		json_key(w, "kernel");
		json_cstr(w, in->kernel);
		json_key(w, "capture_bytes");
		json_u64(w, in->capture_bytes);
		json_key(w, "max_conns");
		json_u64(w, in->max_conns);
		json_key(w, "flags");
		json_u64(w, in->flags);
		json_key(w, "start_realtime_ns");
		json_u64(w, in->start_realtime_ns);
		json_key(w, "start_monotonic_ns");
		json_u64(w, in->start_monotonic_ns);
		json_key(w, "events");
		json_u64(w, raw);
		json_key(w, "conns_gone_records");
		json_u64(w, gone);
		print_error_fields(rp, w);
		json_obj_end(w);
		cli_output_json_line(o);
		return ret;
	}
	printf("file:           %s\n"
	       "kind:           %s (format version %u, flags 0x%x)\n"
	       "kernel:         %s\n"
	       "started:        %s (monotonic %" PRIu64 " ns)\n"
	       "capture bytes:  %u\n"
	       "events:         %" PRIu64 " (and %" PRIu64 " connection-gone records)\n"
	       "complete:       %s\n",
	       path, capture_kind_name(in->kind), in->version, in->flags, in->kernel, when,
	       in->start_monotonic_ns, in->capture_bytes, raw, gone,
	       rp->reader->err ? "no" : "yes");
	return ret;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "side", required_argument, NULL, 's' },
		{ "comm", required_argument, NULL, 'c' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "unsafe-show-query", no_argument, NULL, 'Q' },
		{ "info", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct http_pipeline_opts popts = { 0 };
	struct capture_file file;
	struct replay rp = { 0 };
	bool json = false, info = false;
	const char *path;
	char err[256];
	long v;
	int opt, ret;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 's':
			if (http_side_parse(optarg, &popts.side)) {
				cli_error(CMD, "--side takes server, client or both, not '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			if (!*optarg || strlen(optarg) >= CLI_COMM_LEN) {
				cli_error(CMD, "--comm takes a name of 1 to %d characters",
					  CLI_COMM_LEN - 1);
				return EXIT_USAGE;
			}
			popts.comm = optarg;
			rp.comm = optarg;
			break;
		case 'm':
			if (cli_parse_range(CMD, "max-conns", optarg, 1, MAX_CONNS_MAX, &v))
				return EXIT_USAGE;
			popts.max_conns = (uint32_t)v;
			break;
		case 'Q':
			popts.show_query = true;
			break;
		case 'i':
			info = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			cli_error(CMD, "unknown option or missing value '%s'; see 'sonde %s --help'",
				  argv[optind - 1], CMD);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_error(CMD, "which capture file? usage: sonde replay FILE [--json]");
		return EXIT_USAGE;
	}
	path = argv[optind++];
	if (cli_no_more_args(CMD, argc, argv))
		return EXIT_USAGE;

	if (capture_file_load(&file, path, err, sizeof(err))) {
		cli_error(CMD, "%s", err);
		return EXIT_USAGE;
	}
	rp.reader = malloc(sizeof(*rp.reader));
	rp.o = cli_output_new(json);
	if (!rp.reader || !rp.o) {
		cli_error(CMD, "out of memory");
		ret = EXIT_USAGE;
		goto out;
	}
	if (capture_reader_init(rp.reader, file.data, file.len)) {
		cli_error(CMD, "%s: %s", path, rp.reader->err_msg);
		ret = EXIT_USAGE;
		goto out;
	}
	/* text time 0 is when the recording started, as it was live */
	rp.o->t0_ns = rp.reader->info.start_monotonic_ns;
	if (info)
		ret = print_info(&rp, path);
	else if (rp.reader->info.kind == CAPTURE_KIND_HTTP)
		ret = replay_http(&rp, &popts);
	else
		ret = replay_exec(&rp);
	if (ret == -ENOMEM) {
		ret = EXIT_USAGE;
	} else if (ret < 0) {
		cli_error(CMD, "%s: %s", path, rp.reader->err_msg);
		ret = EXIT_CHECK_FAILED;
	} else {
		ret = EXIT_OK;
	}
out:
	cli_output_free(rp.o);
	free(rp.reader);
	capture_file_release(&file);
	return ret;
}
