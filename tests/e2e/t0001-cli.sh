#!/usr/bin/env bash
# Command line: help, version, and usage errors (exit status 2, message on
# stderr, nothing done) for every command.
. "$(dirname "$0")/lib.sh"

COMMANDS="keygen import log show diff verify"

test_expect_success 'pulpdist --help lists every command' '
	pd --help >out 2>err
	test_grep "^usage: pulpdist" out
	for c in $COMMANDS; do
		test_grep "^  $c " out
	done
	test_file_is_empty err
'

test_expect_success 'pulpdist -h and pulpdist help print the same' '
	pd --help >want
	pd -h >out
	test_cmp want out
	pd help >out
	test_cmp want out
'

test_expect_success 'pulpdist --version' '
	pd --version >out 2>err
	test_grep -E "^pulpdist [0-9]+\.[0-9]+\.[0-9]+$" out
	test_eq 1 "$(wc -l <out)" lines
	test_file_is_empty err
'

for c in $COMMANDS; do
	test_expect_success "pulpdist $c --help" '
		pd '"$c"' --help >out 2>err
		test_grep "^usage: pulpdist '"$c"'" out
		test_file_is_empty err
		pd '"$c"' -h >out.h
		test_cmp out out.h
		pd help '"$c"' >out.help
		test_cmp out out.help
	'
done

test_expect_success 'no command: usage on stderr, status 2' '
	test_must_fail_usage pd >out 2>err
	test_grep "^usage: pulpdist" err
	test_file_is_empty out
'

test_expect_success 'unknown command: status 2, named' '
	test_must_fail_usage pd frobnicate >out 2>err
	test_grep "frobnicate" err
	test_file_is_empty out
'

test_expect_success 'help for an unknown command: status 2, named' '
	test_must_fail_usage pd help frobnicate >out 2>err
	test_grep "frobnicate" err
	test_file_is_empty out
'

test_expect_success 'unknown global option: status 2' '
	test_must_fail_usage pd --frobnicate log >out 2>err
	test_grep -e "--frobnicate" err
	test_must_fail_usage pd --log-level loud log --data d --tree t
	test_must_fail_usage pd --log-level
'

for c in $COMMANDS; do
	test_expect_success "pulpdist $c: unknown option is status 2" '
		test_must_fail_usage pd '"$c"' --frobnicate >out 2>err
		test_grep "usage: pulpdist '"$c"'" err
		test_file_is_empty out
	'
done

test_expect_success 'keygen: NAME is required, only one' '
	test_must_fail_usage pd keygen 2>err
	test_grep "usage: pulpdist keygen" err
	test_must_fail_usage pd keygen a b
	test_path_is_missing a.key
	test_path_is_missing a.pub
'

test_expect_success 'import: --data, --tree, --key and one SRC are required' '
	pd keygen k >/dev/null
	mkdir src
	test_must_fail_usage pd import --tree t --key k.key src 2>err
	test_grep "usage: pulpdist import" err
	test_must_fail_usage pd import --data d --key k.key src
	test_must_fail_usage pd import --data d --tree t src
	test_must_fail_usage pd import --data d --tree t --key k.key
	test_must_fail_usage pd import --data d --tree t --key k.key src src
	test_path_is_missing d
'

test_expect_success 'import: bad --threads and --expires are status 2' '
	test_must_fail_usage pd import --data d --tree t --key k.key \
		--threads 0 src
	test_must_fail_usage pd import --data d --tree t --key k.key \
		--threads lots src
	test_must_fail_usage pd import --data d --tree t --key k.key \
		--threads 100000 src
	test_must_fail_usage pd import --data d --tree t --key k.key \
		--expires soon src
	test_must_fail_usage pd import --data d --tree t --key k.key \
		--expires 0 src
	test_must_fail_usage pd import --data d --tree t --key k.key \
		--expires 5y src
	test_path_is_missing d
'

for c in log show verify; do
	test_expect_success "$c: --data and --tree are required" '
		test_must_fail_usage pd '"$c"' --tree t 2>err
		test_grep "usage: pulpdist '"$c"'" err
		test_must_fail_usage pd '"$c"' --data d
		test_must_fail_usage pd '"$c"' --data d --tree t extra
		test_path_is_missing d
	'
done

test_expect_success 'show, verify: --version must be a number from 1' '
	test_must_fail_usage pd show --data d --tree t --version 0
	test_must_fail_usage pd show --data d --tree t --version x
	test_must_fail_usage pd show --data d --tree t --version -1
	test_must_fail_usage pd verify --data d --tree t --version 0
	test_must_fail_usage pd verify --data d --tree t --version 1x
'

test_expect_success 'diff: two version numbers from 1 are required' '
	test_must_fail_usage pd diff --tree t 1 2 2>err
	test_grep "usage: pulpdist diff" err
	test_must_fail_usage pd diff --data d 1 2
	test_must_fail_usage pd diff --data d --tree t
	test_must_fail_usage pd diff --data d --tree t 1
	test_must_fail_usage pd diff --data d --tree t 1 2 3
	test_must_fail_usage pd diff --data d --tree t 0 1
	test_must_fail_usage pd diff --data d --tree t 1 x
	test_must_fail_usage pd diff --data d --tree t -1 2
'

test_expect_success 'read commands on a missing data directory fail, create nothing' '
	test_must_fail pd log --data nodata --tree t 2>err
	test_grep "nodata" err
	test_must_fail pd show --data nodata --tree t
	test_must_fail pd diff --data nodata --tree t 1 2
	test_must_fail pd verify --data nodata --tree t
	test_path_is_missing nodata
'

test_expect_success '--log-level error silences warnings, debug is accepted' '
	mkfifo src/fifo
	pd --log-level error import --data d --tree t --key k.key src \
		>out 2>err
	test_file_is_empty err
	pd --log-level debug log --data d --tree t >out
	test_grep "^tree t: 1 version" out
'

test_done
