#include <criterion/criterion.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/dictionary.h"
#include "engine/error.h"
#include "engine/secret.h"
#include "engine/settings.h"
#include "guard.h"
#include "shared_data.h"

#define ACCEPTOR \
	"[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=5001\n" \
	"StartTime=00:00:00\nEndTime=00:00:00\nSenderCompID=ISLD\nUseDataDictionary=N\n"

/* Parses text[0..len) placed against a guard page; returns the rc. */
static int parse_n(const char *text, size_t len, struct rfx_settings **s,
		   struct rfx_settings_error *err)
{
	struct guard g;
	char *p = guard_place(&g, text, len);
	cr_assert_not_null(p);
	int rc = rfx_settings_parse(p, len, "t.cfg", NULL, s, err);
	guard_release(&g);
	return rc;
}

static int parse(const char *text, struct rfx_settings **s, struct rfx_settings_error *err)
{
	return parse_n(text, strlen(text), s, err);
}

/* Expects text to fail with an error at line naming key, whose reason holds why. */
static void expect_error(const char *text, unsigned line, const char *key, const char *why)
{
	struct rfx_settings *s = (void *)1;
	struct rfx_settings_error err;
	int rc = parse(text, &s, &err);

	cr_expect_eq(rc, RFX_ECONFIG, "rc %d for:\n%s", rc, text);
	cr_expect_null(s);
	cr_expect_geq(err.count, 1);
	cr_expect_str_eq(err.file, "t.cfg");
	cr_expect_eq(err.line, line, "line %u, text %s", err.line, err.text);
	cr_expect_str_eq(err.key, key, "key '%s', text %s", err.key, err.text);
	cr_expect(strstr(err.reason, why) != NULL, "reason '%s' lacks '%s'", err.reason, why);
	cr_expect(strstr(err.text, "t.cfg:") == err.text, "text %s", err.text);
}

Test(settings, inherits_default_and_fills_defaults, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;
	const char *cfg = ACCEPTOR
		"HeartBtInt=20\n"
		"[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A\n"
		"[SESSION]\nBeginString=FIX.4.2\nTargetCompID=B\nHeartBtInt=45\nSenderCompID=X\n";

	cr_assert_eq(parse(cfg, &s, &err), 0, "%s", err.text);
	cr_assert_eq(s->nsessions, 2);
	cr_expect_str_eq(s->sessions[0].sender_comp_id, "ISLD");
	cr_expect_eq(s->sessions[0].heartbt_int, 20);
	cr_expect_eq(s->sessions[0].socket_accept_port, 5001);
	cr_expect_eq(s->sessions[0].connection_type, RFX_CONN_ACCEPTOR);
	cr_expect_eq(s->sessions[0].start_time, 0);
	cr_expect_eq(s->sessions[0].start_day, -1);
	cr_expect_eq(s->sessions[0].line, 9);
	cr_expect_str_eq(s->sessions[1].sender_comp_id, "X");
	cr_expect_eq(s->sessions[1].heartbt_int, 45);
	/* Built-in defaults. */
	cr_expect(s->sessions[0].validate_fields_have_values);
	cr_expect(s->sessions[0].check_latency);
	cr_expect_eq(s->sessions[0].max_latency, 120);
	cr_expect_eq(s->sessions[0].timestamp_precision, 3);
	cr_expect(!s->sessions[0].reset_on_logon);
	cr_expect_eq(s->sessions[0].shard_setting, -1);
	cr_expect_eq(s->engine.shards, 1);
	cr_expect_str_eq(s->engine.instance_name, "ringfix");
	cr_expect_eq(s->engine.to_shard_ring_size, 1048576);
	cr_expect_eq(s->engine.idle_strategy, RFX_IDLE_STRATEGY_SPIN);
	cr_expect_str_eq(s->sessions[0].id, "FIX.4.4:ISLD->A");
	cr_expect_eq(rfx_settings_find(s, "FIX.4.2:X->B"), &s->sessions[1]);
	cr_expect_null(rfx_settings_find(s, "FIX.4.2:X->C"));
	rfx_settings_free(s);
}

Test(settings, comments_blanks_crlf_bom_and_hash_in_values, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;
	const char *cfg = "\xEF\xBB\xBF# leading comment\r\n"
		"; another style\r\n\r\n"
		"[ default ]\r\n"
		"  ConnectionType = acceptor  \r\n"
		"SocketAcceptPort=5001\r\nStartTime=08:30:00\r\nEndTime=17:00:05\r\n"
		"UseDataDictionary=N\r\n"
		"[Session]\r\n   # indented comment\r\nBeginString=FIX.4.4\r\n"
		"SenderCompID=S\r\nTargetCompID=T\r\nPassword=pa#ss;word=x\r\n"
		"StartDay=mo\r\nEndDay=FRIDAY";

	cr_assert_eq(parse(cfg, &s, &err), 0, "%s", err.text);
	cr_expect_eq(s->sessions[0].start_time, 8 * 3600 + 30 * 60);
	cr_expect_eq(s->sessions[0].end_time, 17 * 3600 + 5);
	cr_expect_str_eq(s->sessions[0].password, "pa#ss;word=x");
	cr_expect_eq(s->sessions[0].start_day, 1);
	cr_expect_eq(s->sessions[0].end_day, 5);
	rfx_settings_free(s);
}

Test(settings, store_writable_map_can_be_turned_off, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;
	const char *cfg = "[ENGINE]\nStoreWritableMap=N\n"
			  "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=S\nTargetCompID=T\n"
			  "ConnectionType=acceptor\nSocketAcceptPort=9000\nNonStopSession=Y\nUseDataDictionary=N\n";

	cr_assert_eq(parse(cfg, &s, &err), 0, "%s", err.text);
	cr_expect(!s->engine.store_writable_map);
	rfx_settings_free(s);
}

Test(settings, initiator_failover_and_engine_section, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;
	const char *cfg =
		"[ENGINE]\nInstanceName=prod1\nShards=4\nShardCpus=2,3-5\nIdleStrategy=block\n"
		"StoreDurability=full\nStoreKeepPeriods=7\nToShardRingSize=65536\nMetricsPort=9100\n"
		"StoreMapSize=4294967296\n"
		"[DEFAULT]\nConnectionType=initiator\nHeartBtInt=30\nNonStopSession=Y\n"
		"UseDataDictionary=N\n"
		"[SESSION]\nBeginString=FIXT.1.1\nDefaultApplVerID=FIX.5.0SP2\n"
		"SenderCompID=S\nSenderSubID=desk\nTargetCompID=T\nTargetLocationID=LDN\n"
		"SessionQualifier=q1\nShard=3\n"
		"SocketConnectHost=10.0.0.1\nSocketConnectPort=9000\n"
		"SocketConnectHost1=10.0.0.2\nSocketConnectPort1=9001\n"
		"SocketConnectHost2=backup.example\nSocketConnectPort2=9002\n";

	cr_assert_eq(parse(cfg, &s, &err), 0, "%s", err.text);
	cr_expect_str_eq(s->engine.instance_name, "prod1");
	cr_expect_eq(s->engine.shards, 4);
	cr_assert_eq(s->engine.nshard_cpus, 4);
	cr_expect_eq(s->engine.shard_cpus[0], 2);
	cr_expect_eq(s->engine.shard_cpus[3], 5);
	cr_expect_eq(s->engine.idle_strategy, RFX_IDLE_STRATEGY_BLOCK);
	cr_expect_eq(s->engine.store_durability, RFX_DURABILITY_FULL);
	cr_expect_eq(s->engine.store_keep_periods, 7);
	cr_expect(s->engine.store_writable_map, "StoreWritableMap defaults to Y");
	cr_expect_eq(s->engine.store_flush_interval_ms, 10);
	cr_expect_eq(s->engine.to_shard_ring_size, 65536);
	cr_expect_eq(s->engine.metrics_port, 9100);
	cr_expect_eq(s->engine.store_map_size, 4294967296ULL);
	cr_expect_str_eq(s->sessions[0].default_appl_ver_id, "9");
	cr_expect_eq(s->sessions[0].nconnect, 3);
	cr_expect_str_eq(s->sessions[0].connect[0].host, "10.0.0.1");
	cr_expect_eq(s->sessions[0].connect[1].port, 9001);
	cr_expect_str_eq(s->sessions[0].connect[2].host, "backup.example");
	cr_expect_eq(s->sessions[0].shard, 3);
	cr_expect_str_eq(s->sessions[0].id, "FIXT.1.1:S/desk->T//LDN:q1");
	rfx_settings_free(s);
}

Test(settings, session_id_format, .timeout = 10)
{
	struct rfx_session_settings ss;
	char buf[RFX_SETTINGS_SESSION_ID_MAX];

	memset(&ss, 0, sizeof(ss));
	strcpy(ss.begin_string, "FIX.4.4");
	strcpy(ss.sender_comp_id, "SENDER");
	strcpy(ss.target_comp_id, "TARGET");
	cr_expect_eq(rfx_settings_session_id(&ss, buf, sizeof(buf)), 22);
	cr_expect_str_eq(buf, "FIX.4.4:SENDER->TARGET");
	strcpy(ss.session_qualifier, "Q");
	strcpy(ss.sender_sub_id, "S1");
	strcpy(ss.sender_location_id, "L1");
	strcpy(ss.target_sub_id, "T1");
	rfx_settings_session_id(&ss, buf, sizeof(buf));
	cr_expect_str_eq(buf, "FIX.4.4:SENDER/S1/L1->TARGET/T1:Q");
	cr_expect_eq(rfx_settings_session_id(&ss, buf, 10), RFX_ENOSPACE);
}

Test(settings, shard_hash_is_frozen_fnv1a, .timeout = 10)
{
	/* Published FNV-1a 32-bit test vectors: "a" = 0xe40c292c, "foobar" = 0xbf9cf968. */
	cr_expect_eq(rfx_settings_shard_of("a", 1000), 0xe40c292cu % 1000);
	cr_expect_eq(rfx_settings_shard_of("foobar", 7), 0xbf9cf968u % 7);
	cr_expect_eq(rfx_settings_shard_of("", 1000), 2166136261u % 1000);
	cr_expect_eq(rfx_settings_shard_of("FIX.4.4:A->B", 1), 0);
	cr_expect_eq(rfx_settings_shard_of("FIX.4.4:A->B", 0), 0);
}

Test(settings, hash_used_without_explicit_shard, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;
	const char *cfg = "[ENGINE]\nShards=8\n" ACCEPTOR
		"[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A\n";

	cr_assert_eq(parse(cfg, &s, &err), 0, "%s", err.text);
	cr_expect_eq(s->sessions[0].shard, rfx_settings_shard_of("FIX.4.4:ISLD->A", 8));
	rfx_settings_free(s);
}

Test(settings, conformance_at_cfg_loads, .timeout = 10)
{
	const char *shared = shared_dir();
	struct rfx_settings *s;
	struct rfx_settings_error err;
	char path[4200];

	if (!shared)
		cr_skip_test("../shared not present (conformance data)");
	snprintf(path, sizeof(path), "%s/conformance/at.cfg", shared);
	cr_assert_eq(rfx_settings_load(path, &s, &err), 0, "%s", err.text);
	cr_assert_eq(s->nsessions, 5);
	cr_expect_str_eq(s->sessions[0].id, "FIX.4.2:ISLD->TW42");
	cr_expect_str_eq(s->sessions[2].id, "FIXT.1.1:ISLD->TW50SP2");
	cr_expect_str_eq(s->sessions[2].default_appl_ver_id, "9");
	cr_expect(s->sessions[0].reset_on_logon);
	cr_expect(s->sessions[3].validate_fields_have_values);
	cr_expect(!s->sessions[4].validate_fields_have_values);
	/* Relative dictionary paths resolve against the settings file's directory. */
	cr_expect_eq(access(s->sessions[0].data_dictionary, R_OK), 0, "%s",
		     s->sessions[0].data_dictionary);
	cr_expect_eq(access(s->sessions[2].transport_data_dictionary, R_OK), 0);
	cr_expect_eq(access(s->sessions[2].app_data_dictionary, R_OK), 0);
	/* Every session's dictionaries load, and the switches map to validator flags. */
	for (unsigned i = 0; i < s->nsessions; i++) {
		const struct rfx_session_settings *ss = &s->sessions[i];
		const char *paths[2] = { ss->data_dictionary, NULL };
		struct rfx_dict_error derr;
		if (!ss->data_dictionary[0]) {
			paths[0] = ss->transport_data_dictionary;
			paths[1] = ss->app_data_dictionary;
		}
		for (int k = 0; k < 2 && paths[k]; k++) {
			struct rfx_dict *d;
			cr_expect_eq(rfx_dict_load(paths[k], &d, &derr), 0, "%s", derr.text);
			rfx_dict_free(d);
		}
	}
	cr_expect_eq(rfx_session_settings_validate_flags(&s->sessions[3]), RFX_VALIDATE_DEFAULT);
	cr_expect_eq(rfx_session_settings_validate_flags(&s->sessions[4]),
		     RFX_VALIDATE_DEFAULT & ~RFX_VALIDATE_FIELDS_HAVE_VALUES);
	rfx_settings_free(s);
}

Test(settings, load_reports_missing_file, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;

	cr_expect_eq(rfx_settings_load("/nonexistent/ringfix.cfg", &s, &err), -ENOENT);
	cr_expect_null(s);
	cr_expect(strstr(err.text, "/nonexistent/ringfix.cfg: cannot open") == err.text, "%s",
		  err.text);
	cr_expect_eq(rfx_settings_load("/dev/null", &s, &err), RFX_ECONFIG);
	cr_expect(strstr(err.text, "not a regular file") != NULL, "%s", err.text);
}

Test(settings, load_resolves_paths_against_file_dir, .timeout = 10)
{
	char dir[] = "/tmp/rfx_cfgXXXXXX", path[256];
	struct rfx_settings *s;
	struct rfx_settings_error err;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.cfg", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("[ENGINE]\nStorePath=data\n" ACCEPTOR "UseDataDictionary=Y\n"
	      "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A\nDataDictionary=/abs/FIX44.xml\n"
	      "[SESSION]\nBeginString=FIX.4.2\nTargetCompID=A\nDataDictionary=d/FIX42.xml\n", f);
	fclose(f);
	/* UseDataDictionary given twice in [DEFAULT]: an error at line 10. */
	cr_expect_eq(rfx_settings_load(path, &s, &err), RFX_ECONFIG);
	cr_expect_eq(err.line, 10);
	cr_expect_str_eq(err.key, "UseDataDictionary");
	f = fopen(path, "w");
	fputs("[ENGINE]\nStorePath=data\n" ACCEPTOR
	      "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A\nDataDictionary=/abs/FIX44.xml\n"
	      "[SESSION]\nBeginString=FIX.4.2\nTargetCompID=A\nDataDictionary=d/FIX42.xml\n", f);
	fclose(f);
	cr_assert_eq(rfx_settings_load(path, &s, &err), 0, "%s", err.text);
	snprintf(path, sizeof(path), "%s/data", dir);
	cr_expect_str_eq(s->engine.store_path, path);
	cr_expect_str_eq(s->sessions[0].data_dictionary, "/abs/FIX44.xml");
	snprintf(path, sizeof(path), "%s/d/FIX42.xml", dir);
	cr_expect_str_eq(s->sessions[1].data_dictionary, path);
	rfx_settings_free(s);
	snprintf(path, sizeof(path), "%s/x.cfg", dir);
	unlink(path);
	rmdir(dir);
}

/* ---- every error path names file, line, key and why ---- */

#define SESSION44 "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A\n"

Test(settings_errors, unknown_key, .timeout = 10)
{
	expect_error(ACCEPTOR SESSION44 "Frobnicate=1\n", 11, "Frobnicate", "unknown key");
	expect_error(ACCEPTOR SESSION44 "heartbtint=1\n", 11, "heartbtint",
		     "did you mean HeartBtInt?");
	expect_error(ACCEPTOR SESSION44 "SocketConnectHost9=h\n", 11, "SocketConnectHost9",
		     "unknown key");
}

Test(settings_errors, bad_values, .timeout = 10)
{
	expect_error(ACCEPTOR SESSION44 "ResetOnLogon=yes\n", 11, "ResetOnLogon", "not Y or N");
	expect_error(ACCEPTOR SESSION44 "HeartBtInt=3x\n", 11, "HeartBtInt", "not a whole number");
	expect_error(ACCEPTOR SESSION44 "HeartBtInt=0\n", 11, "HeartBtInt", "out of range 1..86400");
	expect_error(ACCEPTOR SESSION44 "HeartBtInt=\n", 11, "HeartBtInt", "not a whole number");
	expect_error(ACCEPTOR SESSION44 "SocketAcceptPort=70000\n", 11, "SocketAcceptPort",
		     "out of range");
	expect_error(ACCEPTOR SESSION44 "StartTime=24:00:00\n", 11, "StartTime", "HH:MM:SS");
	expect_error(ACCEPTOR SESSION44 "StartTime=8:00:00\n", 11, "StartTime", "HH:MM:SS");
	expect_error(ACCEPTOR SESSION44 "StartDay=M\n", 11, "StartDay", "day of the week");
	expect_error(ACCEPTOR SESSION44 "TimeZone=Europe/London\nUseLocalTime=Y\n", 11, "TimeZone",
		     "conflicts with UseLocalTime");
	expect_error(ACCEPTOR SESSION44 "ConnectionType=both\n", 11, "ConnectionType",
		     "not one of initiator|acceptor");
	expect_error(ACCEPTOR "[SESSION]\nBeginString=FIX.4.5\nTargetCompID=A\n", 9, "BeginString",
		     "not one of");
	expect_error(ACCEPTOR SESSION44 "TimestampPrecision=10\n", 11, "TimestampPrecision",
		     "out of range 0..9");
	expect_error(ACCEPTOR SESSION44 "DefaultApplVerID=FIX.5.1\n", 11, "DefaultApplVerID",
		     "not an ApplVerID");
	expect_error(ACCEPTOR SESSION44 "TargetSubID=a:b\n", 11, "TargetSubID", "separate");
	expect_error(ACCEPTOR "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A->B\n", 10,
		     "TargetCompID", "separate");
	expect_error(ACCEPTOR SESSION44 "SessionQualifier=0123456789012345678901234567890123456789"
		     "012345678901234567890123456789\n", 11, "SessionQualifier", "at most 63");
}

Test(settings_errors, engine_values, .timeout = 10)
{
	expect_error("[ENGINE]\nShards=0\n" ACCEPTOR SESSION44, 2, "Shards", "out of range 1..256");
	expect_error("[ENGINE]\nToShardRingSize=100000\n" ACCEPTOR SESSION44, 2, "ToShardRingSize",
		     "power of two");
	expect_error("[ENGINE]\nIdleStrategy=nap\n" ACCEPTOR SESSION44, 2, "IdleStrategy",
		     "spin|spin-yield|block");
	expect_error("[ENGINE]\nShards=2\nShardCpus=1,2,3\n" ACCEPTOR SESSION44, 3, "ShardCpus",
		     "3 CPUs listed for Shards=2");
	expect_error("[ENGINE]\nShardCpus=3-1\n" ACCEPTOR SESSION44, 2, "ShardCpus", "not valid");
	expect_error("[ENGINE]\nShardCpus=a\n" ACCEPTOR SESSION44, 2, "ShardCpus", "CPU list");
	expect_error("[ENGINE]\nShards=2\n" ACCEPTOR SESSION44 "Shard=2\n", 13, "Shard",
		     "shard 2 does not exist");
}

Test(settings_errors, keys_in_the_wrong_section, .timeout = 10)
{
	expect_error(ACCEPTOR "Shards=2\n" SESSION44, 8, "Shards", "belongs in [ENGINE]");
	expect_error("[ENGINE]\nHeartBtInt=30\n" ACCEPTOR SESSION44, 2, "HeartBtInt",
		     "not [ENGINE]");
}

Test(settings_errors, syntax, .timeout = 10)
{
	expect_error("BeginString=FIX.4.4\n" ACCEPTOR SESSION44, 1, "BeginString",
		     "outside any section");
	expect_error(ACCEPTOR "[SESSIONS]\n" SESSION44, 8, "", "unknown section [SESSIONS]");
	expect_error(ACCEPTOR "[SESSION\n", 8, "", "without closing");
	expect_error(ACCEPTOR SESSION44 "just words\n", 11, "", "expected Key=Value");
	expect_error(ACCEPTOR SESSION44 "=value\n", 11, "", "empty key");
	expect_error(ACCEPTOR, 0, "", "no [SESSION]");
}

Test(settings_errors, duplicates, .timeout = 10)
{
	expect_error(ACCEPTOR SESSION44 "HeartBtInt=1\nHeartBtInt=2\n", 12, "HeartBtInt",
		     "given twice");
	expect_error(ACCEPTOR SESSION44 SESSION44, 11, "",
		     "duplicate session FIX.4.4:ISLD->A: same BeginString");
	expect_error(ACCEPTOR SESSION44 "SessionQualifier=x\n" SESSION44 "SessionQualifier=x\n",
		     12, "", "the [SESSION] at line 8");
}

Test(settings_errors, distinct_sessions_are_not_duplicates, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;
	const char *cfg = ACCEPTOR SESSION44 SESSION44 "SessionQualifier=2\n" SESSION44
		"TargetSubID=x\n" SESSION44 "SenderLocationID=y\n"
		"[SESSION]\nBeginString=FIX.4.2\nTargetCompID=A\n";

	cr_expect_eq(parse(cfg, &s, &err), 0, "%s", err.text);
	cr_expect_eq(s->nsessions, 5);
	rfx_settings_free(s);
}

Test(settings_errors, missing_required, .timeout = 10)
{
	const char *base = "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\n"
		"UseDataDictionary=N\nSenderCompID=S\n";
	char cfg[1024];

	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nTargetCompID=T\nConnectionType=acceptor\n"
		 "SocketAcceptPort=1\n", base);
	expect_error(cfg, 6, "BeginString", "missing");
	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T\n", base);
	expect_error(cfg, 6, "ConnectionType", "missing");
	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIX.4.4\nConnectionType=acceptor\n"
		 "SocketAcceptPort=1\n", base);
	expect_error(cfg, 6, "TargetCompID", "missing");
	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T\n"
		 "ConnectionType=acceptor\n", base);
	expect_error(cfg, 6, "SocketAcceptPort", "acceptors listen");
	snprintf(cfg, sizeof(cfg), "[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T\n"
		 "SenderCompID=S\nUseDataDictionary=N\nConnectionType=acceptor\n"
		 "SocketAcceptPort=1\n");
	expect_error(cfg, 1, "StartTime", "NonStopSession");
	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T\n"
		 "ConnectionType=initiator\nHeartBtInt=30\n", base);
	expect_error(cfg, 6, "SocketConnectHost", "missing");
	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T\n"
		 "ConnectionType=acceptor\nSocketAcceptPort=1\nStartDay=Mon\n", base);
	expect_error(cfg, 11, "EndDay", "both StartDay and EndDay"); /* at StartDay */
	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIXT.1.1\nTargetCompID=T\n"
		 "ConnectionType=acceptor\nSocketAcceptPort=1\n", base);
	expect_error(cfg, 6, "DefaultApplVerID", "FIXT.1.1");
	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T\n"
		 "ConnectionType=acceptor\nSocketAcceptPort=1\nUseDataDictionary=Y\n", base);
	expect_error(cfg, 6, "DataDictionary", "UseDataDictionary=Y");
	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIXT.1.1\nTargetCompID=T\n"
		 "ConnectionType=acceptor\nSocketAcceptPort=1\nUseDataDictionary=Y\n"
		 "DefaultApplVerID=9\nAppDataDictionary=x.xml\n", base);
	expect_error(cfg, 6, "TransportDataDictionary", "FIXT11");
	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T\n"
		 "ConnectionType=acceptor\nSocketAcceptPort=1\nSocketUseSSL=Y\n", base);
	expect_error(cfg, 6, "ServerCertificateFile", "TLS acceptor");
}

Test(settings_errors, failover_pairs_and_gaps, .timeout = 10)
{
	const char *base = "[DEFAULT]\nNonStopSession=Y\nUseDataDictionary=N\nSenderCompID=S\n"
		"ConnectionType=initiator\nSocketConnectHost=h\nSocketConnectPort=1\nHeartBtInt=5\n";
	char cfg[1024];

	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T\n"
		 "SocketConnectHost1=h1\n", base);
	expect_error(cfg, 12, "SocketConnectPort1", "in pairs");
	snprintf(cfg, sizeof(cfg), "%s[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T\n"
		 "SocketConnectHost2=h2\nSocketConnectPort2=2\n", base);
	expect_error(cfg, 12, "SocketConnectHost2", "without gaps");
}

Test(settings_errors, counts_all_errors_keeps_first, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;

	cr_expect_eq(parse(ACCEPTOR SESSION44 "HeartBtInt=x\nResetOnLogon=1\nBogus=2\n", &s, &err),
		     RFX_ECONFIG);
	cr_expect_eq(err.count, 3);
	cr_expect_str_eq(err.key, "HeartBtInt");
	cr_expect_eq(err.line, 11);
	cr_expect_str_eq(err.text, "t.cfg:11: HeartBtInt: 'x' is not a whole number");
	/* A NULL error struct is allowed. */
	cr_expect_eq(parse(ACCEPTOR SESSION44 "Bogus=2\n", &s, NULL), RFX_ECONFIG);
}

Test(settings, quickfix_keys_ringfix_ignores_are_accepted, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;

	cr_expect_eq(parse(ACCEPTOR "FileStorePath=store\nFileLogPath=log\nSocketReuseAddress=Y\n"
			   "ScreenLogShowIncoming=N\nMillisecondsInTimeStamp=Y\n" SESSION44,
			   &s, &err), 0, "%s", err.text);
	rfx_settings_free(s);
}

Test(settings, key_table_is_sound, .timeout = 10)
{
	unsigned n, ignored = 0;
	const struct rfx_settings_key *k = rfx_settings_keys(&n);
	const char *quickfix_keys[] = {
		"BeginString", "SenderCompID", "SenderSubID", "SenderLocationID", "TargetCompID",
		"TargetSubID", "TargetLocationID", "SessionQualifier", "DefaultApplVerID",
		"ConnectionType", "StartTime", "EndTime", "StartDay", "EndDay", "TimeZone",
		"UseLocalTime", "LogonTime", "LogoutTime", "HeartBtInt", "SocketAcceptPort",
		"SocketAcceptAddress", "SocketConnectHost", "SocketConnectPort", "ReconnectInterval",
		"LogonTimeout", "LogoutTimeout", "ResetOnLogon", "ResetOnLogout", "ResetOnDisconnect",
		"RefreshOnLogon", "SendRedundantResendRequests", "ResendRequestChunkSize",
		"CheckCompID", "CheckLatency", "MaxLatency", "TimestampPrecision",
		"UseDataDictionary", "DataDictionary", "TransportDataDictionary",
		"AppDataDictionary", "ValidateFieldsOutOfOrder", "ValidateFieldsHaveValues",
		"ValidateUserDefinedFields", "AllowUnknownMsgFields", "PersistMessages",
		"SocketNodelay", "SSLProtocol", "SSLCipherSuite", "ServerCertificateFile",
		"ServerCertificateKeyFile", "ClientCertificateFile", "ClientCertificateKeyFile",
		"CertificationAuthoritiesFile", "CertificateVerifyLevel",
	};

	cr_assert_gt(n, 60);
	for (unsigned i = 0; i < n; i++) {
		cr_expect(k[i].description && k[i].description[0], "%s", k[i].name);
		cr_expect(strcmp(k[i].section, "ENGINE") == 0 || strcmp(k[i].section, "SESSION") == 0);
		ignored += strcmp(k[i].type, "ignored") == 0;
		for (unsigned j = i + 1; j < n; j++)
			cr_expect_str_neq(k[i].name, k[j].name);
	}
	cr_expect_gt(ignored, 10);
	for (size_t q = 0; q < sizeof(quickfix_keys) / sizeof(quickfix_keys[0]); q++) {
		unsigned i;
		for (i = 0; i < n; i++)
			if (strcmp(k[i].name, quickfix_keys[q]) == 0)
				break;
		cr_expect_lt(i, n, "QuickFIX key %s missing", quickfix_keys[q]);
	}
}

/* ---- ENC() secrets ---- */

static const char key_hex[] =
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

Test(settings_secrets, enc_values_decrypt_with_env_key, .timeout = 10)
{
	uint8_t key[RFX_SECRET_KEY_LEN];
	char enc[RFX_SECRET_ENC_SIZE(32)], cfg[2048];
	struct rfx_settings *s;
	struct rfx_settings_error err;

	cr_assert_eq(rfx_secret_key_from_hex(key_hex, strlen(key_hex), key), 0);
	cr_assert_gt(rfx_secret_encrypt(key, "hunter2", 7, enc, sizeof(enc)), 0);
	setenv("RFX_TEST_SETTINGS_KEY", key_hex, 1);
	snprintf(cfg, sizeof(cfg), "[ENGINE]\nSecretKeyEnv=RFX_TEST_SETTINGS_KEY\n" ACCEPTOR
		 SESSION44 "Password=%s\n", enc);
	cr_assert_eq(parse(cfg, &s, &err), 0, "%s", err.text);
	cr_expect_str_eq(s->sessions[0].password, "hunter2");
	rfx_settings_free(s);
	unsetenv("RFX_TEST_SETTINGS_KEY");
}

Test(settings_secrets, enc_values_decrypt_with_key_file, .timeout = 10)
{
	char path[] = "/tmp/rfx_keyXXXXXX", enc[RFX_SECRET_ENC_SIZE(32)], cfg[2048];
	uint8_t key[RFX_SECRET_KEY_LEN];
	struct rfx_settings *s;
	struct rfx_settings_error err;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, key_hex, 64), 64);
	close(fd);
	cr_assert_eq(rfx_secret_key_from_hex(key_hex, 64, key), 0);
	cr_assert_gt(rfx_secret_encrypt(key, "kp", 2, enc, sizeof(enc)), 0);
	snprintf(cfg, sizeof(cfg), "[ENGINE]\nSecretKeyFile=%s\n" ACCEPTOR SESSION44
		 "CertificateKeyPassword=%s\nUsername=%s\n", path, enc, enc);
	cr_assert_eq(parse(cfg, &s, &err), 0, "%s", err.text);
	cr_expect_str_eq(s->sessions[0].certificate_key_password, "kp");
	cr_expect_str_eq(s->sessions[0].username, "kp");
	rfx_settings_free(s);
	chmod(path, 0640);
	cr_expect_eq(parse(cfg, &s, &err), RFX_ESECRET);
	cr_expect(strstr(err.reason, "mode 0600") != NULL, "%s", err.text);
	cr_expect_eq(err.line, 13, "first ENC() value: %s", err.text);
	unlink(path);
}

Test(settings_secrets, errors_never_show_secrets, .timeout = 10)
{
	uint8_t key[RFX_SECRET_KEY_LEN];
	char enc[RFX_SECRET_ENC_SIZE(32)], cfg[2048];
	struct rfx_settings *s;
	struct rfx_settings_error err;

	cr_assert_eq(rfx_secret_key_from_hex(key_hex, 64, key), 0);
	cr_assert_gt(rfx_secret_encrypt(key, "topsecret", 9, enc, sizeof(enc)), 0);

	/* No key configured. */
	snprintf(cfg, sizeof(cfg), ACCEPTOR SESSION44 "Password=%s\n", enc);
	cr_expect_eq(parse(cfg, &s, &err), RFX_ESECRET);
	cr_expect_str_eq(err.key, "Password");
	cr_expect(strstr(err.reason, "SecretKeyFile") != NULL, "%s", err.text);
	cr_expect_null(strstr(err.text, enc + 4));

	/* Wrong key. */
	setenv("RFX_TEST_WRONG_KEY", "ff112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	       1);
	snprintf(cfg, sizeof(cfg), "[ENGINE]\nSecretKeyEnv=RFX_TEST_WRONG_KEY\n" ACCEPTOR SESSION44
		 "Password=%s\n", enc);
	cr_expect_eq(parse(cfg, &s, &err), RFX_ESECRET);
	cr_expect(strstr(err.reason, "cannot be decrypted") != NULL, "%s", err.text);
	cr_expect_null(strstr(err.text, enc + 4));
	cr_expect_null(strstr(err.text, "topsecret"));
	unsetenv("RFX_TEST_WRONG_KEY");

	/* Env variable named but unset, or not hex. */
	snprintf(cfg, sizeof(cfg), "[ENGINE]\nSecretKeyEnv=RFX_TEST_UNSET_KEY\n" ACCEPTOR SESSION44
		 "Password=%s\n", enc);
	cr_expect_eq(parse(cfg, &s, &err), RFX_ESECRET);
	cr_expect(strstr(err.reason, "is not set") != NULL, "%s", err.text);
	setenv("RFX_TEST_UNSET_KEY", "nothex", 1);
	cr_expect_eq(parse(cfg, &s, &err), RFX_ESECRET);
	cr_expect(strstr(err.reason, "64 hex digits") != NULL, "%s", err.text);
	unsetenv("RFX_TEST_UNSET_KEY");

	/* A plaintext secret that is too long is reported without its value. */
	expect_error(ACCEPTOR SESSION44 "Password=verysecretverysecretverysecretverysecretverysecret"
		     "verysecretverysecretverysecretverysecretverysecretverysecretverysecret"
		     "verysecretverysecretverysecret\n",
		     11, "Password", "at most 127");
	parse(ACCEPTOR SESSION44 "Password=verysecretverysecretverysecretverysecretverysecret"
	      "verysecretverysecretverysecretverysecretverysecretverysecretverysecret"
		     "verysecretverysecretverysecret\n", &s, &err);
	cr_expect_null(strstr(err.text, "verysecret"));
	/* Unknown keys are named, their values never shown. */
	parse(ACCEPTOR SESSION44 "Pasword=plaintext\n", &s, &err);
	cr_expect_null(strstr(err.text, "plaintext"));
}

/* Many sessions (RFX_TEST_SESSIONS, default 2000): parsing stays linear and the
 * duplicate check still finds the one duplicate at the end. */
Test(settings, many_sessions, .timeout = 60)
{
	const char *env = getenv("RFX_TEST_SESSIONS");
	long n = env ? atol(env) : 2000;
	size_t cap = (size_t)n * 96 + 512, len = 0;
	char *cfg = malloc(cap);
	struct rfx_settings *s;
	struct rfx_settings_error err;

	cr_assert_not_null(cfg);
	cr_assert_gt(n, 1);
	len += (size_t)snprintf(cfg + len, cap - len, "[ENGINE]\nShards=4\n%s", ACCEPTOR);
	for (long i = 0; i < n; i++)
		len += (size_t)snprintf(cfg + len, cap - len,
					"[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T%ld\n", i);
	cr_assert_eq(rfx_settings_parse(cfg, len, "t.cfg", NULL, &s, &err), 0, "%s", err.text);
	cr_expect_eq(s->nsessions, (unsigned)n);
	unsigned per_shard[4] = {0};
	for (unsigned i = 0; i < s->nsessions; i++)
		per_shard[s->sessions[i].shard]++;
	for (int k = 0; k < 4; k++)
		cr_expect_gt(per_shard[k], (unsigned)n / 8, "hash spreads sessions over shards");
	rfx_settings_free(s);
	len += (size_t)snprintf(cfg + len, cap - len,
				"[SESSION]\nBeginString=FIX.4.4\nTargetCompID=T7\n");
	cr_expect_eq(rfx_settings_parse(cfg, len, "t.cfg", NULL, &s, &err), RFX_ECONFIG);
	cr_expect(strstr(err.reason, "duplicate session FIX.4.4:ISLD->T7") != NULL, "%s", err.text);
	free(cfg);
}

/* Mutated settings files (RFX_TEST_MUTATIONS, default 3000; fixed seed) never
 * crash or over-read the guard page: each parses or fails with an error. */
Test(settings, mutations_fail_cleanly, .timeout = 60)
{
	static const char base[] =
		"[ENGINE]\nShards=2\nShardCpus=1,2\n" ACCEPTOR "Password=pw#1\n"
		"[SESSION]\nBeginString=FIX.4.4\nTargetCompID=A\nStartDay=Mon\nEndDay=Fri\n"
		"[SESSION]\nBeginString=FIXT.1.1\nDefaultApplVerID=9\nTargetCompID=B\n"
		"SocketConnectHost1=h\nPassword=ENC(AAAA)\n";
	static const char tokens[] = "[]=\n#;:/>-ENC() \r\t0123456789YN";
	const char *env = getenv("RFX_TEST_MUTATIONS");
	long n = env ? atol(env) : 3000;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char buf[sizeof(base) + 64];

	for (long it = 0; it < n; it++) {
		size_t len = sizeof(base) - 1;
		struct rfx_settings *s;
		struct rfx_settings_error err;
		memcpy(buf, base, len);
		for (int k = 0, edits = 1 + (int)(x % 4); k < edits && len > 0; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t pos = (size_t)(x >> 8) % len;
			switch (x % 3) {
			case 0: buf[pos] = tokens[(x >> 32) % (sizeof(tokens) - 1)]; break;
			case 1: len = pos; break; /* truncate */
			default: buf[pos] = (char)(x >> 40); break;
			}
		}
		int rc = parse_n(buf, len, &s, &err);
		cr_assert(rc == 0 || rc == RFX_ECONFIG || rc == RFX_ESECRET, "rc %d", rc);
		if (rc == 0)
			rfx_settings_free(s);
		else
			cr_assert(err.count >= 1 && err.text[0], "rc %d without an error text", rc);
	}
}

/* QuickFIX's AppDataDictionary.<version> keys (FIXT.1.1): one application
 * dictionary per ApplVerID, by version name or code; a [SESSION] key replaces
 * the [DEFAULT] one of the same version. */
Test(settings, keyed_app_data_dictionaries, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;
	const char *cfg = ACCEPTOR
		"TransportDataDictionary=/d/FIXT11.xml\nAppDataDictionary.FIX.5.0SP1=/d/sp1.xml\n"
		"AppDataDictionary.7=/d/fix50.xml\n"
		"[SESSION]\nBeginString=FIXT.1.1\nTargetCompID=A\nDefaultApplVerID=FIX.5.0SP2\n"
		"UseDataDictionary=Y\nAppDataDictionary=/d/sp2.xml\n"
		"AppDataDictionary.FIX.5.0SP1=/d/sp1-venue.xml\n"
		"[SESSION]\nBeginString=FIXT.1.1\nTargetCompID=B\nDefaultApplVerID=9\n"
		"UseDataDictionary=Y\nAppDataDictionary.FIX.5.0SP2=/d/only-keyed.xml\n";

	cr_assert_eq(parse(cfg, &s, &err), 0, "%s", err.text);
	const struct rfx_session_settings *a = &s->sessions[0], *b = &s->sessions[1];
	cr_expect_eq(a->napp_dicts, 2);
	cr_expect_str_eq(rfx_session_settings_app_dict(a, "9"), "/d/sp2.xml");
	cr_expect_str_eq(rfx_session_settings_app_dict(a, "8"), "/d/sp1-venue.xml");
	cr_expect_str_eq(rfx_session_settings_app_dict(a, "7"), "/d/fix50.xml");
	cr_expect_null(rfx_session_settings_app_dict(a, "6"));
	cr_expect_eq(b->napp_dicts, 3);
	cr_expect_str_eq(rfx_session_settings_app_dict(b, "9"), "/d/only-keyed.xml");
	cr_expect_str_eq(rfx_session_settings_app_dict(b, "8"), "/d/sp1.xml");
	rfx_settings_free(s);
}

Test(settings_errors, keyed_app_data_dictionaries, .timeout = 10)
{
	expect_error(ACCEPTOR SESSION44 "AppDataDictionary.FIX.9.9=x.xml\n", 11,
		     "AppDataDictionary.FIX.9.9", "not an application version");
	expect_error(ACCEPTOR SESSION44 "AppDataDictionary.FIX.5.0=x.xml\n"
		     "AppDataDictionary.7=y.xml\n", 12, "AppDataDictionary.7", "given twice");
	expect_error("[ENGINE]\nAppDataDictionary.9=x.xml\n" ACCEPTOR SESSION44, 2,
		     "AppDataDictionary.9", "not [ENGINE]");
	expect_error(ACCEPTOR SESSION44 "AppDataDictionary.2=a\nAppDataDictionary.3=b\n"
		     "AppDataDictionary.4=c\nAppDataDictionary.5=d\nAppDataDictionary.6=e\n", 15,
		     "AppDataDictionary.6", "more than 4");
	/* FIXT.1.1 with a dictionary for another version than DefaultApplVerID only. */
	expect_error(ACCEPTOR "[SESSION]\nBeginString=FIXT.1.1\nTargetCompID=T\n"
		     "DefaultApplVerID=9\nUseDataDictionary=Y\nTransportDataDictionary=t.xml\n"
		     "AppDataDictionary.8=x.xml\n", 8, "AppDataDictionary",
		     "AppDataDictionary.<DefaultApplVerID>");
}
