#!/usr/bin/env bash
# pulpdist node over mutual TLS: two daemons with certificates from one
# deployment CA sync a tree over HTTPS; the node commands talk to them
# with a certificate of that CA and get nothing without one.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-node.sh"

CA=$TEST_ROOT/ca

# status NAME: pd status --json of node NAME into st.json, as "admin".
status() {
	pd status --node "$(node_url "$1")" --tls-cert "$CA/admin.crt" \
	    --tls-key "$CA/admin.key" --tls-ca "$CA/ca.crt" --json >st.json
}

# has_version NAME N: node NAME holds version N of tree t.
has_version() {
	status "$1" 2>/dev/null &&
	    [ "$(json_get st.json "d[\"trees\"][0][\"version\"]")" = "$2" ]
}

test_expect_success 'setup: a CA, three certificates, a tree' '
	pd ca init "$CA" >/dev/null &&
	for n in origin mirror admin; do
		pd ca issue "$CA" $n --host 127.0.0.1 >/dev/null || return 1
	done &&
	pd ca init other-ca >/dev/null &&
	pd ca issue other-ca admin --host 127.0.0.1 >/dev/null &&
	pd keygen k >/dev/null &&
	make_tree src &&
	mkdir pub &&
	node_section origin origin.conf "$CA" &&
	cat >>origin.conf <<-EOF
	[tree t]
	role = origin
	source = $TEST_ROOT/src
	key = $TEST_ROOT/k.key
	schedule = every 1h
	EOF
'
node_start origin "$TEST_ROOT/origin.conf"

test_expect_success 'the origin serves HTTPS and imports at start' '
	case "$(node_url origin)" in https://127.0.0.1:*) ;; *) false ;; esac &&
	wait_for 60 has_version origin 1
'

test_expect_success 'without a certificate of the CA: no answer' '
	! curl -sS -k -o out "$(node_url origin)/v1/status" 2>err &&
	test_path_is_missing out &&
	test_must_fail pd status --node "$(node_url origin)" \
		--tls-cert other-ca/admin.crt --tls-key other-ca/admin.key \
		--tls-ca "$CA/ca.crt" 2>err &&
	test_grep "$(node_url origin)" err &&
	test_must_fail_usage pd status --node "$(node_url origin)" \
		--tls-cert "$CA/admin.crt"
'

test_expect_success 'setup: the mirror, its upstream over HTTPS' '
	node_section mirror mirror.conf "$CA" &&
	cat >>mirror.conf <<-EOF
	[tree t]
	role = mirror
	upstream = $(node_url origin)
	trust = $TEST_ROOT/k.pub
	publish = $TEST_ROOT/pub
	schedule = every 1h
	EOF
'
node_start mirror "$TEST_ROOT/mirror.conf"

test_expect_success 'the mirror syncs over HTTPS with its certificate' '
	wait_for 60 has_version mirror 1 &&
	compare_trees --mtime src pub/t/
'

test_expect_success 'pulpdist sync over HTTPS: the next version comes' '
	echo changed >>src/README &&
	pd import --data origin-data --tree t --key k.key src >/dev/null &&
	pd sync --node "$(node_url mirror)" --tls-cert "$CA/admin.crt" \
		--tls-key "$CA/admin.key" --tls-ca "$CA/ca.crt" t >out &&
	wait_for 60 has_version mirror 2 &&
	compare_trees --mtime src pub/t/
'

test_expect_success 'stop both' '
	node_stop mirror &&
	node_stop origin
'

test_done
