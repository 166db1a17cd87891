#!/usr/bin/env bash
# Plugin benchmark (release build): the memory backend in-process and behind the plugin boundary,
# side by side — a Swift handler's consume, getService, and a Python service's consume.
#   Benchmarks/run-plugin-benchmark.sh [--rounds 5] [--calls 5000]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
swift build -c release --package-path "$here" --product mldeploy-backend-bench >/dev/null
swift build -c release --package-path "$here" --product PluginBenchmark >/dev/null
"$here/.build/release/PluginBenchmark" "$@"
