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
	unsigned out_of_order;  /* a MsgSeqNum not above the previous one */
};

static void st_msg(void *ctx, const struct rfx_message *m)
{
	struct strat *s = ctx;
	if (m->msg_type_len == 1 && m->msg_type[0] == 'D')
		s->orders_back++;
	if (m->seq <= s->last_seq)
		s->out_of_order++;
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

/* Sends n NewOrderSingles and polls with hd/ctx until *answers (counted
 * by hd) has grown by n. */
static void flow(struct rfx_client *c, int h, const struct rfx_handler *hd, void *ctx,
		 const unsigned *answers, unsigned n)
{
	unsigned want = *answers + n;
	for (unsigned i = 0; i < n; i++) {
		char body[256];
		int len = snprintf(body, sizeof(body),
				   "35=D\00111=ord-%u-%u-%u\00121=1\00155=ABC\00154=1\001"
				   "60=20260101-00:00:00\00140=1\00138=100\001",
				   (unsigned)getpid(), want, i);
		int rc;
		while ((rc = rfx_send(c, h, body, (uint32_t)len, i, 0)) == RFX_EFULL)
			rfx_poll(c, hd, ctx, 64);
		cr_assert_eq(rc, 0, "send: %s", rfx_strerror(rc));
	}
	int64_t end = now_ms() + 10000;
	while (*answers < want) {
		int rc = rfx_poll(c, hd, ctx, 64);
		cr_assert_geq(rc, 0, "poll: %s", rfx_strerror(rc));
		cr_assert(now_ms() < end, "%u of %u orders answered", *answers - (want - n), n);
		if (rc == 0)
			usleep(1000);
	}
}

/* Orders echoed back by `ringfix echo` at the venue. */
static void order_flow(struct rfx_client *c, int h, struct strat *s, unsigned n)
{
	flow(c, h, &handler, s, &s->orders_back, n);
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

/* A framed FIX message; a CheckSum off by `ck_delta` when that is not 0. */
static void send_fix_ck(int fd, const char *begin, const char *body, unsigned ck_delta)
{
	char msg[1024];
	int n = snprintf(msg, sizeof(msg), "8=%s\0019=%zu\001%s", begin, strlen(body), body);
	unsigned sum = ck_delta;
	for (int i = 0; i < n; i++)
		sum += (unsigned char)msg[i];
	n += snprintf(msg + n, sizeof(msg) - (size_t)n, "10=%03u\001", sum % 256);
	cr_assert_eq(write(fd, msg, (size_t)n), n);
}

static void send_fix(int fd, const char *begin, const char *body)
{
	send_fix_ck(fd, begin, body, 0);
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

/* ---- strategy crashes: it_strategy killed under traffic ----------------- */

struct journal {
	unsigned fills, sent, failed, replayed;
	uint64_t *seqs;
	char (*ids)[72];
	unsigned cap;
};

/* Reads an it_strategy journal: "F seq id flags" (strategy), "E id" (venue),
 * "X tag reason" (send failure). */
static void journal_read(const char *path, struct journal *j)
{
	FILE *f = fopen(path, "r");
	char line[256];
	memset(j, 0, sizeof(*j));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long seq;
		unsigned flags;
		char id[72];
		if (j->fills + j->sent == j->cap) {
			j->cap = j->cap ? 2 * j->cap : 1024;
			j->seqs = realloc(j->seqs, j->cap * sizeof(*j->seqs));
			j->ids = realloc(j->ids, j->cap * sizeof(*j->ids));
			cr_assert(j->seqs && j->ids);
		}
		unsigned k = j->fills + j->sent;
		if (sscanf(line, "F %llu %71s %u", &seq, id, &flags) == 3) {
			j->seqs[k] = seq;
			strcpy(j->ids[k], id);
			j->fills++;
			j->replayed += (flags & RFX_MSG_REPLAY) != 0;
		} else if (sscanf(line, "E %71s", id) == 1) {
			j->seqs[k] = 0;
			strcpy(j->ids[k], id);
			j->sent++;
		} else if (line[0] == 'X') {
			j->failed++;
		} else {
			cr_assert_fail("%s: bad journal line '%s'", path, line);
		}
	}
	fclose(f);
}

static void journal_free(struct journal *j)
{
	free(j->seqs);
	free(j->ids);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static pid_t spawn_strategy(const char *mode, const char *instance, const char *session,
			    const char *journal, const char *orders, const char *log)
{
	return spawn(log, (char *[]){(char *)bin("IT_STRATEGY"), (char *)mode, (char *)instance,
				     (char *)session, (char *)journal, (char *)orders, NULL});
}

/* Strategy processes SIGKILLed at random moments while orders and fills
 * flow (RFX_TEST_KILLS, default 25): each successor binds at once (the
 * dead holder's binding is reclaimed on the spot, no -EBUSY), replays from
 * its journal, and in the end every fill the venue sent is in the journal
 * exactly once — no loss, no duplicate, whatever the kills hit. */
Test(engine, strategy_sigkill_every_fill_exactly_once, .timeout = 180)
{
	struct env e = {0};
	char vj[600], sj[600], log[600];
	unsigned kills = getenv("RFX_TEST_KILLS") ? (unsigned)atoi(getenv("RFX_TEST_KILLS")) : 25;
	start_opts(&e, false, "");
	snprintf(vj, sizeof(vj), "%s/venue.journal", e.dir);
	snprintf(sj, sizeof(sj), "%s/strategy.journal", e.dir);
	snprintf(log, sizeof(log), "%s/venue-app.log", e.dir);
	pid_t venue_app = spawn_strategy("venue", e.venue, "FIX.4.4:VENUE->BANK", vj, "0", log);
	wait_log(log, "bound", 10000);

	unsigned seed = (unsigned)now_ms();
	fprintf(stderr, "strategy_sigkill: seed %u, %u kills\n", seed, kills);
	srand(seed);
	for (unsigned i = 0; i < kills; i++) {
		snprintf(log, sizeof(log), "%s/strategy-%u.log", e.dir, i);
		pid_t p = spawn_strategy("strat", e.bank, "FIX.4.4:BANK->VENUE", sj, "1000000",
					 log);
		if (i == 0) {
			/* Let the session log on and the traffic start. */
			wait_log(log, "bound", 10000);
			usleep(1000000);
		} else {
			usleep(20000 + (useconds_t)(rand() % 180) * 1000);
		}
		cr_assert_eq(kill(p, SIGKILL), 0);
		int st;
		cr_assert_eq(waitpid(p, &st, 0), p);
		cr_assert(WIFSIGNALED(st), "strategy %u exited on its own (status %d), see %s", i,
			  st, log);
		cr_assert(!log_has(log, "bind failed"), "strategy %u could not bind, see %s", i, log);
	}
	/* The survivor sends nothing more, it only catches up. */
	snprintf(log, sizeof(log), "%s/strategy-last.log", e.dir);
	pid_t last = spawn_strategy("strat", e.bank, "FIX.4.4:BANK->VENUE", sj, "0", log);
	wait_log(log, "bound", 10000);

	/* Every fill the venue sent reaches the journal. */
	struct journal v, s;
	int64_t end = now_ms() + 30000;
	for (;;) {
		journal_read(vj, &v);
		journal_read(sj, &s);
		if (s.fills >= v.sent || now_ms() > end)
			break;
		journal_free(&v);
		journal_free(&s);
		usleep(100000);
	}
	usleep(300000); /* anything more would be a duplicate */
	journal_free(&s);
	journal_read(sj, &s);
	cr_expect_eq(stop(last), 0, "last strategy exit status");
	cr_expect_eq(stop(venue_app), 0, "venue app exit status");
	fprintf(stderr, "strategy_sigkill: %u fills sent, %u journaled (%u replayed)\n", v.sent,
		s.fills, s.replayed);
	cr_expect_eq(v.failed, 0, "the venue app saw %u send failures", v.failed);
	cr_expect_gt(v.sent, 200, "too little traffic (%u fills) to prove anything", v.sent);
	cr_expect_gt(s.replayed, 0, "no fill was ever replayed: the kills proved nothing");
	cr_expect_eq(s.fills, v.sent, "%u fills journaled, %u sent", s.fills, v.sent);
	/* No MsgSeqNum twice, no ExecID twice, and the same ExecIDs. */
	qsort(s.seqs, s.fills, sizeof(*s.seqs), cmp_u64);
	for (unsigned i = 1; i < s.fills; i++)
		cr_expect_neq(s.seqs[i], s.seqs[i - 1], "MsgSeqNum %llu delivered twice",
			      (unsigned long long)s.seqs[i]);
	qsort(s.ids, s.fills, sizeof(*s.ids), cmp_id);
	qsort(v.ids, v.sent, sizeof(*v.ids), cmp_id);
	for (unsigned i = 0; i < s.fills && i < v.sent; i++) {
		cr_expect_str_eq(s.ids[i], v.ids[i], "ExecIDs differ at %u (duplicate or loss)", i);
		if (strcmp(s.ids[i], v.ids[i]))
			break;
	}
	journal_free(&v);
	journal_free(&s);
	finish(&e);
}

/* ---- a hostile peer on the socket --------------------------------------- */

/* Reads from fd until `want` (SOH written as |) is in what arrived since the
 * last call, or fails after ms. Returns the bytes after the match start. */
struct peer_in {
	char buf[16384];
	size_t len, seen;
};

static const char *peer_expect(int fd, struct peer_in *in, const char *want, int ms)
{
	char pat[256];
	size_t pl = strlen(want);
	cr_assert_lt(pl, sizeof(pat));
	for (size_t i = 0; i <= pl; i++)
		pat[i] = want[i] == '|' ? '\001' : want[i];
	int64_t end = now_ms() + ms;
	for (;;) {
		const char *hit = memmem(in->buf + in->seen, in->len - in->seen, pat, pl);
		if (hit) {
			in->seen = (size_t)(hit - in->buf) + pl;
			return hit;
		}
		cr_assert(now_ms() < end, "no '%s' from the shard within %d ms", want, ms);
		cr_assert_lt(in->len, sizeof(in->buf) - 1);
		ssize_t n = read(fd, in->buf + in->len, sizeof(in->buf) - 1 - in->len);
		cr_assert_gt(n, 0, "connection closed while waiting for '%s'", want);
		in->len += (size_t)n;
	}
}

static void utc_now(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, n, "%Y%m%d-%H:%M:%S", &tm);
}

struct fills {
	unsigned n;
	unsigned possdup_replays;
	uint64_t seqs[8];
	uint32_t flags[8];
	unsigned raw;
};

static void fl_msg(void *ctx, const struct rfx_message *m)
{
	struct fills *f = ctx;
	if (m->msg_type_len == 1 && m->msg_type[0] == '8')
		f->n++;
	if (m->msg_type_len == 1 && m->msg_type[0] == 'D' && f->raw < 8) {
		f->seqs[f->raw] = m->seq;
		f->flags[f->raw++] = m->flags;
	}
}

static const struct rfx_handler fills_handler = {fl_msg, NULL, NULL};

/* The bank sends `n` orders, the venue app fills each: every fill returns. */
static void fill_flow(struct rfx_client *c, int h, struct fills *f, unsigned n)
{
	flow(c, h, &fills_handler, f, &f->n, n);
}

/* A logged-on peer that sends malformed messages gets FIX's answers (a
 * garbled message is ignored, a missing SendingTime is rejected with
 * 373=1, a wrong BeginString ends in Logout) while the neighbour session on
 * the same shard keeps trading; its PossDup message keeps the flag when a
 * client replays it from the store. */
Test(engine, malformed_peer_gets_fix_answers_and_shard_survives, .timeout = 90)
{
	struct env e = {0};
	struct strat st = {0};
	struct fills f = {0};
	struct rfx_client *c = NULL;
	char extra[512], log[600], vj[600], body[512], ts[32];
	int port = free_port();
	snprintf(extra, sizeof(extra),
		 "[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=VENUE\n"
		 "TargetCompID=RAW\nSocketAcceptPort=%d\n", port);
	start_opts(&e, false, extra);
	snprintf(vj, sizeof(vj), "%s/venue.journal", e.dir);
	snprintf(log, sizeof(log), "%s/venue-app.log", e.dir);
	pid_t venue_app = spawn_strategy("venue", e.venue, "FIX.4.4:VENUE->BANK", vj, "0", log);
	wait_log(log, "bound", 10000);
	int h = attach_logged_on(&e, &c, &st);
	fill_flow(c, h, &f, 20);

	int fd = connect_port(port);
	struct peer_in in = {0};
	utc_now(ts, sizeof(ts));
	snprintf(body, sizeof(body), "35=A\00134=1\00149=RAW\00152=%s\00156=VENUE\00198=0\001108=30\001",
		 ts);
	send_fix(fd, "FIX.4.4", body);
	peer_expect(fd, &in, "|35=A|", 5000);
	snprintf(body, sizeof(body), "35=D\00134=2\00149=RAW\00152=%s\00156=VENUE\00111=r1\001"
		 "21=1\00155=ABC\00154=1\00160=%s\00140=1\00138=1\001", ts, ts);
	send_fix(fd, "FIX.4.4", body);
	snprintf(body, sizeof(body), "35=D\00134=3\00143=Y\00149=RAW\00152=%s\00156=VENUE\001"
		 "122=%s\00111=r2\00121=1\00155=ABC\00154=1\00160=%s\00140=1\00138=1\001", ts, ts, ts);
	send_fix(fd, "FIX.4.4", body);
	/* Noise between messages, then a CheckSum that does not add up:
	 * garbled, ignored without consuming a sequence number (FIX TC 2d). */
	const char noise[] = "\xff\xfe garbage\001 9=12\001 10=000\001";
	cr_assert_eq(write(fd, noise, sizeof(noise) - 1), (ssize_t)sizeof(noise) - 1);
	snprintf(body, sizeof(body), "35=1\00134=4\00149=RAW\00152=%s\00156=VENUE\001112=BAD\001", ts);
	send_fix_ck(fd, "FIX.4.4", body, 7);
	snprintf(body, sizeof(body), "35=1\00134=4\00149=RAW\00152=%s\00156=VENUE\001112=T1\001", ts);
	send_fix(fd, "FIX.4.4", body);
	peer_expect(fd, &in, "|35=0|", 5000);
	peer_expect(fd, &in, "|112=T1|", 5000);
	cr_expect_null(memmem(in.buf, in.len, "112=BAD", 7), "the garbled TestRequest was answered");
	/* No SendingTime: session-level Reject, RefSeqNum 5, tag 52 required. */
	send_fix(fd, "FIX.4.4", "35=1\00134=5\00149=RAW\00156=VENUE\001112=T2\001");
	peer_expect(fd, &in, "|35=3|", 5000);
	peer_expect(fd, &in, "|45=5|", 1000);
	peer_expect(fd, &in, "|371=52|", 1000);
	peer_expect(fd, &in, "|373=1|", 1000);
	/* The wrong BeginString after Logon: Logout (FIX TC 2i). */
	snprintf(body, sizeof(body), "35=1\00134=6\00149=RAW\00152=%s\00156=VENUE\001112=T3\001", ts);
	send_fix(fd, "FIX.4.2", body);
	peer_expect(fd, &in, "|35=5|", 5000);
	peer_expect(fd, &in, "|58=Incorrect BeginString|", 1000);
	close(fd);

	/* The neighbour session never stopped. */
	fill_flow(c, h, &f, 20);
	snprintf(log, sizeof(log), "%s/venue.log", e.dir);
	cr_expect(!log_has(log, "restarted"), "the venue shard restarted");

	/* A client binding the RAW session replays its orders from the store:
	 * replay flags on both, PossDup kept on the second. */
	struct rfx_client *rc = NULL;
	cr_assert_eq(rfx_client_attach(&rc, e.venue, NULL), 0);
	int rh = rfx_bind(rc, "FIX.4.4:VENUE->RAW", 1);
	cr_assert_geq(rh, 0);
	int64_t end = now_ms() + 5000;
	while (f.raw < 2 && now_ms() < end) {
		cr_assert_geq(rfx_poll(rc, &fills_handler, &f, 64), 0);
		usleep(1000);
	}
	cr_assert_eq(f.raw, 2, "%u of 2 orders replayed", f.raw);
	cr_expect_eq(f.seqs[0], 2);
	cr_expect_eq(f.flags[0], RFX_MSG_REPLAY);
	cr_expect_eq(f.seqs[1], 3);
	cr_expect_eq(f.flags[1], RFX_MSG_REPLAY | RFX_MSG_POSSDUP, "flags %u", f.flags[1]);
	rfx_client_detach(rc);
	rfx_client_detach(c);
	cr_expect_eq(stop(venue_app), 0, "venue app exit status");
	finish(&e);
}

/* ---- a client that writes garbage into its ring -------------------------- */

static unsigned log_count(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* A forked client of `instance` that attaches like any strategy, then
 * breaks its client->shard ring in one of five ways and waits to be
 * killed. */
static pid_t garbage_client(const char *instance, int mode, unsigned seed)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct rfx_client *c;
	struct rfx_seg seg;
	if (rfx_client_attach(&c, instance, NULL) < 0 || rfx_seg_open(&seg, instance, 0) < 0)
		_exit(1);
	srand(seed);
	usleep((useconds_t)(rand() % 20000)); /* somewhere inside the neighbour's flow */
	for (uint32_t i = 0; i < seg.max_clients; i++) {
		struct rfx_slot_ctl *sl = rfx_seg_slot(&seg, i);
		if (RFX_SLOT_PID(atomic_load(&sl->owner)) != getpid())
			continue;
		struct rfx_ring_shm *r = rfx_seg_ring_to_shard(&seg, i);
		/* First a harmless record (an ack of a session it does not hold),
		 * read by the shard: it is served, and the damage below happens
		 * to a ring in use, not before the shard accepted it. */
		if (rfx_ack(c, 0, 0) < 0)
			_exit(1);
		int64_t end = now_ms() + 5000;
		while (atomic_load(&r->head) != atomic_load(&r->tail) && now_ms() < end)
			usleep(1000);
		uint8_t *data = (uint8_t *)r + RFX_RING_HDR_SIZE;
		uint64_t cap = seg.ring_to_shard, tail = atomic_load(&r->tail);
		uint32_t hdr[2];
		struct rfx_ring_producer p;
		switch (mode) {
		case 0: /* random bytes, published */
			for (unsigned k = 0; k < 4096; k++)
				data[(tail + k) & (cap - 1)] = (uint8_t)rand();
			atomic_store(&r->tail, tail + 4096);
			break;
		case 1: /* a record longer than the ring */
			hdr[0] = 0x7ffffff0u;
			hdr[1] = 3; /* RFX_REC_SEND */
			memcpy(data + (tail & (cap - 1)), hdr, sizeof(hdr));
			atomic_store(&r->tail, tail + 16);
			break;
		case 2: /* tail running backwards, below what the shard read */
			atomic_store(&r->tail, tail - 8);
			break;
		case 3: /* a record type nobody knows */
			if (rfx_ring_producer_init(&p, r, cap, 0) == 0) {
				rfx_ring_try_write(&p, 999, "junkjunk", 8);
				rfx_ring_publish(&p);
			}
			break;
		default: { /* a well-formed bind for a session index beyond the directory */
			uint8_t b[80] = {0};
			uint32_t idx = 1u << 20;
			memcpy(b, &idx, sizeof(idx));
			if (rfx_ring_producer_init(&p, r, cap, 0) == 0) {
				rfx_ring_try_write(&p, 1, b, sizeof(b));
				rfx_ring_publish(&p);
			}
			break;
		}
		}
	}
	for (;;)
		pause();
}

/* Five clients, one after the other, each breaking its ring differently
 * while the neighbour strategy streams orders: each is detached with a log
 * line naming what it did wrong, and the neighbour's flow stays complete
 * and in sequence during and after. */
Test(engine, garbage_writing_client_is_detached_and_neighbour_keeps_trading, .timeout = 120)
{
	struct env e = {0};
	struct strat s = {0};
	struct rfx_client *c = NULL;
	char log[512];
	unsigned sent = 0;
	start(&e);
	snprintf(log, sizeof(log), "%s/bank.log", e.dir);
	int h = attach_logged_on(&e, &c, &s);
	order_flow(c, h, &s, 50);
	sent += 50;
	unsigned seed = (unsigned)now_ms();
	fprintf(stderr, "garbage_client: seed %u\n", seed);
	for (int mode = 0; mode < 5; mode++) {
		pid_t g = garbage_client(e.bank, mode, seed + (unsigned)mode);
		order_flow(c, h, &s, 200);
		sent += 200;
		int64_t end = now_ms() + 5000;
		while (log_count(log, "peer violated the ring protocol") < (unsigned)mode + 1) {
			cr_assert(now_ms() < end, "garbage client (mode %d) was not detached", mode);
			order_flow(c, h, &s, 10);
			sent += 10;
		}
		kill(g, SIGKILL);
		waitpid(g, NULL, 0);
		order_flow(c, h, &s, 50);
		sent += 50;
	}
	usleep(100000);
	rfx_poll(c, &handler, &s, 64);
	cr_expect_eq(s.orders_back, sent, "%u orders came back for %u sent", s.orders_back, sent);
	cr_expect_eq(s.out_of_order, 0, "the neighbour saw %u messages out of sequence",
		     s.out_of_order);
	/* Each line says what the client did wrong (random bytes, mode 0, may
	 * fail any of the checks; the count above covers it). */
	static const char *const reasons[] = {
		"record length above the ring's maximum", "tail moved backwards",
		"unknown record type 999", "names session index beyond",
	};
	for (unsigned i = 0; i < 4; i++)
		cr_expect(log_has(log, reasons[i]), "no detach line with '%s' in %s", reasons[i], log);
	/* IdleStrategy=block: the bank shard slept between orders and the
	 * strategy's publishes woke it; `ringfix status` shows how often. */
	char cmd[600], out[4096] = "";
	snprintf(cmd, sizeof(cmd), "'%s' status --instance %s", bin("RINGFIX"), e.bank);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	cr_expect_eq(pclose(p), 0, "ringfix status failed: %s", out);
	const char *wk = strstr(out, "wakeups=");
	cr_assert(wk, "no wakeups counter in: %s", out);
	cr_expect_gt(strtoull(wk + 8, NULL, 10), 0, "the shard was never woken by a client: %s", out);
	rfx_client_detach(c);
	finish(&e);
}
