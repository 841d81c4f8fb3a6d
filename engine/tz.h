/*
 * Time zones by IANA name, for session schedules (StartTime/EndTime in a
 * TimeZone). Loaded once at startup from the system's compiled tz database
 * (TZif files under /usr/share/zoneinfo, or $TZDIR); lookups afterwards are
 * pure and allocation-free. Times past the file's last transition follow its
 * POSIX TZ footer rule (e.g. "CET-1CEST,M3.5.0,M10.5.0/3").
 *
 * A struct rfx_tz is caller storage, immutable once loaded: any number of
 * sessions and threads may share one.
 */
#ifndef RFX_ENGINE_TZ_H
#define RFX_ENGINE_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RFX_TZ_MAX_TRANS 2000
#define RFX_TZ_MAX_TYPES 64

struct rfx_tz_rule { /* one "Mm.w.d/time" of a POSIX TZ string */
	uint8_t month, week, wday;
	int32_t secs;        /* local time of day of the change */
};

struct rfx_tz {
	char name[64];
	uint32_t ntrans, ntypes;
	int64_t trans[RFX_TZ_MAX_TRANS];   /* UTC seconds, ascending */
	uint8_t trans_type[RFX_TZ_MAX_TRANS];
	int32_t type_off[RFX_TZ_MAX_TYPES]; /* UTC offset, seconds east */
	int32_t before_off;                /* offset before the first transition */
	/* Footer rule for times after the last transition. */
	bool has_rule, rule_dst;
	int32_t std_off, dst_off;
	struct rfx_tz_rule dst_start, dst_end;
};

/* UTC everywhere (also what a NULL zone means to the schedule). */
void rfx_tz_utc(struct rfx_tz *tz);

/* Parse TZif data (versions 1-4) from a buffer. Returns 0, or -EINVAL for
 * data that is not TZif or is truncated/inconsistent, -E2BIG when it has more
 * transitions or types than the fixed tables hold. */
int rfx_tz_parse(struct rfx_tz *tz, const void *data, size_t len, const char *name);

/* Load zone NAME ("Europe/London", "UTC", ...) from $TZDIR or
 * /usr/share/zoneinfo. Cold path: reads one file. Returns 0, -EINVAL for a
 * name that is empty, absolute or contains "..", a negative errno from
 * opening/reading (-ENOENT: unknown zone), or rfx_tz_parse's errors. */
int rfx_tz_load(struct rfx_tz *tz, const char *name);

/* The machine's local zone, for QuickFIX's UseLocalTime=Y: $TZ when it names a
 * zone ("Europe/London" or ":Europe/London"), else /etc/localtime, else UTC
 * (what the C library assumes without either). Cold path. Returns 0 or the
 * errors of rfx_tz_load / rfx_tz_parse. */
int rfx_tz_load_local(struct rfx_tz *tz);

/* UTC offset (seconds east) in effect at UTC second t. tz NULL = UTC. */
int32_t rfx_tz_offset(const struct rfx_tz *tz, int64_t t);

/* UTC second of local second lt. In a gap (spring forward) lt is read with
 * the offset before the jump (02:30 that never happened counts as 03:30); in
 * an overlap (fall back) the earlier of the two instants. */
int64_t rfx_tz_local_to_utc(const struct rfx_tz *tz, int64_t lt);

#endif
