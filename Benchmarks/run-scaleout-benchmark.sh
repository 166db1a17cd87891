#!/usr/bin/env bash
# Scale-out benchmark (release build): consume through one `mldeploy serve` node over a filesystem
# store vs over PostgreSQL, and one vs two PostgreSQL nodes behind nginx, with wrk, on a private
# PostgreSQL cluster (with-postgres.sh).
#   Benchmarks/run-scaleout-benchmark.sh [--seconds S] [--connections C]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/../scripts/bootstrap.sh"
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
swift build -c release --package-path "$here" --product ScaleOutBenchmark >/dev/null
"$here/with-postgres.sh" bash -c '"$0/.build/release/ScaleOutBenchmark" --uri "$MLDEPLOY_BENCH_URI" "$@"' "$here" "$@"
