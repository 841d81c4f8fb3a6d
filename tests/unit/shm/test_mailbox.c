/*
 * shm/mailbox: the supervisor -> shard command mailbox. Sequence protocol
 * (each request taken once, answers matched to their number), and bytes the
 * other side left without a terminator.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "shm/mailbox.h"
#include "shm/segment.h"

static struct rfx_mailbox mb;

static void fresh(void)
{
	memset(&mb, 0, sizeof(mb));
}

Test(mailbox, lives_in_the_segment_header, .timeout = 10)
{
	cr_assert_eq(offsetof(struct rfx_seg_hdr, mailbox) % 128, 0);
	cr_assert(offsetof(struct rfx_seg_hdr, mailbox) >= offsetof(struct rfx_seg_hdr, heartbeat_ns) + 128,
		  "not on the heartbeat's lines");
	cr_assert_eq(sizeof(struct rfx_seg_hdr), RFX_SEG_HDR_SIZE);
}

Test(mailbox, request_taken_once_and_answered, .init = fresh, .timeout = 10)
{
	struct rfx_mailbox_req rq;
	uint64_t last = rfx_mailbox_last(&mb);
	int32_t result = 1;
	char text[64];

	cr_assert_eq(rfx_mailbox_take(&mb, &last, &rq), 0, "idle");
	uint64_t seq = rfx_mailbox_post(&mb, RFX_MAILBOX_RESET, "FIX.4.4:A->B");
	cr_assert_neq(seq, 0);
	cr_assert_eq(rfx_mailbox_answer(&mb, seq, &result, text, sizeof(text)), 0, "not yet");
	cr_assert_eq(rfx_mailbox_take(&mb, &last, &rq), 1);
	cr_assert_eq(rq.seq, seq);
	cr_assert_eq(rq.op, RFX_MAILBOX_RESET);
	cr_assert_str_eq(rq.session, "FIX.4.4:A->B");
	cr_assert_eq(rfx_mailbox_take(&mb, &last, &rq), 0, "executed exactly once");
	rfx_mailbox_reply(&mb, seq, -5, "refused");
	cr_assert_eq(rfx_mailbox_answer(&mb, seq, &result, text, sizeof(text)), 1);
	cr_assert_eq(result, -5);
	cr_assert_str_eq(text, "refused");
	/* A shard restarted on the same segment starts from its ack. */
	uint64_t again = rfx_mailbox_last(&mb);
	cr_assert_eq(rfx_mailbox_take(&mb, &again, &rq), 0);
}

Test(mailbox, newer_request_wins_and_old_answer_does_not_count, .init = fresh, .timeout = 10)
{
	struct rfx_mailbox_req rq;
	uint64_t last = 0;
	int32_t result;
	char text[16];

	uint64_t a = rfx_mailbox_post(&mb, RFX_MAILBOX_LOGOUT, "FIX.4.4:A->B");
	/* The supervisor gave up on a and posted b before the shard looked. */
	uint64_t b = rfx_mailbox_post(&mb, RFX_MAILBOX_LOGON, "FIX.4.4:C->D");
	cr_assert_gt(b, a);
	cr_assert_eq(rfx_mailbox_take(&mb, &last, &rq), 1);
	cr_assert_eq(rq.seq, b);
	cr_assert_eq(rq.op, RFX_MAILBOX_LOGON);
	cr_assert_str_eq(rq.session, "FIX.4.4:C->D");
	rfx_mailbox_reply(&mb, b, 0, "ok");
	cr_assert_eq(rfx_mailbox_answer(&mb, a, &result, text, sizeof(text)), 0);
	cr_assert_eq(rfx_mailbox_answer(&mb, b, &result, text, sizeof(text)), 1);
}

Test(mailbox, sequence_skips_zero, .init = fresh, .timeout = 10)
{
	atomic_store(&mb.req, UINT64_MAX);
	cr_assert_eq(rfx_mailbox_post(&mb, RFX_MAILBOX_LOGON, "x"), 1);
}

Test(mailbox, unterminated_bytes_are_bounded, .init = fresh, .timeout = 10)
{
	struct rfx_mailbox_req rq;
	uint64_t last = 0;
	int32_t result;
	char text[RFX_MAILBOX_TEXT_MAX + 10];
	char small[8];

	memset(mb.session, 'S', sizeof(mb.session));
	memset(mb.text, 'T', sizeof(mb.text));
	atomic_store(&mb.req, 7);
	atomic_store(&mb.ack, 9);
	cr_assert_eq(rfx_mailbox_take(&mb, &last, &rq), 1);
	cr_assert_eq(strlen(rq.session), RFX_MAILBOX_SESSION_MAX - 1);
	cr_assert_eq(rfx_mailbox_answer(&mb, 9, &result, text, sizeof(text)), 1);
	cr_assert_eq(strlen(text), RFX_MAILBOX_TEXT_MAX - 1);
	cr_assert_eq(rfx_mailbox_answer(&mb, 9, &result, small, sizeof(small)), 1);
	cr_assert_str_eq(small, "TTTTTTT");
	/* Over-long inputs are cut, never overflow. */
	char big[300];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	rfx_mailbox_post(&mb, RFX_MAILBOX_RESET, big);
	cr_assert_eq(mb.session[RFX_MAILBOX_SESSION_MAX - 1], 0);
	rfx_mailbox_reply(&mb, 3, 0, big);
	cr_assert_eq(mb.text[RFX_MAILBOX_TEXT_MAX - 1], 0);
	rfx_mailbox_reply(&mb, 4, 0, NULL);
	cr_assert_eq(mb.text[0], 0);
}
