"""The compiled loops behind ``linclass.fused`` (imported only when numba is there).

Module-level functions, so that numba caches their machine code on disk (``cache=True``) and a
second process loads it instead of compiling. No bounds checks: ``linclass.fused`` checks the
shapes and labels before it calls them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# The loss, as the kernel's ``kind`` argument.
WESTON_WATKINS, CRAMMER_SINGER, SOFTMAX = 0, 1, 2


@njit(cache=True, fastmath=True, nogil=True, inline="always")
def _row_terms(s, yi, wi, margin, kind, squared, coef):
    """One row's weighted loss from its scores ``s``, its coefficients ``dS_i`` (weighted) into
    ``coef``, and whether its top score is the true class (ties: the first)."""
    C = s.shape[0]
    zero = s[0] - s[0]  # of s's dtype (s[0] * 0 would be float64)
    best = 0
    for c in range(1, C):
        if s[c] > s[best]:
            best = c
    for c in range(C):
        coef[c] = zero
    if wi == 0:
        return 0.0, best == yi
    if kind == SOFTMAX:
        top = s[best]
        total = zero
        for c in range(C):
            coef[c] = np.exp(s[c] - top)
            total += coef[c]
        for c in range(C):
            coef[c] = wi * coef[c] / total
        coef[yi] -= wi
        return wi * (np.log(total) - (s[yi] - top)), best == yi
    if kind == CRAMMER_SINGER:  # the worst wrong class only (ties: the first)
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


# Columns per block: four rows of X and the rows of W (or dW) it touches, over this many
# columns, stay in the core's first-level cache (14 KB in float32, 28 KB in float64 with 10
# classes), so that its inner loops read from there and not from the second level.
BLOCK_COLUMNS = 256


@njit(cache=True, fastmath=True, nogil=True)
def rows(X, y, w, W, b, margin, kind, squared, dW, db, S, G, active):
    """Add the rows of ``X`` (with labels ``y``, weights ``w``) into ``dW`` and ``db``; return
    their weighted loss sum and how many the weights classify right.

    Four rows at a time (a tile), two classes at a time: each pair of rows of W is read once
    for the tile's eight scores, and each pair of rows of dW once for its shares, column block
    by column block (``BLOCK_COLUMNS``) while the tile's columns are in the first-level cache.
    Only the classes some row of the tile gives a coefficient to are updated (a hinge leaves
    most out once the margins hold). ``S`` and ``G`` (4 x C) and ``active`` (C) are scratch.
    """
    n = X.shape[0]
    C, D = W.shape
    zero = W[0, 0] - W[0, 0]  # of W's dtype
    loss = 0.0
    correct = 0
    i = 0
    while i < n:
        r = min(4, n - i)
        # the tile: four rows, the last repeated when fewer are left (their coefficients are 0)
        i1 = i + 1 if r > 1 else i
        i2 = i + 2 if r > 2 else i
        i3 = i + 3 if r > 3 else i
        for c in range(C):
            for k in range(4):
                S[k, c] = b[c]
        for d0 in range(0, D, BLOCK_COLUMNS):
            d1 = min(D, d0 + BLOCK_COLUMNS)
            L = d1 - d0
            # views of the block (indexing them from 0 lets the compiler vectorize the loops)
            x0 = X[i, d0:d1]
            x1 = X[i1, d0:d1]
            x2 = X[i2, d0:d1]
            x3 = X[i3, d0:d1]
            c = 0
            while c < C:
                Wa = W[c, d0:d1]
                Wb = W[c + 1 if c + 1 < C else c, d0:d1]
                a0 = zero
                a1 = zero
                a2 = zero
                a3 = zero
                e0 = zero
                e1 = zero
                e2 = zero
                e3 = zero
                for d in range(L):
                    u = Wa[d]
                    v = Wb[d]
                    p0 = x0[d]
                    p1 = x1[d]
                    p2 = x2[d]
                    p3 = x3[d]
                    a0 += u * p0
                    a1 += u * p1
                    a2 += u * p2
                    a3 += u * p3
                    e0 += v * p0
                    e1 += v * p1
                    e2 += v * p2
                    e3 += v * p3
                S[0, c] += a0
                S[1, c] += a1
                S[2, c] += a2
                S[3, c] += a3
                if c + 1 < C:
                    S[0, c + 1] += e0
                    S[1, c + 1] += e1
                    S[2, c + 1] += e2
                    S[3, c + 1] += e3
                c += 2
        for k in range(4):
            if k < r:
                li, ok = _row_terms(S[k], y[i + k], w[i + k], margin, kind, squared, G[k])
                loss += li
                if ok:
                    correct += 1
            else:
                for c in range(C):
                    G[k, c] = zero
        na = 0
        for c in range(C):
            if G[0, c] != 0 or G[1, c] != 0 or G[2, c] != 0 or G[3, c] != 0:
                active[na] = c
                na += 1
                db[c] += (G[0, c] + G[1, c]) + (G[2, c] + G[3, c])
        x0 = X[i]
        x1 = X[i1]
        x2 = X[i2]
        x3 = X[i3]
        j = 0
        while j < na:
            ca = active[j]
            g0, g1, g2, g3 = G[0, ca], G[1, ca], G[2, ca], G[3, ca]
            ra = dW[ca]
            if j + 1 < na:
                cb = active[j + 1]
                h0, h1, h2, h3 = G[0, cb], G[1, cb], G[2, cb], G[3, cb]
                rb = dW[cb]
                for d in range(D):
                    p0 = x0[d]
                    p1 = x1[d]
                    p2 = x2[d]
                    p3 = x3[d]
                    ra[d] += g0 * p0 + g1 * p1 + g2 * p2 + g3 * p3
                    rb[d] += h0 * p0 + h1 * p1 + h2 * p2 + h3 * p3
            else:
                for d in range(D):
                    ra[d] += g0 * x0[d] + g1 * x1[d] + g2 * x2[d] + g3 * x3[d]
            j += 2
        i += r
    return loss, correct
