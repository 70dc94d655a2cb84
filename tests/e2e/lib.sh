# Shared helpers for pulpdist's end-to-end tests; every tests/e2e/tNNNN-*.sh
# sources this file first.
#
# DESIGN (git t/test-lib.sh, openrsync regress/functional/lib.sh): each test
# file gets its own scratch directory and runs numbered cases with
# test_expect_success DESC BODY.  A BODY is shell text evaluated in a
# subshell with errexit and pipefail on, so any failing command fails the
# case; state passes between cases through files in the scratch directory
# (variables set at the top level of the test file are visible in every
# BODY; variables set inside a BODY are not).  A case's output goes to a log
# that is printed only when it fails.  test_done prints the summary and
# exits non-zero if any case failed; a test file that dies before test_done
# also exits non-zero.
#
# Writing a case:
#   - one command a line: errexit ignores a failure before the last command
#     of an "a && b" list, and any "! cmd"; use expect_false CMD instead;
#   - test_must_fail CMD for an expected failure (status 1 only: a crash,
#     a sanitizer report or a usage error never passes), test_must_fail_usage
#     for status 2;
#   - no bare sleep: wait_for SECONDS CONDITION polls with a bound;
#   - a case that damages shared state restores it before it asserts, so
#     one failure does not cascade (or hang) into the next cases.
#
# Environment:
#   PULPDIST   the binary under test (default: ../../pulpdist from here)
#   TMPDIR     where scratch directories go (default /tmp)
#   E2E_KEEP   if set, keep the scratch directory of a failing test file
#   E2E_VERBOSE  if set, print every case's output, not only failures'
#
# The pulpdist exit codes the helpers rely on: 0 ok, 1 failure, 2 usage.

set -eu
set -o pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_TOP=$(cd "$E2E_DIR/../.." && pwd)

: "${PULPDIST:=$E2E_TOP/pulpdist}"
case $PULPDIST in
/*) ;;
*) PULPDIST=$PWD/$PULPDIST ;;
esac
export PULPDIST
if [ ! -x "$PULPDIST" ] || [ -d "$PULPDIST" ]; then
	echo "error: PULPDIST=$PULPDIST is not an executable;" \
	    "run make, or set PULPDIST" >&2
	exit 1
fi

# Sanitizer reports must end the program with a signal, so that an ASan or
# UBSan finding can never pass as an expected exit status 1.
export ASAN_OPTIONS="abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="abort_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
export LC_ALL=C TZ=UTC

# One python3 for JSON and tree checks, resolved once (a pyenv shim costs
# a tenth of a second per call).
if ! PYTHON=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) ||
    [ -z "$PYTHON" ]; then
	echo "error: python3 is required by the e2e tests" >&2
	exit 1
fi

TEST_NAME=$(basename "$0" .sh)
TEST_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/pulpdist-e2e.$TEST_NAME.XXXXXX")
E2E_META=$TEST_ROOT/.e2e
mkdir "$E2E_META"

e2e_count=0
e2e_passed=0
e2e_failed=0
e2e_skipped=0
e2e_done=0
e2e_failed_list=

e2e_exit() {
	local rc=$?

	e2e_serve_cleanup
	if [ "$e2e_done" != 1 ]; then
		echo "# $TEST_NAME: stopped before test_done (exit status" \
		    "$rc): a command outside test_expect_success failed" >&2
		[ "$rc" != 0 ] || rc=1
	fi
	cd /
	if [ "$rc" != 0 ] && [ -n "${E2E_KEEP:-}" ]; then
		echo "# scratch directory kept: $TEST_ROOT" >&2
	else
		chmod -R u+rwX "$TEST_ROOT" 2>/dev/null || true
		rm -rf "$TEST_ROOT"
	fi
	exit "$rc"
}
trap e2e_exit EXIT
trap 'exit 130' INT TERM HUP

cd "$TEST_ROOT"

# Diagnostics from helpers go to fd 5: the case's log inside a case, the
# test's stderr outside one.
exec 5>&2

say() {
	printf '%s\n' "$*" >&5
}

# ---------------------------------------------------------------------------
# Cases

# test_expect_success DESC BODY: run BODY; the case passes if it exits 0.
test_expect_success() {
	local rc log

	if [ $# -ne 2 ]; then
		echo "error: test_expect_success takes DESC and BODY" >&2
		exit 1
	fi
	e2e_count=$((e2e_count + 1))
	log=$E2E_META/log.$e2e_count
	set +e
	(
		set -eu
		set -o pipefail
		eval "$2"
	) >"$log" 2>&1 5>&1 </dev/null
	rc=$?
	set -e
	if [ "$rc" = 0 ]; then
		e2e_passed=$((e2e_passed + 1))
		echo "ok $e2e_count - $1"
		if [ -n "${E2E_VERBOSE:-}" ] && [ -s "$log" ]; then
			sed 's/^/#   /' "$log"
		fi
	else
		e2e_failed=$((e2e_failed + 1))
		e2e_failed_list="$e2e_failed_list $e2e_count"
		echo "not ok $e2e_count - $1 (exit status $rc)"
		echo "#   body:"
		printf '%s\n' "$2" | sed 's/^/#     /'
		echo "#   output:"
		tail -n 60 "$log" | sed 's/^/#     /'
	fi
}

# test_skip DESC WHY: count a case as skipped.
test_skip() {
	e2e_count=$((e2e_count + 1))
	e2e_skipped=$((e2e_skipped + 1))
	echo "ok $e2e_count # skip $1 ($2)"
}

test_done() {
	e2e_done=1
	# Here as well as at exit: a test's own EXIT trap may not get there.
	e2e_serve_cleanup
	echo "# $TEST_NAME: $e2e_passed passed, $e2e_failed failed," \
	    "$e2e_skipped skipped, $e2e_count total"
	if [ "$e2e_failed" != 0 ]; then
		echo "# failed cases:$e2e_failed_list"
		exit 1
	fi
	exit 0
}

# ---------------------------------------------------------------------------
# Running pulpdist and checking exit statuses

pd() {
	"$PULPDIST" "$@"
}

# test_expect_code CODE CMD...: CMD must exit with exactly CODE.  A death by
# signal (status > 128) is named as such.
test_expect_code() {
	local want=$1 rc=0

	shift
	"$@" || rc=$?
	if [ "$rc" = "$want" ]; then
		return 0
	fi
	if [ "$rc" -gt 128 ]; then
		say "error: '$*' died by signal $((rc - 128)) (status $rc);" \
		    "expected status $want"
	else
		say "error: '$*' exited with status $rc; expected $want"
	fi
	return 1
}

# test_must_fail CMD...: CMD must fail cleanly, with status 1.  Success, a
# usage error (2), a crash (signal) or any other status does not count.
test_must_fail() {
	test_expect_code 1 "$@"
}

# test_must_fail_usage CMD...: CMD must reject its arguments (status 2).
test_must_fail_usage() {
	test_expect_code 2 "$@"
}

# ---------------------------------------------------------------------------
# Assertions

# test_cmp EXPECTED ACTUAL: files identical, else show the diff.
test_cmp() {
	diff -u "$1" "$2" >&5 2>&1 || {
		say "error: $1 and $2 differ"
		return 1
	}
}

# test_grep [!] [GREP-OPTIONS] PATTERN FILE: FILE has (or with !, has not)
# a line matching PATTERN; shows FILE when the check fails.
test_grep() {
	local neg=0 file

	if [ "$1" = "!" ]; then
		neg=1
		shift
	fi
	file=${!#}
	if [ "$neg" = 0 ]; then
		grep -q "$@" && return 0
		say "error: no line matches '${*:1:$#-1}' in $file:"
	else
		grep -q "$@" || return 0
		say "error: a line matches '${*:1:$#-1}' in $file:"
	fi
	sed 's/^/|  /' "$file" >&5
	return 1
}

# test_mode MODE PATH: permission bits (octal, as stat %a prints them).
test_mode() {
	local got

	got=$(stat -c %a "$2")
	[ "$got" = "$1" ] || {
		say "error: $2 has mode $got, expected $1"
		return 1
	}
}

# test_eq WANT GOT [WHAT]
test_eq() {
	[ "$1" = "$2" ] || {
		say "error: ${3:-value}: expected '$1', got '$2'"
		return 1
	}
}

# expect_false CMD...: CMD must fail (any status).  In a case write this,
# not "! CMD": errexit ignores a negated command, and a failure before the
# last command of an "a && b" list, so give each command its own line.
expect_false() {
	if "$@"; then
		say "error: '$*' succeeded"
		return 1
	fi
}

test_path_is_missing() {
	if [ -e "$1" ] || [ -L "$1" ]; then
		say "error: $1 exists"
		return 1
	fi
}

test_file_is_empty() {
	if [ -s "$1" ]; then
		say "error: $1 is not empty:"
		sed 's/^/|  /' "$1" >&5
		return 1
	fi
}

test_dir_is_empty() {
	if [ -n "$(ls -A "$1")" ]; then
		say "error: $1 is not empty:"
		ls -la "$1" >&5
		return 1
	fi
}

# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds, for at
# most SECONDS (redis tests/support wait_for_condition): never a bare sleep.
wait_for() {
	local deadline

	deadline=$(($(date +%s%N) + ${1%.*} * 1000000000))
	shift
	until "$@"; do
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			say "error: timed out waiting for: $*"
			return 1
		fi
		sleep 0.05
	done
}

# ---------------------------------------------------------------------------
# JSON (python3; jq is not required)

# json_check FILE EXPR...: each Python EXPR must be true, with d the parsed
# JSON of FILE.  Helpers in EXPR: ent(path) is the manifest entry of a path
# (None if absent), paths() the manifest's paths in order, changes() the
# sorted (kind, path, from) of a diff, ver(n) version n of a log.
json_check() {
	"$PYTHON" - "$@" >&5 2>&1 <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
def ent(p):
    return next((e for e in d.get("entries", []) if e["path"] == p), None)
def paths():
    return [e["path"] for e in d["entries"]]
def changes():
    return sorted((c["kind"], c["path"], c.get("from"))
                  for c in d["changes"])
def ver(n):
    return next((v for v in d["versions"] if v["version"] == n), None)
env = {"d": d, "ent": ent, "paths": paths, "changes": changes, "ver": ver}
for expr in sys.argv[2:]:
    try:
        ok = eval(expr, env)
    except Exception as e:
        ok = False
        print("json_check: %s raised %r" % (expr, e))
    if not ok:
        text = json.dumps(d, indent=1)
        print("%s:\n%s" % (sys.argv[1], text[:3000] +
                            ("\n..." if len(text) > 3000 else "")))
        print("json_check failed: %s" % expr)
        sys.exit(1)
EOF
}

# json_get FILE EXPR: print a value (strings bare, others as JSON).
json_get() {
	"$PYTHON" -c '
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
def ent(p):
    return next((e for e in d.get("entries", []) if e["path"] == p), None)
v = eval(sys.argv[2], {"d": d, "ent": ent})
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$2"
}

# diff_lines DIFF_JSON: the changes of pulpdist diff --json, one sorted
# line each: "KIND PATH", "renamed FROM -> PATH", "mode PATH OLD -> NEW".
diff_lines() {
	"$PYTHON" -c '
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
out = []
for c in d["changes"]:
    k = c["kind"]
    if k == "renamed":
        out.append("renamed %s -> %s" % (c["from"], c["path"]))
    elif k == "mode":
        out.append("mode %s %s -> %s" % (c["path"], c["old_mode"],
                                         c["new_mode"]))
    else:
        out.append("%s %s" % (k, c["path"]))
sys.stdout.write("".join(l + "\n" for l in sorted(out)))
' "$1"
}

# ---------------------------------------------------------------------------
# Trees

# random_file PATH BYTES: a file of that many random bytes.
random_file() {
	head -c "$2" /dev/urandom >"$1"
}

# make_tree DIR: a varied source tree, every file's content unique:
#   nested directories, an empty directory, files of 0, 1, 4095, 4096,
#   4097, 65537 bytes and one of 3 MiB + 123, a symlink to a file, one to a
#   directory, a dangling one, a hardlinked pair, a 0755 script, a 0600
#   file, a file with a space in its name, and names that test the
#   manifest's byte order (docs, docs-old.txt, docs.txt, docs/...).
make_tree() {
	local t=$1

	mkdir -p "$t/docs/deep/er/nested" "$t/data" "$t/bin" "$t/empty-dir"
	echo "pulpdist e2e tree $RANDOM$RANDOM" >"$t/README"
	: >"$t/empty-file"
	printf x >"$t/one-byte"
	random_file "$t/docs/guide.txt" 4095
	random_file "$t/docs/deep/page4k" 4096
	random_file "$t/docs/deep/er/nested/leaf.bin" 4097
	random_file "$t/data/medium.bin" 65537
	random_file "$t/data/big.bin" $((3 * 1024 * 1024 + 123))
	random_file "$t/docs-old.txt" 100
	random_file "$t/docs.txt" 101
	printf '#!/bin/sh\necho tool %s\n' "$RANDOM$RANDOM" >"$t/bin/tool.sh"
	chmod 0755 "$t/bin/tool.sh"
	random_file "$t/private" 33
	chmod 0600 "$t/private"
	random_file "$t/with space.txt" 77
	random_file "$t/hard-a" 1000
	ln "$t/hard-a" "$t/data/hard-b"
	ln -s README "$t/link-to-readme"
	ln -s ../data "$t/docs/up"
	ln -s does/not/exist "$t/dangling"
}

# compare_trees [--mtime] A B: same names, types, contents, symlink targets,
# permission bits and hardlink structure (with --mtime, file mtimes too).
compare_trees() {
	local fmt='%P %y %m %l\0' out=$E2E_META/cmp
	local special='(fifo|socket|character special file|block special file)'

	if [ "$1" = --mtime ]; then
		fmt='%P %y %m %l %T@\0'
		shift
	fi
	# diff -r reports same-typed special files as different; the listing
	# below compares their types.
	diff -r --no-dereference "$1" "$2" >"$out.diff" 2>&1 || true
	if grep -v -E "^File .* is a $special while file .* is a $special\$" \
	    "$out.diff" >"$out.real"; then
		say "error: trees $1 and $2 differ:"
		cat "$out.real" >&5
		return 1
	fi
	(cd "$1" && find . -printf "$fmt" | sort -z | tr '\0' '\n') >"$out.a"
	(cd "$2" && find . -printf "$fmt" | sort -z | tr '\0' '\n') >"$out.b"
	if ! diff -u "$out.a" "$out.b" >&5; then
		say "error: types, modes or link targets of $1 and $2 differ"
		return 1
	fi
	"$PYTHON" - "$1" "$2" >&5 2>&1 <<'EOF'
import os, sys, stat
def groups(top):
    by = {}
    for dp, dns, fns in os.walk(os.fsencode(top)):
        for n in fns:
            p = os.path.join(dp, n)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                by.setdefault((st.st_dev, st.st_ino), []).append(
                    os.path.relpath(p, os.fsencode(top)))
    return sorted(sorted(v) for v in by.values() if len(v) > 1)
a, b = groups(sys.argv[1]), groups(sys.argv[2])
if a != b:
    print("error: hardlink groups differ:\n  %r\n  %r" % (a, b))
    sys.exit(1)
EOF
}

# check_manifest SRC SHOW_JSON: the manifest (pulpdist show --json) lists
# exactly SRC's files, directories and symlinks, in the manifest's byte
# order, each with its type, mode, mtime, size, SHA-256 (from sha256sum),
# link target and hardlink group, paths escaped as spec/MANIFEST.md says;
# and SRC's own mode and mtime as the root.
check_manifest() {
	local sums=$E2E_META/sha256sums

	(cd "$1" && find . -type f -print0 | xargs -0 -r sha256sum -z --) \
	    >"$sums"
	"$PYTHON" - "$1" "$2" "$sums" >&5 2>&1 <<'EOF'
import json, os, stat, sys

src = os.fsencode(sys.argv[1])
with open(sys.argv[2]) as f:
    m = json.load(f)
sums = {}
with open(sys.argv[3], "rb") as f:
    for rec in f.read().split(b"\0"):
        if rec:
            h, p = rec[:64], rec[66:]
            sums[p[2:] if p.startswith(b"./") else p] = h.decode()

def utf8_len(b, i):
    c = b[i]
    n = 2 if 0xc2 <= c <= 0xdf else 3 if 0xe0 <= c <= 0xef else \
        4 if 0xf0 <= c <= 0xf4 else 0
    if n == 0 or i + n > len(b):
        return 0
    try:
        b[i:i + n].decode("utf-8", "strict")
    except UnicodeDecodeError:
        return 0
    return n

def esc(b):
    out, i = [], 0
    while i < len(b):
        c = b[i]
        if 0x20 < c < 0x7f and c != 0x25:
            out.append(chr(c)); i += 1
            continue
        n = utf8_len(b, i) if c >= 0x80 else 0
        if n:
            out.append(b[i:i + n].decode()); i += n
        else:
            out.append("%%%02X" % c); i += 1
    return "".join(out)

def mtime(st):
    return "%d.%09d" % (st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9)

found = []
def walk(rel):
    d = os.path.join(src, rel) if rel else src
    for n in sorted(os.listdir(d)):
        p = os.path.join(rel, n) if rel else n
        st = os.lstat(os.path.join(src, p))
        found.append((p, st))
        if stat.S_ISDIR(st.st_mode):
            walk(p)
walk(b"")
found.sort(key=lambda x: x[0])

inodes = {}
for p, st in found:
    if stat.S_ISREG(st.st_mode):
        inodes.setdefault((st.st_dev, st.st_ino), []).append(p)
group, nextg = {}, 1
want = []
for p, st in found:
    e = {"path": esc(p), "mtime": mtime(st)}
    if stat.S_ISDIR(st.st_mode):
        e.update(type="dir", mode="%04o" % stat.S_IMODE(st.st_mode))
    elif stat.S_ISLNK(st.st_mode):
        e.update(type="link", mode="0777",
                 target=esc(os.readlink(os.path.join(src, p))))
    elif stat.S_ISREG(st.st_mode):
        e.update(type="file", mode="%04o" % stat.S_IMODE(st.st_mode),
                 size=st.st_size, sha256=sums.get(p, "(no sha256sum)"))
        key = (st.st_dev, st.st_ino)
        if len(inodes[key]) > 1:
            if key not in group:
                group[key] = nextg
                nextg += 1
            e["hardlink"] = group[key]
    else:
        continue            # devices, fifos, sockets are skipped
    want.append(e)

bad = []
got = m["entries"]
wp = [e["path"] for e in want]
gp = [e["path"] for e in got]
if wp != gp:
    bad.append("paths differ:\n  only in source:   %r\n  only in manifest: %r"
               % (sorted(set(wp) - set(gp)), sorted(set(gp) - set(wp))))
    if set(wp) == set(gp):
        bad.append("order differs:\n  want %r\n  got  %r" % (wp, gp))
else:
    for w, g in zip(want, got):
        if w != g:
            bad.append("entry %s:\n  want %r\n  got  %r" % (w["path"], w, g))
rst = os.stat(src)
root = {"mode": "%04o" % stat.S_IMODE(rst.st_mode), "mtime": mtime(rst)}
if m.get("root") != root:
    bad.append("root: want %r, got %r" % (root, m.get("root")))
if bad:
    print("check_manifest: manifest does not match %s:" % sys.argv[1])
    print("\n".join(bad[:20]))
    sys.exit(1)
EOF
}

# ---------------------------------------------------------------------------
# pulpdist data directories

# obj_path DATA SHA256: where the object store keeps that content.
obj_path() {
	printf '%s/objects/%s/%s\n' "$1" "${2:0:2}" "${2:2}"
}

# log_head DATA TREE: the tree's head version number.
log_head() {
	pd log --data "$1" --tree "$2" --json >"$E2E_META/log.json"
	json_get "$E2E_META/log.json" 'd["head"]'
}

# log_versions DATA TREE: the version numbers, as log lists them.
log_versions() {
	pd log --data "$1" --tree "$2" --json >"$E2E_META/log.json"
	json_get "$E2E_META/log.json" \
	    '" ".join(str(v["version"]) for v in d["versions"])'
}

# ---------------------------------------------------------------------------
# Running as an unprivileged user (root reads files whatever their mode)

e2e_unpriv=

# have_unprivileged: true if run_unprivileged can drop to a user that file
# permissions apply to: ourselves when not root, else nobody via setpriv or
# runuser.  The scratch directory is opened up to that user.
have_unprivileged() {
	local g

	if [ -z "$e2e_unpriv" ]; then
		e2e_unpriv=none
		if [ "$(id -u)" != 0 ]; then
			e2e_unpriv=self
		elif id nobody >/dev/null 2>&1; then
			g=$(id -g nobody)
			if command -v setpriv >/dev/null 2>&1 &&
			    setpriv --reuid=nobody --regid="$g" --clear-groups \
			    true 2>/dev/null; then
				e2e_unpriv=setpriv
			elif command -v runuser >/dev/null 2>&1 &&
			    runuser -u nobody -- true 2>/dev/null; then
				e2e_unpriv=runuser
			fi
			if [ "$e2e_unpriv" != none ]; then
				chmod 0755 "$TEST_ROOT"
				run_unprivileged test -x "$TEST_ROOT" ||
				    e2e_unpriv=none
			fi
		fi
	fi
	[ "$e2e_unpriv" != none ]
}

run_unprivileged() {
	case $e2e_unpriv in
	self) "$@" ;;
	setpriv) setpriv --reuid=nobody --regid="$(id -g nobody)" \
	    --clear-groups "$@" ;;
	runuser) runuser -u nobody -- "$@" ;;
	*) say "error: no way to run as an unprivileged user"; return 1 ;;
	esac
}

# give_unprivileged PATH...: make PATHs the unprivileged user's.
give_unprivileged() {
	case $e2e_unpriv in
	setpriv|runuser) chown -R nobody:"$(id -g nobody)" "$@" ;;
	esac
}

# ---------------------------------------------------------------------------
# pulpdist serve (a node's HTTP server on loopback)
#
# serve_start DATA [ARGS...]: start `pd serve --data DATA --listen
# 127.0.0.1:0 ARGS` in the background, wait until it listens, and set
# SERVE_PID, SERVE_URL (http:// or https://127.0.0.1:PORT) and SERVE_LOG (its
# stderr).  Call it at the top level of a test file to use the server in
# every case; inside a case the variables live only in that case.  Every
# server still running when the test file ends is killed by its pid.
#
# serve_stop [PID]: stop that server (default SERVE_PID) with SIGTERM and
# wait for it; fails unless it exited with status 0, so that a crash or a
# sanitizer report in the server fails the case that stops it.  Works
# from any case, whichever started the server: a waiter process records
# each server's exit status in $E2E_META/serve.PID.rc.

SERVE_PID=
SERVE_URL=
SERVE_LOG=

serve_start() {
	local data=$1 out deadline pid

	shift
	out=$(mktemp "$E2E_META/serve.XXXXXX")
	{
		"$PULPDIST" serve --data "$data" --listen 127.0.0.1:0 "$@" \
		    >"$out.out" 2>"$out" </dev/null &
		pid=$!
		echo "$pid" >"$out.pid"
		wait "$pid" && echo 0 >"$E2E_META/serve.$pid.rc.tmp" ||
		    echo $? >"$E2E_META/serve.$pid.rc.tmp"
		mv "$E2E_META/serve.$pid.rc.tmp" "$E2E_META/serve.$pid.rc"
	} &
	deadline=$(($(date +%s%N) + 20 * 1000000000))
	until [ -s "$out.pid" ] &&
	    grep -q '^listening on https\?://' "$out.out" 2>/dev/null; do
		pid=$(cat "$out.pid" 2>/dev/null || true)
		if [ -n "$pid" ] && [ -f "$E2E_META/serve.$pid.rc" ]; then
			say "error: pulpdist serve exited with status" \
			    "$(cat "$E2E_META/serve.$pid.rc"):"
			sed 's/^/|  /' "$out" >&5
			return 1
		fi
		if [ "$(date +%s%N)" -ge "$deadline" ]; then
			say "error: pulpdist serve did not start listening:"
			sed 's/^/|  /' "$out" >&5
			return 1
		fi
		sleep 0.05
	done
	SERVE_PID=$(cat "$out.pid")
	SERVE_LOG=$out
	echo "$SERVE_PID" >>"$E2E_META/serve.pids"
	SERVE_URL=$(sed -n 's|^listening on \(https\?://.*\)$|\1|p' "$out.out")
}

serve_stop() {
	local pid=${1:-$SERVE_PID} rc

	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for 20 test -f "$E2E_META/serve.$pid.rc"; then
		say "error: pulpdist serve (pid $pid) did not stop"
		return 1
	fi
	rc=$(cat "$E2E_META/serve.$pid.rc")
	if [ "$rc" != 0 ]; then
		say "error: pulpdist serve (pid $pid) exited with status $rc:"
		sed 's/^/|  /' "$(grep -l "^$pid\$" "$E2E_META"/serve.*.pid |
		    sed 's/\.pid$//')" >&5 2>/dev/null || true
		return 1
	fi
}

# At exit: kill every server still running, by its pid, and every helper
# process (a fault proxy, a server started by hand) whose pid a test wrote
# to $E2E_META/pids.
e2e_serve_cleanup() {
	local pid

	if [ -f "$E2E_META/pids" ]; then
		while read -r pid; do
			kill "$pid" 2>/dev/null || true
		done <"$E2E_META/pids"
	fi
	[ -f "$E2E_META/serve.pids" ] || return 0
	while read -r pid; do
		[ ! -f "$E2E_META/serve.$pid.rc" ] || continue
		kill -TERM "$pid" 2>/dev/null || continue
		wait_for 5 test -f "$E2E_META/serve.$pid.rc" 2>/dev/null ||
		    kill -KILL "$pid" 2>/dev/null || true
	done <"$E2E_META/serve.pids"
}
