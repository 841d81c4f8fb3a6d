/*
 * Test helper for tests/cli/test_status.py: plays the shard side of an
 * instance with real shared memory (shm/server.h), so `ringfix status` reads a
 * live segment without a running engine.
 *
 *   cli_seg_fixture INSTANCE
 *
 * Creates shards 0 and 1 of INSTANCE, publishes FIX.4.4:A->B (ACTIVE, next
 * out 12, next in 34) on shard 0 and FIX.4.2:A->C (DISCONNECTED, 1/1) on shard
 * 1, counts 5 messages in and 7 out on shard 0, attaches itself as a client
 * (libringfix, one slot per shard), prints "ready" and keeps the segments until
 * stdin closes; then detaches, removes them and exits 0.
 */
#include <stdio.h>
#include <string.h>

#include "engine/error.h"
#include "shm/ringfix.h"
#include "shm/server.h"

int main(int argc, char **argv)
{
	struct rfx_server *srv[2] = {NULL, NULL};
	struct rfx_server_ops ops = {0};
	struct rfx_client *cl = NULL;
	char buf[64];
	int rc, idx;

	if (argc != 2) {
		fprintf(stderr, "usage: cli_seg_fixture INSTANCE\n");
		return 2;
	}
	for (uint32_t sh = 0; sh < 2; sh++) {
		struct rfx_server_params p = {
			.instance = argv[1], .shard = sh,
			.seg = {.shard_count = 2, .max_sessions = 8, .max_clients = 2,
				.ring_to_shard = 64 * 1024, .ring_to_client = 64 * 1024},
		};

		rc = rfx_server_new(&srv[sh], &p);
		if (rc < 0) {
			fprintf(stderr, "cli_seg_fixture: shard %u of %s: %s\n", sh, argv[1],
				rfx_strerror(rc));
			goto out;
		}
	}
	idx = rfx_server_session_add(srv[0], "FIX.4.4:A->B");
	if (idx < 0)
		goto fail;
	rfx_server_session_update(srv[0], (uint32_t)idx, RFX_SESSION_ACTIVE, 12, 34, rfx_mono_ns());
	idx = rfx_server_session_add(srv[1], "FIX.4.2:A->C");
	if (idx < 0)
		goto fail;
	rfx_server_session_update(srv[1], (uint32_t)idx, RFX_SESSION_DISCONNECTED, 1, 1,
				  rfx_mono_ns());
	rfx_server_session_flags(srv[1], (uint32_t)idx, RFX_SESSION_INFO_TLS);
	rfx_seg_count(rfx_server_seg(srv[0]), RFX_CTR_MSGS_IN, 5);
	rfx_seg_count(rfx_server_seg(srv[0]), RFX_CTR_MSGS_OUT, 7);
	rfx_server_heartbeat(srv[0], rfx_mono_ns());
	rfx_server_heartbeat(srv[1], rfx_mono_ns());
	rc = rfx_client_attach(&cl, argv[1], NULL);
	if (rc < 0) {
		fprintf(stderr, "cli_seg_fixture: attach to %s: %s\n", argv[1], rfx_strerror(rc));
		goto out;
	}
	rfx_server_reap(srv[0], &ops, NULL);
	rfx_server_reap(srv[1], &ops, NULL);
	printf("ready\n");
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin))
		;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "cli_seg_fixture: cannot add a session: %s\n", rfx_strerror(idx));
	rc = -1;
out:
	rfx_client_detach(cl);
	rfx_server_free(srv[1]);
	rfx_server_free(srv[0]);
	return rc < 0 ? 1 : 0;
}
