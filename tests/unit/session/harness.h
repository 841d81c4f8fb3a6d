/*
 * Test harness for engine/session: one session wired to an in-memory store,
 * capturing what it sends, delivers and reports. Test code only.
 */
#ifndef RFX_TESTS_SESSION_HARNESS_H
#define RFX_TESTS_SESSION_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/session.h"
#include "memstore.h"

#define H_MAX_OUT 256
#define H_NS 1000000000LL

struct harness {
	struct memstore *store; /* first member: memstore_ctx */
	struct memstore store_mem;
	struct rfx_session s;
	struct rfx_session_config cfg;
	char out_mem[16384], queue_mem[16384];
	struct rfx_session_field fields[256];
	int64_t now;
	/* Captured outbound messages, SOH shown as '|'. */
	char *out[H_MAX_OUT];
	int nout;
	/* Delivered application messages: seq and ClOrdID(11) if any. */
	uint64_t app_seq[H_MAX_OUT];
	char app_id[H_MAX_OUT][16];
	int napp;
	int disconnects;
	int events[16];
	bool connected;
};

/* Acceptor FIX.4.4, us=ISLD, them=TW, clock at 2026-01-02 10:00:00 UTC. */
void h_init(struct harness *h, void (*tweak)(struct rfx_session_config *));
void h_free(struct harness *h);
void h_connect(struct harness *h);
/* Peer message: "35=X|34=n|...|" with '|' for SOH; 8, 9, 49, 56, 52 (unless
 * the text has 52=) and 10 are added. */
void h_peer(struct harness *h, const char *fields);
/* Raw bytes as given ('|' -> SOH), nothing added. */
void h_raw(struct harness *h, const char *text);
void h_logon(struct harness *h, uint64_t seq, int hbi);
int h_count(const struct harness *h, const char *needle); /* sent messages containing needle */
const char *h_last(const struct harness *h);
void h_clear(struct harness *h);
int64_t h_app(struct harness *h, const char *body); /* '|' -> SOH */

#endif
