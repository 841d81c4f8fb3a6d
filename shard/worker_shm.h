/*
 * Private to shard/worker*.c: the worker's view of shm/server.h. The server
 * header brings the client library's public names (enum rfx_session_state,
 * RFX_IDLE_*), which collide with the session machine's and the loop's, so
 * the worker reaches the server through these thin wrappers.
 */
#ifndef RFX_SHARD_WORKER_SHM_H
#define RFX_SHARD_WORKER_SHM_H

#include <stdint.h>

struct rfx_server;

/* Directory states and client events, as ringfix.h numbers them (checked
 * in worker_shm.c). */
enum {
	RFX_WK_DIR_DISCONNECTED = 1,
	RFX_WK_DIR_CONNECTING = 2,
	RFX_WK_DIR_LOGON_SENT = 3,
	RFX_WK_DIR_ACTIVE = 4,
	RFX_WK_DIR_LOGOUT_SENT = 5,
};
enum { RFX_WK_DIR_F_TLS = 1, RFX_WK_DIR_F_HELD = 2 };   /* directory entry flags */
enum {
	RFX_WK_EV_LOGON = 4,
	RFX_WK_EV_LOGOUT = 5,
	RFX_WK_EV_DISCONNECT = 6,
	RFX_WK_EV_REJECT = 7,
	RFX_WK_EV_REPLAY_DONE = 8,
};
enum { RFX_WK_MSG_POSSDUP = 1, RFX_WK_MSG_REPLAY = 2 };
enum {
	RFX_WK_CTR_MSGS_IN, RFX_WK_CTR_MSGS_OUT, RFX_WK_CTR_BYTES_IN, RFX_WK_CTR_BYTES_OUT,
	RFX_WK_CTR_REJECTS, RFX_WK_CTR_RESENDS, RFX_WK_CTR_RING_FULL,
	RFX_WK_CTR_CLIENTS_ATTACHED, RFX_WK_CTR_CLIENTS_REAPED, RFX_WK_CTR_CLIENT_PROTO_ERRORS,
};

struct rfx_wk_shm_ops {
	void (*on_attach)(void *ctx, uint32_t client, int pid);
	void (*on_detach)(void *ctx, uint32_t client, int reason, const char *why);
	int (*on_bind)(void *ctx, uint32_t client, uint32_t session, uint64_t replay_from);
	void (*on_unbind)(void *ctx, uint32_t client, uint32_t session);
	int (*on_send)(void *ctx, uint32_t client, uint32_t session, uint64_t tag,
		       const char *body, uint32_t len);
};

int rfx_wk_shm_new(struct rfx_server **out, const char *instance, uint32_t shard,
		   uint32_t shard_count, uint32_t max_sessions, uint64_t ring_to_shard,
		   uint64_t ring_to_client);
/* Sets the ops used by reap and poll. */
void rfx_wk_shm_set_ops(const struct rfx_wk_shm_ops *ops, void *ctx);
int rfx_wk_shm_reap(struct rfx_server *s);
int rfx_wk_shm_poll(struct rfx_server *s, unsigned budget);
void rfx_wk_shm_count(struct rfx_server *s, int ctr, uint64_t n);
/* The segment's command mailbox (shm/mailbox.h). */
struct rfx_mailbox *rfx_wk_shm_mailbox(struct rfx_server *s);

/* Plain-typed server calls, declared exactly as in shm/server.h (the
 * compiler checks the two agree in worker_shm.c, which sees both). */
int rfx_server_session_add(struct rfx_server *s, const char *id);
void rfx_server_session_update(struct rfx_server *s, uint32_t session, uint32_t state,
			       uint64_t next_sender_seq, uint64_t next_target_seq, int64_t now_ns);
void rfx_server_session_flags(struct rfx_server *s, uint32_t session, uint32_t flags);
int rfx_server_session_client(const struct rfx_server *s, uint32_t session);
void rfx_server_heartbeat(struct rfx_server *s, int64_t now_ns);
int rfx_server_deliver(struct rfx_server *s, uint32_t client, uint32_t session,
		       uint64_t seq, uint32_t flags, int64_t recv_ns,
		       const char *raw, uint32_t len);
int rfx_server_event(struct rfx_server *s, uint32_t client, uint32_t session,
		     uint32_t event, int32_t code, uint64_t seq, const char *text);
int rfx_server_send_failed(struct rfx_server *s, uint32_t client, uint32_t session,
			   uint64_t tag, int32_t reason);
void rfx_server_flush(struct rfx_server *s);
void rfx_server_free(struct rfx_server *s);
int rfx_server_wake_fd(const struct rfx_server *s);
int rfx_server_sleep(struct rfx_server *s);
void rfx_server_awake(struct rfx_server *s);
int rfx_server_wake_drain(struct rfx_server *s);

#endif
