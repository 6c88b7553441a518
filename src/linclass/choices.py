"""The names a user chooses between -- models, optimizers, solvers, hinge variants, image
features -- in one
place that imports nothing, so that the command line can offer them (and answer ``--help``)
without loading numpy. The modules that implement each choice key their registries by these
names (``linclass.estimators.MODELS``, ``linclass.optim.OPTIMIZERS``...), and check it."""

MODELS = ("svm", "softmax")  # LinearSVM, SoftmaxClassifier
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
SOLVERS = ("sgd", "lbfgs")  # (minibatch) gradient descent, full-batch L-BFGS
HINGE_VARIANTS = ("weston_watkins", "crammer_singer")
FEATURES = ("raw", "hog", "hog+color", "hog+hsv", "patches[:K]")  # linclass.features.spec
MAX_CENTROIDS = 100_000


def feature_name(name):
    """The canonical form of a feature pipeline's name (``"patches"`` is ``"patches:1600"``);
    an unknown name is a ValueError listing the known ones."""
    text = str(name).strip().lower()
    if text in FEATURES[:4]:
        return text
    kind, colon, k = text.partition(":")
    if kind == "patches":
        if not colon:
            return "patches:1600"
        if k.isdigit() and 1 <= int(k) <= MAX_CENTROIDS:
            return f"patches:{int(k)}"
        raise ValueError(
            f"--features patches:K needs a number of centroids from 1 to "
            f"{MAX_CENTROIDS:,}; got {name!r}."
        )
    raise ValueError(f"--features must be one of {', '.join(FEATURES)}; got {name!r}.")


def check_registry(registry, names, what):
    """A registry must implement exactly the names offered."""
    if tuple(registry) != tuple(names):
        raise ImportError(
            f"the {what} registry {tuple(registry)} differs from the names "
            f"offered in linclass.choices {tuple(names)}"
        )
