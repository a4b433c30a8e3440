#!/usr/bin/env bash
# A/B of two cairnd builds in one sitting, with one client: 4 KiB and 1 MiB PUT and
# GET, and listing 10,000 keys. Rounds alternate A B, B A, ... so that a change in the
# machine's load hits both; each cell is the median of RUNS runs. Both nodes run the
# default layout (2+2 over 4 disk directories) on loopback.
#
# Usage: scripts/bench-ab.sh A_BIN_DIR B_BIN_DIR   (dirs holding cairnd; the cairn
#        client is taken from B_BIN_DIR)   env: RUNS=3, SECONDS_PER_RUN=8, ONLY=put4k,...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd curl curl
need_cmd python3 python3
A="$(realpath "$1")"
B="$(realpath "$2")"
RUNS="${RUNS:-3}"
SECS="${SECONDS_PER_RUN:-8}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-ab.XXXXXX")"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=benchadmin AWS_SECRET_ACCESS_KEY=benchadmin-secret-key-0123
export CAIRN_ROOT_ACCESS_KEY="$AWS_ACCESS_KEY_ID" CAIRN_ROOT_SECRET_KEY="$AWS_SECRET_ACCESS_KEY"
declare -A EP=([A]="http://127.0.0.1:9670" [B]="http://127.0.0.1:9680")
start() { # name bindir port
    "$2/cairnd" --data "$WORK/$1" --s3-listen "127.0.0.1:$3" --node-listen "127.0.0.1:$(($3 + 1))" \
        >"$WORK/$1.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$3/health/ready" && return; sleep 0.1; done
    echo "bench-ab: $1 did not start" >&2
    exit 1
}
start A "$A" 9670
start B "$B" 9680
CLI="$B/cairn"
OUT="$WORK/runs.jsonl"
run() { # side label args...
    local side="$1" label="$2"
    shift 2
    "$CLI" bench --endpoint "${EP[$side]}" --json "$@" |
        python3 -c 'import json,sys; r=json.load(sys.stdin); r["side"]=sys.argv[1]; r["label"]=sys.argv[2]; print(json.dumps(r))' \
            "$side" "$label" >>"$OUT"
}
# ONLY=put4k,get1m (say) runs a subset: put4k get4k put128k put1m get1m list10k (put128k
# only when asked).
ONLY="${ONLY:-put4k,get4k,put1m,get1m,list10k}"
want() { [[ ",$ONLY," == *",$1,"* ]]; }
for r in $(seq "$RUNS"); do
    # A B, then B A: a machine that slows (or speeds up) during the sitting weighs on
    # both sides alike.
    if ((r % 2)); then order="A B"; else order="B A"; fi
    for side in $order; do
        echo "bench-ab: run $r/$RUNS on $side" >&2
        if want put4k; then run "$side" "PUT 4 KiB x16" --op put --size 4KiB --concurrency 16 --duration "$SECS" --bucket ab-put4k; fi
        if want get4k; then run "$side" "GET 4 KiB x16" --op get --size 4KiB --concurrency 16 --duration "$SECS" --bucket ab-get4k; fi
        if want put128k; then run "$side" "PUT 128 KiB x32" --op put --size 128KiB --concurrency 32 --duration "$SECS" --bucket ab-put128k; fi
        if want put1m; then run "$side" "PUT 1 MiB x16" --op put --size 1MiB --concurrency 16 --duration "$SECS" --bucket ab-put1m; fi
        if want get1m; then run "$side" "GET 1 MiB x16" --op get --size 1MiB --concurrency 16 --duration "$SECS" --bucket ab-get1m; fi
        if want list10k; then run "$side" "LIST 10k keys" --op list --objects 10000 --concurrency 1 --duration "$SECS" --bucket "ab-list-$r"; fi
    done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cells = {}
UNIT = {"LIST": ("keys_per_s", "keys/s"), "MiB": ("mib_per_s", "MiB/s"), "KiB": ("ops_per_s", "ops/s")}
def unit(label):
    return UNIT["LIST"] if label.startswith("LIST") else UNIT[label.split()[2]]
for r in runs:
    op = r["label"].split()[0].lower()
    row = next(x for x in r["results"] if x["op"] == op)
    assert row["errors"] == 0, f"{r['label']} on {r['side']}: {row['errors']} errors"
    cells.setdefault((r["label"], r["side"]), []).append((row[unit(r["label"])[0]], None))
labels = list(dict.fromkeys(r["label"] for r in runs))
print("| workload | A (before) | B (after) | B/A | runs A | runs B |")
print("|---|---|---|---|---|---|")
for l in labels:
    a = [x[0] for x in cells[(l, "A")]]
    b = [x[0] for x in cells[(l, "B")]]
    ma, mb = statistics.median(a), statistics.median(b)
    u = unit(l)[1]
    print(f"| {l} | {ma:,.0f} {u} | {mb:,.0f} {u} | {mb / ma:.3f} | {', '.join(f'{x:,.0f}' for x in a)} | {', '.join(f'{x:,.0f}' for x in b)} |")
PY
