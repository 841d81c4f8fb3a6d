/* The worker's wrappers around shm/server.h (see worker_shm.h). */
#include <errno.h>
#include <stddef.h>

#include "shm/server.h"
#include "shard/worker_shm.h"

_Static_assert((int)RFX_WK_DIR_DISCONNECTED == (int)RFX_SESSION_DISCONNECTED &&
	       (int)RFX_WK_DIR_CONNECTING == (int)RFX_SESSION_CONNECTING &&
	       (int)RFX_WK_DIR_LOGON_SENT == (int)RFX_SESSION_LOGON_SENT &&
	       (int)RFX_WK_DIR_ACTIVE == (int)RFX_SESSION_ACTIVE &&
	       (int)RFX_WK_DIR_LOGOUT_SENT == (int)RFX_SESSION_LOGOUT_SENT, "directory states");
_Static_assert((int)RFX_WK_DIR_F_TLS == (int)RFX_SESSION_INFO_TLS &&
	       (int)RFX_WK_DIR_F_HELD == (int)RFX_SESSION_INFO_HELD, "directory flags");
_Static_assert((int)RFX_WK_EV_LOGON == (int)RFX_EV_LOGON && (int)RFX_WK_EV_LOGOUT == (int)RFX_EV_LOGOUT &&
	       (int)RFX_WK_EV_DISCONNECT == (int)RFX_EV_DISCONNECT && (int)RFX_WK_EV_REJECT == (int)RFX_EV_REJECT &&
	       (int)RFX_WK_EV_REPLAY_DONE == (int)RFX_EV_REPLAY_DONE, "events");
_Static_assert((int)RFX_WK_MSG_POSSDUP == (int)RFX_MSG_POSSDUP && (int)RFX_WK_MSG_REPLAY == (int)RFX_MSG_REPLAY,
	       "message flags");
_Static_assert((int)RFX_WK_CTR_RING_FULL == (int)RFX_CTR_RING_FULL &&
	       (int)RFX_WK_CTR_CLIENT_PROTO_ERRORS == (int)RFX_CTR_CLIENT_PROTO_ERRORS, "counters");

/* One worker per process: the ops live here. */
static const struct rfx_wk_shm_ops *wk_ops;
static void *wk_ctx;

static void t_attach(void *ctx, uint32_t client, pid_t pid)
{
	if (wk_ops->on_attach)
		wk_ops->on_attach(ctx, client, (int)pid);
}

static void t_detach(void *ctx, uint32_t client, int reason, const char *why)
{
	if (wk_ops->on_detach)
		wk_ops->on_detach(ctx, client, reason, why);
}

static int t_bind(void *ctx, uint32_t client, uint32_t session, uint64_t replay_from)
{
	return wk_ops->on_bind ? wk_ops->on_bind(ctx, client, session, replay_from) : 0;
}

static void t_unbind(void *ctx, uint32_t client, uint32_t session)
{
	if (wk_ops->on_unbind)
		wk_ops->on_unbind(ctx, client, session);
}

static int t_send(void *ctx, uint32_t client, uint32_t session, uint64_t tag, const char *body,
		  uint32_t len)
{
	return wk_ops->on_send ? wk_ops->on_send(ctx, client, session, tag, body, len) : 0;
}

static const struct rfx_server_ops server_ops = {
	.on_attach = t_attach,
	.on_detach = t_detach,
	.on_bind = t_bind,
	.on_unbind = t_unbind,
	.on_send = t_send,
};

int rfx_wk_shm_new(struct rfx_server **out, const char *instance, uint32_t shard,
		   uint32_t shard_count, uint32_t max_sessions, uint64_t ring_to_shard,
		   uint64_t ring_to_client)
{
	struct rfx_server_params p = {
		.instance = instance,
		.shard = shard,
		.seg = {
			.shard_count = shard_count,
			.max_sessions = max_sessions ? max_sessions : 1,
			.max_clients = 16,
			.ring_to_shard = ring_to_shard ? ring_to_shard : (1u << 20),
			.ring_to_client = ring_to_client ? ring_to_client : (1u << 20),
		},
	};
	return rfx_server_new(out, &p);
}

void rfx_wk_shm_set_ops(const struct rfx_wk_shm_ops *ops, void *ctx)
{
	wk_ops = ops;
	wk_ctx = ctx;
}

int rfx_wk_shm_reap(struct rfx_server *s)
{
	return rfx_server_reap(s, &server_ops, wk_ctx);
}

int rfx_wk_shm_poll(struct rfx_server *s, unsigned budget)
{
	return rfx_server_poll(s, &server_ops, wk_ctx, budget);
}

void rfx_wk_shm_count(struct rfx_server *s, int ctr, uint64_t n)
{
	rfx_seg_count(rfx_server_seg(s), (enum rfx_counter)ctr, n);
}

struct rfx_mailbox *rfx_wk_shm_mailbox(struct rfx_server *s)
{
	return &rfx_server_seg(s)->hdr->mailbox;
}
