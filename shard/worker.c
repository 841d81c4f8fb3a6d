/*
 * The shard worker: glue between the loop (sockets, timers), the session
 * machines, the LMDB store and the client rings.
 *
 * Per loop turn: socket completions frame bytes into messages for the
 * sessions (their output goes straight into the socket's send buffer, their
 * store writes into one batch); due session timers fire; then on_turn polls
 * the client rings (application messages -> rfx_session_send_app), commits
 * the store batch (group commit), resumes paused deliveries from the store,
 * publishes the directory and flushes the client rings.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/codec.h"
#include "engine/dictionary.h"
#include "engine/error.h"
#include "engine/session.h"
#include "engine/session_validate.h"
#include "shard/conn.h"
#include "shard/loop.h"
#include "shard/timer_wheel.h"
#include "shard/tls.h"
#include "shard/worker.h"
#include "shard/worker_conf.h"
#include "shard/worker_shm.h"
#include "shm/mailbox.h"
#include "store/lmdb_store.h"

#define NS 1000000000LL
/* Per connection, memory follows what is in transit: the send buffer starts
 * at TX_MIN and grows to TX_CAP only while a burst (a resend) is queued;
 * received bytes are framed in place in the loop's receive buffer and only
 * the start of a message split across receives is copied aside, into a
 * buffer of RX_MIN growing to RX_CAP that is freed once the message is
 * whole. */
#define TX_MIN (4u << 10)
#define TX_CAP (1u << 20)
#define RX_MIN (1u << 10)
#define RX_CAP (256u << 10)       /* largest inbound message */
/* TLS: a full record (16 KiB + overhead) must fit beside one in flight. */
_Static_assert(TX_CAP >= 2 * (16384 + 512), "TX_CAP too small for TLS records");
#define OUT_CAP (64u << 10)       /* largest outbound message */
#define QUEUE_CAP (256u << 10)    /* messages held while a gap fills */
#define MAX_FIELDS 2048u
#define UNBOUND_TIMEOUT (10 * NS) /* an accepted socket must send its Logon */
#define CLOSE_GRACE (2 * NS)      /* flush after a session's disconnect */
#define REAP_EVERY (10 * 1000000LL)
#define POLL_BUDGET 256u

struct worker;
struct wconn;

struct wsess {
	struct worker *w;
	uint32_t idx;                 /* directory index in the segment */
	const struct rfx_worker_session_conf *sc;
	struct rfx_session s;
	bool inited;
	char *queue;
	struct rfx_validator *validator;
	struct rfx_store_session *ss;
	struct wconn *conn;           /* bound connection */
	struct rfx_timer timer;       /* session machine deadline */
	bool dirty;                   /* had input: re-arm timer, publish state */
	bool resending;               /* on the worker's resending list */
	int client;                   /* bound client slot, -1 none */
	/* Delivery to the client paused (ring full or replay): resume from
	 * deliver_next out of the store. */
	bool backlog;
	uint64_t deliver_next;
	uint64_t replay_until;        /* seqs below were replays at bind time */
	/* Initiator. */
	unsigned endpoint;
	struct rfx_timer reconnect;
	struct wconn *pending;        /* connecting */
	bool disabled;                /* `ringfix logout`: no logon until `ringfix logon` */
};

struct wconn {
	struct rfx_conn c;            /* plain TCP */
	struct rfx_tls *tls;          /* TLS state, allocated on first TLS use, kept */
	bool tls_on;                  /* this connection is TLS: use tls->conn, not c */
	bool tls_open;                /* handshake done */
	bool hs_timeout;              /* closed by us: no handshake in time */
	struct wlisten *listener;     /* accepted on */
	char peer[64];                /* accepted from, for logs */
	struct worker *w;
	struct wsess *s;
	struct wsess *initiator;      /* the session connecting this socket */
	struct rfx_timer timer;       /* logon wait / close grace */
	char *rx;                     /* a message split across receives */
	uint32_t rxlen, rxcap;
	bool used;
	bool dropped;                 /* closed by us; ignore further bytes */
};

struct wlisten {
	struct rfx_conn c;
	struct worker *w;
	char addr[RFX_WK_HOST_MAX];
	uint16_t port;
	int tls;                      /* index in conf->tls, -1 plain */
	uint32_t handshake_timeout;   /* s: the LogonTimeout of the port's sessions */
};

struct worker {
	const struct rfx_worker_conf *conf;
	unsigned shard;
	rfx_worker_log_fn log;
	void *log_ctx;
	struct rfx_loop *loop;
	struct rfx_store *store;
	bool batch_open;
	bool store_failed;
	struct rfx_server *srv;
	struct rfx_conn wake;         /* block idle: clients' datagrams end a sleep */
	bool wake_ok;
	struct rfx_mailbox *mbox;     /* supervisor commands */
	uint64_t mbox_last;
	struct wsess *sess;
	unsigned nsess;
	struct wconn *conns;
	unsigned nconns;
	struct wlisten *listeners;
	unsigned nlisteners;
	struct rfx_tls_ctx **tls_ctx; /* per conf->tls entry this shard uses */
	/* Dictionaries by path, loaded once for all the shard's sessions. */
	struct rfx_dict **dicts;
	char **dict_paths;
	unsigned ndicts, dicts_cap;
	struct rfx_field cfields[MAX_FIELDS]; /* op_validate scratch */
	char *scratch;                /* copy of a client's body */
	/* The sessions' output and field index: used only during a call into
	 * one session, so one of each serves the whole shard. */
	char *out;
	struct rfx_session_field *fields;
	/* Sessions serving a ResendRequest in parts (resend_continue). */
	uint32_t *resending;
	unsigned nresending;
	/* Sessions with input since their last service, serviced this turn. */
	uint32_t *dirty;
	unsigned ndirty, dirty_cap;
	bool dirty_overflow;
	bool any_backlog;
	/* Acceptor sessions by BeginString and CompIDs (open addressing). */
	uint32_t *bind_tab;           /* session index + 1; 0 = empty */
	uint32_t bind_mask;
	int64_t now;                  /* CLOCK_REALTIME of the turn */
	uint64_t mono;
	uint64_t last_reap;
	bool stopping;
	uint64_t stop_deadline;
};

static volatile sig_atomic_t stop_requested;


void rfx_worker_request_stop(void)
{
	stop_requested = 1;
}

static void wlog(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wlog(struct worker *w, const char *fmt, ...)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "shard %u: ", w->shard);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (w->log)
		w->log(w->log_ctx, line);
}

static void clock_now(struct worker *w)
{
	w->now = (int64_t)rfx_loop_now_real(w->loop);
	w->mono = rfx_loop_now_mono(w->loop);
}

/* ------------------------------------------------------------------ store */

static int batch(struct worker *w)
{
	if (w->batch_open)
		return 0;
	int rc = rfx_store_begin(w->store);
	if (rc == 0)
		w->batch_open = true;
	return rc;
}

static int commit(struct worker *w)
{
	if (!w->batch_open)
		return 0;
	w->batch_open = false;
	int rc = rfx_store_commit(w->store);
	if (rc < 0 && !w->store_failed) {
		w->store_failed = true;
		wlog(w, "store commit failed: %s (%s); logging sessions out", rfx_strerror(rc),
		     rfx_store_errmsg(w->store));
	}
	return rc;
}

/* A failed append aborts the whole batch (store/lmdb_store.h). */
static int store_failed(struct worker *w, int rc)
{
	if (rc != -EEXIST && rc != RFX_ETOOBIG)
		w->batch_open = false;
	if (!w->store_failed) {
		w->store_failed = true;
		wlog(w, "store write failed: %s (%s); logging sessions out", rfx_strerror(rc),
		     rfx_store_errmsg(w->store));
	}
	return rc;
}

static int op_get_seqs(void *ctx, uint64_t *ns, uint64_t *nt)
{
	struct wsess *se = ctx;
	struct rfx_store_record r;
	rfx_store_session_get(se->ss, &r);
	*ns = r.next_sender_seq;
	*nt = r.next_target_seq;
	return 0;
}

static int op_set_seqs(void *ctx, uint64_t ns, uint64_t nt)
{
	struct wsess *se = ctx;
	int rc = batch(se->w);
	if (rc == 0)
		rc = rfx_store_session_set(se->w->store, se->ss, ns, nt);
	return rc < 0 ? store_failed(se->w, rc) : 0;
}

static int op_put(void *ctx, uint64_t seq, const char *msg, size_t len)
{
	struct wsess *se = ctx;
	if (!se->sc->persist_messages)
		return 0;
	int rc = batch(se->w);
	if (rc == 0)
		rc = rfx_store_append(se->w->store, se->ss, RFX_STORE_OUT, seq, msg, len);
	return rc < 0 ? store_failed(se->w, rc) : 0;
}

static int op_range(void *ctx, uint64_t begin, uint64_t end, rfx_session_stored_fn fn, void *it)
{
	struct wsess *se = ctx;
	struct rfx_store_iter iter;
	struct rfx_store_msg m;
	/* The iterator reads committed data: this turn's sends must be in. */
	int rc = commit(se->w);
	if (rc < 0)
		return rc;
	rc = rfx_store_iter_open(se->w->store, se->ss, RFX_STORE_OUT, begin, end, &iter);
	if (rc < 0)
		return rc;
	while ((rc = rfx_store_iter_next(&iter, &m)) == 1)
		if (fn(it, m.seq, m.data, m.len))
			break;
	rfx_store_iter_close(&iter);
	return rc < 0 ? rc : 0;
}

static int op_reset(void *ctx)
{
	struct wsess *se = ctx;
	int rc = batch(se->w);
	if (rc == 0)
		rc = rfx_store_session_reset(se->w->store, se->ss, se->w->now);
	/* Messages of the old period are not for the client any more. */
	se->backlog = false;
	return rc < 0 ? store_failed(se->w, rc) : 0;
}

/* ------------------------------------------------------------ validation */

/* The session's validate hook on the dictionary validator: the session's own
 * parse goes to the validator as is (rfx_session_validate_with adopts it, no
 * second scan); w->cfields is the scratch index for a message only the
 * session's lenient scanner could split. Tags the codec refuses ("-1", "0")
 * are rejected as invalid tag numbers (reason 0), as QuickFIX does; a message
 * with more than MAX_FIELDS fields never reaches here (the session refuses
 * it first). */
static int op_validate(void *ctx, const struct rfx_session_msg *m, struct rfx_session_reject *rej)
{
	struct wsess *se = ctx;
	/* FIXT.1.1: application messages without ApplVerID(1128) are of the
	 * counterparty's DefaultApplVerID(1137) from its Logon, which is what
	 * QuickFIX validates them against (before the Logon: our own). */
	if (se->sc->napps && m->msg_type_len == 1 && m->msg_type[0] == 'A') {
		const struct rfx_session_field *d = rfx_session_msg_get(m, 1137);
		if (d)
			rfx_validator_set_default_app(se->validator, d->p, d->len);
	}
	return rfx_session_validate_with(se->validator, se->w->cfields, MAX_FIELDS, m, rej);
}

/* The dictionary at path, loaded on first use. NULL (logged with the
 * session, file and cause) when it does not load. */
static struct rfx_dict *dict_get(struct worker *w, const struct rfx_worker_session_conf *sc,
				 const char *path)
{
	for (unsigned i = 0; i < w->ndicts; i++)
		if (strcmp(w->dict_paths[i], path) == 0)
			return w->dicts[i];
	if (w->ndicts == w->dicts_cap) {
		unsigned cap = w->dicts_cap ? 2 * w->dicts_cap : 8;
		struct rfx_dict **d = realloc(w->dicts, cap * sizeof(*d));
		if (d)
			w->dicts = d;
		char **p = d ? realloc(w->dict_paths, cap * sizeof(*p)) : NULL;
		if (p)
			w->dict_paths = p;
		if (!d || !p) {
			wlog(w, "%s: dictionary %s: %s", sc->id, path, rfx_strerror(-ENOMEM));
			return NULL;
		}
		w->dicts_cap = cap;
	}
	struct rfx_dict *d = NULL;
	struct rfx_dict_error err = {0};
	int rc = rfx_dict_load(path, &d, &err);
	if (rc < 0) {
		/* The loader's text names the file (and line) already. */
		if (err.text[0])
			wlog(w, "%s: dictionary: %s", sc->id, err.text);
		else
			wlog(w, "%s: dictionary %s: %s", sc->id, path[0] ? path : "(no path)",
			     rfx_strerror(rc));
		return NULL;
	}
	char *copy = strdup(path);
	if (!copy) {
		rfx_dict_free(d);
		wlog(w, "%s: dictionary %s: %s", sc->id, path, rfx_strerror(-ENOMEM));
		return NULL;
	}
	w->dict_paths[w->ndicts] = copy;
	w->dicts[w->ndicts++] = d;
	return d;
}

/* The session's validator: FIX.4.x one dictionary; FIXT.1.1 the transport
 * dictionary, the DefaultApplVerID's and one per AppDataDictionary.<version>
 * (the validator picks by each message's ApplVerID). */
static int validator_setup(struct worker *w, struct wsess *se)
{
	const struct rfx_worker_session_conf *sc = se->sc;
	struct rfx_dict *t = dict_get(w, sc, sc->transport_dict);
	struct rfx_dict *a = t ? dict_get(w, sc, sc->app_dict) : NULL;
	if (!t || !a)
		return RFX_EDICT;
	int rc = rfx_validator_new(t, a, sc->validate_flags, &se->validator);
	for (unsigned i = 0; rc == 0 && i < sc->napps; i++) {
		struct rfx_dict *d = dict_get(w, sc, sc->apps[i].path);
		if (!d)
			return RFX_EDICT;
		rc = rfx_validator_add_app(se->validator, sc->apps[i].appl_ver_id, d);
	}
	if (rc < 0)
		wlog(w, "%s: validator: %s", sc->id, rfx_strerror(rc));
	return rc;
}

/* ---------------------------------------------------------- connections */

static void conn_closed(struct rfx_conn *c, int reason);
static void conn_data(struct rfx_conn *c, const uint8_t *p, uint32_t n);
static void conn_connected(struct rfx_conn *c, int result);
static struct rfx_conn *listener_accept(struct rfx_conn *l, int fd);
static void tls_opened(struct rfx_tls *t);
static void tls_data(struct rfx_tls *t, const uint8_t *p, uint32_t n);
static void tls_closed(struct rfx_tls *t, int reason);

static const struct rfx_conn_ops conn_ops = {
	.on_connect = conn_connected,
	.on_data = conn_data,
	.on_closed = conn_closed,
};

static const struct rfx_tls_ops tls_ops = {
	.on_open = tls_opened,
	.on_data = tls_data,
	.on_closed = tls_closed,
};

/* The transport of a connection: plain TCP, or TLS over it. The rest of
 * the worker goes through these, so the plaintext path costs one branch. */
static inline struct rfx_conn *wc_conn(struct wconn *wc)
{
	return wc->tls_on ? &wc->tls->conn : &wc->c;
}

static inline int wc_send(struct wconn *wc, const void *p, uint32_t n)
{
	return wc->tls_on ? rfx_tls_send(wc->tls, p, n) : rfx_conn_send(&wc->c, p, n);
}

/* Close once queued bytes have left (TLS: after close_notify). */
static void wc_close_flush(struct wconn *wc, int reason)
{
	if (wc->tls_on)
		rfx_tls_close(wc->tls, reason);
	else
		rfx_conn_close_flush(&wc->c, reason);
}

/* Make the slot's next connection TLS with context ctx. */
static int wc_tls(struct wconn *wc, struct rfx_tls_ctx *ctx)
{
	if (!wc->tls && !(wc->tls = malloc(sizeof(*wc->tls))))
		return -ENOMEM;
	rfx_tls_init(wc->tls, ctx, &tls_ops, wc, NULL, 0);
	rfx_conn_tx_growable(&wc->tls->conn, TX_MIN, TX_CAP);
	wc->tls_on = true;
	return 0;
}

static const struct rfx_conn_ops listen_ops = {
	.on_accept = listener_accept,
};

static void conn_arm(struct wconn *wc, int64_t after);

static void conn_timer(struct rfx_timer *t, uint64_t now, void *arg)
{
	struct wconn *wc = arg;
	(void)t;
	(void)now;
	struct rfx_conn *c = wc_conn(wc);
	if (wc->tls_on && !wc->tls_open) {
		/* Handshake timeout. A TLS connect still pending has its own
		 * timeout: the handshake's starts when it completes. */
		if (rfx_conn_state(c) == RFX_CONN_CONNECTING) {
			conn_arm(wc, (int64_t)wc->initiator->s.cfg.logon_timeout * NS);
			return;
		}
		wc->hs_timeout = true;
	}
	if (rfx_conn_state(c) == RFX_CONN_OPEN || rfx_conn_state(c) == RFX_CONN_CLOSING)
		rfx_conn_close(c, -ETIMEDOUT);
}

static struct wconn *conn_get(struct worker *w)
{
	for (unsigned i = 0; i < w->nconns; i++) {
		struct wconn *wc = &w->conns[i];
		if (!wc->used) {
			wc->used = true;
			wc->s = NULL;
			wc->initiator = NULL;
			wc->rxlen = 0;
			wc->dropped = false;
			wc->tls_on = wc->tls_open = wc->hs_timeout = false;
			wc->listener = NULL;
			wc->peer[0] = 0;
			rfx_conn_init(&wc->c, &conn_ops, wc, NULL, 0);
			rfx_conn_tx_growable(&wc->c, TX_MIN, TX_CAP);
			rfx_timer_init(&wc->timer, conn_timer, wc);
			return wc;
		}
	}
	return NULL;
}

static void rx_free(struct wconn *wc)
{
	free(wc->rx);
	wc->rx = NULL;
	wc->rxlen = wc->rxcap = 0;
}

static void conn_put(struct wconn *wc)
{
	rfx_timer_wheel_cancel(rfx_loop_timers(wc->w->loop), &wc->timer);
	rx_free(wc);
	wc->used = false;
}

static void conn_arm(struct wconn *wc, int64_t after)
{
	struct rfx_timer_wheel *tw = rfx_loop_timers(wc->w->loop);
	rfx_timer_wheel_cancel(tw, &wc->timer);
	rfx_timer_wheel_add(tw, &wc->timer, wc->w->mono + (uint64_t)after);
}

static struct rfx_conn *listener_accept(struct rfx_conn *l, int fd)
{
	struct wlisten *wl = l->user;
	struct worker *w = wl->w;
	if (w->stopping)
		return NULL;
	struct wconn *wc = conn_get(w);
	if (!wc) {
		wlog(w, "port %u: connection refused, no free connection slot", wl->port);
		return NULL;
	}
	clock_now(w);
	wc->listener = wl;
	if (wl->tls < 0) {
		conn_arm(wc, UNBOUND_TIMEOUT);
		return &wc->c;
	}
	struct sockaddr_storage sa;
	socklen_t sl = sizeof(sa);
	char host[48] = "?";
	if (getpeername(fd, (struct sockaddr *)&sa, &sl) == 0)
		getnameinfo((struct sockaddr *)&sa, sl, host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	snprintf(wc->peer, sizeof(wc->peer), "%s", host);
	struct rfx_conn *c = wc_tls(wc, w->tls_ctx[wl->tls]) == 0 ? rfx_tls_accepted(wc->tls) : NULL;
	if (!c) {
		wlog(w, "port %u: connection refused: out of memory for TLS", wl->port);
		conn_put(wc);
		return NULL;
	}
	conn_arm(wc, (int64_t)wl->handshake_timeout * NS);
	return c;
}

/* Mark for service at the end of the turn: only sessions that had input or
 * a due timer are looked at, not all of them. */
static void sess_dirty(struct wsess *se)
{
	struct worker *w = se->w;
	if (se->dirty)
		return;
	se->dirty = true;
	if (w->ndirty < w->dirty_cap)
		w->dirty[w->ndirty++] = (uint32_t)(se - w->sess);
	else
		w->dirty_overflow = true;  /* serviced by a full scan */
}

/* Find the value of `tag` in a framed message (raw bytes). */
static bool raw_get(const char *p, size_t len, const char *tag, const char **v, size_t *vl)
{
	size_t tl = strlen(tag);
	size_t i = 0;
	while (i < len) {
		const char *e = memchr(p + i, RFX_SOH, len - i);
		if (!e)
			return false;
		size_t fl = (size_t)(e - (p + i));
		if (fl > tl && memcmp(p + i, tag, tl) == 0 && p[i + tl] == '=') {
			*v = p + i + tl + 1;
			*vl = fl - tl - 1;
			return true;
		}
		i += fl + 1;
	}
	return false;
}

static bool raw_eq(const char *p, size_t len, const char *tag, const char *want)
{
	const char *v;
	size_t vl;
	return raw_get(p, len, tag, &v, &vl) && vl == strlen(want) && memcmp(v, want, vl) == 0;
}

/* FNV-1a over the identity of an acceptor session: BeginString, our
 * TargetCompID (their SenderCompID) and our SenderCompID. */
static uint32_t bind_hash(const char *b, size_t bl, const char *t, size_t tl, const char *s,
			  size_t sl)
{
	uint32_t h = 2166136261u;
	const char *part[3] = {b, t, s};
	size_t len[3] = {bl, tl, sl};
	for (int k = 0; k < 3; k++) {
		for (size_t i = 0; i < len[k]; i++)
			h = (h ^ (uint8_t)part[k][i]) * 16777619u;
		h = (h ^ 1u) * 16777619u;
	}
	return h;
}

/* The table of acceptor sessions (load at most one half). */
static int bind_index(struct worker *w)
{
	uint32_t size = 16;
	while (size < 2 * w->nsess)
		size *= 2;
	w->bind_tab = calloc(size, sizeof(*w->bind_tab));
	if (!w->bind_tab)
		return -ENOMEM;
	w->bind_mask = size - 1;
	for (unsigned i = 0; i < w->nsess; i++) {
		const struct rfx_session_config *cf = &w->sess[i].sc->cfg;
		if (!w->sess[i].sc->acceptor)
			continue;
		uint32_t h = bind_hash(cf->begin_string, strlen(cf->begin_string),
				       cf->target_comp_id, strlen(cf->target_comp_id),
				       cf->sender_comp_id, strlen(cf->sender_comp_id));
		while (w->bind_tab[h & w->bind_mask])
			h++;
		w->bind_tab[h & w->bind_mask] = i + 1;
	}
	return 0;
}

/* Acceptor: the first message names the session by BeginString and the
 * CompIDs, seen from our side (their Sender is our Target). Unknown
 * sessions are the allow-list's refusals; a session already connected
 * refuses a second connection (acceptance 1b_DuplicateIdentity). */
static struct wsess *acceptor_bind(struct worker *w, const char *msg, size_t len)
{
	const char *b, *t, *sn;
	size_t bl, tl, sl;
	if (!w->bind_tab || !raw_get(msg, len, "8", &b, &bl) || !raw_get(msg, len, "49", &t, &tl) ||
	    !raw_get(msg, len, "56", &sn, &sl))
		return NULL;
	for (uint32_t h = bind_hash(b, bl, t, tl, sn, sl);; h++) {
		uint32_t i = w->bind_tab[h & w->bind_mask];
		if (!i)
			return NULL;
		struct wsess *se = &w->sess[i - 1];
		const struct rfx_session_config *cf = &se->sc->cfg;
		if (raw_eq(msg, len, "8", cf->begin_string) &&
		    raw_eq(msg, len, "49", cf->target_comp_id) &&
		    raw_eq(msg, len, "56", cf->sender_comp_id))
			return se;
	}
}

static void deliver_msg(struct wconn *wc, const char *msg, size_t len)
{
	struct worker *w = wc->w;
	rfx_wk_shm_count(w->srv, RFX_WK_CTR_MSGS_IN, 1);
	rfx_wk_shm_count(w->srv, RFX_WK_CTR_BYTES_IN, len);
	if (!wc->s) {
		struct wsess *se = acceptor_bind(w, msg, len);
		if (!se || se->conn || se->disabled ||
		    rfx_session_state(&se->s) != RFX_SESSION_DISCONNECTED) {
			wlog(w, "connection refused: %s", !se ? "unknown session" :
			     se->disabled ? "session logged out by the operator (ringfix logon)" :
			     "session already connected");
			wc->dropped = true;
			rfx_conn_close(wc_conn(wc), 0);
			return;
		}
		rfx_timer_wheel_cancel(rfx_loop_timers(w->loop), &wc->timer);
		wc->s = se;
		se->conn = wc;
		sess_dirty(se);
		rfx_session_on_connect(&se->s, w->now);
	}
	struct wsess *se = wc->s;
	sess_dirty(se);
	rfx_session_on_message(&se->s, msg, len, w->now);
}

/* QuickFIX's framing: "8=" ... "9=" length, skip that many bytes, then up to
 * the SOH after "<SOH>10=". A wrong BodyLength thus swallows or splits
 * messages exactly as it does against QuickFIX (the acceptance suite relies
 * on it); the session then treats what arrives as garbled.
 *
 * Delivers every whole message of p[0, n) where it lies and returns how
 * many bytes are done with: the rest is the start of a message still
 * incomplete (or a '8' that may start one). */
static uint32_t frame(struct wconn *wc, const char *p, uint32_t n)
{
	uint32_t off = 0;
	while (off < n && !wc->dropped && rfx_conn_state(wc_conn(wc)) == RFX_CONN_OPEN) {
		const char *q = p + off;
		uint32_t m = n - off;
		const char *b = memmem(q, m, "8=", 2);
		if (!b)
			return n - (q[m - 1] == '8' ? 1 : 0);
		off += (uint32_t)(b - q);
		q = b;
		m = n - off;
		const char *l = memmem(q, m, "\0019=", 3);
		if (!l)
			return off;
		const char *le = memchr(l + 3, RFX_SOH, m - (size_t)(l + 3 - q));
		if (!le)
			return off;
		uint64_t length = 0;
		bool ok = le > l + 3 && le - (l + 3) <= 9;
		for (const char *x = l + 3; x < le && ok; x++) {
			if (*x < '0' || *x > '9')
				ok = false;
			else
				length = length * 10 + (uint64_t)(*x - '0');
		}
		if (!ok)
			return n;  /* garbage: drop what we have */
		uint64_t pos = (uint64_t)(le + 1 - q) + length;
		if (pos > RX_CAP) {
			/* Cannot be a message we would ever accept: resync. */
			off += 2;
			continue;
		}
		if (m < pos)
			return off;
		const char *ck = memmem(q + pos - 1, m - (pos - 1), "\00110=", 4);
		if (!ck)
			return off;
		const char *end = memchr(ck + 4, RFX_SOH, m - (size_t)(ck + 4 - q));
		if (!end)
			return off;
		uint32_t mlen = (uint32_t)(end + 1 - q);
		off += mlen;
		deliver_msg(wc, q, mlen);
	}
	return n;
}

/* Keep the incomplete start of a message for the next receive. */
static bool rx_keep(struct wconn *wc, const uint8_t *p, uint32_t n)
{
	if (wc->rxlen + n > wc->rxcap) {
		uint32_t cap = wc->rxcap ? wc->rxcap : RX_MIN;
		while (cap < wc->rxlen + n && cap < RX_CAP)
			cap *= 2;
		if (cap > RX_CAP)
			cap = RX_CAP;
		char *nb = cap >= wc->rxlen + n ? realloc(wc->rx, cap) : NULL;
		if (!nb)
			return false;
		wc->rx = nb;
		wc->rxcap = cap;
	}
	memcpy(wc->rx + wc->rxlen, p, n);
	wc->rxlen += n;
	return true;
}

static void wc_data(struct wconn *wc, const uint8_t *p, uint32_t n)
{
	struct worker *w = wc->w;
	struct rfx_conn *c = wc_conn(wc);
	if (wc->dropped)
		return;
	clock_now(w);
	while (n && wc->rxlen) {
		/* A split message: complete it in the side buffer. Copy at most
		 * up to the cap; what follows it is framed in place. */
		uint32_t k = RX_CAP - wc->rxlen < n ? RX_CAP - wc->rxlen : n;
		if (!rx_keep(wc, p, k))
			goto too_big;
		p += k;
		n -= k;
		uint32_t used = frame(wc, wc->rx, wc->rxlen);
		if (wc->dropped || rfx_conn_state(c) != RFX_CONN_OPEN)
			return;
		memmove(wc->rx, wc->rx + used, wc->rxlen - used);
		wc->rxlen -= used;
		if (wc->rxlen == RX_CAP)
			goto too_big;
		if (wc->rxlen == 0)
			rx_free(wc);
	}
	if (!n)
		return;
	uint32_t used = frame(wc, (const char *)p, n);
	if (wc->dropped || rfx_conn_state(c) != RFX_CONN_OPEN || used == n)
		return;
	if (!rx_keep(wc, p + used, n - used))
		goto too_big;
	return;
too_big:
	wlog(w, "connection closed: %u bytes without a complete message", RX_CAP);
	wc->dropped = true;
	rfx_conn_close(c, -EMSGSIZE);
}

static void conn_data(struct rfx_conn *c, const uint8_t *p, uint32_t n)
{
	wc_data(c->user, p, n);
}

static void initiator_schedule(struct wsess *se, int64_t after);
static void to_client_event(struct wsess *se, uint32_t ev, int32_t code, uint64_t seq,
			    const char *text);

static void wc_closed(struct wconn *wc, int reason)
{
	struct worker *w = wc->w;
	struct wsess *se = wc->s;
	clock_now(w);
	if (se) {
		wc->s = NULL;
		se->conn = NULL;
		rfx_session_on_disconnect(&se->s, w->now);
		sess_dirty(se);
		to_client_event(se, RFX_WK_EV_DISCONNECT, reason, 0, "");
		if (reason == RFX_ETLS)
			wlog(w, "%s: connection lost: TLS: %s", se->sc->id,
			     rfx_tls_reason(wc->tls));
		else if (reason != 0 && reason != RFX_EPEERCLOSED)
			wlog(w, "%s: connection lost: %s", se->sc->id, rfx_strerror(reason));
	}
	struct wsess *ini = wc->initiator;
	conn_put(wc);
	if (ini) {
		if (ini->pending == wc)
			ini->pending = NULL;
		/* The directory said CONNECTING until now. */
		sess_dirty(ini);
		if (!w->stopping && !ini->disabled && !ini->conn && !ini->pending)
			initiator_schedule(ini, (int64_t)ini->sc->reconnect_interval * NS);
	}
}

static void conn_closed(struct rfx_conn *c, int reason)
{
	wc_closed(c->user, reason);
}

/* ------------------------------------------------------------ initiators */

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *sa, socklen_t *len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
	struct addrinfo *res = NULL;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host[0] ? host : NULL, ps, &hints, &res) != 0 || !res)
		return -EHOSTUNREACH;
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* The initiator's transport is up (TCP connected, TLS handshake done):
 * the session starts its Logon. */
static void initiator_up(struct wconn *wc)
{
	struct worker *w = wc->w;
	struct wsess *se = wc->initiator;
	const struct rfx_worker_endpoint *ep = &se->sc->connect[se->endpoint];
	if (wc->tls_on) {
		rfx_timer_wheel_cancel(rfx_loop_timers(w->loop), &wc->timer);
		wlog(w, "%s: connected to %s:%u over %s (%s)", se->sc->id, ep->host, ep->port,
		     rfx_tls_version(wc->tls), rfx_tls_cipher(wc->tls));
	} else {
		wlog(w, "%s: connected to %s:%u", se->sc->id, ep->host, ep->port);
	}
	wc->s = se;
	se->conn = wc;
	se->pending = NULL; /* connected: no longer CONNECTING once it ends */
	sess_dirty(se);
	rfx_session_on_connect(&se->s, w->now);
}

/* A connect, or a TLS handshake, failed: next failover host, later. */
static void connect_failed(struct wconn *wc)
{
	struct worker *w = wc->w;
	struct wsess *se = wc->initiator;
	conn_put(wc);
	se->pending = NULL;
	se->endpoint = (se->endpoint + 1) % (se->sc->nconnect ? se->sc->nconnect : 1);
	if (!w->stopping && !se->disabled)
		initiator_schedule(se, (int64_t)se->sc->reconnect_interval * NS);
}

static void conn_connected(struct rfx_conn *c, int result)
{
	struct wconn *wc = c->user;
	struct worker *w = wc->w;
	struct wsess *se = wc->initiator;
	clock_now(w);
	if (result < 0) {
		const struct rfx_worker_endpoint *ep = &se->sc->connect[se->endpoint];
		wlog(w, "%s: connect to %s:%u failed: %s", se->sc->id, ep->host, ep->port,
		     rfx_strerror(result));
		connect_failed(wc);
		return;
	}
	initiator_up(wc);
}

/* ---------------------------------------------------------------- TLS */

static void tls_opened(struct rfx_tls *t)
{
	struct wconn *wc = t->user;
	wc->tls_open = true;
	clock_now(wc->w);
	if (wc->initiator) {
		initiator_up(wc);
		return;
	}
	/* Acceptor: now the peer has UNBOUND_TIMEOUT to send its Logon. */
	conn_arm(wc, UNBOUND_TIMEOUT);
}

static void tls_data(struct rfx_tls *t, const uint8_t *p, uint32_t n)
{
	wc_data(t->user, p, n);
}

/* A handshake that failed names who (session, or port and peer) and why,
 * in OpenSSL's words. */
static void tls_closed(struct rfx_tls *t, int reason)
{
	struct wconn *wc = t->user;
	struct worker *w = wc->w;
	if (wc->tls_open) {
		wc_closed(wc, reason);
		return;
	}
	clock_now(w);
	char why[200];
	if (wc->hs_timeout)
		snprintf(why, sizeof(why), "no handshake within %us (LogonTimeout)",
			 wc->initiator ? wc->initiator->s.cfg.logon_timeout :
			 wc->listener->handshake_timeout);
	else if (reason == RFX_ETLS)
		snprintf(why, sizeof(why), "%s", rfx_tls_reason(t));
	else if (reason == RFX_EPEERCLOSED)
		snprintf(why, sizeof(why), "peer closed the connection");
	else
		snprintf(why, sizeof(why), "%s", rfx_strerror(reason));
	if (wc->initiator) {
		const struct rfx_worker_endpoint *ep = &wc->initiator->sc->connect[wc->initiator->endpoint];
		/* A TCP connect that failed never started a handshake. */
		bool tcp = !wc->hs_timeout && reason != RFX_ETLS && reason != RFX_EPEERCLOSED;
		wlog(w, "%s: %s %s:%u failed: %s", wc->initiator->sc->id,
		     tcp ? "connect to" : "TLS handshake with", ep->host, ep->port, why);
		connect_failed(wc);
		return;
	}
	wlog(w, "port %u: TLS handshake from %s failed: %s", wc->listener->port, wc->peer, why);
	wc_closed(wc, reason);
}

static void initiator_connect(struct rfx_timer *t, uint64_t now, void *arg)
{
	struct wsess *se = arg;
	struct worker *w = se->w;
	(void)t;
	(void)now;
	if (w->stopping || se->disabled || se->conn || se->pending || !se->sc->nconnect)
		return;
	clock_now(w);
	if (!rfx_session_logon_time(&se->s, w->now)) { /* outside LogonTime..LogoutTime */
		initiator_schedule(se, (int64_t)se->sc->reconnect_interval * NS);
		return;
	}
	const struct rfx_worker_endpoint *ep = &se->sc->connect[se->endpoint];
	struct sockaddr_storage sa;
	socklen_t len;
	int rc = resolve(ep->host, ep->port, &sa, &len);
	struct wconn *wc = rc == 0 ? conn_get(w) : NULL;
	if (wc) {
		uint64_t timeout = (uint64_t)se->s.cfg.logon_timeout * NS;
		wc->initiator = se;
		if (se->sc->tls < 0) {
			rc = rfx_conn_connect(w->loop, &wc->c, (struct sockaddr *)&sa, len, timeout);
		} else {
			rc = wc_tls(wc, w->tls_ctx[se->sc->tls]);
			/* The host name (or address) is checked against the
			 * server's certificate. */
			if (rc == 0)
				rc = rfx_tls_connect(w->loop, wc->tls, (struct sockaddr *)&sa, len,
						     timeout, ep->host);
			if (rc == 0)
				conn_arm(wc, (int64_t)timeout);
		}
		if (rc == 0) {
			se->pending = wc;
			return;
		}
		conn_put(wc);
	} else if (rc == 0) {
		rc = RFX_ECONNLIMIT;
	}
	wlog(w, "%s: cannot connect to %s:%u: %s", se->sc->id, ep->host, ep->port,
	     rfx_strerror(rc));
	se->endpoint = (se->endpoint + 1) % se->sc->nconnect;
	initiator_schedule(se, (int64_t)se->sc->reconnect_interval * NS);
}

static void initiator_schedule(struct wsess *se, int64_t after)
{
	struct rfx_timer_wheel *tw = rfx_loop_timers(se->w->loop);
	rfx_timer_wheel_cancel(tw, &se->reconnect);
	rfx_timer_wheel_add(tw, &se->reconnect, se->w->mono + (uint64_t)after);
}

/* --------------------------------------------------------- session output */

static int op_send(void *ctx, const char *buf, size_t len)
{
	struct wsess *se = ctx;
	if (!se->conn)
		return -ENOTCONN;
	int rc = wc_send(se->conn, buf, (uint32_t)len);
	if (rc == 0) {
		rfx_wk_shm_count(se->w->srv, RFX_WK_CTR_MSGS_OUT, 1);
		rfx_wk_shm_count(se->w->srv, RFX_WK_CTR_BYTES_OUT, len);
	}
	return rc;
}

/* A resend streams into at most half the send buffer's cap at a time, so a
 * turn stays short and the buffer drains while the next part is read. */
static size_t op_send_room(void *ctx)
{
	struct wsess *se = ctx;
	if (!se->conn)
		return 0;
	uint32_t q = rfx_conn_queued(wc_conn(se->conn));
	return q < TX_CAP / 2 ? TX_CAP / 2 - q : 0;
}

static void op_disconnect(void *ctx)
{
	struct wsess *se = ctx;
	struct wconn *wc = se->conn;
	if (!wc)
		return;
	se->conn = NULL;
	wc->s = NULL;
	wc->dropped = true;
	sess_dirty(se);
	to_client_event(se, RFX_WK_EV_DISCONNECT, 0, 0, "");
	/* Let a Logout leave first, but never wait forever on a peer that
	 * does not read. */
	wc_close_flush(wc, 0);
	conn_arm(wc, CLOSE_GRACE);
}

static void to_client_event(struct wsess *se, uint32_t ev, int32_t code, uint64_t seq,
			    const char *text)
{
	if (se->client >= 0)
		rfx_server_event(se->w->srv, (uint32_t)se->client, se->idx, ev, code, seq, text);
}

static void op_event(void *ctx, enum rfx_session_event ev, const char *text)
{
	struct wsess *se = ctx;
	struct worker *w = se->w;
	switch (ev) {
	case RFX_SESSION_EV_LOGON:
		wlog(w, "%s: logon%s%s", se->sc->id, text && *text ? ": " : "", text ? text : "");
		to_client_event(se, RFX_WK_EV_LOGON, 0, se->s.next_target, text);
		break;
	case RFX_SESSION_EV_LOGOUT:
		wlog(w, "%s: logout%s%s", se->sc->id, text && *text ? ": " : "", text ? text : "");
		to_client_event(se, RFX_WK_EV_LOGOUT, 0, 0, text);
		break;
	case RFX_SESSION_EV_REJECT_SENT:
		rfx_wk_shm_count(w->srv, RFX_WK_CTR_REJECTS, 1);
		break;
	case RFX_SESSION_EV_RESEND_REQUEST_SERVED:
		rfx_wk_shm_count(w->srv, RFX_WK_CTR_RESENDS, 1);
		break;
	case RFX_SESSION_EV_STORE_ERROR:
	case RFX_SESSION_EV_TIMEOUT:
		wlog(w, "%s: %s", se->sc->id, text ? text : "");
		break;
	default:
		break;
	}
}

/* Deliver one inbound application message to the bound client; false when
 * its ring is full (delivery pauses, resumes from the store). */
static bool to_client(struct wsess *se, uint64_t seq, uint32_t flags, const char *raw,
		      size_t len)
{
	struct worker *w = se->w;
	int rc = rfx_server_deliver(w->srv, (uint32_t)se->client, se->idx, seq, flags, w->now,
				    raw, (uint32_t)len);
	if (rc == RFX_EFULL) {
		rfx_wk_shm_count(w->srv, RFX_WK_CTR_RING_FULL, 1);
		return false;
	}
	if (rc < 0)
		wlog(w, "%s: delivery of %llu to client %d failed: %s", se->sc->id,
		     (unsigned long long)seq, se->client, rfx_strerror(rc));
	return true;
}

static void op_app(void *ctx, const struct rfx_session_msg *m)
{
	struct wsess *se = ctx;
	struct worker *w = se->w;
	/* Stored first: a client that binds later, or falls behind, replays
	 * from the store. */
	int rc = batch(w);
	if (rc == 0)
		rc = rfx_store_append(w->store, se->ss, RFX_STORE_IN, m->seq, m->buf, m->len);
	if (rc < 0 && rc != -EEXIST)
		store_failed(w, rc);
	if (se->client < 0 || se->backlog)
		return;
	if (!to_client(se, m->seq, m->poss_dup ? RFX_WK_MSG_POSSDUP : 0, m->buf, m->len)) {
		se->backlog = true;
		w->any_backlog = true;
		se->deliver_next = m->seq;
	}
}

/* Resume a paused delivery from the store (after the turn's commit). */
static void pump(struct wsess *se)
{
	struct worker *w = se->w;
	struct rfx_store_iter it;
	struct rfx_store_msg m;
	int rc = rfx_store_iter_open(w->store, se->ss, RFX_STORE_IN, se->deliver_next,
				     RFX_STORE_SEQ_END, &it);
	if (rc < 0) {
		wlog(w, "%s: replay from the store: %s", se->sc->id, rfx_strerror(rc));
		se->backlog = false;
		return;
	}
	while ((rc = rfx_store_iter_next(&it, &m)) == 1) {
		/* The store keeps the raw message: PossDupFlag(43)=Y from the
		 * peer's resend must survive a replay as it does live delivery. */
		uint32_t flags = (m.seq < se->replay_until ? RFX_WK_MSG_REPLAY : 0) |
				 (raw_eq(m.data, m.len, "43", "Y") ? RFX_WK_MSG_POSSDUP : 0);
		if (!to_client(se, m.seq, flags, m.data, m.len)) {
			se->deliver_next = m.seq;
			rfx_store_iter_close(&it);
			return;
		}
	}
	rfx_store_iter_close(&it);
	se->backlog = false;
	to_client_event(se, RFX_WK_EV_REPLAY_DONE, 0, se->s.next_target, "");
}

/* -------------------------------------------------------------- clients */

static void cl_detach(void *ctx, uint32_t client, int reason, const char *why)
{
	struct worker *w = ctx;
	wlog(w, "client %u detached: %s%s%s", client, reason ? rfx_strerror(reason) : "clean",
	     why && *why ? ": " : "", why ? why : "");
	for (unsigned i = 0; i < w->nsess; i++)
		if (w->sess[i].client == (int)client) {
			w->sess[i].client = -1;
			w->sess[i].backlog = false;
		}
}

static void cl_attach(void *ctx, uint32_t client, int pid)
{
	struct worker *w = ctx;
	wlog(w, "client %u attached (pid %d)", client, pid);
}

static int cl_bind(void *ctx, uint32_t client, uint32_t session, uint64_t replay_from)
{
	struct worker *w = ctx;
	if (session >= w->nsess)
		return RFX_ENOSESSION;
	struct wsess *se = &w->sess[session];
	if (se->client >= 0 && se->client != (int)client)
		return -EBUSY;
	se->client = (int)client;
	se->replay_until = se->s.next_target;
	if (replay_from) {
		se->backlog = true;
		w->any_backlog = true;
		se->deliver_next = replay_from;
	} else {
		se->backlog = false;
	}
	wlog(w, "%s: bound by client %u (replay from %llu)", se->sc->id, client,
	     (unsigned long long)replay_from);
	return 0;
}

static void cl_unbind(void *ctx, uint32_t client, uint32_t session)
{
	struct worker *w = ctx;
	if (session < w->nsess && w->sess[session].client == (int)client) {
		w->sess[session].client = -1;
		w->sess[session].backlog = false;
	}
}

static int cl_send(void *ctx, uint32_t client, uint32_t session, uint64_t tag, const char *body,
		   uint32_t len)
{
	struct worker *w = ctx;
	(void)client;
	(void)tag;
	if (session >= w->nsess)
		return RFX_ENOSESSION;
	if (len > OUT_CAP)
		return -EMSGSIZE;
	struct wsess *se = &w->sess[session];
	/* A peer that does not read fills our send buffer; the session would
	 * drop the connection on a failed send. Refuse the message instead: the
	 * client hears of it (send failure with its tag) and may retry. */
	if (se->conn && rfx_conn_queued(wc_conn(se->conn)) + len + 1024 > TX_CAP)
		return RFX_ETXFULL;
	/* New messages wait until a resend in progress has been served, so the
	 * peer gets the gap filled in order first. */
	if (rfx_session_resend_pending(&se->s))
		return RFX_ETXFULL;
	/* The body lives in the client's ring, which the client can still
	 * write: parse a private copy. */
	memcpy(w->scratch, body, len);
	int64_t rc = rfx_session_send_app(&se->s, w->scratch, len, w->now);
	sess_dirty(se);
	return rc < 0 ? (int)rc : 0;
}

static const struct rfx_wk_shm_ops client_ops = {
	.on_attach = cl_attach,
	.on_detach = cl_detach,
	.on_bind = cl_bind,
	.on_unbind = cl_unbind,
	.on_send = cl_send,
};

/* ----------------------------------------------------------------- turn */

static uint32_t dir_state(const struct wsess *se)
{
	switch (rfx_session_state(&se->s)) {
	case RFX_SESSION_LOGON_SENT:
		return RFX_WK_DIR_LOGON_SENT;
	case RFX_SESSION_AWAIT_LOGON:
		return RFX_WK_DIR_CONNECTING;
	case RFX_SESSION_LOGGED_ON:
		return RFX_WK_DIR_ACTIVE;
	case RFX_SESSION_LOGOUT_SENT:
		return RFX_WK_DIR_LOGOUT_SENT;
	default:
		return se->pending ? RFX_WK_DIR_CONNECTING : RFX_WK_DIR_DISCONNECTED;
	}
}

/* Directory flags: TLS from the settings, HELD while `ringfix logout` holds
 * the session out. */
static uint32_t dir_flags(const struct wsess *se)
{
	return (se->sc->tls >= 0 ? RFX_WK_DIR_F_TLS : 0) | (se->disabled ? RFX_WK_DIR_F_HELD : 0);
}

static void sess_timer(struct rfx_timer *t, uint64_t now, void *arg)
{
	struct wsess *se = arg;
	(void)t;
	(void)now;
	clock_now(se->w);
	sess_dirty(se);
}

/* Run the session's timers and put its next deadline on the wheel (the
 * session speaks CLOCK_REALTIME, the wheel CLOCK_MONOTONIC). */
static void sess_service(struct wsess *se)
{
	struct worker *w = se->w;
	struct rfx_timer_wheel *tw = rfx_loop_timers(w->loop);
	se->dirty = false;
	int64_t dl = rfx_session_on_timer(&se->s, w->now);
	rfx_timer_wheel_cancel(tw, &se->timer);
	if (dl != INT64_MAX) {
		int64_t d = dl - w->now;
		rfx_timer_wheel_add(tw, &se->timer, w->mono + (uint64_t)(d > 0 ? d : 0));
	}
	/* The directory's update stamp is CLOCK_MONOTONIC, as the heartbeat
	 * (ringfix status subtracts it from its own monotonic reading). */
	rfx_server_session_update(w->srv, se->idx, dir_state(se), se->s.next_sender,
				  se->s.next_target, (int64_t)w->mono);
	if (se->conn && rfx_session_state(&se->s) == RFX_SESSION_DISCONNECTED) {
		/* The session ended (logon refused, timeout) without disconnect. */
		op_disconnect(se);
	}
	if (rfx_session_resend_pending(&se->s) && !se->resending) {
		se->resending = true;
		w->resending[w->nresending++] = (uint32_t)(se - w->sess);
	}
}

/* Go on with the resends that paused, each once its send buffer drained
 * below half; a finished or dropped one leaves the list. */
static void resend_turn(struct worker *w)
{
	for (unsigned k = 0; k < w->nresending;) {
		struct wsess *se = &w->sess[w->resending[k]];
		if (op_send_room(se) > 0 && rfx_session_resend_continue(&se->s, w->now))
			sess_dirty(se);
		if (rfx_session_resend_pending(&se->s)) {
			k++;
			continue;
		}
		se->resending = false;
		sess_dirty(se);
		w->resending[k] = w->resending[--w->nresending];
	}
}

/* ------------------------------------------------------ operator commands */

/* One command from the supervisor's mailbox (`ringfix logout|logon|reset|
 * disconnect`), run between the client rings and the session timers of a
 * turn, so its store writes join this turn's commit. Answers fit
 * RFX_MAILBOX_TEXT_MAX. */
static int admin_logout(struct wsess *se, char *msg, size_t n)
{
	struct worker *w = se->w;
	bool was_disabled = se->disabled;
	se->disabled = true;
	rfx_timer_wheel_cancel(rfx_loop_timers(w->loop), &se->reconnect);
	if (rfx_session_logged_on(&se->s)) {
		int rc = rfx_session_logout(&se->s, NULL, w->now);
		if (rc < 0 && rc != -EPIPE)
			return rc;
		snprintf(msg, n, "Logout sent; no logon until 'ringfix logon'");
	} else if (se->conn) {
		rfx_session_on_disconnect(&se->s, w->now);
		op_disconnect(se);
		snprintf(msg, n, "not logged on; connection closed; no logon until 'ringfix logon'");
	} else if (se->pending) {
		rfx_conn_close(wc_conn(se->pending), -ECANCELED);
		snprintf(msg, n, "connect cancelled; no logon until 'ringfix logon'");
	} else {
		snprintf(msg, n, "%s; no logon until 'ringfix logon'",
			 was_disabled ? "already logged out" : "not connected");
	}
	return 0;
}

static int admin_logon(struct wsess *se, char *msg, size_t n)
{
	bool was_disabled = se->disabled;
	se->disabled = false;
	if (rfx_session_logged_on(&se->s)) {
		snprintf(msg, n, "already logged on");
	} else if (se->sc->acceptor) {
		snprintf(msg, n, "%s; waiting for the counterparty's Logon",
			 was_disabled ? "logon allowed again" : "logon allowed");
	} else if (se->conn || se->pending) {
		snprintf(msg, n, "logon in progress");
	} else {
		initiator_schedule(se, 0);
		snprintf(msg, n, "connecting to %.200s:%u", se->sc->connect[se->endpoint].host,
			 se->sc->connect[se->endpoint].port);
	}
	return 0;
}

static int admin_reset(struct wsess *se, char *msg, size_t n)
{
	bool on = rfx_session_logged_on(&se->s);
	int rc = rfx_session_reset(&se->s, se->w->now);
	if (rc == RFX_ESTATE) {
		snprintf(msg, n, "a Logon or Logout handshake is in progress; try again");
		return rc;
	}
	if (rc < 0 && rc != -EPIPE)
		return rc;
	if (on)
		snprintf(msg, n, "Logon with ResetSeqNumFlag=Y sent: both sides restart at 1");
	else if (se->sc->acceptor)
		snprintf(msg, n, "sequence numbers are 1; the counterparty must reset its side too");
	else
		snprintf(msg, n, "sequence numbers are 1; the next Logon carries ResetSeqNumFlag=Y");
	return 0;
}

static int admin_disconnect(struct wsess *se, char *msg, size_t n)
{
	struct worker *w = se->w;
	if (se->conn) {
		rfx_session_on_disconnect(&se->s, w->now);
		op_disconnect(se);
	} else if (se->pending) {
		rfx_conn_close(wc_conn(se->pending), -ECANCELED);
	} else {
		snprintf(msg, n, "not connected");
		return RFX_ESTATE;
	}
	if (se->sc->acceptor || se->disabled)
		snprintf(msg, n, "disconnected");
	else
		snprintf(msg, n, "disconnected; reconnecting in %u s", se->sc->reconnect_interval);
	return 0;
}

static void admin_poll(struct worker *w)
{
	struct rfx_mailbox_req rq;
	char msg[RFX_MAILBOX_TEXT_MAX] = "";
	static const char *const names[] = {"?", "logout", "logon", "reset", "disconnect"};
	if (!rfx_mailbox_take(w->mbox, &w->mbox_last, &rq))
		return;
	struct wsess *se = NULL;
	for (unsigned i = 0; i < w->nsess && !se; i++)
		if (strcmp(w->sess[i].sc->id, rq.session) == 0)
			se = &w->sess[i];
	int rc;
	if (!se) {
		rc = RFX_ENOSESSION;
		snprintf(msg, sizeof(msg), "no session %.64s on shard %u", rq.session, w->shard);
	} else if (w->stopping) {
		rc = RFX_ESTATE;
		snprintf(msg, sizeof(msg), "shard %u is stopping", w->shard);
	} else {
		switch (rq.op) {
		case RFX_MAILBOX_LOGOUT: rc = admin_logout(se, msg, sizeof(msg)); break;
		case RFX_MAILBOX_LOGON: rc = admin_logon(se, msg, sizeof(msg)); break;
		case RFX_MAILBOX_RESET: rc = admin_reset(se, msg, sizeof(msg)); break;
		case RFX_MAILBOX_DISCONNECT: rc = admin_disconnect(se, msg, sizeof(msg)); break;
		default:
			rc = -EINVAL;
			snprintf(msg, sizeof(msg), "unknown command %u", rq.op);
		}
		sess_dirty(se);
		rfx_server_session_flags(w->srv, se->idx, dir_flags(se));
		if (rc < 0 && !msg[0])
			snprintf(msg, sizeof(msg), "%s", rfx_strerror(rc));
		wlog(w, "%s: operator %s: %s%s", se->sc->id,
		     rq.op < sizeof(names) / sizeof(names[0]) ? names[rq.op] : "?",
		     rc < 0 ? "refused: " : "", msg);
	}
	rfx_mailbox_reply(w->mbox, rq.seq, rc, msg);
}

static void begin_stop(struct worker *w)
{
	w->stopping = true;
	uint32_t longest = 2;
	wlog(w, "stopping: logging out every session");
	for (unsigned i = 0; i < w->nsess; i++) {
		struct wsess *se = &w->sess[i];
		rfx_timer_wheel_cancel(rfx_loop_timers(w->loop), &se->reconnect);
		if (se->s.cfg.logout_timeout > longest)
			longest = se->s.cfg.logout_timeout;
		if (rfx_session_logged_on(&se->s))
			rfx_session_logout(&se->s, NULL, w->now);
		else if (se->conn)
			op_disconnect(se);
		sess_dirty(se);
	}
	for (unsigned i = 0; i < w->nlisteners; i++)
		rfx_conn_close(&w->listeners[i].c, 0);
	w->stop_deadline = w->mono + (uint64_t)(longest + 1) * NS;
}

static bool all_down(struct worker *w)
{
	for (unsigned i = 0; i < w->nsess; i++)
		if (w->sess[i].conn || w->sess[i].pending)
			return false;
	for (unsigned i = 0; i < w->nconns; i++)
		if (w->conns[i].used)
			return false;
	return true;
}

static void on_turn(struct rfx_loop *l, void *arg)
{
	struct worker *w = arg;
	(void)l;
	clock_now(w);
	if (stop_requested && !w->stopping)
		begin_stop(w);
	if (w->store_failed) {
		for (unsigned i = 0; i < w->nsess; i++)
			if (rfx_session_logged_on(&w->sess[i].s)) {
				rfx_session_logout(&w->sess[i].s, "Store failure", w->now);
				sess_dirty(&w->sess[i]);
			}
	} else if (rfx_store_health(w->store) < 0) {
		w->store_failed = true;
		wlog(w, "store unhealthy: %s; logging sessions out",
		     rfx_store_errmsg(w->store));
	}
	rfx_server_heartbeat(w->srv, (int64_t)w->mono);
	if (w->mono - w->last_reap >= REAP_EVERY) {
		w->last_reap = w->mono;
		rfx_wk_shm_reap(w->srv);
	}
	rfx_wk_shm_poll(w->srv, POLL_BUDGET);
	admin_poll(w);
	if (w->nresending)
		resend_turn(w);
	/* Servicing may dirty sessions again (a disconnect): those join the
	 * list and are serviced in this same pass. */
	for (unsigned k = 0; k < w->ndirty; k++)
		sess_service(&w->sess[w->dirty[k]]);
	w->ndirty = 0;
	if (w->dirty_overflow) {
		w->dirty_overflow = false;
		for (unsigned i = 0; i < w->nsess; i++)
			if (w->sess[i].dirty)
				sess_service(&w->sess[i]);
		w->ndirty = 0;
	}
	commit(w);
	if (w->any_backlog) {
		w->any_backlog = false;
		for (unsigned i = 0; i < w->nsess; i++)
			if (w->sess[i].backlog && w->sess[i].client >= 0) {
				pump(&w->sess[i]);
				w->any_backlog |= w->sess[i].backlog;
			}
	}
	rfx_server_flush(w->srv);
	if (w->stopping) {
		bool logged_on = false;
		for (unsigned i = 0; i < w->nsess; i++)
			logged_on |= rfx_session_state(&w->sess[i].s) != RFX_SESSION_DISCONNECTED;
		if ((!logged_on && all_down(w)) || w->mono >= w->stop_deadline)
			rfx_loop_stop(w->loop);
	}
}

/* ----------------------------------------------------- block idle wake */

#define SLEEP_BLIND (1000000LL)   /* longest sleep when nobody can wake us */

static void wake_ready(struct rfx_conn *c, unsigned revents)
{
	struct worker *w = c->user;
	(void)revents;
	rfx_server_wake_drain(w->srv);
}

static const struct rfx_conn_ops wake_ops = {
	.on_ready = wake_ready,
};

/* The loop is about to sleep (IdleStrategy=block): tell the clients, so the
 * next one that publishes sends a datagram to the wake socket. A paused
 * delivery resumes when the client frees ring space, which it does not
 * signal: keep those sleeps short, as without a wake socket. */
static int64_t on_sleep(struct rfx_loop *l, void *arg, int sleeping)
{
	struct worker *w = arg;
	int64_t cap = 0;
	(void)l;
	if (!sleeping) {
		rfx_server_awake(w->srv);
		return 0;
	}
	if (!w->wake_ok)
		return SLEEP_BLIND;
	for (unsigned i = 0; i < w->nsess; i++)
		if (w->sess[i].backlog && w->sess[i].client >= 0)
			cap = SLEEP_BLIND;
	return rfx_server_sleep(w->srv) ? -1 : cap;
}

static void wake_setup(struct worker *w)
{
	int fd = rfx_server_wake_fd(w->srv);
	int rc = fd;
	if (fd >= 0) {
		/* The watch owns (and closes) its fd; the server keeps its own. */
		fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		rc = fd < 0 ? -errno : 0;
	}
	if (rc == 0) {
		rfx_conn_init(&w->wake, &wake_ops, w, NULL, 0);
		rc = rfx_conn_watch(w->loop, &w->wake, fd, POLLIN);
		if (rc < 0)
			close(fd);
	}
	if (rc < 0) {
		wlog(w, "no wake socket for clients (%s): a sleeping shard notices their "
		     "messages within %lld us", rfx_strerror(rc), SLEEP_BLIND / 1000);
		return;
	}
	w->wake_ok = true;
}

/* ------------------------------------------------------------- set up */

static int listen_for(struct worker *w, struct wsess *se)
{
	const struct rfx_worker_session_conf *sc = se->sc;
	for (unsigned i = 0; i < w->nlisteners; i++)
		if (w->listeners[i].port == sc->accept_port &&
		    strcmp(w->listeners[i].addr, sc->accept_address) == 0) {
			struct wlisten *wl = &w->listeners[i];
			if (se->s.cfg.logon_timeout < wl->handshake_timeout)
				wl->handshake_timeout = se->s.cfg.logon_timeout;
			return 0;
		}
	struct wlisten *wl = &w->listeners[w->nlisteners];
	struct sockaddr_storage sa;
	socklen_t len;
	int rc;
	if (sc->accept_address[0]) {
		rc = resolve(sc->accept_address, sc->accept_port, &sa, &len);
		if (rc < 0) {
			wlog(w, "%s: cannot resolve SocketAcceptAddress %s", sc->id,
			     sc->accept_address);
			return rc;
		}
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;
		memset(&sa, 0, sizeof(sa));
		in->sin_family = AF_INET;
		in->sin_port = htons(sc->accept_port);
		in->sin_addr.s_addr = htonl(INADDR_ANY);
		len = sizeof(*in);
	}
	wl->w = w;
	snprintf(wl->addr, sizeof(wl->addr), "%s", sc->accept_address);
	wl->port = sc->accept_port;
	wl->tls = sc->tls;   /* the same for every session of the port (worker_conf.c) */
	wl->handshake_timeout = se->s.cfg.logon_timeout;
	rfx_conn_init(&wl->c, &listen_ops, wl, NULL, 0);
	rc = rfx_conn_listen(w->loop, &wl->c, (struct sockaddr *)&sa, len, 128);
	if (rc < 0) {
		wlog(w, "%s: cannot listen on %s:%u: %s", sc->id,
		     sc->accept_address[0] ? sc->accept_address : "*", sc->accept_port,
		     rfx_strerror(rc));
		return rc;
	}
	wlog(w, "listening on %s:%u", sc->accept_address[0] ? sc->accept_address : "*",
	     sc->accept_port);
	w->nlisteners++;
	return 0;
}

/* One OpenSSL context per distinct TLS configuration, shared by the
 * shard's sessions that have it. */
static int tls_ctx_get(struct worker *w, const struct rfx_worker_session_conf *sc)
{
	struct rfx_tls_opts o;
	char err[400] = "";
	if (w->tls_ctx[sc->tls])
		return 0;
	rfx_worker_tls_opts(&w->conf->tls[sc->tls], &o);
	int rc = rfx_tls_ctx_new(&w->tls_ctx[sc->tls], &o, err, sizeof(err));
	if (rc < 0)
		wlog(w, "%s: TLS: %s", sc->id, rc == RFX_ECONFIG ? err : rfx_strerror(rc));
	return rc;
}

static int sess_setup(struct worker *w, struct wsess *se)
{
	const struct rfx_worker_session_conf *sc = se->sc;
	struct rfx_session_ops ops = {
		.ctx = se,
		.send = op_send,
		.disconnect = op_disconnect,
		.on_app = op_app,
		.on_event = op_event,
		.store_get_seqs = op_get_seqs,
		.store_set_seqs = op_set_seqs,
		.store_put = op_put,
		.store_range = op_range,
		.send_room = op_send_room,
		.store_reset = op_reset,
	};
	se->w = w;
	se->client = -1;
	/* Touched only while a gap fills: untouched pages cost nothing. */
	se->queue = malloc(QUEUE_CAP);
	if (!se->queue)
		return -ENOMEM;
	rfx_timer_init(&se->timer, sess_timer, se);
	rfx_timer_init(&se->reconnect, initiator_connect, se);
	if (sc->use_dictionary) {
		int rc = validator_setup(w, se);
		if (rc < 0)
			return rc;
		ops.validate = op_validate;
		ops.validate_ctx = se;
	}
	int rc = rfx_store_session_open(w->store, sc->id, strlen(sc->id), w->now, &se->ss);
	if (rc < 0) {
		wlog(w, "%s: store: %s (%s)", sc->id, rfx_strerror(rc), rfx_store_errmsg(w->store));
		return rc;
	}
	struct rfx_session_mem mem = {w->out, OUT_CAP, se->queue, QUEUE_CAP, w->fields,
				      MAX_FIELDS};
	rc = rfx_session_init(&se->s, &sc->cfg, &ops, &mem);
	if (rc < 0) {
		wlog(w, "%s: session: %s", sc->id, rfx_strerror(rc));
		return rc;
	}
	se->inited = true;
	rc = rfx_server_session_add(w->srv, sc->id);
	if (rc < 0) {
		wlog(w, "%s: directory: %s", sc->id, rfx_strerror(rc));
		return rc;
	}
	se->idx = (uint32_t)rc;
	if (sc->tls >= 0) {
		rc = tls_ctx_get(w, sc);
		if (rc < 0)
			return rc;
		rfx_server_session_flags(w->srv, se->idx, dir_flags(se));
	}
	sess_dirty(se);
	if (sc->acceptor)
		return listen_for(w, se);
	if (!sc->nconnect) {
		wlog(w, "%s: initiator without SocketConnectHost", sc->id);
		return RFX_ECONFIG;
	}
	initiator_schedule(se, 0);
	return 0;
}

static void worker_free(struct worker *w)
{
	for (unsigned i = 0; i < w->nsess; i++) {
		struct wsess *se = &w->sess[i];
		if (se->inited)
			rfx_session_deinit(&se->s);
		rfx_validator_free(se->validator);
		free(se->queue);
	}
	rfx_loop_free(w->loop);
	if (w->store) {
		if (w->batch_open)
			rfx_store_commit(w->store);
		rfx_store_close(w->store);
	}
	rfx_server_free(w->srv);
	for (unsigned i = 0; i < w->nconns; i++) {
		free(w->conns[i].rx);
		rfx_tls_release(w->conns[i].tls);
		free(w->conns[i].tls);
	}
	for (unsigned i = 0; w->tls_ctx && i < w->conf->ntls; i++)
		rfx_tls_ctx_free(w->tls_ctx[i]);
	free(w->tls_ctx);
	for (unsigned i = 0; i < w->ndicts; i++) {
		rfx_dict_free(w->dicts[i]);
		free(w->dict_paths[i]);
	}
	free(w->dicts);
	free(w->dict_paths);
	free(w->conns);
	free(w->listeners);
	free(w->sess);
	free(w->scratch);
	free(w->out);
	free(w->fields);
	free(w->dirty);
	free(w->resending);
	free(w->bind_tab);
}

int rfx_worker_run(const struct rfx_worker_conf *c, unsigned shard, rfx_worker_log_fn log,
		   void *log_ctx)
{
	struct worker *w = calloc(1, sizeof(*w));
	int rc = -ENOMEM;
	if (!w)
		return -ENOMEM;
	w->conf = c;
	w->shard = shard;
	w->log = log;
	w->log_ctx = log_ctx;
	unsigned n = 0;
	for (unsigned i = 0; i < c->nsessions; i++)
		n += c->sessions[i].shard == shard;
	w->sess = calloc(n ? n : 1, sizeof(*w->sess));
	w->listeners = calloc(n ? n : 1, sizeof(*w->listeners));
	w->nconns = 2 * n + 16;
	w->conns = calloc(w->nconns, sizeof(*w->conns));
	w->scratch = malloc(OUT_CAP);
	w->out = malloc(OUT_CAP);
	w->fields = calloc(MAX_FIELDS, sizeof(*w->fields));
	w->dirty_cap = 2 * n + 2;
	w->dirty = calloc(w->dirty_cap, sizeof(*w->dirty));
	w->tls_ctx = calloc(c->ntls ? c->ntls : 1, sizeof(*w->tls_ctx));
	w->resending = calloc(n ? n : 1, sizeof(*w->resending));
	if (!w->sess || !w->listeners || !w->conns || !w->scratch || !w->out || !w->fields ||
	    !w->dirty || !w->tls_ctx || !w->resending)
		goto out;
	for (unsigned i = 0; i < w->nconns; i++)
		w->conns[i].w = w;

	struct rfx_loop_opts lo = {
		.max_conns = w->nconns + n + 4,
		.idle = (enum rfx_idle)c->idle,
		.on_turn = on_turn,
		.on_sleep = on_sleep,
		.arg = w,
	};
	rc = rfx_loop_new(&w->loop, &lo);
	if (rc < 0) {
		wlog(w, "io_uring loop: %s", rfx_strerror(rc));
		goto out;
	}
	char desc[256];
	rfx_loop_describe(w->loop, desc, sizeof(desc));
	wlog(w, "loop: %s", desc);
	clock_now(w);

	char err[512] = "";
	struct rfx_store_options so = {
		.path = c->store_path,
		.shard = shard,
		.durability = (enum rfx_store_durability)c->durability,
		.flush_interval_ms = c->flush_interval_ms,
		.map_size = c->map_size,
		.map_size_max = c->map_size_max > c->map_size ? c->map_size_max : c->map_size,
		.keep_periods = c->keep_periods,
		.readonly_map = c->readonly_map,
		.max_sessions = n + 1,
	};
	rc = rfx_store_open(&w->store, &so, err, sizeof(err));
	if (rc < 0) {
		wlog(w, "store %s: %s", c->store_path, err);
		goto out;
	}
	{
		/* Ops want to know why data.mdb is as big as the map. */
		struct rfx_store_info si;
		rfx_store_info(w->store, &si);
		wlog(w, "store: %s map, %zu MiB, %zu MiB reserved on disk",
		     si.writable_map ? "writable" : "read-only", si.map_size >> 20,
		     si.reserved >> 20);
	}
	rc = rfx_wk_shm_new(&w->srv, c->instance, shard, c->shards, n, c->ring_to_shard,
			    c->ring_to_client);
	if (rc < 0) {
		wlog(w, "shared memory for instance %s: %s", c->instance, rfx_strerror(rc));
		goto out;
	}
	rfx_wk_shm_set_ops(&client_ops, w);
	if (c->idle == RFX_IDLE_BLOCK)
		wake_setup(w);
	w->mbox = rfx_wk_shm_mailbox(w->srv);
	w->mbox_last = rfx_mailbox_last(w->mbox);
	for (unsigned i = 0; i < c->nsessions; i++) {
		if (c->sessions[i].shard != shard)
			continue;
		struct wsess *se = &w->sess[w->nsess++];
		se->sc = &c->sessions[i];
		rc = sess_setup(w, se);
		if (rc < 0)
			goto out;
	}
	rc = bind_index(w);
	if (rc < 0)
		goto out;
	wlog(w, "serving %u sessions", w->nsess);
	rc = rfx_loop_run(w->loop);
	clock_now(w);
	commit(w);
	if (rc < 0)
		wlog(w, "loop failed: %s", rfx_strerror(rc));
	else
		wlog(w, "stopped");
out:
	worker_free(w);
	free(w);
	return rc;
}

/* ------------------------------------------------------------ migration */

static unsigned migrate_map(void *ctx, const char *id, size_t len)
{
	const struct rfx_worker_conf *c = ctx;
	for (unsigned i = 0; i < c->nsessions; i++)
		if (strlen(c->sessions[i].id) == len && memcmp(c->sessions[i].id, id, len) == 0)
			return c->sessions[i].shard;
	/* A session no longer configured: FNV-1a as the settings assign. */
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)id[i]) * 16777619u;
	return h % (c->shards ? c->shards : 1);
}

int rfx_worker_migrate(const struct rfx_worker_conf *c, unsigned *moved, char *err,
		       size_t errlen)
{
	struct rfx_store_options so = {
		.path = c->store_path,
		.map_size = c->map_size,
		.map_size_max = c->map_size_max > c->map_size ? c->map_size_max : c->map_size,
	};
	struct rfx_store_migrate_stats st = {0};
	int rc = rfx_store_migrate(&so, c->shards, migrate_map, (void *)c, &st, err, errlen);
	if (moved)
		*moved = st.moved;
	return rc;
}
