# Helpers for the pull tests (t21xx), sourced after lib.sh: an origin node
# with a served tree, a mirror, and a fault-injecting proxy between them.
#
# Layout in the scratch directory:
#   origin/    the origin's data directory, src/ the tree it imports
#   mirror/    the mirror's data directory, pub/ its publish directory
#   k.key, k.pub   the tree's key

ORIGIN=$TEST_ROOT/origin
MIRROR=$TEST_ROOT/mirror
PUB=$TEST_ROOT/pub
TRUST=$TEST_ROOT/k.pub

# make_pull_tree: src as the pull tests start it: make_tree's entries of
# every kind, a 16 MiB file of random bytes and 40 small files.
make_pull_tree() {
	make_tree "$TEST_ROOT/src"
	head -c $((16 * 1024 * 1024)) /dev/urandom \
	    >"$TEST_ROOT/src/data/large.img"
	for i in $(seq 1 40); do
		echo "small file $i $RANDOM" >"$TEST_ROOT/src/docs/small-$i.txt"
	done
}

# origin_import: import src as the next version of tree t on the origin.
origin_import() {
	pd import --data "$ORIGIN" --tree t --key "$TEST_ROOT/k.key" \
	    "$TEST_ROOT/src" >/dev/null
}

# mirror_pull [ARGS...]: pull tree t from the origin's server.
mirror_pull() {
	mirror_pull_from "$SERVE_URL" "$@"
}

# mirror_pull_from URL [ARGS...]: pull tree t from URL (a proxy, another
# server).
mirror_pull_from() {
	local url=$1

	shift
	pd pull --data "$MIRROR" --from "$url" --tree t --trust "$TRUST" \
	    --publish "$PUB" "$@"
}

# rsync_clean SRC DST: rsync finds nothing to do from SRC to DST, even
# comparing every file's content: the mirror is exact.
rsync_clean() {
	rsync -rlptn --checksum --itemize-changes "$1/" "$2/" \
	    >"$E2E_META/rsync.out"
	if [ -s "$E2E_META/rsync.out" ]; then
		say "error: rsync would change $2:"
		head -n 20 "$E2E_META/rsync.out" >&5
		return 1
	fi
}

# scatter_edit FILE N: overwrite 16 bytes at N places spread over FILE.
scatter_edit() {
	"$PYTHON" - "$1" "$2" <<'EOF'
import os, sys
path, n = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(path)
with open(path, "r+b") as f:
    for i in range(n):
        f.seek((size // n) * i + 4093)
        f.write(os.urandom(16))
EOF
}

# proxy_start FAULT [ARGS...]: a fault-proxy.py in front of the origin's
# server; sets PROXY_PID and PROXY_URL.
proxy_start() {
	rm -f "$E2E_META/proxy.port" "$E2E_META/proxy.port.log"
	"$PYTHON" "$E2E_DIR/fault-proxy.py" "$SERVE_URL" \
	    "$E2E_META/proxy.port" "$@" 2>"$E2E_META/proxy.err" &
	PROXY_PID=$!
	echo "$PROXY_PID" >>"$E2E_META/pids"
	wait_for 10 test -s "$E2E_META/proxy.port"
	PROXY_URL=http://127.0.0.1:$(cat "$E2E_META/proxy.port")
}

proxy_stop() {
	if [ -n "${PROXY_PID:-}" ]; then
		kill "$PROXY_PID" 2>/dev/null || true
		wait "$PROXY_PID" 2>/dev/null || true
		PROXY_PID=
	fi
}

# proxy_log: what the proxy did, one request a line.
proxy_log() {
	cat "$E2E_META/proxy.port.log" 2>/dev/null || true
}

# published_version: the version number PUB/t points at.
published_version() {
	basename "$(readlink "$PUB/t")"
}

# other_start DATA: a second upstream, pulpdist serve DATA, from inside a
# test (serve_start is for the top level); sets OTHER_PID and OTHER_URL.
# The binary itself runs in the background, so that its pid is $!.
other_start() {
	"$PULPDIST" serve --data "$1" --listen 127.0.0.1:0 \
	    >"$E2E_META/other.out" 2>"$E2E_META/other.err" &
	OTHER_PID=$!
	echo "$OTHER_PID" >>"$E2E_META/pids"
	wait_for 10 grep -q "listening on" "$E2E_META/other.out"
	OTHER_URL=$(sed -n "s/^listening on //p" "$E2E_META/other.out")
}

other_stop() {
	kill "$OTHER_PID"
	wait "$OTHER_PID" || true
}
