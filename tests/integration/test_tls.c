/*
 * Integration: FIX sessions over TLS between real processes on loopback.
 *
 *   venue:  ringfixd acceptor FIX.4.4:VENUE->BANK (or QuickFIX 1.15.1's
 *           ThreadedSSLSocketAcceptor, qf_ssl_peer)
 *   bank:   ringfixd initiator FIX.4.4:BANK->VENUE (or QuickFIX's
 *           ThreadedSSLSocketInitiator)
 *
 * Certificates (RSA) are made at test time with the `openssl` command in
 * the test's temporary directory: a CA, a server certificate for
 * 127.0.0.1, a client certificate from the CA, a "rogue" client
 * certificate from a second CA the venue does not trust, and a "revoked"
 * client certificate from the CA, listed in the CA's revocation list.
 *
 * A session counts as up when `ringfix status --json` shows it ACTIVE with
 * "tls": true and its sequence numbers have moved past the Logon both ways
 * (HeartBtInt=1: heartbeats crossed the encrypted link and were accepted).
 * Binaries come from RINGFIXD, RINGFIX and, for the interop tests,
 * QF_SSL_PEER (set by meson when QuickFIX is built; skipped otherwise).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/proc.h"

struct env {
	char dir[256];
	char venue[32], bank[32];
	char vlog[512], blog[512];
	int port;
	pid_t venue_pid, bank_pid;
};

static void write_cfg(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

/* The test's PKI, made with the openssl command (skip without it). */
static void pki(const char *dir)
{
	char cmd[3072];
	if (system("command -v openssl >/dev/null 2>&1") != 0)
		cr_skip_test("no openssl command to make certificates");
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd '%s'\n"
		 "ca() { openssl req -x509 -newkey rsa:2048 -nodes -keyout $1.key -out $1.crt "
		 "-days 2 -subj /CN=$1; }\n"
		 "leaf() { openssl req -new -newkey rsa:2048 -nodes -keyout $1.key -out $1.csr "
		 "-subj /CN=$1\n"
		 "  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > $1.ext\n"
		 "  openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial -days 2 "
		 "-out $1.crt -extfile $1.ext; }\n"
		 "printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\ncrlnumber=crlnumber\\n"
		 "default_md=sha256\\ndefault_crl_days=2\\n' > ca.cnf; : > index.txt; echo 01 > crlnumber\n"
		 "crl() { openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -revoke revoked.crt\n"
		 "  openssl ca -config ca.cnf -keyfile ca.key -cert ca.crt -gencrl -out crl.pem; }\n"
		 "{ ca ca; ca ca2; leaf srv ca; leaf cli ca; leaf rogue ca2; leaf revoked ca; crl; } "
		 ">pki.log 2>&1\n",
		 dir);
	cr_assert_eq(system(cmd), 0, "openssl failed (see %s/pki.log)", dir);
}

static void setup(struct env *e)
{
	snprintf(e->dir, sizeof(e->dir), "%s/rfx-tls.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert(mkdtemp(e->dir));
	pki(e->dir);
	e->port = free_port();
	unsigned tag = (unsigned)getpid() * 7919u + (unsigned)now_ms();
	snprintf(e->venue, sizeof(e->venue), "tlv%u", tag % 1000000u);
	snprintf(e->bank, sizeof(e->bank), "tlb%u", tag % 1000000u);
	snprintf(e->vlog, sizeof(e->vlog), "%s/venue.log", e->dir);
	snprintf(e->blog, sizeof(e->blog), "%s/bank.log", e->dir);
}

/* ringfixd acceptor; verify = CertificateVerifyLevel (1: mutual TLS);
 * extra: more lines for its [SESSION]. */
static void start_venue(struct env *e, int verify, const char *extra)
{
	char cfg[4096], path[512];
	snprintf(cfg, sizeof(cfg),
		 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=1\n"
		 "UseDataDictionary=N\n"
		 "[SESSION]\nConnectionType=acceptor\nBeginString=FIX.4.4\nSenderCompID=VENUE\n"
		 "TargetCompID=BANK\nSocketAcceptPort=%d\nSocketUseSSL=Y\n"
		 "ServerCertificateFile=%s/srv.crt\nServerCertificateKeyFile=%s/srv.key\n"
		 "CertificationAuthoritiesFile=%s/ca.crt\nCertificateVerifyLevel=%d\n%s"
		 "[ENGINE]\nInstanceName=%s\nStorePath=%s/venue-store\nIdleStrategy=block\n",
		 e->port, e->dir, e->dir, e->dir, verify, extra, e->venue, e->dir);
	snprintf(path, sizeof(path), "%s/venue.cfg", e->dir);
	write_cfg(path, cfg);
	e->venue_pid = spawn(e->vlog, (char *[]){(char *)bin("RINGFIXD"), path, NULL});
	wait_log(e->vlog, "serving", 10000);
}

/* ringfixd initiator trusting `ca`, presenting `cert` (NULL: none). */
static void start_bank(struct env *e, const char *ca, const char *cert)
{
	char cfg[4096], path[512], certs[1200] = "";
	if (cert)
		snprintf(certs, sizeof(certs),
			 "ClientCertificateFile=%s/%s.crt\nClientCertificateKeyFile=%s/%s.key\n",
			 e->dir, cert, e->dir, cert);
	snprintf(cfg, sizeof(cfg),
		 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=1\n"
		 "UseDataDictionary=N\n"
		 "[SESSION]\nConnectionType=initiator\nBeginString=FIX.4.4\nSenderCompID=BANK\n"
		 "TargetCompID=VENUE\nSocketConnectHost=127.0.0.1\nSocketConnectPort=%d\n"
		 "ReconnectInterval=1\nSocketUseSSL=Y\nSSLProtocol=all -SSLv2 -SSLv3\n"
		 "CertificationAuthoritiesFile=%s/%s.crt\n%s"
		 "[ENGINE]\nInstanceName=%s\nStorePath=%s/bank-store\nIdleStrategy=block\n",
		 e->port, e->dir, ca, certs, e->bank, e->dir);
	snprintf(path, sizeof(path), "%s/bank.cfg", e->dir);
	write_cfg(path, cfg);
	e->bank_pid = spawn(e->blog, (char *[]){(char *)bin("RINGFIXD"), path, NULL});
	wait_log(e->blog, "serving", 10000);
}

/* QuickFIX SSL peer; its SSL settings live in [DEFAULT]. */
static pid_t start_qf(struct env *e, bool acceptor, const char *log)
{
	const char *peer = bin("QF_SSL_PEER");
	char cfg[4096], path[512];
	if (acceptor)
		snprintf(cfg, sizeof(cfg),
			 "[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=%d\n"
			 "ServerCertificateFile=%s/srv.crt\nServerCertificateKeyFile=%s/srv.key\n"
			 "CertificateVerifyLevel=1\n",
			 e->port, e->dir, e->dir);
	else
		snprintf(cfg, sizeof(cfg),
			 "[DEFAULT]\nConnectionType=initiator\nSocketConnectHost=127.0.0.1\n"
			 "SocketConnectPort=%d\nReconnectInterval=1\n"
			 "ClientCertificateFile=%s/cli.crt\nClientCertificateKeyFile=%s/cli.key\n",
			 e->port, e->dir, e->dir);
	size_t n = strlen(cfg);
	snprintf(cfg + n, sizeof(cfg) - n,
		 "CertificationAuthoritiesFile=%s/ca.crt\nStartTime=00:00:00\nEndTime=00:00:00\n"
		 "HeartBtInt=1\nUseDataDictionary=N\n"
		 "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=%s\nTargetCompID=%s\n",
		 e->dir, acceptor ? "VENUE" : "BANK", acceptor ? "BANK" : "VENUE");
	snprintf(path, sizeof(path), "%s/qf.cfg", e->dir);
	write_cfg(path, cfg);
	pid_t pid = spawn(log, (char *[]){(char *)peer, acceptor ? "acceptor" : "initiator", path,
					  NULL});
	wait_log(log, "started", 10000);
	return pid;
}

static void finish(struct env *e)
{
	cr_expect_eq(stop(e->bank_pid), 0, "bank exit status");
	cr_expect_eq(stop(e->venue_pid), 0, "venue exit status");
	remove_dir(e->dir);
}

struct sess {
	bool active, tls;
	uint64_t out, in;
};

/* The instance's one session, from `ringfix status --json`. */
static bool status(const char *inst, struct sess *s)
{
	char cmd[600], doc[8192];
	snprintf(cmd, sizeof(cmd), "'%s' status --instance %s --json 2>/dev/null", bin("RINGFIX"),
		 inst);
	FILE *p = popen(cmd, "r");
	cr_assert(p);
	size_t n = fread(doc, 1, sizeof(doc) - 1, p);
	pclose(p);
	doc[n] = 0;
	const char *st = strstr(doc, "\"state\":\"");
	const char *tls = strstr(doc, "\"tls\":");
	const char *out = strstr(doc, "\"next_sender_seq\":");
	const char *in = strstr(doc, "\"next_target_seq\":");
	if (!st || !tls || !out || !in)
		return false;
	s->active = strncmp(st + 9, "ACTIVE\"", 7) == 0;
	s->tls = strncmp(tls + 6, "true", 4) == 0;
	s->out = strtoull(out + 18, NULL, 10);
	s->in = strtoull(in + 18, NULL, 10);
	return true;
}

/* ACTIVE over TLS, and heartbeats have crossed both ways. */
static void wait_up(const char *inst)
{
	struct sess s = {0};
	int64_t end = now_ms() + 15000;
	while (!status(inst, &s) || !s.active || s.out < 4 || s.in < 4) {
		cr_assert(now_ms() < end, "%s: not up over TLS (active %d, next out %" PRIu64
			  ", next in %" PRIu64 ")", inst, s.active, s.out, s.in);
		usleep(100000);
	}
	cr_expect(s.tls, "%s: status does not say tls", inst);
}

/* Never logged on within ms. */
static void expect_down(const char *inst, int ms)
{
	struct sess s = {0};
	int64_t end = now_ms() + ms;
	while (now_ms() < end) {
		cr_assert(!status(inst, &s) || !s.active, "%s logged on", inst);
		usleep(100000);
	}
}

Test(tls, ringfix_to_ringfix_server_certificate, .timeout = 60)
{
	struct env e = {0};
	setup(&e);
	start_venue(&e, 0, "");
	start_bank(&e, "ca", NULL);
	wait_up(e.bank);
	wait_up(e.venue);
	cr_expect(log_has(e.blog, "over TLSv1.3"), "bank log names the protocol");
	finish(&e);
}

static void crl_line(const struct env *e, char *buf, size_t len)
{
	snprintf(buf, len, "CertificateRevocationListFile=%s/crl.pem\n", e->dir);
}

/* With the CA's revocation list loaded: a certificate not on it passes. */
Test(tls, mutual_tls, .timeout = 60)
{
	struct env e = {0};
	char crl[600];
	setup(&e);
	crl_line(&e, crl, sizeof(crl));
	start_venue(&e, 1, crl);
	start_bank(&e, "ca", "cli");
	wait_up(e.bank);
	wait_up(e.venue);
	finish(&e);
}

/* The handshake fails: the venue's log (vwant) and the bank's (bwant) say
 * why, and neither side ever logs on. venue_extra "crl": load the CA's
 * revocation list. */
static void refused(int verify, const char *venue_extra, const char *ca, const char *cert,
		    const char *vwant, const char *bwant)
{
	struct env e = {0};
	char crl[600];
	setup(&e);
	if (!strcmp(venue_extra, "crl")) {
		crl_line(&e, crl, sizeof(crl));
		venue_extra = crl;
	}
	start_venue(&e, verify, venue_extra);
	start_bank(&e, ca, cert);
	wait_log(e.vlog, vwant, 10000);
	wait_log(e.blog, bwant, 10000);
	expect_down(e.bank, 2000);
	expect_down(e.venue, 100);
	finish(&e);
}

/* TLS 1.3: the client finishes first and hears the alert afterwards. */
Test(tls, mutual_tls_refuses_a_client_without_certificate, .timeout = 60)
{
	refused(1, "", "ca", NULL,
		"TLS handshake from 127.0.0.1 failed: peer did not return a certificate",
		"FIX.4.4:BANK->VENUE: connection lost: TLS: tlsv13 alert certificate required");
}

Test(tls, client_certificate_from_another_ca_refused, .timeout = 60)
{
	refused(1, "", "ca", "rogue",
		"TLS handshake from 127.0.0.1 failed: certificate verify failed: unable to get "
		"local issuer certificate",
		"FIX.4.4:BANK->VENUE: connection lost: TLS: tlsv1 alert unknown ca");
}

Test(tls, server_certificate_from_another_ca_refused, .timeout = 60)
{
	refused(0, "", "ca2", NULL, "TLS handshake from 127.0.0.1 failed: tlsv1 alert unknown ca",
		"FIX.4.4:BANK->VENUE: TLS handshake with 127.0.0.1:");
}

Test(tls, revoked_client_certificate_refused, .timeout = 60)
{
	refused(1, "crl", "ca", "revoked",
		"TLS handshake from 127.0.0.1 failed: certificate verify failed: certificate revoked",
		"FIX.4.4:BANK->VENUE: connection lost: TLS: ");
}

/* QuickFIX's SSL transport on one side (mutual TLS), ringfixd on the other. */
static void quickfix_interop(bool qf_acceptor)
{
	struct env e = {0};
	char qlog[600];
	bin("QF_SSL_PEER");
	setup(&e);
	snprintf(qlog, sizeof(qlog), "%s/qf.log", e.dir);
	if (qf_acceptor) {
		e.venue_pid = start_qf(&e, true, qlog);
		start_bank(&e, "ca", "cli");
	} else {
		start_venue(&e, 1, "");
		e.bank_pid = start_qf(&e, false, qlog);
	}
	wait_up(qf_acceptor ? e.bank : e.venue);
	wait_log(qlog, qf_acceptor ? "logon FIX.4.4:VENUE->BANK" : "logon FIX.4.4:BANK->VENUE",
		 5000);
	finish(&e);
}

Test(tls, quickfix_ssl_acceptor_and_ringfix_initiator, .timeout = 60)
{
	quickfix_interop(true);
}

Test(tls, quickfix_ssl_initiator_and_ringfix_acceptor, .timeout = 60)
{
	quickfix_interop(false);
}

/* A peer that connects and never starts the handshake is dropped after
 * LogonTimeout, and the acceptor keeps serving. */
Test(tls, handshake_timeout, .timeout = 60)
{
	struct env e = {0};
	setup(&e);
	start_venue(&e, 0, "LogonTimeout=1\n");
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)e.port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	wait_log(e.vlog, "TLS handshake from 127.0.0.1 failed: no handshake within 1s "
		 "(LogonTimeout)", 5000);
	char b;
	cr_expect_eq(read(fd, &b, 1), 0, "the acceptor closed the silent connection");
	close(fd);
	start_bank(&e, "ca", NULL);
	wait_up(e.venue);
	finish(&e);
}
