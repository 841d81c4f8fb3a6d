/*
 * From one [SESSION] of the settings file (engine/settings.h) to the session
 * machine's protocol configuration and schedule, so the session itself does
 * not depend on the settings parser. Cold path (startup, reload).
 */
#ifndef RFX_ENGINE_SESSION_CONFIG_H
#define RFX_ENGINE_SESSION_CONFIG_H

#include "engine/schedule.h"
#include "engine/session.h"
#include "engine/settings.h"
#include "engine/tz.h"

/*
 * Fills c (all of it) and sched (schedule and logon window) from ss. c->schedule points at sched, which
 * must outlive the session. tz is the zone of
 * the schedule, loaded by the caller: rfx_tz_load(ss->time_zone), or
 * rfx_tz_load_local() for UseLocalTime=Y (NULL: UTC). HeartBtInt 0 keeps the
 * default. Returns 0, or -EINVAL when a value does not fit the session's fixed
 * fields (an ID longer than RFX_SESSION_STR_MAX - 1) or the schedule is
 * incomplete (no StartTime/EndTime and not NonStopSession) or invalid. Validation with a data dictionary is wired
 * separately (engine/session_validate.h).
 */
int rfx_session_config_from_settings(struct rfx_session_config *c, struct rfx_schedule *sched,
				     const struct rfx_session_settings *ss,
				     const struct rfx_tz *tz);

#endif
