/* Reading what a tracer under test wrote: its last error line, its ready
 * line, "Lost N events" messages of peers, record counts, and sonde's closing
 * {"type":"stats",...} record with the accounting check
 * produced == delivered + filtered + Σ dropped. */
#ifndef SONDE_LAB_TRACER_OUTPUT_H
#define SONDE_LAB_TRACER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#define LAB_DROPS_TEXT_BYTES 256

/* First line of a file without its newline, or "". */
void lab_read_first_line(const char *path, char *buf, size_t len);
/* Last non-empty line of a file (a tool's final error), or "". */
void lab_read_last_line(const char *path, char *buf, size_t len);
bool lab_file_contains(const char *path, const char *needle);
/* Size in bytes, -1 if it cannot be read. */
long lab_file_size(const char *path);
/* Lines holding every non-NULL needle (up to three): a count or a negative
 * errno. O(file size). */
long lab_count_lines(const char *path, const char *a, const char *b, const char *c);
/* Lines from byte offset on (a count or a negative errno). */
long lab_count_lines_from(const char *path, long offset);
/* Sum of "Lost N events" messages (libbpf perf buffers, bpftrace); -1 when
 * there is none. */
long lab_count_lost(const char *path);

/* The number after `"key":` in s. */
bool lab_json_num(const char *s, const char *key, double *out);
/* The number `"inner":` within the object `"outer":{...}` in s. */
bool lab_json_obj_num(const char *s, const char *outer, const char *inner, double *out);

/* sonde's closing stats record. */
struct lab_sonde_stats {
	long produced, delivered, filtered; /* -1: missing */
	long drops;                         /* Σ dropped */
	char drops_text[LAB_DROPS_TEXT_BYTES]; /* the dropped object's inside */
	bool invariant;                     /* produced == delivered + filtered + drops */
	char line[4096];                    /* the record itself (truncated) */
};

/* The last {"type":"stats"} line of path: 0, -ENOENT without one, or a
 * negative errno. */
int lab_sonde_stats_read(const char *path, struct lab_sonde_stats *st);
/* The same, among the lines from byte offset on (a record asked for after
 * the file had that size): O(what follows offset), not O(file). */
int lab_sonde_stats_read_from(const char *path, long offset, struct lab_sonde_stats *st);

#endif
