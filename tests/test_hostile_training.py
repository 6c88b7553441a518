"""Runs that go wrong must never replace what the user had with something worse: divergence
seen before the loss overflows, settings changed between fits honoured, impossible weights
refused, a bad --out refused before any work, Ctrl-C while loading aborting without a save,
and models written so that a kill at any moment leaves the old file or the new one, whole,
and no temporary file."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from conftest import interrupt_cli_at_epoch

from linclass import LinearSVM, SoftmaxClassifier, TrainingDivergedError, cli, load, runs
from linclass.io import atomic_write

# -- divergence -------------------------------------------------------------------------------


def test_a_loss_growing_by_orders_of_magnitude_is_divergence(digits_split):
    """Softmax, full batch, learning rate 100: the loss climbs from 2.3 to 1e15 while staying
    finite; it used to be reported as a success with accuracy 0."""
    Xtr, ytr = digits_split[:2]
    m = SoftmaxClassifier(
        batch_size=None, learning_rate=100, max_epochs=30, tol=None, random_state=0
    )
    with pytest.raises(
        TrainingDivergedError,
        match=r"grew from 2\.3\d* to .* learning_rate=100"
        r".*\"auto\"",
    ):
        m.fit(Xtr, ytr)
    assert not hasattr(m, "coef_")


@pytest.mark.parametrize("batch_size", [None, 64])
def test_a_high_but_stable_step_is_not_called_divergence(digits_split, batch_size):
    Xtr, ytr = digits_split[:2]
    for cls in (LinearSVM, SoftmaxClassifier):
        m = cls(batch_size=batch_size, max_epochs=20, random_state=0).fit(Xtr, ytr)
        auto = m.learning_rate_
        cls(batch_size=batch_size, learning_rate=auto, max_epochs=20, random_state=0).fit(Xtr, ytr)


# -- warm start with changed settings ---------------------------------------------------------


def test_warm_start_takes_the_settings_changed_since(digits_split):
    Xtr, ytr = digits_split[:2]
    m = LinearSVM(
        warm_start=True, max_epochs=2, learning_rate=1e-3, optimizer="momentum", random_state=0
    ).fit(Xtr, ytr)
    opt = m._optimizer
    m.fit(Xtr, ytr)
    assert m._optimizer is opt  # nothing changed: the optimizer keeps its state
    m.set_params(learning_rate=1e-4)
    m.fit(Xtr, ytr)
    assert m._optimizer is not opt and m.learning_rate_ == 1e-4
    assert m._optimizer.learning_rate == pytest.approx(1e-4)
    m.set_params(optimizer="adam", learning_rate=1e-3)
    m.fit(Xtr, ytr)
    assert type(m._optimizer).__name__ == "Adam" and m.learning_rate_ == 1e-3
    assert m.get_params()["optimizer"] == "adam" and m.n_iter_ == 8
    m.set_params(learning_rate="auto", optimizer="sgd")
    m.fit(Xtr, ytr)
    auto = LinearSVM(max_epochs=1, random_state=0).fit(Xtr, ytr).learning_rate_
    assert m.learning_rate_ == pytest.approx(auto, rel=1e-6)


# -- class weights ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weights,match",
    [
        ({0: -1.0}, "finite weight >= 0"),
        ({0: float("nan")}, "finite weight >= 0"),
        ({0: float("inf")}, "finite weight >= 0"),
        ({0: "2"}, "finite weight >= 0"),
        ({0: True}, "finite weight >= 0"),
        (dict.fromkeys(range(10), 0.0), "every class a weight of 0"),
    ],
)
def test_impossible_class_weights_are_refused(digits_split, weights, match):
    Xtr, ytr = digits_split[:2]
    with pytest.raises(ValueError, match=match):
        LinearSVM(class_weight=weights, max_epochs=1).fit(Xtr, ytr)


# -- the command line: --out, Ctrl-C while loading, interrupted runs -----------------------------


def _never_load(config):
    raise AssertionError("the data set was loaded before --out was checked")


def test_an_out_that_is_a_file_fails_before_loading(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runs, "_prepare", _never_load)
    target = tmp_path / "a-file"
    target.write_text("mine")
    for out in (target, target / "sub"):
        assert cli.main(["train", "--out", str(out)]) == 1
        assert "is a file" in capsys.readouterr().err
    assert target.read_text() == "mine"
    (tmp_path / "run" / "model.npz").mkdir(parents=True)
    assert cli.main(["train", "--out", str(tmp_path / "run")]) == 1
    assert "model.npz is a folder" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_a_read_only_out_fails_before_loading(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(runs, "_prepare", _never_load)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert cli.main(["train", "--out", str(ro / "run")]) == 1
        assert "cannot write into --out" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


@pytest.fixture
def trained(tmp_path):
    out = tmp_path / "run"
    assert cli.main(["train", "--epochs", "3", "--out", str(out), "--no-plots"]) == 0
    return out, (out / "model.npz").read_bytes()


def test_ctrl_c_while_the_data_loads_aborts_and_saves_nothing(trained, monkeypatch, capsys):
    out, before = trained
    real = runs._prepare

    def interrupted_load(config, progress=None, on_stage=None):
        os.kill(os.getpid(), signal.SIGINT)  # arrives while "loading"
        return real(config, progress, on_stage)

    monkeypatch.setattr(runs, "_prepare", interrupted_load)
    assert cli.main(["train", "--epochs", "50", "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert (out / "model.npz").read_bytes() == before
    assert not (out / "model.interrupted.npz").exists()


def test_an_interrupted_run_keeps_the_model_that_was_there(trained, monkeypatch, capsys):
    out, before = trained
    interrupt_cli_at_epoch(monkeypatch, 2)
    monkeypatch.setenv("COLUMNS", "500")  # no wrapped paths
    assert cli.main(["train", "--epochs", "1000", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "model.npz is kept as it was" in err and "model.interrupted.npz" in err
    assert (out / "model.npz").read_bytes() == before
    assert load(out / "model.interrupted.npz").named_steps["classifier"].n_iter_ == 2
    metrics = json.loads((out / "metrics.interrupted.json").read_text())
    assert metrics["interrupted"] and metrics["epochs"] == 2


def test_a_diverged_run_saves_nothing(trained, capsys):
    out, before = trained
    assert (
        cli.main(
            [
                "train",
                "--model",
                "softmax",
                "--batch-size",
                "full",
                "--lr",
                "100",
                "--epochs",
                "30",
                "--out",
                str(out),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "grew from" in err[0] and "--lr auto" in err[0]
    assert (out / "model.npz").read_bytes() == before


# -- atomic writes ----------------------------------------------------------------------------


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("unnamed", [True, False])
def test_a_failed_write_leaves_the_old_file_and_nothing_else(tmp_path, monkeypatch, unnamed):
    from linclass import io as model_io

    if not unnamed:  # the portable path (no O_TMPFILE): a named temporary from the start
        monkeypatch.setattr(model_io, "_unnamed_file", lambda folder: None)
    target = tmp_path / "model.npz"
    target.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"new, half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old" and _temporaries(tmp_path) == []
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new" and _temporaries(tmp_path) == []


def test_a_write_onto_a_folder_is_refused_and_the_folder_kept(tmp_path):
    (tmp_path / "model.npz").mkdir()
    (tmp_path / "model.npz" / "mine.txt").write_text("keep")
    with pytest.raises(IsADirectoryError, match="is a folder; give a file name"):
        atomic_write(tmp_path / "model.npz", lambda f: f.write(b"new"))
    assert (tmp_path / "model.npz" / "mine.txt").read_text() == "keep"
    assert _temporaries(tmp_path) == []


def test_temporaries_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    stale = tmp_path / f".model.npz.{dead}.abc123.tmp"
    live = tmp_path / f".model.npz.{os.getpid()}.abc123.tmp"
    other = tmp_path / f".notes.txt.{dead}.abc123.tmp"
    for p in (stale, live, other):
        p.write_bytes(b"x" * 1000)
    atomic_write(tmp_path / "model.npz", lambda f: f.write(b"new"))
    assert not stale.exists() and live.exists() and other.exists()


# -- killed at random moments ---------------------------------------------------------------------

_SAVER = """
import sys, numpy as np
from linclass import LinearSVM, save
from linclass.data import load_digits
ds = load_digits()
m = LinearSVM(max_epochs=1, random_state=0).fit(ds.X[:300] / 16.0, ds.y[:300])
m.coef_ = np.repeat(m.coef_, 40, axis=1)  # a bigger file: ~2.5 MB a save
m.n_features_in_ = m.coef_.shape[1]
print("ready", flush=True)
i = 0
while True:
    m.intercept_[:] = i
    save(m, sys.argv[1])
    i += 1
"""

KILLS = int(os.environ.get("LINCLASS_KILLS", "12"))


def test_save_killed_at_random_moments_never_loses_the_model(tmp_path):
    """``kill -9`` a process that saves a model over and over: each time, the file is a whole
    model (the old one or a new one). The new file has no name while it is written; only a
    kill in the microseconds between naming the finished file and renaming it over the target
    can leave a hidden ``.model.npz.PID.*.tmp`` -- of that process -- and the next save
    removes it."""
    target = tmp_path / "model.npz"
    rng = random.Random(0)
    seen, left = set(), 0
    for _ in range(KILLS):
        p = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(target)], stdout=subprocess.PIPE, text=True
        )
        assert p.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.4))
        p.kill()
        p.wait()
        p.stdout.close()
        if target.exists():
            model = load(target)  # raises if the file is not a whole model
            assert model.coef_.shape == (10, 64 * 40)
            seen.add(float(model.intercept_[0]))
        temporaries = _temporaries(tmp_path)
        assert all(t.startswith(f".model.npz.{p.pid}.") for t in temporaries), temporaries
        left += len(temporaries)
    assert target.exists() and len(seen) > 1
    atomic_write(target, lambda f: f.write(b"a last save"))
    assert _temporaries(tmp_path) == []
    print(f"\n{KILLS} kills of a saving process: {left} left a named temporary")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_train_killed_at_random_moments_keeps_the_model_intact(tmp_path, sig):
    """``linclass train`` over an existing run, killed (or Ctrl-C'd) while it loads, trains or
    saves: the model there is the old one or a new whole one, never damaged or cut short, and
    no temporary file is left."""
    out = tmp_path / "run"
    assert cli.main(["train", "--epochs", "2", "--out", str(out), "--no-plots"]) == 0
    rng = random.Random(int(sig))
    for _ in range(max(2, KILLS // 4)):
        p = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "linclass",
                "train",
                "--epochs",
                "40",
                "--out",
                str(out),
                "--no-plots",
                "--quiet",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.5, 4.0))
        p.send_signal(sig)
        try:
            _, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hang is the failure
            p.kill()
            raise
        assert "Traceback" not in err, err
        clf = load(out / "model.npz").named_steps["classifier"]
        assert clf.n_iter_ in (2, 40)  # the old model, or a whole new one
        if (out / "model.interrupted.npz").exists():  # Ctrl-C while training
            assert sig == signal.SIGINT
            load(out / "model.interrupted.npz")
        assert _temporaries(out) == []


def test_import_linclass_is_light_so_the_command_can_catch_ctrl_c():
    """The package imports its heavy parts (scikit-learn) on first use: the command line is
    inside its own error handling before they load, so Ctrl-C then is 'interrupted', exit 130,
    not a traceback."""
    code = (
        "import sys, linclass, linclass.cli; "
        "print('sklearn' in sys.modules, callable(linclass.scores)); "
        "import linclass.estimators; print(callable(linclass.scores), linclass.LinearSVM)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.splitlines() == [
        "False True",
        "True <class 'linclass.estimators.LinearSVM'>",
    ], r.stderr


@pytest.mark.parametrize("unnamed", [True, False])
@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_written_files_get_the_mode_a_plain_open_would(tmp_path, monkeypatch, unnamed, mask):
    from linclass import io as model_io

    if not unnamed:  # the portable path: a named temporary from mkstemp (mode 0600)
        monkeypatch.setattr(model_io, "_unnamed_file", lambda folder: None)
    old = os.umask(mask)
    try:
        atomic_write(tmp_path / "model.npz", lambda f: f.write(b"x"))
    finally:
        os.umask(old)
    assert (tmp_path / "model.npz").stat().st_mode & 0o777 == 0o666 & ~mask
