#!/usr/bin/env bash
# Smoke test: drive a real cairnd with the real aws-cli.
#
# Starts a node on a temp dir and a free port, then: s3 mb, cp of a 100 MiB random
# file up and down as a single PUT (sha256 compared), s3 ls, cp of a 1 GiB random file
# up and down as a multipart upload of 8 MiB parts (sha256 compared, ETag "<md5>-128"),
# sync of a small tree up and back, s3api put-object + head-object (ETag = MD5), a
# bucket policy that makes public/* readable by anyone (put/get/status/delete, with
# unsigned curl GETs allowed under public/ and refused elsewhere and after the delete),
# rm --recursive, rb.
#
# Usage: scripts/smoke-awscli.sh        (CAIRND_BIN=/path/to/cairnd to skip the build)
#
# aws-cli is installed into a virtual environment that later runs reuse
# (CAIRN_VENV, default ~/.cache/cairn/venv; see scripts/lib/python-env.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACCESS_KEY="smokeadmin"
SECRET_KEY="smokeadmin-secret-key-0123456789"
BUCKET="smoke-awscli"

log() { printf 'smoke-awscli: %s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------
# aws-cli comes from the scripts' own Python virtual environment (scripts/lib/python-env.sh).
# shellcheck source=scripts/lib/need.sh
. "$ROOT/scripts/lib/need.sh"
# shellcheck source=scripts/lib/python-env.sh
. "$ROOT/scripts/lib/python-env.sh"
need_cmd curl curl
python_env awscli
command -v aws >/dev/null 2>&1 || { log "aws not found after installing awscli"; exit 1; }
log "using $(command -v aws) ($(aws --version 2>&1 | head -n1))"

# --- cairnd --------------------------------------------------------------------
if [[ -n "${CAIRND_BIN:-}" ]]; then
    BIN="$CAIRND_BIN"
else
    TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
    case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
    BIN="$TARGET_DIR/debug/cairnd"
    log "building cairnd"
    (cd "$ROOT" && cargo build --quiet -p cairn-node --bin cairnd)
fi
[[ -x "$BIN" ]] || { log "cairnd binary not found at $BIN"; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-smoke-awscli.XXXXXX")"
NODE_PID=""
cleanup() {
    local rc=$?
    if [[ -n "$NODE_PID" ]] && kill -0 "$NODE_PID" 2>/dev/null; then
        kill "$NODE_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$NODE_PID" 2>/dev/null || true
        wait "$NODE_PID" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 && -f "$WORK/cairnd.stderr" ]]; then
        log "cairnd log (last 30 lines):"
        tail -n 30 "$WORK/cairnd.stderr" >&2 || true
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT

# A clean environment for both the node and the CLI: no inherited AWS_* or CAIRN_*.
for v in $(env | grep -oE '^(AWS|CAIRN)_[A-Za-z0-9_]*' || true); do unset "$v"; done

mkdir -p "$WORK/data"
CAIRN_ROOT_ACCESS_KEY="$ACCESS_KEY" CAIRN_ROOT_SECRET_KEY="$SECRET_KEY" \
    "$BIN" --data "$WORK/data" --s3-listen 127.0.0.1:0 >"$WORK/cairnd.stdout" 2>"$WORK/cairnd.stderr" &
NODE_PID=$!

ENDPOINT=""
for _ in $(seq 1 300); do
    ENDPOINT="$(sed -n 's/^  S3 endpoint:[[:space:]]*\(http[^[:space:]]*\).*/\1/p' "$WORK/cairnd.stdout" | head -n1)"
    [[ -n "$ENDPOINT" ]] && break
    kill -0 "$NODE_PID" 2>/dev/null || { log "cairnd exited during start-up"; exit 1; }
    sleep 0.1
done
[[ -n "$ENDPOINT" ]] || { log "cairnd did not print its endpoint within 30 s"; exit 1; }
log "node at $ENDPOINT (pid $NODE_PID, data $WORK/data)"

export AWS_ACCESS_KEY_ID="$ACCESS_KEY"
export AWS_SECRET_ACCESS_KEY="$SECRET_KEY"
export AWS_DEFAULT_REGION="us-east-1"
export AWS_CONFIG_FILE="$WORK/aws-config"
export AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
# Default config: every upload up to 6 GB is a single PUT.
aws configure set default.s3.multipart_threshold 6GB
aws configure set default.region us-east-1

awsc() { aws --endpoint-url "$ENDPOINT" "$@"; }

# Multipart config, for the 1 GiB step only: 8 MiB parts from 8 MiB up.
MP_CONFIG="$WORK/aws-config-multipart"
cat >"$MP_CONFIG" <<'CFG'
[default]
region = us-east-1
s3 =
    multipart_threshold = 8MB
    multipart_chunksize = 8MB
CFG
awsmp() { AWS_CONFIG_FILE="$MP_CONFIG" aws --endpoint-url "$ENDPOINT" "$@"; }

PASSED=0
FAILED=0
step() {
    local name="$1"; shift
    local out
    if out="$("$@" 2>&1)"; then
        PASSED=$((PASSED + 1))
        log "ok   $name"
    else
        FAILED=$((FAILED + 1))
        log "FAIL $name"
        printf '%s\n' "$out" | sed 's/^/    /' >&2
    fi
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# --- steps -------------------------------------------------------------------------
t_mb() { awsc s3 mb "s3://$BUCKET"; }

t_ls_buckets() {
    local out; out="$(awsc s3 ls)" || return 1
    grep -qE "[[:space:]]$BUCKET\$" <<<"$out" || { echo "bucket missing from 'aws s3 ls': $out"; return 1; }
}

t_cp_up() {
    head -c $((100 * 1024 * 1024)) /dev/urandom >"$WORK/big.bin" || return 1
    awsc s3 cp --no-progress "$WORK/big.bin" "s3://$BUCKET/big/big.bin" || return 1
}

t_cp_down() {
    awsc s3 cp --no-progress "s3://$BUCKET/big/big.bin" "$WORK/big.down" || return 1
    local a b; a="$(sha "$WORK/big.bin")"; b="$(sha "$WORK/big.down")"
    [[ "$a" == "$b" ]] || { echo "sha256 differs: up $a down $b"; return 1; }
    rm -f "$WORK/big.down"
}

t_ls_objects() {
    local out; out="$(awsc s3 ls "s3://$BUCKET/big/")" || return 1
    grep -qE "[[:space:]]104857600[[:space:]]+big\.bin\$" <<<"$out" || { echo "unexpected listing: $out"; return 1; }
}

MP_SIZE=$((1024 * 1024 * 1024))
MP_PART=$((8 * 1024 * 1024))

t_mp_up() {
    # 1 GiB of random data: a fast keystream (AES-CTR of /dev/zero) if openssl is there,
    # else /dev/urandom.
    if command -v openssl >/dev/null 2>&1; then
        head -c "$MP_SIZE" /dev/zero \
            | openssl enc -aes-128-ctr -nosalt -pass "pass:$(head -c 32 /dev/urandom | base64)" 2>/dev/null \
            | head -c "$MP_SIZE" >"$WORK/mp.bin" || return 1
    else
        head -c "$MP_SIZE" /dev/urandom >"$WORK/mp.bin" || return 1
    fi
    local size; size="$(stat -c %s "$WORK/mp.bin")"
    [[ "$size" -eq "$MP_SIZE" ]] || { echo "generated $size bytes, wanted $MP_SIZE"; return 1; }
    sha "$WORK/mp.bin" >"$WORK/mp.sha256"
    # The expected multipart ETag: md5 of the concatenated binary md5s of the 8 MiB parts.
    python3 - "$WORK/mp.bin" "$MP_PART" >"$WORK/mp.etag" <<'PY' || return 1
import hashlib, sys
path, part = sys.argv[1], int(sys.argv[2])
digests, n = b"", 0
with open(path, "rb") as f:
    while True:
        chunk = f.read(part)
        if not chunk:
            break
        digests += hashlib.md5(chunk).digest()
        n += 1
print('"%s-%d"' % (hashlib.md5(digests).hexdigest(), n))
PY
    awsmp s3 cp --no-progress "$WORK/mp.bin" "s3://$BUCKET/mp/big-1g.bin" || return 1
    rm -f "$WORK/mp.bin"
}

t_mp_head() {
    local etag len want uploads
    want="$(cat "$WORK/mp.etag")"
    etag="$(awsc s3api head-object --bucket "$BUCKET" --key "mp/big-1g.bin" --query ETag --output text)" || return 1
    [[ "$etag" == *'-128"' ]] || { echo "head-object ETag $etag does not end in -128\""; return 1; }
    [[ "$etag" == "$want" ]] || { echo "head-object ETag $etag, computed from the 8 MiB parts $want"; return 1; }
    len="$(awsc s3api head-object --bucket "$BUCKET" --key "mp/big-1g.bin" --query ContentLength --output text)" || return 1
    [[ "$len" == "$MP_SIZE" ]] || { echo "head-object ContentLength $len"; return 1; }
    # No upload is left behind.
    uploads="$(awsc s3api list-multipart-uploads --bucket "$BUCKET" --query 'Uploads[].Key' --output text)" || return 1
    [[ -z "$uploads" || "$uploads" == "None" ]] || { echo "uploads left after cp: $uploads"; return 1; }
}

t_mp_down() {
    awsmp s3 cp --no-progress "s3://$BUCKET/mp/big-1g.bin" "$WORK/mp.down" || return 1
    local a b; a="$(cat "$WORK/mp.sha256")"; b="$(sha "$WORK/mp.down")"
    rm -f "$WORK/mp.down"
    [[ -n "$a" && "$a" == "$b" ]] || { echo "sha256 differs: up $a down $b"; return 1; }
}

t_sync_up() {
    local src="$WORK/tree"
    mkdir -p "$src/sub/deeper" "$src/sub/another dir" "$src/empty-sibling"
    echo "alpha" >"$src/a.txt"
    echo "beta" >"$src/sub/b.txt"
    head -c 20000 /dev/urandom >"$src/sub/deeper/c.bin"
    echo "spaced" >"$src/with space.txt"
    head -c 7000 /dev/urandom >"$src/sub/another dir/d e.bin"
    echo "unicode" >"$src/sub/ünï.txt"
    echo "gamma" >"$src/empty-sibling/g.txt"
    awsc s3 sync --no-progress "$src" "s3://$BUCKET/tree/" || return 1
    local out n; out="$(awsc s3 ls --recursive "s3://$BUCKET/tree/")" || return 1
    n="$(grep -c . <<<"$out")"
    [[ "$n" -eq 7 ]] || { echo "expected 7 objects after sync, got $n: $out"; return 1; }
    grep -q "tree/with space.txt" <<<"$out" || { echo "key with a space missing: $out"; return 1; }
    grep -q "tree/sub/another dir/d e.bin" <<<"$out" || { echo "nested key with spaces missing: $out"; return 1; }
}

t_sync_down() {
    awsc s3 sync --no-progress "s3://$BUCKET/tree/" "$WORK/tree-back" || return 1
    diff -r "$WORK/tree" "$WORK/tree-back" || { echo "tree differs after sync back"; return 1; }
    # A second sync up must find nothing to do.
    local out; out="$(awsc s3 sync --no-progress "$WORK/tree" "s3://$BUCKET/tree/")" || return 1
    [[ -z "$out" ]] || { echo "second sync re-uploaded: $out"; return 1; }
}

t_put_head_etag() {
    head -c 12345 /dev/urandom >"$WORK/single.bin" || return 1
    local md5 put_etag head_etag len
    md5="$(md5sum "$WORK/single.bin" | cut -d' ' -f1)"
    put_etag="$(awsc s3api put-object --bucket "$BUCKET" --key "single/obj.bin" --body "$WORK/single.bin" --query ETag --output text)" || return 1
    [[ "$put_etag" == "\"$md5\"" ]] || { echo "put-object ETag $put_etag, md5 \"$md5\""; return 1; }
    head_etag="$(awsc s3api head-object --bucket "$BUCKET" --key "single/obj.bin" --query ETag --output text)" || return 1
    [[ "$head_etag" == "\"$md5\"" ]] || { echo "head-object ETag $head_etag, md5 \"$md5\""; return 1; }
    len="$(awsc s3api head-object --bucket "$BUCKET" --key "single/obj.bin" --query ContentLength --output text)" || return 1
    [[ "$len" == "12345" ]] || { echo "head-object ContentLength $len"; return 1; }
}

t_head_missing() {
    local out
    # head-object on a missing key must fail (404).
    if out="$(awsc s3api head-object --bucket "$BUCKET" --key "no/such/key" 2>&1)"; then
        echo "head-object of a missing key succeeded: $out"; return 1
    fi
    grep -q "404" <<<"$out" || { echo "expected a 404: $out"; return 1; }
}

# Unsigned requests: plain curl, no credentials.
anon_url() { printf '%s/%s/%s' "$ENDPOINT" "$BUCKET" "$1"; }
anon_status() { curl -sS -o /dev/null -w '%{http_code}' "$(anon_url "$1")"; }

t_policy_put() {
    cat >"$WORK/public-policy.json" <<JSON || return 1
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "PublicReadUnderPublic",
      "Effect": "Allow",
      "Principal": "*",
      "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::$BUCKET/public/*"
    }
  ]
}
JSON
    awsc s3api put-bucket-policy --bucket "$BUCKET" --policy "file://$WORK/public-policy.json" || return 1
}

t_policy_get() {
    local out; out="$(awsc s3api get-bucket-policy --bucket "$BUCKET" --query Policy --output text)" || return 1
    grep -q 's3:GetObject' <<<"$out" || { echo "get-bucket-policy Policy lacks s3:GetObject: $out"; return 1; }
}

t_policy_status() {
    local out; out="$(awsc s3api get-bucket-policy-status --bucket "$BUCKET" --query PolicyStatus.IsPublic --output text)" || return 1
    [[ "${out,,}" == "true" ]] || { echo "get-bucket-policy-status IsPublic: $out"; return 1; }
}

t_policy_anon_get() {
    head -c 5000 /dev/urandom >"$WORK/public.bin" || return 1
    echo "not for everyone" >"$WORK/private.txt" || return 1
    awsc s3api put-object --bucket "$BUCKET" --key "public/pub.bin" --body "$WORK/public.bin" >/dev/null || return 1
    awsc s3api put-object --bucket "$BUCKET" --key "private/secret.txt" --body "$WORK/private.txt" >/dev/null || return 1
    curl -fsS -o "$WORK/public.down" "$(anon_url public/pub.bin)" || return 1
    cmp "$WORK/public.bin" "$WORK/public.down" || { echo "unsigned GET answered other bytes"; return 1; }
    rm -f "$WORK/public.down"
}

t_policy_anon_denied() {
    local code; code="$(anon_status private/secret.txt)" || return 1
    [[ "$code" == "403" ]] || { echo "unsigned GET outside public/: HTTP $code, expected 403"; return 1; }
}

t_policy_delete() {
    awsc s3api delete-bucket-policy --bucket "$BUCKET" || return 1
    local out
    if out="$(awsc s3api get-bucket-policy --bucket "$BUCKET" 2>&1)"; then
        echo "get-bucket-policy after delete succeeded: $out"; return 1
    fi
    grep -q "NoSuchBucketPolicy" <<<"$out" || { echo "expected NoSuchBucketPolicy: $out"; return 1; }
}

t_policy_deleted_anon_denied() {
    local code; code="$(anon_status public/pub.bin)" || return 1
    [[ "$code" == "403" ]] || { echo "unsigned GET after delete-bucket-policy: HTTP $code, expected 403"; return 1; }
}

t_rb_not_empty() {
    local out
    if out="$(awsc s3 rb "s3://$BUCKET" 2>&1)"; then
        echo "rb of a non-empty bucket succeeded: $out"; return 1
    fi
    grep -q "BucketNotEmpty" <<<"$out" || { echo "expected BucketNotEmpty: $out"; return 1; }
}

t_rm_recursive() {
    awsc s3 rm --recursive "s3://$BUCKET/" || return 1
    local out; out="$(awsc s3 ls --recursive "s3://$BUCKET/")" || true
    [[ -z "$out" ]] || { echo "objects left after rm --recursive: $out"; return 1; }
}

t_rb() {
    awsc s3 rb "s3://$BUCKET" || return 1
    local out; out="$(awsc s3 ls)" || return 1
    ! grep -qE "[[:space:]]$BUCKET\$" <<<"$out" || { echo "bucket still listed after rb: $out"; return 1; }
}

# Versioning: a bucket of its own.
VBUCKET="$BUCKET-versions"
t_ver_enable() {
    awsc s3api create-bucket --bucket "$VBUCKET" >/dev/null || return 1
    awsc s3api put-bucket-versioning --bucket "$VBUCKET" --versioning-configuration Status=Enabled || return 1
    local st; st="$(awsc s3api get-bucket-versioning --bucket "$VBUCKET" --query Status --output text)" || return 1
    [[ "$st" == "Enabled" ]] || { echo "get-bucket-versioning: $st"; return 1; }
}

t_ver_overwrite() {
    printf 'first' >"$WORK/v1.txt" && printf 'second' >"$WORK/v2.txt" || return 1
    V1="$(awsc s3api put-object --bucket "$VBUCKET" --key doc.txt --body "$WORK/v1.txt" --query VersionId --output text)" || return 1
    V2="$(awsc s3api put-object --bucket "$VBUCKET" --key doc.txt --body "$WORK/v2.txt" --query VersionId --output text)" || return 1
    [[ -n "$V1" && "$V1" != "None" && "$V1" != "$V2" ]] || { echo "version ids: '$V1' '$V2'"; return 1; }
    local ids; ids="$(awsc s3api list-object-versions --bucket "$VBUCKET" --query 'Versions[].VersionId' --output text)" || return 1
    [[ "$ids" == "$V2"$'\t'"$V1" ]] || { echo "list-object-versions: '$ids', want '$V2 $V1'"; return 1; }
    awsc s3api get-object --bucket "$VBUCKET" --key doc.txt --version-id "$V1" "$WORK/v1-back.txt" >/dev/null || return 1
    cmp "$WORK/v1.txt" "$WORK/v1-back.txt" || { echo "version 1 reads back different"; return 1; }
    # Steps run in subshells: the next one reads the id from a file.
    printf '%s' "$V1" >"$WORK/v1.id"
}

t_ver_restore() {
    local V1; V1="$(cat "$WORK/v1.id")" || return 1
    awsc s3api copy-object --bucket "$VBUCKET" --key doc.txt --copy-source "$VBUCKET/doc.txt?versionId=$V1" >/dev/null || return 1
    awsc s3 cp "s3://$VBUCKET/doc.txt" "$WORK/restored.txt" >/dev/null || return 1
    cmp "$WORK/v1.txt" "$WORK/restored.txt" || { echo "restored content differs"; return 1; }
    local n; n="$(awsc s3api list-object-versions --bucket "$VBUCKET" --query 'length(Versions)' --output text)" || return 1
    [[ "$n" == "3" ]] || { echo "expected 3 versions after the restore, got $n"; return 1; }
}

t_tagging() {
    awsc s3api put-object-tagging --bucket "$VBUCKET" --key doc.txt \
        --tagging 'TagSet=[{Key=project,Value=smoke},{Key=stage,Value=review}]' >/dev/null || return 1
    local tags; tags="$(awsc s3api get-object-tagging --bucket "$VBUCKET" --key doc.txt --query 'TagSet[].[Key,Value]' --output text)" || return 1
    [[ "$tags" == "project"$'\t'"smoke"$'\n'"stage"$'\t'"review" ]] || { echo "get-object-tagging: '$tags'"; return 1; }
    local V1; V1="$(cat "$WORK/v1.id")" || return 1
    local old; old="$(awsc s3api get-object-tagging --bucket "$VBUCKET" --key doc.txt --version-id "$V1" --query 'length(TagSet)' --output text)" || return 1
    [[ "$old" == "0" ]] || { echo "the old version has tags: $old"; return 1; }
    awsc s3api put-object --bucket "$VBUCKET" --key tagged.txt --body "$WORK/v1.txt" --tagging 'a=1&b=2' >/dev/null || return 1
    local n; n="$(awsc s3api get-object-tagging --bucket "$VBUCKET" --key tagged.txt --query 'length(TagSet)' --output text)" || return 1
    [[ "$n" == "2" ]] || { echo "x-amz-tagging on put-object: $n tags"; return 1; }
}

t_lock() {
    local LB="$BUCKET-lock"
    awsc s3api create-bucket --bucket "$LB" --object-lock-enabled-for-bucket >/dev/null || return 1
    local until; until="$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)"
    local id; id="$(awsc s3api put-object --bucket "$LB" --key kept.txt --body "$WORK/v1.txt" \
        --object-lock-mode GOVERNANCE --object-lock-retain-until-date "$until" --query VersionId --output text)" || return 1
    local mode; mode="$(awsc s3api get-object-retention --bucket "$LB" --key kept.txt --query Retention.Mode --output text)" || return 1
    [[ "$mode" == "GOVERNANCE" ]] || { echo "get-object-retention: $mode"; return 1; }
    if awsc s3api delete-object --bucket "$LB" --key kept.txt --version-id "$id" >/dev/null 2>&1; then
        echo "a GOVERNANCE version was deleted without a bypass"; return 1
    fi
    awsc s3api delete-object --bucket "$LB" --key kept.txt --version-id "$id" --bypass-governance-retention >/dev/null || return 1
    awsc s3api delete-bucket --bucket "$LB" || return 1
}

t_ver_marker_and_cleanup() {
    awsc s3 rm "s3://$VBUCKET/doc.txt" >/dev/null || return 1
    local m; m="$(awsc s3api list-object-versions --bucket "$VBUCKET" --query 'DeleteMarkers[0].IsLatest' --output text)" || return 1
    [[ "$m" == "True" ]] || { echo "no latest delete marker: $m"; return 1; }
    local key id listing
    listing="$(awsc s3api list-object-versions --bucket "$VBUCKET" --query '[Versions,DeleteMarkers][].[Key,VersionId]' --output text)" || return 1
    while read -r key id; do
        awsc s3api delete-object --bucket "$VBUCKET" --key "$key" --version-id "$id" >/dev/null || return 1
    done <<<"$listing"
    awsc s3api delete-bucket --bucket "$VBUCKET" || return 1
}

step "s3 mb" t_mb
step "s3 ls (buckets)" t_ls_buckets
step "s3 cp 100 MiB up" t_cp_up
step "s3 cp 100 MiB down, sha256 equal" t_cp_down
step "s3 ls (objects, size)" t_ls_objects
step "s3 cp 1 GiB up, multipart (8 MiB parts)" t_mp_up
step "s3api head-object of the multipart object: ETag <md5>-128" t_mp_head
step "s3 cp 1 GiB down, sha256 equal" t_mp_down
rm -f "$WORK/mp.bin" "$WORK/mp.down"
step "s3 sync tree up" t_sync_up
step "s3 sync tree down, identical; re-sync is a no-op" t_sync_down
step "s3api put-object/head-object ETag = md5" t_put_head_etag
step "s3api head-object missing key -> 404" t_head_missing
step "s3api put-bucket-policy (public/* readable by anyone)" t_policy_put
step "s3api get-bucket-policy has s3:GetObject" t_policy_get
step "s3api get-bucket-policy-status IsPublic" t_policy_status
step "unsigned curl GET under public/, bytes equal" t_policy_anon_get
step "unsigned curl GET outside public/ -> 403" t_policy_anon_denied
step "s3api delete-bucket-policy, get -> NoSuchBucketPolicy" t_policy_delete
step "unsigned curl GET under public/ after delete -> 403" t_policy_deleted_anon_denied
step "s3 rb non-empty -> BucketNotEmpty" t_rb_not_empty
step "s3 rm --recursive" t_rm_recursive
step "s3 rb" t_rb
step "versioning: put-bucket-versioning Enabled" t_ver_enable
step "versioning: overwrite, list-object-versions, get an old version" t_ver_overwrite
step "versioning: restore an old version with copy-object" t_ver_restore
step "tagging: put/get-object-tagging per version, put-object --tagging" t_tagging
step "object lock: GOVERNANCE retention, delete refused, --bypass-governance-retention" t_lock
step "versioning: delete marker; remove every version; delete-bucket" t_ver_marker_and_cleanup

printf 'smoke-awscli: %d passed, %d failed\n' "$PASSED" "$FAILED"
[[ "$FAILED" -eq 0 ]]
