#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine/error.h"
#include "engine/fixtypes.h"
#include "guard.h"

/* Every typed parser reads its value placed against a guard page. */
#define GUARDED(call_with_p_len, s)                                      \
	({                                                               \
		struct guard g_;                                         \
		uint32_t len = (uint32_t)strlen(s);                      \
		const char *p = guard_place(&g_, s, len);                \
		cr_assert_not_null(p);                                   \
		int r_ = call_with_p_len;                                \
		guard_release(&g_);                                      \
		r_;                                                      \
	})

static int pint(const char *s, int64_t *v) { return GUARDED(rfx_int_parse(p, len, v), s); }
static int pdec(const char *s, struct rfx_decimal *d) { return GUARDED(rfx_decimal_parse(p, len, d), s); }
static int pts(const char *s, int64_t *ns) { return GUARDED(rfx_timestamp_parse(p, len, ns), s); }

Test(fixtypes, int_parse, .timeout = 10)
{
	int64_t v = 0;
	cr_expect_eq(pint("0", &v), 0);
	cr_expect_eq(pint("-42", &v), 0);
	cr_expect_eq(v, -42);
	cr_expect_eq(pint("007", &v), 0);
	cr_expect_eq(v, 7);
	cr_expect_eq(pint("9223372036854775807", &v), 0);
	cr_expect_eq(v, INT64_MAX);
	cr_expect_eq(pint("-9223372036854775808", &v), 0);
	cr_expect_eq(v, INT64_MIN);
	cr_expect_eq(pint("9223372036854775808", &v), RFX_ERANGE);
	cr_expect_eq(pint("-9223372036854775809", &v), RFX_ERANGE);
	cr_expect_eq(pint("99999999999999999999999", &v), RFX_ERANGE);
	cr_expect_eq(pint("99999999999999999999999x", &v), RFX_EFORMAT);
	cr_expect_eq(pint("", &v), RFX_EFORMAT);
	cr_expect_eq(pint("-", &v), RFX_EFORMAT);
	cr_expect_eq(pint("+1", &v), RFX_EFORMAT);
	cr_expect_eq(pint("1.0", &v), RFX_EFORMAT);
	cr_expect_eq(pint(" 1", &v), RFX_EFORMAT);
	uint64_t u;
	cr_expect_eq(GUARDED(rfx_uint_parse(p, len, &u), "18446744073709551615"), 0);
	cr_expect_eq(u, UINT64_MAX);
	cr_expect_eq(GUARDED(rfx_uint_parse(p, len, &u), "18446744073709551616"), RFX_ERANGE);
	cr_expect_eq(GUARDED(rfx_uint_parse(p, len, &u), "-1"), RFX_EFORMAT);
}

Test(fixtypes, int_format, .timeout = 10)
{
	char b[32];
	int n = rfx_int_format(b, sizeof b, INT64_MIN);
	cr_expect_eq(n, 20);
	cr_expect(memcmp(b, "-9223372036854775808", 20) == 0);
	cr_expect_eq(rfx_int_format(b, 2, 123), RFX_ENOSPACE);
	cr_expect_eq(rfx_int_format(b, 1, 0), 1);
	cr_expect_eq(b[0], '0');
}

Test(fixtypes, decimal_values, .timeout = 10)
{
	struct rfx_decimal d;
	cr_expect_eq(pdec("101.250", &d), 0);
	cr_expect_eq(d.mantissa, 101250);
	cr_expect_eq(d.scale, 3);
	cr_expect_eq(pdec("-0.5", &d), 0);
	cr_expect_eq(d.mantissa, -5);
	cr_expect_eq(pdec("999999999999999999", &d), 0);
	cr_expect_eq(d.mantissa, 999999999999999999LL);
	cr_expect_eq(pdec("0.000000000000000001", &d), 0);
	cr_expect_eq(d.scale, 18);
	cr_expect_eq(pdec("1999999999999999999", &d), RFX_ERANGE);
	cr_expect_eq(pdec("0.0000000000000000001", &d), RFX_ERANGE);
	cr_expect_eq(pdec("", &d), RFX_EFORMAT);
	cr_expect_eq(pdec(".", &d), RFX_EFORMAT);
	cr_expect_eq(pdec("-", &d), RFX_EFORMAT);
	cr_expect_eq(pdec("1e5", &d), RFX_EFORMAT);
	cr_expect_eq(pdec("+1", &d), RFX_EFORMAT);
	cr_expect_eq(pdec("1.2.3", &d), RFX_EFORMAT);
	cr_expect_eq(pdec("NaN", &d), RFX_EFORMAT);
	struct rfx_decimal a = rfx_decimal_make(150, 2), b = rfx_decimal_make(15, 1);
	cr_expect_eq(rfx_decimal_cmp(&a, &b), 0);
	b = rfx_decimal_make(-15, 1);
	cr_expect_gt(rfx_decimal_cmp(&a, &b), 0);
}

Test(fixtypes, decimal_text_round_trips_byte_for_byte, .timeout = 10)
{
	static const char *cases[] = {"0", "1", "-1", "101.250", "007.50", ".5", "-.5", "1.",
				      "-0", "-0.000", "0000", "123456789012345678",
				      "0.000000000000000001", "-999999999999999999", "00.00"};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rfx_decimal d;
		char out[64];
		cr_assert_eq(pdec(cases[i], &d), 0, "%s", cases[i]);
		int n = rfx_decimal_format(out, sizeof out, &d);
		cr_assert_gt(n, 0);
		out[n] = 0;
		cr_expect_str_eq(out, cases[i]);
		cr_expect_eq(rfx_decimal_format(out, (size_t)n - 1, &d), RFX_ENOSPACE);
	}
	struct rfx_decimal m = rfx_decimal_make(-12345, 2);
	char out[32];
	int n = rfx_decimal_format(out, sizeof out, &m);
	out[n] = 0;
	cr_expect_str_eq(out, "-123.45");
	m = rfx_decimal_make(5, 3);
	n = rfx_decimal_format(out, sizeof out, &m);
	out[n] = 0;
	cr_expect_str_eq(out, "0.005");
}

Test(fixtypes, char_and_bool, .timeout = 10)
{
	char c;
	bool b;
	cr_expect_eq(GUARDED(rfx_char_parse(p, len, &c), "A"), 0);
	cr_expect_eq(c, 'A');
	cr_expect_eq(GUARDED(rfx_char_parse(p, len, &c), "AB"), RFX_EFORMAT);
	cr_expect_eq(GUARDED(rfx_char_parse(p, len, &c), ""), RFX_EFORMAT);
	cr_expect_eq(GUARDED(rfx_char_parse(p, len, &c), "\001"), RFX_EFORMAT);
	cr_expect_eq(GUARDED(rfx_bool_parse(p, len, &b), "Y"), 0);
	cr_expect(b);
	cr_expect_eq(GUARDED(rfx_bool_parse(p, len, &b), "N"), 0);
	cr_expect(!b);
	cr_expect_eq(GUARDED(rfx_bool_parse(p, len, &b), "y"), RFX_EFORMAT);
	cr_expect_eq(GUARDED(rfx_bool_parse(p, len, &b), "YY"), RFX_EFORMAT);
}

#define NS 1000000000LL

Test(fixtypes, timestamp_precisions, .timeout = 10)
{
	int64_t ns;
	const int64_t base = 1704164645LL * NS; /* 2024-01-02T03:04:05Z */
	cr_expect_eq(pts("20240102-03:04:05", &ns), 0);
	cr_expect_eq(ns, base);
	cr_expect_eq(pts("20240102-03:04:05.123", &ns), 3);
	cr_expect_eq(ns, base + 123000000);
	cr_expect_eq(pts("20240102-03:04:05.123456", &ns), 6);
	cr_expect_eq(ns, base + 123456000);
	cr_expect_eq(pts("20240102-03:04:05.123456789", &ns), 9);
	cr_expect_eq(ns, base + 123456789);
	cr_expect_eq(pts("20240102-03:04:05.123456789012", &ns), 12);
	cr_expect_eq(ns, base + 123456789);
	cr_expect_eq(pts("19700101-00:00:00", &ns), 0);
	cr_expect_eq(ns, 0);
	cr_expect_eq(pts("19691231-23:59:59.5", &ns), 1);
	cr_expect_eq(ns, -NS / 2);
	cr_expect_eq(pts("20000229-12:00:00", &ns), 0);
	cr_expect_eq(pts("22620411-23:47:16.854775807", &ns), 9);
	cr_expect_eq(ns, INT64_MAX);
	cr_expect_eq(pts("22620411-23:47:16.854775808", &ns), RFX_ERANGE);
	cr_expect_eq(pts("16770922-00:00:00", &ns), 0);
	cr_expect_eq(ns, RFX_TS_MIN_NS);
	cr_expect_eq(pts("16770921-23:59:59", &ns), RFX_ERANGE);
}

Test(fixtypes, timestamp_leap_second, .timeout = 10)
{
	int64_t a, b;
	cr_expect_eq(pts("20161231-23:59:60", &a), 0);
	cr_expect_eq(pts("20170101-00:00:00", &b), 0);
	cr_expect_eq(a, b);
	cr_expect_eq(pts("20161231-23:58:60", &a), RFX_ERANGE);
	cr_expect_eq(pts("20161231-12:59:60", &a), RFX_ERANGE);
	cr_expect_eq(pts("20161231-23:59:61", &a), RFX_ERANGE);
}

Test(fixtypes, timestamp_invalid_fields, .timeout = 10)
{
	static const char *range[] = {"20240002-03:04:05", "20241302-03:04:05", "20240100-03:04:05",
				      "20240132-03:04:05", "20230229-03:04:05", "19000229-00:00:00",
				      "20240431-00:00:00", "20240102-24:00:00", "20240102-23:60:00",
				      "00000101-00:00:00"};
	static const char *format[] = {"2024010-03:04:05", "20240102 03:04:05", "20240102-03:04:5",
				       "20240102-03-04-05", "20240102-03:04:05.", "20240102-03:04:05,1",
				       "20240102-03:04:05.1234567890123", "2024O102-03:04:05",
				       "20240102-03:04:05Z", "", "20240102"};
	int64_t ns;
	for (size_t i = 0; i < sizeof range / sizeof range[0]; i++)
		cr_expect_eq(pts(range[i], &ns), RFX_ERANGE, "%s", range[i]);
	for (size_t i = 0; i < sizeof format / sizeof format[0]; i++)
		cr_expect_eq(pts(format[i], &ns), RFX_EFORMAT, "%s", format[i]);
}

Test(fixtypes, timestamp_format_round_trip, .timeout = 10)
{
	static const enum rfx_ts_prec precs[] = {RFX_TS_S, RFX_TS_MS, RFX_TS_US, RFX_TS_NS};
	const int64_t samples[] = {0, 1, -1, 1704164645123456789LL, INT64_MAX, RFX_TS_MIN_NS,
				   951782400LL * NS, -NS / 2};
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		for (size_t k = 0; k < 4; k++) {
			char b[40];
			int n = rfx_timestamp_format(b, sizeof b, samples[i], precs[k]);
			cr_assert_gt(n, 0);
			int64_t back;
			b[n] = 0;
			cr_expect_eq(pts(b, &back), (int)precs[k]);
			int64_t unit = k == 0 ? NS : k == 1 ? 1000000 : k == 2 ? 1000 : 1;
			int64_t want = samples[i] / unit * unit;
			if (samples[i] % unit < 0)
				want -= unit;
			cr_expect_eq(back, want, "sample %zu prec %zu: %.*s", i, k, n, b);
		}
	}
	char b[32];
	cr_expect_eq(rfx_timestamp_format(b, 16, 0, RFX_TS_S), RFX_ENOSPACE);
	cr_expect_eq(rfx_timestamp_format(b, 20, 0, RFX_TS_MS), RFX_ENOSPACE);
	cr_expect_eq(rfx_timestamp_format(b, 21, 0, RFX_TS_MS), 21);
	cr_expect_eq(rfx_timestamp_format(b, 32, INT64_MIN, RFX_TS_MS), RFX_ERANGE);
}

Test(fixtypes, date_time_month_year, .timeout = 10)
{
	int32_t days;
	cr_expect_eq(GUARDED(rfx_date_parse(p, len, &days), "19700102"), 0);
	cr_expect_eq(days, 1);
	cr_expect_eq(GUARDED(rfx_date_parse(p, len, &days), "19691231"), 0);
	cr_expect_eq(days, -1);
	cr_expect_eq(GUARDED(rfx_date_parse(p, len, &days), "20240230"), RFX_ERANGE);
	cr_expect_eq(GUARDED(rfx_date_parse(p, len, &days), "2024023"), RFX_EFORMAT);
	char b[8];
	cr_expect_eq(rfx_date_format(b, 8, 19723), 8);
	cr_expect(memcmp(b, "20240101", 8) == 0);

	int64_t ns;
	cr_expect_eq(GUARDED(rfx_timeonly_parse(p, len, &ns), "13:14:15.016"), 3);
	cr_expect_eq(ns, (13 * 3600 + 14 * 60 + 15) * NS + 16000000);
	cr_expect_eq(GUARDED(rfx_timeonly_parse(p, len, &ns), "23:59:60"), 0);
	cr_expect_eq(GUARDED(rfx_timeonly_parse(p, len, &ns), "24:00:00"), RFX_ERANGE);
	cr_expect_eq(GUARDED(rfx_timeonly_parse(p, len, &ns), "1:00:00"), RFX_EFORMAT);

	struct rfx_month_year my;
	cr_expect_eq(GUARDED(rfx_month_year_parse(p, len, &my), "202403"), 0);
	cr_expect(my.year == 2024 && my.month == 3 && my.day == 0 && my.week == 0);
	cr_expect_eq(GUARDED(rfx_month_year_parse(p, len, &my), "20240229"), 0);
	cr_expect_eq(my.day, 29);
	cr_expect_eq(GUARDED(rfx_month_year_parse(p, len, &my), "202403w2"), 0);
	cr_expect_eq(my.week, 2);
	cr_expect_eq(GUARDED(rfx_month_year_parse(p, len, &my), "202403w6"), RFX_ERANGE);
	cr_expect_eq(GUARDED(rfx_month_year_parse(p, len, &my), "202413"), RFX_ERANGE);
	cr_expect_eq(GUARDED(rfx_month_year_parse(p, len, &my), "20230229"), RFX_ERANGE);
	cr_expect_eq(GUARDED(rfx_month_year_parse(p, len, &my), "202403x2"), RFX_EFORMAT);
	cr_expect_eq(GUARDED(rfx_month_year_parse(p, len, &my), "2024031"), RFX_EFORMAT);
}

Test(fixtypes, civil_calendar_round_trips, .timeout = 10)
{
	for (int64_t d = -800000; d <= 3000000; d += 97) {
		int32_t y;
		uint32_t m, dd;
		rfx_civil_from_days(d, &y, &m, &dd);
		cr_assert_eq(rfx_days_from_civil(y, m, dd), d);
	}
	cr_expect_eq(rfx_days_from_civil(2000, 3, 1), 11017);
}
