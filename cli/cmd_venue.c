/*
 * ringfix venue --instance NAME [--fill-ratio R] [--partials N]
 *               [--latency-us N] [--seed S]
 *
 * A venue simulator for demos and tests: attaches to a running acceptor
 * instance, binds every session and plays an exchange. Each NewOrderSingle
 * gets an ExecutionReport ack (ExecType=New) and then, with probability R, a
 * fill (optionally preceded by N partial fills); the other orders rest on the
 * book until an OrderCancelRequest cancels them. Unknown or finished orders
 * get an OrderCancelReject; other application messages a
 * BusinessMessageReject.
 *
 * Which order fills is a pure function of the seed and the order's arrival
 * number, so a run is reproducible: `--expect N` prints how many of the first
 * N orders fill without attaching to anything (tests compare against it).
 *
 * Answers can be delayed by --latency-us: they wait in a FIFO with a due
 * time, and the poll loop keeps polling (it never sleeps past a due time).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "shm/ringfix.h"
#include "shm/segment.h"

#define CMD "venue"
#define MAX_SESSIONS 256
#define BOOK_BITS 18 /* 262144 orders remembered per run */
#define BOOK_CAP (1u << BOOK_BITS)
#define BOOK_LIMIT (BOOK_CAP / 4 * 3) /* keep probes short */
#define QUEUE_CAP 65536u
#define ID_MAX 40
#define SYM_MAX 32
#define ER_MAX 512

enum ostate { O_FREE = 0, O_OPEN, O_FILLED, O_CANCELED };

struct order {
	enum ostate state;
	int session;
	uint64_t id;          /* OrderID number */
	char clid[ID_MAX];    /* ClOrdID */
	char sym[SYM_MAX];
	char side;
	int64_t qty;          /* OrderQty mantissa at scale qscale */
	uint8_t qscale;
	int64_t px;           /* price mantissa at pscale */
	uint8_t pscale;
	int64_t cum;          /* CumQty mantissa at qscale */
};

/* A pending answer: what arrived, copied out of the ring, and when to answer. */
enum akind { A_ORDER, A_CANCEL, A_REJECT_TYPE };

struct action {
	int64_t due_ns;
	enum akind kind;
	int session;
	uint64_t seq;         /* inbound MsgSeqNum (for rejects) */
	bool fill;            /* A_ORDER: decided at arrival from the seed */
	char clid[ID_MAX];
	char orig[ID_MAX];    /* A_CANCEL: OrigClOrdID */
	char sym[SYM_MAX];
	char side;
	char type[8];         /* A_REJECT_TYPE: the MsgType */
	int64_t qty, px;
	uint8_t qscale, pscale;
	int err;              /* A_ORDER: a field missing or bad (answered by a reject ER) */
};

struct vsess {
	char id[64];
	int handle;
	bool old_er;          /* FIX.4.2 and older: ExecTransType(20), ExecType 1/2 */
	bool fixt;
};

struct venue {
	struct rfx_client *c;
	struct vsess s[MAX_SESSIONS];
	unsigned n, bound, failed;
	double ratio;
	unsigned partials;
	int64_t latency_ns;
	uint64_t seed;
	uint64_t arrivals;    /* NewOrderSingles seen: the fill decision's input */
	uint64_t next_order, next_exec;
	char run[24];         /* prefix making OrderID/ExecID unique across runs */
	struct order *book;
	unsigned book_used;
	struct action *q;
	uint32_t qhead, qtail; /* free-running; qtail - qhead = queued */
	/* counters for the final line */
	uint64_t orders, acks, fills, partial_fills, cancels, cxl_rejects, rejects, send_failures;
};

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* splitmix64: a stateless mix, so order n's outcome depends only on (seed, n). */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static bool fills(uint64_t seed, uint64_t n, double ratio)
{
	/* 53 random bits -> [0, 1), compared exactly against the ratio. */
	double u = (double)(mix(seed * 0x100000001b3ULL + n) >> 11) / 9007199254740992.0;
	return u < ratio;
}

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The book entry for (session, clid): the existing one, or a free slot. */
static struct order *book_slot(struct venue *v, int session, const char *clid)
{
	uint32_t i = (hash_id(clid) ^ (uint32_t)session * 0x9e3779b9u) & (BOOK_CAP - 1);
	for (;;) {
		struct order *o = &v->book[i];
		if (o->state == O_FREE || (o->session == session && strcmp(o->clid, clid) == 0))
			return o;
		i = (i + 1) & (BOOK_CAP - 1);
	}
}

static struct vsess *by_handle(struct venue *v, int h)
{
	for (unsigned i = 0; i < v->n; i++)
		if (v->s[i].handle == h)
			return &v->s[i];
	return NULL;
}

/* Copies a string field into dst (NUL-terminated); 0 or a negative code. */
static int get_str(const struct rfx_message *m, uint32_t tag, char *dst, size_t cap)
{
	const char *p;
	uint32_t len;
	int rc = rfx_message_str(m, tag, &p, &len);
	if (rc < 0)
		return rc;
	if (len == 0 || len >= cap)
		return RFX_ERANGE;
	memcpy(dst, p, len);
	dst[len] = 0;
	return 0;
}

static void on_message(void *ctx, const struct rfx_message *m)
{
	struct venue *v = ctx;
	if (!by_handle(v, m->session))
		return;
	struct action *a = &v->q[v->qtail & (QUEUE_CAP - 1)];
	memset(a, 0, sizeof(*a));
	a->due_ns = mono_ns() + v->latency_ns;
	a->session = m->session;
	a->seq = m->seq;
	char t = m->msg_type_len == 1 ? m->msg_type[0] : 0;
	if (t == 'D') {
		a->kind = A_ORDER;
		a->fill = fills(v->seed, v->arrivals++, v->ratio);
		v->orders++;
		if ((a->err = get_str(m, 11, a->clid, sizeof(a->clid))) < 0) {
			/* Without a ClOrdID there is nothing to answer to. */
			a->kind = A_REJECT_TYPE;
			snprintf(a->type, sizeof(a->type), "D");
		}
		if (get_str(m, 55, a->sym, sizeof(a->sym)) < 0)
			snprintf(a->sym, sizeof(a->sym), "N/A");
		if (rfx_message_char(m, 54, &a->side) < 0)
			a->side = '1';
		int rc = rfx_message_decimal(m, 38, &a->qty, &a->qscale);
		if (rc == 0 && a->qty <= 0)
			rc = RFX_ERANGE;
		if (rc < 0 && !a->err)
			a->err = rc;
		/* Market orders (no Price) fill at 100. */
		if (rfx_message_decimal(m, 44, &a->px, &a->pscale) < 0) {
			a->px = 100;
			a->pscale = 0;
		}
	} else if (t == 'F') {
		a->kind = A_CANCEL;
		if (get_str(m, 11, a->clid, sizeof(a->clid)) < 0)
			snprintf(a->clid, sizeof(a->clid), "NONE");
		if (get_str(m, 41, a->orig, sizeof(a->orig)) < 0)
			a->orig[0] = 0;
	} else {
		a->kind = A_REJECT_TYPE;
		snprintf(a->type, sizeof(a->type), "%.*s",
			 (int)(m->msg_type_len < 7 ? m->msg_type_len : 7), m->msg_type);
	}
	v->qtail++;
}

static void on_event(void *ctx, const struct rfx_event *ev)
{
	struct venue *v = ctx;
	struct vsess *s = by_handle(v, ev->session);
	if (ev->type == RFX_EV_BOUND) {
		v->bound++;
	} else if (ev->type == RFX_EV_BIND_FAILED) {
		v->failed++;
		rfx_cli_err(CMD, "bind %s: %s", s ? s->id : "?", rfx_strerror(ev->code));
	}
}

static void on_send_failed(void *ctx, const struct rfx_send_failure *f)
{
	struct venue *v = ctx;
	v->send_failures++;
	(void)f;
}

/* Opens a message; retries while the ring is full (the shard drains it on
 * its own, so this only waits for the other process). */
static int begin(struct venue *v, int session, const char *type)
{
	int rc;
	int64_t give_up = 0;
	while ((rc = rfx_send_begin(v->c, session, ER_MAX, type)) == RFX_EFULL) {
		int64_t now = mono_ns();
		if (!give_up)
			give_up = now + 5000000000LL;
		if (now > give_up || stop)
			break;
	}
	if (rc < 0)
		v->send_failures++;
	return rc;
}

static void end(struct venue *v)
{
	if (rfx_send_end(v->c, 0, 0) < 0)
		v->send_failures++;
}

/* One ExecutionReport for order o. exec_type/ord_status per FIX 4.4; last
 * quantity (at o->qscale) 0 for non-fills. */
static void send_er(struct venue *v, const struct order *o, char exec_type, char ord_status,
		    int64_t last_qty, const char *text)
{
	const struct vsess *s = by_handle(v, o->session);
	if (begin(v, o->session, "8") < 0)
		return;
	char id[48];
	int n = snprintf(id, sizeof(id), "%s-%" PRIu64, v->run, o->id);
	rfx_field_str(v->c, 37, id, (uint32_t)n);
	rfx_field_str(v->c, 11, o->clid, (uint32_t)strlen(o->clid));
	n = snprintf(id, sizeof(id), "%s-E%" PRIu64, v->run, ++v->next_exec);
	rfx_field_str(v->c, 17, id, (uint32_t)n);
	if (s && s->old_er) {
		/* FIX.4.2: ExecTransType required; ExecType 1/2 instead of F. */
		rfx_field_char(v->c, 20, '0');
		if (exec_type == 'F')
			exec_type = ord_status;
	}
	rfx_field_char(v->c, 150, exec_type);
	rfx_field_char(v->c, 39, ord_status);
	rfx_field_str(v->c, 55, o->sym, (uint32_t)strlen(o->sym));
	rfx_field_char(v->c, 54, o->side);
	rfx_field_decimal(v->c, 38, o->qty, o->qscale);
	if (last_qty > 0) {
		rfx_field_decimal(v->c, 32, last_qty, o->qscale);
		rfx_field_decimal(v->c, 31, o->px, o->pscale);
	}
	int64_t leaves = ord_status == '4' || ord_status == '8' ? 0 : o->qty - o->cum;
	rfx_field_decimal(v->c, 151, leaves, o->qscale);
	rfx_field_decimal(v->c, 14, o->cum, o->qscale);
	/* Every fill is at the order's price, so AvgPx is that price exactly. */
	if (o->cum > 0)
		rfx_field_decimal(v->c, 6, o->px, o->pscale);
	else
		rfx_field_int(v->c, 6, 0);
	rfx_field_timestamp(v->c, 60, real_ns(), 3);
	if (text)
		rfx_field_str(v->c, 58, text, (uint32_t)strlen(text));
	end(v);
}

static void do_order(struct venue *v, const struct action *a)
{
	struct order tmp = {0}, *o = &tmp;
	if (!a->err && v->book_used < BOOK_LIMIT) {
		o = book_slot(v, a->session, a->clid);
		if (o->state != O_FREE) {
			/* Duplicate ClOrdID: reject without touching the original. */
			tmp = *o;
			o = &tmp;
			o->cum = 0;
			o->id = ++v->next_order;
			send_er(v, o, '8', '8', 0, "duplicate ClOrdID");
			v->rejects++;
			return;
		}
		v->book_used++;
	}
	o->session = a->session;
	o->id = ++v->next_order;
	snprintf(o->clid, sizeof(o->clid), "%s", a->clid);
	snprintf(o->sym, sizeof(o->sym), "%s", a->sym);
	o->side = a->side;
	o->qty = a->qty;
	o->qscale = a->qscale;
	o->px = a->px;
	o->pscale = a->pscale;
	o->cum = 0;
	if (a->err || o == &tmp) {
		send_er(v, o, '8', '8', 0, a->err ? "bad or missing OrderQty" : "venue book full");
		v->rejects++;
		return;
	}
	o->state = O_OPEN;
	send_er(v, o, '0', '0', 0, NULL);
	v->acks++;
	if (!a->fill)
		return;
	/* N partials of qty/(N+1) each (in the quantity's smallest unit), then
	 * the rest; quantities too small to split fill at once. */
	int64_t part = o->qty / (int64_t)(v->partials + 1);
	for (unsigned i = 0; part > 0 && i < v->partials; i++) {
		o->cum += part;
		send_er(v, o, 'F', '1', part, NULL);
		v->partial_fills++;
	}
	int64_t last = o->qty - o->cum;
	o->cum = o->qty;
	o->state = O_FILLED;
	send_er(v, o, 'F', '2', last, NULL);
	v->fills++;
}

static void do_cancel(struct venue *v, const struct action *a)
{
	struct order *o = a->orig[0] ? book_slot(v, a->session, a->orig) : NULL;
	if (o && o->state == O_OPEN) {
		o->state = O_CANCELED;
		/* The cancel ER carries the request's ClOrdID and the original's. */
		struct order c = *o;
		snprintf(c.clid, sizeof(c.clid), "%s", a->clid);
		if (begin(v, a->session, "8") < 0)
			return;
		char id[48];
		int n = snprintf(id, sizeof(id), "%s-%" PRIu64, v->run, c.id);
		rfx_field_str(v->c, 37, id, (uint32_t)n);
		rfx_field_str(v->c, 11, a->clid, (uint32_t)strlen(a->clid));
		rfx_field_str(v->c, 41, a->orig, (uint32_t)strlen(a->orig));
		n = snprintf(id, sizeof(id), "%s-E%" PRIu64, v->run, ++v->next_exec);
		rfx_field_str(v->c, 17, id, (uint32_t)n);
		const struct vsess *s = by_handle(v, a->session);
		if (s && s->old_er)
			rfx_field_char(v->c, 20, '0');
		rfx_field_char(v->c, 150, '4');
		rfx_field_char(v->c, 39, '4');
		rfx_field_str(v->c, 55, c.sym, (uint32_t)strlen(c.sym));
		rfx_field_char(v->c, 54, c.side);
		rfx_field_decimal(v->c, 38, c.qty, c.qscale);
		rfx_field_int(v->c, 151, 0);
		rfx_field_decimal(v->c, 14, c.cum, c.qscale);
		if (c.cum > 0)
			rfx_field_decimal(v->c, 6, c.px, c.pscale);
		else
			rfx_field_int(v->c, 6, 0);
		rfx_field_timestamp(v->c, 60, real_ns(), 3);
		end(v);
		v->cancels++;
		return;
	}
	/* OrderCancelReject: unknown order (102=1) or already done (102=0). */
	bool known = o && o->state != O_FREE;
	if (begin(v, a->session, "9") < 0)
		return;
	char id[48];
	int n = known ? snprintf(id, sizeof(id), "%s-%" PRIu64, v->run, o->id)
		      : snprintf(id, sizeof(id), "NONE");
	rfx_field_str(v->c, 37, id, (uint32_t)n);
	rfx_field_str(v->c, 11, a->clid, (uint32_t)strlen(a->clid));
	if (a->orig[0])
		rfx_field_str(v->c, 41, a->orig, (uint32_t)strlen(a->orig));
	else
		rfx_field_str(v->c, 41, "NONE", 4);
	rfx_field_char(v->c, 39, !known ? '8' : o->state == O_FILLED ? '2' : '4');
	rfx_field_char(v->c, 434, '1');
	rfx_field_char(v->c, 102, known ? '0' : '1');
	const char *txt = known ? "order already done" : "unknown order";
	rfx_field_str(v->c, 58, txt, (uint32_t)strlen(txt));
	end(v);
	v->cxl_rejects++;
}

static void do_reject_type(struct venue *v, const struct action *a)
{
	if (begin(v, a->session, "j") < 0)
		return;
	rfx_field_uint(v->c, 45, a->seq);
	rfx_field_str(v->c, 372, a->type, (uint32_t)strlen(a->type));
	bool missing = a->type[0] == 'D' && !a->type[1];
	rfx_field_char(v->c, 380, missing ? '5' : '3');
	const char *txt = missing ? "ClOrdID missing" : "unsupported message type";
	rfx_field_str(v->c, 58, txt, (uint32_t)strlen(txt));
	end(v);
	v->rejects++;
}

/* Answers every queued action that is due; returns the next due time or 0. */
static int64_t drain(struct venue *v)
{
	int64_t now = mono_ns();
	while (v->qhead != v->qtail) {
		const struct action *a = &v->q[v->qhead & (QUEUE_CAP - 1)];
		if (a->due_ns > now)
			return a->due_ns;
		if (a->kind == A_ORDER)
			do_order(v, a);
		else if (a->kind == A_CANCEL)
			do_cancel(v, a);
		else
			do_reject_type(v, a);
		v->qhead++;
	}
	return 0;
}

/* rfx_cli_each_session callback: collects the instance's sessions. */
static bool add_session(void *ctx, const char *id)
{
	struct venue *v = ctx;
	if (v->n >= MAX_SESSIONS)
		return false;
	struct vsess *s = &v->s[v->n++];
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->fixt = strncmp(id, "FIXT.", 5) == 0;
	s->old_er = strncmp(id, "FIX.4.0", 7) == 0 || strncmp(id, "FIX.4.1", 7) == 0 ||
		    strncmp(id, "FIX.4.2", 7) == 0;
	return true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringfix venue --instance NAME [--fill-ratio R] [--partials N]\n"
		"                     [--latency-us N] [--seed S]\n"
		"       ringfix venue --expect N [--fill-ratio R] [--seed S]\n"
		"Plays an exchange on every session of the running (acceptor) instance NAME:\n"
		"each NewOrderSingle is acknowledged (ExecutionReport 150=0) and, with\n"
		"probability R (default 1), filled at its limit price (150=F 39=2), after N\n"
		"partial fills (default 0). Unfilled orders rest until an OrderCancelRequest\n"
		"cancels them; an unknown ClOrdID gets an OrderCancelReject. --latency-us\n"
		"delays every answer (default 0). Which orders fill depends only on the seed\n"
		"(default 1) and arrival order; --expect N prints how many of the first N\n"
		"orders fill, and exits. Prints \"venue: bound N sessions\" when ready and a\n"
		"summary on SIGTERM/SIGINT (exit 0); exit 1 if the instance goes away.\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

int rfx_cli_venue(int argc, char **argv)
{
	static const struct option opts[] = {
		{"instance", required_argument, NULL, 'i'},
		{"fill-ratio", required_argument, NULL, 'r'},
		{"partials", required_argument, NULL, 'p'},
		{"latency-us", required_argument, NULL, 'l'},
		{"seed", required_argument, NULL, 's'},
		{"expect", required_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	const char *instance = NULL;
	double ratio = 1.0;
	uint64_t partials = 0, latency_us = 0, seed = 1, expect = 0;
	bool want_expect = false;
	int ch;
	optind = 1;
	opterr = 0; /* one error line of our own instead of getopt's */
	while ((ch = getopt_long(argc, argv, "i:r:p:l:s:e:h", opts, NULL)) != -1) {
		char *end;
		switch (ch) {
		case 'i':
			instance = optarg;
			break;
		case 'r':
			ratio = strtod(optarg, &end);
			if (end == optarg || *end || !(ratio >= 0.0 && ratio <= 1.0)) {
				rfx_cli_err(CMD, "--fill-ratio: '%s': want a number from 0 to 1", optarg);
				return RFX_CLI_USAGE;
			}
			break;
		case 'p':
			if (parse_u64(optarg, 100, &partials) < 0) {
				rfx_cli_err(CMD, "--partials: '%s': want 0 to 100", optarg);
				return RFX_CLI_USAGE;
			}
			break;
		case 'l':
			if (parse_u64(optarg, 10000000, &latency_us) < 0) {
				rfx_cli_err(CMD, "--latency-us: '%s': want 0 to 10000000", optarg);
				return RFX_CLI_USAGE;
			}
			break;
		case 's':
			if (parse_u64(optarg, UINT64_MAX, &seed) < 0) {
				rfx_cli_err(CMD, "--seed: '%s': want an unsigned integer", optarg);
				return RFX_CLI_USAGE;
			}
			break;
		case 'e':
			if (parse_u64(optarg, UINT64_MAX, &expect) < 0) {
				rfx_cli_err(CMD, "--expect: '%s': want an unsigned integer", optarg);
				return RFX_CLI_USAGE;
			}
			want_expect = true;
			break;
		case 'h':
			usage(stdout);
			return RFX_CLI_OK;
		default:
			rfx_cli_err(CMD, "unexpected argument '%s' (see ringfix venue --help)",
				    argv[optind - 1]);
			return RFX_CLI_USAGE;
		}
	}
	if (optind != argc) {
		rfx_cli_err(CMD, "unexpected argument '%s' (see ringfix venue --help)", argv[optind]);
		return RFX_CLI_USAGE;
	}
	if (want_expect) {
		uint64_t k = 0;
		for (uint64_t i = 0; i < expect; i++)
			k += fills(seed, i, ratio);
		printf("%" PRIu64 "\n", k);
		return RFX_CLI_OK;
	}
	if (!instance) {
		rfx_cli_err(CMD, "--instance NAME is required (see ringfix venue --help)");
		return RFX_CLI_USAGE;
	}

	struct venue *v = calloc(1, sizeof(*v));
	if (v) {
		v->book = calloc(BOOK_CAP, sizeof(*v->book));
		v->q = calloc(QUEUE_CAP, sizeof(*v->q));
	}
	if (!v || !v->book || !v->q) {
		rfx_cli_err(CMD, "out of memory");
		if (v) {
			free(v->book);
			free(v->q);
		}
		free(v);
		return RFX_CLI_FAIL;
	}
	v->ratio = ratio;
	v->partials = (unsigned)partials;
	v->latency_ns = (int64_t)latency_us * 1000;
	v->seed = seed;
	snprintf(v->run, sizeof(v->run), "V%lld", (long long)(real_ns() / 1000000000LL));

	int code = RFX_CLI_OK;
	int rc = rfx_cli_each_session(instance, add_session, v);
	if (rc == 0 && v->n == 0)
		rc = RFX_ENOSESSION;
	if (rc < 0) {
		rfx_cli_err(CMD, "instance %s: %s", instance, rfx_strerror(rc));
		code = RFX_CLI_FAIL;
		goto out;
	}
	struct rfx_client_opts co = {.wait = RFX_IDLE_BLOCK};
	if ((rc = rfx_client_attach(&v->c, instance, &co)) < 0) {
		rfx_cli_err(CMD, "attach to %s: %s", instance, rfx_strerror(rc));
		code = RFX_CLI_FAIL;
		goto out;
	}
	for (unsigned i = 0; i < v->n; i++) {
		v->s[i].handle = rfx_bind(v->c, v->s[i].id, 0);
		if (v->s[i].handle < 0) {
			rfx_cli_err(CMD, "bind %s: %s", v->s[i].id, rfx_strerror(v->s[i].handle));
			v->failed++;
		}
	}
	struct sigaction sa = {.sa_handler = on_sig};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	const struct rfx_handler h = {on_message, on_event, on_send_failed};
	bool announced = false;
	while (!stop) {
		/* Poll only as much as the answer queue can hold: a full queue
		 * leaves the rest in the ring (backpressure, not loss). */
		uint32_t room = QUEUE_CAP - (v->qtail - v->qhead);
		rc = room ? rfx_poll(v->c, &h, v, room < 64 ? room : 64) : 0;
		if (rc < 0) {
			rfx_cli_err(CMD, "%s", rfx_strerror(rc));
			code = RFX_CLI_FAIL;
			break;
		}
		int64_t due = drain(v);
		if (!announced && v->bound + v->failed >= v->n) {
			printf("venue: bound %u sessions\n", v->bound);
			fflush(stdout);
			announced = true;
		}
		if (rc == 0) {
			/* Idle: wait for input, but not past the next due answer. */
			int64_t wait = 10000000;
			if (due) {
				int64_t left = due - mono_ns();
				wait = left < 0 ? 0 : left < wait ? left : wait;
			}
			if (wait > 0)
				rfx_wait(v->c, wait);
		}
	}
	printf("venue: %" PRIu64 " orders, %" PRIu64 " acks, %" PRIu64 " fills (%" PRIu64
	       " partials), %" PRIu64 " canceled, %" PRIu64 " cancel rejects, %" PRIu64
	       " rejects, %" PRIu64 " send failures\n",
	       v->orders, v->acks, v->fills, v->partial_fills, v->cancels, v->cxl_rejects, v->rejects,
	       v->send_failures);
	fflush(stdout);
out:
	rfx_client_detach(v->c);
	free(v->book);
	free(v->q);
	free(v);
	return code;
}
