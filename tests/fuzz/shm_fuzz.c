/*
 * Fuzz target for what ringfix reads from shared memory another process
 * wrote: segment headers (rfx_seg_validate), ring positions and record
 * headers (consumer side), and client->shard protocol records (the shard's
 * validation in rfx_server_poll), with a real server and client in-process.
 *
 * Input: byte 0 selects the mode, the rest is the hostile memory:
 *   0  segment image                  -> rfx_seg_validate, directory reads
 *   1  u64 head, u64 tail, ring data   -> consumer peek/consume until error
 *   2  records [u16 len][u16 type][len bytes]... written through a correct
 *      producer into a client ring    -> server validation and dispatch
 *   3  u64 tail, ring data written over a live client's ring -> server
 * Built with libFuzzer under clang (-Dfuzzer), otherwise shm_replay.c runs
 * the corpus in tests/fuzz/corpus/shm/ as a test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/error.h"
#include "shm/ring.h"
#include "shm/ringfix.h"
#include "shm/segment.h"
#include "shm/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RING_CAP 4096u

static uint8_t *ring_mem;       /* ring header + data, data against a guard page */
static struct rfx_server *srv;
static char inst[32];

static void cleanup(void)
{
	rfx_server_free(srv);
	srv = NULL;
}

static void init_once(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (rfx_ring_size(RING_CAP) + pg - 1) / pg * pg;
	uint8_t *b;

	if (ring_mem)
		return;
	b = mmap(NULL, body + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED || mprotect(b + body, pg, PROT_NONE))
		abort();
	ring_mem = b + body - rfx_ring_size(RING_CAP);

	struct rfx_server_params sp = {
		.seg = {.shard_count = 1, .max_sessions = 4, .max_clients = 2,
			.ring_to_shard = RING_CAP, .ring_to_client = RING_CAP},
	};
	snprintf(inst, sizeof(inst), "fuzz%d", (int)getpid());
	sp.instance = inst;
	if (rfx_server_new(&srv, &sp) < 0 || rfx_server_session_add(srv, "FIX.4.4:A->B") != 0)
		abort();
	atexit(cleanup);
}

static void fuzz_segment(const uint8_t *d, size_t n)
{
	struct rfx_seg seg;
	uint8_t *img;
	size_t pg = 4096, len = (n + pg - 1) / pg * pg;

	if (n == 0)
		return;
	/* Page-aligned private copy with the exact input length readable. */
	img = aligned_alloc(pg, len);
	if (!img)
		return;
	memset(img, 0, len);
	memcpy(img, d, n);
	memset(&seg, 0, sizeof(seg));
	seg.base = img;
	seg.size = n;
	if (rfx_seg_validate(&seg) == 0) {
		struct rfx_session_info info;

		for (uint32_t i = 0; i < seg.max_sessions; i++)
			rfx_seg_dir_read(&seg, i, &info);
		for (uint32_t i = 0; i < seg.max_clients; i++) {
			struct rfx_ring_consumer c;

			(void)atomic_load(&rfx_seg_slot(&seg, i)->owner);
			rfx_ring_consumer_init(&c, rfx_seg_ring_to_shard(&seg, i), seg.ring_to_shard);
		}
	}
	free(img);
}

static void fuzz_ring(const uint8_t *d, size_t n)
{
	struct rfx_ring_shm *s = (struct rfx_ring_shm *)ring_mem;
	struct rfx_ring_consumer c;
	struct rfx_ring_rec r;
	uint64_t head = 0, tail = 0;
	volatile uint8_t sink = 0;

	rfx_ring_format(ring_mem, RING_CAP);
	if (n >= 16) {
		memcpy(&head, d, 8);
		memcpy(&tail, d + 8, 8);
		d += 16;
		n -= 16;
	}
	memcpy(ring_mem + RFX_RING_HDR_SIZE, d, n < RING_CAP ? n : RING_CAP);
	atomic_store(&s->head, head);
	atomic_store(&s->tail, tail);
	if (rfx_ring_consumer_init(&c, ring_mem, RING_CAP) < 0)
		return;
	for (int i = 0; i < 4096 && rfx_ring_peek(&c, &r) == 0; i++) {
		const uint8_t *p = r.data;

		for (uint32_t k = 0; k < r.len; k++)
			sink ^= p[k];
		rfx_ring_consume(&c);
	}
	(void)sink;
}

static int ignore_send(void *ctx, uint32_t client, uint32_t session, uint64_t tag,
		       const char *body, uint32_t len)
{
	volatile char sink = 0;

	(void)ctx, (void)client, (void)session, (void)tag;
	for (uint32_t k = 0; k < len; k++)
		sink ^= body[k];
	(void)sink;
	return (len & 1) ? RFX_ESTATE : 0;
}

static const struct rfx_server_ops ops = {.on_send = ignore_send};

static void fuzz_server(const uint8_t *d, size_t n, int raw)
{
	struct rfx_client *c;
	struct rfx_seg *seg = rfx_server_seg(srv);
	int slot = -1;

	if (rfx_client_attach(&c, inst, NULL) < 0)
		abort();
	rfx_server_reap(srv, &ops, NULL);
	for (uint32_t i = 0; i < seg->max_clients; i++)
		if (RFX_SLOT_PID(atomic_load(&rfx_seg_slot(seg, i)->owner)) == getpid())
			slot = (int)i;
	if (slot < 0)
		abort();
	if (rfx_bind(c, "FIX.4.4:A->B", 0) < 0)
		abort();
	rfx_server_poll(srv, &ops, NULL, 64);
	if (!raw) {
		struct rfx_ring_producer p;

		/* Another producer on the client's ring: correct framing,
		 * hostile contents. */
		if (rfx_ring_producer_init(&p, rfx_seg_ring_to_shard(seg, (uint32_t)slot),
					   RING_CAP, 0) < 0)
			abort();
		while (n >= 4) {
			uint16_t len, type;

			memcpy(&len, d, 2);
			memcpy(&type, d + 2, 2);
			d += 4;
			n -= 4;
			if (len > n)
				len = (uint16_t)n;
			if (type == 0 || rfx_ring_try_write(&p, type, d, len) < 0)
				break;
			d += len;
			n -= len;
		}
		rfx_ring_publish(&p);
	} else if (n >= 8) {
		struct rfx_ring_shm *s = rfx_seg_ring_to_shard(seg, (uint32_t)slot);
		uint64_t tail;

		memcpy(&tail, d, 8);
		memcpy((uint8_t *)s + RFX_RING_HDR_SIZE, d + 8, n - 8 < RING_CAP ? n - 8 : RING_CAP);
		atomic_store(&s->tail, tail);
	}
	for (int i = 0; i < 8; i++) {
		rfx_server_poll(srv, &ops, NULL, 256);
		rfx_server_flush(srv);
	}
	rfx_client_detach(c);
	rfx_server_reap(srv, &ops, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size == 0)
		return 0;
	switch (data[0] & 3) {
	case 0: fuzz_segment(data + 1, size - 1); break;
	case 1: fuzz_ring(data + 1, size - 1); break;
	case 2: fuzz_server(data + 1, size - 1, 0); break;
	case 3: fuzz_server(data + 1, size - 1, 1); break;
	}
	return 0;
}
