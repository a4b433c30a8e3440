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
BIN="$(realpath "${1:-$ROOT/target/release}")"
RUNS="${RUNS:-3}"
SECS="${SECONDS_PER_RUN:-8}"
HIST="${HISTORY:-10}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-versions.XXXXXX")"
PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=benchadmin AWS_SECRET_ACCESS_KEY=benchadmin-secret-key-0123
export CAIRN_ROOT_ACCESS_KEY="$AWS_ACCESS_KEY_ID" CAIRN_ROOT_SECRET_KEY="$AWS_SECRET_ACCESS_KEY"
EP="http://127.0.0.1:9690"
"$BIN/cairnd" --data "$WORK/data" --s3-listen 127.0.0.1:9690 --node-listen 127.0.0.1:9691 >"$WORK/cairnd.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -fs -o /dev/null "$EP/health/ready" && break; sleep 0.1; done
OUT="$WORK/runs.jsonl"
run() { # label side args...
    local label="$1" side="$2"
    shift 2
    "$BIN/cairn" bench --endpoint "$EP" --json "$@" |
        python3 -c 'import json,sys; r=json.load(sys.stdin); r["label"]=sys.argv[1]; r["side"]=sys.argv[2]; print(json.dumps(r))' \
            "$label" "$side" >>"$OUT"
}
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
python3 - "$OUT" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cells = {}
for r in runs:
    op = r["label"].split()[0].lower()
    row = next(x for x in r["results"] if x["op"] == op)
    assert row["errors"] == 0, f"{r['label']} ({r['side']}): {row['errors']} errors"
    field, unit = ("keys_per_s", "keys/s") if op == "list" else (("mib_per_s", "MiB/s") if "MiB" in r["label"] else ("ops_per_s", "ops/s"))
    cells.setdefault(r["label"], {}).setdefault(r["side"], []).append(row[field])
    cells[r["label"]]["unit"] = unit
print("| workload | unversioned | versioned | versioned/unversioned | runs unversioned | runs versioned |")
print("|---|---|---|---|---|---|")
for label, c in cells.items():
    u, v = statistics.median(c["unversioned"]), statistics.median(c["versioned"])
    fmt = lambda xs: ", ".join(f"{x:,.0f}" for x in xs)
    print(f"| {label} | {u:,.0f} {c['unit']} | {v:,.0f} {c['unit']} | {v / u:.3f} | {fmt(c['unversioned'])} | {fmt(c['versioned'])} |")
PY
