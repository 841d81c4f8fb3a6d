/*
 * The shard worker: one process running one loop (shard/loop.h) for the
 * sessions the settings assign to its shard, with its LMDB environment and
 * its shared-memory segment for clients.
 *
 * The supervisor (cli/ringfixd.c) turns the parsed settings into a worker
 * configuration once (rfx_worker_conf_new), runs the store's rescale
 * migration (rfx_worker_migrate) before forking, and calls rfx_worker_run in
 * each forked child. The configuration is a plain copy: the child needs
 * nothing else from the parent.
 *
 * Nothing here prints: every event goes to the caller's log callback as one
 * line without a newline.
 */
#ifndef RFX_SHARD_WORKER_H
#define RFX_SHARD_WORKER_H

#include <stddef.h>

struct rfx_settings;
struct rfx_worker_conf;

/* One log line (no trailing newline); `ctx` as given to rfx_worker_run. */
typedef void (*rfx_worker_log_fn)(void *ctx, const char *line);

/* Translate settings (validated by rfx_settings_load) into a worker
 * configuration. Returns 0 and *out (free with rfx_worker_conf_free),
 * -ENOMEM, or RFX_ECONFIG with a message in err (a session the worker cannot
 * run, e.g. a session ID longer than the shared-memory directory allows). */
int rfx_worker_conf_new(const struct rfx_settings *s, struct rfx_worker_conf **out,
			char *err, size_t errlen);
void rfx_worker_conf_free(struct rfx_worker_conf *c);

/* Shard count, the CPU of a shard (-1: not pinned), the instance name. */
unsigned rfx_worker_conf_shards(const struct rfx_worker_conf *c);
int rfx_worker_conf_cpu(const struct rfx_worker_conf *c, unsigned shard);
const char *rfx_worker_conf_instance(const struct rfx_worker_conf *c);
/* Session count, and the ID and shard of session i (0..count-1). */
unsigned rfx_worker_conf_nsessions(const struct rfx_worker_conf *c);
const char *rfx_worker_conf_session(const struct rfx_worker_conf *c, unsigned i,
				    unsigned *shard);

/* For a reload (SIGHUP): 1 if shard `shard` runs different sessions (or
 * the same ones differently) under b than under a, else 0. */
int rfx_worker_conf_shard_differs(const struct rfx_worker_conf *a,
				  const struct rfx_worker_conf *b, unsigned shard);

/* 1 if a session present in both moved to another shard, or the engine
 * settings differ (shard count, instance, rings, store): such a change
 * needs a full restart. err names the first difference. */
int rfx_worker_conf_needs_restart(const struct rfx_worker_conf *a,
				  const struct rfx_worker_conf *b, char *err, size_t errlen);

/* Move sessions whose shard changed (Shards= edited) to their new shard's
 * store before any worker runs. Returns 0 or a negative code with err set;
 * *moved receives the number of sessions moved. Cold; one process only. */
int rfx_worker_migrate(const struct rfx_worker_conf *c, unsigned *moved, char *err,
		       size_t errlen);

/*
 * Run shard `shard` until rfx_worker_request_stop(): open its store, create
 * its segment, listen and connect, serve. On a stop request every logged-on
 * session is logged out (Logout handshake bounded by its LogoutTimeout),
 * the store is committed and the function returns 0. Returns a negative
 * code when the shard cannot start or its loop fails (logged first).
 * Call in the process that will run the shard (after fork and pinning).
 */
int rfx_worker_run(const struct rfx_worker_conf *c, unsigned shard, rfx_worker_log_fn log,
		   void *log_ctx);

/* Ask the running worker to log out and return. Async-signal-safe. */
void rfx_worker_request_stop(void);

#endif
