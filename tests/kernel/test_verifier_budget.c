/* Every BPF program sonde loads stays well inside the verifier's budget:
 * fail when one needs more than half of the kernel's 1M processed
 * instructions, so that a change that makes the verifier walk many more
 * paths (an unrolled loop, say) is caught here, not on a user's kernel. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "exec.skel.h"
#include "http.skel.h"
#include "kernel/kernel_test.h"
#include "loader/bpf_env.h"

#define VERIFIER_INSNS_LIMIT 1000000
#define VERIFIER_INSNS_BUDGET (VERIFIER_INSNS_LIMIT / 2)
#define PROGS_MAX 64
#define LOG_BYTES 4096

static char logs[PROGS_MAX][LOG_BYTES];

/* Load obj with verifier statistics and check each autoloaded program. */
static void check_object(struct bpf_object *obj)
{
	struct bpf_program *prog;
	int i = 0, err;

	bpf_object__for_each_program(prog, obj) {
		assert_true(i < PROGS_MAX);
		logs[i][0] = '\0';
		bpf_program__set_log_buf(prog, logs[i], LOG_BYTES);
		bpf_program__set_log_level(prog, 4); /* statistics only */
		i++;
	}
	err = bpf_object__load(obj);
	if (err == -EPERM || err == -EACCES)
		KERNEL_TEST_UNAVAILABLE("loading BPF programs was refused");
	assert_int_equal(err, 0);
	i = 0;
	bpf_object__for_each_program(prog, obj) {
		const char *p = strstr(logs[i], "processed ");
		long insns;

		i++;
		if (!bpf_program__autoload(prog))
			continue;
		assert_non_null(p);
		insns = strtol(p + strlen("processed "), NULL, 10);
		fprintf(stderr, "  %-22s %7ld insns processed\n", bpf_program__name(prog), insns);
		if (insns > VERIFIER_INSNS_BUDGET)
			fail_msg("%s: %ld instructions processed, over the budget of %d",
				 bpf_program__name(prog), insns, VERIFIER_INSNS_BUDGET);
	}
}

static void test_exec_programs(void **st)
{
	struct exec_bpf *s;
	struct bpf_program *prog;

	(void)st;
	KERNEL_TEST_REQUIRE_ROOT();
	bpf_env_prepare(false);
	s = exec_bpf__open();
	assert_non_null(s);
	/* all but the kprobe ones: they load anywhere, but attach only
	 * where kprobes exist; their verification is what is checked here */
	bpf_object__for_each_program(prog, s->obj)
		bpf_program__set_autoload(prog, true);
	check_object(s->obj);
	exec_bpf__destroy(s);
}

static void test_http_programs(void **st)
{
	struct http_bpf *s;

	(void)st;
	KERNEL_TEST_REQUIRE_ROOT();
	bpf_env_prepare(false);
	s = http_bpf__open();
	assert_non_null(s);
	check_object(s->obj);
	http_bpf__destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_programs),
		cmocka_unit_test(test_http_programs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
