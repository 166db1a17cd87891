#!/usr/bin/env bash
# Filesystem store benchmark (release build): open, list, get, deploy (fsync'd) and delete at 1k, 10k
# and 100k service versions, beside the in-memory backend and a bare durable write.
#   Benchmarks/run-filestore-benchmark.sh [--sizes 1000,10000,100000] [--root DIR] [--samples N]
# The store is created under --root (default: the temporary directory), which should be on the disk
# you care about; populating 100k versions takes about a minute.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
swift build -c release --package-path "$here" --product FileStoreBenchmark >/dev/null
"$here/.build/release/FileStoreBenchmark" "$@"
