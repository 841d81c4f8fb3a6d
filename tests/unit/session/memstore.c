#include "memstore.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct memstore *of(void *ctx)
{
	return ((struct memstore_ctx *)ctx)->store;
}

void memstore_init(struct memstore *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->next_sender = ms->next_target = 1;
}

static void drop_msgs(struct memstore *ms)
{
	for (size_t i = 0; i < ms->cap; i++)
		free(ms->msgs[i]);
	free(ms->msgs);
	free(ms->lens);
	ms->msgs = NULL;
	ms->lens = NULL;
	ms->cap = 0;
}

void memstore_free(struct memstore *ms)
{
	drop_msgs(ms);
}

void memstore_bind(struct rfx_session_ops *ops)
{
	ops->store_get_seqs = memstore_get_seqs;
	ops->store_set_seqs = memstore_set_seqs;
	ops->store_put = memstore_put;
	ops->store_range = memstore_range;
	ops->store_reset = memstore_reset;
}

int memstore_get_seqs(void *ctx, uint64_t *ns, uint64_t *nt)
{
	struct memstore *ms = of(ctx);
	*ns = ms->next_sender;
	*nt = ms->next_target;
	return 0;
}

int memstore_set_seqs(void *ctx, uint64_t ns, uint64_t nt)
{
	struct memstore *ms = of(ctx);
	ms->next_sender = ns;
	ms->next_target = nt;
	return 0;
}

int memstore_put(void *ctx, uint64_t seq, const char *msg, size_t len)
{
	struct memstore *ms = of(ctx);
	if (ms->fail_put)
		return -EIO;
	if (seq >= 1u << 24)
		return -ERANGE;
	if (seq >= ms->cap) {
		size_t cap = ms->cap ? ms->cap : 64;
		while (cap <= seq)
			cap *= 2;
		char **m = realloc(ms->msgs, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		ms->msgs = m;
		size_t *l = realloc(ms->lens, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		ms->lens = l;
		memset(ms->msgs + ms->cap, 0, (cap - ms->cap) * sizeof(*m));
		memset(ms->lens + ms->cap, 0, (cap - ms->cap) * sizeof(*l));
		ms->cap = cap;
	}
	char *copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, msg, len);
	free(ms->msgs[seq]);
	ms->msgs[seq] = copy;
	ms->lens[seq] = len;
	return 0;
}

int memstore_range(void *ctx, uint64_t begin, uint64_t end, rfx_session_stored_fn fn, void *it)
{
	struct memstore *ms = of(ctx);
	for (uint64_t s = begin; s <= end && s < ms->cap; s++)
		if (ms->msgs[s] && fn(it, s, ms->msgs[s], ms->lens[s]))
			break;
	return 0;
}

int memstore_reset(void *ctx)
{
	struct memstore *ms = of(ctx);
	drop_msgs(ms);
	ms->next_sender = ms->next_target = 1;
	ms->resets++;
	return 0;
}
