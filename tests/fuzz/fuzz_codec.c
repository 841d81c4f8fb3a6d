/*
 * libFuzzer target for the codec: framer, parser (with and without a group
 * layout), typed accessors, and a rebuild of every parsed message through
 * rfx_builder_wrap() that must frame and parse back to the same fields.
 * Without clang it links with fuzz_replay.c and replays the corpus as a test.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t md_tags[] = {55, 269, 270, 271, 290, 453};
static const uint32_t party_tags[] = {447, 452};
static const struct rfx_group_layout md_groups[] = {
	{.count_tag = 268, .delim_tag = 279, .tags = md_tags, .ntags = 6},
	{.count_tag = 453, .delim_tag = 448, .tags = party_tags, .ntags = 2},
};
static const struct rfx_data_layout md_data[] = {{5001, 5002}};
static const struct rfx_layout md_layout = {md_data, 1, md_groups, 2};

static const struct rfx_layout *layout_for(void *ctx, const char *mt, uint32_t len)
{
	(void)ctx;
	return len == 1 && mt[0] == 'X' ? &md_layout : NULL;
}

/* Crash on purpose: the fuzzer reports it, the replay test fails. */
#define CHECK(c)                  \
	do {                      \
		if (!(c))         \
			abort();  \
	} while (0)

static void typed(const struct rfx_field *f)
{
	int64_t i;
	uint64_t u;
	struct rfx_decimal d;
	char c;
	bool b;
	int32_t days;
	struct rfx_month_year my;
	char out[512];

	rfx_int_parse(f->p, f->len, &i);
	rfx_uint_parse(f->p, f->len, &u);
	if (rfx_decimal_parse(f->p, f->len, &d) == 0) {
		/* Exact decimals reproduce their text byte for byte. */
		int n = rfx_decimal_format(out, sizeof out, &d);
		CHECK(n == (int)f->len && memcmp(out, f->p, f->len) == 0);
	}
	rfx_char_parse(f->p, f->len, &c);
	rfx_bool_parse(f->p, f->len, &b);
	if (rfx_timestamp_parse(f->p, f->len, &i) >= 0)
		CHECK(rfx_timestamp_format(out, sizeof out, i, RFX_TS_NS) > 0);
	rfx_date_parse(f->p, f->len, &days);
	rfx_timeonly_parse(f->p, f->len, &i);
	rfx_month_year_parse(f->p, f->len, &my);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rfx_field fields[256], fields2[256];
	static char out[1 << 17];
	const char *buf = (const char *)data;
	struct rfx_msg m, m2;
	struct rfx_dict_seam seam = {layout_for, NULL};
	struct rfx_frame_opts fo = {.max_size = 1 << 16, .check_checksum = true};
	size_t skip = 0;

	int n = rfx_codec_frame(buf, size, &fo, &skip);
	if (n > 0)
		CHECK((size_t)n <= size);
	else if (n != RFX_EPARTIAL)
		CHECK(skip >= 1 && skip <= size);
	fo.check_checksum = false;
	int n2 = rfx_codec_frame(buf, size, &fo, NULL);
	CHECK(n2 < 0 || n2 == n || n == RFX_ECHECKSUM);

	rfx_msg_init(&m, fields, 256);
	int r = rfx_codec_parse(&m, buf, size, &seam);
	rfx_codec_parse(&m, buf, size, NULL);
	r = rfx_codec_parse(&m, buf, size, NULL);
	if (r < 0)
		return 0;
	for (uint32_t i = 0; i < m.nfields; i++) {
		CHECK(m.fields[i].p >= buf && m.fields[i].p + m.fields[i].len <= buf + size);
		typed(&m.fields[i]);
	}
	int gi = rfx_msg_find(&m, 268, 0);
	if (gi >= 0) {
		struct rfx_group_span sp[8];
		rfx_msg_group(&m, &md_layout, (uint32_t)gi, sp, 8);
	}

	/* A framed message rebuilds byte-identical in its body. */
	const struct rfx_field *last = r >= 4 ? &m.fields[r - 1] : NULL;
	if (n2 > 0 && (size_t)n2 == size && last && last->tag == 10 &&
	    last->p == buf + size - 4) {
		const struct rfx_field *bs = rfx_msg_hdr(&m, RFX_HDR_BEGIN_STRING);
		const struct rfx_field *mt = rfx_msg_hdr(&m, RFX_HDR_MSG_TYPE);
		char bstr[RFX_BEGIN_STRING_MAX + 1];
		struct rfx_builder b;
		if (!bs || !mt || bs->len > RFX_BEGIN_STRING_MAX)
			return 0;
		memcpy(bstr, bs->p, bs->len);
		bstr[bs->len] = 0;
		if (rfx_builder_init(&b, bstr) < 0)
			return 0;
		const char *body = mt->p - 3;
		const char *end = m.fields[m.nfields - 1].p - 3; /* "10=" */
		int w = rfx_builder_wrap(&b, out, sizeof out, NULL, body, (uint32_t)(end - body));
		CHECK(w == 0);
		int len = rfx_builder_finish(&b);
		CHECK(len > 0);
		fo.check_checksum = true;
		CHECK(rfx_codec_frame(rfx_builder_msg(&b), (size_t)len, &fo, NULL) == len);
		rfx_msg_init(&m2, fields2, 256);
		CHECK(rfx_codec_parse(&m2, rfx_builder_msg(&b), (size_t)len, NULL) == r);
		for (uint32_t i = 2; i + 1 < m.nfields; i++)
			CHECK(m2.fields[i].tag == m.fields[i].tag &&
			      m2.fields[i].len == m.fields[i].len &&
			      memcmp(m2.fields[i].p, m.fields[i].p, m.fields[i].len) == 0);

		/* The same body from the field index: byte-identical from 35= to 10=,
		 * unless a tag was written with leading zeros. */
		CHECK(rfx_builder_start(&b, out, sizeof out, mt->p, mt->len) == 0);
		CHECK(rfx_builder_fields(&b, m.fields + 3, (uint32_t)r - 4) == 0);
		len = rfx_builder_finish(&b);
		CHECK(len > 0);
		const char *o = rfx_builder_msg(&b);
		const char *ob = memchr(o, RFX_SOH, (size_t)len);
		ob = ob ? memchr(ob + 1, RFX_SOH, (size_t)(o + len - ob - 1)) : NULL;
		CHECK(ob != NULL);
		ob++;
		/* Leading zeros in a tag only ever shorten the rebuilt body. */
		size_t want = (size_t)(end - body), got = (size_t)(o + len - 7 - ob);
		CHECK(got <= want);
		if (want == got)
			CHECK(memcmp(ob, body, want) == 0);
	}
	return 0;
}
