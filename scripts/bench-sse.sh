#!/usr/bin/env bash
# SSE-S3 against unencrypted objects on one node (2+2 over 4 disk directories), one sitting:
# every load in LOADS is run unencrypted and with SSE-S3 (`cairn bench --sse AES256`, which
# seeds the objects a GET reads encrypted too), the two sides alternating in order from one
# round to the next so drift in the machine hits them alike. Prints the medians of RUNS
# rounds, the ratio SSE-S3 / unencrypted, and every run.
#
# Usage: scripts/bench-sse.sh [BIN_DIR]   (holding cairnd and cairn; default
#        $CARGO_TARGET_DIR/release, built if missing)
#        env: RUNS=3 SECONDS_PER_RUN=8 LOADS="1MiB:16:put,get 64MiB:4:put,get" (size:conns:ops)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd curl curl
need_cmd python3 python3
# shellcheck source=scripts/lib/bins.sh
. "$ROOT/scripts/lib/bins.sh"
release_bins "${1:-}"
# shellcheck source=scripts/lib/bench.sh
. "$ROOT/scripts/lib/bench.sh"
RUNS="${RUNS:-3}"
SECS="${SECONDS_PER_RUN:-8}"
LOADS="${LOADS:-1MiB:16:put,get 64MiB:4:put,get}"
bench_start bench-sse 9708 --master-key "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
for run in $(seq "$RUNS"); do
    sides="plain sse"
    [[ $((run % 2)) -eq 0 ]] && sides="sse plain"
    for load in $LOADS; do
        IFS=: read -r size conns ops <<<"$load"
        for op in ${ops//,/ }; do
            for side in $sides; do
                printf 'bench-sse: round %d/%d, %s %s x%s, %s\n' "$run" "$RUNS" "$op" "$size" "$conns" "$side" >&2
                extra=()
                [[ "$side" == sse ]] && extra=(--sse AES256)
                bench_run "${op^^} $size x$conns" "$side" --op "$op" --size "$size" --concurrency "$conns" \
                    --duration "$SECS" --count 10000000 --bucket "b-$side-$op-${size,,}" "${extra[@]}"
            done
        done
    done
done
bench_table plain sse "unencrypted" "SSE-S3"
