"""Image features in a training run (issue 14): the named pipelines of ``--features``, stored in
the model file, and cached on disk."""

import json
import zipfile

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from linclass import SoftmaxClassifier
from linclass.data import MeanImage
from linclass.errors import InputError, ModelFileError
from linclass.features import HOG, Patches, spec
from linclass.features import cache as fcache
from linclass.features.cache import FeatureCache
from linclass.io import load, save

SHAPE = (10, 12, 3)


def images(n=60, seed=0, shape=SHAPE):
    """Coloured images whose class is where their bright square sits (left or right)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 60, (n, *shape)).astype(np.uint8)
    y = np.arange(n) % 2
    for i in range(n):
        c = 1 + 6 * y[i]
        X[i, 2:8, c : c + 4] = rng.integers(150, 255, shape[2] if len(shape) == 3 else 1)
    return X.reshape(n, -1), y


def small(name, shape=SHAPE, seed=0):
    feat = spec.build(name, shape, 255, seed)
    if isinstance(feat, Patches):  # quick: few patches, small ones
        feat.set_params(n_patches=3000, patch_size=4, kmeans_iter=5)
    return feat


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("raw", "raw"),
        ("HOG", "hog"),
        (" hog+color ", "hog+color"),
        ("hog+hsv", "hog+hsv"),
        ("patches", "patches:1600"),
        ("patches:4000", "patches:4000"),
        ("patches:07", "patches:7"),
    ],
)
def test_names_have_one_canonical_form(text, canonical):
    assert spec.parse(text) == canonical


@pytest.mark.parametrize(
    "text", ["pixels", "patches:0", "patches:-3", "patches:x", "hog+", "patches:1000000", ""]
)
def test_an_unknown_name_lists_the_known_ones(text):
    with pytest.raises(InputError, match="raw, hog, hog\\+color, hog\\+hsv, patches|centroids"):
        spec.parse(text)


def test_each_name_builds_its_documented_transformer():
    assert spec.build("raw", SHAPE) is None
    hog = spec.build("hog", SHAPE)
    assert isinstance(hog, HOG) and hog.cell_size == 8 and hog.block_size is None
    parts = dict(spec.build("hog+hsv", SHAPE, pixel_max=16).transformer_list)
    assert parts["hog"].cell_size == 4 and parts["hog"].block_size == 2
    assert parts["hsv"].bins == (12, 4, 4) and parts["hsv"].pixel_max == 16
    assert dict(spec.build("hog+color", SHAPE).transformer_list)["hue"].bins == 10
    p = spec.build("patches:40", SHAPE, pixel_max=16, seed=7)
    assert (p.n_centroids, p.pixel_max, p.random_state) == (40, 16, 7)


@pytest.mark.parametrize("name", ["hog", "hog+color", "hog+hsv", "patches:12"])
def test_a_model_with_features_saves_and_loads_bit_for_bit(name, tmp_path):
    X, y = images()
    model = Pipeline(
        [
            ("features", small(name)),
            ("preprocess", MeanImage(standardize=True)),
            ("classifier", SoftmaxClassifier(solver="lbfgs", reg=1e-3)),
        ]
    ).fit(X, y)
    save(model, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert [n for n, _ in back.steps] == ["features", "preprocess", "classifier"]
    X2, _ = images(20, seed=1)
    np.testing.assert_array_equal(back[0].transform(X2), model[0].transform(X2))
    np.testing.assert_array_equal(back.predict_proba(X2), model.predict_proba(X2))
    if name.startswith("patches"):
        assert back[0].inertia_ == model[0].inertia_
        for attr in ("zca_mean_", "zca_", "centroids_"):
            np.testing.assert_array_equal(getattr(back[0], attr), getattr(model[0], attr))
    assert model.score(X, y) > 0.9  # the features see the square


def _rewrite(path, change):
    """Rewrite an .npz file with ``change(arrays)`` applied (a hand-damaged file)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _info_change(fn):
    def change(arrays):
        info = json.loads(str(arrays["features"]))
        fn(info)
        arrays["features"] = np.array(json.dumps(info))

    return change


@pytest.mark.parametrize(
    "change, match",
    [
        (_info_change(lambda i: i["steps"][0].update(kind="Pickle")), "not a known kind"),
        (_info_change(lambda i: i.update(steps=[])), "1 to 8 steps"),
        (_info_change(lambda i: i["steps"][0]["params"].update(evil=1)), "unknown parameters"),
        (_info_change(lambda i: i["steps"][0]["params"].update(patch_size=0)), "cannot be used"),
        (_info_change(lambda i: i["steps"][0]["params"].update(n_centroids=13)), "centroids"),
        (_info_change(lambda i: i["steps"][0].update(image_shape=[10, 12, -3])), "image shape"),
        (_info_change(lambda i: i["steps"][0].update(image_shape=[3, 3, 3])), "cannot be used"),
        (_info_change(lambda i: i["steps"][0].update(inertia="x")), "inertia"),
        (lambda a: a.update(features_0_centroids=np.full((12, 48), np.nan, np.float32)), "finite"),
        (lambda a: a.update(features_0_zca=np.eye(48)), "float32"),
        (lambda a: a.pop("features_0_zca_mean"), "lacks features_0_zca_mean"),
        (lambda a: a.update(features=np.array("[1, 2")), "not JSON"),
    ],
)
def test_a_damaged_feature_step_is_a_clear_error(change, match, tmp_path):
    X, y = images()
    model = Pipeline(
        [("features", small("patches:12")), ("classifier", SoftmaxClassifier(solver="lbfgs"))]
    ).fit(X, y)
    save(model, tmp_path / "m.npz")
    _rewrite(tmp_path / "m.npz", change)
    with pytest.raises(ModelFileError, match=match):
        load(tmp_path / "m.npz")


def test_features_that_do_not_fit_the_weights_are_refused(tmp_path):
    X, y = images()
    model = Pipeline([("features", small("hog")), ("classifier", SoftmaxClassifier())]).fit(X, y)
    save(model, tmp_path / "m.npz")
    _rewrite(
        tmp_path / "m.npz", _info_change(lambda i: i["steps"][0]["params"].update(orientations=5))
    )
    with pytest.raises(ModelFileError, match="give 5 values but the weights take 9"):
        load(tmp_path / "m.npz")


def test_only_linclass_features_are_saved(tmp_path):
    from sklearn.preprocessing import StandardScaler

    X, y = images()
    model = Pipeline([("s", StandardScaler()), ("c", SoftmaxClassifier())]).fit(X, y)
    with pytest.raises(TypeError, match="only a Pipeline of"):
        save(model, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


# -- the cache -----------------------------------------------------------------------------------


def _counting(monkeypatch):
    """Count the real fits and transforms of every feature kind."""
    calls = {"fit": 0, "transform": 0}
    for cls in (HOG, Patches):
        for what in calls:
            real = getattr(cls, what)

            def counted(self, *a, _real=real, _what=what, **k):
                calls[_what] += 1
                return _real(self, *a, **k)

            monkeypatch.setattr(cls, what, counted)
    return calls


@pytest.mark.parametrize("name", ["hog", "patches:12"])
def test_the_cache_computes_each_feature_once(name, tmp_path, monkeypatch):
    calls = _counting(monkeypatch)
    X, _ = images()
    events = []
    cache = FeatureCache(tmp_path, on_event=events.append)
    first = cache.fit(small(name), X)
    F1 = cache.transform(first, X)
    assert calls == {"fit": 1, "transform": 1} and events == []
    again = cache.fit(small(name), X)  # a new, unfitted transformer: loaded, not fitted
    F2 = cache.transform(again, X)
    assert calls == {"fit": 1, "transform": 1}
    np.testing.assert_array_equal(F1, F2)
    assert len(events) == 2 and "from the cache" in events[0]
    # other parameters (another seed), or other images, are other entries
    other = {"cell_size": 4} if name == "hog" else {"random_state": 1}
    cache.fit(small(name).set_params(**other), X)
    cache.transform(first, X[:-1])
    assert calls == {"fit": 2, "transform": 2}


@pytest.mark.parametrize("seed", [None, np.random.RandomState(0)])
def test_an_unseeded_fit_is_never_taken_from_the_cache(seed, tmp_path, monkeypatch):
    calls = _counting(monkeypatch)
    X, _ = images()
    cache = FeatureCache(tmp_path)
    for _ in range(2):
        fitted = cache.fit(small("patches:12").set_params(random_state=seed), X)
    assert calls["fit"] == 2 and not list(tmp_path.glob("fit-*.npz"))
    cache.transform(fitted, X)  # its features are still cached, keyed by what it learnt
    cache.transform(fitted, X)
    assert calls["transform"] == 1


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv(fcache.ENV, "off")
    assert fcache.cache_dir() is None
    monkeypatch.setenv(fcache.ENV, str(tmp_path / "c"))
    assert fcache.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(fcache.ENV)
    monkeypatch.setenv("LINCLASS_DATA", str(tmp_path / "d"))
    assert fcache.cache_dir() == tmp_path / "d" / "features"
    X, _ = images()
    feat = small("hog").fit(X)
    FeatureCache().transform(feat, X)  # on by default: written under $LINCLASS_DATA
    assert len(list((tmp_path / "d" / "features").glob("features-*.npz"))) == 1
    monkeypatch.setenv(fcache.ENV, "off")
    FeatureCache().transform(feat, X[:-1])
    FeatureCache(False).transform(feat, X[:-2])
    assert len(list((tmp_path / "d" / "features").glob("features-*.npz"))) == 1


def _damage_truncate(path):
    path.write_bytes(path.read_bytes()[:200])


def _damage_features(path):
    _rewrite(path, lambda a: a.update(features=a["features"][:, :3]))


def _damage_key(path):  # an entry written for something else
    _rewrite(path, lambda a: a.update(key=np.array("0" * 40)))


def _damage_nan(path):
    _rewrite(path, lambda a: a["features"].__setitem__((0, 0), np.nan))


@pytest.mark.parametrize(
    "damage",
    [
        _damage_truncate,
        _damage_features,
        _damage_key,
        _damage_nan,
        lambda p: p.write_bytes(b"PK\x03\x04" * 9),
    ],
)
def test_a_damaged_entry_is_computed_again_never_used(damage, tmp_path, monkeypatch):
    X, _ = images()
    feat = small("hog").fit(X)
    cache = FeatureCache(tmp_path)
    good = cache.transform(feat, X)
    (entry,) = tmp_path.glob("features-*.npz")
    damage(entry)
    events = []
    calls = _counting(monkeypatch)
    again = FeatureCache(tmp_path, on_event=events.append).transform(feat, X)
    np.testing.assert_array_equal(again, good)
    assert calls["transform"] == 1
    assert len(events) == 1 and "damaged or from another version" in events[0]
    # ... and rewritten whole: the next run reads it
    assert FeatureCache(tmp_path).transform(feat, X).shape == good.shape
    assert calls["transform"] == 1


def test_a_damaged_fitted_entry_is_fitted_again(tmp_path, monkeypatch):
    X, _ = images()
    FeatureCache(tmp_path).fit(small("patches:12"), X)
    (entry,) = tmp_path.glob("fit-*.npz")
    _rewrite(entry, lambda a: a.update(features_0_centroids=a["features_0_centroids"][:5]))
    events = []
    calls = _counting(monkeypatch)
    fitted = FeatureCache(tmp_path, on_event=events.append).fit(small("patches:12"), X)
    assert calls["fit"] == 1 and fitted.centroids_.shape == (12, 48)
    assert "damaged" in events[0]


def test_an_entry_from_another_version_is_not_used(tmp_path, monkeypatch):
    X, _ = images()
    feat = small("hog").fit(X)
    FeatureCache(tmp_path).transform(feat, X)
    monkeypatch.setattr(fcache, "CACHE_VERSION", fcache.CACHE_VERSION + 1)
    calls = _counting(monkeypatch)
    FeatureCache(tmp_path).transform(feat, X)
    assert calls["transform"] == 1 and len(list(tmp_path.glob("features-*.npz"))) == 2


def test_a_cache_that_cannot_be_written_costs_only_the_speed(tmp_path):
    X, _ = images()
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    events = []
    cache = FeatureCache(blocked / "sub", on_event=events.append)
    F = cache.transform(small("hog").fit(X), X)
    assert F.shape == (60, 9) and "could not write" in events[0]
    assert blocked.read_text().startswith("a file")


def test_a_cache_entry_is_an_npz_without_pickle(tmp_path):
    X, _ = images()
    FeatureCache(tmp_path).fit(small("patches:12"), X)
    (entry,) = tmp_path.glob("fit-*.npz")
    with zipfile.ZipFile(entry) as z:
        assert sorted(z.namelist()) == sorted(
            [
                "format.npy",
                "key.npy",
                "state.npy",
                "features_0_zca_mean.npy",
                "features_0_zca.npy",
                "features_0_centroids.npy",
            ]
        )
    with np.load(entry, allow_pickle=False) as data:
        assert str(data["format"]) == "linclass-features"


# -- in a training run -------------------------------------------------------------------------


def _tree(root, per_class=12):
    from test_loaders import make_tree

    return make_tree(root, per_class=per_class, size=(16, 16))


def test_train_tune_evaluate_and_predict_with_features(tmp_path, monkeypatch):
    from linclass.runs import (
        DataSpec,
        ModelSpec,
        Outputs,
        TrainConfig,
        evaluate,
        predict,
        train,
        tune,
    )

    root = _tree(tmp_path / "pets")
    data = DataSpec(dataset=f"folder:{root}", features=" HOG+hsv", val_size=4, test_size=6)
    model = ModelSpec(model="softmax", solver="lbfgs", max_epochs=20)
    stages = []
    result = train(
        TrainConfig(data, model, Outputs(out=str(tmp_path / "run"))),
        on_stage=lambda name, counts=None: stages.append((name, counts)),
    )
    assert ("features", None) in stages
    counts = [c for n, c in stages if n == "features" and c]
    assert {c[0] for c in counts} == {"train", "val", "test"}
    assert counts[-1][1:] == (24, 24)  # one count over the three parts: 14 + 4 + 6
    assert [c[1] for c in counts] == sorted(c[1] for c in counts)
    saved = load(result.model_path)
    assert [n for n, _ in saved.steps] == ["features", "preprocess", "classifier"]
    assert saved[1].standardize  # features are standardized
    from linclass.io import load_metadata

    assert load_metadata(result.model_path)["features"] == "hog+hsv"
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["n_test"] == 6
    # the same features again: from the cache, never computed
    calls = _counting(monkeypatch)
    ev = evaluate(result.model_path)
    assert ev.accuracy == result.metrics.test_accuracy and ev.n == 6
    tuned = tune(TrainConfig(data, model, Outputs(out=str(tmp_path / "tune"))), trials=2)
    assert calls == {"fit": 0, "transform": 0}
    assert load(tuned.model_path).steps[0][0] == "features"
    # new images: the stored features are computed for them
    kind, rows = predict(result.model_path, [root / "cat"])
    assert kind == "probability" and len(rows) == 12 and calls["transform"] == 1


def test_features_meet_the_images_they_need(tmp_path):
    from linclass.runs import DataSpec, ModelSpec, Outputs, TrainConfig, train

    config = TrainConfig(
        DataSpec(features="hog+color"),
        ModelSpec(max_epochs=2),
        Outputs(out=str(tmp_path / "o"), plots=False),
    )
    with pytest.raises(InputError, match="Grey images have no hue"):
        train(config)  # the digits are grey
    with pytest.raises(InputError, match="smaller than a patch"):
        train(
            TrainConfig(
                DataSpec(
                    features="patches", image_size=4, dataset=f"folder:{_tree(tmp_path / 'p')}"
                ),
                ModelSpec(max_epochs=2),
                Outputs(out=str(tmp_path / "o")),
            )
        )
    assert not (tmp_path / "o").exists()
    with pytest.raises(InputError, match="--features does not apply to a prepared data set"):
        train(
            TrainConfig(
                DataSpec(dataset=f"npy:{tmp_path}", features="HOG"),
                ModelSpec(max_epochs=2),
                Outputs(out=str(tmp_path / "o")),
            )
        )


def test_the_command_line_trains_with_features_and_says_what_the_cache_did(tmp_path):
    from test_cli import run

    out = tmp_path / "run"
    args = (
        "train",
        "--model",
        "softmax",
        "--features",
        "hog",
        "--epochs",
        "5",
        "--no-plots",
        "--out",
        str(out),
        "--dataset",
        f"folder:{_tree(tmp_path / 'pets')}",
    )
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert "features hog" in r.stderr and "from the cache" not in r.stderr
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert "from the cache" in r.stderr
    r = run("evaluate", str(out / "model.npz"))
    assert r.returncode == 0 and "accuracy" in r.stdout, r.stderr
    r = run("tune", *args[1:7], "--trials", "2", "--out", str(tmp_path / "tune"), *args[-2:])
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("from the cache") == 4  # fitted features, train, val and test
    r = run("train", "--features", "patches:0", "--out", str(tmp_path / "bad"))
    assert r.returncode == 2 and "centroids from 1 to" in r.stderr
    assert not (tmp_path / "bad").exists()


def test_unfitted_features_are_not_saved(tmp_path):
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import FeatureUnion

    X, y = images()
    clf = SoftmaxClassifier().fit(small("hog").fit_transform(X), y)
    union = FeatureUnion([("a", small("hog").fit(X)), ("b", small("hog"))])  # b not fitted
    with pytest.raises(NotFittedError):
        save(Pipeline([("features", union), ("classifier", clf)]), tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
