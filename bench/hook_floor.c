/* hook_floor: the price of a hook before any work. It attaches an empty BPF
 * program (r0 = 0; exit) to a raw tracepoint, sys_exit by default (the one
 * sonde http's sys_exit_any uses: tp_btf and raw tracepoints run through the
 * same bpf_trace_run), or with --syscalls to the exit tracepoint of each
 * syscall sonde http reads (the other way to hook them: only those syscalls
 * run a program, through perf's syscall tracepoints), and holds it until
 * SIGINT or SIGTERM. bench-http runs it as the tracers `hook-floor` and
 * `hook-floor-syscalls`: their throughput loss and BPF time per request are
 * what any tracer on that hook pays, sonde's share is the rest. With --tls,
 * sys_exit's empty program and empty uprobes at the entry and the return of
 * the SSL functions sonde http hooks in the system's libssl, planned as it
 * plans them (bench-http's `hook-floor-tls`, in its https run). The program
 * is written as raw instructions: no clang, no object file. */
#include <errno.h>
#include <stdbool.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "loader/bpf_env.h"
#include "loader/http_tracer.h"
#include "loader/tls_scan.h"

#define PROG_NAME "floor_hook"
#define TRACEFS_EVENTS "/sys/kernel/tracing/events/syscalls"

/* The syscalls whose exit sonde http reads (bpf/http.bpf.c, sys_exit_any). */
static const char *const syscalls[] = {
	"read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
	"sendfile64", "accept", "accept4", "connect", "close", "dup2", "dup3", "close_range",
};
#define NSYSCALLS (sizeof(syscalls) / sizeof(syscalls[0]))

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hook_floor [RAW_TRACEPOINT | --syscalls | --tls [FILE]]\n"
		"Attach an empty BPF program to RAW_TRACEPOINT (default sys_exit), or with\n"
		"--syscalls to syscalls:sys_exit_NAME for each syscall sonde http reads (%zu of\n"
		"them, needs tracefs), or with --tls to sys_exit and, as uprobes, to the entry\n"
		"and the return of the SSL functions sonde http hooks in FILE (default: the\n"
		"system's libssl; needs uprobe-multi links), and hold it until SIGINT or\n"
		"SIGTERM; says \"hook_floor: attached to ...\" on stderr once it is. What any\n"
		"tracer on that hook pays before doing any work.\n\n"
		"EXAMPLES\n"
		"  hook_floor                 the hook of sonde http\n"
		"  hook_floor --syscalls      one tracepoint per syscall instead\n"
		"  hook_floor --tls           sonde http's hooks over HTTPS\n"
		"  hook_floor sched_process_exec\n", NSYSCALLS);
}

/* The empty program on syscalls:sys_exit_NAME: a perf event of the
 * tracepoint, with the program attached through a BPF link. fds kept open
 * until exit. 0, or -1 with the reason said. */
static int attach_syscall_exit(int prog_fd, const char *name)
{
	struct perf_event_attr attr;
	char path[256], idbuf[32];
	FILE *f;
	int pfd;

	snprintf(path, sizeof(path), TRACEFS_EVENTS "/sys_exit_%s/id", name);
	f = fopen(path, "r");
	if (!f || !fgets(idbuf, sizeof(idbuf), f)) {
		fprintf(stderr, "hook_floor: %s: %s\n", path, strerror(f ? EIO : errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = strtoull(idbuf, NULL, 10);
	attr.sample_period = 1;
	attr.wakeup_events = 1;
	pfd = (int)syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (pfd < 0) {
		fprintf(stderr, "hook_floor: perf_event_open(sys_exit_%s): %s\n", name,
			strerror(errno));
		return -1;
	}
	if (bpf_link_create(prog_fd, pfd, BPF_PERF_EVENT, NULL) < 0) {
		fprintf(stderr, "hook_floor: attaching to sys_exit_%s: %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* Empty programs at the entry and the return of the SSL functions sonde
 * http hooks in the file at path, where it hooks them (http_tls_plan:
 * OpenSSL's internal read and write workers when recognised, else the
 * exported SSL_read, SSL_read_ex, SSL_write and SSL_write_ex), one
 * uprobe-multi link for the entries and one for the returns. Links kept
 * open until exit. 0, or -1 with the reason said. */
static int attach_tls(const struct bpf_insn *insns, size_t ninsns, const char *path)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o,
		    .expected_attach_type = (enum bpf_attach_type)BPF_ENV_TRACE_UPROBE_MULTI);
	uint64_t offsets[HTTP_TLS_HOOK_COUNT] = { 0 }, plan[HTTP_TLS_HOOK_COUNT];
	size_t n[2] = { 0, 0 };
	bool workers;
	int prog_fd, ret;

	if (bpf_env_uprobe_multi_supported() != 1) {
		fprintf(stderr, "hook_floor: uprobe-multi links are not available on this kernel\n");
		return -1;
	}
	ret = http_tls_plan(path, false, offsets, &workers);
	for (size_t i = 0; i < HTTP_TLS_HOOK_COUNT; i++)
		n[http_tls_hooks[i].ret] += offsets[i] != 0;
	if (!n[0]) {
		fprintf(stderr, "hook_floor: no SSL function found in %s: %s\n", path,
			strerror(ret ? -ret : ENOENT));
		return -1;
	}
	prog_fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, PROG_NAME, "GPL", insns, ninsns, &o);
	if (prog_fd < 0) {
		fprintf(stderr, "hook_floor: loading the uprobe program: %s\n", strerror(errno));
		return -1;
	}
	for (int ret_probe = 0; ret_probe < 2; ret_probe++) {
		size_t k = 0;

		for (size_t i = 0; i < HTTP_TLS_HOOK_COUNT; i++)
			if (offsets[i] && http_tls_hooks[i].ret == ret_probe)
				plan[k++] = offsets[i];
		ret = k ? bpf_env_uprobe_multi_attach(prog_fd, path, plan, k, ret_probe, 0) : 0;
		if (ret < 0) {
			fprintf(stderr, "hook_floor: attaching uprobes to %s: %s\n", path,
				strerror(-ret));
			return -1;
		}
	}
	fprintf(stderr, "hook_floor: uprobes at the entry and the return of %zu functions of %s "
			"(%s)\n", n[0], path, workers ? "OpenSSL's workers" : "the exported SSL_* ones");
	return 0;
}

int main(int argc, char **argv)
{
	const char *tp = "sys_exit";
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct sigaction sa;
	sigset_t block, wait_set;
	bool per_syscall, tls;
	const char *tls_path = NULL;
	int prog_fd, link_fd = -1;

	tls = argc >= 2 && !strcmp(argv[1], "--tls");
	if (argc > (tls ? 3 : 2) ||
	    (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		usage(argc > 2 ? stderr : stdout);
		return argc > 2 ? 2 : 0;
	}
	if (tls) {
		tls_path = argc == 3 ? argv[2] : tls_system_libssl();
		if (!tls_path) {
			fprintf(stderr, "hook_floor: no libssl found where distributions install it\n");
			return 1;
		}
	} else if (argc == 2) {
		tp = argv[1];
	}
	per_syscall = !strcmp(tp, "--syscalls");
	/* blocked until sigsuspend, so that a signal cannot slip in between
	 * the check of stop and the wait */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &wait_set);
	sigdelset(&wait_set, SIGINT);
	sigdelset(&wait_set, SIGTERM);

	prog_fd = bpf_prog_load(per_syscall ? BPF_PROG_TYPE_TRACEPOINT : BPF_PROG_TYPE_RAW_TRACEPOINT,
				PROG_NAME, "GPL", insns, sizeof(insns) / sizeof(insns[0]), NULL);
	if (prog_fd < 0) {
		fprintf(stderr, "hook_floor: loading the program: %s\n", strerror(errno));
		return 1;
	}
	if (per_syscall) {
		for (size_t i = 0; i < NSYSCALLS; i++)
			if (attach_syscall_exit(prog_fd, syscalls[i]))
				return 1;
		fprintf(stderr, "hook_floor: attached to syscalls:sys_exit_* of %zu syscalls\n",
			NSYSCALLS);
	} else {
		link_fd = bpf_raw_tracepoint_open(tp, prog_fd);
		if (link_fd < 0) {
			fprintf(stderr, "hook_floor: attaching to %s: %s\n", tp, strerror(errno));
			return 1;
		}
		if (tls && attach_tls(insns, sizeof(insns) / sizeof(insns[0]), tls_path))
			return 1;
		fprintf(stderr, "hook_floor: attached to %s%s\n", tp, tls ? " and the SSL uprobes" : "");
	}
	while (!stop)
		sigsuspend(&wait_set);
	/* the links and perf events go with the process */
	return 0;
}
