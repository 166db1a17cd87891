#!/usr/bin/env bash
# Open Inference Protocol benchmark (release build), in one run with wrk, rounds interleaved:
#   ml-route   POST /api/lr/1 on mldeploy serve (ML Server's route), one row as a data frame
#   oip        POST /v2/models/lr/infer on mldeploy serve, one row as an FP32 [1, 4] tensor
#   mlserver   the same request to Seldon MLServer serving the same model (published there by the
#              oip backend: onnxruntime in an MLServer custom runtime)
#   json-1000  a 1,000-row frame as a JSON tensor on mldeploy serve's OIP route
#   bin-1000   the same frame as binary tensor data (Inference-Header-Content-Length)
# The model is scikit-learn's LogisticRegression on 4 features, exported with skl2onnx (no ZipMap).
# Reports requests per second (min / median / max) and the ratios the issue names.
#   Benchmarks/run-oip-benchmark.sh [--seconds S] [--rounds R] [--connections C] [--skip-build]
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
"$root/scripts/bootstrap.sh" >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
[ "$build" = 1 ] && swift build -c release --package-path "$root" --product mldeploy >/dev/null
mldeploy="$root/.build/release/mldeploy"
mlserver="$root/.venv-mlserver/bin/mlserver"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The model and the request bodies.
python3 - "$work" <<'PY'
import json, struct, sys
import numpy as np
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression
work = sys.argv[1]
rng = np.random.RandomState(7)
X = rng.randn(500, 4).astype(np.float32)
model = LogisticRegression().fit(X, (X[:, 0] + X[:, 1] > 0).astype(np.int64))
onnx = to_onnx(model, X[:1], options={id(model): {"zipmap": False}})
open(f"{work}/lr.onnx", "wb").write(onnx.SerializeToString())
row = [float(v) for v in X[0]]
json.dump({"inputData": {"a": [row[0]], "b": [row[1]], "c": [row[2]], "d": [row[3]]}}, open(f"{work}/ml-route.body", "w"))
json.dump({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": row}]}, open(f"{work}/oip.body", "w"))
rows = rng.randn(1000, 4).astype(np.float32)
json.dump({"inputs": [{"name": "X", "shape": [1000, 4], "datatype": "FP32", "data": [float(v) for v in rows.reshape(-1)]}]}, open(f"{work}/json-1000.body", "w"))
head = json.dumps({"inputs": [{"name": "X", "shape": [1000, 4], "datatype": "FP32", "parameters": {"binary_data_size": rows.nbytes}}]}).encode()
open(f"{work}/bin-1000.body", "wb").write(head + rows.astype("<f4").tobytes())
open(f"{work}/bin-1000.length", "w").write(str(len(head)))
PY

# mldeploy serve, with the model published.
serve_port=$(free_port)
MLDEPLOY_ADMIN_PASSWORD=Bench-Pass-1 MLDEPLOY_RUNTIME_ISOLATION=none "$mldeploy" serve --port "$serve_port" --data-dir "$work/data" >"$work/serve.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$serve_port/status" >/dev/null && break; sleep 0.1; done
token=$(curl -s -X POST "http://127.0.0.1:$serve_port/login" -H 'Content-Type: application/json' -d '{"username":"admin","password":"Bench-Pass-1"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s -X POST "http://127.0.0.1:$serve_port/realtime-services/lr/1" -H "Authorization: Bearer $token" -F "model=@$work/lr.onnx" >/dev/null

# Seldon MLServer, the same model published by the oip backend.
mls_port=$(free_port); mkdir -p "$work/repository"
echo "{\"http_port\": $mls_port, \"grpc_port\": $(free_port), \"metrics_port\": $(free_port), \"host\": \"127.0.0.1\", \"parallel_workers\": 0}" > "$work/repository/settings.json"
"$mlserver" start "$work/repository" >"$work/mlserver.log" 2>&1 & pids+=($!)
for _ in $(seq 1 300); do curl -s "http://127.0.0.1:$mls_port/v2/health/ready" >/dev/null && break; sleep 0.2; done
"$mldeploy" --target "oip+http://127.0.0.1:$mls_port?repository=$work/repository" deploy-realtime lr --version 1 --model "$work/lr.onnx" >/dev/null

cat > "$work/post.lua" <<'LUA'
local file = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_TYPE")
if os.getenv("BENCH_TOKEN") ~= "" then wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") end
if os.getenv("BENCH_LENGTH") ~= "" then wrk.headers["Inference-Header-Content-Length"] = os.getenv("BENCH_LENGTH") end
LUA

run() {  # mode seconds → req/s
    local mode=$1 secs=$2 url body type=application/json tok=$token length=""
    case "$mode" in
        ml-route) url="http://127.0.0.1:$serve_port/api/lr/1"; body="$work/ml-route.body" ;;
        oip) url="http://127.0.0.1:$serve_port/v2/models/lr/infer"; body="$work/oip.body" ;;
        mlserver) url="http://127.0.0.1:$mls_port/v2/models/lr/infer"; body="$work/oip.body"; tok="" ;;
        json-1000) url="http://127.0.0.1:$serve_port/v2/models/lr/infer"; body="$work/json-1000.body" ;;
        bin-1000) url="http://127.0.0.1:$serve_port/v2/models/lr/infer"; body="$work/bin-1000.body"; type=application/octet-stream; length=$(cat "$work/bin-1000.length") ;;
    esac
    BENCH_BODY=$body BENCH_TYPE=$type BENCH_TOKEN=$tok BENCH_LENGTH=$length wrk -t2 -c"$connections" -d"${secs}s" -s "$work/post.lua" "$url" | awk '/Requests\/sec/ {print $2}'
}

# Every answer checked once before timing: a benchmark of errors measures nothing.
check() { local status; status=$(curl -s -o /dev/null -w '%{http_code}' "$@"); [ "$status" = 200 ] || { echo "a request answered $status: $*" >&2; exit 1; }; }
check -X POST "http://127.0.0.1:$serve_port/api/lr/1" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary @"$work/ml-route.body"
check -X POST "http://127.0.0.1:$serve_port/v2/models/lr/infer" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary @"$work/oip.body"
check -X POST "http://127.0.0.1:$mls_port/v2/models/lr/infer" -H 'Content-Type: application/json' --data-binary @"$work/oip.body"
check -X POST "http://127.0.0.1:$serve_port/v2/models/lr/infer" -H "Authorization: Bearer $token" -H "Inference-Header-Content-Length: $(cat "$work/bin-1000.length")" --data-binary @"$work/bin-1000.body"

modes="ml-route oip mlserver json-1000 bin-1000"
declare -A rates
echo "OIP benchmark: wrk -t2 -c$connections for ${seconds}s per mode, $rounds rounds interleaved; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in $modes; do run "$mode" 2 >/dev/null; done  # warm up
for round in $(seq 1 "$rounds"); do
    order="$modes"; [ $((round % 2)) -eq 0 ] && order=$(echo "$modes" | tr ' ' '\n' | tac | tr '\n' ' ')
    for mode in $order; do
        rate=$(run "$mode" "$seconds")
        rates[$mode]="${rates[$mode]:-} $rate"
        echo "  round $round $mode: $rate req/s"
    done
done
python3 - "${rates[ml-route]}" "${rates[oip]}" "${rates[mlserver]}" "${rates[json-1000]}" "${rates[bin-1000]}" <<'PY'
import statistics, sys
names = ["ml-route", "oip", "mlserver", "json-1000", "bin-1000"]
values = {name: [float(x) for x in arg.split()] for name, arg in zip(names, sys.argv[1:6])}
median = {name: statistics.median(v) for name, v in values.items()}
for name in names:
    v = values[name]
    print(f"{name:10} {min(v):8.0f} / {median[name]:8.0f} / {max(v):8.0f} req/s (min / median / max)")
print(f"OIP / ML Server route (same model, one row): {median['oip'] / median['ml-route']:.2f}x (target >= 1x)")
print(f"mldeploy serve OIP / Seldon MLServer: {median['oip'] / median['mlserver']:.2f}x (target >= 3x)")
print(f"1,000 rows, binary / JSON tensors: {median['bin-1000'] / median['json-1000']:.2f}x")
PY
