/*
 * Glue between the session's validation hook (engine/session.h) and the data
 * dictionary validator (engine/dictionary.h), so the session itself does not
 * depend on dictionaries. Set ops.validate = rfx_session_validate_dict and
 * ops.validate_ctx = a struct rfx_session_dict_check.
 */
#ifndef RFX_ENGINE_SESSION_VALIDATE_H
#define RFX_ENGINE_SESSION_VALIDATE_H

#include "engine/codec.h"
#include "engine/dictionary.h"
#include "engine/session.h"

#define RFX_SESSION_CHECK_FIELDS 1024

/* Caller storage: one per session (the field index is scratch). */
struct rfx_session_dict_check {
	struct rfx_validator *validator; /* caller's; not owned */
	struct rfx_field fields[RFX_SESSION_CHECK_FIELDS];
};

/*
 * rfx_session_validate_fn over a dictionary validator: hands the session's
 * own parse of m to the validator as a codec index (rfx_msg_adopt; the bytes
 * are not scanned again) and turns its verdict into a session Reject. Tags the codec refuses ("-1", "0") are rejected as invalid tag
 * numbers, reason 0, as QuickFIX does (acceptance 14a). A message with more
 * fields than RFX_SESSION_CHECK_FIELDS passes unchecked. No allocation.
 */
int rfx_session_validate_dict(void *ctx, const struct rfx_session_msg *m,
			      struct rfx_session_reject *rej);

/* The same with the caller's validator (NULL: everything passes) and scratch
 * index fields[0..cap), for callers that keep those elsewhere (one scratch
 * array per thread is enough). */
int rfx_session_validate_with(struct rfx_validator *v, struct rfx_field *fields, uint32_t cap,
			      const struct rfx_session_msg *m, struct rfx_session_reject *rej);

#endif
