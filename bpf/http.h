/* Events of the HTTP tracer (`sonde http`), shared by bpf/http.bpf.c and the
 * loader. A connection is announced once (open), then sends data segments
 * (the real byte count, the first bytes, the last few), then a close.
 * Fixed-width types only; data records are variable-length. */
#ifndef SONDE_HTTP_H
#define SONDE_HTTP_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Upper bound of --capture-bytes, a power of two: the verifier bounds copy
 * sizes and offsets with a mask. */
#define HTTP_CAPTURE_BYTES_MAX 4096
/* Last bytes of a segment sent when it is longer than the capture, so that
 * userspace can see the end of a chunked body it did not capture. */
#define HTTP_TAIL_BYTES 16
/* iovec entries walked for readv/writev/recvmsg/sendmsg payloads. */
#define HTTP_IOV_MAX 8
#define HTTP_COMM_LEN 16

enum http_event_kind {
	HTTP_EV_OPEN = 1,   /* a connection starts to be traced */
	HTTP_EV_DATA = 2,   /* bytes read or written on it */
	HTTP_EV_CLOSE = 3,  /* the process closed it */
	/* a traced process uses io_uring (its first io_uring_setup or
	 * io_uring_enter seen): the socket I/O it submits there passes none of
	 * the syscalls sonde reads, so its HTTP that way is not seen. Once per
	 * process (per exec), conn_id 0. */
	HTTP_EV_IO_URING = 4,
};

/* How sonde first saw the connection. */
enum http_origin {
	HTTP_ORIGIN_ACCEPT = 1,   /* accept/accept4: the process is the server */
	HTTP_ORIGIN_CONNECT = 2,  /* connect: the process is the client */
	HTTP_ORIGIN_EXISTING = 3, /* opened before sonde: found at its next read/write */
};

enum http_dir {
	HTTP_DIR_INGRESS = 0, /* the process read these bytes */
	HTTP_DIR_EGRESS = 1,  /* the process wrote them */
};

/* open record flags */
#define HTTP_OPEN_F_TLS (1u << 0) /* the HTTP is the plaintext of TLS (SSL_read/SSL_write) */

/* data record flags */
#define HTTP_DATA_F_SENDFILE (1u << 0)   /* bytes sent from a file: none captured */
#define HTTP_DATA_F_READ_FAULT (1u << 1) /* the payload could not be read: cap is 0 */
#define HTTP_DATA_F_SHED (1u << 2)       /* payload shed, the ring was filling up: cap is 0 */
#define HTTP_DATA_F_TLS (1u << 3)        /* plaintext of an SSL_read/SSL_write */
#define HTTP_DATA_F_SPLICE (1u << 4)     /* bytes spliced between the socket and a pipe:
					  * in no user buffer, none captured */

struct http_event_hdr {
	__u32 kind;     /* enum http_event_kind */
	__u32 pid;      /* thread-group id of the process */
	__u64 conn_id;  /* unique per traced connection, never reused */
	__u64 ts_ns;    /* CLOCK_MONOTONIC; data: syscall exit */
};

struct http_open_event {
	struct http_event_hdr hdr;
	__u32 fd;
	__u8 origin;     /* enum http_origin */
	__u8 flags;      /* HTTP_OPEN_F_* */
	__u16 family;    /* AF_INET or AF_INET6 */
	__u16 lport;     /* host byte order */
	__u16 rport;
	__u8 laddr[16];  /* IPv4 in the first 4 bytes */
	__u8 raddr[16];
	char comm[HTTP_COMM_LEN];
};

struct http_data_event {
	struct http_event_hdr hdr;
	__u64 enter_ns;  /* = ts_ns since the exit-only hooks; kept for the layout */
	__u32 len;       /* real byte count of the syscall */
	__u16 cap;       /* bytes of data[] captured */
	__u8 dir;        /* enum http_dir */
	__u8 tail_len;   /* bytes in tail[] (len > cap only) */
	__u16 flags;     /* HTTP_DATA_F_* */
	__u16 pad;
	__u32 tid;
	__u8 tail[HTTP_TAIL_BYTES];
	__u8 data[HTTP_CAPTURE_BYTES_MAX]; /* only cap bytes are sent */
};

struct http_close_event {
	struct http_event_hdr hdr;
	__u32 fd;
	__u32 pad;
};

struct http_io_uring_event {
	struct http_event_hdr hdr;
	char comm[HTTP_COMM_LEN];
};

enum conn_state_kind {
	CONN_UNKNOWN = 0, /* a TCP socket whose protocol is not known yet */
	CONN_HTTP = 1,    /* announced to userspace: its segments are sent */
	CONN_IGNORED = 2, /* not HTTP: every later syscall stops at the lookup */
	/* left out by the agent's budget sampling (http_tracer_set_sampling):
	 * nothing sent, only its requests counted (STAT_SAMPLED_OUT_*) */
	CONN_SAMPLED = 3,
};

/* Key and value of the kernel's connection map (bpf/http.bpf.c), shared so
 * that the loader can sweep connections of processes that exited. */
struct conn_key {
	__u32 pid;  /* tgid */
	__u32 fd;
};

/* Key of the map from an SSL * to its socket (TLS); swept by the loader
 * when the process is gone. */
struct ssl_key {
	__u32 pid;  /* tgid */
	__u32 pad;
	__u64 ssl;  /* SSL * in the process */
};

struct conn_state {
	__u64 conn_id;
	__u64 sk;       /* struct sock *, to read the 4-tuple when announced */
	__u8 state;     /* enum conn_state_kind of the bytes on the socket */
	__u8 origin;    /* enum http_origin */
	__u8 misses;    /* non-HTTP segments seen while CONN_UNKNOWN */
	__u8 tls;       /* enum conn_state_kind of the plaintext of SSL calls */
	__u8 announced; /* userspace had its open record */
	__u8 tls_io;    /* the socket carries TLS records */
	__u8 shard;     /* ring buffer its records go to (--ring-shards) */
	__u8 pad;
	__u32 exec_gen; /* the process's exec count when it was tracked */
	__u32 pad2;
};

/* Ring buffers the records may be spread over (--ring-shards): a
 * connection's records all go to one, the shard of the CPU it was first
 * seen on, so that each connection's records stay in order. */
#define HTTP_RING_SHARDS_MAX 64

#define HTTP_DATA_HEAD_BYTES __builtin_offsetof(struct http_data_event, data)

#endif
