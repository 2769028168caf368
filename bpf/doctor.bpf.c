// SPDX-License-Identifier: GPL-2.0
/* Tiny programs `sonde doctor` loads one at a time to find out, by trying,
 * which hooks and helpers this kernel offers. Every program counts its runs
 * in .bss so the loader can tell "attached" from "attached and fired". */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Process whose events count; set by the loader before load. */
const volatile __u32 target_tgid = 0;

/* Runs of each probe program, read back through the skeleton's .bss. */
__u64 hits_syscall_tp = 0;
__u64 hits_sched_tp = 0;
__u64 hits_raw_tp = 0;
__u64 hits_kprobe = 0;
__u64 hits_fentry = 0;
__u64 hits_uprobe = 0;

static __always_inline bool from_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_tgid;
}

SEC("tp/syscalls/sys_enter_getpid")
int doctor_syscall_tp(void *ctx)
{
	if (from_target())
		__sync_fetch_and_add(&hits_syscall_tp, 1);
	return 0;
}

/* sched_process_fork fires in the parent, so the parent's tgid matches. */
SEC("tp/sched/sched_process_fork")
int doctor_sched_tp(void *ctx)
{
	if (from_target())
		__sync_fetch_and_add(&hits_sched_tp, 1);
	return 0;
}

/* A BTF-typed raw tracepoint on the syscall exit, as `sonde http` uses. */
SEC("tp_btf/sys_exit")
int BPF_PROG(doctor_raw_tp, struct pt_regs *regs, long ret)
{
	if (from_target())
		__sync_fetch_and_add(&hits_raw_tp, 1);
	return 0;
}

/* Attached by the loader to a kernel function it names. */
SEC("kprobe")
int doctor_kprobe(void *ctx)
{
	if (from_target())
		__sync_fetch_and_add(&hits_kprobe, 1);
	return 0;
}

SEC("fentry/do_nanosleep")
int BPF_PROG(doctor_fentry)
{
	if (from_target())
		__sync_fetch_and_add(&hits_fentry, 1);
	return 0;
}

/* Attached by the loader to a function of its own binary. */
SEC("uprobe")
int doctor_uprobe(void *ctx)
{
	if (from_target())
		__sync_fetch_and_add(&hits_uprobe, 1);
	return 0;
}

/* Only loaded, never attached: the verifier refuses this helper when the
 * kernel is locked down at integrity or above. */
SEC("tp/syscalls/sys_enter_getpid")
int doctor_write_user(void *ctx)
{
	__u64 zero = 0;

	bpf_probe_write_user((void *)0, &zero, sizeof(zero));
	return 0;
}

/* Only loaded: refused when lockdown is at confidentiality, which would stop
 * every CO-RE read sonde does. */
SEC("tp/syscalls/sys_enter_getpid")
int doctor_read_kernel(void *ctx)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), ctx);
	return v == 1;
}
