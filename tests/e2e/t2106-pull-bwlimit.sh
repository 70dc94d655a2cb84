#!/usr/bin/env bash
# pulpdist pull --bwlimit: the pull receives no faster than the rate it
# is given (what a mirror's `bandwidth` does), over all its transfers at
# once, and a malformed rate is a usage error.  The checks are lower
# bounds on the transfer's time, which a slow machine only makes easier
# to meet: the limit allows a burst of 100 ms of the rate, no more.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-pull.sh"

test_expect_success 'setup: 2 MiB of incompressible content, imported' '
	pd keygen k >/dev/null &&
	mkdir src &&
	head -c $((2 * 1024 * 1024)) /dev/urandom >src/blob &&
	origin_import
'

serve_start "$ORIGIN"

test_expect_success 'at most 512 KiB/s: 2 MiB take 4 s, at least 3.5' '
	mirror_pull --parallel 1 --bwlimit 512K --json >pull.json &&
	json_check pull.json "d[\"wire_bytes\"] > 2 * 1024 * 1024" \
		"d[\"seconds_transfer\"] >= 3.5" &&
	compare_trees --mtime src pub/t/
'

test_expect_success 'the rate is for all transfers at once, not each' '
	for i in 1 2 3 4; do
		head -c $((512 * 1024)) /dev/urandom >src/part-$i || return 1
	done &&
	origin_import &&
	mirror_pull --parallel 4 --bwlimit 1M --json >pull.json &&
	json_check pull.json "d[\"wire_bytes\"] > 2 * 1024 * 1024" \
		"d[\"seconds_transfer\"] >= 1.8" &&
	compare_trees --mtime src pub/t/
'

test_expect_success 'a rate must have its unit, as in the config' '
	test_must_fail_usage pd pull --data m2 --from "$SERVE_URL" --tree t \
		--trust k.pub --publish pub --bwlimit 512 2>err &&
	test_grep "bad --bwlimit 512: want a rate like 512K" err &&
	test_must_fail_usage pd pull --data m2 --from "$SERVE_URL" --tree t \
		--trust k.pub --publish pub --bwlimit fast
'

test_expect_success 'stop' '
	serve_stop
'

test_done
