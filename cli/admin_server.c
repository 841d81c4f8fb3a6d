/* ringfixd's admin socket: connections, limits, timeouts (admin_server.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/admin_server.h"

struct rfx_admin_client {
	struct rfx_admin_server *srv;
	int fd;                       /* -1: slot free */
	bool busy;                    /* a request awaits its final line */
	bool gone;                    /* peer closed or timed out while busy */
	bool closing;                 /* close once out is flushed */
	int64_t since;                /* ms: last request or last progress */
	char in[RFX_ADMIN_LINE_MAX];
	size_t inlen;
	char *out;
	size_t outlen, outcap, outpos;
};

struct rfx_admin_server {
	int fd;
	char path[108];
	rfx_admin_request_fn fn;
	void *ctx;
	int64_t now;
	struct rfx_admin_client c[RFX_ADMIN_MAX_CLIENTS];
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A socket file nobody accepts on is left over from a ringfixd that died. */
static int claim_path(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not replacing it", path);
		return -EEXIST;
	}
	int fd = rfx_admin_connect(path, 1000);
	if (fd >= 0) {
		close(fd);
		snprintf(err, errlen, "%s: another ringfixd serves this instance", path);
		return -EADDRINUSE;
	}
	if (fd != -ECONNREFUSED) {
		snprintf(err, errlen, "%s: %s", path, strerror(-fd));
		return fd;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int rfx_admin_server_open(struct rfx_admin_server **out, const char *path, bool group_access,
			  rfx_admin_request_fn fn, void *ctx, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t mode = group_access ? 0660 : 0600;
	struct rfx_admin_server *s;
	int rc;

	err[0] = '\0';
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: path longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	rc = claim_path(path, err, errlen);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	strcpy(sa.sun_path, path);
	strcpy(s->path, path);
	s->fn = fn;
	s->ctx = ctx;
	for (unsigned i = 0; i < RFX_ADMIN_MAX_CLIENTS; i++) {
		s->c[i].fd = -1;
		s->c[i].srv = s;
	}
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		rc = -errno;
		goto err_free;
	}
	/* Never a moment with wider permissions than asked: umask at bind. */
	mode_t old = umask(0777 & ~mode);
	rc = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (rc == 0 && chmod(path, mode) < 0)
		rc = -errno;
	if (rc == 0 && listen(s->fd, 16) < 0)
		rc = -errno;
	if (rc < 0)
		goto err_close;
	*out = s;
	return 0;

err_close:
	snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	close(s->fd);
	unlink(path);
err_free:
	free(s);
	return rc;
}

static void client_free(struct rfx_admin_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	struct rfx_admin_server *s = c->srv;
	memset(c, 0, sizeof(*c));
	c->srv = s;
	c->fd = -1;
}

/* The peer is gone or misbehaved: a busy client keeps its slot until the
 * pending answer arrives (the callback still holds it). */
static void client_drop(struct rfx_admin_client *c)
{
	if (c->busy) {
		c->gone = true;
		if (c->fd >= 0) {
			close(c->fd);
			c->fd = -2;
		}
		return;
	}
	client_free(c);
}

void rfx_admin_server_free(struct rfx_admin_server *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < RFX_ADMIN_MAX_CLIENTS; i++)
		if (s->c[i].fd != -1)
			client_free(&s->c[i]);
	close(s->fd);
	unlink(s->path);
	free(s);
}

void rfx_admin_server_close_fds(struct rfx_admin_server *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < RFX_ADMIN_MAX_CLIENTS; i++)
		if (s->c[i].fd >= 0)
			close(s->c[i].fd);
	close(s->fd);
}

static void out_append(struct rfx_admin_client *c, const char *p, size_t n)
{
	if (c->gone || c->closing)
		return;
	if (c->outlen + n > RFX_ADMIN_OUT_MAX) {
		c->closing = true; /* an answer that large is not going to be read */
		c->outlen = c->outpos = 0;
		return;
	}
	if (c->outlen + n > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + n)
			cap *= 2;
		char *nb = realloc(c->out, cap);
		if (!nb) {
			c->closing = true;
			return;
		}
		c->out = nb;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

static void vline(struct rfx_admin_client *c, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	int k = snprintf(line, sizeof(line), "%s", prefix);
	int m = vsnprintf(line + k, sizeof(line) - (size_t)k - 1, fmt, ap);
	size_t len = (size_t)k + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	/* One answer line per line: a newline in a text would forge another. */
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	out_append(c, line, len);
}

static void finish(struct rfx_admin_client *c)
{
	c->busy = false;
	c->since = c->srv->now ? c->srv->now : mono_ms();
	if (c->gone)
		client_free(c);
}

void rfx_admin_reply_line(struct rfx_admin_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(c, "", fmt, ap);
	va_end(ap);
}

void rfx_admin_reply_ok(struct rfx_admin_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(c, "OK ", fmt, ap);
	va_end(ap);
	finish(c);
}

void rfx_admin_reply_err(struct rfx_admin_client *c, const char *code, const char *fmt, ...)
{
	char prefix[32];
	va_list ap;
	snprintf(prefix, sizeof(prefix), "ERR %s ", code);
	va_start(ap, fmt);
	vline(c, prefix, fmt, ap);
	va_end(ap);
	finish(c);
}

unsigned rfx_admin_server_pollfds(struct rfx_admin_server *s, struct pollfd *pfd)
{
	unsigned n = 0;
	pfd[n++] = (struct pollfd){.fd = s->fd, .events = POLLIN};
	for (unsigned i = 0; i < RFX_ADMIN_MAX_CLIENTS; i++) {
		struct rfx_admin_client *c = &s->c[i];
		if (c->fd < 0)
			continue;
		short ev = 0;
		if (!c->busy && !c->closing)
			ev |= POLLIN;
		if (c->outpos < c->outlen)
			ev |= POLLOUT;
		pfd[n++] = (struct pollfd){.fd = c->fd, .events = ev};
	}
	return n;
}

static void accept_all(struct rfx_admin_server *s)
{
	for (;;) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct rfx_admin_client *c = NULL;
		for (unsigned i = 0; i < RFX_ADMIN_MAX_CLIENTS && !c; i++)
			if (s->c[i].fd == -1)
				c = &s->c[i];
		if (!c) {
			static const char busy[] = "ERR busy too many admin connections\n";
			ssize_t w = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)w;
			close(fd);
			continue;
		}
		c->fd = fd;
		c->since = s->now;
	}
}

/* Complete lines in c->in become requests, one at a time. */
static void take_requests(struct rfx_admin_client *c)
{
	while (!c->busy && !c->closing && c->fd >= 0) {
		char *lf = memchr(c->in, '\n', c->inlen);
		if (!lf) {
			if (c->inlen == sizeof(c->in)) {
				rfx_admin_reply_err(c, "toolong", "request line longer than %u bytes",
						    RFX_ADMIN_LINE_MAX);
				c->closing = true;
			}
			return;
		}
		size_t len = (size_t)(lf - c->in);
		struct rfx_admin_req req;
		struct rfx_admin_error err;
		c->busy = true;
		c->since = c->srv->now;
		if (rfx_admin_parse(c->in, len, &req, &err) < 0)
			rfx_admin_reply_err(c, err.code, "%s", err.text);
		/* Consume before the callback: it may answer (and free) at once. */
		memmove(c->in, lf + 1, c->inlen - len - 1);
		c->inlen -= len + 1;
		if (c->busy)
			c->srv->fn(c->srv->ctx, c, &req);
	}
}

static void client_io(struct rfx_admin_client *c, short rev)
{
	if (rev & POLLOUT) {
		while (c->outpos < c->outlen) {
			ssize_t w = send(c->fd, c->out + c->outpos, c->outlen - c->outpos,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w <= 0) {
				if (w < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				client_drop(c);
				return;
			}
			c->outpos += (size_t)w;
			c->since = c->srv->now;
		}
		if (c->outpos == c->outlen)
			c->outpos = c->outlen = 0;
	}
	if ((rev & (POLLIN | POLLHUP | POLLERR)) && !c->busy && !c->closing) {
		ssize_t r = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			client_drop(c);
			return;
		}
		if (r > 0) {
			c->inlen += (size_t)r;
			take_requests(c);
		}
	} else if ((rev & (POLLHUP | POLLERR)) && c->busy) {
		client_drop(c);
	}
}

void rfx_admin_server_handle(struct rfx_admin_server *s, const struct pollfd *pfd, unsigned n,
			     int64_t now_ms)
{
	s->now = now_ms;
	for (unsigned k = 1; k < n; k++) {
		if (!pfd[k].revents)
			continue;
		for (unsigned i = 0; i < RFX_ADMIN_MAX_CLIENTS; i++)
			if (s->c[i].fd == pfd[k].fd) {
				client_io(&s->c[i], pfd[k].revents);
				break;
			}
	}
	if (n && (pfd[0].revents & POLLIN))
		accept_all(s);
	for (unsigned i = 0; i < RFX_ADMIN_MAX_CLIENTS; i++) {
		struct rfx_admin_client *c = &s->c[i];
		if (c->fd < 0)
			continue;
		/* Pipelined requests that arrived with an earlier one. */
		if (!c->busy)
			take_requests(c);
		if (c->fd < 0)
			continue;
		bool flushed = c->outpos == c->outlen;
		if (c->closing && flushed) {
			client_free(c);
			continue;
		}
		/* Silence or an unread answer past the limit ends the connection;
		 * a request waiting for its shard is bounded by the supervisor. */
		if (!c->busy && now_ms - c->since > RFX_ADMIN_IDLE_MS)
			client_drop(c);
	}
}
