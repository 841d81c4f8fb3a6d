#!/usr/bin/env bash
# ThreadSanitizer run of the shm ring and seqlock protocol, with producer and
# consumer as threads (TSan cannot see across processes; Criterion's runner
# does not start under TSan, so tests/unit/shm/tsan_main.c is a plain main).
#
#   bash tests/shm_tsan.sh [BUILD_DIR]      default: build-tsan
#
# CI: add this line after the sanitizer run in .ci/run. Exit status is the
# test's; any TSan report fails it (halt_on_error).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
dir=${1:-build-tsan}
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" -Db_sanitize=thread -Db_lundef=false -Doptimization=1 \
		-Dquickfix=disabled >"$dir.setup.log" 2>&1 ||
		{ cat "$dir.setup.log" >&2; exit 1; }
	rm -f "$dir.setup.log"
fi
ninja -C "$dir" tests/unit/shm/shm_tsan >/dev/null
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
exec "$dir/tests/unit/shm/shm_tsan"
