#include "shard/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/error.h"

struct rfx_tls_ctx {
	SSL_CTX *ssl;
	enum rfx_tls_role role;
};

/* Bytes a TLS record adds to its plaintext, rounded up for every suite we
 * allow (TLS 1.3: 5 + 1 + 16; TLS 1.2 GCM: 5 + 8 + 16; CBC + HMAC more). */
#define RECORD_OVERHEAD 96u
#define RECORD_MAX 16384u

static int version_of(const char *s, int dflt, int *out)
{
	if (!s || !*s) {
		*out = dflt;
		return 0;
	}
	if (!strcmp(s, "TLSv1.2"))
		*out = TLS1_2_VERSION;
	else if (!strcmp(s, "TLSv1.3"))
		*out = TLS1_3_VERSION;
	else
		return -1;
	return 0;
}

static int fail_cfg(char *err, size_t errlen, const char *what, const char *arg)
{
	char ossl[160] = "";
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	ERR_clear_error();
	if (err && errlen)
		snprintf(err, errlen, "%s%s%s%s%s", what, arg ? " " : "", arg ? arg : "",
			 *ossl ? ": " : "", ossl);
	return RFX_ECONFIG;
}

/* CRLs into the context's trust store, and revocation checking of the
 * peer's certificate on. */
static int load_crls(SSL_CTX *ctx, const char *file, const char *dir)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	X509_LOOKUP *lk;

	if (file) {
		lk = X509_STORE_add_lookup(st, X509_LOOKUP_file());
		if (!lk || X509_load_crl_file(lk, file, X509_FILETYPE_PEM) <= 0)
			return -1;
	}
	if (dir) {
		lk = X509_STORE_add_lookup(st, X509_LOOKUP_hash_dir());
		if (!lk || X509_LOOKUP_add_dir(lk, dir, X509_FILETYPE_PEM) != 1)
			return -1;
	}
	return X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK) == 1 ? 0 : -1;
}

int rfx_tls_ctx_new(struct rfx_tls_ctx **out, const struct rfx_tls_opts *o,
		    char *err, size_t errlen)
{
	struct rfx_tls_ctx *c;
	int minv, maxv, rc, mode;

	if (!out || !o)
		return -EINVAL;
	*out = NULL;
	if (version_of(o->min_version, TLS1_2_VERSION, &minv) < 0)
		return fail_cfg(err, errlen, "unsupported minimum TLS version", o->min_version);
	if (version_of(o->max_version, 0, &maxv) < 0)
		return fail_cfg(err, errlen, "unsupported maximum TLS version", o->max_version);
	if (o->role == RFX_TLS_SERVER && (!o->cert_file || !o->key_file))
		return fail_cfg(err, errlen, "a TLS acceptor needs a certificate and a key", NULL);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->role = o->role;
	c->ssl = SSL_CTX_new(o->role == RFX_TLS_SERVER ? TLS_server_method() : TLS_client_method());
	if (!c->ssl) {
		free(c);
		return -ENOMEM;
	}
	if (!SSL_CTX_set_min_proto_version(c->ssl, minv) ||
	    !SSL_CTX_set_max_proto_version(c->ssl, maxv)) {
		rc = fail_cfg(err, errlen, "cannot set the TLS version range", NULL);
		goto err;
	}
	/* Our send buffer may move between retries: never hold OpenSSL to
	 * the same pointer. Renegotiation is off (a known DoS vector). */
	SSL_CTX_set_mode(c->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION);
	if (o->cert_file && SSL_CTX_use_certificate_chain_file(c->ssl, o->cert_file) != 1) {
		rc = fail_cfg(err, errlen, "cannot load certificate", o->cert_file);
		goto err;
	}
	/* With no callback set, OpenSSL takes the userdata as the passphrase. */
	SSL_CTX_set_default_passwd_cb_userdata(c->ssl, (void *)(uintptr_t)o->key_password);
	rc = o->key_file ? SSL_CTX_use_PrivateKey_file(c->ssl, o->key_file, SSL_FILETYPE_PEM) : 1;
	SSL_CTX_set_default_passwd_cb_userdata(c->ssl, NULL);
	if (rc != 1) {
		rc = fail_cfg(err, errlen, "cannot load private key (wrong CertificateKeyPassword?)",
			      o->key_file);
		goto err;
	}
	if (o->cert_file && o->key_file && SSL_CTX_check_private_key(c->ssl) != 1) {
		rc = fail_cfg(err, errlen, "private key does not match certificate", o->key_file);
		goto err;
	}
	if ((o->ca_file || o->ca_dir) &&
	    SSL_CTX_load_verify_locations(c->ssl, o->ca_file, o->ca_dir) != 1) {
		rc = fail_cfg(err, errlen, "cannot load CA certificates", o->ca_file ? o->ca_file : o->ca_dir);
		goto err;
	}
	if ((o->crl_file || o->crl_dir) && load_crls(c->ssl, o->crl_file, o->crl_dir) < 0) {
		rc = fail_cfg(err, errlen, "cannot load revocation list",
			      o->crl_file ? o->crl_file : o->crl_dir);
		goto err;
	}
	if (o->ciphers && SSL_CTX_set_cipher_list(c->ssl, o->ciphers) != 1) {
		rc = fail_cfg(err, errlen, "no usable cipher in", o->ciphers);
		goto err;
	}
	if (o->ciphersuites && SSL_CTX_set_ciphersuites(c->ssl, o->ciphersuites) != 1) {
		rc = fail_cfg(err, errlen, "no usable TLS 1.3 suite in", o->ciphersuites);
		goto err;
	}
	if (o->role == RFX_TLS_SERVER) {
		mode = o->verify_level == 1 ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT :
		       o->verify_level == 2 ? SSL_VERIFY_PEER : SSL_VERIFY_NONE;
		if (mode != SSL_VERIFY_NONE && o->ca_file) {
			STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);

			if (names)
				SSL_CTX_set_client_CA_list(c->ssl, names);
		}
	} else {
		mode = o->verify_level < 0 ? SSL_VERIFY_NONE : SSL_VERIFY_PEER;
		if (mode == SSL_VERIFY_PEER && !o->ca_file && !o->ca_dir &&
		    SSL_CTX_set_default_verify_paths(c->ssl) != 1) {
			rc = fail_cfg(err, errlen, "no CA to verify the server with", NULL);
			goto err;
		}
	}
	SSL_CTX_set_verify(c->ssl, mode, NULL);
	*out = c;
	return 0;
err:
	SSL_CTX_free(c->ssl);
	free(c);
	return rc;
}

void rfx_tls_ctx_free(struct rfx_tls_ctx *c)
{
	if (!c)
		return;
	SSL_CTX_free(c->ssl);
	free(c);
}

static struct rfx_tls *tls_of(struct rfx_conn *c)
{
	return c->user;
}

static void drop_ssl(struct rfx_tls *t)
{
	/* SSL_free frees the BIOs attached with SSL_set_bio. */
	SSL_free(t->ssl);
	t->ssl = NULL;
	t->rbio = t->wbio = NULL;
	t->open = 0;
	t->out_blocked = 0;
}

/* Move ciphertext from the write BIO into the connection's send buffer. */
static void flush_out(struct rfx_tls *t)
{
	size_t pending;

	t->out_blocked = 0;
	while ((pending = BIO_ctrl_pending(t->wbio)) > 0) {
		uint32_t n = pending > RECORD_MAX + RECORD_OVERHEAD ? RECORD_MAX + RECORD_OVERHEAD :
			     (uint32_t)pending;
		uint8_t *p = rfx_conn_reserve(&t->conn, n);
		int got;

		if (!p) {
			t->out_blocked = 1;   /* resumed from on_sendable */
			return;
		}
		got = BIO_read(t->wbio, p, (int)n);
		if (got <= 0)
			return;
		rfx_conn_commit(&t->conn, (uint32_t)got);
	}
}

/* Close after every byte OpenSSL produced (close_notify, an alert) has
 * left: if the send buffer is full, wait for on_sendable to drain wbio. */
static int close_after_output(struct rfx_tls *t, int reason)
{
	flush_out(t);
	if (t->out_blocked) {
		t->close_pending = 1;
		return 0;
	}
	return rfx_conn_close_flush(&t->conn, reason);
}

/* Keep OpenSSL's reason before the error queue is cleared: a failed
 * certificate check names the check, anything else the last error. */
static void note_reason(struct rfx_tls *t)
{
	long v = t->ssl ? SSL_get_verify_result(t->ssl) : X509_V_OK;
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	if (t->why[0])
		return;
	if (v != X509_V_OK)
		snprintf(t->why, sizeof(t->why), "certificate verify failed: %s",
			 X509_verify_cert_error_string(v));
	else if (r)
		snprintf(t->why, sizeof(t->why), "%s", r);
	else if (e)
		ERR_error_string_n(e, t->why, sizeof(t->why));
	else
		snprintf(t->why, sizeof(t->why), "TLS protocol error");
}

static void fail(struct rfx_tls *t, int reason)
{
	if (reason == RFX_ETLS)
		note_reason(t);
	ERR_clear_error();
	if (!t->fail)
		t->fail = reason;
	close_after_output(t, t->fail);
}

static void drive(struct rfx_tls *t)
{
	int r, e;

	if (!t->open) {
		r = SSL_do_handshake(t->ssl);
		if (r != 1) {
			e = SSL_get_error(t->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				flush_out(t);
			else
				fail(t, RFX_ETLS);
			return;
		}
		t->open = 1;
		flush_out(t);
		if (t->ops->on_open)
			t->ops->on_open(t);
		if (rfx_conn_state(&t->conn) != RFX_CONN_OPEN)
			return;
	}
	for (;;) {
		r = SSL_read(t->ssl, t->rx, sizeof(t->rx));
		if (r > 0) {
			if (t->ops->on_data)
				t->ops->on_data(t, t->rx, (uint32_t)r);
			if (rfx_conn_state(&t->conn) != RFX_CONN_OPEN)
				return;
			continue;
		}
		e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_ZERO_RETURN) {
			/* close_notify from the peer: an orderly close. */
			close_after_output(t, RFX_EPEERCLOSED);
			return;
		}
		fail(t, RFX_ETLS);
		return;
	}
	/* TLS 1.3 tickets, key updates, alerts. */
	flush_out(t);
}

static void tc_connect(struct rfx_conn *c, int result)
{
	struct rfx_tls *t = tls_of(c);

	if (result < 0) {
		drop_ssl(t);
		if (t->ops->on_closed)
			t->ops->on_closed(t, result);
		return;
	}
	drive(t);
}

static void tc_data(struct rfx_conn *c, const uint8_t *p, uint32_t n)
{
	struct rfx_tls *t = tls_of(c);

	/* A memory BIO takes everything (it grows); n is one receive. */
	if (BIO_write(t->rbio, p, (int)n) != (int)n) {
		fail(t, -ENOMEM);
		return;
	}
	drive(t);
}

static void tc_sendable(struct rfx_conn *c)
{
	struct rfx_tls *t = tls_of(c);

	if (t->out_blocked)
		flush_out(t);
	if (t->out_blocked)
		return;
	if (t->close_pending) {
		t->close_pending = 0;
		rfx_conn_close_flush(&t->conn, t->fail);
		return;
	}
	if (t->want_sendable) {
		t->want_sendable = 0;
		if (t->ops->on_sendable)
			t->ops->on_sendable(t);
	}
}

static void tc_closed(struct rfx_conn *c, int reason)
{
	struct rfx_tls *t = tls_of(c);
	int r = t->fail ? t->fail : reason;

	drop_ssl(t);
	t->fail = 0;
	if (t->ops->on_closed)
		t->ops->on_closed(t, r);
}

static const struct rfx_conn_ops tls_conn_ops = {
	.on_connect = tc_connect,
	.on_data = tc_data,
	.on_sendable = tc_sendable,
	.on_closed = tc_closed,
};

void rfx_tls_init(struct rfx_tls *t, struct rfx_tls_ctx *ctx, const struct rfx_tls_ops *ops,
		  void *user, uint8_t *tx_buf, uint32_t tx_cap)
{
	memset(t, 0, offsetof(struct rfx_tls, rx));
	rfx_conn_init(&t->conn, &tls_conn_ops, t, tx_buf, tx_cap);
	t->ctx = ctx;
	t->ops = ops;
	t->user = user;
}

static int make_ssl(struct rfx_tls *t)
{
	BIO *r, *w;

	t->ssl = SSL_new(t->ctx->ssl);
	r = BIO_new(BIO_s_mem());
	w = BIO_new(BIO_s_mem());
	if (!t->ssl || !r || !w) {
		SSL_free(t->ssl);
		BIO_free(r);
		BIO_free(w);
		t->ssl = NULL;
		return -ENOMEM;
	}
	/* An empty read BIO means "wait for more", not end of file. */
	BIO_set_mem_eof_return(r, -1);
	SSL_set_bio(t->ssl, r, w);
	t->rbio = r;
	t->wbio = w;
	t->open = t->out_blocked = t->want_sendable = t->fail = t->close_pending = 0;
	t->why[0] = 0;
	return 0;
}

int rfx_tls_connect(struct rfx_loop *l, struct rfx_tls *t, const struct sockaddr *addr,
		    socklen_t len, uint64_t timeout_ns, const char *server_name)
{
	int rc;

	if (!t || t->ctx->role != RFX_TLS_CLIENT)
		return -EINVAL;
	if (rfx_conn_state(&t->conn) != RFX_CONN_IDLE)
		return -EBUSY;
	rc = make_ssl(t);
	if (rc < 0)
		return rc;
	SSL_set_connect_state(t->ssl);
	if (server_name && *server_name) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(server_name);

		if (ip) {
			/* An address: check the certificate's IP SAN, no SNI. */
			ASN1_OCTET_STRING_free(ip);
			rc = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), server_name) == 1;
		} else {
			rc = SSL_set_tlsext_host_name(t->ssl, server_name) == 1 &&
			     SSL_set1_host(t->ssl, server_name) == 1;
		}
		if (!rc) {
			drop_ssl(t);
			return -ENOMEM;
		}
	}
	rc = rfx_conn_connect(l, &t->conn, addr, len, timeout_ns);
	if (rc < 0)
		drop_ssl(t);
	return rc;
}

struct rfx_conn *rfx_tls_accepted(struct rfx_tls *t)
{
	if (!t || t->ctx->role != RFX_TLS_SERVER || rfx_conn_state(&t->conn) != RFX_CONN_IDLE ||
	    make_ssl(t) < 0)
		return NULL;
	SSL_set_accept_state(t->ssl);
	return &t->conn;
}

int rfx_tls_send(struct rfx_tls *t, const void *p, uint32_t n)
{
	uint32_t need = n + (n / RECORD_MAX + 1) * RECORD_OVERHEAD;

	if (!t->open || t->close_pending || rfx_conn_state(&t->conn) != RFX_CONN_OPEN)
		return -ENOTCONN;
	if (n == 0)
		return 0;
	if (need > rfx_conn_tx_max(&t->conn))
		return -EMSGSIZE;
	/* Check room first: once SSL_write has the bytes they are sent. */
	if (t->out_blocked || !rfx_conn_reserve(&t->conn, need)) {
		t->want_sendable = 1;
		return RFX_ETXFULL;
	}
	if (SSL_write(t->ssl, p, (int)n) != (int)n) {
		fail(t, RFX_ETLS);
		return RFX_ETLS;
	}
	flush_out(t);
	return 0;
}

int rfx_tls_close(struct rfx_tls *t, int reason)
{
	enum rfx_conn_state s = rfx_conn_state(&t->conn);

	if (s == RFX_CONN_IDLE || s == RFX_CONN_CLOSING)
		return -EALREADY;
	if (t->close_pending)
		return -EALREADY;
	t->fail = reason;
	if (!t->open)
		return rfx_conn_close(&t->conn, reason);
	SSL_shutdown(t->ssl);   /* queues close_notify */
	return close_after_output(t, reason);
}

void rfx_tls_release(struct rfx_tls *t)
{
	if (t)
		drop_ssl(t);
}

const char *rfx_tls_reason(const struct rfx_tls *t)
{
	return t->why;
}

const char *rfx_tls_version(const struct rfx_tls *t)
{
	return t->ssl && t->open ? SSL_get_version(t->ssl) : "";
}

const char *rfx_tls_cipher(const struct rfx_tls *t)
{
	const char *s = t->ssl && t->open ? SSL_get_cipher_name(t->ssl) : NULL;

	return s ? s : "";
}
