/* agent/config: defaults, a file setting every key, and the one-line
 * errors that name the key: unknown keys (top level, in otlp and budget), wrong
 * types, out-of-range numbers, duplicates, syntax errors, a missing file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/config.h"

static const char full[] =
	"{\"listen_address\":\"0.0.0.0\",\"listen_port\":9999,\"max_series\":10,"
	"\"max_processes\":64,\"capture_bytes\":256,\"max_conns\":100,"
	"\"http_ringbuf_kb\":1024,\"exec_ringbuf_kb\":2048,\"tls\":false,"
	"\"tls_exported_hooks\":true,\"exec\":false,"
	"\"bpf_stats\":false,\"service_name\":\"svc\","
	"\"otlp\":{\"endpoint\":\"http://127.0.0.1:4318\",\"batch_spans\":10,\"queue_spans\":100,"
	"\"flush_interval_ms\":50,\"timeout_ms\":300,\"retry_max\":2,\"backoff_ms\":5,"
	"\"metrics_interval_s\":15},"
	"\"budget\":{\"cpu_pct\":0.5,\"memory_mb\":64,\"up_after_s\":2,\"down_after_s\":7,"
	"\"enforced\":false}}";

static void test_defaults_and_full(void **state)
{
	struct agent_config c;
	char err[256] = "";

	(void)state;
	agent_config_defaults(&c);
	assert_string_equal(c.listen_address, "127.0.0.1");
	assert_int_equal(c.listen_port, 9464);
	assert_true(c.tls && c.exec && c.bpf_stats);
	assert_false(c.tls_exported_hooks);
	assert_string_equal(c.otlp.endpoint, "");
	/* the budget is on by default: 5 % of one core, 256 MB */
	assert_true(c.budget.enforced);
	assert_true(c.budget.cpu_pct == 5.0);
	assert_int_equal(c.budget.memory_mb, 256);
	assert_int_equal(c.budget.up_after_s, 3);
	assert_int_equal(c.budget.down_after_s, 10);
	assert_int_equal(agent_config_parse(&c, "{}", 2, err, sizeof(err)), 0);
	assert_int_equal(c.listen_port, 9464);
	assert_int_equal(agent_config_parse(&c, full, strlen(full), err, sizeof(err)), 0);
	assert_string_equal(c.listen_address, "0.0.0.0");
	assert_int_equal(c.listen_port, 9999);
	assert_int_equal(c.max_series, 10);
	assert_int_equal(c.max_processes, 64);
	assert_int_equal(c.capture_bytes, 256);
	assert_int_equal(c.max_conns, 100);
	assert_int_equal(c.http_ringbuf_kb, 1024);
	assert_int_equal(c.exec_ringbuf_kb, 2048);
	assert_false(c.tls || c.exec || c.bpf_stats);
	assert_true(c.tls_exported_hooks);
	assert_string_equal(c.service_name, "svc");
	assert_string_equal(c.otlp.endpoint, "http://127.0.0.1:4318");
	assert_int_equal(c.otlp.batch_spans, 10);
	assert_int_equal(c.otlp.queue_spans, 100);
	assert_int_equal(c.otlp.flush_interval_ms, 50);
	assert_int_equal(c.otlp.timeout_ms, 300);
	assert_int_equal(c.otlp.retry_max, 2);
	assert_int_equal(c.otlp.backoff_ms, 5);
	assert_int_equal(c.otlp.metrics_interval_s, 15);
	assert_true(c.budget.cpu_pct == 0.5);
	assert_int_equal(c.budget.memory_mb, 64);
	assert_int_equal(c.budget.up_after_s, 2);
	assert_int_equal(c.budget.down_after_s, 7);
	assert_false(c.budget.enforced);
	/* an integer is a number too */
	{
		const char *t = "{\"budget\":{\"cpu_pct\":20}}";

		assert_int_equal(agent_config_parse(&c, t, strlen(t), err, sizeof(err)), 0);
	}
	assert_true(c.budget.cpu_pct == 20.0);
}

static void bad(const char *text, const char *want)
{
	struct agent_config c;
	char err[256] = "";

	agent_config_defaults(&c);
	if (agent_config_parse(&c, text, strlen(text), err, sizeof(err)) != -EINVAL)
		fail_msg("accepted: %s", text);
	if (strcmp(err, want))
		fail_msg("%s: error \"%s\", want \"%s\"", text, err, want);
	assert_null(strchr(err, '\n'));
}

static void test_errors(void **state)
{
	(void)state;
	bad("{\"listen_prot\":1}", "listen_prot: unknown key (see docs/agent.md)");
	bad("{\"otlp\":{\"endpiont\":\"x\"}}", "otlp.endpiont: unknown key (see docs/agent.md)");
	bad("{\"listen_port\":\"9464\"}", "listen_port: expected an integer from 0 to 65535");
	bad("{\"listen_port\":70000}", "listen_port: expected an integer from 0 to 65535");
	bad("{\"listen_port\":1.5}", "listen_port: expected an integer from 0 to 65535");
	bad("{\"tls\":1}", "tls: expected true or false");
	bad("{\"service_name\":3}", "service_name: expected a string");
	bad("{\"otlp\":[]}", "otlp: expected an object");
	bad("{\"otlp\":{\"batch_spans\":0}}", "otlp.batch_spans: expected an integer from 1 to 65536");
	bad("{\"otlp\":{\"batch_spans\":200,\"queue_spans\":100}}",
	    "otlp.batch_spans: larger than otlp.queue_spans (100)");
	bad("{\"otlp\":{\"endpoint\":\"ftp://x\"}}",
	    "otlp.endpoint: expected an http:// or https:// URL");
	bad("{\"tls\":true,\"tls\":false}",
	    "line 1 column 17: duplicate object key near '\"tls\"'");
	bad("{\"budget\":{\"cpu_pct\":0}}", "budget.cpu_pct: expected a number from 0.01 to 10000");
	bad("{\"budget\":{\"cpu_pct\":\"5\"}}",
	    "budget.cpu_pct: expected a number from 0.01 to 10000");
	bad("{\"budget\":{\"up_after_s\":0}}", "budget.up_after_s: expected an integer from 1 to 3600");
	bad("{\"budget\":{\"cpu\":5}}", "budget.cpu: unknown key (see docs/agent.md)");
	bad("{\"budget\":5}", "budget: expected an object");
	bad("{\"otlp\":{\"budget\":{}}}", "otlp.budget: unknown key (see docs/agent.md)");
	bad("[1]", "the file must hold one JSON object");
	bad("{\"tls\":tru}", "line 1 column 10: invalid token near 'tru'");
	bad("{\"service_name\":\"a\\u0000b\"}",
	    "line 1 column 26: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"a\\u0000b\"'");
	{
		char text[400];

		snprintf(text, sizeof(text), "{\"service_name\":\"%0300d\"}", 0);
		bad(text, "service_name: expected a string of at most 255 bytes without NUL");
	}
}

static void test_load(void **state)
{
	char path[] = "/tmp/sonde-agent-config-XXXXXX", err[512];
	struct agent_config c;
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("{\n  \"max_series\": 5,\n  \"bogus\": 1\n}\n", f);
	fclose(f);
	agent_config_defaults(&c);
	assert_int_equal(agent_config_load(&c, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bogus: unknown key"));
	assert_memory_equal(err, path, strlen(path));
	unlink(path);
	assert_int_equal(agent_config_load(&c, path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_full),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
