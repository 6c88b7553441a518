"""Hyperparameter search (linclass.hyperparams, and `linclass tune`)."""

import json

import numpy as np
import pytest

from linclass import cli
from linclass.hyperparams import check_range, search, search_ranges, trial_grid
from linclass.runs import ModelSpec, Outputs, TrainConfig, tune


def test_ranges_and_grids():
    assert check_range((1e-7, 1e-5), "lr_range") == (1e-7, 1e-5)
    assert check_range(3, "reg_range") == (3.0, 3.0)
    for bad in ((1e-5, 1e-7), ("x", 1), (0, 1), (1, 2, 3), "1:2", None, (1, float("inf"))):
        with pytest.raises(ValueError, match="lr_range must be a"):
            check_range(bad, "lr_range")
    with pytest.raises(ValueError, match="reg_range"):
        search_ranges("svm", np.ones((4, 2)), [0, 1, 0, 1], reg_range=(2, 1))
    grid = trial_grid((1e-3, 1e-1), (1.0, 100.0), 9, grid=True)
    assert len(grid) == 9 and grid[0] == pytest.approx((1e-3, 1.0))
    assert sorted({round(np.log10(lr), 6) for lr, _ in grid}) == [-3, -2, -1]
    draws = trial_grid((1e-3, 1e-1), (1.0, 100.0), 50, seed=1)
    assert all(1e-3 <= lr <= 1e-1 and 1 <= reg <= 100 for lr, reg in draws)
    assert draws == trial_grid((1e-3, 1e-1), (1.0, 100.0), 50, seed=1)


def test_search_is_reproducible_and_parallel_equals_serial(digits_split, tmp_path):
    Xtr, ytr, Xva, yva = digits_split[:4]
    kw = dict(
        lr_range=(1e-4, 1e-2),
        reg_range=(1e-3, 1.0),
        trials=4,
        seed=3,
        params={"max_epochs": 5},
        workdir=tmp_path,
    )
    serial, best_s = search("softmax", Xtr, ytr, Xva, yva, n_jobs=1, **kw)
    parallel, best_p = search("softmax", Xtr, ytr, Xva, yva, n_jobs=2, **kw)
    assert [r["val_accuracy"] for r in serial] == [r["val_accuracy"] for r in parallel]
    np.testing.assert_array_equal(best_s.coef_, best_p.coef_)
    accs = [r["val_accuracy"] for r in serial]
    assert accs == sorted(accs, reverse=True)
    assert best_s.score(Xva, yva) == pytest.approx(serial[0]["val_accuracy"])
    assert list(tmp_path.iterdir()) == []  # the memory-mapped copies are gone


def test_diverging_trials_are_reported_not_fatal(digits_split, tmp_path):
    Xtr, ytr, Xva, yva = digits_split[:4]
    results, _ = search(
        "softmax",
        Xtr * 1e3,
        ytr,
        Xva * 1e3,
        yva,
        lr_range=(1e-3, 1e9),
        reg_range=(1e-3, 1e-3),
        trials=4,
        grid=True,
        n_jobs=1,
        params={"max_epochs": 3},
        workdir=tmp_path,
    )
    assert any("error" in r for r in results)
    assert "error" not in results[0]
    with pytest.raises(ValueError, match="every trial diverged"):
        search(
            "softmax",
            Xtr * 1e3,
            ytr,
            Xva * 1e3,
            yva,
            lr_range=(1e9, 1e10),
            reg_range=(1e-3, 1e-3),
            trials=2,
            n_jobs=1,
            params={"max_epochs": 3},
            workdir=tmp_path,
        )


def test_tune_run_saves_the_best_model_and_a_report(tmp_path):
    result = tune(
        TrainConfig(model=ModelSpec("svm", max_epochs=10), output=Outputs(str(tmp_path))),
        lr_range=(1e-4, 1e-2),
        reg_range=(1e-3, 1.0),
        trials=4,
        n_jobs=1,
    )
    report = json.loads((tmp_path / "tune.json").read_text())
    assert len(report["results"]) == 4 and report["best"] == report["results"][0]
    assert (tmp_path / "tune.png").read_bytes()[:4] == b"\x89PNG"
    from linclass import load

    model = load(tmp_path / "model.npz")
    assert model[-1].learning_rate_ == pytest.approx(report["best"]["learning_rate"])
    assert result.test_accuracy > 0.8


def test_tune_command(tmp_path, capsys):
    code = cli.main(
        [
            "tune",
            "--model",
            "softmax",
            "--lr",
            "1e-4:1e-2",
            "--reg",
            "1e-3:1",
            "--trials",
            "4",
            "--grid",
            "--epochs",
            "5",
            "--jobs",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "best: lr" in out and "tune.json" in out
    with pytest.raises(SystemExit) as e:  # a usage error: argparse's exit 2
        cli.main(["tune", "--lr", "bad"])
    assert e.value.code == 2
