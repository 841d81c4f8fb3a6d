/*
 * RefreshOnLogon against the real LMDB store: the session's store callbacks
 * read and write the store's session record as the shard wires them, and the
 * record changes behind the session's back (another writer of the same
 * session record, as an operator's sequence-number change would) between two
 * connections. With RefreshOnLogon=Y the next Logon uses the stored numbers.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/session.h"
#include "../store/helpers.h"

struct lm {
	struct rfx_store *store;
	struct rfx_store_session *ss;
	char sent[4][256];
	int nsent;
};

static int lm_get_seqs(void *ctx, uint64_t *ns, uint64_t *nt)
{
	struct lm *l = ctx;
	struct rfx_store_record r;
	rfx_store_session_get(l->ss, &r);
	*ns = r.next_sender_seq;
	*nt = r.next_target_seq;
	return 0;
}

static int lm_set_seqs(void *ctx, uint64_t ns, uint64_t nt)
{
	struct lm *l = ctx;
	return rfx_store_session_set(l->store, l->ss, ns, nt);
}

static int lm_send(void *ctx, const char *buf, size_t len)
{
	struct lm *l = ctx;
	if (l->nsent < 4) {
		size_t n = len < 255 ? len : 255;
		for (size_t i = 0; i < n; i++)
			l->sent[l->nsent][i] = buf[i] == '\001' ? '|' : buf[i];
		l->sent[l->nsent++][n] = 0;
	}
	return 0;
}

static char root[512];

static void run(bool refresh, const char *want_logon)
{
	struct lm l = {0};
	struct rfx_store_options opt = {.path = root, .durability = RFX_STORE_NONE};
	char err[256];
	int64_t now = th_now_ns();
	cr_assert_eq(rfx_store_open(&l.store, &opt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rfx_store_session_open(l.store, "FIX.4.4:ME->THEM", 16, now, &l.ss), 0);

	struct rfx_session_config c;
	rfx_session_config_default(&c);
	strcpy(c.begin_string, "FIX.4.4");
	strcpy(c.sender_comp_id, "ME");
	strcpy(c.target_comp_id, "THEM");
	c.role = RFX_SESSION_INITIATOR;
	c.refresh_on_logon = refresh;
	struct rfx_session_ops ops = {.ctx = &l, .send = lm_send, .store_get_seqs = lm_get_seqs,
				      .store_set_seqs = lm_set_seqs};
	static char out[2048], q[1024];
	static struct rfx_session_field f[64];
	struct rfx_session_mem mem = {out, sizeof(out), q, sizeof(q), f, 64};
	struct rfx_session s;
	cr_assert_eq(rfx_session_init(&s, &c, &ops, &mem), 0);
	cr_assert_eq(s.next_sender, 1);

	/* The record moves while the session is disconnected. */
	cr_assert_eq(rfx_store_session_set(l.store, l.ss, 40, 7), 0);
	cr_assert_eq(rfx_session_on_connect(&s, now), 0);
	cr_assert_eq(l.nsent, 1);
	cr_assert(strstr(l.sent[0], want_logon), "%s", l.sent[0]);
	/* Whatever the Logon used is what the store holds now. */
	struct rfx_store_record r;
	rfx_store_session_get(l.ss, &r);
	cr_assert_eq(r.next_sender_seq, s.next_sender);
	rfx_session_on_disconnect(&s, now);
	rfx_store_close(l.store);
}

TestSuite(refresh_lmdb, .timeout = 30);

Test(refresh_lmdb, logon_uses_the_stored_numbers)
{
	th_tmpdir(root, sizeof(root));
	cr_assert(root[0]);
	run(true, "35=A|34=40|");
	th_rmtree(root);
}

Test(refresh_lmdb, without_refresh_the_numbers_in_memory_win)
{
	th_tmpdir(root, sizeof(root));
	cr_assert(root[0]);
	run(false, "35=A|34=1|");
	th_rmtree(root);
}
