#!/usr/bin/env python3
"""HTTP fuzzing of one real cairnd (Python 3 standard library only).

Starts its own cairnd on 127.0.0.1 (free ports, data in a temporary directory),
creates two buckets, a few objects and multipart uploads, then sends a bounded
number of randomised requests built from valid S3 requests and mutated: method,
path, bucket and key names, query strings and subresources, headers (Range,
Content-Length, Content-MD5, x-amz-checksum-*, x-amz-content-sha256, x-amz-date,
x-amz-copy-source, metadata, Expect, ...), bodies (random bytes, truncated and
malformed XML and JSON, aws-chunked framing with bad chunk sizes) and HTTP
framing. Most requests are SigV4-signed correctly (header or presigned URL), so
they get past authentication; some are unsigned, some carry broken signatures.

Request i is generated from its own random stream, seeded by (--seed, i), so the
same seed gives the same requests whatever the concurrency; `--only I` replays
request I alone against a fresh node (`--show` prints it).

It fails (exit status 1) on any 5xx answer other than 501 and 503, on a panic in
the node's log, or when the node dies or stops answering /health/live; it prints
the first requests of each kind of 5xx answer with their answers, every panic
location with the requests whose connection dropped just before, and keeps the
node's log. At the end it checks the node is alive (GET /health/live, a signed
ListBuckets) and prints the status codes, the 5xx answers by request shape, the
node's peak RSS (VmHWM) and, last, `fuzz: N passed, F failed`: N is the requests
sent less those answered with a failing 5xx, F counts those answers, panics and
node failures (so a clean run is `fuzz: <requests sent> passed, 0 failed`).

Every connection goes to 127.0.0.1; every loop is bounded in count and time.
"""

import argparse
import base64
import collections
import ctypes
import hashlib
import hmac
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import zlib

ACCESS_KEY = "fuzzroot"
SECRET_KEY = "fuzzroot-secret-key-0123456789"
REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAIN = "fuzz-main"
AUX = "fuzz-aux"
TMP_BUCKETS = ["fuzz-tmp-%d" % i for i in range(6)]
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def log(msg):
    print("fuzz: %s" % msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Checksums the standard library does not have
# ---------------------------------------------------------------------------


def _crc_table(poly, bits):
    mask = (1 << bits) - 1
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c & mask)
    return table


_CRC32C = _crc_table(0x82F63B78, 32)


def crc32c(data):
    c = 0xFFFFFFFF
    t = _CRC32C
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def b64(data):
    return base64.b64encode(data).decode()


def checksum_value(alg, body):
    """The base64 x-amz-checksum-<alg> value of body (random for unknown algorithms)."""
    if alg == "crc32":
        return b64((zlib.crc32(body) & 0xFFFFFFFF).to_bytes(4, "big"))
    if alg == "crc32c":
        return b64(crc32c(body).to_bytes(4, "big"))
    if alg == "sha1":
        return b64(hashlib.sha1(body).digest())
    if alg == "sha256":
        return b64(hashlib.sha256(body).digest())
    return b64(hashlib.md5(alg.encode() + body).digest()[:8])  # some value for algorithms the server has not


# ---------------------------------------------------------------------------
# SigV4
# ---------------------------------------------------------------------------

_KEY_CACHE = {}


def signing_key(secret, date, region, service):
    k = (secret, date, region, service)
    key = _KEY_CACHE.get(k)
    if key is None:
        key = ("AWS4" + secret).encode()
        for part in (date, region, service, "aws4_request"):
            key = hmac.new(key, part.encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
        if len(_KEY_CACHE) > 64:
            _KEY_CACHE.clear()
        _KEY_CACHE[k] = key
    return key


def hmac_hex(key, msg):
    return hmac.new(key, msg.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


def canonical_uri(raw_path):
    return urllib.parse.quote(urllib.parse.unquote_to_bytes(raw_path), safe="/")


def canonical_query(query, skip_signature=False):
    if not query:
        return ""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, errors="replace")
    enc = [
        (urllib.parse.quote(k, safe=""), urllib.parse.quote(v, safe=""))
        for k, v in pairs
        if not (skip_signature and k == "X-Amz-Signature")
    ]
    enc.sort(key=lambda p: p[0])
    return "&".join("%s=%s" % p for p in enc)


def canonical_headers(headers, names):
    vals = {}
    for n, v in headers:
        ln = n.lower()
        if ln in names:
            vals.setdefault(ln, []).append(" ".join(v.split()))
    return "".join("%s:%s\n" % (n, ",".join(vals.get(n, []))) for n in names)


def string_to_sign(method, path, query, headers, names, payload, amz_date, scope, presigned=False):
    creq = "\n".join(
        [
            method,
            canonical_uri(path),
            canonical_query(query, skip_signature=presigned),
            canonical_headers(headers, names),
            ";".join(names),
            payload,
        ]
    )
    digest = hashlib.sha256(creq.encode("utf-8", "surrogateescape")).hexdigest()
    return "AWS4-HMAC-SHA256\n%s\n%s\n%s" % (amz_date, scope, digest)


def amz_now():
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------


class Req:
    """One request: built by a template, changed by mutations, then signed and framed."""

    def __init__(self, op, method, path, query=None, body=b"", headers=None):
        self.op = op
        self.method = method
        self.path = path  # raw request path, percent-encoded as sent
        self.query = query  # raw query string (without '?'), or None
        self.body = body
        self.headers = list(headers or [])  # [name, value] in order
        self.notes = []  # mutation names
        self.payload = None  # x-amz-content-sha256 to sign (None: sha256 of the body)
        self.stream = None  # aws-chunked body built after signing: dict
        self.extra_signed = set()
        self.auth = "sigv4"
        self.host = None  # Host header value (None: 127.0.0.1:port)
        self.port = 0
        self.no_host = False
        self.version = "HTTP/1.1"
        self.cl = "auto"  # "auto", "none", or a literal Content-Length value
        self.cl_extra = None  # a second Content-Length header
        self.te = None  # "chunked" body framing, or a literal Transfer-Encoding value
        self.te_broken = None  # how to break the chunked framing
        self.close = False  # close the connection after the answer
        self.half_close = False  # shut down our write side after sending
        self.raw = None  # bytes sent as they are (no signing, no framing)
        self.raw_target = False  # send the path and query unencoded (non-ASCII bytes, spaces)
        self.head = method == "HEAD"

    def header(self, name):
        ln = name.lower()
        for n, v in self.headers:
            if n.lower() == ln:
                return v
        return None

    def set(self, name, value):
        self.drop(name)
        self.headers.append([name, value])

    def add(self, name, value):
        self.headers.append([name, value])

    def drop(self, name):
        ln = name.lower()
        self.headers = [h for h in self.headers if h[0].lower() != ln]

    def host_value(self):
        return self.host if self.host is not None else "127.0.0.1:%d" % self.port

    def wire_headers(self):
        """Headers as sent (but Content-Length and framing ones)."""
        hs = [] if self.no_host else [("Host", self.host_value())]
        return hs + [(n, v) for n, v in self.headers if n.lower() != "host" or self.host is None]

    def target(self):
        return self.path + ("?" + self.query if self.query is not None else "")

    def add_query(self, part):
        self.query = part if not self.query else self.query + "&" + part


def q(s, safe="/~"):
    """Percent-encode a str or bytes path component the way SDKs do."""
    return urllib.parse.quote(s, safe=safe)


def qv(s):
    return urllib.parse.quote(s, safe="~")


# ---------------------------------------------------------------------------
# Name and value generators
# ---------------------------------------------------------------------------

UNICODE_BITS = [
    "é", "e\u0301", "ü", "ñ", "ключ", "键", "日本語", "🪨", "👩‍👩‍👧", "\u202e", "\u200d", "\ufeff",
    "\uffff", "\U0010ffff", "\u00a0", "ǅ", "ß", "İ", "ﬁ", "\u0000", "\t", "\u2028", "Å", "Å",
]
RAW_ESCAPES = [
    "%", "%%", "%zz", "%2", "%00", "%0A", "%0D%0A", "%2F", "%2f", "%5C", "%2e", "%2E%2E", "%C3%28",
    "%ED%A0%80", "%F4%90%80%80", "%C0%AE", "%C0%AF", "%FF", "%FE%FF", "%25", "%252F", "%3F", "%23", "%20",
    "+", "%2B", "%7F", "%01", "%E2%80%AE", "%EF%BB%BF",
]


def rand_token(rng, n=8, alphabet="abcdefghijklmnopqrstuvwxyz0123456789"):
    return "".join(rng.choice(alphabet) for _ in range(n))


def weird_key(rng):
    """An object key, percent-encoded for the path, often hostile."""
    c = rng.randrange(22)
    if c == 0:
        return q(rng.choice(UNICODE_BITS) + rand_token(rng, 3) + rng.choice(UNICODE_BITS))
    if c == 1:
        return rng.choice(["..", "../x", "a/../../b", "./a", "a/./b", "../../../../etc/passwd", ".", "...", "a/..",
                           "%2e%2e/%2e%2e/etc/passwd", "..%2F..%2Fx", ".%2e/x", "%2e", "%2E%2E"])
    if c == 2:
        return rng.choice(["a//b", "/leading", "trailing/", "//", "/", "a///", "dir/", "a/b/c/d/e/f/g/h/i/j/k"])
    if c == 3:
        n = rng.choice([1023, 1024, 1025, 2048, 4096, 8192, 20000])
        return "k" * n
    if c == 4:
        n = rng.choice([256, 512, 1024, 5000])
        return q("ü" * n)
    if c == 5:
        return "k" + rng.choice(RAW_ESCAPES) + rand_token(rng, 3) + rng.choice(RAW_ESCAPES)
    if c == 6:
        return q("".join(chr(rng.randrange(1, 0x20)) for _ in range(rng.randrange(1, 6))))
    if c == 7:
        return q(rng.choice(["?", "#", "&", "=", ";", "*", "~", "!", "'", "(", ")", ",", "$", "@", ":", "[", "]", "{",
                             "}", "|", "\\", "^", "`", "<", ">", '"']) + rand_token(rng, 4))
    if c == 8:
        return rng.choice([".cairn", "__meta", ".minio.sys", ".sys/x", "cairn/admin/v1/keys", "health/live",
                           "metrics", "..%00", "CON", "nul", "a:b", "a\\b".replace("\\", "%5C")])
    if c == 9:
        # a real random code point mixture, utf-8 then encoded
        cps = []
        for _ in range(rng.randrange(1, 12)):
            cp = rng.choice([rng.randrange(0x20, 0x7F), rng.randrange(0xA0, 0x800), rng.randrange(0x800, 0xD800),
                             rng.randrange(0xE000, 0x10000), rng.randrange(0x10000, 0x110000)])
            cps.append(chr(cp))
        return q("".join(cps))
    if c == 10:
        return "obj-%d" % rng.randrange(16)
    if c == 11:
        return "k" + "%20" * rng.randrange(1, 50)
    if c == 12:
        return ("a/" * rng.choice([100, 500, 600, 2000])) + "x"
    if c == 13:
        return q(b"\xff\xfe" + bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16))))
    if c == 14:
        return rng.choice(["fz-", "dir/", "obj-"]) + rand_token(rng, rng.randrange(1, 12))
    if c == 15:
        return "%" + "%".join("%02X" % rng.randrange(256) for _ in range(rng.randrange(1, 30)))
    if c == 16:
        return q("\u0000" * rng.randrange(1, 4) + "k")
    if c == 17:
        return ";".join(rand_token(rng, 2) for _ in range(3))
    if c == 18:
        return q(" " + rand_token(rng, 3) + " ")
    if c == 19:
        return rand_token(rng, 3) + "%u0041"
    if c == 20:
        return "x" * rng.choice([60000, 70000])
    return rand_token(rng, 6)


def weird_bucket(rng):
    c = rng.randrange(16)
    if c == 0:
        return ""
    if c == 1:
        return rng.choice(["FUZZ-MAIN", "Fuzz-Main", "fuzz_main", "fuzz main".replace(" ", "%20")])
    if c == 2:
        return rng.choice(["ab", "a", "a" * 63, "a" * 64, "a" * 300, "a" * 5000])
    if c == 3:
        return rng.choice(["..", ".", "a..b", "-abc", "abc-", ".abc", "abc.", "a.-b"])
    if c == 4:
        return rng.choice(["192.168.0.1", "127.0.0.1", "xn--abc", "abc-s3alias", "abc--ol-s3", "sthree-x", "amzn-s3-demo"])
    if c == 5:
        return q(rng.choice(UNICODE_BITS) + "bucket")
    if c == 6:
        return rng.choice(RAW_ESCAPES) + "bkt"
    if c == 7:
        return rng.choice(["cairn", "health", "metrics", "admin", "cairn%2Fadmin"])
    if c == 8:
        return "fz" + rand_token(rng, rng.randrange(1, 20))
    if c == 9:
        return rng.choice(TMP_BUCKETS)
    if c == 10:
        return "%2e%2e"
    if c == 11:
        return MAIN.upper()
    return rng.choice([MAIN, AUX, "nosuchbucket-" + rand_token(rng, 4)])


def rand_bytes(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def body_size(rng):
    r = rng.random()
    if r < 0.12:
        return 0
    if r < 0.55:
        return rng.randrange(1, 128)
    if r < 0.92:
        return rng.randrange(128, 4096)
    if r < 0.995:
        return rng.randrange(4096, 65536)
    return rng.randrange(65536, 1 << 20)


def rand_body(rng, n=None):
    n = body_size(rng) if n is None else n
    if n > 4096:
        # cheap: a random block repeated
        block = rand_bytes(rng, 1024)
        return (block * (n // 1024 + 1))[:n]
    return rand_bytes(rng, n)


def weird_number(rng):
    return rng.choice(["0", "-1", "1", "2", "10000", "10001", "999999999999999999999", "-0", "+1", "1.5", "1e3",
                       "0x10", "abc", "", " 1", "1 ", "٣", "１", "18446744073709551616", "9223372036854775807",
                       "4294967296", "%00", "NaN", "-9223372036854775808"])


def weird_string(rng):
    c = rng.randrange(8)
    if c == 0:
        return ""
    if c == 1:
        return "x" * rng.choice([100, 1000, 8000, 70000])
    if c == 2:
        return rng.choice(RAW_ESCAPES) * rng.randrange(1, 4)
    if c == 3:
        return q(rng.choice(UNICODE_BITS), safe="")
    if c == 4:
        return weird_number(rng)
    if c == 5:
        return qv(b64(rand_bytes(rng, rng.randrange(1, 64))))
    if c == 6:
        return "%0D%0AX-Injected:%201"
    return rand_token(rng, rng.randrange(1, 40))


def http_date(rng):
    return rng.choice([
        "Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994", "Fri, 31 Dec 9999 23:59:59 GMT", "Thu, 01 Jan 1970 00:00:00 GMT",
        "not a date", "", "Mon, 32 Foo 2024 25:61:61 GMT", "2024-01-01T00:00:00Z", "0", "-1",
        time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
    ])


# ---------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------

XMLNS = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def xml_delete(rng, keys):
    objs = "".join("<Object><Key>%s</Key></Object>" % k for k in keys)
    quiet = rng.choice(["", "<Quiet>true</Quiet>", "<Quiet>false</Quiet>"])
    return ('<?xml version="1.0" encoding="UTF-8"?><Delete%s>%s%s</Delete>' % (XMLNS, objs, quiet)).encode()


def xml_complete(parts):
    ps = "".join("<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>" % p for p in parts)
    return ("<CompleteMultipartUpload%s>%s</CompleteMultipartUpload>" % (XMLNS, ps)).encode()


def xml_acl(rng):
    grantee = rng.choice([
        '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>%s</ID></Grantee>'
        % ACCESS_KEY,
        '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">'
        "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee>",
        '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="AmazonCustomerByEmail">'
        "<EmailAddress>a@b.c</EmailAddress></Grantee>",
    ])
    perm = rng.choice(["READ", "WRITE", "FULL_CONTROL", "READ_ACP", "WRITE_ACP", "BOGUS"])
    return ("<AccessControlPolicy%s><Owner><ID>%s</ID></Owner><AccessControlList><Grant>%s<Permission>%s"
            "</Permission></Grant></AccessControlList></AccessControlPolicy>" % (XMLNS, ACCESS_KEY, grantee, perm)).encode()


SUB_DOCS = {
    "tagging": "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>",
    "versioning": "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    "cors": "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"
    "</CORSRule></CORSConfiguration>",
    "lifecycle": "<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>p</Prefix></Filter><Status>Enabled"
    "</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
    "website": "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument>"
    "</WebsiteConfiguration>",
    "encryption": "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256"
    "</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
    "notification": "<NotificationConfiguration></NotificationConfiguration>",
    "logging": "<BucketLoggingStatus></BucketLoggingStatus>",
    "accelerate": "<AccelerateConfiguration><Status>Enabled</Status></AccelerateConfiguration>",
    "requestPayment": "<RequestPaymentConfiguration><Payer>Requester</Payer></RequestPaymentConfiguration>",
    "object-lock": "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>",
    "ownershipControls": "<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule>"
    "</OwnershipControls>",
    "publicAccessBlock": "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"
    "</PublicAccessBlockConfiguration>",
    "replication": "<ReplicationConfiguration><Role>r</Role></ReplicationConfiguration>",
    "retention": "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
    "legal-hold": "<LegalHold><Status>ON</Status></LegalHold>",
    "restore": "<RestoreRequest><Days>1</Days></RestoreRequest>",
    "select": "<SelectObjectContentRequest><Expression>select * from s3object</Expression><ExpressionType>SQL"
    "</ExpressionType><InputSerialization><CSV/></InputSerialization><OutputSerialization><CSV/>"
    "</OutputSerialization></SelectObjectContentRequest>",
}
BUCKET_SUBS = ["location", "versioning", "notification", "logging", "accelerate", "cors", "lifecycle", "tagging",
               "website", "object-lock", "encryption", "replication", "ownershipControls", "publicAccessBlock",
               "requestPayment", "policyStatus", "acl", "policy", "uploads", "versions", "analytics", "inventory",
               "metrics", "intelligent-tiering", "delete", "torrent", "notification", "x-id"]
OBJECT_SUBS = ["acl", "tagging", "retention", "legal-hold", "attributes", "torrent", "restore", "select",
               "select-type=2", "uploads", "uploadId", "partNumber", "versionId", "response-content-type"]


def policy_doc(rng, bucket):
    res = rng.choice(["arn:aws:s3:::%s/*" % bucket, "arn:aws:s3:::%s" % bucket, "arn:aws:s3:::*",
                      "arn:aws:s3:::%s/%s" % (bucket, "*a" * rng.randrange(1, 40)),
                      "arn:aws:s3:::%s/${aws:username}/*" % bucket, "arn:aws:s3:::%s/?*?*?*" % bucket])
    stmt = {
        "Sid": rng.choice(["s1", "", "x" * 300]),
        "Effect": "Allow",
        "Principal": rng.choice(["*", {"AWS": "*"}, {"AWS": [ACCESS_KEY]}, {"CanonicalUser": ACCESS_KEY},
                                 {"Service": "s3.amazonaws.com"}, {"AWS": ["arn:aws:iam::123456789012:root"]}]),
        "Action": rng.choice(["s3:GetObject", "s3:*", ["s3:GetObject", "s3:ListBucket"], "s3:Get*", "s3:NoSuchAction",
                              "*"]),
        "Resource": res,
    }
    if rng.random() < 0.4:
        stmt["Condition"] = rng.choice([
            {"StringLike": {"s3:prefix": ["home/*", "${aws:username}/*"]}},
            {"IpAddress": {"aws:SourceIp": rng.choice(["127.0.0.1/32", "::1/128", "300.1.1.1/33", "0.0.0.0/0"])}},
            {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            {"DateGreaterThan": {"aws:CurrentTime": rng.choice(["2020-01-01T00:00:00Z", "bogus"])}},
            {"NumericLessThan": {"s3:max-keys": rng.choice(["10", "1e400", "x"])}},
            {"Bool": {"aws:SecureTransport": "false"}},
            {"StringEqualsIgnoreCase": {"aws:UserAgent": "x"}},
            {"ForAnyValue:StringLike": {"s3:ExistingObjectTag/x": "*"}},
            {"Null": {"s3:x-amz-acl": "true"}},
            {"BogusOperator": {"a": "b"}},
        ])
    doc = {"Version": rng.choice(["2012-10-17", "2008-10-17", "2099-01-01"]), "Statement": [stmt]}
    if rng.random() < 0.2:
        doc["Statement"] = stmt
    return json.dumps(doc).encode()


def malformed_xml(rng, valid):
    c = rng.randrange(20)
    if c == 0 and valid:
        return valid[: rng.randrange(len(valid))]
    if c == 1:
        return b"<Delete><Object><Key>a</Key></Object>"
    if c == 2:
        n = rng.choice([100, 1000, 50000, 200000])
        return b"<a>" * n + b"</a>" * (n if rng.random() < 0.5 else 0)
    if c == 3:
        return ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">'
                '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><Delete><Object><Key>&lol3;</Key></Object></Delete>').encode()
    if c == 4:
        return b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&e;</Key></Object></Delete>'
    if c == 5:
        return b"<Delete>" + b"<Object><Key>k</Key></Object>" * rng.choice([1001, 5000, 60000]) + b"</Delete>"
    if c == 6:
        return b"<CompleteMultipartUpload>" + b"".join(
            b"<Part><PartNumber>%d</PartNumber><ETag>\"x\"</ETag></Part>" % (i + 1) for i in range(rng.choice([10001, 20000]))
        ) + b"</CompleteMultipartUpload>"
    if c == 7:
        return b"\xff\xfe<\x00D\x00e\x00l\x00>\x00"
    if c == 8:
        return b"<Delete><Object><Key>" + rand_bytes(rng, 64) + b"</Key></Object></Delete>"
    if c == 9:
        return b"<Delete><Object><Key><![CDATA[x]]></Key><!-- c --><?pi x?></Object></Delete>"
    if c == 10:
        return ("<CompleteMultipartUpload><Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>"
                "</CompleteMultipartUpload>" % (weird_number(rng), rng.choice(['"', "", "x" * 5000, '""', "&amp;"]))).encode()
    if c == 11:
        return b"<Delete><Object><Key>" + b"k" * rng.choice([1025, 100000, 1500000]) + b"</Key></Object></Delete>"
    if c == 12:
        return b"<Delete " + b"a%d='1' " * 1 + b"".join(b"a%d='1' " % i for i in range(rng.choice([10, 5000]))) + b"/>"
    if c == 13:
        return b"\x00" * rng.randrange(1, 100)
    if c == 14:
        return b'{"not": "xml"}'
    if c == 15:
        return b"<Delete><Object><Key>a</Key></Object></Wrong>"
    if c == 16:
        return b"<" * rng.randrange(1, 5000)
    if c == 17:
        return b'<?xml version="1.1" encoding="EBCDIC"?><Delete/>'
    if c == 18:
        return b"<x:Delete xmlns:x='urn:x'><x:Object><x:Key>a</x:Key></x:Object></x:Delete>"
    if valid:
        b = bytearray(valid)
        for _ in range(rng.randrange(1, 6)):
            if b:
                b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    return rand_bytes(rng, rng.randrange(1, 256))


def malformed_json(rng, valid):
    c = rng.randrange(12)
    if c == 0 and valid:
        return valid[: rng.randrange(len(valid))]
    if c == 1:
        n = rng.choice([100, 129, 1000, 100000])
        return b"[" * n + b"]" * n
    if c == 2:
        return b'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject",' \
               b'"Resource":"arn:aws:s3:::x/*","Sid":"\\ud800"}]}'
    if c == 3:
        return b'{"a":1e999999,"b":-0,"c":NaN}'
    if c == 4:
        return b'{"name":"' + b"x" * rng.choice([129, 100000]) + b'","admin":true}'
    if c == 5:
        return b'{"Statement":"' + b"*" * 30000 + b'"}'
    if c == 6:
        return b'{"Version":"2012-10-17","Version":"2008-10-17","Statement":[]}'
    if c == 7:
        return b"\xef\xbb\xbf" + (valid or b"{}")
    if c == 8:
        return b'{"name":"\x01\x02","admin":"yes"}'
    if c == 9:
        return b'{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::' + \
               b"*a" * 3000 + b'"}]}'
    if c == 10:
        return b'{"Statement":[' + b'{"Effect":"Allow"},' * 5000 + b"{}]}"
    return rand_bytes(rng, rng.randrange(1, 200))


# ---------------------------------------------------------------------------
# Templates: valid requests
# ---------------------------------------------------------------------------


class State:
    """What setup created; read-only during the run."""

    def __init__(self):
        self.keys = []  # (encoded key, size, etag)
        self.uploads = []  # (encoded key, upload id, part etag)


def pick_key(rng, st):
    r = rng.random()
    if r < 0.55:
        return rng.choice(st.keys)[0]
    if r < 0.8:
        return "fz-%d" % rng.randrange(64)
    return weird_key(rng)


def pick_bucket(rng):
    r = rng.random()
    return MAIN if r < 0.75 else AUX if r < 0.9 else weird_bucket(rng)


def t_list_buckets(rng, st):
    r = Req("ListBuckets", "GET", "/")
    if rng.random() < 0.3:
        r.query = rng.choice(["max-buckets=%s" % weird_number(rng), "prefix=fuzz", "continuation-token=%s" % weird_string(rng),
                              "bucket-region=us-east-1"])
    return r


def t_head_bucket(rng, st):
    return Req("HeadBucket", "HEAD", "/" + pick_bucket(rng))


def t_list_objects(rng, st):
    b = pick_bucket(rng)
    params = []
    if rng.random() < 0.5:
        params.append("prefix=" + rng.choice(["", "obj", "dir/", "fz-", qv("ü"), weird_string(rng)]))
    if rng.random() < 0.5:
        params.append("delimiter=" + rng.choice(["/", "%2F", "", "ab", qv("é"), weird_string(rng)]))
    if rng.random() < 0.3:
        params.append("max-keys=" + rng.choice(["1", "2", "1000", "0", weird_number(rng)]))
    v2 = rng.random() < 0.5
    if v2:
        params.insert(0, "list-type=2")
        if rng.random() < 0.3:
            params.append("continuation-token=" + rng.choice([weird_string(rng), qv(b64(b"obj-3")), ""]))
        if rng.random() < 0.3:
            params.append("start-after=" + rng.choice(["obj-5", weird_string(rng)]))
        if rng.random() < 0.2:
            params.append("fetch-owner=" + rng.choice(["true", "false", "maybe"]))
    elif rng.random() < 0.3:
        params.append("marker=" + rng.choice(["obj-5", weird_string(rng)]))
    if rng.random() < 0.2:
        params.append("encoding-type=" + rng.choice(["url", "URL", "base64", ""]))
    return Req("ListObjectsV2" if v2 else "ListObjects", "GET", "/" + b, "&".join(params) if params else None)


def t_list_versions(rng, st):
    params = ["versions"]
    if rng.random() < 0.5:
        params.append("key-marker=" + rng.choice(["obj-1", weird_string(rng)]))
    if rng.random() < 0.3:
        params.append("version-id-marker=" + weird_string(rng))
    if rng.random() < 0.3:
        params.append("max-keys=" + weird_number(rng))
    return Req("ListObjectVersions", "GET", "/" + pick_bucket(rng), "&".join(params))


def t_list_uploads(rng, st):
    params = ["uploads"]
    if rng.random() < 0.4:
        params.append("prefix=" + rng.choice(["mp", weird_string(rng)]))
    if rng.random() < 0.3:
        params.append("key-marker=" + weird_string(rng))
    if rng.random() < 0.3:
        params.append("upload-id-marker=" + weird_string(rng))
    if rng.random() < 0.3:
        params.append("max-uploads=" + weird_number(rng))
    return Req("ListMultipartUploads", "GET", "/" + pick_bucket(rng), "&".join(params))


def t_bucket_get_sub(rng, st):
    sub = rng.choice(BUCKET_SUBS)
    return Req("GetBucket:" + sub, "GET", "/" + pick_bucket(rng), sub)


def t_bucket_put_sub(rng, st):
    sub = rng.choice(list(SUB_DOCS) + ["acl", "policy"])
    b = pick_bucket(rng)
    if sub == "acl":
        body = xml_acl(rng)
    elif sub == "policy":
        body = policy_doc(rng, b)
    else:
        body = SUB_DOCS[sub].encode()
    r = Req("PutBucket:" + sub, "PUT", "/" + b, sub, body)
    if rng.random() < 0.5:
        r.set("Content-MD5", b64(hashlib.md5(body).digest()))
    return r


def t_bucket_delete_sub(rng, st):
    sub = rng.choice(["policy", "cors", "lifecycle", "tagging", "website", "encryption", "replication",
                      "ownershipControls", "publicAccessBlock", "acl", "versioning"])
    return Req("DeleteBucket:" + sub, "DELETE", "/" + pick_bucket(rng), sub)


def t_put_policy(rng, st):
    b = rng.choice([MAIN, AUX, AUX])
    body = policy_doc(rng, b)
    return Req("PutBucketPolicy", "PUT", "/" + b, "policy", body)


def t_create_bucket(rng, st):
    b = rng.choice(TMP_BUCKETS + [MAIN, weird_bucket(rng)])
    r = Req("CreateBucket", "PUT", "/" + b)
    if rng.random() < 0.4:
        loc = rng.choice(["us-east-1", "eu-west-1", "", "x" * 300, REGION])
        r.body = ("<CreateBucketConfiguration%s><LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>"
                  % (XMLNS, loc)).encode()
    if rng.random() < 0.2:
        r.set("x-amz-acl", rng.choice(["private", "public-read", "public-read-write", "authenticated-read", "bogus"]))
    if rng.random() < 0.1:
        r.set("x-amz-bucket-object-lock-enabled", rng.choice(["true", "false", "x"]))
    if rng.random() < 0.1:
        r.set("x-amz-object-ownership", rng.choice(["BucketOwnerEnforced", "ObjectWriter", "bogus"]))
    return r


def t_delete_bucket(rng, st):
    return Req("DeleteBucket", "DELETE", "/" + rng.choice(TMP_BUCKETS + [weird_bucket(rng)]))


def t_delete_objects(rng, st):
    keys = [urllib.parse.unquote(pick_key(rng, st)).replace("&", "&amp;").replace("<", "&lt;")
            for _ in range(rng.randrange(1, 6))]
    keys = [k if not k.startswith("obj-") else "fz-%d" % rng.randrange(64) for k in keys]
    body = xml_delete(rng, keys)
    r = Req("DeleteObjects", "POST", "/" + pick_bucket(rng), "delete", body)
    if rng.random() < 0.8:
        r.set("Content-MD5", b64(hashlib.md5(body).digest()))
    else:
        alg = rng.choice(["crc32", "crc32c", "sha1", "sha256"])
        r.set("x-amz-checksum-" + alg, checksum_value(alg, body))
        r.set("x-amz-sdk-checksum-algorithm", alg.upper())
    return r


def object_headers(rng, r):
    body = r.body
    if rng.random() < 0.3:
        r.set("Content-MD5", b64(hashlib.md5(body).digest()))
    if rng.random() < 0.3:
        alg = rng.choice(["crc32", "crc32c", "sha1", "sha256"]) if len(body) <= 8192 else rng.choice(["crc32", "sha1", "sha256"])
        r.set("x-amz-checksum-" + alg, checksum_value(alg, body))
        if rng.random() < 0.5:
            r.set("x-amz-sdk-checksum-algorithm", alg.upper())
    if rng.random() < 0.3:
        r.set("Content-Type", rng.choice(["text/plain", "application/octet-stream", "image/jpeg; charset=x",
                                          "multipart/form-data; boundary=x", "", "x" * 2000]))
    if rng.random() < 0.3:
        for i in range(rng.randrange(1, 4)):
            r.add("x-amz-meta-" + rng.choice(["a", "b", "key%d" % i, "Mixed-Case"]), rand_token(rng, 8))
    if rng.random() < 0.1:
        r.set("x-amz-tagging", rng.choice(["a=b", "a=b&c=d", "=", "a", "%zz=1", "&&&", "k=" + "v" * 300]))
    if rng.random() < 0.1:
        r.set("x-amz-storage-class", rng.choice(["STANDARD", "GLACIER", "REDUCED_REDUNDANCY", "bogus"]))
    if rng.random() < 0.05:
        r.set("x-amz-acl", rng.choice(["private", "public-read", "bucket-owner-full-control", "bogus"]))
    if rng.random() < 0.05:
        r.set("Cache-Control", "max-age=0")
        r.set("Content-Disposition", 'attachment; filename="x"')
        r.set("Content-Language", "de")
        r.set("Expires", http_date(rng))


def t_put_object(rng, st):
    b = pick_bucket(rng)
    r = Req("PutObject", "PUT", "/%s/%s" % (b, pick_key(rng, st)), None, rand_body(rng))
    object_headers(rng, r)
    if rng.random() < 0.15:
        r.payload = "UNSIGNED-PAYLOAD"
    if rng.random() < 0.1:
        r.set("If-None-Match", rng.choice(["*", '"abc"']))
    return r


def chunk_sizes(rng, n):
    sizes = []
    left = n
    first = rng.choice([8192, 65536, 1024, 16, n or 1])
    while left > 0 and len(sizes) < 200:
        c = min(left, first if rng.random() < 0.8 else rng.randrange(1, first + 1))
        sizes.append(c)
        left -= c
    if left > 0:
        sizes.append(left)
    return sizes


def t_put_streaming(rng, st):
    """PutObject or UploadPart with an aws-chunked body (signed chunks or unsigned with a trailer)."""
    data = rand_body(rng, min(body_size(rng), 200000))
    key = pick_key(rng, st)
    b = pick_bucket(rng)
    r = Req("PutObjectStreaming", "PUT", "/%s/%s" % (b, key), None, b"")
    if rng.random() < 0.2 and st.uploads:
        k, uid, _ = rng.choice(st.uploads)
        r = Req("UploadPartStreaming", "PUT", "/%s/%s" % (MAIN, k), "partNumber=%d&uploadId=%s" % (rng.randrange(1, 4), qv(uid)))
    signed = rng.random() < 0.6
    r.payload = STREAMING_SIGNED if signed else STREAMING_UNSIGNED_TRAILER
    r.set("Content-Encoding", rng.choice(["aws-chunked", "aws-chunked", "aws-chunked,gzip", "gzip, aws-chunked"]))
    r.set("x-amz-decoded-content-length", str(len(data)))
    alg = None
    if not signed or rng.random() < 0.2:
        alg = rng.choice(["crc32", "crc32c", "sha1", "sha256"])
        r.set("x-amz-trailer", "x-amz-checksum-" + alg)
        if signed:
            r.payload = STREAMING_SIGNED + "-TRAILER"
    r.stream = {"data": data, "sizes": chunk_sizes(rng, len(data)), "signed": signed, "alg": alg, "corrupt": None}
    if rng.random() < 0.35:
        r.stream["corrupt"] = rng.choice(["size-hex", "size-neg", "size-huge", "size-bigger", "size-smaller",
                                          "no-final", "bad-sig", "no-crlf", "ext-garbage", "bad-trailer",
                                          "trailer-missing", "decoded-len", "extra-after", "long-line",
                                          "empty-size", "lf-only", "sig-missing"])
        r.notes.append("chunked:" + r.stream["corrupt"])
    return r


def t_get_object(rng, st):
    b = pick_bucket(rng)
    r = Req("GetObject", "GET", "/%s/%s" % (b, pick_key(rng, st)))
    if rng.random() < 0.3:
        r.set("Range", rng.choice(["bytes=0-0", "bytes=0-99", "bytes=-10", "bytes=10-", "bytes=0-", "bytes=5-1",
                                   "bytes=100000000-", "bytes=0-999999999999999999999"]))
    params = []
    if rng.random() < 0.15:
        params.append("partNumber=" + rng.choice(["1", "2", weird_number(rng)]))
    if rng.random() < 0.1:
        params.append("versionId=" + rng.choice(["null", weird_string(rng)]))
    if rng.random() < 0.15:
        params.append(rng.choice(["response-content-type", "response-content-disposition", "response-cache-control",
                                  "response-expires", "response-content-encoding", "response-content-language"])
                      + "=" + rng.choice(["text/plain", weird_string(rng), "%0D%0ASet-Cookie:%20x=1"]))
    if params:
        r.query = "&".join(params)
    if rng.random() < 0.15:
        r.set(rng.choice(["If-Match", "If-None-Match"]), rng.choice(['"x"', "*", '"' + "0" * 32 + '"', "", "W/\"x\""]))
    if rng.random() < 0.1:
        r.set(rng.choice(["If-Modified-Since", "If-Unmodified-Since"]), http_date(rng))
    return r


def t_head_object(rng, st):
    r = t_get_object(rng, st)
    r.op, r.method, r.head = "HeadObject", "HEAD", True
    return r


def t_delete_object(rng, st):
    key = pick_key(rng, st)
    if key.startswith("obj-") and rng.random() < 0.8:
        key = "fz-%d" % rng.randrange(64)
    r = Req("DeleteObject", "DELETE", "/%s/%s" % (pick_bucket(rng), key))
    if rng.random() < 0.1:
        r.query = "versionId=" + rng.choice(["null", weird_string(rng)])
    return r


def copy_source(rng, st):
    c = rng.random()
    if c < 0.6:
        return "/%s/%s" % (MAIN, rng.choice(st.keys)[0])
    if c < 0.7:
        return "%s/%s" % (MAIN, rng.choice(st.keys)[0])
    if c < 0.8:
        return "/%s/%s?versionId=%s" % (MAIN, rng.choice(st.keys)[0], rng.choice(["null", weird_string(rng)]))
    return rng.choice(["", "/", "//", "/%s" % MAIN, "/%s/" % MAIN, "%s" % weird_key(rng), "/%s/%s" % (weird_bucket(rng), weird_key(rng)),
                       "arn:aws:s3:::%s/obj-1" % MAIN, "/cairn/admin/v1/keys", "/%s/../%s/obj-1" % (AUX, MAIN),
                       "%2F" + MAIN + "%2Fobj-1", "/" + MAIN + "/obj-1%00", "/" + "a" * 70000])


def t_copy_object(rng, st):
    r = Req("CopyObject", "PUT", "/%s/%s" % (pick_bucket(rng), pick_key(rng, st)))
    r.set("x-amz-copy-source", copy_source(rng, st))
    if rng.random() < 0.3:
        r.set("x-amz-metadata-directive", rng.choice(["COPY", "REPLACE", "bogus", ""]))
        r.add("x-amz-meta-new", "v")
    if rng.random() < 0.2:
        r.set(rng.choice(["x-amz-copy-source-if-match", "x-amz-copy-source-if-none-match"]), rng.choice(['"x"', "*", ""]))
    if rng.random() < 0.1:
        r.set(rng.choice(["x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since"]), http_date(rng))
    if rng.random() < 0.1:
        r.set("x-amz-tagging-directive", rng.choice(["COPY", "REPLACE", "x"]))
    if rng.random() < 0.1:
        r.set("x-amz-copy-source-range", rng.choice(["bytes=0-0", "bytes=0-", "x"]))
    return r


def pick_upload(rng, st):
    if st.uploads and rng.random() < 0.75:
        k, uid, etag = rng.choice(st.uploads)
        return k, uid, etag
    return pick_key(rng, st), rng.choice([weird_string(rng), "", "nosuchupload", "A" * 200]), '"x"'


def t_create_mpu(rng, st):
    r = Req("CreateMultipartUpload", "POST", "/%s/%s" % (pick_bucket(rng), pick_key(rng, st)), "uploads")
    if rng.random() < 0.3:
        r.set("x-amz-checksum-algorithm", rng.choice(["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME", "md5", ""]))
    if rng.random() < 0.2:
        r.add("x-amz-meta-m", "1")
    if rng.random() < 0.1:
        r.body = rand_body(rng, rng.randrange(1, 64))
    return r


def t_upload_part(rng, st):
    k, uid, _ = pick_upload(rng, st)
    pn = rng.choice(["1", "2", "3", "10000"]) if rng.random() < 0.8 else weird_number(rng)
    r = Req("UploadPart", "PUT", "/%s/%s" % (MAIN, k), "partNumber=%s&uploadId=%s" % (pn, qv(uid)), rand_body(rng))
    object_headers(rng, r)
    return r


def t_upload_part_copy(rng, st):
    k, uid, _ = pick_upload(rng, st)
    r = Req("UploadPartCopy", "PUT", "/%s/%s" % (MAIN, k), "partNumber=%s&uploadId=%s" % (rng.choice(["1", "2", weird_number(rng)]), qv(uid)))
    r.set("x-amz-copy-source", copy_source(rng, st))
    if rng.random() < 0.5:
        r.set("x-amz-copy-source-range", rng.choice(["bytes=0-0", "bytes=0-9", "bytes=5-1", "bytes=0-99999999", "bytes=-5",
                                                     "bytes=", "bytes=0-1,2-3", "items=0-1", weird_string(rng)]))
    return r


def t_complete_mpu(rng, st):
    k, uid, etag = pick_upload(rng, st)
    parts = [("1", etag)]
    if rng.random() < 0.3:
        parts = [(str(i), etag) for i in rng.choice([[2, 1], [1, 1], [0], [1, 3], [10001]])]
    body = xml_complete(parts)
    r = Req("CompleteMultipartUpload", "POST", "/%s/%s" % (MAIN, k), "uploadId=" + qv(uid), body)
    if rng.random() < 0.1:
        r.set("If-None-Match", "*")
    return r


def t_abort_mpu(rng, st):
    k, uid, _ = pick_upload(rng, st)
    if rng.random() < 0.9:
        uid = rng.choice([weird_string(rng), "nosuchupload"])
    return Req("AbortMultipartUpload", "DELETE", "/%s/%s" % (MAIN, k), "uploadId=" + qv(uid))


def t_list_parts(rng, st):
    k, uid, _ = pick_upload(rng, st)
    params = ["uploadId=" + qv(uid)]
    if rng.random() < 0.3:
        params.append("max-parts=" + weird_number(rng))
    if rng.random() < 0.3:
        params.append("part-number-marker=" + weird_number(rng))
    return Req("ListParts", "GET", "/%s/%s" % (MAIN, k), "&".join(params))


def t_object_sub(rng, st):
    sub = rng.choice(OBJECT_SUBS)
    method = rng.choice(["GET", "PUT", "DELETE", "POST", "HEAD"])
    body = b""
    if method in ("PUT", "POST"):
        name = sub.split("=")[0]
        body = xml_acl(rng) if name == "acl" else SUB_DOCS.get(name, "<x/>").encode()
    r = Req("Object:%s:%s" % (method, sub), method, "/%s/%s" % (pick_bucket(rng), pick_key(rng, st)), sub, body)
    if sub == "attributes":
        r.set("x-amz-object-attributes", rng.choice(["ETag", "ObjectSize,Checksum", "bogus", ""]))
    if sub == "acl" and method == "PUT" and rng.random() < 0.5:
        r.body = b""
        r.set("x-amz-acl", rng.choice(["private", "public-read", "bogus"]))
    return r


def t_options(rng, st):
    r = Req("Options", "OPTIONS", "/%s/%s" % (pick_bucket(rng), pick_key(rng, st)))
    r.set("Origin", rng.choice(["http://example.com", "null", "", "x" * 3000]))
    r.set("Access-Control-Request-Method", rng.choice(["GET", "PUT", "BOGUS"]))
    return r


def t_form_post(rng, st):
    boundary = "----fuzz" + rand_token(rng, 8)
    body = ("--%s\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nfz-form\r\n--%s\r\n"
            "Content-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n%s\r\n--%s--\r\n"
            % (boundary, boundary, rand_token(rng, 20), boundary)).encode()
    r = Req("PostObject", "POST", "/" + pick_bucket(rng), None, body)
    r.set("Content-Type", "multipart/form-data; boundary=" + boundary)
    return r


def t_admin(rng, st):
    prefix = "/cairn/admin/v1/"
    c = rng.random()
    if c < 0.55:
        path = rng.choice(["cluster", "keys", "heal", "scrub", "rebalance", "nosuch", "", "keys/" + ACCESS_KEY,
                           "keys/" + weird_key(rng), "keys/nosuchkey", "heal/object", "cluster/status"])
        r = Req("Admin:GET:" + path.split("/")[0], "GET", prefix + path)
        if path == "heal/object":
            r.query = rng.choice(["bucket=%s&key=obj-1" % MAIN, "bucket=%s" % MAIN, "key=x", "bucket=%s&key=%s" % (
                weird_bucket(rng), weird_key(rng))])
        return r
    if c < 0.8:
        body = json.dumps({"name": rng.choice(["fz", "", "x" * 129, "é" * 10, "a\tb"]),
                           "admin": rng.choice([True, False, "yes", 1, None])}).encode()
        if rng.random() < 0.4:
            body = malformed_json(rng, body)
        return Req("Admin:POST:keys", "POST", prefix + "keys", None, body)
    if c < 0.9:
        r = Req("Admin:POST:heal", "POST", prefix + "heal")
        r.query = rng.choice([None, "bucket=%s" % MAIN, "bucket=%s&prefix=obj" % MAIN, "bucket=" + weird_bucket(rng),
                              "prefix=" + weird_string(rng)])
        return r
    return Req("Admin:DELETE:keys", "DELETE", prefix + "keys/" + rng.choice(["nosuchkey", ACCESS_KEY, weird_key(rng)]))


def t_health(rng, st):
    r = Req("Health", rng.choice(["GET", "GET", "HEAD", "POST"]), rng.choice(["/health/live", "/health/ready", "/metrics",
                                                                               "/health", "/health/live/", "/metrics?x=1"]))
    return r


def t_raw(rng, st):
    """Bytes that are hardly HTTP."""
    c = rng.randrange(8)
    if c == 0:
        raw = rand_bytes(rng, rng.randrange(1, 512))
    elif c == 1:
        raw = b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * rng.choice([70000, 200000]) + b"\r\n\r\n"
    elif c == 2:
        raw = b"GET /" + b"a" * rng.choice([70000, 100000]) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    elif c == 3:
        raw = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(rng.choice([100, 200, 1000]))) + b"\r\n"
    elif c == 4:
        raw = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + rand_bytes(rng, 64)
    elif c == 5:
        raw = b"GET /\xff\xfe HTTP/1.1\r\nHost: \xff\r\n\r\n"
    elif c == 6:
        raw = b"GET / HTTP/1.1\nHost: x\n\n"
    else:
        raw = b"POST /%s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % MAIN.encode()
    r = Req("Raw", "RAW", "/")
    r.raw = raw
    r.close = True
    r.half_close = True
    r.auth = "none"
    return r


TEMPLATES = [
    (t_list_buckets, 2), (t_head_bucket, 2), (t_list_objects, 5), (t_list_versions, 1), (t_list_uploads, 1),
    (t_bucket_get_sub, 3), (t_bucket_put_sub, 2), (t_bucket_delete_sub, 1), (t_put_policy, 2),
    (t_create_bucket, 2), (t_delete_bucket, 1), (t_delete_objects, 3), (t_put_object, 9), (t_put_streaming, 4),
    (t_get_object, 9), (t_head_object, 4), (t_delete_object, 2), (t_copy_object, 3), (t_create_mpu, 2),
    (t_upload_part, 3), (t_upload_part_copy, 1), (t_complete_mpu, 2), (t_abort_mpu, 1), (t_list_parts, 1),
    (t_object_sub, 3), (t_options, 1), (t_form_post, 0.5), (t_admin, 2), (t_health, 0.5), (t_raw, 0.5),
]


# ---------------------------------------------------------------------------
# Mutations (before signing: a correctly signed request carries them)
# ---------------------------------------------------------------------------


def split_path(path):
    parts = path.split("/", 2)  # "", bucket, key
    return (parts[1] if len(parts) > 1 else ""), (parts[2] if len(parts) > 2 else None)


def m_method(rng, r, st):
    r.method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT", "get",
                           "Put", "PROPFIND", "FOO", "X" * 100, "GET\tX", "M-SEARCH"])
    r.head = r.method == "HEAD"


def m_bucket(rng, r, st):
    _, key = split_path(r.path)
    r.path = "/" + weird_bucket(rng) + ("/" + key if key is not None else "")


def m_key(rng, r, st):
    b, _ = split_path(r.path)
    r.path = "/%s/%s" % (b or MAIN, weird_key(rng))


def m_path_raw(rng, r, st):
    p = r.path
    c = rng.randrange(10)
    if c == 0:
        r.path = p + rng.choice(["/", "//", "/..", "/.", "/%2e%2e", "%00", "%", "/%zz"])
    elif c == 1:
        i = rng.randrange(len(p) + 1)
        r.path = p[:i] + rng.choice(RAW_ESCAPES + ["/../", "/./", "//", ".."]) + p[i:]
    elif c == 2:
        r.path = p.replace("/", "%2F", rng.randrange(1, 3)) if p.count("/") > 1 else "%2F" + p
    elif c == 3:
        r.path = "/" + p.lstrip("/") * rng.choice([2, 50])
    elif c == 4:
        r.path = p + "/" + "a" * rng.choice([1000, 10000, 66000])
    elif c == 5:
        r.path = rng.choice(["*", "", "http://127.0.0.1" + p, "//" + p, "/" + "../" * 20 + "etc/passwd", p + "#frag",
                             p + " x", "/ü/ключ"])
        r.raw_target = True
        r.close = True
    elif c == 6:
        r.path = urllib.parse.quote(p, safe="")  # double-ish encoding of the slashes too
    elif c == 7:
        r.path = p.upper()
    elif c == 8:
        r.path = p.replace("%", "%25")
    else:
        r.path = "/" + MAIN + "/" + "/".join(rand_token(rng, 2) for _ in range(rng.randrange(1, 300)))


def m_query(rng, r, st):
    c = rng.randrange(12)
    if c == 0:
        r.add_query(rng.choice(BUCKET_SUBS + OBJECT_SUBS))
    elif c == 1:
        r.add_query(rng.choice(["uploadId", "partNumber", "versionId", "max-keys", "list-type", "continuation-token",
                                "prefix", "delimiter", "marker", "encoding-type", "x-id", "max-parts", "uploads",
                                "part-number-marker", "response-content-type", "X-Amz-Expires", "X-Amz-Date"])
                    + "=" + rng.choice([weird_number(rng), weird_string(rng)]))
    elif c == 2:
        r.add_query(r.query or "acl")  # duplicate every parameter
    elif c == 3:
        r.add_query(rng.choice(["&&&", "=", "==", "a==b", "&=&", "%", "%zz=%zz", "+=+", ";", "a;b=c", "%00=%00",
                                "%C3%28=1", "?", "?a=b"]))
    elif c == 4:
        r.add_query("x=" + "y" * rng.choice([1000, 10000, 66000]))
    elif c == 5:
        r.add_query("&".join("p%d=%d" % (i, i) for i in range(rng.choice([100, 1000, 5000]))))
    elif c == 6:
        r.query = None
    elif c == 7:
        r.query = ""
    elif c == 8:
        r.add_query("list-type=" + rng.choice(["1", "2", "3", "0", "x"]))
    elif c == 9:
        r.add_query(rng.choice(["uploads", "uploadId=x", "delete", "policy", "acl", "tagging"]) + "&" +
                    rng.choice(["versioning", "location", "partNumber=1", "restore", "select"]))
    elif c == 10 and r.query:
        r.query = r.query.replace("=", "=" + rng.choice(RAW_ESCAPES), 1)
    else:
        r.add_query("x-id=" + rng.choice(["PutObject", "GetObject", "DeleteObjects", "bogus"]))


def m_range(rng, r, st):
    r.set("Range", rng.choice([
        "bytes=0-0", "bytes=-0", "bytes=5-1", "bytes=0-999999999999999999999", "bytes=0-1,5-6", "bytes=", "bytes=-",
        "items=0-1", "bytes=-99999999999", "bytes=18446744073709551615-", "bytes=1-18446744073709551616",
        "bytes=0--1", "bytes= 0-1", "bytes=0-1 ", "bytes=a-b", "bytes=1-1", "bytes=-1", "Bytes=0-1",
        "bytes=0-0," * 500 + "0-0", "bytes=" + "9" * 3000 + "-", "", "bytes=\u00a0",
    ]))


def m_content_md5(rng, r, st):
    r.set("Content-MD5", rng.choice([
        b64(hashlib.md5(r.body).digest()), b64(hashlib.md5(r.body + b"x").digest()), "not base64!", "", "AAAA",
        b64(b"\x00" * 15), b64(b"\x00" * 17), hashlib.md5(r.body).hexdigest(), "=" * 24, "x" * 5000,
    ]))


def m_checksum(rng, r, st):
    alg = rng.choice(["crc32", "crc32c", "sha1", "sha256", "crc64nvme", "md5", "bogus"])
    c = rng.randrange(6)
    if c == 0:
        val = checksum_value(alg, r.body if len(r.body) <= 8192 else b"")
    elif c == 1:
        val = checksum_value(alg, b"other")
    elif c == 2:
        val = rng.choice(["not base64", "", "AAAA", "====", "x" * 1000, b64(b"\x00" * 3), b64(b"\x00" * 64)])
    elif c == 3:
        r.set("x-amz-sdk-checksum-algorithm", rng.choice(["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME", "MD5", "",
                                                          "crc32", "x"]))
        return
    elif c == 4:
        r.set("x-amz-checksum-" + alg, checksum_value(alg, r.body if len(r.body) <= 8192 else b""))
        other = rng.choice(["crc32", "sha1", "sha256"])
        r.add("x-amz-checksum-" + other, checksum_value(other, b"zz"))
        return
    else:
        r.set("x-amz-checksum-algorithm", rng.choice(["CRC32", "SHA256", "CRC64NVME", "bogus", ""]))
        r.set("x-amz-checksum-type", rng.choice(["FULL_OBJECT", "COMPOSITE", "bogus"]))
        return
    r.set("x-amz-checksum-" + alg, val)


def m_content_sha256(rng, r, st):
    r.payload = rng.choice([
        hashlib.sha256(r.body + b"x").hexdigest(), EMPTY_SHA256, "UNSIGNED-PAYLOAD", STREAMING_SIGNED,
        STREAMING_UNSIGNED_TRAILER, STREAMING_SIGNED + "-TRAILER", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "",
        "xyz", "0" * 64, "G" * 64, hashlib.sha256(r.body).hexdigest().upper(), "unsigned-payload",
    ])


def m_amz_date(rng, r, st):
    now = time.time()
    r.amz_date = rng.choice([
        time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - 3600)), time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now + 3600)),
        time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - 86400 * 400)), "20241301T000000Z", "20240230T250000Z",
        "2024-01-01T00:00:00Z", "", "x", "99999999T999999Z", time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)),
        "00000000T000000Z", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "0",
    ])
    if rng.random() < 0.3:
        r.set("Date", http_date(rng))


def m_metadata(rng, r, st):
    c = rng.randrange(7)
    if c == 0:
        for i in range(rng.choice([50, 200, 1000])):
            r.add("x-amz-meta-m%d" % i, "v")
    elif c == 1:
        r.add("x-amz-meta-big", "v" * rng.choice([2048, 2049, 8000, 60000]))
    elif c == 2:
        r.add("x-amz-meta-" + rng.choice(["", "-", "a b", "ü", "a:b", "A" * 2000]), "v")
    elif c == 3:
        r.add("x-amz-meta-u", rng.choice(["=?UTF-8?B?w7w=?=", "ü", "\u00ff", "a\x01b", " lead", "trail ", "%zz"]))
    elif c == 4:
        r.add("x-amz-meta-dup", "1")
        r.add("x-amz-meta-dup", "2")
        r.add("X-AMZ-META-DUP", "3")
    elif c == 5:
        r.add("x-amz-meta-", "")
    else:
        r.add("x-amz-meta-" + rand_token(rng, 5), weird_string(rng)[:8000])


def m_copy_source(rng, r, st):
    r.set("x-amz-copy-source", copy_source(rng, st))
    if rng.random() < 0.3:
        r.set("x-amz-copy-source-range", rng.choice(["bytes=0-0", "bytes=9-1", "x", "bytes=0-" + "9" * 30]))


def m_headers(rng, r, st):
    c = rng.randrange(18)
    if c == 0:
        r.set("Expect", rng.choice(["100-continue", "100-Continue", "200-ok", "", "100-continue, foo"]))
    elif c == 1:
        r.set("Content-Type", rng.choice(["multipart/form-data", "multipart/form-data; boundary=", "application/xml",
                                          "text/xml; charset=utf-16", "x" * 3000, "", "a/b; c"]))
    elif c == 2:
        r.set("x-amz-server-side-encryption", rng.choice(["AES256", "aws:kms", "bogus"]))
        if rng.random() < 0.5:
            r.set("x-amz-server-side-encryption-customer-algorithm", "AES256")
            r.set("x-amz-server-side-encryption-customer-key", b64(rand_bytes(rng, 32)))
            r.set("x-amz-server-side-encryption-customer-key-MD5", b64(rand_bytes(rng, 16)))
    elif c == 3:
        r.set(rng.choice(["x-amz-grant-read", "x-amz-grant-full-control", "x-amz-grant-write-acp"]),
              rng.choice(['id="%s"' % ACCESS_KEY, 'uri="http://acs.amazonaws.com/groups/global/AllUsers"', "bogus",
                          'emailAddress="a@b"', 'id=""']))
    elif c == 4:
        r.set("x-amz-object-lock-mode", rng.choice(["GOVERNANCE", "COMPLIANCE", "x"]))
        r.set("x-amz-object-lock-retain-until-date", rng.choice(["2030-01-01T00:00:00Z", "x"]))
        r.set("x-amz-object-lock-legal-hold", rng.choice(["ON", "OFF", "x"]))
    elif c == 5:
        r.set(rng.choice(["If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"]),
              rng.choice(['"x"', "*", "", http_date(rng), "W/" + '"x"', '"a", "b"', "x" * 5000]))
    elif c == 6:
        r.set("x-amz-expected-bucket-owner", rng.choice([ACCESS_KEY, "123456789012", "", "x"]))
    elif c == 7:
        r.set("x-amz-request-payer", rng.choice(["requester", "x"]))
    elif c == 8:
        r.set("x-amz-website-redirect-location", rng.choice(["/x", "http://example.com", "x" * 3000]))
    elif c == 9:
        r.set("x-amz-security-token", rng.choice(["", "x", "x" * 4000]))
    elif c == 10:
        r.set("Content-Encoding", rng.choice(["gzip", "aws-chunked", "br, aws-chunked", "identity", "x"]))
    elif c == 11:
        r.set("x-amz-decoded-content-length", weird_number(rng))
    elif c == 12:
        r.set("x-amz-trailer", rng.choice(["x-amz-checksum-crc32", "x-amz-checksum-bogus", "", "a,b"]))
    elif c == 13:
        r.host = rng.choice([MAIN + ".localhost", "%s.localhost:%d" % (AUX, 1), "localhost", "", "[::1]",
                             "a" * 300 + ".localhost", "ü.localhost", "%s.s3.amazonaws.com" % MAIN, "..localhost",
                             "127.0.0.1:99999", "x y"])
    elif c == 14:
        r.no_host = True
    elif c == 15:
        r.add(rng.choice(["X-Fuzz", "x-amz-fuzz", "x-amz-acl", "Authorization", "Host"]), rng.choice(["", "1", "a" * 9000]))
    elif c == 16:
        r.add("X-Big", "b" * rng.choice([8000, 16000, 64000]))
    else:
        r.set("x-amz-bucket-region", rng.choice(["us-east-1", "x"]))


def m_vhost(rng, r, st):
    b, key = split_path(r.path)
    if b:
        r.host = rng.choice(["%s.localhost", "%s.LOCALHOST", "%s.localhost."]) % b
        if rng.random() < 0.5:
            r.host += ":%d" % rng.choice([9000, 1, 65535])
        r.path = "/" + (key or "")


def m_body_random(rng, r, st):
    r.body = rand_body(rng)


def m_body_truncate(rng, r, st):
    if r.body:
        r.body = r.body[: rng.randrange(len(r.body))]
    else:
        r.body = b"<"


def m_body_xml(rng, r, st):
    r.body = malformed_xml(rng, r.body)


def m_body_json(rng, r, st):
    r.body = malformed_json(rng, r.body)


def m_body_big(rng, r, st):
    n = rng.choice([2 * 1024 * 1024 - 1, 2 * 1024 * 1024 + 1, 2500000, 3000000])
    head = rng.choice([b"<Delete><Object><Key>", b"<CompleteMultipartUpload>", b'{"Statement":"', b"<a>"])
    r.body = head + b"A" * (n - len(head))
    if rng.random() < 0.6:
        r.te = "chunked"  # no Content-Length: only the body itself tells its size


MUTATIONS = [
    (m_method, 4), (m_bucket, 5), (m_key, 8), (m_path_raw, 6), (m_query, 10), (m_range, 3), (m_content_md5, 4),
    (m_checksum, 5), (m_content_sha256, 3), (m_amz_date, 2), (m_metadata, 3), (m_copy_source, 2), (m_headers, 10),
    (m_vhost, 3), (m_body_random, 3), (m_body_truncate, 3), (m_body_xml, 6), (m_body_json, 3), (m_body_big, 0.25),
]


# Framing mutations: after signing, they change how the body is sent, not what was signed.

def f_content_length(rng, r):
    n = len(r.body)
    c = rng.randrange(8)
    if c == 0 and n:
        r.cl = str(n + rng.choice([1, 10, 1000]))
        r.half_close = True
    elif c == 1 and n:
        r.cl = str(rng.randrange(n))
        r.close = True
    elif c == 2:
        r.cl = rng.choice(["abc", "-1", "1e3", " 5", "0x10", "", "+5", "18446744073709551616", "99999999999"])
        r.close = True
        r.half_close = True
    elif c == 3:
        r.cl_extra = str(n + 1)
        r.close = True
    elif c == 4:
        r.cl = "none"
        r.close = True
    elif c == 5:
        r.te = "chunked"
        r.cl_extra = str(n)  # both: a smuggling shape
        r.close = True
    elif c == 6:
        r.te = rng.choice(["gzip", "chunked, gzip", "identity", "x"])
        r.close = True
        r.half_close = True
    else:
        r.te = "chunked"
        r.te_broken = rng.choice(["size-hex", "no-final", "size-bigger", "ext", "trailer"])
        r.close = True
        r.half_close = True


def f_version(rng, r):
    r.version = rng.choice(["HTTP/1.0", "HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "http/1.1", "HTTP/1.1 x", ""])
    r.close = True
    r.half_close = True


# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------


def signed_names(r, rng):
    names = {"host", "x-amz-date", "x-amz-content-sha256"}
    for n, _ in r.headers:
        ln = n.lower()
        if ln.startswith("x-amz-") or ln in ("content-md5", "content-type", "content-encoding"):
            names.add(ln)
    if r.header("Range") is not None and rng.random() < 0.5:
        names.add("range")
    if r.no_host:
        names.discard("host")
    return sorted(names)


def payload_hash(r):
    if r.payload is not None:
        return r.payload
    return hashlib.sha256(r.body).hexdigest()


def sign_header(r, rng, access=ACCESS_KEY, secret=SECRET_KEY, region=REGION, service="s3"):
    amz_date = getattr(r, "amz_date", None) or amz_now()
    r.set("x-amz-date", amz_date)
    r.set("x-amz-content-sha256", payload_hash(r))
    names = signed_names(r, rng)
    date = amz_date[:8]
    scope = "%s/%s/%s/aws4_request" % (date, region, service)
    sts = string_to_sign(r.method, r.path, r.query, r.wire_headers(), names, payload_hash(r), amz_date, scope)
    key = signing_key(secret, date, region, service)
    sig = hmac_hex(key, sts)
    r.set("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
          % (access, scope, ";".join(names), sig))
    r.sig = (sig, key, amz_date, scope)


def sign_presigned(r, rng, access=ACCESS_KEY, secret=SECRET_KEY, expires=None, amz_date=None):
    amz_date = amz_date or getattr(r, "amz_date", None) or amz_now()
    date = amz_date[:8]
    scope = "%s/%s/s3/aws4_request" % (date, REGION)
    names = ["host"] if not r.no_host else []
    if r.header("x-amz-acl") is not None and rng.random() < 0.5:
        names.append("x-amz-acl")
    params = [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", "%s/%s" % (access, scope)),
        ("X-Amz-Date", amz_date), ("X-Amz-Expires", expires or rng.choice(["60", "900", "604800"])),
        ("X-Amz-SignedHeaders", ";".join(names)),
    ]
    extra = "&".join("%s=%s" % (k, qv(v)) for k, v in params)
    r.add_query(extra)
    payload = "UNSIGNED-PAYLOAD"
    if r.payload is not None and rng.random() < 0.3:
        payload = r.payload
        r.set("x-amz-content-sha256", payload)
    sts = string_to_sign(r.method, r.path, r.query, r.wire_headers(), names, payload, amz_date, scope, presigned=True)
    key = signing_key(secret, date, REGION, "s3")
    sig = hmac_hex(key, sts)
    r.add_query("X-Amz-Signature=" + sig)
    r.sig = (sig, key, amz_date, scope)


def dangerous_admin(r):
    """Signed admin calls the fuzzer must not make for real: cluster changes (init, join, which
    could dial out), a scrub or shard collection over the node's disks."""
    p = urllib.parse.unquote(urllib.parse.unquote(r.path)).lower()
    if "admin" not in p or r.method.upper() in ("GET", "HEAD"):
        return False
    return any(w in p for w in ("cluster", "scrub", "gc", "init", "join", "collect"))


def authenticate(rng, r):
    c = rng.random()
    if c < 0.72:
        mode = "sigv4"
    elif c < 0.80:
        mode = "presigned"
    elif c < 0.88:
        mode = "none"
    else:
        mode = "broken"
    if mode != "none" and dangerous_admin(r):
        mode = "broken"
        r.notes.append("admin-guard")
    r.auth = mode
    if mode == "none":
        if rng.random() < 0.5 and r.payload is not None:
            r.set("x-amz-content-sha256", r.payload)
        return
    if mode == "sigv4":
        sign_header(r, rng)
        return
    if mode == "presigned":
        c = rng.randrange(10)
        if c == 0:
            sign_presigned(r, rng, expires="1", amz_date="20200101T000000Z")
            r.notes.append("presign:expired")
        elif c == 1:
            sign_presigned(r, rng, expires=rng.choice(["0", "-1", "604801", "x", "99999999999999999999", ""]))
            r.notes.append("presign:bad-expires")
        elif c == 2:
            sign_presigned(r, rng)
            r.query = re.sub(r"X-Amz-(Algorithm|Credential|Date|SignedHeaders)=[^&]*&?", "", r.query, count=1)
            r.notes.append("presign:missing-param")
        elif c == 3:
            sign_presigned(r, rng)
            sign_header(r, rng)
            r.notes.append("presign:and-header")
        else:
            sign_presigned(r, rng)
        return
    # broken signatures
    c = rng.randrange(14)
    r.notes.append("auth:%d" % c)
    if c == 0:
        sign_header(r, rng, secret="wrong-secret-key")
    elif c == 1:
        sign_header(r, rng, access="NOSUCHACCESSKEY")
    elif c == 2:
        sign_header(r, rng)
        a = r.header("Authorization")
        r.set("Authorization", a[:-rng.randrange(1, 64)])
    elif c == 3:
        sign_header(r, rng)
        a = r.header("Authorization")
        r.set("Authorization", a[:-1] + ("0" if a[-1] != "0" else "1"))
    elif c == 4:
        sign_header(r, rng, region=rng.choice(["eu-west-1", "", "us-east-1 "]))
    elif c == 5:
        sign_header(r, rng, service=rng.choice(["s4", "sts", "iam", ""]))
    elif c == 6:
        sign_header(r, rng)
        r.set("Authorization", rng.choice([
            "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 ", "AWS %s:%s" % (ACCESS_KEY, b64(b"x" * 20)), "Bearer abc",
            "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=host, Signature=00" % ACCESS_KEY,
            "AWS4-HMAC-SHA256 Credential=%s/20240101/us-east-1/s3/aws4_request, SignedHeaders=, Signature=%s"
            % (ACCESS_KEY, "0" * 64),
            "AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;;, Signature=",
            "AWS4-HMAC-SHA256 Credential=%s/20240101/us-east-1/s3/aws4_request,SignedHeaders=host;host,Signature=%s"
            % (ACCESS_KEY, "z" * 64),
            "AWS4-HMAC-SHA256 Credential=%s/20240101/us-east-1/s3/aws4_request, SignedHeaders=nosuch, Signature=%s"
            % (ACCESS_KEY, "0" * 64),
            "AWS4-HMAC-SHA256 Credential=%s" % ("a/" * 3000), "AWS4-HMAC-SHA512 Credential=x", "", "\u00e9",
            "AWS4-HMAC-SHA256 Signature=%s, Credential=%s/20240101/us-east-1/s3/aws4_request, SignedHeaders=host"
            % ("0" * 64, ACCESS_KEY),
        ]))
    elif c == 7:
        sign_header(r, rng)
        r.drop("x-amz-date")
    elif c == 8:
        sign_header(r, rng)
        r.set("x-amz-content-sha256", hashlib.sha256(b"changed").hexdigest())
    elif c == 9:
        sign_header(r, rng)
        a = r.header("Authorization")
        r.set("Authorization", a.replace("SignedHeaders=", "SignedHeaders=" + rng.choice(["x-nothere;", "content-type;"]), 1))
    elif c == 10:
        sign_header(r, rng)
        r.add("Authorization", r.header("Authorization"))
    elif c == 11:
        sign_presigned(r, rng, secret="wrong-secret-key")
    elif c == 12:
        sign_presigned(r, rng)
        r.query = r.query[: -rng.randrange(1, 20)]
    else:
        r.set("Authorization", "AWS %s:%s" % (ACCESS_KEY, b64(rand_bytes(rng, 20))))
        r.set("Date", http_date(rng))


# ---------------------------------------------------------------------------
# Framing: bytes on the wire
# ---------------------------------------------------------------------------


def build_stream(r):
    """The aws-chunked body of a streaming request, signed chunk by chunk when asked."""
    s = r.stream
    data, sizes, corrupt = s["data"], list(s["sizes"]), s["corrupt"]
    sig_state = getattr(r, "sig", None)
    signed = s["signed"] and sig_state is not None
    prev = sig_state[0] if signed else None
    out = []
    pos = 0
    chunks = []
    for n in sizes:
        chunks.append(data[pos:pos + n])
        pos += n
    chunks.append(b"")
    for i, chunk in enumerate(chunks):
        size = "%x" % len(chunk)
        ext = ""
        if signed:
            _, key, amz_date, scope = sig_state
            sts = "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s" % (
                amz_date, scope, prev, EMPTY_SHA256, hashlib.sha256(chunk).hexdigest())
            prev = hmac_hex(key, sts)
            ext = ";chunk-signature=" + prev
        last = i == len(chunks) - 1
        victim = (i == 0) if len(chunks) > 1 else last
        eol = "\r\n"
        if corrupt and victim:
            if corrupt == "size-hex":
                size = "zz"
            elif corrupt == "size-neg":
                size = "-" + size
            elif corrupt == "size-huge":
                size = "ffffffffffffffffff"
            elif corrupt == "size-bigger":
                size = "%x" % (len(chunk) + 5)
            elif corrupt == "size-smaller" and chunk:
                size = "%x" % (len(chunk) - 1)
            elif corrupt == "bad-sig" and signed:
                ext = ";chunk-signature=" + "0" * 64
            elif corrupt == "sig-missing":
                ext = ""
            elif corrupt == "ext-garbage":
                ext += ";a=b;;=;" + "x" * 100
            elif corrupt == "long-line":
                ext += ";" + "x" * 5000
            elif corrupt == "empty-size":
                size = ""
            elif corrupt == "lf-only":
                eol = "\n"
        if last and corrupt == "no-final":
            break
        out.append((size + ext + eol).encode())
        out.append(chunk)
        if not last:
            out.append(b"" if (corrupt == "no-crlf" and victim) else eol.encode())
    if s["alg"] and corrupt != "no-final":
        if corrupt == "trailer-missing":
            pass
        elif corrupt == "bad-trailer":
            out.append(b"x-amz-checksum-%s:%s\r\n" % (s["alg"].encode(), b"not-a-checksum"))
        else:
            fast = s["alg"] != "crc32c" or len(data) <= 8192
            value = checksum_value(s["alg"], data) if fast else "AAAAAA=="
            out.append(("x-amz-checksum-%s:%s\r\n" % (s["alg"], value)).encode())
        if signed and corrupt != "trailer-missing":
            _, key, amz_date, scope = sig_state
            trailer = out[-1].replace(b"\r\n", b"\n")
            sts = "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s" % (amz_date, scope, prev, hashlib.sha256(trailer).hexdigest())
            out.append(("x-amz-trailer-signature:%s\r\n" % hmac_hex(key, sts)).encode())
    if corrupt != "no-final":
        out.append(b"\r\n")
    if corrupt == "extra-after":
        out.append(b"garbage after the final chunk")
    body = b"".join(out)
    if corrupt == "decoded-len":
        r.set("x-amz-decoded-content-length", str(len(data) + 7))
    return body


def http_chunked(body, broken, rng):
    parts = []
    pos = 0
    while pos < len(body):
        n = min(len(body) - pos, rng.choice([1, 100, 4096, 65536]))
        parts.append(b"%x\r\n%s\r\n" % (n, body[pos:pos + n]))
        pos += n
    tail = b"0\r\n\r\n"
    if broken == "size-hex" and parts:
        parts[0] = b"zz" + parts[0][parts[0].index(b"\r\n"):]
    elif broken == "no-final":
        tail = b""
    elif broken == "size-bigger":
        parts.append(b"ffff\r\nshort\r\n")
    elif broken == "ext":
        tail = b"0;" + b"x" * 10000 + b"\r\n\r\n"
    elif broken == "trailer":
        tail = b"0\r\nX-Trailer: 1\r\n" + b"Y: 2\r\n" * 2000 + b"\r\n"
    return b"".join(parts) + tail


# Everything visible in ASCII stays as it is in a request target; the rest is percent-encoded.
PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))


def frame(r, port, rng):
    """The request's bytes."""
    if r.raw is not None:
        return r.raw
    if r.stream is not None:
        r.body = build_stream(r)
    body = r.body
    hdrs = r.wire_headers()
    if r.te is not None:
        hdrs.append(("Transfer-Encoding", r.te))
        if r.te == "chunked":
            body = http_chunked(body, r.te_broken, rng)
    if r.cl == "auto":
        if r.te is None and (body or r.method in ("PUT", "POST", "PATCH")):
            hdrs.append(("Content-Length", str(len(body))))
    elif r.cl != "none":
        hdrs.append(("Content-Length", r.cl))
    if r.cl_extra is not None:
        hdrs.append(("Content-Length", r.cl_extra))
    if r.close:
        hdrs.append(("Connection", "close"))
    target = r.target() if r.raw_target else urllib.parse.quote(r.target(), safe=PRINTABLE)
    line = "%s %s %s" % (r.method, target, r.version) if r.version else "%s %s" % (r.method, target)
    head = line + "\r\n" + "".join("%s: %s\r\n" % h for h in hdrs) + "\r\n"
    return head.encode("utf-8", "surrogateescape") + body


def generate(seed, i, st, port):
    """Request i of the run: (Req, bytes). Deterministic in (seed, i) but for dates and upload ids."""
    rng = random.Random("%s:%d" % (seed, i))
    tmpl = rng.choices([t for t, _ in TEMPLATES], weights=[w for _, w in TEMPLATES])[0]
    r = tmpl(rng, st)
    r.port = port
    if r.raw is None:
        nmut = rng.choices([0, 1, 2, 3, 4], weights=[20, 40, 25, 10, 5])[0]
        for _ in range(nmut):
            m = rng.choices([m for m, _ in MUTATIONS], weights=[w for _, w in MUTATIONS])[0]
            m(rng, r, st)
            r.notes.append(m.__name__[2:])
        authenticate(rng, r)
        if rng.random() < 0.05:
            f_content_length(rng, r)
            r.notes.append("framing")
        if rng.random() < 0.005:
            f_version(rng, r)
            r.notes.append("version")
    return r, frame(r, port, rng)


# ---------------------------------------------------------------------------
# A small HTTP/1.1 client over raw sockets (to 127.0.0.1 only)
# ---------------------------------------------------------------------------


class NoResponse(Exception):
    pass


class Response:
    __slots__ = ("status", "reason", "headers", "body")

    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name):
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def code(self):
        """The S3 error code (XML <Code> or JSON "code"), if any."""
        m = re.search(rb"<Code>([^<]{0,100})</Code>", self.body[:4096])
        if m:
            return m.group(1).decode("utf-8", "replace")
        m = re.search(rb'"code"\s*:\s*"([^"]{0,100})"', self.body[:4096])
        return m.group(1).decode("utf-8", "replace") if m else ""


MAX_RESPONSE_BODY = 8 << 20


class Conn:
    def __init__(self, port, timeout):
        self.port, self.timeout = port, timeout
        self.sock = None
        self.rf = None

    def close(self):
        if self.sock is not None:
            try:
                self.rf.close()
                self.sock.close()
            except OSError:
                pass
        self.sock = self.rf = None

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.rf = s, s.makefile("rb", buffering=65536)

    def roundtrip(self, data, head=False, close=False, half_close=False):
        """Send data, read one final response. Raises NoResponse (connection closed or
        reset before an answer), socket.timeout."""
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self._connect()
            try:
                try:
                    self.sock.sendall(data)
                    if half_close:
                        self.sock.shutdown(socket.SHUT_WR)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server may have answered and closed early: read what is there
                resp = self._read(head)
            except NoResponse:
                self.close()
                if fresh or attempt:
                    raise
                continue  # a kept-alive connection the server had closed: once more on a new one
            except (socket.timeout, OSError):
                self.close()
                raise
            conn_hdr = (resp.header("connection") or "").lower()
            if close or half_close or "close" in conn_hdr:
                self.close()
            return resp
        raise NoResponse("unreachable")

    def _line(self):
        try:
            line = self.rf.readline(65537)
        except ConnectionResetError:
            raise NoResponse("connection reset")
        return line

    def _read(self, head):
        while True:
            line = self._line()
            if not line:
                raise NoResponse("connection closed without an answer")
            parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise NoResponse("bad status line %r" % line[:200])
            status = int(parts[1])
            headers = []
            while True:
                h = self._line()
                if not h:
                    raise NoResponse("connection closed in the answer's head")
                if h in (b"\r\n", b"\n"):
                    break
                n, _, v = h.decode("latin-1").partition(":")
                headers.append((n.strip(), v.strip()))
            if 100 <= status < 200 and status != 101:
                continue
            resp = Response(status, parts[2] if len(parts) > 2 else "", headers, b"")
            if head or status in (204, 304):
                return resp
            te = (resp.header("transfer-encoding") or "").lower()
            cl = resp.header("content-length")
            try:
                if "chunked" in te:
                    chunks = []
                    total = 0
                    while True:
                        sz = self._line()
                        if not sz:
                            raise NoResponse("connection closed in a chunked answer")
                        n = int(sz.split(b";")[0].strip() or b"0", 16)
                        if n == 0:
                            while self._line() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        total += n
                        if total > MAX_RESPONSE_BODY:
                            raise NoResponse("chunked answer larger than %d bytes" % MAX_RESPONSE_BODY)
                        chunks.append(self.rf.read(n))
                        self.rf.readline(4)
                    resp.body = b"".join(chunks)
                elif cl is not None:
                    n = int(cl)
                    if n > MAX_RESPONSE_BODY:
                        raise NoResponse("answer with Content-Length %d" % n)
                    resp.body = self.rf.read(n)
                    if len(resp.body) < n:
                        resp.body += b"...<cut short: %d of %d bytes>" % (len(resp.body), n)
                        self.close()
                else:
                    resp.body = self.rf.read(MAX_RESPONSE_BODY)
                    self.close()
            except ConnectionResetError:
                resp.body += b"...<connection reset in the body>"
                self.close()
            return resp


def http_get(port, path, timeout):
    c = Conn(port, timeout)
    try:
        return c.roundtrip(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (path, port)).encode())
    finally:
        c.close()


# ---------------------------------------------------------------------------
# The node
# ---------------------------------------------------------------------------


def _die_with_parent():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Node:
    def __init__(self, binary, workdir, body_timeout):
        self.binary, self.workdir, self.body_timeout = binary, workdir, body_timeout
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, "cairnd.log")
        self.out_path = os.path.join(workdir, "cairnd.out")
        self.log_offset = 0

    def start(self, timeout=60):
        data = os.path.join(self.workdir, "data")
        os.makedirs(data, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CAIRN_"))}
        env.update(CAIRN_ROOT_ACCESS_KEY=ACCESS_KEY, CAIRN_ROOT_SECRET_KEY=SECRET_KEY, RUST_BACKTRACE="1")
        if os.environ.get("CAIRN_FUZZ_LOG"):
            env["CAIRN_LOG"] = os.environ["CAIRN_FUZZ_LOG"]
        # Port 0: the kernel picks free ports on the loopback address and cairnd prints them.
        args = [self.binary, "--data", data, "--s3-listen", "127.0.0.1:0", "--node-listen", "127.0.0.1:0",
                "--body-timeout-secs", str(self.body_timeout)]
        with open(self.out_path, "wb") as out, open(self.log_path, "ab") as err:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                                         cwd=self.workdir, preexec_fn=_die_with_parent)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("cairnd exited (status %s) before it was ready; log:\n%s"
                                   % (self.proc.returncode, self.log_tail(40)))
            with open(self.out_path, "rb") as f:
                m = re.search(rb"S3 endpoint:\s*http://127\.0\.0\.1:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                return
            time.sleep(0.05)
        raise RuntimeError("cairnd did not print its S3 endpoint within %ds; log:\n%s" % (timeout, self.log_tail(40)))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log_path) - 200000))
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def new_panics(self):
        """Panics in the log written since the last call: [(location, report)]."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                chunk = f.read(64 << 20)
        except OSError:
            return []
        cut = chunk.rfind(b"\n") + 1  # a partial last line waits for the next call
        if cut == 0 and len(chunk) >= (64 << 20):
            cut = len(chunk)
        self.log_offset += cut
        lines = chunk[:cut].decode("utf-8", "replace").splitlines()
        found = []
        for n, line in enumerate(lines):
            if "panicked" not in line:
                continue
            m = re.search(r"panicked at ([^\s]+?):?$", line) or re.search(r"panicked at (\S+)", line)
            where = m.group(1).rstrip(":") if m else "?"
            report = [line]
            for follow in lines[n + 1:n + 100]:
                if len(report) > 14 or re.match(r"\d{4}-\d\d-\d\dT", follow):
                    break
                frame_line = follow.strip()
                if frame_line.startswith("at ") or re.match(r"\d+: (__rustc|core::panicking|std::panicking|rust_begin)",
                                                             frame_line):
                    continue
                report.append(follow if len(follow) <= 160 else follow[:160] + "...")
            found.append((where, "\n".join(report)))
        return found

    def peak_rss_kib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# ---------------------------------------------------------------------------
# Setup: buckets, objects and multipart uploads the requests refer to
# ---------------------------------------------------------------------------

SETUP_KEYS = ["obj-%d" % i for i in range(16)] + ["dir/a/b.txt", "ünï/ключ.txt", "space key.txt", "plus+key",
                                                    "mp-dir/x"]
SETUP_SIZES = [0, 1, 7, 100, 1000, 4096, 5000, 65536, 70000, 300000, 1 << 20]


def setup_state_offline():
    """Placeholder state (for --show without a node)."""
    st = State()
    st.keys = [(q(k), 0, '"0"') for k in SETUP_KEYS]
    st.uploads = [("mp-%d" % i, "UPLOAD-ID-%d" % i, '"0"') for i in range(4)]
    return st


def signed_call(conn, port, r):
    rng = random.Random(0)
    r.port = port
    sign_header(r, rng)
    data = frame(r, port, rng)
    return conn.roundtrip(data, head=r.head)


def setup(port, seed, timeout):
    st = State()
    rng = random.Random("setup:%s" % seed)
    conn = Conn(port, timeout)

    def must(r, ok=(200,)):
        resp = signed_call(conn, port, r)
        if resp.status not in ok:
            raise RuntimeError("setup: %s %s answered %d %s\n%s" % (r.method, r.target(), resp.status, resp.reason,
                                                                 resp.body[:2000].decode("utf-8", "replace")))
        return resp

    for b in (MAIN, AUX):
        must(Req("CreateBucket", "PUT", "/" + b))
    for i, k in enumerate(SETUP_KEYS):
        size = SETUP_SIZES[i % len(SETUP_SIZES)]
        body = rand_bytes(rng, size)
        for b in (MAIN, AUX) if i < 4 else (MAIN,):
            resp = must(Req("PutObject", "PUT", "/%s/%s" % (b, q(k)), None, body))
        st.keys.append((q(k), size, resp.header("etag") or '""'))
    for i in range(4):
        key = "mp-%d" % i
        resp = must(Req("CreateMultipartUpload", "POST", "/%s/%s" % (MAIN, key), "uploads"))
        m = re.search(rb"<UploadId>([^<]+)</UploadId>", resp.body)
        if not m:
            raise RuntimeError("setup: no UploadId in %r" % resp.body[:500])
        uid = m.group(1).decode()
        resp = must(Req("UploadPart", "PUT", "/%s/%s" % (MAIN, key), "partNumber=1&uploadId=" + qv(uid),
                        rand_bytes(rng, 1000)))
        st.uploads.append((key, uid, resp.header("etag") or '""'))
    conn.close()
    return st


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def show_request(data, limit=1500):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return "  " + repr(data[:limit])
    lines = []
    for line in head.split(b"\r\n"):
        s = line.decode("utf-8", "backslashreplace")
        lines.append("  > " + (s if len(s) <= 400 else s[:400] + "...<%d chars>" % len(s)))
    if body:
        b = repr(body[:300])
        lines.append("  > <body %d bytes> %s%s" % (len(body), b, "..." if len(body) > 300 else ""))
    return "\n".join(lines)


def show_response(resp, limit=1500):
    if not isinstance(resp, Response):
        return "  < %s" % resp
    lines = ["  < %d %s" % (resp.status, resp.reason)]
    lines += ["  < %s: %s" % h for h in resp.headers]
    if resp.body:
        lines.append("  < " + resp.body[:limit].decode("utf-8", "backslashreplace"))
    return "\n".join(lines)


def shape(r):
    """What the server sees, roughly: method, what the path names, the query parameter names, how the
    body comes and how the request is signed."""
    path = urllib.parse.unquote(r.path)
    segs = [x for x in path.split("/")[1:]]
    vhost = r.host is not None and re.fullmatch(r"[a-z0-9.-]+\.localhost(:\d+)?", r.host) is not None
    if path.startswith("/cairn/admin/"):
        kind = "admin"
    elif path in ("/health/live", "/health/ready", "/metrics"):
        kind = "probe"
    elif vhost:
        kind = "object" if path.strip("/") else "bucket"
    else:
        kind = "service" if not path.strip("/") else "bucket" if len(segs) == 1 or segs[1:] == [""] else "object"
    names = set()
    for k, _ in urllib.parse.parse_qsl(r.query or "", keep_blank_values=True):
        if k.startswith("response-"):
            names.add("response-*")
        elif k in OPERATION_PARAMS:
            names.add(k)
    names = sorted(names)
    body = "aws-chunked" if r.stream is not None else "chunked" if r.te else "body" if r.body else "no body"
    if r.cl != "auto" or r.half_close:
        body += ", framing"
    return "%s %s%s (%s)" % (r.method, kind, "?" + "&".join(names[:3]) if names else "", body)


# Query parameters that choose the operation (the rest only tune it).
OPERATION_PARAMS = {
    "acl", "policy", "policyStatus", "tagging", "delete", "uploads", "uploadId", "partNumber", "versions", "versioning",
    "location", "cors", "lifecycle", "website", "encryption", "replication", "ownershipControls", "publicAccessBlock",
    "requestPayment", "object-lock", "legal-hold", "retention", "restore", "select", "attributes", "torrent",
    "notification", "logging", "accelerate", "list-type",
}


# Answers that refuse the request's credentials or signature.
AUTH_CODES = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AuthorizationHeaderMalformed", "AuthorizationQueryParametersError",
              "AccessDenied", "RequestTimeTooSkewed", "ExpiredToken", "InvalidSignature", "MissingSecurityHeader",
              "SignatureVersionNotSupported"}


class Run:
    def __init__(self, args, node, st, indices):
        self.args, self.node, self.st = args, node, st
        self.indices = indices
        self.pos = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.deadline = time.time() + args.seconds
        self.sent = 0
        self.statuses = collections.Counter()
        self.auth_modes = collections.Counter()  # auth mode -> requests
        self.auth_refused = collections.Counter()  # auth mode -> answers refusing the credentials
        self.failed = 0
        self.classes = collections.OrderedDict()  # (status, code, op) -> [count, examples]
        self.hung = []
        self.no_answer = collections.deque(maxlen=64)  # (time, i, r, data): requests whose connection just dropped
        self.panics = collections.OrderedDict()  # location -> count
        self.fatal = []
        self.time_limited = False

    def next_index(self):
        with self.lock:
            if self.pos >= len(self.indices):
                return None
            i = self.indices[self.pos]
            self.pos += 1
            return i

    def worker(self):
        conn = Conn(self.node.port, self.args.timeout)
        try:
            while not self.stop.is_set():
                if time.time() >= self.deadline:
                    self.time_limited = True
                    break
                i = self.next_index()
                if i is None:
                    break
                r, data = generate(self.args.seed, i, self.st, self.node.port)
                try:
                    resp = conn.roundtrip(data, head=r.head, close=r.close, half_close=r.half_close)
                    outcome = resp.status
                except NoResponse:
                    resp = outcome = "no-answer"
                except socket.timeout:
                    resp = outcome = "timeout"
                except OSError as e:
                    resp = outcome = "conn-error"
                    resp = "conn-error: %s" % e
                self.record(i, r, data, outcome, resp)
        finally:
            conn.close()

    def record(self, i, r, data, outcome, resp):
        bad = isinstance(outcome, int) and outcome >= 500 and outcome not in (501, 503)
        with self.lock:
            self.sent += 1
            self.statuses[outcome] += 1
            self.auth_modes[r.auth] += 1
            if isinstance(resp, Response) and resp.status in (400, 403) and resp.code() in AUTH_CODES:
                self.auth_refused[r.auth] += 1
            if self.args.verbose:
                print("#%d %s [%s] %s -> %s %s" % (i, r.op, r.auth, ",".join(r.notes), outcome,
                                                 resp.code() if isinstance(resp, Response) else ""), flush=True)
            if outcome == "timeout" and len(self.hung) < 5:
                self.hung.append((i, r, data))
            if outcome == "no-answer" and r.raw is None:
                self.no_answer.append((time.time(), i, r, data))
            if not bad:
                return
            self.failed += 1
            key = (outcome, resp.code(), shape(r))
            entry = self.classes.setdefault(key, [0, []])
            entry[0] += 1
            if len(entry[1]) < 3:
                entry[1].append(i)
            if entry[0] <= self.args.examples:
                print("\nFAIL request #%d (%s; mutations: %s; auth: %s) answered %d %s" % (
                    i, r.op, ",".join(r.notes) or "none", r.auth, outcome, resp.code()), flush=True)
                print(show_request(data))
                print(show_response(resp))
                print("  reproduce: scripts/fuzz-http.sh --seed %s --only %d" % (self.args.seed, i), flush=True)
            if self.args.fail_fast:
                self.stop.set()

    def panic(self, where, report):
        with self.lock:
            self.failed += 1
            first = where not in self.panics
            self.panics[where] = self.panics.get(where, 0) + 1
            suspects = [x for x in self.no_answer if x[0] > time.time() - 5][-3:]
        if first:
            print("\nFAIL panic in the node's log:\n%s" % report, flush=True)
            if suspects:
                print("  requests whose connection dropped without an answer just before (suspects):")
                for _, i, r, data in suspects:
                    print(" #%d %s (mutations: %s; auth: %s)" % (i, r.op, ",".join(r.notes) or "none", r.auth))
                    print(show_request(data, 600))
                    print("  reproduce: scripts/fuzz-http.sh --seed %s --only %d" % (self.args.seed, i))
            sys.stdout.flush()
        if self.args.fail_fast:
            self.stop.set()

    def fatal_error(self, msg):
        with self.lock:
            self.fatal.append(msg)
        print("\nFAIL %s" % msg, flush=True)
        self.stop.set()

    def monitor(self, threads):
        last_health = 0
        health_fails = 0
        last_progress = time.time()
        started = time.time()
        give_up = self.deadline + self.args.timeout + 10  # workers are bounded by the deadline and the answer timeout
        while any(t.is_alive() for t in threads) and time.time() < give_up:
            time.sleep(0.25)
            if not self.node.alive():
                self.fatal_error("cairnd died (exit status %s); log tail:\n%s" % (self.node.proc.returncode,
                                                                                self.node.log_tail(40)))
                break
            for where, report in self.node.new_panics():
                self.panic(where, report)
            now = time.time()
            if now - last_health >= 2:
                last_health = now
                try:
                    h = http_get(self.node.port, "/health/live", 10)
                    ok = h.status == 200
                except (NoResponse, OSError):
                    ok = False
                health_fails = 0 if ok else health_fails + 1
                if health_fails >= 3:
                    self.fatal_error("cairnd stopped answering GET /health/live (3 checks in a row)")
                    break
            if now - last_progress >= 10:
                last_progress = now
                with self.lock:
                    log("%d sent in %.0fs (%.0f/s), %d failed; %s" % (
                        self.sent, now - started, self.sent / max(now - started, 1e-9), self.failed,
                        ", ".join("%s:%d" % kv for kv in sorted(self.statuses.items(), key=lambda kv: str(kv[0])))))
        self.stop.set()


def final_checks(run, node, port, timeout):
    problems = []
    if not node.alive():
        problems.append("cairnd is not running at the end (exit status %s)" % node.proc.returncode)
        return problems
    try:
        h = http_get(port, "/health/live", timeout)
        if h.status != 200:
            problems.append("GET /health/live answered %d at the end" % h.status)
    except (NoResponse, OSError) as e:
        problems.append("GET /health/live failed at the end: %s" % e)
    try:
        conn = Conn(port, timeout)
        resp = signed_call(conn, port, Req("ListBuckets", "GET", "/"))
        conn.close()
        if resp.status != 200 or MAIN.encode() not in resp.body:
            problems.append("a signed ListBuckets answered %d at the end:\n%s" % (resp.status, show_response(resp)))
    except (NoResponse, OSError) as e:
        problems.append("a signed ListBuckets failed at the end: %s" % e)
    return problems


def parse_only(spec):
    out = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.environ.get("CAIRND_BIN", "target/debug/cairnd"), help="cairnd binary")
    ap.add_argument("--seed", default="cairn-fuzz-1", help="random seed (default: %(default)s)")
    ap.add_argument("--count", type=int, default=100000, help="requests to send (default: %(default)s)")
    ap.add_argument("--start", type=int, default=0, help="index of the first request (default: 0)")
    ap.add_argument("--seconds", type=float, default=300, help="hard time bound of the request phase (default: %(default)s)")
    ap.add_argument("--workers", type=int, default=8, help="concurrent connections (default: %(default)s)")
    ap.add_argument("--timeout", type=float, default=30, help="seconds to wait for one answer (default: %(default)s)")
    ap.add_argument("--only", help="send only these request indices (e.g. 17,40-45)")
    ap.add_argument("--show", action="store_true", help="print the requests (--only, or --start/--count) and exit")
    ap.add_argument("--examples", type=int, default=2, help="requests printed per failure class (default: %(default)s)")
    ap.add_argument("--fail-fast", action="store_true", help="stop at the first failing answer")
    ap.add_argument("--keep", action="store_true", help="keep the node's directory (it is kept on failure)")
    ap.add_argument("--verbose", action="store_true", help="print every request's outcome")
    args = ap.parse_args()
    if args.count < 0 or args.workers < 1 or args.seconds <= 0:
        ap.error("--count >= 0, --workers >= 1, --seconds > 0")
    indices = parse_only(args.only) if args.only else list(range(args.start, args.start + args.count))

    if args.show:
        st = setup_state_offline()
        for i in indices[:1000]:
            r, data = generate(args.seed, i, st, 9000)
            print("#%d %s (mutations: %s; auth: %s)" % (i, r.op, ",".join(r.notes) or "none", r.auth))
            print(show_request(data))
        return 0

    if not os.path.isfile(args.bin):
        log("no cairnd at %s" % args.bin)
        return 2
    workdir = tempfile.mkdtemp(prefix="cairn-fuzz-")
    node = Node(os.path.abspath(args.bin), workdir, body_timeout=5)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    failed = 1
    sent = 0
    try:
        node.start()
        log("cairnd %s (pid %d) on 127.0.0.1:%d, data in %s" % (args.bin, node.proc.pid, node.port, workdir))
        st = setup(node.port, args.seed, args.timeout)
        log("setup: 2 buckets, %d objects, %d multipart uploads; sending %d requests (seed %s, %d workers, at most %gs)"
            % (len(st.keys), len(st.uploads), len(indices), args.seed, args.workers, args.seconds))
        run = Run(args, node, st, indices)
        started = time.time()
        threads = [threading.Thread(target=run.worker, daemon=True) for _ in range(min(args.workers, max(1, len(indices))))]
        for t in threads:
            t.start()
        try:
            run.monitor(threads)
        finally:
            run.stop.set()
            for t in threads:
                t.join(args.timeout + 5)
        elapsed = time.time() - started
        for where, report in node.new_panics():
            run.panic(where, report)
        problems = list(run.fatal)
        if node.alive() and not run.fatal:
            more = final_checks(run, node, node.port, args.timeout)
            for p in more:
                print("\nFAIL %s" % p)
            problems += more
        rss = node.peak_rss_kib()
        sent = run.sent

        print("\n== fuzz summary (seed %s) ==" % args.seed)
        print("requests sent: %d in %.1fs (%.0f/s)%s" % (sent, elapsed, sent / max(elapsed, 1e-9),
                                                         "; stopped by the --seconds bound" if run.time_limited else ""))
        print("status codes:  " + ", ".join("%s: %d" % kv for kv in sorted(run.statuses.items(), key=lambda kv: str(kv[0]))))
        print("refused by authentication (of all, by signing mode): " + ", ".join(
            "%s %d/%d" % (m, run.auth_refused[m], n) for m, n in sorted(run.auth_modes.items())))
        if run.hung:
            print("answers that timed out (first %d):" % len(run.hung))
            for i, r, data in run.hung:
                print(" #%d %s (mutations: %s; auth: %s)" % (i, r.op, ",".join(r.notes) or "none", r.auth))
                print(show_request(data, 600))
        if run.classes:
            print("5xx answers by request shape (status, error code, method, path names?operation parameters (body): "
                  "count, first requests):")
            for (status, code, what), (n, ex) in sorted(run.classes.items(), key=lambda kv: -kv[1][0]):
                print("  %d %s  %s: %d  %s" % (status, code or "-", what, n, ", ".join("#%d" % e for e in ex)))
        if run.panics:
            print("panics in the node's log (location: count):")
            for where, n in run.panics.items():
                print("  %s: %d" % (where, n))
        print("node peak RSS (VmHWM): %s" % ("%.1f MiB" % (rss / 1024) if rss is not None else "unknown"))
        failed = run.failed + len(problems)
        answered_badly = failed - len(problems) - sum(run.panics.values())
        node.stop()
        if failed:
            print("node directory kept: %s (log: %s)" % (workdir, node.log_path))
        print("fuzz: %d passed, %d failed" % (max(sent - answered_badly, 0), failed), flush=True)
        return 1 if failed else 0
    except KeyboardInterrupt:
        log("interrupted")
        print("fuzz: %d passed, 1 failed" % sent, flush=True)
        return 130
    except RuntimeError as e:
        print("FAIL %s" % e, flush=True)
        print("fuzz: 0 passed, 1 failed", flush=True)
        return 1
    finally:
        node.stop()
        if failed and not args.keep:
            shutil.rmtree(os.path.join(workdir, "data"), ignore_errors=True)
        elif not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
