/*
 * Message validation against compiled dictionaries, with QuickFIX's rules,
 * switches, SessionRejectReason codes and texts (its DataDictionary::validate is
 * the reference; the acceptance suite in ../shared/conformance checks the texts).
 *
 * One pass over the fields in wire order. Header and trailer fields are told
 * apart by a direct tag index; body fields are matched against the message's
 * member set, and repeating groups are walked entry by entry against their own
 * sets. "Seen in this field map" (repeated tag, reason 13; required fields,
 * reason 1) uses per-field stamps: each field map (header, trailer, body, every
 * group entry) gets a fresh epoch, so nothing is cleared per message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dictionary.h"
#include "engine/dictionary_tables.h"
#include "engine/error.h"

#define USER_MIN 5000      /* FIX: tags 5000..9999 (and >= 10000) are user-defined */
#define GROUP_DEPTH 16

struct app_dict {
	char code[4];                  /* ApplVerID(1128) value */
	const struct rfx_dict *d;
	uint32_t *stamp;               /* per field index of d */
	bool own_stamp;                /* else shared with another map of the same d */
};

/* Which application dictionary a FIXT.1.1 message without ApplVerID(1128)
 * uses: an index in apps, or one of these. */
#define APP_OWN (-1)  /* the validator's own app dictionary (v->a) */
#define APP_NONE (-2) /* none: checked as without a dictionary (no_app_field) */

/* Repeated-tag detection without a dictionary: a bit per tag below
 * NOAPP_TAGS, and up to NOAPP_BIG larger tags compared one by one (so the
 * cost stays linear in the message; larger tags beyond that go unchecked). */
#define NOAPP_TAGS 65536u
#define NOAPP_BIG 64u
/* Per thread, not per validator (a validator is used by one thread at a
 * time): 8 KiB once instead of per session. All clear between messages. */
static _Thread_local uint64_t noapp_seen[NOAPP_TAGS / 64];

struct rfx_validator {
	const struct rfx_dict *t, *a;  /* transport (header, trailer, admin), app */
	unsigned flags;
	uint32_t epoch;
	uint32_t *stamp_t, *stamp_a;   /* per field index of t and a */
	struct app_dict apps[RFX_VALIDATOR_MAX_APPS]; /* by ApplVerID */
	unsigned napps;
	int def;                       /* APP_OWN, APP_NONE or an index in apps */
	char def_code[4];              /* what set_default_app named ("" = own) */
	bool def_long;                 /* it named a code longer than any added */
};

int rfx_validator_new(const struct rfx_dict *transport, const struct rfx_dict *app,
		      unsigned flags, struct rfx_validator **out)
{
	struct rfx_validator *v;

	*out = NULL;
	if (!transport || !app)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->t = transport;
	v->a = app;
	v->flags = flags;
	v->def = APP_OWN;
	v->stamp_t = calloc(transport->nfields + 1, sizeof(uint32_t));
	v->stamp_a = app == transport ? v->stamp_t : calloc(app->nfields + 1, sizeof(uint32_t));
	if (!v->stamp_t || !v->stamp_a) {
		rfx_validator_free(v);
		return -ENOMEM;
	}
	*out = v;
	return 0;
}

static void resolve_default(struct rfx_validator *v)
{
	if (!v->def_code[0] && !v->def_long) {
		v->def = APP_OWN;
		return;
	}
	v->def = APP_NONE;
	for (unsigned i = 0; i < v->napps && !v->def_long; i++)
		if (strcmp(v->apps[i].code, v->def_code) == 0)
			v->def = (int)i;
}

int rfx_validator_add_app(struct rfx_validator *v, const char *appl_ver_id,
			  const struct rfx_dict *app)
{
	size_t n = appl_ver_id ? strnlen(appl_ver_id, 4) : 0;
	struct app_dict *e = NULL;

	if (!app || n == 0 || n > 3)
		return -EINVAL;
	for (unsigned i = 0; i < v->napps; i++)
		if (strcmp(v->apps[i].code, appl_ver_id) == 0)
			e = &v->apps[i];
	if (!e && v->napps == RFX_VALIDATOR_MAX_APPS)
		return -EINVAL;
	/* One message uses one body dictionary and epochs are the validator's,
	 * so maps of the same dictionary can share their stamps. */
	uint32_t *stamp = app == v->a ? v->stamp_a : app == v->t ? v->stamp_t : NULL;
	for (unsigned i = 0; i < v->napps && !stamp; i++)
		if (v->apps[i].d == app && &v->apps[i] != e)
			stamp = v->apps[i].stamp;
	bool own = !stamp;
	if (own && !(stamp = calloc(app->nfields + 1, sizeof(uint32_t))))
		return -ENOMEM;
	if (e && e->own_stamp) {
		/* Replaced: its array goes to a map sharing it, else away. */
		struct app_dict *heir = NULL;
		for (unsigned i = 0; i < v->napps && !heir; i++)
			if (&v->apps[i] != e && v->apps[i].stamp == e->stamp)
				heir = &v->apps[i];
		if (heir)
			heir->own_stamp = true;
		else
			free(e->stamp);
	}
	if (!e)
		e = &v->apps[v->napps++];
	memcpy(e->code, appl_ver_id, n + 1);
	e->d = app;
	e->stamp = stamp;
	e->own_stamp = own;
	resolve_default(v);
	return 0;
}

int rfx_validator_set_default_app(struct rfx_validator *v, const char *appl_ver_id, size_t len)
{
	if (!appl_ver_id)
		len = 0;
	v->def_long = len > 3;
	if (!v->def_long) {
		memcpy(v->def_code, appl_ver_id ? appl_ver_id : "", len);
		v->def_code[len] = '\0';
	}
	resolve_default(v);
	return 0;
}

void rfx_validator_free(struct rfx_validator *v)
{
	if (!v)
		return;
	for (unsigned i = 0; i < v->napps; i++)
		if (v->apps[i].own_stamp)
			free(v->apps[i].stamp);
	if (v->stamp_a != v->stamp_t)
		free(v->stamp_a);
	free(v->stamp_t);
	free(v);
}

/* A fresh field-map identity. On wrap-around (after 4 billion maps) the stamps
 * are cleared once so an old stamp can never match. */
static uint32_t new_epoch(struct rfx_validator *v)
{
	if (++v->epoch == 0) {
		memset(v->stamp_t, 0, (v->t->nfields + 1) * sizeof(uint32_t));
		if (v->stamp_a != v->stamp_t)
			memset(v->stamp_a, 0, (v->a->nfields + 1) * sizeof(uint32_t));
		for (unsigned i = 0; i < v->napps; i++)
			memset(v->apps[i].stamp, 0, (v->apps[i].d->nfields + 1) * sizeof(uint32_t));
		v->epoch = 1;
	}
	return v->epoch;
}

/* ---- data formats (QuickFIX's field convertors) ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool fmt_int(const char *p, uint32_t n)
{
	uint32_t i = 0;
	if (n && p[0] == '-')
		i = 1;
	if (i == n)
		return false;
	for (; i < n; i++)
		if (!is_digit(p[i]))
			return false;
	return true;
}

/* [-] digits [. digits] with at least one digit; "1." and ".5" are accepted. */
static bool fmt_decimal(const char *p, uint32_t n)
{
	uint32_t i = 0;
	bool digit = false;
	if (i < n && p[i] == '-')
		i++;
	while (i < n && is_digit(p[i]))
		i++, digit = true;
	if (i < n && p[i] == '.') {
		i++;
		while (i < n && is_digit(p[i]))
			i++, digit = true;
	}
	return i == n && digit;
}

static int two(const char *p)
{
	return (p[0] - '0') * 10 + (p[1] - '0');
}

static bool digits(const char *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return false;
	return true;
}

/* YYYYMMDD, month 1..12, day 1..31 */
static bool fmt_date(const char *p, uint32_t n)
{
	return n >= 8 && digits(p, 8) && two(p + 4) >= 1 && two(p + 4) <= 12 && two(p + 6) >= 1 &&
	       two(p + 6) <= 31;
}

/* HH:MM:SS[.fff...] in p[0..n), hour <= 23, minute <= 59, second <= 60 */
static bool fmt_time(const char *p, uint32_t n)
{
	if (n < 8 || !digits(p, 2) || p[2] != ':' || !digits(p + 3, 2) || p[5] != ':' ||
	    !digits(p + 6, 2) || two(p) > 23 || two(p + 3) > 59 || two(p + 6) > 60)
		return false;
	if (n == 8)
		return true;
	return p[8] == '.' && digits(p + 9, n - 9);
}

static bool fmt_timestamp(const char *p, uint32_t n)
{
	return n >= 17 && n <= 27 && fmt_date(p, 8) && p[8] == '-' && fmt_time(p + 9, n - 9);
}

static inline __attribute__((always_inline)) bool format_ok(uint8_t type, const char *p,
							  uint32_t n)
{
	switch (type) {
	case RFX_FT_INT: case RFX_FT_NUMINGROUP: case RFX_FT_SEQNUM: case RFX_FT_LENGTH:
		return fmt_int(p, n);
	case RFX_FT_PRICE: case RFX_FT_AMT: case RFX_FT_QTY: case RFX_FT_FLOAT:
	case RFX_FT_PRICEOFFSET: case RFX_FT_PERCENTAGE:
		return fmt_decimal(p, n);
	case RFX_FT_CHAR:
		return n == 1;
	case RFX_FT_BOOLEAN:
		return n == 1 && (p[0] == 'Y' || p[0] == 'N');
	case RFX_FT_UTCTIMESTAMP: case RFX_FT_TIME:
		return fmt_timestamp(p, n);
	case RFX_FT_UTCTIMEONLY:
		return n <= 18 && fmt_time(p, n);
	case RFX_FT_UTCDATE: case RFX_FT_UTCDATEONLY:
		return n == 8 && fmt_date(p, n);
	default:
		return true; /* string-like types: QuickFIX checks nothing */
	}
}

/* Types format_ok() checks; every other type is string-like and always passes,
 * so the common STRING field costs one bit test. */
#define FORMAT_CHECKED                                                                     \
	((1ULL << RFX_FT_INT) | (1ULL << RFX_FT_NUMINGROUP) | (1ULL << RFX_FT_SEQNUM) |     \
	 (1ULL << RFX_FT_LENGTH) | (1ULL << RFX_FT_PRICE) | (1ULL << RFX_FT_AMT) |           \
	 (1ULL << RFX_FT_QTY) | (1ULL << RFX_FT_FLOAT) | (1ULL << RFX_FT_PRICEOFFSET) |      \
	 (1ULL << RFX_FT_PERCENTAGE) | (1ULL << RFX_FT_CHAR) | (1ULL << RFX_FT_BOOLEAN) |    \
	 (1ULL << RFX_FT_UTCTIMESTAMP) | (1ULL << RFX_FT_TIME) | (1ULL << RFX_FT_UTCTIMEONLY) | \
	 (1ULL << RFX_FT_UTCDATE) | (1ULL << RFX_FT_UTCDATEONLY))
_Static_assert(RFX_FT_COUNT <= 64, "FORMAT_CHECKED is a 64-bit mask");

/* ---- the walk ---- */

struct walk {
	struct rfx_validator *v;
	const struct rfx_msg *m;
	struct rfx_reject first;     /* first per-field error */
	struct rfx_reject req_group; /* first required field missing in a group entry */
	struct rfx_reject in_group;  /* first per-field error inside group entries */
	struct rfx_reject order;     /* first group entry out of order (15) */
	bool have_first, have_req_group, have_in_group, have_order;
};

static void note(struct rfx_reject *r, bool *have, int reason, uint32_t tag)
{
	if (*have)
		return;
	*have = true;
	r->reason = reason;
	r->ref_tag = tag;
	r->text = rfx_reject_text(reason);
}

/*
 * Per-field checks, QuickFIX's order: repeated (13), value present (4), format
 * (6), enum (5), known tag (0). Marks the field seen in field map `epoch`.
 * in_map: whether the tag may appear where it is (else 2). Returns the field's
 * definition (NULL when the dictionary does not define the tag).
 */
/* Inlined: it runs once per field and its call overhead was a fifth of the cost. */
static inline __attribute__((always_inline)) const struct dfield *
check_field(struct walk *w, const struct rfx_dict *d, uint32_t *stamp, uint32_t epoch,
	    const struct rfx_field *f, const struct dfield *df, bool in_map)
{
	unsigned flags = w->v->flags;
	bool check_tag;

	if (df) {
		uint32_t idx = (uint32_t)(df - d->fields);
		if (stamp[idx] == epoch) {
			note(&w->first, &w->have_first, RFX_SRR_TAG_APPEARS_MORE_THAN_ONCE, f->tag);
			return df;
		}
		stamp[idx] = epoch;
	}
	if (w->have_first)
		return df; /* only the first error is reported; keep marking fields */
	if (f->len == 0) {
		if (flags & RFX_VALIDATE_FIELDS_HAVE_VALUES)
			note(&w->first, &w->have_first, RFX_SRR_TAG_WITHOUT_VALUE, f->tag);
		return df;
	}
	if (df && (FORMAT_CHECKED >> df->type & 1) && !format_ok(df->type, f->p, f->len)) {
		note(&w->first, &w->have_first, RFX_SRR_INCORRECT_DATA_FORMAT, f->tag);
		return df;
	}
	/* MsgType(35) was already found among <messages> (else reason 11); its enum
	 * list repeats them, so skip the second lookup. */
	if (df && df->nenums && f->tag != 35 && !rfx_dict__enum_ok(d, df, f->p, f->len)) {
		note(&w->first, &w->have_first, RFX_SRR_VALUE_INCORRECT, f->tag);
		return df;
	}
	/* AllowUnknownMsgFields skips standard tags, ValidateUserDefinedFields=N
	 * skips user-defined ones (QuickFIX's shouldCheckTag). */
	if (f->tag < USER_MIN)
		check_tag = !(flags & RFX_ALLOW_UNKNOWN_MSG_FIELDS);
	else
		check_tag = flags & RFX_VALIDATE_USER_DEFINED_FIELDS;
	if (!check_tag)
		return df;
	if (!df)
		note(&w->first, &w->have_first, RFX_SRR_INVALID_TAG_NUMBER, f->tag);
	else if (!in_map)
		note(&w->first, &w->have_first, RFX_SRR_TAG_NOT_DEFINED_FOR_MSG_TYPE, f->tag);
	return df;
}

/*
 * A body field of a FIXT.1.1 application message whose ApplVerID has no
 * dictionary. QuickFIX (1.15) then validates the body against an empty
 * dictionary: no MsgType, required-field, format, enum or tag checks, but a
 * tag given twice (13; with no group definitions, that includes every
 * repeating group's members) and an empty value (4) are still rejected, the
 * latter whatever ValidateFieldsHaveValues says. Header and trailer are
 * checked against the transport dictionary as usual.
 */
static void no_app_field(struct walk *w, const struct rfx_field *f, uint32_t *big, uint32_t *nbig)
{
	uint64_t *seen = noapp_seen;
	bool again = false;

	if (f->tag < NOAPP_TAGS) {
		uint64_t bit = 1ull << (f->tag & 63);
		again = seen[f->tag >> 6] & bit;
		seen[f->tag >> 6] |= bit;
	} else {
		for (uint32_t k = 0; k < *nbig && !again; k++)
			again = big[k] == f->tag;
		if (!again && *nbig < NOAPP_BIG)
			big[(*nbig)++] = f->tag;
	}
	if (again)
		note(&w->first, &w->have_first, RFX_SRR_TAG_APPEARS_MORE_THAN_ONCE, f->tag);
	else if (f->len == 0)
		note(&w->first, &w->have_first, RFX_SRR_TAG_WITHOUT_VALUE, f->tag);
}

/* First required tag of set missing from field map epoch, or 0. */
static uint32_t missing_required(const struct rfx_dict *d, const uint32_t *stamp, uint32_t epoch,
				 uint32_t set)
{
	const struct dset *s = &d->sets[set];
	for (uint32_t k = s->req_first; k < s->req_first + s->nreq; k++)
		if (stamp[d->req_idx[k]] != epoch)
			return d->req_tags[k];
	return 0;
}

/* Group whose NumInGroup field is df in set, or NULL. The linear scan only runs
 * for fields that count a group somewhere. */
static inline const struct dgroup *group_of(const struct rfx_dict *d, uint32_t set,
					    const struct dfield *df)
{
	const struct dset *s = &d->sets[set];

	if (!df || !df->is_count)
		return NULL;
	for (uint32_t k = 0; k < s->n; k++)
		if (d->members[s->first + k].tag == df->tag && d->members[s->first + k].group != NONE)
			return &d->groups[d->members[s->first + k].group];
	return NULL;
}

/* Position of tag among set's members (document order) after *pos; moves
 * *pos there. false when the tag only comes at or before *pos: out of order. */
static bool member_after(const struct rfx_dict *d, uint32_t set, uint32_t tag, uint32_t *pos)
{
	const struct dset *s = &d->sets[set];
	for (uint32_t k = *pos + 1; k < s->n; k++)
		if (d->members[s->first + k].tag == tag) {
			*pos = k;
			return true;
		}
	return false;
}

/*
 * Walks the group whose NumInGroup field is fields[*i] (already checked as a
 * field). Entries start with the delimiter and hold tags of the group's set;
 * the first other tag ends the group. Leaves *i after the group.
 */
static void walk_group(struct walk *w, const struct rfx_dict *d, uint32_t *stamp,
		       const struct dgroup *g, uint32_t *i, int depth)
{
	const struct rfx_field *f = w->m->fields;
	uint32_t n = w->m->nfields, count_idx = *i, entries = 0;
	int64_t count = 0;
	bool count_ok = fmt_int(f[count_idx].p, f[count_idx].len);

	if (count_ok) {
		count = 0;
		for (uint32_t k = f[count_idx].p[0] == '-'; k < f[count_idx].len && count < 1000000; k++)
			count = count * 10 + (f[count_idx].p[k] - '0');
		if (f[count_idx].p[0] == '-')
			count = -count;
	}
	/* QuickFIX checks a field map's own fields (this NumInGroup count among
	 * them) before the contents of its groups, and each entry's own fields
	 * before that entry's groups (FIX50SP2 14i: a wrong count beats an enum
	 * error inside an entry). So per entry, its fields' first error collects in
	 * w->first and its nested groups' in w->in_group; the first entry with an
	 * error gives this group's content error, which ranks below every error of
	 * the enclosing level. */
	struct rfx_reject outer = w->first, outer_in = w->in_group, content;
	bool had_outer = w->have_first, had_outer_in = w->have_in_group, have_content = false;

	(*i)++;
	/* Reason 15 (FIX: "Repeating group fields out of order"): an entry that
	 * does not start with the delimiter, and, with ValidateFieldsOutOfOrder,
	 * members out of the dictionary's order. */
	if (*i < n && f[*i].tag != g->delim_tag &&
	    rfx_dict__set_has_field(d, g->set, rfx_dict__field(d, f[*i].tag)))
		note(&w->order, &w->have_order, RFX_SRR_GROUP_FIELDS_OUT_OF_ORDER, f[*i].tag);
	bool check_order = w->v->flags & RFX_VALIDATE_FIELDS_OUT_OF_ORDER;
	uint32_t delim_pos = UINT32_MAX; /* scans from 0: *pos + 1 wraps */
	if (check_order)
		member_after(d, g->set, g->delim_tag, &delim_pos);
	while (*i < n && f[*i].tag == g->delim_tag) {
		w->have_first = false;
		w->have_in_group = false;
		uint32_t epoch = new_epoch(w->v), pos = delim_pos;
		entries++;
		check_field(w, d, stamp, epoch, &f[*i], rfx_dict__field(d, f[*i].tag), true);
		(*i)++;
		while (*i < n && f[*i].tag != g->delim_tag) {
			const struct dfield *df = rfx_dict__field(d, f[*i].tag);
			if (!rfx_dict__set_has_field(d, g->set, df))
				break;
			/* A repeat within the entry is reason 13, not an order error. */
			if (check_order && !w->have_order && stamp[df - d->fields] != epoch &&
			    !member_after(d, g->set, f[*i].tag, &pos))
				note(&w->order, &w->have_order, RFX_SRR_GROUP_FIELDS_OUT_OF_ORDER,
				     f[*i].tag);
			df = check_field(w, d, stamp, epoch, &f[*i], df, true);
			const struct dgroup *sub = group_of(d, g->set, df);
			if (sub && depth < GROUP_DEPTH)
				walk_group(w, d, stamp, sub, i, depth + 1);
			else
				(*i)++;
		}
		uint32_t miss = missing_required(d, stamp, epoch, g->set);
		if (miss)
			note(&w->req_group, &w->have_req_group, RFX_SRR_REQUIRED_TAG_MISSING, miss);
		if (w->have_first)
			note(&content, &have_content, w->first.reason, w->first.ref_tag);
		else if (w->have_in_group)
			note(&content, &have_content, w->in_group.reason, w->in_group.ref_tag);
	}
	w->first = outer;
	w->have_first = had_outer;
	w->in_group = outer_in;
	w->have_in_group = had_outer_in;
	if (have_content)
		note(&w->in_group, &w->have_in_group, content.reason, content.ref_tag);
	if (count_ok && count != (int64_t)entries)
		note(&w->first, &w->have_first, RFX_SRR_INCORRECT_NUM_IN_GROUP, g->count_tag);
}

static int reject(struct rfx_reject *rej, int reason, uint32_t tag)
{
	rej->reason = reason;
	rej->ref_tag = tag;
	rej->text = rfx_reject_text(reason);
	return RFX_EREJECT;
}

int rfx_validator_check(struct rfx_validator *v, const struct rfx_msg *m, struct rfx_reject *rej)
{
	const struct rfx_dict *t = v->t, *bd;
	const struct rfx_field *f = m->fields, *mt = rfx_msg_hdr(m, RFX_HDR_MSG_TYPE);
	uint32_t n = m->nfields, hdr_epoch, trl_epoch, body_epoch, *bstamp, miss, order_tag = 0;
	unsigned phase = 0; /* 0 header, 1 body, 2 trailer */
	const struct dmsg *msg;
	struct walk w = { .v = v, .m = m };
	bool no_app = false;
	uint32_t big[NOAPP_BIG], nbig = 0;

	if (!mt)
		return reject(rej, RFX_SRR_REQUIRED_TAG_MISSING, 35);

	/* Admin messages are in the transport dictionary, application ones in the app's. */
	msg = rfx_dict__msg(t, mt->p, mt->len);
	bd = t;
	bstamp = v->stamp_t;
	if (!msg && v->napps) {
		/* FIXT.1.1: the application dictionary of the message's ApplVerID,
		 * else of the default one. */
		const struct rfx_field *av = rfx_msg_hdr(m, RFX_HDR_APPL_VER_ID);
		int k = v->def;
		if (av) {
			k = APP_NONE;
			for (unsigned j = 0; j < v->napps && k == APP_NONE; j++)
				if (strlen(v->apps[j].code) == av->len &&
				    memcmp(v->apps[j].code, av->p, av->len) == 0)
					k = (int)j;
		}
		if (k >= 0) {
			msg = rfx_dict__msg(v->apps[k].d, mt->p, mt->len);
			bd = v->apps[k].d;
			bstamp = v->apps[k].stamp;
		} else if (k == APP_NONE) {
			no_app = true;
		}
	}
	if (!msg && !no_app && bd == t && v->a != t) {
		msg = rfx_dict__msg(v->a, mt->p, mt->len);
		bd = v->a;
		bstamp = v->stamp_a;
	}

	hdr_epoch = new_epoch(v);
	trl_epoch = new_epoch(v);
	body_epoch = new_epoch(v);
	for (uint32_t i = 0; i < n;) {
		unsigned c = rfx_dict__class(t, f[i].tag);
		const struct dfield *df;
		const struct dgroup *g;

		/* Header, then body, then trailer (reason 14, RefTagID = the first
		 * misplaced tag); it outranks every other reason. */
		if ((c == 1 && phase > 0) || (c == 0 && phase == 2)) {
			if (!order_tag)
				order_tag = f[i].tag;
		} else if (c == 0) {
			phase = 1;
		} else if (c == 2) {
			phase = 2;
		}
		if (!msg && !no_app) { /* invalid MsgType: only the order check still matters */
			i++;
			continue;
		}
		if (c) {
			uint32_t set = c == 1 ? t->header_set : t->trailer_set;
			df = check_field(&w, t, v->stamp_t, c == 1 ? hdr_epoch : trl_epoch, &f[i],
					 rfx_dict__field(t, f[i].tag), true);
			g = group_of(t, set, df);
			if (g)
				walk_group(&w, t, v->stamp_t, g, &i, 0);
			else
				i++;
			continue;
		}
		if (no_app) {
			no_app_field(&w, &f[i], big, &nbig);
			i++;
			continue;
		}
		df = rfx_dict__field(bd, f[i].tag);
		bool in_body = rfx_dict__set_has_field(bd, msg->set, df);
		df = check_field(&w, bd, bstamp, body_epoch, &f[i], df, in_body);
		g = in_body ? group_of(bd, msg->set, df) : NULL;
		if (g)
			walk_group(&w, bd, bstamp, g, &i, 0);
		else
			i++;
	}
	if (no_app) /* all clear for the next message */
		for (uint32_t i = 0; i < n; i++)
			if (f[i].tag < NOAPP_TAGS)
				noapp_seen[f[i].tag >> 6] = 0;
	/* Without an application dictionary, field order is checked whatever
	 * ValidateFieldsOutOfOrder says (QuickFIX's empty dictionary keeps its
	 * default, on). */
	if (order_tag && ((v->flags & RFX_VALIDATE_FIELDS_OUT_OF_ORDER) || no_app))
		return reject(rej, RFX_SRR_TAG_OUT_OF_ORDER, order_tag);
	if (!msg && !no_app)
		return reject(rej, RFX_SRR_INVALID_MSG_TYPE, 0);
	if (w.have_order) {
		*rej = w.order;
		return RFX_EREJECT;
	}

	/* Required fields first (QuickFIX checks them before iterating), then the
	 * first per-field error in wire order. QuickFIX asks the application
	 * dictionary for them, so without one none are required. */
	if (no_app)
		;
	else if ((miss = missing_required(t, v->stamp_t, hdr_epoch, t->header_set)) ||
	    (miss = missing_required(t, v->stamp_t, trl_epoch, t->trailer_set)) ||
	    (miss = missing_required(bd, bstamp, body_epoch, msg->set)))
		return reject(rej, RFX_SRR_REQUIRED_TAG_MISSING, miss);
	if (w.have_req_group) {
		*rej = w.req_group;
		return RFX_EREJECT;
	}
	if (w.have_first) {
		*rej = w.first;
		return RFX_EREJECT;
	}
	if (w.have_in_group) {
		*rej = w.in_group;
		return RFX_EREJECT;
	}
	return 0;
}
