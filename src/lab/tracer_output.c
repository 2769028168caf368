/* Reading a tracer's output files; see tracer_output.h. */
#include "lab/tracer_output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void lab_read_first_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

void lab_read_last_line(const char *path, char *buf, size_t len)
{
	char line[1024];
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0]) {
			size_t n = strnlen(line, len - 1);

			memcpy(buf, line, n);
			buf[n] = '\0';
		}
	}
	fclose(f);
}

bool lab_file_contains(const char *path, const char *needle)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

long lab_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long)st.st_size;
}

long lab_count_lines(const char *path, const char *a, const char *b, const char *c)
{
	char *line = NULL;
	size_t cap = 0;
	long n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if ((a && !strstr(line, a)) || (b && !strstr(line, b)) || (c && !strstr(line, c)))
			continue;
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

long lab_count_lines_from(const char *path, long offset)
{
	char buf[65536];
	long n = 0;
	size_t got;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	if (offset > 0 && fseek(f, offset, SEEK_SET)) {
		int e = errno;

		fclose(f);
		return -e;
	}
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t i = 0; i < got; i++)
			n += buf[i] == '\n';
	fclose(f);
	return n;
}

long lab_count_lost(const char *path)
{
	char line[1024];
	long total = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "Lost ");
		long v;

		if (p && sscanf(p, "Lost %ld events", &v) == 1)
			total = (total < 0 ? 0 : total) + v;
	}
	fclose(f);
	return total;
}

bool lab_json_num(const char *s, const char *key, double *out)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(s, pat);
	if (!p)
		return false;
	*out = strtod(p + strlen(pat), NULL);
	return true;
}

bool lab_json_obj_num(const char *s, const char *outer, const char *inner, double *out)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":{", outer);
	p = strstr(s, pat);
	return p && lab_json_num(p, inner, out);
}

int lab_sonde_stats_read(const char *path, struct lab_sonde_stats *st)
{
	return lab_sonde_stats_read_from(path, 0, st);
}

int lab_sonde_stats_read_from(const char *path, long offset, struct lab_sonde_stats *st)
{
	char *line = NULL;
	size_t cap = 0;
	int err = -ENOENT;
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	if (offset > 0 && fseek(f, offset, SEEK_SET)) {
		err = -errno;
		fclose(f);
		return err;
	}
	while (getline(&line, &cap, f) > 0) {
		const char *d, *end;
		double v;

		if (!strstr(line, "\"type\":\"stats\""))
			continue;
		st->produced = lab_json_num(line, "produced", &v) ? (long)v : -1;
		st->delivered = lab_json_num(line, "delivered", &v) ? (long)v : -1;
		st->filtered = lab_json_num(line, "filtered", &v) ? (long)v : 0;
		st->drops = 0;
		st->drops_text[0] = '\0';
		d = strstr(line, "\"dropped\":{");
		if (d) {
			d += strlen("\"dropped\":{");
			end = strchr(d, '}');
			if (end) {
				snprintf(st->drops_text, sizeof(st->drops_text), "%.*s",
					 (int)(end - d), d);
				for (const char *p = d; p < end; p++)
					if (*p == ':')
						st->drops += strtol(p + 1, NULL, 10);
			}
		}
		st->invariant = st->produced >= 0 && st->delivered >= 0 &&
				st->produced == st->delivered + st->filtered + st->drops;
		snprintf(st->line, sizeof(st->line), "%s", line);
		st->line[strcspn(st->line, "\n")] = '\0';
		err = 0;
	}
	free(line);
	fclose(f);
	return err;
}
