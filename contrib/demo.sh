#!/bin/sh
# make demo: what pulpdist does today, on a real tree every Debian machine
# has.  An origin imports /usr/share/doc and /usr/include (copied to a
# temporary directory) and serves it on 127.0.0.1; a mirror pulls it and
# publishes it.  After a few edits the origin imports again (computing the
# deltas of what changed, once) and the mirror pulls the new version,
# receiving only the deltas; rsync --checksum then finds nothing to do.
# Last, the versions, the changes and a verification of every stored byte.
# Set DEMO_KEEP=1 to keep the temporary directory.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
pd=${PULPDIST:-$top/pulpdist}
work=$(mktemp -d "${TMPDIR:-/tmp}/pulpdist-demo.XXXXXX")
server=
cleanup() {
	[ -z "$server" ] || { kill "$server"; wait "$server" || true; }
	[ "${DEMO_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cd "$work"
step "a source tree: /usr/share/doc and /usr/include"
mkdir src
cp -a /usr/share/doc src/doc
cp -a /usr/include src/include
echo "$(find src | wc -l) entries, $(du -sh src | cut -f1)"
# Files changed within 2 s of an import are read again by the next one
# (a change in the same clock tick could otherwise go unseen); let the
# fresh copy age past that so the second import shows the stat cache.
sleep 2

step "the origin's signing key"
run "$pd" keygen docs

step "first import: every file is read and hashed once"
run "$pd" import --data data --tree docs --key docs.key src

step "importing again: nothing changed, no new version"
run "$pd" import --data data --tree docs --key docs.key src

step "the origin serves its data directory on 127.0.0.1"
"$pd" serve --data data --listen 127.0.0.1:0 >serve.out 2>serve.err &
server=$!
i=0
until grep -q "^listening on" serve.out; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$server" 2>/dev/null; then
		echo "demo: the server did not start:" >&2
		cat serve.err >&2
		exit 1
	fi
	sleep 0.1
done
url=$(sed -n 's/^listening on //p' serve.out)
echo "$url"
run curl -s "$url/v1/trees/docs/head"
echo

step "a second site mirrors it: the whole tree, once"
run "$pd" pull --data mirror --from "$url" --tree docs --trust docs.pub \
    --publish pub

step "a few edits: append, add, delete, rename, chmod, retarget a link"
# The largest header, so that the delta has something to save.
f=$(find src/include -name '*.h' -printf '%s %p\n' | sort -n | tail -n 1 |
    cut -d' ' -f2-)
cp "$f" "src-v1-$(basename "$f")"
echo "/* edited by the pulpdist demo */" >> "$f"
echo "a new file" > src/NEW-FILE
rm -f "$(find src/doc -name copyright | sort | head -n 1)"
mv src/include/stdio.h src/include/stdio-renamed.h
chmod 0600 "$(find src/include -name '*.h' | sort | sed -n 2p)"
ln -s include/stdio-renamed.h src/stdio-link
echo "edited $f, added NEW-FILE and stdio-link, removed a copyright file,"
echo "renamed include/stdio.h, made one header 0600"

step "second import: only what changed is read again"
run "$pd" import --data data --tree docs --key docs.key src

step "the mirror pulls version 2: deltas for what changed, nothing else"
run "$pd" pull --data mirror --from "$url" --tree docs --trust docs.pub \
    --publish pub
echo "pub/docs -> $(readlink pub/docs)"

step "rsync --checksum finds nothing to do: the mirror is exact"
run rsync -rlptn --checksum --itemize-changes src/ pub/docs/
n=$(rsync -rlptn --checksum --itemize-changes src/ pub/docs/ | wc -l)
if [ "$n" != 0 ]; then
	echo "demo: the mirror differs from the source in $n places" >&2
	exit 1
fi
echo "(no differences)"

step "any delta can be fetched with curl and applied with Debian's rdiff"
old=$("$pd" show --data data --tree docs --version 1 --json | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(next(e["sha256"] for e in m["entries"] if e["path"] == sys.argv[1]))
' "${f#src/}")
new=$("$pd" show --data data --tree docs --json | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(next(e["sha256"] for e in m["entries"] if e["path"] == sys.argv[1]))
' "${f#src/}")
run curl -s --compressed -o edit.rdiff "$url/v1/deltas/$old/$new"
cp "src-v1-$(basename "$f")" old-version
run rdiff patch old-version edit.rdiff patched
cmp patched "$f"
echo "(rdiff made the new ${f#src/}: $(stat -c %s edit.rdiff) bytes of delta" \
    "for a file of $(stat -c %s "$f") bytes)"

step "the tree's history"
run "$pd" log --data data --tree docs

step "what changed from version 1 to 2"
run "$pd" diff --data data --tree docs 1 2

step "the newest manifest (signed; first lines)"
"$pd" show --data data --tree docs | head -n 12

step "verify: the signature, then every stored object re-hashed"
run "$pd" verify --data data --tree docs

step "tampering is caught: one stored object overwritten"
obj=$("$pd" show --data data --tree docs --json | python3 -c '
import json, sys
m = json.load(sys.stdin)
e = next(e for e in m["entries"] if e["path"] == "NEW-FILE")
print(e["sha256"][:2] + "/" + e["sha256"][2:])')
chmod u+w "data/objects/$obj"
echo "not what was signed" > "data/objects/$obj"
if "$pd" verify --data data --tree docs; then
	echo "demo: verify should have failed" >&2
	exit 1
fi
echo "(exit status 1, as it should be)"
echo
echo "demo done: the data directory was $work/data"
