#!/usr/bin/env bash
# Video annotations under load, one node, one sitting, timed as a client sees them
# (HTTP and SigV4 included): COUNT annotations through batched commits (1,000 per
# request, 4 in flight), SINGLES one per request (64 in flight), then 100 live
# subscribers (SSE) watching LIVE writes paced at RATE per second (the time from a
# write being sent to each subscriber holding its event: p50 and p99), then QUERIES
# frame-range queries (one second of frames) on the video holding COUNT + SINGLES
# annotations. Prints `cairn asset bench-annotations`'s report.
#
# Usage: scripts/bench-annotations.sh [BIN_DIR] [more bench-annotations flags]
#        (BIN_DIR holds cairnd and cairn; default target/release, built if missing)
#        env: COUNT=1000000 SINGLES=20000 LIVE=2000 RATE=200 QUERIES=200
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd curl curl
# shellcheck source=scripts/lib/bins.sh
. "$ROOT/scripts/lib/bins.sh"
release_bins "${1:-}"
[[ $# -gt 0 ]] && shift
# shellcheck source=scripts/lib/bench.sh
. "$ROOT/scripts/lib/bench.sh"
bench_start bench-annotations 9696
"$BIN/cairn" --endpoint "$EP" tenant create Bench --id bench >/dev/null
"$BIN/cairn" --endpoint "$EP" asset bench-annotations --tenant bench \
    --count "${COUNT:-1000000}" --singles "${SINGLES:-20000}" --live-writes "${LIVE:-2000}" \
    --live-rate "${RATE:-200}" --queries "${QUERIES:-200}" "$@"
