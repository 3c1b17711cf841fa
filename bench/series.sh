#!/bin/bash
# Runs every workload of performance.md once, as recorded in bench/results/:
#   bench/series.sh OUTDIR
# Builds the server and the load generator first, in two commands so that
# the server is the binary a user gets: one command would unify features,
# and the bench's (aws-lc-rs, parley-media's fixtures) would reach the
# server (W7 measured 33.0 MB instead of 30.3 MB that way).
# Needs PostgreSQL (createdb, 127.0.0.1:5432, user postgres) and Redis
# (127.0.0.1:6379) for the last two runs; each run writes OUTDIR/NAME.txt
# (the table, the JSON line and the exit status) and the exact command to
# OUTDIR/commands.txt.
set -u
B=${CARGO_TARGET_DIR:-target}/release
OUT=${1:?usage: bench/series.sh OUTDIR}
mkdir -p "$OUT"
cargo build --release --locked -p parley-server || exit 1
cargo build --release --locked -p parley-bench || exit 1
run() {
  local name=$1
  shift
  echo "parley-bench $*" | sed "s#$B/##g" >>"$OUT/commands.txt"
  echo "[$(date +%T)] $name"
  "$B/parley-bench" "$@" >"$OUT/$name.txt" 2>&1
  echo "exit $?" >>"$OUT/$name.txt"
}
run w7 w7-footprint --binary "$B/parley"
run ceiling-sqlite ceiling-sqlite --seconds 10 --batch 64
run w3 w3-throughput --server-bin "$B/parley" --senders 16 --outstanding 4 --seconds 20
run synapse peer-synapse-shape --server-bin "$B/parley"
run synapse-pinned peer-synapse-shape --server-bin "$B/parley" --server-cpus 0
run w1 w1-idle --server-bin "$B/parley" --connections 17500 --hold-seconds 30
run w4 w4-group --server-bin "$B/parley" --members 9000 --messages 10
run w2-2000 w2-mix --server-bin "$B/parley" --users 9000 --rate 2000 --seconds 30
run w2-3000 w2-mix --server-bin "$B/parley" --users 9000 --rate 3000 --seconds 30 --no-ceiling
run w5 w5-reconnect --server-bin "$B/parley" --clients 9000 --behind 50 --window-seconds 10

# PostgreSQL: W3 on one process, then W6: two processes sharing PostgreSQL
# and Redis, each pinned to its own core.
db=bench_$(date +%s)
createdb -h 127.0.0.1 -U postgres "$db"
createdb -h 127.0.0.1 -U postgres "${db}_w6"
run w3-pg w3-throughput --server-bin "$B/parley" \
  --server-arg=--database-url=postgres://postgres@127.0.0.1/"$db" \
  --senders 16 --outstanding 4 --seconds 10 --no-ceiling
secret=$(head -c 24 /dev/urandom | base64)
pids=()
for p in 18501:0 18502:1; do
  port=${p%:*}
  data=$(mktemp -d)
  # Every simulated client comes from 127.0.0.1: lift the per-address and
  # per-user connection caps meant for the open internet.
  PARLEY_MAX_CONNECTIONS_PER_IP=10000000 PARLEY_MAX_CONNECTIONS_PER_USER=10000000 \
  taskset -c "${p#*:}" "$B/parley" serve --listen 127.0.0.1:"$port" --data-dir "$data" \
    --database-url postgres://postgres@127.0.0.1:5432/"${db}_w6" \
    --redis-url redis://127.0.0.1:6379 --redis-prefix "${db}_w6" \
    --jwt-secret "$secret" --rate-limits off >"$OUT/w6-server-$port.log" 2>&1 &
  pids+=($!)
done
sleep 3
run w6 w6-cluster --a http://127.0.0.1:18501 --b http://127.0.0.1:18502 \
  --pids "${pids[0]},${pids[1]}" --n 1000 --senders 16 --outstanding 4 --seconds 10
kill "${pids[@]}"
wait
echo "[$(date +%T)] done"
