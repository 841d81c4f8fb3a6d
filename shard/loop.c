#include "shard/loop_private.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "engine/error.h"

#define BGID 0

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void apply_defaults(struct rfx_loop_opts *o)
{
	if (!o->entries)
		o->entries = 256;
	if (!o->max_conns)
		o->max_conns = 1024;
	if (!o->buf_count)
		o->buf_count = 512;
	if (!o->buf_size)
		o->buf_size = 16384;
	if (!o->tick_ns)
		o->tick_ns = 1000000;
	if (!o->spin_turns)
		o->spin_turns = 1000;
	if (!o->block_max_ns)
		o->block_max_ns = 100000000;
}

/* Try the setups from best to plainest. -EINVAL means "this kernel lacks a
 * flag", anything else (ENOSYS, EPERM, ENOMEM) is final. */
static int setup_ring(struct rfx_loop *l)
{
	static const unsigned tiers[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
		0,
	};
	static const unsigned feats[] = {
		RFX_LOOP_HAS_DEFER | RFX_LOOP_HAS_COOP, RFX_LOOP_HAS_COOP, 0,
	};
	unsigned first = (l->o.flags & RFX_LOOP_F_NO_DEFER) ? 2 : 0;
	int rc = -EINVAL;

	for (unsigned i = first; i < 3; i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = tiers[i] | IORING_SETUP_CQSIZE;
		/* Multishot operations can post many completions per SQE. */
		p.cq_entries = l->o.entries * 4;
		rc = io_uring_queue_init_params(l->o.entries, &l->ring, &p);
		if (rc == 0) {
			l->setup_flags = tiers[i];
			l->features |= feats[i];
			return 0;
		}
		if (rc != -EINVAL)
			return rc;
	}
	return rc;
}

static int setup_buffers(struct rfx_loop *l)
{
	struct io_uring_buf_reg reg;
	int rc;

	l->br_bytes = (size_t)l->o.buf_count * sizeof(struct io_uring_buf);
	l->br = mmap(NULL, l->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->br == MAP_FAILED) {
		l->br = NULL;
		return -ENOMEM;
	}
	l->bufs_bytes = (size_t)l->o.buf_count * l->o.buf_size;
	l->bufs = mmap(NULL, l->bufs_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->bufs == MAP_FAILED) {
		l->bufs = NULL;
		return -ENOMEM;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)l->br;
	reg.ring_entries = l->o.buf_count;
	reg.bgid = BGID;
	rc = io_uring_register_buf_ring(&l->ring, &reg, 0);
	if (rc < 0)
		return rc == -EINVAL ? -EOPNOTSUPP : rc;
	io_uring_buf_ring_init(l->br);
	l->buf_mask = io_uring_buf_ring_mask(l->o.buf_count);
	for (unsigned i = 0; i < l->o.buf_count; i++)
		io_uring_buf_ring_add(l->br, l->bufs + (size_t)i * l->o.buf_size, l->o.buf_size,
				      (unsigned short)i, l->buf_mask, (int)i);
	io_uring_buf_ring_advance(l->br, (int)l->o.buf_count);
	return 0;
}

int rfx_loop_new(struct rfx_loop **out, const struct rfx_loop_opts *opts)
{
	struct rfx_loop *l;
	int rc;

	if (!out)
		return -EINVAL;
	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	if (opts)
		l->o = *opts;
	apply_defaults(&l->o);
	rc = -EINVAL;
	if (l->o.buf_count & (l->o.buf_count - 1) || l->o.buf_count > 32768 ||
	    l->o.max_conns >= MAX_SLOTS || l->o.idle > RFX_IDLE_BLOCK ||
	    l->o.buf_size > (1u << 30))
		goto err_free;

	rc = -ENOMEM;
	l->slots = calloc(l->o.max_conns, sizeof(*l->slots));
	l->free_slots = calloc(l->o.max_conns, sizeof(*l->free_slots));
	if (!l->slots || !l->free_slots)
		goto err_free;
	for (uint32_t i = 0; i < l->o.max_conns; i++) {
		l->slots[i].gen = 1;
		/* Lowest slots first: keeps the table's hot part small. */
		l->free_slots[i] = l->o.max_conns - 1 - i;
	}
	l->nfree = l->o.max_conns;

	rc = setup_ring(l);
	if (rc < 0)
		goto err_free;
	rc = setup_buffers(l);
	if (rc < 0)
		goto err_ring;
	if (!(l->o.flags & RFX_LOOP_F_NO_MULTISHOT))
		l->features |= RFX_LOOP_HAS_MS_ACCEPT | RFX_LOOP_HAS_MS_RECV;

	l->now_mono = clock_ns(CLOCK_MONOTONIC);
	l->now_real = clock_ns(CLOCK_REALTIME);
	rfx_timer_wheel_init(&l->wheel, l->o.tick_ns, l->now_mono);
	*out = l;
	return 0;

err_ring:
	io_uring_queue_exit(&l->ring);
	if (l->bufs)
		munmap(l->bufs, l->bufs_bytes);
	if (l->br)
		munmap(l->br, l->br_bytes);
err_free:
	free(l->free_slots);
	free(l->slots);
	free(l);
	return rc;
}

void rfx_loop_free(struct rfx_loop *l)
{
	if (!l)
		return;
	/* Exiting the ring cancels and waits for everything in flight, so
	 * the buffers and sockets can go afterwards. */
	io_uring_queue_exit(&l->ring);
	for (uint32_t i = 0; i < l->o.max_conns; i++) {
		struct rfx_conn *c = l->slots[i].conn;

		if (!c)
			continue;
		close(c->fd);
		c->fd = -1;
		c->state = RFX_CONN_IDLE;
		c->pend = 0;
		rfx_conn_drop_tx(c);
		c->flags = 0;
	}
	rfx_timer_wheel_deinit(&l->wheel);
	munmap(l->bufs, l->bufs_bytes);
	munmap(l->br, l->br_bytes);
	free(l->free_slots);
	free(l->slots);
	free(l);
}

struct io_uring_sqe *rfx_loop_sqe(struct rfx_loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

int rfx_loop_slot_alloc(struct rfx_loop *l, struct rfx_conn *c)
{
	uint32_t i;

	if (l->nfree == 0)
		return RFX_ECONNLIMIT;
	i = l->free_slots[--l->nfree];
	l->slots[i].conn = c;
	c->slot = i;
	c->gen = l->slots[i].gen;
	c->loop = l;
	return 0;
}

void rfx_loop_slot_free(struct rfx_loop *l, struct rfx_conn *c)
{
	struct rfx_slot *s = &l->slots[c->slot];

	s->conn = NULL;
	/* A new generation: any completion still naming the old one is stray. */
	if (++s->gen == 0)
		s->gen = 1;
	l->free_slots[l->nfree++] = c->slot;
}

void rfx_loop_return_buf(struct rfx_loop *l, unsigned bid)
{
	io_uring_buf_ring_add(l->br, l->bufs + (size_t)bid * l->o.buf_size, l->o.buf_size,
			      (unsigned short)bid, l->buf_mask, 0);
	io_uring_buf_ring_advance(l->br, 1);
}

static void dispatch(struct rfx_loop *l, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	uint32_t idx = (uint32_t)(ud >> 8) & (MAX_SLOTS - 1);
	uint32_t gen = (uint32_t)(ud >> 32);
	struct rfx_conn *c;

	if (ud == UD_IGNORE)
		goto drop;
	if (idx >= l->o.max_conns || l->slots[idx].gen != gen || !(c = l->slots[idx].conn)) {
		l->st.stray_cqes++;
		goto drop;
	}
	rfx_conn_complete(l, c, (unsigned)(ud & 0xff), cqe);
	return;
drop:
	/* A buffer picked for a completion nobody takes must still go back. */
	if (cqe->flags & IORING_CQE_F_BUFFER)
		rfx_loop_return_buf(l, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
}

/* With COOP/DEFER_TASKRUN the kernel posts completions only when we enter
 * it; TASKRUN_FLAG tells us when there is something to post, so a spinning
 * loop makes a system call only then. */
static void get_events_if_pending(struct rfx_loop *l)
{
	if (IO_URING_READ_ONCE(*l->ring.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW))
		io_uring_get_events(&l->ring);
}

static bool has_pending_work(const struct rfx_loop *l)
{
	return l->tx_list || l->arm_list || l->done_list;
}

static int wait_events(struct rfx_loop *l)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;
	uint64_t nd = rfx_timer_wheel_next_deadline(&l->wheel);
	uint64_t now = clock_ns(CLOCK_MONOTONIC), d = l->o.block_max_ns;
	int rc;

	if (nd <= now)
		return 0;
	if (nd - now < d)
		d = nd - now;
	if (l->o.on_sleep) {
		int64_t cap = l->o.on_sleep(l, l->o.arg, 1);

		if (cap < 0)
			return 0;
		if (cap > 0 && (uint64_t)cap < d)
			d = (uint64_t)cap;
	}
	ts.tv_sec = (long long)(d / 1000000000ull);
	ts.tv_nsec = (long long)(d % 1000000000ull);
	l->st.waits++;
	rc = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
	if (l->o.on_sleep)
		l->o.on_sleep(l, l->o.arg, 0);
	if (rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY)
		return 0;
	return rc < 0 ? rc : 0;
}

int rfx_loop_turn(struct rfx_loop *l, unsigned flags)
{
	struct io_uring_cqe *cqes[64];
	unsigned got;
	int n = 0, rc;

	l->st.turns++;
	if ((flags & RFX_TURN_WAIT) && !has_pending_work(l) && io_uring_cq_ready(&l->ring) == 0) {
		get_events_if_pending(l);
		if (io_uring_cq_ready(&l->ring) == 0) {
			rc = wait_events(l);
			if (rc < 0)
				return rc;
		}
	} else {
		get_events_if_pending(l);
	}
	l->now_mono = clock_ns(CLOCK_MONOTONIC);
	l->now_real = clock_ns(CLOCK_REALTIME);

	do {
		got = io_uring_peek_batch_cqe(&l->ring, cqes, 64);
		for (unsigned i = 0; i < got; i++)
			dispatch(l, cqes[i]);
		io_uring_cq_advance(&l->ring, got);
		n += (int)got;
	} while (got == 64);
	l->st.cqes += (uint64_t)n;

	n += rfx_timer_wheel_advance(&l->wheel, l->now_mono);
	if (l->o.on_turn)
		l->o.on_turn(l, l->o.arg);
	rfx_conn_flush(l);
	if (io_uring_sq_ready(&l->ring)) {
		rc = io_uring_submit(&l->ring);
		/* EAGAIN/EBUSY: the kernel is short of resources or the CQ is
		 * overflowing; the SQEs stay queued for the next turn. */
		if (rc < 0 && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR)
			return rc;
	}
	return n;
}

int rfx_loop_run(struct rfx_loop *l)
{
	l->stop = 0;
	while (!l->stop) {
		int n = rfx_loop_turn(l, l->o.idle == RFX_IDLE_BLOCK ? RFX_TURN_WAIT : 0);

		if (n < 0)
			return n;
		if (l->o.idle != RFX_IDLE_SPIN_YIELD)
			continue;
		if (n > 0) {
			l->idle_turns = 0;
		} else if (++l->idle_turns >= l->o.spin_turns) {
			sched_yield();
		}
	}
	return 0;
}

void rfx_loop_stop(struct rfx_loop *l)
{
	l->stop = 1;
}

uint64_t rfx_loop_now_mono(const struct rfx_loop *l)
{
	return l->now_mono;
}

uint64_t rfx_loop_now_real(const struct rfx_loop *l)
{
	return l->now_real;
}

struct rfx_timer_wheel *rfx_loop_timers(struct rfx_loop *l)
{
	return &l->wheel;
}

unsigned rfx_loop_features(const struct rfx_loop *l)
{
	return l->features;
}

const struct rfx_loop_stats *rfx_loop_stats(const struct rfx_loop *l)
{
	return &l->st;
}

int rfx_loop_describe(const struct rfx_loop *l, char *buf, size_t len)
{
	const char *setup = (l->features & RFX_LOOP_HAS_DEFER) ?
		"single_issuer+defer_taskrun+coop_taskrun" :
		(l->features & RFX_LOOP_HAS_COOP) ? "coop_taskrun" : "plain";
	static const char *const idle[] = {"spin", "spin-then-yield", "block"};

	return snprintf(buf, len,
			"io_uring setup=%s accept=%s recv=%s buffers=%ux%u idle=%s tick=%lluns",
			setup, (l->features & RFX_LOOP_HAS_MS_ACCEPT) ? "multishot" : "single-shot",
			(l->features & RFX_LOOP_HAS_MS_RECV) ? "multishot" : "single-shot",
			l->o.buf_count, l->o.buf_size, idle[l->o.idle],
			(unsigned long long)l->o.tick_ns);
}
