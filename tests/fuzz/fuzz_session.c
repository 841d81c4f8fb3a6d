/*
 * libFuzzer target for engine/session: random sequences of peer messages,
 * clock moves, application sends, logouts and reconnects. The machine must
 * never crash and never leave an inconsistent state; every message it sends
 * must be well-formed with consecutive MsgSeqNums (resends aside).
 *
 * Input: lines. The first line may be "X<digits>" choosing options (bit 0
 * initiator, 1 ResetOnLogon, 2 ResetOnLogout, 3 ResetOnDisconnect, 4 chunked
 * resend requests of 2, 5 no latency check, 6 FIX.4.2, 7 a 08:00-17:00 UTC
 * schedule, 8 with it a 09:00-16:00 logon window, 9 RefreshOnLogon; the clock
 * starts at 10:00). Then per line:
 *   M<fields>  peer message, '|' = SOH; "8=FIX.4.4|9=..|" and "10=..|" are
 *              added unless the line starts with "8=" (then sent as is)
 *   T<n>       the clock moves n * 100 ms, then the timer runs
 *   A<body>    application send of <body> ('|' = SOH)
 *   L          logout request;  D  transport disconnect;  C  connect
 * The same file format seeds the corpus (tests/fuzz/corpus/session).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/session.h"
#include "unit/session/memstore.h"

#define NS 1000000000LL

struct fz {
	struct memstore *store; /* first member: memstore_ctx */
	struct memstore store_mem;
	struct rfx_session s;
	char out[4096], queue[1024];
	struct rfx_session_field fields[64];
	uint64_t last_seq; /* last new (non-PossDup) outbound seq */
	bool connected;
};

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_session invariant broken: %s\n", what);
		abort();
	}
}

static uint64_t field_u64(const char *m, size_t len, const char *tag)
{
	char pat[16];
	int pl = snprintf(pat, sizeof(pat), "\001%s=", tag);
	for (size_t i = 0; i + (size_t)pl <= len; i++)
		if (memcmp(m + i, pat, (size_t)pl) == 0)
			return strtoull(m + i + pl, NULL, 10);
	return 0;
}

static int fz_send(void *ctx, const char *m, size_t len)
{
	struct fz *f = ctx;
	/* Well-formed: 8=, 9= right, checksum right. */
	check(len > 20 && memcmp(m, "8=", 2) == 0, "starts with 8=");
	const char *nine = memchr(m, '\001', len);
	check(nine && memcmp(nine + 1, "9=", 2) == 0, "9 second");
	char *end;
	unsigned long bl = strtoul(nine + 3, &end, 10);
	check(*end == '\001', "9 numeric");
	size_t body = (size_t)(end + 1 - m);
	check(body + bl + 7 == len, "BodyLength matches");
	unsigned sum = 0;
	for (size_t i = 0; i < len - 7; i++)
		sum += (unsigned char)m[i];
	char ck[8];
	snprintf(ck, sizeof(ck), "10=%03u", sum % 256);
	check(memcmp(m + len - 7, ck, 6) == 0 && m[len - 1] == '\001', "CheckSum matches");
	bool dup = memmem(m, len, "\00143=Y\001", 6) != NULL;
	uint64_t seq = field_u64(m, len, "34");
	if (!dup) {
		check(seq == f->last_seq + 1 || seq == 1, "consecutive MsgSeqNum");
		f->last_seq = seq;
	}
	return 0;
}

static void fz_disconnect(void *ctx)
{
	((struct fz *)ctx)->connected = false;
}

static void fz_app(void *ctx, const struct rfx_session_msg *m)
{
	struct fz *f = ctx;
	check(m->seq + 1 == f->s.next_target || m->seq == f->s.next_target, "delivered in order");
}

static void invariants(struct fz *f)
{
	const struct rfx_session *s = &f->s;
	check(s->next_sender >= 1 && s->next_target >= 1, "seqs >= 1");
	check(s->queue_used <= sizeof(f->queue), "queue bounds");
	if (rfx_session_state(s) == RFX_SESSION_DISCONNECTED)
		check(s->queue_used == 0 && !s->received_logon && !s->sent_logon, "clean when down");
	if (rfx_session_logged_on(s))
		check(s->received_logon && s->sent_logon, "logged on means both logons");
	if (s->resend_begin)
		check(s->resend_begin <= s->resend_end && s->resend_end <= s->resend_target,
		      "resend range ordered");
	check(f->store->next_sender == s->next_sender && f->store->next_target == s->next_target,
	      "store holds the session's numbers");
}

static size_t unbar(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] == '|' ? '\001' : src[i];
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	const char *p = (const char *)data, *e = p + size;
	unsigned opt = 0;
	int64_t now = 1767348000LL * NS;

	memset(&f, 0, sizeof(f));
	memstore_init(&f.store_mem);
	f.store = &f.store_mem;
	if (size && p[0] == 'X') {
		opt = (unsigned)strtoul(p + 1, NULL, 10);
		const char *nl = memchr(p, '\n', size);
		p = nl ? nl + 1 : e;
	}
	struct rfx_session_config c;
	rfx_session_config_default(&c);
	strcpy(c.begin_string, opt & 64 ? "FIX.4.2" : "FIX.4.4");
	strcpy(c.sender_comp_id, "ISLD");
	strcpy(c.target_comp_id, "TW");
	c.role = opt & 1 ? RFX_SESSION_INITIATOR : RFX_SESSION_ACCEPTOR;
	c.reset_on_logon = opt & 2;
	c.reset_on_logout = opt & 4;
	c.reset_on_disconnect = opt & 8;
	c.resend_chunk_size = opt & 16 ? 2 : 0;
	c.check_latency = !(opt & 32);
	c.heart_bt_int = 5;
	static const struct rfx_schedule office = {.start_time = 8 * 3600, .end_time = 17 * 3600,
						   .start_day = -1, .end_day = -1};
	/* The same period with a logon window, 09:00-16:00. */
	static const struct rfx_schedule window = {.start_time = 8 * 3600, .end_time = 17 * 3600,
						   .start_day = -1, .end_day = -1,
						   .logon_window = true, .logon_time = 9 * 3600,
						   .logout_time = 16 * 3600, .logon_day = -1,
						   .logout_day = -1};
	if (opt & 128)
		c.schedule = opt & 256 ? &window : &office;
	c.refresh_on_logon = opt & 512;
	struct rfx_session_ops ops = {.ctx = &f, .send = fz_send, .disconnect = fz_disconnect,
				      .on_app = fz_app};
	memstore_bind(&ops);
	struct rfx_session_mem mem = {f.out, sizeof(f.out), f.queue, sizeof(f.queue), f.fields, 64};
	check(rfx_session_init(&f.s, &c, &ops, &mem) == 0, "init");
	f.connected = true;
	rfx_session_on_connect(&f.s, now);

	static char buf[8192];
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(e - p);
		const char *line = p;
		p = nl ? nl + 1 : e;
		if (!n || n > 4000)
			continue;
		switch (line[0]) {
		case 'M': {
			size_t k = 0;
			if (n > 3 && memcmp(line + 1, "8=", 2) == 0) {
				k = unbar(buf, line + 1, n - 1);
			} else {
				char body[4100];
				size_t bl = unbar(body, line + 1, n - 1);
				k = (size_t)snprintf(buf, sizeof(buf), "8=%s\0019=%zu\001", c.begin_string, bl);
				memcpy(buf + k, body, bl);
				k += bl;
				unsigned sum = 0;
				for (size_t i = 0; i < k; i++)
					sum += (unsigned char)buf[i];
				k += (size_t)snprintf(buf + k, 16, "10=%03u\001", sum % 256);
			}
			/* <T> in the text would be nice; instead the clock's day is fixed:
			 * 20260102-10:00:00 + moves, so seeds use that date. */
			rfx_session_on_message(&f.s, buf, k, now);
			break;
		}
		case 'T':
			now += (int64_t)strtoul(line + 1, NULL, 10) % 100000 * (NS / 10);
			rfx_session_on_timer(&f.s, now);
			break;
		case 'A': {
			size_t k = unbar(buf, line + 1, n - 1);
			rfx_session_send_app(&f.s, buf, k, now);
			break;
		}
		case 'L':
			rfx_session_logout(&f.s, "fuzz", now);
			break;
		case 'D':
			rfx_session_on_disconnect(&f.s, now);
			f.connected = false;
			break;
		case 'C':
			if (rfx_session_state(&f.s) == RFX_SESSION_DISCONNECTED) {
				f.last_seq = f.s.next_sender - 1;
				rfx_session_on_connect(&f.s, now);
				f.connected = true;
			}
			break;
		default:
			break;
		}
		invariants(&f);
		if (!f.connected && rfx_session_state(&f.s) == RFX_SESSION_DISCONNECTED)
			f.last_seq = f.s.next_sender - 1;
	}
	rfx_session_deinit(&f.s);
	memstore_free(f.store);
	return 0;
}
