"""Every Python example in the README and in the documentation's pages (docs/*.md) runs, and
prints what its comments say where they say True."""

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
EXAMPLES = [
    (page, code)
    for page in PAGES
    for code in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
]
IDS = [f"{page.stem}-{i}" for i, (page, _) in enumerate(EXAMPLES)]


def test_the_readme_and_the_pages_have_examples():
    assert sum(page == README for page, _ in EXAMPLES) >= 3
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize("page,code", EXAMPLES, ids=IDS)
def test_readme_example_runs(page, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(page), "exec"), {"__name__": "__readme__"})
    printed = out.getvalue().split("\n")
    # A print whose comment says "# True" must print True.
    calls = [line for line in code.splitlines() if line.startswith("print(")]
    for call, value in zip(calls, printed):
        if re.search(r"#\s*True\b", call):
            assert value.strip() == "True", call


def test_the_command_is_on_the_path_before_any_example_uses_it():
    """After `make run`, `linclass` is in .venv/bin: the README says how to put it on the PATH
    before the first example that types a bare `linclass` or `python`."""
    text = README.read_text()
    activate = text.index("source .venv/bin/activate")
    shell = [
        m.start()
        for m in re.finditer(r"```sh\n(.*?)```", text, flags=re.S)
        if re.search(r"^(linclass|python) ", m.group(1), flags=re.M)
    ]
    assert shell and activate < shell[0] + len("```sh\n") + 40
    assert "activate" in (Path(__file__).resolve().parent.parent / "Makefile").read_text()
