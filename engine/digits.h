/*
 * Internal to engine/: fast decimal digit writers shared by fixtypes.c and
 * codec_build.c. Not a public header. Callers guarantee the room.
 */
#ifndef RFX_ENGINE_DIGITS_H
#define RFX_ENGINE_DIGITS_H

#include <stdint.h>
#include <string.h>

/* "00" "01" ... "99": two digits per table load halves the divisions. */
extern const char rfx_digit_pairs[200];

static inline unsigned rfx_u64_digits(uint64_t v)
{
	unsigned n = 1;
	while (v >= 10000) {
		v /= 10000;
		n += 4;
	}
	if (v >= 1000)
		return n + 3;
	if (v >= 100)
		return n + 2;
	return n + (v >= 10);
}

static inline void rfx_put2(char *p, unsigned v)
{
	memcpy(p, rfx_digit_pairs + 2 * v, 2);
}

/* Writes v in n digits (zero-padded on the left, n >= digits of v). */
static inline void rfx_put_fixed(char *p, uint64_t v, unsigned n)
{
	char *e = p + n;
	while (e - p >= 2) {
		e -= 2;
		rfx_put2(e, (unsigned)(v % 100));
		v /= 100;
	}
	if (e > p)
		*p = (char)('0' + v % 10);
}

/* Writes v without padding; returns the end. At most 20 bytes. */
static inline char *rfx_put_u64(char *p, uint64_t v)
{
	unsigned n = rfx_u64_digits(v);
	rfx_put_fixed(p, v, n);
	return p + n;
}

/* "YYYYMMDD" (year 0..9999). */
static inline void rfx_put_date(char *p, int32_t y, uint32_t m, uint32_t d)
{
	rfx_put2(p, (unsigned)y / 100);
	rfx_put2(p + 2, (unsigned)y % 100);
	rfx_put2(p + 4, m);
	rfx_put2(p + 6, d);
}

/* "HH:MM:SS[.f{prec}]" from ns since midnight (0 <= tod < 86400 s). Writes
 * 8 + (prec ? prec + 1 : 0) bytes; the fraction is truncated. */
static inline void rfx_put_time(char *p, int64_t tod, unsigned prec)
{
	uint64_t s = (uint64_t)tod / 1000000000u;
	uint64_t f = (uint64_t)tod % 1000000000u;

	rfx_put2(p, (unsigned)(s / 3600));
	p[2] = ':';
	rfx_put2(p + 3, (unsigned)(s / 60 % 60));
	p[5] = ':';
	rfx_put2(p + 6, (unsigned)(s % 60));
	/* Constant divisors for the usual precisions: the compiler turns them into
	 * multiplications, a variable divisor would be a slow divide. */
	switch (prec) {
	case 0:
		break;
	case 3:
		p[8] = '.';
		rfx_put_fixed(p + 9, (uint32_t)f / 1000000u, 3);
		break;
	case 6:
		p[8] = '.';
		rfx_put_fixed(p + 9, (uint32_t)f / 1000u, 6);
		break;
	case 9:
		p[8] = '.';
		rfx_put_fixed(p + 9, f, 9);
		break;
	default: {
		static const uint32_t div[10] = {1000000000, 100000000, 10000000, 1000000,
						 100000, 10000, 1000, 100, 10, 1};
		p[8] = '.';
		rfx_put_fixed(p + 9, f / div[prec], prec);
	}
	}
}

#endif
