#include "shard/loop_private.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/error.h"

static void set_nodelay(int fd)
{
	int one = 1;

	/* Fails harmlessly on non-TCP sockets (adopted socketpairs). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void queue_arm(struct rfx_loop *l, struct rfx_conn *c)
{
	if (c->flags & F_ARMQ)
		return;
	c->flags |= F_ARMQ;
	c->arm_next = l->arm_list;
	l->arm_list = c;
}

static void queue_tx(struct rfx_loop *l, struct rfx_conn *c)
{
	if (c->flags & F_TXQ)
		return;
	c->flags |= F_TXQ;
	c->tx_next = l->tx_list;
	l->tx_list = c;
}

static void queue_done(struct rfx_loop *l, struct rfx_conn *c)
{
	if (c->flags & F_DONEQ)
		return;
	c->flags |= F_DONEQ;
	c->done_next = l->done_list;
	l->done_list = c;
}

void rfx_conn_init(struct rfx_conn *c, const struct rfx_conn_ops *ops, void *user,
		   uint8_t *tx_buf, uint32_t tx_cap)
{
	memset(c, 0, sizeof(*c));
	c->ops = ops;
	c->user = user;
	c->tx_buf = tx_buf;
	c->tx_cap = tx_buf ? tx_cap : 0;
	c->fd = -1;
	c->state = RFX_CONN_IDLE;
}

int rfx_conn_tx_growable(struct rfx_conn *c, uint32_t min, uint32_t max)
{
	if (!c || min == 0 || min > max || c->state != RFX_CONN_IDLE)
		return -EINVAL;
	c->flags |= F_TX_OWNED;
	c->tx_buf = NULL;
	c->tx_cap = 0;
	c->tx_min = min;
	c->tx_max = max;
	return 0;
}

void rfx_conn_drop_tx(struct rfx_conn *c)
{
	if (!(c->flags & F_TX_OWNED))
		return;
	free(c->tx_old);
	free(c->tx_buf);
	c->tx_old = NULL;
	c->tx_buf = NULL;
	c->tx_cap = 0;
}

/* Growable buffer: a larger one (at least min, doubling, at most max) with
 * room for n more bytes. Without a send in flight the queued bytes move to
 * the front; with one they keep their offsets, so the send stays valid, and
 * the old buffer is freed when it completes. */
static int tx_grow(struct rfx_conn *c, uint32_t n)
{
	uint32_t keep = c->tx_inflight ? c->tx_head : 0;
	uint64_t need = (uint64_t)keep + (c->tx_tail - c->tx_head) + n;
	uint32_t cap = c->tx_cap ? c->tx_cap : c->tx_min;
	while (cap < need && cap < c->tx_max)
		cap = cap > c->tx_max / 2 ? c->tx_max : cap * 2;
	if (cap < need)
		return RFX_ETXFULL;
	uint8_t *nb = malloc(cap);
	if (!nb)
		return -ENOMEM;
	if (c->tx_tail > c->tx_head)
		memcpy(nb + keep, c->tx_buf + c->tx_head, c->tx_tail - c->tx_head);
	c->tx_tail = keep + (c->tx_tail - c->tx_head);
	c->tx_head = keep;
	if (c->tx_inflight && !c->tx_old)
		c->tx_old = c->tx_buf;  /* the kernel is reading it */
	else
		free(c->tx_buf);
	c->tx_buf = nb;
	c->tx_cap = cap;
	c->loop->st.tx_grows++;
	return 0;
}

/* Register an fd with the loop; on failure the caller still owns fd. */
static int attach(struct rfx_loop *l, struct rfx_conn *c, int fd, uint16_t state)
{
	int rc = rfx_loop_slot_alloc(l, c);

	if (rc < 0)
		return rc;
	c->fd = fd;
	c->state = state;
	c->pend = 0;
	c->flags &= (uint16_t)~(F_TXQ | F_ARMQ | F_DONEQ | F_WANT_SENDABLE | F_LISTENER |
				F_CLOSE_FLUSH | F_SINGLE_RECV | F_SINGLE_ACCEPT);
	c->tx_head = c->tx_tail = c->tx_inflight = 0;
	c->close_reason = 0;
	return 0;
}

int rfx_conn_adopt(struct rfx_loop *l, struct rfx_conn *c, int fd)
{
	int rc;

	if (!l || !c || fd < 0)
		return -EINVAL;
	if (c->state != RFX_CONN_IDLE)
		return -EBUSY;
	rc = attach(l, c, fd, RFX_CONN_OPEN);
	if (rc < 0)
		return rc;
	set_nodelay(fd);
	queue_arm(l, c);
	return 0;
}

int rfx_conn_watch(struct rfx_loop *l, struct rfx_conn *c, int fd, unsigned events)
{
	int rc;

	if (!l || !c || fd < 0 || events == 0 || events > 0xffff)
		return -EINVAL;
	if (c->state != RFX_CONN_IDLE)
		return -EBUSY;
	rc = attach(l, c, fd, RFX_CONN_WATCHING);
	if (rc < 0)
		return rc;
	c->events = (uint16_t)events;
	queue_arm(l, c);
	return 0;
}

int rfx_conn_listen(struct rfx_loop *l, struct rfx_conn *c, const struct sockaddr *addr,
		    socklen_t len, int backlog)
{
	int fd, one = 1, rc;

	if (!l || !c || !addr)
		return -EINVAL;
	if (c->state != RFX_CONN_IDLE)
		return -EBUSY;
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Restart without waiting out TIME_WAIT of the previous run. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, addr, len) < 0 || listen(fd, backlog) < 0) {
		rc = -errno;
		goto err;
	}
	rc = attach(l, c, fd, RFX_CONN_LISTENING);
	if (rc < 0)
		goto err;
	c->flags |= F_LISTENER;
	queue_arm(l, c);
	return 0;
err:
	close(fd);
	return rc;
}

int rfx_conn_connect(struct rfx_loop *l, struct rfx_conn *c, const struct sockaddr *addr,
		     socklen_t len, uint64_t timeout_ns)
{
	struct io_uring_sqe *sqe;
	int fd, rc;

	if (!l || !c || !addr || len > sizeof(c->peer))
		return -EINVAL;
	if (c->state != RFX_CONN_IDLE)
		return -EBUSY;
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_nodelay(fd);
	rc = attach(l, c, fd, RFX_CONN_CONNECTING);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	memcpy(&c->peer, addr, len);
	c->peer_len = len;
	/* The connect and its linked timeout must go in the same submission. */
	if (io_uring_sq_space_left(&l->ring) < 2)
		io_uring_submit(&l->ring);
	if (io_uring_sq_space_left(&l->ring) < 2) {
		/* The kernel refused the submission (CQ overflow): try later. */
		rfx_loop_slot_free(l, c);
		close(fd);
		c->fd = -1;
		c->state = RFX_CONN_IDLE;
		return -EBUSY;
	}
	sqe = rfx_loop_sqe(l);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&c->peer, c->peer_len);
	io_uring_sqe_set_data64(sqe, rfx_ud(c, OP_CONNECT));
	if (timeout_ns) {
		sqe->flags |= IOSQE_IO_LINK;
		c->cto.tv_sec = (long long)(timeout_ns / 1000000000ull);
		c->cto.tv_nsec = (long long)(timeout_ns % 1000000000ull);
		sqe = rfx_loop_sqe(l);
		io_uring_prep_link_timeout(sqe, &c->cto, 0);
		io_uring_sqe_set_data64(sqe, UD_IGNORE);
	}
	c->pend |= P_CONNECT;
	l->st.connects++;
	return 0;
}

static void cancel_op(struct rfx_loop *l, struct rfx_conn *c, unsigned op)
{
	struct io_uring_sqe *sqe = rfx_loop_sqe(l);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, rfx_ud(c, op), 0);
	io_uring_sqe_set_data64(sqe, UD_IGNORE);
}

static void start_close(struct rfx_loop *l, struct rfx_conn *c, int reason)
{
	if (c->state == RFX_CONN_IDLE || c->state == RFX_CONN_CLOSING)
		return;
	c->state = RFX_CONN_CLOSING;
	c->close_reason = reason;
	if (c->pend & P_ACCEPT)
		cancel_op(l, c, OP_ACCEPT);
	if (c->pend & P_RECV)
		cancel_op(l, c, OP_RECV);
	if (c->pend & P_SEND)
		cancel_op(l, c, OP_SEND);
	if (c->pend & P_CONNECT)
		cancel_op(l, c, OP_CONNECT);
	if (c->pend & P_POLL)
		cancel_op(l, c, OP_POLL);
	/* Released from the end-of-turn pass once nothing is pending. */
	queue_done(l, c);
}

int rfx_conn_close(struct rfx_conn *c, int reason)
{
	if (!c || c->state == RFX_CONN_IDLE || c->state == RFX_CONN_CLOSING)
		return -EALREADY;
	start_close(c->loop, c, reason);
	return 0;
}

int rfx_conn_close_flush(struct rfx_conn *c, int reason)
{
	if (!c || c->state == RFX_CONN_IDLE || c->state == RFX_CONN_CLOSING)
		return -EALREADY;
	if (c->state != RFX_CONN_OPEN || rfx_conn_queued(c) == 0)
		return rfx_conn_close(c, reason);
	c->flags |= F_CLOSE_FLUSH;
	c->close_reason = reason;
	return 0;
}

int rfx_conn_local_port(const struct rfx_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!c || c->fd < 0)
		return -EBADF;
	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

/* Room for n more bytes at the tail, compacting if no send is reading the
 * front. The in-flight region [head, head + inflight) must not move. */
static int tx_room(struct rfx_conn *c, uint32_t n)
{
	if (c->state != RFX_CONN_OPEN || (c->flags & F_CLOSE_FLUSH))
		return -ENOTCONN;
	if (n > rfx_conn_tx_max(c))
		return -EMSGSIZE;
	if (c->tx_buf && c->tx_cap - c->tx_tail >= n)
		return 0;
	if (c->tx_inflight == 0 && c->tx_head > 0 && c->tx_cap - (c->tx_tail - c->tx_head) >= n) {
		memmove(c->tx_buf, c->tx_buf + c->tx_head, c->tx_tail - c->tx_head);
		c->tx_tail -= c->tx_head;
		c->tx_head = 0;
		return 0;
	}
	if (c->flags & F_TX_OWNED) {
		int rc = tx_grow(c, n);
		if (rc != RFX_ETXFULL)
			return rc;
	}
	c->flags |= F_WANT_SENDABLE;
	c->loop->st.tx_full++;
	return RFX_ETXFULL;
}

int rfx_conn_send(struct rfx_conn *c, const void *p, uint32_t n)
{
	int rc = tx_room(c, n);

	if (rc < 0 || n == 0)
		return rc;
	memcpy(c->tx_buf + c->tx_tail, p, n);
	c->tx_tail += n;
	queue_tx(c->loop, c);
	return 0;
}

uint8_t *rfx_conn_reserve(struct rfx_conn *c, uint32_t n)
{
	if (tx_room(c, n) < 0)
		return NULL;
	return c->tx_buf + c->tx_tail;
}

void rfx_conn_commit(struct rfx_conn *c, uint32_t n)
{
	if (n == 0 || n > c->tx_cap - c->tx_tail)
		return;
	c->tx_tail += n;
	queue_tx(c->loop, c);
}

static void complete_accept(struct rfx_loop *l, struct rfx_conn *c, const struct io_uring_cqe *cqe)
{
	int fd = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->pend &= (uint16_t)~P_ACCEPT;
	if (fd >= 0) {
		struct rfx_conn *nc = NULL;

		if (c->state == RFX_CONN_LISTENING && l->nfree > 0 && c->ops && c->ops->on_accept) {
			set_nodelay(fd);
			nc = c->ops->on_accept(c, fd);
		}
		if (nc && rfx_conn_adopt(l, nc, fd) == 0) {
			l->st.accepts++;
		} else {
			close(fd);
			l->st.accept_refused++;
		}
	} else if (fd == -EINVAL && !(c->flags & F_SINGLE_ACCEPT) &&
		   (l->features & RFX_LOOP_HAS_MS_ACCEPT)) {
		/* Kernel without multishot accept: single-shot from now on. */
		l->features &= ~RFX_LOOP_HAS_MS_ACCEPT;
	} else if (fd != -ECANCELED) {
		/* EMFILE, ENFILE, ENOBUFS...: keep listening. */
		l->st.accept_errors++;
	}
	if (!(c->pend & P_ACCEPT)) {
		if (c->state == RFX_CONN_LISTENING)
			queue_arm(l, c);
		else if (c->state == RFX_CONN_CLOSING)
			queue_done(l, c);
	}
}

static void complete_recv(struct rfx_loop *l, struct rfx_conn *c, const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->pend &= (uint16_t)~P_RECV;
	l->st.recv_cqes++;
	if (res > 0) {
		if (cqe->flags & IORING_CQE_F_BUFFER) {
			unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

			/* Data after close was asked for is dropped. */
			if (c->state == RFX_CONN_OPEN && c->ops && c->ops->on_data)
				c->ops->on_data(c, l->bufs + (size_t)bid * l->o.buf_size, (uint32_t)res);
			l->st.recv_bytes += (uint64_t)res;
			rfx_loop_return_buf(l, bid);
		}
	} else {
		if (cqe->flags & IORING_CQE_F_BUFFER)
			rfx_loop_return_buf(l, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (res == 0) {
			start_close(l, c, RFX_EPEERCLOSED);
		} else if (res == -ENOBUFS) {
			/* All buffers were out; they are back by the end of
			 * this turn's callbacks, so re-arming then works. */
			l->st.recv_nobufs++;
		} else if (res == -EINVAL && !(c->flags & F_SINGLE_RECV) &&
			   (l->features & RFX_LOOP_HAS_MS_RECV)) {
			l->features &= ~RFX_LOOP_HAS_MS_RECV;
		} else if (res != -ECANCELED) {
			start_close(l, c, res);
		}
	}
	if (!(c->pend & P_RECV)) {
		if (c->state == RFX_CONN_OPEN)
			queue_arm(l, c);
		else if (c->state == RFX_CONN_CLOSING)
			queue_done(l, c);
	}
}

static void complete_send(struct rfx_loop *l, struct rfx_conn *c, const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	c->pend &= (uint16_t)~P_SEND;
	if (c->tx_old) {
		free(c->tx_old);
		c->tx_old = NULL;
	}
	if (res < 0) {
		c->tx_inflight = 0;
		if (res != -ECANCELED)
			start_close(l, c, res);
	} else {
		if ((uint32_t)res < c->tx_inflight)
			l->st.partial_sends++;
		c->tx_head += (uint32_t)res;
		c->tx_inflight = 0;
		if (c->tx_head == c->tx_tail) {
			c->tx_head = c->tx_tail = 0;
			/* Drained: a grown buffer goes back to its small size. */
			if ((c->flags & F_TX_OWNED) && c->tx_cap > c->tx_min) {
				free(c->tx_buf);
				c->tx_buf = malloc(c->tx_min);
				c->tx_cap = c->tx_buf ? c->tx_min : 0;
				l->st.tx_shrinks++;
			}
		} else if (c->tx_head >= c->tx_cap / 2) {
			/* Amortised: at most as many bytes moved as were sent. */
			memmove(c->tx_buf, c->tx_buf + c->tx_head, c->tx_tail - c->tx_head);
			c->tx_tail -= c->tx_head;
			c->tx_head = 0;
		}
	}
	if (c->state == RFX_CONN_OPEN) {
		if (c->tx_tail > c->tx_head)
			queue_tx(l, c);
		else if (c->flags & F_CLOSE_FLUSH)
			start_close(l, c, c->close_reason);
		if ((c->flags & F_WANT_SENDABLE) && c->state == RFX_CONN_OPEN) {
			c->flags &= (uint16_t)~F_WANT_SENDABLE;
			if (c->ops && c->ops->on_sendable)
				c->ops->on_sendable(c);
		}
	}
	if (c->state == RFX_CONN_CLOSING && c->pend == 0)
		queue_done(l, c);
}

static void complete_connect(struct rfx_loop *l, struct rfx_conn *c, const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	c->pend &= (uint16_t)~P_CONNECT;
	if (c->state == RFX_CONN_CONNECTING) {
		if (res == 0) {
			c->state = RFX_CONN_OPEN;
			queue_arm(l, c);
		} else {
			/* The linked timeout cancels the connect: -ECANCELED
			 * here means it expired (a user close moves the conn
			 * to CLOSING first). */
			if (res == -ECANCELED || res == -EALREADY) {
				res = -ETIMEDOUT;
				l->st.connect_timeouts++;
			}
			close(c->fd);
			c->fd = -1;
			rfx_loop_slot_free(l, c);
			c->state = RFX_CONN_IDLE;
		}
		if (c->ops && c->ops->on_connect)
			c->ops->on_connect(c, res);
	} else if (c->state == RFX_CONN_CLOSING && c->pend == 0) {
		queue_done(l, c);
	}
}

static void complete_poll(struct rfx_loop *l, struct rfx_conn *c, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->pend &= (uint16_t)~P_POLL;
	if (cqe->res >= 0) {
		if (c->state == RFX_CONN_WATCHING && c->ops && c->ops->on_ready)
			c->ops->on_ready(c, (unsigned)cqe->res);
	} else if (cqe->res != -ECANCELED) {
		start_close(l, c, cqe->res);
	}
	if (!(c->pend & P_POLL)) {
		if (c->state == RFX_CONN_WATCHING)
			queue_arm(l, c);
		else if (c->state == RFX_CONN_CLOSING && c->pend == 0)
			queue_done(l, c);
	}
}

void rfx_conn_complete(struct rfx_loop *l, struct rfx_conn *c, unsigned op,
		       const struct io_uring_cqe *cqe)
{
	switch (op) {
	case OP_ACCEPT: complete_accept(l, c, cqe); break;
	case OP_RECV: complete_recv(l, c, cqe); break;
	case OP_SEND: complete_send(l, c, cqe); break;
	case OP_CONNECT: complete_connect(l, c, cqe); break;
	case OP_POLL: complete_poll(l, c, cqe); break;
	default:
		l->st.stray_cqes++;
		if (cqe->flags & IORING_CQE_F_BUFFER)
			rfx_loop_return_buf(l, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		break;
	}
}

static void arm(struct rfx_loop *l, struct rfx_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->state == RFX_CONN_LISTENING && !(c->pend & P_ACCEPT)) {
		if (!(sqe = rfx_loop_sqe(l)))
			goto retry;
		if (l->features & RFX_LOOP_HAS_MS_ACCEPT) {
			io_uring_prep_multishot_accept(sqe, c->fd, NULL, NULL, SOCK_CLOEXEC);
			c->flags &= (uint16_t)~F_SINGLE_ACCEPT;
		} else {
			io_uring_prep_accept(sqe, c->fd, NULL, NULL, SOCK_CLOEXEC);
			c->flags |= F_SINGLE_ACCEPT;
		}
		io_uring_sqe_set_data64(sqe, rfx_ud(c, OP_ACCEPT));
		c->pend |= P_ACCEPT;
	} else if (c->state == RFX_CONN_WATCHING && !(c->pend & P_POLL)) {
		if (!(sqe = rfx_loop_sqe(l)))
			goto retry;
		/* Multishot poll (5.13+) unless the single-shot fallback is forced. */
		if (l->o.flags & RFX_LOOP_F_NO_MULTISHOT)
			io_uring_prep_poll_add(sqe, c->fd, c->events);
		else
			io_uring_prep_poll_multishot(sqe, c->fd, c->events);
		io_uring_sqe_set_data64(sqe, rfx_ud(c, OP_POLL));
		c->pend |= P_POLL;
	} else if (c->state == RFX_CONN_OPEN && !(c->pend & P_RECV)) {
		if (!(sqe = rfx_loop_sqe(l)))
			goto retry;
		if (l->features & RFX_LOOP_HAS_MS_RECV) {
			io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
			c->flags &= (uint16_t)~F_SINGLE_RECV;
		} else {
			io_uring_prep_recv(sqe, c->fd, NULL, l->o.buf_size, 0);
			c->flags |= F_SINGLE_RECV;
		}
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = 0;
		io_uring_sqe_set_data64(sqe, rfx_ud(c, OP_RECV));
		c->pend |= P_RECV;
		l->st.recv_arms++;
	}
	return;
retry:
	queue_arm(l, c);
}

static void send_now(struct rfx_loop *l, struct rfx_conn *c)
{
	struct io_uring_sqe *sqe;
	uint32_t n = c->tx_tail - c->tx_head;

	if (c->state != RFX_CONN_OPEN || (c->pend & P_SEND) || n == 0)
		return;
	if (!(sqe = rfx_loop_sqe(l))) {
		queue_tx(l, c);
		return;
	}
	/* Everything queued goes in one send: this is the coalescing. */
	io_uring_prep_send(sqe, c->fd, c->tx_buf + c->tx_head, n, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, rfx_ud(c, OP_SEND));
	c->tx_inflight = n;
	c->pend |= P_SEND;
	l->st.sends++;
	l->st.send_bytes += n;
}

static void release(struct rfx_loop *l, struct rfx_conn *c)
{
	int reason = c->close_reason;

	close(c->fd);
	c->fd = -1;
	rfx_loop_slot_free(l, c);
	c->state = RFX_CONN_IDLE;
	c->tx_head = c->tx_tail = c->tx_inflight = 0;
	rfx_conn_drop_tx(c);
	c->flags &= F_TX_OWNED;
	l->st.closes++;
	/* Last: the callback may reuse or free c. */
	if (c->ops && c->ops->on_closed)
		c->ops->on_closed(c, reason);
}

/* End of turn. Order matters for memory safety: a conn is released only in
 * the last pass, and only once it is on no other list (a closing conn
 * cannot be queued for arming or sending again), so on_closed may free it. */
void rfx_conn_flush(struct rfx_loop *l)
{
	struct rfx_conn *c, *next;

	c = l->arm_list;
	l->arm_list = NULL;
	for (; c; c = next) {
		next = c->arm_next;
		c->flags &= (uint16_t)~F_ARMQ;
		arm(l, c);
	}
	c = l->tx_list;
	l->tx_list = NULL;
	for (; c; c = next) {
		next = c->tx_next;
		c->flags &= (uint16_t)~F_TXQ;
		send_now(l, c);
	}
	c = l->done_list;
	l->done_list = NULL;
	for (; c; c = next) {
		next = c->done_next;
		c->flags &= (uint16_t)~F_DONEQ;
		if (c->state == RFX_CONN_CLOSING && c->pend == 0)
			release(l, c);
	}
}
