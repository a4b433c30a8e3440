#!/usr/bin/env bash
# Durability figures on one node (release build, default layout: 2+2 over the 4 disk
# directories of one data dir):
#   - scrub throughput: MiB/s of shard data read and checked by an unthrottled pass;
#   - heal throughput: a wiped disk directory refilled, MiB/s of shard data rebuilt;
#   - GET latency (1 MiB objects, 8 connections) idle and while the scrubber runs at
#     its default rate, alternating, ROUNDS times; medians of p50 and p99.
# The page cache is dropped before the scrub when this user may (root), so the scrub
# reads the disk rather than memory; the script says which.
#
# Usage: scripts/bench-durability.sh   (env: OBJECTS=16 of 64 MiB, ROUNDS=3, PORT=9650,
#                                      KEEP=1 keeps the work dir)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd curl curl
need_cmd python3 python3
OBJECTS="${OBJECTS:-16}"
ROUNDS="${ROUNDS:-3}"
PORT="${PORT:-9650}"
# shellcheck source=scripts/lib/bins.sh
. "$ROOT/scripts/lib/bins.sh"
release_bins
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-bench-durability.XXXXXX")"
export AWS_ACCESS_KEY_ID=benchadmin AWS_SECRET_ACCESS_KEY=benchadmin-secret-key-0123 AWS_REGION=us-east-1
export CAIRN_ROOT_ACCESS_KEY="$AWS_ACCESS_KEY_ID" CAIRN_ROOT_SECRET_KEY="$AWS_SECRET_ACCESS_KEY"
export CAIRN_ENDPOINT="http://127.0.0.1:$PORT"
unset AWS_CA_BUNDLE
PID=""
cleanup() {
    [[ -n "$PID" ]] && kill "$PID" 2>/dev/null
    wait 2>/dev/null
    if [[ -n "${KEEP:-}" ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
log() { printf 'bench-durability: %s\n' "$*" >&2; }

start() { # scrub rate in MiB/s
    "$BIN/cairnd" --data "$WORK/data" --s3-listen "127.0.0.1:$PORT" --node-listen "127.0.0.1:$((PORT + 1))" \
        --scrub-rate-mib "$1" --scrub-interval-secs 0 >"$WORK/node.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        curl -fs -o /dev/null "$CAIRN_ENDPOINT/health/ready" && return 0
        sleep 0.1
    done
    log "node did not start"; cat "$WORK/node.log" >&2; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
now() { date +%s.%N; }

start 0
log "writing $OBJECTS objects of 64 MiB"
"$BIN/cairn" bench --op put --size 64MiB --count "$OBJECTS" --concurrency 4 --keep --bucket durability --json >/dev/null
sync
cache="warm page cache"
if echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then cache="page cache dropped"; fi

t0=$(now)
"$BIN/cairn" scrub --wait --json >"$WORK/scrub.json"
t1=$(now)
bytes=$(json 'd["last"]["bytes_verified"]' <"$WORK/scrub.json")
scrub_mib=$(python3 -c "print(round($bytes / 1048576 / ($t1 - $t0), 1))")
log "scrub: $((bytes >> 20)) MiB of shards in $(python3 -c "print(round($t1 - $t0, 2))") s ($cache)"

disk="$WORK/data/disks/disk2"
shard_bytes=$(du -sb "$disk/objects" | cut -f1)
rm -rf "$disk"
t0=$(now)
for _ in $(seq 600); do
    st="$("$BIN/cairn" heal --status --json)"
    # disk2 is global disk 1; a new node's first start also refills its (empty) disks.
    if [[ "$(json "d['pass']['scope']['disk'] == 1 and d['pass']['state'] == 'done' and d['pass']['started'] >= int($t0)" <<<"$st")" == True ]]; then break; fi
    sleep 0.1
done
t1=$(now)
rebuilt=$(du -sb "$disk/objects" | cut -f1)
[[ "$rebuilt" -ge "$shard_bytes" ]] || log "refill incomplete: $rebuilt of $shard_bytes bytes"
heal_mib=$(python3 -c "print(round($rebuilt / 1048576 / ($t1 - $t0), 1))")
log "heal: $((rebuilt >> 20)) MiB of shards rebuilt onto a wiped disk in $(python3 -c "print(round($t1 - $t0, 2))") s (includes up to 3 s until the wipe is noticed)"
stop

start 64
"$BIN/cairn" bench --op put --size 1MiB --count 64 --concurrency 8 --keep --bucket latency --json >/dev/null
idle=() busy=()
for r in $(seq "$ROUNDS"); do
    idle+=("$("$BIN/cairn" bench --op get --size 1MiB --concurrency 8 --duration 15 --count 100000 --bucket latency --json)")
    "$BIN/cairn" scrub --json >/dev/null
    sleep 1
    busy+=("$("$BIN/cairn" bench --op get --size 1MiB --concurrency 8 --duration 15 --count 100000 --bucket latency --json)")
    running="$("$BIN/cairn" scrub --status --json | json 'd["running"]')"
    [[ "$running" == True ]] || log "round $r: the scrub pass ended before the loaded run did"
    # Let the pass finish so the next idle run is idle.
    "$BIN/cairn" scrub --status --wait --json >/dev/null
done
stop

python3 - "$scrub_mib" "$heal_mib" "$cache" "${idle[@]}" -- "${busy[@]}" <<'PY'
import json, statistics, sys
scrub, heal, cache = sys.argv[1:4]
rest = sys.argv[4:]
cut = rest.index("--")
idle = [json.loads(x)["results"][0] for x in rest[:cut]]
busy = [json.loads(x)["results"][0] for x in rest[cut + 1:]]
med = lambda rows, k: statistics.median(r[k] for r in rows)
print(f"scrub throughput (unthrottled, {cache}): {scrub} MiB/s of shard data verified")
print(f"heal throughput (wiped disk refilled):     {heal} MiB/s of shard data rebuilt")
print("GET 1 MiB, 8 connections, medians of %d runs:" % len(idle))
print("                 p50 ms   p99 ms   MiB/s")
for name, rows in (("idle", idle), ("scrubbing", busy)):
    print(f"  {name:<12} {med(rows, 'p50_ms'):8.2f} {med(rows, 'p99_ms'):8.2f} {med(rows, 'mib_per_s'):8.1f}")
print("  ratio        %8.2f %8.2f %8.2f" % (med(busy, 'p50_ms') / med(idle, 'p50_ms'),
      med(busy, 'p99_ms') / med(idle, 'p99_ms'), med(busy, 'mib_per_s') / med(idle, 'mib_per_s')))
PY
