/* Ring and seqlock protocol with producer/consumer as threads of one
 * process, without Criterion (whose runner cannot start under TSan): built
 * and run by tests/shm_tsan.sh with -Db_sanitize=thread. Exit 0 on success. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/error.h"
#include "shm/ring.h"
#include "shm/segment.h"
#include "helpers.h"

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "tsan_main: " __VA_ARGS__);          \
			fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);   \
			exit(1);                                             \
		}                                                            \
	} while (0)

struct thr {
	void *ping, *pong;
	uint64_t cap, n;
	uint32_t maxlen;
	uint64_t sum;
	int rc;
};

static void *producer(void *arg)
{
	struct thr *t = arg;
	struct rfx_ring_producer p;

	t->rc = rfx_ring_producer_init(&p, t->ping, t->cap, 0);
	for (uint64_t seq = 0; seq < t->n && t->rc == 0; seq++) {
		uint32_t len = rec_len(t->cap, seq, t->maxlen);
		void *d;
		int rc;

		while ((rc = rfx_ring_try_claim(&p, len, &d)) == RFX_EFULL) {
			rfx_ring_publish(&p);
			sched_yield();
		}
		if (rc < 0) {
			t->rc = rc;
			break;
		}
		fill_record(d, seq, len);
		t->sum += hash_bytes(d, len);
		rfx_ring_commit(&p, 1, len);
		if ((seq & 7) == 7)
			rfx_ring_publish(&p);
	}
	rfx_ring_publish(&p);
	return NULL;
}

static void stream(uint64_t cap, uint32_t maxlen, uint64_t n, enum rfx_ring_wait_mode mode)
{
	struct guarded g;
	struct thr t = {.cap = cap, .n = n, .maxlen = maxlen};
	struct rfx_ring_consumer c;
	pthread_t th;
	uint64_t seq = 0, sum = 0;

	CHECK(guarded_map(&g, rfx_ring_size(cap)) == 0, "map");
	CHECK(rfx_ring_format(g.p, cap) == 0, "format");
	t.ping = g.p;
	CHECK(rfx_ring_consumer_init(&c, g.p, cap) == 0, "consumer");
	CHECK(pthread_create(&th, NULL, producer, &t) == 0, "thread");
	while (seq < n) {
		struct rfx_ring_rec r;
		int rc = rfx_ring_wait(&c, mode, 16, 10ll * 1000000000);

		CHECK(rc == 0, "wait at %lu: %s", (unsigned long)seq, rfx_strerror(rc));
		while ((rc = rfx_ring_peek(&c, &r)) == 0) {
			CHECK(r.len == rec_len(cap, seq, maxlen) && check_record(r.data, seq, r.len) == 0,
			      "record %lu corrupt", (unsigned long)seq);
			sum += hash_bytes(r.data, r.len);
			rfx_ring_consume(&c);
			seq++;
		}
		rfx_ring_release(&c);
	}
	pthread_join(th, NULL);
	CHECK(t.rc == 0 && t.sum == sum, "producer %d, checksum", t.rc);
	guarded_unmap(&g);
}

static void *echo(void *arg)
{
	struct thr *t = arg;
	struct rfx_ring_consumer c;
	struct rfx_ring_producer p;

	if (rfx_ring_consumer_init(&c, t->ping, t->cap) || rfx_ring_producer_init(&p, t->pong, t->cap, 0)) {
		t->rc = -1;
		return NULL;
	}
	for (uint64_t i = 0; i < t->n; i++) {
		struct rfx_ring_rec r;

		if (rfx_ring_wait(&c, RFX_WAIT_BLOCK, i % 2 ? 0 : 20, 5ll * 1000000000) < 0 ||
		    rfx_ring_peek(&c, &r) < 0 || r.len != 8) {
			t->rc = -2;
			return NULL;
		}
		rfx_ring_try_write(&p, 2, r.data, 8);
		rfx_ring_consume(&c);
		rfx_ring_release(&c);
		rfx_ring_publish(&p);
	}
	return NULL;
}

static void pingpong(uint64_t n)
{
	struct guarded a, b;
	struct thr t = {.cap = 4096, .n = n};
	struct rfx_ring_producer p;
	struct rfx_ring_consumer c;
	pthread_t th;

	CHECK(guarded_map(&a, rfx_ring_size(4096)) == 0 && guarded_map(&b, rfx_ring_size(4096)) == 0, "map");
	rfx_ring_format(a.p, 4096);
	rfx_ring_format(b.p, 4096);
	t.ping = a.p;
	t.pong = b.p;
	CHECK(rfx_ring_producer_init(&p, a.p, 4096, 0) == 0 && rfx_ring_consumer_init(&c, b.p, 4096) == 0, "init");
	CHECK(pthread_create(&th, NULL, echo, &t) == 0, "thread");
	for (uint64_t i = 0; i < n; i++) {
		struct rfx_ring_rec r;
		uint64_t v = i;

		CHECK(rfx_ring_try_write(&p, 1, &v, 8) == 0, "write");
		rfx_ring_publish(&p);
		CHECK(rfx_ring_wait(&c, RFX_WAIT_BLOCK, i % 3 ? 0 : 20, 5ll * 1000000000) == 0,
		      "lost wake-up at round %lu", (unsigned long)i);
		CHECK(rfx_ring_peek(&c, &r) == 0, "peek");
		memcpy(&v, r.data, 8);
		CHECK(v == i, "echo %lu != %lu", (unsigned long)v, (unsigned long)i);
		rfx_ring_consume(&c);
		rfx_ring_release(&c);
	}
	pthread_join(th, NULL);
	CHECK(t.rc == 0, "echo thread %d", t.rc);
	guarded_unmap(&a);
	guarded_unmap(&b);
}

static _Atomic int stop;

static void *dir_writer(void *arg)
{
	struct rfx_session_info info;

	memset(&info, 0, sizeof(info));
	for (uint64_t k = 1; !atomic_load(&stop); k++) {
		info.next_sender_seq = k;
		info.next_target_seq = k * 3;
		rfx_seg_dir_write(arg, 0, &info);
	}
	return NULL;
}

static void seqlock(void)
{
	struct rfx_seg_params p = {.shard_count = 1, .max_sessions = 2, .max_clients = 1,
				   .ring_to_shard = 4096, .ring_to_client = 4096};
	struct rfx_seg own;
	char inst[32];
	pthread_t th;
	int ok = 0;

	snprintf(inst, sizeof(inst), "tsan%d", (int)getpid());
	CHECK(rfx_seg_create(&own, inst, 0, &p) == 0, "segment");
	CHECK(pthread_create(&th, NULL, dir_writer, &own) == 0, "thread");
	for (long i = 0; ok < 20000 && i < 100000000; i++) {
		struct rfx_session_info info;

		if (rfx_seg_dir_read(&own, 0, &info) < 0 || info.next_sender_seq == 0)
			continue;
		CHECK(info.next_target_seq == info.next_sender_seq * 3, "torn snapshot");
		ok++;
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	rfx_seg_close(&own);
	CHECK(ok > 0, "no snapshot");
}

int main(void)
{
	uint64_t n = sanitizer_scaled(400000);

	stream(1024, 300, n, RFX_WAIT_YIELD);
	stream(1 << 16, 2000, n, RFX_WAIT_BLOCK);
	pingpong(n / 20);
	seqlock();
	printf("tsan_main: ring stream, block ping-pong and seqlock passed (%lu records)\n",
	       (unsigned long)n);
	return 0;
}
