"""The computational-graph engine: gradients of any composition by the chain rule.

``Node`` is the value type; the operations (``+ - * / ** @``, ``sum``, ``mean``, ``exp``,
``log``, ``maximum``, ``max``, ``relu``, ``sigmoid``, ``tanh``, ``reshape``, ``transpose``,
indexing) are in ``linclass.graph.ops`` and on the Node itself::

    from linclass.graph import Node
    x, y, z = Node(-2.0, "x"), Node(5.0, "y"), Node(-4.0, "z")
    f = (x + y) * z
    f.backward()
    x.grad, y.grad, z.grad      # -4, -4, 3

This package stands alone: it imports nothing else from linclass.
"""

from . import ops
from .engine import Node, is_grad_enabled, no_grad, topological_order
from .ops import (
    absolute,
    constant,
    exp,
    log,
    matmul,
    max_reduce,
    maximum,
    mean,
    minimum,
    relu,
    reshape,
    sigmoid,
    sum_reduce,
    tanh,
    transpose,
)

Value = Node  # the micrograd name, for readers coming from there

__all__ = [
    "Node",
    "Value",
    "no_grad",
    "is_grad_enabled",
    "topological_order",
    "ops",
    "constant",
    "exp",
    "log",
    "maximum",
    "minimum",
    "relu",
    "sigmoid",
    "tanh",
    "reshape",
    "transpose",
    "matmul",
    "mean",
    "absolute",
    "max_reduce",
    "sum_reduce",
]
