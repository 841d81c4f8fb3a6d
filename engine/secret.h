/*
 * Encrypted secrets in settings files: ENC(base64(nonce || ciphertext || tag)).
 *
 * AES-256-GCM (OpenSSL EVP), a fresh 12-byte random nonce per secret, a 16-byte
 * tag, and the fixed additional data "ringfix-secret-v1" so a blob made for some
 * other purpose with the same key does not decrypt here. The key is 32 bytes,
 * written as 64 hex digits in a file (owner-only permissions) or an environment
 * variable, named by SecretKeyFile / SecretKeyEnv in [ENGINE].
 *
 * Cold path only (startup, the CLI). Plaintext and key material in our own
 * temporaries are wiped with OPENSSL_cleanse; the caller wipes its buffers.
 */
#ifndef RFX_ENGINE_SECRET_H
#define RFX_ENGINE_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define RFX_SECRET_KEY_LEN 32
#define RFX_SECRET_NONCE_LEN 12
#define RFX_SECRET_TAG_LEN 16

/* Bytes needed for ENC(...) of a plaintext of len bytes, including the NUL. */
#define RFX_SECRET_ENC_SIZE(len) \
	(5 + 4 * (((len) + RFX_SECRET_NONCE_LEN + RFX_SECRET_TAG_LEN + 2) / 3) + 1)

/* Parses 64 hex digits (surrounding blanks and a trailing newline allowed) into
 * key. Returns 0 or RFX_ESECRET. */
int rfx_secret_key_from_hex(const char *hex, size_t len, uint8_t key[RFX_SECRET_KEY_LEN]);

/* Reads the key from a file holding 64 hex digits. The file must be a regular file
 * not readable or writable by group or others. Returns 0, RFX_ESECRET (bad content
 * or permissions) or a negative errno from open/read. */
int rfx_secret_key_load_file(const char *path, uint8_t key[RFX_SECRET_KEY_LEN]);

/* Writes "ENC(...)" for plain[0..len) into out (size outsz, NUL-terminated).
 * Returns the string length, RFX_ENOSPACE, or RFX_ESECRET (OpenSSL failure). */
int rfx_secret_encrypt(const uint8_t key[RFX_SECRET_KEY_LEN], const char *plain, size_t len,
		       char *out, size_t outsz);

/* True if value[0..len) is written ENC(...). */
int rfx_secret_is_enc(const char *value, size_t len);

/* Decrypts "ENC(...)" enc[0..len) into out (size outsz, NUL-terminated). Returns the
 * plaintext length, RFX_ENOSPACE, or RFX_ESECRET (malformed, wrong key, tampered,
 * or a plaintext holding a NUL). On failure out holds no partial plaintext. */
int rfx_secret_decrypt(const uint8_t key[RFX_SECRET_KEY_LEN], const char *enc, size_t len,
		       char *out, size_t outsz);

#endif
