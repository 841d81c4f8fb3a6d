/*
 * The admin protocol between `ringfix` and `ringfixd`: one unix stream socket
 * per instance, a line protocol, version RFXADM/1.
 *
 * Request (client -> ringfixd), one line, at most RFX_ADMIN_LINE_MAX bytes
 * with its LF (a CR before the LF is ignored):
 *     RFXADM/1 ping
 *     RFXADM/1 sessions
 *     RFXADM/1 logout|logon|reset|disconnect SESSION
 * SESSION as `ringfix status` prints it (BEGINSTRING:SENDER->TARGET[:QUAL]).
 * Answer (ringfixd -> client): zero or more data lines, then one final line:
 *     S SHARD STATE NEXT_OUT NEXT_IN SESSION     a session (sessions)
 *     OK TEXT                                    done
 *     ERR CODE TEXT                              failed; CODE is one word:
 *        usage      malformed request (unknown verb, missing or extra argument)
 *        version    another protocol version than RFXADM/1
 *        toolong    request line longer than RFX_ADMIN_LINE_MAX
 *        nosession  no such session in this instance
 *        shard      the session's shard is not running (restarting)
 *        timeout    the shard did not answer in time
 *        state      the session cannot do that now (e.g. not connected)
 *        busy       too many admin connections
 *        failed     the shard tried and failed (TEXT says why)
 * A connection may carry several requests, answered in order. ringfixd closes
 * a connection that stays silent too long, sends an over-long line, or does
 * not read its answers.
 *
 * Everything here is pure or cold-path socket code, libc only.
 */
#ifndef RFX_CLI_ADMIN_H
#define RFX_CLI_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#define RFX_ADMIN_VERSION "RFXADM/1"
#define RFX_ADMIN_LINE_MAX 512u       /* request line incl. LF */
#define RFX_ADMIN_SESSION_MAX 64u     /* incl. NUL (= the segment directory's) */

enum rfx_admin_verb {
	RFX_ADMIN_PING = 1,
	RFX_ADMIN_SESSIONS,
	RFX_ADMIN_LOGOUT,
	RFX_ADMIN_LOGON,
	RFX_ADMIN_RESET,
	RFX_ADMIN_DISCONNECT,
};

struct rfx_admin_req {
	enum rfx_admin_verb verb;
	char session[RFX_ADMIN_SESSION_MAX]; /* "" for ping and sessions */
};

/* A parse failure: the ERR code word and a sentence for the operator. */
struct rfx_admin_error {
	const char *code;
	const char *text;
};

/* Parse one request line of len bytes (without its LF; may contain anything,
 * including NUL). Returns 0 and *req, or -EINVAL and *err (static strings). */
int rfx_admin_parse(const char *line, size_t len, struct rfx_admin_req *req,
		    struct rfx_admin_error *err);

/* Name of a verb as it is written on the wire ("logout"), or NULL. */
const char *rfx_admin_verb_name(enum rfx_admin_verb v);

/* The socket path ringfixd uses for instance when AdminSocket is not set:
 * ringfix.<instance>.sock in the first usable of /run/ringfix,
 * $XDG_RUNTIME_DIR and /tmp/ringfix-<uid> (created 0700; refused unless it is
 * a directory of ours without group/other access).
 * for_server: "usable" = writable (creating /run/ringfix or /tmp/ringfix-<uid>
 * when possible); otherwise the first directory holding the socket, else
 * where the server would put it. Returns 0 or a negative errno. */
int rfx_admin_default_path(const char *instance, bool for_server, char *out, size_t n);

/* Client: connect to the socket at path with send/receive timeouts of
 * timeout_ms. Returns the fd or a negative errno (-ENOENT: no socket,
 * -ECONNREFUSED: nobody listens, -EACCES: permission). */
int rfx_admin_connect(const char *path, int timeout_ms);

#endif
