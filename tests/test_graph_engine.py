"""The engine: golden circuits from the lecture, chain rule mechanics, micrograd as an oracle."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from linclass.graph import Node, Value, no_grad, ops, topological_order
from linclass.graph.expr import build_circuit


def test_lecture_add_mul_circuit():
    x, y, z = Node(-2.0, "x"), Node(5.0, "y"), Node(-4.0, "z")
    f = (x + y) * z
    f.backward()
    assert f.data == -12
    assert (x.grad, y.grad, z.grad) == (-4, -4, 3)


def test_sigmoid_neuron():
    w0, x0, w1, x1, w2 = (Node(v) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    dot = w0 * x0 + w1 * x1 + w2
    f = 1 / (1 + (-dot).exp())
    f.backward()
    assert f.data == pytest.approx(0.7311, abs=1e-4)
    assert [x0.grad, x1.grad] == pytest.approx([0.3932, -0.5898], abs=1e-4)
    assert [w0.grad, w1.grad, w2.grad] == pytest.approx([-0.1966, -0.3932, 0.1966], abs=1e-4)
    # the same neuron with one sigmoid gate: its local gradient is sigma * (1 - sigma)
    for n in (w0, x0, w1, x1, w2):
        n.grad = None
    s = ops.sigmoid(w0 * x0 + w1 * x1 + w2)
    s.backward()
    sig = float(s.value)
    assert sig == pytest.approx(f.data)
    from linclass.graph.render import local_gradients

    assert float(local_gradients(s)[0]) == pytest.approx(sig * (1 - sig))
    assert [w0.grad, w1.grad, w2.grad] == pytest.approx([-0.1966, -0.3932, 0.1966], abs=1e-4)


def test_gate_patterns_add_distributes_max_routes_mul_swaps():
    x, y, z, w = Node(3.0), Node(-4.0), Node(2.0), Node(-1.0)
    f = 2 * (x * y + ops.maximum(z, w))
    f.backward()
    assert (x.grad, y.grad, z.grad, w.grad) == (-8, 6, 2, 0)


def test_micrograd_readme_example():
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    assert f"{g.data:.4f}" == "24.7041"
    assert f"{a.grad:.4f}" == "138.8338"
    assert f"{b.grad:.4f}" == "645.5773"


def test_a_node_used_twice_adds_its_gradients():
    a = Node(3.0)
    b = a + a
    c = b * b
    c.backward()
    assert float(b.grad) == 12 and float(a.grad) == 24  # c = 4a^2, dc/da = 8a


def test_backward_twice_gives_the_same_gradients_unless_accumulating():
    a = Node(3.0)
    f = a * a
    f.backward()
    f.backward()
    assert float(a.grad) == 6
    f.backward(accumulate=True)
    assert float(a.grad) == 12
    f.zero_grad()
    assert float(a.grad) == 0
    f.backward()
    assert float(a.grad) == 6


def test_a_chain_of_100000_nodes():
    x = Node(1.0)
    t = x
    for _ in range(100_000):
        t = t * 1.0 + 0.0
    t.backward()  # no recursion limit
    assert float(x.grad) == 1.0
    assert len(topological_order(t)) > 200_000


def test_order_is_deterministic_and_parents_keep_their_order():
    x, y = Node(1.0, "x"), Node(2.0, "y")
    f = y - x
    assert [p.label for p in f.parents] == ["y", "x"]
    order = topological_order(f)
    assert [n.label for n in order][:2] == ["x", "y"]  # creation order
    assert order[-1] is f and [n.serial for n in topological_order(f)] == [n.serial for n in order]
    f.backward()
    assert float(x.grad) == -1 and float(y.grad) == 1


def test_topological_order_puts_every_node_after_its_parents(rng):
    leaves = [Node(float(v)) for v in rng.standard_normal(6)]
    nodes = list(leaves)
    for k in range(200):
        a, b = nodes[rng.integers(len(nodes))], nodes[rng.integers(len(nodes))]
        nodes.append([a + b, a * b, ops.maximum(a, b), ops.tanh(a)][k % 4])
    order = topological_order(nodes[-1])
    position = {id(n): i for i, n in enumerate(order)}
    for n in order:
        assert all(position[id(p)] < position[id(n)] for p in n.parents)
    assert len(position) == len(order)  # each node once


def test_no_grad_builds_no_graph():
    x = Node(2.0)
    with no_grad():
        y = x * 3
    assert not y.parents and not y.requires_grad
    z = x * 3
    assert z.parents and z.requires_grad


def test_constants_get_no_gradient_and_unreached_nodes_get_zero():
    x = Node(np.ones((2, 3)))
    c = ops.constant(np.arange(6.0).reshape(2, 3))
    f = (x * c).sum()
    f.backward()
    np.testing.assert_array_equal(x.grad, c.value)
    assert c.grad is None


def test_nodes_know_their_gate_and_label():
    x = Node(1.0, label="x")
    y = ops.sigmoid(x)
    assert x.op == "input" and y.op == "sigmoid" and x.label == "x"
    assert (x + 1).op == "add" and (x * 2).op == "mul" and x.max().op == "max"
    assert ops.maximum(x, 0).op == "maximum"
    assert "sigmoid" in repr(y)


def test_seed_gradient_and_its_shape():
    x = Node(np.arange(3.0))
    y = x * 2
    y.backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, -2.0])
    with pytest.raises(ValueError, match="shape"):
        y.backward(np.ones(2))


def test_float32_stays_float32():
    W = Node(np.ones((3, 4), np.float32))
    f = ((W * 2.5 + 1) ** 2).mean()
    f.backward()
    assert W.grad.dtype == np.float32 and np.asarray(f.value).dtype == np.float32


def test_sigmoid_is_stable_for_large_inputs():
    x = Node(np.array([-1e4, -50.0, 0.0, 50.0, 1e4]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = ops.sigmoid(x)
        s.sum().backward()
    np.testing.assert_allclose(
        s.value, [0, 1 / (1 + math.exp(50)), 0.5, 1 / (1 + math.exp(-50)), 1], rtol=1e-12, atol=0
    )
    assert np.all(np.isfinite(x.grad))


def test_truth_value_and_iteration_are_refused():
    x = Node(np.arange(3.0))
    with pytest.raises(TypeError):
        bool(x)
    with pytest.raises(TypeError):
        list(x)


# -- micrograd as an oracle on random scalar programs -------------------------------------------

OPS = ["add", "sub", "mul", "div_safe", "pow2", "relu", "neg", "radd", "rmul"]


@st.composite
def programs(draw):
    n_inputs = draw(st.integers(1, 4))
    inputs = [draw(st.floats(-3, 3)) for _ in range(n_inputs)]
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(OPS), st.integers(0, 10**6), st.integers(0, 10**6), st.floats(-2, 2)
            ),
            min_size=1,
            max_size=25,
        )
    )
    return inputs, steps


def run_program(cls, inputs, steps):
    vals = [cls(v) for v in inputs]
    for op, i, j, k in steps:
        a, b = vals[i % len(vals)], vals[j % len(vals)]
        if op == "add":
            r = a + b
        elif op == "sub":
            r = a - b
        elif op == "mul":
            r = a * b
        elif op == "div_safe":
            r = a / (b * b + 1.0)
        elif op == "pow2":
            r = a**2
        elif op == "relu":
            r = a.relu()
        elif op == "neg":
            r = -a
        elif op == "radd":
            r = k + a
        else:
            r = k * a
        vals.append(r)
    out = vals[-1]
    for v in vals[len(inputs) : -1]:
        out = out + v * 0.1  # every intermediate result feeds the output
    return vals[: len(inputs)], out


@given(programs())
def test_same_values_and_gradients_as_micrograd(program):
    mg = pytest.importorskip("micrograd.engine")
    inputs, steps = program
    ours_in, ours = run_program(Node, inputs, steps)
    theirs_in, theirs = run_program(mg.Value, inputs, steps)
    assert ours.data == pytest.approx(theirs.data, rel=1e-9, abs=1e-9)
    ours.backward()
    theirs.backward()
    for a, b in zip(ours_in, theirs_in):
        ours_grad = 0.0 if a.grad is None else float(a.grad)  # None: not in the graph
        assert ours_grad == pytest.approx(b.grad, rel=1e-9, abs=1e-9)


LEAVES = st.sampled_from(["x", "y", "z", "1.5", "2", "0.5"])
EXPRESSIONS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(st.sampled_from(["exp", "sigmoid", "tanh", "relu", "abs", "log"]), inner).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
        st.tuples(st.sampled_from(["max", "min"]), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        ),
        inner.map(lambda e: f"-{e}"),
        inner.map(lambda e: f"({e}) ** 2"),
    ),
    max_leaves=12,
)


@given(EXPRESSIONS)
def test_random_expression_graphs_vs_numerical_gradients(text):
    values = {"x": 0.7, "y": -1.3, "z": 2.1}
    import ast

    names = {n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name)}
    names -= {"exp", "sigmoid", "tanh", "relu", "abs", "log", "max", "min"}
    if not names or text in names:  # no input, or an input alone (no gate)
        return
    given_values = {k: v for k, v in values.items() if k in names}
    with np.errstate(all="ignore"):
        circuit = build_circuit(text, given_values)
        grads = circuit.backward()
    f0 = float(circuit.output.value)
    if not np.isfinite(f0) or abs(f0) > 1e6:
        return
    h = 1e-6
    for name in given_values:
        with np.errstate(all="ignore"):
            up = float(build_circuit(text, {**given_values, name: values[name] + h}).output.value)
            down = float(build_circuit(text, {**given_values, name: values[name] - h}).output.value)
        numeric = (up - down) / (2 * h)
        # A kink within h of the point (max(x, y + 2) at x = 0.7, y = -1.3 is a tie): the
        # one-sided slopes differ, the centred difference averages them, and there is no
        # gradient to compare with (the tie rules have tests of their own).
        forward, backward = (up - f0) / h, (f0 - down) / h
        kink = abs(forward - backward) > 1e-3 * max(1.0, abs(forward), abs(backward))
        if np.isfinite(numeric) and abs(numeric) < 1e6 and not kink:
            assert grads[name] == pytest.approx(numeric, rel=1e-5, abs=1e-5), text


@given(st.text(alphabet="xyz+-*/()., 123_eaoptbs[]'\"=:", max_size=40))
def test_the_parser_never_fails_except_with_a_clear_error(text):
    from linclass.graph.expr import ExpressionError

    try:
        build_circuit(text, {"x": 0.5, "y": 1.5, "z": -2.0})
    except ExpressionError as e:
        message = str(e)
    else:
        return
    assert message


def test_a_node_reads_like_its_array():
    import numpy as np

    from linclass.graph import Node

    a = Node(np.ones((2, 3)), "a")
    assert (a.ndim, len(a), a.shape) == (2, 2, (2, 3))
    assert repr(a) == "Node 'a'(shape=(2, 3), op='input')"
    s = (a * 2).sum()
    assert s.item() == 12.0 and isinstance(s.item(), float)
    assert repr(s) == "Node(value=12, op='sum')"
    assert s.nodes()[0] is a and s.nodes()[-1] is s and len(s.nodes()) == 4  # a, 2, a*2, sum
