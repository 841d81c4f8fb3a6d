/*
 * codec_bench: ns per message to parse and to serialize four FIX 4.4 messages,
 * ringfix against QuickFIX 1.15.1, in one run on one pinned CPU.
 *
 *   codec_bench [--quick] [--json] [--runs N] [--fixed ITERS [--only I]]
 *
 * --fixed runs every loop exactly ITERS times once, no timing: for profilers
 * (valgrind --tool=callgrind counts instructions per message, which the load
 * of a shared machine does not disturb). --only I limits it to message I (0-3).
 *
 * What each side does (the same wire bytes for both):
 *   parse      ringfix: rfx_codec_frame() with CheckSum verification, then
 *              rfx_codec_parse() into a field index (every tag converted to an
 *              integer, every value a view).
 *              QuickFIX: FIX::Message(string, validate=true) without a data
 *              dictionary (BodyLength and CheckSum checked, every field split and
 *              copied into the header/body/trailer maps).
 *   serialize  ringfix: rebuild the message from its parsed fields (strings),
 *              computing BodyLength and CheckSum: rfx_builder_start/fields/finish.
 *              (Also shown: "per field", one rfx_builder_str() call per field.)
 *              QuickFIX: Message::toString(std::string&) of a parsed message
 *              (reused output string: its cheapest path).
 *   wrap       (ringfix only, the shard's outbound path) rfx_builder_wrap() of
 *              the body from 35= with a standard header, then finish.
 *
 * Each figure is the median of N runs (7; 3 with --quick) with min-max; the
 * runs of all workloads on a message are interleaved round by round, so load
 * from other processes on this shared machine hits both sides alike.
 * Timing figures are never asserted: the meson test only proves it runs.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/codec.h"
#include "bench/bench_util.h"

#ifdef RFX_HAVE_QUICKFIX
long rfx_qf_parse_loop(const char *msg, size_t len, long iters);
long rfx_qf_serialize_loop(const char *msg, size_t len, long iters);
#endif

/* ------------------------------------------------------------ workloads */

static struct rfx_field fields[BENCH_MAX_FIELDS];

/* Serialize: the body fields of the parsed index in one call (the same work
 * as QuickFIX's toString(): write every field, then BodyLength and CheckSum). */
static long rfx_serialize_loop(const struct sample *s, long iters)
{
	static char out[8192];
	struct rfx_builder b;
	struct rfx_msg m;
	long acc = 0;

	rfx_msg_init(&m, fields, BENCH_MAX_FIELDS);
	if (rfx_codec_parse(&m, s->wire, (size_t)s->len, NULL) < 0 ||
	    rfx_builder_init(&b, "FIX.4.4") < 0)
		return -1;
	const struct rfx_field *mt = rfx_msg_hdr(&m, RFX_HDR_MSG_TYPE);
	for (long i = 0; i < iters; i++) {
		rfx_builder_start(&b, out, sizeof out, mt->p, mt->len);
		/* Fields 0..2 are 8, 9, 35 and the last is 10: the builder makes those. */
		rfx_builder_fields(&b, m.fields + 3, m.nfields - 4);
		acc += rfx_builder_finish(&b);
	}
	return acc;
}

/* The same with one rfx_builder_str() call per field (how session code that
 * builds a message value by value pays per field). */
static long rfx_append_loop(const struct sample *s, long iters)
{
	static char out[8192];
	struct rfx_builder b;
	struct rfx_msg m;
	long acc = 0;

	rfx_msg_init(&m, fields, BENCH_MAX_FIELDS);
	if (rfx_codec_parse(&m, s->wire, (size_t)s->len, NULL) < 0 ||
	    rfx_builder_init(&b, "FIX.4.4") < 0)
		return -1;
	const struct rfx_field *mt = rfx_msg_hdr(&m, RFX_HDR_MSG_TYPE);
	for (long i = 0; i < iters; i++) {
		rfx_builder_start(&b, out, sizeof out, mt->p, mt->len);
		/* Fields 0..2 are 8, 9, 35 and the last is 10: the builder makes those. */
		for (uint32_t k = 3; k + 1 < m.nfields; k++)
			rfx_builder_str(&b, m.fields[k].tag, m.fields[k].p, m.fields[k].len);
		acc += rfx_builder_finish(&b);
	}
	return acc;
}

static long rfx_wrap_loop(const struct sample *s, long iters)
{
	static char out[8192];
	struct rfx_builder b;
	struct rfx_msg m;
	struct rfx_header h;
	long acc = 0;

	rfx_msg_init(&m, fields, BENCH_MAX_FIELDS);
	if (rfx_codec_parse(&m, s->wire, (size_t)s->len, NULL) < 0 ||
	    rfx_builder_init(&b, "FIX.4.4") < 0)
		return -1;
	/* The client's body: from 35= to the end, minus the header fields. Here we
	 * take 35 and everything after the header fields of the sample. */
	static char body[4096];
	uint32_t bl = 0;
	for (uint32_t k = 2; k + 1 < m.nfields; k++) {
		uint32_t t = m.fields[k].tag;
		if (t == 34 || t == 49 || t == 52 || t == 56)
			continue;
		bl += (uint32_t)sprintf(body + bl, "%u=", t);
		memcpy(body + bl, m.fields[k].p, m.fields[k].len);
		bl += m.fields[k].len;
		body[bl++] = RFX_SOH;
	}
	rfx_header_init(&h);
	h.sender_comp_id = (struct rfx_str){"SENDERCOMP", 10};
	h.target_comp_id = (struct rfx_str){"TARGETCOMP", 10};
	for (long i = 0; i < iters; i++) {
		h.msg_seq_num = (uint64_t)i + 1;
		h.sending_time = 1704164645123000000LL + i * 1000;
		rfx_builder_wrap(&b, out, sizeof out, &h, body, bl);
		acc += rfx_builder_finish(&b);
	}
	return acc;
}


#ifdef RFX_HAVE_QUICKFIX
static long qf_parse(const struct sample *s, long iters)
{
	return rfx_qf_parse_loop(s->wire, (size_t)s->len, iters);
}

static long qf_serialize(const struct sample *s, long iters)
{
	return rfx_qf_serialize_loop(s->wire, (size_t)s->len, iters);
}
#endif

/* Iterations for one run of fn to take about target_ns. */
static long calibrate(loop_fn fn, const struct sample *s, double target_ns)
{
	long iters = 64;

	for (;;) {
		double t0 = now_ns();
		long r = fn(s, iters);
		double dt = now_ns() - t0;
		if (r < 0)
			return -1;
		bench_sink += r;
		if (dt > target_ns / 4 || iters > (1L << 30))
			return iters * 4;
		iters *= 4;
	}
}

/*
 * Times nfn workloads on one sample, `runs` rounds, each round running every
 * workload once in turn: on a shared machine the load then drifts over all of
 * them alike, so the ratios between them stay meaningful. ns per message.
 */
static int measure_interleaved(const loop_fn *fns, int nfn, const struct sample *s, int runs,
			       double target_ns, struct stat3 *out)
{
	double v[8][BENCH_MAX_RUNS];
	long iters[8];

	for (int k = 0; k < nfn; k++)
		if ((iters[k] = calibrate(fns[k], s, target_ns)) < 0)
			return -1;
	for (int i = 0; i < runs; i++) {
		for (int k = 0; k < nfn; k++) {
			double t0 = now_ns();
			long r = fns[k](s, iters[k]);
			double dt = now_ns() - t0;
			if (r < 0)
				return -1;
			bench_sink += r;
			v[k][i] = dt / (double)iters[k];
		}
	}
	for (int k = 0; k < nfn; k++)
		out[k] = summarize(v[k], runs);
	return 0;
}

/* ----------------------------------------------------------------- main */

static void usage(FILE *to)
{
	fprintf(to, "usage: codec_bench [--quick] [--json] [--runs N] [--fixed ITERS [--only I]]\n");
}

int main(int argc, char **argv)
{
	bool quick = false, json = false;
	int runs = 0;
	long fixed = 0;
	int only = -1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
			runs = atoi(argv[++i]);
			if (runs < 1 || runs > BENCH_MAX_RUNS) {
				fprintf(stderr, "codec_bench: --runs must be 1..%d\n", BENCH_MAX_RUNS);
				return 2;
			}
		} else if (strcmp(argv[i], "--fixed") == 0 && i + 1 < argc) {
			fixed = atol(argv[++i]);
		} else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
			only = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!runs)
		runs = quick ? 3 : 7;
	double target = quick ? 2e6 : 4e7; /* ns per run */

	/* One CPU for the whole run, so both sides see the same core and caches. */
	int cpu = sched_getcpu();
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	bool pinned = sched_setaffinity(0, sizeof set, &set) == 0;
	char model[256];
	cpu_model(model, sizeof model);

	static struct sample samples[4];
	make_samples(samples);
	if (fixed > 0) {
		for (int i = 0; i < 4; i++) {
			if (only >= 0 && i != only)
				continue;
			bench_sink += rfx_parse_loop(&samples[i], fixed) + rfx_serialize_loop(&samples[i], fixed) +
				rfx_append_loop(&samples[i], fixed) + rfx_wrap_loop(&samples[i], fixed);
#ifdef RFX_HAVE_QUICKFIX
			bench_sink += qf_parse(&samples[i], fixed) + qf_serialize(&samples[i], fixed);
#endif
		}
		return 0;
	}

	struct result {
		struct stat3 parse, ser, app, wrap, qparse, qser;
		bool have_qf;
	} res[4];
	memset(res, 0, sizeof res);

	for (int i = 0; i < 4; i++) {
		const struct sample *s = &samples[i];
		loop_fn fns[6] = {rfx_parse_loop, rfx_serialize_loop, rfx_append_loop, rfx_wrap_loop};
		struct stat3 st[6];
		int nfn = 4;
#ifdef RFX_HAVE_QUICKFIX
		fns[nfn++] = qf_parse;
		fns[nfn++] = qf_serialize;
		res[i].have_qf = true;
#endif
		if (measure_interleaved(fns, nfn, s, runs, target, st) < 0) {
			fprintf(stderr, "codec_bench: a workload failed on %s (QuickFIX rejected it?)\n",
				s->name);
			return 1;
		}
		res[i].parse = st[0];
		res[i].ser = st[1];
		res[i].app = st[2];
		res[i].wrap = st[3];
		if (res[i].have_qf) {
			res[i].qparse = st[4];
			res[i].qser = st[5];
		}
	}

	if (json) {
		printf("{\"cpu\": %d, \"cpu_model\": \"%s\", \"pinned\": %s, \"runs\": %d, "
		       "\"quick\": %s, \"quickfix\": %s",
		       cpu, model, pinned ? "true" : "false", runs, quick ? "true" : "false",
		       res[0].have_qf ? "true" : "false");
		for (int i = 0; i < 4; i++) {
			const char *n = samples[i].name;
			const struct result *r = &res[i];
			printf(", \"bytes_%s\": %d", n, samples[i].len);
			printf(", \"parse_ns_ringfix_%s\": %.1f, \"parse_ns_ringfix_%s_min\": %.1f, "
			       "\"parse_ns_ringfix_%s_max\": %.1f",
			       n, r->parse.med, n, r->parse.min, n, r->parse.max);
			printf(", \"serialize_ns_ringfix_%s\": %.1f, \"serialize_ns_ringfix_%s_min\": %.1f, "
			       "\"serialize_ns_ringfix_%s_max\": %.1f",
			       n, r->ser.med, n, r->ser.min, n, r->ser.max);
			printf(", \"append_ns_ringfix_%s\": %.1f", n, r->app.med);
			printf(", \"wrap_ns_ringfix_%s\": %.1f, \"wrap_ns_ringfix_%s_min\": %.1f, "
			       "\"wrap_ns_ringfix_%s_max\": %.1f",
			       n, r->wrap.med, n, r->wrap.min, n, r->wrap.max);
			if (r->have_qf) {
				printf(", \"parse_ns_quickfix_%s\": %.1f, \"parse_ns_quickfix_%s_min\": %.1f, "
				       "\"parse_ns_quickfix_%s_max\": %.1f",
				       n, r->qparse.med, n, r->qparse.min, n, r->qparse.max);
				printf(", \"serialize_ns_quickfix_%s\": %.1f, "
				       "\"serialize_ns_quickfix_%s_min\": %.1f, "
				       "\"serialize_ns_quickfix_%s_max\": %.1f",
				       n, r->qser.med, n, r->qser.min, n, r->qser.max);
				printf(", \"parse_speedup_%s\": %.2f, \"serialize_speedup_%s\": %.2f, "
				       "\"wrap_speedup_%s\": %.2f",
				       n, r->qparse.med / r->parse.med, n, r->qser.med / r->ser.med, n,
				       r->qser.med / r->wrap.med);
			}
		}
		printf("}\n");
		return 0;
	}

	printf("codec_bench: FIX 4.4 parse and serialize, ns per message\n");
	printf("CPU %d (%s), %s; median of %d runs [min-max]%s\n\n", cpu, model,
	       pinned ? "pinned" : "NOT pinned", runs, quick ? ", --quick (short runs)" : "");
	for (int i = 0; i < 4; i++) {
		const struct result *r = &res[i];
		printf("%s, %d bytes\n", samples[i].title, samples[i].len);
		printf("  parse      ringfix %8.1f [%.1f-%.1f]", r->parse.med, r->parse.min,
		       r->parse.max);
		if (r->have_qf)
			printf("   QuickFIX %8.1f [%.1f-%.1f]   %5.1fx", r->qparse.med, r->qparse.min,
			       r->qparse.max, r->qparse.med / r->parse.med);
		printf("\n  serialize  ringfix %8.1f [%.1f-%.1f]", r->ser.med, r->ser.min, r->ser.max);
		if (r->have_qf)
			printf("   QuickFIX %8.1f [%.1f-%.1f]   %5.1fx", r->qser.med, r->qser.min,
			       r->qser.max, r->qser.med / r->ser.med);
		printf("\n  per field  ringfix %8.1f [%.1f-%.1f]", r->app.med, r->app.min, r->app.max);
		printf("\n  wrap body  ringfix %8.1f [%.1f-%.1f]", r->wrap.med, r->wrap.min, r->wrap.max);
		if (r->have_qf)
			printf("   vs QuickFIX serialize        %5.1fx", r->qser.med / r->wrap.med);
		printf("\n\n");
	}
	if (!res[0].have_qf)
		printf("QuickFIX not built (-Dquickfix=disabled or libquickfix-dev missing): no ratios.\n");
	printf("parse: ringfix frames (CheckSum verified) and indexes every field; QuickFIX builds\n"
	       "  FIX::Message(string, validate) without a dictionary.\n"
	       "serialize: both write every field from strings and compute BodyLength and CheckSum\n"
	       "  (ringfix: rfx_builder_fields() from the parsed views; QuickFIX: toString(), whose\n"
	       "  fields already hold their \"tag=value\" text). per field: the same body with one\n"
	       "  rfx_builder_str() call per field.\n"
	       "wrap body: ringfix's outbound path (DESIGN.md): the client's pre-serialized body from\n"
	       "  35= gets 34/49/52/56 (52 formatted from a clock value), BodyLength and CheckSum.\n");
	return 0;
}
