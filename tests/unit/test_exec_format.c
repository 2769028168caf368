/* Decoding of the process tracer's raw records and their JSON and text
 * forms: exact output, hostile argv, malformed records refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "export/exec_format.h"
#include "pipeline/exec_record.h"

static struct exec_record rec;
static char out[65536];

static size_t make_exec(struct exec_event *e, const char *args, uint32_t args_len)
{
	memset(e, 0, sizeof(*e));
	e->hdr.kind = EXEC_EV_EXEC;
	e->hdr.pid = 42;
	e->hdr.ppid = 1;
	e->hdr.ts_ns = 1000;
	strcpy(e->hdr.comm, "sh");
	e->uid = 1000;
	e->cgroup_id = 7;
	strcpy(e->filename, "/bin/sh");
	e->filename_len = 7;
	memcpy(e->args, args, args_len);
	e->args_len = args_len;
	e->args_total_bytes = args_len;
	return EXEC_EVENT_HEAD_BYTES + args_len;
}

static const char *to_json(void)
{
	struct json_writer w;

	json_init(&w, out, sizeof(out));
	assert_int_equal(exec_record_to_json(&rec, &w), 0);
	return out;
}

static void test_exec_json_exact(void **st)
{
	static struct exec_event e;
	size_t n = make_exec(&e, "sh\0-c\0exit 7\0", 13);

	(void)st;
	assert_int_equal(exec_record_decode(&e, n, &rec), 0);
	assert_int_equal(rec.argc, 3);
	assert_string_equal(to_json(),
		"{\"type\":\"exec\",\"ts_ns\":1000,\"pid\":42,\"ppid\":1,\"uid\":1000,\"comm\":\"sh\","
		"\"filename\":\"/bin/sh\",\"args\":[\"sh\",\"-c\",\"exit 7\"],\"args_truncated\":false,"
		"\"argc\":3,\"args_bytes\":13,\"cgroup_id\":7,\"ok\":true}");
}

static void test_exec_hostile_argv_json(void **st)
{
	static struct exec_event e;
	const char args[] = "a\"b\0new\nline\0\xff\xfe\0\x1b[31m\0";
	size_t n = make_exec(&e, args, sizeof(args) - 1);

	(void)st;
	assert_int_equal(exec_record_decode(&e, n, &rec), 0);
	assert_int_equal(rec.argc, 4);
	assert_non_null(strstr(to_json(),
		"\"args\":[\"a\\\"b\",\"new\\nline\",\"\\ufffd\\ufffd\",\"\\u001b[31m\"]"));
}

static void test_exec_hostile_argv_text(void **st)
{
	static struct exec_event e;
	const char args[] = "sh\0\x1b]0;pwned\x07\0";
	size_t n = make_exec(&e, args, sizeof(args) - 1);
	int len;

	(void)st;
	assert_int_equal(exec_record_decode(&e, n, &rec), 0);
	len = exec_record_to_text(&rec, 0, out, sizeof(out));
	assert_true(len > 0);
	assert_null(strchr(out, '\x1b'));
	assert_non_null(strstr(out, "/bin/sh sh \\x1b]0;pwned\\x07"));
}

static void test_exec_truncated_last_arg(void **st)
{
	static struct exec_event e;
	size_t n = make_exec(&e, "ls\0-l\0/very/lo", 15);

	(void)st;
	e.hdr.flags = EXEC_F_ARGS_TRUNCATED;
	e.args_total_bytes = 9000;
	assert_int_equal(exec_record_decode(&e, n, &rec), 0);
	assert_int_equal(rec.argc, 3);
	assert_true(rec.args_truncated);
	assert_int_equal(rec.args[2].len, 8);
	assert_non_null(strstr(to_json(), "\"args_truncated\":true,\"argc\":null,\"args_bytes\":9000"));
}

static void test_failed_exec_json(void **st)
{
	static struct exec_event e;
	size_t n = make_exec(&e, "x\0", 2);

	(void)st;
	e.hdr.flags = EXEC_F_FAILED;
	e.retval = -ENOENT;
	assert_int_equal(exec_record_decode(&e, n, &rec), 0);
	assert_non_null(strstr(to_json(), "\"ok\":false,\"error\":\"ENOENT\"}"));
	assert_true(exec_record_to_text(&rec, 0, out, sizeof(out)) > 0);
	assert_non_null(strstr(out, "[ENOENT] /bin/sh x"));
}

static void test_failed_exec_bogus_retval(void **st)
{
	static struct exec_event e;
	size_t n = make_exec(&e, "x\0", 2);

	(void)st;
	e.hdr.flags = EXEC_F_FAILED;
	e.retval = INT32_MIN; /* not a -errno: must not be negated */
	assert_int_equal(exec_record_decode(&e, n, &rec), 0);
	assert_non_null(strstr(to_json(), "\"error\":\"EUNKNOWN\"}"));
	e.retval = 5;
	assert_int_equal(exec_record_decode(&e, n, &rec), 0);
	assert_non_null(strstr(to_json(), "\"error\":\"EUNKNOWN\"}"));
}

static void test_exit_json_and_text(void **st)
{
	struct exec_exit_event x = { 0 };

	(void)st;
	x.hdr.kind = EXEC_EV_EXIT;
	x.hdr.pid = 5;
	x.hdr.ppid = 4;
	x.hdr.ts_ns = 2000000000;
	strcpy(x.hdr.comm, "sleep");
	x.exit_status = 9 | 0x80; /* SIGKILL, core dumped */
	x.duration_ns = 1500000;
	assert_int_equal(exec_record_decode(&x, sizeof(x), &rec), 0);
	assert_string_equal(to_json(),
		"{\"type\":\"exit\",\"ts_ns\":2000000000,\"pid\":5,\"ppid\":4,\"comm\":\"sleep\","
		"\"exit_code\":0,\"signal\":9,\"core_dumped\":true,\"duration_ns\":1500000,"
		"\"duration_from\":\"exec\"}");
	x.exit_status = 3 << 8;
	x.hdr.flags = EXIT_F_SINCE_FORK;
	assert_int_equal(exec_record_decode(&x, sizeof(x), &rec), 0);
	assert_int_equal(rec.exit_code, 3);
	assert_true(exec_record_to_text(&rec, 1000000000, out, sizeof(out)) > 0);
	assert_string_equal(out, "1.000000      exit  5        4               sleep            "
				 "code=3 after 1.500ms (since fork)");
}

static void test_fork_json(void **st)
{
	struct exec_fork_event f = { 0 };

	(void)st;
	f.hdr.kind = EXEC_EV_FORK;
	f.hdr.pid = 11;
	f.hdr.ppid = 10;
	strcpy(f.hdr.comm, "bash");
	assert_int_equal(exec_record_decode(&f, sizeof(f), &rec), 0);
	assert_string_equal(to_json(), "{\"type\":\"fork\",\"ts_ns\":0,\"pid\":11,\"ppid\":10,\"comm\":\"bash\"}");
}

static void test_malformed_refused(void **st)
{
	static struct exec_event e;
	size_t n = make_exec(&e, "abc\0", 4);
	struct exec_event_hdr h = { .kind = 99 };

	(void)st;
	assert_int_equal(exec_record_decode(&e, n - 1, &rec), -EINVAL);   /* args cut */
	assert_int_equal(exec_record_decode(&e, 10, &rec), -EINVAL);      /* header cut */
	assert_int_equal(exec_record_decode(&h, sizeof(h), &rec), -EINVAL); /* kind */
	e.args_len = EXEC_ARGS_BYTES_MAX + 1;
	assert_int_equal(exec_record_decode(&e, sizeof(e), &rec), -EINVAL);
	e.args_len = 4;
	e.filename_len = EXEC_FILENAME_BYTES_MAX;
	assert_int_equal(exec_record_decode(&e, n, &rec), -EINVAL);
	assert_int_equal(exec_record_decode(NULL, 0, &rec), -EINVAL);
}

static void test_comm_without_nul(void **st)
{
	struct exec_fork_event f;

	(void)st;
	memset(&f, 'A', sizeof(f));
	f.hdr.kind = EXEC_EV_FORK;
	assert_int_equal(exec_record_decode(&f, sizeof(f), &rec), 0);
	assert_int_equal(strlen(rec.comm), EXEC_COMM_LEN);
}

static void test_all_empty_args_bounded(void **st)
{
	static struct exec_event e;
	static char zeros[EXEC_ARGS_BYTES_MAX];
	size_t n = make_exec(&e, zeros, sizeof(zeros));

	(void)st;
	assert_int_equal(exec_record_decode(&e, n, &rec), 0);
	assert_int_equal(rec.argc, EXEC_ARGS_BYTES_MAX);
	assert_true(rec.argc <= EXEC_RECORD_ARGS_MAX);
	assert_true(exec_record_to_text(&rec, 0, out, sizeof(out)) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_json_exact),
		cmocka_unit_test(test_exec_hostile_argv_json),
		cmocka_unit_test(test_exec_hostile_argv_text),
		cmocka_unit_test(test_exec_truncated_last_arg),
		cmocka_unit_test(test_failed_exec_json),
		cmocka_unit_test(test_failed_exec_bogus_retval),
		cmocka_unit_test(test_exit_json_and_text),
		cmocka_unit_test(test_fork_json),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_comm_without_nul),
		cmocka_unit_test(test_all_empty_args_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
