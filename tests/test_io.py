import json
import zipfile

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

import linclass
from linclass import LinearSVM, ModelFileError, SoftmaxClassifier
from linclass.data import MeanImage


@pytest.fixture(scope="module")
def fitted(digits_split):
    Xtr, ytr = digits_split[:2]
    names = np.array([f"digit {i}" for i in range(10)])
    return {
        "svm": LinearSVM(random_state=0, max_epochs=5, loss_variant="crammer_singer").fit(
            Xtr, names[ytr]
        ),
        "softmax": SoftmaxClassifier(random_state=0, max_epochs=5).fit(Xtr, ytr),
    }


@pytest.mark.parametrize("kind", ["svm", "softmax"])
def test_save_load_gives_identical_predictions(kind, fitted, digits_split, tmp_path):
    model = fitted[kind]
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = linclass.load(path)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    Xte = digits_split[4]
    np.testing.assert_array_equal(loaded.predict(Xte), model.predict(Xte))
    np.testing.assert_array_equal(loaded.decision_function(Xte), model.decision_function(Xte))
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.history_ == model.history_ and loaded.n_iter_ == model.n_iter_
    if kind == "softmax":
        np.testing.assert_array_equal(loaded.predict_proba(Xte), model.predict_proba(Xte))
    # a loaded model can go on training
    loaded.partial_fit(digits_split[0][:50], model.predict(digits_split[0][:50]))


def test_pipeline_with_preprocessing_round_trip(digits_split, tmp_path):
    from linclass.data import load_digits, train_val_test_split

    sp = train_val_test_split(load_digits(), random_state=0)
    pipe = Pipeline(
        [
            ("pre", MeanImage(standardize=True)),
            ("clf", SoftmaxClassifier(random_state=0, max_epochs=5)),
        ]
    )
    pipe.fit(sp.X_train, sp.y_train)
    path = tmp_path / "pipe.npz"
    linclass.save(pipe, path, metadata={"image_shape": [8, 8]})
    loaded = linclass.load(path)
    assert isinstance(loaded, Pipeline)
    np.testing.assert_array_equal(loaded.predict(sp.X_test), pipe.predict(sp.X_test))
    np.testing.assert_array_equal(loaded[0].scale_, pipe[0].scale_)
    assert linclass.io.load_metadata(path) == {"image_shape": [8, 8]}


def test_the_file_holds_no_pickle(fitted, tmp_path):
    path = tmp_path / "m.npz"
    fitted["svm"].save(path)
    with np.load(path, allow_pickle=False) as data:  # would raise on any object array
        assert str(data["format"]) == "linclass-model"
        assert int(data["format_version"]) == 1
        assert json.loads(str(data["params"]))["loss_variant"] == "crammer_singer"
        for key in data.files:
            assert data[key].dtype != object


def test_failed_save_leaves_the_old_file_intact(fitted, tmp_path):
    path = tmp_path / "m.npz"
    fitted["svm"].save(path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        linclass.save(fitted["softmax"], path, metadata={"bad": object()})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary left behind


def test_unfitted_or_foreign_models_are_refused(tmp_path):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(NotFittedError):
        LinearSVM().save(tmp_path / "m.npz")
    with pytest.raises(TypeError, match="LogisticRegression"):
        linclass.save(LogisticRegression(), tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_damaged_and_foreign_files_get_clear_errors(fitted, tmp_path):
    good = tmp_path / "good.npz"
    fitted["softmax"].save(good)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    plain = tmp_path / "array.npy"
    np.save(plain, np.arange(3))
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, a=np.arange(3))
    pickled = tmp_path / "pickled.npz"
    np.savez(
        pickled,
        format=np.array("linclass-model"),
        format_version=np.array(1),
        estimator=np.array([{"evil": 1}], dtype=object),
    )
    future = tmp_path / "future.npz"
    np.savez(future, format=np.array("linclass-model"), format_version=np.array(99))
    for path, match in [
        (truncated, "damaged|not a linclass"),
        (text, "not a linclass"),
        (plain, "single NumPy array"),
        (foreign, "no format marker"),
        (pickled, "damaged"),
        (future, "version 99"),
    ]:
        with pytest.raises(ModelFileError, match=match):
            linclass.load(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        linclass.load(tmp_path / "missing.npz")
    with pytest.raises(ModelFileError, match="folder"):
        linclass.load(tmp_path)


def test_inconsistent_arrays_are_damage(fitted, tmp_path):
    path = tmp_path / "m.npz"
    fitted["softmax"].save(path)
    with np.load(path) as d:
        arrays = {k: d[k] for k in d.files}
    arrays["coef"] = arrays["coef"][:3]
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ModelFileError, match="do not fit"):
        linclass.load(bad)
    arrays["coef"] = np.full((10, 64), np.nan, np.float32)
    np.savez(bad, **arrays)
    with pytest.raises(ModelFileError, match="finite"):
        linclass.load(bad)


def test_is_a_zip_of_npy_files(fitted, tmp_path):
    path = tmp_path / "m.npz"
    fitted["softmax"].save(path)
    with zipfile.ZipFile(path) as z:
        assert "coef.npy" in z.namelist() and "params.npy" in z.namelist()


def test_class_weight_and_intercept_settings_survive(digits_split, tmp_path):
    Xtr, ytr = digits_split[:2]
    m = LinearSVM(
        class_weight={3: 2.0, 5: 0.5}, fit_intercept=False, max_epochs=2, random_state=0
    ).fit(Xtr, ytr)
    m.save(tmp_path / "m.npz")
    again = linclass.load(tmp_path / "m.npz")
    assert again.get_params()["class_weight"] == {3: 2.0, 5: 0.5}
    assert again.get_params()["fit_intercept"] is False


def test_brackets_and_escapes_inside_metadata_strings_are_text_not_nesting(fitted, tmp_path):
    from linclass.io import load_metadata

    # the nesting check before json.loads reads strings as JSON does: an escaped quote does not
    # end one, an escaped backslash before a quote does, and brackets inside one are text
    meta = {
        "note": 'one " quote, then ' + "[" * 40 + "{" * 40,
        "folder": "C:\\data\\",
        "after": [["two levels"]],
    }
    path = tmp_path / "m.npz"
    linclass.save(fitted["svm"], path, metadata=meta)
    assert load_metadata(path) == meta
    deep = "too deep"
    for _ in range(22):
        deep = [deep]
    deep = {"deep": deep}
    linclass.save(fitted["svm"], path, metadata=deep)
    with pytest.raises(linclass.ModelFileError, match="nested more than 20 levels"):
        load_metadata(path)
