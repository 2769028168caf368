/* OpenSSL discovery for the SSL uprobes, and the ELF lookups they need;
 * see tls_scan.h. */
#include "loader/tls_scan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader/privilege.h"

#define PATH_BYTES 4096
#define LINE_BYTES 4352

/* libssl where distributions install it: hooked at start even when no
 * process has it loaded yet. */
static const char *const well_known[] = {
	"/usr/lib/x86_64-linux-gnu/libssl.so.3",
	"/usr/lib/x86_64-linux-gnu/libssl.so.1.1",
	"/usr/lib64/libssl.so.3",
	"/usr/lib/libssl.so.3",
};

void tls_scan_init(struct tls_scan *s, tls_attach_fn attach, tls_detach_fn detach, void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->proc_root = "/proc";
	s->attach = attach;
	s->detach = detach;
	s->ctx = ctx;
}

void tls_scan_free(struct tls_scan *s)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (s->files[i].hook)
			s->detach(s->files[i].hook, s->ctx);
	free(s->files);
	s->files = NULL;
	s->nfiles = s->cap = 0;
}

const char *tls_system_libssl(void)
{
	for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++)
		if (!access(well_known[i], R_OK))
			return well_known[i];
	return NULL;
}

bool tls_is_libssl_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libssl.so", 9) && (base[9] == '\0' || base[9] == '.');
}

/* The ELF file at path, opened for reading: 0, or a negative errno. */
static int elf_open(const char *path, int *fd, Elf **elf)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	*elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!*elf) {
		close(*fd);
		return -EINVAL;
	}
	return 0;
}

bool tls_elf_exports_ssl(const char *path)
{
	bool found = false;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	if (elf_open(path, &fd, &elf))
		return false;
	while (!found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && !strcmp(name, "SSL_read")) {
				found = true;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

/* A symbol's address to its offset in the file: through the loadable
 * segment that holds it. 0 when none does. */
static uint64_t vaddr_to_offset(Elf *elf, uint64_t addr)
{
	size_t nph = 0;

	if (elf_getphdrnum(elf, &nph))
		return 0;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (addr >= ph.p_vaddr && addr < ph.p_vaddr + ph.p_memsz)
			return addr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

/* The addresses of functions names[0..n) in elf (0: not defined): from
 * .symtab and .dynsym, an unversioned or default-version name. How many
 * were found. */
static size_t elf_func_addrs(Elf *elf, const char *const names[], size_t n, uint64_t addrs[])
{
	Elf_Scn *scn = NULL;
	size_t found = 0;

	for (size_t k = 0; k < n; k++)
		addrs[k] = 0;
	while (found < n && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize && found < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC || !sym.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			for (size_t k = 0; name && k < n; k++) {
				if (addrs[k] || strcmp(name, names[k]) || !vaddr_to_offset(elf, sym.st_value))
					continue;
				addrs[k] = sym.st_value;
				found++;
			}
		}
	}
	return found;
}

/* ---- OpenSSL's read and write workers ---- */

/* Bytes of an instruction a wrapper may run before calling its worker that
 * leaves the argument registers as they came (endbr64, push of a register,
 * sub of an immediate from rsp) at c[0..n), or 0. */
static size_t prologue_insn(const uint8_t *c, size_t n)
{
	if (n >= 4 && c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa)
		return 4;
	if (n >= 1 && c[0] >= 0x50 && c[0] <= 0x57)
		return 1;
	if (n >= 2 && c[0] == 0x41 && c[1] >= 0x50 && c[1] <= 0x57)
		return 2;
	if (n >= 4 && c[0] == 0x48 && c[1] == 0x83 && c[2] == 0xec)
		return 4;
	if (n >= 7 && c[0] == 0x48 && c[1] == 0x81 && c[2] == 0xec)
		return 7;
	return 0;
}

/* Where a call rel32 at c[i] lands, relative to c. */
static int64_t call_target(const uint8_t *c, size_t i)
{
	uint32_t rel = (uint32_t)c[i + 1] | (uint32_t)c[i + 2] << 8 | (uint32_t)c[i + 3] << 16 |
		       (uint32_t)c[i + 4] << 24;

	return (int64_t)(i + 5) + (int32_t)rel;
}

bool tls_code_forwards(const uint8_t *code, size_t n, int64_t *target)
{
	size_t i = 0, k;

	while (i < n && (k = prologue_insn(code + i, n - i)))
		i += k;
	if (n - i < 5 || code[i] != 0xe8)
		return false;
	*target = call_target(code, i);
	return true;
}

bool tls_code_calls(const uint8_t *code, size_t n, int64_t target)
{
	for (size_t i = 0; i + 5 <= n; i++)
		if (code[i] == 0xe8 && call_target(code, i) == target)
			return true;
	return false;
}

/* The first bytes of the function at addr, into buf: how many. */
static size_t func_bytes(Elf *elf, int fd, uint64_t addr, uint8_t *buf, size_t size)
{
	uint64_t off = addr ? vaddr_to_offset(elf, addr) : 0;
	ssize_t n = off ? pread(fd, buf, size, (off_t)off) : -1;

	return n > 0 ? (size_t)n : 0;
}

/* The worker both plain and ex call (see tls_elf_ssl_workers): its file
 * offset, or 0. */
static uint64_t worker_of(Elf *elf, int fd, uint64_t plain, uint64_t ex)
{
	uint8_t a[TLS_WRAPPER_BYTES], b[TLS_WRAPPER_BYTES];
	size_t na = func_bytes(elf, fd, plain, a, sizeof(a));
	size_t nb = func_bytes(elf, fd, ex, b, sizeof(b));
	uint64_t worker;
	int64_t t;

	if (!na || !nb || !tls_code_forwards(b, nb, &t))
		return 0;
	worker = ex + (uint64_t)t;
	if (worker == ex || worker == plain || !tls_code_calls(a, na, (int64_t)(worker - plain)))
		return 0;
	return vaddr_to_offset(elf, worker);
}

/* Where name is among names[0..n), its address in addrs (0: not there). */
static uint64_t addr_of(const char *const names[], size_t n, const uint64_t addrs[],
			const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(names[k], name))
			return addrs[k];
	return 0;
}

int tls_elf_ssl_funcs(const char *path, const char *const names[], size_t n, uint64_t offsets[],
		      uint64_t *read_worker, uint64_t *write_worker)
{
	size_t found;
	Elf *elf;
	int fd, ret;

	for (size_t k = 0; k < n; k++)
		offsets[k] = 0;
	if (read_worker)
		*read_worker = *write_worker = 0;
	ret = elf_open(path, &fd, &elf);
	if (ret)
		return ret;
	found = elf_func_addrs(elf, names, n, offsets);
	if (found && read_worker) {
		*read_worker = worker_of(elf, fd, addr_of(names, n, offsets, "SSL_read"),
					 addr_of(names, n, offsets, "SSL_read_ex"));
		*write_worker = worker_of(elf, fd, addr_of(names, n, offsets, "SSL_write"),
					  addr_of(names, n, offsets, "SSL_write_ex"));
	}
	for (size_t k = 0; k < n; k++)
		if (offsets[k])
			offsets[k] = vaddr_to_offset(elf, offsets[k]);
	elf_end(elf);
	close(fd);
	return found ? 0 : -ENOENT;
}

int tls_elf_func_offsets(const char *path, const char *const names[], size_t n,
			 uint64_t offsets[])
{
	return tls_elf_ssl_funcs(path, names, n, offsets, NULL, NULL);
}

int tls_elf_ssl_workers(const char *path, uint64_t *read_worker, uint64_t *write_worker)
{
	static const char *const names[] = { "SSL_read", "SSL_read_ex", "SSL_write",
					     "SSL_write_ex" };
	uint64_t offsets[4];
	int ret = tls_elf_ssl_funcs(path, names, 4, offsets, read_worker, write_worker);

	return ret ? ret : *read_worker && *write_worker ? 0 : -ENOENT;
}

static struct tls_file *seen(struct tls_scan *s, const struct stat *st)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (s->files[i].dev == st->st_dev && s->files[i].ino == st->st_ino)
			return &s->files[i];
	return NULL;
}

static struct tls_file *remember(struct tls_scan *s, const struct stat *st)
{
	if (s->nfiles == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct tls_file *f = realloc(s->files, cap * sizeof(*f));

		if (!f)
			return NULL;
		s->files = f;
		s->cap = cap;
	}
	s->files[s->nfiles] = (struct tls_file){ .dev = st->st_dev, .ino = st->st_ino };
	return &s->files[s->nfiles++];
}

/* Offer path once; want_elf_check: only if it exports SSL_read. 1 when
 * newly hooked. */
static int offer(struct tls_scan *s, const char *path, bool want_elf_check)
{
	struct tls_file *f;
	struct stat st;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return 0;
	f = seen(s, &st);
	if (f) {
		f->present = true;
		return 0;
	}
	f = remember(s, &st);
	if (!f)
		return 0;
	f->present = true;
	if (want_elf_check && !tls_elf_exports_ssl(path))
		return 0;
	f->hook = s->attach(path, s->ctx);
	if (!f->hook) {
		s->failed++;
		return 0;
	}
	s->hooked++;
	return 1;
}

/* Could this pass have seen every process that f's last sighting saw? */
static bool sees_as_much(const struct tls_file *f, uid_t euid, bool ptrace)
{
	return ptrace || (!f->seen_ptrace && f->seen_euid == euid);
}

/* Files no process showed in this pass: detached and forgotten (a file
 * that comes back is offered again), unless this pass saw less than the
 * one that last saw them. */
static void forget_absent(struct tls_scan *s)
{
	bool ptrace = priv_has_cap(CAP_SYS_PTRACE);
	uid_t euid = geteuid();
	size_t kept = 0;

	for (size_t i = 0; i < s->nfiles; i++) {
		struct tls_file *f = &s->files[i];

		if (f->present) {
			f->seen_euid = euid;
			f->seen_ptrace = ptrace;
		}
		if (!f->present && sees_as_much(f, euid, ptrace)) {
			if (f->hook) {
				s->detach(f->hook, s->ctx);
				s->unhooked++;
			}
			continue;
		}
		f->present = false;
		s->files[kept++] = *f;
	}
	s->nfiles = kept;
}

/* The libssl files in one process's maps. */
static int scan_maps(struct tls_scan *s, const char *pid)
{
	char path[PATH_BYTES], line[LINE_BYTES];
	int added = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/maps", s->proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *file = strchr(line, '/');
		size_t n;

		if (!file)
			continue;
		n = strcspn(file, "\n");
		file[n] = '\0';
		if (!tls_is_libssl_name(file))
			continue;
		/* through the process's root: it may live in another mount
		 * namespace (a container) */
		snprintf(path, sizeof(path), "%s/%s/root%s", s->proc_root, pid, file);
		added += offer(s, path, false);
	}
	fclose(f);
	return added;
}

int tls_scan_run(struct tls_scan *s)
{
	char path[PATH_BYTES];
	struct dirent *d;
	int added = 0;
	DIR *dir;

	for (size_t i = 0; i < sizeof(well_known) / sizeof(well_known[0]); i++)
		added += offer(s, well_known[i], false);
	dir = opendir(s->proc_root);
	if (!dir) {
		int err = -errno;

		for (size_t i = 0; i < s->nfiles; i++)
			s->files[i].present = false;
		return err;
	}

	while ((d = readdir(dir))) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "%s/%s/exe", s->proc_root, d->d_name);
		added += offer(s, path, true);
		added += scan_maps(s, d->d_name);
	}
	closedir(dir);
	forget_absent(s);
	return added;
}
