"""The public API is annotated: every public function and method of these modules has a type
for each parameter and for its return (mypy, `make typecheck`, checks that the annotations agree
with the code). A module joins the list once all of its public names are annotated."""

import importlib
import inspect

import pytest

TYPED = {
    "linclass.scores": None,
    "linclass.losses": None,
    "linclass.lecture": None,
    "linclass.gradcheck": None,
    "linclass.optim": None,
    "linclass.io": ["save", "load", "load_metadata", "atomic_write"],
    "linclass.estimators": ["LinearSVM", "SoftmaxClassifier"],
    "linclass.playground": None,
    "linclass.playground.lab": None,
    "linclass.playground.circuits": None,
    "linclass.playground.server": None,
    "linclass.playground.state": None,
    "linclass.playground.datasets": None,
    "linclass.graph": None,
    "linclass.graph.ops": None,
    "linclass.graph.expr": None,
    "linclass.graph.render": None,
    "linclass.objective": None,
    "linclass.train": None,
    "linclass.sources": None,
    "linclass.sources.dask": None,
    "linclass.sources.device": None,
    "linclass.data": None,
    "linclass.features": None,
}
PUBLIC_DUNDERS = ("__init__", "__call__")


def _public_callables(module_name, names):
    module = importlib.import_module(module_name)
    for name in names or module.__all__:
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


CALLABLES = [item for m, names in TYPED.items() for item in _public_callables(m, names)]


def test_the_typed_modules_have_public_callables():
    assert len(CALLABLES) > 60


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
