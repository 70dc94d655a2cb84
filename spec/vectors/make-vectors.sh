#!/bin/sh
# Re-sign the manifest test vectors with OpenSSL's command line (not with
# pulpdist, so the unit test compares two implementations) and write the
# expected manifest id of each good vector to good-X.id.
#
# The signature line of every *.manifest is replaced, except in vectors
# about the signature or the framing of lines: those are made wrong on
# purpose, after signing (see the end of this script).
# Run from anywhere: spec/vectors/make-vectors.sh
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hexof() { od -An -v -tx1 | tr -d ' \n'; }
for m in *.manifest; do
	case $m in *signature*|*trailing*|*newline*|*crlf*) continue ;; esac
	# The body is everything before the last line (the signature line).
	head -n -1 "$m" > "$tmp/body"
	printf 'pulpdist manifest v1\n' > "$tmp/msg"
	openssl dgst -sha256 -binary "$tmp/body" >> "$tmp/msg"
	sig=$(openssl pkeyutl -sign -rawin -inkey test.key -in "$tmp/msg" |
	    hexof)
	{ cat "$tmp/body"; printf 'signature %s\n' "$sig"; } > "$tmp/new"
	mv "$tmp/new" "$m"
	case $m in
	good-*) openssl dgst -sha256 -binary "$tmp/body" | hexof > \
		    "${m%.manifest}.id"
		echo >> "${m%.manifest}.id" ;;
	esac
done

# Framing: made from a good vector after it was signed.
{ cat good-empty.manifest; echo extra; } > bad-trailing-data.manifest
head -c -1 good-empty.manifest > bad-no-final-newline.manifest
sed 's/$/\r/' good-empty.manifest > bad-crlf.manifest
# A body changed after signing (root mtime one nanosecond earlier).
sed 's/^root 0755 1763845100.123456789$/root 0755 1763845100.123456788/' \
    good-basic.manifest > bad-signature-tampered.manifest
# Signed by another key while naming test.key's id.
openssl genpkey -algorithm ed25519 -out "$tmp/other.key" 2>/dev/null
head -n -1 good-basic.manifest > "$tmp/body"
{ printf 'pulpdist manifest v1\n'; openssl dgst -sha256 -binary "$tmp/body"; } \
    > "$tmp/msg"
sig=$(openssl pkeyutl -sign -rawin -inkey "$tmp/other.key" -in "$tmp/msg" |
    hexof)
{ cat "$tmp/body"; printf 'signature %s\n' "$sig"; } \
    > bad-signature-other-key.manifest
echo "signed $(ls *.manifest | wc -l) vectors"

# Manifest patches (spec/MANIFEST.md, "Manifest patches").  mpatch-X.patch
# applies to the manifest named in mpatch-X.base; a good one must rebuild
# mpatch-X.out byte for byte, a bad one fail with the text of mpatch-X.err
# (written by hand).  The new manifests are signed as above, and the good
# patches are written here from ops chosen by hand: the unit test checks
# that pr_mpatch_make writes the same bytes.
idof() { head -n -1 "$1" | openssl dgst -sha256 -binary | hexof; }
sign_body() {	# BODY OUT: sign the body file, write the manifest to OUT
	{ printf 'pulpdist manifest v1\n'; openssl dgst -sha256 -binary "$1"; } \
	    > "$tmp/msg"
	sig=$(openssl pkeyutl -sign -rawin -inkey test.key -in "$tmp/msg" |
	    hexof)
	{ cat "$1"; printf 'signature %s\n' "$sig"; } > "$2"
}
mkpatch() {	# BASE NEW < OPS: the patch from BASE to NEW
	printf 'pulpdist-manifest-patch 1\nfrom %s\nto %s\n' "$(idof "$1")" \
	    "$(idof "$2")"
	head -n 9 "$2"
	cat
	tail -n 1 "$2"
}
basic=$(idof good-basic.manifest)
key=$(sed -n 's/^key //p' good-basic.manifest)
T=1763931500.000000000
hello=$(printf 'hello!\n' | openssl dgst -sha256 -binary | hexof)
empty=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
six=5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03

# touch: every mtime of good-basic, and the root's, becomes T.
head -n -1 good-basic.manifest | sed -e 's/^version 2$/version 3/' \
    -e "s/^parent .*/parent $basic/" -e 's/^created .*/created 1763931600/' \
    -e "s/^root 0755 .*/root 0755 $T/" \
    -e "s/^\([df] [0-7]*\) [-0-9.]* /\1 $T /" -e "s/^l [-0-9.]* /l $T /" \
    > "$tmp/body"
sign_body "$tmp/body" mpatch-good-touch.out
echo "t 9 $T" | mkpatch good-basic.manifest mpatch-good-touch.out \
    > mpatch-good-touch.patch

# edit: a/hello changed (its hardlink group gone with a/hello-again),
# bin-tool and empty touched, empty/new-file added, z-abs removed.
cat > "$tmp/body" <<END
pulpdist-manifest 1
tree docs
version 3
parent $basic
created 1763931600
expires 1795381200
key $key
root 0755 1763845100.123456789
entries 8
d 0755 1763845100.000000000 a
f 0644 $T 7 $hello - a/hello
l 1763845100.250000000 a/link hello
f 0755 $T 0 $empty - bin-tool
d 0700 $T empty
f 0600 $T 7 $hello - empty/new-file
d 2775 1763845100.000000000 shared
f 4755 1763845100.000000000 6 $six - shared/setuid
END
sign_body "$tmp/body" mpatch-good-edit.out
mkpatch good-basic.manifest mpatch-good-edit.out > mpatch-good-edit.patch <<END
= 1
- 2
+ f 0644 $T 7 $hello - a/hello
= 1
t 2 $T
+ f 0600 $T 7 $hello - empty/new-file
= 2
- 1
END

# to-empty: every entry removed; from-empty: all of them back.
head -n -1 good-basic.manifest | sed -e 's/^version 2$/version 3/' \
    -e "s/^parent .*/parent $basic/" -e 's/^created .*/created 1763931600/' \
    -e 's/^entries .*/entries 0/' | head -n 9 > "$tmp/body"
sign_body "$tmp/body" mpatch-good-to-empty.out
echo "- 9" | mkpatch good-basic.manifest mpatch-good-to-empty.out \
    > mpatch-good-to-empty.patch
head -n -1 good-basic.manifest | sed -e 's/^version 2$/version 4/' \
    -e "s/^parent .*/parent $(idof mpatch-good-to-empty.out)/" \
    -e 's/^created .*/created 1763935200/' > "$tmp/body"
sign_body "$tmp/body" mpatch-good-from-empty.out
tail -n +10 "$tmp/body" | sed 's/^/+ /' |
    mkpatch mpatch-good-to-empty.out mpatch-good-from-empty.out \
    > mpatch-good-from-empty.patch

for p in touch edit to-empty; do
	echo good-basic.manifest > "mpatch-good-$p.base"
done
echo mpatch-good-to-empty.out > mpatch-good-from-empty.base

# Hostile patches, all for good-basic, made from the edit patch (line 13
# is its first op, line 21 its signature line).
bad() {	# NAME SED-SCRIPT
	sed "$2" mpatch-good-edit.patch > "mpatch-bad-$1.patch"
	echo good-basic.manifest > "mpatch-bad-$1.base"
}
bad from "2s/.*/from $(idof good-empty.manifest)/"
bad to "3s/.*/to $basic/"
bad magic '1s/1$/2/'
bad copy-past-end '19s/.*/= 4/'
bad drop-past-end '20s/.*/- 2/'
bad touch-past-end "17s/.*/t 9 $T/"
bad unconsumed '20d'
bad count-long 's/^entries 8$/entries 9/'
bad count-short 's/^entries 8$/entries 7/'
bad count-too-big 's/^entries 8$/entries 10000001/'
bad unsorted '15{h;d};16G'
bad duplicate "18s/empty\/new-file$/empty/"
bad unknown-op '16s/.*/* 1/'
bad leading-zero '16s/.*/= 01/'
bad zero-count '16s/.*/= 0/'
bad entry-uppercase-sha "15s/$hello/$(echo "$hello" | tr a-f A-F)/"
bad hardlink-single '15s/ - a\/hello$/ 1 a\/hello/'
bad trailing-data '$a\
extra'
head -c -1 mpatch-good-edit.patch > mpatch-bad-no-final-newline.patch
echo good-basic.manifest > mpatch-bad-no-final-newline.base
echo "wrote $(ls mpatch-*.patch | wc -l) manifest patch vectors"
