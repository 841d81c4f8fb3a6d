/*
 * ring_bench: latency and throughput of shm/ring between two pinned processes,
 * beside a cache-line ping-pong floor measured in the same run.
 *
 *   ring_bench [--quick] [--json] [--runs N] [--cpus A,B]
 *
 * Round trip: the parent writes a 64 B record (8 B header, 56 B payload: one
 * cache line) into ring A, the child echoes it on ring B (also measured with
 * a 64 B payload, a 72 B record that spans two lines); one-way is the child's receive time minus the send timestamp in
 * the record (CLOCK_MONOTONIC is shared by all processes of a host).
 * Floor: the same exchange through two bare cache lines (one per direction),
 * the least any shared-memory round trip can cost on this machine.
 * Throughput: the child produces back-to-back records of a fixed size with
 * batched publication, the parent consumes and touches each one.
 * Each figure is the median over --runs runs, with min and max.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/error.h"
#include "shm/ring.h"

#define RING_CAP (1u << 20)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cpu_a = 0, cpu_b = 1;

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fprintf(stderr, "ring_bench: cannot pin to CPU %d: %s (continuing unpinned)\n",
			cpu, strerror(errno));
}

static void *shared(size_t n)
{
	/* MAP_POPULATE: no first-touch page faults inside the measurements. */
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED) {
		perror("ring_bench: mmap");
		exit(1);
	}
	return p;
}

/* fork does not copy page tables of shared mappings: the child maps the
 * pages in before it starts, so its first lap does not fault either. */
static void prefault(const void *p, size_t n)
{
	const volatile uint8_t *b = p;

	for (size_t i = 0; i < n; i += 4096)
		(void)b[i];
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t pct(int64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return v[i];
}

static pid_t spawn(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("ring_bench: fork");
		exit(1);
	}
	if (pid == 0) {
		pin(cpu_b);
		fn(arg);
		_exit(0);
	}
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "ring_bench: child failed (status %d)\n", st);
		exit(1);
	}
}

/* ---- cache-line ping-pong floor --------------------------------------- */

struct pingpong {
	_Alignas(128) _Atomic uint64_t a;
	_Alignas(128) _Atomic uint64_t b;
	_Alignas(128) uint64_t n;
};

static void pp_child(void *arg)
{
	struct pingpong *pp = arg;

	for (uint64_t i = 1; i <= pp->n; i++) {
		while (atomic_load_explicit(&pp->a, memory_order_acquire) != i)
			;
		atomic_store_explicit(&pp->b, i, memory_order_release);
	}
}

static void floor_rtt(uint64_t n, int64_t *rtt)
{
	struct pingpong *pp = shared(sizeof(*pp));
	pid_t pid;

	pp->n = n;
	pid = spawn(pp_child, pp);
	for (uint64_t i = 1; i <= n; i++) {
		int64_t t0 = now_ns();

		atomic_store_explicit(&pp->a, i, memory_order_release);
		while (atomic_load_explicit(&pp->b, memory_order_acquire) != i)
			;
		rtt[i - 1] = now_ns() - t0;
	}
	reap(pid);
	munmap(pp, sizeof(*pp));
}

/* ---- ring round trip ---------------------------------------------------- */

struct rt_ctx {
	void *ping, *pong;
	uint64_t n;
	uint32_t payload;
	int64_t *oneway; /* shared: filled by the child */
};

static void rt_child(void *arg)
{
	struct rt_ctx *x = arg;
	struct rfx_ring_consumer c;
	struct rfx_ring_producer p;

	prefault(x->ping, rfx_ring_size(RING_CAP));
	prefault(x->pong, rfx_ring_size(RING_CAP));
	prefault(x->oneway, x->n * sizeof(int64_t));
	if (rfx_ring_consumer_init(&c, x->ping, RING_CAP) ||
	    rfx_ring_producer_init(&p, x->pong, RING_CAP, RFX_RING_NO_WAKE))
		_exit(2);
	for (uint64_t i = 0; i < x->n; i++) {
		struct rfx_ring_rec r;
		void *d;
		int64_t t0;

		while (rfx_ring_peek(&c, &r) == RFX_EEMPTY)
			;
		memcpy(&t0, r.data, 8);
		x->oneway[i] = now_ns() - t0;
		while (rfx_ring_try_claim(&p, x->payload, &d) == RFX_EFULL)
			;
		memcpy(d, r.data, x->payload);
		rfx_ring_consume(&c);
		rfx_ring_release(&c);
		rfx_ring_commit(&p, 1, x->payload);
		rfx_ring_publish(&p);
	}
}

static void ring_rtt(uint64_t n, uint32_t payload, int64_t *rtt, int64_t *oneway)
{
	struct rt_ctx x;
	struct rfx_ring_producer p;
	struct rfx_ring_consumer c;
	pid_t pid;

	x.ping = shared(rfx_ring_size(RING_CAP));
	x.pong = shared(rfx_ring_size(RING_CAP));
	x.n = n;
	x.payload = payload;
	x.oneway = shared(n * sizeof(int64_t));
	rfx_ring_format(x.ping, RING_CAP);
	rfx_ring_format(x.pong, RING_CAP);
	pid = spawn(rt_child, &x);
	if (rfx_ring_producer_init(&p, x.ping, RING_CAP, RFX_RING_NO_WAKE) ||
	    rfx_ring_consumer_init(&c, x.pong, RING_CAP))
		exit(1);
	for (uint64_t i = 0; i < n; i++) {
		struct rfx_ring_rec r;
		uint8_t msg[64] = {0};
		void *d;
		int64_t t0 = now_ns();

		memcpy(msg, &t0, 8);
		while (rfx_ring_try_claim(&p, payload, &d) == RFX_EFULL)
			;
		memcpy(d, msg, payload);
		rfx_ring_commit(&p, 1, payload);
		rfx_ring_publish(&p);
		while (rfx_ring_peek(&c, &r) == RFX_EEMPTY)
			;
		rfx_ring_consume(&c);
		rfx_ring_release(&c);
		rtt[i] = now_ns() - t0;
	}
	reap(pid);
	memcpy(oneway, x.oneway, n * sizeof(int64_t));
	munmap(x.oneway, n * sizeof(int64_t));
	munmap(x.ping, rfx_ring_size(RING_CAP));
	munmap(x.pong, rfx_ring_size(RING_CAP));
}

/* ---- throughput --------------------------------------------------------- */

struct tp_ctx {
	void *ring;
	uint64_t n;
	uint32_t size;
};

static void tp_child(void *arg)
{
	struct tp_ctx *x = arg;
	struct rfx_ring_producer p;

	prefault(x->ring, rfx_ring_size(RING_CAP));
	if (rfx_ring_producer_init(&p, x->ring, RING_CAP, RFX_RING_NO_WAKE))
		_exit(2);
	for (uint64_t i = 0; i < x->n; i++) {
		void *d;

		while (rfx_ring_try_claim(&p, x->size, &d) == RFX_EFULL)
			rfx_ring_publish(&p);
		memcpy(d, &i, 8);
		rfx_ring_commit(&p, 1, x->size);
		if ((i & 31) == 31)
			rfx_ring_publish(&p);
	}
	rfx_ring_publish(&p);
}

/* Records per second seen by the consumer. */
static double throughput(uint64_t n, uint32_t size)
{
	struct tp_ctx x = {.n = n, .size = size};
	struct rfx_ring_consumer c;
	uint64_t got = 0, sum = 0;
	int64_t t0 = 0;
	pid_t pid;

	x.ring = shared(rfx_ring_size(RING_CAP));
	rfx_ring_format(x.ring, RING_CAP);
	if (rfx_ring_consumer_init(&c, x.ring, RING_CAP))
		exit(1);
	pid = spawn(tp_child, &x);
	while (got < n) {
		struct rfx_ring_rec r;
		int rc = rfx_ring_peek(&c, &r);

		if (rc == RFX_EEMPTY) {
			rfx_ring_release(&c);
			continue;
		}
		if (rc < 0) {
			fprintf(stderr, "ring_bench: %s\n", rfx_strerror(rc));
			exit(1);
		}
		if (got == 0)
			t0 = now_ns();
		uint64_t v;
		memcpy(&v, r.data, 8);
		sum += v;
		rfx_ring_consume(&c);
		if ((++got & 31) == 0)
			rfx_ring_release(&c);
	}
	int64_t dt = now_ns() - t0;
	reap(pid);
	munmap(x.ring, rfx_ring_size(RING_CAP));
	if (sum != n * (n - 1) / 2) {
		fprintf(stderr, "ring_bench: throughput checksum mismatch\n");
		exit(1);
	}
	return (double)(n - 1) * 1e9 / (double)dt;
}

/* ---- driver -------------------------------------------------------------- */

struct stat3 {
	double med, min, max;
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct stat3 summarize(double *v, int n)
{
	struct stat3 s;

	qsort(v, (size_t)n, sizeof(double), cmp_d);
	s.min = v[0];
	s.max = v[n - 1];
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

enum { M_FLOOR50, M_FLOOR99, M_RTT50, M_RTT99, M_RTT999, M_OW50, M_OW99,
       M_RTT72_50, M_RTT72_99, M_TP64, M_TP128, M_TP256, M_TP1K, M_COUNT };
static const char *const mname[M_COUNT] = {
	"floor_rtt_p50_ns", "floor_rtt_p99_ns", "ring_rtt_p50_ns", "ring_rtt_p99_ns",
	"ring_rtt_p999_ns", "ring_oneway_p50_ns", "ring_oneway_p99_ns",
	"ring_rtt_72B_p50_ns", "ring_rtt_72B_p99_ns",
	"tput_64B_mrec_s", "tput_128B_mrec_s", "tput_256B_mrec_s", "tput_1KiB_mrec_s",
};

int main(int argc, char **argv)
{
	int quick = 0, json = 0, runs = 5, runs_given = 0;
	uint64_t lat_n = 200000, tp_n = 20000000;
	static const uint32_t sizes[4] = {64, 128, 256, 1024};

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]), runs_given = 1;
		else if (!strcmp(argv[i], "--cpus") && i + 1 < argc &&
			 sscanf(argv[++i], "%d,%d", &cpu_a, &cpu_b) == 2)
			;
		else {
			fprintf(stderr, "usage: ring_bench [--quick] [--json] [--runs N] [--cpus A,B]\n");
			return 2;
		}
	}
	if (quick) {
		if (!runs_given)
			runs = 1;
		lat_n = 2000;
		tp_n = 100000;
	}
	if (runs < 1 || runs > 100)
		runs = 5;
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		fprintf(stderr, "ring_bench: one CPU only; both processes share it (figures meaningless)\n");
	pin(cpu_a);

	double *vals[M_COUNT];
	int64_t *a = malloc(lat_n * sizeof(int64_t)), *b = malloc(lat_n * sizeof(int64_t));

	for (int m = 0; m < M_COUNT; m++)
		vals[m] = calloc((size_t)runs, sizeof(double));
	if (!a || !b) {
		fprintf(stderr, "ring_bench: out of memory\n");
		return 1;
	}
	for (int r = 0; r < runs; r++) {
		/* Floor and ring interleaved per run so both see the same noise. */
		floor_rtt(lat_n, a);
		qsort(a, lat_n, sizeof(int64_t), cmp_i64);
		vals[M_FLOOR50][r] = (double)pct(a, lat_n, 0.50);
		vals[M_FLOOR99][r] = (double)pct(a, lat_n, 0.99);
		/* 64 B records (8 B header + 56 B payload: one cache line). */
		ring_rtt(lat_n, 56, a, b);
		qsort(a, lat_n, sizeof(int64_t), cmp_i64);
		qsort(b, lat_n, sizeof(int64_t), cmp_i64);
		vals[M_RTT50][r] = (double)pct(a, lat_n, 0.50);
		vals[M_RTT99][r] = (double)pct(a, lat_n, 0.99);
		vals[M_RTT999][r] = (double)pct(a, lat_n, 0.999);
		vals[M_OW50][r] = (double)pct(b, lat_n, 0.50);
		vals[M_OW99][r] = (double)pct(b, lat_n, 0.99);
		/* 72 B records (64 B payload): usually two cache lines. */
		ring_rtt(lat_n, 64, a, b);
		qsort(a, lat_n, sizeof(int64_t), cmp_i64);
		vals[M_RTT72_50][r] = (double)pct(a, lat_n, 0.50);
		vals[M_RTT72_99][r] = (double)pct(a, lat_n, 0.99);
		for (int s = 0; s < 4; s++)
			vals[M_TP64 + s][r] = throughput(tp_n, sizes[s]) / 1e6;
	}

	struct stat3 st[M_COUNT];
	for (int m = 0; m < M_COUNT; m++)
		st[m] = summarize(vals[m], runs);
	double ratio = st[M_RTT50].med / st[M_FLOOR50].med;

	if (json) {
		printf("{\"bench\":\"ring\",\"runs\":%d,\"cpu_a\":%d,\"cpu_b\":%d,"
		       "\"latency_samples\":%lu,\"tput_records\":%lu",
		       runs, cpu_a, cpu_b, (unsigned long)lat_n, (unsigned long)tp_n);
		for (int m = 0; m < M_COUNT; m++)
			printf(",\"%s\":%.2f,\"%s_min\":%.2f,\"%s_max\":%.2f", mname[m], st[m].med,
			       mname[m], st[m].min, mname[m], st[m].max);
		printf(",\"rtt_p50_over_floor\":%.3f,\"target_rtt_ratio\":2.0,"
		       "\"target_tput_128B_mrec_s\":20.0}\n", ratio);
	} else {
		printf("ring_bench: processes pinned to CPUs %d and %d, %d run(s), "
		       "%lu latency samples, %lu records per throughput run\n",
		       cpu_a, cpu_b, runs, (unsigned long)lat_n, (unsigned long)tp_n);
		printf("%-22s %12s %12s %12s\n", "figure", "median", "min", "max");
		for (int m = 0; m < M_COUNT; m++)
			printf("%-22s %12.1f %12.1f %12.1f\n", mname[m], st[m].med, st[m].min, st[m].max);
		printf("ring RTT p50 / cache-line floor p50 = %.2f (target <= 2.0)\n", ratio);
		printf("throughput at 128 B = %.1f M records/s (target >= 20)\n", st[M_TP128].med);
	}
	for (int m = 0; m < M_COUNT; m++)
		free(vals[m]);
	free(a);
	free(b);
	return 0;
}
