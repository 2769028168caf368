/* io_uring for the kernel tests (sonde http and the agent tell a process
 * that uses it, and count its calls): can this machine set one up, and a
 * child that does, then enters it. Include after cmocka.h. */
#ifndef SONDE_TEST_IO_URING_CHILD_H
#define SONDE_TEST_IO_URING_CHILD_H

#include <linux/io_uring.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* io_uring_setup works here (kernel.io_uring_disabled may refuse it). */
static inline bool io_uring_usable(void)
{
	struct io_uring_params params;
	int fd;

	memset(&params, 0, sizeof(params));
	fd = (int)syscall(__NR_io_uring_setup, 4, &params);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A child that sets up an io_uring and enters it `enters` times (1 +
 * enters calls), reaped; its pid. */
static inline pid_t io_uring_child_run(int enters)
{
	struct io_uring_params params;
	pid_t pid = fork();
	int fd, st;

	assert_true(pid >= 0);
	if (pid == 0) {
		memset(&params, 0, sizeof(params));
		fd = (int)syscall(__NR_io_uring_setup, 4, &params);
		if (fd < 0)
			_exit(1);
		for (int i = 0; i < enters; i++)
			if (syscall(__NR_io_uring_enter, fd, 0, 0, 0, NULL, 0) < 0)
				_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return pid;
}

#endif
