/* What the machine was doing during a lab run, for whoever reads the numbers
 * later: kernel, CPUs, load average, tool versions (system_info.txt). */
#ifndef SONDE_LAB_SYSINFO_H
#define SONDE_LAB_SYSINFO_H

#include <stddef.h>

/* /proc/loadavg's first line, or "". */
void lab_sysinfo_loadavg(char *buf, size_t len);
/* The CPU's model name, or "unknown". */
void lab_sysinfo_cpu_model(char *buf, size_t len);
/* The first 1-minute load average; NaN if unknown. */
double lab_sysinfo_load1(void);
/* Write path: date, kernel, cpus, model, load average, then one
 * "name: version" line per tools[i] = { name, shell command }, NULL-ended
 * (the first line of the command's output, or "missing"). 0 or -errno. */
int lab_sysinfo_write(const char *path, const char *const tools[][2]);

#endif
