// The circuit lab: draws a circuit that linclass's graph engine built (/api/circuit for a
// point's score -> loss circuit, /api/expression for a typed expression), with the forward
// value (green) and the gradient flowing back (red) on every wire, gate by gate.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const COL = 150, ROW = 64, PAD = 40;
  const cl = {circuit: null, stage: 0, source: null};  // stage: 0..2G (forward gates, then backward)
  window.circuitLab = cl;

  // Columns by depth, inputs and constants just before their first gate; rows ordered by the
  // mean row of their operands (a few sweeps), which keeps most wires short and straight.
  function layout(c) {
    const nodes = c.nodes, depth = new Array(nodes.length).fill(0);
    for (const n of nodes) if (n.parents.length) depth[n.id] = 1 + Math.max(...n.parents.map((p) => depth[p]));
    const users = nodes.map(() => []);
    for (const n of nodes) for (const p of n.parents) users[p].push(n.id);
    // an input or constant sits just before its first gate (b[k] beside its "+", not far left)
    for (const n of nodes) if (n.kind !== "gate" && users[n.id].length) depth[n.id] = Math.min(...users[n.id].map((u) => depth[u])) - 1;
    const columns = [];
    nodes.forEach((n) => (columns[depth[n.id]] = columns[depth[n.id]] || []).push(n.id));
    const row = new Array(nodes.length).fill(0);
    columns.forEach((col) => col.forEach((id, i) => (row[id] = i)));
    for (let sweep = 0; sweep < 4; sweep++) {
      for (const col of columns) {
        if (!col) continue;
        const key = (id) => {
          const n = nodes[id], near = n.parents.length ? n.parents : users[id];
          return near.length ? near.reduce((s, p) => s + row[p], 0) / near.length : row[id];
        };
        col.sort((a, b) => key(a) - key(b));
        col.forEach((id, i) => (row[id] = i));
      }
    }
    const tallest = Math.max(...columns.filter(Boolean).map((c) => c.length));
    const pos = nodes.map((n) => {
      const col = columns[depth[n.id]];
      const offset = (tallest - col.length) / 2;
      return [PAD + depth[n.id] * COL, PAD + (row[n.id] + offset) * ROW];
    });
    return {pos, width: PAD * 2 + (columns.length) * COL, height: PAD * 2 + tallest * ROW};
  }

  function el(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Which numbers are visible at this stage: the forward pass reveals gates' values one by one
  // (inputs and constants are known from the start); the backward pass, in reverse order,
  // reveals the gradient each gate sends down its wires.
  function visible(c) {
    const gates = c.nodes.filter((n) => n.kind === "gate").map((n) => n.id);
    const G = gates.length, s = cl.stage;
    const value = new Set(c.nodes.filter((n) => n.kind !== "gate").map((n) => n.id));
    gates.slice(0, Math.min(s, G)).forEach((id) => value.add(id));
    const sent = new Set(gates.slice().reverse().slice(0, Math.max(0, s - G)));
    return {value, sent, G};
  }

  function draw() {
    const c = cl.circuit, box = $("circuit");
    box.replaceChildren();
    if (!c) return;
    const {pos, width, height} = layout(c);
    const {value, sent, G} = visible(c);
    const svg = el("svg", {width: width + 60, height, viewBox: `0 0 ${width + 60} ${height}`, role: "img"});
    svg.appendChild(el("title", {}, c.expression));
    for (const n of c.nodes) {
      n.parents.forEach((p, i) => {
        const [x1, y1] = pos[p], [x2, y2] = pos[n.id];
        const mx = (x1 + x2) / 2;
        svg.appendChild(el("path", {d: `M${x1 + 18},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 16},${y2}`, fill: "none", stroke: "#90a4ae", "stroke-width": 1.3}));
        // the labels sit at the middle of the curve, where wires into one gate are apart
        const lx = x2 - 16 - (x2 - 16 - x1 - 18) / 2, ly = (y1 + y2) / 2;
        const label = {x: lx, "text-anchor": "middle", "font-size": 11, "paint-order": "stroke", stroke: "#fff", "stroke-width": 3};
        if (value.has(p)) svg.appendChild(el("text", Object.assign({y: ly - 3, class: "wire-value", fill: "#2e7d32"}, label), c.nodes[p].value_text));
        if (sent.has(n.id)) {
          const g = n.wire_grads[i];
          svg.appendChild(el("text", Object.assign({y: ly + 11, class: "wire-grad", fill: "#c62828"}, label), g === null ? "–" : fmt(g)));
        }
      });
    }
    for (const n of c.nodes) {
      const [x, y] = pos[n.id];
      const g = el("g", {"data-id": n.id, class: "node " + n.kind});
      if (n.kind === "gate") {
        g.appendChild(el("circle", {cx: x, cy: y, r: 16, fill: "#fff", stroke: "#263238", "stroke-width": 1.5}));
        g.appendChild(el("text", {x, y: y + 5, "text-anchor": "middle", "font-size": 14}, n.op));
        if (n.label) g.appendChild(el("text", {x, y: y - 21, "text-anchor": "middle", "font-size": 10, fill: "#555"}, n.label));
        g.addEventListener("mouseenter", (e) => tip(e, n));
        g.addEventListener("mouseleave", () => ($("tooltip").hidden = true));
      } else {
        g.appendChild(el("text", {x: x + 14, y: y + 4, "text-anchor": "end", "font-size": n.kind === "input" ? 13 : 11, "font-weight": n.kind === "input" ? 600 : 400, fill: n.kind === "input" ? "#222" : "#777"}, n.label || n.value_text));
        if (n.kind === "input" && cl.stage === 2 * G) {
          g.appendChild(el("text", {x: x + 14, y: y + 17, "text-anchor": "end", "font-size": 10, fill: "#c62828", class: "input-grad"}, "∂=" + n.grad_text));
        }
      }
      svg.appendChild(g);
    }
    const out = c.nodes[c.output], [ox, oy] = pos[c.output];
    svg.appendChild(el("path", {d: `M${ox + 16},${oy} L${ox + 70},${oy}`, stroke: "#90a4ae", "stroke-width": 1.3}));
    if (value.has(c.output)) svg.appendChild(el("text", {x: ox + 24, y: oy - 4, fill: "#2e7d32", "font-size": 11}, out.value_text));
    if (cl.stage > G) svg.appendChild(el("text", {x: ox + 24, y: oy + 12, fill: "#c62828", "font-size": 11}, out.grad_text));
    box.appendChild(svg);
    const phase = cl.stage <= G ? `forward: ${cl.stage} of ${G} gates` : `backward: ${cl.stage - G} of ${G} gates`;
    $("circuit-title").textContent = `${c.expression} · ${out.label || "f"} = ${out.value_text} · ${phase}`;
  }

  function fmt(v) { return Number(v).toPrecision(4).replace(/\.?0+(e|$)/, "$1"); }

  function tip(e, n) {
    const c = cl.circuit, name = n.label ? `${n.label}, a ${n.op} gate` : `a ${n.op} gate`;
    const lines = [`${name}: value ${n.value_text}, gradient from above ${n.grad_text}`];
    n.parents.forEach((p, i) => {
      const q = c.nodes[p];
      if (q.kind === "constant") { lines.push(`to the constant ${q.value_text}: none (a constant takes no gradient)`); return; }
      const to = q.label || `the ${q.op} gate`;
      lines.push(`to ${to}: local ${n.local_text[i]} × ${n.grad_text} = ${n.wire_grads[i] === null ? "–" : fmt(n.wire_grads[i])}`);
    });
    const t = $("tooltip");
    t.textContent = lines.join("\n");
    t.style.left = e.clientX + 12 + "px";
    t.style.top = e.clientY + 12 + "px";
    t.hidden = false;
  }

  function parseValues(text) {
    const values = {};
    for (const item of text.split(/[\s,;]+/).filter(Boolean)) {
      const [name, v] = item.split("=");
      if (v === undefined || v.trim() === "" || !isFinite(Number(v))) throw new Error(`${item} is not NAME=NUMBER`);
      values[name.trim()] = Number(v);
    }
    return values;
  }

  async function load(kind, payload, all) {
    try {
      cl.circuit = await window.playground.api(kind, payload);
      const G = cl.circuit.nodes.filter((n) => n.kind === "gate").length;
      cl.stage = all ? 2 * G : 0;
      document.body.dataset.circuit = kind;
      draw();
      window.playground.saveUrl();
      $("status").textContent = "";
    } catch (e) {
      $("status").textContent = e.message;
      $("status").className = "error";
    }
  }

  cl.drawExpression = (all = true) => {
    let values;
    try { values = parseValues($("values").value); } catch (e) { $("status").textContent = e.message; $("status").className = "error"; return Promise.resolve(); }
    cl.source = "expression";
    return load("expression", {expression: $("expr").value, values}, all);
  };

  cl.drawPoint = (all = true) => {
    if (window.lab.selected < 0) return Promise.resolve();
    cl.source = "point";
    return load("circuit", window.playground.body({point: window.lab.selected}), all);
  };

  cl.saveTo = (q) => {
    q.set("expr", $("expr").value);
    q.set("values", $("values").value);
    if (cl.source) q.set("circuit", cl.source);
  };

  // the first drawing when the tab opens: the link's circuit, or the expression
  cl.first = () => {
    if (cl.circuit) return Promise.resolve();
    return cl.pending === "point" && window.lab.selected >= 0 ? cl.drawPoint() : cl.drawExpression();
  };

  cl.init = (q) => {
    if (q.has("expr")) $("expr").value = q.get("expr");
    if (q.has("values")) $("values").value = q.get("values");
    cl.pending = q.get("circuit");
  };

  // Forward reveals the next gate's value; Backward finishes the forward pass if it is not
  // done, then sends the gradient back through one more gate.
  function stageTo(next) {
    if (!cl.circuit) return;
    const G = cl.circuit.nodes.filter((n) => n.kind === "gate").length;
    cl.stage = Math.max(0, Math.min(2 * G, next(G)));
    draw();
  }

  window.addEventListener("DOMContentLoaded", () => {
    $("draw-expr").addEventListener("click", () => cl.drawExpression());
    $("expr").addEventListener("keydown", (e) => e.key === "Enter" && cl.drawExpression());
    $("values").addEventListener("keydown", (e) => e.key === "Enter" && cl.drawExpression());
    $("draw-point").addEventListener("click", () => {
      document.querySelector('.tab[data-tab="circuit"]').click();
      cl.drawPoint();
    });
    $("fwd").addEventListener("click", () => stageTo((G) => Math.min(cl.stage + 1, G)));
    $("bwd").addEventListener("click", () => stageTo((G) => Math.max(cl.stage, G) + 1));
    $("all").addEventListener("click", () => stageTo((G) => 2 * G));
    $("clear").addEventListener("click", () => stageTo(() => 0));
    document.querySelector('.tab[data-tab="circuit"]').addEventListener("click", () => cl.first());
  });
})();
