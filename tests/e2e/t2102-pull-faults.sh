#!/usr/bin/env bash
# pulpdist pull against an upstream that misbehaves (tests/e2e/
# fault-proxy.py between the mirror and a real origin): a tampered
# manifest, content whose hash does not match (refetched once, then a
# failure), deltas that do not apply (whole content instead), an origin
# dying mid-transfer (resumed later with Range), a rollback, an expired
# manifest, an upstream that makes no packs.  Every failure names what
# went wrong and publishes nothing.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-pull.sh"

test_expect_success 'setup: origin with version 1, served' '
	pd keygen k >/dev/null
	make_tree src
	head -c $((4 * 1024 * 1024)) /dev/urandom >src/data/large.img
	for i in $(seq 1 30); do
		echo "small $i $RANDOM" >src/docs/s$i.txt
	done
	origin_import
	cp -a origin origin-v1
'

serve_start "$ORIGIN"

test_expect_success 'a tampered manifest: refused, nothing held or published' '
	proxy_start manifest
	test_must_fail mirror_pull_from $PROXY_URL 2>err
	proxy_stop
	test_grep "manifest of t version 1" err
	proxy_log >log
	test_grep tampered log
	test_path_is_missing pub/t
	test_must_fail pd log --data "$MIRROR" --tree t 2>/dev/null
'

test_expect_success 'content damaged once: fetched again, the tree exact' '
	proxy_start content 1
	mirror_pull_from $PROXY_URL >out
	proxy_stop
	proxy_log >log
	test_grep flipped log
	rsync_clean src pub/t
	test "$(published_version)" = 1
'

test_expect_success 'content always damaged: fails naming the path' '
	echo "version two" >>src/docs/s1.txt
	echo "a new file" >src/new.txt
	origin_import
	proxy_start content
	test_must_fail mirror_pull_from $PROXY_URL 2>err
	proxy_stop
	test_grep "wrong twice" err
	test_grep -e "docs/s1.txt" -e "new.txt" err
	test "$(published_version)" = 1
'

test_expect_success 'damaged deltas: whole content instead, the tree exact' '
	scatter_edit src/data/large.img 4
	for i in $(seq 1 30); do
		echo "edit $i" >>src/docs/s$i.txt
	done
	origin_import
	proxy_start delta
	mirror_pull_from $PROXY_URL --json >pull.json
	proxy_stop
	proxy_log >log
	test_grep "flipped delta" log
	json_check pull.json "d[\"delta_fallbacks\"] >= 1" \
		"d[\"to_version\"] == 3"
	rsync_clean src pub/t
'

test_expect_success 'origin dies mid-transfer: error; the next pull resumes' '
	head -c $((8 * 1024 * 1024)) /dev/urandom >src/data/fresh.img
	origin_import
	proxy_start die 3000000 1
	test_must_fail mirror_pull_from $PROXY_URL 2>err
	proxy_stop
	proxy_log >log
	test_grep "cut at" log
	test "$(published_version)" = 3
	rsync -rlptn --checksum --itemize-changes src/ pub/t/ >changes
	test -s changes
	mirror_pull --json >pull.json
	json_check pull.json "d[\"to_version\"] == 4" \
		"d[\"resumed_bytes\"] >= 3000000"
	rsync_clean src pub/t
'

test_expect_success 'an older version upstream: refused as a rollback' '
	other_start origin-v1
	test_must_fail mirror_pull_from $OTHER_URL 2>err
	other_stop
	test_grep "refusing to go back" err
	test "$(published_version)" = 4
'

test_expect_success 'the held version number, other content: refused' '
	cp -a origin-v1 origin-fork
	mkdir fork-src
	for i in 2 3 4; do
		echo "fork $i" >fork-src/f
		pd import --data origin-fork --tree t --key k.key fork-src \
			>/dev/null
	done
	other_start origin-fork
	test_must_fail mirror_pull_from $OTHER_URL 2>err
	other_stop
	test_grep "version 4 of t other than the one held here" err
	test "$(published_version)" = 4
'

test_expect_success 'an expired manifest: refused' '
	echo "short-lived" >src/short.txt
	pd import --data "$ORIGIN" --tree t --key k.key --expires 1s src \
		>/dev/null
	sleep 2
	test_must_fail mirror_pull 2>err
	test_grep "expired" err
	test "$(published_version)" = 4
'

test_expect_success 'an upstream without packs: item by item, exact' '
	for i in 1 2 3; do
		echo "no pack $i" >>src/docs/s$i.txt
	done
	origin_import
	proxy_start nopack
	mirror_pull_from $PROXY_URL --json >pull.json
	proxy_stop
	proxy_log >log
	test_grep "^404 .*/pack/0?from=" log
	test_grep "^POST /v1/batch 200 pass" log
	json_check pull.json "d[\"pack_misses\"] == d[\"pack_parts\"] >= 1" \
		"d[\"to_version\"] == 6" \
		"d[\"objects_fetched\"] + d[\"deltas_applied\"] == 4"
	rsync_clean src pub/t
'

test_expect_success 'an object longer than signed: cut off, refused, named' '
	head -c $((2 * 1024 * 1024)) /dev/urandom >src/data/grown.img
	origin_import
	proxy_start grow
	test_must_fail mirror_pull_from $PROXY_URL 2>err
	proxy_stop
	proxy_log >log
	test_grep "grown" log
	test_grep "data/grown.img" err
	test "$(published_version)" = 6
	# Nothing past the signed size was written anywhere, and the
	# build begun beside the transfer did not stay.
	find mirror/staging -type f -size +2048k >big
	test ! -s big
	test ! -e mirror/staging/t/build
	mirror_pull >/dev/null
	rsync_clean src pub/t
'

test_done
