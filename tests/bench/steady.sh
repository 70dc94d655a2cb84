#!/usr/bin/env bash
# The next release on a mirror that has followed the tree before: what
# the spare tree saves (issue 3, "Speed"; README, pull).  Not a test:
# run by hand or with `make bench-steady`.
#
#   tests/bench/steady.sh [RUNS]
#
# Between two kernel releases every file's mtime changes, so a mirror
# that keeps the published version intact must give every file a new
# inode.  The first update after an initial sync copies them all
# (tests/bench/pull.sh measures that); from the second on, the version
# the mirror retired is its spare, and the files whose content stayed
# are moved out of it instead of copied.
#
# Data: V1 and V2 of Debian's linux-source-6.1 (tests/bench/lib.sh), and
# V3 made from V2 the way a release is: every 42nd file edited (about
# the share of the real V1 -> V2 step), then every mtime changed.
# Setup: an origin imports V1, V2, V3 and serves on 127.0.0.1; a mirror
# pulls V1 and V2 with --keep 1, so V2 is published and V1 is the spare.
# Measured, RUNS times (default 1; each run starts from a copy of that
# mirror): pulpdist pull V2 -> V3, and rsync -az --delete from an rsync
# daemon serving V3 into a copy of V2.  BENCH_SETTLE, BENCH_KEEP and
# BENCH_WORK as in pull.sh.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_linux_data
runs=${1:-1}
bench_workdir pulpdist-bench-steady

echo "setup: V3 from V2, every 42nd file edited, every mtime changed" >&2
cp -a "$v2" v3
find v3 -type f | sort | awk 'NR % 42 == 0' >edited
while IFS= read -r f; do
	echo "/* next release */" >>"$f"
done <edited
find v3 -exec touch -h -d "2026-11-30 12:00:00.123456789" {} +

echo "setup: the mirror follows V1 and V2 as they come; then V3" >&2
"$pd" keygen k >/dev/null
"$pd" import --data origin --tree linux --key k.key "$v1" >/dev/null
bench_serve origin
mpull() { # DATA PUB [ARGS...]
	local d=$1 p=$2

	shift 2
	"$pd" pull --data "$d" --from "$url" --tree linux --trust k.pub \
	    --publish "$p" --keep 1 "$@"
}
mpull mirror pub >/dev/null
"$pd" import --data origin --tree linux --key k.key "$v2" >/dev/null
mpull mirror pub >/dev/null
[ -d mirror/spare/linux/1 ] || { echo "no spare after V2" >&2; exit 1; }
"$pd" import --data origin --tree linux --key k.key v3 >import3.out
cp -a "$v2" rsync-v2

bench_rsyncd "$work/v3"

# Starting trees copied first, then a pause: see pull.sh on ext4's
# recently freed inodes.
echo "copying the starting trees of $runs runs" >&2
for r in $(seq 1 "$runs"); do
	cp -a mirror "mirror-$r"
	cp -a pub "pub-$r"
	ln -sfn "$work/mirror-$r/versions/linux/2" "pub-$r/linux"
	cp -a rsync-v2 "rdst-$r"
done
sync
sleep "${BENCH_SETTLE:-65}"
: >results
: >phases
for r in $(seq 1 "$runs"); do
	echo "pulpdist run $r of $runs" >&2
	sync
	c0=$(cpu_ms "$server")
	/usr/bin/time -f "%e %M" -o time.out "$pd" pull --data "mirror-$r" \
	    --from "$url" --tree linux --trust k.pub --publish "pub-$r" \
	    --keep 1 --json >pull.json
	c1=$(cpu_ms "$server")
	read -r wall rss <time.out
	n=$(rsync -rlptcn --delete --itemize-changes v3/ "pub-$r/linux/" |
	    wc -l)
	[ "$n" = 0 ] || { echo "pulpdist mirror differs from V3 in $n places" >&2; exit 1; }
	R=$r W=$wall CPU=$((c1 - c0)) RSS=$rss python3 -c '
import json, os
d = json.load(open("pull.json"))
e = os.environ
print("pd", e["R"], e["W"], d["wire_bytes"], e["CPU"], e["RSS"])
with open("phases", "a") as f:
    print("pulpdist run %s: %.2f s transfer, %.2f s building the version "
          "(%.2f s of it syncfs), %d files taken over from the spare, "
          "%d bytes written" % (e["R"], d["seconds_transfer"],
          d["seconds_build"], d["seconds_sync"], d["recycled"],
          d["bytes_written"]), file=f)' >>results
done
bench_rsync_runs "$runs"

median() { # WHO FIELD
	awk -v w="$1" -v f="$2" '$1 == w { print $f }' results | sort -g |
	    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b ? a / b : 0 }'; }

echo
echo "the next release on a following mirror: V2 -> V3 with V1 the spare;"
echo "$(bench_versions), V3 = V2 with $(wc -l <edited) files edited and" \
    "every mtime changed; $runs runs, loopback"
bench_machine
echo
echo "| run | pulpdist wall | rsync wall | pulpdist wire | rsync wire | pulpdist origin CPU | rsync daemon CPU | pull RSS |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for r in $(seq 1 "$runs"); do
	read -r _ _ pw pb pc prss < <(grep "^pd $r " results)
	read -r _ _ rw rb rc _ < <(grep "^rsync $r " results)
	echo "| $r | $pw s | $rw s | $pb B | $rb B | $pc ms | $rc ms | $((prss / 1024)) MiB |"
done
echo
cat phases
echo
echo "medians: wall $(ratio "$(median pd 3)" "$(median rsync 3)")× rsync's" \
    "(goal ≤ 0.3), wire $(ratio "$(median pd 4)" "$(median rsync 4)")×"
