/* Seeded random FIX message generator shared by the property and allocation
 * tests: builds a message with rfx_builder and records what it wrote. */
#ifndef RFX_TESTS_GEN_H
#define RFX_TESTS_GEN_H

#include <stdint.h>
#include <string.h>

#include "engine/codec.h"

struct gen_field {
	uint32_t tag;
	uint32_t len;
	char val[80];
};

struct gen_msg {
	char begin[16];
	uint32_t nf;
	struct gen_field f[48]; /* body fields after 35 and the header, wire order */
};

static inline uint64_t gen_next(uint64_t *s)
{
	/* splitmix64: tiny, seedable, good enough to spread test inputs. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint32_t gen_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(gen_next(s) % n);
}

/* A tag the parser treats as a plain field: not framing, header or data. */
static inline uint32_t gen_plain_tag(uint64_t *s)
{
	for (;;) {
		uint32_t t = 1 + gen_below(s, 6000);
		if (t == 8 || t == 9 || t == 10 || t == 35 || rfx_codec_data_tag(t))
			continue;
		/* Data tags of the built-in table are all paired with t-1 or nearby;
		 * avoid every tag that some LENGTH field announces. */
		bool is_data = false;
		for (uint32_t l = t > 20 ? t - 20 : 1; l < t + 20 && !is_data; l++)
			is_data = rfx_codec_data_tag(l) == t;
		if (!is_data)
			return t;
	}
}

/*
 * Builds a random message into buf with b. Returns finish()'s result and
 * records the fields in g (their values as written on the wire).
 */
static inline int gen_message(uint64_t *s, struct rfx_builder *b, char *buf, size_t cap,
			      struct gen_msg *g)
{
	static const char *begins[] = {"FIX.4.0", "FIX.4.2", "FIX.4.4", "FIXT.1.1"};
	static const uint32_t data_len_tags[] = {95, 93, 90, 212, 354, 1401, 2372, 43109};
	const char *bs = begins[gen_below(s, 4)];
	char mt[2] = {(char)('A' + gen_below(s, 26)), (char)('0' + gen_below(s, 10))};
	uint32_t mtl = 1 + gen_below(s, 2);

	strcpy(g->begin, bs);
	rfx_builder_init(b, bs);
	rfx_builder_start(b, buf, cap, mt, mtl);
	g->nf = 0;

	struct rfx_header h;
	rfx_header_init(&h);
	h.msg_seq_num = 1 + gen_below(s, 1000000);
	h.sender_comp_id = (struct rfx_str){"SNDR", 4};
	h.target_comp_id = (struct rfx_str){"TGT", 3};
	h.sending_time = (int64_t)(gen_next(s) % (4102444800ULL * 1000000000ULL));
	rfx_builder_header(b, &h);
	g->f[0].tag = 34;
	g->f[0].len = (uint32_t)rfx_int_format(g->f[0].val, 80, (int64_t)h.msg_seq_num);
	g->f[1] = (struct gen_field){.tag = 49, .len = 4, .val = "SNDR"};
	g->f[2].tag = 52;
	g->f[2].len = (uint32_t)rfx_timestamp_format(g->f[2].val, 80, h.sending_time, RFX_TS_MS);
	g->f[3] = (struct gen_field){.tag = 56, .len = 3, .val = "TGT"};
	g->nf = 4;

	uint32_t n = gen_below(s, 40);
	for (uint32_t i = 0; i < n; i++) {
		struct gen_field *f = &g->f[g->nf];
		uint32_t kind = gen_below(s, 8);
		uint32_t tag = gen_plain_tag(s);
		char *w = f->val;
		f->tag = tag;
		switch (kind) {
		case 0: { /* str: printable, '=' included */
			uint32_t len = 1 + gen_below(s, 30);
			for (uint32_t k = 0; k < len; k++)
				w[k] = (char)(0x20 + gen_below(s, 95));
			f->len = len;
			rfx_builder_str(b, tag, w, len);
			break;
		}
		case 1: {
			int64_t v = (int64_t)gen_next(s) >> gen_below(s, 64);
			f->len = (uint32_t)rfx_int_format(w, sizeof f->val, v);
			rfx_builder_int(b, tag, v);
			break;
		}
		case 2: {
			int64_t m = (int64_t)(gen_next(s) % 1000000000000000000ULL);
			if (gen_below(s, 2))
				m = -m;
			m /= (int64_t)1 << gen_below(s, 60);
			struct rfx_decimal d = rfx_decimal_make(m, (uint8_t)gen_below(s, 19));
			f->len = (uint32_t)rfx_decimal_format(w, sizeof f->val, &d);
			rfx_builder_decimal(b, tag, &d);
			break;
		}
		case 3:
			w[0] = (char)(0x21 + gen_below(s, 94));
			f->len = 1;
			rfx_builder_char(b, tag, w[0]);
			break;
		case 4:
			w[0] = gen_below(s, 2) ? 'Y' : 'N';
			f->len = 1;
			rfx_builder_bool(b, tag, w[0] == 'Y');
			break;
		case 5: {
			int64_t ns = (int64_t)(gen_next(s) % (4102444800ULL * 1000000000ULL));
			enum rfx_ts_prec p = (enum rfx_ts_prec)(3 * gen_below(s, 4));
			f->len = (uint32_t)rfx_timestamp_format(w, sizeof f->val, ns, p);
			rfx_builder_timestamp(b, tag, ns, p);
			break;
		}
		default: { /* data pair with SOH and '=' inside */
			uint32_t lt = data_len_tags[gen_below(s, 8)];
			uint32_t len = gen_below(s, 40);
			for (uint32_t k = 0; k < len; k++) {
				uint32_t r = gen_below(s, 4);
				w[k] = r == 0 ? RFX_SOH : r == 1 ? '=' : (char)gen_below(s, 256);
			}
			rfx_builder_data(b, lt, rfx_codec_data_tag(lt), w, len);
			/* Record the length field, then the data field. */
			char lv[16];
			uint32_t ll = (uint32_t)rfx_int_format(lv, sizeof lv, len);
			struct gen_field *df = &g->f[g->nf + 1];
			memcpy(df->val, w, len);
			df->len = len;
			df->tag = rfx_codec_data_tag(lt);
			f->tag = lt;
			memcpy(f->val, lv, ll);
			f->len = ll;
			g->nf++;
			break;
		}
		}
		g->nf++;
		if (g->nf + 2 > sizeof g->f / sizeof g->f[0])
			break;
	}
	return rfx_builder_finish(b);
}

#endif
