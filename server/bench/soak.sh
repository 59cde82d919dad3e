#!/usr/bin/env bash
# The soak: an hour (DURATION seconds) of mixed load on one release node on SQLite, with
# the process's resident memory, open file descriptors, threads, tokio tasks, sockets
# and database size sampled every minute. Memory and descriptors must stay flat: after
# the warm-up (WARMUP seconds, default 600) no sample may exceed the one taken at the
# end of the warm-up by more than 10 %; the script says PASS or FAIL and exits 1 on FAIL.
#
# Load, all on 127.0.0.1 and each part stopping by itself:
#   - 400 sockets following one customer, 10 writes a second to it (loadgen);
#   - 50 sockets in a chat channel, one message a second (loadgen --room chat);
#   - presence churn: 50 sockets that join a record's room for 20 s, leave, and come
#     back as a new user and workspace, over and over (loadgen in a loop).
#
# Needs the release builds: cargo build --release -p server --bin tandem --bin loadgen
# Usage: [DURATION=3600] [WARMUP=600] bash server/bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-3600}; WARMUP=${WARMUP:-600}; EVERY=${EVERY:-60}
work=$(mktemp -d /tmp/tandem-soak.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ADDR=127.0.0.1:$(free_port)
ulimit -n 8192
export LEPTOS_SITE_ROOT=target/site LEPTOS_OUTPUT_NAME=tandem RUST_LOG=warn
target/release/tandem serve --listen "$ADDR" --database-url "sqlite://$work/t.db" \
  --max-sockets-per-user 20000 --max-sockets-per-ip 20000 --writes-per-user-per-second 100000 \
  --signups-per-ip-per-minute 100000 --connects-per-user-per-minute 1000000 \
  --calls-per-user-per-second 100000 2>>"$work/server.log" &
SERVER=$!; pids+=($SERVER)
for _ in $(seq 150); do curl -sf -m 1 "http://$ADDR/healthz" >/dev/null && break; sleep 0.2; done
end=$(( $(date +%s) + DURATION ))
LG=(target/release/loadgen --url "http://$ADDR" --sample 10)
"${LG[@]}" --n 400 --rate 10 --secs "$DURATION" --lanes 1 >"$work/writes.json" 2>>"$work/load.log" & pids+=($!)
"${LG[@]}" --n 50 --room chat --rate 1 --secs "$DURATION" >"$work/chat.json" 2>>"$work/load.log" & pids+=($!)
( while [ "$(date +%s)" -lt $((end - 25)) ]; do
    "${LG[@]}" --n 50 --rate 1 --secs 20 >>"$work/churn.json" 2>>"$work/load.log" || true
  done ) & pids+=($!)

metric() { curl -sf -m 5 "http://$ADDR/metrics" | awk -v m="$1" '$1 == m { print int($2) }'; }
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' minute rss_kb fds threads tasks sockets db_kb | tee "$work/samples.tsv"
start=$(date +%s); minute=0
while [ "$(date +%s)" -lt "$end" ]; do
  sleep "$EVERY"; minute=$((minute + EVERY / 60))
  rss=$(awk '/^VmRSS/ { print $2 }' /proc/$SERVER/status)
  fds=$(ls /proc/$SERVER/fd | wc -l)
  threads=$(ls /proc/$SERVER/task | wc -l)
  db=$(du -sk "$work" --exclude='*.json' --exclude='*.log' | cut -f1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$minute" "$rss" "$fds" "$threads" \
    "$(metric tandem_tasks_alive)" "$(metric tandem_sockets_open)" "$db" | tee -a "$work/samples.tsv"
done
wait "${pids[1]}" "${pids[2]}" || true
echo "writes: $(tail -n 1 "$work/writes.json")"
echo "chat:   $(tail -n 1 "$work/chat.json")"
echo "churn runs: $(wc -l <"$work/churn.json")"
# Flat after the warm-up: every later sample within 10 % of the one at its end.
awk -v warm=$((WARMUP / 60)) -F'\t' '
  NR == 1 { next }
  $1 == warm { rss = $2; fds = $3 }
  $1 > warm && rss { if ($2 > rss * 1.1) bad = bad " rss@" $1; if ($3 > fds * 1.1) bad = bad " fds@" $1 }
  END {
    if (!rss) { print "FAIL: no sample at the end of the warm-up"; exit 1 }
    if (bad) { print "FAIL: above the warm-up sample by more than 10 %:" bad; exit 1 }
    print "PASS: resident memory and descriptors within 10 % of minute " warm " to the end"
  }' "$work/samples.tsv"
