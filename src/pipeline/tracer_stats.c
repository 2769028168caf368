/* Accounting of a tracer run; see tracer_stats.h. */
#include "pipeline/tracer_stats.h"

#include <inttypes.h>
#include <stdio.h>

#include "loader/bpf_env.h"

static const char *const user_drop_names[USER_DROP_COUNT] = {
	[USER_DROP_DECODE_ERROR] = "decode_error",
	[USER_DROP_OUTPUT_ERROR] = "output_error",
};

/* Kernel counters that are drops (the others are production or partial);
 * the last ones only the HTTP tracer has. */
static const enum sonde_stat kernel_drops[] = {
	STAT_DROP_RINGBUF_FULL, STAT_DROP_READ_FAULT, STAT_DROP_MAP_FULL, STAT_DROP_TLS_NO_CONN,
};
#define KERNEL_DROPS_COUNT (sizeof(kernel_drops) / sizeof(kernel_drops[0]))
#define KERNEL_DROPS_HTTP_ONLY 1

static size_t drops_shown(const struct tracer_stats *s)
{
	return s->http ? KERNEL_DROPS_COUNT : KERNEL_DROPS_COUNT - KERNEL_DROPS_HTTP_ONLY;
}

uint64_t tracer_stats_dropped_total(const struct tracer_stats *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i < KERNEL_DROPS_COUNT; i++)
		n += s->kernel[kernel_drops[i]];
	for (int i = 0; i < USER_DROP_COUNT; i++)
		n += s->user_dropped[i];
	return n;
}

bool tracer_stats_balanced(const struct tracer_stats *s)
{
	return s->kernel[STAT_PRODUCED] ==
	       s->delivered + s->filtered + tracer_stats_dropped_total(s);
}

void tracer_stats_to_json(const struct tracer_stats *s, struct json_writer *w)
{
	json_obj_begin(w);
	tracer_stats_json_fields(s, w);
	json_obj_end(w);
}

void tracer_stats_json_fields(const struct tracer_stats *s, struct json_writer *w)
{
	json_key(w, "type");
	json_cstr(w, "stats");
	json_key(w, "produced");
	json_u64(w, s->kernel[STAT_PRODUCED]);
	json_key(w, "delivered");
	json_u64(w, s->delivered);
	json_key(w, "filtered");
	json_u64(w, s->filtered);
	json_key(w, "dropped");
	json_obj_begin(w);
	for (size_t i = 0; i < drops_shown(s); i++) {
		json_key(w, bpf_env_stat_name(kernel_drops[i]));
		json_u64(w, s->kernel[kernel_drops[i]]);
	}
	for (int i = 0; i < USER_DROP_COUNT; i++) {
		json_key(w, user_drop_names[i]);
		json_u64(w, s->user_dropped[i]);
	}
	json_obj_end(w);
	json_key(w, "partial");
	json_obj_begin(w);
	json_key(w, "read_fault");
	json_u64(w, s->kernel[STAT_PARTIAL_READ_FAULT]);
	if (s->http) {
		json_key(w, "payload_shed");
		json_u64(w, s->kernel[STAT_PARTIAL_SHED]);
	}
	json_obj_end(w);
	/* requests left out on purpose by the agent's budget (0 for sonde
	 * http, which never samples): not produced, so not in the balance */
	if (s->http) {
		json_key(w, "sampled_out");
		json_obj_begin(w);
		json_key(w, "server");
		json_u64(w, s->kernel[STAT_SAMPLED_OUT_SERVER]);
		json_key(w, "client");
		json_u64(w, s->kernel[STAT_SAMPLED_OUT_CLIENT]);
		json_obj_end(w);
		/* calls whose I/O sonde cannot see (not produced either) */
		json_key(w, "unseen");
		json_obj_begin(w);
		json_key(w, "io_uring_calls");
		json_u64(w, s->kernel[STAT_UNSEEN_IO_URING]);
		/* fds of a close_range past those looked at: their
		 * connections' closes are not seen */
		json_key(w, "close_range_fds");
		json_u64(w, s->kernel[STAT_UNSEEN_CLOSE_RANGE]);
		/* sendmmsg/recvmmsg on tracked connections: bytes not read */
		json_key(w, "mmsg_calls");
		json_u64(w, s->kernel[STAT_UNSEEN_MMSG]);
		json_obj_end(w);
	}
}

int tracer_stats_to_text(const struct tracer_stats *s, char *buf, size_t size)
{
	int n = snprintf(buf, size,
			 "stats: produced %" PRIu64 ", delivered %" PRIu64 ", filtered %" PRIu64
			 ", dropped %" PRIu64,
			 s->kernel[STAT_PRODUCED], s->delivered, s->filtered,
			 tracer_stats_dropped_total(s));
	const char *sep = " (";

	for (size_t i = 0; i < KERNEL_DROPS_COUNT && n > 0 && (size_t)n < size; i++) {
		uint64_t v = s->kernel[kernel_drops[i]];

		if (v) {
			n += snprintf(buf + n, size - (size_t)n, "%s%s %" PRIu64, sep,
				      bpf_env_stat_name(kernel_drops[i]), v);
			sep = ", ";
		}
	}
	for (int i = 0; i < USER_DROP_COUNT && n > 0 && (size_t)n < size; i++) {
		if (s->user_dropped[i]) {
			n += snprintf(buf + n, size - (size_t)n, "%s%s %" PRIu64, sep,
				      user_drop_names[i], s->user_dropped[i]);
			sep = ", ";
		}
	}
	if (sep[0] == ',' && n > 0 && (size_t)n < size)
		n += snprintf(buf + n, size - (size_t)n, ")");
	return n;
}
