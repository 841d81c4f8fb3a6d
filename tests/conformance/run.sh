#!/usr/bin/env bash
# QuickFIX's acceptance suite over TCP against a real ringfixd and `ringfix echo`.
#
#   run.sh [--config SETTINGS] [--ringfixd BIN] [--ringfix BIN] [--known FILE] DEF_DIR...
#
# The settings (../shared/conformance/at.cfg by default) are rewritten into a
# temp dir: a free port, a temp store, absolute dictionary paths, a unique
# instance name, block idle (the machine is shared). ringfixd and the echo
# application start, at_runner.py runs each DEF_DIR (in parallel: the versions
# use different sessions on the same acceptor), the runner's totals print, and
# everything stops (always, via trap). Exit 0 when every file passed and
# ringfixd stopped cleanly, 1 otherwise, 77 (skip) when ../shared is absent.
# Binaries default to build/cli/ under the repository. --known names files
# expected to fail (known_failures.txt format: NAME.def or VERSION/NAME.def):
# they print XFAIL and do not fail the run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
conf_dir=$(cd "$root/.." && pwd)/shared/conformance
config=""
known=""
ringfixd="$root/build/cli/ringfixd"
ringfix_bin="$root/build/cli/ringfix"
dirs=()
while [ $# -gt 0 ]; do
	case "$1" in
	--config) config=$2; shift 2 ;;
	--ringfixd) ringfixd=$2; shift 2 ;;
	--ringfix) ringfix_bin=$2; shift 2 ;;
	--known) known=$2; shift 2 ;;
	-h|--help) sed -n '2,13p' "$0"; exit 0 ;;
	*) dirs+=("$1"); shift ;;
	esac
done
if [ ! -f "$conf_dir/at_runner.py" ]; then
	echo "SKIP: conformance data not found at $conf_dir (the ../shared checkout)"
	exit 77
fi
[ -n "$config" ] || config="$conf_dir/at.cfg"
[ ${#dirs[@]} -gt 0 ] || dirs=("$conf_dir/definitions/server/fix42" \
	"$conf_dir/definitions/server/fix44" "$conf_dir/definitions/server/fix50sp2")
for b in "$ringfixd" "$ringfix_bin"; do
	[ -x "$b" ] || { echo "run.sh: $b not built" >&2; exit 1; }
done
command -v python3 >/dev/null || { echo "SKIP: python3 not found"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rfx-at.XXXXXX")
dpid=""; epid=""
cleanup() {
	[ -n "$epid" ] && kill "$epid" 2>/dev/null && wait "$epid" 2>/dev/null
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
		kill "$dpid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$dpid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
instance="at$$$(date +%N | cut -c1-6)"
python3 - "$config" "$tmp/at.cfg" "$port" "$instance" "$tmp/store" <<'PY'
import os, re, sys
src, dst, port, inst, store = sys.argv[1:]
base = os.path.dirname(os.path.abspath(src))
out, engine_seen = [], False
for line in open(src).read().splitlines():
    key = line.split("=", 1)[0].strip()
    val = line.split("=", 1)[1].strip() if "=" in line else ""
    if key == "SocketAcceptPort":
        line = "SocketAcceptPort=" + port
    elif key in ("DataDictionary", "TransportDataDictionary", "AppDataDictionary") and val \
            and not os.path.isabs(val):
        line = key + "=" + os.path.join(base, val)
    elif key in ("InstanceName", "StorePath", "IdleStrategy"):
        continue
    out.append(line)
    if line.strip().upper() == "[ENGINE]":
        engine_seen = True
        out += ["InstanceName=" + inst, "StorePath=" + store, "IdleStrategy=block"]
if not engine_seen:
    out += ["[ENGINE]", "InstanceName=" + inst, "StorePath=" + store, "IdleStrategy=block"]
open(dst, "w").write("\n".join(out) + "\n")
PY

"$ringfixd" "$tmp/at.cfg" 2>"$tmp/ringfixd.log" &
dpid=$!
ready=0
for _ in $(seq 200); do
	grep -q "serving" "$tmp/ringfixd.log" 2>/dev/null && { ready=1; break; }
	kill -0 "$dpid" 2>/dev/null || break
	sleep 0.05
done
if [ $ready -ne 1 ]; then
	echo "run.sh: ringfixd did not start:" >&2; cat "$tmp/ringfixd.log" >&2; exit 1
fi
"$ringfix_bin" echo --instance "$instance" >"$tmp/echo.out" 2>"$tmp/echo.log" &
epid=$!
ready=0
for _ in $(seq 200); do
	grep -q "bound" "$tmp/echo.out" 2>/dev/null && { ready=1; break; }
	kill -0 "$epid" 2>/dev/null || break
	sleep 0.05
done
if [ $ready -ne 1 ]; then
	echo "run.sh: ringfix echo did not bind:" >&2; cat "$tmp/echo.log" >&2; exit 1
fi

pids=(); i=0
for d in "${dirs[@]}"; do
	python3 "$conf_dir/at_runner.py" --host 127.0.0.1 --port "$port" \
		--fields "$conf_dir/definitions/fields.fmt" "$d"/*.def >"$tmp/runner.$i" 2>&1 &
	pids+=($!); i=$((i + 1))
done
fail=0; i=0
for d in "${dirs[@]}"; do
	wait "${pids[$i]}"
	echo "== $(basename "$d")"
	grep -v '^PASS' "$tmp/runner.$i"
	# Failures not listed as known fail the run.
	python3 - "$tmp/runner.$i" "$(basename "$d")" "$known" <<'PY' || fail=1
import os, sys
out, ver, known = sys.argv[1:]
ok = set()
if known and os.path.exists(known):
    for l in open(known):
        l = l.split("#", 1)[0].strip()
        if l:
            ok.add(l)
lines = open(out).read().splitlines()
if not any(l.endswith(" failed") for l in lines):
    sys.exit(1)          # the runner did not finish
bad = 0
for l in lines:
    if l.startswith("FAIL "):
        name = os.path.basename(l.split()[1])
        if name in ok or ver + "/" + name in ok:
            print("XFAIL (known) " + ver + "/" + name)
        else:
            bad += 1
sys.exit(1 if bad else 0)
PY
	i=$((i + 1))
done

kill "$epid" 2>/dev/null; wait "$epid"; erc=$?; epid=""
kill "$dpid" 2>/dev/null; wait "$dpid"; drc=$?; dpid=""
if [ $drc -ne 0 ] || [ $erc -ne 0 ]; then
	echo "run.sh: ringfixd exited $drc, echo exited $erc" >&2
	fail=1
fi
if [ $fail -ne 0 ] || [ -n "${RFX_AT_VERBOSE:-}" ]; then
	echo "-- ringfixd log"; cat "$tmp/ringfixd.log"
	echo "-- echo log"; cat "$tmp/echo.log"
fi
exit $fail
