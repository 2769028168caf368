/* exec_storm: the load of `make bench-exec`. It starts processes at a fixed
 * rate (open loop: every spawn has a scheduled start time, so a slow exec
 * delays the next ones but never lowers the offered rate), each running a tiny
 * static binary with argv [binary, MARKER, SEQ], reaps them on a separate
 * thread, and prints one JSON line with what it achieved.
 *
 * Per-exec wall time ("exec_wall") is measured from just before posix_spawn()
 * is called until the reaper thread's waitpid() returned that child: it covers
 * clone, exec, the child's run and exit, and the hooks a tracer puts on all
 * three, plus the reaper's wake-up. "spawn" is the posix_spawn() call alone
 * (glibc uses CLONE_VFORK: the call returns once the child has exec'd). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_common.h"

#define NS_PER_SEC 1000000000ull
#define NS_PER_US 1000.0
#define RATE_MAX_PER_SEC 1000000L
#define DURATION_MAX_SEC 3600.0
/* The first spawn is scheduled this far after start-up is done. */
#define START_DELAY_NS 10000000ull
/* How long to wait for the last children to be reaped before giving up. */
#define REAP_TIMEOUT_SEC 10
/* Timer slack asked for, so that sleeps until a send time end on time. */
#define TIMER_SLACK_NS 1
#define SEQ_TEXT_BYTES 24

static const char usage_text[] =
	"Usage: exec_storm --rate R --duration S --marker M [--binary PATH] [--cpu N]\n"
	"\n"
	"Spawn R processes per second for S seconds (open loop), each running\n"
	"PATH with argv [PATH, M, SEQ], reap them asynchronously, and print one\n"
	"JSON line: spawned, failed, achieved rate, per-exec wall time.\n"
	"\n"
	"  --rate R        processes per second (1..1000000)\n"
	"  --duration S    seconds to spawn for (fractions allowed)\n"
	"  --marker M      argv[1] of every child: lets a tracer's output be matched\n"
	"  --binary PATH   program to run (default: tiny_true next to exec_storm)\n"
	"  --cpu N         pin exec_storm, its reaper and its children to CPU N\n"
	"\n"
	"EXAMPLES\n"
	"  exec_storm --rate 1000 --duration 3 --marker run42\n"
	"  exec_storm --rate 5000 --duration 3 --marker x --cpu 1 --binary /bin/true\n";

struct storm_opts {
	long rate;
	double duration_s;
	const char *marker;
	char binary[PATH_MAX];
	long cpu; /* -1: not pinned */
};

/* One spawn, filled by the main thread. */
struct spawn_rec {
	uint64_t sched_ns; /* when it was due */
	uint64_t start_ns; /* just before posix_spawn() */
	uint64_t spawned_ns; /* posix_spawn() returned */
	pid_t pid;
};

/* One reaped child, filled by the reaper thread. */
struct reap_rec {
	uint64_t reaped_ns;
	pid_t pid;
	int status;
};

struct storm {
	struct spawn_rec *spawns;
	struct reap_rec *reaps;
	size_t capacity;
	atomic_size_t spawned; /* children started, published before each sem_post */
	atomic_size_t reaped;
	atomic_int done; /* no more spawns will come */
	sem_t outstanding; /* one post per child, one more when done */
};

static uint64_t now_ns(void)
{
	return cli_now_ns();
}

static int parse_opts(int argc, char **argv, struct storm_opts *o)
{
	static const struct option longopts[] = {
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "marker", required_argument, NULL, 'm' },
		{ "binary", required_argument, NULL, 'b' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->cpu = -1;
	while ((c = getopt_long(argc, argv, "r:d:m:b:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (cli_parse_long(optarg, 1, RATE_MAX_PER_SEC, &o->rate)) {
				fprintf(stderr, "exec_storm: --rate must be 1..%ld, not '%s'\n",
					RATE_MAX_PER_SEC, optarg);
				return -EINVAL;
			}
			break;
		case 'd':
			if (cli_parse_seconds(optarg, &o->duration_s) || o->duration_s <= 0 ||
			    o->duration_s > DURATION_MAX_SEC) {
				fprintf(stderr, "exec_storm: --duration must be seconds in (0, %.0f], not '%s'\n",
					DURATION_MAX_SEC, optarg);
				return -EINVAL;
			}
			break;
		case 'm':
			o->marker = optarg;
			break;
		case 'b':
			if (strlen(optarg) >= sizeof(o->binary)) {
				fprintf(stderr, "exec_storm: --binary path too long\n");
				return -EINVAL;
			}
			strcpy(o->binary, optarg);
			break;
		case 'c':
			if (cli_parse_long(optarg, 0, CPU_SETSIZE - 1, &o->cpu)) {
				fprintf(stderr, "exec_storm: --cpu must be a CPU number, not '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default:
			fputs(usage_text, stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || !o->rate || o->duration_s <= 0 || !o->marker || !*o->marker) {
		fprintf(stderr, "exec_storm: --rate, --duration and --marker are required; see --help\n");
		return -EINVAL;
	}
	if (!o->binary[0]) {
		/* Default: tiny_true in the directory exec_storm runs from. */
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *slash;

		if (n < 0)
			return -errno;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		if ((size_t)snprintf(o->binary, sizeof(o->binary), "%s/tiny_true", self) >=
		    sizeof(o->binary))
			return -ENAMETOOLONG;
	}
	if (access(o->binary, X_OK)) {
		fprintf(stderr, "exec_storm: cannot execute %s: %s (build it with make)\n",
			o->binary, strerror(errno));
		return -ENOENT;
	}
	return 0;
}

static void *reaper_main(void *arg)
{
	struct storm *s = arg;

	for (;;) {
		size_t r;
		int status;
		pid_t pid;

		while (sem_wait(&s->outstanding) && errno == EINTR)
			;
		r = atomic_load(&s->reaped);
		if (r >= atomic_load(&s->spawned)) {
			if (atomic_load(&s->done))
				return NULL;
			continue;
		}
		do
			pid = waitpid(-1, &status, 0);
		while (pid < 0 && errno == EINTR);
		if (pid < 0)
			return NULL; /* ECHILD: cannot happen while r < spawned */
		s->reaps[r].reaped_ns = now_ns();
		s->reaps[r].pid = pid;
		s->reaps[r].status = status;
		atomic_store(&s->reaped, r + 1);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank quantile of a sorted array, q in (0, 1]. */
static uint64_t quantile(const uint64_t *sorted, size_t n, double q)
{
	size_t rank;

	if (!n)
		return 0;
	rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

static void print_dist(const char *name, uint64_t *v, size_t n, int last)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("\"%s\":{\"n\":%zu,\"median\":%.1f,\"p99\":%.1f,\"max\":%.1f}%s", name, n,
	       quantile(v, n, 0.5) / NS_PER_US, quantile(v, n, 0.99) / NS_PER_US,
	       n ? v[n - 1] / NS_PER_US : 0.0, last ? "" : ",");
}

/* Pair each spawn with its reap by pid, first with first, so a pid the kernel
 * reused within the run still pairs correctly. Fills wall[] (ns) and returns
 * the number of pairs; -ENOMEM if the index cannot be allocated. */
static long pair_spawns(const struct storm *s, size_t nspawn, size_t nreap, uint64_t *wall,
			size_t *nonzero_exit)
{
	/* Per pid, a FIFO of reap indices + 1 (0: none) chained through next[]. */
	uint32_t *head, *tail, *next;
	pid_t pid_limit = 0;
	long pairs = 0;

	*nonzero_exit = 0;
	for (size_t i = 0; i < nreap; i++)
		if (s->reaps[i].pid >= pid_limit)
			pid_limit = s->reaps[i].pid + 1;
	for (size_t i = 0; i < nspawn; i++)
		if (s->spawns[i].pid >= pid_limit)
			pid_limit = s->spawns[i].pid + 1;
	head = calloc((size_t)pid_limit + 1, sizeof(*head));
	tail = calloc((size_t)pid_limit + 1, sizeof(*tail));
	next = calloc(nreap + 1, sizeof(*next));
	if (!head || !tail || !next) {
		pairs = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nreap; i++) {
		pid_t p = s->reaps[i].pid;

		if (head[p])
			next[tail[p] - 1] = (uint32_t)i + 1;
		else
			head[p] = (uint32_t)i + 1;
		tail[p] = (uint32_t)i + 1;
	}
	for (size_t i = 0; i < nspawn; i++) {
		pid_t p = s->spawns[i].pid;
		const struct reap_rec *r;

		if (!head[p])
			continue; /* never reaped */
		r = &s->reaps[head[p] - 1];
		head[p] = next[head[p] - 1];
		if (r->reaped_ns >= s->spawns[i].start_ns)
			wall[pairs++] = r->reaped_ns - s->spawns[i].start_ns;
		if (!WIFEXITED(r->status) || WEXITSTATUS(r->status))
			(*nonzero_exit)++;
	}
out:
	free(head);
	free(tail);
	free(next);
	return pairs;
}

static void json_string(const char *str)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

int main(int argc, char **argv)
{
	static char *const empty_env[] = { NULL };
	struct storm_opts o;
	struct storm s;
	pthread_t reaper;
	uint64_t start, deadline, end_spawn, *wall, *spawn_ns, *late_ns;
	size_t nspawn, nreap, failed = 0, scheduled = 0, nonzero_exit;
	long pairs;
	char seq_text[SEQ_TEXT_BYTES];
	char first_error[128] = "";
	struct timespec reap_deadline;
	int err;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "exec_storm: cannot pin to CPU %ld: %s\n", o.cpu, strerror(errno));
			return 2;
		}
	}
	prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS);

	memset(&s, 0, sizeof(s));
	s.capacity = (size_t)((double)o.rate * o.duration_s) + 1;
	s.spawns = calloc(s.capacity, sizeof(*s.spawns));
	s.reaps = calloc(s.capacity, sizeof(*s.reaps));
	wall = calloc(s.capacity, sizeof(*wall));
	spawn_ns = calloc(s.capacity, sizeof(*spawn_ns));
	late_ns = calloc(s.capacity, sizeof(*late_ns));
	if (!s.spawns || !s.reaps || !wall || !spawn_ns || !late_ns) {
		fprintf(stderr, "exec_storm: out of memory for %zu spawns\n", s.capacity);
		return 2;
	}
	sem_init(&s.outstanding, 0, 0);
	err = pthread_create(&reaper, NULL, reaper_main, &s);
	if (err) {
		fprintf(stderr, "exec_storm: cannot start the reaper thread: %s\n", strerror(err));
		return 2;
	}

	start = now_ns() + START_DELAY_NS;
	deadline = start + (uint64_t)(o.duration_s * (double)NS_PER_SEC);
	for (uint64_t i = 0;; i++) {
		/* Exact schedule, no accumulated rounding: i * 1e9 / rate. */
		uint64_t due = start + i * NS_PER_SEC / (uint64_t)o.rate;
		uint64_t t;
		struct spawn_rec *rec;
		char *child_argv[4];
		pid_t pid;

		if (due >= deadline)
			break;
		scheduled++;
		t = now_ns();
		if (t < due) {
			struct timespec ts = { .tv_sec = (time_t)(due / NS_PER_SEC),
					       .tv_nsec = (long)(due % NS_PER_SEC) };
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		} else if (t >= deadline) {
			break; /* fell behind past the end: the rest was never sent */
		}
		snprintf(seq_text, sizeof(seq_text), "%llu", (unsigned long long)i);
		child_argv[0] = o.binary;
		child_argv[1] = (char *)o.marker;
		child_argv[2] = seq_text;
		child_argv[3] = NULL;
		rec = &s.spawns[atomic_load(&s.spawned)];
		rec->sched_ns = due;
		rec->start_ns = now_ns();
		err = posix_spawn(&pid, o.binary, NULL, NULL, child_argv, empty_env);
		rec->spawned_ns = now_ns();
		if (err) {
			if (!failed++)
				snprintf(first_error, sizeof(first_error), "%s", strerror(err));
			continue;
		}
		rec->pid = pid;
		atomic_fetch_add(&s.spawned, 1);
		sem_post(&s.outstanding);
	}
	end_spawn = now_ns();
	atomic_store(&s.done, 1);
	sem_post(&s.outstanding);

	clock_gettime(CLOCK_REALTIME, &reap_deadline);
	reap_deadline.tv_sec += REAP_TIMEOUT_SEC;
	err = pthread_timedjoin_np(reaper, NULL, &reap_deadline);

	nspawn = atomic_load(&s.spawned);
	nreap = atomic_load(&s.reaped);
	for (size_t i = 0; i < nspawn; i++) {
		spawn_ns[i] = s.spawns[i].spawned_ns - s.spawns[i].start_ns;
		late_ns[i] = s.spawns[i].start_ns > s.spawns[i].sched_ns ?
				     s.spawns[i].start_ns - s.spawns[i].sched_ns : 0;
	}
	pairs = pair_spawns(&s, nspawn, nreap, wall, &nonzero_exit);
	if (pairs < 0) {
		fprintf(stderr, "exec_storm: out of memory pairing %zu spawns\n", nspawn);
		return 2;
	}

	printf("{\"type\":\"exec_storm\",\"marker\":");
	json_string(o.marker);
	printf(",\"binary\":");
	json_string(o.binary);
	printf(",\"rate_target\":%ld,\"duration_s\":%.3f,\"cpu\":%ld,\"scheduled\":%zu,"
	       "\"spawned\":%zu,\"failed\":%zu,\"reaped\":%zu,\"unreaped\":%zu,"
	       "\"nonzero_exit\":%zu,\"achieved_rate\":%.1f,\"spawn_elapsed_s\":%.3f,",
	       o.rate, o.duration_s, o.cpu, scheduled, nspawn, failed, nreap, nspawn - nreap,
	       nonzero_exit, (double)nspawn / o.duration_s,
	       (double)(end_spawn - start) / (double)NS_PER_SEC);
	if (failed) {
		printf("\"first_error\":");
		json_string(first_error);
		putchar(',');
	}
	print_dist("spawn_us", spawn_ns, nspawn, 0);
	print_dist("exec_wall_us", wall, (size_t)pairs, 0);
	print_dist("late_us", late_ns, nspawn, 1);
	printf("}\n");
	fflush(stdout);
	if (err) {
		fprintf(stderr, "exec_storm: %zu children not reaped after %d s\n", nspawn - nreap,
			REAP_TIMEOUT_SEC);
		return 1;
	}
	return failed || nspawn == 0 ? 1 : 0;
}
