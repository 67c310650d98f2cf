#!/bin/sh
# One edwc agent's API (one I/O thread) against nginx (one worker) serving the same bytes
# as a static file, both over TLS on loopback, both driven by the same wrk command in one
# run. Prints requests/s, latency percentiles and the edwc/nginx ratio.
#
#   bench/api_vs_nginx.sh [--route centers|quotes] [--duration 5s] [--connections 32]
#                         [--threads 1] [--rounds 3]
#
# --route centers: GET /v1/centers (the federation view, cached between renders).
# --route quotes:  POST /v1/quotes for 8 h800 over 2 hours, ranked over the 4 centers of
#                  a demo federation (the other 3 agents run too, on the server CPU);
#                  every request is placed afresh.
#
# Rounds alternate edwc and nginx so that noise on a shared machine falls on both; the
# summary is the mean req/s, the median round's latency percentiles, and the server
# process's CPU time per request (user + system, from /proc), the steadiest figure.
#
# The servers run on CPU 0 and wrk on CPU 1 (taskset), so that the two never share a core.
# Builds edwc in Release ($EDWC_BUILD_DIR, default build/release; EDWC_BENCH_PREBUILT=1 uses
# the edwc already built there). The last line, `RESULT bench=api ...`, repeats the summary
# as key=value pairs for bench/run-all.sh.
set -eu
cd "$(dirname "$0")/.."
DURATION=5s CONNECTIONS=32 THREADS=1 ROUNDS=3 ROUTE=centers
while [ $# -gt 0 ]; do
  case "$1" in
    --route) ROUTE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "usage: $0 [--route centers|quotes] [--duration 5s] [--connections 32] [--threads 1] [--rounds 3]" >&2; exit 2 ;;
  esac
done
case "$ROUTE" in
  centers) CENTERS=1 PATH_=/v1/centers ROLE=viewer ;;
  quotes) CENTERS=4 PATH_=/v1/quotes ROLE=broker ;;
  *) echo "--route is centers or quotes" >&2; exit 2 ;;
esac
QUOTE='{"model":"h800","count":8,"duration_minutes":120}'

EDWC_BENCH_DEPS=1 scripts/install-deps
BUILD=${EDWC_BUILD_DIR:-build/release}
EDWC="$BUILD/cli/edwc"
if [ "${EDWC_BENCH_PREBUILT:-0}" = 1 ]; then
  [ -x "$EDWC" ] || { echo "error: EDWC_BENCH_PREBUILT=1 but $EDWC is not built" >&2; exit 1; }
else
  mkdir -p "$BUILD"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEDWC_BUILD_TESTS=OFF \
    -DEDWC_BUILD_BENCH=OFF >"$BUILD/configure.log" 2>&1 || { cat "$BUILD/configure.log"; exit 1; }
  cmake --build "$BUILD" --target edwc >/dev/null
fi

TMP=$(mktemp -d)
AGENT_PID="" NGINX_PID="" OTHER_PIDS=""
cleanup() {
  [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  for p in $OTHER_PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

CPUS=$(nproc)
SERVER_CPU=0 CLIENT_CPU=$((CPUS > 1 ? 1 : 0))

# Demo center configs (io_threads: 1); the first is measured.
"$EDWC" demo --prepare-only --centers "$CENTERS" --base-port 0 --dir "$TMP/demo" >/dev/null
CENTER_DIR="$TMP/demo/centers/zhongwei"
# No access log on either side (nginx: access_log off); EDWC_BENCH_ACCESS_LOG=1 keeps
# edwc's, one line per request, to see what it costs.
if [ "${EDWC_BENCH_ACCESS_LOG:-0}" != 1 ]; then
  sed -i 's/^  access: true$/  access: false/' "$CENTER_DIR/center.yaml"
fi
for c in qingpu guian shaoguan; do
  [ "$CENTERS" -gt 1 ] || break
  taskset -c "$SERVER_CPU" "$EDWC" agent --config "$TMP/demo/centers/$c/center.yaml" \
    >/dev/null 2>"$TMP/$c.log" &
  OTHER_PIDS="$OTHER_PIDS $!"
done
mkfifo "$TMP/ready"
taskset -c "$SERVER_CPU" "$EDWC" agent --config "$CENTER_DIR/center.yaml" \
  >"$TMP/ready" 2>"$TMP/agent.log" &
AGENT_PID=$!
read -r READY <"$TMP/ready" || { cat "$TMP/agent.log" >&2; exit 1; }
API=${READY#*api=}
API=${API%% *}
TOKEN=$(sed -n "s/.*\"$ROLE\":\"\([^\"]*\)\".*/\1/p" "$TMP/demo/demo.json")
CA="$TMP/demo/ca/ca.pem"
fetch() { curl -sf --cacert "$CA" -H "Authorization: Bearer $TOKEN" ${1:+-d "$1"} "$API$PATH_"; }
if [ "$ROUTE" = quotes ]; then
  # Until the measured center quotes every center of the federation.
  i=0
  until [ "$(fetch "$QUOTE" | grep -o '"center":' | wc -l)" -ge "$CENTERS" ]; do
    i=$((i + 1)); [ $i -gt 300 ] && { echo "the federation did not converge" >&2; exit 1; }
    sleep 0.1
  done
  printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' \
    "'$QUOTE'" >"$TMP/edwc.lua"
else
  : >"$TMP/edwc.lua"
fi

mkdir -p "$TMP/www/v1"
chmod 755 "$TMP" "$TMP/www" "$TMP/www/v1"  # nginx workers run as www-data when started as root
fetch "$([ "$ROUTE" = quotes ] && echo "$QUOTE")" >"$TMP/www/v1/$ROUTE"
chmod 644 "$TMP/www/v1/$ROUTE"
BYTES=$(wc -c <"$TMP/www/v1/$ROUTE")

NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  open_file_cache max=16 inactive=60s;  # no open(2) per request: nginx at its best
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $CENTER_DIR/certs/chain.pem;
    ssl_certificate_key $CENTER_DIR/certs/center.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $TMP/www;
    location = /v1/$ROUTE { default_type application/json; }
  }
}
CONF
taskset -c "$SERVER_CPU" nginx -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log" &
NGINX_PID=$!
i=0
until curl -sf --cacert "$CA" "https://127.0.0.1:$NGINX_PORT/v1/$ROUTE" >/dev/null; do
  i=$((i + 1)); [ $i -gt 100 ] && { echo "nginx did not start" >&2; tail -5 "$TMP/nginx-error.log" >&2; exit 1; }
  sleep 0.1
done

NGINX_WORKER=$(pgrep -P "$NGINX_PID" nginx | head -1)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One measured round: wrk against one server; appends "rps p50 p90 p99 non2xx ticks" to
# $TMP/<name>.rounds. Latencies are converted to microseconds.
run_round() {  # name url pid
  before=$(cpu_ticks "$3")
  script=$([ "$1" = edwc ] && echo "$TMP/edwc.lua" || echo "$TMP/none.lua")
  taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s "$script" -H "Authorization: Bearer $TOKEN" "$2/v1/$ROUTE" >"$TMP/$1.wrk"
  after=$(cpu_ticks "$3")
  awk -v ticks=$((after - before)) '
    function us(v) { if (v ~ /us$/) return v + 0; if (v ~ /ms$/) return v * 1000; if (v ~ /s$/) return v * 1000000; return v }
    /Requests\/sec:/ { rps = $2 }
    /requests in/ { total = $1 }
    /^ +50%/ { p50 = us($2) } /^ +90%/ { p90 = us($2) } /^ +99%/ { p99 = us($2) }
    /Non-2xx/ { bad = $NF }
    END { printf "%s %s %s %s %s %s %s\n", rps, p50, p90, p99, (bad == "" ? 0 : bad), ticks, total }' \
    "$TMP/$1.wrk" >>"$TMP/$1.rounds"
}

# Summary over rounds: mean req/s, median latencies, server CPU microseconds per request.
summarise() {  # name
  sort -n -k1 "$TMP/$1.rounds" | awk -v name="$1" -v hz="$(getconf CLK_TCK)" '
    { rps += $1; p50[NR] = $2; p90[NR] = $3; p99[NR] = $4; bad += $5; ticks += $6; total += $7 }
    END {
      m = int((NR + 1) / 2)
      printf "%s %.0f %d %d %d %d %.2f\n", name, rps / NR, p50[m], p90[m], p99[m], bad,
        ticks / hz * 1000000 / total
    }'
}

: >"$TMP/none.lua"
echo "$([ "$ROUTE" = quotes ] && echo "POST /v1/quotes (nginx: GET of the answer)" || echo "GET /v1/centers") ($BYTES bytes), TLS keep-alive, wrk -t$THREADS -c$CONNECTIONS -d$DURATION x $ROUNDS rounds each, alternating;"
echo "servers on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU; edwc io_threads=1, nginx 1 worker"
# Warm both (TLS sessions, caches), then alternate so that machine noise hits both alike.
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d2s -s "$TMP/edwc.lua" -H "Authorization: Bearer $TOKEN" "$API/v1/$ROUTE" >/dev/null
taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d2s "https://127.0.0.1:$NGINX_PORT/v1/$ROUTE" >/dev/null
r=0
while [ $r -lt "$ROUNDS" ]; do
  run_round edwc "$API" "$AGENT_PID"
  run_round nginx "https://127.0.0.1:$NGINX_PORT" "$NGINX_WORKER"
  r=$((r + 1))
done
E=$(summarise edwc)
N=$(summarise nginx)
printf '%-7s %10s %9s %9s %9s %8s %16s\n' server req/s p50_us p90_us p99_us non-2xx server_cpu_us/req
for line in "$E" "$N"; do
  # shellcheck disable=SC2086
  set -- $line
  printf '%-7s %10s %9s %9s %9s %8s %16s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7"
done
ER=$(echo "$E" | cut -d' ' -f2) NR_=$(echo "$N" | cut -d' ' -f2)
EC=$(echo "$E" | cut -d' ' -f7) NC=$(echo "$N" | cut -d' ' -f7)
awk -v e="$ER" -v n="$NR_" -v ec="$EC" -v nc="$NC" -v route="$ROUTE" -v bytes="$BYTES" 'BEGIN {
  printf "ratio edwc/nginx: %.2f requests/s; nginx/edwc server CPU per request: %.2f\n", e / n, nc / ec
  printf "RESULT bench=api route=%s bytes=%s edwc_rps=%s nginx_rps=%s ratio=%.3f edwc_cpu_us=%s nginx_cpu_us=%s cpu_ratio=%.3f\n",
    route, bytes, e, n, e / n, ec, nc, nc / ec }'
