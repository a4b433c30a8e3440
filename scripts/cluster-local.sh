#!/usr/bin/env bash
# A three-node Cairn cluster on this machine, for trying clustering out.
#
#   scripts/cluster-local.sh start DIR    start (or restart) the cluster kept in DIR
#   scripts/cluster-local.sh stop DIR     stop it (SIGTERM, then SIGKILL after 20 s)
#   scripts/cluster-local.sh status DIR   pids, /health/ready and `cairn cluster status`
#   scripts/cluster-local.sh kill-node DIR N    SIGKILL node N (1..3), as a crash would
#   scripts/cluster-local.sh start-node DIR N   start node N alone again, with the same
#                                               arguments as `start`; waits for /health/ready
#
# Node N (1..3) keeps its data in DIR/nodeN, logs to DIR/nodeN.log and its pid in
# DIR/nodeN.pid. S3 is on 127.0.0.1:$((S3_BASE + N)) (9101..9103), internode QUIC on
# 127.0.0.1:$((NODE_BASE + N)) (9201..9203).
#
# The nodes form a static cluster: the same --peer list and a cluster secret that is
# generated once and kept in DIR/cluster-secret (mode 600), so `start` on the same DIR
# brings the same cluster, with its data, back. The root keys come from
# CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY, else from DIR/credentials of an
# earlier start, else are generated; DIR/credentials holds them as `export` lines
# (`source DIR/credentials` sets up aws-cli and cairn). The keys a cluster is created
# with stay its root keys.
#
# `start` returns once all three nodes report /health/ready and a bucket could be
# created and removed through each of them.
#
# Environment:
#   CAIRND_BIN, CAIRN_BIN      binaries to use (default: the newer of target/release and
#                              target/debug, else `cargo build --release --bins`)
#   CAIRN_LOCAL_S3_BASE        S3 port base, node N listens on base+N (default 9100)
#   CAIRN_LOCAL_NODE_BASE      internode port base (default 9200)
#   CAIRN_LOCAL_READY_TIMEOUT  seconds to wait for the cluster (default 60)
#   CAIRN_LOCAL_STOP_TIMEOUT   seconds to wait for SIGTERM before SIGKILL (default 20)
#   CAIRN_LOG                  tracing filter for the nodes (e.g. debug)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROG="$0"
NODES=(1 2 3)
HOST="127.0.0.1"
READY_TIMEOUT="${CAIRN_LOCAL_READY_TIMEOUT:-60}"
STOP_TIMEOUT="${CAIRN_LOCAL_STOP_TIMEOUT:-20}"

# aws-cli and other clients refuse plain-HTTP endpoints with some CA bundle settings.
unset AWS_CA_BUNDLE

log() { printf 'cluster-local: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# need_cmd: curl (health checks) and ss (busy UDP ports), installed when missing.
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"

usage() {
    cat >&2 <<EOF
Usage: $PROG start DIR     start a 3-node cluster with its state in DIR (restarts it if DIR holds one)
       $PROG stop DIR      stop the cluster in DIR
       $PROG status DIR    show the nodes and \`cairn cluster status\`
       $PROG kill-node DIR N    SIGKILL node N (1..3) of the cluster in DIR
       $PROG start-node DIR N   start node N of the cluster in DIR again (after kill-node)

S3 on $HOST:9101..9103, internode on $HOST:9201..9203 (CAIRN_LOCAL_S3_BASE,
CAIRN_LOCAL_NODE_BASE move them). Root keys: CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY.
EOF
    exit 2
}

# --- helpers -------------------------------------------------------------------------

# Random lowercase hex, 2*N characters.
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# The value of VAR after sourcing FILE, in a clean shell (FILE is one we wrote).
file_var() { env -i "$BASH" -c '. "$1" >/dev/null 2>&1; printf "%s" "${!2-}"' _ "$1" "$2"; }

# True if PID is alive and (where /proc tells) a cairnd, not a recycled pid.
is_cairnd() {
    local pid="$1"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q cairnd || return 1
    fi
    return 0
}

pid_of() { local f="$DIR/node$1.pid"; [[ -f "$f" ]] && tr -dc '0-9' <"$f" || true; }

# HTTP status of GET URL ("000" when nothing answers).
http_status() {
    curl -s --noproxy '*' -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true
}

# True if something accepts TCP connections on HOST:PORT.
tcp_port_busy() { (exec 7<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# True if a UDP socket is bound to PORT.
udp_port_busy() {
    ss -Hlnu 2>/dev/null | awk '{print $4}' | grep -Eq "[:.]$1\$"
}

s3_port() { echo $((S3_BASE + $1)); }
node_port() { echo $((NODE_BASE + $1)); }
endpoint() { echo "http://$HOST:$(s3_port "$1")"; }

# Port bases: the ones DIR was created with win over the environment, because the
# peer list (internode addresses) is part of the cluster's identity.
load_ports() {
    local env_s3="${CAIRN_LOCAL_S3_BASE:-9100}" env_node="${CAIRN_LOCAL_NODE_BASE:-9200}"
    [[ "$env_s3" =~ ^[0-9]+$ && "$env_node" =~ ^[0-9]+$ ]] || die "CAIRN_LOCAL_S3_BASE / CAIRN_LOCAL_NODE_BASE must be numbers"
    if [[ -f "$DIR/ports" ]]; then
        S3_BASE="$(file_var "$DIR/ports" S3_BASE)"
        NODE_BASE="$(file_var "$DIR/ports" NODE_BASE)"
        [[ "$S3_BASE" =~ ^[0-9]+$ && "$NODE_BASE" =~ ^[0-9]+$ ]] || die "$DIR/ports is damaged"
        if [[ -n "${CAIRN_LOCAL_S3_BASE:-}${CAIRN_LOCAL_NODE_BASE:-}" ]] &&
            [[ "$env_s3" != "$S3_BASE" || "$env_node" != "$NODE_BASE" ]]; then
            log "note: $DIR was created with S3_BASE=$S3_BASE NODE_BASE=$NODE_BASE; keeping those"
        fi
    else
        S3_BASE="$env_s3"
        NODE_BASE="$env_node"
    fi
}

# Root keys into ACCESS_KEY / SECRET_KEY (see the header), recorded in DIR/credentials.
load_credentials() {
    local creds="$DIR/credentials" file_ak="" file_sk=""
    local env_ak="${CAIRN_ROOT_ACCESS_KEY:-}" env_sk="${CAIRN_ROOT_SECRET_KEY:-}"
    if [[ -f "$creds" ]]; then
        file_ak="$(file_var "$creds" CAIRN_ROOT_ACCESS_KEY)"
        file_sk="$(file_var "$creds" CAIRN_ROOT_SECRET_KEY)"
    fi
    if [[ -n "$env_ak" || -n "$env_sk" ]]; then
        [[ -n "$env_ak" && -n "$env_sk" ]] || die "set both CAIRN_ROOT_ACCESS_KEY and CAIRN_ROOT_SECRET_KEY, or neither"
        if [[ -n "$file_ak" && -d "$DIR/node1" && ( "$env_ak" != "$file_ak" || "$env_sk" != "$file_sk" ) ]]; then
            # cairnd keeps the root key it was created with and ignores a different one.
            log "note: the cluster in $DIR keeps the root keys it was created with ($creds);"
            log "      CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY from the environment are ignored"
            ACCESS_KEY="$file_ak"; SECRET_KEY="$file_sk"
        else
            ACCESS_KEY="$env_ak"; SECRET_KEY="$env_sk"
        fi
        GENERATED=0
    elif [[ -n "$file_ak" && -n "$file_sk" ]]; then
        ACCESS_KEY="$file_ak"; SECRET_KEY="$file_sk"
        GENERATED=0
    else
        ACCESS_KEY="CAIRNLOCAL$(random_hex 5 | tr 'a-f' 'A-F')"
        SECRET_KEY="$(random_hex 20)"
        GENERATED=1
    fi
    {
        echo "# Root keys of the Cairn cluster in $DIR (written by $PROG)."
        echo "# Use them with: source $creds"
        printf 'export AWS_ACCESS_KEY_ID=%q\n' "$ACCESS_KEY"
        printf 'export AWS_SECRET_ACCESS_KEY=%q\n' "$SECRET_KEY"
        echo "export AWS_DEFAULT_REGION=us-east-1"
        echo "export CAIRN_ENDPOINT=$(endpoint 1)"
        echo "# Read by cairnd on the cluster's first start; the cluster keeps these."
        printf 'export CAIRN_ROOT_ACCESS_KEY=%q\n' "$ACCESS_KEY"
        printf 'export CAIRN_ROOT_SECRET_KEY=%q\n' "$SECRET_KEY"
    } >"$creds.tmp"
    chmod 600 "$creds.tmp"
    mv -f "$creds.tmp" "$creds"
}

load_cluster_secret() {
    local f="$DIR/cluster-secret"
    if [[ ! -s "$f" ]]; then
        [[ -d "$DIR/node1" ]] && log "warning: $DIR/node1 exists but $f does not; a new secret will not match the old cluster's"
        (umask 077 && random_hex 32 >"$f")
    fi
    chmod 600 "$f"
    CLUSTER_SECRET="$(tr -d ' \n' <"$f")"
    [[ ${#CLUSTER_SECRET} -ge 16 ]] || die "$f must hold at least 16 characters"
}

newest_binary() { # NAME: newest of release/debug in the target dir, or nothing
    local name="$1" best="" c
    for c in "$TARGET_DIR/release/$name" "$TARGET_DIR/debug/$name"; do
        [[ -x "$c" ]] || continue
        if [[ -z "$best" || "$c" -nt "$best" ]]; then best="$c"; fi
    done
    printf '%s' "$best"
}

find_binaries() {
    TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
    case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
    # target/release is preferred, unless target/debug holds a newer build: a stale
    # release binary left over from an earlier checkout is a common surprise.
    CAIRND="${CAIRND_BIN:-$(newest_binary cairnd)}"
    CAIRN="${CAIRN_BIN:-$(newest_binary cairn)}"
    if [[ -z "$CAIRND" || -z "$CAIRN" ]]; then
        command -v cargo >/dev/null 2>&1 || die "no cairnd/cairn binaries under $TARGET_DIR and no cargo to build them"
        log "building cairnd and cairn (cargo build --release --bins)"
        (cd "$ROOT" && cargo build --release --bins)
        CAIRND="${CAIRND_BIN:-$TARGET_DIR/release/cairnd}"
        CAIRN="${CAIRN_BIN:-$TARGET_DIR/release/cairn}"
    fi
    [[ -x "$CAIRND" ]] || die "cairnd not found or not executable: $CAIRND"
    [[ -x "$CAIRN" ]] || die "cairn not found or not executable: $CAIRN"
}

# cairn CLI with the root keys, in the environment rather than on the command line.
cairn_cli() {
    AWS_ACCESS_KEY_ID="$ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$SECRET_KEY" AWS_REGION=us-east-1 \
        "$CAIRN" "$@"
}

show_log_tails() {
    local n
    for n in "${NODES[@]}"; do
        [[ -f "$DIR/node$n.log" ]] || continue
        log "---- $DIR/node$n.log (last 25 lines) ----"
        tail -n 25 "$DIR/node$n.log" >&2 || true
    done
}

# Start node N in the background (ACCESS_KEY, SECRET_KEY, CLUSTER_SECRET, CAIRND and the
# ports must be loaded). WHY names the command in the log's start banner.
launch_node() {
    local n="$1" why="$2" m peers=()
    for m in "${NODES[@]}"; do peers+=(--peer "$HOST:$(node_port "$m")"); done

    # Start the node in its own session (setsid) with no terminal and stdin from
    # /dev/null, so it outlives this script and the shell it ran in. The wrapper writes
    # its own pid and then execs cairnd, so the pid file names cairnd itself. Settings
    # other than the ones given here must not leak in from the caller's CAIRN_* variables
    # or /etc/cairn/cairn.toml, hence the clean environment and --config /dev/null.
    local launcher=()
    if command -v setsid >/dev/null 2>&1; then launcher=(setsid); else launcher=(nohup); fi
    mkdir -p "$DIR/node$n"
    printf '\n==== %s: %s %s ====\n' "$(date '+%Y-%m-%d %H:%M:%S')" "$PROG" "$why" >>"$DIR/node$n.log"
    (
        for v in $(env | grep -oE '^CAIRN_[A-Za-z0-9_]*' || true); do
            case "$v" in CAIRN_LOG | CAIRN_LOG_FORMAT) ;; *) unset "$v" ;; esac
        done
        export CAIRN_ROOT_ACCESS_KEY="$ACCESS_KEY" CAIRN_ROOT_SECRET_KEY="$SECRET_KEY"
        export CAIRN_CLUSTER_SECRET="$CLUSTER_SECRET"
        exec "${launcher[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$DIR/node$n.pid" \
            "$CAIRND" --config /dev/null \
            --data "$DIR/node$n" \
            --s3-listen "$HOST:$(s3_port "$n")" \
            --node-listen "$HOST:$(node_port "$n")" \
            "${peers[@]}" \
            </dev/null >>"$DIR/node$n.log" 2>&1
    ) &
}

# --- stop --------------------------------------------------------------------------

stop_nodes() {
    local n pid live=() deadline
    for n in "${NODES[@]}"; do
        pid="$(pid_of "$n")"
        if [[ -n "$pid" ]] && is_cairnd "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            live+=("$n:$pid")
        fi
    done
    if [[ ${#live[@]} -gt 0 ]]; then
        log "sent SIGTERM to ${live[*]} (node:pid), waiting up to ${STOP_TIMEOUT}s"
        deadline=$((SECONDS + STOP_TIMEOUT))
        while ((SECONDS < deadline)); do
            local still=()
            for entry in "${live[@]}"; do is_cairnd "${entry#*:}" && still+=("$entry"); done
            [[ ${#still[@]} -eq 0 ]] && break
            sleep 0.2
        done
        for entry in "${live[@]}"; do
            pid="${entry#*:}"
            if is_cairnd "$pid"; then
                log "node ${entry%%:*} (pid $pid) did not stop in ${STOP_TIMEOUT}s: SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done
        for entry in "${live[@]}"; do
            for _ in $(seq 1 50); do is_cairnd "${entry#*:}" || break; sleep 0.1; done
        done
    fi
    for n in "${NODES[@]}"; do rm -f "$DIR/node$n.pid"; done
}

cmd_stop() {
    [[ -d "$DIR" ]] || die "$DIR does not exist"
    stop_nodes
    log "stopped"
}

# --- start -------------------------------------------------------------------------

start_failed() {
    log "$1"
    show_log_tails
    log "stopping the nodes this run started (logs stay in $DIR)"
    stop_nodes
    exit 1
}

cmd_start() {
    # A new DIR is private (it holds keys); an existing one keeps its mode, and the
    # files created in it are private through the umask below.
    [[ -d "$DIR" ]] || mkdir -p -m 700 "$DIR"
    DIR="$(cd "$DIR" && pwd)"
    umask 077 # logs hold the root secret key (cairnd prints it on start)

    local n pid
    for n in "${NODES[@]}"; do
        pid="$(pid_of "$n")"
        if [[ -n "$pid" ]] && is_cairnd "$pid"; then
            die "node $n is already running (pid $pid in $DIR/node$n.pid); run: $PROG stop $DIR"
        fi
    done
    for n in "${NODES[@]}"; do rm -f "$DIR/node$n.pid"; done

    find_binaries
    load_ports
    for n in "${NODES[@]}"; do
        tcp_port_busy "$(s3_port "$n")" && die "port $HOST:$(s3_port "$n") is in use (set CAIRN_LOCAL_S3_BASE for a fresh DIR)"
        udp_port_busy "$(node_port "$n")" && die "UDP port $HOST:$(node_port "$n") is in use (set CAIRN_LOCAL_NODE_BASE for a fresh DIR)"
    done
    printf 'S3_BASE=%s\nNODE_BASE=%s\n' "$S3_BASE" "$NODE_BASE" >"$DIR/ports"
    load_credentials
    load_cluster_secret

    for n in "${NODES[@]}"; do launch_node "$n" start; done

    # Wait for the pid files, then for /health/ready on every node.
    local deadline=$((SECONDS + READY_TIMEOUT))
    for n in "${NODES[@]}"; do
        while [[ -z "$(pid_of "$n")" ]]; do
            ((SECONDS < deadline)) || start_failed "node $n did not start"
            sleep 0.1
        done
    done
    log "started node1..3 (pids $(pid_of 1) $(pid_of 2) $(pid_of 3)) from $CAIRND; waiting for /health/ready"
    local ready
    while :; do
        ready=0
        for n in "${NODES[@]}"; do
            is_cairnd "$(pid_of "$n")" || start_failed "node $n exited during start-up (see $DIR/node$n.log)"
            [[ "$(http_status "$(endpoint "$n")/health/ready")" == 200 ]] && ready=$((ready + 1))
        done
        [[ $ready -eq ${#NODES[@]} ]] && break
        ((SECONDS < deadline)) || start_failed "the cluster was not ready within ${READY_TIMEOUT}s ($ready of ${#NODES[@]} nodes ready)"
        sleep 0.5
    done

    # Ready nodes should take writes; prove it through every node with a throwaway bucket.
    local probe out
    deadline=$((SECONDS + READY_TIMEOUT))
    for n in "${NODES[@]}"; do
        probe="cairn-local-probe-$(random_hex 6)"
        until out="$(cairn_cli --endpoint "$(endpoint "$n")" bucket create "$probe" 2>&1)"; do
            ((SECONDS < deadline)) || start_failed "node $n does not accept writes: $out"
            sleep 1
        done
        until out="$(cairn_cli --endpoint "$(endpoint "$n")" bucket rm "$probe" 2>&1)"; do
            ((SECONDS < deadline)) || start_failed "node $n: removing the probe bucket $probe failed: $out"
            sleep 1
        done
    done

    cat <<EOF

Cairn cluster is up (3 nodes, state in $DIR).
  node1  S3 $(endpoint 1)  internode $HOST:$(node_port 1)  pid $(pid_of 1)
  node2  S3 $(endpoint 2)  internode $HOST:$(node_port 2)  pid $(pid_of 2)
  node3  S3 $(endpoint 3)  internode $HOST:$(node_port 3)  pid $(pid_of 3)
  Logs:  $DIR/node{1,2,3}.log
EOF
    if [[ "$GENERATED" == 1 ]]; then
        echo "  Root keys were generated (CAIRN_ROOT_ACCESS_KEY / CAIRN_ROOT_SECRET_KEY were not set)."
    fi
    cat <<EOF

Use it (these lines are also in $DIR/credentials: source it):
  export AWS_ACCESS_KEY_ID=$(printf '%q' "$ACCESS_KEY")
  export AWS_SECRET_ACCESS_KEY=$(printf '%q' "$SECRET_KEY")
  export AWS_DEFAULT_REGION=us-east-1
  export CAIRN_ENDPOINT=$(endpoint 1)
  unset AWS_CA_BUNDLE   # if set, it can break plain-HTTP endpoints
  aws --endpoint-url $(endpoint 2) s3 mb s3://demo
  $CAIRN cluster status

Stop it with: $PROG stop $DIR
EOF
}

# --- status ------------------------------------------------------------------------

cmd_status() {
    [[ -d "$DIR" ]] || die "$DIR does not exist"
    DIR="$(cd "$DIR" && pwd)"
    load_ports
    local n pid state health any=""
    for n in "${NODES[@]}"; do
        pid="$(pid_of "$n")"
        if [[ -n "$pid" ]] && is_cairnd "$pid"; then
            state="running (pid $pid)"
            health="$(http_status "$(endpoint "$n")/health/ready")"
            [[ "$health" == 200 ]] && health="ready" || health="not ready ($health)"
            [[ -n "$any" ]] || any="$n"
        else
            state="stopped"; health="-"
        fi
        printf 'node%s  %-22s  S3 %s  %s\n' "$n" "$state" "$(endpoint "$n")" "$health"
    done
    [[ -n "$any" ]] || return 0
    if [[ ! -f "$DIR/credentials" ]]; then
        log "no $DIR/credentials; cannot run cairn cluster status"
        return 0
    fi
    ACCESS_KEY="$(file_var "$DIR/credentials" AWS_ACCESS_KEY_ID)"
    SECRET_KEY="$(file_var "$DIR/credentials" AWS_SECRET_ACCESS_KEY)"
    find_binaries
    echo
    cairn_cli --endpoint "$(endpoint "$any")" cluster status
}

# --- kill-node / start-node ----------------------------------------------------------

cmd_kill_node() {
    [[ -d "$DIR" ]] || die "$DIR does not exist"
    local n="$NODE" pid
    pid="$(pid_of "$n")"
    if [[ -z "$pid" ]] || ! is_cairnd "$pid"; then
        rm -f "$DIR/node$n.pid"
        die "node $n is not running"
    fi
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do is_cairnd "$pid" || break; sleep 0.1; done
    is_cairnd "$pid" && die "node $n (pid $pid) is still alive 10 s after SIGKILL"
    rm -f "$DIR/node$n.pid"
    log "killed node $n (pid $pid) with SIGKILL"
}

cmd_start_node() {
    [[ -d "$DIR" ]] || die "$DIR does not exist"
    DIR="$(cd "$DIR" && pwd)"
    umask 077
    local n="$NODE" pid
    [[ -f "$DIR/ports" && -f "$DIR/credentials" && -s "$DIR/cluster-secret" && -d "$DIR/node$n" ]] ||
        die "$DIR holds no cluster with a node $n; create it with: $PROG start $DIR"
    pid="$(pid_of "$n")"
    if [[ -n "$pid" ]] && is_cairnd "$pid"; then
        die "node $n is already running (pid $pid in $DIR/node$n.pid)"
    fi
    rm -f "$DIR/node$n.pid"

    find_binaries
    load_ports
    tcp_port_busy "$(s3_port "$n")" && die "port $HOST:$(s3_port "$n") is in use"
    udp_port_busy "$(node_port "$n")" && die "UDP port $HOST:$(node_port "$n") is in use"
    # The keys the cluster was created with (the nodes keep them whatever the environment says).
    ACCESS_KEY="$(file_var "$DIR/credentials" CAIRN_ROOT_ACCESS_KEY)"
    SECRET_KEY="$(file_var "$DIR/credentials" CAIRN_ROOT_SECRET_KEY)"
    [[ -n "$ACCESS_KEY" && -n "$SECRET_KEY" ]] || die "$DIR/credentials is damaged"
    load_cluster_secret

    launch_node "$n" start-node
    local deadline=$((SECONDS + READY_TIMEOUT))
    while [[ -z "$(pid_of "$n")" ]]; do
        ((SECONDS < deadline)) || die "node $n did not start"
        sleep 0.1
    done
    while [[ "$(http_status "$(endpoint "$n")/health/ready")" != 200 ]]; do
        is_cairnd "$(pid_of "$n")" || die "node $n exited during start-up (see $DIR/node$n.log)"
        ((SECONDS < deadline)) || die "node $n was not ready within ${READY_TIMEOUT}s (see $DIR/node$n.log)"
        sleep 0.2
    done
    log "started node $n (pid $(pid_of "$n")), ready"
}

# --- main --------------------------------------------------------------------------

[[ $# -ge 2 && -n "$2" ]] || usage
DIR="$2"
NODE=""
case "$1" in
    start | stop | status) [[ $# -eq 2 ]] || usage ;;
    kill-node | start-node)
        [[ $# -eq 3 && " ${NODES[*]} " == *" $3 "* ]] || usage
        NODE="$3"
        ;;
esac
case "$1" in
    start | start-node | status) need_cmd curl curl ;;
esac
case "$1" in
    start | start-node) need_cmd ss iproute2 ;;
esac
case "$1" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    kill-node) cmd_kill_node ;;
    start-node) cmd_start_node ;;
    *) usage ;;
esac
