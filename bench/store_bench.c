/*
 * store_bench: messages stored per second and ns per message for each
 * durability mode and batch size, and resend-range read throughput, beside
 * QuickFIX 1.15.1's FIX::FileStore doing the same in the same run.
 *
 *   store_bench [--quick] [--json] [--runs N] [--dir DIR] [--readonly-map]
 *
 * batch and none use the store's default writable map (MDB_WRITEMAP);
 * --readonly-map measures them on the read-only map (StoreWritableMap=N).
 *
 * Both sides write under one temporary directory (DIR, else $TMPDIR, else
 * /tmp), so they share a filesystem; it is removed afterwards. Figures are
 * medians with min-max over --runs fresh runs.
 *
 * What each side promises while being measured:
 *   ringfix full   fdatasync before commit returns: survives power loss.
 *   ringfix batch  commit per batch, fdatasync every 10 ms by the flusher
 *                  thread (which runs on the other core meanwhile).
 *   ringfix none   commit per batch, the kernel writes back.
 *   QuickFIX       FileStore::set = fwrite + 2 x fflush per message, no
 *                  fsync: survives a process crash, not a power loss, like
 *                  ringfix batch/none.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <ftw.h>
#include <unistd.h>

#include "engine/error.h"
#include "store/lmdb_store.h"
#ifdef RFX_HAVE_QUICKFIX
#include "bench/qf_store.h"
#endif

#define MAX_RUNS 16
#define NMSGS 1024

struct series {
	double v[MAX_RUNS];
	unsigned n;
};

static char msgs[NMSGS][256];
static size_t msg_len[NMSGS];
static char base[512];
static unsigned runs = 3;
static int quick, json, readonly_map;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double med(const struct series *s)
{
	double t[MAX_RUNS];

	if (!s->n)
		return 0;
	memcpy(t, s->v, s->n * sizeof(double));
	qsort(t, s->n, sizeof(double), cmp_d);
	return s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
}

static double mn(const struct series *s)
{
	double m = s->n ? s->v[0] : 0;
	for (unsigned i = 1; i < s->n; i++)
		m = s->v[i] < m ? s->v[i] : m;
	return m;
}

static double mx(const struct series *s)
{
	double m = s->n ? s->v[0] : 0;
	for (unsigned i = 1; i < s->n; i++)
		m = s->v[i] > m ? s->v[i] : m;
	return m;
}

static int rm_one(const char *p, const struct stat *sb, int f, struct FTW *w)
{
	(void)sb;
	(void)f;
	(void)w;
	return remove(p);
}

static void rmtree(const char *d)
{
	nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void fresh_dir(char *out, size_t n, const char *tag)
{
	snprintf(out, n, "%s/%s-XXXXXX", base, tag);
	if (!mkdtemp(out)) {
		fprintf(stderr, "store_bench: mkdtemp %s: %s\n", out, strerror(errno));
		exit(1);
	}
}

/* A realistic NewOrderSingle, distinct per slot; both stores get the same bytes. */
static void make_msgs(void)
{
	for (unsigned i = 0; i < NMSGS; i++) {
		int n = snprintf(msgs[i], sizeof(msgs[i]),
				 "8=FIX.4.4\0019=178\00135=D\00149=SENDER\00156=TARGET\001"
				 "34=%u\00152=20261122-04:05:06.123456\00111=ORD%09u\001"
				 "21=1\00155=EUR/USD\00154=%u\00160=20261122-04:05:06.123\001"
				 "38=1000000\00140=2\00144=1.%05u\00159=0\00110=%03u\001",
				 i + 1, i, 1 + i % 2, 8000 + i, i % 256);
		msg_len[i] = (size_t)n;
	}
}

static void die_rc(const char *what, int rc, struct rfx_store *s)
{
	fprintf(stderr, "store_bench: %s: %s (%s)\n", what, rfx_strerror(rc),
		s ? rfx_store_errmsg(s) : "");
	exit(1);
}

static struct rfx_store *open_store(const char *dir, enum rfx_store_durability d,
				    struct rfx_store_session **ss)
{
	struct rfx_store_options o;
	struct rfx_store *s;
	char err[1024];
	int rc;

	memset(&o, 0, sizeof(o));
	o.path = dir;
	o.durability = d;
	o.map_size = 512u << 20; /* sized for the run: growth is tested, not timed */
	o.readonly_map = readonly_map;
	rc = rfx_store_open(&s, &o, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "store_bench: open: %s\n", err);
		exit(1);
	}
	rc = rfx_store_session_open(s, "FIX.4.4:SENDER->TARGET", 22, 0, ss);
	if (rc < 0)
		die_rc("session", rc, s);
	return s;
}

/* Writes n messages in batches of `batch` (1 = one commit per message);
 * returns seconds, the last commit included. */
static double write_rfx(const char *dir, enum rfx_store_durability d,
			unsigned batch, uint64_t n)
{
	struct rfx_store_session *ss;
	struct rfx_store *s = open_store(dir, d, &ss);
	double t0 = now_s(), t;
	int rc;

	for (uint64_t seq = 1; seq <= n;) {
		rc = rfx_store_begin(s);
		if (rc < 0)
			die_rc("begin", rc, s);
		for (unsigned i = 0; i < batch && seq <= n; i++, seq++) {
			unsigned k = (unsigned)(seq % NMSGS);
			rc = rfx_store_append(s, ss, RFX_STORE_OUT, seq, msgs[k], msg_len[k]);
			if (rc < 0)
				die_rc("append", rc, s);
		}
		rc = rfx_store_commit(s);
		if (rc < 0)
			die_rc("commit", rc, s);
	}
	t = now_s() - t0;
	rfx_store_close(s);
	return t;
}

/* Reads [from, from+len) `reps` times through the zero-copy iterator,
 * touching every message's bytes' first byte and length. */
static double read_rfx(const char *dir, uint64_t from, uint64_t len, unsigned reps,
		       uint64_t *got)
{
	struct rfx_store_session *ss;
	struct rfx_store *s = open_store(dir, RFX_STORE_NONE, &ss);
	volatile size_t sink = 0;
	double t0 = now_s(), t;

	*got = 0;
	for (unsigned r = 0; r < reps; r++) {
		struct rfx_store_iter it;
		struct rfx_store_msg m;
		int rc = rfx_store_iter_open(s, ss, RFX_STORE_OUT, from, from + len - 1, &it);
		if (rc < 0)
			die_rc("iter", rc, s);
		while ((rc = rfx_store_iter_next(&it, &m)) == 1) {
			sink += m.len + ((const unsigned char *)m.data)[0];
			(*got)++;
		}
		rfx_store_iter_close(&it);
		if (rc < 0)
			die_rc("iter_next", rc, s);
	}
	t = now_s() - t0;
	(void)sink;
	rfx_store_close(s);
	return t;
}

#ifdef RFX_HAVE_QUICKFIX
static double write_qf(const char *dir, uint64_t n, struct rfx_qf_store **keep)
{
	struct rfx_qf_store *q = rfx_qf_store_new(dir);
	double t0, t;

	if (!q) {
		fprintf(stderr, "store_bench: QuickFIX FileStore in %s failed\n", dir);
		exit(1);
	}
	t0 = now_s();
	for (uint64_t seq = 1; seq <= n; seq++) {
		unsigned k = (unsigned)(seq % NMSGS);
		if (rfx_qf_store_set(q, (int)seq, msgs[k], msg_len[k]) < 0) {
			fprintf(stderr, "store_bench: FileStore::set failed\n");
			exit(1);
		}
	}
	t = now_s() - t0;
	if (keep)
		*keep = q;
	else
		rfx_qf_store_free(q);
	return t;
}
#endif

struct result {
	const char *name;
	struct series rate; /* messages per second */
	struct series ns;   /* ns per message */
};

static void add(struct result *r, uint64_t n, double secs)
{
	if (r->rate.n < MAX_RUNS) {
		r->rate.v[r->rate.n++] = (double)n / secs;
		r->ns.v[r->ns.n++] = secs * 1e9 / (double)n;
	}
}

static void cpu_list(char *out, size_t n)
{
	cpu_set_t set;
	size_t len = 0;

	out[0] = 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (int c = 0; c < CPU_SETSIZE && len + 8 < n; c++)
		if (CPU_ISSET(c, &set))
			len += (size_t)snprintf(out + len, n - len, "%s%d", len ? "," : "", c);
}

static void cpu_model(char *out, size_t n)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, n, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');
		if (!strncmp(line, "model name", 10) && p) {
			p += 2;
			p[strcspn(p, "\n")] = 0;
			snprintf(out, n, "%s", p);
			break;
		}
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	static const char *mode_name[] = {"batch", "full", "none"};
	static const enum rfx_store_durability modes[] = {RFX_STORE_BATCH, RFX_STORE_FULL,
							   RFX_STORE_NONE};
	static const unsigned batches[] = {1, 16, 256};
	struct result w[3][3], rd = {"read", {{0}, 0}, {{0}, 0}};
	struct result qf = {"qf_set", {{0}, 0}, {{0}, 0}}, qfr = {"qf_get", {{0}, 0}, {{0}, 0}};
	const char *dir = NULL, *t;
	char cpus[256], model[256], d[700];
	int have_qf = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--readonly-map"))
			readonly_map = 1;
		else {
			fprintf(stderr, "usage: store_bench [--quick] [--json] [--runs N] [--dir DIR] "
				"[--readonly-map]\n");
			return 2;
		}
	}
	if (quick)
		runs = 1;
	if (runs < 1 || runs > MAX_RUNS)
		runs = 3;
	t = getenv("TMPDIR");
	if (!dir)
		dir = t && *t ? t : "/tmp";
	snprintf(base, sizeof(base), "%s/rfx-store-bench-XXXXXX", dir);
	if (!mkdtemp(base)) {
		fprintf(stderr, "store_bench: mkdtemp under %s: %s\n", dir, strerror(errno));
		return 1;
	}
	make_msgs();
	cpu_list(cpus, sizeof(cpus));
	cpu_model(model, sizeof(model));
	memset(w, 0, sizeof(w));

	/* Message counts per (mode, batch): full mode is bound by fdatasync. */
	uint64_t cnt[3][3] = {
		{20000, 200000, 500000}, /* batch */
		{300, 4800, 10240},      /* full */
		{20000, 200000, 500000}, /* none */
	};
	uint64_t qf_n = 100000, rd_total = 100000, rd_len = 10000;
	unsigned rd_reps = 10;
	if (quick) {
		for (int m = 0; m < 3; m++)
			for (int b = 0; b < 3; b++)
				cnt[m][b] = cnt[m][b] / 50 ? cnt[m][b] / 50 : 16;
		qf_n = 2000;
		rd_total = 4000;
		rd_len = 1000;
		rd_reps = 2;
	}

	for (unsigned r = 0; r < runs; r++) {
		for (int m = 0; m < 3; m++) {
			for (int b = 0; b < 3; b++) {
				fresh_dir(d, sizeof(d), "rfx");
				add(&w[m][b], cnt[m][b], write_rfx(d, modes[m], batches[b], cnt[m][b]));
				rmtree(d);
			}
		}
		/* Resend reads: the store holds rd_total messages, read a middle range. */
		uint64_t got;
		fresh_dir(d, sizeof(d), "rfx-read");
		write_rfx(d, RFX_STORE_NONE, 256, rd_total);
		double secs = read_rfx(d, rd_total / 2, rd_len, rd_reps, &got);
		if (got != rd_len * rd_reps) {
			fprintf(stderr, "store_bench: read %llu of %llu\n", (unsigned long long)got,
				(unsigned long long)(rd_len * rd_reps));
			return 1;
		}
		add(&rd, got, secs);
		rmtree(d);
#ifdef RFX_HAVE_QUICKFIX
		struct rfx_qf_store *q;
		size_t bytes;
		have_qf = 1;
		fresh_dir(d, sizeof(d), "qf");
		add(&qf, qf_n, write_qf(d, qf_n, NULL));
		rmtree(d);
		fresh_dir(d, sizeof(d), "qf-read");
		write_qf(d, rd_total, &q);
		double t0 = now_s();
		got = 0;
		for (unsigned k = 0; k < rd_reps; k++) {
			long n = rfx_qf_store_get_range(q, (int)(rd_total / 2),
							(int)(rd_total / 2 + rd_len - 1), &bytes);
			if (n != (long)rd_len) {
				fprintf(stderr, "store_bench: QuickFIX get returned %ld\n", n);
				return 1;
			}
			got += (uint64_t)n;
		}
		add(&qfr, got, now_s() - t0);
		rfx_qf_store_free(q);
		rmtree(d);
#endif
	}
	rmtree(base);
	(void)qf_n; /* unused without QuickFIX */

	if (json) {
		printf("{\"bench\":\"store\",\"quick\":%d,\"runs\":%u,\"cpus\":\"%s\","
		       "\"cpu_model\":\"%s\",\"msg_bytes_avg\":%zu,\"quickfix\":%d,\"writable_map\":%d",
		       quick, runs, cpus, model, msg_len[NMSGS / 2], have_qf, !readonly_map);
		for (int m = 0; m < 3; m++)
			for (int b = 0; b < 3; b++) {
				const struct result *x = &w[m][b];
				printf(",\"write_%s_b%u_msgs_per_s\":%.0f,\"write_%s_b%u_msgs_per_s_min\":%.0f,"
				       "\"write_%s_b%u_msgs_per_s_max\":%.0f,\"write_%s_b%u_ns_per_msg\":%.1f",
				       mode_name[m], batches[b], med(&x->rate), mode_name[m], batches[b],
				       mn(&x->rate), mode_name[m], batches[b], mx(&x->rate), mode_name[m],
				       batches[b], med(&x->ns));
				if (have_qf)
					printf(",\"ratio_%s_b%u_vs_qf\":%.2f", mode_name[m], batches[b],
					       med(&x->rate) / med(&qf.rate));
			}
		printf(",\"read_msgs_per_s\":%.0f,\"read_msgs_per_s_min\":%.0f,\"read_msgs_per_s_max\":%.0f,"
		       "\"read_ns_per_msg\":%.1f",
		       med(&rd.rate), mn(&rd.rate), mx(&rd.rate), med(&rd.ns));
		if (have_qf)
			printf(",\"qf_set_msgs_per_s\":%.0f,\"qf_set_msgs_per_s_min\":%.0f,"
			       "\"qf_set_msgs_per_s_max\":%.0f,\"qf_set_ns_per_msg\":%.1f,"
			       "\"qf_get_msgs_per_s\":%.0f,\"qf_get_ns_per_msg\":%.1f,"
			       "\"ratio_read_vs_qf\":%.2f",
			       med(&qf.rate), mn(&qf.rate), mx(&qf.rate), med(&qf.ns), med(&qfr.rate),
			       med(&qfr.ns), med(&rd.rate) / med(&qfr.rate));
		printf("}\n");
		return 0;
	}

	printf("store_bench: %s, CPUs %s (%s), %u run(s), median [min-max], ~%zu-byte "
	       "NewOrderSingle\n", quick ? "QUICK (figures not meaningful)" : "full", cpus,
	       model, runs, msg_len[NMSGS / 2]);
	printf("dir %s (same filesystem for both stores); batch/none on the %s map\n\n", dir,
	       readonly_map ? "read-only" : "writable");
	printf("%-22s %12s %23s %10s %8s\n", "write", "msgs/s", "[min-max]", "ns/msg",
	       have_qf ? "x QF" : "");
	for (int m = 0; m < 3; m++)
		for (int b = 0; b < 3; b++) {
			const struct result *x = &w[m][b];
			char name[32], ratio[16] = "";
			snprintf(name, sizeof(name), "ringfix %s b%u", mode_name[m], batches[b]);
			if (have_qf)
				snprintf(ratio, sizeof(ratio), "%.2f", med(&x->rate) / med(&qf.rate));
			printf("%-22s %12.0f [%10.0f-%10.0f] %10.1f %8s\n", name, med(&x->rate),
			       mn(&x->rate), mx(&x->rate), med(&x->ns), ratio);
		}
	if (have_qf)
		printf("%-22s %12.0f [%10.0f-%10.0f] %10.1f %8s\n", "QuickFIX FileStore::set",
		       med(&qf.rate), mn(&qf.rate), mx(&qf.rate), med(&qf.ns), "1.0");
	printf("\n%-22s %12s %23s %10s %8s\n", "resend read", "msgs/s", "[min-max]", "ns/msg",
	       have_qf ? "x QF" : "");
	{
		char ratio[16] = "";
		if (have_qf)
			snprintf(ratio, sizeof(ratio), "%.2f", med(&rd.rate) / med(&qfr.rate));
		printf("%-22s %12.0f [%10.0f-%10.0f] %10.1f %8s\n", "ringfix iterator",
		       med(&rd.rate), mn(&rd.rate), mx(&rd.rate), med(&rd.ns), ratio);
	}
	if (have_qf)
		printf("%-22s %12.0f [%10.0f-%10.0f] %10.1f %8s\n", "QuickFIX FileStore::get",
		       med(&qfr.rate), mn(&qfr.rate), mx(&qfr.rate), med(&qfr.ns), "1.0");
	printf("\nPromises: full = fdatasync per commit (power-loss safe); batch = process-"
	       "crash safe,\nfdatasync every 10 ms; none = process-crash safe; QuickFIX "
	       "FileStore = fflush per\nmessage, process-crash safe, no fsync.\n");
	return 0;
}
