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

#include "engine/settings.h"
/* settings.h sizes its whole session ID; session.h names one CompID alike. */
#undef RFX_SESSION_ID_MAX
#include "engine/error.h"
#include "shard/worker.h"
#include "shard/worker_conf.h"
#include "store/lmdb_store.h"

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

/* QuickFIX writes DefaultApplVerID as a name or as the ApplVerID code; the
 * Logon carries the code (1137). */
static const char *appl_ver_code(const char *v)
{
	static const struct { const char *name, *code; } map[] = {
		{"FIX.2.7", "0"}, {"FIX.3.0", "1"}, {"FIX.4.0", "2"}, {"FIX.4.1", "3"},
		{"FIX.4.2", "4"}, {"FIX.4.3", "5"}, {"FIX.4.4", "6"}, {"FIX.5.0", "7"},
		{"FIX.5.0SP1", "8"}, {"FIX.5.0SP2", "9"},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(v, map[i].name) == 0)
			return map[i].code;
	return v;
}

/* The session's schedule (QuickFIX: StartTime/EndTime[/StartDay/EndDay] in
 * TimeZone, or NonStopSession). Returns 0 or RFX_ECONFIG with err set. */
static int schedule_conf(const struct rfx_session_settings *ss, struct rfx_worker_session_conf *o,
			 char *err, size_t errlen)
{
	struct rfx_schedule *sc = &o->sched;
	memset(sc, 0, sizeof(*sc));
	sc->start_day = sc->end_day = -1;
	if (ss->non_stop_session) {
		sc->non_stop = true;
	} else if (ss->start_time >= 0 && ss->end_time >= 0) {
		sc->start_time = ss->start_time;
		sc->end_time = ss->end_time;
		if (ss->start_day >= 0 && ss->end_day >= 0) {
			sc->start_day = ss->start_day;
			sc->end_day = ss->end_day;
		}
	} else {
		return 0; /* no schedule given: always in session */
	}
	if (ss->use_local_time) {
		snprintf(err, errlen, "session %s (line %u): UseLocalTime=Y is not supported; "
			 "name the zone with TimeZone= instead", ss->id, ss->line);
		return RFX_ECONFIG;
	}
	if (ss->time_zone[0]) {
		int rc = rfx_tz_load(&o->tz, ss->time_zone);
		if (rc < 0) {
			snprintf(err, errlen, "session %s (line %u): TimeZone=%s: %s", ss->id,
				 ss->line, ss->time_zone, rfx_strerror(rc));
			return RFX_ECONFIG;
		}
		sc->tz = &o->tz;
	}
	if (rfx_schedule_check(sc) < 0) {
		snprintf(err, errlen, "session %s (line %u): invalid schedule", ss->id, ss->line);
		return RFX_ECONFIG;
	}
	o->cfg.schedule = sc;
	return 0;
}

static void session_conf(const struct rfx_session_settings *ss, struct rfx_worker_session_conf *o)
{
	struct rfx_session_config *c = &o->cfg;
	COPY(o->id, ss->id);
	o->shard = ss->shard;
	rfx_session_config_default(c);
	o->acceptor = ss->connection_type == RFX_CONN_ACCEPTOR;
	c->role = o->acceptor ? RFX_SESSION_ACCEPTOR : RFX_SESSION_INITIATOR;
	COPY(c->begin_string, ss->begin_string);
	COPY(c->sender_comp_id, ss->sender_comp_id);
	COPY(c->target_comp_id, ss->target_comp_id);
	COPY(c->sender_sub_id, ss->sender_sub_id);
	COPY(c->target_sub_id, ss->target_sub_id);
	COPY(c->sender_location_id, ss->sender_location_id);
	COPY(c->target_location_id, ss->target_location_id);
	COPY(c->default_appl_ver_id, appl_ver_code(ss->default_appl_ver_id));
	if (ss->heartbt_int)
		c->heart_bt_int = ss->heartbt_int;
	c->reset_on_logon = ss->reset_on_logon;
	c->reset_on_logout = ss->reset_on_logout;
	c->reset_on_disconnect = ss->reset_on_disconnect;
	c->check_comp_id = ss->check_comp_id;
	c->check_latency = ss->check_latency;
	c->max_latency = ss->max_latency;
	c->resend_chunk_size = ss->resend_request_chunk_size;
	c->logon_timeout = ss->logon_timeout;
	c->logout_timeout = ss->logout_timeout;
	c->validate_length_and_checksum = ss->validate_length_and_checksum;
	COPY(c->username, ss->username);
	COPY(c->password, ss->password);

	COPY(o->accept_address, ss->socket_accept_address);
	o->accept_port = ss->socket_accept_port;
	o->nconnect = ss->nconnect < RFX_WK_MAX_CONNECT ? ss->nconnect : RFX_WK_MAX_CONNECT;
	for (unsigned i = 0; i < o->nconnect; i++) {
		COPY(o->connect[i].host, ss->connect[i].host);
		o->connect[i].port = ss->connect[i].port;
	}
	o->reconnect_interval = ss->reconnect_interval ? ss->reconnect_interval : 30;
	o->persist_messages = ss->persist_messages;
	o->use_dictionary = ss->use_data_dictionary;
	if (ss->transport_data_dictionary[0]) {
		COPY(o->transport_dict, ss->transport_data_dictionary);
		COPY(o->app_dict, ss->app_data_dictionary[0] ? ss->app_data_dictionary
							      : ss->transport_data_dictionary);
	} else if (ss->data_dictionary[0]) {
		COPY(o->transport_dict, ss->data_dictionary);
		COPY(o->app_dict, ss->data_dictionary);
	} else {
		o->use_dictionary = false;
	}
	o->validate_flags = rfx_session_settings_validate_flags(ss);
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
	c->idle = e->idle_strategy; /* same numbering as enum rfx_idle */
	COPY(c->store_path, e->store_path);
	c->durability = e->store_durability;
	c->flush_interval_ms = (unsigned)e->store_flush_interval_ms;
	c->map_size = e->store_map_size;
	c->map_size_max = e->store_max_map_size;
	c->keep_periods = (unsigned)e->store_keep_periods;
	for (unsigned i = 0; i < s->nsessions; i++) {
		if (strlen(s->sessions[i].id) >= RFX_WK_ID_MAX) {
			snprintf(err, errlen, "session %s (line %u): ID longer than %d bytes",
				 s->sessions[i].id, s->sessions[i].line, RFX_WK_ID_MAX - 1);
			rfx_worker_conf_free(c);
			return RFX_ECONFIG;
		}
		session_conf(&s->sessions[i], &c->sessions[i]);
		int rc = schedule_conf(&s->sessions[i], &c->sessions[i], err, errlen);
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
			    strcmp(y->accept_address, x->accept_address) || y->shard == x->shard)
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
	/* Passwords were copied: wipe them with the copy. */
	if (c->sessions)
		memset(c->sessions, 0, c->nsessions * sizeof(*c->sessions));
	free(c->sessions);
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

/* Same session settings? The schedule pointer differs per copy; what it
 * points at is compared on its own. Both copies come from calloc and field
 * writes, so padding bytes are zero in both. */
static bool same_session(const struct rfx_worker_session_conf *x,
			 const struct rfx_worker_session_conf *y)
{
	struct rfx_session_config cx = x->cfg, cy = y->cfg;
	if ((cx.schedule == NULL) != (cy.schedule == NULL))
		return false;
	if (cx.schedule && memcmp(&x->sched, &y->sched, offsetof(struct rfx_schedule, tz)) != 0)
		return false;
	if (strcmp(x->transport_dict, y->transport_dict) || strcmp(x->app_dict, y->app_dict))
		return false;
	cx.schedule = cy.schedule = NULL;
	return memcmp(&cx, &cy, sizeof(cx)) == 0 && x->acceptor == y->acceptor &&
	       x->accept_port == y->accept_port &&
	       strcmp(x->accept_address, y->accept_address) == 0 && x->nconnect == y->nconnect &&
	       memcmp(x->connect, y->connect, sizeof(x->connect)) == 0 &&
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
			if (!o || o->shard != shard || !same_session(&x->sessions[i], o))
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
	    a->keep_periods != b->keep_periods ||
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
