/* The supervisor -> shard command mailbox (see mailbox.h for the protocol). */
#include <string.h>

#include "shm/mailbox.h"

_Static_assert(offsetof(struct rfx_mailbox, ack) == 128, "mailbox: answer on its own line");
_Static_assert(sizeof(struct rfx_mailbox) == 384, "mailbox size");

/* The other process writes these bytes whenever it likes: copy through a
 * volatile view, once, and terminate. */
static void copy_str(char *dst, const volatile char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i];
	dst[n - 1] = '\0';
}

uint64_t rfx_mailbox_post(struct rfx_mailbox *mb, uint32_t op, const char *session)
{
	volatile struct rfx_mailbox *v = mb;
	uint64_t seq = atomic_load_explicit(&mb->req, memory_order_relaxed) + 1;
	size_t len = strnlen(session, RFX_MAILBOX_SESSION_MAX - 1);

	if (seq == 0)
		seq = 1;
	v->op = op;
	for (size_t i = 0; i < RFX_MAILBOX_SESSION_MAX; i++)
		v->session[i] = i < len ? session[i] : '\0';
	/* Release: a shard whose acquire load sees seq sees the fields above. */
	atomic_store_explicit(&mb->req, seq, memory_order_release);
	return seq;
}

int rfx_mailbox_answer(const struct rfx_mailbox *mb, uint64_t seq, int32_t *result,
		       char *text, size_t n)
{
	const volatile struct rfx_mailbox *v = mb;

	if (atomic_load_explicit(&((struct rfx_mailbox *)mb)->ack, memory_order_acquire) != seq)
		return 0;
	*result = v->result;
	if (text && n) {
		size_t k = n < RFX_MAILBOX_TEXT_MAX ? n : RFX_MAILBOX_TEXT_MAX;
		copy_str(text, v->text, k);
	}
	return 1;
}

uint64_t rfx_mailbox_last(const struct rfx_mailbox *mb)
{
	return atomic_load_explicit(&((struct rfx_mailbox *)mb)->ack, memory_order_acquire);
}

int rfx_mailbox_take(const struct rfx_mailbox *mb, uint64_t *last, struct rfx_mailbox_req *out)
{
	_Atomic uint64_t *req = &((struct rfx_mailbox *)mb)->req;
	const volatile struct rfx_mailbox *v = mb;
	uint64_t seq = atomic_load_explicit(req, memory_order_acquire);

	if (seq == *last)
		return 0;
	for (int tries = 0; tries < 16; tries++) {
		out->seq = seq;
		out->op = v->op;
		copy_str(out->session, v->session, sizeof(out->session));
		/* The supervisor re-posts only after giving up on a request; if
		 * it did while we copied, take the newer one. */
		atomic_thread_fence(memory_order_acquire);
		uint64_t again = atomic_load_explicit(req, memory_order_acquire);
		if (again == seq) {
			*last = seq;
			return 1;
		}
		seq = again;
	}
	return 0;
}

void rfx_mailbox_reply(struct rfx_mailbox *mb, uint64_t seq, int32_t result, const char *text)
{
	volatile struct rfx_mailbox *v = mb;
	size_t len = text ? strnlen(text, RFX_MAILBOX_TEXT_MAX - 1) : 0;

	v->result = result;
	for (size_t i = 0; i < RFX_MAILBOX_TEXT_MAX; i++)
		v->text[i] = i < len ? text[i] : '\0';
	atomic_store_explicit(&mb->ack, seq, memory_order_release);
}
