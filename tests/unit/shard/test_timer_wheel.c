/* shard/timer_wheel: firing rule (never early, at most a tick late), cancel
 * and re-arm from callbacks, far-future deadlines, time jumps and the
 * next-deadline query, checked against a brute-force model. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "shard/timer_wheel.h"

#define MS 1000000ull

static uint64_t rnd_state = 0x1234567;

static uint64_t rnd(void)
{
	uint64_t x = (rnd_state += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

struct rec {
	struct rfx_timer t;
	uint64_t fired_at;
	int fires;
};

static void record(struct rfx_timer *t, uint64_t now, void *arg)
{
	struct rec *r = arg;

	(void)t;
	r->fired_at = now;
	r->fires++;
}

TestSuite(timer_wheel, .timeout = 30);

Test(timer_wheel, rejects_bad_arguments, .timeout = 5)
{
	struct rfx_timer_wheel w;
	struct rfx_timer t;

	cr_expect_eq(rfx_timer_wheel_init(&w, 0, 0), -EINVAL);
	cr_assert_eq(rfx_timer_wheel_init(&w, MS, 0), 0);
	rfx_timer_init(&t, NULL, NULL);
	cr_expect_eq(rfx_timer_wheel_add(&w, &t, 5), -EINVAL);
	cr_expect_eq(rfx_timer_wheel_cancel(&w, &t), 0);
	cr_expect_eq(rfx_timer_wheel_next_deadline(&w), UINT64_MAX);
	rfx_timer_wheel_deinit(NULL);
}

Test(timer_wheel, fires_at_deadline_never_before, .timeout = 5)
{
	struct rfx_timer_wheel w;
	struct rec r = {0};

	cr_assert_eq(rfx_timer_wheel_init(&w, MS, 1000 * MS), 0);
	rfx_timer_init(&r.t, record, &r);
	/* Deadline between ticks: rounds up, so 1004.5 ms fires at >= 1005 ms
	 * (the first tick boundary after the deadline) and not at 1004.9. */
	cr_assert_eq(rfx_timer_wheel_add(&w, &r.t, 1004 * MS + MS / 2), 0);
	cr_expect(rfx_timer_pending(&r.t));
	cr_expect_eq(rfx_timer_wheel_count(&w), 1);
	cr_expect_eq(rfx_timer_wheel_next_deadline(&w), 1005 * MS);
	cr_expect_eq(rfx_timer_wheel_advance(&w, 1004 * MS + MS / 2 - 1), 0);
	cr_expect_eq(rfx_timer_wheel_advance(&w, 1004 * MS + 900000), 0);
	cr_expect_eq(r.fires, 0);
	cr_expect_eq(rfx_timer_wheel_advance(&w, 1005 * MS), 1);
	cr_expect_eq(r.fires, 1);
	cr_expect_eq(r.fired_at, 1005 * MS);
	cr_expect(!rfx_timer_pending(&r.t));
	cr_expect_eq(rfx_timer_wheel_count(&w), 0);
	cr_expect_eq(rfx_timer_wheel_advance(&w, 2000 * MS), 0);
	cr_expect_eq(r.fires, 1);
}

Test(timer_wheel, past_deadline_fires_on_next_advance, .timeout = 5)
{
	struct rfx_timer_wheel w;
	struct rec r = {0};

	cr_assert_eq(rfx_timer_wheel_init(&w, MS, 50 * MS), 0);
	rfx_timer_init(&r.t, record, &r);
	cr_assert_eq(rfx_timer_wheel_add(&w, &r.t, 10 * MS), 0);
	cr_expect_eq(rfx_timer_wheel_next_deadline(&w), 0);
	/* Even with a clock that went backwards. */
	cr_expect_eq(rfx_timer_wheel_advance(&w, 40 * MS), 1);
	cr_expect_eq(r.fires, 1);
}

/* Model check: thousands of timers over all levels, random steps including
 * huge jumps; each must fire exactly once, on the first advance whose time
 * reached its deadline rounded up to a tick. Random cancels and re-arms. */
Test(timer_wheel, many_timers_match_model, .timeout = 60)
{
	enum { N = 20000 };
	static struct rec r[N];
	static uint64_t dl[N];
	static int live[N];
	struct rfx_timer_wheel w;
	uint64_t now = 123456789ull * 1000, prev;
	uint64_t tick = 250000;   /* 0.25 ms: not a divisor-friendly value */
	int expected_fires = 0, total = 0;

	cr_assert_eq(rfx_timer_wheel_init(&w, tick, now), 0);
	for (int i = 0; i < N; i++) {
		rfx_timer_init(&r[i].t, record, &r[i]);
		/* Spread over ~6 orders of magnitude, some beyond the span. */
		uint64_t span = 1000ull << (rnd() % 50);

		dl[i] = now + rnd() % span;
		live[i] = 1;
		cr_assert_eq(rfx_timer_wheel_add(&w, &r[i].t, dl[i]), 0);
	}
	for (int i = 0; i < N; i += 7) {
		cr_expect_eq(rfx_timer_wheel_cancel(&w, &r[i].t), 1);
		live[i] = 0;
	}
	for (int i = 3; i < N; i += 11) {
		dl[i] = now + rnd() % (1000ull * MS);
		live[i] = 1;
		cr_assert_eq(rfx_timer_wheel_add(&w, &r[i].t, dl[i]), 0);
	}
	for (int i = 0; i < N; i++)
		expected_fires += live[i];
	cr_expect_eq(rfx_timer_wheel_count(&w), (uint64_t)expected_fires);

	for (int step = 0; rfx_timer_wheel_count(&w) > 0 && step < 200000; step++) {
		uint64_t nd = rfx_timer_wheel_next_deadline(&w);
		uint64_t k = rnd() % 8;

		prev = now;
		if (k == 0)
			now += rnd() % (1ull << (rnd() % 62));    /* anything, up to huge */
		else if (k < 4 && nd != UINT64_MAX && nd > now)
			now = nd;                                  /* follow the hint */
		else
			now += rnd() % (100 * MS);
		if (now < prev)
			now = UINT64_MAX / 2;  /* wrapped: jump far instead */
		/* Lower-bound property: no timer is due before the hint. */
		for (int i = 0; i < N && nd != UINT64_MAX; i += 97)
			if (live[i] && r[i].fires == 0)
				cr_assert_geq(((dl[i] + tick - 1) / tick) * tick, nd,
					      "timer %d deadline before next_deadline", i);
		total += rfx_timer_wheel_advance(&w, now);
		(void)prev;
	}
	cr_expect_eq(rfx_timer_wheel_count(&w), 0);
	cr_expect_eq(total, expected_fires);
	for (int i = 0; i < N; i++) {
		if (!live[i]) {
			cr_expect_eq(r[i].fires, 0, "cancelled timer %d fired", i);
			continue;
		}
		cr_assert_eq(r[i].fires, 1, "timer %d fired %d times", i, r[i].fires);
		cr_assert_geq(r[i].fired_at, dl[i], "timer %d fired early", i);
	}
}

/* Lateness bound: advancing one tick at a time, each timer fires at the
 * first tick boundary at or after its deadline. */
Test(timer_wheel, fires_within_one_tick, .timeout = 30)
{
	enum { N = 3000 };
	static struct rec r[N];
	static uint64_t dl[N];
	struct rfx_timer_wheel w;
	uint64_t now = 7 * MS;

	cr_assert_eq(rfx_timer_wheel_init(&w, MS, now), 0);
	for (int i = 0; i < N; i++) {
		rfx_timer_init(&r[i].t, record, &r[i]);
		dl[i] = now + rnd() % (300000 * MS);   /* up to 5 minutes: 3 levels */
		rfx_timer_wheel_add(&w, &r[i].t, dl[i]);
	}
	while (rfx_timer_wheel_count(&w) > 0) {
		now += MS;
		rfx_timer_wheel_advance(&w, now);
	}
	for (int i = 0; i < N; i++) {
		uint64_t want = (dl[i] + MS - 1) / MS * MS;

		cr_assert_eq(r[i].fired_at, want, "timer %d at %llu want %llu", i,
			     (unsigned long long)r[i].fired_at, (unsigned long long)want);
	}
}

struct pair {
	struct rfx_timer a, b, c;
	struct rfx_timer_wheel *w;
	int a_fired, b_fired, c_fired;
};

static void a_cancels_b(struct rfx_timer *t, uint64_t now, void *arg)
{
	struct pair *p = arg;

	(void)t;
	(void)now;
	p->a_fired++;
	cr_expect_eq(rfx_timer_wheel_cancel(p->w, &p->b), 1);
	cr_expect_eq(rfx_timer_wheel_cancel(p->w, &p->a), 0);
}

static void b_cb(struct rfx_timer *t, uint64_t now, void *arg)
{
	struct pair *p = arg;

	(void)t;
	(void)now;
	p->b_fired++;
	/* Cancel a, which fires in the same tick. */
	rfx_timer_wheel_cancel(p->w, &p->a);
}

static void c_rearms_now(struct rfx_timer *t, uint64_t now, void *arg)
{
	struct pair *p = arg;

	p->c_fired++;
	rfx_timer_wheel_add(p->w, t, now);
}

Test(timer_wheel, cancel_during_fire, .timeout = 5)
{
	struct rfx_timer_wheel w;
	struct pair p = {.w = &w};

	cr_assert_eq(rfx_timer_wheel_init(&w, MS, 0), 0);
	rfx_timer_init(&p.a, a_cancels_b, &p);
	rfx_timer_init(&p.b, b_cb, &p);
	/* Same tick: whichever fires first cancels the other. */
	rfx_timer_wheel_add(&w, &p.a, 10 * MS);
	rfx_timer_wheel_add(&w, &p.b, 10 * MS);
	cr_expect_eq(rfx_timer_wheel_advance(&w, 10 * MS), 1);
	cr_expect_eq(p.a_fired + p.b_fired, 1);
	cr_expect_eq(rfx_timer_wheel_count(&w), 0);
	cr_expect(!rfx_timer_pending(&p.a) && !rfx_timer_pending(&p.b));
	/* And across ticks of one advance: a (tick 20) cancels b (tick 30). */
	p.a_fired = p.b_fired = 0;
	rfx_timer_wheel_add(&w, &p.a, 20 * MS);
	rfx_timer_wheel_add(&w, &p.b, 30 * MS);
	cr_expect_eq(rfx_timer_wheel_advance(&w, 100 * MS), 1);
	cr_expect_eq(p.a_fired, 1);
	cr_expect_eq(p.b_fired, 0);
}

Test(timer_wheel, rearm_now_does_not_loop, .timeout = 5)
{
	struct rfx_timer_wheel w;
	struct pair p = {.w = &w};

	cr_assert_eq(rfx_timer_wheel_init(&w, MS, 0), 0);
	rfx_timer_init(&p.c, c_rearms_now, &p);
	rfx_timer_wheel_add(&w, &p.c, 5 * MS);
	cr_expect_eq(rfx_timer_wheel_advance(&w, 5 * MS), 1);
	cr_expect_eq(p.c_fired, 1);
	cr_expect(rfx_timer_pending(&p.c));
	cr_expect_eq(rfx_timer_wheel_next_deadline(&w), 0);
	cr_expect_eq(rfx_timer_wheel_advance(&w, 5 * MS), 1);
	cr_expect_eq(p.c_fired, 2);
	rfx_timer_wheel_cancel(&w, &p.c);
	cr_expect_eq(rfx_timer_wheel_count(&w), 0);
}

Test(timer_wheel, rearm_moves_deadline, .timeout = 5)
{
	struct rfx_timer_wheel w;
	struct rec r = {0};

	cr_assert_eq(rfx_timer_wheel_init(&w, MS, 0), 0);
	rfx_timer_init(&r.t, record, &r);
	rfx_timer_wheel_add(&w, &r.t, 3600000 * MS);     /* an hour: level 3 */
	rfx_timer_wheel_add(&w, &r.t, 2 * MS);           /* pulled in */
	cr_expect_eq(rfx_timer_wheel_count(&w), 1);
	cr_expect_eq(rfx_timer_wheel_advance(&w, 2 * MS), 1);
	rfx_timer_wheel_add(&w, &r.t, 3 * MS);
	rfx_timer_wheel_add(&w, &r.t, 90000 * MS);       /* pushed out */
	cr_expect_eq(rfx_timer_wheel_advance(&w, 89999 * MS), 0);
	cr_expect_eq(rfx_timer_wheel_advance(&w, 90000 * MS), 1);
	cr_expect_eq(r.fires, 2);
}

/* A deadline years away (beyond the 2^36-tick span) survives re-filing and
 * fires exactly on time; following next_deadline gets there in few steps. */
Test(timer_wheel, far_future_and_time_jumps, .timeout = 10)
{
	struct rfx_timer_wheel w;
	struct rec far = {0}, near = {0};
	uint64_t now = 1000 * MS, dl = now + 10ull * 365 * 86400 * 1000 * MS;
	int steps = 0;

	cr_assert_eq(rfx_timer_wheel_init(&w, MS, now), 0);
	rfx_timer_init(&far.t, record, &far);
	rfx_timer_init(&near.t, record, &near);
	rfx_timer_wheel_add(&w, &far.t, dl);
	rfx_timer_wheel_add(&w, &near.t, now + 5 * MS);
	/* One jump of a day fires near, not far. */
	cr_expect_eq(rfx_timer_wheel_advance(&w, now + 86400000 * MS), 1);
	cr_expect_eq(near.fires, 1);
	now += 86400000 * MS;
	while (far.fires == 0 && steps < 10000) {
		uint64_t nd = rfx_timer_wheel_next_deadline(&w);

		cr_assert_neq(nd, UINT64_MAX);
		cr_assert_leq(nd, dl);
		if (nd > now)
			now = nd;
		rfx_timer_wheel_advance(&w, now);
		steps++;
	}
	cr_expect_eq(far.fires, 1);
	cr_expect_eq(far.fired_at, dl);
	cr_expect_lt(steps, 400, "took %d steps", steps);
	/* One enormous jump with a timer pending. */
	rfx_timer_wheel_add(&w, &far.t, now + 1234567 * MS);
	cr_expect_eq(rfx_timer_wheel_advance(&w, now + 1000000000ull * MS), 1);
	cr_expect_eq(far.fires, 2);
}

Test(timer_wheel, deinit_detaches_timers, .timeout = 5)
{
	struct rfx_timer_wheel w;
	struct rec r[3] = {0};

	cr_assert_eq(rfx_timer_wheel_init(&w, MS, 0), 0);
	for (int i = 0; i < 3; i++) {
		rfx_timer_init(&r[i].t, record, &r[i]);
		rfx_timer_wheel_add(&w, &r[i].t, (uint64_t)(i * 100000) * MS);
	}
	rfx_timer_wheel_deinit(&w);
	for (int i = 0; i < 3; i++)
		cr_expect(!rfx_timer_pending(&r[i].t));
}
