#!/usr/bin/env bash
# Relays (DESIGN.md, "Flow of one update", step 6): a mirror serves the
# tree it pulled onwards.  origin -> relay -> leaf, through an initial
# sync and an update with edits: the leaf's tree is exact; the relay
# serves the step's pack part and manifest patch as the very bytes the
# origin made, and its deltas too; it computes no delta and, for the
# step, compresses nothing (a first pull's batches it compresses once).  A relay whose published file is damaged
# on disk makes a leaf fail naming the path, publishing nothing; the
# relay forgets the content of the versions it retires, not the deltas
# it kept; a relay pull killed midway resumes.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-pull.sh"

RELAY=$TEST_ROOT/relay
RPUB=$TEST_ROOT/rpub
LEAF=$TEST_ROOT/leaf
LPUB=$TEST_ROOT/lpub

# relay_pull [ARGS...]: the relay pulls tree t from the origin.
relay_pull() {
	pd pull --data "$RELAY" --from "$ORIGIN_URL" --tree t --trust "$TRUST" \
	    --publish "$RPUB" "$@"
}

# leaf_pull DATA PUB [ARGS...]: a leaf pulls tree t from the relay.
leaf_pull() {
	local data=$1 pub=$2

	shift 2
	pd pull --data "$data" --from "$RELAY_URL" --tree t --trust "$TRUST" \
	    --publish "$pub" "$@"
}

# kept_files DATA AREA: the files a node keeps under DATA/AREA, sorted.
kept_files() {
	(cd "$1" && find "$2" -type f ! -path '*/tmp/*' | sort)
}

# same_as_origin AREA: every file the relay keeps under AREA is the
# origin's file of that name, byte for byte; at least one.
same_as_origin() {
	local f n=0

	for f in $(kept_files "$RELAY" "$1"); do
		cmp "$RELAY/$f" "$ORIGIN/$f" >&5
		n=$((n + 1))
	done
	[ "$n" -ge 1 ] || {
		say "error: the relay keeps nothing under $1"
		return 1
	}
}

test_expect_success 'setup: a tree with a 16 MiB file, imported' '
	pd keygen k >/dev/null
	make_pull_tree
	origin_import
'

serve_start "$ORIGIN"
ORIGIN_URL=$SERVE_URL

test_expect_success 'the relay pulls version 1 from the origin' '
	relay_pull --json >pull.json
	json_check pull.json "d[\"to_version\"] == 1" \
		"sum(d[\"kept\"].values()) == 0"
	rsync_clean src rpub/t
	pd verify --data "$RELAY" --tree t >/dev/null
'

serve_start "$RELAY"
RELAY_URL=$SERVE_URL
RELAY_PID=$SERVE_PID
RELAY_LOG=$SERVE_LOG

test_expect_success 'initial sync: the leaf gets the tree from the relay' '
	leaf_pull "$LEAF" "$LPUB" --json >pull.json
	json_check pull.json "d[\"to_version\"] == 1" \
		"d[\"from_version\"] == 0" "d[\"objects_fetched\"] > 40" \
		"d[\"requests\"] < 20"
	rsync_clean src lpub/t
	compare_trees --mtime src lpub/t/
	compare_trees --mtime rpub/t/ lpub/t/
'

test_expect_success 'initial sync: what the relay compressed, it did once' '
	kept_files "$RELAY" batches >batches.after
	kept_files "$RELAY" zobjects >zobjects.after
	test "$(wc -l <batches.after)" -ge 1
	leaf_pull leaf1b pub1b >/dev/null
	rsync_clean src pub1b/t
	kept_files "$RELAY" batches >batches.again
	kept_files "$RELAY" zobjects >zobjects.again
	test_cmp batches.after batches.again
	test_cmp zobjects.after zobjects.again
	serve_stop "$RELAY_PID"
	# Once each: the two files over 1 MiB, which come alone.
	test_grep "computed 0 deltas (0 not worth it), compressed 2 objects" \
		"$RELAY_LOG"
'

# A new relay server: its counters count the update's hop alone.
serve_start "$RELAY"
RELAY_URL=$SERVE_URL
RELAY_PID=$SERVE_PID
RELAY_LOG=$SERVE_LOG

test_expect_success 'v2: edits, adds, removes, a rename; the relay pulls it' '
	scatter_edit src/data/large.img 10
	for i in 1 2 3 4 5 6 7 8; do
		echo "edited $i" >>src/docs/small-$i.txt
	done
	scatter_edit src/data/medium.bin 2
	echo "a new file" >src/docs/new.txt
	rm src/docs/small-9.txt
	mv src/docs/small-10.txt src/docs/renamed.txt
	chmod 0700 src/docs/small-11.txt
	origin_import
	relay_pull --json >pull.json
	json_check pull.json "d[\"to_version\"] == 2" \
		"d[\"deltas_applied\"] == 2" "d[\"pack_parts\"] >= 1" \
		"d[\"pack_misses\"] == 0" \
		"d[\"kept\"][\"pack_parts\"] == d[\"pack_parts\"]" \
		"d[\"kept\"][\"manifest_patches\"] == 1" \
		"d[\"kept\"][\"deltas\"] == 2" \
		"d[\"kept\"][\"wholes\"] == 8"
	rsync_clean src rpub/t
	kept_files "$RELAY" deltas >deltas.before
'

test_expect_success 'update: the leaf pulls v2 from the relay, by its pack' '
	leaf_pull "$LEAF" "$LPUB" --no-relay --json >pull.json
	json_check pull.json "d[\"from_version\"] == 1" \
		"d[\"to_version\"] == 2" "d[\"deltas_applied\"] == 2" \
		"d[\"pack_parts\"] >= 1" "d[\"pack_misses\"] == 0" \
		"d[\"delta_fallbacks\"] == 0" \
		"d[\"wire_bytes\"] < 1024 * 1024"
	test "$(basename "$(readlink lpub/t)")" = 2
	rsync_clean src lpub/t
	compare_trees --mtime src lpub/t/
'

test_expect_success 'a leaf that serves no one (--no-relay) kept nothing' '
	json_check pull.json "sum(d[\"kept\"].values()) == 0"
	test_path_is_missing leaf/packs
	test_path_is_missing leaf/mpatches
	test_dir_is_empty leaf/staging
'

test_expect_success 'the relay serves the pack part and patch as received' '
	same_as_origin packs
	same_as_origin mpatches
	test "$(kept_files "$RELAY" mpatches | grep -c "\.zst$")" -ge 1
	test "$(kept_files "$RELAY" mpatches | grep -vc "\.zst$")" -ge 1
	same_as_origin deltas
'

test_expect_success 'the relay computed no delta and compressed nothing' '
	kept_files "$RELAY" deltas >deltas.after
	test_cmp deltas.before deltas.after
	serve_stop "$RELAY_PID"
	test_grep "computed 0 deltas (0 not worth it), compressed 0 objects" \
		"$RELAY_LOG"
'

serve_start "$RELAY"
RELAY_URL=$SERVE_URL

test_expect_success 'a plain receiver gets deltas the relay kept, computed none' '
	a=$(pd show --data "$ORIGIN" --tree t --version 1 --json |
		"$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print(next(e[\"sha256\"] for e in d[\"entries\"] if e[\"path\"] == \"data/large.img\"))")
	b=$(pd show --data "$ORIGIN" --tree t --version 2 --json |
		"$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print(next(e[\"sha256\"] for e in d[\"entries\"] if e[\"path\"] == \"data/large.img\"))")
	curl -sS -f -o relay.rdiff "$RELAY_URL/v1/deltas/$a/$b"
	curl -sS -f -o origin.rdiff "$ORIGIN_URL/v1/deltas/$a/$b"
	cmp relay.rdiff origin.rdiff
	echo "$a" >large.1
	echo "$b" >large.2
	kept_files "$RELAY" deltas >deltas.after
	test_cmp deltas.before deltas.after
'

test_expect_success 'a file damaged on the relay: the leaf fails naming it' '
	f=relay/versions/t/2/docs/small-20.txt
	cp -p "$f" saved
	chmod u+w "$f"
	"$PYTHON" -c "import sys; p=sys.argv[1]; b=open(p,\"rb\").read(); open(p,\"r+b\").write(bytes([b[0] ^ 1]))" "$f"
	test_must_fail leaf_pull damaged dpub 2>err
	test_must_fail pd verify --data "$RELAY" --tree t >verify.out
	cp -p saved "$f"
	test_grep "docs/small-20.txt" err
	test_grep "does not hold" err
	test_path_is_missing dpub/t
	test_grep "^bad: docs/small-20.txt: stored content does not match" \
		verify.out
	pd verify --data "$RELAY" --tree t >/dev/null
'

test_expect_success 'a large file damaged or cut on the relay: the same' '
	f=relay/versions/t/2/data/large.img
	cp -p "$f" saved
	chmod u+w "$f"
	scatter_edit "$f" 1
	test_must_fail leaf_pull damaged2 dpub 2>err
	test_grep "data/large.img" err
	test_path_is_missing dpub/t
	truncate -s 1000 "$f"
	test_must_fail leaf_pull damaged2 dpub 2>err
	test_must_fail pd verify --data "$RELAY" --tree t >verify.out
	cp -p saved "$f"
	test_grep "^bad: data/large.img: content missing" verify.out
	test_grep "data/large.img" err
	test_path_is_missing dpub/t
'

test_expect_success 'repaired, the relay serves that leaf the whole tree' '
	leaf_pull damaged dpub >/dev/null
	rsync_clean src dpub/t
	compare_trees --mtime src dpub/t/
'

test_expect_success 'a version retired: its content goes, kept deltas stay' '
	b=$(pd show --data "$ORIGIN" --tree t --version 1 --json |
		"$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print(next(e[\"sha256\"] for e in d[\"entries\"] if e[\"path\"] == \"docs/small-9.txt\"))")
	curl -sS -f -o got "$RELAY_URL/v1/objects/$b"
	echo "v3" >src/v3.txt
	origin_import
	relay_pull --keep 1 >/dev/null
	code=$(curl -sS -o got -w "%{http_code}" "$RELAY_URL/v1/objects/$b")
	test "$code" = 404
	pd verify --data "$RELAY" --tree t >/dev/null
	# A delta it kept is still served: it needs no basis of its own.
	curl -sS -f -o relay.rdiff "$RELAY_URL/v1/deltas/$(cat large.1)/$(cat large.2)"
	cmp relay.rdiff origin.rdiff
	leaf_pull "$LEAF" "$LPUB" >/dev/null
	rsync_clean src lpub/t
'

# relay_staged_over BYTES: more than BYTES came into the relay's staging
# area (its build, copies of the held version, is not what came).
relay_staged_over() {
	[ "$(du -sb --exclude=build "$RELAY/staging/t" 2>/dev/null |
	    cut -f1)" -gt "$1" ] 2>/dev/null
}

test_expect_success 'a relay pull killed midway resumes; the leaf follows' '
	head -c $((8 * 1024 * 1024)) /dev/urandom >src/data/fresh.img
	scatter_edit src/data/large.img 3
	for i in 21 22 23; do
		echo "v4 $i" >>src/docs/small-$i.txt
	done
	origin_import
	SERVE_URL=$ORIGIN_URL
	proxy_start slow 20
	"$PULPDIST" pull --data "$RELAY" --from "$PROXY_URL" --tree t \
		--trust "$TRUST" --publish "$RPUB" >/dev/null 2>&1 &
	pid=$!
	wait_for 60 relay_staged_over 2000000
	kill -9 $pid
	wait $pid || true
	proxy_stop
	test "$(basename "$(readlink rpub/t)")" = 3
	relay_pull --json >pull.json
	json_check pull.json "d[\"to_version\"] == 4" \
		"d[\"resumed_bytes\"] > 0"
	rsync_clean src rpub/t
	leaf_pull "$LEAF" "$LPUB" --json >pull.json
	json_check pull.json "d[\"to_version\"] == 4"
	rsync_clean src lpub/t
	compare_trees --mtime src lpub/t/
'

# A pack part holds at most 2,048 items: 3,000 new files make two parts,
# which the relay receives in two transfer loops at once.
test_expect_success 'a step of 3,000 files: both loops keep their parts' '
	mkdir src/many
	for d in $(seq -w 0 29); do
		for f in $(seq -w 0 99); do
			echo "many $d/$f $RANDOM" >src/many/f$d$f
		done
	done
	origin_import
	relay_pull --json >pull.json
	json_check pull.json "d[\"to_version\"] == 5" \
		"d[\"transfer_loops\"] == 2" "d[\"pack_parts\"] >= 2" \
		"d[\"kept\"][\"pack_parts\"] == d[\"pack_parts\"]"
	leaf_pull "$LEAF" "$LPUB" --json >pull.json
	json_check pull.json "d[\"to_version\"] == 5" \
		"d[\"pack_parts\"] >= 2" "d[\"pack_misses\"] == 0"
	rsync_clean src lpub/t
	compare_trees --mtime src lpub/t/
	same_as_origin packs
'

test_done
