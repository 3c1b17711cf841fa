#!/usr/bin/env bash
# Starts an S3-compatible server for the tests: moto (from PyPI, in a venv)
# on a free 127.0.0.1 port. Sourced by .ci/run: exports
# PARLEY_TEST_S3_ENDPOINT and S3_PID (the caller stops it).
VENV="${MOTO_VENV:-$HOME/.cache/parley/moto-venv}"
MOTO_VERSION=5.2.5
if ! "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "moto[server]==$MOTO_VERSION"
fi
S3_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"${TMPDIR:-/tmp}/parley-moto-$S3_PORT.log" 2>&1 &
S3_PID=$!
export PARLEY_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
for _ in $(seq 1 100); do
    curl -fs "$PARLEY_TEST_S3_ENDPOINT/" >/dev/null 2>&1 && break
    sleep 0.2
done
# Under CI a missing S3 server fails the run here, not as skipped tests.
curl -fs "$PARLEY_TEST_S3_ENDPOINT/" >/dev/null
echo "S3 (moto $MOTO_VERSION) at $PARLEY_TEST_S3_ENDPOINT"
