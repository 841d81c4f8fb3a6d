/*
 * Settings file parser. Two passes: the text is first cut into (section, line,
 * key, value) entries, then [ENGINE] is applied (it may name the key that ENC()
 * values in any section need), then [DEFAULT] into a template, then each
 * [SESSION] onto a copy of the template. One table of known keys drives parsing,
 * range checks, defaults and the descriptions `ringfix config check` prints.
 */
#include "engine/settings.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "engine/dictionary.h"
#include "engine/error.h"
#include "engine/schedule.h"
#include "engine/secret.h"

enum kind {
	K_STR, K_BOOL, K_INT, K_TIME, K_DAY, K_ENUM, K_PATH, K_SECRET, K_CPULIST,
	K_IGNORED, K_CHOICE, K_APPLVER,
};

enum {
	F_ENGINE = 1 << 0,   /* only in [ENGINE] */
	F_NUMBERED = 1 << 1, /* Key, Key1 .. Key7: failover endpoints */
	F_POW2 = 1 << 2,     /* int must be a power of two */
	F_COMPID = 1 << 3,   /* part of the session ID: no separators */
};

#define KT_STR "string"
#define KT_BOOL "bool"
#define KT_INT "int"
#define KT_TIME "time"
#define KT_DAY "day"
#define KT_ENUM "enum"
#define KT_PATH "path"
#define KT_SECRET "secret"
#define KT_CPULIST "cpulist"
#define KT_IGNORED "ignored"
#define KT_CHOICE "enum"
#define KT_APPLVER "applverid"

#define SS struct rfx_session_settings
#define ES struct rfx_engine_settings
#define SESS(nm, k, fld, dflt, lo, hi, ch, fl, desc) \
	{ nm, "SESSION", KT_##k, dflt, lo, hi, ch, desc, offsetof(SS, fld), \
	  sizeof(((SS *)0)->fld), K_##k, fl }
#define ENG(nm, k, fld, dflt, lo, hi, ch, fl, desc) \
	{ nm, "ENGINE", KT_##k, dflt, lo, hi, ch, desc, offsetof(ES, fld), \
	  sizeof(((ES *)0)->fld), K_##k, (fl) | F_ENGINE }
#define IGN(nm, why) { nm, "SESSION", KT_IGNORED, NULL, 0, 0, NULL, why, 0, 0, K_IGNORED, 0 }

#define U32MAX 4294967295LL

static const struct rfx_settings_key keys[] = {
	/* Session identity */
	SESS("BeginString", CHOICE, begin_string, NULL, 0, 0,
	     "FIX.4.0|FIX.4.1|FIX.4.2|FIX.4.3|FIX.4.4|FIXT.1.1", 0,
	     "FIX version of the session (BeginString(8)); required"),
	SESS("SenderCompID", STR, sender_comp_id, NULL, 0, 0, NULL, F_COMPID,
	     "our CompID, sent in SenderCompID(49); required"),
	SESS("SenderSubID", STR, sender_sub_id, "", 0, 0, NULL, F_COMPID,
	     "SenderSubID(50), part of the session identity"),
	SESS("SenderLocationID", STR, sender_location_id, "", 0, 0, NULL, F_COMPID,
	     "SenderLocationID(142), part of the session identity"),
	SESS("TargetCompID", STR, target_comp_id, NULL, 0, 0, NULL, F_COMPID,
	     "counterparty CompID, TargetCompID(56); required"),
	SESS("TargetSubID", STR, target_sub_id, "", 0, 0, NULL, F_COMPID,
	     "TargetSubID(57), part of the session identity"),
	SESS("TargetLocationID", STR, target_location_id, "", 0, 0, NULL, F_COMPID,
	     "TargetLocationID(143), part of the session identity"),
	SESS("SessionQualifier", STR, session_qualifier, "", 0, 0, NULL, F_COMPID,
	     "tells apart sessions that share the CompIDs"),
	SESS("DefaultApplVerID", APPLVER, default_appl_ver_id, "", 0, 0, NULL, 0,
	     "FIXT.1.1 only: application version (FIX.5.0SP2 or its ApplVerID code 9); "
	     "required for FIXT.1.1"),
	SESS("Shard", INT, shard_setting, "-1", -1, RFX_SETTINGS_MAX_SHARDS - 1, NULL, 0,
	     "shard that owns the session; -1 = stable hash of the session ID"),
	/* Connection */
	SESS("ConnectionType", ENUM, connection_type, NULL, 0, 0, "initiator|acceptor", 0,
	     "initiator connects out, acceptor listens; required"),
	SESS("SocketAcceptPort", INT, socket_accept_port, "0", 1, 65535, NULL, 0,
	     "acceptor: TCP port to listen on; required for acceptors"),
	SESS("SocketAcceptAddress", STR, socket_accept_address, "", 0, 0, NULL, 0,
	     "acceptor: local address to listen on; empty = all"),
	SESS("SocketConnectHost", STR, connect[0].host, "", 0, 0, NULL, F_NUMBERED,
	     "initiator: host to connect to; SocketConnectHost1..7 are failover hosts"),
	SESS("SocketConnectPort", INT, connect[0].port, "0", 1, 65535, NULL, F_NUMBERED,
	     "initiator: port to connect to; SocketConnectPort1..7 go with the failover hosts"),
	SESS("ReconnectInterval", INT, reconnect_interval, "30", 1, 86400, NULL, 0,
	     "initiator: seconds between connection attempts"),
	SESS("HeartBtInt", INT, heartbt_int, "30", 1, 86400, NULL, 0,
	     "heartbeat interval in seconds, HeartBtInt(108) of our Logon"),
	SESS("LogonTimeout", INT, logon_timeout, "10", 1, 3600, NULL, 0,
	     "seconds to wait for the Logon reply"),
	SESS("LogoutTimeout", INT, logout_timeout, "2", 1, 3600, NULL, 0,
	     "seconds to wait for the Logout reply before disconnecting"),
	SESS("SocketNodelay", BOOL, socket_nodelay, "Y", 0, 0, NULL, 0,
	     "TCP_NODELAY on the session socket"),
	SESS("SocketSendBufferSize", INT, socket_send_buffer_size, "0", 0, INT_MAX, NULL, 0,
	     "SO_SNDBUF in bytes; 0 = operating system default"),
	SESS("SocketReceiveBufferSize", INT, socket_receive_buffer_size, "0", 0, INT_MAX, NULL, 0,
	     "SO_RCVBUF in bytes; 0 = operating system default"),
	/* Schedule */
	SESS("StartTime", TIME, start_time, "-1", 0, 0, NULL, 0,
	     "daily (or weekly, with StartDay) session start, HH:MM:SS; required unless "
	     "NonStopSession=Y"),
	SESS("EndTime", TIME, end_time, "-1", 0, 0, NULL, 0,
	     "session end, HH:MM:SS; equal to StartTime means a 24-hour session"),
	SESS("StartDay", DAY, start_day, "-1", 0, 0, NULL, 0,
	     "weekly sessions: first day (Sunday..Saturday, two letters suffice)"),
	SESS("EndDay", DAY, end_day, "-1", 0, 0, NULL, 0, "weekly sessions: last day"),
	SESS("LogonTime", TIME, logon_time, "-1", 0, 0, NULL, 0,
	     "start of the logon window, HH:MM:SS, within StartTime..EndTime: logons are "
	     "initiated and accepted only inside the window; default StartTime"),
	SESS("LogoutTime", TIME, logout_time, "-1", 0, 0, NULL, 0,
	     "end of the logon window, within StartTime..EndTime: a logged-on session "
	     "logs out then; default EndTime"),
	SESS("LogonDay", DAY, logon_day, "-1", 0, 0, NULL, 0,
	     "weekly logon window: first day; default StartDay"),
	SESS("LogoutDay", DAY, logout_day, "-1", 0, 0, NULL, 0,
	     "weekly logon window: last day; default EndDay"),
	SESS("TimeZone", STR, time_zone, "", 0, 0, NULL, 0,
	     "IANA time zone of the schedule times (e.g. America/New_York); empty = UTC"),
	SESS("UseLocalTime", BOOL, use_local_time, "N", 0, 0, NULL, 0,
	     "schedule times are in the host's local time zone"),
	SESS("NonStopSession", BOOL, non_stop_session, "N", 0, 0, NULL, 0,
	     "session never ends; no StartTime/EndTime needed"),
	/* Sequence numbers and resends */
	SESS("ResetOnLogon", BOOL, reset_on_logon, "N", 0, 0, NULL, 0,
	     "reset sequence numbers to 1 at each logon"),
	SESS("ResetOnLogout", BOOL, reset_on_logout, "N", 0, 0, NULL, 0,
	     "reset sequence numbers after a clean logout"),
	SESS("ResetOnDisconnect", BOOL, reset_on_disconnect, "N", 0, 0, NULL, 0,
	     "reset sequence numbers after any disconnect"),
	SESS("RefreshOnLogon", BOOL, refresh_on_logon, "N", 0, 0, NULL, 0,
	     "reload session state from the store at logon (hot standby)"),
	SESS("SendResetSeqNumFlag", BOOL, send_reset_seq_num_flag, "N", 0, 0, NULL, 0,
	     "send ResetSeqNumFlag(141)=Y in our Logon"),
	SESS("SendRedundantResendRequests", BOOL, send_redundant_resend_requests, "N", 0, 0,
	     NULL, 0, "send a ResendRequest even when one for the same gap is pending"),
	SESS("ResendRequestChunkSize", INT, resend_request_chunk_size, "0", 0, U32MAX, NULL, 0,
	     "largest range asked for in one ResendRequest; 0 = all at once"),
	SESS("PersistMessages", BOOL, persist_messages, "Y", 0, 0, NULL, 0,
	     "keep outbound messages for resends; N answers resends with gap fills"),
	/* Checks */
	SESS("CheckCompID", BOOL, check_comp_id, "Y", 0, 0, NULL, 0,
	     "reject messages whose CompIDs do not match the session"),
	SESS("CheckLatency", BOOL, check_latency, "Y", 0, 0, NULL, 0,
	     "reject messages whose SendingTime(52) is off by more than MaxLatency"),
	SESS("MaxLatency", INT, max_latency, "120", 1, 86400, NULL, 0,
	     "allowed SendingTime difference, seconds"),
	SESS("TimestampPrecision", INT, timestamp_precision, "3", 0, 9, NULL, 0,
	     "fraction digits of our timestamps: 0, 3, 6 or 9"),
	SESS("ValidateLengthAndChecksum", BOOL, validate_length_and_checksum, "Y", 0, 0, NULL,
	     0, "reject messages with a wrong BodyLength(9) or CheckSum(10)"),
	/* Data dictionary */
	SESS("UseDataDictionary", BOOL, use_data_dictionary, "Y", 0, 0, NULL, 0,
	     "validate messages against a data dictionary"),
	SESS("DataDictionary", PATH, data_dictionary, "", 0, 0, NULL, 0,
	     "QuickFIX XML dictionary (FIX.4.x sessions); relative to the settings file"),
	SESS("TransportDataDictionary", PATH, transport_data_dictionary, "", 0, 0, NULL, 0,
	     "FIXT.1.1 sessions: session-level dictionary (FIXT11.xml)"),
	SESS("AppDataDictionary", PATH, app_data_dictionary, "", 0, 0, NULL, 0,
	     "FIXT.1.1 sessions: application dictionary of DefaultApplVerID (e.g. "
	     "FIX50SP2.xml); AppDataDictionary.<version>=path (e.g. "
	     "AppDataDictionary.FIX.5.0SP1) adds one per ApplVerID"),
	SESS("ValidateFieldsOutOfOrder", BOOL, validate_fields_out_of_order, "Y", 0, 0, NULL,
	     0, "reject header/body/trailer fields out of order (reason 14)"),
	SESS("ValidateFieldsHaveValues", BOOL, validate_fields_have_values, "Y", 0, 0, NULL,
	     0, "reject fields without a value (reason 4)"),
	SESS("ValidateUserDefinedFields", BOOL, validate_user_defined_fields, "Y", 0, 0, NULL,
	     0, "check tags >= 5000 against the dictionary too"),
	SESS("AllowUnknownMsgFields", BOOL, allow_unknown_msg_fields, "N", 0, 0, NULL, 0,
	     "accept tags < 5000 the dictionary does not define for the message"),
	/* TLS */
	SESS("SocketUseSSL", BOOL, socket_use_ssl, "N", 0, 0, NULL, 0,
	     "TLS on this session's connection"),
	SESS("SSLProtocol", STR, ssl_protocol, "", 0, 0, NULL, 0,
	     "allowed TLS versions, QuickFIX syntax (e.g. \"all -SSLv2 -SSLv3\")"),
	SESS("SSLCipherSuite", STR, ssl_cipher_suite, "", 0, 0, NULL, 0,
	     "OpenSSL cipher list; empty = OpenSSL default"),
	SESS("ServerCertificateFile", PATH, server_certificate_file, "", 0, 0, NULL, 0,
	     "acceptor TLS: certificate (PEM)"),
	SESS("ServerCertificateKeyFile", PATH, server_certificate_key_file, "", 0, 0, NULL, 0,
	     "acceptor TLS: private key (PEM)"),
	SESS("ClientCertificateFile", PATH, client_certificate_file, "", 0, 0, NULL, 0,
	     "initiator TLS: client certificate (PEM)"),
	SESS("ClientCertificateKeyFile", PATH, client_certificate_key_file, "", 0, 0, NULL, 0,
	     "initiator TLS: client private key (PEM)"),
	SESS("CertificationAuthoritiesFile", PATH, certification_authorities_file, "", 0, 0,
	     NULL, 0, "trusted CA certificates (PEM)"),
	SESS("CertificationAuthoritiesDirectory", PATH, certification_authorities_directory, "",
	     0, 0, NULL, 0, "directory of trusted CA certificates"),
	SESS("CertificateRevocationListFile", PATH, certificate_revocation_list_file, "", 0, 0,
	     NULL, 0, "certificate revocation list (PEM)"),
	SESS("CertificateRevocationListDirectory", PATH, certificate_revocation_list_directory,
	     "", 0, 0, NULL, 0, "directory of revocation lists"),
	SESS("CertificateVerifyLevel", INT, certificate_verify_level, "0", 0, 3, NULL, 0,
	     "acceptor: 0 no client certificate, 1 required and verified (mutual TLS), "
	     "2 verified if sent; an initiator always verifies the server"),
	SESS("CertificateKeyPassword", SECRET, certificate_key_password, "", 0, 0, NULL, 0,
	     "passphrase of the private key; write it as ENC(...)"),
	/* Logon credentials */
	SESS("Username", SECRET, username, "", 0, 0, NULL, 0,
	     "Username(553) sent in our Logon; may be ENC(...)"),
	SESS("Password", SECRET, password, "", 0, 0, NULL, 0,
	     "Password(554) sent in our Logon; write it as ENC(...)"),

	/* QuickFIX keys ringfix accepts and ignores */
	IGN("FileStorePath", "QuickFIX file store; ringfix keeps sessions in LMDB under StorePath"),
	IGN("FileLogPath", "QuickFIX file log; ringfix logs through its supervisor"),
	IGN("FileLogBackupPath", "QuickFIX file log rotation"),
	IGN("SocketReuseAddress", "ringfix always sets SO_REUSEADDR on listeners"),
	IGN("SocketConnectSourceHost", "source address binding is not supported yet"),
	IGN("SocketConnectSourcePort", "source port binding is not supported yet"),
	IGN("ScreenLogShowIncoming", "QuickFIX screen log"),
	IGN("ScreenLogShowOutgoing", "QuickFIX screen log"),
	IGN("ScreenLogShowEvents", "QuickFIX screen log"),
	IGN("ScreenLogShowHeartBeats", "QuickFIX screen log"),
	IGN("MillisecondsInTimeStamp", "superseded by TimestampPrecision"),
	IGN("PreserveMessageFieldsOrder", "ringfix forwards application bodies byte for byte"),
	IGN("HttpAcceptPort", "QuickFIX HTTP status page; see MetricsPort"),
	IGN("MySQLStoreUseConnectionPool", "QuickFIX database store"),
	IGN("MySQLStoreDatabase", "QuickFIX database store"),
	IGN("MySQLStoreUser", "QuickFIX database store"),
	IGN("MySQLStorePassword", "QuickFIX database store"),
	IGN("MySQLStoreHost", "QuickFIX database store"),
	IGN("MySQLStorePort", "QuickFIX database store"),
	IGN("PostgreSQLStoreUseConnectionPool", "QuickFIX database store"),
	IGN("PostgreSQLStoreDatabase", "QuickFIX database store"),
	IGN("PostgreSQLStoreUser", "QuickFIX database store"),
	IGN("PostgreSQLStorePassword", "QuickFIX database store"),
	IGN("PostgreSQLStoreHost", "QuickFIX database store"),
	IGN("PostgreSQLStorePort", "QuickFIX database store"),
	IGN("OdbcStoreUser", "QuickFIX database store"),
	IGN("OdbcStorePassword", "QuickFIX database store"),
	IGN("OdbcStoreConnectionString", "QuickFIX database store"),
	IGN("MySQLLogUseConnectionPool", "QuickFIX database log"),
	IGN("MySQLLogDatabase", "QuickFIX database log"),
	IGN("MySQLLogUser", "QuickFIX database log"),
	IGN("MySQLLogPassword", "QuickFIX database log"),
	IGN("MySQLLogHost", "QuickFIX database log"),
	IGN("MySQLLogPort", "QuickFIX database log"),
	IGN("MySQLLogIncomingTable", "QuickFIX database log"),
	IGN("MySQLLogOutgoingTable", "QuickFIX database log"),
	IGN("MySQLLogEventTable", "QuickFIX database log"),
	IGN("PostgreSQLLogUseConnectionPool", "QuickFIX database log"),
	IGN("PostgreSQLLogDatabase", "QuickFIX database log"),
	IGN("PostgreSQLLogUser", "QuickFIX database log"),
	IGN("PostgreSQLLogPassword", "QuickFIX database log"),
	IGN("PostgreSQLLogHost", "QuickFIX database log"),
	IGN("PostgreSQLLogPort", "QuickFIX database log"),
	IGN("PostgreSQLLogIncomingTable", "QuickFIX database log"),
	IGN("PostgreSQLLogOutgoingTable", "QuickFIX database log"),
	IGN("PostgreSQLLogEventTable", "QuickFIX database log"),
	IGN("OdbcLogUser", "QuickFIX database log"),
	IGN("OdbcLogPassword", "QuickFIX database log"),
	IGN("OdbcLogConnectionString", "QuickFIX database log"),
	IGN("OdbcLogIncomingTable", "QuickFIX database log"),
	IGN("OdbcLogOutgoingTable", "QuickFIX database log"),
	IGN("OdbcLogEventTable", "QuickFIX database log"),

	/* [ENGINE] */
	ENG("InstanceName", STR, instance_name, "ringfix", 0, 0, NULL, F_COMPID,
	    "names this engine's shared memory and admin socket"),
	ENG("Shards", INT, shards, "1", 1, RFX_SETTINGS_MAX_SHARDS, NULL, 0,
	    "number of shard worker processes"),
	ENG("ShardCpus", CPULIST, shard_cpus, "", 0, 0, NULL, 0,
	    "CPU of each shard in shard order, e.g. 2,3 or 2-5; empty = not pinned"),
	ENG("ToShardRingSize", INT, to_shard_ring_size, "1048576", 4096, 1LL << 30, NULL, F_POW2,
	    "bytes of each client-to-shard ring (power of two)"),
	ENG("FromShardRingSize", INT, from_shard_ring_size, "1048576", 4096, 1LL << 30, NULL,
	    F_POW2, "bytes of each shard-to-client ring (power of two)"),
	ENG("IdleStrategy", ENUM, idle_strategy, "spin", 0, 0, "spin|spin-yield|block", 0,
	    "what a shard does with nothing to do: spin (isolated cores), spin-yield, block"),
	ENG("StorePath", PATH, store_path, "store", 0, 0, NULL, 0,
	    "directory of the LMDB stores, relative to the settings file"),
	ENG("StoreDurability", ENUM, store_durability, "batch", 0, 0, "batch|full|none", 0,
	    "full: fdatasync before a message leaves; batch: fdatasync every "
	    "StoreFlushInterval ms; none: the OS decides (all survive a process crash)"),
	ENG("StoreFlushInterval", INT, store_flush_interval_ms, "10", 1, 10000, NULL, 0,
	    "batch durability: milliseconds between fdatasyncs"),
	ENG("StoreMapSize", INT, store_map_size, "1073741824", 1LL << 20, 1LL << 40, NULL, 0,
	    "initial LMDB map size per shard in bytes; it grows by doubling"),
	ENG("StoreMaxMapSize", INT, store_max_map_size, "68719476736", 1LL << 20, 1LL << 44,
	    NULL, 0, "largest LMDB map per shard in bytes; past it the store reports full"),
	ENG("StoreWritableMap", BOOL, store_writable_map, "Y", 0, 0, NULL, 0,
	    "batch/none: LMDB writes through a writable map (much cheaper commits; data file "
	    "reserved up to the map size; a stray write in the shard can corrupt the store); "
	    "N = read-only map"),
	ENG("StoreKeepPeriods", INT, store_keep_periods, "1", 0, 1000, NULL, 0,
	    "previous session periods (e.g. days) whose messages stay in the store"),
	ENG("MetricsPort", INT, metrics_port, "0", 0, 65535, NULL, 0,
	    "port of the metrics endpoint; 0 = off"),
	ENG("SecretKeyFile", PATH, secret_key_file, "", 0, 0, NULL, 0,
	    "file with the ENC() key as 64 hex digits, mode 0600"),
	ENG("SecretKeyEnv", STR, secret_key_env, "", 0, 0, NULL, 0,
	    "name of an environment variable holding the ENC() key as 64 hex digits"),
	ENG("AdminSocket", PATH, admin_socket, "", 0, 0, NULL, 0,
	    "unix socket of the ringfix CLI's commands; empty = ringfix.<InstanceName>.sock "
	    "in /run/ringfix, $XDG_RUNTIME_DIR or /tmp/ringfix-<uid>"),
	ENG("AdminGroupAccess", BOOL, admin_group_access, "N", 0, 0, NULL, 0,
	    "admin socket mode 0660 instead of 0600: the group may log sessions out"),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
#define MAX_NUM RFX_SETTINGS_MAX_CONNECT
#define SETBITS (NKEYS * MAX_NUM)
#define SETWORDS ((SETBITS + 63) / 64)

const struct rfx_settings_key *rfx_settings_keys(unsigned *count)
{
	if (count)
		*count = NKEYS;
	return keys;
}

enum section { SEC_DEFAULT, SEC_SESSION, SEC_ENGINE };

struct entry {
	const char *key, *val;
	uint32_t klen, vlen;
	unsigned line;
	uint8_t sec;
	unsigned session; /* index of its [SESSION] */
};

struct keyset {
	uint64_t w[SETWORDS];
	unsigned line[SETBITS]; /* where each set key was given, for errors */
};

struct ctx {
	const char *file;
	const char *base_dir;
	struct rfx_settings_error *err;
	unsigned nerr;
	int first_rc;
	struct rfx_engine_settings *engine;
	uint8_t key[RFX_SECRET_KEY_LEN];
	int key_state; /* 0 not loaded, 1 loaded, <0 failed (already reported) */
};

static void report(struct ctx *c, int rc, unsigned line, const char *key, size_t klen,
		   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void report(struct ctx *c, int rc, unsigned line, const char *key, size_t klen,
		   const char *fmt, ...)
{
	struct rfx_settings_error *e = c->err;
	va_list ap;

	if (c->nerr++ == 0)
		c->first_rc = rc;
	if (!e)
		return;
	e->count = c->nerr;
	if (c->nerr > 1)
		return;
	snprintf(e->file, sizeof(e->file), "%s", c->file);
	e->line = line;
	if (klen >= sizeof(e->key))
		klen = sizeof(e->key) - 1;
	memcpy(e->key, key ? key : "", key ? klen : 0);
	e->key[key ? klen : 0] = '\0';
	va_start(ap, fmt);
	vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
	va_end(ap);
	if (line && e->key[0])
		snprintf(e->text, sizeof(e->text), "%s:%u: %s: %s", e->file, line, e->key, e->reason);
	else if (line)
		snprintf(e->text, sizeof(e->text), "%s:%u: %s", e->file, line, e->reason);
	else
		snprintf(e->text, sizeof(e->text), "%s: %s", e->file, e->reason);
}

/* ---- values ------------------------------------------------------------- */

/* Value text for an error message: shown, truncated, unless it could be secret. */
#define SHOWN 48

static int parse_int(const char *v, size_t n, int64_t *out)
{
	int64_t x = 0;
	size_t i = 0;
	int neg = 0;

	if (n && v[0] == '-')
		neg = 1, i = 1;
	if (i == n || n - i > 18)
		return -1;
	for (; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	*out = neg ? -x : x;
	return 0;
}

static int parse_time(const char *v, size_t n, int64_t *out)
{
	int64_t h, m, s;

	if (n != 8 || v[2] != ':' || v[5] != ':' || parse_int(v, 2, &h) || parse_int(v + 3, 2, &m) ||
	    parse_int(v + 6, 2, &s) || v[0] == '-' || v[3] == '-' || v[6] == '-' || h > 23 ||
	    m > 59 || s > 59)
		return -1;
	*out = h * 3600 + m * 60 + s;
	return 0;
}

static const char *const day_names[] = {
	"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
};

/* QuickFIX accepts a day by its first two letters or more, any case. */
static int parse_day(const char *v, size_t n, int64_t *out)
{
	for (int d = 0; d < 7; d++) {
		size_t dl = strlen(day_names[d]);
		if (n >= 2 && n <= dl && strncasecmp(v, day_names[d], n) == 0) {
			*out = d;
			return 0;
		}
	}
	return -1;
}

/* Index of v in a '|'-separated list, or -1. */
static int choice_index(const char *choices, const char *v, size_t n)
{
	int i = 0;
	for (const char *p = choices;; i++) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && memcmp(p, v, n) == 0)
			return i;
		if (!bar)
			return -1;
		p = bar + 1;
	}
}

static const struct {
	const char *name, *code;
} applvers[] = {
	{"FIX.2.7", "0"}, {"FIX.3.0", "1"}, {"FIX.4.0", "2"}, {"FIX.4.1", "3"},
	{"FIX.4.2", "4"}, {"FIX.4.3", "5"}, {"FIX.4.4", "6"}, {"FIX.5.0", "7"},
	{"FIX.5.0SP1", "8"}, {"FIX.5.0SP2", "9"},
};

/* Index in applvers of a version name (FIX.5.0SP2) or code (9), or -1. */
static int applver_index(const char *v, size_t n)
{
	for (size_t j = 0; j < sizeof(applvers) / sizeof(applvers[0]); j++)
		if ((strlen(applvers[j].name) == n && memcmp(applvers[j].name, v, n) == 0) ||
		    (n == 1 && v[0] == applvers[j].code[0]))
			return (int)j;
	return -1;
}

static int load_secret_key(struct ctx *c, unsigned line, const char *k, size_t kl)
{
	const struct rfx_engine_settings *e = c->engine;
	int rc;

	if (c->key_state)
		return c->key_state > 0 ? 0 : -1;
	c->key_state = -1;
	if (e->secret_key_env[0]) {
		const char *hex = getenv(e->secret_key_env);
		if (!hex) {
			report(c, RFX_ESECRET, line, k, kl,
			       "ENC() value but environment variable %s (SecretKeyEnv) is not set",
			       e->secret_key_env);
			return -1;
		}
		if (rfx_secret_key_from_hex(hex, strlen(hex), c->key) < 0) {
			report(c, RFX_ESECRET, line, k, kl,
			       "environment variable %s (SecretKeyEnv) does not hold 64 hex digits",
			       e->secret_key_env);
			return -1;
		}
	} else if (e->secret_key_file[0]) {
		rc = rfx_secret_key_load_file(e->secret_key_file, c->key);
		if (rc == RFX_ESECRET) {
			report(c, RFX_ESECRET, line, k, kl,
			       "key file %s (SecretKeyFile) must be a regular file of mode 0600 or "
			       "stricter holding 64 hex digits", e->secret_key_file);
			return -1;
		}
		if (rc < 0) {
			report(c, RFX_ESECRET, line, k, kl, "key file %s (SecretKeyFile): %s",
			       e->secret_key_file, rfx_strerror(rc));
			return -1;
		}
	} else {
		report(c, RFX_ESECRET, line, k, kl,
		       "ENC() value but [ENGINE] names no key (SecretKeyFile or SecretKeyEnv)");
		return -1;
	}
	c->key_state = 1;
	return 0;
}

static int is_pow2(int64_t x)
{
	return x > 0 && (x & (x - 1)) == 0;
}

static void store_int(void *dst, size_t size, int64_t x)
{
	switch (size) {
	case 1: { uint8_t v = (uint8_t)x; memcpy(dst, &v, 1); break; }
	case 2: { uint16_t v = (uint16_t)x; memcpy(dst, &v, 2); break; }
	case 4: { uint32_t v = (uint32_t)x; memcpy(dst, &v, 4); break; }
	default: { uint64_t v = (uint64_t)x; memcpy(dst, &v, 8); break; }
	}
}

static int copy_str(struct ctx *c, const struct rfx_settings_key *k, unsigned line, char *dst,
		    const char *v, size_t n)
{
	if (n + 1 > k->size) {
		report(c, RFX_ECONFIG, line, k->name, strlen(k->name),
		       "value is %zu characters long; at most %u allowed", n, k->size - 1);
		return -1;
	}
	if (memchr(v, '\0', n)) {
		report(c, RFX_ECONFIG, line, k->name, strlen(k->name), "value holds a NUL byte");
		return -1;
	}
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

/* Sets one key's value into base (a session or engine struct). num selects the
 * failover endpoint of a numbered key. Returns 0 or -1 (reported). */
static int set_value(struct ctx *c, const struct rfx_settings_key *k, unsigned num, void *base,
		     unsigned line, const char *v, size_t n)
{
	char *dst = (char *)base + k->off + num * sizeof(struct rfx_settings_endpoint);
	const char *kn = k->name;
	size_t kl = strlen(kn);
	int64_t x;
	int i;

	/* Secrets: decrypt into a wiped temporary, then treat as the plain value. */
	if (rfx_secret_is_enc(v, n) && (k->kind == K_STR || k->kind == K_PATH ||
					k->kind == K_SECRET)) {
		char plain[RFX_SETTINGS_SECRET_MAX > RFX_SETTINGS_PATH_MAX ?
			   RFX_SETTINGS_SECRET_MAX : RFX_SETTINGS_PATH_MAX];
		int rc;

		if (load_secret_key(c, line, kn, kl) < 0)
			return -1;
		rc = rfx_secret_decrypt(c->key, v, n, plain, sizeof(plain));
		if (rc == RFX_ENOSPACE || (rc >= 0 && (size_t)rc + 1 > k->size)) {
			report(c, RFX_ESECRET, line, kn, kl, "decrypted value is too long");
			rc = -1;
		} else if (rc < 0) {
			report(c, RFX_ESECRET, line, kn, kl,
			       "ENC() value cannot be decrypted (wrong key, damaged or not "
			       "base64(nonce || ciphertext || tag))");
		} else {
			memcpy(dst, plain, (size_t)rc + 1);
			rc = 0;
		}
		OPENSSL_cleanse(plain, sizeof(plain));
		return rc;
	}

	switch (k->kind) {
	case K_IGNORED:
		return 0;
	case K_SECRET:
		/* Plaintext secrets are allowed (tests, lab setups) but never echoed. */
		return copy_str(c, k, line, dst, v, n);
	case K_STR:
		if (k->flags & F_COMPID) {
			for (size_t j = 0; j < n; j++) {
				if (v[j] <= ' ' || v[j] > '~' || v[j] == ':' || v[j] == '/' ||
				    v[j] == '>') {
					report(c, RFX_ECONFIG, line, kn, kl,
					       "'%.*s': only printable characters other than blank, "
					       "':', '/' and '>' (they separate the session ID)",
					       (int)(n < SHOWN ? n : SHOWN), v);
					return -1;
				}
			}
		}
		return copy_str(c, k, line, dst, v, n);
	case K_PATH:
		if (n && v[0] != '/' && c->base_dir && c->base_dir[0]) {
			int len = snprintf(dst, k->size, "%s/%.*s", c->base_dir, (int)n, v);
			if (len < 0 || (size_t)len >= k->size) {
				report(c, RFX_ECONFIG, line, kn, kl,
				       "path is too long once resolved against %s", c->base_dir);
				dst[0] = '\0';
				return -1;
			}
			return 0;
		}
		return copy_str(c, k, line, dst, v, n);
	case K_BOOL:
		/* QuickFIX booleans are Y or N; anything else is probably a typo. */
		if (n != 1 || (v[0] != 'Y' && v[0] != 'N')) {
			report(c, RFX_ECONFIG, line, kn, kl, "'%.*s' is not Y or N",
			       (int)(n < SHOWN ? n : SHOWN), v);
			return -1;
		}
		*(bool *)dst = v[0] == 'Y';
		return 0;
	case K_INT:
		if (parse_int(v, n, &x) < 0) {
			report(c, RFX_ECONFIG, line, kn, kl, "'%.*s' is not a whole number",
			       (int)(n < SHOWN ? n : SHOWN), v);
			return -1;
		}
		/* Defaults like 0 or -1 mean "not set" and bypass the range. */
		if ((x < k->min || x > k->max) && !(k->def && line == 0)) {
			report(c, RFX_ECONFIG, line, kn, kl, "%lld is out of range %lld..%lld",
			       (long long)x, (long long)k->min, (long long)k->max);
			return -1;
		}
		if ((k->flags & F_POW2) && !is_pow2(x)) {
			report(c, RFX_ECONFIG, line, kn, kl, "%lld is not a power of two",
			       (long long)x);
			return -1;
		}
		store_int(dst, k->size, x);
		return 0;
	case K_TIME:
		if (line == 0 && n == 2 && memcmp(v, "-1", 2) == 0)
			x = -1;
		else if (parse_time(v, n, &x) < 0) {
			report(c, RFX_ECONFIG, line, kn, kl, "'%.*s' is not a time HH:MM:SS",
			       (int)(n < SHOWN ? n : SHOWN), v);
			return -1;
		}
		store_int(dst, k->size, x);
		return 0;
	case K_DAY:
		if (line == 0 && n == 2 && memcmp(v, "-1", 2) == 0)
			x = -1;
		else if (parse_day(v, n, &x) < 0) {
			report(c, RFX_ECONFIG, line, kn, kl,
			       "'%.*s' is not a day of the week (Sunday..Saturday)",
			       (int)(n < SHOWN ? n : SHOWN), v);
			return -1;
		}
		store_int(dst, k->size, x);
		return 0;
	case K_ENUM:
		i = choice_index(k->choices, v, n);
		if (i < 0) {
			report(c, RFX_ECONFIG, line, kn, kl, "'%.*s' is not one of %s",
			       (int)(n < SHOWN ? n : SHOWN), v, k->choices);
			return -1;
		}
		store_int(dst, k->size, i);
		return 0;
	case K_CHOICE:
		if (choice_index(k->choices, v, n) < 0) {
			report(c, RFX_ECONFIG, line, kn, kl, "'%.*s' is not one of %s",
			       (int)(n < SHOWN ? n : SHOWN), v, k->choices);
			return -1;
		}
		return copy_str(c, k, line, dst, v, n);
	case K_APPLVER:
		i = applver_index(v, n);
		if (i >= 0) {
			strcpy(dst, applvers[i].code);
			return 0;
		}
		if (n == 0) {
			dst[0] = '\0';
			return 0;
		}
		report(c, RFX_ECONFIG, line, kn, kl,
		       "'%.*s' is not an ApplVerID (FIX.4.0 .. FIX.5.0SP2, or its code 2..9)",
		       (int)(n < SHOWN ? n : SHOWN), v);
		return -1;
	case K_CPULIST: {
		struct rfx_engine_settings *e = base;
		unsigned cnt = 0;
		size_t j = 0;

		while (j < n) {
			size_t s = j, dash = 0;
			int64_t lo, hi;
			while (j < n && v[j] != ',') {
				if (v[j] == '-' && j > s)
					dash = j;
				j++;
			}
			if (dash ? parse_int(v + s, dash - s, &lo) || parse_int(v + dash + 1,
				       j - dash - 1, &hi) : parse_int(v + s, j - s, &lo) ||
				   (hi = lo, 0)) {
				report(c, RFX_ECONFIG, line, kn, kl,
				       "'%.*s' is not a CPU list such as 2,3 or 2-5",
				       (int)(n < SHOWN ? n : SHOWN), v);
				return -1;
			}
			if (lo < 0 || hi < lo || hi > 4095) {
				report(c, RFX_ECONFIG, line, kn, kl,
				       "CPU range %lld-%lld is not valid (0..4095, low first)",
				       (long long)lo, (long long)hi);
				return -1;
			}
			for (int64_t cpu = lo; cpu <= hi; cpu++) {
				if (cnt == RFX_SETTINGS_MAX_SHARDS) {
					report(c, RFX_ECONFIG, line, kn, kl,
					       "more than %d CPUs listed", RFX_SETTINGS_MAX_SHARDS);
					return -1;
				}
				e->shard_cpus[cnt++] = (int32_t)cpu;
			}
			if (j < n)
				j++; /* the comma */
		}
		e->nshard_cpus = cnt;
		return 0;
	}
	}
	return -1;
}

/* ---- keys and sections --------------------------------------------------- */

/* Finds the key named k[0..kl); *num receives a failover index (0 for plain). */
static const struct rfx_settings_key *find_key(const char *k, size_t kl, unsigned *num)
{
	*num = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		size_t nl = strlen(keys[i].name);
		if (kl == nl && memcmp(keys[i].name, k, kl) == 0)
			return &keys[i];
		if ((keys[i].flags & F_NUMBERED) && kl == nl + 1 && memcmp(keys[i].name, k, nl) == 0 &&
		    k[nl] >= '1' && k[nl] < '0' + MAX_NUM) {
			*num = (unsigned)(k[nl] - '0');
			return &keys[i];
		}
	}
	return NULL;
}

static const char *find_key_nocase(const char *k, size_t kl)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(keys[i].name) == kl && strncasecmp(keys[i].name, k, kl) == 0)
			return keys[i].name;
	return NULL;
}

static int set_has(const struct keyset *s, const struct rfx_settings_key *k, unsigned num)
{
	size_t b = (size_t)(k - keys) * MAX_NUM + num;
	return (s->w[b / 64] >> (b % 64)) & 1;
}

static void set_add(struct keyset *s, const struct rfx_settings_key *k, unsigned num,
		    unsigned line)
{
	size_t b = (size_t)(k - keys) * MAX_NUM + num;
	s->w[b / 64] |= 1ULL << (b % 64);
	s->line[b] = line;
}

/* Line where key `name` (failover index num) was given, else fallback. */
static unsigned line_of(const struct keyset *s, const char *name, unsigned num,
			unsigned fallback);

static const struct rfx_settings_key *key_named(const char *name)
{
	unsigned num;
	return find_key(name, strlen(name), &num);
}

static unsigned line_of(const struct keyset *s, const char *name, unsigned num,
			unsigned fallback)
{
	const struct rfx_settings_key *k = key_named(name);
	return k && set_has(s, k, num) ? s->line[(size_t)(k - keys) * MAX_NUM + num] : fallback;
}

#define APP_DICT_PREFIX "AppDataDictionary."
#define APP_DICT_PREFIX_LEN (sizeof(APP_DICT_PREFIX) - 1)

static bool is_keyed_app_dict(const struct entry *e)
{
	return e->klen > APP_DICT_PREFIX_LEN &&
	       memcmp(e->key, APP_DICT_PREFIX, APP_DICT_PREFIX_LEN) == 0;
}

/* AppDataDictionary.<version>=path into ss->app_dicts; seen: versions given in
 * this section (bit = applvers index). */
static void set_keyed_app_dict(struct ctx *c, const struct entry *e, uint8_t sec, void *base,
			       unsigned *seen)
{
	const char *ver = e->key + APP_DICT_PREFIX_LEN;
	size_t vl = e->klen - APP_DICT_PREFIX_LEN;
	struct rfx_session_settings *ss = base;
	struct rfx_settings_app_dict *ad = NULL;
	int j = applver_index(ver, vl);

	if (sec == SEC_ENGINE) {
		report(c, RFX_ECONFIG, e->line, e->key, e->klen,
		       "session key: it belongs in [DEFAULT] or [SESSION], not [ENGINE]");
		return;
	}
	if (j < 0) {
		report(c, RFX_ECONFIG, e->line, e->key, e->klen,
		       "'%.*s' is not an application version (FIX.4.0 .. FIX.5.0SP2, or its "
		       "ApplVerID code 2..9)", (int)(vl < SHOWN ? vl : SHOWN), ver);
		return;
	}
	if (*seen >> j & 1) {
		report(c, RFX_ECONFIG, e->line, e->key, e->klen, "given twice in this section");
		return;
	}
	*seen |= 1u << j;
	for (unsigned i = 0; i < ss->napp_dicts; i++)
		if (strcmp(ss->app_dicts[i].appl_ver_id, applvers[j].code) == 0)
			ad = &ss->app_dicts[i]; /* a [SESSION] key replaces [DEFAULT]'s */
	if (!ad) {
		if (ss->napp_dicts == RFX_SETTINGS_MAX_APP_DICTS) {
			report(c, RFX_ECONFIG, e->line, e->key, e->klen,
			       "more than %d AppDataDictionary.<version> keys",
			       RFX_SETTINGS_MAX_APP_DICTS);
			return;
		}
		ad = &ss->app_dicts[ss->napp_dicts++];
	}
	strcpy(ad->appl_ver_id, applvers[j].code);
	/* Longest valid key: AppDataDictionary.FIX.5.0SP2 (28 bytes). */
	_Static_assert(sizeof(ad->key) > APP_DICT_PREFIX_LEN + 10, "key fits");
	snprintf(ad->key, sizeof(ad->key), "%.*s", (int)e->klen, e->key);
	ad->line = e->line;
	/* The path handling (relative paths, ENC()) of AppDataDictionary itself,
	 * aimed at ad->path: same size as the field it is defined with. */
	const struct rfx_settings_key *k = key_named("AppDataDictionary");
	_Static_assert(sizeof(ad->path) == sizeof(ss->app_data_dictionary), "same path size");
	if (set_value(c, k, 0, ad->path - k->off, e->line, e->val, e->vlen) < 0)
		ad->path[0] = '\0';
}

const char *rfx_session_settings_app_dict(const struct rfx_session_settings *ss,
					  const char *appl_ver_id)
{
	for (unsigned i = 0; i < ss->napp_dicts; i++)
		if (strcmp(ss->app_dicts[i].appl_ver_id, appl_ver_id) == 0)
			return ss->app_dicts[i].path;
	if (ss->app_data_dictionary[0] && strcmp(ss->default_appl_ver_id, appl_ver_id) == 0)
		return ss->app_data_dictionary;
	return NULL;
}

/* Applies entries of one section (sec, and session index for SEC_SESSION). seen
 * tracks keys set in this section; set accumulates keys set at any level. */
static void apply(struct ctx *c, const struct entry *ents, size_t nents, uint8_t sec,
		  unsigned session, void *base, struct keyset *set)
{
	struct keyset seen;
	unsigned seen_app = 0;

	memset(&seen, 0, sizeof(seen));
	for (size_t i = 0; i < nents; i++) {
		const struct entry *e = &ents[i];
		const struct rfx_settings_key *k;
		unsigned num;

		if (e->sec != sec || (sec == SEC_SESSION && e->session != session))
			continue;
		if (is_keyed_app_dict(e)) {
			set_keyed_app_dict(c, e, sec, base, &seen_app);
			continue;
		}
		k = find_key(e->key, e->klen, &num);
		if (!k) {
			const char *near = find_key_nocase(e->key, e->klen);
			if (near)
				report(c, RFX_ECONFIG, e->line, e->key, e->klen,
				       "unknown key; key names are case-sensitive: did you mean %s?",
				       near);
			else
				report(c, RFX_ECONFIG, e->line, e->key, e->klen, "unknown key");
			continue;
		}
		if ((k->flags & F_ENGINE) && sec != SEC_ENGINE) {
			report(c, RFX_ECONFIG, e->line, e->key, e->klen,
			       "engine key: it belongs in [ENGINE]");
			continue;
		}
		if (!(k->flags & F_ENGINE) && sec == SEC_ENGINE) {
			report(c, RFX_ECONFIG, e->line, e->key, e->klen,
			       "session key: it belongs in [DEFAULT] or [SESSION], not [ENGINE]");
			continue;
		}
		if (set_has(&seen, k, num)) {
			report(c, RFX_ECONFIG, e->line, e->key, e->klen,
			       "given twice in this section");
			continue;
		}
		set_add(&seen, k, num, e->line);
		/* Counted as set even when its value is bad: one error, not a second
		 * "missing" one for the same line. */
		set_value(c, k, num, base, e->line, e->val, e->vlen);
		set_add(set, k, num, e->line);
	}
}

static void apply_defaults(struct ctx *c, void *base, int engine)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct rfx_settings_key *k = &keys[i];
		if (!k->def || !!(k->flags & F_ENGINE) != engine)
			continue;
		/* line 0 marks a built-in default (allows the "not set" values). */
		set_value(c, k, 0, base, 0, k->def, strlen(k->def));
	}
}

/* ---- lexing --------------------------------------------------------------- */

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

static void trim(const char **p, size_t *n)
{
	while (*n && is_blank(**p))
		(*p)++, (*n)--;
	while (*n && is_blank((*p)[*n - 1]))
		(*n)--;
}

/* A [SESSION]: its header line and its entries ents[first, end). */
struct sess_span {
	unsigned line;
	size_t first, end;
};

/* Cuts text into entries; also records each session's header line and entries.
 * Returns 0 or -ENOMEM; syntax errors are reported and lexing continues. */
static int lex(struct ctx *c, const char *text, size_t len, struct entry **out, size_t *nout,
	       struct sess_span **sess_out, unsigned *nsess)
{
	struct entry *ents = NULL;
	struct sess_span *lines = NULL;
	size_t n = 0, cap = 0, scap = 0;
	int sec = -1;
	unsigned line = 0;
	size_t pos = 0;

	*nsess = 0;
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		pos = 3; /* UTF-8 byte order mark some editors write */
	while (pos < len) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - l) : len - pos;
		const char *eq;

		pos += ll + (nl ? 1 : 0);
		line++;
		trim(&l, &ll);
		if (ll == 0 || l[0] == '#' || l[0] == ';')
			continue;
		if (l[0] == '[') {
			const char *name = l + 1;
			size_t nn = ll - 1;
			if (sec == SEC_SESSION)
				lines[*nsess - 1].end = n; /* a new section closes the session */
			if (l[ll - 1] != ']') {
				report(c, RFX_ECONFIG, line, NULL, 0,
				       "section header without closing ']'");
				sec = -2;
				continue;
			}
			nn--;
			trim(&name, &nn);
			if (nn == 7 && strncasecmp(name, "DEFAULT", 7) == 0) {
				sec = SEC_DEFAULT;
			} else if (nn == 6 && strncasecmp(name, "ENGINE", 6) == 0) {
				sec = SEC_ENGINE;
			} else if (nn == 7 && strncasecmp(name, "SESSION", 7) == 0) {
				if (*nsess == scap) {
					struct sess_span *nl2;
					scap = scap ? 2 * scap : 16;
					nl2 = realloc(lines, scap * sizeof(*lines));
					if (!nl2)
						goto nomem;
					lines = nl2;
				}
				lines[*nsess].line = line;
				lines[*nsess].first = lines[*nsess].end = n;
				(*nsess)++;
				sec = SEC_SESSION;
			} else {
				report(c, RFX_ECONFIG, line, NULL, 0,
				       "unknown section [%.*s]; expected [DEFAULT], [SESSION] or "
				       "[ENGINE]", (int)(nn < SHOWN ? nn : SHOWN), name);
				sec = -2; /* skip its keys without more errors */
			}
			continue;
		}
		eq = memchr(l, '=', ll);
		if (!eq) {
			report(c, RFX_ECONFIG, line, NULL, 0, "expected Key=Value or [SECTION]");
			continue;
		}
		if (sec == -2)
			continue;
		if (sec == -1) {
			report(c, RFX_ECONFIG, line, l, (size_t)(eq - l),
			       "key outside any section; start with [DEFAULT] or [SESSION]");
			continue;
		}
		if (n == cap) {
			struct entry *ne;
			cap = cap ? 2 * cap : 64;
			ne = realloc(ents, cap * sizeof(*ents));
			if (!ne)
				goto nomem;
			ents = ne;
		}
		{
			struct entry *e = &ents[n++];
			const char *k = l, *v = eq + 1;
			size_t kl = (size_t)(eq - l), vl = ll - kl - 1;
			trim(&k, &kl);
			trim(&v, &vl);
			e->key = k;
			e->klen = (uint32_t)kl;
			e->val = v;
			e->vlen = (uint32_t)vl;
			e->line = line;
			e->sec = (uint8_t)sec;
			e->session = sec == SEC_SESSION ? *nsess - 1 : 0;
			if (kl == 0) {
				report(c, RFX_ECONFIG, line, NULL, 0, "empty key before '='");
				n--;
			}
		}
	}
	if (sec == SEC_SESSION)
		lines[*nsess - 1].end = n;
	*out = ents;
	*nout = n;
	*sess_out = lines;
	return 0;
nomem:
	free(ents);
	free(lines);
	return -ENOMEM;
}

/* ---- session checks ------------------------------------------------------- */

int rfx_settings_session_id(const struct rfx_session_settings *ss, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s:%s%s%s%s%s->%s%s%s%s%s%s%s", ss->begin_string,
			 ss->sender_comp_id,
			 ss->sender_sub_id[0] || ss->sender_location_id[0] ? "/" : "",
			 ss->sender_sub_id, ss->sender_location_id[0] ? "/" : "",
			 ss->sender_location_id, ss->target_comp_id,
			 ss->target_sub_id[0] || ss->target_location_id[0] ? "/" : "",
			 ss->target_sub_id, ss->target_location_id[0] ? "/" : "",
			 ss->target_location_id, ss->session_qualifier[0] ? ":" : "",
			 ss->session_qualifier);
	if (n < 0 || (size_t)n >= outsz)
		return RFX_ENOSPACE;
	return n;
}

unsigned rfx_settings_shard_of(const char *id, unsigned shards)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		h ^= *p;
		h *= 16777619u;
	}
	return shards ? h % shards : 0;
}

static void require(struct ctx *c, const struct keyset *set, unsigned line, const char *name,
		    const char *why)
{
	if (!set_has(set, key_named(name), 0))
		report(c, RFX_ECONFIG, line, name, strlen(name), "missing: %s", why);
}

/* LogonTime/LogoutTime/LogonDay/LogoutDay, with QuickFIX's defaults (the
 * session's own times and days) and its rule: both ends within
 * StartTime..EndTime. */
static void check_logon_window(struct ctx *c, const struct rfx_session_settings *ss,
			       const struct keyset *set)
{
	unsigned line = ss->line;
	struct rfx_schedule w = {
		.start_time = ss->start_time, .end_time = ss->end_time,
		.start_day = ss->start_day, .end_day = ss->end_day,
		.logon_time = ss->logon_time >= 0 ? ss->logon_time : ss->start_time,
		.logout_time = ss->logout_time >= 0 ? ss->logout_time : ss->end_time,
		.logon_day = ss->logon_day >= 0 ? ss->logon_day : ss->start_day,
		.logout_day = ss->logout_day >= 0 ? ss->logout_day : ss->end_day,
	};
	static const char *const names[] = {"LogonTime", "LogoutTime"};
	const int32_t times[] = {w.logon_time, w.logout_time};
	const int32_t days[] = {w.logon_day, w.logout_day};

	if (ss->logon_time < 0 && ss->logout_time < 0 && ss->logon_day < 0 && ss->logout_day < 0)
		return;
	if ((w.logon_day < 0) != (w.logout_day < 0)) {
		const char *k = w.logon_day < 0 ? "LogonDay" : "LogoutDay";
		report(c, RFX_ECONFIG, line_of(set, w.logon_day < 0 ? "LogoutDay" : "LogonDay", 0,
					       line), k, strlen(k),
		       "missing: a weekly logon window needs both LogonDay and LogoutDay");
	}
	for (int i = 0; i < 2; i++) {
		unsigned at = line_of(set, names[i], 0, line);
		if (times[i] < 0)
			report(c, RFX_ECONFIG, at, names[i], strlen(names[i]),
			       "missing: a NonStopSession logon window needs LogonTime and LogoutTime");
		else if (!ss->non_stop_session && ss->start_time >= 0 && ss->end_time >= 0 &&
			 (ss->start_day < 0) == (ss->end_day < 0) &&
			 !rfx_schedule_contains(&w, times[i], days[i]))
			report(c, RFX_ECONFIG, at, names[i], strlen(names[i]),
			       "must be between StartTime and EndTime");
	}
}

static void check_session(struct ctx *c, struct rfx_session_settings *ss,
			  const struct keyset *set, const struct rfx_engine_settings *eng)
{
	unsigned line = ss->line;
	int fixt;

	require(c, set, line, "BeginString", "every session needs its FIX version");
	require(c, set, line, "SenderCompID", "every session needs its SenderCompID");
	require(c, set, line, "TargetCompID", "every session needs its TargetCompID");
	require(c, set, line, "ConnectionType", "say initiator or acceptor");
	if (!ss->non_stop_session) {
		require(c, set, line, "StartTime", "the session schedule needs a start "
			"(or NonStopSession=Y)");
		require(c, set, line, "EndTime", "the session schedule needs an end "
			"(or NonStopSession=Y)");
	}
	if ((ss->start_day < 0) != (ss->end_day < 0)) {
		const char *k = ss->start_day < 0 ? "StartDay" : "EndDay";
		report(c, RFX_ECONFIG, line_of(set, ss->start_day < 0 ? "EndDay" : "StartDay", 0, line),
		       k, strlen(k),
		       "missing: a weekly session needs both StartDay and EndDay");
	}
	check_logon_window(c, ss, set);
	if (ss->use_local_time && ss->time_zone[0])
		report(c, RFX_ECONFIG, line_of(set, "TimeZone", 0, line), "TimeZone", 8,
		       "conflicts with UseLocalTime=Y: give one or the other");
	fixt = strcmp(ss->begin_string, "FIXT.1.1") == 0;
	if (fixt)
		require(c, set, line, "DefaultApplVerID", "FIXT.1.1 sessions need an application "
			"version");
	if (ss->use_data_dictionary && ss->begin_string[0]) {
		if (fixt) {
			require(c, set, line, "TransportDataDictionary",
				"FIXT.1.1 with UseDataDictionary=Y needs the FIXT11 dictionary");
			if (!rfx_session_settings_app_dict(ss, ss->default_appl_ver_id))
				require(c, set, line, "AppDataDictionary",
					"FIXT.1.1 with UseDataDictionary=Y needs the application "
					"dictionary (or AppDataDictionary.<DefaultApplVerID>)");
		} else {
			require(c, set, line, "DataDictionary",
				"UseDataDictionary=Y needs a DataDictionary (or set it to N)");
		}
	}
	if (ss->connection_type == RFX_CONN_ACCEPTOR && set_has(set, key_named("ConnectionType"), 0)) {
		require(c, set, line, "SocketAcceptPort", "acceptors listen on a port");
		if (ss->socket_use_ssl) {
			require(c, set, line, "ServerCertificateFile", "a TLS acceptor needs a "
				"certificate");
			require(c, set, line, "ServerCertificateKeyFile", "a TLS acceptor needs a "
				"private key");
		}
	}
	if (ss->connection_type == RFX_CONN_INITIATOR && set_has(set, key_named("ConnectionType"), 0)) {
		const struct rfx_settings_key *kh = key_named("SocketConnectHost");
		const struct rfx_settings_key *kp = key_named("SocketConnectPort");
		int gap = 0;

		require(c, set, line, "SocketConnectHost", "initiators need a host to connect to");
		require(c, set, line, "SocketConnectPort", "initiators need a port to connect to");
		require(c, set, line, "HeartBtInt", "initiators send HeartBtInt in their Logon");
		ss->nconnect = 0;
		for (unsigned i = 0; i < MAX_NUM; i++) {
			int h = set_has(set, kh, i), p = set_has(set, kp, i);
			char kn[32];
			if (h != p && i > 0) {
				snprintf(kn, sizeof(kn), "%s%u", h ? kp->name : kh->name, i);
				report(c, RFX_ECONFIG,
				       line_of(set, h ? kh->name : kp->name, i, line), kn, strlen(kn),
				       "missing: failover host and port go in pairs");
			}
			if (h && p) {
				if (gap) {
					snprintf(kn, sizeof(kn), "%s%u", kh->name, i);
					report(c, RFX_ECONFIG, line_of(set, kh->name, i, line), kn,
					       strlen(kn),
					       "failover endpoints must be numbered without gaps");
				}
				ss->nconnect = i + 1;
			} else {
				gap = 1;
			}
		}
	}
	if (ss->shard_setting >= 0 && (uint32_t)ss->shard_setting >= eng->shards)
		report(c, RFX_ECONFIG, line_of(set, "Shard", 0, line), "Shard", 5,
		       "shard %d does not exist: [ENGINE] Shards=%u",
		       ss->shard_setting, eng->shards);
}

struct id_ref {
	const char *id;
	unsigned line;
};

static int cmp_id(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;
	int r = strcmp(x->id, y->id);
	return r ? r : (x->line > y->line) - (x->line < y->line);
}

static int check_duplicates(struct ctx *c, struct rfx_settings *s)
{
	struct id_ref *refs;

	if (s->nsessions < 2)
		return 0;
	refs = malloc(s->nsessions * sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (unsigned i = 0; i < s->nsessions; i++) {
		refs[i].id = s->sessions[i].id;
		refs[i].line = s->sessions[i].line;
	}
	qsort(refs, s->nsessions, sizeof(*refs), cmp_id);
	for (unsigned i = 1; i < s->nsessions; i++) {
		if (refs[i].id[0] && strcmp(refs[i].id, refs[i - 1].id) == 0)
			report(c, RFX_ECONFIG, refs[i].line, NULL, 0,
			       "duplicate session %s: same BeginString, CompIDs, Sub/LocationIDs "
			       "and SessionQualifier as the [SESSION] at line %u", refs[i].id,
			       refs[i - 1].line);
	}
	free(refs);
	return 0;
}

/* ---- entry points ------------------------------------------------------- */

void rfx_settings_free(struct rfx_settings *s)
{
	if (!s)
		return;
	/* The sessions hold decrypted secrets; do not leave them in freed memory. */
	if (s->sessions)
		OPENSSL_cleanse(s->sessions, s->nsessions * sizeof(*s->sessions));
	free(s->sessions);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

int rfx_settings_parse(const char *text, size_t len, const char *name, const char *base_dir,
		       struct rfx_settings **out, struct rfx_settings_error *err)
{
	struct ctx c = { .file = name ? name : "(settings)", .base_dir = base_dir, .err = err };
	struct rfx_session_settings *tmpl = NULL;
	struct keyset *eng_set = NULL, *tmpl_set = NULL, *set = NULL; /* ~5 KB each */
	struct rfx_settings *s = NULL;
	struct entry *ents = NULL;
	struct sess_span *sess = NULL;
	size_t nents = 0;
	unsigned nsess = 0;
	int rc;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	s = calloc(1, sizeof(*s));
	tmpl = calloc(1, sizeof(*tmpl));
	if (!s || !tmpl) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = lex(&c, text, len, &ents, &nents, &sess, &nsess);
	if (rc < 0)
		goto fail;

	c.engine = &s->engine;
	apply_defaults(&c, &s->engine, 1);
	eng_set = calloc(1, sizeof(*eng_set));
	tmpl_set = calloc(1, sizeof(*tmpl_set));
	set = malloc(sizeof(*set));
	if (!eng_set || !tmpl_set || !set) {
		rc = -ENOMEM;
		goto fail;
	}
	apply(&c, ents, nents, SEC_ENGINE, 0, &s->engine, eng_set);
	if (s->engine.nshard_cpus && s->engine.nshard_cpus != s->engine.shards) {
		report(&c, RFX_ECONFIG, line_of(eng_set, "ShardCpus", 0, 0), "ShardCpus", 9,
		       "%u CPUs listed for Shards=%u; list one CPU per shard",
		       s->engine.nshard_cpus, s->engine.shards);
	}

	apply_defaults(&c, tmpl, 0);
	apply(&c, ents, nents, SEC_DEFAULT, 0, tmpl, tmpl_set);

	if (nsess == 0)
		report(&c, RFX_ECONFIG, 0, NULL, 0, "no [SESSION] section");
	else {
		s->sessions = calloc(nsess, sizeof(*s->sessions));
		if (!s->sessions) {
			rc = -ENOMEM;
			goto fail;
		}
		s->nsessions = nsess;
	}
	for (unsigned i = 0; i < nsess; i++) {
		struct rfx_session_settings *ss = &s->sessions[i];

		*set = *tmpl_set;
		*ss = *tmpl;
		ss->line = sess[i].line;
		apply(&c, ents + sess[i].first, sess[i].end - sess[i].first, SEC_SESSION, i, ss,
		      set);
		check_session(&c, ss, set, &s->engine);
		if (ss->begin_string[0] && ss->sender_comp_id[0] && ss->target_comp_id[0] &&
		    rfx_settings_session_id(ss, ss->id, sizeof(ss->id)) < 0)
			ss->id[0] = '\0'; /* cannot happen: sized for the longest ID */
		ss->shard = ss->shard_setting >= 0 ? (unsigned)ss->shard_setting :
			    rfx_settings_shard_of(ss->id, s->engine.shards);
	}
	rc = check_duplicates(&c, s);
	if (rc < 0)
		goto fail;
	rc = c.nerr ? c.first_rc : 0;
	if (rc < 0)
		goto fail;
	*out = s;
	s = NULL;
fail:
	OPENSSL_cleanse(c.key, sizeof(c.key));
	if (tmpl)
		OPENSSL_cleanse(tmpl, sizeof(*tmpl));
	free(tmpl);
	free(eng_set);
	free(tmpl_set);
	free(set);
	free(ents);
	free(sess);
	rfx_settings_free(s);
	return rc;
}

int rfx_settings_load(const char *path, struct rfx_settings **out, struct rfx_settings_error *err)
{
	struct ctx c = { .file = path, .err = err };
	char dir[RFX_SETTINGS_PATH_MAX];
	const char *slash;
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	FILE *f;
	int rc;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		report(&c, rc, 0, NULL, 0, "cannot open: %s", strerror(-rc));
		return rc;
	}
	/* Settings files are small; a bound keeps a wrong path (a device) harmless. */
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (16 << 20)) {
		rc = RFX_ECONFIG;
		report(&c, rc, 0, NULL, 0, "not a regular file of at most 16 MiB");
		fclose(f);
		return rc;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, (size_t)st.st_size + 1, f);
	if (ferror(f) || len > (size_t)st.st_size) {
		rc = -EIO;
		report(&c, rc, 0, NULL, 0, "cannot read (file changed while reading?)");
		goto out;
	}
	slash = strrchr(path, '/');
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
	else
		snprintf(dir, sizeof(dir), ".");
	rc = rfx_settings_parse(buf, len, path, dir, out, err);
out:
	/* The file may hold plaintext secrets. */
	OPENSSL_cleanse(buf, len);
	free(buf);
	fclose(f);
	return rc;
}

const struct rfx_session_settings *rfx_settings_find(const struct rfx_settings *s,
						     const char *id)
{
	for (unsigned i = 0; s && i < s->nsessions; i++)
		if (strcmp(s->sessions[i].id, id) == 0)
			return &s->sessions[i];
	return NULL;
}

unsigned rfx_session_settings_validate_flags(const struct rfx_session_settings *ss)
{
	return (ss->validate_fields_out_of_order ? RFX_VALIDATE_FIELDS_OUT_OF_ORDER : 0) |
	       (ss->validate_fields_have_values ? RFX_VALIDATE_FIELDS_HAVE_VALUES : 0) |
	       (ss->validate_user_defined_fields ? RFX_VALIDATE_USER_DEFINED_FIELDS : 0) |
	       (ss->allow_unknown_msg_fields ? RFX_ALLOW_UNKNOWN_MSG_FIELDS : 0);
}
