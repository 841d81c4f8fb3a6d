/*
 * ringfix store: every session's sequence numbers and messages in LMDB.
 *
 * One LMDB environment per shard, in STORE/shard-N/ (data.mdb, lock.mdb). The
 * shard process opens it after fork() and never hands it across a fork (LMDB
 * forbids using an MDB_env in a process other than the one that opened it).
 *
 * Per session (keyed by a stable session-ID string such as
 * "FIX.4.4:SENDER->TARGET[:QUALIFIER]" chosen by the shard) the store keeps:
 *   - a record: next sender and next target MsgSeqNum, the creation time of the
 *     current session period, and the period number;
 *   - outbound messages by MsgSeqNum (to serve ResendRequest);
 *   - inbound application messages by MsgSeqNum (to replay to a client).
 * Messages are opaque byte strings. Messages belong to the period in which
 * they were appended; reads see the current period only.
 *
 * Threads: one thread (the shard's) calls everything except rfx_store_sync()
 * and rfx_store_health(), which any thread may call. The store starts its own
 * flusher thread in `batch` mode.
 *
 * Errors: every function returns int, >= 0 on success, < 0 a negative errno or
 * an RFX_E* code (engine/error.h). After a failure rfx_store_errmsg() tells
 * what failed, on which file and why. Nothing here prints.
 *
 * Durability (rfx_store_options.durability) — the promise, precisely:
 *   FULL   rfx_store_commit() returns only after LMDB has fdatasync()ed the data
 *          pages and then the meta page of the transaction. A committed message
 *          survives a process crash and a power loss. The shard must commit
 *          before it sends the message.
 *   BATCH  (default) one transaction per loop turn, committed without sync; a
 *          flusher thread calls fdatasync() every flush_interval_ms
 *          when something was committed since its last pass.
 *          Process crash (kill -9, abort, OOM kill): nothing committed is lost
 *          (committed pages are in the kernel page cache once commit returns).
 *          Power loss / kernel crash: transactions committed since the start of
 *          the last completed flush may be lost, i.e. up to flush_interval_ms
 *          plus one flush duration. Because LMDB then writes data and meta
 *          pages without an ordering barrier, LMDB itself only promises the
 *          file stays consistent if the filesystem preserves write order
 *          (lmdb.h, MDB_NOSYNC); on ext4/xfs a power cut during a flush could
 *          leave a meta page pointing at unwritten pages. Use FULL when that
 *          matters more than throughput.
 *   NONE   like BATCH without the flusher: the kernel writes back when it
 *          decides (about 30 s on Linux defaults). Same process-crash promise.
 *          A shard that wants BATCH's promise without a second thread can run
 *          NONE and call rfx_store_sync() from its own timer.
 * Map (rfx_store_options.readonly_map): BATCH and NONE write through a
 * writable map (MDB_WRITEMAP) unless readonly_map is set; FULL always uses
 * the read-only map with pwrite(). With the writable map data.mdb is reserved
 * with posix_fallocate up to the map size at open and before each growth, so
 * a full disk is -ENOSPC from open or from the append/commit that needed the
 * map to grow, never a SIGBUS; the file then occupies the whole map size on
 * disk. The price: the shard's own stray pointer writes into the map land in
 * the file. With readonly_map they fault (SIGSEGV) instead.
 */
#ifndef RFX_STORE_LMDB_STORE_H
#define RFX_STORE_LMDB_STORE_H

#include <stddef.h>
#include <stdint.h>

#define RFX_STORE_ID_MAX 255      /* longest session-ID string, bytes */
#define RFX_STORE_SEQ_END UINT64_MAX /* "to the last message" in ranges */

enum rfx_store_durability {
	RFX_STORE_BATCH = 0, /* default: commit per loop turn, fdatasync every N ms */
	RFX_STORE_FULL = 1,  /* fdatasync before commit returns */
	RFX_STORE_NONE = 2,  /* no sync: the kernel decides */
};

enum rfx_store_dir {
	RFX_STORE_OUT = 0, /* messages we sent (ResendRequest) */
	RFX_STORE_IN = 1,  /* application messages we received (client replay) */
};

struct rfx_store_options {
	const char *path;      /* store root; the env lives in path/shard-N/ */
	unsigned shard;        /* N */
	enum rfx_store_durability durability;
	unsigned flush_interval_ms; /* BATCH: flusher period; 0 = 10 ms */
	size_t map_size;       /* initial map size, bytes; 0 = 64 MiB */
	size_t map_size_max;   /* the map grows by doubling up to this; 0 = 64 GiB */
	unsigned max_sessions; /* sessions open at once; 0 = 1024 */
	unsigned keep_periods; /* previous session periods whose messages are kept
	                        * after a reset; 0 = drop them all */
	size_t batch_bytes;    /* per-batch staging (replayed if the map must grow
	                        * mid-batch); a bigger batch commits early; 0 = 4 MiB */
	unsigned mode;         /* file mode for new files; 0 = 0600 */
	int readonly_map;      /* BATCH/NONE: 0 (default) = writable map
	                        * (MDB_WRITEMAP, data.mdb reserved up to the map
	                        * size); 1 = read-only map, LMDB writes pages with
	                        * pwrite(). FULL always uses the read-only map. */
};

/* A session's durable record. */
struct rfx_store_record {
	uint64_t next_sender_seq; /* next MsgSeqNum we will send */
	uint64_t next_target_seq; /* next MsgSeqNum we expect */
	int64_t creation_time_ns; /* start of the current period, ns since the epoch (UTC) */
	uint32_t period;          /* 1 for a new session, +1 on every reset */
};

/* A stored message: a borrowed view into the LMDB map. */
struct rfx_store_msg {
	uint64_t seq;
	const void *data;
	size_t len;
};

/* Range iterator; caller storage. Fields are private. */
struct rfx_store_iter {
	void *txn, *cur, *store;
	uint64_t next, last;
	uint32_t sid, period;
	int state, cached;
};

struct rfx_store;
struct rfx_store_session; /* owned by the store; valid until rfx_store_close() */

/* Open (creating it and its directories if needed) the env of opt->shard,
 * clear reader slots of dead processes, drop messages of periods beyond
 * retention, and in BATCH mode start the flusher. On failure *out is NULL
 * and, if err is not NULL, err holds a message naming the file and cause.
 * One handle per env on the machine: the store holds an exclusive flock on
 * STORE/shard-N/rfx.lock until close (or death).
 * Returns 0, RFX_ECORRUPT (not an LMDB file, or an LMDB file that is not a
 * ringfix store, or a damaged one), -EBUSY (open elsewhere), -EACCES,
 * -ENOSPC, -ENOMEM, -EINVAL... */
int rfx_store_open(struct rfx_store **out, const struct rfx_store_options *opt,
		   char *err, size_t errlen);

/* Aborts an open batch, stops the flusher after a last sync (not in NONE),
 * closes the env. NULL-safe. Iterators must be closed first. In a child
 * forked after open it only frees memory: the env stays the parent's. */
void rfx_store_close(struct rfx_store *s);

/* Text describing the last failure on s (never NULL). */
const char *rfx_store_errmsg(const struct rfx_store *s);

/* Find or create the session `id` (len bytes, 1..RFX_STORE_ID_MAX, no NUL).
 * A new session starts with both next seqs at 1, period 1, creation time
 * now_ns, and is committed before this returns. Not allowed inside a batch
 * (-EBUSY). -ENOSPC when max_sessions handles are open. */
int rfx_store_session_open(struct rfx_store *s, const char *id, size_t len,
			   int64_t now_ns, struct rfx_store_session **out);

/* The session's record as of the latest append/set in this process
 * (including an open batch). */
void rfx_store_session_get(const struct rfx_store_session *ss,
			   struct rfx_store_record *rec);

/* Set the next sender/target seqs (creation time and period are kept; use
 * reset for a new period). Inside a batch it commits with the batch;
 * otherwise it commits before returning. */
int rfx_store_session_set(struct rfx_store *s, struct rfx_store_session *ss,
			  uint64_t next_sender_seq, uint64_t next_target_seq);

/* Start a new session period: seqs back to 1, creation time now_ns, period+1.
 * The old period's messages are no longer visible; they are deleted later by
 * rfx_store_maintain() (or at the next open), except the newest keep_periods
 * periods. Inside a batch it commits with the batch. */
int rfx_store_session_reset(struct rfx_store *s, struct rfx_store_session *ss,
			    int64_t now_ns);

/* Begin a batch: appends and sets until rfx_store_commit() form one
 * transaction. -EBUSY if one is open. May grow the map (no iterator may be
 * open then). */
int rfx_store_begin(struct rfx_store *s);

/* Store message `seq` of direction dir. Outbound raises next_sender_seq to
 * seq+1, inbound raises next_target_seq to seq+1 (never lowers them).
 * Outside a batch it is its own committed transaction. Hot path inside a
 * batch: no malloc, no syscall. -EEXIST if seq is already stored in this
 * period, RFX_ETOOBIG if len exceeds batch_bytes. Any other failure aborts
 * the whole open batch (nothing of it is stored, the records revert to the
 * last commit): RFX_EMAPFULL, -ENOSPC, -EIO, RFX_ECORRUPT. */
int rfx_store_append(struct rfx_store *s, struct rfx_store_session *ss,
		     enum rfx_store_dir dir, uint64_t seq, const void *data,
		     size_t len);

/* Commit the batch (durable per the durability mode on return). On failure
 * the batch is gone (see rfx_store_append) and nothing committed earlier is
 * affected. -EINVAL if no batch is open. */
int rfx_store_commit(struct rfx_store *s);

/* Drop the open batch. */
void rfx_store_abort(struct rfx_store *s);

/* Flush committed transactions to disk now (fdatasync). Any thread. */
int rfx_store_sync(struct rfx_store *s);

/* 0, or the first error the flusher met (sticky): the durability promise of
 * BATCH no longer holds and the shard should log its sessions out. Any thread. */
int rfx_store_health(struct rfx_store *s);

/* Operational figures (cold; for metrics and tests). */
struct rfx_store_info {
	size_t map_size;          /* current map size, bytes */
	size_t map_used;          /* bytes up to the last used page */
	size_t map_size_max;
	unsigned stale_readers;   /* reader slots of dead processes cleared at open */
	unsigned sessions_open;
	uint64_t commits;         /* transactions committed by this handle */
	uint64_t syncs;           /* flusher/explicit syncs that did work */
	int writable_map;         /* 1: MDB_WRITEMAP; 0: read-only map */
	size_t reserved;          /* bytes of data.mdb allocated ahead (writable
	                           * map: >= map_size); 0 with a read-only map */
	size_t unmapped;          /* writable map: bytes below the write frontier
	                           * dropped from the page tables ahead of
	                           * writeback (see store/README.md) */
};

void rfx_store_info(struct rfx_store *s, struct rfx_store_info *info);

/* Delete up to `budget` messages of expired periods (cold work; call when
 * idle). Returns how many were deleted; 0 when nothing is pending. -EBUSY
 * inside a batch. */
int rfx_store_maintain(struct rfx_store *s, unsigned budget);

/* Iterate messages from..to (inclusive; to = RFX_STORE_SEQ_END for all) of
 * the session's current period, in sequence order, without copying. Views
 * handed out by rfx_store_iter_next() point into the map and stay valid until
 * rfx_store_iter_close(). The iterator sees committed data only (a snapshot
 * taken at open). Open, use and close it within one loop turn (a long resend
 * reopens from the next seq each turn): while it is open the map cannot grow
 * (a batch that needs to grow fails with RFX_EMAPFULL) and LMDB cannot reuse
 * pages freed since. Any number may be open at once. */
int rfx_store_iter_open(struct rfx_store *s, struct rfx_store_session *ss,
			enum rfx_store_dir dir, uint64_t from, uint64_t to,
			struct rfx_store_iter *it);

/* 1 and *m filled, 0 at the end, < 0 on error. Missing seqs are skipped
 * (the caller sees the gap in m->seq and answers with a GapFill). */
int rfx_store_iter_next(struct rfx_store_iter *it, struct rfx_store_msg *m);

/* End the iteration; views die here. NULL-safe, idempotent. */
void rfx_store_iter_close(struct rfx_store_iter *it);

/* Rescaling. Maps a session ID to the shard that owns it under the new shard
 * count. Must return < nshards. */
typedef unsigned (*rfx_store_shard_fn)(void *ctx, const char *id, size_t len);

struct rfx_store_migrate_stats {
	unsigned envs;     /* shard envs found under the root */
	unsigned sessions; /* sessions seen */
	unsigned moved;    /* sessions moved to another shard's env */
	uint64_t messages; /* messages moved */
};

/* Startup step for the supervisor, before any shard runs (one process, no
 * other user of the envs): every session found in STORE/shard-K/ for any K
 * whose owner map(id) is not K is moved to shard-map(id) — record and all
 * messages copied and committed (synced) in the destination, then deleted
 * from the source in a second transaction. The source copy is authoritative
 * until it is deleted, so a crash at any point loses nothing and a re-run
 * finishes the job (idempotent). -EBUSY if any shard env is open elsewhere
 * (a running shard). base supplies map sizes and file mode; its path is the
 * root. stats may be NULL. */
int rfx_store_migrate(const struct rfx_store_options *base, unsigned nshards,
		      rfx_store_shard_fn map, void *ctx,
		      struct rfx_store_migrate_stats *stats, char *err,
		      size_t errlen);

#endif
