/* The JSON writer: structure, numbers, and escaping of hostile strings
 * (quotes, control bytes, invalid UTF-8) into valid JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "export/json_writer.h"

static void test_object_and_array(void **st)
{
	char buf[256];
	struct json_writer w;

	(void)st;
	json_init(&w, buf, sizeof(buf));
	json_obj_begin(&w);
	json_key(&w, "a");
	json_u64(&w, 18446744073709551615ull);
	json_key(&w, "b");
	json_arr_begin(&w);
	json_cstr(&w, "x");
	json_i64(&w, -5);
	json_bool(&w, true);
	json_write_null(&w);
	json_arr_end(&w);
	json_key(&w, "c");
	json_obj_begin(&w);
	json_obj_end(&w);
	json_key(&w, "d");
	json_double(&w, 0.5);
	json_obj_end(&w);
	assert_int_equal(json_finish(&w), 0);
	assert_string_equal(buf, "{\"a\":18446744073709551615,\"b\":[\"x\",-5,true,null],\"c\":{},\"d\":0.5}");
}

/* Numbers are formatted by hand (no printf): the edges. */
static void test_number_edges(void **st)
{
	char buf[256];
	struct json_writer w;

	(void)st;
	json_init(&w, buf, sizeof(buf));
	json_arr_begin(&w);
	json_u64(&w, 0);
	json_u64(&w, 9);
	json_u64(&w, 10);
	json_u64(&w, 1000000007);
	json_i64(&w, 0);
	json_i64(&w, -1);
	json_i64(&w, INT64_MAX);
	json_i64(&w, INT64_MIN);
	json_arr_end(&w);
	assert_int_equal(json_finish(&w), 0);
	assert_string_equal(buf, "[0,9,10,1000000007,0,-1,9223372036854775807,-9223372036854775808]");
}

static void test_escaping(void **st)
{
	char out[128];
	const char in[] = "q\"b\\n\nt\tc\x01\x7f";

	(void)st;
	assert_true(json_escape(in, sizeof(in) - 1, out, sizeof(out)) > 0);
	assert_string_equal(out, "q\\\"b\\\\n\\nt\\tc\\u0001\\u007f");
}

static void test_nul_byte_is_escaped(void **st)
{
	char out[32];

	(void)st;
	assert_int_equal(json_escape("a\0b", 3, out, sizeof(out)), 8);
	assert_string_equal(out, "a\\u0000b");
}

static void test_utf8_valid_kept_invalid_replaced(void **st)
{
	char out[128];
	/* é (2 bytes), € (3), 😀 (4), then a lone continuation byte, a
	 * truncated sequence, an overlong '/', and a UTF-16 surrogate */
	const char in[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\x80|\xe2\x82|\xc0\xaf|\xed\xa0\x80";

	(void)st;
	assert_true(json_escape(in, sizeof(in) - 1, out, sizeof(out)) > 0);
	assert_string_equal(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\\ufffd|\\ufffd\\ufffd|"
				 "\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd");
}

static void test_overflow_reported(void **st)
{
	char buf[8];
	struct json_writer w;

	(void)st;
	json_init(&w, buf, sizeof(buf));
	json_obj_begin(&w);
	json_key(&w, "long-key");
	json_cstr(&w, "value");
	json_obj_end(&w);
	assert_int_equal(json_finish(&w), -ENOSPC);
	json_reset(&w);
	json_cstr(&w, "ok");
	assert_int_equal(json_finish(&w), 0);
	assert_string_equal(buf, "\"ok\"");
}

static void test_escape_too_small(void **st)
{
	char out[4];

	(void)st;
	assert_int_equal(json_escape("\"\"\"", 3, out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_and_array),
		cmocka_unit_test(test_number_edges),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_nul_byte_is_escaped),
		cmocka_unit_test(test_utf8_valid_kept_invalid_replaced),
		cmocka_unit_test(test_overflow_reported),
		cmocka_unit_test(test_escape_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
