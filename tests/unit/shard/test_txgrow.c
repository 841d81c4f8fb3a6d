/* shard/conn growable send buffers (rfx_conn_tx_growable) over a real
 * socketpair: nothing allocated before the first send, growth by doubling
 * (also while a send is in flight, which must keep reading the old buffer),
 * the shrink back to the small size once drained, the cap, and the release
 * on close. Every byte the other end reads is checked. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/error.h"
#include "shard/conn.h"
#include "shard/loop.h"

#define MIN 4096u
#define MAX (256u << 10)

static uint8_t pat(uint64_t i)
{
	return (uint8_t)(i * 131u + (i >> 9));
}

struct g {
	struct rfx_loop *l;
	struct rfx_conn c;
	int peer;                 /* the other end, read by the test */
	uint64_t sent, got, bad;
	int closed;
};

static void g_closed(struct rfx_conn *c, int reason)
{
	struct g *g = c->user;
	(void)reason;
	g->closed = 1;
}

static const struct rfx_conn_ops g_ops = {.on_closed = g_closed};

static void setup(struct g *g, unsigned flags)
{
	struct rfx_loop_opts o;
	int sv[2];

	memset(g, 0, sizeof(*g));
	memset(&o, 0, sizeof(o));
	o.flags = flags;
	int rc = rfx_loop_new(&g->l, &o);
	if (rc == -ENOSYS || rc == -EPERM || rc == -EOPNOTSUPP)
		cr_skip_test("io_uring unavailable here: %s", rfx_strerror(rc));
	cr_assert_eq(rc, 0);
	/* The loop's end stays blocking (io_uring waits for room); the test's
	 * end is read without blocking. */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
	g->peer = sv[1];
	rfx_conn_init(&g->c, &g_ops, g, NULL, 0);
	cr_assert_eq(rfx_conn_tx_growable(&g->c, MIN, MAX), 0);
	cr_assert_eq(rfx_conn_adopt(g->l, &g->c, sv[0]), 0);
}

static void teardown(struct g *g)
{
	rfx_loop_free(g->l);
	cr_expect_null(g->c.tx_buf, "rfx_loop_free releases the buffer");
	close(g->peer);
}

static int send_n(struct g *g, uint32_t n)
{
	uint8_t *tmp = malloc(n);
	cr_assert_not_null(tmp);
	for (uint32_t i = 0; i < n; i++)
		tmp[i] = pat(g->sent + i);
	int rc = rfx_conn_send(&g->c, tmp, n);
	if (rc == 0)
		g->sent += n;
	free(tmp);
	return rc;
}

static void drain_peer(struct g *g)
{
	uint8_t buf[65536];
	ssize_t k;
	while ((k = read(g->peer, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < k; i++)
			g->bad += buf[i] != pat(g->got + (uint64_t)i);
		g->got += (uint64_t)k;
	}
}

/* Turn and read until everything sent has arrived and been acknowledged. */
static void flush_all(struct g *g)
{
	for (int i = 0; i < 100000 && (g->got < g->sent || rfx_conn_queued(&g->c)); i++) {
		cr_assert_geq(rfx_loop_turn(g->l, 0), 0);
		drain_peer(g);
	}
	cr_assert_eq(g->got, g->sent);
	cr_assert_eq(g->bad, 0, "bytes arrived corrupted or out of order");
	/* One more turn for the last completion. */
	rfx_loop_turn(g->l, 0);
}

static void grow_and_shrink(unsigned flags)
{
	struct g g;
	setup(&g, flags);
	cr_expect_null(g.c.tx_buf, "nothing allocated before the first send");
	cr_assert_eq(send_n(&g, 100), 0);
	cr_expect_eq(g.c.tx_cap, MIN);
	/* 100 KiB in one turn: no send in flight, the buffer doubles. */
	for (int i = 0; i < 100; i++)
		cr_assert_eq(send_n(&g, 1024), 0);
	cr_expect_eq(g.c.tx_cap, 128u << 10, "cap %u", g.c.tx_cap);
	cr_expect_null(g.c.tx_old);
	flush_all(&g);
	cr_expect_eq(g.c.tx_cap, MIN, "back to the small size when drained (cap %u)", g.c.tx_cap);
	const struct rfx_loop_stats *st = rfx_loop_stats(g.l);
	cr_expect_geq(st->tx_grows, 5);
	cr_expect_geq(st->tx_shrinks, 1);
	teardown(&g);
}

Test(txgrow, grows_and_shrinks, .timeout = 20)
{
	grow_and_shrink(0);
}

Test(txgrow, grows_and_shrinks_fallback, .timeout = 20)
{
	grow_and_shrink(RFX_LOOP_F_FALLBACK);
}

/* A send is in flight from the small buffer when it must grow: the new
 * buffer keeps the offsets, the old one lives until that send completes. */
Test(txgrow, grows_while_a_send_is_in_flight, .timeout = 20)
{
	struct g g;
	setup(&g, 0);
	cr_assert_eq(send_n(&g, 3000), 0);
	cr_assert_geq(rfx_loop_turn(g.l, 0), 0);   /* submits the send */
	if (g.c.tx_inflight == 0)
		cr_skip_test("the send completed within the turn");
	uint8_t *small = g.c.tx_buf;
	cr_assert_eq(send_n(&g, 20000), 0);
	cr_expect_eq(g.c.tx_old, small, "the buffer being sent is kept");
	cr_expect_neq(g.c.tx_buf, small);
	cr_expect_geq(g.c.tx_cap, 32u << 10);
	/* Growing again while the same send is in flight frees the middle one. */
	cr_assert_eq(send_n(&g, 60000), 0);
	cr_expect_eq(g.c.tx_old, small);
	flush_all(&g);
	cr_expect_null(g.c.tx_old, "freed when the send completed");
	cr_expect_eq(g.c.tx_cap, MIN);
	teardown(&g);
}

/* The cap: one message above it is -EMSGSIZE; a peer that does not read
 * fills the buffer up to the cap, then RFX_ETXFULL; reading resumes. */
Test(txgrow, stops_at_the_cap, .timeout = 20)
{
	struct g g;
	int sz = 4096;
	setup(&g, 0);
	setsockopt(g.c.fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	cr_expect_eq(send_n(&g, MAX + 1), -EMSGSIZE);
	int rc = 0;
	for (int i = 0; i < 2000 && rc == 0; i++) {
		rc = send_n(&g, 8000);
		rfx_loop_turn(g.l, 0);
	}
	cr_expect_eq(rc, RFX_ETXFULL, "got %d", rc);
	cr_expect_eq(g.c.tx_cap, MAX);
	cr_expect_gt(g.c.tx_tail + 8000, MAX, "full up to the cap");
	flush_all(&g);
	cr_expect_eq(g.c.tx_cap, MIN);
	teardown(&g);
}

/* Closing releases the buffer; the conn can be used again. */
Test(txgrow, released_on_close, .timeout = 20)
{
	struct g g;
	setup(&g, 0);
	cr_assert_eq(send_n(&g, 50000), 0);
	cr_assert_eq(rfx_conn_close(&g.c, 0), 0);
	for (int i = 0; i < 10000 && !g.closed; i++)
		rfx_loop_turn(g.l, 0);
	cr_assert(g.closed);
	cr_expect_null(g.c.tx_buf);
	cr_expect_null(g.c.tx_old);
	cr_expect_eq(g.c.tx_cap, 0);
	teardown(&g);
}
