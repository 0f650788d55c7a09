#!/usr/bin/env bash
# Runs the Dodo documentation's code samples, through the official
# dodopayments SDK (sdk-e2e/test/*.test.mjs), against a freshly built
# `coffer serve`, and fails if any check fails.
#
#   bash sdk-e2e/run.sh                 build ./cmd/coffer, serve a temp bbolt db, run every script
#   bash sdk-e2e/run.sh customers       only test/*customers*.test.mjs (any name fragments)
#
# When COFFER_POSTGRES_DSN is set the whole run is repeated on PostgreSQL
# (a fresh schema sdke2e_<random>, dropped afterwards when psql is there).
#
# Environment:
#   COFFER_URL + COFFER_API_KEY   use that running server instead of starting one
#   SDK_E2E_SERVER=/path/coffer   start this prebuilt binary instead of building ./cmd/coffer
#   SDK_E2E_STORES="bolt postgres"  which stores to serve (default: bolt, plus postgres with a DSN)
#   SDK_E2E_KEEP=1                keep the temp dir (db, server log, TAP results) even on success
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

command -v node >/dev/null || { echo "sdk-e2e: node not found (Node >= 20 is needed)" >&2; exit 1; }
command -v go >/dev/null || export PATH="$PATH:/usr/local/go/bin"
if [ ! -f "$here/node_modules/dodopayments/package.json" ]; then
  echo "sdk-e2e: installing the pinned SDK (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund)
fi
sdk_version="$(node -p 'require(process.argv[1]).version' "$here/node_modules/dodopayments/package.json")"

files=()
if [ "$#" -gt 0 ]; then
  for f in "$@"; do for m in "$here"/test/*"$f"*.test.mjs; do [ -f "$m" ] && files+=("$m"); done; done
else
  files=("$here"/test/*.test.mjs)
fi
[ "${#files[@]}" -gt 0 ] || { echo "sdk-e2e: no test file matches: $*" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/coffer-sdk-e2e.XXXXXX")"
server_pid=""
pg_schema=""
status=1
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  drop_schema
  if [ "$status" = 0 ] && [ -z "${SDK_E2E_KEEP:-}" ]; then rm -rf "$tmp"; else echo "sdk-e2e: logs and results kept in $tmp"; fi
}
drop_schema() {
  if [ -n "$pg_schema" ] && command -v psql >/dev/null; then
    psql -q "$COFFER_POSTGRES_DSN" -c "DROP SCHEMA IF EXISTS $pg_schema CASCADE" >/dev/null 2>&1 || true
  fi
  pg_schema=""
}
trap cleanup EXIT

# stop_server sends SIGTERM and waits up to 15 s; sets server_exit.
server_exit=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then
    server_exit="still running 15 s after SIGTERM (killed)"
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  else
    local rc=0
    wait "$server_pid" 2>/dev/null || rc=$?
    server_exit="exit $rc after SIGTERM"
  fi
  server_pid=""
}

# start_server STORE OUTDIR: starts coffer serve on STORE (bolt|postgres), waits for /readyz.
bin=""
start_server() {
  local store="$1" out="$2" port
  if [ -z "$bin" ]; then
    bin="${SDK_E2E_SERVER:-}"
    if [ -z "$bin" ]; then
      [ -d "$root/cmd/coffer" ] || { echo "sdk-e2e: ./cmd/coffer does not exist in this checkout: nothing to serve the API" >&2; return 1; }
      echo "sdk-e2e: go build ./cmd/coffer"
      go build -o "$tmp/coffer" ./cmd/coffer
      bin="$tmp/coffer"
    fi
  fi
  port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  COFFER_API_KEY="sk_test_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  export COFFER_API_KEY
  export COFFER_URL="http://127.0.0.1:$port"
  local args=(serve -addr "127.0.0.1:$port" -webhooks-allow-private)
  if [ "$store" = postgres ]; then
    pg_schema="sdke2e_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    args+=(-postgres "$COFFER_POSTGRES_DSN" -postgres-schema "$pg_schema")
    echo "sdk-e2e: coffer serve -postgres <COFFER_POSTGRES_DSN> -postgres-schema $pg_schema -addr 127.0.0.1:$port -webhooks-allow-private"
  else
    args+=(-db "$out/coffer.db")
    echo "sdk-e2e: coffer serve -db $out/coffer.db -addr 127.0.0.1:$port -webhooks-allow-private"
  fi
  # DATABASE_URL would make serve pick PostgreSQL: the bbolt run must not inherit it.
  env -u DATABASE_URL "$bin" "${args[@]}" >"$out/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 240); do
    kill -0 "$server_pid" 2>/dev/null || break
    if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$COFFER_URL/readyz"; then return 0; fi
    sleep 0.25
  done
  echo "sdk-e2e: the server did not answer GET /readyz with 2xx within 60 s; its log:" >&2
  tail -n 40 "$out/server.log" >&2 || true
  return 1
}

# run_scripts OUTDIR: every selected script, one TAP file each; returns 1 if any failed.
run_scripts() {
  local out="$1" rc=0 f name
  for f in "${files[@]}"; do
    name="$(basename "$f" .test.mjs)"
    echo "== $name"
    (cd "$here" && node --test --test-concurrency=1 \
      --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$out/$name.tap" \
      "$f") || rc=1
  done
  return "$rc"
}

summary=""
overall=0
summarise() { # summarise LABEL OUTDIR
  summary+="$(printf '\n== sdk-e2e summary: dodopayments %s against %s\n' "$sdk_version" "$1")"$'\n'
  summary+="$(node - "$2"/*.tap <<'JS'
// One line per check, file by file, from the TAP files.
const fs = require('fs');
const path = require('path');
let pass = 0, fail = 0, skip = 0;
for (const tap of process.argv.slice(2)) {
  const file = path.basename(tap, '.tap');
  for (const l of fs.readFileSync(tap, 'utf8').split('\n')) {
    const m = l.match(/^(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO)\b.*)?$/);
    if (!m) continue;
    const tag = m[3] === 'SKIP' ? 'SKIP' : m[1] === 'ok' ? 'pass' : 'FAIL';
    if (tag === 'SKIP') skip++; else if (tag === 'pass') pass++; else fail++;
    console.log(`${tag.padEnd(4)}  ${file}: ${m[2]}`);
  }
}
console.log(`-- ${pass} passed, ${fail} failed, ${skip} skipped (a skipped check needs an earlier one that failed)`);
JS
)"$'\n'
}

if [ -n "${COFFER_URL:-}" ]; then
  [ -n "${COFFER_API_KEY:-}" ] || { echo "sdk-e2e: COFFER_URL is set but COFFER_API_KEY is not" >&2; exit 1; }
  echo "sdk-e2e: using the running server at $COFFER_URL"
  mkdir -p "$tmp/external"
  run_scripts "$tmp/external" || overall=1
  summarise "$COFFER_URL" "$tmp/external"
else
  stores="${SDK_E2E_STORES:-bolt${COFFER_POSTGRES_DSN:+ postgres}}"
  for store in $stores; do
    case "$store" in bolt|postgres) ;; *) echo "sdk-e2e: unknown store $store (bolt or postgres)" >&2; exit 1;; esac
    if [ "$store" = postgres ] && [ -z "${COFFER_POSTGRES_DSN:-}" ]; then echo "sdk-e2e: postgres needs COFFER_POSTGRES_DSN" >&2; exit 1; fi
    out="$tmp/$store"; mkdir -p "$out"
    echo "==== sdk-e2e on $store"
    if ! start_server "$store" "$out"; then overall=1; stop_server; summary+=$'\n'"== sdk-e2e on $store: the server did not start (log: $out/server.log)"$'\n'; continue; fi
    rc=0
    run_scripts "$out" || rc=1
    stop_server
    drop_schema
    summarise "coffer serve on $store" "$out"
    summary+="-- server: $server_exit"$'\n'
    if [ "$server_exit" != "exit 0 after SIGTERM" ]; then
      summary+="sdk-e2e: warning: coffer serve did not exit 0 on SIGTERM; last log lines:"$'\n'"$(tail -n 5 "$out/server.log")"$'\n'
    fi
    [ "$rc" = 0 ] || { overall=1; summary+="(server log: $out/server.log)"$'\n'; }
  done
fi

printf '%s' "$summary"
if [ "$overall" != 0 ]; then
  echo "sdk-e2e: FAILED"
  exit 1
fi
status=0
echo "sdk-e2e: all passed"
