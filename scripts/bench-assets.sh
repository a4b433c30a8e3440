#!/usr/bin/env bash
# The asset catalogue under load, one node, one sitting: COUNT registrations through
# batched commits (`POST /cairn/v1/assets/batch`, 1,000 per request, 4 in flight, each
# asset with one version pointing at a stored object), then, timed as a client sees
# them (HTTP and SigV4 included), READS each of: a page of 100 from a tenant +
# media-type listing (following cursors deep into the list), a batch get of 1,000
# random ids, and a stats read. Prints `cairn asset bench`'s report (registrations
# per second; median and p99 of each read in ms).
#
# Usage: scripts/bench-assets.sh [BIN_DIR]   (holding cairnd and cairn; default
#        target/release, built if missing)   env: COUNT=1000000, READS=50
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd curl curl
# shellcheck source=scripts/lib/bins.sh
. "$ROOT/scripts/lib/bins.sh"
release_bins "${1:-}"
[[ $# -gt 0 ]] && shift
COUNT="${COUNT:-1000000}"
READS="${READS:-50}"
# shellcheck source=scripts/lib/bench.sh
. "$ROOT/scripts/lib/bench.sh"
bench_start bench-assets 9694
"$BIN/cairn" --endpoint "$EP" tenant create Bench --id bench >/dev/null
"$BIN/cairn" --endpoint "$EP" asset bench --tenant bench --count "$COUNT" --reads "$READS" "$@"
