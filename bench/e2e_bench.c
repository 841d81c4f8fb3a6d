/*
 * e2e_bench: order round trip through the whole engine on loopback.
 *
 *   strategy (this process, libringfix) -> bank ringfixd shard (initiator)
 *     -> TCP -> venue ringfixd shard (acceptor) -> `ringfix echo` (libringfix)
 *     -> venue shard -> TCP -> bank shard -> strategy
 *
 * One order in flight at a time (ping-pong); the figure is the round trip
 * as the strategy sees it: four ring hops, two TCP hops, four session
 * passes with LMDB group commits. Runs are repeated; prints medians with
 * min-max over runs, the CPUs, and with --json one flat JSON object.
 *
 *   e2e_bench --ringfixd BIN --ringfix BIN [--quick] [--json] [--runs N]
 *             [--orders N] [--idle block|spin-yield|spin]
 *
 * The comparison with QuickFIX and the raw-socket floor is rt_bench's (one
 * ringfixd against a venue peer in the strategy's process).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_proc.h"
#include "shm/ringfix.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

struct strat {
	unsigned back;
};

static void on_msg(void *ctx, const struct rfx_message *m)
{
	struct strat *s = ctx;
	if (m->msg_type_len == 1 && m->msg_type[0] == 'D')
		s->back++;
}

static const struct rfx_handler handler = {on_msg, NULL, NULL};

int main(int argc, char **argv)
{
	const char *rd = NULL, *ringfix = NULL, *idle = "block";
	bool quick = false, json = false;
	unsigned runs = 5, orders = 2000, warmup = 200;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ringfixd") && i + 1 < argc)
			rd = argv[++i];
		else if (!strcmp(argv[i], "--ringfix") && i + 1 < argc)
			ringfix = argv[++i];
		else if (!strcmp(argv[i], "--idle") && i + 1 < argc)
			idle = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--orders") && i + 1 < argc)
			orders = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else {
			fprintf(stderr, "usage: e2e_bench --ringfixd BIN --ringfix BIN [--quick] [--json] "
					"[--runs N] [--orders N] [--idle block|spin-yield|spin]\n");
			return 2;
		}
	}
	if (!rd || !ringfix)
		bench_die("e2e_bench", "--ringfixd and --ringfix are required");
	if (quick) {
		runs = 2;
		orders = 200;
		warmup = 20;
	}
	if (!runs || !orders)
		bench_die("e2e_bench", "--runs and --orders must be positive");

	char dir[512];
	snprintf(dir, sizeof(dir), "%s/rfx-e2e.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		bench_die("e2e_bench", "mkdtemp");
	int port = bench_free_port();
	char venue[32], bank[32], path[600], log[600], cfg[1400];
	snprintf(venue, sizeof(venue), "e2ev%d", (int)getpid());
	snprintf(bank, sizeof(bank), "e2eb%d", (int)getpid());

	snprintf(cfg, sizeof(cfg),
		 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\n"
		 "UseDataDictionary=N\n[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\n"
		 "SenderCompID=VENUE\nTargetCompID=BANK\nSocketAcceptPort=%d\n"
		 "[ENGINE]\nInstanceName=%s\nStorePath=%s/venue\nIdleStrategy=%s\n",
		 port, venue, dir, idle);
	snprintf(path, sizeof(path), "%s/venue.cfg", dir);
	FILE *f = fopen(path, "w");
	fputs(cfg, f);
	fclose(f);
	snprintf(log, sizeof(log), "%s/venue.log", dir);
	pid_t vpid = bench_spawn(log, (char *[]){(char *)rd, path, NULL});
	bench_wait_log("e2e_bench", log, "serving");
	char elog[600];
	snprintf(elog, sizeof(elog), "%s/echo.log", dir);
	pid_t epid = bench_spawn(elog, (char *[]){(char *)ringfix, "echo", "--instance", venue, NULL});
	bench_wait_log("e2e_bench", elog, "bound");

	snprintf(cfg, sizeof(cfg),
		 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\n"
		 "UseDataDictionary=N\n[SESSION]\nConnectionType=initiator\nBeginString=FIX.4.4\n"
		 "SenderCompID=BANK\nTargetCompID=VENUE\nSocketConnectHost=127.0.0.1\n"
		 "SocketConnectPort=%d\nReconnectInterval=1\n"
		 "[ENGINE]\nInstanceName=%s\nStorePath=%s/bank\nIdleStrategy=%s\n",
		 port, bank, dir, idle);
	snprintf(path, sizeof(path), "%s/bank.cfg", dir);
	f = fopen(path, "w");
	fputs(cfg, f);
	fclose(f);
	snprintf(log, sizeof(log), "%s/bank.log", dir);
	pid_t bpid = bench_spawn(log, (char *[]){(char *)rd, path, NULL});
	bench_wait_log("e2e_bench", log, "serving");

	struct rfx_client *c = NULL;
	struct rfx_client_opts co = {.wait = RFX_IDLE_SPIN};
	int rc;
	int64_t end = bench_mono_ns() + 15000000000LL;
	while ((rc = rfx_client_attach(&c, bank, &co)) < 0 && bench_mono_ns() < end)
		usleep(20000);
	if (rc < 0)
		bench_die("e2e_bench", "attach to the bank instance failed");
	int h = rfx_bind(c, "FIX.4.4:BANK->VENUE", 0);
	if (h < 0)
		bench_die("e2e_bench", "bind failed");
	struct rfx_session_status st = {0};
	struct strat s = {0};
	while (bench_mono_ns() < end) {
		rfx_poll(c, &handler, &s, 64);
		if (rfx_session_status(c, h, &st) == 0 && st.state == RFX_SESSION_ACTIVE)
			break;
		usleep(10000);
	}
	if (st.state != RFX_SESSION_ACTIVE)
		bench_die("e2e_bench", "the bank session never logged on");

	int64_t *rtt = malloc(sizeof(int64_t) * orders);
	double *p50 = malloc(sizeof(double) * runs), *p99 = malloc(sizeof(double) * runs);
	double *rate = malloc(sizeof(double) * runs);
	if (!rtt || !p50 || !p99 || !rate)
		bench_die("e2e_bench", "out of memory");
	char body[256];
	for (unsigned r = 0; r < runs; r++) {
		int64_t t_run = 0;
		for (unsigned i = 0; i < warmup + orders; i++) {
			int len = snprintf(body, sizeof(body),
					   "35=D\00111=r%u-%u\00121=1\00155=ABC\00154=1\001"
					   "60=20260101-00:00:00\00140=2\00144=101.25\00138=100\001", r, i);
			unsigned want = s.back + 1;
			int64_t t0 = bench_mono_ns();
			if (i == warmup)
				t_run = t0;
			while ((rc = rfx_send(c, h, body, (uint32_t)len, i, 0)) == RFX_EFULL)
				rfx_poll(c, &handler, &s, 64);
			if (rc < 0)
				bench_die("e2e_bench", "send failed");
			int64_t limit = t0 + 5000000000LL;
			while (s.back < want) {
				rc = rfx_poll(c, &handler, &s, 64);
				if (rc < 0)
					bench_die("e2e_bench", "poll failed (shard gone?)");
				if (bench_mono_ns() > limit)
					bench_die("e2e_bench", "an order did not come back within 5 s");
			}
			if (i >= warmup)
				rtt[i - warmup] = bench_mono_ns() - t0;
		}
		double secs = (double)(bench_mono_ns() - t_run) / 1e9;
		qsort(rtt, orders, sizeof(rtt[0]), cmp_i64);
		p50[r] = (double)rtt[orders / 2] / 1000.0;
		p99[r] = (double)rtt[(size_t)((double)orders * 0.99)] / 1000.0;
		rate[r] = (double)orders / secs;
	}
	rfx_client_detach(c);
	bench_stop(bpid);
	bench_stop(epid);
	bench_stop(vpid);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "e2e_bench: could not remove %s\n", dir);

	/* Medians over runs with min-max. */
	double m50[3], m99[3], mr[3];
	double *sets[3] = {p50, p99, rate};
	double *outs[3] = {m50, m99, mr};
	for (int k = 0; k < 3; k++) {
		double *v = sets[k];
		for (unsigned i = 1; i < runs; i++)
			for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
				double t = v[j];
				v[j] = v[j - 1];
				v[j - 1] = t;
			}
		outs[k][0] = v[runs / 2];
		outs[k][1] = v[0];
		outs[k][2] = v[runs - 1];
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (json) {
		printf("{\"bench\":\"e2e\",\"idle\":\"%s\",\"runs\":%u,\"orders\":%u,\"cpus_online\":%ld,"
		       "\"rtt_p50_us\":%.1f,\"rtt_p50_us_min\":%.1f,\"rtt_p50_us_max\":%.1f,"
		       "\"rtt_p99_us\":%.1f,\"rtt_p99_us_min\":%.1f,\"rtt_p99_us_max\":%.1f,"
		       "\"orders_per_s\":%.0f,\"orders_per_s_min\":%.0f,\"orders_per_s_max\":%.0f}\n",
		       idle, runs, orders, cpus, m50[0], m50[1], m50[2], m99[0], m99[1], m99[2], mr[0],
		       mr[1], mr[2]);
	} else {
		printf("e2e order round trip (strategy -> bank shard -> TCP -> venue shard -> echo "
		       "-> back), idle=%s, %u runs x %u orders, %ld CPUs online, processes unpinned\n",
		       idle, runs, orders, cpus);
		printf("  rtt p50   %8.1f us  (min-max over runs %.1f-%.1f)\n", m50[0], m50[1], m50[2]);
		printf("  rtt p99   %8.1f us  (%.1f-%.1f)\n", m99[0], m99[1], m99[2]);
		printf("  ping-pong %8.0f orders/s  (%.0f-%.0f)\n", mr[0], mr[1], mr[2]);
		printf("  reference: rt_bench (QuickFIX and the raw-socket floor)\n");
	}
	free(rtt);
	free(p50);
	free(p99);
	free(rate);
	return 0;
}
