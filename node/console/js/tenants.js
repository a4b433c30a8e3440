// Tenants, for admin and tenant-admin keys: the tenants a key may manage, each with
// its quota and usage, a usage-over-time chart from the usage history, its child
// tenants (whose quotas a tenant admin sets), its buckets and its keys. All through
// /cairn/v1/tenants; the node decides who may do what, and its refusals are shown.

import { attempt, h, say, size, table, when } from "./dom.js";

const T = "/cairn/v1/tenants";
const UNITS = [
  ["MiB", 1 << 20],
  ["GiB", 1 << 30],
  ["TiB", 2 ** 40],
];

function tenantHash(id) {
  return `#/t/${encodeURIComponent(id)}`;
}

function limit(q) {
  const parts = [];
  if (q && q.bytes != null) parts.push(size(q.bytes));
  if (q && q.objects != null) parts.push(`${q.objects} objects`);
  return parts.length ? parts.join(", ") : "no limit";
}

function usedOf(used, quota) {
  const pct = quota && quota.bytes ? ` (${Math.round((100 * used.bytes) / quota.bytes)}%)` : "";
  return `${size(used.bytes)}, ${used.objects} objects${pct}`;
}

export async function list(session, cursor) {
  const api = session.api;
  const q = cursor ? [["cursor", cursor]] : [];
  const page = await attempt(() => api.json("GET", T, undefined, q));
  const out = h("section", { "aria-labelledby": "tenants-title" }, h("h1", { id: "tenants-title" }, "Tenants"));
  if (!page) return out;
  if (session.admin) out.append(createForm(api, null));
  out.append(
    page.tenants.length
      ? table(
          ["Tenant", "Name", "Quota", "Used"],
          page.tenants.map((t) => h("tr", { "data-tenant": t.id }, h("td", {}, h("a", { href: tenantHash(t.id) }, t.id)), h("td", {}, t.name), h("td", {}, limit(t.quota)), h("td", {}, usedOf(t.used, t.quota)))),
          "Tenants",
        )
      : h("p", {}, "No tenants yet."),
  );
  if (page.next_cursor) out.append(h("p", {}, h("a", { href: `#/tenants/${encodeURIComponent(page.next_cursor)}` }, "Next page")));
  return out;
}

function quotaInputs(prefix, quota) {
  const bytes = h("input", { type: "number", min: "0", step: "any", id: `${prefix}-bytes`, size: "8", "aria-label": "Byte limit (empty: none)" });
  const unit = h("select", { id: `${prefix}-unit`, "aria-label": "Unit" }, UNITS.map(([n, v]) => h("option", { value: String(v) }, n)));
  const objects = h("input", { type: "number", min: "0", step: "1", id: `${prefix}-objects`, size: "8", "aria-label": "Object limit (empty: none)" });
  if (quota && quota.bytes != null) {
    const [, v] = [...UNITS].reverse().find(([, v]) => quota.bytes % v === 0) || UNITS[0];
    unit.value = String(v);
    bytes.value = String(quota.bytes / v);
  }
  if (quota && quota.objects != null) objects.value = String(quota.objects);
  const read = () => {
    const q = {};
    if (bytes.value !== "") q.bytes = Math.round(Number(bytes.value) * Number(unit.value));
    if (objects.value !== "") q.objects = Number(objects.value);
    return q;
  };
  return { els: [h("label", {}, "Bytes ", bytes), unit, h("label", {}, " Objects ", objects)], read };
}

function createForm(api, parent) {
  const id = h("input", { id: "tenant-id", required: true, spellcheck: "false", size: "14" });
  const name = h("input", { id: "tenant-name", required: true, size: "18" });
  const quota = quotaInputs("new-tenant", null);
  return h(
    "form",
    {
      class: "inline card",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const body = { id: id.value.trim(), name: name.value.trim(), quota: quota.read() };
        if (parent) body.parent = parent;
        const t = await attempt(() => api.json("POST", T, body));
        if (t) {
          say(`Tenant ${t.id} created.`);
          window.dispatchEvent(new HashChangeEvent("hashchange"));
        }
      },
    },
    h("strong", {}, parent ? "New sub-tenant" : "New tenant"),
    h("label", {}, "Id ", id),
    h("label", {}, "Name ", name),
    ...quota.els,
    h("button", { type: "submit" }, "Create"),
  );
}

// Bytes used over time as an SVG line, with the samples as a table for those who
// cannot see it.
function chart(history, now, quota) {
  const pts = history.samples.map((s) => [Date.parse(s.at), s.bytes]);
  pts.push([Date.now(), now.bytes]);
  const W = 640;
  const H = 180;
  const pad = 44;
  const t0 = pts[0][0];
  const t1 = Math.max(pts[pts.length - 1][0], t0 + 1);
  // Scaled to the data; the quota is drawn when it is near enough to be read, else named.
  const most = Math.max(1, ...pts.map((p) => p[1]));
  const showQuota = quota && quota.bytes && quota.bytes <= most * 2;
  const top = Math.max(most * 1.15, showQuota ? quota.bytes * 1.05 : 0);
  const x = (t) => pad + ((t - t0) / (t1 - t0)) * (W - pad - 8);
  const y = (b) => H - 20 - (b / top) * (H - 34);
  const ns = "http://www.w3.org/2000/svg";
  const el = (n, a, text) => {
    const e = document.createElementNS(ns, n);
    for (const [k, v] of Object.entries(a)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", id: "usage-chart", role: "img", "aria-label": `Bytes used over time: ${size(pts[0][1])} on ${when(new Date(t0).toISOString())}, ${size(now.bytes)} now` });
  svg.append(el("line", { x1: pad, y1: H - 20, x2: W - 8, y2: H - 20, class: "axis" }));
  svg.append(el("line", { x1: pad, y1: 10, x2: pad, y2: H - 20, class: "axis" }));
  svg.append(el("text", { x: 4, y: 16, class: "label" }, size(top)));
  svg.append(el("text", { x: 4, y: H - 22, class: "label" }, "0"));
  svg.append(el("text", { x: pad, y: H - 4, class: "label" }, when(new Date(t0).toISOString())));
  svg.append(el("text", { x: W - 8, y: H - 4, class: "label", "text-anchor": "end" }, "now"));
  if (showQuota) svg.append(el("line", { x1: pad, y1: y(quota.bytes), x2: W - 8, y2: y(quota.bytes), class: "quota-line" }));
  svg.append(el("polyline", { points: pts.map(([t, b]) => `${x(t)},${y(b)}`).join(" "), class: "series" }));
  for (const [t, b] of pts) svg.append(el("circle", { cx: x(t), cy: y(b), r: 3, class: "dot" }));
  const rows = history.samples.map((s) => h("tr", {}, h("td", {}, when(s.at)), h("td", {}, size(s.bytes)), h("td", {}, String(s.objects))));
  const caption = quota && quota.bytes && !showQuota ? h("figcaption", {}, `The quota, ${size(quota.bytes)}, is far above this chart.`) : null;
  return h("figure", {}, svg, caption, h("details", {}, h("summary", {}, `${history.samples.length} samples (${history.period})`), table(["At", "Bytes", "Objects"], rows, "Usage samples")));
}

export async function tenant(session, id) {
  const api = session.api;
  const base = `${T}/${encodeURIComponent(id)}`;
  const [usage, history, keys] = await Promise.all([
    attempt(() => api.json("GET", `${base}/usage`, undefined, [["limit", "100"]])),
    attempt(() => api.json("GET", `${base}/usage/history`)),
    attempt(() => api.json("GET", `${base}/keys`)),
  ]);
  const out = h("section", { "aria-labelledby": "tenant-title" }, h("nav", { class: "crumbs", "aria-label": "Tenants" }, h("a", { href: "#/tenants" }, "Tenants")));
  if (!usage) return out;
  const t = usage.tenant;
  const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  out.append(
    h("h1", { id: "tenant-title" }, `${t.name} (${t.id})`),
    h("p", {}, t.path.length > 1 ? `Path: ${t.path.join(" / ")}. ` : "", `Quota: ${limit(t.quota)}. Used: `, h("span", { id: "tenant-used" }, usedOf(t.used, t.quota)), "."),
    h("h2", {}, "Usage over time"),
    history ? chart(history, t.used, t.quota) : h("p", {}, "No usage history."),
  );
  if (session.admin) out.append(h("h2", {}, "Quota of this tenant"), quotaForm(api, t, rerender));

  out.append(h("h2", {}, "Sub-tenants"));
  out.append(
    usage.children.length
      ? table(
          ["Tenant", "Quota", "Used", "Set quota"],
          usage.children.map((c) => h("tr", { "data-tenant": c.id }, h("td", {}, h("a", { href: tenantHash(c.id) }, `${c.name} (${c.id})`)), h("td", { class: "quota" }, limit(c.quota)), h("td", {}, usedOf(c.used, c.quota)), h("td", {}, quotaForm(api, c, rerender)))),
          "Sub-tenants",
        )
      : h("p", {}, "None."),
    createForm(api, t.id),
  );
  out.append(
    h("h2", {}, "Buckets"),
    usage.buckets.length
      ? table(
          ["Bucket", "Quota", "Used"],
          usage.buckets.map((b) => h("tr", {}, h("td", {}, h("a", { href: `#/b/${encodeURIComponent(b.bucket)}/` }, b.bucket)), h("td", {}, limit(b.quota)), h("td", {}, usedOf(b.used, b.quota)))),
          "Buckets",
        )
      : h("p", {}, "None."),
  );
  if (keys) {
    const name = h("input", { id: "tenant-key-name", size: "14" });
    const admin = h("input", { type: "checkbox", id: "tenant-key-admin" });
    const shown = h("div", { role: "alert" });
    out.append(
      h("h2", {}, "Keys"),
      table(
        ["Access key", "Name", "Tenant admin", "Used"],
        keys.keys.map((k) => h("tr", {}, h("td", {}, h("code", {}, k.access_key_id)), h("td", {}, k.name), h("td", {}, k.tenant_admin ? "yes" : ""), h("td", {}, usedOf(k.used, k.quota)))),
        "Keys",
      ),
      h(
        "form",
        {
          class: "inline",
          onsubmit: async (ev) => {
            ev.preventDefault();
            const k = await attempt(() => api.json("POST", `${base}/keys`, { name: name.value.trim() || null, tenant_admin: admin.checked }));
            if (k) shown.replaceChildren(h("p", {}, "Key created; its secret is shown this once: ", h("code", {}, k.access_key_id), " ", h("code", {}, k.secret_access_key || "")));
          },
        },
        h("label", {}, "New key ", name),
        h("label", {}, admin, " tenant admin"),
        h("button", { type: "submit" }, "Create key"),
      ),
      shown,
    );
  }
  return out;
}

function quotaForm(api, t, done) {
  const q = quotaInputs(`quota-${t.id}`, t.quota);
  return h(
    "form",
    {
      class: "inline quota-form",
      "data-tenant": t.id,
      onsubmit: async (ev) => {
        ev.preventDefault();
        const r = await attempt(() => api.json("PUT", `${T}/${encodeURIComponent(t.id)}/quota`, { quota: q.read() }));
        if (r) {
          say(`Quota of ${t.id} set: ${limit(r.quota)}.`);
          done();
        }
      },
    },
    ...q.els,
    h("button", { type: "submit" }, "Set quota"),
  );
}
