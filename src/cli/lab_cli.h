/* What `sonde bench` and `sonde stress` do alike before a run. */
#ifndef SONDE_CLI_LAB_CLI_H
#define SONDE_CLI_LAB_CLI_H

#include <stddef.h>

#include "lab/thresholds.h"

/* Find this binary (it is the sonde tracer under test), read the
 * thresholds (thresholds_file if given, then SONDE_THRESHOLD_*), name the
 * results folder when out_dir is empty (<prefix>-YYYYmmdd-HHMMSS, local
 * time), create it with its parents and check it can be written. 0, or -1
 * after one line on stderr. */
int lab_cli_prepare(const char *cmd, const char *thresholds_file, struct lab_thresholds *th,
		    char *exe, size_t exe_size, char *out_dir, size_t out_size, const char *prefix);

#endif
