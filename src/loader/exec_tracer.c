/* Loader of the process tracer; see exec_tracer.h. */
#include "loader/exec_tracer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "exec.skel.h"
#include "loader/bpf_env.h"
#include "loader/ringbuf_reader.h"

#define KPROBE_PMU_DIR "/sys/bus/event_source/devices/kprobe"

/* Exec times by pid, so that an exit's duration counts from its exec. Direct
 * mapped: a collision overwrites, and the loser's exit then counts from fork
 * (flagged), which is what happens anyway for a process whose exec sonde did
 * not see. O(1), no allocation per event. */
#define EXEC_TIMES_SLOTS 65536

struct exec_time {
	uint32_t pid;
	uint64_t ts_ns;
};

struct exec_tracer {
	struct exec_time exec_times[EXEC_TIMES_SLOTS];
	struct exec_bpf *skel;
	struct ring_buffer *rb;
	exec_record_fn fn;
	void *ctx;
	struct tracer_stats stats;  /* userspace side; kernel side read on demand */
	struct exec_record rec;     /* reused for every record: no allocation */
};

static const char *const impl_names[EXEC_IMPL_COUNT] = {
	[EXEC_IMPL_TRACEPOINT] = "tracepoint",
	[EXEC_IMPL_RAW_TRACEPOINT] = "raw_tracepoint",
	[EXEC_IMPL_SYSCALLS] = "syscalls",
	[EXEC_IMPL_KPROBE] = "kprobe",
};

int exec_impl_parse(const char *s, enum exec_impl *out)
{
	for (int i = 0; i < EXEC_IMPL_COUNT; i++) {
		if (!strcmp(s, impl_names[i])) {
			*out = (enum exec_impl)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *exec_impl_name(enum exec_impl impl)
{
	return impl < EXEC_IMPL_COUNT ? impl_names[impl] : "unknown";
}

static struct exec_time *exec_time_slot(struct exec_tracer *t, uint32_t pid)
{
	return &t->exec_times[(pid * 2654435761u) & (EXEC_TIMES_SLOTS - 1)];
}

/* Remember exec times; make exit durations count from the exec. */
static void apply_exec_time(struct exec_tracer *t, struct exec_record *r)
{
	struct exec_time *slot = exec_time_slot(t, r->pid);

	if (r->kind == EXEC_EV_EXEC && !(r->flags & EXEC_F_FAILED)) {
		slot->pid = r->pid;
		slot->ts_ns = r->ts_ns;
	} else if (r->kind == EXEC_EV_EXIT && slot->pid == r->pid && slot->ts_ns &&
		   r->ts_ns >= slot->ts_ns) {
		r->duration_ns = r->ts_ns - slot->ts_ns;
		r->flags &= ~EXIT_F_SINCE_FORK;
		slot->pid = 0;
		slot->ts_ns = 0;
	}
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct exec_tracer *t = ctx;

	if (exec_record_decode(data, size, &t->rec)) {
		t->stats.user_dropped[USER_DROP_DECODE_ERROR]++;
		return 0;
	}
	apply_exec_time(t, &t->rec);
	if (t->fn(&t->rec, t->ctx))
		t->stats.user_dropped[USER_DROP_OUTPUT_ERROR]++;
	else
		t->stats.delivered++;
	return 0;
}

static void select_programs(struct exec_bpf *s, enum exec_impl impl, bool forks)
{
	struct bpf_program *prog;
	bool fork_exit_tp = impl == EXEC_IMPL_SYSCALLS || impl == EXEC_IMPL_KPROBE;

	bpf_object__for_each_program(prog, s->obj)
		bpf_program__set_autoload(prog, false);
	switch (impl) {
	case EXEC_IMPL_TRACEPOINT:
		bpf_program__set_autoload(s->progs.tp_sched_exec, true);
		fork_exit_tp = true;
		break;
	case EXEC_IMPL_RAW_TRACEPOINT:
		bpf_program__set_autoload(s->progs.raw_sched_exec, true);
		bpf_program__set_autoload(s->progs.raw_sched_fork, forks);
		bpf_program__set_autoload(s->progs.raw_sched_exit, true);
		break;
	case EXEC_IMPL_SYSCALLS:
		bpf_program__set_autoload(s->progs.sys_enter_execve, true);
		bpf_program__set_autoload(s->progs.sys_enter_execveat, true);
		bpf_program__set_autoload(s->progs.sys_exit_execve, true);
		bpf_program__set_autoload(s->progs.sys_exit_execveat, true);
		break;
	case EXEC_IMPL_KPROBE:
		bpf_program__set_autoload(s->progs.kp_bprm_execve, true);
		bpf_program__set_autoload(s->progs.krp_bprm_execve, true);
		break;
	case EXEC_IMPL_COUNT:
		break;
	}
	if (fork_exit_tp) {
		/* a fork hook costs ~0.5 us per fork: attached only on request */
		bpf_program__set_autoload(s->progs.tp_sched_fork, forks);
		bpf_program__set_autoload(s->progs.tp_sched_exit, true);
	}
	/* state maps of the other implementations need no room */
	if (impl != EXEC_IMPL_SYSCALLS)
		bpf_map__set_max_entries(s->maps.exec_calls, 1);
	if (impl != EXEC_IMPL_KPROBE)
		bpf_map__set_max_entries(s->maps.kprobe_bprm, 1);
}

/* Why attaching a kprobe failed, found from what the attempt ran into. */
static void kprobe_reason(int err, char *buf, size_t size)
{
	struct stat st;

	if (stat(KPROBE_PMU_DIR, &st) != 0)
		snprintf(buf, size, "--impl kprobe needs kprobes, and this kernel has none "
			 "(no kprobe PMU: built without CONFIG_KPROBES); use --impl tracepoint");
	else
		snprintf(buf, size, "--impl kprobe: attaching the kprobe on bprm_execve failed: %s",
			 strerror(-err));
}

int exec_tracer_open(struct exec_tracer **out, const struct exec_tracer_opts *o,
		     exec_record_fn fn, void *ctx, char *err, size_t err_size)
{
	struct exec_tracer *t;
	uint32_t rb_bytes;
	int ret;

	*out = NULL;
	if (o->impl >= EXEC_IMPL_COUNT) {
		snprintf(err, err_size, "unknown implementation");
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	t->fn = fn;
	t->ctx = ctx;
	t->skel = exec_bpf__open();
	if (!t->skel) {
		ret = -errno;
		snprintf(err, err_size, "opening the BPF object failed: %s", strerror(errno));
		goto cleanup;
	}
	t->skel->rodata->filter_pid = o->filter_pid;
	t->skel->rodata->filter_uid_on = o->filter_uid_on;
	t->skel->rodata->filter_uid = o->filter_uid;
	if (o->filter_comm) {
		t->skel->rodata->filter_comm_on = true;
		strncpy((char *)t->skel->rodata->filter_comm, o->filter_comm, EXEC_COMM_LEN - 1);
	}
	rb_bytes = ringbuf_bytes(o->ringbuf_kb, EXEC_RINGBUF_KB_DEFAULT);
	bpf_map__set_max_entries(t->skel->maps.events, rb_bytes);
	t->skel->rodata->ringbuf_wakeup_bytes = ringbuf_wakeup_bytes(rb_bytes);
	select_programs(t->skel, o->impl, o->forks);

	ret = exec_bpf__load(t->skel);
	if (ret) {
		snprintf(err, err_size, "loading the BPF programs failed: %s (run 'sonde doctor'; -v shows the verifier log)",
			 strerror(-ret));
		goto cleanup;
	}
	ret = exec_bpf__attach(t->skel);
	if (ret) {
		if (o->impl == EXEC_IMPL_KPROBE)
			kprobe_reason(ret, err, err_size);
		else
			snprintf(err, err_size, "attaching the %s programs failed: %s (run 'sonde doctor')",
				 impl_names[o->impl], strerror(-ret));
		goto cleanup;
	}
	t->rb = ringbuf_reader_open(t->skel->maps.events, handle_record, t, err, err_size);
	if (!t->rb) {
		ret = -errno;
		goto cleanup;
	}
	*out = t;
	return 0;
cleanup:
	exec_tracer_close(t);
	return ret < 0 ? ret : -EINVAL;
}

int exec_tracer_poll(struct exec_tracer *t, int timeout_ms)
{
	return ringbuf_reader_poll(t->rb, timeout_ms);
}

int exec_tracer_stop(struct exec_tracer *t)
{
	bpf_env_detach_parallel(t->skel->skeleton);
	return ringbuf_reader_drain(t->rb);
}

int exec_tracer_stats(struct exec_tracer *t, struct tracer_stats *out)
{
	*out = t->stats;
	return bpf_env_read_stats(bpf_map__fd(t->skel->maps.stats), out->kernel);
}

void exec_tracer_close(struct exec_tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	exec_bpf__destroy(t->skel);
	free(t);
}
