#!/usr/bin/env bash
# 10,000 stored certificates: `certkeeper status --json`, `renew` with none due, the daemon's idle
# RSS; on PostgreSQL also `history NAME` over 100,000 entries.
#   [FLEET_STATE=file|postgres] [FLEET_RUNS=3] [FLEET_HISTORY=100000] bench/fleet.sh [COUNT=10000] [IDLE_SECONDS=20]
#   FLEET_STATE=kubernetes bench/fleet.sh [COUNT=1000] [IDLE_SECONDS=60]: on the API stand-in,
#   status time and API calls, and API calls per idle minute (bench/lib/fleet-kubernetes.mjs)
#   (build first: npm run build; postgres needs initdb/pg_ctl: apt-get install postgresql)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${FLEET_STATE:-}" = kubernetes ]; then exec node bench/lib/fleet-kubernetes.mjs "$@"; fi
exec node bench/lib/fleet.mjs "$@"
