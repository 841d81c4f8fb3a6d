/* The admin protocol: request parser, socket paths, client connect. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/admin.h"

static const char *const verbs[] = {
	[RFX_ADMIN_PING] = "ping",
	[RFX_ADMIN_SESSIONS] = "sessions",
	[RFX_ADMIN_LOGOUT] = "logout",
	[RFX_ADMIN_LOGON] = "logon",
	[RFX_ADMIN_RESET] = "reset",
	[RFX_ADMIN_DISCONNECT] = "disconnect",
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

const char *rfx_admin_verb_name(enum rfx_admin_verb v)
{
	return (unsigned)v < NVERBS ? verbs[v] : NULL;
}

static int fail(struct rfx_admin_error *err, const char *code, const char *text)
{
	err->code = code;
	err->text = text;
	return -EINVAL;
}

/* Next space-separated word of line[*pos..len): *w, *wl; false at the end. */
static bool word(const char *line, size_t len, size_t *pos, const char **w, size_t *wl)
{
	size_t i = *pos;
	if (i >= len)
		return false;
	size_t j = i;
	while (j < len && line[j] != ' ')
		j++;
	*w = line + i;
	*wl = j - i;
	*pos = j < len ? j + 1 : j;
	return true;
}

int rfx_admin_parse(const char *line, size_t len, struct rfx_admin_req *req,
		    struct rfx_admin_error *err)
{
	const char *w;
	size_t wl, pos = 0;

	memset(req, 0, sizeof(*req));
	if (len && line[len - 1] == '\r')
		len--;
	if (len + 1 > RFX_ADMIN_LINE_MAX)
		return fail(err, "toolong", "request line too long");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e)
			return fail(err, "usage", "control or non-ASCII byte in the request");
	if (!word(line, len, &pos, &w, &wl) || wl == 0)
		return fail(err, "usage", "empty request (expected: RFXADM/1 VERB [SESSION])");
	if (wl < 7 || memcmp(w, "RFXADM/", 7) != 0)
		return fail(err, "usage", "request must start with RFXADM/1");
	if (wl != sizeof(RFX_ADMIN_VERSION) - 1 || memcmp(w, RFX_ADMIN_VERSION, wl) != 0)
		return fail(err, "version", "unsupported protocol version (this ringfixd speaks "
					    RFX_ADMIN_VERSION ")");
	if (!word(line, len, &pos, &w, &wl) || wl == 0)
		return fail(err, "usage", "missing verb (ping, sessions, logout, logon, reset, "
					  "disconnect)");
	for (size_t v = 1; v < NVERBS; v++)
		if (strlen(verbs[v]) == wl && memcmp(verbs[v], w, wl) == 0)
			req->verb = (enum rfx_admin_verb)v;
	if (!req->verb)
		return fail(err, "usage", "unknown verb (ping, sessions, logout, logon, reset, "
					  "disconnect)");
	bool wants_session = req->verb != RFX_ADMIN_PING && req->verb != RFX_ADMIN_SESSIONS;
	if (wants_session) {
		if (!word(line, len, &pos, &w, &wl) || wl == 0)
			return fail(err, "usage", "missing SESSION (as ringfix status prints it)");
		if (wl >= RFX_ADMIN_SESSION_MAX)
			return fail(err, "usage", "SESSION too long");
		memcpy(req->session, w, wl);
		req->session[wl] = '\0';
	}
	if (pos < len || (len && line[len - 1] == ' '))
		return fail(err, "usage", wants_session ? "extra words after SESSION"
							: "extra words after the verb");
	return 0;
}

static int usable_dir(const char *dir, mode_t create)
{
	struct stat st;
	if (create && mkdir(dir, create) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return access(dir, W_OK | X_OK) == 0 ? 0 : -EACCES;
}

/* /tmp is shared: only a directory we own, closed to others, will do. */
static int private_dir(const char *dir)
{
	struct stat st;
	int rc = usable_dir(dir, 0700);
	if (rc < 0)
		return rc;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (st.st_uid != getuid() || (st.st_mode & 077))
		return -EPERM;
	return 0;
}

static int join(char *out, size_t n, const char *dir, const char *instance)
{
	int k = snprintf(out, n, "%s/ringfix.%s.sock", dir, instance);
	if (k < 0 || (size_t)k >= n || (size_t)k >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int rfx_admin_default_path(const char *instance, bool for_server, char *out, size_t n)
{
	char dirs[3][256];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	unsigned nd = 0;
	struct stat st;

	snprintf(dirs[nd++], sizeof(dirs[0]), "/run/ringfix");
	if (xdg && xdg[0] == '/' && strlen(xdg) < sizeof(dirs[0]))
		snprintf(dirs[nd++], sizeof(dirs[0]), "%s", xdg);
	snprintf(dirs[nd++], sizeof(dirs[0]), "/tmp/ringfix-%u", (unsigned)getuid());
	if (!for_server) {
		for (unsigned i = 0; i < nd; i++)
			if (join(out, n, dirs[i], instance) == 0 && lstat(out, &st) == 0 &&
			    S_ISSOCK(st.st_mode))
				return 0;
	}
	for (unsigned i = 0; i < nd; i++) {
		int rc;
		if (i == nd - 1)
			rc = for_server ? private_dir(dirs[i]) : 0;
		else
			/* /run/ringfix: the socket's own mode guards it, so a
			 * group may reach it (AdminGroupAccess). */
			rc = usable_dir(dirs[i], for_server && i == 0 ? 0755 : 0);
		if (rc == 0)
			return join(out, n, dirs[i], instance);
	}
	return -EACCES;
}

int rfx_admin_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}
