#!/usr/bin/env bash
# pulpdist pull of a tree of many files: two transfer loops at once, cut
# at a pack part boundary, each with its own connections; what either
# receives wrong is fetched again, and the tree is exact.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-pull.sh"

test_expect_success 'setup: 3,000 small files and a few larger, imported' '
	pd keygen k >/dev/null
	mkdir src
	for d in $(seq -w 0 29); do
		mkdir src/d$d
		for f in $(seq -w 0 99); do
			echo "file $d/$f $RANDOM" >src/d$d/f$f
		done
	done
	head -c 3000000 /dev/urandom >src/big1
	head -c 2000000 /dev/urandom >src/d07/big2
	# Fetched alone, amid the first pack part, near the middle.
	head -c 2000000 /dev/urandom >src/d15/f50b
	origin_import
'

serve_start "$ORIGIN"

test_expect_success 'first pull: two loops, the tree exact' '
	mirror_pull --json >pull.json
	json_check pull.json "d[\"to_version\"] == 1" \
		"d[\"transfer_loops\"] == 2" "d[\"objects_fetched\"] == 3003"
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

# A pack part holds at most 2,048 items: 3,000 changes make two parts,
# one for each loop.
test_expect_success 'an update of every file: two loops over the pack' '
	for d in $(seq -w 0 29); do
		for f in $(seq -w 0 99); do
			echo "more $RANDOM" >>src/d$d/f$f
		done
	done
	scatter_edit src/d15/f50b 4
	origin_import
	proxy_start none
	mirror_pull_from "$PROXY_URL" --json >pull.json
	proxy_stop
	json_check pull.json "d[\"to_version\"] == 2" \
		"d[\"transfer_loops\"] == 2" "d[\"pack_parts\"] == 2" \
		"d[\"pack_misses\"] == 0" "d[\"files\"][\"changed\"] == 3001"
	# Each part asked for once, by the loop that holds all of it; the
	# file fetched alone splits neither.
	test $(proxy_log | grep -c "GET .*/pack/0?") = 1
	test $(proxy_log | grep -c "GET .*/pack/1?") = 1
	! proxy_log | grep -q "POST /v1/batch"
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

test_expect_success 'damaged answers in both loops: fetched again, exact' '
	for d in $(seq -w 0 29); do
		for f in $(seq -w 0 99); do
			echo "again $RANDOM" >>src/d$d/f$f
		done
	done
	origin_import
	# Packs only: a batch asking again could otherwise meet the second
	# damage before the pack of the other loop does.
	proxy_start packcontent 2
	mirror_pull_from "$PROXY_URL" --json >pull.json
	proxy_stop
	json_check pull.json "d[\"to_version\"] == 3" \
		"d[\"transfer_loops\"] == 2"
	# Both parts damaged, then asked for again by a batch.
	test $(proxy_log | grep -c "pack/.* flipped object") = 2
	proxy_log | grep -q "POST /v1/batch 200"
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

test_done
