/* What `sonde bench` and `sonde stress` do alike before a run; see
 * lab_cli.h. */
#include "cli/lab_cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"

/* mkdir -p dir, then a write test: a folder that cannot take the results
 * is said before minutes of measuring, not after. */
static int out_dir_ready(const char *cmd, const char *dir)
{
	char path[4096 + 32];
	FILE *f;

	for (size_t i = 1, n = strlen(dir); i <= n && i < sizeof(path); i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		snprintf(path, sizeof(path), "%.*s", (int)i, dir);
		if (mkdir(path, 0755) && errno != EEXIST) {
			cli_error(cmd, "cannot create %s: %s", path, strerror(errno));
			return -1;
		}
	}
	snprintf(path, sizeof(path), "%s/.sonde-write-test", dir);
	f = fopen(path, "w");
	if (!f) {
		cli_error(cmd, "cannot write into %s: %s", dir, strerror(errno));
		return -1;
	}
	fclose(f);
	unlink(path);
	return 0;
}

int lab_cli_prepare(const char *cmd, const char *thresholds_file, struct lab_thresholds *th,
		    char *exe, size_t exe_size, char *out_dir, size_t out_size, const char *prefix)
{
	char err[512];
	ssize_t n = readlink("/proc/self/exe", exe, exe_size - 1);

	if (n <= 0) {
		cli_error(cmd, "cannot find this binary: %s", strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	if (thresholds_file && lab_thresholds_load_file(th, thresholds_file, err, sizeof(err))) {
		cli_error(cmd, "%s", err);
		return -1;
	}
	if (lab_thresholds_load_env(th, err, sizeof(err))) {
		cli_error(cmd, "%s", err);
		return -1;
	}
	if (!out_dir[0]) {
		char stamp[32];
		time_t t = time(NULL);
		struct tm tm;

		localtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
		snprintf(out_dir, out_size, "%s-%s", prefix, stamp);
	}
	return out_dir_ready(cmd, out_dir);
}
