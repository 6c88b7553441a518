"""The type names of linclass's public signatures (PEP 484), in one place.

``Data`` is what a classifier or a loss over data takes as X: a numpy array, a scipy sparse
matrix, a memmap, a dask array or an array of any array API namespace, so it is ``Any`` to the
type checker (the functions check it at run time). ``Array`` is a numpy array; ``Labels`` the
class labels of y (any kind of array-like).
"""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Array",
    "ArrayLike",
    "Block",
    "Data",
    "Labels",
    "LossFn",
    "LossResult",
    "PathArg",
    "Progress",
    "Scalar",
    "Sums",
]

Array: TypeAlias = np.ndarray
Data: TypeAlias = Any
Labels: TypeAlias = ArrayLike
PathArg: TypeAlias = "str | PathLike[str]"
LossResult: TypeAlias = "tuple[float, np.ndarray]"
Scalar: TypeAlias = Callable[[np.ndarray], float]
#: ``progress(stage or file name, done, total or None)``, called as work goes on.
Progress: TypeAlias = Callable[[str, int, "int | None"], object]
#: A loss on scores: ``loss_fn(S, y, sample_weight=None) -> (mean loss, dS)``.
LossFn: TypeAlias = Callable[..., LossResult]
#: One block of rows: ``(Xb, yb, sample weights or None)``.
Block: TypeAlias = "tuple[Data, np.ndarray, np.ndarray | None]"
#: The objective's sums: ``(loss, dW, db or None, n_correct)``.
Sums: TypeAlias = "tuple[float, np.ndarray, np.ndarray | None, int]"
