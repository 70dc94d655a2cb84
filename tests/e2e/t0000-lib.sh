#!/usr/bin/env bash
# The e2e harness itself (git t0000-basic): a crash or a usage error never
# passes as an expected failure, a failing command anywhere in a case fails
# it, compare_trees sees every kind of difference, make_tree makes what it
# promises.
. "$(dirname "$0")/lib.sh"

test_expect_success 'test_must_fail accepts status 1 only' '
	test_must_fail sh -c "exit 1"
	expect_false test_must_fail true
	expect_false test_must_fail sh -c "exit 2"
	expect_false test_must_fail sh -c "exit 3"
'

test_expect_success 'test_must_fail does not accept a crash' '
	expect_false test_must_fail sh -c "kill -SEGV \$\$"
	expect_false test_must_fail sh -c "kill -ABRT \$\$"
'

test_expect_success 'test_must_fail_usage accepts status 2 only' '
	test_must_fail_usage sh -c "exit 2"
	expect_false test_must_fail_usage sh -c "exit 1"
	expect_false test_must_fail_usage true
	expect_false test_must_fail_usage sh -c "kill -SEGV \$\$"
'

# A test file of its own, run by a nested bash, to watch the harness judge.
cat >"$TEST_ROOT/nested.sh" <<EOF
. "$E2E_DIR/lib.sh"
echo "\$TEST_ROOT" >"$TEST_ROOT/nested-root"
test_expect_success 'passes' 'true'
test_expect_success 'fails in the middle' '
	false
	true
'
test_expect_success 'fails at the end' 'echo visible-output; false'
test_expect_success 'fails in a pipe' 'sh -c "exit 3" | cat'
test_expect_success 'unset variable' 'echo \$no_such_variable'
test_done
EOF

test_expect_success 'a failing case is reported and fails the file' '
	test_must_fail bash "$TEST_ROOT/nested.sh" >out 2>&1
	test_grep "^ok 1 - passes" out
	test_grep "^not ok 2 - fails in the middle" out
	test_grep "^not ok 3 - fails at the end" out
	test_grep "visible-output" out
	test_grep "^not ok 4 - fails in a pipe" out
	test_grep "^not ok 5 - unset variable" out
	test_grep "4 failed" out
	test_path_is_missing "$(cat "$TEST_ROOT/nested-root")"
'

cat >"$TEST_ROOT/nested2.sh" <<EOF
. "$E2E_DIR/lib.sh"
test_expect_success 'passes' 'true'
false
test_done
EOF

test_expect_success 'a test file that dies outside a case fails' '
	test_must_fail bash "$TEST_ROOT/nested2.sh" >out 2>&1
	test_grep "stopped before test_done" out
'

cat >"$TEST_ROOT/nested3.sh" <<EOF
. "$E2E_DIR/lib.sh"
test_expect_success 'passes' 'true'
test_skip 'skipped' 'no reason'
test_done
EOF

test_expect_success 'a passing test file exits 0' '
	bash "$TEST_ROOT/nested3.sh" >out 2>&1
	test_grep "1 passed, 0 failed, 1 skipped" out
'

test_expect_success 'make_tree makes a varied tree' '
	make_tree t
	test -d t/empty-dir
	test_dir_is_empty t/empty-dir
	test -d t/docs/deep/er/nested
	test_eq $((3 * 1024 * 1024 + 123)) "$(stat -c %s t/data/big.bin)" size
	test_eq 0 "$(stat -c %s t/empty-file)" size
	test -L t/link-to-readme
	test_eq README "$(readlink t/link-to-readme)" target
	test -L t/dangling
	test_eq "$(stat -c %i t/hard-a)" "$(stat -c %i t/data/hard-b)" inode
	test_mode 755 t/bin/tool.sh
	test_mode 600 t/private
	test -f "t/with space.txt"
'

test_expect_success 'compare_trees: a copy is the same' '
	make_tree a
	cp -a a b
	compare_trees a b
	compare_trees --mtime a b
'

# fresh_copy: b becomes an exact copy of a again.
fresh_copy() {
	rm -rf b
	cp -a a b
}

test_expect_success 'compare_trees sees content, mode, link, type changes' '
	fresh_copy
	echo changed >>b/README
	expect_false compare_trees a b
	fresh_copy
	chmod 0700 b/bin/tool.sh
	expect_false compare_trees a b
	fresh_copy
	ln -sfn elsewhere b/link-to-readme
	expect_false compare_trees a b
	fresh_copy
	rmdir b/empty-dir
	: >b/empty-dir
	expect_false compare_trees a b
	fresh_copy
	mkdir b/empty-dir/x
	expect_false compare_trees a b
	fresh_copy
	chmod 0700 b/docs
	expect_false compare_trees a b
	fresh_copy
	mkfifo a/fifo b/fifo
	compare_trees a b
	rm b/fifo
	: >b/fifo
	expect_false compare_trees a b
	rm a/fifo
'

test_expect_success 'compare_trees sees a broken hardlink and mtimes' '
	fresh_copy
	cp b/hard-a b/hard-a.new
	mv b/hard-a.new b/hard-a
	expect_false compare_trees a b
	fresh_copy
	touch -d "2001-01-01" b/README
	compare_trees a b
	expect_false compare_trees --mtime a b
'

test_expect_success 'json_check and json_get' '
	echo "{\"a\": 1, \"b\": [\"x\", \"y\"], \"s\": \"str\"}" >j.json
	json_check j.json "d[\"a\"] == 1" "len(d[\"b\"]) == 2"
	expect_false json_check j.json "d[\"a\"] == 2"
	expect_false json_check j.json "d[\"missing\"]"
	test_eq str "$(json_get j.json "d[\"s\"]")"
	test_eq "[\"x\", \"y\"]" "$(json_get j.json "d[\"b\"]")"
'

test_expect_success 'wait_for polls until true and gives up in time' '
	calls=0
	third_call() { calls=$((calls + 1)); [ "$calls" -ge 3 ]; }
	wait_for 5 third_call
	test_eq 3 "$calls" calls
	start=$(date +%s)
	expect_false wait_for 1 test -e no-such-flag
	test $(($(date +%s) - start)) -le 3
'

test_done
