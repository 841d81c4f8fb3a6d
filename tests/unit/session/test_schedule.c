/*
 * Time zones (against glibc's reading of the same tz database), schedules,
 * and the session's behaviour at schedule boundaries.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/civil.h"
#include "engine/schedule.h"
#include "engine/tz.h"
#include "harness.h"

static struct rfx_tz tz;

static void need_zone(const char *name)
{
	int rc = rfx_tz_load(&tz, name);
	if (rc == -ENOENT)
		cr_skip_test("time zone %s not installed (tzdata)", name);
	cr_assert_eq(rc, 0, "load %s: %d", name, rc);
}

static int64_t utc(int y, unsigned mo, unsigned d, int h, int mi)
{
	return rfx_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

Test(tz, new_york_offsets, .timeout = 10)
{
	need_zone("America/New_York");
	cr_assert_eq(rfx_tz_offset(&tz, utc(2026, 1, 15, 12, 0)), -5 * 3600);
	cr_assert_eq(rfx_tz_offset(&tz, utc(2026, 7, 15, 12, 0)), -4 * 3600);
	/* Beyond the file's transitions: the POSIX footer rule. */
	cr_assert_eq(rfx_tz_offset(&tz, utc(2100, 7, 15, 12, 0)), -4 * 3600);
	cr_assert_eq(rfx_tz_offset(&tz, utc(2100, 12, 15, 12, 0)), -5 * 3600);
	/* 2026-03-08 02:00 EST -> 03:00 EDT happens at 07:00 UTC. */
	cr_assert_eq(rfx_tz_offset(&tz, utc(2026, 3, 8, 6, 59)), -5 * 3600);
	cr_assert_eq(rfx_tz_offset(&tz, utc(2026, 3, 8, 7, 0)), -4 * 3600);
	int64_t lt = utc(2026, 7, 15, 9, 30); /* as a local clock reading */
	cr_assert_eq(rfx_tz_local_to_utc(&tz, lt), utc(2026, 7, 15, 13, 30));
	/* Fall back overlap: 01:30 happens twice, the earlier (EDT) wins. */
	cr_assert_eq(rfx_tz_local_to_utc(&tz, utc(2026, 11, 1, 1, 30)), utc(2026, 11, 1, 5, 30));
}

Test(tz, bad_names_and_data, .timeout = 10)
{
	cr_assert_eq(rfx_tz_load(&tz, "../etc/passwd"), -EINVAL);
	cr_assert_eq(rfx_tz_load(&tz, "/etc/localtime"), -EINVAL);
	cr_assert_eq(rfx_tz_load(&tz, ""), -EINVAL);
	cr_assert_eq(rfx_tz_load(&tz, "UTC"), 0);
	cr_assert_eq(rfx_tz_offset(&tz, 1234567), 0);
	cr_assert_eq(rfx_tz_parse(&tz, "TZif2", 5, "x"), -EINVAL);
	char junk[64];
	memset(junk, 0xff, sizeof(junk));
	memcpy(junk, "TZif2", 5);
	cr_assert_eq(rfx_tz_parse(&tz, junk, sizeof(junk), "x"), -EINVAL);
}

/* UseLocalTime=Y: the zone named by $TZ, else /etc/localtime, as glibc reads
 * them (each Criterion test runs in its own process, so setenv stays here). */
Test(tz, local_zone_follows_tz_and_localtime, .timeout = 10)
{
	need_zone("America/New_York");
	setenv("TZ", "America/New_York", 1);
	cr_assert_eq(rfx_tz_load_local(&tz), 0);
	cr_expect_eq(rfx_tz_offset(&tz, utc(2026, 1, 15, 12, 0)), -5 * 3600);
	need_zone("Asia/Tokyo");
	setenv("TZ", ":Asia/Tokyo", 1);
	cr_assert_eq(rfx_tz_load_local(&tz), 0);
	cr_expect_eq(rfx_tz_offset(&tz, utc(2026, 1, 15, 12, 0)), 9 * 3600);

	unsetenv("TZ");
	tzset();
	cr_assert_eq(rfx_tz_load_local(&tz), 0);
	for (int m = 1; m <= 12; m += 6) {
		time_t t = (time_t)utc(2026, (unsigned)m, 15, 12, 0);
		struct tm lt;
		localtime_r(&t, &lt);
		cr_expect_eq(rfx_tz_offset(&tz, (int64_t)t), (int32_t)lt.tm_gmtoff,
			     "month %d: ours %d, glibc %ld", m, rfx_tz_offset(&tz, (int64_t)t),
			     (long)lt.tm_gmtoff);
	}
}

/* Cross-check against glibc for zones with different rules. */
Test(tz, agrees_with_glibc, .timeout = 30)
{
	static const char *zones[] = {"Europe/London", "Australia/Sydney", "Asia/Kolkata",
				      "America/Sao_Paulo", "America/Chicago", "Asia/Tokyo"};
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	uint64_t r = 12345;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		if (rfx_tz_load(&tz, zones[z]) == -ENOENT)
			cr_skip_test("tzdata not installed");
		setenv("TZ", zones[z], 1);
		tzset();
		for (int i = 0; i < 3000; i++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			/* 1972 .. 2099 */
			time_t t = (time_t)(63072000 + (int64_t)(r >> 33) % (int64_t)4039000000);
			struct tm tm;
			localtime_r(&t, &tm);
			cr_assert_eq(rfx_tz_offset(&tz, t), tm.tm_gmtoff, "%s at %lld", zones[z],
				     (long long)t);
		}
	}
	if (old) {
		setenv("TZ", old, 1);
		free(old);
	} else {
		unsetenv("TZ");
	}
	tzset();
}

Test(schedule, daily_in_zone, .timeout = 10)
{
	need_zone("Europe/London");
	struct rfx_schedule s = {.start_time = 8 * 3600, .end_time = 17 * 3600, .start_day = -1,
				 .end_day = -1, .tz = &tz};
	cr_assert_eq(rfx_schedule_check(&s), 0);
	int64_t ns = 1000000000LL;
	/* Summer: BST = UTC+1, so 08:00-17:00 local is 07:00-16:00 UTC. */
	cr_assert(!rfx_schedule_in_session(&s, utc(2026, 7, 15, 6, 59) * ns));
	cr_assert(rfx_schedule_in_session(&s, utc(2026, 7, 15, 7, 0) * ns));
	cr_assert_eq(rfx_schedule_period(&s, utc(2026, 7, 15, 12, 0) * ns), utc(2026, 7, 15, 7, 0) * ns);
	cr_assert_eq(rfx_schedule_next_change(&s, utc(2026, 7, 15, 12, 0) * ns),
		     utc(2026, 7, 15, 16, 0) * ns);
	cr_assert(!rfx_schedule_in_session(&s, utc(2026, 7, 15, 16, 0) * ns));
	cr_assert_eq(rfx_schedule_next_change(&s, utc(2026, 7, 15, 20, 0) * ns),
		     utc(2026, 7, 16, 7, 0) * ns);
	/* Winter: GMT. */
	cr_assert(rfx_schedule_in_session(&s, utc(2026, 1, 15, 8, 0) * ns));
	cr_assert(!rfx_schedule_in_session(&s, utc(2026, 1, 15, 7, 59) * ns));
}

Test(schedule, weekly_sunday_to_friday, .timeout = 10)
{
	need_zone("America/New_York");
	struct rfx_schedule s = {.start_time = 17 * 3600, .end_time = 17 * 3600, .start_day = 0,
				 .end_day = 5, .tz = &tz};
	int64_t ns = 1000000000LL;
	/* 2026-07-12 is a Sunday; 17:00 EDT = 21:00 UTC. */
	cr_assert(!rfx_schedule_in_session(&s, utc(2026, 7, 12, 20, 59) * ns));
	cr_assert_eq(rfx_schedule_period(&s, utc(2026, 7, 14, 3, 0) * ns), utc(2026, 7, 12, 21, 0) * ns);
	cr_assert(rfx_schedule_in_session(&s, utc(2026, 7, 17, 20, 59) * ns)); /* Friday */
	cr_assert(!rfx_schedule_in_session(&s, utc(2026, 7, 17, 21, 0) * ns));
	cr_assert(!rfx_schedule_in_session(&s, utc(2026, 7, 18, 12, 0) * ns)); /* Saturday */
	cr_assert_eq(rfx_schedule_next_change(&s, utc(2026, 7, 18, 12, 0) * ns),
		     utc(2026, 7, 19, 21, 0) * ns);
}

Test(schedule, twenty_four_hours_resets_daily, .timeout = 10)
{
	struct rfx_schedule s = {.start_time = 0, .end_time = 0, .start_day = -1, .end_day = -1};
	int64_t ns = 1000000000LL;
	cr_assert(rfx_schedule_in_session(&s, utc(2026, 7, 15, 23, 59) * ns));
	cr_assert_eq(rfx_schedule_period(&s, utc(2026, 7, 15, 23, 59) * ns), utc(2026, 7, 15, 0, 0) * ns);
	cr_assert_eq(rfx_schedule_period(&s, utc(2026, 7, 16, 0, 0) * ns), utc(2026, 7, 16, 0, 0) * ns);
	cr_assert_eq(rfx_schedule_next_change(&s, utc(2026, 7, 15, 12, 0) * ns),
		     utc(2026, 7, 16, 0, 0) * ns);
	struct rfx_schedule ns_s = {.non_stop = true};
	cr_assert_eq(rfx_schedule_next_change(&ns_s, 0), INT64_MAX);
	struct rfx_schedule bad = {.start_time = 86400, .start_day = -1, .end_day = -1};
	cr_assert_eq(rfx_schedule_check(&bad), -EINVAL);
	struct rfx_schedule bad2 = {.start_day = 1, .end_day = -1};
	cr_assert_eq(rfx_schedule_check(&bad2), -EINVAL);
}

/* Session at schedule boundaries: 08:00-17:00 UTC daily. */
static struct rfx_schedule office = {.start_time = 8 * 3600, .end_time = 17 * 3600,
				     .start_day = -1, .end_day = -1};

static void with_office(struct rfx_session_config *c)
{
	c->schedule = &office;
	c->reset_on_logon = false;
}

static struct harness h;

Test(schedule, session_ends_and_resets_with_the_period, .timeout = 10)
{
	h_init(&h, with_office); /* clock: 2026-01-02 10:00 UTC */
	h_connect(&h);
	h_logon(&h, 1, 30);
	cr_assert(rfx_session_logged_on(&h.s));
	h_peer(&h, "35=0|34=2|");
	int64_t dl = rfx_session_on_timer(&h.s, h.now);
	cr_assert_leq(dl, h.now + 30 * H_NS);
	h.now = utc(2026, 1, 2, 17, 0) * H_NS;
	rfx_session_on_timer(&h.s, h.now);
	cr_assert(strstr(h_last(&h), "35=5|"), "%s", h_last(&h));
	cr_assert_eq(h.disconnects, 1);
	cr_assert_eq(h.s.next_target, 1, "numbers reset at the end of the period");
	/* Outside the schedule a connection is refused. */
	h.now = utc(2026, 1, 2, 18, 0) * H_NS;
	cr_assert_eq(rfx_session_on_connect(&h.s, h.now), RFX_ESTATE);
	/* Next morning: a new period, fresh numbers. */
	h.now = utc(2026, 1, 3, 8, 0) * H_NS;
	cr_assert_eq(rfx_session_on_connect(&h.s, h.now), 0);
	h_logon(&h, 1, 30);
	cr_assert(rfx_session_logged_on(&h.s));
	h_free(&h);
}

/* Restart in a later period: the stored numbers belong to yesterday. */
Test(schedule, new_period_since_numbers_began_resets_on_connect, .timeout = 10)
{
	h_init(&h, with_office);
	h_connect(&h);
	h_logon(&h, 1, 30);
	h_peer(&h, "35=0|34=2|");
	rfx_session_on_disconnect(&h.s, h.now);
	cr_assert_eq(h.s.next_target, 3);
	unsigned resets = h.store->resets;
	h.now = utc(2026, 1, 5, 9, 0) * H_NS;
	cr_assert_eq(rfx_session_on_connect(&h.s, h.now), 0);
	cr_assert_eq(h.store->resets, resets + 1);
	cr_assert_eq(h.s.next_target, 1);
	cr_assert_eq(h.s.next_sender, 1);
	h_free(&h);
}

#include "engine/session_config.h"
#include "engine/settings.h"

Test(schedule, config_from_settings_file, .timeout = 10)
{
	static const char text[] =
		"[DEFAULT]\nConnectionType=initiator\nSocketConnectHost=127.0.0.1\n"
		"SocketConnectPort=5001\nSenderCompID=US\nHeartBtInt=15\n"
		"StartTime=08:00:00\nEndTime=17:00:00\nStartDay=mon\nEndDay=fri\n"
		"TimeZone=America/New_York\nResendRequestChunkSize=100\nPersistMessages=N\n"
		"UseDataDictionary=N\n"
		"[SESSION]\nBeginString=FIX.4.2\nTargetCompID=THEM\nResetOnLogon=Y\n";
	struct rfx_settings *st = NULL;
	struct rfx_settings_error err;
	int rc = rfx_settings_parse(text, sizeof(text) - 1, "test.cfg", NULL, &st, &err);
	cr_assert_eq(rc, 0, "%s", err.text);
	cr_assert_eq(st->nsessions, 1);
	const struct rfx_session_settings *ss = &st->sessions[0];
	need_zone(ss->time_zone);
	struct rfx_session_config c;
	struct rfx_schedule sched;
	cr_assert_eq(rfx_session_config_from_settings(&c, &sched, ss, &tz), 0);
	cr_assert_eq(c.role, RFX_SESSION_INITIATOR);
	cr_assert_str_eq(c.begin_string, "FIX.4.2");
	cr_assert_str_eq(c.sender_comp_id, "US");
	cr_assert_str_eq(c.target_comp_id, "THEM");
	cr_assert_eq(c.heart_bt_int, 15);
	cr_assert(c.reset_on_logon);
	cr_assert(c.no_persist_messages);
	cr_assert_eq(c.resend_chunk_size, 100);
	cr_assert_eq(c.schedule, &sched);
	cr_assert_eq(sched.start_day, 1);
	cr_assert_eq(sched.end_day, 5);
	/* Tuesday 2026-07-14 09:00 EDT = 13:00 UTC: in session; Saturday not. */
	cr_assert(rfx_schedule_in_session(&sched, utc(2026, 7, 14, 13, 0) * 1000000000LL));
	cr_assert(!rfx_schedule_in_session(&sched, utc(2026, 7, 18, 13, 0) * 1000000000LL));
	struct rfx_session s;
	char out[1024], q[1024];
	struct rfx_session_field f[64];
	struct rfx_session_ops ops = {0};
	struct rfx_session_mem mem = {out, sizeof(out), q, sizeof(q), f, 64};
	cr_assert_eq(rfx_session_init(&s, &c, &ops, &mem), 0);
	rfx_settings_free(st);
}

/* ---- logon window (LogonTime/LogoutTime/LogonDay/LogoutDay) ---- */

Test(schedule, logon_window_times_and_check, .timeout = 10)
{
	/* Session 07:00-18:00, logons 08:00-17:00. */
	struct rfx_schedule s = {.start_time = 7 * 3600, .end_time = 18 * 3600, .start_day = -1,
				 .end_day = -1, .logon_window = true, .logon_time = 8 * 3600,
				 .logout_time = 17 * 3600, .logon_day = -1, .logout_day = -1};
	cr_assert_eq(rfx_schedule_check(&s), 0);
	int64_t d = utc(2026, 1, 2, 0, 0) * H_NS;
	cr_assert(!rfx_schedule_logon_time(&s, d + 7 * 3600 * H_NS + 30 * 60 * H_NS));
	cr_assert(rfx_schedule_in_session(&s, d + 7 * 3600 * H_NS + 30 * 60 * H_NS));
	cr_assert(rfx_schedule_logon_time(&s, d + 8 * 3600 * H_NS));
	cr_assert(rfx_schedule_logon_time(&s, d + 17 * 3600 * H_NS - 1));
	cr_assert(!rfx_schedule_logon_time(&s, d + 17 * 3600 * H_NS));
	cr_assert(!rfx_schedule_logon_time(&s, d + 20 * 3600 * H_NS), "outside the session too");
	cr_assert_eq(rfx_schedule_logon_next_change(&s, d + 7 * 3600 * H_NS), d + 8 * 3600 * H_NS);
	cr_assert_eq(rfx_schedule_logon_next_change(&s, d + 9 * 3600 * H_NS), d + 17 * 3600 * H_NS);
	cr_assert_eq(rfx_schedule_logon_next_change(&s, d + 17 * 3600 * H_NS), d + 18 * 3600 * H_NS);
	/* No window: the period decides; NULL: always. */
	struct rfx_schedule plain = s;
	plain.logon_window = false;
	cr_assert(rfx_schedule_logon_time(&plain, d + 7 * 3600 * H_NS + 1));
	cr_assert(rfx_schedule_logon_time(NULL, d));
	/* Window ends outside StartTime..EndTime (ends included are fine). */
	struct rfx_schedule bad = s;
	bad.logon_time = 6 * 3600;
	cr_assert_eq(rfx_schedule_check(&bad), -EINVAL);
	bad = s;
	bad.logout_time = 18 * 3600;
	cr_assert_eq(rfx_schedule_check(&bad), 0);
	bad.logout_time = 18 * 3600 + 1;
	cr_assert_eq(rfx_schedule_check(&bad), -EINVAL);
	bad = s;
	bad.logon_day = 1;
	cr_assert_eq(rfx_schedule_check(&bad), -EINVAL, "days go in pairs");
	/* Overnight session 22:00-06:00: 23:00 and 05:00 are inside, 12:00 not. */
	struct rfx_schedule night = {.start_time = 22 * 3600, .end_time = 6 * 3600,
				     .start_day = -1, .end_day = -1};
	cr_assert(rfx_schedule_contains(&night, 23 * 3600, -1));
	cr_assert(rfx_schedule_contains(&night, 5 * 3600, 3));
	cr_assert(!rfx_schedule_contains(&night, 12 * 3600, -1));
}

Test(schedule, weekly_logon_window, .timeout = 10)
{
	/* Sunday 17:00 - Friday 17:00 session, logons Monday 06:00 - Friday 16:00. */
	struct rfx_schedule s = {.start_time = 17 * 3600, .end_time = 17 * 3600, .start_day = 0,
				 .end_day = 5, .logon_window = true, .logon_time = 6 * 3600,
				 .logout_time = 16 * 3600, .logon_day = 1, .logout_day = 5};
	cr_assert_eq(rfx_schedule_check(&s), 0);
	/* 2026-01-04 is a Sunday. */
	cr_assert(rfx_schedule_in_session(&s, utc(2026, 1, 4, 20, 0) * H_NS));
	cr_assert(!rfx_schedule_logon_time(&s, utc(2026, 1, 4, 20, 0) * H_NS));
	cr_assert(!rfx_schedule_logon_time(&s, utc(2026, 1, 5, 5, 59) * H_NS));
	cr_assert(rfx_schedule_logon_time(&s, utc(2026, 1, 5, 6, 0) * H_NS));
	cr_assert(rfx_schedule_logon_time(&s, utc(2026, 1, 7, 3, 0) * H_NS), "Wednesday night");
	cr_assert(!rfx_schedule_logon_time(&s, utc(2026, 1, 9, 16, 30) * H_NS));
	cr_assert(rfx_schedule_in_session(&s, utc(2026, 1, 9, 16, 30) * H_NS));
	/* Saturday is outside the week's period; Friday 17:00 is its end. */
	cr_assert(!rfx_schedule_contains(&s, 12 * 3600, 6));
	cr_assert(rfx_schedule_contains(&s, 17 * 3600, 5));
	cr_assert(!rfx_schedule_contains(&s, 17 * 3600 + 1, 5));
	cr_assert(rfx_schedule_contains(&s, 3 * 3600, 2));
	struct rfx_schedule bad = s;
	bad.logout_day = 6;
	cr_assert_eq(rfx_schedule_check(&bad), -EINVAL);
}

/* Session 08:00-17:00 UTC, logons 09:00-16:00. */
static struct rfx_schedule office_window = {
	.start_time = 8 * 3600, .end_time = 17 * 3600, .start_day = -1, .end_day = -1,
	.logon_window = true, .logon_time = 9 * 3600, .logout_time = 16 * 3600,
	.logon_day = -1, .logout_day = -1};

static void with_window(struct rfx_session_config *c)
{
	c->schedule = &office_window;
	c->reset_on_logon = false;
}

static void initiator_with_window(struct rfx_session_config *c)
{
	with_window(c);
	c->role = RFX_SESSION_INITIATOR;
}

Test(schedule, acceptor_refuses_logon_outside_window, .timeout = 10)
{
	h_init(&h, with_window);
	h.now = utc(2026, 1, 2, 8, 30) * H_NS; /* in session, before LogonTime */
	h_connect(&h);
	h_logon(&h, 1, 30);
	cr_assert(!rfx_session_logged_on(&h.s));
	cr_assert_eq(h.nout, 0, "silent disconnect, as QuickFIX");
	cr_assert_eq(h.disconnects, 1);
	cr_assert_eq(h.events[RFX_SESSION_EV_INFO] > 0, true);
	h.now = utc(2026, 1, 2, 9, 0) * H_NS;
	cr_assert_eq(rfx_session_on_connect(&h.s, h.now), 0);
	h_logon(&h, 1, 30);
	cr_assert(rfx_session_logged_on(&h.s));
	h_free(&h);
}

Test(schedule, logged_on_session_logs_out_at_logout_time, .timeout = 10)
{
	h_init(&h, with_window); /* 10:00 */
	h_connect(&h);
	h_logon(&h, 1, 30);
	cr_assert(rfx_session_logged_on(&h.s));
	/* The timer deadline never overshoots LogoutTime. */
	h.now = utc(2026, 1, 2, 15, 59) * H_NS + 50 * H_NS;
	h_peer(&h, "35=0|34=2|");
	int64_t dl = rfx_session_on_timer(&h.s, h.now);
	cr_assert_leq(dl, utc(2026, 1, 2, 16, 0) * H_NS);
	h.now = utc(2026, 1, 2, 16, 0) * H_NS;
	h_clear(&h);
	rfx_session_on_timer(&h.s, h.now);
	cr_assert_eq(h.nout, 1);
	cr_assert(strstr(h_last(&h), "35=5|"), "%s", h_last(&h));
	cr_assert_eq(rfx_session_state(&h.s), RFX_SESSION_LOGOUT_SENT);
	cr_assert_eq(h.disconnects, 0, "the handshake runs first");
	h_peer(&h, "35=5|34=3|");
	cr_assert_eq(h.disconnects, 1);
	cr_assert_eq(h.s.next_target, 4, "still in the period: numbers kept");
	h_free(&h);
}

Test(schedule, initiator_does_not_log_on_outside_window, .timeout = 10)
{
	h_init(&h, initiator_with_window);
	h.now = utc(2026, 1, 2, 16, 30) * H_NS;
	cr_assert(!rfx_session_logon_time(&h.s, h.now));
	cr_assert_eq(rfx_session_on_connect(&h.s, h.now), RFX_ESTATE);
	cr_assert_eq(h.nout, 0);
	h.now = utc(2026, 1, 3, 9, 0) * H_NS;
	cr_assert(rfx_session_logon_time(&h.s, h.now));
	cr_assert_eq(rfx_session_on_connect(&h.s, h.now), 0);
	cr_assert(strstr(h_last(&h), "35=A|"), "%s", h_last(&h));
	h_free(&h);
}

Test(schedule, logon_window_from_settings, .timeout = 10)
{
	static const char head[] =
		"[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=5001\nSenderCompID=US\n"
		"StartTime=08:00:00\nEndTime=17:00:00\nUseDataDictionary=N\n"
		"[SESSION]\nBeginString=FIX.4.2\nTargetCompID=THEM\n";
	static const struct {
		const char *extra, *key, *why;
	} bad[] = {
		{"LogonTime=07:00:00\n", "LogonTime", "must be between StartTime and EndTime"},
		{"LogoutTime=17:00:01\n", "LogoutTime", "must be between StartTime and EndTime"},
		{"LogonDay=mo\n", "LogoutDay", "both LogonDay and LogoutDay"},
		{"LogonTime=9\n", "LogonTime", "not a time"},
	};
	char text[512];
	struct rfx_settings *st = NULL;
	struct rfx_settings_error err;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", head, bad[i].extra);
		cr_assert_eq(rfx_settings_parse(text, strlen(text), "t.cfg", NULL, &st, &err),
			     RFX_ECONFIG, "%s", bad[i].extra);
		cr_expect_str_eq(err.key, bad[i].key, "%s", err.text);
		cr_expect(strstr(err.text, bad[i].why), "%s", err.text);
		cr_expect_eq(err.line, 11, "%s", err.text);
	}
	snprintf(text, sizeof(text), "%sLogonTime=09:00:00\nRefreshOnLogon=Y\n", head);
	cr_assert_eq(rfx_settings_parse(text, strlen(text), "t.cfg", NULL, &st, &err), 0, "%s",
		     err.text);
	struct rfx_session_config c;
	struct rfx_schedule sched;
	cr_assert_eq(rfx_session_config_from_settings(&c, &sched, &st->sessions[0], NULL), 0);
	cr_assert(sched.logon_window);
	cr_assert_eq(sched.logon_time, 9 * 3600);
	cr_assert_eq(sched.logout_time, 17 * 3600, "LogoutTime defaults to EndTime");
	cr_assert_eq(sched.logon_day, -1);
	cr_assert(c.refresh_on_logon);
	rfx_settings_free(st);
	/* Without any of the four keys there is no separate window. */
	cr_assert_eq(rfx_settings_parse(head, strlen(head), "t.cfg", NULL, &st, &err), 0);
	cr_assert_eq(rfx_session_config_from_settings(&c, &sched, &st->sessions[0], NULL), 0);
	cr_assert(!sched.logon_window);
	cr_assert(!c.refresh_on_logon);
	rfx_settings_free(st);
}

/* ---- RefreshOnLogon ---- */

static void refresh_acceptor(struct rfx_session_config *c)
{
	c->refresh_on_logon = true;
}

static void refresh_initiator(struct rfx_session_config *c)
{
	c->refresh_on_logon = true;
	c->role = RFX_SESSION_INITIATOR;
}

/* A session whose store holds next numbers sender/target, changed behind its
 * back (a hot standby's peer wrote them), then connected. */
static void connect_with_stored(void (*tweak)(struct rfx_session_config *), uint64_t sender,
				uint64_t target)
{
	h_init(&h, tweak);
	cr_assert_eq(h.s.next_target, 1);
	h.store->next_sender = sender;
	h.store->next_target = target;
	h_connect(&h);
}

/* With RefreshOnLogon the acceptor logs on from the stored numbers. */
Test(schedule, refresh_on_logon_acceptor_reloads_the_store, .timeout = 10)
{
	connect_with_stored(refresh_acceptor, 40, 7);
	h_logon(&h, 7, 30);
	cr_assert(rfx_session_logged_on(&h.s));
	cr_assert(strstr(h_last(&h), "|34=40|"), "%s", h_last(&h));
	cr_assert_eq(h.s.next_target, 8);
	cr_assert_eq(h.s.next_sender, 41);
	cr_assert_eq(h_count(&h, "35=2|"), 0, "no ResendRequest: 7 was expected");
	h_free(&h);
}

Test(schedule, without_refresh_the_session_keeps_its_numbers, .timeout = 10)
{
	connect_with_stored(NULL, 40, 7);
	h_logon(&h, 7, 30);
	cr_assert(strstr(h.out[0], "|34=1|"), "%s", h.out[0]);
	cr_assert_eq(h_count(&h, "35=2|"), 1, "7 is too high for a session at 1");
	h_free(&h);
}

Test(schedule, refresh_on_logon_initiator_reloads_before_its_logon, .timeout = 10)
{
	connect_with_stored(refresh_initiator, 12, 5);
	cr_assert(strstr(h_last(&h), "35=A|34=12|"), "%s", h_last(&h));
	h_logon(&h, 5, 30);
	cr_assert(rfx_session_logged_on(&h.s));
	cr_assert_eq(h.s.next_target, 6);
	h_free(&h);
}

/* A store that cannot be read at logon ends the connection: no logon on
 * numbers that may be stale. */
static int failing_get_seqs(void *ctx, uint64_t *ns, uint64_t *nt)
{
	(void)ctx;
	(void)ns;
	(void)nt;
	return -EIO;
}

Test(schedule, refresh_on_logon_store_error_disconnects, .timeout = 10)
{
	h_init(&h, refresh_acceptor);
	h.s.ops.store_get_seqs = failing_get_seqs;
	h_connect(&h);
	h_logon(&h, 1, 30);
	cr_assert(!rfx_session_logged_on(&h.s));
	cr_assert_eq(h.disconnects, 1);
	cr_assert_eq(h.events[RFX_SESSION_EV_STORE_ERROR], 1);
	cr_assert_eq(h.nout, 0);
	h_free(&h);
}
