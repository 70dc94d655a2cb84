#!/usr/bin/env bash
# pulpdist import at the limits of spec/MANIFEST.md: paths of 4095 bytes,
# 255 levels, 255-byte names, 4095-byte link targets are imported; one
# byte or level more is refused with status 1 and a message that says why.
# Also: links are never followed, one import of a tree at a time, and the
# data directory never imports itself.
. "$(dirname "$0")/lib.sh"

DATA=$TEST_ROOT/data
KEY=$TEST_ROOT/k.key

# long_path TOP TOTAL: under TOP, a file whose path below TOP is TOTAL
# bytes (TOTAL 3841..4096): 15 directories of 255-byte names, one more
# directory, a file "f".  Made relative to directory descriptors, as paths
# this long cannot be given to a system call whole.
long_path() {
	"$PYTHON" - "$1" "$2" <<-\EOF
	import os, sys
	top, total = sys.argv[1], int(sys.argv[2])
	os.mkdir(top)
	fd = os.open(top, os.O_RDONLY)
	names = [chr(ord("a") + i) * 255 for i in range(15)]
	names.append("z" * (total - 15 * 256 - 2))
	for n in names:
	    os.mkdir(n, dir_fd=fd)
	    nfd = os.open(n, os.O_RDONLY, dir_fd=fd)
	    os.close(fd)
	    fd = nfd
	f = os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
	os.write(f, b"deep")
	os.close(f)
	assert len("/".join(names + ["f"])) == total
	EOF
}

# nested TOP LEVELS: TOP/a/a/.../a, LEVELS directories below TOP.
nested() {
	local p=$1 i

	for i in $(seq 1 "$2"); do
		p=$p/a
	done
	mkdir -p "$p"
}

test_expect_success 'setup' '
	pd keygen k >/dev/null
'

test_expect_success 'a path of 4095 bytes is imported' '
	long_path p4095 4095
	pd import --data "$DATA" --tree p4095 --key "$KEY" p4095 >/dev/null
	pd show --data "$DATA" --tree p4095 --json >show.json
	json_check show.json "max(len(p) for p in paths()) == 4095"
	pd verify --data "$DATA" --tree p4095
'

test_expect_success 'a path of 4096 bytes: status 1, says the path is too long' '
	long_path p4096 4096
	test_must_fail pd import --data "$DATA" --tree p4096 --key "$KEY" \
		p4096 2>err
	test_grep -i "too long" err
	test_must_fail pd log --data "$DATA" --tree p4096
'

test_expect_success '255 levels of directories are imported' '
	nested n255 255
	pd import --data "$DATA" --tree n255 --key "$KEY" n255 >/dev/null
	pd show --data "$DATA" --tree n255 --json >show.json
	json_check show.json "len(d[\"entries\"]) == 255" \
		"max(p.count(\"/\") for p in paths()) == 254"
'

test_expect_success '256 levels: status 1, says it is too deep' '
	nested n256 256
	test_must_fail pd import --data "$DATA" --tree n256 --key "$KEY" \
		n256 2>err
	test_grep -i "deep" err
	test_must_fail pd log --data "$DATA" --tree n256
'

test_expect_success 'a 255-byte name and a 4095-byte link target' '
	mkdir names
	name=$(printf "%0255d" 7)
	random_file "names/$name" 9
	target=$(printf "%04095d" 8)
	ln -s "$target" names/far
	pd import --data "$DATA" --tree names --key "$KEY" names >/dev/null
	pd show --data "$DATA" --tree names --json >show.json
	check_manifest names show.json
	json_check show.json "len(ent(\"far\")[\"target\"]) == 4095"
'

test_expect_success 'links are stored, never followed, loops included' '
	mkdir loops
	ln -s . loops/self
	ln -s loop2 loops/loop1
	ln -s loop1 loops/loop2
	ln -s / loops/root
	ln -s ../.. loops/up
	pd import --data "$DATA" --tree loops --key "$KEY" --json loops \
		>imp.json
	json_check imp.json "d[\"links\"] == 5" "d[\"files\"] == 0"
	pd show --data "$DATA" --tree loops --json >show.json
	check_manifest loops show.json
'

test_expect_success 'SRC given with a trailing slash or as .' '
	mkdir plain
	random_file plain/x 10
	pd import --data "$DATA" --tree plain --key "$KEY" plain/ >/dev/null
	pd import --data "$DATA" --tree plain --key "$KEY" --json plain \
		>imp.json
	json_check imp.json "d[\"unchanged\"] is True"
	(cd plain && pd import --data "$DATA" --tree plain --key "$KEY" \
		--json . >../imp.json)
	json_check imp.json "d[\"unchanged\"] is True"
'

if ! command -v flock >/dev/null 2>&1; then
	test_skip 'one import of a tree at a time' 'no flock(1)'
else
test_expect_success 'one import of a tree at a time: a held lock is status 1' '
	test -f "$DATA/locks/plain.lock"
	random_file plain/y 10
	test_must_fail flock "$DATA/locks/plain.lock" \
		"$PULPDIST" import --data "$DATA" --tree plain --key "$KEY" \
		plain 2>err
	test_grep "plain" err
	test_eq 1 "$(log_head "$DATA" plain)" head
	flock "$DATA/locks/plain.lock" \
		"$PULPDIST" import --data "$DATA" --tree unlocked --key "$KEY" \
		plain >/dev/null
	pd import --data "$DATA" --tree plain --key "$KEY" plain >/dev/null
	test_eq 2 "$(log_head "$DATA" plain)" head
'
fi

test_expect_success 'a data directory inside SRC is not imported' '
	mkdir self
	random_file self/x 10
	ok=0
	pd import --data self/.pulpdist --tree self --key "$KEY" self \
		>out 2>err || ok=$?
	case $ok in
	0)
		pd show --data self/.pulpdist --tree self --json >show.json
		json_check show.json "paths() == [\"x\"]"
		pd import --data self/.pulpdist --tree self --key "$KEY" \
			--json self >imp.json
		json_check imp.json "d[\"unchanged\"] is True"
		;;
	1)
		test_grep ".pulpdist" err
		test_must_fail pd log --data self/.pulpdist --tree self
		;;
	*)
		say "error: import exited with status $ok"
		false
		;;
	esac
'

test_done
