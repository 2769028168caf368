/* Output of the process tracer's records: JSON lines with the field names of
 * DESIGN.md, and aligned text columns for people. */
#ifndef SONDE_EXPORT_EXEC_FORMAT_H
#define SONDE_EXPORT_EXEC_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "export/json_writer.h"
#include "pipeline/exec_record.h"

/* One JSON object (no newline). 0 or -ENOSPC. */
int exec_record_to_json(const struct exec_record *r, struct json_writer *w);

/* The column header of the text output (no newline). */
const char *exec_text_header(void);
/* One text line (no newline); t0_ns is the time shown as 0. Non-printable
 * bytes are shown as \xNN so that a hostile argv cannot drive the terminal.
 * Returns the length, or -ENOSPC. */
int exec_record_to_text(const struct exec_record *r, uint64_t t0_ns, char *buf, size_t size);

#endif
