"""Image features (issue 14, first part): HOG against scikit-image's, colour histograms against
numpy's own histograms; shapes, dtypes, batches, determinism, bounded memory, pipelines, and
the bad input each refuses."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import FeatureUnion, make_pipeline

from linclass import LinearSVM
from linclass.errors import InputError
from linclass.features import HOG, ColorHistogram, Patches
from linclass.features.hog import BLOCK_NORMS


def _images(n=6, h=32, w=32, c=3, seed=0, integer=False):
    rng = np.random.default_rng(seed)
    ims = rng.uniform(0, 255, (n, h, w) + ((c,) if c else ()))
    return np.round(ims) if integer else ims.astype(np.float32)


@pytest.mark.parametrize("norm", BLOCK_NORMS)
@pytest.mark.parametrize(
    "shape,cell,block,bins",
    [
        ((32, 32, 3), 8, 2, 9),
        ((32, 32, 3), 4, 2, 9),
        ((28, 28), 7, 2, 9),
        ((30, 22, 3), 6, 3, 8),
        ((16, 16), 4, 1, 12),
    ],
)
def test_hog_equals_scikit_images(norm, shape, cell, block, bins):
    skimage = pytest.importorskip("skimage.feature")
    ims = _images(4, *shape[:2], c=shape[2] if len(shape) == 3 else 0)
    X = ims.reshape(len(ims), -1)
    ours = (
        HOG(shape, cell_size=cell, orientations=bins, block_size=block, block_norm=norm)
        .fit(X)
        .transform(X)
    )
    for i, im in enumerate(ims):
        ref = skimage.hog(
            im.astype(np.float64),
            orientations=bins,
            pixels_per_cell=(cell, cell),
            cells_per_block=(block, block),
            block_norm=norm,
            channel_axis=-1 if len(shape) == 3 else None,
        )
        assert ours[i].shape == ref.shape
        np.testing.assert_allclose(ours[i], ref, atol=1e-5)


def test_hog_cells_on_a_known_image():
    """A vertical edge: every gradient points along the rows' axis (0 degrees), in the cells
    that hold the edge, with the mean vote of its pixels."""
    im = np.zeros((8, 8), np.float32)
    im[:, 4:] = 10.0  # columns 3 and 4 see a difference of 10
    f = (
        HOG((8, 8), cell_size=4, orientations=4)
        .fit(im.reshape(1, -1))
        .transform(im.reshape(1, -1))
        .reshape(2, 2, 4)
    )
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


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_progress_is_told_each_batch_in_order(n_jobs):
    X = _images(12).reshape(12, -1)
    seen = []
    HOG(batch_size=5, n_jobs=n_jobs, progress=lambda done, total: seen.append((done, total))).fit(
        X
    ).transform(X)
    assert seen == [(5, 12), (10, 12), (12, 12)]


def test_any_number_of_threads_gives_the_same_bits():
    X = _images(23).reshape(23, -1) * 255
    patches = Patches(
        (32, 32, 3), n_centroids=30, n_patches=4000, kmeans_iter=3, random_state=0
    ).fit(X)
    for feat in (HOG(block_size=2).fit(X), ColorHistogram(bins=(4, 4, 4)).fit(X), patches):
        one = feat.set_params(n_jobs=1, batch_size=4).transform(X)
        for n in (2, 5):
            np.testing.assert_array_equal(feat.set_params(n_jobs=n).transform(X), one)
        np.testing.assert_array_equal(feat.set_params(n_jobs=None, batch_size=50).transform(X), one)
    with pytest.raises(InputError, match="n_jobs must be None or a positive integer"):
        HOG(n_jobs=0).fit(X)


def test_a_bad_row_found_by_a_worker_thread_is_named():
    X = _images(30).reshape(30, -1)
    feat = HOG(batch_size=4, n_jobs=3).fit(X)
    X[23, 5] = np.inf
    with pytest.raises(InputError, match=r"rows \[23\]"):
        feat.transform(X)


def test_uint8_pixels_and_a_uint8_image_give_the_same_features():
    ims = _images(3, integer=True)
    X8 = ims.astype(np.uint8).reshape(3, -1)
    np.testing.assert_array_equal(
        HOG().fit(X8).transform(X8), HOG().fit(X8).transform(X8.astype(np.float64))
    )


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
    _Xtr, _ytr, _, _, _Xte, _yte = digits_split
    from linclass.data import load_digits

    raw = load_digits()
    X = raw.X.astype(np.float32)
    pipe = make_pipeline(
        HOG((8, 8), cell_size=4, orientations=9, block_size=1),
        LinearSVM(random_state=0, max_epochs=30),
    )
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


@pytest.mark.parametrize(
    "make,X,match",
    [
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
    ],
    ids=[
        "tiny-image",
        "no-block",
        "shape-mismatch",
        "not-square",
        "cell-0",
        "norm",
        "batch-0",
        "grey-colour",
        "grey-colour-inferred",
        "bins-2",
        "bins-0",
        "pixel-max",
    ],
)
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


# -- Coates-Lee-Ng patches ------------------------------------------------------------------------


def _small_patches(**kw):
    params = dict(n_centroids=12, n_patches=3000, kmeans_iter=8, random_state=0, batch_size=7)
    params.update(kw)
    return Patches((12, 12, 3), **params)


def test_patches_shapes_dtypes_and_seeds():
    X = _images(30, 12, 12, seed=1).reshape(30, -1)
    a = _small_patches().fit(X)
    F = a.transform(X)
    assert F.shape == (30, 48) and F.dtype == np.float32 and a.centroids_.shape == (12, 108)
    b = _small_patches().fit(X)
    np.testing.assert_array_equal(a.centroids_, b.centroids_)
    np.testing.assert_array_equal(F, b.transform(X))
    # another batch size: the same up to the products' rounding (BLAS blocks differ)
    np.testing.assert_allclose(
        F, _small_patches(batch_size=30).fit(X).transform(X), rtol=1e-5, atol=1e-5
    )
    assert not np.array_equal(a.centroids_, _small_patches(random_state=1).fit(X).centroids_)


def test_kmeans_fits_the_patches_better_than_its_seeds():
    """The k-means dictionary (scikit-learn's KMeans from the random seeds) is nearer the
    whitened patches than the seeds themselves, which dictionary="random" keeps."""
    from linclass.features.patches import _normalize, _squared_distances

    X = _images(40, 12, 12, seed=2).reshape(40, -1)
    km = _small_patches(kmeans_iter=12).fit(X)
    seeds = _small_patches(dictionary="random").fit(X)
    assert seeds.inertia_ is None and km.inertia_ > 0
    patches = np.moveaxis(
        np.lib.stride_tricks.sliding_window_view(X.reshape(40, 12, 12, 3), (6, 6), axis=(1, 2)),
        3,
        -1,
    ).reshape(-1, 108)
    white = (_normalize(patches) - km.zca_mean_) @ km.zca_

    def mean_nearest(C):
        return _squared_distances(white, C).min(axis=1).mean()

    assert mean_nearest(km.centroids_) < 0.95 * mean_nearest(seeds.centroids_)


def test_whitening_flattens_the_patch_covariance():
    from linclass.features.patches import _normalize

    ims = _images(400, 12, 12, seed=3)
    ims = (ims + np.roll(ims, 1, axis=2) + np.roll(ims, 1, axis=1)) / 3  # neighbours correlate
    X = ims.reshape(400, -1)
    p = _small_patches(zca_eps=1e-6, n_patches=40_000).fit(X)
    patches = np.moveaxis(
        np.lib.stride_tricks.sliding_window_view(ims, (6, 6), axis=(1, 2)), 3, -1
    ).reshape(-1, 108)
    before = np.linalg.eigvalsh(np.cov(_normalize(patches), rowvar=False))
    after = np.linalg.eigvalsh(np.cov((_normalize(patches) - p.zca_mean_) @ p.zca_, rowvar=False))
    # the direction the per-patch mean removed keeps variance 0; every other is near 1
    assert before[1:].max() / before[1:].min() > 20
    assert after[0] < 1e-3 and np.all(np.abs(after[1:] - 1) < 0.15)  # (a sample of patches)


def test_triangle_encoding_and_quadrants_against_a_plain_loop():
    X = _images(5, 12, 12, seed=4).reshape(5, -1)
    p = _small_patches().fit(X)
    F = p.transform(X[:1])[0]
    im = X[0].reshape(12, 12, 3)
    grid = 12 - 6 + 1
    feats = np.zeros((grid, grid, 12))
    for r in range(grid):
        for c in range(grid):
            x = im[r : r + 6, c : c + 6].ravel().astype(np.float64)
            x = (x - x.mean()) / np.sqrt(x.var() + 10)
            x = (x - p.zca_mean_) @ p.zca_
            z = np.sqrt(((p.centroids_ - x) ** 2).sum(axis=1))
            feats[r, c] = np.maximum(0, z.mean() - z)
    h = grid // 2
    expected = np.concatenate(
        [
            feats[:h, :h].sum((0, 1)),
            feats[:h, h:].sum((0, 1)),
            feats[h:, :h].sum((0, 1)),
            feats[h:, h:].sum((0, 1)),
        ]
    )
    np.testing.assert_allclose(F, expected, rtol=2e-3, atol=2e-3)


def test_random_patches_and_the_soft_threshold():
    X = _images(20, 12, 12, seed=5).reshape(20, -1)
    p = _small_patches(dictionary="random", encoding="soft-threshold", alpha=0.25).fit(X)
    assert p.inertia_ is None
    np.testing.assert_allclose(np.linalg.norm(p.centroids_, axis=1), 1, rtol=1e-5)
    F = p.transform(X)
    assert (F >= 0).all() and (F > 0).any()


def test_patches_on_grey_digits_learn(digits_split):
    from linclass import SoftmaxClassifier
    from linclass.data import load_digits

    raw = load_digits()
    X = raw.X.astype(np.float32) * (255 / 16)
    n = len(X) * 3 // 4
    pipe = make_pipeline(
        Patches(
            (8, 8), n_centroids=30, patch_size=4, n_patches=5000, kmeans_iter=10, random_state=0
        ),
        SoftmaxClassifier(random_state=0, max_epochs=40),
    )
    pipe.fit(X[:n], raw.y[:n])
    assert pipe.score(X[n:], raw.y[n:]) > 0.8


@pytest.mark.parametrize(
    "params,shape,match",
    [
        (dict(n_centroids=500, n_patches=100), (12, 12, 3), "more than the n_patches"),
        (dict(patch_size=20), (12, 12, 3), "smaller than a patch"),
        (dict(dictionary="sparse"), (12, 12, 3), "dictionary must be one of"),
        (dict(encoding="hard"), (12, 12, 3), "encoding must be one of"),
        (dict(alpha=-1), (12, 12, 3), "alpha must be a number"),
        (dict(n_centroids=0), (12, 12, 3), "n_centroids must be a positive integer"),
    ],
    ids=["K-too-large", "patch-too-big", "dictionary", "encoding", "alpha", "K-0"],
)
def test_patches_refuse_bad_settings(params, shape, match):
    base = dict(n_centroids=4, n_patches=200, random_state=0)
    base.update(params)
    with pytest.raises(InputError, match=match):
        Patches(shape, **base).fit(_images(3, 12, 12).reshape(3, -1))


def test_the_feature_benchmark_runs_its_quick_slice():
    """benchmarks/bench_features.py --quick on 5,000 CIFAR-10 images (skipped without them):
    every pipeline runs end to end and a quick run writes nothing."""
    import os
    import subprocess
    import sys

    from conftest import SHARED_DATA

    data = os.path.join(SHARED_DATA, "cifar10", "cifar10-jpg.tar.gz")
    if not os.path.exists(data):
        pytest.skip(f"{data} is not here")
    bench = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "bench_features.py")
    results = os.path.join(os.path.dirname(bench), "RESULTS.md")
    before = os.stat(results).st_mtime_ns
    r = subprocess.run(
        [sys.executable, bench, "--quick", "--data", data, "--pipelines", "hog+color,patches:1600"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "hog+color:" in r.stdout and "patches:100:" in r.stdout
    assert os.stat(results).st_mtime_ns == before


@pytest.mark.parametrize(
    "encoding,dictionary", [("triangle", "kmeans"), ("soft-threshold", "random")]
)
def test_the_compiled_encoder_equals_numpys(encoding, dictionary, monkeypatch):
    pytest.importorskip("numba")
    X = _images(9, 12, 12, seed=6).reshape(9, -1)
    p = _small_patches(encoding=encoding, dictionary=dictionary).fit(X)
    compiled = p.transform(X)
    monkeypatch.setenv("LINCLASS_KERNEL", "numpy")
    np.testing.assert_allclose(compiled, p.transform(X), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "encoding,dictionary", [("triangle", "kmeans"), ("soft-threshold", "random")]
)
def test_activation_maps_are_what_transform_pools(encoding, dictionary):
    X = _images(5, 12, 12, seed=8).reshape(5, -1)
    p = _small_patches(encoding=encoding, dictionary=dictionary, patch_size=5).fit(X)
    maps = p.activation_maps(X)
    assert maps.shape == (5, 8, 8, 12) and maps.dtype == np.float32 and maps.min() >= 0
    quads = [maps[:, :4, :4], maps[:, :4, 4:], maps[:, 4:, :4], maps[:, 4:, 4:]]
    pooled = np.concatenate([q.sum(axis=(1, 2)) for q in quads], axis=1)
    np.testing.assert_allclose(pooled, p.transform(X), rtol=1e-4, atol=1e-4)
    # one position by hand, from the formulas: the patch at row 2, column 5 of image 3
    patch = X[3].reshape(12, 12, 3)[2:7, 5:10].astype(np.float64).ravel()
    x = (patch - patch.mean()) / np.sqrt(patch.var() + 10.0)
    white = (x - p.zca_mean_) @ p.zca_.astype(np.float64)
    C = p.centroids_.astype(np.float64)
    if encoding == "triangle":
        z = np.linalg.norm(white - C, axis=1)
        want = np.maximum(0, z.mean() - z)
    else:
        want = np.maximum(0, C @ white - p.alpha)
    assert np.count_nonzero(want) >= 2  # (a check of zeros against zeros would prove little)
    np.testing.assert_allclose(maps[3, 2, 5], want, rtol=1e-3, atol=1e-3)


def test_activation_maps_need_a_fit_and_respect_the_memory_cap():
    from sklearn.exceptions import NotFittedError

    from linclass import limits
    from linclass.errors import ResourceLimitError

    X = _images(6, 12, 12).reshape(6, -1)
    with pytest.raises(NotFittedError):
        _small_patches().activation_maps(X)
    p = _small_patches().fit(X)
    with (
        limits.caps(max_bytes=6 * 7 * 7 * 12 * 4 - 1),
        pytest.raises(ResourceLimitError, match="activation maps of 6 images"),
    ):
        p.activation_maps(X)
    with pytest.raises(ValueError, match="features"):
        p.activation_maps(X[:, :100])


def test_features_past_the_memory_cap_are_refused_before_any_work():
    from linclass import limits
    from linclass.errors import ResourceLimitError

    X = _images(50, 12, 12).reshape(50, -1)
    feat = _small_patches().fit(X)
    with (
        limits.caps(max_bytes=50 * 48 * 4 - 1),
        pytest.raises(
            ResourceLimitError,
            match=r"Patches.transform: 48 float32 features "
            r"for each of 50 images",
        ),
    ):
        feat.transform(X)
    with limits.caps(max_bytes=50 * 48 * 4):
        assert feat.transform(X).shape == (50, 48)
