/* shard/tls over real loopback sockets, with a CA, server and client
 * certificates generated at test time by the openssl command (EC P-256, so
 * it takes milliseconds): echo with mutual TLS, a client without a
 * certificate, an untrusted server, a wrong host name, minimum version and
 * cipher selection, configuration errors. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/error.h"
#include "shard/conn.h"
#include "shard/loop.h"
#include "shard/tls.h"

#define MS 1000000ull
#define TXCAP (128u * 1024)

static char dir[64];

static char *path(const char *name)
{
	static char bufs[8][128];
	static int i;
	char *b = bufs[i++ & 7];

	snprintf(b, 128, "%s/%s", dir, name);
	return b;
}

static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* CA "ca" signs "srv" (localhost, 127.0.0.1) and "cli"; "rogue" is an
 * unrelated CA that signs "rcli". */
static void make_pki(void)
{
	static const char *const ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

	strcpy(dir, "/tmp/rfx-tls-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	if (sh("command -v openssl >/dev/null 2>&1") != 0)
		cr_skip_test("the openssl command is not installed (Debian package openssl)");
	FILE *f = fopen(path("san.ext"), "w");

	cr_assert_not_null(f);
	fputs("subjectAltName=DNS:localhost,IP:127.0.0.1\n", f);
	fclose(f);
	for (int i = 0; i < 2; i++) {
		const char *ca = i ? "rogue" : "ca";

		cr_assert_eq(sh("cd %s && openssl req -x509 %s -keyout %s.key -out %s.crt "
				"-subj /CN=rfx-test-%s -days 2 2>/dev/null", dir, ec, ca, ca, ca), 0);
	}
	static const char *const leaf[][3] = {
		{"srv", "ca", "localhost"}, {"cli", "ca", "client"}, {"rcli", "rogue", "rogue-client"},
	};
	for (int i = 0; i < 3; i++)
		cr_assert_eq(sh("cd %s && openssl req %s -keyout %s.key -out %s.csr -subj /CN=%s 2>/dev/null && "
				"openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -CAcreateserial "
				"-out %s.crt -days 2 -extfile san.ext 2>/dev/null",
				dir, ec, leaf[i][0], leaf[i][0], leaf[i][2], leaf[i][0], leaf[i][1],
				leaf[i][1], leaf[i][0]), 0);
}

static void rm_pki(void)
{
	if (dir[0])
		sh("rm -rf %s", dir);
}

TestSuite(tls, .init = make_pki, .fini = rm_pki, .timeout = 30);

/* ---- harness ------------------------------------------------------------- */

struct end {
	struct rfx_tls t;
	uint8_t tx[TXCAP];
	int opened, closed, reason;
	uint64_t rx, tx_done;
	int echo;
};

static struct {
	struct rfx_loop *l;
	struct rfx_tls_ctx *sctx, *cctx;
	struct rfx_conn listener;
	struct end srv, cli;
	int accepted;
} H;

static uint8_t pat(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

static void on_open(struct rfx_tls *t)
{
	((struct end *)t->user)->opened = 1;
}

static void on_data(struct rfx_tls *t, const uint8_t *p, uint32_t n)
{
	struct end *e = t->user;

	if (e->echo) {
		cr_assert_eq(rfx_tls_send(t, p, n), 0);
	} else {
		for (uint32_t i = 0; i < n; i++)
			cr_assert_eq(p[i], pat(e->rx + i), "byte %llu", (unsigned long long)(e->rx + i));
	}
	e->rx += n;
}

static void on_closed(struct rfx_tls *t, int reason)
{
	struct end *e = t->user;

	e->closed = 1;
	e->reason = reason;
}

static const struct rfx_tls_ops ops = {.on_open = on_open, .on_data = on_data, .on_closed = on_closed};

static struct rfx_conn *accept_tls(struct rfx_conn *l, int fd)
{
	(void)l;
	(void)fd;
	H.accepted++;
	rfx_tls_init(&H.srv.t, H.sctx, &ops, &H.srv, H.srv.tx, TXCAP);
	return rfx_tls_accepted(&H.srv.t);
}

static const struct rfx_conn_ops listen_ops = {.on_accept = accept_tls};

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void spin_until(const int *flag, unsigned ms)
{
	uint64_t end = mono() + ms * MS;

	while (!*flag) {
		cr_assert_geq(rfx_loop_turn(H.l, 0), 0);
		cr_assert_lt(mono(), end, "timed out");
	}
}

static void ctx(struct rfx_tls_ctx **out, struct rfx_tls_opts *o)
{
	char err[256] = "";
	int rc = rfx_tls_ctx_new(out, o, err, sizeof(err));

	cr_assert_eq(rc, 0, "tls ctx: %s (%s)", rfx_strerror(rc), err);
}

/* Server requiring client certificates from "ca"; client per arguments. */
static void setup_flags(struct rfx_tls_opts *so, struct rfx_tls_opts *co, unsigned flags)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct rfx_loop_opts lo = {.flags = flags};
	int rc;

	memset(&H, 0, sizeof(H));
	rc = rfx_loop_new(&H.l, &lo);
	if (rc == -ENOSYS || rc == -EPERM || rc == -EOPNOTSUPP)
		cr_skip_test("io_uring unavailable here: %s", rfx_strerror(rc));
	cr_assert_eq(rc, 0);
	ctx(&H.sctx, so);
	ctx(&H.cctx, co);
	rfx_conn_init(&H.listener, &listen_ops, NULL, NULL, 0);
	cr_assert_eq(rfx_conn_listen(H.l, &H.listener, (struct sockaddr *)&a, sizeof(a), 16), 0);
	a.sin_port = htons((uint16_t)rfx_conn_local_port(&H.listener));
	rfx_tls_init(&H.cli.t, H.cctx, &ops, &H.cli, H.cli.tx, TXCAP);
	cr_assert_eq(rfx_tls_connect(H.l, &H.cli.t, (struct sockaddr *)&a, sizeof(a), 2000 * MS,
				     "localhost"), 0);
}

static void setup(struct rfx_tls_opts *so, struct rfx_tls_opts *co)
{
	setup_flags(so, co, 0);
}

static void teardown(void)
{
	rfx_loop_free(H.l);
	rfx_tls_ctx_free(H.sctx);
	rfx_tls_ctx_free(H.cctx);
}

static struct rfx_tls_opts server_opts(void)
{
	return (struct rfx_tls_opts){
		.role = RFX_TLS_SERVER, .cert_file = path("srv.crt"), .key_file = path("srv.key"),
		.ca_file = path("ca.crt"), .verify_level = 1,
	};
}

static struct rfx_tls_opts client_opts(const char *who, const char *ca)
{
	static char crt[128], key[128], cafile[128];

	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, who);
	snprintf(key, sizeof(key), "%s/%s.key", dir, who);
	snprintf(cafile, sizeof(cafile), "%s/%s.crt", dir, ca);
	return (struct rfx_tls_opts){
		.role = RFX_TLS_CLIENT, .cert_file = *who ? crt : NULL, .key_file = *who ? key : NULL,
		.ca_file = cafile,
	};
}

/* ---- tests ----------------------------------------------------------- */

static void mutual_echo(unsigned flags)
{
	struct rfx_tls_opts so = server_opts(), co = client_opts("cli", "ca");
	const uint64_t total = 300000;
	uint8_t chunk[3000];

	setup_flags(&so, &co, flags);
	H.srv.echo = 1;
	spin_until(&H.cli.opened, 3000);
	spin_until(&H.srv.opened, 3000);
	cr_expect_str_eq(rfx_tls_version(&H.cli.t), "TLSv1.3");
	cr_log_info("%s %s", rfx_tls_version(&H.cli.t), rfx_tls_cipher(&H.cli.t));
	for (uint64_t end = mono() + 10000 * MS; H.cli.rx < total;) {
		while (H.cli.tx_done < total) {
			uint32_t n = (uint32_t)(total - H.cli.tx_done < sizeof(chunk) ?
						total - H.cli.tx_done : sizeof(chunk));

			for (uint32_t i = 0; i < n; i++)
				chunk[i] = pat(H.cli.tx_done + i);
			int rc = rfx_tls_send(&H.cli.t, chunk, n);

			if (rc == RFX_ETXFULL)
				break;
			cr_assert_eq(rc, 0, "send: %s", rfx_strerror(rc));
			H.cli.tx_done += n;
		}
		cr_assert_geq(rfx_loop_turn(H.l, 0), 0);
		cr_assert_lt(mono(), end, "echo timed out at %llu", (unsigned long long)H.cli.rx);
	}
	cr_expect_eq(H.cli.rx, total);
	/* close_notify: the server sees an orderly close. */
	cr_assert_eq(rfx_tls_close(&H.cli.t, 0), 0);
	spin_until(&H.srv.closed, 3000);
	spin_until(&H.cli.closed, 3000);
	cr_expect_eq(H.srv.reason, RFX_EPEERCLOSED);
	cr_expect_eq(H.cli.reason, 0);
	teardown();
}

Test(tls, mutual_tls_echo, .timeout = 20)
{
	mutual_echo(0);
}

Test(tls, mutual_tls_echo_on_fallback_loop, .timeout = 20)
{
	mutual_echo(RFX_LOOP_F_FALLBACK);
}

Test(tls, client_without_certificate_is_refused, .timeout = 20)
{
	struct rfx_tls_opts so = server_opts(), co = client_opts("", "ca");

	setup(&so, &co);
	spin_until(&H.srv.closed, 3000);
	spin_until(&H.cli.closed, 3000);
	cr_expect_eq(H.srv.reason, RFX_ETLS);
	cr_expect_eq(H.srv.opened, 0);
	cr_expect_neq(H.cli.reason, 0);
	teardown();
}

Test(tls, client_certificate_from_another_ca_is_refused, .timeout = 20)
{
	struct rfx_tls_opts so = server_opts(), co = client_opts("rcli", "ca");

	setup(&so, &co);
	spin_until(&H.srv.closed, 3000);
	spin_until(&H.cli.closed, 3000);
	cr_expect_eq(H.srv.reason, RFX_ETLS);
	cr_expect_eq(H.srv.opened, 0);
	teardown();
}

Test(tls, untrusted_server_is_refused, .timeout = 20)
{
	struct rfx_tls_opts so = server_opts(), co = client_opts("cli", "rogue");

	setup(&so, &co);
	spin_until(&H.cli.closed, 3000);
	cr_expect_eq(H.cli.reason, RFX_ETLS);
	cr_expect_eq(H.cli.opened, 0);
	spin_until(&H.srv.closed, 3000);
	teardown();
}

Test(tls, wrong_host_name_is_refused, .timeout = 20)
{
	struct rfx_tls_opts so = server_opts(), co = client_opts("cli", "ca");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	setup(&so, &co);
	spin_until(&H.cli.opened, 3000);   /* "localhost" matches */
	rfx_tls_close(&H.cli.t, 0);
	spin_until(&H.cli.closed, 3000);
	spin_until(&H.srv.closed, 3000);
	memset(&H.cli, 0, sizeof(H.cli));
	memset(&H.srv, 0, sizeof(H.srv));
	a.sin_port = htons((uint16_t)rfx_conn_local_port(&H.listener));
	rfx_tls_init(&H.cli.t, H.cctx, &ops, &H.cli, H.cli.tx, TXCAP);
	cr_assert_eq(rfx_tls_connect(H.l, &H.cli.t, (struct sockaddr *)&a, sizeof(a), 2000 * MS,
				     "venue.example"), 0);
	spin_until(&H.cli.closed, 3000);
	cr_expect_eq(H.cli.reason, RFX_ETLS);
	cr_expect_eq(H.cli.opened, 0);
	/* The IP SAN matches an address given as the name. */
	memset(&H.cli, 0, sizeof(H.cli));
	rfx_tls_init(&H.cli.t, H.cctx, &ops, &H.cli, H.cli.tx, TXCAP);
	cr_assert_eq(rfx_tls_connect(H.l, &H.cli.t, (struct sockaddr *)&a, sizeof(a), 2000 * MS,
				     "127.0.0.1"), 0);
	spin_until(&H.cli.opened, 3000);
	teardown();
}

Test(tls, minimum_version_is_enforced, .timeout = 20)
{
	struct rfx_tls_opts so = server_opts(), co = client_opts("cli", "ca");

	so.min_version = "TLSv1.3";
	co.max_version = "TLSv1.2";
	setup(&so, &co);
	spin_until(&H.cli.closed, 3000);
	spin_until(&H.srv.closed, 3000);
	cr_expect_eq(H.srv.reason, RFX_ETLS);
	cr_expect_eq(H.cli.opened, 0);
	teardown();
}

Test(tls, tls12_cipher_list_is_used, .timeout = 20)
{
	struct rfx_tls_opts so = server_opts(), co = client_opts("cli", "ca");

	so.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
	co.max_version = "TLSv1.2";
	setup(&so, &co);
	spin_until(&H.cli.opened, 3000);
	spin_until(&H.srv.opened, 3000);
	cr_expect_str_eq(rfx_tls_version(&H.cli.t), "TLSv1.2");
	cr_expect_str_eq(rfx_tls_cipher(&H.srv.t), "ECDHE-ECDSA-AES128-GCM-SHA256");
	teardown();
}

Test(tls, configuration_errors_are_explained, .timeout = 20)
{
	struct rfx_tls_opts o = server_opts();
	struct rfx_tls_ctx *c = NULL;
	char err[256];

	o.key_file = path("cli.key");   /* not srv.crt's key */
	cr_expect_eq(rfx_tls_ctx_new(&c, &o, err, sizeof(err)), RFX_ECONFIG);
	cr_expect(strstr(err, "cli.key") != NULL, "%s", err);
	o = server_opts();
	o.cert_file = path("missing.crt");
	cr_expect_eq(rfx_tls_ctx_new(&c, &o, err, sizeof(err)), RFX_ECONFIG);
	cr_expect(strstr(err, "missing.crt") != NULL, "%s", err);
	o = server_opts();
	o.min_version = "SSLv3";
	cr_expect_eq(rfx_tls_ctx_new(&c, &o, err, sizeof(err)), RFX_ECONFIG);
	o = server_opts();
	o.ciphers = "NO-SUCH-CIPHER";
	cr_expect_eq(rfx_tls_ctx_new(&c, &o, err, sizeof(err)), RFX_ECONFIG);
	o = server_opts();
	o.cert_file = NULL;
	cr_expect_eq(rfx_tls_ctx_new(&c, &o, err, sizeof(err)), RFX_ECONFIG);
	cr_expect_null(c);
}
