#!/usr/bin/env bash
# `certkeeper renew` with 100 stored certificates and none due: wall time, peak RSS, modules loaded.
#   bench/coldstart.sh [COUNT=100] [RUNS=7]      (build first: npm run build)
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bench/lib/coldstart.mjs "$@"
