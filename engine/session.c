/*
 * FIX session state machine. See session.h for the contract.
 *
 * The control flow follows the FIX session-layer test cases (referenced as
 * "FIX TC n") and, where the spec leaves room, QuickFIX 1.15.1's choices,
 * because its acceptance definitions are our conformance suite.
 */
#include "engine/session.h"

#include "engine/civil.h"
#include "engine/codec.h"
#include "engine/reject.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Bytes kept free in front of "35=" for "8=<BeginString><SOH>9=<len><SOH>". */
#define HEADROOM (RFX_SESSION_STR_MAX + 16)
#define MAX_HDR 24 /* header fields of one outbound message */
#define NS 1000000000LL

struct kv {
	int32_t tag;
	const char *p;
	uint32_t len;
};

/* ------------------------------------------------------------- helpers */

static size_t fmt_u64(char *out, uint64_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static size_t fmt_i64(char *out, int64_t v)
{
	if (v < 0) {
		out[0] = '-';
		return 1 + fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
	}
	return fmt_u64(out, (uint64_t)v);
}

static void put2(char *o, unsigned v)
{
	o[0] = (char)('0' + v / 10 % 10);
	o[1] = (char)('0' + v % 10);
}

int rfx_session_format_time(char *out, int64_t ns, int prec)
{
	int64_t secs = ns >= 0 ? ns / NS : -((-ns + NS - 1) / NS);
	int64_t frac = ns - secs * NS;
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t sod = secs - days * 86400;
	int y;
	unsigned m, d;
	rfx_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = 0;
	put2(out, (unsigned)y / 100);
	put2(out + 2, (unsigned)y % 100);
	put2(out + 4, m);
	put2(out + 6, d);
	out[8] = '-';
	put2(out + 9, (unsigned)(sod / 3600));
	out[11] = ':';
	put2(out + 12, (unsigned)(sod / 60 % 60));
	out[14] = ':';
	put2(out + 15, (unsigned)(sod % 60));
	int n = 17;
	if (prec > 0) {
		if (prec > 9)
			prec = 9;
		out[n++] = '.';
		int64_t div = NS / 10;
		for (int i = 0; i < prec; i++, div /= 10)
			out[n++] = (char)('0' + frac / div % 10);
	}
	out[n] = 0;
	return n;
}

static int digits(const char *p, size_t n, unsigned *v)
{
	unsigned x = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		x = x * 10 + (unsigned)(p[i] - '0');
	}
	*v = x;
	return 0;
}

int rfx_session_parse_time(const char *p, size_t len, int64_t *ns)
{
	unsigned y, mo, d, h, mi, s;
	if (len < 17 || p[8] != '-' || p[11] != ':' || p[14] != ':')
		return -EINVAL;
	if (digits(p, 4, &y) || digits(p + 4, 2, &mo) || digits(p + 6, 2, &d) ||
	    digits(p + 9, 2, &h) || digits(p + 12, 2, &mi) || digits(p + 15, 2, &s))
		return -EINVAL;
	/* int64 nanoseconds cover 1678-2261. */
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || y < 1678 ||
	    y > 2261)
		return -EINVAL;
	int64_t frac = 0;
	if (len > 17) {
		if (p[17] != '.' || len == 18 || len > 27)
			return -EINVAL;
		int64_t mul = NS;
		for (size_t i = 18; i < len; i++) {
			if (p[i] < '0' || p[i] > '9')
				return -EINVAL;
			mul /= 10;
			frac += (p[i] - '0') * mul;
		}
	}
	int64_t days = rfx_days_from_civil((int)y, mo, d);
	*ns = ((days * 86400) + h * 3600 + mi * 60 + s) * NS + frac;
	return 0;
}

static bool parse_u64(const char *p, uint32_t len, uint64_t *out)
{
	uint64_t v = 0;
	if (len == 0 || len > 19)
		return false;
	for (uint32_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

static bool str_is(const char *p, uint32_t len, const char *s)
{
	size_t n = strlen(s);
	return len == n && memcmp(p, s, n) == 0;
}

static bool is_header_tag(int32_t t)
{
	switch (t) {
	case 8: case 9: case 35: case 34: case 43: case 49: case 50: case 52:
	case 56: case 57: case 90: case 91: case 97: case 115: case 116:
	case 122: case 128: case 129: case 142: case 143: case 144: case 145:
	case 212: case 213: case 347: case 369: case 627: case 628: case 629:
	case 630: case 1128: case 1129: case 1156:
		return true;
	default:
		return false;
	}
}

/* The DATA field a LENGTH field announces (FIX 4.x/5.0 standard pairs). */
static int32_t data_tag_of(int32_t len_tag)
{
	switch (len_tag) {
	case 90: return 91;
	case 93: return 89;
	case 95: return 96;
	case 212: return 213;
	case 348: return 349;
	case 350: return 351;
	case 352: return 353;
	case 354: return 355;
	case 356: return 357;
	case 358: return 359;
	case 360: return 361;
	case 362: return 363;
	case 364: return 365;
	case 445: return 446;
	case 618: return 619;
	case 621: return 622;
	default: return 0;
	}
}

static bool is_admin_type(const char *p, uint32_t len)
{
	return len == 1 && strchr("0123456A", p[0]) != NULL && p[0] != '6';
}

/* Field scanner over "tag=value<SOH>" runs. Returns 1 with *f filled, 0 at the
 * end, -1 when the bytes are not well-formed (garbled). Tags follow QuickFIX:
 * an optionally signed decimal; anything else is garbled. */
struct scan {
	const char *p;
	size_t len, pos;
	int32_t pending_data; /* data tag announced by the previous length field */
	uint64_t pending_len;
};

static int scan_next(struct scan *sc, struct rfx_session_field *f)
{
	if (sc->pos >= sc->len)
		return 0;
	const char *p = sc->p + sc->pos;
	size_t left = sc->len - sc->pos, i = 0;
	bool neg = false;
	int64_t tag = 0;
	if (p[0] == '-') {
		neg = true;
		i = 1;
	}
	size_t d0 = i;
	while (i < left && p[i] >= '0' && p[i] <= '9') {
		tag = tag * 10 + (p[i] - '0');
		if (tag > INT32_MAX)
			return -1;
		i++;
	}
	if (i == d0 || i >= left || p[i] != '=')
		return -1;
	i++;
	f->tag = (int32_t)(neg ? -tag : tag);
	f->p = p + i;
	if (sc->pending_data && f->tag == sc->pending_data) {
		if (sc->pending_len >= left - i || p[i + sc->pending_len] != '\001')
			return -1;
		f->len = (uint32_t)sc->pending_len;
		i += sc->pending_len + 1;
	} else {
		const char *e = memchr(p + i, '\001', left - i);
		if (!e)
			return -1;
		f->len = (uint32_t)(e - (p + i));
		i = (size_t)(e - p) + 1;
	}
	sc->pending_data = data_tag_of(f->tag);
	if (sc->pending_data && !parse_u64(f->p, f->len, &sc->pending_len))
		sc->pending_data = 0;
	sc->pos += i;
	return 1;
}

const struct rfx_session_field *rfx_session_msg_get(const struct rfx_session_msg *m, int32_t tag)
{
	for (uint32_t i = 0; i < m->nfields; i++)
		if (m->fields[i].tag == tag)
			return &m->fields[i];
	return NULL;
}

/* The codec parses straight into the session's field array: both field types
 * are {pointer, u32 length, 32-bit tag}, and the codec only accepts tags
 * 1..2^31-1, which read the same through the signed tag. (The build uses
 * -fno-strict-aliasing; the layout is asserted here.) */
_Static_assert(sizeof(struct rfx_session_field) == sizeof(struct rfx_field) &&
		       offsetof(struct rfx_session_field, p) == offsetof(struct rfx_field, p) &&
		       offsetof(struct rfx_session_field, len) == offsetof(struct rfx_field, len) &&
		       offsetof(struct rfx_session_field, tag) == offsetof(struct rfx_field, tag),
	       "session and codec fields share one layout");

/* Split buf into s->mem.fields: the codec's one-pass parser (its index goes to
 * *cm), or, for what it refuses (signed or zero tags, a bad length field), the
 * session's scanner, which QuickFIX's leniency needs (cm then unused).
 * Returns the field count, RFX_ETOOMANY, or -1 (garbled). */
static int split_fields(struct rfx_session *s, const char *buf, size_t len, struct rfx_msg *cm,
			bool *indexed)
{
	rfx_msg_init(cm, (struct rfx_field *)(void *)s->mem.fields, s->mem.max_fields);
	int rc = rfx_codec_parse(cm, buf, len, NULL);
	*indexed = rc >= 0;
	if (rc >= 0 || rc == RFX_ETOOMANY)
		return rc;
	struct scan sc = {.p = buf, .len = len};
	struct rfx_session_field f;
	uint32_t n = 0;
	while ((rc = scan_next(&sc, &f)) == 1) {
		if (n == s->mem.max_fields)
			return RFX_ETOOMANY;
		s->mem.fields[n++] = f;
	}
	return rc < 0 ? -1 : (int)n;
}

/* Parse and check a framed message the way QuickFIX builds a Message with
 * validation: 8, 9, 35 first and in order, BodyLength and CheckSum right,
 * CheckSum last. Anything else is garbled (FIX TC 2d/3c: ignore it). */
static int parse_msg(struct rfx_session *s, const char *buf, size_t len, struct rfx_session_msg *m,
		     struct rfx_msg *cm)
{
	bool indexed;
	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->len = (uint32_t)len;
	m->fields = s->mem.fields;
	int rc = split_fields(s, buf, len, cm, &indexed);
	if (rc == RFX_ETOOMANY)
		return rc;
	if (rc < 4)
		return RFX_EGARBLED;
	uint32_t n = (uint32_t)rc;
	m->nfields = n;
	m->index = indexed ? cm : NULL;
	const struct rfx_session_field *fl = s->mem.fields;
	if (fl[0].tag != 8 || fl[1].tag != 9 || fl[2].tag != 35 || fl[n - 1].tag != 10)
		return RFX_EGARBLED;
	m->msg_type = fl[2].p;
	m->msg_type_len = fl[2].len;
	if (s->cfg.validate_length_and_checksum) {
		uint64_t blen, ck;
		const char *body = fl[1].p + fl[1].len + 1;
		const char *tail = fl[n - 1].p - 3; /* "10=" */
		if (!parse_u64(fl[1].p, fl[1].len, &blen) || (uint64_t)(tail - body) != blen)
			return RFX_EGARBLED;
		if (fl[n - 1].len != 3 || !parse_u64(fl[n - 1].p, 3, &ck))
			return RFX_ECHECKSUM;
		if (rfx_checksum(buf, (size_t)(tail - buf)) != ck)
			return RFX_ECHECKSUM;
	}
	for (uint32_t i = 3; i < n; i++) {
		if (fl[i].tag == 34 && !m->seq)
			parse_u64(fl[i].p, fl[i].len, &m->seq);
		else if (fl[i].tag == 43)
			m->poss_dup = str_is(fl[i].p, fl[i].len, "Y");
		else if (fl[i].tag == 97)
			m->poss_resend = str_is(fl[i].p, fl[i].len, "Y");
	}
	return 0;
}

static bool msg_type_is(const struct rfx_session_msg *m, const char *t)
{
	return str_is(m->msg_type, m->msg_type_len, t);
}

static void event(struct rfx_session *s, enum rfx_session_event ev, const char *text)
{
	if (s->ops.on_event)
		s->ops.on_event(s->ops.ctx, ev, text);
}

/* ------------------------------------------------------------- store */

static void save_seqs(struct rfx_session *s)
{
	if (s->ops.store_set_seqs &&
	    s->ops.store_set_seqs(s->ops.ctx, s->next_sender, s->next_target) < 0)
		event(s, RFX_SESSION_EV_STORE_ERROR, "cannot store sequence numbers");
}

static void set_creation_time(struct rfx_session *s, int64_t t)
{
	s->creation_time = t;
	s->creation_period = rfx_schedule_period(s->cfg.schedule, t);
	if (s->ops.store_set_creation_time &&
	    s->ops.store_set_creation_time(s->ops.ctx, t) < 0)
		event(s, RFX_SESSION_EV_STORE_ERROR, "cannot store the creation time");
}

static void reset_seqs(struct rfx_session *s)
{
	if (s->ops.store_reset && s->ops.store_reset(s->ops.ctx) < 0)
		event(s, RFX_SESSION_EV_STORE_ERROR, "cannot reset the store");
	set_creation_time(s, s->now);
	s->next_sender = 1;
	s->next_target = 1;
	s->queue_used = 0;
	save_seqs(s);
	event(s, RFX_SESSION_EV_SEQ_RESET, "sequence numbers reset to 1");
}

static void do_disconnect(struct rfx_session *s, bool notify);

/* Sequence numbers and creation time as the store holds them (at init, and
 * at logon with RefreshOnLogon=Y). Returns 0 or the store's error. */
static int load_store(struct rfx_session *s)
{
	const struct rfx_session_ops *ops = &s->ops;
	if (ops->store_get_seqs) {
		uint64_t ns = 1, nt = 1;
		int rc = ops->store_get_seqs(ops->ctx, &ns, &nt);
		if (rc < 0)
			return rc;
		s->next_sender = ns ? ns : 1;
		s->next_target = nt ? nt : 1;
	}
	if (ops->store_get_creation_time) {
		int64_t t;
		if (ops->store_get_creation_time(ops->ctx, &t) == 0 && t != INT64_MIN) {
			s->creation_time = t;
			s->creation_period = rfx_schedule_period(s->cfg.schedule, t);
		}
	}
	return 0;
}

/* RefreshOnLogon=Y: reload before a logon; a store that cannot answer ends
 * the connection (never a logon on stale numbers). */
static bool refresh(struct rfx_session *s)
{
	if (!s->cfg.refresh_on_logon)
		return true;
	if (load_store(s) == 0)
		return true;
	event(s, RFX_SESSION_EV_STORE_ERROR, "cannot refresh the session from the store");
	do_disconnect(s, true);
	return false;
}

static void incr_target(struct rfx_session *s)
{
	s->next_target++;
	save_seqs(s);
}

/* ------------------------------------------------------------- output */

static void do_disconnect(struct rfx_session *s, bool notify);
static void send_logout(struct rfx_session *s, const char *text, int64_t now);

struct out {
	char *b;
	size_t cap, pos;
	bool err;
};

static void out_raw(struct out *o, const char *p, size_t n)
{
	if (o->err || o->pos + n > o->cap) {
		o->err = true;
		return;
	}
	memcpy(o->b + o->pos, p, n);
	o->pos += n;
}

/* All or nothing: a field that does not fit is not started. */
static void out_field(struct out *o, int32_t tag, const char *p, size_t n)
{
	char t[16];
	size_t tl = fmt_i64(t, tag);
	t[tl++] = '=';
	if (o->err || o->pos + tl + n + 1 > o->cap) {
		o->err = true;
		return;
	}
	out_raw(o, t, tl);
	out_raw(o, p, n);
	out_raw(o, "\001", 1);
}

static void out_u64(struct out *o, int32_t tag, uint64_t v)
{
	char b[24];
	out_field(o, tag, b, fmt_u64(b, v));
}

/*
 * Serialize and send one message: 8, 9, 35, header fields in ascending tag
 * order (QuickFIX's order), body as given, 10. seq = 0 takes the next sender
 * number (and persists application messages); seq > 0 is a gap fill or
 * resend that reuses an old number.
 */
struct emit {
	const char *type;
	uint32_t type_len;
	const struct kv *hx; /* extra header fields */
	int nhx;
	const char *body;
	size_t body_len;
	uint64_t seq;
	bool poss_dup;
	const char *orig_time; /* OrigSendingTime(122) text or NULL */
	uint32_t orig_time_len;
};

static int emit(struct rfx_session *s, const struct emit *e, int64_t now)
{
	struct kv h[MAX_HDR + 12];
	int nh = 0;
	char seqb[24], timeb[32];
	uint64_t seq = e->seq ? e->seq : s->next_sender;
	const struct rfx_session_config *c = &s->cfg;

	if (s->state == RFX_SESSION_DISCONNECTED)
		return RFX_ESTATE;
	h[nh++] = (struct kv){34, seqb, (uint32_t)fmt_u64(seqb, seq)};
	h[nh++] = (struct kv){49, c->sender_comp_id, (uint32_t)strlen(c->sender_comp_id)};
	h[nh++] = (struct kv){52, timeb, (uint32_t)rfx_session_format_time(timeb, now, s->prec)};
	h[nh++] = (struct kv){56, c->target_comp_id, (uint32_t)strlen(c->target_comp_id)};
	if (c->sender_sub_id[0])
		h[nh++] = (struct kv){50, c->sender_sub_id, (uint32_t)strlen(c->sender_sub_id)};
	if (c->target_sub_id[0])
		h[nh++] = (struct kv){57, c->target_sub_id, (uint32_t)strlen(c->target_sub_id)};
	if (c->sender_location_id[0])
		h[nh++] = (struct kv){142, c->sender_location_id, (uint32_t)strlen(c->sender_location_id)};
	if (c->target_location_id[0])
		h[nh++] = (struct kv){143, c->target_location_id, (uint32_t)strlen(c->target_location_id)};
	if (e->poss_dup)
		h[nh++] = (struct kv){43, "Y", 1};
	if (e->orig_time)
		h[nh++] = (struct kv){122, e->orig_time, e->orig_time_len};
	for (int i = 0; i < e->nhx && nh < MAX_HDR + 12; i++)
		h[nh++] = e->hx[i];
	/* Insertion sort: a dozen fields, stable for equal tags. */
	for (int i = 1; i < nh; i++) {
		struct kv k = h[i];
		int j = i - 1;
		while (j >= 0 && h[j].tag > k.tag) {
			h[j + 1] = h[j];
			j--;
		}
		h[j + 1] = k;
	}

	struct out o = {s->mem.out, s->mem.out_cap, HEADROOM, false};
	if (o.cap < HEADROOM + 8)
		return RFX_ENOSPACE;
	out_field(&o, 35, e->type, e->type_len);
	for (int i = 0; i < nh; i++)
		out_field(&o, h[i].tag, h[i].p, h[i].len);
	out_raw(&o, e->body, e->body_len);
	if (o.err || o.pos + 7 > o.cap)
		return RFX_ENOSPACE;
	size_t body_len = o.pos - HEADROOM;
	char pre[HEADROOM];
	size_t pl = 0, bl = strlen(c->begin_string);
	memcpy(pre, "8=", 2);
	pl = 2;
	memcpy(pre + pl, c->begin_string, bl);
	pl += bl;
	memcpy(pre + pl, "\0019=", 3);
	pl += 3;
	pl += fmt_u64(pre + pl, body_len);
	pre[pl++] = '\001';
	size_t start = HEADROOM - pl;
	memcpy(o.b + start, pre, pl);
	unsigned sum = rfx_checksum(o.b + start, o.pos - start);
	char ck[8] = {'1', '0', '=', (char)('0' + sum / 100), (char)('0' + sum / 10 % 10),
		      (char)('0' + sum % 10), '\001'};
	out_raw(&o, ck, 7);
	const char *msg = o.b + start;
	size_t len = o.pos - start;

	if (!e->seq) {
		if (!is_admin_type(e->type, e->type_len) && s->ops.store_put &&
		    !s->cfg.no_persist_messages &&
		    s->ops.store_put(s->ops.ctx, seq, msg, len) < 0) {
			/* Never send what we could not keep for a resend; a store
			 * that fails ends the session cleanly (no silent loss). */
			event(s, RFX_SESSION_EV_STORE_ERROR, "cannot store outbound message");
			if (s->state == RFX_SESSION_LOGGED_ON)
				send_logout(s, "Store error", now);
			return -EIO;
		}
		s->next_sender++;
		save_seqs(s);
	}
	s->last_sent = now;
	if (s->ops.send && s->ops.send(s->ops.ctx, msg, len) < 0) {
		do_disconnect(s, true);
		return -EPIPE;
	}
	return (int)(seq > INT32_MAX ? INT32_MAX : seq);
}

static int send_admin(struct rfx_session *s, const char *type, const char *body, size_t blen,
		      const struct kv *hx, int nhx, int64_t now)
{
	struct emit e = {.type = type, .type_len = (uint32_t)strlen(type), .hx = hx, .nhx = nhx,
			 .body = body, .body_len = blen};
	return emit(s, &e, now);
}

static void send_logout(struct rfx_session *s, const char *text, int64_t now)
{
	char b[RFX_SESSION_TEXT_MAX + 8];
	struct out o = {b, sizeof(b), 0, false};
	if (text && text[0])
		out_field(&o, 58, text, strlen(text));
	send_admin(s, "5", b, o.pos, NULL, 0, now);
	s->sent_logout = true;
	s->logout_sent_at = now;
	if (s->state != RFX_SESSION_DISCONNECTED)
		s->state = RFX_SESSION_LOGOUT_SENT;
}

static void send_heartbeat(struct rfx_session *s, const struct rfx_session_field *test_req_id,
			   int64_t now)
{
	char b[RFX_SESSION_TEXT_MAX + 8];
	struct out o = {b, sizeof(b), 0, false};
	if (test_req_id)
		out_field(&o, 112, test_req_id->p, test_req_id->len > RFX_SESSION_TEXT_MAX
							   ? RFX_SESSION_TEXT_MAX
							   : test_req_id->len);
	send_admin(s, "0", b, o.pos, NULL, 0, now);
}

static void send_logon(struct rfx_session *s, const struct rfx_session_msg *their, int64_t now)
{
	char b[256];
	struct out o = {b, sizeof(b), 0, false};
	out_field(&o, 98, "0", 1);
	out_u64(&o, 108, s->heart_bt_int);
	if (s->received_reset || (!their && s->sent_reset))
		out_field(&o, 141, "Y", 1);
	if (!their && s->cfg.username[0])
		out_field(&o, 553, s->cfg.username, strlen(s->cfg.username));
	if (!their && s->cfg.password[0])
		out_field(&o, 554, s->cfg.password, strlen(s->cfg.password));
	if (s->version == 50 && s->cfg.default_appl_ver_id[0])
		out_field(&o, 1137, s->cfg.default_appl_ver_id, strlen(s->cfg.default_appl_ver_id));
	send_admin(s, "A", b, o.pos, NULL, 0, now);
	s->sent_logon = true;
	s->logon_sent_at = now;
}

/* Routing fields of the rejected message, swapped (OnBehalfOf <-> DeliverTo),
 * so the Reject finds its way back through a hub. */
static int reverse_route(const struct rfx_session_msg *m, struct kv *hx)
{
	static const int32_t pairs[][2] = {{115, 128}, {116, 129}, {144, 145},
					   {128, 115}, {129, 116}, {145, 144}};
	int n = 0;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		const struct rfx_session_field *f = rfx_session_msg_get(m, pairs[i][0]);
		if (f && f->len)
			hx[n++] = (struct kv){pairs[i][1], f->p, f->len};
	}
	return n;
}

/*
 * Session-level Reject (35=3) of m. Before Logon there is nobody to reject to:
 * QuickFIX drops the connection silently (acceptance case 1d), and so do we.
 * Consumes the sequence number when m carries the expected one (FIX: a
 * rejected message still counts), except for Logon and SequenceReset.
 */
static void send_reject(struct rfx_session *s, const struct rfx_session_msg *m, int reason,
			int32_t ref_tag, const char *text, int64_t now)
{
	char b[RFX_SESSION_TEXT_MAX * 2 + 96];
	struct out o = {b, sizeof(b), 0, false};
	struct kv hx[6];
	int nhx = reverse_route(m, hx);
	const struct rfx_session_field *seqf = rfx_session_msg_get(m, 34);

	if (!s->received_logon) {
		event(s, RFX_SESSION_EV_INFO, "reject before logon: disconnecting");
		do_disconnect(s, true);
		return;
	}
	if (seqf && seqf->len)
		out_field(&o, 45, seqf->p, seqf->len);
	if (!text)
		text = rfx_reject_text(reason);
	bool with_tag = text && (ref_tag || reason == 0);
	if (with_tag && s->version < 42) {
		char t[RFX_SESSION_TEXT_MAX + 24];
		int n = snprintf(t, sizeof(t), "%s (%d)", text, (int)ref_tag);
		out_field(&o, 58, t, (size_t)n < sizeof(t) ? (size_t)n : sizeof(t) - 1);
	} else if (text) {
		out_field(&o, 58, text, strnlen(text, RFX_SESSION_TEXT_MAX));
	}
	if (with_tag && s->version >= 42) {
		char t[16];
		out_field(&o, 371, t, fmt_i64(t, ref_tag));
	}
	if (s->version >= 42) {
		if (m->msg_type_len)
			out_field(&o, 372, m->msg_type, m->msg_type_len);
		/* FIX.4.2 defines reasons 0-11 only. */
		if (s->version > 42 || reason <= 11) {
			char t[16];
			out_field(&o, 373, t, fmt_i64(t, reason));
		}
	}
	if (!msg_type_is(m, "A") && !msg_type_is(m, "4") && seqf && m->seq == s->next_target)
		incr_target(s);
	send_admin(s, "3", b, o.pos, hx, nhx, now);
	event(s, RFX_SESSION_EV_REJECT_SENT, text ? text : "rejected");
}

/* ------------------------------------------------------------- state */

static void clear_connection_state(struct rfx_session *s)
{
	s->received_logon = s->sent_logon = s->sent_logout = false;
	s->received_reset = s->sent_reset = false;
	s->resend_begin = s->resend_end = s->resend_target = 0;
	s->rs_next = s->rs_end = s->rs_gap = 0;
	s->test_requests = 0;
	s->queue_used = 0;
}

static void do_disconnect(struct rfx_session *s, bool notify)
{
	if (s->state == RFX_SESSION_DISCONNECTED)
		return;
	bool was_on = s->received_logon && s->sent_logon;
	s->state = RFX_SESSION_DISCONNECTED;
	clear_connection_state(s);
	if (s->cfg.reset_on_disconnect)
		reset_seqs(s);
	if (was_on)
		event(s, RFX_SESSION_EV_LOGOUT, "session ended");
	if (notify && s->ops.disconnect)
		s->ops.disconnect(s->ops.ctx);
}

static bool valid_logon_state(const struct rfx_session *s, const struct rfx_session_msg *m)
{
	bool logon = msg_type_is(m, "A");
	if ((logon && s->sent_reset) || s->received_reset)
		return true;
	if ((logon && !s->received_logon) || (!logon && s->received_logon))
		return true;
	if (msg_type_is(m, "5") && s->sent_logon)
		return true;
	if (!msg_type_is(m, "5") && s->sent_logout)
		return true;
	return msg_type_is(m, "4") || msg_type_is(m, "3");
}

/* ------------------------------------------------------------- queue */

/* Queue records: u64 seq, u32 len, bytes, padded to 8. */
static size_t rec_size(uint32_t len)
{
	return (12 + (size_t)len + 7) & ~(size_t)7;
}

static void queue_put(struct rfx_session *s, const struct rfx_session_msg *m)
{
	size_t need = rec_size(m->len);
	size_t pos = 0;
	while (pos < s->queue_used) {
		uint64_t seq;
		uint32_t len;
		memcpy(&seq, s->mem.queue + pos, 8);
		memcpy(&len, s->mem.queue + pos + 8, 4);
		if (seq == m->seq)
			return; /* already held */
		if (seq > m->seq)
			break;
		pos += rec_size(len);
	}
	if (!s->mem.queue || s->queue_used + need > s->mem.queue_cap) {
		/* Safe to drop: the gap-filling resend brings it again. */
		event(s, RFX_SESSION_EV_INFO, "too-high message not queued: queue full");
		return;
	}
	memmove(s->mem.queue + pos + need, s->mem.queue + pos, s->queue_used - pos);
	memcpy(s->mem.queue + pos, &m->seq, 8);
	memcpy(s->mem.queue + pos + 8, &m->len, 4);
	memcpy(s->mem.queue + pos + 12, m->buf, m->len);
	s->queue_used += (uint32_t)need;
}

static bool queue_has(const struct rfx_session *s, uint64_t want)
{
	size_t pos = 0;
	while (pos < s->queue_used) {
		uint64_t seq;
		uint32_t len;
		memcpy(&seq, s->mem.queue + pos, 8);
		memcpy(&len, s->mem.queue + pos + 8, 4);
		if (seq >= want)
			return seq == want;
		pos += rec_size(len);
	}
	return false;
}

/* ------------------------------------------------------------- protocol */

static void process(struct rfx_session *s, const char *buf, size_t len, int64_t now);

static void send_resend_request(struct rfx_session *s, uint64_t begin, uint64_t target,
				int64_t now)
{
	char b[64];
	struct out o = {b, sizeof(b), 0, false};
	uint64_t end = target, wire_end;
	uint32_t chunk = s->cfg.resend_chunk_size;
	if (chunk && target - begin + 1 > chunk) {
		end = begin + chunk - 1;
		wire_end = end;
	} else {
		/* Open-ended request: FIX.4.2+ says 0, older versions 999999. */
		wire_end = s->version >= 42 ? 0 : 999999;
	}
	out_u64(&o, 7, begin);
	out_u64(&o, 16, wire_end);
	s->resend_begin = begin;
	s->resend_end = end;
	s->resend_target = target;
	send_admin(s, "2", b, o.pos, NULL, 0, now);
	event(s, RFX_SESSION_EV_RESEND_REQUEST_SENT, "sent ResendRequest");
}

/* FIX TC 2b: seq too high -> queue it and ask for the gap, once. */
static void target_too_high(struct rfx_session *s, const struct rfx_session_msg *m, int64_t now)
{
	queue_put(s, m);
	if (s->resend_begin && m->seq >= s->resend_begin && !s->cfg.send_redundant_resend_requests) {
		if (m->seq - 1 > s->resend_target)
			s->resend_target = m->seq - 1;
		return;
	}
	send_resend_request(s, s->next_target, m->seq - 1, now);
}

/* PossDup rules (FIX TC 2e-2g). */
static void check_poss_dup(struct rfx_session *s, const struct rfx_session_msg *m, int64_t now)
{
	if (msg_type_is(m, "4"))
		return;
	const struct rfx_session_field *orig = rfx_session_msg_get(m, 122);
	const struct rfx_session_field *st = rfx_session_msg_get(m, 52);
	int64_t o, t;
	if (!orig) {
		send_reject(s, m, 1, 122, NULL, now);
		return;
	}
	if (rfx_session_parse_time(orig->p, orig->len, &o) < 0) {
		send_reject(s, m, 6, 122, NULL, now);
		return;
	}
	if (st && rfx_session_parse_time(st->p, st->len, &t) == 0 && o > t) {
		send_reject(s, m, 10, 0, NULL, now);
		send_logout(s, NULL, now);
	}
}

/* The checks every message passes before its handler acts (QuickFIX verify). */
static bool verify(struct rfx_session *s, const struct rfx_session_msg *m, bool too_high,
		   bool too_low, int64_t now)
{
	const struct rfx_session_config *c = &s->cfg;
	if (!valid_logon_state(s, m)) {
		event(s, RFX_SESSION_EV_INFO, "message not valid in this logon state");
		do_disconnect(s, true);
		return false;
	}
	if (c->check_latency) {
		const struct rfx_session_field *st = rfx_session_msg_get(m, 52);
		int64_t t = 0;
		rfx_session_parse_time(st->p, st->len, &t);
		int64_t d = now - t;
		if (d < 0)
			d = -d;
		if (d > (int64_t)c->max_latency * NS) {
			/* FIX TC 2o: Reject, then Logout. */
			send_reject(s, m, 10, 0, NULL, now);
			if (s->state != RFX_SESSION_DISCONNECTED)
				send_logout(s, NULL, now);
			return false;
		}
	}
	if (c->check_comp_id) {
		const struct rfx_session_field *snd = rfx_session_msg_get(m, 49);
		const struct rfx_session_field *tgt = rfx_session_msg_get(m, 56);
		if (!str_is(snd->p, snd->len, c->target_comp_id) ||
		    !str_is(tgt->p, tgt->len, c->sender_comp_id)) {
			/* FIX TC 2k: Reject, then Logout. */
			send_reject(s, m, 9, 0, NULL, now);
			if (s->state != RFX_SESSION_DISCONNECTED)
				send_logout(s, NULL, now);
			return false;
		}
	}
	if (too_high && m->seq > s->next_target) {
		target_too_high(s, m, now);
		return false;
	}
	if (too_low && m->seq < s->next_target) {
		if (!m->poss_dup) {
			/* FIX TC 2c: too low without PossDup is fatal. */
			char t[RFX_SESSION_TEXT_MAX];
			snprintf(t, sizeof(t), "MsgSeqNum too low, expecting %llu but received %llu",
				 (unsigned long long)s->next_target, (unsigned long long)m->seq);
			send_logout(s, t, now);
			do_disconnect(s, true);
			return false;
		}
		check_poss_dup(s, m, now);
		return false;
	}
	if ((too_high || too_low) && s->resend_begin && m->seq >= s->resend_end) {
		/* This chunk is satisfied; ask for the next one if the gap was
		 * larger than ResendRequestChunkSize, from the first number we
		 * neither have processed nor hold in the queue. */
		uint64_t next = s->resend_end + 1, target = s->resend_target;
		if (next <= m->seq)
			next = m->seq + 1;
		while (next <= target && queue_has(s, next))
			next++;
		s->resend_begin = s->resend_end = s->resend_target = 0;
		if (target >= next)
			send_resend_request(s, next, target, now);
	}
	s->last_received = now;
	s->test_requests = 0;
	return true;
}

static bool logon_time_ok(struct rfx_session *s, int64_t now);

static void next_logon(struct rfx_session *s, const struct rfx_session_msg *m, int64_t now)
{
	const struct rfx_session_field *rf = rfx_session_msg_get(m, 141);
	bool reset = rf && str_is(rf->p, rf->len, "Y");
	bool acceptor = s->cfg.role == RFX_SESSION_ACCEPTOR;

	if (acceptor && !s->received_logon && !refresh(s))
		return;
	if (!logon_time_ok(s, now)) {
		/* QuickFIX: no Logout, just the disconnect. */
		event(s, RFX_SESSION_EV_INFO, "Received logon outside of valid logon time");
		do_disconnect(s, true);
		return;
	}

	s->received_reset = reset;
	if (reset && !s->sent_reset)
		reset_seqs(s);
	if (!acceptor && !s->sent_logon && !reset) {
		event(s, RFX_SESSION_EV_INFO, "logon response before sending a request");
		do_disconnect(s, true);
		return;
	}
	if (acceptor && s->cfg.reset_on_logon && !s->received_logon)
		reset_seqs(s);
	if (!verify(s, m, false, true, now))
		return;
	if (s->ops.on_logon) {
		const char *text = NULL;
		if (s->ops.on_logon(s->ops.ctx, m, &text) != 0) {
			event(s, RFX_SESSION_EV_INFO, text ? text : "logon refused");
			if (text)
				send_logout(s, text, now);
			do_disconnect(s, true);
			return;
		}
	}
	s->received_logon = true;
	/* Answer with our Logon unless this is the answer to ours (an acceptor
	 * that sent an in-session reset Logon has sent_reset set). */
	if (!s->sent_reset && (acceptor || s->received_reset)) {
		const struct rfx_session_field *hb = rfx_session_msg_get(m, 108);
		uint64_t v = 0;
		if (!hb || !parse_u64(hb->p, hb->len, &v) || v > 86400) {
			event(s, RFX_SESSION_EV_INFO, "logon without a valid HeartBtInt");
			do_disconnect(s, true);
			return;
		}
		s->heart_bt_int = (uint32_t)v;
		send_logon(s, m, now);
		if (s->state == RFX_SESSION_DISCONNECTED)
			return;
	}
	s->sent_reset = s->received_reset = false;
	s->state = RFX_SESSION_LOGGED_ON;
	event(s, RFX_SESSION_EV_LOGON, "logged on");
	/* FIX TC 1a: Logon itself too high -> ResendRequest; ResetSeqNumFlag
	 * already put both sides at 1, so never a spurious request then. */
	if (m->seq > s->next_target && !reset)
		target_too_high(s, m, now);
	else
		incr_target(s);
}

static void next_logout(struct rfx_session *s, const struct rfx_session_msg *m, int64_t now)
{
	if (!verify(s, m, false, false, now))
		return;
	if (!s->sent_logout)
		send_logout(s, NULL, now);
	if (s->state == RFX_SESSION_DISCONNECTED)
		return;
	incr_target(s);
	if (s->cfg.reset_on_logout)
		reset_seqs(s);
	do_disconnect(s, true);
}

static void next_sequence_reset(struct rfx_session *s, const struct rfx_session_msg *m,
				int64_t now)
{
	const struct rfx_session_field *gf = rfx_session_msg_get(m, 123);
	bool gap_fill = gf && str_is(gf->p, gf->len, "Y");
	if (!verify(s, m, gap_fill, gap_fill, now))
		return;
	const struct rfx_session_field *nf = rfx_session_msg_get(m, 36);
	uint64_t ns;
	if (!nf) {
		send_reject(s, m, 1, 36, NULL, now);
		return;
	}
	if (!parse_u64(nf->p, nf->len, &ns)) {
		send_reject(s, m, 6, 36, NULL, now);
		return;
	}
	if (ns > s->next_target) {
		s->next_target = ns;
		save_seqs(s);
		event(s, RFX_SESSION_EV_SEQ_RESET, gap_fill ? "gap fill" : "sequence reset");
	} else if (ns < s->next_target) {
		/* FIX TC 11c: NewSeqNo may not move backwards. */
		send_reject(s, m, 5, 0, NULL, now);
	}
}

/* Serving a ResendRequest: stored application messages go again with PossDup
 * and OrigSendingTime; everything else (admin messages, holes) becomes
 * SequenceReset-GapFill runs. */
struct resend {
	struct rfx_session *s;
	uint64_t current, end, gap;
	int64_t now;
	bool failed;
	bool paused;          /* out of send room: continue from current */
};

/* Room kept for the header a resent message gains and one gap fill. */
#define RESEND_SLACK 512u

static void send_gap_fill(struct rfx_session *s, uint64_t seq, uint64_t new_seq, int64_t now)
{
	char b[64], tb[32];
	struct out o = {b, sizeof(b), 0, false};
	out_u64(&o, 36, new_seq);
	out_field(&o, 123, "Y", 1);
	struct emit e = {.type = "4", .type_len = 1, .body = b, .body_len = o.pos, .seq = seq,
			 .poss_dup = true, .orig_time = tb,
			 .orig_time_len = (uint32_t)rfx_session_format_time(tb, now, s->prec)};
	emit(s, &e, now);
}

static int resend_one(void *ctx, uint64_t seq, const char *msg, size_t len)
{
	struct resend *r = ctx;
	struct rfx_session *s = r->s;
	if (s->state == RFX_SESSION_DISCONNECTED) {
		r->failed = true;
		return 1;
	}
	if (seq < r->current)
		return 0;
	if (seq > r->end)
		return 1;
	/* Split the stored message into its header and body. */
	struct scan sc = {.p = msg, .len = len};
	struct rfx_session_field f;
	struct kv hx[MAX_HDR];
	int nhx = 0, rc;
	const char *type = NULL, *orig = NULL, *body = NULL, *body_end = msg + len;
	uint32_t type_len = 0, orig_len = 0;
	while ((rc = scan_next(&sc, &f)) == 1) {
		if (f.tag == 10) {
			body_end = f.p - 3;
			break;
		}
		if (!body && is_header_tag(f.tag)) {
			switch (f.tag) {
			case 35: type = f.p; type_len = f.len; break;
			case 52: orig = f.p; orig_len = f.len; break;
			case 8: case 9: case 34: case 43: case 122: case 49: case 56:
			case 50: case 57: case 142: case 143:
				break;
			default:
				if (nhx < MAX_HDR)
					hx[nhx++] = (struct kv){f.tag, f.p, f.len};
			}
		} else if (!body) {
			/* The body starts at this field's tag: back up over "tag=". */
			const char *q = f.p - 1;
			while (q > msg && q[-1] != '\001')
				q--;
			body = q;
		}
	}
	if (rc < 0 || !type || is_admin_type(type, type_len)) {
		if (!r->gap)
			r->gap = r->current;
		r->current = seq + 1;
		return 0;
	}
	if (s->ops.send_room && s->ops.send_room(s->ops.ctx) < len + RESEND_SLACK) {
		r->paused = true;
		return 1;
	}
	if (!r->gap && seq > r->current)
		r->gap = r->current;
	if (r->gap)
		send_gap_fill(s, r->gap, seq, r->now);
	r->gap = 0;
	struct emit e = {.type = type, .type_len = type_len, .hx = hx, .nhx = nhx,
			 .body = body ? body : body_end, .body_len = body ? (size_t)(body_end - body) : 0,
			 .seq = seq, .poss_dup = true, .orig_time = orig, .orig_time_len = orig_len};
	emit(s, &e, r->now);
	r->current = seq + 1;
	return 0;
}

/* Serve the ResendRequest in rs_* from rs_next on, until done or out of
 * send room (then it stays pending for rfx_session_resend_continue). */
static void resend_serve(struct rfx_session *s, int64_t now)
{
	struct resend r = {.s = s, .current = s->rs_next, .end = s->rs_end, .gap = s->rs_gap,
			   .now = now};
	if (s->ops.store_range &&
	    s->ops.store_range(s->ops.ctx, r.current, r.end, resend_one, &r) < 0)
		event(s, RFX_SESSION_EV_STORE_ERROR, "cannot read stored messages");
	if (s->state == RFX_SESSION_DISCONNECTED) {
		s->rs_next = s->rs_end = s->rs_gap = 0;
		return;
	}
	if (r.paused) {
		s->rs_next = r.current;
		s->rs_gap = r.gap;
		return;
	}
	s->rs_next = s->rs_end = s->rs_gap = 0;
	/* Trailing run: gap-fill to just after the last message asked for
	 * (never NewSeqNo = last resent, a classic engine bug). */
	if (!r.gap && r.current <= r.end)
		r.gap = r.current;
	if (r.gap)
		send_gap_fill(s, r.gap, r.end + 1, now);
	event(s, RFX_SESSION_EV_RESEND_REQUEST_SERVED, "served ResendRequest");
}

bool rfx_session_resend_continue(struct rfx_session *s, int64_t now)
{
	if (!s->rs_end)
		return false;
	if (s->state == RFX_SESSION_DISCONNECTED) {
		s->rs_next = s->rs_end = s->rs_gap = 0;
		return false;
	}
	s->now = now;
	resend_serve(s, now);
	return s->rs_end != 0;
}

static void next_resend_request(struct rfx_session *s, const struct rfx_session_msg *m,
				int64_t now)
{
	if (!verify(s, m, false, false, now))
		return;
	const struct rfx_session_field *bf = rfx_session_msg_get(m, 7), *ef = rfx_session_msg_get(m, 16);
	uint64_t begin, end;
	if (!bf || !ef) {
		send_reject(s, m, 1, bf ? 16 : 7, NULL, now);
		return;
	}
	if (!parse_u64(bf->p, bf->len, &begin) || !parse_u64(ef->p, ef->len, &end)) {
		send_reject(s, m, 6, parse_u64(bf->p, bf->len, &begin) ? 16 : 7, NULL, now);
		return;
	}
	if ((s->version >= 42 && end == 0) || (s->version <= 42 && end == 999999) ||
	    end >= s->next_sender)
		end = s->next_sender - 1;
	if (begin == 0)
		begin = 1;
	if (begin <= end && s->cfg.no_persist_messages) {
		/* Nothing kept to resend: one gap fill over the whole range. */
		send_gap_fill(s, begin, end + 1, now);
	} else if (begin <= end) {
		/* A new request replaces one still being served. */
		s->rs_next = begin;
		s->rs_end = end;
		s->rs_gap = 0;
		resend_serve(s, now);
	}
	if (s->state == RFX_SESSION_DISCONNECTED)
		return;
	/* A ResendRequest is served even out of sequence (FIX TC 8, 20) but
	 * only consumes its number when it is the expected one. */
	if (m->seq == s->next_target)
		incr_target(s);
}

static void next_app(struct rfx_session *s, const struct rfx_session_msg *m, int64_t now)
{
	if (!verify(s, m, true, true, now))
		return;
	if (s->ops.on_app)
		s->ops.on_app(s->ops.ctx, m);
	if (s->state != RFX_SESSION_DISCONNECTED)
		incr_target(s);
}

/* MsgType of raw bytes that may not parse (QuickFIX identifyType). */
static bool raw_type_is(const char *buf, size_t len, const char *type)
{
	size_t tl = strlen(type);
	for (size_t i = 0; i + 5 + tl <= len; i++)
		if (buf[i] == '\001' && memcmp(buf + i + 1, "35=", 3) == 0)
			return memcmp(buf + i + 4, type, tl) == 0 && buf[i + 4 + tl] == '\001';
	return false;
}

/* Period of now, from a cache refreshed only at schedule boundaries (the
 * tz arithmetic stays off the message path). */
static int64_t current_period(struct rfx_session *s, int64_t now)
{
	if (now < s->sched_from || now >= s->sched_until) {
		s->sched_period = rfx_schedule_period(s->cfg.schedule, now);
		s->sched_from = now;
		s->sched_until = rfx_schedule_next_change(s->cfg.schedule, now);
	}
	return s->sched_period;
}

/* Inside the logon window (LogonTime..LogoutTime), from a cache refreshed
 * only when the window opens or closes. No window: the period decides. */
static bool logon_time_ok(struct rfx_session *s, int64_t now)
{
	const struct rfx_schedule *sc = s->cfg.schedule;
	if (!sc || !sc->logon_window)
		return true;
	if (now < s->logon_from || now >= s->logon_until) {
		s->logon_ok = rfx_schedule_logon_time(sc, now);
		s->logon_from = now;
		s->logon_until = rfx_schedule_logon_next_change(sc, now);
	}
	return s->logon_ok;
}

/* QuickFIX checkSessionTime: inside a period, and the same period the
 * stored sequence numbers began in. */
static bool session_time_ok(struct rfx_session *s, int64_t now)
{
	if (!s->cfg.schedule)
		return true;
	int64_t p = current_period(s, now);
	if (p == INT64_MIN)
		return false;
	if (s->creation_time == INT64_MIN)
		set_creation_time(s, now);
	return s->creation_period == p;
}

/* Outside the schedule or in a new period: log out, drop, reset. */
static void end_of_period(struct rfx_session *s, int64_t now)
{
	event(s, RFX_SESSION_EV_INFO, "outside the session schedule or a new period");
	if (s->received_logon && s->sent_logon && !s->sent_logout)
		send_logout(s, NULL, now);
	do_disconnect(s, true);
	reset_seqs(s);
}

static void process(struct rfx_session *s, const char *buf, size_t len, int64_t now)
{
	struct rfx_session_msg m;
	struct rfx_msg cm;
	if (!session_time_ok(s, now)) {
		end_of_period(s, now);
		return;
	}
	int rc = parse_msg(s, buf, len, &m, &cm);
	if (rc < 0) {
		event(s, RFX_SESSION_EV_GARBLED, rfx_strerror(rc));
		if (raw_type_is(buf, len, "A") || !s->received_logon) {
			/* A Logon we cannot read ends the connection (FIX TC 1d). */
			do_disconnect(s, true);
		}
		return;
	}
	const struct rfx_session_field *bs = &m.fields[0];
	if (!rfx_session_msg_get(&m, 49) || !rfx_session_msg_get(&m, 56)) {
		send_reject(s, &m, 1, rfx_session_msg_get(&m, 49) ? 56 : 49, NULL, now);
		return;
	}
	if (!str_is(bs->p, bs->len, s->cfg.begin_string)) {
		if (!s->received_logon) {
			do_disconnect(s, true);
		} else if (msg_type_is(&m, "5")) {
			next_logout(s, &m, now);
		} else {
			/* FIX TC 2i: wrong BeginString -> Logout, then wait. */
			send_logout(s, "Incorrect BeginString", now);
			incr_target(s);
		}
		return;
	}
	const struct rfx_session_field *sf = rfx_session_msg_get(&m, 34);
	if (!sf || !sf->len || !parse_u64(sf->p, sf->len, &m.seq)) {
		send_reject(s, &m, sf && sf->len ? 6 : 1, 34, NULL, now);
		return;
	}
	const struct rfx_session_field *st = rfx_session_msg_get(&m, 52);
	int64_t t;
	if (!st || rfx_session_parse_time(st->p, st->len, &t) < 0) {
		send_reject(s, &m, st ? 6 : 1, 52, NULL, now);
		return;
	}
	if (msg_type_is(&m, "A") && s->version == 50 && !rfx_session_msg_get(&m, 1137)) {
		send_reject(s, &m, 1, 1137, NULL, now);
		return;
	}
	if (s->ops.validate) {
		struct rfx_session_reject rej = {0, 0, NULL};
		if (s->ops.validate(s->ops.validate_ctx, &m, &rej) != 0) {
			send_reject(s, &m, rej.reason, rej.ref_tag, rej.text, now);
			return;
		}
	}
	if (m.msg_type_len == 1) {
		switch (m.msg_type[0]) {
		case 'A':
			next_logon(s, &m, now);
			return;
		case '0':
			if (verify(s, &m, true, true, now))
				incr_target(s);
			return;
		case '1':
			if (verify(s, &m, true, true, now)) {
				send_heartbeat(s, rfx_session_msg_get(&m, 112), now);
				if (s->state != RFX_SESSION_DISCONNECTED)
					incr_target(s);
			}
			return;
		case '2':
			next_resend_request(s, &m, now);
			return;
		case '3':
			if (verify(s, &m, false, true, now)) {
				event(s, RFX_SESSION_EV_REJECT_RECEIVED, "peer rejected a message");
				incr_target(s);
			}
			return;
		case '4':
			next_sequence_reset(s, &m, now);
			return;
		case '5':
			next_logout(s, &m, now);
			return;
		}
	}
	next_app(s, &m, now);
}

/* Deliver queued too-high messages that are now in sequence (FIX TC 2b). */
static void drain_queue(struct rfx_session *s, int64_t now)
{
	while (s->queue_used && s->state != RFX_SESSION_DISCONNECTED) {
		uint64_t seq;
		uint32_t len;
		memcpy(&seq, s->mem.queue, 8);
		memcpy(&len, s->mem.queue + 8, 4);
		if (seq > s->next_target)
			return;
		size_t rs = rec_size(len);
		if (seq < s->next_target) { /* superseded by a gap fill */
			memmove(s->mem.queue, s->mem.queue + rs, s->queue_used - rs);
			s->queue_used -= (uint32_t)rs;
			continue;
		}
		/* The record stays in place while it is processed: its seq is the
		 * expected one, so processing never queues anything before it. */
		char *rec = s->mem.queue + 12;
		if (raw_type_is(rec, len, "A") || raw_type_is(rec, len, "2")) {
			/* A queued Logon or ResendRequest was acted on when it
			 * arrived; only its number is consumed now (as QuickFIX). */
			incr_target(s);
		} else {
			process(s, rec, len, now);
		}
		if (s->state == RFX_SESSION_DISCONNECTED)
			return;
		uint64_t q;
		memcpy(&q, s->mem.queue, 8);
		if (s->queue_used >= rs && q == seq) {
			memmove(s->mem.queue, s->mem.queue + rs, s->queue_used - rs);
			s->queue_used -= (uint32_t)rs;
		}
	}
}

/* ------------------------------------------------------------- API */

void rfx_session_config_default(struct rfx_session_config *c)
{
	memset(c, 0, sizeof(*c));
	c->role = RFX_SESSION_ACCEPTOR;
	c->heart_bt_int = 30;
	c->check_comp_id = true;
	c->check_latency = true;
	c->max_latency = 120;
	c->logon_timeout = 10;
	c->logout_timeout = 2;
	c->timestamp_precision = -1;
	c->validate_length_and_checksum = true;
}

static uint8_t version_of(const char *bs)
{
	static const struct {
		const char *s;
		uint8_t v;
	} t[] = {{"FIX.4.0", 40}, {"FIX.4.1", 41}, {"FIX.4.2", 42}, {"FIX.4.3", 43},
		 {"FIX.4.4", 44}, {"FIXT.1.1", 50}};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(bs, t[i].s) == 0)
			return t[i].v;
	return 0;
}

int rfx_session_init(struct rfx_session *s, const struct rfx_session_config *cfg,
		     const struct rfx_session_ops *ops, const struct rfx_session_mem *mem)
{
	if (!s || !cfg || !ops || !mem || !mem->out || mem->out_cap < 256 || !mem->fields ||
	    mem->max_fields < 8)
		return -EINVAL;
	if (!memchr(cfg->begin_string, 0, sizeof(cfg->begin_string)) ||
	    !memchr(cfg->sender_comp_id, 0, sizeof(cfg->sender_comp_id)) ||
	    !memchr(cfg->target_comp_id, 0, sizeof(cfg->target_comp_id)) ||
	    !cfg->sender_comp_id[0] || !cfg->target_comp_id[0])
		return -EINVAL;
	uint8_t v = version_of(cfg->begin_string);
	if (!v)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->ops = *ops;
	s->mem = *mem;
	s->version = v;
	if (!s->cfg.max_latency)
		s->cfg.max_latency = 120;
	if (!s->cfg.logon_timeout)
		s->cfg.logon_timeout = 10;
	if (!s->cfg.logout_timeout)
		s->cfg.logout_timeout = 2;
	s->prec = cfg->timestamp_precision >= 0 ? cfg->timestamp_precision : (v >= 42 ? 3 : 0);
	s->next_sender = s->next_target = 1;
	if (rfx_schedule_check(cfg->schedule) < 0)
		return -EINVAL;
	s->sched_from = s->sched_until = 0;
	s->creation_time = INT64_MIN;
	int rc = load_store(s);
	if (rc < 0)
		return rc;
	s->state = RFX_SESSION_DISCONNECTED;
	return 0;
}

bool rfx_session_logon_time(const struct rfx_session *s, int64_t now)
{
	return rfx_schedule_logon_time(s->cfg.schedule, now);
}

void rfx_session_deinit(struct rfx_session *s)
{
	if (s)
		memset(s, 0, sizeof(*s));
}

int rfx_session_on_connect(struct rfx_session *s, int64_t now)
{
	if (s->state != RFX_SESSION_DISCONNECTED)
		return RFX_ESTATE;
	s->now = now;
	if (s->cfg.schedule) {
		if (current_period(s, now) == INT64_MIN)
			return RFX_ESTATE; /* not now: outside the schedule */
		if (!session_time_ok(s, now))
			reset_seqs(s); /* a new period since the numbers began */
	}
	clear_connection_state(s);
	s->connected_at = s->last_received = s->last_sent = now;
	if (s->cfg.role == RFX_SESSION_ACCEPTOR) {
		s->state = RFX_SESSION_AWAIT_LOGON;
		return 0;
	}
	if (!logon_time_ok(s, now))
		return RFX_ESTATE; /* not now: outside the logon window */
	s->state = RFX_SESSION_LOGON_SENT;
	s->heart_bt_int = s->cfg.heart_bt_int;
	if (!refresh(s))
		return -EIO; /* the store could not be read; disconnected */
	if (s->cfg.reset_on_logon || s->reset_next_logon) {
		reset_seqs(s);
		s->sent_reset = true;
		s->reset_next_logon = false;
	}
	send_logon(s, NULL, now);
	return s->state == RFX_SESSION_DISCONNECTED ? -EPIPE : 0;
}

int rfx_session_on_message(struct rfx_session *s, const char *msg, size_t len, int64_t now)
{
	if (s->state == RFX_SESSION_DISCONNECTED)
		return RFX_ESTATE;
	s->now = now;
	process(s, msg, len, now);
	drain_queue(s, now);
	return 0;
}

static int64_t timers(struct rfx_session *s, int64_t now);

int64_t rfx_session_on_timer(struct rfx_session *s, int64_t now)
{
	if (s->state == RFX_SESSION_DISCONNECTED)
		return INT64_MAX;
	s->now = now;
	if (!session_time_ok(s, now)) {
		end_of_period(s, now);
		return INT64_MAX;
	}
	if (s->state == RFX_SESSION_LOGGED_ON && !logon_time_ok(s, now)) {
		/* LogoutTime: the Logout handshake, then the logout timeout. */
		event(s, RFX_SESSION_EV_INFO, "logon window closed");
		send_logout(s, NULL, now);
	}
	int64_t dl = timers(s, now);
	if (s->cfg.schedule && s->state != RFX_SESSION_DISCONNECTED) {
		if (s->sched_until < dl)
			dl = s->sched_until;
		if (s->cfg.schedule->logon_window && s->logon_until > now && s->logon_until < dl)
			dl = s->logon_until;
	}
	return dl;
}

static int64_t timers(struct rfx_session *s, int64_t now)
{
	int64_t hb = (int64_t)s->heart_bt_int * NS;
	if (!s->received_logon || !s->sent_logon) {
		int64_t since = s->sent_logon ? s->logon_sent_at : s->connected_at;
		int64_t dl = since + (int64_t)s->cfg.logon_timeout * NS;
		if (now >= dl) {
			event(s, RFX_SESSION_EV_TIMEOUT, "timed out waiting for logon");
			do_disconnect(s, true);
			return INT64_MAX;
		}
		return dl;
	}
	int64_t logout_dl = INT64_MAX;
	if (s->sent_logout) {
		logout_dl = s->logout_sent_at + (int64_t)s->cfg.logout_timeout * NS;
		if (now >= logout_dl) {
			event(s, RFX_SESSION_EV_TIMEOUT, "timed out waiting for logout response");
			do_disconnect(s, true);
			return INT64_MAX;
		}
	}
	if (hb == 0)
		return logout_dl;
	int64_t since_recv = now - s->last_received, since_sent = now - s->last_sent;
	if (!(since_sent < hb && since_recv < hb)) {
		if (since_recv * 10 >= hb * 24) {
			/* FIX: no data for 2.4 heartbeat intervals after a TestRequest. */
			event(s, RFX_SESSION_EV_TIMEOUT, "timed out waiting for heartbeat");
			do_disconnect(s, true);
			return INT64_MAX;
		}
		if (since_recv * 2 >= hb * 3 * (int64_t)(s->test_requests + 1)) {
			send_admin(s, "1", "112=TEST\001", 9, NULL, 0, now);
			s->test_requests++;
		} else if (since_sent >= hb && s->test_requests == 0) {
			send_heartbeat(s, NULL, now);
		}
		if (s->state == RFX_SESSION_DISCONNECTED)
			return INT64_MAX;
	}
	/* Earliest future moment any rule above can fire. */
	int64_t c[4] = {s->last_sent + hb,
			s->last_received + hb * 3 * (int64_t)(s->test_requests + 1) / 2,
			s->last_received + hb * 24 / 10, logout_dl};
	int64_t dl = INT64_MAX;
	for (int i = 0; i < 4; i++)
		if (c[i] > now && c[i] < dl)
			dl = c[i];
	return dl == INT64_MAX ? now + NS : dl;
}

void rfx_session_on_disconnect(struct rfx_session *s, int64_t now)
{
	s->now = now;
	do_disconnect(s, false);
}

int64_t rfx_session_send_app(struct rfx_session *s, const char *body, size_t len, int64_t now)
{
	if (s->state != RFX_SESSION_LOGGED_ON)
		return RFX_ESTATE;
	s->now = now;
	if (len < 5 || memcmp(body, "35=", 3) != 0 || body[len - 1] != '\001')
		return -EINVAL;
	/* Header fields the caller put in the body (PossResend, routing...) move
	 * into the header, in tag order; the session owns 8/9/34/49/52/56/10. */
	struct scan sc = {.p = body, .len = len};
	struct rfx_session_field f;
	struct kv hx[MAX_HDR];
	int nhx = 0, rc;
	const char *type = NULL;
	uint32_t type_len = 0;
	size_t body_start = 0;
	bool hoisting = true;
	while ((rc = scan_next(&sc, &f)) == 1) {
		if (f.tag == 35 && !type) {
			type = f.p;
			type_len = f.len;
			body_start = sc.pos;
			continue;
		}
		if (!hoisting) {
			/* Fields the session owns cannot hide in the body. */
			switch (f.tag) {
			case 8: case 9: case 10: case 34: case 35: case 43: case 49:
			case 52: case 56: case 122:
				return -EINVAL;
			}
			continue;
		}
		if (!is_header_tag(f.tag)) {
			hoisting = false;
			continue;
		}
		switch (f.tag) {
		case 8: case 9: case 10: case 34: case 35: case 49: case 52: case 56:
		case 43: case 122:
			break;
		default:
			if (nhx == MAX_HDR)
				return -EINVAL;
			hx[nhx++] = (struct kv){f.tag, f.p, f.len};
		}
		body_start = sc.pos;
	}
	if (rc < 0 || !type || !type_len || is_admin_type(type, type_len))
		return -EINVAL;
	struct emit e = {.type = type, .type_len = type_len, .hx = hx, .nhx = nhx,
			 .body = body + body_start, .body_len = len - body_start};
	uint64_t seq = s->next_sender;
	int r = emit(s, &e, now);
	return r < 0 ? r : (int64_t)seq;
}

int rfx_session_logout(struct rfx_session *s, const char *text, int64_t now)
{
	if (s->state != RFX_SESSION_LOGGED_ON)
		return RFX_ESTATE;
	s->now = now;
	send_logout(s, text, now);
	return s->state == RFX_SESSION_DISCONNECTED ? -EPIPE : 0;
}

int rfx_session_reset(struct rfx_session *s, int64_t now)
{
	s->now = now;
	if (s->state == RFX_SESSION_DISCONNECTED) {
		reset_seqs(s);
		s->reset_next_logon = s->cfg.role == RFX_SESSION_INITIATOR;
		return 0;
	}
	if (s->state != RFX_SESSION_LOGGED_ON || s->sent_logout)
		return RFX_ESTATE;
	/* FIX: a Logon with ResetSeqNumFlag=Y during the session resets both
	 * sides; next_logon() takes the peer's Logon(141=Y, 34=1) as the answer. */
	reset_seqs(s);
	s->sent_reset = true;
	send_logon(s, NULL, now);
	return s->state == RFX_SESSION_DISCONNECTED ? -EPIPE : 0;
}
