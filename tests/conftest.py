import os

# scikit-learn's array API checks (and linclass's array API path, under array_api_dispatch)
# need scipy's own array API support, which is read when scipy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import atexit
import shutil
import tempfile

# The feature cache of the tests (and of the commands they run) is theirs alone, and goes.
_FEATURE_CACHE = tempfile.mkdtemp(prefix="linclass-test-features-")
os.environ["LINCLASS_FEATURE_CACHE"] = _FEATURE_CACHE
atexit.register(shutil.rmtree, _FEATURE_CACHE, True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests: enough examples to find edge cases, no wall-clock deadline (CI machines vary).
settings.register_profile("linclass", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "linclass"))

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


def run_linclass(*args, cmd=None):
    """The command line in a process of its own (``python -m linclass`` unless ``cmd`` names
    another way to start it), 120 columns wide: its CompletedProcess, text."""
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "120"}
    start = cmd or [sys.executable, "-m", "linclass"]
    return subprocess.run([*start, *args], capture_output=True, text=True, timeout=300, env=env)


def builtin_losses():
    """Every built-in loss with a test id: ``(losses, ids)`` for ``parametrize``."""
    from linclass.losses import Hinge, SoftmaxCrossEntropy

    losses = [
        Hinge(),
        Hinge(margin=0.5),
        Hinge(squared=True),
        Hinge(variant="crammer_singer"),
        Hinge(variant="crammer_singer", squared=True),
        SoftmaxCrossEntropy(),
    ]
    ids = [
        "hinge",
        "hinge-margin-0.5",
        "hinge-squared",
        "crammer-singer",
        "crammer-singer-squared",
        "softmax",
    ]
    return losses, ids


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def digits_split():
    """The default job's data: digits, split and mean-subtracted on the training part."""
    from linclass.data import MeanImage, load_digits, train_val_test_split

    ds = load_digits()
    sp = train_val_test_split(ds, random_state=0)
    pre = MeanImage().fit(sp.X_train)
    return (
        pre.transform(sp.X_train),
        sp.y_train,
        pre.transform(sp.X_val),
        sp.y_val,
        pre.transform(sp.X_test),
        sp.y_test,
    )


def interrupt_cli_at_epoch(monkeypatch, epoch):
    """Make ``linclass train`` (in this process) get a Ctrl-C (SIGINT) during ``epoch``."""
    import signal

    from linclass import cli

    real = cli._fmt_metrics

    def interrupting(info):
        if info["epoch"] == epoch:
            os.kill(os.getpid(), signal.SIGINT)
        return real(info)

    monkeypatch.setattr(cli, "_fmt_metrics", interrupting)


@pytest.fixture(params=["numpy", "fused"])
def kernel(request, monkeypatch):
    """Each kernel in turn (``LINCLASS_KERNEL``), the fused one even on small data (skipped
    without numba)."""
    if request.param == "fused":
        pytest.importorskip("numba")
    monkeypatch.setenv("LINCLASS_KERNEL", request.param)
    return request.param
