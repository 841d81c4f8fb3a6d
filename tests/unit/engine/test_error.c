#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "engine/error.h"

Test(error, named_codes_have_their_own_text, .timeout = 5)
{
	cr_expect_str_eq(rfx_strerror(RFX_ECHECKSUM), "CheckSum(10) mismatch");
	cr_expect_str_eq(rfx_strerror(RFX_EFULL), "ring full");
	cr_expect_str_eq(rfx_strerror(0), "success");
}

Test(error, negative_errno_maps_to_strerror, .timeout = 5)
{
	cr_expect_str_eq(rfx_strerror(-ENOMEM), strerror(ENOMEM));
}

Test(error, unknown_codes_are_named_unknown, .timeout = 5)
{
	cr_expect_str_eq(rfx_strerror(-(RFX_ERRBASE + 99)), "unknown error");
	cr_expect_str_eq(rfx_strerror(12345), "unknown error");
}
