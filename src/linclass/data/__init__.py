"""Data: loaders that return pixels and class names, splits, and preprocessing.

Every loader returns a :class:`Dataset`: pixels as uint8 (or float32) rows, one per image,
integer labels indexing ``class_names``, and the image shape to draw them again.
"""

from .dataset import Dataset, load_dataset
from .digits import load_digits
from .preprocess import MeanImage
from .splits import Split, train_val_test_split

__all__ = ["Dataset", "load_dataset", "load_digits", "MeanImage", "Split", "train_val_test_split"]
