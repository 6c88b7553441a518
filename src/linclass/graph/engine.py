"""The node of a computational graph, and backpropagation through it.

A :class:`Node` holds a value (a numpy array; a scalar is a 0-d array), the gate that made it
(``op``), the nodes it was made from (``parents``, in a fixed order) and, after ``backward()``,
its gradient ``grad`` (the derivative of the output with respect to this node, same shape as
``value``).

``backward()`` is the chain rule, node by node: it visits the graph in reverse topological
order (computed with an explicit stack, so a chain of 100,000 nodes is fine) and, at each
gate, multiplies the gradient arriving from above by the gate's local gradient (a
vector-Jacobian product from the registry in ``linclass.graph.ops``). Where a node feeds
several gates, their gradients are **added**.

The operations themselves (``+``, ``@``, ``exp``, ``max`` ...) live in ``linclass.graph.ops``,
each with its forward value and its local gradient side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Node", "no_grad", "is_grad_enabled", "topological_order", "VJPS"]

#: What an operation takes: a node, or a constant (a number or an array) that becomes one.
Operand: TypeAlias = "Node | ArrayLike"
#: The axes a reduction runs over (None: all of them).
Axis: TypeAlias = "int | tuple[int, ...] | None"
#: A gate's vector-Jacobian product for one operand: vjp(g, node, i) -> gradient for operand i.
VJP: TypeAlias = "Callable[[np.ndarray, Node, int], np.ndarray]"

# op name -> one function per operand: vjp(g, node, i) -> gradient for operand i
VJPS: dict[str, tuple[VJP, ...]] = {}

_state = {"grad_enabled": True}

# Every node gets the next number when it is made. A node's parents exist before it does, so
# creation order is a topological order, whatever the shape of the graph.
_serial = count()
_by_serial = attrgetter("serial")


def is_grad_enabled() -> bool:
    """Whether new operations record their parents (False inside ``no_grad()``)."""
    return _state["grad_enabled"]


@contextmanager
def no_grad() -> Iterator[None]:
    """Operations inside this block build no graph: their results are constants."""
    previous = _state["grad_enabled"]
    _state["grad_enabled"] = False
    try:
        yield
    finally:
        _state["grad_enabled"] = previous


def _as_value(value: ArrayLike, dtype: Any = None) -> np.ndarray:
    a = np.asarray(value, dtype=dtype)
    if a.dtype.kind not in "fc":
        a = a.astype(np.float64)
    return a


class Node:
    """A value in a computational graph.

    Parameters
    ----------
    value : array-like or float
        Integers become float64; float32 stays float32.
    label : str, optional
        A name to show in tables and drawings.
    requires_grad : bool, default True
        False for constants: backward does not compute their gradient.

    Attributes
    ----------
    value : ndarray
    grad : ndarray or None
        Set by ``backward()``.
    op : str
        The gate that made this node ("input", "const", "add", "mul", "max", "sigmoid", ...).
    parents : tuple of Node
        The gate's operands, in order.
    ctx : tuple
        What the gate needs besides its operands (an axis, an index, an exponent).
    """

    __slots__ = (
        "value",
        "grad",
        "parents",
        "op",
        "ctx",
        "label",
        "requires_grad",
        "serial",
        "__weakref__",
    )
    __array_priority__ = 1000  # numpy defers to Node's operators (ndarray + Node -> Node)

    def __init__(
        self,
        value: ArrayLike,
        label: str | None = None,
        requires_grad: bool = True,
        *,
        _op: str = "input",
        _parents: tuple[Node, ...] = (),
        _ctx: tuple = (),
    ) -> None:
        self.value: np.ndarray = value if _parents else _as_value(value)  # type: ignore[assignment]
        self.grad: np.ndarray | None = None
        self.parents = _parents
        self.op = _op
        self.ctx = _ctx
        self.label = label
        self.requires_grad = requires_grad
        self.serial = next(_serial)

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(self.value)

    @property
    def data(self) -> float | np.ndarray:
        """The value as a Python float for a scalar (as in micrograd), else the array."""
        return float(self.value) if np.ndim(self.value) == 0 else self.value

    def item(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        name = f" {self.label!r}" if self.label else ""
        if np.ndim(self.value) == 0:
            return f"Node{name}(value={float(self.value):.6g}, op={self.op!r})"
        return f"Node{name}(shape={np.shape(self.value)}, op={self.op!r})"

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self) -> Iterator[Node]:
        raise TypeError("a Node is not iterable; index it (node[i]) to pick entries.")

    def __bool__(self) -> bool:
        raise TypeError("a Node has no truth value; compare node.value instead.")

    # -- backpropagation ----------------------------------------------------------------------
    def backward(self, grad: ArrayLike | None = None, accumulate: bool = False) -> Node:
        """Compute ``d self / d node`` for every node this one depends on.

        Parameters
        ----------
        grad : array-like, optional
            The gradient arriving at this node from above; 1 by default (``self`` must then be
            a scalar, or the seed is an array of ones: the gradient of ``self.sum()``).
        accumulate : bool, default False
            Add to the gradients already stored instead of replacing them. Without it, calling
            ``backward()`` twice gives the same gradients twice.

        Returns
        -------
        self
        """
        seed = np.ones_like(self.value) if grad is None else _as_value(grad, self.dtype)
        if np.shape(seed) != np.shape(self.value):
            raise ValueError(
                f"grad has shape {np.shape(seed)}; this node has {np.shape(self.value)}."
            )
        order = topological_order(self)
        grads: dict[Node, np.ndarray] = {
            self: seed
        }  # keyed by the nodes themselves (identity hashing)
        pop = grads.pop
        vjps = VJPS
        for node in reversed(order):
            if not node.requires_grad:  # constants (and gates on constants only)
                continue
            g = pop(node, None)
            if g is None:  # no path of gradients from the output reaches this node
                g = np.zeros_like(node.value)
            node.grad = node.grad + g if (accumulate and node.grad is not None) else g
            parents = node.parents
            if not parents:
                continue
            rules = vjps[node.op]
            for i, parent in enumerate(parents):
                if parent.requires_grad:
                    pg = rules[i](g, node, i)
                    previous = grads.get(parent)
                    grads[parent] = pg if previous is None else previous + pg
        return self

    def zero_grad(self) -> Node:
        """Set the gradient of this node and of every node it depends on to zeros."""
        for node in topological_order(self):
            node.grad = np.zeros_like(node.value) if node.requires_grad else None
        return self

    def nodes(self) -> list[Node]:
        """Every node this one depends on, itself last, in forward (topological) order."""
        return topological_order(self)

    if TYPE_CHECKING:  # the operators and methods linclass.graph.ops installs, for type checkers

        def __add__(self, other: Operand) -> Node: ...
        def __radd__(self, other: Operand) -> Node: ...
        def __sub__(self, other: Operand) -> Node: ...
        def __rsub__(self, other: Operand) -> Node: ...
        def __mul__(self, other: Operand) -> Node: ...
        def __rmul__(self, other: Operand) -> Node: ...
        def __truediv__(self, other: Operand) -> Node: ...
        def __rtruediv__(self, other: Operand) -> Node: ...
        def __pow__(self, other: Operand) -> Node: ...
        def __rpow__(self, other: Operand) -> Node: ...
        def __matmul__(self, other: Operand) -> Node: ...
        def __rmatmul__(self, other: Operand) -> Node: ...
        def __neg__(self) -> Node: ...
        def __abs__(self) -> Node: ...
        def __getitem__(self, index: Any) -> Node: ...
        def sum(self, axis: Axis = None, keepdims: bool = False) -> Node: ...
        def mean(self, axis: Axis = None, keepdims: bool = False) -> Node: ...
        def max(self, axis: Axis = None, keepdims: bool = False) -> Node: ...
        def exp(self) -> Node: ...
        def log(self) -> Node: ...
        def relu(self) -> Node: ...
        def sigmoid(self) -> Node: ...
        def tanh(self) -> Node: ...
        def reshape(self, *shape: int | tuple[int, ...] | list[int]) -> Node: ...
        def transpose(self, axes: tuple[int, ...] | None = None) -> Node: ...
        @property
        def T(self) -> Node: ...


def topological_order(root: Node) -> list[Node]:
    """Nodes reachable from ``root`` through ``parents``, each after all its parents.

    One pass with an explicit stack (no recursion limit) collects the nodes; sorting them by
    creation number puts every node after its parents, deterministically.
    """
    seen = {root}
    stack = [root]
    while stack:
        for parent in stack.pop().parents:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=_by_serial)
