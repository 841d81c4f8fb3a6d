/* Internals shared by shard/loop.c and shard/conn.c; not a public header. */
#ifndef RFX_SHARD_LOOP_PRIVATE_H
#define RFX_SHARD_LOOP_PRIVATE_H

#include <liburing.h>
#include <stdbool.h>

#include "shard/conn.h"
#include "shard/loop.h"

/* user_data: generation (32) | slot (24) | op (8). Generations start at 1,
 * so 0 never names a socket: it marks completions nobody waits for
 * (cancels, linked timeouts). */
#define UD_IGNORE 0ull
enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3, OP_CONNECT = 4, OP_POLL = 5 };
#define MAX_SLOTS (1u << 24)

/* conn->pend: operations whose final completion has not arrived yet. */
#define P_ACCEPT (1u << 0)
#define P_RECV (1u << 1)
#define P_SEND (1u << 2)
#define P_CONNECT (1u << 3)
#define P_POLL (1u << 4)

/* conn->flags */
#define F_TXQ (1u << 0)          /* on loop->tx_list */
#define F_ARMQ (1u << 1)         /* on loop->arm_list */
#define F_DONEQ (1u << 2)        /* on loop->done_list */
#define F_WANT_SENDABLE (1u << 3)
#define F_LISTENER (1u << 4)
#define F_CLOSE_FLUSH (1u << 5)  /* close when the send queue drains */
#define F_SINGLE_RECV (1u << 6)  /* recv armed single-shot */
#define F_SINGLE_ACCEPT (1u << 7)
#define F_TX_OWNED (1u << 8)     /* growable send buffer (rfx_conn_tx_growable) */

struct rfx_slot {
	struct rfx_conn *conn;
	uint32_t gen;
};

struct rfx_loop {
	struct io_uring ring;
	struct rfx_loop_opts o;
	unsigned features;
	unsigned setup_flags;

	/* Provided receive buffers: buf_count * buf_size bytes, group 0. */
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	uint8_t *bufs;
	size_t bufs_bytes;
	int buf_mask;

	struct rfx_slot *slots;
	uint32_t *free_slots;
	uint32_t nfree;

	/* Work for the end of the turn, singly linked through the conns. */
	struct rfx_conn *tx_list, *arm_list, *done_list;

	struct rfx_timer_wheel wheel;
	uint64_t now_mono, now_real;
	unsigned idle_turns;
	volatile int stop;
	struct rfx_loop_stats st;
};

static inline uint64_t rfx_ud(const struct rfx_conn *c, unsigned op)
{
	return (uint64_t)c->gen << 32 | (uint64_t)c->slot << 8 | op;
}

/* An SQE, submitting first if the queue is full; NULL only if the kernel
 * refuses the submission too. */
struct io_uring_sqe *rfx_loop_sqe(struct rfx_loop *l);

int rfx_loop_slot_alloc(struct rfx_loop *l, struct rfx_conn *c);
void rfx_loop_slot_free(struct rfx_loop *l, struct rfx_conn *c);
void rfx_loop_return_buf(struct rfx_loop *l, unsigned bid);

/* conn.c: completion dispatch and the end-of-turn passes. */
void rfx_conn_complete(struct rfx_loop *l, struct rfx_conn *c, unsigned op,
		       const struct io_uring_cqe *cqe);
void rfx_conn_flush(struct rfx_loop *l);
/* Free a growable send buffer (no send may be in flight). */
void rfx_conn_drop_tx(struct rfx_conn *c);

#endif
