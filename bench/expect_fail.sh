#!/usr/bin/env bash
# expect_fail.sh CODE TEXT PROGRAM ARGS...: passes when PROGRAM exits with
# CODE and its stderr contains TEXT (the meson tests of rt_bench's run check
# and usage errors: a failure for another reason must not count).
set -u
code=$1 text=$2
shift 2
err=$(mktemp) || exit 1
trap 'rm -f "$err"' EXIT
"$@" >/dev/null 2>"$err"
rc=$?
cat "$err" >&2
if [ "$rc" -ne "$code" ]; then
	echo "expect_fail: exit $rc, wanted $code" >&2
	exit 1
fi
if ! grep -qF -- "$text" "$err"; then
	echo "expect_fail: stderr lacks '$text'" >&2
	exit 1
fi
