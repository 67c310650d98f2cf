#!/usr/bin/env bash
# Durable writes through edwc's storage::Store (group commit) against RocksDB's own
# db_bench on the same filesystem, in the same run. Prints writes/s and the ratios
# as a markdown table.
#
#   bench/store_vs_db_bench.sh [--dir DIR]
#
# DIR (default: $EDWC_BENCH_DIR, else $TMPDIR, else /tmp) holds the temporary databases;
# point it at the disk the gateway will use, since fsync on tmpfs is free. Installs
# db_bench (Debian package rocksdb-tools) through scripts/install-deps and builds
# store_bench in Release ($EDWC_BUILD_DIR, default build/release). Takes ~30 s.
#
#   db_bench fillsync     1 thread, 256 B values, sync=true  (one fsync per write)
#   db_bench fillrandom   1 thread, 256 B values, sync=false
#   edwc store_bench      one durable writer; 1/4/16/64 durable writers in flight,
#                         grouped into shared fsyncs; one writer without sync
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 [--dir DIR]" >&2; exit 2; }
dir=${EDWC_BENCH_DIR:-${TMPDIR:-/tmp}}
while [[ $# -gt 0 ]]; do
  case $1 in
    --dir) [[ $# -ge 2 ]] || usage; dir=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ -d $dir ]] || { echo "error: --dir $dir is not a directory" >&2; exit 2; }

# Sizes: fillsync runs --num/1000 writes (db_bench --help: "write N/1000 values ... in
# sync mode"), so 5,000,000 is 5,000 synced writes, ~1 s at ~5,000 fsyncs/s.
FILLSYNC_NUM=5000000
FILLRANDOM_NUM=300000
VALUE_SIZE=256  # store_bench's kValueBytes
MIN_TIME=0.5    # seconds per store_bench case

EDWC_BENCH_DEPS=1 scripts/install-deps
command -v db_bench >/dev/null || { echo "error: db_bench not on PATH after install-deps" >&2; exit 1; }

work=$(mktemp -d "$dir/edwc_store_vs_db_bench.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM  # runs the EXIT trap

build=${EDWC_BUILD_DIR:-build/release}
mkdir -p "$build"
# The top-level CMakeLists adds bench/ only when Google Benchmark (libbenchmark-dev) is found.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDWC_BUILD_TESTS=OFF \
  -DEDWC_BUILD_BENCH=ON >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$build" --target store_bench >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2
  exit 1
}
store_bench=$build/bench/store_bench

fs=$(df -T "$work" | awk 'NR == 2 { print $2 " (" $1 ")" }')
case $fs in
  tmpfs* | ramfs*) echo "warning: $dir is on $fs; fsync is free there, the sync numbers mean nothing" >&2 ;;
esac

# Prints db_bench's ops/sec for benchmark $1, run with the remaining arguments.
db_bench_ops() {
  local name=$1 out ops
  shift
  out=$(db_bench --benchmarks="$name" --threads=1 --value_size="$VALUE_SIZE" \
    --db="$work/db_bench_$name" "$@" 2>&1) || { echo "$out" >&2; return 1; }
  ops=$(awk -v b="$name" '$1 == b { for (i = 2; i <= NF; i++) if ($i == "ops/sec") print $(i - 1) }' \
    <<<"$out")
  [[ -n $ops ]] || { echo "error: no ops/sec for $name in db_bench output:" >&2; echo "$out" >&2; return 1; }
  echo "$ops"
}

sync_ops=$(db_bench_ops fillsync --num="$FILLSYNC_NUM")
random_ops=$(db_bench_ops fillrandom --num="$FILLRANDOM_NUM")

mkdir "$work/store"
store_csv=$(EDWC_BENCH_DIR="$work/store" "$store_bench" --benchmark_min_time="$MIN_TIME" \
  --benchmark_format=csv 2>"$work/store_bench.err") || { cat "$work/store_bench.err" >&2; exit 1; }

# "name ops batches_per_sync" per store_bench case, name without "BM_" and "/real_time".
store_rows=$(awk -F, '
  /^name,/ { for (i = 1; i <= NF; i++) { h = $i; gsub(/"/, "", h); col[h] = i }; next }
  {
    name = $col["name"]; gsub(/"/, "", name); sub(/^BM_/, "", name); sub(/\/real_time$/, "", name)
    if ($col["error_occurred"] == "true") { print "error: " name ": " $col["error_message"] > "/dev/stderr"; bad = 1; next }
    print name, $col["items_per_second"], $col["batches_per_sync"]
  }
  END { exit bad }' <<<"$store_csv")

store_ops() {
  local ops
  ops=$(awk -v n="$1" '$1 == n { print $2 }' <<<"$store_rows")
  [[ -n $ops ]] || { echo "error: store_bench printed no $1" >&2; return 1; }
  echo "$ops"
}
single=$(store_ops DurableWriteSingle)
grouped64=$(store_ops DurableWriteGrouped/writers:64)
nosync=$(store_ops WriteNoSync)

echo "store_vs_db_bench: $(nproc) CPUs, $fs, db_bench $(db_bench --version 2>&1 | awk '{ print $NF; exit }'), ${VALUE_SIZE} B values"
echo
echo "| benchmark | writes/s | writes per fsync |"
echo "|---|---:|---:|"
printf '| db_bench fillsync (1 thread, sync) | %.0f | 1 |\n' "$sync_ops"
printf '| db_bench fillrandom (1 thread, no sync) | %.0f | - |\n' "$random_ops"
while read -r name ops per_sync; do
  case $name in
    DurableWriteSingle) label="edwc single durable writer" ;;
    DurableWriteGrouped/writers:*) label="edwc grouped durable, ${name##*:} in flight" ;;
    WriteNoSync) label="edwc no sync (1 writer)"; per_sync="-" ;;
    *) label="edwc $name" ;;
  esac
  if [[ $per_sync == "-" ]]; then
    printf '| %s | %.0f | - |\n' "$label" "$ops"
  else
    printf '| %s | %.0f | %.1f |\n' "$label" "$ops" "$per_sync"
  fi
done <<<"$store_rows"
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "| ratio | value |"
echo "|---|---:|"
echo "| edwc single durable / db_bench fillsync | $(ratio "$single" "$sync_ops") |"
echo "| edwc grouped-64 / db_bench fillsync | $(ratio "$grouped64" "$sync_ops") |"
echo "| edwc no sync / db_bench fillrandom | $(ratio "$nosync" "$random_ops") |"
