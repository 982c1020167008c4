// One job live: progress, throughput chart, files in flight, recent files, summary.
// Pushed by the job's event stream, polled every 500 ms when the stream is away; the
// stream's `end` (or a finished job that this server no longer runs) stops following.

import { postJSON, withButton } from "./api.js";
import { drawThroughput } from "./chart.js";
import { badge, el, fillBody, setBar } from "./dom.js";
import { duration, jobPercent, params, size, speed, summaryValue, UNKNOWN, when } from "./format.js";
import { follow } from "./live.js";

const WINDOW_MS = 120_000;
const TERMINAL = new Set(["succeeded", "failed", "cancelled", "interrupted"]);
const CANCELLABLE = new Set(["queued", "running"]);
const RESUMABLE = new Set(["failed", "cancelled", "interrupted"]);

const id = document.body.dataset.jobId;
const $ = (name) => document.getElementById(name);
const canvas = $("throughput");
const samples = [];
let lastJob = JSON.parse($("job-data").textContent);

function setText(name, text) {
  const node = $(name);
  if (node.textContent !== text) node.textContent = text;
}

function render(job) {
  lastJob = job;
  const p = job.progress || {};
  const running = job.state === "running" && job.progress != null;
  const state = $("job-state");
  state.textContent = job.state;
  state.className = `badge state-${job.state}`;
  const pct = jobPercent(job);
  setBar($("job-bar"), pct, job.state);
  setText("job-percent", `${pct}%`);
  setText("files-done", String(p.files_done || 0));
  setText("files-total", String(p.files_total || 0));
  setText("files-failed", `${p.files_failed || 0} failed`);
  $("files-failed").className = p.files_failed ? "warn" : "";
  setText("files-retrying", `${p.files_retrying || 0} retrying`);
  setText("bytes-done", size(p.bytes_done || 0));
  setText("bytes-total", size(p.bytes_total));
  setText("speed", running ? speed(p.speed) : UNKNOWN);
  setText("eta", running ? duration(p.eta) : UNKNOWN);
  setText("started", when(job.started_at || job.created_at));
  setText("finished", when(job.finished_at));
  setText("job-params", params(job.params));
  setText("job-live", job.live ? "run by this server" : job.owner ? `run by ${job.owner}` : "");
  $("job-error").hidden = !job.error;
  setText("job-error", job.error || "");
  $("cancel").hidden = !CANCELLABLE.has(job.state);
  $("resume").hidden = !RESUMABLE.has(job.state);

  const flying = p.in_flight || [];
  setText("in-flight-count", String(flying.length));
  $("no-in-flight").hidden = flying.length > 0;
  fillBody(
    $("in-flight"),
    flying.map((f) =>
      el(
        "tr",
        {},
        el("td", { class: "name", title: f.name, text: f.name }),
        el("td", { class: "bytes num", text: size(f.bytes_done) + (f.bytes_total ? ` / ${size(f.bytes_total)}` : "") }),
        el("td", { class: "speed num", text: speed(f.speed) }),
        el("td", { class: "source", text: f.source || UNKNOWN }),
      ),
    ),
  );
  fillBody(
    $("recent-files"),
    (job.recent_files || []).map((f) =>
      el(
        "tr",
        { "data-file-id": f.id },
        el("td", { class: "name", title: f.path, text: f.path }),
        el("td", { class: "state" }, badge(f.state)),
        el("td", { class: "num", text: size(f.size) }),
        el("td", { class: "error-class", text: f.error_class || "" }),
        el("td", { class: "message", title: f.last_error || "", text: f.last_error || "" }),
        el("td", { class: "when", text: when(f.updated_at) }),
      ),
    ),
  );
  $("no-recent").hidden = (job.recent_files || []).length > 0;

  const summary = job.summary;
  $("summary-panel").hidden = !summary;
  if (summary) {
    $("summary").replaceChildren(
      ...Object.entries(summary).flatMap(([key, value]) => [el("dt", { text: key }), el("dd", { text: summaryValue(value, key) })]),
    );
  }

  if (running) {
    samples.push({ t: Date.now(), v: p.speed || 0 });
    while (samples.length && samples[0].t < Date.now() - WINDOW_MS) samples.shift();
  }
  drawThroughput(canvas, samples, WINDOW_MS);
}

$("cancel").addEventListener("click", (e) =>
  withButton(e.currentTarget, async () => {
    await postJSON(`/api/jobs/${id}/cancel`);
    setText("job-live", "stopping…");
  }),
);
$("resume").addEventListener("click", (e) =>
  withButton(e.currentTarget, async () => {
    await postJSON(`/api/jobs/${id}/resume`);
    // A resumed job runs again: follow it anew (its earlier stream had ended).
    start();
  }),
);

let following = null;
function start() {
  following?.stop();
  following = follow({
    stream: `/api/jobs/${id}/events`,
    event: "job",
    poll: `/api/jobs/${id}`,
    onData: render,
    isFinal: (job) => TERMINAL.has(job.state) && !job.live,
  });
}

// Keep the chart moving (and crisp after a resize) between updates.
setInterval(() => {
  if (lastJob.state === "running") drawThroughput(canvas, samples, WINDOW_MS);
}, 1000);
window.addEventListener("resize", () => drawThroughput(canvas, samples, WINDOW_MS));

render(lastJob);
start();
