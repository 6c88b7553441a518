"""Sphinx configuration of linclass's documentation site (``make docs`` builds it into
docs/_build/html, warnings as errors)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import linclass  # noqa: E402 - after the path to the local extension

project = "linclass"
author = "the linclass authors"
copyright = "2026, the linclass authors"
release = version = linclass.__version__

extensions = [
    "myst_nb",  # Markdown pages (MyST) and the notebooks, executed at build time
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",  # the docstrings are numpydoc, as in NumPy and scikit-learn
    "sphinx.ext.mathjax",
    "cli_reference",  # the command-line reference, generated from linclass's own parser
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "_ext", "notebooks/.ipynb_checkpoints", "notebooks/README.md"]

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# The notebooks are stored without outputs; the site shows them run.
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True

templates_path = ["_templates"]  # a class's page: its own members (not scikit-learn's routing)
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# The types are in each docstring's Parameters and Returns, in words ("ndarray of shape (n, C)"),
# as in NumPy's, scikit-learn's and pandas's references: the signatures show names and defaults
# only (the annotations are for type checkers: linclass ships py.typed), and no private
# parameters (Node's _op, _parents, _ctx are the gates' business).
autodoc_typehints = "none"


def _public_signature(app, what, name, obj, options, signature, return_annotation):
    """The signature without the parameters whose name starts with an underscore."""
    import inspect

    if not signature or "_" not in signature or not callable(obj):
        return None
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    if not any(p.startswith("_") for p in sig.parameters):
        return None
    empty = inspect.Parameter.empty
    params = [
        p.replace(annotation=empty)
        for p in sig.parameters.values()
        if not p.name.startswith("_") and p.name != "self"
    ]
    return str(sig.replace(parameters=params, return_annotation=empty)), return_annotation


def setup(app):
    app.connect("autodoc-process-signature", _public_signature)


html_theme = "pydata_sphinx_theme"
html_title = f"linclass {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
}
html_static_path = []
