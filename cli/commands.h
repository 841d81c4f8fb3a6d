/*
 * The `ringfix` command-line tool: one function per subcommand.
 *
 * Each rfx_cli_<name>() gets the arguments after the command name with argv[0]
 * set to the command name (as a main() would), prints its own output and errors,
 * and returns the process exit code:
 *   RFX_CLI_OK     0  done
 *   RFX_CLI_FAIL   1  operational failure (instance missing, file unreadable, ...)
 *   RFX_CLI_USAGE  2  usage error or bad input (unknown option, invalid settings)
 * Every command accepts --help (usage on stdout, exit 0). Errors are one line
 * on stderr: "ringfix CMD: what: which: why".
 */
#ifndef RFX_CLI_COMMANDS_H
#define RFX_CLI_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

enum { RFX_CLI_OK = 0, RFX_CLI_FAIL = 1, RFX_CLI_USAGE = 2 };

int rfx_cli_decode(int argc, char **argv);
int rfx_cli_config(int argc, char **argv);
int rfx_cli_status(int argc, char **argv);
/* The acceptance application of ../shared/conformance as a libringfix client. */
int rfx_cli_echo(int argc, char **argv);
/* A venue simulator (acks, seeded fills, cancels) as a libringfix client. */
int rfx_cli_venue(int argc, char **argv);
/* Session commands and admin requests over ringfixd's admin socket. */
int rfx_cli_logout(int argc, char **argv);
int rfx_cli_logon(int argc, char **argv);
int rfx_cli_reset(int argc, char **argv);
int rfx_cli_disconnect(int argc, char **argv);
int rfx_cli_admin(int argc, char **argv);

/* Helpers shared by the commands (cli/util.c). */

/* Prints "ringfix CMD: <formatted>\n" on stderr. */
void rfx_cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes s as a JSON string literal (quotes and escapes included). */
void rfx_cli_json_str(FILE *f, const char *s);
/* Calls fn(ctx, id) for every session ID in the session directories of every
 * shard of instance (mapped read-only), until fn returns false. Returns 0, or
 * the error of opening a shard's segment (shm/segment.h). */
int rfx_cli_each_session(const char *instance, bool (*fn)(void *ctx, const char *id), void *ctx);

/* Reads all of path ("-" or NULL: stdin) into a new NUL-terminated buffer.
 * Returns 0 and *out and *len (free *out), or a negative errno. */
int rfx_cli_read_all(const char *path, char **out, size_t *len);

#endif
