#include "engine/schedule.h"

#include <errno.h>

#include "engine/civil.h"

#define NS 1000000000LL

int rfx_schedule_check(const struct rfx_schedule *s)
{
	if (!s || s->non_stop)
		return 0;
	if (s->start_time < 0 || s->start_time >= 86400 || s->end_time < 0 || s->end_time >= 86400)
		return -EINVAL;
	if ((s->start_day < 0) != (s->end_day < 0) || s->start_day > 6 || s->end_day > 6)
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
