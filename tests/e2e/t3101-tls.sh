#!/usr/bin/env bash
# TLS between nodes: a deployment CA, a server that answers only clients
# with a certificate from it (none, another CA's, an expired one and
# plain HTTP get no HTTP answer at all), and a mirror that pulls over
# HTTPS and refuses an upstream its CA did not vouch for.
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/lib-pull.sh"

CA=$TEST_ROOT/ca
OTHER=$TEST_ROOT/other

test_expect_success 'ca: help, and usage errors are status 2' '
	pd ca --help >out
	test_grep "^usage: pulpdist ca init DIR" out
	test_grep "DNS:NODENAME only, unless --host adds more" out
	pd help ca >out.help
	test_cmp out out.help
	test_must_fail_usage pd ca 2>err
	test_grep "usage: pulpdist ca" err
	test_must_fail_usage pd ca frob
	test_must_fail_usage pd ca init
	test_must_fail_usage pd ca init a b
	test_must_fail_usage pd ca issue "$CA"
	test_must_fail_usage pd ca issue "$CA" n --frobnicate
	test_must_fail_usage pd ca issue "$CA" n --start yesterday
	test_path_is_missing "$CA"
	test_path_is_missing a
'

test_expect_success 'ca init and issue: keys 0600, nothing overwritten' '
	pd ca init "$CA" >out
	test_grep "ca.key" out
	test_mode 700 "$CA"
	test_mode 600 "$CA/ca.key"
	pd ca issue "$CA" origin --host 127.0.0.1 --host localhost >out
	test_grep "valid until" out
	pd ca issue "$CA" mirror >/dev/null
	pd ca issue "$CA" old --start 2020-01-01 --days 1 >/dev/null
	for n in origin mirror old; do
		test_mode 600 "$CA/$n.key"
		test -s "$CA/$n.crt"
	done
	pd ca init "$OTHER" >/dev/null
	pd ca issue "$OTHER" mirror >/dev/null
	cp "$CA/mirror.key" key.before
	test_must_fail pd ca issue "$CA" mirror 2>err
	test_grep "mirror.key exists" err
	test_cmp key.before "$CA/mirror.key"
	test_must_fail pd ca init "$CA" 2>err
	test_grep "ca.key exists" err
	test_must_fail_usage pd ca issue "$CA" "bad name"
	test_must_fail_usage pd ca issue "$CA" ok --host "a,DNS:evil"
	test_must_fail_usage pd ca issue "$CA" ok --days 0
	test_path_is_missing "$CA/ok.key"
'

test_expect_success 'the certificates say what they are for (openssl x509)' '
	openssl x509 -in "$CA/origin.crt" -noout -text >text
	test_grep "Subject: CN *= *origin" text
	test_grep "TLS Web Server Authentication, TLS Web Client Authentication" text
	test_grep "DNS:origin, IP Address:127.0.0.1, DNS:localhost" text
	openssl verify -CAfile "$CA/ca.crt" "$CA/origin.crt" "$CA/mirror.crt"
	expect_false openssl verify -CAfile "$CA/ca.crt" "$OTHER/mirror.crt"
'

test_expect_success 'setup: a tree on the origin' '
	pd keygen k >/dev/null
	make_pull_tree
	origin_import
'

tls_serve=(--tls-cert "$CA/origin.crt" --tls-key "$CA/origin.key"
	--tls-ca "$CA/ca.crt")
serve_start "$ORIGIN" "${tls_serve[@]}"

# ask CURL-ARGS...: GET /v1/trees from the TLS server with curl; prints
# the HTTP status (000: no HTTP answer), the body in "body".
ask() {
	local code rc=0

	rm -f body
	code=$(curl -sS -o body -w "%{http_code}" "$@" 2>curl.err) || rc=$?
	echo "$code"
	return 0
}

# refused WHY CURL-ARGS...: the server gives no HTTP answer at all, and
# logs the handshake it failed with WHY.
refused() {
	local why=$1 code

	shift
	code=$(ask "$@")
	test_eq 000 "$code" "HTTP status for curl $*"
	test_path_is_missing body
	wait_for 10 grep -q "TLS handshake with client 127.0.0.1:[0-9]* failed: $why" \
		"$SERVE_LOG"
}

test_expect_success '(a) a client certificate from the CA: 200 on /v1/trees' '
	case $SERVE_URL in https://127.0.0.1:*) ;; *) exit 1 ;; esac
	code=$(ask --cacert "$CA/ca.crt" --cert "$CA/mirror.crt" \
		--key "$CA/mirror.key" "$SERVE_URL/v1/trees")
	test_eq 200 "$code" status
	json_check body "d[\"trees\"][0][\"name\"] == \"t\""
'

test_expect_success '(b) no client certificate: refused in the handshake' '
	refused "peer did not return a certificate" --cacert "$CA/ca.crt" \
		"$SERVE_URL/v1/trees"
	refused "peer did not return a certificate" --tls-max 1.2 \
		--cacert "$CA/ca.crt" "$SERVE_URL/v1/trees"
'

test_expect_success '(c) a certificate from another CA: refused' '
	refused "certificate verify failed: unable to get local issuer" \
		--cacert "$CA/ca.crt" --cert "$OTHER/mirror.crt" \
		--key "$OTHER/mirror.key" "$SERVE_URL/v1/trees"
'

test_expect_success '(d) an expired certificate from the CA: refused' '
	refused "certificate verify failed: certificate has expired" \
		--cacert "$CA/ca.crt" --cert "$CA/old.crt" --key "$CA/old.key" \
		"$SERVE_URL/v1/trees"
'

test_expect_success '(e) plain HTTP to the TLS port: no answer' '
	refused "http request" "${SERVE_URL/https:/http:}/v1/trees"
	test_grep "(52)\|(56)" curl.err
'

test_expect_success 'the server still serves after all that' '
	code=$(ask --cacert "$CA/ca.crt" --cert "$CA/mirror.crt" \
		--key "$CA/mirror.key" "$SERVE_URL/v1/trees")
	test_eq 200 "$code" status
'

mirror_tls=(--tls-cert "$CA/mirror.crt" --tls-key "$CA/mirror.key"
	--tls-ca "$CA/ca.crt")

test_expect_success 'pull over HTTPS: the published tree is exact' '
	mirror_pull "${mirror_tls[@]}" --json >pull.json
	json_check pull.json "d[\"to_version\"] == 1" \
		"d[\"objects_fetched\"] > 40"
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

test_expect_success 'pull of the next version over HTTPS: deltas and a pack' '
	scatter_edit src/data/large.img 10
	echo "one more line" >>src/docs/small-7.txt
	origin_import
	mirror_pull "${mirror_tls[@]}" --json >pull.json
	json_check pull.json "d[\"to_version\"] == 2" \
		"d[\"deltas_applied\"] >= 1" "d[\"pack_parts\"] == 1" \
		"d[\"wire_bytes\"] < 1024 * 1024"
	rsync_clean src pub/t
	compare_trees --mtime src pub/t/
'

test_expect_success 'pull trusting another CA: refused, naming the peer' '
	echo "yet another line" >>src/docs/small-8.txt
	origin_import
	port=${SERVE_URL##*:}
	test_must_fail mirror_pull --tls-cert "$OTHER/mirror.crt" \
		--tls-key "$OTHER/mirror.key" --tls-ca "$OTHER/ca.crt" 2>err
	test_grep "https://127.0.0.1:$port/v1/trees/t/head: SSL certificate problem: unable to get local issuer certificate" err
	test "$(published_version)" = 2
	wait_for 10 grep -q "failed: tlsv1 alert unknown ca" "$SERVE_LOG"
'

test_expect_success 'pull: bad TLS arguments are refused before any transfer' '
	test_must_fail_usage mirror_pull
	test_must_fail_usage mirror_pull --tls-cert "$CA/mirror.crt"
	test_must_fail_usage mirror_pull_from "${SERVE_URL/https:/http:}" \
		"${mirror_tls[@]}"
	test_must_fail mirror_pull --tls-cert "$CA/old.crt" \
		--tls-key "$CA/old.key" --tls-ca "$CA/ca.crt" 2>err
	test_grep "old.crt does not verify against CA .*ca.crt as a TLS client: certificate has expired" err
	test_must_fail mirror_pull --tls-cert "$CA/mirror.crt" \
		--tls-key "$CA/origin.key" --tls-ca "$CA/ca.crt" 2>err
	test_grep "origin.key does not match certificate .*mirror.crt" err
	test "$(published_version)" = 2
'

test_expect_success 'plain http:// to the TLS port: the pull fails' '
	test_must_fail mirror_pull_from "${SERVE_URL/https:/http:}" 2>err
	test_grep "http://127.0.0.1:[0-9]*/v1/trees/t/head" err
	test "$(published_version)" = 2
'

test_expect_success 'the version pulled at last with the right CA' '
	mirror_pull "${mirror_tls[@]}" >out
	test "$(published_version)" = 3
	compare_trees --mtime src pub/t/
'

test_expect_success 'a server certificate not naming 127.0.0.1: refused' '
	serve_start "$ORIGIN" --tls-cert "$CA/mirror.crt" \
		--tls-key "$CA/mirror.key" --tls-ca "$CA/ca.crt"
	test_must_fail mirror_pull_from "$SERVE_URL" "${mirror_tls[@]}" 2>err
	test_grep "no alternative certificate subject name matches target host name .127.0.0.1." err
	serve_stop
'

test_expect_success 'serve: bad TLS files are named, no server starts' '
	test_must_fail_usage pd serve --data "$ORIGIN" --listen 127.0.0.1:0 \
		--tls-cert "$CA/origin.crt"
	test_must_fail pd serve --data "$ORIGIN" --listen 127.0.0.1:0 \
		--tls-cert "$CA/origin.crt" --tls-key "$CA/mirror.key" \
		--tls-ca "$CA/ca.crt" 2>err
	test_grep "mirror.key does not match certificate .*origin.crt" err
	test_must_fail pd serve --data "$ORIGIN" --listen 127.0.0.1:0 \
		--tls-cert "$OTHER/mirror.crt" --tls-key "$OTHER/mirror.key" \
		--tls-ca "$CA/ca.crt" 2>err
	test_grep "other/mirror.crt does not verify against CA" err
	test_must_fail pd serve --data "$ORIGIN" --listen 127.0.0.1:0 \
		--tls-cert "$CA/nosuch.crt" --tls-key "$CA/origin.key" \
		--tls-ca "$CA/ca.crt" 2>err
	test_grep "nosuch.crt: No such file" err
	test_grep ! "^listening" err
'

test_expect_success 'SIGTERM: the TLS server stops cleanly, status 0' '
	serve_stop
	test_grep "served [0-9]* requests" "$SERVE_LOG"
'

test_done
