#!/usr/bin/env bash
# ONNX realtime scoring benchmark (release build), issue 9: our ONNX engine beside onnxruntime's
# Python API on the same scikit-learn models and rows (1-row and 1,000-row batches), then realtime
# consume through `mldeploy serve` beside consume of a Python service running the same model, with
# wrk, in one run.
#   Benchmarks/run-onnx-benchmark.sh [--rounds R] [--seconds S] [--wrk-seconds S] [--warmup-seconds S]
#                                    [--connections C] [--only engine|consume] [--baseline-rev REV]
# --baseline-rev REV builds this benchmark as it was at commit REV (once; kept under
# Benchmarks/.build/baseline/) and loads that build's realtime services too in the batching section,
# in the same run: the throughput of an earlier build against this one's with batching on.
# scikit-learn, skl2onnx, onnxruntime and onnx come from scripts/bootstrap.sh (system python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../scripts/bootstrap.sh"
command -v wrk >/dev/null || { sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo; $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk; }
swift build -c release --package-path "$here" --product ONNXBenchmark >/dev/null
arguments=()
while [ $# -gt 0 ]; do
    case "$1" in
        --baseline-rev) revision="${2:?--baseline-rev needs a commit}"; shift 2 ;;
        *) arguments+=("$1"); shift ;;
    esac
done
if [ -n "${revision:-}" ]; then
    commit="$(git -C "$here/.." rev-parse --short "$revision^{commit}")"
    tree="$here/.build/baseline/$commit"
    baseline="$tree/Benchmarks/.build/release/ONNXBenchmark"
    if [ ! -x "$baseline" ]; then
        echo "Building the benchmark as of $commit (once) in $tree" >&2
        rm -rf "$tree" && mkdir -p "$tree"
        git -C "$here/.." archive "$commit" | tar -x -C "$tree"
        swift build -c release --package-path "$tree/Benchmarks" --product ONNXBenchmark >/dev/null
    fi
    arguments+=(--baseline "$baseline" --baseline-label "$commit")
fi
"$here/.build/release/ONNXBenchmark" --python python3 --script "$here/Resources/onnx_models.py" ${arguments[@]+"${arguments[@]}"}
