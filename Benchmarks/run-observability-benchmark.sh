#!/usr/bin/env bash
# Observability overhead (release build): consume of a trivial Python service on `mldeploy serve`
# with wrk, the same server three ways in one run, rounds interleaved:
#   off      — server.metrics: off, no OTLP endpoint (no request metrics, no-op tracer)
#   metrics  — server.metrics: public (request and operation metrics into the Prometheus registry)
#   both     — metrics, and traces exported over OTLP/HTTP (always_on) to a local receiver
#              (nginx answering 200 to POST /v1/traces, so the receiver costs next to nothing)
# Reports requests per second (min/median/max over rounds) and the ratios metrics/off, both/off.
#   Benchmarks/run-observability-benchmark.sh [--seconds S] [--rounds R] [--connections C] [--skip-build]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/.."
seconds=5; rounds=3; connections=16; build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --skip-build) build=0; shift ;;
        *) echo "usage: $0 [--seconds S] [--rounds R] [--connections C] [--skip-build]" >&2; exit 64 ;;
    esac
done
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
[ "$build" = 1 ] && swift build -c release --package-path "$root" --product mldeploy >/dev/null
mldeploy="$root/.build/release/mldeploy"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The OTLP receiver: nginx accepting and discarding trace exports.
receiver_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1; daemon off; master_process off; pid $work/nginx/pid; error_log $work/nginx/error.log;
events {}
http { access_log off; client_body_temp_path $work/nginx; client_max_body_size 64m;
  server { listen 127.0.0.1:$receiver_port; location / { client_body_in_single_buffer on; return 200; } } }
CONF
# One process, its output in a file: nothing outlives the script holding a pipe open.
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" >"$work/nginx/out.log" 2>&1 & pids+=($!)

start_server() {  # mode port
    local mode=$1 port=$2 env=(MLDEPLOY_ADMIN_PASSWORD=Bench-Pass-1 MLDEPLOY_RUNTIME_ISOLATION=none)
    case "$mode" in
        off) env+=(MLDEPLOY_SERVER_METRICS=off) ;;
        metrics) env+=(MLDEPLOY_SERVER_METRICS=public) ;;
        both) env+=(MLDEPLOY_SERVER_METRICS=public OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$receiver_port OTEL_TRACES_SAMPLER=always_on OTEL_SERVICE_NAME=bench) ;;
    esac
    env "${env[@]}" "$mldeploy" serve --port "$port" --data-dir "$work/data-$mode" >"$work/$mode.log" 2>&1 & pids+=($!)
    for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$port/status" >/dev/null && return; sleep 0.1; done
    echo "server $mode did not start" >&2; cat "$work/$mode.log" >&2; exit 1
}

declare -A port token
base=18900
for mode in off metrics both; do
    port[$mode]=$((base++))
    start_server "$mode" "${port[$mode]}"
    token[$mode]=$(curl -s -X POST "http://127.0.0.1:${port[$mode]}/login" -H 'Content-Type: application/json' \
        -d '{"username":"admin","password":"Bench-Pass-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s -X POST "http://127.0.0.1:${port[$mode]}/services/trivial/1" -H "Authorization: Bearer ${token[$mode]}" -H 'Content-Type: application/json' \
        -d '{"code":"y = x * 2","runtimeType":"Python","inputParameterDefinitions":[{"name":"x","type":"numeric"}],"outputParameterDefinitions":[{"name":"y","type":"numeric"}]}' >/dev/null
done

cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"x": 21.0}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
LUA

declare -A rates
echo "Observability benchmark: wrk -t2 -c$connections for ${seconds}s per mode, $rounds rounds interleaved; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in off metrics both; do  # warm up: start workers, fill caches
    BENCH_TOKEN=${token[$mode]} wrk -t2 -c"$connections" -d2s -s "$work/post.lua" "http://127.0.0.1:${port[$mode]}/api/trivial/1" >/dev/null
done
for round in $(seq 1 "$rounds"); do
    order="off metrics both"; [ $((round % 2)) -eq 0 ] && order="both metrics off"
    for mode in $order; do
        rate=$(BENCH_TOKEN=${token[$mode]} wrk -t2 -c"$connections" -d"${seconds}s" -s "$work/post.lua" "http://127.0.0.1:${port[$mode]}/api/trivial/1" | awk '/Requests\/sec/ {print $2}')
        rates[$mode]="${rates[$mode]:-} $rate"
        echo "  round $round $mode: $rate req/s"
    done
done
python3 - "${rates[off]}" "${rates[metrics]}" "${rates[both]}" <<'PY'
import statistics, sys
off, metrics, both = ([float(x) for x in arg.split()] for arg in sys.argv[1:4])
def line(name, values): return f"{name:8} {min(values):8.0f} / {statistics.median(values):8.0f} / {max(values):8.0f} req/s (min / median / max)"
print(line("off", off)); print(line("metrics", metrics)); print(line("both", both))
print(f"metrics / off: {statistics.median(metrics) / statistics.median(off):.2f}x (target >= 0.95x)")
print(f"both / off:    {statistics.median(both) / statistics.median(off):.2f}x (target >= 0.85x)")
PY
