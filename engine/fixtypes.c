#include "engine/fixtypes.h"

#include <string.h>

#include "engine/digits.h"
#include "engine/error.h"

#define NS_PER_SEC 1000000000LL
#define SEC_PER_DAY 86400LL

static inline unsigned dig(char c)
{
	return (unsigned)(unsigned char)c - '0';
}

/* Parses exactly n digits at p; returns -1 if any is not a digit. */
static inline int fixed_digits(const char *p, unsigned n)
{
	int v = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned d = dig(p[i]);
		if (d > 9)
			return -1;
		v = v * 10 + (int)d;
	}
	return v;
}

int rfx_uint_parse(const char *p, uint32_t len, uint64_t *out)
{
	uint64_t v = 0;
	bool over = false;

	if (len == 0)
		return RFX_EFORMAT;
	for (uint32_t i = 0; i < len; i++) {
		unsigned d = dig(p[i]);
		if (d > 9)
			return RFX_EFORMAT;
		/* Keep scanning after an overflow: a later non-digit is a format error,
		 * which is the more useful answer. */
		if (v > (UINT64_MAX - d) / 10)
			over = true;
		v = v * 10 + d;
	}
	if (over)
		return RFX_ERANGE;
	*out = v;
	return 0;
}

int rfx_int_parse(const char *p, uint32_t len, int64_t *out)
{
	bool neg = len > 0 && p[0] == '-';
	uint64_t v;
	int r = rfx_uint_parse(p + neg, len - neg, &v);

	if (r < 0)
		return r;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return RFX_ERANGE;
		*out = (int64_t)(0 - v);
	} else {
		if (v > INT64_MAX)
			return RFX_ERANGE;
		*out = (int64_t)v;
	}
	return 0;
}

int rfx_int_format(char *buf, size_t cap, int64_t v)
{
	char tmp[24];
	char *e = tmp;
	uint64_t u = (uint64_t)v;

	if (v < 0) {
		*e++ = '-';
		u = 0 - u;
	}
	e = rfx_put_u64(e, u);
	if ((size_t)(e - tmp) > cap)
		return RFX_ENOSPACE;
	memcpy(buf, tmp, (size_t)(e - tmp));
	return (int)(e - tmp);
}

/* ------------------------------------------------------------- decimals */

#define DEC_MAX_DIGITS 18 /* 10^18 - 1 < INT64_MAX, so no overflow check per digit */

int rfx_decimal_parse(const char *p, uint32_t len, struct rfx_decimal *out)
{
	uint32_t i = 0, nint = 0, scale = 0, sig = 0;
	uint64_t m = 0;
	uint8_t flags = 0;
	bool any = false;

	if (len > 0 && p[0] == '-') {
		flags |= RFX_DEC_NEG;
		i = 1;
	}
	for (; i < len && p[i] != '.'; i++) {
		unsigned d = dig(p[i]);
		if (d > 9)
			return RFX_EFORMAT;
		any = true;
		nint++;
		if (m || d)
			sig++;
		m = m * 10 + d;
		if (sig > DEC_MAX_DIGITS)
			return RFX_ERANGE;
	}
	if (i < len) {
		flags |= RFX_DEC_DOT;
		for (i++; i < len; i++) {
			unsigned d = dig(p[i]);
			if (d > 9)
				return RFX_EFORMAT;
			any = true;
			scale++;
			if (m || d)
				sig++;
			m = m * 10 + d;
			if (sig > DEC_MAX_DIGITS || scale > DEC_MAX_DIGITS)
				return RFX_ERANGE;
		}
	}
	if (!any)
		return RFX_EFORMAT;
	if (nint > 255)
		return RFX_ERANGE;
	out->mantissa = (flags & RFX_DEC_NEG) ? -(int64_t)m : (int64_t)m;
	out->scale = (uint8_t)scale;
	out->int_digits = (uint8_t)nint;
	out->flags = flags;
	return 0;
}

static const uint64_t pow10_tab[20] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
	100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
	1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
	1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
	1000000000000000000ULL, 10000000000000000000ULL,
};

int rfx_decimal_format(char *buf, size_t cap, const struct rfx_decimal *d)
{
	uint64_t u = d->mantissa < 0 ? 0 - (uint64_t)d->mantissa : (uint64_t)d->mantissa;
	unsigned scale = d->scale;
	bool neg = (d->flags & RFX_DEC_NEG) || d->mantissa < 0;
	bool dot = (d->flags & RFX_DEC_DOT) || scale > 0;
	uint64_t ip, fp;
	unsigned ipd, need;

	if (scale > 19)
		return -22; /* -EINVAL: not a decimal this module made */
	ip = u / pow10_tab[scale];
	fp = u % pow10_tab[scale];
	ipd = ip ? rfx_u64_digits(ip) : 0;
	if (ipd < d->int_digits)
		ipd = d->int_digits;
	need = neg + ipd + dot + scale;
	if (need > cap)
		return RFX_ENOSPACE;

	char *w = buf;
	if (neg)
		*w++ = '-';
	/* Integer part right-aligned in ipd digits, zero-padded on the left. */
	for (unsigned k = ipd; k > 0; k--) {
		w[k - 1] = (char)('0' + ip % 10);
		ip /= 10;
	}
	w += ipd;
	if (dot)
		*w++ = '.';
	for (unsigned k = scale; k > 0; k--) {
		w[k - 1] = (char)('0' + fp % 10);
		fp /= 10;
	}
	w += scale;
	return (int)(w - buf);
}

struct rfx_decimal rfx_decimal_make(int64_t mantissa, uint8_t scale)
{
	struct rfx_decimal d = {
		.mantissa = mantissa,
		.scale = scale,
		.int_digits = 1,
		.flags = (uint8_t)((mantissa < 0 ? RFX_DEC_NEG : 0) | (scale ? RFX_DEC_DOT : 0)),
	};
	return d;
}

int rfx_decimal_cmp(const struct rfx_decimal *a, const struct rfx_decimal *b)
{
	/* Scale both to the larger scale in 128 bits: 18 digits * 10^18 fits. */
	__int128 x = a->mantissa, y = b->mantissa;
	unsigned s = a->scale > b->scale ? a->scale : b->scale;

	for (unsigned k = a->scale; k < s; k++)
		x *= 10;
	for (unsigned k = b->scale; k < s; k++)
		y *= 10;
	return (x > y) - (x < y);
}

/* ---------------------------------------------------------- char, bool */

int rfx_char_parse(const char *p, uint32_t len, char *out)
{
	if (len != 1 || (unsigned char)p[0] < 0x20 || (unsigned char)p[0] > 0x7e)
		return RFX_EFORMAT;
	*out = p[0];
	return 0;
}

int rfx_bool_parse(const char *p, uint32_t len, bool *out)
{
	if (len != 1 || (p[0] != 'Y' && p[0] != 'N'))
		return RFX_EFORMAT;
	*out = p[0] == 'Y';
	return 0;
}

/* ------------------------------------------------------ dates and times */

/* Days from 1970-01-01 in the proleptic Gregorian calendar, computed on
 * 400-year eras that start on March 1st so the leap day is the era's last. */
int64_t rfx_days_from_civil(int32_t year, uint32_t month, uint32_t day)
{
	int64_t y = (int64_t)year - (month <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;                                 /* 0..399 */
	int64_t mp = (month + 9) % 12;                               /* Mar = 0 */
	int64_t doy = (153 * mp + 2) / 5 + (int64_t)day - 1;         /* 0..365 */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;         /* 0..146096 */
	return era * 146097 + doe - 719468; /* 719468: days 0000-03-01 -> 1970-01-01 */
}

void rfx_civil_from_days(int64_t days, int32_t *year, uint32_t *month, uint32_t *day)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	uint32_t d = (uint32_t)(doy - (153 * mp + 2) / 5 + 1);
	uint32_t m = (uint32_t)(mp < 10 ? mp + 3 : mp - 9);

	*year = (int32_t)(yoe + era * 400 + (m <= 2));
	*month = m;
	*day = d;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && leap_year(y) ? 29 : dm[m - 1];
}

/* "YYYYMMDD" -> days; format errors before range errors. */
static int parse_ymd(const char *p, int64_t *days)
{
	int y = fixed_digits(p, 4), m = fixed_digits(p + 4, 2), d = fixed_digits(p + 6, 2);

	if (y < 0 || m < 0 || d < 0)
		return RFX_EFORMAT;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return RFX_ERANGE;
	*days = rfx_days_from_civil(y, (uint32_t)m, (uint32_t)d);
	return 0;
}

/* "HH:MM:SS[.f{1,12}]" -> ns since midnight (a leap second gives 86400 s).
 * Returns the number of fraction digits. */
static int parse_hms(const char *p, uint32_t len, int64_t *ns)
{
	int h, mi, s;
	int64_t frac = 0;
	uint32_t nf = 0;

	if (len < 8 || p[2] != ':' || p[5] != ':')
		return RFX_EFORMAT;
	h = fixed_digits(p, 2);
	mi = fixed_digits(p + 3, 2);
	s = fixed_digits(p + 6, 2);
	if (h < 0 || mi < 0 || s < 0)
		return RFX_EFORMAT;
	if (len > 8) {
		if (p[8] != '.' || len == 9)
			return RFX_EFORMAT;
		nf = len - 9;
		if (nf > 12)
			return RFX_EFORMAT;
		for (uint32_t i = 0; i < nf; i++) {
			unsigned d = dig(p[9 + i]);
			if (d > 9)
				return RFX_EFORMAT;
			if (i < 9)
				frac = frac * 10 + d;
		}
		for (uint32_t i = nf; i < 9; i++)
			frac *= 10;
	}
	/* FIX: seconds 00-60, 60 only for a leap second, which UTC only inserts
	 * as 23:59:60. */
	if (h > 23 || mi > 59 || s > 60 || (s == 60 && (h != 23 || mi != 59)))
		return RFX_ERANGE;
	*ns = ((int64_t)h * 3600 + mi * 60 + s) * NS_PER_SEC + frac;
	return (int)nf;
}

int rfx_timestamp_parse(const char *p, uint32_t len, int64_t *ns)
{
	int64_t days, tod;
	int r, nf;

	if (len < 17 || p[8] != '-')
		return RFX_EFORMAT;
	/* Check the time's format first so "format" wins over "range". */
	nf = parse_hms(p + 9, len - 9, &tod);
	r = parse_ymd(p, &days);
	if (r == RFX_EFORMAT || nf < 0)
		return r == RFX_EFORMAT ? r : nf;
	if (r < 0)
		return r;
	__int128 t = (__int128)days * SEC_PER_DAY * NS_PER_SEC + tod;
	if (t > INT64_MAX || t < RFX_TS_MIN_NS)
		return RFX_ERANGE;
	*ns = (int64_t)t;
	return nf;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int rfx_timestamp_format(char *buf, size_t cap, int64_t ns, enum rfx_ts_prec prec)
{
	unsigned p = (unsigned)prec;
	size_t need = 17 + (p ? p + 1 : 0);
	int64_t days, rem;
	int32_t y;
	uint32_t m, d;

	if (p > 9)
		return -22; /* -EINVAL */
	if (ns < RFX_TS_MIN_NS)
		return RFX_ERANGE;
	if (cap < need)
		return RFX_ENOSPACE;
	days = floor_div(ns, SEC_PER_DAY * NS_PER_SEC);
	rem = ns - days * SEC_PER_DAY * NS_PER_SEC;
	rfx_civil_from_days(days, &y, &m, &d);
	rfx_put_date(buf, y, m, d);
	buf[8] = '-';
	rfx_put_time(buf + 9, rem, p);
	return (int)need;
}

int rfx_date_parse(const char *p, uint32_t len, int32_t *days)
{
	int64_t dd;
	int r;

	if (len != 8)
		return RFX_EFORMAT;
	r = parse_ymd(p, &dd);
	if (r < 0)
		return r;
	*days = (int32_t)dd;
	return 0;
}

int rfx_date_format(char *buf, size_t cap, int32_t days)
{
	int32_t y;
	uint32_t m, d;

	if (cap < 8)
		return RFX_ENOSPACE;
	rfx_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return RFX_ERANGE;
	rfx_put_date(buf, y, m, d);
	return 8;
}

int rfx_timeonly_parse(const char *p, uint32_t len, int64_t *ns)
{
	return parse_hms(p, len, ns);
}

int rfx_month_year_parse(const char *p, uint32_t len, struct rfx_month_year *out)
{
	int y, m, d = 0, w = 0;

	if (len != 6 && len != 8)
		return RFX_EFORMAT;
	y = fixed_digits(p, 4);
	m = fixed_digits(p + 4, 2);
	if (y < 0 || m < 0)
		return RFX_EFORMAT;
	if (len == 8) {
		if (p[6] == 'w') {
			w = fixed_digits(p + 7, 1);
			if (w < 0)
				return RFX_EFORMAT;
		} else {
			d = fixed_digits(p + 6, 2);
			if (d < 0)
				return RFX_EFORMAT;
		}
	}
	if (y < 1 || m < 1 || m > 12)
		return RFX_ERANGE;
	if (len == 8 && p[6] == 'w' && (w < 1 || w > 5))
		return RFX_ERANGE;
	if (len == 8 && p[6] != 'w' && (d < 1 || d > days_in_month(y, m)))
		return RFX_ERANGE;
	out->year = (uint16_t)y;
	out->month = (uint8_t)m;
	out->day = (uint8_t)d;
	out->week = (uint8_t)w;
	return 0;
}
