/* libFuzzer target for the agent's label sources: route_template and
 * container_id_parse on any bytes, into exactly-sized and minimal buffers.
 * Must never crash or read out of bounds, and must keep their contracts:
 * a template starts with '/' (or is "*"-like when the input had no '/'),
 * fits its buffer, never contains '?' or '#'; a container id is "" or 64
 * lower-case hex digits. */
// fuzz-sources: src/agent/route.c src/agent/procinfo.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/procinfo.h"
#include "agent/route.h"

static void check_template(const uint8_t *data, size_t size, size_t out_size)
{
	char *out = malloc(out_size);
	int n;

	if (!out)
		return;
	n = route_template((const char *)data, size, out, out_size);
	if (n < 0 || (size_t)n >= out_size || strlen(out) != (size_t)n)
		abort();
	if (memchr(out, '?', (size_t)n) || memchr(out, '#', (size_t)n))
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char cid[CONTAINER_ID_HEX + 1];
	int n;

	/* a NUL inside the path must not end the template early or late */
	check_template(data, size, ROUTE_BYTES_MAX);
	check_template(data, size, ROUTE_OUT_BYTES_MIN);
	n = container_id_parse((const char *)data, size, cid, sizeof(cid));
	if (n != 0 && n != (int)CONTAINER_ID_HEX)
		abort();
	if (strlen(cid) != (size_t)n)
		abort();
	for (int i = 0; i < n; i++)
		if (!((cid[i] >= '0' && cid[i] <= '9') || (cid[i] >= 'a' && cid[i] <= 'f')))
			abort();
	return 0;
}
