#!/usr/bin/env bash
# Cluster figures on one machine: a 3-node loopback cluster (scripts/cluster-local.sh,
# release build), `cairn bench` PUT and GET of 1 MiB objects through node 1 with 16
# connections (medians of RUNS runs), and the time from `kill -9` of the Raft leader to
# the first acknowledged PUT through a surviving node (KILLS times).
#
# Usage: scripts/bench-cluster.sh   (env: RUNS=3, KILLS=3, SECONDS_PER_RUN=10; boto3 is
#                                   installed into CAIRN_VENV, see scripts/lib/python-env.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
# shellcheck source=scripts/lib/python-env.sh
. "$ROOT/scripts/lib/python-env.sh"
need_cmd curl curl
python_env boto3
RUNS="${RUNS:-3}"
KILLS="${KILLS:-3}"
SECS="${SECONDS_PER_RUN:-10}"
# shellcheck source=scripts/lib/bins.sh
. "$ROOT/scripts/lib/bins.sh"
release_bins
export CAIRND_BIN="$BIN/cairnd" CAIRN_BIN="$BIN/cairn"
export CAIRN_LOCAL_S3_BASE="${CAIRN_LOCAL_S3_BASE:-9700}" CAIRN_LOCAL_NODE_BASE="${CAIRN_LOCAL_NODE_BASE:-9800}"
unset AWS_CA_BUNDLE
DIR="$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-cluster.XXXXXX")"
cleanup() { "$ROOT/scripts/cluster-local.sh" stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
log() { printf 'bench-cluster: %s\n' "$*" >&2; }

"$ROOT/scripts/cluster-local.sh" start "$DIR" >&2
# shellcheck disable=SC1091
source "$DIR/credentials"
ep() { echo "http://127.0.0.1:$((CAIRN_LOCAL_S3_BASE + $1))"; }

results=()
for op in put get; do
    for r in $(seq "$RUNS"); do
        log "$op 1 MiB run $r/$RUNS"
        results+=("$("$BIN/cairn" --endpoint "$(ep 1)" bench --op "$op" --size 1MiB --concurrency 16 \
            --duration "$SECS" --count 10000000 --bucket "cluster-$op" --json)")
    done
done

leader_node() { # the node number (1..3) that leads, as node $1 sees it
    "$BIN/cairn" --endpoint "$(ep "$1")" cluster status --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
lead = [n for n in s["nodes"] if n["id"] == s["leader"]]
print(lead[0]["s3_addr"].rsplit(":", 1)[1] if lead else "")'
}

recoveries=()
"$BIN/cairn" --endpoint "$(ep 1)" bucket create failover >/dev/null 2>&1 || true
for k in $(seq "$KILLS"); do
    port="$(leader_node 1)"
    [[ -n "$port" ]] || port="$(leader_node 2)"
    n=$((port - CAIRN_LOCAL_S3_BASE))
    other=$((n % 3 + 1))
    log "kill $k/$KILLS: leader is node $n; writing through node $other"
    t="$(python3 - "$(ep "$other")" "$DIR/node$n.pid" <<'PY'
import os, signal, sys, time
import boto3
from botocore.config import Config
endpoint, pidfile = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2,
                                s3={"addressing_style": "path"}))
s3.put_object(Bucket="failover", Key="warm", Body=b"x")
pid = int(open(pidfile).read().strip())
os.kill(pid, signal.SIGKILL)
start = time.monotonic()
while time.monotonic() - start < 60:
    try:
        s3.put_object(Bucket="failover", Key="after-kill", Body=b"y" * 1024)
        print(f"{time.monotonic() - start:.2f}")
        break
    except Exception:
        time.sleep(0.05)
PY
)"
    log "  first acknowledged PUT after ${t} s"
    recoveries+=("$t")
    "$ROOT/scripts/cluster-local.sh" start-node "$DIR" "$n" >&2
done

python3 - "${recoveries[@]}" -- "${results[@]}" <<'PY'
import json, statistics, sys
args = sys.argv[1:]
cut = args.index("--")
rec = [float(x) for x in args[:cut] if x]
runs = [json.loads(x) for x in args[cut + 1:]]
by = {}
for r in runs:
    row = r["results"][0]
    by.setdefault(row["op"], []).append(row)
print("3-node loopback cluster, 1 MiB objects, 16 connections through node 1, medians of %d runs:" % len(by.get("put", [])))
for op, rows in by.items():
    med = lambda k: statistics.median(x[k] for x in rows)
    each = "/".join(f"{x['mib_per_s']:.0f}" for x in rows)
    print(f"  {op.upper():<4} {med('mib_per_s'):8.1f} MiB/s  p50 {med('p50_ms'):6.1f} ms  p99 {med('p99_ms'):7.1f} ms  ({each})")
if rec:
    print("leader kill -> first acknowledged PUT: median %.2f s (%s)" % (statistics.median(rec), ", ".join(f"{x:.2f}" for x in rec)))
PY
