#!/usr/bin/env bash
# Python runtime benchmark (release build): per-call overhead against a plain Python loop,
# 2-worker vs 1-worker throughput, cold start.   Benchmarks/run-python-benchmark.sh [--calls N] [--rounds R]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../scripts/bootstrap.sh"
swift build -c release --package-path "$here" >/dev/null
"$here/.build/release/PythonBenchmark" "$@"
