/*
 * Records that cross the client rings (record type = ring record type).
 * Fixed-width fields, little-endian host order (both ends share a host),
 * every struct a multiple of 8 bytes. The shard validates every record a
 * client wrote (size, type, session index, bound state) before acting.
 */
#ifndef RFX_SHM_PROTOCOL_H
#define RFX_SHM_PROTOCOL_H

#include <stdint.h>

#include "shm/ringfix.h"

#define RFX_PROTO_VERSION 1u

enum rfx_rec_type {
	/* client -> shard */
	RFX_REC_BIND = 1,         /* struct rfx_rec_bind */
	RFX_REC_UNBIND = 2,       /* struct rfx_rec_session */
	RFX_REC_SEND = 3,         /* struct rfx_rec_send + FIX body from 35= */
	RFX_REC_ACK = 4,          /* struct rfx_rec_ack */
	/* shard -> client */
	RFX_REC_DELIVER = 16,     /* struct rfx_rec_deliver + whole raw message */
	RFX_REC_EVENT = 17,       /* struct rfx_rec_event */
	RFX_REC_SEND_FAILED = 18, /* struct rfx_rec_send_failed */
};

/* Session events (struct rfx_rec_event.event): enum rfx_event_type, public
 * in ringfix.h. */

#define RFX_EVENT_TEXT_MAX 80u

struct rfx_rec_bind {
	uint32_t session;         /* directory index in this shard */
	uint32_t flags;
	uint64_t replay_from;     /* first inbound MsgSeqNum wanted; 0: live only */
	char id[64];              /* must equal the directory entry's id */
};

struct rfx_rec_session {
	uint32_t session;
	uint32_t reserved;
};

struct rfx_rec_send {
	uint32_t session;
	uint32_t flags;
	uint64_t tag;             /* client's own reference, echoed in failures */
};

struct rfx_rec_ack {
	uint32_t session;
	uint32_t reserved;
	uint64_t seq;             /* highest inbound MsgSeqNum fully processed */
};

/* rfx_rec_deliver.flags: RFX_MSG_POSSDUP, RFX_MSG_REPLAY (ringfix.h). */

struct rfx_rec_deliver {
	uint32_t session;
	uint32_t flags;
	uint64_t seq;
	int64_t recv_ns;          /* CLOCK_REALTIME at receive */
};

struct rfx_rec_event {
	uint32_t session;
	uint32_t event;           /* enum rfx_event_type */
	int32_t code;             /* 0 or an RFX_E* / -errno reason */
	uint32_t reserved;
	uint64_t seq;
	char text[RFX_EVENT_TEXT_MAX]; /* NUL-terminated by the shard */
};

struct rfx_rec_send_failed {
	uint32_t session;
	int32_t reason;           /* RFX_E* / -errno */
	uint64_t tag;
};

_Static_assert(sizeof(struct rfx_rec_bind) == 80, "bind size");
_Static_assert(sizeof(struct rfx_rec_session) == 8, "session size");
_Static_assert(sizeof(struct rfx_rec_send) == 16, "send size");
_Static_assert(sizeof(struct rfx_rec_ack) == 16, "ack size");
_Static_assert(sizeof(struct rfx_rec_deliver) == 24, "deliver size");
_Static_assert(sizeof(struct rfx_rec_event) == 104, "event size");
_Static_assert(sizeof(struct rfx_rec_send_failed) == 16, "send_failed size");

#endif
