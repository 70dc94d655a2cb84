# Helpers for the node daemon tests (t34xx), sourced after lib.sh: start
# `pulpdist node --config FILE` processes on 127.0.0.1, find their URLs,
# stop them by pid (SIGTERM, checking the exit status) or kill them.
#
# A node NAME keeps its files in $E2E_META/node.NAME.{pid,out,err,rc}.
# Every pid also goes to $E2E_META/serve.pids, so the cleanup at exit
# stops whatever a failed test left running.

# node_start NAME CONF: start a daemon; returns once it listens.
node_start() {
	local name=$1 conf=$2 m=$E2E_META/node.$1 pid

	rm -f "$m.pid" "$m.out" "$m.rc"
	{
		"$PULPDIST" node --config "$conf" >"$m.out" 2>>"$m.err" \
		    </dev/null &
		pid=$!
		echo "$pid" >"$m.pid"
		wait "$pid" && echo 0 >"$m.rc.tmp" || echo $? >"$m.rc.tmp"
		mv "$m.rc.tmp" "$m.rc"
	} &
	if ! wait_for 20 node_listening "$name"; then
		sed 's/^/|  /' "$m.err" >&5
		return 1
	fi
	cat "$m.pid" >>"$E2E_META/serve.pids"
}

node_listening() {
	local m=$E2E_META/node.$1

	if [ -f "$m.rc" ]; then
		say "error: node $1 exited with status $(cat "$m.rc")"
		return 2
	fi
	[ -s "$m.pid" ] && grep -q '^listening on https\?://' "$m.out" 2>/dev/null
}

node_url() {
	sed -n 's|^listening on \(https*://.*\)$|\1|p' "$E2E_META/node.$1.out"
}

node_pid() {
	cat "$E2E_META/node.$1.pid"
}

# node_log NAME: the daemon's stderr so far.
node_log() {
	cat "$E2E_META/node.$1.err"
}

# node_stop NAME: SIGTERM; it must exit with status 0.
node_stop() {
	local m=$E2E_META/node.$1

	kill -TERM "$(node_pid "$1")" 2>/dev/null || true
	wait_for 60 test -f "$m.rc" || return 1
	test_eq 0 "$(cat "$m.rc")" "exit status of node $1"
}

# node_kill NAME: SIGKILL, and wait until it is gone.
node_kill() {
	local m=$E2E_META/node.$1

	kill -KILL "$(node_pid "$1")"
	wait_for 20 test -f "$m.rc"
}

# node_status NAME FILE: its GET /v1/status, as JSON in FILE.
node_status() {
	pd status --node "$(node_url "$1")" --json >"$2"
}

# tree_version NAME TREE: the version node NAME holds of TREE (0: none).
tree_version() {
	node_status "$1" "$E2E_META/st.json" &&
	    json_get "$E2E_META/st.json" \
	    "([t[\"version\"] for t in d[\"trees\"] if t[\"name\"] == \"$2\"] + [0])[0]"
}

# wait_version NAME TREE N: until node NAME holds version N of TREE.
wait_version() {
	wait_for 60 version_is "$@"
}

version_is() {
	[ "$(tree_version "$1" "$2")" = "$3" ]
}

# node_section NAME FILE [CA]: the [node] section of NAME (data in
# $TEST_ROOT/NAME-data) into FILE: with the certificate CA/NAME.crt, its
# key and CA/ca.crt when CA is given, else plain HTTP on loopback.
node_section() {
	printf '[node]\nname = %s\ndata = %s\nlisten = 127.0.0.1:0\nworkers = 2\n' \
	    "$1" "$TEST_ROOT/$1-data" >"$2"
	if [ -n "${3:-}" ]; then
		printf 'tls_cert = %s\ntls_key = %s\ntls_ca = %s\n' \
		    "$3/$1.crt" "$3/$1.key" "$3/ca.crt" >>"$2"
	else
		echo "insecure_http = yes" >>"$2"
	fi
}

