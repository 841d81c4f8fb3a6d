/*
 * ringfixd's side of the admin socket (protocol in cli/admin.h): listening,
 * per-connection buffers, limits and timeouts. Requests go to the caller's
 * callback, which answers at once or later (a shard command answers when the
 * shard has), so a slow shard never stalls the supervisor's loop.
 *
 * Limits: RFX_ADMIN_MAX_CLIENTS connections (more get "ERR busy" and are
 * closed), one request line of RFX_ADMIN_LINE_MAX bytes, IDLE_MS of silence,
 * and an answer the client does not read within IDLE_MS ends its connection.
 * Single-threaded: call everything from the supervisor's loop.
 */
#ifndef RFX_CLI_ADMIN_SERVER_H
#define RFX_CLI_ADMIN_SERVER_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/admin.h"

#define RFX_ADMIN_MAX_CLIENTS 16u
#define RFX_ADMIN_IDLE_MS 10000
#define RFX_ADMIN_OUT_MAX (8u << 20)  /* answer bytes a client may leave unread */

struct rfx_admin_server;
struct rfx_admin_client;

/* A parsed request from client c. Answer with rfx_admin_reply_line (data
 * lines) and finish with rfx_admin_reply_ok/err, now or later; c stays valid
 * until then even if its peer goes away. */
typedef void (*rfx_admin_request_fn)(void *ctx, struct rfx_admin_client *c,
				     const struct rfx_admin_req *req);

/* Listen on path, mode 0600 (0660 with group_access). A stale socket (nobody
 * accepts) is replaced; a live one or a non-socket file is an error. Returns
 * 0 or a negative errno with a sentence in err. */
int rfx_admin_server_open(struct rfx_admin_server **out, const char *path, bool group_access,
			  rfx_admin_request_fn fn, void *ctx, char *err, size_t errlen);
/* Close every connection and remove the socket file. NULL-safe. */
void rfx_admin_server_free(struct rfx_admin_server *s);

/* In a child forked from the server's process: close its descriptors (so a
 * connection ends when the server closes it) and touch nothing else. */
void rfx_admin_server_close_fds(struct rfx_admin_server *s);

/* Fill pfd (room for 1 + RFX_ADMIN_MAX_CLIENTS) for poll(); returns the count. */
unsigned rfx_admin_server_pollfds(struct rfx_admin_server *s, struct pollfd *pfd);
/* Act on poll's results (pfd, n as filled) and on timeouts; now_ms monotonic. */
void rfx_admin_server_handle(struct rfx_admin_server *s, const struct pollfd *pfd, unsigned n,
			     int64_t now_ms);

void rfx_admin_reply_line(struct rfx_admin_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rfx_admin_reply_ok(struct rfx_admin_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rfx_admin_reply_err(struct rfx_admin_client *c, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
