#!/usr/bin/env bash
# Pull speed and wire bytes on real data, next to rsync measured in the
# same run (issue 3, "Speed").  Not a test: run by hand or with
# `make bench`.
#
#   tests/bench/pull.sh [RUNS]
#
# Data: two versions of Debian's linux-source-6.1, fetched (once) by
# ../shared/bench/get-linux-source.sh into $BENCH_DATA (default
# /tmp/pulpdist-bench).  Work files go to $BENCH_WORK (default
# /tmp/pulpdist-bench-pull), removed at the end unless BENCH_KEEP=1.
# BENCH_SETTLE: seconds to wait after copying the starting trees (65).
#
# Setup: an origin imports V1 then V2 (computing the deltas of what
# changed, once) and serves on 127.0.0.1; a mirror pulls V1.  Then, for
# RUNS runs (default 3), from a fresh copy of that V1 mirror:
#   pulpdist pull V1 -> V2, and
#   rsync -az --delete from an rsync daemon on 127.0.0.1 serving V2 into
#   a copy of V1 (what sites do today).
# For each: wall time, bytes on the wire, and the CPU time the origin
# (pulpdist serve, or the rsync daemon and its children) spent on it.
# The first pulpdist run also pays for compressing what it sends (done
# once, then cached for every later client); later runs show what each
# further mirror costs.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_linux_data
runs=${1:-3}
bench_workdir pulpdist-bench-pull

echo "setup: origin imports V1 and V2, mirror pulls V1" >&2
"$pd" keygen k >/dev/null
"$pd" import --data origin --tree linux --key k.key "$v1" >/dev/null
bench_serve origin
"$pd" pull --data mirror-v1 --from "$url" --tree linux --trust k.pub \
    --publish pub-v1 >/dev/null
"$pd" import --data origin --tree linux --key k.key "$v2" >import2.out
# A copy of the V1 mirror for every run: cp -a keeps its hardlinks.
cp -a "$v1" rsync-v1

bench_rsyncd "$v2"

: >results
: >phases
# Every run's starting trees are copied now, and nothing is deleted until
# the end: ext4 skips inodes freed in the last minute when it allocates,
# so deleting 80,000 files just before a run slows whatever creates files
# next (both tools; pulpdist, which builds the version in one burst, the
# most).  "The last minute" is six while the inode table's blocks are
# dirty, and a sync does not clean them all.  A mirror deletes old
# versions after it publishes, long before the next release comes.
echo "copying the starting trees of $runs runs" >&2
for r in $(seq 1 "$runs"); do
	cp -a mirror-v1 "mirror-$r"
	cp -a pub-v1 "pub-$r"
	# The link points into mirror-v1; point the copy at its own tree.
	ln -sfn "$work/mirror-$r/versions/linux/1" "pub-$r/linux"
	cp -a rsync-v1 "rdst-$r"
done
sync
sleep "${BENCH_SETTLE:-65}"
for r in $(seq 1 "$runs"); do
	echo "pulpdist run $r of $runs" >&2
	sync
	c0=$(cpu_ms "$server")
	/usr/bin/time -f "%e %M" -o time.out "$pd" pull --data "mirror-$r" \
	    --from "$url" --tree linux --trust k.pub --publish "pub-$r" \
	    --json >pull.json
	c1=$(cpu_ms "$server")
	read -r wall rss <time.out
	wire=$(python3 -c 'import json; print(json.load(open("pull.json"))["wire_bytes"])')
	n=$(rsync -rlpcn --delete --itemize-changes "$v2/" "pub-$r/linux/" |
	    wc -l)
	[ "$n" = 0 ] || { echo "pulpdist mirror differs from V2 in $n places" >&2; exit 1; }
	echo "pd $r $wall $wire $((c1 - c0)) $rss" >>results
	python3 -c 'import json; d = json.load(open("pull.json"))
print("pulpdist run %s: %.2f s transfer, beside it %.2f s building what "
      "needs nothing of it, then %.2f s building the rest (%.2f s of it "
      "syncfs)" % ("'"$r"'", d["seconds_transfer"],
      d["seconds_build_early"], d["seconds_build"], d["seconds_sync"]))' \
	    >>phases
done
# rsync's runs last: it replaces every file it updates, freeing 80,000
# inodes a run, which would slow a pull that came after (see above).
bench_rsync_runs "$runs"

median() { # WHO FIELD [FIRST-RUN]
	awk -v w="$1" -v f="$2" -v from="${3:-1}" \
	    '$1 == w && $2 >= from { print $f }' results | sort -g |
	    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b ? a / b : 0 }'; }

echo
echo "pulpdist pull vs rsync -az, $(bench_versions), $runs runs, loopback"
bench_machine
grep -m1 "deltas" import2.out || true
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
pw=$(median pd 3) rw=$(median rsync 3)
pb=$(median pd 4) rb=$(median rsync 4)
pc=$(median pd 5) rc=$(median rsync 5)
echo "medians: wall $(ratio "$pw" "$rw")× rsync's (goal ≤ 0.3)," \
    "wire $(ratio "$pb" "$rb")× (goal ≤ 0.06; ${pb} B, goal ≤ 1 MB)," \
    "origin CPU $(ratio "$pc" "$rc")× (goal ≤ 0.05)"
if [ "$runs" -gt 1 ]; then
	echo "later runs only (compression cached): origin CPU" \
	    "$(ratio "$(median pd 5 2)" "$(median rsync 5 2)")× rsync's"
fi
