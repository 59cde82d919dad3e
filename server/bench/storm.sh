#!/usr/bin/env bash
# The disconnect storm for as long as you like (default 5 minutes): 100 clients
# subscribed to a workspace and 20 customers drop their sockets at random (clean
# closes, TCP resets, resets mid-frame; on average every 10 s) and resume while 10
# writers write; the test fails unless every client ends with every event of its rooms
# once, in order, and the database's data. CI runs the same test for 30 s.
#
#   server/bench/storm.sh [SECONDS]                # SQLite
#   TEST_DATABASE_URL=postgres://... server/bench/storm.sh [SECONDS]
#
# Prints one line of figures (writes, events applied, drops by kind).
set -euo pipefail
cd "$(dirname "$0")/../.."
export TANDEM_STORM_SECS="${1:-300}"
exec cargo test -p server --test api storm:: -- --nocapture --test-threads 1
