/* shard/reconnect over real loopback sockets: failover order, backoff
 * growth and cap between failed rounds, reconnect after a lost connection
 * and the reset on an established session. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/error.h"
#include "shard/conn.h"
#include "shard/loop.h"
#include "shard/reconnect.h"

#define MS 1000000ull

static struct {
	struct rfx_loop *l;
	struct rfx_reconnect r;
	struct rfx_conn cli, listener, srv;
	uint8_t tx[4096], stx[4096];
	unsigned order[64];
	uint64_t when[64];
	int n_attempts, connected, lost, accepted, srv_closed;
} T;

static void on_attempt(struct rfx_reconnect *r, unsigned host)
{
	if (T.n_attempts < 64) {
		T.order[T.n_attempts] = host;
		T.when[T.n_attempts] = rfx_loop_now_mono(r->loop);
	}
	T.n_attempts++;
}

static void cli_connect(struct rfx_conn *c, int result)
{
	(void)c;
	if (result == 0)
		T.connected++;
	rfx_reconnect_connected(&T.r, result);
}

static void cli_closed(struct rfx_conn *c, int reason)
{
	(void)c;
	(void)reason;
	T.lost++;
	rfx_reconnect_lost(&T.r);
}

static const struct rfx_conn_ops cli_ops = {.on_connect = cli_connect, .on_closed = cli_closed};

static void srv_closed(struct rfx_conn *c, int reason)
{
	(void)c;
	(void)reason;
	T.srv_closed++;
}

static const struct rfx_conn_ops srv_ops = {.on_closed = srv_closed};

static struct rfx_conn *on_accept(struct rfx_conn *l, int fd)
{
	(void)l;
	(void)fd;
	T.accepted++;
	rfx_conn_init(&T.srv, &srv_ops, NULL, T.stx, sizeof(T.stx));
	return &T.srv;
}

static const struct rfx_conn_ops listen_ops = {.on_accept = on_accept};

static void setup(void)
{
	int rc;

	memset(&T, 0, sizeof(T));
	rc = rfx_loop_new(&T.l, NULL);
	if (rc == -ENOSYS || rc == -EPERM || rc == -EOPNOTSUPP)
		cr_skip_test("io_uring unavailable here: %s", rfx_strerror(rc));
	cr_assert_eq(rc, 0);
	rfx_conn_init(&T.cli, &cli_ops, NULL, T.tx, sizeof(T.tx));
}

static void add_host(struct rfx_reconnect_opts *o, int port)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&o->hosts[o->nhosts];

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons((uint16_t)port);
	o->lens[o->nhosts++] = sizeof(*a);
}

/* A loopback port with nothing listening. */
static int dead_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_eq(bind(fd, (struct sockaddr *)&a, len), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int live_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	rfx_conn_init(&T.listener, &listen_ops, NULL, NULL, 0);
	cr_assert_eq(rfx_conn_listen(T.l, &T.listener, (struct sockaddr *)&a, sizeof(a), 16), 0);
	return rfx_conn_local_port(&T.listener);
}

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void turn_until(const int *v, int want, unsigned ms)
{
	uint64_t end = mono() + ms * MS;

	while (*v < want) {
		cr_assert_geq(rfx_loop_turn(T.l, 0), 0);
		cr_assert_lt(mono(), end, "timed out");
	}
}

TestSuite(reconnect, .timeout = 20);

Test(reconnect, rejects_bad_options, .timeout = 20)
{
	struct rfx_reconnect_opts o = {0};

	setup();
	cr_expect_eq(rfx_reconnect_init(&T.r, T.l, &T.cli, &o), -EINVAL);
	add_host(&o, 1);
	o.min_ns = 5 * MS;
	o.max_ns = 1 * MS;
	cr_expect_eq(rfx_reconnect_init(&T.r, T.l, &T.cli, &o), -EINVAL);
	rfx_loop_free(T.l);
}

Test(reconnect, fails_over_to_the_next_host_at_once, .timeout = 20)
{
	struct rfx_reconnect_opts o = {.min_ns = 500 * MS, .on_attempt = on_attempt};
	uint64_t t0;

	setup();
	add_host(&o, dead_port());
	add_host(&o, dead_port());
	add_host(&o, live_port());
	cr_assert_eq(rfx_reconnect_init(&T.r, T.l, &T.cli, &o), 0);
	t0 = mono();
	cr_assert_eq(rfx_reconnect_start(&T.r), 0);
	cr_expect_eq(rfx_reconnect_start(&T.r), -EALREADY);
	turn_until(&T.connected, 1, 2000);
	cr_expect_lt(mono() - t0, 400 * MS, "no backoff wait inside a round");
	cr_assert_eq(T.n_attempts, 3);
	cr_expect(T.order[0] == 0 && T.order[1] == 1 && T.order[2] == 2);
	turn_until(&T.accepted, 1, 2000);
	rfx_loop_free(T.l);
}

Test(reconnect, backoff_doubles_between_failed_rounds_up_to_the_cap, .timeout = 20)
{
	struct rfx_reconnect_opts o = {.min_ns = 20 * MS, .max_ns = 80 * MS, .on_attempt = on_attempt};
	static const uint64_t want[] = {20, 40, 80, 80};
	uint64_t starts[8];
	int nr = 0;

	setup();
	add_host(&o, dead_port());
	add_host(&o, dead_port());
	cr_assert_eq(rfx_reconnect_init(&T.r, T.l, &T.cli, &o), 0);
	cr_assert_eq(rfx_reconnect_start(&T.r), 0);
	turn_until(&T.n_attempts, 10, 5000);   /* five rounds of two */
	rfx_reconnect_stop(&T.r);
	for (int i = 0; i < 10; i += 2) {
		cr_expect_eq(T.order[i], 0);
		cr_expect_eq(T.order[i + 1], 1);
		starts[nr++] = T.when[i];
	}
	for (int k = 0; k < 4; k++) {
		uint64_t gap = starts[k + 1] - starts[k];

		cr_expect_geq(gap, want[k] * MS, "round %d gap %llu ms", k,
			      (unsigned long long)(gap / MS));
		/* +25% jitter, a tick, and a noisy shared machine. */
		cr_expect_leq(gap, want[k] * MS * 5 / 4 + 60 * MS, "round %d gap %llu ms", k,
			      (unsigned long long)(gap / MS));
	}
	cr_expect_eq(T.r.rounds_failed, 4);   /* the fifth round is still trying */
	/* Stopped: no more attempts. */
	{
		int n = T.n_attempts;
		uint64_t end = mono() + 150 * MS;

		while (mono() < end)
			rfx_loop_turn(T.l, 0);
		cr_expect_eq(T.n_attempts, n);
	}
	rfx_loop_free(T.l);
}

Test(reconnect, reconnects_after_loss_and_resets_when_established, .timeout = 20)
{
	struct rfx_reconnect_opts o = {.min_ns = 30 * MS, .max_ns = 1000 * MS, .on_attempt = on_attempt};
	uint64_t gap;

	setup();
	add_host(&o, live_port());
	cr_assert_eq(rfx_reconnect_init(&T.r, T.l, &T.cli, &o), 0);
	cr_assert_eq(rfx_reconnect_start(&T.r), 0);
	turn_until(&T.accepted, 1, 2000);
	turn_until(&T.connected, 1, 2000);

	/* Loss 1 (never established): waits min. */
	rfx_conn_close(&T.srv, 0);
	turn_until(&T.connected, 2, 2000);
	gap = T.when[1] - T.when[0];
	cr_expect_geq(gap, 30 * MS, "gap %llu ms", (unsigned long long)(gap / MS));
	turn_until(&T.accepted, 2, 2000);

	/* Loss 2, still not established: the backoff has doubled. */
	uint64_t lost_at = mono();

	rfx_conn_close(&T.srv, 0);
	turn_until(&T.connected, 3, 2000);
	cr_expect_geq(mono() - lost_at, 60 * MS);
	turn_until(&T.accepted, 3, 2000);

	/* Established (Logon done): the next loss waits min again. */
	rfx_reconnect_established(&T.r);
	lost_at = mono();
	rfx_conn_close(&T.srv, 0);
	turn_until(&T.connected, 4, 2000);
	gap = mono() - lost_at;
	cr_expect_geq(gap, 30 * MS);
	cr_expect_lt(gap, 115 * MS, "gap %llu ms", (unsigned long long)(gap / MS));
	cr_expect_eq(T.lost, 3);
	rfx_loop_free(T.l);
}
