/* Misbehaving clients of `sonde stress`, next to the load generator's
 * well-behaved ones: clients that send their request a byte at a time, that
 * vanish mid-request (RST), and hostile traffic on the traced port
 * (malformed HTTP, binary garbage, headers that never end, pipelined
 * bursts). Each kind runs in its own threads until stopped; every attempt
 * ends in exactly one counter. */
#ifndef SONDE_LAB_STRESS_CLIENTS_H
#define SONDE_LAB_STRESS_CLIENTS_H

#include <stdint.h>

enum lab_clients_kind { LAB_CLIENTS_SLOW, LAB_CLIENTS_VANISH, LAB_CLIENTS_HOSTILE };

#define LAB_CLIENTS_THREADS_MAX 8
/* Slow clients: one byte of the request every this long. */
#define LAB_CLIENTS_SLOW_BYTE_MS 20
/* Pipelined bursts: requests written at once. */
#define LAB_CLIENTS_BURST 20
/* Endless headers: a header line this often, for at most this long. */
#define LAB_CLIENTS_ENDLESS_LINE_MS 10
#define LAB_CLIENTS_ENDLESS_MAX_MS 1000
/* Socket timeouts of every client. */
#define LAB_CLIENTS_TIMEOUT_MS 2000

struct lab_clients_counts {
	uint64_t attempts;  /* connections tried */
	uint64_t ok_2xx;    /* 2xx responses received (a burst counts each) */
	uint64_t answered;  /* attempts that got any HTTP answer or a close from the server */
	uint64_t vanished;  /* attempts we cut ourselves (vanish; slow ones stopped mid-request) */
	uint64_t errors;    /* connect failed, timed out */
};

struct lab_clients;

/* Start threads (1..LAB_CLIENTS_THREADS_MAX) of one kind against
 * host:port (numeric) for path. 0 or a negative errno. */
int lab_clients_start(struct lab_clients **out, enum lab_clients_kind kind, const char *host,
		      uint16_t port, const char *path, int threads);
/* Ask them to stop and return at once (each finishes its current attempt,
 * within about LAB_CLIENTS_TIMEOUT_MS). */
void lab_clients_request_stop(struct lab_clients *c);
/* Stop them and wait for them, sum their counters, free. */
void lab_clients_stop(struct lab_clients *c, struct lab_clients_counts *out);

#endif
