"""Every Python example in the README runs, and prints what its comments say where they say True."""

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
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
    shell = [m.start() for m in re.finditer(r"```sh\n(.*?)```", text, flags=re.S)
             if re.search(r"^(linclass|python) ", m.group(1), flags=re.M)]
    assert shell and activate < shell[0] + len("```sh\n") + 40
    assert "activate" in (Path(__file__).resolve().parent.parent / "Makefile").read_text()
