#include "engine/schedule.h"

#include <errno.h>

#include "engine/civil.h"

#define NS 1000000000LL

static bool range_ok(int32_t start, int32_t end, int32_t start_day, int32_t end_day)
{
	if (start < 0 || start >= 86400 || end < 0 || end >= 86400)
		return false;
	return (start_day < 0) == (end_day < 0) && start_day <= 6 && end_day <= 6;
}

static int64_t duration(const struct rfx_schedule *s);

bool rfx_schedule_contains(const struct rfx_schedule *s, int32_t time, int32_t day)
{
	if (s->start_day >= 0 && day >= 0) {
		int64_t p = (int64_t)((day - s->start_day + 7) % 7) * 86400 + time - s->start_time;
		if (p < 0)
			p += 7 * 86400;
		return p <= duration(s);
	}
	if (s->start_time == s->end_time)
		return true;
	if (s->start_time < s->end_time)
		return time >= s->start_time && time <= s->end_time;
	return time >= s->start_time || time <= s->end_time;
}

int rfx_schedule_check(const struct rfx_schedule *s)
{
	if (!s)
		return 0;
	if (s->logon_window && !range_ok(s->logon_time, s->logout_time, s->logon_day, s->logout_day))
		return -EINVAL;
	if (s->non_stop)
		return 0;
	if (!range_ok(s->start_time, s->end_time, s->start_day, s->end_day))
		return -EINVAL;
	if (s->logon_window && (!rfx_schedule_contains(s, s->logon_time, s->logon_day) ||
				!rfx_schedule_contains(s, s->logout_time, s->logout_day)))
		return -EINVAL;
	return 0;
}

static bool weekly(const struct rfx_schedule *s)
{
	return s->start_day >= 0;
}

/* Length of one period in local seconds. */
static int64_t duration(const struct rfx_schedule *s)
{
	int64_t d = (int64_t)s->end_time - s->start_time;
	if (weekly(s)) {
		d += (int64_t)((s->end_day - s->start_day + 7) % 7) * 86400;
		if (d <= 0)
			d += 7 * 86400;
	} else if (d <= 0) {
		d += 86400; /* overnight, or 24 h when start == end */
	}
	return d;
}

/* UTC seconds where the period that starts on local day `day` begins/ends. */
static int64_t start_utc(const struct rfx_schedule *s, int64_t day)
{
	return rfx_tz_local_to_utc(s->tz, day * 86400 + s->start_time);
}

static int64_t end_utc(const struct rfx_schedule *s, int64_t day)
{
	return rfx_tz_local_to_utc(s->tz, day * 86400 + s->start_time + duration(s));
}

/* Local day on which the latest period starting at or before t began. */
static int64_t latest_start_day(const struct rfx_schedule *s, int64_t t)
{
	int64_t day = rfx_floor_div(t + rfx_tz_offset(s->tz, t), 86400);
	int step = 1;
	if (weekly(s)) {
		day -= (rfx_weekday(day) - s->start_day + 7) % 7;
		step = 7;
	}
	while (start_utc(s, day) > t)
		day -= step;
	return day;
}

int64_t rfx_schedule_period(const struct rfx_schedule *s, int64_t now)
{
	if (!s || s->non_stop)
		return INT64_MIN + 1;
	int64_t t = rfx_floor_div(now, NS);
	int64_t day = latest_start_day(s, t);
	if (t >= end_utc(s, day))
		return INT64_MIN;
	return start_utc(s, day) * NS;
}

int64_t rfx_schedule_next_change(const struct rfx_schedule *s, int64_t now)
{
	if (!s || s->non_stop)
		return INT64_MAX;
	int64_t t = rfx_floor_div(now, NS);
	int64_t day = latest_start_day(s, t);
	int64_t end = end_utc(s, day);
	if (t < end) {
		/* 24-hour daily sessions end exactly where the next one starts. */
		return end * NS;
	}
	return start_utc(s, day + (weekly(s) ? 7 : 1)) * NS;
}

/* The logon window as a schedule of its own. */
static struct rfx_schedule window_of(const struct rfx_schedule *s)
{
	struct rfx_schedule w = {
		.start_time = s->logon_time,
		.end_time = s->logout_time,
		.start_day = s->logon_day,
		.end_day = s->logout_day,
		.tz = s->tz,
	};
	return w;
}

bool rfx_schedule_logon_time(const struct rfx_schedule *s, int64_t now)
{
	if (!s)
		return true;
	if (!rfx_schedule_in_session(s, now))
		return false;
	if (!s->logon_window)
		return true;
	struct rfx_schedule w = window_of(s);
	return rfx_schedule_in_session(&w, now);
}

int64_t rfx_schedule_logon_next_change(const struct rfx_schedule *s, int64_t now)
{
	int64_t next = rfx_schedule_next_change(s, now);
	if (s && s->logon_window) {
		struct rfx_schedule w = window_of(s);
		int64_t wn = rfx_schedule_next_change(&w, now);
		if (wn < next)
			next = wn;
	}
	return next;
}
