/*
 * engine/session unit tests: one test per bug class other engines have had,
 * plus timers, initiator role, garbled input against a guard page and the
 * time helpers. The QuickFIX acceptance files run separately (conformance).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "unit/guard.h"

#define T_SEC H_NS

static struct harness h;

static void teardown(void)
{
	h_free(&h);
}

/* Logged-on acceptor: our Logon was seq 1, theirs too; next expected 2. */
static void logged_on(void (*tweak)(struct rfx_session_config *))
{
	h_init(&h, tweak);
	h_connect(&h);
	h_logon(&h, 1, 30);
	cr_assert(rfx_session_logged_on(&h.s));
	h_clear(&h);
}

Test(session, logon_response_shape, .fini = teardown, .timeout = 10)
{
	h_init(&h, NULL);
	h_connect(&h);
	h_logon(&h, 1, 30);
	cr_assert_eq(h.nout, 1);
	cr_assert(strstr(h.out[0], "|35=A|34=1|49=ISLD|52=20260102-10:00:00.000|56=TW|98=0|108=30|10="),
		  "%s", h.out[0]);
	cr_assert_eq(h.events[RFX_SESSION_EV_LOGON], 1);
}

/* Bug class: gap fill after the last resent application message must carry
 * NewSeqNo = one past the end of the range, not the last resent seq or the
 * range start. */
Test(session, gap_fill_after_last_resent_app_message, .fini = teardown, .timeout = 10)
{
	logged_on(NULL);
	cr_assert_eq(h_app(&h, "35=D|11=a|"), 2);
	cr_assert_eq(h_app(&h, "35=D|11=b|"), 3);
	h.now += 30 * T_SEC;
	rfx_session_on_timer(&h.s, h.now); /* heartbeat, seq 4, admin */
	cr_assert_eq(h_count(&h, "35=0|34=4|"), 1);
	h_clear(&h);
	h_peer(&h, "35=2|34=2|7=2|16=0|");
	cr_assert_eq(h.nout, 3, "%d", h.nout);
	cr_assert(strstr(h.out[0], "35=D|34=2|43=Y|49=ISLD|"), "%s", h.out[0]);
	cr_assert(strstr(h.out[0], "|122=20260102-10:00:00.000|11=a|"), "%s", h.out[0]);
	cr_assert(strstr(h.out[1], "35=D|34=3|43=Y|"), "%s", h.out[1]);
	cr_assert(strstr(h.out[2], "35=4|34=4|43=Y|"), "%s", h.out[2]);
	cr_assert(strstr(h.out[2], "|36=5|123=Y|"), "%s", h.out[2]);
}

/* Bug class: a ResendRequest whose range starts inside a run we answered with
 * a SequenceReset-GapFill earlier: the fill starts at the requested number. */
Test(session, resend_request_crossing_our_sequence_reset, .fini = teardown, .timeout = 10)
{
	logged_on(NULL);
	h_app(&h, "35=D|11=a|");            /* 2 */
	h_peer(&h, "35=1|34=2|112=X|");     /* our heartbeat 3 */
	h_peer(&h, "35=1|34=3|112=Y|");     /* our heartbeat 4 */
	h_app(&h, "35=D|11=b|");            /* 5 */
	h_peer(&h, "35=2|34=4|7=1|16=5|");
	h_clear(&h);
	h_peer(&h, "35=2|34=5|7=3|16=5|");
	cr_assert_eq(h.nout, 2);
	cr_assert(strstr(h.out[0], "35=4|34=3|43=Y|"), "%s", h.out[0]);
	cr_assert(strstr(h.out[0], "|36=5|123=Y|"), "%s", h.out[0]);
	cr_assert(strstr(h.out[1], "35=D|34=5|43=Y|"), "%s", h.out[1]);
	cr_assert_eq(h.s.next_target, 6);
	cr_assert_eq(h.s.next_sender, 6);
}

/* Bug class: PossDup message with a too-low MsgSeqNum is ignored, not a
 * logout, and not delivered twice. */
Test(session, poss_dup_too_low_is_ignored, .fini = teardown, .timeout = 10)
{
	char t[32], m[160];
	logged_on(NULL);
	h_peer(&h, "35=D|34=2|11=a|");
	h_peer(&h, "35=D|34=3|11=b|");
	cr_assert_eq(h.napp, 2);
	rfx_session_format_time(t, h.now - T_SEC, 3);
	snprintf(m, sizeof(m), "35=D|34=2|43=Y|122=%s|11=a|", t);
	h_clear(&h);
	h_peer(&h, m);
	cr_assert_eq(h.nout, 0, "%s", h_last(&h));
	cr_assert_eq(h.napp, 2);
	cr_assert(rfx_session_logged_on(&h.s));
	cr_assert_eq(h.s.next_target, 4);
	/* Without OrigSendingTime: Reject 373=1 371=122, still logged on. */
	h_peer(&h, "35=D|34=2|43=Y|11=a|");
	cr_assert(strstr(h_last(&h), "35=3|") && strstr(h_last(&h), "|371=122|372=D|373=1|"),
		  "%s", h_last(&h));
	/* Too low without PossDup: Logout with QuickFIX's text, disconnect. */
	h_peer(&h, "35=D|34=2|11=a|");
	cr_assert(strstr(h_last(&h), "35=5|") &&
			  strstr(h_last(&h), "58=MsgSeqNum too low, expecting 4 but received 2|"),
		  "%s", h_last(&h));
	cr_assert_eq(h.disconnects, 1);
}

static void no_reset_on_logon(struct rfx_session_config *c)
{
	c->reset_on_logon = false;
}

/* Bug class: ResetSeqNumFlag=Y while our numbers are high must reset both
 * sides to 1 without a spurious ResendRequest. */
Test(session, reset_seq_num_flag_without_spurious_resend, .fini = teardown, .timeout = 10)
{
	h_init(&h, no_reset_on_logon);
	/* As if loaded from a store holding 40/50. */
	memstore_set_seqs(&h, 40, 50);
	h.s.next_sender = 40;
	h.s.next_target = 50;
	h_connect(&h);
	h_peer(&h, "35=A|34=1|98=0|108=30|141=Y|");
	cr_assert_eq(h.nout, 1, "%d: %s", h.nout, h_last(&h));
	cr_assert(strstr(h.out[0], "35=A|34=1|"), "%s", h.out[0]);
	cr_assert(strstr(h.out[0], "|98=0|108=30|141=Y|"), "%s", h.out[0]);
	cr_assert_eq(h_count(&h, "35=2|"), 0);
	cr_assert_eq(h.s.next_target, 2);
	cr_assert_eq(h.s.next_sender, 2);
	cr_assert_eq(h.store->resets, 1);
}

/* Without the flag, a Logon above the expected number asks for the gap. */
Test(session, logon_too_high_requests_gap, .fini = teardown, .timeout = 10)
{
	h_init(&h, no_reset_on_logon);
	h.s.next_target = 3;
	h_connect(&h);
	h_logon(&h, 7, 30);
	cr_assert_eq(h.nout, 2);
	cr_assert(strstr(h.out[1], "35=2|34=2|") && strstr(h.out[1], "|7=3|16=0|"), "%s", h.out[1]);
}

static void chunk3(struct rfx_session_config *c)
{
	c->resend_chunk_size = 3;
}

/* Bug class: chunked ResendRequest (ResendRequestChunkSize): one chunk at a
 * time, the next one once the previous is satisfied, then in-order delivery. */
Test(session, chunked_resend_request, .fini = teardown, .timeout = 10)
{
	char m[64];
	logged_on(chunk3);
	h_peer(&h, "35=D|34=10|11=j|");
	cr_assert_eq(h.nout, 1);
	cr_assert(strstr(h.out[0], "35=2|") && strstr(h.out[0], "|7=2|16=4|"), "%s", h.out[0]);
	for (int s = 2; s <= 4; s++) {
		snprintf(m, sizeof(m), "35=D|34=%d|11=%d|", s, s);
		h_peer(&h, m);
	}
	cr_assert_eq(h.nout, 2, "%d", h.nout);
	cr_assert(strstr(h.out[1], "|7=5|16=7|"), "%s", h.out[1]);
	for (int s = 5; s <= 7; s++) {
		snprintf(m, sizeof(m), "35=D|34=%d|11=%d|", s, s);
		h_peer(&h, m);
	}
	cr_assert_eq(h.nout, 3);
	cr_assert(strstr(h.out[2], "|7=8|16=0|"), "%s", h.out[2]);
	h_peer(&h, "35=D|34=8|11=8|");
	h_peer(&h, "35=D|34=9|11=9|");
	cr_assert_eq(h.napp, 9);
	for (int i = 0; i < 9; i++)
		cr_assert_eq(h.app_seq[i], (uint64_t)i + 2);
	cr_assert_str_eq(h.app_id[8], "j");
	cr_assert_eq(h.s.next_target, 11);
	cr_assert_eq(h.nout, 3);
}

/* Bug class: admin messages inside a resend range are gap-filled, never
 * resent (a resent Heartbeat or Logon confuses peers). */
Test(session, resend_range_with_admin_messages, .fini = teardown, .timeout = 10)
{
	logged_on(NULL);
	h_peer(&h, "35=1|34=2|112=A|");     /* our 2: heartbeat */
	h_app(&h, "35=D|11=x|");            /* 3 */
	h_peer(&h, "35=1|34=3|112=B|");     /* 4: heartbeat */
	h_clear(&h);
	h_peer(&h, "35=2|34=4|7=1|16=0|");
	cr_assert_eq(h.nout, 3);
	cr_assert(strstr(h.out[0], "35=4|34=1|43=Y|") && strstr(h.out[0], "|36=3|123=Y|"), "%s",
		  h.out[0]);
	cr_assert(strstr(h.out[1], "35=D|34=3|43=Y|"), "%s", h.out[1]);
	cr_assert(strstr(h.out[2], "35=4|34=4|43=Y|") && strstr(h.out[2], "|36=5|123=Y|"), "%s",
		  h.out[2]);
	cr_assert_eq(h_count(&h, "35=0|"), 0);
	cr_assert_eq(h_count(&h, "35=A|"), 0);
}

/* Bug class: messages that arrive too high are held and delivered in order
 * once the gap fills (here by a SequenceReset-GapFill), each exactly once. */
Test(session, queued_too_high_delivered_in_order, .fini = teardown, .timeout = 10)
{
	char t[32], m[160];
	logged_on(NULL);
	h_peer(&h, "35=D|34=5|11=e|");
	h_peer(&h, "35=D|34=4|11=d|");
	cr_assert_eq(h_count(&h, "35=2|"), 1, "one ResendRequest only");
	cr_assert_eq(h.napp, 0);
	rfx_session_format_time(t, h.now, 3);
	snprintf(m, sizeof(m), "35=4|34=2|43=Y|122=%s|36=3|123=Y|", t);
	h_peer(&h, m);
	cr_assert_eq(h.napp, 0);
	snprintf(m, sizeof(m), "35=D|34=3|43=Y|122=%s|11=c|", t);
	h_peer(&h, m);
	cr_assert_eq(h.napp, 3);
	cr_assert_str_eq(h.app_id[0], "c");
	cr_assert_str_eq(h.app_id[1], "d");
	cr_assert_str_eq(h.app_id[2], "e");
	cr_assert_eq(h.s.next_target, 6);
	h_peer(&h, "35=D|34=6|11=f|");
	cr_assert_eq(h.napp, 4);
}

/* FIX TC 4a/6: heartbeat after HeartBtInt of silence, TestRequest "TEST" at
 * 1.5 intervals without input, disconnect at 2.4. */
Test(session, heartbeat_test_request_timeout, .fini = teardown, .timeout = 10)
{
	h_init(&h, NULL);
	h_connect(&h);
	h_logon(&h, 1, 10);
	h_clear(&h);
	int64_t t0 = h.now;
	int64_t dl = rfx_session_on_timer(&h.s, h.now);
	cr_assert_eq(dl, t0 + 10 * T_SEC);
	h.now = dl;
	dl = rfx_session_on_timer(&h.s, h.now);
	cr_assert_eq(h_count(&h, "35=0|34=2|"), 1);
	cr_assert_eq(dl, t0 + 15 * T_SEC);
	h.now = dl;
	dl = rfx_session_on_timer(&h.s, h.now);
	cr_assert(strstr(h_last(&h), "35=1|34=3|") && strstr(h_last(&h), "|112=TEST|"), "%s",
		  h_last(&h));
	cr_assert_eq(dl, t0 + 24 * T_SEC);
	h.now = dl;
	rfx_session_on_timer(&h.s, h.now);
	cr_assert_eq(h.disconnects, 1);
	cr_assert_eq(rfx_session_state(&h.s), RFX_SESSION_DISCONNECTED);
	cr_assert_eq(h.events[RFX_SESSION_EV_TIMEOUT], 1);
}

/* Logout handshake: our Logout, no answer within LogoutTimeout -> drop. */
Test(session, logout_timeout, .fini = teardown, .timeout = 10)
{
	logged_on(NULL);
	cr_assert_eq(rfx_session_logout(&h.s, "bye", h.now), 0);
	cr_assert(strstr(h_last(&h), "35=5|") && strstr(h_last(&h), "58=bye|"));
	h.now += 2 * T_SEC;
	rfx_session_on_timer(&h.s, h.now);
	cr_assert_eq(h.disconnects, 1);
}

static void initiator(struct rfx_session_config *c)
{
	c->role = RFX_SESSION_INITIATOR;
	c->heart_bt_int = 20;
	c->reset_on_logon = true;
	strcpy(c->username, "u");
	strcpy(c->password, "p");
}

Test(session, initiator_logon_and_timeout, .fini = teardown, .timeout = 10)
{
	h_init(&h, initiator);
	h_connect(&h);
	cr_assert_eq(h.nout, 1);
	cr_assert(strstr(h.out[0], "35=A|34=1|") &&
			  strstr(h.out[0], "|98=0|108=20|141=Y|553=u|554=p|"),
		  "%s", h.out[0]);
	h_peer(&h, "35=A|34=1|98=0|108=20|141=Y|");
	cr_assert(rfx_session_logged_on(&h.s));
	cr_assert_eq(h.nout, 1, "no second Logon: %s", h_last(&h));
	h_free(&h);
	h_init(&h, initiator);
	h_connect(&h);
	h.now += 10 * T_SEC;
	rfx_session_on_timer(&h.s, h.now);
	cr_assert_eq(h.disconnects, 1);
}

Test(session, first_message_must_be_logon, .fini = teardown, .timeout = 10)
{
	h_init(&h, NULL);
	h_connect(&h);
	h_peer(&h, "35=0|34=1|");
	cr_assert_eq(h.nout, 0);
	cr_assert_eq(h.disconnects, 1);
}

Test(session, store_failure_is_not_silent, .fini = teardown, .timeout = 10)
{
	logged_on(NULL);
	h.store->fail_put = 1;
	cr_assert_lt(h_app(&h, "35=D|11=a|"), 0);
	cr_assert_eq(h.nout, 0, "a message we could not store was sent");
	cr_assert_eq(h.events[RFX_SESSION_EV_STORE_ERROR], 1);
	cr_assert_eq(h.s.next_sender, 2);
}

Test(session, send_app_hoists_header_fields, .fini = teardown, .timeout = 10)
{
	logged_on(NULL);
	cr_assert_eq(h_app(&h, "35=D|97=Y|115=X|11=a|55=IBM|"), 2);
	cr_assert(strstr(h_last(&h), "35=D|34=2|49=ISLD|52=20260102-10:00:00.000|56=TW|97=Y|115=X|11=a|55=IBM|10="),
		  "%s", h_last(&h));
	cr_assert_eq(h_app(&h, "35=0|"), -EINVAL, "admin types are the session's");
	cr_assert_eq(h_app(&h, "11=a|"), -EINVAL);
}

/* Inputs against a guard page: truncated or garbled messages never make the
 * parser read past the bytes it was given. */
Test(session, garbled_inputs_against_guard_page, .fini = teardown, .timeout = 10)
{
	static const char *cases[] = {
		"8=FIX.4.4|9=5|35=0|",
		"8=FIX.4.4|9=5|35=0|34=2|10=",
		"8=FIX.4.4|9=10|35=0|34=2|10=000",
		"8=FIX.4.4|9=10|35=0|34=2|95=100|96=ab|10=000|",
		"8=FIX.4.4|9=10|35=0|34=2|95=2|96=ab",
		"8=FIX.4.4|9=10|35=0|3a4=2|10=000|",
		"8=FIX.4.4|9=10|35=0|=2|10=000|",
		"8=FIX.4.4|9=10|35=0|-=2|10=000|",
		"8",
		"",
	};
	logged_on(NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char tmp[256];
		size_t n = strlen(cases[i]);
		for (size_t k = 0; k < n; k++)
			tmp[k] = cases[i][k] == '|' ? '\001' : cases[i][k];
		struct guard g;
		char *p = guard_place(&g, tmp, n);
		cr_assert(p);
		rfx_session_on_message(&h.s, p, n, h.now);
		guard_release(&g);
		cr_assert(rfx_session_logged_on(&h.s), "case %zu", i);
	}
	cr_assert_eq(h.nout, 0);
	cr_assert_eq(h.s.next_target, 2);
	cr_assert_geq(h.events[RFX_SESSION_EV_GARBLED], 9);
}

Test(session, time_format_and_parse, .timeout = 10)
{
	char b[40];
	int64_t ns;
	cr_assert_eq(rfx_session_format_time(b, 1767348000LL * H_NS + 123456789, 3), 21);
	cr_assert_str_eq(b, "20260102-10:00:00.123");
	rfx_session_format_time(b, 951782400LL * H_NS, 0); /* leap day 2000 */
	cr_assert_str_eq(b, "20000229-00:00:00");
	cr_assert_eq(rfx_session_parse_time("20000229-00:00:00.5", 19, &ns), 0);
	cr_assert_eq(ns, 951782400LL * H_NS + 500000000);
	cr_assert_eq(rfx_session_parse_time("2000022900:00:00", 16, &ns), -EINVAL);
	cr_assert_eq(rfx_session_parse_time("20001329-00:00:00", 17, &ns), -EINVAL);
}

static void fix40(struct rfx_session_config *c)
{
	strcpy(c->begin_string, "FIX.4.0");
}

/* FIX.4.0/4.1: no RefTagID/RefMsgType/SessionRejectReason fields; the tag goes
 * into the text; open-ended ResendRequest is 999999; SendingTime in seconds. */
Test(session, fix40_reject_and_resend_shapes, .fini = teardown, .timeout = 10)
{
	logged_on(fix40);
	h_peer(&h, "35=D|34=1|43=Y|11=a|");
	cr_assert(strstr(h_last(&h), "|45=1|58=Required tag missing (122)|10="), "%s", h_last(&h));
	h_peer(&h, "35=0|34=9|");
	cr_assert(strstr(h_last(&h), "35=2|") && strstr(h_last(&h), "|7=2|16=999999|"), "%s",
		  h_last(&h));
	cr_assert(strstr(h_last(&h), "|52=20260102-10:00:00|"), "%s", h_last(&h));
}

static int refuse(void *ctx, const struct rfx_session_msg *logon, const char **text)
{
	(void)ctx;
	const struct rfx_session_field *pw = rfx_session_msg_get(logon, 554);
	if (pw && pw->len == 6 && memcmp(pw->p, "secret", 6) == 0)
		return 0;
	*text = "bad credentials";
	return -1;
}

Test(session, logon_hook_refuses_with_logout, .fini = teardown, .timeout = 10)
{
	h_init(&h, NULL);
	h.s.ops.on_logon = refuse;
	h_connect(&h);
	h_peer(&h, "35=A|34=1|98=0|108=30|553=u|554=wrong|");
	cr_assert_eq(h.nout, 1);
	cr_assert(strstr(h.out[0], "35=5|") && strstr(h.out[0], "58=bad credentials|"), "%s",
		  h.out[0]);
	cr_assert_eq(h.disconnects, 1);
	cr_assert(!rfx_session_logged_on(&h.s));
	h_connect(&h);
	h_peer(&h, "35=A|34=1|98=0|108=30|553=u|554=secret|");
	cr_assert(rfx_session_logged_on(&h.s));
}

static void reset_on_logout_disconnect(struct rfx_session_config *c)
{
	c->reset_on_logon = false;
	c->reset_on_logout = true;
}

Test(session, reset_on_logout_and_disconnect, .fini = teardown, .timeout = 10)
{
	logged_on(reset_on_logout_disconnect);
	h_app(&h, "35=D|11=a|");
	h_peer(&h, "35=5|34=2|");
	cr_assert(strstr(h_last(&h), "35=5|34=3|"), "%s", h_last(&h));
	cr_assert_eq(h.disconnects, 1);
	cr_assert_eq(h.s.next_sender, 1);
	cr_assert_eq(h.s.next_target, 1);
	h.s.cfg.reset_on_logout = false;
	h.s.cfg.reset_on_disconnect = true;
	h_connect(&h);
	h_logon(&h, 1, 30);
	h_app(&h, "35=D|11=b|");
	cr_assert_eq(h.s.next_sender, 3);
	rfx_session_on_disconnect(&h.s, h.now);
	cr_assert_eq(h.s.next_sender, 1);
	cr_assert_eq(h.disconnects, 1, "transport-reported drops are not echoed back");
}

Test(session, sending_time_accuracy, .fini = teardown, .timeout = 10)
{
	char t[32], m[96];
	logged_on(NULL);
	rfx_session_format_time(t, h.now - 121 * T_SEC, 0);
	snprintf(m, sizeof(m), "35=0|34=2|52=%s|", t);
	h_peer(&h, m);
	cr_assert_eq(h.nout, 2);
	cr_assert(strstr(h.out[0], "|45=2|58=SendingTime accuracy problem|372=0|373=10|"), "%s",
		  h.out[0]);
	cr_assert(strstr(h.out[1], "35=5|"), "%s", h.out[1]);
	h_peer(&h, "35=5|34=3|");
	cr_assert_eq(h.nout, 2, "no second Logout");
	cr_assert_eq(h.disconnects, 1);
}

Test(session, acceptor_logon_timeout, .fini = teardown, .timeout = 10)
{
	h_init(&h, NULL);
	h_connect(&h);
	int64_t dl = rfx_session_on_timer(&h.s, h.now);
	cr_assert_eq(dl, h.now + 10 * T_SEC);
	h.now = dl;
	rfx_session_on_timer(&h.s, h.now);
	cr_assert_eq(h.disconnects, 1);
	cr_assert_eq(h.nout, 0);
}

/* Chunked request whose gap is closed early by a GapFill: the next chunk
 * starts after what we have, and messages already queued are not asked
 * for again. */
Test(session, chunked_resend_after_gap_fill_skips_what_we_hold, .fini = teardown, .timeout = 10)
{
	char t[32], m[160];
	logged_on(chunk3);
	h_peer(&h, "35=D|34=12|11=l|");             /* RR 2..4, target 11 */
	h_peer(&h, "35=D|34=8|11=h|");              /* queued */
	cr_assert_eq(h_count(&h, "35=2|"), 1);
	rfx_session_format_time(t, h.now, 3);
	snprintf(m, sizeof(m), "35=4|34=2|43=Y|122=%s|36=7|123=Y|", t);
	h_peer(&h, m);                              /* fills 2..6 */
	cr_assert_eq(h.s.next_target, 7);
	h_peer(&h, "35=D|34=7|11=g|");              /* >= chunk end: next chunk */
	cr_assert_eq(h_count(&h, "35=2|"), 2);
	cr_assert(strstr(h_last(&h), "|7=9|16=0|"), "%s", h_last(&h));
	cr_assert_eq(h.napp, 2);
	cr_assert_str_eq(h.app_id[1], "h");
}
