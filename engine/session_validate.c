#include "engine/session_validate.h"

int rfx_session_validate_with(struct rfx_validator *v, struct rfx_field *fields, uint32_t cap,
			      const struct rfx_session_msg *m, struct rfx_session_reject *rej)
{
	struct rfx_msg cm;
	struct rfx_reject r;

	if (!v)
		return 0;
	if (m->index) { /* the session's parse is the codec's: use it as is */
		if (rfx_validator_check(v, m->index, &r) == 0)
			return 0;
		goto rejected;
	}
	if (m->nfields > cap)
		return 0;
	/* Split by the session's lenient scanner: its fields become the codec
	 * index the validator reads, without scanning the bytes again. */
	for (uint32_t i = 0; i < m->nfields; i++) {
		const struct rfx_session_field *f = &m->fields[i];
		if (f->tag <= 0) {
			/* "-1=x", "0=x": invalid tag number, reason 0 (QuickFIX, 14a). */
			rej->reason = 0;
			rej->ref_tag = f->tag;
			rej->text = NULL;
			return 1;
		}
		fields[i] = (struct rfx_field){.p = f->p, .len = f->len, .tag = (uint32_t)f->tag};
	}
	rfx_msg_init(&cm, fields, cap);
	rfx_msg_adopt(&cm, m->buf, m->len, m->nfields);
	if (rfx_validator_check(v, &cm, &r) == 0)
		return 0;
rejected:
	rej->reason = r.reason;
	rej->ref_tag = (int32_t)r.ref_tag;
	rej->text = r.text;
	return 1;
}

int rfx_session_validate_dict(void *ctx, const struct rfx_session_msg *m,
			      struct rfx_session_reject *rej)
{
	struct rfx_session_dict_check *c = ctx;
	return rfx_session_validate_with(c->validator, c->fields, RFX_SESSION_CHECK_FIELDS, m, rej);
}
