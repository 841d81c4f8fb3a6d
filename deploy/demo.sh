#!/usr/bin/env bash
# ringfix demo: deploy/demo.sh BUILD_DIR [--orders N] [--fill-ratio R] [--seed S]
#                     [--partials N] [--latency-us N] [--window K | --rate R]
#                     [--dictionary FIX44.xml]   (both sides validate every message)
#
# The whole runtime end to end on this machine, in a temp dir:
#   venue: ringfixd (acceptor FIX.4.4 VENUE->BANK) + `ringfix venue` (acks, seeded fills)
#   bank:  ringfixd (initiator FIX.4.4 BANK->VENUE) + examples/strategy (sends the orders)
# then prints the strategy's report and `ringfix status` of both instances, and stops
# everything with SIGTERM (the sessions log out) — also on errors and Ctrl-C.
set -euo pipefail

usage() {
	echo "usage: deploy/demo.sh BUILD_DIR [--orders N] [--fill-ratio R] [--seed S]" >&2
	echo "                      [--partials N] [--latency-us N] [--window K | --rate R]" >&2
	echo "                      [--dictionary FIX44.xml]" >&2
	exit 2
}
build=${1:-}
[ -n "$build" ] && [ -d "$build" ] || usage
shift
orders=20000 ratio=0.8 seed=1 partials=0 latency=0 dict= flow=(--window 8)
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case "$1" in
	--orders) orders=$2 ;;
	--fill-ratio) ratio=$2 ;;
	--seed) seed=$2 ;;
	--partials) partials=$2 ;;
	--latency-us) latency=$2 ;;
	--dictionary) dict=$(cd "$(dirname "$2")" && pwd)/$(basename "$2") ;;
	--window | --rate) flow=("$1" "$2") ;;
	*) usage ;;
	esac
	shift 2
done
build=$(cd "$build" && pwd)
ringfixd=$build/cli/ringfixd ringfix=$build/cli/ringfix strategy=$build/examples/strategy
for b in "$ringfixd" "$ringfix" "$strategy"; do
	[ -x "$b" ] || { echo "demo: $b not found; build first: ninja -C $build" >&2; exit 1; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/ringfix-demo.XXXXXX")
venue=demo-venue-$$ bank=demo-bank-$$
venue_pid= sim_pid= bank_pid=
clean_stop=1

# SIGTERM one process and wait up to 20 s for it; its exit status is the result.
stop() {
	local pid=$1 name=$2 rc=0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "demo: $name did not stop in 20 s; killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	if [ "$rc" != 0 ]; then
		echo "demo: $name exited with status $rc (log: $dir)" >&2
		clean_stop=0
	fi
}
cleanup() {
	# The bank logs out first (its ringfixd sends Logout and waits for the answer).
	stop "$bank_pid" "bank ringfixd"
	stop "$sim_pid" "ringfix venue"
	stop "$venue_pid" "venue ringfixd"
	venue_pid= sim_pid= bank_pid=
	grep -h "^venue:" "$dir/sim.log" 2>/dev/null | tail -1 || true
	if [ "$clean_stop" = 1 ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # FILE TEXT: until TEXT appears in FILE (10 s)
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "demo: timed out waiting for '$2' in $1:" >&2
	tail -5 "$1" >&2 || true
	return 1
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# IdleStrategy=spin-yield: idle shards poll, then sched_yield. Pure spinning would let
# four processes starve each other on a small machine; block (sleep until woken) is
# kind to the CPUs but each wake-up costs milliseconds here. Yielding keeps the
# round trip in the hundreds of microseconds and hands the CPU to whoever has work.
common="[DEFAULT]
StartTime=00:00:00
EndTime=00:00:00
HeartBtInt=30"
if [ -n "$dict" ]; then
	common="$common
UseDataDictionary=Y
DataDictionary=$dict"
else
	common="$common
UseDataDictionary=N"
fi
cat >"$dir/venue.cfg" <<CFG
$common
[SESSION]
ConnectionType=acceptor
BeginString=FIX.4.4
SenderCompID=VENUE
TargetCompID=BANK
SocketAcceptPort=$port
[ENGINE]
InstanceName=$venue
StorePath=$dir/venue-store
IdleStrategy=spin-yield
CFG
cat >"$dir/bank.cfg" <<CFG
$common
[SESSION]
ConnectionType=initiator
BeginString=FIX.4.4
SenderCompID=BANK
TargetCompID=VENUE
SocketConnectHost=127.0.0.1
SocketConnectPort=$port
ReconnectInterval=1
[ENGINE]
InstanceName=$bank
StorePath=$dir/bank-store
IdleStrategy=spin-yield
CFG

echo "demo: two ringfix instances on 127.0.0.1:$port, FIX.4.4, stores in $dir"
echo "demo: IdleStrategy=spin-yield: $(nproc) CPUs shared by 5 processes, so idle loops yield"
echo "demo: the CPU instead of spinning (spin) or sleeping until woken (block, ms wake-ups)"
"$ringfixd" "$dir/venue.cfg" >"$dir/venue.log" 2>&1 &
venue_pid=$!
wait_for "$dir/venue.log" serving
"$ringfix" venue --instance "$venue" --fill-ratio "$ratio" --seed "$seed" \
	--partials "$partials" --latency-us "$latency" >"$dir/sim.log" 2>&1 &
sim_pid=$!
wait_for "$dir/sim.log" bound
echo "demo: venue  '$venue': ringfixd acceptor VENUE->BANK + ringfix venue (fills $ratio of orders, seed $seed)"
[ "$partials$latency" = 00 ] || echo "demo:        each fill after $partials partial fills; answers delayed by $latency us"
"$ringfixd" "$dir/bank.cfg" >"$dir/bank.log" 2>&1 &
bank_pid=$!
wait_for "$dir/bank.log" serving
echo "demo: bank   '$bank': ringfixd initiator BANK->VENUE + examples/strategy"
echo "demo: each order: strategy -> shared-memory ring -> bank ringfixd -> FIX over TCP ->"
echo "demo: venue ringfixd -> ring -> ringfix venue, and its ExecutionReports the way back"
echo
rc=0
"$strategy" --instance "$bank" --session "FIX.4.4:BANK->VENUE" --orders "$orders" "${flow[@]}" \
	--idle yield --timeout-s 45 || rc=$?
echo
"$ringfix" status --instance "$bank" || true
echo
"$ringfix" status --instance "$venue" || true
echo
cleanup
trap - EXIT
if [ "$rc" = 0 ] && [ "$clean_stop" = 1 ]; then
	echo "demo: stopped cleanly (SIGTERM: the bank logged out, the venue answered). Done."
	exit 0
fi
echo "demo: FAILED (strategy exit $rc); logs kept in $dir" >&2
exit 1
