// glassnet universality: chapter 4's figures.  A step and a bump (computed here, sigma(w x + b)),
// the construction of a drawn f (POST /api/construct: a real glassnet Network on the server),
// what SGD learns with as many neurons (POST /api/learn, then GET /api/learn a few times a
// second) and the two-input towers (POST /api/towers).
"use strict";

const $ = (id) => document.getElementById(id);
const ACCENT = "#4338ca", GREY = "#98a2b3", INK = "#1d2433", ORANGE = "#d97706", LIGHT = "#e3e6ec";
const POLL_MS = 250;

const sigma = (z) => 1 / (1 + Math.exp(-Math.max(-700, Math.min(700, z))));
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const fmt = (v, digits = 3) => (v === null || v === undefined || !Number.isFinite(v)) ? "\u2013"
  : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : Number(v.toPrecision(digits)).toString();
const logSlider = (input) => Math.pow(10, Number(input.value));

const page = {
  defaults: null,
  f: null,                 // Float64Array(samples): f at linspace(0, 1, samples)
  f2: null,                // Float64Array(side * side): f(x_i, y_j) at i * side + j
  construction: null,      // the last /api/construct answer
  towers: null,            // the last /api/towers answer
  learn: null,             // the last /api/learn state
  step: { s1: 0.3, s2: 0.7, h: 0.6 },
};

// -- talking to the server ----------------------------------------------------------------------
function showMessage(text) {
  $("message").hidden = !text;
  $("message").textContent = text || "";
}

async function call(method, url, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (e) {
    showMessage("the server is not answering (was glassnet universality stopped?)");
    throw e;
  }
  const data = await response.json();
  if (!response.ok) {
    showMessage(data.error || `the server answered ${response.status}`);
    throw new Error(data.error);
  }
  showMessage(null);
  return data;
}

let inflight = 0;                   // construction requests on their way: body[data-busy]
function setBusy(change) {
  inflight += change;
  document.body.dataset.busy = String(inflight > 0);
}

/** One request in flight at a time; a change made meanwhile sends one more afterwards. */
function latest(send) {
  let busy = false, again = false;
  const run = async () => {
    if (busy) { again = true; return; }
    busy = true;
    setBusy(1);
    try { await send(); } catch (e) { /* shown by call() */ } finally {
      busy = false;
      setBusy(-1);
      if (again) { again = false; run(); }
    }
  };
  return run;
}

const rounded = (values) => Array.from(values, (v) => Math.round(v * 1e4) / 1e4);

// -- drawing ------------------------------------------------------------------------------------
/** A frame mapping data to the canvas's CSS pixels; with ``clear`` (the default) the canvas is
 * also sized to its box (in device pixels) and cleared, ready to draw on. */
function frame(canvas, xRange, yRange, { log = [false, false], margin = [10, 12, 22, 36], clear = true } = {}) {
  const box = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(box.width)), height = Math.max(1, Math.round(box.height));
  const ctx = canvas.getContext("2d");
  if (clear) {
    if (canvas.width !== width * dpr || canvas.height !== height * dpr) {
      canvas.width = width * dpr; canvas.height = height * dpr;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
  }
  const [top, right, bottom, left] = margin;
  const t = (v, [lo, hi], isLog) => isLog ? (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))
    : (v - lo) / (hi - lo);
  const f = {
    ctx, width, height, left, top, w: width - left - right, h: height - top - bottom,
    px: (x) => left + t(x, xRange, log[0]) * (width - left - right),
    py: (y) => top + (1 - t(y, yRange, log[1])) * (height - top - bottom),
    x: (px) => {
      const u = (px - left) / (width - left - right);
      return log[0] ? Math.pow(10, Math.log10(xRange[0]) + u * (Math.log10(xRange[1]) - Math.log10(xRange[0])))
        : xRange[0] + u * (xRange[1] - xRange[0]);
    },
    y: (py) => yRange[0] + (1 - (py - top) / (height - top - bottom)) * (yRange[1] - yRange[0]),
  };
  return f;
}

function axes(f, xTicks, yTicks, xLabel = (v) => fmt(v), yLabel = (v) => fmt(v)) {
  const { ctx } = f;
  ctx.save();
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#667085";
  ctx.strokeStyle = LIGHT;
  ctx.lineWidth = 1;
  for (const y of yTicks) {
    const py = Math.round(f.py(y)) + 0.5;
    ctx.beginPath(); ctx.moveTo(f.left, py); ctx.lineTo(f.left + f.w, py); ctx.stroke();
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    ctx.fillText(yLabel(y), f.left - 5, py);
  }
  for (const x of xTicks) {
    const px = Math.round(f.px(x)) + 0.5;
    ctx.beginPath(); ctx.moveTo(px, f.top); ctx.lineTo(px, f.top + f.h); ctx.stroke();
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    ctx.fillText(xLabel(x), px, f.top + f.h + 5);
  }
  ctx.restore();
}

function curve(f, xs, ys, { color = ACCENT, width = 2, dash = [], alpha = 1 } = {}) {
  const { ctx } = f;
  ctx.save();
  ctx.beginPath();
  ctx.rect(f.left, f.top - 2, f.w, f.h + 4);
  ctx.clip();
  ctx.strokeStyle = color; ctx.lineWidth = width; ctx.setLineDash(dash); ctx.globalAlpha = alpha;
  ctx.lineJoin = "round";
  ctx.beginPath();
  let started = false;
  for (let i = 0; i < xs.length; i++) {
    if (ys[i] === null || !Number.isFinite(ys[i])) { started = false; continue; }
    const px = f.px(xs[i]), py = f.py(ys[i]);
    if (started) ctx.lineTo(px, py); else { ctx.moveTo(px, py); started = true; }
  }
  ctx.stroke();
  ctx.restore();
}

const SUPERSCRIPT = { "-": "\u207b", 0: "\u2070", 1: "\u00b9", 2: "\u00b2", 3: "\u00b3", 4: "\u2074", 5: "\u2075" };
/** 1, 10, 100, 10^3, ... and 0.1, 0.01, 10^-3, ...: a power of ten written short. */
const pow10 = (v) => {
  const e = Math.round(Math.log10(v));
  return Math.abs(e) <= 2 ? String(Number(Math.pow(10, e).toPrecision(1)))
    : "10" + String(e).split("").map((c) => SUPERSCRIPT[c]).join("");
};
const grid = (n) => Array.from({ length: n }, (_, i) => i / (n - 1));
const TICKS01 = [0, 0.25, 0.5, 0.75, 1];

// -- 1. a step, then a bump ---------------------------------------------------------------------
function stepWeight() { return logSlider($("step-weight")); }

function drawStep() {
  const { s1, s2, h } = page.step, w = stepWeight();
  const f = frame($("step"), [0, 1], [-1.1, 1.1]);
  axes(f, TICKS01, [-1, -0.5, 0, 0.5, 1]);
  const xs = grid(601);
  curve(f, xs, xs.map((x) => sigma(w * (x - s1))), { color: GREY, width: 1.5 });
  curve(f, xs, xs.map((x) => sigma(w * (x - s2))), { color: GREY, width: 1.5, dash: [2, 3] });
  curve(f, xs, xs.map((x) => h * sigma(w * (x - s1)) - h * sigma(w * (x - s2))), { width: 3 });
  const { ctx } = f;
  for (const [s, name] of [[s1, "s\u2081"], [s2, "s\u2082"]]) {
    ctx.save(); ctx.strokeStyle = ORANGE; ctx.setLineDash([5, 4]); ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(f.px(s), f.top); ctx.lineTo(f.px(s), f.top + f.h); ctx.stroke();
    ctx.fillStyle = ORANGE; ctx.font = "bold 12px system-ui, sans-serif"; ctx.textAlign = "center";
    ctx.fillText(name, f.px(s), f.top + 10);
    ctx.restore();
  }
  ctx.fillStyle = ACCENT;                                   // the bump's top: drag it
  ctx.fillRect(f.px((s1 + s2) / 2) - 6, f.py(h) - 6, 12, 12);
  const b1 = -w * s1, b2 = -w * s2;
  $("n1-w").textContent = fmt(w); $("n1-b").textContent = fmt(b1); $("n1-s").textContent = (-b1 / w).toFixed(3);
  $("n2-w").textContent = fmt(w); $("n2-b").textContent = fmt(b2); $("n2-s").textContent = (-b2 / w).toFixed(3);
  $("n1-v").textContent = fmt(h); $("n2-v").textContent = fmt(-h);
  $("step-weight-out").textContent = `w = ${fmt(w)}`;
  $("bump-height-out").textContent = `h = ${fmt(h, 2)}`;
}

function stepDragging() {
  const canvas = $("step");
  let dragging = null;
  const where = (e) => {
    const f = frame(canvas, [0, 1], [-1.1, 1.1], { clear: false });
    const box = canvas.getBoundingClientRect();
    return { f, px: e.clientX - box.left, py: e.clientY - box.top };
  };
  canvas.addEventListener("pointerdown", (e) => {
    const { f, px, py } = where(e);
    const { s1, s2, h } = page.step;
    const onTop = Math.abs(py - f.py(h)) < 12 && Math.abs(px - f.px((s1 + s2) / 2)) < 24;
    dragging = onTop ? "h" : (Math.abs(px - f.px(s1)) <= Math.abs(px - f.px(s2)) ? "s1" : "s2");
    canvas.setPointerCapture(e.pointerId);
    move(e);
  });
  const move = (e) => {
    if (!dragging) return;
    const { f, px, py } = where(e);
    if (dragging === "h") {
      page.step.h = clamp(f.y(py), -1, 1);
      $("bump-height").value = page.step.h;
    } else {
      page.step[dragging] = clamp(f.x(px), 0, 1);
    }
    drawStep();
  };
  canvas.addEventListener("pointermove", move);
  const end = () => { dragging = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

// -- 2. draw f, see the construction ------------------------------------------------------------
const sendConstruct = latest(async () => {
  page.construction = await call("POST", "/api/construct", {
    f: rounded(page.f), bumps: Number($("bumps").value), weight: logSlider($("weight")),
    correction: $("correction").checked,
  });
  drawConstruction();
});

function drawF(f, xs) {
  curve(f, xs, Array.from(page.f), { color: GREY, width: 5, alpha: 0.7 });
}

function drawConstruction() {
  const c = page.construction;
  $("bumps-out").textContent = `N = ${$("bumps").value}`;
  $("weight-out").textContent = `w = ${fmt(logSlider($("weight")))}`;
  const f = frame($("draw"), [0, 1], [0, 1]);
  axes(f, TICKS01, TICKS01);
  drawF(f, grid(page.f.length));
  if (!c) return;
  const view = grid(c.output.length);
  curve(f, view, c.output, { width: 2 });
  $("hidden-count").textContent = c.hidden;
  $("err-max").textContent = fmt(c.error.max);
  $("err-mean").textContent = fmt(c.error.mean);
  drawWeighted(c, view);
  drawSeries($("vs-bumps"), c.error_vs_bumps.map((r) => r.bumps), c.error_vs_bumps, [1, 200], c.bumps);
  drawSeries($("vs-weight"), c.error_vs_weight.map((r) => r.weight), c.error_vs_weight, [1, 1e5], c.weight);
  drawProof();
}

function drawWeighted(c, view) {
  const values = c.inverse.concat(c.weighted).filter((v) => v !== null);
  const lo = Math.max(-10, Math.min(...values)), hi = Math.min(10, Math.max(...values));
  const pad = 0.08 * (hi - lo || 1);
  const f = frame($("weighted"), [0, 1], [lo - pad, hi + pad]);
  axes(f, TICKS01, [lo, (lo + hi) / 2, hi]);
  curve(f, view, c.inverse, { color: GREY, width: 4, alpha: 0.7 });
  curve(f, view, c.weighted, { width: 1.5 });
}

function drawSeries(canvas, xs, rows, xRange, current) {
  const f = frame(canvas, xRange, [1e-4, 1], { log: [true, true], margin: [10, 18, 22, 36] });
  const xTicks = xRange[1] > 1000 ? [1, 10, 100, 1e3, 1e4, 1e5] : [1, 10, 100];
  axes(f, xTicks, [1e-4, 1e-3, 1e-2, 0.1, 1], pow10, pow10);
  const floor = (v) => Math.max(v, 1e-4);
  curve(f, xs, rows.map((r) => floor(r.max)), { width: 2 });
  curve(f, xs, rows.map((r) => floor(r.mean)), { width: 2, dash: [5, 4] });
  f.ctx.strokeStyle = ORANGE; f.ctx.setLineDash([3, 3]);
  f.ctx.beginPath(); f.ctx.moveTo(f.px(current), f.top); f.ctx.lineTo(f.px(current), f.top + f.h); f.ctx.stroke();
}

function drawingF() {
  const canvas = $("draw");
  let last = null;
  const at = (e) => {
    const f = frame(canvas, [0, 1], [0, 1], { clear: false });
    const box = canvas.getBoundingClientRect();
    const n = page.f.length;
    return { i: Math.round(clamp(f.x(e.clientX - box.left), 0, 1) * (n - 1)),
             v: clamp(f.y(e.clientY - box.top), 0, 1) };
  };
  const paint = (e) => {
    const p = at(e);
    const from = last || p;
    const lo = Math.min(from.i, p.i), hi = Math.max(from.i, p.i);
    for (let i = lo; i <= hi; i++) {
      const t = hi === lo ? 1 : (i - from.i) / (p.i - from.i);
      page.f[i] = from.v + t * (p.v - from.v);
    }
    last = p;
    drawConstruction();
    sendConstruct();
  };
  canvas.addEventListener("pointerdown", (e) => { canvas.setPointerCapture(e.pointerId); last = null; paint(e); });
  canvas.addEventListener("pointermove", (e) => { if (last) paint(e); });
  const end = () => { last = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

// -- 3. what SGD learns -------------------------------------------------------------------------
const TICK_STRIP = 0.28;                     // the strip below y = 0 where hidden neurons are ticked

function ticks(f, steps, weights, outputWeights) {
  const { ctx } = f;
  const base = f.py(-0.02), full = f.py(-TICK_STRIP) - base;
  ctx.save();
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k], w = weights[k];
    if (s === null || w === null) continue;
    const outside = s < 0 || s > 1;
    const x = f.px(clamp(s, -0.015, 1.015));
    const length = clamp(Math.log10(1 + Math.abs(w)) / 5, 0.06, 1) * full;
    ctx.strokeStyle = outside ? ORANGE : (outputWeights[k] >= 0 ? ACCENT : INK);
    ctx.globalAlpha = 0.75; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(x, base); ctx.lineTo(x, base + length); ctx.stroke();
  }
  ctx.restore();
}

function outputPanel(canvas, output, hidden) {
  const f = frame(canvas, [0, 1], [-TICK_STRIP, 1]);
  axes(f, TICKS01, [0, 0.5, 1]);
  drawF(f, grid(page.f.length));
  if (output) curve(f, grid(output.length), output, { width: 2 });
  if (hidden) ticks(f, hidden.step, hidden.weight, hidden.output_weight);
}

function drawProof() {
  const c = page.construction;
  if (!c) return;
  const hidden = { step: c.steps, weight: c.steps.map(() => c.weight),
                   output_weight: c.steps.map((_, k) => (k % 2 ? -1 : 1) * c.heights[k >> 1]) };
  outputPanel($("proof"), c.output, hidden);
  $("proof-summary").textContent = `${c.hidden} hidden neurons, every w = ${fmt(c.weight)}, steps at k/${c.bumps}; ` +
    `error max ${fmt(c.error.max)}, mean ${fmt(c.error.mean)}`;
}

function learnedSummary(s) {
  const w = s.hidden.weight.filter((v) => v !== null).map(Math.abs);
  const outside = s.hidden.step.filter((v) => v === null || v < 0 || v > 1).length;
  return `epoch ${s.epoch}: |w| ${fmt(Math.min(...w), 2)}\u2013${fmt(Math.max(...w), 2)}, ${outside} of ` +
    `${s.hidden.step.length} steps outside [0, 1]; error max ${fmt(s.error.max)}, mean ${fmt(s.error.mean)}`;
}

function drawLearned() {
  const s = page.learn;
  if (!s || s.inputs !== 1 || !s.output) return;
  outputPanel($("learned"), s.output, s.hidden);
  $("learned-summary").textContent = learnedSummary(s);
  const f = frame($("learn-curve"), [0, Math.max(1, s.epochs)], [1e-3, 1],
                  { log: [false, true], margin: [10, 28, 22, 36] });
  const xt = [0, 0.25, 0.5, 0.75, 1].map((t) => Math.round(t * s.epochs));
  axes(f, xt, [1e-3, 1e-2, 0.1, 1], (v) => v.toLocaleString("en"), pow10);
  const xs = s.history.map((p) => p.epoch);
  curve(f, xs, s.history.map((p) => Math.max(p.max, 1e-3)), { width: 2 });
  curve(f, xs, s.history.map((p) => Math.max(p.mean, 1e-3)), { width: 2, dash: [5, 4] });
  const c = page.construction;
  if (c) {
    for (const [v, dash] of [[c.error.max, []], [c.error.mean, [5, 4]]]) {
      curve(f, [0, s.epochs], [Math.max(v, 1e-3), Math.max(v, 1e-3)], { color: GREY, width: 1.5, dash });
    }
  }
}

function showLearnState(s) {
  const [state, epoch, learn, stop] = s.inputs === 2 ? ["learn2-state", "learn2-epoch", "learn2", "stop2"]
    : ["learn-state", "learn-epoch", "learn", "stop"];
  document.body.dataset.learn = s.state;
  $(state).textContent = s.state === "time" ? "time's up" : s.state;
  $(state).dataset.state = s.state;
  $(state).title = s.message || "";
  if (s.message) showMessage(s.message);
  $(epoch).textContent = s.epoch !== undefined ? `epoch ${s.epoch.toLocaleString("en")} of ` +
    `${s.epochs.toLocaleString("en")} \u00b7 ${fmt(s.seconds, 2)} s \u00b7 cost ${fmt(s.cost)}` : "";
  const running = s.state === "running";
  for (const id of ["learn", "learn2"]) $(id).disabled = running;
  $(stop).disabled = !running;
  if (!running) for (const id of ["stop", "stop2"]) $(id).disabled = true;
  if (learn) $(learn).dataset.run = s.run;
}

async function poll() {
  const s = await call("GET", "/api/learn").catch(() => null);
  if (!s) return;
  page.learn = s;
  showLearnState(s);
  if (s.inputs === 1) drawLearned(); else if (s.inputs === 2) drawLearned2();
  if (s.state === "running") setTimeout(poll, POLL_MS);
}

async function startLearning(inputs) {
  const [epochs, eta] = (inputs === 1 ? ["epochs", "eta"] : ["epochs2", "eta2"]).map((id) => Number($(id).value));
  const body = inputs === 1
    ? { inputs, f: rounded(page.f), bumps: Number($("bumps").value), epochs, eta }
    : { inputs, f: rounded(page.f2), bumps: Number($("towers").value), method: $("method").value, epochs, eta };
  try {
    page.learn = await call("POST", "/api/learn", body);
  } catch (e) { return; }
  showLearnState(page.learn);
  setTimeout(poll, POLL_MS);
}

async function stopLearning() {
  const s = await call("POST", "/api/learn/stop").catch(() => null);
  if (s) { page.learn = s; showLearnState(s); }
}

// -- 4. two inputs: towers ----------------------------------------------------------------------
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];     // viridis

function colour(v) {
  const t = clamp(v, 0, 1) * (RAMP.length - 1), i = Math.min(RAMP.length - 2, Math.floor(t)), u = t - i;
  return RAMP[i].map((c, k) => Math.round(c + u * (RAMP[i + 1][k] - c)));
}

/** values[i * side + j] = f(x_i, y_j), drawn with x to the right and y up. */
function heatmap(canvas, values, side) {
  const box = canvas.getBoundingClientRect();
  const size = Math.max(1, Math.round(box.width));
  const image = new ImageData(side, side);
  for (let i = 0; i < side; i++) {
    for (let j = 0; j < side; j++) {
      const [r, g, b] = colour(values[i * side + j] ?? 0);
      const p = 4 * ((side - 1 - j) * side + i);
      image.data[p] = r; image.data[p + 1] = g; image.data[p + 2] = b; image.data[p + 3] = 255;
    }
  }
  const small = document.createElement("canvas");
  small.width = side; small.height = side;
  small.getContext("2d").putImageData(image, 0, 0);
  canvas.width = size; canvas.height = size;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, size, size);
}

const sendTowers = latest(async () => {
  page.towers = await call("POST", "/api/towers", {
    f: rounded(page.f2), bumps: Number($("towers").value), weight: logSlider($("weight2")),
    method: $("method").value, correction: $("correction2").checked,
  });
  drawTowers();
});

function drawTowers() {
  const side = Math.round(Math.sqrt(page.f2.length));
  heatmap($("target2"), page.f2, side);
  $("towers-out").textContent = `N = ${$("towers").value}`;
  $("weight2-out").textContent = `w = ${fmt(logSlider($("weight2")))}`;
  $("brush-out").textContent = `${Number($("brush").value).toFixed(2)}`;
  const t = page.towers;
  if (!t) return;
  heatmap($("output2"), t.output, t.side);
  $("sizes2").textContent = `${t.sizes.join("\u2013")}, ${t.hidden} hidden neurons`;
  $("err2-max").textContent = fmt(t.error.max);
  $("err2-mean").textContent = fmt(t.error.mean);
}

function drawLearned2() {
  const s = page.learn;
  if (!s || s.inputs !== 2 || !s.output) return;
  heatmap($("learned2"), s.output, Math.round(Math.sqrt(s.output.length)));
  $("learned2-summary").textContent = `${s.sizes.join("\u2013")}, epoch ${s.epoch}: error max ${fmt(s.error.max)}, ` +
    `mean ${fmt(s.error.mean)}`;
}

function painting() {
  const canvas = $("target2");
  let down = false;
  const paint = (e) => {
    const box = canvas.getBoundingClientRect();
    const x = clamp((e.clientX - box.left) / box.width, 0, 1), y = clamp(1 - (e.clientY - box.top) / box.height, 0, 1);
    const side = Math.round(Math.sqrt(page.f2.length)), height = Number($("brush").value), radius = 0.12;
    for (let i = 0; i < side; i++) {
      for (let j = 0; j < side; j++) {
        const d = Math.hypot(i / (side - 1) - x, j / (side - 1) - y);
        const k = clamp(1 - d / radius, 0, 1);
        page.f2[i * side + j] += k * (height - page.f2[i * side + j]);
      }
    }
    drawTowers();
    sendTowers();
  };
  canvas.addEventListener("pointerdown", (e) => { down = true; canvas.setPointerCapture(e.pointerId); paint(e); });
  canvas.addEventListener("pointermove", (e) => { if (down) paint(e); });
  const end = () => { down = false; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

// -- wiring -------------------------------------------------------------------------------------
function showView(view) {
  document.body.dataset.view = view;
  $("view-one").hidden = view !== "one";
  $("view-two").hidden = view !== "two";
  $("tab-one").setAttribute("aria-pressed", String(view === "one"));
  $("tab-two").setAttribute("aria-pressed", String(view === "two"));
  redraw();
  if (view === "two" && !page.towers) sendTowers();
}

function redraw() {
  if (!page.f) return;
  drawStep();
  drawConstruction();
  drawLearned();
  if (!$("view-two").hidden) { drawTowers(); drawLearned2(); }
}

function wire() {
  $("tab-one").addEventListener("click", () => showView("one"));
  $("tab-two").addEventListener("click", () => showView("two"));
  $("step-weight").addEventListener("input", drawStep);
  $("bump-height").addEventListener("input", () => { page.step.h = Number($("bump-height").value); drawStep(); });
  for (const id of ["bumps", "weight", "correction"]) {
    $(id).addEventListener("input", () => { drawConstruction(); sendConstruct(); });
  }
  $("book-f").addEventListener("click", () => { page.f = Float64Array.from(page.defaults.f); sendConstruct(); });
  $("learn").addEventListener("click", () => startLearning(1));
  $("learn2").addEventListener("click", () => startLearning(2));
  $("stop").addEventListener("click", stopLearning);
  $("stop2").addEventListener("click", stopLearning);
  for (const id of ["towers", "weight2", "method", "correction2"]) {
    $(id).addEventListener("input", () => { drawTowers(); sendTowers(); });
  }
  $("brush").addEventListener("input", drawTowers);
  $("book-f2").addEventListener("click", () => { page.f2 = Float64Array.from(page.defaults.f2); sendTowers(); });
  stepDragging();
  drawingF();
  painting();
  let pending = 0;
  window.addEventListener("resize", () => { cancelAnimationFrame(pending); pending = requestAnimationFrame(redraw); });
}

async function start() {
  wire();
  try {
    page.defaults = await call("GET", "/api/defaults");
  } catch (e) { return; }
  const d = page.defaults;
  page.f = Float64Array.from(d.f);
  page.f2 = Float64Array.from(d.f2);
  $("bumps").max = d.limits.max_bumps; $("bumps").value = d.bumps;
  $("weight").value = Math.log10(d.weight); $("weight2").value = Math.log10(d.weight);
  $("towers").max = d.limits.max_towers; $("towers").value = d.towers;
  for (const id of ["epochs", "epochs2"]) $(id).max = d.limits.max_epochs;
  for (const id of ["eta", "eta2"]) $(id).max = d.limits.max_eta;
  drawStep();
  drawConstruction();
  sendConstruct();
  const s = await call("GET", "/api/learn").catch(() => null);     // a run started by another tab
  if (s && s.state !== "idle") { page.learn = s; showLearnState(s); if (s.state === "running") poll(); else redraw(); }
}

start();
