#!/usr/bin/env bash
# N due certificates for three `certkeeper run` agents sharing one PostgreSQL store, against one
# agent alone; local Pebble (behind a proxy counting the CA's orders) + BIND + PostgreSQL.
#   bench/multi-agent.sh [N=300] [AGENTS=3]
# Build first: npm run build
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bench/lib/multi-agent.mjs "$@"
