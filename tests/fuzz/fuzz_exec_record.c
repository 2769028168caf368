/* Fuzz target: any bytes handed to the exec record decoder, then to both
 * output formats, must be refused or printed, never crash or overrun.
 */
// fuzz-sources: src/pipeline/exec_record.c src/export/exec_format.c src/export/text_line.c src/export/json_writer.c
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/exec_format.h"
#include "pipeline/exec_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct exec_record rec;
	static char out[65536];
	struct json_writer w;
	/* an exact-size heap copy, so ASan sees any read past the record */
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (exec_record_decode(copy, size, &rec) == 0) {
		json_init(&w, out, sizeof(out));
		exec_record_to_json(&rec, &w);
		exec_record_to_text(&rec, 0, out, sizeof(out));
		exec_record_to_text(&rec, 0, out, 64); /* a line that does not fit */
	}
	free(copy);
	return 0;
}
