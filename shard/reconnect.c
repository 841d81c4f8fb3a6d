#include "shard/reconnect.h"

#include <errno.h>
#include <string.h>

static uint64_t next_rand(struct rfx_reconnect *r)
{
	/* xorshift64: jitter only needs to differ between sessions. */
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 7;
	r->rng ^= r->rng << 17;
	return r->rng;
}

static void schedule_round(struct rfx_reconnect *r)
{
	uint64_t d = r->backoff;

	d += (d / 4) * (next_rand(r) % 1024) / 1024;
	rfx_timer_wheel_add(rfx_loop_timers(r->loop), &r->timer, rfx_loop_now_mono(r->loop) + d);
	r->backoff = r->backoff > r->o.max_ns / 2 ? r->o.max_ns : r->backoff * 2;
}

/* After a failed attempt: 1 to try the next host now, 0 if the round is
 * over and the next one is scheduled. */
static int after_failure(struct rfx_reconnect *r)
{
	r->host = (r->host + 1) % r->o.nhosts;
	if (++r->tried < r->o.nhosts)
		return 1;
	r->tried = 0;
	r->host = 0;
	r->rounds_failed++;
	schedule_round(r);
	return 0;
}

static void attempt(struct rfx_reconnect *r)
{
	for (;;) {
		unsigned h = r->host;
		int rc;

		if (r->o.on_attempt)
			r->o.on_attempt(r, h);
		r->attempts++;
		rc = rfx_conn_connect(r->loop, r->conn, (const struct sockaddr *)&r->o.hosts[h],
				      r->o.lens[h], r->o.connect_timeout_ns);
		if (rc == 0 || !after_failure(r))
			return;
	}
}

static void on_timer(struct rfx_timer *t, uint64_t now, void *arg)
{
	struct rfx_reconnect *r = arg;

	(void)t;
	(void)now;
	if (r->running && rfx_conn_state(r->conn) == RFX_CONN_IDLE)
		attempt(r);
}

int rfx_reconnect_init(struct rfx_reconnect *r, struct rfx_loop *l, struct rfx_conn *c,
		       const struct rfx_reconnect_opts *o)
{
	if (!r || !l || !c || !o || o->nhosts == 0 || o->nhosts > RFX_RECONNECT_MAX_HOSTS)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->o = *o;
	if (!r->o.connect_timeout_ns)
		r->o.connect_timeout_ns = 10000000000ull;
	if (!r->o.min_ns)
		r->o.min_ns = 1000000000ull;
	if (!r->o.max_ns)
		r->o.max_ns = 30000000000ull;
	if (r->o.min_ns > r->o.max_ns)
		return -EINVAL;
	r->loop = l;
	r->conn = c;
	r->backoff = r->o.min_ns;
	r->rng = ((uint64_t)(uintptr_t)r * 0x9e3779b97f4a7c15ull) | 1;
	rfx_timer_init(&r->timer, on_timer, r);
	return 0;
}

int rfx_reconnect_start(struct rfx_reconnect *r)
{
	if (r->running)
		return -EALREADY;
	r->running = 1;
	r->host = 0;
	r->tried = 0;
	r->backoff = r->o.min_ns;
	attempt(r);
	return 0;
}

void rfx_reconnect_stop(struct rfx_reconnect *r)
{
	r->running = 0;
	rfx_timer_wheel_cancel(rfx_loop_timers(r->loop), &r->timer);
}

void rfx_reconnect_connected(struct rfx_reconnect *r, int result)
{
	if (!r->running)
		return;
	if (result == 0) {
		r->tried = 0;
		return;
	}
	if (after_failure(r))
		attempt(r);
}

void rfx_reconnect_lost(struct rfx_reconnect *r)
{
	if (!r->running)
		return;
	r->host = 0;
	r->tried = 0;
	schedule_round(r);
}

void rfx_reconnect_established(struct rfx_reconnect *r)
{
	r->backoff = r->o.min_ns;
}
