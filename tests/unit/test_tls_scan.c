/* loader/tls_scan: the ELF side of finding OpenSSL, checked against this
 * test's own binary (its functions' file offsets must be where the kernel
 * maps them, which is what a uprobe-multi link is given) and against
 * files that are not ELF or not there. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader/tls_scan.h"

/* Two functions of this binary to look up: not static (they must be in
 * .symtab), not inlined (they must have an address of their own). */
__attribute__((noinline, used)) int sonde_test_probe_one(int x)
{
	return x * 3 + 1;
}

__attribute__((noinline, used)) int sonde_test_probe_two(int x)
{
	return x * 5 + 2;
}

static char self[4096];

static int setup(void **state)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)state;
	if (n <= 0)
		return -1;
	self[n] = '\0';
	return 0;
}

/* The file offset of code at address addr of this process: from the
 * mapping of our own executable that holds it in /proc/self/maps. */
static uint64_t file_offset_of(const void *addr)
{
	uint64_t a = (uint64_t)(uintptr_t)addr, start, end, off, found = 0;
	char line[4352], perms[8], path[4096];
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		path[0] = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %4095s", &start, &end,
			   perms, &off, path) < 4)
			continue;
		if (a >= start && a < end && !strcmp(path, self))
			found = a - start + off;
	}
	fclose(f);
	return found;
}

static void test_offsets_of_own_functions(void **state)
{
	static const char *const names[] = { "sonde_test_probe_one", "sonde_test_probe_two",
					     "sonde_test_no_such_function" };
	uint64_t offs[3];

	(void)state;
	assert_int_equal(tls_elf_func_offsets(self, names, 3, offs), 0);
	assert_true(offs[0] != 0);
	assert_true(offs[1] != 0);
	assert_true(offs[0] != offs[1]);
	assert_int_equal(offs[0], file_offset_of((const void *)sonde_test_probe_one));
	assert_int_equal(offs[1], file_offset_of((const void *)sonde_test_probe_two));
	assert_int_equal(offs[2], 0);
	/* still callable: the functions are real code, not folded away */
	assert_int_equal(sonde_test_probe_one(1) + sonde_test_probe_two(1), 11);
}

static void test_offsets_none_found(void **state)
{
	static const char *const names[] = { "sonde_test_no_such_function" };
	uint64_t offs[1] = { 42 };

	(void)state;
	assert_int_equal(tls_elf_func_offsets(self, names, 1, offs), -ENOENT);
	assert_int_equal(offs[0], 0);
}

static void test_offsets_bad_files(void **state)
{
	static const char *const names[] = { "SSL_read" };
	char path[] = "/tmp/sonde-test-tls-XXXXXX";
	uint64_t offs[1];
	int fd;

	(void)state;
	assert_int_equal(tls_elf_func_offsets("/nonexistent/libssl.so.3", names, 1, offs), -ENOENT);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not an ELF file\n", 16), 16);
	close(fd);
	assert_true(tls_elf_func_offsets(path, names, 1, offs) < 0);
	assert_int_equal(offs[0], 0);
	assert_false(tls_elf_exports_ssl(path));
	unlink(path);
	/* an ELF file without OpenSSL: this test */
	assert_false(tls_elf_exports_ssl(self));
}

static void test_libssl_names(void **state)
{
	(void)state;
	assert_true(tls_is_libssl_name("/usr/lib/x86_64-linux-gnu/libssl.so.3"));
	assert_true(tls_is_libssl_name("libssl.so"));
	assert_true(tls_is_libssl_name("/opt/x/libssl.so.1.1"));
	assert_false(tls_is_libssl_name("/usr/lib/libssl3.so"));
	assert_false(tls_is_libssl_name("/usr/lib/libssl.so3"));
	assert_false(tls_is_libssl_name("/usr/lib/libcrypto.so.3"));
	assert_false(tls_is_libssl_name("libssl.so/"));
	assert_false(tls_is_libssl_name(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets_of_own_functions),
		cmocka_unit_test(test_offsets_none_found),
		cmocka_unit_test(test_offsets_bad_files),
		cmocka_unit_test(test_libssl_names),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
