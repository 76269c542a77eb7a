// glassnet train --watch: the run's curves, first-layer weights, per-digit accuracy and speed of
// learning, redrawn as the server's events arrive (Server-Sent Events on /events).  The same page
// shows a run that is over: the one train --watch keeps up after training (meta.keep) and a saved
// model's (glassnet watch MODEL: meta.saved); its Close button then ends the server.
"use strict";

const COLORS = { training: "#98a2b3", validation: "#d97706", test: "#4338ca" };
const LAYER_COLORS = ["#4338ca", "#0e9384", "#d97706", "#c11574", "#2e90fa", "#7a5af8", "#667085"];
const FINAL = new Set(["finished", "stopped", "interrupted", "failed"]);

const el = (id) => document.getElementById(id);
const run = { meta: null, records: [], measures: [], filters: null, progress: null, status: null, closed: false };
let dirty = { curves: true, filters: true, classes: true, speed: true, bar: true };
let source = null;
let frame = 0;

// -- the stream ---------------------------------------------------------------------------------
// Each stream ends after a while with an "again" event: the browser comes back at once with the
// last event's id (Last-Event-ID) and the server goes on from there -- no message for that.
let again = false, lost = false;
function connect() {
  source = new EventSource("/events");
  source.addEventListener("update", (e) => { again = false; apply(JSON.parse(e.data)); });
  source.addEventListener("again", () => { again = true; });
  source.onerror = () => {
    if (run.status && FINAL.has(run.status.state)) { source.close(); return; }
    if (source.readyState === EventSource.CLOSED) {   // refused (e.g. too many pages): try later
      setTimeout(connect, 3000);
    } else if (again) {
      return;
    }
    showMessage("lost the connection to the training process; retrying\u2026");
    lost = true;
  };
  source.onopen = () => { again = false; if (lost) { lost = false; showMessage(null); } };
}

function apply(m) {
  if (m.reset) {
    Object.assign(run, { records: [], measures: [], filters: null, progress: null });
    showMessage(null);
  }
  if (m.meta) { run.meta = m.meta; describeRun(m.meta); buildLegends(m.meta); }
  if (m.records) { run.records.push(...m.records); dirty.curves = true; dirty.bar = true; }
  if (m.measures) { run.measures.push(...m.measures); dirty.classes = true; dirty.speed = true; }
  if (m.filters) { run.filters = m.filters; dirty.filters = true; }
  if (m.progress) { run.progress = m.progress; dirty.bar = true; }
  if (m.status) {
    run.status = m.status; dirty.bar = true;
    if (FINAL.has(m.status.state)) source.close();
  }
  if (!frame) frame = requestAnimationFrame(draw);
}

function draw() {
  frame = 0;
  if (dirty.bar) drawBar();
  if (dirty.curves) drawCurves();
  if (dirty.filters) drawFilters();
  if (dirty.classes) drawClasses();
  if (dirty.speed) drawSpeed();
  dirty = { curves: false, filters: false, classes: false, speed: false, bar: false };
}

function redrawAll() {
  dirty = { curves: true, filters: true, classes: true, speed: true, bar: true };
  if (!frame) frame = requestAnimationFrame(draw);
}

// -- header, status and buttons -----------------------------------------------------------------
function describeRun(meta) {
  const parts = [meta.architecture || meta.sizes.join("-")];
  if (meta.saved) {
    parts.unshift(`saved run ${meta.source || ""}`.trim());
    document.querySelector(".tagline").textContent = "A saved network's run: how it learned.";
    el("curves-note").textContent = "This run did not measure the training set (glassnet train " +
      "--monitor-training 10000 does).";
  }
  if (meta.dataset) parts.push(`on ${meta.dataset}`);
  if (meta.description) parts.push(meta.description);
  el("run").textContent = parts.join(" \u00b7 ");
  const shown = meta.filters_shown, total = meta.filters_total;
  const shape = meta.image_shape.slice(-2).join("\u00d7");
  const which = shown === total ? `All ${total}` : `The first ${shown} of ${total}`;
  el("filters-caption").textContent = meta.first_layer === "conv"
    ? `${which} filters of the convolutional first layer, each a ${shape} kernel slid over the whole ` +
      "image (the mean over its input channels): red weights excite the filter, blue ones inhibit it " +
      "(each tile scaled to its own largest weight)."
    : `${which} hidden neurons' incoming weights, each drawn as a ${shape} image of the input: red pixels ` +
      "excite the neuron, blue ones inhibit it (each tile scaled to its own largest weight).";
  const digits = !meta.dataset || ["mnist", "digits"].includes(meta.dataset);
  el("classes-title").textContent = `Accuracy on each ${digits ? "digit" : "class"}`;
  if (meta.test_name) {
    el("classes-caption").textContent = `Accuracy on each class of the ${meta.test_name} data, one row per ` +
      `class, one column per epoch (the first: before training): which ${digits ? "digit" : "class"} is ` +
      "learned when.";
  }
  if (meta.saved) {
    el("classes-caption").textContent = meta.test_name
      ? `Accuracy on each class of the ${meta.test_name} data, measured on the saved weights (the file keeps ` +
        "no weights of earlier epochs)."
      : "The data the network was trained on could not be loaded, so nothing was measured.";
  }
  if (meta.gradient_sample) {
    el("speed-caption").textContent = "The length of the gradient of the cost with respect to each layer's " +
      `biases, ||\u03b4\u02e1||, averaged over ${meta.gradient_sample} training images (logarithmic scale)` +
      (meta.saved ? ", measured on the saved weights: one point per layer." : ".");
  }
}

function drawBar() {
  const state = run.status ? run.status.state : "connecting";
  document.body.dataset.state = state;
  const saved = !!(run.meta && run.meta.saved);
  el("state").textContent = saved ? `saved \u00b7 ${state}` : state;
  const final = FINAL.has(state);
  const pause = el("pause");
  pause.textContent = state === "paused" ? "Resume" : "Pause";
  pause.disabled = final || state === "stopping" || state === "loading" || state === "connecting";
  const closable = final && !!(run.meta && (run.meta.keep || saved));     // the server waits for Close
  pause.hidden = saved || closable;
  const stop = el("stop");
  stop.textContent = closable ? "Close" : "Stop";
  stop.disabled = run.closed || (final && !closable) || state === "stopping" || state === "connecting";
  const done = run.records.length;
  const planned = run.meta && run.meta.epochs;
  let text = planned ? `${done} of ${planned} epochs done` : `${done} epochs done`;
  let fraction = 0;
  if (run.progress && !final) {
    const p = run.progress;
    fraction = p.total ? p.done / p.total : 0;
    text += ` \u00b7 epoch ${p.epoch}: ${Math.round(100 * fraction)}%`;
  } else if (final) {
    fraction = 1;
  }
  el("epoch").textContent = text;
  el("progress-fill").style.width = `${(100 * fraction).toFixed(1)}%`;
  const last = run.records[run.records.length - 1];
  const acc = last && (last.accuracy ?? last.validation_accuracy);
  el("accuracy").textContent = acc == null ? "" : `${last.accuracy != null ? "test" : "validation"} accuracy ` +
    `${(100 * acc).toFixed(2)}%`;
  if (run.status && run.status.message) showMessage(run.status.message, saved);
  else if (run.closed) showMessage("Closed: the server has stopped; this page keeps what it shows.", true);
  else if (closable) showMessage(saved ? "Close (or Ctrl-C in the terminal) stops the server." :
    "Training is over; this page stays up until you press Close or Ctrl-C in the terminal.", true);
  else if (final && run.meta) showMessage("The training process has ended; this page keeps what it shows.", true);
}

function showMessage(text, info) {
  const m = el("message");
  m.hidden = !text;
  m.textContent = text || "";
  m.classList.toggle("info", !!info);
}

async function control(action) {
  try {
    const r = await fetch("/api/control", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ action }),
    });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    run.status = body; dirty.bar = true;
    if (action === "close") run.closed = true;
    if (!frame) frame = requestAnimationFrame(draw);
  } catch (e) {
    showMessage(`could not ${action}: ${e.message}`);
  }
}

el("pause").addEventListener("click", () => control(run.status && run.status.state === "paused" ? "resume" : "pause"));
el("stop").addEventListener("click", () => control(el("stop").textContent === "Close" ? "close" : "stop"));

// -- charts -------------------------------------------------------------------------------------
function legendItem(name, color, dashed) {
  const li = document.createElement("li");
  const sw = document.createElement("span");
  sw.className = dashed ? "swatch dashed" : "swatch";
  sw.style.background = color;
  sw.style.borderColor = color;
  li.append(sw, document.createTextNode(name));
  return li;
}

function curvesLegend() {
  const first = run.records[0] || {};
  const has = { training: "training_accuracy", validation: "validation_accuracy", test: "accuracy" };
  const names = Object.keys(has).filter((name) => first[has[name]] != null);
  const legend = el("curves-legend");
  if (legend.dataset.names === names.join()) return;
  legend.dataset.names = names.join();
  legend.textContent = "";
  for (const name of names) legend.append(legendItem(name, COLORS[name], name === "training"));
}

function buildLegends(meta) {
  const speed = el("speed-legend");
  speed.textContent = "";
  meta.layers.forEach((name, l) => speed.append(legendItem(name, LAYER_COLORS[l % LAYER_COLORS.length])));
}

function sizeCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const h = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
  return { ctx, w: canvas.clientWidth, h: canvas.clientHeight };
}

function niceTicks(lo, hi, count) {
  const span = hi - lo || 1;
  const step0 = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => span / s <= count) || 10 * mag;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

// series: [{color, dashed, points: [[x, y], ...]}]; opts: {log, yFormat, xMax, yMin, yMax, empty}
function lineChart(canvas, series, opts) {
  const { ctx, w, h } = sizeCanvas(canvas);
  const pad = { left: 46, right: 10, top: 8, bottom: 24 };
  const pts = series.flatMap((s) => s.points).filter((p) => p[1] != null && (!opts.log || p[1] > 0));
  canvas.dataset.points = String(pts.length);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#667085";
  if (!pts.length) {
    ctx.textAlign = "center";
    ctx.fillText(opts.empty || "waiting for the first epoch\u2026", w / 2, h / 2);
    return;
  }
  const f = opts.log ? Math.log10 : (v) => v;
  const ys = pts.map((p) => f(p[1]));
  let yLo = opts.yMin ?? Math.min(...ys), yHi = opts.yMax ?? Math.max(...ys);
  if (opts.log) { yLo = Math.floor(yLo); yHi = Math.ceil(yHi); }
  if (yHi - yLo < 1e-9) { yLo -= 0.5; yHi += 0.5; }
  const xHi = Math.max(1, opts.xMax ?? Math.max(...pts.map((p) => p[0])));
  const X = (x) => pad.left + (w - pad.left - pad.right) * (x / xHi);
  const Y = (y) => pad.top + (h - pad.top - pad.bottom) * (1 - (f(y) - yLo) / (yHi - yLo));
  drawAxes(ctx, { w, h, pad, xHi, yLo, yHi, opts, X });
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.8;
    ctx.setLineDash(s.dashed ? [5, 4] : []);
    ctx.beginPath();
    let pen = false;
    for (const [x, y] of s.points) {
      if (y == null || (opts.log && y <= 0)) { pen = false; continue; }
      if (pen) ctx.lineTo(X(x), Y(y)); else ctx.moveTo(X(x), Y(y));
      pen = true;
    }
    ctx.stroke();
    if (s.points.length === 1 && s.points[0][1] != null) {
      ctx.fillStyle = s.color;
      ctx.beginPath(); ctx.arc(X(s.points[0][0]), Y(s.points[0][1]), 2.5, 0, 2 * Math.PI); ctx.fill();
    }
  }
  ctx.setLineDash([]);
}

function drawAxes(ctx, { w, h, pad, xHi, yLo, yHi, opts, X }) {
  ctx.strokeStyle = "#e3e6ec";
  ctx.lineWidth = 1;
  ctx.fillStyle = "#667085";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const yTicks = opts.log ? range(yLo, yHi) : niceTicks(yLo, yHi, 4);
  for (const t of yTicks) {
    const y = pad.top + (h - pad.top - pad.bottom) * (1 - (t - yLo) / (yHi - yLo));
    ctx.beginPath(); ctx.moveTo(pad.left, y); ctx.lineTo(w - pad.right, y); ctx.stroke();
    ctx.fillText(opts.log ? `1e${t}` : (opts.yFormat || String)(t), pad.left - 5, y);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of niceTicks(0, xHi, 5).filter((t) => Number.isInteger(t))) {
    ctx.fillText(String(t), X(t), h - pad.bottom + 6);
  }
}

function range(lo, hi) { const r = []; for (let i = lo; i <= hi; i++) r.push(i); return r; }

function drawCurves() {
  const recs = run.records;
  const series = (key) => recs.map((r) => [r.epoch + 1, r[key] ?? null]);
  const pick = (suffix, testKey) => ["training", "validation", "test"].map((name) => ({
    color: COLORS[name], dashed: name === "training",
    points: series(name === "test" ? testKey : `${name}_${suffix}`),
  }));
  const xMax = run.meta ? Math.min(run.meta.epochs || 0, Math.max(recs.length + 1, 5)) : undefined;
  lineChart(el("accuracy-chart"), pick("accuracy", "accuracy"),
            { xMax, yFormat: (v) => `${Math.round(100 * v)}%` });
  lineChart(el("cost-chart"), pick("cost", "test_cost"), { xMax, yMin: 0 });
  el("curves-note").hidden = !(recs.length && recs[0].training_accuracy == null);
  curvesLegend();
}

function drawSpeed() {
  const meta = run.meta;
  if (!meta) return;
  const series = meta.layers.map((name, l) => ({
    color: LAYER_COLORS[l % LAYER_COLORS.length],
    points: run.measures.filter((m) => m.gradient_norms).map((m) => [m.epoch + 1, m.gradient_norms[l]]),
  }));
  const last = run.measures.length ? run.measures[run.measures.length - 1].epoch + 1 : 0;
  lineChart(el("speed"), series, { log: true, xMax: Math.max(run.records.length, last, 1),
                                   empty: "measured after each epoch\u2026" });
}

// -- per-class accuracy: a heat map, one row per class, one column per epoch ---------------------------
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];   // viridis

function ramp(v) {
  const t = Math.min(1, Math.max(0, v)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(t)), u = t - i;
  const c = RAMP[i].map((a, k) => Math.round(a + (RAMP[i + 1][k] - a) * u));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function drawClasses() {
  const canvas = el("classes");
  const { ctx, w, h } = sizeCanvas(canvas);
  const cols = run.measures.filter((m) => m.per_class);
  canvas.dataset.columns = String(cols.length);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#667085";
  if (!run.meta || !cols.length) {
    ctx.textAlign = "center";
    ctx.fillText(run.meta && run.meta.saved ? "not measured" : "measured after each epoch\u2026", w / 2, h / 2);
    return;
  }
  if (run.meta.saved) { drawClassBars(ctx, w, h, cols[cols.length - 1].per_class); return; }
  const n = run.meta.classes;
  const pad = { left: 22, right: 44, top: 4, bottom: 22 };
  const xHi = Math.max(cols[cols.length - 1].epoch + 2, run.records.length + 1,
                      Math.min(run.meta.epochs || 1, 10) + 1);
  const cw = (w - pad.left - pad.right) / xHi, ch = (h - pad.top - pad.bottom) / n;
  cols.forEach((m, k) => {           // an epoch not measured (a dropped frame) shows the one before
    const next = k + 1 < cols.length ? cols[k + 1].epoch : Math.max(m.epoch + 1, run.records.length);
    const x = pad.left + (m.epoch + 1) * cw, width = Math.max((next - m.epoch) * cw, 1) + 0.5;
    m.per_class.forEach((a, c) => {
      ctx.fillStyle = a == null ? "#f1f2f6" : ramp(a);
      ctx.fillRect(x, pad.top + c * ch, width, ch - 1);
    });
  });
  const last = cols[cols.length - 1].per_class;
  ctx.textBaseline = "middle";
  for (let c = 0; c < n; c++) {
    const y = pad.top + (c + 0.5) * ch;
    ctx.fillStyle = "#1d2433"; ctx.textAlign = "right";
    ctx.fillText(String(c), pad.left - 6, y);
    ctx.fillStyle = "#667085"; ctx.textAlign = "left";
    ctx.fillText(last[c] == null ? "\u2013" : `${(100 * last[c]).toFixed(1)}%`, w - pad.right + 5, y);
  }
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const t of niceTicks(0, xHi - 1, 5).filter((t) => Number.isInteger(t))) {
    ctx.fillText(String(t), pad.left + (t + 0.5) * cw, h - pad.bottom + 6);
  }
}

// a saved run: one measurement of the saved weights, a bar per class
function drawClassBars(ctx, w, h, perClass) {
  const n = perClass.length;
  const pad = { left: 22, right: 50, top: 4, bottom: 4 };
  const bh = (h - pad.top - pad.bottom) / n, span = w - pad.left - pad.right;
  ctx.textBaseline = "middle";
  perClass.forEach((a, c) => {
    const y = pad.top + c * bh;
    ctx.fillStyle = "#f1f2f6";
    ctx.fillRect(pad.left, y, span, bh - 2);
    if (a != null) { ctx.fillStyle = ramp(a); ctx.fillRect(pad.left, y, span * a, bh - 2); }
    ctx.fillStyle = "#1d2433"; ctx.textAlign = "right";
    ctx.fillText(String(c), pad.left - 6, y + bh / 2);
    ctx.fillStyle = "#667085"; ctx.textAlign = "left";
    ctx.fillText(a == null ? "\u2013" : `${(100 * a).toFixed(1)}%`, w - pad.right + 5, y + bh / 2);
  });
}

// -- the first layer's weights as images ----------------------------------------------------------
function decodeFilters(f) {
  const bytes = atob(f.data);
  const q = new Int8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) q[i] = bytes.charCodeAt(i) << 24 >> 24;
  return q;
}

function drawFilters() {
  const f = run.filters;
  const canvas = el("filters");
  if (!f) return;
  const shape = f.shape;
  const h = shape[shape.length - 2], w = shape[shape.length - 1];
  const channels = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const zoom = Math.max(1, Math.floor(16 / Math.max(h, w)));    // small kernels: weights as blocks, thin gaps
  const tileW = (channels * w + (channels - 1)) * zoom, tileH = h * zoom;   // channels side by side
  const cols = Math.ceil(Math.sqrt(f.count * tileH / tileW)), rows = Math.ceil(f.count / cols);
  const width = cols * (tileW + 1) + 1, height = rows * (tileH + 1) + 1;
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(canvas.width, canvas.height);
  img.data.fill(255);
  const q = decodeFilters(f), size = channels * h * w;
  for (let k = 0; k < f.count; k++) {
    const x0 = 1 + (k % cols) * (tileW + 1), y0 = 1 + Math.floor(k / cols) * (tileH + 1);
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < h * zoom; i++) {
        for (let j = 0; j < w * zoom; j++) {
          const v = q[k * size + c * h * w + Math.floor(i / zoom) * w + Math.floor(j / zoom)] / 127;
          const at = 4 * ((y0 + i) * canvas.width + x0 + c * (w + 1) * zoom + j);
          const rgb = v >= 0 ? [255 - 35 * v, 255 - 217 * v, 255 - 217 * v] : [255 + 218 * v, 255 + 156 * v, 255 + 20 * v];
          img.data[at] = rgb[0]; img.data[at + 1] = rgb[1]; img.data[at + 2] = rgb[2];
        }
      }
    }
  }
  for (let i = 0; i < img.data.length; i += 4) {       // the gaps between tiles: a light line
    const x = (i / 4) % canvas.width, y = Math.floor(i / 4 / canvas.width);
    if ((x % (tileW + 1)) === 0 || (y % (tileH + 1)) === 0) { img.data[i] = img.data[i + 1] = img.data[i + 2] = 214; }
  }
  ctx.putImageData(img, 0, 0);
  canvas.dataset.epoch = String(f.epoch);
  canvas.dataset.fraction = String(f.fraction);
  canvas.dataset.count = String(f.count);
}

new ResizeObserver(() => redrawAll()).observe(document.querySelector("main"));
connect();
