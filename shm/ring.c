#include "shm/ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/error.h"

/* The layout is shared between processes built separately: pin it. */
_Static_assert(sizeof(struct rfx_ring_shm) == RFX_RING_HDR_SIZE, "ring header size");
_Static_assert(offsetof(struct rfx_ring_shm, tail) == 128, "tail offset");
_Static_assert(offsetof(struct rfx_ring_shm, head) == 256, "head offset");
_Static_assert(offsetof(struct rfx_ring_shm, waiters) == 384, "waiters offset");
_Static_assert(offsetof(struct rfx_ring_shm, wake_seq) == 388, "wake_seq offset");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free in shared memory");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free in shared memory");

#define NO_CLAIM UINT64_MAX

static inline uint64_t align8(uint64_t n)
{
	return (n + 7u) & ~(uint64_t)7u;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

size_t rfx_ring_size(uint64_t capacity)
{
	return RFX_RING_HDR_SIZE + (size_t)capacity;
}

uint32_t rfx_ring_max_payload(uint64_t capacity)
{
	uint64_t m = capacity / 2 - RFX_RING_REC_HDR;
	return m > UINT32_MAX ? UINT32_MAX : (uint32_t)m;
}

static int capacity_ok(uint64_t capacity)
{
	return capacity >= RFX_RING_MIN_CAPACITY && capacity <= RFX_RING_MAX_CAPACITY &&
	       (capacity & (capacity - 1)) == 0;
}

int rfx_ring_format(void *mem, uint64_t capacity)
{
	struct rfx_ring_shm *s = mem;

	if (!mem || ((uintptr_t)mem & 127u) || !capacity_ok(capacity))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->capacity = capacity;
	s->layout = RFX_RING_LAYOUT;
	atomic_store_explicit(&s->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&s->head, 0, memory_order_relaxed);
	atomic_store_explicit(&s->waiters, 0, memory_order_relaxed);
	atomic_store_explicit(&s->wake_seq, 0, memory_order_relaxed);
	/* Publishing the formatted ring to other processes is the owner's job
	 * (the segment's magic is stored with release after this). */
	return 0;
}

/* Positions found in a ring we are attaching to must be consistent. */
static int attach_check(struct rfx_ring_shm *s, uint64_t capacity,
			uint64_t *head, uint64_t *tail)
{
	uint64_t cap = *(volatile uint64_t *)&s->capacity;
	uint32_t layout = *(volatile uint32_t *)&s->layout;

	if (cap != capacity || layout != RFX_RING_LAYOUT)
		return RFX_EPROTO;
	*head = atomic_load_explicit(&s->head, memory_order_acquire);
	*tail = atomic_load_explicit(&s->tail, memory_order_acquire);
	if ((*head | *tail) & 7u || *tail - *head > capacity)
		return RFX_EPROTO;
	return 0;
}

int rfx_ring_producer_init(struct rfx_ring_producer *p, void *mem,
			   uint64_t capacity, unsigned flags)
{
	uint64_t head, tail;
	int rc;

	if (!p || !mem || ((uintptr_t)mem & 127u) || !capacity_ok(capacity))
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	rc = attach_check(mem, capacity, &head, &tail);
	if (rc < 0)
		return rc;
	p->shm = mem;
	p->data = (uint8_t *)mem + RFX_RING_HDR_SIZE;
	p->cap = capacity;
	p->mask = capacity - 1;
	p->tail = tail;
	p->published = tail;
	p->head_cache = head;
	p->claim_pos = NO_CLAIM;
	p->max_payload = rfx_ring_max_payload(capacity);
	p->wake = !(flags & RFX_RING_NO_WAKE);
	return 0;
}

int rfx_ring_consumer_init(struct rfx_ring_consumer *c, void *mem, uint64_t capacity)
{
	uint64_t head, tail;
	int rc;

	if (!c || !mem || ((uintptr_t)mem & 127u) || !capacity_ok(capacity))
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	rc = attach_check(mem, capacity, &head, &tail);
	if (rc < 0)
		return rc;
	c->shm = mem;
	c->data = (const uint8_t *)mem + RFX_RING_HDR_SIZE;
	c->cap = capacity;
	c->mask = capacity - 1;
	c->head = head;
	c->released = head;
	c->tail_cache = tail;
	c->next = head;
	c->max_payload = rfx_ring_max_payload(capacity);
	return 0;
}

/* ---- producer ---------------------------------------------------------- */

/* Re-read the consumer's head. Acquire pairs with the consumer's release in
 * rfx_ring_release: its reads of the records it released happen before our
 * writes over that space. A valid head lies in [head_cache, tail]; the single
 * unsigned comparison rejects both "backwards" and "ahead of the producer". */
static int reload_head(struct rfx_ring_producer *p)
{
	uint64_t h = atomic_load_explicit(&p->shm->head, memory_order_acquire);

	if ((h & 7u) || h - p->head_cache > p->tail - p->head_cache) {
		p->err = RFX_EPROTO;
		return RFX_EPROTO;
	}
	p->head_cache = h;
	return 0;
}

int rfx_ring_try_claim(struct rfx_ring_producer *p, uint32_t max_len, void **out)
{
	uint64_t need, off, pad;

	if (p->err)
		return p->err;
	if (p->claim_pos != NO_CLAIM)
		return -EBUSY;
	if (max_len > p->max_payload)
		return -EMSGSIZE;
	need = align8((uint64_t)RFX_RING_REC_HDR + max_len);
	off = p->tail & p->mask;
	pad = off + need > p->cap ? p->cap - off : 0;
	if (p->tail + pad + need - p->head_cache > p->cap) {
		int rc = reload_head(p);

		if (rc < 0)
			return rc;
		if (p->tail + pad + need - p->head_cache > p->cap)
			return RFX_EFULL;
	}
	p->claim_pos = p->tail + pad;
	p->claim_pad = pad;
	p->claim_max = max_len;
	*out = p->data + (p->claim_pos & p->mask) + RFX_RING_REC_HDR;
	return 0;
}

static inline void put_hdr(uint8_t *at, uint32_t len, uint32_t type)
{
	uint32_t h[2] = {len, type};

	memcpy(at, h, sizeof(h));
}

int rfx_ring_commit(struct rfx_ring_producer *p, uint32_t type, uint32_t len)
{
	if (p->claim_pos == NO_CLAIM || len > p->claim_max || type == 0 ||
	    type > RFX_RING_TYPE_MAX)
		return -EINVAL;
	if (p->claim_pad)
		put_hdr(p->data + (p->tail & p->mask),
			(uint32_t)(p->claim_pad - RFX_RING_REC_HDR), RFX_RING_TYPE_PAD);
	put_hdr(p->data + (p->claim_pos & p->mask), len, type);
	p->tail = p->claim_pos + align8((uint64_t)RFX_RING_REC_HDR + len);
	p->claim_pos = NO_CLAIM;
	return 0;
}

void rfx_ring_abort(struct rfx_ring_producer *p)
{
	p->claim_pos = NO_CLAIM;
}

int rfx_ring_try_write(struct rfx_ring_producer *p, uint32_t type,
		       const void *buf, uint32_t len)
{
	void *dst;
	int rc;

	if (type == 0 || type > RFX_RING_TYPE_MAX)
		return -EINVAL;
	rc = rfx_ring_try_claim(p, len, &dst);
	if (rc < 0)
		return rc;
	memcpy(dst, buf, len);
	return rfx_ring_commit(p, type, len);
}

static long futex(_Atomic uint32_t *uaddr, int op, uint32_t val,
		  const struct timespec *ts)
{
	/* Not FUTEX_PRIVATE_FLAG: the waiter is in another process. */
	return syscall(SYS_futex, (uint32_t *)uaddr, op, val, ts, NULL, 0);
}

void rfx_ring_publish(struct rfx_ring_producer *p)
{
	if (p->tail == p->published)
		return;
	/* Release: every record byte written before this store is visible to a
	 * consumer that loads this tail with acquire. */
	atomic_store_explicit(&p->shm->tail, p->tail, memory_order_release);
	p->published = p->tail;
	if (!p->wake)
		return;
	/* No lost wake-up (Dekker pattern, see rfx_ring_wait): we store tail
	 * then load waiters; the consumer stores waiters then loads tail. With a
	 * seq_cst fence between each store and load, at least one side sees the
	 * other's store: either the consumer sees the new tail and does not
	 * sleep, or we see waiters == 1 and wake it. A wake that lands between
	 * its check and its futex_wait is not lost either: we bump wake_seq
	 * first, and FUTEX_WAIT refuses to sleep when wake_seq differs from the
	 * value the consumer read before its check. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&p->shm->waiters, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&p->shm->wake_seq, 1, memory_order_release);
		futex(&p->shm->wake_seq, FUTEX_WAKE, INT_MAX, NULL);
	}
}

uint64_t rfx_ring_free_cached(const struct rfx_ring_producer *p)
{
	return p->cap - (p->tail - p->head_cache);
}

/* ---- consumer ---------------------------------------------------------- */

/* Re-read the producer's tail. Acquire pairs with the release in
 * rfx_ring_publish, so record bytes below tail are complete when we read
 * them. A valid tail is 8-aligned, not below the last one seen and at most
 * one capacity ahead of our head. */
static int reload_tail(struct rfx_ring_consumer *c)
{
	uint64_t t = atomic_load_explicit(&c->shm->tail, memory_order_acquire);

	if ((t & 7u) || t - c->tail_cache > c->cap || t - c->head > c->cap) {
		c->why = (t & 7u) ? "tail not 8-byte aligned"
			 : c->tail_cache - t <= c->cap ? "tail moved backwards"
					     : "tail more than a ring capacity ahead";
		c->err = RFX_EPROTO;
		return RFX_EPROTO;
	}
	c->tail_cache = t;
	return 0;
}

int rfx_ring_peek(struct rfx_ring_consumer *c, struct rfx_ring_rec *rec)
{
	if (c->err)
		return c->err;
	for (;;) {
		uint64_t avail = c->tail_cache - c->head;
		uint64_t off, room, total;
		uint32_t len, type;
		const volatile uint32_t *h;

		if (avail == 0) {
			int rc = reload_tail(c);

			if (rc < 0)
				return rc;
			avail = c->tail_cache - c->head;
			if (avail == 0)
				return RFX_EEMPTY;
		}
		off = c->head & c->mask;
		room = c->cap - off;            /* bytes to the end of the data area */
		/* Copy the header once: the producer may rewrite shared memory
		 * at any time, and every check below must use what we validated. */
		h = (const volatile uint32_t *)(c->data + off);
		len = h[0];
		type = h[1];
		if (type == RFX_RING_TYPE_PAD) {
			if ((uint64_t)len + RFX_RING_REC_HDR != room || avail < room) {
				c->why = "padding record does not end at the wrap";
				goto proto;
			}
			c->head += room;        /* skip to the wrap; nothing to hand out */
			c->next = c->head;
			continue;
		}
		total = align8((uint64_t)RFX_RING_REC_HDR + len);
		if (type == 0 || type > RFX_RING_TYPE_MAX || len > c->max_payload ||
		    total > room || total > avail) {
			c->why = type == 0 || type > RFX_RING_TYPE_MAX ? "reserved record type"
				 : len > c->max_payload ? "record length above the ring's maximum"
				 : total > room ? "record crosses the end of the data area"
						: "record longer than the bytes published";
			goto proto;
		}
		rec->data = c->data + off + RFX_RING_REC_HDR;
		rec->len = len;
		rec->type = type;
		c->next = c->head + total;
		return 0;
	}
proto:
	c->err = RFX_EPROTO;
	return RFX_EPROTO;
}

const char *rfx_ring_consumer_why(const struct rfx_ring_consumer *c)
{
	return c->err && c->why ? c->why : "no error";
}

void rfx_ring_consume(struct rfx_ring_consumer *c)
{
	c->head = c->next;
}

void rfx_ring_release(struct rfx_ring_consumer *c)
{
	if (c->head == c->released)
		return;
	/* Release: our reads of the consumed records happen before the producer
	 * (acquire in reload_head) writes over them. */
	atomic_store_explicit(&c->shm->head, c->head, memory_order_release);
	c->released = c->head;
}

/* Is something published beyond what we consumed? Validates like peek. */
static int readable(struct rfx_ring_consumer *c)
{
	if (c->err)
		return c->err;
	if (c->tail_cache != c->head)
		return 1;
	if (reload_tail(c) < 0)
		return c->err;
	return c->tail_cache != c->head;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int rfx_ring_wait(struct rfx_ring_consumer *c, enum rfx_ring_wait_mode mode,
		  uint32_t spins, int64_t timeout_ns)
{
	int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
	uint64_t iter = 0;
	int r;

	for (uint32_t i = 0; i < spins; i++) {
		r = readable(c);
		if (r)
			return r < 0 ? r : 0;
		cpu_relax();
	}
	for (;;) {
		r = readable(c);
		if (r)
			return r < 0 ? r : 0;
		if ((mode != RFX_WAIT_SPIN || (++iter & 1023) == 0) && now_ns() >= deadline)
			return -ETIMEDOUT;
		if (mode == RFX_WAIT_SPIN) {
			cpu_relax();
		} else if (mode == RFX_WAIT_YIELD) {
			sched_yield();
		} else {
			/* Block. Read wake_seq *before* announcing and re-checking:
			 * a wake that comes after this load changes wake_seq, so
			 * FUTEX_WAIT below returns EAGAIN instead of sleeping. */
			uint32_t seq = atomic_load_explicit(&c->shm->wake_seq,
							    memory_order_acquire);
			struct timespec ts, *tsp = NULL;

			atomic_store_explicit(&c->shm->waiters, 1, memory_order_relaxed);
			/* Pairs with the fence in rfx_ring_publish (see there). */
			atomic_thread_fence(memory_order_seq_cst);
			r = readable(c);
			if (r) {
				atomic_store_explicit(&c->shm->waiters, 0, memory_order_relaxed);
				return r < 0 ? r : 0;
			}
			if (deadline != INT64_MAX) {
				int64_t left = deadline - now_ns();

				if (left <= 0)
					left = 1;
				ts.tv_sec = left / 1000000000;
				ts.tv_nsec = left % 1000000000;
				tsp = &ts;
			}
			/* FUTEX_WAIT's timeout is relative. EAGAIN, EINTR and
			 * ETIMEDOUT all just loop back to the checks. */
			futex(&c->shm->wake_seq, FUTEX_WAIT, seq, tsp);
			atomic_store_explicit(&c->shm->waiters, 0, memory_order_relaxed);
		}
	}
}
