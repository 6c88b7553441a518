"""Circuits you can see: the expression parser, the renderers and ``linclass circuit``."""

import shutil
import subprocess
import sys

import pytest

from linclass import cli
from linclass.graph import render
from linclass.graph.expr import ExpressionError, build_circuit, parse_assignments

NEURON = "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))"
NEURON_VALUES = ["w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3"]


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "linclass", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "150", "PATH": ""},
    )


def test_golden_circuits_through_the_parser():
    c = build_circuit("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    assert c.backward() == {"x": -4, "y": -4, "z": 3}
    assert float(c.output.value) == -12
    c = build_circuit(NEURON, parse_assignments(NEURON_VALUES))
    g = c.backward()
    assert float(c.output.value) == pytest.approx(0.7311, abs=1e-4)
    assert [g["x0"], g["x1"]] == pytest.approx([0.3932, -0.5898], abs=1e-4)
    assert [g["w0"], g["w1"], g["w2"]] == pytest.approx([-0.1966, -0.3932, 0.1966], abs=1e-4)
    c = build_circuit("2 * (x*y + max(z, w))", {"x": 3, "y": -4, "z": 2, "w": -1})
    assert c.backward() == {"w": 0, "x": -8, "y": 6, "z": 2}
    c = build_circuit("sigmoid(w0*x0 + w1*x1 + w2)", parse_assignments(NEURON_VALUES))
    assert c.backward()["w0"] == pytest.approx(-0.1966, abs=1e-4)


def test_gate_table_rows():
    c = build_circuit("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    c.backward()
    rows = render.gate_rows(c)
    assert [r["gate"] for r in rows] == ["q1", "f"]
    assert rows[0]["op"] == "+" and rows[0]["inputs"] == ["x", "y"]
    assert [float(v) for v in rows[0]["local"]] == [1, 1]  # the add gate distributes
    assert [float(v) for v in rows[1]["local"]] == [-4, 3]  # the mul gate swaps
    assert float(rows[0]["grad"]) == -4 and float(rows[1]["grad"]) == 1


def test_staged_code_is_the_course_notes():
    c = build_circuit("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    c.backward()
    forward, backward = render.staged_lines(c)
    assert [code for code, _ in forward] == ["q1 = x + y", "f = q1 * z"]
    assert [code for code, _ in backward] == [
        "df = 1",
        "dq1 = z * df",
        "dz = q1 * df",
        "dx = dq1",
        "dy = dq1",
    ]
    assert [v for _, v in backward] == ["1", "-4", "3", "-4", "-4"]
    c = build_circuit("x * x + x", {"x": 3})
    c.backward()
    _, backward = render.staged_lines(c)
    assert [code for code, _ in backward][-2:] == ["dx += x * dq1", "dx += x * dq1"]
    assert backward[-1][1] == "7"  # 2x + 1


def test_wires_carry_value_and_gradient_and_fan_out_adds():
    c = build_circuit("x * x + x", {"x": 3})
    c.backward()
    rows = render.text_drawing(c)
    assert rows[0][1:] == ("f = q1 + x", "12", "1")
    assert [r[3] for r in rows if r[1] == "x"] == ["3", "3", "1"]  # 3 + 3 + 1 = 7 = df/dx
    dot = render.to_dot(c)
    assert dot.startswith("digraph circuit {") and dot.rstrip().endswith("}")
    assert dot.count("->") == 5  # x->q1 twice, q1->f, x->f, f->result
    assert render.VALUE_COLOR in dot and render.GRAD_COLOR in dot


@pytest.mark.parametrize(
    "expr,match",
    [
        ("__import__('os')", "calling __import__ is not allowed"),
        ("x.real", "attribute access"),
        ("(lambda: x)()", "calling a lambda"),
        ("x[0]", "subscript"),
        ("'a' + x", "constant 'a'"),
        ("open(x)", "calling open"),
        ("x if x else x", "if-expression"),
        ("exp(x, x)", "exactly one argument"),
        ("exp", "is a function"),
        ("x +", "not a valid expression"),
        ("x == x", "comparison"),
        ("", "empty"),
        ("2 * 3", "no inputs"),
        ("x", "no gate"),
    ],
)
def test_unsafe_or_bad_expressions_are_refused(expr, match):
    with pytest.raises(ExpressionError, match=match):
        build_circuit(expr, {"x": 1.0} if "x" in expr else {})


def test_values_must_match_the_names():
    with pytest.raises(ExpressionError, match="no value for y"):
        build_circuit("x * y", {"x": 1.0})
    with pytest.raises(ExpressionError, match="z given but not used"):
        build_circuit("x * 2", {"x": 1.0, "z": 2.0})
    for bad, match in (
        (["x"], "NAME=VALUE"),
        (["x=abc"], "not a number"),
        (["x=inf"], "finite"),
        (["x=1", "x=2"], "twice"),
        (["exp=1"], "function name"),
    ):
        with pytest.raises(ExpressionError, match=match):
            parse_assignments(bad)


def test_the_circuit_command():
    r = run("circuit", "(x + y) * z", "x=-2", "y=5", "z=-4", "--staged")
    assert r.returncode == 0, r.stderr
    for text in (
        "f = -12",
        "∂f/∂x = -4",
        "∂f/∂y = -4",
        "∂f/∂z = 3",
        "dq1 = z * df",
        "q1 = x + y",
        "f = q1 * z",
    ):
        assert text in r.stdout
    r = run("circuit", NEURON, *NEURON_VALUES)
    assert r.returncode == 0, r.stderr
    assert "f = 0.7311" in r.stdout and "∂f/∂x1 = -0.5898" in r.stdout
    assert "q6 = exp(q5)" in r.stdout  # the text drawing


def test_circuit_errors_exit_1_with_one_line():
    # a refused expression is a user error (1); a missing value, a usage error (2)
    for args, code in (
        (["circuit", "__import__('os').system('true')"], 1),
        (["circuit", "x*y", "x=1"], 2),
    ):
        r = run(*args)
        assert r.returncode == code
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_dot_file_and_missing_graphviz(tmp_path, monkeypatch, capsys):
    dot = tmp_path / "c.dot"
    assert cli.main(["circuit", "(x + y) * z", "x=-2", "y=5", "z=-4", "--dot", str(dot)]) == 0
    assert dot.read_text().startswith("digraph circuit")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    png = tmp_path / "c.png"
    assert cli.main(["circuit", "x * 2", "x=1", "--png", str(png)]) == 1
    err = capsys.readouterr().err
    assert "Graphviz's dot program is not installed" in err and not png.exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_png_and_svg_with_graphviz(tmp_path):
    png, svg = tmp_path / "c.png", tmp_path / "c.svg"
    assert cli.main(["circuit", NEURON, *NEURON_VALUES, "--png", str(png), "--svg", str(svg)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes() and b"0.7311" in svg.read_bytes()


def test_every_gate_is_registered_whole_once():
    """Each operation's gate carries its symbol, one VJP and one staged backward line per
    operand, in one registration (a gate without its staged line used to raise KeyError:
    'sum' on a hand-built matrix circuit); every operation makes a registered gate."""
    import inspect
    import string

    import numpy as np

    from linclass.graph import Node, ops
    from linclass.graph.engine import VJPS

    a, b = Node(np.arange(1.0, 7.0).reshape(2, 3)), Node(np.full((2, 3), 2.0))
    m = Node(np.ones((3, 2)))
    calls = {"matmul": (a, m), "reshape": (a, 3, 2), "getitem": (a, (0, 1)), "transpose": (a,)}
    made = set()
    for name in ops.__all__:
        fn = getattr(ops, name)
        if name in ("constant", "GATES", "Gate", "symbol"):
            continue
        n_args = len(
            [
                p
                for p in inspect.signature(fn).parameters.values()
                if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD
            ]
        )
        node = fn(*calls.get(name, (a, b)[:n_args]))
        gate = ops.GATES[node.op]
        assert len(gate.vjps) == len(gate.staged) == len(node.parents), name
        assert VJPS[node.op] == gate.vjps and gate.symbol, name
        for line in gate.staged:
            fields = {f for _, f, _, _ in string.Formatter().parse(line) if f}
            assert fields <= {"up", "a", "b", "out"} and "up" in fields, (name, line)
        made.add(node.op)
    assert made == set(ops.GATES) == set(VJPS)
    assert not hasattr(ops, "sum") and not hasattr(ops, "max")  # the builtins keep their names
    with pytest.raises(ValueError, match="one staged line per operand"):
        ops._gate("broken", "?", ("{up}",), lambda g, n, i: g, lambda g, n, i: g)
    assert "broken" not in ops.GATES


def test_staged_code_of_a_hand_built_matrix_circuit():
    import numpy as np

    from linclass.graph import Node, ops
    from linclass.graph.expr import Circuit

    W, x = Node(np.ones((2, 3)), label="W"), Node(np.arange(3.0), label="x")
    q = W @ x
    q.label = "q1"
    f = ops.sum_reduce(q)
    f.label = "f"
    f.backward()
    forward, backward = render.staged_lines(Circuit("sum(W @ x)", f, {"W": W, "x": x}))
    assert [c for c, _ in forward] == ["q1 = W @ x", "f = sum(q1)"]
    assert [c for c, _ in backward] == [
        "df = 1",
        "dq1 = ones_like(q1) * df",
        "dW = dq1 @ x.T",
        "dx = W.T @ dq1",
    ]
    assert ("dW = dq1 @ x.T", "array(2, 3)") in backward
