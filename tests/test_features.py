"""Image features (issue 14, first part): HOG against scikit-image's, colour histograms against
numpy's own histograms; shapes, dtypes, batches, determinism, bounded memory, pipelines, and
the bad input each refuses."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import FeatureUnion, make_pipeline

from linclass import LinearSVM
from linclass.errors import InputError
from linclass.features import HOG, ColorHistogram
from linclass.features.hog import BLOCK_NORMS


def _images(n=6, h=32, w=32, c=3, seed=0, integer=False):
    rng = np.random.default_rng(seed)
    ims = rng.uniform(0, 255, (n, h, w) + ((c,) if c else ()))
    return np.round(ims) if integer else ims.astype(np.float32)


@pytest.mark.parametrize("norm", BLOCK_NORMS)
@pytest.mark.parametrize("shape,cell,block,bins", [((32, 32, 3), 8, 2, 9), ((32, 32, 3), 4, 2, 9),
                                                   ((28, 28), 7, 2, 9), ((30, 22, 3), 6, 3, 8),
                                                   ((16, 16), 4, 1, 12)])
def test_hog_equals_scikit_images(norm, shape, cell, block, bins):
    skimage = pytest.importorskip("skimage.feature")
    ims = _images(4, *shape[:2], c=shape[2] if len(shape) == 3 else 0)
    X = ims.reshape(len(ims), -1)
    ours = HOG(shape, cell_size=cell, orientations=bins, block_size=block,
               block_norm=norm).fit(X).transform(X)
    for i, im in enumerate(ims):
        ref = skimage.hog(im.astype(np.float64), orientations=bins,
                          pixels_per_cell=(cell, cell), cells_per_block=(block, block),
                          block_norm=norm, channel_axis=-1 if len(shape) == 3 else None)
        assert ours[i].shape == ref.shape
        np.testing.assert_allclose(ours[i], ref, atol=1e-5)


def test_hog_cells_on_a_known_image():
    """A vertical edge: every gradient points along the rows' axis (0 degrees), in the cells
    that hold the edge, with the mean vote of its pixels."""
    im = np.zeros((8, 8), np.float32)
    im[:, 4:] = 10.0  # columns 3 and 4 see a difference of 10
    f = HOG((8, 8), cell_size=4, orientations=4).fit(im.reshape(1, -1)).transform(
        im.reshape(1, -1)).reshape(2, 2, 4)
    expected = np.zeros((2, 2, 4), np.float32)
    expected[:, 0, 0] = 4 * 10 / 16  # column 3: four pixels of magnitude 10 in the left cells
    expected[:, 1, 0] = 4 * 10 / 16  # column 4: in the right cells
    np.testing.assert_allclose(f, expected, atol=1e-6)


def test_shapes_dtypes_batches_and_determinism():
    ims = _images(23)
    X = ims.reshape(len(ims), -1)
    for feat in (HOG(block_size=2), HOG(), ColorHistogram(), ColorHistogram(bins=(12, 4, 4))):
        whole = clone(feat).fit(X).transform(X)
        assert whole.dtype == np.float32 and whole.shape == (23, feat.fit(X).n_features_out_)
        pieces = clone(feat).set_params(batch_size=5).fit(X).transform(X)
        np.testing.assert_array_equal(whole, pieces)
        np.testing.assert_array_equal(whole, clone(feat).fit(X).transform(X))  # seedless
    assert HOG().fit(X).image_shape_ == (32, 32, 3)  # square RGB, found from 3,072 values
    assert HOG().fit(np.zeros((2, 784))).image_shape_ == (28, 28)
    assert HOG(block_size=2).fit(X).n_features_out_ == 3 * 3 * 2 * 2 * 9


def test_progress_is_told_each_batch():
    X = _images(12).reshape(12, -1)
    seen = []
    HOG(batch_size=5, progress=lambda done, total: seen.append((done, total))).fit(X).transform(X)
    assert seen == [(5, 12), (10, 12), (12, 12)]


def test_uint8_pixels_and_a_uint8_image_give_the_same_features():
    ims = _images(3, integer=True)
    X8 = ims.astype(np.uint8).reshape(3, -1)
    np.testing.assert_array_equal(HOG().fit(X8).transform(X8),
                                  HOG().fit(X8).transform(X8.astype(np.float64)))


def test_hue_histogram_equals_numpys():
    from matplotlib.colors import rgb_to_hsv

    ims = _images(5)
    X = ims.reshape(5, -1)
    ours = ColorHistogram(bins=10).fit(X).transform(X)
    for i, im in enumerate(ims):
        hue = rgb_to_hsv(im / 255.0)[..., 0]
        ref, _ = np.histogram(hue, bins=np.linspace(0, 1, 11))
        np.testing.assert_allclose(ours[i], ref / hue.size, atol=1e-6)
        assert ours[i].sum() == pytest.approx(1.0)


def test_hsv_histogram_equals_numpys():
    from matplotlib.colors import rgb_to_hsv

    ims = _images(4, seed=3)
    X = ims.reshape(4, -1)
    ours = ColorHistogram(bins=(12, 4, 4)).fit(X).transform(X)
    for i, im in enumerate(ims):
        hsv = rgb_to_hsv(im / 255.0).reshape(-1, 3)
        ref, _ = np.histogramdd(hsv, bins=(12, 4, 4), range=((0, 1),) * 3)
        np.testing.assert_allclose(ours[i], ref.ravel() / len(hsv), atol=1e-6)


def test_a_pipeline_of_features_and_a_linear_classifier(digits_split):
    """HOG on the bundled digits (8 x 8, grey) before linclass's SVM: it learns."""
    Xtr, ytr, _, _, Xte, yte = digits_split
    from linclass.data import load_digits

    raw = load_digits()
    X = raw.X.astype(np.float32)
    pipe = make_pipeline(HOG((8, 8), cell_size=4, orientations=9, block_size=1),
                         LinearSVM(random_state=0, max_epochs=30))
    n = len(X) * 3 // 4
    pipe.fit(X[:n], raw.y[:n])
    assert pipe.score(X[n:], raw.y[n:]) > 0.75
    union = FeatureUnion([("hog", HOG((32, 32, 3))), ("hue", ColorHistogram((32, 32, 3)))])
    Xc = _images(8).reshape(8, -1)
    assert union.fit(Xc).transform(Xc).shape == (8, 16 * 9 + 10)


def test_bounded_memory_on_a_large_input():
    """Work arrays grow with batch_size, not with the number of images: 3,000 images in
    batches of 200 allocate far less than 3,000 images' work arrays would."""
    import tracemalloc

    X = _images(3000, seed=5).reshape(3000, -1)
    feat = HOG(block_size=2, batch_size=200).fit(X[:10])
    tracemalloc.start()
    try:
        out = feat.transform(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    one_batch_of_votes = 200 * 32 * 32 * 9 * 4
    assert peak < out.nbytes + 10 * one_batch_of_votes  # all at once: 15x one batch's votes


@pytest.mark.parametrize("make,X,match", [
    (lambda: HOG((4, 4), cell_size=8), np.zeros((2, 16)), "smaller than one cell"),
    (lambda: HOG((16, 16), cell_size=8, block_size=3), np.zeros((2, 256)), "no block of 3 x 3"),
    (lambda: HOG((10, 10)), np.zeros((2, 99)), "image_shape"),
    (lambda: HOG(), np.zeros((2, 50)), "not square images"),
    (lambda: HOG(cell_size=0), np.zeros((2, 64)), "cell_size must be a positive integer"),
    (lambda: HOG(block_norm="L3"), np.zeros((2, 64)), "block_norm must be one of"),
    (lambda: HOG(batch_size=0), np.zeros((2, 64)), "batch_size"),
    (lambda: ColorHistogram((8, 8)), np.zeros((2, 64)), "needs RGB images"),
    (lambda: ColorHistogram(), np.zeros((2, 64)), "needs RGB images"),
    (lambda: ColorHistogram(bins=(4, 4)), np.zeros((2, 48)), "bins must be"),
    (lambda: ColorHistogram(bins=0), np.zeros((2, 48)), "bins must be"),
    (lambda: ColorHistogram(pixel_max=0), np.zeros((2, 48)), "pixel_max"),
], ids=["tiny-image", "no-block", "shape-mismatch", "not-square", "cell-0", "norm", "batch-0",
        "grey-colour", "grey-colour-inferred", "bins-2", "bins-0", "pixel-max"])
def test_bad_input_is_one_clear_error(make, X, match):
    with pytest.raises(InputError, match=match):
        make().fit(X)


def test_nan_pixels_are_named_and_another_width_refused():
    X = _images(4).reshape(4, -1)
    feat = HOG().fit(X)
    bad = X.copy()
    bad[2, 7] = np.nan
    with pytest.raises(InputError, match=r"NaN or infinite pixels in rows \[2\]"):
        feat.transform(bad)
    with pytest.raises(ValueError, match="features"):
        feat.transform(X[:, :100])
