#!/usr/bin/env bash
# A node under load (issue 5): past its connection cap a new connection
# is answered 503 with Retry-After and closed, and memory stays bounded
# however many come; past its transfer cap a request gets 503; a client
# sending its request a byte at a time is closed at the header deadline,
# one draining a reply too slowly at the reply's deadline; and a pull
# from a node that answers 503 waits and tries again, a bounded number
# of times.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-pull.sh"

load() {
	"$PYTHON" "$E2E_DIR/load-client.py" "$@"
}

# vmhwm PID: the process's peak resident memory, in KiB.
vmhwm() {
	sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$1/status"
}

# answers_200 PORT: a plain request is answered 200.
answers_200() {
	test "$(load get 127.0.0.1 "$1" /v1/trees)" = 200
}

test_expect_success 'setup: origin with a tree and a 48 MiB file' '
	pd keygen k >/dev/null
	make_tree src
	head -c $((48 * 1024 * 1024)) /dev/zero >src/data/huge.img
	origin_import
	sha256sum src/data/huge.img | cut -c1-64 >huge.sha
'

serve_start "$ORIGIN" --max-connections 8 --max-transfers 2 \
    --header-timeout 2 --idle-timeout 60
PORT=${SERVE_URL##*:}

test_expect_success 'bad limits are usage errors' '
	test_must_fail_usage pd serve --data "$ORIGIN" \
		--listen 127.0.0.1:0 --max-connections 0
	test_must_fail_usage pd serve --data "$ORIGIN" \
		--listen 127.0.0.1:0 --header-timeout x
	test_must_fail_usage pd serve --data "$ORIGIN" \
		--listen 127.0.0.1:0 --min-rate -1
'

test_expect_success '200 connections against a cap of 8: 192 get 503' '
	before=$(vmhwm $SERVE_PID)
	load flood 127.0.0.1 $PORT 200 /v1/trees >answers
	after=$(vmhwm $SERVE_PID)
	sort answers | uniq -c >&5
	# The 8 let in are answered, 200 or (past the transfer cap) 503.
	test_grep -x 200 answers
	test_eq 8 "$(grep -c -x -e 200 \
		-e "503 retry-after=2 json error=overloaded,_try_again_later" \
		answers)" "connections let in"
	test_eq 192 "$(grep -c -x \
		"503 retry-after=2 json error=too_many_connections" answers)" \
		"connections refused with 503, Retry-After and a JSON body"
	say "VmHWM $before KiB before the flood, $after KiB after"
	test $((after - before)) -lt $((64 * 1024))
'

test_expect_success 'after the flood, a request is answered 200' '
	wait_for 10 answers_200 $PORT
'

test_expect_success 'a slow-loris client is closed at the header deadline' '
	wait_for 10 answers_200 $PORT
	load loris 127.0.0.1 $PORT /v1/trees 0.5 60 >loris
	test_grep "^closed after [1-9][0-9]* bytes$" loris
'

test_expect_success 'past 2 transfers in flight, a request gets 503' '
	wait_for 10 answers_200 $PORT
	load transfers 127.0.0.1 $PORT 2 /v1/objects/$(cat huge.sha) \
		/v1/trees >third
	test_grep -x \
		"503 retry-after=2 json error=overloaded,_try_again_later" third
	wait_for 10 answers_200 $PORT
'

test_expect_success 'the counters say what was refused and closed' '
	curl -sS -o status.json "$SERVE_URL/v1/status"
	json_check status.json \
		"d[\"server\"][\"connections_refused\"] == 192" \
		"d[\"server\"][\"transfers_refused\"] >= 1" \
		"d[\"server\"][\"closed_header_deadline\"] >= 1"
	serve_stop
	test_grep "192 refused; [1-9][0-9]* requests refused past the transfer cap" "$SERVE_LOG"
	test_grep "closed [1-9][0-9]* at the header deadline" "$SERVE_LOG"
	test_grep "at most 8 open" "$SERVE_LOG"
'

test_expect_success 'a slow reply is cut, an idle kept-alive connection closed' '
	serve_start "$ORIGIN" --timeout 3 --min-rate $((16 * 1024 * 1024)) \
		--idle-timeout 1
	port=${SERVE_URL##*:}
	load slowread 127.0.0.1 $port /v1/objects/$(cat huge.sha) >slow
	test_grep "^cut at [0-9]* of 50331648 bytes$" slow
	load keepalive 127.0.0.1 $port /v1/trees 3 >kept
	printf "200\n200\n200\nclosed\n" >kept.want
	test_cmp kept.want kept
	serve_stop
	test_grep "closed 0 at the header deadline, 1 at the total deadline, 1 idle" \
		"$SERVE_LOG"
'

serve_start "$ORIGIN"

test_expect_success 'a pull from a node busy 3 times waits and completes' '
	proxy_start busy 3
	mirror_pull_from $PROXY_URL --json >pull.json
	proxy_stop
	proxy_log >log
	test_eq 3 "$(grep -c " 503 busy$" log)" "requests answered 503"
	json_check pull.json "d[\"retried_requests\"] == 3" \
		"d[\"to_version\"] == 1"
	rsync_clean src pub/t
'

test_expect_success 'a node always busy: the pull gives up after 6 tries' '
	echo "version two" >>src/README
	origin_import
	proxy_start busy
	test_must_fail mirror_pull_from $PROXY_URL 2>err
	proxy_stop
	proxy_log >log
	test_eq 6 "$(grep -c " 503 busy$" log)" "requests answered 503"
	test_eq 1 "$(cut -d" " -f2 log | sort -u | wc -l)" "paths asked"
	test_grep "HTTP 503" err
	test "$(published_version)" = 1
'

test_done
