// Video review: a player that steps frame by frame, the annotations of the frame on
// show drawn over the picture, drawing new ones, replies and resolve, a timeline
// with markers, and the other reviewers' annotations and playheads live.
//
// Frames: frame f of a video at rate r shows from f/r to (f+1)/r seconds; the player
// seeks to the middle of a frame, (f + 0.5)/r, so that rounding never lands on a
// neighbour, and reads the frame on show as floor(t * r). The rate is the server's
// (`V/timing`, an exact ratio such as 30000/1001), as is every frame number sent.
//
// Live: one WebSocket per open video (`V/annotations/ws`, presigned, since a browser
// cannot set headers on it) brings every committed change from any node, in commit
// order, and carries presence: this page sends its frame, others' come back.

import { attempt, h, say } from "./dom.js";

const SVGNS = "http://www.w3.org/2000/svg";
const TOOLS = [
  ["select", "Select"],
  ["rect", "Rectangle"],
  ["ellipse", "Ellipse"],
  ["arrow", "Arrow"],
  ["line", "Line"],
  ["polygon", "Polygon"],
  ["freehand", "Freehand"],
  ["text", "Text"],
];
const COLORS = ["#ff3b30", "#ffcc00", "#34c759", "#0a84ff", "#ffffff"];
// Presence is sent on every move and at least this often; a reviewer not heard from
// for PRESENCE_GONE_MS has left.
const PRESENCE_EVERY_MS = 10_000;
const PRESENCE_GONE_MS = 30_000;

function svg(name, attrs = {}) {
  const el = document.createElementNS(SVGNS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function parseRate(s) {
  const [n, d] = String(s || "25").split("/").map(Number);
  return { num: n, den: d || 1, fps: n / (d || 1) };
}

function pad(n, w = 2) {
  return String(n).padStart(w, "0");
}

// Non-drop-frame timecode of a frame (drop-frame rates show the server's timecodes).
function timecode(frame, rate) {
  const fps = Math.round(rate.fps);
  const ff = frame % fps;
  const secs = Math.floor(frame / fps);
  return `${pad(Math.floor(secs / 3600))}:${pad(Math.floor(secs / 60) % 60)}:${pad(secs % 60)}:${pad(ff)}`;
}

function frameOfTimecode(tc, rate) {
  const m = /^(\d+):(\d\d):(\d\d)[:;](\d\d)$/.exec(tc.trim());
  if (!m) return null;
  const fps = Math.round(rate.fps);
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * fps + Number(m[4]);
}

export async function review(session, asset, number) {
  const api = session.api;
  const base = `/cairn/v1/assets/${encodeURIComponent(asset)}/versions/${encodeURIComponent(number)}`;
  const [version, timing] = await Promise.all([attempt(() => api.json("GET", base)), attempt(() => api.json("GET", `${base}/timing`))]);
  if (!version || !timing) return h("section", {}, h("h1", {}, "Review"), h("p", { class: "error" }, "This video version could not be opened."));
  const rate = parseRate(timing.frame_rate);
  const o = version.object;
  const query = o.version_id ? [["versionId", o.version_id]] : [];
  const src = await api.presign("GET", o.bucket, o.key, 12 * 3600, query);

  const state = {
    frame: 0,
    tool: "select",
    color: COLORS[0],
    notes: new Map(), // id -> annotation (top level and replies)
    others: new Map(), // reviewer -> { frame, name, at }
    selected: null,
    seq: 0,
    drafts: new Map(), // annotation id -> reply being typed
  };

  const video = h("video", { src, preload: "auto", playsinline: true, "aria-label": "Video", tabindex: "-1" });
  const overlay = svg("svg", { class: "overlay", role: "img", "aria-label": "Annotations of this frame" });
  const stage = h("div", { class: "stage" }, video, overlay);
  const frameOut = h("output", { id: "frame", "aria-live": "off" }, "0");
  const tcOut = h("output", { id: "timecode" }, timecode(0, rate));
  const jump = h("input", { id: "jump", size: "12", "aria-label": "Frame number or timecode HH:MM:SS:FF", placeholder: "frame or 00:00:04:00", spellcheck: "false" });
  const comment = h("input", { id: "comment", size: "40", "aria-label": "Comment for the next annotation", placeholder: "Comment for the next shape" });
  const list = h("ol", { id: "notes", class: "notes", "aria-label": "Annotations" });
  const timeline = h("div", { class: "timeline", id: "timeline", role: "group", "aria-label": "Timeline" });
  const head = h("div", { class: "playhead" });
  const liveState = h("span", { id: "live", class: "live" }, "connecting");
  const frameCount = () => timing.frame_count || Math.max(1, Math.round(((timing.duration_ms || video.duration * 1000 || 1000) / 1000) * rate.fps));

  // --- frames ---
  const seek = (f) => {
    const last = frameCount() - 1;
    const target = Math.max(0, Math.min(last, f));
    video.pause();
    video.currentTime = (target + 0.5) / rate.fps;
    setFrame(target);
  };
  const setFrame = (f) => {
    if (f === state.frame && frameOut.textContent === String(f)) return;
    state.frame = f;
    frameOut.textContent = String(f);
    tcOut.textContent = timecode(f, rate);
    draw();
    for (const li of list.children) li.classList.toggle("here", Number(li.dataset.frame) === f);
    placeHead();
    presence();
  };
  // A time inside a frame (the playhead while playing) belongs to the frame it is in;
  // a presented frame's own timestamp (`mediaTime`) is its start, which containers
  // round (WebM to the millisecond), so it is taken to the nearest frame.
  const readFrame = (t) => Math.max(0, Math.floor(t * rate.fps + 1e-6));
  const frameAt = (start) => Math.max(0, Math.round(start * rate.fps));
  // While a seek is under way the frame shown is the one asked for: a picture from
  // before it (a late callback of a quick second step) must not move the count back.
  const follow = (_now, meta) => {
    if (!video.seeking) setFrame(meta ? frameAt(meta.mediaTime) : readFrame(video.currentTime));
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(follow);
  };
  if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(follow);
  video.addEventListener("timeupdate", () => {
    if (!video.paused) setFrame(readFrame(video.currentTime));
  });
  video.addEventListener("loadedmetadata", () => {
    overlay.setAttribute("viewBox", `0 0 ${video.videoWidth || 1} ${video.videoHeight || 1}`);
    markers();
    draw();
  });

  // --- drawing what is there ---
  const W = () => video.videoWidth || 1;
  const H = () => video.videoHeight || 1;
  const onFrame = (a) => !a.parent && !a.deleted && a.geometry && (a.end_frame != null ? a.frame <= state.frame && state.frame <= a.end_frame : a.frame === state.frame);
  const shape = (a, cls) => {
    const g = a.geometry || {};
    const color = (a.style && a.style.color) || "#ff3b30";
    const common = { class: cls, stroke: color, fill: "none", "stroke-width": "3", "vector-effect": "non-scaling-stroke", "data-id": a.id || "", "data-kind": a.kind };
    const X = (v) => v * W();
    const Y = (v) => v * H();
    switch (a.kind) {
      case "rect":
        return svg("rect", { ...common, x: X(g.x), y: Y(g.y), width: X(g.w), height: Y(g.h) });
      case "ellipse":
        return svg("ellipse", { ...common, cx: X(g.x + g.w / 2), cy: Y(g.y + g.h / 2), rx: X(g.w / 2), ry: Y(g.h / 2) });
      case "line":
      case "arrow": {
        const grp = svg("g", common);
        grp.append(svg("line", { x1: X(g.x1), y1: Y(g.y1), x2: X(g.x2), y2: Y(g.y2), "vector-effect": "non-scaling-stroke" }));
        if (a.kind === "arrow") {
          const ang = Math.atan2(Y(g.y2) - Y(g.y1), X(g.x2) - X(g.x1));
          const len = Math.max(W(), H()) * 0.025;
          const p = (d) => `${X(g.x2) - len * Math.cos(ang + d)},${Y(g.y2) - len * Math.sin(ang + d)}`;
          grp.append(svg("polyline", { points: `${p(0.5)} ${X(g.x2)},${Y(g.y2)} ${p(-0.5)}`, "vector-effect": "non-scaling-stroke" }));
        }
        return grp;
      }
      case "polygon":
      case "freehand": {
        const pts = (g.points || []).map(([x, y]) => `${X(x)},${Y(y)}`).join(" ");
        return svg(a.kind === "polygon" ? "polygon" : "polyline", { ...common, points: pts });
      }
      case "text":
      case "point": {
        const grp = svg("g", { ...common, fill: color });
        grp.append(svg("circle", { cx: X(g.x), cy: Y(g.y), r: Math.max(W(), H()) * 0.006 }));
        if (a.text) {
          const t = svg("text", { x: X(g.x) + 8, y: Y(g.y) - 8, "font-size": Math.max(12, H() * 0.045), stroke: "none" });
          t.textContent = a.text;
          grp.append(t);
        }
        return grp;
      }
      default:
        return null;
    }
  };
  const draw = () => {
    overlay.replaceChildren();
    for (const a of state.notes.values()) {
      if (!onFrame(a)) continue;
      const el = shape(a, `shape${a.status === "resolved" ? " resolved" : ""}${state.selected === a.id ? " selected" : ""}`);
      if (el) overlay.append(el);
    }
    if (drawing && drawing.preview) overlay.append(drawing.preview);
  };

  // --- timeline ---
  const pos = (f) => `${(100 * f) / Math.max(1, frameCount() - 1)}%`;
  const placeHead = () => {
    head.style.left = pos(state.frame);
    for (const m of timeline.querySelectorAll(".other")) m.remove();
    for (const [who, p] of state.others) {
      if (Date.now() - p.at > PRESENCE_GONE_MS) state.others.delete(who);
    }
    for (const [who, p] of state.others) {
      if (p.frame == null) continue;
      const m = h("span", { class: "other", title: `${p.name || who} at frame ${p.frame}`, "data-reviewer": who, "data-frame": String(p.frame) });
      m.style.left = pos(p.frame);
      timeline.append(m);
    }
    for (const el of document.querySelectorAll("#reviewers li")) el.remove();
    const ul = document.getElementById("reviewers");
    if (ul) for (const [who, p] of state.others) ul.append(h("li", { "data-reviewer": who }, `${p.name || who}: frame ${p.frame ?? "?"}`));
  };
  const markers = () => {
    for (const m of timeline.querySelectorAll(".marker")) m.remove();
    const frames = new Set();
    for (const a of state.notes.values()) if (!a.parent && !a.deleted) frames.add(a.frame);
    for (const f of frames) {
      const b = h("button", { type: "button", class: "marker", "aria-label": `Go to annotated frame ${f}`, onclick: () => seek(f) });
      b.style.left = pos(f);
      timeline.append(b);
    }
  };
  timeline.append(head);
  timeline.addEventListener("click", (e) => {
    if (e.target !== timeline) return;
    const r = timeline.getBoundingClientRect();
    seek(Math.round(((e.clientX - r.left) / r.width) * (frameCount() - 1)));
  });

  // --- the list, replies, resolve ---
  const renderList = () => {
    const top = [...state.notes.values()].filter((a) => !a.parent && !a.deleted).sort((a, b) => a.frame - b.frame || a.id.localeCompare(b.id));
    const items = top.map((a) => {
      const replies = [...state.notes.values()].filter((r) => r.parent === a.id && !r.deleted).sort((x, y) => x.id.localeCompare(y.id));
      const reply = h("input", {
        "aria-label": `Reply to annotation at frame ${a.frame}`,
        size: "30",
        placeholder: "Reply",
        "data-part": "reply-text",
        oninput: (e) => state.drafts.set(a.id, e.target.value),
      });
      reply.value = state.drafts.get(a.id) || "";
      return h(
        "li",
        { "data-id": a.id, "data-frame": String(a.frame), class: `${a.status}${a.frame === state.frame ? " here" : ""}` },
        h("button", { type: "button", class: "goto", "data-part": "goto", onclick: () => seek(a.frame) }, `Frame ${a.frame}`),
        ` ${a.kind}${a.text ? ": " + a.text : ""} — ${a.author_name || a.author} `,
        h(
          "button",
          {
            type: "button",
            class: "resolve",
            "data-part": "resolve",
            onclick: () => attempt(() => setStatus(a, a.status === "resolved" ? "open" : "resolved")),
          },
          a.status === "resolved" ? "Reopen" : "Resolve",
        ),
        " ",
        h(
          "button",
          {
            type: "button",
            class: "delete",
            "data-part": "delete",
            "aria-label": `Delete the ${a.kind} at frame ${a.frame}`,
            onclick: () => attempt(() => remove(a)),
          },
          "Delete",
        ),
        replies.length ? h("ul", { class: "replies" }, replies.map((r) => h("li", { "data-id": r.id }, `${r.author_name || r.author}: ${r.text || ""}`))) : null,
        h(
          "form",
          {
            class: "reply",
            onsubmit: async (ev) => {
              ev.preventDefault();
              const text = reply.value.trim();
              if (!text) return;
              const made = await attempt(() => api.json("POST", `${base}/annotations`, { client_id: crypto.randomUUID(), frame: a.frame, kind: "text", text, parent: a.id }));
              if (made) {
                state.drafts.delete(a.id);
                upsert(made);
              }
            },
          },
          reply,
          h("button", { type: "submit", "data-part": "reply" }, "Reply"),
        ),
      );
    });
    // The focus stays on the same control of the same annotation across a re-render
    // (and a reply being typed is kept in `drafts`).
    const focused = document.activeElement && list.contains(document.activeElement) ? document.activeElement : null;
    const where = focused && focused.closest("li[data-id]") ? [focused.closest("li[data-id]").dataset.id, focused.dataset.part] : null;
    list.replaceChildren(...items);
    if (where) {
      const again = list.querySelector(`li[data-id="${CSS.escape(where[0])}"] [data-part="${where[1]}"]`);
      if (again) again.focus();
    }
  };
  const setStatus = async (a, status) => {
    const body = { frame: a.frame, kind: a.kind, text: a.text, geometry: a.geometry, style: a.style, status };
    if (a.end_frame != null) body.end_frame = a.end_frame;
    const resp = await api.request("PATCH", `${base}/annotations/${encodeURIComponent(a.id)}`, {
      headers: { "content-type": "application/json", "if-match": `"${a.revision}"` },
      body: JSON.stringify(body),
    });
    upsert(await resp.json());
  };
  // A new or changed annotation; `quiet` leaves the redraw to the caller (a load).
  // Deleting names the revision it saw: someone else's newer edit is not lost (412).
  const remove = async (a) => {
    const resp = await api.request("DELETE", `${base}/annotations/${encodeURIComponent(a.id)}`, { headers: { "if-match": `"${a.revision}"` } });
    upsert(await resp.json());
    say(`The ${a.kind} at frame ${a.frame} is deleted.`);
  };
  const upsert = (a, quiet = false) => {
    const had = state.notes.get(a.id);
    if (had && had.revision > a.revision) return;
    state.notes.set(a.id, a);
    if (quiet) return;
    markers();
    draw();
    renderList();
  };

  // --- drawing new shapes ---
  let drawing = null;
  const point = (e) => {
    const m = overlay.getScreenCTM();
    if (!m) return [0, 0];
    const p = new DOMPoint(e.clientX, e.clientY).matrixTransform(m.inverse());
    return [Math.min(1, Math.max(0, p.x / W())), Math.min(1, Math.max(0, p.y / H()))];
  };
  const geometryOf = (kind, pts) => {
    const [[x1, y1], [x2, y2]] = [pts[0], pts[pts.length - 1]];
    switch (kind) {
      case "rect":
      case "ellipse":
        return { x: Math.min(x1, x2), y: Math.min(y1, y2), w: Math.abs(x2 - x1), h: Math.abs(y2 - y1) };
      case "line":
      case "arrow":
        return { x1, y1, x2, y2 };
      case "text":
        return { x: x1, y: y1 };
      default:
        return { points: pts.map(([x, y]) => [x, y]) };
    }
  };
  const save = async (kind, geometry) => {
    const body = { client_id: crypto.randomUUID(), frame: state.frame, kind, geometry, style: { color: state.color } };
    const text = comment.value.trim();
    if (text) body.text = text;
    const made = await attempt(() => api.json("POST", `${base}/annotations`, body));
    if (made) {
      comment.value = "";
      upsert(made);
      say(`Annotation saved at frame ${made.frame}.`);
    }
  };
  overlay.addEventListener("pointerdown", (e) => {
    if (state.tool === "select") return;
    video.pause();
    const p = point(e);
    if (state.tool === "text") {
      save("text", geometryOf("text", [p]));
      return;
    }
    if (state.tool === "polygon") {
      if (!drawing) drawing = { kind: "polygon", pts: [] };
      drawing.pts.push(p);
      drawing.preview = shape({ kind: "freehand", geometry: { points: drawing.pts }, style: { color: state.color } }, "preview");
      draw();
      return;
    }
    overlay.setPointerCapture(e.pointerId);
    drawing = { kind: state.tool, pts: [p, p] };
  });
  overlay.addEventListener("pointermove", (e) => {
    if (!drawing || drawing.kind === "polygon") return;
    const p = point(e);
    if (drawing.kind === "freehand") drawing.pts.push(p);
    else drawing.pts[1] = p;
    drawing.preview = shape({ kind: drawing.kind, geometry: geometryOf(drawing.kind, drawing.pts), style: { color: state.color } }, "preview");
    draw();
  });
  overlay.addEventListener("pointerup", () => {
    if (!drawing || drawing.kind === "polygon") return;
    const d = drawing;
    drawing = null;
    const g = geometryOf(d.kind, d.pts);
    const tiny = (d.kind === "rect" || d.kind === "ellipse") && (g.w < 0.002 || g.h < 0.002);
    if (!tiny) save(d.kind, g);
    else draw();
  });
  overlay.addEventListener("dblclick", () => {
    if (drawing && drawing.kind === "polygon") {
      const d = drawing;
      drawing = null;
      // The double click added its point twice.
      const pts = d.pts.filter((p, i) => i === 0 || p[0] !== d.pts[i - 1][0] || p[1] !== d.pts[i - 1][1]);
      if (pts.length >= 3) save("polygon", geometryOf("polygon", pts));
      else draw();
    }
  });

  // --- live ---
  let ws = null;
  // Leaving the view (another route, or sign-out) ends its stream.
  let left = false;
  const beat = setInterval(() => {
    lastPresence = 0;
    presence();
    placeHead();
  }, PRESENCE_EVERY_MS);
  const leave = () => {
    left = true;
    clearInterval(beat);
    if (ws) ws.close();
    video.pause();
  };
  window.addEventListener("hashchange", leave, { once: true });
  window.addEventListener("cairn-signout", leave, { once: true });
  let lastPresence = 0;
  const presence = () => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const now = Date.now();
    if (now - lastPresence < 100) {
      clearTimeout(presence.timer);
      presence.timer = setTimeout(presence, 120);
      return;
    }
    lastPresence = now;
    ws.send(JSON.stringify({ type: "presence", frame: state.frame, name: api.creds.accessKey }));
  };
  const connect = async () => {
    const url = (await api.presignPath("GET", `${base}/annotations/ws`, 3600, state.seq ? [["after", String(state.seq)]] : [])).replace(/^http/, "ws");
    ws = new WebSocket(url);
    ws.onopen = () => {
      liveState.textContent = "live";
      presence();
    };
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === "event") {
        state.seq = Math.max(state.seq, msg.seq);
        upsert(msg.annotation);
      } else if (msg.type === "presence") {
        state.others.set(msg.from || msg.name || "someone", { frame: msg.frame, name: msg.name, at: Date.now() });
        placeHead();
      } else if (msg.type === "reset") {
        state.seq = msg.seq;
        load();
      } else if (msg.type === "heartbeat") {
        state.seq = Math.max(state.seq, msg.seq || 0);
      }
    };
    ws.onclose = () => {
      liveState.textContent = "reconnecting";
      if (!left) setTimeout(connect, 1000);
    };
  };
  const load = async () => {
    let cursor = null;
    do {
      const q = [["limit", "1000"]];
      if (cursor) q.push(["cursor", cursor]);
      const page = await attempt(() => api.json("GET", `${base}/annotations`, undefined, q));
      if (!page) return;
      for (const a of page.annotations) upsert(a, true);
      cursor = page.next_cursor;
    } while (cursor);
    markers();
    draw();
    renderList();
  };

  // --- controls and keys ---
  const toolButtons = TOOLS.map(([t, label]) =>
    h(
      "button",
      {
        type: "button",
        class: "tool",
        "data-tool": t,
        "aria-pressed": String(t === state.tool),
        onclick: () => {
          state.tool = t;
          drawing = null;
          overlay.classList.toggle("drawing", t !== "select");
          for (const b of document.querySelectorAll(".tool")) b.setAttribute("aria-pressed", String(b.dataset.tool === t));
        },
      },
      label,
    ),
  );
  const colorButtons = COLORS.map((c) => {
    const b = h("button", {
      type: "button",
      class: "swatch",
      "aria-label": `Colour ${c}`,
      "aria-pressed": String(c === state.color),
      onclick: () => {
        state.color = c;
        for (const s of document.querySelectorAll(".swatch")) s.setAttribute("aria-pressed", String(s === b));
      },
    });
    // Through the CSSOM: the page's CSP refuses inline style attributes.
    b.style.background = c;
    return b;
  });
  const player = h(
    "div",
    {
      class: "player",
      tabindex: "0",
      "aria-label": "Player: Left and Right step one frame, Shift with them ten, Space plays and pauses",
      onkeydown: (e) => {
        if (e.target.tagName === "INPUT") return;
        const step = e.shiftKey ? 10 : 1;
        if (e.key === "ArrowRight") seek(state.frame + step);
        else if (e.key === "ArrowLeft") seek(state.frame - step);
        else if (e.key === " ") video.paused ? video.play() : video.pause();
        else return;
        e.preventDefault();
      },
    },
    stage,
    timeline,
    h(
      "div",
      { class: "controls" },
      h("button", { type: "button", id: "prev-frame", "aria-label": "One frame back", onclick: () => seek(state.frame - 1) }, "◀ Frame"),
      h("button", { type: "button", id: "play", onclick: () => (video.paused ? video.play() : video.pause()) }, "Play / pause"),
      h("button", { type: "button", id: "next-frame", "aria-label": "One frame forward", onclick: () => seek(state.frame + 1) }, "Frame ▶"),
      h("span", {}, " Frame ", frameOut, " · ", tcOut, ` · ${timing.frame_rate} fps `),
      h(
        "form",
        {
          class: "inline",
          onsubmit: (e) => {
            e.preventDefault();
            const v = jump.value.trim();
            const f = /^\d+$/.test(v) ? Number(v) : frameOfTimecode(v, rate);
            if (f === null) say("Give a frame number or a timecode HH:MM:SS:FF.", true);
            else seek(f);
          },
        },
        jump,
        h("button", { type: "submit", id: "jump-go" }, "Go"),
      ),
    ),
    h("div", { class: "controls", role: "toolbar", "aria-label": "Drawing tools" }, toolButtons, colorButtons, comment),
  );

  await load();
  connect();
  return h(
    "section",
    { class: "review", "aria-labelledby": "review-title" },
    h("h1", { id: "review-title" }, `Review: ${o.key} (version ${version.number})`),
    h("p", {}, "Live: ", liveState),
    h("div", { class: "review-grid" }, player, h("aside", {}, h("h2", {}, "Reviewers here"), h("ul", { id: "reviewers" }), h("h2", {}, "Annotations"), list)),
  );
}
