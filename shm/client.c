/* libringfix: the strategy side (ringfix.h). */
#include "shm/ringfix.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine/codec.h"
#include "engine/error.h"
#include "engine/fixtypes.h"
#include "shm/protocol.h"
#include "shm/segment.h"

struct shard {
	struct rfx_seg seg;
	uint32_t slot;
	uint32_t slot_gen;
	uint64_t owner;            /* our owner word: pid << 8 | ACTIVE */
	struct rfx_ring_producer out;
	struct rfx_ring_consumer in;
	pid_t shard_pid;
	uint64_t shard_start;
	uint64_t hb_seen;          /* shard heartbeat last seen, and when */
	int64_t hb_seen_ns;
	_Atomic int err;           /* sticky: RFX_EDEAD, RFX_EDETACHED, RFX_EPROTO; atomic
				      because the send and poll threads both set it */
	struct sockaddr_un wake;   /* the shard's wake socket (block idle) */
	socklen_t wake_len;        /* 0: none */
};

#define MAX_FIELDS 1024

/* Lazily parsed index of the message being handed to on_message. */
struct parsed {
	const struct rfx_client *owner;
	const char *raw;
	uint32_t len;
	int state;                 /* 0: not parsed yet, 1: parsed, < 0: parse error */
	struct rfx_msg m;
	struct rfx_field fields[MAX_FIELDS];
};

struct rfx_client {
	uint32_t nshards;
	struct shard *sh;
	enum rfx_wait_strategy wait;
	uint32_t spins;
	int64_t stale_ns;
	uint64_t polls;
	pid_t pid;
	int wake_fd;               /* datagram socket for waking sleeping shards, or -1 */
	/* open zero-copy claim */
	int claim_open;
	uint32_t claim_shard;
	uint32_t claim_session;
	uint32_t claim_max;
	struct rfx_rec_send *claim_hdr;
	/* typed send (rfx_send_begin .. rfx_send_end) */
	int typed;
	int typed_err;
	struct rfx_builder b;
	struct parsed in_msg;
};

_Static_assert((int)RFX_IDLE_SPIN == (int)RFX_WAIT_SPIN && (int)RFX_IDLE_YIELD == (int)RFX_WAIT_YIELD &&
		       (int)RFX_IDLE_BLOCK == (int)RFX_WAIT_BLOCK, "wait strategies map 1:1");

#define HANDLE(shard, idx) ((int)(((shard) << 16) | (idx)))
#define H_SHARD(h) ((uint32_t)(h) >> 16)
#define H_INDEX(h) ((uint32_t)(h) & 0xffffu)

static int claim_slot(struct rfx_client *c, struct shard *s)
{
	uint64_t start;
	int rc = rfx_proc_start_time(c->pid, &start);

	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < s->seg.max_clients; i++) {
		struct rfx_slot_ctl *sl = rfx_seg_slot(&s->seg, i);
		uint64_t want = RFX_SLOT_OWNER(0, RFX_SLOT_FREE);

		/* Acquire on success: the shard formatted the rings before it
		 * released the slot as FREE. */
		if (!atomic_compare_exchange_strong_explicit(
			    &sl->owner, &want, RFX_SLOT_OWNER(c->pid, RFX_SLOT_CLAIMED),
			    memory_order_acq_rel, memory_order_relaxed))
			continue;
		s->slot = i;
		s->slot_gen = atomic_load_explicit(&sl->gen, memory_order_relaxed);
		atomic_store_explicit(&sl->client_start, start, memory_order_relaxed);
		atomic_store_explicit(&sl->heartbeat_ns, (uint64_t)rfx_mono_ns(),
				      memory_order_relaxed);
		/* The shard never futex-waits on this ring: publish() makes the
		 * one fence and the sleeping check instead. */
		rc = rfx_ring_producer_init(&s->out, rfx_seg_ring_to_shard(&s->seg, i),
					    s->seg.ring_to_shard, RFX_RING_NO_WAKE);
		if (rc == 0)
			rc = rfx_ring_consumer_init(&s->in, rfx_seg_ring_to_client(&s->seg, i),
						    s->seg.ring_to_client);
		if (rc < 0) {
			atomic_store_explicit(&sl->owner, RFX_SLOT_OWNER(c->pid, RFX_SLOT_CLOSING),
					      memory_order_release);
			return rc;
		}
		s->owner = RFX_SLOT_OWNER(c->pid, RFX_SLOT_ACTIVE);
		/* Release: the shard that sees ACTIVE sees our start time. */
		atomic_store_explicit(&sl->owner, s->owner, memory_order_release);
		return 0;
	}
	return RFX_ENOSLOT;
}

/* Make our records visible; if the shard sleeps (block idle), wake it. The
 * fence pairs with rfx_server_sleep's (Dekker pattern, see there): either
 * the shard sees our tail before it sleeps, or we see `sleeping` here. A
 * system call only when the shard really sleeps; spinning shards cost one
 * fence and one load per publish. */
static void publish(struct rfx_client *c, struct shard *s)
{
	uint64_t before = s->out.published;

	rfx_ring_publish(&s->out);
	if (s->out.published == before)
		return;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&s->seg.hdr->sleeping, memory_order_relaxed) && s->wake_len &&
	    c->wake_fd >= 0) {
		/* Best effort: EAGAIN means wake-ups are already queued, and
		 * a shard without its socket wakes on its own timeout. */
		(void)sendto(c->wake_fd, "w", 1, MSG_DONTWAIT, (struct sockaddr *)&s->wake,
			     s->wake_len);
	}
}

static void release_slot(struct rfx_client *c, struct shard *s)
{
	struct rfx_slot_ctl *sl;
	uint64_t cur;

	if (!s->seg.base || !s->owner)
		return;
	sl = rfx_seg_slot(&s->seg, s->slot);
	cur = atomic_load_explicit(&sl->owner, memory_order_acquire);
	/* Only a slot that is still ours (same pid, same generation). */
	if (RFX_SLOT_PID(cur) == c->pid && atomic_load(&sl->gen) == s->slot_gen &&
	    atomic_load(&s->seg.hdr->generation) == s->seg.generation) {
		publish(c, s);
		atomic_compare_exchange_strong(&sl->owner, &cur,
					       RFX_SLOT_OWNER(c->pid, RFX_SLOT_CLOSING));
	}
	s->owner = 0;
}

void rfx_client_detach(struct rfx_client *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->nshards; i++) {
		release_slot(c, &c->sh[i]);
		rfx_seg_close(&c->sh[i].seg);
	}
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	free(c->sh);
	free(c);
}

int rfx_client_attach(struct rfx_client **out, const char *instance,
		      const struct rfx_client_opts *opts)
{
	struct rfx_client *c;
	struct rfx_seg first;
	int rc;

	if (!out || !instance)
		return -EINVAL;
	if (opts && (opts->wait < RFX_IDLE_SPIN || opts->wait > RFX_IDLE_BLOCK))
		return -EINVAL;
	rc = rfx_seg_open(&first, instance, 0);
	if (rc < 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c) {
		rfx_seg_close(&first);
		return -ENOMEM;
	}
	c->pid = getpid();
	c->wait = opts ? opts->wait : RFX_IDLE_SPIN;
	c->spins = opts && opts->spins ? opts->spins : 1000;
	c->stale_ns = opts && opts->shard_stale_ns > 0 ? opts->shard_stale_ns : 2000000000;
	c->sh = calloc(first.shard_count, sizeof(struct shard));
	if (!c->sh) {
		rfx_seg_close(&first);
		free(c);
		return -ENOMEM;
	}
	/* No socket (say, a sandbox forbids it): block-idle shards then
	 * notice our records on their timeout instead. */
	c->wake_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->nshards = first.shard_count;
	c->sh[0].seg = first;
	for (uint32_t i = 0; i < c->nshards; i++) {
		struct shard *s = &c->sh[i];

		if (i > 0) {
			rc = rfx_seg_open(&s->seg, instance, i);
			if (rc < 0)
				goto err;
			if (s->seg.shard_count != c->nshards) {
				rc = RFX_EBADSEG; /* shards disagree: mid-restart */
				goto err;
			}
		}
		rc = rfx_seg_wake_addr(&s->wake, instance, i);
		s->wake_len = rc > 0 ? (socklen_t)rc : 0;
		s->shard_pid = (pid_t)atomic_load(&s->seg.hdr->shard_pid);
		s->shard_start = atomic_load(&s->seg.hdr->shard_start);
		s->hb_seen_ns = rfx_mono_ns();
		rc = claim_slot(c, s);
		if (rc < 0)
			goto err;
	}
	*out = c;
	return 0;

err:
	rfx_client_detach(c);
	return rc;
}

/* Cheap per-call health check: has the shard restarted, or cut us off? */
static int shard_ok(struct rfx_client *c, struct shard *s)
{
	struct rfx_slot_ctl *sl;
	uint64_t owner;

	int err = atomic_load_explicit(&s->err, memory_order_relaxed);

	if (err)
		return err;
	if (atomic_load_explicit(&s->seg.hdr->generation, memory_order_relaxed) !=
		    s->seg.generation ||
	    atomic_load_explicit(&s->seg.hdr->magic, memory_order_relaxed) != RFX_SEG_MAGIC) {
		atomic_store(&s->err, RFX_EDEAD);
		return RFX_EDEAD;
	}
	sl = rfx_seg_slot(&s->seg, s->slot);
	owner = atomic_load_explicit(&sl->owner, memory_order_acquire);
	if (owner != s->owner || atomic_load_explicit(&sl->gen, memory_order_relaxed) !=
					 s->slot_gen) {
		(void)c;
		atomic_store(&s->err, RFX_EDETACHED);
		return RFX_EDETACHED;
	}
	return 0;
}

static struct shard *shard_of(struct rfx_client *c, int session, int *rc)
{
	struct shard *s;

	if (session < 0 || H_SHARD(session) >= c->nshards) {
		*rc = -EINVAL;
		return NULL;
	}
	s = &c->sh[H_SHARD(session)];
	if (H_INDEX(session) >= s->seg.max_sessions) {
		*rc = -EINVAL;
		return NULL;
	}
	*rc = shard_ok(c, s);
	return *rc < 0 ? NULL : s;
}

static int put(struct rfx_client *c, struct shard *s, uint32_t type, const void *rec,
	       uint32_t len)
{
	int rc = rfx_ring_try_write(&s->out, type, rec, len);

	if (rc == RFX_EPROTO)
		s->err = RFX_EPROTO;
	if (rc == 0)
		publish(c, s);
	return rc;
}

int rfx_bind(struct rfx_client *c, const char *session_id, uint64_t replay_from)
{
	if (!c || rfx_session_id_check(session_id) < 0)
		return -EINVAL;
	for (uint32_t i = 0; i < c->nshards; i++) {
		struct shard *s = &c->sh[i];
		struct rfx_rec_bind b;
		int idx, rc = shard_ok(c, s);

		if (rc < 0)
			return rc;
		idx = rfx_seg_dir_find(&s->seg, session_id);
		if (idx < 0)
			continue;
		memset(&b, 0, sizeof(b));
		b.session = (uint32_t)idx;
		b.replay_from = replay_from;
		strcpy(b.id, session_id);
		rc = put(c, s, RFX_REC_BIND, &b, sizeof(b));
		return rc < 0 ? rc : HANDLE(i, (uint32_t)idx);
	}
	return RFX_ENOSESSION;
}

int rfx_unbind(struct rfx_client *c, int session)
{
	struct rfx_rec_session u = {.session = H_INDEX(session)};
	int rc;
	struct shard *s = c ? shard_of(c, session, &rc) : NULL;

	if (!s)
		return c ? rc : -EINVAL;
	return put(c, s, RFX_REC_UNBIND, &u, sizeof(u));
}

int rfx_ack(struct rfx_client *c, int session, uint64_t seq)
{
	struct rfx_rec_ack a = {.session = H_INDEX(session), .seq = seq};
	int rc;
	struct shard *s = c ? shard_of(c, session, &rc) : NULL;

	if (!s)
		return c ? rc : -EINVAL;
	return put(c, s, RFX_REC_ACK, &a, sizeof(a));
}

int rfx_send_claim(struct rfx_client *c, int session, uint32_t max_len, char **body)
{
	struct shard *s;
	void *d;
	int rc;

	if (!c || !body)
		return -EINVAL;
	if (c->claim_open)
		return -EBUSY;
	s = shard_of(c, session, &rc);
	if (!s)
		return rc;
	if (max_len == 0)
		return -EINVAL;
	if (max_len > UINT32_MAX - sizeof(struct rfx_rec_send))
		return -EMSGSIZE;
	rc = rfx_ring_try_claim(&s->out, (uint32_t)sizeof(struct rfx_rec_send) + max_len, &d);
	if (rc < 0) {
		if (rc == RFX_EPROTO)
			s->err = rc;
		return rc;
	}
	c->claim_open = 1;
	c->claim_shard = H_SHARD(session);
	c->claim_session = H_INDEX(session);
	c->claim_max = max_len;
	c->claim_hdr = d;
	*body = (char *)d + sizeof(struct rfx_rec_send);
	return 0;
}

int rfx_send_commit(struct rfx_client *c, uint32_t len, uint64_t tag, unsigned flags)
{
	struct shard *s;
	struct rfx_rec_send h;

	if (!c || !c->claim_open || len == 0 || len > c->claim_max)
		return -EINVAL;
	s = &c->sh[c->claim_shard];
	h.session = c->claim_session;
	h.flags = 0;
	h.tag = tag;
	memcpy(c->claim_hdr, &h, sizeof(h));
	rfx_ring_commit(&s->out, RFX_REC_SEND, (uint32_t)sizeof(h) + len);
	c->claim_open = 0;
	if (!(flags & RFX_SEND_MORE))
		publish(c, s);
	return 0;
}

void rfx_send_abort(struct rfx_client *c)
{
	if (!c || !c->claim_open)
		return;
	c->typed = 0;
	rfx_ring_abort(&c->sh[c->claim_shard].out);
	c->claim_open = 0;
}

int rfx_send(struct rfx_client *c, int session, const char *body, uint32_t len,
	     uint64_t tag, unsigned flags)
{
	char *d;
	int rc;

	if (!body || len == 0)
		return -EINVAL;
	rc = rfx_send_claim(c, session, len, &d);
	if (rc < 0)
		return rc;
	memcpy(d, body, len);
	return rfx_send_commit(c, len, tag, flags);
}

int rfx_flush(struct rfx_client *c)
{
	if (!c)
		return -EINVAL;
	for (uint32_t i = 0; i < c->nshards; i++)
		if (!c->sh[i].err)
			publish(c, &c->sh[i]);
	return 0;
}

/* Minimal parsed view: MsgType(35) and the body after 8, 9 and 35, up to
 * the trailer. Bounded by raw_len whatever the bytes are. */
static void view(struct rfx_message *m)
{
	const char *p = m->raw, *end = m->raw + m->raw_len, *v, *soh;

	m->msg_type = NULL;
	m->msg_type_len = 0;
	m->body = NULL;
	m->body_len = 0;
	for (int field = 0; field < 3 && p < end; field++) {
		soh = memchr(p, '\x01', (size_t)(end - p));
		if (!soh)
			return;
		if (field == 2) {
			if (end - p < 3 || memcmp(p, "35=", 3))
				return;
			v = p + 3;
			m->msg_type = v;
			m->msg_type_len = (uint32_t)(soh - v);
		}
		p = soh + 1;
	}
	if (!m->msg_type)
		return;
	m->body = p;
	/* Trailer: the last field, "10=xxx<SOH>" (7 bytes). */
	if (end - p >= 7 && !memcmp(end - 7, "10=", 3))
		m->body_len = (uint32_t)(end - 7 - p);
	else
		m->body_len = (uint32_t)(end - p);
}

/* Every few thousand polls: refresh our heartbeat, and if the shard's went
 * stale, check that its process still exists (cold, rare). */
static int liveness(struct rfx_client *c)
{
	int64_t now = rfx_mono_ns();

	for (uint32_t i = 0; i < c->nshards; i++) {
		struct shard *s = &c->sh[i];
		uint64_t hb;

		if (s->err)
			continue;
		atomic_store_explicit(&rfx_seg_slot(&s->seg, s->slot)->heartbeat_ns,
				      (uint64_t)now, memory_order_relaxed);
		hb = atomic_load_explicit(&s->seg.hdr->heartbeat_ns, memory_order_relaxed);
		if (hb != s->hb_seen) {
			s->hb_seen = hb;
			s->hb_seen_ns = now;
		} else if (now - s->hb_seen_ns > c->stale_ns &&
			   !rfx_proc_alive(s->shard_pid, s->shard_start)) {
			s->err = RFX_EDEAD;
			return RFX_EDEAD;
		}
	}
	return 0;
}

static int dispatch(struct rfx_client *c, uint32_t si, const struct rfx_ring_rec *r,
		    const struct rfx_handler *h, void *ctx)
{
	switch (r->type) {
	case RFX_REC_DELIVER: {
		struct rfx_rec_deliver d;
		struct rfx_message m;

		if (r->len < sizeof(d))
			return RFX_EPROTO;
		memcpy(&d, r->data, sizeof(d));
		if (!h->on_message)
			return 0;
		m.session = HANDLE(si, d.session & 0xffffu);
		m.flags = d.flags;
		m.seq = d.seq;
		m.recv_ns = d.recv_ns;
		m.raw = (const char *)r->data + sizeof(d);
		m.raw_len = r->len - (uint32_t)sizeof(d);
		view(&m);
		c->in_msg.owner = c;
		c->in_msg.raw = m.raw;
		c->in_msg.len = m.raw_len;
		c->in_msg.state = 0;
		m.internal = &c->in_msg;
		h->on_message(ctx, &m);
		c->in_msg.raw = NULL; /* getters outside the callback: -EINVAL */
		return 0;
	}
	case RFX_REC_EVENT: {
		struct rfx_rec_event e;
		struct rfx_event ev;

		if (r->len != sizeof(e))
			return RFX_EPROTO;
		memcpy(&e, r->data, sizeof(e));
		e.text[sizeof(e.text) - 1] = 0;
		if (!h->on_event)
			return 0;
		ev.session = HANDLE(si, e.session & 0xffffu);
		ev.type = e.event;
		ev.code = e.code;
		ev.seq = e.seq;
		ev.text = e.text;
		h->on_event(ctx, &ev);
		return 0;
	}
	case RFX_REC_SEND_FAILED: {
		struct rfx_rec_send_failed f;
		struct rfx_send_failure sf;

		if (r->len != sizeof(f))
			return RFX_EPROTO;
		memcpy(&f, r->data, sizeof(f));
		if (!h->on_send_failed)
			return 0;
		sf.session = HANDLE(si, f.session & 0xffffu);
		sf.reason = f.reason;
		sf.tag = f.tag;
		h->on_send_failed(ctx, &sf);
		return 0;
	}
	default:
		return RFX_EPROTO;
	}
}

int rfx_poll(struct rfx_client *c, const struct rfx_handler *h, void *ctx, unsigned max)
{
	int total = 0;

	if (!c || !h)
		return -EINVAL;
	if ((++c->polls & 4095) == 0) {
		int rc = liveness(c);

		if (rc < 0)
			return rc;
	}
	for (uint32_t i = 0; i < c->nshards && (unsigned)total < max; i++) {
		struct shard *s = &c->sh[i];
		struct rfx_ring_rec r;
		int rc = shard_ok(c, s);

		if (rc < 0)
			return rc;
		while ((unsigned)total < max && (rc = rfx_ring_peek(&s->in, &r)) == 0) {
			rc = dispatch(c, i, &r, h, ctx);
			if (rc < 0)
				break;
			rfx_ring_consume(&s->in);
			total++;
		}
		rfx_ring_release(&s->in);
		if (rc == RFX_EPROTO) {
			s->err = RFX_EPROTO;
			return rc;
		}
	}
	return total;
}

int rfx_wait(struct rfx_client *c, int64_t timeout_ns)
{
	int64_t deadline;

	if (!c)
		return -EINVAL;
	if (c->nshards == 1) {
		struct shard *s = &c->sh[0];
		int rc = shard_ok(c, s);

		if (rc < 0)
			return rc;
		/* Bounded sleeps so a dead shard is still noticed. */
		for (;;) {
			int64_t slice = c->stale_ns;

			if (timeout_ns >= 0 && timeout_ns < slice)
				slice = timeout_ns;
			rc = rfx_ring_wait(&s->in, (enum rfx_ring_wait_mode)c->wait, c->spins, slice);
			if (rc != -ETIMEDOUT)
				return rc;
			if ((rc = shard_ok(c, s)) < 0 || (rc = liveness(c)) < 0)
				return rc;
			if (timeout_ns >= 0 && (timeout_ns -= slice) <= 0)
				return -ETIMEDOUT;
		}
	}
	deadline = timeout_ns < 0 ? INT64_MAX : rfx_mono_ns() + timeout_ns;
	for (uint64_t n = 0;; n++) {
		for (uint32_t i = 0; i < c->nshards; i++) {
			struct shard *s = &c->sh[i];
			int rc = shard_ok(c, s);

			if (rc < 0)
				return rc;
			rc = rfx_ring_wait(&s->in, RFX_WAIT_SPIN, 0, 0);
			if (rc != -ETIMEDOUT)
				return rc;
		}
		if (rfx_mono_ns() >= deadline)
			return -ETIMEDOUT;
		if (c->wait != RFX_IDLE_SPIN && n >= c->spins)
			sched_yield();
	}
}

int rfx_session_status(struct rfx_client *c, int session, struct rfx_session_status *out)
{
	struct rfx_session_info info;
	struct shard *s;
	int rc;

	if (!c || !out)
		return -EINVAL;
	if (session < 0 || H_SHARD(session) >= c->nshards)
		return -EINVAL;
	s = &c->sh[H_SHARD(session)];
	rc = rfx_seg_dir_read(&s->seg, H_INDEX(session), &info);
	if (rc < 0)
		return rc;
	memcpy(out->id, info.id, sizeof(out->id));
	out->state = info.state;
	out->next_sender_seq = info.next_sender_seq;
	out->next_target_seq = info.next_target_seq;
	return 0;
}

/* ---- typed send: the codec's appenders write straight into the claim ---- */

int rfx_send_begin(struct rfx_client *c, int session, uint32_t max_len, const char *msg_type)
{
	char *body;
	int rc;

	if (!c || !msg_type || !*msg_type)
		return -EINVAL;
	rc = rfx_send_claim(c, session, max_len, &body);
	if (rc < 0)
		return rc;
	/* Only the appender state is used: buffer, capacity, position, error
	 * (and the timestamp day cache, zeroed). No header, no BodyLength. */
	memset(&c->b, 0, sizeof(c->b));
	c->b.buf = body;
	c->b.cap = max_len;
	c->typed = 1;
	c->typed_err = 0;
	rc = rfx_builder_str(&c->b, 35, msg_type, (uint32_t)strlen(msg_type));
	if (rc < 0)
		c->typed_err = rc;
	return rc;
}

static int field_rc(struct rfx_client *c, int rc)
{
	if (rc < 0 && !c->typed_err)
		c->typed_err = rc;
	return rc;
}

#define TYPED_OK(c) ((c) && (c)->typed && (c)->claim_open)

int rfx_field_str(struct rfx_client *c, uint32_t tag, const char *s, uint32_t len)
{
	if (!TYPED_OK(c) || (!s && len))
		return c && c->typed ? field_rc(c, -EINVAL) : -EINVAL;
	return field_rc(c, rfx_builder_str(&c->b, tag, s ? s : "", len));
}

int rfx_field_int(struct rfx_client *c, uint32_t tag, int64_t v)
{
	if (!TYPED_OK(c))
		return -EINVAL;
	return field_rc(c, rfx_builder_int(&c->b, tag, v));
}

int rfx_field_uint(struct rfx_client *c, uint32_t tag, uint64_t v)
{
	if (!TYPED_OK(c))
		return -EINVAL;
	return field_rc(c, rfx_builder_uint(&c->b, tag, v));
}

int rfx_field_decimal(struct rfx_client *c, uint32_t tag, int64_t mantissa, uint8_t scale)
{
	struct rfx_decimal d;

	if (!TYPED_OK(c))
		return -EINVAL;
	if (scale > 18)
		return field_rc(c, -EINVAL);
	d = rfx_decimal_make(mantissa, scale);
	return field_rc(c, rfx_builder_decimal(&c->b, tag, &d));
}

int rfx_field_char(struct rfx_client *c, uint32_t tag, char v)
{
	if (!TYPED_OK(c))
		return -EINVAL;
	return field_rc(c, rfx_builder_char(&c->b, tag, v));
}

int rfx_field_bool(struct rfx_client *c, uint32_t tag, int v)
{
	if (!TYPED_OK(c))
		return -EINVAL;
	return field_rc(c, rfx_builder_bool(&c->b, tag, v != 0));
}

int rfx_field_timestamp(struct rfx_client *c, uint32_t tag, int64_t ns, unsigned digits)
{
	if (!TYPED_OK(c))
		return -EINVAL;
	if (digits != 0 && digits != 3 && digits != 6 && digits != 9)
		return field_rc(c, -EINVAL);
	return field_rc(c, rfx_builder_timestamp(&c->b, tag, ns, (enum rfx_ts_prec)digits));
}

int rfx_send_end(struct rfx_client *c, uint64_t tag, unsigned flags)
{
	int rc;

	if (!TYPED_OK(c))
		return -EINVAL;
	rc = c->typed_err ? c->typed_err : c->b.err;
	if (rc < 0) {
		rfx_send_abort(c);
		return rc;
	}
	c->typed = 0;
	return rfx_send_commit(c, c->b.pos, tag, flags);
}

/* ---- inbound field getters: the codec's parser, run once per message ---- */

static const struct rfx_msg *parsed_msg(const struct rfx_message *m, int *rc)
{
	struct parsed *p = m ? (struct parsed *)m->internal : NULL;

	if (!p || !p->raw || p->raw != m->raw) {
		*rc = -EINVAL;
		return NULL;
	}
	if (p->state == 0) {
		int n;

		rfx_msg_init(&p->m, p->fields, MAX_FIELDS);
		n = rfx_codec_parse(&p->m, p->raw, p->len, NULL);
		p->state = n < 0 ? n : 1;
	}
	*rc = p->state < 0 ? p->state : 0;
	return p->state < 0 ? NULL : &p->m;
}

int rfx_message_str(const struct rfx_message *m, uint32_t tag, const char **val, uint32_t *len)
{
	struct rfx_str v;
	int rc;
	const struct rfx_msg *pm = parsed_msg(m, &rc);

	if (!pm)
		return rc;
	if (!val || !len)
		return -EINVAL;
	rc = rfx_msg_get_str(pm, tag, &v);
	if (rc < 0)
		return rc;
	*val = v.p;
	*len = v.len;
	return 0;
}

int rfx_message_int(const struct rfx_message *m, uint32_t tag, int64_t *out)
{
	int rc;
	const struct rfx_msg *pm = parsed_msg(m, &rc);

	if (!pm)
		return rc;
	return out ? rfx_msg_get_int(pm, tag, out) : -EINVAL;
}

int rfx_message_decimal(const struct rfx_message *m, uint32_t tag, int64_t *mantissa,
			uint8_t *scale)
{
	struct rfx_decimal d;
	int rc;
	const struct rfx_msg *pm = parsed_msg(m, &rc);

	if (!pm)
		return rc;
	if (!mantissa || !scale)
		return -EINVAL;
	rc = rfx_msg_get_decimal(pm, tag, &d);
	if (rc < 0)
		return rc;
	*mantissa = d.mantissa;
	*scale = d.scale;
	return 0;
}

int rfx_message_char(const struct rfx_message *m, uint32_t tag, char *out)
{
	int rc;
	const struct rfx_msg *pm = parsed_msg(m, &rc);

	if (!pm)
		return rc;
	return out ? rfx_msg_get_char(pm, tag, out) : -EINVAL;
}

int rfx_message_timestamp(const struct rfx_message *m, uint32_t tag, int64_t *ns)
{
	int rc;
	const struct rfx_msg *pm = parsed_msg(m, &rc);

	if (!pm)
		return rc;
	if (!ns)
		return -EINVAL;
	rc = rfx_msg_get_timestamp(pm, tag, ns);
	return rc < 0 ? rc : 0;
}
