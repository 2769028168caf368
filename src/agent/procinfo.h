/* Who a traced process is, for the agent's labels: its container id, parsed
 * from /proc/PID/cgroup (docker, containerd, cri-o and podman shapes), and a
 * bounded pid -> (process name, container id) cache fed by the exec tracer,
 * so a label costs a lookup, not a /proc read per request. */
#ifndef SONDE_AGENT_PROCINFO_H
#define SONDE_AGENT_PROCINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/series.h"

#define CONTAINER_ID_HEX 64u
#define PROC_CACHE_MAX_DEFAULT 4096u
#define PROC_CACHE_MAX_MAX (1u << 22)
/* Entries compared per lookup: a pid maps to one set of this many; when the
 * set is full the oldest insertion of it is replaced (counted). */
#define PROC_CACHE_WAYS 4u

/* The container id in the text of a /proc/PID/cgroup file (content[0..len),
 * not NUL-terminated): the last path component, in any line, that is 64 hex
 * digits alone or wrapped as docker-ID.scope, cri-containerd-ID.scope,
 * crio-ID.scope, libpod-ID.scope (podman), or /docker/ID, /kubepods/.../ID.
 * A conmon scope (crio-conmon-, libpod-conmon-) is not a container. Writes
 * the id (lower case) or "" into out (size >= CONTAINER_ID_HEX + 1).
 * Returns its length (64 or 0), or -EINVAL. O(len). */
int container_id_parse(const char *content, size_t len, char *out, size_t out_size);

/* The same from /proc/<pid>/cgroup: 0 (out may be ""), or a negative errno
 * when the file cannot be read (the process is gone). */
int container_id_of_pid(uint32_t pid, char *out, size_t out_size);

struct proc_entry {
	uint32_t pid;            /* 0: free */
	uint32_t age;            /* insertion order within the set */
	bool container_known;    /* container was read ("" may mean none) */
	char name[SERIES_NAME_BYTES];
	char container[SERIES_CONTAINER_BYTES];
};

struct proc_cache_stats {
	uint64_t hits, misses, inserts, evictions, removals;
	uint32_t entries;
};

struct proc_cache;

/* max_entries: 0 for PROC_CACHE_MAX_DEFAULT; rounded up to a multiple of
 * PROC_CACHE_WAYS (a power of two number of sets). ~110 B per entry,
 * allocated once. 0 or -ENOMEM/-EINVAL. */
int proc_cache_new(struct proc_cache **out, uint32_t max_entries);
void proc_cache_free(struct proc_cache *c);
/* Set (or replace) what is known of pid. name NULL: "". container NULL: not
 * read yet (container_known false), so an exec storm costs no /proc read
 * until a process actually makes or serves a request. */
void proc_cache_put(struct proc_cache *c, uint32_t pid, const char *name, const char *container);
/* The entry of pid, or NULL (a miss). Valid until the next put/remove. */
const struct proc_entry *proc_cache_get(struct proc_cache *c, uint32_t pid);
void proc_cache_remove(struct proc_cache *c, uint32_t pid);
void proc_cache_stats(const struct proc_cache *c, struct proc_cache_stats *out);

#endif
