#!/usr/bin/env bash
# The import stat cache: a file whose inode, size, mtime and ctime are as
# the last import saw them is not read again; any change to the file, even
# one that restores its size and mtime, is read.  A file changed within
# 2 s of an import's start is not cached (a change in the same clock tick
# would go unseen), so each tree is made, then left alone for a while
# before its first import.
. "$(dirname "$0")/lib.sh"

DATA=$TEST_ROOT/data
KEY=$TEST_ROOT/k.key

# subsecond_below MS: the wall clock is in the first MS ms of its second.
subsecond_below() {
	[ "$((10#$(date +%N) / 1000000))" -lt "$1" ]
}

# seconds_past FILE...: the clock's whole seconds are at least three past
# the newest mtime or ctime of any FILE (a cut-off that holds however the
# importer rounds its 2 s window).
newest_change() {
	find "$@" -printf "%T@\n%C@\n" | sort -n | tail -n 1 | cut -d. -f1
}
seconds_past() {
	[ "$(date +%s)" -ge "$(($(newest_change "$@") + 3))" ]
}

# imp TREE SRC: import --json into imp.json.
imp() {
	pd import --data "$DATA" --tree "$1" --key "$KEY" --json "$2" >imp.json
}

test_expect_success 'setup: two trees, made early in a clock second' '
	pd keygen k >/dev/null
	wait_for 2 subsecond_below 300
	mkdir small
	for i in 1 2 3 4 5 6; do
		random_file small/f$i 1000
	done
	make_tree src
'

# The 2.1 s wait the racy-file rule needs (see the top of this file).
sleep 2.1

test_expect_success 'files last changed 2.1 s before the import are cached' '
	imp small small
	json_check imp.json "d[\"version\"] == 1" "d[\"files_hashed\"] == 6" \
		"d[\"files_cached\"] == 0"
	random_file small/f3 1000
	imp small small
	json_check imp.json "d[\"version\"] == 2" \
		"d[\"files_hashed\"] == 1" "d[\"files_cached\"] == 5"
'

test_expect_success 'stat cache: only the file changed since is read' '
	wait_for 5 seconds_past src
	imp t src
	json_check imp.json "d[\"version\"] == 1" "d[\"files_cached\"] == 0"
	random_file src/docs/guide.txt 4095
	imp t src
	# Counts are of distinct files: a hardlink group counts once.
	nfiles=$(find src -type f -printf "%i\n" | sort -u | wc -l)
	json_check imp.json "d[\"version\"] == 2" \
		"d[\"files_hashed\"] == 1" \
		"d[\"files_cached\"] == $nfiles - 1"
	pd show --data "$DATA" --tree t --json >show.json
	check_manifest src show.json
'

test_expect_success 'a file changed within 2 s of an import is read again' '
	imp t src
	nfiles=$(find src -type f -printf "%i\n" | sort -u | wc -l)
	json_check imp.json "d[\"unchanged\"] is True" "d[\"version\"] == 2" \
		"d[\"files_hashed\"] == 1" \
		"d[\"files_cached\"] == $nfiles - 1"
'

test_expect_success 'new content with the old size and mtime is read' '
	cp -p src/data/medium.bin medium.orig
	random_file src/data/medium.bin 65537
	touch -r medium.orig src/data/medium.bin
	test_eq "$(stat -c %s.%Y medium.orig)" \
		"$(stat -c %s.%Y src/data/medium.bin)" "size and mtime"
	imp t src
	json_check imp.json "d[\"version\"] == 3" "d[\"files_hashed\"] >= 1"
	pd show --data "$DATA" --tree t --json >show.json
	check_manifest src show.json
	sha=$(sha256sum <src/data/medium.bin | cut -c1-64)
	json_check show.json "ent(\"data/medium.bin\")[\"sha256\"] == \"$sha\""
'

test_expect_success 'old content put back with the old mtime is read' '
	cp -p medium.orig src/data/medium.bin
	imp t src
	json_check imp.json "d[\"version\"] == 4"
	pd show --data "$DATA" --tree t --json >show.json
	check_manifest src show.json
	pd diff --data "$DATA" --tree t --json 3 4 >diff.json
	diff_lines diff.json >actual
	echo "changed data/medium.bin" >expect
	test_cmp expect actual
'

test_expect_success 'a file replaced by another of the same size and mtime is read' '
	cp -p src/README readme.orig
	random_file new.file "$(stat -c %s readme.orig)"
	touch -r readme.orig new.file
	mv new.file src/README
	imp t src
	json_check imp.json "d[\"version\"] == 5"
	pd show --data "$DATA" --tree t --json >show.json
	check_manifest src show.json
'

test_expect_success 'the stat cache belongs to its tree' '
	pd import --data "$DATA" --tree other --key "$KEY" --json src \
		>imp.json
	json_check imp.json "d[\"version\"] == 1" "d[\"files_cached\"] == 0" \
		"d[\"objects_new\"] == 0"
'

test_expect_success 'verify passes for every version' '
	for v in 1 2 3 4 5; do
		pd verify --data "$DATA" --tree t --version $v >/dev/null
	done
'

test_done
