"""A user's script, type-checked by `make package` with ``mypy --strict`` against the wheel
installed in a clean venv: linclass ships ``py.typed`` (PEP 561), so its annotations reach the
user's type checker. Each ``assert_type`` fails the check if a type is lost (to ``Any``)."""

from typing import assert_type

import numpy as np

import linclass
from linclass.graph import Node
from linclass.losses import softmax_cross_entropy

rng = np.random.default_rng(0)
X = rng.standard_normal((30, 4))
y = np.arange(30) % 3

clf = linclass.SoftmaxClassifier(max_epochs=3, random_state=0)
assert_type(clf.fit(X, y), linclass.SoftmaxClassifier)
P = clf.predict_proba(X)
assert_type(P, np.ndarray)

loss, dS = softmax_cross_entropy(X[:, :3], y)
assert_type(loss, float)

x, w = Node(-2.0, "x"), Node(3.0, "w")
f = (x * w + 1.0).sigmoid()
assert_type(f, Node)
assert_type(f.backward(), Node)
print(f"mean top probability {P.max(axis=1).mean():.2f}, loss {loss:.3f}, df/dx {x.grad}")
