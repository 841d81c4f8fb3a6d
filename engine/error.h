/*
 * ringfix error codes.
 *
 * Every function that can fail returns int: >= 0 is success (sometimes a count),
 * < 0 is either a negative errno value (-ENOMEM, -EINVAL, ...) or one of the
 * named codes below. The named codes live in a reserved band far above any
 * errno value so the two never collide; rfx_strerror() describes both.
 *
 * Each module owns a sub-band of a hundred codes; add new codes to your band.
 */
#ifndef RFX_ENGINE_ERROR_H
#define RFX_ENGINE_ERROR_H

#define RFX_ERRBASE 10000

enum rfx_error {
	/* engine/codec: framing, parsing, serializing (10000-10099) */
	RFX_EPARTIAL = -(RFX_ERRBASE + 0),   /* need more bytes */
	RFX_EGARBLED = -(RFX_ERRBASE + 1),   /* not a FIX message; skip and resync */
	RFX_ECHECKSUM = -(RFX_ERRBASE + 2),  /* CheckSum(10) does not match */
	RFX_ETOOBIG = -(RFX_ERRBASE + 3),    /* message exceeds configured maximum */
	RFX_ENOSPACE = -(RFX_ERRBASE + 4),   /* caller's output buffer too small */
	RFX_ENOTFOUND = -(RFX_ERRBASE + 5),  /* field not present */
	RFX_EFORMAT = -(RFX_ERRBASE + 6),    /* value has the wrong format for its type */
	RFX_ERANGE = -(RFX_ERRBASE + 7),     /* value out of range / integer overflow */
	RFX_ETOOMANY = -(RFX_ERRBASE + 8),   /* more fields than the index holds */
	RFX_EBADTAG = -(RFX_ERRBASE + 9),    /* tag empty, not a positive integer, or no '=' */
	RFX_EGROUP = -(RFX_ERRBASE + 10),    /* repeating group does not match its count */

	/* engine/settings, engine/dictionary (10100-10199) */
	RFX_ECONFIG = -(RFX_ERRBASE + 100),  /* invalid settings; details in the error context */
	RFX_EDICT = -(RFX_ERRBASE + 101),    /* invalid data dictionary */
	RFX_ESECRET = -(RFX_ERRBASE + 102),  /* encrypted secret cannot be decrypted */

	/* engine/session (10200-10299) */
	RFX_ESTATE = -(RFX_ERRBASE + 200),   /* operation not valid in this session state */
	RFX_EREJECT = -(RFX_ERRBASE + 201),  /* message rejected by session-level checks */

	/* store (10300-10399) */
	RFX_ECORRUPT = -(RFX_ERRBASE + 300), /* store file corrupt or of a foreign format */
	RFX_EMAPFULL = -(RFX_ERRBASE + 301), /* store reached its configured maximum size */
	RFX_ESTOREINT = -(RFX_ERRBASE + 302), /* other LMDB failure (readers/txn full...) */

	/* shm (10400-10499) */
	RFX_EFULL = -(RFX_ERRBASE + 400),    /* ring has no room now; retry later */
	RFX_EEMPTY = -(RFX_ERRBASE + 401),   /* ring has nothing to read */
	RFX_EMAGIC = -(RFX_ERRBASE + 402),   /* segment is not a ringfix segment (or not ready) */
	RFX_EVERSION = -(RFX_ERRBASE + 403), /* segment layout version differs from ours */
	RFX_EDEAD = -(RFX_ERRBASE + 404),    /* the peer process is gone */
	RFX_EPROTO = -(RFX_ERRBASE + 405),   /* peer wrote impossible positions or records */
	RFX_EBADSEG = -(RFX_ERRBASE + 406),  /* segment header inconsistent with its size */
	RFX_EDETACHED = -(RFX_ERRBASE + 407), /* the shard detached this client */
	RFX_ENOSLOT = -(RFX_ERRBASE + 408),  /* no free client slot in the segment */
	RFX_ENOSESSION = -(RFX_ERRBASE + 409), /* no such session in the directory */
	RFX_ENOTBOUND = -(RFX_ERRBASE + 410), /* session not bound by this client */

	/* shard: loop, sockets, TLS (10500-10599) */
	RFX_EPEERCLOSED = -(RFX_ERRBASE + 500), /* the peer closed the connection */
	RFX_ETXFULL = -(RFX_ERRBASE + 501),  /* send buffer full; wait for on_sendable */
	RFX_ECONNLIMIT = -(RFX_ERRBASE + 502), /* the loop already has max_conns sockets */
	RFX_ETLS = -(RFX_ERRBASE + 503),     /* TLS handshake, verification or record failure */
};

/* Human-readable text for a return code (negative errno or RFX_E*). Never NULL;
 * the string is static. Safe from any thread. */
const char *rfx_strerror(int err);

#endif
