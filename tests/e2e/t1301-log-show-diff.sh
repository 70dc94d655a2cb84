#!/usr/bin/env bash
# pulpdist log, show and diff over three versions: log newest first with
# the right counts, show of an old version as it was, diff both ways,
# unknown versions and trees refused with status 1.
. "$(dirname "$0")/lib.sh"

DATA=$TEST_ROOT/data
KEY=$TEST_ROOT/k.key

imp() {
	pd import --data "$DATA" --tree t --key "$KEY" "$@" src >/dev/null
}

test_expect_success 'setup: three versions' '
	pd keygen k >/dev/null
	mkdir -p src/d src/e
	random_file src/a 100
	random_file src/b 200
	random_file src/d/c 300
	ln -s a src/l
	imp
	pd show --data "$DATA" --tree t --json >v1.json
	random_file src/a 150
	random_file src/e/new 50
	imp
	pd show --data "$DATA" --tree t --json >v2.json
	rm src/b
	mv src/d/c src/d/c2
	chmod 0600 src/a
	ln -sfn d src/l
	imp
	pd show --data "$DATA" --tree t --json >v3.json
'

test_expect_success 'log --json: newest first, head 3' '
	pd log --data "$DATA" --tree t --json >log.json
	json_check log.json "d[\"tree\"] == \"t\"" "d[\"head\"] == 3" \
		"[v[\"version\"] for v in d[\"versions\"]] == [3, 2, 1]" \
		"d[\"key\"] == \"$(json_get v1.json "d[\"key\"]")\""
'

test_expect_success 'log --json: each version counted as show lists it' '
	for v in 1 2 3; do
		id=$(json_get v$v.json "d[\"manifest\"]")
		json_check log.json "ver($v)[\"manifest\"] == \"$id\""
		"$PYTHON" - log.json v$v.json $v >&5 2>&1 <<-\EOF
		import json, sys
		log = json.load(open(sys.argv[1]))
		m = json.load(open(sys.argv[2]))
		v = [x for x in log["versions"] if x["version"] == int(sys.argv[3])][0]
		es = m["entries"]
		files = [e for e in es if e["type"] == "file"]
		want = {
		    "entries": len(es),
		    "files": len(files),
		    "dirs": sum(e["type"] == "dir" for e in es),
		    "links": sum(e["type"] == "link" for e in es),
		    "bytes": sum(e["size"] for e in files),
		    "created": m["created"],
		}
		got = {k: v[k] for k in want}
		assert got == want, (got, want)
		assert v["committed"] >= v["created"], v
		EOF
	done
'

# diff_as_log_changes DIFF_JSON: its counts as log words them (metadata
# is mode and touched together).
diff_as_log_changes() {
	json_get "$1" '{"added": d["counts"]["added"],
	    "removed": d["counts"]["removed"],
	    "changed": d["counts"]["changed"],
	    "renamed": d["counts"]["renamed"],
	    "metadata": d["counts"]["mode"] + d["counts"]["touched"]}'
}

test_expect_success 'log --json: changes as diff counts them' '
	json_check log.json \
		"d[\"versions\"][2][\"changes\"][\"added\"] == 6" \
		"d[\"versions\"][2][\"entries\"] == 6"
	for v in 2 3; do
		pd diff --data "$DATA" --tree t --json $((v - 1)) $v >diff.json
		want=$(diff_as_log_changes diff.json)
		json_check log.json "ver($v)[\"changes\"] == $want"
	done
'

test_expect_success 'log text: one row per version, newest first' '
	pd log --data "$DATA" --tree t >out
	test_grep "^tree t: 3 versions" out
	grep -E "^ +[0-9]+ " out | awk "{ print \$1 }" >actual
	printf "3\n2\n1\n" >expect
	test_cmp expect actual
	test_grep -E "^ +1 .*\(first version\)" out
	test_grep -E "^ +3 .* \+0 -1 ~1 >1 \*[0-9]+$" out
'

test_expect_success 'show --version N prints version N as it was made' '
	for v in 1 2 3; do
		pd show --data "$DATA" --tree t --version $v --json >now.json
		test_cmp v$v.json now.json
	done
	pd show --data "$DATA" --tree t --json >now.json
	test_cmp v3.json now.json
'

test_expect_success 'each version names its parent' '
	json_check v1.json "d[\"parent\"] is None" "d[\"version\"] == 1"
	json_check v2.json "d[\"parent\"] == \"$(json_get v1.json "d[\"manifest\"]")\""
	json_check v3.json "d[\"parent\"] == \"$(json_get v2.json "d[\"manifest\"]")\""
'

test_expect_success 'show text: header and one line per entry' '
	pd show --data "$DATA" --tree t --version 2 >out
	test_grep -x "tree      t" out
	test_grep -x "version   2" out
	test_grep -x "manifest  $(json_get v2.json "d[\"manifest\"]")" out
	test_grep -x "parent    $(json_get v1.json "d[\"manifest\"]")" out
	test_grep "^entries   7: 4 files, 2 directories, 1 links" out
	test_grep -E " e/new$" out
	test_grep -E " l -> a$" out
'

test_expect_success 'diff 2 3 and 3 2 are mirror images' '
	pd diff --data "$DATA" --tree t --json 2 3 >d23.json
	diff_lines d23.json >actual
	cat >expect <<-\EOF
	changed l
	mode a 0644 -> 0600
	removed b
	renamed d/c -> d/c2
	EOF
	test_cmp expect actual
	pd diff --data "$DATA" --tree t --json 3 2 >d32.json
	diff_lines d32.json >actual
	cat >expect <<-\EOF
	added b
	changed l
	mode a 0600 -> 0644
	renamed d/c2 -> d/c
	EOF
	test_cmp expect actual
	touched=$(json_get d23.json "d[\"counts\"][\"touched\"]")
	json_check d32.json "d[\"counts\"][\"touched\"] == $touched"
'

test_expect_success 'diff across versions: 1 3' '
	pd diff --data "$DATA" --tree t --json 1 3 >d13.json
	diff_lines d13.json >actual
	cat >expect <<-\EOF
	added e/new
	changed a
	changed l
	removed b
	renamed d/c -> d/c2
	EOF
	test_cmp expect actual
'

test_expect_success 'diff of a version with itself is empty' '
	pd diff --data "$DATA" --tree t --json 2 2 >d22.json
	json_check d22.json "d[\"changes\"] == []" \
		"all(v == 0 for v in d[\"counts\"].values())" \
		"d[\"root_changed\"] is False"
	pd diff --data "$DATA" --tree t 2 2 >out
	test_eq "0 added, 0 removed, 0 changed, 0 renamed, 0 mode, 0 touched" \
		"$(cat out)" output
'

test_expect_success 'diff --all also lists the touched paths' '
	pd diff --data "$DATA" --tree t --all --json 2 3 >all.json
	touched=$(json_get all.json "d[\"counts\"][\"touched\"]")
	test "$touched" -ge 1
	json_check all.json \
		"sum(c[\"kind\"] == \"touched\" for c in d[\"changes\"]) == $touched" \
		"len(d[\"changes\"]) == 4 + $touched"
'

test_expect_success 'unknown versions: status 1' '
	test_must_fail pd show --data "$DATA" --tree t --version 4 2>err
	test_grep "4" err
	test_must_fail pd show --data "$DATA" --tree t --version 99999999999 \
		--json >out 2>err
	test_file_is_empty out
	test_must_fail pd diff --data "$DATA" --tree t 1 4 2>err
	test_grep "4" err
	test_must_fail pd diff --data "$DATA" --tree t 4 1
'

test_expect_success 'unknown tree: status 1, the tree named' '
	for c in log show verify; do
		test_must_fail pd $c --data "$DATA" --tree nosuch >out 2>err
		test_grep "nosuch" err
		test_must_fail pd $c --data "$DATA" --tree nosuch --json \
			>out 2>err
		test_grep "nosuch" err
	done
	test_must_fail pd diff --data "$DATA" --tree nosuch 1 2 2>err
	test_grep "nosuch" err
'

test_expect_success 'trees in one data directory are independent' '
	mkdir other
	random_file other/x 10
	pd import --data "$DATA" --tree other --key "$KEY" other >/dev/null
	test_eq 1 "$(log_head "$DATA" other)" "head of other"
	test_eq "3 2 1" "$(log_versions "$DATA" t)" "versions of t"
	pd show --data "$DATA" --tree t --json >now.json
	test_cmp v3.json now.json
'

test_expect_success '--expires: the manifest says when it expires' '
	pd import --data "$DATA" --tree exp --key "$KEY" --expires 90s \
		other >/dev/null
	pd show --data "$DATA" --tree exp --json >exp.json
	json_check exp.json "d[\"expires\"] == d[\"created\"] + 90"
	json_check v1.json "d[\"expires\"] == d[\"created\"] + 365 * 86400"
	random_file other/y 10
	pd import --data "$DATA" --tree exp --key "$KEY" --expires never \
		other >/dev/null
	pd show --data "$DATA" --tree exp >out
	test_grep -x "expires   never" out
'

test_done
