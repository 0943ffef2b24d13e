// gankit lab: the page. Plain JavaScript and canvas, no libraries, nothing loaded from elsewhere.
// The server streams frames (server-sent events, /api/events); the controls post JSON to
// /api/config and /api/command. window.gankitLab exposes the page's state (the browser tests
// read it).
"use strict";

const RUN_KEYS = ["a", "b"];
const lab = {
  options: null, compare: false, running: true, seed: 0, messages: 0, frames: 0,
  runs: { a: emptyRun(), b: emptyRun() },
};
window.gankitLab = lab;

function emptyRun() {
  return { frame: null, background: null, history: [], error: null, controls: null, alive: false };
}

// -- talking to the server ----------------------------------------------------------------------
async function post(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  } catch (e) {
    return { ok: false, data: { error: "the lab server does not answer (was it stopped?)" } };
  }
  let data = {};
  try { data = await response.json(); } catch (e) { data = { error: await response.text() }; }
  return { ok: response.ok, data };
}

function showPageError(text) {
  const box = document.getElementById("page-error");
  box.textContent = text || "";
  box.hidden = !text;
}

function command(name, extra) {
  return post("/api/command", { name, ...extra }).then((r) => {
    showPageError(r.ok ? "" : r.data.error);
    return r;
  });
}

// -- the run panels -----------------------------------------------------------------------------
function panel(key) { return document.getElementById(`run-${key}`); }

function buildPanel(key) {
  const node = document.getElementById("run-template").content.firstElementChild.cloneNode(true);
  node.id = `run-${key}`;
  node.dataset.run = key;
  node.querySelector(".name").textContent = `Run ${key.toUpperCase()}`;
  const form = node.querySelector("form");
  fillSelect(form.elements.data, lab.options.data.map((d) => [d, dataLabel(d)]));
  fillSelect(form.elements.loss, lab.options.losses.map((l) => [l.name, l.label]));
  fillSelect(form.elements.prior, lab.options.priors.map((p) => [p, p]));
  form.addEventListener("change", (event) => onControlChange(key, event.target));
  form.addEventListener("submit", (event) => event.preventDefault());
  node.querySelector(".save").addEventListener("click", () => saveRun(key));
  node.querySelector(".theorem").addEventListener("click", () => {
    node.querySelector(".theorem-result").textContent = "computing the JSD by quadrature…";
    command("theorem", { run: key });
  });
  document.getElementById("runs").appendChild(node);
  return node;
}

function dataLabel(name) {
  return { "ring": "ring (8 modes)", "grid": "grid (25 modes)",
           "unrolled-ring": "the unrolled GAN's ring", "mixture": "your own mixture" }[name] || name;
}

function fillSelect(select, pairs) {
  for (const [value, text] of pairs) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = text;
    select.appendChild(option);
  }
}

function setControls(key, controls) {
  const form = panel(key).querySelector("form");
  for (const [name, value] of Object.entries(controls)) {
    const input = form.elements[name];
    if (input && document.activeElement !== input) input.value = value;
  }
  for (const el of form.querySelectorAll(".mixture-only")) el.hidden = controls.data !== "mixture";
}

function readControls(key) {
  const form = panel(key).querySelector("form");
  const out = {};
  for (const el of form.elements) if (el.name) out[el.name] = el.value;
  return out;
}

function clearFieldErrors(form) {
  for (const el of form.querySelectorAll(".invalid")) el.classList.remove("invalid");
  const box = form.querySelector(".form-error");
  box.hidden = true;
  box.textContent = "";
}

async function onControlChange(key, target) {
  const form = panel(key).querySelector("form");
  if (target && target.name === "loss" && target.value === "wasserstein"
      && Number(form.elements.gp.value) === 0) {
    form.elements.gp.value = 10;  // WGAN-GP's λ: a Wasserstein critic needs a constraint
  }
  for (const el of form.querySelectorAll(".mixture-only")) {
    el.hidden = form.elements.data.value !== "mixture";
  }
  await sendControls(key);
}

async function sendControls(key) {
  const form = panel(key).querySelector("form");
  clearFieldErrors(form);
  const seed = document.getElementById("seed").value;
  const r = await post("/api/config", { run: key, controls: readControls(key), seed });
  if (r.ok) return true;
  const box = form.querySelector(".form-error");
  box.textContent = r.data.error || "the lab refused these settings";
  box.hidden = false;
  const field = r.data.field;
  if (field === "seed") document.getElementById("seed").classList.add("invalid");
  else if (field && form.elements[field]) form.elements[field].classList.add("invalid");
  return false;
}

async function saveRun(key) {
  const out = panel(key).querySelector(".saved");
  out.textContent = "saving…";
  const r = await command("save", { run: key });
  out.textContent = r.ok ? savedText(r.data.result) : r.data.error;
}

function savedText(saved) {
  const m = saved.metrics || {};
  const parts = [`saved step ${saved.step} to ${saved.folder}`];
  if (m.modes !== undefined) parts.push(`${m.modes} modes, HQ ${(100 * m.hq).toFixed(1)} % in the lab`);
  parts.push(`measure it: gankit eval ${saved.folder}`, `continue it: gankit resume ${saved.folder} --steps N`);
  return parts.join(" · ");
}

// -- the stream ---------------------------------------------------------------------------------
function onMessage(event) {
  const msg = JSON.parse(event.data);
  lab.messages += 1;
  lab.compare = msg.compare;
  lab.running = msg.running;
  lab.seed = msg.seed;
  for (const key of RUN_KEYS) if (msg.runs[key]) updateRun(key, msg.runs[key]);
  document.getElementById("play").textContent = lab.running ? "pause" : "run";
  const seed = document.getElementById("seed");
  if (document.activeElement !== seed) seed.value = msg.seed;
  document.getElementById("compare").checked = lab.compare;
  panel("b").hidden = !lab.compare;
  for (const el of document.querySelectorAll(".only-b")) el.hidden = !lab.compare;
  const a = lab.runs.a.frame;
  document.getElementById("status").textContent = a
    ? `${lab.running ? "training" : "paused"} · step ${a.step}` : "starting…";
  scheduleDraw();
}

function updateRun(key, data) {
  const run = lab.runs[key];
  if (data.restarted) {
    run.history = [];
    for (const sel of [".theorem-result", ".saved"]) panel(key).querySelector(sel).textContent = "";
  }
  run.history.push(...data.points);
  if (data.frame) { run.frame = data.frame; lab.frames += 1; }
  if (data.restarted && !data.frame) run.frame = null;
  Object.assign(run, { background: data.background, error: data.error, theorem: data.theorem,
                       saved: data.saved, alive: data.alive, speed: data.steps_per_second });
  if (data.restarted || !run.controls) setControls(key, data.controls);
  run.controls = data.controls;
}

function connect() {
  const source = new EventSource("/api/events");
  source.onmessage = onMessage;
  source.onerror = () => {
    document.getElementById("status").textContent = "connection lost; retrying…";
  };
}

// -- drawing ------------------------------------------------------------------------------------
let drawPending = false;
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; drawAll(); });
}

function drawAll() {
  for (const key of RUN_KEYS) if (key === "a" || lab.compare) drawRun(key);
  drawCharts();
}

function drawRun(key) {
  const run = lab.runs[key], node = panel(key);
  const c = run.controls;
  node.querySelector(".label").textContent = c ? describe(c) : "";
  const errorBox = node.querySelector(".run-error");
  errorBox.textContent = run.error || "";
  errorBox.hidden = !run.error;
  if (!run.frame || !run.background) return;
  const f = run.frame, bg = run.background;
  node.querySelector(".step").textContent = `step ${f.step}`;
  node.querySelector(".speed").textContent = `${run.speed} steps/s`;
  const critic = bg.critic;
  node.querySelector(".shading").textContent = critic
    ? "the critic's values (scaled), green = high, purple = low"
    : 'D(x), green = "real", purple = "fake"';
  node.querySelector(".learned-caption").textContent = critic ? "learned critic (scaled)" : "learned D";
  drawField(node.querySelector(".field"), bg, f, f.d, critic, true);
  drawField(node.querySelector(".learned"), bg, f, f.d, critic, false);
  drawField(node.querySelector(".optimal"), bg, f, f.d_star, false, false);
  drawNumbers(node, run);
}

function describe(c) {
  const words = [dataLabel(c.data), lossLabel(c.loss)];
  if (c.k > 1) words.push(`k=${c.k}`);
  if (c.unroll > 0) words.push(`unrolled K=${c.unroll}`);
  if (c.pack > 1) words.push(`PacGAN m=${c.pack}`);
  if (c.gp > 0) words.push(`GP λ=${c.gp}`);
  return words.join(", ");
}

function lossLabel(name) {
  const option = lab.options.losses.find((l) => l.name === name);
  return option ? option.label : name;
}

function fmt(x, digits) { return x === null || x === undefined ? "–" : Number(x).toFixed(digits); }

function drawNumbers(node, run) {
  const f = run.frame, m = f.metrics, last = lastWith(run.history, "c_of_g");
  node.querySelector(".metrics").textContent =
    `modes ${m.modes} of ${m.n_modes} · high quality ${(100 * m.hq).toFixed(1)} % · ` +
    `reverse KL ${fmt(m.rkl, 3)} · W1 ${fmt(m.w1, 3)}`;
  node.querySelector(".c-of-g").textContent = last
    ? `${fmt(last.c_of_g, 4)}` : "–";
  const v = lastWith(run.history, "v_learned");
  node.querySelector(".v-learned").textContent = run.background.cross_entropy && v
    ? fmt(v.v_learned, 4) : "– (not the cross-entropy D)";
  const t = run.theorem, out = node.querySelector(".theorem-result");
  if (t) {
    out.textContent = `at step ${t.step}: C(G) = ${fmt(t.c_of_g, 4)} ± ${fmt(t.c_of_g_se, 4)} ` +
      `(Monte Carlo) and −log 4 + 2·JSD = ${fmt(t.rhs, 4)} (JSD ${fmt(t.jsd, 4)} by ` +
      `Simpson's rule), ${fmt(t.seconds, 1)} s`;
  } else if (out.textContent.startsWith("at step")) {
    out.textContent = "";
  }
  const saved = node.querySelector(".saved");
  if (run.saved && !saved.textContent) saved.textContent = savedText(run.saved);
}

function lastWith(history, key) {
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i][key] !== undefined && history[i][key] !== null) return history[i];
  }
  return null;
}

// D in [0, 1] -> purple (fake) .. white .. green (real)
const PURPLE = [142, 68, 173], GREEN = [39, 160, 90], WHITE = [255, 255, 255];
function shade(t) {
  t = Math.min(1, Math.max(0, t));
  const [from, to, u] = t < 0.5 ? [PURPLE, WHITE, t / 0.5] : [WHITE, GREEN, (t - 0.5) / 0.5];
  return from.map((v, i) => Math.round(0.55 * (v + (to[i] - v) * u) + 0.45 * 255));
}

function criticScale(values) {
  // a critic's values are scores: centre on the median, scale by the spread, squash with tanh
  const sorted = Array.from(values).sort((x, y) => x - y);
  const median = sorted[Math.floor(sorted.length / 2)];
  const spread = sorted.map((v) => Math.abs(v - median)).sort((x, y) => x - y);
  const scale = spread[Math.floor(0.95 * spread.length)] || 1e-6;
  return (v) => 0.5 + 0.5 * Math.tanh((v - median) / scale);
}

function drawField(canvas, bg, frame, values, critic, details) {
  const ctx = canvas.getContext("2d"), size = canvas.width;
  const [x0, x1, y0, y1] = bg.extent, res = bg.grid_res;
  const toPx = (x, y) => [((x - x0) / (x1 - x0)) * size, size - ((y - y0) / (y1 - y0)) * size];
  const image = new ImageData(res, res);
  const map = critic ? criticScale(values) : (v) => v;
  for (let j = 0; j < res; j++) {
    for (let i = 0; i < res; i++) {
      const rgb = shade(map(values[j * res + i])), at = 4 * ((res - 1 - j) * res + i);
      image.data.set([rgb[0], rgb[1], rgb[2], 255], at);
    }
  }
  const small = document.createElement("canvas");
  small.width = small.height = res;
  small.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.clearRect(0, 0, size, size);
  ctx.drawImage(small, 0, 0, size, size);
  drawModes(ctx, bg, toPx, size, details);
  drawSamples(ctx, frame, toPx, details);
}

function drawModes(ctx, bg, toPx, size, details) {
  const [x0, x1] = bg.extent, c = bg.centres, radius = Math.max(3, (2 * bg.std * size) / (x1 - x0));
  const maxWeight = Math.max(...bg.weights);
  ctx.lineWidth = details ? 1.5 : 1;
  for (let k = 0; k < c.length / 2; k++) {
    const [px, py] = toPx(c[2 * k], c[2 * k + 1]);
    ctx.strokeStyle = `rgba(20, 20, 20, ${0.35 + 0.5 * bg.weights[k] / maxWeight})`;
    ctx.beginPath();
    ctx.arc(px, py, radius, 0, 2 * Math.PI);
    ctx.stroke();
  }
}

function drawSamples(ctx, frame, toPx, details) {
  const s = frame.samples, from = frame.arrows_from;
  if (details && from) {
    ctx.strokeStyle = "rgba(230, 120, 20, 0.75)";
    ctx.lineWidth = 1;
    for (let i = 0; i < from.length / 2; i++) arrow(ctx, toPx(from[2 * i], from[2 * i + 1]),
                                                    toPx(s[2 * i], s[2 * i + 1]));
  }
  ctx.fillStyle = details ? "rgba(25, 40, 90, 0.75)" : "rgba(25, 40, 90, 0.5)";
  const r = details ? 1.7 : 1;
  for (let i = 0; i < s.length / 2; i++) {
    const [px, py] = toPx(s[2 * i], s[2 * i + 1]);
    ctx.fillRect(px - r, py - r, 2 * r, 2 * r);
  }
}

function arrow(ctx, [ax, ay], [bx, by]) {
  const dx = bx - ax, dy = by - ay, length = Math.hypot(dx, dy);
  if (length < 1.5 || length > 200) return;
  const ux = dx / length, uy = dy / length, head = Math.min(5, 0.5 * length);
  ctx.beginPath();
  ctx.moveTo(ax, ay);
  ctx.lineTo(bx, by);
  ctx.moveTo(bx, by);
  ctx.lineTo(bx - head * (ux + 0.5 * uy), by - head * (uy - 0.5 * ux));
  ctx.moveTo(bx, by);
  ctx.lineTo(bx - head * (ux - 0.5 * uy), by - head * (uy + 0.5 * ux));
  ctx.stroke();
}

// -- charts -------------------------------------------------------------------------------------
const COLORS = { d: "#1f77b4", g: "#d62728", real: "#2ca02c", fake: "#9467bd", one: "#333" };

function series(key, field, color, label) {
  const pts = lab.runs[key].history.filter((p) => p[field] !== undefined && p[field] !== null)
    .map((p) => [p.step, p[field]]);
  return { pts, color, dash: key === "b" ? [5, 3] : [], label: `${label}${lab.compare ? ` (${key.toUpperCase()})` : ""}` };
}

function both(field, color, label) {
  return RUN_KEYS.filter((k) => k === "a" || lab.compare).map((k) => series(k, field, color, label));
}

function drawCharts() {
  lineChart("chart-losses", [...both("d_loss", COLORS.d, "D loss"), ...both("g_loss", COLORS.g, "G loss")]);
  lineChart("chart-d", [...both("d_real", COLORS.real, "D(x)"), ...both("d_fake", COLORS.fake, "D(G(z))")],
            { yMin: 0, yMax: 1 });
  const modes = lab.runs.a.frame ? lab.runs.a.frame.metrics.n_modes : 1;
  lineChart("chart-modes", both("modes", COLORS.d, "modes"), { yMin: 0, yMax: modes });
  lineChart("chart-hq", both("hq", COLORS.real, "HQ fraction"), { yMin: 0, yMax: 1 });
  lineChart("chart-rkl", both("rkl", COLORS.g, "reverse KL"), { yMin: 0 });
  lineChart("chart-w1", both("w1", COLORS.fake, "W1"), { yMin: 0 });
  lineChart("chart-value", [...both("c_of_g", COLORS.d, "C(G)"), ...both("v_learned", COLORS.g, "V(D, G)")],
            { lines: [[-Math.log(4), "−log 4"]] });
  sharesChart("chart-shares-a", "a");
  if (lab.compare) sharesChart("chart-shares-b", "b");
}

function prepare(id) {
  const canvas = document.getElementById(id), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  return { ctx, w: canvas.width, h: canvas.height, left: 44, right: 8, top: 8, bottom: 18 };
}

function ranges(all, opts) {
  let xMin = Infinity, xMax = -Infinity, yMin = Infinity, yMax = -Infinity;
  for (const s of all) for (const [x, y] of s.pts) {
    xMin = Math.min(xMin, x); xMax = Math.max(xMax, x);
    yMin = Math.min(yMin, y); yMax = Math.max(yMax, y);
  }
  for (const [y] of opts.lines || []) { yMin = Math.min(yMin, y); yMax = Math.max(yMax, y); }
  if (opts.yMin !== undefined) yMin = Math.min(opts.yMin, yMin);
  if (opts.yMax !== undefined) yMax = Math.max(opts.yMax, yMax);
  if (yMax - yMin < 1e-9) { yMax += 0.5; yMin -= 0.5; }
  if (xMax <= xMin) xMax = xMin + 1;
  return { xMin, xMax, yMin, yMax };
}

function axes(p, r) {
  const { ctx } = p;
  ctx.strokeStyle = "#bbb";
  ctx.fillStyle = "#555";
  ctx.font = "10px sans-serif";
  ctx.lineWidth = 1;
  ctx.strokeRect(p.left, p.top, p.w - p.left - p.right, p.h - p.top - p.bottom);
  for (const y of [r.yMin, (r.yMin + r.yMax) / 2, r.yMax]) {
    ctx.fillText(tick(y), 2, ypx(p, r, y) + 3);
  }
  ctx.fillText(`step ${Math.round(r.xMin)}`, p.left, p.h - 5);
  const last = `${Math.round(r.xMax)}`;
  ctx.fillText(last, p.w - p.right - ctx.measureText(last).width, p.h - 5);
}

function tick(v) {
  const a = Math.abs(v);
  return a >= 1000 || (a < 0.01 && a > 0) ? v.toExponential(1) : v.toFixed(a >= 10 ? 0 : 2);
}
function xpx(p, r, x) { return p.left + ((x - r.xMin) / (r.xMax - r.xMin)) * (p.w - p.left - p.right); }
function ypx(p, r, y) { return p.h - p.bottom - ((y - r.yMin) / (r.yMax - r.yMin)) * (p.h - p.top - p.bottom); }

function lineChart(id, all, opts = {}) {
  const p = prepare(id), { ctx } = p;
  const r = ranges(all, opts);
  if (!Number.isFinite(r.xMin)) return;
  axes(p, r);
  for (const [y, label] of opts.lines || []) {
    ctx.strokeStyle = "#888";
    ctx.setLineDash([2, 3]);
    ctx.beginPath(); ctx.moveTo(p.left, ypx(p, r, y)); ctx.lineTo(p.w - p.right, ypx(p, r, y)); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillText(label, p.left + 3, ypx(p, r, y) - 3);
  }
  let legendY = p.top + 10;
  for (const s of all) {
    ctx.strokeStyle = s.color;
    ctx.setLineDash(s.dash);
    ctx.lineWidth = 1.4;
    ctx.beginPath();
    s.pts.forEach(([x, y], i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, xpx(p, r, x), ypx(p, r, y)));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = s.color;
    ctx.fillText(s.label, p.w - p.right - 4 - ctx.measureText(s.label).width, legendY);
    legendY += 11;
  }
}

function sharesChart(id, key) {
  const p = prepare(id), { ctx } = p, h = lab.runs[key].history.filter((q) => q.shares);
  if (h.length < 2) return;
  const r = { xMin: h[0].step, xMax: h[h.length - 1].step, yMin: 0, yMax: 1 };
  if (r.xMax <= r.xMin) return;
  axes(p, r);
  const modes = h[0].shares.length;
  const below = h.map(() => 0);
  for (let k = 0; k < modes; k++) {
    ctx.fillStyle = `hsl(${(k * 360) / modes}, 65%, 55%)`;
    ctx.beginPath();
    h.forEach((q, i) => ctx.lineTo(xpx(p, r, q.step), ypx(p, r, below[i] + q.shares[k])));
    for (let i = h.length - 1; i >= 0; i--) ctx.lineTo(xpx(p, r, h[i].step), ypx(p, r, below[i]));
    ctx.closePath();
    ctx.fill();
    h.forEach((q, i) => { below[i] += q.shares[k]; });
  }
}

// -- start --------------------------------------------------------------------------------------
async function start() {
  const response = await fetch("/api/options");
  lab.options = await response.json();
  if (!response.ok) throw new Error(lab.options.error);
  for (const key of RUN_KEYS) {
    buildPanel(key);
    setControls(key, lab.options.controls[key]);
  }
  panel("b").hidden = true;
  document.getElementById("play").addEventListener("click", () => command(lab.running ? "pause" : "play"));
  document.getElementById("step").addEventListener("click", () => command("step"));
  document.getElementById("reset").addEventListener("click", () => command("reset"));
  document.getElementById("compare").addEventListener("change", (e) => command("compare", { on: e.target.checked }));
  document.getElementById("seed").addEventListener("change", async (e) => {
    e.target.classList.remove("invalid");
    await sendControls("a");
  });
  document.body.dataset.ready = "1";
  connect();
}

start().catch((e) => showPageError(`the lab page could not start: ${e}`));
