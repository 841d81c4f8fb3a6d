/*
 * Hierarchical timer wheel for a shard worker's timers (heartbeat, test
 * request, logon/logout timeouts, connect backoff, schedule transitions).
 *
 * Six levels of 64 slots; level L slots are 64^L ticks wide, so the wheel
 * spans 2^36 ticks (795 days at the default 1 ms tick). Timers further out
 * are parked in the top level and re-filed each time that slot comes round,
 * so any 64-bit deadline works.
 *
 * Timer nodes are intrusive and owned by the caller (embed struct rfx_timer
 * in the session or connection); the wheel never allocates. Add and cancel
 * are O(1); advance costs O(1) per elapsed tick plus O(1) per timer fired or
 * moved down a level, and skips runs of empty level-0 slots with a bitmap,
 * so a jump of hours is cheap.
 *
 * Time is whatever monotonic nanosecond clock the caller passes in (the loop
 * passes CLOCK_MONOTONIC, read once per turn); the wheel reads no clock. A
 * timer never fires early: it fires on the first advance whose `now` is at
 * or after its deadline, at most one tick after that deadline was reached.
 *
 * Single-threaded: one wheel belongs to one shard thread. Struct layouts are
 * public so both objects can live in caller storage; use the functions.
 */
#ifndef RFX_SHARD_TIMER_WHEEL_H
#define RFX_SHARD_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define RFX_TW_LEVELS 6
#define RFX_TW_SLOT_BITS 6
#define RFX_TW_SLOTS (1u << RFX_TW_SLOT_BITS)

struct rfx_timer;

/* Called from rfx_timer_wheel_advance() with the timer already detached, so
 * the callback may re-add it, add or cancel any other timer, or let its
 * owner reuse the memory. `now_ns` is the value passed to advance. */
typedef void (*rfx_timer_fn)(struct rfx_timer *t, uint64_t now_ns, void *arg);

struct rfx_timer_link {
	struct rfx_timer_link *next, *prev;
};

struct rfx_timer {
	struct rfx_timer_link link;   /* next == NULL: not pending */
	uint64_t deadline_ns;
	uint64_t expires;             /* deadline in ticks, rounded up */
	rfx_timer_fn fn;
	void *arg;
	uint16_t where;               /* list index, see timer_wheel.c */
};

struct rfx_timer_wheel {
	uint64_t tick_ns;
	uint64_t next_tick;           /* first tick not yet processed */
	uint64_t pending;             /* timers on the wheel */
	uint64_t occupied[RFX_TW_LEVELS];   /* bit s: slot s non-empty */
	struct rfx_timer_link due;          /* deadline already passed when added */
	struct rfx_timer_link firing;       /* being fired by advance */
	struct rfx_timer_link slot[RFX_TW_LEVELS][RFX_TW_SLOTS];
};

/* Prepare a wheel whose tick is `tick_ns` (> 0) nanoseconds, starting at
 * time `now_ns`. Returns 0 or -EINVAL. */
int rfx_timer_wheel_init(struct rfx_timer_wheel *w, uint64_t tick_ns, uint64_t now_ns);

/* Detach every pending timer without calling it (they read as not pending
 * afterwards). NULL-safe. */
void rfx_timer_wheel_deinit(struct rfx_timer_wheel *w);

/* Prepare a timer node (not pending) that will call fn(t, now, arg). */
void rfx_timer_init(struct rfx_timer *t, rfx_timer_fn fn, void *arg);

/* Arm `t` to fire at `deadline_ns`, replacing its previous deadline if it
 * was pending. A deadline at or before the last advance fires on the next
 * advance. Returns 0 or -EINVAL (t not initialised). */
int rfx_timer_wheel_add(struct rfx_timer_wheel *w, struct rfx_timer *t, uint64_t deadline_ns);

/* Disarm `t`. Returns 1 if it was pending, 0 if not (already fired or never
 * armed). Safe from inside any timer callback, including for timers due in
 * the same advance: a cancelled timer does not fire. */
int rfx_timer_wheel_cancel(struct rfx_timer_wheel *w, struct rfx_timer *t);

static inline bool rfx_timer_pending(const struct rfx_timer *t)
{
	return t->link.next != 0;
}

/* Fire every timer whose deadline is at or before `now_ns`, in tick order
 * (same-tick timers in no particular order). Timers added by callbacks with
 * a deadline <= now fire on the next advance, not this one, so a callback
 * that re-arms itself "now" cannot loop. `now_ns` before the previous value
 * is treated as no time passing. Returns the number of timers fired. */
int rfx_timer_wheel_advance(struct rfx_timer_wheel *w, uint64_t now_ns);

/* A time no later than the earliest pending deadline, at which an advance is
 * worth doing (it may only move timers down a level; sleeping until then and
 * asking again is correct). UINT64_MAX when nothing is pending. */
uint64_t rfx_timer_wheel_next_deadline(const struct rfx_timer_wheel *w);

/* Number of pending timers. */
static inline uint64_t rfx_timer_wheel_count(const struct rfx_timer_wheel *w)
{
	return w->pending;
}

#endif
