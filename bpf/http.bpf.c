// SPDX-License-Identifier: GPL-2.0
/* Kernel side of `sonde http`: socket syscalls, enter and exit, on TCP
 * sockets only. A connection's first bytes decide whether it is HTTP; from
 * then on it sends its segments (real byte count, first bytes, last bytes)
 * to userspace, which frames and pairs requests. Anything else costs one or
 * two map lookups per syscall. */
#include "common.bpf.h"
#include <bpf/bpf_endian.h>
#include "http.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EINPROGRESS 115
/* Segments of a connection opened before sonde that may be inspected for a
 * message start before it is declared not HTTP. */
#define HTTP_INFER_MISSES_MAX 64

/* Settings, set by the loader before load. */
const volatile __u32 capture_bytes = 512;  /* <= HTTP_CAPTURE_BYTES_MAX */
const volatile __u32 filter_pid = 0;       /* 0: all processes */
const volatile __u32 self_pid = 0;         /* sonde itself: never traced */
const volatile __u16 filter_port = 0;      /* 0: all ports (local or remote) */

/* All records of this tracer; size set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* TCP sockets of traced processes. A plain hash: a live connection is never
 * evicted behind our back; when full, new ones are counted (map_full). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_state);
} conns SEC(".maps");

/* fds known not to be TCP sockets (files, pipes, UDP...): the second and
 * last lookup of a log write. LRU: an eviction only costs a re-check. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct conn_key);
	__type(value, __u8);
} fd_skip SEC(".maps");

enum call_kind {
	CALL_BUF = 1,      /* read/write/recvfrom/sendto: one user buffer */
	CALL_IOV = 2,      /* readv/writev/recvmsg/sendmsg: an iovec array */
	CALL_SENDFILE = 3, /* bytes from a file: counted, never copied */
	CALL_ACCEPT = 4,
	CALL_CONNECT = 5,
};

/* A syscall in flight on a traced socket: what its exit needs. Kept in
 * task-local storage: cheaper than a hash keyed by tid, and freed with the
 * thread. */
struct call {
	__u64 buf;       /* user buffer, or struct iovec array */
	__u64 enter_ns;
	__u64 conn_id;   /* of an announced connection: exit needs no lookup */
	__u32 fd;
	__u32 iovcnt;
	__u8 kind;       /* enum call_kind, 0: no call in flight */
	__u8 dir;        /* enum http_dir */
	__u8 announced;  /* the connection was CONN_HTTP at entry */
	__u8 pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct call);
} calls SEC(".maps");

static __always_inline struct call *call_get(bool create)
{
	return bpf_task_storage_get(&calls, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* A data record being built, per CPU, with room past data[] so that an
 * iovec copy at any offset below the bound stays inside the value. */
struct data_scratch {
	struct http_data_event ev;
	__u8 slack[HTTP_CAPTURE_BYTES_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct data_scratch);
} data_scratch SEC(".maps");

/* Source of conn_id: a counter, so ids are never reused within a run. */
__u64 next_conn_id = 0;

static __always_inline __u32 current_pid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/* sonde's own output must not become input (a terminal over ssh is a TCP
 * socket one process away), and --pid narrows to one process. */
static __always_inline bool pid_traced(__u32 pid)
{
	return pid != self_pid && (!filter_pid || pid == filter_pid);
}

/* The TCP socket behind fd of the current process, or NULL. */
static __always_inline struct sock *fd_tcp_sock(__u32 fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP ||
	    BPF_CORE_READ(sk, sk_type) != SOCK_STREAM)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return NULL;
	return sk;
}

static __always_inline bool port_selected(struct sock *sk)
{
	if (!filter_port)
		return true;
	return BPF_CORE_READ(sk, __sk_common.skc_num) == filter_port ||
	       bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport)) == filter_port;
}

static __always_inline void emit_close(struct conn_key *key, struct conn_state *st)
{
	struct http_close_event ev = {};

	if (st->state != CONN_HTTP)
		return; /* userspace never heard of it */
	ev.hdr.kind = HTTP_EV_CLOSE;
	ev.hdr.pid = key->pid;
	ev.hdr.conn_id = st->conn_id;
	ev.hdr.ts_ns = bpf_ktime_get_ns();
	ev.fd = key->fd;
	emit_event(&events, &ev, sizeof(ev));
}

/* Start tracking a TCP socket; returns its state, or NULL (map full). A
 * stale entry for the same fd (closed without us seeing it) is closed. */
static __always_inline struct conn_state *conn_track(struct conn_key *key, struct sock *sk,
						     __u8 origin)
{
	struct conn_state st = {}, *old;

	old = bpf_map_lookup_elem(&conns, key);
	if (old)
		emit_close(key, old);
	st.conn_id = __sync_fetch_and_add(&next_conn_id, 1) + 1;
	st.sk = (__u64)sk;
	st.origin = origin;
	st.state = port_selected(sk) ? CONN_UNKNOWN : CONN_IGNORED;
	bpf_map_delete_elem(&fd_skip, key);
	if (bpf_map_update_elem(&conns, key, &st, BPF_ANY)) {
		drop_event(STAT_DROP_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&conns, key);
}

/* Tell userspace about a connection that turned out to be HTTP. */
static __always_inline void announce(struct conn_key *key, struct conn_state *st)
{
	struct sock *sk = (void *)st->sk;
	struct http_open_event ev = {};

	st->state = CONN_HTTP;
	ev.hdr.kind = HTTP_EV_OPEN;
	ev.hdr.pid = key->pid;
	ev.hdr.conn_id = st->conn_id;
	ev.hdr.ts_ns = bpf_ktime_get_ns();
	ev.fd = key->fd;
	ev.origin = st->origin;
	ev.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	ev.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (ev.family == AF_INET) {
		BPF_CORE_READ_INTO(&ev.laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO(&ev.raddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&ev.laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&ev.raddr, sk, __sk_common.skc_v6_daddr);
	}
	bpf_get_current_comm(ev.comm, sizeof(ev.comm));
	emit_event(&events, &ev, sizeof(ev));
}

/* Does a message start here? Request methods and "HTTP/1." responses,
 * recognised by their first four bytes: straight-line compares, so the
 * verifier has few paths to walk. */
enum infer_result { INFER_NO = 0, INFER_YES = 1, INFER_MAYBE = 2 };

#define WORD4(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | (__u32)(d) << 24)

static __always_inline bool start_word(__u32 w, __u32 mask)
{
	return (w & mask) == (WORD4('G', 'E', 'T', ' ') & mask) ||
	       (w & mask) == (WORD4('P', 'O', 'S', 'T') & mask) ||
	       (w & mask) == (WORD4('P', 'U', 'T', ' ') & mask) ||
	       (w & mask) == (WORD4('H', 'E', 'A', 'D') & mask) ||
	       (w & mask) == (WORD4('D', 'E', 'L', 'E') & mask) ||
	       (w & mask) == (WORD4('P', 'A', 'T', 'C') & mask) ||
	       (w & mask) == (WORD4('O', 'P', 'T', 'I') & mask) ||
	       (w & mask) == (WORD4('C', 'O', 'N', 'N') & mask) ||
	       (w & mask) == (WORD4('T', 'R', 'A', 'C') & mask) ||
	       (w & mask) == (WORD4('H', 'T', 'T', 'P') & mask);
}

static __always_inline int infer_http(const __u8 *d, __u32 cap)
{
	__u32 w = 0;

	if (cap == 0)
		return INFER_NO;
	if (cap >= 4) {
		w = WORD4(d[0], d[1], d[2], d[3]);
		return start_word(w, 0xffffffff) ? INFER_YES : INFER_NO;
	}
	/* a 1..3 byte write may be the start of a method */
	w = d[0];
	if (cap > 1)
		w |= (__u32)d[1] << 8;
	if (cap > 2)
		w |= (__u32)d[2] << 16;
	return start_word(w, 0xffffffffu >> (8 * (4 - cap))) ? INFER_MAYBE : INFER_NO;
}

/* Entry of any data syscall: one lookup for a known socket; for an unknown
 * fd, a second one, and the socket check only the first time. Global, like
 * io_exit: see there. */
__noinline int io_enter(__u32 fd, __u64 buf, __u32 iovcnt, __u32 kind, __u32 dir)
{
	struct conn_key key = { .pid = current_pid(), .fd = fd };
	struct conn_state *st;
	struct call *c;

	if (!pid_traced(key.pid))
		return 0;
	st = bpf_map_lookup_elem(&conns, &key);
	if (!st) {
		struct sock *sk;
		__u8 one = 1;

		if (bpf_map_lookup_elem(&fd_skip, &key))
			return 0;
		sk = fd_tcp_sock(fd);
		if (!sk) {
			bpf_map_update_elem(&fd_skip, &key, &one, BPF_ANY);
			return 0;
		}
		st = conn_track(&key, sk, HTTP_ORIGIN_EXISTING);
		if (!st)
			return 0;
	}
	if (st->state == CONN_IGNORED)
		return 0;
	c = call_get(true);
	if (!c) {
		drop_event(STAT_DROP_MAP_FULL);
		return 0;
	}
	c->buf = buf;
	c->enter_ns = bpf_ktime_get_ns();
	c->fd = fd;
	c->iovcnt = iovcnt;
	c->kind = kind;
	c->dir = dir;
	c->announced = st->state == CONN_HTTP;
	c->conn_id = st->conn_id;
	return 0;
}

static __always_inline struct http_data_event *scratch_record(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&data_scratch, &zero);
}

/* Copy up to want bytes of a single user buffer into the scratch record;
 * the tail too when the segment is longer than the capture. Global, like
 * io_exit. 0, or -1 if the memory could not be read. */
__noinline int copy_buf(__u64 buf, __u64 len, __u64 want)
{
	struct http_data_event *e = scratch_record();

	if (!e)
		return -1;
	if (want > HTTP_CAPTURE_BYTES_MAX)
		want = HTTP_CAPTURE_BYTES_MAX;
	barrier_var(want);
	if (want > HTTP_CAPTURE_BYTES_MAX)
		return -1; /* unreachable after the clamp; only for the verifier */
	if (want && bpf_probe_read_user(e->data, want, (void *)buf))
		return -1;
	e->cap = want;
	if (len > want && len >= HTTP_TAIL_BYTES &&
	    !bpf_probe_read_user(e->tail, HTTP_TAIL_BYTES, (void *)(buf + len - HTTP_TAIL_BYTES)))
		e->tail_len = HTTP_TAIL_BYTES;
	return 0;
}

/* State of an iovec walk, on the caller's stack. */
struct iov_walk {
	__u64 iov;     /* struct iovec __user * */
	__u64 len;     /* bytes the syscall moved */
	__u64 want;    /* bytes to capture */
	__u64 off;     /* bytes captured so far */
	__u64 seen;    /* bytes of the iovec walked so far */
	__u64 last_n;  /* bytes used of the last entry walked */
	__u32 last;    /* index of the last entry walked */
	__u32 iovcnt;
	int err;
};

/* One iovec entry: a bpf_loop callback, so the verifier checks one entry,
 * not every path through HTTP_IOV_MAX unrolled ones. */
static long iov_step(__u64 i, void *ctx)
{
	struct iov_walk *w = ctx;
	struct http_data_event *e = scratch_record();
	struct iovec v;
	__u64 n, k, off;

	if (!e || i >= w->iovcnt || w->seen >= w->len)
		return 1;
	if (bpf_probe_read_user(&v, sizeof(v), (struct iovec *)w->iov + i)) {
		w->err = -1;
		return 1;
	}
	n = v.iov_len;
	if (n > w->len - w->seen)
		n = w->len - w->seen; /* only what the syscall really moved */
	if (w->off < w->want) {
		k = w->want - w->off;
		if (k > n)
			k = n;
		off = w->off & (HTTP_CAPTURE_BYTES_MAX - 1);
		barrier_var(k);
		if (k > HTTP_CAPTURE_BYTES_MAX)
			return 1; /* unreachable: want <= HTTP_CAPTURE_BYTES_MAX */
		/* data[] is followed by the scratch slack: off + k stays inside */
		if (k && bpf_probe_read_user(e->data + off, k, v.iov_base)) {
			w->err = -1;
			return 1;
		}
		w->off += k;
	}
	w->seen += n;
	w->last = i;
	w->last_n = n;
	return 0;
}

/* State of the walk back from the last entry for the tail bytes. */
struct tail_walk {
	__u64 iov;
	__u64 last_n;  /* bytes used of entry `last` */
	__u32 last;
	__u32 need;    /* tail bytes still to fill, from the right */
};

/* One entry, last first: the end of a segment is often spread over tiny
 * entries ("\r\n", "0\r\n\r\n"), so the tail is gathered across them. */
static long tail_step(__u64 i, void *ctx)
{
	struct tail_walk *t = ctx;
	struct http_data_event *e = scratch_record();
	struct iovec v;
	__u32 j, take, at;
	__u64 n;

	if (!e || !t->need || i > t->last)
		return 1;
	j = t->last - (__u32)i;
	if (bpf_probe_read_user(&v, sizeof(v), (struct iovec *)t->iov + j))
		return 1;
	n = j == t->last ? t->last_n : v.iov_len;
	take = n < t->need ? (__u32)n : t->need;
	at = t->need - take;
	t->need = at;
	/* masks only for the verifier (need <= HTTP_TAIL_BYTES): tail[] is
	 * followed by data[] in the record, so at + take stays inside it */
	at &= HTTP_TAIL_BYTES - 1;
	take &= 2 * HTTP_TAIL_BYTES - 1;
	if (take && bpf_probe_read_user(e->tail + at, take, (__u8 *)v.iov_base + n - take)) {
		t->need = HTTP_TAIL_BYTES; /* no tail rather than a wrong one */
		return 1;
	}
	return 0;
}

/* The same over an iovec array: the first bytes across entries, and the
 * tail from the entry that holds the last byte. */
static __always_inline int copy_iov(__u64 iov_ptr, __u32 iovcnt, __u64 len, __u64 want)
{
	struct http_data_event *e = scratch_record();
	struct iov_walk w = { .iov = iov_ptr, .len = len, .iovcnt = iovcnt };

	if (!e)
		return -1;
	w.want = want > HTTP_CAPTURE_BYTES_MAX ? HTTP_CAPTURE_BYTES_MAX : want;
	bpf_loop(HTTP_IOV_MAX, iov_step, &w, 0);
	if (w.err)
		return -1;
	e->cap = w.off > w.want ? w.want : w.off;
	if (len > w.want && len >= HTTP_TAIL_BYTES && w.seen == len) {
		struct tail_walk t = {
			.iov = iov_ptr, .last = w.last, .last_n = w.last_n, .need = HTTP_TAIL_BYTES,
		};

		bpf_loop(HTTP_IOV_MAX, tail_step, &t, 0);
		if (!t.need)
			e->tail_len = HTTP_TAIL_BYTES;
	}
	return 0;
}

/* Exit of any data syscall: copy the payload of what really moved, decide
 * whether a new connection is HTTP, send the segment. A global function:
 * the verifier checks it on its own, not along every path of its callers
 * (measured: 23k instead of 74k instructions per exit program, about 1 s
 * less to start sonde http). */
__noinline int io_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct conn_key key = { .pid = current_pid() };
	struct http_data_event *e;
	struct conn_state *st;
	struct call *c;
	int verdict;

	c = call_get(false);
	if (!c || !c->kind || c->kind == CALL_ACCEPT || c->kind == CALL_CONNECT)
		return 0;
	if (ret <= 0)
		goto out;
	/* an announced connection needs nothing from the map; a new one may
	 * be announced now */
	st = NULL;
	if (!c->announced) {
		key.fd = c->fd;
		st = bpf_map_lookup_elem(&conns, &key);
		if (!st || st->state == CONN_IGNORED)
			goto out;
	}
	e = scratch_record();
	if (!e)
		goto out;
	e->hdr.kind = HTTP_EV_DATA;
	e->hdr.pid = key.pid;
	e->hdr.conn_id = c->conn_id;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->enter_ns = c->enter_ns;
	e->len = ret;
	e->cap = 0;
	e->dir = c->dir;
	e->tail_len = 0;
	e->flags = 0;
	e->tid = tid;
	if (c->kind == CALL_SENDFILE) {
		e->flags |= HTTP_DATA_F_SENDFILE;
	} else {
		__u64 want = (__u64)ret < capture_bytes ? (__u64)ret : capture_bytes;
		int err = c->kind == CALL_IOV ? copy_iov(c->buf, c->iovcnt, ret, want)
					      : copy_buf(c->buf, ret, want);
		if (err) {
			e->cap = 0;
			e->tail_len = 0;
			e->flags |= HTTP_DATA_F_READ_FAULT;
			stat_inc(STAT_PARTIAL_READ_FAULT);
		}
	}
	if (st && st->state == CONN_UNKNOWN) {
		verdict = infer_http(e->data, e->cap);
		if (verdict == INFER_NO) {
			/* a fresh connection shows its protocol in its first bytes;
			 * an old one may be mid-message: give it some time */
			if (st->origin != HTTP_ORIGIN_EXISTING || ++st->misses >= HTTP_INFER_MISSES_MAX)
				st->state = CONN_IGNORED;
			goto out;
		}
		announce(&key, st);
	}
	{
		__u64 size = HTTP_DATA_HEAD_BYTES + (__u64)e->cap;

		if (size > sizeof(*e))
			size = sizeof(*e);
		emit_event(&events, e, size);
	}
out:
	c->kind = 0;
	return 0;
}

/* ---- read side ---- */

SEC("tp/syscalls/sys_enter_read")
int sys_enter_read(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, CALL_BUF, HTTP_DIR_INGRESS);
}

SEC("tp/syscalls/sys_enter_recvfrom")
int sys_enter_recvfrom(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, CALL_BUF, HTTP_DIR_INGRESS);
}

SEC("tp/syscalls/sys_enter_readv")
int sys_enter_readv(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], ctx->args[2], CALL_IOV, HTTP_DIR_INGRESS);
}

static __always_inline int msg_enter(struct trace_event_raw_sys_enter *ctx, __u8 dir)
{
	struct user_msghdr *msg = (void *)ctx->args[1];
	struct user_msghdr m;

	/* the iovec pointer is needed at exit; read it now, the header is
	 * the caller's and was just written */
	if (bpf_probe_read_user(&m, sizeof(m), msg))
		return io_enter(ctx->args[0], 0, 0, CALL_IOV, dir);
	return io_enter(ctx->args[0], (__u64)m.msg_iov, m.msg_iovlen, CALL_IOV, dir);
}

SEC("tp/syscalls/sys_enter_recvmsg")
int sys_enter_recvmsg(struct trace_event_raw_sys_enter *ctx)
{
	return msg_enter(ctx, HTTP_DIR_INGRESS);
}

SEC("tp/syscalls/sys_exit_read")
int sys_exit_read(struct trace_event_raw_sys_exit *ctx) { return io_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_recvfrom")
int sys_exit_recvfrom(struct trace_event_raw_sys_exit *ctx) { return io_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_readv")
int sys_exit_readv(struct trace_event_raw_sys_exit *ctx) { return io_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_recvmsg")
int sys_exit_recvmsg(struct trace_event_raw_sys_exit *ctx) { return io_exit(ctx->ret); }

/* ---- write side ---- */

SEC("tp/syscalls/sys_enter_write")
int sys_enter_write(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, CALL_BUF, HTTP_DIR_EGRESS);
}

SEC("tp/syscalls/sys_enter_sendto")
int sys_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], 0, CALL_BUF, HTTP_DIR_EGRESS);
}

SEC("tp/syscalls/sys_enter_writev")
int sys_enter_writev(struct trace_event_raw_sys_enter *ctx)
{
	return io_enter(ctx->args[0], ctx->args[1], ctx->args[2], CALL_IOV, HTTP_DIR_EGRESS);
}

SEC("tp/syscalls/sys_enter_sendmsg")
int sys_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	return msg_enter(ctx, HTTP_DIR_EGRESS);
}

SEC("tp/syscalls/sys_enter_sendfile64")
int sys_enter_sendfile64(struct trace_event_raw_sys_enter *ctx)
{
	/* sendfile(out_fd, in_fd, offset, count): the socket is out_fd */
	return io_enter(ctx->args[0], 0, 0, CALL_SENDFILE, HTTP_DIR_EGRESS);
}

SEC("tp/syscalls/sys_exit_write")
int sys_exit_write(struct trace_event_raw_sys_exit *ctx) { return io_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_sendto")
int sys_exit_sendto(struct trace_event_raw_sys_exit *ctx) { return io_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_writev")
int sys_exit_writev(struct trace_event_raw_sys_exit *ctx) { return io_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_sendmsg")
int sys_exit_sendmsg(struct trace_event_raw_sys_exit *ctx) { return io_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_sendfile64")
int sys_exit_sendfile64(struct trace_event_raw_sys_exit *ctx) { return io_exit(ctx->ret); }

/* ---- connection life ---- */

static __always_inline int open_enter(__u32 fd, __u8 kind)
{
	struct call *c;

	if (!pid_traced(current_pid()))
		return 0;
	c = call_get(true);
	if (!c) {
		drop_event(STAT_DROP_MAP_FULL);
		return 0;
	}
	c->fd = fd;
	c->kind = kind;
	return 0;
}

static __always_inline int open_exit(long ret)
{
	struct conn_key key = { .pid = current_pid() };
	struct call *c = call_get(false);
	struct sock *sk;
	__u8 origin;

	if (!c || (c->kind != CALL_ACCEPT && c->kind != CALL_CONNECT))
		return 0;
	if (c->kind == CALL_ACCEPT) {
		if (ret < 0)
			goto out;
		key.fd = ret;
		origin = HTTP_ORIGIN_ACCEPT;
	} else {
		if (ret < 0 && ret != -EINPROGRESS)
			goto out;
		key.fd = c->fd;
		origin = HTTP_ORIGIN_CONNECT;
	}
	sk = fd_tcp_sock(key.fd);
	if (sk)
		conn_track(&key, sk, origin);
out:
	c->kind = 0;
	return 0;
}

SEC("tp/syscalls/sys_enter_accept")
int sys_enter_accept(struct trace_event_raw_sys_enter *ctx) { return open_enter(ctx->args[0], CALL_ACCEPT); }
SEC("tp/syscalls/sys_enter_accept4")
int sys_enter_accept4(struct trace_event_raw_sys_enter *ctx) { return open_enter(ctx->args[0], CALL_ACCEPT); }
SEC("tp/syscalls/sys_enter_connect")
int sys_enter_connect(struct trace_event_raw_sys_enter *ctx) { return open_enter(ctx->args[0], CALL_CONNECT); }
SEC("tp/syscalls/sys_exit_accept")
int sys_exit_accept(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_accept4")
int sys_exit_accept4(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }
SEC("tp/syscalls/sys_exit_connect")
int sys_exit_connect(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }

SEC("tp/syscalls/sys_enter_close")
int sys_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	struct conn_key key = { .pid = current_pid(), .fd = ctx->args[0] };
	struct conn_state *st;

	if (!pid_traced(key.pid))
		return 0;
	st = bpf_map_lookup_elem(&conns, &key);
	if (st) {
		emit_close(&key, st);
		bpf_map_delete_elem(&conns, &key);
		return 0;
	}
	bpf_map_delete_elem(&fd_skip, &key);
	return 0;
}
