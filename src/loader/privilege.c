/* Capability checks and the drop to an unprivileged user; see privilege.h
 * and docs/privileges.md for which capability each feature needs. */
#include "loader/privilege.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* Where libbpf reads a tracepoint's id (tp/... programs): mode 0700 root. */
#define TRACEFS_EVENTS "/sys/kernel/tracing/events"
#define CAP_LAST_CAP_PATH "/proc/sys/kernel/cap_last_cap"
#define PWD_BUF_BYTES 16384

struct caps_v3 {
	struct __user_cap_data_struct d[2]; /* bits 0..31, 32..63 */
};

static int caps_read(struct caps_v3 *c)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

	memset(c, 0, sizeof(*c));
	return syscall(SYS_capget, &h, c->d) ? -errno : 0;
}

static int caps_write(const struct caps_v3 *c)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

	return syscall(SYS_capset, &h, c->d) ? -errno : 0;
}

static priv_caps_t join(uint32_t lo, uint32_t hi)
{
	return (priv_caps_t)lo | (priv_caps_t)hi << 32;
}

int priv_caps_get(priv_caps_t *effective, priv_caps_t *permitted)
{
	struct caps_v3 c;
	int ret = caps_read(&c);

	if (ret)
		return ret;
	if (effective)
		*effective = join(c.d[0].effective, c.d[1].effective);
	if (permitted)
		*permitted = join(c.d[0].permitted, c.d[1].permitted);
	return 0;
}

bool priv_has_cap(int cap)
{
	priv_caps_t eff;

	return cap >= 0 && cap < 64 && !priv_caps_get(&eff, NULL) && (eff & PRIV_CAP(cap));
}

static const char *cap_name(int cap)
{
	switch (cap) {
	case CAP_DAC_OVERRIDE: return "CAP_DAC_OVERRIDE";
	case CAP_DAC_READ_SEARCH: return "CAP_DAC_READ_SEARCH";
	case CAP_KILL: return "CAP_KILL";
	case CAP_SETGID: return "CAP_SETGID";
	case CAP_SETUID: return "CAP_SETUID";
	case CAP_SETPCAP: return "CAP_SETPCAP";
	case CAP_SYS_PTRACE: return "CAP_SYS_PTRACE";
	case CAP_SYS_ADMIN: return "CAP_SYS_ADMIN";
	case CAP_SYS_RESOURCE: return "CAP_SYS_RESOURCE";
	case CAP_PERFMON: return "CAP_PERFMON";
	case CAP_BPF: return "CAP_BPF";
	default: return NULL;
	}
}

int priv_caps_format(priv_caps_t caps, char *buf, size_t size)
{
	size_t n = 0;

	if (size)
		buf[0] = '\0';
	for (int c = 0; c < 64; c++) {
		const char *name = cap_name(c);
		char num[16];
		int w;

		if (!(caps & PRIV_CAP(c)))
			continue;
		if (!name) {
			snprintf(num, sizeof(num), "cap_%d", c);
			name = num;
		}
		w = snprintf(buf + (n < size ? n : size), n < size ? size - n : 0, "%s%s",
			     n ? ", " : "", name);
		if (w < 0)
			return w;
		n += (size_t)w;
	}
	if (!n)
		n = (size_t)snprintf(buf, size, "none");
	return (int)n;
}

int priv_check_tracer(bool needs_tracefs, char *err, size_t err_size)
{
	priv_caps_t eff = 0, missing = 0;
	char names[64];
	struct stat st;
	int ret;

	ret = priv_caps_get(&eff, NULL);
	if (ret) {
		snprintf(err, err_size, "reading this process's capabilities failed: %s",
			 strerror(-ret));
		return ret;
	}
	/* CAP_SYS_ADMIN stands in for both (kernels before 5.8 know only it) */
	if (!(eff & PRIV_CAP(CAP_SYS_ADMIN))) {
		if (!(eff & PRIV_CAP(CAP_BPF)))
			missing |= PRIV_CAP(CAP_BPF);
		if (!(eff & PRIV_CAP(CAP_PERFMON)))
			missing |= PRIV_CAP(CAP_PERFMON);
	}
	if (missing) {
		priv_caps_format(missing, names, sizeof(names));
		snprintf(err, err_size,
			 "loading BPF tracing programs needs CAP_BPF and CAP_PERFMON, and this process lacks %s: run as root or grant them (see docs/privileges.md)",
			 names);
		return -EPERM;
	}
	/* ENOENT: tracefs not mounted, which bpf_env_prepare() mends */
	if (needs_tracefs && stat(TRACEFS_EVENTS, &st) && errno == EACCES) {
		snprintf(err, err_size,
			 "cannot read the tracepoint ids in %s (Permission denied): run as uid 0 or add CAP_DAC_READ_SEARCH (see docs/privileges.md)",
			 TRACEFS_EVENTS);
		return -EPERM;
	}
	return 0;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int priv_user_lookup(const char *name, struct priv_user *u, char *err, size_t err_size)
{
	struct passwd pw, *found = NULL;
	char *buf;
	int ret;

	memset(u, 0, sizeof(*u));
	if (!name || !*name || strlen(name) >= sizeof(u->name)) {
		snprintf(err, err_size, "--user takes a user name or uid");
		return -EINVAL;
	}
	buf = malloc(PWD_BUF_BYTES);
	if (!buf) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	ret = getpwnam_r(name, &pw, buf, PWD_BUF_BYTES, &found);
	if (!found && all_digits(name)) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(name, &end, 10);
		if (!errno && v < (unsigned long)UINT32_MAX) {
			ret = getpwuid_r((uid_t)v, &pw, buf, PWD_BUF_BYTES, &found);
			if (!found) {
				/* a bare uid (containers): its own group, no others */
				u->uid = (uid_t)v;
				u->gid = (gid_t)v;
				free(buf);
				return 0;
			}
		}
	}
	if (!found) {
		free(buf);
		if (ret && ret != ENOENT && ret != ESRCH) {
			snprintf(err, err_size, "looking up user '%s' failed: %s", name, strerror(ret));
			return -ret;
		}
		snprintf(err, err_size, "--user: no such user '%s'", name);
		return -ENOENT;
	}
	snprintf(u->name, sizeof(u->name), "%s", pw.pw_name);
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	free(buf);
	return 0;
}

int priv_user_check_switch(const struct priv_user *u, char *err, size_t err_size)
{
	const priv_caps_t need = PRIV_CAP(CAP_SETUID) | PRIV_CAP(CAP_SETGID);
	priv_caps_t eff = 0;

	if (getuid() == u->uid && geteuid() == u->uid && getgid() == u->gid &&
	    getegid() == u->gid)
		return 0;
	if (priv_caps_get(&eff, NULL) || (eff & need) != need) {
		snprintf(err, err_size,
			 "--user needs CAP_SETUID and CAP_SETGID to switch to uid %u (run as root)",
			 (unsigned)u->uid);
		return -EPERM;
	}
	return 0;
}

bool priv_op_needs_caps(int (*op)(void *ctx), void *ctx)
{
	struct caps_v3 c, lowered;
	int without;

	if (caps_read(&c))
		return false;
	if (!c.d[0].effective && !c.d[1].effective)
		return false; /* nothing to lower: what works now is what is */
	lowered = c;
	lowered.d[0].effective = lowered.d[1].effective = 0;
	if (caps_write(&lowered))
		return false;
	without = op(ctx);
	caps_write(&c);
	return without != 0 && op(ctx) == 0;
}

static int threads_running(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

static int last_cap(void)
{
	FILE *f = fopen(CAP_LAST_CAP_PATH, "re");
	int n = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &n) != 1 || n < 0 || n > 63)
			n = CAP_LAST_CAP;
		fclose(f);
	}
	return n;
}

/* Cut the bounding set to keep, so that nothing exec'd later (sonde does
 * not exec, but a compromised one might) can be granted more. */
static int drop_bounding(priv_caps_t keep)
{
	int last = last_cap();

	for (int c = 0; c <= last; c++) {
		if (keep & PRIV_CAP(c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL)
			return -errno;
	}
	return 0;
}

#define FAIL(code, ...)                                       \
	do {                                                  \
		snprintf(err, err_size, __VA_ARGS__);         \
		return (code);                                \
	} while (0)

int priv_drop_to_user(const struct priv_user *u, priv_caps_t keep, char *err, size_t err_size)
{
	priv_caps_t eff, perm;
	struct caps_v3 c;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	char names[256];
	int ret, threads;

	ret = priv_caps_get(&eff, &perm);
	if (ret)
		FAIL(ret, "reading this process's capabilities failed: %s", strerror(-ret));
	threads = threads_running();
	if (threads != 1)
		FAIL(-EBUSY, "cannot drop privileges with %d threads running (capabilities are per thread)",
		     threads);
	if ((keep & perm) != keep) {
		priv_caps_format(keep & ~perm, names, sizeof(names));
		FAIL(-EPERM, "cannot keep %s: this process does not have it", names);
	}
	if ((ret = priv_user_check_switch(u, err, err_size)))
		return ret;
	if ((eff & PRIV_CAP(CAP_SETPCAP)) && (ret = drop_bounding(keep)))
		FAIL(ret, "cutting the capability bounding set failed: %s", strerror(-ret));
	/* keep the permitted set across setuid, then choose from it */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		FAIL(-errno, "prctl(PR_SET_KEEPCAPS) failed: %s", strerror(errno));
	if (eff & PRIV_CAP(CAP_SETGID)) {
		if (u->name[0] ? initgroups(u->name, u->gid) : setgroups(0, NULL))
			FAIL(-errno, "setting the groups of '%s' failed: %s", u->name, strerror(errno));
	}
	if (setresgid(u->gid, u->gid, u->gid))
		FAIL(-errno, "setgid(%u) failed: %s", (unsigned)u->gid, strerror(errno));
	if (setresuid(u->uid, u->uid, u->uid))
		FAIL(-errno, "setuid(%u) failed: %s", (unsigned)u->uid, strerror(errno));
	memset(&c, 0, sizeof(c));
	c.d[0].effective = c.d[0].permitted = (uint32_t)keep;
	c.d[1].effective = c.d[1].permitted = (uint32_t)(keep >> 32);
	if ((ret = caps_write(&c)))
		FAIL(ret, "setting the capabilities to keep failed: %s", strerror(-ret));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		FAIL(-errno, "clearing the ambient capabilities failed: %s", strerror(errno));
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		FAIL(-errno, "prctl(PR_SET_NO_NEW_PRIVS) failed: %s", strerror(errno));

	/* trust, but check: a drop that did not stick must not run on */
	if (getresuid(&ruid, &euid, &suid) || getresgid(&rgid, &egid, &sgid) ||
	    ruid != u->uid || euid != u->uid || suid != u->uid ||
	    rgid != u->gid || egid != u->gid || sgid != u->gid)
		FAIL(-EPERM, "the process did not become uid %u gid %u", (unsigned)u->uid,
		     (unsigned)u->gid);
	if ((ret = priv_caps_get(&eff, &perm)))
		FAIL(ret, "reading the capabilities after the drop failed: %s", strerror(-ret));
	if (eff != keep || perm != keep) {
		priv_caps_format(perm, names, sizeof(names));
		FAIL(-EPERM, "capabilities after the drop are %s, not the ones asked for", names);
	}
	if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		FAIL(-EPERM, "uid 0 could be regained after the drop");
	return 0;
}
