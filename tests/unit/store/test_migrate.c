/* Rescaling: sessions move to their new owner shard with every record and
 * message, idempotently, and a migration killed at any moment loses nothing
 * once re-run. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "engine/error.h"
#include "helpers.h"

#define NSESS 12
#define NMSG 40

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

TestSuite(migrate, .init = setup, .fini = teardown, .timeout = 120);

static unsigned fnv(const char *id, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)id[i]) * 16777619u;
	return h;
}

static unsigned map_mod(void *ctx, const char *id, size_t len)
{
	return fnv(id, len) % *(unsigned *)ctx;
}

static void sess_name(char *buf, size_t n, unsigned i)
{
	snprintf(buf, n, "FIX.4.4:FIRM%u->VENUE", i);
}

/* Session i has NMSG*(i+1)/4 out and in messages, a reset history (period
 * 2, with period-1 messages kept), and seqs that depend on i. */
static void populate(unsigned nshards, unsigned msgs)
{
	unsigned ctx = nshards;
	struct rfx_store *s[8] = {0};
	char id[64], buf[256];

	for (unsigned k = 0; k < nshards; k++) {
		struct rfx_store_options o = th_opts(root, k, RFX_STORE_NONE);
		o.keep_periods = 1;
		cr_assert_eq(rfx_store_open(&s[k], &o, NULL, 0), 0);
	}
	for (unsigned i = 0; i < NSESS; i++) {
		struct rfx_store_session *ss;
		sess_name(id, sizeof(id), i);
		unsigned k = map_mod(&ctx, id, strlen(id));
		cr_assert_eq(rfx_store_session_open(s[k], id, strlen(id), 1000 + i, &ss), 0);
		size_t len = th_payload(buf, sizeof(buf), i + 100, 0, 1);
		cr_assert_eq(rfx_store_append(s[k], ss, RFX_STORE_OUT, 1, buf, len), 0);
		cr_assert_eq(rfx_store_session_reset(s[k], ss, 2000 + i), 0);
		cr_assert_eq(rfx_store_begin(s[k]), 0);
		for (uint64_t q = 1; q <= msgs * (i + 1) / 4; q++) {
			len = th_payload(buf, sizeof(buf), i, 0, q);
			cr_assert_eq(rfx_store_append(s[k], ss, RFX_STORE_OUT, q, buf, len), 0);
			len = th_payload(buf, sizeof(buf), i, 1, q);
			cr_assert_eq(rfx_store_append(s[k], ss, RFX_STORE_IN, q, buf, len), 0);
		}
		cr_assert_eq(rfx_store_session_set(s[k], ss, msgs * (i + 1) / 4 + 1, 5000 + i), 0);
		cr_assert_eq(rfx_store_commit(s[k]), 0);
	}
	for (unsigned k = 0; k < nshards; k++)
		rfx_store_close(s[k]);
}

/* Every session lives in exactly its owner shard, intact. It opens the
 * session in every shard, which creates empty ones in non-owners, so it is
 * the last step of a test. */
static void verify(unsigned nshards, unsigned envs_on_disk, unsigned msgs)
{
	unsigned ctx = nshards;
	char id[64], buf[256];

	for (unsigned i = 0; i < NSESS; i++) {
		sess_name(id, sizeof(id), i);
		unsigned owner = map_mod(&ctx, id, strlen(id));
		for (unsigned k = 0; k < envs_on_disk; k++) {
			struct rfx_store_options o = th_opts(root, k, RFX_STORE_NONE);
			struct rfx_store *s;
			struct rfx_store_session *ss;
			struct rfx_store_record r;
			o.keep_periods = 1;
			cr_assert_eq(rfx_store_open(&s, &o, NULL, 0), 0);
			/* session_open creates missing ones: new means "not here". */
			cr_assert_eq(rfx_store_session_open(s, id, strlen(id), 77, &ss), 0);
			rfx_store_session_get(ss, &r);
			if (k != owner) {
				cr_expect_eq(r.creation_time_ns, 77, "%s still in shard %u", id, k);
				rfx_store_close(s);
				continue;
			}
			cr_expect_eq(r.period, 2, "%s", id);
			cr_expect_eq(r.creation_time_ns, 2000 + i, "%s", id);
			cr_expect_eq(r.next_sender_seq, msgs * (i + 1) / 4 + 1, "%s", id);
			cr_expect_eq(r.next_target_seq, 5000 + i, "%s", id);
			for (int dir = 0; dir < 2; dir++) {
				struct rfx_store_iter it;
				struct rfx_store_msg m;
				uint64_t n = 0;
				cr_assert_eq(rfx_store_iter_open(s, ss, dir, 1, RFX_STORE_SEQ_END, &it), 0);
				while (rfx_store_iter_next(&it, &m) == 1) {
					size_t len = th_payload(buf, sizeof(buf), i, dir, m.seq);
					n++;
					cr_expect_eq(m.seq, n);
					cr_expect(m.len == len && !memcmp(m.data, buf, len),
						  "%s seq %llu differs", id, (unsigned long long)m.seq);
				}
				rfx_store_iter_close(&it);
				cr_expect_eq(n, msgs * (i + 1) / 4, "%s dir %d", id, dir);
			}
			rfx_store_close(s);
		}
	}
}

Test(migrate, grow_then_shrink_shard_count_keeps_every_session)
{
	struct rfx_store_options base = th_opts(root, 0, RFX_STORE_NONE);
	struct rfx_store_migrate_stats st;
	unsigned n3 = 3;
	char err[1024];

	base.keep_periods = 1;
	populate(2, NMSG);
	cr_assert_eq(rfx_store_migrate(&base, 3, map_mod, &n3, &st, err, sizeof(err)), 0,
		     "%s", err);
	cr_expect_eq(st.envs, 2);
	cr_expect_eq(st.sessions, NSESS);
	cr_expect_gt(st.moved, 0);
	cr_expect_gt(st.messages, 0);
	/* Re-running is a no-op. */
	cr_assert_eq(rfx_store_migrate(&base, 3, map_mod, &n3, &st, err, sizeof(err)), 0);
	cr_expect_eq(st.moved, 0);
	cr_expect_eq(st.envs, 3);
	verify(3, 3, NMSG);
}

Test(migrate, shrink_to_one_shard)
{
	struct rfx_store_options base = th_opts(root, 0, RFX_STORE_NONE);
	struct rfx_store_migrate_stats st;
	unsigned n1 = 1;

	base.keep_periods = 1;
	populate(4, NMSG);
	cr_assert_eq(rfx_store_migrate(&base, 1, map_mod, &n1, &st, NULL, 0), 0);
	cr_expect_eq(st.envs, 4);
	verify(1, 4, NMSG);
}

Test(migrate, source_copy_wins_over_a_stale_destination_copy)
{
	struct rfx_store_options base = th_opts(root, 0, RFX_STORE_NONE);
	unsigned n2 = 2, n1 = 1;
	char id[64];
	int target = -1;

	base.keep_periods = 1;
	populate(1, NMSG);
	/* Fake an interrupted earlier run: a different, partial copy of one
	 * session already sits in its new owner shard. */
	for (unsigned i = 0; i < NSESS && target < 0; i++) {
		sess_name(id, sizeof(id), i);
		if (map_mod(&n2, id, strlen(id)) == 1)
			target = (int)i;
	}
	cr_assert_geq(target, 0);
	{
		struct rfx_store_options o = th_opts(root, 1, RFX_STORE_NONE);
		struct rfx_store *s;
		struct rfx_store_session *ss;
		o.keep_periods = 1;
		cr_assert_eq(rfx_store_open(&s, &o, NULL, 0), 0);
		sess_name(id, sizeof(id), 99);
		cr_assert_eq(rfx_store_session_open(s, id, strlen(id), 1, &ss), 0);
		sess_name(id, sizeof(id), (unsigned)target);
		cr_assert_eq(rfx_store_session_open(s, id, strlen(id), 1, &ss), 0);
		for (uint64_t q = 1; q <= 500; q++)
			cr_assert_eq(rfx_store_append(s, ss, RFX_STORE_OUT, q, "stale", 5), 0);
		rfx_store_close(s);
	}
	cr_assert_eq(rfx_store_migrate(&base, 2, map_mod, &n2, NULL, NULL, 0), 0);
	verify(2, 1, NMSG); /* shard-0 no longer holds the moved ones */
	{
		/* The owner's copy is the source's: checked shard by shard. */
		struct rfx_store_options o = th_opts(root, 1, RFX_STORE_NONE);
		struct rfx_store *s;
		struct rfx_store_session *ss;
		struct rfx_store_record r;
		o.keep_periods = 1;
		cr_assert_eq(rfx_store_open(&s, &o, NULL, 0), 0);
		cr_assert_eq(rfx_store_session_open(s, id, strlen(id), 1, &ss), 0);
		rfx_store_session_get(ss, &r);
		cr_expect_eq(r.creation_time_ns, 2000 + target);
		rfx_store_close(s);
	}
	(void)n1;
}

static unsigned map_bad(void *ctx, const char *id, size_t len)
{
	(void)ctx;
	(void)id;
	(void)len;
	return 7;
}

Test(migrate, bad_map_result_and_empty_root)
{
	struct rfx_store_options base = th_opts(root, 0, RFX_STORE_NONE);
	struct rfx_store_migrate_stats st;
	char err[1024], missing[600];
	unsigned n = 2;

	snprintf(missing, sizeof(missing), "%s/none", root);
	base.path = missing;
	cr_expect_eq(rfx_store_migrate(&base, 2, map_mod, &n, &st, err, sizeof(err)), 0);
	cr_expect_eq(st.envs, 0);
	base.path = root;
	populate(1, 4);
	cr_expect_eq(rfx_store_migrate(&base, 2, map_bad, NULL, &st, err, sizeof(err)),
		     -EINVAL);
	cr_expect(strstr(err, "shard map returned 7") != NULL, "%s", err);
	cr_expect_eq(rfx_store_migrate(&base, 0, map_mod, &n, NULL, NULL, 0), -EINVAL);
}

/* Kill the migrating process at random moments, re-run, check. */
Test(migrate, sigkill_mid_migration_then_rerun_loses_nothing)
{
	struct rfx_store_options base = th_opts(root, 0, RFX_STORE_NONE);
	const char *e = getenv("RFX_STORE_CRASH_ITERS");
	unsigned iters = e && atoi(e) > 0 ? (unsigned)atoi(e) : 6;
	unsigned counts[] = {3, 1, 4, 2};

	base.keep_periods = 1;
	populate(2, NMSG * 8);
	srand((unsigned)th_now_ns());
	for (unsigned i = 0; i < iters; i++) {
		unsigned n = counts[i % 4];
		pid_t pid = fork();
		int status;

		cr_assert_geq(pid, 0);
		if (pid == 0) {
			alarm(60);
			_exit(rfx_store_migrate(&base, n, map_mod, &n, NULL, NULL, 0) ? 1 : 0);
		}
		usleep((useconds_t)(rand() % 20000));
		kill(pid, SIGKILL);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFSIGNALED(status) || (WIFEXITED(status) && !WEXITSTATUS(status)),
			  "migration failed by itself (status %d)", status);
		char err[1024];
		cr_assert_eq(rfx_store_migrate(&base, n, map_mod, &n, NULL, err, sizeof(err)), 0,
			     "re-run: %s", err);
	}
	unsigned last = counts[(iters - 1) % 4];
	verify(last, 4, NMSG * 8);
}
