// The catalog's files: totals per state, filters (kept in the address bar), a page of
// files with their attempts, and Retry / Ignore / Unignore on the selected ones.

import { getJSON, hideError, postJSON, showError, showInfo, withButton } from "./api.js";
import { badge, el, fillBody } from "./dom.js";
import { size, UNKNOWN, when } from "./format.js";

const PAGE = 100;
const $ = (name) => document.getElementById(name);
const form = $("filters");
const table = $("files");
const body = table.tBodies[0];
let offset = 0;
let total = null;

// --- the filter form and the address bar ----------------------------------------------

function formQuery() {
  const query = new URLSearchParams();
  for (const [key, value] of new FormData(form)) {
    const text = String(value).trim();
    if (!text) continue;
    if (key === "where") {
      for (const line of text.split("\n")) if (line.trim()) query.append("where", line.trim());
    } else {
      query.append(key, text);
    }
  }
  return query;
}

function fillForm(query) {
  // Not form.reset(): that fires "reset", which clears the address bar.
  for (const input of form.querySelectorAll("input:not([type=checkbox]), textarea")) input.value = "";
  form.elements.order.value = "-updated_at";
  for (const box of form.querySelectorAll('input[name="state"]')) box.checked = query.getAll("state").includes(box.value);
  for (const name of ["instrument", "source", "target", "order"]) {
    if (query.has(name)) form.elements[name].value = query.get(name);
  }
  for (const name of ["obs_start", "obs_end", "downlink_start", "downlink_end"]) {
    if (query.has(name)) form.elements[name].value = query.get(name);
  }
  form.elements.where.value = query.getAll("where").join("\n");
}

// --- totals -----------------------------------------------------------------------------

async function loadTotals() {
  const status = await getJSON("/api/status");
  for (const card of $("state-totals").querySelectorAll(".total[data-state]")) {
    const state = card.dataset.state;
    const t = state ? status.states?.[state] : status.total;
    if (!t) continue;
    card.querySelector(".count").textContent = String(t.count);
    card.querySelector(".bytes").textContent = size(t.bytes);
  }
}

// --- the table --------------------------------------------------------------------------

function fileRow(f) {
  return el(
    "tr",
    { "data-file-id": f.id, "data-state": f.state, class: "file-row" },
    el("td", { class: "check" }, el("input", { type: "checkbox", class: "pick", "aria-label": `Select file ${f.id}` })),
    el("td", { class: "num id", text: f.id }),
    el("td", { class: "name", title: f.url, text: f.path }),
    el("td", { class: "state" }, badge(f.state)),
    el("td", { class: "num", text: size(f.size) }),
    el("td", { text: f.instrument || "" }),
    el("td", { class: "when", text: f.obs_start ? when(f.obs_start) : "" }),
    el("td", { text: f.source || "" }),
    el("td", { class: "num", text: f.attempts ?? "" }),
    el("td", { class: "error-class", text: f.error_class || "" }),
    el("td", { class: "message", title: f.last_error || "", text: f.last_error || "" }),
    el("td", { class: "when", text: when(f.updated_at) }),
  );
}

async function loadFiles() {
  const query = formQuery();
  query.set("limit", String(PAGE));
  query.set("offset", String(offset));
  const answer = await getJSON(`/api/files?${query}`);
  total = answer.total;
  fillBody(table, answer.files.map(fileRow));
  $("no-files").hidden = answer.files.length > 0;
  const first = answer.files.length ? offset + 1 : 0;
  $("files-range").textContent = `${first}–${offset + answer.files.length} of ${total}`;
  $("prev-page").disabled = offset === 0;
  $("next-page").disabled = offset + answer.files.length >= total;
  $("select-all").checked = false;
  updateSelection();
}

async function refresh() {
  try {
    await Promise.all([loadFiles(), loadTotals()]);
  } catch (err) {
    showError(err);
  }
}

// --- selection and actions --------------------------------------------------------------

function selectedIds() {
  return [...body.querySelectorAll("input.pick:checked")].map((box) => Number(box.closest("tr").dataset.fileId));
}

function updateSelection() {
  const count = selectedIds().length;
  $("selected-count").textContent = `${count} selected`;
  for (const name of ["retry", "ignore", "unignore"]) $(name).disabled = count === 0;
}

for (const action of ["retry", "ignore", "unignore"]) {
  $(action).addEventListener("click", (e) =>
    withButton(e.currentTarget, async () => {
      const ids = selectedIds();
      const answer = await postJSON(`/api/files/${action}`, { ids });
      showInfo(`${action}: ${answer.changed} of ${ids.length} file(s) changed`);
      await refresh();
    }),
  );
}

$("select-all").addEventListener("change", (e) => {
  for (const box of body.querySelectorAll("input.pick")) box.checked = e.currentTarget.checked;
  updateSelection();
});

// --- a file's attempts ------------------------------------------------------------------

function attemptsRow(detail, columns) {
  const { file, attempts, headers } = detail;
  const rows = attempts.map((a) =>
    el(
      "tr",
      {},
      el("td", { class: "when", text: when(a.started_at) }),
      el("td", { class: "when", text: when(a.finished_at) }),
      el("td", {}, badge(String(a.outcome).toUpperCase())),
      el("td", { class: "num", text: size(a.bytes) }),
      el("td", { class: "error-class", text: a.error_class || "" }),
      el("td", { class: "message", text: a.message || "" }),
      el("td", { class: "sources", text: (a.sources || []).map((s) => `${s.url} (${size(s.bytes)})`).join(", ") }),
    ),
  );
  const attemptsTable = el(
    "table",
    { class: "grid attempts" },
    el(
      "thead",
      {},
      el("tr", {}, ...["Started", "Finished", "Outcome", "Bytes", "Error class", "Message", "Sources"].map((h) => el("th", { text: h }))),
    ),
    el("tbody", {}, ...rows),
  );
  const facts = el(
    "dl",
    { class: "kv compact" },
    el("dt", { text: "URL" }),
    el("dd", { text: file.url }),
    el("dt", { text: "Destination" }),
    el("dd", { text: `${file.dest_root}/${file.path}` }),
    el("dt", { text: "sha256" }),
    el("dd", { text: file.sha256 || UNKNOWN }),
    el("dt", { text: "Next attempt" }),
    el("dd", { text: when(file.next_attempt_at) }),
    headers ? el("dt", { text: "Headers" }) : null,
    headers ? el("dd", { text: `${Object.keys(headers).length} stored` }) : null,
  );
  const shown = attempts.length ? attemptsTable : el("p", { class: "muted", text: "No attempts yet." });
  return el("tr", { class: "detail" }, el("td", { colspan: columns }, facts, shown));
}

async function toggleDetail(tr) {
  const next = tr.nextElementSibling;
  if (next?.classList.contains("detail")) {
    next.remove();
    tr.classList.remove("open");
    return;
  }
  try {
    const detail = await getJSON(`/api/files/${tr.dataset.fileId}`);
    tr.after(attemptsRow(detail, tr.cells.length));
    tr.classList.add("open");
  } catch (err) {
    showError(err);
  }
}

table.addEventListener("click", (e) => {
  if (e.target.closest("input, a, button")) return;
  const tr = e.target.closest("tr.file-row");
  if (tr && !window.getSelection()?.toString()) toggleDetail(tr);
});
table.addEventListener("change", (e) => {
  if (e.target.matches("input.pick")) updateSelection();
});

// --- navigation -------------------------------------------------------------------------

form.addEventListener("submit", (e) => {
  e.preventDefault();
  hideError();
  offset = 0;
  const query = formQuery();
  history.pushState(null, "", query.toString() ? `/files?${query}` : "/files");
  refresh();
});
form.addEventListener("reset", () => {
  setTimeout(() => {
    offset = 0;
    history.pushState(null, "", "/files");
    refresh();
  });
});
$("state-totals").addEventListener("click", (e) => {
  const card = e.target.closest("button.total[data-state]");
  if (!card) return;
  for (const box of form.querySelectorAll('input[name="state"]')) box.checked = box.value === card.dataset.state;
  form.requestSubmit();
});
$("prev-page").addEventListener("click", () => {
  offset = Math.max(0, offset - PAGE);
  refresh();
});
$("next-page").addEventListener("click", () => {
  offset += PAGE;
  refresh();
});
window.addEventListener("popstate", () => {
  fillForm(new URLSearchParams(location.search));
  offset = 0;
  refresh();
});

// The first paint shows the latest files; a filtered address is the script's to show.
if (location.search) {
  fillForm(new URLSearchParams(location.search));
  refresh();
} else {
  form.elements.order.value = "-updated_at";
}
updateSelection();
