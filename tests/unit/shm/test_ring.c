/* shm/ring: single-process behaviour, validation of what the peer wrote,
 * and multi-process stress, kill, scribble and wake-up tests. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/error.h"
#include "shm/ring.h"
#include "helpers.h"

static struct guarded g;

static void *new_ring(uint64_t cap)
{
	guarded_unmap(&g);
	cr_assert_eq(guarded_map(&g, rfx_ring_size(cap)), 0);
	cr_assert_eq(rfx_ring_format(g.p, cap), 0);
	return g.p;
}

static void fini(void)
{
	guarded_unmap(&g);
}

TestSuite(ring, .fini = fini, .timeout = 30);

Test(ring, format_rejects_bad_geometry, .timeout = 5)
{
	void *m = new_ring(4096);

	cr_expect_eq(rfx_ring_format(m, 100), -EINVAL);
	cr_expect_eq(rfx_ring_format(m, 32), -EINVAL);
	cr_expect_eq(rfx_ring_format((char *)m + 8, 1024), -EINVAL);
	cr_expect_eq(rfx_ring_format(NULL, 1024), -EINVAL);
	cr_expect_eq(rfx_ring_max_payload(4096), 2048 - 8);
}

Test(ring, attach_checks_capacity_and_positions, .timeout = 5)
{
	struct rfx_ring_producer p;
	struct rfx_ring_consumer c;
	struct rfx_ring_shm *s = new_ring(4096);

	cr_expect_eq(rfx_ring_producer_init(&p, s, 8192, 0), RFX_EPROTO);
	cr_expect_eq(rfx_ring_consumer_init(&c, s, 2048), RFX_EPROTO);
	atomic_store(&s->tail, 4096 + 8);
	cr_expect_eq(rfx_ring_consumer_init(&c, s, 4096), RFX_EPROTO);
	atomic_store(&s->tail, 12);
	cr_expect_eq(rfx_ring_producer_init(&p, s, 4096, 0), RFX_EPROTO);
	atomic_store(&s->tail, 0);
	cr_expect_eq(rfx_ring_producer_init(&p, s, 4096, 0), 0);
	cr_expect_eq(rfx_ring_consumer_init(&c, s, 4096), 0);
}

Test(ring, records_round_trip_with_wrap, .timeout = 10)
{
	struct rfx_ring_producer p;
	struct rfx_ring_consumer c;
	void *m = new_ring(1024);
	uint8_t buf[600];
	uint64_t wseq = 0, rseq = 0;

	cr_assert_eq(rfx_ring_producer_init(&p, m, 1024, 0), 0);
	cr_assert_eq(rfx_ring_consumer_init(&c, m, 1024), 0);
	/* Many laps with sizes that never divide the ring evenly. */
	while (rseq < 5000) {
		struct rfx_ring_rec r;
		int rc;

		for (;;) {
			uint32_t len = rec_len(7, wseq, 400);

			fill_record(buf, wseq, len);
			rc = rfx_ring_try_write(&p, 1 + (uint32_t)(wseq % 3), buf, len);
			if (rc == RFX_EFULL)
				break;
			cr_assert_eq(rc, 0);
			wseq++;
		}
		rfx_ring_publish(&p);
		while ((rc = rfx_ring_peek(&c, &r)) == 0) {
			cr_assert_eq(r.len, rec_len(7, rseq, 400));
			cr_assert_eq(r.type, 1 + rseq % 3);
			cr_assert_eq(((uintptr_t)r.data & 7u), 0);
			cr_assert_eq(check_record(r.data, rseq, r.len), 0, "record %lu", (unsigned long)rseq);
			rfx_ring_consume(&c);
			rseq++;
		}
		cr_assert_eq(rc, RFX_EEMPTY);
		rfx_ring_release(&c);
	}
	cr_expect_eq(rseq, wseq);
}

Test(ring, claim_commit_abort_and_batching, .timeout = 5)
{
	struct rfx_ring_producer p;
	struct rfx_ring_consumer c;
	struct rfx_ring_rec r;
	void *m = new_ring(256);
	void *d, *d2;

	cr_assert_eq(rfx_ring_producer_init(&p, m, 256, 0), 0);
	cr_assert_eq(rfx_ring_consumer_init(&c, m, 256), 0);
	cr_expect_eq(rfx_ring_try_claim(&p, 121, &d), -EMSGSIZE);
	cr_assert_eq(rfx_ring_try_claim(&p, 100, &d), 0);
	cr_expect_eq(rfx_ring_try_claim(&p, 10, &d2), -EBUSY);
	cr_expect_eq(rfx_ring_commit(&p, 0, 5), -EINVAL);
	cr_expect_eq(rfx_ring_commit(&p, 1, 101), -EINVAL);
	rfx_ring_abort(&p);
	cr_expect_eq(rfx_ring_commit(&p, 1, 5), -EINVAL);
	cr_assert_eq(rfx_ring_try_claim(&p, 100, &d), 0);
	memcpy(d, "hello", 5);
	cr_assert_eq(rfx_ring_commit(&p, 9, 5), 0);
	cr_assert_eq(rfx_ring_try_write(&p, 10, "world!", 6), 0);
	/* Committed but not published: invisible. */
	cr_expect_eq(rfx_ring_peek(&c, &r), RFX_EEMPTY);
	rfx_ring_publish(&p);
	cr_assert_eq(rfx_ring_peek(&c, &r), 0);
	cr_expect_eq(r.type, 9);
	cr_expect_eq(r.len, 5);
	cr_expect_eq(memcmp(r.data, "hello", 5), 0);
	cr_assert_eq(rfx_ring_peek(&c, &r), 0); /* same record again */
	cr_expect_eq(r.type, 9);
	rfx_ring_consume(&c);
	cr_assert_eq(rfx_ring_peek(&c, &r), 0);
	cr_expect_eq(r.type, 10);
	rfx_ring_consume(&c);
	cr_expect_eq(rfx_ring_peek(&c, &r), RFX_EEMPTY);
	/* Space returns to the producer only at release. */
	while (rfx_ring_try_write(&p, 1, "x", 1) == 0)
		;
	cr_expect_eq(rfx_ring_try_write(&p, 1, "x", 1), RFX_EFULL);
	rfx_ring_release(&c);
	cr_expect_eq(rfx_ring_try_write(&p, 1, "x", 1), 0);
}

/* ---- the consumer never trusts the producer ---------------------------- */

static void expect_consumer_proto(struct rfx_ring_shm *s, uint64_t cap)
{
	struct rfx_ring_consumer c;
	struct rfx_ring_rec r;

	cr_assert_eq(rfx_ring_consumer_init(&c, s, cap), 0);
	cr_expect_eq(rfx_ring_peek(&c, &r), RFX_EPROTO);
	cr_expect_eq(rfx_ring_peek(&c, &r), RFX_EPROTO, "failure is sticky");
}

static uint32_t *rec_at(struct rfx_ring_shm *s, uint64_t off)
{
	return (uint32_t *)((uint8_t *)s + RFX_RING_HDR_SIZE + off);
}

Test(ring, consumer_rejects_impossible_records, .timeout = 5)
{
	struct rfx_ring_shm *s = new_ring(4096);

	/* Length beyond the published tail. */
	atomic_store(&s->tail, 64);
	rec_at(s, 0)[0] = 100;
	rec_at(s, 0)[1] = 1;
	expect_consumer_proto(s, 4096);
	/* Type 0 (zeroed memory) and reserved types. */
	rec_at(s, 0)[0] = 8;
	rec_at(s, 0)[1] = 0;
	expect_consumer_proto(s, 4096);
	rec_at(s, 0)[1] = 0x80000000u;
	expect_consumer_proto(s, 4096);
	/* Length beyond the maximum payload, though "published". */
	atomic_store(&s->tail, 4096);
	rec_at(s, 0)[0] = 4000;
	rec_at(s, 0)[1] = 1;
	expect_consumer_proto(s, 4096);
	/* A padding record that does not end at the wrap. */
	rec_at(s, 0)[0] = 100;
	rec_at(s, 0)[1] = RFX_RING_TYPE_PAD;
	expect_consumer_proto(s, 4096);
	/* A record that would straddle the end of the data area. */
	atomic_store(&s->head, 4096 - 16);
	atomic_store(&s->tail, 4096 + 64);
	rec_at(s, 4096 - 16)[0] = 40;
	rec_at(s, 4096 - 16)[1] = 1;
	expect_consumer_proto(s, 4096);
}

Test(ring, consumer_rejects_impossible_tail, .timeout = 5)
{
	struct rfx_ring_consumer c;
	struct rfx_ring_rec r;
	struct rfx_ring_shm *s = new_ring(4096);

	cr_assert_eq(rfx_ring_consumer_init(&c, s, 4096), 0);
	atomic_store(&s->tail, 4096 + 8); /* more than a capacity ahead */
	cr_expect_eq(rfx_ring_peek(&c, &r), RFX_EPROTO);

	s = new_ring(4096);
	cr_assert_eq(rfx_ring_consumer_init(&c, s, 4096), 0);
	atomic_store(&s->tail, 13); /* unaligned */
	cr_expect_eq(rfx_ring_wait(&c, RFX_WAIT_SPIN, 10, 1000000), RFX_EPROTO);

	s = new_ring(4096);
	struct rfx_ring_producer p;
	cr_assert_eq(rfx_ring_producer_init(&p, s, 4096, 0), 0);
	cr_assert_eq(rfx_ring_consumer_init(&c, s, 4096), 0);
	cr_assert_eq(rfx_ring_try_write(&p, 1, "abcdefgh", 8), 0);
	cr_assert_eq(rfx_ring_try_write(&p, 1, "abcdefgh", 8), 0);
	rfx_ring_publish(&p);
	cr_assert_eq(rfx_ring_peek(&c, &r), 0);
	rfx_ring_consume(&c);
	cr_assert_eq(rfx_ring_peek(&c, &r), 0);
	rfx_ring_consume(&c);
	atomic_store(&s->tail, 16); /* backwards, below what we consumed */
	cr_expect_eq(rfx_ring_peek(&c, &r), RFX_EPROTO);
}

Test(ring, producer_rejects_impossible_head, .timeout = 5)
{
	struct rfx_ring_producer p;
	struct rfx_ring_shm *s = new_ring(256);
	void *d;

	cr_assert_eq(rfx_ring_producer_init(&p, s, 256, 0), 0);
	while (rfx_ring_try_write(&p, 1, "12345678", 8) == 0)
		;
	atomic_store(&s->head, 512); /* ahead of everything we wrote */
	cr_expect_eq(rfx_ring_try_claim(&p, 8, &d), RFX_EPROTO);
	cr_expect_eq(rfx_ring_try_claim(&p, 8, &d), RFX_EPROTO, "sticky");

	s = new_ring(256);
	cr_assert_eq(rfx_ring_producer_init(&p, s, 256, 0), 0);
	while (rfx_ring_try_write(&p, 1, "12345678", 8) == 0)
		;
	atomic_store(&s->head, 64);
	cr_assert_eq(rfx_ring_try_claim(&p, 8, &d), 0);
	rfx_ring_abort(&p);
	while (rfx_ring_try_write(&p, 1, "12345678", 8) == 0)
		;
	atomic_store(&s->head, 32); /* backwards */
	cr_expect_eq(rfx_ring_try_claim(&p, 8, &d), RFX_EPROTO);
}

/* Random garbage everywhere, data area against guard pages: the consumer
 * returns records inside the ring or RFX_EPROTO, and never faults. */
Test(ring, random_garbage_never_reads_outside, .timeout = 20)
{
	uint64_t cap = 4096, x = 12345;

	for (int round = 0; round < 20000; round++) {
		struct rfx_ring_shm *s;
		struct rfx_ring_consumer c;
		struct rfx_ring_rec r;
		uint8_t *data;
		int rc, n = 0;

		if (round % 1000 == 0) {
			guarded_unmap(&g);
			new_ring(cap);
		}
		s = g.p;
		rfx_ring_format(s, cap);
		data = (uint8_t *)s + RFX_RING_HDR_SIZE;
		for (uint64_t i = 0; i < cap; i += 8) {
			x = mix64(x);
			/* Bias toward plausible small lengths and types. */
			uint32_t w[2] = {(uint32_t)(x % 5 ? x % 300 : x >> 32),
					 (uint32_t)(x % 7 ? (x >> 40) % 4 : x >> 16)};
			if (x % 11 == 0)
				w[1] = RFX_RING_TYPE_PAD;
			memcpy(data + i, w, 8);
		}
		x = mix64(x);
		atomic_store(&s->head, (x % 4096) & ~7ull);
		atomic_store(&s->tail, atomic_load(&s->head) + (mix64(x) % 4200 & ~7ull));
		if (rfx_ring_consumer_init(&c, s, cap) < 0)
			continue;
		while ((rc = rfx_ring_peek(&c, &r)) == 0 && n++ < 1000) {
			const uint8_t *b = r.data;

			cr_assert(b >= data && b + r.len <= data + cap);
			volatile uint8_t sink = 0;
			for (uint32_t i = 0; i < r.len; i++)
				sink ^= b[i];
			(void)sink;
			rfx_ring_consume(&c);
		}
		cr_assert(rc == RFX_EEMPTY || rc == RFX_EPROTO || rc == 0);
	}
}

/* ---- multi-process ------------------------------------------------------ */

struct stress_result {
	_Atomic uint64_t produced;
	uint64_t checksum;
};

/* Producer child: `n` records of random sizes; yields when the ring is full
 * so it also progresses when both processes share a CPU. Exits 0 on success. */
static void producer_main(void *m, uint64_t cap, uint64_t n, uint32_t maxlen,
			  struct stress_result *res, uint64_t seed)
{
	struct rfx_ring_producer p;
	uint64_t sum = 0;

	if (rfx_ring_producer_init(&p, m, cap, 0) < 0)
		_exit(10);
	for (uint64_t seq = 0; seq < n; seq++) {
		uint32_t len = rec_len(seed, seq, maxlen);
		void *d;
		int rc, spins = 0;

		while ((rc = rfx_ring_try_claim(&p, len, &d)) == RFX_EFULL) {
			rfx_ring_publish(&p);
			if (++spins > 64)
				sched_yield();
		}
		if (rc < 0)
			_exit(11);
		fill_record(d, seq, len);
		if (rfx_ring_commit(&p, 1 + (uint32_t)(seq & 0xff), len) < 0)
			_exit(12);
		sum += hash_bytes(d, len);
		/* Batched publication: every 16 records, or when the batch ends. */
		if ((seq & 15) == 15)
			rfx_ring_publish(&p);
	}
	rfx_ring_publish(&p);
	if (res) {
		res->checksum = sum;
		atomic_store(&res->produced, n);
	}
	_exit(0);
}

static void stress(uint64_t cap, uint32_t maxlen, uint64_t n)
{
	void *m = new_ring(cap);
	struct stress_result *res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct rfx_ring_consumer c;
	uint64_t seq = 0, sum = 0;
	pid_t pid;

	cr_assert_neq(res, MAP_FAILED);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		producer_main(m, cap, n, maxlen, res, cap);
	cr_assert_eq(rfx_ring_consumer_init(&c, m, cap), 0);
	while (seq < n) {
		struct rfx_ring_rec r;
		int rc = rfx_ring_wait(&c, RFX_WAIT_YIELD, 256, 10ll * 1000000000);

		cr_assert_eq(rc, 0, "wait: %s at record %lu", rfx_strerror(rc), (unsigned long)seq);
		while ((rc = rfx_ring_peek(&c, &r)) == 0) {
			if (r.len != rec_len(cap, seq, maxlen) || r.type != 1 + (seq & 0xff) ||
			    check_record(r.data, seq, r.len) != 0)
				cr_assert_fail("record %lu corrupt (len %u type %u)",
					       (unsigned long)seq, r.len, r.type);
			sum += hash_bytes(r.data, r.len);
			rfx_ring_consume(&c);
			if ((++seq & 31) == 0)
				rfx_ring_release(&c);
		}
		cr_assert_eq(rc, RFX_EEMPTY);
		rfx_ring_release(&c);
	}
	cr_expect_eq(wait_child(pid), 0);
	cr_expect_eq(atomic_load(&res->produced), n);
	cr_expect_eq(res->checksum, sum, "order and content checksum");
	munmap(res, sizeof(*res));
}

/* RFX_STRESS_RECORDS=100000000 for the full run; the default keeps CI fast. */
Test(ring, stress_small_ring_two_processes, .timeout = 600)
{
	stress(4096, 600, stress_records(1000000));
}

Test(ring, stress_large_ring_two_processes, .timeout = 600)
{
	stress(1 << 20, 2048, stress_records(1000000));
}

/* SIGKILL the producer at a random moment mid-stream: every record the
 * consumer can still read is whole (commit publishes complete records only),
 * then the ring is simply empty. */
Test(ring, producer_killed_mid_write_leaves_only_whole_records, .timeout = 60)
{
	for (int round = 0; round < 5; round++) {
		void *m = new_ring(8192);
		struct rfx_ring_consumer c;
		struct rfx_ring_rec r;
		uint64_t seq = 0;
		int rc;
		pid_t pid = fork();

		cr_assert_geq(pid, 0);
		if (pid == 0)
			producer_main(m, 8192, UINT64_MAX, 1000, NULL, 99);
		cr_assert_eq(rfx_ring_consumer_init(&c, m, 8192), 0);
		int64_t until = mono_ns() + 2000000 + round * 3000000;
		/* Until the deadline, and at least until the child got going. */
		while (mono_ns() < until || seq < 10) {
			while ((rc = rfx_ring_peek(&c, &r)) == 0) {
				cr_assert_eq(check_record(r.data, seq, r.len), 0);
				rfx_ring_consume(&c);
				seq++;
			}
			cr_assert_eq(rc, RFX_EEMPTY);
			rfx_ring_release(&c);
		}
		kill_child(pid);
		while ((rc = rfx_ring_peek(&c, &r)) == 0) {
			cr_assert_eq(check_record(r.data, seq, r.len), 0);
			rfx_ring_consume(&c);
			seq++;
		}
		cr_expect_eq(rc, RFX_EEMPTY, "after the kill: %s", rfx_strerror(rc));
		cr_expect_gt(seq, 0);
		guarded_unmap(&g);
	}
}

/* SIGKILL the consumer mid-read: the producer sees only a full ring (never an
 * error); the owner then formats a fresh ring and a new consumer gets a clean
 * stream. */
Test(ring, consumer_killed_mid_read_ring_is_reformatted, .timeout = 60)
{
	void *m = new_ring(8192);
	struct rfx_ring_producer p;
	uint64_t seq = 0;
	int rc = 0;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct rfx_ring_consumer c;
		struct rfx_ring_rec r;

		if (rfx_ring_consumer_init(&c, m, 8192) < 0)
			_exit(1);
		for (;;) {
			if (rfx_ring_peek(&c, &r) == 0) {
				rfx_ring_consume(&c);
				rfx_ring_release(&c);
			}
		}
	}
	cr_assert_eq(rfx_ring_producer_init(&p, m, 8192, 0), 0);
	int64_t until = mono_ns() + 20000000;
	while (mono_ns() < until) {
		uint8_t buf[256];
		uint32_t len = rec_len(1, seq, 256);

		fill_record(buf, seq, len);
		rc = rfx_ring_try_write(&p, 1, buf, len);
		cr_assert(rc == 0 || rc == RFX_EFULL);
		if (rc == 0)
			seq++;
		rfx_ring_publish(&p);
	}
	cr_expect_eq(kill_child(pid) & 0x7f, SIGKILL);
	/* The dead consumer frees nothing more: the producer fills up and only
	 * ever sees RFX_EFULL. */
	for (int i = 0; i < 100000 && (rc = rfx_ring_try_write(&p, 1, "deadbeef", 8)) == 0; i++)
		;
	cr_expect_eq(rc, RFX_EFULL);
	cr_expect_gt(seq, 0);
	/* Reclaim: a fresh ring, never the dead process's positions. */
	cr_assert_eq(rfx_ring_format(m, 8192), 0);
	struct rfx_ring_consumer c;
	struct rfx_ring_rec r;
	cr_assert_eq(rfx_ring_producer_init(&p, m, 8192, 0), 0);
	cr_assert_eq(rfx_ring_consumer_init(&c, m, 8192), 0);
	cr_expect_eq(rfx_ring_peek(&c, &r), RFX_EEMPTY);
	cr_assert_eq(rfx_ring_try_write(&p, 5, "fresh", 5), 0);
	rfx_ring_publish(&p);
	cr_assert_eq(rfx_ring_peek(&c, &r), 0);
	cr_expect_eq(r.type, 5);
}

/* A hostile process scribbles over the ring (positions and data) while we
 * consume: we see only in-bounds records or RFX_EPROTO, never a fault. */
Test(ring, scribbler_process_cannot_crash_consumer, .timeout = 60)
{
	for (int round = 0; round < 4; round++) {
		struct rfx_ring_shm *s = new_ring(4096);
		uint8_t *data = (uint8_t *)s + RFX_RING_HDR_SIZE;
		struct rfx_ring_consumer c;
		struct rfx_ring_rec r;
		int rc = 0;
		pid_t pid;

		cr_assert_eq(rfx_ring_consumer_init(&c, s, 4096), 0);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			uint64_t x = (uint64_t)round + 1, pos = 0;

			for (;;) {
				x = mix64(x);
				if (x % 64 == 0) {
					pos += (x >> 8) % 512 & ~7ull;
					atomic_store(&s->tail, round == 3 ? x >> 3 : pos);
				} else {
					uint32_t w[2] = {(uint32_t)(x >> 32) % 200,
							 (uint32_t)(x % 3 ? 1 : x >> 33)};
					memcpy(data + ((x >> 20) % 4096 & ~7ull), w, 8);
				}
			}
		}
		int64_t until = mono_ns() + 50000000;
		while (mono_ns() < until) {
			rc = rfx_ring_peek(&c, &r);
			if (rc == RFX_EPROTO)
				break;
			if (rc == 0) {
				cr_assert((const uint8_t *)r.data >= data &&
					  (const uint8_t *)r.data + r.len <= data + 4096);
				rfx_ring_consume(&c);
				rfx_ring_release(&c);
			}
		}
		kill_child(pid);
		cr_expect(rc == RFX_EPROTO || rc == 0 || rc == RFX_EEMPTY);
		guarded_unmap(&g);
	}
}

/* Ping-pong through two rings with both sides blocking in futex after a
 * short spin. A lost wake-up leaves both asleep with data pending, so the
 * test would hang; the per-wait timeout turns that into a failure. */
Test(ring, block_wait_never_loses_a_wakeup, .timeout = 120)
{
	uint64_t cap = 4096, rounds = sanitizer_scaled(50000);
	struct guarded g2;
	struct rfx_ring_producer p;
	struct rfx_ring_consumer c;
	void *ping = new_ring(cap);
	pid_t pid;

	cr_assert_eq(guarded_map(&g2, rfx_ring_size(cap)), 0);
	cr_assert_eq(rfx_ring_format(g2.p, cap), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Echo: wait on ping, answer on pong. */
		if (rfx_ring_consumer_init(&c, ping, cap) || rfx_ring_producer_init(&p, g2.p, cap, 0))
			_exit(1);
		for (uint64_t i = 0; i < rounds; i++) {
			struct rfx_ring_rec r;
			uint64_t v;

			if (rfx_ring_wait(&c, RFX_WAIT_BLOCK, i % 3 ? 0 : 50, 5ll * 1000000000) < 0)
				_exit(2);
			if (rfx_ring_peek(&c, &r) < 0 || r.len != 8)
				_exit(3);
			memcpy(&v, r.data, 8);
			if (v != i)
				_exit(4);
			rfx_ring_consume(&c);
			rfx_ring_release(&c);
			if (rfx_ring_try_write(&p, 2, &v, 8) < 0)
				_exit(5);
			rfx_ring_publish(&p);
		}
		_exit(0);
	}
	cr_assert_eq(rfx_ring_producer_init(&p, ping, cap, 0), 0);
	cr_assert_eq(rfx_ring_consumer_init(&c, g2.p, cap), 0);
	for (uint64_t i = 0; i < rounds; i++) {
		struct rfx_ring_rec r;
		uint64_t v = i;
		int rc;

		cr_assert_eq(rfx_ring_try_write(&p, 1, &v, 8), 0);
		rfx_ring_publish(&p);
		rc = rfx_ring_wait(&c, RFX_WAIT_BLOCK, i % 2 ? 0 : 50, 5ll * 1000000000);
		if (rc != 0) {
			kill_child(pid);
			cr_assert_fail("round %lu: %s (lost wake-up?)", (unsigned long)i, rfx_strerror(rc));
		}
		cr_assert_eq(rfx_ring_peek(&c, &r), 0);
		memcpy(&v, r.data, 8);
		cr_assert_eq(v, i);
		rfx_ring_consume(&c);
		rfx_ring_release(&c);
	}
	cr_expect_eq(wait_child(pid), 0);
	guarded_unmap(&g2);
}

Test(ring, wait_times_out_when_nothing_comes, .timeout = 10)
{
	struct rfx_ring_consumer c;
	void *m = new_ring(4096);
	int64_t t0;

	cr_assert_eq(rfx_ring_consumer_init(&c, m, 4096), 0);
	for (int mode = RFX_WAIT_SPIN; mode <= RFX_WAIT_BLOCK; mode++) {
		t0 = mono_ns();
		cr_expect_eq(rfx_ring_wait(&c, mode, 100, 20000000), -ETIMEDOUT);
		cr_expect_geq(mono_ns() - t0, 20000000);
	}
}

/* ---- threads: the same protocol, visible to ThreadSanitizer -------------
 * TSan cannot see across processes, so these run producer and consumer as
 * threads of one process (tests/shm_tsan.sh runs them under TSan). */
#include <pthread.h>

struct thr {
	void *mem;
	uint64_t cap, n;
	uint32_t maxlen;
	enum rfx_ring_wait_mode mode;
	uint64_t sum;
	int rc;
};

static void *thr_producer(void *arg)
{
	struct thr *t = arg;
	struct rfx_ring_producer p;

	t->rc = rfx_ring_producer_init(&p, t->mem, t->cap, 0);
	for (uint64_t seq = 0; seq < t->n && t->rc == 0; seq++) {
		uint32_t len = rec_len(t->cap, seq, t->maxlen);
		void *d;
		int rc, spins = 0;

		while ((rc = rfx_ring_try_claim(&p, len, &d)) == RFX_EFULL) {
			rfx_ring_publish(&p);
			if (++spins > 64)
				sched_yield();
		}
		if (rc < 0) {
			t->rc = rc;
			break;
		}
		fill_record(d, seq, len);
		t->sum += hash_bytes(d, len);
		rfx_ring_commit(&p, 1, len);
		if ((seq & 7) == 7 || (seq % 5) == 0)
			rfx_ring_publish(&p);
	}
	rfx_ring_publish(&p);
	return NULL;
}

static void threads_stream(uint64_t cap, uint32_t maxlen, uint64_t n,
			   enum rfx_ring_wait_mode mode)
{
	struct thr t = {.cap = cap, .n = n, .maxlen = maxlen, .mode = mode};
	struct rfx_ring_consumer c;
	pthread_t th;
	uint64_t seq = 0, sum = 0;

	t.mem = new_ring(cap);
	cr_assert_eq(rfx_ring_consumer_init(&c, t.mem, cap), 0);
	cr_assert_eq(pthread_create(&th, NULL, thr_producer, &t), 0);
	while (seq < n) {
		struct rfx_ring_rec r;
		int rc = rfx_ring_wait(&c, mode, 64, 10ll * 1000000000);

		cr_assert_eq(rc, 0, "record %lu: %s", (unsigned long)seq, rfx_strerror(rc));
		while ((rc = rfx_ring_peek(&c, &r)) == 0) {
			if (r.len != rec_len(cap, seq, maxlen) || check_record(r.data, seq, r.len))
				cr_assert_fail("record %lu corrupt", (unsigned long)seq);
			sum += hash_bytes(r.data, r.len);
			rfx_ring_consume(&c);
			seq++;
			if ((seq & 3) == 0)
				rfx_ring_release(&c);
		}
		rfx_ring_release(&c);
	}
	pthread_join(th, NULL);
	cr_expect_eq(t.rc, 0);
	cr_expect_eq(t.sum, sum);
}

Test(ring, threads_stream_small_ring_yield, .timeout = 120)
{
	threads_stream(1024, 300, sanitizer_scaled(100000), RFX_WAIT_YIELD);
}

Test(ring, threads_stream_block_wait, .timeout = 120)
{
	threads_stream(4096, 1000, sanitizer_scaled(50000), RFX_WAIT_BLOCK);
}
