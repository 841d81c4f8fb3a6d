#!/usr/bin/env bash
# ringfix benchmark harness: every benchmark, one report.
#
#   bench/run.sh [--quick|--long] [--runs N] [--only NAME[,NAME...]] [--json FILE]
#                [--out DIR] [--build DIR] [--layout single|threads]
#
# Runs the steps of the table below in order (each repeats its measurement
# --runs times, default 3, and reports medians with min-max), then
# bench/report.py prints the report table, writes the combined JSON (--json,
# default OUT/report.json) and PNG latency-percentile plots (gnuplot) into
# OUT (default BUILD/bench-report). A step whose program is not built is
# skipped with a note. Figures are only as good as the machine is quiet.
# --layout picks rt_bench's core layout (default single; see bench/README.md).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

# One line per step:  step NAME PROGRAM ARGS...
# PROGRAM is looked up in BUILD/bench (or BUILD/cli). In ARGS these words are
# replaced: @RUNS@ run count, @QUICK@ --quick or nothing, @SIZE@ rt_bench
# sizing for --quick/--long, @RINGFIXD@ the daemon, @QF_ACCEPTOR@ the QuickFIX
# acceptor of the sessions/resend benchmarks, @JSONL@ the file where the step
# appends JSON lines (steps that print their JSON object on stdout need not
# use it), @OUT@ the output directory (percentile curves go there), @LAYOUT@
# rt_bench's --layout option. Options after @SIZE@ win over it
# (rt-ringfix-full: an fdatasync per commit makes each round trip
# milliseconds, so it gets fewer orders and a lower rate).
steps() {
	cat <<'EOF'
step codec          codec_bench   --json --runs @RUNS@ @QUICK@
step validate       validate_bench --json --runs @RUNS@ @QUICK@
step store          store_bench   --json --runs @RUNS@ @QUICK@
step ring           ring_bench    --json --runs @RUNS@ @QUICK@
step rt-floor       rt_bench      --engine floor   @LAYOUT@ --runs @RUNS@ @SIZE@ --json @JSONL@ --curves @OUT@
step rt-ringfix     rt_bench      --engine ringfix @LAYOUT@ --durability batch --ringfixd @RINGFIXD@ --runs @RUNS@ @SIZE@ --json @JSONL@ --curves @OUT@
step rt-ringfix-none rt_bench     --engine ringfix @LAYOUT@ --durability none  --ringfixd @RINGFIXD@ --runs @RUNS@ @SIZE@ --json @JSONL@ --curves @OUT@
step rt-ringfix-full rt_bench     --engine ringfix @LAYOUT@ --durability full  --ringfixd @RINGFIXD@ --runs @RUNS@ @SIZE@ --orders 300 --warmup 20 --rate 100 --rate-orders 300 --stream 20000 --json @JSONL@ --curves @OUT@
step rt-qf-mem      rt_bench      --engine qf-mem  @LAYOUT@ --runs @RUNS@ @SIZE@ --json @JSONL@ --curves @OUT@
step rt-qf-file     rt_bench      --engine qf-file @LAYOUT@ --runs @RUNS@ @SIZE@ --json @JSONL@ --curves @OUT@
step sessions       sessions_bench --ringfixd @RINGFIXD@ --qf-acceptor @QF_ACCEPTOR@ --json @JSONL@ @QUICK@
step resend         resend_bench   --ringfixd @RINGFIXD@ --qf-acceptor @QF_ACCEPTOR@ --json @JSONL@ @QUICK@
EOF
}

usage() {
	sed -n '4,5p' "$0" | sed 's/^# *//' >&2
	exit 2
}

quick="" size="" runs=3 only="" json="" out="" build="$top/build" layout=single
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=--quick; size=--quick ;;
	--long) quick=""; size="--orders 200000 --rate-orders 50000 --stream 1000000" ;;
	--runs) runs=${2:?}; shift ;;
	--only) only=${2:?}; shift ;;
	--json) json=${2:?}; shift ;;
	--out) out=${2:?}; shift ;;
	--build) build=${2:?}; shift ;;
	--layout) layout=${2:?}; shift ;;
	*) usage ;;
	esac
	shift
done
case $runs in '' | *[!0-9]* | 0) echo "run.sh: --runs wants a positive number" >&2; exit 2 ;; esac
case $layout in single | threads) ;; *) echo "run.sh: --layout wants single or threads" >&2; exit 2 ;; esac
[ -d "$build/bench" ] || { echo "run.sh: no $build/bench; build first (bash deploy/quickstart.sh test)" >&2; exit 1; }
out=${out:-$build/bench-report}
json=${json:-$out/report.json}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Each step replaces its own files, so --only refreshes part of a report.
rm -f "$out/skipped.txt"

ringfixd=$build/cli/ringfixd
failed=""
qf_acceptor=${QF_ACCEPTOR:-$build/bench/qf_acceptor}

if [ -n "$only" ] && [ -f "$out/machine.txt" ]; then
	# A partial rerun keeps the first run's description and notes itself.
	echo "rerun of $only: $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)" |
		tee -a "$out/machine.txt"
else
	{
		echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs online"
		echo "kernel: $(uname -r)"
		echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "options: runs=$runs layout=$layout ${quick:+quick }${size:+size=$size}"
	} | tee "$out/machine.txt"
fi

wanted() {
	[ -z "$only" ] && return 0
	case ",$only," in *",$1,"*) return 0 ;; esac
	return 1
}

while read -r kw name prog args; do
	[ "$kw" = step ] || continue
	wanted "$name" || continue
	bin=$build/bench/$prog
	[ -x "$bin" ] || bin=$build/cli/$prog
	if [ ! -x "$bin" ]; then
		echo "== $name: skipped ($prog is not built)" | tee -a "$out/skipped.txt"
		continue
	fi
	case $args in *@QF_ACCEPTOR@*)
		if [ ! -x "$qf_acceptor" ]; then
			echo "== $name: skipped (no QuickFIX acceptor at $qf_acceptor; set QF_ACCEPTOR)" |
				tee -a "$out/skipped.txt"
			continue
		fi ;;
	esac
	jsonl=$out/$name.jsonl
	rm -f "$jsonl"
	args=${args//@RUNS@/$runs}
	args=${args//@QUICK@/$quick}
	args=${args//@SIZE@/$size}
	args=${args//@RINGFIXD@/$ringfixd}
	args=${args//@QF_ACCEPTOR@/$qf_acceptor}
	args=${args//@JSONL@/$jsonl}
	args=${args//@OUT@/$out}
	args=${args//@LAYOUT@/--layout $layout}
	echo "== $name: $prog $args"
	# shellcheck disable=SC2086 # args is a word list by design
	if ! "$bin" $args >"$out/$name.log" 2>&1; then
		echo "   FAILED (log: $out/$name.log)"
		failed="$failed $name"
		tail -n 5 "$out/$name.log" | sed 's/^/   /'
		continue
	fi
	# Steps that print their JSON object on stdout: keep those lines too.
	grep '^{' "$out/$name.log" >>"$jsonl" || true
	grep -v '^{' "$out/$name.log" | sed 's/^/   /' | head -n 40 || true
done < <(steps)

python3 "$here/report.py" "$out" --json "$json"
if [ -n "$failed" ]; then
	echo "run.sh: failed steps:$failed" >&2
	exit 1
fi
