#!/bin/sh
# The same file moved agent to agent (a transfer: TLS, chunk verification, synced writes,
# resumable progress) against nginx serving it to curl over TLS, on the same loopback and
# disk, in one run. Prints MB/s of both, the ratio, and the agents' peak memory.
#
#   bench/transfer_vs_nginx.sh [--size 1G] [--rounds 3] [--streams 8] [--dir DIR]
#
# --dir puts the agents' datasets and curl's output there (default: a temporary
# directory). curl's file is fsynced after the download (`sync FILE`), as the receiving
# agent syncs every chunk before it counts it; the unsynced curl figure is printed too.
# Rounds alternate nginx and edwc so that noise on a shared machine falls on both.
# Builds edwc in Release ($EDWC_BUILD_DIR, default build/release; EDWC_BENCH_PREBUILT=1 uses
# the edwc already built there). The last line, `RESULT bench=transfer ...`, repeats the
# figures as key=value pairs for bench/run-all.sh.
set -eu
cd "$(dirname "$0")/.."
SIZE=1G ROUNDS=3 STREAMS=8 DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --size) SIZE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --streams) STREAMS=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    *) echo "usage: $0 [--size 1G] [--rounds 3] [--streams 8] [--dir DIR]" >&2; exit 2 ;;
  esac
done

EDWC_BENCH_DEPS=1 scripts/install-deps
BUILD=${EDWC_BUILD_DIR:-build/release}
EDWC="$BUILD/cli/edwc"
if [ "${EDWC_BENCH_PREBUILT:-0}" = 1 ]; then
  [ -x "$EDWC" ] || { echo "error: EDWC_BENCH_PREBUILT=1 but $EDWC is not built" >&2; exit 1; }
else
  mkdir -p "$BUILD"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$BUILD/configure.log" 2>&1 ||
    { cat "$BUILD/configure.log"; exit 1; }
  cmake --build "$BUILD" --target edwc >/dev/null
fi

TMP=$(mktemp -d)
[ -n "$DIR" ] || DIR="$TMP/data"
mkdir -p "$DIR"
PIDS="" NGINX_PID=""
cleanup() {
  # start_agent runs in a command substitution (a subshell): its pid files, not $PIDS, know
  # the agents.
  for f in "$TMP"/*.pid; do [ -f "$f" ] && PIDS="$PIDS $(cat "$f")"; done
  for p in $PIDS; do kill "$p" 2>/dev/null; done
  for p in $PIDS; do
    i=0
    while kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    ! kill -0 "$p" 2>/dev/null || kill -9 "$p" 2>/dev/null
  done
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  rm -rf "$TMP" "$DIR/edwc-bench"
}
trap cleanup EXIT INT TERM

"$EDWC" demo --prepare-only --centers 2 --base-port 0 --dir "$TMP/demo" >/dev/null
CA="$TMP/demo/ca/ca.pem"
TOKEN=$(sed -n 's/.*"broker":"\([^"]*\)".*/\1/p' "$TMP/demo/demo.json")
mkdir -p "$DIR/edwc-bench"
start_agent() {  # center -> prints its api URL
  cfg="$TMP/demo/centers/$1/center.yaml"
  sed -i "s|^datasets:|datasets:\n  dir: $DIR/edwc-bench/$1|; s|^  streams: [0-9]*|  streams: $STREAMS|" "$cfg"
  mkfifo "$TMP/$1.ready"
  "$EDWC" agent --config "$cfg" >"$TMP/$1.ready" 2>"$TMP/$1.log" &
  PIDS="$PIDS $!"
  echo $! >"$TMP/$1.pid"
  read -r line <"$TMP/$1.ready" || { cat "$TMP/$1.log" >&2; exit 1; }
  api=${line#*api=}
  echo "${api%% *}"
}
SRC_API=$(start_agent zhongwei)
DST_API=$(start_agent qingpu)
api() {  # method url [curl args...]
  m=$1 u=$2; shift 2
  curl -sf --cacert "$CA" -H "Authorization: Bearer $TOKEN" -X "$m" "$@" "$u"
}
i=0
until api GET "$DST_API/v1/centers" | grep -q '"zhongwei"'; do
  i=$((i + 1)); [ $i -gt 300 ] && { echo "the two centers did not meet" >&2; exit 1; }
  sleep 0.1
done

mkdir -p "$TMP/www"
chmod 755 "$TMP" "$TMP/www"  # nginx workers run as www-data when started as root
head -c "$SIZE" /dev/urandom >"$TMP/www/data.bin"
chmod 644 "$TMP/www/data.bin"
BYTES=$(wc -c <"$TMP/www/data.bin")
api PUT "$SRC_API/v1/datasets/data.bin${CHUNK:+?chunk_size=$CHUNK}" -T "$TMP/www/data.bin" -o /dev/null

NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CERTS="$TMP/demo/centers/zhongwei/certs"
cat >"$TMP/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $CERTS/chain.pem;
    ssl_certificate_key $CERTS/center.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $TMP/www;
  }
}
CONF
nginx -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" &
NGINX_PID=$!
i=0
until curl -sf --cacert "$CA" -r 0-0 -o /dev/null "https://127.0.0.1:$NGINX_PORT/data.bin"; do
  i=$((i + 1)); [ $i -gt 100 ] && { echo "nginx did not start" >&2; exit 1; }
  sleep 0.1
done

now_ms() { date +%s%3N; }
mbps() { awk -v b="$BYTES" -v ms="$1" 'BEGIN { printf "%.0f", b / 1000 / ms }'; }
: >"$TMP/nginx.ms"; : >"$TMP/nginx-nosync.ms"; : >"$TMP/edwc.ms"
# Rounds alternate; the first of each is a warm-up, not counted: in a VM, pages the guest
# never touched before fault on the host the first time, whoever writes them.
r=-1
while [ "$r" -lt "$ROUNDS" ]; do
  out="$DIR/edwc-bench/curl.bin"
  t0=$(now_ms)
  curl -sf --cacert "$CA" -o "$out" "https://127.0.0.1:$NGINX_PORT/data.bin"
  t1=$(now_ms)
  sync "$out"
  t2=$(now_ms)
  cmp -s "$out" "$TMP/www/data.bin" || { echo "curl's copy differs" >&2; exit 1; }
  rm -f "$out"
  if [ "$r" -ge 0 ]; then
    echo $((t2 - t0)) >>"$TMP/nginx.ms"
    echo $((t1 - t0)) >>"$TMP/nginx-nosync.ms"
  fi

  name="copy$r"
  # EDWC_BENCH_PERF=FILE: a system-wide `perf record` of the first edwc round.
  if [ -n "${EDWC_BENCH_PERF:-}" ] && [ "$r" = 0 ]; then
    perf record -a -g -o "$EDWC_BENCH_PERF" -- sleep 3 >/dev/null 2>&1 &
    sleep 0.3
  fi
  body="{\"dataset\":\"data.bin\",\"from\":\"zhongwei\",\"to\":\"qingpu\",\"name\":\"$name\"}"
  id=$(api POST "$DST_API/v1/transfers" -H 'Content-Type: application/json' -d "$body" |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  # Polled gently (each poll is a curl process and a TLS handshake on these two cores);
  # the time is the receiver's own: from the request to the dataset published.
  until api GET "$DST_API/v1/transfers/$id" >"$TMP/t.json" && grep -q '"state":"done"' "$TMP/t.json"; do
    grep -q '"state":"failed"' "$TMP/t.json" && { cat "$TMP/t.json" >&2; exit 1; }
    sleep 0.5
  done
  t0=$(sed -n 's/.*"created_at":"\([^"]*\)".*/\1/p' "$TMP/t.json")
  t1=$(sed -n 's/.*"finished_at":"\([^"]*\)".*/\1/p' "$TMP/t.json")
  t0=$(date -d "$t0" +%s%3N) t1=$(date -d "$t1" +%s%3N)
  cmp -s "$DIR/edwc-bench/qingpu/$name/data" "$TMP/www/data.bin" ||
    { echo "the transferred copy differs" >&2; exit 1; }
  api DELETE "$DST_API/v1/datasets/$name" -o /dev/null
  [ "$r" -ge 0 ] && echo $((t1 - t0)) >>"$TMP/edwc.ms"
  r=$((r + 1))
done

mean() { awk '{ s += $1 } END { printf "%.0f", s / NR }' "$1"; }
N=$(mean "$TMP/nginx.ms") NN=$(mean "$TMP/nginx-nosync.ms") E=$(mean "$TMP/edwc.ms")
hwm() { awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$(cat "$TMP/$1.pid")/status"; }
echo "$BYTES bytes over TLS on loopback, $ROUNDS rounds each after a warm-up, alternating; data in $DIR"
echo "nginx -> curl, file synced:      $N ms  $(mbps "$N") MB/s   (rounds: $(tr '\n' ' ' <"$TMP/nginx.ms"))"
echo "nginx -> curl, not synced:       $NN ms  $(mbps "$NN") MB/s"
echo "edwc transfer ($STREAMS streams, verified, synced): $E ms  $(mbps "$E") MB/s   (rounds: $(tr '\n' ' ' <"$TMP/edwc.ms"))"
awk -v e="$E" -v n="$N" -v nn="$NN" 'BEGIN {
  printf "ratio edwc/nginx: %.2f (against curl unsynced: %.2f)\n", n / e, nn / e }'
echo "peak memory (VmHWM): sender $(hwm zhongwei), receiver $(hwm qingpu)"
echo "RESULT bench=transfer bytes=$BYTES streams=$STREAMS rounds=$ROUNDS edwc_ms=$E nginx_ms=$N nginx_nosync_ms=$NN edwc_mbps=$(mbps "$E") nginx_mbps=$(mbps "$N") ratio=$(awk -v e="$E" -v n="$N" 'BEGIN { printf "%.3f", n / e }')"
