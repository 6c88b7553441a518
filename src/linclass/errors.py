"""The errors linclass raises for input it refuses: one family, so that every damaged, hostile
or impossible input ends in one line that names the file and what to do, and never in a
traceback.

=========================  ========================================================
``LinclassError``          the base of every refusal below (the CLI prints its message,
                           exits 1)
``InputError``             an argument, parameter or data linclass cannot use as given
``UsageError``             a value missing or malformed on the command line (exit 2)
``DataFileError``          a data file that is damaged or not in its format
``ResourceLimitError``     a size that would pass a cap (``linclass.limits``)
``ModelFileError``         a model file that is damaged, or not a linclass model
``UnreadableImage``        bytes Pillow cannot decode as an image
``ExpressionError``        an expression ``linclass circuit`` will not build
``TrainingDivergedError``  the loss became NaN/inf, or grew by orders of magnitude
=========================  ========================================================

Each is also the built-in type a Python user would expect (a ``ValueError``, a
``FloatingPointError``...), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "LinclassError",
    "InputError",
    "UsageError",
    "DataFileError",
    "ResourceLimitError",
    "ModelFileError",
]


class LinclassError(Exception):
    """Input linclass refuses; the message says what is wrong and how to fix it."""


class InputError(LinclassError, ValueError):
    """An argument, a parameter or data that linclass cannot use as given (a label it does
    not know, a learning rate <= 0, NaN in X...); the message says which and what to do."""


class UsageError(LinclassError, ValueError):
    """A command line (or call) that is wrong as written: a missing or malformed value. The
    command line exits 2 for these, as for argparse's own usage errors."""


class DataFileError(LinclassError, ValueError):
    """A data file that is damaged or not in the format it should be; the message names it."""


class ResourceLimitError(DataFileError):
    """Reading an input would take more memory (or pixels, or bytes) than a cap allows."""


class ModelFileError(LinclassError, ValueError):
    """A file that is not a linclass model, or a damaged one."""
