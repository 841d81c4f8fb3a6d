/*
 * ringfix echo --instance NAME [--appl-ver-id CODE]
 *
 * Attaches to a running instance, binds every session of every shard and
 * behaves as QuickFIX's acceptance application: NewOrderSingle (D),
 * SecurityDefinition (d) and Email (C) are echoed back unchanged (a D with
 * PossResend=Y whose ClOrdID was already seen since the session's logon is
 * not echoed again); any other application message is answered with a
 * BusinessMessageReject (35=j, 380=3 UnsupportedMessageType). Prints
 * "echo: bound N sessions" once every bind is answered, then runs until
 * SIGTERM/SIGINT (exit 0) or the instance goes away (exit 1).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "shm/ringfix.h"
#include "shm/segment.h"

#define MAX_SESSIONS 256
#define MAX_SEEN 256
#define MAX_FIELDS 1024
#define OUT_MAX 65536

struct field {
	const char *p;   /* "tag=value" */
	uint32_t len;    /* without the SOH */
	long tag;
	uint32_t pos;
};

struct esess {
	char id[64];
	int handle;
	bool fixt;
	char seen[MAX_SEEN][40];
	unsigned nseen;
};

struct echo {
	struct rfx_client *c;
	struct esess s[MAX_SESSIONS];
	unsigned n;
	unsigned bound, failed;
	const char *appl_ver;
	char out[OUT_MAX];
	struct field f[MAX_FIELDS];
	unsigned sends, rejects, send_failures;
};

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

static struct esess *by_handle(struct echo *e, int h)
{
	for (unsigned i = 0; i < e->n; i++)
		if (e->s[i].handle == h)
			return &e->s[i];
	return NULL;
}

/* Header tags as QuickFIX's Header knows them: they lead the echo in tag
 * order and the shard moves them into the header it writes. */
static bool hdr_tag(long t)
{
	switch (t) {
	case 8: case 9: case 35: case 34: case 43: case 49: case 50: case 52:
	case 56: case 57: case 90: case 91: case 97: case 115: case 116:
	case 122: case 128: case 129: case 142: case 143: case 144: case 145:
	case 212: case 213: case 347: case 369: case 627: case 1128: case 1129:
	case 1156: case 10: case 89: case 93:
		return true;
	}
	return false;
}

static int cmp_field(const void *a, const void *b)
{
	const struct field *x = a, *y = b;
	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static size_t put(char *o, size_t at, const char *p, size_t n)
{
	if (at + n > OUT_MAX)
		return OUT_MAX + 1;
	memcpy(o + at, p, n);
	return at + n;
}

static void echo_send(struct echo *e, int h, size_t len)
{
	if (len > OUT_MAX)
		return;
	int rc;
	while ((rc = rfx_send(e->c, h, e->out, (uint32_t)len, 0, 0)) == RFX_EFULL && !stop)
		rfx_poll(e->c, NULL, NULL, 0);
	if (rc < 0)
		fprintf(stderr, "echo: send: %s\n", rfx_strerror(rc));
}

static void on_message(void *ctx, const struct rfx_message *m)
{
	struct echo *e = ctx;
	struct esess *s = by_handle(e, m->session);
	if (!s)
		return;
	/* Split the raw message into fields. */
	unsigned nf = 0;
	const char *p = m->raw, *end = m->raw + m->raw_len;
	while (p < end && nf < MAX_FIELDS) {
		const char *q = memchr(p, '\001', (size_t)(end - p));
		if (!q)
			break;
		e->f[nf].p = p;
		e->f[nf].len = (uint32_t)(q - p);
		e->f[nf].tag = strtol(p, NULL, 10);
		e->f[nf].pos = nf;
		nf++;
		p = q + 1;
	}
	char type[16];
	snprintf(type, sizeof(type), "%.*s", (int)(m->msg_type_len < 15 ? m->msg_type_len : 15),
		 m->msg_type);
	bool echo = m->msg_type_len == 1 && strchr("DdC", m->msg_type[0]);
	if (echo && type[0] == 'D') {
		char key[40] = "";
		bool poss_resend = false;
		for (unsigned i = 0; i < nf; i++) {
			if (e->f[i].tag == 11)
				snprintf(key, sizeof(key), "%.*s", (int)e->f[i].len - 3, e->f[i].p + 3);
			if (e->f[i].tag == 97 && e->f[i].len == 4 && e->f[i].p[3] == 'Y')
				poss_resend = true;
		}
		for (unsigned i = 0; i < s->nseen; i++)
			if (poss_resend && strcmp(s->seen[i], key) == 0)
				return;
		if (s->nseen < MAX_SEEN)
			strcpy(s->seen[s->nseen++], key);
	}
	size_t o = 0;
	if (echo) {
		o = put(e->out, o, "35=", 3);
		o = put(e->out, o, type, strlen(type));
		o = put(e->out, o, "\001", 1);
		/* Fields after 8, 9, 35 without the trailer: header ones first,
		 * each group in tag order (QuickFIX's field maps are sorted). */
		unsigned from = nf > 3 ? 3 : nf, n = 0;
		struct field tmp[MAX_FIELDS];
		for (int pass = 0; pass < 2; pass++) {
			n = 0;
			for (unsigned i = from; i < nf; i++)
				if (e->f[i].tag != 10 && hdr_tag(e->f[i].tag) == (pass == 0))
					tmp[n++] = e->f[i];
			qsort(tmp, n, sizeof(tmp[0]), cmp_field);
			for (unsigned i = 0; i < n; i++) {
				o = put(e->out, o, tmp[i].p, tmp[i].len);
				o = put(e->out, o, "\001", 1);
			}
		}
		e->sends++;
	} else {
		char t[160];
		int k = snprintf(t, sizeof(t),
				 "35=j\00145=%llu\00158=Unsupported Message Type\001372=%s\001380=3\001",
				 (unsigned long long)m->seq, type);
		o = put(e->out, o, t, (size_t)k);
		/* QuickFIX's session puts its DefaultApplVerID in the body of
		 * this reject on FIXT. */
		if (s->fixt && e->appl_ver[0]) {
			k = snprintf(t, sizeof(t), "1137=%s\001", e->appl_ver);
			o = put(e->out, o, t, (size_t)k);
		}
		e->rejects++;
	}
	echo_send(e, m->session, o);
}

static void on_event(void *ctx, const struct rfx_event *ev)
{
	struct echo *e = ctx;
	struct esess *s = by_handle(e, ev->session);
	switch (ev->type) {
	case RFX_EV_BOUND:
		e->bound++;
		break;
	case RFX_EV_BIND_FAILED:
		e->failed++;
		fprintf(stderr, "echo: bind %s failed: %s\n", s ? s->id : "?",
			rfx_strerror(ev->code));
		break;
	case RFX_EV_LOGON:
		if (s)
			s->nseen = 0; /* "already seen in this logon" */
		break;
	default:
		break;
	}
}

static void on_send_failed(void *ctx, const struct rfx_send_failure *f)
{
	struct echo *e = ctx;
	struct esess *s = by_handle(e, f->session);
	e->send_failures++;
	fprintf(stderr, "echo: %s: message not sent: %s\n", s ? s->id : "?",
		rfx_strerror(f->reason));
}

/* rfx_cli_each_session callback: collects the instance's sessions. */
static bool add_session(void *ctx, const char *id)
{
	struct echo *e = ctx;
	if (e->n >= MAX_SESSIONS)
		return false;
	snprintf(e->s[e->n].id, sizeof(e->s[e->n].id), "%s", id);
	e->s[e->n].fixt = strncmp(id, "FIXT.", 5) == 0;
	e->n++;
	return true;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ringfix echo --instance NAME [--appl-ver-id CODE]\n"
		   "Binds every session of the running instance NAME and echoes orders as the\n"
		   "QuickFIX acceptance application does (D, d, C echoed; other application\n"
		   "messages get a BusinessMessageReject). CODE is the DefaultApplVerID(1137)\n"
		   "put in those rejects on FIXT sessions (default 9, FIX.5.0SP2).\n");
}

int rfx_cli_echo(int argc, char **argv)
{
	static const struct option opts[] = {
		{"instance", required_argument, NULL, 'i'},
		{"appl-ver-id", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{0, 0, 0, 0},
	};
	const char *instance = NULL;
	struct echo *e = calloc(1, sizeof(*e));
	if (!e)
		return 1;
	e->appl_ver = "9";
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "i:a:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			instance = optarg;
			break;
		case 'a':
			e->appl_ver = optarg;
			break;
		case 'h':
			usage(stdout);
			free(e);
			return 0;
		default:
			usage(stderr);
			free(e);
			return 2;
		}
	}
	if (!instance || optind != argc) {
		usage(stderr);
		free(e);
		return 2;
	}
	int rc = rfx_cli_each_session(instance, add_session, e);
	if (rc < 0) {
		fprintf(stderr, "echo: instance %s: %s\n", instance, rfx_strerror(rc));
		free(e);
		return 1;
	}
	struct rfx_client_opts co = {.wait = RFX_IDLE_BLOCK};
	rc = rfx_client_attach(&e->c, instance, &co);
	if (rc < 0) {
		fprintf(stderr, "echo: attach to %s: %s\n", instance, rfx_strerror(rc));
		free(e);
		return 1;
	}
	for (unsigned i = 0; i < e->n; i++) {
		e->s[i].handle = rfx_bind(e->c, e->s[i].id, 0);
		if (e->s[i].handle < 0) {
			fprintf(stderr, "echo: bind %s: %s\n", e->s[i].id,
				rfx_strerror(e->s[i].handle));
			e->failed++;
		}
	}
	struct sigaction sa = {.sa_handler = on_sig};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	const struct rfx_handler h = {on_message, on_event, on_send_failed};
	bool announced = false;
	int code = 0;
	while (!stop) {
		rc = rfx_poll(e->c, &h, e, 64);
		if (rc < 0) {
			fprintf(stderr, "echo: %s\n", rfx_strerror(rc));
			code = 1;
			break;
		}
		if (!announced && e->bound + e->failed >= e->n) {
			printf("echo: bound %u sessions\n", e->bound);
			fflush(stdout);
			announced = true;
		}
		if (rc == 0)
			rfx_wait(e->c, 10 * 1000000LL);
	}
	fprintf(stderr, "echo: %u echoed, %u rejected, %u send failures\n", e->sends, e->rejects,
		e->send_failures);
	rfx_client_detach(e->c);
	free(e);
	return code;
}
