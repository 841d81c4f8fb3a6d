/*
 * Settings -> worker configuration (shard/worker_conf.c): what each shard
 * process will run, checked without starting one.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/error.h"
#include "engine/secret.h"
#include "engine/settings.h"
#include "shard/worker.h"
#include "shard/worker_conf.h"

static struct rfx_worker_conf *conf_of(const char *text, int *rc, char *err, size_t errlen)
{
	struct rfx_settings *s = NULL;
	struct rfx_settings_error e = {0};
	struct rfx_worker_conf *c = NULL;
	int r = rfx_settings_parse(text, strlen(text), "test.cfg", NULL, &s, &e);
	cr_assert_eq(r, 0, "settings: %s", e.text);
	*rc = rfx_worker_conf_new(s, &c, err, errlen);
	rfx_settings_free(s);
	return c;
}

Test(worker_conf, sessions_shards_and_protocol, .timeout = 10)
{
	const char *text =
		"[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nSenderCompID=ME\n"
		"UseDataDictionary=N\nHeartBtInt=15\n"
		"[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nTargetCompID=A\n"
		"SocketAcceptPort=7001\nShard=1\n"
		"[SESSION]\nConnectionType=initiator\nBeginString=FIXT.1.1\nTargetCompID=B\n"
		"DefaultApplVerID=FIX.5.0SP2\nSocketConnectHost=127.0.0.1\nSocketConnectPort=7002\n"
		"SocketConnectHost1=localhost\nSocketConnectPort1=7003\nReconnectInterval=3\n"
		"ResetOnLogon=Y\nShard=0\n"
		"[ENGINE]\nInstanceName=unit\nShards=2\nShardCpus=0,1\nIdleStrategy=block\n";
	char err[256] = "";
	int rc;
	struct rfx_worker_conf *c = conf_of(text, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect_str_eq(rfx_worker_conf_instance(c), "unit");
	cr_expect_eq(rfx_worker_conf_shards(c), 2);
	cr_expect_eq(rfx_worker_conf_cpu(c, 1), 1);
	cr_expect_eq(rfx_worker_conf_cpu(c, 2), -1);
	cr_assert_eq(c->nsessions, 2);
	const struct rfx_worker_session_conf *a = &c->sessions[0], *b = &c->sessions[1];
	cr_expect_str_eq(a->id, "FIX.4.4:ME->A");
	cr_expect(a->acceptor);
	cr_expect_eq(a->shard, 1);
	cr_expect_eq(a->accept_port, 7001);
	cr_expect_eq(a->cfg.role, RFX_SESSION_ACCEPTOR);
	cr_expect_eq(a->cfg.heart_bt_int, 15);
	cr_expect_not(a->use_dictionary);
	cr_expect_not(a->cfg.schedule == NULL, "StartTime/EndTime make a schedule");
	cr_expect_not(b->acceptor);
	cr_expect_eq(b->cfg.role, RFX_SESSION_INITIATOR);
	cr_expect_eq(b->shard, 0);
	cr_expect_str_eq(b->cfg.default_appl_ver_id, "9", "FIX.5.0SP2 goes on the wire as 9");
	cr_expect(b->cfg.reset_on_logon);
	cr_expect_eq(b->nconnect, 2);
	cr_expect_str_eq(b->connect[1].host, "localhost");
	cr_expect_eq(b->connect[1].port, 7003);
	cr_expect_eq(b->reconnect_interval, 3);
	rfx_worker_conf_free(c);
}

Test(worker_conf, dictionaries, .timeout = 10)
{
	const char *text =
		"[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nSenderCompID=ME\n"
		"ConnectionType=acceptor\nSocketAcceptPort=7001\n"
		"[SESSION]\nBeginString=FIX.4.2\nTargetCompID=A\nDataDictionary=/d/FIX42.xml\n"
		"[SESSION]\nBeginString=FIXT.1.1\nTargetCompID=B\nDefaultApplVerID=9\n"
		"TransportDataDictionary=/d/FIXT11.xml\nAppDataDictionary=/d/FIX50SP2.xml\n";
	char err[256] = "";
	int rc;
	struct rfx_worker_conf *c = conf_of(text, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect(c->sessions[0].use_dictionary);
	cr_expect_str_eq(c->sessions[0].transport_dict, "/d/FIX42.xml");
	cr_expect_str_eq(c->sessions[0].app_dict, "/d/FIX42.xml");
	cr_expect_str_eq(c->sessions[1].transport_dict, "/d/FIXT11.xml");
	cr_expect_str_eq(c->sessions[1].app_dict, "/d/FIX50SP2.xml");
	cr_expect_str_eq(c->sessions[1].cfg.default_appl_ver_id, "9");
	/* One application dictionary per version: here only the default's. */
	cr_expect_eq(c->sessions[0].napps, 0);
	cr_assert_eq(c->sessions[1].napps, 1);
	cr_expect_str_eq(c->sessions[1].apps[0].appl_ver_id, "9");
	cr_expect_str_eq(c->sessions[1].apps[0].path, "/d/FIX50SP2.xml");
	rfx_worker_conf_free(c);
}

/* AppDataDictionary.<version>: one entry per ApplVerID code, the default's
 * included; the DefaultApplVerID's may be given by its keyed entry alone. */
Test(worker_conf, keyed_app_dictionaries, .timeout = 10)
{
	const char *text =
		"[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nSenderCompID=ME\n"
		"ConnectionType=acceptor\nSocketAcceptPort=7001\nBeginString=FIXT.1.1\n"
		"TransportDataDictionary=/d/FIXT11.xml\n"
		"[SESSION]\nTargetCompID=A\nDefaultApplVerID=FIX.5.0SP2\n"
		"AppDataDictionary=/d/FIX50SP2.xml\nAppDataDictionary.FIX.5.0SP1=/d/SP1.xml\n"
		"AppDataDictionary.7=/d/FIX50.xml\n"
		"[SESSION]\nTargetCompID=B\nDefaultApplVerID=8\n"
		"AppDataDictionary.FIX.5.0SP1=/d/SP1.xml\n";
	char err[256] = "";
	int rc;
	struct rfx_worker_conf *c = conf_of(text, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	const struct rfx_worker_session_conf *a = &c->sessions[0], *b = &c->sessions[1];
	cr_expect_str_eq(a->app_dict, "/d/FIX50SP2.xml");
	cr_assert_eq(a->napps, 3);
	cr_expect_str_eq(a->apps[0].appl_ver_id, "8");
	cr_expect_str_eq(a->apps[0].path, "/d/SP1.xml");
	cr_expect_str_eq(a->apps[1].appl_ver_id, "7");
	cr_expect_str_eq(a->apps[1].path, "/d/FIX50.xml");
	cr_expect_str_eq(a->apps[2].appl_ver_id, "9");
	cr_expect_str_eq(a->apps[2].path, "/d/FIX50SP2.xml");
	/* No plain AppDataDictionary: the keyed one is the default's, not FIXT11. */
	cr_expect_str_eq(b->app_dict, "/d/SP1.xml");
	cr_assert_eq(b->napps, 1);
	cr_expect_str_eq(b->apps[0].appl_ver_id, "8");
	/* A changed keyed dictionary is a changed session (SIGHUP reload). */
	const char *text2 = "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nSenderCompID=ME\n"
		"ConnectionType=acceptor\nSocketAcceptPort=7001\nBeginString=FIXT.1.1\n"
		"TransportDataDictionary=/d/FIXT11.xml\n"
		"[SESSION]\nTargetCompID=A\nDefaultApplVerID=FIX.5.0SP2\n"
		"AppDataDictionary=/d/FIX50SP2.xml\nAppDataDictionary.FIX.5.0SP1=/d/SP1b.xml\n"
		"AppDataDictionary.7=/d/FIX50.xml\n"
		"[SESSION]\nTargetCompID=B\nDefaultApplVerID=8\n"
		"AppDataDictionary.FIX.5.0SP1=/d/SP1.xml\n";
	struct rfx_worker_conf *c2 = conf_of(text2, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect_eq(rfx_worker_conf_shard_differs(c, c2, 0), 1);
	cr_expect_eq(rfx_worker_conf_shard_differs(c, c, 0), 0);
	rfx_worker_conf_free(c2);
	rfx_worker_conf_free(c);
}

/* UseLocalTime=Y: the schedule runs in the machine's zone ($TZ here). */
Test(worker_conf, local_time_schedule, .timeout = 10)
{
	const char *text =
		"[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=ME\n"
		"TargetCompID=A\nSocketAcceptPort=7001\nStartTime=08:00:00\nEndTime=17:00:00\n"
		"UseLocalTime=Y\nUseDataDictionary=N\n";
	char err[256] = "";
	int rc;

	if (access("/usr/share/zoneinfo/Asia/Tokyo", R_OK) != 0)
		cr_skip_test("time zone Asia/Tokyo not installed (tzdata)");
	setenv("TZ", "Asia/Tokyo", 1);
	struct rfx_worker_conf *c = conf_of(text, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	const struct rfx_schedule *sc = c->sessions[0].cfg.schedule;
	cr_assert_not_null(sc);
	/* 2026-07-14 09:00 JST = 00:00 UTC: in session; 18:00 JST = 09:00 UTC: not. */
	cr_expect(rfx_schedule_in_session(sc, 1783987200LL * 1000000000LL));
	cr_expect(!rfx_schedule_in_session(sc, (1783987200LL + 9 * 3600) * 1000000000LL));
	rfx_worker_conf_free(c);
}

/* Every protocol setting reaches the session (one function maps them,
 * engine/session_config.c). */
Test(worker_conf, protocol_settings_reach_the_session, .timeout = 10)
{
	const char *text =
		"[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=ME\n"
		"TargetCompID=A\nSocketAcceptPort=7001\nUseDataDictionary=N\nNonStopSession=Y\n"
		"TimestampPrecision=6\nSendRedundantResendRequests=Y\nPersistMessages=N\n";
	char err[256] = "";
	int rc;
	struct rfx_worker_conf *c = conf_of(text, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect_eq(c->sessions[0].cfg.timestamp_precision, 6);
	cr_expect(c->sessions[0].cfg.send_redundant_resend_requests);
	cr_expect(c->sessions[0].cfg.no_persist_messages);
	rfx_worker_conf_free(c);
}

/* Acceptor sessions of one port live in the shard that accepts it. */
Test(worker_conf, one_port_one_shard, .timeout = 10)
{
	char text[2048];
	size_t l = (size_t)snprintf(text, sizeof(text),
		"[DEFAULT]\nNonStopSession=Y\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=ME\n"
		"SocketAcceptPort=7001\nUseDataDictionary=N\n[ENGINE]\nShards=4\n");
	for (int i = 0; i < 8; i++)
		l += (size_t)snprintf(text + l, sizeof(text) - l, "[SESSION]\nTargetCompID=T%d\n", i);
	char err[256] = "";
	int rc;
	struct rfx_worker_conf *c = conf_of(text, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	for (unsigned i = 1; i < c->nsessions; i++)
		cr_expect_eq(c->sessions[i].shard, c->sessions[0].shard, "session %u", i);
	rfx_worker_conf_free(c);

	const char *bad =
		"[DEFAULT]\nNonStopSession=Y\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=ME\n"
		"SocketAcceptPort=7001\nUseDataDictionary=N\n[ENGINE]\nShards=2\n"
		"[SESSION]\nTargetCompID=A\nShard=0\n[SESSION]\nTargetCompID=B\nShard=1\n";
	c = conf_of(bad, &rc, err, sizeof(err));
	cr_expect_eq(rc, RFX_ECONFIG);
	cr_expect_null(c);
	cr_expect(strstr(err, "must share a shard") != NULL, "%s", err);
}

/* A self-signed certificate and key in a fresh directory (dir, 64 bytes). */
static void tls_files(char *dir)
{
	char cmd[512];
	snprintf(dir, 64, "%s/rfx-wct.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert(mkdtemp(dir));
	if (system("command -v openssl >/dev/null 2>&1") != 0)
		cr_skip_test("the openssl command is not installed (Debian package openssl)");
	/* c.pem/k.pem, and ec.pem with ek.pem encrypted under "s3cret". */
	snprintf(cmd, sizeof(cmd), "cd '%s' && { openssl req -x509 -newkey rsa:2048 -nodes "
		 "-keyout k.pem -out c.pem -days 1 -subj /CN=t && openssl genpkey -algorithm RSA "
		 "-pkeyopt rsa_keygen_bits:2048 -aes256 -pass pass:s3cret -out ek.pem && "
		 "openssl req -x509 -key ek.pem -passin pass:s3cret -out ec.pem -days 1 "
		 "-subj /CN=t; } >/dev/null 2>&1", dir);
	cr_assert_eq(system(cmd), 0);
}

static void tls_files_rm(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

/* QuickFIX's SSL settings: sessions with the same ones share an entry (one
 * OpenSSL context), SSLProtocol gives the version range, SSLCipherSuite's
 * TLS_* names are TLS 1.3 suites. */
Test(worker_conf, tls_settings, .timeout = 30)
{
	char dir[64], text[2048], err[512] = "";
	int rc;
	tls_files(dir);
	snprintf(text, sizeof(text),
		 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nSenderCompID=ME\n"
		 "UseDataDictionary=N\nHeartBtInt=15\nCertificationAuthoritiesFile=%s/c.pem\n"
		 "ServerCertificateFile=%s/c.pem\nServerCertificateKeyFile=%s/k.pem\n"
		 "[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nTargetCompID=A\n"
		 "SocketAcceptPort=7001\nSocketUseSSL=Y\nCertificateVerifyLevel=1\n"
		 "[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nTargetCompID=B\n"
		 "SocketAcceptPort=7001\nSocketUseSSL=Y\nCertificateVerifyLevel=1\n"
		 "[SESSION]\nConnectionType=initiator\nBeginString=FIX.4.4\nTargetCompID=C\n"
		 "SocketConnectHost=127.0.0.1\nSocketConnectPort=7002\nSocketUseSSL=Y\n"
		 "SSLProtocol=-all +TLSv1_3\n"
		 "SSLCipherSuite=TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256\n"
		 "[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nTargetCompID=D\n"
		 "SocketAcceptPort=7003\n",
		 dir, dir, dir);
	struct rfx_worker_conf *c = conf_of(text, &rc, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(c->ntls, 2, "two distinct TLS configurations");
	cr_expect_eq(c->sessions[0].tls, c->sessions[1].tls);
	cr_expect_eq(c->sessions[3].tls, -1, "SocketUseSSL=N: plain TCP");
	const struct rfx_worker_tls_conf *a = &c->tls[c->sessions[0].tls];
	const struct rfx_worker_tls_conf *i = &c->tls[c->sessions[2].tls];
	cr_expect(a->server);
	cr_expect_eq(a->verify_level, 1);
	cr_expect_str_eq(a->min_version, "");
	cr_expect_not(i->server);
	cr_expect_str_eq(i->min_version, "TLSv1.3");
	cr_expect_str_eq(i->max_version, "");
	cr_expect_str_eq(i->suites, "TLS_AES_128_GCM_SHA256");
	cr_expect_str_eq(i->ciphers, "ECDHE-RSA-AES128-GCM-SHA256");
	cr_expect_str_eq(i->cert_file, "", "an initiator takes ClientCertificateFile");
	rfx_worker_conf_free(c);
	tls_files_rm(dir);
}

Test(worker_conf, tls_errors, .timeout = 30)
{
	char dir[64], text[2048], err[512];
	int rc;
	static const struct {
		const char *session, *want;
	} cases[] = {
		{"SocketUseSSL=Y\nSSLProtocol=all -TLSv1_2 -TLSv1_3\n", "SSLProtocol allows neither"},
		{"SocketUseSSL=Y\nSSLProtocol=TLSv9\n", "SSLProtocol"},
		{"SocketUseSSL=Y\nSSLCipherSuite=NO-SUCH-CIPHER\n", "TLS: no usable cipher"},
		{"SocketUseSSL=Y\nCertificateRevocationListFile=%s/none.pem\n",
		 "TLS: cannot load revocation list"},
		{"SocketUseSSL=N\n", "TLS settings differ"},
	};
	tls_files(dir);
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char sess[256];
		snprintf(sess, sizeof(sess), cases[k].session, dir);
		snprintf(text, sizeof(text),
			 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nSenderCompID=ME\n"
			 "UseDataDictionary=N\nConnectionType=acceptor\nSocketAcceptPort=7001\n"
			 "BeginString=FIX.4.4\nServerCertificateFile=%s/c.pem\n"
			 "ServerCertificateKeyFile=%s/k.pem\n"
			 "[SESSION]\nTargetCompID=A\nSocketUseSSL=Y\n"
			 "[SESSION]\nTargetCompID=B\n%s",
			 dir, dir, sess);
		err[0] = 0;
		struct rfx_worker_conf *c = conf_of(text, &rc, err, sizeof(err));
		cr_expect_eq(rc, RFX_ECONFIG, "case %u: %s", k, err);
		cr_expect(strstr(err, cases[k].want), "case %u: '%s' lacks '%s'", k, err,
			  cases[k].want);
		cr_expect_null(c);
	}
	tls_files_rm(dir);
}

/* CertificateKeyPassword, written ENC(...), opens an encrypted key; a wrong
 * one is refused at start with the key file named. */
Test(worker_conf, tls_key_password, .timeout = 30)
{
	static const char hex[] =
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	uint8_t key[RFX_SECRET_KEY_LEN];
	char dir[64], text[2048], err[512] = "", enc[RFX_SECRET_ENC_SIZE(16)];
	int rc;
	tls_files(dir);
	cr_assert_eq(rfx_secret_key_from_hex(hex, strlen(hex), key), 0);
	setenv("RFX_WCT_KEY", hex, 1);
	for (int good = 1; good >= 0; good--) {
		const char *pw = good ? "s3cret" : "Xyzzy7";
		cr_assert_geq(rfx_secret_encrypt(key, pw, strlen(pw), enc, sizeof(enc)), 0);
		snprintf(text, sizeof(text),
			 "[ENGINE]\nSecretKeyEnv=RFX_WCT_KEY\n"
			 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nSenderCompID=ME\n"
			 "UseDataDictionary=N\n"
			 "[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nTargetCompID=A\n"
			 "SocketAcceptPort=7001\nSocketUseSSL=Y\nServerCertificateFile=%s/ec.pem\n"
			 "ServerCertificateKeyFile=%s/ek.pem\nCertificateKeyPassword=%s\n",
			 dir, dir, enc);
		struct rfx_worker_conf *c = conf_of(text, &rc, err, sizeof(err));
		if (good) {
			cr_expect_eq(rc, 0, "%s", err);
			cr_expect_eq(c ? c->ntls : 0, 1);
		} else {
			cr_expect_eq(rc, RFX_ECONFIG);
			cr_expect(strstr(err, "cannot load private key"), "%s", err);
			cr_expect(strstr(err, "ek.pem"), "%s", err);
			cr_expect_null(strstr(err, "Xyzzy7"), "the password stays out of errors");
		}
		rfx_worker_conf_free(c);
	}
	unsetenv("RFX_WCT_KEY");
	tls_files_rm(dir);
}
