/*
 * validate_bench: ns per message to validate FIX 4.4 messages against the
 * FIX44.xml data dictionary, next to the cost of parsing them, ringfix against
 * QuickFIX 1.15.1, in one run on one pinned CPU.
 *
 *   validate_bench [--quick] [--json] [--runs N] [--dict FIX44.xml]
 *
 * What each side does (the same wire bytes):
 *   parse     ringfix: rfx_codec_frame() (CheckSum verified) + rfx_codec_parse()
 *             into a field index. QuickFIX: FIX::Message(string, dictionary,
 *             validate=true), which also builds the repeating groups.
 *   validate  ringfix: rfx_validator_check() of the parsed message (every check
 *             of the defaults: order, MsgType, required, repeated, value present,
 *             format, enums, tag known/allowed, group counts).
 *             QuickFIX: DataDictionary::validate() of the parsed message.
 * The goal is validate <= 2 x parse for ringfix (reported as a ratio).
 *
 * The dictionary is ../shared/conformance/spec/FIX44.xml next to the source tree
 * unless --dict says otherwise; without it the benchmark skips (exit 77).
 * Each figure is the median of N runs (7; 3 with --quick) with min-max.
 * Timings are never asserted: the meson test only proves it runs.
 */
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_util.h"
#include "engine/codec.h"
#include "engine/dictionary.h"

#ifdef RFX_HAVE_QUICKFIX
void *rfx_qf_dict_load(const char *path);
void rfx_qf_dict_free(void *dd);
long rfx_qf_parse_dd_loop(void *dd, const char *msg, size_t len, long iters);
long rfx_qf_validate_loop(void *dd, const char *msg, size_t len, long iters);
static void *qf_dd;
#endif

#define MAX_RUNS BENCH_MAX_RUNS
#define NSAMPLES BENCH_NSAMPLES

static struct rfx_field fields[BENCH_MAX_FIELDS];
static struct rfx_validator *validator;

static long rfx_validate_loop(const struct sample *s, long iters)
{
	struct rfx_msg m;
	struct rfx_reject rej;
	long acc = 0;

	rfx_msg_init(&m, fields, BENCH_MAX_FIELDS);
	if (rfx_codec_parse(&m, s->wire, (size_t)s->len, NULL) < 0)
		return -1;
	for (long i = 0; i < iters; i++) {
		if (rfx_validator_check(validator, &m, &rej) != 0) {
			fprintf(stderr, "validate_bench: %s rejected: %s (tag %u)\n", s->name, rej.text,
				rej.ref_tag);
			return -1;
		}
		acc++;
	}
	return acc;
}

#ifdef RFX_HAVE_QUICKFIX
static long qf_parse(const struct sample *s, long iters)
{
	return rfx_qf_parse_dd_loop(qf_dd, s->wire, (size_t)s->len, iters);
}

static long qf_validate(const struct sample *s, long iters)
{
	return rfx_qf_validate_loop(qf_dd, s->wire, (size_t)s->len, iters);
}
#endif

int main(int argc, char **argv)
{
	char dict_path[4096];
	bool quick = false, json = false;
	int runs = 0;

	snprintf(dict_path, sizeof(dict_path), "%s/../shared/conformance/spec/FIX44.xml",
		 RFX_SOURCE_ROOT);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
			runs = atoi(argv[++i]);
			if (runs < 1 || runs > MAX_RUNS) {
				fprintf(stderr, "validate_bench: --runs must be 1..%d\n", MAX_RUNS);
				return 2;
			}
		} else if (strcmp(argv[i], "--dict") == 0 && i + 1 < argc) {
			snprintf(dict_path, sizeof(dict_path), "%s", argv[++i]);
		} else {
			fprintf(stderr, "usage: validate_bench [--quick] [--json] [--runs N] "
				"[--dict FIX44.xml]\n");
			return 2;
		}
	}
	if (!runs)
		runs = quick ? 3 : 7;
	double target = quick ? 2e6 : 4e7;

	if (access(dict_path, R_OK) != 0) {
		fprintf(stderr, "validate_bench: skipped: no dictionary at %s (give --dict)\n",
			dict_path);
		return 77; /* meson: skipped */
	}
	struct rfx_dict *dict;
	struct rfx_dict_error derr;
	int rc = rfx_dict_load(dict_path, &dict, &derr);
	if (rc < 0) {
		fprintf(stderr, "validate_bench: %s\n", derr.text);
		return 1;
	}
	if (rfx_validator_new(dict, dict, RFX_VALIDATE_DEFAULT, &validator) < 0)
		return 1;
#ifdef RFX_HAVE_QUICKFIX
	qf_dd = rfx_qf_dict_load(dict_path);
	if (!qf_dd) {
		fprintf(stderr, "validate_bench: QuickFIX cannot load %s\n", dict_path);
		return 1;
	}
#endif

	int cpu = sched_getcpu();
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	bool pinned = sched_setaffinity(0, sizeof set, &set) == 0;
	char model[256];
	cpu_model(model, sizeof model);

	static struct sample samples[NSAMPLES];
	make_samples(samples);
	struct result {
		struct stat3 parse, val, qparse, qval;
		bool have_qf;
	} res[NSAMPLES];
	memset(res, 0, sizeof res);

	for (int i = 0; i < NSAMPLES; i++) {
		const struct sample *s = &samples[i];
		if (measure(rfx_parse_loop, s, runs, target, &res[i].parse) < 0 ||
		    measure(rfx_validate_loop, s, runs, target, &res[i].val) < 0) {
			fprintf(stderr, "validate_bench: ringfix failed on %s\n", s->name);
			return 1;
		}
#ifdef RFX_HAVE_QUICKFIX
		if (measure(qf_parse, s, runs, target, &res[i].qparse) < 0 ||
		    measure(qf_validate, s, runs, target, &res[i].qval) < 0) {
			fprintf(stderr, "validate_bench: QuickFIX rejected %s\n", s->name);
			return 1;
		}
		res[i].have_qf = true;
#endif
	}

	if (json) {
		printf("{\"cpu\": %d, \"cpu_model\": \"%s\", \"pinned\": %s, \"runs\": %d, "
		       "\"quick\": %s, \"quickfix\": %s",
		       cpu, model, pinned ? "true" : "false", runs, quick ? "true" : "false",
		       res[0].have_qf ? "true" : "false");
		for (int i = 0; i < NSAMPLES; i++) {
			const char *n = samples[i].name;
			const struct result *r = &res[i];
			printf(", \"parse_ns_ringfix_%s\": %.1f", n, r->parse.med);
			printf(", \"validate_ns_ringfix_%s\": %.1f, \"validate_ns_ringfix_%s_min\": %.1f, "
			       "\"validate_ns_ringfix_%s_max\": %.1f",
			       n, r->val.med, n, r->val.min, n, r->val.max);
			printf(", \"validate_over_parse_ringfix_%s\": %.2f", n,
			       r->val.med / r->parse.med);
			if (r->have_qf) {
				printf(", \"parse_ns_quickfix_%s\": %.1f", n, r->qparse.med);
				printf(", \"validate_ns_quickfix_%s\": %.1f, "
				       "\"validate_ns_quickfix_%s_min\": %.1f, "
				       "\"validate_ns_quickfix_%s_max\": %.1f",
				       n, r->qval.med, n, r->qval.min, n, r->qval.max);
				printf(", \"validate_speedup_%s\": %.2f", n, r->qval.med / r->val.med);
			}
		}
		printf("}\n");
	} else {
		printf("validate_bench: FIX 4.4 validation against FIX44.xml, ns per message\n");
		printf("CPU %d (%s), %s; median of %d runs [min-max]%s\n\n", cpu, model,
		       pinned ? "pinned" : "NOT pinned", runs, quick ? ", --quick (short runs)" : "");
		for (int i = 0; i < NSAMPLES; i++) {
			const struct result *r = &res[i];
			printf("%s, %d bytes\n", samples[i].title, samples[i].len);
			printf("  parse     ringfix %8.1f [%.1f-%.1f]", r->parse.med, r->parse.min,
			       r->parse.max);
			if (r->have_qf)
				printf("   QuickFIX %8.1f [%.1f-%.1f]", r->qparse.med, r->qparse.min,
				       r->qparse.max);
			printf("\n  validate  ringfix %8.1f [%.1f-%.1f]", r->val.med, r->val.min,
			       r->val.max);
			if (r->have_qf)
				printf("   QuickFIX %8.1f [%.1f-%.1f]   %5.1fx", r->qval.med,
				       r->qval.min, r->qval.max, r->qval.med / r->val.med);
			printf("\n  ringfix validate / parse = %.2f (goal <= 2)\n\n",
			       r->val.med / r->parse.med);
		}
		if (!res[0].have_qf)
			printf("QuickFIX not built: no reference figures.\n");
	}
	rfx_validator_free(validator);
	rfx_dict_free(dict);
#ifdef RFX_HAVE_QUICKFIX
	rfx_qf_dict_free(qf_dd);
#endif
	return 0;
}
