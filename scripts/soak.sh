#!/usr/bin/env bash
# Soak test: a local 3-node cluster under mixed S3 load while nodes are killed with
# SIGKILL and shard files are damaged, then every object is read back and checked.
#
#   scripts/soak.sh [--minutes N] [--dir DIR] [--keep]
#
#   --minutes N   how long the load and the chaos run (default 5)
#   --dir DIR     keep everything in DIR (must not exist or be empty; it is kept),
#                 instead of a temporary directory
#   --keep        keep the temporary directory (it is always kept on failure)
#
# The cluster is started with scripts/cluster-local.sh on its own ports (S3 9301..9303,
# internode 9401..9403; CAIRN_LOCAL_S3_BASE / CAIRN_LOCAL_NODE_BASE move them), so it
# does not clash with a cluster on the default ports. The load generator
# (scripts/soak/load.py, boto3) runs 4 writers against the three nodes: PUTs of 1 KiB to
# 4 MiB, overwrites, deletes, a few multipart uploads, and reads of its own objects.
# Every attempt and whether it was acknowledged goes to DIR/journal.jsonl. Meanwhile,
# every 10-20 s, the chaos loop either kills one node (kill -9) and restarts it 3-8 s
# later, or damages one shard file (flips bytes past the 48-byte header, or truncates
# it), never two shards of the same object and never while a node is down; its actions
# are in DIR/chaos.log.
#
# At the end the chaos stops, all three nodes must be ready, `cairn heal` runs over the
# whole cluster (and must report no lost stripe), and every key is read back through a
# random node:
#   written       PUT and multipart attempts
#   acknowledged  those that succeeded
#   verified      acknowledged objects (not deleted since) that read back byte-exact
#   lost          acknowledged objects that are missing or cannot be read
#   wrong         objects whose bytes match no state they may be in (an acknowledged
#                 write, or, where a write got no answer, the one before it or it),
#                 and reads during the load that returned wrong bytes
# The last line of stdout is `soak: written=W acknowledged=A verified=V lost=L wrong=X`.
# Exit status 0 only if L=0, X=0, A>0 and no node log shows a panic.
#
# Environment: CAIRND_BIN / CAIRN_BIN (else `cargo build --bins` here), CARGO_TARGET_DIR,
# CAIRN_VENV (the virtual environment boto3 is installed into, default
# ~/.cache/cairn/venv; see scripts/lib/python-env.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER_SH="$ROOT/scripts/cluster-local.sh"
LOAD_PY="$ROOT/scripts/soak/load.py"
MINUTES=5
DIR=""
KEEP=0

log() { printf '%s soak: %s\n' "$(date '+%H:%M:%S')" "$*" >&2; }
die() { log "$*"; exit 1; }
usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --minutes) [[ $# -ge 2 ]] || usage; MINUTES="$2"; shift 2 ;;
        --minutes=*) MINUTES="${1#*=}"; shift ;;
        --dir) [[ $# -ge 2 ]] || usage; DIR="$2"; shift 2 ;;
        --dir=*) DIR="${1#*=}"; shift ;;
        --keep) KEEP=1; shift ;;
        -h | --help) usage ;;
        *) log "unknown argument: $1"; usage ;;
    esac
done
[[ "$MINUTES" =~ ^[0-9]+$ && "$MINUTES" -ge 1 ]] || die "--minutes must be a whole number of minutes, at least 1"

export CAIRN_LOCAL_S3_BASE="${CAIRN_LOCAL_S3_BASE:-9300}"
export CAIRN_LOCAL_NODE_BASE="${CAIRN_LOCAL_NODE_BASE:-9400}"
# Plain-HTTP endpoints: a CA bundle setting only gets in the way.
unset AWS_CA_BUNDLE

# --- work directory --------------------------------------------------------------------
if [[ -n "$DIR" ]]; then
    if [[ -e "$DIR" ]]; then
        [[ -d "$DIR" && -z "$(ls -A "$DIR")" ]] || die "--dir $DIR must not exist or be empty"
    fi
    mkdir -p -m 700 "$DIR"
    WORK="$(cd "$DIR" && pwd)"
    OWN_WORK=0
else
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-soak.XXXXXX")"
    OWN_WORK=1
fi
CLUSTER="$WORK/cluster"
STOP_FILE="$WORK/stop-chaos"
# Everything said on stderr is also kept in WORK/soak.log.
exec 2> >(tee -a "$WORK/soak.log" >&2)

LOAD_PID=""
CHAOS_PID=""
CLUSTER_STARTED=0
VERDICT=""

stop_pid() { # PID SECONDS: wait for PID to exit, SIGTERM then SIGKILL after SECONDS
    local pid="$1" secs="$2"
    [[ -n "$pid" ]] || return 0
    for _ in $(seq 1 $((secs * 5))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        sleep 1
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT
    set +e
    if [[ -n "$LOAD_PID" ]] && kill -0 "$LOAD_PID" 2>/dev/null; then
        kill -TERM "$LOAD_PID" 2>/dev/null
        stop_pid "$LOAD_PID" 5
    fi
    if [[ -n "$CHAOS_PID" ]]; then
        touch "$STOP_FILE"
        stop_pid "$CHAOS_PID" 90
    fi
    if [[ "$CLUSTER_STARTED" == 1 ]]; then
        "$CLUSTER_SH" stop "$CLUSTER" >/dev/null
    fi
    if [[ $rc -eq 0 && $KEEP -eq 0 && $OWN_WORK -eq 1 ]]; then
        rm -rf "$WORK"
    else
        log "logs kept in $WORK: soak.log, chaos.log, journal.jsonl (every attempt), state.json,"
        log "  node logs cluster/node{1,2,3}.log"
    fi
    if [[ -n "$VERDICT" ]]; then
        # Let tee flush stderr first, so the verdict is the last line a terminal shows too.
        sleep 0.2
        printf '%s\n' "$VERDICT"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -------------------------------------------------------------------------------
# boto3 comes from the scripts' own Python virtual environment (scripts/lib/python-env.sh),
# whose python3 then runs load.py.
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
# shellcheck source=scripts/lib/python-env.sh
. "$ROOT/scripts/lib/python-env.sh"
need_cmd curl curl
need_cmd ss iproute2
python_env boto3
python3 -c 'import boto3' 2>/dev/null || die "boto3 cannot be imported after installing it"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
if [[ -z "${CAIRND_BIN:-}" || -z "${CAIRN_BIN:-}" ]]; then
    if command -v cargo >/dev/null 2>&1; then
        log "building cairnd and cairn (cargo build --bins)"
        (cd "$ROOT" && cargo build --bins) >&2 || die "cargo build failed"
        export CAIRND_BIN="${CAIRND_BIN:-$TARGET_DIR/debug/cairnd}"
        export CAIRN_BIN="${CAIRN_BIN:-$TARGET_DIR/debug/cairn}"
    else
        for name in cairnd cairn; do
            best=""
            for c in "$TARGET_DIR/release/$name" "$TARGET_DIR/debug/$name"; do
                [[ -x "$c" ]] && { [[ -z "$best" || "$c" -nt "$best" ]] && best="$c"; }
            done
            [[ -n "$best" ]] || die "no $name binary under $TARGET_DIR and no cargo to build it"
            if [[ "$name" == cairnd ]]; then export CAIRND_BIN="${CAIRND_BIN:-$best}"; else export CAIRN_BIN="${CAIRN_BIN:-$best}"; fi
        done
    fi
fi
[[ -x "$CAIRND_BIN" && -x "$CAIRN_BIN" ]] || die "cairnd/cairn not found: $CAIRND_BIN $CAIRN_BIN"

# --- cluster -----------------------------------------------------------------------------
log "work dir $WORK; starting a 3-node cluster (S3 ports $((CAIRN_LOCAL_S3_BASE + 1))..$((CAIRN_LOCAL_S3_BASE + 3)))"
CLUSTER_STARTED=1
"$CLUSTER_SH" start "$CLUSTER" >"$WORK/cluster-start.txt" || die "the cluster did not start"
# shellcheck disable=SC1091
source "$CLUSTER/credentials"
S3_BASE="$(sed -n 's/^S3_BASE=//p' "$CLUSTER/ports")"
ENDPOINTS=()
for n in 1 2 3; do ENDPOINTS+=("http://127.0.0.1:$((S3_BASE + n))"); done
ENDPOINT_LIST="$(IFS=,; echo "${ENDPOINTS[*]}")"

all_ready() {
    local n code
    for n in 1 2 3; do
        code="$(curl -s --noproxy '*' -o /dev/null -m 2 -w '%{http_code}' "${ENDPOINTS[$((n - 1))]}/health/ready" || true)"
        [[ "$code" == 200 ]] || return 1
    done
}

# --- load and chaos ----------------------------------------------------------------------
SECONDS_TOTAL=$((MINUTES * 60))
log "load and chaos for $MINUTES minute(s)"
python3 "$LOAD_PY" run --endpoints "$ENDPOINT_LIST" --bucket soak --state "$WORK/state.json" \
    --journal "$WORK/journal.jsonl" --seconds "$SECONDS_TOTAL" --max-ops $((MINUTES * 3000)) --threads 4 &
LOAD_PID=$!
python3 "$LOAD_PY" chaos --dir "$CLUSTER" --cluster-script "$CLUSTER_SH" --stop-file "$STOP_FILE" \
    --log "$WORK/chaos.log" &
CHAOS_PID=$!

load_rc=0
wait "$LOAD_PID" || load_rc=$?
LOAD_PID=""
[[ $load_rc -eq 0 ]] || die "the load generator failed (exit $load_rc)"

log "load finished; stopping the chaos"
touch "$STOP_FILE"
stop_pid "$CHAOS_PID" 90
CHAOS_PID=""

# --- all nodes back, heal ----------------------------------------------------------------
for n in 1 2 3; do
    pid="$(tr -dc '0-9' <"$CLUSTER/node$n.pid" 2>/dev/null || true)"
    if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
        log "node $n is down after the chaos; starting it"
        "$CLUSTER_SH" start-node "$CLUSTER" "$n" || log "node $n did not start"
    fi
done
deadline=$((SECONDS + 60))
until all_ready; do
    ((SECONDS < deadline)) || { log "not all nodes answer /health/ready with 200 after 60 s"; break; }
    sleep 0.5
done
all_ready && log "all three nodes are ready"

# A heal pass over the whole cluster rebuilds the shards the chaos damaged and reports
# every stripe as whole, degraded or lost; it exits non-zero if anything is lost.
heal_rc=0
log "cairn heal (every object, every block)"
CAIRN_ENDPOINT="${ENDPOINTS[0]}" timeout 900 "$CAIRN_BIN" heal >&2 || heal_rc=$?
((heal_rc == 0)) || log "cairn heal failed (exit $heal_rc)"

# --- verify ------------------------------------------------------------------------------
log "verifying every key"
verify_rc=0
python3 "$LOAD_PY" verify --endpoints "$ENDPOINT_LIST" --bucket soak --state "$WORK/state.json" \
    --summary "$WORK/summary.txt" || verify_rc=$?
[[ -s "$WORK/summary.txt" ]] && VERDICT="$(tail -n 1 "$WORK/summary.txt")"

panics="$(grep -l 'panicked' "$CLUSTER"/node*.log 2>/dev/null || true)"
if [[ -n "$panics" ]]; then
    log "a node panicked; see:"
    for f in $panics; do
        log "  $f: $(grep -m1 'panicked' "$f")"
    done
    verify_rc=1
fi
((heal_rc == 0)) || verify_rc=1
[[ -n "$VERDICT" ]] || die "no verdict (the verification did not finish)"
exit "$verify_rc"
