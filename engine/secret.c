#include "engine/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "engine/error.h"

static const unsigned char aad[] = "ringfix-secret-v1";
#define AAD_LEN (sizeof(aad) - 1)
/* Plaintext secrets are passwords, not documents; bounding them bounds the stack. */
#define PLAIN_MAX 1024
#define BLOB_MAX (RFX_SECRET_NONCE_LEN + PLAIN_MAX + RFX_SECRET_TAG_LEN)

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int rfx_secret_key_from_hex(const char *hex, size_t len, uint8_t key[RFX_SECRET_KEY_LEN])
{
	while (len && is_blank(hex[0]))
		hex++, len--;
	while (len && is_blank(hex[len - 1]))
		len--;
	if (len != 2 * RFX_SECRET_KEY_LEN)
		return RFX_ESECRET;
	for (size_t i = 0; i < RFX_SECRET_KEY_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			OPENSSL_cleanse(key, RFX_SECRET_KEY_LEN);
			return RFX_ESECRET;
		}
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int rfx_secret_key_load_file(const char *path, uint8_t key[RFX_SECRET_KEY_LEN])
{
	char buf[2 * RFX_SECRET_KEY_LEN + 16];
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	/* A key others can read protects nothing: refuse it like ssh refuses keys. */
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		rc = RFX_ESECRET;
		goto out_close;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = -errno;
		goto out_wipe;
	}
	rc = rfx_secret_key_from_hex(buf, (size_t)n, key);
out_wipe:
	OPENSSL_cleanse(buf, sizeof(buf));
out_close:
	close(fd);
	return rc;
}

int rfx_secret_is_enc(const char *value, size_t len)
{
	return len >= 5 && memcmp(value, "ENC(", 4) == 0 && value[len - 1] == ')';
}

/* One AES-256-GCM pass; enc selects the direction. For decryption, tag is read;
 * for encryption it is written. Returns 0 or RFX_ESECRET. */
static int gcm(int enc, const uint8_t *key, const unsigned char *nonce,
	       const unsigned char *in, int inlen, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, rc = RFX_ESECRET;

	if (!ctx)
		return RFX_ESECRET;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, RFX_SECRET_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)AAD_LEN) != 1 ||
	    (inlen > 0 && EVP_CipherUpdate(ctx, out, &n, in, inlen) != 1))
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, RFX_SECRET_TAG_LEN, tag) != 1)
		goto out;
	/* For decryption this is where the tag is checked. */
	if (EVP_CipherFinal_ex(ctx, out + (inlen > 0 ? inlen : 0), &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, RFX_SECRET_TAG_LEN, tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int rfx_secret_encrypt(const uint8_t key[RFX_SECRET_KEY_LEN], const char *plain, size_t len,
		       char *out, size_t outsz)
{
	unsigned char blob[BLOB_MAX];
	size_t bloblen = RFX_SECRET_NONCE_LEN + len + RFX_SECRET_TAG_LEN;
	int n, rc;

	if (len > PLAIN_MAX || memchr(plain, '\0', len))
		return RFX_ESECRET;
	if (outsz < RFX_SECRET_ENC_SIZE(len))
		return RFX_ENOSPACE;
	if (RAND_bytes(blob, RFX_SECRET_NONCE_LEN) != 1)
		return RFX_ESECRET;
	rc = gcm(1, key, blob, (const unsigned char *)plain, (int)len,
		 blob + RFX_SECRET_NONCE_LEN, blob + RFX_SECRET_NONCE_LEN + len);
	if (rc < 0)
		goto out;
	memcpy(out, "ENC(", 4);
	n = EVP_EncodeBlock((unsigned char *)out + 4, blob, (int)bloblen);
	out[4 + n] = ')';
	out[5 + n] = '\0';
	rc = 5 + n;
out:
	OPENSSL_cleanse(blob, sizeof(blob));
	return rc;
}

int rfx_secret_decrypt(const uint8_t key[RFX_SECRET_KEY_LEN], const char *enc, size_t len,
		       char *out, size_t outsz)
{
	/* Decoded bytes: 3 per 4 characters; +3 for EVP_DecodeBlock's padding bytes. */
	unsigned char blob[BLOB_MAX + 3];
	unsigned char plain[PLAIN_MAX + 16];
	const char *b64;
	size_t b64len, pad = 0, plen;
	int n, rc = RFX_ESECRET;

	if (!rfx_secret_is_enc(enc, len))
		return RFX_ESECRET;
	b64 = enc + 4;
	b64len = len - 5;
	if (b64len == 0 || b64len % 4 != 0 || b64len / 4 * 3 > sizeof(blob))
		return RFX_ESECRET;
	if (b64[b64len - 1] == '=')
		pad++;
	if (b64[b64len - 2] == '=')
		pad++;
	n = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)b64len);
	if (n < 0 || (size_t)n < pad)
		goto out;
	n -= (int)pad; /* EVP_DecodeBlock counts padding as zero bytes */
	if ((size_t)n < RFX_SECRET_NONCE_LEN + RFX_SECRET_TAG_LEN)
		goto out;
	plen = (size_t)n - RFX_SECRET_NONCE_LEN - RFX_SECRET_TAG_LEN;
	if (plen > PLAIN_MAX)
		goto out;
	if (gcm(0, key, blob, blob + RFX_SECRET_NONCE_LEN, (int)plen, plain,
		blob + RFX_SECRET_NONCE_LEN + plen) < 0)
		goto out;
	if (memchr(plain, '\0', plen))
		goto out;
	if (plen + 1 > outsz) {
		rc = RFX_ENOSPACE;
		goto out;
	}
	memcpy(out, plain, plen);
	out[plen] = '\0';
	rc = (int)plen;
out:
	OPENSSL_cleanse(plain, sizeof(plain));
	OPENSSL_cleanse(blob, sizeof(blob));
	return rc;
}
