/*
 * ringfix decode [--dict FILE.xml | --dict-dir DIR] [FILE]
 *
 * FIX messages from a file or stdin, one field per line. Separators may be SOH,
 * '|' (when the input holds no SOH at all) or the two characters "^A"; text before
 * "8=" on a line (a log prefix) is skipped. Each message goes through the engine's
 * own framer and parser, so what this prints is what the engine would see; a
 * message the codec refuses is reported with its error and offset, and decoding
 * goes on with the next one.
 *
 * The compiled dictionary (engine/dictionary.h) keeps no enum descriptions or
 * message names, which only an operator needs, so this file reads them from the
 * same XML with expat.
 */
#include <errno.h>
#include <expat.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "engine/codec.h"
#include "engine/dictionary.h"
#include "engine/error.h"

#define MAX_FIELDS 8192
#define MAX_DICTS 16

/* ------------------------------------------------------ XML descriptions */

struct enum_name {
	uint32_t tag;
	char *value;
	char *desc;
};

struct msg_name {
	char *type;
	char *name;
};

struct names {
	struct enum_name *enums;
	size_t nenums, capenums;
	struct msg_name *msgs;
	size_t nmsgs, capmsgs;
	uint32_t cur_tag;   /* <field number=...> being read, 0 outside one */
	bool in_messages;
	bool oom;
};

static const char *attr(const XML_Char **a, const char *name)
{
	for (; a && a[0]; a += 2)
		if (strcmp(a[0], name) == 0)
			return a[1];
	return NULL;
}

static void *grow(void *p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 256;
	return realloc(p, *cap * elem);
}

static void xml_start(void *ud, const XML_Char *el, const XML_Char **a)
{
	struct names *nm = ud;
	const char *num, *v, *d, *t, *n;

	if (nm->oom)
		return;
	if (strcmp(el, "messages") == 0) {
		nm->in_messages = true;
	} else if (strcmp(el, "message") == 0 && nm->in_messages) {
		t = attr(a, "msgtype");
		n = attr(a, "name");
		if (!t || !n)
			return;
		struct msg_name *m = grow(nm->msgs, &nm->capmsgs, nm->nmsgs, sizeof(*m));
		if (!m)
			goto oom;
		nm->msgs = m;
		m[nm->nmsgs].type = strdup(t);
		m[nm->nmsgs].name = strdup(n);
		if (!m[nm->nmsgs].type || !m[nm->nmsgs].name)
			goto oom;
		nm->nmsgs++;
	} else if (strcmp(el, "field") == 0 && (num = attr(a, "number"))) {
		nm->cur_tag = (uint32_t)strtoul(num, NULL, 10);
	} else if (strcmp(el, "value") == 0 && nm->cur_tag) {
		v = attr(a, "enum");
		d = attr(a, "description");
		if (!v || !d)
			return;
		struct enum_name *e = grow(nm->enums, &nm->capenums, nm->nenums, sizeof(*e));
		if (!e)
			goto oom;
		nm->enums = e;
		e[nm->nenums].tag = nm->cur_tag;
		e[nm->nenums].value = strdup(v);
		e[nm->nenums].desc = strdup(d);
		if (!e[nm->nenums].value || !e[nm->nenums].desc)
			goto oom;
		nm->nenums++;
	}
	return;
oom:
	nm->oom = true;
}

static void xml_end(void *ud, const XML_Char *el)
{
	struct names *nm = ud;

	if (strcmp(el, "field") == 0)
		nm->cur_tag = 0;
	else if (strcmp(el, "messages") == 0)
		nm->in_messages = false;
}

static int enum_cmp(const void *a, const void *b)
{
	const struct enum_name *x = a, *y = b;

	if (x->tag != y->tag)
		return x->tag < y->tag ? -1 : 1;
	return strcmp(x->value, y->value);
}

static void names_free(struct names *nm)
{
	for (size_t i = 0; i < nm->nenums; i++) {
		free(nm->enums[i].value);
		free(nm->enums[i].desc);
	}
	for (size_t i = 0; i < nm->nmsgs; i++) {
		free(nm->msgs[i].type);
		free(nm->msgs[i].name);
	}
	free(nm->enums);
	free(nm->msgs);
	memset(nm, 0, sizeof(*nm));
}

/* The dictionary loaded and validated the file already; a failure here only
 * loses descriptions, so it is not an error. */
static void names_load(struct names *nm, const char *path)
{
	XML_Parser p = XML_ParserCreate(NULL);
	char *text = NULL;
	size_t len;

	memset(nm, 0, sizeof(*nm));
	if (!p)
		return;
	if (rfx_cli_read_all(path, &text, &len) == 0) {
		XML_SetUserData(p, nm);
		XML_SetElementHandler(p, xml_start, xml_end);
		if (XML_Parse(p, text, (int)len, 1) != XML_STATUS_OK || nm->oom)
			names_free(nm);
	}
	free(text);
	XML_ParserFree(p);
	if (nm->nenums)
		qsort(nm->enums, nm->nenums, sizeof(nm->enums[0]), enum_cmp);
}

static const char *enum_desc(const struct names *nm, uint32_t tag, const char *v)
{
	struct enum_name key = {.tag = tag, .value = (char *)v};
	const struct enum_name *e;

	if (!nm->nenums)
		return NULL;
	e = bsearch(&key, nm->enums, nm->nenums, sizeof(*e), enum_cmp);
	return e ? e->desc : NULL;
}

static const char *msg_desc(const struct names *nm, const char *type)
{
	for (size_t i = 0; i < nm->nmsgs; i++)
		if (strcmp(nm->msgs[i].type, type) == 0)
			return nm->msgs[i].name;
	return NULL;
}

/* ------------------------------------------------------------ dictionaries */

struct dict {
	char file[64];          /* as looked up in --dict-dir, "" for --dict */
	struct rfx_dict *d;     /* NULL when absent or failed (reported once) */
	struct names names;
};

struct decoder {
	const char *dict_dir;
	struct dict dicts[MAX_DICTS];
	unsigned ndicts;
	struct dict *fixed;     /* --dict: used for every message */
	struct rfx_field *fields;
	unsigned nmsgs, nbad;
};

static struct dict *dict_load(struct decoder *dc, const char *path, const char *file)
{
	struct rfx_dict_error err = {0};
	struct dict *e;
	int rc;

	if (dc->ndicts == MAX_DICTS)
		return NULL;
	e = &dc->dicts[dc->ndicts++];
	snprintf(e->file, sizeof(e->file), "%s", file);
	rc = rfx_dict_load(path, &e->d, &err);
	if (rc < 0) {
		if (rc == -ENOENT && file[0])
			rfx_cli_err("decode", "no dictionary %s in %s: showing header field names "
				    "only", file, dc->dict_dir);
		else if (err.text[0]) /* names the file (and line) already */
			rfx_cli_err("decode", "dictionary %s", err.text);
		else
			rfx_cli_err("decode", "dictionary %s: %s", path, rfx_strerror(rc));
		e->d = NULL;
		return e;
	}
	names_load(&e->names, path);
	return e;
}

/* The dictionary named file (e.g. "FIX44.xml") in --dict-dir, loaded once. */
static struct dict *dict_by_file(struct decoder *dc, const char *file)
{
	char path[4096];

	for (unsigned i = 0; i < dc->ndicts; i++)
		if (strcmp(dc->dicts[i].file, file) == 0)
			return dc->dicts[i].d ? &dc->dicts[i] : NULL;
	snprintf(path, sizeof(path), "%s/%s", dc->dict_dir, file);
	struct dict *e = dict_load(dc, path, file);
	return e && e->d ? e : NULL;
}

/* QuickFIX's file names: BeginString without dots ("FIX.4.4" -> FIX44.xml);
 * FIXT.1.1 application messages by ApplVerID(1128), FIX.5.0SP2 by default. */
static void pick_dicts(struct decoder *dc, const struct rfx_msg *m, struct dict **transport,
		       struct dict **app)
{
	static const char *const appl_ver[] = {
		NULL, NULL, "FIX40.xml", "FIX41.xml", "FIX42.xml", "FIX43.xml", "FIX44.xml",
		"FIX50.xml", "FIX50SP1.xml", "FIX50SP2.xml"};
	const struct rfx_field *bs = rfx_msg_hdr(m, RFX_HDR_BEGIN_STRING);
	const struct rfx_field *av = rfx_msg_hdr(m, RFX_HDR_APPL_VER_ID);
	char file[64];
	size_t n = 0;

	*transport = *app = dc->fixed;
	if (dc->fixed || !dc->dict_dir || !bs || bs->len > 32)
		return;
	for (uint32_t i = 0; i < bs->len; i++) {
		char c = bs->p[i];
		if (c == '/' || c < ' ' || c > '~')
			return;
		if (c != '.')
			file[n++] = c;
	}
	memcpy(file + n, ".xml", 5);
	*transport = *app = dict_by_file(dc, file);
	if (bs->len == 8 && memcmp(bs->p, "FIXT.1.1", 8) == 0) {
		const char *af = "FIX50SP2.xml";

		if (av && av->len == 1 && av->p[0] >= '2' && av->p[0] <= '9')
			af = appl_ver[av->p[0] - '0'];
		*app = dict_by_file(dc, af);
	}
}

/* ---------------------------------------------------------------- printing */

static const struct {
	uint32_t tag;
	const char *name;
} builtin_names[] = {
	{8, "BeginString"}, {9, "BodyLength"}, {10, "CheckSum"}, {34, "MsgSeqNum"},
	{35, "MsgType"}, {43, "PossDupFlag"}, {49, "SenderCompID"}, {50, "SenderSubID"},
	{52, "SendingTime"}, {56, "TargetCompID"}, {57, "TargetSubID"}, {89, "Signature"},
	{90, "SecureDataLen"}, {91, "SecureData"}, {93, "SignatureLength"},
	{97, "PossResend"}, {115, "OnBehalfOfCompID"}, {116, "OnBehalfOfSubID"},
	{122, "OrigSendingTime"}, {128, "DeliverToCompID"}, {129, "DeliverToSubID"},
	{142, "SenderLocationID"}, {143, "TargetLocationID"}, {144, "OnBehalfOfLocationID"},
	{145, "DeliverToLocationID"}, {212, "XmlDataLen"}, {213, "XmlData"},
	{347, "MessageEncoding"}, {369, "LastMsgSeqNumProcessed"}, {627, "NoHops"},
	{1128, "ApplVerID"}, {1129, "CstmApplVerID"}, {1156, "ApplExtID"},
};

static const struct {
	const char *type;
	const char *name;
} builtin_msgs[] = {
	{"0", "Heartbeat"}, {"1", "TestRequest"}, {"2", "ResendRequest"}, {"3", "Reject"},
	{"4", "SequenceReset"}, {"5", "Logout"}, {"A", "Logon"},
};

static const char *field_name(const struct dict *t, const struct dict *a, uint32_t tag)
{
	const char *n = NULL;

	if (a && a->d)
		n = rfx_dict_field_name(a->d, tag);
	if (!n && t && t->d)
		n = rfx_dict_field_name(t->d, tag);
	if (n)
		return n;
	for (size_t i = 0; i < sizeof(builtin_names) / sizeof(builtin_names[0]); i++)
		if (builtin_names[i].tag == tag)
			return builtin_names[i].name;
	return "?";
}

/* Value printed as text; bytes a terminal would act on (SOH in data fields,
 * escapes) are shown as \xNN. */
static void print_value(const char *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < ' ' || c == 0x7f || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/* Enum meaning, "A, B" for a multiple-value field whose whole value is not an enum. */
static void print_meaning(const struct dict *t, const struct dict *a, uint32_t tag,
			  const char *p, uint32_t len)
{
	const struct dict *ds[2] = {a, t};
	char v[256];
	const char *d;

	if (len == 0 || len >= sizeof(v))
		return;
	memcpy(v, p, len);
	v[len] = '\0';
	for (int k = 0; k < 2; k++) {
		if (!ds[k] || !ds[k]->d)
			continue;
		if ((d = enum_desc(&ds[k]->names, tag, v))) {
			printf("  (%s)", d);
			return;
		}
		if (strchr(v, ' ')) {
			bool any = false;

			for (char *save = NULL, *tok = strtok_r(v, " ", &save); tok;
			     tok = strtok_r(NULL, " ", &save)) {
				d = enum_desc(&ds[k]->names, tag, tok);
				printf("%s%s", any ? ", " : "  (", d ? d : tok);
				any = true;
			}
			if (any)
				printf(")");
			return;
		}
	}
}

static void print_fields(const struct rfx_msg *m, const uint8_t *depth, const uint8_t *first,
			 const struct dict *t, const struct dict *a)
{
	for (uint32_t i = 0; i < m->nfields; i++) {
		const struct rfx_field *f = &m->fields[i];
		unsigned ind = depth ? depth[i] : 0;

		/* Group entries: indented, the first field of each entry marked "- ". */
		for (unsigned k = 0; k + 1 < ind; k++)
			printf("    ");
		if (ind)
			printf(first[i] ? "  - " : "    ");
		printf("%-5u %-28s ", f->tag, field_name(t, a, f->tag));
		print_value(f->p, f->len);
		print_meaning(t, a, f->tag, f->p, f->len);
		putchar('\n');
	}
}

/* Group depth of every field: each entry of each NumInGroup field the layout
 * knows (nested ones included, as they come later in wire order) adds one. */
static void group_depths(const struct rfx_msg *m, const struct rfx_layout *lay, uint8_t *depth,
			 uint8_t *first)
{
	static struct rfx_group_span spans[MAX_FIELDS];

	memset(depth, 0, m->nfields);
	memset(first, 0, m->nfields);
	if (!lay || !lay->ngroups)
		return;
	for (uint32_t i = 0; i < m->nfields; i++) {
		int n = rfx_msg_group(m, lay, i, spans, MAX_FIELDS);

		for (int e = 0; e < n; e++) {
			first[spans[e].first] = 1;
			for (uint32_t j = spans[e].first; j < spans[e].end && j < m->nfields; j++)
				if (depth[j] < 30)
					depth[j]++;
		}
	}
}

static void decode_one(struct decoder *dc, const char *msg, size_t len, size_t off)
{
	static uint8_t depth[MAX_FIELDS], first[MAX_FIELDS];
	struct rfx_msg m;
	struct dict *t, *a;
	struct rfx_dict_seam seam;
	const struct rfx_layout *lay = NULL;
	const struct rfx_field *mt;
	char type[32] = "";
	const char *tname = NULL;
	int rc;

	rfx_msg_init(&m, dc->fields, MAX_FIELDS);
	rc = rfx_codec_parse(&m, msg, len, NULL);
	if (rc < 0) {
		size_t at = 0;

		if (m.nfields) {
			const struct rfx_field *f = &m.fields[m.nfields - 1];
			at = (size_t)(f->p + f->len + 1 - msg);
		}
		printf("# error: message at offset %zu: %s at offset %zu (after %u fields)\n\n",
		       off, rfx_strerror(rc), off + at, m.nfields);
		dc->nbad++;
		return;
	}
	pick_dicts(dc, &m, &t, &a);
	mt = rfx_msg_hdr(&m, RFX_HDR_MSG_TYPE);
	if (mt && mt->len < sizeof(type)) {
		memcpy(type, mt->p, mt->len);
		type[mt->len] = '\0';
	}
	/* Admin messages of FIXT.1.1 are defined in the transport dictionary. */
	struct dict *md = t && t->d && rfx_dict_has_msg_type(t->d, type, (uint32_t)strlen(type))
				  ? t : a;
	if (md && md->d) {
		rfx_dict_seam(md->d, &seam);
		lay = seam.layout(seam.ctx, type, (uint32_t)strlen(type));
		rfx_msg_init(&m, dc->fields, MAX_FIELDS);
		rc = rfx_codec_parse(&m, msg, len, &seam);
		if (rc < 0) {
			/* Show the fields anyway, flat, after the group error. */
			printf("# error: message at offset %zu: %s (repeating groups per %s); "
			       "fields shown flat\n", off, rfx_strerror(rc), rfx_dict_version(md->d));
			dc->nbad++;
			lay = NULL;
			rfx_msg_init(&m, dc->fields, MAX_FIELDS);
			rfx_codec_parse(&m, msg, len, NULL);
		}
		tname = msg_desc(&md->names, type);
	}
	for (size_t i = 0; !tname && i < sizeof(builtin_msgs) / sizeof(builtin_msgs[0]); i++)
		if (strcmp(builtin_msgs[i].type, type) == 0)
			tname = builtin_msgs[i].name;
	printf("# message %u at offset %zu: %s %s, %u fields%s%s\n", dc->nmsgs + 1, off, type,
	       tname ? tname : "?", m.nfields, md && md->d ? ", dictionary " : "",
	       md && md->d ? rfx_dict_version(md->d) : "");
	group_depths(&m, lay, depth, first);
	print_fields(&m, depth, first, t, a);
	putchar('\n');
	dc->nmsgs++;
}

/* -------------------------------------------------------------- the input */

/* SOH-separated copy of the input with map[i] = offset of norm[i] in the input,
 * so errors name offsets in what the user gave us. */
static size_t normalize(const char *in, size_t len, char *norm, size_t *map)
{
	bool pipes = memchr(in, RFX_SOH, len) == NULL;
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '^' && i + 1 < len && in[i + 1] == 'A') {
			map[n] = i;
			norm[n++] = RFX_SOH;
			i++;
			continue;
		}
		if (pipes && c == '|')
			c = RFX_SOH;
		/* A pasted line often ends at "10=nnn" without its separator. */
		if ((c == '\n' || c == '\r') && n >= 7 && norm[n - 7] == RFX_SOH &&
		    memcmp(norm + n - 6, "10=", 3) == 0)
			c = RFX_SOH;
		map[n] = i;
		norm[n++] = c;
	}
	map[n] = len;
	return n;
}

/* Next "8=" at or after pos that can start a message: not the end of another
 * tag such as 58= or 108=. */
static size_t next_start(const char *b, size_t len, size_t pos)
{
	for (; pos + 1 < len; pos++) {
		if (b[pos] == '8' && b[pos + 1] == '=' &&
		    (pos == 0 || b[pos - 1] < '0' || b[pos - 1] > '9'))
			return pos;
	}
	return len;
}

static int decode_buffer(struct decoder *dc, const char *in, size_t len)
{
	struct rfx_frame_opts opts = {.max_size = 64u << 20, .check_checksum = true};
	char *norm = malloc(len + 1);
	size_t *map = malloc((len + 1) * sizeof(*map));
	size_t n, pos;

	if (!norm || !map) {
		free(norm);
		free(map);
		rfx_cli_err("decode", "out of memory for %zu bytes of input", len);
		return -ENOMEM;
	}
	n = normalize(in, len, norm, map);
	for (pos = next_start(norm, n, 0); pos < n; pos = next_start(norm, n, pos)) {
		size_t skip = 0;
		int rc = rfx_codec_frame(norm + pos, n - pos, &opts, &skip);

		if (rc > 0) {
			decode_one(dc, norm + pos, (size_t)rc, map[pos]);
			pos += (size_t)rc;
		} else if (rc == RFX_ECHECKSUM) {
			printf("# error: message at offset %zu: %s; decoded anyway\n", map[pos],
			       rfx_strerror(rc));
			dc->nbad++;
			decode_one(dc, norm + pos, skip, map[pos]);
			pos += skip;
		} else {
			printf("# error: message at offset %zu: %s%s\n\n", map[pos], rfx_strerror(rc),
			       rc == RFX_EPARTIAL ? " (input ends inside it: BodyLength too "
						    "large, or truncated)" : "");
			dc->nbad++;
			pos += 2; /* past this "8=", to the next candidate */
		}
	}
	free(norm);
	free(map);
	return 0;
}

static void decode_usage(FILE *f)
{
	fprintf(f,
		"usage: ringfix decode [--dict FILE.xml | --dict-dir DIR] [FILE]\n\n"
		"Prints FIX messages from FILE (or stdin) one field per line: tag, name,\n"
		"value and enum meaning. Separators: SOH, '|' or \"^A\"; log prefixes before\n"
		"8= are skipped; several messages per input.\n"
		"  --dict FILE.xml  a QuickFIX-format data dictionary for every message\n"
		"  --dict-dir DIR   pick DIR/FIX44.xml etc. by each message's BeginString\n"
		"                   (FIXT.1.1: FIXT11.xml plus the ApplVerID's, default\n"
		"                   FIX50SP2.xml)\n"
		"Without a dictionary only standard header and trailer fields are named.\n"
		"Exit status: 0 all messages decoded, 1 some were bad or the input is\n"
		"unreadable, 2 usage error or no message found.\n");
}

int rfx_cli_decode(int argc, char **argv)
{
	struct decoder dc;
	const char *dict = NULL, *file = NULL;
	char *in = NULL;
	size_t len;
	int rc, ret;

	memset(&dc, 0, sizeof(dc));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			decode_usage(stdout);
			return RFX_CLI_OK;
		} else if (strcmp(argv[i], "--dict") == 0 && i + 1 < argc) {
			dict = argv[++i];
		} else if (strcmp(argv[i], "--dict-dir") == 0 && i + 1 < argc) {
			dc.dict_dir = argv[++i];
		} else if ((argv[i][0] != '-' || strcmp(argv[i], "-") == 0) && !file) {
			file = argv[i];
		} else {
			rfx_cli_err("decode", "unexpected argument '%s' (see ringfix decode --help)",
				    argv[i]);
			return RFX_CLI_USAGE;
		}
	}
	if (dict && dc.dict_dir) {
		rfx_cli_err("decode", "give --dict or --dict-dir, not both");
		return RFX_CLI_USAGE;
	}
	rc = rfx_cli_read_all(file, &in, &len);
	if (rc < 0) {
		rfx_cli_err("decode", "%s: %s", file ? file : "stdin", strerror(-rc));
		return RFX_CLI_FAIL;
	}
	if (dict) {
		dc.fixed = dict_load(&dc, dict, "");
		if (!dc.fixed || !dc.fixed->d) {
			free(in);
			for (unsigned i = 0; i < dc.ndicts; i++)
				names_free(&dc.dicts[i].names);
			return RFX_CLI_FAIL;
		}
	}
	dc.fields = malloc(MAX_FIELDS * sizeof(*dc.fields));
	if (!dc.fields) {
		rfx_cli_err("decode", "out of memory");
		ret = RFX_CLI_FAIL;
		goto out;
	}
	if (decode_buffer(&dc, in, len) < 0) {
		ret = RFX_CLI_FAIL;
		goto out;
	}
	if (dc.nmsgs == 0 && dc.nbad == 0) {
		rfx_cli_err("decode", "%s: no FIX message found (nothing starts with 8=)",
			    file ? file : "stdin");
		ret = RFX_CLI_USAGE;
	} else {
		ret = dc.nbad ? RFX_CLI_FAIL : RFX_CLI_OK;
	}
out:
	for (unsigned i = 0; i < dc.ndicts; i++) {
		rfx_dict_free(dc.dicts[i].d);
		names_free(&dc.dicts[i].names);
	}
	free(dc.fields);
	free(in);
	return ret;
}
