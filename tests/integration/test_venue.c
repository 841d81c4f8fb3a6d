/*
 * Integration: `ringfix venue` answers as FIX.4.4 says, seen from a real bank.
 *
 *   venue: ringfixd (acceptor FIX.4.4:VENUE->BANK) + ringfix venue --partials 2
 *   bank:  ringfixd (initiator FIX.4.4:BANK->VENUE) + this test as the strategy
 *
 * Checks the ack/partial/fill sequence with exact decimals, a cancel of a
 * resting order, OrderCancelReject for unknown and finished orders, a reject
 * ER for a duplicate ClOrdID and for a missing OrderQty, and a
 * BusinessMessageReject for an unsupported message type.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/ringfix.h"
#include "tests/integration/proc.h"

#define MAXMSG 64

struct got {
	unsigned n;
	char type[MAXMSG];
	char clid[MAXMSG][24], orig[MAXMSG][24];
	char exec_type[MAXMSG], status[MAXMSG];
	char last_qty[MAXMSG][16], cum[MAXMSG][16], leaves[MAXMSG][16], avg[MAXMSG][16],
		last_px[MAXMSG][16], order_id[MAXMSG][40], exec_id[MAXMSG][40];
	char reason[MAXMSG]; /* 102 or 380 */
};

static void copy(const struct rfx_message *m, uint32_t tag, char *dst, size_t cap)
{
	const char *p;
	uint32_t len;
	dst[0] = 0;
	if (rfx_message_str(m, tag, &p, &len) == 0 && len < cap) {
		memcpy(dst, p, len);
		dst[len] = 0;
	}
}

static void on_msg(void *ctx, const struct rfx_message *m)
{
	struct got *g = ctx;
	if (g->n >= MAXMSG)
		return;
	unsigned i = g->n++;
	g->type[i] = m->msg_type[0];
	copy(m, 11, g->clid[i], sizeof(g->clid[i]));
	copy(m, 41, g->orig[i], sizeof(g->orig[i]));
	rfx_message_char(m, 150, &g->exec_type[i]);
	rfx_message_char(m, 39, &g->status[i]);
	copy(m, 32, g->last_qty[i], 16);
	copy(m, 31, g->last_px[i], 16);
	copy(m, 14, g->cum[i], 16);
	copy(m, 151, g->leaves[i], 16);
	copy(m, 6, g->avg[i], 16);
	copy(m, 37, g->order_id[i], 40);
	copy(m, 17, g->exec_id[i], 40);
	if (rfx_message_char(m, 102, &g->reason[i]) < 0)
		rfx_message_char(m, 380, &g->reason[i]);
}

static const struct rfx_handler handler = {on_msg, NULL, NULL};

static void send_body(struct rfx_client *c, int s, const char *body)
{
	cr_assert_eq(rfx_send(c, s, body, (uint32_t)strlen(body), 0, 0), 0);
}

static void wait_msgs(struct rfx_client *c, struct got *g, unsigned n)
{
	int64_t end = now_ms() + 10000;
	while (g->n < n && now_ms() < end)
		if (rfx_poll(c, &handler, g, 64) == 0)
			rfx_wait(c, 1000000);
	cr_assert_eq(g->n, n, "got %u messages, want %u", g->n, n);
}

Test(venue, answers, .timeout = 90)
{
	const char *rd = bin("RINGFIXD"), *rf = bin("RINGFIX");
	char dir[256], path[512], log[512], cfg[1024], venue[32], bank[32];
	snprintf(dir, sizeof(dir), "%s/rfx-venue.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert(mkdtemp(dir));
	int port = free_port();
	snprintf(venue, sizeof(venue), "tvv%d", (int)getpid());
	snprintf(bank, sizeof(bank), "tvb%d", (int)getpid());
	const char *common = "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=5\n"
			     "UseDataDictionary=N\n";

	snprintf(cfg, sizeof(cfg),
		 "%s[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=VENUE\n"
		 "TargetCompID=BANK\nSocketAcceptPort=%d\n[ENGINE]\nInstanceName=%s\n"
		 "StorePath=%s/vs\nIdleStrategy=block\n", common, port, venue, dir);
	snprintf(path, sizeof(path), "%s/venue.cfg", dir);
	FILE *f = fopen(path, "w");
	fputs(cfg, f);
	fclose(f);
	snprintf(log, sizeof(log), "%s/venue.log", dir);
	pid_t vpid = spawn(log, (char *[]){(char *)rd, path, NULL});
	wait_log(log, "serving", 10000);
	snprintf(log, sizeof(log), "%s/sim.log", dir);
	pid_t spid = spawn(log, (char *[]){(char *)rf, "venue", "--instance", venue, "--partials",
					   "2", "--fill-ratio", "0.5", "--seed", "1", NULL});
	wait_log(log, "bound", 10000);

	snprintf(cfg, sizeof(cfg),
		 "%s[SESSION]\nConnectionType=initiator\nBeginString=FIX.4.4\nSenderCompID=BANK\n"
		 "TargetCompID=VENUE\nSocketConnectHost=127.0.0.1\nSocketConnectPort=%d\n"
		 "ReconnectInterval=1\n[ENGINE]\nInstanceName=%s\nStorePath=%s/bs\n"
		 "IdleStrategy=block\n", common, port, bank, dir);
	snprintf(path, sizeof(path), "%s/bank.cfg", dir);
	f = fopen(path, "w");
	fputs(cfg, f);
	fclose(f);
	snprintf(log, sizeof(log), "%s/bank.log", dir);
	pid_t bpid = spawn(log, (char *[]){(char *)rd, path, NULL});
	wait_log(log, "serving", 10000);

	struct rfx_client *c;
	cr_assert_eq(rfx_client_attach(&c, bank, NULL), 0);
	int s = rfx_bind(c, "FIX.4.4:BANK->VENUE", 0);
	cr_assert_geq(s, 0);
	static struct got g;
	struct rfx_session_status st = {0};
	int64_t end = now_ms() + 15000;
	while (now_ms() < end && !(rfx_session_status(c, s, &st) == 0 && st.state == RFX_SESSION_ACTIVE))
		if (rfx_poll(c, &handler, &g, 64) == 0)
			rfx_wait(c, 1000000);
	cr_assert_eq(st.state, RFX_SESSION_ACTIVE, "bank not logged on");

	/* Which of the first orders fill is the seed's business; find out. */
	char out[16];
	FILE *p = popen("\"$RINGFIX\" venue --expect 1 --fill-ratio 0.5 --seed 1", "r");
	cr_assert(p && fgets(out, sizeof(out), p));
	pclose(p);
	bool first_fills = atoi(out) == 1;
	p = popen("\"$RINGFIX\" venue --expect 2 --fill-ratio 0.5 --seed 1", "r");
	cr_assert(p && fgets(out, sizeof(out), p));
	pclose(p);
	bool second_fills = atoi(out) - (first_fills ? 1 : 0) == 1;

	/* Order A: 1.5 @ 10.25, so the partials split 15 tenths: 5, 5, 5. */
	send_body(c, s, "35=D\00111=A\00155=XYZ\00154=1\00160=20260101-00:00:00\00138=1.5\00140=2\00144=10.25\001");
	unsigned want = first_fills ? 4 : 1;
	wait_msgs(c, &g, want);
	cr_expect_eq(g.type[0], '8');
	cr_expect_eq(g.exec_type[0], '0');
	cr_expect_eq(g.status[0], '0');
	cr_expect_str_eq(g.leaves[0], "1.5");
	cr_expect_str_eq(g.cum[0], "0.0"); /* at the order quantity's scale */
	cr_expect_str_eq(g.avg[0], "0");
	cr_expect_str_eq(g.clid[0], "A");
	cr_expect(g.order_id[0][0] && g.exec_id[0][0]);
	if (first_fills) {
		const char *cum[] = {"0.5", "1.0", "1.5"}, *leaves[] = {"1.0", "0.5", "0.0"};
		for (unsigned i = 1; i < 4; i++) {
			cr_expect_eq(g.exec_type[i], 'F');
			cr_expect_eq(g.status[i], i < 3 ? '1' : '2');
			cr_expect_str_eq(g.last_qty[i], "0.5");
			cr_expect_str_eq(g.last_px[i], "10.25");
			cr_expect_str_eq(g.avg[i], "10.25");
			cr_expect_str_eq(g.cum[i], cum[i - 1]);
			cr_expect_str_eq(g.leaves[i], leaves[i - 1]);
			cr_expect_str_eq(g.order_id[i], g.order_id[0]);
			for (unsigned j = 0; j < i; j++)
				cr_expect_str_neq(g.exec_id[i], g.exec_id[j], "ExecID unique");
		}
	}
	/* Order B, then cancel it: canceled if it rests, cancel-rejected (too late) if filled. */
	unsigned base = g.n;
	send_body(c, s, "35=D\00111=B\00155=XYZ\00154=2\00160=20260101-00:00:00\00138=100\00140=1\001");
	wait_msgs(c, &g, base + (second_fills ? 4 : 1));
	cr_expect_eq(g.exec_type[base], '0');
	base = g.n;
	send_body(c, s, "35=F\00141=B\00111=B-c\00155=XYZ\00154=2\00160=20260101-00:00:00\00138=100\001");
	wait_msgs(c, &g, base + 1);
	if (second_fills) {
		cr_expect_eq(g.type[base], '9');
		cr_expect_eq(g.reason[base], '0');
		cr_expect_eq(g.status[base], '2');
	} else {
		cr_expect_eq(g.type[base], '8');
		cr_expect_eq(g.exec_type[base], '4');
		cr_expect_eq(g.status[base], '4');
		cr_expect_str_eq(g.orig[base], "B");
		cr_expect_str_eq(g.clid[base], "B-c");
		cr_expect_str_eq(g.leaves[base], "0");
	}
	/* A filled order cannot be canceled: OrderCancelReject 102=0 (too late). */
	if (first_fills) {
		base = g.n;
		send_body(c, s, "35=F\00141=A\00111=A-c\00155=XYZ\00154=1\00160=20260101-00:00:00\00138=1.5\001");
		wait_msgs(c, &g, base + 1);
		cr_expect_eq(g.type[base], '9');
		cr_expect_eq(g.reason[base], '0');
		cr_expect_eq(g.status[base], '2');
	}
	/* Seed 1 fills the first order and rests the second: both paths above run. */
	cr_expect(first_fills && !second_fills, "seed 1 no longer covers fill and cancel");
	/* Unknown order: OrderCancelReject 102=1. */
	base = g.n;
	send_body(c, s, "35=F\00141=nope\00111=n-c\00155=XYZ\00154=2\00160=20260101-00:00:00\00138=1\001");
	wait_msgs(c, &g, base + 1);
	cr_expect_eq(g.type[base], '9');
	cr_expect_eq(g.reason[base], '1');
	cr_expect_str_eq(g.orig[base], "nope");
	/* Duplicate ClOrdID and missing OrderQty: reject ERs. */
	base = g.n;
	send_body(c, s, "35=D\00111=A\00155=XYZ\00154=1\00160=20260101-00:00:00\00138=1\00140=1\001");
	send_body(c, s, "35=D\00111=Q\00155=XYZ\00154=1\00160=20260101-00:00:00\00140=1\001");
	/* An unsupported message type: BusinessMessageReject 380=3. */
	send_body(c, s, "35=AE\001571=r1\001");
	wait_msgs(c, &g, base + 3);
	cr_expect_eq(g.exec_type[base], '8');
	cr_expect_str_eq(g.clid[base], "A");
	cr_expect_eq(g.exec_type[base + 1], '8');
	cr_expect_str_eq(g.clid[base + 1], "Q");
	cr_expect_eq(g.type[base + 2], 'j');
	cr_expect_eq(g.reason[base + 2], '3');

	rfx_client_detach(c);
	cr_expect_eq(stop(bpid), 0, "bank ringfixd exit status");
	cr_expect_eq(stop(spid), 0, "ringfix venue exit status");
	cr_expect_eq(stop(vpid), 0, "venue ringfixd exit status");
	snprintf(cfg, sizeof(cfg), "rm -rf '%s'", dir);
	cr_expect_eq(system(cfg), 0);
}
