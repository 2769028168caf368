/* hook_floor: the price of a hook before any work. It attaches an empty BPF
 * program (r0 = 0; exit) to a raw tracepoint, sys_exit by default (the one
 * sonde http's sys_exit_any uses: tp_btf and raw tracepoints run through the
 * same bpf_trace_run), and holds it until SIGINT or SIGTERM. bench-http runs
 * it as the tracer `hook-floor`: its throughput loss and BPF time per
 * request are what any tracer on that hook pays, sonde's share is the rest.
 * The program is written as raw instructions: no clang, no object file. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#define PROG_NAME "floor_hook"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hook_floor [RAW_TRACEPOINT]\n"
		"Attach an empty BPF program to RAW_TRACEPOINT (default sys_exit) and hold it\n"
		"until SIGINT or SIGTERM; says \"hook_floor: attached to NAME\" on stderr once\n"
		"it is. What any tracer on that hook pays before doing any work.\n\n"
		"EXAMPLES\n"
		"  hook_floor                 the hook of sonde http\n"
		"  hook_floor sched_process_exec\n");
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
	int prog_fd, link_fd;

	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		usage(argc > 2 ? stderr : stdout);
		return argc > 2 ? 2 : 0;
	}
	if (argc == 2)
		tp = argv[1];
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

	prog_fd = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, PROG_NAME, "GPL", insns,
				sizeof(insns) / sizeof(insns[0]), NULL);
	if (prog_fd < 0) {
		fprintf(stderr, "hook_floor: loading the program: %s\n", strerror(errno));
		return 1;
	}
	link_fd = bpf_raw_tracepoint_open(tp, prog_fd);
	if (link_fd < 0) {
		fprintf(stderr, "hook_floor: attaching to %s: %s\n", tp, strerror(errno));
		return 1;
	}
	fprintf(stderr, "hook_floor: attached to %s\n", tp);
	while (!stop)
		sigsuspend(&wait_set);
	close(link_fd);
	close(prog_fd);
	return 0;
}
