"""Safe arithmetic expressions -> circuits (graphs of gates), for ``linclass circuit``.

The expression is parsed with Python's ``ast`` module and walked node by node; only numbers,
names, ``+ - * / **``, unary minus (and plus) and calls of ``exp log sigmoid tanh relu max min
abs`` are allowed. Nothing is ever passed to ``eval`` or ``exec``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import NoReturn, cast

import numpy as np

from ..errors import LinclassError, UsageError
from . import ops
from .engine import Node, topological_order

__all__ = [
    "ExpressionError",
    "ValuesError",
    "Circuit",
    "build_circuit",
    "parse_assignments",
    "FUNCTIONS",
]

FUNCTIONS: dict[str, tuple[Callable[..., Node], int]] = {
    "exp": (ops.exp, 1),
    "log": (ops.log, 1),
    "sigmoid": (ops.sigmoid, 1),
    "tanh": (ops.tanh, 1),
    "relu": (ops.relu, 1),
    "abs": (ops.absolute, 1),
    "max": (ops.maximum, 2),
    "min": (ops.minimum, 2),
}
_BINARY: dict[type[ast.operator], Callable[[Node, Node], Node]] = {
    ast.Add: ops.add,
    ast.Sub: ops.sub,
    ast.Mult: ops.mul,
    ast.Div: ops.div,
    ast.Pow: ops.power,
}
MAX_GATES = 500  # a drawing past this is unreadable, and Python's parser gives out near it
MAX_DEPTH = 100  # levels of nesting: building and writing back the tree recurse
ALLOWED = "numbers, names, + - * / **, unary minus and the functions " + ", ".join(FUNCTIONS)


class ExpressionError(LinclassError, ValueError):
    """An expression linclass will not build: says what is wrong and what is allowed."""


class ValuesError(ExpressionError, UsageError):
    """The NAME=VALUE inputs do not fit the expression (malformed, missing, extra)."""


@dataclass
class Circuit:
    """A built expression: its output node, its named inputs, and the gates in forward order."""

    expression: str
    output: Node
    inputs: dict[str, Node] = field(default_factory=dict)

    def gates(self) -> list[Node]:
        """The gate nodes (not inputs or constants), in forward order."""
        return [n for n in topological_order(self.output) if n.parents]

    def backward(self) -> dict[str, float]:
        with np.errstate(all="ignore"):  # inf and nan are drawn as values, not warned about
            self.output.backward()
        return {name: float(cast(np.ndarray, node.grad)) for name, node in self.inputs.items()}


def _describe(node: ast.AST) -> str:
    kinds = {
        ast.Attribute: "attribute access",
        ast.Subscript: "a subscript",
        ast.Lambda: "a lambda",
        ast.Compare: "a comparison",
        ast.BoolOp: "and/or",
        ast.IfExp: "an if-expression",
        ast.List: "a list",
        ast.Tuple: "a tuple",
        ast.Dict: "a dict",
        ast.Set: "a set",
        ast.Starred: "* unpacking",
        ast.NamedExpr: "an assignment (:=)",
        ast.JoinedStr: "an f-string",
        ast.GeneratorExp: "a generator",
        ast.ListComp: "a comprehension",
        ast.Await: "await",
        ast.Slice: "a slice",
    }
    for kind, text in kinds.items():
        if isinstance(node, kind):
            return text
    if isinstance(node, ast.Constant):
        return f"the constant {node.value!r}"
    if isinstance(node, ast.BinOp):
        return f"the operator {type(node.op).__name__}"
    if isinstance(node, ast.UnaryOp):
        return f"the unary operator {type(node.op).__name__}"
    return type(node).__name__


def _refuse(node: ast.AST, why: str | None = None) -> NoReturn:
    what = why or f"{_describe(node)} is not allowed"
    col = getattr(node, "col_offset", None)
    where = f" (at column {col + 1})" if col is not None else ""
    raise ExpressionError(f"{what}{where}; expressions may use only {ALLOWED}.")


def parse_assignments(items: Iterable[str]) -> dict[str, float]:
    """``["x=-2", "y=5"]`` -> ``{"x": -2.0, "y": 5.0}``, with errors naming the bad item."""
    values: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ValuesError(f"{item!r} is not NAME=VALUE (for example x=-2).")
        if name in FUNCTIONS:
            raise ValuesError(f"{name!r} is a function name; choose another input name.")
        try:
            value = float(text)
        except ValueError:
            raise ValuesError(f"{name}={text!r}: the value is not a number.") from None
        if not math.isfinite(value):
            raise ValuesError(f"{name}={text}: the value must be finite.")
        if name in values:
            raise ValuesError(f"{name} is given twice.")
        values[name] = value
    return values


def build_circuit(expression: str, values: Mapping[str, float]) -> Circuit:
    """Build the graph of ``expression`` at the given input values.

    Parameters
    ----------
    expression : str
        For example ``"(x + y) * z"`` or ``"1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))"``.
    values : dict of str -> float
        A value for every name in the expression (and no others).

    Returns
    -------
    Circuit
        Gates are labelled ``q1, q2, ...`` in forward order and the output ``f`` (names the
        inputs already use are skipped).
    """
    if not isinstance(expression, str) or not expression.strip():
        raise ExpressionError("the expression is empty.")
    if len(expression) > 10_000:
        raise ExpressionError("the expression is too long (over 10,000 characters).")
    operations = sum(expression.count(c) for c in "+-*/(,")
    if operations > 2 * MAX_GATES:
        raise ExpressionError(
            f"the expression has {operations:,} operations; a circuit to draw "
            f"has at most {MAX_GATES} gates."
        )
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(
            f"{_short(expression)!r} is not a valid expression: {e.msg}."
        ) from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as e:
        raise ExpressionError(
            f"Python cannot parse the expression ({type(e).__name__}: "
            f"{_short(str(e))}): make it smaller."
        ) from None
    used = _validate(tree)
    gates = sum(isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Call)) for n in ast.walk(tree))
    if gates > MAX_GATES:
        raise ExpressionError(
            f"the expression makes {gates:,} gates; a circuit to draw has at most {MAX_GATES}."
        )
    if _depth(tree) > MAX_DEPTH:
        raise ExpressionError(
            f"the expression is nested more than {MAX_DEPTH} levels deep "
            "(x**x**x... or f(f(f(...)))): split it up."
        )
    missing = sorted(used - set(values))
    if missing:
        raise ValuesError(
            f"no value for {', '.join(missing)}: pass "
            + " ".join(f"{m}=VALUE" for m in missing)
            + "."
        )
    extra = sorted(set(values) - used)
    if extra:
        raise ValuesError(f"{', '.join(extra)} given but not used in the expression.")
    if not used:
        raise ExpressionError("the expression has no inputs: use names, as in (x + y) * z.")
    inputs = {name: Node(values[name], label=name) for name in sorted(used)}
    try:
        with np.errstate(all="ignore"):  # exp(1000) is inf on its wire, not a warning
            output = _build(tree.body, inputs)
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply.") from None
    if not isinstance(output, Node) or not output.parents:
        raise ExpressionError("the expression has no gate: combine inputs with an operation.")
    _name_gates(output, set(inputs))
    # drawn as Python writes it back: no comments, nothing but the expression
    return Circuit(ast.unparse(tree.body), output, inputs)


def _depth(tree: ast.AST) -> int:
    """Nesting depth of a syntax tree, walked without recursion."""
    stack, deepest = [(tree, 1)], 0
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack += [(child, d + 1) for child in ast.iter_child_nodes(node)]
    return deepest


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _validate(tree: ast.AST) -> set[str]:
    """Refuse anything but the allowed syntax; return the input names used."""
    called = set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
                _refuse(node, f"calling {name} is not allowed")
            if node.keywords:
                _refuse(node, f"{node.func.id}() takes no keyword arguments")
            n_args = len(node.args)
            if FUNCTIONS[node.func.id][1] == 1 and n_args != 1:
                _refuse(node, f"{node.func.id}() takes exactly one argument")
            if FUNCTIONS[node.func.id][1] == 2 and n_args < 2:
                _refuse(node, f"{node.func.id}() takes two or more arguments")
            called.add(id(node.func))
        elif isinstance(node, ast.Name):
            if id(node) not in called:
                if node.id in FUNCTIONS:
                    _refuse(node, f"{node.id} is a function: call it, as in {node.id}(x)")
                names.add(node.id)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                _refuse(node)
            if abs(node.value) > 1e300 or not math.isfinite(node.value):
                raise ExpressionError(
                    f"the number {_short(ast.unparse(node))} is beyond the "
                    "range of floats; use one below 1e300."
                )
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                _refuse(node)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                _refuse(node)
        elif not isinstance(node, (ast.Expression, ast.Load, ast.operator, ast.unaryop)):
            _refuse(node)
    return names


def _build(node: ast.AST, inputs: dict[str, Node]) -> Node:
    """Build the (already validated) syntax tree into gates."""
    if isinstance(node, ast.Constant):
        c = ops.constant(float(cast(float, node.value)))  # validated: a number
        c.label = ast.unparse(node)
        return c
    if isinstance(node, ast.Name):
        return inputs[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_build(node.left, inputs), _build(node.right, inputs))
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.UAdd):
            return _build(node.operand, inputs)
        if isinstance(node.operand, ast.Constant):  # a negative number, not a gate
            c = ops.constant(-float(cast(float, node.operand.value)))
            c.label = ast.unparse(node)
            return c
        return ops.neg(_build(node.operand, inputs))
    call = cast(ast.Call, node)  # the one kind left
    fn, arity = FUNCTIONS[cast(ast.Name, call.func).id]
    args = [_build(a, inputs) for a in call.args]
    if arity == 1:
        return fn(args[0])
    out = args[0]
    for a in args[1:]:
        out = fn(out, a)
    return out


def _name_gates(output: Node, taken: set[str]) -> None:
    counter = 0
    for node in topological_order(output):
        if not node.parents:
            continue
        if node is output:
            node.label = "f" if "f" not in taken else "out"
            continue
        counter += 1
        while f"q{counter}" in taken:
            counter += 1
        node.label = f"q{counter}"
