#include "shm/segment.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine/error.h"
#include "shm/protocol.h"

_Static_assert(sizeof(struct rfx_seg_hdr) == RFX_SEG_HDR_SIZE, "segment header size");
_Static_assert(offsetof(struct rfx_seg_hdr, instance) == 96, "instance offset");
_Static_assert(offsetof(struct rfx_seg_hdr, shard_pid) == 256, "shard_pid offset");
_Static_assert(offsetof(struct rfx_seg_hdr, generation) == 272, "generation offset");
_Static_assert(offsetof(struct rfx_seg_hdr, heartbeat_ns) == 384, "heartbeat offset");
_Static_assert(offsetof(struct rfx_seg_hdr, sleeping) == 512, "sleeping offset");
_Static_assert(offsetof(struct rfx_seg_hdr, mailbox) == 640, "mailbox offset");
_Static_assert(sizeof(struct rfx_session_info) == 96, "session info size");
_Static_assert(sizeof(struct rfx_dir_entry) == 128, "directory entry size");
_Static_assert(sizeof(struct rfx_slot_ctl) == RFX_SEG_SLOT_CTL_SIZE, "slot control size");
_Static_assert(offsetof(struct rfx_slot_ctl, heartbeat_ns) == 128, "slot heartbeat offset");
_Static_assert((RFX_CTR_COUNT + RFX_SEG_HIST_BUCKETS) * 8 <= RFX_SEG_COUNTERS_SIZE, "counters");

#define HIST_OFF 512u  /* histogram buckets start here within the counters */

static uint64_t round_up(uint64_t n, uint64_t a)
{
	return (n + a - 1) / a * a;
}

int64_t rfx_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int instance_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char ch = s[n];

		if (n >= RFX_SEG_INSTANCE_MAX - 1 ||
		    !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return 0;
	}
	return n > 0;
}

int rfx_seg_name(char *buf, size_t n, const char *instance, uint32_t shard)
{
	int w;

	if (!buf || !instance || !instance_ok(instance))
		return -EINVAL;
	w = snprintf(buf, n, "/ringfix.%s.%u", instance, shard);
	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

int rfx_seg_wake_addr(struct sockaddr_un *addr, const char *instance, uint32_t shard)
{
	int w;

	if (!addr || !instance || !instance_ok(instance))
		return -EINVAL;
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	/* Abstract namespace (leading NUL): no file to clean up after a crash,
	 * and the name frees itself when the shard's socket closes. */
	w = snprintf(addr->sun_path + 1, sizeof(addr->sun_path) - 1, "ringfix.%s.%u.wake",
		     instance, shard);
	if (w < 0 || (size_t)w >= sizeof(addr->sun_path) - 1)
		return -ENAMETOOLONG;
	return (int)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)w);
}

static int ring_cap_ok(uint64_t c)
{
	return c >= RFX_RING_MIN_CAPACITY && c <= RFX_RING_MAX_CAPACITY && !(c & (c - 1));
}

/* The one place the layout is computed: create writes these offsets, and
 * validate demands exactly these, so nothing a reader maps can point outside
 * the segment. */
static int geometry(struct rfx_seg *g, uint32_t shard_count, uint32_t max_sessions,
		    uint32_t max_clients, uint64_t r2s, uint64_t r2c)
{
	if (shard_count < 1 || shard_count > RFX_SEG_MAX_SHARDS || max_sessions < 1 ||
	    max_sessions > RFX_SEG_MAX_SESSIONS || max_clients < 1 ||
	    max_clients > RFX_SEG_MAX_CLIENTS || !ring_cap_ok(r2s) || !ring_cap_ok(r2c))
		return -EINVAL;
	g->shard_count = shard_count;
	g->max_sessions = max_sessions;
	g->max_clients = max_clients;
	g->ring_to_shard = r2s;
	g->ring_to_client = r2c;
	g->dir_off = RFX_SEG_HDR_SIZE;
	g->counters_off = g->dir_off + (uint64_t)max_sessions * sizeof(struct rfx_dir_entry);
	g->slots_off = round_up(g->counters_off + RFX_SEG_COUNTERS_SIZE, 4096);
	g->slot_size = RFX_SEG_SLOT_CTL_SIZE + rfx_ring_size(r2s) + rfx_ring_size(r2c);
	g->size = round_up(g->slots_off + (uint64_t)max_clients * g->slot_size, 4096);
	return 0;
}

size_t rfx_seg_size(const struct rfx_seg_params *prm)
{
	struct rfx_seg g;

	if (!prm || geometry(&g, prm->shard_count, prm->max_sessions, prm->max_clients,
			     prm->ring_to_shard, prm->ring_to_client) < 0)
		return 0;
	return g.size;
}

static int self_start(uint64_t *start)
{
	return rfx_proc_start_time(getpid(), start);
}

int rfx_proc_start_time(pid_t pid, uint64_t *start)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, field;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	/* comm (field 2) may hold spaces and parentheses: parse after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return -ESRCH; /* exited, not yet reaped: as good as gone */
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -EIO;
	{
		uint64_t v = 0;

		if (*p < '0' || *p > '9')
			return -EIO;
		while (*p >= '0' && *p <= '9')
			v = v * 10 + (uint64_t)(*p++ - '0');
		*start = v;
	}
	return 0;
}

int rfx_proc_alive(pid_t pid, uint64_t start)
{
	uint64_t s;

	return rfx_proc_start_time(pid, &s) == 0 && s == start;
}

static void format_slot(struct rfx_seg *s, uint32_t i, uint32_t gen)
{
	struct rfx_slot_ctl *c = rfx_seg_slot(s, i);

	atomic_store_explicit(&c->reason, 0, memory_order_relaxed);
	atomic_store_explicit(&c->client_start, 0, memory_order_relaxed);
	atomic_store_explicit(&c->heartbeat_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&c->gen, gen, memory_order_relaxed);
	rfx_ring_format(rfx_seg_ring_to_shard(s, i), s->ring_to_shard);
	rfx_ring_format(rfx_seg_ring_to_client(s, i), s->ring_to_client);
	/* Release: a client that claims the slot (acquire CAS) sees fresh rings. */
	atomic_store_explicit(&c->owner, RFX_SLOT_OWNER(0, RFX_SLOT_FREE), memory_order_release);
}

/* If a valid segment is already there, return its generation; refuse to
 * take over from a shard process that is still alive. */
static int previous_generation(int fd, uint64_t *gen)
{
	struct stat st;
	struct rfx_seg_hdr *h;
	int rc = 0;

	*gen = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size < RFX_SEG_HDR_SIZE)
		return 0;
	h = mmap(NULL, RFX_SEG_HDR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return -errno;
	if (atomic_load_explicit(&h->magic, memory_order_acquire) == RFX_SEG_MAGIC &&
	    atomic_load_explicit(&h->layout, memory_order_acquire) == RFX_SEG_LAYOUT) {
		pid_t pid = (pid_t)atomic_load(&h->shard_pid);

		if (pid != getpid() && rfx_proc_alive(pid, atomic_load(&h->shard_start)))
			rc = -EBUSY;
		*gen = atomic_load(&h->generation);
	}
	munmap(h, RFX_SEG_HDR_SIZE);
	return rc;
}

int rfx_seg_create(struct rfx_seg *seg, const char *instance, uint32_t shard,
		   const struct rfx_seg_params *prm)
{
	mode_t mode;
	struct stat st;
	struct rfx_seg_hdr *h;
	uint64_t old_gen, start;
	void *base;
	int fd, rc;

	if (!seg || !prm)
		return -EINVAL;
	memset(seg, 0, sizeof(*seg));
	rc = geometry(seg, prm->shard_count, prm->max_sessions, prm->max_clients,
		      prm->ring_to_shard, prm->ring_to_client);
	if (rc < 0 || shard >= prm->shard_count)
		return -EINVAL;
	rc = rfx_seg_name(seg->name, sizeof(seg->name), instance, shard);
	if (rc < 0)
		return rc;
	rc = self_start(&start);
	if (rc < 0)
		return rc;
	mode = prm->group_access ? 0660 : 0600;
	fd = shm_open(seg->name, O_RDWR | O_CREAT | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	rc = previous_generation(fd, &old_gen);
	if (rc < 0)
		goto err_close;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto err_close;
	}
	if (st.st_size != 0 && (uint64_t)st.st_size != seg->size) {
		/* Another geometry: shrinking a file clients still map would
		 * SIGBUS them, so start a new file. They keep the old one, whose
		 * dead shard pid tells them to re-attach. */
		close(fd);
		shm_unlink(seg->name);
		fd = shm_open(seg->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd < 0)
			return -errno;
	}
	/* umask may have dropped group bits; the mode is the caller's choice. */
	if (fchmod(fd, mode) < 0 || ftruncate(fd, (off_t)seg->size) < 0) {
		rc = -errno;
		goto err_close;
	}
	base = mmap(NULL, seg->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto err_close;
	}
	close(fd);
	seg->base = base;
	h = base;
	/* Not ready until the very end: attaching readers see RFX_EMAGIC. */
	atomic_store_explicit(&h->magic, 0, memory_order_release);
	memset((uint8_t *)base + sizeof(h->magic), 0, seg->slots_off - sizeof(h->magic));
	h->hdr_size = RFX_SEG_HDR_SIZE;
	h->total_size = seg->size;
	h->shard_index = shard;
	h->shard_count = seg->shard_count;
	h->max_sessions = seg->max_sessions;
	h->max_clients = seg->max_clients;
	h->ring_to_shard = seg->ring_to_shard;
	h->ring_to_client = seg->ring_to_client;
	h->dir_off = seg->dir_off;
	h->counters_off = seg->counters_off;
	h->slots_off = seg->slots_off;
	h->slot_size = seg->slot_size;
	h->proto_version = RFX_PROTO_VERSION;
	strcpy(h->instance, instance);
	for (uint32_t i = 0; i < seg->max_clients; i++)
		format_slot(seg, i, 1);
	atomic_store_explicit(&h->shard_pid, (uint32_t)getpid(), memory_order_relaxed);
	atomic_store_explicit(&h->shard_start, start, memory_order_relaxed);
	atomic_store_explicit(&h->generation, old_gen + 1, memory_order_relaxed);
	atomic_store_explicit(&h->heartbeat_ns, (uint64_t)rfx_mono_ns(), memory_order_relaxed);
	/* Layout, then magic, both release: everything above is visible to a
	 * reader whose acquire load sees the magic. */
	atomic_store_explicit(&h->layout, RFX_SEG_LAYOUT, memory_order_release);
	atomic_store_explicit(&h->magic, RFX_SEG_MAGIC, memory_order_release);
	seg->hdr = h;
	seg->shard_index = shard;
	seg->generation = old_gen + 1;
	seg->owner = 1;
	return 0;

err_close:
	close(fd);
	return rc;
}

int rfx_seg_validate(struct rfx_seg *seg)
{
	const struct rfx_seg_hdr *h = (const void *)seg->base;
	const volatile struct rfx_seg_hdr *vh = (const volatile void *)seg->base;
	struct rfx_seg want;
	uint32_t shard_index;
	char inst[RFX_SEG_INSTANCE_MAX];

	if (seg->size < RFX_SEG_HDR_SIZE ||
	    atomic_load_explicit(&((struct rfx_seg_hdr *)h)->magic, memory_order_acquire) !=
		    RFX_SEG_MAGIC)
		return RFX_EMAGIC;
	if (atomic_load_explicit(&((struct rfx_seg_hdr *)h)->layout, memory_order_acquire) !=
		    RFX_SEG_LAYOUT ||
	    vh->proto_version != RFX_PROTO_VERSION)
		return RFX_EVERSION;
	/* Copy each field once, then demand exactly the layout we would build. */
	memset(&want, 0, sizeof(want));
	if (geometry(&want, vh->shard_count, vh->max_sessions, vh->max_clients,
		     vh->ring_to_shard, vh->ring_to_client) < 0)
		return RFX_EBADSEG;
	shard_index = vh->shard_index;
	for (size_t i = 0; i < sizeof(inst); i++)
		inst[i] = vh->instance[i];
	inst[sizeof(inst) - 1] = 0;
	if (vh->hdr_size != RFX_SEG_HDR_SIZE || vh->total_size != want.size ||
	    want.size > seg->size || shard_index >= want.shard_count ||
	    vh->dir_off != want.dir_off || vh->counters_off != want.counters_off ||
	    vh->slots_off != want.slots_off || vh->slot_size != want.slot_size ||
	    !instance_ok(inst))
		return RFX_EBADSEG;
	seg->hdr = (struct rfx_seg_hdr *)h;
	seg->shard_index = shard_index;
	seg->shard_count = want.shard_count;
	seg->max_sessions = want.max_sessions;
	seg->max_clients = want.max_clients;
	seg->ring_to_shard = want.ring_to_shard;
	seg->ring_to_client = want.ring_to_client;
	seg->dir_off = want.dir_off;
	seg->counters_off = want.counters_off;
	seg->slots_off = want.slots_off;
	seg->slot_size = want.slot_size;
	seg->generation = atomic_load_explicit(&seg->hdr->generation, memory_order_acquire);
	return 0;
}

static int seg_open(struct rfx_seg *seg, const char *instance, uint32_t shard, bool rw)
{
	struct stat st;
	void *base;
	int fd, rc;

	if (!seg)
		return -EINVAL;
	memset(seg, 0, sizeof(*seg));
	rc = rfx_seg_name(seg->name, sizeof(seg->name), instance, shard);
	if (rc < 0)
		return rc;
	fd = shm_open(seg->name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if ((size_t)st.st_size < RFX_SEG_HDR_SIZE) {
		rc = RFX_EMAGIC; /* created but not yet sized: half-built */
		goto out;
	}
	base = mmap(NULL, (size_t)st.st_size, rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
		    fd, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		goto out;
	}
	seg->base = base;
	seg->size = (size_t)st.st_size;
	rc = rfx_seg_validate(seg);
	if (rc == 0 && seg->shard_index != shard)
		rc = RFX_EBADSEG;
	if (rc < 0) {
		munmap(base, seg->size);
		seg->base = NULL;
	}
out:
	close(fd);
	return rc;
}

int rfx_seg_open(struct rfx_seg *seg, const char *instance, uint32_t shard)
{
	return seg_open(seg, instance, shard, true);
}

int rfx_seg_open_ro(struct rfx_seg *seg, const char *instance, uint32_t shard)
{
	return seg_open(seg, instance, shard, false);
}

void rfx_seg_close(struct rfx_seg *seg)
{
	if (!seg || !seg->base)
		return;
	if (seg->owner) {
		/* Clients still mapped see "not ready" rather than a stale shard. */
		atomic_store_explicit(&seg->hdr->magic, 0, memory_order_release);
		shm_unlink(seg->name);
	}
	munmap(seg->base, seg->size);
	seg->base = NULL;
	seg->hdr = NULL;
}

void rfx_seg_count(struct rfx_seg *s, enum rfx_counter c, uint64_t n)
{
	_Atomic uint64_t *p = rfx_seg_counters(s) + c;

	/* Single writer: load+store is enough and avoids a locked RMW. */
	atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

void rfx_seg_record_latency(struct rfx_seg *s, uint64_t ns)
{
	_Atomic uint64_t *p = rfx_seg_counters(s) + HIST_OFF / 8 +
			      (63 - __builtin_clzll(ns | 1));

	atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static struct rfx_dir_entry *dir_entry(const struct rfx_seg *s, uint32_t i)
{
	return (struct rfx_dir_entry *)(s->base + s->dir_off) + i;
}

void rfx_seg_dir_write(struct rfx_seg *s, uint32_t i, const struct rfx_session_info *info)
{
	struct rfx_dir_entry *e = dir_entry(s, i);
	uint64_t w[sizeof(e->words) / 8];
	uint32_t seq = atomic_load_explicit(&e->seq, memory_order_relaxed);

	memcpy(w, info, sizeof(w));
	/* Seqlock writer: odd count, release fence so no data store moves
	 * above it, relaxed atomic data stores, even count with release. */
	atomic_store_explicit(&e->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (size_t k = 0; k < sizeof(w) / 8; k++)
		__atomic_store_n(&e->words[k], w[k], __ATOMIC_RELAXED);
	atomic_store_explicit(&e->seq, seq + 2, memory_order_release);
}

int rfx_seg_dir_read(const struct rfx_seg *s, uint32_t i, struct rfx_session_info *out)
{
	struct rfx_dir_entry *e;
	uint64_t w[sizeof(e->words) / 8];

	if (i >= s->max_sessions)
		return -EINVAL;
	e = dir_entry(s, i);
	for (int tries = 0; tries < 10000; tries++) {
		uint32_t s1 = atomic_load_explicit(&e->seq, memory_order_acquire), s2;

		if (s1 & 1)
			continue;
		for (size_t k = 0; k < sizeof(w) / 8; k++)
			w[k] = __atomic_load_n(&e->words[k], __ATOMIC_RELAXED);
		/* Acquire fence: the data loads above complete before we re-read
		 * the count; equal even counts mean no write overlapped them. */
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&e->seq, memory_order_relaxed);
		if (s1 == s2) {
			memcpy(out, w, sizeof(*out));
			out->id[RFX_SESSION_ID_MAX - 1] = 0;
			return 0;
		}
	}
	return -EAGAIN;
}

int rfx_seg_dir_find(const struct rfx_seg *s, const char *id)
{
	struct rfx_session_info info;

	for (uint32_t i = 0; i < s->max_sessions; i++) {
		if (rfx_seg_dir_read(s, i, &info) == 0 && info.state != RFX_SESSION_UNUSED &&
		    strcmp(info.id, id) == 0)
			return (int)i;
	}
	return RFX_ENOSESSION;
}

static size_t span(const char *s, const char *stop)
{
	size_t n = 0;

	while (s[n] > 0x20 && s[n] < 0x7f && !strchr(stop, s[n]))
		n++;
	return n;
}

int rfx_session_id_check(const char *id)
{
	const char *p = id, *arrow;
	size_t n;

	if (!id || strnlen(id, RFX_SESSION_ID_MAX) >= RFX_SESSION_ID_MAX)
		return -EINVAL;
	for (n = 0; p[n] && ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9') ||
			     p[n] == '.'); n++)
		;
	if (n == 0 || p[n] != ':')           /* BeginString, e.g. FIX.4.4 or FIXT.1.1 */
		return -EINVAL;
	p += n + 1;
	arrow = strstr(p, "->");
	if (!arrow || arrow == p || span(p, ":") < (size_t)(arrow - p))
		return -EINVAL;                  /* SenderCompID */
	p = arrow + 2;
	n = span(p, ":");
	if (n == 0)                              /* TargetCompID */
		return -EINVAL;
	p += n;
	if (*p == ':') {                         /* optional SessionQualifier */
		p++;
		n = span(p, ":");
		if (n == 0)
			return -EINVAL;
		p += n;
	}
	return *p ? -EINVAL : 0;
}

const char *rfx_seg_state_name(const struct rfx_session_info *info)
{
	if (info->state == RFX_SESSION_DISCONNECTED && (info->flags & RFX_SESSION_INFO_HELD))
		return "HELD";
	switch (info->state) {
	case RFX_SESSION_DISCONNECTED: return "DISCONNECTED";
	case RFX_SESSION_CONNECTING: return "CONNECTING";
	case RFX_SESSION_LOGON_SENT: return "LOGON_SENT";
	case RFX_SESSION_ACTIVE: return "ACTIVE";
	case RFX_SESSION_LOGOUT_SENT: return "LOGOUT_SENT";
	default: return "UNKNOWN";
	}
}
