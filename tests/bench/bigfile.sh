#!/usr/bin/env bash
# Memory on one big file: "a 2 GiB file with scattered edits syncs with
# under 100 MiB RSS on both sides".  Not a test: run by hand.
#
#   tests/bench/bigfile.sh [SIZE_MIB]
#
# Makes its own data (SIZE_MIB, default 2048, of random bytes: nothing
# for compression or deltas to find but the edits), so it needs no
# linux-source trees.  Work files go to $BENCH_WORK
# (default /tmp/pulpdist-bench-bigfile), removed at the end unless
# BENCH_KEEP=1.
#
# An origin imports V1 and serves it; a mirror pulls V1.  64 edits of
# 4 KiB are scattered over the file; the origin imports V2 (computing the
# delta) and the mirror pulls it.  Each step's wall time and peak RSS
# come from /usr/bin/time; the server's from its VmHWM, reset between
# the two pulls so the V2 figure is what serving the edits cost.  rsync
# of the same V1 -> V2 change, measured the same way, for comparison.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
size=${1:-2048}
work=${BENCH_WORK:-/tmp/pulpdist-bench-bigfile}
rm -rf "$work"
mkdir -p "$work"
cd "$work"

server=
cleanup() {
	[ -z "$server" ] || kill "$server" 2>/dev/null || true
	wait 2>/dev/null || true
	cd /
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

: >results
# timed NAME CMD...: run CMD under /usr/bin/time, record "NAME secs KiB".
timed() {
	local name=$1
	shift
	/usr/bin/time -f "%e %M" -o time.out "$@" || {
		echo "failed: $*" >&2
		cat time.out >&2
		exit 1
	}
	echo "$name $(cat time.out)" >>results
}
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$server/status"; }

echo "making $size MiB of data" >&2
mkdir src
# AES-CTR of zeros is random-looking and far faster than /dev/urandom;
# openssl complains when head closes the pipe, hence || true.
{ openssl enc -aes-128-ctr -pass pass:x -nosalt </dev/zero 2>/dev/null ||
    true; } | head -c "$((size * 1024 * 1024))" >src/big.img
echo "a small file beside the big one" >src/small.txt
# rsync's quick check compares whole seconds: small runs would edit
# within V1's second and rsync would skip the file.
touch -d '1 hour ago' src/big.img src/small.txt

"$pd" keygen k >/dev/null
echo "import v1, serve, pull v1" >&2
timed "import-v1" "$pd" import --data origin --tree big --key k.key src >/dev/null
bench_serve origin
timed "pull-v1" "$pd" pull --data mirror --from "$url" --tree big \
    --trust k.pub --publish pub --json >pull1.json
echo "server-v1 - $(hwm)" >>results

# rsync's receiver must start from V1, so keep V1 before editing.
cp -a src rdst
echo "scatter 64 edits of 4 KiB, import v2, pull v2" >&2
python3 - src/big.img <<'EOF'
import os, random, sys
size = os.path.getsize(sys.argv[1])
rng = random.Random(1)
with open(sys.argv[1], "r+b") as f:
    # One edit in each 64th of the file: scattered, never overlapping.
    for i in range(64):
        span = size // 64
        f.seek(i * span + rng.randrange(0, span - 4096))
        f.write(os.urandom(4096))
EOF
timed "import-v2" "$pd" import --data origin --tree big --key k.key src >import2.out
echo 5 >"/proc/$server/clear_refs" # resets VmHWM: V2's figure alone
c0=$(cpu_ms "$server")
timed "pull-v2" "$pd" pull --data mirror --from "$url" --tree big \
    --trust k.pub --publish pub --json >pull2.json
c1=$(cpu_ms "$server")
echo "server-v2 $(awk -v t=$((c1 - c0)) 'BEGIN { printf "%.2f", t / 1000 }') $(hwm)" >>results
kill "$server"
wait "$server" 2>/dev/null || true
server=

cmp src/big.img pub/big/big.img
cmp src/small.txt pub/big/small.txt
read -r to deltas wire < <(python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(j["to_version"], j["deltas_applied"], j["wire_bytes"])' pull2.json)
[ "$to" = 2 ] || { echo "pull v2: to_version $to, not 2" >&2; exit 1; }
[ "$deltas" -ge 1 ] || { echo "pull v2: no delta applied" >&2; exit 1; }

timed "rsync" rsync -a --no-whole-file --stats src/ rdst/ >rsync.out
cmp src/big.img rdst/big.img

row() { # KEY LABEL
	read -r _ s kib < <(grep "^$1 " results)
	echo "| $2 | $s | $(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }') |"
}
echo
echo "pulpdist, one $size MiB file, 64 scattered 4 KiB edits, loopback"
bench_machine
echo
echo "| step | seconds | peak RSS MiB |"
echo "| --- | --- | --- |"
row import-v1 "import v1"
row pull-v1 "pull v1"
row server-v1 "server, through pull v1 (VmHWM)"
row import-v2 "import v2 (delta computed)"
row pull-v2 "pull v2"
row server-v2 "server, during pull v2 (CPU s, VmHWM)"
row rsync "rsync -a --no-whole-file v1→v2 (local)"
echo
echo "pull v2: to_version $to, deltas_applied $deltas, wire_bytes $wire;" \
    "rsync literal data $(sed -n 's/^Literal data: //p' rsync.out)"
echo "import v2: $(grep -m1 'deltas:' import2.out | sed 's/^ *//')"
worst=$(awk '$1 ~ /^(import-v2|pull-v2|server-v2)$/ && $3 > m { m = $3 }
    END { print m }' results)
if [ "$worst" -lt $((100 * 1024)) ]; then verdict=met; else verdict="NOT met"; fi
echo "goal: under 100 MiB on both sides: $verdict" \
    "(largest of import v2, pull v2, server during pull v2: $((worst / 1024)) MiB)"
