/*
 * The per-shard shared-memory segment: /dev/shm/ringfix.<instance>.<shard>.
 *
 *   [header 4 KiB][session directory][counters][client slot 0][slot 1]...
 *   slot = [slot control 512 B][ring client->shard][ring shard->client]
 *
 * The shard creates and owns it; clients and the CLI map it read-write
 * (clients claim slots) and validate every header field before use. Magic
 * and layout are stored last with release ordering, so a reader that sees the
 * magic (acquire) sees a fully built segment; a half-built or foreign one is
 * RFX_EMAGIC, another layout RFX_EVERSION, an inconsistent header RFX_EBADSEG.
 * All structures use fixed-width fields and offsets, never pointers.
 */
#ifndef RFX_SHM_SEGMENT_H
#define RFX_SHM_SEGMENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm/mailbox.h"
#include "shm/ring.h"
#include "shm/ringfix.h"

#define RFX_SEG_MAGIC 0x31304d4853584652ull  /* "RFXSHM01" little-endian */
#define RFX_SEG_LAYOUT 1u
#define RFX_SEG_HDR_SIZE 4096u
#define RFX_SEG_SLOT_CTL_SIZE 512u
#define RFX_SEG_INSTANCE_MAX 32u     /* incl. NUL: [A-Za-z0-9_-]{1,31} */
#define RFX_SEG_NAME_MAX 64u
#define RFX_SEG_MAX_SESSIONS 65536u   /* per shard; handles carry a 16-bit index */
#define RFX_SEG_MAX_CLIENTS 256u
#define RFX_SEG_MAX_SHARDS 256u
#define RFX_SESSION_ID_MAX 64u       /* incl. NUL */

/* enum rfx_session_state (directory states) is public: see ringfix.h. */

/* Client slot states (slot control `owner` word: pid << 8 | state). */
enum rfx_slot_state {
	RFX_SLOT_FREE = 0,       /* fresh rings; claimable by CAS */
	RFX_SLOT_CLAIMED = 1,    /* a client owns it, filling its identity */
	RFX_SLOT_ACTIVE = 2,     /* client attached; the shard serves it */
	RFX_SLOT_CLOSING = 3,    /* client detached cleanly; shard reclaims */
	RFX_SLOT_DETACHED = 4,   /* shard cut the client off (see reason) */
};

/* Counters the shard maintains and the CLI reads without talking to it.
 * Single writer (the shard): plain relaxed stores, no read-modify-write. */
enum rfx_counter {
	RFX_CTR_MSGS_IN, RFX_CTR_MSGS_OUT, RFX_CTR_BYTES_IN, RFX_CTR_BYTES_OUT,
	RFX_CTR_REJECTS, RFX_CTR_RESENDS, RFX_CTR_RING_FULL,
	RFX_CTR_CLIENTS_ATTACHED, RFX_CTR_CLIENTS_REAPED, RFX_CTR_CLIENT_PROTO_ERRORS,
	RFX_CTR_WAKEUPS,              /* block idle: sleeps a client's datagram ended */
	RFX_CTR_COUNT
};
#define RFX_SEG_HIST_BUCKETS 64      /* latency histogram: bucket i = [2^i, 2^(i+1)) ns */
#define RFX_SEG_COUNTERS_SIZE 1024u

struct rfx_seg_hdr {
	/* Identity and geometry: written once before the magic. */
	_Atomic uint64_t magic;
	_Atomic uint32_t layout;
	uint32_t hdr_size;
	uint64_t total_size;
	uint32_t shard_index;
	uint32_t shard_count;
	uint32_t max_sessions;
	uint32_t max_clients;
	uint64_t ring_to_shard;       /* capacity of each client->shard ring */
	uint64_t ring_to_client;      /* capacity of each shard->client ring */
	uint64_t dir_off;
	uint64_t counters_off;
	uint64_t slots_off;
	uint64_t slot_size;
	uint32_t proto_version;       /* RFX_PROTO_VERSION of the records */
	uint32_t reserved0;
	char instance[RFX_SEG_INSTANCE_MAX];
	uint8_t pad0[256 - 128];
	/* Shard identity: changes only when a shard (re)starts. */
	_Atomic uint32_t shard_pid;
	uint32_t reserved1;
	_Atomic uint64_t shard_start;  /* /proc starttime of shard_pid, clock ticks */
	_Atomic uint64_t generation;   /* +1 at every shard (re)start */
	uint8_t pad1[128 - 24];
	/* Written every loop turn: its own line. */
	_Atomic uint64_t heartbeat_ns; /* CLOCK_MONOTONIC */
	uint8_t pad2[128 - 8];
	/* Block idle: 1 while the shard may sleep in the kernel. A client that
	 * publishes and then sees 1 sends a datagram to the shard's wake socket
	 * (rfx_seg_wake_addr). Read on every client publish: its own line.
	 * Zero in a segment of a shard that never sleeps (older ones too). */
	_Atomic uint32_t sleeping;
	uint32_t reserved2;
	uint8_t pad3[128 - 8];
	/* Supervisor -> shard commands (shm/mailbox.h): their own lines. */
	struct rfx_mailbox mailbox;
	uint8_t pad4[RFX_SEG_HDR_SIZE - 640 - sizeof(struct rfx_mailbox)];
};

/* Session directory entry, updated by the shard under a seqlock. */
struct rfx_session_info {
	char id[RFX_SESSION_ID_MAX];
	uint32_t state;               /* enum rfx_session_state */
	uint32_t flags;               /* RFX_SESSION_INFO_* */
	uint64_t next_sender_seq;     /* next MsgSeqNum we send */
	uint64_t next_target_seq;     /* next MsgSeqNum we expect */
	uint64_t updated_ns;          /* CLOCK_MONOTONIC of the last update */
};

#define RFX_SESSION_INFO_TLS 1u   /* the session's connection is TLS */
#define RFX_SESSION_INFO_HELD 2u  /* `ringfix logout` holds it out until `ringfix logon` */

struct rfx_dir_entry {
	_Atomic uint32_t seq;         /* odd while the shard writes */
	uint32_t reserved;
	uint64_t words[sizeof(struct rfx_session_info) / 8];
	uint8_t pad[128 - 8 - sizeof(struct rfx_session_info)];
};

struct rfx_slot_ctl {
	_Atomic uint64_t owner;       /* client pid << 8 | enum rfx_slot_state */
	_Atomic uint32_t gen;         /* bumped by the shard at every reclaim */
	_Atomic int32_t reason;       /* why the shard detached the client */
	_Atomic uint64_t client_start;/* /proc starttime of the owner */
	uint8_t pad0[128 - 24];
	_Atomic uint64_t heartbeat_ns;/* client's last poll, CLOCK_MONOTONIC */
	uint8_t pad1[RFX_SEG_SLOT_CTL_SIZE - 136];
};

#define RFX_SLOT_STATE(owner) ((uint32_t)((owner) & 0xff))
#define RFX_SLOT_PID(owner) ((pid_t)((owner) >> 8))
#define RFX_SLOT_OWNER(pid, state) (((uint64_t)(uint32_t)(pid) << 8) | (state))

struct rfx_seg_params {
	uint32_t shard_count;
	uint32_t max_sessions;        /* 1..RFX_SEG_MAX_SESSIONS */
	uint32_t max_clients;         /* 1..RFX_SEG_MAX_CLIENTS */
	uint64_t ring_to_shard;       /* power of two, RFX_RING_MIN..MAX_CAPACITY */
	uint64_t ring_to_client;
	unsigned group_access;        /* 1: mode 0660 instead of 0600 */
};

/* A mapped segment, in the caller's private memory. The geometry fields are
 * private copies taken after validation: use them, never the header's. */
struct rfx_seg {
	uint8_t *base;
	size_t size;
	struct rfx_seg_hdr *hdr;
	uint32_t shard_index, shard_count, max_sessions, max_clients;
	uint64_t ring_to_shard, ring_to_client;
	uint64_t dir_off, counters_off, slots_off, slot_size;
	uint64_t generation;          /* at open/create */
	char name[RFX_SEG_NAME_MAX];
	int owner;                    /* 1 in the shard that created it */
};

/* "/ringfix.<instance>.<shard>" into buf. Returns 0, -EINVAL (instance not
 * [A-Za-z0-9_-]{1,31}) or -ENAMETOOLONG. */
int rfx_seg_name(char *buf, size_t n, const char *instance, uint32_t shard);

/* The shard's wake socket: a unix datagram socket in the abstract namespace,
 * "\0ringfix.<instance>.<shard>.wake". Fills *addr and returns its length,
 * or -EINVAL / -ENAMETOOLONG. */
struct sockaddr_un;
int rfx_seg_wake_addr(struct sockaddr_un *addr, const char *instance, uint32_t shard);

/* Total bytes of a segment with these parameters (0 if they are invalid). */
size_t rfx_seg_size(const struct rfx_seg_params *prm);

/* Shard side: create (or take over after a shard restart) the segment and
 * build it; the generation is the previous segment's + 1. Returns 0, -EINVAL,
 * -EBUSY (a live shard process owns it), or a negative errno from shm_open,
 * ftruncate or mmap. */
int rfx_seg_create(struct rfx_seg *seg, const char *instance, uint32_t shard,
		   const struct rfx_seg_params *prm);

/* Client/CLI side: map an existing segment and validate it. Returns 0,
 * -ENOENT (no such instance/shard), RFX_EMAGIC, RFX_EVERSION, RFX_EBADSEG,
 * or a negative errno. */
int rfx_seg_open(struct rfx_seg *seg, const char *instance, uint32_t shard);

/* The same, mapped read-only (O_RDONLY, PROT_READ): for observers such as
 * `ringfix status` that must never write into a shard's memory (and may only
 * have read permission). Same returns as rfx_seg_open. */
int rfx_seg_open_ro(struct rfx_seg *seg, const char *instance, uint32_t shard);

/* Validate a segment image of `size` bytes and fill the private geometry of
 * `seg` (base/size are set by the caller). Pure: used by rfx_seg_open and by
 * the fuzz target. Same returns as rfx_seg_open. */
int rfx_seg_validate(struct rfx_seg *seg);

/* Unmap (NULL-safe); the owner also removes the name. */
void rfx_seg_close(struct rfx_seg *seg);

static inline struct rfx_slot_ctl *rfx_seg_slot(const struct rfx_seg *s, uint32_t i)
{
	return (struct rfx_slot_ctl *)(s->base + s->slots_off + (uint64_t)i * s->slot_size);
}

static inline void *rfx_seg_ring_to_shard(const struct rfx_seg *s, uint32_t i)
{
	return (uint8_t *)rfx_seg_slot(s, i) + RFX_SEG_SLOT_CTL_SIZE;
}

static inline void *rfx_seg_ring_to_client(const struct rfx_seg *s, uint32_t i)
{
	return (uint8_t *)rfx_seg_ring_to_shard(s, i) + rfx_ring_size(s->ring_to_shard);
}

static inline _Atomic uint64_t *rfx_seg_counters(const struct rfx_seg *s)
{
	return (_Atomic uint64_t *)(s->base + s->counters_off);
}

/* Shard only: add to a counter / histogram bucket (single writer). */
void rfx_seg_count(struct rfx_seg *s, enum rfx_counter c, uint64_t n);
void rfx_seg_record_latency(struct rfx_seg *s, uint64_t ns);

/* Shard only: update directory entry i under its seqlock. */
void rfx_seg_dir_write(struct rfx_seg *s, uint32_t i, const struct rfx_session_info *info);

/* Any process: consistent snapshot of entry i. Returns 0, -EINVAL (i out of
 * range) or -EAGAIN (the writer stayed mid-update; retry later). The id is
 * always NUL-terminated in *out. */
int rfx_seg_dir_read(const struct rfx_seg *s, uint32_t i, struct rfx_session_info *out);

/* Directory state as the CLI prints it ("ACTIVE", ...; "UNKNOWN" otherwise);
 * a held disconnected session is "HELD". */
const char *rfx_seg_state_name(const struct rfx_session_info *info);

/* Find a session by ID in the directory; returns its index or RFX_ENOSESSION. */
int rfx_seg_dir_find(const struct rfx_seg *s, const char *id);

/* Validate a session ID: BEGINSTRING:SENDER->TARGET[:QUALIFIER], printable,
 * no spaces, shorter than RFX_SESSION_ID_MAX. Returns 0 or -EINVAL. */
int rfx_session_id_check(const char *id);

/* Liveness. Start time is field 22 of /proc/<pid>/stat (clock ticks since
 * boot): with the pid it names one process forever, whereas a pid alone is
 * reused. Returns 0, -ESRCH (no such process) or -EIO. */
int rfx_proc_start_time(pid_t pid, uint64_t *start);
/* 1 if pid runs with that start time, 0 if not. */
int rfx_proc_alive(pid_t pid, uint64_t start);

int64_t rfx_mono_ns(void);

#endif
