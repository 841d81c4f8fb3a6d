/*
 * Integration: real ringfixd processes on loopback.
 *
 *   venue:  ringfixd (acceptor FIX.4.4:VENUE->BANK) + ringfix echo
 *   bank:   ringfixd (initiator FIX.4.4:BANK->VENUE) + this test as the
 *           libringfix strategy
 *
 * The strategy sends orders through the bank instance and gets each one
 * back from the venue's echo. Binaries come from RINGFIXD / RINGFIX
 * (set by meson); every test uses its own ports, instance names and store
 * directory and stops what it started.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "shm/ringfix.h"
#include "tests/integration/proc.h"
#include "shm/segment.h"

struct env {
	char dir[256];
	char venue[32], bank[32];
	int port;
	pid_t venue_pid, echo_pid, bank_pid;
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

static void start_opts(struct env *e, bool with_echo, const char *venue_engine);

static void start(struct env *e)
{
	start_opts(e, true, "");
}

static void start_opts(struct env *e, bool with_echo, const char *venue_engine)
{
	const char *rd = bin("RINGFIXD"), *ringfix = bin("RINGFIX");
	char path[512], cfg[2048];
	snprintf(e->dir, sizeof(e->dir), "%s/rfx-it.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert(mkdtemp(e->dir));
	e->port = free_port();
	unsigned tag = (unsigned)getpid() * 7919u + (unsigned)now_ms();
	snprintf(e->venue, sizeof(e->venue), "itv%u", tag % 1000000u);
	snprintf(e->bank, sizeof(e->bank), "itb%u", tag % 1000000u);

	venue_settings(cfg, sizeof(cfg), e->port, e->venue, e->dir, venue_engine);
	snprintf(path, sizeof(path), "%s/venue.cfg", e->dir);
	write_file(path, cfg);
	char log[512];
	snprintf(log, sizeof(log), "%s/venue.log", e->dir);
	e->venue_pid = spawn(log, (char *[]){(char *)rd, path, NULL});
	wait_log(log, "serving", 10000);
	if (with_echo) {
		char elog[512];
		snprintf(elog, sizeof(elog), "%s/echo.log", e->dir);
		e->echo_pid = spawn(elog, (char *[]){(char *)ringfix, "echo", "--instance", e->venue, NULL});
		wait_log(elog, "bound", 10000);
	}

	bank_settings(cfg, sizeof(cfg), e->port, e->bank, e->dir, "");
	snprintf(path, sizeof(path), "%s/bank.cfg", e->dir);
	write_file(path, cfg);
	snprintf(log, sizeof(log), "%s/bank.log", e->dir);
	e->bank_pid = spawn(log, (char *[]){(char *)rd, path, NULL});
	wait_log(log, "serving", 10000);
}

static void finish(struct env *e)
{
	cr_expect_eq(stop(e->bank_pid), 0, "bank ringfixd exit status");
	cr_expect_eq(stop(e->echo_pid), 0, "echo exit status");
	cr_expect_eq(stop(e->venue_pid), 0, "venue ringfixd exit status");
	remove_dir(e->dir);
}

struct strat {
	unsigned orders_back;
	unsigned logons;
	uint64_t last_seq;
};

static void st_msg(void *ctx, const struct rfx_message *m)
{
	struct strat *s = ctx;
	if (m->msg_type_len == 1 && m->msg_type[0] == 'D')
		s->orders_back++;
	s->last_seq = m->seq;
}

static void st_event(void *ctx, const struct rfx_event *ev)
{
	struct strat *s = ctx;
	if (ev->type == RFX_EV_LOGON)
		s->logons++;
}

static const struct rfx_handler handler = {st_msg, st_event, NULL};

/* Attach (retrying while the shard starts), bind, wait until logged on. */
static int attach_logged_on(struct env *e, struct rfx_client **c, struct strat *s)
{
	int rc = -1;
	int64_t end = now_ms() + 15000;
	while ((rc = rfx_client_attach(c, e->bank, NULL)) < 0) {
		cr_assert(now_ms() < end, "attach: %s", rfx_strerror(rc));
		usleep(50000);
	}
	int h;
	/* A shard publishes its segment before its sessions: a client that
	 * attaches right after a (re)start may have to wait for the entry. */
	while ((h = rfx_bind(*c, "FIX.4.4:BANK->VENUE", 0)) == RFX_ENOSESSION && now_ms() < end)
		usleep(20000);
	cr_assert_geq(h, 0, "bind: %s", rfx_strerror(h));
	struct rfx_session_status st = {0};
	for (;;) {
		rc = rfx_poll(*c, &handler, s, 64);
		cr_assert_geq(rc, 0, "poll: %s", rfx_strerror(rc));
		if (rfx_session_status(*c, h, &st) == 0 && st.state == RFX_SESSION_ACTIVE)
			break;
		cr_assert(now_ms() < end, "not logged on (state %u)", st.state);
		usleep(10000);
	}
	return h;
}

static void order_flow(struct rfx_client *c, int h, struct strat *s, unsigned n)
{
	unsigned want = s->orders_back + n;
	for (unsigned i = 0; i < n; i++) {
		char body[256];
		int len = snprintf(body, sizeof(body),
				   "35=D\00111=ord-%u-%u\00121=1\00155=ABC\00154=1\001"
				   "60=20260101-00:00:00\00140=1\00138=100\001",
				   (unsigned)getpid(), i);
		int rc;
		while ((rc = rfx_send(c, h, body, (uint32_t)len, i, 0)) == RFX_EFULL)
			rfx_poll(c, &handler, s, 64);
		cr_assert_eq(rc, 0, "send: %s", rfx_strerror(rc));
	}
	int64_t end = now_ms() + 10000;
	while (s->orders_back < want) {
		int rc = rfx_poll(c, &handler, s, 64);
		cr_assert_geq(rc, 0, "poll: %s", rfx_strerror(rc));
		cr_assert(now_ms() < end, "%u of %u orders came back", s->orders_back, want);
		if (rc == 0)
			usleep(1000);
	}
}

Test(engine, initiator_acceptor_order_flow_logout, .timeout = 60)
{
	struct env e = {0};
	struct strat s = {0};
	struct rfx_client *c = NULL;
	start(&e);
	int h = attach_logged_on(&e, &c, &s);
	order_flow(c, h, &s, 100);
	cr_expect_eq(s.orders_back, 100);
	rfx_client_detach(c);
	cr_expect_eq(stop(e.bank_pid), 0, "bank ringfixd exit status");
	e.bank_pid = 0;
	/* SIGTERM ran the Logout handshake: the venue saw the session end. */
	char log[512];
	snprintf(log, sizeof(log), "%s/venue.log", e.dir);
	wait_log(log, "FIX.4.4:VENUE->BANK: logout", 5000);
	finish(&e);
}

static int connect_port(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_fix(int fd, const char *begin, const char *body)
{
	char msg[1024];
	int n = snprintf(msg, sizeof(msg), "8=%s\0019=%zu\001%s", begin, strlen(body), body);
	unsigned sum = 0;
	for (int i = 0; i < n; i++)
		sum += (unsigned char)msg[i];
	n += snprintf(msg + n, sizeof(msg) - (size_t)n, "10=%03u\001", sum % 256);
	cr_assert_eq(write(fd, msg, (size_t)n), n);
}

/* The acceptor's allow-list: a Logon for a session it does not have is
 * dropped without a word; garbage is ignored; the shard keeps serving. */
Test(engine, unknown_session_and_garbage_are_refused, .timeout = 60)
{
	struct env e = {0};
	struct strat s = {0};
	struct rfx_client *c = NULL;
	char buf[256];
	start(&e);
	int fd = connect_port(e.port);
	send_fix(fd, "FIX.4.4", "35=A\00134=1\00149=INTRUDER\00152=20260101-00:00:00\001"
		 "56=VENUE\00198=0\001108=30\001");
	cr_expect_eq(read(fd, buf, sizeof(buf)), 0, "expected a silent close");
	close(fd);
	fd = connect_port(e.port);
	const char junk[] = "\x01\x02garbage 8=FIX.4.4\0019=abc\001 more garbage\n";
	cr_assert_eq(write(fd, junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
	close(fd);
	/* The real session is still served. */
	int h = attach_logged_on(&e, &c, &s);
	order_flow(c, h, &s, 5);
	rfx_client_detach(c);
	finish(&e);
}

Test(engine, shard_sigkill_restarts_and_sequence_continues, .timeout = 90)
{
	struct env e = {0};
	struct strat s = {0};
	struct rfx_client *c = NULL;
	start(&e);
	int h = attach_logged_on(&e, &c, &s);
	order_flow(c, h, &s, 20);
	struct rfx_session_status before;
	cr_assert_eq(rfx_session_status(c, h, &before), 0);

	/* Kill the bank's shard (pid from its segment header). */
	struct rfx_seg seg;
	cr_assert_eq(rfx_seg_open(&seg, e.bank, 0), 0);
	pid_t shard = (pid_t)atomic_load(&seg.hdr->shard_pid);
	rfx_seg_close(&seg);
	cr_assert_gt(shard, 0);
	cr_assert_eq(kill(shard, SIGKILL), 0);
	int rc;
	int64_t end = now_ms() + 10000;
	while ((rc = rfx_poll(c, &handler, &s, 64)) >= 0) {
		cr_assert(now_ms() < end, "the client never saw the shard die");
		usleep(10000);
	}
	cr_expect(rc == RFX_EDEAD || rc == RFX_EDETACHED, "poll after kill: %s", rfx_strerror(rc));
	rfx_client_detach(c);

	char log[512];
	snprintf(log, sizeof(log), "%s/bank.log", e.dir);
	wait_log(log, "restarted", 15000);
	c = NULL;
	h = attach_logged_on(&e, &c, &s);
	struct rfx_session_status after;
	cr_assert_eq(rfx_session_status(c, h, &after), 0);
	/* The store kept the sequence numbers: no reset to 1. */
	cr_expect_gt(after.next_sender_seq, before.next_sender_seq,
		     "next sender seq %llu after restart, %llu before",
		     (unsigned long long)after.next_sender_seq,
		     (unsigned long long)before.next_sender_seq);
	order_flow(c, h, &s, 20);
	rfx_client_detach(c);
	finish(&e);
}

struct venue_app {
	uint64_t next;     /* next MsgSeqNum expected */
	unsigned orders, out_of_order;
};

static void va_msg(void *ctx, const struct rfx_message *m)
{
	struct venue_app *v = ctx;
	if (!(m->msg_type_len == 1 && m->msg_type[0] == 'D'))
		return;
	if (v->next && m->seq != v->next)
		v->out_of_order++;
	v->next = m->seq + 1;
	v->orders++;
}

/* A venue client that does not poll while orders stream in: its 4 KiB ring
 * fills, delivery pauses and resumes from the store; every order arrives
 * exactly once and in sequence. */
Test(engine, full_client_ring_pauses_and_resumes_from_store, .timeout = 90)
{
	struct env e = {0};
	struct strat s = {0};
	struct venue_app v = {0};
	struct rfx_client *c = NULL, *vc = NULL;
	start_opts(&e, false, "FromShardRingSize=4096\n");
	int rc = rfx_client_attach(&vc, e.venue, NULL);
	cr_assert_eq(rc, 0, "venue attach: %s", rfx_strerror(rc));
	int vh = rfx_bind(vc, "FIX.4.4:VENUE->BANK", 0);
	cr_assert_geq(vh, 0);
	const struct rfx_handler vhd = {va_msg, NULL, NULL};
	int64_t end = now_ms() + 5000;
	while (rfx_poll(vc, &vhd, &v, 64) == 0 && now_ms() < end)
		usleep(1000); /* the BOUND event */
	int h = attach_logged_on(&e, &c, &s);
	const unsigned n = 500;
	for (unsigned i = 0; i < n; i++) {
		char body[256];
		int len = snprintf(body, sizeof(body),
				   "35=D\00111=o%u\00121=1\00155=ABC\00154=1\001"
				   "60=20260101-00:00:00\00140=1\00138=100\001", i);
		while ((rc = rfx_send(c, h, body, (uint32_t)len, i, 0)) == RFX_EFULL)
			rfx_poll(c, &handler, &s, 64);
		cr_assert_eq(rc, 0, "send: %s", rfx_strerror(rc));
	}
	/* Let them all reach the venue's shard before reading. */
	usleep(500000);
	end = now_ms() + 20000;
	while (v.orders < n && now_ms() < end) {
		rc = rfx_poll(vc, &vhd, &v, 64);
		cr_assert_geq(rc, 0, "venue poll: %s", rfx_strerror(rc));
		rfx_poll(c, &handler, &s, 64);
		if (rc == 0)
			usleep(1000);
	}
	cr_expect_eq(v.orders, n, "%u of %u orders delivered", v.orders, n);
	cr_expect_eq(v.out_of_order, 0);
	usleep(100000);
	rfx_poll(vc, &vhd, &v, 64);
	cr_expect_eq(v.orders, n, "duplicates delivered");
	struct rfx_seg seg;
	cr_assert_eq(rfx_seg_open(&seg, e.venue, 0), 0);
	uint64_t full = atomic_load(&rfx_seg_counters(&seg)[RFX_CTR_RING_FULL]);
	rfx_seg_close(&seg);
	cr_expect_gt(full, 0, "the venue client's ring never filled: the test proved nothing");
	rfx_client_detach(c);
	rfx_client_detach(vc);
	finish(&e);
}

/* SIGHUP with a session added: the venue's shard restarts with it, the
 * existing session logs back on with its sequence numbers. */
Test(engine, sighup_adds_a_session, .timeout = 90)
{
	struct env e = {0};
	struct strat s = {0};
	struct rfx_client *c = NULL;
	start(&e);
	int h = attach_logged_on(&e, &c, &s);
	order_flow(c, h, &s, 5);
	struct rfx_session_status before;
	cr_assert_eq(rfx_session_status(c, h, &before), 0);

	char path[512], cfg[1024];
	snprintf(path, sizeof(path), "%s/venue.cfg", e.dir);
	snprintf(cfg, sizeof(cfg),
		 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=5\n"
		 "UseDataDictionary=N\n"
		 "[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=VENUE\n"
		 "TargetCompID=BANK\nSocketAcceptPort=%d\n"
		 "[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=VENUE\n"
		 "TargetCompID=BANK2\nSocketAcceptPort=%d\n"
		 "[ENGINE]\nInstanceName=%s\nStorePath=%s/venue-store\nIdleStrategy=block\n",
		 e.port, e.port, e.venue, e.dir);
	write_file(path, cfg);
	cr_assert_eq(kill(e.venue_pid, SIGHUP), 0);
	char log[512];
	snprintf(log, sizeof(log), "%s/venue.log", e.dir);
	wait_log(log, "settings reloaded, 1 shard(s) restarted", 15000);
	wait_log(log, "serving 2 sessions", 15000);
	struct rfx_seg seg;
	cr_assert_eq(rfx_seg_open(&seg, e.venue, 0), 0);
	cr_expect_geq(rfx_seg_dir_find(&seg, "FIX.4.4:VENUE->BANK2"), 0);
	rfx_seg_close(&seg);

	/* The echo app was detached by the restart; bring it back. */
	stop(e.echo_pid);
	char elog[512];
	snprintf(elog, sizeof(elog), "%s/echo2.log", e.dir);
	e.echo_pid = spawn(elog, (char *[]){(char *)bin("RINGFIX"), "echo", "--instance", e.venue, NULL});
	wait_log(elog, "bound 2 sessions", 10000);
	/* The bank's session logs back on by itself (ReconnectInterval=1). */
	int64_t end = now_ms() + 20000;
	struct rfx_session_status st = {0};
	do {
		cr_assert(now_ms() < end, "bank session did not log back on");
		rfx_poll(c, &handler, &s, 64);
		usleep(20000);
	} while (rfx_session_status(c, h, &st) != 0 || st.state != RFX_SESSION_ACTIVE ||
		 st.next_sender_seq <= before.next_sender_seq);
	order_flow(c, h, &s, 5);
	rfx_client_detach(c);
	finish(&e);
}

/* Sessions logged on in one instance (both shards), from the directories. */
static unsigned active_sessions(const char *instance, unsigned shards)
{
	unsigned n = 0;
	for (unsigned sh = 0; sh < shards; sh++) {
		struct rfx_seg seg;
		if (rfx_seg_open(&seg, instance, sh) < 0)
			continue;
		for (uint32_t i = 0; i < seg.max_sessions; i++) {
			struct rfx_session_info info;
			if (rfx_seg_dir_read(&seg, i, &info) == 0 && info.state == RFX_SESSION_ACTIVE)
				n++;
		}
		rfx_seg_close(&seg);
	}
	return n;
}

/* Many sessions across two shards on each side (RFX_TEST_SESSIONS, default
 * 1000: ~1.5 s here, ~2 s under ASan): every one logs on, and all log out on
 * SIGTERM. */
Test(engine, many_sessions_two_shards, .timeout = 180)
{
	const char *rd = bin("RINGFIXD");
	unsigned n = getenv("RFX_TEST_SESSIONS") ? (unsigned)atoi(getenv("RFX_TEST_SESSIONS")) : 1000;
	struct env e = {0};
	snprintf(e.dir, sizeof(e.dir), "%s/rfx-it.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert(mkdtemp(e.dir));
	e.port = free_port();
	unsigned tag = (unsigned)getpid() * 7919u + (unsigned)now_ms();
	snprintf(e.venue, sizeof(e.venue), "mv%u", tag % 1000000u);
	snprintf(e.bank, sizeof(e.bank), "mb%u", tag % 1000000u);
	size_t cap = 1024 + (size_t)n * 200;
	char *vcfg = malloc(cap), *bcfg = malloc(cap);
	cr_assert(vcfg && bcfg);
	/* The venue serves one port per shard (acceptor sessions of a port
	 * share its shard); the bank's initiators spread by hash. */
	int port2 = free_port();
	size_t vl = (size_t)snprintf(vcfg, cap,
		"[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\nUseDataDictionary=N\n"
		"ConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=VENUE\n"
		"[ENGINE]\nInstanceName=%s\nStorePath=%s/venue-store\nIdleStrategy=block\nShards=2\n"
		"FromShardRingSize=65536\nToShardRingSize=65536\n",
		e.venue, e.dir);
	size_t bl = (size_t)snprintf(bcfg, cap,
		"[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\nUseDataDictionary=N\n"
		"ConnectionType=initiator\nBeginString=FIX.4.4\nTargetCompID=VENUE\n"
		"SocketConnectHost=127.0.0.1\nReconnectInterval=1\n"
		"[ENGINE]\nInstanceName=%s\nStorePath=%s/bank-store\nIdleStrategy=block\nShards=2\n"
		"FromShardRingSize=65536\nToShardRingSize=65536\n",
		e.bank, e.dir);
	for (unsigned i = 0; i < n; i++) {
		int p = i % 2 ? port2 : e.port;
		vl += (size_t)snprintf(vcfg + vl, cap - vl,
				       "[SESSION]\nTargetCompID=B%05u\nSocketAcceptPort=%d\nShard=%u\n",
				       i, p, i % 2);
		bl += (size_t)snprintf(bcfg + bl, cap - bl,
				       "[SESSION]\nSenderCompID=B%05u\nSocketConnectPort=%d\n", i, p);
	}
	char path[600], log[600];
	snprintf(path, sizeof(path), "%s/venue.cfg", e.dir);
	write_file(path, vcfg);
	snprintf(log, sizeof(log), "%s/venue.log", e.dir);
	e.venue_pid = spawn(log, (char *[]){(char *)rd, path, NULL});
	wait_log(log, "shard 1: serving", 30000);
	wait_log(log, "shard 0: serving", 30000);
	snprintf(path, sizeof(path), "%s/bank.cfg", e.dir);
	write_file(path, bcfg);
	snprintf(log, sizeof(log), "%s/bank.log", e.dir);
	e.bank_pid = spawn(log, (char *[]){(char *)rd, path, NULL});
	free(vcfg);
	free(bcfg);
	int64_t end = now_ms() + 120000;
	unsigned up = 0;
	while ((up = active_sessions(e.bank, 2)) < n && now_ms() < end)
		usleep(100000);
	cr_expect_eq(up, n, "%u of %u bank sessions logged on", up, n);
	cr_expect_eq(active_sessions(e.venue, 2), n);
	finish(&e);
}
