#!/usr/bin/env bash
# Checks a running QUIC connection-migration server from the outside, step by step:
# /healthz, /api/test and its X-Connection-ID header, real migrations through the lab
# (`deno task migrate`), and the migrated connections the API lists. Each step prints ✅ or ❌;
# the first failure stops the script with a non-zero exit code.
#
# Usage: scripts/test_migration.sh [URL [LAB_URL]]
#   URL         the server (default https://localhost:9443)
#   LAB_URL     its migration lab (default https://localhost:9444)
#   CURL_OPTS   options for curl (default -k); with `--cacert FILE` the migration check trusts
#               FILE too, e.g. CURL_OPTS="--cacert .data/certs/ca.pem"
#   MIGRATIONS  migrations to run through the lab (default 5)
# The migration check finds the admin token in QUIC_ADMIN_TOKEN or .data/admin-token (else the
# connection moves itself). Needs curl, jq, and deno (or npx, which fetches deno).
set -euo pipefail

URL="${1:-${URL:-https://localhost:9443}}"
LAB_URL="${2:-${LAB_URL:-https://localhost:9444}}"
CURL_OPTS="${CURL_OPTS--k}"
MIGRATIONS="${MIGRATIONS:-5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

ok() { printf '✅ %s\n' "$*"; }
fail() {
  printf '❌ %s\n' "$*" >&2
  exit 1
}

for tool in curl jq; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install $tool)"
done
ok "curl and jq are installed"

read -r -a curl_opts <<<"$CURL_OPTS"
# curl with the user's options; a failed request or an HTTP error status is a failure.
fetch() { curl -fsS --max-time 10 "${curl_opts[@]}" "$@"; }

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

health="$(fetch "$URL/healthz")" || fail "GET $URL/healthz failed (is the server running?)"
jq -e '.status == "ok"' <<<"$health" >/dev/null || fail "GET $URL/healthz answered: $health"
ok "GET /healthz: ok"

body="$(fetch -D "$workdir/headers" "$URL/api/test")" || fail "GET $URL/api/test failed"
summary="$(jq -er '"protocol \(.protocol), connection \(.connection_id), address \(.remote_addr)"' \
  <<<"$body")" || fail "GET $URL/api/test answered no connection record: $body"
ok "GET /api/test: $summary"

header="$(grep -i '^x-connection-id:' "$workdir/headers" | tr -d '\r')" ||
  fail "GET $URL/api/test: no X-Connection-ID header"
ok "X-Connection-ID header present (${header#*: })"

# The migration check trusts the CA curl was told to trust; deno task runs in the repository,
# so the path is made absolute.
migrate_args=(--url "$LAB_URL" --migrations "$MIGRATIONS")
for ((i = 0; i < ${#curl_opts[@]}; i++)); do
  ca=""
  case "${curl_opts[i]}" in
  --cacert) ca="${curl_opts[i + 1]:-}" ;;
  --cacert=*) ca="${curl_opts[i]#--cacert=}" ;;
  esac
  if [[ -n "$ca" ]]; then
    [[ -r "$ca" ]] || fail "--cacert $ca: file not readable"
    migrate_args+=(--ca "$(cd "$(dirname "$ca")" && pwd)/$(basename "$ca")")
  fi
done
if command -v deno >/dev/null; then
  deno_cmd=(deno)
elif command -v npx >/dev/null; then
  deno_cmd=(npx -y deno@2.9.6)
else
  fail "neither deno nor npx is installed: cannot run the migration check"
fi
"${deno_cmd[@]}" task --quiet --config "$ROOT/deno.json" migrate "${migrate_args[@]}" ||
  fail "migration check through $LAB_URL failed (exit $?; see above)"
ok "$MIGRATIONS migrations through $LAB_URL: all detected, no failed request"

listing="$(fetch "$URL/api/connections?migrated=true&limit=10")" ||
  fail "GET $URL/api/connections?migrated=true failed"
jq '[.connections | to_entries[] | {
  id: .key,
  protocol: .value.protocol,
  migration_count: .value.migration_count,
  last_event: (.value.migration_events | last
    | if . == null then null
      else "\(.old_addr) → \(.new_addr) (\(.kind), \(.outcome))" end)
}]' <<<"$listing" || fail "GET /api/connections?migrated=true answered: $listing"
count="$(jq '.connections | length' <<<"$listing")"
[[ "$count" -gt 0 ]] || fail "GET /api/connections?migrated=true lists no migrated connection"
ok "GET /api/connections?migrated=true: $count migrated connection(s)"
