/* agent/budget: the controller's steps and hysteresis, fed measurements by
 * hand: up one step per up_after_s seconds over budget, down one per
 * down_after_s seconds under 70 % of it, held in between; the knobs of
 * every step; memory counts like CPU; not enforced never steps; the rate
 * from cumulative CPU seconds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent/budget.h"

#define MB (1024ull * 1024ull)
#define NS 1000000000ull

static const struct budget_opts opts = {
	.cpu_pct = 5.0, .memory_mb = 100, .up_after_s = 3, .down_after_s = 5, .enforced = true,
};

/* Feed pct for n seconds (small RSS); steps taken. */
static int feed(struct budget *b, double pct, int n)
{
	int changed = 0;

	for (int i = 0; i < n; i++)
		changed += budget_feed(b, pct, 10 * MB);
	return changed;
}

static void test_steps_up_and_knobs(void **state)
{
	static const uint32_t keep[] = { 1, 2, 4, 8, 16, 16, 16 };
	static const uint32_t cap[] = { 0, 0, 0, 0, 0, 256, 128 };
	static const enum budget_state st[] = { BUDGET_NORMAL, BUDGET_SAMPLING, BUDGET_SAMPLING,
						BUDGET_SAMPLING, BUDGET_SAMPLING,
						BUDGET_REDUCED_CAPTURE, BUDGET_REDUCED_CAPTURE };
	struct budget b;

	(void)state;
	budget_init(&b, &opts);
	assert_int_equal(budget_keep_one_in(&b), 1);
	assert_int_equal(budget_capture_cap(&b), 0);
	assert_string_equal(budget_state_name(budget_state_of(&b)), "normal");
	/* two seconds over: not yet */
	assert_int_equal(feed(&b, 50, 2), 0);
	assert_int_equal(b.level, 0);
	for (int level = 1; level <= BUDGET_LEVEL_MAX; level++) {
		/* the two first seconds of level 1 were fed above */
		if (level > 1)
			assert_int_equal(feed(&b, 50, 2), 0);
		assert_true(budget_feed(&b, 50, 10 * MB));
		assert_int_equal(b.level, level);
		assert_int_equal(budget_keep_one_in(&b), keep[level]);
		assert_int_equal(budget_capture_cap(&b), cap[level]);
		assert_int_equal(budget_state_of(&b), st[level]);
	}
	/* bounded */
	assert_int_equal(feed(&b, 50, 30), 0);
	assert_int_equal(b.level, BUDGET_LEVEL_MAX);
	assert_string_equal(budget_state_name(budget_state_of(&b)), "reduced_capture");
	assert_int_equal(b.steps_up, BUDGET_LEVEL_MAX);
}

static void test_hysteresis_and_recovery(void **state)
{
	struct budget b;

	(void)state;
	budget_init(&b, &opts);
	feed(&b, 50, 6);
	assert_int_equal(b.level, 2);
	/* between 70 % of the budget and the budget: held, however long */
	assert_int_equal(feed(&b, 4.0, 60), 0);
	assert_int_equal(b.level, 2);
	/* a second over resets the run under; over for less than up_after_s
	 * between seconds under does not step up */
	feed(&b, 1.0, 4);
	feed(&b, 9.0, 2);
	feed(&b, 1.0, 4);
	assert_int_equal(b.level, 2);
	/* five consecutive seconds under 3.5 %: one step down each */
	assert_true(feed(&b, 3.4, 5) == 1);
	assert_int_equal(b.level, 1);
	assert_int_equal(budget_keep_one_in(&b), 2);
	assert_true(feed(&b, 0.5, 5) == 1);
	assert_int_equal(b.level, 0);
	assert_int_equal(budget_keep_one_in(&b), 1);
	/* at normal, staying under changes nothing */
	assert_int_equal(feed(&b, 0.5, 20), 0);
	assert_int_equal(b.steps_down, 2);
	/* a dip does not recover: the 5 s run under is broken by a held second */
	feed(&b, 50, 3);
	assert_int_equal(b.level, 1);
	feed(&b, 1.0, 4);
	feed(&b, 4.0, 1);
	feed(&b, 1.0, 4);
	assert_int_equal(b.level, 1);
}

static void test_memory(void **state)
{
	struct budget b;

	(void)state;
	budget_init(&b, &opts);
	for (int i = 0; i < 3; i++)
		budget_feed(&b, 0.1, 200 * MB);
	assert_int_equal(b.level, 1);
	/* CPU low but memory above 70 MB: held */
	for (int i = 0; i < 10; i++)
		budget_feed(&b, 0.1, 80 * MB);
	assert_int_equal(b.level, 1);
	for (int i = 0; i < 5; i++)
		budget_feed(&b, 0.1, 50 * MB);
	assert_int_equal(b.level, 0);
	/* memory_mb 0: no memory budget */
	{
		struct budget_opts o = opts;

		o.memory_mb = 0;
		budget_init(&b, &o);
		for (int i = 0; i < 10; i++)
			budget_feed(&b, 0.1, 1000 * MB);
		assert_int_equal(b.level, 0);
	}
}

static void test_not_enforced(void **state)
{
	struct budget_opts o = opts;
	struct budget b;

	(void)state;
	o.enforced = false;
	budget_init(&b, &o);
	assert_int_equal(feed(&b, 99, 30), 0);
	assert_int_equal(b.level, 0);
	assert_true(b.measured);
	assert_true(b.cpu_pct == 99);
	assert_int_equal(budget_keep_one_in(&b), 1);
}

static void test_rate_from_totals(void **state)
{
	struct budget b;

	(void)state;
	budget_init(&b, &opts);
	/* the first call only records the start */
	assert_false(budget_update(&b, 10.0, MB, 100 * NS));
	assert_false(b.measured);
	/* 0.2 s of CPU in 2 s: 10 % */
	assert_false(budget_update(&b, 10.2, MB, 102 * NS));
	assert_true(b.cpu_pct > 9.99 && b.cpu_pct < 10.01);
	/* an interval under half a second is folded into the next */
	assert_false(budget_update(&b, 10.25, MB, 102 * NS + NS / 10));
	assert_true(b.cpu_pct > 9.99 && b.cpu_pct < 10.01);
	assert_false(budget_update(&b, 10.3, MB, 103 * NS));
	assert_true(b.cpu_pct > 9.99 && b.cpu_pct < 10.01);
	/* third second over: a step */
	assert_true(budget_update(&b, 10.4, MB, 104 * NS));
	assert_int_equal(b.level, 1);
	/* a clock or counter going back restarts the measurement */
	assert_false(budget_update(&b, 1.0, MB, 105 * NS));
	assert_int_equal(b.level, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steps_up_and_knobs),
		cmocka_unit_test(test_hysteresis_and_recovery),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_not_enforced),
		cmocka_unit_test(test_rate_from_totals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
