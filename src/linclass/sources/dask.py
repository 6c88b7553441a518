"""The Dask data source: X is a dask array of row chunks, on a cluster or on local threads.

The optimizer runs on the driver (this process) and holds W; the data stays where Dask keeps
it. Each full-batch evaluation is **one map-reduce**: W and b go out as one key, every chunk
runs the same numpy kernel as the in-memory path (``linclass.objective.BlockSum`` over its
rows), and the partial sums ``(loss, dW, db, n_correct)`` come back added pairwise in a tree.
So full-batch gradient descent and L-BFGS take the same steps as in memory (to rounding: the
sum runs in another order).

Minibatch training is **local SGD with model averaging**: one round ships W once; every chunk
takes ``local_steps`` minibatch steps of its own from it; the driver averages the chunks'
weights (by rows). A round costs one Dask round trip (15-25 ms on a LocalCluster) instead of
one per minibatch, which would be 20x slower than serial SGD; the price is that P chunks
averaged make the progress of about ``local_steps`` serial steps, not P times as many: a
learning rate up to P times larger catches up where the step is well under its stability limit
(it is not scaled for you). See "On a cluster" in docs/scale.md.

Without a ``distributed.Client`` the threaded scheduler runs the tasks, with the BLAS held to
one thread per task thread (threadpoolctl), so threads do not oversubscribe the cores. A
worker lost mid-iteration costs a retried iteration (Dask recomputes its chunks from their
lineage), not the fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._typing import Array, Data, Sums
from ..errors import InputError, LinclassError
from ..objective import BlockSum, default_block_rows, with_penalty
from ..optim import mean_of_norms
from ..scores import scores
from .base import DataSource, minibatch_size, nonfinite_rows_error

if TYPE_CHECKING:
    from ..losses import Loss

__all__ = ["DaskSource", "is_dask", "active_client", "ClusterError"]

_RETRIES = 3


class ClusterError(LinclassError, RuntimeError):
    """The Dask cluster failed an iteration again and again, or went away."""


def is_dask(X: object) -> bool:
    """True for a dask array (without importing dask where it is not loaded)."""
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "chunks")


def active_client() -> Any:
    """The current ``distributed.Client``, or None (the threaded scheduler then runs): also
    None inside ``dask.config.set(scheduler="threads")`` (or "sync"), which asks for local
    threads even where a Client exists."""
    import dask

    if dask.config.get("scheduler", None) in (
        "threads",
        "threading",
        "sync",
        "synchronous",
        "single-threaded",
    ):
        return None
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:
        return None


# -- the kernels that run on the workers ---------------------------------------------------------


def _chunk_sum(X, y, w, Wb, loss, total, kernel="numpy"):
    """A chunk's share of the full-batch objective: ``(data_loss, dW, db, n_correct)``."""
    W, b = Wb
    acc = BlockSum(W, b, loss, total, kernel)
    rows = default_block_rows(X)
    for s in range(0, X.shape[0], rows):
        acc.add(X[s : s + rows], y[s : s + rows], None if w is None else w[s : s + rows])
    return acc.partial()


def _add(p, q):
    db = None if p[2] is None else p[2] + q[2]
    return p[0] + q[0], p[1] + q[1], db, p[3] + q[3]


def _chunk_norms(X):
    """``||x_i||**2`` of a chunk's rows (gathered: the mean is then taken as in memory)."""
    from ..optim import row_squared_norms

    return row_squared_norms(X)


def _chunk_local_sgd(X, y, w, Wb, loss, reg, lr, intercept_step, steps, batch, seed, fit_b):
    """``steps`` minibatch SGD steps on one chunk from the round's W; returns the chunk's new
    (W, b), its rows, and the running loss and correct counts of the steps."""
    from ..objective import loss_and_gradient

    W, b = (a.copy() for a in Wb)
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    loss_sum, correct, seen = 0.0, 0, 0
    for _ in range(steps):
        start = int(rng.integers(0, max(1, n - batch + 1)))
        sl = slice(start, min(n, start + batch))
        value, dW, db, c = loss_and_gradient(
            W, b if fit_b else None, X[sl], y[sl], loss, reg, None if w is None else w[sl]
        )
        W -= lr * dW
        if fit_b:
            b -= (lr * intercept_step) * db
        rows = sl.stop - sl.start
        loss_sum += value * rows
        correct += c
        seen += rows
    return W, b, n, loss_sum, correct, seen


class DaskSource(DataSource):
    """Training data as a dask array of row chunks.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features), float32 or float64
        Chunked by rows only (one chunk across the features), with known chunk sizes.
    y : ndarray of int of shape (n_samples,)
        Class indices (small: they are sent out once, chunked like X, and kept there).
    sample_weight : ndarray of shape (n_samples,), optional
    batch_size : int or None
        None: full batch. Otherwise local SGD with this minibatch size.
    rng : numpy.random.Generator, optional
        Seeds the local steps.
    local_steps : int, default 50
        Minibatch steps each chunk takes per round (local SGD); at most one pass over the
        smallest chunk.
    """

    local_blas = False  # the products run in the workers (or threads), one BLAS thread each

    def __init__(
        self,
        X: Data,
        y: Array,
        sample_weight: Array | None = None,
        batch_size: int | None = None,
        rng: np.random.Generator | None = None,
        local_steps: int = 50,
    ) -> None:
        import dask
        import dask.array as da

        check_dask_X(X)
        if len(X.chunks[1]) != 1:
            X = X.rechunk({1: -1})
        self.n_samples, self.n_features = (int(s) for s in X.shape)
        self.dtype = np.dtype(X.dtype)
        self.batch_size = minibatch_size(batch_size, self.n_samples)
        self.rng, self.local_steps = rng or np.random.default_rng(), int(local_steps)
        self.client = active_client()
        self.X = X
        rows = X.chunks[0]
        y_d = da.from_array(np.asarray(y), chunks=(rows,))
        w_d = (
            None
            if sample_weight is None
            else da.from_array(np.asarray(sample_weight), chunks=(rows,))
        )
        # Labels and weights are small: kept on the workers for the whole fit.
        y_d, w_d = dask.persist(y_d, w_d) if w_d is not None else (dask.persist(y_d)[0], None)
        self._held = (y_d, w_d)  # their futures live as long as the source
        self.y = np.asarray(y)
        self.sample_weight = sample_weight
        self.total_weight = (
            self.n_samples
            if sample_weight is None
            else float(np.sum(sample_weight, dtype=np.float64))
        )
        xs = X.to_delayed().ravel()
        ys = y_d.to_delayed().ravel()
        ws = [None] * len(xs) if w_d is None else w_d.to_delayed().ravel()
        self._parts = list(zip(xs, ys, ws))
        self._chunk_rows = rows

    # -- running graphs -----------------------------------------------------------------------
    def _compute(self, *things):
        """Compute on the active client, or on local threads with one BLAS thread each;
        retry an iteration that a lost worker broke."""
        import dask

        last = None
        for _ in range(_RETRIES):
            try:
                if self.client is not None:
                    return dask.compute(*things, scheduler=self.client, optimize_graph=False)
                from threadpoolctl import threadpool_limits

                scheduler = dask.config.get("scheduler", None) or "threads"
                if scheduler in ("sync", "synchronous", "single-threaded"):
                    return dask.compute(*things, scheduler="sync")
                with threadpool_limits(1, user_api="blas"):
                    return dask.compute(*things, scheduler="threads")
            except (ValueError, TypeError, FloatingPointError, ArithmeticError, MemoryError):
                raise  # the data's or the code's fault: a retry would fail the same way
            except Exception as e:  # a worker or connection lost: Dask recomputes from lineage
                if self.client is not None and self.client.status not in ("running", "connecting"):
                    raise ClusterError(
                        f"the Dask cluster went away ({type(e).__name__}: "
                        f"{e}). Start it again and refit."
                    ) from None
                last = e
        raise ClusterError(
            f"the Dask cluster failed the same iteration {_RETRIES} times "
            f"({type(last).__name__}: {last}); the model is unchanged."
        ) from None

    @staticmethod
    def _tree(parts, combine):
        from dask import delayed

        parts = list(parts)
        while len(parts) > 1:
            parts = [
                delayed(combine)(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
                for i in range(0, len(parts), 2)
            ]
        return parts[0]

    def _weights_key(self, W, b):
        from dask import delayed

        # One key for the round's weights: sent to each worker once, not with every task.
        return delayed((W, b), traverse=False, pure=False)

    # -- the contract -------------------------------------------------------------------------
    def loss_and_gradient(
        self, W: Data, b: Data | None, loss: Loss, reg: float, workers: int = 1
    ) -> Sums:  # the cluster's own workers
        from dask import delayed

        Wb = self._weights_key(W, b)
        kernel = self.kernel(loss)
        parts = [
            delayed(_chunk_sum)(x, y, w, Wb, loss, self.total_weight, kernel)
            for x, y, w in self._parts
        ]
        (sums,) = self._compute(self._tree(parts, _add))
        result = with_penalty(W, sums, reg)
        if not np.isfinite(result[0]):
            self.check_finite()
        return result

    def local_sgd_round(
        self,
        W: Array,
        b: Array,
        loss: Loss,
        reg: float,
        learning_rate: float,
        intercept_step: float,
        fit_intercept: bool,
    ) -> tuple[Array, Array, int, float, int]:
        """One round of local SGD from (W, b): returns the averaged ``(W, b)``, the rows seen
        and the running loss and correct count of every local step."""
        from dask import delayed

        Wb = self._weights_key(W, b)
        seeds = self.rng.integers(0, 2**63 - 1, len(self._parts))
        # At most one pass over the smallest chunk a round, so that small data still gets
        # several averagings an epoch.
        steps = max(1, min(self.local_steps, -(-min(self._chunk_rows) // self.batch_size)))
        parts = [
            delayed(_chunk_local_sgd)(
                x,
                y,
                w,
                Wb,
                loss,
                reg,
                learning_rate,
                intercept_step,
                steps,
                self.batch_size,
                int(s),
                fit_intercept,
            )
            for (x, y, w), s in zip(self._parts, seeds)
        ]
        results = self._compute(*parts)
        rows = np.array([r[2] for r in results], np.float64)
        share = rows / rows.sum()
        W_avg = sum(s * r[0].astype(np.float64) for s, r in zip(share, results))
        b_avg = sum(s * r[1].astype(np.float64) for s, r in zip(share, results))
        return (
            W_avg.astype(W.dtype),
            b_avg.astype(b.dtype),
            sum(r[5] for r in results),
            sum(r[3] for r in results),
            sum(r[4] for r in results),
        )

    def evaluate(self, W: Data, b: Data | None, loss: Loss) -> tuple[float, float]:
        value, _, _, correct = self.loss_and_gradient(W, b, loss, 0.0)
        return value, correct / self.n_samples

    def mean_squared_norm(self) -> float:
        """One pass over the chunks; also finds rows with NaN or inf (a clear error)."""
        norms = self._norms()
        return mean_of_norms(norms, self.sample_weight)

    def _norms(self):
        from dask import delayed

        norms = np.concatenate(
            self._compute(*[delayed(_chunk_norms)(x) for x, _, _ in self._parts])
        )
        bad = np.flatnonzero(~np.isfinite(norms))
        if len(bad):
            raise nonfinite_rows_error(bad)
        return norms

    def check_finite(self) -> None:
        """Raise a ValueError naming rows of X with NaN or inf, if there are any."""
        self._norms()

    def sample_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        Xs = self.X[np.asarray(rows)]
        (Xs,) = self._compute(Xs)
        return np.asarray(Xs), None if self.sample_weight is None else np.asarray(
            self.sample_weight
        )[rows]


def check_dask_X(X: Data) -> None:
    """The checks a dask X must pass before anything is computed."""
    if X.ndim != 2:
        raise InputError(f"X must be 2-d (n_samples, n_features); got shape {X.shape}.")
    if any(np.isnan(c) for c in X.chunks[0]) or any(np.isnan(c) for c in X.chunks[1]):
        raise InputError(
            "X has unknown chunk sizes (it came from a filter or a dataframe): "
            "call X.compute_chunk_sizes() (or X = X.to_dask_array(lengths=True)) "
            "first."
        )
    if np.dtype(X.dtype) not in (np.float32, np.float64):
        raise InputError(f"X must be float32 or float64; it is {X.dtype}: use X.astype('float32').")


def dask_scores(W: Array, b: Array | None, X: Data) -> Data:
    """``X @ W.T + b`` as a dask array chunked like X's rows (nothing is computed)."""
    check_dask_X(X)
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    C = W.shape[0]
    return X.map_blocks(
        lambda Xc: scores(W, b, Xc),
        dtype=np.result_type(W.dtype, X.dtype),
        chunks=(X.chunks[0], (C,)),
    )
