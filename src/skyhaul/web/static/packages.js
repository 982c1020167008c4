// The observatory's data: per location its copies by status, and the packages with their
// state, copies and error; refreshed from the JSON API every few seconds.

import { getJSON, hideError, showError } from "./api.js";
import { badge, el, fillBody } from "./dom.js";
import { size, when } from "./format.js";

const REFRESH_MS = 5000;
const $ = (name) => document.getElementById(name);
const locationsTable = $("locations");
const packagesTable = $("packages");
const stateFilter = $("state-filter");
const STATUSES = [...locationsTable.tHead.querySelectorAll("th .badge")].map((b) => b.textContent);

function locationRow(entry) {
  const loc = entry.location;
  return el(
    "tr",
    { "data-location": loc.ref },
    el("td", { class: "name", title: loc.url, text: loc.ref }),
    el("td", { text: loc.type }),
    el("td", { text: loc.active ? "yes" : "no" }),
    ...STATUSES.map((status) =>
      el("td", { class: "num", "data-status": status, text: entry.by_status[status] ?? 0 }),
    ),
  );
}

function packageRow(p) {
  const copies = p.copies.flatMap((c) => [el("span", { class: "copy" }, `${c.location} `, badge(c.status)), " "]);
  return el(
    "tr",
    { "data-package-id": p.id, "data-state": p.state },
    el("td", { class: "num id", text: p.id }),
    el("td", { class: "name", text: p.name }),
    el("td", { class: "state" }, badge(p.state)),
    el("td", { class: "num", text: p.members }),
    el("td", { class: "num", text: size(p.size) }),
    el("td", { class: "sha", title: p.sha256 || "", text: (p.sha256 || "").slice(0, 12) }),
    el("td", { class: "copies" }, ...copies),
    el("td", { class: "message", title: p.error || "", text: p.error || "" }),
    el("td", { class: "when", text: when(p.created_at) }),
  );
}

async function loadLocations() {
  const sites = await getJSON("/api/sites");
  const refs = sites.flatMap((site) => site.locations.map((loc) => loc.ref));
  const entries = await Promise.all(
    refs.map((ref) => {
      const [site, name] = ref.split("/").map(encodeURIComponent);
      return getJSON(`/api/locations/${site}/${name}/copies?limit=0`);
    }),
  );
  fillBody(locationsTable, entries.map(locationRow));
  $("no-locations").hidden = entries.length > 0;
}

async function loadPackages() {
  const state = stateFilter.value;
  const packages = await getJSON(state ? `/api/packages?state=${encodeURIComponent(state)}` : "/api/packages");
  fillBody(packagesTable, packages.map(packageRow));
  $("packages-count").textContent = String(packages.length);
  $("no-packages").hidden = packages.length > 0;
}

async function refresh() {
  try {
    await Promise.all([loadLocations(), loadPackages()]);
    hideError();
  } catch (err) {
    showError(err);
  }
}

stateFilter.addEventListener("change", refresh);
setInterval(refresh, REFRESH_MS);
