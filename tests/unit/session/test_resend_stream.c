/* engine/session: a ResendRequest served as a stream. With ops.send_room
 * the session pauses when the next resent message would not fit and goes
 * on from rfx_session_resend_continue; what the peer gets is the same as in
 * one go: every stored application message in order with PossDup=Y, admin
 * messages as gap fills, the trailing gap fill last. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static struct harness h;
static size_t room;
static int (*real_send)(void *ctx, const char *buf, size_t len);

static void teardown(void)
{
	h_free(&h);
}

/* The transport: `room` bytes free, each send uses its length. */
static size_t room_fn(void *ctx)
{
	(void)ctx;
	return room;
}

static int counting_send(void *ctx, const char *buf, size_t len)
{
	room = room > len ? room - len : 0;
	return real_send(ctx, buf, len);
}

/* Logged on; we sent app 2, 3, heartbeat 4, app 5..14; then a transport
 * with `start` bytes of room. */
static void setup_stream(size_t start)
{
	h_init(&h, NULL);
	h_connect(&h);
	h_logon(&h, 1, 30);
	cr_assert(rfx_session_logged_on(&h.s));
	h_app(&h, "35=D|11=a2|");
	h_app(&h, "35=D|11=a3|");
	h_peer(&h, "35=1|34=2|112=T|");       /* our heartbeat 4 */
	for (int i = 5; i <= 14; i++) {
		char b[32];
		snprintf(b, sizeof(b), "35=D|11=a%d|", i);
		h_app(&h, b);
	}
	cr_assert_eq(h.s.next_sender, 15);
	h_clear(&h);
	real_send = h.s.ops.send;
	h.s.ops.send = counting_send;
	h.s.ops.send_room = room_fn;
	room = start;
}

static int seq_of(const char *m)
{
	const char *p = strstr(m, "|34=");
	return p ? atoi(p + 4) : -1;
}

Test(resend_stream, pauses_and_continues_in_order, .fini = teardown, .timeout = 10)
{
	setup_stream(800);   /* about two resent messages per round */
	h_peer(&h, "35=2|34=3|7=1|16=0|");
	cr_assert(rfx_session_resend_pending(&h.s));
	int first = h.nout, rounds = 1;
	cr_assert_lt(first, 6, "paused early (%d sent)", first);
	while (rfx_session_resend_pending(&h.s)) {
		room = 800;
		rfx_session_resend_continue(&h.s, h.now);
		cr_assert_lt(++rounds, 100);
	}
	cr_expect_gt(rounds, 3, "served in several parts");
	cr_assert_not(rfx_session_resend_continue(&h.s, h.now));
	/* 1 gap fill to 2, D 2, D 3, gap fill 4 -> 5, D 5..14. */
	cr_assert_eq(h.nout, 14, "%d messages", h.nout);
	cr_expect(strstr(h.out[0], "35=4|34=1|43=Y|") && strstr(h.out[0], "|36=2|123=Y|"),
		  "%s", h.out[0]);
	cr_expect(strstr(h.out[3], "35=4|34=4|43=Y|") && strstr(h.out[3], "|36=5|123=Y|"),
		  "%s", h.out[3]);
	int want[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
	for (int i = 0; i < 14; i++) {
		cr_expect_eq(seq_of(h.out[i]), want[i], "message %d: %s", i, h.out[i]);
		cr_expect(strstr(h.out[i], "|43=Y|"), "PossDup: %s", h.out[i]);
		if (i != 0 && i != 3)
			cr_expect(strstr(h.out[i], "35=D|"), "%s", h.out[i]);
	}
	char id[16];
	snprintf(id, sizeof(id), "|11=a14|");
	cr_expect(strstr(h.out[13], id), "%s", h.out[13]);
	cr_expect_eq(h.events[RFX_SESSION_EV_RESEND_REQUEST_SERVED], 1);
	cr_expect_eq(h.s.next_sender, 15, "resends reuse their numbers");
}

/* A pause right after a run of admin messages keeps the run: the gap fill
 * still covers it when the stream goes on. */
Test(resend_stream, pause_inside_a_gap_keeps_it, .fini = teardown, .timeout = 10)
{
	setup_stream(0);     /* no room at all: nothing but the pending state */
	h_peer(&h, "35=2|34=3|7=4|16=6|");
	cr_assert(rfx_session_resend_pending(&h.s));
	cr_assert_eq(h.nout, 0);
	room = 100000;
	cr_assert_not(rfx_session_resend_continue(&h.s, h.now));
	cr_assert_eq(h.nout, 3, "%d", h.nout);
	cr_expect(strstr(h.out[0], "35=4|34=4|43=Y|") && strstr(h.out[0], "|36=5|"), "%s",
		  h.out[0]);
	cr_expect(strstr(h.out[1], "35=D|34=5|43=Y|"), "%s", h.out[1]);
	cr_expect(strstr(h.out[2], "35=D|34=6|43=Y|"), "%s", h.out[2]);
}

/* A disconnect drops the paused resend; a new request replaces one. */
Test(resend_stream, disconnect_and_new_request, .fini = teardown, .timeout = 10)
{
	setup_stream(0);
	h_peer(&h, "35=2|34=3|7=1|16=0|");
	cr_assert(rfx_session_resend_pending(&h.s));
	h_peer(&h, "35=2|34=4|7=13|16=14|");
	cr_assert(rfx_session_resend_pending(&h.s));
	room = 100000;
	cr_assert_not(rfx_session_resend_continue(&h.s, h.now));
	cr_assert_eq(h.nout, 2, "only the second request's range: %d", h.nout);
	cr_expect_eq(seq_of(h.out[0]), 13);
	cr_expect_eq(seq_of(h.out[1]), 14);
	room = 0;
	h_peer(&h, "35=2|34=5|7=1|16=0|");
	cr_assert(rfx_session_resend_pending(&h.s));
	rfx_session_on_disconnect(&h.s, h.now);
	cr_assert_not(rfx_session_resend_pending(&h.s));
	room = 100000;
	cr_assert_not(rfx_session_resend_continue(&h.s, h.now));
}
