#!/bin/sh
# make demo: what pulpdist does today, on a real tree every Debian machine
# has.  An origin imports /usr/share/doc and /usr/include (copied to a
# temporary directory), imports it again after a few edits (reading only
# what changed and computing the deltas of what changed, once), then shows
# the versions, the changes and a verification of every stored byte.
# Set DEMO_KEEP=1 to keep the temporary directory.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
pd=${PULPDIST:-$top/pulpdist}
work=$(mktemp -d "${TMPDIR:-/tmp}/pulpdist-demo.XXXXXX")
cleanup() {
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

step "a few edits: append, add, delete, rename, chmod, retarget a link"
f=$(find src/include -name '*.h' -size +2k | sort | head -n 1)
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
