/* build/sonde run as a child by the kernel tests: check it is built, wait
 * until it traces ("tracing" on its stderr: the programs are attached),
 * stop it with SIGINT and require a clean exit. Header-only; include it
 * after cmocka.h, http_test_env.h and kernel_test.h. */
#ifndef SONDE_TESTS_KERNEL_SONDE_PROC_H
#define SONDE_TESTS_KERNEL_SONDE_PROC_H

#define SONDE_START_WAIT_MS 10000
#define SONDE_STOP_WAIT_MS 20000
#define SONDE_RUN_WAIT_MS 20000
#define SONDE_RUN_ARGS_MAX 8

/* Does the file hold needle (bytes, NULs included in the file)? */
static inline bool env_file_has(const char *path, const char *needle)
{
	size_t len = 0;
	char *s = env_read_file(path, &len);
	bool has = s && memmem(s, len, needle, strlen(needle)) != NULL;

	free(s);
	return has;
}

static inline void sonde_require(void)
{
	KERNEL_TEST_REQUIRE_ROOT();
	if (access(kernel_test_sonde_path(), X_OK))
		fail_msg("%s not found: build it first (make)", kernel_test_sonde_path());
}

static inline void sonde_wait_tracing(pid_t pid, const char *err_path)
{
	uint64_t deadline = env_now_ms() + SONDE_START_WAIT_MS;

	while (!env_file_has(err_path, "tracing") && env_now_ms() < deadline &&
	       waitpid(pid, NULL, WNOHANG) == 0)
		env_sleep_ms(20);
	if (!env_file_has(err_path, "tracing")) {
		char *s = env_read_file(err_path, NULL);

		fail_msg("sonde did not start: %s", s ? s : "?");
	}
}

static inline void sonde_stop(struct test_env *e, pid_t pid, const char *err_path)
{
	int st;

	kill(pid, SIGINT);
	st = env_wait(e, pid, SONDE_STOP_WAIT_MS);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *s = env_read_file(err_path, NULL);

		fail_msg("sonde did not stop cleanly (status %d): %s", st, s ? s : "?");
	}
}

/* Run `sonde cmd args...` to completion, stdout and stderr to files; its
 * exit code. */
static inline int sonde_run(struct test_env *e, const char *cmd, char *const args[],
			    const char *out, const char *err)
{
	char *argv[SONDE_RUN_ARGS_MAX];
	int argc = 0, st;
	pid_t pid;

	argv[argc++] = (char *)kernel_test_sonde_path();
	argv[argc++] = (char *)cmd;
	for (int i = 0; args[i] && argc < SONDE_RUN_ARGS_MAX - 1; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	pid = env_spawn(e, argv, out, err);
	assert_true(pid > 0);
	st = env_wait(e, pid, SONDE_RUN_WAIT_MS);
	assert_true(st != -1 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

#endif
