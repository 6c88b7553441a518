// The loss lab: draws what the server computes, and sends the state back.
// Every number on the page (scores, losses, gradients, class regions, curves) comes from
// linclass in Python (/api/...); this script only keeps the state, draws and handles input.
"use strict";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const RGB = COLORS.map((c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)));
const VIEW = 3;            // the plane shows [-VIEW, VIEW]^2
const ARROW = 0.5;         // an arrow of length |w| * ARROW (data units)
const PANELS = ["data", "model", "optimizer", "files", "curves", "gradients", "confusion", "table", "circuit"];

const $ = (id) => document.getElementById(id);
const lab = {
  points: [],        // [x, y, class, held_out]
  edited: false,     // points changed by hand (then they go into the URL)
  W: null, b: null, t: 0, opt: [],
  history: [],
  result: null,      // the last /api/evaluate or /api/train answer
  selected: -1,
  newClass: 0,
  playing: false,
  busy: false, pending: null,
  edits: 0,          // W and b changed on the page (a drag, a reset, an import): counted, so an
                     // answer to a request sent before the latest change never overwrites them
  timings: [],       // {what, ms}: from a change to the frame that shows the new picture
};
window.lab = lab;    // for the browser tests and the curious

// ---------------------------------------------------------------- settings <-> controls

function settings() {
  const feats = ["x2", "y2", "xy"].filter((f) => $("f-" + f).checked);
  return {
    kind: $("kind").value, classes: +$("classes").value, n: +$("n").value,
    noise: +$("noise").value, seed: +$("seed").value, valpct: +$("valpct").value,
    loss: $("loss").value, delta: +$("delta").value, reg: +$("reg").value,
    features: feats, optimizer: $("optimizer").value, lr: +$("lr").value,
    batch: +$("batch").value, speed: +$("speed").value, bands: $("bands").checked,
  };
}

function applySettings(s) {
  for (const key of ["kind", "classes", "n", "noise", "seed", "valpct", "loss", "delta", "reg",
                     "optimizer", "lr", "batch", "speed"]) {
    if (s[key] !== undefined && s[key] !== null && s[key] !== "") $(key).value = s[key];
  }
  if (s.features) for (const f of ["x2", "y2", "xy"]) $("f-" + f).checked = s.features.includes(f);
  if (s.bands !== undefined) $("bands").checked = !!s.bands;
}

function body(extra) {
  const s = settings();
  const out = {points: lab.points, classes: s.classes, loss: s.loss, delta: s.delta, reg: s.reg,
               features: s.features, optimizer: s.optimizer, lr: s.lr, batch: s.batch,
               seed: s.seed, t: lab.t, opt: lab.opt, grid: 80, view: VIEW};
  if (lab.W) { out.W = lab.W; out.b = lab.b; }
  return Object.assign(out, extra || {});
}

// ---------------------------------------------------------------- the server

async function api(name, payload) {
  const response = await fetch("/api/" + name, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function status(text, isError) {
  $("status").textContent = text || "";
  $("status").className = isError ? "error" : "";
}

// One request at a time; while one is out, only the latest change waits (a drag sends many).
function timed(what, started) {
  requestAnimationFrame(() => lab.timings.push({what, ms: performance.now() - started}));
}

async function evaluate(check = true, what = "change") {
  const started = performance.now();
  if (lab.busy) { lab.pending = [check, what]; return; }
  lab.busy = true;
  const edits = lab.edits;
  try {
    const result = await api("evaluate", body({check}));
    // W and b changed on the page since this was asked (the mouse moved on): the answer is
    // shown (the picture catches up with the line) but it does not move the line back; the
    // request waiting (every change asks) brings the numbers of what the page holds now
    if (lab.edits === edits) { lab.W = result.W; lab.b = result.b; }
    show(result);
    timed(what, started);
    status("");
  } catch (e) { status(e.message, true); }
  release();
}

// The request is answered: send the change that waited for it, if any (the URL follows that one).
function release() {
  lab.busy = false;
  if (lab.pending !== null) { const [c, w] = lab.pending; lab.pending = null; evaluate(c, w); }
  else saveUrl();
}

async function train(steps) {
  // wait for a request already out (a drag's, say): a step starts from its answer
  while (lab.busy) await new Promise((r) => setTimeout(r, 5));
  lab.busy = true;
  const started = performance.now();
  let ok = true;
  const edits = lab.edits;
  try {
    const result = await api("train", body({steps, check: !lab.playing}));
    // a line dragged while the step was out wins: the step, made from the old weights, is
    // dropped, and the next one starts where the hand left the line
    if (lab.edits !== edits) { release(); return ok; }
    lab.W = result.W; lab.b = result.b; lab.t = result.t; lab.opt = result.opt;
    lab.history.push(...result.history);
    show(result);
    timed(lab.playing ? "play" : "step", started);
    if (result.diverged) { status(result.diverged, true); ok = false; } else status("");
  } catch (e) { status(e.message, true); ok = false; }
  release();
  return ok;
}

async function newData() {
  const s = settings();
  try {
    const answer = await api("dataset", {kind: s.kind, classes: s.classes, n: s.n, noise: s.noise,
                                         seed: s.seed, val_fraction: s.valpct / 100});
    lab.points = answer.points;
    lab.edited = false;
    lab.selected = -1;
    resetWeights();
  } catch (e) { status(e.message, true); }
}

function resetWeights() {
  lab.W = null; lab.b = null; lab.t = 0; lab.opt = []; lab.history = [];
  lab.edits++;
  evaluate();
}

// ---------------------------------------------------------------- drawing the plane

const plane = $("plane");
const ctx = plane.getContext("2d");
const toPx = (x, y) => [(x + VIEW) / (2 * VIEW) * plane.width, (VIEW - y) / (2 * VIEW) * plane.height];
const toData = (px, py) => [px / plane.width * 2 * VIEW - VIEW, VIEW - py / plane.height * 2 * VIEW];

function linear() { return settings().features.length === 0; }

// The foot of the perpendicular from the origin to the line w.x + b = 0, and the arrow's tip.
function handles(k) {
  const [w0, w1] = lab.W[k];
  const n2 = w0 * w0 + w1 * w1 || 1e-12;
  const foot = [-lab.b[k] * w0 / n2, -lab.b[k] * w1 / n2];
  return {foot, tip: [foot[0] + ARROW * w0, foot[1] + ARROW * w1]};
}

function lineAt(k, level) {
  // the points of w.x + b = level at the edges of the view
  const [w0, w1] = lab.W[k], c = lab.b[k] - level;
  const pts = [];
  if (Math.abs(w1) > 1e-12) for (const x of [-VIEW, VIEW]) pts.push([x, -(w0 * x + c) / w1]);
  if (Math.abs(w0) > 1e-12) for (const y of [-VIEW, VIEW]) pts.push([-(w1 * y + c) / w0, y]);
  const inside = pts.filter(([x, y]) => Math.abs(x) <= VIEW + 1e-9 && Math.abs(y) <= VIEW + 1e-9);
  return inside.length >= 2 ? [inside[0], inside[inside.length - 1]] : null;
}

function drawPlane() {
  const r = lab.result;
  ctx.clearRect(0, 0, plane.width, plane.height);
  if (r && r.map) {
    // the class map: one pixel per cell, scaled up without smoothing
    const g = r.grid;
    if (!lab.mapCanvas || lab.mapCanvas.width !== g) {
      lab.mapCanvas = document.createElement("canvas");
      lab.mapCanvas.width = lab.mapCanvas.height = g;
    }
    const m = lab.mapCanvas.getContext("2d"), image = m.createImageData(g, g);
    for (let i = 0; i < g * g; i++) {
      const rgb = RGB[+r.map[i]];
      image.data.set([rgb[0], rgb[1], rgb[2], 56], 4 * i);
    }
    m.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(lab.mapCanvas, 0, 0, plane.width, plane.height);
  }
  // axes
  ctx.strokeStyle = "#bbb"; ctx.lineWidth = 1;
  const [ox, oy] = toPx(0, 0);
  ctx.beginPath(); ctx.moveTo(0, oy); ctx.lineTo(plane.width, oy); ctx.moveTo(ox, 0); ctx.lineTo(ox, plane.height); ctx.stroke();
  if (lab.W && linear()) {
    for (let k = 0; k < lab.W.length; k++) {
      ctx.strokeStyle = COLORS[k];
      const levels = settings().bands ? [0, settings().delta, -settings().delta] : [0];
      for (const level of levels) {
        const seg = lineAt(k, level);
        if (!seg) continue;
        ctx.setLineDash(level === 0 ? [] : [5, 5]);
        ctx.lineWidth = level === 0 ? 2.5 : 1;
        ctx.beginPath(); ctx.moveTo(...toPx(...seg[0])); ctx.lineTo(...toPx(...seg[1])); ctx.stroke();
      }
      ctx.setLineDash([]);
      const {foot, tip} = handles(k);
      const [fx, fy] = toPx(...foot), [tx, ty] = toPx(...tip);
      ctx.lineWidth = 2; ctx.beginPath(); ctx.moveTo(fx, fy); ctx.lineTo(tx, ty); ctx.stroke();
      const a = Math.atan2(ty - fy, tx - fx);
      ctx.fillStyle = COLORS[k];
      ctx.beginPath(); ctx.moveTo(tx, ty);
      ctx.lineTo(tx - 10 * Math.cos(a - 0.4), ty - 10 * Math.sin(a - 0.4));
      ctx.lineTo(tx - 10 * Math.cos(a + 0.4), ty - 10 * Math.sin(a + 0.4)); ctx.fill();
      ctx.beginPath(); ctx.arc(fx, fy, 6, 0, 2 * Math.PI); ctx.fill();
      ctx.strokeStyle = "#fff"; ctx.lineWidth = 1.5; ctx.stroke();
    }
  }
  lab.points.forEach(([x, y, c, held], i) => {
    const [px, py] = toPx(x, y);
    const violated = r && r.point_loss && r.point_loss[i] > 0 && r.pred && r.pred[i] !== c;
    ctx.beginPath(); ctx.arc(px, py, i === lab.selected ? 7 : 5, 0, 2 * Math.PI);
    if (held) { ctx.fillStyle = "#fff"; ctx.fill(); ctx.strokeStyle = COLORS[c]; ctx.lineWidth = 2.5; ctx.stroke(); }
    else { ctx.fillStyle = COLORS[c]; ctx.fill(); ctx.strokeStyle = violated ? "#000" : "#fff"; ctx.lineWidth = violated ? 2 : 1; ctx.stroke(); }
    if (i === lab.selected) { ctx.beginPath(); ctx.arc(px, py, 11, 0, 2 * Math.PI); ctx.strokeStyle = "#000"; ctx.lineWidth = 1.5; ctx.stroke(); }
  });
}

// ---------------------------------------------------------------- curves and tables

function drawCurve(canvas, keys, title, yMax) {
  const c = canvas.getContext("2d"), h = lab.history;
  c.clearRect(0, 0, canvas.width, canvas.height);
  c.fillStyle = "#222"; c.font = "12px sans-serif"; c.fillText(title, 6, 14);
  const pad = 24, w = canvas.width - 2 * pad, ht = canvas.height - 2 * pad;
  c.strokeStyle = "#ccc"; c.strokeRect(pad, pad, w, ht);
  if (!h.length) return;
  const values = h.flatMap((row) => keys.map((k) => row[k])).filter((v) => v !== null && isFinite(v));
  const top = yMax || Math.max(...values, 1e-9);
  c.fillStyle = "#777"; c.fillText(top.toPrecision(3), pad + 3, pad + 12);
  c.fillText("step " + h[h.length - 1].t, canvas.width - 70, canvas.height - 6);
  keys.forEach((k, j) => {
    c.strokeStyle = j ? "#ff7f0e" : "#1f77b4"; c.lineWidth = 1.5; c.beginPath();
    h.forEach((row, i) => {
      if (row[k] === null) return;
      const x = pad + (h.length === 1 ? w : i / (h.length - 1) * w), y = pad + ht * (1 - Math.min(row[k] / top, 1));
      i ? c.lineTo(x, y) : c.moveTo(x, y);
    });
    c.stroke();
    c.fillStyle = c.strokeStyle; c.fillText(j ? "validation" : "training", pad + 60 + 75 * j, 14);
  });
}

const f4 = (v) => (v === null || v === undefined) ? "–" : Number(v).toPrecision(4).replace(/\.?0+(e|$)/, "$1");

function cell(tag, text, cls) {
  const e = document.createElement(tag);
  e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function table(headers, rows) {
  const t = document.createElement("table");
  const head = t.insertRow();
  headers.forEach((h) => head.appendChild(cell("th", h)));
  rows.forEach((row) => { const tr = t.insertRow(); row.forEach((v) => tr.appendChild(cell("td", v))); });
  return t;
}

function showGradients(r) {
  const box = $("gradients");
  box.replaceChildren();
  if (!r.dW) { box.textContent = "no training points"; return; }
  const names = ["x", "y", ...settings().features.map((f) => ({x2: "x²", y2: "y²", xy: "xy"})[f])];
  const rows = [];
  r.dW.forEach((row, k) => row.forEach((g, d) => rows.push(
    [`W[${k},${d}] (${names[d]})`, f4(r.W[k][d]), f4(g), r.num_dW ? f4(r.num_dW[k][d]) : "–"])));
  r.db.forEach((g, k) => rows.push([`b[${k}]`, f4(r.b[k]), f4(g), r.num_db ? f4(r.num_db[k]) : "–"]));
  box.appendChild(table(["parameter", "value", "analytic ∂L/∂p", "numerical"], rows));
  if (r.rel_error !== undefined) {
    const p = cell("p", `relative error, analytic vs numerical: ${r.rel_error.toExponential(1)}` +
                       (r.rel_error > 1e-5 ? " (a point sits on a hinge's kink: the centred difference straddles it)" : ""));
    box.appendChild(p);
  }
}

function showConfusion(r) {
  const box = $("confusion");
  box.replaceChildren();
  for (const [title, m] of [["training", r.confusion], ["validation", r.val_confusion]]) {
    const div = document.createElement("div");
    div.appendChild(cell("div", title));
    div.appendChild(table(["", ...m.map((_, k) => "→" + k)], m.map((row, k) => [String(k), ...row.map(String)])));
    box.appendChild(div);
  }
}

function showPoints(r) {
  const box = $("points-table");
  // the answer may be for the points before an edit; its rows are redrawn when the next comes
  const C = r.W.length, shown = Math.min(lab.points.length, r.scores.length, 300);
  const columns = 7 + C;
  let t = box.querySelector("table");
  // the same rows and columns as last time: change the cells' text only (much faster)
  if (!t || t.rows.length !== shown + 1 || t.rows[0].cells.length !== columns) {
    t = table(["#", "x", "y", "class", "set", ...Array.from({length: C}, (_, k) => "s" + k), "loss", "violated"], []);
    for (let i = 0; i < shown; i++) {
      const tr = t.insertRow();
      tr.dataset.index = i;
      for (let j = 0; j < columns; j++) tr.appendChild(cell("td", "", j === columns - 2 ? "loss" : ""));
      tr.addEventListener("click", () => select(i));
    }
    box.replaceChildren(t);
    if (shown < lab.points.length) box.appendChild(cell("p", `the first ${shown} of ${lab.points.length} points`));
  }
  const softmax = settings().loss === "softmax";
  for (let i = 0; i < shown; i++) {
    const [x, y, c, held] = lab.points[i], tr = t.rows[i + 1];
    tr.className = i === lab.selected ? "selected" : "";
    if (r.violated[i].length || (softmax && r.pred[i] !== c)) tr.classList.add("violated");
    const texts = [String(i), f4(x), f4(y), String(c), held ? "val" : "train", ...r.scores[i].map(f4),
                   f4(r.point_loss[i]), r.violated[i].join(" ")];
    texts.forEach((v, j) => { if (tr.cells[j].textContent !== v) tr.cells[j].textContent = v; });
  }
}

function showSummary(r) {
  const s = $("summary");
  s.replaceChildren();
  const line = (text, cls) => s.appendChild(cell("div", text, cls));
  line(`step ${lab.t} · training loss ${f4(r.loss)} (penalty ${f4(r.penalty)}) · validation loss ${f4(r.val_loss)}`);
  line(`accuracy: training ${r.acc === null ? "–" : (100 * r.acc).toFixed(1) + "%"} · validation ${r.val_acc === null ? "–" : (100 * r.val_acc).toFixed(1) + "%"}`);
}

// The picture (plane, summary, curves) first; the tables in the next frame, so that a drag or
// a step is seen without waiting for them.
function show(r) {
  lab.result = r;
  drawPlane();
  showSummary(r);
  drawCurve($("loss-curve"), ["loss", "val_loss"], "loss");
  drawCurve($("acc-curve"), ["acc", "val_acc"], "accuracy", 1);
  $("draw-point").disabled = $("open-circuit").disabled = lab.selected < 0;
  if (!lab.tablesQueued) {
    lab.tablesQueued = true;
    // in the frame after the picture's: the picture is painted without waiting for them
    requestAnimationFrame(() => requestAnimationFrame(() => {
      lab.tablesQueued = false;
      showGradients(lab.result);
      showConfusion(lab.result);
      showPoints(lab.result);
      document.body.dataset.ready = "1";
    }));
  }
}

// ---------------------------------------------------------------- editing with the mouse

function select(i) {
  lab.selected = i;
  $("draw-point").disabled = $("open-circuit").disabled = i < 0;
  if (lab.result) { drawPlane(); showPoints(lab.result); }
  saveUrl();
}

function hit(px, py) {
  // what is under the mouse: a line handle first, then a point
  if (lab.W && linear()) {
    for (let k = lab.W.length - 1; k >= 0; k--) {
      const {foot, tip} = handles(k);
      for (const [what, p] of [["tip", tip], ["foot", foot]]) {
        const [hx, hy] = toPx(...p);
        if (Math.hypot(hx - px, hy - py) < 9) return {kind: what, k};
      }
    }
  }
  for (let i = lab.points.length - 1; i >= 0; i--) {
    const [x, y] = toPx(lab.points[i][0], lab.points[i][1]);
    if (Math.hypot(x - px, y - py) < 7) return {kind: "point", i};
  }
  return null;
}

let drag = null;
const round4 = (v) => Math.round(v * 1e4) / 1e4;

function mouse(e) {
  const rect = plane.getBoundingClientRect();
  return [(e.clientX - rect.left) * plane.width / rect.width, (e.clientY - rect.top) * plane.height / rect.height];
}

plane.addEventListener("pointerdown", (e) => {
  const [px, py] = mouse(e);
  const target = hit(px, py);
  if (target) {
    drag = Object.assign(target, {moved: false, downX: e.clientX, downY: e.clientY});
    if (target.kind === "tip" || target.kind === "foot") drag.start = handles(target.k);
    if (target.kind === "point") select(target.i);
    plane.setPointerCapture(e.pointerId);
  } else {
    const [x, y] = toData(px, py);
    lab.points.push([round4(x), round4(y), lab.newClass, 0]);
    lab.edited = true;
    select(lab.points.length - 1);
    evaluate();
  }
});

// Where a drag puts what it holds. Also on release: Chromium may fold the last moves into the
// pointerup, and the line must end where the mouse was let go.
function dragTo(e) {
  const [x, y] = toData(...mouse(e));
  drag.moved = true;
  if (drag.kind !== "point") lab.edits++;
  if (drag.kind === "point") {
    lab.points[drag.i][0] = round4(x); lab.points[drag.i][1] = round4(y);
    lab.edited = true;
  } else if (drag.kind === "foot") {
    // move the line: the same w, through the mouse
    const [w0, w1] = lab.W[drag.k];
    lab.b[drag.k] = -(w0 * x + w1 * y);
  } else {
    // turn and stretch w so that the arrow ends at the mouse, the line keeping its foot
    const foot = drag.start.foot;
    const w0 = (x - foot[0]) / ARROW, w1 = (y - foot[1]) / ARROW;
    lab.W[drag.k][0] = w0; lab.W[drag.k][1] = w1;
    lab.b[drag.k] = -(w0 * foot[0] + w1 * foot[1]);
  }
}

plane.addEventListener("pointermove", (e) => {
  if (!drag) return;
  dragTo(e);
  drawPlane();
  evaluate(false, "drag");
});

plane.addEventListener("pointerup", (e) => {
  if (drag && (drag.moved || e.clientX !== drag.downX || e.clientY !== drag.downY)) {
    dragTo(e);
    drawPlane();
    evaluate(true);
  }
  drag = null;
});

plane.addEventListener("dblclick", (e) => {
  const target = hit(...mouse(e));
  if (target && target.kind === "point") removePoint(target.i);
});

document.addEventListener("keydown", (e) => {
  if ((e.key === "Delete" || e.key === "Backspace") && lab.selected >= 0 && e.target === document.body) removePoint(lab.selected);
});

function removePoint(i) {
  lab.points.splice(i, 1);
  lab.edited = true;
  select(-1);
  evaluate();
}

function drawPalette() {
  const box = $("palette");
  box.replaceChildren();
  const C = settings().classes;
  if (lab.newClass >= C) lab.newClass = 0;
  for (let k = 0; k < C; k++) {
    const b = cell("button", "", k === lab.newClass ? "active" : "");
    b.style.background = COLORS[k];
    b.title = `new points are of class ${k}`;
    b.setAttribute("aria-label", `class ${k}`);
    b.addEventListener("click", () => { lab.newClass = k; drawPalette(); });
    box.appendChild(b);
  }
}

// ---------------------------------------------------------------- the URL holds the state

function encodeNumbers(list) { return list.map((v) => String(v)).join(","); }

function saveUrl() {
  const s = settings(), q = new URLSearchParams();
  for (const key of ["kind", "classes", "n", "noise", "seed", "valpct", "loss", "delta", "reg", "optimizer", "lr", "batch", "speed"]) q.set(key, s[key]);
  q.set("features", s.features.join(","));
  if (!s.bands) q.set("bands", "0");
  if (lab.W) { q.set("W", encodeNumbers(lab.W.flat())); q.set("b", encodeNumbers(lab.b)); q.set("t", lab.t); }
  if (lab.edited) q.set("points", lab.points.map((p) => p.join(",")).join(";"));
  if (lab.selected >= 0) q.set("point", lab.selected);
  const tab = document.querySelector(".tab.active").dataset.tab;
  if (tab !== "loss") q.set("tab", tab);
  if (window.circuitLab) window.circuitLab.saveTo(q);
  const hidden = new URLSearchParams(location.hash.slice(1)).get("hide");
  if (hidden) q.set("hide", hidden);
  history.replaceState(null, "", "#" + q.toString());
}

function loadUrl() {
  const q = new URLSearchParams(location.hash.slice(1));
  const s = {};
  for (const key of ["kind", "classes", "n", "noise", "seed", "valpct", "loss", "delta", "reg", "optimizer", "lr", "batch", "speed"]) if (q.has(key)) s[key] = q.get(key);
  if (q.has("features")) s.features = q.get("features").split(",").filter(Boolean);
  if (q.has("bands")) s.bands = q.get("bands") !== "0";
  applySettings(s);
  const C = settings().classes, D = 2 + settings().features.length;
  let weights = null;
  if (q.has("W") && q.has("b")) {
    const w = q.get("W").split(",").map(Number), b = q.get("b").split(",").map(Number);
    if (w.length === C * D && b.length === C && [...w, ...b].every(isFinite)) {
      weights = {W: Array.from({length: C}, (_, k) => w.slice(k * D, (k + 1) * D)), b, t: +q.get("t") || 0};
    } else status("the link's weights do not fit its classes and features: starting from the seed", true);
  }
  let points = null;
  if (q.has("points")) {
    points = q.get("points").split(";").filter(Boolean).map((row) => row.split(",").map(Number));
    if (!points.every((p) => p.length === 4 && p.every(isFinite))) { status("the link's points are damaged: new data from the seed", true); points = null; }
  }
  for (const panel of (q.get("hide") || "").split(",")) {
    if (!PANELS.includes(panel)) continue;
    document.querySelectorAll(`[data-panel="${panel}"]`).forEach((e) => e.dataset.hidden = "1");
    if (panel === "circuit") $("tab-circuit").dataset.hidden = "1";
  }
  return {weights, points, selected: q.has("point") ? +q.get("point") : -1, tab: q.get("tab") || "loss", q};
}

// ---------------------------------------------------------------- files

function download(name, text, type) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], {type}));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function exportState() {
  return {format: "linclass-playground", version: 1, settings: settings(), points: lab.points,
          W: lab.W, b: lab.b, t: lab.t, opt: lab.opt, history: lab.history};
}

async function importState(data) {
  if (!data || data.format !== "linclass-playground") throw new Error("not a linclass playground state file");
  applySettings(data.settings || {});
  lab.points = data.points || [];
  lab.edited = true;
  lab.W = data.W || null; lab.b = data.b || null; lab.t = data.t || 0; lab.opt = data.opt || [];
  lab.edits++;
  lab.history = data.history || [];
  lab.selected = -1;
  drawPalette();
  await evaluate();
}

function parseCsv(text) {
  const rows = text.trim().split(/\r?\n/);
  if (/[a-z]/i.test(rows[0])) rows.shift();  // a header
  const C = settings().classes;
  return rows.map((line, i) => {
    const p = line.split(",").map((v) => Number(v.trim()));
    if (p.length < 3 || p.length > 4 || !p.every(isFinite)) throw new Error(`line ${i + 1} is not x,y,class[,held_out]`);
    if (!Number.isInteger(p[2]) || p[2] < 0 || p[2] >= C) throw new Error(`line ${i + 1}: the class must be 0 to ${C - 1}`);
    return [p[0], p[1], p[2], p[3] ? 1 : 0];
  });
}

function readFile(input, use) {
  const file = input.files[0];
  if (!file) return;
  if (file.size > 512 * 1024) { status("the file is over 512 KB", true); return; }
  file.text().then(use).catch((e) => status("cannot import: " + e.message, true)).finally(() => { input.value = ""; });
}

// ---------------------------------------------------------------- wiring

async function play() {
  lab.playing = !lab.playing;
  $("play").textContent = lab.playing ? "Pause" : "Play";
  if (!lab.playing) return;
  while (lab.playing) {
    const ok = await train(settings().speed);
    if (!ok) { lab.playing = false; $("play").textContent = "Play"; }
    await new Promise((r) => requestAnimationFrame(r));
  }
  await evaluate();  // paused: the numerical check again (skipped while playing)
}

function setTab(tab) {
  document.querySelectorAll(".tab").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
  $("lab-loss").hidden = tab !== "loss";
  $("lab-circuit").hidden = tab !== "circuit";
  saveUrl();
}

function wire() {
  $("new-data").addEventListener("click", newData);
  for (const id of ["kind", "n", "noise", "seed", "valpct"]) $(id).addEventListener("change", newData);
  $("classes").addEventListener("change", () => { drawPalette(); newData(); });
  for (const id of ["f-x2", "f-y2", "f-xy"]) $(id).addEventListener("change", resetWeights);
  for (const id of ["loss", "delta", "reg", "bands"]) $(id).addEventListener("change", () => evaluate());
  for (const id of ["optimizer", "lr", "batch", "speed"]) $(id).addEventListener("change", () => { lab.opt = []; saveUrl(); });
  $("step").addEventListener("click", () => train(settings().speed));
  $("play").addEventListener("click", play);
  $("reset").addEventListener("click", () => { lab.playing = false; $("play").textContent = "Play"; resetWeights(); });
  $("copy-link").addEventListener("click", () => { saveUrl(); navigator.clipboard?.writeText(location.href); status("link copied"); });
  $("export-json").addEventListener("click", () => download("playground.json", JSON.stringify(exportState(), null, 1), "application/json"));
  $("export-csv").addEventListener("click", () => download("points.csv", "x,y,class,held_out\n" + lab.points.map((p) => p.join(",")).join("\n") + "\n", "text/csv"));
  $("import-json").addEventListener("change", (e) => readFile(e.target, (text) => importState(JSON.parse(text))));
  $("import-csv").addEventListener("change", (e) => readFile(e.target, (text) => { lab.points = parseCsv(text); lab.edited = true; select(-1); resetWeights(); }));
  document.querySelectorAll(".tab").forEach((b) => b.addEventListener("click", () => setTab(b.dataset.tab)));
  $("open-circuit").addEventListener("click", () => { setTab("circuit"); window.circuitLab.drawPoint(); });
}

async function start() {
  wire();
  const url = loadUrl();
  drawPalette();
  if (url.points) { lab.points = url.points; lab.edited = true; }
  else {
    const s = settings();
    lab.points = (await api("dataset", {kind: s.kind, classes: s.classes, n: s.n, noise: s.noise, seed: s.seed, val_fraction: s.valpct / 100})).points;
  }
  if (url.weights) Object.assign(lab, url.weights);
  lab.selected = url.selected < lab.points.length ? url.selected : -1;
  if (window.circuitLab) window.circuitLab.init(url.q);
  setTab(url.tab === "circuit" ? "circuit" : "loss");
  await evaluate();
  if (url.tab === "circuit" && window.circuitLab) await window.circuitLab.first();
}

window.addEventListener("DOMContentLoaded", () => start().catch((e) => status(e.message, true)));
window.playground = {api, evaluate, train, body, settings, newData, select, saveUrl};
