#!/usr/bin/env bash
# N fresh certificates through `certkeeper renew` in one process on a local Pebble + BIND.
#   bench/issue.sh N [--peers] [--peer-n M] [--no-floor] [--concurrency C]
# Build first: npm run build
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bench/lib/issue.mjs "$@"
