/*
 * rfx_session_reset, the operator's sequence reset (`ringfix reset`): in
 * session by a Logon with ResetSeqNumFlag=Y, or locally while disconnected.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

static struct harness h;

static void teardown(void)
{
	h_free(&h);
}

static void initiator(struct rfx_session_config *c)
{
	c->role = RFX_SESSION_INITIATOR;
	c->heart_bt_int = 30;
	c->reset_on_logon = false;
}

static void acceptor(struct rfx_session_config *c)
{
	c->reset_on_logon = false;
}

/* Logged on at 5/7 (from a store), as either role. */
static void logged_on_high(void (*tweak)(struct rfx_session_config *))
{
	h_init(&h, tweak);
	memstore_set_seqs(&h, 5, 7);
	h.s.next_sender = 5;
	h.s.next_target = 7;
	h_connect(&h);
	if (h.s.cfg.role == RFX_SESSION_INITIATOR)
		h_peer(&h, "35=A|34=7|98=0|108=30|");
	else
		h_logon(&h, 7, 30);
	cr_assert(rfx_session_logged_on(&h.s));
	cr_assert_eq(h.s.next_sender, 6);
	cr_assert_eq(h.s.next_target, 8);
	h_clear(&h);
}

Test(session_reset, in_session_as_acceptor, .fini = teardown, .timeout = 10)
{
	logged_on_high(acceptor);
	cr_assert_eq(rfx_session_reset(&h.s, h.now), 0);
	cr_assert_eq(h.nout, 1);
	cr_assert(strstr(h.out[0], "35=A|34=1|") && strstr(h.out[0], "|141=Y|"), "%s", h.out[0]);
	cr_assert_eq(h.store->resets, 1);
	/* The counterparty answers in kind: no second Logon from us, both at 2. */
	h_peer(&h, "35=A|34=1|98=0|108=30|141=Y|");
	cr_assert_eq(h.nout, 1, "no second Logon: %s", h_last(&h));
	cr_assert(rfx_session_logged_on(&h.s));
	cr_assert_eq(h.s.next_sender, 2);
	cr_assert_eq(h.s.next_target, 2);
	cr_assert_eq(h.store->resets, 1);
	cr_assert_eq(h_count(&h, "35=2|"), 0, "no ResendRequest");
	/* Traffic continues from 2. */
	cr_assert_eq(h_app(&h, "35=D|11=a|"), 2);
	h_peer(&h, "35=D|34=2|11=b|");
	cr_assert_eq(h.napp, 1);
	cr_assert_eq(h.s.next_target, 3);
}

Test(session_reset, in_session_as_initiator, .fini = teardown, .timeout = 10)
{
	logged_on_high(initiator);
	cr_assert_eq(rfx_session_reset(&h.s, h.now), 0);
	cr_assert(strstr(h_last(&h), "35=A|34=1|") && strstr(h_last(&h), "|141=Y|"), "%s",
		  h_last(&h));
	h_peer(&h, "35=A|34=1|98=0|108=30|141=Y|");
	cr_assert_eq(h.nout, 1, "%s", h_last(&h));
	cr_assert_eq(h.s.next_sender, 2);
	cr_assert_eq(h.s.next_target, 2);
}

/* The other side of an in-session reset: a Logon(141=Y, 34=1) while logged
 * on resets us and is answered with our own. */
Test(session_reset, answered_when_received, .fini = teardown, .timeout = 10)
{
	logged_on_high(acceptor);
	h_peer(&h, "35=A|34=1|98=0|108=30|141=Y|");
	cr_assert_eq(h.nout, 1);
	cr_assert(strstr(h.out[0], "35=A|34=1|") && strstr(h.out[0], "|141=Y|"), "%s", h.out[0]);
	cr_assert_eq(h.s.next_sender, 2);
	cr_assert_eq(h.s.next_target, 2);
}

Test(session_reset, disconnected_initiator_resets_at_next_logon, .fini = teardown, .timeout = 10)
{
	h_init(&h, initiator);
	memstore_set_seqs(&h, 5, 7);
	h.s.next_sender = 5;
	h.s.next_target = 7;
	cr_assert_eq(rfx_session_reset(&h.s, h.now), 0);
	cr_assert_eq(h.s.next_sender, 1);
	cr_assert_eq(h.s.next_target, 1);
	cr_assert_eq(h.store->resets, 1);
	cr_assert_eq(h.nout, 0, "nothing sent while disconnected");
	h_connect(&h);
	cr_assert(strstr(h_last(&h), "35=A|34=1|") && strstr(h_last(&h), "|141=Y|"), "%s",
		  h_last(&h));
	h_peer(&h, "35=A|34=1|98=0|108=30|141=Y|");
	cr_assert(rfx_session_logged_on(&h.s));
	cr_assert_eq(h.s.next_target, 2);
	/* Only that one Logon carries the flag. */
	h_peer(&h, "35=5|34=2|");
	h_connect(&h);
	cr_assert(strstr(h_last(&h), "35=A|34=3|") && !strstr(h_last(&h), "141=Y"), "%s",
		  h_last(&h));
}

Test(session_reset, disconnected_acceptor_resets_locally, .fini = teardown, .timeout = 10)
{
	h_init(&h, acceptor);
	h.s.next_sender = 5;
	h.s.next_target = 7;
	cr_assert_eq(rfx_session_reset(&h.s, h.now), 0);
	cr_assert_eq(h.s.next_sender, 1);
	cr_assert_eq(h.s.next_target, 1);
	h_connect(&h);
	h_logon(&h, 1, 30);
	cr_assert(strstr(h_last(&h), "35=A|34=1|") && !strstr(h_last(&h), "141=Y"), "%s",
		  h_last(&h));
}

Test(session_reset, refused_during_handshakes, .fini = teardown, .timeout = 10)
{
	h_init(&h, acceptor);
	h_connect(&h); /* waiting for the Logon */
	cr_assert_eq(rfx_session_reset(&h.s, h.now), RFX_ESTATE);
	h_logon(&h, 1, 30);
	rfx_session_logout(&h.s, NULL, h.now);
	cr_assert_eq(rfx_session_reset(&h.s, h.now), RFX_ESTATE);
}
