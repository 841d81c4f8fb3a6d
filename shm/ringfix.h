/*
 * ringfix.h — libringfix, the strategy side of ringfix.
 *
 * A strategy process attaches to a running ringfix instance by name, binds
 * the FIX sessions it trades on, sends application messages and polls for
 * inbound messages and session events. Everything moves through
 * single-producer/single-consumer rings in shared memory: sending and polling
 * make no system call and allocate nothing.
 *
 * Typical use:
 *
 *     struct rfx_client *c;
 *     int rc = rfx_client_attach(&c, "prod", NULL);
 *     if (rc < 0) { fprintf(stderr, "attach: %s\n", rfx_strerror(rc)); ... }
 *     int s = rfx_bind(c, "FIX.4.4:ME->VENUE", last_processed + 1);
 *     rfx_send(c, s, "35=D\x01" "11=ord1\x01" ..., len, my_tag, 0);
 *     for (;;) {
 *         rc = rfx_poll(c, &handler, my_ctx, 64);   // calls handler.on_*
 *         if (rc < 0) break;                       // RFX_EDEAD: re-attach
 *         if (rc == 0) rfx_wait(c, 1000000);
 *     }
 *     rfx_client_detach(c);
 *
 * Threads: a struct rfx_client is single-threaded. One thread may send while
 * another polls *only* if each sticks to its side (send/claim/flush/bind/
 * unbind/ack on one thread; poll/wait on the other); attach and detach must
 * not overlap anything. Several clients may live in one process.
 *
 * Return codes: >= 0 success, < 0 a negative errno or an RFX_E* code below;
 * rfx_strerror() describes any of them.
 *
 * Sessions are named by their session ID, "BEGINSTRING:SENDER->TARGET" with
 * an optional ":QUALIFIER" (e.g. "FIX.4.4:BANK->VENUE"), at most 63 bytes.
 *
 * Link with `pkg-config --cflags --libs ringfix`.
 */
#ifndef RINGFIX_H
#define RINGFIX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. Shared with the engine's own error.h (same guard, same
 * values), so including both is harmless. */
#ifndef RFX_ENGINE_ERROR_H
#define RFX_ENGINE_ERROR_H
#define RFX_ERRBASE 10000
enum rfx_error {
	RFX_EPARTIAL = -(RFX_ERRBASE + 0),
	RFX_EGARBLED = -(RFX_ERRBASE + 1),
	RFX_ECHECKSUM = -(RFX_ERRBASE + 2),
	RFX_ETOOBIG = -(RFX_ERRBASE + 3),
	RFX_ENOSPACE = -(RFX_ERRBASE + 4),
	RFX_ENOTFOUND = -(RFX_ERRBASE + 5),
	RFX_EFORMAT = -(RFX_ERRBASE + 6),
	RFX_ERANGE = -(RFX_ERRBASE + 7),
	RFX_ETOOMANY = -(RFX_ERRBASE + 8),
	RFX_EBADTAG = -(RFX_ERRBASE + 9),
	RFX_EGROUP = -(RFX_ERRBASE + 10),
	RFX_ECONFIG = -(RFX_ERRBASE + 100),
	RFX_EDICT = -(RFX_ERRBASE + 101),
	RFX_ESECRET = -(RFX_ERRBASE + 102),
	RFX_ESTATE = -(RFX_ERRBASE + 200),   /* session not logged on (send failures) */
	RFX_EREJECT = -(RFX_ERRBASE + 201),  /* message rejected by the session layer */
	RFX_ECORRUPT = -(RFX_ERRBASE + 300),
	RFX_EMAPFULL = -(RFX_ERRBASE + 301),
	RFX_EFULL = -(RFX_ERRBASE + 400),    /* ring full now: poll, then retry */
	RFX_EEMPTY = -(RFX_ERRBASE + 401),
	RFX_EMAGIC = -(RFX_ERRBASE + 402),   /* segment not ready or not ringfix's */
	RFX_EVERSION = -(RFX_ERRBASE + 403), /* instance runs another layout version */
	RFX_EDEAD = -(RFX_ERRBASE + 404),    /* shard gone or restarted: re-attach */
	RFX_EPROTO = -(RFX_ERRBASE + 405),   /* peer broke the ring protocol */
	RFX_EBADSEG = -(RFX_ERRBASE + 406),  /* segment header inconsistent */
	RFX_EDETACHED = -(RFX_ERRBASE + 407), /* the shard cut this client off */
	RFX_ENOSLOT = -(RFX_ERRBASE + 408),  /* instance has no free client slot */
	RFX_ENOSESSION = -(RFX_ERRBASE + 409), /* no such session in the instance */
	RFX_ENOTBOUND = -(RFX_ERRBASE + 410), /* session not bound by this client */
};
const char *rfx_strerror(int err);
#endif

/* What poll hands to the application. */

/* Session states (also in the instance's session directory). */
enum rfx_session_state {
	RFX_SESSION_UNUSED = 0,
	RFX_SESSION_DISCONNECTED = 1,
	RFX_SESSION_CONNECTING = 2,
	RFX_SESSION_LOGON_SENT = 3,
	RFX_SESSION_ACTIVE = 4,      /* logged on */
	RFX_SESSION_LOGOUT_SENT = 5,
};

/* Session events. */
enum rfx_event_type {
	RFX_EV_BOUND = 1,         /* bind accepted; seq = first replayed MsgSeqNum */
	RFX_EV_BIND_FAILED = 2,   /* code says why (RFX_ENOSESSION, -EBUSY, ...) */
	RFX_EV_UNBOUND = 3,
	RFX_EV_LOGON = 4,
	RFX_EV_LOGOUT = 5,
	RFX_EV_DISCONNECT = 6,
	RFX_EV_REJECT = 7,        /* session-level Reject; seq = the rejected MsgSeqNum */
	RFX_EV_REPLAY_DONE = 8,   /* replay reached live messages */
};

#define RFX_MSG_POSSDUP 1u  /* PossDupFlag(43)=Y */
#define RFX_MSG_REPLAY 2u   /* replayed from the store, not live */

/* An inbound application message. Every pointer is valid only during the
 * callback (it points into shared memory): copy what you keep. */
struct rfx_message {
	int session;              /* handle returned by rfx_bind */
	uint32_t flags;           /* RFX_MSG_* */
	uint64_t seq;             /* MsgSeqNum(34): acknowledge it with rfx_ack */
	int64_t recv_ns;          /* receive time, CLOCK_REALTIME nanoseconds */
	const char *raw;          /* the whole FIX message, 8= ... 10=xxx<SOH> */
	uint32_t raw_len;
	/* Parsed view: MsgType(35) and the body after the standard header
	 * fields 8, 9 and 35 (up to, not including, 10=). */
	const char *msg_type;
	uint32_t msg_type_len;
	const char *body;
	uint32_t body_len;
	const void *internal;     /* for the rfx_message_* getters; do not touch */
};

/* Field getters for an inbound message, valid inside on_message only. The
 * message is parsed by ringfix's codec on the first call (later calls reuse
 * the index; data fields such as RawData(96) may hold SOH). First occurrence
 * of `tag`. Return 0; RFX_ENOTFOUND; RFX_EFORMAT / RFX_ERANGE (the value is
 * not of that type); a parse error (RFX_EBADTAG, RFX_EFORMAT, RFX_ETOOMANY:
 * more than 1024 fields) if the message itself does not parse; -EINVAL (m
 * not from rfx_poll). *val points into the message (not NUL-terminated).
 * The polling thread; no system call, no allocation. */
int rfx_message_str(const struct rfx_message *m, uint32_t tag, const char **val, uint32_t *len);
int rfx_message_int(const struct rfx_message *m, uint32_t tag, int64_t *out);
/* value = mantissa * 10^-scale */
int rfx_message_decimal(const struct rfx_message *m, uint32_t tag, int64_t *mantissa,
			uint8_t *scale);
int rfx_message_char(const struct rfx_message *m, uint32_t tag, char *out);
/* UTCTimestamp -> nanoseconds since the epoch */
int rfx_message_timestamp(const struct rfx_message *m, uint32_t tag, int64_t *ns);

struct rfx_event {
	int session;
	uint32_t type;            /* enum rfx_event_type */
	int32_t code;             /* 0 or a return code explaining the event */
	uint64_t seq;
	const char *text;         /* NUL-terminated, valid during the callback */
};

/* A message that left this client but could not go out (e.g. RFX_ESTATE:
 * the session is not logged on). Never a silent drop: each one is reported. */
struct rfx_send_failure {
	int session;
	int32_t reason;
	uint64_t tag;             /* the tag given to rfx_send / rfx_send_commit */
};

typedef void rfx_on_message_fn(void *ctx, const struct rfx_message *m);
typedef void rfx_on_event_fn(void *ctx, const struct rfx_event *e);
typedef void rfx_on_send_failed_fn(void *ctx, const struct rfx_send_failure *f);

/* Callbacks for rfx_poll; any may be NULL (that kind is then skipped). */
struct rfx_handler {
	rfx_on_message_fn *on_message;
	rfx_on_event_fn *on_event;
	rfx_on_send_failed_fn *on_send_failed;
};

enum rfx_wait_strategy {
	RFX_IDLE_SPIN = 0,        /* busy-poll: lowest latency, one core busy */
	RFX_IDLE_YIELD = 1,       /* spin, then sched_yield */
	RFX_IDLE_BLOCK = 2,       /* spin, then sleep until the shard writes */
};

struct rfx_client_opts {
	enum rfx_wait_strategy wait;  /* for rfx_wait; default RFX_IDLE_SPIN */
	uint32_t spins;               /* busy polls before yield/block; default 1000 */
	int64_t shard_stale_ns;       /* heartbeat age that triggers a liveness
					 check of the shard; default 2 s */
};

struct rfx_client;

/* Attach to the instance `instance` (its shared memory under /dev/shm):
 * maps every shard's segment and claims one client slot in each. `opts` may
 * be NULL. On success *out is a new client; free it with rfx_client_detach.
 * Returns 0; -ENOENT (no such instance running); -EACCES (permissions of the
 * instance's shared memory); RFX_EMAGIC (instance starting or not ringfix);
 * RFX_EVERSION (a different ringfix version); RFX_EBADSEG; RFX_ENOSLOT (all
 * client slots taken); -EINVAL (bad name or options); -ENOMEM.
 * Any thread; cold path (system calls, allocation). */
int rfx_client_attach(struct rfx_client **out, const char *instance,
		      const struct rfx_client_opts *opts);

/* Flush pending sends, give the client slots back and free the client.
 * NULL-safe. Bound sessions are unbound implicitly. Cold path. */
void rfx_client_detach(struct rfx_client *c);

/* Bind the session `session_id`: from now on its inbound application
 * messages and events come to this client, starting with the stored inbound
 * messages from MsgSeqNum `replay_from` (0: live messages only). The shard
 * answers with an RFX_EV_BOUND or RFX_EV_BIND_FAILED event through rfx_poll.
 * Returns the session handle (>= 0) used by every other call; -EINVAL (bad
 * session ID); RFX_ENOSESSION (no shard of the instance has that session);
 * RFX_EFULL (ring full: poll, then retry); RFX_EDEAD / RFX_EDETACHED.
 * The sending thread. No system call. */
int rfx_bind(struct rfx_client *c, const char *session_id, uint64_t replay_from);

/* Stop receiving the session's messages; answered by RFX_EV_UNBOUND.
 * Returns 0, -EINVAL (bad handle), RFX_EFULL, RFX_EDEAD, RFX_EDETACHED. */
int rfx_unbind(struct rfx_client *c, int session);

/* Flag for rfx_send / rfx_send_commit: do not publish yet (batch several
 * messages; rfx_flush or the next send without the flag publishes all). */
#define RFX_SEND_MORE 1u

/* Send a prepared application message body: FIX tag=value fields from 35=
 * onwards, SOH-separated, without header fields 8/9/34/49/52/56 and without
 * trailer 10 (the shard writes those). `body` is copied; the caller keeps it.
 * `tag` is yours: failures report it. Returns 0; -EINVAL (bad handle or
 * empty body); -EMSGSIZE (larger than the ring allows); RFX_EFULL (the shard
 * is behind: poll, then retry); RFX_EDEAD; RFX_EDETACHED. A message accepted
 * here is either sent or reported through on_send_failed.
 * The sending thread. No system call, no allocation. */
int rfx_send(struct rfx_client *c, int session, const char *body, uint32_t len,
	     uint64_t tag, unsigned flags);

/* Zero-copy send: reserve up to `max_len` body bytes and point *body at them
 * (inside shared memory). Write the body there, then rfx_send_commit, or
 * rfx_send_abort. One claim per client at a time. Returns like rfx_send, and
 * -EBUSY if a claim is already open. */
int rfx_send_claim(struct rfx_client *c, int session, uint32_t max_len, char **body);

/* Finish the open claim with the `len` bytes written (<= max_len). Returns
 * 0 or -EINVAL (no open claim, or len too large). */
int rfx_send_commit(struct rfx_client *c, uint32_t len, uint64_t tag, unsigned flags);

/* Drop the open claim; nothing is sent. */
void rfx_send_abort(struct rfx_client *c);

/* Typed zero-copy send: the message is built field by field straight into
 * the ring (FIX formatting by ringfix's codec).
 *
 *     rfx_send_begin(c, s, 256, "D");           // claims room, writes 35=D
 *     rfx_field_str(c, 11, "ord-1", 5);         // ClOrdID
 *     rfx_field_char(c, 54, '1');               // Side = Buy
 *     rfx_field_decimal(c, 44, 10125, 2);       // Price = 101.25
 *     rfx_field_int(c, 38, 100);                // OrderQty
 *     rfx_field_timestamp(c, 60, now_ns, 3);    // TransactTime, ms
 *     rc = rfx_send_end(c, my_tag, 0);          // commit and publish
 *
 * rfx_send_begin reserves `max_len` body bytes (like rfx_send_claim, same
 * returns) and writes MsgType(35) = msg_type. Each rfx_field_* appends
 * "tag=value<SOH>" and returns 0, RFX_ENOSPACE (max_len exceeded), or
 * -EINVAL (tag 0, SOH inside a value, no open message); an error sticks and
 * rfx_send_end then drops the message and returns it. rfx_send_end commits
 * like rfx_send_commit (RFX_SEND_MORE batches). rfx_send_abort drops the
 * message. Sending thread; no system call, no allocation. */
int rfx_send_begin(struct rfx_client *c, int session, uint32_t max_len, const char *msg_type);
int rfx_field_str(struct rfx_client *c, uint32_t tag, const char *s, uint32_t len);
int rfx_field_int(struct rfx_client *c, uint32_t tag, int64_t v);
int rfx_field_uint(struct rfx_client *c, uint32_t tag, uint64_t v);
/* mantissa * 10^-scale, e.g. (10125, 2) -> "101.25"; scale 0..18. */
int rfx_field_decimal(struct rfx_client *c, uint32_t tag, int64_t mantissa, uint8_t scale);
int rfx_field_char(struct rfx_client *c, uint32_t tag, char v);
/* Y/N */
int rfx_field_bool(struct rfx_client *c, uint32_t tag, int v);
/* UTCTimestamp from nanoseconds since the epoch; digits = 0, 3, 6 or 9
 * fractional digits. */
int rfx_field_timestamp(struct rfx_client *c, uint32_t tag, int64_t ns, unsigned digits);
int rfx_send_end(struct rfx_client *c, uint64_t tag, unsigned flags);

/* Publish everything sent with RFX_SEND_MORE. Returns 0. */
int rfx_flush(struct rfx_client *c);

/* Tell ringfix that every inbound message of the session up to `seq` is
 * processed; after a crash, bind again with replay_from = seq + 1.
 * Returns 0, -EINVAL, RFX_EFULL, RFX_EDEAD, RFX_EDETACHED. Sending thread. */
int rfx_ack(struct rfx_client *c, int session, uint64_t seq);

/* Handle up to `max` inbound items (messages, events, send failures) by
 * calling `h`'s callbacks in arrival order; callbacks must not call
 * rfx_poll or rfx_client_detach. Returns the number handled (0: nothing
 * pending); RFX_EDEAD (a shard died or restarted: detach, then attach again
 * and re-bind with replay); RFX_EDETACHED (the shard cut this client off,
 * e.g. after a protocol violation); RFX_EPROTO (the shard wrote garbage).
 * The polling thread. No system call, no allocation (a clock read every
 * few thousand calls refreshes this client's heartbeat). */
int rfx_poll(struct rfx_client *c, const struct rfx_handler *h, void *ctx, unsigned max);

/* Wait until something may be pending or `timeout_ns` passes (< 0: forever),
 * per the attach options' strategy. Returns 0, -ETIMEDOUT, or the errors of
 * rfx_poll. With several shards, RFX_IDLE_BLOCK behaves like YIELD.
 * The polling thread. */
int rfx_wait(struct rfx_client *c, int64_t timeout_ns);

/* A consistent snapshot of a bound session's state from the instance's
 * directory. Returns 0, -EINVAL, -EAGAIN (shard mid-update; retry). Any
 * thread; no system call. */
struct rfx_session_status {
	char id[64];
	uint32_t state;           /* enum rfx_session_state */
	uint64_t next_sender_seq;
	uint64_t next_target_seq;
};
int rfx_session_status(struct rfx_client *c, int session, struct rfx_session_status *out);

#ifdef __cplusplus
}
#endif

#endif
