#!/usr/bin/env bash
# MLServer backend benchmark (release build): consume of a trivial Swift-handler service on one
# `mldeploy serve`, through our MLServer backend beside the Python SDK's `service.consume` in a loop
# (sequential) and beside wrk on the same request (16-way concurrent), in one run.
#   Benchmarks/run-mlserver-backend-benchmark.sh [--requests N] [--sdk-calls N] [--rounds R] [--concurrency C] [--wrk-seconds S]
# The Python SDK comes from .venv-sdk, which scripts/bootstrap.sh creates.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../scripts/bootstrap.sh"
command -v wrk >/dev/null || { sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo; $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq wrk; }
swift build -c release --package-path "$here" --product MLServerBackendBenchmark >/dev/null
"$here/.build/release/MLServerBackendBenchmark" --sdk-python "$here/../.venv-sdk/bin/python" --sdk-script "$here/Resources/sdk_consume_loop.py" "$@"
