#!/usr/bin/env bash
# HTTP fuzzing of one real cairnd: randomised, mostly correctly SigV4-signed S3 requests
# (mutated methods, paths, names, query strings, headers, bodies and framing) against a
# node of its own on 127.0.0.1, with its data in a temporary directory.
#
#   scripts/fuzz-http.sh [--seed S] [--count N] [--seconds T] [--workers W] [--only I,J-K] [--show] ...
#
#   --seed S       random seed (default cairn-fuzz-1); request i depends only on (S, i)
#   --count N      requests to send (default 100000)
#   --seconds T    hard time bound of the request phase (default 300)
#   --workers W    concurrent keep-alive connections (default 8)
#   --only I,J-K   send only these requests (to reproduce a failure)
#   --show         print the requests instead of sending them (with --only or --count)
#   --fail-fast    stop at the first failure; --keep keeps the node's directory
#
# Fails (exit 1) on a 5xx answer other than 501 and 503 (printing the request and the
# answer), a panic in the node's log, or when the node dies or stops answering
# /health/live. Ends with a summary (status codes, peak RSS) and the line
# `fuzz: N passed, F failed`. The code is scripts/fuzz/fuzz_http.py (Python 3 standard
# library only).
#
# Environment: CAIRND_BIN (default target/debug/cairnd under CARGO_TARGET_DIR or ./target;
# built with `cargo build -p cairn-node --bin cairnd` when missing), CAIRN_FUZZ_LOG (the
# node's CAIRN_LOG filter).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${CAIRND_BIN:-}" && "$CAIRND_BIN" != /* ]]; then
    CAIRND_BIN="$PWD/$CAIRND_BIN"
fi
cd "$ROOT"
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
need_cmd python3 python3

for arg in "$@"; do
    case "$arg" in
        -h | --help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --show) exec python3 "$ROOT/scripts/fuzz/fuzz_http.py" "$@" ;;
    esac
done

BIN="${CAIRND_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/cairnd}"
if [[ ! -x "$BIN" ]]; then
    if [[ -n "${CAIRND_BIN:-}" ]]; then
        echo "fuzz-http: CAIRND_BIN=$BIN does not exist" >&2
        exit 2
    fi
    echo "fuzz-http: building cairnd (cargo build -p cairn-node --bin cairnd)" >&2
    # cargo waits for a build already running in this workspace to release its lock.
    cargo build -q -p cairn-node --bin cairnd
fi

exec python3 "$ROOT/scripts/fuzz/fuzz_http.py" --bin "$BIN" "$@"
