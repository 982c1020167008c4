// A records source's day ledger: a row per day and the availability chart.

import { getJSON, hideError, showError } from "./api.js";
import { drawAvailability } from "./chart.js";
import { badge, el, fillBody } from "./dom.js";
import { percentText, UNKNOWN, when } from "./format.js";

const $ = (name) => document.getElementById(name);
const form = $("backfill-form");
const select = $("source");
const canvas = $("availability");
let shownDays = [];

const isoDay = (date) => date.toISOString().slice(0, 10);
const first = (...values) => values.find((v) => v !== undefined && v !== null);
const numberOrDash = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : UNKNOWN);

function dayView(d) {
  const state = first(d.state, d.status, "NOT_RUN");
  const percent = first(d.availability, d.percent, null);
  let kind = "none";
  if (state === "FAILED") kind = "failed";
  else if (state === "DOWNLOADED" && typeof percent !== "number") kind = "ok";
  else if (typeof percent === "number") kind = percent >= 99 ? "ok" : "partial";
  return {
    day: d.day,
    state,
    percent: typeof percent === "number" ? percent : null,
    kind,
    records: first(d.records, d.count, null),
    expected: first(d.expected, d.expected_records, null),
    requests: first(d.requests, null),
    throttled: first(d.throttled, 0),
    error: [first(d.error_type, d.error_class, ""), first(d.error, d.error_message, "")].filter(Boolean).join(": "),
    finished: first(d.finished_at, null),
  };
}

function dayRow(v) {
  return el(
    "tr",
    { "data-day": v.day, "data-state": v.state },
    el("td", { class: "when", text: v.day }),
    el("td", { class: "state" }, badge(v.state)),
    el("td", { class: "num", text: numberOrDash(v.records) }),
    el("td", { class: "num", text: numberOrDash(v.expected) }),
    el("td", { class: `num avail-${v.kind}`, text: percentText(v.percent) }),
    el("td", { class: "num", text: v.requests === null ? UNKNOWN : `${v.requests}${v.throttled ? ` (${v.throttled} throttled)` : ""}` }),
    el("td", { class: "message", title: v.error, text: v.error }),
    el("td", { class: "when", text: when(v.finished) }),
  );
}

function overallOf(availability) {
  if (typeof availability === "number") return availability;
  if (!availability || typeof availability !== "object") return null;
  return first(availability.overall_percent, availability.overall, availability.percent, null);
}

function statsLine(a) {
  if (!a || typeof a !== "object") return "";
  const parts = [];
  const days = Array.isArray(a.days) ? a.days.length : a.days;
  if (typeof days === "number") parts.push(`${days} days`);
  if (typeof a.days_with_data === "number") parts.push(`${a.days_with_data} with data`);
  if (typeof a.mean_percent === "number") parts.push(`mean ${percentText(a.mean_percent)}`);
  if (typeof a.min_percent === "number") parts.push(`min ${percentText(a.min_percent)}`);
  if (Array.isArray(a.below_threshold) && a.below_threshold.length) {
    parts.push(`${a.below_threshold.length} below ${first(a.threshold, 99)}%`);
  }
  return parts.join(" · ");
}

async function show() {
  const source = select.value;
  if (!source) return;
  hideError();
  const query = new URLSearchParams({ first: form.elements.first.value, last: form.elements.last.value });
  history.replaceState(null, "", `/backfill?${new URLSearchParams({ source, ...Object.fromEntries(query) })}`);
  try {
    const answer = await getJSON(`/api/backfill/${encodeURIComponent(source)}?${query}`);
    shownDays = (answer.days || []).map(dayView);
    fillBody($("days"), shownDays.map(dayRow));
    $("no-days").hidden = shownDays.length > 0;
    $("backfill-title").textContent = `${answer.source ?? source}, ${answer.first ?? ""} to ${answer.last ?? ""}`;
    $("availability-percent").textContent = percentText(overallOf(answer.availability));
    $("availability-stats").textContent = statsLine(answer.availability);
    drawAvailability(canvas, shownDays);
  } catch (err) {
    showError(err);
  }
}

async function init() {
  const wanted = new URLSearchParams(location.search);
  const today = new Date();
  form.elements.last.value = wanted.get("last") || isoDay(today);
  form.elements.first.value = wanted.get("first") || isoDay(new Date(today.getTime() - 29 * 86_400_000));
  drawAvailability(canvas, []);
  let sources = [];
  try {
    sources = (await getJSON("/api/backfill/sources")).sources || [];
  } catch (err) {
    showError(err);
  }
  select.replaceChildren(
    ...(sources.length ? sources.map((name) => el("option", { value: name, text: name })) : [el("option", { value: "", text: "no records sources" })]),
  );
  if (wanted.get("source") && sources.includes(wanted.get("source"))) select.value = wanted.get("source");
  await show();
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  show();
});
select.addEventListener("change", show);
window.addEventListener("resize", () => drawAvailability(canvas, shownDays));
init();
