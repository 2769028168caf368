/* Every BPF program sonde loads stays well inside the verifier's budget:
 * fail when one needs more than half of the kernel's 1M processed
 * instructions, so that a change that makes the verifier walk many more
 * paths (an unrolled loop, say) is caught here, not on a user's kernel.
 * The programs and their configuration come from loader/bpf_programs.h, the
 * list `sonde doctor --programs` reports on too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/kernel_test.h"
#include "loader/bpf_env.h"
#include "loader/bpf_programs.h"

#define PROGS_MAX 64
#define ERR_BYTES 256

static void check_object(enum bpf_shipped_object id)
{
	struct bpf_prog_cost *c = calloc(PROGS_MAX, sizeof(*c));
	char err[ERR_BYTES] = "";
	size_t n = 0;
	int ret;

	assert_non_null(c);
	bpf_env_prepare(false);
	ret = bpf_shipped_measure(id, c, PROGS_MAX, &n, err, sizeof(err));
	if (ret)
		fail_msg("%s: %s", bpf_shipped_name(id), err);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		long insns = bpf_prog_cost_insns(&c[i]);

		if (c[i].err == -EPERM || c[i].err == -EACCES) {
			free(c);
			KERNEL_TEST_UNAVAILABLE("loading BPF programs was refused");
		}
		if (c[i].err)
			fail_msg("%s/%s: %s", c[i].object, c[i].name, c[i].error);
		fprintf(stderr, "  %-22s %7ld insns processed\n", c[i].name, insns);
		/* The log's count and the kernel's own one agree where both exist. */
		assert_true(insns > 0);
		if (c[i].has_verified_insns && c[i].insns_processed >= 0)
			assert_int_equal(c[i].insns_processed, c[i].verified_insns);
		if (insns > BPF_VERIFIER_INSNS_BUDGET)
			fail_msg("%s: %ld instructions processed, over the budget of %d",
				 c[i].name, insns, BPF_VERIFIER_INSNS_BUDGET);
	}
	free(c);
}

static void test_exec_programs(void **st)
{
	(void)st;
	KERNEL_TEST_REQUIRE_ROOT();
	check_object(BPF_OBJ_EXEC);
}

static void test_http_programs(void **st)
{
	(void)st;
	KERNEL_TEST_REQUIRE_ROOT();
	check_object(BPF_OBJ_HTTP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_programs),
		cmocka_unit_test(test_http_programs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
