"""The names a user chooses between -- models, optimizers, solvers, hinge variants -- in one
place that imports nothing, so that the command line can offer them (and answer ``--help``)
without loading numpy. The modules that implement each choice key their registries by these
names (``linclass.estimators.MODELS``, ``linclass.optim.OPTIMIZERS``...), and check it."""

MODELS = ("svm", "softmax")  # LinearSVM, SoftmaxClassifier
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
SOLVERS = ("sgd", "lbfgs")  # (minibatch) gradient descent, full-batch L-BFGS
HINGE_VARIANTS = ("weston_watkins", "crammer_singer")


def check_registry(registry, names, what):
    """A registry must implement exactly the names offered."""
    if tuple(registry) != tuple(names):
        raise ImportError(f"the {what} registry {tuple(registry)} differs from the names "
                          f"offered in linclass.choices {tuple(names)}")
