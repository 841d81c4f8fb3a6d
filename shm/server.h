/*
 * The shard's side of the client rings: owns the shard's segment, accepts
 * and reaps clients, reads and validates what they write, and pushes
 * deliveries, events and send failures to them.
 *
 * One shard thread calls everything here. Hot path (poll, deliver, event,
 * send_failed, flush, heartbeat): no allocation, no lock, no system call
 * except a futex wake when a client sleeps. Cold path (new, reap, free):
 * system calls and allocation allowed. Nothing here prints; every client
 * detach is reported through on_detach with a reason for the shard to log.
 *
 * A client is a slot index (0 .. max_clients-1); a session is its index in
 * this shard's directory (0 .. max_sessions-1).
 */
#ifndef RFX_SHM_SERVER_H
#define RFX_SHM_SERVER_H

#include <stdint.h>
#include <sys/types.h>

#include "shm/segment.h"

struct rfx_server;

struct rfx_server_params {
	const char *instance;
	uint32_t shard;
	struct rfx_seg_params seg;
	int64_t client_stale_ns;  /* heartbeat age that triggers a pid check; 0: 1 s */
};

/* Callbacks from rfx_server_poll and rfx_server_reap. NULL ones are skipped
 * (a NULL on_bind / on_send accepts). Body pointers point into the client's
 * ring: the client can still scribble on them, so copy before trusting. */
struct rfx_server_ops {
	void (*on_attach)(void *ctx, uint32_t client, pid_t pid);
	/* reason: 0 clean detach, RFX_EDEAD died, RFX_EPROTO misbehaved. */
	void (*on_detach)(void *ctx, uint32_t client, int reason, const char *why);
	/* Return 0 to accept (an RFX_EV_BOUND event is sent), < 0 to refuse
	 * (RFX_EV_BIND_FAILED with that code). Start the replay after
	 * rfx_server_poll returns, not from here, so BOUND comes first. */
	int (*on_bind)(void *ctx, uint32_t client, uint32_t session, uint64_t replay_from);
	void (*on_unbind)(void *ctx, uint32_t client, uint32_t session);
	/* Return 0 when the message was taken, < 0 to report a send failure
	 * (e.g. RFX_ESTATE: not logged on) back to the client. */
	int (*on_send)(void *ctx, uint32_t client, uint32_t session, uint64_t tag,
		       const char *body, uint32_t len);
	void (*on_ack)(void *ctx, uint32_t client, uint32_t session, uint64_t seq);
};

/* Create the segment (taking over after a previous shard process of this
 * instance/shard died, with generation + 1). Returns 0, -EINVAL, -ENOMEM,
 * -EBUSY (a live shard owns it) or errors of rfx_seg_create. Cold. */
int rfx_server_new(struct rfx_server **out, const struct rfx_server_params *prm);

/* Remove the segment and free. NULL-safe. Cold. */
void rfx_server_free(struct rfx_server *s);

struct rfx_seg *rfx_server_seg(struct rfx_server *s);

/* Add a session to the directory (state DISCONNECTED). Returns its index,
 * -EINVAL (bad ID), -EEXIST, -ENOSPC (directory full). Cold. */
int rfx_server_session_add(struct rfx_server *s, const char *id);

/* Publish a session's state and sequence numbers (seqlock). Hot. */
void rfx_server_session_update(struct rfx_server *s, uint32_t session, uint32_t state,
			       uint64_t next_sender_seq, uint64_t next_target_seq, int64_t now_ns);

/* Set a session's RFX_SESSION_INFO_* flags (after add). Cold. */
void rfx_server_session_flags(struct rfx_server *s, uint32_t session, uint32_t flags);

/* Client bound to a session, or -1. */
int rfx_server_session_client(const struct rfx_server *s, uint32_t session);

/* Liveness for clients: store `now_ns` (CLOCK_MONOTONIC). Hot. */
void rfx_server_heartbeat(struct rfx_server *s, int64_t now_ns);

/* Accept newly attached clients; detect dead, closed and stale ones and
 * reclaim their slots with fresh rings. Call every few milliseconds (cold:
 * /proc reads, pidfd). Returns the number of clients now attached. */
int rfx_server_reap(struct rfx_server *s, const struct rfx_server_ops *ops, void *ctx);

/* Read up to `budget` records from each client ring, validate and dispatch
 * them. A client that wrote anything impossible is detached (on_detach
 * with RFX_EPROTO and a reason); the others carry on. Returns records
 * handled. Hot. */
int rfx_server_poll(struct rfx_server *s, const struct rfx_server_ops *ops, void *ctx,
		    unsigned budget);

/* Queue an inbound application message for a client (published by
 * rfx_server_flush). Returns 0; RFX_EFULL (pause this client's delivery and
 * resume from the store); -EINVAL; RFX_ENOTBOUND (client gone); -EMSGSIZE.
 * Hot. */
int rfx_server_deliver(struct rfx_server *s, uint32_t client, uint32_t session,
		       uint64_t seq, uint32_t flags, int64_t recv_ns,
		       const char *raw, uint32_t len);

/* Queue a session event / a send failure. Same returns. Hot. */
int rfx_server_event(struct rfx_server *s, uint32_t client, uint32_t session,
		     uint32_t event, int32_t code, uint64_t seq, const char *text);
int rfx_server_send_failed(struct rfx_server *s, uint32_t client, uint32_t session,
			   uint64_t tag, int32_t reason);

/* Publish everything queued, once per loop turn. Hot. */
void rfx_server_flush(struct rfx_server *s);

/* Block idle. The shard creates a unix datagram socket at
 * rfx_seg_wake_addr (rfx_server_wake_fd: the fd, or -errno when that failed
 * and the shard must rely on bounded sleeps); clients send it a datagram
 * after a publish when the segment says the shard sleeps.
 *
 * rfx_server_sleep: call right before sleeping. Sets `sleeping`, then looks
 * at every client ring once more; returns 1 (flag cleared again) when one
 * has unread records, so the caller must not sleep; 0: go to sleep.
 * rfx_server_awake: call after the sleep, whatever ended it.
 * rfx_server_wake_drain: call when the wake fd polls readable; reads every
 * pending datagram, counts one RFX_CTR_WAKEUPS, returns how many it read.
 * Shard thread; the sleep check costs one fence and a load per client. */
int rfx_server_wake_fd(const struct rfx_server *s);
int rfx_server_sleep(struct rfx_server *s);
void rfx_server_awake(struct rfx_server *s);
int rfx_server_wake_drain(struct rfx_server *s);

/* Cut a client off: its slot shows RFX_SLOT_DETACHED and `reason`; the slot is
 * reclaimed once the client process detaches or dies. Reports on_detach. */
void rfx_server_detach(struct rfx_server *s, uint32_t client, int reason, const char *why,
		       const struct rfx_server_ops *ops, void *ctx);

#endif
