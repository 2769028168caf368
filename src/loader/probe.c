/* The checks behind `sonde doctor`: each one tries a feature for real (see
 * probe.h) and explains in one sentence what it saw. Hook checks open the
 * doctor skeleton anew with only their own program autoloaded, so a program
 * the kernel refuses (fentry, bpf_probe_write_user) cannot hide the others. */
#include "loader/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "doctor.skel.h"
#include "loader/bpf_env.h"
#include "loader/bpf_programs.h"
#include "loader/tls_scan.h"

/* Verifier log kept per loaded program, to quote the kernel's refusal. */
#define VERIFIER_LOG_BYTES 16384
/* One quoted verifier line, and one errno explained, in a detail. */
#define LOG_REASON_BYTES 160
#define ERRNO_TEXT_BYTES 128
/* How often a hook's trigger fires; one is enough, a few tolerate noise. */
#define TRIGGER_ROUNDS 3
/* Kernel function the kprobe and fentry checks hook (also the fentry SEC). */
#define KERNEL_PROBE_FUNC "do_nanosleep"
#define KPROBE_PMU_DIR "/sys/bus/event_source/devices/kprobe"
#define TRACEFS_KPROBE_EVENTS "/sys/kernel/tracing/kprobe_events"
#define SECURITYFS_LOCKDOWN "/sys/kernel/security/lockdown"
#define SECURITYFS_LSM "/sys/kernel/security/lsm"
#define SELF_EXE "/proc/self/exe"
#define UPROBE_TARGET_FUNC "probe_uprobe_target"
/* The kernel-internal "not supported" errno that strerror() does not know. */
#define ERRNO_ENOTSUPP 524
#define BYTES_PER_KIB 1024ULL

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#define CAP_BITS_PER_WORD 32

static const char *const probe_names[PROBE_COUNT] = {
	[PROBE_BTF] = "btf",
	[PROBE_RINGBUF] = "ringbuf",
	[PROBE_SYSCALL_TP] = "syscall_tracepoints",
	[PROBE_SCHED_TP] = "sched_tracepoints",
	[PROBE_RAW_TP] = "raw_tracepoints",
	[PROBE_KPROBE] = "kprobes",
	[PROBE_FENTRY] = "fentry",
	[PROBE_UPROBE] = "uprobes",
	[PROBE_UPROBE_MULTI] = "uprobe_multi",
	[PROBE_OPENSSL] = "openssl",
	[PROBE_BPF_STATS] = "bpf_stats",
	[PROBE_LOCKDOWN] = "lockdown",
	[PROBE_MEMLOCK] = "memlock",
	[PROBE_CAPS] = "capabilities",
	[PROBE_HELPERS] = "helpers",
	[PROBE_TASK_STORAGE] = "task_storage",
	[PROBE_PROGRAMS] = "programs",
};

/* Where each number comes from: docs/kernel-requirements.md. */
static const char *const probe_sinces[PROBE_COUNT] = {
	[PROBE_BTF] = "5.4",          /* /sys/kernel/btf/vmlinux */
	[PROBE_RINGBUF] = "5.8",      /* BPF_MAP_TYPE_RINGBUF */
	[PROBE_SYSCALL_TP] = "4.7",   /* BPF_PROG_TYPE_TRACEPOINT */
	[PROBE_SCHED_TP] = "4.7",
	[PROBE_RAW_TP] = "5.5",       /* tp_btf: BTF-typed raw tracepoints */
	[PROBE_KPROBE] = "4.1",       /* and CONFIG_KPROBES */
	[PROBE_FENTRY] = "5.5",       /* BPF trampoline */
	[PROBE_UPROBE] = "4.3",       /* BPF programs on uprobes */
	[PROBE_UPROBE_MULTI] = "6.6", /* BPF_TRACE_UPROBE_MULTI links */
	[PROBE_OPENSSL] = "",
	[PROBE_BPF_STATS] = "5.8",    /* BPF_ENABLE_STATS */
	[PROBE_LOCKDOWN] = "",
	[PROBE_MEMLOCK] = "5.11",     /* memcg accounting of BPF memory */
	[PROBE_CAPS] = "",
	[PROBE_HELPERS] = PROBE_KERNEL_MIN_TEXT, /* bpf_loop, the newest one */
	[PROBE_TASK_STORAGE] = "5.13", /* map 5.11, from tracing programs 5.13 */
	[PROBE_PROGRAMS] = PROBE_KERNEL_MIN_TEXT,
};

const char *probe_since(enum probe_id id)
{
	return (unsigned)id < PROBE_COUNT ? probe_sinces[id] : "";
}

int probe_kernel_version(int *major, int *minor)
{
	struct utsname u;

	if (uname(&u) || sscanf(u.release, "%d.%d", major, minor) != 2)
		return -EINVAL;
	return 0;
}

const char *probe_name(enum probe_id id)
{
	return (unsigned)id < PROBE_COUNT ? probe_names[id] : "unknown";
}

static int result_set(struct probe_result *res, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fill res; err 0 means the feature works. Returns err. */
static int result_set(struct probe_result *res, int err, const char *fmt, ...)
{
	va_list ap;

	res->ok = err == 0;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	return err;
}

/* "No such file or directory (ENOENT)" for a positive or negative errno. */
static const char *errno_text(int err, char *buf, size_t size)
{
	const char *name;

	if (err < 0)
		err = -err;
	if (err == ERRNO_ENOTSUPP) {
		snprintf(buf, size, "operation not supported by this kernel (ENOTSUPP)");
		return buf;
	}
	name = strerrorname_np(err);
	snprintf(buf, size, "%s (%s)", strerror(err), name ? name : "?");
	return buf;
}

/* The line of a verifier log that says why the program was refused: the last
 * one that is not the closing statistics. Empty when there is no log. */
static const char *log_reason(char *log, char *buf, size_t size)
{
	/* Lines the verifier writes after the verdict, not part of it. */
	static const char *const trailers[] = {
		"processed ", "verification time", "stack depth",
	};
	char *save = NULL, *line;

	buf[0] = '\0';
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool trailer = false;

		for (size_t i = 0; i < sizeof(trailers) / sizeof(trailers[0]); i++)
			if (!strncmp(line, trailers[i], strlen(trailers[i])))
				trailer = true;
		if (!trailer)
			snprintf(buf, size, "%s", line);
	}
	return buf;
}

static bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool cap_has(const struct __user_cap_data_struct *data, int cap)
{
	return data[cap / CAP_BITS_PER_WORD].effective & (1U << (cap % CAP_BITS_PER_WORD));
}

/* The effective capabilities sonde cares about, from capget(2). */
static int caps_effective(bool *bpf, bool *perfmon, bool *sys_admin)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	*bpf = cap_has(data, CAP_BPF);
	*perfmon = cap_has(data, CAP_PERFMON);
	*sys_admin = cap_has(data, CAP_SYS_ADMIN);
	return 0;
}

/* ---- doctor skeleton, one program at a time ---- */

struct hook_probe {
	struct doctor_bpf *skel;
	struct bpf_program *prog;
	struct bpf_link *link;
	char log[VERIFIER_LOG_BYTES];
};

static void hook_close(struct hook_probe *h)
{
	bpf_link__destroy(h->link);
	doctor_bpf__destroy(h->skel);
	h->link = NULL;
	h->skel = NULL;
}

/* Open the doctor object with only prog_name autoloaded and load it, with
 * expected attach type attach_type unless it is negative. On a refusal,
 * why[] holds the verifier's reason (or the errno's text). */
static int hook_load_as(struct hook_probe *h, const char *prog_name, int attach_type, char *why,
			size_t why_size)
{
	struct bpf_program *p;
	char ebuf[ERRNO_TEXT_BYTES];
	int err;

	memset(h, 0, sizeof(*h));
	h->skel = doctor_bpf__open();
	if (!h->skel) {
		err = -errno;
		snprintf(why, why_size, "cannot open the BPF object: %s", errno_text(err, ebuf, sizeof(ebuf)));
		return err;
	}
	bpf_object__for_each_program(p, h->skel->obj) {
		bool mine = !strcmp(bpf_program__name(p), prog_name);

		bpf_program__set_autoload(p, mine);
		if (mine)
			h->prog = p;
	}
	if (!h->prog) {
		snprintf(why, why_size, "no program %s in the doctor object", prog_name);
		return -ENOENT;
	}
	bpf_program__set_log_buf(h->prog, h->log, sizeof(h->log));
	if (attach_type >= 0)
		bpf_program__set_expected_attach_type(h->prog, (enum bpf_attach_type)attach_type);
	h->skel->rodata->target_tgid = (__u32)getpid();
	err = doctor_bpf__load(h->skel);
	if (err) {
		char reason[LOG_REASON_BYTES];

		/* An empty log means the kernel said no before the verifier ran. */
		log_reason(h->log, reason, sizeof(reason));
		snprintf(why, why_size, "%s: %s", errno_text(err, ebuf, sizeof(ebuf)),
			 reason[0] ? reason : "refused before verification (empty verifier log)");
		return err;
	}
	return 0;
}

static int hook_load(struct hook_probe *h, const char *prog_name, char *why, size_t why_size)
{
	return hook_load_as(h, prog_name, -1, why, why_size);
}

/* ---- triggers: make the hooked event happen in this process ---- */

static void trigger_getpid(void)
{
	for (int i = 0; i < TRIGGER_ROUNDS; i++)
		syscall(SYS_getpid); /* not getpid(): a libc could cache it */
}

static void trigger_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

static void trigger_nanosleep(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 1 };

	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
}

__attribute__((noinline)) void probe_uprobe_target(void)
{
	/* Keeps the compiler from folding the call away. */
	__asm__ __volatile__("" ::: "memory");
}

static void trigger_uprobe(void)
{
	for (int i = 0; i < TRIGGER_ROUNDS; i++)
		probe_uprobe_target();
}

/* ---- attach functions for programs the section does not fully name ---- */

static struct bpf_link *attach_auto(struct bpf_program *prog)
{
	return bpf_program__attach(prog);
}

static struct bpf_link *attach_kprobe(struct bpf_program *prog)
{
	return bpf_program__attach_kprobe(prog, false, KERNEL_PROBE_FUNC);
}

static struct bpf_link *attach_uprobe(struct bpf_program *prog)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = UPROBE_TARGET_FUNC);

	/* pid 0: this process only; libbpf resolves the function's offset. */
	return bpf_program__attach_uprobe_opts(prog, 0, SELF_EXE, 0, &opts);
}

/* ---- the hook checks ---- */

struct hook_spec {
	const char *prog_name;      /* program in bpf/doctor.bpf.c */
	const char *hook;           /* where it attaches, for the detail line */
	struct bpf_link *(*attach)(struct bpf_program *prog);
	void (*trigger)(void);
	size_t hits_offset;         /* its counter in struct doctor_bpf__bss */
};

static const struct hook_spec hook_specs[PROBE_COUNT] = {
	[PROBE_SYSCALL_TP] = { "doctor_syscall_tp", "tp/syscalls/sys_enter_getpid", attach_auto,
			       trigger_getpid, offsetof(struct doctor_bpf__bss, hits_syscall_tp) },
	[PROBE_SCHED_TP] = { "doctor_sched_tp", "tp/sched/sched_process_fork", attach_auto,
			     trigger_fork, offsetof(struct doctor_bpf__bss, hits_sched_tp) },
	[PROBE_RAW_TP] = { "doctor_raw_tp", "tp_btf/sys_exit", attach_auto,
			   trigger_getpid, offsetof(struct doctor_bpf__bss, hits_raw_tp) },
	[PROBE_KPROBE] = { "doctor_kprobe", "kprobe/" KERNEL_PROBE_FUNC, attach_kprobe,
			   trigger_nanosleep, offsetof(struct doctor_bpf__bss, hits_kprobe) },
	[PROBE_FENTRY] = { "doctor_fentry", "fentry/" KERNEL_PROBE_FUNC, attach_auto,
			   trigger_nanosleep, offsetof(struct doctor_bpf__bss, hits_fentry) },
	[PROBE_UPROBE] = { "doctor_uprobe", "uprobe " SELF_EXE ":" UPROBE_TARGET_FUNC, attach_uprobe,
			   trigger_uprobe, offsetof(struct doctor_bpf__bss, hits_uprobe) },
};

static uint64_t hook_hits(const struct hook_probe *h, const struct hook_spec *spec)
{
	const volatile uint64_t *hits =
		(const volatile uint64_t *)((const char *)h->skel->bss + spec->hits_offset);

	return *hits;
}

/* Why a kprobe attach failed, from what the attempt ran into: no kprobe PMU
 * and no kprobe_events file in tracefs is what a CONFIG_KPROBES=n kernel
 * looks like. */
static void kprobe_why(int err, char *buf, size_t size)
{
	char ebuf[ERRNO_TEXT_BYTES];

	if (!path_exists(KPROBE_PMU_DIR) && !path_exists(TRACEFS_KPROBE_EVENTS))
		snprintf(buf, size,
			 "kernel built without CONFIG_KPROBES (no kprobe PMU in "
			 "/sys/bus/event_source/devices, no kprobe_events in tracefs); "
			 "attach to %s: %s", KERNEL_PROBE_FUNC, errno_text(err, ebuf, sizeof(ebuf)));
	else
		snprintf(buf, size, "attach to %s failed: %s", KERNEL_PROBE_FUNC,
			 errno_text(err, ebuf, sizeof(ebuf)));
}

/* Can this process load the simplest program ("return 0") at all? 0, or the
 * negative errno with why[] saying so. Tells "the kernel lacks X" apart from
 * "nothing may be loaded here" for checks whose own answer cannot (libbpf's
 * helper probe reports a helper as present when the load was refused for
 * lack of privilege). */
static int can_load_any(char *why, size_t why_size)
{
	const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char ebuf[ERRNO_TEXT_BYTES];
	int fd, err;

	fd = bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, "doctor_ret0", "GPL", ret0,
			   sizeof(ret0) / sizeof(ret0[0]), NULL);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	err = -errno;
	if (why)
		snprintf(why, why_size, "no BPF program can be loaded here (%s)",
			 errno_text(err, ebuf, sizeof(ebuf)));
	return err;
}

static int probe_hook(enum probe_id id, struct probe_result *res)
{
	const struct hook_spec *spec = &hook_specs[id];
	struct hook_probe *h;
	char why[PROBE_DETAIL_MAX];
	uint64_t hits;
	int err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return result_set(res, -ENOMEM, "out of memory");
	err = hook_load(h, spec->prog_name, why, sizeof(why));
	if (err && id == PROBE_FENTRY && can_load_any(NULL, 0) == 0) {
		/* The other hook checks show this process may load programs, so a
		 * refusal here is the kernel's: no BPF trampoline for this type. */
		result_set(res, err, "fentry/fexit not available on this kernel: a program on %s "
			   "was refused at load (%s); tracepoints work instead", KERNEL_PROBE_FUNC, why);
		goto cleanup;
	}
	if (err) {
		result_set(res, err, "%s program refused at load: %s", spec->hook, why);
		goto cleanup;
	}
	h->link = spec->attach(h->prog);
	if (!h->link) {
		err = -errno;
		if (id == PROBE_KPROBE) {
			kprobe_why(err, why, sizeof(why));
			result_set(res, err, "%s", why);
		} else if (id == PROBE_UPROBE && err == -EACCES) {
			char ebuf[ERRNO_TEXT_BYTES];

			result_set(res, err, "%s loaded but attach refused: %s; perf-event uprobes "
				   "need CAP_SYS_ADMIN on kernels since 2025 (\"perf/core: Require "
				   "CAP_SYS_ADMIN for uprobes\")", spec->hook,
				   errno_text(err, ebuf, sizeof(ebuf)));
		} else {
			char ebuf[ERRNO_TEXT_BYTES];

			result_set(res, err, "%s loaded but attach failed: %s", spec->hook,
				   errno_text(err, ebuf, sizeof(ebuf)));
		}
		goto cleanup;
	}
	spec->trigger();
	hits = hook_hits(h, spec);
	if (!hits) {
		err = result_set(res, -ENOENT, "%s attached but never ran", spec->hook);
		goto cleanup;
	}
	err = result_set(res, 0, "%s attached and ran %llu time(s)", spec->hook,
			 (unsigned long long)hits);
cleanup:
	hook_close(h);
	free(h);
	return err;
}

/* The doctor's uprobe program, loaded for a uprobe-multi link and attached
 * by one (raw BPF_LINK_CREATE: libbpf 1.1 has no API for it) to the same
 * function of this binary, for this process only. What `sonde http` does
 * for SSL_read where the kernel offers it. */
static int probe_uprobe_multi(struct probe_result *res)
{
	const char *const names[] = { UPROBE_TARGET_FUNC };
	const struct hook_spec *spec = &hook_specs[PROBE_UPROBE];
	char why[PROBE_DETAIL_MAX], ebuf[ERRNO_TEXT_BYTES];
	struct hook_probe *h;
	uint64_t offset, hits;
	int err, fd = -1;

	err = bpf_env_uprobe_multi_supported();
	if (err < 0)
		return result_set(res, err, "unknown: the test program was refused (%s)",
				  errno_text(err, ebuf, sizeof(ebuf)));
	if (!err)
		return result_set(res, -EOPNOTSUPP, "the kernel does not make BPF_TRACE_UPROBE_MULTI "
				  "links (Linux >= 6.6)");
	err = tls_elf_func_offsets(SELF_EXE, names, 1, &offset);
	if (err)
		return result_set(res, err, "the kernel makes uprobe-multi links; %s has no symbol "
				  "%s to test one on (%s)", SELF_EXE, UPROBE_TARGET_FUNC,
				  errno_text(err, ebuf, sizeof(ebuf)));
	h = calloc(1, sizeof(*h));
	if (!h)
		return result_set(res, -ENOMEM, "out of memory");
	err = hook_load_as(h, spec->prog_name, BPF_ENV_TRACE_UPROBE_MULTI, why, sizeof(why));
	if (err) {
		result_set(res, err, "uprobe-multi program refused at load: %s", why);
		goto cleanup;
	}
	fd = bpf_env_uprobe_multi_attach(bpf_program__fd(h->prog), SELF_EXE, &offset, 1, false,
					 getpid());
	if (fd < 0) {
		err = fd;
		result_set(res, err, "uprobe-multi link on %s:%s failed: %s", SELF_EXE,
			   UPROBE_TARGET_FUNC, errno_text(err, ebuf, sizeof(ebuf)));
		goto cleanup;
	}
	spec->trigger();
	hits = hook_hits(h, spec);
	if (!hits) {
		err = result_set(res, -ENOENT, "uprobe-multi link on %s:%s attached but never ran",
				 SELF_EXE, UPROBE_TARGET_FUNC);
		goto cleanup;
	}
	err = result_set(res, 0, "uprobe-multi link on %s:%s attached and ran %llu time(s); "
			 "it needs no CAP_SYS_ADMIN", SELF_EXE, UPROBE_TARGET_FUNC,
			 (unsigned long long)hits);
cleanup:
	if (fd >= 0)
		close(fd);
	hook_close(h);
	free(h);
	return err;
}

/* ---- checks that need no program of their own ---- */

static int probe_btf(struct probe_result *res)
{
	struct btf *btf = btf__load_vmlinux_btf();
	char ebuf[ERRNO_TEXT_BYTES];
	int err;

	if (!btf) {
		err = -errno;
		return result_set(res, err, "cannot load /sys/kernel/btf/vmlinux: %s",
				  errno_text(err, ebuf, sizeof(ebuf)));
	}
	result_set(res, 0, "vmlinux BTF loaded, %u types", btf__type_cnt(btf));
	btf__free(btf);
	return 0;
}

static int probe_ringbuf(struct probe_result *res)
{
	long page = sysconf(_SC_PAGESIZE);
	char ebuf[ERRNO_TEXT_BYTES];
	int fd, err;

	/* The smallest ring buffer: one page (a power of two, page-aligned). */
	fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "doctor_rb", 0, 0, (__u32)page, NULL);
	if (fd < 0) {
		err = -errno;
		return result_set(res, err, "BPF_MAP_TYPE_RINGBUF map creation failed: %s",
				  errno_text(err, ebuf, sizeof(ebuf)));
	}
	close(fd);
	return result_set(res, 0, "created a %ld-byte BPF_MAP_TYPE_RINGBUF map", page);
}

/* Run-time statistics: turn them on, run a program, and see its time grow. */
static int probe_bpf_stats(struct probe_result *res)
{
	const struct hook_spec *spec = &hook_specs[PROBE_SYSCALL_TP];
	struct bpf_prog_info info;
	__u32 info_len = sizeof(info);
	struct hook_probe *h = NULL;
	char why[PROBE_DETAIL_MAX], ebuf[ERRNO_TEXT_BYTES];
	int stats_fd, err;

	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		err = -errno;
		return result_set(res, err, "BPF_ENABLE_STATS(BPF_STATS_RUN_TIME) refused: %s",
				  errno_text(err, ebuf, sizeof(ebuf)));
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		err = result_set(res, -ENOMEM, "out of memory");
		goto cleanup;
	}
	err = hook_load(h, spec->prog_name, why, sizeof(why));
	if (err) {
		result_set(res, err, "stats on, but the test program was refused: %s", why);
		goto cleanup;
	}
	h->link = spec->attach(h->prog);
	if (!h->link) {
		err = -errno;
		result_set(res, err, "stats on, but %s did not attach: %s", spec->hook,
			   errno_text(err, ebuf, sizeof(ebuf)));
		goto cleanup;
	}
	spec->trigger();
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(bpf_program__fd(h->prog), &info, &info_len);
	if (err) {
		err = -errno;
		result_set(res, err, "stats on, but program info unreadable: %s",
			   errno_text(err, ebuf, sizeof(ebuf)));
		goto cleanup;
	}
	if (!info.run_time_ns) {
		err = result_set(res, -ENOENT, "stats on, but run_time_ns stayed 0 after %llu run(s)",
				 (unsigned long long)info.run_cnt);
		goto cleanup;
	}
	err = result_set(res, 0, "BPF_STATS_RUN_TIME on: test program ran %llu time(s) in %llu ns",
			 (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns);
cleanup:
	if (h) {
		hook_close(h);
		free(h);
	}
	close(stats_fd);
	return err;
}

/* The lockdown mode from securityfs ("none [integrity] confidentiality"), if
 * it is mounted; "" otherwise. */
static void lockdown_from_securityfs(char *mode, size_t size)
{
	char line[128], *open, *close_;
	FILE *f = fopen(SECURITYFS_LOCKDOWN, "r");

	mode[0] = '\0';
	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		open = strchr(line, '[');
		close_ = open ? strchr(open, ']') : NULL;
		if (open && close_)
			snprintf(mode, size, "%.*s", (int)(close_ - open - 1), open + 1);
	}
	fclose(f);
}

/* Lockdown: integrity refuses bpf_probe_write_user, confidentiality also
 * refuses kernel reads, which sonde needs. Found by loading both helpers. */
static int probe_lockdown(struct probe_result *res)
{
	struct hook_probe *h;
	char write_why[PROBE_DETAIL_MAX], read_why[PROBE_DETAIL_MAX], sfs[32];
	char fs_note[96];
	bool bpf, perfmon, sys_admin;
	int write_err, read_err;

	h = calloc(1, sizeof(*h));
	if (!h)
		return result_set(res, -ENOMEM, "out of memory");
	write_err = hook_load(h, "doctor_write_user", write_why, sizeof(write_why));
	hook_close(h);
	read_err = hook_load(h, "doctor_read_kernel", read_why, sizeof(read_why));
	hook_close(h);
	free(h);

	lockdown_from_securityfs(sfs, sizeof(sfs));
	if (sfs[0])
		snprintf(fs_note, sizeof(fs_note), "; %s says [%s]", SECURITYFS_LOCKDOWN, sfs);
	else
		snprintf(fs_note, sizeof(fs_note), "; %s not readable%s", SECURITYFS_LOCKDOWN,
			 path_exists(SECURITYFS_LSM) ? "" : " (securityfs not mounted)");

	/* Only a verifier that names the helper tells lockdown apart from a
	 * program refused for another reason (no capability, no BPF at all). */
	if (read_err && !strstr(read_why, "bpf_probe_read_kernel"))
		return result_set(res, read_err, "unknown: the test program was refused (%s)%s",
				  read_why, fs_note);
	if (read_err)
		return result_set(res, read_err,
				  "confidentiality: bpf_probe_read_kernel refused (%s)%s", read_why, fs_note);
	if (write_err && !strstr(write_why, "bpf_probe_write_user"))
		return result_set(res, 0, "unknown: the bpf_probe_write_user program was refused "
				  "(%s); kernel reads allowed%s", write_why, fs_note);
	if (write_err && caps_effective(&bpf, &perfmon, &sys_admin) == 0 && !sys_admin)
		return result_set(res, 0,
				  "unknown: bpf_probe_write_user refused, but it also needs "
				  "CAP_SYS_ADMIN, which this process lacks; kernel reads allowed%s",
				  fs_note);
	if (write_err)
		return result_set(res, 0,
				  "%s: bpf_probe_write_user refused (%s); kernel reads allowed%s",
				  sfs[0] ? sfs : "integrity or above", write_why, fs_note);
	return result_set(res, 0, "none: bpf_probe_write_user and kernel reads allowed%s", fs_note);
}

/* What the memlock child saw, sent back through a pipe: 0 or a positive errno. */
struct memlock_report {
	int control_err; /* map creation under the inherited limit */
	int zero_err;    /* map creation with RLIMIT_MEMLOCK at 0 */
};

static int map_create_errno(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "doctor_memlock", sizeof(__u32),
				sizeof(__u64), 1, NULL);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* Child side: a control map first, so that "may not create maps at all"
 * (no capability) is not mistaken for "the rlimit is charged". */
static void __attribute__((noreturn)) memlock_child(int report_fd)
{
	struct memlock_report rep = { 0 };
	struct rlimit zero = { 0, 0 };

	rep.control_err = map_create_errno();
	if (!rep.control_err)
		rep.zero_err = setrlimit(RLIMIT_MEMLOCK, &zero) ? errno : map_create_errno();
	_exit(write(report_fd, &rep, sizeof(rep)) == (ssize_t)sizeof(rep) ? 0 : 1);
}

/* memcg accounting: a child drops RLIMIT_MEMLOCK to 0 and creates a map.
 * Success means BPF memory is charged to the memory cgroup (Linux >= 5.11),
 * so the rlimit does not bound sonde's maps. */
static int probe_memlock(struct probe_result *res)
{
	struct memlock_report rep;
	struct rlimit rl;
	char limit[48], ebuf[ERRNO_TEXT_BYTES];
	int fds[2], err;
	ssize_t n;
	pid_t pid;

	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return result_set(res, -errno, "getrlimit(RLIMIT_MEMLOCK) failed");
	if (rl.rlim_cur == RLIM_INFINITY)
		snprintf(limit, sizeof(limit), "RLIMIT_MEMLOCK unlimited");
	else
		snprintf(limit, sizeof(limit), "RLIMIT_MEMLOCK %llu KiB",
			 (unsigned long long)(rl.rlim_cur / BYTES_PER_KIB));

	if (pipe(fds)) {
		err = -errno;
		return result_set(res, err, "%s; cannot test accounting: pipe: %s", limit,
				  errno_text(err, ebuf, sizeof(ebuf)));
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return result_set(res, err, "%s; cannot test accounting: fork: %s", limit,
				  errno_text(err, ebuf, sizeof(ebuf)));
	}
	if (pid == 0) {
		close(fds[0]);
		memlock_child(fds[1]);
	}
	close(fds[1]);
	do
		n = read(fds[0], &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(rep))
		return result_set(res, -ECHILD, "%s; the test child did not report", limit);
	if (rep.control_err)
		return result_set(res, -rep.control_err,
				  "%s; accounting unknown: no map can be created at all (%s)",
				  limit, errno_text(rep.control_err, ebuf, sizeof(ebuf)));
	if (rep.zero_err)
		return result_set(res, -rep.zero_err,
				  "%s, and BPF memory counts against it: with the limit at 0 a map "
				  "could not be created (%s)",
				  limit, errno_text(rep.zero_err, ebuf, sizeof(ebuf)));
	return result_set(res, 0,
			  "%s, not used: a map was created with the limit at 0, so BPF memory "
			  "is charged to the memory cgroup", limit);
}

static int probe_caps(struct probe_result *res)
{
	bool bpf, perfmon, sys_admin;
	char ebuf[ERRNO_TEXT_BYTES];
	int err;

	err = caps_effective(&bpf, &perfmon, &sys_admin);
	if (err)
		return result_set(res, err, "capget failed: %s", errno_text(err, ebuf, sizeof(ebuf)));
	return result_set(res, (bpf && perfmon) || sys_admin ? 0 : -EPERM,
			  "effective: CAP_BPF %s, CAP_PERFMON %s, CAP_SYS_ADMIN %s",
			  bpf ? "yes" : "no", perfmon ? "yes" : "no", sys_admin ? "yes" : "no");
}

/* ---- what sonde's own programs need, asked of the kernel directly ---- */

/* A helper sonde's programs call, the program type that calls it, and the
 * kernel that introduced it (docs/kernel-requirements.md). Helpers older
 * than tracepoint programs themselves (4.7) are left out: they cannot be
 * missing where the tracepoint checks pass. Tracing (tp_btf) programs are
 * not in the list: libbpf cannot probe helpers for that type, and their
 * helpers are a superset of the tracepoint ones; the programs check loads
 * them for real. */
struct helper_need {
	enum bpf_prog_type type;
	enum bpf_func_id func;
	const char *name;
	const char *since;
};

static const struct helper_need helper_needs[] = {
	{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task, "bpf_get_current_task", "4.8" },
	{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_cgroup_id, "bpf_get_current_cgroup_id", "4.18" },
	{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_probe_read_user, "bpf_probe_read_user", "5.5" },
	{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_probe_read_user_str, "bpf_probe_read_user_str", "5.5" },
	{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_probe_read_kernel, "bpf_probe_read_kernel", "5.5" },
	{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_probe_read_kernel_str, "bpf_probe_read_kernel_str", "5.5" },
	{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_ringbuf_output, "bpf_ringbuf_output", "5.8" },
	{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_ringbuf_query, "bpf_ringbuf_query", "5.8" },
	{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_get_current_task_btf, "bpf_get_current_task_btf", "5.11" },
	{ BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, "bpf_loop", "5.17" },
	/* uprobe programs (TLS) are of the kprobe type */
	{ BPF_PROG_TYPE_KPROBE, BPF_FUNC_probe_read_user, "bpf_probe_read_user (uprobe)", "5.5" },
	{ BPF_PROG_TYPE_KPROBE, BPF_FUNC_ringbuf_output, "bpf_ringbuf_output (uprobe)", "5.8" },
	{ BPF_PROG_TYPE_KPROBE, BPF_FUNC_loop, "bpf_loop (uprobe)", "5.17" },
};

#define HELPER_NEEDS_COUNT (sizeof(helper_needs) / sizeof(helper_needs[0]))

/* Verifier messages that mean "no such helper for this program type": the
 * first two from every kernel, the third from newer ones (6.x), which
 * libbpf 1.1's own libbpf_probe_bpf_helper() does not know and so reports
 * such a helper as present. */
static const char *const helper_missing_msgs[] = {
	"invalid func ", "unknown func ", "cannot use helper ",
};

#define HELPER_LOG_BYTES 4096
#define KERNEL_VERSION_CODE(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))

/* Kprobe programs on kernels before 5.0 must carry the running kernel's
 * version; later ones ignore it. */
static __u32 kernel_version_code(void)
{
	struct utsname u;
	int a = 0, b = 0, c = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d.%d", &a, &b, &c) < 2)
		return 0;
	return (__u32)KERNEL_VERSION_CODE(a, b, c);
}

/* See probe.h. The program is "call func; exit": the verifier looks the
 * helper up before it checks arguments, so an argument error still means
 * the helper is there. */
int probe_helper(int prog_type, int func_id)
{
	enum bpf_prog_type type = (enum bpf_prog_type)prog_type;
	int func = func_id;

	const struct bpf_insn insns[] = {
		{ .code = BPF_JMP | BPF_CALL, .imm = func },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	char *log = calloc(1, HELPER_LOG_BYTES);
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log, .log_size = HELPER_LOG_BYTES,
		    .log_level = 1, .kern_version = kernel_version_code());
	int fd, ret = 1;

	if (!log)
		return -ENOMEM;
	fd = bpf_prog_load(type, "doctor_helper", "GPL", insns, sizeof(insns) / sizeof(insns[0]),
			   &opts);
	if (fd >= 0) {
		close(fd);
	} else if (!log[0]) {
		ret = -errno; /* refused before verification: no verdict */
	} else {
		for (size_t i = 0; i < sizeof(helper_missing_msgs) / sizeof(helper_missing_msgs[0]); i++)
			if (strstr(log, helper_missing_msgs[i]))
				ret = 0;
	}
	free(log);
	return ret;
}

/* One two-instruction program per helper, about a millisecond each. */
static int probe_helpers(struct probe_result *res)
{
	char missing[PROBE_DETAIL_MAX] = "", ebuf[ERRNO_TEXT_BYTES], why[PROBE_DETAIL_MAX];
	size_t used = 0, n_missing = 0;
	int err = can_load_any(why, sizeof(why));

	if (err)
		return result_set(res, err, "unknown: %s", why);

	for (size_t i = 0; i < HELPER_NEEDS_COUNT; i++) {
		const struct helper_need *h = &helper_needs[i];
		int r = probe_helper(h->type, h->func);

		if (r < 0)
			return result_set(res, r, "cannot probe %s: %s", h->name,
					  errno_text(r, ebuf, sizeof(ebuf)));
		if (r == 0) {
			int k = snprintf(missing + used, sizeof(missing) - used, "%s%s (%s)",
					 n_missing ? ", " : "", h->name, h->since);

			if (k > 0 && used + (size_t)k < sizeof(missing))
				used += (size_t)k;
			n_missing++;
		}
	}
	if (n_missing)
		return result_set(res, -EOPNOTSUPP, "%zu of %zu helpers missing: %s", n_missing,
				  HELPER_NEEDS_COUNT, missing);
	return result_set(res, 0, "all %zu helpers sonde calls that are newer than 4.7 are "
			  "offered, bpf_loop (5.17) included", HELPER_NEEDS_COUNT);
}

/* Where `sonde http` puts its SSL uprobes in the system's libssl: on
 * OpenSSL's internal read and write functions when they are recognised
 * (their first instruction, a push, is emulated at each hit), else on
 * SSL_read/SSL_write's entries (a sub from rsp, single-stepped: several
 * times dearer). Not a kernel feature: it never stops sonde. */
static int probe_openssl(struct probe_result *res)
{
	const char *path = tls_system_libssl();
	uint64_t rd, wr;

	if (!path)
		return result_set(res, -ENOENT, "no libssl where distributions install it; "
				  "HTTPS is traced wherever one is mapped (/proc/PID/maps)");
	if (tls_elf_ssl_workers(path, &rd, &wr))
		return result_set(res, -ENOENT, "%s: SSL_read/SSL_write do not have the shape "
				  "sonde knows; its uprobes go on their entries", path);
	return result_set(res, 0, "%s: the internal read and write functions SSL_read and "
			  "SSL_write call are at file offsets 0x%llx and 0x%llx", path,
			  (unsigned long long)rd, (unsigned long long)wr);
}

/* The http object holds a task storage map (per-thread SSL call state), so
 * the map type is needed to load it at all, and the helper from the uprobe
 * programs to load those. */
static int probe_task_storage(struct probe_result *res)
{
	char ebuf[ERRNO_TEXT_BYTES], why[PROBE_DETAIL_MAX];
	int r;

	r = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL);
	if (r < 0)
		return result_set(res, r, "cannot probe BPF_MAP_TYPE_TASK_STORAGE: %s",
				  errno_text(r, ebuf, sizeof(ebuf)));
	if (r == 0)
		return result_set(res, -EOPNOTSUPP,
				  "BPF_MAP_TYPE_TASK_STORAGE cannot be created (Linux >= 5.11)");
	r = can_load_any(why, sizeof(why));
	if (r)
		return result_set(res, r, "the map type exists; its helper is unknown: %s", why);
	r = probe_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_task_storage_get);
	if (r < 0)
		return result_set(res, r, "cannot probe bpf_task_storage_get: %s",
				  errno_text(r, ebuf, sizeof(ebuf)));
	if (r == 0)
		return result_set(res, -EOPNOTSUPP,
				  "BPF_MAP_TYPE_TASK_STORAGE exists, but uprobe programs may not "
				  "call bpf_task_storage_get (Linux >= 5.13)");
	return result_set(res, 0, "BPF_MAP_TYPE_TASK_STORAGE created; bpf_task_storage_get "
			  "offered to uprobe programs");
}

#define SHIPPED_PROGS_MAX 64

/* The final word: load every program sonde ships, as `sonde doctor
 * --programs` does, without attaching. Costs one load per object (~0.1-0.5 s). */
static int probe_programs(struct probe_result *res)
{
	struct bpf_prog_cost *c = calloc(SHIPPED_PROGS_MAX, sizeof(*c));
	struct bpf_prog_cost worst;
	bool have_worst = false;
	char counts[96] = "", why[BPF_PROG_ERROR_BYTES];
	size_t used = 0;
	int err = 0;

	if (!c)
		return result_set(res, -ENOMEM, "out of memory");
	for (int id = 0; id < BPF_OBJ_COUNT && !err; id++) {
		size_t n = 0, loaded = 0;
		int k;

		err = bpf_shipped_measure(id, c, SHIPPED_PROGS_MAX, &n, why, sizeof(why));
		if (err) {
			result_set(res, err, "%s", why);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			if (c[i].err) {
				err = result_set(res, c[i].err, "%s/%s %s", c[i].object, c[i].name,
						 c[i].error);
				break;
			}
			loaded++;
			if (!have_worst || bpf_prog_cost_insns(&c[i]) > bpf_prog_cost_insns(&worst)) {
				worst = c[i];
				have_worst = true;
			}
		}
		k = snprintf(counts + used, sizeof(counts) - used, "%s%s %zu", used ? ", " : "",
			     bpf_shipped_name(id), loaded);
		if (k > 0 && used + (size_t)k < sizeof(counts))
			used += (size_t)k;
	}
	free(c);
	if (err)
		return err;
	if (!have_worst)
		return result_set(res, -ENOENT, "no program to load");
	return result_set(res, 0, "every program loaded (%s); the largest, %s/%s, took %ld of "
			  "the verifier's %d instructions (sonde doctor --programs)",
			  counts, worst.object, worst.name, bpf_prog_cost_insns(&worst),
			  BPF_VERIFIER_INSNS_LIMIT);
}

int probe_run(enum probe_id id, struct probe_result *res)
{
	memset(res, 0, sizeof(*res));
	switch (id) {
	case PROBE_BTF: return probe_btf(res);
	case PROBE_RINGBUF: return probe_ringbuf(res);
	case PROBE_SYSCALL_TP:
	case PROBE_SCHED_TP:
	case PROBE_RAW_TP:
	case PROBE_KPROBE:
	case PROBE_FENTRY:
	case PROBE_UPROBE: return probe_hook(id, res);
	case PROBE_UPROBE_MULTI: return probe_uprobe_multi(res);
	case PROBE_OPENSSL: return probe_openssl(res);
	case PROBE_BPF_STATS: return probe_bpf_stats(res);
	case PROBE_LOCKDOWN: return probe_lockdown(res);
	case PROBE_MEMLOCK: return probe_memlock(res);
	case PROBE_CAPS: return probe_caps(res);
	case PROBE_HELPERS: return probe_helpers(res);
	case PROBE_TASK_STORAGE: return probe_task_storage(res);
	case PROBE_PROGRAMS: return probe_programs(res);
	case PROBE_COUNT: break;
	}
	return result_set(res, -EINVAL, "unknown check");
}
