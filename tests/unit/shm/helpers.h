/* Helpers shared by the shm unit tests: guarded shared mappings, record
 * payload generation/verification, child processes. */
#ifndef RFX_TESTS_SHM_HELPERS_H
#define RFX_TESTS_SHM_HELPERS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* A MAP_SHARED anonymous region (inherited across fork) with PROT_NONE pages
 * on both sides; `p` is placed so that p + size ends exactly at the upper
 * guard page (p is 128-byte aligned when size is a multiple of 128). */
struct guarded {
	void *base;
	size_t total;
	void *p;
	size_t size;
};

int guarded_map(struct guarded *g, size_t size);
void guarded_unmap(struct guarded *g);

/* splitmix64: deterministic per-record randomness both sides can recompute. */
static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Length of record `seq` in [16, maxlen]. */
static inline uint32_t rec_len(uint64_t seed, uint64_t seq, uint32_t maxlen)
{
	return 16 + (uint32_t)(mix64(seed ^ (seq * 0x100000001b3ull)) % (maxlen - 15));
}

uint64_t hash_bytes(const void *p, size_t n);
/* Payload: [seq][filler...][hash of filler]. */
void fill_record(void *dst, uint64_t seq, uint32_t len);
/* 0 if the record is seq's and intact, -1 otherwise. */
int check_record(const void *src, uint64_t seq, uint32_t len);

/* Number of records for stress tests: $RFX_STRESS_RECORDS or `dflt`
 * (divided by 8 under sanitizers). */
uint64_t stress_records(uint64_t dflt);
/* `dflt`, divided by 8 under sanitizers (fixed-size tests). */
uint64_t sanitizer_scaled(uint64_t dflt);

/* Kill (SIGKILL) and reap a child; returns its wait status. */
int kill_child(pid_t pid);
/* Wait for a child; returns its exit code, or 128+signal. */
int wait_child(pid_t pid);

int64_t mono_ns(void);

#endif
