/* Least privilege for the tracers: say up front which capability is missing
 * (one line, instead of the kernel's bare EPERM from deep inside libbpf),
 * and drop to an unprivileged user once everything that needs privilege is
 * loaded and attached, keeping only the capabilities still used at run time.
 * Raw capget/capset: no libcap dependency for a handful of bits. */
#ifndef SONDE_LOADER_PRIVILEGE_H
#define SONDE_LOADER_PRIVILEGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/capability.h>
#include <sys/types.h>

/* Debian 12's headers know these; older ones may not. */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* A set of capabilities: bit N is capability N (CAP_BPF is 39). */
typedef uint64_t priv_caps_t;
#define PRIV_CAP(n) ((priv_caps_t)1 << (n))

#define PRIV_USER_NAME_BYTES 64

struct priv_user {
	char name[PRIV_USER_NAME_BYTES];
	uid_t uid;
	gid_t gid;
};

/* The calling thread's effective (or permitted) capability set: 0 or a
 * negative errno. */
int priv_caps_get(priv_caps_t *effective, priv_caps_t *permitted);
bool priv_has_cap(int cap);

/* "CAP_BPF, CAP_PERFMON" for a set (names of the capabilities sonde talks
 * about, else "cap_N"); the number of bytes written, like snprintf. */
int priv_caps_format(priv_caps_t caps, char *buf, size_t size);

/* Can this process load and attach a tracer? needs_tracefs: it attaches
 * tracepoints by their tracefs id (tp/..., not tp_btf/raw_tp). 0, or
 * -EPERM with one line in err naming what is missing and what to do. */
int priv_check_tracer(bool needs_tracefs, char *err, size_t err_size);

/* Look a user name (or a numeric uid) up in the password database: 0, or
 * -ENOENT (unknown) / a negative errno, with one line in err. Done before
 * anything is loaded, so that a typo costs nothing. */
int priv_user_lookup(const char *name, struct priv_user *u, char *err, size_t err_size);

/* Whether this process can become u (it is u already, or has CAP_SETUID
 * and CAP_SETGID): 0, or -EPERM with one line in err. */
int priv_user_check_switch(const struct priv_user *u, char *err, size_t err_size);

/* Whether op(ctx) (bpf() on fds already held, say) fails without any
 * effective capability and works with them: the effective set is emptied
 * for the call and restored. Old kernels (< 6.5) with
 * kernel.unprivileged_bpf_disabled refuse every bpf() command to a process
 * without CAP_BPF, newer ones only loads and map creation. */
bool priv_op_needs_caps(int (*op)(void *ctx), void *ctx);

/* Become u for good: supplementary groups of u, gid, uid (real, effective
 * and saved), then exactly the capabilities in keep (effective and
 * permitted; none inheritable or ambient; the bounding set cut to keep when
 * CAP_SETPCAP allows it), then PR_SET_NO_NEW_PRIVS. Checked afterwards
 * (ids, capability sets, setuid(0) refused). The process must be single
 * threaded: capabilities are per thread. 0, or a negative errno with one
 * line in err; on an error the process may be half dropped and must exit. */
int priv_drop_to_user(const struct priv_user *u, priv_caps_t keep, char *err, size_t err_size);

#endif
