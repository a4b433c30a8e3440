// The console's client: S3 calls (XML) and Cairn's own endpoints (JSON), every one
// signed in the page. Errors come back as ApiError with the server's code and message.

import { objectPath, presign, sha256Hex, signHeaders, uriEncode } from "./sigv4.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `HTTP${status}`;
  }
}

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export function xml(text) {
  return new DOMParser().parseFromString(text, "application/xml");
}

// Text of the first descendant named `name` (namespace ignored), or "".
export function tag(node, name) {
  const el = node.getElementsByTagName(name)[0];
  return el ? el.textContent : "";
}

export function all(node, name) {
  return Array.from(node.getElementsByTagName(name));
}

// Direct children named `name` (so that Prefix inside CommonPrefixes is not taken
// for the listing's own Prefix).
export function children(node, name) {
  return Array.from(node.children).filter((c) => c.localName === name);
}

function esc(s) {
  return String(s).replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c]);
}
export { esc as xmlEscape };

async function errorOf(resp) {
  const text = await resp.text().catch(() => "");
  if (text.trim().startsWith("<")) {
    const doc = xml(text);
    return new ApiError(resp.status, tag(doc, "Code"), tag(doc, "Message"));
  }
  try {
    const j = JSON.parse(text);
    const e = j.error || j;
    return new ApiError(resp.status, e.code, e.message);
  } catch {
    return new ApiError(resp.status, "", text.trim() || resp.statusText);
  }
}

export class Api {
  constructor(creds, region) {
    this.creds = creds;
    this.region = region;
    this.host = location.host;
    this.origin = location.origin;
  }

  // Signed headers for a request whose body the caller sends itself (XHR uploads).
  async signed(method, path, { query = [], headers = {}, payloadHash = "UNSIGNED-PAYLOAD" } = {}) {
    const h = await signHeaders({ method, path, query, headers, payloadHash, creds: this.creds, region: this.region, host: this.host });
    const qs = query.length ? "?" + query.map(([k, v]) => (v === "" ? uriEncode(k) : `${uriEncode(k)}=${uriEncode(v)}`)).join("&") : "";
    return { url: this.origin + path + qs, headers: h };
  }

  // One signed request; `body` a string (hashed and signed) or a Blob (sent unsigned).
  async request(method, path, { query = [], headers = {}, body = null } = {}) {
    let payloadHash = EMPTY_SHA256;
    if (typeof body === "string") payloadHash = await sha256Hex(body);
    else if (body) payloadHash = "UNSIGNED-PAYLOAD";
    const { url, headers: h } = await this.signed(method, path, { query, headers, payloadHash });
    const resp = await fetch(url, { method, headers: h, body, cache: "no-store", credentials: "omit" });
    if (!resp.ok) throw await errorOf(resp);
    return resp;
  }

  async s3(method, bucket, key, opts = {}) {
    return this.request(method, objectPath(bucket, key), opts);
  }

  async s3xml(method, bucket, key, opts = {}) {
    const resp = await this.s3(method, bucket, key, opts);
    return xml(await resp.text());
  }

  // Cairn's JSON endpoints: `path` below the origin, e.g. "/cairn/admin/v1/info".
  async json(method, path, body, query = []) {
    const text = body === undefined ? null : JSON.stringify(body);
    const headers = text ? { "content-type": "application/json" } : {};
    const resp = await this.request(method, path, { query, headers, body: text });
    const t = await resp.text();
    return t ? JSON.parse(t) : null;
  }

  presign(method, bucket, key, expires, query = []) {
    return this.presignPath(method, objectPath(bucket, key), expires, query);
  }

  // A presigned URL for any path of this node (`path` already encoded).
  presignPath(method, path, expires, query = []) {
    return presign({ method, path, query, expires, creds: this.creds, region: this.region, host: this.host, origin: this.origin });
  }

  // --- S3 operations the console uses ---

  async listBuckets() {
    const doc = await this.s3xml("GET", "", "");
    return all(doc, "Bucket").map((b) => ({ name: tag(b, "Name"), created: tag(b, "CreationDate") }));
  }

  createBucket(name) {
    return this.s3("PUT", name, "");
  }

  deleteBucket(name) {
    return this.s3("DELETE", name, "");
  }

  async versioning(bucket) {
    return tag(await this.s3xml("GET", bucket, "", { query: [["versioning", ""]] }), "Status") || "Off";
  }

  setVersioning(bucket, status) {
    const body = `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>${status}</Status></VersioningConfiguration>`;
    return this.s3("PUT", bucket, "", { query: [["versioning", ""]], body });
  }

  // One page of a listing by delimiter: folders (common prefixes) and objects.
  async listPage(bucket, prefix, token, maxKeys) {
    const query = [["list-type", "2"], ["delimiter", "/"], ["prefix", prefix], ["max-keys", String(maxKeys)]];
    if (token) query.push(["continuation-token", token]);
    const doc = await this.s3xml("GET", bucket, "", { query });
    const root = doc.documentElement;
    return {
      folders: children(root, "CommonPrefixes").map((p) => tag(p, "Prefix")),
      objects: children(root, "Contents").map((c) => ({
        key: tag(c, "Key"),
        size: Number(tag(c, "Size")),
        modified: tag(c, "LastModified"),
        etag: tag(c, "ETag"),
        storageClass: tag(c, "StorageClass"),
      })),
      next: tag(root, "IsTruncated") === "true" ? tag(root, "NextContinuationToken") : null,
    };
  }

  async head(bucket, key, versionId) {
    const query = versionId ? [["versionId", versionId]] : [];
    const resp = await this.s3("HEAD", bucket, key, { query });
    return resp.headers;
  }

  deleteObject(bucket, key, versionId) {
    const query = versionId ? [["versionId", versionId]] : [];
    return this.s3("DELETE", bucket, key, { query });
  }

  putObject(bucket, key, body, contentType) {
    return this.s3("PUT", bucket, key, { body, headers: contentType ? { "content-type": contentType } : {} });
  }

  async versions(bucket, key) {
    const doc = await this.s3xml("GET", bucket, "", { query: [["versions", ""], ["prefix", key]] });
    const root = doc.documentElement;
    const rows = [];
    for (const el of Array.from(root.children)) {
      if (el.localName !== "Version" && el.localName !== "DeleteMarker") continue;
      if (tag(el, "Key") !== key) continue;
      rows.push({
        versionId: tag(el, "VersionId"),
        latest: tag(el, "IsLatest") === "true",
        modified: tag(el, "LastModified"),
        size: el.localName === "Version" ? Number(tag(el, "Size")) : null,
        deleteMarker: el.localName === "DeleteMarker",
      });
    }
    return rows;
  }

  // Makes an old version the current one again: a copy of it onto the same key.
  restore(bucket, key, versionId) {
    const source = `${bucket}/${key}`.split("/").map(encodeURIComponent).join("/") + `?versionId=${encodeURIComponent(versionId)}`;
    return this.s3("PUT", bucket, key, { headers: { "x-amz-copy-source": source } });
  }

  async tags(bucket, key) {
    const doc = await this.s3xml("GET", bucket, key, { query: [["tagging", ""]] });
    return all(doc, "Tag").map((t) => [tag(t, "Key"), tag(t, "Value")]);
  }

  putTags(bucket, key, pairs) {
    const set = pairs.map(([k, v]) => `<Tag><Key>${esc(k)}</Key><Value>${esc(v)}</Value></Tag>`).join("");
    const body = `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>${set}</TagSet></Tagging>`;
    return this.s3("PUT", bucket, key, { query: [["tagging", ""]], body });
  }

  async policy(bucket) {
    try {
      return await (await this.s3("GET", bucket, "", { query: [["policy", ""]] })).text();
    } catch (e) {
      if (e.code === "NoSuchBucketPolicy") return "";
      throw e;
    }
  }

  putPolicy(bucket, text) {
    return this.s3("PUT", bucket, "", { query: [["policy", ""]], body: text });
  }

  deletePolicy(bucket) {
    return this.s3("DELETE", bucket, "", { query: [["policy", ""]] });
  }
}
