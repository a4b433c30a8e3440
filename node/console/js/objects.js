// Buckets and objects: the bucket list, a bucket browsed by folder (delimiter "/")
// one page at a time, uploads by drag and drop or picker, and an object's page
// (metadata, tags, versions with restore, download and share links).

import { attempt, h, say, size, table, when } from "./dom.js";
import { discard, pending, upload } from "./upload.js";

const PAGE_SIZES = [50, 100, 500, 1000];

function objHash(bucket, key) {
  return `#/o/${encodeURIComponent(bucket)}/${encodeURIComponent(key)}`;
}

function folderHash(bucket, prefix) {
  return `#/b/${encodeURIComponent(bucket)}/${encodeURIComponent(prefix)}`;
}

export async function buckets(session) {
  const api = session.api;
  const list = (await attempt(() => api.listBuckets())) || [];
  const name = h("input", { id: "new-bucket", required: true, pattern: "[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]", spellcheck: "false" });
  const create = h(
    "form",
    {
      class: "inline",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const n = name.value.trim();
        if ((await attempt(() => api.createBucket(n))) !== undefined) {
          say(`Bucket ${n} created.`);
          location.hash = folderHash(n, "");
        }
      },
    },
    h("label", {}, "New bucket ", name),
    h("button", { type: "submit" }, "Create bucket"),
  );
  const rows = list.map((b) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: folderHash(b.name, "") }, b.name)),
      h("td", {}, when(b.created)),
      h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            "aria-label": `Delete bucket ${b.name}`,
            onclick: async () => {
              if (!confirm(`Delete the empty bucket ${b.name}?`)) return;
              if ((await attempt(() => api.deleteBucket(b.name))) !== undefined) {
                say(`Bucket ${b.name} deleted.`);
                window.dispatchEvent(new HashChangeEvent("hashchange"));
              }
            },
          },
          "Delete",
        ),
      ),
    ),
  );
  return h(
    "section",
    { "aria-labelledby": "buckets-title" },
    h("h1", { id: "buckets-title" }, "Buckets"),
    create,
    list.length ? table(["Bucket", "Created", ""], rows, "Buckets") : h("p", {}, "No buckets yet."),
  );
}

function crumbs(bucket, prefix) {
  const parts = prefix.split("/").filter(Boolean);
  const links = [h("a", { href: "#/buckets" }, "Buckets"), " / ", h("a", { href: folderHash(bucket, "") }, bucket)];
  let acc = "";
  for (const p of parts) {
    acc += p + "/";
    links.push(" / ", h("a", { href: folderHash(bucket, acc) }, p));
  }
  return h("nav", { class: "crumbs", "aria-label": "Folder" }, links);
}

// Uploads in progress and just finished: one list that outlives re-renders of the
// folder, so that a finished upload stays shown beside the refreshed listing.
const uploadsPanel = h("ul", { class: "uploads", "aria-label": "Uploads" });

// The listing state of the bucket last browsed: page tokens so that Previous works
// without listing from the start.
const paging = { where: "", tokens: [null], page: 0, size: 100 };

export async function browse(session, bucket, prefix) {
  const api = session.api;
  const where = `${bucket}\n${prefix}`;
  if (paging.where !== where) Object.assign(paging, { where, tokens: [null], page: 0 });
  const page = await attempt(() => api.listPage(bucket, prefix, paging.tokens[paging.page], paging.size));
  const versioning = await attempt(() => api.versioning(bucket));
  const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  if (!page) return h("section", {}, crumbs(bucket, prefix), h("p", { class: "error" }, "This folder could not be listed."));
  if (page.next) paging.tokens[paging.page + 1] = page.next;

  const progress = uploadsPanel;
  const sendFiles = async (entries) => {
    for (const li of Array.from(progress.children)) if (!li.classList.contains("running")) li.remove();
    let failed = 0;
    for (const { file, path } of entries) {
      const key = prefix + path;
      const bar = h("progress", { max: String(file.size || 1), value: "0", "aria-label": `Upload of ${path}` });
      const label = h("span", { class: "pct" }, "0%");
      const li = h("li", { "data-key": key, class: "running" }, h("span", { class: "name" }, path), bar, label);
      progress.append(li);
      const ok = await attempt(() =>
        upload(api, bucket, key, file, (done, total) => {
          bar.value = done;
          label.textContent = `${Math.floor((100 * done) / (total || 1))}%`;
        }),
      );
      li.classList.remove("running");
      if (ok !== true) {
        failed++;
        li.classList.add("failed");
        label.textContent = "failed";
      } else {
        bar.value = file.size || 1;
        label.textContent = "done";
        li.classList.add("done");
      }
    }
    if (!failed) {
      say(`Uploaded ${entries.length} file${entries.length === 1 ? "" : "s"}.`);
      rerender();
    }
  };

  const fileInput = h("input", {
    type: "file",
    multiple: true,
    id: "upload-files",
    class: "visually-hidden",
    onchange: () => sendFiles(Array.from(fileInput.files, (f) => ({ file: f, path: f.name }))),
  });
  const dirInput = h("input", {
    type: "file",
    webkitdirectory: true,
    id: "upload-folder",
    class: "visually-hidden",
    onchange: () => sendFiles(Array.from(dirInput.files, (f) => ({ file: f, path: f.webkitRelativePath || f.name }))),
  });
  const newFolder = h("input", { id: "new-folder", spellcheck: "false", "aria-label": "New folder name" });

  const drop = h(
    "div",
    {
      class: "drop",
      id: "drop",
      tabindex: "0",
      ondragover: (e) => {
        e.preventDefault();
        drop.classList.add("over");
      },
      ondragleave: () => drop.classList.remove("over"),
      ondrop: async (e) => {
        e.preventDefault();
        drop.classList.remove("over");
        sendFiles(await dropped(e.dataTransfer));
      },
    },
    "Drop files or folders here, or ",
    h("label", { for: "upload-files", class: "button" }, "choose files"),
    " ",
    h("label", { for: "upload-folder", class: "button" }, "choose a folder"),
    fileInput,
    dirInput,
  );

  const unfinished = pending(bucket).filter((r) => r.key.startsWith(prefix));
  const resume = unfinished.length
    ? h(
        "div",
        { class: "card" },
        h("h2", {}, "Unfinished uploads"),
        h("p", {}, "Choose the same file again (same name) to go on where it stopped."),
        h(
          "ul",
          {},
          unfinished.map((r) =>
            h(
              "li",
              {},
              `${r.key} (${size(r.size)}) `,
              h(
                "button",
                {
                  type: "button",
                  onclick: async () => {
                    if ((await attempt(() => discard(api, r))) !== undefined) rerender();
                  },
                },
                "Discard",
              ),
            ),
          ),
        ),
      )
    : null;

  const rows = [
    ...page.folders.map((f) =>
      h(
        "tr",
        { class: "folder" },
        h("td", {}, h("a", { href: folderHash(bucket, f) }, f.slice(prefix.length))),
        h("td", {}, "folder"),
        h("td", {}),
        h("td", {}),
      ),
    ),
    ...page.objects
      .filter((o) => o.key !== prefix)
      .map((o) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: objHash(bucket, o.key) }, o.key.slice(prefix.length))),
          h("td", {}, size(o.size)),
          h("td", {}, when(o.modified)),
          h(
            "td",
            {},
            h(
              "button",
              {
                type: "button",
                "aria-label": `Download ${o.key}`,
                onclick: async () => download(api, bucket, o.key),
              },
              "Download",
            ),
            " ",
            h(
              "button",
              {
                type: "button",
                "aria-label": `Delete ${o.key}`,
                onclick: async () => {
                  if (!confirm(`Delete ${o.key}?`)) return;
                  if ((await attempt(() => api.deleteObject(bucket, o.key))) !== undefined) {
                    say(`Deleted ${o.key}.`);
                    rerender();
                  }
                },
              },
              "Delete",
            ),
          ),
        ),
      ),
  ];

  const pageSize = h(
    "select",
    {
      id: "page-size",
      onchange: () => {
        paging.size = Number(pageSize.value);
        Object.assign(paging, { tokens: [null], page: 0 });
        rerender();
      },
    },
    PAGE_SIZES.map((n) => h("option", { value: String(n), selected: n === paging.size }, String(n))),
  );
  const pager = h(
    "div",
    { class: "pager" },
    h(
      "button",
      {
        type: "button",
        id: "prev-page",
        disabled: paging.page === 0,
        onclick: () => {
          paging.page--;
          rerender();
        },
      },
      "Previous page",
    ),
    h("span", { id: "page-number" }, ` Page ${paging.page + 1} `),
    h(
      "button",
      {
        type: "button",
        id: "next-page",
        disabled: !page.next,
        onclick: () => {
          paging.page++;
          rerender();
        },
      },
      "Next page",
    ),
    h("label", {}, " Per page ", pageSize),
  );

  const versioningToggle = h(
    "button",
    {
      type: "button",
      id: "versioning",
      onclick: async () => {
        const next = versioning === "Enabled" ? "Suspended" : "Enabled";
        if ((await attempt(() => api.setVersioning(bucket, next))) !== undefined) {
          say(`Versioning ${next.toLowerCase()}.`);
          rerender();
        }
      },
    },
    versioning === "Enabled" ? "Suspend versioning" : "Enable versioning",
  );

  return h(
    "section",
    { "aria-labelledby": "bucket-title" },
    crumbs(bucket, prefix),
    h("h1", { id: "bucket-title" }, prefix ? prefix : bucket),
    h("p", {}, `Versioning: ${versioning || "unknown"} `, versioningToggle, " ", h("a", { href: `#/policy/${encodeURIComponent(bucket)}`, id: "policy-link" }, "Bucket policy")),
    drop,
    progress,
    resume,
    h(
      "form",
      {
        class: "inline",
        onsubmit: async (ev) => {
          ev.preventDefault();
          const n = newFolder.value.trim().replace(/\/+$/, "");
          if (!n) return;
          if ((await attempt(() => api.putObject(bucket, `${prefix}${n}/`, ""))) !== undefined) {
            location.hash = folderHash(bucket, `${prefix}${n}/`);
          }
        },
      },
      newFolder,
      h("button", { type: "submit" }, "New folder"),
    ),
    rows.length ? table(["Name", "Size", "Modified", ""], rows, `Objects in ${bucket}/${prefix}`) : h("p", {}, "This folder is empty."),
    pager,
  );
}

// Files of a drop, folders walked recursively (paths relative to what was dropped).
async function dropped(dt) {
  const out = [];
  const entries = Array.from(dt.items || [])
    .map((i) => (i.webkitGetAsEntry ? i.webkitGetAsEntry() : null))
    .filter(Boolean);
  if (!entries.length) return Array.from(dt.files, (f) => ({ file: f, path: f.name }));
  const walk = async (entry, path) => {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      out.push({ file, path: path + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const e of batch) await walk(e, `${path}${entry.name}/`);
      }
    }
  };
  for (const e of entries) await walk(e, "");
  return out;
}

// A download through a short-lived presigned URL: the browser streams it to disk.
async function download(api, bucket, key, versionId) {
  const name = key.split("/").filter(Boolean).pop() || "download";
  const query = [["response-content-disposition", `attachment; filename="${name.replace(/["\\]/g, "_")}"`]];
  if (versionId) query.push(["versionId", versionId]);
  const url = await api.presign("GET", bucket, key, 300, query);
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
}

const EXPIRIES = [
  [3600, "1 hour"],
  [86400, "1 day"],
  [604800, "7 days"],
];

export async function details(session, bucket, key) {
  const api = session.api;
  const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const folder = key.includes("/") ? key.slice(0, key.lastIndexOf("/") + 1) : "";
  // A key whose current version is a delete marker answers 404 to HEAD: its page
  // still lists the versions, to restore one.
  let head = null;
  try {
    head = await api.head(bucket, key);
  } catch (e) {
    if (e.status !== 404) say(`${e.code}: ${e.message}`, true);
  }
  const versions = (await attempt(() => api.versions(bucket, key))) || [];
  if (!head && !versions.length) return h("section", {}, crumbs(bucket, folder), h("p", { class: "error" }, `${key} could not be read.`));
  const meta = [];
  for (const [k, v] of head ? head.entries() : []) {
    if (["content-type", "content-length", "etag", "last-modified", "x-amz-version-id", "x-amz-storage-class"].includes(k) || k.startsWith("x-amz-meta-") || k.startsWith("x-amz-server-side")) {
      meta.push(h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, v)));
    }
  }
  const tags = head ? (await attempt(() => api.tags(bucket, key))) || [] : [];
  const tagText = h("textarea", { id: "tags", rows: "4", cols: "40", spellcheck: "false" }, tags.map(([k, v]) => `${k}=${v}`).join("\n"));
  const versionRows = versions.map((v) =>
    h(
      "tr",
      { "data-version": v.versionId },
      h("td", {}, h("code", {}, v.versionId)),
      h("td", {}, when(v.modified)),
      h("td", {}, v.deleteMarker ? "delete marker" : size(v.size)),
      h("td", {}, v.latest ? "current" : ""),
      h(
        "td",
        {},
        !v.deleteMarker && !v.latest
          ? h(
              "button",
              {
                type: "button",
                class: "restore",
                "aria-label": `Restore version ${v.versionId}`,
                onclick: async () => {
                  if ((await attempt(() => api.restore(bucket, key, v.versionId))) !== undefined) {
                    say(`Version ${v.versionId} restored as the current version.`);
                    rerender();
                  }
                },
              },
              "Restore",
            )
          : null,
        " ",
        !v.deleteMarker
          ? h("button", { type: "button", "aria-label": `Download version ${v.versionId}`, onclick: () => download(api, bucket, key, v.versionId) }, "Download")
          : null,
        " ",
        h(
          "button",
          {
            type: "button",
            "aria-label": `Delete version ${v.versionId}`,
            onclick: async () => {
              if (!confirm(`Delete version ${v.versionId} for good?`)) return;
              if ((await attempt(() => api.deleteObject(bucket, key, v.versionId))) !== undefined) rerender();
            },
          },
          "Delete",
        ),
      ),
    ),
  );
  const expiry = h("select", { id: "share-expiry", "aria-label": "Link expires after" }, EXPIRIES.map(([s, l]) => h("option", { value: String(s) }, l)));
  const link = h("input", { id: "share-link", readonly: true, size: "60", "aria-label": "Share link" });
  return h(
    "section",
    { "aria-labelledby": "object-title" },
    crumbs(bucket, folder),
    h("h1", { id: "object-title" }, key.slice(folder.length)),
    head
      ? [
    h(
      "p",
      {},
      h("button", { type: "button", id: "download", onclick: () => download(api, bucket, key) }, "Download"),
      " ",
      h(
        "button",
        {
          type: "button",
          id: "delete",
          onclick: async () => {
            if (!confirm(`Delete ${key}?`)) return;
            if ((await attempt(() => api.deleteObject(bucket, key))) !== undefined) location.hash = folderHash(bucket, folder);
          },
        },
        "Delete",
      ),
    ),
    h("h2", {}, "Metadata"),
    h("table", { class: "kv", "aria-label": "Metadata" }, h("tbody", {}, meta)),
    h("h2", {}, "Share"),
    h(
      "form",
      {
        class: "inline",
        onsubmit: async (ev) => {
          ev.preventDefault();
          link.value = await api.presign("GET", bucket, key, Number(expiry.value));
          link.select();
          say("Share link made: anyone with it can download this object until it expires.");
        },
      },
      expiry,
      h("button", { type: "submit", id: "share" }, "Make link"),
      link,
    ),
    h("h2", {}, "Tags"),
    h(
      "form",
      {
        onsubmit: async (ev) => {
          ev.preventDefault();
          const pairs = tagText.value
            .split("\n")
            .map((l) => l.trim())
            .filter(Boolean)
            .map((l) => [l.split("=")[0].trim(), l.includes("=") ? l.slice(l.indexOf("=") + 1).trim() : ""]);
          if ((await attempt(() => api.putTags(bucket, key, pairs))) !== undefined) say("Tags saved.");
        },
      },
      h("label", { for: "tags" }, "One key=value a line"),
      tagText,
      h("button", { type: "submit" }, "Save tags"),
    ),
        ]
      : h("p", { id: "deleted-notice" }, "The current version is a delete marker: the key is deleted. Restore an older version below."),
    h("h2", {}, "Versions"),
    versions.length ? table(["Version", "Modified", "Size", "", ""], versionRows, "Versions") : h("p", {}, "No versions."),
  );
}

const POLICY_TEMPLATE = (bucket) =>
  JSON.stringify(
    {
      Version: "2012-10-17",
      Statement: [{ Sid: "ReadOnly", Effect: "Allow", Principal: { AWS: ["ACCESS_KEY_ID"] }, Action: "s3:GetObject", Resource: `arn:aws:s3:::${bucket}/*` }],
    },
    null,
    2,
  );

// A bucket's policy, edited as JSON. The node validates it; a refusal is shown where
// it points: a JSON error's line and column are selected in the text, a statement
// the node names is shown beside the message.
export async function policy(session, bucket) {
  const api = session.api;
  const current = await attempt(() => api.policy(bucket));
  let text = current || "";
  try {
    if (text) text = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // Kept as stored.
  }
  const area = h("textarea", { id: "policy", rows: "18", cols: "80", spellcheck: "false", "aria-describedby": "policy-error" }, text || POLICY_TEMPLATE(bucket));
  const error = h("div", { id: "policy-error", class: "error", role: "alert" });
  const show = (e) => {
    error.replaceChildren(h("p", {}, `${e.code}: ${e.message}`));
    const at = /line (\d+) column (\d+)/.exec(e.message);
    if (at) {
      const lines = area.value.split("\n");
      const line = Math.min(Number(at[1]), lines.length);
      const offset = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0) + Math.max(0, Number(at[2]) - 1);
      area.focus();
      area.setSelectionRange(Math.max(0, offset - 1), offset);
      error.append(h("p", { id: "policy-where" }, `At line ${at[1]}, column ${at[2]} (selected in the text).`));
      return;
    }
    const st = /Statement\[(\d+)\]/.exec(e.message);
    if (st) {
      try {
        const doc = JSON.parse(area.value);
        const list = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
        const s = list[Number(st[1])];
        if (s) error.append(h("p", {}, `Statement ${st[1]}${s.Sid ? ` (${s.Sid})` : ""}:`), h("pre", { id: "policy-where" }, JSON.stringify(s, null, 2)));
      } catch {
        // Not JSON: the message says so.
      }
    }
  };
  return h(
    "section",
    { "aria-labelledby": "policy-title" },
    crumbs(bucket, ""),
    h("h1", { id: "policy-title" }, `Policy of ${bucket}`),
    h("p", {}, current ? "The bucket's policy:" : "No policy yet; a template to start from:"),
    h(
      "form",
      {
        onsubmit: async (ev) => {
          ev.preventDefault();
          error.replaceChildren();
          try {
            await api.putPolicy(bucket, area.value);
            say("Policy saved.");
          } catch (e) {
            show(e);
          }
        },
      },
      h("label", { for: "policy" }, "Policy (JSON)"),
      area,
      error,
      h("button", { type: "submit", id: "policy-save" }, "Save policy"),
      " ",
      h(
        "button",
        {
          type: "button",
          id: "policy-delete",
          onclick: async () => {
            if ((await attempt(() => api.deletePolicy(bucket))) !== undefined) {
              say("Policy deleted.");
              window.dispatchEvent(new HashChangeEvent("hashchange"));
            }
          },
        },
        "Delete policy",
      ),
    ),
  );
}
