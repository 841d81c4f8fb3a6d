#include "shm/server.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine/error.h"
#include "shm/protocol.h"

struct client {
	int active;               /* we serve it */
	int detached;             /* we cut it off; waiting for it to go */
	pid_t pid;
	uint64_t start;
	int pidfd;                /* -1: fall back to /proc start time */
	uint32_t gen;
	int dirty;                /* out ring has unpublished records */
	int draining;             /* gone: replies no longer matter */
	int dead;                 /* found dead outside reap: reclaim after this poll */
	uint64_t hb_last;         /* last heartbeat value seen, and when */
	int64_t hb_seen_ns;
	struct rfx_ring_consumer in;
	struct rfx_ring_producer out;
};

struct rfx_server {
	struct rfx_seg seg;
	int64_t stale_ns;
	uint32_t nsessions;       /* directory entries in use */
	int32_t *session_client;  /* per session: bound client or -1 */
	struct client *clients;
	uint32_t *active;         /* indices of active clients, for the hot loop */
	uint32_t nactive;
	uint32_t ndead;           /* clients marked dead, reclaimed at the end of poll */
	int wake_fd;              /* block idle: clients' datagrams end our sleep; < 0: -errno */
	char why[160];
};

static void drain(struct rfx_server *s, uint32_t ci, const struct rfx_server_ops *ops,
		  void *ctx);

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* The wake socket; a failure (say the name is taken) is not fatal: the
 * shard then wakes only on its own timeouts. Returns the fd or -errno. */
static int wake_open(const char *instance, uint32_t shard)
{
	struct sockaddr_un a;
	int len = rfx_seg_wake_addr(&a, instance, shard), fd, rc;

	if (len < 0)
		return len;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, (socklen_t)len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int rfx_server_new(struct rfx_server **out, const struct rfx_server_params *prm)
{
	struct rfx_server *s;
	int rc;

	if (!out || !prm)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	rc = rfx_seg_create(&s->seg, prm->instance, prm->shard, &prm->seg);
	if (rc < 0)
		goto err_free;
	s->stale_ns = prm->client_stale_ns > 0 ? prm->client_stale_ns : 1000000000;
	s->session_client = malloc(s->seg.max_sessions * sizeof(int32_t));
	s->clients = calloc(s->seg.max_clients, sizeof(struct client));
	s->active = calloc(s->seg.max_clients, sizeof(uint32_t));
	if (!s->session_client || !s->clients || !s->active) {
		rc = -ENOMEM;
		goto err_seg;
	}
	for (uint32_t i = 0; i < s->seg.max_sessions; i++)
		s->session_client[i] = -1;
	for (uint32_t i = 0; i < s->seg.max_clients; i++)
		s->clients[i].pidfd = -1;
	s->wake_fd = wake_open(prm->instance, prm->shard);
	*out = s;
	return 0;

err_seg:
	free(s->active);
	free(s->clients);
	free(s->session_client);
	rfx_seg_close(&s->seg);
err_free:
	free(s);
	return rc;
}

void rfx_server_free(struct rfx_server *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->seg.max_clients; i++)
		if (s->clients[i].pidfd >= 0)
			close(s->clients[i].pidfd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	rfx_seg_close(&s->seg);
	free(s->active);
	free(s->clients);
	free(s->session_client);
	free(s);
}

struct rfx_seg *rfx_server_seg(struct rfx_server *s)
{
	return &s->seg;
}

int rfx_server_session_add(struct rfx_server *s, const char *id)
{
	struct rfx_session_info info;

	if (rfx_session_id_check(id) < 0)
		return -EINVAL;
	if (rfx_seg_dir_find(&s->seg, id) >= 0)
		return -EEXIST;
	if (s->nsessions >= s->seg.max_sessions)
		return -ENOSPC;
	memset(&info, 0, sizeof(info));
	strcpy(info.id, id);
	info.state = RFX_SESSION_DISCONNECTED;
	info.next_sender_seq = 1;
	info.next_target_seq = 1;
	rfx_seg_dir_write(&s->seg, s->nsessions, &info);
	return (int)s->nsessions++;
}

void rfx_server_session_update(struct rfx_server *s, uint32_t session, uint32_t state,
			       uint64_t next_sender_seq, uint64_t next_target_seq, int64_t now_ns)
{
	struct rfx_session_info info;

	if (session >= s->nsessions || rfx_seg_dir_read(&s->seg, session, &info) < 0)
		return;
	info.state = state;
	info.next_sender_seq = next_sender_seq;
	info.next_target_seq = next_target_seq;
	info.updated_ns = (uint64_t)now_ns;
	rfx_seg_dir_write(&s->seg, session, &info);
}

void rfx_server_session_flags(struct rfx_server *s, uint32_t session, uint32_t flags)
{
	struct rfx_session_info info;

	if (session >= s->nsessions || rfx_seg_dir_read(&s->seg, session, &info) < 0)
		return;
	info.flags = flags;
	rfx_seg_dir_write(&s->seg, session, &info);
}

int rfx_server_session_client(const struct rfx_server *s, uint32_t session)
{
	return session < s->seg.max_sessions ? s->session_client[session] : -1;
}

void rfx_server_heartbeat(struct rfx_server *s, int64_t now_ns)
{
	atomic_store_explicit(&s->seg.hdr->heartbeat_ns, (uint64_t)now_ns, memory_order_relaxed);
}

/* ---- block idle: sleeping and being woken ------------------------------- */

int rfx_server_wake_fd(const struct rfx_server *s)
{
	return s->wake_fd;
}

int rfx_server_sleep(struct rfx_server *s)
{
	if (s->wake_fd < 0)
		return 0;
	atomic_store_explicit(&s->seg.hdr->sleeping, 1, memory_order_relaxed);
	/* Dekker pattern with the client's publish (client.c, kick): we store
	 * `sleeping` then load each tail; a client stores its tail then loads
	 * `sleeping`. With a seq_cst fence between store and load on both
	 * sides, at least one sees the other: we find its records and stay
	 * awake, or it finds us asleep and sends the datagram. */
	atomic_thread_fence(memory_order_seq_cst);
	for (uint32_t k = 0; k < s->nactive; k++) {
		struct rfx_ring_consumer *in = &s->clients[s->active[k]].in;

		if (in->tail_cache != in->head ||
		    atomic_load_explicit(&in->shm->tail, memory_order_relaxed) != in->head) {
			atomic_store_explicit(&s->seg.hdr->sleeping, 0, memory_order_relaxed);
			return 1;
		}
	}
	return 0;
}

void rfx_server_awake(struct rfx_server *s)
{
	atomic_store_explicit(&s->seg.hdr->sleeping, 0, memory_order_relaxed);
}

int rfx_server_wake_drain(struct rfx_server *s)
{
	char b[16];
	int n = 0;

	if (s->wake_fd < 0)
		return 0;
	while (recv(s->wake_fd, b, sizeof(b), 0) >= 0)
		n++;
	if (n)
		rfx_seg_count(&s->seg, RFX_CTR_WAKEUPS, 1);
	return n;
}

/* ---- client lifecycle (cold) ------------------------------------------- */

static void drop_active(struct rfx_server *s, uint32_t ci)
{
	for (uint32_t k = 0; k < s->nactive; k++) {
		if (s->active[k] == ci) {
			s->active[k] = s->active[--s->nactive];
			break;
		}
	}
}

static void forget(struct rfx_server *s, uint32_t ci)
{
	struct client *c = &s->clients[ci];

	if (c->active)
		drop_active(s, ci);
	for (uint32_t i = 0; i < s->nsessions; i++)
		if (s->session_client[i] == (int32_t)ci)
			s->session_client[i] = -1;
	if (c->pidfd >= 0)
		close(c->pidfd);
	memset(c, 0, sizeof(*c));
	c->pidfd = -1;
}

/* Fresh rings, new generation, FREE last: a ring a dead or detached client
 * wrote is never handed to the next client as it is. */
static void reclaim(struct rfx_server *s, uint32_t ci)
{
	struct rfx_slot_ctl *sl = rfx_seg_slot(&s->seg, ci);
	uint32_t gen = atomic_load_explicit(&sl->gen, memory_order_relaxed) + 1;

	forget(s, ci);
	atomic_store_explicit(&sl->reason, 0, memory_order_relaxed);
	atomic_store_explicit(&sl->client_start, 0, memory_order_relaxed);
	atomic_store_explicit(&sl->heartbeat_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&sl->gen, gen, memory_order_relaxed);
	rfx_ring_format(rfx_seg_ring_to_shard(&s->seg, ci), s->seg.ring_to_shard);
	rfx_ring_format(rfx_seg_ring_to_client(&s->seg, ci), s->seg.ring_to_client);
	atomic_store_explicit(&sl->owner, RFX_SLOT_OWNER(0, RFX_SLOT_FREE), memory_order_release);
	rfx_seg_count(&s->seg, RFX_CTR_CLIENTS_REAPED, 1);
}

static void report(const struct rfx_server_ops *ops, void *ctx, uint32_t ci, int reason,
		   const char *why);

/* A dead client: act on everything it published, then free its slot. */
static void reap_dead(struct rfx_server *s, uint32_t ci, const struct rfx_server_ops *ops,
		      void *ctx)
{
	drain(s, ci, ops, ctx);
	if (s->clients[ci].active)
		report(ops, ctx, ci, RFX_EDEAD, "client process died");
	reclaim(s, ci);
}

static int client_alive(struct client *c)
{
	if (c->pidfd >= 0) {
		struct pollfd p = {.fd = c->pidfd, .events = POLLIN};

		/* A pidfd becomes readable when the process exits. */
		return poll(&p, 1, 0) == 0;
	}
	return rfx_proc_alive(c->pid, c->start);
}

static void report(const struct rfx_server_ops *ops, void *ctx, uint32_t ci, int reason,
		   const char *why)
{
	if (ops && ops->on_detach)
		ops->on_detach(ctx, ci, reason, why);
}

static void accept_client(struct rfx_server *s, uint32_t ci, pid_t pid,
			  const struct rfx_server_ops *ops, void *ctx)
{
	struct rfx_slot_ctl *sl = rfx_seg_slot(&s->seg, ci);
	struct client *c = &s->clients[ci];
	uint64_t start = atomic_load_explicit(&sl->client_start, memory_order_relaxed);
	int alive;

	/* pidfd first, then the start time: if the pid was reused in between,
	 * the start time no longer matches and we treat the client as dead. */
	c->pidfd = pidfd_open_(pid);
	alive = rfx_proc_alive(pid, start);
	c->pid = pid;
	c->start = start;
	c->gen = atomic_load_explicit(&sl->gen, memory_order_relaxed);
	c->hb_seen_ns = rfx_mono_ns();
	/* Our own capacities, never the ones in the slot. */
	if (rfx_ring_consumer_init(&c->in, rfx_seg_ring_to_shard(&s->seg, ci),
				   s->seg.ring_to_shard) < 0 ||
	    rfx_ring_producer_init(&c->out, rfx_seg_ring_to_client(&s->seg, ci),
				   s->seg.ring_to_client, 0) < 0) {
		if (!alive) {
			reclaim(s, ci);
			return;
		}
		rfx_server_detach(s, ci, RFX_EPROTO, "client rings damaged before attach", ops, ctx);
		return;
	}
	c->active = 1;
	s->active[s->nactive++] = ci;
	rfx_seg_count(&s->seg, RFX_CTR_CLIENTS_ATTACHED, 1);
	if (ops && ops->on_attach)
		ops->on_attach(ctx, ci, pid);
	if (!alive) {
		/* Attached, sent and died before we looked: still act on what
		 * it published, then reclaim. */
		reap_dead(s, ci, ops, ctx);
	}
}

int rfx_server_reap(struct rfx_server *s, const struct rfx_server_ops *ops, void *ctx)
{
	int64_t now = rfx_mono_ns();

	for (uint32_t ci = 0; ci < s->seg.max_clients; ci++) {
		struct rfx_slot_ctl *sl = rfx_seg_slot(&s->seg, ci);
		struct client *c = &s->clients[ci];
		uint64_t owner = atomic_load_explicit(&sl->owner, memory_order_acquire);
		uint32_t st = RFX_SLOT_STATE(owner);
		pid_t pid = RFX_SLOT_PID(owner);

		if (st == RFX_SLOT_FREE)
			continue;
		if (c->active || c->detached) {
			if (pid != c->pid) {
				/* Someone rewrote the owner word of a served slot. */
				if (c->active)
					rfx_server_detach(s, ci, RFX_EPROTO, "slot owner overwritten",
							  ops, ctx);
				reclaim(s, ci);
				continue;
			}
			if (st == RFX_SLOT_CLOSING) {
				drain(s, ci, ops, ctx);
				if (c->active)
					report(ops, ctx, ci, 0, "client detached");
				reclaim(s, ci);
				continue;
			}
			uint64_t hb = atomic_load_explicit(&sl->heartbeat_ns, memory_order_relaxed);
			int check = 1;

			if (c->pidfd < 0 && hb != c->hb_last) {
				/* Without a pidfd, /proc reads only when the
				 * heartbeat went stale (cheaper, same verdict). */
				c->hb_last = hb;
				c->hb_seen_ns = now;
				check = 0;
			} else if (c->pidfd < 0) {
				check = now - c->hb_seen_ns > s->stale_ns;
			}
			if (check && !client_alive(c))
				reap_dead(s, ci, ops, ctx);
			continue;
		}
		/* A slot we do not serve yet. */
		if (st == RFX_SLOT_ACTIVE) {
			accept_client(s, ci, pid, ops, ctx);
		} else if (st == RFX_SLOT_CLAIMED) {
			uint64_t t;

			/* Mid-attach: wait for it unless its claimer is gone. */
			if (rfx_proc_start_time(pid, &t) == -ESRCH)
				reclaim(s, ci);
		} else {
			/* CLOSING, DETACHED left from before, or garbage. */
			uint64_t t;

			if (st != RFX_SLOT_DETACHED || rfx_proc_start_time(pid, &t) == -ESRCH)
				reclaim(s, ci);
		}
	}
	return (int)s->nactive;
}

void rfx_server_detach(struct rfx_server *s, uint32_t ci, int reason, const char *why,
		       const struct rfx_server_ops *ops, void *ctx)
{
	struct rfx_slot_ctl *sl;
	struct client *c;

	if (ci >= s->seg.max_clients)
		return;
	sl = rfx_seg_slot(&s->seg, ci);
	c = &s->clients[ci];
	atomic_store_explicit(&sl->reason, reason, memory_order_relaxed);
	/* Release: the client that sees DETACHED sees the reason. */
	atomic_store_explicit(&sl->owner, RFX_SLOT_OWNER(c->pid, RFX_SLOT_DETACHED),
			      memory_order_release);
	if (c->active) {
		drop_active(s, ci);
		c->active = 0;
		for (uint32_t i = 0; i < s->nsessions; i++)
			if (s->session_client[i] == (int32_t)ci)
				s->session_client[i] = -1;
	}
	c->detached = 1;
	if (reason == RFX_EPROTO)
		rfx_seg_count(&s->seg, RFX_CTR_CLIENT_PROTO_ERRORS, 1);
	report(ops, ctx, ci, reason, why);
}

/* ---- hot path ------------------------------------------------------------ */

static int out_write(struct rfx_server *s, uint32_t ci, uint32_t type, const void *h,
		     uint32_t hlen, const void *body, uint32_t blen)
{
	struct client *c;
	void *d;
	int rc;

	if (ci >= s->seg.max_clients)
		return -EINVAL;
	c = &s->clients[ci];
	if (!c->active)
		return RFX_ENOTBOUND;
	if ((uint64_t)hlen + blen > UINT32_MAX)
		return -EMSGSIZE;
	rc = rfx_ring_try_claim(&c->out, hlen + blen, &d);
	if (rc < 0) {
		if (rc == RFX_EFULL)
			rfx_seg_count(&s->seg, RFX_CTR_RING_FULL, 1);
		return rc;
	}
	memcpy(d, h, hlen);
	if (blen)
		memcpy((uint8_t *)d + hlen, body, blen);
	rfx_ring_commit(&c->out, type, hlen + blen);
	c->dirty = 1;
	return 0;
}

int rfx_server_deliver(struct rfx_server *s, uint32_t client, uint32_t session,
		       uint64_t seq, uint32_t flags, int64_t recv_ns,
		       const char *raw, uint32_t len)
{
	struct rfx_rec_deliver h = {.session = session, .flags = flags, .seq = seq,
				    .recv_ns = recv_ns};

	return out_write(s, client, RFX_REC_DELIVER, &h, sizeof(h), raw, len);
}

int rfx_server_event(struct rfx_server *s, uint32_t client, uint32_t session,
		     uint32_t event, int32_t code, uint64_t seq, const char *text)
{
	struct rfx_rec_event h = {.session = session, .event = event, .code = code, .seq = seq};

	if (text) {
		size_t n = strnlen(text, sizeof(h.text) - 1);

		memcpy(h.text, text, n);
	}
	return out_write(s, client, RFX_REC_EVENT, &h, sizeof(h), NULL, 0);
}

int rfx_server_send_failed(struct rfx_server *s, uint32_t client, uint32_t session,
			   uint64_t tag, int32_t reason)
{
	struct rfx_rec_send_failed h = {.session = session, .reason = reason, .tag = tag};

	return out_write(s, client, RFX_REC_SEND_FAILED, &h, sizeof(h), NULL, 0);
}

void rfx_server_flush(struct rfx_server *s)
{
	for (uint32_t k = 0; k < s->nactive; k++) {
		struct client *c = &s->clients[s->active[k]];

		if (c->dirty) {
			rfx_ring_publish(&c->out);
			c->dirty = 0;
		}
	}
}

/* Room for one reply record? Replies are never dropped: if the client does
 * not read, we stop reading its requests (backpressure) instead. */
static int reply_room(struct client *c)
{
	void *d;

	if (c->draining)
		return 1;
	if (rfx_ring_try_claim(&c->out, sizeof(struct rfx_rec_event), &d) < 0)
		return 0;
	rfx_ring_abort(&c->out);
	return 1;
}

/* Validate and act on one record. Returns 0 done, 1 retry later (no room for
 * the reply), < 0 protocol violation (s->why says what). */
static int handle(struct rfx_server *s, uint32_t ci, const struct rfx_ring_rec *r,
		  const struct rfx_server_ops *ops, void *ctx)
{
	struct client *c = &s->clients[ci];

	if (!reply_room(c))
		return 1;
	switch (r->type) {
	case RFX_REC_SEND: {
		struct rfx_rec_send h;
		int rc = 0;

		if (r->len < sizeof(h) + 1)
			goto bad_len;
		memcpy(&h, r->data, sizeof(h)); /* one copy; validate the copy */
		if (h.session >= s->seg.max_sessions)
			goto bad_session;
		if (s->session_client[h.session] != (int32_t)ci)
			rc = RFX_ENOTBOUND;
		else if (ops && ops->on_send)
			rc = ops->on_send(ctx, ci, h.session, h.tag,
					  (const char *)r->data + sizeof(h),
					  r->len - (uint32_t)sizeof(h));
		if (rc < 0)
			rfx_server_send_failed(s, ci, h.session, h.tag, rc);
		return 0;
	}
	case RFX_REC_BIND: {
		struct rfx_rec_bind h;
		struct rfx_session_info info;
		int rc = 0;

		if (r->len != sizeof(h))
			goto bad_len;
		memcpy(&h, r->data, sizeof(h));
		if (h.session >= s->seg.max_sessions)
			goto bad_session;
		h.id[sizeof(h.id) - 1] = 0;
		if (h.session >= s->nsessions ||
		    rfx_seg_dir_read(&s->seg, h.session, &info) < 0 || strcmp(info.id, h.id))
			rc = RFX_ENOSESSION;
		else if (s->session_client[h.session] >= 0 &&
			 s->session_client[h.session] != (int32_t)ci) {
			struct client *holder = &s->clients[s->session_client[h.session]];

			/* A strategy restarted after a crash binds before the
			 * periodic reap noticed its predecessor died: look now
			 * (cold: one pidfd poll or /proc read). A dead holder is
			 * reclaimed at the end of this poll and the bind retried
			 * next turn, instead of a spurious -EBUSY. */
			if (holder->dead)
				return 1;
			if (!c->draining && !client_alive(holder)) {
				holder->dead = 1;
				s->ndead++;
				return 1;
			}
			rc = -EBUSY;
		}
		else if (ops && ops->on_bind)
			rc = ops->on_bind(ctx, ci, h.session, h.replay_from);
		if (rc < 0) {
			rfx_server_event(s, ci, h.session, RFX_EV_BIND_FAILED, rc, 0,
					 rfx_strerror(rc));
			return 0;
		}
		s->session_client[h.session] = (int32_t)ci;
		rfx_server_event(s, ci, h.session, RFX_EV_BOUND, 0, h.replay_from, h.id);
		return 0;
	}
	case RFX_REC_UNBIND: {
		struct rfx_rec_session h;

		if (r->len != sizeof(h))
			goto bad_len;
		memcpy(&h, r->data, sizeof(h));
		if (h.session >= s->seg.max_sessions)
			goto bad_session;
		if (s->session_client[h.session] != (int32_t)ci) {
			rfx_server_event(s, ci, h.session, RFX_EV_UNBOUND, RFX_ENOTBOUND, 0,
					 "not bound");
			return 0;
		}
		s->session_client[h.session] = -1;
		if (ops && ops->on_unbind)
			ops->on_unbind(ctx, ci, h.session);
		rfx_server_event(s, ci, h.session, RFX_EV_UNBOUND, 0, 0, "");
		return 0;
	}
	case RFX_REC_ACK: {
		struct rfx_rec_ack h;

		if (r->len != sizeof(h))
			goto bad_len;
		memcpy(&h, r->data, sizeof(h));
		if (h.session >= s->seg.max_sessions)
			goto bad_session;
		if (s->session_client[h.session] == (int32_t)ci && ops && ops->on_ack)
			ops->on_ack(ctx, ci, h.session, h.seq);
		return 0;
	}
	default:
		snprintf(s->why, sizeof(s->why), "unknown record type %u (length %u)",
			 r->type, r->len);
		return RFX_EPROTO;
	}
bad_len:
	snprintf(s->why, sizeof(s->why), "record type %u has impossible length %u",
		 r->type, r->len);
	return RFX_EPROTO;
bad_session:
	snprintf(s->why, sizeof(s->why), "record type %u names session index beyond %u",
		 r->type, s->seg.max_sessions);
	return RFX_EPROTO;
}

/* Read up to `budget` records of one client. Returns records handled; on a
 * protocol violation the client is detached (and *gone set). */
static int poll_client(struct rfx_server *s, uint32_t ci, const struct rfx_server_ops *ops,
		       void *ctx, unsigned budget, int *gone)
{
	struct client *c = &s->clients[ci];
	struct rfx_ring_rec r;
	unsigned n = 0;
	int rc = 0;

	*gone = 0;
	while (n < budget && (rc = rfx_ring_peek(&c->in, &r)) == 0) {
		int h = handle(s, ci, &r, ops, ctx);

		if (h == 1)
			break;
		if (h < 0) {
			rc = h;
			break;
		}
		rfx_ring_consume(&c->in);
		n++;
	}
	rfx_ring_release(&c->in);
	if (rc == RFX_EPROTO) {
		if (c->in.err)
			snprintf(s->why, sizeof(s->why),
				 "client->shard ring: %s (pid %d, at byte %llu, tail %llu)",
				 rfx_ring_consumer_why(&c->in), (int)c->pid,
				 (unsigned long long)c->in.head,
				 (unsigned long long)atomic_load_explicit(&c->in.shm->tail,
									  memory_order_relaxed));
		rfx_server_detach(s, ci, RFX_EPROTO, s->why, ops, ctx);
		*gone = 1;
	} else if (c->out.err) {
		rfx_server_detach(s, ci, RFX_EPROTO, "impossible head in the shard->client ring",
				  ops, ctx);
		*gone = 1;
	}
	return (int)n;
}

/* A client that closed or died: whatever it published before is whole
 * (records become visible only complete), so act on it before reclaiming;
 * rfx_send's "sent or reported" promise holds up to its last publish. */
static void drain(struct rfx_server *s, uint32_t ci, const struct rfx_server_ops *ops, void *ctx)
{
	int gone;

	if (!s->clients[ci].active)
		return;
	s->clients[ci].draining = 1;
	poll_client(s, ci, ops, ctx, UINT32_MAX, &gone);
}

int rfx_server_poll(struct rfx_server *s, const struct rfx_server_ops *ops, void *ctx,
		    unsigned budget)
{
	int total = 0;

	for (uint32_t k = 0; k < s->nactive; k++) {
		int gone;

		total += poll_client(s, s->active[k], ops, ctx, budget, &gone);
		if (gone)
			k--; /* detach moved another client into position k */
	}
	if (s->ndead) {
		/* Outside the loop above: reclaiming reorders s->active. */
		for (uint32_t ci = 0; ci < s->seg.max_clients; ci++)
			if (s->clients[ci].dead)
				reap_dead(s, ci, ops, ctx);
		s->ndead = 0;
	}
	return total;
}
