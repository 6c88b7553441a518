"""What a newcomer meets in the first hour (issue 12), each where they meet it: on the command
line, as a separate process with its real stderr."""

import os
import re
import subprocess
import sys

import pytest


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "linclass", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "COLUMNS": "100",
                                                       **(env or {})})


@pytest.mark.parametrize("args", [
    ["train", "--dataset", "imagenet"],
    ["evaluate", "no/such/model.npz"],
    ["train", "--dataset", "folder:/dev/zero"],
])
def test_an_error_is_exactly_one_line(args, tmp_path):
    r = run(*args, "--out", str(tmp_path / "o")) if args[0] == "train" else run(*args)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("linclass: error: "), r.stderr


@pytest.mark.parametrize("args,match", [
    (["train", "--val-size", "0"], "a count must be at least 1"),
    (["train", "--test-size", "-3"], "a count must be at least 1"),
    (["circuit", "x * y", "x=1"], "no value for y"),
    (["circuit", "x * 2", "x=1", "z=2"], "z given but not used"),
    (["circuit", "x * 2", "x=one"], "not a number"),
])
def test_a_wrong_command_line_is_a_usage_error(args, match):
    r = run(*args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and match in r.stderr and "--help" in r.stderr


def test_divergence_names_the_automatic_learning_rate(tmp_path):
    r = run("train", "--lr", "100", "--batch-size", "full", "--model", "softmax", "--epochs",
            "50", "--out", str(tmp_path / "o"))
    assert r.returncode == 1, r.stdout
    m = re.search(r"Here the automatic one is ([0-9.e+-]+)\.", r.stderr)
    assert m and float(m.group(1)) < 1 and "--lr auto" in r.stderr
    assert not (tmp_path / "o").exists()


def test_a_circuit_outside_its_domain_says_so():
    r = run("circuit", "log(x) * y", "x=-1", "y=2")
    assert r.returncode == 0
    assert "f = nan" in r.stdout.replace("\x1b", "")
    assert "note:" in r.stderr and "log(x)" in r.stderr and "outside the function's domain" in \
        " ".join(r.stderr.split())
    r = run("circuit", "log(x) * y", "x=2", "y=2")
    assert "note:" not in r.stderr
