// Small DOM helpers: elements built from data (never from HTML strings, so a key
// or a tag can hold any character), sizes and dates for people.

export function h(name, attrs = {}, ...kids) {
  const el = document.createElement(name);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

export function size(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

// A message in the status line (announced to screen readers).
export function say(text, isError = false) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

// Runs `f`, showing its error in the status line instead of losing it.
export async function attempt(f) {
  try {
    return await f();
  } catch (e) {
    say(`${e.code ? e.code + ": " : ""}${e.message}`, true);
    return undefined;
  }
}

export function table(headers, rows, label) {
  return h(
    "table",
    { "aria-label": label },
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows),
  );
}
