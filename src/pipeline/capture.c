/* Capture files: writer, checking reader and http replay; see capture.h and
 * docs/capture-format.md. */
#include "pipeline/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* Header field offsets (docs/capture-format.md). */
#define HDR_OFF_VERSION 8
#define HDR_OFF_HEADER_BYTES 10
#define HDR_OFF_KIND 12
#define HDR_OFF_FLAGS 16
#define HDR_OFF_CAPTURE_BYTES 20
#define HDR_OFF_MAX_CONNS 24
#define HDR_OFF_START_REALTIME 32
#define HDR_OFF_START_MONOTONIC 40
#define HDR_OFF_KERNEL 48
/* CONN_GONE and END payloads: two u64 each. */
#define CONN_GONE_BYTES 16
#define END_BYTES 16
/* Mixed into the frame check so that zeroed bytes never pass as a frame. */
#define FRAME_CHECK_SALT 0x5343u
#define FRAME_CHECK_MULT 0x9E3779B1u
#define NS_PER_SEC 1000000000ull
#define READ_CHUNK_BYTES (1u << 20)

struct capture_writer {
	int fd;
	int err;                   /* first error (negative errno), 0 if none */
	enum capture_kind kind;
	uint64_t appended;         /* frames appended and not lost, END excluded */
	uint64_t buffered;         /* of those, still in buf */
	uint64_t dropped;          /* records not written */
	size_t used;
	uint8_t buf[CAPTURE_WRITE_BUFFER_BYTES];
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static size_t align_up(size_t n)
{
	return (n + CAPTURE_ALIGN_BYTES - 1) & ~(size_t)(CAPTURE_ALIGN_BYTES - 1);
}

/* 16 bits that depend on every bit of len and type: a corrupt length field
 * is caught at its own frame, not somewhere after it. */
static uint16_t frame_check(uint32_t len, uint8_t type)
{
	uint32_t h = (len ^ (uint32_t)type << 24) * FRAME_CHECK_MULT;

	return (uint16_t)((h ^ h >> 16) ^ FRAME_CHECK_SALT);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

void capture_info_init(struct capture_info *info, enum capture_kind kind,
		       uint64_t start_monotonic_ns)
{
	uint64_t real = clock_ns(CLOCK_REALTIME), mono = clock_ns(CLOCK_MONOTONIC);
	struct utsname u;

	memset(info, 0, sizeof(*info));
	info->kind = kind;
	info->version = CAPTURE_VERSION;
	if (start_monotonic_ns && start_monotonic_ns <= mono && mono - start_monotonic_ns <= real) {
		info->start_monotonic_ns = start_monotonic_ns;
		info->start_realtime_ns = real - (mono - start_monotonic_ns);
	} else {
		info->start_monotonic_ns = mono;
		info->start_realtime_ns = real;
	}
	if (uname(&u) == 0)
		snprintf(info->kernel, sizeof(info->kernel), "%.*s", CAPTURE_KERNEL_BYTES - 1,
			 u.release);
}

const char *capture_kind_name(enum capture_kind kind)
{
	switch (kind) {
	case CAPTURE_KIND_HTTP:
		return "http";
	case CAPTURE_KIND_EXEC:
		return "exec";
	}
	return "unknown";
}

size_t capture_raw_bytes_min(enum capture_kind kind)
{
	return kind == CAPTURE_KIND_EXEC ? sizeof(struct exec_event_hdr)
					 : sizeof(struct http_event_hdr);
}

size_t capture_raw_bytes_max(enum capture_kind kind)
{
	return kind == CAPTURE_KIND_EXEC ? sizeof(struct exec_event)
					 : sizeof(struct http_data_event);
}

/* ---- writer ---- */

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Records in the buffer are lost with a failed write: counted as dropped. */
static int writer_flush(struct capture_writer *w)
{
	int ret;

	if (w->err)
		return w->err;
	ret = write_all(w->fd, w->buf, w->used);
	w->used = 0;
	if (ret) {
		w->err = ret;
		w->appended -= w->buffered;
		w->dropped += w->buffered;
	}
	w->buffered = 0;
	return ret;
}

static int writer_frame(struct capture_writer *w, uint8_t type, const void *a, size_t a_len,
			const void *b, size_t b_len, bool counted)
{
	size_t len = a_len + b_len, need = CAPTURE_FRAME_BYTES + align_up(len);
	uint8_t *p;
	int ret;

	if (w->err) {
		w->dropped += counted;
		return -ESHUTDOWN;
	}
	if (w->used + need > sizeof(w->buf)) {
		ret = writer_flush(w);
		if (ret) {
			w->dropped += counted;
			return ret;
		}
	}
	p = w->buf + w->used;
	put32(p, (uint32_t)len);
	p[4] = type;
	p[5] = 0;
	put16(p + 6, frame_check((uint32_t)len, type));
	memcpy(p + CAPTURE_FRAME_BYTES, a, a_len);
	if (b_len)
		memcpy(p + CAPTURE_FRAME_BYTES + a_len, b, b_len);
	memset(p + CAPTURE_FRAME_BYTES + len, 0, align_up(len) - len);
	w->used += need;
	if (counted) {
		w->appended++;
		w->buffered++;
	}
	return 0;
}

/* A file that existed keeps its mode through O_TRUNC: make a regular one
 * owner-only too (never a device or a pipe given as the path). */
static int restrict_mode(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -1;
	if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != CAPTURE_FILE_MODE)
		return fchmod(fd, CAPTURE_FILE_MODE);
	return 0;
}

int capture_writer_open(struct capture_writer **out, const char *path,
			const struct capture_info *info)
{
	struct capture_writer *w;
	uint8_t *h;

	*out = NULL;
	if (info->kind != CAPTURE_KIND_HTTP && info->kind != CAPTURE_KIND_EXEC)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->kind = info->kind;
	/* raw payload bytes may hold secrets: owner only, whatever the umask */
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, CAPTURE_FILE_MODE);
	if (w->fd < 0 || restrict_mode(w->fd)) {
		int ret = -errno;

		if (w->fd >= 0)
			close(w->fd);
		free(w);
		return ret;
	}
	h = w->buf;
	memcpy(h, CAPTURE_MAGIC, CAPTURE_MAGIC_BYTES);
	put16(h + HDR_OFF_VERSION, CAPTURE_VERSION);
	put16(h + HDR_OFF_HEADER_BYTES, CAPTURE_HEADER_BYTES);
	put16(h + HDR_OFF_KIND, (uint16_t)info->kind);
	put32(h + HDR_OFF_FLAGS, info->flags);
	put32(h + HDR_OFF_CAPTURE_BYTES, info->capture_bytes);
	put32(h + HDR_OFF_MAX_CONNS, info->max_conns);
	put64(h + HDR_OFF_START_REALTIME, info->start_realtime_ns);
	put64(h + HDR_OFF_START_MONOTONIC, info->start_monotonic_ns);
	memcpy(h + HDR_OFF_KERNEL, info->kernel, strnlen(info->kernel, CAPTURE_KERNEL_BYTES - 1));
	w->used = CAPTURE_HEADER_BYTES;
	*out = w;
	return 0;
}

int capture_writer_raw(struct capture_writer *w, const void *data, size_t size)
{
	if (size < capture_raw_bytes_min(w->kind) || size > capture_raw_bytes_max(w->kind)) {
		w->dropped++;
		return -EINVAL;
	}
	return writer_frame(w, CAPTURE_REC_RAW, data, size, NULL, 0, true);
}

int capture_writer_conn_gone(struct capture_writer *w, uint64_t conn_id, uint64_t ts_ns)
{
	uint8_t p[CONN_GONE_BYTES];

	put64(p, conn_id);
	put64(p + 8, ts_ns);
	return writer_frame(w, CAPTURE_REC_CONN_GONE, p, sizeof(p), NULL, 0, true);
}

static void exec_hdr_from_record(struct exec_event_hdr *h, const struct exec_record *r)
{
	h->kind = (uint32_t)r->kind;
	h->pid = r->pid;
	h->ppid = r->ppid;
	h->flags = r->flags;
	h->ts_ns = r->ts_ns;
	memcpy(h->comm, r->comm, EXEC_COMM_LEN);
}

int capture_writer_exec_record(struct capture_writer *w, const struct exec_record *r)
{
	switch (r->kind) {
	case EXEC_EV_EXEC: {
		/* exec_record_decode is zero-copy: filename points into the raw
		 * record, still valid while its callback runs, and the decoder
		 * checked that args_len bytes of args follow the head */
		const struct exec_event *e = (const struct exec_event *)(const void *)
			(r->filename - offsetof(struct exec_event, filename));

		return capture_writer_raw(w, e, EXEC_EVENT_HEAD_BYTES + e->args_len);
	}
	case EXEC_EV_FORK: {
		struct exec_fork_event f;

		memset(&f, 0, sizeof(f));
		exec_hdr_from_record(&f.hdr, r);
		return capture_writer_raw(w, &f, sizeof(f));
	}
	case EXEC_EV_EXIT: {
		struct exec_exit_event x;

		memset(&x, 0, sizeof(x));
		exec_hdr_from_record(&x.hdr, r);
		x.exit_status = ((uint32_t)r->exit_code & 0xff) << 8 | (r->core_dumped ? 0x80u : 0) |
				((uint32_t)r->signal & 0x7f);
		x.duration_ns = r->duration_ns;
		return capture_writer_raw(w, &x, sizeof(x));
	}
	}
	w->dropped++;
	return -EINVAL;
}

uint64_t capture_writer_records(const struct capture_writer *w)
{
	return w->appended;
}

uint64_t capture_writer_dropped(const struct capture_writer *w)
{
	return w->dropped;
}

int capture_writer_close(struct capture_writer *w)
{
	uint8_t end[END_BYTES];
	int ret;

	if (!w)
		return 0;
	put64(end, w->appended);
	put64(end + 8, clock_ns(CLOCK_MONOTONIC));
	writer_frame(w, CAPTURE_REC_END, end, sizeof(end), NULL, 0, false);
	writer_flush(w);
	ret = w->err;
	if (close(w->fd) && !ret)
		ret = -errno;
	free(w);
	return ret;
}

/* ---- reader ---- */

__attribute__((format(printf, 4, 5)))
static int reader_fail(struct capture_reader *r, int err, uint64_t offset, const char *fmt, ...)
{
	va_list ap;

	r->err = err;
	r->err_offset = offset;
	va_start(ap, fmt);
	vsnprintf(r->err_msg, sizeof(r->err_msg), fmt, ap);
	va_end(ap);
	return err;
}

int capture_reader_init(struct capture_reader *r, const void *buf, size_t len)
{
	const uint8_t *h = buf;
	uint16_t version, header_bytes, kind;
	uint32_t flags;

	memset(r, 0, offsetof(struct capture_reader, scratch));
	r->buf = buf;
	r->len = len;
	if (len < CAPTURE_HEADER_BYTES) {
		size_t n = len < CAPTURE_MAGIC_BYTES ? len : CAPTURE_MAGIC_BYTES;

		if (n && !memcmp(h, CAPTURE_MAGIC, n))
			return reader_fail(r, -EBADMSG, 0, "truncated header: %zu of %d bytes", len,
					   CAPTURE_HEADER_BYTES);
		return reader_fail(r, -EINVAL, 0, "not a sonde capture file (%zu bytes, no header)",
				   len);
	}
	if (memcmp(h, CAPTURE_MAGIC, CAPTURE_MAGIC_BYTES))
		return reader_fail(r, -EINVAL, 0, "not a sonde capture file (bad magic)");
	version = get16(h + HDR_OFF_VERSION);
	if (version != CAPTURE_VERSION)
		return reader_fail(r, -EPROTONOSUPPORT, HDR_OFF_VERSION,
				   "capture format version %u; this sonde reads version %d", version,
				   CAPTURE_VERSION);
	header_bytes = get16(h + HDR_OFF_HEADER_BYTES);
	if (header_bytes < CAPTURE_HEADER_BYTES || header_bytes % CAPTURE_ALIGN_BYTES ||
	    header_bytes > len)
		return reader_fail(r, -EBADMSG, HDR_OFF_HEADER_BYTES,
				   "corrupt header: header size %u (file %zu bytes)", header_bytes, len);
	kind = get16(h + HDR_OFF_KIND);
	if (kind != CAPTURE_KIND_HTTP && kind != CAPTURE_KIND_EXEC)
		return reader_fail(r, -EPROTONOSUPPORT, HDR_OFF_KIND,
				   "capture of unknown kind %u (this sonde reads http and exec)", kind);
	flags = get32(h + HDR_OFF_FLAGS);
	if (flags & ~CAPTURE_F_KNOWN)
		return reader_fail(r, -EPROTONOSUPPORT, HDR_OFF_FLAGS,
				   "capture flags 0x%x not understood by this sonde", flags);
	r->info.kind = (enum capture_kind)kind;
	r->info.version = version;
	r->info.flags = flags;
	r->info.capture_bytes = get32(h + HDR_OFF_CAPTURE_BYTES);
	r->info.max_conns = get32(h + HDR_OFF_MAX_CONNS);
	r->info.start_realtime_ns = get64(h + HDR_OFF_START_REALTIME);
	r->info.start_monotonic_ns = get64(h + HDR_OFF_START_MONOTONIC);
	memcpy(r->info.kernel, h + HDR_OFF_KERNEL, CAPTURE_KERNEL_BYTES - 1);
	r->info.kernel[CAPTURE_KERNEL_BYTES - 1] = '\0';
	r->off = header_bytes;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int capture_reader_next(struct capture_reader *r, struct capture_rec *out)
{
	size_t off = r->off, left = r->len - off, padded;
	const uint8_t *f = r->buf + off, *payload;
	uint32_t len;
	uint8_t type;

	if (r->err)
		return r->err;
	if (r->ended)
		return 0;
	if (left == 0)
		return reader_fail(r, -ENODATA, off,
				   "capture ends at offset %zu without its end record: truncated "
				   "(sonde was killed, or the file was cut)", off);
	if (left < CAPTURE_FRAME_BYTES)
		return reader_fail(r, -ENODATA, off,
				   "truncated record at offset %zu: %zu of %d frame bytes", off, left,
				   CAPTURE_FRAME_BYTES);
	len = get32(f);
	type = f[4];
	if (f[5] || get16(f + 6) != frame_check(len, type))
		return reader_fail(r, -EBADMSG, off,
				   "corrupt record at offset %zu: its length/type check does not match",
				   off);
	switch (type) {
	case CAPTURE_REC_RAW:
		if (len < capture_raw_bytes_min(r->info.kind) ||
		    len > capture_raw_bytes_max(r->info.kind))
			return reader_fail(r, -EBADMSG, off,
					   "corrupt record at offset %zu: length %" PRIu32
					   " outside %zu..%zu for %s records", off, len,
					   capture_raw_bytes_min(r->info.kind),
					   capture_raw_bytes_max(r->info.kind),
					   capture_kind_name(r->info.kind));
		break;
	case CAPTURE_REC_CONN_GONE:
		if (r->info.kind != CAPTURE_KIND_HTTP || len != CONN_GONE_BYTES)
			return reader_fail(r, -EBADMSG, off,
					   "corrupt record at offset %zu: connection-gone record "
					   "of %" PRIu32 " bytes in a %s capture", off, len,
					   capture_kind_name(r->info.kind));
		break;
	case CAPTURE_REC_END:
		if (len != END_BYTES)
			return reader_fail(r, -EBADMSG, off,
					   "corrupt record at offset %zu: end record of %" PRIu32 " bytes",
					   off, len);
		break;
	default:
		return reader_fail(r, -EBADMSG, off, "corrupt record at offset %zu: unknown type %u",
				   off, type);
	}
	padded = align_up(len);
	if (left - CAPTURE_FRAME_BYTES < padded)
		return reader_fail(r, -ENODATA, off,
				   "truncated record at offset %zu: %zu bytes announced, %zu in the file",
				   off, CAPTURE_FRAME_BYTES + padded, left);
	payload = f + CAPTURE_FRAME_BYTES;
	if (!all_zero(payload + len, padded - len))
		return reader_fail(r, -EBADMSG, off,
				   "corrupt record at offset %zu: padding is not zero", off);
	r->off = off + CAPTURE_FRAME_BYTES + padded;
	if (type == CAPTURE_REC_END) {
		uint64_t n = get64(payload);

		if (n != r->records)
			return reader_fail(r, -EBADMSG, off,
					   "corrupt capture: the end record at offset %zu counts %" PRIu64
					   " records, the file holds %" PRIu64, off, n, r->records);
		if (r->off != r->len)
			return reader_fail(r, -EBADMSG, r->off,
					   "corrupt capture: %zu bytes after the end record, at offset %zu",
					   r->len - r->off, r->off);
		r->ended = true;
		return 0;
	}
	/* raw records are read as structs: hand out an aligned copy if need be */
	if ((uintptr_t)payload % CAPTURE_ALIGN_BYTES) {
		memcpy(r->scratch, payload, len);
		payload = (const uint8_t *)r->scratch;
	}
	out->type = (enum capture_rec_type)type;
	out->data = payload;
	out->size = len;
	out->offset = off;
	out->conn_id = 0;
	out->ts_ns = 0;
	if (type == CAPTURE_REC_CONN_GONE) {
		out->conn_id = get64(payload);
		out->ts_ns = get64(payload + 8);
	}
	r->records++;
	return 1;
}

/* ---- replay ---- */

/* Records read ahead of their turn, so that each one's connection is
 * prefetched at every stage of http_pipeline_prefetch: a power of two
 * above the farthest distance. */
#define REPLAY_WINDOW 16u
_Static_assert(REPLAY_WINDOW > HTTP_PREFETCH_AHEAD * HTTP_PREFETCH_STAGES,
	       "the replay window holds the farthest prefetch distance");

/* Records between two questions to http_pipeline_prefetch_worth. */
#define REPLAY_ASK_EVERY 256u
/* How far past the next frame the capture is prefetched. */
#define REPLAY_FETCH_BYTES 4096u

static uint64_t rec_conn_id(const struct capture_rec *rec)
{
	struct http_event_hdr h;

	if (rec->type == CAPTURE_REC_CONN_GONE)
		return rec->conn_id;
	if (rec->type != CAPTURE_REC_RAW || rec->size < sizeof(h))
		return 0;
	memcpy(&h, rec->data, sizeof(h));
	return h.conn_id;
}

static void replay_one(struct http_pipeline *p, const struct capture_rec *rec,
		       struct capture_replay_stats *st)
{
	if (rec->type == CAPTURE_REC_RAW) {
		st->events++;
		if (http_pipeline_event(p, rec->data, rec->size))
			st->decode_errors++;
	} else if (rec->type == CAPTURE_REC_CONN_GONE) {
		st->conns_gone++;
		http_pipeline_conn_gone(p, rec->conn_id);
	}
}

int capture_replay_http(struct capture_reader *r, struct http_pipeline *p,
			struct capture_replay_stats *st)
{
	struct capture_rec win[REPLAY_WINDOW];
	uint64_t ids[REPLAY_WINDOW];
	uint32_t head = 0, n = 0; /* records read ahead, the next one at head */
	size_t fetched = r->off, fetch_to; /* the capture is prefetched up to fetched */
	uint32_t until_ask = 0;   /* records until prefetch_worth is asked again */
	bool conns = false;       /* connections prefetched */
	int ret = 1;

	if (r->info.kind != CAPTURE_KIND_HTTP)
		return -EINVAL;
	for (;;) {
		while (ret > 0 && n <= HTTP_PREFETCH_AHEAD * HTTP_PREFETCH_STAGES) {
			uint32_t at = (head + n) & (REPLAY_WINDOW - 1);

			ret = capture_reader_next(r, &win[at]);
			if (ret > 0) {
				ids[at] = rec_conn_id(&win[at]);
				n++;
			}
		}
		/* reading frames ahead skips over payloads, which hides the
		 * stream from the hardware prefetcher: fetch it in order */
		fetch_to = r->off + REPLAY_FETCH_BYTES < r->len ? r->off + REPLAY_FETCH_BYTES : r->len;
		for (; fetched < fetch_to; fetched += 64)
			__builtin_prefetch(r->buf + fetched);
		if (!n)
			break;
		if (!until_ask--) {
			conns = http_pipeline_prefetch_worth(p);
			until_ask = REPLAY_ASK_EVERY;
		}
		for (uint32_t s = 1; conns && s <= HTTP_PREFETCH_STAGES; s++) {
			uint32_t d = HTTP_PREFETCH_AHEAD * s;

			if (d < n)
				http_pipeline_prefetch(p, ids[(head + d) & (REPLAY_WINDOW - 1)], s);
		}
		replay_one(p, &win[head], st);
		head = (head + 1) & (REPLAY_WINDOW - 1);
		n--;
	}
	http_pipeline_finish(p);
	return ret;
}

/* ---- files ---- */

static int read_whole(int fd, struct capture_file *f)
{
	size_t cap = 0;
	uint8_t *buf = NULL;

	f->len = 0;
	for (;;) {
		ssize_t n;

		if (f->len == cap) {
			uint8_t *nb = realloc(buf, cap + READ_CHUNK_BYTES);

			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap += READ_CHUNK_BYTES;
		}
		n = read(fd, buf + f->len, cap - f->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int ret = -errno;

			free(buf);
			return ret;
		}
		if (n == 0)
			break;
		f->len += (size_t)n;
	}
	f->data = buf;
	return 0;
}

int capture_file_load(struct capture_file *f, const char *path, char *err, size_t err_size)
{
	struct stat st;
	int fd, ret = 0;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	if (S_ISREG(st.st_mode) && st.st_size > 0) {
		f->len = (size_t)st.st_size;
		f->data = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
		if (f->data == MAP_FAILED) {
			ret = -errno;
			f->data = NULL;
			snprintf(err, err_size, "cannot map %s: %s", path, strerror(errno));
		} else {
			f->mapped = true;
			madvise(f->data, f->len, MADV_SEQUENTIAL);
		}
	} else if (!S_ISDIR(st.st_mode)) {
		ret = read_whole(fd, f);
		if (ret)
			snprintf(err, err_size, "cannot read %s: %s", path, strerror(-ret));
	} else {
		ret = -EISDIR;
		snprintf(err, err_size, "%s is a directory, not a capture file", path);
	}
	close(fd);
	return ret;
}

void capture_file_release(struct capture_file *f)
{
	if (f->mapped)
		munmap(f->data, f->len);
	else
		free(f->data);
	memset(f, 0, sizeof(*f));
}
