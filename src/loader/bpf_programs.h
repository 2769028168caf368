/* The BPF objects sonde ships (exec, http), in one list, and a way to load
 * each of them without attaching and read what the verifier spent on every
 * program. Used by `sonde doctor --programs` and by the verifier-budget
 * kernel test, so both judge the same programs in the same configuration. */
#ifndef SONDE_LOADER_BPF_PROGRAMS_H
#define SONDE_LOADER_BPF_PROGRAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kernel's limit on instructions the verifier may process per program
 * (BPF_COMPLEXITY_LIMIT_INSNS, since 5.2), and sonde's own budget: half of
 * it, so that a verifier on another kernel that explores a few more states
 * still accepts the programs. */
#define BPF_VERIFIER_INSNS_LIMIT 1000000
#define BPF_VERIFIER_INSNS_BUDGET (BPF_VERIFIER_INSNS_LIMIT / 2)

enum bpf_shipped_object {
	BPF_OBJ_EXEC = 0, /* bpf/exec.bpf.c: sonde exec, every --impl */
	BPF_OBJ_HTTP,     /* bpf/http.bpf.c: sonde http, plain and TLS */
	BPF_OBJ_COUNT
};

#define BPF_PROG_NAME_BYTES 64
#define BPF_PROG_TEXT_BYTES 96
#define BPF_PROG_ERROR_BYTES 192

/* What loading one program cost the verifier, and what it became. */
struct bpf_prog_cost {
	char object[16];                     /* "exec", "http" */
	char name[BPF_PROG_NAME_BYTES];      /* program (function) name */
	char type[32];                       /* "tracepoint", "kprobe", ... */
	char section[BPF_PROG_TEXT_BYTES];   /* ELF section: the attach point */
	int err;                             /* 0 loaded, else the negative errno */
	char error[BPF_PROG_ERROR_BYTES];    /* when err: what failed */
	long insns_processed;                /* "processed N insns" of the log; -1 unknown */
	bool has_verified_insns;             /* the kernel reports verified_insns (>= 5.16) */
	uint32_t verified_insns;             /* bpf_prog_info.verified_insns */
	uint32_t xlated_bytes;               /* BPF instructions after the verifier */
	uint32_t jited_bytes;                /* native code; 0 when not JIT-ed */
	long verify_us;                      /* "verification time N usec"; -1 unknown */
};

/* Stable name of a shipped object ("exec", "http"). */
const char *bpf_shipped_name(enum bpf_shipped_object id);

/* Load object id without attaching, with every program and the most
 * expensive configuration sonde can give it (every filter on, TLS on, the
 * largest capture: const volatile settings change the code the verifier
 * walks), and fill out[0..*count) with one entry per program. A program the
 * kernel refuses has err set; the others are still measured (the object is
 * then loaded again one program at a time, costing one more load each).
 * Returns 0, -ENOSPC when cap is too small, or the negative errno of opening
 * the object (err[] says what failed). Loads take ~0.1-0.5 s per object. */
int bpf_shipped_measure(enum bpf_shipped_object id, struct bpf_prog_cost *out, size_t cap,
			size_t *count, char *err, size_t err_size);

/* The number of instructions a program's cost is judged by: the verifier
 * log's count, else verified_insns; -1 when neither is known. */
long bpf_prog_cost_insns(const struct bpf_prog_cost *c);

#endif
