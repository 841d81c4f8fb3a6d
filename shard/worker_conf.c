/*
 * Settings -> worker configuration. The only worker file that includes
 * engine/settings.h (see worker_conf.h for why).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/error.h"
#include "engine/session_config.h"
#include "engine/settings.h"
#include "shard/worker.h"
#include "shard/worker_conf.h"
#include "shard/loop.h"
#include "shard/tls.h"
#include "store/lmdb_store.h"

_Static_assert((int)RFX_IDLE_STRATEGY_SPIN == (int)RFX_IDLE_SPIN &&
	       (int)RFX_IDLE_STRATEGY_SPIN_YIELD == (int)RFX_IDLE_SPIN_YIELD &&
	       (int)RFX_IDLE_STRATEGY_BLOCK == (int)RFX_IDLE_BLOCK,
	       "IdleStrategy values differ from the loop's idle modes");

/* StoreDurability (engine/settings.h) names the store's modes with the same
 * values; the engine does not include the store, so the match is checked here. */
_Static_assert((int)RFX_DURABILITY_BATCH == (int)RFX_STORE_BATCH &&
	       (int)RFX_DURABILITY_FULL == (int)RFX_STORE_FULL &&
	       (int)RFX_DURABILITY_NONE == (int)RFX_STORE_NONE,
	       "settings and store durability enums differ");

static void copy_str(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src); /* settings strings are NUL-terminated */
	if (l > n - 1)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = 0;
}

#define COPY(dst, src) copy_str((dst), sizeof(dst), (src))

static const char empty[] = "";

/* A string the configuration owns: "" (shared, not allocated) when unset. */
static const char *own_str(const char *src, bool *oom)
{
	if (!src[0])
		return empty;
	char *p = strdup(src);
	if (!p) {
		*oom = true;
		return empty;
	}
	return p;
}

static void free_str(const char *p)
{
	if (p && p != empty)
		free((char *)p);
}

/* The zone shared by every session that names it: loaded once per
 * distinct zone. Returns it, or NULL with *rc set. */
static const struct rfx_tz *zone(struct rfx_worker_conf *c, const struct rfx_session_settings *ss,
				 int *rc)
{
	struct rfx_tz *tz = calloc(1, sizeof(*tz));
	if (!tz) {
		*rc = -ENOMEM;
		return NULL;
	}
	*rc = ss->use_local_time ? rfx_tz_load_local(tz) : rfx_tz_load(tz, ss->time_zone);
	if (*rc < 0) {
		free(tz);
		return NULL;
	}
	for (unsigned i = 0; i < c->ntzs; i++)
		if (memcmp(c->tzs[i], tz, sizeof(*tz)) == 0) {
			free(tz);
			return c->tzs[i];
		}
	struct rfx_tz **n = realloc(c->tzs, (c->ntzs + 1) * sizeof(*n));
	if (!n) {
		free(tz);
		*rc = -ENOMEM;
		return NULL;
	}
	c->tzs = n;
	c->tzs[c->ntzs++] = tz;
	return tz;
}

/* The session's protocol configuration and schedule (engine/session_config.h),
 * in the zone QuickFIX's TimeZone or UseLocalTime=Y names. Returns 0, -ENOMEM
 * or RFX_ECONFIG with err set. */
static int protocol_conf(struct rfx_worker_conf *c, const struct rfx_session_settings *ss,
			 struct rfx_worker_session_conf *o, char *err, size_t errlen)
{
	const struct rfx_tz *tz = NULL;
	int rc;

	/* The settings parser refuses TimeZone together with UseLocalTime=Y. */
	if (ss->time_zone[0] || ss->use_local_time) {
		tz = zone(c, ss, &rc);
		if (!tz && rc == -ENOMEM)
			return rc;
		if (!tz) {
			snprintf(err, errlen, "session %s (line %u): %s%s: %s", ss->id, ss->line,
				 ss->use_local_time ? "UseLocalTime=Y" : "TimeZone=",
				 ss->use_local_time ? "" : ss->time_zone, rfx_strerror(rc));
			return RFX_ECONFIG;
		}
	}
	if (rfx_session_config_from_settings(&o->cfg, &o->sched, ss, tz) < 0) {
		snprintf(err, errlen, "session %s (line %u): invalid schedule, or an ID longer "
			 "than %d bytes", ss->id, ss->line, RFX_SESSION_STR_MAX - 1);
		return RFX_ECONFIG;
	}
	return 0;
}

/* SSLProtocol, QuickFIX's syntax ("all -SSLv2 -SSLv3", "TLSv1_2 TLSv1_3",
 * "+TLSv1_3"): a first unsigned name starts the set from it, +/- add and
 * remove. We offer only TLS 1.2 and 1.3; whatever else the list allows is
 * ignored, and a list allowing neither is an error. */
static int tls_versions(const char *spec, char *min, char *max)
{
	static const char *const names[] = {"SSLv2", "SSLv3", "TLSv1", "TLSv1_1", "TLSv1_2",
					    "TLSv1_3"};
	unsigned set = 0, all = (1u << 6) - 1;
	char buf[RFX_SETTINGS_ID_MAX];
	bool first = true;

	if (!spec[0]) {
		min[0] = max[0] = 0;
		return 0;
	}
	COPY(buf, spec);
	for (char *save = NULL, *t = strtok_r(buf, " \t,", &save); t;
	     t = strtok_r(NULL, " \t,", &save), first = false) {
		char sign = *t == '+' || *t == '-' ? *t++ : 0;
		unsigned bits = 0;
		if (strcasecmp(t, "all") == 0)
			bits = all;
		for (unsigned i = 0; i < 6 && !bits; i++) {
			char dotted[16];
			snprintf(dotted, sizeof(dotted), "%s", names[i]);
			for (char *d = dotted; *d; d++)
				*d = *d == '_' ? '.' : *d;
			if (strcasecmp(t, names[i]) == 0 || strcasecmp(t, dotted) == 0)
				bits = 1u << i;
		}
		if (!bits)
			return -1;
		if (sign == '-')
			set &= ~bits;
		else if (sign == '+' || !first)
			set |= bits;
		else
			set = bits;
	}
	set >>= 4;   /* bit 0: TLS 1.2, bit 1: TLS 1.3 */
	if (!set)
		return -1;
	snprintf(min, RFX_WK_TLS_VERSION_MAX, "%s", set & 1 ? "TLSv1.2" : "TLSv1.3");
	snprintf(max, RFX_WK_TLS_VERSION_MAX, "%s", set & 2 ? "" : "TLSv1.2");
	return 0;
}

/* SSLCipherSuite is one OpenSSL cipher list; its TLS_* names are TLS 1.3
 * suites, which OpenSSL configures apart. */
static void tls_ciphers(const char *spec, struct rfx_worker_tls_conf *t)
{
	char buf[RFX_WK_HOST_MAX];
	COPY(buf, spec);
	for (char *save = NULL, *c = strtok_r(buf, ":, ", &save); c;
	     c = strtok_r(NULL, ":, ", &save)) {
		char *dst = strncmp(c, "TLS_", 4) == 0 ? t->suites : t->ciphers;
		size_t l = strlen(dst);
		snprintf(dst + l, RFX_WK_HOST_MAX - l, "%s%s", l ? ":" : "", c);
	}
}

void rfx_worker_tls_opts(const struct rfx_worker_tls_conf *t, struct rfx_tls_opts *o)
{
#define OPT(s) ((s)[0] ? (s) : NULL)
	*o = (struct rfx_tls_opts){
		.role = t->server ? RFX_TLS_SERVER : RFX_TLS_CLIENT,
		.cert_file = OPT(t->cert_file), .key_file = OPT(t->key_file),
		.ca_file = OPT(t->ca_file), .ca_dir = OPT(t->ca_dir),
		.verify_level = t->verify_level,
		.min_version = OPT(t->min_version), .max_version = OPT(t->max_version),
		.ciphers = OPT(t->ciphers), .ciphersuites = OPT(t->suites),
		.crl_file = OPT(t->crl_file), .crl_dir = OPT(t->crl_dir),
		.key_password = OPT(t->key_password),
	};
#undef OPT
}

/* The session's TLS entry: found among the ones already collected or
 * appended, after a trial context proves the files and lists usable (so
 * ringfixd refuses bad TLS settings before any shard starts). */
static int tls_conf(const struct rfx_session_settings *ss, struct rfx_worker_session_conf *o,
		    struct rfx_worker_conf *c, char *err, size_t errlen)
{
	struct rfx_worker_tls_conf t;
	struct rfx_tls_opts opts;
	struct rfx_tls_ctx *ctx;
	char why[400] = "";
	int rc;

	o->tls = -1;
	if (!ss->socket_use_ssl)
		return 0;
	memset(&t, 0, sizeof(t));
	t.server = o->acceptor;
	/* A client always verifies the server; the level is the acceptor's. */
	t.verify_level = o->acceptor ? ss->certificate_verify_level : 0;
	if (tls_versions(ss->ssl_protocol, t.min_version, t.max_version) < 0) {
		snprintf(err, errlen, "session %s (line %u): SSLProtocol allows neither TLSv1_2 "
			 "nor TLSv1_3, or names an unknown protocol", ss->id, ss->line);
		return RFX_ECONFIG;
	}
	COPY(t.cert_file, o->acceptor ? ss->server_certificate_file : ss->client_certificate_file);
	COPY(t.key_file, o->acceptor ? ss->server_certificate_key_file :
		       ss->client_certificate_key_file);
	COPY(t.ca_file, ss->certification_authorities_file);
	COPY(t.ca_dir, ss->certification_authorities_directory);
	COPY(t.crl_file, ss->certificate_revocation_list_file);
	COPY(t.crl_dir, ss->certificate_revocation_list_directory);
	COPY(t.key_password, ss->certificate_key_password);
	tls_ciphers(ss->ssl_cipher_suite, &t);
	for (unsigned i = 0; i < c->ntls; i++)
		if (memcmp(&c->tls[i], &t, sizeof(t)) == 0) {
			o->tls = (int)i;
			explicit_bzero(&t, sizeof(t));
			return 0;
		}
	rfx_worker_tls_opts(&t, &opts);
	rc = rfx_tls_ctx_new(&ctx, &opts, why, sizeof(why));
	if (rc < 0) {
		explicit_bzero(&t, sizeof(t));
		snprintf(err, errlen, "session %s (line %u): TLS: %s", ss->id, ss->line,
			 rc == RFX_ECONFIG ? why : rfx_strerror(rc));
		return rc;
	}
	rfx_tls_ctx_free(ctx);
	struct rfx_worker_tls_conf *n = realloc(c->tls, (c->ntls + 1) * sizeof(*n));
	if (!n) {
		explicit_bzero(&t, sizeof(t));
		return -ENOMEM;
	}
	c->tls = n;
	memcpy(&c->tls[c->ntls], &t, sizeof(t));
	explicit_bzero(&t, sizeof(t));
	o->tls = (int)c->ntls++;
	return 0;
}

/* Returns 0 or -ENOMEM (what was allocated is freed with the configuration). */
static int session_conf(const struct rfx_session_settings *ss, struct rfx_worker_session_conf *o)
{
	bool oom = false;
	COPY(o->id, ss->id);
	o->shard = ss->shard;
	o->acceptor = ss->connection_type == RFX_CONN_ACCEPTOR;

	o->accept_address = own_str(ss->socket_accept_address, &oom);
	o->accept_port = ss->socket_accept_port;
	o->transport_dict = o->app_dict = empty;
	unsigned n = ss->nconnect < RFX_WK_MAX_CONNECT ? ss->nconnect : RFX_WK_MAX_CONNECT;
	if (n) {
		o->connect = calloc(n, sizeof(*o->connect));
		if (!o->connect)
			return -ENOMEM;
		o->nconnect = n;
	}
	for (unsigned i = 0; i < o->nconnect; i++) {
		COPY(o->connect[i].host, ss->connect[i].host);
		o->connect[i].port = ss->connect[i].port;
	}
	o->reconnect_interval = ss->reconnect_interval ? ss->reconnect_interval : 30;
	o->persist_messages = ss->persist_messages;
	o->use_dictionary = ss->use_data_dictionary;
	if (ss->transport_data_dictionary[0]) {
		/* The DefaultApplVerID's dictionary may be given by its keyed
		 * AppDataDictionary.<version> alone. */
		const char *def = rfx_session_settings_app_dict(ss, ss->default_appl_ver_id);
		o->transport_dict = own_str(ss->transport_data_dictionary, &oom);
		o->app_dict = own_str(def ? def : ss->transport_data_dictionary, &oom);
		unsigned na = ss->napp_dicts + (ss->default_appl_ver_id[0] != '\0');
		o->apps = na ? calloc(na, sizeof(*o->apps)) : NULL;
		if (na && !o->apps)
			return -ENOMEM;
		for (unsigned i = 0; i < ss->napp_dicts; i++) {
			COPY(o->apps[o->napps].appl_ver_id, ss->app_dicts[i].appl_ver_id);
			o->apps[o->napps++].path = own_str(ss->app_dicts[i].path, &oom);
		}
		/* def is either a keyed entry (copied above) or the plain
		 * AppDataDictionary, which still needs its entry. */
		if (def && def == ss->app_data_dictionary) {
			COPY(o->apps[o->napps].appl_ver_id, ss->default_appl_ver_id);
			o->apps[o->napps++].path = own_str(def, &oom);
		}
	} else if (ss->data_dictionary[0]) {
		o->transport_dict = own_str(ss->data_dictionary, &oom);
		o->app_dict = own_str(ss->data_dictionary, &oom);
	} else {
		o->use_dictionary = false;
	}
	o->validate_flags = rfx_session_settings_validate_flags(ss);
	return oom ? -ENOMEM : 0;
}

int rfx_worker_conf_new(const struct rfx_settings *s, struct rfx_worker_conf **out, char *err,
			size_t errlen)
{
	struct rfx_worker_conf *c = calloc(1, sizeof(*c));
	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->sessions = calloc(s->nsessions ? s->nsessions : 1, sizeof(*c->sessions));
	if (!c->sessions) {
		free(c);
		return -ENOMEM;
	}
	const struct rfx_engine_settings *e = &s->engine;
	COPY(c->instance, e->instance_name);
	c->shards = e->shards ? e->shards : 1;
	c->ncpus = e->nshard_cpus;
	for (unsigned i = 0; i < c->ncpus && i < 256; i++)
		c->cpus[i] = e->shard_cpus[i];
	c->ring_to_shard = e->to_shard_ring_size;
	c->ring_to_client = e->from_shard_ring_size;
	c->idle = e->idle_strategy; /* same numbering as enum rfx_idle (asserted above) */
	COPY(c->store_path, e->store_path);
	c->durability = e->store_durability;
	c->flush_interval_ms = (unsigned)e->store_flush_interval_ms;
	c->map_size = e->store_map_size;
	c->map_size_max = e->store_max_map_size;
	c->keep_periods = (unsigned)e->store_keep_periods;
	c->readonly_map = !e->store_writable_map;
	for (unsigned i = 0; i < s->nsessions; i++) {
		if (strlen(s->sessions[i].id) >= RFX_WK_ID_MAX) {
			snprintf(err, errlen, "session %s (line %u): ID longer than %d bytes",
				 s->sessions[i].id, s->sessions[i].line, RFX_WK_ID_MAX - 1);
			rfx_worker_conf_free(c);
			return RFX_ECONFIG;
		}
		c->nsessions = i + 1;
		int rc = session_conf(&s->sessions[i], &c->sessions[i]);
		if (rc == 0)
			rc = protocol_conf(c, &s->sessions[i], &c->sessions[i], err, errlen);
		if (rc == 0)
			rc = tls_conf(&s->sessions[i], &c->sessions[i], c, err, errlen);
		if (rc < 0) {
			rfx_worker_conf_free(c);
			return rc;
		}
	}
	/* One listening socket per port, in one shard: a connection is bound to
	 * its session by the Logon that arrives on it, so every acceptor session
	 * of a port must live where that port is accepted (handing accepted
	 * sockets between shards is not implemented). Hashed sessions follow the
	 * first session of their port; explicit Shard= values must agree. */
	for (unsigned i = 0; i < s->nsessions; i++) {
		struct rfx_worker_session_conf *x = &c->sessions[i];
		if (!x->acceptor)
			continue;
		for (unsigned j = 0; j < i; j++) {
			const struct rfx_worker_session_conf *y = &c->sessions[j];
			if (!y->acceptor || y->accept_port != x->accept_port ||
			    strcmp(y->accept_address, x->accept_address))
				continue;
			/* The handshake comes before the Logon that names the
			 * session: one port, one TLS configuration. */
			if (y->tls != x->tls) {
				snprintf(err, errlen,
					 "session %s (line %u): SocketAcceptPort=%u is shared with "
					 "session %s but their TLS settings differ; acceptor sessions "
					 "of one port must agree on SocketUseSSL and the certificate "
					 "settings", x->id, s->sessions[i].line, x->accept_port, y->id);
				rfx_worker_conf_free(c);
				return RFX_ECONFIG;
			}
			if (y->shard == x->shard)
				continue;
			if (s->sessions[i].shard_setting >= 0) {
				snprintf(err, errlen,
					 "session %s (line %u): Shard=%u, but SocketAcceptPort=%u is "
					 "served by shard %u (session %s); acceptor sessions of one "
					 "port must share a shard",
					 x->id, s->sessions[i].line, x->shard, x->accept_port, y->shard,
					 y->id);
				rfx_worker_conf_free(c);
				return RFX_ECONFIG;
			}
			x->shard = y->shard;
			break;
		}
	}
	c->nsessions = s->nsessions;
	*out = c;
	return 0;
}

void rfx_worker_conf_free(struct rfx_worker_conf *c)
{
	if (!c)
		return;
	for (unsigned i = 0; c->sessions && i < c->nsessions; i++) {
		struct rfx_worker_session_conf *o = &c->sessions[i];
		free_str(o->accept_address);
		free_str(o->transport_dict);
		free_str(o->app_dict);
		for (unsigned j = 0; j < o->napps; j++)
			free_str(o->apps[j].path);
		free(o->apps);
		free(o->connect);
	}
	/* Passwords were copied: wipe them with the copy. */
	if (c->sessions)
		explicit_bzero(c->sessions, c->nsessions * sizeof(*c->sessions));
	if (c->tls)
		explicit_bzero(c->tls, c->ntls * sizeof(*c->tls));
	free(c->sessions);
	free(c->tls);
	for (unsigned i = 0; i < c->ntzs; i++)
		free(c->tzs[i]);
	free(c->tzs);
	free(c);
}

unsigned rfx_worker_conf_shards(const struct rfx_worker_conf *c)
{
	return c->shards;
}

int rfx_worker_conf_cpu(const struct rfx_worker_conf *c, unsigned shard)
{
	return shard < c->ncpus ? c->cpus[shard] : -1;
}

const char *rfx_worker_conf_instance(const struct rfx_worker_conf *c)
{
	return c->instance;
}

static const struct rfx_worker_session_conf *find(const struct rfx_worker_conf *c, const char *id)
{
	for (unsigned i = 0; i < c->nsessions; i++)
		if (strcmp(c->sessions[i].id, id) == 0)
			return &c->sessions[i];
	return NULL;
}

static bool same_endpoints(const struct rfx_worker_session_conf *x,
			   const struct rfx_worker_session_conf *y)
{
	for (unsigned i = 0; i < x->nconnect && i < y->nconnect; i++)
		if (strcmp(x->connect[i].host, y->connect[i].host) ||
		    x->connect[i].port != y->connect[i].port)
			return false;
	return true;
}

/* Same session settings? The schedule pointer differs per copy; what it
 * points at is compared on its own. Both copies come from calloc and field
 * writes, so padding bytes are zero in both. */
static bool same_tls(const struct rfx_worker_conf *a, int x, const struct rfx_worker_conf *b,
		     int y)
{
	if (x < 0 || y < 0)
		return x == y;
	return memcmp(&a->tls[x], &b->tls[y], sizeof(a->tls[x])) == 0;
}

static bool same_session(const struct rfx_worker_conf *a, const struct rfx_worker_session_conf *x,
			 const struct rfx_worker_conf *b, const struct rfx_worker_session_conf *y)
{
	if (!same_tls(a, x->tls, b, y->tls))
		return false;
	struct rfx_session_config cx = x->cfg, cy = y->cfg;
	if ((cx.schedule == NULL) != (cy.schedule == NULL))
		return false;
	if (cx.schedule && memcmp(&x->sched, &y->sched, offsetof(struct rfx_schedule, tz)) != 0)
		return false;
	if (cx.schedule && (x->sched.tz == NULL) != (y->sched.tz == NULL))
		return false;
	if (cx.schedule && x->sched.tz && memcmp(x->sched.tz, y->sched.tz, sizeof(struct rfx_tz)))
		return false;
	if (strcmp(x->transport_dict, y->transport_dict) || strcmp(x->app_dict, y->app_dict))
		return false;
	if (x->napps != y->napps)
		return false;
	for (unsigned i = 0; i < x->napps; i++)
		if (strcmp(x->apps[i].appl_ver_id, y->apps[i].appl_ver_id) ||
		    strcmp(x->apps[i].path, y->apps[i].path))
			return false;
	cx.schedule = cy.schedule = NULL;
	return memcmp(&cx, &cy, sizeof(cx)) == 0 && x->acceptor == y->acceptor &&
	       x->accept_port == y->accept_port &&
	       strcmp(x->accept_address, y->accept_address) == 0 && x->nconnect == y->nconnect &&
	       same_endpoints(x, y) &&
	       x->reconnect_interval == y->reconnect_interval &&
	       x->persist_messages == y->persist_messages &&
	       x->use_dictionary == y->use_dictionary && x->validate_flags == y->validate_flags;
}

int rfx_worker_conf_shard_differs(const struct rfx_worker_conf *a,
				  const struct rfx_worker_conf *b, unsigned shard)
{
	for (int pass = 0; pass < 2; pass++) {
		const struct rfx_worker_conf *x = pass ? b : a, *y = pass ? a : b;
		for (unsigned i = 0; i < x->nsessions; i++) {
			if (x->sessions[i].shard != shard)
				continue;
			const struct rfx_worker_session_conf *o = find(y, x->sessions[i].id);
			if (!o || o->shard != shard || !same_session(x, &x->sessions[i], y, o))
				return 1;
		}
	}
	return 0;
}

int rfx_worker_conf_needs_restart(const struct rfx_worker_conf *a,
				  const struct rfx_worker_conf *b, char *err, size_t errlen)
{
	if (a->shards != b->shards || strcmp(a->instance, b->instance) ||
	    a->ring_to_shard != b->ring_to_shard || a->ring_to_client != b->ring_to_client ||
	    strcmp(a->store_path, b->store_path) || a->idle != b->idle ||
	    a->durability != b->durability || a->flush_interval_ms != b->flush_interval_ms ||
	    a->map_size != b->map_size || a->map_size_max != b->map_size_max ||
	    a->keep_periods != b->keep_periods || a->readonly_map != b->readonly_map ||
	    a->ncpus != b->ncpus || memcmp(a->cpus, b->cpus, sizeof(a->cpus))) {
		snprintf(err, errlen, "the [ENGINE] settings changed");
		return 1;
	}
	for (unsigned i = 0; i < a->nsessions; i++) {
		const struct rfx_worker_session_conf *o = find(b, a->sessions[i].id);
		if (o && o->shard != a->sessions[i].shard) {
			snprintf(err, errlen, "session %s moves from shard %u to %u",
				 a->sessions[i].id, a->sessions[i].shard, o->shard);
			return 1;
		}
	}
	return 0;
}

unsigned rfx_worker_conf_nsessions(const struct rfx_worker_conf *c)
{
	return c->nsessions;
}

const char *rfx_worker_conf_session(const struct rfx_worker_conf *c, unsigned i,
				    unsigned *shard)
{
	*shard = c->sessions[i].shard;
	return c->sessions[i].id;
}
