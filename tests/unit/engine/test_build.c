#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "engine/codec.h"
#include "fixtest.h"

#define NS 1000000000LL

static struct rfx_builder b;
static char buf[1024];

static void expect_msg(int n, const char *bs, const char *body)
{
	char want[1024];
	size_t wn = fixmsg(want, bs, body);
	cr_assert_eq(n, (int)wn, "length %d, want %zu", n, wn);
	cr_expect(memcmp(rfx_builder_msg(&b), want, wn) == 0, "got %.*s", n, rfx_builder_msg(&b));
}

Test(build, heartbeat_matches_oracle, .timeout = 10)
{
	cr_assert_eq(rfx_builder_init(&b, "FIX.4.4"), 0);
	cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "0", 1), 0);
	rfx_builder_str(&b, 49, "SENDER", 6);
	rfx_builder_int(&b, 34, 1);
	expect_msg(rfx_builder_finish(&b), "FIX.4.4", "35=0|49=SENDER|34=1|");
}

Test(build, every_appender, .timeout = 10)
{
	struct rfx_decimal px = rfx_decimal_make(10125, 2);
	cr_assert_eq(rfx_builder_init(&b, "FIXT.1.1"), 0);
	cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "D", 1), 0);
	cr_expect_eq(rfx_builder_str(&b, 11, "ord-1", 5), 0);
	cr_expect_eq(rfx_builder_int(&b, 38, -100), 0);
	cr_expect_eq(rfx_builder_uint(&b, 34, UINT64_MAX), 0);
	cr_expect_eq(rfx_builder_decimal(&b, 44, &px), 0);
	cr_expect_eq(rfx_builder_char(&b, 54, '1'), 0);
	cr_expect_eq(rfx_builder_bool(&b, 43, true), 0);
	cr_expect_eq(rfx_builder_timestamp(&b, 60, 1704164645123456789LL, RFX_TS_S), 0);
	cr_expect_eq(rfx_builder_timestamp(&b, 60, 1704164645123456789LL, RFX_TS_MS), 0);
	cr_expect_eq(rfx_builder_timestamp(&b, 60, 1704164645123456789LL, RFX_TS_US), 0);
	cr_expect_eq(rfx_builder_timestamp(&b, 60, 1704164645123456789LL, RFX_TS_NS), 0);
	cr_expect_eq(rfx_builder_data(&b, 95, 96, "a\001b", 3), 0);
	cr_expect_eq(rfx_builder_raw(&b, "58=x\001", 5), 0);
	expect_msg(rfx_builder_finish(&b), "FIXT.1.1",
		   "35=D|11=ord-1|38=-100|34=18446744073709551615|44=101.25|54=1|43=Y|"
		   "60=20240102-03:04:05|60=20240102-03:04:05.123|60=20240102-03:04:05.123456|"
		   "60=20240102-03:04:05.123456789|95=3|96=a|b|58=x|");
}

Test(build, invalid_arguments, .timeout = 10)
{
	cr_expect_eq(rfx_builder_init(&b, ""), -EINVAL);
	cr_expect_eq(rfx_builder_init(&b, "FIX 4.4"), -EINVAL);
	cr_expect_eq(rfx_builder_init(&b, "FIX.4.4.01234567890"), -EINVAL);
	cr_assert_eq(rfx_builder_init(&b, "FIX.4.2"), 0);
	cr_expect_eq(rfx_builder_start(&b, buf, sizeof buf, "", 0), -EINVAL);
	cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "0", 1), 0);
	cr_expect_eq(rfx_builder_str(&b, 58, "a\001b", 3), -EINVAL);
	cr_expect_eq(rfx_builder_str(&b, 0, "a", 1), -EINVAL);
	cr_expect_eq(rfx_builder_char(&b, 54, '\001'), -EINVAL);
	cr_expect_eq(rfx_builder_raw(&b, "58=x", 4), -EINVAL);
	/* Rejected arguments write nothing and do not poison the message. */
	expect_msg(rfx_builder_finish(&b), "FIX.4.2", "35=0|");
}

Test(build, standard_header_in_ascending_order, .timeout = 10)
{
	struct rfx_header h;
	rfx_header_init(&h);
	h.msg_seq_num = 7;
	h.sender_comp_id = (struct rfx_str){"S", 1};
	h.target_comp_id = (struct rfx_str){"T", 1};
	h.sending_time = 1704164645123456789LL;
	h.poss_dup = 'Y';
	h.orig_sending_time = 1704164640000000000LL;
	h.target_sub_id = (struct rfx_str){"ts", 2};
	h.on_behalf_of_comp_id = (struct rfx_str){"OB", 2};
	h.deliver_to_comp_id = (struct rfx_str){"DT", 2};
	h.appl_ver_id = (struct rfx_str){"9", 1};
	h.last_msg_seq_num_processed = 5;
	h.extra = (struct rfx_str){"5000=z\001", 7};
	cr_assert_eq(rfx_builder_init(&b, "FIXT.1.1"), 0);
	cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "D", 1), 0);
	cr_assert_eq(rfx_builder_header(&b, &h), 0);
	rfx_builder_str(&b, 11, "x", 1);
	expect_msg(rfx_builder_finish(&b), "FIXT.1.1",
		   "35=D|34=7|43=Y|49=S|52=20240102-03:04:05.123|56=T|57=ts|115=OB|"
		   "122=20240102-03:04:00.000|128=DT|369=5|1128=9|5000=z|11=x|");
}

Test(build, wrap_client_body, .timeout = 10)
{
	char body[64];
	size_t bl = soh(body, "35=D|11=abc|55=XYZ|54=1|");
	struct rfx_header h;
	rfx_header_init(&h);
	h.msg_seq_num = 42;
	h.sender_comp_id = (struct rfx_str){"ME", 2};
	h.target_comp_id = (struct rfx_str){"VENUE", 5};
	h.sending_time = 0;
	cr_assert_eq(rfx_builder_init(&b, "FIX.4.4"), 0);
	cr_assert_eq(rfx_builder_wrap(&b, buf, sizeof buf, &h, body, (uint32_t)bl), 0);
	expect_msg(rfx_builder_finish(&b), "FIX.4.4",
		   "35=D|34=42|49=ME|52=19700101-00:00:00.000|56=VENUE|11=abc|55=XYZ|54=1|");

	static const char *bad[] = {"36=D|11=a|", "35=|11=a|", "35=D", "35=D|11=a", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bl = soh(body, bad[i]);
		cr_expect_eq(rfx_builder_wrap(&b, buf, sizeof buf, &h, body, (uint32_t)bl),
			     RFX_EGARBLED, "%s", bad[i]);
	}
}

Test(build, no_space_at_every_capacity, .timeout = 10)
{
	char small[256];
	int full = 0;
	cr_assert_eq(rfx_builder_init(&b, "FIX.4.4"), 0);
	for (size_t cap = 0; cap < sizeof small; cap++) {
		/* Canary after cap: the builder must never write past it. */
		memset(small, 0x5a, sizeof small);
		int r = rfx_builder_start(&b, small, cap, "8", 1);
		rfx_builder_str(&b, 11, "order-0001", 10);
		rfx_builder_timestamp(&b, 60, 1704164645123456789LL, RFX_TS_US);
		rfx_builder_data(&b, 95, 96, "xyz\001", 4);
		r = rfx_builder_finish(&b);
		for (size_t k = cap; k < sizeof small; k++)
			cr_assert_eq(small[k], 0x5a, "overrun at cap %zu", cap);
		if (r > 0) {
			full = r;
			cr_expect_leq((size_t)r + b.start, cap);
			break;
		}
		cr_expect_eq(r, RFX_ENOSPACE, "cap %zu: %d", cap, r);
	}
	cr_expect_gt(full, 0);
}

Test(build, timestamp_day_cache_follows_the_day, .timeout = 10)
{
	cr_assert_eq(rfx_builder_init(&b, "FIX.4.4"), 0);
	cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "0", 1), 0);
	int64_t mid = 1704153600LL * NS; /* 2024-01-02T00:00:00Z */
	rfx_builder_timestamp(&b, 52, mid - 1, RFX_TS_NS);
	rfx_builder_timestamp(&b, 52, mid, RFX_TS_NS);
	rfx_builder_timestamp(&b, 52, mid + 86400 * NS - 1, RFX_TS_MS);
	rfx_builder_timestamp(&b, 52, mid - 1, RFX_TS_MS);
	rfx_builder_timestamp(&b, 52, -1, RFX_TS_MS);
	rfx_builder_timestamp(&b, 52, 0, RFX_TS_MS);
	cr_expect_eq(rfx_builder_timestamp(&b, 52, INT64_MIN, RFX_TS_MS), -EINVAL);
	expect_msg(rfx_builder_finish(&b), "FIX.4.4",
		   "35=0|52=20240101-23:59:59.999999999|52=20240102-00:00:00.000000000|"
		   "52=20240102-23:59:59.999|52=20240101-23:59:59.999|"
		   "52=19691231-23:59:59.999|52=19700101-00:00:00.000|");
}

Test(build, body_length_digits_and_start_offset, .timeout = 10)
{
	static char big[20000];
	static char val[12000];
	memset(val, 'v', sizeof val);
	cr_assert_eq(rfx_builder_init(&b, "FIX.4.4"), 0);
	const uint32_t sizes[] = {0, 1, 5, 80, 95, 200, 995, 9990, 11990};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		cr_assert_eq(rfx_builder_start(&b, big, sizeof big, "0", 1), 0);
		rfx_builder_str(&b, 58, val, sizes[i]);
		int n = rfx_builder_finish(&b);
		cr_assert_gt(n, 0);
		size_t skip;
		cr_expect_eq(rfx_codec_frame(rfx_builder_msg(&b), (size_t)n, NULL, &skip), n);
	}
}

/* The SOH check rides on the word-wise copy: every length and position. */
Test(build, soh_in_str_rejected_at_every_position, .timeout = 10)
{
	char v[40];
	cr_assert_eq(rfx_builder_init(&b, "FIX.4.4"), 0);
	for (uint32_t len = 1; len < sizeof v; len++) {
		memset(v, 'a', sizeof v);
		cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "0", 1), 0);
		cr_expect_eq(rfx_builder_str(&b, 58, v, len), 0, "len %u", len);
		for (uint32_t at = 0; at < len; at++) {
			v[at] = '\001';
			cr_expect_eq(rfx_builder_str(&b, 58, v, len), -EINVAL, "len %u at %u", len, at);
			v[at] = 'a';
		}
		/* Bytes that look like SOH in other lanes (0x81, 0x00) are fine. */
		v[0] = (char)0x81;
		v[len - 1] = 0;
		cr_expect_eq(rfx_builder_str(&b, 58, v, len), 0);
		cr_assert_gt(rfx_builder_finish(&b), 0);
	}
}

Test(build, header_errors_stick, .timeout = 10)
{
	struct rfx_header h;
	rfx_header_init(&h);
	h.sender_comp_id = (struct rfx_str){"S\001X", 3};
	cr_assert_eq(rfx_builder_init(&b, "FIX.4.4"), 0);
	cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "0", 1), 0);
	cr_expect_eq(rfx_builder_header(&b, &h), -EINVAL);
	cr_expect_eq(rfx_builder_finish(&b), -EINVAL);

	rfx_header_init(&h);
	h.extra = (struct rfx_str){"5000=x", 6};
	cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "0", 1), 0);
	cr_expect_eq(rfx_builder_header(&b, &h), -EINVAL);

	static char big[3000];
	memset(big, 'T', sizeof big);
	rfx_header_init(&h);
	h.target_comp_id = (struct rfx_str){big, sizeof big};
	cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "0", 1), 0);
	cr_expect_eq(rfx_builder_header(&b, &h), RFX_ENOSPACE);
	cr_expect_eq(rfx_builder_finish(&b), RFX_ENOSPACE);
}

Test(build, fields_from_a_parsed_index_rebuild_the_body, .timeout = 10)
{
	char m[512];
	size_t n = fixmsg(m, "FIX.4.4", "35=D|34=2|49=S|56=T|11=abc|95=3|96=a|b|58=zz|");
	struct rfx_field fl[32];
	struct rfx_msg msg;
	rfx_msg_init(&msg, fl, 32);
	cr_assert_eq(rfx_codec_parse(&msg, m, n, NULL), 11);
	cr_assert_eq(rfx_builder_init(&b, "FIX.4.4"), 0);
	cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "D", 1), 0);
	cr_assert_eq(rfx_builder_fields(&b, fl + 3, msg.nfields - 4), 0);
	int r = rfx_builder_finish(&b);
	cr_assert_eq(r, (int)n);
	cr_expect(memcmp(rfx_builder_msg(&b), m, n) == 0);

	char small[64];
	cr_assert_eq(rfx_builder_start(&b, small, sizeof small, "D", 1), 0);
	cr_expect_eq(rfx_builder_fields(&b, fl + 3, msg.nfields - 4), RFX_ENOSPACE);
	struct rfx_field zero = {"x", 1, 0};
	cr_assert_eq(rfx_builder_start(&b, buf, sizeof buf, "D", 1), 0);
	cr_expect_eq(rfx_builder_fields(&b, &zero, 1), -EINVAL);
	cr_expect_eq(rfx_builder_fields(&b, fl, 0), 0);
}
