#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/error.h"
#include "engine/secret.h"

static const char key_hex[] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static void test_key(uint8_t key[RFX_SECRET_KEY_LEN])
{
	cr_assert_eq(rfx_secret_key_from_hex(key_hex, strlen(key_hex), key), 0);
}

Test(secret, round_trip, .timeout = 10)
{
	uint8_t key[RFX_SECRET_KEY_LEN];
	char enc[RFX_SECRET_ENC_SIZE(32)], plain[64];
	int n;

	test_key(key);
	n = rfx_secret_encrypt(key, "s3cret#pw", 9, enc, sizeof(enc));
	cr_assert_gt(n, 0);
	cr_expect_eq((size_t)n, strlen(enc));
	cr_expect(rfx_secret_is_enc(enc, (size_t)n));
	cr_expect_null(strstr(enc, "s3cret"));
	cr_assert_eq(rfx_secret_decrypt(key, enc, (size_t)n, plain, sizeof(plain)), 9);
	cr_expect_str_eq(plain, "s3cret#pw");
}

Test(secret, fresh_nonce_each_time, .timeout = 10)
{
	uint8_t key[RFX_SECRET_KEY_LEN];
	char a[RFX_SECRET_ENC_SIZE(4)], b[RFX_SECRET_ENC_SIZE(4)];

	test_key(key);
	cr_assert_gt(rfx_secret_encrypt(key, "same", 4, a, sizeof(a)), 0);
	cr_assert_gt(rfx_secret_encrypt(key, "same", 4, b, sizeof(b)), 0);
	cr_expect_str_neq(a, b);
}

Test(secret, empty_plaintext, .timeout = 10)
{
	uint8_t key[RFX_SECRET_KEY_LEN];
	char enc[RFX_SECRET_ENC_SIZE(0)], plain[8];
	int n;

	test_key(key);
	n = rfx_secret_encrypt(key, "", 0, enc, sizeof(enc));
	cr_assert_gt(n, 0);
	cr_expect_eq(rfx_secret_decrypt(key, enc, (size_t)n, plain, sizeof(plain)), 0);
	cr_expect_str_eq(plain, "");
}

Test(secret, wrong_key_and_tampering_fail, .timeout = 10)
{
	uint8_t key[RFX_SECRET_KEY_LEN], other[RFX_SECRET_KEY_LEN];
	char enc[RFX_SECRET_ENC_SIZE(16)], plain[64];
	int n;

	test_key(key);
	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	n = rfx_secret_encrypt(key, "password", 8, enc, sizeof(enc));
	cr_assert_gt(n, 0);
	strcpy(plain, "untouched");
	cr_expect_eq(rfx_secret_decrypt(other, enc, (size_t)n, plain, sizeof(plain)), RFX_ESECRET);
	cr_expect_str_eq(plain, "untouched", "no partial plaintext on failure");
	/* Flip one base64 character inside the ciphertext. */
	enc[12] = enc[12] == 'A' ? 'B' : 'A';
	cr_expect_eq(rfx_secret_decrypt(key, enc, (size_t)n, plain, sizeof(plain)), RFX_ESECRET);
}

Test(secret, malformed_inputs, .timeout = 10)
{
	uint8_t key[RFX_SECRET_KEY_LEN];
	char plain[64];
	const char *bad[] = { "ENC()", "ENC(abc)", "ENC(!!!!)", "ENC(AAAA)", "enc(AAAA)", "AAAA",
			      "ENC(AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };

	test_key(key);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rfx_secret_decrypt(key, bad[i], strlen(bad[i]), plain, sizeof(plain)),
			     RFX_ESECRET, "%s", bad[i]);
}

Test(secret, small_buffers, .timeout = 10)
{
	uint8_t key[RFX_SECRET_KEY_LEN];
	char enc[RFX_SECRET_ENC_SIZE(10)], plain[4];
	int n;

	test_key(key);
	cr_expect_eq(rfx_secret_encrypt(key, "0123456789", 10, enc, 8), RFX_ENOSPACE);
	n = rfx_secret_encrypt(key, "0123456789", 10, enc, sizeof(enc));
	cr_assert_gt(n, 0);
	cr_expect_eq(rfx_secret_decrypt(key, enc, (size_t)n, plain, sizeof(plain)), RFX_ENOSPACE);
}

Test(secret, key_hex_parsing, .timeout = 10)
{
	uint8_t key[RFX_SECRET_KEY_LEN];
	char buf[80];

	snprintf(buf, sizeof(buf), "  %s\n", key_hex);
	cr_expect_eq(rfx_secret_key_from_hex(buf, strlen(buf), key), 0);
	cr_expect_eq(key[31], 0x1f);
	cr_expect_eq(rfx_secret_key_from_hex(key_hex, 62, key), RFX_ESECRET);
	snprintf(buf, sizeof(buf), "%s", key_hex);
	buf[5] = 'g';
	cr_expect_eq(rfx_secret_key_from_hex(buf, strlen(buf), key), RFX_ESECRET);
}

Test(secret, key_file_permissions, .timeout = 10)
{
	char path[] = "/tmp/rfx_test_keyXXXXXX";
	uint8_t key[RFX_SECRET_KEY_LEN];
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, key_hex, strlen(key_hex)), (ssize_t)strlen(key_hex));
	close(fd);
	cr_expect_eq(rfx_secret_key_load_file(path, key), 0, "mkstemp makes 0600");
	cr_expect_eq(key[1], 0x01);
	chmod(path, 0644);
	cr_expect_eq(rfx_secret_key_load_file(path, key), RFX_ESECRET, "group/other readable");
	unlink(path);
	cr_expect_eq(rfx_secret_key_load_file(path, key), -ENOENT);
}
