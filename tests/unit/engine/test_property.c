#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine/codec.h"
#include "gen.h"
#include "guard.h"

/* Cases per run; RFX_PROPERTY_CASES raises it for longer soak runs. */
static unsigned cases(void)
{
	const char *e = getenv("RFX_PROPERTY_CASES");
	return e && atoi(e) > 0 ? (unsigned)atoi(e) : 5000;
}

Test(property, build_frame_parse_round_trip, .timeout = 120)
{
	static char buf[8192];
	static struct rfx_field fields[128];
	struct rfx_builder b;
	struct rfx_msg m;
	struct gen_msg g;
	uint64_t seed = 0x5eed;
	unsigned ncases = cases();

	rfx_msg_init(&m, fields, 128);
	for (unsigned c = 0; c < ncases; c++) {
		int n = gen_message(&seed, &b, buf, sizeof buf, &g);
		cr_assert_gt(n, 0, "case %u: build failed %d", c, n);

		struct guard gd;
		char *p = guard_place(&gd, rfx_builder_msg(&b), (size_t)n);
		cr_assert_not_null(p);
		size_t skip;
		int fr = rfx_codec_frame(p, (size_t)n, NULL, &skip);
		cr_assert_eq(fr, n, "case %u: frame %d != %d", c, fr, n);
		/* A cut anywhere is a partial message. */
		uint32_t cut = (uint32_t)(gen_next(&seed) % (uint64_t)n);
		struct guard gc;
		char *pc = guard_place(&gc, p, cut);
		cr_assert_not_null(pc);
		cr_assert_eq(rfx_codec_frame(pc, cut, NULL, NULL), RFX_EPARTIAL, "case %u cut %u", c,
			     cut);
		guard_release(&gc);
		int r = rfx_codec_parse(&m, p, (size_t)n, NULL);
		cr_assert_eq(r, (int)g.nf + 4, "case %u: parse %d, want %u fields", c, r, g.nf + 4);
		cr_assert_eq(m.fields[0].tag, 8);
		cr_assert_eq(m.fields[0].len, strlen(g.begin));
		cr_assert_eq(m.fields[1].tag, 9);
		cr_assert_eq(m.fields[2].tag, 35);
		cr_assert_eq(m.fields[r - 1].tag, 10);
		for (uint32_t i = 0; i < g.nf; i++) {
			const struct rfx_field *f = &m.fields[3 + i];
			cr_assert_eq(f->tag, g.f[i].tag, "case %u field %u", c, i);
			cr_assert_eq(f->len, g.f[i].len, "case %u field %u tag %u", c, i, f->tag);
			cr_assert(memcmp(f->p, g.f[i].val, f->len) == 0, "case %u field %u", c, i);
		}
		int64_t seq;
		cr_assert_eq(rfx_msg_get_int(&m, 34, &seq), 0);
		guard_release(&gd);
	}
}

/* Random bytes and random corruptions of valid messages: the framer and parser
 * return codes, never fault (guard page) and never claim bytes they lack. */
Test(property, corrupted_messages_are_rejected_safely, .timeout = 120)
{
	static char buf[8192];
	static struct rfx_field fields[128];
	struct rfx_builder b;
	struct rfx_msg m;
	struct gen_msg g;
	uint64_t seed = 0xbad;
	unsigned ncases = cases();

	rfx_msg_init(&m, fields, 128);
	for (unsigned c = 0; c < ncases; c++) {
		int n = gen_message(&seed, &b, buf, sizeof buf, &g);
		cr_assert_gt(n, 0);
		char *msg = buf + b.start;
		uint32_t flips = 1 + gen_below(&seed, 4);
		for (uint32_t k = 0; k < flips; k++)
			msg[gen_below(&seed, (uint32_t)n)] = (char)gen_next(&seed);
		struct guard gd;
		char *p = guard_place(&gd, msg, (size_t)n);
		cr_assert_not_null(p);
		size_t skip = 0;
		int fr = rfx_codec_frame(p, (size_t)n, NULL, &skip);
		if (fr > 0)
			cr_assert_leq(fr, n);
		else if (fr != RFX_EPARTIAL)
			cr_assert(skip >= 1 && skip <= (size_t)n, "case %u: code %d skip %zu", c, fr,
				  skip);
		int r = rfx_codec_parse(&m, p, (size_t)n, NULL);
		for (uint32_t i = 0; r > 0 && i < m.nfields; i++)
			cr_assert_leq(m.fields[i].p + m.fields[i].len, p + n);
		guard_release(&gd);
	}
}
