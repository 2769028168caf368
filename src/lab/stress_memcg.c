/* The memory cgroup of `sonde stress` (see stress_memcg.h): find the
 * hierarchy that has the memory controller, make a child with a limit, move
 * processes in and out, read what the kernel counted, remove it. */
#include "lab/stress_memcg.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/report_text.h"
#include "lab/tracer_proc.h"

#define V2_ROOT "/sys/fs/cgroup"
#define V1_ROOT "/sys/fs/cgroup/memory"
/* rmdir fails while the kernel still counts an exiting process in it. */
#define RMDIR_TRIES 50
#define RMDIR_POLL_MS 20

/* For the signal hook: a fixed buffer, written before the cgroup exists. */
static char last_path[LAB_MEMCG_PATH_BYTES];

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[LAB_MEMCG_PATH_BYTES + 64];
	int fd, ret = 0;
	size_t n = strlen(val);

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, n) != (ssize_t)n)
		ret = -errno;
	close(fd);
	return ret;
}

/* The first number after key in dir/name (key "" : the file's first number). */
static double read_num(const char *dir, const char *name, const char *key)
{
	char path[LAB_MEMCG_PATH_BYTES + 64], line[256];
	double v = NAN;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NAN;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && (kl == 0 || line[kl] == ' ')) {
			v = strtod(line + kl, NULL);
			break;
		}
	fclose(f);
	return v;
}

/* The lab's own cgroup in a hierarchy: the path after "ID:CONTROLLERS:" of
 * the /proc/self/cgroup line whose controllers match. */
static void own_cgroup(const char *root, const char *controllers, char *out, size_t len)
{
	char line[LAB_MEMCG_PATH_BYTES];
	FILE *f = fopen("/proc/self/cgroup", "r");

	snprintf(out, len, "%s", root);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;

		if (!b)
			continue;
		*b = '\0';
		if (strcmp(a + 1, controllers))
			continue;
		b[1 + strcspn(b + 1, "\n")] = '\0';
		snprintf(out, len, "%s%s", root, strcmp(b + 1, "/") ? b + 1 : "");
		break;
	}
	fclose(f);
}

int lab_memcg_create(struct lab_memcg *m, const char *name, uint64_t limit_bytes, char *err,
		     size_t len)
{
	char ctl[256] = "";
	FILE *f;
	int ret;

	memset(m, 0, sizeof(*m));
	f = fopen(V2_ROOT "/cgroup.controllers", "r");
	if (f) {
		if (!fgets(ctl, sizeof(ctl), f))
			ctl[0] = '\0';
		fclose(f);
	}
	if (strstr(ctl, "memory")) {
		m->version = 2;
		/* children of the root get memory.max only once the root hands
		 * the controller down */
		write_file(V2_ROOT, "cgroup.subtree_control", "+memory");
		snprintf(m->path, sizeof(m->path), "%s/%s", V2_ROOT, name);
		own_cgroup(V2_ROOT, "", m->home, sizeof(m->home));
	} else if (!access(V1_ROOT "/memory.limit_in_bytes", F_OK)) {
		m->version = 1;
		snprintf(m->path, sizeof(m->path), "%s/%s", V1_ROOT, name);
		own_cgroup(V1_ROOT, "memory", m->home, sizeof(m->home));
	} else {
		lab_set_err(err, len, "no memory cgroup controller (neither cgroup v2 memory nor v1 %s)",
			    V1_ROOT);
		return -ENOTSUP;
	}
	memcpy(last_path, m->path, sizeof(last_path));
	if (mkdir(m->path, 0755) && errno != EEXIST) {
		ret = -errno;
		lab_set_err(err, len, "cannot create %s: %s", m->path, strerror(errno));
		m->version = 0;
		last_path[0] = '\0';
		return ret;
	}
	ret = lab_memcg_set_limit(m, limit_bytes);
	if (ret) {
		lab_set_err(err, len, "cannot set the memory limit of %s: %s", m->path,
			    strerror(-ret));
		lab_memcg_destroy(m);
		return ret;
	}
	return 0;
}

int lab_memcg_move_pid(struct lab_memcg *m, pid_t pid)
{
	char buf[32];

	if (!m->version)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	return write_file(m->path, "cgroup.procs", buf);
}

struct move_ctx {
	struct lab_memcg *m;
	int moved, err;
};

static void move_one(pid_t pid, void *arg)
{
	struct move_ctx *c = arg;
	int ret = lab_memcg_move_pid(c->m, pid);

	if (ret)
		c->err = ret;
	else
		c->moved++;
}

int lab_memcg_move_pgrp(struct lab_memcg *m, pid_t pgid)
{
	struct move_ctx c = { .m = m };
	int n = lab_pgrp_for_each(pgid, move_one, &c);

	if (n < 0)
		return n;
	return c.moved ? c.moved : (c.err ? c.err : -ESRCH);
}

int lab_memcg_set_limit(struct lab_memcg *m, uint64_t limit_bytes)
{
	char buf[32];

	if (!m->version)
		return -EINVAL;
	if (limit_bytes)
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)limit_bytes);
	else
		snprintf(buf, sizeof(buf), "%s", m->version == 2 ? "max" : "-1");
	return write_file(m->path, m->version == 2 ? "memory.max" : "memory.limit_in_bytes", buf);
}

int lab_memcg_stats(const struct lab_memcg *m, struct lab_memcg_stats *s)
{
	if (!m->version)
		return -EINVAL;
	if (m->version == 2) {
		s->usage_mb = read_num(m->path, "memory.current", "") / 1e6;
		s->peak_mb = read_num(m->path, "memory.peak", "") / 1e6;
		s->limit_hits = read_num(m->path, "memory.events", "max");
		s->oom_kills = read_num(m->path, "memory.events", "oom_kill");
	} else {
		s->usage_mb = read_num(m->path, "memory.usage_in_bytes", "") / 1e6;
		s->peak_mb = read_num(m->path, "memory.max_usage_in_bytes", "") / 1e6;
		s->limit_hits = read_num(m->path, "memory.failcnt", "");
		s->oom_kills = read_num(m->path, "memory.oom_control", "oom_kill");
	}
	return 0;
}

void lab_memcg_destroy(struct lab_memcg *m)
{
	char path[LAB_MEMCG_PATH_BYTES + 32], line[32];

	if (!m->version)
		return;
	/* what is still inside goes home, one pid per write */
	snprintf(path, sizeof(path), "%s/cgroup.procs", m->path);
	for (int tries = 0; tries < RMDIR_TRIES; tries++) {
		FILE *f = fopen(path, "r");

		if (f) {
			while (fgets(line, sizeof(line), f)) {
				line[strcspn(line, "\n")] = '\0';
				write_file(m->home, "cgroup.procs", line);
			}
			fclose(f);
		}
		if (!rmdir(m->path) || errno == ENOENT)
			break;
		lab_sleep_ms(RMDIR_POLL_MS);
	}
	m->version = 0;
	last_path[0] = '\0';
}

void lab_memcg_cleanup_signal_safe(void)
{
	if (last_path[0])
		rmdir(last_path);
}
