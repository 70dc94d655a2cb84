#!/usr/bin/env bash
# Run pulpdist's end-to-end tests: every tests/e2e/t[0-9]*.sh in order (or
# the test files named as arguments), each in its own bash, with a time
# limit.  Prints PASS or FAIL per file (a failing file's output after it)
# and a total line; exits 1 if any file failed.
#
#   PULPDIST=/abs/path/pulpdist tests/e2e/run.sh      (what make check-e2e runs)
#   tests/e2e/run.sh tests/e2e/t1101-import.sh        (one file)
#
# E2E_TIMEOUT sets the per-file limit in seconds (default 120).
set -u
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
: "${PULPDIST:=$top/pulpdist}"
case $PULPDIST in
/*) ;;
*) PULPDIST=$PWD/$PULPDIST ;;
esac
export PULPDIST
if [ ! -x "$PULPDIST" ] || [ -d "$PULPDIST" ]; then
	echo "run.sh: PULPDIST=$PULPDIST is not an executable;" \
	    "run make, or set PULPDIST" >&2
	exit 1
fi

if [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=("$here"/t[0-9]*.sh)
	if [ ! -e "${tests[0]}" ]; then
		echo "run.sh: no tests in $here" >&2
		exit 1
	fi
fi

limit=${E2E_TIMEOUT:-120}
log=$(mktemp "${TMPDIR:-/tmp}/pulpdist-e2e-run.XXXXXX")
trap 'rm -f "$log"' EXIT

echo "pulpdist e2e: $PULPDIST"
pass=0
fail=0
failed=
start_all=$EPOCHREALTIME
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	start=$EPOCHREALTIME
	if [ ! -f "$t" ]; then
		echo "no such test file" >"$log"
		rc=127
	else
		timeout -k 5 "$limit" bash "$t" >"$log" 2>&1 </dev/null
		rc=$?
	fi
	secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" \
	    'BEGIN { printf "%.1f", b - a }')
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1))
		printf 'PASS  %-36s %6ss\n' "$name" "$secs"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		why="exit status $rc"
		[ "$rc" != 124 ] || why="timed out after ${limit}s"
		printf 'FAIL  %-36s %6ss  (%s)\n' "$name" "$secs" "$why"
		sed 's/^/    /' "$log"
	fi
done
secs=$(awk -v a="$start_all" -v b="$EPOCHREALTIME" \
    'BEGIN { printf "%.1f", b - a }')
echo "total: $((pass + fail)) test files, $pass passed, $fail failed" \
    "(${secs}s)"
if [ "$fail" != 0 ]; then
	echo "failed:$failed"
	exit 1
fi
exit 0
