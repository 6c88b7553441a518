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
