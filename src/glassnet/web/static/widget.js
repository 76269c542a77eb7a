// glassnet's live view inside a notebook (glassnet.web.widget, an anywidget): the live page's
// learning curves, first-layer weights, accuracy on each class and speed of learning, drawn from
// the widget's traitlets -- meta, records, measures, filters, progress, status: what the live
// page's stream carried so far (glassnet.web.watch.Watch.updates) -- and redrawn when one
// changes.  Plain JS and canvas, no imports: the notebook's widget manager loads this one file.
// The drawing follows static/watch.js (the page of glassnet train --watch).

const COLORS = { training: "#98a2b3", validation: "#d97706", test: "#4338ca" };
const LAYER_COLORS = ["#4338ca", "#0e9384", "#d97706", "#c11574", "#2e90fa", "#7a5af8", "#667085"];
const FINAL = new Set(["finished", "stopped", "interrupted", "failed"]);
const KEYS = ["meta", "records", "measures", "filters", "progress", "status"];
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];   // viridis

const TEMPLATE = `
  <div class="gl-bar">
    <div class="gl-now">
      <span class="gl-state" data-part="state">waiting</span>
      <span class="gl-epoch" data-part="epoch">waiting for training\u2026</span>
      <span class="gl-accuracy" data-part="accuracy"></span>
      <span class="gl-run" data-part="run"></span>
    </div>
    <div class="gl-progress" aria-hidden="true"><div class="gl-fill" data-part="fill"></div></div>
    <p class="gl-message" data-part="message" hidden></p>
  </div>
  <div class="gl-grid">
    <section>
      <h3>Learning curves</h3>
      <div class="gl-charts">
        <figure><canvas class="gl-chart" data-part="accuracy-chart"></canvas>
          <figcaption>Accuracy after each epoch</figcaption></figure>
        <figure><canvas class="gl-chart" data-part="cost-chart"></canvas>
          <figcaption>Cost after each epoch</figcaption></figure>
      </div>
      <ul class="gl-legend" data-part="curves-legend"></ul>
    </section>
    <section>
      <h3>What the first layer looks for</h3>
      <canvas class="gl-filters" data-part="filters" width="1" height="1"></canvas>
      <p class="gl-note" data-part="filters-caption">Each tile is one first-layer neuron's incoming
        weights: red excites it, blue inhibits it.</p>
    </section>
    <section>
      <h3 data-part="classes-title">Accuracy on each digit</h3>
      <canvas class="gl-chart gl-tall" data-part="classes"></canvas>
      <p class="gl-note" data-part="classes-caption">One row per class, one column per epoch (the
        first: before training): which is learned when.</p>
    </section>
    <section>
      <h3>Speed of learning per layer</h3>
      <canvas class="gl-chart" data-part="speed"></canvas>
      <ul class="gl-legend" data-part="speed-legend"></ul>
      <p class="gl-note" data-part="speed-caption">The length of the gradient of the cost with
        respect to each layer's biases, ||\u03b4\u02e1||, on a fixed sample (logarithmic scale).</p>
    </section>
  </div>`;

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "glassnet-live";
  root.innerHTML = TEMPLATE;                 // fixed markup: every value below goes in as text
  el.append(root);
  const part = (name) => root.querySelector(`[data-part="${name}"]`);
  let frame = 0;
  const draw = () => {
    frame = 0;
    const run = Object.fromEntries(KEYS.map((k) => [k, model.get(k)]));
    run.records = run.records || [];
    run.measures = run.measures || [];
    drawBar(root, part, run);
    drawCurves(part, run);
    drawFilters(part, run);
    drawClasses(part, run);
    drawSpeed(part, run);
  };
  const schedule = () => { if (!frame) frame = requestAnimationFrame(draw); };
  for (const key of KEYS) model.on(`change:${key}`, schedule);
  const resized = new ResizeObserver(schedule);
  resized.observe(root);
  schedule();
  return () => {
    for (const key of KEYS) model.off(`change:${key}`, schedule);
    resized.disconnect();
    if (frame) cancelAnimationFrame(frame);
  };
}

// -- the bar: state, epochs, progress, the last accuracy ------------------------------------------
function drawBar(root, part, run) {
  const state = run.status ? run.status.state : "waiting";
  const meta = run.meta;
  const final = FINAL.has(state);
  root.dataset.state = state;
  root.dataset.records = String(run.records.length);
  root.dataset.measures = String(run.measures.length);
  part("state").textContent = state === "loading" ? "waiting" : state;
  const done = run.records.length, planned = meta && meta.epochs;
  let text = meta ? (planned ? `${done} of ${planned} epochs done` : `${done} epoch${done === 1 ? "" : "s"} done`)
    : "waiting for training\u2026";
  let fraction = 0;
  if (run.progress && !final) {
    fraction = run.progress.total ? run.progress.done / run.progress.total : 0;
    text += ` \u00b7 epoch ${run.progress.epoch}: ${Math.round(100 * fraction)}%`;
  } else if (final) {
    fraction = 1;
  }
  part("epoch").textContent = text;
  part("fill").style.width = `${(100 * fraction).toFixed(1)}%`;
  const last = run.records[run.records.length - 1];
  const key = last && ["accuracy", "validation_accuracy", "training_accuracy"].find((k) => last[k] != null);
  const name = { accuracy: "test", validation_accuracy: "validation", training_accuracy: "training" }[key];
  part("accuracy").textContent = key ? `${name} accuracy ${(100 * last[key]).toFixed(2)}%` : "";
  part("run").textContent = meta ? [meta.architecture, meta.dataset && `on ${meta.dataset}`].filter(Boolean)
    .join(" \u00b7 ") : "";
  const message = part("message");
  const said = run.status && run.status.message;
  message.hidden = !said;
  message.textContent = said || "";
  message.classList.toggle("gl-info", state === "finished");
  if (meta) describe(part, meta);
}

function describe(part, meta) {
  const shown = meta.filters_shown, total = meta.filters_total;
  const shape = meta.image_shape.slice(-2).join("\u00d7");
  const which = shown === total ? `All ${total}` : `The first ${shown} of ${total}`;
  part("filters-caption").textContent = meta.first_layer === "conv"
    ? `${which} filters of the convolutional first layer, each a ${shape} kernel (the mean over its input ` +
      "channels): red weights excite the filter, blue ones inhibit it (each tile scaled to its own largest weight)."
    : `${which} first-layer neurons' incoming weights, each drawn as a ${shape} image of the input: red ` +
      "pixels excite the neuron, blue ones inhibit it (each tile scaled to its own largest weight).";
  const digits = !meta.dataset || ["mnist", "digits"].includes(meta.dataset);
  part("classes-title").textContent = `Accuracy on each ${digits ? "digit" : "class"}`;
  if (meta.test_name) {
    part("classes-caption").textContent = `Accuracy on each class of the ${meta.test_name} data, one row per ` +
      `class, one column per epoch (the first: before training): which ${digits ? "digit" : "class"} is learned when.`;
  }
  if (meta.gradient_sample) {
    part("speed-caption").textContent = "The length of the gradient of the cost with respect to each layer's " +
      `biases, ||\u03b4\u02e1||, averaged over ${meta.gradient_sample} training examples (logarithmic scale).`;
  }
  const legend = part("speed-legend");
  if (legend.dataset.names !== meta.layers.join("|")) {
    legend.dataset.names = meta.layers.join("|");
    legend.textContent = "";
    meta.layers.forEach((name, l) => legend.append(legendItem(name, LAYER_COLORS[l % LAYER_COLORS.length])));
  }
}

function legendItem(name, color, dashed) {
  const li = document.createElement("li");
  const swatch = document.createElement("span");
  swatch.className = dashed ? "gl-swatch gl-dashed" : "gl-swatch";
  swatch.style.background = color;
  swatch.style.borderColor = color;
  li.append(swatch, document.createTextNode(name));
  return li;
}

// -- line charts ----------------------------------------------------------------------------------
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
  const mag = Math.pow(10, Math.floor(Math.log10(span / count)));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => span / s <= count) || 10 * mag;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

// series: [{color, dashed, points: [[x, y], ...]}]; opts: {log, yFormat, xMax, yMin, yMax, empty}
function lineChart(canvas, series, opts) {
  const { ctx, w, h } = sizeCanvas(canvas);
  const pad = { left: 46, right: 10, top: 8, bottom: 22 };
  const pts = series.flatMap((s) => s.points).filter((p) => p[1] != null && (!opts.log || p[1] > 0));
  canvas.dataset.points = String(pts.length);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#667085";
  if (!pts.length) {
    ctx.textAlign = "center";
    ctx.fillText(opts.empty || "after the first epoch\u2026", w / 2, h / 2);
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

function drawCurves(part, run) {
  const recs = run.records;
  const series = (key) => recs.map((r) => [r.epoch + 1, r[key] ?? null]);
  const pick = (suffix, testKey) => ["training", "validation", "test"].map((name) => ({
    color: COLORS[name], dashed: name === "training",
    points: series(name === "test" ? testKey : `${name}_${suffix}`),
  }));
  const planned = run.meta && run.meta.epochs;
  const xMax = planned ? Math.min(planned, Math.max(recs.length + 1, 5)) : Math.max(recs.length, 1);
  lineChart(part("accuracy-chart"), pick("accuracy", "accuracy"), { xMax, yFormat: (v) => `${Math.round(100 * v)}%` });
  lineChart(part("cost-chart"), pick("cost", "test_cost"), { xMax, yMin: 0 });
  const first = recs[0] || {};
  const has = { training: "training_accuracy", validation: "validation_accuracy", test: "accuracy" };
  const names = Object.keys(has).filter((name) => first[has[name]] != null);
  const legend = part("curves-legend");
  if (legend.dataset.names !== names.join()) {
    legend.dataset.names = names.join();
    legend.textContent = "";
    for (const name of names) legend.append(legendItem(name, COLORS[name], name === "training"));
  }
}

function drawSpeed(part, run) {
  const meta = run.meta;
  if (!meta) return;
  const series = meta.layers.map((name, l) => ({
    color: LAYER_COLORS[l % LAYER_COLORS.length],
    points: run.measures.filter((m) => m.gradient_norms).map((m) => [m.epoch + 1, m.gradient_norms[l]]),
  }));
  const last = run.measures.length ? run.measures[run.measures.length - 1].epoch + 1 : 0;
  lineChart(part("speed"), series, { log: true, xMax: Math.max(run.records.length, last, 1),
                                     empty: "measured after each epoch\u2026" });
}

// -- accuracy on each class: one row per class, one column per epoch -------------------------------
function ramp(v) {
  const t = Math.min(1, Math.max(0, v)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(t)), u = t - i;
  const c = RAMP[i].map((a, k) => Math.round(a + (RAMP[i + 1][k] - a) * u));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function drawClasses(part, run) {
  const canvas = part("classes");
  const { ctx, w, h } = sizeCanvas(canvas);
  const cols = run.measures.filter((m) => m.per_class);
  canvas.dataset.columns = String(cols.length);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#667085";
  if (!run.meta || !cols.length) {
    ctx.textAlign = "center";
    ctx.fillText("measured after each epoch\u2026", w / 2, h / 2);
    return;
  }
  const n = run.meta.classes;
  const pad = { left: 22, right: 44, top: 4, bottom: 22 };
  const xHi = Math.max(cols[cols.length - 1].epoch + 2, run.records.length + 1, Math.min(run.meta.epochs || 1, 10) + 1);
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

// -- the first layer's weights as images (web.measures.encode_filters: int8, base64) -----------------
function drawFilters(part, run) {
  const f = run.filters;
  const canvas = part("filters");
  if (!f || canvas.glassnetDrawn === f) return;      // the same message as last time: drawn already
  const shape = f.shape;
  const h = shape[shape.length - 2], w = shape[shape.length - 1];
  const channels = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const zoom = Math.max(1, Math.floor(16 / Math.max(h, w)));    // small kernels: weights as blocks
  const tileW = (channels * w + (channels - 1)) * zoom, tileH = h * zoom;
  const cols = Math.ceil(Math.sqrt(f.count * tileH / tileW)), rows = Math.ceil(f.count / cols);
  canvas.width = cols * (tileW + 1) + 1;
  canvas.height = rows * (tileH + 1) + 1;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(canvas.width, canvas.height);
  img.data.fill(214);                          // the gaps between tiles
  const bytes = atob(f.data), size = channels * h * w;
  for (let k = 0; k < f.count; k++) {
    const x0 = 1 + (k % cols) * (tileW + 1), y0 = 1 + Math.floor(k / cols) * (tileH + 1);
    for (let c = 0; c < channels; c++) {
      for (let i = 0; i < h * zoom; i++) {
        for (let j = 0; j < w * zoom; j++) {
          const q = bytes.charCodeAt(k * size + c * h * w + Math.floor(i / zoom) * w + Math.floor(j / zoom)) << 24 >> 24;
          const v = q / 127;
          const at = 4 * ((y0 + i) * canvas.width + x0 + c * (w + 1) * zoom + j);
          const rgb = v >= 0 ? [255 - 35 * v, 255 - 217 * v, 255 - 217 * v] : [255 + 218 * v, 255 + 156 * v, 255 + 20 * v];
          img.data[at] = rgb[0]; img.data[at + 1] = rgb[1]; img.data[at + 2] = rgb[2];
        }
      }
    }
  }
  for (let i = 3; i < img.data.length; i += 4) img.data[i] = 255;
  ctx.putImageData(img, 0, 0);
  canvas.glassnetDrawn = f;
  canvas.dataset.epoch = String(f.epoch);
  canvas.dataset.fraction = String(f.fraction);
  canvas.dataset.count = String(f.count);
}

export default { render };
