/* Parser: one pass over tag=value fields into a caller-owned field index. */
#include "engine/codec.h"

#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Generated from the FIX 4.2, 4.4, 5.0SP2 and FIXT.1.1 dictionaries (FIX 4.0 and
 * 4.1 only have 89/93, 90/91 and 95/96): every DATA or XMLDATA field with the
 * LENGTH field that precedes it, sorted by LENGTH tag. */
static const struct rfx_data_layout builtin_data[] = {
	{90, 91},	/* SecureDataLen -> SecureData */
	{93, 89},	/* SignatureLength -> Signature */
	{95, 96},	/* RawDataLength -> RawData */
	{212, 213},	/* XmlDataLen -> XmlData */
	{348, 349},	/* EncodedIssuerLen -> EncodedIssuer */
	{350, 351},	/* EncodedSecurityDescLen -> EncodedSecurityDesc */
	{352, 353},	/* EncodedListExecInstLen -> EncodedListExecInst */
	{354, 355},	/* EncodedTextLen -> EncodedText */
	{356, 357},	/* EncodedSubjectLen -> EncodedSubject */
	{358, 359},	/* EncodedHeadlineLen -> EncodedHeadline */
	{360, 361},	/* EncodedAllocTextLen -> EncodedAllocText */
	{362, 363},	/* EncodedUnderlyingIssuerLen -> EncodedUnderlyingIssuer */
	{364, 365},	/* EncodedUnderlyingSecurityDescLen -> EncodedUnderlyingSecurityDesc */
	{445, 446},	/* EncodedListStatusTextLen -> EncodedListStatusText */
	{618, 619},	/* EncodedLegIssuerLen -> EncodedLegIssuer */
	{621, 622},	/* EncodedLegSecurityDescLen -> EncodedLegSecurityDesc */
	{1184, 1185},	/* SecurityXMLLen -> SecurityXML */
	{1277, 1278},	/* DerivativeEncodedIssuerLen -> DerivativeEncodedIssuer */
	{1280, 1281},	/* DerivativeEncodedSecurityDescLen -> DerivativeEncodedSecurityDesc */
	{1282, 1283},	/* DerivativeSecurityXMLLen -> DerivativeSecurityXML */
	{1397, 1398},	/* EncodedMktSegmDescLen -> EncodedMktSegmDesc */
	{1401, 1402},	/* EncryptedPasswordLen -> EncryptedPassword */
	{1403, 1404},	/* EncryptedNewPasswordLen -> EncryptedNewPassword */
	{1468, 1469},	/* EncodedSecurityListDescLen -> EncodedSecurityListDesc */
	{1525, 1527},	/* EncodedDocumentationTextLen -> EncodedDocumentationText */
	{1578, 1579},	/* EncodedEventTextLen -> EncodedEventText */
	{1620, 1621},	/* InstrumentScopeEncodedSecurityDescLen -> InstrumentScopeEncodedSecurityDesc */
	{1664, 1665},	/* EncodedRejectTextLen -> EncodedRejectText */
	{1678, 1697},	/* EncodedOptionExpirationDescLen -> EncodedOptionExpirationDesc */
	{1733, 1734},	/* EncodedFirmAllocTextLen -> EncodedFirmAllocText */
	{1871, 1872},	/* LegSecurityXMLLen -> LegSecurityXML */
	{1874, 1875},	/* UnderlyingSecurityXMLLen -> UnderlyingSecurityXML */
	{2072, 2073},	/* EncodedUnderlyingEventTextLen -> EncodedUnderlyingEventText */
	{2074, 2075},	/* EncodedLegEventTextLen -> EncodedLegEventText */
	{2111, 2112},	/* EncodedAttachmentLen -> EncodedAttachment */
	{2179, 2180},	/* EncodedLegOptionExpirationDescLen -> EncodedLegOptionExpirationDesc */
	{2287, 2288},	/* EncodedUnderlyingOptionExpirationDescLen -> EncodedUnderlyingOptionExpirationDesc */
	{2351, 2352},	/* EncodedComplianceTextLen -> EncodedComplianceText */
	{2372, 2371},	/* EncodedTradeContinuationTextLen -> EncodedTradeContinuationText */
	{2481, 2482},	/* EncodedMDStatisticDescLen -> EncodedMDStatisticDesc */
	{2494, 2493},	/* EncodedLegDocumentationTextLen -> EncodedLegDocumentationText */
	{2522, 2521},	/* EncodedWarningTextLen -> EncodedWarningText */
	{2637, 2638},	/* EncodedMiscFeeSubTypeDescLen -> EncodedMiscFeeSubTypeDesc */
	{2651, 2652},	/* EncodedCommissionDescLen -> EncodedCommissionDesc */
	{2665, 2666},	/* EncodedAllocCommissionDescLen -> EncodedAllocCommissionDesc */
	{2715, 2716},	/* EncodedFinancialInstrumentFullNameLen -> EncodedFinancialInstrumentFullName */
	{2718, 2719},	/* EncodedLegFinancialInstrumentFullNameLen -> EncodedLegFinancialInstrumentFullName */
	{2721, 2722},	/* EncodedUnderlyingFinancialInstrumentFullNameLen -> EncodedUnderlyingFinancialInstrumentFullName */
	{2797, 2798},	/* EncodedMatchExceptionTextLen -> EncodedMatchExceptionText */
	{2802, 2801},	/* EncodedReplaceTextLen -> EncodedReplaceText */
	{2809, 2808},	/* EncodedCancelTextLen -> EncodedCancelText */
	{2815, 2814},	/* EncodedPostTradePaymentDescLen -> EncodedPostTradePaymentDesc */
	{40004, 40005},	/* EncodedAdditionalTermBondDescLen -> EncodedAdditionalTermBondDesc */
	{40008, 40009},	/* EncodedAdditionalTermBondIssuerLen -> EncodedAdditionalTermBondIssuer */
	{40978, 40979},	/* EncodedLegStreamTextLen -> EncodedLegStreamText */
	{40980, 40981},	/* EncodedLegProvisionTextLen -> EncodedLegProvisionText */
	{40982, 40983},	/* EncodedStreamTextLen -> EncodedStreamText */
	{40984, 40985},	/* EncodedPaymentTextLen -> EncodedPaymentText */
	{40986, 40987},	/* EncodedProvisionTextLen -> EncodedProvisionText */
	{40988, 40989},	/* EncodedUnderlyingStreamTextLen -> EncodedUnderlyingStreamText */
	{41083, 41084},	/* EncodedDeliveryStreamCycleDescLen -> EncodedDeliveryStreamCycleDesc */
	{41101, 41102},	/* EncodedMarketDisruptionFallbackUnderlierSecurityDescLen -> EncodedMarketDisruptionFallbackUnderlierSecurityDesc */
	{41107, 41108},	/* EncodedExerciseDescLen -> EncodedExerciseDesc */
	{41256, 41257},	/* EncodedStreamCommodityDescLen -> EncodedStreamCommodityDesc */
	{41320, 41321},	/* EncodedLegAdditionalTermBondDescLen -> EncodedLegAdditionalTermBondDesc */
	{41324, 41325},	/* EncodedLegAdditionalTermBondIssuerLen -> EncodedLegAdditionalTermBondIssuer */
	{41458, 41459},	/* EncodedLegDeliveryStreamCycleDescLen -> EncodedLegDeliveryStreamCycleDesc */
	{41476, 41477},	/* EncodedLegMarketDisruptionFallbackUnderlierSecurityDescLen -> EncodedLegMarketDisruptionFallbackUnderlierSecurityDesc */
	{41482, 41483},	/* EncodedLegExerciseDescLen -> EncodedLegExerciseDesc */
	{41653, 41654},	/* EncodedLegStreamCommodityDescLen -> EncodedLegStreamCommodityDesc */
	{41710, 41711},	/* EncodedUnderlyingAdditionalTermBondDescLen -> EncodedUnderlyingAdditionalTermBondDesc */
	{41806, 41807},	/* EncodedUnderlyingDeliveryStreamCycleDescLen -> EncodedUnderlyingDeliveryStreamCycleDesc */
	{41811, 41812},	/* EncodedUnderlyingExerciseDescLen -> EncodedUnderlyingExerciseDesc */
	{41873, 41874},	/* EncodedUnderlyingMarketDisruptionFallbackUnderlierSecDescLen -> EncodedUnderlyingMarketDisruptionFallbackUnderlierSecurityDesc */
	{41969, 41970},	/* EncodedUnderlyingStreamCommodityDescLen -> EncodedUnderlyingStreamCommodityDesc */
	{42025, 42026},	/* EncodedUnderlyingAdditionalTermBondIssuerLen -> EncodedUnderlyingAdditionalTermBondIssuer */
	{42171, 42172},	/* EncodedUnderlyingProvisionTextLen -> EncodedUnderlyingProvisionText */
	{42451, 42452},	/* LegPaymentStreamFormulaImageLength -> LegPaymentStreamFormulaImage */
	{42652, 42653},	/* PaymentStreamFormulaImageLength -> PaymentStreamFormulaImage */
	{42947, 42948},	/* UnderlyingPaymentStreamFormulaImageLength -> UnderlyingPaymentStreamFormulaImage */
	{43109, 42684},	/* PaymentStreamFormulaLength -> PaymentStreamFormula */
	{43110, 42486},	/* LegPaymentStreamFormulaLength -> LegPaymentStreamFormula */
	{43111, 42982},	/* UnderlyingPaymentStreamFormulaLength -> UnderlyingPaymentStreamFormula */
};


/* Per-tag class for tags < 4096, one load per field in the parse loop: the low
 * bits are 1 + enum rfx_hdr for header/trailer fields (O(1) slots), CLS_LEN
 * marks a built-in LENGTH tag. Most body tags are 0 and cost one branch. */
#define CLS_TAB_SIZE 4096
#define CLS_LEN 0x80
#define CLS_SLOT 0x3f
static const uint8_t tag_class[CLS_TAB_SIZE] = {
	[8] = 1 + RFX_HDR_BEGIN_STRING,
	[9] = 1 + RFX_HDR_BODY_LENGTH,
	[10] = 1 + RFX_HDR_CHECK_SUM,
	[34] = 1 + RFX_HDR_MSG_SEQ_NUM,
	[35] = 1 + RFX_HDR_MSG_TYPE,
	[43] = 1 + RFX_HDR_POSS_DUP_FLAG,
	[49] = 1 + RFX_HDR_SENDER_COMP_ID,
	[50] = 1 + RFX_HDR_SENDER_SUB_ID,
	[52] = 1 + RFX_HDR_SENDING_TIME,
	[56] = 1 + RFX_HDR_TARGET_COMP_ID,
	[57] = 1 + RFX_HDR_TARGET_SUB_ID,
	[89] = 1 + RFX_HDR_SIGNATURE,
	[90] = (1 + RFX_HDR_SECURE_DATA_LEN) | CLS_LEN,
	[91] = 1 + RFX_HDR_SECURE_DATA,
	[93] = (1 + RFX_HDR_SIGNATURE_LENGTH) | CLS_LEN,
	[95] = CLS_LEN,
	[97] = 1 + RFX_HDR_POSS_RESEND,
	[115] = 1 + RFX_HDR_ON_BEHALF_OF_COMP_ID,
	[116] = 1 + RFX_HDR_ON_BEHALF_OF_SUB_ID,
	[122] = 1 + RFX_HDR_ORIG_SENDING_TIME,
	[128] = 1 + RFX_HDR_DELIVER_TO_COMP_ID,
	[129] = 1 + RFX_HDR_DELIVER_TO_SUB_ID,
	[142] = 1 + RFX_HDR_SENDER_LOCATION_ID,
	[143] = 1 + RFX_HDR_TARGET_LOCATION_ID,
	[144] = 1 + RFX_HDR_ON_BEHALF_OF_LOCATION_ID,
	[145] = 1 + RFX_HDR_DELIVER_TO_LOCATION_ID,
	[212] = (1 + RFX_HDR_XML_DATA_LEN) | CLS_LEN,
	[213] = 1 + RFX_HDR_XML_DATA,
	[347] = 1 + RFX_HDR_MESSAGE_ENCODING,
	[348] = CLS_LEN,
	[350] = CLS_LEN,
	[352] = CLS_LEN,
	[354] = CLS_LEN,
	[356] = CLS_LEN,
	[358] = CLS_LEN,
	[360] = CLS_LEN,
	[362] = CLS_LEN,
	[364] = CLS_LEN,
	[369] = 1 + RFX_HDR_LAST_MSG_SEQ_NUM_PROCESSED,
	[445] = CLS_LEN,
	[618] = CLS_LEN,
	[621] = CLS_LEN,
	[627] = 1 + RFX_HDR_NO_HOPS,
	[1128] = 1 + RFX_HDR_APPL_VER_ID,
	[1129] = 1 + RFX_HDR_CSTM_APPL_VER_ID,
	[1156] = 1 + RFX_HDR_APPL_EXT_ID,
	[1184] = CLS_LEN,
	[1277] = CLS_LEN,
	[1280] = CLS_LEN,
	[1282] = CLS_LEN,
	[1397] = CLS_LEN,
	[1401] = CLS_LEN,
	[1403] = CLS_LEN,
	[1468] = CLS_LEN,
	[1525] = CLS_LEN,
	[1578] = CLS_LEN,
	[1620] = CLS_LEN,
	[1664] = CLS_LEN,
	[1678] = CLS_LEN,
	[1733] = CLS_LEN,
	[1871] = CLS_LEN,
	[1874] = CLS_LEN,
	[2072] = CLS_LEN,
	[2074] = CLS_LEN,
	[2111] = CLS_LEN,
	[2179] = CLS_LEN,
	[2287] = CLS_LEN,
	[2351] = CLS_LEN,
	[2372] = CLS_LEN,
	[2481] = CLS_LEN,
	[2494] = CLS_LEN,
	[2522] = CLS_LEN,
	[2637] = CLS_LEN,
	[2651] = CLS_LEN,
	[2665] = CLS_LEN,
	[2715] = CLS_LEN,
	[2718] = CLS_LEN,
	[2721] = CLS_LEN,
	[2797] = CLS_LEN,
	[2802] = CLS_LEN,
	[2809] = CLS_LEN,
	[2815] = CLS_LEN,
};

#define BUILTIN_HIGH_FIRST 40004u /* tags >= 4096 are searched in the table */
#define BUILTIN_HIGH_LAST 43111u

/* First SOH in [p, end), or end. 16 bytes per step while 16 remain (never
 * reading past end), then bytes. Values are short, so one step usually ends it. */
static inline const char *find_soh(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i soh = _mm_set1_epi8(RFX_SOH);
	while (end - p >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)p);
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, soh));
		if (mask)
			return p + __builtin_ctz(mask);
		p += 16;
	}
#endif
	while (p < end && *p != RFX_SOH)
		p++;
	return p;
}

/*
 * The k (1..8) bytes at p as a decimal number, with 8 bytes readable at p.
 * Returns false if any of them is not a digit. The digits are right-aligned in
 * a 64-bit word (the shift leaves leading zero digits), checked in one go and
 * combined pairwise in three multiplications instead of k dependent steps.
 */
static inline bool swar_tag(const char *p, unsigned k, uint64_t *tag)
{
	uint64_t w;

	memcpy(&w, p, 8);
	w = (w - 0x3030303030303030ULL) << (8 * (8 - k));
	/* A byte is a digit iff w's lane is 0..9: lanes 10..255 (or borrowed
	 * below '0') get their high bit set here; carries only leave lanes that
	 * are flagged already, so the yes/no answer is exact. */
	if ((w | (w + 0x7676767676767676ULL)) & 0x8080808080808080ULL)
		return false;
	w = (w * 2561) >> 8;
	w = ((w & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
	*tag = ((w & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32;
	return true;
}

uint32_t rfx_codec_data_tag(uint32_t length_tag)
{
	uint32_t lo = 0, hi = sizeof builtin_data / sizeof builtin_data[0];

	if (length_tag < CLS_TAB_SIZE) {
		if (!(tag_class[length_tag] & CLS_LEN))
			return 0;
	} else if (length_tag < BUILTIN_HIGH_FIRST || length_tag > BUILTIN_HIGH_LAST) {
		return 0;
	}
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (builtin_data[mid].length_tag < length_tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sizeof builtin_data / sizeof builtin_data[0] &&
			       builtin_data[lo].length_tag == length_tag
		       ? builtin_data[lo].data_tag
		       : 0;
}


void rfx_msg_init(struct rfx_msg *m, struct rfx_field *fields, uint32_t cap)
{
	memset(m, 0, sizeof *m);
	m->fields = fields;
	m->cap = cap > 65535 ? 65535 : cap;
}

int rfx_msg_adopt(struct rfx_msg *m, const char *buf, size_t len, uint32_t nfields)
{
	if (nfields > m->cap)
		return RFX_ETOOMANY;
	m->buf = buf;
	m->len = (uint32_t)len;
	m->nfields = nfields;
	memset(m->hdr, 0, sizeof(m->hdr));
	for (uint32_t i = nfields; i-- > 0;) { /* backwards: the first occurrence wins */
		uint32_t tag = m->fields[i].tag;
		unsigned cls = tag < CLS_TAB_SIZE ? tag_class[tag] & CLS_SLOT : 0;
		if (cls)
			m->hdr[cls - 1] = (uint16_t)(i + 1);
	}
	return 0;
}

static uint32_t layout_data_tag(const struct rfx_layout *lay, uint32_t tag)
{
	for (uint32_t k = 0; k < lay->ndata; k++)
		if (lay->data[k].length_tag == tag)
			return lay->data[k].data_tag;
	return 0;
}

/* Value of a LENGTH field whose value is [v, p): the data (and its SOH) must
 * still fit in the buffer after p. */
static int data_length(const char *v, const char *p, const char *end, uint32_t *out)
{
	uint64_t dl;

	if (rfx_uint_parse(v, (uint32_t)(p - v), &dl) < 0 || dl >= (uint64_t)(end - p))
		return RFX_EFORMAT;
	*out = (uint32_t)dl;
	return 0;
}

static const struct rfx_group_layout *find_group(const struct rfx_layout *lay, uint32_t tag)
{
	for (uint32_t k = 0; k < lay->ngroups; k++)
		if (lay->groups[k].count_tag == tag)
			return &lay->groups[k];
	return NULL;
}

static bool group_member(const struct rfx_group_layout *g, uint32_t tag)
{
	uint32_t lo = 0, hi = g->ntags;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (g->tags[mid] < tag)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->ntags && g->tags[lo] == tag;
}

#define GROUP_MAX_DEPTH 16

/*
 * Walk the group whose NumInGroup field is fields[i]. An entry starts at the
 * delimiter and runs while tags belong to the group (nested groups walked
 * recursively); the count must equal the entries found (FIX session reject
 * reason 16, incorrect NumInGroup count). Sets *end to the index after the
 * group; fills spans when given.
 */
static int walk_group(const struct rfx_msg *m, const struct rfx_layout *lay,
		      const struct rfx_group_layout *g, uint32_t i, uint32_t *end,
		      struct rfx_group_span *spans, uint32_t cap, int depth)
{
	const struct rfx_field *f = m->fields;
	uint32_t n = m->nfields, j = i + 1;
	uint64_t count;

	if (depth > GROUP_MAX_DEPTH)
		return RFX_EGROUP;
	if (rfx_uint_parse(f[i].p, f[i].len, &count) < 0 || count > n - j)
		return RFX_EGROUP;
	for (uint64_t e = 0; e < count; e++) {
		uint32_t first = j;
		if (j >= n || f[j].tag != g->delim_tag)
			return RFX_EGROUP;
		j++;
		while (j < n && f[j].tag != g->delim_tag && group_member(g, f[j].tag)) {
			const struct rfx_group_layout *sub = find_group(lay, f[j].tag);
			if (sub && sub != g) {
				int r = walk_group(m, lay, sub, j, &j, NULL, 0, depth + 1);
				if (r < 0)
					return r;
			} else {
				j++;
			}
		}
		if (spans) {
			if (e >= cap)
				return RFX_ETOOMANY;
			spans[e].first = first;
			spans[e].end = j;
		}
	}
	/* A delimiter right after the last entry means more entries than counted. */
	if (j < n && f[j].tag == g->delim_tag)
		return RFX_EGROUP;
	*end = j;
	return (int)count;
}

static int check_groups(const struct rfx_msg *m, const struct rfx_layout *lay)
{
	uint32_t i = 0;

	while (i < m->nfields) {
		const struct rfx_group_layout *g = find_group(lay, m->fields[i].tag);
		if (!g) {
			i++;
			continue;
		}
		int r = walk_group(m, lay, g, i, &i, NULL, 0, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

int rfx_codec_parse(struct rfx_msg *m, const char *buf, size_t len,
		    const struct rfx_dict_seam *seam)
{
	const char *p = buf, *end = buf + len;
	const struct rfx_layout *lay = NULL;
	bool lay_data = false;
	uint32_t data_tag = 0, data_len = 0, n = 0, cap = m->cap;
	struct rfx_field *f = m->fields;
	int err = 0;

	memset(m->hdr, 0, sizeof m->hdr);
	m->buf = buf;
	m->len = (uint32_t)len;
	m->nfields = 0;
	if (len > UINT32_MAX)
		return RFX_ETOOBIG;

	while (p < end) {
		const char *t = p, *v;
		uint64_t tag = 0;
		unsigned d;

#ifdef __SSE2__
		/* Fast path with 16 bytes in reach and no data field pending: one load
		 * finds '=' and usually the SOH; a tag of 1-8 digits converts without a
		 * per-digit loop. The first SOH of the load ends the value, as the
		 * digits and '=' before it hold none; the next field's start then
		 * depends on that mask only, not on the tag. */
		if (__builtin_expect(!data_tag, 1) && end - p >= 16) {
			const __m128i x = _mm_loadu_si128((const __m128i *)p);
			unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('=')));
			unsigned sm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(RFX_SOH)));
			unsigned k = (unsigned)__builtin_ctz(eq | 0x10000);
			if (k - 1 < 8 && swar_tag(p, k, &tag) && tag != 0) {
				v = p + k + 1;
				p = sm ? p + __builtin_ctz(sm) : find_soh(p + 16, end);
				if (p == end) {
					err = RFX_EFORMAT;
					goto out;
				}
				goto have_value;
			}
			tag = 0;
		}
#endif
		/* Tag: 1..10 digits, positive, fits in 31 bits, then '='. */
		while (p < end && (d = (unsigned)(unsigned char)*p - '0') <= 9 && p - t < 10) {
			tag = tag * 10 + d;
			p++;
		}
		if (p == end || *p != '=' || tag == 0 || tag > INT32_MAX) {
			err = RFX_EBADTAG;
			goto out;
		}
		v = p + 1;
		p = v;
		if (data_tag && tag == data_tag) {
			/* Data field: exactly the announced bytes, SOH included. */
			if ((size_t)(end - v) <= data_len || v[data_len] != RFX_SOH) {
				err = RFX_EFORMAT;
				goto out;
			}
			p = v + data_len;
		} else {
			p = find_soh(v, end);
			if (p == end) {
				err = RFX_EFORMAT;
				goto out;
			}
		}
	have_value:
		data_tag = 0;

		if (n == cap) {
			err = RFX_ETOOMANY;
			goto out;
		}
		f[n] = (struct rfx_field){.p = v, .len = (uint32_t)(p - v), .tag = (uint32_t)tag};
		n++;
		unsigned cls = tag < CLS_TAB_SIZE ? tag_class[tag] : (tag >= BUILTIN_HIGH_FIRST) * CLS_LEN;
		if (__builtin_expect(cls != 0, 0)) {
			if (cls & CLS_SLOT) {
				uint16_t *slot = &m->hdr[(cls & CLS_SLOT) - 1];
				if (!*slot)
					*slot = (uint16_t)n;
				if (tag == 35 && seam && seam->layout && !lay) {
					lay = seam->layout(seam->ctx, v, f[n - 1].len);
					lay_data = lay && lay->ndata;
				}
			}
			if (cls & CLS_LEN) {
				uint32_t dt = rfx_codec_data_tag((uint32_t)tag);
				if (dt && (err = data_length(v, p, end, &data_len)) < 0)
					goto out;
				data_tag = dt;
			}
		}
		if (__builtin_expect(lay_data, 0)) {
			uint32_t dt = layout_data_tag(lay, (uint32_t)tag);
			if (dt) {
				if ((err = data_length(v, p, end, &data_len)) < 0)
					goto out;
				data_tag = dt;
			}
		}
		p++; /* SOH */
	}
	m->nfields = n;
	if (lay && lay->ngroups) {
		err = check_groups(m, lay);
		if (err < 0)
			return err;
	}
	return (int)n;
out:
	m->nfields = n;
	return err;
}

int rfx_msg_find(const struct rfx_msg *m, uint32_t tag, uint32_t from)
{
	for (uint32_t i = from; i < m->nfields; i++)
		if (m->fields[i].tag == tag)
			return (int)i;
	return RFX_ENOTFOUND;
}

static const struct rfx_field *first(const struct rfx_msg *m, uint32_t tag)
{
	if (tag < CLS_TAB_SIZE && (tag_class[tag] & CLS_SLOT)) {
		uint32_t i = m->hdr[(tag_class[tag] & CLS_SLOT) - 1];
		return i ? &m->fields[i - 1] : NULL;
	}
	int i = rfx_msg_find(m, tag, 0);
	return i >= 0 ? &m->fields[i] : NULL;
}

int rfx_msg_get_str(const struct rfx_msg *m, uint32_t tag, struct rfx_str *out)
{
	const struct rfx_field *f = first(m, tag);
	if (!f)
		return RFX_ENOTFOUND;
	out->p = f->p;
	out->len = f->len;
	return 0;
}

#define GETTER(name, type, parse)                                          \
	int rfx_msg_get_##name(const struct rfx_msg *m, uint32_t tag, type *out) \
	{                                                                  \
		const struct rfx_field *f = first(m, tag);                 \
		return f ? parse(f->p, f->len, out) : RFX_ENOTFOUND;       \
	}
GETTER(int, int64_t, rfx_int_parse)
GETTER(decimal, struct rfx_decimal, rfx_decimal_parse)
GETTER(char, char, rfx_char_parse)
GETTER(bool, bool, rfx_bool_parse)
GETTER(timestamp, int64_t, rfx_timestamp_parse)

int rfx_msg_group(const struct rfx_msg *m, const struct rfx_layout *layout,
		  uint32_t count_idx, struct rfx_group_span *spans, uint32_t cap)
{
	const struct rfx_group_layout *g;
	uint32_t end;

	if (!layout || count_idx >= m->nfields ||
	    !(g = find_group(layout, m->fields[count_idx].tag)))
		return RFX_ENOTFOUND;
	return walk_group(m, layout, g, count_idx, &end, spans, cap, 0);
}
