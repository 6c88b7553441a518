"""Data: loaders that return pixels and class names, splits, and preprocessing.

Every loader returns a :class:`Dataset`: pixels as uint8 (or float32) rows, one per image,
integer labels indexing ``class_names``, and the image shape to draw them again.
"""

from .cifar10 import load_cifar10
from .dataset import DataFileError, Dataset, load_dataset
from .digits import load_digits
from .downloads import cache_dir, download
from .folder import load_image_folder
from .mnist import load_mnist, read_idx
from .preprocess import MeanImage
from .splits import Split, dev_subset, train_val_test_split

__all__ = ["Dataset", "DataFileError", "load_dataset", "load_digits", "load_mnist", "read_idx",
           "load_cifar10", "load_image_folder", "download", "cache_dir", "MeanImage", "Split",
           "train_val_test_split", "dev_subset"]
