#!/usr/bin/env bash
# A mirror daemon killed with SIGKILL while a sync is transferring: the
# published tree was never partial; started again, the node resumes that
# same task (not a new one), which ends with the exact tree, and the
# task's history says the first attempt died.  A running sync canceled
# with pulpdist cancel stops and publishes nothing; a reload (SIGHUP)
# leaves a running one alone; one running when the node gets SIGTERM
# stops (the node does not wait for it to finish), is queued again, and
# ends the sync when the node starts again.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-node.sh"
. "$E2E_DIR/lib-pull.sh"

# mirror_conf UPSTREAM: the mirror's configuration.
mirror_conf() {
	node_section mirror mirror.conf
	cat >>mirror.conf <<-EOF

	[tree t]
	role = mirror
	upstream = $1
	trust = $TEST_ROOT/k.pub
	publish = $TEST_ROOT/pub
	schedule = every 1h
	EOF
}

# staged_over BYTES: more than BYTES came into the mirror's staging (its
# build, copies of the held version, is not what came).
staged_over() {
	[ "$(du -sb --exclude=build "$TEST_ROOT/mirror-data/staging/t" \
	    2>/dev/null | cut -f1)" -gt "$1" ] 2>/dev/null
}

test_expect_success 'setup: a tree, an origin daemon' '
	pd keygen k >/dev/null &&
	make_tree src &&
	mkdir pub &&
	node_section origin origin.conf &&
	cat >>origin.conf <<-EOF
	[tree t]
	role = origin
	source = $TEST_ROOT/src
	key = $TEST_ROOT/k.key
	schedule = every 1h
	EOF
'
node_start origin "$TEST_ROOT/origin.conf"

test_expect_success 'setup: version 1 mirrored by a mirror daemon' '
	wait_version origin t 1 &&
	mirror_conf "$(node_url origin)"
'
node_start mirror "$TEST_ROOT/mirror.conf"

test_expect_success 'setup: version 2, much bigger; the mirror stopped' '
	wait_version mirror t 1 &&
	cp -a src src-v1 &&
	node_stop mirror &&
	head -c $((24 * 1024 * 1024)) /dev/urandom >src/data/large.img &&
	for i in $(seq 1 100); do
		echo "file $i $RANDOM" >src/docs/n$i.txt || return 1
	done &&
	pd sync --node "$(node_url origin)" t >/dev/null &&
	wait_version origin t 2
'

SERVE_URL=$(node_url origin)
proxy_start slow 20
mirror_conf "$PROXY_URL"
node_start mirror "$TEST_ROOT/mirror.conf"

test_expect_success 'kill -9 mid-transfer: the published tree is whole' '
	wait_for 60 staged_over 4000000 &&
	node_kill mirror &&
	rsync -rlptn --checksum --itemize-changes src-v1/ pub/t/ >is.out &&
	test_file_is_empty is.out
'
proxy_stop
mirror_conf "$(node_url origin)"
node_start mirror "$TEST_ROOT/mirror.conf"

test_expect_success 'started again, the same task resumes and ends exact' '
	wait_version mirror t 2 &&
	compare_trees --mtime src pub/t/ &&
	pd tasks --node "$(node_url mirror)" --json >tasks.json &&
	"$PYTHON" -c "import json; d = json.load(open(\"tasks.json\")); json.dump({\"tasks\": [t for t in d[\"tasks\"] if t[\"kind\"] == \"sync\"]}, open(\"syncs.json\", \"w\"))" &&
	json_check syncs.json "len(d[\"tasks\"]) == 2" \
		"d[\"tasks\"][0][\"state\"] == \"done\"" \
		"d[\"tasks\"][0][\"attempts\"] == 2" \
		"\"died during attempt 1\" in d[\"tasks\"][0][\"error\"]" &&
	node_log mirror >log &&
	test_grep "1 tasks were running when the node last stopped" log
'

test_expect_success 'setup: version 3, bigger again' '
	cp -a src src-v2 &&
	head -c $((24 * 1024 * 1024)) /dev/urandom >src/data/large.img &&
	pd sync --node "$(node_url origin)" t >/dev/null &&
	wait_version origin t 3 &&
	node_stop mirror
'

SERVE_URL=$(node_url origin)
proxy_start slow 20
mirror_conf "$PROXY_URL"
node_start mirror "$TEST_ROOT/mirror.conf"

# running_sync: the id of the mirror sync task that is running, if any.
running_sync() {
	pd tasks --node "$(node_url mirror)" --json >rt.json 2>/dev/null &&
	    json_get rt.json "([t[\"id\"] for t in d[\"tasks\"] if t[\"state\"] == \"running\"] + [\"\"])[0]"
}

# task_is ID STATE: the mirror's task ID is in STATE.
task_is() {
	pd tasks --node "$(node_url mirror)" --json >ts.json 2>/dev/null &&
	    [ "$(json_get ts.json "[t[\"state\"] for t in d[\"tasks\"] if t[\"id\"] == $1][0]")" = "$2" ]
}

test_expect_success 'pulpdist cancel of a running sync: it stops, nothing published' '
	wait_for 60 staged_over 2000000 &&
	id=$(running_sync) && test -n "$id" &&
	pd cancel --node "$(node_url mirror)" $id >out &&
	test_grep "^task $id canceled$" out &&
	wait_for 30 task_is $id canceled &&
	rsync -rlptn --checksum --itemize-changes src-v2/ pub/t/ >is.out &&
	test_file_is_empty is.out
'

test_expect_success 'SIGTERM mid-sync: the node stops at once, the task waits' '
	pd sync --node "$(node_url mirror)" t >out &&
	id=$(sed -n "s/^tree t: task \([0-9]*\) .*/\1/p" out) &&
	echo $id >stopped-id &&
	wait_for 60 task_is $id running &&
	# A reload meanwhile drops no transfer.
	kill -HUP "$(node_pid mirror)" &&
	wait_for 20 grep -q "reloaded: 1 trees" "$E2E_META/node.mirror.err" &&
	task_is $id running &&
	node_stop mirror &&
	node_log mirror >log &&
	test_grep "stop at their next checkpoint" log &&
	rsync -rlptn --checksum --itemize-changes src-v2/ pub/t/ >is.out &&
	test_file_is_empty is.out
'
proxy_stop
mirror_conf "$(node_url origin)"
node_start mirror "$TEST_ROOT/mirror.conf"

test_expect_success 'started again, that same task ends the sync' '
	wait_version mirror t 3 &&
	compare_trees --mtime src pub/t/ &&
	id=$(cat stopped-id) &&
	wait_for 30 task_is $id done &&
	pd tasks --node "$(node_url mirror)" --json >tasks.json &&
	json_check tasks.json \
		"[t for t in d[\"tasks\"] if t[\"kind\"] == \"sync\"][0][\"id\"] == $id" \
		"[t for t in d[\"tasks\"] if t[\"id\"] == $id][0][\"attempts\"] == 1"
'

test_expect_success 'stop both' '
	node_stop mirror &&
	node_stop origin
'

test_done
