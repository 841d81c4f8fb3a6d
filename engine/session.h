/*
 * FIX session state machine (FIX.4.0-4.4, FIXT.1.1), pure and I/O-free.
 *
 * Time comes in as an argument (nanoseconds since the Unix epoch, UTC); bytes
 * to send, store operations and application events leave through the ops
 * given at init. Nothing here reads a clock, touches a socket or a file,
 * allocates, locks or prints. One session belongs to one thread.
 *
 * Where the FIX specification leaves room the machine behaves as QuickFIX
 * 1.15.1 does (texts, Reject vs Logout, gap-fill shape), because its
 * acceptance definitions are our conformance suite.
 *
 * Inputs:  rfx_session_on_connect / on_message / on_timer / on_disconnect,
 *          rfx_session_send_app, rfx_session_logout.
 * Outputs: struct rfx_session_ops callbacks. Callbacks may call
 *          rfx_session_send_app() and rfx_session_logout() re-entrantly
 *          (the echo application of the conformance suite does).
 */
#ifndef RFX_ENGINE_SESSION_H
#define RFX_ENGINE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"
#include "engine/schedule.h"

#define RFX_SESSION_STR_MAX 64    /* CompIDs, SubIDs, LocationIDs, BeginString */
#define RFX_SESSION_TEXT_MAX 128 /* reject/logout Text(58) we generate */

enum rfx_session_role {
	RFX_SESSION_ACCEPTOR = 0,
	RFX_SESSION_INITIATOR = 1,
};

/* Protocol configuration: plain fields, filled by the settings module. Strings
 * are NUL-terminated and copied at init. Zero means "default" where noted. */
struct rfx_session_config {
	enum rfx_session_role role;
	char begin_string[RFX_SESSION_STR_MAX];    /* "FIX.4.4", "FIXT.1.1" */
	char sender_comp_id[RFX_SESSION_STR_MAX];
	char target_comp_id[RFX_SESSION_STR_MAX];
	char sender_sub_id[RFX_SESSION_STR_MAX];   /* optional, "" = absent */
	char target_sub_id[RFX_SESSION_STR_MAX];
	char sender_location_id[RFX_SESSION_STR_MAX];
	char target_location_id[RFX_SESSION_STR_MAX];
	/* FIXT only: DefaultApplVerID(1137) wire value sent in our Logon ("9"). */
	char default_appl_ver_id[RFX_SESSION_STR_MAX];
	uint32_t heart_bt_int;      /* initiator: HeartBtInt(108) we ask for, s */
	bool reset_on_logon;        /* sequence numbers to 1 on every Logon */
	bool reset_on_logout;
	bool reset_on_disconnect;
	bool refresh_on_logon;      /* reload sequence numbers and creation time
	                               from the store before a logon: the
	                               initiator before sending its Logon, the
	                               acceptor on receiving one (QuickFIX) */
	bool check_comp_id;         /* reject + logout on CompID mismatch */
	bool check_latency;         /* SendingTime accuracy check */
	uint32_t max_latency;       /* seconds; 0 = 120 (QuickFIX default) */
	uint32_t resend_chunk_size; /* ResendRequestChunkSize; 0 = one request */
	bool send_redundant_resend_requests; /* ask again for a gap already asked */
	bool no_persist_messages;   /* PersistMessages=N: keep no outbound
	                               messages; ResendRequests get one GapFill */
	uint32_t logon_timeout;     /* seconds; 0 = 10 */
	uint32_t logout_timeout;    /* seconds; 0 = 2 */
	int timestamp_precision;    /* digits of SendingTime fractions: 0, 3, 6,
	                               9; -1 = ms for FIX.4.2+, seconds before */
	bool validate_length_and_checksum; /* garbled-message checks (on by default
	                               through rfx_session_config_default) */
	/* Session schedule (engine/schedule.h), with its logon window; NULL =
	 * always in session, no period resets. Must outlive the session. */
	const struct rfx_schedule *schedule;
	/* Credentials for the initiator's Logon (553/554); "" = not sent. */
	char username[RFX_SESSION_STR_MAX];
	char password[RFX_SESSION_STR_MAX];
};

/* Fills c with QuickFIX's defaults: acceptor, CheckCompID=Y, CheckLatency=Y
 * (120 s), LogonTimeout=10, LogoutTimeout=2, HeartBtInt=30, precision auto. */
void rfx_session_config_default(struct rfx_session_config *c);

/* One field of a parsed message, a view into the caller's bytes. tag is
 * signed because a peer can send "-1=x" and FIX wants it rejected by number. */
struct rfx_session_field {
	const char *p;
	uint32_t len;
	int32_t tag;
};

struct rfx_msg; /* engine/codec.h */

/* A parsed inbound message as handed to hooks and the application: the whole
 * framed message and its fields in wire order (8, 9, ..., 10). */
struct rfx_session_msg {
	const char *buf;
	uint32_t len;
	const struct rfx_session_field *fields;
	uint32_t nfields;
	const char *msg_type; /* into buf; msg_type_len bytes */
	uint32_t msg_type_len;
	uint64_t seq;         /* MsgSeqNum(34) */
	bool poss_dup;        /* PossDupFlag(43)=Y */
	bool poss_resend;     /* PossResend(97)=Y */
	/* The codec's index of the same parse (fields, O(1) header slots), so a
	 * validation hook reads it instead of parsing again; NULL when the bytes
	 * were only readable by the session's lenient scanner (e.g. a "-1=" tag). */
	const struct rfx_msg *index;
};

/* First field with tag, or NULL. */
const struct rfx_session_field *rfx_session_msg_get(const struct rfx_session_msg *m, int32_t tag);

/* A session-level reject the validation hook asks for (FIX Reject, 35=3). */
struct rfx_session_reject {
	int reason;     /* SessionRejectReason(373), e.g. 1 = required tag missing */
	int32_t ref_tag; /* RefTagID(371); 0 = none */
	const char *text; /* Text(58); NULL = the standard text for reason */
};

/*
 * Dictionary validation hook, called for every inbound message after the
 * framing and header checks and before sequence handling (QuickFIX order).
 * Returns 0 when m is valid, or 1 after filling *rej: the session then sends
 * the Reject (and consumes the sequence number when it is the expected one).
 */
typedef int (*rfx_session_validate_fn)(void *ctx, const struct rfx_session_msg *m,
				       struct rfx_session_reject *rej);

enum rfx_session_event {
	RFX_SESSION_EV_LOGON,          /* logon completed */
	RFX_SESSION_EV_LOGOUT,         /* logged-on session ended */
	RFX_SESSION_EV_REJECT_SENT,    /* we rejected an inbound message */
	RFX_SESSION_EV_REJECT_RECEIVED,
	RFX_SESSION_EV_GARBLED,        /* inbound message dropped as garbled */
	RFX_SESSION_EV_RESEND_REQUEST_SENT,
	RFX_SESSION_EV_RESEND_REQUEST_SERVED,
	RFX_SESSION_EV_SEQ_RESET,      /* sequence numbers reset or moved */
	RFX_SESSION_EV_TIMEOUT,        /* logon/logout/heartbeat timeout */
	RFX_SESSION_EV_STORE_ERROR,    /* a store callback failed */
	RFX_SESSION_EV_INFO,
};

/* Store iteration callback: one stored outbound message, ascending seq.
 * Return 0 to continue, non-zero to stop. */
typedef int (*rfx_session_stored_fn)(void *it_ctx, uint64_t seq, const char *msg, size_t len);

/*
 * Output interface. Every callback gets ops->ctx. Store callbacks return 0 or
 * a negative error; a failing store is reported as an event and the session
 * logs out (never silent loss).
 */
struct rfx_session_ops {
	void *ctx;
	/* Write one whole message to the peer. */
	int (*send)(void *ctx, const char *buf, size_t len);
	/* Close the connection now (the session already considers it closed). */
	void (*disconnect)(void *ctx);
	/* An inbound application message, in sequence (m->poss_dup as received). */
	void (*on_app)(void *ctx, const struct rfx_session_msg *m);
	void (*on_event)(void *ctx, enum rfx_session_event ev, const char *text);
	/* Store. */
	int (*store_get_seqs)(void *ctx, uint64_t *next_sender, uint64_t *next_target);
	int (*store_set_seqs)(void *ctx, uint64_t next_sender, uint64_t next_target);
	int (*store_put)(void *ctx, uint64_t seq, const char *msg, size_t len);
	int (*store_range)(void *ctx, uint64_t begin, uint64_t end, rfx_session_stored_fn fn,
			   void *it_ctx);
	/* Optional: bytes `send` can take now. A ResendRequest is then served
	 * as a stream: it pauses when the next message would not fit and goes
	 * on from rfx_session_resend_continue, so a resend of any length needs
	 * neither the whole answer in memory nor a send buffer that holds it.
	 * NULL: the whole range at once. */
	size_t (*send_room)(void *ctx);
	int (*store_reset)(void *ctx); /* drop messages; seqs become 1/1 */
	/* Optional: when the stored sequence state began (ns), so a restart in a
	 * later schedule period resets; NULL = kept in memory only. */
	int (*store_get_creation_time)(void *ctx, int64_t *t);
	int (*store_set_creation_time)(void *ctx, int64_t t);
	/* Optional hooks (NULL = none). */
	rfx_session_validate_fn validate;
	void *validate_ctx;
	/* Logon authentication: return 0 to accept, else the Logon is refused
	 * (Logout with text when text is set, then disconnect). */
	int (*on_logon)(void *ctx, const struct rfx_session_msg *logon, const char **text);
};

/* Caller-sized storage. out: one outbound message at a time (largest message
 * plus ~200 bytes of header). queue: inbound messages that arrived too high,
 * held until the gap fills (full: the newest are dropped, the peer resends
 * them). fields: index of one parsed message. */
struct rfx_session_mem {
	char *out;
	size_t out_cap;
	char *queue;
	size_t queue_cap;
	struct rfx_session_field *fields;
	uint32_t max_fields;
};

enum rfx_session_state {
	RFX_SESSION_DISCONNECTED,
	RFX_SESSION_LOGON_SENT,     /* initiator waiting for the response */
	RFX_SESSION_AWAIT_LOGON,    /* acceptor connected, waiting for Logon */
	RFX_SESSION_LOGGED_ON,
	RFX_SESSION_LOGOUT_SENT,
};

/* Layout public only so callers can embed it; fields are private. */
struct rfx_session {
	struct rfx_session_config cfg;
	struct rfx_session_ops ops;
	struct rfx_session_mem mem;
	enum rfx_session_state state;
	uint64_t next_sender;
	uint64_t next_target;
	/* Outstanding ResendRequest: [resend_begin, resend_end] asked, up to
	 * resend_target wanted (chunked requests); 0 = none. */
	uint64_t resend_begin, resend_end, resend_target;
	/* ResendRequest being served (paused for room): next stored seq to
	 * read, last seq asked, start of a pending gap-fill run; rs_end 0 = none. */
	uint64_t rs_next, rs_end, rs_gap;
	bool received_logon, sent_logon, sent_logout, received_reset, sent_reset;
	uint32_t heart_bt_int;     /* negotiated, s */
	uint32_t test_requests;    /* sent without an answer */
	int64_t last_sent, last_received, logon_sent_at, logout_sent_at;
	int64_t connected_at;
	uint32_t queue_used;       /* bytes used in mem.queue */
	int prec;                  /* SendingTime fraction digits */
	uint8_t version;           /* 40, 41, 42, 43, 44, 50 (FIXT) */
	int64_t now;               /* time of the current input */
	/* Schedule cache: period (or INT64_MIN) valid for [sched_from, sched_until). */
	int64_t sched_period, sched_from, sched_until;
	/* Logon window cache: logon_ok valid for [logon_from, logon_until). */
	int64_t logon_from, logon_until;
	bool logon_ok;
	int64_t creation_time, creation_period;
	bool reset_next_logon;     /* rfx_session_reset while disconnected */
	char logout_text[RFX_SESSION_TEXT_MAX];
};

/* Validates cfg and mem (-EINVAL with nothing set up otherwise), loads the
 * sequence numbers from the store. */
int rfx_session_init(struct rfx_session *s, const struct rfx_session_config *cfg,
		     const struct rfx_session_ops *ops, const struct rfx_session_mem *mem);
/* NULL-safe; the session must be disconnected first (it does not send). */
void rfx_session_deinit(struct rfx_session *s);

/* Whether the schedule lets a logon happen at now (in a period and in the
 * logon window): the initiator's transport dials only then. */
bool rfx_session_logon_time(const struct rfx_session *s, int64_t now);

/* A transport connection is up. Initiator: sends Logon, or returns RFX_ESTATE
 * outside the schedule or the logon window. Returns 0 or <0. */
int rfx_session_on_connect(struct rfx_session *s, int64_t now);
/* One framed inbound message (the framer lives in the codec). The bytes need
 * only live during the call. Returns 0, or RFX_ESTATE when not connected. */
int rfx_session_on_message(struct rfx_session *s, const char *msg, size_t len, int64_t now);
/* Drive timers; returns the next deadline (ns) to call again at, or INT64_MAX. */
int64_t rfx_session_on_timer(struct rfx_session *s, int64_t now);
/* The transport went away. */
void rfx_session_on_disconnect(struct rfx_session *s, int64_t now);
/* Send an application message: body from "35=" on, ending with SOH, without
 * header and trailer. Returns the MsgSeqNum used (> 0), RFX_ESTATE when not
 * logged on, RFX_ENOSPACE when out is too small, -EINVAL for a bad body. */
int64_t rfx_session_send_app(struct rfx_session *s, const char *body, size_t len, int64_t now);
/* Start the Logout handshake (text may be NULL). */
int rfx_session_logout(struct rfx_session *s, const char *text, int64_t now);
/* Operator sequence reset: both sequence numbers become 1 and are stored.
 * Logged on, it is the in-session reset: a Logon with ResetSeqNumFlag(141)=Y
 * and MsgSeqNum 1, which the peer answers in kind, so both sides restart at 1.
 * Disconnected, our numbers go to 1 now and an initiator's next Logon carries
 * ResetSeqNumFlag=Y (an acceptor's counterparty must reset its side itself).
 * Returns 0, or RFX_ESTATE during a Logon or Logout handshake. */
int rfx_session_reset(struct rfx_session *s, int64_t now);

/* A ResendRequest is still being served: it paused because ops.send_room
 * ran out. Continue it with rfx_session_resend_continue once the transport
 * has drained (it pauses again as needed); returns true while still
 * pending. A disconnect drops it; a new ResendRequest replaces it. */
static inline bool rfx_session_resend_pending(const struct rfx_session *s)
{
	return s->rs_end != 0;
}
bool rfx_session_resend_continue(struct rfx_session *s, int64_t now);

static inline bool rfx_session_logged_on(const struct rfx_session *s)
{
	return s->state == RFX_SESSION_LOGGED_ON;
}
static inline enum rfx_session_state rfx_session_state(const struct rfx_session *s)
{
	return s->state;
}

/* UTCTimestamp helpers (exposed for tests and the replay): format ns as
 * "YYYYMMDD-HH:MM:SS[.f]" with prec fraction digits into out (>= 28 bytes),
 * returning the length; parse returns 0 and *ns or -EINVAL. */
int rfx_session_format_time(char *out, int64_t ns, int prec);
int rfx_session_parse_time(const char *p, size_t len, int64_t *ns);

#endif
