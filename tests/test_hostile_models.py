"""Model files from elsewhere: every malformed field ends in a ``ModelFileError`` that says
what is wrong -- never a KeyError, TypeError or RecursionError, never a model accepted with
nonsense in it -- and random damage to a real file (hypothesis) never ends any other way."""

import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import linclass
from linclass import LinearSVM, ModelFileError
from linclass.data import MeanImage
from linclass.errors import ResourceLimitError


@pytest.fixture(scope="module")
def good(tmp_path_factory, digits_split):
    Xtr, ytr = digits_split[:2]
    clf = LinearSVM(random_state=0, max_epochs=2).fit(Xtr, ytr)
    path = tmp_path_factory.mktemp("m") / "model.npz"
    linclass.save(
        clf,
        path,
        preprocessing=MeanImage(standardize=True).fit(Xtr),
        metadata={"dataset": "digits"},
    )
    with np.load(path) as data:
        return path, {k: data[k] for k in data.files}


def _write(tmp_path, arrays, **changes):
    arrays = {**arrays, **changes}
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = tmp_path / "edited.npz"
    np.savez(path, **arrays)
    return path


def _json_text(obj):
    return np.array(json.dumps(obj))


def _fitted(good, **changes):
    fitted = json.loads(str(good[1]["fitted"]))
    fitted.update(changes)
    return {"fitted": _json_text(fitted)}


BAD_FIELDS = {
    "params not a dict": lambda g: {"params": _json_text([1, 2])},
    "params unknown": lambda g: {"params": _json_text({"colour": "red"})},
    "params a bad value": lambda g: {"params": _json_text({"max_epochs": "lots"})},
    "class_weight not pairs": lambda g: {"params": _json_text({"class_weight": [1, 2]})},
    "fitted a list": lambda g: {"fitted": _json_text([])},
    "fitted n_iter_ text": lambda g: _fitted(g, n_iter_="3"),
    "fitted n_iter_ negative": lambda g: _fitted(g, n_iter_=-1),
    "fitted reg_ nan": lambda g: {
        "fitted": np.array(str(g[1]["fitted"]).replace('"reg_": ', '"reg_": NaN, "x": '))
    },
    "fitted learning_rate_ a list": lambda g: _fitted(g, learning_rate_=[1]),
    "fitted history_ text": lambda g: _fitted(g, history_="long"),
    "fitted history_ unknown key": lambda g: _fitted(g, history_={"rm -rf": [1]}),
    "fitted features disagree": lambda g: _fitted(g, n_features_in_=3),
    "nested thousands deep": lambda g: {
        "metadata": np.array("[" * 5000 + "]" * 5000),
        "params": np.array("[" * 5000 + "]" * 5000),
    },
    "estimator a number": lambda g: {"estimator": np.array(3)},
    "estimator unknown": lambda g: {"estimator": np.array("os.system")},
    "no coef": lambda g: {"coef": None},
    "no params": lambda g: {"params": None},
    "coef text": lambda g: {"coef": g[1]["coef"].astype(str)},
    "coef complex": lambda g: {"coef": g[1]["coef"].astype(complex)},
    "coef 3-d": lambda g: {"coef": g[1]["coef"][:, :, None]},
    "coef int": lambda g: {"coef": g[1]["coef"].astype(np.int64)},
    "intercept another dtype": lambda g: {"intercept": g[1]["intercept"].astype(np.float16)},
    "classes complex": lambda g: {"classes": g[1]["classes"].astype(complex)},
    "classes duplicated": lambda g: {"classes": np.zeros(10, int)},
    "zero classes": lambda g: {
        "classes": np.zeros(0, int),
        "coef": np.zeros((0, 64)),
        "intercept": np.zeros(0),
    },
    "one class": lambda g: {
        "classes": np.zeros(1, int),
        "coef": np.zeros((1, 64)),
        "intercept": np.zeros(1),
    },
    "zero features": lambda g: {"coef": np.zeros((10, 0))},
    "weights inf": lambda g: {"coef": np.full((10, 64), np.inf)},
    "preprocessing unknown kind": lambda g: {"preprocessing": _json_text({"kind": "eval"})},
    "preprocessing standardize text": lambda g: {
        "preprocessing": _json_text({"kind": "mean_image", "standardize": "yes"})
    },
    "preprocessing mean wrong size": lambda g: {"preprocessing_mean": np.zeros(3)},
    "preprocessing mean text": lambda g: {"preprocessing_mean": np.array(["a"] * 64)},
    "preprocessing scale zero": lambda g: {"preprocessing_scale": np.zeros(64, np.float32)},
    "preprocessing scale missing": lambda g: {"preprocessing_scale": None},
    "format_version text": lambda g: {"format_version": np.array("1")},
    "metadata a list": lambda g: {"metadata": _json_text([1])},
}


@pytest.mark.parametrize("case", sorted(BAD_FIELDS))
def test_every_malformed_field_is_a_model_file_error(good, tmp_path, case):
    path = _write(tmp_path, good[1], **BAD_FIELDS[case](good))
    with pytest.raises(ModelFileError, match="edited.npz"):
        _load_and_read_metadata(path)


def _load_and_read_metadata(path):
    """The model, then its metadata alone: a bad field fails one or the other."""
    linclass.load(path)
    linclass.io.load_metadata(path)


def test_the_good_file_loads(good):
    model = linclass.load(good[0])
    assert model.named_steps["classifier"].n_iter_ == 2
    assert linclass.io.load_metadata(good[0]) == {"dataset": "digits"}


def test_a_member_declaring_more_than_it_holds(good, tmp_path):
    """A .npy header can claim any shape; it is checked against the member's bytes and the
    memory cap before numpy allocates it."""
    path = _write(tmp_path, good[1])
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(buf, "w") as zout:
        for info in zin.infolist():
            blob = zin.read(info)
            if info.filename == "coef.npy":
                blob = blob.replace(b"(10, 64)", b"(10000000, 6400000)".ljust(8)[:20])
            zout.writestr(info.filename, blob)
    path.write_bytes(buf.getvalue())
    with pytest.raises(ModelFileError, match="coef.npy declares"):
        linclass.load(path)
    with (
        linclass.limits.caps(max_bytes=100),
        pytest.raises(ResourceLimitError, match="more than the cap"),
    ):
        linclass.load(good[0])


def test_special_files_are_not_model_files(tmp_path):
    with pytest.raises(ModelFileError, match="not a regular file"):
        linclass.load("/dev/zero")


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_damage_is_always_a_model_file_error(good, tmp_path, data):
    blob = bytearray(good[0].read_bytes())
    how = data.draw(st.sampled_from(["flip", "cut", "splice"]))
    if how == "flip":
        for i in data.draw(st.lists(st.integers(0, len(blob) - 1), min_size=1, max_size=20)):
            blob[i] = data.draw(st.integers(0, 255))
    elif how == "cut":
        blob = blob[: data.draw(st.integers(0, len(blob) - 1))]
    else:
        at = data.draw(st.integers(0, len(blob)))
        blob[at:at] = data.draw(st.binary(min_size=1, max_size=200))
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(blob))
    try:
        model = linclass.load(path)
    except ModelFileError:
        return
    # bytes the format does not check (zip comments, padding, float digits) may load: then
    # the model must be whole and usable
    clf = model.named_steps["classifier"]
    assert np.all(np.isfinite(clf.coef_)) and clf.coef_.shape == (10, 64)
    clf.predict(np.zeros((1, 64)))


@pytest.mark.parametrize(
    "field,value",
    [
        ("dataset", 3),
        ("dataset", ""),
        ("image_size", "big"),
        ("image_size", [1, 2, 3]),
        ("image_shape", [0, 8]),
        ("seed", "x"),
        ("val_size", -1),
        ("skip_bad", "yes"),
        ("pixel_max", None),
    ],
)
def test_metadata_fields_are_checked_before_evaluate_acts_on_them(
    good, tmp_path, field, value, capsys
):
    from linclass import cli

    meta = json.loads(str(good[1]["metadata"]))
    meta[field] = value
    path = _write(tmp_path, good[1], metadata=_json_text(meta))
    assert cli.main(["evaluate", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"metadata {field!r}" in err[0]


def test_evaluate_says_which_recorded_data_set_it_reads(tmp_path, capsys):
    from linclass import cli

    assert cli.main(["train", "--epochs", "2", "--no-plots", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "model.npz")]) == 0
    assert "test split of digits, as recorded in" in capsys.readouterr().err
    assert cli.main(["evaluate", str(tmp_path / "model.npz"), "--dataset", "digits"]) == 0
    assert "as recorded" not in capsys.readouterr().err


@pytest.mark.parametrize("field", ["params", "estimator", "classes"])
@pytest.mark.parametrize("code", [0x110000, 0xD800, 0xFFFFFFFF])
def test_text_beyond_unicode_is_refused(good, tmp_path, field, code):
    """numpy keeps UCS4 code units unchecked; a string made from one past U+10FFFF raises
    SystemError when iterated (a finding of the fuzzer), a lone surrogate breaks printing."""
    arr = good[1][field] if field != "classes" else np.array([f"c{i}" for i in range(10)])
    codes = np.frombuffer(arr.tobytes(), np.uint32).copy()
    codes[0] = code
    bad = np.frombuffer(codes.tobytes(), arr.dtype).reshape(arr.shape)
    path = _write(tmp_path, good[1], **{field: bad})
    with pytest.raises(ModelFileError, match=f"{field}.*(not a text|not numbers or text)"):
        linclass.load(path)
