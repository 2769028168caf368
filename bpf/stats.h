/* Counters every sonde BPF program keeps, shared by the kernel side and the
 * loader. Each tracer's object has its own per-CPU array indexed by these. */
#ifndef SONDE_STATS_H
#define SONDE_STATS_H

enum sonde_stat {
	STAT_PRODUCED = 0,       /* events the kernel side tried to emit */
	STAT_DROP_RINGBUF_FULL,  /* lost: the ring buffer had no room */
	STAT_DROP_READ_FAULT,    /* lost: memory the event needs could not be read */
	STAT_DROP_MAP_FULL,      /* lost: a state map had no room for the event's state */
	STAT_PARTIAL_READ_FAULT, /* delivered, but an optional field could not be read */
	STAT_PARTIAL_SHED,       /* delivered without its payload bytes: the ring was filling up */
	STAT_DROP_TLS_NO_CONN,   /* lost: an SSL call whose socket could not be found */
	/* not traced on purpose, counted: requests on connections the agent's
	 * budget sampled out (http only), by the side the process is on */
	STAT_SAMPLED_OUT_SERVER,
	STAT_SAMPLED_OUT_CLIENT,
	/* not seen, counted (http only): io_uring_setup and io_uring_enter
	 * calls of traced processes; the I/O they submit there passes none of
	 * the syscalls sonde reads */
	STAT_UNSEEN_IO_URING,
	/* not seen, counted (http only): fds of a close_range call past the
	 * first CLOSE_RANGE_SCAN_MAX looked at; a connection among them stays
	 * tracked until an exec, the fd's reuse or the process's exit */
	STAT_UNSEEN_CLOSE_RANGE,
	/* not seen, counted (http only): sendmmsg and recvmmsg calls that
	 * moved bytes on a connection sonde tracks; their bytes are not read */
	STAT_UNSEEN_MMSG,
	STAT_COUNT
};

#endif
