// Assets: a tenant's catalogue by media type and tag, full-text search, an asset's
// version chain with rollback, its shares, the trash; a video version opens in the
// review. All through /cairn/v1/assets.

import { attempt, h, say, size, table, when } from "./dom.js";

const A = "/cairn/v1/assets";
const MEDIA = ["", "video", "image", "audio", "document", "other"];

function assetHash(id) {
  return `#/asset/${encodeURIComponent(id)}`;
}

// The filters of the assets list, kept while the console is open.
const filters = { tenant: "", media_type: "", tag: "", q: "", trash: false, cursors: [null], page: 0 };

function rows(assets) {
  return assets.map((a) =>
    h(
      "tr",
      { "data-asset": a.id },
      h("td", {}, h("a", { href: assetHash(a.id) }, a.name)),
      h("td", {}, a.media_type),
      h("td", {}, String(a.versions)),
      h("td", {}, Object.entries(a.tags || {}).map(([k, v]) => `${k}=${v}`).join(", ")),
      h("td", {}, when(a.trashed_at || a.updated)),
    ),
  );
}

export async function list(session) {
  const api = session.api;
  const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  if (!filters.tenant && session.tenants && session.tenants.length) filters.tenant = session.tenants[0];
  const tenant = h("input", { id: "asset-tenant", value: filters.tenant, size: "14", spellcheck: "false", "aria-label": "Tenant (empty: your key's own)" });
  const media = h("select", { id: "asset-media", "aria-label": "Media type" }, MEDIA.map((m) => h("option", { value: m, selected: m === filters.media_type }, m || "any media type")));
  const tag = h("input", { id: "asset-tag", value: filters.tag, size: "14", placeholder: "key=value", "aria-label": "Tag key=value" });
  const q = h("input", { id: "asset-q", value: filters.q, size: "20", type: "search", "aria-label": "Search words" });
  const trash = h("input", { type: "checkbox", id: "asset-trash", checked: filters.trash });
  const form = h(
    "form",
    {
      class: "inline",
      onsubmit: (ev) => {
        ev.preventDefault();
        Object.assign(filters, { tenant: tenant.value.trim(), media_type: media.value, tag: tag.value.trim(), q: q.value.trim(), trash: trash.checked, cursors: [null], page: 0 });
        rerender();
      },
    },
    h("label", {}, "Tenant ", tenant),
    media,
    h("label", {}, "Tag ", tag),
    h("label", {}, "Search ", q),
    h("label", {}, trash, " trash"),
    h("button", { type: "submit", id: "asset-apply" }, "Show"),
  );
  const query = [];
  if (filters.tenant) query.push(["tenant", filters.tenant]);
  let page;
  if (filters.q) {
    query.push(["q", filters.q]);
    page = await attempt(() => api.json("GET", `${A}/search`, undefined, query));
  } else {
    if (filters.media_type && !filters.trash) query.push(["media_type", filters.media_type]);
    if (filters.tag && !filters.trash) query.push(["tag", filters.tag]);
    query.push(["limit", "50"]);
    const c = filters.cursors[filters.page];
    if (c) query.push(["cursor", c]);
    page = await attempt(() => api.json("GET", filters.trash ? `${A}/trash` : A, undefined, query));
  }
  const out = h("section", { "aria-labelledby": "assets-title" }, h("h1", { id: "assets-title" }, filters.trash ? "Trash" : "Assets"), form);
  if (!page) return out;
  if (page.next_cursor) filters.cursors[filters.page + 1] = page.next_cursor;
  out.append(
    page.assets.length ? table(["Name", "Media", "Versions", "Tags", filters.trash ? "Trashed" : "Updated"], rows(page.assets), "Assets") : h("p", {}, "No assets match."),
    h(
      "div",
      { class: "pager" },
      h(
        "button",
        {
          type: "button",
          disabled: filters.page === 0,
          onclick: () => {
            filters.page--;
            rerender();
          },
        },
        "Previous page",
      ),
      h(
        "button",
        {
          type: "button",
          disabled: !page.next_cursor,
          onclick: () => {
            filters.page++;
            rerender();
          },
        },
        "Next page",
      ),
    ),
  );
  return out;
}

export async function asset(session, id) {
  const api = session.api;
  const base = `${A}/${encodeURIComponent(id)}`;
  const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const [a, versions, shares] = await Promise.all([
    attempt(() => api.json("GET", base)),
    attempt(() => api.json("GET", `${base}/versions`, undefined, [["limit", "100"]])),
    attempt(() => api.json("GET", `${base}/shares`)),
  ]);
  const out = h("section", { "aria-labelledby": "asset-title" }, h("nav", { class: "crumbs", "aria-label": "Assets" }, h("a", { href: "#/assets" }, "Assets")));
  if (!a) return out;
  const post = async (path, body, message) => {
    if ((await attempt(() => api.json("POST", `${base}${path}`, body))) !== undefined) {
      say(message);
      rerender();
    }
  };
  out.append(
    h("h1", { id: "asset-title" }, a.name),
    h("p", {}, `${a.media_type}, tenant ${a.tenant}, status ${a.status}, ${a.versions} version${a.versions === 1 ? "" : "s"}.`, a.trashed_at ? ` In the trash since ${when(a.trashed_at)}; purged at ${when(a.purge_at)}.` : ""),
    a.trashed_at
      ? h("button", { type: "button", id: "asset-restore", onclick: () => post("/restore", undefined, "Back from the trash.") }, "Restore from trash")
      : h(
          "button",
          {
            type: "button",
            id: "asset-trash-it",
            onclick: async () => {
              if (!confirm(`Move ${a.name} to the trash?`)) return;
              if ((await attempt(() => api.json("DELETE", base))) !== undefined) {
                say("Moved to the trash.");
                rerender();
              }
            },
          },
          "Move to trash",
        ),
  );
  if (Object.keys(a.tags || {}).length) out.append(h("p", {}, "Tags: ", Object.entries(a.tags).map(([k, v]) => `${k}=${v}`).join(", ")));
  if (versions) {
    const latest = Math.max(...versions.versions.map((v) => v.number));
    out.append(
      h("h2", {}, "Versions"),
      table(
        ["Version", "Object", "Size", "Created", ""],
        versions.versions.map((v) =>
          h(
            "tr",
            { "data-version": String(v.number) },
            h("td", {}, String(v.number), v.rollback_of ? ` (repeats ${v.rollback_of})` : ""),
            h("td", {}, h("a", { href: `#/o/${encodeURIComponent(v.object.bucket)}/${encodeURIComponent(v.object.key)}` }, `${v.object.bucket}/${v.object.key}`)),
            h("td", {}, size(v.size)),
            h("td", {}, `${when(v.created)} by ${v.created_by}`),
            h(
              "td",
              {},
              a.media_type === "video" ? h("a", { href: `#/review/${encodeURIComponent(a.id)}/${v.number}`, class: "button" }, "Review") : null,
              " ",
              v.number !== latest ? h("button", { type: "button", class: "rollback", onclick: () => post("/rollback", { to: v.number }, `Rolled back: a new version repeats version ${v.number}.`) }, `Roll back to ${v.number}`) : null,
            ),
          ),
        ),
        "Versions",
      ),
    );
  }
  if (shares) {
    const to = h("input", { id: "share-tenant", size: "14", required: true, "aria-label": "Share with tenant" });
    out.append(
      h("h2", {}, "Shares"),
      shares.shares.length
        ? table(
            ["Tenant", "Permission", "Since", ""],
            shares.shares.map((s) =>
              h(
                "tr",
                {},
                h("td", {}, s.tenant),
                h("td", {}, s.permission),
                h("td", {}, when(s.created)),
                h(
                  "td",
                  {},
                  h(
                    "button",
                    {
                      type: "button",
                      onclick: async () => {
                        if ((await attempt(() => api.json("DELETE", `${base}/shares/${encodeURIComponent(s.tenant)}`))) !== undefined) rerender();
                      },
                    },
                    "Revoke",
                  ),
                ),
              ),
            ),
            "Shares",
          )
        : h("p", {}, "Not shared."),
      h(
        "form",
        {
          class: "inline",
          onsubmit: (ev) => {
            ev.preventDefault();
            post("/shares", { tenant: to.value.trim() }, `Shared with ${to.value.trim()}.`);
          },
        },
        to,
        h("button", { type: "submit" }, "Share"),
      ),
    );
  }
  return out;
}
