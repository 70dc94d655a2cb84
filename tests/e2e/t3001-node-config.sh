#!/usr/bin/env bash
# pulpdist node --check-config: a good file of each role passes with a
# summary; a bad one fails with status 1 and one line on stderr naming
# the file, the line, the section and the key; the contrib examples pass
# once the files they name exist.
. "$(dirname "$0")/lib.sh"

R=$TEST_ROOT/r

test_expect_success 'setup: keys, TLS files, directories' '
	mkdir -p "$R/etc/pulpdist" "$R/srv/kernel" "$R/srv/docs" \
		"$R/srv/mirror" "$R/var/lib"
	(cd "$R/etc/pulpdist" && pd keygen kernel >/dev/null &&
		pd keygen docs >/dev/null)
	for f in site-a.crt site-a.key site-b.crt site-b.key ca.crt; do
		echo pem >"$R/etc/pulpdist/$f"
	done
'

# An origin with TLS, and a plain-HTTP mirror on loopback.
cat >origin.conf <<EOF
[node]
name = site-a
data = $R/var/lib/pulpdist        ; catalog, objects, staging
listen = 0.0.0.0:8700
tls_cert = $R/etc/pulpdist/site-a.crt
tls_key = $R/etc/pulpdist/site-a.key
tls_ca = $R/etc/pulpdist/ca.crt
workers = 4

[tree kernel]
role = origin
source = $R/srv/kernel
key = $R/etc/pulpdist/kernel.key
watch = yes
schedule = every 15m
EOF

cat >mirror.conf <<EOF
[node]
name = site-b
data = $R/var/lib/pulpdist
listen = 127.0.0.1:0
insecure_http = yes

[tree kernel]
role = mirror
upstream = http://127.0.0.1:8700 http://localhost:8701
trust = $R/etc/pulpdist/kernel.pub
publish = $R/srv/mirror
schedule = */5 * * * *
window = 22:00-06:00
bandwidth = 20M
EOF

test_expect_success 'a good origin: status 0 and a summary' '
	pd node --check-config origin.conf >out 2>err
	test_file_is_empty err
	test_grep "^node site-a: listen 0.0.0.0:8700 (TLS), data $R/var/lib/pulpdist$" out
	test_grep "^tree kernel: origin, source $R/srv/kernel, watch, schedule every 15m$" out
	test_grep "^configuration OK$" out
	test_eq 3 "$(wc -l <out)" lines
'

test_expect_success 'a good mirror: status 0 and a summary' '
	pd node --check-config mirror.conf >out 2>err
	test_file_is_empty err
	test_grep "^node site-b: listen 127.0.0.1:0 (plain HTTP)" out
	test_grep "^tree kernel: mirror, upstream http://127.0.0.1:8700 http://localhost:8701, publish $R/srv/mirror, schedule \*/5 \* \* \* \*, window 22:00-06:00$" out
	test_grep "^configuration OK$" out
'

test_expect_success 'the contrib examples pass with the files they name' '
	for f in origin mirror; do
		sed -e "s|/etc/pulpdist/|$R/etc/pulpdist/|g" \
		    -e "s|/srv/|$R/srv/|g" -e "s|/var/lib/|$R/var/lib/|g" \
		    "$E2E_TOP/contrib/$f.conf" >contrib-$f.conf
		pd node --check-config contrib-$f.conf >out 2>err
		test_file_is_empty err
		test_grep "^tree kernel: $f" out
		test_grep "^configuration OK$" out
	done
'

# check_bad FILE LINE WHAT: --check-config fails with status 1, stdout
# empty, and stderr one line "pulpdist: error: FILE:LINE: WHAT...".
check_bad() {
	test_must_fail pd node --check-config "$1" >out 2>err
	test_file_is_empty out
	test_eq 1 "$(wc -l <err)" "stderr lines"
	test_grep -F "pulpdist: error: $1:$2: $3" err
}

# bad NAME SED-SCRIPT [FILE]: a copy of FILE (origin.conf) edited by SED.
bad() {
	sed -e "$2" "${3:-origin.conf}" >"$1"
}

test_expect_success 'an unknown key names file, line and key' '
	bad unknown.conf "/^workers/a\\
max_connections = 9"
	check_bad unknown.conf 9 "[node] max_connections: unknown key"
'

test_expect_success 'a bad value: duration, bool, number, rate, cron' '
	bad dur.conf "s/every 15m/every 15x/"
	check_bad dur.conf 15 "[tree kernel] schedule: schedule \"every 15x\""
	bad bool.conf "s/watch = yes/watch = often/"
	check_bad bool.conf 14 "[tree kernel] watch: \"often\": want yes or no"
	bad num.conf "s/workers = 4/workers = four/"
	check_bad num.conf 8 "[node] workers: \"four\": want a whole number"
	bad rate.conf "s/bandwidth = 20M/bandwidth = 20/" mirror.conf
	check_bad rate.conf 14 "[tree kernel] bandwidth: \"20\": want a rate"
	bad cron.conf "s|\*/5 \* \* \* \*|0 0 * * funday|" mirror.conf
	check_bad cron.conf 12 "[tree kernel] schedule: cron day-of-week field \"funday\""
'

test_expect_success 'a tree given twice' '
	cp origin.conf dup.conf
	sed -n "/^\[tree kernel\]/,\$p" origin.conf >>dup.conf
	check_bad dup.conf 16 "[tree kernel]: tree kernel is already defined at line 10"
'

test_expect_success 'a key given twice in a section' '
	bad twice.conf "/^watch/a\\
watch = no"
	check_bad twice.conf 15 "[tree kernel] watch: given twice (first at line 14)"
'

test_expect_success 'a missing key file, a public key where the private one goes' '
	bad nokey.conf "s|kernel.key|nosuch.key|"
	check_bad nokey.conf 13 "[tree kernel] key: $R/etc/pulpdist/nosuch.key: No such file"
	bad pubkey.conf "s|kernel.key|kernel.pub|"
	check_bad pubkey.conf 13 "[tree kernel] key: $R/etc/pulpdist/kernel.pub is a public key"
'

test_expect_success 'TLS files are required unless insecure_http = yes' '
	bad notls.conf "/^tls_ca/d"
	check_bad notls.conf 1 "[node] tls_ca: missing; required unless insecure_http = yes"
'

test_expect_success 'plain HTTP only on loopback' '
	bad public.conf "s/127.0.0.1:0/0.0.0.0:8700/" mirror.conf
	check_bad public.conf 4 "[node] listen: 0.0.0.0:8700 is not a loopback address"
	bad tlsup.conf "s|upstream = .*|upstream = https://site-a:8700|" mirror.conf
	check_bad tlsup.conf 9 "[tree kernel] upstream: https://site-a:8700: https needs TLS"
'

test_expect_success 'a key of the other role, a line that is not a key' '
	bad role.conf "/^watch/a\\
upstream = https://site-c:8700"
	check_bad role.conf 15 "[tree kernel] upstream: not a key of an origin"
	bad junk.conf "/^workers/a\\
just some words"
	check_bad junk.conf 9 "just some words: want key = value"
'

test_expect_success 'a missing configuration file' '
	test_must_fail pd node --check-config nosuch.conf >out 2>err
	test_grep -F "pulpdist: error: nosuch.conf: No such file or directory" err
	test_file_is_empty out
'

test_expect_success 'usage: --config or --check-config, one of them' '
	pd node --help >out 2>err
	test_grep "^usage: pulpdist node --config FILE \[--log-level LEVEL\] | --check-config FILE$" out
	test_file_is_empty err
	test_must_fail_usage pd node >out 2>err
	test_grep "usage: pulpdist node --config FILE" err
	test_must_fail_usage pd node --config origin.conf \
		--check-config origin.conf 2>err
	test_grep -e "--config FILE or --check-config FILE" err
	test_must_fail_usage pd node --check-config origin.conf extra 2>err
	test_must_fail_usage pd node --config origin.conf --log-level loud
'

test_done
