// Uploads: one PUT for small files, multipart for the rest (parts sent three at a
// time, each with its own progress), resumable after a reload. What a resume needs
// (bucket, key, upload id, part size, the file's name/size/date) is kept in
// localStorage; never a credential. Choosing the same file again for the same key
// finds the upload's parts with ListParts and sends only the missing ones.

import { ApiError, all, tag, xml, xmlEscape } from "./api.js";
import { say } from "./dom.js";
import { objectPath } from "./sigv4.js";

export const SINGLE_MAX = 8 * 1024 * 1024;
const MIN_PART = 8 * 1024 * 1024;
const PARALLEL = 3;
const STORE = "cairn.console.uploads";

function records() {
  try {
    return JSON.parse(localStorage.getItem(STORE) || "{}");
  } catch {
    return {};
  }
}

function save(all) {
  localStorage.setItem(STORE, JSON.stringify(all));
}

function fileId(bucket, key, file) {
  return `${bucket}\n${key}\n${file.size}\n${file.lastModified}`;
}

// Unfinished multipart uploads this browser started in `bucket`.
export function pending(bucket) {
  return Object.entries(records())
    .filter(([, r]) => r.bucket === bucket)
    .map(([id, r]) => ({ id, ...r }));
}

export function forget(id) {
  const r = records();
  delete r[id];
  save(r);
}

// Sends `body` with XHR (fetch cannot report upload progress); resolves to the ETag.
function send(api, method, path, query, body, onProgress, headers = {}) {
  return api.signed(method, path, { query, headers }).then(
    ({ url, headers: h }) =>
      new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open(method, url);
        for (const [k, v] of Object.entries(h)) xhr.setRequestHeader(k, v);
        xhr.upload.onprogress = (e) => onProgress(e.loaded);
        xhr.onload = () => {
          if (xhr.status >= 200 && xhr.status < 300) {
            onProgress(body.size);
            resolve(xhr.getResponseHeader("ETag"));
          } else {
            const doc = xml(xhr.responseText || "<Error/>");
            reject(new ApiError(xhr.status, tag(doc, "Code"), tag(doc, "Message")));
          }
        };
        xhr.onerror = () => reject(new ApiError(0, "NetworkError", "The connection to the node failed"));
        xhr.send(body);
      }),
  );
}

// Uploads `file` as `key`; `onProgress(bytesDone, total)`. Resolves to true.
export async function upload(api, bucket, key, file, onProgress) {
  const type = file.type ? { "content-type": file.type } : {};
  if (file.size <= SINGLE_MAX) {
    await send(api, "PUT", objectPath(bucket, key), [], file, (n) => onProgress(n, file.size), type);
    return true;
  }
  const partSize = Math.max(MIN_PART, Math.ceil(file.size / 10000 / (1024 * 1024)) * 1024 * 1024);
  const count = Math.ceil(file.size / partSize);
  const id = fileId(bucket, key, file);
  let rec = records()[id];
  const done = new Map();
  if (rec) {
    try {
      const doc = await api.s3xml("GET", bucket, key, { query: [["uploadId", rec.uploadId], ["max-parts", "10000"]] });
      for (const p of all(doc, "Part")) {
        const n = Number(tag(p, "PartNumber"));
        const size = Number(tag(p, "Size"));
        if (size === Math.min(rec.partSize, file.size - (n - 1) * rec.partSize)) done.set(n, tag(p, "ETag"));
      }
    } catch (e) {
      if (e.code !== "NoSuchUpload") throw e;
      rec = null;
    }
  }
  if (!rec || rec.partSize !== partSize) {
    const doc = await api.s3xml("POST", bucket, key, { query: [["uploads", ""]], headers: type });
    rec = { bucket, key, uploadId: tag(doc, "UploadId"), partSize, name: file.name, size: file.size, started: Date.now() };
    done.clear();
    const r = records();
    r[id] = rec;
    save(r);
  }
  const loaded = new Map();
  const report = () => {
    let n = 0;
    for (const [p] of done) n += Math.min(partSize, file.size - (p - 1) * partSize);
    for (const [, v] of loaded) n += v;
    onProgress(Math.min(n, file.size), file.size);
  };
  if (done.size) say(`Resuming ${file.name}: ${done.size} of ${count} parts are already on the node.`);
  report();
  const todo = [];
  for (let n = 1; n <= count; n++) if (!done.has(n)) todo.push(n);
  const worker = async () => {
    while (todo.length) {
      const n = todo.shift();
      const blob = file.slice((n - 1) * partSize, Math.min(n * partSize, file.size));
      const query = [["partNumber", String(n)], ["uploadId", rec.uploadId]];
      const etag = await send(api, "PUT", objectPath(bucket, key), query, blob, (b) => {
        loaded.set(n, b);
        report();
      });
      loaded.delete(n);
      done.set(n, etag);
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, todo.length) }, worker));
  const parts = Array.from(done.entries())
    .sort((a, b) => a[0] - b[0])
    .map(([n, etag]) => `<Part><PartNumber>${n}</PartNumber><ETag>${xmlEscape(etag)}</ETag></Part>`)
    .join("");
  const body = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts}</CompleteMultipartUpload>`;
  const resp = await api.s3("POST", bucket, key, { query: [["uploadId", rec.uploadId]], body });
  // A complete answers 200 with an error document when it fails late.
  const text = await resp.text();
  if (text.includes("<Error>")) {
    const doc = xml(text);
    throw new ApiError(resp.status, tag(doc, "Code"), tag(doc, "Message"));
  }
  forget(id);
  return true;
}

// Drops an unfinished upload: aborts it on the node and forgets it here.
export async function discard(api, rec) {
  try {
    await api.s3("DELETE", rec.bucket, rec.key, { query: [["uploadId", rec.uploadId]] });
  } catch (e) {
    if (e.code !== "NoSuchUpload") throw e;
  }
  forget(rec.id);
}
