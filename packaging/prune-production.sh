#!/bin/sh
# Drops from a production node_modules (npm ci --omit=dev) what certkeeper never loads at run time:
#   - axios, follow-redirects and proxy-from-env: acme-client loads axios at start-up, but certkeeper
#     routes every ACME request through its own transport (src/acme/transport.ts), so axios is
#     replaced by packaging/axios-unused, which loads and throws if anything ever calls it;
#   - TypeScript declarations and source maps (*.d.ts, *.map) and @types/*: never read by node.
# Usage: packaging/prune-production.sh APP_DIR   (APP_DIR holds node_modules/ and packaging/)
set -eu
app=${1:?usage: prune-production.sh APP_DIR}
modules="$app/node_modules"
[ -d "$modules/acme-client" ] || { echo "prune-production: no $modules/acme-client: run npm ci --omit=dev first" >&2; exit 1; }
# follow-redirects and proxy-from-env go only if nothing but axios needs them.
for dep in follow-redirects proxy-from-env; do
  users=$(grep -l "\"$dep\"" "$modules"/*/package.json "$modules"/@*/*/package.json 2>/dev/null | grep -v -e "/$dep/package.json" -e '/axios/package.json' || true)
  [ -z "$users" ] && rm -rf "${modules:?}/$dep"
done
rm -rf "$modules/axios" "$modules/@types"
cp -R "$app/packaging/axios-unused" "$modules/axios"
find "$modules" -type f \( -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' -o -name '*.map' \) -delete
