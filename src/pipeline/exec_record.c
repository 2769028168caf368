/* Decoding of the process tracer's raw records; see exec_record.h. */
#include "pipeline/exec_record.h"

#include <errno.h>
#include <string.h>

static void copy_hdr(const struct exec_event_hdr *h, struct exec_record *r)
{
	r->kind = (enum exec_event_kind)h->kind;
	r->pid = h->pid;
	r->ppid = h->ppid;
	r->flags = h->flags;
	r->ts_ns = h->ts_ns;
	memcpy(r->comm, h->comm, EXEC_COMM_LEN);
	r->comm[EXEC_COMM_LEN] = '\0';
}

static int decode_exec(const struct exec_event *e, size_t size, struct exec_record *r)
{
	const char *p, *end;

	if (size < EXEC_EVENT_HEAD_BYTES || e->args_len > EXEC_ARGS_BYTES_MAX ||
	    size < EXEC_EVENT_HEAD_BYTES + e->args_len ||
	    e->filename_len >= EXEC_FILENAME_BYTES_MAX)
		return -EINVAL;
	r->uid = e->uid;
	r->retval = e->retval;
	r->cgroup_id = e->cgroup_id;
	r->filename = e->filename;
	r->filename_len = (uint32_t)strnlen(e->filename, e->filename_len);
	r->argc_total = e->argc_total;
	r->args_bytes = e->args_total_bytes;
	r->args_truncated = (e->hdr.flags & EXEC_F_ARGS_TRUNCATED) != 0;
	r->argc = 0;
	p = e->args;
	end = e->args + e->args_len;
	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);

		if (r->argc == EXEC_RECORD_ARGS_MAX) {
			r->args_truncated = true;
			break;
		}
		r->args[r->argc].ptr = p;
		r->args[r->argc].len = (uint32_t)n;
		r->argc++;
		if (!nul) {
			/* the last string was cut by the capture bound */
			r->args_truncated = true;
			break;
		}
		p = nul + 1;
	}
	return 0;
}

int exec_record_decode(const void *data, size_t size, struct exec_record *r)
{
	const struct exec_event_hdr *h = data;

	if (!data || size < sizeof(*h))
		return -EINVAL;
	memset(r, 0, offsetof(struct exec_record, args));
	copy_hdr(h, r);
	switch (h->kind) {
	case EXEC_EV_EXEC:
		return decode_exec(data, size, r);
	case EXEC_EV_FORK:
		return size >= sizeof(struct exec_fork_event) ? 0 : -EINVAL;
	case EXEC_EV_EXIT: {
		const struct exec_exit_event *x = data;

		if (size < sizeof(*x))
			return -EINVAL;
		r->signal = x->exit_status & 0x7f;
		r->core_dumped = (x->exit_status & 0x80) != 0;
		r->exit_code = (x->exit_status >> 8) & 0xff;
		r->duration_ns = x->duration_ns;
		return 0;
	}
	default:
		return -EINVAL;
	}
}
