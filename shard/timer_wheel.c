#include "shard/timer_wheel.h"

#include <errno.h>
#include <stddef.h>

/* Where a pending timer is filed: level * RFX_TW_SLOTS + slot, or one of: */
#define WHERE_DUE 0xfffeu
#define WHERE_FIRING 0xfffdu

#define SLOT_MASK ((uint64_t)RFX_TW_SLOTS - 1)
#define SPAN_BITS (RFX_TW_LEVELS * RFX_TW_SLOT_BITS)   /* 36: ticks the wheel spans */

static void list_init(struct rfx_timer_link *h)
{
	h->next = h->prev = h;
}

static bool list_empty(const struct rfx_timer_link *h)
{
	return h->next == h;
}

static void list_add_tail(struct rfx_timer_link *h, struct rfx_timer_link *n)
{
	n->prev = h->prev;
	n->next = h;
	h->prev->next = n;
	h->prev = n;
}

/* Move all of `from` onto the empty list `to` (both heads stay valid). */
static void list_splice_init(struct rfx_timer_link *from, struct rfx_timer_link *to)
{
	if (list_empty(from)) {
		list_init(to);
		return;
	}
	to->next = from->next;
	to->prev = from->prev;
	to->next->prev = to;
	to->prev->next = to;
	list_init(from);
}

static struct rfx_timer *timer_of(struct rfx_timer_link *l)
{
	return (struct rfx_timer *)((char *)l - offsetof(struct rfx_timer, link));
}

static struct rfx_timer_link *head_of(struct rfx_timer_wheel *w, uint16_t where)
{
	if (where == WHERE_DUE)
		return &w->due;
	if (where == WHERE_FIRING)
		return &w->firing;
	return &w->slot[where / RFX_TW_SLOTS][where % RFX_TW_SLOTS];
}

static void unlink_timer(struct rfx_timer_wheel *w, struct rfx_timer *t)
{
	struct rfx_timer_link *h = head_of(w, t->where);

	t->link.prev->next = t->link.next;
	t->link.next->prev = t->link.prev;
	t->link.next = t->link.prev = NULL;
	w->pending--;
	/* Slot bitmaps must stay exact: advance and next_deadline trust them. */
	if (t->where < WHERE_FIRING && list_empty(h))
		w->occupied[t->where / RFX_TW_SLOTS] &= ~(1ull << (t->where % RFX_TW_SLOTS));
}

/* File `t` by its expiry relative to w->next_tick (classic cascading wheel:
 * the level is chosen by distance, the slot by the absolute expiry, so a
 * slot at level L is emptied exactly when the ticks it covers begin). */
static void file_timer(struct rfx_timer_wheel *w, struct rfx_timer *t)
{
	uint64_t e = t->expires, next = w->next_tick, delta;
	unsigned level = 0;

	if (e < next) {
		t->where = WHERE_DUE;
		list_add_tail(&w->due, &t->link);
		w->pending++;
		return;
	}
	delta = e - next;
	if (delta >> SPAN_BITS) {
		/* Beyond the span: park in the furthest top-level slot; it is
		 * re-filed from its true expiry when that slot comes round. */
		e = next + (1ull << SPAN_BITS) - 1;
		delta = e - next;
	}
	while (level + 1 < RFX_TW_LEVELS && (delta >> ((level + 1) * RFX_TW_SLOT_BITS)))
		level++;
	unsigned s = (unsigned)((e >> (level * RFX_TW_SLOT_BITS)) & SLOT_MASK);
	t->where = (uint16_t)(level * RFX_TW_SLOTS + s);
	list_add_tail(&w->slot[level][s], &t->link);
	w->occupied[level] |= 1ull << s;
	w->pending++;
}

int rfx_timer_wheel_init(struct rfx_timer_wheel *w, uint64_t tick_ns, uint64_t now_ns)
{
	if (!w || tick_ns == 0)
		return -EINVAL;
	w->tick_ns = tick_ns;
	w->next_tick = now_ns / tick_ns + 1;
	w->pending = 0;
	list_init(&w->due);
	list_init(&w->firing);
	for (unsigned l = 0; l < RFX_TW_LEVELS; l++) {
		w->occupied[l] = 0;
		for (unsigned s = 0; s < RFX_TW_SLOTS; s++)
			list_init(&w->slot[l][s]);
	}
	return 0;
}

static void drain_list(struct rfx_timer_link *h)
{
	while (!list_empty(h)) {
		struct rfx_timer_link *n = h->next;

		h->next = n->next;
		n->next = n->prev = NULL;
	}
	list_init(h);
}

void rfx_timer_wheel_deinit(struct rfx_timer_wheel *w)
{
	if (!w)
		return;
	drain_list(&w->due);
	drain_list(&w->firing);
	for (unsigned l = 0; l < RFX_TW_LEVELS; l++) {
		for (unsigned s = 0; s < RFX_TW_SLOTS; s++)
			drain_list(&w->slot[l][s]);
		w->occupied[l] = 0;
	}
	w->pending = 0;
}

void rfx_timer_init(struct rfx_timer *t, rfx_timer_fn fn, void *arg)
{
	t->link.next = t->link.prev = NULL;
	t->deadline_ns = 0;
	t->expires = 0;
	t->fn = fn;
	t->arg = arg;
	t->where = 0;
}

int rfx_timer_wheel_add(struct rfx_timer_wheel *w, struct rfx_timer *t, uint64_t deadline_ns)
{
	if (!w || !t || !t->fn)
		return -EINVAL;
	if (rfx_timer_pending(t))
		unlink_timer(w, t);
	t->deadline_ns = deadline_ns;
	/* Round up: a timer must never fire before its deadline. */
	t->expires = deadline_ns / w->tick_ns + (deadline_ns % w->tick_ns != 0);
	file_timer(w, t);
	return 0;
}

int rfx_timer_wheel_cancel(struct rfx_timer_wheel *w, struct rfx_timer *t)
{
	if (!t || !rfx_timer_pending(t))
		return 0;
	unlink_timer(w, t);
	return 1;
}

/* Fire everything on w->firing. Callbacks may cancel entries still on it
 * (they unlink from w->firing like from any slot) or add new timers. */
static int fire_list(struct rfx_timer_wheel *w, uint64_t now_ns)
{
	int n = 0;

	while (!list_empty(&w->firing)) {
		struct rfx_timer *t = timer_of(w->firing.next);

		unlink_timer(w, t);
		t->fn(t, now_ns, t->arg);
		n++;
	}
	return n;
}

static void cascade(struct rfx_timer_wheel *w, unsigned level, unsigned s)
{
	struct rfx_timer_link tmp;

	list_splice_init(&w->slot[level][s], &tmp);
	w->occupied[level] &= ~(1ull << s);
	while (!list_empty(&tmp)) {
		struct rfx_timer_link *l = tmp.next;

		tmp.next = l->next;
		l->next->prev = &tmp;
		w->pending--;
		file_timer(w, timer_of(l));
	}
}

/* Occupancy bits as seen from slot `pos`: bit i is slot (pos + i) % 64. */
static uint64_t rot(uint64_t bits, unsigned pos)
{
	return pos ? (bits >> pos) | (bits << (RFX_TW_SLOTS - pos)) : bits;
}

/* The first tick >= next_tick at which a slot holding timers is processed:
 * fired (level 0) or emptied into lower levels (level L, on multiples of
 * 64^L). UINT64_MAX if all slots are empty. Every tick in between would only
 * visit empty slots, which is what lets advance jump over them. */
static uint64_t next_event_tick(const struct rfx_timer_wheel *w)
{
	uint64_t best = UINT64_MAX, next = w->next_tick;

	if (w->occupied[0])
		best = next + (uint64_t)__builtin_ctzll(rot(w->occupied[0], (unsigned)(next & SLOT_MASK)));
	for (unsigned l = 1; l < RFX_TW_LEVELS; l++) {
		unsigned shift = l * RFX_TW_SLOT_BITS;
		uint64_t width = 1ull << shift, b;

		if (!w->occupied[l])
			continue;
		b = (next + width - 1) & ~(width - 1);
		b += (uint64_t)__builtin_ctzll(rot(w->occupied[l], (unsigned)((b >> shift) & SLOT_MASK))) * width;
		if (b < best)
			best = b;
	}
	return best;
}

int rfx_timer_wheel_advance(struct rfx_timer_wheel *w, uint64_t now_ns)
{
	uint64_t target = now_ns / w->tick_ns;
	int fired = 0;

	if (!list_empty(&w->due)) {
		list_splice_init(&w->due, &w->firing);
		for (struct rfx_timer_link *l = w->firing.next; l != &w->firing; l = l->next)
			timer_of(l)->where = WHERE_FIRING;
		fired += fire_list(w, now_ns);
	}
	while (w->next_tick <= target) {
		uint64_t t = next_event_tick(w);
		unsigned s;

		if (t > target) {
			w->next_tick = target + 1;
			break;
		}
		s = (unsigned)(t & SLOT_MASK);
		w->next_tick = t;   /* cascades file relative to this tick */
		for (unsigned l = 1; s == 0 && l < RFX_TW_LEVELS; l++) {
			unsigned ls = (unsigned)((t >> (l * RFX_TW_SLOT_BITS)) & SLOT_MASK);

			cascade(w, l, ls);
			if (ls)
				break;
		}
		list_splice_init(&w->slot[0][s], &w->firing);
		w->occupied[0] &= ~(1ull << s);
		for (struct rfx_timer_link *l = w->firing.next; l != &w->firing; l = l->next)
			timer_of(l)->where = WHERE_FIRING;
		/* Before the callbacks: a timer they add for tick t lands in
		 * the due list, not in the slot just emptied. */
		w->next_tick = t + 1;
		fired += fire_list(w, now_ns);
	}
	return fired;
}

uint64_t rfx_timer_wheel_next_deadline(const struct rfx_timer_wheel *w)
{
	uint64_t best;

	if (!list_empty(&w->due) || !list_empty(&w->firing))
		return 0;
	best = next_event_tick(w);
	if (best == UINT64_MAX)
		return UINT64_MAX;
	if (best > UINT64_MAX / w->tick_ns)
		return UINT64_MAX - 1;
	return best * w->tick_ns;
}
