#!/usr/bin/env bash
# ringfix demo: deploy/demo.sh BUILD_DIR
#
# Until the engine runtime (ringfixd) exists, the demo shows the part that does:
# the FIX codec. It runs the codec benchmark briefly — parse and serialize of
# Heartbeat, NewOrderSingle, ExecutionReport and a 10-entry market data refresh,
# ringfix against QuickFIX 1.15.1 when it was built — and says what it did.
set -euo pipefail

build=${1:-}
if [ -z "$build" ] || [ ! -d "$build" ]; then
	echo "usage: deploy/demo.sh BUILD_DIR   (e.g. deploy/demo.sh build)" >&2
	exit 2
fi
bench="$build/bench/codec_bench"
if [ ! -x "$bench" ]; then
	echo "demo: $bench not found; build first: ninja -C $build" >&2
	exit 1
fi

echo "demo: ringfix FIX codec (engine/codec.h) — the engine runtime is not built yet."
echo "demo: running $bench --runs 5 (about half a minute on a quiet core)..."
echo
"$bench" --runs 5
echo
echo "demo: done. Each figure is ns per message, median of 5 runs with min-max,"
echo "demo: on one pinned CPU. Full run: $bench (7 runs), machine-readable: --json."
