/* Container ids from cgroup paths, and the bounded pid cache of the agent. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/procinfo.h"

/* A /proc/PID/cgroup of a nested systemd host is a few hundred bytes; v1
 * hosts list a dozen hierarchies. What does not fit is not read. */
#define CGROUP_FILE_BYTES_MAX 4096

struct proc_cache {
	uint32_t sets_mask;
	uint32_t clock;
	struct proc_entry *e;    /* sets * PROC_CACHE_WAYS */
	struct proc_cache_stats stats;
};

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool starts(const char *s, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);

	return n >= p && !memcmp(s, prefix, p);
}

/* Is component c[0..n) a container id, possibly wrapped? Sets *id. */
static bool component_id(const char *c, size_t n, const char **id)
{
	static const char *const prefixes[] = { "docker-", "cri-containerd-", "crio-",
						"libpod-", "containerd-" };
	static const char scope[] = ".scope";
	const size_t scope_len = sizeof(scope) - 1;

	if (starts(c, n, "crio-conmon-") || starts(c, n, "libpod-conmon-"))
		return false;
	if (n > scope_len && !memcmp(c + n - scope_len, scope, scope_len)) {
		n -= scope_len;
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
			if (starts(c, n, prefixes[i])) {
				size_t p = strlen(prefixes[i]);

				c += p;
				n -= p;
				break;
			}
		}
	}
	if (n != CONTAINER_ID_HEX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_hex(c[i]))
			return false;
	*id = c;
	return true;
}

int container_id_parse(const char *content, size_t len, char *out, size_t out_size)
{
	const char *found = NULL, *end;

	if (!out || out_size < CONTAINER_ID_HEX + 1 || (!content && len))
		return -EINVAL;
	end = content + len;
	for (const char *c = content; c < end;) {
		const char *s = c, *id;

		while (c < end && *c != '/' && *c != '\n' && *c != ':')
			c++;
		if (component_id(s, (size_t)(c - s), &id))
			found = id;
		if (c < end)
			c++;
	}
	if (!found) {
		out[0] = 0;
		return 0;
	}
	for (size_t i = 0; i < CONTAINER_ID_HEX; i++)
		out[i] = (found[i] >= 'A' && found[i] <= 'F') ? (char)(found[i] - 'A' + 'a') : found[i];
	out[CONTAINER_ID_HEX] = 0;
	return CONTAINER_ID_HEX;
}

int container_id_of_pid(uint32_t pid, char *out, size_t out_size)
{
	char path[64], buf[CGROUP_FILE_BYTES_MAX];
	ssize_t n;
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf));
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	ret = container_id_parse(buf, (size_t)n, out, out_size);
	return ret < 0 ? ret : 0;
}

int proc_cache_new(struct proc_cache **out, uint32_t max_entries)
{
	struct proc_cache *c;
	uint32_t sets = 1;

	if (!out)
		return -EINVAL;
	if (!max_entries)
		max_entries = PROC_CACHE_MAX_DEFAULT;
	if (max_entries > PROC_CACHE_MAX_MAX)
		return -EINVAL;
	while (sets * PROC_CACHE_WAYS < max_entries)
		sets *= 2;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->e = calloc((size_t)sets * PROC_CACHE_WAYS, sizeof(*c->e));
	if (!c->e) {
		free(c);
		return -ENOMEM;
	}
	c->sets_mask = sets - 1;
	*out = c;
	return 0;
}

void proc_cache_free(struct proc_cache *c)
{
	if (!c)
		return;
	free(c->e);
	free(c);
}

static struct proc_entry *set_of(const struct proc_cache *c, uint32_t pid)
{
	/* pids are sequential: a multiplicative hash spreads neighbours */
	uint32_t h = pid * 2654435761u;

	return c->e + (size_t)((h >> 8) & c->sets_mask) * PROC_CACHE_WAYS;
}

static void copy_field(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memmove(dst, src ? src : "", n); /* src may be the entry's own field */
	dst[n] = 0;
}

void proc_cache_put(struct proc_cache *c, uint32_t pid, const char *name, const char *container)
{
	struct proc_entry *set, *slot = NULL;

	if (!c || !pid)
		return;
	set = set_of(c, pid);
	for (uint32_t w = 0; w < PROC_CACHE_WAYS && !slot; w++)
		if (set[w].pid == pid)
			slot = &set[w];
	for (uint32_t w = 0; w < PROC_CACHE_WAYS && !slot; w++)
		if (!set[w].pid)
			slot = &set[w];
	if (!slot) {
		slot = &set[0];
		for (uint32_t w = 1; w < PROC_CACHE_WAYS; w++)
			if (set[w].age - slot->age > UINT32_MAX / 2) /* older, wrap-safe */
				slot = &set[w];
		c->stats.evictions++;
		c->stats.entries--;
	}
	if (slot->pid != pid) {
		c->stats.entries++;
		c->stats.inserts++;
	}
	slot->pid = pid;
	slot->age = ++c->clock;
	copy_field(slot->name, sizeof(slot->name), name);
	copy_field(slot->container, sizeof(slot->container), container);
	slot->container_known = container != NULL;
}

const struct proc_entry *proc_cache_get(struct proc_cache *c, uint32_t pid)
{
	struct proc_entry *set;

	if (!c || !pid)
		return NULL;
	set = set_of(c, pid);
	for (uint32_t w = 0; w < PROC_CACHE_WAYS; w++) {
		if (set[w].pid == pid) {
			c->stats.hits++;
			return &set[w];
		}
	}
	c->stats.misses++;
	return NULL;
}

void proc_cache_remove(struct proc_cache *c, uint32_t pid)
{
	struct proc_entry *set;

	if (!c || !pid)
		return;
	set = set_of(c, pid);
	for (uint32_t w = 0; w < PROC_CACHE_WAYS; w++) {
		if (set[w].pid == pid) {
			memset(&set[w], 0, sizeof(set[w]));
			c->stats.entries--;
			c->stats.removals++;
			return;
		}
	}
}

void proc_cache_stats(const struct proc_cache *c, struct proc_cache_stats *out)
{
	if (c && out)
		*out = c->stats;
}
