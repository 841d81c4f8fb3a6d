/*
 * Single-producer / single-consumer byte ring in shared memory.
 *
 * One process produces, one consumes; they share a region of
 * rfx_ring_size(capacity) bytes laid out as struct rfx_ring_shm followed by
 * `capacity` data bytes. Positions are free-running 64-bit byte counters
 * (they never wrap in practice: 2^64 bytes at 10 GB/s is 58 years), so
 * used = tail - head with no full/empty ambiguity.
 *
 * Records are [u32 len][u32 type][len bytes] padded to 8 bytes and never
 * straddle the end of the data area: when one would, the producer writes a
 * padding record (type RFX_RING_TYPE_PAD) to the end and starts at offset 0.
 *
 * Trust: each side keeps its own position and capacity in private memory and
 * only *reads* the other side's position from shared memory, validating it
 * every time (a position going backwards, beyond the other, or unaligned is
 * RFX_EPROTO, and the handle stays failed). A consumer copies each record
 * header once and never reads outside the data area whatever the producer
 * wrote, so a hostile or dying peer can hurt the ring's contents, never the
 * reading process.
 *
 * Hot path: no allocation, no lock, no system call; rfx_ring_publish()
 * makes a futex system call only when a consumer has announced it sleeps.
 *
 * Struct layouts are public only so the inline-sized handles can live in
 * caller storage; touch them through the functions.
 */
#ifndef RFX_SHM_RING_H
#define RFX_SHM_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RFX_RING_LAYOUT 1u             /* bump when struct rfx_ring_shm changes */
#define RFX_RING_HDR_SIZE 512u         /* bytes before the data area */
#define RFX_RING_REC_HDR 8u            /* u32 len + u32 type */
#define RFX_RING_MIN_CAPACITY 64u
#define RFX_RING_MAX_CAPACITY (1ull << 32)
#define RFX_RING_TYPE_PAD 0xffffffffu  /* ring-internal: skip to the wrap */
#define RFX_RING_TYPE_MAX 0x7fffffffu  /* user types are 1..RFX_RING_TYPE_MAX */

/* Shared part. Hot fields sit 128 bytes apart: x86 prefetches cache lines in
 * adjacent pairs, so 64 bytes of separation would still false-share. */
struct rfx_ring_shm {
	uint64_t capacity;            /* written once by rfx_ring_format */
	uint32_t layout;              /* RFX_RING_LAYOUT */
	uint32_t reserved0;
	uint8_t pad0[128 - 16];
	_Atomic uint64_t tail;        /* producer: bytes ever published */
	uint8_t pad1[128 - 8];
	_Atomic uint64_t head;        /* consumer: bytes ever released */
	uint8_t pad2[128 - 8];
	_Atomic uint32_t waiters;     /* consumer: 1 while it may sleep in futex */
	_Atomic uint32_t wake_seq;    /* producer: futex word, bumped per wake */
	uint8_t pad3[128 - 8];
};

/* Producer handle, in the producer's private memory. */
struct rfx_ring_producer {
	struct rfx_ring_shm *shm;
	uint8_t *data;
	uint64_t cap;
	uint64_t mask;
	uint64_t tail;        /* ours: committed, maybe not yet published */
	uint64_t published;   /* last value stored to shm->tail */
	uint64_t head_cache;  /* consumer position last seen (validated) */
	uint64_t claim_pos;   /* position of the claimed record; UINT64_MAX: none */
	uint64_t claim_pad;   /* padding bytes to write before it on commit */
	uint32_t claim_max;
	uint32_t max_payload;
	int wake;             /* check shm->waiters on publish */
	int err;              /* sticky RFX_EPROTO once the peer misbehaved */
};

/* Consumer handle, in the consumer's private memory. */
struct rfx_ring_consumer {
	struct rfx_ring_shm *shm;
	const uint8_t *data;
	uint64_t cap;
	uint64_t mask;
	uint64_t head;        /* ours: consumed, maybe not yet released */
	uint64_t released;    /* last value stored to shm->head */
	uint64_t tail_cache;  /* producer position last seen (validated) */
	uint64_t next;        /* position after the peeked record; == head: none */
	uint32_t max_payload;
	int err;
	const char *why;      /* with err: what was wrong (static text, for logs) */
};

/* A record seen by the consumer. `data` points into shared memory and stays
 * valid until rfx_ring_release(); `len` and `type` are private copies. */
struct rfx_ring_rec {
	const void *data;
	uint32_t len;
	uint32_t type;
};

enum rfx_ring_wait_mode {
	RFX_WAIT_SPIN = 0,   /* busy-poll: lowest latency, burns the CPU */
	RFX_WAIT_YIELD = 1,  /* spin a while, then sched_yield between checks */
	RFX_WAIT_BLOCK = 2,  /* spin a while, then sleep on a futex */
};

/* Producer init flag: never make the wake-up check in rfx_ring_publish (use
 * when the consumer only spins or yields; saves a full fence per publish). */
#define RFX_RING_NO_WAKE 1u

/* Bytes of shared memory a ring of `capacity` data bytes needs. */
size_t rfx_ring_size(uint64_t capacity);

/* Largest payload a ring of `capacity` bytes accepts: a record (header,
 * payload, padding) takes at most half the ring so it fits even right after
 * a wrap-padding record. */
uint32_t rfx_ring_max_payload(uint64_t capacity);

/* Initialise a fresh, empty ring in `mem` (rfx_ring_size(capacity) bytes,
 * 128-byte aligned). Only the ring's owner calls this, while no producer or
 * consumer is attached. Returns 0 or -EINVAL (capacity not a power of two in
 * [RFX_RING_MIN_CAPACITY, RFX_RING_MAX_CAPACITY], or mem misaligned). */
int rfx_ring_format(void *mem, uint64_t capacity);

/* Attach a producer / consumer to a formatted ring. `capacity` is what the
 * caller expects from its own trusted configuration; the shared header must
 * agree. Returns 0, -EINVAL (bad arguments) or RFX_EPROTO (the shared header
 * holds a different capacity or impossible positions). */
int rfx_ring_producer_init(struct rfx_ring_producer *p, void *mem,
			   uint64_t capacity, unsigned flags);
int rfx_ring_consumer_init(struct rfx_ring_consumer *c, void *mem,
			   uint64_t capacity);

/* Reserve room for a payload of up to `max_len` bytes and point *out at it
 * (8-byte aligned, inside shared memory). Nothing is visible to the consumer
 * until rfx_ring_commit() and rfx_ring_publish(). One claim at a time.
 * Returns 0; RFX_EFULL (no room now: retry later); -EMSGSIZE (max_len above
 * rfx_ring_max_payload); -EBUSY (a claim is already open); RFX_EPROTO (the
 * consumer wrote an impossible head). */
int rfx_ring_try_claim(struct rfx_ring_producer *p, uint32_t max_len, void **out);

/* Finish the open claim as a record of `type` (1..RFX_RING_TYPE_MAX) and
 * `len` <= claimed bytes. Returns 0 or -EINVAL (no claim, bad type, len too
 * long: the claim stays open). */
int rfx_ring_commit(struct rfx_ring_producer *p, uint32_t type, uint32_t len);

/* Drop the open claim (nothing was written to the ring's positions). */
void rfx_ring_abort(struct rfx_ring_producer *p);

/* Claim, copy and commit in one call. Same returns as rfx_ring_try_claim. */
int rfx_ring_try_write(struct rfx_ring_producer *p, uint32_t type,
		       const void *buf, uint32_t len);

/* Make every committed record visible to the consumer with one release
 * store (batched publication), and wake the consumer if it sleeps. */
void rfx_ring_publish(struct rfx_ring_producer *p);

/* Bytes the producer could claim right now without re-reading head. */
uint64_t rfx_ring_free_cached(const struct rfx_ring_producer *p);

/* Look at the next record without consuming it. Padding records are skipped.
 * Returns 0 with *rec filled; RFX_EEMPTY; RFX_EPROTO (the producer wrote an
 * impossible tail or record: the handle stays failed). Peeking twice returns
 * the same record. */
int rfx_ring_peek(struct rfx_ring_consumer *c, struct rfx_ring_rec *rec);

/* After RFX_EPROTO from the consumer: a short description of what the
 * producer wrote wrong (static text, never NULL). */
const char *rfx_ring_consumer_why(const struct rfx_ring_consumer *c);

/* Consume the record returned by the last rfx_ring_peek (private; the space
 * goes back to the producer at rfx_ring_release). */
void rfx_ring_consume(struct rfx_ring_consumer *c);

/* Return all consumed space to the producer with one release store. */
void rfx_ring_release(struct rfx_ring_consumer *c);

/* Wait until a record may be readable, or `timeout_ns` passes (< 0: wait
 * forever). `spins` busy-polls come first in every mode. Returns 0 (data
 * published; call rfx_ring_peek), -ETIMEDOUT, or RFX_EPROTO.
 * Called by the consumer only. */
int rfx_ring_wait(struct rfx_ring_consumer *c, enum rfx_ring_wait_mode mode,
		  uint32_t spins, int64_t timeout_ns);

#endif
