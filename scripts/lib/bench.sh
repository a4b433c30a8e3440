# shellcheck shell=bash
# Sourced by the bench scripts that compare two sides on one node, one sitting
# (bench-versions.sh, bench-quotas.sh):
#
#   bench_start NAME PORT [ARGS...]
#                                a fresh cairnd from $BIN on 127.0.0.1:PORT (internode
#                                PORT+1), with ARGS, data in a temporary directory
#                                removed on exit; sets EP, WORK, OUT and the root
#                                credentials
#   bench_run LABEL SIDE ARGS... one `cairn bench --json ARGS` run, kept in $OUT under
#                                LABEL and SIDE (the caller's AWS_* keys sign it)
#   bench_table A B TITLE_A TITLE_B
#                                the medians of every LABEL for sides A and B, their
#                                ratio B/A and every run, as a Markdown table; fails
#                                when a run had errors
#
# BIN must hold cairnd and cairn.

[[ -n "${_CAIRN_BENCH_SH:-}" ]] && return 0
_CAIRN_BENCH_SH=1

BENCH_PID=""
_bench_cleanup() {
    [[ -n "$BENCH_PID" ]] && kill "$BENCH_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}

bench_start() {
    local name="$1" port="$2"
    shift 2
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-$name.XXXXXX")"
    OUT="$WORK/runs.jsonl"
    trap _bench_cleanup EXIT
    export AWS_ACCESS_KEY_ID=benchadmin AWS_SECRET_ACCESS_KEY=benchadmin-secret-key-0123
    export CAIRN_ROOT_ACCESS_KEY="$AWS_ACCESS_KEY_ID" CAIRN_ROOT_SECRET_KEY="$AWS_SECRET_ACCESS_KEY"
    EP="http://127.0.0.1:$port"
    "$BIN/cairnd" --data "$WORK/data" --s3-listen "127.0.0.1:$port" --node-listen "127.0.0.1:$((port + 1))" "$@" \
        >"$WORK/cairnd.log" 2>&1 &
    BENCH_PID=$!
    for _ in $(seq 100); do curl -fs -o /dev/null "$EP/health/ready" && return 0; sleep 0.1; done
    echo "cairnd did not become ready; its log:" >&2
    cat "$WORK/cairnd.log" >&2
    return 1
}

bench_run() {
    local label="$1" side="$2"
    shift 2
    "$BIN/cairn" bench --endpoint "$EP" --json "$@" |
        python3 -c 'import json,sys; r=json.load(sys.stdin); r["label"]=sys.argv[1]; r["side"]=sys.argv[2]; print(json.dumps(r))' \
            "$label" "$side" >>"$OUT"
}

bench_table() {
    python3 - "$OUT" "$@" <<'PY'
import json, statistics, sys
out, a, b, title_a, title_b = sys.argv[1:6]
runs = [json.loads(l) for l in open(out) if l.strip()]
cells = {}
for r in runs:
    op = r["label"].split()[0].lower()
    row = next(x for x in r["results"] if x["op"] == op)
    assert row["errors"] == 0, f"{r['label']} ({r['side']}): {row['errors']} errors"
    field, unit = ("keys_per_s", "keys/s") if op == "list" else (("mib_per_s", "MiB/s") if "MiB" in r["label"] else ("ops_per_s", "ops/s"))
    cells.setdefault(r["label"], {}).setdefault(r["side"], []).append(row[field])
    cells[r["label"]]["unit"] = unit
print(f"| workload | {title_a} | {title_b} | {b}/{a} | runs {a} | runs {b} |")
print("|---|---|---|---|---|---|")
for label, c in cells.items():
    x, y = statistics.median(c[a]), statistics.median(c[b])
    fmt = lambda xs: ", ".join(f"{v:,.0f}" for v in xs)
    print(f"| {label} | {x:,.0f} {c['unit']} | {y:,.0f} {c['unit']} | {y / x:.3f} | {fmt(c[a])} | {fmt(c[b])} |")
PY
}
