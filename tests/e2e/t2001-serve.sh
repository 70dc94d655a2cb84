#!/usr/bin/env bash
# pulpdist serve (spec/PROTOCOL.md) against curl: trees and heads as
# pd log has them, manifests byte for byte as signed, manifest patches
# that rebuild the new manifest, objects plain, compressed and by range,
# deltas that Debian's rdiff applies, batches, errors in JSON, many
# clients at once, and clients that vanish mid-transfer.
. "$(dirname "$0")/lib.sh"

DATA=$TEST_ROOT/data
KEY=$TEST_ROOT/k.key
Z64=0000000000000000000000000000000000000000000000000000000000000000

# sha_of JSON PATH: the SHA-256 a pd show --json file gives PATH.
sha_of() {
	json_get "$1" "ent(\"$2\")[\"sha256\"]"
}

# manifest_id N: the manifest id of version N, from pd log --json.
manifest_id() {
	json_get log.json "[v for v in d[\"versions\"] if v[\"version\"] == $1][0][\"manifest\"]"
}

# get [CURL-ARGS...] PATH: GET the path into body, headers into hdr;
# prints the status.
get() {
	local path=${!#}

	rm -f body hdr
	curl -sS -o body -D hdr -w '%{http_code}' "${@:1:$#-1}" \
	    "$SERVE_URL$path"
}

# expect_status WANT [CURL-ARGS...] PATH
expect_status() {
	local want=$1 got

	shift
	got=$(get "$@")
	test_eq "$want" "$got" "status of ${!#}"
}

# header NAME: the value of a header in hdr (empty if absent).
header() {
	sed -n "s/^$1: \\(.*\\)\\r\$/\\1/Ip" hdr | head -n 1
}

# expect_json_error STATUS TEXT-REGEX: body is {"error": ..., "status": N}.
expect_json_error() {
	json_check body "d[\"status\"] == $1" "len(d) == 2" \
	    "__import__(\"re\").search(r\"\"\"$2\"\"\", d[\"error\"])"
	test_grep -i '^content-type: application/json' hdr
}

test_expect_success 'setup: a tree imported twice, the second with edits' '
	pd keygen k >/dev/null
	make_tree src
	mkdir src/many
	for i in $(seq 1 300); do
		echo "file $i of many" >src/many/f$i
	done
	seq 1 100000 >src/numbers.txt
	random_file src/other.bin 20000
	pd import --data "$DATA" --tree t --key "$KEY" src >/dev/null
	pd show --data "$DATA" --tree t --json >v1.json
	cp src/data/big.bin big.v1
	cp src/numbers.txt numbers.v1
	cp src/other.bin other.v1
	python3 -c "
import sys
with open(\"src/data/big.bin\", \"r+b\") as f:
    for off in (5, 100000, 1500000, 3000000):
        f.seek(off)
        f.write(b\"pulpdist edit %d\" % off)
"
	seq 5 100003 >src/numbers.txt
	random_file src/other.bin 20000
	echo "file 7 changed" >src/many/f7
	echo new >src/many/new-file
	pd import --data "$DATA" --tree t --key "$KEY" src >/dev/null
	pd show --data "$DATA" --tree t --json >v2.json
	pd log --data "$DATA" --tree t --json >log.json
	json_check log.json "d[\"head\"] == 2"
'

serve_start "$DATA"

test_expect_success 'pd serve --help; usage errors exit 2' '
	pd serve --help >out
	test_grep "^usage: pulpdist serve --data DIR --listen HOST:PORT" out
	test_must_fail_usage pd serve --data "$DATA"
	test_must_fail_usage pd serve --listen 127.0.0.1:0
	test_must_fail_usage pd serve --data "$DATA" --listen 127.0.0.1:0 \
		--workers 0
	test_must_fail_usage pd serve --data "$DATA" --listen 127.0.0.1:0 x
	test_must_fail_usage pd serve --data "$DATA" --bogus
	test_must_fail pd serve --data "$DATA" --listen 127.0.0.1:99999 2>err
	test_grep "bad port" err
	test_must_fail pd serve --data "$TEST_ROOT/none" \
		--listen 127.0.0.1:0 2>err
'

test_expect_success '/v1/trees and the head match pd log' '
	expect_status 200 /v1/trees
	test_grep -i "^content-type: application/json" hdr
	test_grep -i "^cache-control: no-cache" hdr
	id=$(manifest_id 2)
	json_check body "d == {\"trees\": [{\"name\": \"t\", \"version\": 2,
		\"manifest\": \"$id\"}]}"
	expect_status 200 /v1/trees/t/head
	json_check body "d == {\"tree\": \"t\", \"version\": 2,
		\"manifest\": \"$id\"}"
'

test_expect_success 'manifests: the signed bytes, their SHA-256 the id' '
	for v in 1 2; do
		id=$(manifest_id $v)
		expect_status 200 /v1/trees/t/versions/$v/manifest
		test_grep -i "^content-type: text/plain; charset=utf-8" hdr
		test_grep -i "^cache-control: public, max-age=31536000, immutable" hdr
		test_eq "\"$id\"" "$(header ETag)" ETag
		head -n 2 body >top
		test_eq "pulpdist-manifest 1" "$(head -n 1 top)" magic
		head -n -1 body >m.body
		test_eq "$id" "$(sha256sum <m.body | cut -c1-64)" "manifest id"
		tail -n 1 body | cut -c1-10 >sigline
		test_eq "signature " "$(cat sigline)" "signature line"
		cp body m$v
	done
	# pd show lists the same files with the same hashes.
	"$PYTHON" - m2 v2.json <<-\EOF
	import json, sys
	lines = open(sys.argv[1]).read().splitlines()
	files = {l.split(" ")[6]: l.split(" ")[4] for l in lines
	         if l.startswith("f ")}
	show = json.load(open(sys.argv[2]))
	want = {e["path"]: e["sha256"] for e in show["entries"]
	        if e["type"] == "file"}
	assert files == want, (len(files), len(want))
	EOF
'

test_expect_success 'the signature on a served manifest verifies with openssl' '
	head -n -1 m2 >body2
	{ printf "pulpdist manifest v1\n"; openssl dgst -sha256 -binary body2; } >msg
	"$PYTHON" -c "import sys; sys.stdout.buffer.write(bytes.fromhex(
		open(\"m2\").read().split()[-1]))" >sig
	openssl pkeyutl -verify -pubin -inkey k.pub -rawin -in msg \
		-sigfile sig >out
	test_grep "Signature Verified Successfully" out
'

test_expect_success 'a manifest with --compressed: zstd, the same bytes' '
	expect_status 200 --compressed /v1/trees/t/versions/2/manifest
	test_eq zstd "$(header Content-Encoding)" Content-Encoding
	test_cmp m2 body
	test_eq "\"$(manifest_id 2)-zstd\"" \
		"$(header ETag)" ETag
'

test_expect_success 'the patch from version 1 was made at import' '
	id1=$(manifest_id 1)
	id2=$(manifest_id 2)
	test -s "$DATA/mpatches/${id1:0:2}/$id1-$id2"
	test -s "$DATA/mpatches/${id1:0:2}/$id1-$id2.zst"
	stat -c %Y.%i "$DATA/mpatches/${id1:0:2}/$id1-$id2.zst" >zp.before
'

test_expect_success 'manifest patch from version 1 rebuilds version 2' '
	id1=$(manifest_id 1)
	id2=$(manifest_id 2)
	expect_status 200 "/v1/trees/t/versions/2/manifest?from=$id1"
	test_grep -i "^content-type: application/vnd.pulpdist.manifest-patch" hdr
	test_eq "\"$id1-$id2\"" "$(header ETag)" ETag
	cp body patch
	test $(wc -c <patch) -lt $(wc -c <m2)
	# Apply the ops of spec/MANIFEST.md, "Manifest patches".
	"$PYTHON" - m1 patch >rebuilt <<-\EOF
	import sys
	old = open(sys.argv[1]).read().split("\n")[9:-2]
	p = open(sys.argv[2]).read().split("\n")
	assert p[0] == "pulpdist-manifest-patch 1", p[0]
	out, cur = p[3:12], 0
	for line in p[12:]:
	    op, _, arg = line.partition(" ")
	    if op == "=":
	        out += old[cur:cur + int(arg)]; cur += int(arg)
	    elif op == "-":
	        cur += int(arg)
	    elif op == "t":
	        n, mtime = arg.split(" ")
	        for e in old[cur:cur + int(n)]:
	            f = e.split(" ")
	            f[1 if f[0] == "l" else 2] = mtime
	            out.append(" ".join(f))
	        cur += int(n)
	    elif op == "+":
	        out.append(arg)
	    elif op == "signature":
	        assert cur == len(old)
	        out.append(line)
	        break
	    else:
	        raise SystemExit("bad op " + line)
	sys.stdout.write("\n".join(out) + "\n")
	EOF
	test_cmp m2 rebuilt
	expect_status 200 --compressed \
		"/v1/trees/t/versions/2/manifest?from=$id1"
	test_cmp "$DATA/mpatches/${id1:0:2}/$id1-$id2" body
	stat -c %Y.%i "$DATA/mpatches/${id1:0:2}/$id1-$id2.zst" >zp.after
	test_cmp zp.before zp.after
	expect_status 404 "/v1/trees/t/versions/2/manifest?from=$Z64"
	expect_json_error 404 "no manifest $Z64"
'

test_expect_success 'objects hash to their names, plain and --compressed' '
	for p in data/big.bin numbers.txt other.bin README empty-file \
	    many/f1 docs/deep/er/nested/leaf.bin; do
		sha=$(sha_of v2.json "$p")
		expect_status 200 /v1/objects/$sha
		test_eq "$sha" "$(sha256sum <body | cut -c1-64)" "plain $p"
		test_eq "$(stat -c %s "src/$p")" "$(header Content-Length)" \
			"length of $p"
		test_eq "\"$sha\"" "$(header ETag)" "ETag of $p"
		expect_status 200 --compressed /v1/objects/$sha
		test_eq "$sha" "$(sha256sum <body | cut -c1-64)" "zstd $p"
	done
	# Compressible content comes compressed, with its own ETag.
	sha=$(sha_of v2.json numbers.txt)
	expect_status 200 --compressed /v1/objects/$sha
	test_eq zstd "$(header Content-Encoding)" Content-Encoding
	test_eq "\"$sha-zstd\"" "$(header ETag)" ETag
	test "$(header Content-Length)" -lt "$(stat -c %s src/numbers.txt)"
	# Random bytes do not compress: they come plain.
	sha=$(sha_of v2.json other.bin)
	expect_status 200 --compressed /v1/objects/$sha
	test_eq "" "$(header Content-Encoding)" "Content-Encoding of random"
'

test_expect_success 'Range: 206 with the bytes asked for, 416 past the end' '
	sha=$(sha_of v2.json data/big.bin)
	size=$(stat -c %s src/data/big.bin)
	expect_status 206 -r 1000-1999 /v1/objects/$sha
	test_eq "bytes 1000-1999/$size" "$(header Content-Range)" Content-Range
	dd if=src/data/big.bin bs=1000 skip=1 count=1 status=none >want
	test_cmp want body
	expect_status 206 -r 3000000- --compressed /v1/objects/$sha
	test_eq "" "$(header Content-Encoding)" "Content-Encoding of a range"
	tail -c +3000001 src/data/big.bin >want
	test_cmp want body
	expect_status 206 -r -100 /v1/objects/$sha
	tail -c 100 src/data/big.bin >want
	test_cmp want body
	expect_status 416 -r $size- /v1/objects/$sha
	test_eq "bytes */$size" "$(header Content-Range)" Content-Range
	expect_json_error 416 "not satisfiable"
	sha=$(sha_of v2.json empty-file)
	expect_status 416 -r 0- /v1/objects/$sha
'

test_expect_success 'a delta fetched with curl --compressed applies with rdiff' '
	a=$(sha_of v1.json data/big.bin)
	b=$(sha_of v2.json data/big.bin)
	curl -sS -f --compressed -D hdr -o d.rdiff "$SERVE_URL/v1/deltas/$a/$b"
	test_eq zstd "$(header Content-Encoding)" Content-Encoding
	test_eq "\"$a-$b-zstd\"" "$(header ETag)" ETag
	test $(stat -c %s d.rdiff) -lt 100000
	rm -f new-big && rdiff patch big.v1 d.rdiff new-big
	cmp new-big src/data/big.bin
'

test_expect_success 'a delta fetched plain applies too' '
	a=$(sha_of v1.json data/big.bin)
	b=$(sha_of v2.json data/big.bin)
	expect_status 200 /v1/deltas/$a/$b
	test_eq "" "$(header Content-Encoding)" Content-Encoding
	test_eq "$(stat -c %s body)" "$(header Content-Length)" Content-Length
	rm -f new-big && rdiff patch big.v1 body new-big
	cmp new-big src/data/big.bin
	a=$(sha_of v1.json numbers.txt)
	b=$(sha_of v2.json numbers.txt)
	expect_status 200 /v1/deltas/$a/$b
	rdiff patch numbers.v1 body new-numbers
	cmp new-numbers src/numbers.txt
'

test_expect_success 'a delta not worth it: 303 to the object' '
	a=$(sha_of v1.json other.bin)
	b=$(sha_of v2.json other.bin)
	expect_status 303 /v1/deltas/$a/$b
	test_eq "/v1/objects/$b" "$(header Location)" Location
	curl -sS -f -L -o body "$SERVE_URL/v1/deltas/$a/$b"
	cmp body src/other.bin
'

test_expect_success '404 in JSON for unknown tree, version, object, delta' '
	expect_status 404 /v1/trees/nope/head
	expect_json_error 404 "^no tree nope\$"
	expect_status 404 /v1/trees/nope/versions/1/manifest
	expect_json_error 404 "^no tree nope\$"
	expect_status 404 /v1/trees/t/versions/3/manifest
	expect_json_error 404 "^no version 3 of tree t\$"
	expect_status 404 /v1/objects/$Z64
	expect_json_error 404 "^no object $Z64\$"
	expect_status 404 --compressed /v1/objects/$Z64
	expect_json_error 404 "^no object $Z64\$"
	b=$(sha_of v2.json data/big.bin)
	expect_status 404 /v1/deltas/$Z64/$b
	expect_json_error 404 "^no delta $Z64 $b: no object $Z64\$"
	expect_status 404 /v1/deltas/$b/$Z64
	expect_json_error 404 "no object $Z64\$"
'

test_expect_success '400 for malformed paths; nothing outside DATA' '
	sha=$(sha_of v2.json README)
	upper=$(echo $sha | tr a-f A-F)
	for p in "/v1/objects/${sha:0:63}" "/v1/objects/${sha}0" \
	    "/v1/objects/$upper" "/v1/objects/${sha:0:63}g" \
	    "/v1/objects/../../../etc/passwd" "/v1/objects/..%2f..%2fetc" \
	    "/v1/../../etc/passwd" "/etc/passwd" "/" "/v1" "/v2/trees" \
	    "/v1/trees/" "/v1/trees/t/head/" "/v1/trees/..%2fx/head" \
	    "/v1/trees/.t/head" "/v1/trees/t/versions/0/manifest" \
	    "/v1/trees/t/versions/01/manifest" \
	    "/v1/trees/$(printf "x%.0s" $(seq 1 65))/head" \
	    "/v1/objects/$(printf "a%.0s" $(seq 1 5000))" \
	    "/v1/trees?x=1" "/v1/objects/$sha?x" \
	    "/v1/trees/t/versions/2/manifest?from=$upper" \
	    "/v1/deltas/$sha/$sha/$sha" "/v1/deltas/$sha/../$sha"; do
		expect_status 400 --path-as-is "$p"
		expect_json_error 400 "."
	done
'

test_expect_success '405 for the wrong method, with Allow' '
	sha=$(sha_of v2.json README)
	expect_status 405 -X POST /v1/objects/$sha
	expect_json_error 405 "method not allowed"
	test_eq "GET, HEAD" "$(header Allow)" Allow
	expect_status 405 -X DELETE /v1/trees
	expect_status 405 -X PUT -d x /v1/trees/t/head
	expect_status 405 /v1/batch
	test_eq POST "$(header Allow)" Allow
'

test_expect_success 'HEAD: the headers of a GET, no body' '
	sha=$(sha_of v2.json data/big.bin)
	got=$(curl -sS -I -o /dev/null -D hdr \
		-w "%{http_code} %{size_download}" "$SERVE_URL/v1/objects/$sha")
	test_eq "200 0" "$got" "status and body bytes"
	test_eq "$(stat -c %s src/data/big.bin)" "$(header Content-Length)" \
		Content-Length
	test_eq "\"$sha\"" "$(header ETag)" ETag
'

test_expect_success 'If-None-Match with the ETag: 304' '
	sha=$(sha_of v2.json README)
	expect_status 304 -H "If-None-Match: \"$sha\"" /v1/objects/$sha
	test_path_is_missing body
	expect_status 200 -H "If-None-Match: \"$Z64\"" /v1/objects/$sha
'

# read_batch FILE: print one line per record of a batch response, the
# content of each written to part.N; fails on any malformed record.
read_batch() {
	"$PYTHON" - "$1" <<-\EOF
	import hashlib, sys
	data = open(sys.argv[1], "rb").read()
	pos, n = 0, 0
	while True:
	    nl = data.index(b"\n", pos)
	    f = data[pos:nl].decode().split(" ")
	    pos = nl + 1
	    if f == ["end"]:
	        assert pos == len(data), "bytes after end"
	        break
	    n += 1
	    if f[0] == "object" and len(f) == 3:
	        size = int(f[2]); body = data[pos:pos + size]; pos += size
	        assert len(body) == size
	        assert hashlib.sha256(body).hexdigest() == f[1], "bad object"
	        open("part.%d" % n, "wb").write(body)
	        print("object", f[1])
	    elif f[0] == "delta" and len(f) == 4:
	        size = int(f[3]); body = data[pos:pos + size]; pos += size
	        assert len(body) == size
	        open("part.%d" % n, "wb").write(body)
	        print("delta", f[1], f[2])
	    elif f[0] == "missing" and len(f) in (2, 3):
	        print(" ".join(f))
	    else:
	        raise SystemExit("bad record %r" % f)
	EOF
}

test_expect_success 'batch: objects, deltas and a missing one, in order' '
	o1=$(sha_of v2.json README)
	o2=$(sha_of v2.json empty-file)
	o3=$(sha_of v2.json many/f7)
	ba=$(sha_of v1.json data/big.bin)
	bb=$(sha_of v2.json data/big.bin)
	wa=$(sha_of v1.json other.bin)
	wb=$(sha_of v2.json other.bin)
	printf "{\"items\": [[\"o\", \"%s\"], [\"d\", \"%s\", \"%s\"], " \
		$o1 $ba $bb >req
	printf "[\"o\", \"%s\"], [\"d\", \"%s\", \"%s\"], [\"o\", \"%s\"], " \
		$Z64 $wa $wb $o2 >>req
	printf "[\"d\", \"%s\", \"%s\"], [\"o\", \"%s\"]]}" \
		$Z64 $bb $o3 >>req
	{
		echo "object $o1"
		echo "delta $ba $bb"
		echo "missing $Z64"
		echo "object $wb"
		echo "object $o2"
		echo "missing $Z64 $bb"
		echo "object $o3"
	} >want
	for how in plain --compressed; do
		flag=; [ $how = plain ] || flag=$how
		expect_status 200 $flag --data-binary @req /v1/batch
		test_grep -i "^content-type: application/vnd.pulpdist.batch" hdr
		test_grep -i "^cache-control: no-cache" hdr
		read_batch body >got
		test_cmp want got
		rm -f new-big && rdiff patch big.v1 part.2 new-big
		cmp new-big src/data/big.bin
		cmp part.4 src/other.bin
	done
	test_eq zstd "$(header Content-Encoding)" Content-Encoding
	# A response that says missing is not kept.
	test_path_is_missing "$DATA/batches/$(sha256sum <req | cut -c1-2)/$(sha256sum <req | cut -c1-64).zst"
'

test_expect_success 'batch: a compressed response is made once and kept' '
	o1=$(sha_of v2.json README)
	o2=$(sha_of v2.json numbers.txt)
	printf "{\"items\": [[\"o\", \"%s\"], [\"o\", \"%s\"]]}" $o1 $o2 >req
	key=$(sha256sum <req | cut -c1-64)
	kept="$DATA/batches/${key:0:2}/$key.zst"
	test_path_is_missing "$kept"
	curl -sS -f -H "Accept-Encoding: zstd" --data-binary @req \
		-D hdr -o raw1 "$SERVE_URL/v1/batch"
	test_grep -i "^cache-control: public, max-age=31536000, immutable" hdr
	test_eq "\"$key-zstd\"" "$(header ETag)" ETag
	# Named once on the disk, after the reply (node/namer.h).
	wait_for 10 test -f "$kept"
	test_cmp "$kept" raw1
	stat -c %Y.%i "$kept" >before
	curl -sS -f -H "Accept-Encoding: zstd" --data-binary @req \
		-o raw2 "$SERVE_URL/v1/batch"
	test_cmp raw1 raw2
	stat -c %Y.%i "$kept" >after
	test_cmp before after
	zstd -dc raw1 >plain
	read_batch plain >got
	printf "object %s\nobject %s\n" $o1 $o2 >want
	test_cmp want got
'

# pack_want: the items of the pack from version 1 to 2 that go in parts,
# "BASIS NEW" or "- NEW" a line, by the rules of spec/PROTOCOL.md
# ("Packs"), worked out here apart from the C code.
pack_want() {
	"$PYTHON" - <<-\EOF
	import json
	a = json.load(open("v1.json"))["entries"]
	b = json.load(open("v2.json"))["entries"]
	held = {e["sha256"] for e in a if e["type"] == "file" and e["size"]}
	old = {e["path"]: e for e in a}
	seen = set()
	for e in b:
	    if e["type"] != "file" or not e["size"]:
	        continue
	    if e["sha256"] in held or e["sha256"] in seen:
	        continue
	    seen.add(e["sha256"])
	    if e["size"] > 1024 * 1024:
	        continue
	    o = old.get(e["path"])
	    base = o["sha256"] if o and o["type"] == "file" and o["size"] else "-"
	    print(base, e["sha256"])
	EOF
}

# read_pack FILE WANT: check the records of a pack part against the items
# WANT lists ("BASIS NEW" or "- NEW"), in order: an object record must
# hash to NEW, a delta record must turn BASIS into NEW (with rdiff, from
# the content in src/ or the v1 copies); prints "delta NEW" or "object
# NEW" a record.  Fails on any malformed record or bytes after "end".
read_pack() {
	"$PYTHON" - "$1" "$2" <<-\EOF
	import hashlib, sys
	data = open(sys.argv[1], "rb").read()
	want = [l.split() for l in open(sys.argv[2])]
	pos = 0
	for base, new in want:
	    nl = data.index(b"\n", pos)
	    f = data[pos:nl].decode().split(" ")
	    pos = nl + 1
	    assert len(f) == 2 and f[0] in ("o", "d"), "bad record %r" % f
	    size = int(f[1]); body = data[pos:pos + size]; pos += size
	    assert len(body) == size, "short record"
	    if f[0] == "o":
	        assert hashlib.sha256(body).hexdigest() == new, "bad object"
	        print("object", new)
	    else:
	        assert base != "-", "a delta for a whole item"
	        assert body[:4] == b"rs\x026", "not a librsync delta"
	        print("delta", new)
	assert data[pos:] == b"end\n", "no end, or bytes after it"
	EOF
}

test_expect_success 'pack: made at import, before anyone asks' '
	from=$(manifest_id 1)
	kept="$DATA/packs/${from:0:2}/$from-$(manifest_id 2)-0.zst"
	test -s "$kept"
	cp "$kept" made-at-import
'

test_expect_success 'pack: the step from version 1, by part number' '
	from=$(manifest_id 1)
	pack_want >want
	test $(wc -l <want) -ge 3
	grep -v "^- " want >want-deltas
	test -s want-deltas
	for how in plain --compressed; do
		flag=; [ $how = plain ] || flag=$how
		expect_status 200 $flag /v1/trees/t/versions/2/pack/0?from=$from
		test_grep -i "^content-type: application/vnd.pulpdist.pack" hdr
		read_pack body want >got
		test_eq "$(wc -l <want)" "$(wc -l <got)" records
		test_grep "^delta " got
		# No hash goes on the wire: both sides know the items.
		for h in $(tr " " "\n" <want | grep -v "^-\$"); do
			! grep -q "$h" body || { echo "$h in the pack"; exit 1; }
		done
	done
	test_eq zstd "$(header Content-Encoding)" Content-Encoding
	test_grep -i "^cache-control: public, max-age=31536000, immutable" hdr
	test_eq "\"$from-$(manifest_id 2)-0-zstd\"" "$(header ETag)" ETag
'

test_expect_success 'pack: kept compressed once; any receiver gets those bytes' '
	from=$(manifest_id 1)
	kept="$DATA/packs/${from:0:2}/$from-$(manifest_id 2)-0.zst"
	test -f "$kept"
	stat -c %Y.%i "$kept" >before
	curl -sS -f -H "Accept-Encoding: zstd" -o raw \
		"$SERVE_URL/v1/trees/t/versions/2/pack/0?from=$from"
	test_cmp "$kept" raw
	stat -c %Y.%i "$kept" >after
	test_cmp before after
'

test_expect_success 'pack: made on request, the same bytes as at import' '
	from=$(manifest_id 1)
	kept="$DATA/packs/${from:0:2}/$from-$(manifest_id 2)-0.zst"
	rm "$kept"
	curl -sS -f -H "Accept-Encoding: zstd" -o raw \
		"$SERVE_URL/v1/trees/t/versions/2/pack/0?from=$from"
	wait_for 10 test -f "$kept"
	test_cmp made-at-import raw
	test_cmp "$kept" raw
'

test_expect_success 'pack: 404 past the last part or from an unknown manifest' '
	from=$(manifest_id 1)
	expect_status 404 /v1/trees/t/versions/2/pack/1?from=$from
	expect_json_error 404 "has 1 parts, not 2"
	expect_status 404 --compressed /v1/trees/t/versions/2/pack/1?from=$from
	expect_json_error 404 "has 1 parts"
	expect_status 404 /v1/trees/t/versions/2/pack/0?from=$Z64
	expect_json_error 404 "no manifest $Z64"
	expect_status 404 /v1/trees/t/versions/3/pack/0?from=$from
	expect_status 404 /v1/trees/nosuch/versions/2/pack/0?from=$from
	expect_status 400 /v1/trees/t/versions/2/pack/0
	expect_status 400 /v1/trees/t/versions/2/pack/00?from=$from
	expect_status 405 -X POST /v1/trees/t/versions/2/pack/0?from=$from
'

test_expect_success 'batch: 400 for malformed requests, 413 for big ones' '
	sha=$(sha_of v2.json README)
	upper=$(echo $sha | tr a-f A-F)
	for req in "" "x" "[]" "{}" "{\"items\": []}" \
	    "{\"items\": [[\"o\", \"$upper\"]]}" \
	    "{\"items\": [[\"o\", \"${sha:0:63}\"]]}" \
	    "{\"items\": [[\"d\", \"$sha\"]]}" \
	    "{\"items\": [[\"o\", \"$sha\", \"$sha\"]]}" \
	    "{\"items\": [[\"x\", \"$sha\"]]}" \
	    "{\"items\": [[\"o\", \"$sha\"]], \"more\": 1}" \
	    "{\"items\": [[\"o\", \"$sha\"]]}}"; do
		printf "%s" "$req" >req
		expect_status 400 --data-binary @req /v1/batch
		expect_json_error 400 "batch"
	done
	"$PYTHON" -c "
import json
print(json.dumps({\"items\": [[\"o\", \"$sha\"]] * 4097}))" >req
	expect_status 413 --data-binary @req /v1/batch
	expect_json_error 413 "4097 items"
	head -c $((1024 * 1024 + 1)) /dev/zero | tr "\0" " " >req
	expect_status 413 --data-binary @req /v1/batch
'

test_expect_success '20 clients at once all get the right bytes' '
	big=$(sha_of v2.json data/big.bin)
	num=$(sha_of v2.json numbers.txt)
	a=$(sha_of v1.json data/big.bin)
	pids=
	for i in $(seq 1 20); do
		case $((i % 4)) in
		0) curl -sS -f -o c.$i "$SERVE_URL/v1/objects/$big" & ;;
		1) curl -sS -f --compressed -o c.$i \
			"$SERVE_URL/v1/objects/$num" & ;;
		2) curl -sS -f -o c.$i "$SERVE_URL/v1/deltas/$a/$big" & ;;
		3) curl -sS -f -r 100-2000000 -o c.$i \
			"$SERVE_URL/v1/objects/$big" & ;;
		esac
		pids="$pids $!"
	done
	for p in $pids; do
		wait $p
	done
	for i in $(seq 1 20); do
		case $((i % 4)) in
		0) cmp c.$i src/data/big.bin ;;
		1) cmp c.$i src/numbers.txt ;;
		2) rdiff patch big.v1 c.$i out.$i
		   cmp out.$i src/data/big.bin ;;
		3) dd if=src/data/big.bin iflag=skip_bytes,count_bytes \
			skip=100 count=1999901 status=none >want.$i
		   cmp c.$i want.$i ;;
		esac
	done
'

test_expect_success 'clients killed mid-transfer do not hurt the server' '
	random_file huge 40000000
	mkdir -p src2
	mv huge src2/huge
	pd import --data "$DATA" --tree huge --key "$KEY" src2 >/dev/null
	sha=$(sha256sum <src2/huge | cut -c1-64)
	for i in 1 2 3 4 5; do
		curl -sS --limit-rate 300k -o part.$i \
			"$SERVE_URL/v1/objects/$sha" 2>/dev/null &
		pid=$!
		wait_for 10 test -s part.$i
		kill -9 $pid
		wait $pid || true
	done
	# A plain delta decoded on the fly (8 MiB of it), cut too.
	cp src2/huge huge.v1
	seq 1 1100000 >>src2/huge
	pd import --data "$DATA" --tree huge --key "$KEY" src2 >/dev/null
	b=$(sha256sum <src2/huge | cut -c1-64)
	curl -sS --limit-rate 10k -o part.d "$SERVE_URL/v1/deltas/$sha/$b" \
		2>/dev/null &
	pid=$!
	wait_for 20 test -s part.d
	kill -9 $pid
	wait $pid || true
	# And a plain batch of 80 MB.
	printf "{\"items\": [[\"o\", \"%s\"], [\"o\", \"%s\"]]}" $sha $sha >req
	curl -sS --limit-rate 1k --data-binary @req -o part.b \
		"$SERVE_URL/v1/batch" 2>/dev/null &
	pid=$!
	wait_for 10 test -s part.b
	kill -9 $pid
	wait $pid || true
	# Still serving, whole objects and deltas included.
	curl -sS -f -o whole "$SERVE_URL/v1/objects/$b"
	cmp whole src2/huge
	curl -sS -f -o d "$SERVE_URL/v1/deltas/$sha/$b"
	rdiff patch huge.v1 d whole2
	cmp whole2 src2/huge
	expect_status 200 /v1/trees
	json_check body "len(d[\"trees\"]) == 2"
'

test_expect_success 'batch: a response too big to compress comes plain' '
	sha=$(sha256sum <huge.v1 | cut -c1-64)
	printf "{\"items\": [[\"o\", \"%s\"], [\"o\", \"%s\"]]}" $sha $sha >req
	expect_status 200 --compressed --data-binary @req /v1/batch
	test_eq "" "$(header Content-Encoding)" Content-Encoding
	read_batch body >got
	printf "object %s\nobject %s\n" $sha $sha >want
	test_cmp want got
	key=$(sha256sum <req | cut -c1-64)
	test_path_is_missing "$DATA/batches/${key:0:2}/$key.zst"
'

# A second server, one worker and room for one waiting job, to overload.
main_pid=$SERVE_PID main_url=$SERVE_URL main_log=$SERVE_LOG
serve_start "$DATA" --workers 1 --max-queue 1
busy_pid=$SERVE_PID busy_url=$SERVE_URL busy_log=$SERVE_LOG
SERVE_PID=$main_pid SERVE_URL=$main_url SERVE_LOG=$main_log

test_expect_success 'overloaded: 503 with Retry-After in JSON, then it recovers' '
	"$PYTHON" - "$busy_url" >cfg <<-\EOF
	import json, sys
	sha = {e["path"]: e.get("sha256") for e in json.load(open("v2.json"))["entries"]}
	for i in range(1, 201):
	    print("url = \"%s/v1/objects/%s\"" % (sys.argv[1], sha["many/f%d" % i]))
	    print("output = \"o.%d\"" % i)
	EOF
	curl -sS --parallel --parallel-max 100 -H "Accept-Encoding: zstd" \
		-w "%{filename_effective} %{http_code} %header{retry-after} %header{content-encoding}\n" \
		-K cfg >codes
	test_eq 200 "$(wc -l <codes)" answers
	awk "\$2 != 200 && \$2 != 503" codes >other
	test ! -s other
	# Some were turned away, as the protocol says, and the rest served.
	awk "\$2 == 503 && \$3 != 2" codes >bad-retry
	test ! -s bad-retry
	grep -q " 503 " codes
	grep -q " 200 " codes
	n503=0
	while read -r out code retry enc; do
		i=${out#o.}
		if [ "$code" = 503 ]; then
			# The JSON error, checked on a few (python is slow).
			n503=$((n503 + 1))
			[ $n503 -gt 3 ] ||
				json_check $out "d[\"status\"] == 503" "len(d) == 2"
			continue
		fi
		if [ "$enc" = zstd ]; then
			zstd -q -d -c $out >plain
		else
			cp $out plain
		fi
		cmp plain src/many/f$i
	done <codes
	# Not stuck: it answers the next client.
	curl -sS -f -o one "$busy_url/v1/objects/$(sha_of v2.json README)"
	cmp one src/README
	serve_stop $busy_pid
	test_grep "served [0-9]* requests ([0-9]* errors, [1-9][0-9]* overloaded)" \
		"$busy_log"
'

test_expect_success 'SIGTERM: the server stops cleanly, status 0' '
	serve_stop
	test_grep "served [0-9]* requests" "$SERVE_LOG"
'

test_done
