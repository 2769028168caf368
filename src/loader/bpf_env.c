/* Common preparation for loading sonde's BPF objects, and the raw
 * uprobe-multi link libbpf 1.1 lacks; see bpf_env.h. */
#include "loader/bpf_env.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* Links detached at once by bpf_env_detach_parallel; more wait their turn. */
#define DETACH_THREADS_MAX 64

#define TRACEFS_DIR "/sys/kernel/tracing"

static bool env_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	/* Hidden unless -v, warnings too: the caller reports a failure in one line. */
	if (!env_verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

int bpf_env_prepare(bool verbose)
{
	struct stat st;

	env_verbose = verbose;
	libbpf_set_print(libbpf_print);
	if (stat(TRACEFS_DIR "/events", &st) == 0)
		return 0;
	/* mounted, mode 0700 root: a mount would not help, and would fail */
	if (errno == EACCES)
		return -EACCES;
	/* libbpf finds tracepoint ids in tracefs; a minimal host may not mount it. */
	if (mount("nodev", TRACEFS_DIR, "tracefs", 0, NULL) && errno != EBUSY)
		return -errno;
	return 0;
}

const char *bpf_env_prepare_strerror(int err)
{
	static char buf[160];

	if (err == -EACCES)
		return "tracefs is mounted at " TRACEFS_DIR " but this process may not read it "
		       "(uid 0 or CAP_DAC_READ_SEARCH can)";
	snprintf(buf, sizeof(buf), "tracefs is not mounted at " TRACEFS_DIR " and could not be: %s",
		 strerror(err < 0 ? -err : err));
	return buf;
}

/* The link_create part of union bpf_attr for uprobe-multi links, as the
 * kernel's include/uapi/linux/bpf.h has it since 6.6. */
struct uprobe_multi_link_attr {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;          /* link_create.flags: must be 0 */
	uint64_t path;           /* user pointers, as __aligned_u64 */
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t multi_flags;    /* BPF_ENV_F_UPROBE_MULTI_RETURN */
	uint32_t pid;
} __attribute__((aligned(8)));

int bpf_env_uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets,
				size_t cnt, bool retprobe, pid_t pid)
{
	struct uprobe_multi_link_attr a;
	long fd;

	if (prog_fd < 0 || !cnt || cnt > UINT32_MAX)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.prog_fd = (uint32_t)prog_fd;
	a.attach_type = BPF_ENV_TRACE_UPROBE_MULTI;
	a.path = (uint64_t)(uintptr_t)path;
	a.offsets = (uint64_t)(uintptr_t)offsets;
	a.cnt = (uint32_t)cnt;
	a.multi_flags = retprobe ? BPF_ENV_F_UPROBE_MULTI_RETURN : 0;
	a.pid = (uint32_t)pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	return fd < 0 ? -errno : (int)fd;
}

int bpf_env_uprobe_multi_supported(void)
{
	static int known = -1; /* not probed yet */
	const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o,
		    .expected_attach_type = (enum bpf_attach_type)BPF_ENV_TRACE_UPROBE_MULTI);
	const uint64_t offset = 0;
	int prog, link;

	if (known >= 0)
		return known;
	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "sonde_umulti", "GPL", ret0,
			     sizeof(ret0) / sizeof(ret0[0]), &o);
	if (prog < 0)
		return -errno;
	link = bpf_env_uprobe_multi_attach(prog, "/", &offset, 1, false, 0);
	close(prog);
	if (link >= 0) {
		close(link); /* cannot happen on "/", but then it works */
		known = 1;
	} else {
		/* EINVAL: an unknown attach type; EOPNOTSUPP: no CONFIG_UPROBES */
		known = link == -EBADF;
	}
	return known;
}

int bpf_env_read_stats(int stats_map_fd, uint64_t out[STAT_COUNT])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < STAT_COUNT; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(stats_map_fd, &k, vals)) {
			int err = -errno;

			free(vals);
			return err;
		}
		for (int c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}

const char *bpf_env_stat_name(enum sonde_stat s)
{
	switch (s) {
	case STAT_PRODUCED: return "produced";
	case STAT_DROP_RINGBUF_FULL: return "ringbuf_full";
	case STAT_DROP_READ_FAULT: return "read_fault";
	case STAT_DROP_MAP_FULL: return "map_full";
	case STAT_PARTIAL_READ_FAULT: return "partial_read_fault";
	case STAT_PARTIAL_SHED: return "partial_payload_shed";
	case STAT_DROP_TLS_NO_CONN: return "tls_no_conn";
	case STAT_SAMPLED_OUT_SERVER: return "sampled_out_server";
	case STAT_SAMPLED_OUT_CLIENT: return "sampled_out_client";
	case STAT_UNSEEN_IO_URING: return "unseen_io_uring";
	case STAT_UNSEEN_CLOSE_RANGE: return "unseen_close_range_fds";
	case STAT_UNSEEN_MMSG: return "unseen_mmsg";
	case STAT_COUNT: break;
	}
	return "unknown";
}

static void *destroy_link(void *arg)
{
	bpf_link__destroy(arg);
	return NULL;
}

void bpf_env_detach_parallel(struct bpf_object_skeleton *s)
{
	pthread_t tids[DETACH_THREADS_MAX];
	int started = 0;

	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_prog_skeleton *ps =
			(struct bpf_prog_skeleton *)((char *)s->progs + (size_t)i * s->prog_skel_sz);
		struct bpf_link *link = *ps->link;

		if (!link)
			continue;
		*ps->link = NULL;
		if (started < DETACH_THREADS_MAX &&
		    !pthread_create(&tids[started], NULL, destroy_link, link))
			started++;
		else
			bpf_link__destroy(link);
	}
	for (int i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
}
