#!/usr/bin/env bash
# Versioned against unversioned, one node, one sitting: 4 KiB and 1 MiB PUTs that
# overwrite keys which each carry 10 noncurrent versions (in the versioned bucket; the
# unversioned bucket sees the same writes and keeps none), and ListObjectsV2 over
# 10,000 keys each with 10 noncurrent versions. Listing scans current versions only,
# so it must not slow down with the history. Each cell is the median of RUNS runs.
#
# Usage: scripts/bench-versions.sh [BIN_DIR]   (holding cairnd and cairn; default
#        target/release)   env: RUNS=3, SECONDS_PER_RUN=8, HISTORY=10 (noncurrent
#        versions each key has before the timed runs; 0 compares the write paths alone)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd curl curl
need_cmd python3 python3
# shellcheck source=scripts/lib/bins.sh
. "$ROOT/scripts/lib/bins.sh"
release_bins "${1:-}"
RUNS="${RUNS:-3}"
SECS="${SECONDS_PER_RUN:-8}"
HIST="${HISTORY:-10}"
# shellcheck source=scripts/lib/bench.sh
. "$ROOT/scripts/lib/bench.sh"
bench_start bench-versions 9690
run() { bench_run "$@"; }
for r in $(seq "$RUNS"); do
    for side in unversioned versioned; do
        flag=(); [[ "$side" == versioned ]] && flag=(--versioned)
        echo "bench-versions: run $r/$RUNS, $side" >&2
        run "PUT 4 KiB x16 (1000 keys, $HIST old versions each)" "$side" --op put --size 4KiB --concurrency 16 \
            --duration "$SECS" --objects 1000 --history "$HIST" --bucket "$side-put4k-$r" "${flag[@]}"
        run "PUT 1 MiB x16 (32 keys, $HIST old versions each)" "$side" --op put --size 1MiB --concurrency 16 \
            --duration "$SECS" --objects 32 --history "$HIST" --bucket "$side-put1m-$r" "${flag[@]}"
        run "LIST 10k keys ($HIST old versions each)" "$side" --op list --size 1KiB --objects 10000 --history "$HIST" \
            --concurrency 1 --duration "$SECS" --bucket "$side-list-$r" "${flag[@]}"
    done
done
bench_table unversioned versioned unversioned versioned
