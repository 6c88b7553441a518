"""Circuits for the circuit lab, built by linclass's graph engine and sent to the page as JSON.

``point_circuit(state, i)`` is the score -> loss circuit of one point: its features, each
class's score ``s_k = sum_d W[k,d] phi_d + b[k]`` and the loss of the lab's choice, gate by gate,
with the forward value and the gradient on every wire. ``expression_circuit(text, values)`` is
any expression ``linclass circuit`` accepts, parsed by the same ``ast`` walker (never ``eval``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

from ..graph import Node, ops
from ..graph.engine import topological_order
from ..graph.expr import Circuit, build_circuit
from ..graph.render import fmt, local_gradients, wire_gradient
from .lab import _weights
from .state import LabState, StateError

__all__ = ["point_circuit", "expression_circuit", "circuit_json"]


def _number(x: ArrayLike) -> float | None:
    """A float for JSON (None where it is not finite: JSON has no inf or NaN)."""
    v = float(np.asarray(x))
    return v if math.isfinite(v) else None


def circuit_json(circuit: Circuit) -> dict[str, Any]:
    """The circuit as plain data: nodes in forward order, each with its kind, label, value,
    gradient, operands, local gradients and the gradient sent back along each operand's wire."""
    circuit.backward()
    order = topological_order(circuit.output)
    ids = {id(n): i for i, n in enumerate(order)}
    nodes = []
    for n in order:
        kind = "gate" if n.parents else ("input" if n.requires_grad else "constant")
        node = {
            "id": ids[id(n)],
            "kind": kind,
            "label": n.label or "",
            "op": ops.symbol(n.op) if n.parents else None,
            "value": _number(n.value),
            "value_text": fmt(n.value),
            "grad": None if n.grad is None else _number(n.grad),
            "grad_text": fmt(n.grad),
            "parents": [ids[id(p)] for p in n.parents],
        }
        if n.parents:
            local = local_gradients(n)
            wires = [wire_gradient(n, i) for i in range(len(n.parents))]
            node["local"] = [_number(g) for g in local]
            node["local_text"] = [fmt(g) for g in local]
            node["wire_grads"] = [None if g is None else _number(g) for g in wires]
        nodes.append(node)
    return {"expression": circuit.expression, "nodes": nodes, "output": ids[id(circuit.output)]}


def _loss_graph(name: str, s: Sequence[Node], y: int, delta: float) -> Node:
    """The loss of one point on its score nodes ``s``, with the subgradient conventions of
    ``linclass.losses`` (max(0, m) passes no gradient at m = 0; ties go to the first class)."""
    n_classes = len(s)
    if name == "softmax":
        total = ops.exp(s[0])
        for k in range(1, n_classes):
            total = total + ops.exp(s[k])
        total.label = "Σexp"
        return ops.log(total) - s[y]
    if name == "one_vs_all":
        terms = []
        for k in range(n_classes):
            m = (delta - s[k]) if k == y else (s[k] + delta)
            m.label = f"m{k}"
            terms.append(ops.maximum(0.0, m))
    else:
        margins = []
        for k in range(n_classes):
            if k != y:
                m = s[k] - s[y] + delta
                m.label = f"m{k}"
                margins.append(m)
        if name == "crammer_singer":
            worst = margins[0]
            for m in margins[1:]:
                worst = ops.maximum(worst, m)
            terms = [ops.maximum(0.0, worst)]
        else:
            terms = [ops.maximum(0.0, m) for m in margins]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def point_circuit(state: LabState, index: int) -> Circuit:
    """The score -> loss circuit of point ``index`` for the lab's current weights and loss.

    The penalty is not in it (it does not depend on the point): the output is the point's own
    loss ``L_i``, and the gradients on the W and b inputs are ``dL_i/dW`` and ``dL_i/db``.
    """
    if not 0 <= index < len(state.y):
        raise StateError(f"point must be from 0 to {len(state.y) - 1}; got {index}.")
    W, b = _weights(state)
    x, y_ = state.X[index]
    px, py = Node(float(x), label="x"), Node(float(y_), label="y")
    phi = [px, py]
    maps = {"x2": (px, px, "x²"), "y2": (py, py, "y²"), "xy": (px, py, "xy")}
    for f in state.features:
        a, c, label = maps[f]
        node = a * c
        node.label = label
        phi.append(node)
    weights: dict[tuple[int, int | str], Node] = {}
    s = []
    for k in range(state.n_classes):
        total: Node | None = None
        for d, feature in enumerate(phi):
            w = weights[k, d] = Node(float(W[k, d]), label=f"W[{k},{d}]")
            term = w * feature
            total = term if total is None else total + term
        bias = weights[k, "b"] = Node(float(b[k]), label=f"b[{k}]")
        score = cast(Node, total) + bias
        score.label = f"s{k}"
        s.append(score)
    out = _loss_graph(state.loss, s, int(state.y[index]), state.delta)
    out.label = "L"
    inputs = {"x": px, "y": py}
    inputs.update({str(n.label): n for n in weights.values()})
    loss = {
        "weston_watkins": "Weston-Watkins hinge",
        "crammer_singer": "Crammer-Singer hinge",
        "one_vs_all": "one-vs-all hinge",
        "softmax": "softmax cross-entropy",
    }[state.loss]
    title = f"point {index} (class {int(state.y[index])}): scores -> {loss}"
    return Circuit(title, out, inputs)


def expression_circuit(expression: str, values: Any) -> Circuit:
    """Any expression of ``linclass circuit`` at the given input values (a dict name -> float)."""
    if not isinstance(values, dict) or len(values) > 100:
        raise StateError("values must be an object of at most 100 name: number pairs.")
    clean = {}
    for name, value in values.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise StateError(f"the value of {name!r} must be a finite number.")
        clean[str(name)] = float(value)
    return build_circuit(expression, clean)
