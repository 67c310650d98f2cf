#!/usr/bin/env bash
# Compares edwc's durable writes (storage::Store, group commit) with RocksDB's own
# `db_bench --benchmarks=fillsync` on the same disk, in the same run.
#
# Usage: bench/store_vs_db_bench.sh [path/to/store_bench]   (default: build/bench/store_bench)
# Databases go under $EDWC_BENCH_DIR (default: $TMPDIR or /tmp); point it at the gateway's
# disk, since fsync on tmpfs is free. Needs db_bench (Debian package rocksdb-tools); this
# script never installs it.
set -euo pipefail

store_bench=${1:-build/bench/store_bench}
if ! command -v db_bench >/dev/null 2>&1; then
  echo "skipped: db_bench not found (Debian package rocksdb-tools); nothing to compare against"
  exit 0
fi
if [[ ! -x $store_bench ]]; then
  echo "error: $store_bench is not built (ninja -C build store_bench)" >&2
  exit 1
fi

work=$(mktemp -d "${EDWC_BENCH_DIR:-${TMPDIR:-/tmp}}/edwc_vs_db_bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# fillsync writes num/1000 records, so --num=5000000 is 5,000 synced 256-byte writes.
db_out=$(db_bench --benchmarks=fillsync --num=5000000 --value_size=256 --threads=1 \
  --db="$work/db_bench" 2>&1)
db_ops=$(awk '/^fillsync/ { for (i = 2; i <= NF; i++) if ($i == "ops/sec") print $(i - 1) }' \
  <<<"$db_out")
if [[ -z $db_ops ]]; then
  echo "error: could not read ops/sec from db_bench output:" >&2
  echo "$db_out" >&2
  exit 1
fi

store_csv=$(EDWC_BENCH_DIR="$work" "$store_bench" --benchmark_filter='BM_DurableWrite' \
  --benchmark_min_time=0.5 --benchmark_format=csv 2>/dev/null)

echo "db_bench fillsync (1 thread, 256 B values): $db_ops writes/s"
awk -F, -v base="$db_ops" '
  /^name,/ { for (i = 1; i <= NF; i++) col[$i] = i; next }
  col["items_per_second"] && $1 ~ /BM_DurableWrite/ {
    name = $1; gsub(/"/, "", name); sub(/\/real_time$/, "", name)
    ops = $col["items_per_second"]
    printf "%-34s %10.0f writes/s  %6.2fx fillsync\n", name, ops, ops / base
  }' <<<"$store_csv"
