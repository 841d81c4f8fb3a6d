/* Builder: serialize a FIX message into a caller buffer, no allocation. */
#include "engine/codec.h"

#include <errno.h>
#include <string.h>

#include "engine/digits.h"

#define TRAILER_LEN 7 /* "10=nnn<SOH>", always kept free so finish() cannot fail */
#define NS_PER_DAY (86400LL * 1000000000LL)

int rfx_builder_init(struct rfx_builder *b, const char *begin_string)
{
	size_t n = begin_string ? strlen(begin_string) : 0;

	memset(b, 0, sizeof *b);
	if (n == 0 || n > RFX_BEGIN_STRING_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)begin_string[i] < 0x21 || (unsigned char)begin_string[i] > 0x7e)
			return -EINVAL;
	memcpy(b->prefix, "8=", 2);
	memcpy(b->prefix + 2, begin_string, n);
	memcpy(b->prefix + 2 + n, "\0019=", 3);
	b->prefix_len = (uint8_t)(n + 5);
	return 0;
}

/* Room for n more bytes, keeping the trailer's room. Sticky on failure. */
static inline bool room(struct rfx_builder *b, size_t n)
{
	if (b->err)
		return false;
	if ((size_t)b->cap - TRAILER_LEN - b->pos < n) {
		b->err = RFX_ENOSPACE;
		return false;
	}
	return true;
}

/* Writes "tag=" at w; returns the end. At most 11 bytes. Tags below 10000
 * (nearly all) take a branch or two and no loop. */
static inline char *put_tag(char *w, uint32_t tag)
{
	if (tag < 100) {
		if (tag < 10) {
			w[0] = (char)('0' + tag);
			w[1] = '=';
			return w + 2;
		}
		rfx_put2(w, tag);
		w[2] = '=';
		return w + 3;
	}
	if (tag < 10000) {
		if (tag < 1000) {
			w[0] = (char)('0' + tag / 100);
			rfx_put2(w + 1, tag % 100);
			w[3] = '=';
			return w + 4;
		}
		rfx_put2(w, tag / 100);
		rfx_put2(w + 2, tag % 100);
		w[4] = '=';
		return w + 5;
	}
	w = rfx_put_u64(w, tag);
	*w++ = '=';
	return w;
}

/* Nonzero if any byte of w is SOH (0x01): the classic has-zero-byte test on
 * w ^ 0x0101...; exact as a yes/no answer. */
static inline uint64_t has_soh(uint64_t w)
{
	uint64_t x = w ^ 0x0101010101010101ULL;
	return (x - 0x0101010101010101ULL) & ~x & 0x8080808080808080ULL;
}

/* Copies n bytes and reports whether any was SOH, in 8-byte words (the last
 * word overlaps; never reads outside src[0..n)). The caller has checked room,
 * and an aborted copy is harmless because pos does not move. */
static inline bool copy_has_soh(char *dst, const char *src, uint32_t n)
{
	uint64_t bad = 0, w;

	if (n >= 8) {
		uint32_t i = 0;
		for (; i + 8 <= n; i += 8) {
			memcpy(&w, src + i, 8);
			memcpy(dst + i, &w, 8);
			bad |= has_soh(w);
		}
		if (i < n) {
			memcpy(&w, src + n - 8, 8);
			memcpy(dst + n - 8, &w, 8);
			bad |= has_soh(w);
		}
		return bad != 0;
	}
	if (n >= 4) {
		uint32_t a, b;
		memcpy(&a, src, 4);
		memcpy(&b, src + n - 4, 4);
		memcpy(dst, &a, 4);
		memcpy(dst + n - 4, &b, 4);
		return has_soh(((uint64_t)a << 32) | b) != 0;
	}
	if (n >= 2) {
		uint16_t a, b;
		memcpy(&a, src, 2);
		memcpy(&b, src + n - 2, 2);
		memcpy(dst, &a, 2);
		memcpy(dst + n - 2, &b, 2);
		return has_soh(0x0202020200000000ULL | ((uint64_t)a << 16) | b) != 0;
	}
	if (n == 1) {
		dst[0] = src[0];
		return src[0] == RFX_SOH;
	}
	return false;
}

int rfx_builder_start(struct rfx_builder *b, char *buf, size_t cap,
		      const char *msg_type, uint32_t len)
{
	if (b->prefix_len == 0 || len == 0)
		return -EINVAL;
	b->buf = buf;
	b->cap = cap > UINT32_MAX ? UINT32_MAX : (uint32_t)cap;
	b->err = 0;
	b->start = 0;
	b->body = b->prefix_len + RFX_BODYLEN_DIGITS + 1;
	if (b->cap < b->body + TRAILER_LEN) {
		b->pos = 0;
		return b->err = RFX_ENOSPACE;
	}
	b->pos = b->body;
	if (!room(b, 4 + (size_t)len))
		return b->err;
	char *w = buf + b->pos;
	memcpy(w, "35=", 3);
	if (copy_has_soh(w + 3, msg_type, len)) {
		b->pos = 0;
		b->err = -EINVAL;
		return -EINVAL;
	}
	w[3 + len] = RFX_SOH;
	b->pos += 4 + len;
	return 0;
}

int rfx_builder_str(struct rfx_builder *b, uint32_t tag, const char *s, uint32_t len)
{
	if (tag == 0)
		return -EINVAL;
	if (!room(b, 12 + (size_t)len))
		return b->err;
	char *w = put_tag(b->buf + b->pos, tag);
	if (copy_has_soh(w, s, len))
		return -EINVAL; /* SOH would split the value into fields */
	w[len] = RFX_SOH;
	b->pos = (uint32_t)(w + len + 1 - b->buf);
	return 0;
}

int rfx_builder_uint(struct rfx_builder *b, uint32_t tag, uint64_t v)
{
	if (tag == 0)
		return -EINVAL;
	if (!room(b, 12 + 20))
		return b->err;
	char *w = put_tag(b->buf + b->pos, tag);
	w = rfx_put_u64(w, v);
	*w++ = RFX_SOH;
	b->pos = (uint32_t)(w - b->buf);
	return 0;
}

int rfx_builder_int(struct rfx_builder *b, uint32_t tag, int64_t v)
{
	if (tag == 0)
		return -EINVAL;
	if (!room(b, 12 + 21))
		return b->err;
	char *w = put_tag(b->buf + b->pos, tag);
	uint64_t u = (uint64_t)v;
	if (v < 0) {
		*w++ = '-';
		u = 0 - u;
	}
	w = rfx_put_u64(w, u);
	*w++ = RFX_SOH;
	b->pos = (uint32_t)(w - b->buf);
	return 0;
}

int rfx_builder_decimal(struct rfx_builder *b, uint32_t tag, const struct rfx_decimal *d)
{
	if (tag == 0)
		return -EINVAL;
	/* Worst case: sign, 255 integer digits, point, 19 fraction digits. */
	size_t need = 12 + 1 + (d->int_digits > 20 ? d->int_digits : 20) + 1 + 19 + 1;
	if (!room(b, need))
		return b->err;
	char *w = put_tag(b->buf + b->pos, tag);
	int n = rfx_decimal_format(w, need, d);
	if (n < 0)
		return n;
	w[n] = RFX_SOH;
	b->pos = (uint32_t)(w + n + 1 - b->buf);
	return 0;
}

int rfx_builder_char(struct rfx_builder *b, uint32_t tag, char c)
{
	if (tag == 0 || c == RFX_SOH)
		return -EINVAL;
	if (!room(b, 14))
		return b->err;
	char *w = put_tag(b->buf + b->pos, tag);
	w[0] = c;
	w[1] = RFX_SOH;
	b->pos = (uint32_t)(w + 2 - b->buf);
	return 0;
}

int rfx_builder_bool(struct rfx_builder *b, uint32_t tag, bool v)
{
	return rfx_builder_char(b, tag, v ? 'Y' : 'N');
}

/* Writes "tag=YYYYMMDD-HH:MM:SS[.f]<SOH>" at w (room checked by the caller:
 * TS_FIELD_MAX bytes); returns the end. ns >= RFX_TS_MIN_NS, prec <= 9. */
#define TS_FIELD_MAX (11 + 17 + 10 + 1)
static inline char *put_ts(struct rfx_builder *b, char *w, uint32_t tag, int64_t ns, unsigned p)
{
	/* Same UTC day as last time: only the time digits are new. Unsigned
	 * difference: ns >= day_ns here, and the span may exceed INT64_MAX. */
	if (!b->day_text[0] || ns < b->day_ns ||
	    (uint64_t)ns - (uint64_t)b->day_ns >= (uint64_t)NS_PER_DAY) {
		int64_t days = ns / NS_PER_DAY;
		int32_t y;
		uint32_t mo, d;
		if (ns % NS_PER_DAY < 0)
			days--;
		rfx_civil_from_days(days, &y, &mo, &d);
		rfx_put_date(b->day_text, y, mo, d);
		b->day_text[8] = '-';
		b->day_ns = days * NS_PER_DAY;
	}
	w = put_tag(w, tag);
	memcpy(w, b->day_text, 9);
	rfx_put_time(w + 9, ns - b->day_ns, p);
	w += 17 + (p ? p + 1 : 0);
	*w++ = RFX_SOH;
	return w;
}

int rfx_builder_timestamp(struct rfx_builder *b, uint32_t tag, int64_t ns,
			  enum rfx_ts_prec prec)
{
	unsigned p = (unsigned)prec;

	if (tag == 0 || p > 9 || ns < RFX_TS_MIN_NS)
		return -EINVAL;
	if (!room(b, TS_FIELD_MAX))
		return b->err;
	b->pos = (uint32_t)(put_ts(b, b->buf + b->pos, tag, ns, p) - b->buf);
	return 0;
}

int rfx_builder_data(struct rfx_builder *b, uint32_t length_tag, uint32_t data_tag,
		     const void *data, uint32_t len)
{
	if (length_tag == 0 || data_tag == 0)
		return -EINVAL;
	if (!room(b, 12 + 11 + 12 + (size_t)len + 1))
		return b->err;
	char *w = put_tag(b->buf + b->pos, length_tag);
	w = rfx_put_u64(w, len);
	*w++ = RFX_SOH;
	w = put_tag(w, data_tag);
	memcpy(w, data, len);
	w[len] = RFX_SOH;
	b->pos = (uint32_t)(w + len + 1 - b->buf);
	return 0;
}

int rfx_builder_raw(struct rfx_builder *b, const char *fields, uint32_t len)
{
	if (len == 0)
		return 0;
	if (fields[len - 1] != RFX_SOH)
		return -EINVAL;
	if (!room(b, len))
		return b->err;
	memcpy(b->buf + b->pos, fields, len);
	b->pos += len;
	return 0;
}

/* Copies n bytes with overlapping word moves (never reading outside src):
 * values are short, and a libc call costs more than the copy. */
static inline void small_copy(char *dst, const char *src, uint32_t n)
{
	uint64_t w, x;
	uint32_t a, c;
	uint16_t h, l;

	if (n >= 8) {
		if (n > 16) {
			memcpy(dst, src, n);
			return;
		}
		memcpy(&w, src, 8);
		memcpy(&x, src + n - 8, 8);
		memcpy(dst, &w, 8);
		memcpy(dst + n - 8, &x, 8);
	} else if (n >= 4) {
		memcpy(&a, src, 4);
		memcpy(&c, src + n - 4, 4);
		memcpy(dst, &a, 4);
		memcpy(dst + n - 4, &c, 4);
	} else if (n >= 2) {
		memcpy(&h, src, 2);
		memcpy(&l, src + n - 2, 2);
		memcpy(dst, &h, 2);
		memcpy(dst + n - 2, &l, 2);
	} else if (n == 1) {
		dst[0] = src[0];
	}
}

int rfx_builder_fields(struct rfx_builder *b, const struct rfx_field *fields, uint32_t n)
{
	size_t need = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (fields[i].tag == 0)
			return -EINVAL;
		need += 12 + (size_t)fields[i].len;
	}
	if (!room(b, need))
		return b->err;
	char *w = b->buf + b->pos;
	for (uint32_t i = 0; i < n; i++) {
		w = put_tag(w, fields[i].tag);
		small_copy(w, fields[i].p, fields[i].len);
		w += fields[i].len;
		*w++ = RFX_SOH;
	}
	b->pos = (uint32_t)(w - b->buf);
	return 0;
}

void rfx_header_init(struct rfx_header *h)
{
	memset(h, 0, sizeof *h);
	h->sending_time = INT64_MIN;
	h->orig_sending_time = INT64_MIN;
	h->time_prec = RFX_TS_MS;
}

/* Unchecked writers for rfx_builder_header(), which checks room once. */
static inline char *put_str(char *w, uint32_t tag, struct rfx_str v, bool *bad)
{
	if (!v.len)
		return w;
	w = put_tag(w, tag);
	*bad |= copy_has_soh(w, v.p, v.len);
	w[v.len] = RFX_SOH;
	return w + v.len + 1;
}

static inline char *put_uint(char *w, uint32_t tag, uint64_t v)
{
	w = put_tag(w, tag);
	w = rfx_put_u64(w, v);
	*w++ = RFX_SOH;
	return w;
}

static inline char *put_flag(char *w, uint32_t tag, char c)
{
	w = put_tag(w, tag);
	w[0] = c;
	w[1] = RFX_SOH;
	return w + 2;
}

int rfx_builder_header(struct rfx_builder *b, const struct rfx_header *h)
{
	const struct rfx_str *strs[] = {
		&h->sender_comp_id, &h->sender_sub_id, &h->target_comp_id, &h->target_sub_id,
		&h->on_behalf_of_comp_id, &h->on_behalf_of_sub_id, &h->deliver_to_comp_id,
		&h->deliver_to_sub_id, &h->sender_location_id, &h->target_location_id,
		&h->appl_ver_id, &h->cstm_appl_ver_id};
	unsigned prec = (unsigned)h->time_prec;
	size_t need = 3 * 32 + 2 * TS_FIELD_MAX + 2 * 14 + h->extra.len;
	bool bad = false;

	if (prec > 9 || (h->sending_time != INT64_MIN && h->sending_time < RFX_TS_MIN_NS) ||
	    (h->orig_sending_time != INT64_MIN && h->orig_sending_time < RFX_TS_MIN_NS) ||
	    (h->poss_dup == RFX_SOH || h->poss_resend == RFX_SOH) ||
	    (h->extra.len && h->extra.p[h->extra.len - 1] != RFX_SOH)) {
		if (!b->err)
			b->err = -EINVAL;
		return b->err;
	}
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		need += strs[i]->len ? 12 + (size_t)strs[i]->len : 0;
	/* One room check for the whole header; nothing below can run out. */
	if (!room(b, need))
		return b->err;

	/* Ascending tag order after 35, as QuickFIX writes its header. */
	char *w = b->buf + b->pos;
	if (h->msg_seq_num)
		w = put_uint(w, 34, h->msg_seq_num);
	if (h->poss_dup)
		w = put_flag(w, 43, h->poss_dup);
	w = put_str(w, 49, h->sender_comp_id, &bad);
	w = put_str(w, 50, h->sender_sub_id, &bad);
	if (h->sending_time != INT64_MIN)
		w = put_ts(b, w, 52, h->sending_time, prec);
	w = put_str(w, 56, h->target_comp_id, &bad);
	w = put_str(w, 57, h->target_sub_id, &bad);
	if (h->poss_resend)
		w = put_flag(w, 97, h->poss_resend);
	w = put_str(w, 115, h->on_behalf_of_comp_id, &bad);
	w = put_str(w, 116, h->on_behalf_of_sub_id, &bad);
	if (h->orig_sending_time != INT64_MIN)
		w = put_ts(b, w, 122, h->orig_sending_time, prec);
	w = put_str(w, 128, h->deliver_to_comp_id, &bad);
	w = put_str(w, 129, h->deliver_to_sub_id, &bad);
	w = put_str(w, 142, h->sender_location_id, &bad);
	w = put_str(w, 143, h->target_location_id, &bad);
	if (h->last_msg_seq_num_processed)
		w = put_uint(w, 369, h->last_msg_seq_num_processed);
	w = put_str(w, 1128, h->appl_ver_id, &bad);
	w = put_str(w, 1129, h->cstm_appl_ver_id, &bad);
	if (h->extra.len) {
		memcpy(w, h->extra.p, h->extra.len);
		w += h->extra.len;
	}
	if (bad)
		return b->err = -EINVAL; /* SOH inside a header value: nothing kept */
	b->pos = (uint32_t)(w - b->buf);
	return 0;
}

int rfx_builder_wrap(struct rfx_builder *b, char *buf, size_t cap,
		     const struct rfx_header *h, const char *body, uint32_t len)
{
	const char *soh;
	int r;

	if (len < 5 || body[0] != '3' || body[1] != '5' || body[2] != '=' ||
	    body[len - 1] != RFX_SOH || body[3] == RFX_SOH)
		return RFX_EGARBLED;
	/* MsgType is 1-2 characters in practice: a byte loop beats a libc call.
	 * It ends at the latest at body[len - 1], which is SOH. */
	for (soh = body + 4; *soh != RFX_SOH; soh++)
		;
	r = rfx_builder_start(b, buf, cap, body + 3, (uint32_t)(soh - body - 3));
	if (r < 0)
		return r;
	if (h)
		rfx_builder_header(b, h);
	rfx_builder_raw(b, soh + 1, (uint32_t)(body + len - soh - 1));
	return b->err;
}

int rfx_builder_finish(struct rfx_builder *b)
{
	uint32_t blen, nd, start;
	char *w;

	if (b->err)
		return b->err;
	if (!b->buf)
		return -EINVAL;
	blen = b->pos - b->body;
	nd = rfx_u64_digits(blen);
	if (nd > RFX_BODYLEN_DIGITS)
		return b->err = RFX_ETOOBIG;
	/* Right-align "8=..<SOH>9=n<SOH>" against the body; only the prefix moves. */
	start = b->body - 1 - nd - b->prefix_len;
	w = b->buf + start;
	small_copy(w, b->prefix, b->prefix_len);
	rfx_put_fixed(w + b->prefix_len, blen, nd);
	b->buf[b->body - 1] = RFX_SOH;
	b->start = start;

	unsigned sum = rfx_checksum(w, b->pos - start);
	w = b->buf + b->pos;
	memcpy(w, "10=", 3);
	w[3] = (char)('0' + sum / 100);
	rfx_put2(w + 4, sum % 100);
	w[6] = RFX_SOH;
	b->pos += TRAILER_LEN;
	return (int)(b->pos - start);
}
