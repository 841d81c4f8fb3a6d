/*
 * sessions_bench: many FIX sessions logged on at once, heartbeats running.
 *
 *   sessions_bench --ringfixd BIN [--qf-acceptor BIN] [--sessions N] [--shards K]
 *                  [--runs R] [--idle-secs S] [--heartbeat S] [--hold S] [--json FILE]
 *                  [--quick]
 *
 * Starts ringfixd as the acceptor of N sessions spread over K shards (one
 * listening port per shard), then a peer process (bench/fix_peer.h, one
 * epoll loop) that logs on N initiator sessions, at most 64 logons in
 * flight. Reports per run: seconds until every session is logged on; RSS
 * and PSS of ringfixd and its shards (whole and per 1,000 sessions); CPU of
 * those processes while idle (heartbeats only) over a window. The same
 * against the QuickFIX 1.15.1 acceptor (bench/qf_acceptor.cpp) when given:
 * one process, one port. Medians over runs with min-max. --hold keeps the
 * processes up after the measurement, for perf or /proc/PID/smaps by hand.
 * --json FILE appends one JSON line (bench/run.sh collects them).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "bench_proc.h"
#include "fix_peer.h"

#define MAX_RUNS 15
#define INFLIGHT 64

static void die(const char *what)
{
	fprintf(stderr, "sessions_bench: %s\n", what);
	exit(1);
}

struct opts {
	const char *ringfixd, *qf, *json;
	unsigned sessions, shards, runs, idle_secs, heartbeat, hold;
};

struct result {
	bool ok;
	unsigned logged_on, still_on;
	double logon_s, rss_mb, pss_mb, cpu_pct;
	char note[300];
};

static uint16_t free_port_base(unsigned n)
{
	/* n consecutive free ports from an ephemeral one. */
	for (int tries = 0; tries < 50; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t l = sizeof(a);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			die("bind");
		getsockname(fd, (struct sockaddr *)&a, &l);
		close(fd);
		uint16_t base = ntohs(a.sin_port);
		bool ok = base + n < 65535;
		for (unsigned i = 1; i < n && ok; i++) {
			int f2 = socket(AF_INET, SOCK_STREAM, 0);
			a.sin_port = htons((uint16_t)(base + i));
			ok = bind(f2, (struct sockaddr *)&a, sizeof(a)) == 0;
			close(f2);
		}
		if (ok)
			return base;
	}
	die("no free ports");
	return 0;
}

/* ------------------------------------------------------------ /proc */

/* The fields of /proc/PID/stat after "(comm) ", or NULL. */
static const char *proc_stat(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t k = fread(buf, 1, cap - 1, f);
	fclose(f);
	buf[k] = 0;
	char *rp = strrchr(buf, ')');
	return rp && rp[1] ? rp + 2 : NULL;
}

static void proc_tree(pid_t root, pid_t *out, unsigned *n, unsigned max)
{
	out[0] = root;
	*n = 1;
	DIR *d = opendir("/proc");
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)) && *n < max) {
		pid_t pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		char buf[1024];
		const char *st = proc_stat(pid, buf, sizeof(buf));
		int ppid = 0;
		if (st && sscanf(st, "%*c %d", &ppid) == 1 && ppid == root)
			out[(*n)++] = pid;
	}
	closedir(d);
}

static long kb_field(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0) {
			v = atol(line + kl);
			break;
		}
	fclose(f);
	return v;
}

static void mem_of(const pid_t *p, unsigned n, double *rss_mb, double *pss_mb)
{
	long rss = 0, pss = 0;
	for (unsigned i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/status", p[i]);
		long r = kb_field(path, "VmRSS:");
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", p[i]);
		long s = kb_field(path, "Pss:");
		rss += r > 0 ? r : 0;
		pss += s > 0 ? s : 0;
	}
	*rss_mb = (double)rss / 1024.0;
	*pss_mb = (double)pss / 1024.0;
}

static double cpu_ticks(const pid_t *p, unsigned n)
{
	double t = 0;
	for (unsigned i = 0; i < n; i++) {
		char buf[1024];
		const char *f = proc_stat(p[i], buf, sizeof(buf));
		unsigned long ut = 0, st = 0;
		if (f && sscanf(f, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
			t += (double)(ut + st);
	}
	return t;
}

/* ------------------------------------------------------------ the peer */

/* Child: log on every session (ports[i % nports]), write "logged_on elapsed_ns"
 * to `out`, then keep heartbeating; each byte on `in` asks for a status line. */
static void peer_main(const struct opts *o, const uint16_t *ports, unsigned nports, int in,
		      int out)
{
	struct fp_peer p;
	if (fp_init(&p, o->sessions, "C", "VENUE", o->heartbeat) < 0)
		_exit(1);
	int64_t t0 = fp_mono(), limit = t0 + 60000000000LL + (int64_t)o->sessions * 10000000LL;
	uint32_t next = 0, failed = 0;
	while (p.logged_on + p.closed + failed < p.n && fp_mono() < limit) {
		while (next < p.n && next - p.logged_on - p.closed - failed < INFLIGHT) {
			if (fp_logon(&p, &p.conns[next], ports[next % nports], true) < 0)
				failed++;
			next++;
		}
		fp_poll(&p, 5);
	}
	char line[128];
	int n = snprintf(line, sizeof(line), "%u %lld %u\n", p.logged_on,
			 (long long)(fp_mono() - t0), p.closed + failed);
	if (write(out, line, (size_t)n) != n)
		_exit(1);
	for (;;) {
		struct pollfd pf = {.fd = in, .events = POLLIN};
		if (poll(&pf, 1, 0) == 1) {
			char b;
			if (read(in, &b, 1) != 1)
				_exit(0);
			n = snprintf(line, sizeof(line), "%u\n", p.logged_on);
			if (write(out, line, (size_t)n) != n)
				_exit(1);
		}
		fp_poll(&p, 20);
	}
}

static bool read_line(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t n = 0;
	while (n + 1 < cap) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, timeout_ms) != 1)
			return false;
		if (read(fd, buf + n, 1) != 1)
			return false;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
	return true;
}

/* ------------------------------------------------------------ one run */

static void write_ringfix_cfg(const char *path, const char *dir, const struct opts *o,
			      uint16_t base, int run)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("cannot write the settings file");
	fprintf(f, "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=%u\n"
		   "UseDataDictionary=N\nConnectionType=acceptor\nBeginString=FIX.4.4\n"
		   "SenderCompID=VENUE\nResetOnLogon=Y\n",
		o->heartbeat);
	for (unsigned i = 0; i < o->sessions; i++)
		fprintf(f, "[SESSION]\nTargetCompID=C%05u\nShard=%u\nSocketAcceptPort=%u\n", i,
			i % o->shards, base + i % o->shards);
	fprintf(f, "[ENGINE]\nInstanceName=sb%d_%d\nStorePath=%s/store\nShards=%u\n"
		   "IdleStrategy=block\n",
		(int)getpid(), run, dir, o->shards);
	fclose(f);
}

static void write_qf_cfg(const char *path, const char *dir, const struct opts *o, uint16_t port)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("cannot write the settings file");
	fprintf(f, "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=%u\nStartTime=00:00:00\n"
		   "EndTime=00:00:00\nHeartBtInt=%u\nUseDataDictionary=N\nBeginString=FIX.4.4\n"
		   "SenderCompID=VENUE\nResetOnLogon=Y\nFileStorePath=%s/qfstore\n",
		port, o->heartbeat, dir);
	for (unsigned i = 0; i < o->sessions; i++)
		fprintf(f, "[SESSION]\nTargetCompID=C%05u\n", i);
	fclose(f);
}

static struct result run_once(const struct opts *o, bool qf, int run)
{
	struct result r = {0};
	char dir[512], cfg[600], log[600];
	if (!bench_tmpdir(dir, sizeof(dir), "rfx-sessions"))
		die("mkdtemp");
	snprintf(cfg, sizeof(cfg), "%s/engine.cfg", dir);
	snprintf(log, sizeof(log), "%s/engine.log", dir);
	unsigned nports = qf ? 1 : o->shards;
	uint16_t base = free_port_base(nports), ports[256];
	for (unsigned i = 0; i < nports; i++)
		ports[i] = (uint16_t)(base + i);
	pid_t eng;
	if (qf) {
		write_qf_cfg(cfg, dir, o, base);
		eng = bench_spawn(log, (char *[]){(char *)o->qf, cfg, NULL});
		if (!bench_wait_lines(log, "ready", 1, 60000000000LL)) {
			char why[120] = "";
			FILE *lf = fopen(log, "r");
			if (lf) {
				if (!fgets(why, sizeof(why), lf))
					why[0] = 0;
				fclose(lf);
			}
			why[strcspn(why, "\n")] = 0;
			snprintf(r.note, sizeof(r.note), "qf_acceptor did not start: %s", why);
			goto out_eng;
		}
	} else {
		write_ringfix_cfg(cfg, dir, o, base, run);
		eng = bench_spawn(log, (char *[]){(char *)o->ringfixd, cfg, NULL});
		if (!bench_wait_lines(log, "serving", o->shards, 120000000000LL)) {
			snprintf(r.note, sizeof(r.note), "ringfixd did not start (see its log)");
			goto out_eng;
		}
	}
	int to_peer[2], from_peer[2];
	if (pipe(to_peer) < 0 || pipe(from_peer) < 0)
		die("pipe");
	pid_t peer = fork();
	if (peer == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(to_peer[1]);
		close(from_peer[0]);
		peer_main(o, ports, nports, to_peer[0], from_peer[1]);
		_exit(0);
	}
	close(to_peer[0]);
	close(from_peer[1]);
	char line[128];
	long long ns = 0;
	unsigned lost = 0;
	int wait_ms = 70000 + (int)o->sessions * 10;
	if (!read_line(from_peer[0], line, sizeof(line), wait_ms) ||
	    sscanf(line, "%u %lld %u", &r.logged_on, &ns, &lost) != 3) {
		snprintf(r.note, sizeof(r.note), "the peer did not report");
		goto out_peer;
	}
	r.logon_s = (double)ns / 1e9;
	if (r.logged_on < o->sessions)
		snprintf(r.note, sizeof(r.note), "%u of %u logged on (%u connections lost/refused)",
			 r.logged_on, o->sessions, lost);
	/* Let the logon burst settle (allocator purge, deferred frees). */
	sleep(2);
	pid_t procs[512];
	unsigned np;
	proc_tree(eng, procs, &np, 512);
	mem_of(procs, np, &r.rss_mb, &r.pss_mb);
	double t0 = cpu_ticks(procs, np);
	int64_t w0 = fp_mono();
	sleep(o->idle_secs);
	double t1 = cpu_ticks(procs, np);
	double secs = (double)(fp_mono() - w0) / 1e9;
	r.cpu_pct = (t1 - t0) / (double)sysconf(_SC_CLK_TCK) / secs * 100.0;
	if (write(to_peer[1], "s", 1) == 1 && read_line(from_peer[0], line, sizeof(line), 5000))
		r.still_on = (unsigned)atoi(line);
	r.ok = r.logged_on > 0;
	if (o->hold) {
		/* For profiling (perf, smaps) by hand. */
		fprintf(stderr, "sessions_bench: holding %u s: ringfixd pid %d, log %s\n", o->hold,
			(int)eng, log);
		sleep(o->hold);
	}
out_peer:
	close(to_peer[1]);
	close(from_peer[0]);
	bench_stop(peer);
out_eng:
	bench_stop(eng);
	bench_rmdir(dir);
	return r;
}

/* ------------------------------------------------------------ report */

struct stat3 {
	double med, min, max;
};

static struct stat3 stat_of(const struct result *rs, unsigned n, size_t off)
{
	double v[MAX_RUNS];
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++)
		if (rs[i].ok)
			v[k++] = *(const double *)((const char *)&rs[i] + off);
	struct stat3 s = {0, 0, 0};
	if (!k)
		return s;
	qsort(v, k, sizeof(v[0]), bench_cmp_double);
	s.med = v[k / 2];
	s.min = v[0];
	s.max = v[k - 1];
	return s;
}

static void report(FILE *js, const char *name, const struct opts *o, const struct result *rs,
		   bool first)
{
	struct stat3 lg = stat_of(rs, o->runs, offsetof(struct result, logon_s));
	struct stat3 rss = stat_of(rs, o->runs, offsetof(struct result, rss_mb));
	struct stat3 pss = stat_of(rs, o->runs, offsetof(struct result, pss_mb));
	struct stat3 cpu = stat_of(rs, o->runs, offsetof(struct result, cpu_pct));
	double per = o->sessions / 1000.0;
	unsigned on = 0, still = 0;
	for (unsigned i = 0; i < o->runs; i++) {
		on = rs[i].logged_on > on ? rs[i].logged_on : on;
		still = rs[i].still_on > still ? rs[i].still_on : still;
	}
	printf("%s: %u sessions, %u runs\n", name, o->sessions, o->runs);
	printf("  logged on      %u (still on after the idle window: %u)\n", on, still);
	printf("  logon all      %8.2f s     (min-max %.2f-%.2f)\n", lg.med, lg.min, lg.max);
	printf("  RSS            %8.1f MB    (%.1f-%.1f)  = %.1f MB per 1,000 sessions\n", rss.med,
	       rss.min, rss.max, rss.med / per);
	printf("  PSS            %8.1f MB    (%.1f-%.1f)  = %.1f MB per 1,000 sessions\n", pss.med,
	       pss.min, pss.max, pss.med / per);
	printf("  CPU idle       %8.2f %%     (%.2f-%.2f) over %u s, heartbeats every %u s\n",
	       cpu.med, cpu.min, cpu.max, o->idle_secs, o->heartbeat);
	for (unsigned i = 0; i < o->runs; i++)
		if (rs[i].note[0])
			printf("  run %u: %s\n", i + 1, rs[i].note);
	if (js)
		fprintf(js,
			"%s\"%s\":{\"sessions\":%u,\"runs\":%u,\"logged_on\":%u,\"still_on\":%u,"
			"\"logon_s\":[%.3f,%.3f,%.3f],\"rss_mb\":[%.2f,%.2f,%.2f],"
			"\"pss_mb\":[%.2f,%.2f,%.2f],\"rss_mb_per_1000\":%.2f,"
			"\"pss_mb_per_1000\":%.2f,\"idle_cpu_pct\":[%.3f,%.3f,%.3f]}",
			first ? "" : ",", name, o->sessions, o->runs, on, still, lg.med, lg.min,
			lg.max, rss.med, rss.min, rss.max, pss.med, pss.min, pss.max, rss.med / per,
			pss.med / per, cpu.med, cpu.min, cpu.max);
}

int main(int argc, char **argv)
{
	struct opts o = {.sessions = 1000, .shards = 2, .runs = 3, .idle_secs = 10,
			 .heartbeat = 5};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ringfixd") && i + 1 < argc)
			o.ringfixd = argv[++i];
		else if (!strcmp(argv[i], "--qf-acceptor") && i + 1 < argc)
			o.qf = argv[++i];
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			o.json = argv[++i];
		else if (!strcmp(argv[i], "--sessions") && i + 1 < argc)
			o.sessions = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--shards") && i + 1 < argc)
			o.shards = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			o.runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--idle-secs") && i + 1 < argc)
			o.idle_secs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--heartbeat") && i + 1 < argc)
			o.heartbeat = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
			o.hold = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--quick")) {
			o.sessions = 50;
			o.runs = 1;
			o.idle_secs = 1;
		} else {
			fprintf(stderr, "usage: sessions_bench --ringfixd BIN [--qf-acceptor BIN] "
					"[--sessions N] [--shards K] [--runs R] [--idle-secs S] "
					"[--heartbeat S] [--hold S] [--json FILE] [--quick]\n");
			return 2;
		}
	}
	if (!o.ringfixd)
		die("--ringfixd is required");
	if (!o.sessions || o.sessions > 99999 || !o.shards || o.shards > 256 || !o.runs ||
	    o.runs > MAX_RUNS || !o.heartbeat)
		die("bad --sessions, --shards, --runs or --heartbeat");
	signal(SIGPIPE, SIG_IGN);
	FILE *js = NULL;
	if (o.json) {
		js = fopen(o.json, "a");
		if (!js)
			die("cannot write the --json file");
		fprintf(js, "{\"bench\":\"sessions\",\"shards\":%u,\"idle\":\"block\",\"cpus\":%ld,",
			o.shards, sysconf(_SC_NPROCESSORS_ONLN));
	}
	struct result rs[MAX_RUNS];
	for (unsigned i = 0; i < o.runs; i++)
		rs[i] = run_once(&o, false, (int)i);
	printf("sessions_bench: acceptor of N sessions, peer logs on N initiators on loopback, "
	       "%ld CPUs, ringfixd IdleStrategy=block over %u shards\n",
	       sysconf(_SC_NPROCESSORS_ONLN), o.shards);
	report(js, "ringfix", &o, rs, true);
	bool ok = true;
	for (unsigned i = 0; i < o.runs; i++)
		ok &= rs[i].ok;
	if (o.qf) {
		for (unsigned i = 0; i < o.runs; i++)
			rs[i] = run_once(&o, true, (int)i);
		report(js, "quickfix", &o, rs, false);
	}
	if (js) {
		fprintf(js, "}\n");
		fclose(js);
	}
	/* QuickFIX failing at scale is a finding, not a failure of the bench. */
	return ok ? 0 : 1;
}
