/* Capture files (pipeline/capture.h) without a kernel: writer to reader round
 * trips for both kinds, a file cut at every byte offset (the error names the
 * offset of the first incomplete record, the records before it come back),
 * corrupt frames, foreign files and versions, write errors, and the replay of
 * an http capture into the pipeline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/capture.h"
#include "pipeline/http_pipeline.h"

#define FRAMES_MAX 16

static char tmp_dir[] = "/tmp/sonde-test-capture-XXXXXX";

static int group_setup(void **st)
{
	(void)st;
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **st)
{
	char cmd[128];

	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tmp_dir, name);
}

/* Bytes of a whole file, in an exact-size heap block (ASan sees overreads). */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n ? (size_t)n : 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void http_open_ev(struct http_open_event *e, uint64_t id, uint8_t origin)
{
	memset(e, 0, sizeof(*e));
	e->hdr.kind = HTTP_EV_OPEN;
	e->hdr.pid = 42;
	e->hdr.conn_id = id;
	e->hdr.ts_ns = 1000 * id;
	e->origin = origin;
	e->family = AF_INET;
	e->lport = 8080;
	e->rport = 40000;
	inet_pton(AF_INET, "127.0.0.1", e->laddr);
	inet_pton(AF_INET, "127.0.0.1", e->raddr);
	memcpy(e->comm, "nginx", 5);
}

static size_t http_data_ev(struct http_data_event *e, uint64_t id, uint8_t dir, uint64_t ts,
			   const char *bytes)
{
	size_t cap = strlen(bytes);

	memset(e, 0, HTTP_DATA_HEAD_BYTES);
	e->hdr.kind = HTTP_EV_DATA;
	e->hdr.pid = 42;
	e->hdr.conn_id = id;
	e->hdr.ts_ns = ts;
	e->enter_ns = ts - 10;
	e->dir = dir;
	e->len = (uint32_t)cap;
	e->cap = (uint16_t)cap;
	memcpy(e->data, bytes, cap);
	return HTTP_DATA_HEAD_BYTES + cap;
}

static const char REQ[] = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* What a small http capture holds, to compare with what is read back. */
struct frames {
	int n;
	uint8_t type[FRAMES_MAX];
	size_t size[FRAMES_MAX];
	uint8_t data[FRAMES_MAX][sizeof(struct http_data_event)];
	uint64_t conn_id[FRAMES_MAX];
};

static void add_raw(struct capture_writer *w, struct frames *fr, const void *data, size_t size)
{
	assert_int_equal(capture_writer_raw(w, data, size), 0);
	fr->type[fr->n] = CAPTURE_REC_RAW;
	fr->size[fr->n] = size;
	memcpy(fr->data[fr->n], data, size);
	fr->n++;
}

/* open, request, response, a second connection that is swept, a close */
static void write_http_capture(const char *path, struct frames *fr, struct capture_info *info)
{
	static struct http_data_event d;
	struct http_close_event c = { 0 };
	struct http_open_event o;
	struct capture_writer *w;
	size_t n;

	memset(fr, 0, sizeof(*fr));
	capture_info_init(info, CAPTURE_KIND_HTTP, 0);
	info->capture_bytes = 512;
	info->max_conns = 77;
	assert_int_equal(capture_writer_open(&w, path, info), 0);
	http_open_ev(&o, 1, HTTP_ORIGIN_ACCEPT);
	add_raw(w, fr, &o, sizeof(o));
	n = http_data_ev(&d, 1, HTTP_DIR_INGRESS, 5000, REQ);
	add_raw(w, fr, &d, n);
	n = http_data_ev(&d, 1, HTTP_DIR_EGRESS, 9000, RESP);
	add_raw(w, fr, &d, n);
	http_open_ev(&o, 2, HTTP_ORIGIN_ACCEPT);
	add_raw(w, fr, &o, sizeof(o));
	n = http_data_ev(&d, 2, HTTP_DIR_INGRESS, 12000, REQ);
	add_raw(w, fr, &d, n);
	assert_int_equal(capture_writer_conn_gone(w, 2, 13000), 0);
	fr->type[fr->n] = CAPTURE_REC_CONN_GONE;
	fr->conn_id[fr->n] = 2;
	fr->size[fr->n] = 16;
	fr->n++;
	c.hdr.kind = HTTP_EV_CLOSE;
	c.hdr.conn_id = 1;
	c.hdr.ts_ns = 14000;
	add_raw(w, fr, &c, sizeof(c));
	assert_int_equal(capture_writer_records(w), (uint64_t)fr->n);
	assert_int_equal(capture_writer_close(w), 0);
}

static void test_http_round_trip(void **st)
{
	struct capture_info info;
	struct capture_reader *r = malloc(sizeof(*r));
	struct capture_rec rec;
	struct frames fr;
	struct stat sb;
	char path[256];
	uint8_t *buf;
	size_t len;

	(void)st;
	assert_non_null(r);
	tmp_path(path, sizeof(path), "rt.cap");
	write_http_capture(path, &fr, &info);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	buf = slurp(path, &len);
	assert_int_equal(capture_reader_init(r, buf, len), 0);
	assert_int_equal(r->info.kind, CAPTURE_KIND_HTTP);
	assert_int_equal(r->info.version, CAPTURE_VERSION);
	assert_int_equal(r->info.capture_bytes, 512);
	assert_int_equal(r->info.max_conns, 77);
	assert_int_equal(r->info.start_realtime_ns, info.start_realtime_ns);
	assert_int_equal(r->info.start_monotonic_ns, info.start_monotonic_ns);
	assert_string_equal(r->info.kernel, info.kernel);
	assert_true(strlen(r->info.kernel) > 0);
	for (int i = 0; i < fr.n; i++) {
		assert_int_equal(capture_reader_next(r, &rec), 1);
		assert_int_equal(rec.type, fr.type[i]);
		assert_int_equal(rec.size, fr.size[i]);
		assert_int_equal((uintptr_t)rec.data % 8, 0);
		if (rec.type == CAPTURE_REC_RAW)
			assert_memory_equal(rec.data, fr.data[i], fr.size[i]);
		else
			assert_int_equal(rec.conn_id, fr.conn_id[i]);
	}
	assert_int_equal(capture_reader_next(r, &rec), 0);
	assert_true(r->ended);
	assert_int_equal(capture_reader_next(r, &rec), 0);
	free(buf);
	free(r);
}

/* A buffer that is not 8-byte aligned: records come back aligned anyway. */
static void test_unaligned_buffer(void **st)
{
	struct capture_info info;
	struct capture_reader *r = malloc(sizeof(*r));
	struct capture_rec rec;
	struct frames fr;
	char path[256];
	uint8_t *buf, *odd;
	size_t len;
	int i = 0;

	(void)st;
	tmp_path(path, sizeof(path), "odd.cap");
	write_http_capture(path, &fr, &info);
	buf = slurp(path, &len);
	odd = malloc(len + 1);
	memcpy(odd + 1, buf, len);
	assert_int_equal(capture_reader_init(r, odd + 1, len), 0);
	while (capture_reader_next(r, &rec) == 1) {
		assert_int_equal((uintptr_t)rec.data % 8, 0);
		if (rec.type == CAPTURE_REC_RAW)
			assert_memory_equal(rec.data, fr.data[i], fr.size[i]);
		i++;
	}
	assert_int_equal(i, fr.n);
	assert_true(r->ended);
	free(odd);
	free(buf);
	free(r);
}

/* Cut at every byte offset: an error at the first frame that is not whole
 * (or at the cut when it falls between frames: no end record), and every
 * frame before it returned. */
static void test_truncated_at_every_offset(void **st)
{
	struct capture_reader *r = malloc(sizeof(*r));
	struct capture_info info;
	uint64_t starts[FRAMES_MAX + 2];
	struct capture_rec rec;
	struct frames fr;
	char path[256], needle[32];
	uint8_t *buf;
	size_t len;
	int nstarts = 0;

	(void)st;
	tmp_path(path, sizeof(path), "trunc.cap");
	write_http_capture(path, &fr, &info);
	buf = slurp(path, &len);
	/* frame offsets, END's included */
	assert_int_equal(capture_reader_init(r, buf, len), 0);
	starts[nstarts++] = r->off;
	while (capture_reader_next(r, &rec) == 1)
		starts[nstarts++] = r->off;
	assert_true(r->ended);
	assert_int_equal(nstarts, fr.n + 1);

	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *part = malloc(cut ? cut : 1);
		int ret, got = 0, want = 0;

		memcpy(part, buf, cut);
		ret = capture_reader_init(r, part, cut);
		if (cut < CAPTURE_HEADER_BYTES) {
			assert_int_equal(ret, cut == 0 ? -EINVAL : -EBADMSG);
			free(part);
			continue;
		}
		assert_int_equal(ret, 0);
		while ((ret = capture_reader_next(r, &rec)) == 1)
			got++;
		while (want + 1 < nstarts && starts[want + 1] <= cut)
			want++;
		if (ret != -ENODATA || got != want || r->err_offset != starts[want])
			fail_msg("cut at %zu: ret %d, %d records, offset %llu; want -ENODATA, %d, %llu (%s)",
				 cut, ret, got, (unsigned long long)r->err_offset, want,
				 (unsigned long long)starts[want], r->err_msg);
		snprintf(needle, sizeof(needle), "offset %llu", (unsigned long long)starts[want]);
		assert_non_null(strstr(r->err_msg, needle));
		assert_null(strchr(r->err_msg, '\n'));
		/* the error sticks */
		assert_int_equal(capture_reader_next(r, &rec), -ENODATA);
		free(part);
	}
	free(buf);
	free(r);
}

/* The documented frame check, to forge frames that pass it. */
static uint16_t frame_check(uint32_t len, uint8_t type)
{
	uint32_t h = (len ^ (uint32_t)type << 24) * 0x9E3779B1u;

	return (uint16_t)((h ^ h >> 16) ^ 0x5343u);
}

static void put32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void expect_corrupt(uint8_t *buf, size_t len, int want_records, uint64_t want_off)
{
	struct capture_reader *r = malloc(sizeof(*r));
	struct capture_rec rec;
	char needle[32];
	int ret, got = 0;

	assert_int_equal(capture_reader_init(r, buf, len), 0);
	while ((ret = capture_reader_next(r, &rec)) == 1)
		got++;
	if (ret != -EBADMSG || got != want_records || r->err_offset != want_off)
		fail_msg("ret %d, %d records, offset %llu; want -EBADMSG, %d, %llu (%s)", ret, got,
			 (unsigned long long)r->err_offset, want_records,
			 (unsigned long long)want_off, r->err_msg);
	snprintf(needle, sizeof(needle), "offset %llu", (unsigned long long)want_off);
	assert_non_null(strstr(r->err_msg, needle));
	free(r);
}

static void test_corrupt_frames(void **st)
{
	struct capture_reader *r = malloc(sizeof(*r));
	struct capture_info info;
	struct capture_rec rec;
	struct frames fr;
	uint64_t second, third, end;
	char path[256];
	uint8_t *buf, *b;
	size_t len;

	(void)st;
	tmp_path(path, sizeof(path), "corrupt.cap");
	write_http_capture(path, &fr, &info);
	buf = slurp(path, &len);
	b = malloc(len);
	assert_int_equal(capture_reader_init(r, buf, len), 0);
	assert_int_equal(capture_reader_next(r, &rec), 1);
	second = r->off;
	assert_int_equal(capture_reader_next(r, &rec), 1);
	third = r->off;
	while (capture_reader_next(r, &rec) == 1)
		;
	end = r->off - 24; /* the END frame: 8 + 16 */

	/* a length field changed (the check no longer matches) */
	memcpy(b, buf, len);
	b[second] ^= 0x08;
	expect_corrupt(b, len, 1, second);
	memcpy(b, buf, len);
	b[second + 2] = 0x7f;
	expect_corrupt(b, len, 1, second);
	/* a length that passes the check but is out of bounds for a raw record */
	memcpy(b, buf, len);
	put32le(b + second, 8);
	b[second + 6] = (uint8_t)frame_check(8, CAPTURE_REC_RAW);
	b[second + 7] = (uint8_t)(frame_check(8, CAPTURE_REC_RAW) >> 8);
	expect_corrupt(b, len, 1, second);
	memcpy(b, buf, len);
	put32le(b + second, 1u << 20);
	b[second + 6] = (uint8_t)frame_check(1u << 20, CAPTURE_REC_RAW);
	b[second + 7] = (uint8_t)(frame_check(1u << 20, CAPTURE_REC_RAW) >> 8);
	expect_corrupt(b, len, 1, second);
	/* an unknown type */
	memcpy(b, buf, len);
	b[third + 4] = 9;
	expect_corrupt(b, len, 2, third);
	/* the reserved byte */
	memcpy(b, buf, len);
	b[third + 5] = 1;
	expect_corrupt(b, len, 2, third);
	/* padding that is not zero (the request record's size is not a
	 * multiple of 8) */
	memcpy(b, buf, len);
	assert_true(fr.size[1] % 8 != 0);
	b[third - 1] = 0xff;
	expect_corrupt(b, len, 1, second);
	/* the end record counts another number of records */
	memcpy(b, buf, len);
	b[end + 8] ^= 1;
	expect_corrupt(b, len, fr.n, end);
	/* bytes after the end record */
	{
		uint8_t *longer = malloc(len + 8);

		memcpy(longer, buf, len);
		memset(longer + len, 0, 8);
		expect_corrupt(longer, len + 8, fr.n, len);
		free(longer);
	}
	free(b);
	free(buf);
	free(r);
}

static void test_foreign_files(void **st)
{
	struct capture_reader *r = malloc(sizeof(*r));
	struct capture_info info;
	struct frames fr;
	struct capture_rec rec;
	char path[256];
	uint8_t *buf;
	size_t len;

	(void)st;
	tmp_path(path, sizeof(path), "foreign.cap");
	write_http_capture(path, &fr, &info);
	buf = slurp(path, &len);

	buf[0] = 'X';
	assert_int_equal(capture_reader_init(r, buf, len), -EINVAL);
	assert_non_null(strstr(r->err_msg, "not a sonde capture"));
	assert_int_equal(capture_reader_next(r, &rec), -EINVAL);
	buf[0] = 'S';
	buf[8] = 2; /* version */
	assert_int_equal(capture_reader_init(r, buf, len), -EPROTONOSUPPORT);
	assert_non_null(strstr(r->err_msg, "version 2"));
	buf[8] = 1;
	buf[12] = 7; /* kind */
	assert_int_equal(capture_reader_init(r, buf, len), -EPROTONOSUPPORT);
	buf[12] = 1;
	buf[19] = 0x80; /* an unknown flag */
	assert_int_equal(capture_reader_init(r, buf, len), -EPROTONOSUPPORT);
	buf[19] = 0;
	buf[10] = 0x40; /* header size */
	assert_int_equal(capture_reader_init(r, buf, len), -EBADMSG);
	buf[10] = 0x80;
	assert_int_equal(capture_reader_init(r, buf, len), 0);
	assert_int_equal(capture_reader_init(r, "GET / HTTP/1.1\r\n", 16), -EINVAL);
	free(buf);
	free(r);
}

/* exec records go through their decoded form and come back byte for byte;
 * a connection-gone record has no place in an exec capture. */
static void test_exec_kind(void **st)
{
	static struct exec_event e;
	static struct exec_record dec, back;
	struct capture_reader *r = malloc(sizeof(*r));
	struct exec_exit_event x = { 0 };
	struct exec_fork_event f = { 0 };
	struct capture_writer *w;
	struct capture_info info;
	struct capture_rec rec;
	static const char args[] = "sh\0-c\0exit 7";
	char path[256];
	uint8_t *buf;
	size_t len, esize;

	(void)st;
	tmp_path(path, sizeof(path), "exec.cap");
	capture_info_init(&info, CAPTURE_KIND_EXEC, 0);
	info.flags = CAPTURE_F_EXEC_DURATION_RESOLVED;
	assert_int_equal(capture_writer_open(&w, path, &info), 0);

	e.hdr.kind = EXEC_EV_EXEC;
	e.hdr.pid = 10;
	e.hdr.ppid = 1;
	e.hdr.ts_ns = 100;
	memcpy(e.hdr.comm, "sh", 2);
	e.uid = 1000;
	e.cgroup_id = 55;
	e.args_len = sizeof(args);
	e.args_total_bytes = sizeof(args);
	e.argc_total = 3;
	e.filename_len = 7;
	memcpy(e.filename, "/bin/sh", 7);
	memcpy(e.args, args, sizeof(args));
	esize = EXEC_EVENT_HEAD_BYTES + sizeof(args);
	assert_int_equal(exec_record_decode(&e, esize, &dec), 0);
	assert_int_equal(capture_writer_exec_record(w, &dec), 0);

	f.hdr.kind = EXEC_EV_FORK;
	f.hdr.pid = 11;
	f.hdr.ppid = 10;
	f.hdr.ts_ns = 150;
	memcpy(f.hdr.comm, "sh", 2);
	assert_int_equal(exec_record_decode(&f, sizeof(f), &dec), 0);
	assert_int_equal(capture_writer_exec_record(w, &dec), 0);

	x.hdr.kind = EXEC_EV_EXIT;
	x.hdr.pid = 10;
	x.hdr.ppid = 1;
	x.hdr.ts_ns = 200;
	memcpy(x.hdr.comm, "sh", 2);
	x.exit_status = 7 << 8 | 0x80 | 9;
	x.duration_ns = 100;
	assert_int_equal(exec_record_decode(&x, sizeof(x), &dec), 0);
	assert_int_equal(capture_writer_exec_record(w, &dec), 0);
	/* out of bounds for an exec capture: refused and counted */
	assert_int_equal(capture_writer_raw(w, &x, 8), -EINVAL);
	assert_int_equal(capture_writer_dropped(w), 1);
	assert_int_equal(capture_writer_close(w), 0);

	buf = slurp(path, &len);
	assert_int_equal(capture_reader_init(r, buf, len), 0);
	assert_int_equal(r->info.kind, CAPTURE_KIND_EXEC);
	assert_int_equal(r->info.flags, CAPTURE_F_EXEC_DURATION_RESOLVED);
	assert_int_equal(capture_reader_next(r, &rec), 1);
	assert_int_equal(rec.size, esize);
	assert_memory_equal(rec.data, &e, esize);
	assert_int_equal(capture_reader_next(r, &rec), 1);
	assert_memory_equal(rec.data, &f, sizeof(f));
	assert_int_equal(capture_reader_next(r, &rec), 1);
	assert_memory_equal(rec.data, &x, sizeof(x));
	assert_int_equal(exec_record_decode(rec.data, rec.size, &back), 0);
	assert_int_equal(back.exit_code, 7);
	assert_int_equal(back.signal, 9);
	assert_true(back.core_dumped);
	assert_int_equal(capture_reader_next(r, &rec), 0);
	free(buf);

	/* a connection-gone frame in an exec capture is corrupt */
	assert_int_equal(capture_writer_open(&w, path, &info), 0);
	assert_int_equal(capture_writer_conn_gone(w, 1, 2), 0);
	assert_int_equal(capture_writer_close(w), 0);
	buf = slurp(path, &len);
	assert_int_equal(capture_reader_init(r, buf, len), 0);
	assert_int_equal(capture_reader_next(r, &rec), -EBADMSG);
	assert_int_equal(r->err_offset, CAPTURE_HEADER_BYTES);
	free(buf);
	free(r);
}

/* A full disk: the first failure returns its errno, later records are
 * refused and every record not written is counted. */
static void test_write_error_counted(void **st)
{
	struct capture_writer *w;
	struct capture_info info;
	struct http_open_event o;
	uint64_t n = 0;
	int ret = 0;

	(void)st;
	if (access("/dev/full", W_OK))
		skip();
	capture_info_init(&info, CAPTURE_KIND_HTTP, 0);
	assert_int_equal(capture_writer_open(&w, "/dev/full", &info), 0);
	http_open_ev(&o, 1, HTTP_ORIGIN_ACCEPT);
	while (ret == 0 && n < 100000) {
		ret = capture_writer_raw(w, &o, sizeof(o));
		n++;
	}
	assert_int_equal(ret, -ENOSPC);
	assert_int_equal(capture_writer_raw(w, &o, sizeof(o)), -ESHUTDOWN);
	assert_int_equal(capture_writer_dropped(w), n + 1 - capture_writer_records(w));
	assert_true(capture_writer_dropped(w) > 1);
	assert_int_equal(capture_writer_records(w), 0);
	assert_int_equal(capture_writer_close(w), -ENOSPC);
	assert_int_equal(capture_writer_open(&w, "/nonexistent-dir/x.cap", &info), -ENOENT);
}

struct sink {
	int n;
	int incomplete;
};

static void count_record(const struct http_record *rec, void *ctx)
{
	struct sink *s = ctx;

	s->n++;
	s->incomplete += (rec->ex->flags & HTTP1_EXCH_INCOMPLETE) != 0;
}

/* Replay into the pipeline: one whole exchange, one cut short by its
 * process's exit (the connection-gone record), as live. */
static void test_replay_http(void **st)
{
	struct capture_reader *r = malloc(sizeof(*r));
	struct http_pipeline_opts po = { 0 };
	struct capture_replay_stats rs = { 0 };
	struct http_pipeline_stats ps;
	struct capture_rec rec;
	size_t cut;
	struct http_pipeline *p;
	struct capture_info info;
	struct sink s = { 0 };
	struct frames fr;
	char path[256];
	uint8_t *buf;
	size_t len;

	(void)st;
	tmp_path(path, sizeof(path), "replay.cap");
	write_http_capture(path, &fr, &info);
	buf = slurp(path, &len);
	assert_int_equal(capture_reader_init(r, buf, len), 0);
	assert_int_equal(http_pipeline_new(&p, &po, count_record, &s), 0);
	assert_int_equal(capture_replay_http(r, p, &rs), 0);
	assert_int_equal(rs.events, 6);
	assert_int_equal(rs.conns_gone, 1);
	assert_int_equal(rs.decode_errors, 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.incomplete, 1);
	http_pipeline_stats(p, &ps);
	assert_int_equal(ps.conns_gone, 1);
	assert_int_equal(ps.conns_live, 0);
	http_pipeline_free(p);

	/* cut inside the response: the request before it still comes out */
	memset(&s, 0, sizeof(s));
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(capture_reader_init(r, buf, len), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(capture_reader_next(r, &rec), 1);
	cut = r->off + 20;
	assert_int_equal(capture_reader_init(r, buf, cut), 0);
	assert_int_equal(http_pipeline_new(&p, &po, count_record, &s), 0);
	assert_int_equal(capture_replay_http(r, p, &rs), -ENODATA);
	assert_int_equal(rs.events, 2);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.incomplete, 1);
	http_pipeline_free(p);

	/* an exec capture is not replayed as http */
	r->info.kind = CAPTURE_KIND_EXEC;
	assert_int_equal(capture_replay_http(r, NULL, &rs), -EINVAL);
	free(buf);
	free(r);
}

/* What a replay emitted, in order, to compare two replays. */
struct trace {
	uint32_t n;
	uint64_t key[8192];
};

static void trace_record(const struct http_record *rec, void *ctx)
{
	struct trace *t = ctx;
	uint64_t k = rec->ts_ns * 1000003u + rec->ex->status * 31u + rec->ex->flags;

	for (uint16_t i = 0; i < rec->ex->path_len; i++)
		k = k * 131u + (uint8_t)rec->ex->path[i];
	if (t->n < sizeof(t->key) / sizeof(t->key[0]))
		t->key[t->n] = k;
	t->n++;
}

/* The replay reads records ahead to prefetch their connections once the
 * table outgrows the cache: with thousands open at once, interleaved, some
 * swept and the file cut at the end, it emits exactly what feeding the same
 * records one by one emits, in the same order. */
static void test_replay_many_conns_read_ahead(void **st)
{
	enum { CONNS = 3000 };
	static struct trace want, got;
	static struct http_data_event d;
	static uint8_t step[CONNS];
	struct capture_reader *r = malloc(sizeof(*r));
	struct http_pipeline_opts po = { .max_conns = 4096 };
	struct capture_replay_stats rs = { 0 };
	struct capture_writer *w;
	struct capture_info info;
	struct http_pipeline *p;
	struct capture_rec rec;
	uint32_t rng = 12345, left = CONNS;
	uint64_t ts = 1000;
	char path[256], req[64];
	uint8_t *buf;
	size_t len;
	int ret;

	(void)st;
	assert_non_null(r);
	tmp_path(path, sizeof(path), "many.cap");
	capture_info_init(&info, CAPTURE_KIND_HTTP, 0);
	info.capture_bytes = 512;
	assert_int_equal(capture_writer_open(&w, path, &info), 0);
	/* every connection opens first, then their steps interleave at random */
	for (uint32_t i = 0; i < CONNS; i++) {
		struct http_open_event o;

		http_open_ev(&o, i + 1, HTTP_ORIGIN_ACCEPT);
		assert_int_equal(capture_writer_raw(w, &o, sizeof(o)), 0);
	}
	while (left) {
		uint32_t i;
		size_t n;

		rng = rng * 1103515245u + 12345u;
		i = (rng >> 8) % CONNS;
		if (step[i] == 3)
			continue;
		ts += 7;
		if (step[i] == 0) {
			snprintf(req, sizeof(req), "GET /c%u HTTP/1.1\r\nHost: a\r\n\r\n", i);
			n = http_data_ev(&d, i + 1, HTTP_DIR_INGRESS, ts, req);
			assert_int_equal(capture_writer_raw(w, &d, n), 0);
		} else if (step[i] == 1) {
			n = http_data_ev(&d, i + 1, HTTP_DIR_EGRESS, ts, RESP);
			assert_int_equal(capture_writer_raw(w, &d, n), 0);
		} else if (i % 5) {
			struct http_close_event c = { 0 };

			c.hdr.kind = HTTP_EV_CLOSE;
			c.hdr.conn_id = i + 1;
			c.hdr.ts_ns = ts;
			assert_int_equal(capture_writer_raw(w, &c, sizeof(c)), 0);
		} else {
			assert_int_equal(capture_writer_conn_gone(w, i + 1, ts), 0);
		}
		if (++step[i] == 3)
			left--;
	}
	assert_int_equal(capture_writer_close(w), 0);
	buf = slurp(path, &len);

	/* the file cut in its last record: both stop there with the same error */
	len -= 30;
	assert_int_equal(capture_reader_init(r, buf, len), 0);
	assert_int_equal(http_pipeline_new(&p, &po, trace_record, &want), 0);
	while ((ret = capture_reader_next(r, &rec)) > 0) {
		if (rec.type == CAPTURE_REC_RAW)
			assert_int_equal(http_pipeline_event(p, rec.data, rec.size), 0);
		else if (rec.type == CAPTURE_REC_CONN_GONE)
			http_pipeline_conn_gone(p, rec.conn_id);
	}
	assert_int_equal(ret, -ENODATA);
	http_pipeline_finish(p);
	http_pipeline_free(p);

	assert_int_equal(capture_reader_init(r, buf, len), 0);
	assert_int_equal(http_pipeline_new(&p, &po, trace_record, &got), 0);
	assert_int_equal(capture_replay_http(r, p, &rs), -ENODATA);
	assert_int_equal(rs.decode_errors, 0);
	http_pipeline_free(p);

	assert_int_equal(want.n, CONNS);
	assert_int_equal(got.n, want.n);
	assert_memory_equal(got.key, want.key, want.n * sizeof(want.key[0]));
	free(buf);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_round_trip),
		cmocka_unit_test(test_unaligned_buffer),
		cmocka_unit_test(test_truncated_at_every_offset),
		cmocka_unit_test(test_corrupt_frames),
		cmocka_unit_test(test_foreign_files),
		cmocka_unit_test(test_exec_kind),
		cmocka_unit_test(test_write_error_counted),
		cmocka_unit_test(test_replay_http),
		cmocka_unit_test(test_replay_many_conns_read_ahead),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
