#!/usr/bin/env bash
# Flat cost at scale, one node on the default settings, one sitting. One bucket is
# filled by batch ingest (tar archives of 10,000 files of 1 KiB, 4 in flight) up to
# each object count in STEPS; at each step it measures:
#   - 4 KiB PUTs (CONNS connections for SECS seconds): ops/s, p50, p99 and max;
#   - ListObjectsV2 over the whole bucket, pages of 1,000 from the first key: keys/s;
#   - the node's resident memory now (VmRSS) and its peak so far (VmHWM);
#   - metadata bytes per object (the metadata store's directory: sled, the Raft log and
#     the snapshot, over the objects);
#   - the last snapshot build the node logged (records, milliseconds).
# Prints a Markdown table, a row per step.
#
# Usage: scripts/bench-scale.sh [BIN_DIR]   (holding cairnd and cairn; default
#        target/release, built if missing)
#        env: STEPS="10000 100000 1000000" (multiples of 10,000), CONNS=16, SECS=8
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd curl curl
need_cmd python3 python3
# shellcheck source=scripts/lib/bins.sh
. "$ROOT/scripts/lib/bins.sh"
release_bins "${1:-}"
STEPS="${STEPS:-10000 100000 1000000}"
CONNS="${CONNS:-16}"
SECS="${SECS:-8}"
# shellcheck source=scripts/lib/bench.sh
. "$ROOT/scripts/lib/bench.sh"
bench_start bench-scale 9704
cairn() { "$BIN/cairn" --endpoint "$EP" "$@"; }
BUCKET=scale
ROWS="$WORK/rows.jsonl"
have=0
for target in $STEPS; do
    if ((target % 10000 != 0 || target < have)); then
        echo "bench-scale: STEPS must be growing multiples of 10000 ($target)" >&2
        exit 2
    fi
    archives=$(((target - have) / 10000))
    if ((archives > 0)); then
        echo "bench-scale: filling to $target objects ($archives archives)" >&2
        cairn bench --op ingest --bucket "$BUCKET" --count "$archives" --objects 10000 --size 1KiB \
            --concurrency 4 --keep --json >"$WORK/fill.json"
        have=$target
    fi
    echo "bench-scale: measuring at $have objects" >&2
    cairn bench --op put --bucket "$BUCKET" --size 4KiB --concurrency "$CONNS" --duration "$SECS" --json >"$WORK/put.json"
    cairn bench --op list --bucket "$BUCKET" --prefix "" --concurrency 1 --duration "$SECS" --json >"$WORK/list.json"
    meta_dir="$(dirname "$(find "$WORK/data" -type d -name sled | head -1)")"
    python3 - "$have" "$WORK/put.json" "$WORK/list.json" "/proc/$BENCH_PID/status" "$meta_dir" \
        "$WORK/cairnd.log" >>"$ROWS" <<'PY'
import json, os, re, sys
objects, put, lst, status, meta, log = sys.argv[1:7]
row = lambda f, op: next(r for r in json.load(open(f))["results"] if r["op"] == op)
p, l = row(put, "put"), row(lst, "list")
assert p["errors"] == 0 and l["errors"] == 0, (p, l)
mem = {k: int(v.split()[0]) // 1024 for k, v in (x.split(":", 1) for x in open(status)) if k in ("VmRSS", "VmHWM")}
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(meta) for f in fs)
built = [m for m in re.finditer(r"built snapshot.*?records=(\d+).*?ms=(\d+)", open(log).read())]
snap = f"{int(built[-1][1]):,} records, {int(built[-1][2]):,} ms" if built else "none yet"
print(json.dumps({"objects": int(objects), "put": p, "list": l, "rss": mem["VmRSS"], "hwm": mem["VmHWM"],
                  "meta_per_object": size / int(objects), "snapshot": snap}))
PY
done
python3 - "$ROWS" "$CONNS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"| objects | PUT 4 KiB x{sys.argv[2]} ops/s | p50 ms | p99 ms | max ms | list keys/s | RSS MiB | peak RSS MiB | metadata bytes/object | last snapshot |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    p = r["put"]
    print(f"| {r['objects']:,} | {p['ops_per_s']:,.0f} | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} | {p['max_ms']:.1f} | "
          f"{r['list']['keys_per_s']:,.0f} | {r['rss']:,} | {r['hwm']:,} | {r['meta_per_object']:,.0f} | {r['snapshot']} |")
PY
