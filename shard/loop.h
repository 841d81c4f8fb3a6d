/*
 * The shard worker's event loop: one thread, one io_uring.
 *
 * Create it in the thread that will run it, after fork and CPU pinning: the
 * ring is set up with IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN |
 * COOP_TASKRUN | TASKRUN_FLAG when the kernel has them (6.1+), else with
 * COOP_TASKRUN | TASKRUN_FLAG (5.19+), else plainly. Receives use a
 * registered provided-buffer ring (5.19+, required); accept and receive are
 * multishot where the kernel supports it (5.19 / 6.0) and fall back to
 * re-armed single-shot operations when the kernel answers -EINVAL.
 * rfx_loop_describe() says which path was taken, for the logs.
 *
 * Each turn (rfx_loop_turn):
 *   1. optionally sleep until a completion or the next timer (block idle);
 *   2. read the clocks once: CLOCK_MONOTONIC drives the timers (immune to
 *      NTP steps and leap smearing), CLOCK_REALTIME is kept beside it for
 *      FIX timestamps (SendingTime must be UTC wall time); both are vDSO
 *      reads, about 20 ns each, and callbacks must use these copies;
 *   3. reap every ready completion and run the socket callbacks;
 *   4. fire due timers;
 *   5. call the on_turn hook (the shard polls client rings and
 *      group-commits its store there);
 *   6. re-arm receives, issue the coalesced sends, finish closes, submit.
 *
 * Spin idle never enters the kernel while nothing is pending: the
 * TASKRUN_FLAG tells it when the kernel has completions to post (with
 * DEFER_TASKRUN they are only posted when the issuer asks), and it enters
 * then and only then. Sockets are struct rfx_conn (shard/conn.h).
 *
 * Single-threaded: every function here and in conn.h runs on the loop's
 * thread, except rfx_loop_stop() which may also be called from a signal
 * handler of that thread.
 */
#ifndef RFX_SHARD_LOOP_H
#define RFX_SHARD_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "shard/timer_wheel.h"

struct rfx_loop;

enum rfx_idle {
	RFX_IDLE_SPIN = 0,        /* busy-poll: lowest latency, burns the core */
	RFX_IDLE_SPIN_YIELD = 1,  /* spin, then sched_yield between empty turns */
	RFX_IDLE_BLOCK = 2,       /* sleep in io_uring_enter until I/O or a timer */
};

/* Options: force the fallback paths (tests, or kernels that misbehave). */
#define RFX_LOOP_F_NO_DEFER 1u       /* no SINGLE_ISSUER/DEFER_TASKRUN/COOP_TASKRUN */
#define RFX_LOOP_F_NO_MULTISHOT 2u   /* single-shot accept and receive */
#define RFX_LOOP_F_FALLBACK (RFX_LOOP_F_NO_DEFER | RFX_LOOP_F_NO_MULTISHOT)

/* What the loop ended up using (rfx_loop_features). */
#define RFX_LOOP_HAS_DEFER 1u        /* SINGLE_ISSUER + DEFER_TASKRUN */
#define RFX_LOOP_HAS_COOP 2u         /* COOP_TASKRUN + TASKRUN_FLAG */
#define RFX_LOOP_HAS_MS_ACCEPT 4u    /* multishot accept */
#define RFX_LOOP_HAS_MS_RECV 8u      /* multishot receive */

/* Zero means the default shown. */
struct rfx_loop_opts {
	unsigned entries;        /* submission queue entries (256); CQ is 4x */
	unsigned max_conns;      /* listeners + connections at once (1024) */
	unsigned buf_count;      /* provided receive buffers, power of two (512) */
	unsigned buf_size;       /* bytes per receive buffer (16384) */
	uint64_t tick_ns;        /* timer wheel tick (1 ms) */
	enum rfx_idle idle;      /* for rfx_loop_run (spin) */
	unsigned spin_turns;     /* spin-then-yield: empty turns before yielding (1000) */
	uint64_t block_max_ns;   /* block: longest sleep with no timer due (100 ms):
				    bounds how late on_turn sees work nothing
				    signals; to be woken at once, have the other
				    side write an eventfd the loop watches
				    (rfx_conn_watch) */
	unsigned flags;          /* RFX_LOOP_F_* */
	/* Called once per turn after timers; may use the whole API. */
	void (*on_turn)(struct rfx_loop *l, void *arg);
	/* Block idle, optional: called right before the loop sleeps with
	 * `sleeping` = 1 and returns < 0 to stay awake (work is pending), 0 to
	 * sleep up to block_max_ns, > 0 to sleep at most that many ns; called
	 * again with `sleeping` = 0 after the sleep (return ignored). Lets the
	 * caller announce its sleep to processes that can then wake it. */
	int64_t (*on_sleep)(struct rfx_loop *l, void *arg, int sleeping);
	void *arg;
};

/* Counters for metrics and tests; never reset. */
struct rfx_loop_stats {
	uint64_t turns, waits, cqes;
	uint64_t stray_cqes;         /* completions for a closed object (dropped) */
	uint64_t accepts, accept_refused, accept_errors;
	uint64_t recv_cqes, recv_bytes, recv_arms, recv_nobufs;
	uint64_t sends, send_bytes, partial_sends, tx_full;
	uint64_t tx_grows, tx_shrinks;  /* growable send buffers */
	uint64_t connects, connect_timeouts;
	uint64_t closes;
};

/* Create a loop. Returns 0 and sets *out; -EINVAL (bad options); -ENOMEM;
 * -ENOSYS or -EPERM (io_uring unavailable or forbidden here, e.g. by a
 * sandbox or kernel.io_uring_disabled); -EOPNOTSUPP (kernel without
 * provided-buffer rings); other negative errno from io_uring setup. */
int rfx_loop_new(struct rfx_loop **out, const struct rfx_loop_opts *opts);

/* Destroy the loop: the ring is torn down (which cancels anything still in
 * flight), then sockets still registered are closed without callbacks.
 * Close connections first to get their on_closed. NULL-safe. */
void rfx_loop_free(struct rfx_loop *l);

/* Turn flag: sleep until a completion, the next timer or block_max_ns. */
#define RFX_TURN_WAIT 1u

/* Run one turn (see the top of this file). Returns the number of events
 * handled (completions + timers fired; 0: idle turn) or a negative errno
 * from io_uring_enter that is not transient. */
int rfx_loop_turn(struct rfx_loop *l, unsigned flags);

/* Run turns with the configured idle strategy until rfx_loop_stop().
 * Returns 0, or the error of a failed turn. */
int rfx_loop_run(struct rfx_loop *l);

/* Make rfx_loop_run return after the current turn. */
void rfx_loop_stop(struct rfx_loop *l);

/* The clocks as read at the start of the current turn, in ns. */
uint64_t rfx_loop_now_mono(const struct rfx_loop *l);
uint64_t rfx_loop_now_real(const struct rfx_loop *l);

/* The loop's timer wheel, on CLOCK_MONOTONIC (rfx_loop_now_mono). */
struct rfx_timer_wheel *rfx_loop_timers(struct rfx_loop *l);

unsigned rfx_loop_features(const struct rfx_loop *l);
const struct rfx_loop_stats *rfx_loop_stats(const struct rfx_loop *l);

/* One line for the log: setup flags, accept/recv modes, buffer geometry.
 * Returns the length snprintf would have written. */
int rfx_loop_describe(const struct rfx_loop *l, char *buf, size_t len);

#endif
