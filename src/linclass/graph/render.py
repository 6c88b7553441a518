"""Showing a circuit: its gate table, Graphviz DOT text, a text drawing, staged code.

Each wire carries two numbers, as in the course's figures: the forward value (first, green)
and the gradient of the output with respect to it (second, red). Run ``backward()`` on the
circuit before rendering.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..errors import LinclassError
from .engine import VJPS, Node, topological_order
from .ops import GATES, symbol

if TYPE_CHECKING:
    from .expr import Circuit

__all__ = [
    "gate_rows",
    "gate_code",
    "wire_gradient",
    "local_gradients",
    "to_dot",
    "render_dot",
    "require_dot",
    "text_drawing",
    "staged_lines",
    "fmt",
    "GraphvizMissing",
    "VALUE_COLOR",
    "GRAD_COLOR",
]

VALUE_COLOR = "#2e7d32"  # green: forward values
GRAD_COLOR = "#c62828"  # red: gradients


class GraphvizMissing(LinclassError, RuntimeError):
    """Graphviz's ``dot`` program is needed to draw a PNG or SVG and is not installed."""


def fmt(x: ArrayLike | None) -> str:
    """A number as the course writes it: short, at most 4 significant digits."""
    if x is None:
        return "-"
    x = np.asarray(x)
    if x.ndim:
        return f"array{x.shape}"
    v = float(x)
    if v == 0:
        return "0"
    return f"{v:.4g}"


def _name(node: Node) -> str:
    return node.label if node.label is not None else symbol(node.op)


def local_gradients(node: Node) -> list[np.ndarray]:
    """The gate's local gradient with respect to each operand (its vjp with g = 1)."""
    one = np.ones_like(node.value)
    with np.errstate(all="ignore"):  # inf and nan are shown, not warned about
        return [VJPS[node.op][i](one, node, i) for i in range(len(node.parents))]


def gate_rows(circuit: Circuit) -> list[dict[str, Any]]:
    """One dict per gate in forward order: gate, op, inputs, value, local grads, grad."""
    return [
        {
            "gate": _name(node),
            "op": symbol(node.op),
            "inputs": [_name(p) for p in node.parents],
            "value": node.value,
            "local": local_gradients(node),
            "grad": node.grad,
        }
        for node in circuit.gates()
    ]


def wire_gradient(node: Node, i: int) -> np.ndarray | None:
    """The gradient flowing back along the wire from operand ``i`` into ``node``: the
    upstream gradient times the local one. An operand used by several gates gets the sum of
    its wires' gradients."""
    if not node.parents[i].requires_grad or node.grad is None:
        return None
    with np.errstate(all="ignore"):
        return VJPS[node.op][i](node.grad, node, i)


def _html(text: object) -> str:
    """Text made safe inside a DOT string or HTML label: it can neither close the string nor
    add attributes, whatever it holds."""
    text = " ".join(str(text).split())  # no newlines
    for raw, safe in (
        ("&", "&amp;"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ('"', "&quot;"),
        ("\\", "&#92;"),
    ):
        text = text.replace(raw, safe)
    return text


def _wire_label(value: ArrayLike | None, grad: ArrayLike | None) -> str:
    return (
        f'<<font color="{VALUE_COLOR}">{_html(fmt(value))}</font><br/>'
        f'<font color="{GRAD_COLOR}">{_html(fmt(grad))}</font>>'
    )


def to_dot(circuit: Circuit) -> str:
    """Graphviz DOT text: inputs on the left, one circle per gate, values and gradients on
    every wire (value above in green, gradient below in red)."""
    order = topological_order(circuit.output)
    ids = {id(n): f"n{i}" for i, n in enumerate(order)}
    lines = [
        "digraph circuit {",
        "  rankdir=LR;",
        f'  label="{_html(circuit.expression)}"; labelloc=t; fontname="Helvetica";',
        '  node [fontname="Helvetica"]; edge [fontname="Helvetica", fontsize=11];',
    ]
    for node in order:
        nid = ids[id(node)]
        if node.parents:
            lines.append(
                f'  {nid} [shape=circle, label="{_html(symbol(node.op))}", '
                f'xlabel="{_html(node.label or "")}"];'
            )
        else:
            lines.append(f'  {nid} [shape=plaintext, label="{_html(_name(node))}"];')
    for node in order:
        for i, parent in enumerate(node.parents):
            label = _wire_label(parent.value, wire_gradient(node, i))
            lines.append(f"  {ids[id(parent)]} -> {ids[id(node)]} [label={label}];")
    out = circuit.output
    lines.append(f'  result [shape=plaintext, label="{_html(out.label or "f")}"];')
    lines.append(f"  {ids[id(out)]} -> result [label={_wire_label(out.value, out.grad)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def require_dot() -> str:
    """The path of Graphviz's ``dot``, or a clear error saying how to get it."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing(
            "Graphviz's dot program is not installed, so no PNG or SVG can be drawn; install "
            "Graphviz (apt-get install graphviz, brew install graphviz) or write DOT text "
            "with --dot FILE."
        )
    return exe


def render_dot(dot_text: str, fmt_name: str) -> bytes:
    """Render DOT text to PNG or SVG bytes with Graphviz's ``dot``."""
    exe = require_dot()
    result = subprocess.run(
        [exe, f"-T{fmt_name}"], input=dot_text.encode(), capture_output=True, timeout=60
    )
    if result.returncode != 0:
        raise RuntimeError(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def text_drawing(circuit: Circuit) -> list[tuple[str, str, str, str]]:
    """The circuit as a tree from the output back to the inputs, one row per wire.

    Returns a list of ``(prefix, text, value, grad)``: ``prefix`` draws the branches,
    ``text`` names the wire (``q1 = x + y``), ``value`` is its forward value and ``grad`` the
    gradient flowing back along that wire. A node used by several gates is drawn once in full
    and then referred to.
    """
    out = []
    seen = set()

    # An explicit stack keeps deep circuits from hitting the recursion limit.
    stack = [(circuit.output, "", "", True, circuit.output.grad)]
    while stack:
        node, prefix, branch, is_root, grad = stack.pop()
        again = id(node) in seen and node.parents
        text = f"{node.label} (drawn above)" if again else gate_code(node)
        out.append((prefix + branch, text, fmt(node.value), fmt(grad)))
        if again:
            continue
        seen.add(id(node))
        child_prefix = prefix + ("" if is_root else ("    " if branch.startswith("└") else "│   "))
        kids = node.parents
        for i in range(len(kids) - 1, -1, -1):
            last = i == len(kids) - 1
            stack.append(
                (kids[i], child_prefix, "└── " if last else "├── ", False, wire_gradient(node, i))
            )
    return out


def staged_lines(
    circuit: Circuit,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The computation as staged code, forward then backward, as in the course notes.

    Returns two lists of ``(code, value)``: forward lines such as ``q1 = x + y`` and
    backward lines such as ``dq1 = z * df`` (``+=`` where a wire gets a second gradient).
    """
    gates = circuit.gates()
    forward = [(gate_code(node), fmt(node.value)) for node in gates]
    backward = []
    out = circuit.output
    backward.append((f"d{out.label} = 1", "1"))
    assigned = {id(out)}
    running: dict[int, Any] = {}
    for node in reversed(gates):
        names = {"out": _name(node)}
        if len(node.parents) >= 1:
            names["a"] = _name(node.parents[0])
        if len(node.parents) >= 2:
            names["b"] = _name(node.parents[1])
        for i, parent in enumerate(node.parents):
            if not parent.requires_grad:
                continue
            rhs = GATES[node.op].staged[i].format(up=f"d{_name(node)}", **names)
            op = "+=" if id(parent) in assigned else "="
            assigned.add(id(parent))
            running[id(parent)] = running.get(id(parent), 0.0) + wire_gradient(node, i)
            backward.append((f"d{_name(parent)} {op} {rhs}", fmt(running[id(parent)])))
    return forward, backward


def gate_code(node: Node) -> str:
    """``q1 = x + y`` for a gate; the name alone for an input or a constant."""
    if not node.parents:
        return _name(node)
    args = [_name(p) for p in node.parents]
    sym = symbol(node.op)
    if len(args) == 2 and node.op in ("add", "sub", "mul", "div", "pow", "matmul"):
        rhs = f"{args[0]} {sym} {args[1]}"
    elif node.op == "neg":
        rhs = f"-{args[0]}"
    else:
        rhs = f"{sym}({', '.join(args)})"
    return f"{node.label} = {rhs}"
