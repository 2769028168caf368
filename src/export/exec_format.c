/* Formatting of process records; see exec_format.h. */
#include "export/exec_format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_SEC 1000000000.0

static const char *kind_name(enum exec_event_kind k)
{
	switch (k) {
	case EXEC_EV_EXEC: return "exec";
	case EXEC_EV_FORK: return "fork";
	case EXEC_EV_EXIT: return "exit";
	}
	return "unknown";
}

/* Largest errno the kernel returns from a syscall (include/linux/err.h). */
#define ERRNO_MAX 4095

/* The name of a failed exec's error ("ENOENT"), from its return value. Any
 * value that is not a -errno (a hostile or corrupt record) is EUNKNOWN. */
static const char *exec_error_name(int32_t retval)
{
	const char *s;

	if (retval >= 0 || retval < -ERRNO_MAX)
		return "EUNKNOWN";
	s = strerrorname_np(-retval);
	return s ? s : "EUNKNOWN";
}

int exec_record_to_json(const struct exec_record *r, struct json_writer *w)
{
	json_obj_begin(w);
	json_key(w, "type");
	json_cstr(w, kind_name(r->kind));
	json_key(w, "ts_ns");
	json_u64(w, r->ts_ns);
	json_key(w, "pid");
	json_u64(w, r->pid);
	json_key(w, "ppid");
	json_u64(w, r->ppid);
	if (r->kind == EXEC_EV_EXEC) {
		json_key(w, "uid");
		json_u64(w, r->uid);
	}
	json_key(w, "comm");
	json_cstr(w, r->comm);
	if (r->kind == EXEC_EV_EXEC) {
		json_key(w, "filename");
		json_str(w, r->filename, r->filename_len);
		json_key(w, "args");
		json_arr_begin(w);
		for (uint32_t i = 0; i < r->argc; i++)
			json_str(w, r->args[i].ptr, r->args[i].len);
		json_arr_end(w);
		json_key(w, "args_truncated");
		json_bool(w, r->args_truncated);
		json_key(w, "argc");
		if (r->argc_total)
			json_u64(w, r->argc_total);
		else if (!r->args_truncated && !(r->flags & EXEC_F_ARGS_FAULT))
			json_u64(w, r->argc);
		else
			json_write_null(w); /* not known: more than was captured */
		json_key(w, "args_bytes");
		json_u64(w, r->args_bytes);
		json_key(w, "cgroup_id");
		json_u64(w, r->cgroup_id);
		json_key(w, "ok");
		json_bool(w, !(r->flags & EXEC_F_FAILED));
		if (r->flags & EXEC_F_FAILED) {
			json_key(w, "error");
			json_cstr(w, exec_error_name(r->retval));
		}
	} else if (r->kind == EXEC_EV_EXIT) {
		json_key(w, "exit_code");
		json_i64(w, r->exit_code);
		json_key(w, "signal");
		json_i64(w, r->signal);
		json_key(w, "core_dumped");
		json_bool(w, r->core_dumped);
		json_key(w, "duration_ns");
		json_u64(w, r->duration_ns);
		json_key(w, "duration_from");
		json_cstr(w, (r->flags & EXIT_F_SINCE_FORK) ? "fork" : "exec");
	}
	json_obj_end(w);
	return json_finish(w);
}

const char *exec_text_header(void)
{
	return "TIME(s)       EVENT PID      PPID     UID    COMM             DETAIL";
}

/* Append len bytes of s to buf at *off, printable ASCII as is, the rest as
 * \xNN. False when it does not fit. */
static bool put_safe(char *buf, size_t size, size_t *off, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int n;

		if (c >= 0x20 && c < 0x7F && c != '\\')
			n = snprintf(buf + *off, size - *off, "%c", c);
		else
			n = snprintf(buf + *off, size - *off, "\\x%02x", c);
		if (n < 0 || (size_t)n >= size - *off)
			return false;
		*off += (size_t)n;
	}
	return true;
}

int exec_record_to_text(const struct exec_record *r, uint64_t t0_ns, char *buf, size_t size)
{
	double t = r->ts_ns >= t0_ns ? (double)(r->ts_ns - t0_ns) / NS_PER_SEC : 0.0;
	size_t off = 0;
	char uid[16] = "";
	int n;

	if (r->kind == EXEC_EV_EXEC)
		snprintf(uid, sizeof(uid), "%" PRIu32, r->uid);
	n = snprintf(buf, size, "%-13.6f %-5s %-8" PRIu32 " %-8" PRIu32 " %-6s ", t,
		     kind_name(r->kind), r->pid, r->ppid, uid);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	off = (size_t)n;
	if (!put_safe(buf, size, &off, r->comm, strlen(r->comm)))
		return -ENOSPC;
	n = snprintf(buf + off, size - off, "%*s", (int)(16 - strlen(r->comm) + 1), " ");
	if (n < 0 || (size_t)n >= size - off)
		return -ENOSPC;
	off += (size_t)n;
	switch (r->kind) {
	case EXEC_EV_EXEC:
		if (r->flags & EXEC_F_FAILED) {
			n = snprintf(buf + off, size - off, "[%s] ", exec_error_name(r->retval));
			if (n < 0 || (size_t)n >= size - off)
				return -ENOSPC;
			off += (size_t)n;
		}
		if (!put_safe(buf, size, &off, r->filename, r->filename_len))
			return -ENOSPC;
		for (uint32_t i = 0; i < r->argc; i++) {
			if (!put_safe(buf, size, &off, " ", 1) ||
			    !put_safe(buf, size, &off, r->args[i].ptr, r->args[i].len))
				return -ENOSPC;
		}
		if (r->args_truncated && !put_safe(buf, size, &off, " [...]", 6))
			return -ENOSPC;
		break;
	case EXEC_EV_EXIT:
		if (r->signal)
			n = snprintf(buf + off, size - off, "signal=%d%s", r->signal,
				     r->core_dumped ? " (core)" : "");
		else
			n = snprintf(buf + off, size - off, "code=%d", r->exit_code);
		if (n < 0 || (size_t)n >= size - off)
			return -ENOSPC;
		off += (size_t)n;
		n = snprintf(buf + off, size - off, " after %.3fms%s",
			     (double)r->duration_ns / 1e6,
			     (r->flags & EXIT_F_SINCE_FORK) ? " (since fork)" : "");
		if (n < 0 || (size_t)n >= size - off)
			return -ENOSPC;
		off += (size_t)n;
		break;
	case EXEC_EV_FORK:
		break;
	}
	return (int)off;
}
