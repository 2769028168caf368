/* Common preparation for loading sonde's BPF objects. */
#include "loader/bpf_env.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

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
	/* libbpf finds tracepoint ids in tracefs; a minimal host may not mount it. */
	if (mount("nodev", TRACEFS_DIR, "tracefs", 0, NULL) && errno != EBUSY)
		return -errno;
	return 0;
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
