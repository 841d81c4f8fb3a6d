/*
 * ringfix logout|logon|reset|disconnect SESSION [--instance NAME | --socket PATH]
 * ringfix admin ping|sessions [--instance NAME | --socket PATH]
 *
 * Talk to a running ringfixd over its admin socket (cli/admin.h): one request,
 * its answer printed, exit 0 on OK and 1 on ERR (the reason on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/admin.h"
#include "cli/commands.h"
#include "shm/segment.h"

#define REPLY_TIMEOUT_MS 15000 /* above ringfixd's own bound on a shard's answer */

struct target {
	const char *instance;
	const char *socket;
	char path[256];
};

static const char *const session_help[] = {
	[RFX_ADMIN_LOGOUT] = "Log the session out (Logout handshake) and keep it out: an initiator\n"
			     "does not reconnect and an acceptor refuses the counterparty's Logon\n"
			     "until 'ringfix logon SESSION'.",
	[RFX_ADMIN_LOGON] = "Allow the session to log on again after 'ringfix logout': an initiator\n"
			    "connects at once, an acceptor waits for the counterparty.",
	[RFX_ADMIN_RESET] = "Reset both sequence numbers to 1 (stored). Logged on: a Logon with\n"
			    "ResetSeqNumFlag=Y resets the counterparty too. Disconnected: the\n"
			    "initiator's next Logon carries ResetSeqNumFlag=Y; an acceptor's\n"
			    "counterparty must reset its side itself.",
	[RFX_ADMIN_DISCONNECT] = "Drop the session's connection without a Logout. An initiator\n"
				 "reconnects after its ReconnectInterval.",
};

static void target_usage(FILE *f)
{
	fprintf(f, "  --instance NAME  InstanceName of [ENGINE] (default: ringfix); its socket is\n"
		   "                   ringfix.NAME.sock in /run/ringfix, $XDG_RUNTIME_DIR or\n"
		   "                   /tmp/ringfix-UID\n"
		   "  --socket PATH    the AdminSocket of [ENGINE] instead\n"
		   "exit status: 0 done, 1 refused or engine unreachable, 2 usage\n");
}

/* Options shared by every command; returns the index of a positional
 * argument consumed into *pos (NULL when none), or -1 after an error. */
static int parse_args(const char *cmd, int argc, char **argv, struct target *t,
		      const char **pos, void (*usage)(FILE *, const char *))
{
	*pos = NULL;
	t->instance = "ringfix";
	t->socket = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout, cmd);
			return 0;
		} else if (!strcmp(argv[i], "--instance") && i + 1 < argc) {
			t->instance = argv[++i];
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			t->socket = argv[++i];
		} else if (argv[i][0] != '-' && !*pos) {
			*pos = argv[i];
		} else {
			rfx_cli_err(cmd, "unexpected argument '%s' (see ringfix %s --help)", argv[i],
				    cmd);
			return -1;
		}
	}
	return 1;
}

/* The socket to use; prints the error and returns -2 for a bad instance
 * name (usage), -1 when there is no socket directory at all. */
static int resolve(const char *cmd, struct target *t)
{
	if (t->socket) {
		snprintf(t->path, sizeof(t->path), "%s", t->socket);
		return 0;
	}
	char name[RFX_SEG_NAME_MAX];
	if (rfx_seg_name(name, sizeof(name), t->instance, 0) < 0) {
		rfx_cli_err(cmd, "instance name '%s': 1-31 characters of A-Z a-z 0-9 _ -",
			    t->instance);
		return -2;
	}
	int rc = rfx_admin_default_path(t->instance, false, t->path, sizeof(t->path));
	if (rc < 0) {
		rfx_cli_err(cmd, "instance '%s': no admin socket directory: %s", t->instance,
			    strerror(-rc));
		return -1;
	}
	return 0;
}

static void connect_error(const char *cmd, const struct target *t, int rc)
{
	const char *who = t->socket ? "the engine" : t->instance;
	switch (rc) {
	case -ENOENT:
		rfx_cli_err(cmd, "%s%s%s is not running (no admin socket %s)", t->socket ? "" : "instance '",
			    who, t->socket ? "" : "'", t->path);
		break;
	case -ECONNREFUSED:
		rfx_cli_err(cmd, "%s%s%s is not running (nobody listens on %s)",
			    t->socket ? "" : "instance '", who, t->socket ? "" : "'", t->path);
		break;
	case -EACCES:
	case -EPERM:
		rfx_cli_err(cmd, "%s: permission denied (run as the engine's user, or as its group "
			    "with AdminGroupAccess=Y)", t->path);
		break;
	default:
		rfx_cli_err(cmd, "%s: %s", t->path, strerror(-rc));
	}
}

/* Send one request and hand each answer line (without LF) to fn, the final
 * OK line's text included. Returns 0 (OK), 1 (ERR, printed), -1 (transport
 * failure, printed) or -2 (bad instance name, printed). */
static int call(const char *cmd, struct target *t, const char *request,
		void (*fn)(void *ctx, const char *line), void *ctx)
{
	int rc = resolve(cmd, t);
	if (rc < 0)
		return rc;
	int fd = rfx_admin_connect(t->path, REPLY_TIMEOUT_MS);
	if (fd < 0) {
		connect_error(cmd, t, fd);
		return -1;
	}
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s %s\n", RFX_ADMIN_VERSION, request);
	if (send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
		rfx_cli_err(cmd, "%s: cannot send the request: %s", t->path, strerror(errno));
		close(fd);
		return -1;
	}
	char buf[4096];
	size_t len = 0;
	int ret = -1;
	for (;;) {
		char *lf = memchr(buf, '\n', len);
		if (!lf) {
			if (len == sizeof(buf)) {
				rfx_cli_err(cmd, "%s: answer line too long", t->path);
				break;
			}
			ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);
			if (r > 0) {
				len += (size_t)r;
				continue;
			}
			if (r == 0)
				rfx_cli_err(cmd, "%s: ringfixd closed the connection without an answer",
					    t->path);
			else if (errno == EAGAIN || errno == EWOULDBLOCK)
				rfx_cli_err(cmd, "%s: no answer from ringfixd within %d s", t->path,
					    REPLY_TIMEOUT_MS / 1000);
			else
				rfx_cli_err(cmd, "%s: %s", t->path, strerror(errno));
			break;
		}
		*lf = '\0';
		if (!strncmp(buf, "OK", 2) && (buf[2] == ' ' || !buf[2])) {
			fn(ctx, buf[2] ? buf + 3 : "");
			ret = 0;
			break;
		}
		if (!strncmp(buf, "ERR ", 4)) {
			const char *text = strchr(buf + 4, ' ');
			rfx_cli_err(cmd, "%s", text ? text + 1 : buf + 4);
			ret = 1;
			break;
		}
		fn(ctx, buf);
		size_t used = (size_t)(lf + 1 - buf);
		memmove(buf, lf + 1, len - used);
		len -= used;
	}
	close(fd);
	return ret;
}

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	printf("%s\n", line);
}

static int exit_code(int rc)
{
	return rc == 0 ? RFX_CLI_OK : rc == -2 ? RFX_CLI_USAGE : RFX_CLI_FAIL;
}

static void session_usage(FILE *f, const char *cmd)
{
	enum rfx_admin_verb v = RFX_ADMIN_LOGOUT;
	for (int i = RFX_ADMIN_LOGOUT; i <= RFX_ADMIN_DISCONNECT; i++)
		if (!strcmp(rfx_admin_verb_name((enum rfx_admin_verb)i), cmd))
			v = (enum rfx_admin_verb)i;
	fprintf(f, "usage: ringfix %s SESSION [--instance NAME | --socket PATH]\n\n%s\n"
		   "SESSION as 'ringfix status' prints it, e.g. FIX.4.4:BANK->VENUE.\n",
		cmd, session_help[v]);
	target_usage(f);
}

static int session_command(int argc, char **argv)
{
	const char *cmd = argv[0], *session;
	struct target t;
	int rc = parse_args(cmd, argc, argv, &t, &session, session_usage);
	if (rc <= 0)
		return rc < 0 ? RFX_CLI_USAGE : RFX_CLI_OK;
	if (!session) {
		rfx_cli_err(cmd, "missing SESSION (see ringfix %s --help)", cmd);
		return RFX_CLI_USAGE;
	}
	if (rfx_session_id_check(session) < 0) {
		rfx_cli_err(cmd, "'%s' is not a session ID (BEGINSTRING:SENDER->TARGET[:QUALIFIER], "
			    "as ringfix status prints it)", session);
		return RFX_CLI_USAGE;
	}
	char req[128];
	snprintf(req, sizeof(req), "%s %s", cmd, session);
	return exit_code(call(cmd, &t, req, print_line, NULL));
}

int rfx_cli_logout(int argc, char **argv)
{
	return session_command(argc, argv);
}

int rfx_cli_logon(int argc, char **argv)
{
	return session_command(argc, argv);
}

int rfx_cli_reset(int argc, char **argv)
{
	return session_command(argc, argv);
}

int rfx_cli_disconnect(int argc, char **argv)
{
	return session_command(argc, argv);
}

static void admin_usage(FILE *f, const char *cmd)
{
	(void)cmd;
	fprintf(f, "usage: ringfix admin ping|sessions [--instance NAME | --socket PATH]\n\n"
		   "  ping      is ringfixd there? (its pid, shards and sessions)\n"
		   "  sessions  every configured session: shard, state, next sequence numbers\n");
	target_usage(f);
}

struct table {
	unsigned rows;
};

/* "S SHARD STATE NEXT_OUT NEXT_IN SESSION" as a table like ringfix status. */
static void print_session(void *ctx, const char *line)
{
	struct table *tb = ctx;
	unsigned shard;
	char state[32];
	unsigned long long out, in;
	int off = 0;
	if (sscanf(line, "S %u %31s %llu %llu %n", &shard, state, &out, &in, &off) != 4 || !off) {
		if (line[0] != 'S')
			printf("%s\n", line); /* the final OK's text */
		return;
	}
	if (!tb->rows++)
		printf("%-5s %-40s %-13s %12s %12s\n", "shard", "session", "state", "next out",
		       "next in");
	printf("%-5u %-40s %-13s %12llu %12llu\n", shard, line + off, state, out, in);
}

int rfx_cli_admin(int argc, char **argv)
{
	const char *sub;
	struct target t;
	int rc = parse_args("admin", argc, argv, &t, &sub, admin_usage);
	if (rc <= 0)
		return rc < 0 ? RFX_CLI_USAGE : RFX_CLI_OK;
	if (!sub || (strcmp(sub, "ping") && strcmp(sub, "sessions"))) {
		rfx_cli_err("admin", "%s '%s' (ping or sessions; see ringfix admin --help)",
			    sub ? "unknown request" : "missing request", sub ? sub : "");
		return RFX_CLI_USAGE;
	}
	struct table tb = {0};
	if (!strcmp(sub, "ping"))
		return exit_code(call("admin", &t, "ping", print_line, NULL));
	return exit_code(call("admin", &t, "sessions", print_session, &tb));
}
