/*
 * A socket on a shard loop (shard/loop.h): a listener or a TCP connection
 * (or any pollable fd being watched, see rfx_conn_watch).
 *
 * The caller owns the struct and its send buffer and must keep both alive
 * from the first call that registers it with a loop (listen, connect,
 * adoption via on_accept) until its on_closed (or a failed on_connect) has
 * run; after that the struct is idle and may be reused or freed. A closing
 * socket cancels its pending operations and is only released when the last
 * of their completions has arrived, so no completion can touch reused
 * memory; completions are also tagged with a per-slot generation, and one
 * that does not match (it cannot, barring bugs) is counted and dropped.
 *
 * Receive: on_data gets bytes borrowed from a provided buffer; they are
 * valid only during the callback (copy what must outlive it) and the buffer
 * goes back to the kernel right after.
 *
 * Send: bytes are appended whole to the caller-sized send buffer; at most
 * one send is in flight per socket, and whatever is appended meanwhile (or
 * in the same turn) leaves in the next single send. Short sends are resumed.
 * When the buffer cannot take a message, the append fails with RFX_ETXFULL
 * and on_sendable is called once the in-flight send has completed. No
 * allocation or system call per message: the send is submitted with the
 * turn's other I/O.
 *
 * Every socket gets TCP_NODELAY (a FIX message must leave now, not wait for
 * an ACK); listeners get SO_REUSEADDR. IPv4 and IPv6.
 *
 * Struct layout is public only so the caller can embed it; the fields
 * after `tx_cap` belong to the loop.
 */
#ifndef RFX_SHARD_CONN_H
#define RFX_SHARD_CONN_H

#include <stdint.h>
#include <sys/socket.h>
#include <linux/time_types.h>

struct rfx_loop;
struct rfx_conn;

struct rfx_conn_ops {
	/* Listener: a connection arrived as `fd` (TCP_NODELAY set). Return an
	 * idle conn (rfx_conn_init) to adopt it, or NULL to refuse it (the
	 * loop closes fd). The adopted conn is open: it may send at once. */
	struct rfx_conn *(*on_accept)(struct rfx_conn *listener, int fd);
	/* Result of rfx_conn_connect: 0 (open), -ETIMEDOUT, or the negative
	 * errno of the connect (-ECONNREFUSED, -ENETUNREACH, ...). After a
	 * failure the conn is idle again and may be reused at once. */
	void (*on_connect)(struct rfx_conn *c, int result);
	/* Received bytes, borrowed for the duration of the call. */
	void (*on_data)(struct rfx_conn *c, const uint8_t *p, uint32_t n);
	/* A send completed after an append failed with RFX_ETXFULL. */
	void (*on_sendable)(struct rfx_conn *c);
	/* The socket is closed and released; `reason` is what was passed to
	 * rfx_conn_close, RFX_EPEERCLOSED for an orderly close by the peer, or
	 * the negative errno of a failed receive or send (-ECONNRESET, ...). */
	void (*on_closed)(struct rfx_conn *c, int reason);
	/* Watch (rfx_conn_watch): the fd is ready; `revents` are poll bits.
	 * The callback must consume the readiness (read the eventfd...). */
	void (*on_ready)(struct rfx_conn *c, unsigned revents);
};

struct rfx_conn {
	const struct rfx_conn_ops *ops;
	void *user;
	uint8_t *tx_buf;
	uint32_t tx_cap;
	/* Loop-private from here on. */
	struct rfx_loop *loop;
	struct rfx_conn *tx_next, *arm_next, *done_next;
	int fd;
	uint32_t slot, gen;
	uint32_t tx_head, tx_tail, tx_inflight;
	uint16_t state, pend, flags;
	uint16_t events;                  /* watch: poll mask */
	int close_reason;
	socklen_t peer_len;
	struct sockaddr_storage peer;     /* connect: read by the kernel at submit */
	struct __kernel_timespec cto;     /* connect timeout, likewise */
	uint8_t *tx_old;                  /* growable: buffer a send still reads */
	uint32_t tx_min, tx_max;          /* growable: sizes */
};

/* Prepare an idle conn. `tx_buf` (tx_cap bytes) is the send buffer; a
 * listener needs none. `ops` must outlive the conn; callbacks left NULL are
 * not called. */
void rfx_conn_init(struct rfx_conn *c, const struct rfx_conn_ops *ops, void *user,
		   uint8_t *tx_buf, uint32_t tx_cap);

/* Let the conn own a growable send buffer instead of the caller's (call on
 * an idle conn, after rfx_conn_init; the tx_buf given there is not used).
 * Nothing is allocated until the first send; the buffer starts at `min`
 * bytes, doubles up to `max` when a message does not fit (also while a send
 * is in flight: the old buffer is freed when that send completes), returns
 * to `min` once everything queued has been sent, and is freed when the
 * socket is released. Memory thus follows what is queued, not the worst
 * case. RFX_ETXFULL and -EMSGSIZE then refer to `max`; -ENOMEM when an
 * allocation fails. Returns 0 or -EINVAL (min 0 or above max, or not idle). */
int rfx_conn_tx_growable(struct rfx_conn *c, uint32_t min, uint32_t max);

/* Open a listening socket on `addr` and start accepting. Port 0 picks a
 * free port (rfx_conn_local_port). Returns 0; -EBUSY (c not idle);
 * RFX_ECONNLIMIT (loop full); or the negative errno of socket/bind/listen. */
int rfx_conn_listen(struct rfx_loop *l, struct rfx_conn *c, const struct sockaddr *addr,
		    socklen_t len, int backlog);

/* Start connecting to `addr`; on_connect reports the result within
 * `timeout_ns` (0: no timeout beyond the kernel's SYN retries). Returns 0
 * (pending); -EBUSY (c not idle, or the submission queue is stuck:
 * retry next turn); -EINVAL; RFX_ECONNLIMIT; or the negative errno of
 * socket(). */
int rfx_conn_connect(struct rfx_loop *l, struct rfx_conn *c, const struct sockaddr *addr,
		     socklen_t len, uint64_t timeout_ns);

/* Adopt an already connected stream socket (it gets TCP_NODELAY if TCP).
 * The loop owns fd from then on. Returns 0; -EBUSY; RFX_ECONNLIMIT. */
int rfx_conn_adopt(struct rfx_loop *l, struct rfx_conn *c, int fd);

/* Watch any pollable fd (an eventfd other processes write to wake a
 * blocking loop, a signalfd, a timerfd): on_ready is called each time it
 * polls ready for `events` (POLLIN...). The loop owns fd from then on and
 * closes it on rfx_conn_close. Returns 0; -EBUSY; -EINVAL; RFX_ECONNLIMIT. */
int rfx_conn_watch(struct rfx_loop *l, struct rfx_conn *c, int fd, unsigned events);

/* Queue `n` bytes, all or nothing. Returns 0; RFX_ETXFULL (no room until
 * the in-flight send completes: wait for on_sendable); -EMSGSIZE (n larger
 * than the whole buffer); -ENOTCONN (not open, or closing); -ENOMEM (a
 * growable buffer could not grow). */
int rfx_conn_send(struct rfx_conn *c, const void *p, uint32_t n);

/* Zero-copy variant: room for `n` contiguous bytes at the end of the send
 * queue, or NULL (same conditions as rfx_conn_send's errors). Fill it, then
 * rfx_conn_commit(c, m) with m <= n; nothing else may touch c in between. */
uint8_t *rfx_conn_reserve(struct rfx_conn *c, uint32_t n);
void rfx_conn_commit(struct rfx_conn *c, uint32_t n);

/* Bytes queued and not yet acknowledged by a send completion: the
 * backpressure figure. */
static inline uint32_t rfx_conn_queued(const struct rfx_conn *c)
{
	return c->tx_tail - c->tx_head;
}

/* The largest message a send can take: the growable cap, else the buffer. */
static inline uint32_t rfx_conn_tx_max(const struct rfx_conn *c)
{
	return c->tx_max ? c->tx_max : c->tx_cap;
}

/* Close: cancel pending operations, then release the socket and call
 * on_closed(c, reason) from the loop once they have all completed. Bytes
 * still queued are dropped (see rfx_conn_close_flush). Returns 0, or
 * -EALREADY if the conn is idle or already closing. */
int rfx_conn_close(struct rfx_conn *c, int reason);

/* Close once everything queued has been sent (e.g. after a Logout), or at
 * once if nothing is queued. A peer that stops reading keeps the socket
 * open: bound the wait with a timer and rfx_conn_close. */
int rfx_conn_close_flush(struct rfx_conn *c, int reason);

/* The local port of a bound socket (host order), or a negative errno. */
int rfx_conn_local_port(const struct rfx_conn *c);

enum rfx_conn_state {
	RFX_CONN_IDLE = 0,
	RFX_CONN_LISTENING,
	RFX_CONN_CONNECTING,
	RFX_CONN_OPEN,
	RFX_CONN_CLOSING,
	RFX_CONN_WATCHING,
};

static inline enum rfx_conn_state rfx_conn_state(const struct rfx_conn *c)
{
	return (enum rfx_conn_state)c->state;
}

#endif
