/* shard/loop + shard/conn over real loopback sockets: echo, many
 * connections, coalescing and short sends, peer reset, connect refused and
 * timed out, closing with operations in flight, receive-buffer exhaustion,
 * timers and idle strategies. Every socket test runs twice: on the best path
 * this kernel offers and on the forced fallback (plain setup, single-shot
 * accept and receive). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/error.h"
#include "shard/conn.h"
#include "shard/loop.h"

#define MS 1000000ull

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint8_t pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = (seed + i) * 0x9e3779b97f4a7c15ull;

	return (uint8_t)(x >> 56);
}

/* A loop for one test, or skip when this machine has no usable io_uring. */
static struct rfx_loop *new_loop(unsigned flags, struct rfx_loop_opts *o)
{
	struct rfx_loop_opts d;
	struct rfx_loop *l = NULL;
	int rc;

	if (!o) {
		memset(&d, 0, sizeof(d));
		o = &d;
	}
	o->flags |= flags;
	rc = rfx_loop_new(&l, o);
	if (rc == -ENOSYS || rc == -EPERM || rc == -EOPNOTSUPP)
		cr_skip_test("io_uring unavailable here: %s", rfx_strerror(rc));
	cr_assert_eq(rc, 0, "rfx_loop_new: %s", rfx_strerror(rc));
	if (flags & RFX_LOOP_F_FALLBACK)
		cr_assert_eq(rfx_loop_features(l) & (RFX_LOOP_HAS_DEFER | RFX_LOOP_HAS_MS_ACCEPT |
						      RFX_LOOP_HAS_MS_RECV), 0u);
	return l;
}

/* Turn the loop until *flag is set; fail after timeout_ms. */
static void run_until(struct rfx_loop *l, const volatile int *flag, unsigned timeout_ms)
{
	uint64_t end = mono() + timeout_ms * MS;

	while (!*flag) {
		int n = rfx_loop_turn(l, 0);

		cr_assert_geq(n, 0, "turn: %s", rfx_strerror(n));
		cr_assert_lt(mono(), end, "timed out after %u ms", timeout_ms);
	}
}

/* Run a few more turns so late completions arrive. */
static void settle(struct rfx_loop *l, unsigned ms)
{
	uint64_t end = mono() + ms * MS;

	while (mono() < end)
		rfx_loop_turn(l, 0);
}

static socklen_t loopback(struct sockaddr_storage *ss, int family, int port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons((uint16_t)port);
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons((uint16_t)port);
	return sizeof(*a);
}

/* ---- an echo server and counting clients --------------------------- */

#define MAXP 160
#define TXCAP 65536

struct peer {
	struct rfx_conn c;
	uint8_t tx[TXCAP];
	uint64_t rx_bytes, tx_bytes, rx_bad;
	uint64_t seed;
	int connected, connect_result, closed, close_reason;
	int sndbuf;   /* server side: SO_SNDBUF for accepted sockets */
};

struct world {
	struct rfx_loop *l;
	struct rfx_conn listener;
	struct peer srv[MAXP], cli[MAXP];
	int nsrv, accepted, srv_closed, cli_closed, cli_connected;
	int echo;
	int sndbuf;
	volatile int done;
	uint64_t want_bytes;   /* per client */
	int nclients, finished;
};

static struct world W;

static void srv_data(struct rfx_conn *c, const uint8_t *p, uint32_t n)
{
	struct peer *s = c->user;

	s->rx_bytes += n;
	if (W.echo)
		cr_assert_eq(rfx_conn_send(c, p, n), 0, "echo send");
}

static void srv_closed(struct rfx_conn *c, int reason)
{
	struct peer *s = c->user;

	s->closed = 1;
	s->close_reason = reason;
	W.srv_closed++;
}

static const struct rfx_conn_ops srv_ops = {
	.on_data = srv_data,
	.on_closed = srv_closed,
};

static struct rfx_conn *on_accept(struct rfx_conn *lc, int fd)
{
	struct peer *s;

	(void)lc;
	if (W.nsrv >= MAXP)
		return NULL;
	s = &W.srv[W.nsrv++];
	rfx_conn_init(&s->c, &srv_ops, s, s->tx, TXCAP);
	if (W.sndbuf)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &W.sndbuf, sizeof(W.sndbuf));
	W.accepted++;
	return &s->c;
}

static const struct rfx_conn_ops listen_ops = {
	.on_accept = on_accept,
};

static void cli_connect(struct rfx_conn *c, int result)
{
	struct peer *p = c->user;

	p->connected = 1;
	p->connect_result = result;
	W.cli_connected++;
}

static void cli_data(struct rfx_conn *c, const uint8_t *d, uint32_t n)
{
	struct peer *p = c->user;

	for (uint32_t i = 0; i < n; i++)
		if (d[i] != pattern(p->seed, p->rx_bytes + i))
			p->rx_bad++;
	p->rx_bytes += n;
	if (p->rx_bytes >= W.want_bytes && W.want_bytes) {
		if (++W.finished == W.nclients)
			W.done = 1;
	}
}

static void cli_closed(struct rfx_conn *c, int reason)
{
	struct peer *p = c->user;

	p->closed = 1;
	p->close_reason = reason;
	W.cli_closed++;
}

static const struct rfx_conn_ops cli_ops = {
	.on_connect = cli_connect,
	.on_data = cli_data,
	.on_closed = cli_closed,
};

static int start_listener(int family)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, family, 0);
	int rc;

	rfx_conn_init(&W.listener, &listen_ops, NULL, NULL, 0);
	rc = rfx_conn_listen(W.l, &W.listener, (struct sockaddr *)&ss, len, 128);
	if (rc == -EAFNOSUPPORT || rc == -EADDRNOTAVAIL)
		cr_skip_test("no %s loopback here", family == AF_INET6 ? "IPv6" : "IPv4");
	cr_assert_eq(rc, 0, "listen: %s", rfx_strerror(rc));
	rc = rfx_conn_local_port(&W.listener);
	cr_assert_gt(rc, 0);
	return rc;
}

static void connect_client(struct peer *p, int family, int port, uint64_t seed)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, family, port);

	memset(p, 0, sizeof(*p));
	p->seed = seed;
	rfx_conn_init(&p->c, &cli_ops, p, p->tx, TXCAP);
	cr_assert_eq(rfx_conn_connect(W.l, &p->c, (struct sockaddr *)&ss, len, 2000 * MS), 0);
}

/* Send bytes [p->tx_bytes, limit) of p's pattern in chunks of up to `chunk`. */
static void pump(struct peer *p, uint64_t limit, uint32_t chunk)
{
	uint8_t tmp[4096];

	while (p->tx_bytes < limit) {
		uint32_t n = chunk;

		if (n > sizeof(tmp))
			n = sizeof(tmp);
		if (n > limit - p->tx_bytes)
			n = (uint32_t)(limit - p->tx_bytes);
		for (uint32_t i = 0; i < n; i++)
			tmp[i] = pattern(p->seed, p->tx_bytes + i);
		int rc = rfx_conn_send(&p->c, tmp, n);

		if (rc == RFX_ETXFULL)
			return;
		cr_assert_eq(rc, 0, "send: %s", rfx_strerror(rc));
		p->tx_bytes += n;
	}
}

#define BOTH(name, to)                                                        \
	static void name##_body(unsigned flags);                              \
	Test(loop, name, .timeout = to) { name##_body(0); }                   \
	Test(loop_fallback, name, .timeout = to) { name##_body(RFX_LOOP_F_FALLBACK); } \
	static void name##_body(unsigned flags)

static void echo_family(unsigned flags, int family)
{
	char desc[256];
	int port;

	memset(&W, 0, sizeof(W));
	W.l = new_loop(flags, NULL);
	W.echo = 1;
	port = start_listener(family);
	rfx_loop_describe(W.l, desc, sizeof(desc));
	cr_log_info("%s", desc);
	cr_expect(strstr(desc, "io_uring setup=") != NULL);

	W.nclients = 1;
	W.want_bytes = 100000;
	connect_client(&W.cli[0], family, port, 7);
	run_until(W.l, &W.cli[0].connected, 2000);
	cr_assert_eq(W.cli[0].connect_result, 0, "connect: %s",
		     rfx_strerror(W.cli[0].connect_result));
	cr_expect_eq(rfx_conn_state(&W.cli[0].c), RFX_CONN_OPEN);
	/* More than the send buffer holds: appends also fail and resume. */
	for (uint64_t end = mono() + 5000 * MS; !W.done;) {
		pump(&W.cli[0], W.want_bytes, 1000);
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
		cr_assert_lt(mono(), end, "echo timed out");
	}
	cr_expect_eq(W.cli[0].rx_bad, 0);
	cr_expect_eq(W.cli[0].rx_bytes, W.want_bytes);
	cr_expect_eq(W.accepted, 1);

	/* Orderly close from the client: the server sees the peer's FIN. */
	cr_assert_eq(rfx_conn_close(&W.cli[0].c, 0), 0);
	cr_expect_eq(rfx_conn_close(&W.cli[0].c, 0), -EALREADY);
	run_until(W.l, &W.cli[0].closed, 2000);
	cr_expect_eq(W.cli[0].close_reason, 0);
	cr_expect_eq(rfx_conn_state(&W.cli[0].c), RFX_CONN_IDLE);
	run_until(W.l, &W.srv[0].closed, 2000);
	cr_expect_eq(W.srv[0].close_reason, RFX_EPEERCLOSED);
	cr_expect_eq(rfx_loop_stats(W.l)->stray_cqes, 0);
	cr_expect(rfx_loop_stats(W.l)->sends < 200, "appends in one turn coalesce (%llu sends)",
		  (unsigned long long)rfx_loop_stats(W.l)->sends);
	rfx_loop_free(W.l);
}

BOTH(accept_echo_ipv4, 20)
{
	echo_family(flags, AF_INET);
}

BOTH(accept_echo_ipv6, 20)
{
	echo_family(flags, AF_INET6);
}

BOTH(many_connections, 60)
{
	struct rfx_loop_opts o = {.max_conns = 2 * MAXP + 4};
	enum { NC = 128 };
	int port, turns = 0;

	memset(&W, 0, sizeof(W));
	W.l = new_loop(flags, &o);
	W.echo = 1;
	port = start_listener(AF_INET);
	W.nclients = NC;
	W.want_bytes = 20000;
	for (int i = 0; i < NC; i++)
		connect_client(&W.cli[i], AF_INET, port, (uint64_t)i * 1000003);
	/* Interleave: every client sends a little each turn. */
	while (!W.done) {
		for (int i = 0; i < NC; i++)
			if (W.cli[i].connected && W.cli[i].connect_result == 0)
				pump(&W.cli[i], W.cli[i].tx_bytes + 97 > W.want_bytes ?
					     W.want_bytes : W.cli[i].tx_bytes + 97, 97);
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
		cr_assert_lt(++turns, 2000000, "no progress");
	}
	cr_expect_eq(W.accepted, NC);
	for (int i = 0; i < NC; i++) {
		cr_expect_eq(W.cli[i].connect_result, 0);
		cr_expect_eq(W.cli[i].rx_bytes, W.want_bytes, "client %d", i);
		cr_expect_eq(W.cli[i].rx_bad, 0, "client %d", i);
		rfx_conn_close(&W.cli[i].c, 0);
	}
	while (W.cli_closed < NC || W.srv_closed < NC) {
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
		cr_assert_lt(++turns, 4000000, "closes did not finish");
	}
	rfx_loop_free(W.l);
}

/* A server pushes 4 MiB through a 64 KiB send buffer and a 4 KiB SO_SNDBUF:
 * appends fail with RFX_ETXFULL while a send is in flight and resume from
 * on_sendable; sends are coalesced and many are short. The receiver checks
 * every byte. */
static struct peer *bulk_src;
static uint64_t bulk_total;

static void bulk_sendable(struct rfx_conn *c)
{
	(void)c;
	pump(bulk_src, bulk_total, 1500);
}

static const struct rfx_conn_ops bulk_ops = {
	.on_sendable = bulk_sendable,
	.on_closed = srv_closed,
};

BOTH(large_sends_coalesce_and_resume, 60)
{
	const struct rfx_loop_stats *st;
	int port;

	memset(&W, 0, sizeof(W));
	W.l = new_loop(flags, NULL);
	W.sndbuf = 4096;
	port = start_listener(AF_INET);
	W.nclients = 1;
	bulk_total = W.want_bytes = 4u << 20;
	connect_client(&W.cli[0], AF_INET, port, 99);
	while (W.accepted == 0)
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
	run_until(W.l, &W.cli[0].connected, 2000);
	/* Turn the accepted conn into the bulk source. */
	bulk_src = &W.srv[0];
	bulk_src->seed = 99;
	bulk_src->c.ops = &bulk_ops;
	pump(bulk_src, bulk_total, 1500);
	run_until(W.l, &W.done, 30000);
	st = rfx_loop_stats(W.l);
	cr_expect_eq(W.cli[0].rx_bad, 0);
	cr_expect_eq(W.cli[0].rx_bytes, bulk_total);
	cr_expect_gt(st->tx_full, 0, "the 64 KiB buffer should have filled");
	cr_expect_lt(st->sends, bulk_total / 1500, "sends %llu not coalesced",
		     (unsigned long long)st->sends);
	cr_expect_gt(st->partial_sends, 0, "4 KiB SO_SNDBUF should force short sends");
	cr_log_info("sends %llu partial %llu txfull %llu", (unsigned long long)st->sends,
		    (unsigned long long)st->partial_sends, (unsigned long long)st->tx_full);
	cr_expect_eq(rfx_conn_queued(&bulk_src->c), 0);
	rfx_loop_free(W.l);
}

/* The peer resets the connection while the server has sends queued: the
 * server conn closes with the socket error. */
BOTH(peer_reset_mid_send, 20)
{
	struct sockaddr_storage ss;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	socklen_t len;
	int port, fd, rcvbuf = 4096;

	memset(&W, 0, sizeof(W));
	W.l = new_loop(flags, NULL);
	W.sndbuf = 4096;
	port = start_listener(AF_INET);
	len = loopback(&ss, AF_INET, port);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0);
	while (W.accepted == 0)
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
	/* Fill every buffer between the two: the peer never reads. */
	W.srv[0].seed = 5;
	for (int i = 0; i < 200 && !W.srv[0].closed; i++) {
		pump(&W.srv[0], W.srv[0].tx_bytes + 65536, 4096);
		settle(W.l, 2);
	}
	cr_assert_gt(rfx_conn_queued(&W.srv[0].c), 0, "sends should be stuck");
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);   /* unread data + zero linger: RST */
	run_until(W.l, &W.srv[0].closed, 5000);
	cr_expect(W.srv[0].close_reason == -ECONNRESET || W.srv[0].close_reason == -EPIPE,
		  "reason %d (%s)", W.srv[0].close_reason, rfx_strerror(W.srv[0].close_reason));
	cr_expect_eq(rfx_loop_stats(W.l)->stray_cqes, 0);
	rfx_loop_free(W.l);
}

BOTH(connect_refused, 10)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, AF_INET, 0);
	int fd, port;

	memset(&W, 0, sizeof(W));
	W.l = new_loop(flags, NULL);
	/* A port that was free a moment ago and has no listener now. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	close(fd);
	connect_client(&W.cli[0], AF_INET, port, 1);
	run_until(W.l, &W.cli[0].connected, 2000);
	cr_expect_eq(W.cli[0].connect_result, -ECONNREFUSED, "got %s",
		     rfx_strerror(W.cli[0].connect_result));
	cr_expect_eq(rfx_conn_state(&W.cli[0].c), RFX_CONN_IDLE);
	cr_expect_eq(W.cli[0].closed, 0, "a failed connect is not a close");
	/* The conn is reusable at once. */
	connect_client(&W.cli[0], AF_INET, port, 1);
	run_until(W.l, &W.cli[0].connected, 2000);
	cr_expect_eq(W.cli[0].connect_result, -ECONNREFUSED);
	rfx_loop_free(W.l);
}

/* A listener whose accept queue is full drops new SYNs (Linux, with
 * tcp_abort_on_overflow=0, the default), so a connect to it hangs in
 * SYN_SENT: a timeout on plain loopback without root. Returns the listener
 * fd and its port, or skips if the kernel did not behave that way. */
static int full_listener(int *port, int *fds, int *nfds)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, AF_INET, 0);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_eq(bind(lfd, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(listen(lfd, 0), 0);
	cr_assert_eq(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*nfds = 0;
	for (int i = 0; i < 8; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};

		fds[(*nfds)++] = fd;
		if (connect(fd, (struct sockaddr *)&ss, len) == 0)
			continue;
		cr_assert_eq(errno, EINPROGRESS);
		if (poll(&pfd, 1, 100) == 0)
			return lfd;   /* this one hangs: the queue is full */
	}
	cr_skip_test("could not fill a listen backlog on loopback");
	return -1;
}

BOTH(connect_timeout, 10)
{
	int port, fds[8], nfds, lfd;
	uint64_t t0;

	memset(&W, 0, sizeof(W));
	W.l = new_loop(flags, NULL);
	lfd = full_listener(&port, fds, &nfds);
	{
		struct sockaddr_storage ss;
		socklen_t len = loopback(&ss, AF_INET, port);

		rfx_conn_init(&W.cli[0].c, &cli_ops, &W.cli[0], W.cli[0].tx, TXCAP);
		t0 = mono();
		cr_assert_eq(rfx_conn_connect(W.l, &W.cli[0].c, (struct sockaddr *)&ss, len,
					      200 * MS), 0);
	}
	run_until(W.l, &W.cli[0].connected, 3000);
	cr_expect_eq(W.cli[0].connect_result, -ETIMEDOUT, "got %s",
		     rfx_strerror(W.cli[0].connect_result));
	cr_expect_geq(mono() - t0, 200 * MS);
	cr_expect_eq(rfx_loop_stats(W.l)->connect_timeouts, 1);
	cr_expect_eq(rfx_conn_state(&W.cli[0].c), RFX_CONN_IDLE);
	settle(W.l, 20);
	cr_expect_eq(rfx_loop_stats(W.l)->stray_cqes, 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(lfd);
	rfx_loop_free(W.l);
}

/* Heap-allocated conns freed inside on_closed: under ASan any completion
 * touching them afterwards is a use-after-free report. */
struct heap_conn {
	struct rfx_conn c;
	int *closed;
	int *reason;
	uint8_t tx[TXCAP];
};

static void heap_closed(struct rfx_conn *c, int reason)
{
	struct heap_conn *h = c->user;

	(*h->closed)++;
	*h->reason = reason;
	memset(h, 0xa5, sizeof(*h));
	free(h);
}

static void heap_connect(struct rfx_conn *c, int result)
{
	(void)c;
	cr_assert_fail("on_connect must not run after close (result %d)", result);
}

static const struct rfx_conn_ops heap_ops = {
	.on_connect = heap_connect,
	.on_closed = heap_closed,
};

BOTH(close_with_operations_in_flight, 20)
{
	static int closed, reason;
	struct sockaddr_storage ss;
	struct heap_conn *h;
	socklen_t len;
	int port, fd, fds[8], nfds, lfd, rcvbuf = 4096;

	memset(&W, 0, sizeof(W));
	W.l = new_loop(flags, NULL);
	W.sndbuf = 4096;
	port = start_listener(AF_INET);

	/* 1. An open conn with a receive armed and a send stuck in flight. */
	len = loopback(&ss, AF_INET, port);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0);
	while (W.accepted == 0)
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
	h = malloc(sizeof(*h));
	closed = 0;
	h->closed = &closed;
	h->reason = &reason;
	/* Move the accepted socket onto a heap conn: close the test's one
	 * and adopt a dup of the fd. */
	int fd2 = dup(W.srv[0].c.fd);

	rfx_conn_close(&W.srv[0].c, 0);
	run_until(W.l, &W.srv[0].closed, 2000);
	rfx_conn_init(&h->c, &heap_ops, h, h->tx, TXCAP);
	cr_assert_eq(rfx_conn_adopt(W.l, &h->c, fd2), 0);
	for (int i = 0; i < 50; i++) {
		uint8_t junk[4096] = {0};

		while (rfx_conn_send(&h->c, junk, sizeof(junk)) == 0)
			;
		settle(W.l, 1);
	}
	cr_assert_gt(rfx_conn_queued(&h->c), 0);
	cr_assert_eq(rfx_conn_close(&h->c, -1234), 0);
	while (!closed)
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
	cr_expect_eq(reason, -1234);
	settle(W.l, 20);
	cr_expect_eq(closed, 1);
	close(fd);

	/* 2. A conn closed while its connect is pending. */
	lfd = full_listener(&port, fds, &nfds);
	h = malloc(sizeof(*h));
	closed = 0;
	h->closed = &closed;
	h->reason = &reason;
	rfx_conn_init(&h->c, &heap_ops, h, h->tx, TXCAP);
	len = loopback(&ss, AF_INET, port);
	cr_assert_eq(rfx_conn_connect(W.l, &h->c, (struct sockaddr *)&ss, len, 5000 * MS), 0);
	settle(W.l, 10);
	cr_assert_eq(rfx_conn_close(&h->c, -99), 0);
	while (!closed)
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
	cr_expect_eq(reason, -99);
	settle(W.l, 20);

	/* 3. The listener itself, with its (multishot) accept pending. */
	W.listener.ops = &listen_ops;
	cr_assert_eq(rfx_conn_close(&W.listener, 0), 0);
	settle(W.l, 20);
	cr_expect_eq(rfx_conn_state(&W.listener), RFX_CONN_IDLE);
	cr_expect_eq(rfx_loop_stats(W.l)->stray_cqes, 0);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(lfd);
	rfx_loop_free(W.l);
}

/* Four 256-byte receive buffers for 32 busy connections: receives run out
 * of buffers (-ENOBUFS), are re-armed, and no byte is lost. */
BOTH(receive_buffer_exhaustion, 60)
{
	struct rfx_loop_opts o = {.buf_count = 4, .buf_size = 256};
	enum { NC = 32 };
	int port, turns = 0;

	memset(&W, 0, sizeof(W));
	W.l = new_loop(flags, &o);
	W.echo = 1;
	port = start_listener(AF_INET);
	W.nclients = NC;
	W.want_bytes = 30000;
	for (int i = 0; i < NC; i++)
		connect_client(&W.cli[i], AF_INET, port, (uint64_t)i + 17);
	while (!W.done) {
		for (int i = 0; i < NC; i++)
			if (W.cli[i].connected && W.cli[i].connect_result == 0)
				pump(&W.cli[i], W.want_bytes, 3000);
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
		cr_assert_lt(++turns, 5000000, "no progress");
	}
	for (int i = 0; i < NC; i++) {
		cr_expect_eq(W.cli[i].rx_bytes, W.want_bytes);
		cr_expect_eq(W.cli[i].rx_bad, 0);
	}
	cr_log_info("nobufs %llu", (unsigned long long)rfx_loop_stats(W.l)->recv_nobufs);
	rfx_loop_free(W.l);
}

/* close_flush: a Logout-style last message reaches the peer before close. */
BOTH(close_flush_delivers_queued_bytes, 20)
{
	int port;

	memset(&W, 0, sizeof(W));
	W.l = new_loop(flags, NULL);
	port = start_listener(AF_INET);
	W.nclients = 1;
	W.want_bytes = 50000;
	connect_client(&W.cli[0], AF_INET, port, 3);
	while (W.accepted == 0 || !W.cli[0].connected)
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
	W.srv[0].seed = 3;
	pump(&W.srv[0], W.want_bytes, 4096);
	cr_assert_eq(rfx_conn_close_flush(&W.srv[0].c, 0), 0);
	cr_expect_eq(rfx_conn_send(&W.srv[0].c, "x", 1), -ENOTCONN);
	run_until(W.l, &W.srv[0].closed, 5000);
	run_until(W.l, &W.cli[0].closed, 5000);
	cr_expect_eq(W.cli[0].rx_bytes, W.want_bytes);
	cr_expect_eq(W.cli[0].rx_bad, 0);
	cr_expect_eq(W.cli[0].close_reason, RFX_EPEERCLOSED);
	rfx_loop_free(W.l);
}

/* A watched eventfd written by another process wakes a turn that sleeps in
 * io_uring_enter (block idle), long before block_max_ns. */
static int ready_count;
static int watch_closed;

static void on_ready(struct rfx_conn *c, unsigned revents)
{
	uint64_t v;

	cr_expect(revents & POLLIN);
	cr_assert_eq(read(c->fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	ready_count++;
}

static void watch_closed_cb(struct rfx_conn *c, int reason)
{
	(void)c;
	cr_expect_eq(reason, 7);
	watch_closed = 1;
}

static const struct rfx_conn_ops watch_ops = {.on_ready = on_ready, .on_closed = watch_closed_cb};

BOTH(watch_eventfd_wakes_a_blocking_turn, 20)
{
	struct rfx_loop_opts o = {.block_max_ns = 5000 * MS};
	struct rfx_conn w;
	int efd = eventfd(0, EFD_CLOEXEC), wfd;
	uint64_t t0, one = 1;
	pid_t pid;

	memset(&W, 0, sizeof(W));
	ready_count = watch_closed = 0;
	W.l = new_loop(flags, &o);
	cr_assert_geq(efd, 0);
	wfd = dup(efd);
	rfx_conn_init(&w, &watch_ops, NULL, NULL, 0);
	cr_assert_eq(rfx_conn_watch(W.l, &w, efd, POLLIN), 0);
	cr_assert_geq(rfx_loop_turn(W.l, 0), 0);   /* arm the poll */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		usleep(50000);
		_exit(write(wfd, &one, sizeof(one)) == sizeof(one) ? 0 : 1);
	}
	t0 = mono();
	while (ready_count == 0) {
		cr_assert_geq(rfx_loop_turn(W.l, RFX_TURN_WAIT), 0);
		cr_assert_lt(mono() - t0, 3000 * MS, "not woken");
	}
	cr_expect_geq(mono() - t0, 40 * MS);
	cr_expect_lt(mono() - t0, 2000 * MS);
	cr_expect_geq(rfx_loop_stats(W.l)->waits, 1);
	waitpid(pid, NULL, 0);
	/* Repeated readiness, re-armed on the fallback path. */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(write(wfd, &one, sizeof(one)), (ssize_t)sizeof(one));
		while (ready_count < 2 + i)
			cr_assert_geq(rfx_loop_turn(W.l, RFX_TURN_WAIT), 0);
	}
	cr_assert_eq(rfx_conn_close(&w, 7), 0);
	while (!watch_closed)
		cr_assert_geq(rfx_loop_turn(W.l, 0), 0);
	settle(W.l, 10);
	cr_expect_eq(rfx_loop_stats(W.l)->stray_cqes, 0);
	close(wfd);
	rfx_loop_free(W.l);
}

/* ---- timers and idle strategies ------------------------------------ */

struct tstate {
	struct rfx_loop *l;
	struct rfx_timer t;
	uint64_t armed_at, fired_at;
	int turns_seen;
};

static void stop_cb(struct rfx_timer *t, uint64_t now, void *arg)
{
	struct tstate *s = arg;

	(void)t;
	s->fired_at = now;
	rfx_loop_stop(s->l);
}

static void count_turns(struct rfx_loop *l, void *arg)
{
	struct tstate *s = arg;

	(void)l;
	s->turns_seen++;
}

static void idle_case(enum rfx_idle idle)
{
	static struct tstate s;
	struct rfx_loop_opts o = {.idle = idle, .spin_turns = 10, .on_turn = count_turns, .arg = &s};
	uint64_t t0;

	memset(&s, 0, sizeof(s));
	s.l = new_loop(0, &o);
	rfx_timer_init(&s.t, stop_cb, &s);
	cr_assert_eq(rfx_loop_turn(s.l, 0), 0);
	t0 = rfx_loop_now_mono(s.l);
	cr_expect_leq(t0, mono());
	cr_expect_gt(rfx_loop_now_real(s.l), 1600000000ull * 1000000000ull, "realtime is wall time");
	rfx_timer_wheel_add(rfx_loop_timers(s.l), &s.t, t0 + 50 * MS);
	cr_assert_eq(rfx_loop_run(s.l), 0);
	cr_expect_geq(s.fired_at, t0 + 50 * MS);
	cr_expect_lt(s.fired_at, t0 + 1000 * MS);
	if (idle == RFX_IDLE_BLOCK) {
		/* A handful of sleeps, not thousands of spins. */
		cr_expect_lt(s.turns_seen, 50, "block mode turned %d times", s.turns_seen);
		cr_expect_gt(rfx_loop_stats(s.l)->waits, 0);
	} else {
		cr_expect_gt(s.turns_seen, 50);
	}
	rfx_loop_free(s.l);
}

Test(loop, idle_spin_timer, .timeout = 10)
{
	idle_case(RFX_IDLE_SPIN);
}

Test(loop, idle_spin_then_yield_timer, .timeout = 10)
{
	idle_case(RFX_IDLE_SPIN_YIELD);
}

Test(loop, idle_block_sleeps_until_timer, .timeout = 10)
{
	idle_case(RFX_IDLE_BLOCK);
}

/* on_sleep: called before and after each block-idle sleep; < 0 vetoes the
 * sleep, > 0 shortens it (5 s block_max_ns, no timer: only the hook's cap
 * ends the second turn in time). */
struct sleep_hook {
	int64_t ret;
	int before, after;
};

static int64_t sleep_hook(struct rfx_loop *l, void *arg, int sleeping)
{
	struct sleep_hook *h = arg;

	(void)l;
	if (!sleeping) {
		h->after++;
		return 0;
	}
	h->before++;
	return h->ret;
}

Test(loop, on_sleep_vetoes_or_shortens_block_sleeps, .timeout = 10)
{
	struct sleep_hook h = {.ret = -1};
	struct rfx_loop_opts o = {.block_max_ns = 5000 * MS, .on_sleep = sleep_hook, .arg = &h};
	struct rfx_loop *l = new_loop(0, &o);
	uint64_t t0 = mono(), waits = rfx_loop_stats(l)->waits;

	cr_assert_geq(rfx_loop_turn(l, RFX_TURN_WAIT), 0);
	cr_expect_eq(h.before, 1);
	cr_expect_eq(h.after, 0, "no sleep, no wake-up call");
	cr_expect_eq(rfx_loop_stats(l)->waits, waits);
	cr_expect_lt(mono() - t0, 1000 * MS);
	h.ret = 20 * MS;
	t0 = mono();
	cr_assert_geq(rfx_loop_turn(l, RFX_TURN_WAIT), 0);
	cr_expect_eq(h.before, 2);
	cr_expect_eq(h.after, 1);
	cr_expect_eq(rfx_loop_stats(l)->waits, waits + 1);
	cr_expect_geq(mono() - t0, 15 * MS);
	cr_expect_lt(mono() - t0, 2000 * MS, "the cap did not shorten the sleep");
	rfx_loop_free(l);
}

Test(loop, rejects_bad_options, .timeout = 5)
{
	struct rfx_loop_opts o = {.buf_count = 100};
	struct rfx_loop *l = (struct rfx_loop *)1;
	struct rfx_conn c;

	cr_expect_eq(rfx_loop_new(&l, &o), -EINVAL);
	cr_expect_null(l);
	cr_expect_eq(rfx_loop_new(NULL, NULL), -EINVAL);
	rfx_loop_free(NULL);
	rfx_conn_init(&c, &cli_ops, NULL, NULL, 0);
	cr_expect_eq(rfx_conn_send(&c, "x", 1), -ENOTCONN);
	cr_expect_eq(rfx_conn_close(&c, 0), -EALREADY);
	cr_expect_eq(rfx_conn_local_port(&c), -EBADF);
}

Test(loop, max_conns_is_enforced, .timeout = 10)
{
	struct rfx_loop_opts o = {.max_conns = 2};
	struct sockaddr_storage ss;
	socklen_t len = loopback(&ss, AF_INET, 0);
	struct rfx_conn a, b, c;

	memset(&W, 0, sizeof(W));
	W.l = new_loop(0, &o);
	rfx_conn_init(&a, &listen_ops, NULL, NULL, 0);
	rfx_conn_init(&b, &listen_ops, NULL, NULL, 0);
	rfx_conn_init(&c, &listen_ops, NULL, NULL, 0);
	cr_assert_eq(rfx_conn_listen(W.l, &a, (struct sockaddr *)&ss, len, 8), 0);
	cr_expect_eq(rfx_conn_listen(W.l, &a, (struct sockaddr *)&ss, len, 8), -EBUSY);
	cr_assert_eq(rfx_conn_listen(W.l, &b, (struct sockaddr *)&ss, len, 8), 0);
	cr_expect_eq(rfx_conn_listen(W.l, &c, (struct sockaddr *)&ss, len, 8), RFX_ECONNLIMIT);
	rfx_loop_free(W.l);
}
