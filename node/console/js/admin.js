// Administration for admin keys: the cluster's nodes, roles and disks, heal and
// scrub progress, and access keys. Everything through /cairn/admin/v1/, as the
// `cairn` CLI does; a key that may not see it gets the node's own AccessDenied.

import { attempt, h, say, size, table, when } from "./dom.js";

function pass(p) {
  if (!p) return "never run";
  const s = p.stripes || {};
  const started = p.started ? when(new Date(p.started * 1000).toISOString()) : "";
  return `${p.state}, ${p.objects} objects, ${size(p.bytes_verified)} verified, ${p.blobs_healed} healed, ${p.heal_failures} failures${started ? ", started " + started : ""}${s.lost ? `, ${s.lost} stripes lost` : ""}`;
}

export async function cluster(session) {
  const api = session.api;
  const [status, info, heal, scrub] = await Promise.all([
    attempt(() => api.json("GET", "/cairn/admin/v1/cluster")),
    attempt(() => api.json("GET", "/cairn/admin/v1/info")),
    attempt(() => api.json("GET", "/cairn/admin/v1/heal")),
    attempt(() => api.json("GET", "/cairn/admin/v1/scrub")),
  ]);
  const out = h("section", { "aria-labelledby": "cluster-title" }, h("h1", { id: "cluster-title" }, "Cluster"));
  if (status) {
    out.append(
      h("p", {}, status.clustered ? `Raft term ${status.term}, leader node ${status.leader ?? "none"}, applied index ${status.applied_index ?? "-"}.` : "A single node, not clustered."),
      h("h2", {}, "Nodes"),
      table(
        ["Node", "Role", "Online", "S3 address", "Disks online"],
        status.nodes.map((n) =>
          h("tr", { "data-node": String(n.id) }, h("td", {}, String(n.id)), h("td", {}, n.role), h("td", {}, n.online ? "yes" : "no"), h("td", {}, n.s3_addr), h("td", {}, `${n.disks_online} of ${n.disks}`)),
        ),
        "Nodes",
      ),
      h("p", {}, `Layout version ${status.layout.version}: ${status.layout.data_shards}+${status.layout.parity_shards} over ${status.layout.disks} disks in ${status.layout.erasure_sets} erasure sets.`),
    );
    if (status.storage_classes && status.storage_classes.length) {
      out.append(
        h("h2", {}, "Storage classes"),
        table(
          ["Class", "Code", "Pool", "Disks online"],
          status.storage_classes.map((c) => h("tr", {}, h("td", {}, c.name), h("td", {}, `${c.data_shards}+${c.parity_shards}`), h("td", {}, c.pool), h("td", {}, `${c.disks_online} of ${c.disks}`))),
          "Storage classes",
        ),
      );
    }
  }
  if (info) {
    out.append(
      h("h2", {}, `Disks of node ${info.node_id} (this node)`),
      table(
        ["Disk", "Path", "Online", "Used", "Free"],
        info.disks.map((d) =>
          h("tr", {}, h("td", {}, String(d.index)), h("td", {}, d.path), h("td", {}, d.online ? "yes" : "no"), h("td", {}, size(d.total_bytes - d.free_bytes)), h("td", {}, size(d.free_bytes))),
        ),
        "Disks",
      ),
    );
  }
  out.append(h("h2", {}, "Healing and scrubbing"));
  const healLine = h("p", { id: "heal-status" });
  const scrubLine = h("p", { id: "scrub-status" });
  const show = (heal, scrub) => {
    if (heal) healLine.textContent = `Heal pass: ${pass(heal.pass)}.`;
    if (scrub) scrubLine.textContent = `Scrub: ${scrub.running ? "running: " + pass(scrub.current) : "idle"}; last: ${pass(scrub.last)}.`;
  };
  show(heal, scrub);
  out.append(healLine, scrubLine);
  // Progress follows itself while the page is shown.
  const poll = setInterval(async () => {
    if (!document.body.contains(out)) {
      clearInterval(poll);
      return;
    }
    try {
      show(await api.json("GET", "/cairn/admin/v1/heal"), await api.json("GET", "/cairn/admin/v1/scrub"));
    } catch {
      // The next tick tries again.
    }
  }, 2000);
  // A button that starts a background pass on the node.
  const start = (label, op, done) =>
    h(
      "button",
      {
        type: "button",
        onclick: async () => {
          if ((await attempt(() => api.json("POST", `/cairn/admin/v1/${op}`))) !== undefined) say(done);
        },
      },
      label,
    );
  out.append(h("p", {}, start("Start a heal pass", "heal", "Heal pass started."), " ", start("Start a scrub", "scrub", "Scrub started.")));
  return out;
}

export async function keys(session) {
  const api = session.api;
  const list = await attempt(() => api.json("GET", "/cairn/admin/v1/keys"));
  const rerender = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const name = h("input", { id: "key-name", spellcheck: "false" });
  const isAdmin = h("input", { type: "checkbox", id: "key-admin" });
  const created = h("div", { id: "key-created", role: "alert" });
  const out = h(
    "section",
    { "aria-labelledby": "keys-title" },
    h("h1", { id: "keys-title" }, "Access keys"),
    h(
      "form",
      {
        class: "inline",
        onsubmit: async (ev) => {
          ev.preventDefault();
          const k = await attempt(() => api.json("POST", "/cairn/admin/v1/keys", { name: name.value.trim() || null, admin: isAdmin.checked }));
          if (k) {
            created.replaceChildren(
              h("p", {}, "Key created. Its secret is shown this once:"),
              h("p", {}, "Access key ", h("code", {}, k.access_key_id)),
              h("p", {}, "Secret key ", h("code", {}, k.secret_access_key || "")),
            );
          }
        },
      },
      h("label", {}, "Name ", name),
      h("label", {}, isAdmin, " admin"),
      h("button", { type: "submit" }, "Create key"),
    ),
    created,
  );
  if (list) {
    out.append(
      table(
        ["Access key", "Name", "Admin", "Created", ""],
        list.keys.map((k) =>
          h(
            "tr",
            {},
            h("td", {}, h("code", {}, k.access_key_id)),
            h("td", {}, k.name),
            h("td", {}, k.admin ? "yes" : ""),
            h("td", {}, k.created),
            h(
              "td",
              {},
              k.root
                ? "root"
                : h(
                    "button",
                    {
                      type: "button",
                      "aria-label": `Delete key ${k.access_key_id}`,
                      onclick: async () => {
                        if (!confirm(`Delete key ${k.access_key_id}?`)) return;
                        if ((await attempt(() => api.json("DELETE", `/cairn/admin/v1/keys/${encodeURIComponent(k.access_key_id)}`))) !== undefined) rerender();
                      },
                    },
                    "Delete",
                  ),
            ),
          ),
        ),
        "Access keys",
      ),
    );
  }
  return out;
}
