// The console's shell: sign-in and sign-out, the session (in this module's memory
// only: a reload asks for the secret again), and the router from `#/...` to a view.

import { Api } from "./api.js";
import { say } from "./dom.js";
import * as objects from "./objects.js";
import * as admin from "./admin.js";
import { review } from "./review.js";
import * as tenants from "./tenants.js";
import * as assets from "./assets.js";

// `tenants`: the tenants this key manages (admin or tenant admin), else empty.
const session = { api: null, admin: false, tenants: [] };
// Kept here: views replace it in the page, sign-out puts it back.
const form = document.getElementById("signin");

const routes = [
  [/^#\/buckets$/, () => objects.buckets(session)],
  [/^#\/b\/([^/]+)\/?(.*)$/, (m) => objects.browse(session, decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^#\/o\/([^/]+)\/(.+)$/, (m) => objects.details(session, decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^#\/policy\/([^/]+)$/, (m) => objects.policy(session, decodeURIComponent(m[1]))],
  [/^#\/review\/([^/]+)\/([^/]+)$/, (m) => review(session, decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
  [/^#\/tenants(?:\/(.+))?$/, (m) => tenants.list(session, m[1] ? decodeURIComponent(m[1]) : null)],
  [/^#\/t\/([^/]+)$/, (m) => tenants.tenant(session, decodeURIComponent(m[1]))],
  [/^#\/assets$/, () => assets.list(session)],
  [/^#\/asset\/([^/]+)$/, (m) => assets.asset(session, decodeURIComponent(m[1]))],
  [/^#\/cluster$/, () => admin.cluster(session)],
  [/^#\/keys$/, () => admin.keys(session)],
];

function main() {
  return document.getElementById("main");
}

// Views are built asynchronously; only the newest route's view is shown, and
// `body[data-busy]` counts the routes still building and `main[data-view]` names
// the one shown (tests wait on both).
let generation = 0;
let building = 0;
let shown = "";

async function route() {
  if (!session.api) return;
  const hash = location.hash || "#/buckets";
  const part = hash.split("/")[1];
  const section = { b: "buckets", o: "buckets", policy: "buckets", t: "tenants", asset: "assets", review: "assets" }[part] || part;
  for (const a of document.querySelectorAll("#nav a")) a.toggleAttribute("aria-current", a.dataset.section === section);
  const match = routes.map(([re, view]) => [hash.match(re), view]).find(([m]) => m);
  if (!match) {
    location.hash = "#/buckets";
    return;
  }
  const mine = ++generation;
  building++;
  document.body.dataset.busy = String(building);
  try {
    // A new place clears the last message; a refresh of the same one keeps it.
    if (hash !== shown) say("");
    shown = hash;
    const el = await match[1](match[0]);
    if (el && mine === generation && session.api) {
      main().replaceChildren(el);
      main().dataset.view = hash;
      main().focus();
    }
  } finally {
    building--;
    document.body.dataset.busy = String(building);
  }
}

async function signIn(ev) {
  ev.preventDefault();
  const err = document.getElementById("signin-error");
  err.textContent = "";
  if (!window.crypto || !crypto.subtle) {
    err.textContent =
      "This page is not a secure context, so the browser offers no WebCrypto to sign requests. Open the console over HTTPS, or on localhost.";
    return;
  }
  const accessKey = document.getElementById("access").value.trim();
  const secret = document.getElementById("secret").value;
  let region = "us-east-1";
  try {
    region = (await (await fetch("env.json", { cache: "no-store" })).json()).region || region;
  } catch {
    // The default region signs for a node that was not told another.
  }
  const api = new Api({ accessKey, secret }, region);
  try {
    await api.listBuckets();
  } catch (e) {
    if (e.code === "InvalidAccessKeyId") {
      err.textContent = "Sign-in failed: no such access key.";
      return;
    }
    if (e.code === "SignatureDoesNotMatch") {
      err.textContent = "Sign-in failed: the secret key is wrong for this access key.";
      return;
    }
    if (e.code !== "AccessDenied") {
      err.textContent = `Sign-in failed: ${e.code}: ${e.message}`;
      return;
    }
    // A key that may not list buckets is still a valid key.
  }
  session.api = api;
  try {
    await api.json("GET", "/cairn/admin/v1/info");
    session.admin = true;
  } catch {
    session.admin = false;
  }
  try {
    session.tenants = (await api.json("GET", "/cairn/v1/tenants")).tenants.map((t) => t.id);
  } catch {
    session.tenants = [];
  }
  form.reset();
  form.hidden = true;
  for (const id of ["nav", "who", "signout"]) document.getElementById(id).hidden = false;
  for (const a of document.querySelectorAll('#nav a[data-section="cluster"], #nav a[data-section="keys"]')) a.hidden = !session.admin;
  document.querySelector('#nav a[data-section="tenants"]').hidden = !session.admin && !session.tenants.length;
  document.getElementById("who").textContent = accessKey;
  if (!location.hash || location.hash === "#") location.hash = "#/buckets";
  else route();
}

function signOut() {
  window.dispatchEvent(new Event("cairn-signout"));
  session.api = null;
  session.admin = false;
  session.tenants = [];
  for (const id of ["nav", "who", "signout"]) document.getElementById(id).hidden = true;
  form.hidden = false;
  main().replaceChildren(form);
  say("Signed out: the secret is forgotten.");
  document.getElementById("access").focus();
}

form.addEventListener("submit", signIn);
document.getElementById("signout").addEventListener("click", signOut);
window.addEventListener("hashchange", route);
document.getElementById("access").focus();
