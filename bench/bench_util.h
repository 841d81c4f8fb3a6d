/*
 * Shared scaffolding of the bench/ programs: timing, medians with min-max,
 * calibrated measuring loops, the CPU model, and the FIX 4.4 sample messages.
 * Header-only (static functions) so each benchmark stays one executable.
 */
#ifndef RFX_BENCH_UTIL_H
#define RFX_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/codec.h"

#define BENCH_MAX_RUNS 31
#define BENCH_NSAMPLES 4

struct sample {
	const char *name, *title;
	char wire[4096];
	int len;
};

struct stat3 {
	double med, min, max;
};

static volatile long bench_sink;

static inline double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static inline struct stat3 summarize(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	struct stat3 s = {n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1]};
	return s;
}

/* A FIX 4.4 message with a fixed header; body uses '|' for SOH. */
static inline void make_sample(struct sample *s, const char *name, const char *title,
			       const char *msg_type, const char *body)
{
	struct rfx_builder b;
	char tmp[4096];
	size_t n = strlen(body);

	for (size_t i = 0; i < n; i++)
		tmp[i] = body[i] == '|' ? RFX_SOH : body[i];
	rfx_builder_init(&b, "FIX.4.4");
	rfx_builder_start(&b, tmp + 2048, 2048, msg_type, (uint32_t)strlen(msg_type));
	rfx_builder_str(&b, 34, "1234", 4);
	rfx_builder_str(&b, 49, "SENDERCOMP", 10);
	rfx_builder_str(&b, 52, "20240102-03:04:05.123", 21);
	rfx_builder_str(&b, 56, "TARGETCOMP", 10);
	rfx_builder_raw(&b, tmp, (uint32_t)n);
	s->len = rfx_builder_finish(&b);
	if (s->len <= 0) {
		fprintf(stderr, "bench: cannot build %s\n", name);
		exit(1);
	}
	memcpy(s->wire, rfx_builder_msg(&b), (size_t)s->len);
	s->name = name;
	s->title = title;
}

/* The four messages of bench/codec_bench.c, so figures compare across programs. */
static inline void make_samples(struct sample *s)
{
	char md[2048];
	int w = 0;

	make_sample(&s[0], "heartbeat", "Heartbeat (0)", "0", "");
	make_sample(&s[1], "new_order_single", "NewOrderSingle (D)", "D",
		    "11=ORD-000012345|1=ACCT-7|21=1|55=AAPL|54=1|60=20240102-03:04:05.120|"
		    "38=100|40=2|44=187.25|59=0|");
	make_sample(&s[2], "execution_report", "ExecutionReport (8)", "8",
		    "37=O-99812|11=ORD-000012345|17=E-5521901|150=F|39=2|1=ACCT-7|55=AAPL|"
		    "54=1|38=100|40=2|44=187.25|32=100|31=187.24|151=0|14=100|6=187.24|"
		    "60=20240102-03:04:05.122|58=Filled|");
	w += sprintf(md + w, "262=MDREQ-1|268=10|");
	for (int i = 0; i < 10; i++)
		w += sprintf(md + w, "279=%d|269=%d|55=AAPL|270=187.%02d|271=%d|290=%d|", i % 3,
			     i % 2, 20 + i, 100 * (i + 1), 1 + i / 2);
	make_sample(&s[3], "market_data_incremental_refresh_10",
		    "MarketDataIncrementalRefresh (X), 10 entries", "X", md);
}

#define BENCH_MAX_FIELDS 512

/* ringfix's inbound codec work, the same in every benchmark that compares
 * with it: frame (CheckSum verified) and index every field. */
static inline long rfx_parse_loop(const struct sample *s, long iters)
{
	static struct rfx_field fields[BENCH_MAX_FIELDS];
	const struct rfx_frame_opts fo = {.max_size = 65536, .check_checksum = true};
	struct rfx_msg m;
	long acc = 0;

	rfx_msg_init(&m, fields, BENCH_MAX_FIELDS);
	for (long i = 0; i < iters; i++) {
		size_t skip;
		int n = rfx_codec_frame(s->wire, (size_t)s->len, &fo, &skip);
		if (n <= 0)
			return -1;
		acc += rfx_codec_parse(&m, s->wire, (size_t)n, NULL);
	}
	return acc;
}

typedef long (*loop_fn)(const struct sample *s, long iters);

/* Calibrates fn to about target_ns per run, then times `runs` runs: ns per
 * message as median [min-max]. Returns 0, or -1 when fn fails. */
static inline int measure(loop_fn fn, const struct sample *s, int runs, double target_ns,
			  struct stat3 *out)
{
	double v[BENCH_MAX_RUNS];
	long iters = 64;

	for (;;) {
		double t0 = now_ns();
		long r = fn(s, iters);
		double dt = now_ns() - t0;
		if (r < 0)
			return -1;
		bench_sink += r;
		if (dt > target_ns / 4 || iters > (1L << 30))
			break;
		iters *= 4;
	}
	iters *= 4;
	for (int i = 0; i < runs; i++) {
		double t0 = now_ns();
		long r = fn(s, iters);
		double dt = now_ns() - t0;
		if (r < 0)
			return -1;
		bench_sink += r;
		v[i] = dt / (double)iters;
	}
	*out = summarize(v, runs);
	return 0;
}

static inline void cpu_model(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, cap, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "model name", 10) == 0) {
			char *c = strchr(line, ':');
			if (c) {
				c += 1 + (c[1] == ' ');
				c[strcspn(c, "\n")] = 0;
				snprintf(buf, cap, "%s", c);
			}
			break;
		}
	}
	fclose(f);
}

#endif
