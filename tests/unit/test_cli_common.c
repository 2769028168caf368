/* Number parsing shared by every subcommand: whole numbers only, ranges
 * enforced, garbage refused rather than read as 0. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>

#include "cli/cli_common.h"
#include "loader/exec_tracer.h"

static void test_parse_long(void **st)
{
	long v = -1;

	(void)st;
	assert_int_equal(cli_parse_long("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(cli_parse_long("-3", -5, 5, &v), 0);
	assert_int_equal(v, -3);
	assert_int_equal(cli_parse_long("", 0, 100, &v), -EINVAL);
	assert_int_equal(cli_parse_long(NULL, 0, 100, &v), -EINVAL);
	assert_int_equal(cli_parse_long("12abc", 0, 100, &v), -EINVAL);
	assert_int_equal(cli_parse_long("abc", 0, 100, &v), -EINVAL);
	assert_int_equal(cli_parse_long(" 7x", 0, 100, &v), -EINVAL);
	assert_int_equal(cli_parse_long("101", 0, 100, &v), -ERANGE);
	assert_int_equal(cli_parse_long("-1", 0, 100, &v), -ERANGE);
	assert_int_equal(cli_parse_long("99999999999999999999999", 0, LONG_MAX, &v), -ERANGE);
	assert_int_equal(v, -3); /* untouched on error */
}

static void test_parse_range(void **st)
{
	long v = 7;

	(void)st;
	assert_int_equal(cli_parse_range("t", "n", "5", 1, 10, &v), 0);
	assert_int_equal(v, 5);
	/* says "t: --n takes 1 to 10, not '11'" */
	assert_int_equal(cli_parse_range("t", "n", "11", 1, 10, &v), -1);
	assert_int_equal(cli_parse_range("t", "n", "x", 1, 10, &v), -1);
	assert_int_equal(cli_parse_range("t", "n", "", 1, 10, &v), -1);
	assert_int_equal(cli_parse_range("t", "n", "0", 0, 0, &v), 0);
	assert_int_equal(v, 0);
}

static void test_parse_choice(void **st)
{
	static const char *const abc[] = { "alpha", "beta", "gamma", NULL };
	static const char *const one[] = { "only", NULL };

	(void)st;
	assert_int_equal(cli_parse_choice("t", "x", "alpha", abc), 0);
	assert_int_equal(cli_parse_choice("t", "x", "gamma", abc), 2);
	/* says "t: --x takes alpha, beta or gamma, not 'delta'" */
	assert_int_equal(cli_parse_choice("t", "x", "delta", abc), -1);
	assert_int_equal(cli_parse_choice("t", "x", "", abc), -1);
	assert_int_equal(cli_parse_choice("t", "x", "Alpha", abc), -1);
	assert_int_equal(cli_parse_choice("t", "x", "only", one), 0);
	assert_int_equal(cli_parse_choice("t", "x", "other", one), -1);
}

static void test_parse_seconds(void **st)
{
	double d = -1;

	(void)st;
	assert_int_equal(cli_parse_seconds("2.5", &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(cli_parse_seconds("0", &d), 0);
	assert_true(d == 0);
	assert_int_equal(cli_parse_seconds("-1", &d), -EINVAL);
	assert_int_equal(cli_parse_seconds("nan", &d), -EINVAL);
	assert_int_equal(cli_parse_seconds("inf", &d), -EINVAL);
	assert_int_equal(cli_parse_seconds("3s", &d), -EINVAL);
	assert_int_equal(cli_parse_seconds("", &d), -EINVAL);
	assert_int_equal(cli_parse_seconds("1e400", &d), -EINVAL);
}

static void test_exec_impl_names(void **st)
{
	enum exec_impl impl;

	(void)st;
	for (int i = 0; i < EXEC_IMPL_COUNT; i++) {
		assert_int_equal(exec_impl_parse(exec_impl_name((enum exec_impl)i), &impl), 0);
		assert_int_equal(impl, i);
	}
	assert_int_equal(exec_impl_parse("fentry", &impl), -EINVAL);
	assert_int_equal(exec_impl_parse("", &impl), -EINVAL);
	assert_string_equal(exec_impl_name(EXEC_IMPL_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_choice),
		cmocka_unit_test(test_parse_seconds),
		cmocka_unit_test(test_exec_impl_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
