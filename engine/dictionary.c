/*
 * QuickFIX-format XML dictionaries.
 *
 * XML library: expat. We read each file once at startup and compile it into
 * our own tables, so a streaming (SAX) parser is all we need: no DOM to build
 * and throw away, a small well-audited library that Debian keeps patched, and
 * it reports line numbers for our errors. (libxml2 would also do, but brings a
 * much larger surface for features we would not use.)
 *
 * Loading happens in two steps because the files reference names before they
 * define them (<messages> uses components and fields defined further down):
 *  1. expat callbacks record raw definitions: fields, components, and "raw
 *     sets" (the ordered items of a header, trailer, message, component or group);
 *  2. compile: resolve names to tags, inline components (required only if the
 *     component reference is required too, as QuickFIX does), and emit compact
 *     arrays: fields sorted by tag with a direct tag index, enums sorted per
 *     field, member sets (ordered, plus a sorted copy for membership and a list
 *     of required tags), groups (count tag, delimiter, entry set), messages
 *     sorted by MsgType, and codec group layouts per message.
 */
#include "engine/dictionary.h"

#include <errno.h>
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dictionary_tables.h"
#include "engine/error.h"

#define MAX_DEPTH 64 /* XML nesting and component inlining */

/* ---- growable arrays (load time only) ----------------------------------- */

struct vec {
	void *p;
	uint32_t n, cap;
};

static void *vec_push(struct vec *v, size_t size)
{
	if (v->n == v->cap) {
		uint32_t cap = v->cap ? v->cap * 2 : 16;
		void *p = realloc(v->p, (size_t)cap * size);
		if (!p)
			return NULL;
		v->p = p;
		v->cap = cap;
	}
	return (char *)v->p + (size_t)v->n++ * size;
}

/* ---- raw definitions (step 1) -------------------------------------------- */

enum item_kind { IT_FIELD, IT_GROUP, IT_COMPONENT };

struct raw_item {
	uint32_t name;       /* pool */
	uint32_t line;
	uint32_t child;      /* group: raw set of its entries */
	uint32_t next;       /* next item of the same set, or NONE */
	uint8_t kind, required;
};

struct raw_set {
	uint32_t head, tail; /* raw items */
};

struct raw_field {
	uint32_t tag, name, line, enum_first, nenums;
	uint8_t type;
};

struct raw_named {
	uint32_t name, set, line;
	uint32_t msgtype;    /* messages: pool offset of MsgType */
	uint8_t busy;        /* components: being inlined (cycle check) */
};

enum elem {
	E_OTHER, E_FIX, E_HEADER, E_TRAILER, E_MESSAGES, E_MESSAGE, E_COMPONENTS, E_COMPONENT_DEF,
	E_FIELDS, E_FIELD_DEF, E_VALUE, E_ITEM,
};

struct loader {
	const char *file;
	struct rfx_dict_error *err;
	int rc;
	XML_Parser xp;
	struct vec pool;      /* char */
	struct vec items;     /* raw_item */
	struct vec rsets;     /* raw_set */
	struct vec rfields;   /* raw_field */
	struct vec renums;    /* uint32 pool offsets (NUL-terminated strings) */
	struct vec comps;     /* raw_named */
	struct vec rmsgs;     /* raw_named */
	uint32_t header, trailer;
	int depth;
	uint8_t elem[MAX_DEPTH];
	uint32_t set[MAX_DEPTH]; /* raw set open at each depth, or NONE */
	char version[24];
	int seen_fix;
};

static void fail(struct loader *l, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(struct loader *l, unsigned line, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	if (l->rc)
		return; /* keep the first error */
	l->rc = RFX_EDICT;
	if (l->xp)
		XML_StopParser(l->xp, XML_FALSE);
	if (!l->err)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	l->err->line = line;
	if (line)
		snprintf(l->err->text, sizeof(l->err->text), "%s:%u: %s", l->file, line, why);
	else
		snprintf(l->err->text, sizeof(l->err->text), "%s: %s", l->file, why);
}

static void nomem(struct loader *l)
{
	if (!l->rc)
		l->rc = -ENOMEM;
	if (l->xp)
		XML_StopParser(l->xp, XML_FALSE);
	if (l->err)
		snprintf(l->err->text, sizeof(l->err->text), "%s: out of memory", l->file);
}

static uint32_t pool_add(struct loader *l, const char *s, size_t n)
{
	uint32_t off = l->pool.n;
	for (size_t i = 0; i < n; i++) {
		char *c = vec_push(&l->pool, 1);
		if (!c) {
			nomem(l);
			return 0;
		}
		*c = s[i];
	}
	char *z = vec_push(&l->pool, 1);
	if (!z) {
		nomem(l);
		return 0;
	}
	*z = '\0';
	return off;
}

static const char *pstr(const struct loader *l, uint32_t off)
{
	return (const char *)l->pool.p + off;
}

static const char *attr(const XML_Char **a, const char *name)
{
	for (; a[0]; a += 2)
		if (strcmp(a[0], name) == 0)
			return a[1];
	return NULL;
}

static unsigned cur_line(const struct loader *l)
{
	return (unsigned)XML_GetCurrentLineNumber(l->xp);
}

static uint32_t new_set(struct loader *l)
{
	struct raw_set *s = vec_push(&l->rsets, sizeof(*s));
	if (!s) {
		nomem(l);
		return NONE;
	}
	s->head = s->tail = NONE;
	return l->rsets.n - 1;
}

static const struct {
	const char *name;
	uint8_t type;
} type_names[] = {
	{"STRING", RFX_FT_STRING}, {"CHAR", RFX_FT_CHAR}, {"PRICE", RFX_FT_PRICE},
	{"INT", RFX_FT_INT}, {"AMT", RFX_FT_AMT}, {"QTY", RFX_FT_QTY},
	{"CURRENCY", RFX_FT_CURRENCY}, {"MULTIPLEVALUESTRING", RFX_FT_MULTIPLEVALUESTRING},
	{"MULTIPLESTRINGVALUE", RFX_FT_MULTIPLESTRINGVALUE},
	{"MULTIPLECHARVALUE", RFX_FT_MULTIPLECHARVALUE}, {"EXCHANGE", RFX_FT_EXCHANGE},
	{"UTCTIMESTAMP", RFX_FT_UTCTIMESTAMP}, {"BOOLEAN", RFX_FT_BOOLEAN},
	{"LOCALMKTDATE", RFX_FT_LOCALMKTDATE}, {"DATA", RFX_FT_DATA}, {"FLOAT", RFX_FT_FLOAT},
	{"PRICEOFFSET", RFX_FT_PRICEOFFSET}, {"MONTHYEAR", RFX_FT_MONTHYEAR},
	{"DAYOFMONTH", RFX_FT_DAYOFMONTH}, {"UTCDATE", RFX_FT_UTCDATE},
	{"UTCDATEONLY", RFX_FT_UTCDATEONLY}, {"UTCTIMEONLY", RFX_FT_UTCTIMEONLY},
	{"NUMINGROUP", RFX_FT_NUMINGROUP}, {"PERCENTAGE", RFX_FT_PERCENTAGE},
	{"SEQNUM", RFX_FT_SEQNUM}, {"LENGTH", RFX_FT_LENGTH}, {"COUNTRY", RFX_FT_COUNTRY},
	{"TZTIMEONLY", RFX_FT_TZTIMEONLY}, {"TZTIMESTAMP", RFX_FT_TZTIMESTAMP},
	{"XMLDATA", RFX_FT_XMLDATA}, {"LANGUAGE", RFX_FT_LANGUAGE}, {"TIME", RFX_FT_TIME},
	{"DATE", RFX_FT_DATE},
};

static uint8_t parse_type(const char *s)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (strcmp(type_names[i].name, s) == 0)
			return type_names[i].type;
	return RFX_FT_UNKNOWN; /* e.g. TENOR, RESERVED100PLUS: accepted, not format-checked */
}

/* Adds a field/group/component reference to the set open at the parent level. */
static void add_item(struct loader *l, uint8_t kind, const XML_Char **a)
{
	uint32_t parent = l->set[l->depth - 1];
	const char *name = attr(a, "name"), *req = attr(a, "required");
	struct raw_item *it;
	struct raw_set *s;
	uint32_t idx;

	if (!name || !name[0]) {
		fail(l, cur_line(l), "reference without a name attribute");
		return;
	}
	it = vec_push(&l->items, sizeof(*it));
	if (!it) {
		nomem(l);
		return;
	}
	idx = l->items.n - 1;
	it->kind = kind;
	it->line = cur_line(l);
	it->required = req && (req[0] == 'Y' || req[0] == 'y');
	it->next = NONE;
	it->child = NONE;
	it->name = pool_add(l, name, strlen(name));
	if (kind == IT_GROUP) {
		uint32_t child = new_set(l);
		((struct raw_item *)l->items.p)[idx].child = child;
		l->set[l->depth] = child;
	}
	s = &((struct raw_set *)l->rsets.p)[parent];
	if (s->tail == NONE)
		s->head = idx;
	else
		((struct raw_item *)l->items.p)[s->tail].next = idx;
	s->tail = idx;
}

static void XMLCALL on_start(void *ud, const XML_Char *el, const XML_Char **a)
{
	struct loader *l = ud;
	uint8_t parent = l->depth ? l->elem[l->depth - 1] : E_OTHER;
	uint8_t e = E_OTHER;

	if (l->rc)
		return;
	if (l->depth + 1 >= MAX_DEPTH) {
		fail(l, cur_line(l), "elements nested deeper than %d", MAX_DEPTH);
		return;
	}
	l->set[l->depth] = NONE;
	if (l->depth == 0) {
		const char *type = attr(a, "type"), *maj = attr(a, "major"), *min = attr(a, "minor");
		const char *sp = attr(a, "servicepack");
		if (strcmp(el, "fix") != 0 || !type || !maj || !min) {
			fail(l, cur_line(l), "not a QuickFIX dictionary: root must be <fix type=... "
			     "major=... minor=...>");
			return;
		}
		if (sp && strcmp(sp, "0") != 0)
			snprintf(l->version, sizeof(l->version), "%s.%s.%sSP%s", type, maj, min, sp);
		else
			snprintf(l->version, sizeof(l->version), "%s.%s.%s", type, maj, min);
		l->seen_fix = 1;
		e = E_FIX;
	} else if (parent == E_FIX) {
		if (strcmp(el, "header") == 0 || strcmp(el, "trailer") == 0) {
			uint32_t s = new_set(l);
			if (el[0] == 'h')
				l->header = s;
			else
				l->trailer = s;
			l->set[l->depth] = s;
			e = el[0] == 'h' ? E_HEADER : E_TRAILER;
		} else if (strcmp(el, "messages") == 0) {
			e = E_MESSAGES;
		} else if (strcmp(el, "components") == 0) {
			e = E_COMPONENTS;
		} else if (strcmp(el, "fields") == 0) {
			e = E_FIELDS;
		}
	} else if (parent == E_MESSAGES && strcmp(el, "message") == 0) {
		const char *name = attr(a, "name"), *mt = attr(a, "msgtype");
		struct raw_named *m;
		if (!name || !mt || !mt[0]) {
			fail(l, cur_line(l), "<message> needs name and msgtype attributes");
			return;
		}
		m = vec_push(&l->rmsgs, sizeof(*m));
		if (!m) {
			nomem(l);
			return;
		}
		m->line = cur_line(l);
		m->set = new_set(l);
		m->name = pool_add(l, name, strlen(name));
		m->msgtype = pool_add(l, mt, strlen(mt));
		l->set[l->depth] = m->set;
		e = E_MESSAGE;
	} else if (parent == E_COMPONENTS && strcmp(el, "component") == 0) {
		const char *name = attr(a, "name");
		struct raw_named *c;
		if (!name) {
			fail(l, cur_line(l), "<component> definition without a name");
			return;
		}
		c = vec_push(&l->comps, sizeof(*c));
		if (!c) {
			nomem(l);
			return;
		}
		c->line = cur_line(l);
		c->set = new_set(l);
		c->name = pool_add(l, name, strlen(name));
		c->busy = 0;
		l->set[l->depth] = c->set;
		e = E_COMPONENT_DEF;
	} else if (parent == E_FIELDS && strcmp(el, "field") == 0) {
		const char *num = attr(a, "number"), *name = attr(a, "name"), *type = attr(a, "type");
		struct raw_field *f;
		char *end;
		long tag;
		if (!num || !name || !type) {
			fail(l, cur_line(l), "field definition needs number, name and type");
			return;
		}
		errno = 0;
		tag = strtol(num, &end, 10);
		if (errno || *end || end == num || tag <= 0 || tag > 0x7fffffffL) {
			fail(l, cur_line(l), "field %s: number '%s' is not a tag (1..2^31-1)", name,
			     num);
			return;
		}
		f = vec_push(&l->rfields, sizeof(*f));
		if (!f) {
			nomem(l);
			return;
		}
		f->tag = (uint32_t)tag;
		f->line = cur_line(l);
		f->type = parse_type(type);
		f->enum_first = l->renums.n;
		f->nenums = 0;
		f->name = pool_add(l, name, strlen(name));
		e = E_FIELD_DEF;
	} else if (parent == E_FIELD_DEF && strcmp(el, "value") == 0) {
		const char *v = attr(a, "enum");
		uint32_t *slot;
		if (!v) {
			fail(l, cur_line(l), "<value> without an enum attribute");
			return;
		}
		slot = vec_push(&l->renums, sizeof(*slot));
		if (!slot) {
			nomem(l);
			return;
		}
		*slot = pool_add(l, v, strlen(v));
		((struct raw_field *)l->rfields.p)[l->rfields.n - 1].nenums++;
		e = E_VALUE;
	} else if (l->set[l->depth - 1] != NONE && (strcmp(el, "field") == 0 ||
						      strcmp(el, "group") == 0 ||
						      strcmp(el, "component") == 0)) {
		add_item(l, el[0] == 'f' ? IT_FIELD : el[0] == 'g' ? IT_GROUP : IT_COMPONENT, a);
		e = E_ITEM;
	}
	l->elem[l->depth++] = e;
}

static void XMLCALL on_end(void *ud, const XML_Char *el)
{
	struct loader *l = ud;
	(void)el;
	if (l->depth > 0)
		l->depth--;
}

/* ---- compile (step 2) ---------------------------------------------------- */

struct compiler {
	struct loader *l;
	struct rfx_dict *d;
	struct vec members;  /* dmember */
	struct vec sets;     /* dset */
	struct vec groups;   /* dgroup */
	struct vec sorted;   /* uint32 */
	struct vec req;      /* uint32 */
	uint32_t *comp_by_name; /* comp indexes sorted by name */
	uint32_t *group_of_item; /* raw group item -> compiled group, NONE until built */
};

/* qsort with an empty (possibly NULL) array is undefined behaviour. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static struct loader *cmp_loader; /* qsort has no context argument */

static int cmp_field_tag(const void *a, const void *b)
{
	const struct raw_field *x = a, *y = b;
	return (x->tag > y->tag) - (x->tag < y->tag);
}

static const struct rfx_dict *cmp_dict;

static int cmp_field_name(const void *a, const void *b)
{
	const struct rfx_dict *d = cmp_dict;
	return strcmp(d->pool + d->fields[*(const uint32_t *)a].name,
		      d->pool + d->fields[*(const uint32_t *)b].name);
}

static int cmp_comp_name(const void *a, const void *b)
{
	const struct raw_named *c = cmp_loader->comps.p;
	return strcmp(pstr(cmp_loader, c[*(const uint32_t *)a].name),
		      pstr(cmp_loader, c[*(const uint32_t *)b].name));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Enum values compare by length first, then bytes: cheap and total. */
static int enum_cmp(const char *a, uint32_t al, const char *b, uint32_t bl)
{
	if (al != bl)
		return al < bl ? -1 : 1;
	return memcmp(a, b, al);
}

static int cmp_enum(const void *a, const void *b)
{
	const struct denum *x = a, *y = b;
	return enum_cmp(cmp_dict->pool + x->off, x->len, cmp_dict->pool + y->off, y->len);
}

static int cmp_msg(const void *a, const void *b)
{
	const struct dmsg *x = a, *y = b;
	return enum_cmp(cmp_dict->pool + x->type, x->type_len, cmp_dict->pool + y->type,
			y->type_len);
}

const struct dfield *rfx_dict__field_slow(const struct rfx_dict *d, uint32_t tag)
{
	uint32_t lo = 0, hi = d->nfields;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (d->fields[mid].tag < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < d->nfields && d->fields[lo].tag == tag ? &d->fields[lo] : NULL;
}

uint32_t rfx_dict_field_tag(const struct rfx_dict *d, const char *name)
{
	uint32_t lo = 0, hi = d->nfields;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int c = strcmp(d->pool + d->fields[d->by_name[mid]].name, name);
		if (c == 0)
			return d->fields[d->by_name[mid]].tag;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static uint32_t comp_find(struct compiler *c, const char *name)
{
	const struct raw_named *comps = c->l->comps.p;
	uint32_t lo = 0, hi = c->l->comps.n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int r = strcmp(pstr(c->l, comps[c->comp_by_name[mid]].name), name);
		if (r == 0)
			return c->comp_by_name[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;
}

static uint32_t compile_set(struct compiler *c, uint32_t raw, int depth);

/* Appends the members of raw set `raw` to tmp (inlining components). */
static int expand(struct compiler *c, uint32_t raw, int required, struct vec *tmp, int depth)
{
	struct loader *l = c->l;

	if (depth > MAX_DEPTH) {
		fail(l, 0, "components nested deeper than %d", MAX_DEPTH);
		return -1;
	}
	for (uint32_t i = ((struct raw_set *)l->rsets.p)[raw].head; i != NONE;
	     i = ((struct raw_item *)l->items.p)[i].next) {
		const struct raw_item it = ((struct raw_item *)l->items.p)[i];
		const char *name = pstr(l, it.name);

		if (it.kind == IT_COMPONENT) {
			uint32_t ci = comp_find(c, name);
			struct raw_named *comp;
			if (ci == NONE) {
				fail(l, it.line, "component '%s' is not defined in <components>", name);
				return -1;
			}
			comp = &((struct raw_named *)l->comps.p)[ci];
			if (comp->busy) {
				fail(l, it.line, "component '%s' includes itself", name);
				return -1;
			}
			comp->busy = 1;
			int rc = expand(c, comp->set, required && it.required, tmp, depth + 1);
			((struct raw_named *)l->comps.p)[ci].busy = 0;
			if (rc < 0)
				return -1;
			continue;
		}
		uint32_t tag = rfx_dict_field_tag(c->d, name);
		if (!tag) {
			fail(l, it.line, "field '%s' is not defined in <fields>", name);
			return -1;
		}
		/* A tag already in this set (two components sharing a field) is kept once. */
		int dup = 0;
		for (uint32_t k = 0; k < tmp->n; k++)
			if (((struct dmember *)tmp->p)[k].tag == tag)
				dup = 1;
		if (dup)
			continue;
		struct dmember *m = vec_push(tmp, sizeof(*m));
		if (!m) {
			nomem(l);
			return -1;
		}
		m->tag = tag;
		m->required = (uint8_t)(required && it.required);
		m->group = NONE;
		if (it.kind == IT_GROUP && c->group_of_item[i] != NONE) {
			/* A group reached again through a shared component compiles to the
			 * same entry set: reuse it (FIX50SP2 would otherwise hold 26k). */
			((struct dmember *)tmp->p)[tmp->n - 1].group = c->group_of_item[i];
		} else if (it.kind == IT_GROUP) {
			uint32_t set = compile_set(c, it.child, depth + 1);
			struct dgroup *g;
			if (set == NONE)
				return -1;
			if (((struct dset *)c->sets.p)[set].n == 0) {
				fail(l, it.line, "group '%s' has no fields", name);
				return -1;
			}
			g = vec_push(&c->groups, sizeof(*g));
			if (!g) {
				nomem(l);
				return -1;
			}
			g->count_tag = tag;
			g->set = set;
			g->delim_tag = ((struct dmember *)c->members.p)
					       [((struct dset *)c->sets.p)[set].first].tag;
			((struct dmember *)tmp->p)[tmp->n - 1].group = c->groups.n - 1;
			c->group_of_item[i] = c->groups.n - 1;
		}
	}
	return 0;
}

/* Compiles a raw set into a dset; returns its index or NONE. */
static uint32_t compile_set(struct compiler *c, uint32_t raw, int depth)
{
	struct vec tmp = {0};
	struct dset *s;
	uint32_t idx;

	if (expand(c, raw, 1, &tmp, depth) < 0)
		goto fail;
	s = vec_push(&c->sets, sizeof(*s));
	if (!s)
		goto oom;
	idx = c->sets.n - 1;
	s->first = c->members.n;
	s->n = tmp.n;
	s->sorted = c->sorted.n;
	s->req_first = c->req.n;
	s->nreq = 0;
	s->bitmap = NONE;
	for (uint32_t k = 0; k < tmp.n; k++) {
		const struct dmember *src = &((struct dmember *)tmp.p)[k];
		struct dmember *m = vec_push(&c->members, sizeof(*m));
		uint32_t *t = vec_push(&c->sorted, sizeof(*t));
		if (!m || !t)
			goto oom;
		*m = *src;
		*t = src->tag;
		if (src->required) {
			uint32_t *r = vec_push(&c->req, sizeof(*r));
			if (!r)
				goto oom;
			*r = src->tag;
			((struct dset *)c->sets.p)[idx].nreq++;
		}
	}
	sort((uint32_t *)c->sorted.p + ((struct dset *)c->sets.p)[idx].sorted, tmp.n,
	      sizeof(uint32_t), cmp_u32);
	/* QuickFIX reports the lowest missing required tag first. */
	sort((uint32_t *)c->req.p + ((struct dset *)c->sets.p)[idx].req_first,
	      ((struct dset *)c->sets.p)[idx].nreq, sizeof(uint32_t), cmp_u32);
	free(tmp.p);
	return idx;
oom:
	nomem(c->l);
fail:
	free(tmp.p);
	return NONE;
}

bool rfx_dict__set_has(const struct rfx_dict *d, uint32_t set, uint32_t tag)
{
	const struct dset *s = &d->sets[set];
	const uint32_t *t = d->sorted_tags + s->sorted;
	uint32_t lo = 0, hi = s->n;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (t[mid] < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && t[lo] == tag;
}

/* Member of set with tag, or NULL (linear: only used for group count tags). */
static const struct dmember *set_member(const struct rfx_dict *d, uint32_t set, uint32_t tag)
{
	const struct dset *s = &d->sets[set];
	for (uint32_t k = 0; k < s->n; k++)
		if (d->members[s->first + k].tag == tag)
			return &d->members[s->first + k];
	return NULL;
}

/* Collects the groups reachable from set into out (deduplicated by count tag). */
static int collect_groups(const struct rfx_dict *d, uint32_t set, struct vec *out, int depth)
{
	const struct dset *s = &d->sets[set];

	if (depth > MAX_DEPTH)
		return 0;
	for (uint32_t k = 0; k < s->n; k++) {
		const struct dmember *m = &d->members[s->first + k];
		const struct dgroup *g;
		int seen = 0;
		if (m->group == NONE)
			continue;
		g = &d->groups[m->group];
		for (uint32_t j = 0; j < out->n; j++)
			if (((uint32_t *)out->p)[j] == m->group ||
			    d->groups[((uint32_t *)out->p)[j]].count_tag == g->count_tag)
				seen = 1;
		if (!seen) {
			uint32_t *slot = vec_push(out, sizeof(*slot));
			if (!slot)
				return -ENOMEM;
			*slot = m->group;
		}
		if (collect_groups(d, g->set, out, depth + 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int build_layouts(struct rfx_dict *d)
{
	struct vec all = {0}, tmp = {0};
	int rc = 0;

	for (uint32_t i = 0; i < d->nmsgs; i++) {
		tmp.n = 0;
		if (collect_groups(d, d->header_set, &tmp, 0) < 0 ||
		    collect_groups(d, d->msgs[i].set, &tmp, 0) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		d->msgs[i].layout_first = all.n;
		d->msgs[i].nlayout = tmp.n;
		for (uint32_t j = 0; j < tmp.n; j++) {
			const struct dgroup *g = &d->groups[((uint32_t *)tmp.p)[j]];
			struct rfx_group_layout *gl = vec_push(&all, sizeof(*gl));
			if (!gl) {
				rc = -ENOMEM;
				goto out;
			}
			gl->count_tag = g->count_tag;
			gl->delim_tag = g->delim_tag;
			gl->tags = NULL; /* set below, once sorted_tags is final */
			gl->ntags = d->sets[g->set].n;
			/* Stash the set index in tags' place until then. */
			gl->tags = (const uint32_t *)(uintptr_t)g->set;
		}
	}
	d->glayouts = all.p;
	d->nglayouts = all.n;
	all.p = NULL;
	for (uint32_t k = 0; k < d->nglayouts; k++) {
		uint32_t set = (uint32_t)(uintptr_t)d->glayouts[k].tags;
		d->glayouts[k].tags = d->sorted_tags + d->sets[set].sorted;
	}
	for (uint32_t i = 0; i < d->nmsgs; i++) {
		d->msgs[i].layout.data = NULL;
		d->msgs[i].layout.ndata = 0;
		d->msgs[i].layout.groups = d->msgs[i].nlayout ? d->glayouts + d->msgs[i].layout_first
							       : NULL;
		d->msgs[i].layout.ngroups = d->msgs[i].nlayout;
	}
out:
	free(all.p);
	free(tmp.p);
	return rc;
}

static int compile(struct loader *l, struct rfx_dict **out)
{
	struct compiler c = { .l = l };
	struct rfx_dict *d = calloc(1, sizeof(*d));
	struct raw_field *rf = l->rfields.p;
	uint32_t maxtag = 0;

	if (!d)
		goto oom;
	c.d = d;
	snprintf(d->version, sizeof(d->version), "%s", l->version);
	/* The dictionary borrows the loader's string pool and owns it on success. */
	d->pool = l->pool.p;
	d->pool_len = l->pool.n;

	/* Fields, sorted by tag, with duplicate checks. */
	sort(rf, l->rfields.n, sizeof(*rf), cmp_field_tag);
	d->nfields = l->rfields.n;
	d->fields = calloc(d->nfields ? d->nfields : 1, sizeof(*d->fields));
	d->by_name = calloc(d->nfields ? d->nfields : 1, sizeof(*d->by_name));
	d->enums = calloc(l->renums.n ? l->renums.n : 1, sizeof(*d->enums));
	if (!d->fields || !d->by_name || !d->enums)
		goto oom;
	for (uint32_t i = 0; i < d->nfields; i++) {
		struct dfield *f = &d->fields[i];
		if (i && rf[i].tag == rf[i - 1].tag) {
			fail(l, rf[i].line, "field number %u defined twice (also by %s)", rf[i].tag,
			     d->pool + rf[i - 1].name);
			goto fail;
		}
		f->tag = rf[i].tag;
		f->name = rf[i].name;
		f->type = rf[i].type;
		f->enum_first = d->nenums;
		f->nenums = rf[i].nenums;
		for (uint32_t k = 0; k < rf[i].nenums; k++) {
			uint32_t off = ((uint32_t *)l->renums.p)[rf[i].enum_first + k];
			d->enums[d->nenums].off = off;
			d->enums[d->nenums].len = (uint32_t)strlen(d->pool + off);
			d->nenums++;
		}
		cmp_dict = d;
		sort(d->enums + f->enum_first, f->nenums, sizeof(*d->enums), cmp_enum);
		f->charset = NONE;
		d->by_name[i] = i;
		if (f->tag > maxtag)
			maxtag = f->tag;
	}
	/* Enums that are all one byte (Side, OrdType, ...) get a bitmap: one load
	 * per check instead of a binary search. */
	for (uint32_t i = 0; i < d->nfields; i++) {
		struct dfield *f = &d->fields[i];
		bool one = f->nenums > 0;
		for (uint32_t k = 0; k < f->nenums && one; k++)
			one = d->enums[f->enum_first + k].len == 1;
		if (one)
			f->charset = d->ncharsets++;
	}
	d->charsets = calloc(d->ncharsets ? d->ncharsets : 1, sizeof(*d->charsets));
	if (!d->charsets)
		goto oom;
	for (uint32_t i = 0; i < d->nfields; i++) {
		const struct dfield *f = &d->fields[i];
		if (f->charset == NONE)
			continue;
		for (uint32_t k = 0; k < f->nenums; k++) {
			unsigned char ch = (unsigned char)d->pool[d->enums[f->enum_first + k].off];
			d->charsets[f->charset][ch / 64] |= 1ULL << (ch % 64);
		}
	}
	cmp_dict = d;
	sort(d->by_name, d->nfields, sizeof(*d->by_name), cmp_field_name);
	for (uint32_t i = 1; i < d->nfields; i++) {
		if (strcmp(d->pool + d->fields[d->by_name[i]].name,
			   d->pool + d->fields[d->by_name[i - 1]].name) == 0) {
			uint32_t tag = d->fields[d->by_name[i]].tag;
			fail(l, 0, "field name %s defined twice (tags %u and %u)",
			     d->pool + d->fields[d->by_name[i]].name,
			     d->fields[d->by_name[i - 1]].tag, tag);
			goto fail;
		}
	}
	/* Direct tag index up to the largest standard tag range; bsearch beyond. */
	d->ntag_index = maxtag < 65536 ? maxtag + 1 : 65536;
	d->by_tag = calloc(d->ntag_index, sizeof(*d->by_tag));
	if (!d->by_tag)
		goto oom;
	for (uint32_t i = 0; i < d->nfields; i++)
		if (d->fields[i].tag < d->ntag_index)
			d->by_tag[d->fields[i].tag] = i + 1;

	c.group_of_item = malloc((l->items.n ? l->items.n : 1) * sizeof(uint32_t));
	if (!c.group_of_item)
		goto oom;
	memset(c.group_of_item, 0xff, (l->items.n ? l->items.n : 1) * sizeof(uint32_t));

	/* Components by name. */
	c.comp_by_name = malloc((l->comps.n ? l->comps.n : 1) * sizeof(uint32_t));
	if (!c.comp_by_name)
		goto oom;
	for (uint32_t i = 0; i < l->comps.n; i++)
		c.comp_by_name[i] = i;
	cmp_loader = l;
	sort(c.comp_by_name, l->comps.n, sizeof(uint32_t), cmp_comp_name);
	for (uint32_t i = 1; i < l->comps.n; i++) {
		const struct raw_named *cs = l->comps.p;
		if (strcmp(pstr(l, cs[c.comp_by_name[i]].name),
			   pstr(l, cs[c.comp_by_name[i - 1]].name)) == 0) {
			fail(l, cs[c.comp_by_name[i]].line, "component %s defined twice",
			     pstr(l, cs[c.comp_by_name[i]].name));
			goto fail;
		}
	}
	if (l->header == NONE || l->trailer == NONE) {
		fail(l, 0, "missing <header> or <trailer>");
		goto fail;
	}
	d->header_set = compile_set(&c, l->header, 0);
	if (d->header_set == NONE)
		goto fail;
	d->trailer_set = compile_set(&c, l->trailer, 0);
	if (d->trailer_set == NONE)
		goto fail;
	d->nmsgs = l->rmsgs.n;
	d->msgs = calloc(d->nmsgs ? d->nmsgs : 1, sizeof(*d->msgs));
	if (!d->msgs)
		goto oom;
	for (uint32_t i = 0; i < d->nmsgs; i++) {
		const struct raw_named *rm = &((struct raw_named *)l->rmsgs.p)[i];
		d->msgs[i].type = rm->msgtype;
		d->msgs[i].type_len = (uint32_t)strlen(d->pool + rm->msgtype);
		d->msgs[i].name = rm->name;
		d->msgs[i].set = compile_set(&c, rm->set, 0);
		if (d->msgs[i].set == NONE)
			goto fail;
	}
	cmp_dict = d;
	sort(d->msgs, d->nmsgs, sizeof(*d->msgs), cmp_msg);
	for (uint32_t i = 1; i < d->nmsgs; i++) {
		if (cmp_msg(&d->msgs[i], &d->msgs[i - 1]) == 0) {
			fail(l, 0, "MsgType %s defined twice", d->pool + d->msgs[i].type);
			goto fail;
		}
	}
	for (uint32_t i = 0; i < d->nmsgs; i++)
		if (d->msgs[i].type_len == 1 && (unsigned char)d->pool[d->msgs[i].type] < 128)
			d->msg_by_char[(unsigned char)d->pool[d->msgs[i].type]] = i + 1;
	for (uint32_t g = 0; g < c.groups.n; g++) {
		const struct dfield *cf = rfx_dict__field(d, ((struct dgroup *)c.groups.p)[g].count_tag);
		if (cf)
			d->fields[cf - d->fields].is_count = 1;
	}
	d->members = c.members.p;
	d->nmembers = c.members.n;
	d->sets = c.sets.p;
	d->nsets = c.sets.n;
	d->groups = c.groups.p;
	d->ngroups = c.groups.n;
	d->sorted_tags = c.sorted.p;
	d->req_tags = c.req.p;
	d->nreq = c.req.n;
	d->req_idx = calloc(d->nreq ? d->nreq : 1, sizeof(*d->req_idx));
	if (!d->req_idx) {
		c.members.p = c.sets.p = c.groups.p = c.sorted.p = c.req.p = NULL;
		goto oom;
	}
	for (uint32_t k = 0; k < d->nreq; k++)
		d->req_idx[k] = (uint32_t)(rfx_dict__field(d, d->req_tags[k]) - d->fields);
	c.members.p = c.sets.p = c.groups.p = c.sorted.p = c.req.p = NULL;

	/* Membership bitmaps, one bit per field index for every set (header,
	 * trailer, bodies, group entries): one load per field on the receive path.
	 * FIX50SP2: ~1 MB. */
	{
		uint32_t words = (d->nfields + 63) / 64, nb = d->nsets;
		d->bitmaps = calloc((size_t)words * nb + 1, sizeof(uint64_t));
		if (!d->bitmaps)
			goto oom;
		for (uint32_t b = 0; b < nb; b++) {
			struct dset *st = &d->sets[b];
			st->bitmap = b * words;
			for (uint32_t k = 0; k < st->n; k++) {
				const struct dfield *mf = rfx_dict__field(d, d->members[st->first + k].tag);
				uint32_t fi = (uint32_t)(mf - d->fields);
				d->bitmaps[st->bitmap + fi / 64] |= 1ULL << (fi % 64);
			}
		}
	}

	/* Header/trailer classification by direct index (header tags are small). */
	{
		uint32_t mx = 0;
		const struct dset *hs[2] = { &d->sets[d->header_set], &d->sets[d->trailer_set] };
		for (int h = 0; h < 2; h++)
			for (uint32_t k = 0; k < hs[h]->n; k++)
				if (d->members[hs[h]->first + k].tag > mx)
					mx = d->members[hs[h]->first + k].tag;
		d->ntag_class = mx + 1;
		d->tag_class = calloc(d->ntag_class, 1);
		if (!d->tag_class)
			goto oom;
		for (int h = 0; h < 2; h++)
			for (uint32_t k = 0; k < hs[h]->n; k++)
				d->tag_class[d->members[hs[h]->first + k].tag] = (uint8_t)(h + 1);
	}
	if (build_layouts(d) < 0)
		goto oom;
	free(c.comp_by_name);
	free(c.group_of_item);
	l->pool.p = NULL;
	*out = d;
	return 0;
oom:
	nomem(l);
fail:
	if (d)
		d->pool = NULL; /* still the loader's */
	free(c.members.p);
	free(c.sets.p);
	free(c.groups.p);
	free(c.sorted.p);
	free(c.req.p);
	free(c.comp_by_name);
	free(c.group_of_item);
	rfx_dict_free(d);
	return l->rc ? l->rc : -ENOMEM;
}

void rfx_dict_free(struct rfx_dict *d)
{
	if (!d)
		return;
	free(d->pool);
	free(d->fields);
	free(d->by_name);
	free(d->by_tag);
	free(d->tag_class);
	free(d->enums);
	free(d->members);
	free(d->sorted_tags);
	free(d->req_tags);
	free(d->req_idx);
	free(d->charsets);
	free(d->bitmaps);
	free(d->sets);
	free(d->groups);
	free(d->msgs);
	free(d->glayouts);
	free(d);
}

int rfx_dict_load_buffer(const char *xml, size_t len, const char *name, struct rfx_dict **out,
			 struct rfx_dict_error *err)
{
	struct loader l = { .file = name ? name : "(dictionary)", .err = err };
	int rc;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	l.header = l.trailer = NONE;
	l.xp = XML_ParserCreate(NULL);
	if (!l.xp)
		return -ENOMEM;
	XML_SetUserData(l.xp, &l);
	XML_SetElementHandler(l.xp, on_start, on_end);
	/* Feed in chunks: XML_Parse takes an int length. */
	for (size_t off = 0;;) {
		size_t chunk = len - off > (1u << 30) ? (1u << 30) : len - off;
		int final = off + chunk == len;
		if (XML_Parse(l.xp, xml + off, (int)chunk, final) == XML_STATUS_ERROR) {
			if (!l.rc) {
				/* Expat's own message names the XML problem. */
				unsigned line = (unsigned)XML_GetCurrentLineNumber(l.xp);
				const char *why = XML_ErrorString(XML_GetErrorCode(l.xp));
				XML_Parser xp = l.xp;
				l.xp = NULL;
				fail(&l, line, "XML: %s", why);
				l.xp = xp;
			}
			break;
		}
		off += chunk;
		if (final)
			break;
	}
	XML_ParserFree(l.xp);
	l.xp = NULL;
	if (!l.rc && !l.seen_fix)
		fail(&l, 0, "empty document");
	rc = l.rc;
	if (!rc)
		rc = compile(&l, out);
	free(l.pool.p);
	free(l.items.p);
	free(l.rsets.p);
	free(l.rfields.p);
	free(l.renums.p);
	free(l.comps.p);
	free(l.rmsgs.p);
	return rc;
}

int rfx_dict_load(const char *path, struct rfx_dict **out, struct rfx_dict_error *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	*out = NULL;
	if (err)
		memset(err, 0, sizeof(*err));
	if (!f) {
		rc = -errno;
		if (err)
			snprintf(err->text, sizeof(err->text), "%s: cannot open: %s", path,
				 strerror(-rc));
		return rc;
	}
	for (;;) {
		if (len == cap) {
			char *nb;
			cap = cap ? cap * 2 : 1 << 20;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = -EIO;
		if (err)
			snprintf(err->text, sizeof(err->text), "%s: read error", path);
		goto out;
	}
	rc = rfx_dict_load_buffer(buf, len, path, out, err);
out:
	free(buf);
	fclose(f);
	return rc;
}

/* ---- lookups -------------------------------------------------------------- */

const char *rfx_dict_version(const struct rfx_dict *d)
{
	return d->version;
}

unsigned rfx_dict_nfields(const struct rfx_dict *d)
{
	return d->nfields;
}

unsigned rfx_dict_nmessages(const struct rfx_dict *d)
{
	return d->nmsgs;
}

unsigned rfx_dict_ngroups(const struct rfx_dict *d)
{
	return d->ngroups;
}

bool rfx_dict_has_field(const struct rfx_dict *d, uint32_t tag)
{
	return rfx_dict__field(d, tag) != NULL;
}

enum rfx_field_type rfx_dict_field_type(const struct rfx_dict *d, uint32_t tag)
{
	const struct dfield *f = rfx_dict__field(d, tag);
	return f ? (enum rfx_field_type)f->type : RFX_FT_UNKNOWN;
}

const char *rfx_dict_field_name(const struct rfx_dict *d, uint32_t tag)
{
	const struct dfield *f = rfx_dict__field(d, tag);
	return f ? d->pool + f->name : NULL;
}

static bool enum_has(const struct rfx_dict *d, const struct dfield *f, const char *v,
		     uint32_t len)
{
	uint32_t lo = 0, hi = f->nenums;
	const struct denum *e = d->enums + f->enum_first;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int c = enum_cmp(d->pool + e[mid].off, e[mid].len, v, len);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* One enum value: a bitmap probe for one-byte enum sets, else binary search. */
static bool one_value_ok(const struct rfx_dict *d, const struct dfield *f, const char *v,
			 uint32_t len)
{
	if (f->charset != NONE)
		return len == 1 && (d->charsets[f->charset][(unsigned char)v[0] / 64] >>
				    ((unsigned char)v[0] % 64) & 1);
	return enum_has(d, f, v, len);
}

bool rfx_dict__value_ok(const struct rfx_dict *d, const struct dfield *f, const char *v,
			uint32_t len)
{
	if (!f->nenums)
		return true;
	/* Multi-value types list enums separated by single spaces; each must be valid. */
	if (f->type == RFX_FT_MULTIPLEVALUESTRING || f->type == RFX_FT_MULTIPLESTRINGVALUE ||
	    f->type == RFX_FT_MULTIPLECHARVALUE) {
		uint32_t s = 0;
		for (uint32_t i = 0; i <= len; i++) {
			if (i == len || v[i] == ' ') {
				if (!one_value_ok(d, f, v + s, i - s))
					return false;
				s = i + 1;
			}
		}
		return true;
	}
	return one_value_ok(d, f, v, len);
}

bool rfx_dict_field_value_ok(const struct rfx_dict *d, uint32_t tag, const char *value,
			     uint32_t len)
{
	const struct dfield *f = rfx_dict__field(d, tag);
	return !f || rfx_dict__value_ok(d, f, value, len);
}

const struct dmsg *rfx_dict__msg(const struct rfx_dict *d, const char *t, uint32_t len)
{
	if (len == 1 && (unsigned char)t[0] < 128) {
		uint32_t i = d->msg_by_char[(unsigned char)t[0]];
		return i ? &d->msgs[i - 1] : NULL;
	}
	uint32_t lo = 0, hi = d->nmsgs;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		int c = enum_cmp(d->pool + d->msgs[mid].type, d->msgs[mid].type_len, t, len);
		if (c == 0)
			return &d->msgs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool rfx_dict_has_msg_type(const struct rfx_dict *d, const char *msg_type, uint32_t len)
{
	return rfx_dict__msg(d, msg_type, len) != NULL;
}

bool rfx_dict_is_msg_field(const struct rfx_dict *d, const char *msg_type, uint32_t len,
			   uint32_t tag)
{
	const struct dmsg *m = rfx_dict__msg(d, msg_type, len);
	return m && rfx_dict__set_has(d, m->set, tag);
}

bool rfx_dict_is_required(const struct rfx_dict *d, const char *msg_type, uint32_t len,
			  uint32_t tag)
{
	const struct dmsg *m = rfx_dict__msg(d, msg_type, len);
	const struct dmember *mb = m ? set_member(d, m->set, tag) : NULL;
	return mb && mb->required;
}

bool rfx_dict_is_header_field(const struct rfx_dict *d, uint32_t tag)
{
	return rfx_dict__class(d, tag) == 1;
}

bool rfx_dict_is_trailer_field(const struct rfx_dict *d, uint32_t tag)
{
	return rfx_dict__class(d, tag) == 2;
}

static const struct rfx_layout *seam_layout(void *ctx, const char *msg_type, uint32_t len)
{
	const struct dmsg *m = rfx_dict__msg(ctx, msg_type, len);
	return m ? &m->layout : NULL;
}

void rfx_dict_seam(const struct rfx_dict *d, struct rfx_dict_seam *seam)
{
	seam->layout = seam_layout;
	seam->ctx = (void *)d;
}
