// Search MAST, list an observation's products, import them (the job's live page opens).

import { getJSON, hideError, postJSON, showError, withButton } from "./api.js";
import { el, fillBody } from "./dom.js";
import { size, UNKNOWN, when } from "./format.js";

const $ = (name) => document.getElementById(name);
const form = $("mast-search");
const SEARCH_FIELDS = ["target", "ra", "dec", "radius", "obs_id", "mission", "instrument", "product_type"];

function field(name) {
  return form.elements[name].value.trim();
}

function searchQuery() {
  const query = new URLSearchParams();
  for (const name of SEARCH_FIELDS) if (field(name)) query.set(name, field(name));
  return query;
}

function resultRow(r) {
  return el(
    "tr",
    { "data-obs-id": r.obs_id },
    el("td", { class: "name mono", text: r.obs_id }),
    el("td", { text: r.target ?? "" }),
    el("td", { text: r.mission ?? "" }),
    el("td", { text: r.instrument ?? "" }),
    el("td", { class: "when", text: when(r.start) }),
    el("td", { class: "num", text: r.calib_level ?? UNKNOWN }),
    el("td", { text: r.dataproduct_type ?? "" }),
    el("td", { class: "num", text: r.products ?? UNKNOWN }),
    el("td", { class: "num", text: size(r.size) }),
    el(
      "td",
      { class: "actions" },
      el("button", { type: "button", class: "products small", text: "Products" }),
      " ",
      el("button", { type: "button", class: "import small primary", text: "Import" }),
    ),
  );
}

function productRow(p) {
  return el(
    "tr",
    { "data-filename": p.filename },
    el("td", { class: "name mono", title: p.url ?? "", text: p.filename }),
    el("td", { text: p.product_type ?? "" }),
    el("td", { class: "message", title: p.description ?? "", text: p.description ?? "" }),
    el("td", { class: "num", text: size(p.size) }),
    el("td", { text: p.in_cloud ? "S3" : "HTTP only" }),
  );
}

async function search() {
  hideError();
  const query = searchQuery();
  if (!query.has("target") && !query.has("ra") && !query.has("obs_id")) {
    showError("give a target, coordinates (RA and Dec) or an observation id");
    return;
  }
  $("results-count").textContent = "searching…";
  try {
    const answer = await getJSON(`/api/mast/search?${query}`);
    const rows = answer.rows || [];
    fillBody($("results"), rows.map(resultRow));
    $("no-results").hidden = rows.length > 0;
    $("no-results").textContent = "No observations match.";
    $("results-count").textContent = `${rows.length} observation(s)`;
  } catch (err) {
    $("results-count").textContent = "";
    showError(err);
  }
}

async function products(obsId) {
  const query = new URLSearchParams();
  if (field("product_type")) query.set("product_type", field("product_type"));
  $("products-of").textContent = `of ${obsId}: loading…`;
  const answer = await getJSON(`/api/mast/products/${encodeURIComponent(obsId)}?${query}`);
  const rows = answer.products || [];
  fillBody($("products"), rows.map(productRow));
  $("no-products").hidden = rows.length > 0;
  $("no-products").textContent = "No products of that type.";
  const total = rows.reduce((sum, p) => sum + (p.size || 0), 0);
  $("products-of").textContent = `of ${obsId}: ${rows.length} file(s), ${size(total)}`;
}

async function importObservation(obsId) {
  const answer = await postJSON("/api/mast/import", {
    obs_ids: [obsId],
    product_type: field("product_type") || null,
    source: form.elements.source.value,
  });
  location.assign(`/jobs/${answer.job_id}`);
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  withButton($("search-button"), search);
});

$("results").addEventListener("click", (e) => {
  const button = e.target.closest("button");
  if (!button) return;
  const obsId = button.closest("tr").dataset.obsId;
  if (button.classList.contains("products")) {
    for (const tr of $("results").querySelectorAll("tr.selected")) tr.classList.remove("selected");
    button.closest("tr").classList.add("selected");
    withButton(button, () => products(obsId));
  }
  else if (button.classList.contains("import")) withButton(button, () => importObservation(obsId));
});
