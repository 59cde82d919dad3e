#!/usr/bin/env bash
# One node against two nodes and Redis, on PostgreSQL, under the same load: N sockets
# subscribed to one customer, RATE writes a second for SECS seconds (loadgen), the
# servers on CPU0 and the generator on CPU1. With two nodes the sockets are on one and
# the writes on the other, so every event crosses Redis. Prints loadgen's JSON line for
# each: publish-to-receipt latency (lat_ms p50/p99), loss, deliveries a second.
#
# Starts a throwaway PostgreSQL and redis-server on free ports of 127.0.0.1 (data in a
# temporary folder) and stops them. Needs the release build (`cargo leptos build
# --release --split`) and loadgen (`cargo build --release -p server --bin loadgen`).
# Usage: N=1000 RATE=50 SECS=10 bash server/bench/nodes.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-500}; RATE=${RATE:-20}; SECS=${SECS:-15}
work=$(mktemp -d /tmp/tandem-bench.XXXXXX)
pids=()
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  as_postgres "$PGBIN/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PGPORT=$(free_port); RPORT=$(free_port)
mkdir -p "$work/pg"; [ "$(id -u)" -eq 0 ] && chown postgres "$work" "$work/pg"
as_postgres "$PGBIN/initdb" -D "$work/pg/data" -A trust -U postgres >/dev/null
as_postgres "$PGBIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-p $PGPORT -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --logfile "$work/redis.log" --dir "$work"
PG="postgres://postgres@127.0.0.1:$PGPORT"
psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c "CREATE DATABASE one" -c "CREATE DATABASE two"
flags=(--max-sockets-per-user 20000 --max-sockets-per-ip 20000 --writes-per-user-per-second 100000
  --connects-per-user-per-minute 1000000 --calls-per-user-per-second 100000 --no-reminders)
ulimit -n 8192
export LEPTOS_SITE_ROOT=target/site LEPTOS_OUTPUT_NAME=tandem RUST_LOG=warn
wait_up() { for _ in $(seq 150); do curl -sf -m 1 "http://$1/healthz" >/dev/null && return; sleep 0.2; done; echo "$1 did not come up" >&2; exit 1; }
node() { taskset -c 0 target/release/tandem serve --listen "$1" --database-url "$2" "${@:3}" "${flags[@]}" 2>>"$work/nodes.log" & pids+=($!); }

A=127.0.0.1:$(free_port); B=127.0.0.1:$(free_port); C=127.0.0.1:$(free_port)
node "$A" "$PG/one"
wait_up "$A"
echo "1 node:"
taskset -c 1 target/release/loadgen --url "http://$A" --n "$N" --rate "$RATE" --secs "$SECS" --lanes 1 --sample 5
node "$B" "$PG/two" --redis-url "redis://127.0.0.1:$RPORT/"
node "$C" "$PG/two" --redis-url "redis://127.0.0.1:$RPORT/"
wait_up "$B"; wait_up "$C"
echo "2 nodes + Redis (sockets on one, writes on the other):"
taskset -c 1 target/release/loadgen --url "http://$C" --write-url "http://$B" --n "$N" --rate "$RATE" --secs "$SECS" --lanes 1 --sample 5
