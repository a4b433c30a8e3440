#!/usr/bin/env python3
"""Load, chaos and verification for scripts/soak.sh (boto3 against a local 3-node cluster).

    load.py run    --endpoints E1,E2,E3 --bucket B --state FILE --journal FILE --seconds S ...
    load.py chaos  --dir DIR --cluster-script PATH --stop-file FILE --log FILE ...
    load.py verify --endpoints E1,E2,E3 --bucket B --state FILE --summary FILE

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.

`run` has WRITERS threads; each owns its keys (w<t>/k<n>) and does one op at a time on
them, so what a key may hold follows from the answers: after an acknowledged op exactly
one state (a sha256, or absent); after an op without a good answer, the states before it
plus the one it attempted. A key is retired (never touched again) after such an op, or
after an op that the SDK had to retry: an earlier attempt may still be running in the
server and land later, and nothing may come after it. Every attempt is appended to the
journal (JSON lines); the books are written to --state at the end.

`verify` reads every key back through a random node and sorts it into verified / lost /
wrong, see soak.sh.
"""

import argparse
import hashlib
import io
import json
import os
import random
import sys
import threading
import time

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

KIB = 1024
MIB = 1024 * KIB
# The shard file header (erasure/src/header.rs): corruption goes past it.
SHARD_HEADER = 48


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


def client(endpoint):
    cfg = Config(
        region_name="us-east-1",
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        tcp_keepalive=True,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        config=cfg,
    )


def describe(err):
    if isinstance(err, botocore.exceptions.ClientError):
        r = err.response
        return "HTTP %s %s" % (r.get("ResponseMetadata", {}).get("HTTPStatusCode"), r.get("Error", {}).get("Code"))
    return "%s: %s" % (type(err).__name__, str(err)[:200])


def is_404(err):
    if not isinstance(err, botocore.exceptions.ClientError):
        return False
    r = err.response
    return r.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404 and r.get("Error", {}).get("Code") in (
        "NoSuchKey",
        "404",
    )


def retries(resp):
    return resp.get("ResponseMetadata", {}).get("RetryAttempts", 0)


# ---------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------


class Book:
    """What one key may hold. States: a sha256 hex, or None for absent."""

    def __init__(self):
        self.allowed = [None]
        self.retired = False
        self.inflight = None  # (op, state) while an op is running
        self.history = []

    def known(self):
        return self.allowed[0] if len(self.allowed) == 1 else "?"

    def to_json(self):
        allowed = list(self.allowed)
        if self.inflight is not None and self.inflight[1] not in allowed:
            allowed.append(self.inflight[1])
        return {"allowed": allowed, "history": self.history + (["in flight at the end"] if self.inflight else [])}


class Load:
    def __init__(self, args):
        self.args = args
        self.endpoints = args.endpoints.split(",")
        self.deadline = time.monotonic() + args.seconds
        self.lock = threading.Lock()
        self.ops_started = 0
        self.written = 0
        self.acknowledged = 0
        self.counts = {}  # op -> [ok, failed]
        self.bad_reads = []  # reads during the run that matched no allowed state
        self.failures = {}  # "op: error" -> count, for the summary
        self.books = {}
        self.journal = open(args.journal, "a", buffering=1)

    def take_op(self):
        with self.lock:
            if self.ops_started >= self.args.max_ops or time.monotonic() > self.deadline:
                return False
            self.ops_started += 1
            return True

    def record(self, **entry):
        entry["t"] = round(time.time(), 3)
        with self.lock:
            self.journal.write(json.dumps(entry) + "\n")
            c = self.counts.setdefault(entry["op"], [0, 0])
            c[0 if entry["acked"] else 1] += 1
            if not entry["acked"]:
                # Connection errors name the URL; keep only the kind of error.
                what = "%s: %s" % (entry["op"], entry.get("err", "").split(":")[0].split(" via ")[0])
                if entry.get("err", "").startswith("HTTP"):
                    what = "%s: %s" % (entry["op"], entry["err"])
                self.failures[what] = self.failures.get(what, 0) + 1
            if entry["op"] in ("put", "multipart"):
                self.written += 1
                self.acknowledged += 1 if entry["acked"] else 0

    def size(self, rng):
        r = rng.random()
        if r < 0.35:
            return rng.randint(KIB, 4 * KIB)
        if r < 0.80:
            return rng.randint(4 * KIB, 512 * KIB)
        return rng.randint(512 * KIB, 4 * MIB)

    def writer(self, t):
        rng = random.Random(self.args.seed * 1000 + t)
        clients = [client(e) for e in self.endpoints]
        mine = {}
        n = 0
        transfer = TransferConfig(
            multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=1, use_threads=False
        )

        def new_key():
            nonlocal n
            n += 1
            key = "w%d/k%d" % (t, n)
            mine[key] = Book()
            with self.lock:
                self.books[key] = mine[key]
            return key

        while self.take_op():
            live = [k for k, b in mine.items() if not b.retired]
            present = [k for k in live if mine[k].known() not in (None, "?")]
            ci = rng.randrange(len(clients))
            c, endpoint = clients[ci], self.endpoints[ci]
            r = rng.random()
            if r < 0.45 or not live:
                op, key = "put", new_key()
            elif r < 0.65:
                op, key = "put", rng.choice(live)
            elif r < 0.77 and present:
                op, key = "delete", rng.choice(present)
            elif r < 0.81:
                op, key = "multipart", new_key()
            elif present:
                op, key = "read", rng.choice(present)
            else:
                op, key = "put", new_key()
            book = mine[key]

            if op == "read":
                want = book.known()
                try:
                    resp = c.get_object(Bucket=self.args.bucket, Key=key)
                    got = hashlib.sha256(resp["Body"].read()).hexdigest()
                except Exception as e:  # a node may be down: not a verdict
                    self.record(op="read", key=key, endpoint=endpoint, acked=False, err=describe(e))
                    continue
                ok = got == want
                self.record(op="read", key=key, endpoint=endpoint, acked=True, sha256=got, matches=ok)
                if not ok:
                    msg = "%s read through %s: sha256 %s, want %s; history %s" % (key, endpoint, got, want, book.history)
                    log("WRONG READ", msg)
                    with self.lock:
                        self.bad_reads.append(msg)
                continue

            if op == "delete":
                state, size, body = None, 0, None
            else:
                size = self.size(rng) if op == "put" else rng.randint(5 * MIB + 1, 11 * MIB)
                body = rng.randbytes(size)
                state = hashlib.sha256(body).hexdigest()
            book.inflight = (op, state)
            err, retried = None, 0
            try:
                if op == "put":
                    retried = retries(c.put_object(Bucket=self.args.bucket, Key=key, Body=body))
                elif op == "delete":
                    retried = retries(c.delete_object(Bucket=self.args.bucket, Key=key))
                else:
                    c.upload_fileobj(io.BytesIO(body), self.args.bucket, key, Config=transfer)
            except Exception as e:
                err = describe(e)
            what = "%s %s (%d bytes) via %s" % (op, (state or "-")[:12], size, endpoint)
            if err is None:
                book.allowed = [state]
                book.history.append(what + " acknowledged" + (" after %d retries" % retried if retried else ""))
                if retried or op == "multipart":
                    book.retired = True
            else:
                if state not in book.allowed:
                    book.allowed.append(state)
                book.history.append(what + " FAILED: " + err)
                book.retired = True
            book.inflight = None
            self.record(op=op, key=key, endpoint=endpoint, sha256=state, size=size, acked=err is None, err=err,
                        retries=retried)

    def run(self):
        c = client(self.endpoints[0])
        give_up = time.monotonic() + 60
        while True:
            try:
                c.create_bucket(Bucket=self.args.bucket)
                break
            except botocore.exceptions.ClientError as e:
                if e.response.get("Error", {}).get("Code") in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    break
                err = e
            except Exception as e:
                err = e
            if time.monotonic() > give_up:
                log("cannot create bucket %s: %s" % (self.args.bucket, describe(err)))
                sys.exit(1)
            time.sleep(1)
        log("load: %d writers for %ds (at most %d ops) on %s" % (
            self.args.threads, self.args.seconds, self.args.max_ops, ",".join(self.endpoints)))
        threads = [threading.Thread(target=self.writer, args=(t,), daemon=True) for t in range(self.args.threads)]
        for th in threads:
            th.start()
        last = time.monotonic()
        # Every op ends within its timeouts; 180 s past the deadline is a hang.
        hard_end = self.deadline + 180
        while any(th.is_alive() for th in threads) and time.monotonic() < hard_end:
            time.sleep(0.5)
            if time.monotonic() - last >= 30:
                last = time.monotonic()
                with self.lock:
                    log("load: %d ops, written=%d acknowledged=%d %s" % (
                        self.ops_started, self.written, self.acknowledged, json.dumps(self.counts)))
        hung = sum(th.is_alive() for th in threads)
        if hung:
            log("load: %d writers still busy 180 s after the deadline (a hung request?); their ops count as "
                "unacknowledged" % hung)
        with self.lock:
            state = {
                "written": self.written,
                "acknowledged": self.acknowledged,
                "counts": self.counts,
                "bad_reads": self.bad_reads,
                "hung_writers": hung,
                "keys": {k: b.to_json() for k, b in self.books.items()},
            }
        with open(self.args.state + ".tmp", "w") as f:
            json.dump(state, f)
        os.replace(self.args.state + ".tmp", self.args.state)
        log("load: done: %d ops, written=%d acknowledged=%d %s" % (
            self.ops_started, self.written, self.acknowledged, json.dumps(self.counts)))
        for what, n in sorted(self.failures.items(), key=lambda x: -x[1]):
            log("load: failed %4d x %s" % (n, what))


# ---------------------------------------------------------------------------------------
# chaos
# ---------------------------------------------------------------------------------------

def segment_shards(node_dir):
    """Live shard records in the segment files under node_dir, by the format documented in
    erasure/src/segment/mod.rs: (blob id hex, segment file, payload offset, payload length)."""
    out = []
    for root, _dirs, files in os.walk(node_dir):
        if os.path.basename(root) != "segments":
            continue
        live = {}
        for name in sorted(f for f in files if f.endswith(".seg")):
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    b = f.read()
            except OSError:
                continue
            at = 0
            while at + 44 <= len(b) and b[at:at + 4] == b"CSG1":
                kind, shard = b[at + 4], int.from_bytes(b[at + 6:at + 8], "little")
                blob = "%032x" % int.from_bytes(b[at + 8:at + 24], "little")
                n = int.from_bytes(b[at + 24:at + 28], "little")
                if at + 44 + n > len(b):
                    break
                if kind == 1:
                    live[(blob, shard)] = (blob, path, at + 44, n)
                elif kind == 2:
                    live.pop((blob, shard), None)
                at += 44 + n
        out += live.values()
    return out

def chaos(args):
    rng = random.Random(args.seed)
    out = open(args.log, "a", buffering=1)

    def say(msg):
        line = "%s chaos: %s" % (time.strftime("%Y-%m-%d %H:%M:%S"), msg)
        out.write(line + "\n")
        print(line, file=sys.stderr, flush=True)

    def stopping():
        return os.path.exists(args.stop_file)

    def sleep(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end and not stopping():
            time.sleep(0.2)

    def cluster(cmd, n):
        import subprocess

        r = subprocess.run([args.cluster_script, cmd, args.dir, str(n)], capture_output=True, text=True)
        return r.returncode, (r.stderr or r.stdout).strip().replace("\n", " | ")

    def alive(n):
        try:
            pid = int(open(os.path.join(args.dir, "node%d.pid" % n)).read().strip())
            os.kill(pid, 0)
            return True
        except (OSError, ValueError):
            return False

    corrupted = set()  # object ids with one damaged shard already
    while not stopping():
        sleep(rng.uniform(args.min_interval, args.max_interval))
        if stopping():
            break
        if not all(alive(n) for n in (1, 2, 3)):
            say("a node is down; no action this time")
            continue
        if rng.random() < 0.5:
            n = rng.randint(1, 3)
            rc, msg = cluster("kill-node", n)
            say("kill -9 node %d: %s" % (n, msg if rc == 0 else "FAILED (%s)" % msg))
            down = rng.uniform(3, 8)
            time.sleep(down)  # not cut short by the stop file: the node must come back
            rc, msg = cluster("start-node", n)
            say("restart node %d after %.1fs: %s" % (n, down, msg if rc == 0 else "FAILED (%s)" % msg))
        else:
            n = rng.randint(1, 3)
            candidates = []  # (blob id, file, where the shard starts in it, its length)
            for root, _dirs, files in os.walk(os.path.join(args.dir, "node%d" % n)):
                parent = os.path.basename(root)
                if os.path.basename(os.path.dirname(root)) != "objects" or len(parent) != 2:
                    continue
                for name in files:
                    stem, dot, idx = name.partition(".")
                    if dot and idx.isdigit() and stem not in corrupted:
                        path = os.path.join(root, name)
                        try:
                            candidates.append((stem, path, 0, os.path.getsize(path)))
                        except OSError:
                            pass
            candidates += [c for c in segment_shards(os.path.join(args.dir, "node%d" % n)) if c[0] not in corrupted]
            if not candidates:
                say("node %d: no shard to corrupt" % n)
                continue
            stem, path, base, size = rng.choice(candidates)
            try:
                if size > SHARD_HEADER + 16 and rng.random() < 0.6:
                    off = rng.randint(SHARD_HEADER, size - 8)
                    count = rng.randint(1, 8)
                    with open(path, "r+b") as f:
                        f.seek(base + off)
                        old = f.read(count)
                        f.seek(base + off)
                        f.write(bytes(b ^ 0xFF for b in old))
                    what = "flipped %d bytes at offset %d of %d" % (len(old), off, size)
                elif base == 0:
                    new = rng.randint(0, max(0, size - 1))
                    os.truncate(path, new)
                    what = "truncated from %d to %d bytes" % (size, new)
                else:
                    # A record in a segment cannot be cut short alone: its tail is zeroed instead.
                    new = rng.randint(0, max(0, size - 1))
                    with open(path, "r+b") as f:
                        f.seek(base + new)
                        f.write(bytes(size - new))
                    what = "zeroed from %d of %d bytes (segment record)" % (new, size)
            except OSError as e:  # deleted meanwhile
                say("node %d: %s vanished before it could be damaged (%s)" % (n, path, e))
                continue
            corrupted.add(stem)
            say("node %d: %s: %s" % (n, path, what))
    say("stopped (%d objects with a damaged shard)" % len(corrupted))


# ---------------------------------------------------------------------------------------
# verify
# ---------------------------------------------------------------------------------------


def verify(args):
    with open(args.state) as f:
        state = json.load(f)
    endpoints = args.endpoints.split(",")
    keys = sorted(state["keys"].items())
    lock = threading.Lock()
    result = {"verified": 0, "lost": 0, "wrong": 0, "in_doubt_ok": 0, "deleted_ok": 0}
    problems = []

    def read(clients, key):
        """'absent', ('present', sha256) or ('error', text), trying each node in turn."""
        last = None
        for c, e in clients:
            try:
                resp = c.get_object(Bucket=args.bucket, Key=key)
                h = hashlib.sha256()
                for chunk in resp["Body"].iter_chunks(1 << 20):
                    h.update(chunk)
                return ("present", h.hexdigest())
            except Exception as err:
                if is_404(err):
                    return ("absent", None)
                last = "%s via %s" % (describe(err), e)
        return ("error", last)

    def check(key, book, clients):
        allowed = book["allowed"]
        random.shuffle(clients)
        kind, val = read(clients, key)
        known = len(allowed) == 1
        if kind == "present":
            if val not in allowed:
                verdict = "wrong"
            else:
                verdict = "verified" if known else "in_doubt_ok"
        elif kind == "absent":
            if None not in allowed:
                verdict = "lost"
            else:
                verdict = "deleted_ok" if known else "in_doubt_ok"
        elif None not in allowed:
            verdict = "lost"  # an acknowledged object (some version of it) cannot be read
        else:
            verdict = "wrong"  # neither absent nor whole
        with lock:
            result[verdict] += 1
            if verdict in ("lost", "wrong"):
                problems.append("%s %s: read %s %s; allowed %s; history %s" % (
                    verdict.upper(), key, kind, val, allowed, book["history"]))

    todo = list(keys)

    def worker():
        clients = [(client(e), e) for e in endpoints]
        while True:
            with lock:
                if not todo:
                    return
                key, book = todo.pop()
            check(key, book, list(clients))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()

    for msg in state.get("bad_reads", []):
        problems.append("WRONG READ during the load: " + msg)
    result["wrong"] += len(state.get("bad_reads", []))
    for p in sorted(problems):
        log(p)
    log("verify: %d keys: %s" % (len(keys), json.dumps(result)))
    line = "soak: written=%d acknowledged=%d verified=%d lost=%d wrong=%d" % (
        state["written"], state["acknowledged"], result["verified"], result["lost"], result["wrong"])
    with open(args.summary, "w") as f:
        f.write(line + "\n")
    ok = result["lost"] == 0 and result["wrong"] == 0 and state["acknowledged"] > 0
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--endpoints", required=True)
    r.add_argument("--bucket", default="soak")
    r.add_argument("--state", required=True)
    r.add_argument("--journal", required=True)
    r.add_argument("--seconds", type=int, required=True)
    r.add_argument("--max-ops", type=int, default=100000)
    r.add_argument("--threads", type=int, default=4)
    r.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    c = sub.add_parser("chaos")
    c.add_argument("--dir", required=True)
    c.add_argument("--cluster-script", required=True)
    c.add_argument("--stop-file", required=True)
    c.add_argument("--log", required=True)
    c.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    c.add_argument("--min-interval", type=float, default=10, help="seconds between actions, at least")
    c.add_argument("--max-interval", type=float, default=20, help="seconds between actions, at most")
    v = sub.add_parser("verify")
    v.add_argument("--endpoints", required=True)
    v.add_argument("--bucket", default="soak")
    v.add_argument("--state", required=True)
    v.add_argument("--summary", required=True)
    args = p.parse_args()
    if args.cmd == "run":
        log("load: seed %d" % args.seed)
        Load(args).run()
        return 0
    if args.cmd == "chaos":
        log("chaos: seed %d" % args.seed)
        chaos(args)
        return 0
    return verify(args)


if __name__ == "__main__":
    sys.exit(main())
