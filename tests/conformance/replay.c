/*
 * In-process replay of QuickFIX's acceptance definitions against the session
 * machine: no sockets, a fake clock, an in-memory store.
 *
 *   replay CONFORMANCE_DIR VERSION [KNOWN_FAILURES]
 *
 * VERSION is a folder of CONFORMANCE_DIR/definitions/server (fix42, fix44,
 * fix50sp2). The acceptor is configured as CONFORMANCE_DIR/at.cfg says (ISLD,
 * ResetOnLogon=Y), with the echo application of its README. Each .def file
 * runs in name order against one long-lived acceptor, like at_runner.py, and
 * follows its transforms: <TIME>/<TIME+N>/<TIME-N> (from the fake clock),
 * BodyLength and CheckSum filled in when a line leaves them out, patterns of
 * definitions/fields.fmt for the compare.
 *
 * The fake clock only moves while an E line waits for output (heartbeat and
 * test-request cases) or an eDISCONNECT waits for the close, so a version
 * replays in milliseconds.
 *
 * Framing follows QuickFIX's parser (BodyLength, then the next "<SOH>10="), or
 * with REPLAY_CODEC_FRAMER=1 the codec's rfx_codec_frame().
 *
 * Prints PASS/FAIL per file with the first mismatch, then "N passed, M failed".
 * Dictionary validation (at.cfg: spec/FIX42.xml, FIX44.xml, FIXT11.xml +
 * FIX50SP2.xml) goes through the session's validate hook, adapted here to the
 * dictionary module's validator. Files listed in KNOWN_FAILURES (one name per
 * line, '#' comments) print XFAIL and do not count as failures; if one passes
 * it prints XPASS and fails the run, so the list cannot go stale. Exit status:
 * 0 when no other file failed and no listed file passed, 1 otherwise, 77 (skip)
 * when CONFORMANCE_DIR is absent.
 */
#include <dirent.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/codec.h"
#include "engine/dictionary.h"
#include "engine/session.h"
#include "engine/session_validate.h"
#include "unit/session/memstore.h"

#define NS 1000000000LL
#define MAX_CONNS 10
#define SOH '\001'

/* ---------------------------------------------------------------- buffers */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void buf_drop(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	if (b->p)
		b->p[b->len] = 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static const char *memfind(const char *h, size_t hl, const char *n, size_t from)
{
	size_t nl = strlen(n);
	for (size_t i = from; i + nl <= hl; i++)
		if (memcmp(h + i, n, nl) == 0)
			return h + i;
	return NULL;
}

/* ---------------------------------------------------------------- world */

struct conn;

/* One configured session of the acceptor with its application state. */
struct binding {
	struct memstore *store; /* first member: memstore_ctx */
	struct memstore store_mem;
	struct rfx_session s;
	char out[65536], queue[65536];
	struct rfx_session_field fields[512];
	struct conn *conn;
	char seen_ids[64][32];  /* ClOrdIDs echoed in this logon */
	int nseen;
	struct rfx_validator *validator;
	struct rfx_session_dict_check check;
};

struct conn {
	bool open;              /* our side considers it connected */
	bool closed_by_engine;
	struct binding *b;
	struct buf in;          /* bytes from the runner not yet framed */
	struct buf out;         /* whole messages from the engine, back to back */
};

static struct conn conns[MAX_CONNS];
static struct binding *bindings[8];
static int nbindings;
static int64_t now;
static char failure[2048];

static void fail(const char *fmt, const char *a, const char *b)
{
	if (!failure[0])
		snprintf(failure, sizeof(failure), fmt, a, b);
}

static int op_send(void *ctx, const char *msg, size_t len)
{
	struct binding *b = ctx;
	if (b->conn)
		buf_add(&b->conn->out, msg, len);
	return 0;
}

static void op_disconnect(void *ctx)
{
	struct binding *b = ctx;
	if (b->conn) {
		b->conn->open = false;
		b->conn->closed_by_engine = true;
		b->conn->b = NULL;
		b->conn = NULL;
	}
}

static void op_event(void *ctx, enum rfx_session_event ev, const char *text)
{
	struct binding *b = ctx;
	(void)text;
	if (ev == RFX_SESSION_EV_LOGON)
		b->nseen = 0;
	if (getenv("REPLAY_VERBOSE"))
		fprintf(stderr, "  event %d: %s\n", (int)ev, text);
}

/* The echo application of ../shared/conformance/README.md. */
static int cmp_field_tag(const void *a, const void *b)
{
	const struct rfx_session_field *x = a, *y = b;
	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	return x->p < y->p ? -1 : x->p > y->p;
}

static bool hdr_tag(int32_t t)
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

static void add_field(struct buf *o, const struct rfx_session_field *f)
{
	char t[32];
	int n = snprintf(t, sizeof(t), "%d=", (int)f->tag);
	buf_add(o, t, (size_t)n);
	buf_add(o, f->p, f->len);
	buf_add(o, "\001", 1);
}

static void op_app(void *ctx, const struct rfx_session_msg *m)
{
	struct binding *b = ctx;
	struct buf o = {0};
	char t[64];
	bool echo = m->msg_type_len == 1 && strchr("DdC", m->msg_type[0]);
	if (echo && m->msg_type[0] == 'D') {
		const struct rfx_session_field *id = rfx_session_msg_get(m, 11);
		char key[32] = "";
		if (id)
			snprintf(key, sizeof(key), "%.*s", (int)id->len, id->p);
		for (int i = 0; i < b->nseen; i++)
			if (m->poss_resend && strcmp(b->seen_ids[i], key) == 0)
				return;
		if (b->nseen < 64)
			strcpy(b->seen_ids[b->nseen++], key);
	}
	buf_add(&o, "35=", 3);
	buf_add(&o, m->msg_type, m->msg_type_len);
	buf_add(&o, "\001", 1);
	if (echo) {
		/* QuickFIX keeps body fields in tag order (no groups here). */
		struct rfx_session_field f[512];
		uint32_t n = 0;
		for (uint32_t i = 3; i < m->nfields && n < 512; i++)
			if (hdr_tag(m->fields[i].tag) && m->fields[i].tag != 10)
				f[n++] = m->fields[i];
		qsort(f, n, sizeof(f[0]), cmp_field_tag);
		for (uint32_t i = 0; i < n; i++)
			add_field(&o, &f[i]);
		n = 0;
		for (uint32_t i = 3; i < m->nfields && n < 512; i++)
			if (!hdr_tag(m->fields[i].tag))
				f[n++] = m->fields[i];
		qsort(f, n, sizeof(f[0]), cmp_field_tag);
		for (uint32_t i = 0; i < n; i++)
			add_field(&o, &f[i]);
	} else {
		/* BusinessMessageReject, UnsupportedMessageType (380=3). */
		int n = snprintf(t, sizeof(t), "45=%llu\001", (unsigned long long)m->seq);
		buf_add(&o, t, (size_t)n);
		buf_add(&o, "58=Unsupported Message Type\001", 28);
		buf_add(&o, "372=", 4);
		buf_add(&o, m->msg_type, m->msg_type_len);
		buf_add(&o, "\001380=3\001", 7);
		/* QuickFIX's session writes this reject and, on FIXT, adds its
		 * DefaultApplVerID to the body. */
		if (b->s.cfg.default_appl_ver_id[0]) {
			buf_add(&o, "1137=", 5);
			buf_add(&o, b->s.cfg.default_appl_ver_id, strlen(b->s.cfg.default_appl_ver_id));
			buf_add(&o, "\001", 1);
		}
		/* 35=j replaces the inbound type */
		struct buf j = {0};
		buf_add(&j, "35=j\001", 5);
		buf_add(&j, o.p + 4 + m->msg_type_len, o.len - 4 - m->msg_type_len);
		buf_free(&o);
		o = j;
	}
	rfx_session_send_app(&b->s, o.p, o.len, now);
	buf_free(&o);
}

static struct rfx_dict *load_dict(const char *dir, const char *file)
{
	char path[4200];
	struct rfx_dict *d = NULL;
	struct rfx_dict_error err;
	snprintf(path, sizeof(path), "%s/spec/%s", dir, file);
	if (rfx_dict_load(path, &d, &err) < 0) {
		fprintf(stderr, "replay: cannot load %s\n", path);
		return NULL;
	}
	return d;
}

static struct rfx_dict *dicts[8];
static int ndicts;

static struct binding *binding_new(const char *begin, const char *target, const char *appl_ver,
				   const char *dir, const char *tdict, const char *adict)
{
	struct binding *b = calloc(1, sizeof(*b));
	struct rfx_session_config c;
	struct rfx_session_ops ops = {0};
	struct rfx_session_mem mem = {b->out, sizeof(b->out), b->queue, sizeof(b->queue),
				      b->fields, 512};
	if (!b)
		abort();
	memstore_init(&b->store_mem);
	b->store = &b->store_mem;
	rfx_session_config_default(&c);
	c.role = RFX_SESSION_ACCEPTOR;
	snprintf(c.begin_string, sizeof(c.begin_string), "%s", begin);
	snprintf(c.sender_comp_id, sizeof(c.sender_comp_id), "ISLD");
	snprintf(c.target_comp_id, sizeof(c.target_comp_id), "%s", target);
	if (appl_ver)
		snprintf(c.default_appl_ver_id, sizeof(c.default_appl_ver_id), "%s", appl_ver);
	c.reset_on_logon = true;
	ops.ctx = b;
	ops.send = op_send;
	ops.disconnect = op_disconnect;
	ops.on_app = op_app;
	ops.on_event = op_event;
	memstore_bind(&ops);
	if (dir && !getenv("REPLAY_NO_DICT")) {
		struct rfx_dict *t = load_dict(dir, tdict);
		struct rfx_dict *a = strcmp(tdict, adict) ? load_dict(dir, adict) : t;
		if (t && a && rfx_validator_new(t, a, RFX_VALIDATE_DEFAULT, &b->validator) == 0) {
			b->check.validator = b->validator;
			ops.validate = rfx_session_validate_dict;
			ops.validate_ctx = &b->check;
		}
		dicts[ndicts++] = t;
		if (a != t)
			dicts[ndicts++] = a;
	}
	if (rfx_session_init(&b->s, &c, &ops, &mem) < 0)
		abort();
	return b;
}

/* ---------------------------------------------------------------- framing */

/* Find a field's value in raw bytes: "<SOH>tag=" or at the start. */
static bool raw_get(const char *p, size_t len, const char *tag, const char **v, size_t *vl)
{
	char pat[16];
	size_t pl = (size_t)snprintf(pat, sizeof(pat), "\001%s=", tag);
	const char *f;
	if (len > pl - 1 && memcmp(p, pat + 1, pl - 1) == 0)
		f = p + pl - 1;
	else if ((f = memfind(p, len, pat, 0)))
		f += pl;
	else
		return false;
	const char *e = memchr(f, SOH, len - (size_t)(f - p));
	if (!e)
		return false;
	*v = f;
	*vl = (size_t)(e - f);
	return true;
}

static bool raw_eq(const char *p, size_t len, const char *tag, const char *want)
{
	const char *v;
	size_t vl;
	return raw_get(p, len, tag, &v, &vl) && vl == strlen(want) && memcmp(v, want, vl) == 0;
}

static void deliver(struct conn *c, const char *msg, size_t len)
{
	if (!c->open)
		return;
	if (!c->b) {
		/* Acceptor: the first message names the session (8, 49, 56). A
		 * session that already has a connection refuses a second one
		 * (acceptance 1b): drop it without a word. */
		struct binding *hit = NULL;
		for (int i = 0; i < nbindings; i++) {
			const struct rfx_session_config *cf = &bindings[i]->s.cfg;
			if (raw_eq(msg, len, "8", cf->begin_string) &&
			    raw_eq(msg, len, "49", cf->target_comp_id) &&
			    raw_eq(msg, len, "56", cf->sender_comp_id))
				hit = bindings[i];
		}
		if (!hit || hit->conn || rfx_session_state(&hit->s) != RFX_SESSION_DISCONNECTED) {
			c->open = false;
			c->closed_by_engine = true;
			return;
		}
		c->b = hit;
		hit->conn = c;
		rfx_session_on_connect(&hit->s, now);
	}
	rfx_session_on_message(&c->b->s, msg, len, now);
}

/* QuickFIX's Parser: "8=" ... "9=" length, skip length bytes, then up to the
 * SOH after "<SOH>10=". Wrong BodyLength values thus swallow or split
 * messages exactly as they do against QuickFIX. */
/* REPLAY_CODEC_FRAMER=1: frame with the codec's rfx_codec_frame() instead (the
 * runtime's framer); bytes it rejects go to the session as one garbled
 * message, so a bad Logon still ends the connection. */
static void frame_codec(struct conn *c)
{
	while (c->open && c->in.len) {
		size_t skip = 0;
		int n = rfx_codec_frame(c->in.p, c->in.len, NULL, &skip);
		if (n == RFX_EPARTIAL)
			return;
		size_t take = n > 0 ? (size_t)n : (skip ? skip : 1);
		char *msg = malloc(take);
		memcpy(msg, c->in.p, take);
		buf_drop(&c->in, take);
		deliver(c, msg, take);
		free(msg);
	}
}

static void frame(struct conn *c)
{
	if (getenv("REPLAY_CODEC_FRAMER")) {
		frame_codec(c);
		return;
	}
	for (;;) {
		struct buf *in = &c->in;
		if (in->len < 2)
			return;
		const char *p = memfind(in->p, in->len, "8=", 0);
		if (!p)
			return;
		buf_drop(in, (size_t)(p - in->p));
		const char *l = memfind(in->p, in->len, "\0019=", 0);
		if (!l)
			return;
		const char *le = memchr(l + 3, SOH, in->len - (size_t)(l + 3 - in->p));
		if (!le)
			return;
		long length = 0;
		bool ok = le > l + 3;
		for (const char *q = l + 3; q < le; q++) {
			if (*q < '0' || *q > '9')
				ok = false;
			else
				length = length * 10 + (*q - '0');
		}
		size_t pos = (size_t)(le + 1 - in->p);
		if (!ok) {
			buf_drop(in, in->len);
			return;
		}
		pos += (size_t)length;
		if (in->len < pos)
			return;
		const char *ck = memfind(in->p, in->len, "\00110=", pos - 1);
		if (!ck)
			return;
		const char *end = memchr(ck + 4, SOH, in->len - (size_t)(ck + 4 - in->p));
		if (!end)
			return;
		size_t n = (size_t)(end + 1 - in->p);
		char *msg = malloc(n);
		memcpy(msg, in->p, n);
		buf_drop(in, n);
		deliver(c, msg, n);
		free(msg);
		if (!c->open)
			return;
	}
}

static void conn_close(struct conn *c)
{
	if (c->b) {
		struct binding *b = c->b;
		c->b = NULL;
		b->conn = NULL;
		rfx_session_on_disconnect(&b->s, now);
	}
	c->open = false;
	buf_free(&c->in);
	buf_free(&c->out);
	c->closed_by_engine = false;
}

/* Fire the earliest timer of any session; false when none is pending. */
static bool advance(int64_t limit)
{
	int64_t dl = INT64_MAX;
	for (int i = 0; i < nbindings; i++) {
		int64_t d = rfx_session_on_timer(&bindings[i]->s, now);
		if (d < dl)
			dl = d;
	}
	if (dl == INT64_MAX || dl > limit)
		return false;
	if (dl > now)
		now = dl;
	for (int i = 0; i < nbindings; i++)
		rfx_session_on_timer(&bindings[i]->s, now);
	return true;
}

/* Pop one whole message (by BodyLength, as at_runner.py reads). */
static bool pop_msg(struct conn *c, struct buf *out)
{
	const char *l = memfind(c->out.p, c->out.len, "\0019=", 0);
	if (!l)
		return false;
	const char *le = memchr(l + 3, SOH, c->out.len - (size_t)(l + 3 - c->out.p));
	if (!le)
		return false;
	size_t n = (size_t)strtoul(l + 3, NULL, 10);
	const char *e = memfind(c->out.p, c->out.len, "\001", (size_t)(le + 1 - c->out.p) + n);
	if (!e)
		return false;
	size_t len = (size_t)(e + 1 - c->out.p);
	buf_add(out, c->out.p, len);
	buf_drop(&c->out, len);
	return true;
}

/* ---------------------------------------------------------------- transforms */

static void fmt_time(char *o, int64_t t)
{
	rfx_session_format_time(o, t, 0);
}

static void timeify(const char *in, size_t len, struct buf *o)
{
	for (size_t i = 0; i < len;) {
		if (in[i] == '<' && len - i >= 6 && memcmp(in + i, "<TIME", 5) == 0) {
			size_t j = i + 5;
			long off = 0;
			int sign = 0;
			if (in[j] == '+' || in[j] == '-') {
				sign = in[j] == '+' ? 1 : -1;
				j++;
				while (j < len && in[j] >= '0' && in[j] <= '9')
					off = off * 10 + (in[j++] - '0');
			}
			if (j < len && in[j] == '>') {
				char t[32];
				fmt_time(t, now + sign * off * NS);
				buf_add(o, t, strlen(t));
				i = j + 1;
				continue;
			}
		}
		buf_add(o, in + i, 1);
		i++;
	}
}

/* Reflector#fixify: insert 9= when absent, append 10= when absent. */
static void fixify(const struct buf *m, struct buf *o)
{
	if (m->len < 2 || memcmp(m->p, "8=", 2) != 0) {
		buf_add(o, m->p, m->len);
		return;
	}
	const char *hs = memchr(m->p, SOH, m->len);
	if (!hs) {
		buf_add(o, m->p, m->len);
		return;
	}
	size_t head = (size_t)(hs + 1 - m->p);
	bool has_len = memfind(m->p, m->len, "\0019=", 0) &&
		       memchr(memfind(m->p, m->len, "\0019=", 0) + 1, SOH,
			      m->len - (size_t)(memfind(m->p, m->len, "\0019=", 0) + 1 - m->p));
	/* rest = after head, minus a "<SOH>10=...<SOH>" at its end. */
	const char *rest = m->p + head;
	size_t rl = m->len - head;
	const char *ck = NULL;
	if (rl && rest[rl - 1] == SOH) {
		const char *c = memfind(rest, rl, "\00110=", 0);
		if (c)
			ck = c;
	}
	struct buf r = {0}, lenf = {0};
	if (ck)
		buf_add(&r, rest, (size_t)(ck - rest));
	else
		buf_add(&r, rest, rl);
	if (!has_len) {
		char t[32];
		int n = snprintf(t, sizeof(t), "9=%zu\001", r.len);
		buf_add(&lenf, t, (size_t)n);
	}
	buf_add(o, m->p, head);
	if (lenf.len)
		buf_add(o, lenf.p, lenf.len);
	if (r.len)
		buf_add(o, r.p, r.len);
	if (ck) {
		buf_add(o, ck, (size_t)(rest + rl - ck));
	} else {
		unsigned sum = 0;
		for (size_t i = 0; i < o->len; i++)
			sum += (unsigned char)o->p[i];
		char t[16];
		int n = snprintf(t, sizeof(t), "10=%03u\001", sum % 256);
		buf_add(o, t, (size_t)n);
	}
	buf_free(&r);
	buf_free(&lenf);
}

/* ---------------------------------------------------------------- compare */

struct pattern {
	int tag;
	regex_t rx;
};
static struct pattern pats[32];
static int npats;

static void load_patterns(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[512];
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && npats < 32) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		line[strcspn(line, "\r\n")] = 0;
		/* POSIX ERE has no \d. */
		char rx[1024];
		size_t n = 0;
		for (char *p = eq + 1; *p && n < sizeof(rx) - 8; p++) {
			if (p[0] == '\\' && p[1] == 'd') {
				memcpy(rx + n, "[0-9]", 5);
				n += 5;
				p++;
			} else {
				rx[n++] = *p;
			}
		}
		rx[n] = 0;
		pats[npats].tag = atoi(line);
		if (regcomp(&pats[npats].rx, rx, REG_EXTENDED | REG_NOSUB) == 0)
			npats++;
	}
	fclose(f);
}

static int split(const char *p, size_t len, const char **f, size_t *fl, int cap)
{
	int n = 0;
	size_t s = 0;
	for (size_t i = 0; i <= len && n < cap; i++) {
		if (i == len || p[i] == SOH) {
			if (i == len && i == s)
				break;
			f[n] = p + s;
			fl[n++] = i - s;
			s = i + 1;
		}
	}
	while (n && fl[n - 1] == 0) /* Ruby's split drops trailing empties */
		n--;
	return n;
}

static void show(char *o, size_t cap, const char *p, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;
	for (size_t i = 0; i < n; i++)
		o[i] = p[i] == SOH ? '|' : p[i];
	o[n] = 0;
}

static bool compare(const struct buf *e, const struct buf *a, char *why, size_t wl)
{
	const char *ef[512], *af[512];
	size_t el[512], al[512];
	int ne = split(e->p, e->len, ef, el, 512), na = split(a->p, a->len, af, al, 512);
	if (ne != na) {
		snprintf(why, wl, "Number of fields do not match");
		return false;
	}
	for (int i = 0; i < ne; i++) {
		const char *eq1 = memchr(ef[i], '=', el[i]), *eq2 = memchr(af[i], '=', al[i]);
		size_t t1 = eq1 ? (size_t)(eq1 - ef[i]) : el[i], t2 = eq2 ? (size_t)(eq2 - af[i]) : al[i];
		if (t1 != t2 || memcmp(ef[i], af[i], t1) != 0) {
			snprintf(why, wl, "Expected field (%.*s) but found field (%.*s)", (int)t1, ef[i],
				 (int)t2, af[i]);
			return false;
		}
		const char *ev = eq1 ? eq1 + 1 : ef[i] + el[i], *av = eq2 ? eq2 + 1 : af[i] + al[i];
		size_t evl = el[i] - (size_t)(ev - ef[i]), avl = al[i] - (size_t)(av - af[i]);
		int tag = atoi(ef[i]);
		regex_t *rx = NULL;
		for (int k = 0; k < npats; k++)
			if (pats[k].tag == tag)
				rx = &pats[k].rx;
		if (!rx) {
			if (evl != avl || memcmp(ev, av, evl) != 0) {
				snprintf(why, wl, "Value in field (%.*s) should be (%.*s) but was (%.*s)",
					 (int)t1, ef[i], (int)evl, ev, (int)avl, av);
				return false;
			}
		} else {
			char v[256];
			snprintf(v, sizeof(v), "%.*s", (int)avl, av);
			if (regexec(rx, v, 0, NULL, 0) != 0) {
				snprintf(why, wl, "Field (%.*s) does not match pattern", (int)t1, ef[i]);
				return false;
			}
		}
	}
	return true;
}

/* ---------------------------------------------------------------- one file */

static bool run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	failure[0] = 0;
	if (!f) {
		fail("cannot open the file%s%s", "", "");
		return false;
	}
	while (!failure[0] && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (!n || line[0] == '#')
			continue;
		char kind = line[0];
		int cid = 1;
		const char *body = line + 1;
		if (n >= 3 && line[1] >= '0' && line[1] <= '9' && line[2] == ',') {
			cid = line[1] - '0';
			body = line + 3;
		}
		size_t bl = (size_t)n - (size_t)(body - line);
		struct conn *c = &conns[cid];
		char where[32];
		snprintf(where, sizeof(where), "%d", lineno);
		if (kind == 'i') {
			if (strcmp(body, "CONNECT") == 0) {
				conn_close(c);
				c->open = true;
			} else if (strcmp(body, "DISCONNECT") == 0) {
				conn_close(c);
			}
		} else if (kind == 'e') {
			/* Expect a close within 10 s, nothing more sent. */
			int64_t limit = now + 10 * NS;
			while (c->open && !c->out.len && advance(limit))
				;
			if (c->out.len) {
				char s[200];
				show(s, sizeof(s), c->out.p, c->out.len);
				fail("line %s: Expected disconnection, got data: %s", where, s);
			} else if (c->open) {
				fail("line %s: Connection hangs after ten seconds.%s", where, "");
			}
		} else if (kind == 'I' || kind == 'E') {
			struct buf t = {0}, m = {0};
			timeify(body, bl, &t);
			fixify(&t, &m);
			if (kind == 'I') {
				if (!c->open && !c->closed_by_engine) {
					fail("line %s: Unable to send message because connection was dropped%s",
					     where, "");
				} else if (c->open) {
					buf_add(&c->in, m.p, m.len);
					frame(c);
				}
			} else {
				struct buf got = {0};
				int64_t limit = now + 300 * NS;
				while (!pop_msg(c, &got)) {
					if (!c->open) {
						fail("line %s: Was disconnected, expected data%s", where, "");
						break;
					}
					if (!advance(limit)) {
						fail("line %s: timed out waiting for a message%s", where, "");
						break;
					}
				}
				char why[512];
				if (!failure[0] && !compare(&m, &got, why, sizeof(why))) {
					char e[600], a[600];
					show(e, sizeof(e), m.p, m.len);
					show(a, sizeof(a), got.p, got.len);
					snprintf(failure, sizeof(failure),
						 "    line    : %d\n    reason  : %s\n    expected: %s\n"
						 "    received: %s",
						 lineno, why, e, a);
				}
				buf_free(&got);
			}
			buf_free(&t);
			buf_free(&m);
		}
	}
	free(line);
	fclose(f);
	for (int i = 0; i < MAX_CONNS; i++)
		conn_close(&conns[i]);
	return !failure[0];
}

/* ---------------------------------------------------------------- main */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool listed(const char *known, const char *name)
{
	if (!known)
		return false;
	size_t nl = strlen(name);
	for (const char *p = known; (p = strstr(p, name)); p += nl)
		if ((p == known || p[-1] == '\n') && (p[nl] == '\n' || p[nl] == ' ' || p[nl] == 0))
			return true;
	return false;
}

static char *slurp(const char *path)
{
	FILE *f = path ? fopen(path, "rb") : NULL;
	if (!f)
		return NULL;
	struct buf b = {0};
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	return b.p;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s CONFORMANCE_DIR VERSION [KNOWN_FAILURES]\n", argv[0]);
		return 2;
	}
	char dir[4096], fmt[4096];
	snprintf(dir, sizeof(dir), "%s/definitions/server/%s", argv[1], argv[2]);
	snprintf(fmt, sizeof(fmt), "%s/definitions/fields.fmt", argv[1]);
	DIR *d = opendir(dir);
	if (!d) {
		printf("SKIP: %s not found (the conformance data lives in ../shared/conformance)\n", dir);
		return 77;
	}
	char *known = argc > 3 ? slurp(argv[3]) : NULL;
	load_patterns(fmt);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * NS; /* whole seconds, like <TIME> */

	bindings[nbindings++] = binding_new("FIX.4.2", "TW42", NULL, argv[1], "FIX42.xml", "FIX42.xml");
	bindings[nbindings++] = binding_new("FIX.4.4", "TW44", NULL, argv[1], "FIX44.xml", "FIX44.xml");
	bindings[nbindings++] =
		binding_new("FIXT.1.1", "TW50SP2", "9", argv[1], "FIXT11.xml", "FIX50SP2.xml");

	char *names[512];
	int nn = 0;
	struct dirent *e;
	while ((e = readdir(d)) && nn < 512) {
		size_t l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".def") == 0)
			names[nn++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)nn, sizeof(names[0]), cmp_str);

	int passed = 0, failed = 0, xfail = 0, xpass = 0;
	for (int i = 0; i < nn; i++) {
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		bool ok = run_file(path);
		char full[600];
		snprintf(full, sizeof(full), "%s/%s", argv[2], names[i]);
		bool kf = listed(known, names[i]) || listed(known, full);
		if (ok) {
			passed++;
			if (kf)
				xpass++;
			printf("%s %s/%s\n", kf ? "XPASS" : "PASS", argv[2], names[i]);
		} else {
			if (kf)
				xfail++;
			else
				failed++;
			printf("%s %s/%s\n%s%s\n", kf ? "XFAIL" : "FAIL", argv[2], names[i],
			       failure[0] == ' ' ? "" : "    ", failure);
		}
		free(names[i]);
	}
	printf("%d passed, %d failed (%d of them known failures; %d known failures now pass)\n",
	       passed, failed + xfail, xfail, xpass);
	for (int i = 0; i < nbindings; i++) {
		memstore_free(bindings[i]->store);
		rfx_validator_free(bindings[i]->validator);
		free(bindings[i]);
	}
	for (int i = 0; i < ndicts; i++)
		rfx_dict_free(dicts[i]);
	for (int i = 0; i < npats; i++)
		regfree(&pats[i].rx);
	free(known);
	return failed || xpass ? 1 : 0;
}
