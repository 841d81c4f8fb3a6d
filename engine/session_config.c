#include "engine/session_config.h"

#include <errno.h>
#include <string.h>

/* src is a settings char array of srcsize bytes, NUL-terminated within it. */
static int copy_str(char *dst, const char *src, size_t srcsize)
{
	size_t n = strnlen(src, srcsize < RFX_SESSION_STR_MAX ? srcsize : RFX_SESSION_STR_MAX);
	if (n >= RFX_SESSION_STR_MAX || n == srcsize)
		return -EINVAL;
	memcpy(dst, src, n);
	dst[n] = 0;
	return 0;
}

#define copy(dst, src) copy_str(dst, src, sizeof(src))

int rfx_session_config_from_settings(struct rfx_session_config *c, struct rfx_schedule *sched,
				     const struct rfx_session_settings *ss,
				     const struct rfx_tz *tz)
{
	rfx_session_config_default(c);
	memset(sched, 0, sizeof(*sched));
	c->role = ss->connection_type == RFX_CONN_INITIATOR ? RFX_SESSION_INITIATOR
							    : RFX_SESSION_ACCEPTOR;
	if (copy(c->begin_string, ss->begin_string) || copy(c->sender_comp_id, ss->sender_comp_id) ||
	    copy(c->target_comp_id, ss->target_comp_id) ||
	    copy(c->sender_sub_id, ss->sender_sub_id) || copy(c->target_sub_id, ss->target_sub_id) ||
	    copy(c->sender_location_id, ss->sender_location_id) ||
	    copy(c->target_location_id, ss->target_location_id) ||
	    copy(c->default_appl_ver_id, ss->default_appl_ver_id) ||
	    copy(c->username, ss->username) || copy(c->password, ss->password))
		return -EINVAL;
	if (ss->heartbt_int) /* acceptors may leave it to the peer's Logon */
		c->heart_bt_int = ss->heartbt_int;
	c->reset_on_logon = ss->reset_on_logon;
	c->reset_on_logout = ss->reset_on_logout;
	c->reset_on_disconnect = ss->reset_on_disconnect;
	c->refresh_on_logon = ss->refresh_on_logon;
	c->check_comp_id = ss->check_comp_id;
	c->check_latency = ss->check_latency;
	c->max_latency = ss->max_latency;
	c->resend_chunk_size = ss->resend_request_chunk_size;
	c->send_redundant_resend_requests = ss->send_redundant_resend_requests;
	c->no_persist_messages = !ss->persist_messages;
	c->logon_timeout = ss->logon_timeout;
	c->logout_timeout = ss->logout_timeout;
	c->timestamp_precision = (int)ss->timestamp_precision;
	c->validate_length_and_checksum = ss->validate_length_and_checksum;

	sched->non_stop = ss->non_stop_session;
	sched->start_time = ss->start_time;
	sched->end_time = ss->end_time;
	sched->start_day = ss->start_day;
	sched->end_day = ss->end_day;
	sched->tz = tz;
	/* QuickFIX: the logon window defaults to the session's own times and
	 * days; any of the four keys makes it a window of its own. */
	sched->logon_window = ss->logon_time >= 0 || ss->logout_time >= 0 || ss->logon_day >= 0 ||
			      ss->logout_day >= 0;
	if (sched->logon_window) {
		sched->logon_time = ss->logon_time >= 0 ? ss->logon_time : ss->start_time;
		sched->logout_time = ss->logout_time >= 0 ? ss->logout_time : ss->end_time;
		sched->logon_day = ss->logon_day >= 0 ? ss->logon_day : ss->start_day;
		sched->logout_day = ss->logout_day >= 0 ? ss->logout_day : ss->end_day;
	}
	if (!sched->non_stop && (ss->start_time < 0 || ss->end_time < 0))
		return -EINVAL;
	if (rfx_schedule_check(sched) < 0)
		return -EINVAL;
	c->schedule = sched;
	return 0;
}
