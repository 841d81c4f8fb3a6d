/*
 * The hot path never allocates. test_engine links with -Wl,--wrap for the
 * allocator entry points, so every call from the engine library or this file
 * goes through the counters below.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "engine/codec.h"
#include "gen.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

static volatile long allocs;

/* Allocations so far; other test files of this executable check their hot paths. */
long noalloc_count(void);
long noalloc_count(void)
{
	return allocs;
}

void *__wrap_malloc(size_t n)
{
	allocs++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	allocs++;
	return __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	allocs++;
	return __real_realloc(p, n);
}

/* A volatile home keeps the compiler from eliding the malloc/free pair. */
static void *volatile keep;

Test(noalloc, counter_sees_allocations, .timeout = 10)
{
	long before = allocs;
	keep = malloc(16);
	cr_expect_eq(allocs, before + 1);
	free(keep);
}

Test(noalloc, frame_parse_build_many_messages, .timeout = 60)
{
	static char buf[8192], out[8192];
	static struct rfx_field fields[128];
	struct rfx_builder b, ob;
	struct rfx_msg m;
	struct gen_msg g;
	struct rfx_header h;
	uint64_t seed = 42;
	long before = allocs, failures = 0;

	rfx_msg_init(&m, fields, 128);
	rfx_header_init(&h);
	h.sender_comp_id = (struct rfx_str){"A", 1};
	h.target_comp_id = (struct rfx_str){"B", 1};
	rfx_builder_init(&ob, "FIX.4.4");
	for (int i = 0; i < 20000; i++) {
		int n = gen_message(&seed, &b, buf, sizeof buf, &g);
		const char *p = rfx_builder_msg(&b);
		size_t skip;
		failures += rfx_codec_frame(p, (size_t)n, NULL, &skip) != n;
		failures += rfx_codec_parse(&m, p, (size_t)n, NULL) < 0;
		int64_t v;
		struct rfx_decimal d;
		rfx_msg_get_int(&m, 34, &v);
		rfx_msg_get_timestamp(&m, 52, &v);
		rfx_msg_get_decimal(&m, 44, &d);
		/* The shard's path: wrap the body that starts at 35=. */
		const struct rfx_field *mt = rfx_msg_hdr(&m, RFX_HDR_MSG_TYPE);
		const char *body = mt->p - 3;
		uint32_t blen = (uint32_t)(m.fields[m.nfields - 1].p - 3 - body);
		h.msg_seq_num = (uint64_t)i + 1;
		h.sending_time = 1704164645000000000LL + i;
		failures += rfx_builder_wrap(&ob, out, sizeof out, &h, body, blen) != 0;
		failures += rfx_builder_finish(&ob) <= 0;
	}
	long used = allocs - before;
	cr_expect_eq(failures, 0);
	cr_expect_eq(used, 0, "%ld heap allocations on the hot path", used);
}
