#!/usr/bin/env bash
# ringfix quickstart: the two commands of README.md.
#
#   deploy/quickstart.sh demo            build, then run the main job on the embedded default
#   deploy/quickstart.sh test [--sanitize]
#                                        build, then run the whole test suite
#                                        (--sanitize: a second build under ASan+UBSan)
#
# Both install missing Debian packages first (as root; otherwise they print the
# exact apt-get command and stop), configure and build. Re-running is cheap and quiet.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"

# What a build and the test suite need, by Debian 12 package name.
packages=(
	gcc g++ pkg-config meson ninja-build python3
	liburing-dev libssl-dev liblmdb-dev libjemalloc-dev libexpat1-dev
	libcriterion-dev
	libquickfix-dev   # reference peer for benchmarks and interop tests only
	gnuplot-nox       # bench/run.sh plots
	openssl           # certificates for the TLS tests
	tzdata            # IANA time zones for session schedules
)

log() { printf 'quickstart: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

ensure_packages() {
	local missing=() p
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		die "missing packages; run as root: apt-get update && apt-get install -y ${missing[*]}"
	fi
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build DIR [meson options...]: configure once, then an incremental build.
build() {
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		log "configuring $dir"
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 ||
			{ cat "$dir.setup.log" >&2; die "meson setup failed"; }
		rm -f "$dir.setup.log"
	fi
	ninja -C "$dir" >"$dir.ninja.log" 2>&1 ||
		{ tail -n 60 "$dir.ninja.log" >&2; die "build failed in $dir (full log: $dir.ninja.log)"; }
	rm -f "$dir.ninja.log"
}

run_tests() {
	local dir=$1; shift
	local rc=0
	meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || rc=$?
	python3 "$here/test_summary.py" "$dir/meson-logs/testlog.json" || true
	return $rc
}

cmd=${1:-}
shift || true
case "$cmd" in
demo)
	ensure_packages
	build build
	exec "$here/demo.sh" build "$@"
	;;
test)
	sanitize=0
	for a in "$@"; do
		case "$a" in
		--sanitize) sanitize=1 ;;
		*) die "test: unknown option '$a'" ;;
		esac
	done
	ensure_packages
	if [ $sanitize -eq 1 ]; then
		# ASan+UBSan: any report is fatal, so a sanitizer finding fails the test.
		export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
		export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
		build build-asan -Db_sanitize=address,undefined -Db_lundef=false \
			-Doptimization=1 -Dquickfix=disabled
		run_tests build-asan --no-suite bench
	else
		build build
		run_tests build
	fi
	;;
*)
	cat >&2 <<USAGE
usage: deploy/quickstart.sh demo             build and run the demo
       deploy/quickstart.sh test [--sanitize] build and run the test suite
USAGE
	exit 2
	;;
esac
