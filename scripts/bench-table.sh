#!/usr/bin/env bash
# The headline table, the rows of the storage-engine issue: PUT and GET of 4 KiB (32
# connections), 128 KiB (32), 1 MiB (16) and 64 MiB (4) objects and listing 10,000 keys,
# against one node on the default layout (release build, 2+2 over 4 disk directories),
# `cairn bench` on the same machine. Each cell is the median of RUNS runs taken in one
# sitting. CARGO_TARGET_DIR=DIR measures the binaries in DIR/release (an A/B in one
# sitting: run it twice, alternating).
#
# Usage: scripts/bench-table.sh   (env: RUNS=3, SECONDS_PER_RUN=10, PORT=9660,
#                                  CAIRN_ENDPOINT=... to measure a running server instead)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd curl curl
need_cmd python3 python3
RUNS="${RUNS:-3}"
SECS="${SECONDS_PER_RUN:-10}"
PORT="${PORT:-9660}"
# shellcheck source=scripts/lib/bins.sh
. "$ROOT/scripts/lib/bins.sh"
release_bins
unset AWS_CA_BUNDLE
PID=""
WORK=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null; [[ -n "$WORK" ]] && rm -rf "$WORK"; }
trap cleanup EXIT
if [[ -z "${CAIRN_ENDPOINT:-}" ]]; then
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-table.XXXXXX")"
    export AWS_ACCESS_KEY_ID=benchadmin AWS_SECRET_ACCESS_KEY=benchadmin-secret-key-0123
    export CAIRN_ROOT_ACCESS_KEY="$AWS_ACCESS_KEY_ID" CAIRN_ROOT_SECRET_KEY="$AWS_SECRET_ACCESS_KEY"
    export CAIRN_ENDPOINT="http://127.0.0.1:$PORT"
    "$BIN/cairnd" --data "$WORK/data" --s3-listen "127.0.0.1:$PORT" --node-listen "127.0.0.1:$((PORT + 1))" \
        >"$WORK/node.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do curl -fs -o /dev/null "$CAIRN_ENDPOINT/health/ready" && break; sleep 0.1; done
fi

rows=()
# size, connections
for cfg in "4KiB 32 put" "4KiB 32 get" "128KiB 32 put" "128KiB 32 get" "1MiB 16 put" "1MiB 16 get" \
    "64MiB 4 put" "64MiB 4 get" "1KiB 8 list"; do
    read -r size conc op <<<"$cfg"
    for r in $(seq "$RUNS"); do
        printf 'bench-table: %s %s run %d/%d\n' "$op" "$size" "$r" "$RUNS" >&2
        rows+=("$("$BIN/cairn" bench --op "$op" --size "$size" --concurrency "$conc" --duration "$SECS" \
            --count 10000000 --bucket "table-$op" --json)")
    done
done
printf '%s\n' "${rows[@]}" >"${TMPDIR:-/tmp}/cairn-bench-table-runs.jsonl"
python3 - "${TMPDIR:-/tmp}/cairn-bench-table-runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cells = {}
for r in runs:
    row = r["results"][0]
    cells.setdefault((r["size"], r["concurrency"], row["op"]), []).append(row)

def size(n):
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"

print("| object | conns | op | ops/s | MiB/s | keys/s | p50 ms | p99 ms | runs (ops/s) |")
print("|---|---|---|---|---|---|---|---|---|")
for (sz, conc, op), rows in cells.items():
    med = lambda k: statistics.median(x[k] for x in rows)
    each = "/".join(f"{x['ops_per_s']:.0f}" for x in rows)
    what = "10k keys" if op == "list" else size(sz)
    print(f"| {what} | {conc} | {op.upper()} | {med('ops_per_s'):,.0f} | {med('mib_per_s'):,.1f} "
          f"| {med('keys_per_s'):,.0f} | {med('p50_ms'):.2f} | {med('p99_ms'):.2f} | {each} |")
PY
