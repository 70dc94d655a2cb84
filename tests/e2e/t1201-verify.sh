#!/usr/bin/env bash
# pulpdist verify: damage to a stored object (overwritten, truncated,
# removed) is found and each affected path named, exactly; repairing it
# makes verify pass; a manifest is only good under the tree's key.
. "$(dirname "$0")/lib.sh"

DATA=$TEST_ROOT/data
KEY=$TEST_ROOT/k.key

# sha_of PATH: the SHA-256 the newest manifest of tree t gives PATH.
sha_of() {
	json_get show.json "ent(\"$1\")[\"sha256\"]"
}

# bad_paths: verify --json's bad paths, sorted, one a line.
bad_paths() {
	json_get verify.json '"\n".join(sorted(b["path"] for b in d["bad"]))'
}

# damage PATH CMD...: run CMD on the object that holds PATH's content,
# after saving it to saved.obj.
damage() {
	local obj

	obj=$(obj_path "$DATA" "$(sha_of "$1")")
	shift
	cp -p "$obj" saved.obj
	chmod u+w "$obj"
	"$@" "$obj"
}

# restore PATH: put saved.obj back.
restore() {
	cp -p saved.obj "$(obj_path "$DATA" "$(sha_of "$1")")"
}

# overwrite OBJ: invert one byte (byte 1000, or the middle of a smaller
# object), so the content surely changes: writing a fixed byte would leave it
# as it was one time in 256.
overwrite() {
	python3 -c '
import os, sys
n = os.path.getsize(sys.argv[1])
at = min(1000, n // 2)
with open(sys.argv[1], "r+b") as f:
    f.seek(at)
    b = f.read(1)[0]
    f.seek(at)
    f.write(bytes([b ^ 0xff]))
' "$1"
}

truncate_obj() {
	truncate -s -1 "$1"
}

test_expect_success 'setup: a tree with shared content, version 1 verifies' '
	pd keygen k >/dev/null
	pd keygen other >/dev/null
	make_tree src
	cp src/docs/guide.txt src/docs/guide-copy.txt
	pd import --data "$DATA" --tree t --key "$KEY" src >/dev/null
	pd show --data "$DATA" --tree t --json >show.json
	pd verify --data "$DATA" --tree t >out
	test_grep "^tree t version 1: signature good" out
	pd verify --data "$DATA" --tree t --json >verify.json
	json_check verify.json "d[\"ok\"] is True" "d[\"bad\"] == []" \
		"d[\"version\"] == 1" "d[\"tree\"] == \"t\""
	objects=$(find src -type f -exec sha256sum {} + | cut -c1-64 |
		sort -u | wc -l)
	json_check verify.json "d[\"objects\"] == $objects"
'

test_expect_success 'an overwritten byte: status 1, exactly that path named' '
	damage data/big.bin overwrite
	test_must_fail pd verify --data "$DATA" --tree t >out 2>err
	test_eq "bad: data/big.bin: stored content does not match its SHA-256" \
		"$(cat out)" stdout
	test_grep "1 path" err
'

test_expect_success 'verify --json: ok false, the path and why' '
	test_must_fail pd verify --data "$DATA" --tree t --json >verify.json
	json_check verify.json "d[\"ok\"] is False" "len(d[\"bad\"]) == 1" \
		"d[\"bad\"][0][\"path\"] == \"data/big.bin\"" \
		"\"SHA-256\" in d[\"bad\"][0][\"error\"]"
'

test_expect_success 'restoring the bytes makes verify pass' '
	restore data/big.bin
	pd verify --data "$DATA" --tree t
	pd verify --data "$DATA" --tree t --json >verify.json
	json_check verify.json "d[\"ok\"] is True"
'

test_expect_success 'a truncated object: status 1, that path named' '
	damage docs/deep/page4k truncate_obj
	test_must_fail pd verify --data "$DATA" --tree t >out
	test_eq "bad: docs/deep/page4k: stored content has the wrong size" \
		"$(cat out)" stdout
	restore docs/deep/page4k
	pd verify --data "$DATA" --tree t
'

test_expect_success 'an object emptied: status 1' '
	damage private truncate_obj
	: >"$(obj_path "$DATA" "$(sha_of private)")"
	test_must_fail pd verify --data "$DATA" --tree t --json >verify.json
	test_eq private "$(bad_paths)" "bad paths"
	restore private
'

test_expect_success 'a missing object: status 1, named' '
	damage one-byte rm -f
	test_must_fail pd verify --data "$DATA" --tree t --json >verify.json
	test_eq one-byte "$(bad_paths)" "bad paths"
	json_check verify.json "\"missing\" in d[\"bad\"][0][\"error\"]"
	restore one-byte
	pd verify --data "$DATA" --tree t
'

test_expect_success 'shared content: every path that uses it is named' '
	damage docs/guide.txt overwrite
	test_must_fail pd verify --data "$DATA" --tree t --json >verify.json
	printf "docs/guide-copy.txt\ndocs/guide.txt\n" >expect
	bad_paths >actual
	test_cmp expect actual
	restore docs/guide.txt
'

test_expect_success 'a hardlinked pair: both paths named' '
	damage hard-a overwrite
	test_must_fail pd verify --data "$DATA" --tree t --json >verify.json
	printf "data/hard-b\nhard-a\n" >expect
	bad_paths >actual
	test_cmp expect actual
	restore hard-a
	pd verify --data "$DATA" --tree t
'

test_expect_success 'two damaged objects: both named, nothing else' '
	damage README overwrite
	mv saved.obj saved-readme.obj
	damage "with%20space.txt" truncate_obj
	test_must_fail pd verify --data "$DATA" --tree t >out
	test_eq 2 "$(wc -l <out)" lines
	test_grep -x "bad: README: .*" out
	test_grep -x "bad: with%20space.txt: .*" out
	restore "with%20space.txt"
	cp -p saved-readme.obj "$(obj_path "$DATA" "$(sha_of README)")"
	pd verify --data "$DATA" --tree t
'

test_expect_success 'damage to content only an old version uses' '
	random_file src/docs/guide.txt 4095
	rm src/docs/guide-copy.txt
	pd import --data "$DATA" --tree t --key "$KEY" src >/dev/null
	pd show --data "$DATA" --tree t --version 1 --json >show.json
	damage docs/guide.txt overwrite
	pd verify --data "$DATA" --tree t
	test_must_fail pd verify --data "$DATA" --tree t --version 1 \
		--json >verify.json
	json_check verify.json "d[\"version\"] == 1"
	printf "docs/guide-copy.txt\ndocs/guide.txt\n" >expect
	bad_paths >actual
	test_cmp expect actual
	restore docs/guide.txt
	pd verify --data "$DATA" --tree t --version 1
'

# replace_with KIND OBJECT: put a symlink, directory or fifo in its place.
replace_with() {
	rm -f "$2"
	case $1 in
	symlink) ln -s /etc/passwd "$2" ;;
	dir) mkdir "$2" ;;
	fifo) mkfifo "$2" ;;
	esac
}

for kind in symlink dir fifo; do
	test_expect_success "an object replaced by a $kind: status 1, named, no hang" '
		damage private replace_with '"$kind"'
		rc=0
		timeout 5 "$PULPDIST" verify --data "$DATA" --tree t --json \
			>verify.json || rc=$?
		rm -rf "$(obj_path "$DATA" "$(sha_of private)")"
		restore private
		test_eq 1 "$rc" "exit status (124: timed out)"
		test_eq private "$(bad_paths)" "bad paths"
		pd verify --data "$DATA" --tree t
	'
done

test_expect_success '--trust with the tree key passes' '
	pd verify --data "$DATA" --tree t --trust k.pub
	pd verify --data "$DATA" --tree t --trust k.pub --version 1
'

test_expect_success '--trust with another key: status 1, a signature problem' '
	test_must_fail pd verify --data "$DATA" --tree t --trust other.pub \
		>out 2>err
	test_grep -i "sign" err
	test_must_fail pd verify --data "$DATA" --tree t --trust other.pub \
		--json >out 2>err
	test_grep -i "sign" err
'

test_expect_success '--trust with a missing or garbage key file: status 1' '
	test_must_fail pd verify --data "$DATA" --tree t --trust nope.pub \
		2>err
	test_grep "nope.pub" err
	echo garbage >garbage.pub
	test_must_fail pd verify --data "$DATA" --tree t --trust garbage.pub
'

test_expect_success 'verify of an unknown version or tree: status 1' '
	test_must_fail pd verify --data "$DATA" --tree t --version 3 2>err
	test_grep "3" err
	test_must_fail pd verify --data "$DATA" --tree nosuch 2>err
	test_grep "nosuch" err
'

test_done
