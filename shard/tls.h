/*
 * TLS for shard connections: OpenSSL over memory BIOs, layered on a
 * struct rfx_conn (shard/conn.h), for acceptors and initiators.
 *
 * Why memory BIOs rather than kTLS: they keep the receive path on the
 * loop's provided buffers and the send path on the connection's coalescing
 * buffer with no extra system call, need no kernel module (the `tls` module
 * is often absent in containers), and work with every cipher OpenSSL has.
 * Ciphertext is copied once each way (into the read BIO, out of the write
 * BIO). kTLS could not be measured: the development kernel has no `tls`
 * upper-layer protocol (setsockopt(TCP_ULP, "tls") fails with ENOENT).
 *
 * Settings names: the fields follow QuickFIX's SSL settings, so the
 * settings layer maps them one to one: ServerCertificateFile /
 * ClientCertificateFile -> cert_file, ServerCertificateKeyFile /
 * ClientCertificateKeyFile -> key_file, CertificationAuthoritiesFile ->
 * ca_file, CertificationAuthoritiesDirectory -> ca_dir,
 * CertificateRevocationListFile/Directory -> crl_file/crl_dir,
 * CertificateKeyPassword -> key_password, CertificateVerifyLevel ->
 * verify_level, SSLCipherSuite -> ciphers (its TLS_* names ->
 * ciphersuites). For
 * SSLProtocol (an Apache-style list such as "all -SSLv2 -SSLv3") the
 * settings layer derives min_version/max_version; SSLv2/SSLv3/TLSv1.0/1.1
 * are never offered whatever it says.
 *
 * A peer that stalls the handshake is the caller's to time out (the
 * session's logon timer, then rfx_tls_close).
 *
 * Cold path (context and session creation, handshake) allocates; the data
 * path does not, beyond what OpenSSL does inside SSL_read/SSL_write.
 * One thread per context at a time is not required: an SSL_CTX may be
 * shared by shards; each struct rfx_tls belongs to one loop.
 */
#ifndef RFX_SHARD_TLS_H
#define RFX_SHARD_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "shard/conn.h"

struct rfx_tls_ctx;
struct rfx_tls;
struct ssl_st;

enum rfx_tls_role { RFX_TLS_SERVER = 0, RFX_TLS_CLIENT = 1 };

struct rfx_tls_opts {
	enum rfx_tls_role role;
	const char *cert_file;     /* PEM certificate (chain); required for servers */
	const char *key_file;      /* PEM private key for cert_file */
	const char *ca_file;       /* PEM CAs trusted for the peer's certificate */
	const char *ca_dir;        /* hashed CA directory (c_rehash) */
	/* CertificateVerifyLevel. Server: 0 no client certificate, 1 required
	 * and verified (mutual TLS), 2 verified if offered. Client: the server
	 * is always verified against ca_file/ca_dir; -1 disables that (tests
	 * only: never against a venue). */
	int verify_level;
	const char *min_version;   /* "TLSv1.2" (default) or "TLSv1.3" */
	const char *max_version;   /* NULL: the newest OpenSSL has */
	const char *ciphers;       /* OpenSSL cipher list for TLS 1.2; NULL: default */
	const char *ciphersuites;  /* TLS 1.3 suites; NULL: default */
	/* Revocation (CertificateRevocationListFile/Directory): a PEM CRL
	 * file and/or a hashed directory (<hash>.r0). With either set, the
	 * peer's certificate must have a CRL from its issuer and be absent
	 * from it. */
	const char *crl_file;
	const char *crl_dir;
	/* Passphrase of an encrypted key_file (CertificateKeyPassword); used
	 * only while the context is built. */
	const char *key_password;
};

/* Build a context. Returns 0; RFX_ECONFIG with a message in `err` (file
 * unreadable, key does not match, bad version or cipher list); -EINVAL;
 * -ENOMEM. */
int rfx_tls_ctx_new(struct rfx_tls_ctx **out, const struct rfx_tls_opts *opts,
		    char *err, size_t errlen);
void rfx_tls_ctx_free(struct rfx_tls_ctx *ctx);

struct rfx_tls_ops {
	/* Handshake complete (and the peer verified as configured). */
	void (*on_open)(struct rfx_tls *t);
	/* Decrypted bytes, borrowed for the duration of the call. */
	void (*on_data)(struct rfx_tls *t, const uint8_t *p, uint32_t n);
	/* A send refused with RFX_ETXFULL may be retried. */
	void (*on_sendable)(struct rfx_tls *t);
	/* Released; reason as for rfx_conn (plus RFX_ETLS for a failed
	 * handshake or a bad record, and a failed connect's -errno). */
	void (*on_closed)(struct rfx_tls *t, int reason);
};

/* Caller storage, like struct rfx_conn. Fields are private. */
struct rfx_tls {
	struct rfx_conn conn;              /* the transport */
	const struct rfx_tls_ops *ops;
	void *user;
	struct rfx_tls_ctx *ctx;
	struct ssl_st *ssl;
	void *rbio, *wbio;
	int open;
	int out_blocked;                   /* ciphertext waits in wbio */
	int want_sendable;
	int fail;                          /* close reason we chose */
	int close_pending;                 /* close once wbio has drained */
	char why[160];                     /* OpenSSL's reason for RFX_ETLS */
	uint8_t rx[16384];                 /* one TLS record of plaintext */
};

/* Prepare an idle TLS connection using `ctx`, with `tx_buf` (tx_cap
 * bytes, at least 2 x 16.5 KiB: a full record must fit beside one in
 * flight) as the ciphertext send buffer. */
void rfx_tls_init(struct rfx_tls *t, struct rfx_tls_ctx *ctx, const struct rfx_tls_ops *ops,
		  void *user, uint8_t *tx_buf, uint32_t tx_cap);

/* Initiator: connect and handshake. `server_name` (may be NULL) is sent as
 * SNI and checked against the server certificate (DNS name or IP).
 * Returns 0 or a negative code as for rfx_conn_connect, -ENOMEM. */
int rfx_tls_connect(struct rfx_loop *l, struct rfx_tls *t, const struct sockaddr *addr,
		    socklen_t len, uint64_t timeout_ns, const char *server_name);

/* Acceptor: from a listener's on_accept, prepare t for the accepted socket
 * and return the conn to hand back to the loop (NULL on -ENOMEM). */
struct rfx_conn *rfx_tls_accepted(struct rfx_tls *t);

/* Encrypt and queue n plaintext bytes, all or nothing. Returns 0;
 * RFX_ETXFULL (wait for on_sendable); -EMSGSIZE (n plus record overhead
 * exceeds the send buffer); -ENOTCONN (handshake not done, or closing);
 * RFX_ETLS (the connection failed; on_closed follows). */
int rfx_tls_send(struct rfx_tls *t, const void *p, uint32_t n);

/* Send close_notify, flush, close. Returns 0 or -EALREADY. */
int rfx_tls_close(struct rfx_tls *t, int reason);

/* Free the OpenSSL state of a connection without a close: for teardown
 * after rfx_loop_free (which closes sockets without callbacks). */
void rfx_tls_release(struct rfx_tls *t);

/* Why the connection failed with RFX_ETLS, in OpenSSL's words ("peer did
 * not return a certificate", "certificate verify failed: unable to get
 * local issuer certificate", "tlsv1 alert unknown ca"), or "". Valid
 * until the next connect or accept, so also inside on_closed. */
const char *rfx_tls_reason(const struct rfx_tls *t);

/* Negotiated protocol and cipher ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
 * or "" before the handshake. */
const char *rfx_tls_version(const struct rfx_tls *t);
const char *rfx_tls_cipher(const struct rfx_tls *t);

#endif
