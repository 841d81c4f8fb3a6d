/* Framer: find message boundaries by BeginString, BodyLength and CheckSum. */
#include "engine/codec.h"

#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define DEFAULT_MAX_SIZE (1u << 20)
#define TRAILER_LEN 7 /* "10=nnn<SOH>" */

uint32_t rfx_checksum(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t sum = 0;
	size_t i = 0;

#ifdef __SSE2__
	/* psadbw against zero adds 8 bytes into each 64-bit lane: 16 bytes per
	 * instruction, no overflow for any realistic length. */
	__m128i zero = _mm_setzero_si128(), acc0 = zero, acc1 = zero;
	for (; i + 32 <= len; i += 32) {
		__m128i a = _mm_loadu_si128((const __m128i *)(s + i));
		__m128i b = _mm_loadu_si128((const __m128i *)(s + i + 16));
		acc0 = _mm_add_epi64(acc0, _mm_sad_epu8(a, zero));
		acc1 = _mm_add_epi64(acc1, _mm_sad_epu8(b, zero));
	}
	if (i + 16 <= len) {
		__m128i a = _mm_loadu_si128((const __m128i *)(s + i));
		acc0 = _mm_add_epi64(acc0, _mm_sad_epu8(a, zero));
		i += 16;
	}
	acc0 = _mm_add_epi64(acc0, acc1);
	sum = (uint64_t)_mm_cvtsi128_si64(acc0) +
	      (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc0, acc0));
#endif
	for (; i < len; i++)
		sum += s[i];
	return (uint32_t)(sum & 0xff);
}

/* Bytes to drop so buf starts at the next "8=FIX" after position 0. Keeps a
 * tail that may be the start of one, so a later read can complete it. */
static size_t resync(const char *buf, size_t len)
{
	static const char pat[] = "8=FIX";
	size_t i = 1;

	while (i < len) {
		const char *q = memchr(buf + i, '8', len - i);
		if (!q)
			return len;
		i = (size_t)(q - buf);
		size_t n = len - i < 5 ? len - i : 5;
		if (memcmp(q, pat, n) == 0)
			return i; /* full match, or a prefix cut by the end of buf */
		i++;
	}
	return len;
}

/* Does buf[0..len) match the first len bytes of lit (or all of it)? Inline
 * byte compares: lit is 2-3 bytes, a libc call would cost more than the work. */
static inline bool prefix_ok(const char *buf, size_t len, const char *lit, size_t litlen)
{
	size_t n = len < litlen ? len : litlen;
	for (size_t i = 0; i < n; i++)
		if (buf[i] != lit[i])
			return false;
	return true;
}

int rfx_codec_frame(const char *buf, size_t len, const struct rfx_frame_opts *opts,
		    size_t *skip)
{
	size_t max = opts && opts->max_size ? opts->max_size : DEFAULT_MAX_SIZE;
	bool check = opts ? opts->check_checksum : true;
	size_t i, body, total, end, blen = 0;
	int err = RFX_EGARBLED;

	if (skip)
		*skip = 0;
	/* BeginString(8) must be first (FIX session rule; anything else is garbled). */
	if (!prefix_ok(buf, len, "8=", 2))
		goto garbled;
	if (len <= 2)
		return RFX_EPARTIAL;
	for (i = 2; i < len && buf[i] != RFX_SOH; i++) {
		if (i - 2 >= RFX_BEGIN_STRING_MAX || (unsigned char)buf[i] < 0x20)
			goto garbled;
	}
	if (i == len)
		return RFX_EPARTIAL;
	if (i == 2)
		goto garbled;
	i++;
	/* BodyLength(9) second: digits only, no more than we could ever write. */
	if (!prefix_ok(buf + i, len - i, "9=", 2))
		goto garbled;
	if (len - i <= 2)
		return RFX_EPARTIAL;
	i += 2;
	body = i;
	for (; i < len && buf[i] != RFX_SOH; i++) {
		unsigned d = (unsigned)(unsigned char)buf[i] - '0';
		if (d > 9 || i - body >= RFX_BODYLEN_DIGITS)
			goto garbled;
		blen = blen * 10 + d;
	}
	if (i == len)
		return RFX_EPARTIAL;
	if (i == body)
		goto garbled;
	body = i + 1;
	/* "35=x<SOH>" is the shortest body. */
	if (blen < 5)
		goto garbled;
	total = body + blen + TRAILER_LEN;
	if (total > max) {
		err = RFX_ETOOBIG;
		goto garbled;
	}
	/* MsgType(35) third; judge what has arrived so garbage is dropped early. */
	if (!prefix_ok(buf + body, len - body, "35=", 3))
		goto garbled;
	if (len - body > 3 && buf[body + 3] == RFX_SOH)
		goto garbled;
	if (len < total)
		return RFX_EPARTIAL;

	end = body + blen;
	if (buf[end - 1] != RFX_SOH || buf[end] != '1' || buf[end + 1] != '0' || buf[end + 2] != '=' ||
	    buf[total - 1] != RFX_SOH)
		goto garbled;
	unsigned c0 = (unsigned)(unsigned char)buf[end + 3] - '0';
	unsigned c1 = (unsigned)(unsigned char)buf[end + 4] - '0';
	unsigned c2 = (unsigned)(unsigned char)buf[end + 5] - '0';
	if (c0 > 9 || c1 > 9 || c2 > 9)
		goto garbled;
	if (check && rfx_checksum(buf, end) != c0 * 100 + c1 * 10 + c2) {
		if (skip)
			*skip = total;
		return RFX_ECHECKSUM;
	}
	return (int)total;

garbled:
	if (skip)
		*skip = resync(buf, len);
	return err;
}
