import numpy as np
import pytest

from linclass.optim import SGD, Adam, Momentum, Nesterov, make_optimizer


def quadratic_grad(p, A, c):
    return A @ p - c


def test_sgd_is_the_lecture_update():
    W = np.array([1.0, -2.0])
    SGD(0.1).step([W], [np.array([10.0, 10.0])])
    np.testing.assert_allclose(W, [0.0, -3.0])


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_every_rule_minimizes_a_quadratic(name, rng):
    M = rng.standard_normal((4, 4))
    A = M @ M.T + 4 * np.eye(4)
    c = rng.standard_normal(4)
    p = np.zeros(4)
    lr = 0.5 if name == "adam" else 0.05
    opt = make_optimizer(name, lr, lr_decay=0.99)
    for _ in range(2000):
        opt.step([p], [quadratic_grad(p, A, c)])
        if opt.t % 10 == 0:
            opt.end_epoch()
    np.testing.assert_allclose(p, np.linalg.solve(A, c), atol=1e-4)


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam", "sgd"])
def test_same_trajectory_as_pytorch(name, rng):
    torch = pytest.importorskip("torch")
    M = rng.standard_normal((5, 5))
    A = M @ M.T + np.eye(5)
    c = rng.standard_normal(5)
    p0 = rng.standard_normal(5)
    p = p0.copy()
    pt = torch.tensor(p0, requires_grad=True)
    lr = 0.01
    ours = make_optimizer(name, lr, momentum=0.9)
    theirs = {
        "sgd": lambda: torch.optim.SGD([pt], lr=lr),
        "momentum": lambda: torch.optim.SGD([pt], lr=lr, momentum=0.9),
        "nesterov": lambda: torch.optim.SGD([pt], lr=lr, momentum=0.9, nesterov=True),
        "adam": lambda: torch.optim.Adam([pt], lr=lr),
    }[name]()
    At, ct = torch.tensor(A), torch.tensor(c)
    for _ in range(50):
        ours.step([p], [quadratic_grad(p, A, c)])
        theirs.zero_grad()
        (0.5 * pt @ At @ pt - ct @ pt).backward()
        theirs.step()
    np.testing.assert_allclose(p, pt.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_learning_rate_decays_per_epoch():
    opt = SGD(1.0, lr_decay=0.5)
    opt.end_epoch()
    opt.end_epoch()
    assert opt.learning_rate == 0.25


def test_state_is_per_parameter_and_in_place(rng):
    W = np.ones((2, 3), np.float32)
    b = np.ones(2, np.float32)
    ids = id(W), id(b)
    opt = Momentum(0.1)
    opt.step([W, b], [np.ones_like(W), 2 * np.ones_like(b)])
    assert (id(W), id(b)) == ids and W.dtype == np.float32 and b.dtype == np.float32
    np.testing.assert_allclose(W, 0.9)
    np.testing.assert_allclose(b, 0.8)
    assert opt.state[0].shape == W.shape and opt.state[1].shape == b.shape


@pytest.mark.parametrize(
    "bad",
    [
        lambda: SGD(0.0),
        lambda: SGD(-1),
        lambda: SGD(float("nan")),
        lambda: SGD(1, lr_decay=0),
        lambda: Momentum(1, momentum=1.0),
        lambda: Nesterov(1, momentum=-0.1),
        lambda: make_optimizer("rmsprop", 1.0),
    ],
)
def test_bad_settings_are_refused(bad):
    with pytest.raises(
        ValueError, match="learning_rate must|lr_decay must|momentum must|optimizer must"
    ):
        bad()


def test_adam_first_step_has_size_lr():
    p = np.zeros(3)
    Adam(0.1).step([p], [np.array([5.0, -0.001, 100.0])])
    np.testing.assert_allclose(np.abs(p), 0.1, rtol=1e-4)  # eps=1e-8 against |g|=1e-3
