#include <criterion/criterion.h>
#include <string.h>

#include "engine/codec.h"
#include "fixtest.h"
#include "guard.h"

static const struct rfx_frame_opts checked = {.max_size = 4096, .check_checksum = true};

/* Frames data placed against a guard page. */
static int frame_guarded(const char *data, size_t len, const struct rfx_frame_opts *o,
			 size_t *skip)
{
	struct guard g;
	char *p = guard_place(&g, data, len);
	cr_assert_not_null(p, "mmap for guard page failed");
	int r = rfx_codec_frame(p, len, o, skip);
	guard_release(&g);
	return r;
}

Test(frame, complete_message_returns_its_length, .timeout = 10)
{
	char m[512];
	size_t n = fixmsg(m, "FIX.4.4", "35=0|49=A|56=B|34=1|52=20240102-03:04:05|");
	size_t skip = 99;
	cr_expect_eq(frame_guarded(m, n, &checked, &skip), (int)n);
	cr_expect_eq(skip, 0);
}

Test(frame, two_messages_frame_one_at_a_time, .timeout = 10)
{
	char m[1024];
	size_t n1 = fixmsg(m, "FIX.4.2", "35=0|");
	size_t n2 = fixmsg(m + n1, "FIX.4.2", "35=1|112=x|");
	cr_expect_eq(frame_guarded(m, n1 + n2, &checked, NULL), (int)n1);
	cr_expect_eq(frame_guarded(m + n1, n2, &checked, NULL), (int)n2);
}

Test(frame, every_prefix_is_partial, .timeout = 10)
{
	char m[512];
	size_t n = fixmsg(m, "FIXT.1.1", "35=D|11=abc|55=XYZ|");
	for (size_t k = 0; k < n; k++) {
		size_t skip = 7;
		int r = frame_guarded(m, k, &checked, &skip);
		cr_expect_eq(r, RFX_EPARTIAL, "prefix %zu gave %d", k, r);
		cr_expect_eq(skip, 0);
	}
}

Test(frame, bad_checksum_reports_frame_length, .timeout = 10)
{
	char m[512];
	size_t n = fixmsg(m, "FIX.4.4", "35=0|");
	m[n - 2] = m[n - 2] == '9' ? '0' : (char)(m[n - 2] + 1);
	size_t skip = 0;
	cr_expect_eq(frame_guarded(m, n, &checked, &skip), RFX_ECHECKSUM);
	cr_expect_eq(skip, n);
	struct rfx_frame_opts off = {.check_checksum = false};
	cr_expect_eq(frame_guarded(m, n, &off, NULL), (int)n);
}

Test(frame, begin_string_must_be_first, .timeout = 10)
{
	char m[512], g[600];
	size_t n = fixmsg(m, "FIX.4.4", "35=0|");
	int k = sprintf(g, "xx9=");
	memcpy(g + k, m, n);
	size_t skip = 0;
	cr_expect_eq(frame_guarded(g, k + n, &checked, &skip), RFX_EGARBLED);
	cr_expect_eq(skip, (size_t)k);
	cr_expect_eq(frame_guarded(g + skip, n, &checked, NULL), (int)n);
}

Test(frame, body_length_must_be_second, .timeout = 10)
{
	char m[128];
	size_t n = soh(m, "8=FIX.4.4|35=0|9=5|10=000|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
	n = soh(m, "8=FIX.4.4|9=x|35=0|10=000|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
	n = soh(m, "8=FIX.4.4|9=|35=0|10=000|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
	n = soh(m, "8=|9=5|35=0|10=000|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
	n = soh(m, "8=FIX.4.4|9=123456789|35=0|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
}

Test(frame, msg_type_must_be_third, .timeout = 10)
{
	char m[128];
	size_t n = fixmsg(m, "FIX.4.4", "34=1|35=0|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
	n = fixmsg(m, "FIX.4.4", "35=|34=1|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
	/* Judged as soon as the bytes arrive, before the whole frame is in. */
	n = soh(m, "8=FIX.4.4|9=50|36=");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
}

Test(frame, wrong_body_length_is_garbled, .timeout = 10)
{
	char m[256];
	size_t n = soh(m, "8=FIX.4.4|9=6|35=0|10=000|"); /* real body is 5 */
	cr_expect_eq(frame_guarded(m, n + 1, &checked, NULL), RFX_EGARBLED);
	n = soh(m, "8=FIX.4.4|9=4|35=0|10=000|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
	n = soh(m, "8=FIX.4.4|9=5|35=0|11=000|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
	n = soh(m, "8=FIX.4.4|9=5|35=0|10=0a0|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
	n = soh(m, "8=FIX.4.4|9=5|35=0|10=0000");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), RFX_EGARBLED);
}

Test(frame, too_big_against_caller_maximum, .timeout = 10)
{
	char m[256];
	size_t n = soh(m, "8=FIX.4.4|9=5000|35=0|");
	size_t skip = 0;
	cr_expect_eq(frame_guarded(m, n, &checked, &skip), RFX_ETOOBIG);
	cr_expect_eq(skip, n);
	struct rfx_frame_opts small = {.max_size = 20, .check_checksum = true};
	n = fixmsg(m, "FIX.4.4", "35=0|");
	cr_expect_eq(frame_guarded(m, n, &small, NULL), RFX_ETOOBIG);
	small.max_size = (uint32_t)n;
	cr_expect_eq(frame_guarded(m, n, &small, NULL), (int)n);
}

Test(frame, resync_keeps_a_possible_start_at_the_end, .timeout = 10)
{
	char m[64];
	size_t n = soh(m, "garbage|8=FI");
	size_t skip = 0;
	cr_expect_eq(frame_guarded(m, n, &checked, &skip), RFX_EGARBLED);
	cr_expect_eq(skip, 8);
	n = soh(m, "garbage with no start");
	cr_expect_eq(frame_guarded(m, n, &checked, &skip), RFX_EGARBLED);
	cr_expect_eq(skip, n);
	n = soh(m, "8=FIX.4.4|9=5|35=0|10=000|8=FIX");
	m[2] = 1; /* empty BeginString: skip to the second "8=FIX" */
	cr_expect_eq(frame_guarded(m, n, &checked, &skip), RFX_EGARBLED);
	cr_expect_eq(skip, n - 5);
}

Test(frame, data_field_with_soh_inside_frames_by_length, .timeout = 10)
{
	char m[256];
	size_t n = fixmsg(m, "FIX.4.4", "35=B|95=7|96=a|10=1|b|");
	cr_expect_eq(frame_guarded(m, n, &checked, NULL), (int)n);
}

Test(frame, null_opts_use_defaults, .timeout = 10)
{
	char m[256];
	size_t n = fixmsg(m, "FIX.4.4", "35=0|");
	cr_expect_eq(frame_guarded(m, n, NULL, NULL), (int)n);
	m[n - 2] ^= 1;
	cr_expect_eq(frame_guarded(m, n, NULL, NULL), RFX_ECHECKSUM);
}

Test(frame, checksum_matches_naive_sum, .timeout = 10)
{
	unsigned char b[300];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (unsigned char)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof b; len++) {
		unsigned s = 0;
		for (size_t i = 0; i < len; i++)
			s += b[i];
		cr_expect_eq(rfx_checksum(b, len), s % 256, "len %zu", len);
	}
}
