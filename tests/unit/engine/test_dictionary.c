#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/codec.h"
#include "engine/dictionary.h"
#include "engine/error.h"
#include "guard.h"
#include "shared_data.h"

/* A small dictionary covering every construct: header group, components,
 * nested groups, enums, multi-value enums, user-defined fields. */
static const char mini_xml[] =
	"<fix type='FIX' major='4' minor='4' servicepack='0'>\n"
	" <header>\n"
	"  <field name='BeginString' required='Y'/>\n"
	"  <field name='BodyLength' required='Y'/>\n"
	"  <field name='MsgType' required='Y'/>\n"
	"  <field name='SenderCompID' required='Y'/>\n"
	"  <field name='TargetCompID' required='Y'/>\n"
	"  <field name='MsgSeqNum' required='Y'/>\n"
	"  <field name='SendingTime' required='Y'/>\n"
	"  <group name='NoHops' required='N'><field name='HopCompID' required='N'/></group>\n"
	" </header>\n"
	" <messages>\n"
	"  <message name='Heartbeat' msgtype='0' msgcat='admin'>\n"
	"   <field name='TestReqID' required='N'/>\n"
	"  </message>\n"
	"  <message name='NewOrderSingle' msgtype='D' msgcat='app'>\n"
	"   <field name='ClOrdID' required='Y'/>\n"
	"   <component name='Parties' required='N'/>\n"
	"   <field name='Side' required='Y'/>\n"
	"   <field name='Price' required='N'/>\n"
	"   <field name='ExecInst' required='N'/>\n"
	"   <field name='TransactTime' required='N'/>\n"
	"   <field name='Flag' required='N'/>\n"
	"   <field name='BlobLen' required='N'/>\n"
	"   <field name='Blob' required='N'/>\n"
	"   <component name='Instrument' required='Y'/>\n"
	"  </message>\n"
	" </messages>\n"
	" <trailer><field name='CheckSum' required='Y'/></trailer>\n"
	" <components>\n"
	"  <component name='Parties'>\n"
	"   <group name='NoPartyIDs' required='N'>\n"
	"    <field name='PartyID' required='Y'/>\n"
	"    <field name='PartyRole' required='Y'/>\n"
	"    <group name='NoPartySubIDs' required='N'>\n"
	"     <field name='PartySubID' required='N'/>\n"
	"     <field name='PartySubIDType' required='N'/>\n"
	"    </group>\n"
	"   </group>\n"
	"  </component>\n"
	"  <component name='Instrument'>\n"
	"   <field name='Symbol' required='Y'/>\n"
	"   <field name='SecurityID' required='N'/>\n"
	"  </component>\n"
	" </components>\n"
	" <fields>\n"
	"  <field number='8' name='BeginString' type='STRING'/>\n"
	"  <field number='9' name='BodyLength' type='LENGTH'/>\n"
	"  <field number='35' name='MsgType' type='STRING'>\n"
	"   <value enum='0' description='HEARTBEAT'/><value enum='D' description='ORDER'/>\n"
	"  </field>\n"
	"  <field number='49' name='SenderCompID' type='STRING'/>\n"
	"  <field number='56' name='TargetCompID' type='STRING'/>\n"
	"  <field number='34' name='MsgSeqNum' type='SEQNUM'/>\n"
	"  <field number='52' name='SendingTime' type='UTCTIMESTAMP'/>\n"
	"  <field number='627' name='NoHops' type='NUMINGROUP'/>\n"
	"  <field number='628' name='HopCompID' type='STRING'/>\n"
	"  <field number='10' name='CheckSum' type='STRING'/>\n"
	"  <field number='112' name='TestReqID' type='STRING'/>\n"
	"  <field number='11' name='ClOrdID' type='STRING'/>\n"
	"  <field number='54' name='Side' type='CHAR'>\n"
	"   <value enum='1' description='BUY'/><value enum='2' description='SELL'/>\n"
	"  </field>\n"
	"  <field number='44' name='Price' type='PRICE'/>\n"
	"  <field number='18' name='ExecInst' type='MULTIPLEVALUESTRING'>\n"
	"   <value enum='1' description='A'/><value enum='2' description='B'/>"
	"<value enum='G' description='C'/>\n"
	"  </field>\n"
	"  <field number='60' name='TransactTime' type='UTCTIMESTAMP'/>\n"
	"  <field number='5001' name='Flag' type='BOOLEAN'/>\n"
	"  <field number='453' name='NoPartyIDs' type='NUMINGROUP'/>\n"
	"  <field number='448' name='PartyID' type='STRING'/>\n"
	"  <field number='452' name='PartyRole' type='INT'/>\n"
	"  <field number='802' name='NoPartySubIDs' type='NUMINGROUP'/>\n"
	"  <field number='523' name='PartySubID' type='STRING'/>\n"
	"  <field number='803' name='PartySubIDType' type='INT'/>\n"
	"  <field number='55' name='Symbol' type='STRING'/>\n"
	"  <field number='48' name='SecurityID' type='STRING'/>\n"
	"  <field number='38' name='OrderQty' type='QTY'/>\n"
	"  <field number='9999' name='Odd' type='TENOR'/>\n"
	"  <field number='5101' name='BlobLen' type='LENGTH'/>\n"
	"  <field number='5102' name='Blob' type='DATA'/>\n"
	" </fields>\n"
	"</fix>\n";

static struct rfx_dict *load_text(const char *xml, int *rc, struct rfx_dict_error *err)
{
	struct guard g;
	struct rfx_dict *d = NULL;
	char *p = guard_place(&g, xml, strlen(xml));
	cr_assert_not_null(p);

	*rc = rfx_dict_load_buffer(p, strlen(xml), "t.xml", &d, err);
	guard_release(&g);
	return d;
}

static struct rfx_dict *mini(void)
{
	struct rfx_dict_error err;
	int rc;
	struct rfx_dict *d = load_text(mini_xml, &rc, &err);
	cr_assert_eq(rc, 0, "%s", err.text);
	return d;
}

Test(dictionary, mini_tables, .timeout = 10)
{
	struct rfx_dict *d = mini();

	cr_expect_str_eq(rfx_dict_version(d), "FIX.4.4");
	cr_expect_eq(rfx_dict_nfields(d), 29);
	cr_expect_eq(rfx_dict_nmessages(d), 2);
	cr_expect_eq(rfx_dict_ngroups(d), 3);
	cr_expect_eq(rfx_dict_field_type(d, 44), RFX_FT_PRICE);
	cr_expect_eq(rfx_dict_field_type(d, 9999), RFX_FT_UNKNOWN);
	cr_expect_str_eq(rfx_dict_field_name(d, 448), "PartyID");
	cr_expect_null(rfx_dict_field_name(d, 7));
	cr_expect_eq(rfx_dict_field_tag(d, "NoPartySubIDs"), 802);
	cr_expect_eq(rfx_dict_field_tag(d, "Nope"), 0);
	cr_expect(rfx_dict_field_value_ok(d, 54, "2", 1));
	cr_expect(!rfx_dict_field_value_ok(d, 54, "3", 1));
	cr_expect(rfx_dict_field_value_ok(d, 18, "1 G", 3));
	cr_expect(!rfx_dict_field_value_ok(d, 18, "1 X", 3));
	cr_expect(rfx_dict_field_value_ok(d, 11, "anything", 8));
	cr_expect(rfx_dict_has_msg_type(d, "D", 1));
	cr_expect(!rfx_dict_has_msg_type(d, "DD", 2));
	cr_expect(rfx_dict_is_msg_field(d, "D", 1, 453), "group count inlined from component");
	cr_expect(rfx_dict_is_msg_field(d, "D", 1, 55));
	cr_expect(!rfx_dict_is_msg_field(d, "D", 1, 448), "group member is not top level");
	cr_expect(!rfx_dict_is_msg_field(d, "0", 1, 11));
	cr_expect(rfx_dict_is_required(d, "D", 1, 11));
	cr_expect(rfx_dict_is_required(d, "D", 1, 55), "required field of required component");
	cr_expect(!rfx_dict_is_required(d, "D", 1, 453));
	cr_expect(rfx_dict_is_header_field(d, 627));
	cr_expect(rfx_dict_is_trailer_field(d, 10));
	cr_expect(!rfx_dict_is_header_field(d, 11));
	rfx_dict_free(d);
}

Test(dictionary, required_only_through_required_components, .timeout = 10)
{
	const char *xml =
		"<fix type='FIX' major='4' minor='2'><header/><trailer/><messages>"
		"<message name='M' msgtype='X'><component name='C' required='N'/></message>"
		"</messages><components><component name='C'>"
		"<field name='A' required='Y'/></component></components>"
		"<fields><field number='1' name='A' type='STRING'/></fields></fix>";
	struct rfx_dict_error err;
	int rc;
	struct rfx_dict *d = load_text(xml, &rc, &err);

	cr_assert_eq(rc, 0, "%s", err.text);
	cr_expect_str_eq(rfx_dict_version(d), "FIX.4.2");
	cr_expect(rfx_dict_is_msg_field(d, "X", 1, 1));
	cr_expect(!rfx_dict_is_required(d, "X", 1, 1));
	rfx_dict_free(d);
}

static void expect_load_error(const char *xml, unsigned line, const char *why)
{
	struct rfx_dict_error err;
	int rc;
	struct rfx_dict *d = load_text(xml, &rc, &err);

	cr_expect_eq(rc, RFX_EDICT, "rc %d for %s", rc, xml);
	cr_expect_null(d);
	cr_expect_eq(err.line, line, "line %u: %s", err.line, err.text);
	cr_expect(strstr(err.text, why) != NULL, "'%s' lacks '%s'", err.text, why);
	cr_expect(strncmp(err.text, "t.xml:", 6) == 0, "%s", err.text);
}

#define HDR "<fix type='FIX' major='4' minor='4'>\n<header/>\n<trailer/>\n"

Test(dictionary_errors, every_load_error_names_file_line_cause, .timeout = 10)
{
	expect_load_error("", 1, "XML:");
	expect_load_error("<fix type='FIX' major='4' minor='4'>\n<header>\n</fix>", 3, "XML: mismatched tag");
	expect_load_error("<dictionary/>", 1, "root must be <fix");
	expect_load_error("<fix type='FIX' major='4'/>", 1, "root must be <fix");
	expect_load_error(HDR "<messages>\n<message name='M' msgtype='X'>\n"
			  "<field name='Nope' required='Y'/>\n</message></messages><fields/></fix>",
			  6, "field 'Nope' is not defined in <fields>");
	expect_load_error(HDR "<messages>\n<message name='M' msgtype='X'>\n"
			  "<component name='Gone' required='Y'/>\n</message></messages></fix>",
			  6, "component 'Gone' is not defined");
	expect_load_error(HDR "<messages><message name='M' msgtype='X'>"
			  "<component name='A' required='Y'/></message></messages>\n<components>\n"
			  "<component name='A'>\n<component name='B' required='Y'/></component>\n"
			  "<component name='B'>\n<component name='A' required='Y'/></component>"
			  "</components></fix>", 9, "component 'A' includes itself");
	expect_load_error(HDR "<fields>\n<field number='1' name='A' type='STRING'/>\n"
			  "<field number='1' name='B' type='STRING'/>\n</fields></fix>", 6,
			  "field number 1 defined twice");
	expect_load_error(HDR "<fields>\n<field number='1' name='A' type='STRING'/>\n"
			  "<field number='2' name='A' type='STRING'/>\n</fields></fix>", 0,
			  "field name A defined twice");
	expect_load_error(HDR "<fields>\n<field number='x1' name='A' type='STRING'/>\n</fields></fix>",
			  5, "number 'x1' is not a tag");
	expect_load_error(HDR "<fields>\n<field number='1' name='A'/>\n</fields></fix>", 5,
			  "needs number, name and type");
	expect_load_error(HDR "<fields>\n<field number='1' name='A' type='CHAR'>\n<value/>\n"
			  "</field></fields></fix>", 6, "<value> without an enum");
	expect_load_error(HDR "<messages>\n<message name='M'/>\n</messages></fix>", 5,
			  "needs name and msgtype");
	expect_load_error(HDR "<messages>\n<message name='M' msgtype='X'/>\n"
			  "<message name='N' msgtype='X'/>\n</messages></fix>", 0,
			  "MsgType X defined twice");
	expect_load_error(HDR "<components>\n<component name='C'/>\n<component name='C'/>\n"
			  "</components></fix>", 6, "component C defined twice");
	expect_load_error(HDR "<messages>\n<message name='M' msgtype='X'>\n"
			  "<group name='NoA' required='N'/>\n</message></messages><fields>"
			  "<field number='1' name='NoA' type='NUMINGROUP'/></fields></fix>", 6,
			  "group 'NoA' has no fields");
	expect_load_error("<fix type='FIX' major='4' minor='4'><header/></fix>", 0,
			  "missing <header> or <trailer>");
	expect_load_error(HDR "<messages>\n<message name='M' msgtype='X'>\n<field required='Y'/>\n"
			  "</message></messages></fix>", 6, "reference without a name");
}

Test(dictionary_errors, load_missing_file, .timeout = 10)
{
	struct rfx_dict *d;
	struct rfx_dict_error err;

	cr_expect_eq(rfx_dict_load("/nonexistent/FIX44.xml", &d, &err), -ENOENT);
	cr_expect_null(d);
	cr_expect(strstr(err.text, "/nonexistent/FIX44.xml: cannot open") != NULL, "%s", err.text);
}

static const struct {
	const char *file, *version;
	unsigned min_fields, min_msgs;
} specs[] = {
	{ "FIX42.xml", "FIX.4.2", 400, 40 },
	{ "FIX44.xml", "FIX.4.4", 900, 90 },
	{ "FIXT11.xml", "FIXT.1.1", 50, 7 },
	{ "FIX50SP2.xml", "FIX.5.0SP2", 1000, 90 },
};

Test(dictionary, conformance_specs_load, .timeout = 60)
{
	const char *shared = shared_dir();
	char path[2200];

	if (!shared)
		cr_skip_test("../shared not present (conformance dictionaries)");
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct rfx_dict *d;
		struct rfx_dict_error err;
		snprintf(path, sizeof(path), "%s/conformance/spec/%s", shared, specs[i].file);
		cr_assert_eq(rfx_dict_load(path, &d, &err), 0, "%s", err.text);
		cr_expect_str_eq(rfx_dict_version(d), specs[i].version);
		cr_expect_geq(rfx_dict_nfields(d), specs[i].min_fields, "%s", specs[i].file);
		cr_expect_geq(rfx_dict_nmessages(d), specs[i].min_msgs, "%s: %u", specs[i].file,
			      rfx_dict_nmessages(d));
		rfx_dict_free(d);
	}
}

/* ---- validation ---- */

struct vt {
	char buf[1024];
	struct rfx_field fields[128];
	struct rfx_msg m;
};

/* '|' stands for SOH. */
static int parse_msg(struct vt *t, const char *text, const struct rfx_dict_seam *seam)
{
	size_t n = strlen(text);
	cr_assert_lt(n, sizeof(t->buf));
	for (size_t i = 0; i < n; i++)
		t->buf[i] = text[i] == '|' ? '\001' : text[i];
	rfx_msg_init(&t->m, t->fields, 128);
	return rfx_codec_parse(&t->m, t->buf, n, seam);
}

static int check(struct rfx_validator *v, const char *text, struct rfx_reject *rej)
{
	struct vt t;
	int rc = parse_msg(&t, text, NULL);
	cr_assert_geq(rc, 0, "codec rc %d for %s", rc, text);
	memset(rej, 0, sizeof(*rej));
	return rfx_validator_check(v, &t.m, rej);
}

#define H "8=FIX.4.4|9=10|35=D|34=2|49=A|52=20240102-10:11:12.123|56=B|"
#define T "10=000|"
#define ORDER H "11=X|54=1|55=IBM|"

static void expect_ok(struct rfx_validator *v, const char *text)
{
	struct rfx_reject rej;
	int rc = check(v, text, &rej);
	cr_expect_eq(rc, 0, "%s: reason %d tag %u (%s)", text, rej.reason, rej.ref_tag,
		     rej.text ? rej.text : "");
}

static void expect_reject(struct rfx_validator *v, const char *text, int reason, uint32_t tag)
{
	struct rfx_reject rej;
	int rc = check(v, text, &rej);
	cr_expect_eq(rc, RFX_EREJECT, "%s: rc %d", text, rc);
	cr_expect_eq(rej.reason, reason, "%s: reason %d (%s), want %d", text, rej.reason,
		     rej.text ? rej.text : "", reason);
	cr_expect_eq(rej.ref_tag, tag, "%s: tag %u, want %u", text, rej.ref_tag, tag);
	cr_expect_str_eq(rej.text, rfx_reject_text(reason));
}

static struct rfx_validator *validator(struct rfx_dict *d, unsigned flags)
{
	struct rfx_validator *v;
	cr_assert_eq(rfx_validator_new(d, d, flags, &v), 0);
	return v;
}

Test(validate, valid_messages_pass, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_ok(v, ORDER T);
	expect_ok(v, H "11=X|453=2|448=P1|452=1|448=P2|452=3|802=1|523=S|803=2|54=1|55=IBM|44=1.5|"
		  "18=1 G|60=20240102-10:11:12|5001=Y|" T);
	expect_ok(v, "8=FIX.4.4|9=10|35=0|34=2|49=A|52=20240102-10:11:12|56=B|627=1|628=H|112=t|" T);
	/* Field order inside the body is free (FIX test 15). */
	expect_ok(v, H "55=IBM|54=2|11=X|" T);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, reason_texts_are_quickfix_texts, .timeout = 10)
{
	cr_expect_str_eq(rfx_reject_text(0), "Invalid tag number");
	cr_expect_str_eq(rfx_reject_text(1), "Required tag missing");
	cr_expect_str_eq(rfx_reject_text(2), "Tag not defined for this message type");
	cr_expect_str_eq(rfx_reject_text(4), "Tag specified without a value");
	cr_expect_str_eq(rfx_reject_text(5), "Value is incorrect (out of range) for this tag");
	cr_expect_str_eq(rfx_reject_text(6), "Incorrect data format for value");
	cr_expect_str_eq(rfx_reject_text(11), "Invalid MsgType");
	cr_expect_str_eq(rfx_reject_text(13), "Tag appears more than once");
	cr_expect_str_eq(rfx_reject_text(14), "Tag specified out of required order");
	cr_expect_str_eq(rfx_reject_text(16), "Incorrect NumInGroup count for repeating group");
}

Test(validate, out_of_order_14, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_reject(v, "8=FIX.4.4|9=10|35=D|11=X|54=1|55=IBM|34=2|49=A|52=20240102-10:11:12|56=B|"
		      T, 14, 34);
	expect_reject(v, ORDER "10=000|44=1|", 14, 44);
	rfx_validator_free(v);
	v = validator(d, RFX_VALIDATE_DEFAULT & ~RFX_VALIDATE_FIELDS_OUT_OF_ORDER);
	expect_ok(v, "8=FIX.4.4|9=10|35=D|11=X|54=1|55=IBM|34=2|49=A|52=20240102-10:11:12|56=B|" T);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, invalid_msg_type_11, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_reject(v, "8=FIX.4.4|9=10|35=Z|34=2|49=A|52=20240102-10:11:12|56=B|" T, 11, 0);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, required_missing_1, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_reject(v, H "54=1|55=IBM|" T, 1, 11);
	expect_reject(v, H "11=X|54=1|" T, 1, 55); /* required field of a required component */
	expect_reject(v, "8=FIX.4.4|9=10|35=D|34=2|52=20240102-10:11:12|11=X|54=1|55=IBM|" T, 1, 49);
	expect_reject(v, ORDER, 1, 10);
	expect_reject(v, H "11=X|453=1|448=P|54=1|55=IBM|" T, 1, 452); /* in a group entry */
	/* Lowest tag first, as QuickFIX: 11 before 54 and 55. */
	expect_reject(v, H T, 1, 11);
	/* Required beats a per-field error found earlier on the wire. */
	expect_reject(v, H "44=abc|54=1|55=IBM|" T, 1, 11);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, repeated_tag_13, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_reject(v, ORDER "54=2|" T, 13, 54);
	expect_reject(v, "8=FIX.4.4|9=10|35=D|34=2|49=A|49=A|52=20240102-10:11:12|56=B|11=X|54=1|"
		      "55=IBM|" T, 13, 49);
	/* The same tag in two group entries is not a repeat. */
	expect_ok(v, H "11=X|453=2|448=P1|452=1|448=P2|452=3|54=1|55=IBM|" T);
	expect_reject(v, H "11=X|453=1|448=P1|452=1|452=3|54=1|55=IBM|" T, 13, 452);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, without_value_4, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_reject(v, ORDER "44=|" T, 4, 44);
	expect_reject(v, "8=FIX.4.4|9=10|35=D|34=2|49=A|52=20240102-10:11:12|56=|11=X|54=1|55=IBM|"
		      T, 4, 56);
	rfx_validator_free(v);
	v = validator(d, RFX_VALIDATE_DEFAULT & ~RFX_VALIDATE_FIELDS_HAVE_VALUES);
	expect_ok(v, ORDER "44=|" T);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, data_format_6, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_reject(v, ORDER "44=abc|" T, 6, 44);
	expect_reject(v, ORDER "44=+1|" T, 6, 44);
	expect_reject(v, ORDER "44=.|" T, 6, 44);
	expect_ok(v, ORDER "44=-1.|" T);
	expect_ok(v, ORDER "44=.5|" T);
	expect_reject(v, ORDER "60=20241302-10:11:12|" T, 6, 60);
	expect_reject(v, ORDER "60=20240102-24:11:12|" T, 6, 60);
	expect_reject(v, ORDER "60=20240102 10:11:12|" T, 6, 60);
	expect_ok(v, ORDER "60=20240102-10:11:12.123456789|" T);
	expect_reject(v, ORDER "5001=y|" T, 6, 5001);
	expect_reject(v, H "11=X|453=1|448=P|452=x|54=1|55=IBM|" T, 6, 452);
	expect_reject(v, "8=FIX.4.4|9=10|35=D|34=2x|49=A|52=20240102-10:11:12|56=B|11=X|54=1|55=I|"
		      T, 6, 34);
	expect_reject(v, ORDER "54=12|" T, 13, 54); /* repeat found before format */
	expect_reject(v, H "11=X|54=12|55=IBM|" T, 6, 54); /* CHAR is one byte */
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, enum_value_5, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_reject(v, H "11=X|54=9|55=IBM|" T, 5, 54);
	expect_reject(v, ORDER "18=1 X|" T, 5, 18);
	expect_ok(v, ORDER "18=G 2 1|" T);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, unknown_tag_0_and_switches, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_reject(v, ORDER "999=x|" T, 0, 999);
	expect_reject(v, ORDER "5000=x|" T, 0, 5000);
	rfx_validator_free(v);
	v = validator(d, RFX_VALIDATE_DEFAULT & ~RFX_VALIDATE_USER_DEFINED_FIELDS);
	expect_ok(v, ORDER "5000=x|" T);
	expect_reject(v, ORDER "999=x|" T, 0, 999);
	rfx_validator_free(v);
	v = validator(d, RFX_VALIDATE_DEFAULT | RFX_ALLOW_UNKNOWN_MSG_FIELDS);
	expect_ok(v, ORDER "999=x|" T);
	expect_ok(v, ORDER "112=x|" T);
	expect_reject(v, ORDER "5000=x|" T, 0, 5000);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, not_in_message_2, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_reject(v, ORDER "112=x|" T, 2, 112);
	expect_reject(v, ORDER "38=100|" T, 2, 38);
	/* A group member outside its group. */
	expect_reject(v, ORDER "448=P|" T, 2, 448);
	expect_reject(v, "8=FIX.4.4|9=10|35=0|34=2|49=A|52=20240102-10:11:12|56=B|55=MSFT|" T, 2, 55);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, group_count_16, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	expect_reject(v, H "11=X|453=2|448=P|452=1|54=1|55=IBM|" T, 16, 453);
	expect_reject(v, H "11=X|453=1|448=P|452=1|448=Q|452=1|54=1|55=IBM|" T, 16, 453);
	expect_reject(v, H "11=X|453=1|448=P|452=1|802=2|523=S|54=1|55=IBM|" T, 16, 802);
	expect_reject(v, "8=FIX.4.4|9=10|35=0|34=2|49=A|52=20240102-10:11:12|56=B|627=2|628=H|" T,
		      16, 627);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

/* Reason 15, "Repeating group fields out of order" (FIX; QuickFIX/J sends it
 * for both cases): an entry that does not start with the group's delimiter
 * (always), and members out of the dictionary's order within an entry (with
 * ValidateFieldsOutOfOrder=Y). RefTagID is the misplaced member. A tag given
 * twice in one entry stays reason 13. */
Test(validate, group_order_15, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);
	struct rfx_validator *lax =
		validator(d, RFX_VALIDATE_DEFAULT & ~RFX_VALIDATE_FIELDS_OUT_OF_ORDER);

	expect_reject(v, H "11=X|453=1|452=1|448=P|54=1|55=IBM|" T, 15, 452);
	expect_reject(lax, H "11=X|453=1|452=1|448=P|54=1|55=IBM|" T, 15, 452);
	/* PartyRole (452) comes before NoPartySubIDs (802) in the dictionary. */
	expect_ok(v, H "11=X|453=1|448=P|452=1|802=1|523=S|54=1|55=IBM|" T);
	expect_reject(v, H "11=X|453=1|448=P|802=1|523=S|452=1|54=1|55=IBM|" T, 15, 452);
	expect_reject(v, H "11=X|453=2|448=P|452=1|448=Q|802=1|523=S|452=1|54=1|55=IBM|" T, 15,
		      452);
	expect_ok(lax, H "11=X|453=1|448=P|802=1|523=S|452=1|54=1|55=IBM|" T);
	/* Nested: the sub-group's own order. */
	expect_reject(v, H "11=X|453=1|448=P|452=1|802=1|803=2|523=S|54=1|55=IBM|" T, 15, 803);
	/* Outranks a required field missing and a per-field error. */
	expect_reject(v, H "11=X|453=1|452=1|448=P|54=x|" T, 15, 452);
	/* A repeat inside one entry is still 13. */
	expect_reject(v, H "11=X|453=1|448=P1|452=1|452=3|54=1|55=IBM|" T, 13, 452);
	rfx_validator_free(lax);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

/* QuickFIX checks a field map's own fields, group counts among them, before
 * the fields inside its groups (FIX50SP2 acceptance case 14i). */
Test(validate, group_contents_rank_below_their_level, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);

	/* Wrong count (16) beats a bad value inside the entry (6). */
	expect_reject(v, H "11=X|453=2|448=P|452=x|54=1|55=IBM|" T, 16, 453);
	/* A bad value after the group, at the message level, beats it too. */
	expect_reject(v, H "11=X|453=1|448=P|452=x|54=Z|55=IBM|" T, 5, 54);
	/* Alone, the entry's error is reported. */
	expect_reject(v, H "11=X|453=1|448=P|452=x|54=1|55=IBM|" T, 6, 452);
	/* Nested: the inner count (16 on 802) beats an error in the inner entry. */
	expect_reject(v, H "11=X|453=1|448=P|452=1|802=2|523=S|803=x|54=1|55=IBM|" T, 16, 802);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

long noalloc_count(void); /* test_noalloc.c: the wrapped allocator's counter */

Test(validate, many_messages_reuse_scratch_without_allocating, .timeout = 20)
{
	struct rfx_dict *d = mini();
	struct rfx_validator *v = validator(d, RFX_VALIDATE_DEFAULT);
	struct vt ok, bad;
	struct rfx_reject rej;
	long before, failures = 0;

	cr_assert_gt(parse_msg(&ok, H "11=X|453=2|448=P1|452=1|448=P2|452=3|54=1|55=IBM|" T, NULL),
		     0);
	cr_assert_gt(parse_msg(&bad, ORDER "54=2|" T, NULL), 0);
	before = noalloc_count();
	for (int i = 0; i < 20000; i++) {
		failures += rfx_validator_check(v, &ok.m, &rej) != 0;
		if (i % 100 == 0)
			failures += rfx_validator_check(v, &bad.m, &rej) != RFX_EREJECT ||
				    rej.reason != 13;
	}
	cr_expect_eq(noalloc_count(), before, "validation allocated");
	cr_expect_eq(failures, 0);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, codec_seam_walks_groups, .timeout = 10)
{
	struct rfx_dict *d = mini();
	struct rfx_dict_seam seam;
	struct rfx_group_span spans[4];
	struct vt t;
	int rc, idx;
	const char *msg = H "11=X|453=2|448=P1|452=1|802=1|523=S|448=P2|452=3|54=1|55=IBM|" T;

	rfx_dict_seam(d, &seam);
	rc = parse_msg(&t, msg, &seam);
	cr_assert_gt(rc, 0, "rc %d", rc);
	idx = rfx_msg_find(&t.m, 453, 0);
	cr_assert_geq(idx, 0);
	rc = rfx_msg_group(&t.m, seam.layout(seam.ctx, "D", 1), (uint32_t)idx, spans, 4);
	cr_assert_eq(rc, 2, "rc %d", rc);
	cr_expect_eq(t.m.fields[spans[0].first].tag, 448);
	cr_expect_eq(spans[0].end - spans[0].first, 4, "entry 1 holds the nested group");
	cr_expect_eq(spans[1].end - spans[1].first, 2);
	/* The seam makes the codec reject a miscounted group too. */
	cr_expect_eq(parse_msg(&t, H "11=X|453=3|448=P1|452=1|54=1|55=IBM|" T, &seam), RFX_EGROUP);
	cr_expect_null(seam.layout(seam.ctx, "Q", 1));
	/* A custom LENGTH/DATA pair from the dictionary: the data may hold SOH. */
	rc = parse_msg(&t, ORDER "5101=3|5102=a\001b|" T, &seam);
	cr_assert_gt(rc, 0, "rc %d", rc);
	idx = rfx_msg_find(&t.m, 5102, 0);
	cr_assert_geq(idx, 0);
	cr_expect_eq(t.m.fields[idx].len, 3);
	cr_expect_lt(parse_msg(&t, ORDER "5101=3|5102=a\001b|" T, NULL), 0,
		     "without the seam the SOH splits the value");
	rfx_dict_free(d);
}

/* The acceptance-suite messages against the real FIX44 dictionary. */
Test(validate, fix44_acceptance_cases, .timeout = 30)
{
	const char *shared = shared_dir();
	char path[2200];
	struct rfx_dict *d;
	struct rfx_dict_error err;
	struct rfx_validator *v;

	if (!shared)
		cr_skip_test("../shared not present (conformance dictionaries)");
	snprintf(path, sizeof(path), "%s/conformance/spec/FIX44.xml", shared);
	cr_assert_eq(rfx_dict_load(path, &d, &err), 0, "%s", err.text);
	v = validator(d, RFX_VALIDATE_DEFAULT);
#define X44 "8=FIX.4.4|9=10|35=D|34=2|49=TW44|52=20240102-10:11:12|56=ISLD|"
	/* 14a */
	expect_reject(v, "8=FIX.4.4|9=1|35=0|34=2|49=TW44|52=20240102-10:11:12|56=ISLD|999=HI|" T,
		      0, 999);
	expect_reject(v, "8=FIX.4.4|9=1|35=0|34=2|49=TW44|52=20240102-10:11:12|56=ISLD|5000=HI|" T,
		      0, 5000);
	/* 14b */
	expect_reject(v, "8=FIX.4.4|9=1|35=0|34=2|49=TW44|52=20240102-10:11:12|" T, 1, 56);
	expect_reject(v, "8=FIX.4.4|9=1|35=D|49=TW44|34=3|56=ISLD|52=20240102-10:11:12|40=1|"
		      "60=20240102-10:11:12|54=1|21=3|" T, 1, 11);
	/* 14c */
	expect_reject(v, "8=FIX.4.4|9=1|35=0|34=2|49=TW44|52=20240102-10:11:12|56=ISLD|55=MSFT|" T,
		      2, 55);
	/* 14d */
	expect_reject(v, "8=FIX.4.4|9=1|35=0|34=2|49=TW44|52=20240102-10:11:12|56=|" T, 4, 56);
	/* 14e */
	expect_reject(v, X44 "11=ID|21=4|40=1|54=1|38=002000.00|55=INTC|60=20240102-10:11:12|" T,
		      5, 21);
	expect_reject(v, X44 "11=ID|21=1|40=1|54=1|38=002000.00|55=INTC|60=20240102-10:11:12|"
		      "167=BOO|" T, 5, 167);
	expect_ok(v, X44 "11=ID|21=1|40=1|54=1|38=002000.00|55=INTC|60=20240102-10:11:12|167=CS|" T);
	/* 14f */
	expect_reject(v, X44 "11=ID|21=1|40=1|54=1|38=+200.00|55=INTC|60=20240102-10:11:12|" T,
		      6, 38);
	/* 14g */
	expect_reject(v, "8=FIX.4.4|9=1|35=D|11=id|21=3|40=1|54=1|55=MSFT|60=20240102-10:11:12|"
		      "34=2|49=TW44|52=20240102-10:11:12|56=ISLD|" T, 14, 34);
	/* 14h */
	expect_reject(v, X44 "11=ID|21=1|40=1|40=2|54=1|38=200.00|55=INTC|60=20240102-10:11:12|" T,
		      13, 40);
	/* 14i */
	expect_reject(v, X44 "11=ID|21=1|40=1|54=1|38=200.00|55=INTC|386=3|336=PRE-OPEN|"
		      "336=AFTER-HOURS|60=20240102-10:11:12|" T, 16, 386);
	/* 15 */
	expect_ok(v, "8=FIX.4.4|9=1|35=D|49=TW44|34=3|56=ISLD|52=20240102-10:11:12|40=1|55=MSFT|"
		  "60=20240102-10:11:12|54=1|21=3|11=id|" T);
	rfx_validator_free(v);
	rfx_dict_free(d);
}

Test(validate, fixt_transport_and_app_dictionaries, .timeout = 60)
{
	const char *shared = shared_dir();
	char path[2200];
	struct rfx_dict *t, *a;
	struct rfx_dict_error err;
	struct rfx_validator *v;

	if (!shared)
		cr_skip_test("../shared not present (conformance dictionaries)");
	snprintf(path, sizeof(path), "%s/conformance/spec/FIXT11.xml", shared);
	cr_assert_eq(rfx_dict_load(path, &t, &err), 0, "%s", err.text);
	snprintf(path, sizeof(path), "%s/conformance/spec/FIX50SP2.xml", shared);
	cr_assert_eq(rfx_dict_load(path, &a, &err), 0, "%s", err.text);
	cr_assert_eq(rfx_validator_new(t, a, RFX_VALIDATE_DEFAULT, &v), 0);
	expect_ok(v, "8=FIXT.1.1|9=1|35=0|34=2|49=TW|52=20240102-10:11:12|56=ISLD|" T);
	expect_ok(v, "8=FIXT.1.1|9=1|35=D|34=2|49=TW|52=20240102-10:11:12|56=ISLD|11=ID|40=1|54=1|"
		  "55=INTC|60=20240102-10:11:12|38=5|" T);
	expect_reject(v, "8=FIXT.1.1|9=1|35=D|34=2|49=TW|52=20240102-10:11:12|56=ISLD|40=1|54=1|"
		      "55=INTC|60=20240102-10:11:12|" T, 1, 11);
	/* fix50sp2 14c: admin messages validate against the transport dictionary. */
	expect_reject(v, "8=FIXT.1.1|9=1|35=0|34=2|49=TW|52=20240102-10:11:12|56=ISLD|58=Text|" T, 2,
		      58);
	/* Symbol is not even defined in FIXT11.xml: QuickFIX says invalid tag. */
	expect_reject(v, "8=FIXT.1.1|9=1|35=0|34=2|49=TW|52=20240102-10:11:12|56=ISLD|55=X|" T, 0, 55);
	rfx_validator_free(v);
	rfx_dict_free(a);
	rfx_dict_free(t);
}

/*
 * QuickFIX's acceptance definitions (../shared/conformance/definitions/server):
 * every message the suite sends that QuickFIX answers with a Reject for a
 * dictionary reason (373 = 0, 1, 2, 4, 5, 6, 13, 14, 16 with a RefTagID, or 11)
 * must get the same reason and RefTagID here; every NewOrderSingle,
 * SecurityDefinition or Email it echoes must pass.
 */
#include <dirent.h>

static bool dict_reason(int r)
{
	return r == 0 || r == 1 || r == 2 || r == 4 || r == 5 || r == 6 || r == 11 || r == 13 ||
	       r == 14 || r == 16;
}

/* Value of tag in an SOH-separated line, or NULL; *len receives its length. */
static const char *def_field(const char *line, const char *tag, size_t *len)
{
	size_t tl = strlen(tag);
	for (const char *p = line; *p;) {
		const char *e = strchr(p, '\001');
		size_t fl = e ? (size_t)(e - p) : strlen(p);
		if (fl > tl && memcmp(p, tag, tl) == 0 && p[tl] == '=') {
			*len = fl - tl - 1;
			return p + tl + 1;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return NULL;
}

/* Copies an I line's message with <TIME...> replaced by a fixed valid time and,
 * as the suite's runner does, BodyLength(9) and CheckSum(10) added when left out
 * (their values do not matter here: the framer checks them, not validation). */
static size_t def_message(const char *src, char *out, size_t cap)
{
	size_t n = 0;
	bool has9 = strstr(src, "\0019=") != NULL, has10 = strstr(src, "\00110=") != NULL;
	while (*src && *src != '\n' && n + 32 < cap) {
		if (!has9 && n > 2 && out[n - 1] == '\001' && memcmp(out, "8=", 2) == 0) {
			n += (size_t)snprintf(out + n, cap - n, "9=0\001");
			has9 = true;
		}
		if (*src == '<') {
			const char *e = strchr(src, '>');
			if (e) {
				n += (size_t)snprintf(out + n, cap - n, "20240102-10:11:12");
				src = e + 1;
				continue;
			}
		}
		out[n++] = *src++;
	}
	if (n && out[n - 1] != '\001')
		out[n++] = '\001';
	if (!has10)
		n += (size_t)snprintf(out + n, cap - n, "10=000\001");
	return n;
}

struct def_stats {
	unsigned rejects, echoes, mismatches;
};

static void run_def_file(const char *path, struct rfx_validator *v, struct def_stats *st)
{
	FILE *f = fopen(path, "r");
	static char lines[512][2048];
	unsigned nl = 0;

	cr_assert_not_null(f, "%s", path);
	while (nl < 512 && fgets(lines[nl], sizeof(lines[nl]), f))
		nl++;
	fclose(f);
	for (unsigned i = 0; i < nl; i++) {
		const char *l = lines[i], *mt, *emt, *r373, *r371;
		size_t mtl, emtl, l373, l371;
		struct rfx_field fields[256];
		struct rfx_msg m;
		struct rfx_reject rej;
		char msg[2048];
		unsigned j;
		size_t n;
		int rc;

		if (l[0] != 'I')
			continue;
		l++;
		if (l[0] >= '0' && l[0] <= '9' && l[1] == ',')
			l += 2;
		for (j = i + 1; j < nl && lines[j][0] != 'E' && lines[j][0] != 'I'; j++)
			;
		if (j == nl || lines[j][0] != 'E')
			continue;
		const char *e = lines[j] + 1;
		if (e[0] >= '0' && e[0] <= '9' && e[1] == ',')
			e += 2;
		n = def_message(l, msg, sizeof(msg));
		rfx_msg_init(&m, fields, 256);
		if (rfx_codec_parse(&m, msg, n, NULL) < 0)
			continue; /* garbled on purpose: the framer's business */
		mt = def_field(l, "35", &mtl);
		emt = def_field(e, "35", &emtl);
		if (!mt || !emt)
			continue;
		r373 = def_field(e, "373", &l373);
		r371 = def_field(e, "371", &l371);
		rc = rfx_validator_check(v, &m, &rej);
		/* OrigSendingTime missing on a PossDup message (FIX test 2g) is the
		 * session layer's rule, not the dictionary's. */
		if (r371 && l371 == 3 && memcmp(r371, "122", 3) == 0)
			continue;
		if (emtl == 1 && emt[0] == '3' && r373 && dict_reason(atoi(r373)) &&
		    (r371 || atoi(r373) == 11)) {
			int want = atoi(r373);
			unsigned want_tag = r371 ? (unsigned)atoi(r371) : 0;
			st->rejects++;
			if (rc != RFX_EREJECT || rej.reason != want || rej.ref_tag != want_tag) {
				st->mismatches++;
				cr_log_error("%s line %u: want 373=%d 371=%u, got rc %d 373=%d 371=%u",
					     path, i + 1, want, want_tag, rc, rej.reason, rej.ref_tag);
			}
		} else if (mtl == 1 && emtl == 1 && mt[0] == emt[0] &&
			   (mt[0] == 'D' || mt[0] == 'd' || mt[0] == 'C')) {
			st->echoes++;
			if (rc != 0) {
				st->mismatches++;
				cr_log_error("%s line %u: QuickFIX accepts it, we reject 373=%d 371=%u",
					     path, i + 1, rej.reason, rej.ref_tag);
			}
		}
	}
}

Test(validate, quickfix_acceptance_definitions, .timeout = 60)
{
	static const struct {
		const char *dir, *transport, *app;
	} versions[] = {
		{ "fix42", "FIX42.xml", NULL },
		{ "fix44", "FIX44.xml", NULL },
		{ "fix50sp2", "FIXT11.xml", "FIX50SP2.xml" },
	};
	const char *shared = shared_dir();
	struct def_stats st = {0};

	if (!shared)
		cr_skip_test("../shared not present (acceptance definitions)");
	for (size_t k = 0; k < sizeof(versions) / sizeof(versions[0]); k++) {
		char path[2300];
		struct rfx_dict *t, *a = NULL;
		struct rfx_dict_error err;
		struct rfx_validator *v;
		struct dirent *de;
		DIR *dir;

		snprintf(path, sizeof(path), "%s/conformance/spec/%s", shared, versions[k].transport);
		cr_assert_eq(rfx_dict_load(path, &t, &err), 0, "%s", err.text);
		if (versions[k].app) {
			snprintf(path, sizeof(path), "%s/conformance/spec/%s", shared, versions[k].app);
			cr_assert_eq(rfx_dict_load(path, &a, &err), 0, "%s", err.text);
		}
		cr_assert_eq(rfx_validator_new(t, a ? a : t, RFX_VALIDATE_DEFAULT, &v), 0);
		snprintf(path, sizeof(path), "%s/conformance/definitions/server/%s", shared,
			 versions[k].dir);
		dir = opendir(path);
		cr_assert_not_null(dir, "%s", path);
		while ((de = readdir(dir))) {
			char file[2600];
			size_t dl = strlen(de->d_name);
			if (dl < 5 || strcmp(de->d_name + dl - 4, ".def") != 0)
				continue;
			snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
			run_def_file(file, v, &st);
		}
		closedir(dir);
		rfx_validator_free(v);
		rfx_dict_free(a);
		rfx_dict_free(t);
	}
	cr_log_info("acceptance definitions: %u dictionary rejects, %u echoes checked", st.rejects,
		    st.echoes);
	cr_expect_gt(st.rejects, 20);
	cr_expect_gt(st.echoes, 20);
	cr_expect_eq(st.mismatches, 0, "%u of %u differ from QuickFIX", st.mismatches,
		     st.rejects + st.echoes);
}

/* Mutated dictionaries (RFX_TEST_MUTATIONS / 4, default 800; fixed seed) load or
 * fail with an error; a loaded one validates a message without crashing. */
Test(dictionary_errors, mutations_fail_cleanly, .timeout = 60)
{
	static const char tokens[] = "<>/='\"NY 0123456789gcfm";
	const char *env = getenv("RFX_TEST_MUTATIONS");
	long n = env ? atol(env) / 4 : 800;
	uint64_t x = 0x2545f4914f6cdd1dull;
	static char buf[sizeof(mini_xml)];
	unsigned loaded = 0;

	for (long it = 0; it < n; it++) {
		size_t len = sizeof(mini_xml) - 1;
		struct rfx_dict_error err;
		struct rfx_dict *d;
		struct guard g;
		int rc;

		memcpy(buf, mini_xml, len);
		for (int k = 0, edits = 1 + (int)(x % 3); k < edits && len > 0; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			size_t pos = (size_t)(x >> 8) % len;
			if (x % 5 == 0)
				len = pos;
			else
				buf[pos] = tokens[(x >> 32) % (sizeof(tokens) - 1)];
		}
		char *p = guard_place(&g, buf, len);
		cr_assert_not_null(p);
		rc = rfx_dict_load_buffer(p, len, "t.xml", &d, &err);
		guard_release(&g);
		cr_assert(rc == 0 || rc == RFX_EDICT, "rc %d", rc);
		if (rc < 0) {
			cr_assert(err.text[0], "no error text");
			continue;
		}
		loaded++;
		struct rfx_validator *v;
		struct rfx_reject rej;
		struct vt t;
		cr_assert_eq(rfx_validator_new(d, d, RFX_VALIDATE_DEFAULT, &v), 0);
		cr_assert_geq(parse_msg(&t, H "11=X|453=2|448=P1|452=1|802=1|523=S|448=P2|452=3|54=1|"
				       "55=IBM|" T, NULL), 0);
		(void)rfx_validator_check(v, &t.m, &rej);
		rfx_validator_free(v);
		rfx_dict_free(d);
	}
	cr_log_info("%u of %ld mutated dictionaries loaded", loaded, n);
}

/* ---- FIXT.1.1: application dictionaries by ApplVerID(1128) ---- */

static const char fixt_xml[] =
	"<fix type='FIXT' major='1' minor='1' servicepack='0'>\n"
	" <header>\n"
	"  <field name='BeginString' required='Y'/><field name='BodyLength' required='Y'/>\n"
	"  <field name='MsgType' required='Y'/><field name='SenderCompID' required='Y'/>\n"
	"  <field name='TargetCompID' required='Y'/><field name='MsgSeqNum' required='Y'/>\n"
	"  <field name='SendingTime' required='Y'/><field name='ApplVerID' required='N'/>\n"
	" </header>\n"
	" <messages>\n"
	"  <message name='Heartbeat' msgtype='0' msgcat='admin'>\n"
	"   <field name='TestReqID' required='N'/>\n"
	"  </message>\n"
	" </messages>\n"
	" <trailer><field name='CheckSum' required='Y'/></trailer>\n"
	" <components/>\n"
	" <fields>\n"
	"  <field number='8' name='BeginString' type='STRING'/>\n"
	"  <field number='9' name='BodyLength' type='LENGTH'/>\n"
	"  <field number='35' name='MsgType' type='STRING'/>\n"
	"  <field number='49' name='SenderCompID' type='STRING'/>\n"
	"  <field number='56' name='TargetCompID' type='STRING'/>\n"
	"  <field number='34' name='MsgSeqNum' type='SEQNUM'/>\n"
	"  <field number='52' name='SendingTime' type='UTCTIMESTAMP'/>\n"
	"  <field number='1128' name='ApplVerID' type='STRING'/>\n"
	"  <field number='10' name='CheckSum' type='STRING'/>\n"
	"  <field number='112' name='TestReqID' type='STRING'/>\n"
	" </fields>\n"
	"</fix>\n";

/* An application dictionary whose NewOrderSingle holds ClOrdID and, when
 * with_symbol, a required Symbol(55). */
static struct rfx_dict *app_dict(const char *sp, bool with_symbol)
{
	char xml[2048];
	snprintf(xml, sizeof(xml),
		 "<fix type='FIX' major='5' minor='0' servicepack='%s'>\n <header/>\n <messages>\n"
		 "  <message name='NewOrderSingle' msgtype='D' msgcat='app'>\n"
		 "   <field name='ClOrdID' required='Y'/>%s\n"
		 "  </message>\n </messages>\n <trailer/>\n <components/>\n <fields>\n"
		 "  <field number='11' name='ClOrdID' type='STRING'/>\n"
		 "  <field number='55' name='Symbol' type='STRING'/>\n"
		 " </fields>\n</fix>\n",
		 sp, with_symbol ? "<field name='Symbol' required='Y'/>" : "");
	struct rfx_dict_error err;
	int rc;
	struct rfx_dict *d = load_text(xml, &rc, &err);
	cr_assert_eq(rc, 0, "%s", err.text);
	return d;
}

#define FH "8=FIXT.1.1|9=10|35=D|34=2|49=A|52=20240102-10:11:12.123|56=B|"

Test(validate, app_dictionary_by_appl_ver_id, .timeout = 10)
{
	struct rfx_dict_error err;
	int rc;
	struct rfx_dict *t = load_text(fixt_xml, &rc, &err);
	cr_assert_eq(rc, 0, "%s", err.text);
	struct rfx_dict *sp1 = app_dict("1", false), *sp2 = app_dict("2", true);
	struct rfx_validator *v;

	/* DefaultApplVerID = FIX.5.0SP2 (9): sp2 is the validator's own app dictionary. */
	cr_assert_eq(rfx_validator_new(t, sp2, RFX_VALIDATE_DEFAULT, &v), 0);
	expect_reject(v, FH "11=X|" T, 1, 55);
	/* No dictionary per version yet: the default one, whatever 1128 says. */
	expect_reject(v, FH "1128=8|11=X|" T, 1, 55);
	expect_ok(v, "8=FIXT.1.1|9=10|35=0|34=2|49=A|52=20240102-10:11:12.123|56=B|" T);

	cr_assert_eq(rfx_validator_add_app(v, "9", sp2), 0);
	cr_assert_eq(rfx_validator_add_app(v, "8", sp1), 0);
	expect_reject(v, FH "11=X|" T, 1, 55);            /* no 1128: DefaultApplVerID */
	expect_reject(v, FH "1128=9|11=X|" T, 1, 55);     /* FIX.5.0SP2 */
	expect_ok(v, FH "1128=8|11=X|" T);                /* FIX.5.0SP1: Symbol optional */
	expect_ok(v, FH "1128=9|11=X|55=IBM|" T);
	/* No FIX.5.0 dictionary: as QuickFIX, the body is checked as against an
	 * empty dictionary (unknown tags, types and missing fields pass). */
	expect_ok(v, FH "1128=7|11=X|55=IBM|" T);
	expect_ok(v, "8=FIXT.1.1|9=10|35=ZZ|34=2|49=A|52=20240102-10:11:12.123|56=B|1128=7|"
		     "12345=1|" T);
	expect_reject(v, FH "1128=7|11=X|55=|" T, 4, 55);          /* empty value */
	expect_reject(v, FH "1128=7|11=X|55=A|38=1|55=B|" T, 13, 55); /* repeated tag */
	expect_reject(v, FH "1128=7|11=X|100001=1|100001=2|" T, 13, 100001);
	expect_reject(v, FH "1128=7|11=X|1128=7|" T, 14, 1128);    /* header after body */
	expect_reject(v, "8=FIXT.1.1|9=10|35=D|34=2|49=A|52=2024|56=B|1128=7|11=X|" T, 6, 52);
	/* The check leaves nothing behind: the same tags pass next time. */
	expect_ok(v, FH "1128=7|11=X|55=IBM|" T);
	/* Admin messages stay with the transport dictionary whatever 1128 says. */
	expect_ok(v, "8=FIXT.1.1|9=10|35=0|34=2|49=A|52=20240102-10:11:12.123|56=B|1128=7|" T);

	/* Replacing a version's dictionary; bad codes. */
	cr_assert_eq(rfx_validator_add_app(v, "8", sp2), 0);
	expect_reject(v, FH "1128=8|11=X|" T, 1, 55);
	cr_assert_eq(rfx_validator_add_app(v, "", sp1), -EINVAL);
	cr_assert_eq(rfx_validator_add_app(v, "1234", sp1), -EINVAL);
	cr_assert_eq(rfx_validator_add_app(v, "7", NULL), -EINVAL);
	static const char *const codes[] = {"0", "1", "2", "3", "4", "5"};
	for (int i = 0; i < 6; i++)
		cr_assert_eq(rfx_validator_add_app(v, codes[i], sp1), 0);
	cr_assert_eq(rfx_validator_add_app(v, "7", sp1), -EINVAL, "table full");
	rfx_validator_free(v);
	rfx_dict_free(sp1);
	rfx_dict_free(sp2);
	rfx_dict_free(t);
}

/* Messages without ApplVerID(1128) take the default version's dictionary:
 * the counterparty's DefaultApplVerID (1137 of its Logon), as QuickFIX. */
Test(validate, default_appl_ver_id, .timeout = 10)
{
	struct rfx_dict_error err;
	int rc;
	struct rfx_dict *t = load_text(fixt_xml, &rc, &err);
	cr_assert_eq(rc, 0, "%s", err.text);
	struct rfx_dict *sp1 = app_dict("1", false), *sp2 = app_dict("2", true);
	struct rfx_validator *v;

	cr_assert_eq(rfx_validator_new(t, sp2, RFX_VALIDATE_DEFAULT, &v), 0);
	/* Set before the code has a dictionary: resolved when it is added. */
	cr_assert_eq(rfx_validator_set_default_app(v, "8", 1), 0);
	cr_assert_eq(rfx_validator_add_app(v, "9", sp2), 0);
	expect_ok(v, FH "11=X|" T);                       /* "8" has none yet: empty */
	cr_assert_eq(rfx_validator_add_app(v, "8", sp1), 0);
	expect_ok(v, FH "11=X|" T);                       /* FIX.5.0SP1 */
	expect_reject(v, FH "11=X|99=1|" T, 0, 99);
	cr_assert_eq(rfx_validator_set_default_app(v, "9xx", 1), 0);
	expect_reject(v, FH "11=X|" T, 1, 55);            /* FIX.5.0SP2 */
	expect_ok(v, FH "1128=8|11=X|" T);                /* 1128 beats the default */
	cr_assert_eq(rfx_validator_set_default_app(v, "FIX.5.0", 7), 0);
	expect_ok(v, FH "11=X|99=1|" T);                  /* no such code: empty */
	cr_assert_eq(rfx_validator_set_default_app(v, NULL, 0), 0);
	expect_reject(v, FH "11=X|" T, 1, 55);            /* the validator's own (sp2) */
	/* Replacing a dictionary that shares its scratch with another code. */
	cr_assert_eq(rfx_validator_add_app(v, "7", sp1), 0);
	cr_assert_eq(rfx_validator_add_app(v, "8", sp2), 0);
	expect_ok(v, FH "1128=7|11=X|" T);
	expect_reject(v, FH "1128=8|11=X|" T, 1, 55);
	cr_assert_eq(rfx_validator_add_app(v, "7", sp2), 0);
	expect_reject(v, FH "1128=7|11=X|" T, 1, 55);
	rfx_validator_free(v);
	rfx_dict_free(sp1);
	rfx_dict_free(sp2);
	rfx_dict_free(t);
}
