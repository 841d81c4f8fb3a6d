/* engine/settings: the admin socket keys of [ENGINE]. */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/settings.h"

#define SESSION \
	"[SESSION]\nConnectionType=acceptor\nSocketAcceptPort=5001\nBeginString=FIX.4.4\n" \
	"SenderCompID=A\nTargetCompID=B\nStartTime=00:00:00\nEndTime=00:00:00\n" \
	"UseDataDictionary=N\n"

static int parse(const char *text, struct rfx_settings **s, struct rfx_settings_error *err)
{
	return rfx_settings_parse(text, strlen(text), "t.cfg", "/etc/ringfix", s, err);
}

Test(settings_admin, defaults_relative_path_and_group, .timeout = 10)
{
	struct rfx_settings *s;
	struct rfx_settings_error err;
	cr_assert_eq(parse(SESSION, &s, &err), 0, "%s", err.text);
	cr_expect_str_eq(s->engine.admin_socket, "", "empty: ringfixd picks the default");
	cr_expect(!s->engine.admin_group_access);
	rfx_settings_free(s);
	cr_assert_eq(parse("[ENGINE]\nAdminSocket=run/prod.sock\nAdminGroupAccess=Y\n" SESSION, &s,
			   &err), 0, "%s", err.text);
	cr_expect_str_eq(s->engine.admin_socket, "/etc/ringfix/run/prod.sock");
	cr_expect(s->engine.admin_group_access);
	rfx_settings_free(s);
}

Test(settings_admin, engine_section_only, .timeout = 10)
{
	struct rfx_settings *s = NULL;
	struct rfx_settings_error err;
	cr_assert_lt(parse("[DEFAULT]\nAdminSocket=/x.sock\n" SESSION, &s, &err), 0);
	cr_expect(strstr(err.text, "AdminSocket"), "%s", err.text);
	cr_assert_lt(parse("[ENGINE]\nAdminGroupAccess=yes\n" SESSION, &s, &err), 0);
	cr_expect(strstr(err.text, "not Y or N"), "%s", err.text);
}
