#!/usr/bin/env bash
# Segments against shard files, and the segment threshold, by measurement: one node on the
# default layout (2+2 over 4 disk directories) per `--segment-max-shard` value in THRESHOLDS
# (0: every shard a file of its own), fresh data directory each time, the values alternating
# within each of RUNS rounds so drift in the machine hits them alike. Each round measures PUT
# (and GET where listed) of every size in LOADS for SECONDS_PER_RUN seconds. Prints medians:
# ops/s, MiB/s, p99 and the server's CPU (user + system) per operation, which moves far less
# between runs than throughput on a shared machine, and each value's ops/s ratio to the first.
#
# Usage: scripts/bench-segments.sh [BIN_DIR]   (holding cairnd and cairn; default
#        $CARGO_TARGET_DIR/release, built if missing)
#        env: THRESHOLDS="0 1048576 8388608" RUNS=3 SECONDS_PER_RUN=8
#             LOADS="128KiB:32:put,get 1MiB:16:put,get 4MiB:8:put 16MiB:4:put" (size:conns:ops)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd curl curl
need_cmd python3 python3
# shellcheck source=scripts/lib/bins.sh
. "$ROOT/scripts/lib/bins.sh"
release_bins "${1:-}"
THRESHOLDS="${THRESHOLDS:-0 1048576 8388608}"
RUNS="${RUNS:-3}"
SECS="${SECONDS_PER_RUN:-8}"
LOADS="${LOADS:-128KiB:32:put,get 1MiB:16:put,get 4MiB:8:put 16MiB:4:put}"
PORT=9704
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-segments.XXXXXX")"
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
# User plus system CPU of a process so far, in clock ticks (/proc/PID/stat fields 14 and 15).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS="$(getconf CLK_TCK)"
OUT="$WORK/runs.jsonl"
for run in $(seq "$RUNS"); do
    for t in $THRESHOLDS; do
        # A new directory name each time: removing the last one right before would leave
        # the filesystem busy freeing its inodes during the measurement.
        data="$WORK/data-$run-$t"
        "$BIN/cairnd" --data "$data" --s3-listen "127.0.0.1:$PORT" --node-listen "127.0.0.1:$((PORT + 1))" \
            --segment-max-shard "$t" >"$WORK/cairnd.log" 2>&1 &
        PID=$!
        for _ in $(seq 100); do curl -fs -o /dev/null "$EP/health/ready" && break; sleep 0.1; done
        for load in $LOADS; do
            IFS=: read -r size conns ops <<<"$load"
            for op in ${ops//,/ }; do
                printf 'bench-segments: round %d/%d, segment_max_shard %s: %s %s x%s\n' \
                    "$run" "$RUNS" "$t" "$op" "$size" "$conns" >&2
                cpu0=$(cpu_ticks "$PID")
                "$BIN/cairn" bench --endpoint "$EP" --json --op "$op" --size "$size" --concurrency "$conns" \
                    --duration "$SECS" --count 10000000 --bucket "b-$op-${size,,}" --keep >"$WORK/run.json"
                cpu1=$(cpu_ticks "$PID")
                python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r["t"]=sys.argv[2]; r["size_name"]=sys.argv[3]; r["op"]=sys.argv[4]; r["cpu_ticks"]=int(sys.argv[5]); print(json.dumps(r))' \
                    "$WORK/run.json" "$t" "$size" "$op" "$((cpu1 - cpu0))" >>"$OUT"
            done
        done
        kill "$PID"
        wait "$PID" 2>/dev/null || true
        PID=""
    done
    # The round's data goes only now, and the next round waits: ext4 passes over inodes freed
    # in the last 30 s when it allocates new ones, which slows whatever creates files right
    # after a large delete (shard files far more than segments) and would bias the next run.
    rm -rf "$WORK"/data-*
    sync
    [[ "$run" -lt "$RUNS" ]] && sleep 35
done
python3 - "$OUT" "$TICKS" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ticks = int(sys.argv[2])
ts = list(dict.fromkeys(r["t"] for r in runs))
cells = list(dict.fromkeys((r["size_name"], r["concurrency"], r["op"]) for r in runs))
def rows(t, cell):
    out = [x for r in runs if (r["t"], r["size_name"], r["concurrency"], r["op"]) == (t, *cell) for x in r["results"] if x["op"] == cell[2]]
    assert all(x["errors"] == 0 for x in out), f"a run had errors: {cell} {t}"
    return out
name = lambda t: "files only" if t == "0" else f"segments ≤ {int(t) >> 10} KiB"
print("| object | conns | op | " + " | ".join(f"{name(t)}: ops/s, MiB/s, p99 ms, server CPU ms/op" for t in ts) + " | " + " | ".join(f"{name(t)} / {name(ts[0])}" for t in ts[1:]) + " |")
print("|---" * (3 + len(ts) + len(ts) - 1) + "|")
for cell in cells:
    meds = {}
    parts = []
    for t in ts:
        rs = rows(t, cell)
        m = lambda k: statistics.median(x[k] for x in rs)
        meds[t] = m("ops_per_s")
        each = "/".join("%.0f" % x["ops_per_s"] for x in rs)
        # CPU per operation of each run (ticks over the run / operations), median of runs.
        cpu = statistics.median(r["cpu_ticks"] * 1000 / ticks / max(1, x["ops"]) for r in runs
                                if (r["t"], r["size_name"], r["concurrency"], r["op"]) == (t, *cell)
                                for x in r["results"] if x["op"] == cell[2])
        parts.append(f"{m('ops_per_s'):,.0f}, {m('mib_per_s'):,.1f}, {m('p99_ms'):.1f}, {cpu:.2f} ({each})")
    ratios = [f"{meds[t] / meds[ts[0]]:.2f}x" if meds[ts[0]] else "-" for t in ts[1:]]
    print(f"| {cell[0]} | {cell[1]} | {cell[2].upper()} | " + " | ".join(parts) + " | " + " | ".join(ratios) + " |")
PY
