#!/usr/bin/env bash
# The inline threshold by measurement, one node per threshold, one sitting: for each
# INLINE_MAX in THRESHOLDS, a fresh cairnd with `--inline-max`, then PUT and GET of
# objects of every size in SIZES (CONNS connections, COUNT operations, RUNS runs each,
# the median kept), and the metadata bytes per object once the PUTs are in (the sled
# directory over the objects written). Prints a Markdown table of ops/s.
#
# Usage: scripts/bench-inline.sh [BIN_DIR]   (holding cairnd and cairn; default
#        target/release, built if missing)
#        env: THRESHOLDS="4096 16384 32768 65536" SIZES="4KiB 8KiB 16KiB 32KiB 64KiB"
#             CONNS=32 COUNT=4000 RUNS=3
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd curl curl
# shellcheck source=scripts/lib/bins.sh
. "$ROOT/scripts/lib/bins.sh"
release_bins "${1:-}"
THRESHOLDS="${THRESHOLDS:-4096 16384 32768 65536}"
SIZES="${SIZES:-4KiB 8KiB 16KiB 32KiB 64KiB}"
CONNS="${CONNS:-32}"
COUNT="${COUNT:-4000}"
RUNS="${RUNS:-3}"
PORT=9702
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-inline.XXXXXX")"
PID=""
cleanup() {
    [[ -n "$PID" ]] && kill "$PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=benchadmin AWS_SECRET_ACCESS_KEY=benchadmin-secret-key-0123
export CAIRN_ROOT_ACCESS_KEY="$AWS_ACCESS_KEY_ID" CAIRN_ROOT_SECRET_KEY="$AWS_SECRET_ACCESS_KEY"
EP="http://127.0.0.1:$PORT"
OUT="$WORK/runs.jsonl"
for t in $THRESHOLDS; do
    rm -rf "$WORK/data"
    "$BIN/cairnd" --data "$WORK/data" --s3-listen "127.0.0.1:$PORT" --node-listen "127.0.0.1:$((PORT + 1))" \
        --inline-max "$t" >"$WORK/cairnd.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do curl -fs -o /dev/null "$EP/health/ready" && break; sleep 0.1; done
    for size in $SIZES; do
        for run in $(seq "$RUNS"); do
            for op in put get; do
                "$BIN/cairn" bench --endpoint "$EP" --json --op "$op" --size "$size" --concurrency "$CONNS" \
                    --count "$COUNT" --bucket "b-$run" --keep |
                    python3 -c 'import json,sys; r=json.load(sys.stdin); r["t"]=sys.argv[1]; r["size"]=sys.argv[2]; r["op"]=sys.argv[3]; print(json.dumps(r))' \
                        "$t" "$size" "$op" >>"$OUT"
            done
        done
    done
    # Metadata bytes per object kept (every PUT and the GETs' seeds are kept).
    objects=$(python3 -c 'import json,sys; print(sum(x["ops"] for l in open(sys.argv[1]) for r in [json.loads(l)] if r["t"]==sys.argv[2] and r["op"]=="put" for x in r["results"] if x["op"]=="put"))' "$OUT" "$t")
    meta=$(du -sb "$WORK/data/meta"* 2>/dev/null | awk '{s+=$1} END {print s}')
    echo "{\"t\": \"$t\", \"meta_bytes\": ${meta:-0}, \"objects\": $objects}" >>"$WORK/meta.jsonl"
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
done
python3 - "$OUT" "$WORK/meta.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
meta = {m["t"]: m for m in (json.loads(l) for l in open(sys.argv[2]) if l.strip())}
ts = sorted({r["t"] for r in runs}, key=int)
sizes = list(dict.fromkeys(r["size"] for r in runs))
def med(t, size, op):
    v = [x["ops_per_s"] for r in runs if (r["t"], r["size"], r["op"]) == (t, size, op) for x in r["results"] if x["op"] == op]
    assert all(x["errors"] == 0 for r in runs for x in r["results"]), "a run had errors"
    return statistics.median(v) if v else 0
print("| object | " + " | ".join(f"PUT ops/s, inline ≤ {int(t) // 1024} KiB" for t in ts) + " | " + " | ".join(f"GET ops/s, inline ≤ {int(t) // 1024} KiB" for t in ts) + " |")
print("|---" * (1 + 2 * len(ts)) + "|")
for s in sizes:
    print(f"| {s} | " + " | ".join(f"{med(t, s, 'put'):,.0f}" for t in ts) + " | " + " | ".join(f"{med(t, s, 'get'):,.0f}" for t in ts) + " |")
print()
print("| inline ≤ | metadata bytes per object kept |")
print("|---|---|")
for t in ts:
    m = meta[t]
    print(f"| {int(t) // 1024} KiB | {m['meta_bytes'] / max(m['objects'], 1):,.0f} |")
PY
