"""Expressions as an attacker or a clumsy user writes them: each one either draws or ends in
one ``ExpressionError`` -- never a RecursionError, MemoryError or OverflowError from Python's
own parser -- and nothing in the text can reach the DOT output unescaped."""

import re
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linclass import cli
from linclass.graph import render
from linclass.graph.expr import MAX_GATES, ExpressionError, build_circuit


@pytest.mark.parametrize(
    "expr,match",
    [
        ("+".join(["x"] * 5000), "at most 500 gates"),
        ("-" * 5000 + "x", "at most 500 gates"),
        ("-" * 900 + "x", "at most 500"),
        ("(" * 300 + "x" + ")" * 300, "nested"),
        ("x * " + "9" * 400, "beyond the range of floats"),
        ("x * " + "9" * 5000, "not a valid expression|cannot parse"),
        ("x * 1e999", "beyond the range of floats"),
        ("x" + "**x" * 400, "nested more than 100 levels"),
    ],
)
def test_what_pythons_parser_cannot_take_is_an_expression_error(expr, match):
    values = {"x": 1.5}
    with pytest.raises(ExpressionError, match=match):
        build_circuit(expr, values)


@pytest.mark.parametrize(
    "expr,match",
    [
        ("x // y", r"the operator FloorDiv is not allowed \(at column 1\)"),
        ("x @ y", "the operator MatMult is not allowed"),
        ("x < y", "a comparison is not allowed"),
        ("x if y else x", "an if-expression is not allowed"),
        ("'a' + x", "the constant 'a' is not allowed"),
        ("max(x)", r"max\(\) takes two or more arguments"),
        ("exp(x, base=2)", r"exp\(\) takes no keyword arguments"),
        ("x" + "+x" * 6000, r"too long \(over 10,000 characters\)"),
    ],
)
def test_what_the_walker_refuses_is_named_with_what_is_allowed(expr, match):
    with pytest.raises(ExpressionError, match=match) as caught:
        build_circuit(expr, {"x": 1.5, "y": 2.0})
    if "too long" not in match:
        assert "expressions may use only numbers, names, + - * / **" in str(caught.value)


def test_overflow_on_a_wire_is_drawn_not_warned():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = build_circuit("exp(x * 1000) + log(x - x) * 0 + x", {"x": 2.0})
        grads = c.backward()
        dot = render.to_dot(c)
        list(render.text_drawing(c))
    assert c.output.value != c.output.value and "x" in grads  # inf - inf: nan, drawn
    assert "nan" in dot


def _dot_strings_are_closed(dot):
    """Every line of the DOT text: quotes balanced, and the only attributes the renderer
    writes."""
    for line in dot.splitlines():
        outside = re.sub(r'"[^"]*"', '""', line)  # strings removed
        outside = re.sub(r"<<.*>>", "<>", outside)  # HTML labels removed
        assert '"' not in outside.replace('""', ""), line
        for attr in re.findall(r"(\w+)\s*=", outside):
            assert attr in {
                "label",
                "labelloc",
                "fontname",
                "rankdir",
                "shape",
                "xlabel",
                "fontsize",
                "color",
                "style",
                "node",
                "edge",
                "splines",
                "fontcolor",
                "margin",
                "nodesep",
                "ranksep",
            }, (attr, line)


@pytest.mark.parametrize(
    "comment",
    [
        '# " fontcolor=red URL="http://evil" x="',
        '# \\" ]; evil [label=1]; //',
        "# <b>&amp;</b> \\N{BULLET}",
    ],
)
def test_comments_and_quotes_never_reach_the_dot_output(comment):
    c = build_circuit(f"x + y {comment}", {"x": 1.0, "y": 2.0})
    c.backward()
    dot = render.to_dot(c)
    assert "evil" not in dot and "fontcolor=red" not in dot and "#" not in c.expression
    _dot_strings_are_closed(dot)


_atoms = st.one_of(
    st.sampled_from(["x", "y", "1", "2.5", "-3", "1e308", "0"]),
    st.integers(-(10**20), 10**20).map(str),
)
_ops = st.sampled_from(["+", "-", "*", "/", "**"])
_funcs = st.sampled_from(
    [
        "exp",
        "log",
        "sigmoid",
        "tanh",
        "relu",
        "abs",
        "max",
        "min",
        "eval",
        "__import__",
        "x.y",
        "open",
    ]
)


@st.composite
def _expressions(draw, depth=0):
    kind = draw(st.integers(0, 4 if depth < 6 else 0))
    if kind == 0:
        return draw(_atoms)
    if kind == 1:
        return f"({draw(_expressions(depth + 1))} {draw(_ops)} {draw(_expressions(depth + 1))})"
    if kind == 2:
        args = ", ".join(draw(_expressions(depth + 1)) for _ in range(draw(st.integers(1, 3))))
        return f"{draw(_funcs)}({args})"
    if kind == 3:
        return draw(st.sampled_from(["-", "+", "not ", "~"])) + draw(_expressions(depth + 1))
    return draw(st.text(alphabet="xy+-*/()., #\"\\'[]{}<>&;=\n0123456789e", max_size=40))


@settings(max_examples=300)
@given(expr=_expressions())
def test_any_expression_draws_or_is_one_expression_error(expr):
    try:
        c = build_circuit(expr, {n: 1.5 for n in ("x", "y") if n in re.findall(r"\w+", expr)})
    except ExpressionError:
        return
    c.backward()
    assert len(c.gates()) <= MAX_GATES
    _dot_strings_are_closed(render.to_dot(c))
    list(render.text_drawing(c))


def test_the_command_gives_one_line_for_a_parser_bomb(capsys):
    assert cli.main(["circuit", "x" + "*-x" * 3000, "x=1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]
