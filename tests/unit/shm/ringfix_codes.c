/* Compiled against the installed header alone: its copy of the error codes
 * must equal engine/error.h's (test_client.c compares). */
#include "shm/ringfix.h"

extern const int rfx_test_ringfix_codes[];
extern const int rfx_test_ringfix_ncodes;

const int rfx_test_ringfix_codes[] = {
	RFX_EPARTIAL, RFX_EGARBLED, RFX_ECHECKSUM, RFX_ETOOBIG, RFX_ENOSPACE,
	RFX_ENOTFOUND, RFX_EFORMAT, RFX_ERANGE, RFX_ETOOMANY, RFX_EBADTAG, RFX_EGROUP, RFX_ECONFIG,
	RFX_EDICT, RFX_ESECRET, RFX_ESTATE, RFX_EREJECT, RFX_ECORRUPT,
	RFX_EMAPFULL, RFX_EFULL, RFX_EEMPTY, RFX_EMAGIC, RFX_EVERSION, RFX_EDEAD,
	RFX_EPROTO, RFX_EBADSEG, RFX_EDETACHED, RFX_ENOSLOT, RFX_ENOSESSION,
	RFX_ENOTBOUND,
};
const int rfx_test_ringfix_ncodes = sizeof(rfx_test_ringfix_codes) / sizeof(int);
