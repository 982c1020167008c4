// How numbers read on a page. The same text as the server's first paint
// (skyhaul/web/formats.py): change both together.

export const UNKNOWN = "\u2013";
const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

export function size(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return UNKNOWN;
  if (n < 1024) return `${Math.trunc(n)} B`;
  let value = n / 1024;
  let index = 0;
  while (value >= 1023.95 && index < UNITS.length - 1) {
    value /= 1024;
    index += 1;
  }
  return `${value.toFixed(1)} ${UNITS[index]}`;
}

export function speed(n) {
  const text = size(n);
  return text === UNKNOWN ? text : `${text}/s`;
}

const pad = (n) => String(n).padStart(2, "0");

export function duration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return UNKNOWN;
  const total = Math.round(seconds);
  if (total < 60) return `${total}s`;
  let minutes = Math.floor(total / 60);
  const secs = total % 60;
  if (minutes < 60) return `${minutes}m ${pad(secs)}s`;
  let hours = Math.floor(minutes / 60);
  minutes %= 60;
  if (hours < 24) return `${hours}h ${pad(minutes)}m`;
  const days = Math.floor(hours / 24);
  hours %= 24;
  return `${days}d ${pad(hours)}h`;
}

export function when(iso) {
  if (typeof iso !== "string" || !iso) return UNKNOWN;
  return iso.replace("T", " ").slice(0, 19);
}

export function jobPercent(job) {
  if (job.state === "succeeded") return 100;
  const p = job.progress || {};
  let done = p.bytes_done || 0;
  let total = p.bytes_total;
  if (!total) {
    done = p.files_done || 0;
    total = p.files_total;
  }
  if (!total) return 0;
  return Math.max(0, Math.min(100, Math.floor((100 * done) / total)));
}

const PARAMS_WIDTH = 90;

export function params(values) {
  if (!values || typeof values !== "object") return "";
  const parts = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === null || value === "" || value === false) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    if (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0) continue;
    let text;
    if (Array.isArray(value)) {
      text = value.slice(0, 3).map(String).join(", ") + (value.length > 3 ? ` +${value.length - 3}` : "");
    } else if (typeof value === "object") {
      text = "{\u2026}";
    } else {
      text = String(value);
    }
    parts.push(value === true ? key : `${key}: ${text}`);
  }
  const line = parts.join(" \u00b7 ");
  return line.length <= PARAMS_WIDTH ? line : line.slice(0, PARAMS_WIDTH - 1) + "\u2026";
}

export function percentText(value) {
  return typeof value === "number" && Number.isFinite(value) ? `${value.toFixed(1)}%` : UNKNOWN;
}

export function summaryValue(value, key) {
  if (value === null || value === undefined) return UNKNOWN;
  if (typeof value === "number") {
    if (key.includes("bytes")) return size(value);
    if (key.includes("seconds")) return duration(value);
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
