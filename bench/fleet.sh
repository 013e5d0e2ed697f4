#!/usr/bin/env bash
# 10,000 stored certificates: `certkeeper status --json` wall time and the daemon's idle RSS.
#   bench/fleet.sh [COUNT=10000] [IDLE_SECONDS=20]      (build first: npm run build)
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bench/lib/fleet.mjs "$@"
