/* Real crash tests: a child process appends in a loop and publishes every
 * acknowledged (committed) seq in shared memory; the parent SIGKILLs it at a
 * random moment, reopens the store and checks that every acknowledged write
 * is there and the record agrees with the messages. Iterations per mode:
 * RFX_STORE_CRASH_ITERS (default 25 for BATCH, 8 for FULL). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "engine/error.h"
#include "helpers.h"

#define SID "FIX.4.4:CRASH->TEST"

struct shared {
	_Atomic uint64_t acked_out; /* highest outbound seq whose commit returned */
	_Atomic uint64_t acked_in;
	_Atomic int child_error;
};

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

TestSuite(crash, .init = setup, .fini = teardown, .timeout = 170);

static unsigned iters(unsigned dflt)
{
	const char *e = getenv("RFX_STORE_CRASH_ITERS");
	unsigned long n = e ? strtoul(e, NULL, 10) : 0;

	return n ? (unsigned)n : dflt;
}

/* The writer: never returns. Exit codes other than death by SIGKILL are
 * failures the parent reports. */
static void child_loop(enum rfx_store_durability mode, int readonly_map,
		       struct shared *sh, unsigned seed)
{
	struct rfx_store_options o = th_opts(root, 0, mode);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	struct rfx_store_record r;
	char buf[256], err[512];
	int rc;

	alarm(60); /* never outlive a parent that failed before killing us */
	o.map_size = 256 << 10; /* small: growth happens under fire too */
	o.map_size_max = 256 << 20;
	o.readonly_map = readonly_map;
	rc = rfx_store_open(&s, &o, err, sizeof(err));
	if (rc == 0)
		rc = rfx_store_session_open(s, SID, strlen(SID), th_now_ns(), &ss);
	if (rc) {
		atomic_store(&sh->child_error, rc);
		_exit(2);
	}
	rfx_store_session_get(ss, &r);
	srand(seed);
	for (;;) {
		uint64_t out = r.next_sender_seq, in = r.next_target_seq;
		unsigned n = 1 + (unsigned)rand() % 32, i;

		rc = rfx_store_begin(s);
		for (i = 0; i < n && rc == 0; i++) {
			size_t len = th_payload(buf, sizeof(buf), 1, 0, out);
			rc = rfx_store_append(s, ss, RFX_STORE_OUT, out++, buf, len);
			if (rc == 0 && (i & 1)) {
				len = th_payload(buf, sizeof(buf), 1, 1, in);
				rc = rfx_store_append(s, ss, RFX_STORE_IN, in++, buf, len);
			}
		}
		if (rc == 0)
			rc = rfx_store_commit(s);
		if (rc) {
			atomic_store(&sh->child_error, rc);
			_exit(3);
		}
		/* Acknowledged only after commit returned. */
		rfx_store_session_get(ss, &r);
		atomic_store(&sh->acked_out, r.next_sender_seq - 1);
		atomic_store(&sh->acked_in, r.next_target_seq - 1);
		if (rand() % 16 == 0)
			rfx_store_maintain(s, 100); /* no-op work that opens txns */
	}
}

/* Every seq 1..next-1 present, contiguous, with the right bytes; returns the
 * count. */
static uint64_t verify_dir(struct rfx_store *s, struct rfx_store_session *ss,
			   int dir, uint64_t next)
{
	struct rfx_store_iter it;
	struct rfx_store_msg m;
	char buf[256];
	uint64_t want = 1;
	int rc;

	cr_assert_eq(rfx_store_iter_open(s, ss, dir, 1, RFX_STORE_SEQ_END, &it), 0);
	while ((rc = rfx_store_iter_next(&it, &m)) == 1) {
		size_t len = th_payload(buf, sizeof(buf), 1, dir, m.seq);
		cr_assert_eq(m.seq, want, "dir %d: expected seq %llu, found %llu", dir,
			     (unsigned long long)want, (unsigned long long)m.seq);
		cr_assert(m.len == len && !memcmp(m.data, buf, len),
			  "dir %d seq %llu: bytes differ", dir, (unsigned long long)m.seq);
		want++;
	}
	cr_assert_eq(rc, 0);
	rfx_store_iter_close(&it);
	cr_assert_eq(want, next, "dir %d: messages end at %llu but record says next %llu",
		     dir, (unsigned long long)want - 1, (unsigned long long)next);
	return want - 1;
}

static void crash_loop(enum rfx_store_durability mode, int readonly_map, unsigned n,
		       unsigned max_ms)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t prev_acked = 0, killed_busy = 0;
	unsigned i;

	cr_assert_neq(sh, MAP_FAILED);
	srand((unsigned)th_now_ns());
	for (i = 0; i < n; i++) {
		int status;
		pid_t pid;

		atomic_store(&sh->child_error, 0);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0)
			child_loop(mode, readonly_map, sh, (unsigned)rand());
		/* Every other kill lands only after the child acknowledged something
		 * new, so a loaded machine (slow fork, slow fdatasync) still exercises
		 * kills mid-stream; the others may land during open. Bounded wait. */
		if (i % 2 == 1) {
			int64_t t0 = th_now_ns();
			while (atomic_load(&sh->acked_out) == prev_acked &&
			       th_now_ns() - t0 < 10ll * 1000 * 1000 * 1000)
				usleep(200);
		}
		usleep((useconds_t)(1000 + rand() % (max_ms * 1000)));
		kill(pid, SIGKILL);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			  "child ended by itself (status %d, store error %s)", status,
			  rfx_strerror(atomic_load(&sh->child_error)));

		/* Reopen in the parent: nothing acknowledged may be missing. */
		struct rfx_store_options o = th_opts(root, 0, mode);
		struct rfx_store *s;
		struct rfx_store_session *ss;
		struct rfx_store_record r;
		struct rfx_store_info info;
		char err[512];
		int rc;

		o.readonly_map = readonly_map;
		rc = rfx_store_open(&s, &o, err, sizeof(err));
		cr_assert_eq(rc, 0, "reopen after kill %u: %s", i, err);
		/* The mode under test is the one the writer used. */
		rfx_store_info(s, &info);
		cr_assert_eq(info.writable_map, mode != RFX_STORE_FULL && !readonly_map);
		rc = rfx_store_session_open(s, SID, strlen(SID), 0, &ss);
		cr_assert_eq(rc, 0);
		rfx_store_session_get(ss, &r);
		uint64_t acked_out = atomic_load(&sh->acked_out);
		uint64_t acked_in = atomic_load(&sh->acked_in);
		cr_assert_geq(r.next_sender_seq, acked_out + 1,
			      "kill %u: acked out seq %llu lost (next %llu)", i,
			      (unsigned long long)acked_out,
			      (unsigned long long)r.next_sender_seq);
		cr_assert_geq(r.next_target_seq, acked_in + 1, "kill %u: acked in lost", i);
		verify_dir(s, ss, RFX_STORE_OUT, r.next_sender_seq);
		verify_dir(s, ss, RFX_STORE_IN, r.next_target_seq);
		if (r.next_sender_seq - 1 > acked_out)
			killed_busy++; /* committed but killed before acking */
		rfx_store_close(s);
		cr_assert_geq(acked_out, prev_acked);
		prev_acked = acked_out;
	}
	cr_log_info("%u kills, %llu messages acknowledged, %llu kills between commit and ack",
		    n, (unsigned long long)prev_acked, (unsigned long long)killed_busy);
	cr_expect_gt(prev_acked, 0, "the child never committed anything");
	munmap(sh, sizeof(*sh));
}

/* BATCH and NONE run on the writable map (the default): a kill mid-batch
 * leaves LMDB's pages half-built in the shared file pages, and the previous
 * meta page must still describe an intact tree. */
Test(crash, sigkill_in_batch_mode_loses_no_acknowledged_write)
{
	crash_loop(RFX_STORE_BATCH, 0, iters(25), 40);
}

Test(crash, sigkill_in_full_mode_loses_no_acknowledged_write)
{
	crash_loop(RFX_STORE_FULL, 0, iters(8), 60);
}

Test(crash, sigkill_in_none_mode_loses_no_acknowledged_write)
{
	crash_loop(RFX_STORE_NONE, 0, iters(10), 30);
}

Test(crash, sigkill_in_batch_mode_with_readonly_map_loses_no_acknowledged_write)
{
	crash_loop(RFX_STORE_BATCH, 1, iters(10), 40);
}
