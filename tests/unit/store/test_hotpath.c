/* The hot path does not allocate per message: count malloc/calloc/realloc
 * made by this thread while appending inside a batch (LMDB included), after a
 * warm-up. Our code allocates nothing; LMDB 0.9 allocates its reusable-page
 * list (mdb_midl_alloc) once per write transaction, when the first page of
 * the transaction is taken from the free list - once per loop turn, not per
 * message.
 * Interposing malloc is impossible under AddressSanitizer, which owns it:
 * there the test skips. */
#include <criterion/criterion.h>

#include "engine/error.h"
#include "helpers.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_COUNTER 0
#else
#define HAVE_COUNTER 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);

static __thread int counting;
static __thread unsigned long allocs;

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);

void *malloc(size_t n)
{
	allocs += (unsigned long)counting;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	allocs += (unsigned long)counting;
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	allocs += (unsigned long)counting;
	return __libc_realloc(p, n);
}
#endif

static char root[512];

static void setup(void)
{
	th_tmpdir(root, sizeof(root));
	cr_assert(root[0], "mkdtemp failed");
}

static void teardown(void)
{
	th_rmtree(root);
}

TestSuite(hotpath, .init = setup, .fini = teardown, .timeout = 60);

Test(hotpath, appends_do_not_allocate_per_message)
{
#if !HAVE_COUNTER
	cr_skip_test("malloc cannot be interposed under AddressSanitizer");
#else
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s;
	struct rfx_store_session *a, *b;
	char buf[256];
	uint64_t seq = 1;
	unsigned long in_append = 0, in_commit = 0;

	o.map_size = 256 << 20; /* growth allocates nothing either, but keep it out */
	cr_assert_eq(rfx_store_open(&s, &o, NULL, 0), 0);
	cr_assert_eq(rfx_store_session_open(s, "FIX.4.4:A->B", 12, 0, &a), 0);
	cr_assert_eq(rfx_store_session_open(s, "FIX.4.4:C->D", 12, 0, &b), 0);
	for (int round = 0; round < 2; round++) {
		/* round 0 warms LMDB's page buffers up; round 1 counts. */
		for (int batch = 0; batch < 200; batch++) {
			cr_assert_eq(rfx_store_begin(s), 0);
			for (int i = 0; i < 256; i++, seq++) {
				size_t n = th_payload(buf, sizeof(buf), 1, 0, seq);
				counting = round;
				int rc = rfx_store_append(s, i & 1 ? a : b, RFX_STORE_OUT, seq, buf, n);
				counting = 0;
				cr_assert_eq(rc, 0);
			}
			unsigned long before = allocs;
			counting = round;
			cr_assert_eq(rfx_store_commit(s), 0);
			counting = 0;
			in_commit += allocs - before;
		}
		if (round == 1)
			in_append = allocs - in_commit;
	}
	cr_log_info("allocations: %lu in 51200 appends, %lu in 200 commits", in_append,
		    in_commit);
	cr_expect_leq(in_append, 200, "%lu allocations in 51200 appends: more than one per "
		      "transaction", in_append);
	cr_expect_leq(in_commit, 200, "%lu allocations in 200 commits", in_commit);
	rfx_store_close(s);
#endif
}
