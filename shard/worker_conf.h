/*
 * Private to shard/worker*.c: the worker configuration, a plain copy of what
 * the settings say, in the engine's own types, so the worker's hot code needs
 * neither engine/settings.h nor the settings' memory.
 */
#ifndef RFX_SHARD_WORKER_CONF_H
#define RFX_SHARD_WORKER_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/schedule.h"
#include "engine/session.h"
#include "engine/tz.h"

#define RFX_WK_ID_MAX 64        /* shm directory limit, incl. NUL */
#define RFX_WK_HOST_MAX 256
#define RFX_WK_PATH_MAX 512
#define RFX_WK_MAX_CONNECT 8

#define RFX_WK_SECRET_MAX 128
#define RFX_WK_TLS_VERSION_MAX 8

/* One distinct TLS configuration (QuickFIX's SSL settings, see the README).
 * Sessions whose settings are byte for byte the same share an entry, and so
 * one OpenSSL context per shard. */
struct rfx_worker_tls_conf {
	bool server;                   /* acceptor side */
	int verify_level;              /* CertificateVerifyLevel */
	char min_version[RFX_WK_TLS_VERSION_MAX];  /* "TLSv1.2" / "TLSv1.3" */
	char max_version[RFX_WK_TLS_VERSION_MAX];  /* "" = newest */
	char cert_file[RFX_WK_PATH_MAX], key_file[RFX_WK_PATH_MAX];
	char ca_file[RFX_WK_PATH_MAX], ca_dir[RFX_WK_PATH_MAX];
	char crl_file[RFX_WK_PATH_MAX], crl_dir[RFX_WK_PATH_MAX];
	char ciphers[RFX_WK_HOST_MAX];   /* TLS 1.2 list */
	char suites[RFX_WK_HOST_MAX];    /* TLS 1.3 suites (the TLS_* names) */
	char key_password[RFX_WK_SECRET_MAX];
};

struct rfx_worker_endpoint {
	char host[RFX_WK_HOST_MAX];
	uint16_t port;
};

struct rfx_worker_app_dict {
	char appl_ver_id[4];           /* ApplVerID(1128) code, e.g. "8" */
	const char *path;
};

/* One session. Kept small (about 1 KiB): 10,000 sessions live in the
 * supervisor and, shared after fork, in every shard. What only some sessions
 * use lives behind pointers the configuration owns: strings are "" when
 * unset (never NULL), time zones are shared between sessions naming the
 * same zone. */
struct rfx_worker_session_conf {
	char id[RFX_WK_ID_MAX];
	unsigned shard;
	struct rfx_session_config cfg;
	bool acceptor;
	const char *accept_address;    /* "" = any */
	uint16_t accept_port;
	struct rfx_worker_endpoint *connect; /* nconnect entries */
	unsigned nconnect;
	uint32_t reconnect_interval;   /* s */
	bool persist_messages;
	bool use_dictionary;
	const char *transport_dict;    /* FIX.4.x: both the same file */
	const char *app_dict;          /* FIXT.1.1: the DefaultApplVerID's */
	/* FIXT.1.1: the dictionary of every ApplVerID(1128) code the settings
	 * name (AppDataDictionary.<version>, and the DefaultApplVerID's). */
	struct rfx_worker_app_dict *apps;
	unsigned napps;
	unsigned validate_flags;
	int tls;                       /* index in rfx_worker_conf.tls, -1: plain TCP */
	/* cfg.schedule points at sched (NULL: always in session); sched.tz at
	 * one of the configuration's zones (NULL: UTC). */
	struct rfx_schedule sched;
};

struct rfx_worker_conf {
	char instance[RFX_WK_ID_MAX];
	unsigned shards;
	int cpus[256];
	unsigned ncpus;
	uint32_t ring_to_shard, ring_to_client;
	int idle;                      /* enum rfx_idle (shard/loop.h) */
	char store_path[RFX_WK_PATH_MAX];
	int durability;                /* enum rfx_store_durability */
	unsigned flush_interval_ms;
	uint64_t map_size, map_size_max;
	unsigned keep_periods;
	int readonly_map;              /* StoreWritableMap=N */
	unsigned nsessions;
	struct rfx_worker_session_conf *sessions;
	unsigned ntls;
	struct rfx_worker_tls_conf *tls;
	/* Owned: the distinct time zones the sessions use. */
	struct rfx_tz **tzs;
	unsigned ntzs;
};

/* Fill the options of rfx_tls_ctx_new (shard/tls.h) from an entry; the
 * strings point into it. */
struct rfx_tls_opts;
void rfx_worker_tls_opts(const struct rfx_worker_tls_conf *t, struct rfx_tls_opts *o);

#endif
