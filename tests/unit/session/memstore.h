/*
 * In-memory message store for session tests and the conformance replay (the
 * role QuickFIX's MemoryStore plays): sequence numbers and outbound messages
 * by MsgSeqNum, behind the store callbacks of struct rfx_session_ops.
 * Test code only: it allocates.
 */
#ifndef RFX_TESTS_MEMSTORE_H
#define RFX_TESTS_MEMSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/session.h"

struct memstore {
	uint64_t next_sender, next_target;
	char **msgs;    /* msgs[seq], NULL = not stored */
	size_t *lens;
	size_t cap;     /* entries of msgs/lens */
	unsigned resets;
	int fail_put;   /* > 0: store_put fails (to test store errors) */
};

void memstore_init(struct memstore *ms);
void memstore_free(struct memstore *ms);
/* Points the store callbacks of ops at ms; the caller's ops->ctx must be a
 * pointer whose first member is a struct memstore * (see memstore_of). */
void memstore_bind(struct rfx_session_ops *ops);

/* The ops context of every test harness starts with this. */
struct memstore_ctx {
	struct memstore *store;
};

int memstore_get_seqs(void *ctx, uint64_t *ns, uint64_t *nt);
int memstore_set_seqs(void *ctx, uint64_t ns, uint64_t nt);
int memstore_put(void *ctx, uint64_t seq, const char *msg, size_t len);
int memstore_range(void *ctx, uint64_t begin, uint64_t end, rfx_session_stored_fn fn, void *it);
int memstore_reset(void *ctx);

#endif
