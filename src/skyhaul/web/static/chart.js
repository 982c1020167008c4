// Hand-drawn charts on a <canvas>: a job's throughput over time and availability per day.
// Drawn at the screen's pixel density; colours come from the page's CSS variables.

import { speed } from "./format.js";

function css(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = `11px ${css("--font", "system-ui, sans-serif")}`;
  return { ctx, width, height };
}

// A round upper bound for an axis: 1, 2 or 5 times a power of ten (or of 1024 for bytes).
function niceMax(value, base) {
  if (!(value > 0)) return 1;
  const unit = base === 1024 ? 1024 ** Math.floor(Math.log(value) / Math.log(1024)) : 1;
  const scaled = value / unit;
  const power = 10 ** Math.floor(Math.log10(scaled));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= scaled) return step * power * unit;
  }
  return 10 * power * unit;
}

// A note in the middle of an empty plot, centred on (x, y).
function emptyText(ctx, x, y, text) {
  ctx.fillStyle = css("--muted", "#6b7280");
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, x, y);
}

// samples: [{t: epoch ms, v: bytes/s}], oldest first.
export function drawThroughput(canvas, samples, longestMs, now = Date.now()) {
  const { ctx, width, height } = prepare(canvas);
  // The window grows with the samples, from 30 s to its longest, so a new run fills it.
  const windowMs = Math.min(longestMs, Math.max(30_000, samples.length ? now - samples[0].t : 0));
  const left = 70;
  const right = 8;
  const top = 8;
  const bottom = 20;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const shown = samples.filter((s) => s.t >= now - windowMs);
  const empty = shown.length < 2;
  const max = niceMax(Math.max(0, ...shown.map((s) => s.v)), 1024);
  const x = (t) => left + plotW * (1 - (now - t) / windowMs);
  const y = (v) => top + plotH * (1 - v / max);

  ctx.strokeStyle = css("--grid", "#e5e7eb");
  ctx.fillStyle = css("--muted", "#6b7280");
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 4; i += 1) {
    const v = (max * i) / 4;
    const yy = Math.round(y(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, yy);
    ctx.lineTo(width - right, yy);
    ctx.stroke();
    if (!empty || i === 0) ctx.fillText(i === 0 ? "0" : speed(v), left - 6, yy);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const seconds = Math.round(windowMs / 1000);
  const step = seconds > 60 ? 30 : 10;
  for (let s = 0; s <= seconds; s += step) {
    ctx.textAlign = s === 0 ? "right" : "center";
    const label = s === 0 ? "now" : s % 60 === 0 ? `-${s / 60}m` : `-${s}s`;
    ctx.fillText(label, x(now - s * 1000), height - bottom + 5);
  }
  if (empty) {
    emptyText(ctx, left + plotW / 2, top + plotH / 2, shown.length ? "collecting…" : "no transfer running");
    return;
  }
  const accent = css("--accent", "#1f6feb");
  ctx.beginPath();
  ctx.moveTo(x(shown[0].t), y(0));
  for (const s of shown) ctx.lineTo(x(s.t), y(s.v));
  ctx.lineTo(x(shown[shown.length - 1].t), y(0));
  ctx.closePath();
  ctx.fillStyle = css("--accent-soft", "rgba(31, 111, 235, 0.15)");
  ctx.fill();
  ctx.beginPath();
  shown.forEach((s, i) => (i ? ctx.lineTo(x(s.t), y(s.v)) : ctx.moveTo(x(s.t), y(s.v))));
  ctx.strokeStyle = accent;
  ctx.lineWidth = 1.75;
  ctx.stroke();
  const last = shown[shown.length - 1];
  ctx.fillStyle = accent;
  ctx.beginPath();
  ctx.arc(x(last.t), y(last.v), 3, 0, 2 * Math.PI);
  ctx.fill();
}

// days: [{day: "YYYY-MM-DD", percent: number|null, kind: "ok"|"partial"|"failed"|"none"}]
export function drawAvailability(canvas, days, threshold = 99) {
  const { ctx, width, height } = prepare(canvas);
  const left = 40;
  const right = 8;
  const top = 10;
  const bottom = 22;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const y = (pct) => top + plotH * (1 - pct / 100);
  ctx.strokeStyle = css("--grid", "#e5e7eb");
  ctx.fillStyle = css("--muted", "#6b7280");
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const pct of [0, 25, 50, 75, 100]) {
    const yy = Math.round(y(pct)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, yy);
    ctx.lineTo(width - right, yy);
    ctx.stroke();
    ctx.fillText(`${pct}%`, left - 6, yy);
  }
  if (!days.length) {
    emptyText(ctx, left + plotW / 2, top + plotH / 2, "no days");
    return;
  }
  const slot = plotW / days.length;
  const gap = slot > 6 ? Math.min(3, slot * 0.2) : 0;
  const colours = {
    ok: css("--ok", "#1a7f37"),
    partial: css("--partial", "#d4a72c"),
    failed: css("--bad", "#c62828"),
    none: css("--none", "#d0d5dd"),
  };
  days.forEach((d, i) => {
    const x0 = left + i * slot + gap / 2;
    const w = Math.max(1, slot - gap);
    ctx.fillStyle = colours[d.kind] ?? colours.none;
    if (d.kind === "failed") {
      // A failed day has no percent; a faint full bar makes it stand out as a gap.
      ctx.globalAlpha = 0.18;
      ctx.fillRect(x0, y(100), w, plotH);
      ctx.globalAlpha = 1;
      ctx.fillRect(x0, top + plotH - 4, w, 4);
    } else if (d.percent === null || d.percent === undefined) {
      // No percent (not run, no data): a stub on the axis, not a bar that reads as 100%.
      ctx.fillRect(x0, top + plotH - 4, w, 4);
    } else {
      const h = Math.max(2, (plotH * Math.min(100, d.percent)) / 100);
      ctx.fillRect(x0, top + plotH - h, w, h);
    }
  });
  ctx.save();
  ctx.setLineDash([4, 3]);
  ctx.strokeStyle = css("--muted", "#6b7280");
  ctx.beginPath();
  ctx.moveTo(left, Math.round(y(threshold)) + 0.5);
  ctx.lineTo(width - right, Math.round(y(threshold)) + 0.5);
  ctx.stroke();
  ctx.restore();
  ctx.fillStyle = css("--muted", "#6b7280");
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const every = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(plotW / 70))));
  days.forEach((d, i) => {
    if (i % every === 0) ctx.fillText(d.day.slice(5), left + (i + 0.5) * slot, height - bottom + 6);
  });
}
