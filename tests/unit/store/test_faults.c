/* Fault injection: a full disk (a real 2 MiB tmpfs), corrupt, truncated and
 * foreign files, permission problems. Each failure must be a clear error
 * naming the file, and nothing committed before it may be lost. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "engine/error.h"
#include "helpers.h"

static char root[512];
static char mnt[600];

static void setup(void)
{
	th_tmpdir(root, sizeof(root));
	cr_assert(root[0], "mkdtemp failed");
	mnt[0] = 0;
}

static void teardown(void)
{
	if (mnt[0])
		umount2(mnt, MNT_DETACH);
	th_rmtree(root);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 60);

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void make_store_with_messages(unsigned n)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_FULL);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	char buf[256];

	cr_assert_eq(rfx_store_open(&s, &o, NULL, 0), 0);
	cr_assert_eq(rfx_store_session_open(s, "FIX.4.4:A->B", 12, 1, &ss), 0);
	for (unsigned i = 1; i <= n; i++) {
		size_t len = th_payload(buf, sizeof(buf), 1, 0, i);
		cr_assert_eq(rfx_store_append(s, ss, RFX_STORE_OUT, i, buf, len), 0);
	}
	rfx_store_close(s);
}

static void expect_open_fails(int want, const char *needle)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
	struct rfx_store *s;
	char err[1024], file[600];
	int rc = rfx_store_open(&s, &o, err, sizeof(err));

	cr_expect_eq(rc, want, "open: %s (%s), expected %s", rfx_strerror(rc), err,
		     rfx_strerror(want));
	cr_expect_null(s);
	snprintf(file, sizeof(file), "%s/shard-0", root);
	cr_expect(strstr(err, file) != NULL, "error does not name the file: %s", err);
	if (needle)
		cr_expect(strstr(err, needle) != NULL, "error lacks '%s': %s", needle, err);
	if (rc == 0)
		rfx_store_close(s);
}

Test(faults, garbage_file_is_ecorrupt)
{
	char p[600], junk[65536];

	make_store_with_messages(0);
	snprintf(p, sizeof(p), "%s/shard-0/data.mdb", root);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 131 + 7);
	write_file(p, junk, sizeof(junk));
	expect_open_fails(RFX_ECORRUPT, "data.mdb");
}

Test(faults, truncated_file_is_ecorrupt)
{
	char p[600];

	make_store_with_messages(100);
	snprintf(p, sizeof(p), "%s/shard-0/data.mdb", root);
	cr_assert_eq(truncate(p, 100), 0);
	expect_open_fails(RFX_ECORRUPT, NULL);
}

Test(faults, damaged_meta_pages_are_ecorrupt)
{
	char p[600];
	struct stat st;
	int fd;

	make_store_with_messages(100);
	snprintf(p, sizeof(p), "%s/shard-0/data.mdb", root);
	cr_assert_eq(stat(p, &st), 0);
	fd = open(p, O_RDWR);
	cr_assert_geq(fd, 0);
	/* Both meta pages (pages 0 and 1) lose their LMDB magic. */
	long ps = sysconf(_SC_PAGESIZE);
	char zero[64] = {0};
	cr_assert_eq(pwrite(fd, zero, sizeof(zero), 0), (ssize_t)sizeof(zero));
	cr_assert_eq(pwrite(fd, zero, sizeof(zero), ps), (ssize_t)sizeof(zero));
	close(fd);
	expect_open_fails(RFX_ECORRUPT, NULL);
}

Test(faults, foreign_lmdb_database_is_ecorrupt)
{
	char dir[600];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {3, "foo"}, v = {3, "bar"};

	snprintf(dir, sizeof(dir), "%s/shard-0", root);
	cr_assert_eq(mkdir(dir, 0700), 0);
	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	expect_open_fails(RFX_ECORRUPT, "another application");
}

Test(faults, store_path_that_is_a_file_is_enotdir)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/shard-0", root);
	write_file(p, "x", 1);
	expect_open_fails(-ENOTDIR, NULL);
}

Test(faults, permission_denied_names_the_file)
{
	char dir[600];
	pid_t pid;
	int status;

	make_store_with_messages(10);
	snprintf(dir, sizeof(dir), "%s/shard-0", root);
	cr_assert_eq(chmod(dir, 0700), 0);
	if (geteuid() != 0) {
		/* As an ordinary user: take our own permission away. */
		cr_assert_eq(chmod(dir, 0), 0);
		expect_open_fails(-EACCES, NULL);
		chmod(dir, 0700);
		return;
	}
	/* As root permissions do not bind us: check from a child that drops to
	 * nobody, against our 0700 directories. */
	cr_assert_eq(chmod(root, 0755), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rfx_store_options o = th_opts(root, 0, RFX_STORE_BATCH);
		struct rfx_store *s;
		char err[1024];

		if (setgid(65534) || setuid(65534))
			_exit(77);
		int rc = rfx_store_open(&s, &o, err, sizeof(err));
		if (rc != -EACCES)
			_exit(1);
		if (!strstr(err, dir) || !strstr(err, "ermission denied"))
			_exit(2);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		cr_skip_test("cannot drop privileges to uid 65534 here");
	cr_expect_eq(WEXITSTATUS(status), 0, "child check %d failed", WEXITSTATUS(status));
}

/* A small filesystem to fill: a real tmpfs of `size` when we may mount one
 * (root), else (limit_ok) a file-size limit on this test process, under
 * which the kernel answers EFBIG where a full disk answers ENOSPC. Returns
 * the directory to use, or skips. */
static const char *small_fs(const char *size, long limit_bytes, int limit_ok)
{
	char opts[64];

	snprintf(mnt, sizeof(mnt), "%s/tiny", root);
	cr_assert_eq(mkdir(mnt, 0700), 0);
	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	if (mount("tmpfs", mnt, "tmpfs", 0, opts) == 0)
		return mnt;
	int e = errno;
	mnt[0] = 0;
	if (!limit_ok)
		cr_skip_test("cannot mount a %s tmpfs to fill (%s); needs root or "
			     "CAP_SYS_ADMIN", size, strerror(e));
	/* Criterion runs each test in its own process: the limit dies with it. */
	struct rlimit rl = {(rlim_t)limit_bytes, (rlim_t)limit_bytes};
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0, "setrlimit: %s", strerror(errno));
	cr_log_info("no tmpfs (%s): using RLIMIT_FSIZE=%ld instead", strerror(e), limit_bytes);
	return root;
}

static int full_errno_ok(int rc)
{
	/* EFBIG only under the RLIMIT_FSIZE fallback. */
	return rc == -ENOSPC || (!mnt[0] && rc == -EFBIG);
}

/* Fill the disk through batches of 8 x 4 KiB; the failure must be a clear
 * error, the store readable, and after reopening every committed message
 * there. */
static void disk_full(const char *dir, int readonly_map, size_t map_size)
{
	struct rfx_store_options o;
	struct rfx_store *s;
	struct rfx_store_session *ss;
	struct rfx_store_record r;
	struct rfx_store_info info;
	static char big[4096];
	uint64_t seq = 1, committed = 0;
	char err[1024];
	int rc = 0;

	o = th_opts(dir, 0, RFX_STORE_BATCH);
	o.readonly_map = readonly_map;
	o.map_size = map_size;
	cr_assert_eq(rfx_store_open(&s, &o, err, sizeof(err)), 0, "%s", err);
	rfx_store_info(s, &info);
	cr_assert_eq(info.writable_map, !readonly_map);
	cr_assert_eq(rfx_store_session_open(s, "FIX.4.4:A->B", 12, 1, &ss), 0);
	memset(big, 'z', sizeof(big));
	while (rc == 0 && seq < 100000) {
		rc = rfx_store_begin(s);
		for (int i = 0; i < 8 && rc == 0; i++) {
			big[0] = (char)seq;
			rc = rfx_store_append(s, ss, RFX_STORE_OUT, seq++, big, sizeof(big));
		}
		if (rc == 0)
			rc = rfx_store_commit(s);
		if (rc == 0)
			committed = seq - 1;
	}
	cr_assert(full_errno_ok(rc), "got %s: %s", rfx_strerror(rc), rfx_store_errmsg(s));
	cr_expect(strstr(rfx_store_errmsg(s), "data.mdb") != NULL, "%s", rfx_store_errmsg(s));
	cr_expect(strstr(rfx_store_errmsg(s), mnt[0] ? "No space left" : "too large") != NULL,
		  "%s", rfx_store_errmsg(s));
	cr_assert_gt(committed, 100);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, committed + 1, "record reverted to the last commit");
	/* Still readable for a clean logout. */
	struct rfx_store_iter it;
	struct rfx_store_msg m;
	uint64_t n = 0;
	cr_assert_eq(rfx_store_iter_open(s, ss, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, &it), 0);
	while (rfx_store_iter_next(&it, &m) == 1)
		n++;
	rfx_store_iter_close(&it);
	cr_expect_eq(n, committed);
	rfx_store_close(s);

	/* Reopen on the still-full disk: every committed message is there. */
	rc = rfx_store_open(&s, &o, err, sizeof(err));
	cr_assert_eq(rc, 0, "reopen on a full disk: %s", err);
	cr_assert_eq(rfx_store_session_open(s, "FIX.4.4:A->B", 12, 1, &ss), 0);
	rfx_store_session_get(ss, &r);
	cr_expect_eq(r.next_sender_seq, committed + 1);
	n = 0;
	cr_assert_eq(rfx_store_iter_open(s, ss, RFX_STORE_OUT, 1, RFX_STORE_SEQ_END, &it), 0);
	while (rfx_store_iter_next(&it, &m) == 1) {
		n++;
		cr_expect_eq(m.seq, n);
		cr_expect_eq(((const char *)m.data)[0], (char)m.seq);
	}
	rfx_store_iter_close(&it);
	cr_expect_eq(n, committed);
	rfx_store_close(s);
}

/* Read-only map: LMDB's pwrite() comes up short at commit. */
Test(faults, disk_full_is_enospc_and_loses_nothing_committed)
{
	/* the disk, not the map, is the limit here */
	disk_full(small_fs("2m", 0, 0), 1, 64 << 20);
}

/* Writable map: the reservation for a bigger map fails while growing, so the
 * batch that needed the room fails with ENOSPC instead of a SIGBUS. */
Test(faults, disk_full_with_writable_map_is_enospc_not_sigbus)
{
	disk_full(small_fs("4m", 3 << 20, 1), 0, 256 << 10);
}

/* Writable map: a map bigger than the free disk is refused at open. */
Test(faults, writable_map_larger_than_disk_fails_open_with_enospc)
{
	const char *dir = small_fs("4m", 3 << 20, 1);
	struct rfx_store_options o = th_opts(dir, 0, RFX_STORE_NONE);
	struct rfx_store *s;
	struct rfx_store_info info;
	char err[1024];
	int rc;

	o.map_size = 64 << 20;
	rc = rfx_store_open(&s, &o, err, sizeof(err));
	cr_assert(full_errno_ok(rc), "got %s: %s", rfx_strerror(rc), err);
	cr_expect_null(s);
	/* Under the file-size limit LMDB's own ftruncate() fails first. */
	cr_expect(strstr(err, "data.mdb") && (!mnt[0] || strstr(err, "reserving")), "%s",
		  err);
	/* The read-only map needs no reservation and opens on the same disk. */
	o.readonly_map = 1;
	rc = rfx_store_open(&s, &o, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	rfx_store_info(s, &info);
	cr_expect_eq(info.writable_map, 0);
	cr_expect_eq(info.reserved, 0);
	rfx_store_close(s);
}

/* The map choice, proven by a stray write: a child (sharing the parent's
 * MAP_SHARED mapping) stores one byte into a message view. With the
 * read-only map it dies of SIGSEGV and the store is untouched; with the
 * writable map the write lands in the file, silently: the risk that
 * readonly_map exists to remove. */
static void stray_write(int readonly_map)
{
	struct rfx_store_options o = th_opts(root, 0, RFX_STORE_NONE);
	struct rfx_store *s;
	struct rfx_store_session *ss;
	struct rfx_store_iter it;
	struct rfx_store_msg m;
	char buf[256], err[512];
	int status;
	pid_t pid;

	o.readonly_map = readonly_map;
	cr_assert_eq(rfx_store_open(&s, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rfx_store_session_open(s, "FIX.4.4:A->B", 12, 1, &ss), 0);
	for (unsigned i = 1; i <= 10; i++) {
		size_t len = th_payload(buf, sizeof(buf), 1, 0, i);
		cr_assert_eq(rfx_store_append(s, ss, RFX_STORE_OUT, i, buf, len), 0);
	}
	cr_assert_eq(rfx_store_iter_open(s, ss, RFX_STORE_OUT, 5, 5, &it), 0);
	cr_assert_eq(rfx_store_iter_next(&it, &m), 1);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile char *)m.data = '#';
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	if (readonly_map)
		cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
			  "stray write into the read-only map did not fault (status %d)",
			  status);
	else
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "stray write into the writable map: status %d", status);
	cr_expect_eq(((const char *)m.data)[0], readonly_map ? '8' : '#');
	rfx_store_iter_close(&it);
	rfx_store_close(s);
}

Test(faults, stray_write_into_readonly_map_is_sigsegv)
{
	stray_write(1);
}

Test(faults, stray_write_into_writable_map_corrupts_silently)
{
	stray_write(0);
}
