/* The list of BPF objects sonde ships and the measurement of what each of
 * their programs costs the verifier (see bpf_programs.h). Adding an object
 * means one entry in shipped[] below: `sonde doctor --programs` and the
 * verifier-budget test both pick it up. */
#include "loader/bpf_programs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "exec.skel.h"
#include "http.skel.h"
#include "exec.h"
#include "http.h"
#include "loader/http_tracer.h"

/* Log level 4 (BPF_LOG_STATS) writes only the closing statistics lines
 * ("processed N insns ...", "verification time N usec", "stack depth"),
 * about 200 bytes; a larger level would need megabytes for sys_exit_any. */
#define VERIFIER_LOG_LEVEL_STATS 4
#define STATS_LOG_BYTES 1024
#define PROCESSED_PREFIX "processed "
#define VERIFY_TIME_PREFIX "verification time "
/* Filter values that only have to be non-zero: the programs are never
 * attached, but a set filter keeps its code in what the verifier walks. */
#define FILTER_ON_PID 1
#define FILTER_ON_PORT 1
#define FILTER_ON_COMM "sonde-doctor"

/* One shipped object: open it (configured for the most verifier work) and
 * hand back its bpf_object; destroy undoes open. */
struct shipped_object {
	const char *name;
	void *(*open)(struct bpf_object **obj);
	void (*destroy)(void *skel);
};

static void *exec_open(struct bpf_object **obj)
{
	struct exec_bpf *s = exec_bpf__open();

	if (!s)
		return NULL;
	s->rodata->filter_pid = FILTER_ON_PID;
	s->rodata->filter_uid_on = true;
	s->rodata->filter_comm_on = true;
	snprintf((char *)s->rodata->filter_comm, EXEC_COMM_LEN, "%s", FILTER_ON_COMM);
	*obj = s->obj;
	return s;
}

static void exec_destroy(void *skel)
{
	exec_bpf__destroy(skel);
}

static void *http_open(struct bpf_object **obj)
{
	struct http_bpf *s = http_bpf__open();

	if (!s)
		return NULL;
	s->rodata->capture_bytes = HTTP_CAPTURE_BYTES_MAX;
	s->rodata->filter_pid = FILTER_ON_PID;
	s->rodata->filter_port = FILTER_ON_PORT;
	s->rodata->self_pid = (uint32_t)getpid();
	s->rodata->tls_on = true;
	/* loaded as `sonde http` loads them on this kernel */
	http_tls_progs_prepare(s->obj, http_tls_attach_best());
	*obj = s->obj;
	return s;
}

static void http_destroy(void *skel)
{
	http_bpf__destroy(skel);
}

static const struct shipped_object shipped[BPF_OBJ_COUNT] = {
	[BPF_OBJ_EXEC] = { "exec", exec_open, exec_destroy },
	[BPF_OBJ_HTTP] = { "http", http_open, http_destroy },
};

const char *bpf_shipped_name(enum bpf_shipped_object id)
{
	return (unsigned)id < BPF_OBJ_COUNT ? shipped[id].name : "unknown";
}

long bpf_prog_cost_insns(const struct bpf_prog_cost *c)
{
	if (c->insns_processed >= 0)
		return c->insns_processed;
	return c->has_verified_insns ? (long)c->verified_insns : -1;
}

/* The number after prefix in a verifier statistics log, or -1. */
static long log_number(const char *log, const char *prefix)
{
	const char *p = strstr(log, prefix);

	return p ? strtol(p + strlen(prefix), NULL, 10) : -1;
}

static void cost_describe(struct bpf_prog_cost *c, const char *object, struct bpf_program *prog)
{
	const char *type = libbpf_bpf_prog_type_str(bpf_program__type(prog));
	const char *func;

	memset(c, 0, sizeof(*c));
	snprintf(c->object, sizeof(c->object), "%s", object);
	snprintf(c->name, sizeof(c->name), "%s", bpf_program__name(prog));
	snprintf(c->type, sizeof(c->type), "%s", type ? type : "unknown");
	snprintf(c->section, sizeof(c->section), "%s", bpf_program__section_name(prog));
	/* SSL programs' sections do not name their hook: the http tracer
	 * attaches them to an OpenSSL function in every libssl it finds */
	if ((func = http_tls_hook_func(c->name)))
		snprintf(c->section, sizeof(c->section), "%s libssl:%s",
			 bpf_program__section_name(prog), func);
	c->insns_processed = -1;
	c->verify_us = -1;
}

/* After a successful load: the log's statistics and the kernel's own info. */
static void cost_fill(struct bpf_prog_cost *c, struct bpf_program *prog, const char *log)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	c->insns_processed = log_number(log, PROCESSED_PREFIX);
	c->verify_us = log_number(log, VERIFY_TIME_PREFIX);
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len)) {
		c->err = -errno;
		snprintf(c->error, sizeof(c->error), "loaded, but its info is unreadable: %s",
			 strerror(errno));
		return;
	}
	/* An older kernel fills only the fields it knows and says how many. */
	c->has_verified_insns = len >= offsetof(struct bpf_prog_info, verified_insns) +
				       sizeof(info.verified_insns);
	c->verified_insns = c->has_verified_insns ? info.verified_insns : 0;
	c->xlated_bytes = info.xlated_prog_len;
	c->jited_bytes = info.jited_prog_len;
}

/* Open the object with only `only` autoloaded (NULL: every program), point
 * each program's log at logs[i], and load it. Returns the load's result;
 * *skel and *obj are set when the open worked (the caller destroys). */
static int object_load(const struct shipped_object *so, const char *only, char (*logs)[STATS_LOG_BYTES],
		       size_t nlogs, void **skel, struct bpf_object **obj)
{
	struct bpf_program *prog;
	size_t i = 0;

	*skel = so->open(obj);
	if (!*skel)
		return errno ? -errno : -EINVAL;
	bpf_object__for_each_program(prog, *obj) {
		if (i >= nlogs)
			return -ENOSPC;
		logs[i][0] = '\0';
		/* kprobe programs too: they load on any kernel; attaching is
		 * what needs kprobes, and is not done here. */
		bpf_program__set_autoload(prog, !only || !strcmp(only, bpf_program__name(prog)));
		bpf_program__set_log_buf(prog, logs[i], STATS_LOG_BYTES);
		bpf_program__set_log_level(prog, VERIFIER_LOG_LEVEL_STATS);
		i++;
	}
	return bpf_object__load(*obj);
}

/* The whole object was refused: load each program alone to find which one
 * the kernel refuses and measure the others. */
static void measure_one_by_one(const struct shipped_object *so, struct bpf_prog_cost *out,
			       size_t n, char (*logs)[STATS_LOG_BYTES])
{
	for (size_t k = 0; k < n; k++) {
		struct bpf_program *prog;
		struct bpf_object *obj = NULL;
		void *skel = NULL;
		size_t i = 0;
		int err;

		err = object_load(so, out[k].name, logs, n, &skel, &obj);
		if (!skel) {
			out[k].err = err;
			snprintf(out[k].error, sizeof(out[k].error), "cannot open the object: %s",
				 strerror(-err));
			continue;
		}
		bpf_object__for_each_program(prog, obj) {
			if (i++ != k)
				continue;
			if (err) {
				out[k].err = err;
				snprintf(out[k].error, sizeof(out[k].error),
					 "refused at load: %s (sonde doctor -v --programs shows "
					 "libbpf's messages)", strerror(-err));
			} else {
				cost_fill(&out[k], prog, logs[k]);
			}
		}
		so->destroy(skel);
	}
}

int bpf_shipped_measure(enum bpf_shipped_object id, struct bpf_prog_cost *out, size_t cap,
			size_t *count, char *err, size_t err_size)
{
	const struct shipped_object *so;
	char (*logs)[STATS_LOG_BYTES];
	struct bpf_program *prog;
	struct bpf_object *obj = NULL;
	void *skel = NULL;
	size_t n = 0;
	int ret;

	*count = 0;
	if ((unsigned)id >= BPF_OBJ_COUNT) {
		snprintf(err, err_size, "unknown BPF object %d", (int)id);
		return -EINVAL;
	}
	so = &shipped[id];
	logs = calloc(cap ? cap : 1, sizeof(*logs));
	if (!logs) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	ret = object_load(so, NULL, logs, cap, &skel, &obj);
	if (!skel) {
		snprintf(err, err_size, "opening the %s BPF object failed: %s", so->name,
			 strerror(-ret));
		goto cleanup;
	}
	bpf_object__for_each_program(prog, obj) {
		if (n >= cap) {
			snprintf(err, err_size, "the %s object has more than %zu programs", so->name, cap);
			ret = -ENOSPC;
			goto cleanup;
		}
		cost_describe(&out[n], so->name, prog);
		if (!ret)
			cost_fill(&out[n], prog, logs[n]);
		n++;
	}
	*count = n;
	if (ret) {
		so->destroy(skel);
		skel = NULL;
		measure_one_by_one(so, out, n, logs);
		ret = 0;
	}
cleanup:
	if (skel)
		so->destroy(skel);
	free(logs);
	return ret;
}
