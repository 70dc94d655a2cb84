#!/usr/bin/env bash
# pulpdist next to rsync on the same data in one run (issue 4): initial
# sync, update, no-op, fan-out to 1, 2, 4 and 8 mirrors at once, two hops
# through a relay, and lab results (many small logs and a growing big
# one); every figure both ways, medians, ratios.  Not a test: `make bench` runs it, or by hand:
#
#   tests/bench/compare.sh [--quick] [RUNS]
#
# Data: V1 and V2 of Debian's linux-source-6.1 (tests/bench/lib.sh);
# --quick is a subset for a first look, under two minutes on a 2-CPU
# machine: only their fs/ subdirectory (2,100 files), fan-out to 1 and 2
# mirrors, no lab results (each of whose runs costs more in dropping
# and re-reading the page cache than in syncing).  RUNS
# (default 3) runs per scenario, the tools alternating within each run;
# fan-out runs once (it copies 30 starting trees).  BENCH_SETTLE
# (default 65, 0 with --quick): seconds to let the disk settle after
# mass deletions (see tests/bench/pull.sh).  Servers run on 127.0.0.1: pulpdist serve
# and `rsync --daemon --no-detach` with a generated config, each under
# /usr/bin/time, stopped by pid at the end.
#
# Figures, the same method for both tools:
#   wall      seconds of the receiving command
#   wire      bytes through the loopback interface during the command
#             (/proc/net/dev, lo's received bytes: every byte sent is
#             received once), both directions, headers included
#   srv CPU   user + system CPU of the serving process and its reaped
#             children (/proc/PID/stat), during the command
#   rcv CPU   user + system CPU of the receiving command
#   rcv RSS   peak RSS of the receiving command
#   srv RSS   peak RSS of the server over the scenario: the rsync
#             daemon's largest child, pulpdist serve itself
# Floors measured in the same run: copying V1 with tar | tar, a stat walk
# with find -printf, and the `zstd -19 --patch-from` size of the files
# that changed from V1 to V2.
#
# Writes the tables to the terminal and, unless --quick, to
# bench/RESULTS.md.  BENCH_WORK (default /tmp/pulpdist-bench-compare)
# holds the work files, removed at the end unless BENCH_KEEP=1.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
quick=0
if [ "${1:-}" = --quick ]; then
	quick=1
	shift
fi
runs=${1:-3}
settle=${BENCH_SETTLE:-$((quick ? 0 : 65))}
fan_ns="1 2 4 8"
[ "$quick" = 0 ] || fan_ns="1 2"
fan_max=${fan_ns##* }
bench_linux_data
work=${BENCH_WORK:-/tmp/pulpdist-bench-compare}
rm -rf "$work"
mkdir -p "$work"
cd "$work"
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o runstat \
    "$top/tests/bench/runstat.c"
if [ "$quick" = 1 ]; then
	cp -a "$v1/fs" v1
	cp -a "$v2/fs" v2
	v1=$work/v1 v2=$work/v2
	what="fs/ of $(bench_versions)"
else
	what=$(bench_versions)
fi

pids=()
cleanup() {
	local p

	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

lo_bytes() {
	awk '$1 == "lo:" { print $2 }' /proc/net/dev
}

# start_timed NAME CMD...: CMD in the background under /usr/bin/time
# (peak RSS of it and its children to NAME.time); sets spid to CMD's pid.
start_timed() {
	local name=$1 tpid _

	shift
	/usr/bin/time -f "%M" -o "$name.time" "$@" >"$name.out" \
	    2>"$name.err" &
	tpid=$!
	pids+=("$tpid")
	spid=
	for _ in $(seq 100); do
		spid=$(pgrep -P "$tpid" | head -1) && [ -n "$spid" ] && break
		sleep 0.05
	done
	[ -n "$spid" ] || { echo "$name did not start" >&2; exit 1; }
	# Stopping time(1) would leave the server running: stop both.
	pids+=("$spid")
}
stop_timed() { # PID of the command, NAME: stop it, print its peak RSS
	kill "$1"
	while kill -0 "$1" 2>/dev/null; do sleep 0.05; done
	for _ in $(seq 100); do
		[ -s "$2.time" ] && break
		sleep 0.05
	done
	tail -1 "$2.time"
}

# start_pdserve NAME DATA: pulpdist serve DATA under time(1); sets spid
# and surl.
start_pdserve() {
	local _

	start_timed "$1" "$pd" serve --data "$2" --listen 127.0.0.1:0
	for _ in $(seq 100); do
		grep -qs '^listening on' "$1.out" && break
		sleep 0.1
	done
	surl=$(sed -n '1s/^listening on //p' "$1.out")
	[ -n "$surl" ] || { cat "$1.err" >&2; exit 1; }
}
start_pd() { # DATA: the origin's server; sets pdpid and url
	start_pdserve pdserve "$1"
	pdpid=$spid
	url=$surl
}
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start_rsyncd() {
	local _

	port=$(free_port)
	printf 'use chroot = no\n' >rsyncd.conf
	printf '[%s]\n\tpath = %s\n\tread only = yes\n' v1 "$v1" v2 "$v2" \
	    lab "$work/lab" >>rsyncd.conf
	start_timed rsyncd rsync --daemon --no-detach --address=127.0.0.1 \
	    --port="$port" --config=rsyncd.conf --log-file="$work/rsyncd.log"
	rpid=$spid
	for _ in $(seq 100); do
		rsync "rsync://127.0.0.1:$port/" >/dev/null 2>&1 && break
		sleep 0.1
	done
}

# The memory a command starts with decides much of its time on this
# kind of machine (a guest whose page faults cost about 20 us, 0.2 GB/s
# of first touch): an initial sync took rsync -a 15.8 s and pulpdist
# 12.6 s after the page cache had grown by the last run's tree, and
# 6.4 s and 7.1 s from a dropped cache.  Whichever tool came after a
# growth paid for it, and the runs alternate, so before each command
# that writes a tree the clean page cache is dropped (as root; else the
# runs go as before) and what the servers serve is read back in: the
# servers start warm, the receivers' trees cold, as on a mirror that
# last synced yesterday.  Not before a no-op, which writes nothing and
# would read its catalog or its tree from the disk.  served: what the
# servers of the scenario under way serve, set by the scenario.
fresh=1
served=()
fresh_memory() {
	local d

	sync
	[ "$fresh" = 1 ] && [ -w /proc/sys/vm/drop_caches ] || return 0
	echo 1 >/proc/sys/vm/drop_caches
	for d in "${served[@]}"; do
		tar -C "$d" -cf - . | cat >/dev/null
	done
	"$pd" --version >/dev/null
	rsync --version >/dev/null
	# --version maps what a tool links; pulpdist opens the libraries
	# of transfers, hashes and deltas when it first needs them.
	python3 -c 'import ctypes
for so in ("libcrypto.so.3", "libcurl.so.4", "librsync.so.2"):
    ctypes.CDLL(so)'
}

# measure SCENARIO TOOL RUN SRVPID CMD...: run CMD, append a line to
# results: scenario tool run wall wire srv_cpu_ms rcv_cpu_ms rcv_rss_kb
# The receiver runs under runstat (runstat.c), not time(1): time(1)'s
# %e is in hundredths, and a wall taken around it carries its own start,
# about 12 ms here (`/usr/bin/time true`), where a no-op takes 17.
measure() {
	local sc=$1 tool=$2 run=$3 srv=$4 c0 c1 w0 w1 wall u s rss

	shift 4
	fresh_memory
	c0=$(cpu_ms "$srv")
	w0=$(lo_bytes)
	"$work/runstat" rcv.time "$@" >rcv.out 2>rcv.err ||
	    { echo "$sc/$tool run $run failed:" >&2; cat rcv.err >&2; exit 1; }
	w1=$(lo_bytes)
	c1=$(cpu_ms "$srv")
	read -r wall u s rss <rcv.time
	wall=$(awk -v w="$wall" 'BEGIN { printf "%.3f", w }')
	echo "$sc $tool $run $wall $((w1 - w0)) $((c1 - c0))" \
	    "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%d", (u + s) * 1000 }')" \
	    "$rss" >>results
}

# An update by rsync writes every file anew and frees 78,000 inodes.
# ext4 without a journal (this machine's root) skips inodes freed in the
# last minute when it allocates, six while their inode table block is
# dirty (pull.sh), so whatever runs next creates files several times
# slower: a pulpdist update that took 5.9 s took 15 s, 21 s of it
# system time, 30 s after an rm -rf of a tree.  The command after one
# waits the minute out, whichever tool it is; six would add half an
# hour.
settle_disk() {
	sync
	sleep "$settle"
}

# same TREE DIR: DIR is TREE exactly (content, modes, mtimes, links).
same() {
	local n

	n=$(rsync -rlptcn --delete --itemize-changes "$1/" "$2/" | wc -l)
	[ "$n" = 0 ] || { echo "$2 differs from $1 in $n places" >&2
	    exit 1; }
}

# measure_many SCENARIO TOOL RUN SRVPID CMDFILE: run the commands of
# CMDFILE (one a line) at once; append to results as measure does, with
# the wall time until the last ends, the receivers' CPU summed and the
# largest receiver's peak RSS.
measure_many() {
	local sc=$1 tool=$2 run=$3 srv=$4 file=$5 c0 c1 w0 w1 t0 wall i=0
	local line x e u s m cpu=0 rss=0
	local -a p=()

	fresh_memory
	c0=$(cpu_ms "$srv")
	w0=$(lo_bytes)
	t0=$(date +%s.%N)
	while IFS= read -r line; do
		/usr/bin/time -f "%e %U %S %M" -o "many-$i.time" \
		    bash -c "$line" >"many-$i.out" 2>&1 &
		p+=("$!")
		i=$((i + 1))
	done <"$file"
	for x in "${p[@]}"; do
		wait "$x" || { echo "$sc/$tool: a command failed:" >&2
		    cat many-*.out >&2; exit 1; }
	done
	wall=$(since "$t0")
	w1=$(lo_bytes)
	c1=$(cpu_ms "$srv")
	for x in $(seq 0 $((i - 1))); do
		read -r e u s m <"many-$x.time"
		cpu=$((cpu + $(awk -v u="$u" -v s="$s" \
		    'BEGIN { printf "%d", (u + s) * 1000 }')))
		[ "$m" -le "$rss" ] || rss=$m
	done
	echo "$sc $tool $run $wall $((w1 - w0)) $((c1 - c0)) $cpu $rss" \
	    >>results
}

# 4. Fan-out: N mirrors update V1 -> V2 at once from one origin, from
# copies of a V1 mirror kept aside before scenario 2.  Each set is
# removed before the next is copied, then the disk settles (pull.sh).
# The last set stays until the end: removed, its two million files left
# the lab's first runs, pulpdist's, creating files among freed inodes
# (settle_disk): 1.9x rsync -a's wall at ec15fa1, 0.74x the run before.
fanout() {
	local n i

	for n in $fan_ns; do
		echo "fan-out: $n at once" >&2
		rm -rf fm-* fp-* fr-*
		: >pd.cmds
		: >rs.cmds
		for i in $(seq 1 "$n"); do
			cp -a fan-m "fm-$i"
			cp -a fan-p "fp-$i"
			ln -sfn "$work/fm-$i/versions/linux/1" "fp-$i/linux"
			cp -a fan-r "fr-$i"
			echo "'$pd' pull --data '$work/fm-$i' --from '$url'" \
			    "--tree linux --trust '$work/k.pub' --publish" \
			    "'$work/fp-$i'" >>pd.cmds
			echo "rsync -az --delete" \
			    "rsync://127.0.0.1:$port/v2/ '$work/fr-$i/'" \
			    >>rs.cmds
		done
		sync
		sleep "$settle"
		measure_many "fanout-$n" pulpdist 1 "$pdpid" pd.cmds
		same "$v2" fp-1/linux
		measure_many "fanout-$n" rsync-az 1 "$rpid" rs.cmds
		same "$v2" fr-1
	done
}

# 6. Lab results flowing back: 100,000 small logs and a 200 MiB one
# (labgen.py), a second tree of the same origin; initial sync, 1% of the
# logs appended to, the big log grown by 1 MiB.  The origin's import of
# each change is timed apart: it is done once, whatever the number of
# mirrors.
lab() {
	local step r t0

	echo "lab results: generating the tree" >&2
	python3 "$top/tests/bench/labgen.py" make lab
	served=("$work/lab" "$work/origin")
	"$pd" keygen lk >/dev/null
	for step in initial append grow; do
		if [ "$step" != initial ]; then
			python3 "$top/tests/bench/labgen.py" "$step" lab
		fi
		sync
		t0=$(date +%s.%N)
		"$pd" import --data origin --tree lab --key lk.key lab >/dev/null
		echo "lab_import_$step $(since "$t0")" >>floors
		for r in $(seq 1 "$runs"); do
			echo "lab results, $step, run $r of $runs" >&2
			pull=("$pd" pull --data "lm-$r" --from "$url" --tree lab
			    --trust lk.pub --publish "lp-$r")
			measure "lab-$step" pulpdist "$r" "$pdpid" "${pull[@]}"
			same lab "lp-$r/lab"
			measure "lab-$step" rsync-a "$r" "$rpid" rsync -a \
			    --delete "rsync://127.0.0.1:$port/lab/" "la-$r/"
			measure "lab-$step" rsync-az "$r" "$rpid" rsync -az \
			    --delete "rsync://127.0.0.1:$port/lab/" "lz-$r/"
			same lab "lz-$r"
		done
	done
}

# 5. Two hops: origin -> relay -> leaf.  The relay is a mirror that
# serves what it pulled (pulpdist serve on its data directory); for
# rsync, a second daemon serves the relay's copy.  Measured: the leaf's
# sync from the relay, and above all what the relay's server spends on
# it.  V1 first (initial, both hops), then V2.
hop_start() { # V: the relays pull V from the origin, then serve it
	"$pd" pull --data relay --from "$url" --tree linux --trust k.pub \
	    --publish relay-pub >/dev/null
	rsync -a --delete "rsync://127.0.0.1:$port/$1/" relay-rsync/
}
relay_servers() {
	local _

	start_pdserve relayserve relay
	rlpid=$spid
	rlurl=$surl
	rport=$(free_port)
	printf 'use chroot = no\n[linux]\n\tpath = %s\n\tread only = yes\n' \
	    "$work/relay-rsync" >rsyncd-relay.conf
	start_timed rsyncd-relay rsync --daemon --no-detach \
	    --address=127.0.0.1 --port="$rport" --config=rsyncd-relay.conf \
	    --log-file="$work/rsyncd-relay.log"
	rrpid=$spid
	for _ in $(seq 100); do
		rsync "rsync://127.0.0.1:$rport/" >/dev/null 2>&1 && break
		sleep 0.1
	done
}
hop() { # STEP V
	served=("$work/relay" "$work/relay-rsync")
	pull=("$pd" pull --data leaf --from "$rlurl" --tree linux
	    --trust k.pub --publish leaf-pub)
	measure "relay-$1" pulpdist 1 "$rlpid" "${pull[@]}"
	same "$2" leaf-pub/linux
	measure "relay-$1" rsync-az 1 "$rrpid" rsync -az --delete \
	    "rsync://127.0.0.1:$rport/linux/" leaf-rsync/
	same "$2" leaf-rsync
}

# pdpull DATA PUB: the command line of a pull (for measure).
pdpull() {
	pull=("$pd" pull --data "$1" --from "$url" --tree linux --trust k.pub
	    --publish "$2")
}
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

: >results
: >floors
echo "floors" >&2
sync
t0=$(date +%s.%N)
mkdir floor-tar
tar -C "$v1" -cf - . | tar -C floor-tar -xf -
sync
echo "tar_copy $(since "$t0")" >>floors
# Kept until the end: ext4 is slow to create files for minutes after
# 80,000 are deleted (tests/bench/pull.sh), which would tax whatever
# runs next.
t0=$(date +%s.%N)
find "$v1" -printf '%s %T@ %m %p\n' >/dev/null
echo "find_walk $(since "$t0")" >>floors
rsync -rcn --itemize-changes "$v2/" "$v1/" | awk '/^>f/ { print substr($0, 13) }' \
    >changed
(cd "$v1" && tar -cf "$work/old.tar" --ignore-failed-read \
    -T "$work/changed" 2>/dev/null) || true
(cd "$v2" && tar -cf "$work/new.tar" -T "$work/changed")
zstd -q -19 --patch-from=old.tar new.tar -o patch.zst
echo "zstd_patch $(stat -c %s patch.zst) $(wc -l <changed)" >>floors
rm -f old.tar new.tar patch.zst

echo "setup: origin imports V1" >&2
"$pd" keygen k >/dev/null
"$pd" import --data origin --tree linux --key k.key "$v1" >/dev/null
start_rsyncd

# 1. Initial sync of V1 into an empty directory.
served=("$v1" "$work/origin")
start_pd origin
for r in $(seq 1 "$runs"); do
	echo "initial sync, run $r of $runs" >&2
	pdpull "m1-$r" "p1-$r"
	measure initial pulpdist "$r" "$pdpid" "${pull[@]}"
	same "$v1" "p1-$r/linux"
	measure initial rsync-a "$r" "$rpid" rsync -a \
	    "rsync://127.0.0.1:$port/v1/" "ra1-$r/"
	measure initial rsync-az "$r" "$rpid" rsync -az \
	    "rsync://127.0.0.1:$port/v1/" "rz1-$r/"
	same "$v1" "rz1-$r"
done
echo "two hops: the relays take V1" >&2
hop_start v1
relay_servers
hop initial "$v1"
echo "srv_rss initial pulpdist $(stop_timed "$pdpid" pdserve)" >>results
# The starting trees of the fan-out, while they are at V1.
cp -a m1-1 fan-m
cp -a p1-1 fan-p
cp -a ra1-1 fan-r

# 2. Update V1 -> V2, from copies of the V1 trees of scenario 1.  The
# origin's import computes the step's deltas, manifest patch and pack
# once, whatever the number of mirrors: its time is reported apart.
sync
t0=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o import.time \
    "$pd" import --data origin --tree linux --key k.key "$v2" >/dev/null
echo "import_v2 $(since "$t0")" >>floors
read -r u s <import.time
echo "import_v2_cpu $(awk -v u="$u" -v s="$s" \
    'BEGIN { printf "%d", (u + s) * 1000 }')" >>floors
served=("$v2" "$work/origin")
start_pd origin
# Each rsync update frees 78,000 inodes, and whatever runs next pays for
# it (settle_disk).  pulpdist's update frees none.  rsync -a goes first
# in a round, so that pulpdist and rsync -a both start after an rsync
# update and one settle: the ratio the goal is set on compares runs
# made under the same conditions.  In the old order (pulpdist, rsync
# -a, rsync -az), pulpdist followed rsync's frees and rsync -a never did.
for r in $(seq 1 "$runs"); do
	echo "update, run $r of $runs" >&2
	measure update rsync-a "$r" "$rpid" rsync -a --delete \
	    "rsync://127.0.0.1:$port/v2/" "ra1-$r/"
	settle_disk
	pdpull "m1-$r" "p1-$r"
	measure update pulpdist "$r" "$pdpid" "${pull[@]}"
	same "$v2" "p1-$r/linux"
	measure update rsync-az "$r" "$rpid" rsync -az --delete \
	    "rsync://127.0.0.1:$port/v2/" "rz1-$r/"
	settle_disk
	same "$v2" "rz1-$r"
done

echo "two hops: the relays take V2" >&2
hop_start v2
hop update "$v2"
echo "srv_rss relay pulpdist $(stop_timed "$rlpid" relayserve)" >>results
echo "srv_rss relay rsync $(stop_timed "$rrpid" rsyncd-relay)" >>results
rm -rf relay relay-pub relay-rsync leaf leaf-pub leaf-rsync

# 3. No-op: each mirror is current already.
fresh=0
for r in $(seq 1 "$runs"); do
	echo "no-op, run $r of $runs" >&2
	pdpull "m1-$r" "p1-$r"
	measure noop pulpdist "$r" "$pdpid" "${pull[@]}"
	measure noop rsync-a "$r" "$rpid" rsync -a --delete \
	    "rsync://127.0.0.1:$port/v2/" "ra1-$r/"
	measure noop rsync-az "$r" "$rpid" rsync -az --delete \
	    "rsync://127.0.0.1:$port/v2/" "rz1-$r/"
done
fresh=1
# Their trees are done with: room for the fan-out's 24 trees.  The
# fan-out lets the disk settle before it measures.
rm -rf m1-* p1-* ra1-* rz1-* floor-tar
served=("$v2" "$work/origin")
fanout
[ "$quick" = 1 ] || lab
echo "srv_rss update pulpdist $(stop_timed "$pdpid" pdserve)" >>results
echo "srv_rss all rsync $(stop_timed "$rpid" rsyncd)" >>results

# ------------------------------------------------------------------
# The report

median() { # SCENARIO TOOL FIELD
	awk -v s="$1" -v t="$2" -v f="$3" '$1 == s && $2 == t { print $f }' \
	    results | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f×", a / b
	    else print "—" }'
}
floor() { awk -v k="$1" '$1 == k { print $2 }' floors; }
srvrss() { awk -v s="$1" -v t="$2" '$1 == "srv_rss" && $2 == s &&
    $3 == t { print $4 }' results; }

table() { # SCENARIO TITLE
	local sc=$1 f name unit pd ra rz i

	echo
	echo "### $2"
	echo
	echo "| figure (median of $runs) | pulpdist | rsync -a | rsync -az | pulpdist / rsync -a | pulpdist / rsync -az |"
	echo "| --- | --- | --- | --- | --- | --- |"
	i=0
	for f in 4 5 6 7 8; do
		name=(wall "wire bytes" "server CPU" "receiver CPU" \
		    "receiver peak RSS")
		unit=(s B ms ms KiB)
		pd=$(median "$sc" pulpdist $f)
		ra=$(median "$sc" rsync-a $f)
		rz=$(median "$sc" rsync-az $f)
		echo "| ${name[$i]} (${unit[$i]}) | $pd | $ra | $rz |" \
		    "$(ratio "$pd" "$ra") | $(ratio "$pd" "$rz") |"
		i=$((i + 1))
	done
}

fanout_table() {
	local n pw rw pc rc pb rb imp p1 pn

	echo
	echo "### 4. Fan-out: N mirrors update V1 → V2 at once (one run)"
	echo
	echo "| N | pulpdist wall (s) | rsync -az wall (s) | pulpdist server CPU (ms) | rsync daemon CPU (ms) | pulpdist wire (B) | rsync wire (B) |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	for n in $fan_ns; do
		pw=$(median "fanout-$n" pulpdist 4)
		rw=$(median "fanout-$n" rsync-az 4)
		pc=$(median "fanout-$n" pulpdist 6)
		rc=$(median "fanout-$n" rsync-az 6)
		pb=$(median "fanout-$n" pulpdist 5)
		rb=$(median "fanout-$n" rsync-az 5)
		echo "| $n | $pw | $rw | $pc | $rc | $pb | $rb |"
	done
	echo
	echo "The origin's import of V2, which made the step's deltas, manifest"
	echo "patch and pack once for any number of mirrors, took" \
	    "$(floor import_v2) s and $(floor import_v2_cpu) ms of CPU."
	echo
	p1=$(median fanout-1 pulpdist 6)
	pn=$(median "fanout-$fan_max" pulpdist 6)
	echo "Server CPU at N=$fan_max over N=1: pulpdist $(ratio "$pn" "$p1")," \
	    "rsync $(ratio "$(median "fanout-$fan_max" rsync-az 6)" \
	    "$(median fanout-1 rsync-az 6)") (goal: pulpdist's within 1.5×)."
	echo
	# What the origin spends on the step in all: rsync's daemon does
	# its whole work per mirror; pulpdist's origin did it at the import.
	imp=$(floor import_v2_cpu)
	echo "The origin's whole CPU for the step (the import, then serving)," \
	    "N=$fan_max over N=1: pulpdist" \
	    "$(ratio $((imp + pn)) $((imp + p1))) ($((imp + pn)) ms against" \
	    "$((imp + p1)) ms)."
}

relay_table() {
	local sc f i pd rz
	local -a name=(wall "wire bytes" "relay server CPU" "leaf CPU"
	    "leaf peak RSS") unit=(s B ms ms KiB)

	echo
	echo "### 5. Two hops: the leaf syncs from a relay (one run)"
	echo
	echo "The relay pulled from the origin first (pulpdist: \`pull\`, then"
	echo "\`serve\` on its data directory; rsync: \`rsync -a\` from the"
	echo "origin's daemon, then a daemon of its own on that copy)."
	echo
	echo "| figure | pulpdist, V1 | rsync -az, V1 | pulpdist, V1 → V2 | rsync -az, V1 → V2 | pulpdist / rsync, V1 → V2 |"
	echo "| --- | --- | --- | --- | --- | --- |"
	i=0
	for f in 4 5 6 7 8; do
		pd=$(median relay-update pulpdist $f)
		rz=$(median relay-update rsync-az $f)
		echo "| ${name[$i]} (${unit[$i]}) |" \
		    "$(median relay-initial pulpdist $f) |" \
		    "$(median relay-initial rsync-az $f) | $pd | $rz |" \
		    "$(ratio "$pd" "$rz") |"
		i=$((i + 1))
	done
	echo
	echo "Relay servers' peak RSS: pulpdist $(srvrss relay pulpdist) KiB," \
	    "rsync daemon $(srvrss relay rsync) KiB."
}

lab_tables() {
	table lab-initial "6a. Lab results: initial sync"
	table lab-append "6b. Lab results: 1% of the small logs appended to"
	table lab-grow "6c. Lab results: the big log grown by 1 MiB"
	echo
	echo "The origin's imports of the lab tree (once for any number of"
	echo "mirrors): initial $(floor lab_import_initial) s, after the appends" \
	    "$(floor lab_import_append) s, after the growth" \
	    "$(floor lab_import_grow) s."
}

report() {
	echo "## pulpdist vs rsync: $what"
	echo
	echo "$(bench_machine); $runs runs per scenario, tools alternating;"
	echo "servers and clients on 127.0.0.1.  Produced by"
	echo "\`tests/bench/compare.sh$([ "$quick" = 1 ] && echo " --quick") $runs\`" \
	    "at commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null ||
	    echo unknown)$(git -C "$top" diff --quiet HEAD -- . \
	    ':!bench/RESULTS.md' 2>/dev/null ||
	    echo ", with changes not committed")."
	table initial "1. Initial sync of V1 into an empty directory"
	table update "2. Update V1 → V2 (rsync with --delete)"
	table noop "3. No-op: the mirror is current"
	fanout_table
	relay_table
	[ "$quick" = 1 ] || lab_tables
	echo
	echo "### Servers' peak RSS"
	echo
	echo "| pulpdist serve, initial | pulpdist serve, the rest | rsync daemon (largest child), all |"
	echo "| --- | --- | --- |"
	echo "| $(srvrss initial pulpdist) KiB | $(srvrss update pulpdist) KiB | $(srvrss all rsync) KiB |"
	echo
	echo "### Floors, same run"
	echo
	echo "- copying V1 with \`tar | tar\` (and sync): $(floor tar_copy) s"
	echo "- stat walk of V1 with \`find -printf\`: $(floor find_walk) s"
	echo "- \`zstd -19 --patch-from\` of the $(awk '$1 == "zstd_patch" { print $3 }' floors)" \
	    "files changed V1 → V2: $(floor zstd_patch) B"
	echo
	echo "Goals (issue 4): update wire ≤ 0.06× rsync -az, update server"
	echo "CPU ≤ 0.05×, update wall ≤ 0.3× rsync -a, no-op wall ≤ 0.01×,"
	echo "initial wall ≤ 1.0× with wire ≤ rsync -az's, peak RSS ≤ rsync's,"
	echo "fan-out server CPU at N=8 within 1.5× of N=1, no delta or"
	echo "signature computed on a relay."
}

report | tee report.md
if [ "$quick" = 0 ]; then
	mkdir -p "$top/bench"
	cp report.md "$top/bench/RESULTS.md"
	echo "written to bench/RESULTS.md" >&2
fi
