/*
 * FIX field value types: parse and format without allocation or floating point.
 *
 * Every parser takes a borrowed view (p, len) of the value bytes exactly as they
 * appear between '=' and SOH, never reads outside it, and returns 0 (or a small
 * non-negative count where documented) on success, RFX_EFORMAT when the text is
 * not of the type, or RFX_ERANGE when it is of the type but does not fit or names
 * an impossible date/time. Outputs are written only on success.
 *
 * Every formatter writes into a caller buffer of size cap and returns the number
 * of bytes written, or RFX_ENOSPACE (nothing useful written) when cap is too
 * small. Formatters never write a terminating NUL.
 *
 * All functions are pure and thread-safe.
 */
#ifndef RFX_ENGINE_FIXTYPES_H
#define RFX_ENGINE_FIXTYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* int / SeqNum / Length / NumInGroup: optional leading '-', then 1..n digits
 * (leading zeros allowed). Overflow of int64 is RFX_ERANGE. */
int rfx_int_parse(const char *p, uint32_t len, int64_t *out);
/* As rfx_int_parse, but no sign is accepted and the range is uint64. */
int rfx_uint_parse(const char *p, uint32_t len, uint64_t *out);
/* Writes the shortest decimal form of v (at most 20 bytes). */
int rfx_int_format(char *buf, size_t cap, int64_t v);

/*
 * Price, Qty, Amt, float, Percentage: exact fixed-point decimals. The value is
 * mantissa * 10^-scale. The other members remember the spelling so that
 * rfx_decimal_format() reproduces the original text byte for byte:
 * "007.50" is {750, scale 2, int_digits 3}, ".5" is {5, 1, int_digits 0},
 * "-0" keeps RFX_DEC_NEG, "1." keeps RFX_DEC_DOT.
 * A decimal built by hand should set int_digits = 1 and flags = 0 (or
 * RFX_DEC_NEG only when mantissa < 0); see rfx_decimal_make().
 */
struct rfx_decimal {
	int64_t mantissa;
	uint8_t scale;      /* digits after the point, 0..18 */
	uint8_t int_digits; /* digits written before the point (0 only for ".5") */
	uint8_t flags;      /* RFX_DEC_* */
};
#define RFX_DEC_NEG 0x01 /* a '-' was written (also for zero: "-0.0") */
#define RFX_DEC_DOT 0x02 /* a '.' was written */

/* At most 18 significant digits; more is RFX_ERANGE. No exponent, no '+'. */
int rfx_decimal_parse(const char *p, uint32_t len, struct rfx_decimal *out);
int rfx_decimal_format(char *buf, size_t cap, const struct rfx_decimal *d);
/* A canonical decimal for mantissa * 10^-scale (e.g. (12345, 2) -> "123.45"). */
struct rfx_decimal rfx_decimal_make(int64_t mantissa, uint8_t scale);
/* Compare by value (1.50 == 1.5): <0, 0, >0. */
int rfx_decimal_cmp(const struct rfx_decimal *a, const struct rfx_decimal *b);

/* char: exactly one byte, printable (0x20..0x7e). */
int rfx_char_parse(const char *p, uint32_t len, char *out);
/* Boolean: exactly "Y" or "N". */
int rfx_bool_parse(const char *p, uint32_t len, bool *out);

/* Sub-second precision of a timestamp or time, as a count of fraction digits. */
enum rfx_ts_prec {
	RFX_TS_S = 0,
	RFX_TS_MS = 3,
	RFX_TS_US = 6,
	RFX_TS_NS = 9,
};

/* Earliest timestamp handled: whole UTC days before 1970 that int64 ns can
 * hold (1677-09-22T00:00:00Z). */
#define RFX_TS_MIN_NS (-106751LL * 86400LL * 1000000000LL)

/*
 * UTCTimestamp "YYYYMMDD-HH:MM:SS[.f...]" -> nanoseconds since 1970-01-01 UTC.
 * Accepts 1..12 fraction digits (FIX allows up to picoseconds; digits beyond
 * nanoseconds are dropped). Every field is range-checked (month 1-12, day within
 * its month incl. leap years, hour 0-23, minute 0-59, second 0-59); second 60
 * is a leap second and accepted only at 23:59 (the only place UTC inserts one);
 * it maps to the same instant as the following 00:00:00, as POSIX time has no
 * leap seconds. Instants outside int64 nanoseconds (before 1677-09-22 or after
 * 2262-04-11) are RFX_ERANGE. Returns the number of fraction digits (>= 0).
 */
int rfx_timestamp_parse(const char *p, uint32_t len, int64_t *ns);
/* Formats with exactly prec fraction digits (truncating, never rounding up).
 * Needs 17 + (prec ? prec + 1 : 0) bytes. ns >= RFX_TS_MIN_NS, else
 * RFX_ERANGE. */
int rfx_timestamp_format(char *buf, size_t cap, int64_t ns, enum rfx_ts_prec prec);

/* UTCDateOnly / LocalMktDate "YYYYMMDD" -> days since 1970-01-01 (may be < 0). */
int rfx_date_parse(const char *p, uint32_t len, int32_t *days);
int rfx_date_format(char *buf, size_t cap, int32_t days);

/* UTCTimeOnly / TZ-free time "HH:MM:SS[.f...]" -> ns since midnight; second 60
 * accepted only at 23:59. Returns the number of fraction digits. */
int rfx_timeonly_parse(const char *p, uint32_t len, int64_t *ns);

/* MonthYear: "YYYYMM", "YYYYMMDD" (day checked against the month) or "YYYYMMwN"
 * (week 1-5). Absent parts are 0. */
struct rfx_month_year {
	uint16_t year;
	uint8_t month;
	uint8_t day;  /* 0 when absent */
	uint8_t week; /* 0 when absent */
};
int rfx_month_year_parse(const char *p, uint32_t len, struct rfx_month_year *out);

/* Calendar helpers shared with the session layer. days_from_civil() is exact for
 * the proleptic Gregorian calendar. */
int64_t rfx_days_from_civil(int32_t year, uint32_t month, uint32_t day);
void rfx_civil_from_days(int64_t days, int32_t *year, uint32_t *month, uint32_t *day);

#endif
