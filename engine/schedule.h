/*
 * Session schedules: when a FIX session may be logged on, and when a new
 * session period starts (sequence numbers reset then, as QuickFIX does).
 *
 * QuickFIX semantics: StartTime/EndTime are times of day in the schedule's
 * zone; StartDay/EndDay make the period weekly. StartTime == EndTime without
 * days is a 24-hour session that still starts a new period every day at
 * StartTime; NonStopSession never ends and never resets.
 *
 * LogonTime/LogoutTime (and LogonDay/LogoutDay for weekly sessions) narrow the
 * period to a logon window, as in QuickFIX: logons are initiated and accepted
 * only inside it, and an established session logs out when it closes. The
 * window is a time range of its own (same zone); its two ends must lie
 * within StartTime..EndTime.
 *
 * Pure: no clock, no file (the zone is loaded once, see engine/tz.h). The
 * session asks for the next boundary only when needed, never per message.
 */
#ifndef RFX_ENGINE_SCHEDULE_H
#define RFX_ENGINE_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/tz.h"

struct rfx_schedule {
	bool non_stop;           /* NonStopSession=Y */
	int32_t start_time;      /* seconds of the local day, 0..86399 */
	int32_t end_time;
	int32_t start_day;       /* 0 = Sunday .. 6 = Saturday; -1 = daily */
	int32_t end_day;
	/* Logon window; logon_window false = the whole period. Times and days
	 * as above (days -1 = daily window). */
	bool logon_window;
	int32_t logon_time, logout_time;
	int32_t logon_day, logout_day;
	const struct rfx_tz *tz; /* NULL = UTC; must outlive the schedule */
};

/* Checks the fields: times in range, both days set or both -1, and a logon
 * window whose two ends lie within the period (rfx_schedule_contains). 0 or
 * -EINVAL. */
int rfx_schedule_check(const struct rfx_schedule *s);

/* Start (ns since the epoch, UTC) of the period containing now, or INT64_MIN
 * when now is outside every period. s NULL or non-stop: INT64_MIN + 1 (one
 * endless period). */
int64_t rfx_schedule_period(const struct rfx_schedule *s, int64_t now);

static inline bool rfx_schedule_in_session(const struct rfx_schedule *s, int64_t now)
{
	return rfx_schedule_period(s, now) != INT64_MIN;
}

/* The next instant after now at which in_session or the period changes;
 * INT64_MAX for none (non-stop). */
int64_t rfx_schedule_next_change(const struct rfx_schedule *s, int64_t now);

/* Does the period contain time (seconds of the day) on day (0 = Sunday; -1 =
 * any)? Ends included, as QuickFIX checks LogonTime/LogoutTime. Daily: within
 * StartTime..EndTime (overnight ranges wrap midnight; equal times = all day).
 * Weekly with a day: within StartDay StartTime .. EndDay EndTime. s must not be
 * NULL or non-stop. */
bool rfx_schedule_contains(const struct rfx_schedule *s, int32_t time, int32_t day);

/* May a logon happen at now: inside a period and, with a logon window, inside
 * the window. NULL or non-stop without a window: always. */
bool rfx_schedule_logon_time(const struct rfx_schedule *s, int64_t now);

/* The next instant after now at which rfx_schedule_logon_time() may change;
 * INT64_MAX for none. */
int64_t rfx_schedule_logon_next_change(const struct rfx_schedule *s, int64_t now);

#endif
