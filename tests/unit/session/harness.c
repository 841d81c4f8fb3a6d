#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int h_send(void *ctx, const char *buf, size_t len)
{
	struct harness *h = ctx;
	if (h->nout == H_MAX_OUT)
		return 0;
	char *c = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		c[i] = buf[i] == '\001' ? '|' : buf[i];
	c[len] = 0;
	h->out[h->nout++] = c;
	return 0;
}

static void h_disconnect(void *ctx)
{
	struct harness *h = ctx;
	h->disconnects++;
	h->connected = false;
}

static void h_on_app(void *ctx, const struct rfx_session_msg *m)
{
	struct harness *h = ctx;
	if (h->napp == H_MAX_OUT)
		return;
	const struct rfx_session_field *id = rfx_session_msg_get(m, 11);
	h->app_seq[h->napp] = m->seq;
	snprintf(h->app_id[h->napp], sizeof(h->app_id[0]), "%.*s", id ? (int)id->len : 0,
		 id ? id->p : "");
	h->napp++;
}

static void h_event(void *ctx, enum rfx_session_event ev, const char *text)
{
	struct harness *h = ctx;
	(void)text;
	if ((unsigned)ev < 16)
		h->events[ev]++;
}

void h_init(struct harness *h, void (*tweak)(struct rfx_session_config *))
{
	memset(h, 0, sizeof(*h));
	memstore_init(&h->store_mem);
	h->store = &h->store_mem;
	rfx_session_config_default(&h->cfg);
	strcpy(h->cfg.begin_string, "FIX.4.4");
	strcpy(h->cfg.sender_comp_id, "ISLD");
	strcpy(h->cfg.target_comp_id, "TW");
	if (tweak)
		tweak(&h->cfg);
	struct rfx_session_ops ops = {.ctx = h, .send = h_send, .disconnect = h_disconnect,
				      .on_app = h_on_app, .on_event = h_event};
	memstore_bind(&ops);
	struct rfx_session_mem mem = {h->out_mem, sizeof(h->out_mem), h->queue_mem,
				      sizeof(h->queue_mem), h->fields, 256};
	h->now = 1767348000LL * H_NS; /* 2026-01-02 10:00:00 UTC */
	if (rfx_session_init(&h->s, &h->cfg, &ops, &mem) != 0)
		abort();
}

void h_clear(struct harness *h)
{
	for (int i = 0; i < h->nout; i++)
		free(h->out[i]);
	h->nout = 0;
}

void h_free(struct harness *h)
{
	h_clear(h);
	rfx_session_deinit(&h->s);
	memstore_free(h->store);
}

void h_connect(struct harness *h)
{
	h->connected = true;
	rfx_session_on_connect(&h->s, h->now);
}

static size_t unbar(char *dst, const char *src)
{
	size_t n = strlen(src);
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] == '|' ? '\001' : src[i];
	return n;
}

void h_peer(struct harness *h, const char *fields)
{
	char body[4096], msg[4200], t[32];
	size_t n = 0;
	n += unbar(body + n, fields);
	if (!strstr(fields, "52=")) {
		rfx_session_format_time(t, h->now, 3);
		n += (size_t)sprintf(body + n, "52=%s\001", t);
	}
	/* 35 first, then our additions: order inside the header is free. */
	char full[4096];
	const char *soh = memchr(body, '\001', n);
	size_t first = (size_t)(soh - body) + 1;
	size_t m = 0;
	memcpy(full, body, first);
	m = first;
	m += (size_t)sprintf(full + m, "49=%s\00156=%s\001", h->cfg.target_comp_id,
			     h->cfg.sender_comp_id);
	memcpy(full + m, body + first, n - first);
	m += n - first;
	size_t len = (size_t)sprintf(msg, "8=%s\0019=%zu\001", h->cfg.begin_string, m);
	memcpy(msg + len, full, m);
	len += m;
	unsigned sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += (unsigned char)msg[i];
	len += (size_t)sprintf(msg + len, "10=%03u\001", sum % 256);
	rfx_session_on_message(&h->s, msg, len, h->now);
}

void h_raw(struct harness *h, const char *text)
{
	char msg[4096];
	size_t n = unbar(msg, text);
	rfx_session_on_message(&h->s, msg, n, h->now);
}

void h_logon(struct harness *h, uint64_t seq, int hbi)
{
	char b[128];
	snprintf(b, sizeof(b), "35=A|34=%llu|98=0|108=%d|", (unsigned long long)seq, hbi);
	h_peer(h, b);
}

int h_count(const struct harness *h, const char *needle)
{
	int n = 0;
	for (int i = 0; i < h->nout; i++)
		if (strstr(h->out[i], needle))
			n++;
	return n;
}

const char *h_last(const struct harness *h)
{
	return h->nout ? h->out[h->nout - 1] : "";
}

int64_t h_app(struct harness *h, const char *body)
{
	char b[4096];
	size_t n = unbar(b, body);
	return rfx_session_send_app(&h->s, b, n, h->now);
}
