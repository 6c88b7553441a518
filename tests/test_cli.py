"""End-to-end: the ``linclass`` command as a user runs it."""

import json
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import interrupt_cli_at_epoch, run_linclass

from linclass import cli

SCRIPT = Path(sys.executable).parent / "linclass"


def run(*args, script=False):
    return run_linclass(*args, cmd=[str(SCRIPT)] if script else None)


def test_train_end_to_end(tmp_path):
    out = tmp_path / "run"
    r = run("train", "--model", "svm", "--out", str(out), script=SCRIPT.exists())
    assert r.returncode == 0, r.stderr
    for word in ("train", "val", "test", "saved"):
        assert word in r.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "train_accuracy",
        "val_accuracy",
        "test_accuracy",
        "fit_seconds",
        "params",
        "history",
    ):
        assert key in metrics
    assert metrics["test_accuracy"] >= 0.95
    assert len(metrics["history"]["train_loss"]) == metrics["epochs"]
    assert metrics["params"]["reg"] == "auto" and metrics["reg"] > 0
    assert (out / "model.npz").exists()

    r = run("evaluate", str(out / "model.npz"))
    assert r.returncode == 0, r.stderr
    assert f"accuracy {metrics['test_accuracy']:.4f}" in r.stdout  # the same test split


def test_train_softmax_with_options(tmp_path):
    out = tmp_path / "soft"
    r = run(
        "train",
        "--model",
        "softmax",
        "--optimizer",
        "adam",
        "--batch-size",
        "full",
        "--epochs",
        "40",
        "--lr",
        "0.01",
        "--reg",
        "0.001",
        "--seed",
        "3",
        "--quiet",
        "--early-stopping",
        "--dev",
        "600",
        "--max-steps",
        "30",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["params"]["optimizer"] == "adam"
    assert metrics["params"]["batch_size"] is None
    assert metrics["params"]["random_state"] == 3
    assert metrics["n_train"] == 600 and metrics["params"]["early_stopping"] is True
    assert metrics["steps"] <= 30 and metrics["params"]["max_steps"] == 30
    assert metrics["val_accuracy"] > 0.85


def test_train_softmax_by_lbfgs(tmp_path):
    out = tmp_path / "lbfgs"
    r = run(
        "train",
        "--model",
        "softmax",
        "--solver",
        "lbfgs",
        "--epochs",
        "60",
        "--quiet",
        "--no-plots",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert "L-BFGS" in r.stdout and "learning rate" not in r.stdout
    metrics = json.loads(
        (out / "metrics.json").read_text(),  # strict JSON: no NaN
        parse_constant=lambda c: pytest.fail(f"{c} in metrics.json"),
    )
    assert metrics["params"]["solver"] == "lbfgs"
    assert metrics["steps"] == metrics["epochs"] <= 60
    assert metrics["test_accuracy"] >= 0.95

    r = run("train", "--model", "svm", "--solver", "lbfgs", "--out", str(tmp_path / "no"))
    assert r.returncode == 1
    assert "--model softmax" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "no").exists()


def test_gradcheck_command():
    r = run("gradcheck", "--samples", "30", "--features", "10", "--classes", "4")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok") == 8
    assert "faster" in r.stdout and "softmax" in r.stdout and "svm" in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--model", "tree"],
        ["train", "--lr", "-1"],
        ["train", "--epochs", "many"],
        [],
        ["fly"],
    ],
)
def test_usage_errors_exit_2_with_one_line(args):
    r = run(*args)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "args,match",
    [
        (["evaluate", "no/such/model.npz"], "does not exist"),
        (["train", "--dataset", "imagenet"], "unknown data set"),
        (["train", "--lr", "1e30", "--model", "softmax", "--epochs", "5"], "diverged"),
        (["train", "--variant", "crammer_singer", "--model", "softmax"], "SVM only"),
    ],
)
def test_user_errors_exit_1_with_one_line(args, match, tmp_path):
    r = run(*args, "--out", str(tmp_path / "o")) if args[0] == "train" else run(*args)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], r.stderr
    assert not (tmp_path / "o").exists()  # nothing half-made is left


def test_damaged_model_file(tmp_path):
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"PK\x03\x04 not really")
    r = run("evaluate", str(bad))
    assert r.returncode == 1 and "not a linclass model file" in r.stderr


def test_ctrl_c_stops_after_the_step_and_still_saves(tmp_path, monkeypatch, capsys):
    """The first Ctrl-C (here: SIGINT sent during epoch 3) ends training cleanly."""
    interrupt_cli_at_epoch(monkeypatch, 3)
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when run in the background
    out = tmp_path / "run"
    code = cli.main(["train", "--epochs", "1000", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["epochs"] == 3
    assert (out / "model.npz").exists()
    assert "interrupted" in capsys.readouterr().err
    # the handler is gone again: Ctrl-C behaves as before training
    assert signal.getsignal(signal.SIGINT) == before


def test_python_api_matches_the_command(tmp_path):
    from linclass.runs import ModelSpec, Outputs, TrainConfig, train

    result = train(
        TrainConfig(model=ModelSpec("softmax", max_epochs=5), output=Outputs(str(tmp_path / "a")))
    )
    again = train(
        TrainConfig(model=ModelSpec("softmax", max_epochs=5), output=Outputs(str(tmp_path / "b")))
    )
    a = np.load(tmp_path / "a" / "model.npz")["coef"]
    b = np.load(tmp_path / "b" / "model.npz")["coef"]
    np.testing.assert_array_equal(a, b)
    assert result.metrics.epochs == 5
    assert again.metrics.test_accuracy == result.metrics.test_accuracy
    assert isinstance(result.model_path, Path) and result.kept is None
