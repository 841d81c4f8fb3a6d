/*
 * session_bench: ns per message through the FIX session layer, ringfix
 * (engine/session) against QuickFIX 1.15.1's FIX::Session, one pinned CPU.
 *
 *   session_bench [--quick] [--json] [--runs N] [--rfx-only] [--dict FIX44.xml]
 *
 * --rfx-only skips the QuickFIX side (for profilers).
 *
 * Workloads (the same wire bytes for both sides, FIX.4.4 acceptor, logged on):
 *   inbound   an in-sequence NewOrderSingle from the wire to the application
 *             callback: framing checks (BodyLength, CheckSum), parse, header
 *             checks (BeginString, CompIDs, MsgSeqNum), sequence increment.
 *             ringfix: rfx_session_on_message(); QuickFIX: Session::next(string).
 *   inbound+dict  the same with data dictionary validation (FIX44.xml): ringfix
 *             hands its one parse to rfx_session_validate_dict; QuickFIX runs
 *             with UseDataDictionary=Y (DataDictionary::validate). Skipped
 *             without the dictionary (../shared/conformance/spec/FIX44.xml
 *             next to the source tree, or --dict).
 *   outbound  an application NewOrderSingle from the application to the wire
 *             bytes: header (34, 49, 52, 56), BodyLength, CheckSum, sequence
 *             increment. ringfix: rfx_session_send_app(body from 35=);
 *             QuickFIX: Session::send(Message&) of one reused message.
 * Both sides: no persistence (a no-op store on ours, NullStoreFactory on
 * QuickFIX's), no data dictionary except in inbound+dict, SendingTime accuracy checks off (QuickFIX
 * reads the wall clock for them), output bytes only counted.
 *
 * Each figure is the median of N runs (7; 3 with --quick) with min-max.
 * Timing figures are never asserted: the meson test only proves it runs.
 */
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/dictionary.h"
#include "engine/session.h"
#include "engine/session_validate.h"
#include "bench/bench_util.h"

#ifdef RFX_HAVE_QUICKFIX
/* Returns elapsed ns for n inbound messages (wire[i] of lens[i]), or < 0. */
double rfx_qf_session_inbound(const char *logon, size_t logon_len, char **wire,
			      const size_t *lens, long n, const char *dict_path);
double rfx_qf_session_outbound(const char *logon, size_t logon_len, long n);
#endif

#define NS 1000000000LL
/* ------------------------------------------------------------- messages */

static const char *const ORDER_BODY = "11=ORD-000012345|1=ACCT-7|21=1|55=AAPL|54=1|"
				      "60=20240102-03:04:05.120|38=100|40=2|44=187.25|59=0|";
static char sending_time[32];

static size_t make_msg(char *out, const char *type, uint64_t seq, const char *body)
{
	char b[1024];
	int n = snprintf(b, sizeof(b), "35=%s|34=%llu|49=TW|52=%s|56=ISLD|%s", type,
			 (unsigned long long)seq, sending_time, body);
	for (int i = 0; i < n; i++)
		if (b[i] == '|')
			b[i] = '\001';
	size_t len = (size_t)sprintf(out, "8=FIX.4.4\0019=%d\001", n);
	memcpy(out + len, b, (size_t)n);
	len += (size_t)n;
	unsigned sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += (unsigned char)out[i];
	len += (size_t)sprintf(out + len, "10=%03u\001", sum % 256);
	return len;
}

/* ------------------------------------------------------------- ringfix */

static long delivered, out_bytes;

static int b_send(void *ctx, const char *m, size_t len)
{
	(void)ctx;
	(void)m;
	out_bytes += (long)len;
	return 0;
}

static void b_app(void *ctx, const struct rfx_session_msg *m)
{
	(void)ctx;
	delivered += (long)m->seq;
}

static int b_seqs(void *ctx, uint64_t ns, uint64_t nt)
{
	(void)ctx;
	(void)ns;
	(void)nt;
	return 0;
}

static int b_put(void *ctx, uint64_t seq, const char *m, size_t len)
{
	(void)ctx;
	(void)seq;
	(void)m;
	(void)len;
	return 0;
}

static struct rfx_session s;
static char out_mem[8192], queue_mem[8192];
static struct rfx_session_field fields[128];
static struct rfx_session_dict_check check; /* NULL validator: no dictionary */

static void rfx_start(const char *logon, size_t logon_len, int64_t now)
{
	struct rfx_session_config c;
	rfx_session_config_default(&c);
	strcpy(c.begin_string, "FIX.4.4");
	strcpy(c.sender_comp_id, "ISLD");
	strcpy(c.target_comp_id, "TW");
	c.check_latency = false;
	struct rfx_session_ops ops = {.send = b_send, .on_app = b_app, .store_set_seqs = b_seqs,
				      .store_put = b_put};
	if (check.validator) {
		ops.validate = rfx_session_validate_dict;
		ops.validate_ctx = &check;
	}
	struct rfx_session_mem mem = {out_mem, sizeof(out_mem), queue_mem, sizeof(queue_mem),
				      fields, 128};
	if (rfx_session_init(&s, &c, &ops, &mem) < 0 || rfx_session_on_connect(&s, now) < 0) {
		fprintf(stderr, "session_bench: init failed\n");
		exit(1);
	}
	rfx_session_on_message(&s, logon, logon_len, now);
	if (!rfx_session_logged_on(&s)) {
		fprintf(stderr, "session_bench: logon failed\n");
		exit(1);
	}
}

static double rfx_inbound(const char *logon, size_t ll, char **wire, const size_t *lens, long n,
			  int64_t now, struct rfx_validator *v)
{
	check.validator = v; /* rfx_start wires the hook when set */
	rfx_start(logon, ll, now);
	long before = delivered;
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		rfx_session_on_message(&s, wire[i], lens[i], now);
	double t = now_ns() - t0;
	if (s.next_target != (uint64_t)n + 2 || delivered == before) {
		fprintf(stderr, "session_bench: ringfix inbound lost messages\n");
		exit(1);
	}
	return t;
}

static double rfx_outbound(const char *logon, size_t ll, long n, int64_t now)
{
	char body[256];
	size_t bl = (size_t)snprintf(body, sizeof(body), "35=D|%s", ORDER_BODY);
	for (size_t i = 0; i < bl; i++)
		if (body[i] == '|')
			body[i] = '\001';
	rfx_start(logon, ll, now);
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (rfx_session_send_app(&s, body, bl, now) < 0)
			exit(1);
	return now_ns() - t0;
}

/* ------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	bool quick = false, json = false, rfx_only = false;
	int runs = 0;
	char dict_path[4096];
	snprintf(dict_path, sizeof(dict_path), "%s/../shared/conformance/spec/FIX44.xml",
		 RFX_SOURCE_ROOT);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--rfx-only") == 0) {
			rfx_only = true;
		} else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--dict") == 0 && i + 1 < argc) {
			snprintf(dict_path, sizeof(dict_path), "%s", argv[++i]);
		} else {
			fprintf(stderr, "usage: session_bench [--quick] [--json] [--runs N] [--rfx-only] "
				"[--dict FIX44.xml]\n");
			return 2;
		}
	}
	(void)rfx_only;
	if (runs <= 0)
		runs = quick ? 3 : 7;
	if (runs > BENCH_MAX_RUNS)
		runs = BENCH_MAX_RUNS;
	long n = quick ? 20000 : 200000;

	int cpu = sched_getcpu();
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	bool pinned = sched_setaffinity(0, sizeof set, &set) == 0;
	char model[256];
	cpu_model(model, sizeof(model));

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * NS;
	rfx_session_format_time(sending_time, now, 3);

	char logon[512];
	size_t ll = make_msg(logon, "A", 1, "98=0|108=30|");
	char **wire = malloc((size_t)n * sizeof(*wire));
	size_t *lens = malloc((size_t)n * sizeof(*lens));
	char *pool = malloc((size_t)n * 256);
	if (!wire || !lens || !pool)
		return 1;
	for (long i = 0; i < n; i++) {
		wire[i] = pool + i * 256;
		lens[i] = make_msg(wire[i], "D", (uint64_t)i + 2, ORDER_BODY);
	}

	struct rfx_dict *dict = NULL;
	struct rfx_validator *validator = NULL;
	struct rfx_dict_error derr;
	if (access(dict_path, R_OK) == 0) {
		if (rfx_dict_load(dict_path, &dict, &derr) < 0 ||
		    rfx_validator_new(dict, dict, RFX_VALIDATE_DEFAULT, &validator) < 0) {
			fprintf(stderr, "session_bench: %s: %s\n", dict_path, derr.text);
			return 1;
		}
	}

	double in_r[BENCH_MAX_RUNS], out_r[BENCH_MAX_RUNS], dict_r[BENCH_MAX_RUNS];
#ifdef RFX_HAVE_QUICKFIX
	double in_q[BENCH_MAX_RUNS], out_q[BENCH_MAX_RUNS], dict_q[BENCH_MAX_RUNS];
#endif
	for (int r = 0; r < runs; r++) {
		in_r[r] = rfx_inbound(logon, ll, wire, lens, n, now, NULL) / (double)n;
		dict_r[r] = validator ? rfx_inbound(logon, ll, wire, lens, n, now, validator) /
						(double)n
				      : 0;
		out_r[r] = rfx_outbound(logon, ll, n, now) / (double)n;
#ifdef RFX_HAVE_QUICKFIX
		if (rfx_only) {
			in_q[r] = out_q[r] = dict_q[r] = 0;
			continue;
		}
		in_q[r] = rfx_qf_session_inbound(logon, ll, wire, lens, n, NULL) / (double)n;
		dict_q[r] = validator ? rfx_qf_session_inbound(logon, ll, wire, lens, n, dict_path) /
						(double)n
				      : 0;
		out_q[r] = rfx_qf_session_outbound(logon, ll, n) / (double)n;
		if (in_q[r] < 0 || out_q[r] < 0 || dict_q[r] < 0) {
			fprintf(stderr, "session_bench: QuickFIX side failed\n");
			return 1;
		}
#endif
	}
	struct stat3 ir = summarize(in_r, runs), orr = summarize(out_r, runs);
	struct stat3 dr = summarize(dict_r, runs);
#ifdef RFX_HAVE_QUICKFIX
	struct stat3 iq = summarize(in_q, runs), oq = summarize(out_q, runs);
	struct stat3 dq = summarize(dict_q, runs);
#endif
	if (json) {
		printf("{\"cpu\": %d, \"cpu_model\": \"%s\", \"pinned\": %s, \"runs\": %d, "
		       "\"messages_per_run\": %ld, \"inbound_ns\": %.1f, \"inbound_ns_min\": %.1f, "
		       "\"inbound_ns_max\": %.1f, \"outbound_ns\": %.1f, \"outbound_ns_min\": %.1f, "
		       "\"outbound_ns_max\": %.1f",
		       cpu, model, pinned ? "true" : "false", runs, n, ir.med, ir.min, ir.max, orr.med,
		       orr.min, orr.max);
		if (validator)
			printf(", \"inbound_dict_ns\": %.1f, \"inbound_dict_ns_min\": %.1f, "
			       "\"inbound_dict_ns_max\": %.1f", dr.med, dr.min, dr.max);
#ifdef RFX_HAVE_QUICKFIX
		printf(", \"qf_inbound_ns\": %.1f, \"qf_inbound_ns_min\": %.1f, \"qf_inbound_ns_max\": "
		       "%.1f, \"qf_outbound_ns\": %.1f, \"qf_outbound_ns_min\": %.1f, "
		       "\"qf_outbound_ns_max\": %.1f, \"inbound_ratio\": %.2f, \"outbound_ratio\": %.2f",
		       iq.med, iq.min, iq.max, oq.med, oq.min, oq.max, iq.med / ir.med, oq.med / orr.med);
		if (validator)
			printf(", \"qf_inbound_dict_ns\": %.1f, \"qf_inbound_dict_ns_min\": %.1f, "
			       "\"qf_inbound_dict_ns_max\": %.1f, \"inbound_dict_ratio\": %.2f",
			       dq.med, dq.min, dq.max, dq.med / dr.med);
#endif
		printf("}\n");
		return 0;
	}
	printf("CPU %d (%s), %s; %ld messages per run; median of %d runs [min-max]\n\n", cpu, model,
	       pinned ? "pinned" : "not pinned", n, runs);
	printf("%-10s %28s", "ns/msg", "ringfix");
#ifdef RFX_HAVE_QUICKFIX
	printf(" %28s %8s", "QuickFIX 1.15.1", "QF/rfx");
#endif
	printf("\n");
	printf("%-10s %10.1f [%6.1f-%6.1f]", "inbound", ir.med, ir.min, ir.max);
#ifdef RFX_HAVE_QUICKFIX
	printf("     %10.1f [%6.1f-%6.1f] %7.1fx", iq.med, iq.min, iq.max, iq.med / ir.med);
#endif
	if (validator) {
		printf("\n%-10s %10.1f [%6.1f-%6.1f]", "in+dict", dr.med, dr.min, dr.max);
#ifdef RFX_HAVE_QUICKFIX
		printf("     %10.1f [%6.1f-%6.1f] %7.1fx", dq.med, dq.min, dq.max, dq.med / dr.med);
#endif
	}
	printf("\n%-10s %10.1f [%6.1f-%6.1f]", "outbound", orr.med, orr.min, orr.max);
#ifdef RFX_HAVE_QUICKFIX
	printf("     %10.1f [%6.1f-%6.1f] %7.1fx", oq.med, oq.min, oq.max, oq.med / orr.med);
#endif
	printf("\n");
	free(wire);
	free(lens);
	free(pool);
	rfx_validator_free(validator);
	rfx_dict_free(dict);
	return 0;
}
