/* The lab's CPU time of a process (lab/tracer_proc.h): it keeps the time of
 * threads that have exited (a tracer's short-lived threads, an endpoint's
 * thread per connection), which a sum over /proc/PID/task would lose; and
 * it is 0 for a process that is gone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/tracer_proc.h"

#define BURN_NS 120000000ull /* CPU the exited thread spends */

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *burn(void *arg)
{
	volatile uint64_t x = 0;
	uint64_t start = thread_cpu_ns();

	(void)arg;
	while (thread_cpu_ns() - start < BURN_NS)
		x++;
	return NULL;
}

/* The child: one thread burns BURN_NS of CPU and exits; then the child
 * says so and waits to be killed. */
static void child(int out)
{
	pthread_t t;
	char done = 1;

	if (pthread_create(&t, NULL, burn, NULL) || pthread_join(t, NULL))
		_exit(1);
	if (write(out, &done, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static void test_exited_threads_counted(void **st)
{
	int fds[2];
	pid_t pid;
	char done = 0;
	uint64_t cpu;
	int status;

	(void)st;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child(fds[1]);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &done, 1), 1);
	close(fds[0]);
	/* the burning thread is gone; its time stays the process's */
	cpu = lab_proc_cpu_ns(pid);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(cpu >= BURN_NS);
	assert_true(cpu < 20 * BURN_NS);
	/* reaped: nothing to read */
	assert_int_equal(lab_proc_cpu_ns(pid), 0);
}

static void test_self_grows(void **st)
{
	uint64_t a = lab_proc_cpu_ns(getpid()), b;

	(void)st;
	burn(NULL);
	b = lab_proc_cpu_ns(getpid());
	assert_true(a > 0);
	assert_true(b >= a + BURN_NS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exited_threads_counted),
		cmocka_unit_test(test_self_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
