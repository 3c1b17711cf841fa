#!/usr/bin/env bash
# schemathesis (from PyPI) against a real `parley serve`: every operation of
# /api/v1/openapi.json, authenticated once as an admin and once as a plain
# user, with schemathesis's default checks except positive_data_acceptance
# (see docs/operations.md, "The API contract under fuzzing": rules beyond
# a schema, like "you cannot block yourself", refuse schema-valid data by
# design). Any failure fails CI.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/parley/target}"
BIN="${PARLEY_BIN:-$CARGO_TARGET_DIR/debug/parley}"
VENV="${SCHEMATHESIS_VENV:-$HOME/.cache/parley/schemathesis-venv}"
VERSION=4.32.5
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "schemathesis==$VERSION"
fi
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
# The admin, made the way an operator would.
printf 'schemathesis admin password\n' | "$BIN" admin create-user --username st_admin --password-stdin --role admin --data-dir "$WORK/data" >/dev/null
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --rate-limits off --access-token-ttl 7200 >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
token() {
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
ADMIN=$(curl -fs -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"username":"st_admin","password":"schemathesis admin password"}' | token)
USER=$(curl -fs -X POST "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"username":"st_user","password":"schemathesis user password"}' | token)
status=0
for who in ADMIN USER; do
    echo "== schemathesis as $who"
    (cd "$WORK" && "$VENV/bin/schemathesis" run "$BASE/api/v1/openapi.json" \
        -H "Authorization: Bearer ${!who}" --no-color \
        --phases examples,coverage,fuzzing -n "${SCHEMATHESIS_EXAMPLES:-50}" \
        --seed "${SCHEMATHESIS_SEED:-20261202}" \
        --exclude-checks positive_data_acceptance) || status=1
done
if ! kill -0 $PID 2>/dev/null; then
    echo "the server died under fuzzing:"; tail -50 "$WORK/server.log"; exit 1
fi
exit $status
