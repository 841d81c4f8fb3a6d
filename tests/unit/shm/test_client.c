/* shm/segment, shm/server and libringfix (ringfix.h) against each other,
 * with real shared memory under /dev/shm and real client processes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/error.h"
#include "shm/protocol.h"
#include "shm/ringfix.h"
#include "shm/server.h"
#include "helpers.h"

/* From ringfix_codes.c, compiled against ringfix.h alone. */
extern const int rfx_test_ringfix_codes[];
extern const int rfx_test_ringfix_ncodes;

static char inst[32];
static struct rfx_server *srv;

static void setup(void)
{
	static int n;

	snprintf(inst, sizeof(inst), "t%d_%d", (int)getpid(), n++);
}

static void teardown(void)
{
	rfx_server_free(srv);
	srv = NULL;
}

TestSuite(client, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(segment, .init = setup, .fini = teardown, .timeout = 30);

static struct rfx_seg_params params(void)
{
	struct rfx_seg_params p = {.shard_count = 1, .max_sessions = 8, .max_clients = 4,
				   .ring_to_shard = 64 * 1024, .ring_to_client = 64 * 1024};
	return p;
}

static void start_server(void)
{
	struct rfx_server_params sp = {.instance = inst, .shard = 0, .seg = params()};

	cr_assert_eq(rfx_server_new(&srv, &sp), 0);
	cr_assert_eq(rfx_server_session_add(srv, "FIX.4.4:ME->VENUE"), 0);
	cr_assert_eq(rfx_server_session_add(srv, "FIX.4.2:ME->OTHER:Q1"), 1);
}

/* ---- ringfix.h's copy of the error codes ------------------------------ */

Test(client, ringfix_h_error_codes_match_engine, .timeout = 5)
{
	static const int engine[] = {
		RFX_EPARTIAL, RFX_EGARBLED, RFX_ECHECKSUM, RFX_ETOOBIG, RFX_ENOSPACE,
		RFX_ENOTFOUND, RFX_EFORMAT, RFX_ERANGE, RFX_ETOOMANY, RFX_EBADTAG, RFX_EGROUP, RFX_ECONFIG,
		RFX_EDICT, RFX_ESECRET, RFX_ESTATE, RFX_EREJECT, RFX_ECORRUPT,
		RFX_EMAPFULL, RFX_EFULL, RFX_EEMPTY, RFX_EMAGIC, RFX_EVERSION, RFX_EDEAD,
		RFX_EPROTO, RFX_EBADSEG, RFX_EDETACHED, RFX_ENOSLOT, RFX_ENOSESSION,
		RFX_ENOTBOUND,
	};

	cr_assert_eq(rfx_test_ringfix_ncodes, (int)(sizeof(engine) / sizeof(engine[0])));
	for (int i = 0; i < rfx_test_ringfix_ncodes; i++)
		cr_expect_eq(rfx_test_ringfix_codes[i], engine[i], "code %d", i);
}

/* ---- segment ------------------------------------------------------------ */

Test(segment, names_and_session_ids_are_validated, .timeout = 5)
{
	char b[RFX_SEG_NAME_MAX];

	cr_expect_eq(rfx_seg_name(b, sizeof(b), "prod", 3), 0);
	cr_expect_str_eq(b, "/ringfix.prod.3");
	cr_expect_eq(rfx_seg_name(b, sizeof(b), "", 0), -EINVAL);
	cr_expect_eq(rfx_seg_name(b, sizeof(b), "a/b", 0), -EINVAL);
	cr_expect_eq(rfx_seg_name(b, sizeof(b), "0123456789012345678901234567890123", 0), -EINVAL);
	cr_expect_eq(rfx_session_id_check("FIX.4.4:ME->VENUE"), 0);
	cr_expect_eq(rfx_session_id_check("FIXT.1.1:A-B->C-D:Q"), 0);
	cr_expect_eq(rfx_session_id_check("FIX.4.4:ME->"), -EINVAL);
	cr_expect_eq(rfx_session_id_check("FIX.4.4:->VENUE"), -EINVAL);
	cr_expect_eq(rfx_session_id_check("FIX.4.4ME->VENUE"), -EINVAL);
	cr_expect_eq(rfx_session_id_check("FIX.4.4:M E->VENUE"), -EINVAL);
	cr_expect_eq(rfx_session_id_check("FIX.4.4:ME->VENUE:"), -EINVAL);
	cr_expect_eq(rfx_session_id_check("FIX.4.4:ME->VENUE:Q:R"), -EINVAL);
	cr_expect_eq(rfx_session_id_check(
			     "FIX.4.4:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA->BBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"),
		     -EINVAL);
}

Test(segment, create_open_and_refusals, .timeout = 10)
{
	struct rfx_seg_params p = params();
	struct rfx_seg own, peer;
	char path[96];
	struct stat st;

	cr_expect_eq(rfx_seg_open(&peer, inst, 0), -ENOENT);
	cr_assert_eq(rfx_seg_create(&own, inst, 0, &p), 0);
	cr_expect_eq(own.generation, 1);
	snprintf(path, sizeof(path), "/dev/shm%s", own.name);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600, "owner-only by default");
	cr_assert_eq(rfx_seg_open(&peer, inst, 0), 0);
	cr_expect_eq(peer.max_clients, 4);
	cr_expect_eq(peer.ring_to_shard, 64 * 1024);
	rfx_seg_close(&peer);
	cr_expect_eq(rfx_seg_open(&peer, inst, 1), -ENOENT);

	/* Not ready (magic not yet written) */
	atomic_store(&own.hdr->magic, 0);
	cr_expect_eq(rfx_seg_open(&peer, inst, 0), RFX_EMAGIC);
	atomic_store(&own.hdr->magic, RFX_SEG_MAGIC);
	/* Another layout version */
	atomic_store(&own.hdr->layout, 99);
	cr_expect_eq(rfx_seg_open(&peer, inst, 0), RFX_EVERSION);
	atomic_store(&own.hdr->layout, RFX_SEG_LAYOUT);
	/* Geometry that does not fit the file */
	own.hdr->max_clients = 200;
	cr_expect_eq(rfx_seg_open(&peer, inst, 0), RFX_EBADSEG);
	own.hdr->max_clients = 4;
	own.hdr->slots_off += 8;
	cr_expect_eq(rfx_seg_open(&peer, inst, 0), RFX_EBADSEG);
	own.hdr->slots_off -= 8;
	own.hdr->instance[0] = '/';
	cr_expect_eq(rfx_seg_open(&peer, inst, 0), RFX_EBADSEG);
	own.hdr->instance[0] = inst[0];
	cr_expect_eq(rfx_seg_open(&peer, inst, 0), 0);
	rfx_seg_close(&peer);
	rfx_seg_close(&own);
	cr_expect_eq(rfx_seg_open(&peer, inst, 0), -ENOENT, "owner close unlinks");

	/* A half-built file: created, never sized. */
	char name[64];
	rfx_seg_name(name, sizeof(name), inst, 0);
	int fd = shm_open(name, O_RDWR | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_expect_eq(rfx_seg_open(&peer, inst, 0), RFX_EMAGIC);
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	cr_expect_eq(rfx_seg_open(&peer, inst, 0), RFX_EMAGIC);
	close(fd);
	shm_unlink(name);

	p.group_access = 1;
	cr_assert_eq(rfx_seg_create(&own, inst, 0, &p), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0660, "group access on request");
	rfx_seg_close(&own);
}

Test(segment, restart_bumps_generation_and_live_owner_is_refused, .timeout = 20)
{
	struct rfx_seg_params p = params();
	struct rfx_seg own;
	int pipefd[2];
	char ch;
	pid_t pid;

	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rfx_seg s;

		if (rfx_seg_create(&s, inst, 0, &p) < 0)
			_exit(1);
		(void)!write(pipefd[1], "x", 1);
		pause();
		_exit(0);
	}
	cr_assert_eq(read(pipefd[0], &ch, 1), 1);
	cr_expect_eq(rfx_seg_create(&own, inst, 0, &p), -EBUSY, "a live shard owns it");
	kill_child(pid);
	cr_assert_eq(rfx_seg_create(&own, inst, 0, &p), 0, "take over from the dead shard");
	cr_expect_eq(own.generation, 2);
	rfx_seg_close(&own);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* A writer process rewrites an entry as fast as it can; every snapshot the
 * reader gets is internally consistent. */
Test(segment, directory_snapshots_are_consistent, .timeout = 30)
{
	struct rfx_seg_params p = params();
	struct rfx_seg own;
	pid_t pid;
	uint64_t ok = 0;

	cr_assert_eq(rfx_seg_create(&own, inst, 0, &p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rfx_session_info info;

		memset(&info, 0, sizeof(info));
		for (uint64_t k = 1;; k++) {
			snprintf(info.id, sizeof(info.id), "FIX.4.4:S%llu->T%llu",
				 (unsigned long long)k % 1000, (unsigned long long)k % 1000);
			info.state = (uint32_t)(k % 5) + 1;
			info.next_sender_seq = k;
			info.next_target_seq = k * 3;
			info.updated_ns = k * 7;
			rfx_seg_dir_write(&own, 2, &info);
		}
	}
	int64_t until = mono_ns() + 200000000;
	while (mono_ns() < until || ok < 1000) {
		struct rfx_session_info info;
		char want[64];
		uint64_t k;

		if (rfx_seg_dir_read(&own, 2, &info) < 0)
			continue;
		k = info.next_sender_seq;
		if (k == 0)
			continue;
		snprintf(want, sizeof(want), "FIX.4.4:S%llu->T%llu", (unsigned long long)k % 1000,
			 (unsigned long long)k % 1000);
		if (info.next_target_seq != k * 3 || info.updated_ns != k * 7 ||
		    info.state != k % 5 + 1 || strcmp(info.id, want)) {
			kill_child(pid);
			cr_assert_fail("torn snapshot at k=%llu", (unsigned long long)k);
		}
		ok++;
	}
	kill_child(pid);
	cr_expect_gt(ok, 0);
	cr_expect_eq(rfx_seg_dir_read(&own, 100, &(struct rfx_session_info){0}), -EINVAL);
	rfx_seg_close(&own);
}

/* ---- server + client in one process ------------------------------------ */

struct seen {
	int attach, detach, detach_reason, binds, unbinds, sends, acks;
	uint64_t last_ack, replay_from;
	char body[256];
	uint32_t body_len;
	uint64_t tag;
	char why[160];
	int send_rc; /* what on_send returns */
	int out_of_order;
};

static void s_attach(void *ctx, uint32_t client, pid_t pid)
{
	(void)client;
	(void)pid;
	((struct seen *)ctx)->attach++;
}

static void s_detach(void *ctx, uint32_t client, int reason, const char *why)
{
	struct seen *s = ctx;

	(void)client;
	s->detach++;
	s->detach_reason = reason;
	snprintf(s->why, sizeof(s->why), "%s", why);
}

static int s_bind(void *ctx, uint32_t client, uint32_t session, uint64_t from)
{
	(void)client;
	(void)session;
	((struct seen *)ctx)->binds++;
	((struct seen *)ctx)->replay_from = from;
	return 0;
}

static void s_unbind(void *ctx, uint32_t client, uint32_t session)
{
	(void)client;
	(void)session;
	((struct seen *)ctx)->unbinds++;
}

static int s_send(void *ctx, uint32_t client, uint32_t session, uint64_t tag,
		  const char *body, uint32_t len)
{
	struct seen *s = ctx;

	(void)client;
	(void)session;
	if (s->sends > 0 && tag != s->tag + 1 && tag != 0)
		s->out_of_order++;
	s->sends++;
	s->tag = tag;
	s->body_len = len < sizeof(s->body) ? len : sizeof(s->body);
	memcpy(s->body, body, s->body_len);
	return s->send_rc;
}

static void s_ack(void *ctx, uint32_t client, uint32_t session, uint64_t seq)
{
	(void)client;
	(void)session;
	((struct seen *)ctx)->acks++;
	((struct seen *)ctx)->last_ack = seq;
}

static const struct rfx_server_ops sops = {
	.on_attach = s_attach, .on_detach = s_detach, .on_bind = s_bind,
	.on_unbind = s_unbind, .on_send = s_send, .on_ack = s_ack,
};

struct got {
	int msgs, events, failures;
	struct rfx_event last_ev;
	char ev_text[96];
	int ev_types[32];
	struct rfx_send_failure last_fail;
	uint64_t last_seq;
	char msg_type[8];
	char body[128];
};

static void c_msg(void *ctx, const struct rfx_message *m)
{
	struct got *g = ctx;

	g->msgs++;
	g->last_seq = m->seq;
	snprintf(g->msg_type, sizeof(g->msg_type), "%.*s", (int)m->msg_type_len,
		 m->msg_type ? m->msg_type : "");
	snprintf(g->body, sizeof(g->body), "%.*s", (int)m->body_len, m->body ? m->body : "");
}

static void c_event(void *ctx, const struct rfx_event *e)
{
	struct got *g = ctx;

	if (g->events < 32)
		g->ev_types[g->events] = (int)e->type;
	g->events++;
	g->last_ev = *e;
	snprintf(g->ev_text, sizeof(g->ev_text), "%s", e->text);
}

static void c_fail(void *ctx, const struct rfx_send_failure *f)
{
	struct got *g = ctx;

	g->failures++;
	g->last_fail = *f;
}

static const struct rfx_handler chandler = {c_msg, c_event, c_fail};

Test(client, attach_bind_send_poll_ack_detach, .timeout = 20)
{
	struct rfx_client *c;
	struct seen sn = {0};
	struct got g = {0};
	char *body;
	int s;

	cr_expect_eq(rfx_client_attach(&c, inst, NULL), -ENOENT);
	start_server();
	cr_assert_eq(rfx_client_attach(&c, inst, NULL), 0);
	cr_expect_eq(rfx_server_reap(srv, &sops, &sn), 1);
	cr_expect_eq(sn.attach, 1);

	cr_expect_eq(rfx_bind(c, "FIX.4.4:ME->NOBODY", 0), RFX_ENOSESSION);
	cr_expect_eq(rfx_bind(c, "not a session", 0), -EINVAL);
	s = rfx_bind(c, "FIX.4.2:ME->OTHER:Q1", 42);
	cr_assert_geq(s, 0);
	rfx_server_poll(srv, &sops, &sn, 64);
	rfx_server_flush(srv);
	cr_expect_eq(sn.binds, 1);
	cr_expect_eq(sn.replay_from, 42);
	cr_assert_eq(rfx_poll(c, &chandler, &g, 64), 1);
	cr_expect_eq(g.last_ev.type, RFX_EV_BOUND);
	cr_expect_eq(g.last_ev.session, s);
	cr_expect_eq(rfx_server_session_client(srv, 1), 0);

	/* prepared body, then zero-copy */
	cr_assert_eq(rfx_send(c, s, "35=D\x01" "11=A\x01", 10, 77, 0), 0);
	cr_assert_eq(rfx_send_claim(c, s, 100, &body), 0);
	cr_expect_eq(rfx_send_claim(c, s, 100, &body), -EBUSY);
	memcpy(body, "35=F\x01", 5);
	cr_expect_eq(rfx_send_commit(c, 101, 1, 0), -EINVAL);
	cr_assert_eq(rfx_send_commit(c, 5, 78, 0), 0);
	cr_assert_eq(rfx_send_claim(c, s, 10, &body), 0);
	rfx_send_abort(c);
	cr_assert_eq(rfx_ack(c, s, 41), 0);
	cr_expect_eq(rfx_server_poll(srv, &sops, &sn, 64), 3);
	cr_expect_eq(sn.sends, 2);
	cr_expect_eq(sn.tag, 78);
	cr_expect_eq(sn.body_len, 5);
	cr_expect_eq(memcmp(sn.body, "35=F\x01", 5), 0);
	cr_expect_eq(sn.last_ack, 41);

	/* a refused send comes back as a failure, never silently */
	sn.send_rc = RFX_ESTATE;
	cr_assert_eq(rfx_send(c, s, "35=D\x01", 5, 99, 0), 0);
	rfx_server_poll(srv, &sops, &sn, 64);
	/* a send on a session we never bound */
	cr_assert_eq(rfx_send(c, 0, "35=D\x01", 5, 100, 0), 0);
	rfx_server_poll(srv, &sops, &sn, 64);
	rfx_server_flush(srv);
	cr_assert_eq(rfx_poll(c, &chandler, &g, 64), 2);
	cr_expect_eq(g.failures, 2);
	cr_expect_eq(g.last_fail.tag, 100);
	cr_expect_eq(g.last_fail.reason, RFX_ENOTBOUND);

	/* deliveries: raw plus parsed view */
	const char raw[] = "8=FIX.4.2\x01" "9=20\x01" "35=8\x01" "49=V\x01" "56=ME\x01"
			   "34=5\x01" "10=123\x01";
	cr_assert_eq(rfx_server_deliver(srv, 0, 1, 5, RFX_MSG_POSSDUP, 123, raw,
					(uint32_t)strlen(raw)), 0);
	cr_expect_eq(rfx_poll(c, &chandler, &g, 64), 0, "not published before flush");
	rfx_server_flush(srv);
	cr_assert_eq(rfx_poll(c, &chandler, &g, 64), 1);
	cr_expect_eq(g.msgs, 1);
	cr_expect_eq(g.last_seq, 5);
	cr_expect_str_eq(g.msg_type, "8");
	cr_expect_str_eq(g.body, "49=V\x01" "56=ME\x01" "34=5\x01");

	/* directory snapshot through the client */
	struct rfx_session_status st;
	rfx_server_session_update(srv, 1, RFX_SESSION_ACTIVE, 10, 6, 1);
	cr_assert_eq(rfx_session_status(c, s, &st), 0);
	cr_expect_str_eq(st.id, "FIX.4.2:ME->OTHER:Q1");
	cr_expect_eq(st.state, RFX_SESSION_ACTIVE);
	cr_expect_eq(st.next_sender_seq, 10);

	cr_assert_eq(rfx_unbind(c, s), 0);
	rfx_server_poll(srv, &sops, &sn, 64);
	rfx_server_flush(srv);
	cr_expect_eq(sn.unbinds, 1);
	cr_assert_eq(rfx_poll(c, &chandler, &g, 64), 1);
	cr_expect_eq(g.last_ev.type, RFX_EV_UNBOUND);

	rfx_client_detach(c);
	cr_expect_eq(rfx_server_reap(srv, &sops, &sn), 0);
	cr_expect_eq(sn.detach, 1);
	cr_expect_eq(sn.detach_reason, 0);
	cr_expect_eq(atomic_load(&rfx_seg_counters(rfx_server_seg(srv))[RFX_CTR_CLIENTS_REAPED]), 1);
}

Test(client, bind_conflicts_and_slot_exhaustion, .timeout = 20)
{
	struct rfx_client *c[5];
	struct seen sn = {0};
	struct got g = {0};

	start_server();
	for (int i = 0; i < 4; i++)
		cr_assert_eq(rfx_client_attach(&c[i], inst, NULL), 0);
	cr_expect_eq(rfx_client_attach(&c[4], inst, NULL), RFX_ENOSLOT);
	rfx_server_reap(srv, &sops, &sn);
	cr_assert_geq(rfx_bind(c[0], "FIX.4.4:ME->VENUE", 0), 0);
	rfx_server_poll(srv, &sops, &sn, 64);
	cr_assert_geq(rfx_bind(c[1], "FIX.4.4:ME->VENUE", 0), 0);
	rfx_server_poll(srv, &sops, &sn, 64);
	rfx_server_flush(srv);
	cr_assert_eq(rfx_poll(c[1], &chandler, &g, 64), 1);
	cr_expect_eq(g.last_ev.type, RFX_EV_BIND_FAILED);
	cr_expect_eq(g.last_ev.code, -EBUSY);
	rfx_client_detach(c[3]);
	rfx_server_reap(srv, &sops, &sn);
	cr_assert_eq(rfx_client_attach(&c[4], inst, NULL), 0, "a freed slot is reused");
	for (int i = 0; i < 3; i++)
		rfx_client_detach(c[i]);
	rfx_client_detach(c[4]);
}

/* ---- real client processes --------------------------------------------- */

/* A client process that attaches, binds, then sends `n` messages whose
 * tags count up, and exits without detaching (or hangs if hang). */
static pid_t spawn_client(int n, int hang, int scribble)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid)
		return pid;
	struct rfx_client *c;
	int s;

	if (rfx_client_attach(&c, inst, NULL) < 0)
		_exit(1);
	s = rfx_bind(c, "FIX.4.4:ME->VENUE", 0);
	if (s < 0)
		_exit(2);
	for (int i = 0; i < n; i++) {
		int rc;

		while ((rc = rfx_send(c, s, "35=D\x01" "11=X\x01", 10, (uint64_t)i, 0)) == RFX_EFULL)
			sched_yield();
		if (rc < 0)
			_exit(3);
	}
	if (scribble) {
		/* Find our slot: the one owned by our pid; wreck its ring. */
		struct rfx_seg seg;

		rfx_seg_open(&seg, inst, 0);
		for (uint32_t i = 0; i < seg.max_clients; i++) {
			struct rfx_slot_ctl *sl = rfx_seg_slot(&seg, i);
			struct rfx_ring_shm *r = rfx_seg_ring_to_shard(&seg, i);

			if (RFX_SLOT_PID(atomic_load(&sl->owner)) != getpid())
				continue;
			if (scribble == 1)
				atomic_store(&r->tail, atomic_load(&r->tail) + (1ull << 40));
		}
		if (scribble == 2) {
			/* A record with a type the shard does not know. */
			struct rfx_ring_producer p;

			for (uint32_t i = 0; i < seg.max_clients; i++) {
				struct rfx_slot_ctl *sl = rfx_seg_slot(&seg, i);

				if (RFX_SLOT_PID(atomic_load(&sl->owner)) != getpid())
					continue;
				if (rfx_ring_producer_init(&p, rfx_seg_ring_to_shard(&seg, i),
							   seg.ring_to_shard, 0) == 0) {
					rfx_ring_try_write(&p, 999, "junkjunk", 8);
					rfx_ring_publish(&p);
				}
			}
		}
	}
	while (hang)
		pause();
	_exit(0);
}

static void serve_until(struct seen *sn, int sends, int64_t ns)
{
	int64_t until = mono_ns() + ns;

	while (mono_ns() < until && sn->sends < sends) {
		rfx_server_reap(srv, &sops, sn);
		rfx_server_poll(srv, &sops, sn, 256);
		rfx_server_flush(srv);
	}
}

Test(client, killed_client_is_reaped_and_its_slot_gets_fresh_rings, .timeout = 30)
{
	struct seen sn = {0};
	struct rfx_client *c;
	pid_t pid;

	start_server();
	pid = spawn_client(100, 1, 0);
	serve_until(&sn, 100, 5000000000);
	cr_assert_eq(sn.sends, 100);
	/* Kill it with unsent work in flight: more records, then SIGKILL. */
	kill_child(pid);
	for (int i = 0; i < 100 && sn.detach == 0; i++) {
		rfx_server_reap(srv, &sops, &sn);
		usleep(1000);
	}
	cr_expect_eq(sn.detach, 1);
	cr_expect_eq(sn.detach_reason, RFX_EDEAD);
	cr_expect_eq(rfx_server_session_client(srv, 0), -1, "its binding is gone");
	/* The next client gets slot 0 with empty rings. */
	struct rfx_slot_ctl *sl = rfx_seg_slot(rfx_server_seg(srv), 0);
	struct rfx_ring_shm *r = rfx_seg_ring_to_shard(rfx_server_seg(srv), 0);
	cr_expect_eq(RFX_SLOT_STATE(atomic_load(&sl->owner)), RFX_SLOT_FREE);
	cr_expect_eq(atomic_load(&r->tail), 0);
	cr_expect_eq(atomic_load(&sl->gen), 2);
	cr_assert_eq(rfx_client_attach(&c, inst, NULL), 0);
	rfx_server_reap(srv, &sops, &sn);
	cr_expect_eq(sn.attach, 2);
	rfx_client_detach(c);
}

/* A restarted strategy may bind before the periodic reap noticed that its
 * predecessor, still holding the session, died: the shard looks at once and
 * hands the session over instead of answering -EBUSY. No reap in between. */
Test(client, bind_reclaims_a_dead_holder_at_once, .timeout = 30)
{
	struct seen sn = {0};
	struct rfx_client *c;
	struct got g = {0};
	pid_t pid;

	start_server();
	pid = spawn_client(1, 1, 0);
	serve_until(&sn, 1, 5000000000);
	cr_assert_eq(rfx_server_session_client(srv, 0), 0, "the child holds the session");
	cr_assert_eq(rfx_client_attach(&c, inst, NULL), 0);
	rfx_server_reap(srv, &sops, &sn);
	cr_assert_eq(sn.attach, 2);
	kill_child(pid);
	cr_assert_geq(rfx_bind(c, "FIX.4.4:ME->VENUE", 7), 0);
	for (int turn = 0; turn < 3 && g.events == 0; turn++) {
		rfx_server_poll(srv, &sops, &sn, 64);
		rfx_server_flush(srv);
		rfx_poll(c, &chandler, &g, 64);
	}
	cr_assert_eq(g.events, 1);
	cr_expect_eq(g.last_ev.type, RFX_EV_BOUND, "event %u code %d", g.last_ev.type,
		     g.last_ev.code);
	cr_expect_eq(sn.detach, 1, "the dead holder is reported");
	cr_expect_eq(sn.detach_reason, RFX_EDEAD);
	cr_expect_eq(rfx_server_session_client(srv, 0), 1);
	cr_expect_eq(sn.replay_from, 7);
	rfx_client_detach(c);
}

Test(client, scribbling_client_is_detached_others_carry_on, .timeout = 30)
{
	for (int mode = 1; mode <= 2; mode++) {
		struct seen sn = {0};
		struct rfx_client *good;
		struct got g = {0};
		pid_t bad;
		int s;

		start_server();
		cr_assert_eq(rfx_client_attach(&good, inst, NULL), 0);
		s = rfx_bind(good, "FIX.4.2:ME->OTHER:Q1", 0);
		cr_assert_geq(s, 0);
		bad = spawn_client(10, 1, mode);
		int64_t until = mono_ns() + 5000000000;
		while (sn.detach == 0 && mono_ns() < until) {
			rfx_server_reap(srv, &sops, &sn);
			rfx_server_poll(srv, &sops, &sn, 256);
			rfx_server_flush(srv);
		}
		cr_expect_eq(sn.detach, 1, "mode %d", mode);
		cr_expect_eq(sn.detach_reason, RFX_EPROTO);
		cr_expect_neq(sn.why[0], 0, "a reason to log");
		cr_log_info("mode %d detach reason: %s", mode, sn.why);
		/* The good client still works. */
		cr_assert_eq(rfx_send(good, s, "35=D\x01", 5, 5, 0), 0);
		int before = sn.sends;
		rfx_server_poll(srv, &sops, &sn, 256);
		cr_expect_eq(sn.sends, before + 1);
		rfx_server_flush(srv);
		cr_expect_geq(rfx_poll(good, &chandler, &g, 64), 1);
		kill_child(bad);
		rfx_client_detach(good);
		rfx_server_free(srv);
		srv = NULL;
	}
}

Test(client, detached_client_learns_why, .timeout = 10)
{
	struct seen sn = {0};
	struct rfx_client *c;
	struct got g = {0};

	start_server();
	cr_assert_eq(rfx_client_attach(&c, inst, NULL), 0);
	rfx_server_reap(srv, &sops, &sn);
	rfx_server_detach(srv, 0, RFX_EPROTO, "test", &sops, &sn);
	cr_expect_eq(rfx_poll(c, &chandler, &g, 64), RFX_EDETACHED);
	cr_expect_eq(rfx_send(c, 0, "35=0\x01", 5, 0, 0), RFX_EDETACHED);
	rfx_client_detach(c);
	rfx_server_reap(srv, &sops, &sn);
	cr_expect_eq(RFX_SLOT_STATE(atomic_load(&rfx_seg_slot(rfx_server_seg(srv), 0)->owner)),
		     RFX_SLOT_FREE);
}

Test(client, shard_restart_is_noticed_and_reattach_works, .timeout = 30)
{
	struct rfx_client *c;
	struct got g = {0};
	int pipefd[2];
	char ch;
	pid_t shard;

	/* The shard is a separate process we can SIGKILL. */
	cr_assert_eq(pipe(pipefd), 0);
	shard = fork();
	cr_assert_geq(shard, 0);
	if (shard == 0) {
		struct rfx_server_params sp = {.instance = inst, .shard = 0, .seg = params()};

		if (rfx_server_new(&srv, &sp) < 0)
			_exit(1);
		rfx_server_session_add(srv, "FIX.4.4:ME->VENUE");
		(void)!write(pipefd[1], "x", 1);
		for (;;) {
			rfx_server_heartbeat(srv, mono_ns());
			rfx_server_reap(srv, NULL, NULL);
			rfx_server_poll(srv, NULL, NULL, 64);
			rfx_server_flush(srv);
			usleep(100);
		}
	}
	cr_assert_eq(read(pipefd[0], &ch, 1), 1);
	struct rfx_client_opts o = {.wait = RFX_IDLE_BLOCK, .shard_stale_ns = 20000000};
	cr_assert_eq(rfx_client_attach(&c, inst, &o), 0);
	cr_assert_geq(rfx_bind(c, "FIX.4.4:ME->VENUE", 0), 0);
	cr_expect_eq(rfx_wait(c, 200000000), 0, "BOUND arrives");
	cr_expect_eq(rfx_poll(c, &chandler, &g, 64), 1);
	kill_child(shard);
	/* Dead shard: the client notices through heartbeat + pid check. */
	int rc = 0;
	for (int i = 0; i < 2000 && rc == 0; i++) {
		rc = rfx_wait(c, 10000000);
		if (rc == -ETIMEDOUT)
			rc = rfx_poll(c, &chandler, &g, 64);
	}
	cr_expect_eq(rc, RFX_EDEAD, "got %s", rfx_strerror(rc));
	/* Restart: generation 2; a client mapped to the old one sees it too. */
	struct rfx_server_params sp = {.instance = inst, .shard = 0, .seg = params()};
	cr_assert_eq(rfx_server_new(&srv, &sp), 0);
	cr_expect_eq(rfx_server_seg(srv)->generation, 2);
	rfx_client_detach(c);
	cr_assert_eq(rfx_client_attach(&c, inst, NULL), 0);
	rfx_client_detach(c);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* Throughput through the whole client path, multi-process: a client process
 * sends N messages, the server in this process sees every tag in order. */
Test(client, client_process_stream_in_order, .timeout = 60)
{
	struct seen sn = {0};
	int n = 200000;
	pid_t pid;

	start_server();
	pid = spawn_client(n, 0, 0);
	serve_until(&sn, n, 30ll * 1000000000);
	cr_expect_eq(sn.sends, n);
	cr_expect_eq(sn.tag, (uint64_t)n - 1);
	cr_expect_eq(wait_child(pid), 0);
}

/* A client that sends and exits before the shard even looked: what it
 * published is still acted on (sent or reported), then its slot is reclaimed. */
Test(client, messages_of_a_client_that_exited_are_not_lost, .timeout = 30)
{
	struct seen sn = {0};
	pid_t pid;

	start_server();
	pid = spawn_client(50, 0, 0);
	cr_assert_eq(wait_child(pid), 0);
	rfx_server_reap(srv, &sops, &sn);
	cr_expect_eq(sn.binds, 1);
	cr_expect_eq(sn.sends, 50);
	cr_expect_eq(sn.tag, 49);
	cr_expect_eq(sn.detach, 1);
	cr_expect_eq(sn.detach_reason, RFX_EDEAD);
	cr_expect_eq(RFX_SLOT_STATE(atomic_load(&rfx_seg_slot(rfx_server_seg(srv), 0)->owner)),
		     RFX_SLOT_FREE);
}

/* The seqlock again with the writer as a thread, for ThreadSanitizer. */
#include <pthread.h>

static _Atomic int dir_stop;

static void *dir_writer(void *arg)
{
	struct rfx_seg *own = arg;
	struct rfx_session_info info;

	memset(&info, 0, sizeof(info));
	for (uint64_t k = 1; !atomic_load(&dir_stop); k++) {
		snprintf(info.id, sizeof(info.id), "FIX.4.4:S%llu->T", (unsigned long long)k % 100);
		info.next_sender_seq = k;
		info.next_target_seq = k * 3;
		rfx_seg_dir_write(own, 1, &info);
	}
	return NULL;
}

Test(segment, directory_snapshots_threads, .timeout = 30)
{
	struct rfx_seg_params p = params();
	struct rfx_seg own;
	pthread_t th;
	int ok = 0;

	cr_assert_eq(rfx_seg_create(&own, inst, 0, &p), 0);
	atomic_store(&dir_stop, 0);
	cr_assert_eq(pthread_create(&th, NULL, dir_writer, &own), 0);
	for (long i = 0; ok < 2000 && i < 100000000; i++) {
		struct rfx_session_info info;
		char want[64];

		if (rfx_seg_dir_read(&own, 1, &info) < 0 || info.next_sender_seq == 0)
			continue;
		snprintf(want, sizeof(want), "FIX.4.4:S%llu->T",
			 (unsigned long long)info.next_sender_seq % 100);
		cr_assert_eq(info.next_target_seq, info.next_sender_seq * 3);
		cr_assert_str_eq(info.id, want);
		ok++;
	}
	atomic_store(&dir_stop, 1);
	pthread_join(th, NULL);
	cr_expect_gt(ok, 0);
	rfx_seg_close(&own);
}

/* Typed zero-copy send through the codec's appenders. */
Test(client, typed_fields_build_the_body_in_the_ring, .timeout = 10)
{
	struct rfx_client *c;
	struct seen sn = {0};
	int s;

	start_server();
	cr_assert_eq(rfx_client_attach(&c, inst, NULL), 0);
	rfx_server_reap(srv, &sops, &sn);
	s = rfx_bind(c, "FIX.4.4:ME->VENUE", 0);
	cr_assert_geq(s, 0);
	cr_expect_eq(rfx_field_int(c, 38, 1), -EINVAL, "no open message");
	cr_assert_eq(rfx_send_begin(c, s, 200, "D"), 0);
	cr_expect_eq(rfx_field_str(c, 11, "ord-1", 5), 0);
	cr_expect_eq(rfx_field_char(c, 54, '1'), 0);
	cr_expect_eq(rfx_field_decimal(c, 44, 10125, 2), 0);
	cr_expect_eq(rfx_field_int(c, 38, -100), 0);
	cr_expect_eq(rfx_field_uint(c, 7, 18446744073709551615ull), 0);
	cr_expect_eq(rfx_field_bool(c, 1, 1), 0);
	/* 2024-01-02 03:04:05.678 UTC */
	cr_expect_eq(rfx_field_timestamp(c, 60, 1704164645678000000ll, 3), 0);
	cr_assert_eq(rfx_send_end(c, 5, 0), 0);
	rfx_server_poll(srv, &sops, &sn, 64);
	const char want[] = "35=D\x01" "11=ord-1\x01" "54=1\x01" "44=101.25\x01" "38=-100\x01"
			    "7=18446744073709551615\x01" "1=Y\x01" "60=20240102-03:04:05.678\x01";
	cr_assert_eq(sn.sends, 1);
	cr_expect_eq(sn.body_len, strlen(want));
	cr_expect_eq(memcmp(sn.body, want, strlen(want)), 0, "got %.*s", (int)sn.body_len, sn.body);
	cr_expect_eq(sn.tag, 5);

	/* Too long: the error sticks and nothing is sent. */
	cr_assert_eq(rfx_send_begin(c, s, 30, "D"), 0);
	cr_expect_eq(rfx_field_str(c, 58, "far too long for thirty", 23), RFX_ENOSPACE);
	cr_expect_eq(rfx_field_char(c, 54, '1'), RFX_ENOSPACE, "the error sticks");
	cr_expect_eq(rfx_send_end(c, 6, 0), RFX_ENOSPACE);
	cr_expect_eq(rfx_field_str(c, 11, "x\x01y", 3), -EINVAL, "closed");
	cr_assert_eq(rfx_send_begin(c, s, 64, "F"), 0);
	cr_expect_eq(rfx_field_str(c, 11, "x\x01y", 3), -EINVAL, "SOH in a value");
	cr_expect_eq(rfx_send_end(c, 7, 0), -EINVAL);
	cr_expect_eq(rfx_server_poll(srv, &sops, &sn, 64), 0);
	cr_expect_eq(sn.sends, 1);
	rfx_client_detach(c);
}

/* A client that scribbles on its slot header and ring headers: fields the
 * shard never trusts (ring capacity) change nothing; an overwritten owner
 * word detaches the client and its slot is reclaimed. */
Test(client, scribbled_slot_header_detaches_only_that_client, .timeout = 10)
{
	struct rfx_client *a, *b;
	struct seen sn = {0};
	struct rfx_seg *seg;
	int s;

	start_server();
	seg = rfx_server_seg(srv);
	cr_assert_eq(rfx_client_attach(&a, inst, NULL), 0);
	cr_assert_eq(rfx_client_attach(&b, inst, NULL), 0);
	rfx_server_reap(srv, &sops, &sn);
	cr_assert_eq(sn.attach, 2);
	s = rfx_bind(b, "FIX.4.4:ME->VENUE", 0);
	cr_assert_geq(s, 0);
	/* Slot 0 is a's: wreck its ring capacity field, then its owner word. */
	((struct rfx_ring_shm *)rfx_seg_ring_to_shard(seg, 0))->capacity = 1ull << 40;
	((struct rfx_ring_shm *)rfx_seg_ring_to_client(seg, 0))->capacity = 3;
	rfx_server_poll(srv, &sops, &sn, 64);
	rfx_server_reap(srv, &sops, &sn);
	cr_expect_eq(sn.detach, 0, "capacity lives in the shard's own memory");
	atomic_store(&rfx_seg_slot(seg, 0)->owner, RFX_SLOT_OWNER(1, RFX_SLOT_ACTIVE));
	rfx_server_reap(srv, &sops, &sn);
	cr_expect_eq(sn.detach, 1);
	cr_expect_eq(sn.detach_reason, RFX_EPROTO);
	cr_expect_str_eq(sn.why, "slot owner overwritten");
	cr_expect_eq(RFX_SLOT_STATE(atomic_load(&rfx_seg_slot(seg, 0)->owner)), RFX_SLOT_FREE);
	cr_expect_eq(((struct rfx_ring_shm *)rfx_seg_ring_to_shard(seg, 0))->capacity,
		     seg->ring_to_shard, "fresh rings");
	/* b carries on */
	cr_assert_eq(rfx_send(b, s, "35=D\x01", 5, 1, 0), 0);
	rfx_server_poll(srv, &sops, &sn, 64);
	cr_expect_eq(sn.sends, 1);
	cr_expect_eq(rfx_poll(a, &chandler, &(struct got){0}, 8), RFX_EDETACHED);
	rfx_client_detach(a);
	rfx_client_detach(b);
}

/* Field getters on an inbound message (codec parser, lazily). */
struct getters {
	int calls;
	int rc_str, rc_int, rc_dec, rc_char, rc_ts, rc_missing, rc_bad, rc_data;
	char clordid[16];
	int64_t seq, mant, ts;
	uint8_t scale;
	char side;
	uint32_t data_len;
};

static void g_msg(void *ctx, const struct rfx_message *m)
{
	struct getters *g = ctx;
	const char *v;
	uint32_t n;
	int64_t i;

	g->calls++;
	g->rc_str = rfx_message_str(m, 11, &v, &n);
	if (g->rc_str == 0)
		snprintf(g->clordid, sizeof(g->clordid), "%.*s", (int)n, v);
	g->rc_int = rfx_message_int(m, 34, &g->seq);
	g->rc_dec = rfx_message_decimal(m, 44, &g->mant, &g->scale);
	g->rc_char = rfx_message_char(m, 54, &g->side);
	g->rc_ts = rfx_message_timestamp(m, 52, &g->ts);
	g->rc_missing = rfx_message_int(m, 9999, &i);
	g->rc_bad = rfx_message_int(m, 11, &i);
	g->rc_data = rfx_message_str(m, 96, &v, &g->data_len);
}

Test(client, inbound_field_getters, .timeout = 10)
{
	struct rfx_client *c;
	struct seen sn = {0};
	struct getters g = {0};
	struct rfx_handler h = {.on_message = g_msg};
	static const char raw[] = "8=FIX.4.4\x01" "9=89\x01" "35=8\x01" "34=12\x01"
				  "49=V\x01" "52=20240102-03:04:05.678\x01" "56=ME\x01"
				  "11=ord-1\x01" "44=101.25\x01" "54=2\x01"
				  "95=5\x01" "96=a\x01" "b\x01" "c\x01" "10=000\x01";
	int s;

	start_server();
	cr_assert_eq(rfx_client_attach(&c, inst, NULL), 0);
	rfx_server_reap(srv, &sops, &sn);
	s = rfx_bind(c, "FIX.4.4:ME->VENUE", 0);
	cr_assert_geq(s, 0);
	rfx_server_poll(srv, &sops, &sn, 64);
	cr_assert_eq(rfx_server_deliver(srv, 0, 0, 12, 0, 0, raw, sizeof(raw) - 1), 0);
	rfx_server_flush(srv);
	cr_assert_eq(rfx_poll(c, &h, &g, 64), 2); /* BOUND event (no handler) + message */
	cr_assert_eq(g.calls, 1);
	cr_expect_eq(g.rc_str, 0);
	cr_expect_str_eq(g.clordid, "ord-1");
	cr_expect_eq(g.rc_int, 0);
	cr_expect_eq(g.seq, 12);
	cr_expect_eq(g.rc_dec, 0);
	cr_expect_eq(g.mant, 10125);
	cr_expect_eq(g.scale, 2);
	cr_expect_eq(g.rc_char, 0);
	cr_expect_eq(g.side, '2');
	cr_expect_eq(g.rc_ts, 0);
	cr_expect_eq(g.ts, 1704164645678000000ll);
	cr_expect_eq(g.rc_missing, RFX_ENOTFOUND);
	cr_expect_lt(g.rc_bad, 0, "ClOrdID is not an int");
	cr_expect_eq(g.rc_data, 0);
	cr_expect_eq(g.data_len, 5, "RawData(96) holds SOH");
	rfx_client_detach(c);
}

/* SIGKILL a client process in the middle of a send stream, several times:
 * the shard sees a gap-free prefix of its messages (never a torn one), then
 * reaps it. */
Test(client, client_killed_mid_stream_leaves_a_clean_prefix, .timeout = 60)
{
	for (int round = 0; round < 3; round++) {
		struct seen sn = {0};
		pid_t pid;

		start_server();
		pid = spawn_client(1 << 30, 0, 0);
		int64_t until = mono_ns() + 5000000000;
		while (sn.sends < 1000 * (round + 1) && mono_ns() < until) {
			rfx_server_reap(srv, &sops, &sn);
			rfx_server_poll(srv, &sops, &sn, 256);
		}
		kill_child(pid);
		for (int i = 0; i < 1000 && sn.detach == 0; i++) {
			rfx_server_reap(srv, &sops, &sn);
			rfx_server_poll(srv, &sops, &sn, 256);
		}
		cr_expect_gt(sn.sends, 0);
		cr_expect_eq(sn.out_of_order, 0);
		cr_expect_eq(sn.tag, (uint64_t)sn.sends - 1, "tags 0..n-1, no gap");
		cr_expect_eq(sn.detach, 1);
		cr_expect_eq(sn.detach_reason, RFX_EDEAD);
		rfx_server_free(srv);
		srv = NULL;
	}
}

/* ---- block idle: a sleeping shard is woken by the client that publishes -- */

static int wake_pending(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms);
}

Test(client, sleeping_shard_is_woken_by_a_publish_and_only_then, .timeout = 10)
{
	struct seen sn = {0};
	struct rfx_client *c;
	struct got g = {0};

	start_server();
	int fd = rfx_server_wake_fd(srv);
	cr_assert_geq(fd, 0, "wake socket: %s", rfx_strerror(fd));
	cr_assert_eq(rfx_client_attach(&c, inst, NULL), 0);
	rfx_server_reap(srv, &sops, &sn);
	/* Awake shard: a publish makes no system call, nothing arrives. */
	int s = rfx_bind(c, "FIX.4.4:ME->VENUE", 0);
	cr_assert_geq(s, 0);
	cr_expect_eq(wake_pending(fd, 50), 0);
	/* Records already published: the shard must not sleep. */
	cr_expect_eq(rfx_server_sleep(srv), 1);
	cr_expect_eq(atomic_load(&rfx_server_seg(srv)->hdr->sleeping), 0);
	rfx_server_poll(srv, &sops, &sn, 64);
	rfx_server_flush(srv);
	cr_assert_eq(rfx_poll(c, &chandler, &g, 64), 1);
	/* Nothing pending: it sleeps, and the next publish wakes it. */
	cr_assert_eq(rfx_server_sleep(srv), 0);
	cr_assert_eq(rfx_send(c, s, "35=D\x01" "11=A\x01", 10, 1, 0), 0);
	cr_expect_eq(wake_pending(fd, 2000), 1, "no wake-up datagram");
	cr_expect_geq(rfx_server_wake_drain(srv), 1);
	rfx_server_awake(srv);
	cr_expect_eq(atomic_load(&rfx_seg_counters(rfx_server_seg(srv))[RFX_CTR_WAKEUPS]), 1);
	/* Batched sends wake only when published. */
	cr_assert_eq(rfx_server_sleep(srv), 1, "the send above is still unread");
	rfx_server_poll(srv, &sops, &sn, 64);
	cr_expect_eq(sn.sends, 1);
	cr_assert_eq(rfx_server_sleep(srv), 0);
	cr_assert_eq(rfx_send(c, s, "35=D\x01" "11=B\x01", 10, 2, RFX_SEND_MORE), 0);
	cr_expect_eq(wake_pending(fd, 50), 0);
	cr_assert_eq(rfx_flush(c), 0);
	cr_expect_eq(wake_pending(fd, 2000), 1);
	cr_expect_eq(rfx_server_wake_drain(srv), 1);
	rfx_server_awake(srv);
	rfx_client_detach(c);
}
