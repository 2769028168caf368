/* loader/tls_scan: the ELF side of finding OpenSSL, checked against this
 * test's own binary (its functions' file offsets must be where the kernel
 * maps them, which is what a uprobe-multi link is given; it also has
 * OpenSSL's shape of wrappers and workers), against the system's libssl,
 * against code bytes, and against files that are not ELF or not there. */
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

/* OpenSSL's shape, in this binary: SSL_read_ex and SSL_write_ex pass their
 * arguments straight to a worker (after a sub from rsp, or an endbr64 and a
 * push), SSL_read and SSL_write call the same worker after other work. */
__asm__(".text\n"
	".globl sonde_test_read_worker\n.type sonde_test_read_worker,@function\n"
	"sonde_test_read_worker:\n push %r13\n pop %r13\n mov $1,%eax\n ret\n"
	".globl sonde_test_write_worker\n.type sonde_test_write_worker,@function\n"
	"sonde_test_write_worker:\n push %rbx\n pop %rbx\n mov $1,%eax\n ret\n"
	".globl SSL_read_ex\n.type SSL_read_ex,@function\n"
	"SSL_read_ex:\n sub $8,%rsp\n call sonde_test_read_worker\n add $8,%rsp\n ret\n"
	".globl SSL_read\n.type SSL_read,@function\n"
	"SSL_read:\n sub $0x18,%rsp\n test %edx,%edx\n js 1f\n mov %rsp,%rcx\n"
	" movslq %edx,%rdx\n call sonde_test_read_worker\n1: add $0x18,%rsp\n ret\n"
	".globl SSL_write_ex\n.type SSL_write_ex,@function\n"
	"SSL_write_ex:\n .byte 0xf3,0x0f,0x1e,0xfa\n push %rbx\n call sonde_test_write_worker\n"
	" pop %rbx\n ret\n"
	".globl SSL_write\n.type SSL_write,@function\n"
	"SSL_write:\n sub $0x18,%rsp\n mov %rsp,%rcx\n call sonde_test_write_worker\n"
	" add $0x18,%rsp\n ret\n");
void sonde_test_read_worker(void);
void sonde_test_write_worker(void);

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
	/* an ELF file without OpenSSL (this test has OpenSSL's shape, and is
	 * linked with -rdynamic) */
	assert_false(tls_elf_exports_ssl("/bin/sh"));
	assert_true(tls_elf_exports_ssl(self));
}

/* The workers of OpenSSL's shape in this binary, where the kernel maps
 * them; and in the system's libssl, which the kernel tests hook. */
static void test_ssl_workers(void **state)
{
	static const char *const names[] = { "SSL_read", "SSL_read_ex", "SSL_write",
					     "SSL_write_ex" };
	static const char *const libssl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
	uint64_t rd = 1, wr = 1, offs[4];

	(void)state;
	assert_int_equal(tls_elf_ssl_workers(self, &rd, &wr), 0);
	assert_int_equal(rd, file_offset_of((const void *)sonde_test_read_worker));
	assert_int_equal(wr, file_offset_of((const void *)sonde_test_write_worker));

	assert_int_equal(tls_elf_ssl_workers("/nonexistent/libssl.so.3", &rd, &wr), -ENOENT);
	assert_int_equal(rd, 0);
	assert_int_equal(wr, 0);

	/* Debian's OpenSSL (a dependency of curl and nginx, always here) */
	assert_int_equal(access(libssl, R_OK), 0);
	assert_int_equal(tls_elf_ssl_workers(libssl, &rd, &wr), 0);
	assert_int_equal(tls_elf_func_offsets(libssl, names, 4, offs), 0);
	assert_true(rd && wr && rd != wr);
	for (int i = 0; i < 4; i++)
		assert_true(rd != offs[i] && wr != offs[i]);
}

/* The byte checks, on the code of Debian 12's libssl.so.3 (3.0) and on
 * what must not pass. */
static void test_code_checks(void **state)
{
	/* SSL_read_ex: sub $0x8,%rsp; call ssl_read_internal (560 bytes back) */
	static const uint8_t read_ex[] = { 0x48, 0x83, 0xec, 0x08, 0xe8, 0xc7, 0xfd, 0xff, 0xff,
					   0x31, 0xd2 };
	/* SSL_read: its call to the same worker is 30 bytes in, after a stack
	 * guard, a check of num and the setup of &readbytes */
	static const uint8_t read[] = {
		0x48, 0x83, 0xec, 0x18, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00,
		0x48, 0x89, 0x44, 0x24, 0x08, 0x31, 0xc0, 0x85, 0xd2, 0x78, 0x2f, 0x48, 0x89,
		0xe1, 0x48, 0x63, 0xd2, 0xe8, 0x3d, 0xfe, 0xff, 0xff, 0x85, 0xc0,
	};
	/* endbr64, push %r12, push %rbx, sub $0x1000,%rsp, call +0x10 */
	static const uint8_t long_prologue[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x41, 0x54, 0x53, 0x48,
						 0x81, 0xec, 0x00, 0x10, 0x00, 0x00, 0xe8, 0x10,
						 0x00, 0x00, 0x00 };
	/* an argument changed first: mov %rdi,%rbx; mov %rsi,%rdi; call */
	static const uint8_t moves[] = { 0x48, 0x89, 0xfb, 0x48, 0x89, 0xf7, 0xe8, 0, 0, 0, 0 };
	/* a jump, not a call */
	static const uint8_t jumps[] = { 0x48, 0x83, 0xec, 0x08, 0xe9, 0xc7, 0xfd, 0xff, 0xff };
	int64_t t = 0;

	(void)state;
	assert_true(tls_code_forwards(read_ex, sizeof(read_ex), &t));
	assert_int_equal(t, 0x35290 - 0x354c0);
	assert_true(tls_code_calls(read, sizeof(read), 0x35290 - 0x35430));
	assert_false(tls_code_calls(read, sizeof(read), 0x35290 - 0x35430 + 1));
	assert_false(tls_code_calls(read, sizeof(read) - 3, 0x35290 - 0x35430)); /* cut */
	assert_true(tls_code_forwards(long_prologue, sizeof(long_prologue), &t));
	assert_int_equal(t, (int64_t)sizeof(long_prologue) + 0x10);
	assert_false(tls_code_forwards(moves, sizeof(moves), &t));
	assert_false(tls_code_forwards(jumps, sizeof(jumps), &t));
	assert_false(tls_code_forwards(read_ex, 8, &t)); /* the call cut */
	assert_false(tls_code_forwards(read_ex, 0, &t));
	assert_false(tls_code_forwards(read, sizeof(read), &t)); /* not a forwarder */
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
		cmocka_unit_test(test_ssl_workers),
		cmocka_unit_test(test_code_checks),
		cmocka_unit_test(test_libssl_names),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
