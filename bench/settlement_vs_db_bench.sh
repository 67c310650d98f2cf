#!/bin/sh
# Durable settlements per second through the gateway's write path (gateway::Ledger::Issue:
# sequence, hash, ECDSA signature, group-committed RocksDB write) against RocksDB's own
# db_bench fillsync with the same thread counts and value size, in the same run; then a
# kill -9 test: no acknowledged settlement may be lost.
#
#   bench/settlement_vs_db_bench.sh [--dir DIR] [--rounds R] [--writers "1 16 64"]
#                                   [--seconds 3] [--kill-rounds 3]
#
# DIR (default: $EDWC_BENCH_DIR, else $TMPDIR, else /tmp) holds the temporary databases;
# point it at the disk the gateway will use, since fsync on tmpfs is free. Installs
# db_bench (Debian package rocksdb-tools) through scripts/install-deps and builds
# settlement_bench in Release ($EDWC_BUILD_DIR, default build/release; EDWC_BENCH_PREBUILT=1
# skips the build). Takes ~1.5 min once built.
#
# For each of 1, 16 and 64 writers (--writers), R times (default 3), interleaved:
#   db_bench fillsync  --threads=N, --value_size = the size of a stored settlement record,
#                      sync=true (RocksDB groups the threads' synced writes itself), for
#                      3 s: --duration=3 with the clock read after every write. db_bench
#                      7.8.3 writes --num records per thread over a key space of --num/1000
#                      keys, and only 1 record when --num < 1000, so a fixed --num would
#                      take 64,000 fsync'd writes at 64 threads; --duration bounds it.
#   settlement_bench   --writers N --seconds 3 (N threads, one settlement in flight each)
# (--seconds sets both durations).
# The table gives the median of the rounds (the mean of the middle two for an even count)
# and every round's ratio. Kill test: 3 rounds (--kill-rounds) of settlement_bench --ack-log
# with 16 writers, kill -9 after ~1.5 s, then --check on the same directory. Each table
# row is repeated as a `RESULT bench=settlement ...` (or settlement_kill) line of
# key=value pairs for bench/run-all.sh.
set -eu
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 [--dir DIR] [--rounds R] [--writers \"1 16 64\"] [--seconds S] [--kill-rounds K]" >&2; exit 2; }
DIR=${EDWC_BENCH_DIR:-${TMPDIR:-/tmp}}
ROUNDS=3
THREADS="1 16 64"
SECONDS_EDWC=3
KILL_ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
    --rounds) [ $# -ge 2 ] || usage; ROUNDS=$2; shift 2 ;;
    --writers) [ $# -ge 2 ] || usage; THREADS=$2; shift 2 ;;
    --seconds) [ $# -ge 2 ] || usage; SECONDS_EDWC=$2; shift 2 ;;
    --kill-rounds) [ $# -ge 2 ] || usage; KILL_ROUNDS=$2; shift 2 ;;
    *) usage ;;
  esac
done
[ -d "$DIR" ] || { echo "error: --dir $DIR is not a directory" >&2; exit 2; }
case "$ROUNDS" in '' | *[!0-9]* | 0) usage ;; esac
case "$SECONDS_EDWC" in '' | *[!0-9]* | 0) usage ;; esac
case "$KILL_ROUNDS" in '' | *[!0-9]*) usage ;; esac
for n in $THREADS; do case "$n" in *[!0-9]* | 0) usage ;; esac; done

DB_BENCH_SECONDS=$SECONDS_EDWC
DB_BENCH_NUM=10000000 # per thread; only bounds the run (and sets 10,000 keys)
KILL_WRITERS=16

EDWC_BENCH_DEPS=1 scripts/install-deps
command -v db_bench >/dev/null || { echo "error: db_bench not on PATH after install-deps" >&2; exit 1; }

WORK=$(mktemp -d "$DIR/edwc_settlement_vs_db_bench.XXXXXX")
ACK_PID=""
cleanup() {
  [ -z "$ACK_PID" ] || kill -9 "$ACK_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # runs the EXIT trap

BUILD=${EDWC_BUILD_DIR:-build/release}
mkdir -p "$BUILD"
BENCH=$BUILD/bench/settlement_bench
# EDWC_BENCH_PREBUILT=1 runs the settlement_bench already in $BUILD, without building:
# for runs under a tool that pauses compilers on a shared machine.
if [ "${EDWC_BENCH_PREBUILT:-0}" = 1 ]; then
  [ -x "$BENCH" ] || { echo "error: EDWC_BENCH_PREBUILT=1 but $BENCH is not built" >&2; exit 1; }
else
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDWC_BUILD_TESTS=OFF \
    -DEDWC_BUILD_BENCH=ON >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log" >&2; exit 1; }
  cmake --build "$BUILD" --target settlement_bench >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
fi

FS=$(df -T "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')
case "$FS" in
  tmpfs* | ramfs*) echo "warning: $DIR is $FS; fsync is free there, the sync numbers mean nothing" >&2 ;;
esac

# json_field FIELD: the number after "FIELD": in the JSON line on stdin.
json_field() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p"; }

RUN=0
# edwc_run N SECONDS: one settlement_bench run in a fresh directory; prints its JSON line.
edwc_run() {
  RUN=$((RUN + 1))
  "$BENCH" --dir "$WORK/edwc_$RUN" --writers "$1" --seconds "$2" 2>"$WORK/edwc.err" ||
    { cat "$WORK/edwc.err" >&2; return 1; }
  rm -rf "$WORK/edwc_$RUN"
}

# db_bench_run N: one fillsync run with N threads for DB_BENCH_SECONDS; prints
# "ops/sec operations".
db_bench_run() {
  RUN=$((RUN + 1))
  db_bench --benchmarks=fillsync --threads="$1" --num="$DB_BENCH_NUM" --duration="$DB_BENCH_SECONDS" \
    --ops_between_duration_checks=1 --value_size="$VALUE_SIZE" \
    --db="$WORK/db_bench_$RUN" >"$WORK/db_bench.out" 2>&1 || { cat "$WORK/db_bench.out" >&2; return 1; }
  rm -rf "$WORK/db_bench_$RUN"
  awk '$1 == "fillsync" { for (i = 2; i <= NF; i++) { if ($i == "ops/sec") o = $(i - 1); if ($i == "operations;") n = $(i - 1) } }
    END { if (o == "") exit 1; print o, n }' "$WORK/db_bench.out" ||
    { echo "error: no ops/sec in db_bench output:" >&2; cat "$WORK/db_bench.out" >&2; return 1; }
}

# median: of the numbers on stdin, one per line.
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# The stored record's size, from a short run; db_bench writes values of that size.
VALUE_SIZE=$(edwc_run 1 0.5 | json_field value_bytes)
[ -n "$VALUE_SIZE" ] || { echo "error: settlement_bench printed no value_bytes" >&2; exit 1; }

echo "settlement_vs_db_bench: $(nproc) CPUs, $FS, db_bench $(db_bench --version 2>&1 | awk '{ print $NF; exit }'), $VALUE_SIZE B values, $ROUNDS rounds"
echo
echo "| writers | db_bench fillsync ops/s | edwc settlements/s | ratio | ratio per round | value bytes | edwc batch bytes |"
echo "|---:|---:|---:|---:|---|---:|---:|"
FAILED_TARGET=0
for N in $THREADS; do
  : >"$WORK/db.$N" && : >"$WORK/edwc.$N" && : >"$WORK/rounds.$N"
  r=0
  while [ "$r" -lt "$ROUNDS" ]; do
    r=$((r + 1))
    DB_LINE=$(db_bench_run "$N")
    DB=${DB_LINE% *}
    LINE=$(edwc_run "$N" "$SECONDS_EDWC")
    ED=$(echo "$LINE" | json_field per_sec)
    echo "$DB" >>"$WORK/db.$N"
    echo "$ED" >>"$WORK/edwc.$N"
    echo "$LINE" >"$WORK/line.$N"
    printf '%s ' "$(ratio "$ED" "$DB")" >>"$WORK/rounds.$N"
    echo "  $N writers, round $r: db_bench $DB ops/s (${DB_LINE#* } writes), edwc $LINE" >&2
  done
  DB=$(median <"$WORK/db.$N")
  ED=$(median <"$WORK/edwc.$N")
  LINE=$(cat "$WORK/line.$N")
  R=$(ratio "$ED" "$DB")
  awk -v r="$R" 'BEGIN { exit !(r < 0.8) }' && FAILED_TARGET=1
  printf '| %s | %.0f | %.0f | %s | %s | %s | %s |\n' "$N" "$DB" "$ED" "$R" \
    "$(sed 's/ $//; s/ /, /g' "$WORK/rounds.$N")" "$VALUE_SIZE" \
    "$(echo "$LINE" | json_field batch_bytes)"
  printf 'RESULT bench=settlement writers=%s rounds=%s edwc_per_s=%.0f db_bench_per_s=%.0f ratio=%s value_bytes=%s\n' \
    "$N" "$ROUNDS" "$ED" "$DB" "$R" "$VALUE_SIZE" >>"$WORK/results"
done
echo
cat "$WORK/results"
echo
[ "$FAILED_TARGET" = 0 ] || echo "note: below the 0.8 target at some thread count" >&2

# Kill test: settlements acknowledged before kill -9 must all be there after a restart.
if [ "$KILL_ROUNDS" -gt 0 ]; then
  echo "| kill -9 round | acknowledged before the kill | lost | chains | broken chains |"
  echo "|---:|---:|---:|---:|---:|"
fi
: >"$WORK/kills"
LOST_ANY=0
k=0
while [ "$k" -lt "$KILL_ROUNDS" ]; do
  k=$((k + 1))
  D="$WORK/kill_$k"
  "$BENCH" --dir "$D" --writers "$KILL_WRITERS" --ack-log >"$WORK/acks.$k" 2>"$WORK/ack.err" &
  ACK_PID=$!
  # Until the first acknowledgements (the store is open and writing), then ~1.5 s more.
  waited=0
  while [ ! -s "$WORK/acks.$k" ] && [ "$waited" -lt 100 ]; do
    kill -0 "$ACK_PID" 2>/dev/null || { cat "$WORK/ack.err" >&2; exit 1; }
    sleep 0.1
    waited=$((waited + 1))
  done
  [ -s "$WORK/acks.$k" ] || { echo "error: no acknowledgement within 10 s" >&2; cat "$WORK/ack.err" >&2; exit 1; }
  sleep 1.5
  kill -9 "$ACK_PID"
  wait "$ACK_PID" 2>/dev/null || true
  ACK_PID=""
  if CHECK=$("$BENCH" --dir "$D" --check "$WORK/acks.$k" 2>"$WORK/check.err"); then :; else
    LOST_ANY=1
    cat "$WORK/check.err" >&2
  fi
  [ -n "$CHECK" ] || { echo "error: --check printed nothing" >&2; cat "$WORK/check.err" >&2; exit 1; }
  printf '| %s | %s | %s | %s | %s |\n' "$k" "$(echo "$CHECK" | json_field acked)" \
    "$(echo "$CHECK" | json_field lost)" "$(echo "$CHECK" | json_field chains)" \
    "$(echo "$CHECK" | json_field broken)"
  printf 'RESULT bench=settlement_kill round=%s acked=%s lost=%s chains=%s broken=%s\n' "$k" \
    "$(echo "$CHECK" | json_field acked)" "$(echo "$CHECK" | json_field lost)" \
    "$(echo "$CHECK" | json_field chains)" "$(echo "$CHECK" | json_field broken)" >>"$WORK/kills"
  rm -rf "$D"
done
[ "$KILL_ROUNDS" = 0 ] || { echo; cat "$WORK/kills"; }
[ "$LOST_ANY" = 0 ] || { echo "error: acknowledged settlements lost or chains broken after kill -9" >&2; exit 1; }
