/* Shared helpers for the store tests: temporary directories on the same
 * filesystem as the build (TMPDIR or /tmp), removed afterwards. */
#ifndef RFX_TEST_STORE_HELPERS_H
#define RFX_TEST_STORE_HELPERS_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/lmdb_store.h"

static inline void th_tmpdir(char *out, size_t n)
{
	const char *t = getenv("TMPDIR");

	snprintf(out, n, "%s/rfx-store-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(out))
		out[0] = 0;
}

static inline int th_rm_one(const char *p, const struct stat *sb, int flag,
			    struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static inline void th_rmtree(const char *dir)
{
	if (dir && dir[0])
		nftw(dir, th_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int64_t th_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Deterministic payload for (session tag, dir, seq): the tests check bytes. */
static inline size_t th_payload(char *buf, size_t cap, unsigned tag, int dir,
				uint64_t seq)
{
	int n = snprintf(buf, cap, "8=FIX.4.4|35=%c|34=%llu|tag=%u|",
			 dir ? '8' : 'D', (unsigned long long)seq, tag);
	size_t len = (size_t)n, want = 40 + (seq * 7 + tag) % 120;

	while (len < want && len + 1 < cap) {
		buf[len] = (char)('a' + (seq + len) % 26);
		len++;
	}
	return len;
}

static inline struct rfx_store_options th_opts(const char *root, unsigned shard,
					       enum rfx_store_durability d)
{
	struct rfx_store_options o;

	memset(&o, 0, sizeof(o));
	o.path = root;
	o.shard = shard;
	o.durability = d;
	return o;
}

#endif
