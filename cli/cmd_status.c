/*
 * ringfix status [--instance NAME] [--json]
 *
 * Reads every shard segment of an instance straight from /dev/shm, mapped
 * read-only: the CLI never writes into a segment a shard is serving, and needs
 * neither the admin socket nor the shard's cooperation, so it also shows a shard
 * that hangs or died. Everything in the segment was written by another process
 * and is checked (rfx_seg_validate, seqlocked directory reads) before use.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "engine/error.h"
#include "shm/segment.h"

static const char *const counter_names[RFX_CTR_COUNT] = {
	[RFX_CTR_MSGS_IN] = "msgs_in",
	[RFX_CTR_MSGS_OUT] = "msgs_out",
	[RFX_CTR_BYTES_IN] = "bytes_in",
	[RFX_CTR_BYTES_OUT] = "bytes_out",
	[RFX_CTR_REJECTS] = "rejects",
	[RFX_CTR_RESENDS] = "resends",
	[RFX_CTR_RING_FULL] = "ring_full",
	[RFX_CTR_CLIENTS_ATTACHED] = "clients_attached",
	[RFX_CTR_CLIENTS_REAPED] = "clients_reaped",
	[RFX_CTR_CLIENT_PROTO_ERRORS] = "client_proto_errors",
	[RFX_CTR_WAKEUPS] = "wakeups",
};

static const char *slot_state_name(uint32_t s)
{
	switch (s) {
	case RFX_SLOT_CLAIMED: return "claimed";
	case RFX_SLOT_ACTIVE: return "active";
	case RFX_SLOT_CLOSING: return "closing";
	case RFX_SLOT_DETACHED: return "detached";
	default: return "free";
	}
}

static void status_usage(FILE *f)
{
	fprintf(f, "usage: ringfix status [--instance NAME] [--json]\n\n"
		   "Shards (pid, alive, generation, heartbeat age), sessions (state, next\n"
		   "sequence numbers), client slots and counters of a running instance, read\n"
		   "from its shared memory (/dev/shm/ringfix.NAME.N) without disturbing it.\n"
		   "  --instance NAME  InstanceName of [ENGINE] (default: ringfix)\n"
		   "  --json           one JSON document on stdout\n");
}

static const char *open_error(int rc)
{
	switch (rc) {
	case -ENOENT: return "no such segment (is ringfixd running with this InstanceName?)";
	case -EACCES: return "permission denied (run as the instance's user or group)";
	case RFX_EMAGIC: return "segment not ready or not a ringfix segment (shard starting?)";
	case RFX_EVERSION: return "segment layout differs from this ringfix version";
	default: return rfx_strerror(rc);
	}
}

/* Age of a CLOCK_MONOTONIC stamp written by a live shard: -1 for never (0); a
 * stamp newer than our reading of the clock (the shard kept running while we
 * mapped the segment) is 0 ns old, not "never". */
static int64_t age_ns(uint64_t stamp, int64_t now)
{
	if (!stamp)
		return -1;
	return (int64_t)stamp > now ? 0 : now - (int64_t)stamp;
}

/* A shard writes its heartbeat every loop turn (at least every millisecond
 * when it blocks): a second without one means it is stopped or stuck. */
#define STALL_NS 1000000000LL

static void print_shard(const struct rfx_seg *seg, bool json, int64_t now)
{
	const struct rfx_seg_hdr *h = seg->hdr;
	uint32_t pid = atomic_load_explicit(&h->shard_pid, memory_order_acquire);
	uint64_t start = atomic_load_explicit(&h->shard_start, memory_order_relaxed);
	uint64_t gen = atomic_load_explicit(&h->generation, memory_order_relaxed);
	uint64_t hb = atomic_load_explicit(&h->heartbeat_ns, memory_order_relaxed);
	int64_t hb_age = age_ns(hb, now);
	bool alive = pid && rfx_proc_alive((pid_t)pid, start) == 1;
	bool stalled = alive && (hb_age < 0 || hb_age > STALL_NS);
	_Atomic uint64_t *ctr = rfx_seg_counters(seg);
	struct rfx_session_info si;
	unsigned nsess = 0, nclients = 0;

	if (json) {
		printf("{\"shard\":%u,\"pid\":%u,\"alive\":%s,\"stalled\":%s,\"generation\":%llu,"
		       "\"heartbeat_age_ns\":%lld,\"max_sessions\":%u,\"max_clients\":%u,"
		       "\"sessions\":[",
		       seg->shard_index, pid, alive ? "true" : "false", stalled ? "true" : "false",
		       (unsigned long long)gen, (long long)hb_age, seg->max_sessions,
		       seg->max_clients);
	} else {
		printf("shard %u: pid %u %s, generation %llu, heartbeat ", seg->shard_index, pid,
		       !alive ? "NOT RUNNING" : stalled ? "alive but STALLED" : "alive",
		       (unsigned long long)gen);
		if (hb_age < 0)
			printf("never\n");
		else
			printf("%.3f ms ago\n", (double)hb_age / 1e6);
	}
	for (uint32_t i = 0; i < seg->max_sessions; i++) {
		if (rfx_seg_dir_read(seg, i, &si) < 0 || si.state == RFX_SESSION_UNUSED ||
		    !si.id[0])
			continue;
		/* A dead shard's connections died with it: its last published
		 * state is history, not the session's state. */
		const char *state = alive ? rfx_seg_state_name(&si) : "DOWN";
		if (json) {
			printf("%s{\"id\":", nsess ? "," : "");
			rfx_cli_json_str(stdout, si.id);
			if (!alive)
				printf(",\"last_state\":\"%s\"", rfx_seg_state_name(&si));
			printf(",\"state\":\"%s\",\"tls\":%s,\"next_sender_seq\":%llu,"
			       "\"next_target_seq\":%llu,\"updated_age_ns\":%lld}", state,
			       si.flags & RFX_SESSION_INFO_TLS ? "true" : "false",
			       (unsigned long long)si.next_sender_seq,
			       (unsigned long long)si.next_target_seq,
			       (long long)age_ns(si.updated_ns, now));
		} else {
			if (!nsess)
				printf("  %-40s %-13s %-9s %12s %12s\n", "session", "state",
				       "transport", "next out", "next in");
			printf("  %-40s %-13s %-9s %12llu %12llu\n", si.id, state,
			       si.flags & RFX_SESSION_INFO_TLS ? "tls" : "tcp",
			       (unsigned long long)si.next_sender_seq,
			       (unsigned long long)si.next_target_seq);
		}
		nsess++;
	}
	if (!json && !nsess)
		printf("  (no sessions)\n");
	printf(json ? "],\"clients\":[" : "");
	for (uint32_t i = 0; i < seg->max_clients; i++) {
		uint64_t owner = atomic_load_explicit(&rfx_seg_slot(seg, i)->owner,
						      memory_order_acquire);
		uint32_t st = RFX_SLOT_STATE(owner);

		if (st == RFX_SLOT_FREE)
			continue;
		if (json)
			printf("%s{\"slot\":%u,\"pid\":%d,\"state\":\"%s\"}", nclients ? "," : "", i,
			       (int)RFX_SLOT_PID(owner), slot_state_name(st));
		else
			printf("  client slot %u: pid %d %s\n", i, (int)RFX_SLOT_PID(owner),
			       slot_state_name(st));
		nclients++;
	}
	if (json) {
		printf("],\"counters\":{");
		for (int c = 0; c < RFX_CTR_COUNT; c++)
			printf("%s\"%s\":%llu", c ? "," : "", counter_names[c],
			       (unsigned long long)atomic_load_explicit(&ctr[c],
									memory_order_relaxed));
		printf("}}");
	} else {
		printf("  counters:");
		for (int c = 0; c < RFX_CTR_COUNT; c++)
			printf(" %s=%llu", counter_names[c],
			       (unsigned long long)atomic_load_explicit(&ctr[c],
									memory_order_relaxed));
		printf("\n");
	}
}

int rfx_cli_status(int argc, char **argv)
{
	const char *instance = "ringfix";
	bool json = false;
	struct rfx_seg seg;
	uint32_t nshards;
	int rc, ret = RFX_CLI_OK;
	int64_t now;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			status_usage(stdout);
			return RFX_CLI_OK;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--instance") == 0 && i + 1 < argc) {
			instance = argv[++i];
		} else {
			rfx_cli_err("status", "unexpected argument '%s' (see ringfix status --help)",
				    argv[i]);
			return RFX_CLI_USAGE;
		}
	}
	if (rfx_seg_name(seg.name, sizeof(seg.name), instance, 0) < 0) {
		rfx_cli_err("status", "instance name '%s': 1-31 characters of A-Z a-z 0-9 _ -",
			    instance);
		return RFX_CLI_USAGE;
	}
	rc = rfx_seg_open_ro(&seg, instance, 0);
	if (rc < 0) {
		rfx_cli_err("status", "instance '%s': shard 0 (/dev/shm%s): %s", instance, seg.name,
			    open_error(rc));
		return RFX_CLI_FAIL;
	}
	nshards = seg.shard_count;
	now = rfx_mono_ns();
	if (json) {
		printf("{\"instance\":");
		rfx_cli_json_str(stdout, instance);
		printf(",\"shard_count\":%u,\"shards\":[", nshards);
	} else {
		printf("instance %s: %u shard%s\n", instance, nshards, nshards == 1 ? "" : "s");
	}
	for (uint32_t sh = 0; sh < nshards; sh++) {
		if (sh > 0) {
			rc = rfx_seg_open_ro(&seg, instance, sh);
			if (rc < 0) {
				/* Reported in place; the other shards are still worth showing. */
				rfx_cli_err("status", "instance '%s': shard %u (/dev/shm%s): %s",
					    instance, sh, seg.name, open_error(rc));
				if (json) {
					printf(",{\"shard\":%u,\"error\":", sh);
					rfx_cli_json_str(stdout, open_error(rc));
					printf("}");
				}
				ret = RFX_CLI_FAIL;
				continue;
			}
		}
		if (json && sh)
			printf(",");
		print_shard(&seg, json, now);
		rfx_seg_close(&seg);
	}
	if (json)
		printf("]}\n");
	return ret;
}
