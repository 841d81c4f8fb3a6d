/*
 * The command mailbox in a shard's segment header: how the supervisor asks a
 * shard to act on one of its sessions (`ringfix logout|logon|reset|disconnect`)
 * and hears the answer.
 *
 * One request at a time, sequence-numbered. The supervisor (the only writer of
 * the request half) fills op and session, then stores req = previous + 1 with
 * release. The shard polls once per loop turn: one acquire load of req against
 * the last number it answered, so an idle mailbox costs a single load of a line
 * nobody writes. A new number is copied out (and re-checked, seqlock style, in
 * case the supervisor re-posted meanwhile), run once, answered with result and
 * text, and acknowledged by storing ack = req with release. The supervisor
 * reads the answer after an acquire load that sees ack == its number.
 *
 * A request is executed at most once: a shard acts only on a number it has not
 * answered. A shard that restarts builds a fresh header (req = ack = 0), so a
 * request it never answered times out at the supervisor, which reports that
 * and derives its next number from the segment, never from its own memory.
 * Everything read from the other side is bounded and NUL-terminated here.
 */
#ifndef RFX_SHM_MAILBOX_H
#define RFX_SHM_MAILBOX_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RFX_MAILBOX_SESSION_MAX 64u  /* incl. NUL, = RFX_SESSION_ID_MAX */
#define RFX_MAILBOX_TEXT_MAX 240u    /* incl. NUL */

enum rfx_mailbox_op {
	RFX_MAILBOX_LOGOUT = 1,      /* Logout handshake; no logon until LOGON */
	RFX_MAILBOX_LOGON = 2,       /* allow logon again (an initiator connects) */
	RFX_MAILBOX_RESET = 3,       /* sequence numbers to 1 (rfx_session_reset) */
	RFX_MAILBOX_DISCONNECT = 4,  /* drop the connection without Logout */
};

struct rfx_mailbox {
	/* Request: written by the supervisor only. */
	_Atomic uint64_t req;
	uint32_t op;                 /* enum rfx_mailbox_op */
	uint32_t reserved0;
	char session[RFX_MAILBOX_SESSION_MAX];
	uint8_t pad0[128 - 80];
	/* Answer: written by the shard only. */
	_Atomic uint64_t ack;
	int32_t result;              /* 0 or a negative code (engine/error.h) */
	uint32_t reserved1;
	char text[RFX_MAILBOX_TEXT_MAX];
};

/* A request as the shard copied it: session always NUL-terminated. */
struct rfx_mailbox_req {
	uint64_t seq;
	uint32_t op;
	char session[RFX_MAILBOX_SESSION_MAX];
};

/* Supervisor: post a request (session is truncated to fit). Returns its
 * sequence number (never 0). */
uint64_t rfx_mailbox_post(struct rfx_mailbox *mb, uint32_t op, const char *session);

/* Supervisor: 1 and the answer (text NUL-terminated into text[n]) once the
 * shard acknowledged seq, else 0. */
int rfx_mailbox_answer(const struct rfx_mailbox *mb, uint64_t seq, int32_t *result,
		       char *text, size_t n);

/* Shard: the number it has answered last (at start: the segment's ack). */
uint64_t rfx_mailbox_last(const struct rfx_mailbox *mb);

/* Shard, once per turn: 1 and a copy of a request newer than *last (then
 * *last = its number: answer it with rfx_mailbox_reply), or 0 when idle. */
int rfx_mailbox_take(const struct rfx_mailbox *mb, uint64_t *last, struct rfx_mailbox_req *out);

/* Shard: answer request seq (text may be NULL; truncated to fit). */
void rfx_mailbox_reply(struct rfx_mailbox *mb, uint64_t seq, int32_t result, const char *text);

#endif
