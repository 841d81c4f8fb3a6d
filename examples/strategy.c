/*
 * A sample strategy on libringfix: the program to copy when you write one.
 *
 *   strategy --instance NAME --session ID [--orders N] [--window K | --rate R]
 *            [--idle spin|yield|block] [--timeout-s S]
 *
 * It attaches to a running ringfixd instance, binds one session, waits until
 * that session is logged on, sends N NewOrderSingles and follows each order
 * to its end: acknowledged (ExecutionReport 150=0), then filled (39=2), or
 * still open once everything is sent, in which case it cancels it. It then
 * prints counts, order->ack and order->fill latency percentiles and the
 * throughput, and exits 0 if every order reached an end (1 otherwise).
 *
 * Sending is closed-loop by default: at most K orders (default 1) awaiting
 * their ack. With --rate R it is open-loop instead: order i is due at
 * start + i/R, and its latency is measured from that intended time, so a
 * stall on our side counts against us instead of hiding (no coordinated
 * omission).
 *
 * Only <ringfix.h> is used: no ringfix internals.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ringfix.h>

/* What we know about each order, indexed by the number in its ClOrdID. */
enum order_state { SENT = 0, ACKED, DONE };

struct order {
	int64_t sent_ns;       /* intended (rate) or actual (closed-loop) send time */
	int64_t ack_ns, fill_ns;
	uint8_t state;
	bool cancel_sent;
};

struct strategy {
	struct rfx_client *c;
	int session;
	bool bound, bind_failed;
	struct order *orders;
	uint64_t n_orders;
	uint64_t sent, acks, fills, partials, canceled, rejects, send_failures, done;
	uint64_t answered;     /* orders acked or rejected: what the window counts */
	uint64_t last_seq;     /* highest inbound MsgSeqNum processed */
	uint64_t unacked_msgs; /* processed since the last rfx_ack */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Wall-clock time for FIX timestamps (latencies use now_ns). */
static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "S123" -> order 123; -1 if the ClOrdID is not one of ours. */
static int64_t order_index(const struct strategy *st, const char *id, uint32_t len)
{
	if (len < 2 || id[0] != 'S')
		return -1;
	int64_t n = 0;
	for (uint32_t i = 1; i < len; i++) {
		if (id[i] < '0' || id[i] > '9' || n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (id[i] - '0');
	}
	return n < (int64_t)st->n_orders ? n : -1;
}

static void finish(struct strategy *st, struct order *o)
{
	if (o->state != DONE) {
		o->state = DONE;
		st->done++;
	}
}

/* Execution reports and rejects for our orders. Runs inside rfx_poll: copy
 * what you keep, do not call rfx_poll from here. */
static void on_message(void *ctx, const struct rfx_message *m)
{
	struct strategy *st = ctx;
	int64_t t = now_ns();
	const char *id;
	uint32_t len;
	char type = m->msg_type_len == 1 ? m->msg_type[0] : 0;

	st->last_seq = m->seq;
	st->unacked_msgs++;
	if (type == '8' || type == '9') {
		/* Cancel answers name our order in OrigClOrdID(41). */
		if (rfx_message_str(m, 41, &id, &len) < 0 &&
		    rfx_message_str(m, 11, &id, &len) < 0)
			return;
		int64_t i = order_index(st, id, len);
		if (i < 0)
			return;
		struct order *o = &st->orders[i];
		if (type == '9') { /* OrderCancelReject: it filled meanwhile */
			finish(st, o);
			return;
		}
		char exec_type = 0, status = 0;
		rfx_message_char(m, 150, &exec_type);
		rfx_message_char(m, 39, &status);
		if (exec_type == '0' && o->state == SENT) {
			o->ack_ns = t;
			o->state = ACKED;
			st->acks++;
			st->answered++;
		} else if (status == '1') {
			st->partials++;
		} else if (status == '2') {
			o->fill_ns = t;
			st->fills++;
			finish(st, o);
		} else if (status == '4') {
			st->canceled++;
			finish(st, o);
		} else if (exec_type == '8') {
			st->rejects++;
			if (o->state == SENT)
				st->answered++; /* answered, if negatively */
			finish(st, o);
		}
	} else if (type == 'j') {
		st->rejects++;
	}
}

static void on_event(void *ctx, const struct rfx_event *e)
{
	struct strategy *st = ctx;
	switch (e->type) {
	case RFX_EV_BOUND:
		st->bound = true;
		break;
	case RFX_EV_BIND_FAILED:
		st->bind_failed = true;
		fprintf(stderr, "strategy: bind failed: %s\n", rfx_strerror(e->code));
		break;
	case RFX_EV_REJECT: /* the session layer refused one of our messages */
		st->rejects++;
		break;
	case RFX_EV_LOGOUT:
	case RFX_EV_DISCONNECT:
		fprintf(stderr, "strategy: session %s\n",
			e->type == RFX_EV_LOGOUT ? "logged out" : "disconnected");
		break;
	default:
		break;
	}
}

/* Accepted by rfx_send_end but never sent (e.g. the session went down). */
static void on_send_failed(void *ctx, const struct rfx_send_failure *f)
{
	struct strategy *st = ctx;
	st->send_failures++;
	if (f->tag < st->n_orders)
		finish(st, &st->orders[f->tag]);
}

static const struct rfx_handler handler = {on_message, on_event, on_send_failed};

/* Polls once; tells ringfix what we processed every 256 messages so that a
 * restart (bind with replay_from = last_seq + 1) replays only the rest. */
static int poll_once(struct strategy *st)
{
	int rc = rfx_poll(st->c, &handler, st, 64);
	if (rc >= 0 && st->unacked_msgs >= 256) {
		if (rfx_ack(st->c, st->session, st->last_seq) == 0)
			st->unacked_msgs = 0;
	}
	return rc;
}

/* Builds NewOrderSingle i straight into the ring. RFX_EFULL means the shard
 * is behind: the caller polls and tries again. */
static int send_order(struct strategy *st, uint64_t i, int64_t wall_ns)
{
	char clid[24];
	int len = snprintf(clid, sizeof(clid), "S%" PRIu64, i);
	int rc = rfx_send_begin(st->c, st->session, 256, "D");
	if (rc < 0)
		return rc;
	rfx_field_str(st->c, 11, clid, (uint32_t)len);          /* ClOrdID */
	rfx_field_str(st->c, 55, "RFX", 3);                     /* Symbol */
	rfx_field_char(st->c, 54, i % 2 ? '2' : '1');           /* Side: buy/sell */
	rfx_field_timestamp(st->c, 60, wall_ns, 3);             /* TransactTime */
	rfx_field_int(st->c, 38, 100);                          /* OrderQty */
	rfx_field_char(st->c, 40, '2');                         /* OrdType: limit */
	rfx_field_decimal(st->c, 44, 10000 + (int64_t)(i % 10), 2); /* Price 100.0x */
	return rfx_send_end(st->c, i, 0); /* the tag comes back in on_send_failed */
}

static int send_cancel(struct strategy *st, uint64_t i)
{
	char clid[24], orig[24];
	int clen = snprintf(clid, sizeof(clid), "C%" PRIu64, i);
	int olen = snprintf(orig, sizeof(orig), "S%" PRIu64, i);
	int rc = rfx_send_begin(st->c, st->session, 256, "F");
	if (rc < 0)
		return rc;
	rfx_field_str(st->c, 41, orig, (uint32_t)olen);  /* OrigClOrdID */
	rfx_field_str(st->c, 11, clid, (uint32_t)clen);  /* ClOrdID of the request */
	rfx_field_str(st->c, 55, "RFX", 3);
	rfx_field_char(st->c, 54, i % 2 ? '2' : '1');
	rfx_field_timestamp(st->c, 60, wall_ns(), 3);
	rfx_field_int(st->c, 38, 100);
	return rfx_send_end(st->c, i, 0);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Latency percentiles in microseconds over n samples (sorted in place). */
static void print_latency(const char *what, int64_t *v, size_t n)
{
	if (n == 0) {
		printf("  %-12s no samples\n", what);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_i64);
	const double q[] = {0.50, 0.90, 0.99, 0.999};
	printf("  %-12s", what);
	for (int k = 0; k < 4; k++)
		printf(" p%g %.1f", q[k] * 100, (double)v[(size_t)(q[k] * (double)(n - 1))] / 1e3);
	printf(" max %.1f us (%zu orders)\n", (double)v[n - 1] / 1e3, n);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: strategy --instance NAME --session ID [--orders N] [--window K | --rate R]\n"
		   "                [--idle spin|yield|block] [--timeout-s S]\n"
		   "Sends N (default 1000) NewOrderSingles on session ID of the running instance\n"
		   "NAME, closed-loop with K (default 1) awaiting their ack or at R orders/s,\n"
		   "cancels what is still open at the end, and reports counts and latencies.\n");
}

int main(int argc, char **argv)
{
	const char *instance = NULL, *session = NULL;
	uint64_t n = 1000, window = 1;
	double rate = 0;
	int64_t timeout_s = 60;
	struct rfx_client_opts opts = {.wait = RFX_IDLE_BLOCK};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (!val) {
			usage(stderr);
			return 2;
		}
		i++;
		if (strcmp(a, "--instance") == 0)
			instance = val;
		else if (strcmp(a, "--session") == 0)
			session = val;
		else if (strcmp(a, "--orders") == 0)
			n = strtoull(val, NULL, 10);
		else if (strcmp(a, "--window") == 0)
			window = strtoull(val, NULL, 10);
		else if (strcmp(a, "--rate") == 0)
			rate = strtod(val, NULL);
		else if (strcmp(a, "--timeout-s") == 0)
			timeout_s = strtoll(val, NULL, 10);
		else if (strcmp(a, "--idle") == 0 && strcmp(val, "spin") == 0)
			opts.wait = RFX_IDLE_SPIN;
		else if (strcmp(a, "--idle") == 0 && strcmp(val, "yield") == 0)
			opts.wait = RFX_IDLE_YIELD;
		else if (strcmp(a, "--idle") == 0 && strcmp(val, "block") == 0)
			opts.wait = RFX_IDLE_BLOCK;
		else {
			fprintf(stderr, "strategy: bad option %s %s\n", a, val);
			return 2;
		}
	}
	if (!instance || !session || n == 0 || window == 0 || rate < 0 || timeout_s <= 0) {
		usage(stderr);
		return 2;
	}

	struct strategy st = {.n_orders = n};
	st.orders = calloc(n, sizeof(*st.orders));
	if (!st.orders) {
		fprintf(stderr, "strategy: out of memory\n");
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	/* 1. Attach to the instance and bind our session (live messages only:
	 *    a fresh strategy has nothing to replay). */
	int rc = rfx_client_attach(&st.c, instance, &opts);
	if (rc < 0) {
		fprintf(stderr, "strategy: attach %s: %s\n", instance, rfx_strerror(rc));
		free(st.orders);
		return 1;
	}
	st.session = rfx_bind(st.c, session, 0);
	if (st.session < 0) {
		fprintf(stderr, "strategy: bind %s: %s\n", session, rfx_strerror(st.session));
		rfx_client_detach(st.c);
		free(st.orders);
		return 1;
	}

	/* 2. Wait for the bind to be answered and the session to be logged on. */
	int64_t deadline = now_ns() + timeout_s * 1000000000LL;
	struct rfx_session_status ss = {0};
	while (!interrupted && !st.bind_failed && now_ns() < deadline) {
		if ((rc = poll_once(&st)) < 0)
			break;
		if (st.bound && rfx_session_status(st.c, st.session, &ss) == 0 &&
		    ss.state == RFX_SESSION_ACTIVE)
			break;
		if (rc == 0)
			rfx_wait(st.c, 1000000);
	}
	if (ss.state != RFX_SESSION_ACTIVE) {
		fprintf(stderr, "strategy: %s is not logged on%s%s\n", session,
			rc < 0 ? ": " : "", rc < 0 ? rfx_strerror(rc) : "");
		rfx_client_detach(st.c);
		free(st.orders);
		return 1;
	}
	printf("strategy: %s logged on; sending %" PRIu64 " orders ", session, n);
	if (rate > 0)
		printf("at %.0f/s\n", rate);
	else
		printf("closed-loop, %" PRIu64 " awaiting ack at most\n", window);
	fflush(stdout);

	/* 3. The loop: send when allowed, poll always, cancel leftovers once
	 *    every order is acknowledged, stop when every order has ended. */
	int64_t start = now_ns(), last_send = start;
	uint64_t next_cancel = 0;
	while (st.done < n && !interrupted && rc >= 0) {
		int64_t t = now_ns();
		if (t > deadline)
			break;
		bool busy = false; /* sent something this round: do not idle */
		bool may_send = st.sent < n &&
				(rate > 0 ? t >= start + (int64_t)((double)st.sent * 1e9 / rate)
					  : st.sent - st.answered < window);
		if (may_send) {
			busy = true;
			/* At a fixed rate the clock starts at the intended time. */
			int64_t due = rate > 0 ? start + (int64_t)((double)st.sent * 1e9 / rate) : t;
			rc = send_order(&st, st.sent, wall_ns());
			if (rc == 0) {
				st.orders[st.sent].sent_ns = due;
				st.sent++;
				last_send = t;
			} else if (rc != RFX_EFULL) {
				st.send_failures++;
				finish(&st, &st.orders[st.sent]);
				st.sent++;
			}
			rc = 0;
		} else if (st.sent == n && st.answered == n && next_cancel < n) {
			/* Everything acknowledged: whatever is not done rests on the
			 * venue's book. Cancel it so every order has an end. */
			struct order *o = &st.orders[next_cancel];
			busy = true;
			if (o->state == DONE || o->cancel_sent ||
			    (rc = send_cancel(&st, next_cancel)) == 0) {
				o->cancel_sent = true;
				next_cancel++;
			}
			if (rc != RFX_EFULL && rc < 0) {
				st.send_failures++;
				finish(&st, o);
				next_cancel++;
			}
			rc = 0;
		}
		int got = poll_once(&st);
		if (got < 0) {
			rc = got;
			fprintf(stderr, "strategy: %s\n", rfx_strerror(rc));
		} else if (got == 0 && !busy) {
			/* Nothing to do: idle per the wait strategy, but wake up in
			 * time for the next order at a fixed rate. */
			rfx_wait(st.c, rate > 0 ? 50000 : 1000000);
		}
	}
	int64_t elapsed = last_send - start;
	rfx_ack(st.c, st.session, st.last_seq);
	rfx_flush(st.c);

	/* 4. Report. */
	int64_t *ack_lat = calloc(n, sizeof(int64_t)), *fill_lat = calloc(n, sizeof(int64_t));
	size_t na = 0, nf = 0;
	for (uint64_t i = 0; ack_lat && fill_lat && i < n; i++) {
		const struct order *o = &st.orders[i];
		if (o->ack_ns)
			ack_lat[na++] = o->ack_ns - o->sent_ns;
		if (o->fill_ns)
			fill_lat[nf++] = o->fill_ns - o->sent_ns;
	}
	printf("strategy: orders sent %" PRIu64 ", acks %" PRIu64 ", fills %" PRIu64
	       " (partial fills %" PRIu64 "), canceled %" PRIu64 ", rejects %" PRIu64
	       ", send failures %" PRIu64 "\n",
	       st.sent, st.acks, st.fills, st.partials, st.canceled, st.rejects, st.send_failures);
	printf("strategy: latency from the order's send time (CLOCK_MONOTONIC, this process):\n");
	print_latency("order->ack", ack_lat, na);
	print_latency("order->fill", fill_lat, nf);
	printf("strategy: throughput %.0f orders/s (%" PRIu64 " orders sent in %.3f s)\n",
	       elapsed > 0 ? (double)st.sent * 1e9 / (double)elapsed : 0.0, st.sent,
	       (double)elapsed / 1e9);
	bool ok = st.done == n && rc >= 0;
	if (!ok)
		printf("strategy: INCOMPLETE: %" PRIu64 " of %" PRIu64 " orders reached an end%s\n",
		       st.done, n, interrupted ? " (interrupted)" : "");
	free(ack_lat);
	free(fill_lat);
	rfx_client_detach(st.c);
	free(st.orders);
	return ok ? 0 : 1;
}
