/* Shared by the kernel tests: they need root and a kernel that loads BPF.
 * Outside CI a test that cannot have them skips with the reason printed;
 * with CI set, that is a failure: CI must run them for real. */
#ifndef SONDE_TESTS_KERNEL_TEST_H
#define SONDE_TESTS_KERNEL_TEST_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int kernel_test_in_ci(void)
{
	const char *ci = getenv("CI");

	return ci && *ci && ci[0] != '0';
}

/* Skip (or, under CI, fail) the current cmocka test with reason. */
#define KERNEL_TEST_UNAVAILABLE(reason)                                          \
	do {                                                                     \
		if (kernel_test_in_ci())                                         \
			fail_msg("kernel test cannot run under CI: %s", (reason)); \
		fprintf(stderr, "SKIP: %s\n", (reason));                         \
		skip();                                                          \
	} while (0)

#define KERNEL_TEST_REQUIRE_ROOT()                                               \
	do {                                                                     \
		if (geteuid() != 0)                                              \
			KERNEL_TEST_UNAVAILABLE("needs root to load BPF programs"); \
	} while (0)

/* The sonde binary of this test's build: BUILD/tests/kernel/x ->
 * BUILD/sonde, so that `make BUILD=dir test` tests its own build; else
 * build/sonde. */
static inline const char *kernel_test_sonde_path(void)
{
	static char path[PATH_MAX];
	char self[PATH_MAX - 16]; /* room for "/sonde" */
	ssize_t n;
	char *cut;

	if (path[0])
		return path;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		cut = strstr(self, "/tests/kernel/");
		if (cut) {
			*cut = '\0';
			snprintf(path, sizeof(path), "%s/sonde", self);
			if (!access(path, X_OK))
				return path;
		}
	}
	snprintf(path, sizeof(path), "build/sonde");
	return path;
}

#endif
