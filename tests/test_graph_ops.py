"""Every operation of the engine against PyTorch autograd (values and gradients, float64) and
against centred differences, on random shapes including broadcasting."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linclass.gradcheck import numerical_gradient
from linclass.graph import Node, ops

torch = pytest.importorskip("torch")

BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((), (2, 3)),
    ((5,), ()),
    ((1, 4), (3, 1)),
]


def check(fn_ours, fn_torch, *arrays, rtol=1e-10):
    """Compare the value and the gradient of sum(G * f(inputs)) for a random G."""
    nodes = [Node(a.copy()) for a in arrays]
    out = fn_ours(*nodes)
    G = np.random.default_rng(99).standard_normal(np.shape(out.value))
    (out * G).sum().backward()
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    t_out = fn_torch(*tensors)
    (t_out * torch.tensor(G)).sum().backward()
    np.testing.assert_allclose(out.value, t_out.detach().numpy(), rtol=rtol, atol=1e-12)
    for n, t in zip(nodes, tensors):
        np.testing.assert_allclose(n.grad, t.grad.numpy(), rtol=rtol, atol=1e-12)
        assert np.shape(n.grad) == np.shape(n.value)


@pytest.mark.parametrize("sa,sb", BROADCAST_PAIRS)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
def test_binary_ops_with_broadcasting(op, sa, sb, rng):
    a = rng.standard_normal(sa)
    b = rng.standard_normal(sb)
    if op == "div":
        b = np.sign(b) * (np.abs(b) + 0.5)
    if op == "pow":
        a = np.abs(a) + 0.5
    ours = {
        "add": ops.add,
        "sub": ops.sub,
        "mul": ops.mul,
        "div": ops.div,
        "pow": ops.power,
        "maximum": ops.maximum,
        "minimum": ops.minimum,
    }[op]
    theirs = {
        "add": torch.add,
        "sub": torch.sub,
        "mul": torch.mul,
        "div": torch.div,
        "pow": torch.pow,
        "maximum": torch.maximum,
        "minimum": torch.minimum,
    }[op]
    check(ours, theirs, a, b)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("op", ["neg", "exp", "log", "relu", "sigmoid", "tanh", "abs"])
def test_unary_ops(op, shape, rng):
    a = rng.standard_normal(shape) * 3
    if op == "log":
        a = np.abs(a) + 0.1
    ours = {
        "neg": ops.neg,
        "exp": ops.exp,
        "log": ops.log,
        "relu": ops.relu,
        "sigmoid": ops.sigmoid,
        "tanh": ops.tanh,
        "abs": ops.absolute,
    }[op]
    theirs = {
        "neg": torch.neg,
        "exp": torch.exp,
        "log": torch.log,
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "abs": torch.abs,
    }[op]
    check(ours, theirs, a)


@pytest.mark.parametrize(
    "sa,sb",
    [
        ((3, 4), (4, 5)),
        ((4,), (4, 5)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((3, 4), (2, 4, 5)),
    ],
)
def test_matmul_shapes(sa, sb, rng):
    check(ops.matmul, torch.matmul, rng.standard_normal(sa), rng.standard_normal(sb))


@pytest.mark.parametrize(
    "axis,keepdims",
    [
        (None, False),
        (None, True),
        (0, False),
        (1, True),
        (-1, False),
        ((0, 2), False),
        ((0, 2), True),
    ],
)
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reductions(op, axis, keepdims, rng):
    a = rng.standard_normal((3, 4, 5))
    ours = (
        (lambda x: ops.sum_reduce(x, axis, keepdims))
        if op == "sum"
        else (lambda x: ops.mean(x, axis, keepdims))
    )
    dim = axis if axis is not None else tuple(range(3))

    def theirs(x):
        return (torch.sum if op == "sum" else torch.mean)(x, dim=dim, keepdim=keepdims)

    check(ours, theirs, a)


@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), (-1, False)])
def test_max_gate_routes_to_the_argmax(axis, keepdims, rng):
    a = rng.standard_normal((4, 6))

    def theirs(x):
        if axis is None:
            return torch.max(x)
        return torch.max(x, dim=axis, keepdim=keepdims).values

    check(lambda x: ops.max_reduce(x, axis, keepdims), theirs, a)


def test_max_gate_ties_go_to_the_first():
    x = Node(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]))
    ops.max_reduce(x, axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])
    a, b = Node(2.0), Node(2.0)
    ops.maximum(a, b).backward()
    assert float(a.grad) == 1 and float(b.grad) == 0


def test_shapes_and_indexing(rng):
    a = rng.standard_normal((3, 4))
    check(lambda x: x.reshape(4, 3), lambda x: x.reshape(4, 3), a)
    check(lambda x: x.T, lambda x: x.T, a)
    b = rng.standard_normal((2, 3, 4))
    check(lambda x: x.transpose((2, 0, 1)), lambda x: x.permute(2, 0, 1), b)
    check(lambda x: x[1:, ::2], lambda x: x[1:, ::2], a)
    rows, cols = np.arange(3), np.array([2, 0, 2])
    check(lambda x: x[rows, cols], lambda x: x[torch.tensor(rows), torch.tensor(cols)], a)
    picks = np.array([0, 0, 2, 0])  # repeated picks: their gradients add up
    check(lambda x: x[picks], lambda x: x[torch.tensor(picks)], a)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_a_composite_against_numerical_gradients(n, d, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    w = rng.standard_normal(d)

    def f(x):
        h = ops.tanh(Node(A) @ x + 0.5)
        return (ops.sigmoid(h) * h).mean() + ops.log(ops.exp(h).sum())

    x = Node(w.copy())
    f(x).backward()
    num = numerical_gradient(lambda v: float(f(v).value), w.copy())
    np.testing.assert_allclose(x.grad, num, rtol=1e-6, atol=1e-8)
