"""The gates: each operation's forward value and its local gradient, side by side.

Every operation is a function that computes its value with numpy and returns a new
:class:`~linclass.graph.engine.Node` remembering its operands; next to it, one
``_gate(name, symbol, staged, *vjps)`` registers all the rest of the gate (``GATES``): the
symbol it is drawn with and, per operand, its vector-Jacobian product (given the gradient ``g``
arriving from above, the gradient for that operand: the upstream gradient times the local
gradient) and its line of staged backward code. Broadcasting works forward, and backward sums
each gradient back to its operand's shape. The reductions are ``sum_reduce`` and
``max_reduce`` here (``Node.sum``, ``Node.max`` as methods), so that the builtins keep their
names.

Tie rules (where the derivative is not defined, a subgradient is chosen): ``maximum`` and
``minimum`` send the gradient to the first operand on a tie (as Python's ``max(a, b)`` returns
``a``); the ``max`` reduction routes it to the first arg-max; ``relu`` and ``abs`` have
gradient 0 at 0.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple, cast

import numpy as np

from .engine import VJP, VJPS, Axis, Node, Operand, is_grad_enabled

__all__ = [
    "add",
    "sub",
    "mul",
    "div",
    "power",
    "neg",
    "matmul",
    "sum_reduce",
    "mean",
    "exp",
    "log",
    "maximum",
    "minimum",
    "max_reduce",
    "relu",
    "sigmoid",
    "tanh",
    "reshape",
    "transpose",
    "getitem",
    "absolute",
    "constant",
    "GATES",
    "Gate",
    "symbol",
]

# -- plumbing ---------------------------------------------------------------------------------


def constant(value: Operand, like: Node | None = None) -> Node:
    """A node that needs no gradient. A Python number takes the dtype of ``like``."""
    if isinstance(value, Node):
        return value
    if like is not None and isinstance(value, numbers.Number) and like.dtype.kind == "f":
        value = np.asarray(value, dtype=like.dtype)
    return Node(value, requires_grad=False, _op="const")


def _node(op: str, value: np.ndarray, parents: tuple[Node, ...], ctx: tuple = ()) -> Node:
    if not is_grad_enabled():
        return Node(value, requires_grad=False, _op="const")
    needs = False
    for p in parents:
        if p.requires_grad:
            needs = True
            break
    return Node(value, requires_grad=needs, _op=op, _parents=parents, _ctx=ctx)


def _pair(a: Operand, b: Operand) -> tuple[Node, Node]:
    if isinstance(a, Node):
        return a, (b if isinstance(b, Node) else constant(b, like=a))
    return constant(a, like=b if isinstance(b, Node) else None), constant(b)


class Gate(NamedTuple):
    """A gate, registered once next to its forward function: the symbol it is drawn with
    (in tables, circuits and staged code) and, per operand, its vector-Jacobian product
    ``vjp(g, node, i)`` and its line of staged backward code (a format string over ``{up}``,
    the gradient from above, ``{out}`` and the operands ``{a}``, ``{b}``)."""

    symbol: str
    vjps: tuple[VJP, ...]
    staged: tuple[str, ...]


GATES: dict[str, Gate] = {}  # op name -> Gate


def _gate(op: str, symbol: str, staged: tuple[str, ...], *vjps: VJP) -> None:
    if len(staged) != len(vjps):
        raise ValueError(
            f"gate {op!r}: one staged line per operand ({len(vjps)}), got {len(staged)}"
        )
    GATES[op] = Gate(symbol, tuple(vjps), tuple(staged))
    VJPS[op] = tuple(vjps)


def symbol(op: str) -> str:
    """What a node of this op is drawn with (the op's name for one with no gate)."""
    gate = GATES.get(op)
    return op if gate is None else gate.symbol


def _unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes along which an operand of ``shape`` was broadcast."""
    if g.shape == shape:  # the common case, kept cheap for scalar circuits
        return g
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def _a(n: Node) -> np.ndarray:
    return n.parents[0].value


def _b(n: Node) -> np.ndarray:
    return n.parents[1].value


def _shape(n: Node, i: int) -> tuple[int, ...]:
    return n.parents[i].value.shape


# -- arithmetic -------------------------------------------------------------------------------


def add(a: Operand, b: Operand) -> Node:
    a, b = _pair(a, b)
    return _node("add", a.value + b.value, (a, b))


_gate(
    "add",
    "+",
    ("{up}", "{up}"),
    lambda g, n, i: _unbroadcast(g, _shape(n, 0)),
    lambda g, n, i: _unbroadcast(g, _shape(n, 1)),
)


def sub(a: Operand, b: Operand) -> Node:
    a, b = _pair(a, b)
    return _node("sub", a.value - b.value, (a, b))


_gate(
    "sub",
    "-",
    ("{up}", "-{up}"),
    lambda g, n, i: _unbroadcast(g, _shape(n, 0)),
    lambda g, n, i: _unbroadcast(-g, _shape(n, 1)),
)


def mul(a: Operand, b: Operand) -> Node:
    a, b = _pair(a, b)
    return _node("mul", a.value * b.value, (a, b))


# The mul gate swaps: each operand's local gradient is the other operand.
_gate(
    "mul",
    "*",
    ("{b} * {up}", "{a} * {up}"),
    lambda g, n, i: _unbroadcast(g * _b(n), _shape(n, 0)),
    lambda g, n, i: _unbroadcast(g * _a(n), _shape(n, 1)),
)


def div(a: Operand, b: Operand) -> Node:
    a, b = _pair(a, b)
    return _node("div", a.value / b.value, (a, b))


_gate(
    "div",
    "/",
    ("1 / {b} * {up}", "-{out} / {b} * {up}"),
    lambda g, n, i: _unbroadcast(g / _b(n), _shape(n, 0)),
    lambda g, n, i: _unbroadcast(-g * n.value / _b(n), _shape(n, 1)),
)


def power(a: Operand, b: Operand) -> Node:
    a, b = _pair(a, b)
    return _node("pow", a.value**b.value, (a, b))


def _pow_exponent_grad(g: np.ndarray, n: Node, i: int) -> np.ndarray:
    a = _a(n)
    safe = np.where(a > 0, a, 1)
    return _unbroadcast(g * n.value * np.where(a > 0, np.log(safe), 0), _shape(n, 1))


_gate(
    "pow",
    "**",
    ("{b} * {a} ** ({b} - 1) * {up}", "{out} * log({a}) * {up}"),
    lambda g, n, i: _unbroadcast(g * _b(n) * _a(n) ** (_b(n) - 1), _shape(n, 0)),
    _pow_exponent_grad,
)


def neg(a: Node) -> Node:
    return _node("neg", -a.value, (a,))


_gate("neg", "-x", ("-{up}",), lambda g, n, i: -g)


def matmul(a: Operand, b: Operand) -> Node:
    a, b = _pair(a, b)
    return _node("matmul", np.matmul(a.value, b.value), (a, b))


def _matmul_grad(g: np.ndarray, n: Node, i: int) -> np.ndarray:
    a, b = _a(n), _b(n)
    if a.ndim == 1 and b.ndim == 1:  # a dot product
        return g * (b if i == 0 else a)
    A = a[None, :] if a.ndim == 1 else a
    B = b[:, None] if b.ndim == 1 else b
    G = g
    if a.ndim == 1:
        G = np.expand_dims(G, -2)
    if b.ndim == 1:
        G = np.expand_dims(G, -1)
    if i == 0:
        out = _unbroadcast(np.matmul(G, np.swapaxes(B, -1, -2)), A.shape)
        return out.reshape(a.shape)
    out = _unbroadcast(np.matmul(np.swapaxes(A, -1, -2), G), B.shape)
    return out.reshape(b.shape)


_gate("matmul", "@", ("{up} @ {b}.T", "{a}.T @ {up}"), _matmul_grad, _matmul_grad)


# -- reductions -------------------------------------------------------------------------------


def _expand_back(g: np.ndarray, shape: tuple[int, ...], axis: Axis, keepdims: bool) -> np.ndarray:
    """Reshape a reduced gradient so that it broadcasts against the operand's ``shape``."""
    if keepdims:
        return g
    if axis is None:
        return np.reshape(g, (1,) * len(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    for ax in sorted(ax % len(shape) for ax in axes):
        g = np.expand_dims(g, ax)
    return g


def sum_reduce(a: Node, axis: Axis = None, keepdims: bool = False) -> Node:
    return _node("sum", np.sum(a.value, axis=axis, keepdims=keepdims), (a,), (axis, keepdims))


_gate(
    "sum",
    "sum",
    ("ones_like({a}) * {up}",),
    lambda g, n, i: np.broadcast_to(_expand_back(g, _shape(n, 0), *n.ctx), _shape(n, 0)),
)


def mean(a: Node, axis: Axis = None, keepdims: bool = False) -> Node:
    return _node("mean", np.mean(a.value, axis=axis, keepdims=keepdims), (a,), (axis, keepdims))


def _mean_grad(g: np.ndarray, n: Node, i: int) -> np.ndarray:
    shape = _shape(n, 0)
    count = float(np.prod(shape) / np.size(n.value))  # a Python float keeps float32 float32
    return np.broadcast_to(_expand_back(g, shape, *n.ctx) / count, shape)


_gate("mean", "mean", ("ones_like({a}) * {up} / {a}.size",), _mean_grad)


def max_reduce(a: Node, axis: Axis = None, keepdims: bool = False) -> Node:
    """The max gate as a reduction: the gradient goes to the (first) arg-max only."""
    return _node("max", np.max(a.value, axis=axis, keepdims=keepdims), (a,), (axis, keepdims))


def _max_grad(g: np.ndarray, n: Node, i: int) -> np.ndarray:
    a = _a(n)
    axis, keepdims = n.ctx
    out = np.zeros_like(a)
    if axis is None:
        out[np.unravel_index(np.argmax(a), a.shape)] = np.reshape(g, ())
        return out
    ax = axis % a.ndim
    idx = np.expand_dims(np.argmax(a, axis=ax), ax)
    np.put_along_axis(out, idx, g if keepdims else np.expand_dims(g, ax), axis=ax)
    return out


_gate("max", "max", ("({a} == {out}) * {up}",), _max_grad)


# -- elementwise ------------------------------------------------------------------------------


def exp(a: Node) -> Node:
    return _node("exp", np.exp(a.value), (a,))


_gate("exp", "exp", ("{out} * {up}",), lambda g, n, i: g * n.value)


def log(a: Node) -> Node:
    return _node("log", np.log(a.value), (a,))


_gate("log", "log", ("1 / {a} * {up}",), lambda g, n, i: g / _a(n))


def maximum(a: Operand, b: Operand) -> Node:
    """Elementwise max of two operands (nodes or constants); ties go to the first."""
    a, b = _pair(a, b)
    return _node("maximum", np.maximum(a.value, b.value), (a, b))


_gate(
    "maximum",
    "max",
    ("({a} >= {b}) * {up}", "({b} > {a}) * {up}"),
    lambda g, n, i: _unbroadcast(g * (_a(n) >= _b(n)), _shape(n, 0)),
    lambda g, n, i: _unbroadcast(g * (_a(n) < _b(n)), _shape(n, 1)),
)


def minimum(a: Operand, b: Operand) -> Node:
    """Elementwise min of two operands; ties go to the first."""
    a, b = _pair(a, b)
    return _node("minimum", np.minimum(a.value, b.value), (a, b))


_gate(
    "minimum",
    "min",
    ("({a} <= {b}) * {up}", "({b} < {a}) * {up}"),
    lambda g, n, i: _unbroadcast(g * (_a(n) <= _b(n)), _shape(n, 0)),
    lambda g, n, i: _unbroadcast(g * (_a(n) > _b(n)), _shape(n, 1)),
)


def relu(a: Node) -> Node:
    return _node("relu", np.maximum(a.value, 0), (a,))


_gate("relu", "relu", ("({a} > 0) * {up}",), lambda g, n, i: g * (_a(n) > 0))


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid(a: Node) -> Node:
    """``1 / (1 + exp(-a))``, computed without overflow for any ``a``."""
    return _node("sigmoid", _stable_sigmoid(a.value).astype(a.dtype, copy=False), (a,))


# The sigmoid gate's local gradient is sigma * (1 - sigma), from its own output.
_gate(
    "sigmoid",
    "sigmoid",
    ("(1 - {out}) * {out} * {up}",),
    lambda g, n, i: g * n.value * (1 - n.value),
)


def tanh(a: Node) -> Node:
    return _node("tanh", np.tanh(a.value), (a,))


_gate("tanh", "tanh", ("(1 - {out}**2) * {up}",), lambda g, n, i: g * (1 - n.value * n.value))


def absolute(a: Node) -> Node:
    return _node("abs", np.abs(a.value), (a,))


_gate("abs", "abs", ("sign({a}) * {up}",), lambda g, n, i: g * np.sign(_a(n)))


# -- shapes and indexing ----------------------------------------------------------------------


def reshape(a: Node, *shape: int | tuple[int, ...] | list[int]) -> Node:
    one = len(shape) == 1 and isinstance(shape[0], (tuple, list))
    new = tuple(shape[0]) if one else cast("tuple[int, ...]", shape)  # type: ignore[arg-type]
    return _node("reshape", np.reshape(a.value, new), (a,))


_gate(
    "reshape", "reshape", ("{up}.reshape({a}.shape)",), lambda g, n, i: np.reshape(g, _shape(n, 0))
)


def transpose(a: Node, axes: tuple[int, ...] | None = None) -> Node:
    return _node("transpose", np.transpose(a.value, axes), (a,), (axes,))


def _transpose_grad(g: np.ndarray, n: Node, i: int) -> np.ndarray:
    axes = n.ctx[0]
    return np.transpose(g, None if axes is None else np.argsort(axes))


_gate("transpose", "T", ("{up}.T",), _transpose_grad)


def getitem(a: Node, index: Any) -> Node:
    """``a[index]``: slices, integers and integer arrays (``s[arange(N), y]`` picks one entry
    per row); entries picked more than once get the sum of their gradients."""
    if isinstance(index, Node):
        index = index.value
    return _node("getitem", a.value[index], (a,), (index,))


def _getitem_grad(g: np.ndarray, n: Node, i: int) -> np.ndarray:
    out = np.zeros_like(_a(n))
    np.add.at(out, n.ctx[0], g)
    return out


_gate("getitem", "[]", ("scatter({up} into zeros_like({a}))",), _getitem_grad)


# -- the Node's operators and methods ---------------------------------------------------------


def _install() -> None:
    # (declared for type checkers in Node's class body)
    N = Node
    for name, fn in (
        ("add", add),
        ("sub", sub),
        ("mul", mul),
        ("truediv", div),
        ("pow", power),
        ("matmul", matmul),
    ):
        setattr(N, f"__{name}__", fn)
        setattr(N, f"__r{name}__", lambda a, b, fn=fn: fn(b, a))  # 2 * x: x is on the right
        _INSTALLED.extend((f"__{name}__", f"__r{name}__"))
    methods = {
        "__neg__": neg,
        "__abs__": absolute,
        "__getitem__": getitem,
        "sum": sum_reduce,
        "mean": mean,
        "max": max_reduce,
        "exp": exp,
        "log": log,
        "relu": relu,
        "sigmoid": sigmoid,
        "tanh": tanh,
        "reshape": reshape,
        "transpose": transpose,
        "T": property(lambda a: transpose(a)),
    }
    for name, method in methods.items():
        setattr(N, name, method)
    _INSTALLED.extend(methods)


_INSTALLED: list[str] = []  # what _install put on Node (tests/test_typing.py checks the stubs)


_install()
