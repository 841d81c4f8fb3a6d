/*
 * rt_bench: order round trip and ExecutionReport throughput, one clock for
 * both ends.
 *
 * This process hosts the venue peer (a small FIX 4.4 acceptor thread on a
 * loopback socket that answers each NewOrderSingle with an ExecutionReport)
 * and the strategy, which reaches the venue through one of:
 *
 *   ringfix  libringfix -> ringfixd shard (initiator, LMDB store) -> TCP
 *   floor    a minimal raw-socket client writing the same FIX bytes
 *   qf-mem   QuickFIX 1.15.1 SocketInitiator, MemoryStore
 *   qf-file  QuickFIX 1.15.1 SocketInitiator, FileStore
 *
 * Because the venue is a thread of this process, CLOCK_MONOTONIC stamps the
 * strategy's send, the venue's receive and reply, and the strategy's
 * receive: round trip and both one-way legs (strategy -> wire, wire ->
 * strategy). Modes:
 *
 *   closed  one order in flight; round trip and legs
 *   rate    fixed rate (--rate per second, default 2000, --rate-orders of
 *           them); latency from the intended send
 *           time, so a stall delays every later order (no coordinated omission)
 *   stream  the venue writes N ExecutionReports as fast as it can; msgs/s and
 *           the delivered latency (venue write -> strategy callback)
 *
 *   rt_bench --engine ringfix|floor|qf-mem|qf-file [--ringfixd BIN]
 *            [--durability batch|full|none] [--modes closed,rate,stream]
 *            [--runs N] [--orders N] [--warmup N] [--rate R] [--rate-orders N]
 *            [--stream N] [--quick] [--layout single|threads]
 *            [--cpus APP,ENGINE] [--wait block|spin] [--json FILE] [--curves DIR]
 *
 * --json appends one JSON object per mode and metric; --curves writes the
 * latency percentile curve (all runs pooled) as DIR/ENGINE[-DUR]-MODE.dat.
 *
 * Core layout (printed, and in the JSON): the engine (the ringfix shard,
 * spinning; QuickFIX's threads; the floor client, which is its own engine
 * and spins there) runs on ENGINE. With --layout single (the default) one
 * thread spins on APP: for ringfix it steps the venue and polls the
 * strategy's rings in turn, for the floor and QuickFIX it is the venue alone
 * (their strategy lives on ENGINE, inside the floor client or beside
 * QuickFIX's socket thread). With --layout threads the venue thread and the
 * strategy's thread share APP and block while idle (--wait spin makes the
 * strategy spin). Single spends the same two cores without the wake-ups two
 * threads on one core cost each message.
 *
 * Every run is checked (run_check): each order reached the venue once and
 * was answered once, each ExecutionReport carries a ClOrdID that was sent
 * and the OrderID the venue gave that ClOrdID. A failed check fails the run
 * (exit 1). --venue-fault dup|swap makes the venue misbehave on purpose, to
 * prove the check catches it.
 */
#include <errno.h>
#include <linux/futex.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>

#include "bench/bench_proc.h"
#include "shm/ringfix.h"
#ifdef RFX_HAVE_QUICKFIX
#include "bench/rt_bench_qf.h"
#endif

#define PROG "rt_bench"
#define die(what) bench_die(PROG, what)

/* ---- timestamps, indexed by ClOrdID ------------------------------------ */

static int64_t *t_send;     /* strategy send (closed) or intended send (rate) */
static int64_t *t_wire_in;  /* venue read the NewOrderSingle */
static int64_t *t_wire_out; /* venue wrote the ExecutionReport */
static int64_t *t_back;     /* strategy got the ExecutionReport */
/* ringfix only, CLOCK_REALTIME: the shard read the ExecutionReport off the
 * socket (rfx_message.recv_ns) and the strategy got it. */
static int64_t *t_shard_rx, *t_back_real;
static _Atomic uint32_t got; /* ExecutionReports the strategy got */
static long max_id;
/* For run_check: how often each ClOrdID reached the venue and came back
 * (saturating), and ExecutionReports whose ClOrdID was out of range or whose
 * OrderID belongs to another ClOrdID. */
static uint8_t *n_wire_in, *n_back;
static _Atomic uint32_t bad_back;

/* The strategy got the ExecutionReport for ClOrdID `id`, which names
 * OrderID O<oid>. Counts are written before the release of `got`, so a
 * reader that saw `got` sees them. */
static void stamp_back(long id, long oid)
{
	if (id > 0 && id <= max_id) {
		t_back[id] = bench_mono_ns();
		if (n_back[id] < UINT8_MAX)
			n_back[id]++;
	}
	if (id <= 0 || id > max_id || oid != id)
		atomic_fetch_add_explicit(&bad_back, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&got, 1, memory_order_release);
}

static void pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

/* ---- FIX bytes ---------------------------------------------------------- */

/* Length of the whole message at p if n bytes hold it, 0 if more are
 * needed, -1 if p does not start a FIX message. */
static long fix_frame(const char *p, size_t n)
{
	static const char head[] = "8=FIX.4.4\0019=";
	size_t hl = sizeof(head) - 1;
	if (n < hl)
		return memcmp(p, head, n) ? -1 : 0;
	if (memcmp(p, head, hl))
		return -1;
	long body = 0;
	size_t i = hl;
	for (; i < n && p[i] >= '0' && p[i] <= '9' && i < hl + 7; i++)
		body = body * 10 + (p[i] - '0');
	if (i == n)
		return 0;
	if (p[i] != '\001' || i == hl)
		return -1;
	long total = (long)i + 1 + body + 7;
	return (size_t)total <= n ? total : 0;
}

/* Value of `tag` in a message (first occurrence after the header start). */
static const char *fix_get(const char *m, size_t n, const char *tag, size_t *len)
{
	char key[16];
	int kl = snprintf(key, sizeof(key), "\001%s=", tag);
	const char *p = memmem(m, n, key, (size_t)kl);
	if (!p)
		return NULL;
	p += kl;
	const char *e = memchr(p, '\001', (size_t)(m + n - p));
	if (!e)
		return NULL;
	*len = (size_t)(e - p);
	return p;
}

static long fix_get_long(const char *m, size_t n, const char *tag)
{
	size_t l;
	const char *v = fix_get(m, n, tag, &l);
	long x = 0;
	if (!v)
		return -1;
	for (size_t i = 0; i < l && v[i] >= '0' && v[i] <= '9'; i++)
		x = x * 10 + (v[i] - '0');
	return x;
}

/* Frame one message: header (8, 9, 35, 34, 49, 56, 52), body, checksum.
 * Returns its length in out (cap bytes). */
static int fix_build(char *out, size_t cap, const char *type, unsigned long seq, const char *from,
		     const char *to, const char *body)
{
	char tmp[1024], ts[64];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d%02d%02d-%02d:%02d:%02d.%03ld", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	int bl = snprintf(tmp, sizeof(tmp), "35=%s\00134=%lu\00149=%s\00156=%s\00152=%s\001%s", type,
			  seq, from, to, ts, body);
	int n = snprintf(out, cap, "8=FIX.4.4\0019=%d\001%s", bl, tmp);
	unsigned sum = 0;
	for (int i = 0; i < n; i++)
		sum += (unsigned char)out[i];
	n += snprintf(out + n, cap - (size_t)n, "10=%03u\001", sum % 256);
	return n;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the peer went away; its reader notices */
		p += w;
		n -= (size_t)w;
	}
}

static int tcp_nodelay(int fd)
{
	int one = 1;
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- the venue peer ------------------------------------------------------ */

/* The venue is a small FIX 4.4 acceptor run in steps (venue_step), so that it
 * can have a thread of its own (--layout threads: blocking calls; the floor
 * and QuickFIX with --layout single: non-blocking calls, spinning) or share
 * the strategy's thread (ringfix with --layout single: one step, one
 * rfx_poll, in turn). A spinning venue never blocks: output the socket does
 * not take yet stays in `out` and goes first on the next step. */
#define VENUE_IN (1u << 20)
#define VENUE_OUT (1u << 16)
#define VENUE_MSG_MAX 1024 /* one message this venue writes fits */

enum venue_fault { FAULT_NONE, FAULT_DUP, FAULT_SWAP };

struct venue {
	int lfd, fd, port, cpu;
	bool spin;     /* non-blocking socket calls */
	bool threaded; /* runs in its own thread (else the caller steps it) */
	_Atomic bool stop;
	pthread_t th;
	unsigned long seq;
	char *in, *out;
	size_t in_have, out_len, out_off;
	long stream_next, stream_last; /* STREAM ExecutionReports still to write */
	enum venue_fault fault;
};

static const char er_body[] = "37=O%ld\00117=E%ld\00111=%ld\001150=0\00139=0\00155=ABC\00154=1\001"
			      "38=100\00114=0\001151=100\0016=0\001";

/* Append one message to the output. */
static void venue_put(struct venue *v, const char *type, const char *body)
{
	v->out_len += (size_t)fix_build(v->out + v->out_len, VENUE_OUT - v->out_len, type,
					v->seq++, "VENUE", "BANK", body);
}

/* Write pending output; true when all of it is out (always, when
 * blocking). A peer that went away drops the output: the reader notices. */
static bool venue_flush(struct venue *v)
{
	while (v->out_off < v->out_len) {
		ssize_t w = send(v->fd, v->out + v->out_off, v->out_len - v->out_off,
				 MSG_NOSIGNAL | (v->spin ? MSG_DONTWAIT : 0));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (w <= 0)
			break;
		v->out_off += (size_t)w;
	}
	v->out_off = v->out_len = 0;
	return true;
}

/* Throughput: ExecutionReports stream_next..stream_last in batches of up to
 * 64 KiB, each batch stamped just before its first write. False while the
 * socket does not take more (spinning venue). */
static bool venue_stream(struct venue *v)
{
	char body[256];
	while (v->stream_next && v->stream_next <= v->stream_last) {
		long first = v->stream_next, i = first;
		for (; i <= v->stream_last && v->out_len <= VENUE_OUT - VENUE_MSG_MAX; i++) {
			snprintf(body, sizeof(body), er_body, i, i, i);
			venue_put(v, "8", body);
		}
		v->stream_next = i;
		int64_t tw = bench_mono_ns();
		for (long k = first; k < i; k++)
			t_wire_out[k] = tw;
		if (!venue_flush(v))
			return false;
	}
	v->stream_next = 0;
	return true;
}

/* Answer one message; returns false when the session is over. */
static bool venue_handle(struct venue *v, const char *m, size_t n)
{
	char body[256];
	size_t tl;
	const char *type = fix_get(m, n, "35", &tl);
	if (!type || tl == 0)
		return false;

	if (tl == 1 && type[0] == 'D') {
		int64_t t = bench_mono_ns();
		long id = fix_get_long(m, n, "11");
		size_t xl;
		const char *text = fix_get(m, n, "58", &xl);
		if (text && xl == 6 && !memcmp(text, "STREAM", 6)) {
			long qty = fix_get_long(m, n, "38");
			v->stream_next = 1;
			v->stream_last = qty < max_id ? qty : max_id;
			return true;
		}
		bool known = id > 0 && id <= max_id;
		if (known) {
			t_wire_in[id] = t;
			if (n_wire_in[id] < UINT8_MAX)
				n_wire_in[id]++;
		}
		/* Faults for the check's own test, on the 7th order: answer it
		 * twice, or answer it with the next ClOrdID. */
		long as = v->fault == FAULT_SWAP && id == 7 ? 8 : id;
		snprintf(body, sizeof(body), er_body, id, id, as);
		venue_put(v, "8", body);
		if (v->fault == FAULT_DUP && id == 7)
			venue_put(v, "8", body);
		if (known)
			t_wire_out[id] = bench_mono_ns();
	} else if (tl == 1 && type[0] == 'A') {
		long hb = fix_get_long(m, n, "108");
		size_t rl;
		const char *reset = fix_get(m, n, "141", &rl);
		bool r = reset && rl == 1 && reset[0] == 'Y';
		snprintf(body, sizeof(body), "98=0\001108=%ld\001%s", hb > 0 ? hb : 30,
			 r ? "141=Y\001" : "");
		venue_put(v, "A", body);
	} else if (tl == 1 && type[0] == '1') {
		size_t il;
		const char *id = fix_get(m, n, "112", &il);
		snprintf(body, sizeof(body), "112=%.*s\001", id ? (int)(il < 64 ? il : 64) : 0,
			 id ? id : "");
		venue_put(v, "0", body);
	} else if (tl == 1 && type[0] == '5') {
		venue_put(v, "5", "");
		return false;
	}
	return true;
}

static void venue_drop(struct venue *v)
{
	close(v->fd);
	v->fd = -1;
	v->in_have = v->out_len = v->out_off = 0;
	v->stream_next = 0;
}

/* Answer the whole messages in `in`, each reply written before the next
 * message is looked at (as a venue replying per order does). Stops early
 * while a spinning venue's output is stuck. */
static void venue_answer(struct venue *v)
{
	size_t off = 0;
	long len = 0;
	while (v->fd >= 0 && v->out_len == 0 && !v->stream_next &&
	       (len = fix_frame(v->in + off, v->in_have - off)) > 0) {
		bool more = venue_handle(v, v->in + off, (size_t)len);
		off += (size_t)len;
		if (!venue_flush(v) && more)
			break;
		if (!more) {
			venue_drop(v);
			return;
		}
		if (!venue_stream(v))
			break;
	}
	if (len < 0 || (len == 0 && v->in_have - off == VENUE_IN)) {
		venue_drop(v); /* not FIX, or one message larger than the buffer */
		return;
	}
	memmove(v->in, v->in + off, v->in_have - off);
	v->in_have -= off;
}

/* One step: accept a connection, push what is pending, read and answer.
 * Returns false once the listening socket is shut down. */
static bool venue_step(struct venue *v)
{
	if (v->fd < 0) {
		if (v->spin) {
			struct pollfd p = {.fd = v->lfd, .events = POLLIN};
			if (poll(&p, 1, 0) == 0)
				return true;
		}
		int fd = accept(v->lfd, NULL, NULL);
		if (fd < 0)
			return errno == EINTR || errno == ECONNABORTED || errno == EAGAIN;
		v->fd = fd;
		v->seq = 1;
		tcp_nodelay(fd);
	}
	if (!venue_flush(v) || !venue_stream(v))
		return true;
	venue_answer(v);
	if (v->fd < 0 || v->out_len || v->stream_next)
		return true;
	ssize_t r = recv(v->fd, v->in + v->in_have, VENUE_IN - v->in_have,
			 v->spin ? MSG_DONTWAIT : 0);
	if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return true;
	if (r <= 0) {
		venue_drop(v);
		return true;
	}
	v->in_have += (size_t)r;
	venue_answer(v);
	return true;
}

static void *venue_main(void *arg)
{
	struct venue *v = arg;
	pin(v->cpu);
	while (!atomic_load_explicit(&v->stop, memory_order_relaxed) && venue_step(v))
		;
	return NULL;
}

static void venue_start(struct venue *v)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	v->fd = -1;
	v->in = malloc(VENUE_IN);
	v->out = malloc(VENUE_OUT);
	if (!v->in || !v->out)
		die("out of memory");
	v->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (v->lfd < 0 || bind(v->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(v->lfd, 4) < 0)
		die("venue: cannot listen on loopback");
	getsockname(v->lfd, (struct sockaddr *)&a, &l);
	v->port = ntohs(a.sin_port);
	if (v->threaded && pthread_create(&v->th, NULL, venue_main, v))
		die("venue: pthread_create failed");
}

/* After the engine closed its side: a blocking venue thread is in accept or
 * in a read that sees the end of the connection; shutting the listening
 * socket down ends the accept. */
static void venue_stop(struct venue *v)
{
	atomic_store(&v->stop, true);
	shutdown(v->lfd, SHUT_RDWR);
	if (v->threaded)
		pthread_join(v->th, NULL);
	close(v->lfd);
	if (v->fd >= 0)
		close(v->fd);
	free(v->in);
	free(v->out);
}

/* ---- engines ------------------------------------------------------------- */

struct eng {
	const char *name;
	bool spin; /* strategy waits by spinning, else blocks */
	struct venue *venue; /* stepped by the strategy's thread (single layout) */
	struct venue *ven;   /* the venue, wherever it runs */
	const char *dir;     /* scratch directory */
	/* ringfix */
	struct rfx_client *c;
	int h;
	pid_t rfxd;
	/* floor */
	int fd;
	unsigned long seq;
	char *rbuf;
	size_t rhave;
	/* QuickFIX */
	struct rfx_qf_rt *qf;
};

static const char nos_fmt[] = "11=%ld\00121=1\00155=ABC\00154=1\00160=20260101-00:00:00\001"
			      "40=2\00144=101.25\00138=%ld\001%s";

/* OrderID "O<n>" as n, else -1. */
static long order_id_num(const char *v, size_t len)
{
	if (!v || len < 2 || len > 19 || v[0] != 'O')
		return -1;
	long x = 0;
	for (size_t i = 1; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

static void on_msg(void *ctx, const struct rfx_message *m)
{
	(void)ctx;
	if (m->msg_type_len == 1 && m->msg_type[0] == '8') {
		int64_t id = -1;
		const char *ov = NULL;
		uint32_t ol = 0;
		rfx_message_int(m, 11, &id);
		if (rfx_message_str(m, 37, &ov, &ol) < 0)
			ov = NULL;
		if (id > 0 && id <= max_id) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			t_back_real[id] = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
			t_shard_rx[id] = m->recv_ns;
		}
		stamp_back((long)id, order_id_num(ov, ol));
	}
}

static const struct rfx_handler handler = {on_msg, NULL, NULL};

static int eng_send(struct eng *e, long id, long qty, const char *text)
{
	char body[256];
	char extra[32] = "";
	if (text)
		snprintf(extra, sizeof(extra), "58=%s\001", text);
	if (e->c) {
		/* libringfix takes the body from MsgType(35) on. */
		int len = snprintf(body, sizeof(body), "35=D\001");
		len += snprintf(body + len, sizeof(body) - (size_t)len, nos_fmt, id, qty, extra);
		int rc;
		while ((rc = rfx_send(e->c, e->h, body, (uint32_t)len, (uint64_t)id, 0)) == RFX_EFULL) {
			if (e->venue)
				venue_step(e->venue);
			rfx_poll(e->c, &handler, NULL, 64);
		}
		return rc;
	}
#ifdef RFX_HAVE_QUICKFIX
	if (e->qf)
		return rfx_qf_rt_send(e->qf, id, qty, text);
#endif
	char msg[512];
	snprintf(body, sizeof(body), nos_fmt, id, qty, extra);
	int n = fix_build(msg, sizeof(msg), "D", e->seq++, "BANK", "VENUE", body);
	write_all(e->fd, msg, (size_t)n);
	return 0;
}

/* The floor's receive path: read what is there, frame, stamp. */
static int floor_read(struct eng *e, bool wait, int timeout_ms)
{
	if (wait) {
		struct pollfd p = {.fd = e->fd, .events = POLLIN};
		if (poll(&p, 1, timeout_ms) <= 0)
			return 0;
	}
	ssize_t r = recv(e->fd, e->rbuf + e->rhave, (1 << 20) - e->rhave, MSG_DONTWAIT);
	if (r == 0)
		die("floor: the venue closed the connection");
	if (r < 0)
		return 0;
	e->rhave += (size_t)r;
	size_t off = 0;
	long len;
	int n = 0;
	while ((len = fix_frame(e->rbuf + off, e->rhave - off)) > 0) {
		size_t tl;
		const char *t = fix_get(e->rbuf + off, (size_t)len, "35", &tl);
		if (t && tl == 1 && t[0] == '8') {
			size_t ol;
			const char *ov = fix_get(e->rbuf + off, (size_t)len, "37", &ol);
			stamp_back(fix_get_long(e->rbuf + off, (size_t)len, "11"),
				   order_id_num(ov, ov ? ol : 0));
		}
		off += (size_t)len;
		n++;
	}
	if (len < 0)
		die("floor: the venue sent something that is not FIX");
	memmove(e->rbuf, e->rbuf + off, e->rhave - off);
	e->rhave -= off;
	return n;
}

/* Process arrivals until `target` ExecutionReports are in or `until` (ns). */
static void eng_pump(struct eng *e, uint32_t target, int64_t until)
{
	while (atomic_load_explicit(&got, memory_order_acquire) < target) {
		int64_t now = bench_mono_ns();
		if (now >= until)
			return;
		if (e->c) {
			if (e->venue)
				venue_step(e->venue);
			int rc = rfx_poll(e->c, &handler, NULL, 256);
			if (rc < 0)
				die("rfx_poll failed (shard gone?)");
			if (rc == 0 && !e->spin)
				rfx_wait(e->c, until - now);
		} else if (e->qf) {
			uint32_t g = atomic_load_explicit(&got, memory_order_acquire);
			if (g < target && !e->spin) {
				int64_t d = until - now;
				struct timespec ts = {d / 1000000000, d % 1000000000};
				syscall(SYS_futex, &got, FUTEX_WAIT_PRIVATE, g, &ts, NULL, 0);
			}
		} else {
			int64_t ms = (until - now) / 1000000;
			floor_read(e, !e->spin, ms > 1000 ? 1000 : (int)ms);
		}
	}
}

#ifdef RFX_HAVE_QUICKFIX
static void qf_cb(void *ctx, long id, long oid)
{
	(void)ctx;
	stamp_back(id, oid);
	syscall(SYS_futex, &got, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
#endif

struct opts {
	const char *engine, *rfxd, *durability, *json, *curves, *modes, *wait, *layout;
	bool single; /* --layout single */
	char layout_text[256]; /* who runs where, for the output */
	enum venue_fault fault;
	int app_cpu, eng_cpu;
	unsigned runs, orders, warmup, rate, rate_orders, stream;
};

/* Wait about `ns` while a venue that lives in this thread keeps answering. */
static void eng_idle(struct eng *e, int64_t ns)
{
	if (!e->venue) {
		usleep((useconds_t)(ns / 1000));
		return;
	}
	int64_t end = bench_mono_ns() + ns;
	while (bench_mono_ns() < end)
		venue_step(e->venue);
}

static void eng_open(struct eng *e, const struct opts *o, const char *dir, struct venue *ven)
{
	int port = ven->port;
	e->ven = ven;
	e->dir = dir;
	char cfg[2048], path[600], log[600];
	e->name = o->engine;
	e->spin = !strcmp(o->wait, "spin");
	e->fd = -1;
	if (!strcmp(o->engine, "ringfix")) {
		if (!o->rfxd)
			die("--engine ringfix needs --ringfixd BIN");
		char inst[32], cpus[32] = "";
		snprintf(inst, sizeof(inst), "rtb%d", (int)getpid());
		if (o->eng_cpu >= 0)
			snprintf(cpus, sizeof(cpus), "ShardCpus=%d\n", o->eng_cpu);
		snprintf(cfg, sizeof(cfg),
			 "[DEFAULT]\nStartTime=00:00:00\nEndTime=00:00:00\nHeartBtInt=30\n"
			 "UseDataDictionary=N\n[SESSION]\nConnectionType=initiator\n"
			 "BeginString=FIX.4.4\nSenderCompID=BANK\nTargetCompID=VENUE\n"
			 "SocketConnectHost=127.0.0.1\nSocketConnectPort=%d\nReconnectInterval=1\n"
			 "[ENGINE]\nInstanceName=%s\nStorePath=%s/store\nIdleStrategy=spin\n%s"
			 "StoreDurability=%s\n",
			 port, inst, dir, cpus, o->durability);
		bench_write_file(PROG, path, sizeof(path), dir, "bank.cfg", cfg);
		snprintf(log, sizeof(log), "%s/ringfixd.log", dir);
		e->rfxd = bench_spawn(log, (char *[]){(char *)o->rfxd, path, NULL});
		bench_wait_log(PROG, log, "serving");
		/* Single layout: this thread also steps the venue, so it spins. */
		if (o->single)
			e->venue = ven;
		struct rfx_client_opts co = {.wait = e->spin ? RFX_IDLE_SPIN : RFX_IDLE_BLOCK};
		int64_t end = bench_mono_ns() + 15000000000LL;
		int rc;
		while ((rc = rfx_client_attach(&e->c, inst, &co)) < 0 && bench_mono_ns() < end)
			usleep(20000);
		if (rc < 0)
			die("attach to ringfixd failed");
		e->h = rfx_bind(e->c, "FIX.4.4:BANK->VENUE", 0);
		if (e->h < 0)
			die("rfx_bind failed");
		struct rfx_session_status st = {0};
		while (bench_mono_ns() < end) {
			rfx_poll(e->c, &handler, NULL, 64);
			if (rfx_session_status(e->c, e->h, &st) == 0 && st.state == RFX_SESSION_ACTIVE)
				break;
			eng_idle(e, 10000000);
		}
		if (st.state != RFX_SESSION_ACTIVE)
			die("the ringfix session never logged on");
	} else if (!strcmp(o->engine, "floor")) {
		/* The floor plays engine and strategy in one thread: it gets the
		 * engine's core and, owning it like the shard, spins. */
		pin(o->eng_cpu);
		e->spin = true;
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		e->fd = socket(AF_INET, SOCK_STREAM, 0);
		if (e->fd < 0 || connect(e->fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			die("floor: connect to the venue failed");
		tcp_nodelay(e->fd);
		e->rbuf = malloc(1 << 20);
		if (!e->rbuf)
			die("out of memory");
		e->seq = 1;
		char msg[512];
		int n = fix_build(msg, sizeof(msg), "A", e->seq++, "BANK", "VENUE",
				  "98=0\001108=30\001141=Y\001");
		write_all(e->fd, msg, (size_t)n);
		/* The Logon answer is not an ExecutionReport: wait for bytes. */
		while (floor_read(e, true, 1000) == 0)
			;
	} else if (!strcmp(o->engine, "qf-mem") || !strcmp(o->engine, "qf-file")) {
#ifdef RFX_HAVE_QUICKFIX
		snprintf(cfg, sizeof(cfg),
			 "[DEFAULT]\nConnectionType=initiator\nStartTime=00:00:00\n"
			 "EndTime=00:00:00\nHeartBtInt=30\nUseDataDictionary=N\n"
			 "ReconnectInterval=1\nFileStorePath=%s/qfstore\nSocketNodelay=Y\n"
			 "[SESSION]\nBeginString=FIX.4.4\nSenderCompID=BANK\nTargetCompID=VENUE\n"
			 "SocketConnectHost=127.0.0.1\nSocketConnectPort=%d\n",
			 dir, port);
		bench_write_file(PROG, path, sizeof(path), dir, "qf.cfg", cfg);
		/* QuickFIX's socket thread inherits the creating thread's CPU: the
		 * engine's core. In the single layout the strategy's thread stays
		 * there too (CPU 0 is the spinning venue's) and sleeps between
		 * orders, as a QuickFIX application thread does. */
		pin(o->eng_cpu);
		e->qf = rfx_qf_rt_start(path, !strcmp(o->engine, "qf-file"), qf_cb, NULL, 15000);
		if (!o->single)
			pin(o->app_cpu);
		if (!e->qf)
			die("QuickFIX initiator did not log on");
#else
		die("built without QuickFIX");
#endif
	} else {
		die("--engine must be ringfix, floor, qf-mem or qf-file");
	}
}

static void eng_close(struct eng *e)
{
	if (e->c) {
		rfx_client_detach(e->c);
		if (e->venue) {
			/* The shard's Logout wants the venue's answer: keep stepping
			 * the venue until ringfixd has exited. */
			kill(e->rfxd, SIGTERM);
			while (waitpid(e->rfxd, NULL, WNOHANG) == 0)
				eng_idle(e, 1000000);
		} else {
			bench_stop(e->rfxd);
		}
	}
#ifdef RFX_HAVE_QUICKFIX
	if (e->qf)
		rfx_qf_rt_stop(e->qf);
#endif
	if (e->fd >= 0)
		close(e->fd);
	free(e->rbuf);
}

/* ---- measuring ------------------------------------------------------------ */

/* 10^(-k/10) without libm: k tenths of a decade. */
static double pow10_neg(int k)
{
	double v = 1;
	for (int i = 0; i < k; i++)
		v *= 0.79432823472428150; /* 10^-0.1 */
	return v;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

#define NPCT 5
static const double pcts[NPCT] = {50, 90, 99, 99.9, 100};
static const char *const pct_names[NPCT] = {"p50", "p90", "p99", "p99.9", "max"};

static int64_t pct_of(const int64_t *sorted, size_t n, double p)
{
	size_t i = (size_t)((double)n * p / 100.0);
	return sorted[i >= n ? n - 1 : i];
}

/* One metric over runs: its samples per run, pooled for the curve. */
struct metric {
	const char *name;
	int64_t *pool;
	size_t npool;
	double pct[32][NPCT]; /* per run, microseconds */
	double rate[32];      /* per run, messages per second (stream) */
};

static void metric_add(struct metric *m, unsigned run, int64_t *v, size_t n)
{
	memcpy(m->pool + m->npool, v, n * sizeof(*v));
	m->npool += n;
	qsort(v, n, sizeof(*v), cmp_i64);
	for (int k = 0; k < NPCT; k++)
		m->pct[run][k] = (double)pct_of(v, n, pcts[k]) / 1000.0;
}

static void med3(double *v, unsigned n, double out[3])
{
	double s[32];
	memcpy(s, v, n * sizeof(*v));
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && s[j - 1] > s[j]; j--) {
			double t = s[j];
			s[j] = s[j - 1];
			s[j - 1] = t;
		}
	out[0] = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	out[1] = s[0];
	out[2] = s[n - 1];
}

static void metric_report(struct metric *m, const struct opts *o, const char *mode, bool with_rate,
			  unsigned n)
{
	char label[64];
	bool dur = !strcmp(o->engine, "ringfix");
	snprintf(label, sizeof(label), "%s%s%s", o->engine, dur ? "-" : "", dur ? o->durability : "");
	double s[NPCT][3], r[3] = {0, 0, 0}, col[32];
	for (int k = 0; k < NPCT; k++) {
		for (unsigned i = 0; i < o->runs; i++)
			col[i] = m->pct[i][k];
		med3(col, o->runs, s[k]);
	}
	if (with_rate)
		med3(m->rate, o->runs, r);
	printf("  %-14s %-7s %-9s", label, mode, m->name);
	for (int k = 0; k < NPCT; k++)
		printf(" %s %.1f [%.1f-%.1f]", pct_names[k], s[k][0], s[k][1], s[k][2]);
	if (with_rate)
		printf("  %.0f msg/s [%.0f-%.0f]", r[0], r[1], r[2]);
	printf(" us\n");
	if (o->json) {
		FILE *f = fopen(o->json, "a");
		if (!f)
			die("cannot append to the --json file");
		fprintf(f,
			"{\"bench\":\"rt\",\"engine\":\"%s\",\"durability\":\"%s\",\"label\":\"%s\","
			"\"mode\":\"%s\",\"metric\":\"%s\",\"unit\":\"us\",\"runs\":%u,\"n\":%u,"
			"\"wait\":\"%s\",\"app_cpu\":%d,\"engine_cpu\":%d,\"layout\":\"%s\","
			"\"layout_text\":\"%s\"",
			o->engine, dur ? o->durability : "", label, mode, m->name, o->runs, n, o->wait,
			o->app_cpu, o->eng_cpu, o->layout, o->layout_text);
		for (int k = 0; k < NPCT; k++)
			fprintf(f, ",\"%s\":[%.2f,%.2f,%.2f]", pct_names[k], s[k][0], s[k][1], s[k][2]);
		if (with_rate)
			fprintf(f, ",\"msgs_per_s\":[%.0f,%.0f,%.0f]", r[0], r[1], r[2]);
		fprintf(f, "}\n");
		fclose(f);
	}
	if (o->curves && m->npool) {
		char path[700];
		snprintf(path, sizeof(path), "%s/%s-%s-%s.dat", o->curves, label, mode, m->name);
		FILE *f = fopen(path, "w");
		if (!f)
			die("cannot write to the --curves directory");
		qsort(m->pool, m->npool, sizeof(*m->pool), cmp_i64);
		/* x = 1/(1-q): percentile curve on a log axis (50% at 2, 99% at 100). */
		fprintf(f, "# percentile  x=1/(1-q)  latency_us  (%s %s %s, %zu samples)\n", label, mode,
			m->name, m->npool);
		for (int k = 0; k <= 60; k++) {
			double q = 1.0 - pow10_neg(k);
			if (q * (double)m->npool >= (double)m->npool - 1)
				break;
			fprintf(f, "%.5f %.3f %.3f\n", q * 100, 1 / (1 - q),
				(double)pct_of(m->pool, m->npool, q * 100) / 1000.0);
		}
		fprintf(f, "100 %zu %.3f\n", m->npool, (double)m->pool[m->npool - 1] / 1000.0);
		fclose(f);
	}
}

static struct metric *metric_new(const char *name, size_t cap)
{
	struct metric *m = calloc(1, sizeof(*m));
	if (!m || !(m->pool = malloc(cap * sizeof(int64_t))))
		die("out of memory");
	m->name = name;
	return m;
}

static void metric_free(struct metric *m)
{
	if (m)
		free(m->pool);
	free(m);
}

static void reset_stamps(void)
{
	size_t b = (size_t)(max_id + 1) * sizeof(int64_t);
	memset(t_send, 0, b);
	memset(t_wire_in, 0, b);
	memset(t_wire_out, 0, b);
	memset(t_back, 0, b);
	memset(t_shard_rx, 0, b);
	memset(t_back_real, 0, b);
	memset(n_wire_in, 0, (size_t)max_id + 1);
	memset(n_back, 0, (size_t)max_id + 1);
	atomic_store(&bad_back, 0);
	atomic_store(&got, 0);
}

/* Fails the run unless every order 1..last reached the venue once (when
 * `wire`; a STREAM's reports answer one request) and came back once, and
 * nothing else came back: no ExecutionReport missing, duplicated, for a
 * ClOrdID not sent, or carrying another order's OrderID. A figure from a
 * run that lost or repeated messages would be meaningless. */
static void run_check(struct eng *e, const struct opts *o, const char *mode, unsigned run,
		      long last, bool wire)
{
	/* A duplicate of the last answer may still be on its way. */
	eng_pump(e, UINT32_MAX, bench_mono_ns() + 2000000);
	long missing = 0, dup = 0, venue = 0, stray = 0, m1 = 0, d1 = 0, v1 = 0;
	for (long id = 1; id <= max_id; id++) {
		if (id > last) {
			stray += n_back[id] != 0;
			continue;
		}
		if (n_back[id] == 0 && !missing++)
			m1 = id;
		if (n_back[id] > 1 && !dup++)
			d1 = id;
		if (wire && n_wire_in[id] != 1 && !venue++)
			v1 = id;
	}
	uint32_t bad = atomic_load(&bad_back), g = atomic_load(&got);
	if (!missing && !dup && !venue && !stray && !bad && g == (uint32_t)last)
		return;
	fprintf(stderr, PROG ": %s %s run %u failed its check: %u ExecutionReports for %ld orders",
		o->engine, mode, run + 1, g, last);
	if (missing)
		fprintf(stderr, "; %ld not answered (first ClOrdID %ld)", missing, m1);
	if (dup)
		fprintf(stderr, "; %ld answered more than once (first ClOrdID %ld)", dup, d1);
	if (venue)
		fprintf(stderr, "; %ld not read exactly once by the venue (first ClOrdID %ld)", venue,
			v1);
	if (stray)
		fprintf(stderr, "; %ld answers to ClOrdIDs not sent in this run", stray);
	if (bad)
		fprintf(stderr, "; %u with a ClOrdID out of range or another order's OrderID", bad);
	fprintf(stderr, "\n");
	/* Stop the engine and the venue and remove the scratch directory. */
	eng_close(e);
	venue_stop(e->ven);
	bench_rmdir(e->dir);
	exit(1);
}

static void check_report(const struct opts *o, const char *mode, unsigned n)
{
	printf("  %-14s %-7s check     ok: %u runs x %u orders, each read once by the venue and "
	       "answered once, ClOrdID and OrderID matching\n",
	       o->engine, mode, o->runs, n);
}

/* Closed loop: one order in flight; round trip and both legs. */
static void run_closed(struct eng *e, const struct opts *o)
{
	unsigned n = o->orders, total = o->warmup + n;
	struct metric *rtt = metric_new("rtt", (size_t)n * o->runs);
	struct metric *out = metric_new("out_leg", (size_t)n * o->runs);
	struct metric *in = metric_new("in_leg", (size_t)n * o->runs);
	/* ringfix: the part of the in leg from the shard's socket read on. */
	struct metric *eng = e->c ? metric_new("in_engine", (size_t)n * o->runs) : NULL;
	int64_t *v = malloc(sizeof(int64_t) * n);
	if (!v)
		die("out of memory");
	for (unsigned r = 0; r < o->runs; r++) {
		reset_stamps();
		for (unsigned i = 1; i <= total; i++) {
			t_send[i] = bench_mono_ns();
			if (eng_send(e, i, 100, NULL) < 0)
				die("send failed");
			eng_pump(e, i, t_send[i] + 5000000000LL);
			if (atomic_load(&got) < i)
				die("an order did not come back within 5 s");
		}
		run_check(e, o, "closed", r, total, true);
		int64_t *cols[4][2] = {{t_back, t_send}, {t_wire_in, t_send}, {t_back, t_wire_out},
				       {t_back_real, t_shard_rx}};
		struct metric *ms[4] = {rtt, out, in, eng};
		for (int k = 0; k < (eng ? 4 : 3); k++) {
			for (unsigned i = 0; i < n; i++) {
				unsigned id = o->warmup + 1 + i;
				v[i] = cols[k][0][id] - cols[k][1][id];
			}
			metric_add(ms[k], r, v, n);
		}
	}
	check_report(o, "closed", total);
	metric_report(rtt, o, "closed", false, n);
	metric_report(out, o, "closed", false, n);
	metric_report(in, o, "closed", false, n);
	if (eng)
		metric_report(eng, o, "closed", false, n);
	metric_free(eng);
	metric_free(rtt);
	metric_free(out);
	metric_free(in);
	free(v);
}

/* Fixed rate: order i is due at start + i/rate; its latency counts from
 * then, whether or not the sender was late. */
static void run_rate(struct eng *e, const struct opts *o)
{
	unsigned n = o->rate_orders, total = o->warmup + n;
	int64_t gap = 1000000000LL / o->rate;
	struct metric *rtt = metric_new("rtt", (size_t)n * o->runs);
	int64_t *v = malloc(sizeof(int64_t) * n);
	if (!v)
		die("out of memory");
	for (unsigned r = 0; r < o->runs; r++) {
		reset_stamps();
		int64_t start = bench_mono_ns() + 1000000;
		for (unsigned i = 1; i <= total; i++) {
			int64_t due = start + (int64_t)i * gap;
			eng_pump(e, UINT32_MAX, due);
			t_send[i] = due;
			if (eng_send(e, i, 100, NULL) < 0)
				die("send failed");
		}
		eng_pump(e, total, bench_mono_ns() + 10000000000LL);
		if (atomic_load(&got) < total)
			die("rate: orders did not come back within 10 s");
		run_check(e, o, "rate", r, total, true);
		for (unsigned i = 0; i < n; i++)
			v[i] = t_back[o->warmup + 1 + i] - t_send[o->warmup + 1 + i];
		metric_add(rtt, r, v, n);
	}
	check_report(o, "rate", total);
	metric_report(rtt, o, "rate", false, n);
	metric_free(rtt);
	free(v);
}

/* Stream: the venue writes N ExecutionReports back to back. */
static void run_stream(struct eng *e, const struct opts *o)
{
	unsigned n = o->stream;
	struct metric *del = metric_new("delivered", (size_t)n * o->runs);
	int64_t *v = malloc(sizeof(int64_t) * n);
	if (!v)
		die("out of memory");
	for (unsigned r = 0; r < o->runs; r++) {
		reset_stamps();
		if (eng_send(e, 0, n, "STREAM") < 0)
			die("send failed");
		eng_pump(e, n, bench_mono_ns() + 120000000000LL);
		if (atomic_load(&got) < n)
			die("stream: not every ExecutionReport arrived within 120 s");
		run_check(e, o, "stream", r, n, false);
		int64_t last = 0;
		for (unsigned i = 1; i <= n; i++) {
			v[i - 1] = t_back[i] - t_wire_out[i];
			if (t_back[i] > last)
				last = t_back[i];
		}
		del->rate[r] = (double)n * 1e9 / (double)(last - t_wire_out[1]);
		metric_add(del, r, v, n);
	}
	check_report(o, "stream", n);
	metric_report(del, o, "stream", true, n);
	metric_free(del);
	free(v);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rt_bench --engine ringfix|floor|qf-mem|qf-file [--ringfixd BIN]\n"
		"       [--durability batch|full|none] [--modes closed,rate,stream] [--runs N]\n"
		"       [--orders N] [--warmup N] [--rate R] [--rate-orders N] [--stream N] [--quick]\n"
		"       [--layout single|threads] [--cpus APP,ENGINE]\n"
		"       [--wait block|spin] [--json FILE] [--curves DIR] [--venue-fault dup|swap]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {.engine = "ringfix", .durability = "batch", .modes = "closed,rate,stream",
			 .layout = "single", .app_cpu = -1, .eng_cpu = -1, .runs = 3, .orders = 20000,
			 .warmup = 1000, .rate = 2000, .rate_orders = 5000, .stream = 200000};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu >= 2) {
		o.app_cpu = 0;
		o.eng_cpu = 1;
	}
	/* --quick sets smaller defaults; explicit options win wherever they stand. */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--quick")) {
			o.runs = 2;
			o.orders = 500;
			o.warmup = 50;
			o.rate_orders = 500;
			o.stream = 5000;
		}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--quick"))
			continue;
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--engine"))
			o.engine = v;
		else if (!strcmp(a, "--ringfixd"))
			o.rfxd = v;
		else if (!strcmp(a, "--durability"))
			o.durability = v;
		else if (!strcmp(a, "--modes"))
			o.modes = v;
		else if (!strcmp(a, "--runs"))
			o.runs = (unsigned)atoi(v);
		else if (!strcmp(a, "--orders"))
			o.orders = (unsigned)atoi(v);
		else if (!strcmp(a, "--warmup"))
			o.warmup = (unsigned)atoi(v);
		else if (!strcmp(a, "--rate"))
			o.rate = (unsigned)atoi(v);
		else if (!strcmp(a, "--rate-orders"))
			o.rate_orders = (unsigned)atoi(v);
		else if (!strcmp(a, "--stream"))
			o.stream = (unsigned)atoi(v);
		else if (!strcmp(a, "--wait"))
			o.wait = v;
		else if (!strcmp(a, "--layout"))
			o.layout = v;
		else if (!strcmp(a, "--venue-fault")) {
			if (!strcmp(v, "dup"))
				o.fault = FAULT_DUP;
			else if (!strcmp(v, "swap"))
				o.fault = FAULT_SWAP;
			else
				usage();
		}
		else if (!strcmp(a, "--json"))
			o.json = v;
		else if (!strcmp(a, "--curves"))
			o.curves = v;
		else if (!strcmp(a, "--cpus")) {
			if (sscanf(v, "%d,%d", &o.app_cpu, &o.eng_cpu) != 2)
				usage();
		} else
			usage();
	}
	if (!o.runs || o.runs > 32 || !o.orders || !o.rate || !o.rate_orders || !o.stream)
		die("--runs must be 1..32; --orders, --rate, --rate-orders and --stream positive");
	if (strcmp(o.layout, "single") && strcmp(o.layout, "threads"))
		usage();
	o.single = !strcmp(o.layout, "single");
	if (!o.wait)
		o.wait = o.single ? "spin" : "block";
	if (strcmp(o.wait, "block") && strcmp(o.wait, "spin"))
		usage();
	if (o.single && strcmp(o.wait, "spin"))
		die("--layout single spins; --wait block needs --layout threads");
	bool rfx = !strcmp(o.engine, "ringfix"), flr = !strcmp(o.engine, "floor");
	const char *eng_text = rfx ? "ringfixd shard (IdleStrategy=spin)"
			       : flr ? "raw-socket client (strategy and engine in one thread), spinning"
				     : "QuickFIX's socket thread";
	if (!o.single)
		snprintf(o.layout_text, sizeof(o.layout_text),
			 "threads: CPU %d venue thread (blocking)%s%s%s; CPU %d %s", o.app_cpu,
			 flr ? "" : " and strategy thread (", flr ? "" : o.wait,
			 flr ? "" : " wait)", o.eng_cpu, eng_text);
	else if (rfx)
		snprintf(o.layout_text, sizeof(o.layout_text),
			 "single: CPU %d one thread spinning (venue step, then the strategy's "
			 "rfx_poll); CPU %d %s",
			 o.app_cpu, o.eng_cpu, eng_text);
	else
		snprintf(o.layout_text, sizeof(o.layout_text),
			 "single: CPU %d venue thread spinning; CPU %d %s%s", o.app_cpu, o.eng_cpu,
			 eng_text, flr ? "" : " and the strategy thread (sleeps between orders)");
	signal(SIGPIPE, SIG_IGN);

	unsigned most = o.orders > o.rate_orders ? o.orders : o.rate_orders;
	max_id = (long)(o.warmup + most > o.stream ? o.warmup + most : o.stream);
	int64_t **arrs[6] = {&t_send, &t_wire_in, &t_wire_out, &t_back, &t_shard_rx, &t_back_real};
	for (int k = 0; k < 6; k++)
		if (!(*arrs[k] = calloc((size_t)max_id + 1, sizeof(int64_t))))
			die("out of memory");
	n_wire_in = calloc((size_t)max_id + 1, 1);
	n_back = calloc((size_t)max_id + 1, 1);
	if (!n_wire_in || !n_back)
		die("out of memory");

	char dir[512];
	snprintf(dir, sizeof(dir), "%s/rfx-rt.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp failed");

	pin(o.app_cpu);
	/* Single layout: ringfix's venue is stepped by the strategy's thread;
	 * the floor's and QuickFIX's spins in a thread of its own. */
	struct venue ven = {.cpu = o.app_cpu, .spin = o.single, .threaded = !(o.single && rfx),
			    .fault = o.fault};
	venue_start(&ven);
	struct eng e = {0};
	eng_open(&e, &o, dir, &ven);
	printf("rt_bench %s%s%s: %u runs, %ld CPUs online; layout %s\n", o.engine,
	       rfx ? " durability=" : "", rfx ? o.durability : "", o.runs, ncpu, o.layout_text);
	fflush(stdout);
	if (strstr(o.modes, "closed"))
		run_closed(&e, &o);
	if (strstr(o.modes, "rate"))
		run_rate(&e, &o);
	if (strstr(o.modes, "stream"))
		run_stream(&e, &o);
	eng_close(&e);
	venue_stop(&ven);

	bench_rmdir(dir);
	for (int k = 0; k < 6; k++)
		free(*arrs[k]);
	free(n_wire_in);
	free(n_back);
	return 0;
}
