#include "engine/session_validate.h"

int rfx_session_validate_dict(void *ctx, const struct rfx_session_msg *m,
			      struct rfx_session_reject *rej)
{
	struct rfx_session_dict_check *c = ctx;
	struct rfx_msg cm;
	struct rfx_reject r;

	rfx_msg_init(&cm, c->fields, RFX_SESSION_CHECK_FIELDS);
	int rc = rfx_codec_parse(&cm, m->buf, m->len, NULL);
	if (rc == RFX_EBADTAG) {
		for (uint32_t i = 0; i < m->nfields; i++)
			if (m->fields[i].tag <= 0) {
				rej->reason = 0;
				rej->ref_tag = m->fields[i].tag;
				rej->text = NULL;
				return 1;
			}
	}
	/* Framing already passed the session's own checks; anything else the
	 * codec cannot index is left to them. */
	if (rc < 0 || !c->validator)
		return 0;
	if (rfx_validator_check(c->validator, &cm, &r) == 0)
		return 0;
	rej->reason = r.reason;
	rej->ref_tag = (int32_t)r.ref_tag;
	rej->text = r.text;
	return 1;
}
