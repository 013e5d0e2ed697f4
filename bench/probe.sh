#!/usr/bin/env bash
# `certkeeper probe` against N loopback TLS endpoints (plus a few that accept and never answer):
# wall time of the whole command, as an operator runs it.
#   bench/probe.sh [N=1000] [SILENT=10] [CONCURRENCY=100]      (build first: npm run build)
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bench/lib/probe.mjs "$@"
