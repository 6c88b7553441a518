"""The public API is annotated: every public function and method of every linclass module
that declares its public names (``__all__``) has a type for each parameter and for its return
(mypy, `make typecheck`, checks that the annotations agree with the code). A new module is
held to it as soon as it has an ``__all__``."""

import importlib
import inspect
import pkgutil

import pytest

import linclass

# Modules without __all__: the command line (its API is the parser, tested in test_cli.py),
# the choices' tables, the numba kernels (typed by numba's signatures) and the digits loader
# (re-exported, typed, by linclass.data).
UNLISTED = {
    "linclass.__main__",
    "linclass.cli",
    "linclass.choices",
    "linclass._fused_kernels",
    "linclass.features._kernels",
    "linclass.data.digits",
}
_WALKED = pkgutil.walk_packages(linclass.__path__, "linclass.")
MODULES = ["linclass", *sorted(m.name for m in _WALKED if m.name not in UNLISTED)]
PUBLIC_DUNDERS = ("__init__", "__call__")


def _public_callables(module_name):
    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj):
            if issubclass(obj, BaseException):
                continue
            for attr, fn in inspect.getmembers(obj, inspect.isfunction):
                own = fn.__module__.startswith("linclass")
                if own and (not attr.startswith("_") or attr in PUBLIC_DUNDERS):
                    yield f"{module_name}.{name}.{attr}", fn
        elif inspect.isfunction(obj):
            yield f"{module_name}.{name}", obj


CALLABLES = [item for m in MODULES for item in _public_callables(m)]


def test_every_module_but_the_unlisted_declares_its_public_names():
    assert len(MODULES) > 50
    assert [m for m in MODULES if not hasattr(importlib.import_module(m), "__all__")] == []
    assert len(CALLABLES) > 400


@pytest.mark.parametrize("name,fn", CALLABLES, ids=[n for n, _ in CALLABLES])
def test_every_parameter_and_return_is_annotated(name, fn):
    signature = inspect.signature(fn)
    missing = [
        p.name
        for p in signature.parameters.values()
        if p.annotation is inspect.Parameter.empty and p.name not in ("self", "cls")
    ]
    if signature.return_annotation is inspect.Signature.empty:
        missing.append("return")
    assert not missing, f"{name} has no type for {', '.join(missing)}"


def test_the_node_methods_declared_for_type_checkers_are_the_installed_ones():
    # Node's operators and methods are attached by linclass.graph.ops at import; engine.py
    # declares them under TYPE_CHECKING for mypy. Both lists, and the parameters, must agree.
    import ast

    from linclass.graph import Node, engine, ops

    tree = ast.parse(inspect.getsource(engine))
    node_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Node")
    block = next(n for n in node_class.body if isinstance(n, ast.If))
    declared = {f.name: f for f in block.body if isinstance(f, ast.FunctionDef)}
    assert len(declared) == 26
    assert sorted(declared) == sorted(ops._INSTALLED)
    for name, f in declared.items():
        fn = getattr(Node, name)
        if isinstance(fn, property) or name.startswith("__r"):
            continue  # T; the reversed operators are (a, b) -> fn(b, a)
        runtime = list(inspect.signature(fn).parameters)[1:]  # the first is the node itself
        stub = [a.arg for a in f.args.args[1:]] + ([f.args.vararg.arg] if f.args.vararg else [])
        if len(runtime) == 1 and name.startswith("__") and stub == ["other"]:
            continue  # a binary operator: (a, b) at run time, (self, other) in the stubs
        assert stub == runtime, name


def test_the_lazy_exports_are_declared_for_type_checkers():
    # linclass imports its public names on first use (__getattr__); type checkers read the
    # same names from the imports under TYPE_CHECKING. Both must list the same names, each
    # from its module.
    import ast

    tree = ast.parse(inspect.getsource(linclass))
    block = next(n for n in tree.body if isinstance(n, ast.If))
    declared = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert declared == linclass._EXPORTS
