#!/bin/sh
# Durable writes through edwc's storage::Store (group commit) against RocksDB's own
# db_bench on the same filesystem, in the same run. Prints writes/s and the ratios
# as markdown tables.
#
#   bench/store_vs_db_bench.sh [--dir DIR]
#
# DIR (default: $EDWC_BENCH_DIR, else $TMPDIR, else /tmp) holds the temporary databases;
# point it at the disk the gateway will use, since fsync on tmpfs is free. Installs
# db_bench (Debian package rocksdb-tools) through scripts/install-deps and builds
# store_bench in Release ($EDWC_BUILD_DIR, default build/release; EDWC_BENCH_PREBUILT=1
# skips the build). Takes ~15 s once built. The last lines, `RESULT bench=store ...`,
# repeat the ratios as key=value pairs for bench/run-all.sh.
#
#   db_bench fillsync     1 thread, 256 B values, sync=true (one fsync per write)
#   db_bench fillrandom   1 thread, 256 B values, sync=false
#   edwc store_bench      one durable writer; 1/4/16/64 durable writes in flight,
#                         grouped into shared fsyncs; one writer without sync
set -eu
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 [--dir DIR]" >&2; exit 2; }
DIR=${EDWC_BENCH_DIR:-${TMPDIR:-/tmp}}
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
    *) usage ;;
  esac
done
[ -d "$DIR" ] || { echo "error: --dir $DIR is not a directory" >&2; exit 2; }

# db_bench --help says fillsync writes N/1000 values, but db_bench 7.8.3 writes --num
# synced records (only its report's trailing "(N ops)" is divided by 1000), so --num is
# the real count: 5,000 fsyncs, ~1 s. The script reads the count db_bench reports.
FILLSYNC_NUM=5000
FILLRANDOM_NUM=300000
VALUE_SIZE=256 # store_bench's kValueBytes
MIN_TIME=0.5   # seconds per store_bench case

EDWC_BENCH_DEPS=1 scripts/install-deps
command -v db_bench >/dev/null || { echo "error: db_bench not on PATH after install-deps" >&2; exit 1; }

WORK=$(mktemp -d "$DIR/edwc_store_vs_db_bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM # runs the EXIT trap

BUILD=${EDWC_BUILD_DIR:-build/release}
STORE_BENCH=$BUILD/bench/store_bench
if [ "${EDWC_BENCH_PREBUILT:-0}" = 1 ]; then
  [ -x "$STORE_BENCH" ] || { echo "error: EDWC_BENCH_PREBUILT=1 but $STORE_BENCH is not built" >&2; exit 1; }
else
  mkdir -p "$BUILD"
  # The top-level CMakeLists adds bench/ only when Google Benchmark (libbenchmark-dev) is found.
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDWC_BUILD_TESTS=OFF \
    -DEDWC_BUILD_BENCH=ON >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log" >&2; exit 1; }
  cmake --build "$BUILD" --target store_bench >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
fi

FS=$(df -T "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')
case "$FS" in
  tmpfs* | ramfs*) echo "warning: $DIR is $FS; fsync is free there, the sync numbers mean nothing" >&2 ;;
esac

# db_bench_ops NAME ARGS...: runs one db_bench benchmark, prints "ops/sec operations".
db_bench_ops() {
  name=$1
  shift
  db_bench --benchmarks="$name" --threads=1 --value_size="$VALUE_SIZE" \
    --db="$WORK/db_bench_$name" "$@" >"$WORK/$name.out" 2>&1 || { cat "$WORK/$name.out" >&2; return 1; }
  awk -v b="$name" '$1 == b { for (i = 2; i <= NF; i++) { if ($i == "ops/sec") o = $(i - 1); if ($i == "operations;") n = $(i - 1) } }
    END { if (o == "") exit 1; print o, n }' "$WORK/$name.out" ||
    { echo "error: no ops/sec for $name in db_bench output:" >&2; cat "$WORK/$name.out" >&2; return 1; }
}

SYNC=$(db_bench_ops fillsync --num="$FILLSYNC_NUM")
RANDOM_=$(db_bench_ops fillrandom --num="$FILLRANDOM_NUM")
SYNC_OPS=${SYNC% *} SYNC_N=${SYNC#* }
RANDOM_OPS=${RANDOM_% *} RANDOM_N=${RANDOM_#* }

mkdir "$WORK/store"
EDWC_BENCH_DIR="$WORK/store" "$STORE_BENCH" --benchmark_min_time="$MIN_TIME" \
  --benchmark_format=csv >"$WORK/store.csv" 2>"$WORK/store.err" || { cat "$WORK/store.err" >&2; exit 1; }

# "name writes/s batches_per_sync iterations" per store_bench case, name without BM_ and /real_time.
awk -F, '
  /^name,/ { for (i = 1; i <= NF; i++) { h = $i; gsub(/"/, "", h); col[h] = i }; next }
  {
    name = $col["name"]; gsub(/"/, "", name); sub(/^BM_/, "", name); sub(/\/real_time$/, "", name)
    if ($col["error_occurred"] == "true") { print "error: " name ": " $col["error_message"] > "/dev/stderr"; bad = 1; next }
    print name, $col["items_per_second"], $col["batches_per_sync"], $col["iterations"]
  }
  END { exit bad }' "$WORK/store.csv" >"$WORK/store.rows"

store_ops() {
  awk -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }' "$WORK/store.rows" ||
    { echo "error: store_bench printed no $1" >&2; return 1; }
}
SINGLE=$(store_ops DurableWriteSingle)
GROUPED64=$(store_ops DurableWriteGrouped/writers:64)
NOSYNC=$(store_ops WriteNoSync)

echo "store_vs_db_bench: $(nproc) CPUs, $FS, db_bench $(db_bench --version 2>&1 | awk '{ print $NF; exit }'), $VALUE_SIZE B values"
echo
echo "| benchmark | writes/s | writes per fsync | writes timed |"
echo "|---|---:|---:|---:|"
printf '| db_bench fillsync (1 thread, sync) | %.0f | 1 | %s |\n' "$SYNC_OPS" "$SYNC_N"
printf '| db_bench fillrandom (1 thread, no sync) | %.0f | - | %s |\n' "$RANDOM_OPS" "$RANDOM_N"
while read -r name ops per_sync iters; do
  case "$name" in
    DurableWriteSingle) label="edwc single durable writer" ;;
    DurableWriteGrouped/writers:*) label="edwc grouped durable, ${name##*:} in flight" ;;
    WriteNoSync) label="edwc no sync (1 writer)" per_sync="" ;;
    *) label="edwc $name" ;;
  esac
  if [ -z "$per_sync" ]; then
    printf '| %s | %.0f | - | %s |\n' "$label" "$ops" "$iters"
  else
    printf '| %s | %.0f | %.1f | %s |\n' "$label" "$ops" "$per_sync" "$iters"
  fi
done <"$WORK/store.rows"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "| ratio | value |"
echo "|---|---:|"
echo "| edwc single durable / db_bench fillsync | $(ratio "$SINGLE" "$SYNC_OPS") |"
echo "| edwc grouped-64 / db_bench fillsync | $(ratio "$GROUPED64" "$SYNC_OPS") |"
echo "| edwc no sync / db_bench fillrandom | $(ratio "$NOSYNC" "$RANDOM_OPS") |"
echo
echo "RESULT bench=store case=single_durable edwc_ops=$SINGLE anchor=fillsync anchor_ops=$SYNC_OPS ratio=$(ratio "$SINGLE" "$SYNC_OPS")"
echo "RESULT bench=store case=grouped_64 edwc_ops=$GROUPED64 anchor=fillsync anchor_ops=$SYNC_OPS ratio=$(ratio "$GROUPED64" "$SYNC_OPS")"
echo "RESULT bench=store case=no_sync edwc_ops=$NOSYNC anchor=fillrandom anchor_ops=$RANDOM_OPS ratio=$(ratio "$NOSYNC" "$RANDOM_OPS")"
