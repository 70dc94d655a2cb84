#!/usr/bin/env bash
# Import speed on real data, next to the floors measured in the same run
# (issue 2, "Speed").  Not a test: run by hand or with `make bench-import`.
#
#   tests/bench/import.sh [RUNS]
#
# Data: two versions of Debian's linux-source-6.1, fetched (once) by
# ../shared/bench/get-linux-source.sh into $BENCH_DATA (default
# /tmp/pulpdist-bench).  Work files go to $BENCH_WORK (default
# /tmp/pulpdist-bench-import).  Each run, for RUNS runs (default 3):
#   1. first import of V1 into an empty data directory, against
#      `find SRC -type f -print0 | xargs -0 sha256sum` (one process, as the
#      issue states it), the same with xargs -P $(nproc), and `cp -a` plus
#      sync (the import stores a copy of every file);
#   2. re-import of the unchanged tree, against `find SRC -printf '%s %T@\n'`;
#   3. re-import after the source moved to V2 by content (only files whose
#      content differs are rewritten, as `rsync -rlpc` does), against the
#      stat walk plus sha256sum of just those files;
#   4. re-import after `rsync -a --delete V2/ SRC/`, which also changes the
#      mtime of every file (Debian's tarballs stamp every file), against
#      sha256sum of every file.
# Medians are printed with the ratio pulpdist / floor and each import's
# peak RSS.  The page cache is warm for every command alike.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_linux_data
runs=${1:-3}
work=${BENCH_WORK:-/tmp/pulpdist-bench-import}
rm -rf "$work"
mkdir -p "$work"
cd "$work"
"$pd" keygen k >/dev/null
ncpu=$(nproc)

# t NAME CMD...: run CMD, append "NAME seconds peak-kib" to times.  The
# disk is synced first so that no command pays for the one before it
# (pulpdist's commit syncs the filesystem).
t() {
	local name=$1
	shift
	sync
	/usr/bin/time -f "%e %M" -o time.out "$@" >/dev/null 2>cmd.err ||
	    { cat cmd.err >&2; echo "failed: $*" >&2; exit 1; }
	echo "$name $(cat time.out)" >> times
}

warm() { find "$1" -type f -print0 | xargs -0 cat > /dev/null; }

: > times
warm "$v1"
warm "$v2"
# The files V2 changes by content, relative to V1 (for the floor of 3).
rsync -rlpcn --delete --out-format='%n' "$v2/" "$v1/" |
    while IFS= read -r f; do [ -f "$v2/$f" ] && printf '%s\0' "$f"; done \
    > changed.list
nchanged=$(tr -cd '\0' < changed.list | wc -c)

for r in $(seq 1 "$runs"); do
	echo "run $r of $runs" >&2
	rm -rf src data
	cp -a "$v1" src
	warm src
	t floor-sha256sum sh -c \
	    'find src -type f -print0 | xargs -0 sha256sum'
	t floor-sha256sum-P sh -c \
	    "find src -type f -print0 | xargs -0 -P $ncpu -n 500 sha256sum"
	t import-first "$pd" import --data data --tree linux --key k.key src
	rm -rf copy
	t floor-cp sh -c 'cp -a src copy && sync'
	rm -rf copy
	# Let the copy age past the importer's 2 s racy window, so that the
	# stat cache may vouch for every file.
	sleep 2.1
	"$pd" import --data data --tree linux --key k.key src >/dev/null
	t floor-find sh -c "find src -printf '%s %T@\n'"
	t import-unchanged "$pd" import --data data --tree linux \
	    --key k.key src

	rsync -rlpc --delete "$v2/" src/
	warm src
	sleep 2.1
	t floor-changed sh -c "find src -printf '%s %T@\n' >/dev/null &&
	    cd src && xargs -0 sha256sum < ../changed.list"
	t import-content "$pd" import --data data --tree linux --key k.key src

	rm -rf src data
	cp -a "$v1" src
	"$pd" import --data data --tree linux --key k.key src >/dev/null
	rsync -a --delete "$v2/" src/
	warm src
	sleep 2.1
	t floor-all sh -c 'find src -type f -print0 | xargs -0 sha256sum'
	t import-touched "$pd" import --data data --tree linux \
	    --key k.key src
done

median() { # NAME FIELD(2 = seconds, 3 = KiB)
	awk -v n="$1" -v f="$2" '$1 == n { print $f }' times | sort -g |
	    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
row() { # LABEL IMPORT FLOOR FLOORLABEL
	local a b rss
	a=$(median "$2" 2)
	b=$(median "$3" 2)
	rss=$(median "$2" 3)
	printf '| %s | %s s | %s: %s s | %.2f× | %d MiB |\n' "$1" "$a" "$4" \
	    "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')" $((rss / 1024))
}

echo
echo "pulpdist import, $(bench_versions), medians of $runs runs,"
bench_machine
echo "$(find "$v1" -type f | wc -l) files in V1; $nchanged files differ in V2"
echo
echo "| scenario | pulpdist | floor | ratio | peak RSS |"
echo "| --- | --- | --- | --- | --- |"
row "first import" import-first floor-sha256sum "sha256sum"
row "first import" import-first floor-sha256sum-P "sha256sum -P$ncpu"
row "first import" import-first floor-cp "cp -a + sync"
row "unchanged re-import" import-unchanged floor-find "find -printf"
row "V2 by content" import-content floor-changed \
    "stat walk + sha256sum of $nchanged"
row "V2 by rsync -a (all mtimes)" import-touched floor-all "sha256sum all"
