/*
 * fix_peer.h: a small epoll-based FIX 4.4 initiator peer for the benchmarks
 * that need many sockets or a raw view of what the engine sends
 * (sessions_bench, resend_bench). Header-only, plain C, no engine code, so
 * the same peer drives ringfixd and QuickFIX alike.
 *
 * Each connection logs on as SenderCompID=<sender>, TargetCompID=<target>,
 * answers TestRequests, sends a Heartbeat every HeartBtInt and counts what
 * arrives. fp_poll runs one epoll round; the caller loops.
 */
#ifndef RFX_BENCH_FIX_PEER_H
#define RFX_BENCH_FIX_PEER_H

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FP_SOH '\001'
#define FP_ID_MAX 32
#define FP_RX_CAP 8192u

struct fp_conn;

/* Called for every framed inbound message (after the peer's own handling). */
typedef void (*fp_msg_fn)(void *ctx, struct fp_conn *c, const char *msg, uint32_t len);

struct fp_conn {
	int fd;
	uint32_t idx;
	char sender[FP_ID_MAX], target[FP_ID_MAX];
	uint64_t out_seq;             /* next MsgSeqNum we send */
	uint64_t msgs_in;
	bool connected, logged_on;
	int64_t last_sent;            /* CLOCK_MONOTONIC ns */
	uint32_t rxlen;
	char rx[FP_RX_CAP];
};

struct fp_peer {
	int ep;
	struct fp_conn *conns;
	uint32_t n, logged_on, closed;
	uint32_t heartbeat_s;
	fp_msg_fn on_msg;
	void *ctx;
	int64_t last_hb_scan;
};

static inline int64_t fp_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "YYYYMMDD-HH:MM:SS.mmm" of now (UTC) into out (>= 32 bytes). */
static inline int fp_utc(char *out)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y%m%d-%H:%M:%S", &tm);
	return (int)n + snprintf(out + n, 32 - n, ".%03d", (int)(ts.tv_nsec / 1000000) % 1000);
}

/* Build one whole message: header (8, 9, 35, 34, 49, 52, 56), `body` (fields
 * each ending in SOH, may be empty), trailer. Returns its length or -1. */
static inline int fp_build(char *out, size_t cap, const char *type, uint64_t seq,
			   const char *sender, const char *target, const char *body)
{
	char hdr[256], t[32];
	fp_utc(t);
	int hl = snprintf(hdr, sizeof(hdr), "35=%s\00134=%llu\00149=%s\00152=%s\00156=%s\001", type,
			  (unsigned long long)seq, sender, t, target);
	size_t bl = strlen(body);
	if (hl < 0 || (size_t)hl >= sizeof(hdr))
		return -1;
	int n = snprintf(out, cap, "8=FIX.4.4\0019=%zu\001%s%s", (size_t)hl + bl, hdr, body);
	if (n < 0 || (size_t)n + 8 > cap)
		return -1;
	unsigned sum = 0;
	for (int i = 0; i < n; i++)
		sum += (uint8_t)out[i];
	return n + snprintf(out + n, cap - (size_t)n, "10=%03u\001", sum % 256);
}

/* Value of `tag` ("35") in a framed message, or NULL; *vl gets its length. */
static inline const char *fp_get(const char *m, uint32_t len, const char *tag, uint32_t *vl)
{
	size_t tl = strlen(tag);
	uint32_t i = 0;
	while (i < len) {
		const char *e = memchr(m + i, FP_SOH, len - i);
		if (!e)
			return NULL;
		uint32_t fl = (uint32_t)(e - (m + i));
		if (fl > tl && memcmp(m + i, tag, tl) == 0 && m[i + tl] == '=') {
			*vl = fl - (uint32_t)tl - 1;
			return m + i + tl + 1;
		}
		i += fl + 1;
	}
	return NULL;
}

static inline bool fp_is(const char *m, uint32_t len, const char *tag, const char *want)
{
	uint32_t vl;
	const char *v = fp_get(m, len, tag, &vl);
	return v && vl == strlen(want) && memcmp(v, want, vl) == 0;
}

/* Send a message on c; blocks briefly on a full socket (the peer sends
 * little). Returns 0 or -1 (connection gone). */
static inline int fp_send(struct fp_conn *c, const char *type, const char *body)
{
	char m[1024];
	int n = fp_build(m, sizeof(m), type, c->out_seq, c->sender, c->target, body);
	if (n < 0 || c->fd < 0)
		return -1;
	int off = 0;
	while (off < n) {
		ssize_t k = send(c->fd, m + off, (size_t)(n - off), MSG_NOSIGNAL);
		if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (k <= 0)
			return -1;
		off += (int)k;
	}
	c->out_seq++;
	c->last_sent = fp_mono();
	return 0;
}

static inline void fp_close(struct fp_peer *p, struct fp_conn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (c->logged_on)
		p->logged_on--;
	c->logged_on = c->connected = false;
	p->closed++;
}

static inline void fp_handle(struct fp_peer *p, struct fp_conn *c, const char *m, uint32_t len)
{
	c->msgs_in++;
	uint32_t vl;
	const char *type = fp_get(m, len, "35", &vl);
	if (type && vl == 1 && type[0] == 'A' && !c->logged_on) {
		c->logged_on = true;
		p->logged_on++;
	} else if (type && vl == 1 && type[0] == '1') {
		const char *id = fp_get(m, len, "112", &vl);
		char body[128];
		snprintf(body, sizeof(body), "112=%.*s\001", id ? (int)(vl < 64 ? vl : 64) : 0,
			 id ? id : "");
		fp_send(c, "0", body);
	} else if (type && vl == 1 && type[0] == '5') {
		fp_send(c, "5", "");
	}
	if (p->on_msg)
		p->on_msg(p->ctx, c, m, len);
}

/* Frame whole messages out of c->rx: "8=" ... "9=<len>" ... "10=nnn<SOH>". */
static inline void fp_frame(struct fp_peer *p, struct fp_conn *c)
{
	uint32_t off = 0;
	for (;;) {
		char *b = c->rx + off;
		uint32_t n = c->rxlen - off;
		char *l = n > 4 ? memmem(b, n, "\0019=", 3) : NULL;
		char *le = l ? memchr(l + 3, FP_SOH, n - (uint32_t)(l + 3 - b)) : NULL;
		if (!le)
			break;
		uint32_t body = (uint32_t)strtoul(l + 3, NULL, 10);
		uint32_t end = (uint32_t)(le + 1 - b) + body + 7;
		if (end > FP_RX_CAP) {
			fp_close(p, c);
			return;
		}
		if (end > n)
			break;
		fp_handle(p, c, b, end);
		if (c->fd < 0)
			return;
		off += end;
	}
	memmove(c->rx, c->rx + off, c->rxlen - off);
	c->rxlen -= off;
}

/* Set up n connections (not yet connected). Sender i is
 * "<prefix><i, 5 digits>", the target is `target`. */
static inline int fp_init(struct fp_peer *p, uint32_t n, const char *prefix, const char *target,
			  uint32_t heartbeat_s)
{
	memset(p, 0, sizeof(*p));
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	p->conns = calloc(n ? n : 1, sizeof(*p->conns));
	if (p->ep < 0 || !p->conns)
		return -1;
	p->n = n;
	p->heartbeat_s = heartbeat_s;
	for (uint32_t i = 0; i < n; i++) {
		struct fp_conn *c = &p->conns[i];
		c->fd = -1;
		c->idx = i;
		c->out_seq = 1;
		snprintf(c->sender, sizeof(c->sender), "%s%05u", prefix, i);
		snprintf(c->target, sizeof(c->target), "%s", target);
	}
	return 0;
}

/* Connect c to 127.0.0.1:port and send its Logon. Returns 0 or -errno. */
static inline int fp_logon(struct fp_peer *p, struct fp_conn *c, uint16_t port, bool reset)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = c->idx};
	epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev);
	c->fd = fd;
	c->connected = true;
	c->rxlen = 0;
	char body[64];
	snprintf(body, sizeof(body), "98=0\001108=%u\001%s", p->heartbeat_s,
		 reset ? "141=Y\001" : "");
	return fp_send(c, "A", body) == 0 ? 0 : -EPIPE;
}

/* One round: wait up to timeout_ms, read and handle, send due heartbeats.
 * Returns the number of sockets that were ready. */
static inline int fp_poll(struct fp_peer *p, int timeout_ms)
{
	struct epoll_event evs[256];
	int k = epoll_wait(p->ep, evs, 256, timeout_ms);
	for (int i = 0; i < k; i++) {
		struct fp_conn *c = &p->conns[evs[i].data.u32];
		if (c->fd < 0)
			continue;
		ssize_t r = recv(c->fd, c->rx + c->rxlen, FP_RX_CAP - c->rxlen, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			fp_close(p, c);
			continue;
		}
		if (r > 0) {
			c->rxlen += (uint32_t)r;
			fp_frame(p, c);
		}
	}
	int64_t now = fp_mono();
	if (now - p->last_hb_scan >= 100000000LL) {
		p->last_hb_scan = now;
		int64_t due = (int64_t)p->heartbeat_s * 1000000000LL;
		for (uint32_t i = 0; i < p->n; i++) {
			struct fp_conn *c = &p->conns[i];
			if (c->logged_on && now - c->last_sent >= due)
				fp_send(c, "0", "");
		}
	}
	return k < 0 ? 0 : k;
}

static inline void fp_free(struct fp_peer *p)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (p->conns[i].fd >= 0)
			close(p->conns[i].fd);
	free(p->conns);
	if (p->ep >= 0)
		close(p->ep);
}

#endif
