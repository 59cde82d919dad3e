#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 60) on its corpus in fuzz/corpus/<target>
# (new inputs that reach new code are added there; commit them), and prints libFuzzer's
# closing line for each: runs made, seconds taken. Fails on the first crash, leaving
# the input in fuzz/artifacts/<target>/.
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
#   RUNS=10000000 bash fuzz/run.sh 1800     # until 10 million runs, or 30 minutes
#
# Needs nightly (installed) and cargo-fuzz (installed here when missing). Not part of
# the test command: a cold build of the targets (the server crate with coverage
# instrumentation) and five runs would take the test command past an hour.
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-60}; shift || true
limit=(); [ -n "${RUNS:-}" ] && limit=(-runs="$RUNS")
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(client_frame room_name merge chat_markdown csv_import)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# No sanitizer: Rust checks memory itself; what is hunted is a panic (a failed assert
# or an unexpected unwrap), which libFuzzer reports as a crash either way.
cargo +nightly fuzz build --sanitizer none
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t"
  log=$(mktemp)
  if ! cargo +nightly fuzz run --sanitizer none "$t" "corpus/$t" -- \
      -max_total_time="$SECS" "${limit[@]}" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log"; echo "$t: CRASHED (input in fuzz/artifacts/$t/)"; exit 1
  fi
  runs=$(awk '/^stat::number_of_executed_units/ { print $2 }' "$log")
  took=$(awk '/^Done [0-9]+ runs in/ { print $5 }' "$log")
  echo "$t: $runs runs in ${took:-$SECS} s, no crash; corpus $(ls "corpus/$t" | wc -l) inputs"
  rm -f "$log"
done
