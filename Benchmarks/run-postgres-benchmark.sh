#!/usr/bin/env bash
# PostgreSQL backend benchmark (release build): get, list, deploy and delete at 10k and 100k service
# versions, beside the filesystem store holding the same versions, on a private PostgreSQL cluster
# (with-postgres.sh). Populating 100k versions takes about five minutes.
#   Benchmarks/run-postgres-benchmark.sh [--sizes 10000,100000] [--samples N]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
swift build -c release --package-path "$here" --product PostgresBenchmark >/dev/null
"$here/with-postgres.sh" bash -c '"$0/.build/release/PostgresBenchmark" --uri "$MLDEPLOY_BENCH_URI" "$@"' "$here" "$@"
