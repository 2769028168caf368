/* loadgen_vs_wrk: is the lab's load generator a fair stand-in for wrk? It
 * starts nginx (lab/nginx.h: one unpinned worker, a generated config, a free
 * loopback port, a 100-byte static page), then measures closed-loop
 * throughput of `wrk -t1 -cC` and of lab_load_run (1 thread, C connections,
 * max mode) for S seconds each, in interleaved rounds (the order flips every
 * round so neither always runs on a warmer machine), and prints the
 * per-round figures, the medians and their ratio; the target is a ratio of at
 * least 0.90. nginx is stopped and its directory removed on every exit path,
 * Ctrl-C included (lab_install_cleanup + lab_nginx_cleanup), and wrk, in a
 * tracked process group of its own, never outlives the bench. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "lab/loadgen.h"
#include "lab/nginx.h"
#include "lab/tracer_proc.h"

#define ROUNDS_MAX 20
#define CONNS_DEFAULT 50
/* nginx's worker holds LAB_NGINX_CONNS_MAX connections, its listener
 * included. */
#define CONNS_MAX (LAB_NGINX_CONNS_MAX - 1 < (long)LAB_LOAD_CONNS_MAX ? \
		   LAB_NGINX_CONNS_MAX - 1 : (long)LAB_LOAD_CONNS_MAX)
#define ROUNDS_DEFAULT 3
#define DURATION_DEFAULT_S 5
#define DURATION_MAX_S 60
#define BODY_BYTES 100
#define WRK_OUTPUT_BYTES 8192
/* Extra time wrk gets past its duration before it is killed. */
#define WRK_GRACE_S 10
#define TARGET_RATIO 0.90

static const char usage_text[] =
	"Usage: loadgen_vs_wrk [--rounds N] [--duration S] [--conns C]\n"
	"\n"
	"Start nginx on a loopback port and compare the closed-loop throughput\n"
	"of the lab's load generator with wrk's (-t1 -cC), S seconds each, N\n"
	"interleaved rounds; print medians and the ratio (target >= 0.90).\n"
	"\n"
	"  --rounds N     rounds (1..20, default 3)\n"
	"  --duration S   seconds per run (1..60, default 5)\n"
	"  --conns C      connections (1..1023, default 50)\n"
	"\n"
	"EXAMPLES\n"
	"  loadgen_vs_wrk\n"
	"  loadgen_vs_wrk --rounds 5 --duration 3 --conns 100\n";
_Static_assert(CONNS_MAX == 1023, "--conns range in usage_text");

/* CPU time (user + sys, seconds) of who: RUSAGE_SELF or RUSAGE_CHILDREN. */
static double rusage_cpu_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Run wrk, return its Requests/sec (or a negative errno); *cpu_s: CPU time
 * wrk used (nginx, the other child, is reaped only at the end). wrk runs in a
 * process group of its own, tracked: Ctrl-C kills it with nginx. */
static double run_wrk(uint16_t port, long conns, long duration_s, double *cpu_s)
{
	double cpu0 = rusage_cpu_s(RUSAGE_CHILDREN);
	char url[64], c_arg[24], d_arg[24], out[WRK_OUTPUT_BYTES];
	int pfd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;
	const char *p;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	snprintf(c_arg, sizeof(c_arg), "-c%ld", conns);
	snprintf(d_arg, sizeof(d_arg), "-d%lds", duration_s);
	if (pipe(pfd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		alarm((unsigned)(duration_s + WRK_GRACE_S)); /* bounded even if wrk hangs */
		execlp("wrk", "wrk", "-t1", c_arg, d_arg, url, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	lab_pgrp_track(pid);
	close(pfd[1]);
	while (got < sizeof(out) - 1 && (n = read(pfd[0], out + got, sizeof(out) - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	lab_pgrp_untrack(pid);
	*cpu_s = rusage_cpu_s(RUSAGE_CHILDREN) - cpu0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "loadgen_vs_wrk: wrk failed:\n%s", out);
		return -ECHILD;
	}
	if (strstr(out, "Non-2xx") || strstr(out, "Socket errors")) {
		fprintf(stderr, "loadgen_vs_wrk: wrk saw errors:\n%s", out);
		return -EPROTO;
	}
	p = strstr(out, "Requests/sec:");
	if (!p)
		return -EPROTO;
	return strtod(p + strlen("Requests/sec:"), NULL);
}

static double run_lab(uint16_t port, long conns, long duration_s, uint64_t *p50, uint64_t *p99,
		      uint64_t *errs, double *cpu_s)
{
	double cpu0 = rusage_cpu_s(RUSAGE_SELF);
	struct lab_load_opts o = { .port = port, .conns = (uint32_t)conns, .threads = 1,
				   .rate = 0, .duration_s = (double)duration_s };
	struct lab_load_result r;
	double rate;
	int err = lab_load_run(&o, &r);

	*cpu_s = rusage_cpu_s(RUSAGE_SELF) - cpu0;

	if (err) {
		lab_load_result_free(&r);
		return err;
	}
	rate = r.rate_achieved;
	*p50 = lab_hist_percentile(&r.hist, 50);
	*p99 = lab_hist_percentile(&r.hist, 99);
	*errs = r.err_connect + r.err_timeout + r.err_status + r.err_io;
	lab_load_result_free(&r);
	return rate;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[ROUNDS_MAX];

	memcpy(s, v, (size_t)n * sizeof(*v));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "conns", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long rounds = ROUNDS_DEFAULT, duration = DURATION_DEFAULT_S, conns = CONNS_DEFAULT;
	double wrk[ROUNDS_MAX], lab[ROUNDS_MAX], wrk_cpu[ROUNDS_MAX], lab_cpu[ROUNDS_MAX];
	double mw, ml, mwc, mlc;
	struct lab_nginx_opts nopts = { .port = 0, .body_bytes = BODY_BYTES, .cpu = -1,
					.dir = NULL };
	struct lab_nginx ng;
	char reason[LAB_REASON_BYTES];
	int opt, err, ret = 1;

	while ((opt = getopt_long(argc, argv, "r:d:c:h", longopts, NULL)) != -1) {
		long *dst = opt == 'r' ? &rounds : opt == 'd' ? &duration : opt == 'c' ? &conns : NULL;
		long max = opt == 'r' ? ROUNDS_MAX : opt == 'd' ? DURATION_MAX_S : CONNS_MAX;

		if (!dst || cli_parse_long(optarg, 1, max, dst)) {
			fputs(usage_text, opt == 'h' ? stdout : stderr);
			return opt == 'h' ? 0 : 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	/* Ctrl-C (SIGINT, SIGTERM, SIGHUP) kills wrk and nginx and removes
	 * nginx's directory; so does exit. */
	lab_install_cleanup(lab_nginx_cleanup);
	err = lab_nginx_start(&nopts, &ng, reason, sizeof(reason));
	if (err) {
		fprintf(stderr, "loadgen_vs_wrk: nginx did not start: %s\n", reason);
		return 1;
	}
	printf("nginx 127.0.0.1:%u, worker_processes 1; %ld rounds x %ld s, %ld connections\n",
	       ng.port, rounds, duration, conns);
	printf("%-6s %14s %14s %10s %10s %6s %12s %12s\n", "round", "wrk req/s", "lab req/s",
	       "lab p50 us", "lab p99 us", "errors", "wrk cpu us/r", "lab cpu us/r");
	for (int i = 0; i < rounds; i++) {
		uint64_t p50 = 0, p99 = 0, errs = 0;
		double cw = 0, cl = 0;

		/* Flip the order every round. */
		if (i % 2 == 0) {
			wrk[i] = run_wrk(ng.port, conns, duration, &cw);
			lab[i] = run_lab(ng.port, conns, duration, &p50, &p99, &errs, &cl);
		} else {
			lab[i] = run_lab(ng.port, conns, duration, &p50, &p99, &errs, &cl);
			wrk[i] = run_wrk(ng.port, conns, duration, &cw);
		}
		if (wrk[i] < 0 || lab[i] < 0) {
			fprintf(stderr, "loadgen_vs_wrk: round %d failed (wrk %g, lab %g)\n",
				i + 1, wrk[i], lab[i]);
			goto out;
		}
		/* CPU per request: the generators' efficiency, which a busy
		 * machine disturbs far less than their throughput. */
		wrk_cpu[i] = cw / (wrk[i] * duration) * 1e6;
		lab_cpu[i] = cl / (lab[i] * duration) * 1e6;
		printf("%-6d %14.0f %14.0f %10.1f %10.1f %6llu %12.2f %12.2f\n", i + 1, wrk[i],
		       lab[i], p50 / 1e3, p99 / 1e3, (unsigned long long)errs, wrk_cpu[i],
		       lab_cpu[i]);
		fflush(stdout);
		/* nginx logs every request: keep its log (under /tmp) small. */
		lab_nginx_reset_log(&ng);
	}
	mw = median(wrk, (int)rounds);
	ml = median(lab, (int)rounds);
	mwc = median(wrk_cpu, (int)rounds);
	mlc = median(lab_cpu, (int)rounds);
	printf("median %14.0f %14.0f %10s %10s %6s %12.2f %12.2f\n", mw, ml, "", "", "", mwc, mlc);
	printf("lab / wrk = %.3f (target >= %.2f: %s)\n", ml / mw, TARGET_RATIO,
	       ml / mw >= TARGET_RATIO ? "met" : "MISSED");
	printf("{\"wrk_rps_median\":%.0f,\"lab_rps_median\":%.0f,\"ratio\":%.4f,\"rounds\":%ld,"
	       "\"wrk_cpu_us_per_req\":%.3f,\"lab_cpu_us_per_req\":%.3f,"
	       "\"duration_s\":%ld,\"conns\":%ld}\n", mw, ml, ml / mw, rounds, mwc, mlc, duration, conns);
	ret = 0;
out:
	lab_nginx_stop(&ng);
	return ret;
}
