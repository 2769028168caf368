// SPDX-License-Identifier: GPL-2.0
/* Kernel side of `sonde http`: the exits of socket syscalls (one raw
 * tracepoint for every syscall), on TCP sockets only. A connection's first
 * bytes decide whether it is HTTP; from then on it sends its segments (real
 * byte count, first bytes, last bytes) to userspace, which frames and pairs
 * requests. Anything else costs one or two map lookups per syscall. */
#include "common.bpf.h"
#include <bpf/bpf_endian.h>
#include "http.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define EBADF 9
#define EINPROGRESS 115
#define TS_COMPAT 0x0002 /* x86 thread_info.status: in a 32-bit syscall */
/* Segments of a connection opened before sonde that may be inspected for a
 * message start before it is declared not HTTP. */
#define HTTP_INFER_MISSES_MAX 64

/* Settings, set by the loader before load. */
const volatile __u32 capture_bytes = 512;  /* <= HTTP_CAPTURE_BYTES_MAX */
const volatile __u32 filter_pid = 0;       /* 0: all processes */
const volatile __u32 self_pid = 0;         /* sonde itself: never traced */
const volatile __u16 filter_port = 0;      /* 0: all ports (local or remote) */
/* Ring fill (bytes waiting) from which payload bytes are shed: set by the
 * loader to three quarters of the ring. */
const volatile __u64 shed_bytes = 12 << 20;
/* The loader attached the SSL uprobes (--tls on). */
const volatile bool tls_on = false;
/* Ring buffers (--ring-shards): 1, every record into events; more, a
 * connection's records into shard_rings[its shard], 0 being events. */
const volatile __u32 ring_shards = 1;

/* Runtime knobs of the agent's budget (http_tracer_set_sampling and
 * _set_capture_cap), in .bss so that userspace changes them through the
 * mmaped map without a reload. Off (0) they cost one load each per new
 * connection or per copied segment. sample_keep_one_in: keep 1 in N new
 * connections (0 or 1: all); capture_cap: copy at most this many payload
 * bytes when below capture_bytes (0: no cap). */
volatile __u32 sample_keep_one_in = 0;
volatile __u32 capture_cap = 0;

/* All records of this tracer; size set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* The other shards, created by the loader when ring_shards > 1. The size
 * here is only the template's: each shard is created as large as events. */
struct ring_shard {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, HTTP_RING_SHARDS_MAX);
	__type(key, __u32);
	__array(values, struct ring_shard);
} shard_rings SEC(".maps");

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
	__type(value, __u32); /* exec_gen() when it was found not to be one */
} fd_skip SEC(".maps");

enum call_kind {
	CALL_BUF = 1,      /* read/write/recvfrom/sendto: one user buffer */
	CALL_IOV = 2,      /* readv/writev: an iovec array */
	CALL_MSG = 3,      /* recvmsg/sendmsg: a msghdr and its iovec array */
	CALL_SENDFILE = 4, /* bytes from a file: counted, never copied */
	CALL_SPLICE = 5,   /* bytes between the socket and a pipe: counted, never
			    * copied (they are in no user buffer) */
};

/* x86_64 syscall numbers seen by the one sys_exit program. */
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_accept4 288
#define NR_dup2 33
#define NR_dup3 292
#define NR_close_range 436
#define NR_splice 275
#define NR_io_uring_setup 425
#define NR_io_uring_enter 426
#define NR_recvmmsg 299
#define NR_sendmmsg 307
#define CLOSE_RANGE_CLOEXEC (1U << 2)
/* fds of a close_range looked at, at most (a process that closes more in
 * one call leaves their entries until an exec, the reuse of the fd by a
 * connection, or its exit; the fds not looked at are counted,
 * STAT_UNSEEN_CLOSE_RANGE). */
#define CLOSE_RANGE_SCAN_MAX 4096

/* A segment at most this much longer than its capture is read through to
 * its end in one copy (past data[], into the scratch's slack), and its tail
 * taken from what was read: a bpf_probe_read_user costs ~200 ns on this VM
 * whatever its size (16 and 64 bytes alike, measured in a loop), a KiB more
 * to copy far less. Not sent: the record still carries cap bytes. */
#define HTTP_READ_THROUGH_MAX 1024

/* A data record being built, per CPU, with room past data[] so that an
 * iovec copy at any offset below the bound, read through, stays inside the
 * value. */
struct data_scratch {
	struct http_data_event ev;
	__u8 slack[HTTP_CAPTURE_BYTES_MAX + HTTP_READ_THROUGH_MAX];
};
#define SCRATCH_DATA_BYTES (2 * HTTP_CAPTURE_BYTES_MAX + HTTP_READ_THROUGH_MAX)

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct data_scratch);
} data_scratch SEC(".maps");

/* Source of conn_id: a counter, so ids are never reused within a run. */
__u64 next_conn_id = 0;

/* sonde's own output must not become input (a terminal over ssh is a TCP
 * socket one process away), and --pid narrows to one process. */
static __always_inline bool pid_traced(__u32 pid)
{
	return pid != self_pid && (!filter_pid || pid == filter_pid);
}

/* The current task, or NULL when it is in a 32-bit syscall: its syscall
 * numbers are another table (its 3 is read, our 3 is close), and those are
 * not traced. Asked only by the syscalls sonde handles, and once per exit:
 * the task's fields are then plain loads through its BTF pointer, where
 * helpers (pid_tgid, another current_task) would each be a call and a
 * return, and returns are dear under SRSO "Safe RET" (AMD Zen, as here). */
static __always_inline bool in_compat_syscall(struct task_struct *task)
{
	return task->thread_info.status & TS_COMPAT;
}

static __always_inline struct task_struct *native_task(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return in_compat_syscall(task) ? NULL : task;
}

/* The file behind fd of task (current), or NULL. The syscall that just
 * returned used this slot of the fd table: it is in cache. */
static __always_inline struct file *fd_file(struct task_struct *task, __u32 fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct file *file = NULL;
	__u64 slot;

	if (fd >= fdt->max_fds)
		return NULL;
	slot = (__u64)fdt->fd + (__u64)fd * sizeof(file);
	if (bpf_probe_read_kernel(&file, sizeof(file), (void *)slot))
		return NULL;
	return file;
}

/* The exec count of the current process: an exec closes the CLOEXEC
 * sockets with no close() and leaves their fds free for whatever the new
 * program opens. What was learnt of an fd holds for one exec count. */
static __always_inline __u32 exec_gen(struct task_struct *task)
{
	return (__u32)task->self_exec_id;
}

/* The TCP socket of file, or NULL. */
static __always_inline struct sock *file_tcp_sock(struct file *file)
{
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
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

/* The ring buffer a connection's records go to. With one ring (the
 * default) the branch is gone at load: ring_shards is a constant. */
static __always_inline void *conn_ring(const struct conn_state *st)
{
	__u32 i = st->shard;
	void *rb;

	if (ring_shards <= 1 || !i)
		return &events;
	rb = bpf_map_lookup_elem(&shard_rings, &i);
	return rb ? rb : (void *)&events;
}

static __always_inline void emit_close(struct conn_key *key, struct conn_state *st)
{
	struct http_close_event ev = {};

	if (!st->announced)
		return; /* userspace never heard of it */
	ev.hdr.kind = HTTP_EV_CLOSE;
	ev.hdr.pid = key->pid;
	ev.hdr.conn_id = st->conn_id;
	ev.hdr.ts_ns = bpf_ktime_get_ns();
	ev.fd = key->fd;
	emit_event(conn_ring(st), &ev, sizeof(ev));
}

/* Budget sampling: is the connection with this id kept? Decided once, when
 * it is tracked, so a connection is traced whole or not at all. The id is
 * hashed (Fibonacci) because ids alternate between the client and server
 * ends of a loopback connection: id % N would keep one side only. */
static __always_inline bool conn_sampled_in(__u64 conn_id)
{
	__u32 n = sample_keep_one_in;

	if (n <= 1)
		return true;
	return (__u32)((conn_id * 0x9e3779b97f4a7c15ull) >> 32) % n == 0;
}

/* Start tracking a TCP socket; returns its state, or NULL (map full). A
 * stale entry for the same fd (closed without us seeing it) is closed. */
static __always_inline struct conn_state *conn_track(struct task_struct *task,
						     struct conn_key *key, struct sock *sk,
						     __u8 origin)
{
	struct conn_state st = {}, *old;

	old = bpf_map_lookup_elem(&conns, key);
	if (old)
		emit_close(key, old);
	st.conn_id = __sync_fetch_and_add(&next_conn_id, 1) + 1;
	st.sk = (__u64)sk;
	st.exec_gen = exec_gen(task);
	st.origin = origin;
	if (ring_shards > 1)
		st.shard = bpf_get_smp_processor_id() % ring_shards;
	/* both streams: the socket's bytes and the plaintext of its SSL calls */
	st.state = port_selected(sk) ? CONN_UNKNOWN : CONN_IGNORED;
	if (st.state == CONN_UNKNOWN && !conn_sampled_in(st.conn_id))
		st.state = CONN_SAMPLED;
	st.tls = st.state;
	bpf_map_delete_elem(&fd_skip, key);
	if (bpf_map_update_elem(&conns, key, &st, BPF_ANY)) {
		drop_event(STAT_DROP_MAP_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&conns, key);
}

/* Tell userspace about a connection that turned out to be HTTP, in the
 * clear or (tls) in the plaintext of its SSL calls. */
static __always_inline void announce(struct conn_key *key, struct conn_state *st, bool tls)
{
	struct sock *sk = (void *)st->sk;
	struct http_open_event ev = {};

	st->announced = 1;
	ev.flags = tls ? HTTP_OPEN_F_TLS : 0;
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
	emit_event(conn_ring(st), &ev, sizeof(ev));
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
	e->cap = want;
	if (len > want && len >= HTTP_TAIL_BYTES && len - want <= HTTP_READ_THROUGH_MAX) {
		__u64 n = len, at;

		barrier_var(n);
		if (n > HTTP_CAPTURE_BYTES_MAX + HTTP_READ_THROUGH_MAX)
			return -1; /* unreachable (want <= the capture); for the verifier */
		at = n - HTTP_TAIL_BYTES;
		barrier_var(at);
		if (at > SCRATCH_DATA_BYTES - HTTP_TAIL_BYTES)
			return -1; /* unreachable, as above */
		/* a failed read may be of the bytes past the capture only: then
		 * as below, the capture and the tail apart */
		if (!bpf_probe_read_user(e->data, n, (void *)buf)) {
			__builtin_memcpy(e->tail, e->data + at, HTTP_TAIL_BYTES);
			e->tail_len = HTTP_TAIL_BYTES;
			return 0;
		}
	}
	if (want && bpf_probe_read_user(e->data, want, (void *)buf))
		return -1;
	if (len > want && len >= HTTP_TAIL_BYTES &&
	    !bpf_probe_read_user(e->tail, HTTP_TAIL_BYTES, (void *)(buf + len - HTTP_TAIL_BYTES)))
		e->tail_len = HTTP_TAIL_BYTES;
	return 0;
}

/* State of an iovec walk, on copy_iov's stack: the first HTTP_IOV_MAX
 * entries of the array, read from the process with one copy (not one per
 * entry and again for the tail: a writev of a head and a body cost ~2.2 us
 * at nginx saturation, against ~1.2 us for a recvfrom), and where the walk
 * is. */
struct iov_walk {
	struct iovec v[HTTP_IOV_MAX];
	__u64 len;     /* bytes the syscall moved */
	__u64 want;    /* bytes to capture */
	__u64 off;     /* bytes captured so far */
	__u64 seen;    /* bytes of the iovec walked so far */
	__u64 last_n;  /* bytes used of the last entry walked */
	__u32 last;    /* index of the last entry walked */
	__u32 n;       /* entries in v[] */
	__u32 need;    /* tail walk: tail bytes still to fill, from the right */
	int err;
};

/* One iovec entry: a bpf_loop callback, so the verifier checks one entry,
 * not every path through HTTP_IOV_MAX unrolled ones. */
static long iov_step(__u64 i, void *ctx)
{
	struct iov_walk *w = ctx;
	struct http_data_event *e = scratch_record();
	struct iovec *v;
	__u64 n, k, off;

	if (!e || i >= w->n || w->seen >= w->len)
		return 1;
	v = &w->v[i & (HTTP_IOV_MAX - 1)];
	n = v->iov_len;
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
		if (k && bpf_probe_read_user(e->data + off, k, v->iov_base)) {
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

/* One entry of the walk back from the last one for the tail bytes, last
 * first: the end of a segment is often spread over tiny entries ("\r\n",
 * "0\r\n\r\n"), so the tail is gathered across them. */
static long tail_step(__u64 i, void *ctx)
{
	struct iov_walk *w = ctx;
	struct http_data_event *e = scratch_record();
	struct iovec *v;
	__u32 j, take, at;
	__u64 n;

	if (!e || !w->need || i > w->last)
		return 1;
	j = w->last - (__u32)i;
	v = &w->v[j & (HTTP_IOV_MAX - 1)];
	n = j == w->last ? w->last_n : v->iov_len;
	take = n < w->need ? (__u32)n : w->need;
	at = w->need - take;
	w->need = at;
	/* masks only for the verifier (need <= HTTP_TAIL_BYTES): tail[] is
	 * followed by data[] in the record, so at + take stays inside it */
	at &= HTTP_TAIL_BYTES - 1;
	take &= 2 * HTTP_TAIL_BYTES - 1;
	if (take && bpf_probe_read_user(e->tail + at, take, (__u8 *)v->iov_base + n - take)) {
		w->need = HTTP_TAIL_BYTES; /* no tail rather than a wrong one */
		return 1;
	}
	return 0;
}

/* The same over an iovec array: the first bytes across entries, and the
 * tail from the entry that holds the last byte. Global, like copy_buf: its
 * loops are verified once, not once per state of its callers (clang 19's
 * code made sys_exit_any pass the verifier's 1M-instruction limit when it
 * was inlined). */
__noinline int copy_iov(__u64 iov_ptr, __u64 iovcnt, __u64 len, __u64 want)
{
	struct http_data_event *e = scratch_record();
	struct iov_walk w = { .len = len };
	__u64 bytes;

	if (!e)
		return -1;
	w.n = iovcnt < HTTP_IOV_MAX ? (__u32)iovcnt : HTTP_IOV_MAX;
	bytes = (__u64)w.n * sizeof(struct iovec);
	barrier_var(bytes);
	if (bytes > sizeof(w.v))
		return -1; /* unreachable after the clamp; only for the verifier */
	if (bytes && bpf_probe_read_user(w.v, bytes, (void *)iov_ptr))
		return -1;
	w.want = want > HTTP_CAPTURE_BYTES_MAX ? HTTP_CAPTURE_BYTES_MAX : want;
	bpf_loop(HTTP_IOV_MAX, iov_step, &w, 0);
	if (w.err)
		return -1;
	e->cap = w.off > w.want ? w.want : w.off;
	if (len > w.want && len >= HTTP_TAIL_BYTES && w.seen == len) {
		w.need = HTTP_TAIL_BYTES;
		bpf_loop(HTTP_IOV_MAX, tail_step, &w, 0);
		if (!w.need)
			e->tail_len = HTTP_TAIL_BYTES;
	}
	return 0;
}

/* The connection behind fd of the current process, tracked from now on if
 * it is a TCP socket sonde had not seen (opened before it started): one
 * lookup for a known socket; for an unknown fd a second one, and the socket
 * check only the first time. NULL: not a TCP socket, or the map is full. */
static __always_inline struct conn_state *conn_of_fd(struct task_struct *task,
						     struct conn_key *key)
{
	struct conn_state *st = bpf_map_lookup_elem(&conns, key);
	__u32 gen = exec_gen(task), *skip;
	struct sock *sk;

	if (st) {
		if (st->exec_gen == gen)
			return st;
		/* an exec since: that connection's fd was closed by it */
		emit_close(key, st);
		bpf_map_delete_elem(&conns, key);
	} else {
		skip = bpf_map_lookup_elem(&fd_skip, key);
		if (skip && *skip == gen)
			return NULL;
	}
	sk = file_tcp_sock(fd_file(task, key->fd));
	if (!sk) {
		bpf_map_update_elem(&fd_skip, key, &gen, BPF_ANY);
		return NULL;
	}
	return conn_track(task, key, sk, HTTP_ORIGIN_EXISTING);
}

/* ---- TLS: the plaintext of SSL_read/SSL_write, through uprobes ---- */

/* An SSL call in flight on a thread: what its return needs. */
struct ssl_call {
	__u64 ssl;        /* SSL * */
	__u64 buf;        /* the caller's plaintext buffer */
	__u64 nbytes_ptr; /* size_t * of SSL_read_ex/SSL_write_ex, else 0 */
	__s32 fd;         /* socket of a syscall made inside the call, or -1 */
	__u8 dir;         /* enum http_dir */
	__u8 depth;       /* SSL calls nested in this one (not handled twice) */
	__u8 active;      /* a call is in flight */
	__u8 pad;
};

/* Per thread, in task-local storage: no hash update per call (an LRU hash
 * cost ~0.5 us per SSL call, measured by bench-http), freed with the
 * thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

static __always_inline struct ssl_call *ssl_call_get(struct task_struct *task, bool create)
{
	return bpf_task_storage_get(&ssl_calls, task, 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* The socket of each SSL *, learned from a syscall inside one of its calls
 * (libssl doing its own socket I/O), or from the last TLS socket the thread
 * read (node and other users of memory BIOs, whose socket I/O happens
 * outside the SSL calls). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ssl_key);
	__type(value, __s32);
} ssl_fds SEC(".maps");

/* Per thread (tid): the last TLS socket it read. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __s32);
} tls_last_read SEC(".maps");

/* A syscall on a socket that is not (yet) plain HTTP: inside an SSL call
 * of this thread, its bytes are TLS records of the connection the call is
 * on; the call learns its socket, and the bytes are not HTTP. Outside, a
 * read on a TLS socket is remembered for the memory-BIO case. true: the
 * caller stops here. */
static __always_inline bool tls_socket_io(struct task_struct *task, struct conn_key *key,
					  struct conn_state *st, __u8 dir)
{
	struct ssl_call *c = ssl_call_get(task, false);
	__u32 tid = task->pid;
	__s32 fd = key->fd;

	if (c && c->active) {
		c->fd = fd;
		st->state = CONN_IGNORED;
		st->tls_io = 1;
		return true;
	}
	if (st->tls_io && dir == HTTP_DIR_INGRESS)
		bpf_map_update_elem(&tls_last_read, &tid, &fd, BPF_ANY);
	return false;
}

/* A segment of a sampled-out connection: does it start a request? Its
 * first 4 bytes only (a method, as infer_http checks them), from the first
 * buffer of the call. Global: verified once. 1 yes, 0 no. */
__noinline int sampled_request_start(__u64 buf, __u32 kind, long ret)
{
	struct user_msghdr m;
	struct iovec v;
	__u32 w = 0;

	if (ret < 4 || kind == CALL_SENDFILE || kind == CALL_SPLICE)
		return 0;
	if (kind == CALL_MSG) {
		if (bpf_probe_read_user(&m, sizeof(m), (void *)buf))
			return 0;
		buf = (__u64)m.msg_iov;
		kind = CALL_IOV;
	}
	if (kind == CALL_IOV) {
		if (bpf_probe_read_user(&v, sizeof(v), (void *)buf) || v.iov_len < 4)
			return 0;
		buf = (__u64)v.iov_base;
	}
	if (bpf_probe_read_user(&w, sizeof(w), (void *)buf))
		return 0;
	return start_word(w, 0xffffffff) && w != WORD4('H', 'T', 'T', 'P');
}

/* Count the request a sampled-out connection's segment starts, on the side
 * that carries requests: a server reads them, a client writes them (a
 * connection opened before sonde: by direction). Nothing is sent. */
static __always_inline void count_sampled_out(struct conn_state *st, __u64 buf, __u32 kind,
					      __u8 dir, long ret)
{
	if ((st->origin == HTTP_ORIGIN_ACCEPT && dir != HTTP_DIR_INGRESS) ||
	    (st->origin == HTTP_ORIGIN_CONNECT && dir != HTTP_DIR_EGRESS))
		return;
	if (sampled_request_start(buf, kind, ret))
		stat_inc(dir == HTTP_DIR_INGRESS ? STAT_SAMPLED_OUT_SERVER : STAT_SAMPLED_OUT_CLIENT);
}

/* Exit of any data syscall that moved bytes: find the connection, copy the
 * payload of what really moved (the syscall's arguments are still in its
 * registers), decide whether a new connection is HTTP, send the segment.
 * The return of an SSL call takes the same steps (tls) with the plaintext
 * buffer, on the connection's plaintext stream. Payload is shed first when
 * the ring is filling up: the record keeps its byte count (so framing
 * survives) and drops its bytes, counted, leaving the room to opens and
 * closes, whose loss would corrupt later records. how: enum call_kind |
 * enum http_dir << 8. tls is a constant in each caller, so the verifier
 * walks only one side of each of its branches. */
static __always_inline int segment_exit(__u32 fd, __u64 buf, __u64 iovcnt, __u32 how, long ret,
					const bool tls)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct conn_key key = { .pid = task->tgid, .fd = fd };
	__u32 kind = how & 0xff;
	struct http_data_event *e;
	struct conn_state *st;
	__u8 *stream, state;
	__u64 waiting;
	int verdict;
	void *rb;

	if (!tls && in_compat_syscall(task))
		return 0; /* see native_task() */
	if (!pid_traced(key.pid))
		return 0;
	st = conn_of_fd(task, &key);
	if (!st)
		return 0;
	if (!tls && tls_on && st->state != CONN_HTTP && tls_socket_io(task, &key, st, (how >> 8) & 0xff))
		return 0;
	/* the state of the stream these bytes belong to: on the socket, or
	 * the plaintext of its SSL calls */
	stream = tls ? &st->tls : &st->state;
	state = *stream;
	if (state == CONN_IGNORED)
		return 0;
	if (state == CONN_SAMPLED) {
		count_sampled_out(st, buf, kind, (how >> 8) & 0xff, ret);
		return 0;
	}
	e = scratch_record();
	if (!e)
		return 0;
	rb = conn_ring(st); /* the shed check and the record's ring */
	waiting = bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA); /* for both too */
	e->hdr.kind = HTTP_EV_DATA;
	e->hdr.pid = key.pid;
	e->hdr.conn_id = st->conn_id;
	e->hdr.ts_ns = bpf_ktime_get_ns();
	e->enter_ns = e->hdr.ts_ns;
	e->len = ret;
	e->cap = 0;
	e->dir = (how >> 8) & 0xff;
	e->tail_len = 0;
	e->flags = tls ? HTTP_DATA_F_TLS : 0;
	e->tid = task->pid;
	if (kind == CALL_SENDFILE || kind == CALL_SPLICE) {
		e->flags |= kind == CALL_SENDFILE ? HTTP_DATA_F_SENDFILE : HTTP_DATA_F_SPLICE;
	} else if (state == CONN_HTTP && waiting >= shed_bytes) {
		e->flags |= HTTP_DATA_F_SHED;
		stat_inc(STAT_PARTIAL_SHED);
	} else {
		__u64 limit = capture_bytes, want;
		__u32 cap_now = capture_cap;
		int err;

		/* the budget's cap; copy_buf/copy_iov bound want for the
		 * verifier as before */
		if (cap_now && cap_now < limit)
			limit = cap_now;
		want = (__u64)ret < limit ? (__u64)ret : limit;

		if (kind == CALL_MSG) {
			struct user_msghdr m;

			/* only msg_iov and msg_iovlen are used: the kernel
			 * writes back names and flags, never these */
			if (bpf_probe_read_user(&m, sizeof(m), (void *)buf)) {
				m.msg_iov = NULL;
				m.msg_iovlen = 0;
			}
			buf = (__u64)m.msg_iov;
			iovcnt = m.msg_iovlen;
			kind = CALL_IOV;
		}
		err = kind == CALL_IOV ? copy_iov(buf, iovcnt, ret, want) : copy_buf(buf, ret, want);
		if (err) {
			e->cap = 0;
			e->tail_len = 0;
			e->flags |= HTTP_DATA_F_READ_FAULT;
			stat_inc(STAT_PARTIAL_READ_FAULT);
		}
	}
	if (state == CONN_UNKNOWN) {
		verdict = infer_http(e->data, e->cap);
		if (verdict == INFER_NO) {
			/* a TLS record (handshake, 0x16 0x03): its reads are
			 * remembered for SSL calls that do no socket I/O */
			if (!tls && e->cap >= 2 && e->data[0] == 0x16 && e->data[1] == 0x03)
				st->tls_io = 1;
			/* a fresh connection shows its protocol in its first bytes;
			 * an old one may be mid-message: give it some time */
			if (st->origin != HTTP_ORIGIN_EXISTING || ++st->misses >= HTTP_INFER_MISSES_MAX)
				*stream = CONN_IGNORED;
			return 0;
		}
		*stream = CONN_HTTP;
		if (!st->announced)
			announce(&key, st, tls);
	}
	{
		__u64 size = HTTP_DATA_HEAD_BYTES + (__u64)e->cap;

		if (size > sizeof(*e))
			size = sizeof(*e);
		emit_event_waiting(rb, e, size, waiting);
	}
	return 0;
}

/* Global functions: the verifier checks each once, not along every path of
 * its callers. */
__noinline int data_exit(__u32 fd, __u64 buf, __u64 iovcnt, __u32 how, long ret)
{
	return segment_exit(fd, buf, iovcnt, how, ret, false);
}

__noinline int tls_data_exit(__u32 fd, __u64 buf, long ret, __u32 dir)
{
	return segment_exit(fd, buf, 0, CALL_BUF | dir << 8, ret, true);
}

/* The current task if it is a native one sonde traces, with key set to
 * its connection key for fd; NULL otherwise (key then unset). */
static __always_inline struct task_struct *traced_task(struct conn_key *key, __u32 fd)
{
	struct task_struct *task = native_task();

	if (!task || !pid_traced(task->tgid))
		return NULL;
	key->pid = task->tgid;
	key->fd = fd;
	return task;
}

/* accept/accept4 returned a new fd (the process is its server), or
 * connect(fd) succeeded or is under way (the process is the client). */
static __always_inline int open_exit(__u32 fd, __u8 origin)
{
	struct conn_key key;
	struct task_struct *task = traced_task(&key, fd);
	struct sock *sk;

	if (!task)
		return 0;
	sk = file_tcp_sock(fd_file(task, key.fd));
	if (sk)
		conn_track(task, &key, sk, origin);
	return 0;
}

/* fd was released (close) or made to hold another file (dup2 and dup3 over
 * it): the connection it held is over. At this exit the fd may hold a new
 * connection already, which another thread accepted or connected since: its
 * socket, unlike the one tracked, is the fd's now, and whichever of the two
 * exits comes first, the new connection replaces or keeps the entry
 * (conn_track sends the old one's close). Seen at exit, not entry, so that
 * no syscall tracepoint is enabled: one makes every syscall of every
 * process go through the tracepoint's filter. */
static __always_inline void fd_released(__u32 pid, __u32 fd)
{
	struct conn_key key = { .pid = pid, .fd = fd };
	struct conn_state *st = bpf_map_lookup_elem(&conns, &key);

	if (!st) {
		/* most closed fds are files that were never looked at (a
		 * server's static file after sendfile): a lookup, lock-free,
		 * instead of a delete, which locks the LRU bucket */
		if (bpf_map_lookup_elem(&fd_skip, &key))
			bpf_map_delete_elem(&fd_skip, &key);
		return;
	}
	/* the task is asked only here: close_range walks thousands of fds */
	if ((__u64)file_tcp_sock(fd_file(bpf_get_current_task_btf(), fd)) == st->sk)
		return; /* the fd's next connection, tracked already */
	emit_close(&key, st);
	bpf_map_delete_elem(&conns, &key);
}

static __always_inline int close_exit(__u32 fd)
{
	struct task_struct *task = native_task();

	if (task && pid_traced(task->tgid))
		fd_released(task->tgid, fd);
	return 0;
}

/* close_range(first, last, 0): each fd of the range the process had, up to
 * CLOSE_RANGE_SCAN_MAX of them (a bpf_loop callback: verified once). */
struct range_walk {
	__u32 pid;
	__u32 first;
};

static long range_step(__u64 i, void *ctx)
{
	struct range_walk *w = ctx;

	fd_released(w->pid, w->first + (__u32)i);
	return 0;
}

static __always_inline int close_range_exit(__u32 first, __u32 last)
{
	struct task_struct *task = native_task();
	struct range_walk w = { .first = first };
	__u32 max_fds, n;

	if (!task || !pid_traced(task->tgid))
		return 0;
	w.pid = task->tgid;
	max_fds = task->files->fdt->max_fds;
	if (first >= max_fds)
		return 0;
	if (last >= max_fds)
		last = max_fds - 1;
	if (last < first)
		return 0;
	n = last - first + 1;
	if (n > CLOSE_RANGE_SCAN_MAX)
		stat_add(STAT_UNSEEN_CLOSE_RANGE, n - CLOSE_RANGE_SCAN_MAX);
	bpf_loop(n < CLOSE_RANGE_SCAN_MAX ? n : CLOSE_RANGE_SCAN_MAX, range_step, &w, 0);
	return 0;
}

/* sendmmsg or recvmmsg moved bytes on fd: a vector of messages, rare on TCP,
 * whose bytes sonde does not read. On a connection it tracks (not ignored)
 * the call is counted, so that exchanges that come out incomplete or
 * desynced around it are not left unexplained; any other fd costs one
 * lookup. A connection opened before sonde that only ever uses these calls
 * is never tracked, and stays unseen. */
static __always_inline int mmsg_exit(__u32 fd)
{
	struct conn_key key;
	struct conn_state *st;

	if (!traced_task(&key, fd))
		return 0;
	st = bpf_map_lookup_elem(&conns, &key);
	if (st && st->state != CONN_IGNORED)
		stat_inc(STAT_UNSEEN_MMSG);
	return 0;
}

/* Processes whose use of io_uring was told (pid -> exec count then). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u32);
} io_uring_told SEC(".maps");

/* io_uring_setup or io_uring_enter returned in a traced process: counted,
 * and the process told once per exec (HTTP_EV_IO_URING), since the socket
 * I/O it submits there is not seen. A ring set up with SQPOLL before sonde
 * started may never call either: that stays unseen, as docs say. */
static __always_inline int io_uring_exit(void)
{
	struct task_struct *task = native_task();
	struct http_io_uring_event ev = {};
	__u32 pid, gen, *told;

	if (!task)
		return 0;
	pid = task->tgid;
	if (!pid_traced(pid))
		return 0;
	stat_inc(STAT_UNSEEN_IO_URING);
	gen = exec_gen(task);
	told = bpf_map_lookup_elem(&io_uring_told, &pid);
	if (told && *told == gen)
		return 0;
	bpf_map_update_elem(&io_uring_told, &pid, &gen, BPF_ANY);
	ev.hdr.kind = HTTP_EV_IO_URING;
	ev.hdr.pid = pid;
	ev.hdr.ts_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(ev.comm, sizeof(ev.comm));
	emit_event(&events, &ev, sizeof(ev));
	return 0;
}

#define HOW(kind, dir) ((kind) | (dir) << 8)

/* One program for the exit of every syscall: a switch on the syscall number
 * stops everything else at once. The arguments are read at exit (they are
 * still in the saved registers), so there is no entry hook and no per-call
 * state, and a call that moved no bytes (EAGAIN, EOF) costs no lookup. */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_any, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;

	/* each handler asks whether the call was a 32-bit one (its numbers
	 * are another table): the syscalls sonde does not read cost only
	 * this switch */
	switch (nr) {
	case NR_read:
	case NR_recvfrom:
		if (ret <= 0)
			return 0;
		return data_exit(regs->di, regs->si, 0, HOW(CALL_BUF, HTTP_DIR_INGRESS), ret);
	case NR_readv:
		if (ret <= 0)
			return 0;
		return data_exit(regs->di, regs->si, regs->dx, HOW(CALL_IOV, HTTP_DIR_INGRESS), ret);
	case NR_recvmsg:
		if (ret <= 0)
			return 0;
		return data_exit(regs->di, regs->si, 0, HOW(CALL_MSG, HTTP_DIR_INGRESS), ret);
	case NR_write:
	case NR_sendto:
		if (ret <= 0)
			return 0;
		return data_exit(regs->di, regs->si, 0, HOW(CALL_BUF, HTTP_DIR_EGRESS), ret);
	case NR_writev:
		if (ret <= 0)
			return 0;
		return data_exit(regs->di, regs->si, regs->dx, HOW(CALL_IOV, HTTP_DIR_EGRESS), ret);
	case NR_sendmsg:
		if (ret <= 0)
			return 0;
		return data_exit(regs->di, regs->si, 0, HOW(CALL_MSG, HTTP_DIR_EGRESS), ret);
	case NR_sendfile:
		/* sendfile(out_fd, in_fd, offset, count): the socket is out_fd */
		if (ret <= 0)
			return 0;
		return data_exit(regs->di, 0, 0, HOW(CALL_SENDFILE, HTTP_DIR_EGRESS), ret);
	case NR_splice:
		/* splice(fd_in, off_in, fd_out, off_out, len, flags): one end
		 * is a pipe, the other may be a traced socket, either way */
		if (ret <= 0)
			return 0;
		data_exit(regs->dx, 0, 0, HOW(CALL_SPLICE, HTTP_DIR_EGRESS), ret);
		return data_exit(regs->di, 0, 0, HOW(CALL_SPLICE, HTTP_DIR_INGRESS), ret);
	case NR_io_uring_setup:
	case NR_io_uring_enter:
		if (ret < 0)
			return 0;
		return io_uring_exit();
	case NR_sendmmsg:
	case NR_recvmmsg:
		if (ret <= 0)
			return 0;
		return mmsg_exit(regs->di);
	case NR_accept:
	case NR_accept4:
		if (ret < 0)
			return 0;
		return open_exit(ret, HTTP_ORIGIN_ACCEPT);
	case NR_connect:
		if (ret < 0 && ret != -EINPROGRESS)
			return 0;
		return open_exit(regs->di, HTTP_ORIGIN_CONNECT);
	case NR_close:
		/* the fd is released even when close fails, unless it was
		 * not open */
		if (ret == -EBADF)
			return 0;
		return close_exit(regs->di);
	case NR_dup2:
	case NR_dup3:
		/* the new fd held a file until now (closed silently) */
		if (ret < 0 || ret == (long)regs->di)
			return 0;
		return close_exit(ret);
	case NR_close_range:
		if (ret < 0 || (regs->dx & CLOSE_RANGE_CLOEXEC))
			return 0;
		return close_range_exit(regs->di, regs->si);
	}
	return 0;
}

/* Entry of SSL_read/SSL_write and their _ex forms. */
static __always_inline int ssl_enter(__u64 ssl, __u64 buf, __u64 nbytes_ptr, __u8 dir)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct ssl_call *c;

	if (!pid_traced(task->tgid))
		return 0;
	c = ssl_call_get(task, true);
	if (!c) {
		drop_event(STAT_DROP_MAP_FULL);
		return 0;
	}
	if (c->active) {
		c->depth++; /* an SSL call inside another: the outer one counts */
		return 0;
	}
	c->ssl = ssl;
	c->buf = buf;
	c->nbytes_ptr = nbytes_ptr;
	c->fd = -1;
	c->dir = dir;
	c->depth = 0;
	c->active = 1;
	return 0;
}

/* Return of an SSL call: rc is its return value; the _ex forms (and
 * OpenSSL's workers, hooked as such) return > 0 on success and store the
 * byte count through nbytes_ptr. */
static __always_inline int ssl_exit(long rc, bool ex)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct ssl_key sk = { .pid = task->tgid };
	struct ssl_call *c = ssl_call_get(task, false);
	struct ssl_call call;
	__u32 tid = task->pid;
	__s32 *known;
	__u64 n = 0;

	if (!c || !c->active)
		return 0;
	if (c->depth) {
		c->depth--;
		return 0;
	}
	call = *c;
	c->active = 0;
	if (ex) {
		if (rc <= 0 || bpf_probe_read_user(&n, sizeof(n), (void *)call.nbytes_ptr))
			return 0;
	} else {
		if (rc <= 0)
			return 0;
		n = rc;
	}
	if (!n)
		return 0;
	sk.ssl = call.ssl;
	known = bpf_map_lookup_elem(&ssl_fds, &sk);
	if (call.fd < 0 && known) {
		call.fd = *known;
	} else if (call.fd < 0) {
		__s32 *last = bpf_map_lookup_elem(&tls_last_read, &tid);

		if (!last) {
			drop_event(STAT_DROP_TLS_NO_CONN);
			return 0;
		}
		call.fd = *last;
	}
	/* learnt, or changed (an SSL * reused on another socket) */
	if (!known || *known != call.fd)
		bpf_map_update_elem(&ssl_fds, &sk, &call.fd, BPF_ANY);
	return tls_data_exit(call.fd, call.buf, n, call.dir);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_enter, void *ssl, void *buf)
{
	return ssl_enter((__u64)ssl, (__u64)buf, 0, HTTP_DIR_INGRESS);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_exit, int rc)
{
	return ssl_exit(rc, false);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_enter, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return ssl_enter((__u64)ssl, (__u64)buf, (__u64)readbytes, HTTP_DIR_INGRESS);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_read_ex_exit, int rc)
{
	return ssl_exit(rc, true);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_enter, void *ssl, const void *buf)
{
	return ssl_enter((__u64)ssl, (__u64)buf, 0, HTTP_DIR_EGRESS);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_exit, int rc)
{
	return ssl_exit(rc, false);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_enter, void *ssl, const void *buf, __u64 num, __u64 *written)
{
	return ssl_enter((__u64)ssl, (__u64)buf, (__u64)written, HTTP_DIR_EGRESS);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_write_ex_exit, int rc)
{
	return ssl_exit(rc, true);
}
