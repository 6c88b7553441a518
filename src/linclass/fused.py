"""The fused loss + gradient kernel: each row of X read once, while it is in cache.

The numpy objective (``linclass.objective``) calls the BLAS twice per block of rows: the scores
``S = X W^T + b``, then, after the loss's ``dS``, ``dW = dS^T X``. With 10 classes both are
skinny products that OpenBLAS runs far below its peak. This kernel, compiled by numba, takes
the rows in turn: each row's C scores (dot products with the rows of W), its loss and its
coefficients ``dS_i``, and at once its share ``dS_i[c] * x_i`` of each row of dW, while ``x_i``
is still in cache. For a hinge only the violated classes and the true class get a share.

Rows are split into at most ``MAX_CHUNKS`` chunks whose size depends on the number of rows
alone; each chunk sums its rows in order into a dW of its own, on whichever thread numba gives
it, and the chunks' sums are added in chunk order. So the result is the same bits for any
number of threads, like the numpy path's blocks (``linclass.threads``).

Rows go four at a time: each row of W is read once for four rows' scores, and each row of dW
updated once with their four shares.

Handled: dense, C-contiguous float32 or float64 X; the Weston-Watkins and Crammer-Singer
hinges, plain or squared, and the softmax cross-entropy; sample weights; a bias or none.
``supports`` says whether a case is handled; anything else (sparse X, other layouts and dtypes)
stays on the numpy path, the reference. Without
numba (``pip install 'linclass[fast]'``) ``available()`` is False.

This is the first part of issue 13: the kernel, its tests against the reference and its
benchmark (``benchmarks/bench_losses.py``). It is not yet what ``fit`` uses. The shapes and
labels are checked before the kernel runs, which does no bounds checks of its own.
"""

from __future__ import annotations

import numpy as np

__all__ = ["available", "supports", "loss_and_gradient", "MAX_CHUNKS"]

MAX_CHUNKS = 64  # a chunk's dW is C x D: 64 of them for CIFAR-10 in float32 take 7.9 MB
_MIN_CHUNK = 256

_kernels = None


def available():
    """Whether numba can be imported (the kernel then compiles on first use, cached on disk)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def supports(X, loss):
    """Whether the kernel handles this X and loss (else: the numpy path)."""
    from .losses import Hinge, SoftmaxCrossEntropy

    if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype in (np.float32, np.float64)
            and X.flags.c_contiguous):
        return False
    return isinstance(loss, (Hinge, SoftmaxCrossEntropy))


def _chunk_rows(n):
    return max(_MIN_CHUNK, -(-n // MAX_CHUNKS))


def _compile():
    import numba
    from numba import njit, prange

    @njit(cache=True, fastmath=True, nogil=True, inline="always")
    def terms(s, yi, wi, margin, softmax, crammer, squared, coef):
        """One row's loss (weighted) from its scores ``s``, its coefficients ``dS_i`` into
        ``coef``, and whether its top score is the true class."""
        C = s.shape[0]
        zero = s[0] - s[0]  # of s's dtype (s[0] * 0 would be float64)
        best = 0
        for c in range(1, C):
            if s[c] > s[best]:
                best = c
        if wi == 0:
            for c in range(C):
                coef[c] = zero
            return 0.0, best == yi
        if softmax:
            top = s[best]
            total = zero
            for c in range(C):
                coef[c] = np.exp(s[c] - top)
                total += coef[c]
            for c in range(C):
                coef[c] = wi * coef[c] / total
            coef[yi] -= wi
            return wi * (np.log(total) - (s[yi] - top)), best == yi
        for c in range(C):
            coef[c] = zero
        if crammer:  # the worst wrong class only (ties: the first; the true class's d is 0)
            worst = 0
            top = zero
            for c in range(C):
                m = zero if c == yi else s[c] - s[yi] + margin
                if c == 0 or m > top:
                    worst, top = c, m
            if top <= 0:
                return 0.0, best == yi
            g = 2 * top if squared else top - top + 1
            coef[worst] += wi * g
            coef[yi] -= wi * g
            return wi * (top * top if squared else top), best == yi
        li = zero
        total = zero
        for c in range(C):
            if c != yi:
                m = s[c] - s[yi] + margin
                if m > 0:
                    g = 2 * m if squared else m - m + 1
                    li += m * m if squared else m
                    coef[c] = wi * g
                    total += coef[c]
        coef[yi] = -total
        return wi * li, best == yi

    @njit(cache=True, fastmath=True, nogil=True)
    def rows_kernel(X, y, w, W, b, margin, softmax, crammer, squared, start, stop, dW, db):
        """Rows ``start:stop`` four at a time: each row of W is read once for four rows'
        scores, and each row of dW written once for their four shares."""
        C, D = W.shape
        zero = W[0, 0] - W[0, 0]  # of W's dtype (W[0, 0] * 0 would be float64)
        S = np.empty((4, C), dtype=W.dtype)
        G = np.empty((4, C), dtype=W.dtype)
        loss = 0.0
        correct = 0
        i = start
        while i < stop:
            r = min(4, stop - i)
            if r == 4:
                x0, x1, x2, x3 = X[i], X[i + 1], X[i + 2], X[i + 3]
                for c in range(C):
                    Wc = W[c]
                    a0 = zero
                    a1 = zero
                    a2 = zero
                    a3 = zero
                    for d in range(D):
                        v = Wc[d]
                        a0 += v * x0[d]
                        a1 += v * x1[d]
                        a2 += v * x2[d]
                        a3 += v * x3[d]
                    S[0, c] = a0 + b[c]
                    S[1, c] = a1 + b[c]
                    S[2, c] = a2 + b[c]
                    S[3, c] = a3 + b[c]
            else:
                for k in range(r):
                    x = X[i + k]
                    for c in range(C):
                        acc = zero
                        Wc = W[c]
                        for d in range(D):
                            acc += Wc[d] * x[d]
                        S[k, c] = acc + b[c]
            for k in range(r):
                li, ok = terms(S[k], y[i + k], w[i + k], margin, softmax, crammer, squared,
                               G[k])
                loss += li
                if ok:
                    correct += 1
            if r == 4:
                for c in range(C):
                    g0, g1, g2, g3 = G[0, c], G[1, c], G[2, c], G[3, c]
                    if g0 != 0 or g1 != 0 or g2 != 0 or g3 != 0:
                        row = dW[c]
                        for d in range(D):
                            row[d] += g0 * x0[d] + g1 * x1[d] + g2 * x2[d] + g3 * x3[d]
                        db[c] += (g0 + g1) + (g2 + g3)
            else:
                for k in range(r):
                    x = X[i + k]
                    for c in range(C):
                        g = G[k, c]
                        if g != 0:
                            row = dW[c]
                            for d in range(D):
                                row[d] += g * x[d]
                            db[c] += g
            i += r
        return loss, correct

    @njit(cache=True, parallel=True, nogil=True)
    def all_rows(X, y, w, W, b, margin, softmax, crammer, squared, chunk):
        n = X.shape[0]
        C, D = W.shape
        k = (n + chunk - 1) // chunk
        dWs = np.zeros((k, C, D), dtype=W.dtype)
        dbs = np.zeros((k, C), dtype=W.dtype)
        losses = np.zeros(k)
        corrects = np.zeros(k, dtype=np.int64)
        for j in prange(k):
            losses[j], corrects[j] = rows_kernel(X, y, w, W, b, margin, softmax, crammer,
                                                 squared, j * chunk, min(n, (j + 1) * chunk),
                                                 dWs[j], dbs[j])
        dW = dWs[0].copy()
        db = dbs[0].copy()
        loss = losses[0]
        correct = corrects[0]
        for j in range(1, k):  # in chunk order: the same sum for any number of threads
            dW += dWs[j]
            db += dbs[j]
            loss += losses[j]
            correct += corrects[j]
        return loss, dW, db, correct

    return numba, all_rows


def loss_and_gradient(W, b, X, y, loss_fn, reg=0.0, sample_weight=None):
    """``(loss, dW, db, n_correct)`` as ``linclass.objective.loss_and_gradient`` gives them,
    computed by the fused kernel (``supports(X, loss_fn)`` must hold)."""
    global _kernels
    from .errors import InputError
    from .losses import SoftmaxCrossEntropy
    from .objective import with_penalty

    if not supports(X, loss_fn):
        raise InputError("the fused kernel takes a dense, C-contiguous float32/float64 X and a "
                         "hinge or the softmax; use linclass.objective.")
    n, C = X.shape[0], W.shape[0]
    y = np.ascontiguousarray(y, dtype=np.int64)
    if W.ndim != 2 or W.shape[1] != X.shape[1] or y.shape != (n,) or n == 0 or (
            b is not None and np.shape(b) != (C,)) or (
            sample_weight is not None and np.shape(sample_weight) != (n,)):
        raise InputError(f"shapes do not fit: X {X.shape}, W {np.shape(W)}, b "
                         f"{None if b is None else np.shape(b)}, y {y.shape}, sample_weight "
                         f"{None if sample_weight is None else np.shape(sample_weight)}.")
    if y.min() < 0 or y.max() >= C:
        raise InputError(f"labels must be class indices in 0..{C - 1}; got {y.min()}..{y.max()}.")
    if _kernels is None:
        _kernels = _compile()
    dtype = X.dtype
    w = np.ones(n, dtype) if sample_weight is None else np.ascontiguousarray(sample_weight,
                                                                             dtype=dtype)
    total = float(n if sample_weight is None else np.sum(sample_weight, dtype=np.float64))
    Wc = np.ascontiguousarray(W, dtype=dtype)
    bc = np.zeros(W.shape[0], dtype) if b is None else np.ascontiguousarray(b, dtype=dtype)
    softmax = isinstance(loss_fn, SoftmaxCrossEntropy)
    margin = dtype.type(0 if softmax else loss_fn.margin)
    crammer = not softmax and loss_fn.variant == "crammer_singer"
    squared = not softmax and loss_fn.squared
    data_loss, dW, db, correct = _kernels[1](X, y, w, Wc, bc, margin, softmax, crammer, squared,
                                             _chunk_rows(n))
    scale = dtype.type(1.0 / total)
    dW *= scale
    db *= scale
    return with_penalty(W, (data_loss / total, dW, None if b is None else db, int(correct)), reg)
