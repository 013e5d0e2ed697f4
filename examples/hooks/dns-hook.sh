#!/bin/sh
# Skeleton of an exec DNS hook for certkeeper. Data arrives only in the environment.
set -eu
# The API token, from the file the config names (a systemd credential): never an argument.
token=$(cat "${DNS_API_TOKEN_FILE:?}")
case "$CERTKEEPER_ACTION" in
  present)
    # Add one TXT value, keeping any existing ones, e.g.:
    # curl -fsS -H "Authorization: Bearer $token" -d "name=$CERTKEEPER_FQDN" -d "value=$CERTKEEPER_VALUE" https://dns.example.net/api/txt
    echo "would add TXT $CERTKEEPER_FQDN = $CERTKEEPER_VALUE" >&2
    ;;
  cleanup)
    # Remove exactly this value, leaving others.
    echo "would remove TXT $CERTKEEPER_FQDN = $CERTKEEPER_VALUE" >&2
    ;;
  *)
    echo "unknown action $CERTKEEPER_ACTION" >&2
    exit 2
    ;;
esac
