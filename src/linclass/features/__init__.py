"""Image features for a linear classifier (issue 14): each a scikit-learn transformer that takes
images as rows of pixels and gives float32 feature rows, in batches of bounded memory.

* ``HOG``: histograms of oriented gradients over cells, optionally block-normalized;
* ``ColorHistogram``: the hue histogram of the course, or a joint 3-D HSV histogram;
* ``Patches``: Coates, Lee & Ng's single-layer features (whitened patches encoded against a
  learned dictionary, pooled over quadrants).

Use them in a ``sklearn.pipeline.Pipeline`` before ``LinearSVM`` or ``SoftmaxClassifier``, or
side by side with ``sklearn.pipeline.FeatureUnion``.
"""

from .color import ColorHistogram
from .hog import HOG
from .patches import Patches

__all__ = ["HOG", "ColorHistogram", "Patches"]
