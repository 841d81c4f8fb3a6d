/*
 * ringfix settings file: QuickFIX settings-file syntax, parsed once at startup
 * into typed, validated per-session settings.
 *
 * Syntax (what a QuickFIX user already writes):
 *   # comment            a line whose first non-blank character is '#' or ';'
 *   [DEFAULT]            keys every [SESSION] inherits unless it sets them itself
 *   [SESSION]            one FIX session; repeat per session
 *   [ENGINE]             ringfix's own engine-wide keys (see below)
 *   Key=Value            blanks around key and value are ignored; the value runs to the
 *                        end of the line, so '#' inside a value (a password) is kept
 *
 * Section names are case-insensitive, key names are case-sensitive as in QuickFIX
 * (a key that differs only in case is reported with the right spelling). A key given
 * twice in one section is an error. Every wrong or unknown key, bad value, missing
 * required key and duplicate session is an error naming file, line, key and why.
 *
 * FIXT.1.1 sessions may give one application dictionary per application version
 * with QuickFIX's keyed form AppDataDictionary.<version>=path (version as in
 * DefaultApplVerID: FIX.5.0SP2 or its ApplVerID code 9); plain AppDataDictionary
 * is the DefaultApplVerID's. A [SESSION] key replaces the [DEFAULT] one of the
 * same version.
 *
 * Paths (DataDictionary, TransportDataDictionary, AppDataDictionary, certificate
 * files, StorePath, SecretKeyFile) that are relative resolve against the directory
 * of the settings file, so a settings file and its dictionaries can move together.
 *
 * ---- [ENGINE] section (for the README) ----------------------------------------
 * Engine-wide keys live only in [ENGINE], never in [DEFAULT] or [SESSION], so a
 * QuickFIX file stays valid and nobody wonders whether a session can override the
 * shard count. The section is optional; every key has a default:
 *   InstanceName=ringfix      names shared memory and the admin socket
 *   Shards=1                  shard worker processes (1..256)
 *   ShardCpus=2,3             CPU per shard, in shard order (count must equal Shards)
 *   ToShardRingSize=1048576   bytes per client->shard ring (power of two)
 *   FromShardRingSize=1048576 bytes per shard->client ring (power of two)
 *   IdleStrategy=spin         spin | spin-yield | block
 *   StorePath=store           LMDB directory (one environment per shard under it)
 *   StoreDurability=batch     full: fdatasync before a message leaves (survives power
 *                             loss); batch: group commit per loop turn, fdatasync
 *                             every StoreFlushInterval ms; none: the OS decides.
 *                             All three survive a process crash (store/README.md)
 *   StoreFlushInterval=10     batch mode: ms between fdatasyncs
 *   StoreMapSize=1073741824   LMDB map size per shard, bytes (grows by doubling)
 *   StoreMaxMapSize=68719476736  the map never grows beyond this
 *   StoreKeepPeriods=1        old session periods whose messages are kept
 *   StoreWritableMap=Y        batch/none: LMDB writes through a writable map, the
 *                             data file reserved up to the map size; N = read-only
 *                             map (a stray write faults instead of corrupting)
 *   MetricsPort=0             Prometheus text endpoint port; 0 = off
 *   SecretKeyFile=            file holding the 32-byte ENC() key as 64 hex digits
 *   SecretKeyEnv=             or the name of an environment variable holding it
 *   AdminSocket=              the CLI's unix socket; empty = ringfix.<InstanceName>.sock
 *                             in /run/ringfix, $XDG_RUNTIME_DIR or /tmp/ringfix-<uid>
 *   AdminGroupAccess=N        Y: admin socket mode 0660 (the group may run logout...)
 * A session picks its shard with Shard=N in [SESSION]/[DEFAULT]; without it the
 * shard is rfx_settings_shard_of(session id, Shards): FNV-1a 32-bit of the session
 * ID string modulo Shards. That function is frozen: changing it would move sessions
 * (and their stores) between shards on upgrade.
 *
 * Secrets: any string value may be written ENC(base64(nonce || ciphertext || tag)),
 * AES-256-GCM (see engine/secret.h). Values of secret keys (Password, Username,
 * CertificateKeyPassword) and every ENC() value are never copied into an error.
 * -------------------------------------------------------------------------------
 *
 * Keys QuickFIX has but ringfix does not use (FileStorePath, FileLogPath,
 * SocketReuseAddress, the ScreenLog/MySQL/PostgreSQL/ODBC keys, ...) are accepted
 * and ignored; rfx_settings_keys() lists them with type "ignored" and the reason.
 */
#ifndef RFX_ENGINE_SETTINGS_H
#define RFX_ENGINE_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RFX_SETTINGS_ID_MAX 64        /* CompIDs, qualifier, instance name (incl. NUL) */
#define RFX_SETTINGS_HOST_MAX 256
#define RFX_SETTINGS_PATH_MAX 512
#define RFX_SETTINGS_SECRET_MAX 128
#define RFX_SETTINGS_MAX_CONNECT 8    /* SocketConnectHost plus Host1..Host7 */
#define RFX_SETTINGS_MAX_SHARDS 256
/* BeginString:Sender/Sub/Loc->Target/Sub/Loc:Qualifier */
#define RFX_SETTINGS_SESSION_ID_MAX (16 + 8 * RFX_SETTINGS_ID_MAX)

enum rfx_connection_type { RFX_CONN_INITIATOR = 0, RFX_CONN_ACCEPTOR = 1 };
/* IdleStrategy. Same values as shard/loop.h's enum rfx_idle, which the shard maps it to. */
enum rfx_idle_strategy {
	RFX_IDLE_STRATEGY_SPIN = 0,
	RFX_IDLE_STRATEGY_SPIN_YIELD = 1,
	RFX_IDLE_STRATEGY_BLOCK = 2,
};
/* Same values as store/lmdb_store.h's enum rfx_store_durability (the engine
 * does not include the store; the shard maps one to the other). */
enum rfx_settings_durability {
	RFX_DURABILITY_BATCH = 0,
	RFX_DURABILITY_FULL = 1,
	RFX_DURABILITY_NONE = 2,
};

/* AppDataDictionary.<version>=path (FIXT.1.1): the application dictionary
 * for one ApplVerID, as QuickFIX keys it, e.g. AppDataDictionary.FIX.5.0SP1. */
#define RFX_SETTINGS_MAX_APP_DICTS 4
struct rfx_settings_app_dict {
	char appl_ver_id[4];          /* ApplVerID(1128) code, e.g. "8" */
	char path[RFX_SETTINGS_PATH_MAX];
	char key[32];                 /* the key as written, for messages */
	unsigned line;                /* of that key */
};

struct rfx_settings_endpoint {
	char host[RFX_SETTINGS_HOST_MAX];
	uint16_t port;
};

/* One [SESSION] after inheritance from [DEFAULT] and defaults. Times are seconds
 * after midnight (-1 = not set), days 0 = Sunday .. 6 = Saturday (-1 = not set). */
struct rfx_session_settings {
	char id[RFX_SETTINGS_SESSION_ID_MAX];  /* rfx_settings_session_id() of this session */
	unsigned line;                /* line of its [SESSION] header */
	unsigned shard;               /* explicit Shard= or the stable hash */

	char begin_string[16];
	char sender_comp_id[RFX_SETTINGS_ID_MAX];
	char sender_sub_id[RFX_SETTINGS_ID_MAX];
	char sender_location_id[RFX_SETTINGS_ID_MAX];
	char target_comp_id[RFX_SETTINGS_ID_MAX];
	char target_sub_id[RFX_SETTINGS_ID_MAX];
	char target_location_id[RFX_SETTINGS_ID_MAX];
	char session_qualifier[RFX_SETTINGS_ID_MAX];
	char default_appl_ver_id[16]; /* ApplVerID(1128) code, e.g. "9"; "" if unset */
	int32_t shard_setting;        /* Shard=; -1 = hash */

	int32_t connection_type;      /* enum rfx_connection_type */
	int32_t start_time, end_time;
	int32_t start_day, end_day;
	int32_t logon_time, logout_time;
	int32_t logon_day, logout_day;
	char time_zone[RFX_SETTINGS_ID_MAX];
	bool use_local_time;
	bool non_stop_session;

	uint32_t heartbt_int;
	uint16_t socket_accept_port;
	char socket_accept_address[RFX_SETTINGS_HOST_MAX];
	struct rfx_settings_endpoint connect[RFX_SETTINGS_MAX_CONNECT];
	unsigned nconnect;            /* primary first, then failover 1, 2, ... */
	uint32_t reconnect_interval;
	uint32_t logon_timeout, logout_timeout;
	bool socket_nodelay;
	int32_t socket_send_buffer_size, socket_receive_buffer_size; /* 0 = OS default */

	bool reset_on_logon, reset_on_logout, reset_on_disconnect;
	bool refresh_on_logon;
	bool send_reset_seq_num_flag;
	bool send_redundant_resend_requests;
	uint32_t resend_request_chunk_size; /* 0 = unlimited */
	bool check_comp_id, check_latency;
	uint32_t max_latency;
	uint32_t timestamp_precision; /* 0, 3, 6 or 9 */
	bool persist_messages;

	bool use_data_dictionary;
	char data_dictionary[RFX_SETTINGS_PATH_MAX];
	char transport_data_dictionary[RFX_SETTINGS_PATH_MAX];
	char app_data_dictionary[RFX_SETTINGS_PATH_MAX]; /* for DefaultApplVerID */
	struct rfx_settings_app_dict app_dicts[RFX_SETTINGS_MAX_APP_DICTS];
	unsigned napp_dicts;          /* AppDataDictionary.<version> keys given */
	bool validate_length_and_checksum;
	bool validate_fields_out_of_order;
	bool validate_fields_have_values;
	bool validate_user_defined_fields;
	bool allow_unknown_msg_fields;

	bool socket_use_ssl;
	char ssl_protocol[RFX_SETTINGS_ID_MAX];
	char ssl_cipher_suite[RFX_SETTINGS_HOST_MAX];
	char server_certificate_file[RFX_SETTINGS_PATH_MAX];
	char server_certificate_key_file[RFX_SETTINGS_PATH_MAX];
	char client_certificate_file[RFX_SETTINGS_PATH_MAX];
	char client_certificate_key_file[RFX_SETTINGS_PATH_MAX];
	char certification_authorities_file[RFX_SETTINGS_PATH_MAX];
	char certification_authorities_directory[RFX_SETTINGS_PATH_MAX];
	char certificate_revocation_list_file[RFX_SETTINGS_PATH_MAX];
	char certificate_revocation_list_directory[RFX_SETTINGS_PATH_MAX];
	int32_t certificate_verify_level;
	char certificate_key_password[RFX_SETTINGS_SECRET_MAX]; /* secret */

	char username[RFX_SETTINGS_SECRET_MAX]; /* secret: Logon Username(553) */
	char password[RFX_SETTINGS_SECRET_MAX]; /* secret: Logon Password(554) */
};

struct rfx_engine_settings {
	char instance_name[RFX_SETTINGS_ID_MAX];
	uint32_t shards;
	int32_t shard_cpus[RFX_SETTINGS_MAX_SHARDS];
	unsigned nshard_cpus;         /* 0 = not pinned */
	uint32_t to_shard_ring_size, from_shard_ring_size;
	int32_t idle_strategy;        /* enum rfx_idle_strategy */
	char store_path[RFX_SETTINGS_PATH_MAX];
	int32_t store_durability;     /* enum rfx_settings_durability */
	int32_t store_flush_interval_ms;
	uint64_t store_map_size;
	uint64_t store_max_map_size;
	int32_t store_keep_periods;
	bool store_writable_map;
	uint16_t metrics_port;
	char secret_key_file[RFX_SETTINGS_PATH_MAX];
	char secret_key_env[RFX_SETTINGS_ID_MAX];
	char admin_socket[RFX_SETTINGS_PATH_MAX];
	bool admin_group_access;
};

struct rfx_settings {
	struct rfx_engine_settings engine;
	unsigned nsessions;
	struct rfx_session_settings *sessions; /* in file order */
};

/* Where parsing failed. The first error is kept in full; count says how many
 * there were in all (parsing goes on after an error so `config check` can say). */
struct rfx_settings_error {
	unsigned count;
	char file[RFX_SETTINGS_PATH_MAX];
	unsigned line;                /* 0 when the error is not about one line */
	char key[RFX_SETTINGS_ID_MAX];/* "" when the error is not about one key */
	char reason[256];
	char text[1024];              /* "file:line: key: reason", ready to print */
};

/* Read and parse the settings file at path. On success *out is a new object the
 * caller frees with rfx_settings_free(). Returns 0, RFX_ECONFIG (details in *err,
 * which may be NULL), RFX_ESECRET (an ENC() value cannot be decrypted; also
 * described in *err), -ENOMEM, or a negative errno from opening/reading the file
 * (also described in *err). Cold path: allocates, reads files and the environment. */
int rfx_settings_load(const char *path, struct rfx_settings **out,
		      struct rfx_settings_error *err);

/* As rfx_settings_load() on text already in memory. name is used in errors;
 * base_dir (may be NULL: paths stay as written) resolves relative paths. */
int rfx_settings_parse(const char *text, size_t len, const char *name, const char *base_dir,
		       struct rfx_settings **out, struct rfx_settings_error *err);

/* Frees settings and wipes the secrets they hold. NULL-safe. */
void rfx_settings_free(struct rfx_settings *s);

/* Session whose id equals id, or NULL. */
const struct rfx_session_settings *rfx_settings_find(const struct rfx_settings *s,
						     const char *id);

/* The stable session key other modules use:
 *   BeginString:SenderCompID[/SenderSubID[/SenderLocationID]]->
 *     TargetCompID[/TargetSubID[/TargetLocationID]][:SessionQualifier]
 * e.g. "FIX.4.4:SENDER->TARGET" or "FIX.4.4:S/desk1->T:q". A LocationID without
 * SubID keeps an empty SubID ("S//loc"). Returns the length written, or
 * RFX_ENOSPACE when out (size outsz) is too small. */
int rfx_settings_session_id(const struct rfx_session_settings *ss, char *out, size_t outsz);

/* Stable shard of a session: FNV-1a 32-bit (offset basis 2166136261, prime
 * 16777619) over the bytes of id, modulo shards (shards 0 is treated as 1).
 * Frozen across versions. */
unsigned rfx_settings_shard_of(const char *id, unsigned shards);

/* FIXT.1.1: path of the application dictionary for ApplVerID code
 * appl_ver_id: its AppDataDictionary.<version> key, else AppDataDictionary when
 * the code is the session's DefaultApplVerID; NULL when none. */
const char *rfx_session_settings_app_dict(const struct rfx_session_settings *ss,
					  const char *appl_ver_id);

/* The RFX_VALIDATE_* / RFX_ALLOW_* switches (engine/dictionary.h) that this
 * session's ValidateFieldsOutOfOrder, ValidateFieldsHaveValues,
 * ValidateUserDefinedFields and AllowUnknownMsgFields select. */
unsigned rfx_session_settings_validate_flags(const struct rfx_session_settings *ss);

/* One known key, for `ringfix config check` to explain. */
struct rfx_settings_key {
	const char *name;
	const char *section;     /* "ENGINE" or "SESSION" (also allowed in DEFAULT) */
	const char *type;        /* "string", "bool", "int", "time", "day", "enum", "path",
				  * "secret", "cpulist", "ignored" */
	const char *def;         /* default as written in a file; NULL = none/required */
	int64_t min, max;        /* int range; unused for other types */
	const char *choices;     /* enum: allowed values separated by '|' */
	const char *description;
	/* private to settings.c */
	uint32_t off, size;
	uint8_t kind, flags;
};

/* The table of known keys; *count receives its length. Static, never NULL. */
const struct rfx_settings_key *rfx_settings_keys(unsigned *count);

#endif
