#!/usr/bin/env bash
# pulpdist node: an origin daemon imports its source when it starts and
# whenever inotify says it changed; a mirror daemon syncs it at start and
# when told (pulpdist sync), publishes it, runs its on_publish hook, and
# keeps every step as a task (pulpdist tasks, pulpdist status).  SIGHUP
# reloads the configuration (and refuses a bad one), SIGTERM stops, a
# second daemon on the same data directory is refused.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-node.sh"

# origin_conf FILE: the origin's configuration.
origin_conf() {
	cat >"$1" <<-EOF
	[node]
	name = origin
	data = $TEST_ROOT/odata
	listen = 127.0.0.1:0
	insecure_http = yes
	workers = 2

	[tree docs]
	role = origin
	source = $TEST_ROOT/src
	key = $TEST_ROOT/k.key
	watch = yes
	quiet = 1s
	EOF
}

# mirror_conf FILE [EXTRA-SECTION-FILE]: the mirror's configuration.
mirror_conf() {
	cat >"$1" <<-EOF
	[node]
	name = mirror
	data = $TEST_ROOT/mdata
	listen = 127.0.0.1:0
	insecure_http = yes
	workers = 2

	[tree docs]
	role = mirror
	upstream = $(node_url origin)
	trust = $TEST_ROOT/k.pub
	publish = $TEST_ROOT/pub
	schedule = every 1h
	on_publish = env | grep ^PULPDIST_ | sort >"$TEST_ROOT/hook.\$PULPDIST_VERSION"
	EOF
	[ -z "${2:-}" ] || cat "$2" >>"$1"
}

# gone_retried: tree gone's newest task failed at least once (gt.json).
gone_retried() {
	pd tasks --node "$(node_url mirror)" --tree gone --json >gt.json &&
	    json_get gt.json "d[\"tasks\"][0][\"attempts\"] >= 1 and d[\"tasks\"][0][\"error\"] != \"\"" | grep -qx true
}

# clean_done: the mirror's newest clean-up task is done.
clean_done() {
	pd tasks --node "$(node_url mirror)" --json >ct.json &&
	    json_get ct.json "[t[\"state\"] for t in d[\"tasks\"] if t[\"kind\"] == \"clean\"][0]" | grep -qx done
}

# reloaded N: the mirror has logged N successful reloads.
reloaded() {
	[ "$(grep -c "reloaded: " "$E2E_META/node.mirror.err")" -ge "$1" ]
}

test_expect_success 'setup: a key and a source tree' '
	pd keygen k >/dev/null &&
	make_tree src &&
	mkdir pub &&
	origin_conf origin.conf
'
node_start origin "$TEST_ROOT/origin.conf"

test_expect_success 'the origin imports its source when it starts' '
	wait_version origin docs 1 &&
	pd show --data odata --tree docs --version 1 --json >v1.json &&
	json_check v1.json "d[\"version\"] == 1"
'

mirror_conf mirror.conf
node_start mirror "$TEST_ROOT/mirror.conf"

test_expect_success 'the mirror syncs at start and publishes it' '
	wait_version mirror docs 1 &&
	compare_trees --mtime src pub/docs/
'

test_expect_success 'on_publish ran with the tree, versions and paths' '
	wait_for 20 test -s hook.1 &&
	test_grep "^PULPDIST_TREE=docs$" hook.1 &&
	test_grep "^PULPDIST_VERSION=1$" hook.1 &&
	test_grep "^PULPDIST_PREV_VERSION=0$" hook.1 &&
	test_grep "^PULPDIST_PUBLISH=$TEST_ROOT/pub/docs$" hook.1 &&
	test_grep "^PULPDIST_PATH=$TEST_ROOT/mdata/versions/docs/1$" hook.1
'

test_expect_success 'a change in the source is imported by itself' '
	echo "a new file" >src/new.txt &&
	echo "more" >>src/README &&
	wait_version origin docs 2
'

test_expect_success 'pulpdist sync: the mirror syncs now' '
	pd sync --node "$(node_url mirror)" docs >out &&
	test_grep "^tree docs: task [0-9]* \(queued\|was queued already\)$" out &&
	wait_version mirror docs 2 &&
	compare_trees --mtime src pub/docs/ &&
	wait_for 20 test -s hook.2 &&
	test_grep "^PULPDIST_PREV_VERSION=1$" hook.2
'

test_expect_success 'pulpdist tasks and status tell what ran' '
	pd tasks --node "$(node_url mirror)" --json >tasks.json &&
	json_check tasks.json \
		"len([t for t in d[\"tasks\"] if t[\"kind\"] == \"sync\" and t[\"state\"] == \"done\"]) >= 2" \
		"all(t[\"tree\"] == \"docs\" for t in d[\"tasks\"] if t[\"kind\"] == \"sync\")" \
		"[t for t in d[\"tasks\"] if t[\"kind\"] == \"clean\" and t[\"tree\"] == \"\"]" &&
	pd tasks --node "$(node_url origin)" --json >otasks.json &&
	json_check otasks.json \
		"len([t for t in d[\"tasks\"] if t[\"kind\"] == \"import\" and t[\"state\"] == \"done\"]) >= 2" \
		"[t for t in d[\"tasks\"] if t[\"kind\"] == \"delta\" and t[\"arg\"] == \"2\" and t[\"state\"] == \"done\"]" &&
	from=$(pd log --data odata --tree docs --json | "$PYTHON" -c "import json, sys; print([v for v in json.load(sys.stdin)[\"versions\"] if v[\"version\"] == 1][0][\"manifest\"])") &&
	ls odata/packs/${from:0:2}/$from-*-0.zst &&
	node_log origin >olog &&
	test_grep "\[docs task [0-9]*\] step to version 2: [0-9]* deltas made" olog &&
	node_status mirror st.json &&
	json_check st.json "d[\"node\"][\"name\"] == \"mirror\"" \
		"d[\"trees\"][0][\"role\"] == \"mirror\"" \
		"d[\"trees\"][0][\"schedule\"] == \"every 1h\"" \
		"d[\"engine\"][\"done\"] >= 2" \
		"d[\"rates\"][\"in_bytes\"] > 0" \
		"d[\"rates\"][\"out_bytes_per_s_60s\"] >= 0" &&
	pd status --node "$(node_url mirror)" >out &&
	test_grep "^node mirror, up [0-9]*s, 1 trees$" out &&
	test_grep "^  docs  *mirror  *v2 " out
'

test_expect_success 'the log names the tree and task on every line' '
	node_log mirror >log &&
	test_grep "pulpdist: info: \[docs task [0-9]*\] published version 2" log &&
	! grep -v "^[0-9-]*T[0-9:]*Z pulpdist: [a-z]*: \[[^ ]* [^]]*\] " log
'

test_expect_success 'sync of a tree the node does not have: 404, named' '
	test_must_fail pd sync --node "$(node_url mirror)" nosuch 2>err &&
	test_grep "HTTP 404: no tree nosuch on this node" err
'

test_expect_success 'a second daemon on the same data directory is refused' '
	test_must_fail pd node --config mirror.conf >out 2>err &&
	test_grep "task" err
'

test_expect_success 'SIGHUP with a broken file: refused, the node goes on' '
	cp mirror.conf mirror.good &&
	echo "bogus = 1" >>mirror.conf &&
	kill -HUP "$(node_pid mirror)" &&
	wait_for 20 grep -q "reload refused" "$E2E_META/node.mirror.err" &&
	test_grep "mirror.conf:[0-9]*: \[tree docs\] bogus" "$E2E_META/node.mirror.err" &&
	pd status --node "$(node_url mirror)" >/dev/null
'

test_expect_success 'SIGHUP adds a tree, which is synced at once' '
	pd import --data odata --tree lab --key k.key src >/dev/null &&
	cat >lab.section <<-EOF &&

	[tree lab]
	role = mirror
	upstream = $(node_url origin)
	trust = $TEST_ROOT/k.pub
	publish = $TEST_ROOT/pub
	EOF
	mirror_conf mirror.conf lab.section &&
	kill -HUP "$(node_pid mirror)" &&
	wait_for 20 grep -q "reloaded: 2 trees" "$E2E_META/node.mirror.err" &&
	wait_version mirror lab 1 &&
	compare_trees src pub/lab/
'

test_expect_success 'outside its window a sync waits; pulpdist cancel' '
	h=$(( ($(date +%-H) + 2) % 24 )) &&
	cat >late.section <<-EOF &&

	[tree lab]
	role = mirror
	upstream = $(node_url origin)
	trust = $TEST_ROOT/k.pub
	publish = $TEST_ROOT/pub
	window = $(printf "%02d:00-%02d:00" $h $(( (h + 1) % 24 )))
	EOF
	mirror_conf mirror.conf late.section &&
	kill -HUP "$(node_pid mirror)" &&
	wait_for 20 reloaded 2 &&
	pd sync --node "$(node_url mirror)" lab >out &&
	id=$(sed -n "s/^tree lab: task \([0-9]*\) .*/\1/p" out) &&
	pd tasks --node "$(node_url mirror)" --tree lab --json >t.json &&
	json_check t.json "[t for t in d[\"tasks\"] if t[\"id\"] == $id][0][\"state\"] == \"queued\"" \
		"[t for t in d[\"tasks\"] if t[\"id\"] == $id][0][\"next_run_ms\"] > $(date +%s)000" &&
	pd cancel --node "$(node_url mirror)" $id >out &&
	test_grep "^task $id canceled$" out &&
	pd tasks --node "$(node_url mirror)" --tree lab --json >t.json &&
	json_check t.json "[t for t in d[\"tasks\"] if t[\"id\"] == $id][0][\"state\"] == \"canceled\"" &&
	test_must_fail pd cancel --node "$(node_url mirror)" $id 2>err &&
	test_grep "HTTP 409" err &&
	test_must_fail pd cancel --node "$(node_url mirror)" 99999 2>err &&
	test_grep "HTTP 404" err
'

test_expect_success 'an upstream that is down: retried, the error shown' '
	port=$("$PYTHON" -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") &&
	cat >down.section <<-EOF &&

	[tree gone]
	role = mirror
	upstream = http://127.0.0.1:$port
	trust = $TEST_ROOT/k.pub
	publish = $TEST_ROOT/pub
	EOF
	mirror_conf mirror.conf down.section &&
	kill -HUP "$(node_pid mirror)" &&
	wait_for 20 reloaded 3 &&
	wait_for 30 gone_retried &&
	json_check gt.json "d[\"tasks\"][0][\"state\"] in (\"queued\", \"running\")" \
		"\"127.0.0.1:$port\" in d[\"tasks\"][0][\"error\"]" &&
	pd status --node "$(node_url mirror)" --json >st.json &&
	json_check st.json \
		"[t[\"state\"] for t in d[\"trees\"] if t[\"name\"] == \"gone\"][0] in (\"retrying\", \"running\")" &&
	node_log mirror >log &&
	test_grep "\[gone task [0-9]*\] sync failed (attempt 1 of 5), retried in" log
'

test_expect_success 'the clean-up task: staging of gone trees, old batches, orphan manifests' '
	node_stop mirror &&
	mkdir -p mdata/staging/dropped/objects mdata/batches/ab &&
	echo partial >mdata/staging/dropped/objects/x &&
	echo old >mdata/batches/ab/old.zst &&
	touch -d "40 days ago" mdata/batches/ab/old.zst &&
	echo new >mdata/batches/ab/new.zst &&
	ls mdata/manifests >recorded &&
	test -s recorded &&
	z=0000000000000000000000000000000000000000000000000000000000000000 &&
	echo orphan >mdata/manifests/$z &&
	touch -d "2 days ago" mdata/manifests/$z &&
	echo crashed >mdata/manifests/.pd-tmp.1.1 &&
	touch -d "2 days ago" mdata/manifests/.pd-tmp.1.1 &&
	echo saving >mdata/manifests/1111111111111111111111111111111111111111111111111111111111111111 &&
	ls mdata/staging >before
'
node_start mirror "$TEST_ROOT/mirror.conf"

test_expect_success 'the clean-up removed them, and nothing else' '
	wait_for 30 clean_done &&
	test_path_is_missing mdata/staging/dropped &&
	test_path_is_missing mdata/batches/ab/old.zst &&
	test -f mdata/batches/ab/new.zst &&
	test_path_is_missing mdata/manifests/0000000000000000000000000000000000000000000000000000000000000000 &&
	test_path_is_missing mdata/manifests/.pd-tmp.1.1 &&
	test -f mdata/manifests/1111111111111111111111111111111111111111111111111111111111111111 &&
	for f in $(cat recorded); do test -f "mdata/manifests/$f" || exit 1; done &&
	node_log mirror >log &&
	test_grep "\[- task [0-9]*\] removed the staging of tree dropped" log &&
	test_grep "clean-up: 1 staging areas, 1 batch responses older than 30 days and 2 manifests of no version removed" log
'

test_expect_success 'a configuration that does not check: the node does not start' '
	printf "[node]\nname = x\ndata = $TEST_ROOT/x\nlisten = 127.0.0.1:0\ninsecure_http = yes\nworkers = lots\n" >bad.conf &&
	test_must_fail pd node --config bad.conf >out 2>err &&
	test_grep "bad.conf:6: \[node\] workers" err &&
	test "$(wc -l <err)" = 1 &&
	test_path_is_missing x
'

test_expect_success 'SIGTERM: both stop, exit status 0' '
	node_stop mirror &&
	node_stop origin
'

test_done
