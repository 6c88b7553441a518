"""The classifiers a user trains: ``LinearSVM`` and ``SoftmaxClassifier``.

Both follow the scikit-learn estimator contract: parameters are stored untouched in
``__init__``, everything is checked in ``fit``, fitted attributes end with an underscore. They
are a thin face over the training engine: ``fit`` checks the input, wraps X in a data source
(``linclass.sources``), resolves the automatic step and penalty (``linclass.optim``) and runs a
solver of ``linclass.train`` with a ``Monitor`` that keeps the history and early stopping. They
differ only in their loss (``linclass.losses.Hinge`` or ``SoftmaxCrossEntropy``):

* ``batch_size=None``: full-batch gradient descent, one step per epoch on the average gradient
  over all training rows;
* ``batch_size=B``: minibatch SGD, B rows a step. The rows are shuffled once, and each epoch
  takes them in windows of B from a random offset, in a random order (``linclass.batching``):
  contiguous slices of X wherever the estimator may reorder it, so no step gathers rows;
* ``solver="lbfgs"``: full-batch L-BFGS on the same loss and gradient.

After every epoch ``history_`` gains the training loss and accuracy (the running mean over the
epoch's batches, measured before each step: no extra pass over X) and, where there is a
validation set, its loss and accuracy.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from contextlib import contextmanager
from numbers import Integral, Real
from typing import Any, TypeVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import array_api, choices
from ._typing import Array, ArrayLike, Data, Labels, PathArg
from .choices import check_registry
from .errors import InputError
from .losses import HINGE_VARIANTS, Hinge, SoftmaxCrossEntropy, log_softmax, softmax
from .optim import OPTIMIZERS, auto_settings, make_optimizer
from .scores import scores
from .sources import Streamed, for_data, is_dask, is_on_disk
from .train import SOLVERS, Monitor, TrainingDivergedError, lbfgs, local_sgd, sgd
from .validation import (
    check_params,
    check_sample_weight,
    check_unread,
    check_unread_features,
    encode_labels,
    hold_out,
    with_class_weight,
)

__all__ = [
    "LinearSVM",
    "SoftmaxClassifier",
    "TrainingDivergedError",
    "MODELS",
    "SOLVERS",
    "FITTED_STATE",
]


# What a fitted classifier is, besides its parameters: ``get_fitted_state`` gives these and
# ``set_fitted_state`` takes them (``linclass.io`` saves them; ``linclass.hyperparams`` sends them
# back from its worker processes).
FITTED_STATE = (
    "coef_",
    "intercept_",
    "classes_",
    "n_features_in_",
    "n_iter_",
    "n_steps_",
    "learning_rate_",
    "reg_",
    "intercept_step_",
    "history_",
)


def _rng(random_state):
    """A ``numpy.random.Generator`` from None, an int, a Generator or a legacy RandomState."""
    if isinstance(random_state, np.random.RandomState):
        random_state = random_state.randint(np.iinfo(np.int32).max)
    return np.random.default_rng(random_state)


_Self = TypeVar("_Self", bound="_LinearClassifier")


class _LinearClassifier(ClassifierMixin, BaseEstimator):
    """Shared base: parameters, checking, the call into the engine, prediction, state."""

    def __init__(
        self,
        *,
        learning_rate: float | str = "auto",
        reg: float | str = "auto",
        batch_size: int | None = 200,
        max_epochs: int = 100,
        max_steps: int | None = None,
        optimizer: str = "sgd",
        momentum: float = 0.9,
        lr_decay: float = 1.0,
        tol: float | None = 1e-4,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        fit_intercept: bool = True,
        class_weight: dict | str | None = None,
        shuffle: bool = True,
        solver: str = "sgd",
        scoring: str = "loss",
    ) -> None:
        self.learning_rate = learning_rate
        self.reg = reg
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.max_steps = max_steps
        self.optimizer = optimizer
        self.momentum = momentum
        self.lr_decay = lr_decay
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.shuffle = shuffle
        self.solver = solver
        self.scoring = scoring

    def _loss(self):  # pragma: no cover - abstract
        """The loss on scores, a ``linclass.losses.Loss``."""
        raise NotImplementedError

    # -- checking ---------------------------------------------------------------------------
    def _check_params(self):
        check_params(self, SOLVERS, OPTIMIZERS)

    def _validate_X(self, X, reset):
        return validate_data(
            self, X, reset=reset, accept_sparse=("csr", "csc"), dtype=array_api.float_dtypes(X)
        )

    def _encode(self, y, what="y"):
        return encode_labels(self.classes_, y, what)

    # -- training ---------------------------------------------------------------------------
    @contextmanager
    def _all_or_nothing(self):
        """On any error, put the estimator back exactly as it was (fitted or not)."""
        saved = copy.deepcopy(
            {k: v for k, v in vars(self).items() if k.endswith("_") or k.startswith("_")}
        )
        try:
            yield
        except BaseException:
            for k in [k for k in vars(self) if k.endswith("_") or k.startswith("_")]:
                delattr(self, k)
            vars(self).update(saved)
            raise

    def fit(
        self: _Self,
        X: Data,
        y: Labels,
        sample_weight: ArrayLike | None = None,
        eval_set: tuple[Data, Labels] | None = None,
        callback: Callable[..., object] | None = None,
    ) -> _Self:
        """Train on (X, y) from scratch (or from the current weights with ``warm_start``).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            float32 stays float32; other numbers become float64. X is never modified.
        y : array-like of shape (n_samples,)
            Class labels of any kind (ints, strings).
        sample_weight : array-like of shape (n_samples,), optional
            The loss becomes the weighted mean over the samples.
        eval_set : tuple (X_val, y_val), optional
            A validation set, scored after every epoch into ``history_`` (and used for early
            stopping). Without it, ``early_stopping=True`` holds out ``validation_fraction``.
        callback : callable, optional
            Called as ``callback(info)`` after every step (``info["event"] == "step"``) and
            every epoch (``"epoch"``, with the epoch's metrics). A truthy return stops training
            after that step; the model is then the best (early stopping) or latest weights.

        Returns
        -------
        self
        """
        with self._all_or_nothing():
            return self._fit(X, y, sample_weight, eval_set, callback)

    def _fit(self, X, y, sample_weight, eval_set, callback):
        self._check_params()
        given = X
        on_disk, on_dask = is_on_disk(X), is_dask(X)
        if on_disk or on_dask:  # streamed, never read whole here: checked as it is read
            y = check_unread(X, y, self.early_stopping, eval_set is not None)
            self.n_features_in_ = int(X.shape[1])
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            X, y = validate_data(
                self, X, y, accept_sparse=("csr", "csc"), dtype=array_api.float_dtypes(X)
            )
            y = array_api.to_numpy(y)  # labels are encoded on the host, once
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise InputError(
                f"{type(self).__name__} needs at least 2 classes in y; got only 1 class: "
                f"{classes.tolist()}."
            )
        warm = self.warm_start and hasattr(self, "coef_") and np.array_equal(classes, self.classes_)
        self.classes_ = classes
        y_idx = self._encode(y)
        sample_weight = with_class_weight(
            self.class_weight,
            classes,
            check_sample_weight(sample_weight, X),
            y,
            array_api.numpy_dtype(X),
        )
        rng = self._rng_ = _rng(self.random_state)
        # X may be reordered in place only if validate_data made it from a list or an ndarray.
        owns_X = isinstance(given, (list, tuple)) or (
            type(given) is np.ndarray and not np.may_share_memory(given, X)
        )
        X_val = y_val = val = None
        if eval_set is not None:
            X_val, y_val = self._check_eval_set(eval_set)
        elif self.early_stopping:
            X, y_idx, sample_weight, X_val, y_val = hold_out(
                X, y_idx, sample_weight, rng, self.validation_fraction, len(classes)
            )
            owns_X = True
        # L-BFGS takes the full batch, whatever batch_size says (it keeps its default of 200).
        batch_size = None if self.solver == "lbfgs" else self.batch_size
        source = for_data(X, y_idx, sample_weight, batch_size, self.shuffle, rng, owns_X)
        try:
            if not warm:
                self._init_state(source, rng)
            else:
                self._resume(source)
            val = None if X_val is None else for_data(X_val, y_val)
            try:
                self._train(source, val, self.max_epochs, callback, fresh_history=not warm)
            except TrainingDivergedError as e:
                source.check_finite()  # NaN in data not read up front looks like divergence
                if self.learning_rate == "auto":
                    raise
                auto = auto_settings(
                    source, self._loss(), "auto", self.reg_, self.optimizer, self.momentum
                )[0]
                raise TrainingDivergedError(f"{e} Here the automatic one is {auto:.3g}.") from None
        finally:
            source.close()
            if val is not None:
                val.close()
        return self

    @available_if(lambda self: self.solver == "sgd")
    def partial_fit(
        self: _Self,
        X: Data,
        y: Labels,
        classes: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
    ) -> _Self:
        """One epoch over (X, y), keeping the weights and optimizer state between calls.

        ``classes`` (every label that will ever appear) is required on the first call. Only
        with ``solver="sgd"``: L-BFGS needs all the data at once.
        """
        with self._all_or_nothing():
            return self._partial_fit(X, y, classes, sample_weight)

    def _partial_fit(self, X, y, classes, sample_weight):
        first = not hasattr(self, "coef_")
        if first:
            self._check_params()
            if classes is None:
                raise InputError("classes must be passed on the first call to partial_fit.")
            classes = np.unique(np.asarray(classes))
            if len(classes) < 2:
                raise InputError("classes must hold at least 2 labels.")
        X, y = validate_data(
            self, X, y, reset=first, accept_sparse=("csr", "csc"), dtype=array_api.float_dtypes(X)
        )
        y = array_api.to_numpy(y)
        if not first:  # the weights stay where the first call put them
            array_api.check_same_namespace(X, self.coef_, f"{type(self).__name__}.partial_fit()")
        if first:
            self.classes_ = classes
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise InputError(
                f"classes={np.unique(classes).tolist()} differs from the first call's "
                f"{self.classes_.tolist()}."
            )
        y_idx = self._encode(y)
        if self.class_weight == "balanced":
            raise InputError(
                'class_weight="balanced" needs all the data at once: use fit, or '
                "give partial_fit a dict of class weights."
            )
        sample_weight = with_class_weight(
            self.class_weight,
            self.classes_,
            check_sample_weight(sample_weight, X),
            y,
            array_api.numpy_dtype(X),
        )
        if first or not hasattr(self, "_rng_"):  # a first call, or a loaded model
            self._rng_ = _rng(self.random_state)
        source = for_data(X, y_idx, sample_weight, self.batch_size, self.shuffle, self._rng_)
        if first:
            self._init_state(source, self._rng_)
        else:
            self._resume(source)
        self._train(source, None, 1, None, fresh_history=first)
        return self

    def _check_eval_set(self, eval_set):
        try:
            X_val, y_val = eval_set
        except (TypeError, ValueError):
            raise InputError("eval_set must be a pair (X_val, y_val).") from None
        X_val = self._check_features(X_val)
        y_val = np.asarray(y_val.compute() if is_dask(y_val) else array_api.to_numpy(y_val))
        if y_val.shape != (X_val.shape[0],):
            raise InputError(
                f"eval_set labels have shape {y_val.shape}; expected ({X_val.shape[0]},)."
            )
        return X_val, self._encode(y_val, "eval_set's y")

    def _init_state(self, source, rng):
        """Fresh weights, and the automatic settings resolved from the data."""
        C, D = len(self.classes_), source.n_features
        coef = (0.001 * rng.standard_normal((C, D))).astype(source.dtype)
        if self.solver == "lbfgs":  # a convex problem: start at 0, as LogisticRegression does
            coef[...] = 0
        # numpy arrays, or arrays of X's namespace on X's device
        self.coef_, self.intercept_ = source.asarray(coef), source.asarray(np.zeros(C))
        self.learning_rate_, self.reg_, self.intercept_step_ = auto_settings(
            source, self._loss(), self.learning_rate, self.reg, self.optimizer, self.momentum
        )
        self._new_optimizer()
        self.n_iter_ = 0
        self.n_steps_ = 0

    def _new_optimizer(self):
        self._optimizer = make_optimizer(
            self.optimizer, self.learning_rate_, self.momentum, self.lr_decay
        )
        self._optimizer_settings = self._settings()

    def _settings(self):
        return (self.optimizer, self.learning_rate, self.momentum, self.lr_decay)

    def _resume(self, source):
        """Continue training a fitted model with the parameters as they are now: a numeric
        ``reg`` set since wins; a changed optimizer setting (or a loaded model) gets a fresh
        optimizer at the learning rate now asked for (``"auto"``: worked out again); unchanged,
        the optimizer keeps its state (its momentum and decayed step)."""
        if self.reg != "auto":
            self.reg_ = float(self.reg)
        if getattr(self, "_optimizer_settings", None) != self._settings():
            if self.learning_rate != "auto":
                self.learning_rate_, self.intercept_step_ = float(self.learning_rate), 1.0
            elif hasattr(self, "_optimizer_settings"):  # changed to "auto" since the last fit
                self.learning_rate_, _, self.intercept_step_ = auto_settings(
                    source, self._loss(), "auto", self.reg_, self.optimizer, self.momentum
                )
            self._new_optimizer()

    def _train(self, source, val, n_epochs, callback, fresh_history):
        """Run the engine for ``n_epochs`` epochs, then set coef_/intercept_ once it is done."""
        W = source.asarray(self.coef_, copy=True)
        b = source.asarray(self.intercept_, copy=True)
        loss = self._loss()
        monitor = Monitor(
            self.reg_,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            early_stopping=self.early_stopping,
            watch_loss=self.solver == "sgd",
            scoring=self.scoring,
            validate=None if val is None else (lambda W, b: val.evaluate(W, b, loss)),
            callback=callback,
            report=(lambda info: print(self._describe(info))) if self.verbose else None,
            history=None if fresh_history else getattr(self, "history_", None),
        )
        self.history_ = monitor.history
        common = dict(
            epochs=n_epochs,
            fit_intercept=self.fit_intercept,
            max_steps=self.max_steps,
            steps_done=self.n_steps_,
            first_epoch=self.n_iter_ + 1,
        )
        if self.solver == "lbfgs":
            epochs = lbfgs(W, b, source, loss, self.reg_, tol=self.tol, **common)
        elif hasattr(source, "local_sgd_round") and not source.full_batch:
            epochs = local_sgd(
                W,
                b,
                source,
                loss,
                self.reg_,
                self._optimizer,
                intercept_step=self.intercept_step_,
                on_step=callback,
                **common,
            )
        else:
            epochs = sgd(
                W,
                b,
                source,
                loss,
                self.reg_,
                self._optimizer,
                intercept_step=self.intercept_step_,
                on_step=callback,
                **common,
            )
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for record in epochs:
                    self.n_iter_, self.n_steps_ = record.epoch, record.steps
                    if monitor.update(W, b, record):
                        break
        finally:
            epochs.close()
        if monitor.best_weights is not None:
            W, b, self.best_epoch_ = monitor.best_weights
        self.coef_, self.intercept_ = W, b
        return self

    @staticmethod
    def _describe(info):
        parts = [
            f"epoch {info['epoch']:4d}",
            f"loss {info['train_loss']:.4f}",
            f"acc {info['train_accuracy']:.4f}",
        ]
        if "val_accuracy" in info:
            parts += [f"val_loss {info['val_loss']:.4f}", f"val_acc {info['val_accuracy']:.4f}"]
        return "  ".join(parts)

    # -- using the model ----------------------------------------------------------------------
    def _check_features(self, X):
        if is_dask(X) or is_on_disk(X):
            return check_unread_features(X, self.n_features_in_, type(self).__name__)
        return self._validate_X(X, reset=False)

    def _scores(self, X, method="decision_function"):
        check_is_fitted(self, "coef_")
        array_api.check_same_namespace(X, self.coef_, f"{type(self).__name__}.{method}()")
        X = self._check_features(X)
        if array_api.dispatching(X):  # on X's device, where the weights are
            return array_api.scores(self.coef_, self.intercept_, X)
        if is_dask(X):  # lazily: a dask array of scores, chunked like X's rows
            from .sources.dask import dask_scores

            return dask_scores(self.coef_, self.intercept_, X)
        if is_on_disk(X):  # block by block, never holding X
            source = Streamed(X, np.zeros(X.shape[0], np.intp))
            try:
                return source.scores(self.coef_, self.intercept_)
            finally:
                source.close()
        return scores(self.coef_, self.intercept_, X)

    def decision_function(self, X: Data) -> Array:
        """Class scores ``X @ coef_.T + intercept_``.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), or (n_samples,) with two classes: then the
        score of ``classes_[1]`` minus that of ``classes_[0]``, as in scikit-learn.
        """
        S = self._scores(X, "decision_function")
        if S.shape[1] == 2:
            return S[:, 1] - S[:, 0]
        return S

    def predict(self, X: Data) -> Array:
        """The class with the highest score, for each row of X (a dask array for a dask X)."""
        S = self._scores(X, "predict")
        if is_dask(S):
            classes = self.classes_
            return S.argmax(axis=1).map_blocks(lambda i: classes[i], dtype=classes.dtype)
        if array_api.is_array_api(S):
            return array_api.take_classes(self.classes_, S)
        return self.classes_[np.argmax(S, axis=1)]

    def score(self, X: Data, y: Labels, sample_weight: ArrayLike | None = None) -> float:
        """Mean accuracy on (X, y); for a dask X computed chunk by chunk."""
        if is_dask(X) and sample_weight is None:
            import dask.array as da

            right = self.predict(X) == (
                y if is_dask(y) else da.from_array(np.asarray(y), chunks=(X.chunks[0],))
            )
            return float(right.mean().compute())
        return super().score(X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # CSR/CSC X is used as it is, never densified
        tags.array_api_support = True  # under array_api_dispatch (linclass.array_api)
        return tags

    # -- the fitted state, for saving and for sending between processes -----------------------
    def get_fitted_state(self) -> dict[str, Any]:
        """The fitted attributes (``FITTED_STATE``) as a dict: arrays for the weights and the
        classes, plain numbers and lists for the rest."""
        check_is_fitted(self, "coef_")
        state = {k: getattr(self, k) for k in ("coef_", "intercept_", "classes_", "history_")}
        for k in ("coef_", "intercept_"):  # from a GPU's memory, say
            state[k] = array_api.to_numpy(state[k])
        for k in ("n_features_in_", "n_iter_", "n_steps_"):
            state[k] = int(getattr(self, k, 0))
        for k in ("learning_rate_", "reg_", "intercept_step_"):
            state[k] = float(getattr(self, k, 1.0))
        return state

    def set_fitted_state(self: _Self, state: dict[str, Any]) -> _Self:
        """Make this classifier the fitted one that ``state`` describes (see
        ``get_fitted_state``); ``n_steps_`` and ``intercept_step_`` may be missing (older
        files). Returns self."""
        missing = [
            k for k in FITTED_STATE if k not in state and k not in ("n_steps_", "intercept_step_")
        ]
        if missing:
            raise InputError(f"the fitted state lacks {missing}.")
        for k in FITTED_STATE:
            setattr(self, k, state.get(k, {"n_steps_": 0, "intercept_step_": 1.0}.get(k)))
        return self

    def save(self, path: PathArg, preprocessing: Any = None) -> None:
        """Write the model to ``path`` (an ``.npz`` file without pickle); see ``linclass.io``."""
        from .io import save

        save(self, path, preprocessing=preprocessing)

    def _json_params(self):
        """Hyperparameters as JSON (a random_state that is not an int or None is left out; a
        class_weight dict becomes a list of [class, weight] pairs, as JSON keys are text)."""
        params = self.get_params()
        if not (params["random_state"] is None or isinstance(params["random_state"], Integral)):
            params["random_state"] = None
        if isinstance(params.get("class_weight"), dict):
            params["class_weight"] = [[k, v] for k, v in params["class_weight"].items()]
        return json.loads(json.dumps(params, default=lambda o: o.item()))


class LinearSVM(_LinearClassifier):
    """Multiclass linear SVM trained by (minibatch) gradient descent.

    Minimizes the mean multiclass hinge loss plus ``reg * sum(coef_**2)`` (the bias is not
    regularized).

    Parameters
    ----------
    learning_rate : float or "auto", default "auto"
        Step size. "auto" is ``1 / mean(||x_i||^2)`` for the SVM; for the Softmax
        ``2 / (top_eig + mean(||x_i||^2) / batch_size)``, with ``top_eig`` the largest
        eigenvalue of ``X.T @ X / n`` (the inverse curvature of its loss); times
        ``1 - momentum`` for momentum methods; 1e-3 for Adam. See ``auto_learning_rate``.
    reg : float or "auto", default "auto"
        L2 strength in ``reg * sum(W**2)`` (gradient ``2 * reg * W``). "auto" is
        ``3e-4 * mean(||x_i||^2)`` (``1e-4`` for the Softmax), a penalty of the same weight
        whatever the pixel scale; see ``auto_reg``.
    batch_size : int or None, default 200
        Rows per minibatch; None trains full batch (one step per epoch).
    max_epochs : int, default 100
    max_steps : int or None, default None
        Stop after this many update steps in all (the course's ``num_iters``), even within an
        epoch.
    optimizer : {"sgd", "momentum", "nesterov", "adam"}, default "sgd"
    momentum : float, default 0.9
        For "momentum" and "nesterov".
    lr_decay : float, default 1.0
        The learning rate is multiplied by this after every epoch.
    tol : float or None, default 1e-4
        Training stops when the epoch's loss (or, with early stopping, validation accuracy)
        has not improved by ``tol`` for ``n_iter_no_change`` epochs. None: run all epochs.
    early_stopping : bool, default False
        Keep the weights with the best validation score (``scoring``) and stop when it has
        not improved by ``tol`` for ``n_iter_no_change`` epochs. The validation set is
        ``eval_set`` or a held-out ``validation_fraction`` of the data.
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 5
    scoring : {"loss", "accuracy"}, default "loss"
        What early stopping watches on the validation set: its loss (smooth, so it keeps
        improving while a small set's accuracy moves in steps of 1/n; the default, as in
        scikit-learn's HistGradientBoosting), or its accuracy.
    random_state : int, Generator or None
        Seeds the initial weights, the shuffling and the held-out split; the same int gives
        bit-identical weights.
    verbose : int, default 0
        Print one line per epoch.
    warm_start : bool, default False
        ``fit`` continues from the current weights (same classes) instead of starting again.
    fit_intercept : bool, default True
        Learn the bias ``intercept_``; False keeps it at 0 (the bias trick is then yours).
    class_weight : dict, "balanced" or None
        Multiplies each sample's weight by its class's weight; "balanced" weighs classes
        inversely to their frequency (``fit`` only).
    solver : {"sgd", "lbfgs"}, default "sgd"
        "sgd": (minibatch) gradient descent with ``optimizer``. "lbfgs": full-batch L-BFGS
        (scipy's L-BFGS-B) on the same loss and hand-derived gradient, one iteration per
        epoch, for the exact optimum of a smooth loss (the Softmax, or the SVM with
        ``squared=True``); ``learning_rate``, ``batch_size``, ``optimizer``, ``momentum``,
        ``lr_decay`` and ``shuffle`` do not apply to it. It starts from zero weights, and
        stops when the gradient's largest entry has shrunk to ``tol`` times its first value.
    shuffle : True, False or "blocks", default True
        True: the rows are shuffled once per ``fit`` (in place when X is a copy the estimator
        made, else by gathering each batch), and each epoch takes windows of ``batch_size``
        rows from a random offset in a random order. "blocks": the same windows over the rows
        as given, never copying or gathering: the fastest, for rows already in random order
        (after ``train_test_split``). False: the windows in order from row 0 every epoch.
    loss_variant : {"weston_watkins", "crammer_singer"}, default "weston_watkins"
        Sum over the wrong classes' hinges, or only the worst one.
    margin : float, default 1.0
    squared : bool, default False
        Square each hinge term.

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    n_iter_ : int
        Epochs run (the last one may be partial).
    n_steps_ : int
        Update steps taken.
    n_features_in_ : int
    history_ : dict of lists
        Per epoch: ``train_loss`` (the objective, data loss + penalty, as a running mean over
        the epoch's steps), ``train_accuracy``, ``penalty`` (``reg * sum(W**2)`` at the end of
        the epoch), ``val_loss`` (data loss only) and ``val_accuracy`` where there is a
        validation set, ``learning_rate`` (None with ``solver="lbfgs"``, whose iterations
        take the step their line search finds; ``train_loss`` is then the objective at the
        iteration's end), ``seconds``.
    learning_rate_ : float
        The learning rate used (resolved from "auto").
    reg_ : float
        The L2 strength used (resolved from "auto").
    intercept_step_ : float
        How many times the weights' step the bias takes: ``mean(||x_i||^2) / n_features``
        (at least 1) with ``learning_rate="auto"``, else 1.

    Notes
    -----
    The SVM has no ``predict_proba``: hinge scores are not probabilities. Calibrate them with
    ``sklearn.calibration.CalibratedClassifierCV`` if you need some.
    """

    def __init__(
        self,
        *,
        learning_rate: float | str = "auto",
        reg: float | str = "auto",
        batch_size: int | None = 200,
        max_epochs: int = 100,
        max_steps: int | None = None,
        optimizer: str = "sgd",
        momentum: float = 0.9,
        lr_decay: float = 1.0,
        tol: float | None = 1e-4,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 5,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        fit_intercept: bool = True,
        class_weight: dict | str | None = None,
        shuffle: bool = True,
        solver: str = "sgd",
        scoring: str = "loss",
        loss_variant: str = "weston_watkins",
        margin: float = 1.0,
        squared: bool = False,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            reg=reg,
            batch_size=batch_size,
            max_epochs=max_epochs,
            max_steps=max_steps,
            optimizer=optimizer,
            momentum=momentum,
            lr_decay=lr_decay,
            tol=tol,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
            fit_intercept=fit_intercept,
            class_weight=class_weight,
            shuffle=shuffle,
            solver=solver,
            scoring=scoring,
        )
        self.loss_variant = loss_variant
        self.margin = margin
        self.squared = squared

    def _check_params(self):
        super()._check_params()
        if self.loss_variant not in HINGE_VARIANTS:
            raise InputError(
                f"loss_variant must be one of {HINGE_VARIANTS}; got {self.loss_variant!r}."
            )
        if not (isinstance(self.margin, Real) and np.isfinite(self.margin)):
            raise InputError(f"margin must be a finite number; got {self.margin!r}.")

    def _loss(self):
        return Hinge(margin=self.margin, variant=self.loss_variant, squared=self.squared)


class SoftmaxClassifier(_LinearClassifier):
    """Softmax (multinomial logistic regression) classifier trained by gradient descent.

    Minimizes the mean softmax cross-entropy plus ``reg * sum(coef_**2)`` (the bias is not
    regularized). Parameters and attributes are those of ``LinearSVM`` without
    ``loss_variant``, ``margin`` and ``squared``; in addition it has ``predict_proba`` and
    ``predict_log_proba``.
    """

    def _loss(self):
        return SoftmaxCrossEntropy()

    def predict_proba(self, X: Data) -> Array:
        """Class probabilities, ``softmax(scores)``; columns follow ``classes_``."""
        S = self._scores(X, "predict_proba")
        if array_api.is_array_api(S):
            return array_api.softmax(S)
        return S.map_blocks(softmax) if is_dask(S) else softmax(S)

    def predict_log_proba(self, X: Data) -> Array:
        """Log of ``predict_proba``, computed stably."""
        S = self._scores(X, "predict_log_proba")
        if array_api.is_array_api(S):
            return array_api.log_softmax(S)
        return S.map_blocks(log_softmax) if is_dask(S) else log_softmax(S)


MODELS = {"svm": LinearSVM, "softmax": SoftmaxClassifier}
check_registry(MODELS, choices.MODELS, "model")
check_registry(HINGE_VARIANTS, choices.HINGE_VARIANTS, "hinge variant")
