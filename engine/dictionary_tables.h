/*
 * Private to engine/: the compiled tables of a dictionary, shared by the loader
 * (dictionary.c) and the validator (validate.c). Not a public header.
 */
#ifndef RFX_ENGINE_DICTIONARY_TABLES_H
#define RFX_ENGINE_DICTIONARY_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/dictionary.h"

#define NONE UINT32_MAX

/* ---- compiled tables ----------------------------------------------------- */

struct dfield {
	uint32_t tag;
	uint32_t name;       /* pool offset */
	uint32_t enum_first; /* into enums */
	uint32_t nenums;
	uint32_t charset;    /* enums all one byte: index into charsets, else NONE */
	uint8_t type;
	uint8_t is_count;    /* used as a group's NumInGroup tag somewhere */
};

struct denum {
	uint32_t off, len;   /* pool */
};

struct dmember {
	uint32_t tag;
	uint32_t group;      /* index into groups, or NONE */
	uint8_t required;
};

struct dset {
	uint32_t first, n;   /* members[first .. first+n), document order */
	uint32_t sorted;     /* sorted_tags[sorted .. sorted+n) */
	uint32_t req_first, nreq; /* req_tags */
	uint32_t bitmap;     /* offset into bitmaps: one bit per field index */
};

struct dgroup {
	uint32_t count_tag, delim_tag;
	uint32_t set;
};

struct dmsg {
	uint32_t type, type_len; /* pool */
	uint32_t name;
	uint32_t set;
	uint32_t layout_first, nlayout; /* into glayouts */
	struct rfx_layout layout;
};

struct rfx_dict {
	char version[24];
	char *pool;
	uint32_t pool_len;
	struct dfield *fields;
	uint32_t nfields;
	uint32_t *by_name;   /* field indexes sorted by name */
	uint32_t *by_tag;    /* tag < ntag_index: 1 + field index, 0 = none */
	uint32_t ntag_index;
	uint8_t *tag_class;  /* tag < ntag_class: 1 header, 2 trailer, 0 other */
	uint32_t ntag_class;
	struct denum *enums;
	uint32_t nenums;
	struct dmember *members;
	uint32_t nmembers;
	uint32_t *sorted_tags;
	uint32_t *req_tags;
	uint32_t *req_idx;   /* field index of each req_tags entry */
	uint32_t nreq;
	uint64_t (*charsets)[4]; /* 256-bit sets of one-byte enum values */
	uint32_t ncharsets;
	uint32_t msg_by_char[128];
	uint64_t *bitmaps;   /* see dset.bitmap: membership by field index, one load */ /* one-byte MsgType -> 1 + msgs index, 0 = none */
	struct dset *sets;
	uint32_t nsets;
	struct dgroup *groups;
	uint32_t ngroups;
	struct dmsg *msgs;
	uint32_t nmsgs;
	uint32_t header_set, trailer_set;
	struct rfx_group_layout *glayouts;
	uint32_t nglayouts;
};

/* Field definition of tag, or NULL. Tags beyond the direct index (rare: the
 * index covers every tag up to the largest defined one, capped at 65535). */
const struct dfield *rfx_dict__field_slow(const struct rfx_dict *d, uint32_t tag);
static inline const struct dfield *rfx_dict__field(const struct rfx_dict *d, uint32_t tag)
{
	if (tag < d->ntag_index) {
		uint32_t i = d->by_tag[tag];
		return i ? &d->fields[i - 1] : (const struct dfield *)0;
	}
	return rfx_dict__field_slow(d, tag);
}
/* Is tag a member of compiled set `set`? (binary search) */
bool rfx_dict__set_has(const struct rfx_dict *d, uint32_t set, uint32_t tag);
/* Message of MsgType t[0..len), or NULL. */
const struct dmsg *rfx_dict__msg(const struct rfx_dict *d, const char *t, uint32_t len);
/* Is v[0..len) an allowed value of f (true when f has no enum list)? */
bool rfx_dict__value_ok(const struct rfx_dict *d, const struct dfield *f, const char *v,
			uint32_t len);

/* Is field df (may be NULL) a member of set? One bit test for message sets. */
static inline bool rfx_dict__set_has_field(const struct rfx_dict *d, uint32_t set,
					   const struct dfield *df)
{
	if (!df)
		return false;
	if (d->sets[set].bitmap != NONE) {
		uint32_t i = (uint32_t)(df - d->fields);
		return d->bitmaps[d->sets[set].bitmap + i / 64] >> (i % 64) & 1;
	}
	return rfx_dict__set_has(d, set, df->tag);
}

/* 1 header field, 2 trailer field, 0 anything else. */
static inline unsigned rfx_dict__class(const struct rfx_dict *d, uint32_t tag)
{
	return tag < d->ntag_class ? d->tag_class[tag] : 0;
}

#endif
