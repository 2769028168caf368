/* system_info.txt and the bits of it reports quote; see sysinfo.h. */
#include "lab/sysinfo.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "lab/tracer_output.h"

void lab_sysinfo_loadavg(char *buf, size_t len)
{
	lab_read_first_line("/proc/loadavg", buf, len);
}

double lab_sysinfo_load1(void)
{
	char buf[64];

	lab_sysinfo_loadavg(buf, sizeof(buf));
	return buf[0] ? strtod(buf, NULL) : NAN;
}

void lab_sysinfo_cpu_model(char *buf, size_t len)
{
	char line[256];
	FILE *ci = fopen("/proc/cpuinfo", "r");

	snprintf(buf, len, "unknown");
	while (ci && fgets(line, sizeof(line), ci)) {
		char *p = strstr(line, "model name");

		if (p && (p = strchr(p, ':'))) {
			snprintf(buf, len, "%s", p + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	if (ci)
		fclose(ci);
}

int lab_sysinfo_write(const char *path, const char *const tools[][2])
{
	char buf[256], date[64];
	struct utsname u;
	time_t now = time(NULL);
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
	uname(&u);
	fprintf(f, "date: %s\nkernel: %s\ncpus: %ld\n", date, u.release,
		sysconf(_SC_NPROCESSORS_ONLN));
	lab_sysinfo_cpu_model(buf, sizeof(buf));
	fprintf(f, "model name: %s\n", buf);
	lab_sysinfo_loadavg(buf, sizeof(buf));
	fprintf(f, "loadavg: %s\n", buf);
	lab_read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", buf,
			    sizeof(buf));
	fprintf(f, "governor: %s\n", buf[0] ? buf : "none (no cpufreq here: fixed frequency or a VM)");
	for (int i = 0; tools && tools[i][0]; i++) {
		FILE *p = popen(tools[i][1], "r");

		buf[0] = '\0';
		if (p) {
			if (!fgets(buf, sizeof(buf), p))
				buf[0] = '\0';
			pclose(p);
		}
		buf[strcspn(buf, "\n")] = '\0';
		fprintf(f, "%s: %s\n", tools[i][0], buf[0] ? buf : "missing");
	}
	return fclose(f) ? -errno : 0;
}
