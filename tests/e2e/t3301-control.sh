#!/usr/bin/env bash
# Node control (spec/PROTOCOL.md, "Node control") on a plain
# `pulpdist serve`: GET /v1/status and `pulpdist status` show its trees
# and counters; tasks, sync and cancel, which only a node daemon runs,
# are refused with a clear 404, and malformed forms with 400 or 405.
. "$(dirname "$0")/lib.sh"

DATA=$TEST_ROOT/data

test_expect_success 'setup: two trees, served' '
	pd keygen k >/dev/null
	make_tree src
	pd import --data "$DATA" --tree docs --key k.key src >/dev/null
	echo more >src/more.txt
	pd import --data "$DATA" --tree docs --key k.key src >/dev/null
	pd import --data "$DATA" --tree lab --key k.key src >/dev/null
'
# At the top level: the tests need SERVE_URL and SERVE_PID.
serve_start "$DATA"

test_expect_success 'GET /v1/status: every tree at its head, the counters' '
	curl -sS -f -o st.json "$SERVE_URL/v1/status"
	pd log --data "$DATA" --tree docs --json >log.json
	id=$(json_get log.json "[v for v in d[\"versions\"] if v[\"version\"] == 2][0][\"manifest\"]")
	json_check st.json "d[\"node\"][\"name\"] is None" \
		"d[\"node\"][\"uptime\"] >= 0" \
		"[t[\"name\"] for t in d[\"trees\"]] == [\"docs\", \"lab\"]" \
		"d[\"trees\"][0][\"version\"] == 2" \
		"d[\"trees\"][0][\"manifest\"] == \"$id\"" \
		"d[\"trees\"][1][\"version\"] == 1" \
		"d[\"tasks\"] == {\"running\": [], \"queued\": []}" \
		"d[\"errors\"] == []" \
		"d[\"server\"][\"requests\"] >= 1"
	curl -sS -f -o st2.json "$SERVE_URL/v1/status"
	# The counters move: the first status request is counted by now.
	json_check st2.json "d[\"server\"][\"requests\"] >= 2" \
		"d[\"server\"][\"bytes_out\"] > 0"
'

test_expect_success 'pulpdist status: the same, for a person and as JSON' '
	pd status --node "$SERVE_URL" >out
	test_grep "^node (plain serve), up [0-9]*s, 2 trees$" out
	test_grep "^  docs  *- *v2 *idle$" out
	test_grep "^  lab  *- *v1 *idle$" out
	test_grep "^served [0-9]* requests (0 errors, 0 overloaded)" out
	pd status --node "$SERVE_URL" --json >st.json
	json_check st.json "len(d[\"trees\"]) == 2"
'

test_expect_success 'tasks, sync and cancel: this node runs no tasks' '
	for cmd in "tasks" "sync docs" "cancel 3"; do
		test_expect_code 1 pd $cmd --node "$SERVE_URL" 2>err
		test_grep "HTTP 404: this node runs no tasks" err
	done
	curl -sS -o body -w "%{http_code}" -X POST \
		"$SERVE_URL/v1/trees/docs/sync" >code
	test_eq 404 "$(cat code)" status
	json_check body "d[\"error\"] == \"this node runs no tasks\""
'

test_expect_success 'malformed control requests: 400 and 405, named' '
	curl -sS -o body -w "%{http_code}" "$SERVE_URL/v1/tasks?limit=0" >code
	test_eq 400 "$(cat code)" status
	json_check body "d[\"error\"].startswith(\"malformed limit\")"
	curl -sS -o body -w "%{http_code}" "$SERVE_URL/v1/trees/docs/sync" >code
	test_eq 405 "$(cat code)" status
	curl -sS -o body -w "%{http_code}" -X POST "$SERVE_URL/v1/status" >code
	test_eq 405 "$(cat code)" status
	curl -sS -o body -w "%{http_code}" -X POST \
		"$SERVE_URL/v1/tasks/0/cancel" >code
	test_eq 400 "$(cat code)" status
'

test_expect_success 'the commands refuse bad arguments before asking' '
	test_must_fail_usage pd status
	test_must_fail_usage pd status --node ftp://x
	test_must_fail_usage pd sync --node "$SERVE_URL"
	test_must_fail_usage pd sync --node "$SERVE_URL" ../x
	test_must_fail_usage pd cancel --node "$SERVE_URL" 0
	test_must_fail_usage pd tasks --node "$SERVE_URL" --limit 0
	test_must_fail_usage pd status --node "$SERVE_URL" --tree docs
'

test_expect_success 'a node that is not there: an error naming it' '
	port=$("$PYTHON" -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])")
	test_expect_code 1 pd status --node http://127.0.0.1:$port 2>err
	test_grep "node http://127.0.0.1:$port" err
'

test_expect_success 'stop' '
	serve_stop
'

test_done
