/*
 * Initiator reconnect: connect attempts across failover hosts with
 * exponential backoff, on the loop's timer wheel.
 *
 * Policy (QuickFIX's SocketConnectHost<n>/SocketConnectPort<n> and
 * ReconnectInterval, made safer for venues):
 *  - attempts go through the hosts in order, the next one right after a
 *    failure, so a dead primary costs one connect timeout, not a wait;
 *  - when a whole round has failed, wait the backoff before the next round,
 *    starting at min_ns and doubling up to max_ns, plus up to 25% jitter so
 *    many sessions cut off together do not reconnect in lockstep;
 *  - after a connection is lost, start again from the primary after the
 *    current backoff. The backoff only resets when the caller reports the
 *    session established (Logon done): a venue that accepts TCP and drops it
 *    at once is not hammered.
 *
 * The caller keeps its own conn callbacks and forwards two events:
 * rfx_reconnect_connected() from on_connect and rfx_reconnect_lost() from
 * on_closed of an opened connection. Caller storage; no allocation.
 */
#ifndef RFX_SHARD_RECONNECT_H
#define RFX_SHARD_RECONNECT_H

#include <stdint.h>
#include <sys/socket.h>

#include "shard/conn.h"
#include "shard/loop.h"
#include "shard/timer_wheel.h"

#define RFX_RECONNECT_MAX_HOSTS 8

struct rfx_reconnect;

/* Called before each attempt (for the log): host index and when. */
typedef void (*rfx_reconnect_fn)(struct rfx_reconnect *r, unsigned host);

struct rfx_reconnect_opts {
	struct sockaddr_storage hosts[RFX_RECONNECT_MAX_HOSTS];
	socklen_t lens[RFX_RECONNECT_MAX_HOSTS];
	unsigned nhosts;
	uint64_t connect_timeout_ns;   /* per attempt (0: 10 s) */
	uint64_t min_ns;               /* first backoff, ReconnectInterval (0: 1 s) */
	uint64_t max_ns;               /* backoff cap (0: 30 s) */
	rfx_reconnect_fn on_attempt;   /* may be NULL */
	void *user;
};

struct rfx_reconnect {
	struct rfx_reconnect_opts o;
	struct rfx_loop *loop;
	struct rfx_conn *conn;
	struct rfx_timer timer;
	uint64_t backoff;      /* next round's wait */
	uint64_t rng;
	unsigned host;         /* next host to try */
	unsigned tried;        /* failures in the current round */
	int running;
	uint64_t attempts, rounds_failed;
};

/* Bind a reconnector to a loop and an idle conn (whose on_connect and
 * on_closed forward to the functions below). Returns 0 or -EINVAL (no
 * hosts, too many, min > max). */
int rfx_reconnect_init(struct rfx_reconnect *r, struct rfx_loop *l, struct rfx_conn *c,
		       const struct rfx_reconnect_opts *o);

/* Start attempting now (first host). Returns 0 or -EALREADY. */
int rfx_reconnect_start(struct rfx_reconnect *r);

/* Stop: no further attempts (an attempt in flight still reports through
 * on_connect; close the conn to abort it). */
void rfx_reconnect_stop(struct rfx_reconnect *r);

/* From on_connect: result 0 means connected (attempts pause until lost),
 * else try the next host or back off. */
void rfx_reconnect_connected(struct rfx_reconnect *r, int result);

/* From on_closed of a connection that had opened. */
void rfx_reconnect_lost(struct rfx_reconnect *r);

/* The session is established: the next loss waits only min_ns. */
void rfx_reconnect_established(struct rfx_reconnect *r);

#endif
