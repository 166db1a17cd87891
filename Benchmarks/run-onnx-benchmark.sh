#!/usr/bin/env bash
# ONNX realtime scoring benchmark (release build), issue 9: our ONNX engine beside onnxruntime's
# Python API on the same scikit-learn models and rows (1-row and 1,000-row batches), then realtime
# consume through `mldeploy serve` beside consume of a Python service running the same model, with
# wrk, in one run.
#   Benchmarks/run-onnx-benchmark.sh [--rounds R] [--seconds S] [--wrk-seconds S] [--warmup-seconds S]
#                                    [--connections C] [--only engine|consume]
# scikit-learn, skl2onnx, onnxruntime and onnx come from scripts/bootstrap.sh (system python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../scripts/bootstrap.sh"
command -v wrk >/dev/null || { sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo; $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk; }
swift build -c release --package-path "$here" --product ONNXBenchmark >/dev/null
"$here/.build/release/ONNXBenchmark" --python python3 --script "$here/Resources/onnx_models.py" "$@"
