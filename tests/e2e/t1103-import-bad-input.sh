#!/usr/bin/env bash
# pulpdist import on bad input: a missing or unusable SRC, the wrong key, a
# public key, bad tree names, unreadable files.  Each fails with status 1,
# names what is wrong, and leaves the tree at its previous version with no
# temporary files behind.  Names that are not printable UTF-8 are imported,
# escaped, with a warning.
. "$(dirname "$0")/lib.sh"

DATA=$TEST_ROOT/data
KEY=$TEST_ROOT/k.key

# still_at N: tree t's head is version N and it has N versions; nothing is
# left in the object store's temporary directory.
still_at() {
	test_eq "$1" "$(log_head "$DATA" t)" head
	test_eq "$(seq -s " " "$1" -1 1)" "$(log_versions "$DATA" t)" versions
	test_dir_is_empty "$DATA/objects/tmp"
}

test_expect_success 'setup: version 1 of tree t, a second key' '
	pd keygen k >/dev/null
	pd keygen k2 >/dev/null
	mkdir src
	random_file src/a 100
	random_file src/b 200
	pd import --data "$DATA" --tree t --key "$KEY" src >/dev/null
	still_at 1
	random_file src/c 300
'

test_expect_success 'SRC missing: status 1, the path named, no version' '
	test_must_fail pd import --data "$DATA" --tree t --key "$KEY" \
		no-such-dir >out 2>err
	test_grep "no-such-dir" err
	still_at 1
'

test_expect_success 'SRC missing for a new tree: no tree is made' '
	test_must_fail pd import --data "$DATA" --tree fresh --key "$KEY" \
		no-such-dir 2>err
	test_grep "no-such-dir" err
	test_must_fail pd log --data "$DATA" --tree fresh
'

test_expect_success 'SRC a regular file: status 1, named' '
	test_must_fail pd import --data "$DATA" --tree t --key "$KEY" \
		src/a 2>err
	test_grep "src/a" err
	still_at 1
'

test_expect_success 'SRC through a symlink loop: status 1, named' '
	ln -s loop loop
	test_must_fail pd import --data "$DATA" --tree t --key "$KEY" \
		loop/x 2>err
	test_grep "loop/x" err
	test_must_fail pd import --data "$DATA" --tree t --key "$KEY" \
		loop 2>err
	test_grep "loop" err
	still_at 1
'

test_expect_success 'the wrong key for an existing tree: status 1, no version' '
	test_must_fail pd import --data "$DATA" --tree t --key k2.key \
		src >out 2>err
	test_grep -i "key" err
	still_at 1
	pd show --data "$DATA" --tree t --json >show.json
	json_check show.json "ent(\"c\") is None"
'

test_expect_success 'a public key as --key: status 1, no version' '
	test_must_fail pd import --data "$DATA" --tree t --key k.pub \
		src 2>err
	test_grep "k.pub" err
	test_must_fail pd import --data "$DATA" --tree t --key k2.pub \
		src 2>err
	still_at 1
'

test_expect_success 'a missing, empty or garbage key file: status 1' '
	test_must_fail pd import --data "$DATA" --tree t --key nokey.key \
		src 2>err
	test_grep "nokey.key" err
	: >empty.key
	test_must_fail pd import --data "$DATA" --tree t --key empty.key src
	echo "-----BEGIN PRIVATE KEY-----" >junk.key
	echo "bm90IGEga2V5" >>junk.key
	echo "-----END PRIVATE KEY-----" >>junk.key
	test_must_fail pd import --data "$DATA" --tree t --key junk.key src
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 \
		-out rsa.key 2>/dev/null
	test_must_fail pd import --data "$DATA" --tree t --key rsa.key src
	still_at 1
'

test_expect_success 'bad tree names: status 1, nothing made' '
	long=$(printf "%065d" 0)
	for name in "bad/name" ".hidden" "-dash" "$long" "" "a b" \
		"caf$(printf "\303\251")"; do
		test_must_fail pd import --data "$DATA" --tree "$name" \
			--key "$KEY" src 2>err
		test_must_fail pd log --data "$DATA" --tree "$name"
	done
	pd import --data "$DATA" --tree "A-Za-z0_9.x" --key "$KEY" src \
		>/dev/null
	pd import --data "$DATA" --tree "$(printf "%064d" 0)" --key "$KEY" \
		src >/dev/null
'

test_expect_success 'a data directory that is a file: status 1' '
	: >not-a-dir
	test_must_fail pd import --data not-a-dir --tree t --key "$KEY" src
'

test_expect_success 'SRC through a symlink to a directory is that directory' '
	ln -s src src-link
	pd import --data "$DATA" --tree t --key "$KEY" --json src-link \
		>imp.json
	json_check imp.json "d[\"version\"] == 2"
	pd show --data "$DATA" --tree t --json >show.json
	check_manifest src show.json
'

# Names no terminal should see raw: a newline, a tab, bytes that are not
# UTF-8, an encoded surrogate, an overlong encoding.
N_NL=$'new\nline'
N_DIR=$'\377dir'
N_TAB=$'in\tside'
N_BAD=$'bad\377\376'
N_SUR=$'\355\240\200surrogate'
N_OVL=$'\300\257overlong'
T_ODD=$'tar\nget\377'

test_expect_success 'names with a newline or invalid UTF-8: imported escaped, with a warning' '
	mkdir "src/$N_DIR"
	random_file "src/$N_NL" 10
	random_file "src/$N_DIR/$N_TAB" 11
	random_file "src/$N_BAD" 12
	random_file "src/$N_SUR" 13
	random_file "src/$N_OVL" 14
	ln -s "$T_ODD" src/odd-link
	pd import --data "$DATA" --tree t --key "$KEY" --json src \
		>imp.json 2>err
	json_check imp.json "d[\"version\"] == 3"
	test_grep "new%0Aline" err
	test_grep "%FFdir" err
	test_grep "in%09side" err
	test_grep "bad%FF%FE" err
	test_grep "%ED%A0%80surrogate" err
	test_grep "%C0%AFoverlong" err
	test_grep ! "odd-link" err
	pd show --data "$DATA" --tree t --json >show.json
	check_manifest src show.json
	json_check show.json \
		"ent(\"new%0Aline\")[\"size\"] == 10" \
		"ent(\"%FFdir\")[\"type\"] == \"dir\"" \
		"ent(\"%FFdir/in%09side\")[\"size\"] == 11" \
		"ent(\"bad%FF%FE\")[\"size\"] == 12" \
		"ent(\"%ED%A0%80surrogate\")[\"size\"] == 13" \
		"ent(\"%C0%AFoverlong\")[\"size\"] == 14" \
		"ent(\"odd-link\")[\"target\"] == \"tar%0Aget%FF\""
	pd verify --data "$DATA" --tree t
'

test_expect_success 'text output never prints a raw newline of a name' '
	pd show --data "$DATA" --tree t >out
	entries=$(json_get show.json "len(d[\"entries\"])")
	test_eq "$entries" "$(grep -c -E "^[-dl][-rwxsStT]{9} " out)" lines
	test_grep "new%0Aline" out
	pd diff --data "$DATA" --tree t 2 3 >out
	test_grep -x "added    new%0Aline" out
	test_eq 0 "$(grep -c "^line" out)" "raw newline"
'

if have_unprivileged; then
	# Everything the unprivileged importer touches lives in u/, its own.
	uimp() {
		run_unprivileged "$PULPDIST" import --data u/data --tree u \
		    --key u/k.key u/src "$@"
	}

	test_expect_success 'an unreadable file: status 1, named, no version' '
		mkdir -p u/src
		random_file u/src/ok 100
		cp k.key u/k.key
		give_unprivileged u
		uimp >/dev/null
		test_eq 1 "$(log_head u/data u)" head
		random_file u/src/secret 50
		chmod 000 u/src/secret
		give_unprivileged u/src/secret
		test_must_fail uimp 2>err
		test_grep "u/src/secret" err
		test_eq 1 "$(log_head u/data u)" head
		test_dir_is_empty u/data/objects/tmp
	'

	test_expect_success 'an unreadable directory: status 1, named, no version' '
		chmod 644 u/src/secret
		mkdir -m 000 u/src/closed
		give_unprivileged u/src/closed
		test_must_fail uimp 2>err
		test_grep "u/src/closed" err
		test_eq 1 "$(log_head u/data u)" head
		test_dir_is_empty u/data/objects/tmp
	'

	test_expect_success 'readable again: the import succeeds' '
		chmod 755 u/src/closed
		uimp >/dev/null
		test_eq 2 "$(log_head u/data u)" head
		pd show --data u/data --tree u --json >show.json
		check_manifest u/src show.json
	'

	test_expect_success 'an unwritable object store: status 1, no version' '
		random_file u/src/more 4096
		give_unprivileged u/src/more
		sha=$(sha256sum <u/src/more | cut -c1-64)
		dir=$(dirname "$(obj_path u/data "$sha")")
		chmod 555 "$dir"
		test_must_fail uimp 2>err
		chmod 755 "$dir"
		test_grep "objects" err
		test_eq 2 "$(log_head u/data u)" head
		test_dir_is_empty u/data/objects/tmp
	'
else
	test_skip 'unreadable files and directories' \
	    'root, and neither setpriv nor runuser can drop to nobody'
fi

test_done
