#!/usr/bin/env bash
# Import computes the deltas of changed files once: an edited file gets a
# zstd-compressed librsync delta under DATA/deltas that Debian's rdiff
# applies to the old object; an unrelated rewrite is judged not worth a
# delta; paths sharing a pair of contents cost one delta; an import with
# nothing to compare makes none; a delta that cannot be made is a warning,
# never a failed import.
. "$(dirname "$0")/lib.sh"

DATA=$TEST_ROOT/data
KEY=$TEST_ROOT/k.key

# imp [ARGS...]: import src as tree t.
imp() {
	pd import --data "$DATA" --tree t --key "$KEY" "$@" src
}

# sha_of SHOWJSON PATH: the content hash of a path in a manifest.
sha_of() {
	json_get "$1" "ent(\"$2\")[\"sha256\"]"
}

# delta_path FROM TO: where the cache keeps the delta of a pair.
delta_path() {
	printf '%s/deltas/%s/%s%s.zst\n' "$DATA" "${1:0:2}" "$1" "$2"
}

# edit FILE OFFSET TEXT: overwrite bytes in place.
edit() {
	printf '%s' "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

test_expect_success 'setup: key, a tree, version 1 makes no deltas' '
	pd keygen k >/dev/null
	make_tree src
	random_file src/data/log.bin 300000
	imp >out
	expect_false grep -q deltas out
	imp --json >v1.json
	json_check v1.json "d[\"unchanged\"] is True"
	pd import --data "$DATA" --tree u --key "$KEY" --json src >u.json
	json_check u.json "d[\"deltas\"] == {\"computed\": 0, \"whole\": 0, \"failed\": 0}"
	pd show --data "$DATA" --tree t --json >show1.json
'

test_expect_success 'an edited file: the summary says one delta computed' '
	edit src/data/log.bin 1000 "an edit near the start"
	edit src/data/log.bin 200000 "and one further on"
	imp >out 2>err
	test_grep "deltas: 1 computed, 0 not worth it (sent whole), 0 failed" out
	test_file_is_empty err
	pd show --data "$DATA" --tree t --json >show2.json
'

test_expect_success 'the delta applies with rdiff and gives the new file' '
	from=$(sha_of show1.json data/log.bin)
	to=$(sha_of show2.json data/log.bin)
	test -f "$(delta_path "$from" "$to")"
	test $(stat -c %s "$(delta_path "$from" "$to")") -lt 10000
	zstd -q -d -c "$(delta_path "$from" "$to")" >plain.delta
	rdiff patch "$(obj_path "$DATA" "$from")" plain.delta new.bin
	cmp new.bin src/data/log.bin
	# the new object was compressed to judge the delta by; random
	# bytes do not shrink, so only the record of that is kept
	test -f "$DATA/zobjects/${to:0:2}/$to.zst"
	test ! -s "$DATA/zobjects/${to:0:2}/$to.zst"
'

test_expect_success 'a rewritten file is not worth a delta; --json counts' '
	random_file src/data/medium.bin 65537
	imp --json >v3.json
	json_check v3.json "d[\"version\"] == 3" \
		"d[\"deltas\"][\"computed\"] == 0" \
		"d[\"deltas\"][\"whole\"] == 1" \
		"d[\"deltas\"][\"failed\"] == 0"
	pd show --data "$DATA" --tree t --json >show3.json
	from=$(sha_of show2.json data/medium.bin)
	to=$(sha_of show3.json data/medium.bin)
	test_path_is_missing "$(delta_path "$from" "$to")"
'

test_expect_success 'paths with the same pair of contents cost one delta' '
	cp src/data/log.bin src/copy1.bin
	cp src/data/log.bin src/copy2.bin
	imp >/dev/null
	edit src/copy1.bin 5000 "same edit"
	edit src/copy2.bin 5000 "same edit"
	imp --json >v5.json
	json_check v5.json "d[\"changes\"][\"changed\"] == 2" \
		"d[\"deltas\"][\"computed\"] == 1"
'

test_expect_success 'a delta that cannot be made is a warning only' '
	mv "$DATA/deltas" "$DATA/deltas.away"
	: >"$DATA/deltas"
	edit src/data/log.bin 100 "one more"
	imp --json >v6.json 2>err
	rm "$DATA/deltas"
	mv "$DATA/deltas.away" "$DATA/deltas"
	json_check v6.json "d[\"version\"] == 6" \
		"d[\"deltas\"][\"computed\"] == 0" \
		"d[\"deltas\"][\"failed\"] == 1"
	test_grep "no deltas computed" err
	test_grep "$DATA/deltas" err
	pd verify --data "$DATA" --tree t >/dev/null
'

test_expect_success 'the same pair again is answered from the cache' '
	edit src/data/log.bin 100 "ONE MORE"
	imp --json >v7.json
	json_check v7.json "d[\"deltas\"][\"computed\"] == 1"
	edit src/data/log.bin 100 "one more"
	imp --json >v8.json
	edit src/data/log.bin 100 "ONE MORE"
	imp --json >v9.json
	json_check v9.json "d[\"deltas\"][\"computed\"] == 0" \
		"d[\"deltas\"][\"whole\"] == 0" \
		"d[\"deltas\"][\"failed\"] == 0"
'

test_expect_success 'a failed delta is a warning naming its path' '
	from=$(sha256sum src/data/log.bin | cut -c1-64)
	sub=$DATA/deltas/${from:0:2}
	mv "$sub" "$sub.away"
	: >"$sub"
	edit src/data/log.bin 100 "per-path"
	imp --json >v10.json 2>err
	rm "$sub"
	mv "$sub.away" "$sub"
	json_check v10.json "d[\"version\"] == 10" \
		"d[\"deltas\"][\"failed\"] == 1"
	test_grep "src/data/log.bin: no delta from the previous version" err
	test_grep "$from" err
'

# librsync is opened only when a delta is made (delta/rs.c); a broken one
# found first on the library path stands for a missing one.
test_expect_success 'without librsync a delta is a warning naming it' '
	mkdir nolib
	: >nolib/librsync.so.2
	edit src/data/log.bin 100 "no librsync"
	LD_LIBRARY_PATH=$PWD/nolib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
	    imp --json >v11.json 2>err
	json_check v11.json "d[\"version\"] == 11" \
		"d[\"deltas\"][\"failed\"] == 1"
	test_grep "cannot load librsync (librsync.so.2)" err
	test_grep "Debian.s package is librsync2" err
	pd verify --data "$DATA" --tree t >/dev/null
'

test_done
