/* Capture files of `sonde http --record` and `sonde exec --record`: the raw
 * records of the kernel as they were received, plus the other inputs of the
 * reconstruction (connections swept because their process exited), so that
 * `sonde replay` runs the same pipeline on them and prints the same records.
 * The format is documented in docs/capture-format.md: a 128-byte header,
 * then frames of [len:4][type:1][0:1][check:2] + len bytes + zero padding to
 * 8 bytes, ending with an END frame. Little-endian throughout.
 *
 * The writer buffers (one write(2) per CAPTURE_WRITE_BUFFER_BYTES) and never
 * allocates per record. The reader works on bytes in memory (a mapped file,
 * or a buffer), checks every frame before handing it out, and on a truncated
 * or corrupt file stops at the first bad frame and says at which offset. */
#ifndef SONDE_PIPELINE_CAPTURE_H
#define SONDE_PIPELINE_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exec.h"
#include "http.h"
#include "pipeline/exec_record.h"
#include "pipeline/http_pipeline.h"

#define CAPTURE_MAGIC "SONDECAP"
#define CAPTURE_MAGIC_BYTES 8
#define CAPTURE_VERSION 1
#define CAPTURE_HEADER_BYTES 128
#define CAPTURE_FRAME_BYTES 8
/* Frames, and payloads within them, start on this boundary. */
#define CAPTURE_ALIGN_BYTES 8
#define CAPTURE_KERNEL_BYTES 64
/* The largest raw record of either tracer: what a frame may carry. */
#define CAPTURE_RECORD_BYTES_MAX                                               \
	(sizeof(struct http_data_event) > sizeof(struct exec_event)            \
		 ? sizeof(struct http_data_event) : sizeof(struct exec_event))
#define CAPTURE_WRITE_BUFFER_BYTES (256u * 1024u)
#define CAPTURE_FILE_MODE 0600
#define CAPTURE_ERR_BYTES 192

enum capture_kind {
	CAPTURE_KIND_HTTP = 1, /* raw records of bpf/http.bpf.c (bpf/http.h) */
	CAPTURE_KIND_EXEC = 2, /* raw records of bpf/exec.bpf.c (bpf/exec.h) */
};

enum capture_rec_type {
	CAPTURE_REC_RAW = 1,       /* one raw tracer record, as received */
	CAPTURE_REC_CONN_GONE = 2, /* http: connection swept (its process exited) */
	CAPTURE_REC_END = 3,       /* last frame: the file is complete */
};

/* header flags */
/* exec: exit records carry the duration `sonde exec` reported (counted from
 * the exec it saw, EXIT_F_SINCE_FORK cleared), not the kernel's. */
#define CAPTURE_F_EXEC_DURATION_RESOLVED (1u << 0)
/* http: the recording's connection table evicted the least recently active
 * connection when full (http_pipeline_opts.evict_oldest); replay does too. */
#define CAPTURE_F_HTTP_EVICT_OLDEST (1u << 1)
#define CAPTURE_F_KNOWN (CAPTURE_F_EXEC_DURATION_RESOLVED | CAPTURE_F_HTTP_EVICT_OLDEST)

/* What the header says. */
struct capture_info {
	enum capture_kind kind;
	uint16_t version;
	uint32_t flags;               /* CAPTURE_F_* */
	uint32_t capture_bytes;       /* payload bytes copied per record by the kernel side */
	uint32_t max_conns;           /* http: connection table bound of the recording, 0: default */
	uint64_t start_realtime_ns;   /* CLOCK_REALTIME at the start of the recording */
	uint64_t start_monotonic_ns;  /* CLOCK_MONOTONIC at the same moment: text time 0 */
	char kernel[CAPTURE_KERNEL_BYTES]; /* uname -r of the recording host */
};

/* Fill kind, version, kernel and both start clocks (now, or
 * start_monotonic_ns when not 0 with the realtime matching it). */
void capture_info_init(struct capture_info *info, enum capture_kind kind,
		       uint64_t start_monotonic_ns);
const char *capture_kind_name(enum capture_kind kind);
/* Smallest and largest raw record of a kind (a frame outside is corrupt). */
size_t capture_raw_bytes_min(enum capture_kind kind);
size_t capture_raw_bytes_max(enum capture_kind kind);

/* ---- writer ---- */

struct capture_writer;

/* Create path (mode 0600, truncated if it exists) and write the header.
 * 0 or a negative errno. */
int capture_writer_open(struct capture_writer **out, const char *path,
			const struct capture_info *info);
/* Append a frame. 0, or a negative errno: the first failure returns the
 * write's errno, and from then on nothing more is written and every record
 * returns -ESHUTDOWN; each one not written is counted (dropped). A raw record
 * whose size is outside the kind's bounds is refused with -EINVAL (counted
 * too). */
int capture_writer_raw(struct capture_writer *w, const void *data, size_t size);
int capture_writer_conn_gone(struct capture_writer *w, uint64_t conn_id, uint64_t ts_ns);
/* exec: the raw record a decoded one came from (the exec event's own bytes;
 * fork and exit records rebuilt from their fields, which hold all of them). */
int capture_writer_exec_record(struct capture_writer *w, const struct exec_record *r);
/* Records (frames) written, and records not written after a failure. */
uint64_t capture_writer_records(const struct capture_writer *w);
uint64_t capture_writer_dropped(const struct capture_writer *w);
/* Write the END frame, flush and close; free w. 0 or the first error of the
 * whole recording (negative errno). NULL is fine. */
int capture_writer_close(struct capture_writer *w);

/* ---- reader ---- */

/* One frame, pointing into the reader's bytes (or its scratch copy when
 * those are not 8-byte aligned): valid until the next call. */
struct capture_rec {
	enum capture_rec_type type;
	const void *data;
	uint32_t size;
	uint64_t offset;       /* of the frame in the file */
	uint64_t conn_id;      /* CONN_GONE */
	uint64_t ts_ns;        /* CONN_GONE: when it was swept */
};

struct capture_reader {
	const uint8_t *buf;
	size_t len;
	size_t off;              /* next frame */
	struct capture_info info;
	uint64_t records;        /* frames read, END excluded */
	bool ended;              /* END frame seen: the file is complete */
	int err;                 /* 0, or the negative errno of the first bad frame */
	uint64_t err_offset;     /* its offset */
	char err_msg[CAPTURE_ERR_BYTES]; /* one line, no newline */
	uint64_t scratch[(CAPTURE_RECORD_BYTES_MAX + 7) / 8];
};

/* Check the header of len bytes at buf (which must stay valid while r is
 * used). 0, or: -EINVAL not a capture (magic), -EPROTONOSUPPORT a version or
 * flags this sonde does not know, -EBADMSG a corrupt or short header; the
 * reason is in r->err_msg. */
int capture_reader_init(struct capture_reader *r, const void *buf, size_t len);
/* The next frame: 1 with *out filled, 0 at the END frame (the capture is
 * complete), or a negative errno (-ENODATA truncated, -EBADMSG corrupt)
 * with r->err_offset and r->err_msg saying where and what; then every later
 * call returns the same error. Every frame is checked: its check field, type,
 * length bounds, zero padding; END's record count; nothing may follow END. */
int capture_reader_next(struct capture_reader *r, struct capture_rec *out);

/* ---- replay ---- */

struct capture_replay_stats {
	uint64_t events;         /* raw records fed */
	uint64_t decode_errors;  /* of those, refused by the pipeline as malformed */
	uint64_t conns_gone;     /* CONN_GONE frames fed */
};

/* Feed every frame of an http capture to p in file order (RAW to
 * http_pipeline_event, CONN_GONE to http_pipeline_conn_gone), then
 * http_pipeline_finish, as `sonde http` did live. 0 when the capture was
 * complete, else the reader's error: what came before the bad frame was fed,
 * and finish still ran. st is added to. Frames are read a few ahead of
 * their turn, so that the file and, once the table outgrows the cache,
 * their connections are prefetched (http_pipeline_prefetch); the order fed
 * is the file's all the same. */
int capture_replay_http(struct capture_reader *r, struct http_pipeline *p,
			struct capture_replay_stats *st);

/* A capture file's bytes in memory: mapped when it is a regular file, else
 * read whole. */
struct capture_file {
	void *data;
	size_t len;
	bool mapped;
};

/* 0 or a negative errno with a one-line reason in err. */
int capture_file_load(struct capture_file *f, const char *path, char *err, size_t err_size);
void capture_file_release(struct capture_file *f);

#endif
