/*
 * FIX tag=value codec: framer, parser (field index), builder (serializer).
 *
 * Pure and I/O-free. Nothing here allocates, locks, prints or makes a system
 * call; all memory is the caller's. Objects (struct rfx_msg, struct
 * rfx_builder) belong to one thread at a time; the built-in tables are
 * read-only and shared.
 *
 * Typical inbound use, per receive:
 *
 *	size_t skip;
 *	int n = rfx_codec_frame(buf, len, &opts, &skip);
 *	if (n > 0)  { rfx_codec_parse(&msg, buf, n, NULL); ...; consume n; }
 *	else if (n == RFX_EPARTIAL) wait for more bytes;
 *	else  consume skip (garbled / bad checksum / too big) and count the event.
 *
 * Outbound: rfx_builder_start() (or rfx_builder_wrap() for a body that starts
 * at "35="), rfx_builder_header(), appenders (or rfx_builder_fields() from a
 * parsed index), rfx_builder_finish(). Nothing reads or writes outside the
 * buffers it is given.
 */
#ifndef RFX_ENGINE_CODEC_H
#define RFX_ENGINE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"
#include "engine/fixtypes.h"

#define RFX_SOH '\001'

/* A borrowed view into someone else's bytes; not NUL-terminated. */
struct rfx_str {
	const char *p;
	uint32_t len;
};

/* ------------------------------------------------------------------ framer */

struct rfx_frame_opts {
	uint32_t max_size;   /* largest whole message accepted, bytes; 0 = 1 MiB */
	bool check_checksum; /* verify CheckSum(10); off for trusted replays */
};

/*
 * Find the first complete message at the start of buf[0..len).
 *
 * Returns its length (> 0, up to and including the SOH after "10=nnn"), or:
 *   RFX_EPARTIAL  the bytes so far are a valid prefix; read more. *skip = 0.
 *   RFX_EGARBLED  buf does not start with a well-formed message: BeginString(8)
 *                 is not first (or empty, or over RFX_BEGIN_STRING_MAX bytes, or
 *                 holds control bytes), BodyLength(9) is not second or not 1-7
 *                 digits, MsgType(35) is not third or empty, or "10=nnn<SOH>"
 *                 is not where BodyLength says. Judged as soon as the bytes are
 *                 there, so garbage is dropped before a whole frame arrives.
 *                 *skip = bytes to drop so the buffer starts at the next
 *                 "8=FIX" (FIX: garbled messages are ignored); a trailing
 *                 prefix of "8=FIX" is kept. skip may equal len.
 *   RFX_ETOOBIG   BodyLength announces more than opts->max_size; handled like
 *                 garbled (*skip to the next "8=FIX") — the session usually
 *                 also disconnects.
 *   RFX_ECHECKSUM the frame is complete but CheckSum(10) is wrong. *skip = the
 *                 frame length, so the caller drops exactly that message.
 * Never reads buf[len] or beyond. skip may be NULL; opts may be NULL (defaults:
 * 1 MiB, checksum checked).
 */
int rfx_codec_frame(const char *buf, size_t len, const struct rfx_frame_opts *opts,
		    size_t *skip);

/* Sum of bytes mod 256, the FIX CheckSum(10). Vectorised; safe on any length. */
uint32_t rfx_checksum(const void *p, size_t len);

/* ------------------------------------------------------------------ parser */

/* One parsed field. p points into the parsed buffer (borrowed): the buffer must
 * outlive every use of the index. */
struct rfx_field {
	const char *p; /* value bytes, not NUL-terminated; data fields may hold SOH */
	uint32_t len;
	uint32_t tag;
};

/* O(1) slots for standard header and trailer fields (first occurrence). */
enum rfx_hdr {
	RFX_HDR_BEGIN_STRING,          /* 8 */
	RFX_HDR_BODY_LENGTH,           /* 9 */
	RFX_HDR_MSG_TYPE,              /* 35 */
	RFX_HDR_MSG_SEQ_NUM,           /* 34 */
	RFX_HDR_POSS_DUP_FLAG,         /* 43 */
	RFX_HDR_SENDER_COMP_ID,        /* 49 */
	RFX_HDR_SENDER_SUB_ID,         /* 50 */
	RFX_HDR_SENDING_TIME,          /* 52 */
	RFX_HDR_TARGET_COMP_ID,        /* 56 */
	RFX_HDR_TARGET_SUB_ID,         /* 57 */
	RFX_HDR_SECURE_DATA_LEN,       /* 90 */
	RFX_HDR_SECURE_DATA,           /* 91 */
	RFX_HDR_POSS_RESEND,           /* 97 */
	RFX_HDR_ON_BEHALF_OF_COMP_ID,  /* 115 */
	RFX_HDR_ON_BEHALF_OF_SUB_ID,   /* 116 */
	RFX_HDR_ORIG_SENDING_TIME,     /* 122 */
	RFX_HDR_DELIVER_TO_COMP_ID,    /* 128 */
	RFX_HDR_DELIVER_TO_SUB_ID,     /* 129 */
	RFX_HDR_SENDER_LOCATION_ID,    /* 142 */
	RFX_HDR_TARGET_LOCATION_ID,    /* 143 */
	RFX_HDR_ON_BEHALF_OF_LOCATION_ID, /* 144 */
	RFX_HDR_DELIVER_TO_LOCATION_ID,   /* 145 */
	RFX_HDR_XML_DATA_LEN,          /* 212 */
	RFX_HDR_XML_DATA,              /* 213 */
	RFX_HDR_MESSAGE_ENCODING,      /* 347 */
	RFX_HDR_LAST_MSG_SEQ_NUM_PROCESSED, /* 369 */
	RFX_HDR_NO_HOPS,               /* 627 */
	RFX_HDR_APPL_VER_ID,           /* 1128 */
	RFX_HDR_CSTM_APPL_VER_ID,      /* 1129 */
	RFX_HDR_APPL_EXT_ID,           /* 1156 */
	RFX_HDR_SIGNATURE_LENGTH,      /* 93 */
	RFX_HDR_SIGNATURE,             /* 89 */
	RFX_HDR_CHECK_SUM,             /* 10 */
	RFX_HDR_COUNT
};

/*
 * Dictionary seam. Without it the parser already handles every FIX 4.0-5.0SP2
 * data field (a LENGTH field followed by its DATA field, e.g. 95/96, 93/89,
 * 90/91, 212/213, 354/355, ... — see rfx_codec_data_tag()). A dictionary adds
 * custom data pairs and the repeating-group structure, per MsgType.
 */
struct rfx_data_layout {
	uint32_t length_tag; /* e.g. 5001 */
	uint32_t data_tag;   /* e.g. 5002: its value is exactly length_tag's bytes */
};

struct rfx_group_layout {
	uint32_t count_tag;  /* NumInGroup field, e.g. 268 NoMDEntries */
	uint32_t delim_tag;  /* first field of every entry, e.g. 279 MDUpdateAction */
	const uint32_t *tags; /* every other tag an entry may hold (incl. the count
	                         tags of nested groups), ascending */
	uint32_t ntags;
};

/* Layout of one message type (header, body and trailer groups). */
struct rfx_layout {
	const struct rfx_data_layout *data;     /* extra pairs; may be NULL */
	uint32_t ndata;
	const struct rfx_group_layout *groups;  /* may be NULL */
	uint32_t ngroups;
};

/* Called once per parse with the MsgType(35) value; returns that type's layout
 * or NULL (no groups known: fields are indexed in wire order unchecked). Must
 * not fail or block; the result must stay valid during the parse. */
typedef const struct rfx_layout *(*rfx_layout_fn)(void *ctx, const char *msg_type,
						 uint32_t len);

struct rfx_dict_seam {
	rfx_layout_fn layout;
	void *ctx;
};

/*
 * Field index of one parsed message. Caller storage; fields points to a caller
 * array of cap entries. Layout public so the accessors below inline.
 */
struct rfx_msg {
	struct rfx_field *fields; /* fields[0..nfields) in wire order, repeats kept */
	uint32_t nfields;
	uint32_t cap;
	const char *buf;          /* the parsed bytes (borrowed) */
	uint32_t len;
	uint16_t hdr[RFX_HDR_COUNT]; /* 1 + index of first occurrence, 0 = absent */
};

/* Prepares m to parse into fields[0..cap). cap <= 65535. */
void rfx_msg_init(struct rfx_msg *m, struct rfx_field *fields, uint32_t cap);

/*
 * Parse buf[0..len) — a framed message, or any run of "tag=value<SOH>" fields
 * such as a body starting at "35=" — into m in one pass. Returns the number of
 * fields (>= 0) or:
 *   RFX_EBADTAG  a tag is empty, not all digits, zero, > 2^31-1, or not
 *                followed by '=' (m->nfields = fields parsed before it)
 *   RFX_EFORMAT  the buffer does not end with SOH after the last value, or a
 *                LENGTH field is not a number / runs past the buffer, or its
 *                data is not followed by SOH
 *   RFX_ETOOMANY more than cap fields
 *   RFX_EGROUP   (only with a seam layout) a NumInGroup value is not a count,
 *                or does not match the entries that follow, or an entry does
 *                not start with the group's delimiter tag
 * Empty values ("58=<SOH>") are indexed with len 0; rejecting them (FIX reason
 * 4) is the session's call. seam may be NULL. Does not check framing; use
 * rfx_codec_frame() first. Never reads outside buf[0..len).
 */
int rfx_codec_parse(struct rfx_msg *m, const char *buf, size_t len,
		    const struct rfx_dict_seam *seam);

/*
 * Adopt fields another parser already split (the session's scanner), so no
 * byte is scanned twice: the caller wrote fields[0..nfields) into m->fields
 * (rfx_msg_init first); this sets buf/len/nfields and fills the header and
 * trailer slots behind rfx_msg_hdr(). Returns 0, or RFX_ETOOMANY when nfields
 * exceeds m->cap.
 */
int rfx_msg_adopt(struct rfx_msg *m, const char *buf, size_t len, uint32_t nfields);

/* The data tag that the built-in FIX 4.0-5.0SP2 tables pair with a LENGTH tag,
 * or 0 (e.g. 95 -> 96, 93 -> 89, 43109 -> 42684). */
uint32_t rfx_codec_data_tag(uint32_t length_tag);

/* O(1): the first occurrence of a header/trailer field, or NULL. */
static inline const struct rfx_field *rfx_msg_hdr(const struct rfx_msg *m, enum rfx_hdr h)
{
	uint32_t i = m->hdr[h];
	return i ? &m->fields[i - 1] : (const struct rfx_field *)0;
}

/* Index of the first field with tag at position >= from, or RFX_ENOTFOUND. */
int rfx_msg_find(const struct rfx_msg *m, uint32_t tag, uint32_t from);

/* Typed getters: first occurrence of tag, parsed per engine/fixtypes.h. Return 0
 * (rfx_msg_get_timestamp: fraction digits), RFX_ENOTFOUND, or the type's error. */
int rfx_msg_get_str(const struct rfx_msg *m, uint32_t tag, struct rfx_str *out);
int rfx_msg_get_int(const struct rfx_msg *m, uint32_t tag, int64_t *out);
int rfx_msg_get_decimal(const struct rfx_msg *m, uint32_t tag, struct rfx_decimal *out);
int rfx_msg_get_char(const struct rfx_msg *m, uint32_t tag, char *out);
int rfx_msg_get_bool(const struct rfx_msg *m, uint32_t tag, bool *out);
int rfx_msg_get_timestamp(const struct rfx_msg *m, uint32_t tag, int64_t *ns);

/*
 * Repeating groups (needs the layout the message was parsed with). Given the
 * index of a NumInGroup field, fills spans[0..cap) with the field-index range
 * [first, end) of each entry and returns the number of entries, or RFX_EGROUP /
 * RFX_ETOOMANY (more entries than cap) / RFX_ENOTFOUND (count_idx is not a
 * group of this layout).
 */
struct rfx_group_span {
	uint32_t first;
	uint32_t end;
};
int rfx_msg_group(const struct rfx_msg *m, const struct rfx_layout *layout,
		  uint32_t count_idx, struct rfx_group_span *spans, uint32_t cap);

/* ----------------------------------------------------------------- builder */

/*
 * BodyLength(9) is written with as many digits as it needs: the builder
 * reserves RFX_BODYLEN_DIGITS digits before MsgType, and rfx_builder_finish()
 * writes "8=...<SOH>9=n<SOH>" right-aligned against "35=". The message
 * therefore starts at buf + b->start (0..RFX_BODYLEN_DIGITS-1 bytes in), and
 * the body never moves.
 */
#define RFX_BODYLEN_DIGITS 7 /* bodies up to 9,999,999 bytes */
#define RFX_BEGIN_STRING_MAX 16

struct rfx_builder {
	char *buf;
	uint32_t cap;
	uint32_t pos;        /* next write offset */
	uint32_t body;       /* offset of "35=" */
	uint32_t start;      /* offset of "8=" after finish */
	int err;             /* first error since start (sticky) */
	uint8_t prefix_len;  /* "8=FIX.4.4<SOH>9=" */
	char prefix[RFX_BEGIN_STRING_MAX + 5];
	/* Timestamp date cache: "YYYYMMDD-" of the day starting at day_ns. */
	int64_t day_ns;
	char day_text[9];
};

/* Once per session: BeginString (e.g. "FIX.4.4", "FIXT.1.1"), at most
 * RFX_BEGIN_STRING_MAX bytes, printable, else -EINVAL. */
int rfx_builder_init(struct rfx_builder *b, const char *begin_string);

/* Start a message in buf[0..cap) (caller-owned, must outlive the message) and
 * write MsgType(35); clears any earlier error. Returns 0, RFX_ENOSPACE, or
 * -EINVAL (init not done, empty msg_type, SOH in msg_type). */
int rfx_builder_start(struct rfx_builder *b, char *buf, size_t cap,
		      const char *msg_type, uint32_t len);

/* Appenders: each writes "tag=value<SOH>" and returns 0, or RFX_ENOSPACE
 * (nothing written; the error sticks and finish() reports it), or -EINVAL for
 * tag 0 or a value that cannot be put on the wire (SOH in a str/char). */
int rfx_builder_str(struct rfx_builder *b, uint32_t tag, const char *s, uint32_t len);
int rfx_builder_int(struct rfx_builder *b, uint32_t tag, int64_t v);
int rfx_builder_uint(struct rfx_builder *b, uint32_t tag, uint64_t v);
int rfx_builder_decimal(struct rfx_builder *b, uint32_t tag, const struct rfx_decimal *d);
int rfx_builder_char(struct rfx_builder *b, uint32_t tag, char c);
int rfx_builder_bool(struct rfx_builder *b, uint32_t tag, bool v);
/* UTCTimestamp; formatting a time on the same UTC day as the previous one only
 * writes the time digits (the date text is cached in b). -EINVAL for prec > 9
 * or ns < RFX_TS_MIN_NS. rfx_builder_decimal: -EINVAL for scale > 19. */
int rfx_builder_timestamp(struct rfx_builder *b, uint32_t tag, int64_t ns,
			  enum rfx_ts_prec prec);
/* A data pair: "length_tag=len<SOH>data_tag=<len bytes><SOH>"; data may hold SOH. */
int rfx_builder_data(struct rfx_builder *b, uint32_t length_tag, uint32_t data_tag,
		     const void *data, uint32_t len);
/* Pre-serialized fields, copied as is: must be empty or end with SOH (-EINVAL). */
int rfx_builder_raw(struct rfx_builder *b, const char *fields, uint32_t len);
/*
 * Appends fields[0..n) of a parsed index (rfx_codec_parse()) in order, e.g. to
 * forward or re-send a body under a new header; one room check for all. Values
 * are copied as they are, unchecked: an index from rfx_codec_parse() holds SOH
 * only inside data fields, which stay behind their length field. Returns 0,
 * RFX_ENOSPACE (nothing written), or -EINVAL for a tag 0.
 */
int rfx_builder_fields(struct rfx_builder *b, const struct rfx_field *fields, uint32_t n);

/*
 * Standard header fields after 35, in ascending tag order as QuickFIX writes
 * them; only present ones (non-empty str, non-zero number, 'Y'/'N' flags,
 * sending_time != INT64_MIN) are written.
 */
struct rfx_header {
	uint64_t msg_seq_num;          /* 34; 0 = absent */
	char poss_dup;                 /* 43: 'Y', 'N' or 0 */
	struct rfx_str sender_comp_id; /* 49 */
	struct rfx_str sender_sub_id;  /* 50 */
	int64_t sending_time;          /* 52, ns since epoch; INT64_MIN = absent */
	struct rfx_str target_comp_id; /* 56 */
	struct rfx_str target_sub_id;  /* 57 */
	char poss_resend;              /* 97: 'Y', 'N' or 0 */
	struct rfx_str on_behalf_of_comp_id; /* 115 */
	struct rfx_str on_behalf_of_sub_id;  /* 116 */
	int64_t orig_sending_time;     /* 122; INT64_MIN = absent */
	struct rfx_str deliver_to_comp_id;   /* 128 */
	struct rfx_str deliver_to_sub_id;    /* 129 */
	struct rfx_str sender_location_id;   /* 142 */
	struct rfx_str target_location_id;   /* 143 */
	uint64_t last_msg_seq_num_processed; /* 369; 0 = absent */
	struct rfx_str appl_ver_id;    /* 1128 */
	struct rfx_str cstm_appl_ver_id;     /* 1129 */
	enum rfx_ts_prec time_prec;    /* precision of 52 and 122 */
	struct rfx_str extra;          /* pre-serialized extra header fields, each
	                                  "tag=value<SOH>", written last */
};
/* Sets every field absent (sending times INT64_MIN) and time_prec to ms. */
void rfx_header_init(struct rfx_header *h);
/* Writes the present fields of h with one room check. Returns 0, RFX_ENOSPACE,
 * or -EINVAL (a value holds SOH, extra does not end with SOH, time_prec > 9,
 * a time before RFX_TS_MIN_NS). Errors stick: finish() then fails too, so a
 * message with a half-written header never leaves. */
int rfx_builder_header(struct rfx_builder *b, const struct rfx_header *h);

/*
 * The shard's outbound path: body holds an application message from "35="
 * onwards (no 8, 9, 10). Starts a message in buf, copies 35, writes h, then the
 * rest of the body with one memcpy. Returns 0, RFX_ENOSPACE, or RFX_EGARBLED
 * when body does not start with "35=<value><SOH>" or does not end with SOH.
 * Call rfx_builder_finish() next (more fields may be appended in between).
 */
int rfx_builder_wrap(struct rfx_builder *b, char *buf, size_t cap,
		     const struct rfx_header *h, const char *body, uint32_t len);

/* Write BodyLength and CheckSum(10). Returns the message length (> 0); the
 * message is buf[b->start .. b->start + length). Or the first error of any
 * appender, or RFX_ENOSPACE. */
int rfx_builder_finish(struct rfx_builder *b);

/* The finished message (valid after a successful finish). */
static inline const char *rfx_builder_msg(const struct rfx_builder *b)
{
	return b->buf + b->start;
}

#endif
