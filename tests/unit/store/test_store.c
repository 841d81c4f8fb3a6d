/* Unit tests for every store operation, on real LMDB files in a temp dir. */
#include <criterion/criterion.h>
#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "engine/error.h"
#include "helpers.h"

static char root[512];

static void setup(void)
{
	th_tmpdir(root, sizeof(root));
	cr_assert(root[0], "mkdtemp failed");
}

static void teardown(void)
{
	th_rmtree(root);
}

TestSuite(ops, .init = setup, .fini = teardown, .timeout = 30);

static struct rfx_store *open_or_die(const struct rfx_store_options *o)
{
	struct rfx_store *s;
	char err[512];
	int rc = rfx_store_open(&s, o, err, sizeof(err));

	cr_assert_eq(rc, 0, "open: %s (%s)", rfx_strerror(rc), err);
	return s;
}

static struct rfx_store_session *sess_or_die(struct rfx_store *s, const char *id)
{
	struct rfx_store_session *ss;
	int rc = rfx_store_session_open(s, id, strlen(id), th_now_ns(), &ss);

	cr_assert_eq(rc, 0, "session_open: %s (%s)", rfx_strerror(rc),
		     rfx_store_errmsg(s));
	return ss;
}

static void append_or_die(struct rfx_store *s, struct rfx_store_session *ss,
			  unsigned tag, int dir, uint64_t seq)
{
	char buf[256];
	size_t n = th_payload(buf, sizeof(buf), tag, dir, seq);
	int rc = rfx_store_append(s, ss, dir, seq, buf, n);

	cr_assert_eq(rc, 0, "append %llu: %s (%s)", (unsigned long long)seq,
		     rfx_strerror(rc), rfx_store_errmsg(s));
}

/* Iterates [from, to] and checks the exact seqs `want` (count n) and bytes. */
static void expect_range(struct rfx_store *s, struct rfx_store_session *ss,
			 unsigned tag, int dir, uint64_t from, uint64_t to,
			 const uint64_t *want, size_t n)
{
	struct rfx_store_iter it;
	struct rfx_store_msg m;
	char buf[256];
	size_t i = 0;
	int rc;

	cr_assert_eq(rfx_store_iter_open(s, ss, dir, from, to, &it), 0);
	while ((rc = rfx_store_iter_next(&it, &m)) == 1) {
		cr_assert_lt(i, n, "extra message seq %llu", (unsigned long long)m.seq);
		cr_expect_eq(m.seq, want[i]);
		size_t len = th_payload(buf, sizeof(buf), tag, dir, m.seq);
		cr_expect_eq(m.len, len);
		cr_expect(m.len == len && !memcmp(m.data, buf, len),
			  "payload of %llu differs", (unsigned long long)m.seq);
		i++;
	}
	cr_expect_eq(rc, 0);
	cr_expect_eq(i, n, "got %zu of %zu messages", i, n);
	rfx_store_iter_close(&it);
}

Test(ops, open_creates_shard_env_and_reopens)
{
	struct rfx_store_options o = th_opts(root, 3, RFX_STORE_BATCH);
	struct rfx_store *s = open_or_die(&o);
	char p[600];
	struct stat st;

	snprintf(p, sizeof(p), "%s/shard-3/data.mdb", root);
	cr_expect_eq(stat(p, &st), 0, "no %s", p);
	cr_expect_eq(st.st_mode & 0777, 0600);
	rfx_store_close(s);
	s = open_or_die(&o);
	rfx_store_close(s);
	rfx_store_close(NULL);
	cr_expect_str_eq(rfx_store_errmsg(NULL), "no store");
}

Test(ops, invalid_options_and_arguments)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	char err[128];

	o.path = NULL;
	cr_expect_eq(rfx_store_open(&s, &o, err, sizeof(err)), -EINVAL);
	cr_expect_null(s);
	o = th_opts(root, 0, (enum rfx_store_durability)7);
	cr_expect_eq(rfx_store_open(&s, &o, err, sizeof(err)), -EINVAL);
	o = th_opts(root, 0, RFX_STORE_BATCH);
	s = open_or_die(&o);
	cr_expect_eq(rfx_store_session_open(s, "", 0, 0, &ss), -EINVAL);
	cr_expect_eq(rfx_store_session_open(s, "a\0b", 3, 0, &ss), -EINVAL);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	cr_expect_eq(rfx_store_append(s, ss, RFX_STORE_OUT, 0, "x", 1), -EINVAL);
	cr_expect_eq(rfx_store_append(s, ss, (enum rfx_store_dir)2, 1, "x", 1), -EINVAL);
	cr_expect_eq(rfx_store_commit(s), -EINVAL, "commit without a batch");
	cr_expect_eq(rfx_store_session_set(s, ss, 0, 1), -EINVAL);
	struct rfx_store_iter it;
	cr_expect_eq(rfx_store_iter_open(s, ss, RFX_STORE_OUT, 5, 4, &it), -EINVAL);
	rfx_store_iter_close(&it); /* safe on a failed open */
	rfx_store_close(s);
}

Test(ops, new_session_record_defaults_and_persistence)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *ss, *again;
	struct rfx_store_record r;
	int64_t t0 = 1700000000123456789LL;

	cr_assert_eq(rfx_store_session_open(s, "FIX.4.4:A->B", 12, t0, &ss), 0);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, 1);
	cr_expect_eq(r.next_target_seq, 1);
	cr_expect_eq(r.period, 1);
	cr_expect_eq(r.creation_time_ns, t0);
	cr_assert_eq(rfx_store_session_open(s, "FIX.4.4:A->B", 12, 5, &again), 0);
	cr_expect_eq(again, ss, "same id, same handle");
	cr_assert_eq(rfx_store_session_set(s, ss, 42, 77), 0);
	rfx_store_close(s);

	s = open_or_die(&o);
	cr_assert_eq(rfx_store_session_open(s, "FIX.4.4:A->B", 12, 5, &ss), 0);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, 42);
	cr_expect_eq(r.next_target_seq, 77);
	cr_expect_eq(r.creation_time_ns, t0, "creation time survives reopen");
	rfx_store_close(s);
}

Test(ops, single_appends_autocommit_and_advance_seqs)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_FULL);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *ss = sess_or_die(s, "FIX.4.4:A->B");
	struct rfx_store_record r;
	uint64_t want[10];
	uint64_t i;

	for (i = 1; i <= 10; i++) {
		append_or_die(s, ss, 1, RFX_STORE_OUT, i);
		want[i - 1] = i;
	}
	append_or_die(s, ss, 1, RFX_STORE_IN, 1);
	append_or_die(s, ss, 1, RFX_STORE_IN, 2);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, 11);
	cr_expect_eq(r.next_target_seq, 3);
	rfx_store_close(s);

	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, 11, "record committed with the messages");
	cr_expect_eq(r.next_target_seq, 3);
	expect_range(s, ss, 1, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, want, 10);
	expect_range(s, ss, 1, RFX_STORE_IN, 1, RFX_STORE_SEQ_END, want, 2);
	rfx_store_close(s);
}

Test(ops, batch_commits_atomically_and_abort_drops_it)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *ss = sess_or_die(s, "FIX.4.4:A->B");
	struct rfx_store_record r;
	static uint64_t want[256];
	uint64_t i;

	cr_assert_eq(rfx_store_begin(s), 0);
	cr_expect_eq(rfx_store_begin(s), -EBUSY);
	for (i = 1; i <= 256; i++)
		append_or_die(s, ss, 2, RFX_STORE_OUT, i);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, 257, "visible in memory inside the batch");
	rfx_store_abort(s);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, 1, "abort reverts the record");
	expect_range(s, ss, 2, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, want, 0);

	cr_assert_eq(rfx_store_begin(s), 0);
	for (i = 1; i <= 256; i++) {
		append_or_die(s, ss, 2, RFX_STORE_OUT, i);
		want[i - 1] = i;
	}
	cr_assert_eq(rfx_store_session_set(s, ss, 257, 9), 0);
	cr_assert_eq(rfx_store_commit(s), 0);
	rfx_store_close(s);

	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, 257);
	cr_expect_eq(r.next_target_seq, 9);
	expect_range(s, ss, 2, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, want, 256);
	rfx_store_close(s);
}

Test(ops, duplicate_seq_is_eexist_and_batch_survives)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *ss = sess_or_die(s, "FIX.4.4:A->B");
	uint64_t want[] = {1, 2, 3};

	cr_assert_eq(rfx_store_begin(s), 0);
	append_or_die(s, ss, 3, RFX_STORE_OUT, 1);
	append_or_die(s, ss, 3, RFX_STORE_OUT, 2);
	cr_expect_eq(rfx_store_append(s, ss, RFX_STORE_OUT, 1, "other", 5), -EEXIST);
	append_or_die(s, ss, 3, RFX_STORE_OUT, 3);
	cr_assert_eq(rfx_store_commit(s), 0);
	cr_expect_eq(rfx_store_append(s, ss, RFX_STORE_OUT, 2, "other", 5), -EEXIST);
	expect_range(s, ss, 3, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, want, 3);
	rfx_store_close(s);
}

Test(ops, ranges_respect_bounds_and_skip_gaps)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_NONE);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *ss = sess_or_die(s, "FIX.4.4:A->B");
	uint64_t seqs[] = {1, 2, 3, 5, 8, 1000000000000ull};
	size_t i;

	for (i = 0; i < 6; i++)
		append_or_die(s, ss, 4, RFX_STORE_OUT, seqs[i]);
	expect_range(s, ss, 4, RFX_STORE_OUT, 2, 5, (uint64_t[]){2, 3, 5}, 3);
	expect_range(s, ss, 4, RFX_STORE_OUT, 6, 7, NULL, 0);
	expect_range(s, ss, 4, RFX_STORE_OUT, 8, 8, (uint64_t[]){8}, 1);
	expect_range(s, ss, 4, RFX_STORE_OUT, 4, RFX_STORE_SEQ_END,
		     (uint64_t[]){5, 8, 1000000000000ull}, 3);
	expect_range(s, ss, 4, RFX_STORE_IN, 1, RFX_STORE_SEQ_END, NULL, 0);
	rfx_store_close(s);
}

Test(ops, interleaved_sessions_stay_separate)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *a = sess_or_die(s, "FIX.4.4:A->B");
	struct rfx_store_session *b = sess_or_die(s, "FIX.4.2:C->D:q");
	static uint64_t want[300];
	uint64_t i;

	/* b's keys sort after a's, so a's appends miss MDB_APPEND's fast path. */
	cr_assert_eq(rfx_store_begin(s), 0);
	for (i = 1; i <= 300; i++) {
		append_or_die(s, b, 6, RFX_STORE_OUT, i);
		append_or_die(s, a, 5, RFX_STORE_OUT, i);
		want[i - 1] = i;
	}
	cr_assert_eq(rfx_store_commit(s), 0);
	expect_range(s, a, 5, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, want, 300);
	expect_range(s, b, 6, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, want, 300);
	rfx_store_close(s);
}

Test(ops, session_limits_and_busy)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s;
	struct rfx_store_session *ss;

	o.max_sessions = 2;
	s = open_or_die(&o);
	sess_or_die(s, "S1");
	sess_or_die(s, "S2");
	cr_expect_eq(rfx_store_session_open(s, "S3", 2, 0, &ss), -ENOSPC);
	cr_expect_null(ss);
	cr_assert_eq(rfx_store_begin(s), 0);
	cr_expect_eq(rfx_store_session_open(s, "S1", 2, 0, &ss), -EBUSY);
	cr_expect_eq(rfx_store_maintain(s, 10), -EBUSY);
	rfx_store_abort(s);
	rfx_store_close(s);
}

Test(ops, reset_starts_new_period_and_drops_old_messages)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *ss = sess_or_die(s, "FIX.4.4:A->B");
	struct rfx_store_record r;
	uint64_t i;

	for (i = 1; i <= 50; i++) {
		append_or_die(s, ss, 7, RFX_STORE_OUT, i);
		append_or_die(s, ss, 7, RFX_STORE_IN, i);
	}
	cr_assert_eq(rfx_store_session_reset(s, ss, 123), 0);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, 1);
	cr_expect_eq(r.next_target_seq, 1);
	cr_expect_eq(r.period, 2);
	cr_expect_eq(r.creation_time_ns, 123);
	expect_range(s, ss, 7, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, NULL, 0);
	append_or_die(s, ss, 8, RFX_STORE_OUT, 1); /* seq 1 again, new period */
	expect_range(s, ss, 8, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, (uint64_t[]){1}, 1);
	cr_expect_eq(rfx_store_maintain(s, 30), 30, "budget bounds the work");
	cr_expect_eq(rfx_store_maintain(s, 1000), 70);
	cr_expect_eq(rfx_store_maintain(s, 1000), 0, "nothing left");
	rfx_store_close(s);

	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.period, 2);
	cr_expect_eq(r.creation_time_ns, 123);
	expect_range(s, ss, 8, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, (uint64_t[]){1}, 1);
	rfx_store_close(s);
}

Test(ops, reset_inside_batch_and_abort_reverts)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *ss = sess_or_die(s, "FIX.4.4:A->B");
	struct rfx_store_record r;

	append_or_die(s, ss, 9, RFX_STORE_OUT, 1);
	cr_assert_eq(rfx_store_begin(s), 0);
	cr_assert_eq(rfx_store_session_reset(s, ss, 5), 0);
	rfx_store_abort(s);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.period, 1);
	cr_expect_eq(r.next_sender_seq, 2);
	cr_assert_eq(rfx_store_begin(s), 0);
	cr_assert_eq(rfx_store_session_reset(s, ss, 5), 0);
	append_or_die(s, ss, 9, RFX_STORE_OUT, 1);
	cr_assert_eq(rfx_store_commit(s), 0);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.period, 2);
	cr_expect_eq(r.next_sender_seq, 2);
	cr_expect_eq(rfx_store_maintain(s, 100), 1, "the old period's message");
	rfx_store_close(s);
}

Test(ops, retention_keeps_configured_periods_and_stays_bounded)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_NONE);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	int day;
	uint64_t i;
	char p[600];
	struct stat st;
	off_t size_after_warmup = 0;

	o.keep_periods = 1;
	o.map_size = 1 << 20;
	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	/* 60 "days" of 500 messages each, with a daily reset. */
	for (day = 0; day < 60; day++) {
		cr_assert_eq(rfx_store_begin(s), 0);
		for (i = 1; i <= 500; i++)
			append_or_die(s, ss, 10, RFX_STORE_OUT, i);
		cr_assert_eq(rfx_store_commit(s), 0);
		cr_assert_eq(rfx_store_session_reset(s, ss, day), 0);
		int n = rfx_store_maintain(s, 1u << 30);
		cr_assert_geq(n, 0);
		cr_expect_eq(n, day == 0 ? 0 : 500, "day %d deleted %d", day, n);
		if (day == 10) {
			snprintf(p, sizeof(p), "%s/shard-0/data.mdb", root);
			cr_assert_eq(stat(p, &st), 0);
			size_after_warmup = st.st_size;
		}
	}
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_leq(st.st_size, size_after_warmup * 2,
		      "file grew from %lld to %lld bytes", (long long)size_after_warmup,
		      (long long)st.st_size);
	rfx_store_close(s);
}

Test(ops, iterators_are_zero_copy_views_and_coexist_with_a_batch)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *ss = sess_or_die(s, "FIX.4.4:A->B");
	struct rfx_store_iter a, b;
	struct rfx_store_msg m1, m2, m3;
	uint64_t i;

	for (i = 1; i <= 5; i++)
		append_or_die(s, ss, 11, RFX_STORE_OUT, i);
	cr_assert_eq(rfx_store_iter_open(s, ss, RFX_STORE_OUT, 1, 5, &a), 0);
	cr_assert_eq(rfx_store_iter_open(s, ss, RFX_STORE_OUT, 3, 5, &b), 0);
	cr_assert_eq(rfx_store_iter_next(&a, &m1), 1);
	cr_assert_eq(rfx_store_iter_next(&b, &m2), 1);
	cr_expect_eq(m1.seq, 1);
	cr_expect_eq(m2.seq, 3);
	/* A batch while readers are open sees no interference (snapshot). */
	cr_assert_eq(rfx_store_begin(s), 0);
	append_or_die(s, ss, 11, RFX_STORE_OUT, 6);
	cr_assert_eq(rfx_store_commit(s), 0);
	cr_assert_eq(rfx_store_iter_next(&b, &m3), 1);
	cr_assert_eq(rfx_store_iter_next(&b, &m3), 1);
	cr_expect_eq(m3.seq, 5);
	cr_expect_eq(rfx_store_iter_next(&b, &m3), 0, "snapshot ends at 5");
	/* m1 still points at the bytes of seq 1 until a closes. */
	char buf[256];
	size_t n = th_payload(buf, sizeof(buf), 11, 0, 1);
	cr_expect(m1.len == n && !memcmp(m1.data, buf, n));
	rfx_store_iter_close(&b);
	rfx_store_iter_close(&a);
	rfx_store_iter_close(&a); /* idempotent */
	expect_range(s, ss, 11, RFX_STORE_OUT, 6, 6, (uint64_t[]){6}, 1);
	rfx_store_close(s);
}

Test(ops, map_grows_by_itself_within_a_batch)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_NONE);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	static char big[16384];
	struct rfx_store_iter it;
	struct rfx_store_msg m;
	uint64_t i, n = 0;

	o.map_size = 256 << 10;
	o.map_size_max = 64 << 20;
	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	memset(big, 'x', sizeof(big));
	/* 3 MiB in one batch from a 256 KiB map: growth before the batch is not
	 * enough, so the batch meets MDB_MAP_FULL and is replayed. */
	cr_assert_eq(rfx_store_begin(s), 0);
	for (i = 1; i <= 192; i++) {
		big[0] = (char)i;
		cr_assert_eq(rfx_store_append(s, ss, RFX_STORE_OUT, i, big, sizeof(big)),
			     0, "%s", rfx_store_errmsg(s));
	}
	cr_assert_eq(rfx_store_commit(s), 0, "%s", rfx_store_errmsg(s));
	cr_assert_eq(rfx_store_iter_open(s, ss, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, &it), 0);
	while (rfx_store_iter_next(&it, &m) == 1) {
		n++;
		cr_expect_eq(m.len, sizeof(big));
		cr_expect_eq(((const char *)m.data)[0], (char)m.seq);
	}
	rfx_store_iter_close(&it);
	cr_expect_eq(n, 192);
	rfx_store_close(s);
}

Test(ops, map_full_at_maximum_is_a_clear_error_and_loses_nothing_committed)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_FULL);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	static char big[8192];
	struct rfx_store_record r;
	uint64_t i, committed = 0;
	int rc = 0;
	char p[600];

	o.map_size = 512 << 10;
	o.map_size_max = 1 << 20;
	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	memset(big, 'y', sizeof(big));
	for (i = 1; i < 1000 && rc == 0; i += 4) {
		cr_assert_eq(rfx_store_begin(s), 0);
		for (uint64_t j = i; j < i + 4 && rc == 0; j++)
			rc = rfx_store_append(s, ss, RFX_STORE_OUT, j, big, sizeof(big));
		if (rc == 0) {
			rc = rfx_store_commit(s);
			if (rc == 0)
				committed = i + 3;
		}
	}
	cr_assert_eq(rc, RFX_EMAPFULL, "got %s", rfx_strerror(rc));
	snprintf(p, sizeof(p), "%s/shard-0/data.mdb", root);
	cr_expect(strstr(rfx_store_errmsg(s), p) != NULL, "errmsg: %s", rfx_store_errmsg(s));
	cr_expect(strstr(rfx_store_errmsg(s), "map_size_max") != NULL, "errmsg: %s",
		  rfx_store_errmsg(s));
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, committed + 1, "record reverted to the last commit");
	cr_assert_gt(committed, 8);
	rfx_store_close(s);

	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, committed + 1);
	struct rfx_store_iter it;
	struct rfx_store_msg m;
	uint64_t n = 0;
	cr_assert_eq(rfx_store_iter_open(s, ss, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, &it), 0);
	while (rfx_store_iter_next(&it, &m) == 1)
		cr_expect_eq(m.seq, ++n);
	rfx_store_iter_close(&it);
	cr_expect_eq(n, committed);
	rfx_store_close(s);
}

Test(ops, growth_refused_while_an_iterator_is_open)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_NONE);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	struct rfx_store_iter it;
	static char big[16384];
	uint64_t i;
	int rc = 0;

	o.map_size = 256 << 10;
	o.map_size_max = 64 << 20;
	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	append_or_die(s, ss, 12, RFX_STORE_OUT, 1);
	cr_assert_eq(rfx_store_iter_open(s, ss, RFX_STORE_OUT, 1, 1, &it), 0);
	cr_assert_eq(rfx_store_begin(s), 0);
	for (i = 2; i < 200 && rc == 0; i++)
		rc = rfx_store_append(s, ss, RFX_STORE_OUT, i, big, sizeof(big));
	cr_expect_eq(rc, RFX_EMAPFULL);
	cr_expect(strstr(rfx_store_errmsg(s), "iterator") != NULL, "%s", rfx_store_errmsg(s));
	rfx_store_iter_close(&it);
	cr_assert_eq(rfx_store_begin(s), 0, "the failed batch was dropped");
	for (i = 2; i < 200; i++)
		cr_assert_eq(rfx_store_append(s, ss, RFX_STORE_OUT, i, big, sizeof(big)), 0);
	cr_assert_eq(rfx_store_commit(s), 0);
	rfx_store_close(s);
}

Test(ops, oversized_batch_commits_early_and_oversized_message_is_refused)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	static char msg[1000];
	struct rfx_store_record r;
	uint64_t i;

	o.batch_bytes = 4096;
	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	cr_expect_eq(rfx_store_append(s, ss, RFX_STORE_OUT, 1, msg, 5000), RFX_ETOOBIG);
	cr_assert_eq(rfx_store_begin(s), 0);
	for (i = 1; i <= 20; i++)
		cr_assert_eq(rfx_store_append(s, ss, RFX_STORE_OUT, i, msg, sizeof(msg)), 0);
	cr_assert_eq(rfx_store_commit(s), 0);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, 21);
	rfx_store_close(s);
}

Test(ops, sync_and_health_in_each_mode)
{
	enum rfx_store_durability modes[] = {RFX_STORE_FULL, RFX_STORE_BATCH, RFX_STORE_NONE};

	for (int i = 0; i < 3; i++) {
		struct rfx_store_options o = th_opts(root, (unsigned)i, modes[i]);
		struct rfx_store *s = open_or_die(&o);
		struct rfx_store_session *ss = sess_or_die(s, "FIX.4.4:A->B");

		append_or_die(s, ss, 13, RFX_STORE_OUT, 1);
		cr_expect_eq(rfx_store_sync(s), 0);
		usleep(30000); /* let the BATCH flusher run at least once */
		cr_expect_eq(rfx_store_health(s), 0);
		rfx_store_close(s);
	}
}

/* Child: open the env with plain LMDB (as a CLI tool or mdb_stat would),
 * optionally take a reader slot, report, wait. alarm() bounds its life even
 * if the test fails before killing it. */
static pid_t hold_env(const struct rfx_store_options *o, int take_reader)
{
	int pipefd[2];
	char c;
	pid_t pid;

	cr_assert_eq(pipe(pipefd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char dir[600];
		MDB_env *env;
		MDB_txn *txn;

		alarm(20);
		close(pipefd[0]);
		snprintf(dir, sizeof(dir), "%s/shard-%u", o->path, o->shard);
		if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 4) ||
		    mdb_env_open(env, dir, MDB_RDONLY, 0600))
			_exit(1);
		if (take_reader && mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
			_exit(1);
		(void)!write(pipefd[1], "r", 1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		cr_assert_fail("child could not open the env");
	}
	close(pipefd[0]);
	return pid;
}

Test(ops, stale_reader_of_a_killed_process_is_cleared_at_open)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_NONE);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *ss = sess_or_die(s, "FIX.4.4:A->B");
	struct rfx_store_info info;
	pid_t holder, reader;
	int status;

	append_or_die(s, ss, 14, RFX_STORE_OUT, 1);
	rfx_store_close(s); /* never across fork */
	/* While another process keeps the env open LMDB keeps the lock file's
	 * reader table, so a killed reader's slot survives until someone runs
	 * the check: that is the case open must handle. */
	holder = hold_env(&o, 0);
	reader = hold_env(&o, 1);
	kill(reader, SIGKILL);
	waitpid(reader, &status, 0);
	int rc = rfx_store_open(&s, &o, NULL, 0);
	kill(holder, SIGKILL);
	waitpid(holder, &status, 0);
	cr_assert_eq(rc, 0, "%s", rfx_strerror(rc));
	rfx_store_info(s, &info);
	cr_expect_geq(info.stale_readers, 1, "dead reader not cleared");
	cr_expect_eq(info.sessions_open, 0);
	rfx_store_close(s);
}

static unsigned map_to_zero(void *ctx, const char *id, size_t len)
{
	(void)ctx;
	(void)id;
	(void)len;
	return 0;
}

Test(ops, second_open_of_an_env_is_ebusy_in_this_or_another_process)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_NONE);
	struct rfx_store *s = open_or_die(&o), *s2;
	char err[1024], dir[600];
	int status, rc;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/shard-0", root);
	rc = rfx_store_open(&s2, &o, err, sizeof(err));
	cr_expect_eq(rc, -EBUSY, "same process: %s", rfx_strerror(rc));
	cr_expect(strstr(err, dir) != NULL, "%s", err);
	/* Another process, and a migration while a "shard" has its env open. */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		alarm(20);
		if (rfx_store_open(&s2, &o, NULL, 0) != -EBUSY)
			_exit(1);
		if (rfx_store_migrate(&o, 1, map_to_zero, NULL, NULL, NULL, 0) != -EBUSY)
			_exit(2);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child check %d",
		  WEXITSTATUS(status));
	rfx_store_close(s);
	s = open_or_die(&o); /* released on close */
	rfx_store_close(s);
}

Test(ops, flusher_syncs_after_commits_and_idles_otherwise)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	struct rfx_store_info a, b;

	o.flush_interval_ms = 2;
	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	append_or_die(s, ss, 15, RFX_STORE_OUT, 1);
	usleep(50000);
	rfx_store_info(s, &a);
	cr_expect_geq(a.syncs, 1, "the flusher never synced the commit");
	cr_expect_geq(a.commits, 1);
	cr_expect_gt(a.map_size, 0);
	cr_expect_leq(a.map_used, a.map_size);
	usleep(50000);
	rfx_store_info(s, &b);
	cr_expect_eq(b.syncs, a.syncs, "synced %llu times while idle",
		     (unsigned long long)(b.syncs - a.syncs));
	rfx_store_close(s);
}

Test(ops, close_in_a_forked_child_leaves_the_parents_env_alone)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s = open_or_die(&o);
	struct rfx_store_session *ss = sess_or_die(s, "FIX.4.4:A->B");
	int status;
	pid_t pid;

	append_or_die(s, ss, 16, RFX_STORE_OUT, 1);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		rfx_store_close(s); /* must not join a thread it does not have */
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	append_or_die(s, ss, 16, RFX_STORE_OUT, 2);
	expect_range(s, ss, 16, RFX_STORE_OUT, 1, 2, (uint64_t[]){1, 2}, 2);
	rfx_store_close(s);
}

/* Writable map: pages far behind the write frontier are dropped from the
 * page tables ahead of writeback (madvise). Nothing written may change:
 * every message reads back, before and after a reopen, and the store keeps
 * appending over pages it unmapped. */
Test(ops, unmapping_behind_the_frontier_keeps_every_message)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	struct rfx_store_info info;
	struct rfx_store_iter it;
	struct rfx_store_msg m;
	char buf[256];
	const uint64_t n = 40000; /* ~4 MiB of messages */
	uint64_t seq = 1, got;

	o.flush_interval_ms = 1; /* writeback races with the unmapping */
	s = open_or_die(&o);
	ss = sess_or_die(s, "FIX.4.4:A->B");
	while (seq <= n) {
		cr_assert_eq(rfx_store_begin(s), 0);
		for (unsigned i = 0; i < 256 && seq <= n; i++, seq++) {
			size_t len = th_payload(buf, sizeof(buf), 1, 0, seq);
			cr_assert_eq(rfx_store_append(s, ss, RFX_STORE_OUT, seq, buf, len), 0);
		}
		cr_assert_eq(rfx_store_commit(s), 0, "%s", rfx_store_errmsg(s));
	}
	rfx_store_info(s, &info);
	cr_assert_eq(info.writable_map, 1);
	cr_assert_gt(info.unmapped, 2u << 20, "unmapped only %zu bytes", info.unmapped);
	for (int pass = 0; pass < 2; pass++) {
		got = 0;
		cr_assert_eq(rfx_store_iter_open(s, ss, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, &it), 0);
		while (rfx_store_iter_next(&it, &m) == 1) {
			size_t len = th_payload(buf, sizeof(buf), 1, 0, m.seq);
			got++;
			cr_assert_eq(m.seq, got);
			cr_assert(m.len == len && !memcmp(m.data, buf, len), "seq %llu differs",
				  (unsigned long long)m.seq);
		}
		rfx_store_iter_close(&it);
		cr_assert_eq(got, n);
		rfx_store_close(s);
		s = open_or_die(&o);
		ss = sess_or_die(s, "FIX.4.4:A->B");
	}
	rfx_store_close(s);
}
