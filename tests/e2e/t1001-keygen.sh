#!/usr/bin/env bash
# pulpdist keygen: NAME.key (0600) and NAME.pub (0644), readable by
# OpenSSL as an Ed25519 pair, never overwriting anything.
. "$(dirname "$0")/lib.sh"

test_expect_success 'keygen writes NAME.key 0600 and NAME.pub 0644' '
	(umask 0; pd keygen origin >out)
	test -f origin.key
	test -f origin.pub
	test_mode 600 origin.key
	test_mode 644 origin.pub
	test_grep "origin.key" out
	test_grep -E "key id [0-9a-f]{16}$" out
'

test_expect_success 'the modes hold whatever the umask' '
	(umask 077; pd keygen strict >/dev/null)
	test_mode 600 strict.key
	test_mode 644 strict.pub
'

test_expect_success 'openssl reads both halves as Ed25519' '
	openssl pkey -in origin.key -noout
	openssl pkey -pubin -in origin.pub -noout
	openssl pkey -in origin.key -noout -text >priv.txt
	test_grep -i "ED25519" priv.txt
	openssl pkey -pubin -in origin.pub -noout -text >pub.txt
	test_grep -i "ED25519" pub.txt
'

test_expect_success 'NAME.pub is the public half of NAME.key' '
	openssl pkey -in origin.key -pubout -out derived.pub
	test_cmp derived.pub origin.pub
'

test_expect_success 'the key id printed is what log shows for a tree' '
	id=$(sed -n "s/^key id //p" out)
	mkdir src
	: >src/f
	pd import --data d --tree t --key origin.key src >/dev/null
	pd log --data d --tree t --json >log.json
	json_check log.json "d[\"key\"] == \"$id\""
'

test_expect_success 'the key id is SHA-256 of the raw public key, 8 bytes' '
	id=$(sed -n "s/^key id //p" out)
	raw=$(openssl pkey -pubin -in origin.pub -outform DER | tail -c 32 |
		sha256sum | cut -c1-16)
	test_eq "$raw" "$id" "key id"
'

test_expect_success 'two keygens make different keys' '
	pd keygen other >/dev/null
	expect_false cmp -s origin.pub other.pub
	expect_false cmp -s origin.key other.key
'

test_expect_success 'keygen refuses to overwrite an existing pair' '
	cp -p origin.key key.before
	cp -p origin.pub pub.before
	test_must_fail pd keygen origin >out 2>err
	test_grep "origin.key" err
	test_cmp key.before origin.key
	test_cmp pub.before origin.pub
	test_mode 600 origin.key
'

test_expect_success 'keygen refuses when only NAME.pub exists, leaves no NAME.key' '
	echo "not a key" >half.pub
	test_must_fail pd keygen half 2>err
	test_grep "half.pub" err
	test_path_is_missing half.key
	test_eq "not a key" "$(cat half.pub)" half.pub
'

test_expect_success 'keygen refuses when only NAME.key exists' '
	echo "precious" >solo.key
	test_must_fail pd keygen solo 2>err
	test_grep "solo.key" err
	test_eq precious "$(cat solo.key)" solo.key
	test_path_is_missing solo.pub
'

test_expect_success 'keygen does not follow a symlink planted as NAME.key' '
	echo precious >target
	ln -s target trap.key
	test_must_fail pd keygen trap
	test_eq precious "$(cat target)" target
	test_path_is_missing trap.pub
'

test_expect_success 'keygen into a missing directory fails cleanly' '
	test_must_fail pd keygen no/such/dir/k 2>err
	test_grep "no/such/dir" err
	test_path_is_missing no
'

test_expect_success 'a key file with a space in its name' '
	pd keygen "my key" >/dev/null
	test_mode 600 "my key.key"
	openssl pkey -in "my key.key" -noout
'

test_done
