/*
 * LMDB sequence and message store. See lmdb_store.h for the contract.
 *
 * Layout of one env (four named databases):
 *   meta      "format" -> "ringfix-store" + u32 version; "next_id" -> u32
 *   sessions  session-ID string -> struct rec_disk (native endian)
 *   out, in   key (be32 sid, be32 period, be64 seq) -> message bytes
 * Big-endian keys make LMDB's memcmp order equal (session, period, seq)
 * order, so appends in sequence order hit MDB_APPEND's fast path and a
 * resend range is one cursor walk.
 */
#include "store/lmdb_store.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "engine/error.h"

#define FORMAT_MAGIC "ringfix-store"
#define FORMAT_VERSION 1u
#define KEY_LEN 16
#define DEF_MAP (64ull << 20)
#define DEF_MAP_MAX (64ull << 30)
#define DEF_SESSIONS 1024u
#define DEF_BATCH_BYTES (4u << 20)
#define DEF_FLUSH_MS 10u
#define PURGE_CHUNK 10000u
#define LOW_DISK_BYTES (1u << 20)
/* Unmapping behind the write frontier (unmap_behind): in steps of >= 1 MiB,
 * keeping the newest 256 KiB mapped. Of 128 KiB/32 KiB, 256/64, 1 MiB/256 KiB
 * and 4 MiB/256 KiB, this pair left the fewest TLB flushes (2.0k vs 4.1k-6.6k
 * per 200k messages in 256-message batches). */
#define UNMAP_STEP (1u << 20)
#define UNMAP_MARGIN (256u << 10)

struct rec_disk {
	uint32_t sid;
	uint32_t period;
	uint64_t next_sender;
	uint64_t next_target;
	int64_t creation_ns;
};
_Static_assert(sizeof(struct rec_disk) == 32, "record layout is on disk");

struct format_disk {
	char magic[16];
	uint32_t version;
};

struct staged {
	struct rfx_store_session *ss;
	uint64_t seq;
	uint32_t off, len, period;
	uint8_t dir;
};

struct rfx_store_session {
	struct rfx_store_record cur;       /* as of the latest call */
	struct rfx_store_record committed; /* as last committed */
	uint32_t sid;
	uint32_t idlen;
	int dirty;
	int reset_in_batch;
	char id[RFX_STORE_ID_MAX + 1];
};

struct rfx_store {
	MDB_env *env;
	MDB_dbi dbi_meta, dbi_sess, dbi_msg[2];
	MDB_txn *wtxn;
	struct rfx_store_options opt;
	size_t mapsize, map_max;
	unsigned psize;

	struct rfx_store_session *sess;
	unsigned nsess, max_sess;
	struct rfx_store_session **dirty;
	unsigned ndirty;
	uint32_t next_id;

	/* Copies of the open batch's messages: if the map fills mid-batch LMDB
	 * aborts the transaction, and these let us grow and replay it. */
	char *stage;
	size_t stage_cap, stage_used;
	struct staged *st;
	unsigned nst, st_cap;

	MDB_txn *rtxn_cache;
	MDB_cursor *rcur_cache[2];
	int rcache_busy;
	int open_iters;
	int purge_pending;

	pthread_t flusher;
	int flusher_on, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	atomic_int health;
	atomic_uint_fast64_t commits; /* written by the shard thread only */
	atomic_uint_fast64_t syncs;
	uint64_t synced_at;           /* commits value at the last flusher sync */
	unsigned stale_readers;
	/* Writable map (MDB_WRITEMAP, BATCH/NONE unless readonly_map): commits
	 * store straight into the shared file pages, so a full disk would be a
	 * SIGBUS on a page fault. The data file is therefore reserved with
	 * fallocate up to the map size before any write transaction can touch
	 * a page: `reserved` never falls below `mapsize` while one is open. */
	int writemap;
	int data_fd;      /* LMDB's descriptor of data.mdb (not ours to close) */
	size_t reserved;  /* bytes of data.mdb known to be allocated */
	/* Writeback must write-protect every page still mapped writable, one
	 * TLB flush per page on the shard's core; pages LMDB has left behind
	 * are unmapped in bulk instead (one flush per range), see unmap_behind. */
	char *map_base;      /* LMDB's mapping, from /proc/self/maps; NULL: unknown */
	size_t map_base_len; /* mapsize when map_base was looked up */
	size_t unmapped_to;  /* [0, unmapped_to) was dropped from our page tables */
	pid_t owner; /* LMDB handles are not valid after fork() */
	int lock_fd;  /* flock: one store handle per env, machine-wide */

	char dir[PATH_MAX];
	char file[PATH_MAX + 16];
	char err[2 * PATH_MAX + 512];
};

/* ---- errors ------------------------------------------------------------ */

static int map_rc(int rc)
{
	if (rc == 0)
		return 0;
	if (rc > 0)
		return -rc;
	switch (rc) {
	case MDB_MAP_FULL:
		return RFX_EMAPFULL;
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INCOMPATIBLE:
	case MDB_BAD_VALSIZE:
		return RFX_ECORRUPT;
	case MDB_KEYEXIST:
		return -EEXIST;
	case MDB_NOTFOUND:
		return -ENOENT;
	default:
		return RFX_ESTOREINT;
	}
}

/* Cold path only: records "FILE: WHAT: CAUSE" and returns the mapped code. */
static int fail(struct rfx_store *s, int mdb_rc, const char *what)
{
	int rc = map_rc(mdb_rc);
	snprintf(s->err, sizeof(s->err), "%s: %s: %s", s->file, what,
		 mdb_rc ? mdb_strerror(mdb_rc) : "error");
	return rc;
}

static int fail_code(struct rfx_store *s, int rc, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s: %s: %s", s->file, what,
		 rfx_strerror(rc));
	return rc;
}

const char *rfx_store_errmsg(const struct rfx_store *s)
{
	if (!s)
		return "no store";
	return s->err[0] ? s->err : "no error";
}

/* ---- keys and records --------------------------------------------------- */

static inline void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void make_key(unsigned char k[KEY_LEN], uint32_t sid,
			    uint32_t period, uint64_t seq)
{
	put_be32(k, sid);
	put_be32(k + 4, period);
	put_be32(k + 8, (uint32_t)(seq >> 32));
	put_be32(k + 12, (uint32_t)seq);
}

static inline void split_key(const MDB_val *k, uint32_t *sid, uint32_t *period,
			     uint64_t *seq)
{
	const unsigned char *p = k->mv_data;
	*sid = get_be32(p);
	*period = get_be32(p + 4);
	*seq = (uint64_t)get_be32(p + 8) << 32 | get_be32(p + 12);
}

static void rec_to_disk(struct rec_disk *d, uint32_t sid,
			const struct rfx_store_record *r)
{
	memset(d, 0, sizeof(*d));
	d->sid = sid;
	d->period = r->period;
	d->next_sender = r->next_sender_seq;
	d->next_target = r->next_target_seq;
	d->creation_ns = r->creation_time_ns;
}

static int rec_from_disk(const MDB_val *v, uint32_t *sid,
			 struct rfx_store_record *r)
{
	struct rec_disk d;

	if (v->mv_size != sizeof(d))
		return RFX_ECORRUPT;
	memcpy(&d, v->mv_data, sizeof(d));
	if (d.period == 0 || d.next_sender == 0 || d.next_target == 0)
		return RFX_ECORRUPT;
	*sid = d.sid;
	r->period = d.period;
	r->next_sender_seq = d.next_sender;
	r->next_target_seq = d.next_target;
	r->creation_time_ns = d.creation_ns;
	return 0;
}

/* ---- map growth ---------------------------------------------------------- */

static void refresh_mapsize(struct rfx_store *s)
{
	MDB_envinfo info;

	mdb_env_info(s->env, &info);
	s->mapsize = info.me_mapsize;
}

/* Writable map only: make sure data.mdb has real blocks behind the first
 * `len` bytes, so no store into the map can fault for lack of space. An
 * error (ENOSPC, EFBIG, EIO...) leaves the reservation as it was. */
static int reserve(struct rfx_store *s, size_t len, const char *what)
{
	int rc;

	if (!s->writemap || len <= s->reserved)
		return 0;
	/* posix_fallocate, not ftruncate: a sparse file is exactly what would
	 * turn a full disk into SIGBUS. glibc emulates it on filesystems
	 * without fallocate by writing a byte per block. Growing from the
	 * current reservation leaves the allocated part alone. */
	rc = posix_fallocate(s->data_fd, (off_t)s->reserved, (off_t)(len - s->reserved));
	if (rc) {
		snprintf(s->err, sizeof(s->err),
			 "%s: %s: reserving %zu MiB of disk for the writable map: %s "
			 "(free disk space, lower StoreMapSize, or set StoreWritableMap=N)",
			 s->file, what, len >> 20, strerror(rc));
		return -rc;
	}
	s->reserved = len;
	return 0;
}

/* LMDB allows mdb_env_set_mapsize only while this process has no active
 * transaction; live iterators also point into the old mapping, so growth
 * waits for them. */
static int grow(struct rfx_store *s)
{
	size_t want;
	int rc;

	if (s->open_iters)
		return fail_code(s, RFX_EMAPFULL,
				 "map full and cannot grow while an iterator is open");
	if (s->mapsize >= s->map_max)
		return fail_code(s, RFX_EMAPFULL,
				 "map reached map_size_max (raise it or free disk)");
	want = s->mapsize > s->map_max / 2 ? s->map_max : s->mapsize * 2;
	want -= want % s->psize;
	/* Reserve first: LMDB extends the file (sparse) when it remaps. */
	rc = reserve(s, want, "growing the map");
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->mu);
	rc = mdb_env_set_mapsize(s->env, want);
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return fail(s, rc, "growing the map");
	refresh_mapsize(s);
	return 0;
}

/* Bytes of the map in use: up to and including the last used page (the
 * write frontier). */
static size_t map_used(struct rfx_store *s)
{
	MDB_envinfo info;

	mdb_env_info(s->env, &info);
	return (info.me_last_pgno + 1) * (size_t)s->psize;
}

/* Grow ahead of time so a batch rarely meets MDB_MAP_FULL. */
static void grow_if_tight(struct rfx_store *s)
{
	size_t used, headroom;

	if (s->open_iters || s->mapsize >= s->map_max)
		return;
	used = map_used(s);
	headroom = s->mapsize / 4;
	if (headroom < 2 * s->stage_cap)
		headroom = 2 * s->stage_cap;
	if (used + headroom > s->mapsize)
		(void)grow(s); /* best effort: MAP_FULL handling stays the backstop */
}

/* LMDB does not export its map address (me_mapaddr is only for
 * MDB_FIXEDMAP), so find the shared writable mapping of data.mdb's inode with
 * the map's size. Cold: at the first begin and after the map changed. */
static void find_map(struct rfx_store *s)
{
	char line[PATH_MAX + 128];
	struct stat st;
	FILE *f;

	s->map_base = NULL;
	s->map_base_len = s->mapsize;
	s->unmapped_to = 2 * (size_t)s->psize; /* the meta pages are written every commit */
	if (fstat(s->data_fd, &st) != 0 || !(f = fopen("/proc/self/maps", "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, off, ino;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s %lx %*s %lu", &lo, &hi, perms, &off, &ino) != 5)
			continue;
		if (ino == (unsigned long)st.st_ino && off == 0 && hi - lo == s->mapsize &&
		    !strcmp(perms, "rw-s")) {
			s->map_base = (char *)lo;
			break;
		}
	}
	fclose(f);
}

/* Writable map only, between transactions: drop from our page tables the
 * pages more than UNMAP_MARGIN below the last used page. The data stays in
 * the page cache (dirty bits move to the pages; later accesses fault it back
 * in), but the flusher's fdatasync then finds them unmapped and skips the
 * per-page write-protect + TLB flush that otherwise lands on the shard's
 * core, one per 4 KiB page written back: what made 256-message batches in
 * BATCH mode twice as slow per message as on the read-only map. One
 * madvise() per MiB of new data, none per message. LMDB may still write some
 * of these pages again (freed pages it reuses): they fault back in. */
static void unmap_behind(struct rfx_store *s)
{
	size_t front, to;

	if (s->map_base_len != s->mapsize)
		find_map(s);
	if (!s->map_base)
		return;
	front = map_used(s);
	if (front < s->unmapped_to + UNMAP_MARGIN + UNMAP_STEP)
		return;
	to = front - UNMAP_MARGIN;
	to -= to % s->psize;
	if (madvise(s->map_base + s->unmapped_to, to - s->unmapped_to, MADV_DONTNEED) == 0)
		s->unmapped_to = to;
	else
		s->map_base = NULL; /* unexpected: stop trying until the map changes */
}

static int txn_begin(struct rfx_store *s, unsigned flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(s->env, NULL, flags, txn);

	if (rc == MDB_MAP_RESIZED && !s->open_iters) {
		/* Another process (the migration step) grew the map. */
		rc = mdb_env_set_mapsize(s->env, 0);
		if (rc == 0) {
			refresh_mapsize(s);
			rc = mdb_txn_begin(s->env, NULL, flags, txn);
		}
	}
	if (rc == 0 && s->writemap && s->reserved < s->mapsize && !(flags & MDB_RDONLY)) {
		/* Writable map larger than its reservation (grown by another
		 * process): no write may touch the map until it is reserved. */
		int r = reserve(s, s->mapsize, "adopting a larger map");
		if (r < 0) {
			mdb_txn_abort(*txn);
			*txn = NULL;
			return -r; /* positive errno: callers map it with map_rc */
		}
	}
	return rc;
}

/* ---- batches --------------------------------------------------------------- */

static void mark_dirty(struct rfx_store *s, struct rfx_store_session *ss)
{
	if (!ss->dirty) {
		ss->dirty = 1;
		s->dirty[s->ndirty++] = ss;
	}
}

/* Forget the batch: records back to their last committed values. */
static void batch_drop(struct rfx_store *s)
{
	unsigned i;

	if (s->wtxn) {
		mdb_txn_abort(s->wtxn);
		s->wtxn = NULL;
	}
	for (i = 0; i < s->ndirty; i++) {
		s->dirty[i]->cur = s->dirty[i]->committed;
		s->dirty[i]->dirty = 0;
		s->dirty[i]->reset_in_batch = 0;
	}
	s->ndirty = 0;
	s->nst = 0;
	s->stage_used = 0;
}

static int put_msg(struct rfx_store *s, unsigned dir, uint32_t sid,
		   uint32_t period, uint64_t seq, const void *data, size_t len)
{
	unsigned char kb[KEY_LEN];
	MDB_val k = {KEY_LEN, kb}, v = {len, (void *)data};
	int rc;

	make_key(kb, sid, period, seq);
	/* MDB_APPEND is legal only past the last key of the whole database; with
	 * several sessions it often is not, and LMDB then answers KEYEXIST
	 * without harming the transaction, so fall back to an ordinary insert. */
	rc = mdb_put(s->wtxn, s->dbi_msg[dir], &k, &v, MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		rc = mdb_put(s->wtxn, s->dbi_msg[dir], &k, &v, MDB_NOOVERWRITE);
	return rc;
}

/* After MDB_MAP_FULL: LMDB has poisoned the txn. Grow the map and redo the
 * batch from the staged copies; the records' current values survive in
 * memory and are written at commit. */
static int regrow_and_replay(struct rfx_store *s)
{
	unsigned i;
	int rc;

	for (;;) {
		mdb_txn_abort(s->wtxn);
		s->wtxn = NULL;
		rc = grow(s);
		if (rc < 0)
			return rc;
		rc = txn_begin(s, 0, &s->wtxn);
		if (rc) {
			s->wtxn = NULL;
			return fail(s, rc, "beginning a write transaction");
		}
		for (i = 0; i < s->nst; i++) {
			const struct staged *e = &s->st[i];
			rc = put_msg(s, e->dir, e->ss->sid, e->period, e->seq,
				     s->stage + e->off, e->len);
			if (rc)
				break;
		}
		if (rc == 0)
			return 0;
		if (rc != MDB_MAP_FULL)
			return fail(s, rc, "replaying a batch after growing the map");
	}
}

static int write_records(struct rfx_store *s)
{
	unsigned i;
	int rc;

	for (i = 0; i < s->ndirty; i++) {
		struct rfx_store_session *ss = s->dirty[i];
		struct rec_disk d;
		MDB_val k = {ss->idlen, ss->id}, v = {sizeof(d), &d};

		rec_to_disk(&d, ss->sid, &ss->cur);
		rc = mdb_put(s->wtxn, s->dbi_sess, &k, &v, 0);
		if (rc)
			return rc;
	}
	return 0;
}

/* LMDB 0.9 turns a short write into EIO, which is what a full disk usually
 * produces; tell the two apart by looking at the filesystem. */
static int commit_failed(struct rfx_store *s, int rc)
{
	struct statvfs vfs;

	if (rc == EIO && statvfs(s->dir, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < LOW_DISK_BYTES)
		return fail(s, ENOSPC, "committing a batch (LMDB short write)");
	return fail(s, rc, "committing a batch");
}

int rfx_store_begin(struct rfx_store *s)
{
	int rc;

	if (s->wtxn)
		return -EBUSY;
	grow_if_tight(s);
	if (s->writemap)
		unmap_behind(s);
	rc = txn_begin(s, 0, &s->wtxn);
	if (rc) {
		s->wtxn = NULL;
		return fail(s, rc, "beginning a write transaction");
	}
	return 0;
}

int rfx_store_commit(struct rfx_store *s)
{
	unsigned i;
	int rc;

	if (!s->wtxn)
		return -EINVAL;
	rc = write_records(s);
	if (rc == MDB_MAP_FULL) {
		rc = regrow_and_replay(s);
		if (rc < 0)
			goto fail_dropped;
		rc = write_records(s);
	}
	if (rc) {
		rc = fail(s, rc, "writing session records");
		goto fail_dropped;
	}
	rc = mdb_txn_commit(s->wtxn);
	s->wtxn = NULL;
	if (rc) {
		rc = commit_failed(s, rc);
		goto fail_dropped;
	}
	/* Relaxed: the flusher only needs to notice "something changed". */
	atomic_store_explicit(&s->commits,
			      atomic_load_explicit(&s->commits, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	for (i = 0; i < s->ndirty; i++) {
		struct rfx_store_session *ss = s->dirty[i];
		ss->committed = ss->cur;
		ss->dirty = 0;
		if (ss->reset_in_batch)
			s->purge_pending = 1;
		ss->reset_in_batch = 0;
	}
	s->ndirty = 0;
	s->nst = 0;
	s->stage_used = 0;
	return 0;

fail_dropped:
	batch_drop(s);
	return rc;
}

void rfx_store_abort(struct rfx_store *s)
{
	if (s)
		batch_drop(s);
}

static int append_in_batch(struct rfx_store *s, struct rfx_store_session *ss,
			   unsigned dir, uint64_t seq, const void *data,
			   size_t len)
{
	struct staged *e;
	int rc;

	if (s->stage_used + len > s->stage_cap || s->nst == s->st_cap) {
		/* The batch outgrew its staging: commit what we have. Each
		 * message is still atomic; the loop turn just takes two commits. */
		rc = rfx_store_commit(s);
		if (rc < 0)
			return rc;
		rc = rfx_store_begin(s);
		if (rc < 0)
			return rc;
	}
	e = &s->st[s->nst];
	e->ss = ss;
	e->seq = seq;
	e->off = (uint32_t)s->stage_used;
	e->len = (uint32_t)len;
	e->period = ss->cur.period;
	e->dir = (uint8_t)dir;
	memcpy(s->stage + s->stage_used, data, len);

	rc = put_msg(s, dir, ss->sid, ss->cur.period, seq, data, len);
	if (rc == MDB_KEYEXIST)
		return -EEXIST; /* nothing staged: the txn is intact */
	s->nst++;
	s->stage_used += len;
	if (rc == MDB_MAP_FULL)
		rc = regrow_and_replay(s);
	else if (rc)
		rc = fail(s, rc, "storing a message");
	if (rc < 0) {
		batch_drop(s);
		return rc;
	}
	if (dir == RFX_STORE_OUT) {
		if (seq + 1 > ss->cur.next_sender_seq)
			ss->cur.next_sender_seq = seq + 1;
	} else {
		if (seq + 1 > ss->cur.next_target_seq)
			ss->cur.next_target_seq = seq + 1;
	}
	mark_dirty(s, ss);
	return 0;
}

int rfx_store_append(struct rfx_store *s, struct rfx_store_session *ss,
		     enum rfx_store_dir dir, uint64_t seq, const void *data,
		     size_t len)
{
	int rc;

	if ((unsigned)dir > RFX_STORE_IN || seq == 0 || seq == UINT64_MAX ||
	    (len && !data))
		return -EINVAL;
	if (len > s->stage_cap)
		return RFX_ETOOBIG;
	if (s->wtxn)
		return append_in_batch(s, ss, dir, seq, data, len);
	rc = rfx_store_begin(s);
	if (rc < 0)
		return rc;
	rc = append_in_batch(s, ss, dir, seq, data, len);
	if (rc < 0) {
		batch_drop(s);
		return rc;
	}
	return rfx_store_commit(s);
}

/* Applies a record change, in the open batch or in its own transaction. */
static int record_change(struct rfx_store *s, struct rfx_store_session *ss,
			 const struct rfx_store_record *r, int is_reset)
{
	int own = !s->wtxn, rc;

	if (own) {
		rc = rfx_store_begin(s);
		if (rc < 0)
			return rc;
	}
	ss->cur = *r;
	if (is_reset)
		ss->reset_in_batch = 1;
	mark_dirty(s, ss);
	return own ? rfx_store_commit(s) : 0;
}

int rfx_store_session_set(struct rfx_store *s, struct rfx_store_session *ss,
			  uint64_t next_sender_seq, uint64_t next_target_seq)
{
	struct rfx_store_record r = ss->cur;

	if (next_sender_seq == 0 || next_target_seq == 0)
		return -EINVAL;
	r.next_sender_seq = next_sender_seq;
	r.next_target_seq = next_target_seq;
	return record_change(s, ss, &r, 0);
}

int rfx_store_session_reset(struct rfx_store *s, struct rfx_store_session *ss,
			    int64_t now_ns)
{
	struct rfx_store_record r;

	if (ss->cur.period == UINT32_MAX)
		return RFX_ERANGE;
	r.next_sender_seq = 1;
	r.next_target_seq = 1;
	r.creation_time_ns = now_ns;
	r.period = ss->cur.period + 1;
	return record_change(s, ss, &r, 1);
}

void rfx_store_session_get(const struct rfx_store_session *ss,
			   struct rfx_store_record *rec)
{
	*rec = ss->cur;
}

/* ---- sessions ------------------------------------------------------------ */

static int put_next_id(struct rfx_store *s, MDB_txn *txn, uint32_t next)
{
	MDB_val k = {7, "next_id"}, v = {sizeof(next), &next};
	return mdb_put(txn, s->dbi_meta, &k, &v, 0);
}

int rfx_store_session_open(struct rfx_store *s, const char *id, size_t len,
			   int64_t now_ns, struct rfx_store_session **out)
{
	struct rfx_store_session *ss;
	MDB_txn *txn;
	MDB_val k = {len, (void *)id}, v;
	struct rec_disk d;
	unsigned i;
	int rc;

	*out = NULL;
	if (!id || len == 0 || len > RFX_STORE_ID_MAX || memchr(id, 0, len))
		return -EINVAL;
	if (s->wtxn)
		return -EBUSY;
	for (i = 0; i < s->nsess; i++) {
		if (s->sess[i].idlen == len && !memcmp(s->sess[i].id, id, len)) {
			*out = &s->sess[i];
			return 0;
		}
	}
	if (s->nsess == s->max_sess)
		return -ENOSPC;
	ss = &s->sess[s->nsess];
	memset(ss, 0, sizeof(*ss));
	memcpy(ss->id, id, len);
	ss->idlen = (uint32_t)len;

	grow_if_tight(s);
	rc = txn_begin(s, 0, &txn);
	if (rc)
		return fail(s, rc, "beginning a write transaction");
	rc = mdb_get(txn, s->dbi_sess, &k, &v);
	if (rc == 0) {
		rc = rec_from_disk(&v, &ss->sid, &ss->cur);
		mdb_txn_abort(txn);
		if (rc < 0) {
			snprintf(s->err, sizeof(s->err),
				 "%s: session %.*s: record is damaged", s->file,
				 (int)len, id);
			return rc;
		}
	} else if (rc == MDB_NOTFOUND) {
		ss->sid = s->next_id;
		ss->cur.next_sender_seq = 1;
		ss->cur.next_target_seq = 1;
		ss->cur.creation_time_ns = now_ns;
		ss->cur.period = 1;
		rec_to_disk(&d, ss->sid, &ss->cur);
		v.mv_size = sizeof(d);
		v.mv_data = &d;
		rc = mdb_put(txn, s->dbi_sess, &k, &v, MDB_NOOVERWRITE);
		if (rc == 0)
			rc = put_next_id(s, txn, s->next_id + 1);
		if (rc == 0)
			rc = mdb_txn_commit(txn);
		else
			mdb_txn_abort(txn);
		if (rc == MDB_MAP_FULL) {
			rc = grow(s);
			return rc < 0 ? rc : rfx_store_session_open(s, id, len, now_ns, out);
		}
		if (rc)
			return fail(s, rc, "creating a session record");
		s->next_id++;
	} else {
		mdb_txn_abort(txn);
		return fail(s, rc, "reading a session record");
	}
	ss->committed = ss->cur;
	s->nsess++;
	*out = ss;
	return 0;
}

/* ---- retention ------------------------------------------------------------ */

/* Deletes messages of `sid` with period < below (below = UINT32_MAX: all),
 * at most *budget of them. Returns an LMDB code. */
static int delete_msgs(struct rfx_store *s, MDB_txn *txn, uint32_t sid,
		       uint32_t below, unsigned *budget, uint64_t *deleted)
{
	unsigned dir;
	int rc = 0;

	for (dir = 0; dir < 2; dir++) {
		MDB_cursor *c;
		unsigned char kb[KEY_LEN];
		MDB_val k, v;

		rc = mdb_cursor_open(txn, s->dbi_msg[dir], &c);
		if (rc)
			return rc;
		make_key(kb, sid, 0, 0);
		k.mv_size = KEY_LEN;
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		while (rc == 0 && *budget) {
			uint32_t ksid, kper;
			uint64_t kseq;

			if (k.mv_size != KEY_LEN) {
				rc = MDB_CORRUPTED;
				break;
			}
			split_key(&k, &ksid, &kper, &kseq);
			if (ksid != sid || kper >= below)
				break;
			rc = mdb_cursor_del(c, 0);
			if (rc)
				break;
			(*budget)--;
			(*deleted)++;
			/* Re-seek rather than rely on the cursor's post-delete
			 * position: simple and plainly correct; cold path. */
			make_key(kb, sid, 0, 0);
			k.mv_size = KEY_LEN;
			k.mv_data = kb;
			rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		}
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			rc = 0;
		if (rc)
			return rc;
	}
	return 0;
}

int rfx_store_maintain(struct rfx_store *s, unsigned budget)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t deleted = 0;
	unsigned left = budget;
	int rc, rc2;

	if (s->wtxn)
		return -EBUSY;
	if (!s->purge_pending || budget == 0)
		return 0;
	grow_if_tight(s);
	rc = txn_begin(s, 0, &txn);
	if (rc)
		return fail(s, rc, "beginning a write transaction");
	rc = mdb_cursor_open(txn, s->dbi_sess, &c);
	if (rc) {
		mdb_txn_abort(txn);
		return fail(s, rc, "opening a cursor");
	}
	/* Deletes only touch the message databases, so walking the sessions
	 * database with a cursor in the same txn stays valid. */
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && left;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct rfx_store_record r;
		uint32_t sid;

		if (rec_from_disk(&v, &sid, &r) < 0) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (r.period <= s->opt.keep_periods + 1u)
			continue;
		rc = delete_msgs(s, txn, sid, r.period - s->opt.keep_periods,
				 &left, &deleted);
		if (rc)
			break;
	}
	mdb_cursor_close(c);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc) {
		mdb_txn_abort(txn);
		if (rc == MDB_MAP_FULL && (rc2 = grow(s)) == 0)
			return rfx_store_maintain(s, budget);
		return fail(s, rc, "deleting messages of old session periods");
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return fail(s, rc, "committing retention deletes");
	if (left)
		s->purge_pending = 0; /* walked everything within budget */
	return (int)(deleted > INT_MAX ? INT_MAX : deleted);
}

/* ---- iteration ------------------------------------------------------------ */

int rfx_store_iter_open(struct rfx_store *s, struct rfx_store_session *ss,
			enum rfx_store_dir dir, uint64_t from, uint64_t to,
			struct rfx_store_iter *it)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	int rc, cached = 0;

	memset(it, 0, sizeof(*it));
	if ((unsigned)dir > RFX_STORE_IN || from == 0 || from > to)
		return -EINVAL;
	if (!s->rcache_busy && s->rtxn_cache) {
		rc = mdb_txn_renew(s->rtxn_cache);
		if (rc == 0)
			rc = mdb_cursor_renew(s->rtxn_cache, s->rcur_cache[dir]);
		if (rc)
			return fail(s, rc, "renewing a read transaction");
		txn = s->rtxn_cache;
		cur = s->rcur_cache[dir];
		s->rcache_busy = 1;
		cached = 1;
	} else {
		rc = txn_begin(s, MDB_RDONLY, &txn);
		if (rc)
			return fail(s, rc, "beginning a read transaction");
		rc = mdb_cursor_open(txn, s->dbi_msg[dir], &cur);
		if (rc) {
			mdb_txn_abort(txn);
			return fail(s, rc, "opening a cursor");
		}
	}
	it->txn = txn;
	it->cur = cur;
	it->store = s;
	it->next = from;
	it->last = to;
	it->sid = ss->sid;
	it->period = ss->committed.period;
	it->cached = cached;
	s->open_iters++;
	return 0;
}

int rfx_store_iter_next(struct rfx_store_iter *it, struct rfx_store_msg *m)
{
	unsigned char kb[KEY_LEN];
	MDB_val k, v;
	uint32_t sid, period;
	uint64_t seq;
	int rc;

	if (!it->txn || it->state == 2)
		return 0;
	if (it->state == 0) {
		make_key(kb, it->sid, it->period, it->next);
		k.mv_size = KEY_LEN;
		k.mv_data = kb;
		rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
		it->state = 1;
	} else {
		rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND) {
		it->state = 2;
		return 0;
	}
	if (rc)
		return fail(it->store, rc, "reading messages");
	if (k.mv_size != KEY_LEN)
		return fail_code(it->store, RFX_ECORRUPT, "malformed message key");
	split_key(&k, &sid, &period, &seq);
	if (sid != it->sid || period != it->period || seq > it->last) {
		it->state = 2;
		return 0;
	}
	m->seq = seq;
	m->data = v.mv_data;
	m->len = v.mv_size;
	return 1;
}

void rfx_store_iter_close(struct rfx_store_iter *it)
{
	struct rfx_store *s;

	if (!it || !it->txn)
		return;
	s = it->store;
	if (it->cached) {
		mdb_txn_reset(it->txn);
		s->rcache_busy = 0;
	} else {
		mdb_cursor_close(it->cur);
		mdb_txn_abort(it->txn);
	}
	s->open_iters--;
	it->txn = NULL;
	it->cur = NULL;
}

/* ---- flusher ----------------------------------------------------------------- */

/* Data and meta pages to disk. With a writable map LMDB would msync() the
 * whole map range (up to map_size_max of address space to walk); the file's
 * fdatasync() writes the same dirty pages back. Returns an LMDB-style code. */
static int data_sync(struct rfx_store *s)
{
	if (s->writemap)
		return fdatasync(s->data_fd) ? errno : 0;
	return mdb_env_sync(s->env, 1);
}

int rfx_store_sync(struct rfx_store *s)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = data_sync(s);
	pthread_mutex_unlock(&s->mu);
	atomic_fetch_add_explicit(&s->syncs, 1, memory_order_relaxed);
	return map_rc(rc);
}

void rfx_store_info(struct rfx_store *s, struct rfx_store_info *info)
{
	MDB_envinfo ei;

	memset(info, 0, sizeof(*info));
	mdb_env_info(s->env, &ei);
	info->map_size = ei.me_mapsize;
	info->map_used = (ei.me_last_pgno + 1) * (size_t)s->psize;
	info->map_size_max = s->map_max;
	info->stale_readers = s->stale_readers;
	info->sessions_open = s->nsess;
	info->commits = atomic_load_explicit(&s->commits, memory_order_relaxed);
	info->syncs = atomic_load_explicit(&s->syncs, memory_order_relaxed);
	info->writable_map = s->writemap;
	info->reserved = s->reserved;
	info->unmapped = s->map_base ? s->unmapped_to : 0;
}

int rfx_store_health(struct rfx_store *s)
{
	return atomic_load_explicit(&s->health, memory_order_relaxed);
}

static void *flusher_main(void *arg)
{
	struct rfx_store *s = arg;
	struct timespec t;

	pthread_mutex_lock(&s->mu);
	clock_gettime(CLOCK_MONOTONIC, &t);
	while (!s->stop) {
		t.tv_nsec += (long)s->opt.flush_interval_ms * 1000000L;
		while (t.tv_nsec >= 1000000000L) {
			t.tv_nsec -= 1000000000L;
			t.tv_sec++;
		}
		while (!s->stop && pthread_cond_timedwait(&s->cv, &s->mu, &t) != ETIMEDOUT)
			;
		/* Idle shards do not fsync. The commit counter is read before the
		 * sync, so a commit racing with it is synced next time. */
		uint64_t c = atomic_load_explicit(&s->commits, memory_order_relaxed);
		if (c == s->synced_at && !s->stop)
			goto next;
		/* Held across the sync so growth (munmap/mmap) never overlaps. */
		int rc = data_sync(s);
		s->synced_at = c;
		atomic_fetch_add_explicit(&s->syncs, 1, memory_order_relaxed);
		if (rc) {
			int zero = 0;
			atomic_compare_exchange_strong(&s->health, &zero, map_rc(rc));
		}
next:
		clock_gettime(CLOCK_MONOTONIC, &t);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- open / close ------------------------------------------------------------ */

static int mkdir_one(const char *p, unsigned mode)
{
	if (mkdir(p, (mode_t)(mode | ((mode & 0444) >> 2))) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

static int check_format(struct rfx_store *s)
{
	MDB_txn *txn;
	MDB_dbi main_dbi;
	MDB_stat st;
	MDB_val k = {6, "format"}, v;
	struct format_disk f;
	int rc, fresh = 0;

	rc = txn_begin(s, 0, &txn);
	if (rc)
		return fail(s, rc, "beginning the first transaction");
	rc = mdb_dbi_open(txn, "meta", 0, &s->dbi_meta);
	if (rc == MDB_NOTFOUND) {
		rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
		if (rc == 0)
			rc = mdb_stat(txn, main_dbi, &st);
		if (rc)
			goto fail_txn;
		if (st.ms_entries) {
			mdb_txn_abort(txn);
			return fail_code(s, RFX_ECORRUPT,
					 "an LMDB database of another application");
		}
		fresh = 1;
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->dbi_meta);
	}
	if (rc)
		goto fail_txn;
	rc = mdb_dbi_open(txn, "sessions", fresh ? MDB_CREATE : 0, &s->dbi_sess);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "out", fresh ? MDB_CREATE : 0, &s->dbi_msg[0]);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "in", fresh ? MDB_CREATE : 0, &s->dbi_msg[1]);
	if (rc == MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return fail_code(s, RFX_ECORRUPT, "store databases missing");
	}
	if (rc)
		goto fail_txn;
	if (fresh) {
		memset(&f, 0, sizeof(f));
		memcpy(f.magic, FORMAT_MAGIC, sizeof(FORMAT_MAGIC));
		f.version = FORMAT_VERSION;
		v.mv_size = sizeof(f);
		v.mv_data = &f;
		rc = mdb_put(txn, s->dbi_meta, &k, &v, 0);
		if (rc == 0)
			rc = put_next_id(s, txn, 1);
		if (rc)
			goto fail_txn;
		s->next_id = 1;
	} else {
		MDB_val ik = {7, "next_id"};

		rc = mdb_get(txn, s->dbi_meta, &k, &v);
		if (rc || v.mv_size != sizeof(f)) {
			mdb_txn_abort(txn);
			return fail_code(s, RFX_ECORRUPT, "no ringfix store format mark");
		}
		memcpy(&f, v.mv_data, sizeof(f));
		if (memcmp(f.magic, FORMAT_MAGIC, sizeof(FORMAT_MAGIC))) {
			mdb_txn_abort(txn);
			return fail_code(s, RFX_ECORRUPT, "format mark is not ringfix's");
		}
		if (f.version != FORMAT_VERSION) {
			mdb_txn_abort(txn);
			snprintf(s->err, sizeof(s->err),
				 "%s: store format version %u, this build reads %u",
				 s->file, f.version, FORMAT_VERSION);
			return RFX_ECORRUPT;
		}
		rc = mdb_get(txn, s->dbi_meta, &ik, &v);
		if (rc || v.mv_size != sizeof(uint32_t)) {
			mdb_txn_abort(txn);
			return fail_code(s, RFX_ECORRUPT, "session id counter missing");
		}
		memcpy(&s->next_id, v.mv_data, sizeof(uint32_t));
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		return fail(s, rc, "committing the format mark");
	return 0;

fail_txn:
	mdb_txn_abort(txn);
	return fail(s, rc, "opening the store databases");
}

static int open_env(struct rfx_store *s)
{
	MDB_stat st;
	unsigned flags = MDB_NOTLS;
	int rc, dead;

	rc = mdb_env_create(&s->env);
	if (rc) {
		s->env = NULL;
		return fail(s, rc, "creating the LMDB environment");
	}
	mdb_env_set_maxdbs(s->env, 4);
	mdb_env_set_mapsize(s->env, s->opt.map_size);
	if (s->opt.durability != RFX_STORE_FULL) {
		/* No sync by LMDB: the flusher (BATCH) or the kernel (NONE) does
		 * it. A writable map saves the commit its pwrite()s of every
		 * dirty page: LMDB builds pages in place in the shared mapping. */
		flags |= MDB_NOSYNC;
		if (!s->opt.readonly_map) {
			flags |= MDB_WRITEMAP;
			s->writemap = 1;
		}
	}
	rc = mdb_env_open(s->env, s->dir, flags, (mdb_mode_t)s->opt.mode);
	if (rc)
		return fail(s, rc, "opening");
	if (s->writemap) {
		mdb_filehandle_t fd;

		rc = mdb_env_get_fd(s->env, &fd);
		if (rc)
			return fail(s, rc, "opening");
		s->data_fd = fd;
		/* Before the first write transaction: LMDB has only sized the
		 * file (sparse) so far. */
		refresh_mapsize(s);
		rc = reserve(s, s->mapsize, "opening");
		if (rc < 0)
			return rc;
	}
	/* A shard killed with -9 leaves its reader slot behind; clear it so it
	 * does not pin old pages forever. */
	rc = mdb_reader_check(s->env, &dead);
	if (rc)
		return fail(s, rc, "clearing stale readers");
	s->stale_readers = (unsigned)dead;
	mdb_env_stat(s->env, &st);
	s->psize = st.ms_psize;
	refresh_mapsize(s);
	s->map_max = s->opt.map_size_max < s->mapsize ? s->mapsize : s->opt.map_size_max;
	return 0;
}

/* LMDB itself lets many processes share an env; the store does not: its
 * session records are cached in memory, so a second writer (a duplicate
 * instance, a migration while shards run, or a second open in this process,
 * which LMDB forbids) would silently diverge. flock() on an open file
 * description catches all three and dies with its holder. */
static int take_lock(struct rfx_store *s)
{
	char p[PATH_MAX + 16];
	int rc;

	snprintf(p, sizeof(p), "%s/rfx.lock", s->dir);
	s->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, (mode_t)s->opt.mode);
	if (s->lock_fd < 0) {
		rc = -errno;
		snprintf(s->err, sizeof(s->err), "%s: opening the lock file: %s", p,
			 strerror(-rc));
		return rc;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(s->err, sizeof(s->err),
			 "%s: store is open in another process or handle (%s)", s->dir,
			 strerror(-rc));
		return rc;
	}
	return 0;
}

static int shard_dir(char *out, size_t n, const char *root, unsigned shard)
{
	int len = snprintf(out, n, "%s/shard-%u", root, shard);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

int rfx_store_open(struct rfx_store **out, const struct rfx_store_options *opt,
		   char *err, size_t errlen)
{
	struct rfx_store *s;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	if (!opt || !opt->path || !opt->path[0] ||
	    (unsigned)opt->durability > RFX_STORE_NONE) {
		if (err && errlen)
			snprintf(err, errlen, "store: invalid options");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opt = *opt;
	if (!s->opt.flush_interval_ms)
		s->opt.flush_interval_ms = DEF_FLUSH_MS;
	if (!s->opt.map_size)
		s->opt.map_size = DEF_MAP;
	if (!s->opt.map_size_max)
		s->opt.map_size_max = DEF_MAP_MAX;
	if (s->opt.map_size_max < s->opt.map_size)
		s->opt.map_size_max = s->opt.map_size;
	if (!s->opt.max_sessions)
		s->opt.max_sessions = DEF_SESSIONS;
	if (!s->opt.batch_bytes)
		s->opt.batch_bytes = DEF_BATCH_BYTES;
	if (s->opt.batch_bytes > UINT32_MAX)
		s->opt.batch_bytes = UINT32_MAX;
	if (!s->opt.mode)
		s->opt.mode = 0600;
	s->opt.path = NULL; /* not ours to keep */
	s->owner = getpid();
	s->lock_fd = -1;
	s->data_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&s->cv, &ca);
		pthread_condattr_destroy(&ca);
	}

	rc = shard_dir(s->dir, sizeof(s->dir), opt->path, opt->shard);
	snprintf(s->file, sizeof(s->file), "%s/data.mdb", s->dir);
	if (rc < 0) {
		snprintf(s->err, sizeof(s->err), "%s: path too long", opt->path);
		goto fail;
	}
	rc = mkdir_one(opt->path, s->opt.mode);
	if (rc == 0)
		rc = mkdir_one(s->dir, s->opt.mode);
	if (rc < 0) {
		snprintf(s->err, sizeof(s->err), "%s: creating the store directory: %s",
			 s->dir, strerror(-rc));
		goto fail;
	}
	rc = take_lock(s);
	if (rc < 0)
		goto fail;
	rc = open_env(s);
	if (rc < 0)
		goto fail;
	rc = check_format(s);
	if (rc < 0)
		goto fail;

	s->max_sess = s->opt.max_sessions;
	s->stage_cap = s->opt.batch_bytes;
	s->st_cap = (unsigned)(s->stage_cap / 64 < 1024 ? 1024 : s->stage_cap / 64);
	s->sess = calloc(s->max_sess, sizeof(*s->sess));
	s->dirty = calloc(s->max_sess, sizeof(*s->dirty));
	s->stage = malloc(s->stage_cap);
	s->st = calloc(s->st_cap, sizeof(*s->st));
	if (!s->sess || !s->dirty || !s->stage || !s->st) {
		rc = -ENOMEM;
		snprintf(s->err, sizeof(s->err), "%s: out of memory", s->file);
		goto fail;
	}
	rc = txn_begin(s, MDB_RDONLY, &s->rtxn_cache);
	if (rc == 0)
		rc = mdb_cursor_open(s->rtxn_cache, s->dbi_msg[0], &s->rcur_cache[0]);
	if (rc == 0)
		rc = mdb_cursor_open(s->rtxn_cache, s->dbi_msg[1], &s->rcur_cache[1]);
	if (rc) {
		rc = fail(s, rc, "opening a read transaction");
		goto fail;
	}
	mdb_txn_reset(s->rtxn_cache);

	/* Retention left over from a previous run (a crash mid-purge). */
	s->purge_pending = 1;
	do
		rc = rfx_store_maintain(s, PURGE_CHUNK);
	while (rc > 0);
	if (rc < 0)
		goto fail;

	if (s->opt.durability == RFX_STORE_BATCH) {
		rc = -pthread_create(&s->flusher, NULL, flusher_main, s);
		if (rc < 0) {
			snprintf(s->err, sizeof(s->err), "%s: starting the flusher: %s",
				 s->file, strerror(-rc));
			goto fail;
		}
		s->flusher_on = 1;
	}
	*out = s;
	return 0;

fail:
	if (err && errlen)
		snprintf(err, errlen, "%s", s->err);
	rfx_store_close(s);
	return rc;
}

void rfx_store_close(struct rfx_store *s)
{
	if (!s)
		return;
	if (s->owner != getpid()) {
		/* A forked child holding its parent's handle: the env, its locks
		 * and the flusher thread belong to the parent. Free memory only. */
		goto free_mem;
	}
	batch_drop(s);
	if (s->flusher_on) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->flusher, NULL); /* its last pass syncs */
	}
	if (s->rcur_cache[0])
		mdb_cursor_close(s->rcur_cache[0]);
	if (s->rcur_cache[1])
		mdb_cursor_close(s->rcur_cache[1]);
	if (s->rtxn_cache)
		mdb_txn_abort(s->rtxn_cache);
	if (s->env)
		mdb_env_close(s->env);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
free_mem:
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* in a forked child the parent keeps the lock */
	free(s->sess);
	free(s->dirty);
	free(s->stage);
	free(s->st);
	free(s);
}

/* ---- rescaling -------------------------------------------------------------- */

struct sess_entry {
	char id[RFX_STORE_ID_MAX + 1];
	size_t len;
	struct rec_disk d;
};

/* Copy one session (record and all messages of all periods) from src into
 * dst and commit dst; then delete it from src and commit src. A copy already
 * in dst (from an interrupted run) is replaced: src stays authoritative until
 * its delete commits. */
static int move_session(struct rfx_store *src, struct rfx_store *dst,
			const struct sess_entry *e, uint64_t *moved_msgs)
{
	MDB_txn *st = NULL, *dt = NULL;
	MDB_val k = {e->len, (void *)e->id}, v;
	uint32_t dsid, next_id_saved = dst->next_id;
	unsigned budget;
	uint64_t n, copied;
	unsigned dir;
	int rc;

retry:
	copied = 0;
	dst->next_id = next_id_saved;
	grow_if_tight(dst);
	rc = txn_begin(dst, 0, &dt);
	if (rc)
		return fail(dst, rc, "beginning a migration transaction");
	rc = mdb_get(dt, dst->dbi_sess, &k, &v);
	if (rc == 0) {
		struct rfx_store_record r;
		if (rec_from_disk(&v, &dsid, &r) < 0) {
			rc = MDB_CORRUPTED;
			goto dst_fail;
		}
		budget = UINT_MAX;
		n = 0;
		rc = delete_msgs(dst, dt, dsid, UINT32_MAX, &budget, &n);
	} else if (rc == MDB_NOTFOUND) {
		dsid = dst->next_id++;
		rc = put_next_id(dst, dt, dst->next_id);
	}
	if (rc)
		goto dst_fail;
	rc = txn_begin(src, MDB_RDONLY, &st);
	if (rc) {
		mdb_txn_abort(dt);
		dst->next_id = next_id_saved;
		return fail(src, rc, "beginning a migration read");
	}
	for (dir = 0; dir < 2 && rc == 0; dir++) {
		MDB_cursor *c;
		unsigned char kb[KEY_LEN];
		MDB_val mk = {KEY_LEN, kb}, mv;

		rc = mdb_cursor_open(st, src->dbi_msg[dir], &c);
		if (rc)
			break;
		make_key(kb, e->d.sid, 0, 0);
		for (rc = mdb_cursor_get(c, &mk, &mv, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(c, &mk, &mv, MDB_NEXT)) {
			uint32_t ksid, kper;
			uint64_t kseq;
			unsigned char nk[KEY_LEN];
			MDB_val dk = {KEY_LEN, nk};

			if (mk.mv_size != KEY_LEN) {
				rc = MDB_CORRUPTED;
				break;
			}
			split_key(&mk, &ksid, &kper, &kseq);
			if (ksid != e->d.sid)
				break;
			make_key(nk, dsid, kper, kseq);
			rc = mdb_put(dt, dst->dbi_msg[dir], &dk, &mv, 0);
			if (rc)
				break;
			copied++;
		}
		mdb_cursor_close(c);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	mdb_txn_abort(st);
	if (rc == 0) {
		struct rec_disk d = e->d;
		d.sid = dsid;
		v.mv_size = sizeof(d);
		v.mv_data = &d;
		rc = mdb_put(dt, dst->dbi_sess, &k, &v, 0);
	}
	if (rc)
		goto dst_fail;
	rc = mdb_txn_commit(dt);
	if (rc == MDB_MAP_FULL)
		goto dst_grow;
	if (rc) {
		dst->next_id = next_id_saved;
		return fail(dst, rc, "committing a migrated session");
	}

	/* Destination durable (the migration envs are opened FULL); now the
	 * source copy may go. */
	for (;;) {
		grow_if_tight(src);
		rc = txn_begin(src, 0, &st);
		if (rc)
			return fail(src, rc, "beginning a migration delete");
		budget = UINT_MAX;
		n = 0;
		rc = delete_msgs(src, st, e->d.sid, UINT32_MAX, &budget, &n);
		if (rc == 0)
			rc = mdb_del(st, src->dbi_sess, &k, NULL);
		if (rc == 0)
			rc = mdb_txn_commit(st);
		else
			mdb_txn_abort(st);
		if (rc == MDB_MAP_FULL) {
			rc = grow(src);
			if (rc < 0)
				return rc;
			continue;
		}
		if (rc)
			return fail(src, rc, "deleting a migrated session");
		break;
	}
	*moved_msgs += copied;
	return 0;

dst_fail:
	mdb_txn_abort(dt);
	if (rc == MDB_MAP_FULL)
		goto dst_grow;
	dst->next_id = next_id_saved;
	return fail(dst, rc, "copying a session");
dst_grow:
	rc = grow(dst);
	if (rc < 0) {
		dst->next_id = next_id_saved;
		return rc;
	}
	goto retry;
}

static int list_sessions(struct rfx_store *s, struct sess_entry **out,
			 size_t *count)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	struct sess_entry *list = NULL;
	size_t n = 0, cap = 0;
	int rc;

	rc = txn_begin(s, MDB_RDONLY, &txn);
	if (rc)
		return fail(s, rc, "listing sessions");
	rc = mdb_cursor_open(txn, s->dbi_sess, &c);
	if (rc) {
		mdb_txn_abort(txn);
		return fail(s, rc, "listing sessions");
	}
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size > RFX_STORE_ID_MAX ||
		    v.mv_size != sizeof(struct rec_disk)) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct sess_entry *nl = realloc(list, ncap * sizeof(*nl));
			if (!nl) {
				rc = ENOMEM;
				break;
			}
			list = nl;
			cap = ncap;
		}
		memset(&list[n], 0, sizeof(list[n]));
		memcpy(list[n].id, k.mv_data, k.mv_size);
		list[n].len = k.mv_size;
		memcpy(&list[n].d, v.mv_data, sizeof(list[n].d));
		n++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND) {
		free(list);
		return fail(s, rc, "listing sessions");
	}
	*out = list;
	*count = n;
	return 0;
}

/* found[k] = 1 for each STORE/shard-k directory; *n grows to cover them. */
static int scan_shards(const char *root, unsigned char **found, unsigned *n)
{
	unsigned char *f = NULL;
	unsigned cap = *n;
	struct dirent *de;
	DIR *d;
	int pass;

	/* Pass 0 sizes the array, pass 1 fills it. */
	for (pass = 0; pass < 2; pass++) {
		d = opendir(root);
		if (!d) {
			free(f);
			return -errno;
		}
		while ((de = readdir(d))) {
			char *end;
			unsigned long k;

			if (strncmp(de->d_name, "shard-", 6) || !de->d_name[6])
				continue;
			errno = 0;
			k = strtoul(de->d_name + 6, &end, 10);
			if (*end || errno || k > 65535)
				continue;
			if (pass == 0 && k + 1 > cap)
				cap = (unsigned)k + 1;
			if (pass == 1 && k < cap)
				f[k] = 1;
		}
		closedir(d);
		if (pass == 0) {
			f = calloc(cap ? cap : 1, 1);
			if (!f)
				return -ENOMEM;
		}
	}
	*found = f;
	*n = cap;
	return 0;
}

int rfx_store_migrate(const struct rfx_store_options *base, unsigned nshards,
		      rfx_store_shard_fn map, void *ctx,
		      struct rfx_store_migrate_stats *stats, char *err,
		      size_t errlen)
{
	struct rfx_store_migrate_stats local = {0};
	struct rfx_store **envs = NULL;
	struct rfx_store_options o;
	unsigned nenv = nshards, k;
	unsigned char *found = NULL;
	unsigned *received = NULL;
	int rc = 0;

	if (err && errlen)
		err[0] = 0;
	if (!base || !base->path || !map || nshards == 0)
		return -EINVAL;
	/* Which shard envs exist? Their count may exceed the new nshards. */
	rc = scan_shards(base->path, &found, &nenv);
	if (rc == -ENOENT) {
		rc = 0;
		goto done; /* nothing stored yet */
	}
	if (rc < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: reading the store root: %s",
				 base->path, strerror(-rc));
		return rc;
	}
	envs = calloc(nenv, sizeof(*envs));
	received = calloc(nenv, sizeof(*received));
	if (!envs || !received) {
		rc = -ENOMEM;
		goto done_free;
	}
	o = *base;
	o.durability = RFX_STORE_FULL; /* every migration commit is synced */
	for (k = 0; k < nenv && rc == 0; k++) {
		struct sess_entry *list = NULL;
		size_t n = 0, i;

		if (!found[k])
			continue;
		local.envs++;
		if (!envs[k]) {
			o.shard = k;
			rc = rfx_store_open(&envs[k], &o, err, errlen);
			if (rc < 0)
				break;
		}
		rc = list_sessions(envs[k], &list, &n);
		if (rc < 0) {
			if (err && errlen)
				snprintf(err, errlen, "%s", envs[k]->err);
			break;
		}
		/* Sessions moved in earlier in this run were counted already. */
		local.sessions += (unsigned)n - (received[k] < n ? received[k] : (unsigned)n);
		for (i = 0; i < n && rc == 0; i++) {
			unsigned to = map(ctx, list[i].id, list[i].len);

			if (to == k)
				continue;
			if (to >= nshards) {
				rc = -EINVAL;
				if (err && errlen)
					snprintf(err, errlen,
						 "session %s: shard map returned %u of %u",
						 list[i].id, to, nshards);
				break;
			}
			if (!envs[to]) {
				o.shard = to;
				rc = rfx_store_open(&envs[to], &o, err, errlen);
				if (rc < 0)
					break;
			}
			envs[k]->err[0] = 0; /* so the message below is this move's */
			envs[to]->err[0] = 0;
			rc = move_session(envs[k], envs[to], &list[i], &local.messages);
			if (rc < 0) {
				if (err && errlen)
					snprintf(err, errlen, "session %s: %s", list[i].id,
						 envs[k]->err[0] ? envs[k]->err : envs[to]->err);
				break;
			}
			local.moved++;
			if (to > k)
				received[to]++;
		}
		free(list);
	}
done_free:
	if (envs)
		for (k = 0; k < nenv; k++)
			rfx_store_close(envs[k]);
	free(envs);
	free(received);
	free(found);
done:
	if (stats)
		*stats = local;
	return rc;
}
