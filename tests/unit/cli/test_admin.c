/*
 * cli/admin: the RFXADM/1 request parser (inputs against a guard page) and
 * ringfixd's admin socket server driven over real unix sockets: answers,
 * pipelining, limits, timeouts, permissions, stale and live socket files.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/admin.h"
#include "cli/admin_server.h"
#include "unit/guard.h"

static int parse(const char *text, struct rfx_admin_req *req, struct rfx_admin_error *err)
{
	struct guard g;
	size_t len = strlen(text);
	char *p = guard_place(&g, text, len);
	cr_assert(p);
	int rc = rfx_admin_parse(p, len, req, err);
	guard_release(&g);
	return rc;
}

Test(admin_parse, valid_requests, .timeout = 10)
{
	struct rfx_admin_req r;
	struct rfx_admin_error e;
	cr_assert_eq(parse("RFXADM/1 ping", &r, &e), 0);
	cr_assert_eq(r.verb, RFX_ADMIN_PING);
	cr_assert_str_eq(r.session, "");
	cr_assert_eq(parse("RFXADM/1 sessions\r", &r, &e), 0, "CR before LF is ignored");
	cr_assert_eq(r.verb, RFX_ADMIN_SESSIONS);
	cr_assert_eq(parse("RFXADM/1 logout FIX.4.4:BANK->VENUE", &r, &e), 0);
	cr_assert_eq(r.verb, RFX_ADMIN_LOGOUT);
	cr_assert_str_eq(r.session, "FIX.4.4:BANK->VENUE");
	cr_assert_eq(parse("RFXADM/1 logon FIXT.1.1:S/desk->T:q", &r, &e), 0);
	cr_assert_eq(r.verb, RFX_ADMIN_LOGON);
	cr_assert_eq(parse("RFXADM/1 reset A->B", &r, &e), 0);
	cr_assert_eq(r.verb, RFX_ADMIN_RESET);
	cr_assert_eq(parse("RFXADM/1 disconnect A->B", &r, &e), 0);
	cr_assert_eq(r.verb, RFX_ADMIN_DISCONNECT);
	for (int v = RFX_ADMIN_PING; v <= RFX_ADMIN_DISCONNECT; v++)
		cr_assert(rfx_admin_verb_name((enum rfx_admin_verb)v));
	cr_assert_null(rfx_admin_verb_name((enum rfx_admin_verb)99));
}

static void bad(const char *text, const char *code)
{
	struct rfx_admin_req r;
	struct rfx_admin_error e = {0};
	cr_assert_eq(parse(text, &r, &e), -EINVAL, "accepted '%s'", text);
	cr_assert_str_eq(e.code, code, "'%s': %s", text, e.text);
	cr_assert(e.text && e.text[0]);
}

Test(admin_parse, malformed_requests, .timeout = 10)
{
	bad("", "usage");
	bad("ping", "usage");
	bad("rfxadm/1 ping", "usage");
	bad("RFXADM/2 ping", "version");
	bad("RFXADM/10 ping", "version");
	bad("RFXADM/1", "usage");
	bad("RFXADM/1 ", "usage");
	bad("RFXADM/1 PING", "usage");
	bad("RFXADM/1 pingx", "usage");
	bad("RFXADM/1 ping extra", "usage");
	bad("RFXADM/1 ping ", "usage");
	bad("RFXADM/1  ping", "usage");
	bad("RFXADM/1 logout", "usage");
	bad("RFXADM/1 logout ", "usage");
	bad("RFXADM/1 logout A->B extra", "usage");
	bad("RFXADM/1 logout A->B ", "usage");
	bad("RFXADM/1 reset A\tB", "usage");
	bad("RFXADM/1 reset \xc3\xa9", "usage");
	char longid[100];
	memset(longid, 'x', sizeof(longid));
	longid[sizeof(longid) - 1] = 0;
	char line[200];
	snprintf(line, sizeof(line), "RFXADM/1 reset %s", longid);
	bad(line, "usage");
	char huge[RFX_ADMIN_LINE_MAX + 10];
	memset(huge, 'a', sizeof(huge));
	huge[sizeof(huge) - 1] = 0;
	bad(huge, "toolong");
	/* NUL inside the line is a control byte, not an end. */
	struct rfx_admin_req r;
	struct rfx_admin_error e;
	cr_assert_eq(rfx_admin_parse("RFXADM/1 ping\0x", 15, &r, &e), -EINVAL);
}

/* ------------------------------------------------------------------ server */

struct fixture {
	char dir[64], path[128];
	struct rfx_admin_server *srv;
	int64_t now;
	unsigned requests;
	bool defer;                   /* hold the answer in pending */
	struct rfx_admin_client *pending;
};

static struct fixture fx;

static void on_request(void *ctx, struct rfx_admin_client *c, const struct rfx_admin_req *r)
{
	struct fixture *f = ctx;
	f->requests++;
	if (f->defer) {
		f->pending = c;
		return;
	}
	if (r->verb == RFX_ADMIN_SESSIONS) {
		rfx_admin_reply_line(c, "S 0 ACTIVE 2 3 FIX.4.4:A->B");
		rfx_admin_reply_ok(c, "1 session");
	} else if (r->verb == RFX_ADMIN_RESET) {
		rfx_admin_reply_err(c, "state", "%s: text with\na newline", r->session);
	} else {
		rfx_admin_reply_ok(c, "%s %s", rfx_admin_verb_name(r->verb), r->session);
	}
}

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/rfx-admin-ut.XXXXXX");
	cr_assert(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/a.sock", fx.dir);
	fx.now = 1000;
}

static void teardown(void)
{
	rfx_admin_server_free(fx.srv);
	unlink(fx.path);
	rmdir(fx.dir);
}

static void open_server(bool group)
{
	char err[256];
	int rc = rfx_admin_server_open(&fx.srv, fx.path, group, on_request, &fx, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
}

/* One poll round of the server (no waiting), at fx.now. */
static void turn(void)
{
	struct pollfd pfd[1 + RFX_ADMIN_MAX_CLIENTS];
	unsigned n = rfx_admin_server_pollfds(fx.srv, pfd);
	int rc = poll(pfd, n, 20);
	cr_assert(rc >= 0);
	rfx_admin_server_handle(fx.srv, pfd, n, fx.now);
}

static int client(void)
{
	int fd = rfx_admin_connect(fx.path, 2000);
	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	return fd;
}

static void say(int fd, const char *text)
{
	cr_assert_eq(send(fd, text, strlen(text), MSG_NOSIGNAL), (ssize_t)strlen(text));
}

/* Turns the server until the client has `lines` answer lines (or EOF). */
static char *hear(int fd, int lines, char *buf, size_t n)
{
	size_t len = 0;
	int got = 0;
	for (int i = 0; i < 200 && got < lines; i++) {
		turn();
		ssize_t r = recv(fd, buf + len, n - 1 - len, MSG_DONTWAIT);
		if (r == 0)
			break;
		if (r > 0) {
			len += (size_t)r;
			buf[len] = 0;
			got = 0;
			for (size_t k = 0; k < len; k++)
				got += buf[k] == '\n';
		}
	}
	buf[len] = 0;
	return buf;
}

/* True when the server has closed fd (after serving the server a few turns). */
static bool closed_by_server(int fd)
{
	char b[256];
	for (int i = 0; i < 100; i++) {
		turn();
		ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (r == 0)
			return true;
	}
	return false;
}

Test(admin_server, answers_and_pipelining, .init = setup, .fini = teardown, .timeout = 20)
{
	char buf[1024];
	open_server(false);
	struct stat st;
	cr_assert_eq(stat(fx.path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600);
	int fd = client();
	say(fd, "RFXADM/1 ping\n");
	cr_assert_str_eq(hear(fd, 1, buf, sizeof(buf)), "OK ping \n");
	/* Three requests in one write, answered in order; a parse error does
	 * not end the connection. */
	say(fd, "RFXADM/1 sessions\nRFXADM/9 ping\nRFXADM/1 reset A->B\n");
	hear(fd, 4, buf, sizeof(buf));
	cr_assert_str_eq(buf, "S 0 ACTIVE 2 3 FIX.4.4:A->B\nOK 1 session\n"
			      "ERR version unsupported protocol version (this ringfixd speaks RFXADM/1)\n"
			      "ERR state A->B: text with a newline\n");
	close(fd);
}

Test(admin_server, group_access_mode, .init = setup, .fini = teardown, .timeout = 10)
{
	struct stat st;
	open_server(true);
	cr_assert_eq(stat(fx.path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0660);
}

Test(admin_server, request_line_too_long, .init = setup, .fini = teardown, .timeout = 20)
{
	char buf[1024], junk[RFX_ADMIN_LINE_MAX + 100];
	open_server(false);
	int fd = client();
	memset(junk, 'a', sizeof(junk));
	cr_assert_eq(send(fd, junk, sizeof(junk), MSG_NOSIGNAL), (ssize_t)sizeof(junk));
	hear(fd, 1, buf, sizeof(buf));
	cr_assert(strstr(buf, "ERR toolong "), "%s", buf);
	cr_assert(closed_by_server(fd));
	close(fd);
	cr_assert_eq(fx.requests, 0);
}

Test(admin_server, silent_client_times_out, .init = setup, .fini = teardown, .timeout = 20)
{
	open_server(false);
	int fd = client();
	say(fd, "RFXADM/1 pi"); /* half a request, then nothing */
	turn();
	turn();
	fx.now += RFX_ADMIN_IDLE_MS + 1;
	cr_assert(closed_by_server(fd));
	close(fd);
	/* The server still serves others. */
	char buf[256];
	fd = client();
	say(fd, "RFXADM/1 ping\n");
	cr_assert(strstr(hear(fd, 1, buf, sizeof(buf)), "OK ping"));
	close(fd);
}

Test(admin_server, too_many_connections_get_busy, .init = setup, .fini = teardown, .timeout = 20)
{
	int fds[RFX_ADMIN_MAX_CLIENTS];
	char buf[256];
	open_server(false);
	for (unsigned i = 0; i < RFX_ADMIN_MAX_CLIENTS; i++) {
		fds[i] = client();
		turn();
	}
	int extra = client();
	hear(extra, 1, buf, sizeof(buf));
	cr_assert_str_eq(buf, "ERR busy too many admin connections\n");
	close(extra);
	say(fds[3], "RFXADM/1 ping\n");
	cr_assert(strstr(hear(fds[3], 1, buf, sizeof(buf)), "OK ping"));
	for (unsigned i = 0; i < RFX_ADMIN_MAX_CLIENTS; i++)
		close(fds[i]);
}

/* A deferred answer (a shard command) survives its client going away and
 * frees the slot when it comes; a busy client is not timed out by the
 * server (its bound is the supervisor's). */
Test(admin_server, deferred_answer_after_client_left, .init = setup, .fini = teardown, .timeout = 20)
{
	char buf[256];
	open_server(false);
	fx.defer = true;
	int fd = client();
	say(fd, "RFXADM/1 logout A->B\n");
	for (int i = 0; i < 50 && !fx.pending; i++)
		turn();
	cr_assert(fx.pending);
	fx.now += RFX_ADMIN_IDLE_MS * 2;
	turn();
	rfx_admin_reply_ok(fx.pending, "late");
	cr_assert(strstr(hear(fd, 1, buf, sizeof(buf)), "OK late"), "%s", buf);
	say(fd, "RFXADM/1 logon A->B\n");
	fx.pending = NULL;
	for (int i = 0; i < 50 && !fx.pending; i++)
		turn();
	cr_assert(fx.pending);
	close(fd);
	for (int i = 0; i < 5; i++)
		turn();
	rfx_admin_reply_ok(fx.pending, "nobody listens");
	fx.defer = false;
	for (unsigned i = 0; i < RFX_ADMIN_MAX_CLIENTS; i++) {
		int c = client();
		turn();
		say(c, "RFXADM/1 ping\n");
		cr_assert(strstr(hear(c, 1, buf, sizeof(buf)), "OK ping"), "slot %u: %s", i, buf);
		close(c);
	}
}

Test(admin_server, stale_socket_replaced_live_or_foreign_refused, .init = setup, .fini = teardown,
     .timeout = 20)
{
	char err[256];
	struct rfx_admin_server *other = NULL;
	/* A socket file nobody listens on, as a killed ringfixd leaves it. */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, fx.path);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	open_server(false);
	cr_assert_eq(rfx_admin_server_open(&other, fx.path, false, on_request, &fx, err,
					   sizeof(err)), -EADDRINUSE);
	cr_assert(strstr(err, "another ringfixd"), "%s", err);
	rfx_admin_server_free(fx.srv);
	fx.srv = NULL;
	cr_assert_eq(access(fx.path, F_OK), -1, "socket file removed at close");
	int f = open(fx.path, O_CREAT | O_WRONLY, 0600);
	close(f);
	cr_assert_eq(rfx_admin_server_open(&other, fx.path, false, on_request, &fx, err,
					   sizeof(err)), -EEXIST);
	cr_assert(strstr(err, "not a socket"), "%s", err);
	cr_assert_eq(access(fx.path, F_OK), 0, "a regular file is never removed");
}

Test(admin_paths, default_path_and_connect_errors, .timeout = 10)
{
	char path[256], dir[64];
	snprintf(dir, sizeof(dir), "/tmp/rfx-admin-xdg.XXXXXX");
	cr_assert(mkdtemp(dir));
	setenv("XDG_RUNTIME_DIR", dir, 1);
	/* No socket anywhere: where a server would put it, named for the instance. */
	cr_assert_eq(rfx_admin_default_path("utnosuch", false, path, sizeof(path)), 0);
	cr_assert(strstr(path, "/ringfix.utnosuch.sock"), "%s", path);
	cr_assert_eq(rfx_admin_connect(path, 100), -ENOENT);
	/* A socket in $XDG_RUNTIME_DIR is found by the client. */
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/ringfix.utxdg.sock", dir);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(rfx_admin_default_path("utxdg", false, path, sizeof(path)), 0);
	cr_assert_str_eq(path, sock);
	cr_assert_eq(rfx_admin_connect(path, 100), -ECONNREFUSED, "bound, not listening");
	close(s);
	unlink(sock);
	rmdir(dir);
	unsetenv("XDG_RUNTIME_DIR");
}
