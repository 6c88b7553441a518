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
