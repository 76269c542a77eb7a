// glassnet serve: draw a digit, turn it into MNIST's 28x28 format, ask the server, show the layers.
"use strict";

const SIDE = 28;           // MNIST images are 28x28 ...
const BOX = 20;            // ... with the digit scaled to fit 20x20, centred by its centre of mass
const STROKE = 24;         // pen width on the 280x280 pad: about 2 MNIST pixels once scaled down
const THROTTLE_MS = 60;    // pause between two predictions while drawing

const pad = document.getElementById("pad");
const padCtx = pad.getContext("2d", { willReadFrequently: true });
const inputCanvas = document.getElementById("input");
const inputCtx = inputCanvas.getContext("2d");
const saliencyCanvas = document.getElementById("saliency");
const saliencyCtx = saliencyCanvas.getContext("2d");
const whyCaption = document.getElementById("why-caption");
const predictionEl = document.getElementById("prediction");
const confidenceEl = document.getElementById("confidence");
const barsEl = document.getElementById("bars");
const hiddenEl = document.getElementById("hidden");
const hiddenCaption = document.getElementById("hidden-caption");
const mapsFigure = document.getElementById("maps-figure");
const mapsEl = document.getElementById("maps");
const mapsCaption = document.getElementById("maps-caption");
const noiseCaption = document.getElementById("noise-caption");
const hintEl = document.getElementById("hint");
const statusEl = document.getElementById("status");

let mode = "empty";        // "empty" | "draw" | "noise"
let noise = null;          // the 784 random pixels of "Random pixels"
let last = null;           // last pen position while drawing
let hiddenCells = [];      // one array of cell elements per hidden layer
let mapCanvases = [];      // one canvas per convolutional layer: its feature maps side by side
let explain = null;        // the digit whose saliency map is asked for (null: the network's answer)

// -- the page's pieces --------------------------------------------------------------------------
function buildBars() {
  for (let d = 0; d < 10; d++) {
    const li = document.createElement("li");
    li.className = "bar";
    li.dataset.digit = String(d);
    li.innerHTML = '<span class="digit"></span><span class="track"><span class="fill"></span></span>' +
                   '<span class="pct">0%</span>';
    li.querySelector(".digit").textContent = String(d);
    li.tabIndex = 0;
    li.setAttribute("role", "button");
    li.setAttribute("aria-label", `digit ${d}: show why the network does or does not read it`);
    li.addEventListener("click", () => chooseExplained(d));
    li.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); chooseExplained(d); }
    });
    barsEl.appendChild(li);
  }
}

// m: what /api/model says. The book's network: one grid of cells per hidden layer; a layer
// network: one per fully connected hidden layer (its conv layers get feature maps instead);
// an ensemble: none (its members' insides are their own).
function buildHidden(m) {
  hiddenEl.textContent = "";
  hiddenCells = [];
  const layers = m.hidden, names = m.hidden_names || [];
  if (m.kind === "ensemble") {
    hiddenCaption.innerHTML = `<strong>An ensemble</strong> of ${m.members} networks: the answer is ` +
      (m.combine === "vote" ? "their majority vote" : "the mean of their probabilities") +
      "; each member\u2019s hidden layers are its own.";
    return;
  }
  if (layers.length === 0) {
    hiddenCaption.innerHTML = m.maps && m.maps.length
      ? "<strong>No fully connected hidden layer</strong>: the feature maps feed the outputs directly."
      : "<strong>No hidden layer</strong>: the inputs feed the outputs directly.";
    return;
  }
  layers.forEach((n, l) => {
    if (layers.length > 1 || m.kind !== "network") {
      const name = document.createElement("div");
      name.className = "layer-name";
      name.textContent = `${names[l] || `hidden layer ${l + 1}`}: ${n} neurons`;
      hiddenEl.appendChild(name);
    }
    const grid = document.createElement("div");
    const cols = Math.ceil(Math.sqrt(n));
    grid.className = "grid" + (cols > 16 ? " tiny" : cols > 8 ? " small" : "");
    grid.style.gridTemplateColumns = `repeat(${cols}, auto)`;
    const cells = [];
    for (let j = 0; j < n; j++) {
      const cell = document.createElement("div");
      cell.className = "cell";
      cell.title = `hidden neuron ${j}`;
      grid.appendChild(cell);
      cells.push(cell);
    }
    hiddenEl.appendChild(grid);
    hiddenCells.push(cells);
  });
  const one = layers.length === 1 ? `its ${layers[0]} neurons` : "their neurons";
  const title = layers.length === 1 ? "Hidden layer" : "Hidden layers";
  hiddenCaption.innerHTML = `<strong>${title}</strong>: how strongly each of ${one} fires, from 0 (pale) ` +
    (m.activation === "sigmoid" && m.kind === "network" ? "to 1 (dark)." : "to the layer\u2019s largest (dark).");
}

// A convolutional layer's f feature maps (h x w each) as tiles of one canvas, 1px apart.
function mapGrid(shape) {
  const [f, h, w] = shape;
  const cols = Math.ceil(Math.sqrt(f)), rows = Math.ceil(f / cols);
  return { f, h, w, cols, width: cols * (w + 1) + 1, height: rows * (h + 1) + 1 };
}

function buildMaps(m) {
  mapsEl.textContent = "";
  mapCanvases = [];
  const maps = m.maps || [];
  mapsFigure.hidden = maps.length === 0;
  maps.forEach((layer) => {
    if (maps.length > 1) {
      const name = document.createElement("div");
      name.className = "layer-name";
      name.textContent = `${layer.name}: ${layer.shape[0]} maps of ${layer.shape[1]}\u00d7${layer.shape[2]}`;
      mapsEl.appendChild(name);
    }
    const g = mapGrid(layer.shape);
    const canvas = document.createElement("canvas");
    canvas.width = g.width;
    canvas.height = g.height;
    canvas.className = "feature-maps";
    canvas.style.width = `${g.width * Math.max(2, Math.min(8, Math.floor(300 / g.width)))}px`;
    canvas.setAttribute("aria-label", `${layer.name}: ${layer.shape[0]} feature maps`);
    mapsEl.appendChild(canvas);
    mapCanvases.push(canvas);
  });
  if (maps.length) {
    const [f, h, w] = maps[0].shape;
    mapsCaption.innerHTML = `<strong>Feature maps</strong> of the convolutional layer${maps.length > 1 ? "s" : ""}: ` +
      `each of the first layer\u2019s ${f} filters slid over the input, max-pooled to ${h}\u00d7${w} and ` +
      `passed through ${maps[0].activation}: dark where the filter finds its pattern (each layer scaled ` +
      "to its largest value).";
  }
}

// One layer's maps (values f*h*w, row-major): grey from white (0) to black (the layer's largest
// value); negative values (tanh) in blue.
function drawMaps(canvas, map) {
  const g = mapGrid(map.shape);
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(g.width, g.height);
  for (let i = 0; i < img.data.length; i += 4) { img.data[i] = img.data[i + 1] = img.data[i + 2] = 214; img.data[i + 3] = 255; }
  let top = 0;
  for (const v of map.values) top = Math.max(top, Math.abs(v));
  const scale = top > 0 ? 1 / top : 0;
  for (let k = 0; k < g.f; k++) {
    const x0 = 1 + (k % g.cols) * (g.w + 1), y0 = 1 + Math.floor(k / g.cols) * (g.h + 1);
    for (let i = 0; i < g.h; i++) {
      for (let j = 0; j < g.w; j++) {
        const t = map.values[(k * g.h + i) * g.w + j] * scale;
        const at = 4 * ((y0 + i) * g.width + x0 + j);
        const rgb = t >= 0 ? [255 * (1 - t), 255 * (1 - t), 255 * (1 - t)] : [255 + 218 * t, 255 + 156 * t, 255];
        img.data[at] = rgb[0]; img.data[at + 1] = rgb[1]; img.data[at + 2] = rgb[2];
      }
    }
  }
  ctx.putImageData(img, 0, 0);
  canvas.dataset.drawn = "true";
}

function clearMaps() {
  mapCanvases.forEach((canvas) => {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    delete canvas.dataset.drawn;
  });
}

// -- drawing ------------------------------------------------------------------------------------
function padPoint(e) {
  const r = pad.getBoundingClientRect();
  return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
}

function stroke(from, to) {
  padCtx.lineCap = "round";
  padCtx.lineJoin = "round";
  padCtx.lineWidth = STROKE;
  padCtx.strokeStyle = "#111827";
  padCtx.beginPath();
  padCtx.moveTo(from.x, from.y);
  padCtx.lineTo(to.x, to.y);
  padCtx.stroke();
}

pad.addEventListener("pointerdown", (e) => {
  if (e.button !== 0 && e.pointerType === "mouse") return;
  e.preventDefault();
  if (mode !== "draw") clearAll();
  mode = "draw";
  try { pad.setPointerCapture(e.pointerId); } catch (err) { /* a synthetic or ended pointer */ }
  last = padPoint(e);
  stroke(last, last);
  requestPrediction();
});

pad.addEventListener("pointermove", (e) => {
  if (last === null) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const ev of events.length ? events : [e]) {
    const p = padPoint(ev);
    stroke(last, p);
    last = p;
  }
  requestPrediction();
});

function endStroke() {
  if (last === null) return;
  last = null;
  requestPrediction();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);
pad.addEventListener("lostpointercapture", endStroke);

// -- from the pad to MNIST's format ---------------------------------------------------------------
// The same steps as glassnet.datasets.preprocess.to_mnist (kept in step with it: tests/test_browser.py
// compares the two), so the page and `glassnet predict IMAGE` prepare a digit alike.

// Weights resampling nIn cells to nOut: shrinking averages the area each output cell covers,
// enlarging interpolates linearly; each row is normalised to sum 1.
function resampleWeights(nIn, nOut) {
  const scale = nIn / nOut, out = [];
  for (let o = 0; o < nOut; o++) {
    const w = [];
    let total = 0;
    for (let k = 0; k < nIn; k++) {
      let v;
      if (scale > 1) v = Math.max(0, Math.min(o * scale + scale, k + 1) - Math.max(o * scale, k));
      else v = Math.max(0, 1 - Math.abs(k + 0.5 - (o + 0.5) * scale));
      if (v > 0) { w.push([k, v]); total += v; }
    }
    out.push(w.map(([k, v]) => [k, v / total]));
  }
  return out;
}

// ink (h*w, 0..1, row-major) -> 784 values: crop to the ink (stronger than THRESHOLD), scale the
// longer side to 20 pixels (aspect kept), set the strongest ink to 1, and place it in 28x28 with
// its centre of mass at (14, 14), as MNIST was made. A digit that would spill over the edge is
// made a little smaller instead.
const THRESHOLD = 0.1;
function toMnist(ink, w, h) {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] > THRESHOLD) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  let patch, ow, oh, top, left;
  for (let box = BOX; box > 0; box--) {
    const scale = box / Math.max(bw, bh);
    ow = Math.max(1, Math.floor(bw * scale + 0.5));
    oh = Math.max(1, Math.floor(bh * scale + 0.5));
    const wx = resampleWeights(bw, ow), wy = resampleWeights(bh, oh);
    const rows = new Float64Array(bh * ow);                // scale along x ...
    for (let y = 0; y < bh; y++) {
      for (let o = 0; o < ow; o++) {
        let s = 0;
        for (const [k, wt] of wx[o]) s += wt * ink[(y0 + y) * w + x0 + k];
        rows[y * ow + o] = s;
      }
    }
    patch = new Float64Array(oh * ow);                     // ... then along y
    let peak = 0;
    for (let o = 0; o < oh; o++) {
      for (let x = 0; x < ow; x++) {
        let s = 0;
        for (const [k, wt] of wy[o]) s += wt * rows[k * ow + x];
        patch[o * ow + x] = s;
        peak = Math.max(peak, s);
      }
    }
    let mass = 0, cx = 0, cy = 0;
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const v = (patch[y * ow + x] /= peak);
        mass += v; cx += v * x; cy += v * y;
      }
    }
    top = Math.floor(SIDE / 2 - cy / mass + 0.5);
    left = Math.floor(SIDE / 2 - cx / mass + 0.5);
    if (top >= 0 && top <= SIDE - oh && left >= 0 && left <= SIDE - ow) break;
  }
  const out = new Array(SIDE * SIDE).fill(0);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const Y = y + top, X = x + left;
      if (Y >= 0 && Y < SIDE && X >= 0 && X < SIDE) out[Y * SIDE + X] = Math.min(1, Math.max(0, patch[y * ow + x]));
    }
  }
  return out;
}

function padInk() {
  const data = padCtx.getImageData(0, 0, pad.width, pad.height).data;
  const ink = new Float32Array(pad.width * pad.height);
  for (let i = 0; i < ink.length; i++) ink[i] = data[4 * i + 3] / 255;
  return ink;
}

function currentPixels() {
  if (mode === "noise") return noise;
  if (mode === "draw") return toMnist(padInk(), pad.width, pad.height);
  return null;
}

// -- talking to the server (at most one request at a time; the newest drawing wins) ---------------
let busy = false, queued = false;
function setBusy(value) { busy = value; document.body.dataset.busy = String(value); }

function requestPrediction() {
  if (busy) { queued = true; return; }
  const pixels = currentPixels();
  if (pixels === null) { showEmpty(); return; }
  const sentMode = mode;
  setBusy(true);
  fetch("/api/predict", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ pixels: pixels.map((v) => Math.round(v * 1e4) / 1e4), digit: explain }),
  })
    .then(async (r) => {
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(body.error || `the server answered ${r.status}`);
      return body;
    })
    .then((result) => {
      statusEl.textContent = "";
      if (mode === sentMode && mode !== "empty") show(result);
    })
    .catch((err) => { statusEl.textContent = `Could not predict: ${err.message}`; })
    .finally(() => {
      setTimeout(() => {
        setBusy(false);
        if (queued) { queued = false; requestPrediction(); }
      }, THROTTLE_MS);
    });
}

// -- showing the answer -------------------------------------------------------------------------
function mix(t) {                 // 0 -> pale grey, 1 -> the accent colour
  const a = [241, 242, 246], b = [67, 56, 202];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

function drawInput(pixels) {
  const img = inputCtx.createImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const g = Math.round(255 * (1 - (pixels ? pixels[i] : 0)));
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = g;
    img.data[4 * i + 3] = 255;
  }
  inputCtx.putImageData(img, 0, 0);
}

// The saliency map: input pixel i coloured by x_i * d(output k)/d(x_i), red where the ink raised
// output k, blue where it lowered it; no ink stays white. Full colour is reached at the 95th
// percentile of |value| over the inked pixels, so that one extreme pixel does not pale the rest.
const FOR = [220, 38, 38], AGAINST = [37, 99, 235];
function saliencyScale(values) {
  const mags = values.map(Math.abs).filter((v) => v > 0).sort((a, b) => a - b);
  return mags.length ? mags[Math.min(mags.length - 1, Math.floor(0.95 * mags.length))] : 0;
}

function drawSaliency(values) {
  const img = saliencyCtx.createImageData(SIDE, SIDE);
  const scale = values ? saliencyScale(values) : 0;
  for (let i = 0; i < SIDE * SIDE; i++) {
    const t = scale > 0 ? Math.max(-1, Math.min(1, values[i] / scale)) : 0;
    const c = t >= 0 ? FOR : AGAINST, s = Math.abs(t);
    for (let k = 0; k < 3; k++) img.data[4 * i + k] = Math.round(255 + (c[k] - 255) * s);
    img.data[4 * i + 3] = 255;
  }
  saliencyCtx.putImageData(img, 0, 0);
}

function showWhy(result) {
  const k = result.saliency_digit;
  drawSaliency(result.saliency);
  saliencyCanvas.dataset.digit = String(k);
  const answer = k === result.prediction;
  whyCaption.textContent = "";
  const title = document.createElement("strong");
  title.textContent = answer ? `Why \u201c${k}\u201d?` : `Why not \u201c${k}\u201d?`;
  whyCaption.append(title, ` Red ink raised the output for ${k}, blue ink lowered it` +
    (answer ? "." : `; the network reads \u201c${result.prediction}\u201d.`) +
    " Click a digit\u2019s bar to ask about that one.");
  barsEl.querySelectorAll(".bar").forEach((li, d) => li.classList.toggle("explained", d === k));
}

function chooseExplained(d) {
  explain = explain === d ? null : d;          // a second click goes back to the network's answer
  if (mode !== "empty") requestPrediction();
}

function show(result) {
  drawInput(result.input);
  showWhy(result);
  result.hidden.forEach((layer, l) => {
    const top = Math.max(1, ...layer);          // sigmoid: 0..1 as it is; relu: up to the largest
    layer.forEach((a, j) => {
      const cell = hiddenCells[l] && hiddenCells[l][j];
      if (!cell) return;
      cell.style.backgroundColor = mix(Math.max(0, a / top));
      cell.title = `hidden neuron ${j}: ${a.toFixed(3)}`;
    });
  });
  (result.maps || []).forEach((map, l) => { if (mapCanvases[l]) drawMaps(mapCanvases[l], map); });
  const top = result.prediction;
  const p = result.probabilities;
  barsEl.querySelectorAll(".bar").forEach((li, d) => {
    li.classList.toggle("top", d === top);
    li.querySelector(".fill").style.width = `${(100 * p[d]).toFixed(1)}%`;
    li.querySelector(".pct").textContent = `${Math.round(100 * p[d])}%`;
    li.title = `output neuron ${d}: ${result.outputs[d].toFixed(3)}`;
  });
  predictionEl.textContent = String(top);
  predictionEl.classList.remove("unsure");
  const pct = Math.round(100 * p[top]);
  confidenceEl.textContent = `${pct}% confident`;
  if (mode === "noise") {
    noiseCaption.hidden = false;
    noiseCaption.textContent = `These are random pixels, not a digit, yet the network answers ` +
      `\u201c${top}\u201d, ${pct}% confident. It only ever learned to choose among 0\u20139: ` +
      `nothing in it can say \u201cthis is not a digit\u201d.`;
  }
}

function showEmpty() {
  drawInput(null);
  drawSaliency(null);
  delete saliencyCanvas.dataset.digit;
  whyCaption.innerHTML = "<strong>Why this digit?</strong> Red ink raised the answer's output, " +
    "blue ink lowered it.";
  hiddenCells.flat().forEach((cell) => { cell.style.backgroundColor = ""; });
  clearMaps();
  barsEl.querySelectorAll(".bar").forEach((li) => {
    li.classList.remove("top", "explained");
    li.querySelector(".fill").style.width = "0";
    li.querySelector(".pct").textContent = "0%";
  });
  predictionEl.textContent = "\u2013";
  predictionEl.classList.add("unsure");
  confidenceEl.textContent = "draw something";
}

// -- buttons ------------------------------------------------------------------------------------
function clearAll() {
  padCtx.clearRect(0, 0, pad.width, pad.height);
  pad.classList.remove("noise");
  mode = "empty";
  noise = null;
  noiseCaption.hidden = true;
  hintEl.hidden = false;
  statusEl.textContent = "";
  showEmpty();
}

document.getElementById("clear").addEventListener("click", () => { queued = false; explain = null; clearAll(); });

document.getElementById("random").addEventListener("click", () => {
  clearAll();
  mode = "noise";
  noise = Array.from({ length: SIDE * SIDE }, () => Math.random());
  const cell = pad.width / SIDE;
  for (let i = 0; i < noise.length; i++) {
    padCtx.fillStyle = `rgba(17, 24, 39, ${noise[i]})`;
    padCtx.fillRect((i % SIDE) * cell, Math.floor(i / SIDE) * cell, cell, cell);
  }
  pad.classList.add("noise");
  hintEl.hidden = true;
  drawInput(noise);
  requestPrediction();
});

// -- start --------------------------------------------------------------------------------------
buildBars();
showEmpty();
setBusy(false);
fetch("/api/model")
  .then((r) => r.json())
  .then((m) => {
    const parts = [m.kind === "network" ? m.sizes.join("\u2013") : m.description];
    if (m.dataset) parts.push(m.dataset.toUpperCase());
    if (typeof m.accuracy === "number") parts.push(`${(100 * m.accuracy).toFixed(1)}% on its test set`);
    document.getElementById("model").textContent = parts.join(" \u00b7 ");
    buildMaps(m);
    buildHidden(m);
  })
  .catch((err) => { statusEl.textContent = `Could not load the model: ${err.message}`; });
