// The jobs page: every job live (pushed, or polled when the stream is away), cancel and
// resume from the row.

import { postJSON, showError, withButton } from "./api.js";
import { badge, el, progressBar } from "./dom.js";
import { duration, jobPercent, params, size, speed, UNKNOWN, when } from "./format.js";
import { follow } from "./live.js";

const table = document.getElementById("jobs");
const body = table.tBodies[0];
const CANCELLABLE = new Set(["queued", "running"]);
const RESUMABLE = new Set(["failed", "cancelled", "interrupted"]);

function actions(job) {
  if (CANCELLABLE.has(job.state)) {
    return el("button", { type: "button", class: "cancel small", "data-action": "cancel", text: "Cancel" });
  }
  if (RESUMABLE.has(job.state)) {
    return el("button", { type: "button", class: "resume small", "data-action": "resume", text: "Resume" });
  }
  return null;
}

function failedCell(p) {
  const parts = [];
  if (p.files_failed) parts.push(el("span", { class: "warn", text: `${p.files_failed} failed` }));
  if (p.files_retrying) parts.push(" ", el("span", { class: "muted", text: `${p.files_retrying} retrying` }));
  return parts;
}

function row(job) {
  const p = job.progress || {};
  const has = job.progress != null;
  const running = job.state === "running" && has;
  const pct = jobPercent(job);
  const link = (text) => el("a", { href: `/jobs/${job.id}`, text });
  const what = params(job.params);
  const bytes = has ? size(p.bytes_done || 0) + (p.bytes_total ? ` / ${size(p.bytes_total)}` : "") : UNKNOWN;
  return el(
    "tr",
    { "data-job-id": job.id, "data-state": job.state },
    el("td", { class: "id num" }, link(`#${job.id}`)),
    el("td", { class: "kind" }, link(job.kind)),
    el("td", { class: "what", title: what, text: what }),
    el("td", { class: "state" }, badge(job.state)),
    el("td", { class: "progress" }, progressBar(pct, job.state), el("span", { class: "pct", text: `${pct}%` })),
    el("td", { class: "files num", text: `${p.files_done || 0}/${p.files_total || 0}` }),
    el("td", { class: "failed num" }, ...failedCell(p)),
    el("td", { class: "bytes num", text: bytes }),
    el("td", { class: "speed num", text: running ? speed(p.speed) : UNKNOWN }),
    el("td", { class: "eta num", text: running ? duration(p.eta) : UNKNOWN }),
    el("td", { class: "started", text: when(job.started_at || job.created_at) }),
    el("td", { class: "actions" }, actions(job)),
  );
}

function render(jobs) {
  // Rows are rebuilt from each snapshot, in its order (newest first); a focused button
  // would lose focus, so a row whose content did not change is kept as it is.
  const old = new Map([...body.rows].map((tr) => [tr.dataset.jobId, tr]));
  const rows = jobs.map((job) => {
    const fresh = row(job);
    const kept = old.get(String(job.id));
    return kept && kept.innerHTML === fresh.innerHTML ? kept : fresh;
  });
  body.replaceChildren(...rows);
  document.getElementById("no-jobs").hidden = jobs.length > 0;
  document.getElementById("jobs-count").textContent = `${jobs.length} shown, newest first`;
}

table.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (button) {
    const id = button.closest("tr").dataset.jobId;
    const action = button.dataset.action;
    withButton(button, async () => {
      await postJSON(`/api/jobs/${id}/${action}`);
      button.textContent = action === "cancel" ? "Cancelling…" : "Resuming…";
    });
    return;
  }
  const tr = event.target.closest("tr[data-job-id]");
  if (tr && !event.target.closest("a") && !window.getSelection()?.toString()) {
    location.assign(`/jobs/${tr.dataset.jobId}`);
  }
});

follow({
  stream: "/api/jobs/events",
  event: "jobs",
  poll: "/api/jobs",
  onData: (jobs) => {
    try {
      render(jobs);
    } catch (err) {
      showError(err);
    }
  },
});
