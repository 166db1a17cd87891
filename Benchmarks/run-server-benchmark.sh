#!/usr/bin/env bash
# Server benchmark (release build): consume on `mldeploy serve` (a trivial Python service and a Swift
# handler) beside Seldon MLServer serving an equivalent trivial custom Python model, with wrk, in one
# run.   Benchmarks/run-server-benchmark.sh [--seconds S] [--connections C]
# Installs MLServer (pip `mlserver`, pinned with a uvloop its parallel workers start with: uvloop
# 0.22 and later refuse asyncio.get_event_loop() without a running loop, which MLServer 1.7's
# workers call) into Benchmarks/.venv-mlserver on first use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../scripts/bootstrap.sh"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
venv="$here/.venv-mlserver"
if ! "$venv/bin/mlserver" --version >/dev/null 2>&1 || ! "$venv/bin/python" -c 'import uvloop, sys; sys.exit(uvloop.__version__ != "0.21.0")'; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "mlserver==1.7.1" "uvloop==0.21.0"
fi
swift build -c release --package-path "$here" --product ServerBenchmark >/dev/null
"$here/.build/release/ServerBenchmark" --mlserver "$venv/bin/mlserver" "$@"
