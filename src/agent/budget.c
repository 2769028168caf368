/* The agent's budget controller; see budget.h and docs/agent.md. */
#include "agent/budget.h"

#include <string.h>

#define PCT 100.0
#define NS_PER_S 1e9
#define BYTES_PER_MB (1024.0 * 1024.0)
/* A measurement over a shorter interval is too noisy to count as a
 * second (a snapshot forced at shutdown, say): it is folded into the next. */
#define MIN_INTERVAL_NS 500000000ull

void budget_init(struct budget *b, const struct budget_opts *o)
{
	memset(b, 0, sizeof(*b));
	b->o = *o;
}

static bool over_budget(const struct budget *b, double cpu_pct, uint64_t rss)
{
	return cpu_pct > b->o.cpu_pct ||
	       (b->o.memory_mb && (double)rss > b->o.memory_mb * BYTES_PER_MB);
}

static bool under_recover_line(const struct budget *b, double cpu_pct, uint64_t rss)
{
	return cpu_pct < b->o.cpu_pct * BUDGET_RECOVER_RATIO &&
	       (!b->o.memory_mb ||
		(double)rss < b->o.memory_mb * BYTES_PER_MB * BUDGET_RECOVER_RATIO);
}

bool budget_feed(struct budget *b, double cpu_pct, uint64_t rss_bytes)
{
	int before = b->level;

	b->cpu_pct = cpu_pct;
	b->rss_bytes = rss_bytes;
	b->measured = true;
	if (over_budget(b, cpu_pct, rss_bytes)) {
		b->under_s = 0;
		b->over_s++;
	} else if (under_recover_line(b, cpu_pct, rss_bytes)) {
		b->over_s = 0;
		b->under_s++;
	} else {
		/* between the recover line and the budget: hold */
		b->over_s = 0;
		b->under_s = 0;
	}
	if (!b->o.enforced)
		return false;
	if (b->over_s >= b->o.up_after_s && b->level < BUDGET_LEVEL_MAX) {
		b->level++;
		b->steps_up++;
		b->over_s = 0;
	} else if (b->under_s >= b->o.down_after_s && b->level > 0) {
		b->level--;
		b->steps_down++;
		b->under_s = 0;
	}
	return b->level != before;
}

bool budget_update(struct budget *b, double cpu_s, uint64_t rss_bytes, uint64_t now_ns)
{
	double pct;

	if (!b->have_prev || now_ns < b->prev_ns || cpu_s < b->prev_cpu_s) {
		b->have_prev = true;
		b->prev_cpu_s = cpu_s;
		b->prev_ns = now_ns;
		b->rss_bytes = rss_bytes;
		return false;
	}
	if (now_ns - b->prev_ns < MIN_INTERVAL_NS)
		return false;
	pct = (cpu_s - b->prev_cpu_s) * PCT * NS_PER_S / (double)(now_ns - b->prev_ns);
	b->prev_cpu_s = cpu_s;
	b->prev_ns = now_ns;
	return budget_feed(b, pct, rss_bytes);
}

uint32_t budget_keep_one_in(const struct budget *b)
{
	int n = b->level < BUDGET_SAMPLING_LEVELS ? b->level : BUDGET_SAMPLING_LEVELS;

	return 1u << n;
}

uint32_t budget_capture_cap(const struct budget *b)
{
	if (b->level <= BUDGET_SAMPLING_LEVELS)
		return 0;
	return b->level == BUDGET_SAMPLING_LEVELS + 1 ? BUDGET_CAP_LEVEL1_BYTES
						       : BUDGET_CAP_LEVEL2_BYTES;
}

enum budget_state budget_state_of(const struct budget *b)
{
	if (!b->level)
		return BUDGET_NORMAL;
	return b->level <= BUDGET_SAMPLING_LEVELS ? BUDGET_SAMPLING : BUDGET_REDUCED_CAPTURE;
}

const char *budget_state_name(enum budget_state s)
{
	switch (s) {
	case BUDGET_NORMAL: return "normal";
	case BUDGET_SAMPLING: return "sampling";
	case BUDGET_REDUCED_CAPTURE: return "reduced_capture";
	case BUDGET_STATE_COUNT: break;
	}
	return "unknown";
}
