// AWS Signature Version 4, computed in the page with WebCrypto: the console signs
// its own requests exactly as an SDK does, so the node's one authorizer decides
// everything it may do. The secret never leaves this tab's memory.

const enc = new TextEncoder();

export function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(data) {
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

async function hmac(key, msg) {
  const raw = typeof key === "string" ? enc.encode(key) : key;
  const k = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, enc.encode(msg));
}

// RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ escaped,
// '/' kept only in paths.
export function uriEncode(s, keepSlash = false) {
  let out = "";
  for (const b of enc.encode(String(s))) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === "/")) out += c;
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

// The request path of a bucket and key, encoded once (S3 does not double-encode).
export function objectPath(bucket, key) {
  if (!bucket) return "/";
  return "/" + uriEncode(bucket) + "/" + (key ? uriEncode(key, true) : "");
}

function amzDate(d = new Date()) {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

// `query`: [name, value] pairs; a bare flag (`?versions`) has value "".
export function canonicalQuery(query) {
  return query
    .map(([k, v]) => [uriEncode(k), uriEncode(v ?? "")])
    .sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

async function signingKey(secret, date, region) {
  let k = await hmac("AWS4" + secret, date);
  k = await hmac(k, region);
  k = await hmac(k, "s3");
  return hmac(k, "aws4_request");
}

async function signature(creds, region, time, canonical) {
  const date = time.slice(0, 8);
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", time, scope, await sha256Hex(canonical)].join("\n");
  return { scope, sig: hex(await hmac(await signingKey(creds.secret, date, region), toSign)) };
}

// Headers to send for a request (Authorization, x-amz-date, x-amz-content-sha256 and
// the caller's own `headers`, all signed together with the host).
export async function signHeaders({ method, path, query = [], headers = {}, payloadHash, creds, region, host }) {
  const time = amzDate();
  const h = {};
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = String(v);
  h.host = host;
  h["x-amz-date"] = time;
  h["x-amz-content-sha256"] = payloadHash;
  const names = Object.keys(h).sort();
  const canonHeaders = names.map((n) => `${n}:${h[n].trim().replace(/\s+/g, " ")}\n`).join("");
  const signed = names.join(";");
  const canonical = [method, path, canonicalQuery(query), canonHeaders, signed, payloadHash].join("\n");
  const { scope, sig } = await signature(creds, region, time, canonical);
  delete h.host;
  h.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKey}/${scope}, SignedHeaders=${signed}, Signature=${sig}`;
  return h;
}

// A presigned URL (query string authentication) valid for `expires` seconds.
export async function presign({ method, path, query = [], expires, creds, region, host, origin }) {
  const time = amzDate();
  const scope = `${time.slice(0, 8)}/${region}/s3/aws4_request`;
  const q = [
    ...query,
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${creds.accessKey}/${scope}`],
    ["X-Amz-Date", time],
    ["X-Amz-Expires", String(expires)],
    ["X-Amz-SignedHeaders", "host"],
  ];
  const canonical = [method, path, canonicalQuery(q), `host:${host}\n`, "host", "UNSIGNED-PAYLOAD"].join("\n");
  const { sig } = await signature(creds, region, time, canonical);
  return `${origin}${path}?${canonicalQuery(q)}&X-Amz-Signature=${sig}`;
}
