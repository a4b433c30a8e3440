#!/usr/bin/env bash
# Quotas against none, one node, one sitting: 4 KiB and 1 MiB PUTs into a bucket with
# a byte quota, by a key with its own quota, in the third level of a tenant chain
# with a quota at every level (every write is checked against five pools in apply),
# against the same PUTs into a bucket of the root key (no tenant, no quota). The
# limits are far above what a run writes: this measures the check, not refusals.
# Each cell is the median of RUNS runs, the two sides alternating.
#
# Usage: scripts/bench-quotas.sh [BIN_DIR]   (holding cairnd and cairn; default
#        target/release, built if missing)   env: RUNS=3, SECONDS_PER_RUN=8
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
# shellcheck source=scripts/lib/bench.sh
. "$ROOT/scripts/lib/bench.sh"
bench_start bench-quotas 9692
cairn() { "$BIN/cairn" --endpoint "$EP" "$@"; }
cairn tenant create Studio --id studio --quota-bytes 10TiB --quota-objects 100000000 >/dev/null
cairn tenant create Prod --id prod --parent studio --quota-bytes 5TiB --quota-objects 50000000 >/dev/null
cairn tenant create Dept --id dept --parent prod --quota-bytes 1TiB --quota-objects 10000000 >/dev/null
KEY_JSON="$(cairn key create --tenant dept --name bench-editor --quota-bytes 500GiB --json)"
read -r TENANT_KEY TENANT_SECRET < <(python3 -c \
    'import json,sys; k=json.loads(sys.argv[1]); print(k["access_key_id"], k["secret_access_key"])' "$KEY_JSON")
run() { # label side bucket args...
    local label="$1" side="$2" bucket="$3"
    shift 3
    if [[ "$side" == quotas ]]; then
        AWS_ACCESS_KEY_ID="$TENANT_KEY" AWS_SECRET_ACCESS_KEY="$TENANT_SECRET" cairn bucket create "$bucket" >/dev/null
        cairn bucket quota "$bucket" --bytes 200GiB --objects 5000000 >/dev/null
        AWS_ACCESS_KEY_ID="$TENANT_KEY" AWS_SECRET_ACCESS_KEY="$TENANT_SECRET" bench_run "$label" "$side" --bucket "$bucket" "$@"
    else
        bench_run "$label" "$side" --bucket "$bucket" "$@"
    fi
}
for r in $(seq "$RUNS"); do
    for side in none quotas; do
        echo "bench-quotas: run $r/$RUNS, $side" >&2
        run "PUT 4 KiB x16" "$side" "$side-put4k-$r" --op put --size 4KiB --concurrency 16 --duration "$SECS" --objects 1000
        run "PUT 1 MiB x16" "$side" "$side-put1m-$r" --op put --size 1MiB --concurrency 16 --duration "$SECS" --objects 32
    done
done
# (Nothing was refused: bench_table fails on any run with errors.)
bench_table none quotas "no quotas" "quotas (bucket, key, 3 tenants)"
