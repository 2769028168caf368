/* Where OpenSSL lives on this host, for the HTTP tracer's SSL uprobes: the
 * shared libssl of every process (from /proc/PID/maps), the well-known
 * system paths (so that a process loading libssl later is covered from its
 * first call), and executables that link OpenSSL statically and export
 * SSL_read (node). Each file is offered once, by device and inode: the same
 * library under two paths (/lib and /usr/lib) must not be hooked twice, or
 * every request would be seen twice. */
#ifndef SONDE_LOADER_TLS_SCAN_H
#define SONDE_LOADER_TLS_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Attach to the file at path (reachable from here): what to pass to
 * detach later, or NULL when it could not be hooked. */
typedef void *(*tls_attach_fn)(const char *path, void *ctx);
/* Undo an attach: no process maps the file any more. */
typedef void (*tls_detach_fn)(void *hook, void *ctx);

struct tls_file {
	dev_t dev;
	ino_t ino;
	void *hook;     /* from tls_attach_fn; NULL: not OpenSSL, or failed */
	bool present;   /* seen in the current pass */
	/* who last saw it: a pass that sees less (after a drop to another uid,
	 * or without CAP_SYS_PTRACE) cannot tell that no process maps it */
	uid_t seen_euid;
	bool seen_ptrace;
};

struct tls_scan {
	struct tls_file *files;  /* every file looked at, hooked or not */
	size_t nfiles, cap;
	uint32_t hooked;         /* files attached, ever */
	uint32_t unhooked;       /* files detached: no process mapped them any more */
	uint32_t failed;         /* candidates whose attach failed */
	const char *proc_root;   /* "/proc" (tests may point elsewhere) */
	tls_attach_fn attach;
	tls_detach_fn detach;
	void *ctx;
};

void tls_scan_init(struct tls_scan *s, tls_attach_fn attach, tls_detach_fn detach, void *ctx);
/* One pass: attach to every file not seen before; detach from hooked files
 * that no process maps any more (the well-known paths stay). Other uids'
 * maps are readable only with CAP_SYS_PTRACE: a file last seen by a pass
 * that could see more (before `--user` dropped it) is kept, not detached,
 * since it may still be mapped where this pass cannot look. Returns the number of files newly hooked, or a negative errno if /proc
 * cannot be read. */
int tls_scan_run(struct tls_scan *s);
/* Detach everything and forget it. */
void tls_scan_free(struct tls_scan *s);

/* The first libssl found where distributions install it (the files
 * hooked at start), or NULL. */
const char *tls_system_libssl(void);
/* Does the ELF file at path define SSL_read in its dynamic symbols? */
bool tls_elf_exports_ssl(const char *path);
/* The file offsets of functions names[0..n) in the ELF file at path, what a
 * uprobe-multi link takes (libbpf resolves names only for its own perf
 * uprobes): offsets[i] is 0 when names[i] is not defined there. Looks in
 * .symtab and .dynsym (an unversioned or default-version name), and turns
 * each address into a file offset through the PT_LOAD segment holding it.
 * 0, -ENOENT when none is defined, or a negative errno. Cost: one pass over
 * the symbol tables (~1 ms for libssl, ~30 ms for node). */
int tls_elf_func_offsets(const char *path, const char *const names[], size_t n,
			 uint64_t offsets[]);
/* OpenSSL (1.1.1 and 3.x) has SSL_read and SSL_read_ex both call one
 * internal worker, ssl_read_internal(ssl, buf, num, &readbytes), and
 * SSL_write and SSL_write_ex ssl_write_internal: a probe pair on a worker
 * sees every call of either form, with SSL_read_ex's arguments and return.
 * And it is cheaper: the exported functions start with `sub $n,%rsp`, which
 * a uprobe must single-step out of line (~4.8 us a hit here, measured),
 * where the workers start with a push, which the kernel emulates (~1.3 us).
 * A worker is taken only when SSL_*_ex passes its arguments straight to it
 * (nothing but endbr64, pushes and a sub from rsp before the call) and
 * SSL_* calls it too. Their file offsets, 0 when not recognised; 0 when
 * both are found, -ENOENT, or a negative errno. */
#define TLS_WRAPPER_BYTES 128
int tls_elf_ssl_workers(const char *path, uint64_t *read_worker, uint64_t *write_worker);
/* The two checks on code bytes, for the tests: does code[0..n) begin with
 * such a prologue and a call (*target: where it lands, relative to code)?
 * Does it call target (relative to code) anywhere? */
bool tls_code_forwards(const uint8_t *code, size_t n, int64_t *target);
bool tls_code_calls(const uint8_t *code, size_t n, int64_t target);
/* Both at once, with one pass over the symbol tables (~30 ms for node):
 * the offsets of names[0..n) as tls_elf_func_offsets gives them, and the
 * workers as tls_elf_ssl_workers finds them, from SSL_read, SSL_read_ex,
 * SSL_write and SSL_write_ex among names (0 when not recognised; the
 * worker pointers may be NULL: not looked for). Returns as
 * tls_elf_func_offsets. */
int tls_elf_ssl_funcs(const char *path, const char *const names[], size_t n, uint64_t offsets[],
		      uint64_t *read_worker, uint64_t *write_worker);
/* Is this the file name of a shared libssl ("libssl.so", "libssl.so.3")? */
bool tls_is_libssl_name(const char *path);

#endif
