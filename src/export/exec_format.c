/* Formatting of process records; see exec_format.h. */
#include "export/exec_format.h"

#include "export/text_line.h"

#include <errno.h>
#include <string.h>


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

/* The columns of exec_text_header(), by hand like `sonde http`'s (one time
 * column format for both). */
int exec_record_to_text(const struct exec_record *r, uint64_t t0_ns, char *buf, size_t size)
{
	struct text_line l;
	size_t start;

	text_line_init(&l, buf, size);
	text_line_fixed(&l, r->ts_ns >= t0_ns ? r->ts_ns - t0_ns : 0, TEXT_NS_PER_SEC, 6);
	text_line_pad(&l, 0, 13);
	start = l.off;
	text_line_cstr(&l, kind_name(r->kind));
	text_line_pad(&l, start, 5);
	start = l.off;
	text_line_u64(&l, r->pid);
	text_line_pad(&l, start, 8);
	start = l.off;
	text_line_u64(&l, r->ppid);
	text_line_pad(&l, start, 8);
	start = l.off;
	if (r->kind == EXEC_EV_EXEC)
		text_line_u64(&l, r->uid);
	text_line_pad(&l, start, 6);
	start = l.off;
	text_line_safe(&l, r->comm, strlen(r->comm), true);
	text_line_pad(&l, start, 16);
	switch (r->kind) {
	case EXEC_EV_EXEC:
		if (r->flags & EXEC_F_FAILED) {
			text_line_put(&l, "[", 1);
			text_line_cstr(&l, exec_error_name(r->retval));
			text_line_put(&l, "] ", 2);
		}
		text_line_safe(&l, r->filename, r->filename_len, true);
		for (uint32_t i = 0; i < r->argc; i++) {
			text_line_put(&l, " ", 1);
			text_line_safe(&l, r->args[i].ptr, r->args[i].len, true);
		}
		if (r->args_truncated)
			text_line_put(&l, " [...]", 6);
		break;
	case EXEC_EV_EXIT:
		if (r->signal) {
			text_line_put(&l, "signal=", 7);
			text_line_i64(&l, r->signal);
			if (r->core_dumped)
				text_line_put(&l, " (core)", 7);
		} else {
			text_line_put(&l, "code=", 5);
			text_line_i64(&l, r->exit_code);
		}
		text_line_put(&l, " after ", 7);
		text_line_fixed(&l, r->duration_ns, TEXT_NS_PER_MS, 3);
		text_line_put(&l, "ms", 2);
		if (r->flags & EXIT_F_SINCE_FORK)
			text_line_put(&l, " (since fork)", 13);
		break;
	case EXEC_EV_FORK:
		break;
	}
	return text_line_end(&l);
}
