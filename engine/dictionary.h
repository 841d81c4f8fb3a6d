/*
 * FIX data dictionaries in QuickFIX's XML format (FIX40..FIX44, FIXT11,
 * FIX50/SP1/SP2), compiled at load time into compact read-only tables, and
 * message validation against them with QuickFIX's rules and switches.
 *
 * Loading (cold path) allocates and reads the file. A loaded dictionary is
 * immutable: any number of threads/sessions may share it. Validation
 * (rfx_validator_check) is on the receive path: no allocation, no system call;
 * each validator belongs to one thread.
 */
#ifndef RFX_ENGINE_DICTIONARY_H
#define RFX_ENGINE_DICTIONARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/codec.h"
#include "engine/reject.h"

/* Field types of the XML "type" attribute (FIX40's TIME/DATE included). */
enum rfx_field_type {
	RFX_FT_UNKNOWN = 0, /* a type this code does not know: no format check */
	RFX_FT_STRING, RFX_FT_CHAR, RFX_FT_PRICE, RFX_FT_INT, RFX_FT_AMT, RFX_FT_QTY,
	RFX_FT_CURRENCY, RFX_FT_MULTIPLEVALUESTRING, RFX_FT_MULTIPLESTRINGVALUE,
	RFX_FT_MULTIPLECHARVALUE, RFX_FT_EXCHANGE, RFX_FT_UTCTIMESTAMP, RFX_FT_BOOLEAN,
	RFX_FT_LOCALMKTDATE, RFX_FT_DATA, RFX_FT_FLOAT, RFX_FT_PRICEOFFSET, RFX_FT_MONTHYEAR,
	RFX_FT_DAYOFMONTH, RFX_FT_UTCDATE, RFX_FT_UTCDATEONLY, RFX_FT_UTCTIMEONLY,
	RFX_FT_NUMINGROUP, RFX_FT_PERCENTAGE, RFX_FT_SEQNUM, RFX_FT_LENGTH, RFX_FT_COUNTRY,
	RFX_FT_TZTIMEONLY, RFX_FT_TZTIMESTAMP, RFX_FT_XMLDATA, RFX_FT_LANGUAGE, RFX_FT_TIME,
	RFX_FT_DATE,
	RFX_FT_COUNT
};

struct rfx_dict;

/* Where loading failed: "file:line: cause". */
struct rfx_dict_error {
	unsigned line; /* 0 when not about one line */
	char text[512];
};

/* Loads and compiles the dictionary at path. Returns 0 and *out (free with
 * rfx_dict_free), RFX_EDICT (malformed XML, unknown field or component name,
 * duplicate definitions, a component cycle, ...; described in *err, which may be
 * NULL), a negative errno from reading the file, or -ENOMEM. */
int rfx_dict_load(const char *path, struct rfx_dict **out, struct rfx_dict_error *err);

/* As rfx_dict_load on bytes in memory; name is used in errors. */
int rfx_dict_load_buffer(const char *xml, size_t len, const char *name, struct rfx_dict **out,
			 struct rfx_dict_error *err);

/* NULL-safe. */
void rfx_dict_free(struct rfx_dict *d);

/* "FIX.4.4", "FIXT.1.1", "FIX.5.0SP2", ... from the <fix> element. */
const char *rfx_dict_version(const struct rfx_dict *d);

/* Lookups (any thread). */
bool rfx_dict_has_field(const struct rfx_dict *d, uint32_t tag);
enum rfx_field_type rfx_dict_field_type(const struct rfx_dict *d, uint32_t tag);
const char *rfx_dict_field_name(const struct rfx_dict *d, uint32_t tag); /* NULL if none */
/* Tag of the field named name, or 0. */
uint32_t rfx_dict_field_tag(const struct rfx_dict *d, const char *name);
/* true if the field has no enum list, or value is one of its enums. */
bool rfx_dict_field_value_ok(const struct rfx_dict *d, uint32_t tag, const char *value,
			     uint32_t len);
bool rfx_dict_has_msg_type(const struct rfx_dict *d, const char *msg_type, uint32_t len);
/* Is tag allowed at the top level of msg_type's body (components inlined, group
 * count tags included, group members not)? */
bool rfx_dict_is_msg_field(const struct rfx_dict *d, const char *msg_type, uint32_t len,
			   uint32_t tag);
bool rfx_dict_is_header_field(const struct rfx_dict *d, uint32_t tag);
bool rfx_dict_is_trailer_field(const struct rfx_dict *d, uint32_t tag);
/* Is tag required at the top level of msg_type's body? A field of a component is
 * required only when the component reference is required too (QuickFIX). */
bool rfx_dict_is_required(const struct rfx_dict *d, const char *msg_type, uint32_t len,
			  uint32_t tag);

/* Counts, for tests and `ringfix config check`. */
unsigned rfx_dict_nfields(const struct rfx_dict *d);
unsigned rfx_dict_nmessages(const struct rfx_dict *d);
unsigned rfx_dict_ngroups(const struct rfx_dict *d);

/*
 * The codec's dictionary seam: group layouts per MsgType (the message's groups,
 * nested ones and the header's), so rfx_codec_parse() and rfx_msg_group() walk
 * repeating groups. seam->ctx is d, which must outlive every parse using it.
 */
void rfx_dict_seam(const struct rfx_dict *d, struct rfx_dict_seam *seam);

/* ---- validation ---------------------------------------------------------- */


/* A validation failure: what a session puts in its Reject(3). */
struct rfx_reject {
	int reason;          /* SessionRejectReason(373) */
	uint32_t ref_tag;    /* RefTagID(371); 0 = none (e.g. invalid MsgType) */
	const char *text;    /* Text(58), static */
};

/* Switches, named as the settings keys (QuickFIX semantics). */
enum {
	RFX_VALIDATE_FIELDS_OUT_OF_ORDER = 1 << 0,  /* ValidateFieldsOutOfOrder */
	RFX_VALIDATE_FIELDS_HAVE_VALUES = 1 << 1,   /* ValidateFieldsHaveValues */
	RFX_VALIDATE_USER_DEFINED_FIELDS = 1 << 2,  /* ValidateUserDefinedFields */
	RFX_ALLOW_UNKNOWN_MSG_FIELDS = 1 << 3,      /* AllowUnknownMsgFields */
	RFX_VALIDATE_DEFAULT = RFX_VALIDATE_FIELDS_OUT_OF_ORDER | RFX_VALIDATE_FIELDS_HAVE_VALUES |
			       RFX_VALIDATE_USER_DEFINED_FIELDS,
};

struct rfx_validator;

/* Creates a validator (cold path: allocates its scratch). transport holds the
 * header, trailer and admin messages; app the application messages. For FIX.4.x
 * pass the same dictionary twice. Returns 0 or -ENOMEM / -EINVAL. */
int rfx_validator_new(const struct rfx_dict *transport, const struct rfx_dict *app,
		      unsigned flags, struct rfx_validator **out);
void rfx_validator_free(struct rfx_validator *v);

/*
 * FIXT.1.1: one more application dictionary, for the ApplVerID(1128) code
 * appl_ver_id ("7" FIX.5.0, "8" FIX.5.0SP1, "9" FIX.5.0SP2, ...), as QuickFIX's
 * AppDataDictionary.<version> keys give. Once any is added, an application
 * message is validated against the dictionary of its own ApplVerID(1128)
 * header field, or without one against the default version's (see
 * rfx_validator_set_default_app; until that is called, the validator's own app
 * dictionary). A version with no dictionary is handled as QuickFIX handles it:
 * no error of its own, the body is checked as against an empty dictionary
 * (only a repeated tag, 13, and an empty value, 4; no MsgType, required,
 * format, enum or tag checks; field order always checked), header and trailer
 * against the transport dictionary. So add the DefaultApplVerID's dictionary
 * under its code as well. Adding a code again replaces its dictionary. Maps of
 * the same dictionary share their scratch. Cold path (allocates). Returns 0,
 * -ENOMEM, or -EINVAL (empty or over 3 characters, or already
 * RFX_VALIDATOR_MAX_APPS).
 */
#define RFX_VALIDATOR_MAX_APPS 8
int rfx_validator_add_app(struct rfx_validator *v, const char *appl_ver_id,
			  const struct rfx_dict *app);

/*
 * FIXT.1.1: the version of application messages without ApplVerID(1128):
 * appl_ver_id[0..len) (not NUL-terminated; NULL or len 0: back to the
 * validator's own app dictionary). QuickFIX takes it from the counterparty's
 * Logon, DefaultApplVerID(1137). Only consulted once rfx_validator_add_app
 * added a dictionary; a code without one means "no dictionary" as above (also
 * for codes added later: it is resolved again on each add). Cold path (once
 * per Logon), no allocation. Returns 0.
 */
int rfx_validator_set_default_app(struct rfx_validator *v, const char *appl_ver_id, size_t len);

/*
 * Validates m (parsed by rfx_codec_parse, with or without a seam: fields in
 * wire order). Returns 0 when valid, or RFX_EREJECT with *rej filled. Checks, in
 * QuickFIX's order of precedence: header/body/trailer order (14), MsgType known
 * (11), required fields of header, trailer, body and every group entry (1); then
 * per field: repeated in the same field map (13), empty value (4), data format
 * (6), enum value (5), tag known (0), tag allowed in the message or group (2),
 * NumInGroup count and entry structure (16). No allocation, no system call.
 */
int rfx_validator_check(struct rfx_validator *v, const struct rfx_msg *m,
			struct rfx_reject *rej);

#endif
