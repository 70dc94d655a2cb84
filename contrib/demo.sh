#!/bin/sh
# make demo: what pulpdist does today, on a real tree every Debian machine
# has.  Two node daemons run on 127.0.0.1 from generated configurations,
# talking HTTPS with certificates from a deployment CA made here.  The
# origin imports /usr/share/doc and /usr/include (copied to a temporary
# directory) when it starts; the mirror syncs and publishes it.  After a
# few edits the origin imports again by itself (inotify), computing the
# deltas of what changed once; told to sync, the mirror receives only the
# deltas and runs its on_publish hook; rsync --checksum then finds nothing
# to do.  Last, the tasks, the versions, the changes and a verification of
# every stored byte.  Set DEMO_KEEP=1 to keep the temporary directory.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
pd=${PULPDIST:-$top/pulpdist}
work=$(mktemp -d "${TMPDIR:-/tmp}/pulpdist-demo.XXXXXX")
pids=
cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
	done
	[ "${DEMO_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { echo "demo: $*" >&2; exit 1; }

# start NAME: run the node daemon NAME from NAME.conf; sets url.
start() {
	"$pd" node --config "$1.conf" >"$1.out" 2>"$1.log" &
	pids="$pids $!"
	i=0
	until grep -q "^listening on" "$1.out"; do
		i=$((i + 1))
		if [ $i -gt 200 ] || ! kill -0 "$!" 2>/dev/null; then
			cat "$1.log" >&2
			die "the $1 node did not start"
		fi
		sleep 0.1
	done
	url=$(sed -n 's/^listening on //p' "$1.out")
}

tls="--tls-cert ca/admin.crt --tls-key ca/admin.key --tls-ca ca/ca.crt"

# version URL: the version of tree docs the node at URL holds.
version() {
	# shellcheck disable=SC2086
	"$pd" status --node "$1" $tls --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(next((t["version"] for t in d["trees"] if t["name"] == "docs"), 0))
' 2>/dev/null || echo 0
}

# wait_version URL N: until the node at URL holds version N.
wait_version() {
	i=0
	until [ "$(version "$1")" = "$2" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || die "no version $2 at $1"
		sleep 0.1
	done
}

cd "$work"
step "a source tree: /usr/share/doc and /usr/include"
mkdir src
cp -a /usr/share/doc src/doc
cp -a /usr/include src/include
echo "$(find src | wc -l) entries, $(du -sh src | cut -f1)"

step "a deployment CA, and a certificate for each node (and for us)"
run "$pd" ca init ca
for n in origin mirror admin; do
	run "$pd" ca issue ca $n --host 127.0.0.1
done

step "the tree's signing key"
run "$pd" keygen docs

step "the origin's configuration: watch the source, serve HTTPS"
cat >origin.conf <<EOF
[node]
name = origin
data = $work/origin
listen = 127.0.0.1:0
tls_cert = $work/ca/origin.crt
tls_key = $work/ca/origin.key
tls_ca = $work/ca/ca.crt

[tree docs]
role = origin
source = $work/src
key = $work/docs.key
watch = yes
quiet = 1s
EOF
cat origin.conf
run "$pd" node --check-config origin.conf

step "the origin node starts and imports its source"
start origin
origin=$url
echo "$origin"
wait_version "$origin" 1
grep "docs" origin.log | sed 's/^[^ ]* //'

step "a mirror node: sync on start, then every hour; a hook on publish"
cat >mirror.conf <<EOF
[node]
name = mirror
data = $work/mirror
listen = 127.0.0.1:0
tls_cert = $work/ca/mirror.crt
tls_key = $work/ca/mirror.key
tls_ca = $work/ca/ca.crt

[tree docs]
role = mirror
upstream = $origin
trust = $work/docs.pub
publish = $work/pub
schedule = every 1h
on_publish = echo "version \$PULPDIST_VERSION of \$PULPDIST_TREE is at \$PULPDIST_PATH" >>$work/published.txt
EOF
mkdir pub
cat mirror.conf
start mirror
mirror=$url
wait_version "$mirror" 1
# shellcheck disable=SC2086
run "$pd" status --node "$mirror" $tls

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

step "the origin sees the changes settle and imports version 2 by itself"
wait_version "$origin" 2
# shellcheck disable=SC2086
run "$pd" status --node "$origin" $tls

step "the mirror is told to sync now: deltas for what changed, nothing else"
# shellcheck disable=SC2086
run "$pd" sync --node "$mirror" $tls docs
wait_version "$mirror" 2
grep "published version 2" mirror.log | sed 's/^[^ ]* //'
python3 - mirror.log <<'EOF'
import re, sys
for line in open(sys.argv[1]):
    m = re.search(r"published version 2 .* (\d+) bytes on the wire "
                  r"for (\d+) bytes of new content", line)
    if m:
        wire, content = int(m.group(1)), int(m.group(2))
        print("moved %d bytes for %d bytes of changed files: %.1f%% saved"
              % (wire, content, 100.0 * (1 - wire / max(content, 1))))
EOF
echo "pub/docs -> $(readlink pub/docs)"
echo "the hook said:"
cat published.txt

step "rsync --checksum finds nothing to do: the mirror is exact"
run rsync -rlptn --checksum --itemize-changes src/ pub/docs/
n=$(rsync -rlptn --checksum --itemize-changes src/ pub/docs/ | wc -l)
[ "$n" = 0 ] || die "the mirror differs from the source in $n places"
echo "(no differences)"

step "any delta can be fetched with curl and applied with Debian's rdiff"
sha() { # VERSION PATH
	"$pd" show --data origin --tree docs --version "$1" --json |
	    python3 -c '
import json, sys
m = json.load(sys.stdin)
print(next(e["sha256"] for e in m["entries"] if e["path"] == sys.argv[1]))
' "$2"
}
old=$(sha 1 "${f#src/}")
new=$(sha 2 "${f#src/}")
run curl -s --compressed --cert ca/admin.crt --key ca/admin.key \
    --cacert ca/ca.crt -o edit.rdiff "$origin/v1/deltas/$old/$new"
cp "src-v1-$(basename "$f")" old-version
run rdiff patch old-version edit.rdiff patched
cmp patched "$f"
echo "(rdiff made the new ${f#src/}: $(stat -c %s edit.rdiff) bytes of delta" \
    "for a file of $(stat -c %s "$f") bytes)"

step "without a certificate of the CA the node answers nothing"
if curl -s -k "$origin/v1/status" >/dev/null 2>&1; then
	die "the origin answered a client without a certificate"
fi
echo "(refused)"

step "what the origin logged (time, level, tree and task on every line)"
cat origin.log

step "every import and sync was a task"
# shellcheck disable=SC2086
run "$pd" tasks --node "$origin" $tls
# shellcheck disable=SC2086
run "$pd" tasks --node "$mirror" $tls

step "the tree's history, and what changed from version 1 to 2"
run "$pd" log --data origin --tree docs
run "$pd" diff --data origin --tree docs 1 2

step "verify: the signature, then every stored object re-hashed"
run "$pd" verify --data origin --tree docs

step "the nodes stop on SIGTERM"
for p in $pids; do
	kill "$p"
	wait "$p" || die "a node exited with status $?"
done
pids=
echo "(both exited with status 0)"

step "tampering is caught: one stored object overwritten"
obj=$("$pd" show --data origin --tree docs --json | python3 -c '
import json, sys
m = json.load(sys.stdin)
e = next(e for e in m["entries"] if e["path"] == "NEW-FILE")
print(e["sha256"][:2] + "/" + e["sha256"][2:])')
chmod u+w "origin/objects/$obj"
echo "not what was signed" > "origin/objects/$obj"
if "$pd" verify --data origin --tree docs; then
	die "verify should have failed"
fi
echo "(exit status 1, as it should be)"
echo
echo "demo done: the nodes' data directories were $work/origin and" \
    "$work/mirror"
