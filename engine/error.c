#include "engine/error.h"

#include <string.h>

const char *rfx_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case RFX_EPARTIAL: return "incomplete message: more bytes needed";
	case RFX_EGARBLED: return "garbled message";
	case RFX_ECHECKSUM: return "CheckSum(10) mismatch";
	case RFX_ETOOBIG: return "message larger than the configured maximum";
	case RFX_ENOSPACE: return "output buffer too small";
	case RFX_ENOTFOUND: return "field not present";
	case RFX_EFORMAT: return "incorrect data format for value";
	case RFX_ERANGE: return "value out of range";
	case RFX_ETOOMANY: return "too many fields in message";
	case RFX_EBADTAG: return "invalid tag number";
	case RFX_EGROUP: return "incorrect NumInGroup count for repeating group";
	case RFX_ECONFIG: return "invalid settings";
	case RFX_EDICT: return "invalid data dictionary";
	case RFX_ESECRET: return "encrypted secret cannot be decrypted";
	case RFX_ESTATE: return "operation not valid in the current session state";
	case RFX_EREJECT: return "message rejected";
	case RFX_ECORRUPT: return "store file corrupt or of a foreign format";
	case RFX_EMAPFULL: return "store reached its maximum size";
	case RFX_ESTOREINT: return "store: unexpected LMDB failure";
	case RFX_EFULL: return "ring full";
	case RFX_EEMPTY: return "ring empty";
	case RFX_EMAGIC: return "not a ready ringfix shared-memory segment";
	case RFX_EVERSION: return "shared-memory layout version mismatch";
	case RFX_EDEAD: return "peer process is gone";
	case RFX_EPROTO: return "peer violated the ring protocol";
	case RFX_EBADSEG: return "shared-memory segment header is inconsistent";
	case RFX_EDETACHED: return "client detached by the shard";
	case RFX_ENOSLOT: return "no free client slot";
	case RFX_ENOSESSION: return "no such session";
	case RFX_ENOTBOUND: return "session not bound by this client";
	case RFX_EPEERCLOSED: return "connection closed by the peer";
	case RFX_ETXFULL: return "connection send buffer full";
	case RFX_ECONNLIMIT: return "too many sockets on this shard loop";
	case RFX_ETLS: return "TLS handshake, certificate verification or record failure";
	default: break;
	}
	if (err < 0 && err > -RFX_ERRBASE)
		return strerror(-err); /* glibc: static text for known values */
	return "unknown error";
}
