#include <criterion/criterion.h>
#include <string.h>

#include "engine/codec.h"
#include "fixtest.h"
#include "guard.h"

static struct rfx_field fields[64];
static struct rfx_msg msg;
static struct guard gd;

/* Parses s ('|' for SOH) from a copy placed against a guard page. The copy
 * stays mapped until the next call (field views point into it). */
static int parse_seam(const char *s, const struct rfx_dict_seam *seam)
{
	char tmp[1024];
	size_t n = soh(tmp, s);
	guard_release(&gd);
	char *p = guard_place(&gd, tmp, n);
	cr_assert_not_null(p);
	rfx_msg_init(&msg, fields, 64);
	return rfx_codec_parse(&msg, p, n, seam);
}

static int parse(const char *s)
{
	return parse_seam(s, NULL);
}

static bool val_is(const struct rfx_field *f, const char *s)
{
	char tmp[256];
	size_t n = soh(tmp, s);
	return f && f->len == n && memcmp(f->p, tmp, n) == 0;
}

Test(parse, fields_in_wire_order_with_repeats, .timeout = 10)
{
	cr_assert_eq(parse("8=FIX.4.4|9=20|35=8|448=A|448=B|58=|10=000|"), 7);
	cr_expect_eq(msg.fields[3].tag, 448);
	cr_expect(val_is(&msg.fields[3], "A"));
	cr_expect(val_is(&msg.fields[4], "B"));
	cr_expect_eq(msg.fields[5].tag, 58);
	cr_expect_eq(msg.fields[5].len, 0);
	cr_expect_eq(rfx_msg_find(&msg, 448, 0), 3);
	cr_expect_eq(rfx_msg_find(&msg, 448, 4), 4);
	cr_expect_eq(rfx_msg_find(&msg, 448, 5), RFX_ENOTFOUND);
}

Test(parse, header_fields_in_constant_time_slots, .timeout = 10)
{
	cr_assert_gt(parse("8=FIXT.1.1|9=99|35=D|34=12|49=S|52=20240101-00:00:00|56=T|"
			   "1128=9|11=x|49=second|10=123|"), 0);
	cr_expect(val_is(rfx_msg_hdr(&msg, RFX_HDR_BEGIN_STRING), "FIXT.1.1"));
	cr_expect(val_is(rfx_msg_hdr(&msg, RFX_HDR_MSG_TYPE), "D"));
	cr_expect(val_is(rfx_msg_hdr(&msg, RFX_HDR_MSG_SEQ_NUM), "12"));
	cr_expect(val_is(rfx_msg_hdr(&msg, RFX_HDR_SENDER_COMP_ID), "S"));
	cr_expect(val_is(rfx_msg_hdr(&msg, RFX_HDR_TARGET_COMP_ID), "T"));
	cr_expect(val_is(rfx_msg_hdr(&msg, RFX_HDR_APPL_VER_ID), "9"));
	cr_expect(val_is(rfx_msg_hdr(&msg, RFX_HDR_CHECK_SUM), "123"));
	cr_expect_null(rfx_msg_hdr(&msg, RFX_HDR_POSS_DUP_FLAG));
	int64_t seq;
	cr_expect_eq(rfx_msg_get_int(&msg, 34, &seq), 0);
	cr_expect_eq(seq, 12);
	int64_t ts;
	cr_expect_eq(rfx_msg_get_timestamp(&msg, 52, &ts), 0);
	cr_expect_eq(ts, 1704067200LL * 1000000000LL);
	struct rfx_str s;
	cr_expect_eq(rfx_msg_get_str(&msg, 11, &s), 0);
	cr_expect_eq(s.len, 1);
	cr_expect_eq(rfx_msg_get_str(&msg, 12, &s), RFX_ENOTFOUND);
}

/* rfx_msg_adopt: fields split by another parser give the same index (header
 * slots: first occurrence) as rfx_codec_parse, without a second scan. */
Test(parse, adopt_gives_the_same_index, .timeout = 10)
{
	int n = parse("8=FIXT.1.1|9=99|35=D|34=12|49=S|52=20240101-00:00:00|56=T|"
		      "1128=9|11=x|49=second|627=1|628=H|10=123|");
	cr_assert_gt(n, 0);
	struct rfx_field copy[64];
	struct rfx_msg m;
	memcpy(copy, msg.fields, (size_t)n * sizeof(copy[0]));
	rfx_msg_init(&m, copy, 64);
	m.hdr[RFX_HDR_POSS_DUP_FLAG] = 7; /* stale slots are cleared */
	cr_assert_eq(rfx_msg_adopt(&m, msg.buf, msg.len, (uint32_t)n), 0);
	cr_expect_eq(m.nfields, (uint32_t)n);
	cr_expect_eq(m.buf, msg.buf);
	cr_expect_eq(m.len, msg.len);
	cr_expect_eq(memcmp(m.hdr, msg.hdr, sizeof(m.hdr)), 0);
	cr_expect(val_is(rfx_msg_hdr(&m, RFX_HDR_SENDER_COMP_ID), "S"));
	cr_expect_null(rfx_msg_hdr(&m, RFX_HDR_POSS_DUP_FLAG));
	rfx_msg_init(&m, copy, 4);
	cr_expect_eq(rfx_msg_adopt(&m, msg.buf, msg.len, (uint32_t)n), RFX_ETOOMANY);
}

Test(parse, typed_getters, .timeout = 10)
{
	cr_assert_eq(parse("35=8|44=101.250|54=1|43=Y|38=x|"), 5);
	struct rfx_decimal d;
	cr_expect_eq(rfx_msg_get_decimal(&msg, 44, &d), 0);
	cr_expect_eq(d.mantissa, 101250);
	cr_expect_eq(d.scale, 3);
	char c;
	cr_expect_eq(rfx_msg_get_char(&msg, 54, &c), 0);
	cr_expect_eq(c, '1');
	bool b;
	cr_expect_eq(rfx_msg_get_bool(&msg, 43, &b), 0);
	cr_expect(b);
	int64_t v;
	cr_expect_eq(rfx_msg_get_int(&msg, 38, &v), RFX_EFORMAT);
	cr_expect_eq(rfx_msg_get_int(&msg, 39, &v), RFX_ENOTFOUND);
}

Test(parse, builtin_data_fields_may_hold_soh, .timeout = 10)
{
	cr_assert_eq(parse("35=A|95=5|96=a|b=c|58=t|93=2|89=|||10=000|"), 7);
	cr_expect_eq(msg.fields[2].tag, 96);
	cr_expect(val_is(&msg.fields[2], "a|b=c"));
	cr_expect_eq(msg.fields[3].tag, 58);
	cr_expect_eq(msg.fields[5].tag, 89);
	cr_expect(val_is(&msg.fields[5], "||"));
	cr_expect(val_is(rfx_msg_hdr(&msg, RFX_HDR_SIGNATURE), "||"));
	/* Zero-length data */
	cr_assert_eq(parse("35=A|212=0|213=|10=000|"), 4);
	cr_expect_eq(msg.fields[2].len, 0);
}

Test(parse, builtin_data_table_pairs, .timeout = 10)
{
	cr_expect_eq(rfx_codec_data_tag(95), 96);
	cr_expect_eq(rfx_codec_data_tag(93), 89);
	cr_expect_eq(rfx_codec_data_tag(90), 91);
	cr_expect_eq(rfx_codec_data_tag(212), 213);
	cr_expect_eq(rfx_codec_data_tag(354), 355);
	cr_expect_eq(rfx_codec_data_tag(1401), 1402);
	cr_expect_eq(rfx_codec_data_tag(2372), 2371);
	cr_expect_eq(rfx_codec_data_tag(43109), 42684);
	cr_expect_eq(rfx_codec_data_tag(96), 0);
	cr_expect_eq(rfx_codec_data_tag(9), 0);
	cr_expect_eq(rfx_codec_data_tag(383), 0);
	cr_expect_eq(rfx_codec_data_tag(50000), 0);
}

Test(parse, data_length_errors, .timeout = 10)
{
	cr_expect_eq(parse("35=A|95=x|96=ab|"), RFX_EFORMAT);
	cr_expect_eq(parse("35=A|95=9|96=ab|"), RFX_EFORMAT);
	cr_expect_eq(parse("35=A|95=1|96=ab|"), RFX_EFORMAT);
	cr_expect_eq(parse("35=A|95=2|96=ab"), RFX_EFORMAT);
	/* A length not followed by its data field is just an int. */
	cr_expect_eq(parse("35=A|95=2|58=x|"), 3);
}

Test(parse, bad_tags, .timeout = 10)
{
	cr_expect_eq(parse("35=A|=x|"), RFX_EBADTAG);
	cr_expect_eq(msg.nfields, 1);
	cr_expect_eq(parse("35=A|0=x|"), RFX_EBADTAG);
	cr_expect_eq(parse("35=A|1a=x|"), RFX_EBADTAG);
	cr_expect_eq(parse("35=A|-1=x|"), RFX_EBADTAG);
	cr_expect_eq(parse("35=A|58x|"), RFX_EBADTAG);
	cr_expect_eq(parse("35=A|58"), RFX_EBADTAG);
	cr_expect_eq(parse("35=A|99999999999=x|"), RFX_EBADTAG);
	cr_expect_eq(parse("35=A|2147483639=x|"), 2);
}

Test(parse, value_must_end_with_soh, .timeout = 10)
{
	cr_expect_eq(parse("35=A|58=abc"), RFX_EFORMAT);
	cr_expect_eq(parse("35=A|58="), RFX_EFORMAT);
	cr_expect_eq(parse(""), 0);
}

Test(parse, index_full, .timeout = 10)
{
	char s[1024] = "35=0|";
	for (int i = 0; i < 70; i++)
		strcat(s, "58=x|");
	cr_expect_eq(parse(s), RFX_ETOOMANY);
	cr_expect_eq(msg.nfields, 64);
}

/* A market-data layout: 268 NoMDEntries, delimiter 279, with a nested 453. */
static const uint32_t md_tags[] = {55, 269, 270, 271, 453};
static const uint32_t party_tags[] = {447, 452};
static const struct rfx_group_layout md_groups[] = {
	{.count_tag = 268, .delim_tag = 279, .tags = md_tags, .ntags = 5},
	{.count_tag = 453, .delim_tag = 448, .tags = party_tags, .ntags = 2},
};
static const struct rfx_data_layout md_data[] = {{5001, 5002}};
static const struct rfx_layout md_layout = {md_data, 1, md_groups, 2};

static const struct rfx_layout *layout_for(void *ctx, const char *mt, uint32_t len)
{
	*(int *)ctx += 1;
	return len == 1 && mt[0] == 'X' ? &md_layout : NULL;
}

Test(parse, groups_checked_with_layout, .timeout = 10)
{
	int calls = 0;
	struct rfx_dict_seam seam = {layout_for, &calls};
	const char *ok = "35=X|262=r|268=2|279=0|55=A|269=0|270=1.5|453=2|448=p|452=1|448=q|"
			 "279=1|55=B|270=2|5001=2|5002=|||10=000|";
	cr_assert_eq(parse_seam(ok, &seam), 17);
	cr_expect_eq(calls, 1);
	cr_expect_eq(msg.fields[15].tag, 5002);
	cr_expect(val_is(&msg.fields[15], "||"));

	struct rfx_group_span sp[4];
	int gi = rfx_msg_find(&msg, 268, 0);
	cr_assert_eq(rfx_msg_group(&msg, &md_layout, (uint32_t)gi, sp, 4), 2);
	cr_expect_eq(sp[0].first, 3);
	cr_expect_eq(sp[0].end, 11);
	cr_expect_eq(sp[1].first, 11);
	cr_expect_eq(sp[1].end, 14);
	cr_assert_eq(rfx_msg_group(&msg, &md_layout, 7, sp, 4), 2);
	cr_expect_eq(sp[1].first, 10);
	cr_expect_eq(rfx_msg_group(&msg, &md_layout, (uint32_t)gi, sp, 1), RFX_ETOOMANY);
	cr_expect_eq(rfx_msg_group(&msg, &md_layout, 1, sp, 4), RFX_ENOTFOUND);

	/* Without the seam the same bytes index in wire order, unchecked. */
	cr_expect_eq(parse_seam("35=X|268=5|279=0|10=000|", NULL), 4);
}

Test(parse, group_count_mismatch, .timeout = 10)
{
	int calls = 0;
	struct rfx_dict_seam seam = {layout_for, &calls};
	cr_expect_eq(parse_seam("35=X|268=3|279=0|279=1|10=000|", &seam), RFX_EGROUP);
	cr_expect_eq(parse_seam("35=X|268=1|279=0|279=1|10=000|", &seam), RFX_EGROUP);
	cr_expect_eq(parse_seam("35=X|268=1|55=A|279=1|10=000|", &seam), RFX_EGROUP);
	cr_expect_eq(parse_seam("35=X|268=x|10=000|", &seam), RFX_EGROUP);
	cr_expect_eq(parse_seam("35=X|268=1|279=0|453=2|448=a|10=000|", &seam), RFX_EGROUP);
	cr_expect_eq(parse_seam("35=X|268=0|10=000|", &seam), 3);
	cr_expect_eq(parse_seam("35=Y|268=3|10=000|", &seam), 3);
}

Test(parse, custom_data_pair_from_layout_only_after_msg_type, .timeout = 10)
{
	int calls = 0;
	struct rfx_dict_seam seam = {layout_for, &calls};
	cr_expect_eq(parse_seam("35=X|5001=3|5002=a|b|", &seam), 3);
	cr_expect_eq(parse_seam("35=Y|5001=3|5002=a|b|", &seam), RFX_EBADTAG);
}

/* Build a message with the builder, then parse every prefix: never a fault,
 * never a success that claims bytes beyond the prefix. */
Test(parse, every_prefix_is_safe, .timeout = 10)
{
	char m[512];
	size_t n = fixmsg(m, "FIX.4.4", "35=D|95=4|96=1|2||11=abc|10=1|");
	for (size_t k = 0; k <= n; k++) {
		struct guard g;
		char *p = guard_place(&g, m, k);
		cr_assert_not_null(p);
		rfx_msg_init(&msg, fields, 64);
		int r = rfx_codec_parse(&msg, p, k, NULL);
		for (uint32_t i = 0; r > 0 && i < msg.nfields; i++)
			cr_expect_leq(msg.fields[i].p + msg.fields[i].len, p + k);
		guard_release(&g);
	}
}

/* Tags of every width, far from and near the end of the buffer (the fast path
 * needs 16 bytes in reach, the careful path takes the rest). */
Test(parse, tags_of_every_width, .timeout = 10)
{
	static const uint32_t tags[] = {1, 12, 123, 1234, 12345, 123456, 1234567, 12345678,
					123456789, 2147483647};
	char s[512];
	for (int pad = 0; pad < 20; pad++) {
		int w = sprintf(s, "35=A|");
		for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
			w += sprintf(s + w, "%u=v%zu|", tags[i], i);
		/* Pad with a value so the last tags land at varying distances from the end. */
		w += sprintf(s + w, "58=%.*s|", pad, "xxxxxxxxxxxxxxxxxxxxxxx");
		for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
			w += sprintf(s + w, "%u=w|", tags[i]);
		cr_assert_eq(parse(s), 22, "pad %d", pad);
		for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
			cr_expect_eq(msg.fields[1 + i].tag, tags[i]);
			cr_expect_eq(msg.fields[12 + i].tag, tags[i]);
		}
	}
	cr_expect_eq(parse("35=A|2147483648=x|"), RFX_EBADTAG);
	cr_expect_eq(parse("35=A|00000000035=x|"), RFX_EBADTAG);
	cr_expect_eq(parse("35=A|0035=x|"), 2); /* leading zeros: still tag 35 */
	cr_expect_eq(msg.fields[1].tag, 35);
}
