#!/usr/bin/env bash
# pulpdist pull: a mirror follows a tree through versions with every kind
# of change, and after each pull rsync --checksum finds nothing to do;
# changed files come as deltas, content already held costs nothing, the
# summary says so, old versions are pruned.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-pull.sh"

test_expect_success 'setup: a tree with a 16 MiB file, imported' '
	pd keygen k >/dev/null
	pd keygen other >/dev/null
	make_pull_tree
	origin_import
'

serve_start "$ORIGIN"

test_expect_success 'first pull: the whole tree, exact, published' '
	mirror_pull --json >pull.json
	json_check pull.json "d[\"to_version\"] == 1" \
		"d[\"from_version\"] == 0" "not d[\"up_to_date\"]" \
		"d[\"seconds_build_early\"] == 0" \
		"d[\"deltas_applied\"] == 0" "d[\"objects_fetched\"] > 40" \
		"d[\"wire_bytes\"] > 16 * 1024 * 1024"
	test -L pub/t
	test "$(published_version)" = 1
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

test_expect_success 'small files come in batches, not one request each' '
	json_check pull.json "d[\"requests\"] < 20"
'

test_expect_success 'a second pull is up to date and changes nothing' '
	mirror_pull >out
	test_grep "up to date at version 1" out
	test "$(published_version)" = 1
'

# ld.so names every library it loads under LD_DEBUG=files.
test_expect_success 'a pull with nothing to do does not load libcurl' '
	LD_DEBUG=files mirror_pull >out 2>ld.txt
	test_grep "up to date at version 1" out
	test_grep "file=libzstd" ld.txt
	! grep "file=libcurl" ld.txt
'

test_expect_success 'nor librsync, nor what librsync brings' '
	expect_false grep "file=librsync" ld.txt
	expect_false grep "file=libgomp" ld.txt
'

test_expect_success 'nor libssl, which only a node serving HTTPS needs' '
	expect_false grep "file=libssl" ld.txt
	expect_false grep "file=libevent_openssl" ld.txt
'

test_expect_success 'nor libcrypto: the raw key is compared, not verified' '
	expect_false grep "file=libcrypto" ld.txt
'

test_expect_success 'v2: scattered edits to the large file come as a delta' '
	scatter_edit src/data/large.img 10
	echo "one more line" >>src/docs/small-7.txt
	origin_import
	LD_DEBUG=files mirror_pull --json >pull.json 2>ld.txt
	test_grep "file=libcurl.so.4 .*dynamically loaded" ld.txt
	test_grep "file=librsync.so.2 .*dynamically loaded" ld.txt
	test_grep "file=libcrypto.so.3 .*dynamically loaded" ld.txt
	json_check pull.json "d[\"from_version\"] == 1" \
		"d[\"seconds_build_early\"] > 0" \
		"d[\"seconds_sync\"] >= 0" \
		"d[\"published\"].endswith(\"/versions/t/2\")" \
		"d[\"to_version\"] == 2" "d[\"files\"][\"changed\"] == 2" \
		"d[\"deltas_applied\"] >= 1" \
		"d[\"pack_parts\"] == 1" "d[\"pack_misses\"] == 0" \
		"d[\"wire_bytes\"] < 1024 * 1024" \
		"d[\"bytes_written\"] >= 16 * 1024 * 1024"
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

test_expect_success 'v3: adds, deletes, renames, modes, links, types' '
	mv src/docs/guide.txt src/docs/guide-renamed.txt
	cp src/data/medium.bin src/data/medium-copy.bin
	rm src/docs/small-3.txt src/docs/small-4.txt
	chmod 0700 src/docs/small-5.txt
	chmod 0750 src/docs/deep
	ln -sfn data src/link-to-readme
	rm src/docs/small-6.txt
	mkdir src/docs/small-6.txt
	echo inside >src/docs/small-6.txt/f
	rm -r src/empty-dir
	echo "was a directory" >src/empty-dir
	mkdir -p src/new/empty/dir
	echo new >src/new/file
	touch -d "2001-02-03 04:05:06.789" src/docs/small-8.txt
	origin_import
	mirror_pull --json >pull.json
	json_check pull.json "d[\"to_version\"] == 3" \
		"d[\"files\"][\"removed\"] == 2" \
		"d[\"files\"][\"added\"] == 3" \
		"d[\"files\"][\"reused\"] == 2" \
		"d[\"wire_bytes\"] < 256 * 1024"
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

test_expect_success 'v4: a large file replaced by new content, hardlinks' '
	head -c $((3 * 1024 * 1024)) /dev/urandom >src/data/large.img
	ln src/new/file src/new/file-link
	origin_import
	mirror_pull >out
	test_grep "version 3 -> 4" out
	test_grep "on the wire" out
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

test_expect_success 'only the last three versions are kept' '
	ls mirror/versions/t | sort -n >kept
	printf "2\n3\n4\n" >expect
	test_cmp expect kept
'

test_expect_success 'the mirror records the versions it holds' '
	pd log --data "$MIRROR" --tree t --json >log.json
	json_check log.json "len(d[\"versions\"]) == 4"
	pd verify --data "$ORIGIN" --tree t >/dev/null
'

test_expect_success '--keep 1 prunes to the current version' '
	echo five >src/five
	origin_import
	mirror_pull --keep 1 >/dev/null
	ls mirror/versions/t >kept
	echo 5 >expect
	test_cmp expect kept
	rsync_clean src pub/t
'

test_expect_success 'the staging area is gone after a pull' '
	test_path_is_missing mirror/staging/t
'

test_expect_success 'a wrong trust key: refused, nothing published' '
	echo six >src/six
	origin_import
	test_must_fail pd pull --data "$MIRROR" --from "$SERVE_URL" --tree t \
		--trust other.pub --publish "$PUB" 2>err
	test_grep "another key" err
	test "$(published_version)" = 5
'

test_expect_success 'a fresh mirror with the wrong key: a signature error' '
	test_must_fail pd pull --data fresh --from "$SERVE_URL" --tree t \
		--trust other.pub --publish pub2 2>err
	test_grep -i -e signature -e key err
	test_path_is_missing pub2/t
'

test_expect_success 'an unknown tree: a clear error' '
	test_must_fail pd pull --data "$MIRROR" --from "$SERVE_URL" \
		--tree nosuch --trust "$TRUST" --publish "$PUB" 2>err
	test_grep "nosuch" err
'

test_expect_success 'an unreachable origin: a clear error, nothing changed' '
	test_must_fail pd pull --data "$MIRROR" --from http://127.0.0.1:1 \
		--tree t --trust "$TRUST" --publish "$PUB" 2>err
	test_grep "127.0.0.1:1" err
	test "$(published_version)" = 5
'

test_expect_success 'a retired version is kept aside as the spare' '
	echo 4 >expect
	ls mirror/spare/t >spare
	test_cmp expect spare
'

# Every mtime changes, as between two kernel releases.  The first time,
# the spare (4) shares every inode with the published 5: nothing may be
# taken.  The second time the spare is 5, whose inodes no tree shares
# any more: every file whose content stayed is taken over, none copied.
test_expect_success 'every mtime changes: the spare is not a published tree' '
	find src -exec touch -h -d "2011-01-01 00:00:01.5" {} +
	origin_import
	mirror_pull --keep 1 --json >pull.json
	json_check pull.json "d[\"to_version\"] == 7" "d[\"recycled\"] == 0" \
		"d[\"bytes_written\"] > 3 * 1024 * 1024"
	echo 5 >expect
	ls mirror/spare/t >spare
	test_cmp expect spare
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

test_expect_success 'every mtime changes again: files taken over, not copied' '
	find src -exec touch -h -d "2012-02-02 00:00:02.25" {} +
	origin_import
	n=$(find src -type f -links 1 | wc -l)
	mirror_pull --keep 1 --json >pull.json
	json_check pull.json "d[\"to_version\"] == 8" \
		"d[\"recycled\"] == $n - 1" \
		"d[\"bytes_written\"] < 1024 * 1024"
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
	pd pull --data "$MIRROR" --from "$SERVE_URL" --tree t \
		--trust "$TRUST" --publish "$PUB" >out
	test_grep "up to date" out
'

test_expect_success '--no-spare copies, and removes the spare' '
	find src -exec touch -h -d "2013-03-03 00:00:03" {} +
	origin_import
	mirror_pull --keep 1 --no-spare --json >pull.json
	json_check pull.json "d[\"to_version\"] == 9" "d[\"recycled\"] == 0"
	test_path_is_missing mirror/spare/t
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

test_expect_success 'usage errors exit 2' '
	test_must_fail_usage pd pull --data "$MIRROR" --tree t
	test_must_fail_usage pd pull --data "$MIRROR" --from "$SERVE_URL" \
		--tree t --trust "$TRUST" --publish "$PUB" --keep 0
	pd pull --help >out
	test_grep "usage: pulpdist pull" out
'

test_done
