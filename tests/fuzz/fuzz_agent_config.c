/* libFuzzer target for the agent's config parser on any bytes: it must
 * never crash, and keep its contract: 0 with every string NUL-terminated
 * inside its field, or -EINVAL with a reason that is one non-empty line
 * that fits its buffer. */
// fuzz-sources: src/agent/config.c
// fuzz-libs: -ljansson
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"

static void check_string(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config c;
	char err[256];
	int ret;

	memset(err, 'x', sizeof(err));
	agent_config_defaults(&c); /* what the parse applies the file over */
	ret = agent_config_parse(&c, (const char *)data, size, err, sizeof(err));
	if (ret == 0) {
		check_string(c.listen_address, sizeof(c.listen_address));
		check_string(c.service_name, sizeof(c.service_name));
		check_string(c.otlp.endpoint, sizeof(c.otlp.endpoint));
		if (c.listen_port > 65535)
			abort();
		return 0;
	}
	if (ret != -EINVAL)
		abort();
	if (!memchr(err, '\0', sizeof(err)) || !err[0] || strchr(err, '\n'))
		abort();
	return 0;
}
