# Shared by the benchmarks (sourced): where the binary and the data are,
# fetching the data once, starting a server, and the report's header.
#
#   BENCH_DATA   the two linux-source trees (default /tmp/pulpdist-bench)
#   BENCH_FETCH  what fetches them (../shared/bench/get-linux-source.sh)
#   PULPDIST     the binary (default ./pulpdist at the top)

top=$(cd "$(dirname "$0")/../.." && pwd)
pd=${PULPDIST:-$top/pulpdist}
[ -x "$pd" ] || { echo "build first: make" >&2; exit 1; }

# bench_linux_data: fetch the two trees if they are not there yet; sets
# data, v1 and v2.
bench_linux_data() {
	local fetch=${BENCH_FETCH:-$top/../shared/bench/get-linux-source.sh}

	data=${BENCH_DATA:-/tmp/pulpdist-bench}
	if [ ! -f "$data/versions" ]; then
		[ -x "$fetch" ] || { echo "no $fetch to fetch the data" >&2
		    exit 1; }
		"$fetch" "$data"
	fi
	v1=$data/v1 v2=$data/v2
}

# bench_serve DATA: pulpdist serve DATA on 127.0.0.1 in the background,
# output in serve.out and serve.err; sets server (its pid) and url.
bench_serve() {
	local _

	"$pd" serve --data "$1" --listen 127.0.0.1:0 >serve.out 2>serve.err &
	server=$!
	for _ in $(seq 100); do
		grep -qs '^listening on' serve.out && break
		sleep 0.1
	done
	url=$(sed -n '1s/^listening on //p' serve.out)
	[ -n "$url" ] || { cat serve.err >&2; exit 1; }
}

# bench_versions: "linux-source-6.1 V1 -> V2".
bench_versions() {
	echo "linux-source-6.1 $(sed -n 's/^v1 //p' "$data/versions") ->" \
	    "$(sed -n 's/^v2 //p' "$data/versions")"
}

# bench_machine: the CPU, how many, and the date, for the report.
bench_machine() {
	echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 |
	    sed 's/^ //'), $(nproc) CPUs, $(date -u +%Y-%m-%d)"
}

# bench_workdir NAME: a fresh $BENCH_WORK (default /tmp/NAME) to work
# in; on exit the servers started with bench_serve and bench_rsyncd are
# stopped by pid and it is removed (unless BENCH_KEEP=1).
bench_workdir() {
	work=${BENCH_WORK:-/tmp/$1}
	rm -rf "$work"
	mkdir -p "$work"
	cd "$work"
	server= rsyncd=
	trap bench_cleanup EXIT
}
bench_cleanup() {
	[ -z "$server" ] || kill "$server" 2>/dev/null || true
	[ -z "$rsyncd" ] || kill "$rsyncd" 2>/dev/null || true
	wait 2>/dev/null || true
	# Several trees of 1.2 GiB each: gone unless asked to stay.
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}

# cpu_ms PID: CPU ms of PID's threads (their run time in ns, from
# schedstat: clock ticks would round a server's few ms to 0) and of its
# reaped children (ticks: the rsync daemon's work is in its children).
# "%.0f", not "%d": Debian's awk (mawk) prints any number past 2^31 - 1
# as 2147483647 with "%d", which held a server's CPU at 2147 ms.
hz=$(getconf CLK_TCK)
cpu_ms() {
	local ns

	ns=$(cat /proc/"$1"/task/*/schedstat 2>/dev/null |
	    awk '{ n += $1 } END { printf "%.0f", n }')
	awk -v hz="$hz" -v ns="$ns" \
	    '{ printf "%.0f", ns / 1e6 + ($16 + $17) * 1000 / hz }' \
	    "/proc/$1/stat"
}

# bench_rsync_runs RUNS: for each run R, rsync -az --delete from the
# daemon of bench_rsyncd into rdst-R; a line "rsync R wall wire cpu_ms
# rss_kb" each in results.  Wire is both directions: the client sends a
# checksum of every block of every file whose mtime changed.
bench_rsync_runs() {
	local r c0 c1 wall rss wire

	for r in $(seq 1 "$1"); do
		echo "rsync run $r of $1" >&2
		sync
		c0=$(cpu_ms "$rsyncd")
		/usr/bin/time -f "%e %M" -o time.out rsync -az --delete \
		    --stats "rsync://127.0.0.1:$port/linux/" "rdst-$r/" \
		    >rsync.out
		c1=$(cpu_ms "$rsyncd")
		read -r wall rss <time.out
		wire=$(awk -F': ' '/^Total bytes (sent|received): / {
		    gsub(",", "", $2); n += $2 } END { print n }' rsync.out)
		echo "rsync $r $wall $wire $((c1 - c0)) $rss" >>results
	done
}

# bench_rsyncd DIR: an rsync daemon on 127.0.0.1 serving DIR as module
# "linux"; sets rsyncd (its pid) and port.
bench_rsyncd() {
	local _

	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	printf 'use chroot = no\n[linux]\n\tpath = %s\n\tread only = yes\n' \
	    "$1" >rsyncd.conf
	rsync --daemon --no-detach --address=127.0.0.1 --port="$port" \
	    --config=rsyncd.conf --log-file=rsyncd.log &
	rsyncd=$!
	for _ in $(seq 100); do
		rsync "rsync://127.0.0.1:$port/" >/dev/null 2>&1 && break
		sleep 0.1
	done
}
