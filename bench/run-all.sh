#!/bin/sh
# Every benchmark of the project in one run, each beside its anchor measured in the same
# run, with scaling series over sizes, jobs, centers and writers; records the machine,
# keeps every raw output and ends with a summary table (also saved as summary.md).
#
#   bench/run-all.sh [--quick] [--out DIR] [--only "placement store ..."] [--dir DIR]
#                    [--rounds R] [--sizes "64M 256M 1G"] [--jobs "1000 4000 16000"]
#                    [--centers "8 16 32"] [--writers "1 16 64"] [--idle-seconds 30]
#                    [--job-centers 5] [--brokers 32] [--jobs-dir DIR] [--job-command PATH]
#
# In this order (--only picks some, by these names, separated by spaces or commas):
#   placement    placement_bench: Place() against BM_RankAnchor (ranking Place()'s own
#                quotes, prices precomputed) at 100, 1,000 and 10,000 centers
#   store        bench/store_vs_db_bench.sh: storage::Store against db_bench fillsync/fillrandom
#   settlements  bench/settlement_vs_db_bench.sh --writers: Ledger::Issue against db_bench
#                fillsync at each writer count, then the kill -9 check
#   api          bench/api_vs_nginx.sh --route centers: GET /v1/centers against nginx
#   quotes       bench/api_vs_nginx.sh --route quotes: POST /v1/quotes against nginx
#   transfers    bench/transfer_vs_nginx.sh --size S: a transfer against nginx -> curl, per size
#   federation   federation_bench --centers N: a price change against telling every center
#                directly, and traffic at rest against the adverts' floor, per N
#   jobs         federation_bench --jobs J: jobs/s against posix_spawn + waitpid of the
#                same command by as many threads, per J
#
# --quick runs everything briefly with small series (a smoke test, a few minutes; its
# figures mean little). --rounds sets every benchmark's rounds or repetitions (default 3).
# --dir holds the databases, datasets and curl's copy (default $EDWC_BENCH_DIR, $TMPDIR or
# /tmp); point it at the disk the gateway will use. --jobs-dir holds the job directories
# (default /dev/shm/edwc-bench-jobs when /dev/shm is a tmpfs). --job-command defaults to
# bench/noop_job (the gateways' work, not the dynamic loader's).
#
# Builds edwc and the benchmarks in Release in $EDWC_BUILD_DIR (default build/release)
# unless EDWC_BENCH_PREBUILT=1, then runs every script with EDWC_BENCH_PREBUILT=1. Writes
# to --out DIR (default build/bench-results/<UTC date and time>): one raw output per run
# (<benchmark>-<parameter>.txt), machine.md, commands.txt, summary.md. A benchmark that
# fails is marked in the summary and the others still run; the exit status is then 1.
set -u
cd "$(dirname "$0")/.." || exit 1
REPO=$(pwd)

# shown ARGS...: the arguments as a shell would take them back (quoted where needed).
shown() {
  for a in "$@"; do
    case "$a" in
      '' | *[!A-Za-z0-9_./=:,+-]*) printf "'%s' " "$a" ;;
      *) printf '%s ' "$a" ;;
    esac
  done
}

ARGS=$(shown "$@")
ARGS=${ARGS% }

usage() {
  sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
QUICK=0 OUT="" ONLY="" ROUNDS="" SIZES="" JOBS="" CENTERS="" WRITERS="" IDLE=""
JOB_CENTERS="" BROKERS="" JOBS_DIR="" JOB_COMMAND=""
DIR=${EDWC_BENCH_DIR:-${TMPDIR:-/tmp}}
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || case "$1" in --quick) ;; *) usage ;; esac
  case "$1" in
    --quick) QUICK=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    --only) ONLY=$(echo "$2" | tr ',' ' '); shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --centers) CENTERS=$2; shift 2 ;;
    --writers) WRITERS=$2; shift 2 ;;
    --idle-seconds) IDLE=$2; shift 2 ;;
    --job-centers) JOB_CENTERS=$2; shift 2 ;;
    --brokers) BROKERS=$2; shift 2 ;;
    --jobs-dir) JOBS_DIR=$2; shift 2 ;;
    --job-command) JOB_COMMAND=$2; shift 2 ;;
    *) usage ;;
  esac
done
ALL="placement store settlements api quotes transfers federation jobs"
for b in $ONLY; do
  case " $ALL " in *" $b "*) ;; *) echo "error: --only: no benchmark '$b' (one of: $ALL)" >&2; exit 2 ;; esac
done
[ -n "$ONLY" ] || ONLY=$ALL
[ -d "$DIR" ] || { echo "error: --dir $DIR is not a directory" >&2; exit 2; }
DIR=$(cd "$DIR" && pwd)

# Settings: the full run's, or --quick's; flags win over both.
if [ "$QUICK" = 1 ]; then
  : "${ROUNDS:=1}" "${SIZES:=8M 16M}" "${JOBS:=200 400}" "${CENTERS:=3 4}" "${WRITERS:=1 16}"
  : "${IDLE:=2}" "${BROKERS:=8}" "${JOB_CENTERS:=3}"
  API_DURATION=2s SETTLE_SECONDS=1 KILL_ROUNDS=1 PLACEMENT_MIN_TIME=0.05
else
  : "${ROUNDS:=3}" "${SIZES:=64M 256M 1G}" "${JOBS:=1000 4000 16000}" "${CENTERS:=8 16 32}"
  : "${WRITERS:=1 16 64}" "${IDLE:=30}" "${BROKERS:=32}" "${JOB_CENTERS:=5}"
  API_DURATION=5s SETTLE_SECONDS=3 KILL_ROUNDS=3 PLACEMENT_MIN_TIME=0.5
fi
if [ -z "$JOBS_DIR" ] && [ "$(df -T /dev/shm 2>/dev/null | awk 'NR == 2 { print $2 }')" = tmpfs ]; then
  JOBS_DIR=/dev/shm/edwc-bench-jobs
fi

BUILD=${EDWC_BUILD_DIR:-build/release}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
[ -n "$JOB_COMMAND" ] || JOB_COMMAND="$BUILD/bench/noop_job"
[ -n "$OUT" ] || OUT="build/bench-results/$(date -u +%Y-%m-%dT%H%M%SZ)"
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
ROWS="$OUT/rows.md"
: >"$ROWS"
: >"$OUT/commands.txt"
FAILED=0

selected() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }
# plural N WORD: "1 writer", "16 writers"; numbers of 4 digits and more with commas.
plural() {
  awk -v n="$1" -v w="$2" 'BEGIN {
    s = n ""; for (i = length(s) - 3; i > 0; i -= 3) s = substr(s, 1, i) "," substr(s, i + 1)
    print s " " w (n == 1 ? "" : "s") }'
}

# Dependencies and the build, once; the scripts below then skip theirs.
EDWC_BENCH_DEPS=1 scripts/install-deps || exit 1
TARGETS="edwc"
selected placement && TARGETS="$TARGETS placement_bench"
selected store && TARGETS="$TARGETS store_bench"
selected settlements && TARGETS="$TARGETS settlement_bench"
{ selected federation || selected jobs; } && TARGETS="$TARGETS federation_bench noop_job"
if [ "${EDWC_BENCH_PREBUILT:-0}" = 1 ]; then
  for t in $TARGETS; do
    f="$BUILD/bench/$t"
    [ "$t" = edwc ] && f="$BUILD/cli/edwc"
    [ -x "$f" ] || { echo "error: EDWC_BENCH_PREBUILT=1 but $f is not built" >&2; exit 1; }
  done
  grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD/CMakeCache.txt" 2>/dev/null ||
    echo "warning: $BUILD is not a Release build" >&2
else
  echo "building $TARGETS in $BUILD (Release)" >&2
  # shellcheck disable=SC2086 # TARGETS is a list
  { cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDWC_BUILD_BENCH=ON &&
    cmake --build "$BUILD" --target $TARGETS; } >"$OUT/build.log" 2>&1 ||
    { tail -30 "$OUT/build.log" >&2; echo "error: build failed (see $OUT/build.log)" >&2; exit 1; }
fi
export EDWC_BENCH_PREBUILT=1 EDWC_BUILD_DIR="$BUILD"

# The machine, into machine.md.
pkg() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
fs_of() { df -T "$1" 2>/dev/null | awk 'NR == 2 { print $2 " on " $1 " (" $7 ")" }'; }
CXX=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
if [ -n "$JOBS_DIR" ]; then
  JOBS_FS="$JOBS_DIR: $(fs_of "$(dirname "$JOBS_DIR")")"
else
  JOBS_FS="under each agent's data directory (jobs.work_dir default): $(fs_of "${TMPDIR:-/tmp}")"
fi
{
  echo "| | |"
  echo "| --- | --- |"
  echo "| date (UTC) | $(date -u '+%Y-%m-%d %H:%M') |"
  echo "| commit | $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)') |"
  echo "| CPUs (nproc) | $(nproc) |"
  echo "| CPU model | $(lscpu | sed -n 's/^Model name: *//p' | head -1)$(lscpu | sed -n 's/^Hypervisor vendor: */, hypervisor /p') |"
  echo "| memory | $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
  echo "| kernel | $(uname -r) |"
  echo "| Debian | $(cat /etc/debian_version 2>/dev/null) |"
  echo "| data dir | $DIR: $(fs_of "$DIR") |"
  echo "| job dirs | $JOBS_FS |"
  echo "| compiler | $("${CXX:-c++}" --version 2>/dev/null | head -1) |"
  echo "| build | $BUILD, $(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null) |"
  echo "| RocksDB | librocksdb-dev $(pkg librocksdb-dev), db_bench $(db_bench --version 2>&1 | awk '{ print $NF; exit }') |"
  echo "| OpenSSL | $(openssl version 2>/dev/null) (libssl-dev $(pkg libssl-dev)) |"
  echo "| Boost | $(sed -n 's/^#define BOOST_LIB_VERSION "\(.*\)"/\1/p' /usr/include/boost/version.hpp 2>/dev/null | tr _ .) (libboost1.81-dev $(pkg libboost1.81-dev)) |"
  echo "| Google Benchmark | libbenchmark-dev $(pkg libbenchmark-dev) |"
  echo "| nginx | $(nginx -v 2>&1 | sed 's/.*nginx\///') |"
  echo "| curl | $(curl --version | head -1 | cut -d' ' -f1-5) |"
  echo "| wrk | $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2) |"
  echo "| load average at start | $(cut -d' ' -f1-3 /proc/loadavg) |"
} >"$OUT/machine.md"

# run NAME FILE COMMAND...: runs one benchmark, its output into $OUT/FILE.
run() {
  name=$1 file=$2
  shift 2
  echo "$(shown "$@")> $file" >>"$OUT/commands.txt"
  printf '[%s] %-12s %s... ' "$(date -u +%H:%M:%S)" "$name" "$(shown "$@")" >&2
  t0=$(date +%s)
  if "$@" >"$OUT/$file" 2>&1; then
    echo "ok ($(($(date +%s) - t0)) s)" >&2
  else
    echo "FAILED ($(($(date +%s) - t0)) s, see $OUT/$file)" >&2
    FAILED=1
  fi
}

# result FILE BENCH [KEY=VALUE]: the last RESULT line of BENCH in FILE (matching KEY=VALUE).
result() {
  grep "^RESULT bench=$2 " "$OUT/$1" 2>/dev/null | grep -e "${3:-.}" | tail -1
}
# field KEY LINE: the value of KEY in a RESULT line.
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# row BENCHMARK PARAMETER EDWC ANCHOR UNIT ANCHOR_NAME BETTER FILE: one summary row;
# EDWC and ANCHOR are numbers in UNIT ("EDWC_UNIT|ANCHOR_UNIT" when they differ), the
# ratio is EDWC / ANCHOR.
row() {
  if [ -z "$3" ] || [ -z "$4" ]; then
    echo "| $1 | $2 | no result, see $8 | | | |" >>"$ROWS"
    return
  fi
  awk -v b="$1" -v p="$2" -v e="$3" -v a="$4" -v u="$5" -v an="$6" -v better="$7" '
    function fmt(x,   d, s, i, n) {
      d = x < 10 ? 2 : (x < 100 ? 1 : 0)
      s = sprintf("%." d "f", x)
      i = index(s, "."); if (i == 0) i = length(s) + 1
      for (n = i - 4; n > 0 && substr(s, 1, n) ~ /[0-9]$/; n -= 3) s = substr(s, 1, n) "," substr(s, n + 1)
      return s
    }
    BEGIN {
      ue = ua = u
      if (split(u, us, "|") == 2) { ue = us[1]; ua = us[2] }
      printf "| %s | %s | %s %s | %s %s (%s) | %.2f | %s |\n", b, p, fmt(e), ue, fmt(a), ua, an, e / a, better
    }' >>"$ROWS"
}

if selected placement; then
  run placement placement.txt "$BUILD/bench/placement_bench" --benchmark_repetitions="$ROUNDS" \
    --benchmark_report_aggregates_only=true --benchmark_min_time="$PLACEMENT_MIN_TIME" \
    --benchmark_out="$OUT/placement.csv" --benchmark_out_format=csv
  # "name real_time" per benchmark (the median with repetitions), in microseconds.
  awk -F, '/^name,/ { on = 1; next } on {
      n = $1; gsub(/"/, "", n)
      if (n ~ /_(mean|stddev|cv)$/) next
      sub(/_median$/, "", n); print n, $3 }' "$OUT/placement.csv" >"$OUT/placement.rows" 2>/dev/null
  for objective in cost weighted; do
    for n in 100 1000 10000; do
      p=$(awk -v k="BM_Place/$objective/$n" '$1 == k { print $2 }' "$OUT/placement.rows")
      a=$(awk -v k="BM_RankAnchor/$objective/$n" '$1 == k { print $2 }' "$OUT/placement.rows")
      row placement "$objective objective, $(plural "$n" center)" "$p" "$a" µs "ranking its quotes, prices precomputed" lower placement.txt
    done
  done
fi

if selected store; then
  run store store.txt bench/store_vs_db_bench.sh --dir "$DIR"
  for c in single_durable grouped_64 no_sync; do
    line=$(result store.txt store "case=$c ")
    case "$c" in
      single_durable) what="single durable writer" ;;
      grouped_64) what="grouped, 64 in flight" ;;
      *) what="no sync, 1 writer" ;;
    esac
    row store "$what" "$(field edwc_ops "$line")" "$(field anchor_ops "$line")" writes/s \
      "db_bench $(field anchor "$line")" higher store.txt
  done
fi

if selected settlements; then
  run settlements settlements.txt bench/settlement_vs_db_bench.sh --dir "$DIR" --rounds "$ROUNDS" \
    --writers "$WRITERS" --seconds "$SETTLE_SECONDS" --kill-rounds "$KILL_ROUNDS"
  for w in $WRITERS; do
    line=$(result settlements.txt settlement "writers=$w ")
    row settlements "$(plural "$w" writer)" "$(field edwc_per_s "$line")" "$(field db_bench_per_s "$line")" \
      "settlements/s|writes/s" "db_bench fillsync, same threads and value size" higher settlements.txt
  done
  kills=$(grep -c '^RESULT bench=settlement_kill ' "$OUT/settlements.txt")
  acked=$(awk '/^RESULT bench=settlement_kill / { for (i = 1; i <= NF; i++) if ($i ~ /^acked=/) s += substr($i, 7) } END { print s + 0 }' "$OUT/settlements.txt")
  lost=$(awk '/^RESULT bench=settlement_kill / { for (i = 1; i <= NF; i++) if ($i ~ /^(lost|broken)=/) { split($i, kv, "="); s += kv[2] } } END { print s + 0 }' "$OUT/settlements.txt")
  echo "| settlements | kill -9, $(plural "$kills" round) | $lost lost or broken of $acked acknowledged | none may be lost | | |" >>"$ROWS"
fi

for route in api quotes; do
  selected "$route" || continue
  r=$([ "$route" = api ] && echo centers || echo quotes)
  run "$route" "$route.txt" bench/api_vs_nginx.sh --route "$r" --rounds "$ROUNDS" --duration "$API_DURATION"
  line=$(result "$route.txt" api "route=$r ")
  what=$([ "$r" = centers ] && echo "GET /v1/centers" || echo "POST /v1/quotes")
  row "$route" "$what" "$(field edwc_rps "$line")" "$(field nginx_rps "$line")" req/s \
    "nginx, 1 worker, the same bytes" higher "$route.txt"
  row "$route" "$what, server CPU per request" "$(field edwc_cpu_us "$line")" \
    "$(field nginx_cpu_us "$line")" µs nginx lower "$route.txt"
done

if selected transfers; then
  for s in $SIZES; do
    run transfers "transfers-$s.txt" bench/transfer_vs_nginx.sh --size "$s" --rounds "$ROUNDS" --dir "$DIR"
    line=$(result "transfers-$s.txt" transfer)
    size=$(field bytes "$line" | awk '{ if ($1 % 1073741824 == 0) printf "%d GiB", $1 / 1073741824; else printf "%d MiB", $1 / 1048576 }')
    row transfers "${size:-$s}" "$(field edwc_mbps "$line")" "$(field nginx_mbps "$line")" MB/s \
      "nginx -> curl over TLS, synced" higher "transfers-$s.txt"
  done
fi

if selected federation; then
  for n in $CENTERS; do
    run federation "federation-$n.txt" "$BUILD/bench/federation_bench" --edwc "$BUILD/cli/edwc" \
      --centers "$n" --idle-seconds "$IDLE"
    line=$(result "federation-$n.txt" federation "centers=$n ")
    row federation "$n centers: a price change seen by all" "$(field propagation_ms "$line")" \
      "$(field anchor_tell_all_ms "$line")" ms \
      "one client pushing the advert to each other center in turn, fresh mTLS connections" \
      lower "federation-$n.txt"
    row federation "$n centers: the same, anchor on kept-alive connections" \
      "$(field propagation_ms "$line")" "$(field anchor_tell_all_keepalive_ms "$line")" ms \
      "the same pushes over open connections" lower "federation-$n.txt"
    row federation "$n centers: traffic at rest per center" "$(field idle_kbit_s "$line")" \
      "$(field anchor_floor_kbit_s "$line")" kbit/s "every signed advert once per refresh" \
      lower "federation-$n.txt"
  done
fi

if selected jobs; then
  [ -z "$JOBS_DIR" ] || mkdir -p "$JOBS_DIR"
  for j in $JOBS; do
    run jobs "jobs-$j.txt" "$BUILD/bench/federation_bench" --edwc "$BUILD/cli/edwc" \
      --centers "$JOB_CENTERS" --idle-seconds 1 --jobs "$j" --brokers "$BROKERS" \
      ${JOBS_DIR:+--jobs-dir "$JOBS_DIR"} --job-command "$JOB_COMMAND"
    line=$(result "jobs-$j.txt" jobs "jobs=$j ")
    row jobs "$(plural "$j" job), $JOB_CENTERS centers, $BROKERS brokers" "$(field jobs_per_s "$line")" \
      "$(field anchor_spawn_per_s "$line")" "jobs/s|processes/s" \
      "posix_spawn + waitpid of the same command, same threads, no gateway" \
      higher "jobs-$j.txt"
  done
  [ -z "$JOBS_DIR" ] || rmdir "$JOBS_DIR" 2>/dev/null
fi

echo "| load average at the end | $(cut -d' ' -f1-3 /proc/loadavg) |" >>"$OUT/machine.md"
{
  echo "# edwc benchmarks, $(date -u '+%Y-%m-%d %H:%M') UTC$([ "$QUICK" = 1 ] && echo ' (--quick: a smoke test, not figures)')"
  echo
  echo "Command: \`bench/run-all.sh $ARGS\` (every run it made is in commands.txt; raw outputs beside this file)."
  echo
  cat "$OUT/machine.md"
  echo
  echo "Each anchor ran in the same run on the same machine. \"better\" says which way is good"
  echo "for the edwc / anchor ratio: higher for rates, lower for times and traffic."
  echo
  echo "| benchmark | parameter | edwc | anchor | edwc / anchor | better |"
  echo "| --- | --- | ---: | ---: | ---: | --- |"
  cat "$ROWS"
} >"$OUT/summary.md"
echo >&2
cat "$OUT/summary.md"
echo
echo "raw outputs and summary.md in $OUT"
exit "$FAILED"
