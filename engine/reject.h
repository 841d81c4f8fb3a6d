/*
 * Session-level Reject(3): SessionRejectReason(373) codes and the Text(58) that
 * QuickFIX sends with each, shared by the session machine and the dictionary
 * validator so a peer sees the same words whichever of them rejected.
 */
#ifndef RFX_ENGINE_REJECT_H
#define RFX_ENGINE_REJECT_H

/* SessionRejectReason(373) values (FIX 4.2+). */
enum rfx_reject_reason {
	RFX_SRR_INVALID_TAG_NUMBER = 0,
	RFX_SRR_REQUIRED_TAG_MISSING = 1,
	RFX_SRR_TAG_NOT_DEFINED_FOR_MSG_TYPE = 2,
	RFX_SRR_UNDEFINED_TAG = 3,
	RFX_SRR_TAG_WITHOUT_VALUE = 4,
	RFX_SRR_VALUE_INCORRECT = 5,
	RFX_SRR_INCORRECT_DATA_FORMAT = 6,
	RFX_SRR_DECRYPTION_PROBLEM = 7,
	RFX_SRR_SIGNATURE_PROBLEM = 8,
	RFX_SRR_COMPID_PROBLEM = 9,
	RFX_SRR_SENDING_TIME_ACCURACY = 10,
	RFX_SRR_INVALID_MSG_TYPE = 11,
	RFX_SRR_XML_VALIDATION_ERROR = 12,
	RFX_SRR_TAG_APPEARS_MORE_THAN_ONCE = 13,
	RFX_SRR_TAG_OUT_OF_ORDER = 14,
	RFX_SRR_GROUP_FIELDS_OUT_OF_ORDER = 15,
	RFX_SRR_INCORRECT_NUM_IN_GROUP = 16,
	RFX_SRR_NON_DATA_HAS_SOH = 17,
	RFX_SRR_INVALID_APPL_VERSION = 18, /* FIX 5.0 SP1+: no dictionary for its ApplVerID */
	RFX_SRR_OTHER = 99,
};

/* QuickFIX's Text(58) for a reason, e.g. "Required tag missing". Static. */
const char *rfx_reject_text(int reason);

#endif
