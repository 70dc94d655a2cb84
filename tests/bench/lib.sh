# Shared by the benchmarks (sourced): where the binary, the data and the
# work directory are, fetching the data once, and the machine line.
#
#   BENCH_DATA   the two linux-source trees (default /tmp/pulpdist-bench)
#   BENCH_FETCH  what fetches them (../shared/bench/get-linux-source.sh)
#   PULPDIST     the binary (default ./pulpdist at the top)

top=$(cd "$(dirname "$0")/../.." && pwd)
pd=${PULPDIST:-$top/pulpdist}
data=${BENCH_DATA:-/tmp/pulpdist-bench}
fetch=${BENCH_FETCH:-$top/../shared/bench/get-linux-source.sh}

[ -x "$pd" ] || { echo "build first: make" >&2; exit 1; }
if [ ! -f "$data/versions" ]; then
	[ -x "$fetch" ] || { echo "no $fetch to fetch the data" >&2; exit 1; }
	"$fetch" "$data"
fi
v1=$data/v1 v2=$data/v2

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
