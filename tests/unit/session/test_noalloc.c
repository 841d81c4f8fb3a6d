/*
 * The session never allocates: test_session links with -Wl,--wrap for the
 * allocator entry points; the session below runs with callbacks that do not
 * allocate either, so any count is the session's.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/session.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

static volatile long allocs;

void *__wrap_malloc(size_t n)
{
	allocs++;
	return __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	allocs++;
	return __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	allocs++;
	return __real_realloc(p, n);
}

static long sent, delivered;
static uint64_t seqs[2];

static int q_send(void *ctx, const char *b, size_t n)
{
	(void)ctx;
	(void)b;
	sent += (long)n;
	return 0;
}

static void q_app(void *ctx, const struct rfx_session_msg *m)
{
	(void)ctx;
	delivered += (long)m->seq;
}

static int q_set(void *ctx, uint64_t a, uint64_t b)
{
	(void)ctx;
	seqs[0] = a;
	seqs[1] = b;
	return 0;
}

static int q_put(void *ctx, uint64_t seq, const char *m, size_t n)
{
	(void)ctx;
	(void)seq;
	(void)m;
	(void)n;
	return 0;
}

static size_t wire(char *out, const char *fields, const char *when)
{
	char b[512];
	int n = snprintf(b, sizeof(b), "%s49=TW|52=%s|56=ISLD|", fields, when);
	for (int i = 0; i < n; i++)
		if (b[i] == '|')
			b[i] = '\001';
	size_t len = (size_t)sprintf(out, "8=FIX.4.4\0019=%d\001", n);
	memcpy(out + len, b, (size_t)n);
	len += (size_t)n;
	unsigned sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += (unsigned char)out[i];
	return len + (size_t)sprintf(out + len, "10=%03u\001", sum % 256);
}

Test(session_noalloc, message_paths_do_not_allocate, .timeout = 20)
{
	static struct rfx_session s;
	static char out[8192], queue[8192];
	static struct rfx_session_field fields[128];
	static char msgs[64][512];
	size_t lens[64];
	struct rfx_session_config c;
	rfx_session_config_default(&c);
	strcpy(c.begin_string, "FIX.4.4");
	strcpy(c.sender_comp_id, "ISLD");
	strcpy(c.target_comp_id, "TW");
	struct rfx_session_ops ops = {.send = q_send, .on_app = q_app, .store_set_seqs = q_set,
				      .store_put = q_put};
	struct rfx_session_mem mem = {out, sizeof(out), queue, sizeof(queue), fields, 128};
	int64_t now = 1767348000LL * 1000000000LL;
	const char *t = "20260102-10:00:00.000";
	cr_assert_eq(rfx_session_init(&s, &c, &ops, &mem), 0);

	lens[0] = wire(msgs[0], "35=A|34=1|98=0|108=30|", t);
	for (int i = 1; i < 40; i++) {
		char f[128];
		snprintf(f, sizeof(f), "35=D|34=%d|11=ID%d|55=X|", i + 1, i);
		lens[i] = wire(msgs[i], f, t);
	}
	lens[40] = wire(msgs[40], "35=D|34=50|11=late|", t);               /* too high */
	lens[41] = wire(msgs[41], "35=4|34=41|43=Y|122=20260102-10:00:00|36=50|123=Y|", t);
	lens[42] = wire(msgs[42], "35=2|34=51|7=1|16=0|", t);                /* resend */
	lens[43] = wire(msgs[43], "35=1|34=52|112=hello|", t);
	lens[44] = wire(msgs[44], "35=0|34=53|", "20260102-09:00:00");    /* bad time */
	char body[] = "35=D\00111=OUT\00155=Y\001";

	long before = allocs;
	cr_assert_eq(rfx_session_on_connect(&s, now), 0);
	for (int i = 0; i < 45; i++) {
		rfx_session_on_message(&s, msgs[i], lens[i], now);
		if (rfx_session_logged_on(&s))
			rfx_session_send_app(&s, body, sizeof(body) - 1, now);
	}
	cr_assert_eq(rfx_session_state(&s), RFX_SESSION_LOGOUT_SENT);
	rfx_session_on_timer(&s, now + 1000000000LL);
	rfx_session_on_timer(&s, now + 3 * 1000000000LL); /* logout timeout */
	long used = allocs - before;
	cr_assert_eq(used, 0, "%ld allocations on the message path", used);
	cr_assert_gt(delivered, 0);
	cr_assert_gt(sent, 0);
	cr_assert_eq(rfx_session_state(&s), RFX_SESSION_DISCONNECTED);
}
