"""Pictures of a run, ``linclass plot`` and ``linclass predict``."""

import json

import numpy as np
import pytest

from linclass import cli, plots
from linclass.runs import PLOTS, ModelSpec, Outputs, TrainConfig, predict, train

Image = pytest.importorskip("PIL.Image")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    result = train(TrainConfig(model=ModelSpec("softmax", max_epochs=20), output=Outputs(str(out))))
    return out, result


def test_train_draws_every_picture(run):
    out, result = run
    assert [p.name for p in result.plots] == list(PLOTS)
    for name in PLOTS:
        assert (out / name).read_bytes()[:8] == PNG


def test_template_images_use_one_scale_for_all_classes():
    W = np.array([[0.0, 1.0, 2.0, 3.0], [-1.0, -1.0, 1.0, 1.0]])
    imgs = plots.template_images(W, (2, 2))
    assert imgs.shape == (2, 2, 2) and imgs.dtype == np.uint8
    assert imgs[1, 0, 0] == 0 and imgs[0, 1, 1] == 255  # the min and max of all of W
    assert imgs[0, 0, 0] == int(255 * 1 / 4)


def test_plot_command_redraws_from_the_saved_model(run, tmp_path):
    out, _ = run
    assert cli.main(["plot", str(out / "model.npz"), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(PLOTS)


def digit_png(path, index=0, mode="L", size=(8, 8)):
    from linclass.data import load_digits

    ds = load_digits()
    img = (ds.X[index].reshape(8, 8).astype(np.float64) * 255 / 16).round().astype(np.uint8)
    im = Image.fromarray(img).resize(size, Image.Resampling.NEAREST)
    im.convert(mode).save(path)
    return ds.y[index]


def test_predict_converts_pictures_like_the_training_data(run, tmp_path):
    out, _ = run
    truth = [digit_png(tmp_path / f"d{i}.png", index=i) for i in range(10)]
    digit_png(tmp_path / "big_rgb.png", index=0, mode="RGB", size=(64, 64))
    kind, results = predict(out / "model.npz", [tmp_path], top_k=2)
    assert kind == "probability"
    by_name = {r["path"].split("/")[-1]: r for r in results}
    hits = sum(by_name[f"d{i}.png"]["top"][0][0] == str(truth[i]) for i in range(10))
    assert hits >= 8
    assert by_name["big_rgb.png"]["top"][0][0] == "0"  # resized and turned grey
    for r in results:
        assert len(r["top"]) == 2 and r["top"][0][1] >= r["top"][1][1]
        assert 0 <= r["top"][1][1] <= r["top"][0][1] <= 1


def test_predict_command_and_its_errors(run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    out, _ = run
    digit_png(tmp_path / "zero.png")
    assert cli.main(["predict", str(out / "model.npz"), str(tmp_path / "zero.png")]) == 0
    assert "zero.png" in capsys.readouterr().out
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert cli.main(["predict", str(out / "model.npz"), str(tmp_path / "bad.png")]) == 1
    assert "bad.png cannot be read" in capsys.readouterr().err
    assert cli.main(["predict", str(out / "model.npz"), str(tmp_path / "nope.png")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_predict_needs_a_model_trained_on_images(tmp_path, digits_split, capsys):
    from linclass import LinearSVM

    LinearSVM(max_epochs=2).fit(*digits_split[:2]).save(tmp_path / "bare.npz")
    digit_png(tmp_path / "zero.png")
    assert cli.main(["predict", str(tmp_path / "bare.npz"), str(tmp_path / "zero.png")]) == 1
    assert "records no image shape" in capsys.readouterr().err


def test_svm_predictions_are_scores(tmp_path):
    result = train(
        TrainConfig(
            model=ModelSpec("svm", max_epochs=5), output=Outputs(str(tmp_path), plots=False)
        )
    )
    assert result.plots == []
    digit_png(tmp_path / "zero.png")
    kind, results = predict(tmp_path / "model.npz", [tmp_path / "zero.png"], top_k=20)
    assert kind == "score" and len(results[0]["top"]) == 10
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] >= metrics["epochs"]
