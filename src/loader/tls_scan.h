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
 * that no process maps any more (the well-known paths stay). Returns the
 * number of files newly hooked, or a negative errno if /proc cannot be
 * read. */
int tls_scan_run(struct tls_scan *s);
/* Detach everything and forget it. */
void tls_scan_free(struct tls_scan *s);

/* Does the ELF file at path define SSL_read in its dynamic symbols? */
bool tls_elf_exports_ssl(const char *path);
/* Is this the file name of a shared libssl ("libssl.so", "libssl.so.3")? */
bool tls_is_libssl_name(const char *path);

#endif
