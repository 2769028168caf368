// SPDX-License-Identifier: GPL-2.0
/* Kernel side of `sonde exec`: process exec, fork and exit, in four
 * interchangeable implementations (sched tracepoints, raw tracepoints,
 * execve syscall tracepoints, kprobes). The loader autoloads only the
 * programs of the chosen implementation. */
#include "common.bpf.h"
#include "exec.h"

char LICENSE[] SEC("license") = "GPL";

/* Filters, set by the loader before load; 0 / false means "all". */
const volatile __u32 filter_pid = 0;
const volatile bool filter_uid_on = false;
const volatile __u32 filter_uid = 0;
const volatile bool filter_comm_on = false;
const volatile char filter_comm[EXEC_COMM_LEN] = {};

/* All records of this tracer; size set by the loader (--ringbuf-kb). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* One exec record being built, per CPU (too large for the BPF stack), with
 * slack after args[] so that a string read at any offset below the bound
 * stays inside the map value. */
struct exec_scratch {
	struct exec_event ev;
	char slack[EXEC_ARG_BYTES_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_scratch);
} exec_scratch SEC(".maps");

/* syscalls implementation: an execve in flight (tid -> its user pointers).
 * Nothing is read at entry: the strings may not be resident yet (a child
 * after fork() has no page-table entries for file-backed pages, and BPF
 * cannot fault them in). At exit the kernel has touched the file name, and
 * after a successful exec the new image holds argv on its stack. */
struct exec_call {
	__u64 filename;  /* const char __user * */
	__u64 argv;      /* const char __user *const __user * */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct exec_call);
} exec_calls SEC(".maps");

/* kprobe implementation: bprm of an exec in flight (tid -> pointer). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} kprobe_bprm SEC(".maps");

static __always_inline bool comm_matches(const char *comm)
{
	if (!filter_comm_on)
		return true;
	for (int i = 0; i < EXEC_COMM_LEN; i++) {
		if (comm[i] != filter_comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/* Fields of the current task, read as plain loads through its BTF pointer
 * rather than with helpers: a helper is a call and a return, and returns
 * are dear where the kernel mitigates SRSO with "Safe RET" (AMD Zen, as
 * here): at exec, the comm helper cost ~190 ns more than two loads, the
 * uid helper ~70 ns more than one. Same values as bpf_get_current_comm(),
 * bpf_get_current_uid_gid() (initial user namespace) and
 * bpf_get_current_cgroup_id() (the default hierarchy's cgroup). */
static __always_inline void task_comm(char *dst, struct task_struct *task)
{
	/* task->comm is NUL-padded (set with strscpy_pad) */
	*(__u64 *)&dst[0] = *(__u64 *)&task->comm[0];
	*(__u64 *)&dst[8] = *(__u64 *)&task->comm[8];
}

static __always_inline __u32 task_uid(struct task_struct *task)
{
	return task->cred->uid.val;
}

static __always_inline __u64 task_cgroup_id(struct task_struct *task)
{
	return task->cgroups->dfl_cgrp->kn->id;
}

/* Whether the current task passes the filters (pid, uid, comm). */
static __always_inline bool task_passes_filters(struct task_struct *task)
{
	if (filter_pid && task->tgid != filter_pid)
		return false;
	if (filter_uid_on && task_uid(task) != filter_uid)
		return false;
	if (filter_comm_on) {
		char comm[EXEC_COMM_LEN];

		task_comm(comm, task);
		return comm_matches(comm);
	}
	return true;
}

/* Fill the header from the current task (the filters are checked apart). */
static __always_inline void fill_hdr_only(struct exec_event_hdr *h, __u32 kind,
					  struct task_struct *task)
{
	h->kind = kind;
	h->pid = task->tgid;
	h->ppid = task->real_parent->tgid;
	h->flags = 0;
	h->ts_ns = bpf_ktime_get_ns();
	task_comm(h->comm, task);
}

/* Fill the header from the current task; false if the filters reject it. */
static __always_inline bool fill_hdr(struct exec_event_hdr *h, __u32 kind,
				     struct task_struct *task)
{
	if (!task_passes_filters(task))
		return false;
	fill_hdr_only(h, kind, task);
	return true;
}

static __always_inline struct exec_event *scratch_event(void)
{
	__u32 zero = 0;
	struct exec_scratch *s = bpf_map_lookup_elem(&exec_scratch, &zero);

	return s ? &s->ev : NULL;
}

/* Where the current (already exec'd) process's argument bytes are: the
 * start, and the size (what the return says). */
static __always_inline __u64 mm_args(struct task_struct *task, unsigned long *start)
{
	struct mm_struct *mm = task->mm;
	unsigned long end = mm ? mm->arg_end : 0;

	*start = mm ? mm->arg_start : 0;
	return end > *start ? end - *start : 0;
}

/* total argument bytes at start into e->args, at most room of them (a
 * constant, <= EXEC_ARGS_BYTES_MAX: what e has room for); marked cut when
 * there were more, or unread on a fault. */
static __always_inline void read_args(struct exec_event *e, unsigned long start, __u64 total,
				      __u64 room)
{
	__u64 len = total;

	e->args_total_bytes = total > 0xffffffffULL ? 0xffffffffU : (__u32)total;
	e->args_len = 0;
	if (len > room) {
		len = room;
		e->hdr.flags |= EXEC_F_ARGS_TRUNCATED;
	}
	/* re-check after a barrier so the verifier sees the bound on the
	 * register that is passed as the size */
	barrier_var(len);
	if (len == 0 || len > room)
		return;
	if (bpf_probe_read_user(e->args, len, (void *)start)) {
		e->hdr.flags |= EXEC_F_ARGS_FAULT;
		stat_inc(STAT_PARTIAL_READ_FAULT);
		return;
	}
	e->args_len = len;
}

static __always_inline void read_args_from_mm(struct exec_event *e, struct task_struct *task)
{
	unsigned long start;
	__u64 total = mm_args(task, &start);

	read_args(e, start, total, EXEC_ARGS_BYTES_MAX);
}

static __always_inline void fill_exec_common(struct exec_event *e, struct task_struct *task)
{
	e->uid = task_uid(task);
	e->retval = 0;
	e->cgroup_id = task_cgroup_id(task);
	e->argc_total = 0;
}

static __always_inline void set_filename_len(struct exec_event *e, long n)
{
	/* n counts the NUL; a full buffer means the name may be cut */
	if (n <= 0) {
		e->filename_len = 0;
		e->filename[0] = '\0';
		return;
	}
	e->filename_len = n - 1;
	if (n >= EXEC_FILENAME_BYTES_MAX)
		e->hdr.flags |= EXEC_F_FILENAME_TRUNCATED;
}

static __always_inline void emit_exec(struct exec_event *e)
{
	__u64 len = e->args_len;

	/* keep the bound visible to the verifier: the size must stay in e */
	if (len > EXEC_ARGS_BYTES_MAX)
		len = EXEC_ARGS_BYTES_MAX;
	barrier_var(len);
	if (len > EXEC_ARGS_BYTES_MAX)
		return; /* unreachable after the clamp; only for the verifier */
	emit_event(&events, e, EXEC_EVENT_HEAD_BYTES + len);
}

/* ---- exec records written straight into the ring ----
 * The sched-tracepoint implementations know the argument bytes' length
 * before reading them (mm->arg_start..arg_end), so they reserve the record
 * in the ring and read the file name and argv into it: no per-CPU scratch
 * and no copy. An exec runs on caches its own loading has just evicted, so
 * every line touched is a miss: this took tp_sched_exec from 2,307 to
 * 2,030 ns (bench-exec, 1,000 exec/s). The verifier wants a constant size
 * per reserve, hence size
 * classes; a record is at most EXEC_ARGS_CLASS_* - args_len bytes longer
 * than its content (the reader goes by args_len). */
#define EXEC_ARGS_CLASS_SMALL 256
#define EXEC_ARGS_CLASS_MEDIUM 1024

/* Fill and send a reserved record of room argument bytes (a size class:
 * the whole argv fits, or room is EXEC_ARGS_BYTES_MAX). */
static __always_inline void exec_direct_fill(struct exec_event *e, __u64 room,
					     struct task_struct *task, const char *kfilename,
					     __u32 argc_total, unsigned long start, __u64 total,
					     __u64 waiting)
{
	long n;

	fill_hdr_only(&e->hdr, EXEC_EV_EXEC, task);
	fill_exec_common(e, task);
	e->argc_total = argc_total;
	n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), kfilename);
	set_filename_len(e, n);
	read_args(e, start, total, room);
	submit_event(e, waiting);
}

/* The exec record of the current task, which has just exec'd: file name
 * from kernel memory, argv from the new image. */
static __always_inline int emit_exec_direct(struct task_struct *task, const char *kfilename,
					    __u32 argc_total)
{
	unsigned long start;
	__u64 total = mm_args(task, &start), waiting;
	struct exec_event *e;

	if (!task_passes_filters(task))
		return 0;
	waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (total <= EXEC_ARGS_CLASS_SMALL) {
		e = bpf_ringbuf_reserve(&events, EXEC_EVENT_HEAD_BYTES + EXEC_ARGS_CLASS_SMALL, 0);
		if (e)
			exec_direct_fill(e, EXEC_ARGS_CLASS_SMALL, task, kfilename, argc_total,
					 start, total, waiting);
	} else if (total <= EXEC_ARGS_CLASS_MEDIUM) {
		e = bpf_ringbuf_reserve(&events, EXEC_EVENT_HEAD_BYTES + EXEC_ARGS_CLASS_MEDIUM, 0);
		if (e)
			exec_direct_fill(e, EXEC_ARGS_CLASS_MEDIUM, task, kfilename, argc_total,
					 start, total, waiting);
	} else {
		e = bpf_ringbuf_reserve(&events, sizeof(struct exec_event), 0);
		if (e)
			exec_direct_fill(e, EXEC_ARGS_BYTES_MAX, task, kfilename, argc_total,
					 start, total, waiting);
	}
	if (!e)
		drop_event(STAT_DROP_RINGBUF_FULL);
	return 0;
}

/* ---- exit and fork, shared by every implementation ---- */

static __always_inline int handle_exit(struct task_struct *task, bool group_dead)
{
	struct exec_exit_event *ev;
	__u64 waiting;

	if (!group_dead)
		return 0; /* a thread, or not the last one of its process */
	if (!task_passes_filters(task))
		return 0;
	/* built in the ring, as exec records are */
	waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		drop_event(STAT_DROP_RINGBUF_FULL);
		return 0;
	}
	fill_hdr_only(&ev->hdr, EXEC_EV_EXIT, task);
	/* since fork: the loader knows the exec time from the exec record and
	 * makes it "since exec"; keeping it here would cost a map update per
	 * exec (~0.8 us measured) */
	ev->duration_ns = ev->hdr.ts_ns - task->start_time;
	ev->hdr.flags |= EXIT_F_SINCE_FORK;
	ev->exit_status = task->exit_code;
	ev->pad = 0;
	submit_event(ev, waiting);
	return 0;
}

static __always_inline int handle_fork(struct task_struct *parent, __u32 child_pid,
				       __u32 child_tgid)
{
	struct exec_fork_event ev = {};

	if (child_pid != child_tgid)
		return 0; /* a new thread, not a process */
	if (!fill_hdr(&ev.hdr, EXEC_EV_FORK, parent))
		return 0;
	/* the record is about the child: its pid, its parent */
	ev.hdr.ppid = ev.hdr.pid;
	ev.hdr.pid = child_pid;
	emit_event(&events, &ev, sizeof(ev));
	return 0;
}

/* Classic tracepoints give only the child's pid. New processes (not threads)
 * are appended to their real parent's children list in copy_process(), so
 * the child is the last entry there: of the forking task, or of its parent
 * for CLONE_PARENT. Threads are never on a children list. */
static __always_inline bool is_last_child(struct task_struct *parent, __u32 pid)
{
	struct list_head *last = BPF_CORE_READ(parent, children.prev);
	struct task_struct *child;

	if (!last)
		return false;
	child = container_of(last, struct task_struct, sibling);
	return BPF_CORE_READ(child, pid) == pid && BPF_CORE_READ(child, tgid) == pid;
}

/* ---- implementation "tracepoint": sched tracepoints ---- */

SEC("tp/sched/sched_process_exec")
int tp_sched_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	__u32 off = ctx->__data_loc_filename & 0xFFFF;

	return emit_exec_direct(bpf_get_current_task_btf(), (char *)ctx + off, 0);
}

SEC("tp/sched/sched_process_fork")
int tp_sched_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 child = ctx->child_pid;

	if (is_last_child(task, child) ||
	    is_last_child(BPF_CORE_READ(task, real_parent), child))
		return handle_fork(task, child, child);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int tp_sched_exit(void *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();

	/* signal->live reaches 0 in do_exit() before this tracepoint fires */
	return handle_exit(task, task->signal->live.counter == 0);
}

/* ---- implementation "raw_tracepoint" ---- */

SEC("raw_tp/sched_process_exec")
int raw_sched_exec(struct bpf_raw_tracepoint_args *ctx)
{
	/* args[0] is current: its BTF pointer reads fields without helpers */
	struct linux_binprm *bprm = (void *)ctx->args[2];

	return emit_exec_direct(bpf_get_current_task_btf(), BPF_CORE_READ(bprm, filename),
				BPF_CORE_READ(bprm, argc));
}

SEC("raw_tp/sched_process_fork")
int raw_sched_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = bpf_get_current_task_btf(); /* args[0] */
	struct task_struct *child = (void *)ctx->args[1];

	return handle_fork(parent, BPF_CORE_READ(child, pid), BPF_CORE_READ(child, tgid));
}

SEC("raw_tp/sched_process_exit")
int raw_sched_exit(struct bpf_raw_tracepoint_args *ctx)
{
	/* sched_process_exit(struct task_struct *p, bool group_dead); p is current */
	return handle_exit(bpf_get_current_task_btf(), (bool)ctx->args[1]);
}

/* ---- implementation "syscalls": execve/execveat enter and exit ---- */

static __always_inline int exec_call_begin(const char *filename, const char *const *argv)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_call call = { .filename = (__u64)filename, .argv = (__u64)argv };

	if (filter_pid && (bpf_get_current_pid_tgid() >> 32) != filter_pid)
		return 0;
	if (bpf_map_update_elem(&exec_calls, &tid, &call, BPF_ANY))
		drop_event(STAT_DROP_MAP_FULL);
	return 0;
}

/* State of an argv walk, on the caller's stack. */
struct argv_walk {
	__u64 argv;    /* const char __user *const __user * */
	__u32 off;     /* bytes of args[] filled */
	__u32 count;   /* strings read */
	__u32 flags;   /* EXEC_F_ARGS_* found on the way */
	__u32 done;    /* the NULL terminator was reached */
};

/* One argument: a bpf_loop callback, so the verifier checks one string read
 * instead of EXEC_ARGS_COUNT_MAX unrolled ones. The scratch value has
 * EXEC_ARG_BYTES_MAX of slack past args[], so a read at any offset below
 * the bound stays inside it. */
static long argv_step(__u64 i, void *ctx)
{
	struct argv_walk *w = ctx;
	struct exec_event *e = scratch_event();
	const char *arg = NULL;
	long n;

	if (!e)
		return 1;
	if (bpf_probe_read_user(&arg, sizeof(arg), (const char *const *)w->argv + i)) {
		w->flags |= EXEC_F_ARGS_FAULT;
		return 1;
	}
	if (!arg) {
		w->done = 1;
		return 1;
	}
	if (w->off >= EXEC_ARGS_BYTES_MAX) {
		w->flags |= EXEC_F_ARGS_TRUNCATED;
		return 1;
	}
	n = bpf_probe_read_user_str(e->args + (w->off & (EXEC_ARGS_BYTES_MAX - 1)),
				    EXEC_ARG_BYTES_MAX, arg);
	if (n <= 0) {
		w->flags |= EXEC_F_ARGS_FAULT;
		return 1;
	}
	if (n == EXEC_ARG_BYTES_MAX)
		w->flags |= EXEC_F_ARGS_TRUNCATED; /* this argument was cut */
	w->off += n;
	w->count++;
	return 0;
}

/* argv of a failed exec, from the caller's memory: walk the pointer array. */
static __always_inline void read_args_from_argv(struct exec_event *e, const char *const *argv)
{
	struct argv_walk w = { .argv = (__u64)argv };

	bpf_loop(EXEC_ARGS_COUNT_MAX, argv_step, &w, 0);
	if (!w.done && !(w.flags & (EXEC_F_ARGS_FAULT | EXEC_F_ARGS_TRUNCATED)))
		w.flags |= EXEC_F_ARGS_TRUNCATED; /* more than EXEC_ARGS_COUNT_MAX */
	if (w.off > EXEC_ARGS_BYTES_MAX) {
		w.off = EXEC_ARGS_BYTES_MAX;
		w.flags |= EXEC_F_ARGS_TRUNCATED;
	}
	e->hdr.flags |= w.flags;
	e->args_len = w.off;
	e->args_total_bytes = (w.flags & (EXEC_F_ARGS_TRUNCATED | EXEC_F_ARGS_FAULT)) ? 0 : w.off;
	if (!(w.flags & (EXEC_F_ARGS_TRUNCATED | EXEC_F_ARGS_FAULT)))
		e->argc_total = w.count;
	if (w.flags & EXEC_F_ARGS_FAULT)
		stat_inc(STAT_PARTIAL_READ_FAULT);
}

static __always_inline int exec_call_end(long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_call *call = bpf_map_lookup_elem(&exec_calls, &tid);
	struct exec_event *e;
	const char *filename;
	long n;

	if (!call)
		return 0; /* the call began before sonde attached */
	e = scratch_event();
	if (!e || !fill_hdr(&e->hdr, EXEC_EV_EXEC, task))
		goto out;
	fill_exec_common(e, task);
	e->retval = ret;
	if (ret < 0) {
		e->hdr.flags |= EXEC_F_FAILED;
		filename = (const char *)call->filename;
		read_args_from_argv(e, (const char *const *)call->argv);
	} else {
		/* the new image: execfn sits right above the environment strings */
		filename = (const char *)BPF_CORE_READ(task, mm, env_end);
		read_args_from_mm(e, task);
	}
	n = bpf_probe_read_user_str(e->filename, sizeof(e->filename), filename);
	if (n <= 0)
		stat_inc(STAT_PARTIAL_READ_FAULT);
	set_filename_len(e, n);
	emit_exec(e);
out:
	bpf_map_delete_elem(&exec_calls, &tid);
	return 0;
}

SEC("tp/syscalls/sys_enter_execve")
int sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return exec_call_begin((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_execveat")
int sys_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return exec_call_begin((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

SEC("tp/syscalls/sys_exit_execve")
int sys_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return exec_call_end(ctx->ret);
}

SEC("tp/syscalls/sys_exit_execveat")
int sys_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return exec_call_end(ctx->ret);
}

/* ---- implementation "kprobe": bprm_execve entry and return ----
 * Only loaded where the kernel has kprobes (not on a CONFIG_KPROBES=n
 * kernel, where the loader refuses --impl kprobe with that reason). */

SEC("kprobe/bprm_execve")
int BPF_KPROBE(kp_bprm_execve, struct linux_binprm *bprm)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 ptr = (__u64)bprm;

	if (bpf_map_update_elem(&kprobe_bprm, &tid, &ptr, BPF_ANY))
		drop_event(STAT_DROP_MAP_FULL);
	return 0;
}

SEC("kretprobe/bprm_execve")
int BPF_KRETPROBE(krp_bprm_execve, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct linux_binprm *bprm;
	struct exec_event *e;
	__u64 *ptr;
	long n;

	ptr = bpf_map_lookup_elem(&kprobe_bprm, &tid);
	if (!ptr)
		return 0;
	bprm = (void *)*ptr;
	bpf_map_delete_elem(&kprobe_bprm, &tid);
	e = scratch_event();
	if (!e || !fill_hdr(&e->hdr, EXEC_EV_EXEC, task))
		return 0;
	fill_exec_common(e, task);
	e->retval = ret;
	e->argc_total = BPF_CORE_READ(bprm, argc);
	n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename),
				      BPF_CORE_READ(bprm, filename));
	set_filename_len(e, n);
	if (ret < 0) {
		/* the old image is still in place: its argv is not this exec's */
		e->hdr.flags |= EXEC_F_FAILED;
		e->args_len = 0;
		e->args_total_bytes = 0;
	} else {
		read_args_from_mm(e, task);
	}
	emit_exec(e);
	return 0;
}
