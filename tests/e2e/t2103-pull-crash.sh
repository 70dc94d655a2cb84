#!/usr/bin/env bash
# pulpdist pull killed with SIGKILL mid-transfer, again and again: the
# published tree is never partial, and a final pull resumes from what was
# staged and ends exact.  And a reader walking the published tree while
# versions are published one after another always sees one whole version.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-pull.sh"

test_expect_success 'setup: a tree, imported' '
	pd keygen k >/dev/null
	make_tree src
	origin_import
'

serve_start "$ORIGIN"

test_expect_success 'setup: version 1 mirrored' '
	mirror_pull >/dev/null
	cp -a src src-v1
'

# staged_over BYTES: more than BYTES came into the staging area (the
# build begun beside the transfer, copies of the held version, is not
# what came).
staged_over() {
	[ "$(du -sb --exclude=build "$MIRROR/staging/t" 2>/dev/null |
	    cut -f1)" -gt "$1" ] 2>/dev/null
}

# tree_is SRC: PUB/t is exactly SRC.
tree_is() {
	rsync -rlptn --checksum --itemize-changes "$1/" "$PUB/t/" \
	    >"$E2E_META/is.out" && ! [ -s "$E2E_META/is.out" ]
}

test_expect_success 'kill -9 at several points: never partial, then exact' '
	head -c $((24 * 1024 * 1024)) /dev/urandom >src/data/large.img
	for i in $(seq 1 200); do
		echo "file $i $RANDOM" >src/docs/n$i.txt
	done
	origin_import
	proxy_start slow 20
	for at in 0 2000000 8000000 16000000; do
		# The binary itself in the background, so that kill hits it.
		"$PULPDIST" pull --data "$MIRROR" --from "$PROXY_URL" \
			--tree t --trust "$TRUST" --publish "$PUB" \
			>/dev/null 2>&1 &
		pid=$!
		wait_for 60 staged_over $at
		kill -9 $pid
		wait $pid || true
		tree_is src-v1
	done
	proxy_stop
	test -d mirror/staging/t
	mirror_pull --json >pull.json
	json_check pull.json "d[\"to_version\"] == 2" \
		"d[\"resumed_bytes\"] > 0"
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

# built_files DIR N: the build under DIR holds N regular files or more.
built_files() {
	[ "$(find "$1/staging/t/build" -type f 2>/dev/null | wc -l)" -ge "$2" ]
}

# The build moves each staged object into the tree as it comes; a first
# pull killed then finds them there again.  Without its objects and
# partial downloads, whatever resumes came from the build.
test_expect_success 'kill -9 after the build began: its objects resume' '
	proxy_start slow 20
	"$PULPDIST" pull --data mirror2 --from "$PROXY_URL" --tree t \
		--trust "$TRUST" --publish pub2 >/dev/null 2>&1 &
	pid=$!
	wait_for 60 built_files mirror2 20
	kill -9 $pid
	wait $pid || true
	proxy_stop
	! test -e pub2/t
	rm -rf mirror2/staging/t/objects mirror2/staging/t/tmp
	pd pull --data mirror2 --from "$SERVE_URL" --tree t --trust "$TRUST" \
		--publish pub2 --json >pull2.json
	json_check pull2.json "d[\"from_version\"] == 0" \
		"d[\"resumed_bytes\"] > 0"
	rsync_clean src pub2/t
	compare_trees --mtime src pub2/t/
'

test_expect_success 'a reader never sees a mix of two versions' '
	rm -rf src
	mkdir -p src/a/b src/c
	for n in $(seq 3 9); do
		for f in a/1 a/2 a/b/3 a/b/4 c/5 c/6 7 8; do
			echo "version $n" >src/$f
		done
		echo $n >src/c/count-$n
		cp -a src src-$n
	done
	rm -rf src && cp -a src-3 src
	origin_import
	mirror_pull >/dev/null
	"$PYTHON" - "$PUB/t" stop walks.out <<-EOF &
	import os, sys
	top, stop, out = sys.argv[1:]
	walks = bad = 0
	while not os.path.exists(stop):
	    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
	    seen = set()
	    for root, dirs, files, rfd in os.fwalk(dir_fd=fd):
	        for f in files:
	            if f.startswith("count-"):
	                continue
	            with open(os.open(f, os.O_RDONLY, dir_fd=rfd)) as h:
	                seen.add(h.read())
	    os.close(fd)
	    walks += 1
	    if len(seen) != 1:
	        bad += 1
	        print("mixed:", sorted(seen))
	with open(out, "w") as o:
	    print(walks, bad, file=o)
	EOF
	reader=$!
	echo $reader >>"$E2E_META/pids"
	for n in $(seq 4 9); do
		rm -rf src && cp -a src-$n src
		origin_import
		mirror_pull >/dev/null
		tree_is src-$n
	done
	touch stop
	wait $reader
	read walks bad <walks.out
	say "reader: $walks walks, $bad mixed"
	test "$bad" = 0
	test "$walks" -gt 6
'

test_done
