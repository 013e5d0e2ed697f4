#!/usr/bin/env bash
# An incident's mass renewal: N one-name certificates, all due, one `renew --force --yes`, against
# the Route53 stand-in (30 s INSYNC, 5 requests/s) and RFC 2136 on BIND (issue 18).
#   bench/incident.sh N [--only route53|rfc2136] [--insync MS] [--rate R] [--in-flight M]
# Build first: npm run build
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bench/lib/incident.mjs "$@"
