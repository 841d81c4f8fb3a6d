/*
 * resend_bench: how long a resend of N messages takes, and whether it is
 * right.
 *
 *   resend_bench --ringfixd BIN [--qf-acceptor BIN] [--messages N] [--runs R]
 *                [--durability none,batch,full] [--json FILE] [--quick]
 *
 * Per run and store durability mode: ringfixd is the acceptor of one
 * session; a raw FIX peer (bench/fix_peer.h) logs on; a libringfix client
 * sends N NewOrderSingles through the engine to the peer; then the peer
 * sends ResendRequest(1..0) and the clock runs until the last message of the
 * answer has arrived. Every run checks the answer: the logon and any other
 * admin message gap-filled (SequenceReset 123=Y), every application message
 * again, in order, with PossDup=Y and its original ClOrdID, nothing missing.
 * A failed check exits 1 (the integration suite runs it that way with
 * 50,000 messages). Prints medians with min-max over runs.
 *
 * With --qf-acceptor the same against QuickFIX 1.15.1 with FileStore
 * (bench/qf_acceptor.cpp sends the N orders itself after the logon).
 * --json FILE appends one JSON line (bench/run.sh collects them).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_proc.h"
#include "fix_peer.h"
#include "shm/ringfix.h"

#define MAX_RUNS 15
#define WINDOW 2000u  /* messages sent by the client and not yet seen by the peer */

static void die(const char *what)
{
	fprintf(stderr, "resend_bench: %s\n", what);
	exit(1);
}

/* What the peer saw. */
struct seen {
	bool resending;
	uint64_t live;          /* application messages before the request */
	uint64_t last_live_seq;
	/* The answer: next MsgSeqNum expected, application messages, errors. */
	uint64_t expect, resent, gapfills, end_seq;
	uint64_t errors;
	char first_error[200];
	bool done;
};

static void fail(struct seen *s, const char *what, const char *m, uint32_t len)
{
	if (!s->errors++) {
		int n = snprintf(s->first_error, sizeof(s->first_error), "%s: ", what);
		for (uint32_t i = 0; i < len && n + 1 < (int)sizeof(s->first_error); i++)
			s->first_error[n++] = m[i] == FP_SOH ? '|' : m[i];
		s->first_error[n] = 0;
	}
}

static uint64_t num(const char *m, uint32_t len, const char *tag)
{
	uint32_t vl;
	const char *v = fp_get(m, len, tag, &vl);
	return v ? strtoull(v, NULL, 10) : 0;
}

static void on_msg(void *ctx, struct fp_conn *c, const char *m, uint32_t len)
{
	struct seen *s = ctx;
	(void)c;
	bool app = fp_is(m, len, "35", "D");
	uint64_t seq = num(m, len, "34");
	if (!s->resending) {
		if (app) {
			s->live++;
			s->last_live_seq = seq;
		}
		return;
	}
	if (s->done)
		return;
	bool dup = fp_is(m, len, "43", "Y");
	if (!dup)
		return;  /* a heartbeat with a new number: not part of the answer */
	if (seq != s->expect) {
		fail(s, "out of order", m, len);
		s->expect = seq;
	}
	if (fp_is(m, len, "35", "4")) {
		if (!fp_is(m, len, "123", "Y"))
			fail(s, "SequenceReset without GapFillFlag", m, len);
		uint64_t ns = num(m, len, "36");
		if (ns <= seq)
			fail(s, "gap fill does not move forward", m, len);
		s->gapfills++;
		s->expect = ns;
	} else if (app) {
		char want[32];
		snprintf(want, sizeof(want), "r%llu", (unsigned long long)s->resent);
		if (!fp_is(m, len, "11", want))
			fail(s, "wrong ClOrdID", m, len);
		if (!fp_get(m, len, "122", &(uint32_t){0}))
			fail(s, "no OrigSendingTime", m, len);
		s->resent++;
		s->expect = seq + 1;
	} else {
		fail(s, "admin message resent instead of gap-filled", m, len);
		s->expect = seq + 1;
	}
	if (s->expect > s->end_seq)
		s->done = true;
}

static unsigned send_failures;

static void on_send_failed(void *ctx, const struct rfx_send_failure *f)
{
	(void)ctx;
	(void)f;
	send_failures++;
}

static const struct rfx_handler client_handler = {NULL, NULL, on_send_failed};

struct result {
	bool ok;
	double secs, rate;
	uint64_t resent, gapfills;
	char note[1024];
};

static int client_bind(struct rfx_client **c, const char *instance)
{
	int rc, h;
	int64_t end = fp_mono() + 15000000000LL;
	while ((rc = rfx_client_attach(c, instance, NULL)) < 0) {
		if (fp_mono() > end)
			return rc;
		usleep(20000);
	}
	while ((h = rfx_bind(*c, "FIX.4.4:VENUE->BANK00000", 0)) == RFX_ENOSESSION &&
	       fp_mono() < end)
		usleep(20000);
	return h;
}

/* One run against ringfixd in a durability mode, or against qf_acceptor
 * (qf set, durability ignored). */
static struct result run_once(const char *rd, const char *qf, const char *durability, uint64_t n,
			      int run)
{
	struct result r = {0};
	char dir[512], cfg[600], log[600], text[1024];
	send_failures = 0;
	if (!bench_tmpdir(dir, sizeof(dir), "rfx-resend"))
		die("mkdtemp");
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		die("no free port");
	close(fd);
	uint16_t port = ntohs(a.sin_port);
	char instance[32];
	snprintf(instance, sizeof(instance), "rb%d_%d", (int)getpid(), run);
	if (qf)
		snprintf(text, sizeof(text),
			 "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=%u\n"
			 "StartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\nUseDataDictionary=N\n"
			 "BeginString=FIX.4.4\nSenderCompID=VENUE\nResetOnLogon=Y\n"
			 "FileStorePath=%s/qfstore\n[SESSION]\nTargetCompID=BANK00000\n",
			 port, dir);
	else
		snprintf(text, sizeof(text),
			 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\n"
			 "UseDataDictionary=N\n[SESSION]\nConnectionType=acceptor\n"
			 "BeginString=FIX.4.4\nSenderCompID=VENUE\nTargetCompID=BANK00000\n"
			 "SocketAcceptPort=%u\n[ENGINE]\nInstanceName=%s\nStorePath=%s/store\n"
			 "IdleStrategy=block\nStoreDurability=%s\n",
			 port, instance, dir, durability);
	snprintf(cfg, sizeof(cfg), "%s/venue.cfg", dir);
	snprintf(log, sizeof(log), "%s/venue.log", dir);
	FILE *f = fopen(cfg, "w");
	if (!f)
		die("cannot write the settings");
	fputs(text, f);
	fclose(f);
	char count[32];
	snprintf(count, sizeof(count), "%llu", (unsigned long long)n);
	pid_t eng = qf ? bench_spawn(log, (char *[]){(char *)qf, cfg, count, NULL})
		       : bench_spawn(log, (char *[]){(char *)rd, cfg, NULL});
	struct fp_peer p;
	struct seen s = {0};
	struct rfx_client *c = NULL;
	int64_t end = fp_mono() + 15000000000LL;
	if (!bench_wait_lines(log, qf ? "ready" : "serving", 1, 15000000000LL)) {
		snprintf(r.note, sizeof(r.note), "the engine did not start (%s)", log);
		goto out;
	}
	if (fp_init(&p, 1, "BANK", "VENUE", 30) < 0)
		die("peer");
	p.on_msg = on_msg;
	p.ctx = &s;
	if (fp_logon(&p, &p.conns[0], port, true) < 0) {
		snprintf(r.note, sizeof(r.note), "cannot connect to ringfixd");
		goto out_peer;
	}
	while (!p.logged_on && fp_mono() < end)
		fp_poll(&p, 10);
	if (qf)
		goto sent;  /* QuickFIX sends the orders itself after the logon */
	int h = client_bind(&c, instance);
	if (!p.logged_on || h < 0) {
		snprintf(r.note, sizeof(r.note), "no logon or no client (%d)", h);
		goto out_peer;
	}
	/* The N messages, paced so the engine's send buffer never fills. */
	char body[160];
	for (uint64_t i = 0; i < n;) {
		while (i < n && i - s.live < WINDOW) {
			int len = snprintf(body, sizeof(body),
					   "35=D\00111=r%llu\00121=1\00155=ABC\00154=1\001"
					   "60=20260101-00:00:00\00140=1\00138=100\001",
					   (unsigned long long)i);
			int rc = rfx_send(c, h, body, (uint32_t)len, i, 0);
			if (rc == RFX_EFULL)
				break;
			if (rc < 0) {
				snprintf(r.note, sizeof(r.note), "client send: %s", rfx_strerror(rc));
				goto out_peer;
			}
			i++;
		}
		rfx_poll(c, &client_handler, NULL, 64);
		if (send_failures) {
			snprintf(r.note, sizeof(r.note), "the engine refused %u client messages",
				 send_failures);
			goto out_peer;
		}
		fp_poll(&p, 0);
		if (p.closed) {
			snprintf(r.note, sizeof(r.note), "ringfixd closed the connection");
			goto out_peer;
		}
	}
sent:
	end = fp_mono() + 120000000000LL;
	while (s.live < n && fp_mono() < end)
		fp_poll(&p, 10);
	if (s.live < n) {
		snprintf(r.note, sizeof(r.note), "%llu of %llu messages arrived before the request",
			 (unsigned long long)s.live, (unsigned long long)n);
		goto out_peer;
	}
	/* The request: everything from 1 on. */
	s.resending = true;
	s.expect = 1;
	s.end_seq = s.last_live_seq;
	int64_t t0 = fp_mono();
	fp_send(&p.conns[0], "2", "7=1\00116=0\001");
	end = t0 + 300000000000LL;
	while (!s.done && !p.closed && fp_mono() < end)
		fp_poll(&p, 10);
	r.secs = (double)(fp_mono() - t0) / 1e9;
	r.resent = s.resent;
	r.gapfills = s.gapfills;
	r.rate = (double)s.resent / r.secs;
	if (!s.done)
		snprintf(r.note, sizeof(r.note), "answer incomplete: %llu of %llu resent%s",
			 (unsigned long long)s.resent, (unsigned long long)n,
			 p.closed ? ", connection closed" : "");
	else if (s.errors)
		snprintf(r.note, sizeof(r.note), "%llu wrong messages, first %s",
			 (unsigned long long)s.errors, s.first_error);
	else if (s.resent != n || s.gapfills < 1)
		snprintf(r.note, sizeof(r.note), "%llu resent, %llu gap fills",
			 (unsigned long long)s.resent, (unsigned long long)s.gapfills);
	else
		r.ok = true;
out_peer:
	if (c)
		rfx_client_detach(c);
	fp_free(&p);
out:
	bench_stop(eng);
	bench_rmdir(dir);
	return r;
}

/* Runs of one engine and mode; prints and adds to the JSON. False if a run
 * failed. */
static bool measure(FILE *js, const char *engine, const char *mode, const char *rd,
		    const char *qf, uint64_t n, unsigned runs)
{
	static bool first = true;
	double secs[MAX_RUNS], rate[MAX_RUNS];
	unsigned k = 0;
	bool ok = true;
	for (unsigned i = 0; i < runs; i++) {
		struct result r = run_once(rd, qf, mode, n, (int)i);
		if (!r.ok) {
			ok = false;
			printf("  %s %-9s run %u FAILED: %s\n", engine, mode, i + 1, r.note);
			continue;
		}
		secs[k] = r.secs;
		rate[k++] = r.rate;
	}
	if (!k)
		return false;
	qsort(secs, k, sizeof(double), bench_cmp_double);
	qsort(rate, k, sizeof(double), bench_cmp_double);
	printf("  %-8s %-9s %8.3f s  (min-max %.3f-%.3f)  %9.0f msgs/s  all checked\n", engine,
	       mode, secs[k / 2], secs[0], secs[k - 1], rate[k / 2]);
	if (js)
		fprintf(js, "%s\"%s %s\":{\"secs\":[%.4f,%.4f,%.4f],\"msgs_per_s\":%.0f}",
			first ? "" : ",", engine, mode, secs[k / 2], secs[0], secs[k - 1],
			rate[k / 2]);
	first = false;
	return ok;
}

int main(int argc, char **argv)
{
	const char *rd = NULL, *json = NULL, *qf = NULL;
	char modes[64] = "none,batch,full";
	uint64_t n = 100000;
	unsigned runs = 3;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ringfixd") && i + 1 < argc)
			rd = argv[++i];
		else if (!strcmp(argv[i], "--qf-acceptor") && i + 1 < argc)
			qf = argv[++i];
		else if (!strcmp(argv[i], "--messages") && i + 1 < argc)
			n = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--durability") && i + 1 < argc)
			snprintf(modes, sizeof(modes), "%s", argv[++i]);
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--quick")) {
			n = 2000;
			runs = 1;
			snprintf(modes, sizeof(modes), "batch");
		} else {
			fprintf(stderr, "usage: resend_bench --ringfixd BIN [--qf-acceptor BIN] [--messages N] [--runs R] "
					"[--durability none,batch,full] [--json FILE] [--quick]\n");
			return 2;
		}
	}
	if (!rd)
		die("--ringfixd is required");
	if (!n || !runs || runs > MAX_RUNS)
		die("bad --messages or --runs");
	signal(SIGPIPE, SIG_IGN);
	FILE *js = json ? fopen(json, "a") : NULL;
	if (json && !js)
		die("cannot write the --json file");
	if (js)
		fprintf(js, "{\"bench\":\"resend\",\"messages\":%llu,\"runs\":%u,\"results\":{",
			(unsigned long long)n, runs);
	printf("resend_bench: peer asks ringfixd for messages 1..%llu (ResendRequest 7=1 16=0), "
	       "time until the last arrives; %u runs, %ld CPUs, IdleStrategy=block\n",
	       (unsigned long long)n, runs, sysconf(_SC_NPROCESSORS_ONLN));
	bool ok = true;
	char *save = NULL;
	for (char *m = strtok_r(modes, ",", &save); m; m = strtok_r(NULL, ",", &save))
		ok &= measure(js, "ringfix", m, rd, NULL, n, runs);
	/* QuickFIX failing a check is a finding, not a failure of the bench. */
	if (qf)
		measure(js, "quickfix", "FileStore", rd, qf, n, runs);
	if (js) {
		fprintf(js, "}}\n");
		fclose(js);
	}
	return ok ? 0 : 1;
}
