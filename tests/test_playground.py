"""The playground's Python side: its numbers are the library's own, its state checks refuse
hostile input, and its server answers only what it should, over loopback (browser tests are in
test_playground_browser.py)."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linclass.gradcheck import numerical_gradient
from linclass.graph.expr import build_circuit
from linclass.losses import multiclass_hinge, one_vs_all_hinge, softmax_cross_entropy
from linclass.optim import Adam, Momentum
from linclass.playground import circuits, lab, server
from linclass.playground.datasets import DATASETS, make_dataset
from linclass.playground.state import LOSSES, MAX_POINTS, StateError, lab_state

LOSS_FUNCTIONS = {
    "weston_watkins": lambda S, y, d: multiclass_hinge(S, y, d),
    "crammer_singer": lambda S, y, d: multiclass_hinge(S, y, d, "crammer_singer"),
    "one_vs_all": lambda S, y, d: one_vs_all_hinge(S, y, d),
    "softmax": lambda S, y, d: softmax_cross_entropy(S, y),
}


def _body(kind="blobs", classes=3, n=60, seed=1, **extra):
    X, y, val = make_dataset(kind, classes, n, 0.1, seed)
    points = [[float(a), float(b), int(c), int(v)] for (a, b), c, v in zip(X, y, val)]
    return {"points": points, "classes": classes, **extra}


# -- data sets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", DATASETS)
def test_datasets_are_seeded_bounded_and_split(kind):
    X, y, val = make_dataset(kind, 4, 200, 0.05, seed=3, val_fraction=0.25)
    X2, y2, val2 = make_dataset(kind, 4, 200, 0.05, seed=3, val_fraction=0.25)
    assert np.array_equal(X, X2) and np.array_equal(y, y2) and np.array_equal(val, val2)
    assert not np.array_equal(X, make_dataset(kind, 4, 200, 0.05, seed=4)[0])
    assert X.shape == (200, 2) and np.all(np.abs(X) < 3)
    assert val.sum() == 50
    assert set(np.unique(y)) <= set(range(4))


# -- the loss lab's numbers are linclass's own ----------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("features", [[], ["x2", "y2", "xy"]])
def test_evaluate_equals_the_library(loss, features):
    body = _body(loss=loss, features=features, reg=0.01, delta=0.7)
    state = lab_state(body)
    out = lab.evaluate(state)
    W, b = np.array(out["W"]), np.array(out["b"])
    W0, b0 = lab.initial_weights(3, 2 + len(features), 0)
    assert np.array_equal(W, W0) and np.array_equal(b, b0)  # no W sent: the seed's start
    phi = lab.feature_map(state.X, state.features)
    assert phi.shape[1] == 2 + len(features)
    S = phi @ W.T + b
    np.testing.assert_allclose(out["scores"], S)
    train = ~state.val
    data, dS = LOSS_FUNCTIONS[loss](S[train], state.y[train], 0.7)
    assert out["loss"] == pytest.approx(data + 0.01 * np.sum(W**2))
    np.testing.assert_allclose(out["dW"], dS.T @ phi[train] + 0.02 * W, atol=1e-12)
    np.testing.assert_allclose(out["db"], dS.sum(0), atol=1e-12)
    # each point's own loss, and the mean of the training points' is the data loss
    for i in range(len(S)):
        assert out["point_loss"][i] == pytest.approx(
            LOSS_FUNCTIONS[loss](S[i : i + 1], state.y[i : i + 1], 0.7)[0]
        )
    assert np.mean(np.array(out["point_loss"])[train]) == pytest.approx(data)
    # the numerical check is the centred difference of the same objective
    f = lambda w: lab.objective(state, w, b, train)[0]  # noqa: E731
    np.testing.assert_allclose(out["num_dW"], numerical_gradient(f, W.copy()))
    assert out["acc"] == pytest.approx(np.mean(S[train].argmax(1) == state.y[train]))
    assert np.sum(out["confusion"]) == train.sum()
    assert np.sum(out["val_confusion"]) == state.val.sum()


def test_violated_margins_are_the_hinge_terms():
    S = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])  # the lecture's
    state = lab_state({"points": [[0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 2, 0]], "classes": 3})
    rows = {}
    for loss in LOSSES:
        state.loss = loss
        rows[loss] = lab._point_rows(state, S)
    # cat: only car's margin (5.1 - 3.2 + 1 > 0); car: none; frog: cat and car
    assert rows["weston_watkins"][1] == [[1], [], [0, 1]]
    assert rows["weston_watkins"][0] == pytest.approx([2.9, 0, 12.9])
    assert rows["crammer_singer"][1] == [[1], [], [1]]
    assert rows["one_vs_all"][1] == [[1], [0, 2], [0, 1, 2]]  # cat scores 3.2 > 1 for itself
    assert rows["softmax"][1] == [[], [], []]


def test_class_map_is_the_argmax_of_the_scores():
    W = np.array([[1.0, 0], [-1.0, 0], [0, 1.0]])
    b = np.zeros(3)
    text = lab.class_map(W, b, (), size=4, view=2.0)
    # the cell centres are +-0.5 and +-1.5; the top row is y = 1.5
    grid = np.array([int(c) for c in text]).reshape(4, 4)
    assert grid[0].tolist() == [1, 2, 2, 0]  # y = 1.5 beats |x| < 1.5; a tie goes to the first
    assert grid[3].tolist() == [1, 1, 0, 0]  # y = -1.5: the sign of x decides


@pytest.mark.parametrize("optimizer", ["gd", "sgd", "momentum", "adam"])
def test_train_steps_equal_the_library_optimizers(optimizer):
    body = _body(optimizer=optimizer, lr=0.05, reg=0.001, batch=8 if optimizer != "gd" else 0)
    many = lab.train(lab_state(body), steps=6)
    # the same six steps taken one request at a time, sending back what came out
    state_body = dict(body)
    for _ in range(6):
        out = lab.train(lab_state(state_body), steps=1)
        state_body.update(W=out["W"], b=out["b"], t=out["t"], opt=out["opt"])
    np.testing.assert_allclose(many["W"], state_body["W"], rtol=1e-12)
    assert many["t"] == 6 and len(many["history"]) == 6
    assert [h["t"] for h in many["history"]] == [1, 2, 3, 4, 5, 6]
    assert many["history"][-1]["loss"] == pytest.approx(many["loss"])
    # and by hand with linclass.optim
    state = lab_state(body)
    W, b = lab.initial_weights(3, 2, 0)
    opt = {"momentum": Momentum(0.05, 0.9), "adam": Adam(0.05)}.get(optimizer)
    train_rows = np.flatnonzero(~state.val)
    for t in range(6):
        rows = train_rows
        if optimizer != "gd":
            rows = np.sort(np.random.default_rng([0, t]).choice(train_rows, 8, replace=False))
        mask = np.zeros(len(state.y), bool)
        mask[rows] = True
        _, dW, db = lab.objective(state, W, b, mask)
        if opt is None:
            W, b = W - 0.05 * dW, b - 0.05 * db
        else:
            opt.step([W, b], [dW, db])
    np.testing.assert_allclose(many["W"], W, rtol=1e-12)


def test_training_makes_blobs_separable_and_reset_is_the_seed():
    body = _body(n=150, lr=0.2, reg=1e-3)
    out = lab.train(lab_state(body), steps=100)
    assert out["acc"] == 1.0 and out["val_acc"] >= 0.95
    assert out["history"][-1]["loss"] < out["history"][0]["loss"] / 5
    again = lab.evaluate(lab_state(body))  # no W sent: the seed's start, the same each time
    assert again["W"] == lab.evaluate(lab_state(body))["W"] != out["W"]


def test_features_separate_circles():
    body = _body("circles", classes=2, n=200, lr=0.1, reg=1e-4, optimizer="adam")
    flat = lab.train(lab_state(body), steps=200)
    curved = lab.train(lab_state(dict(body, features=["x2", "y2"])), steps=200)
    assert flat["acc"] < 0.8 < 0.97 < curved["acc"]


def test_divergence_keeps_the_last_good_weights():
    body = _body(lr=1e3, delta=1e3, reg=1e3)
    out = lab.train(lab_state(body), steps=50)
    assert out["diverged"] and "lower the step size" in out["diverged"]
    assert np.all(np.isfinite(out["W"])) and np.abs(out["W"]).max() <= 1e6
    json.dumps(out, allow_nan=False)


# -- circuits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("features", [[], ["xy"]])
def test_point_circuit_is_the_point_loss_and_its_gradient(loss, features):
    body = _body(loss=loss, features=features, delta=0.8, classes=4, n=40)
    state = lab_state(body)
    out = lab.evaluate(state)
    phi = lab.feature_map(state.X, state.features)
    for i in (0, 7, 19):
        c = circuits.point_circuit(state, i)
        data = circuits.circuit_json(c)
        assert data["nodes"][data["output"]]["value"] == pytest.approx(out["point_loss"][i])
        # dL_i/dW = dS_i^T phi_i, dS_i from the library's per-sample gradient
        S = np.array(out["scores"][i : i + 1])
        _, dS = LOSS_FUNCTIONS[loss](S, state.y[i : i + 1], 0.8)
        gW = np.array(
            [[c.inputs[f"W[{k},{d}]"].grad for d in range(phi.shape[1])] for k in range(4)]
        )
        np.testing.assert_allclose(gW, np.outer(dS[0], phi[i]), atol=1e-12)
        np.testing.assert_allclose([c.inputs[f"b[{k}]"].grad for k in range(4)], dS[0], atol=1e-12)


def test_circuit_json_has_every_wire():
    data = circuits.circuit_json(
        circuits.expression_circuit("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    )
    nodes = {n["label"]: n for n in data["nodes"]}
    assert nodes["f"]["value"] == -12 and nodes["f"]["grad"] == 1
    assert [nodes[k]["grad"] for k in "xyz"] == [-4, -4, 3]
    assert nodes["q1"]["local"] == [1, 1] and nodes["q1"]["wire_grads"] == [-4, -4]
    assert nodes["f"]["local"] == [-4, 3]
    # the same as linclass circuit's own build
    c = build_circuit("(x + y) * z", {"x": -2, "y": 5, "z": -4})
    assert c.backward() == {k: nodes[k]["grad"] for k in "xyz"}


def test_circuit_json_carries_no_inf_or_nan():
    data = circuits.circuit_json(circuits.expression_circuit("log(x) * y", {"x": 0, "y": 2}))
    json.dumps(data, allow_nan=False)
    log = next(n for n in data["nodes"] if n["op"] == "log")
    assert log["value"] is None and log["value_text"] == "-inf"


# -- hostile state --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change,message",
    [
        ({"classes": 1}, "classes must be from 2 to 10"),
        ({"classes": 11}, "classes must be from 2 to 10"),
        ({"classes": "3"}, "classes must be a whole number"),
        ({"classes": True}, "classes must be a whole number"),
        ({"loss": "mse"}, "loss must be one of"),
        ({"reg": -1}, "reg must be a finite number"),
        ({"lr": 0}, r"lr must be a finite number in \(0"),
        ({"delta": "1"}, "delta must be a number"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of"),
        ({"features": ["x3"]}, "features must be a list"),
        ({"features": ["xy", "xy"]}, "features must be a list"),
        ({"points": "1,2,3"}, "points must be a list"),
        ({"points": [[0, 0, 5, 0]]}, "each class must be a whole number from 0 to 2"),
        ({"points": [[0, 0, 1.5, 0]]}, "each class must be a whole number"),
        ({"points": [[1e9, 0, 0, 0]]}, "coordinates must be finite"),
        ({"points": [[0, 0]]}, "rows of numbers"),
        ({"points": [[0, "a", 0]]}, "rows of numbers"),
        ({"points": [[0, 0, 0, 0]] * (MAX_POINTS + 1)}, "at most 2,000 points"),
        ({"W": [[1, 2], [3, 4]], "b": [0, 0, 0]}, r"W must have shape \(3, 2\)"),
        ({"W": [[1, 2]] * 3}, "send W and b together"),
        ({"W": [[1, "x"]] * 3, "b": [0, 0, 0]}, "W must be a list of numbers"),
        ({"W": [[1e300, 0]] * 3, "b": [0, 0, 0]}, "not finite or is over"),
        ({"opt": [[[0, 0]] * 3] * 5}, "opt must be a list"),
        ({"opt": [[[0, 0]] * 2]}, r"opt\[0\] must have shape"),
        ({"seed": -1}, "seed must be from 0"),
    ],
)
def test_bad_state_is_refused_with_the_field_named(change, message):
    with pytest.raises(StateError, match=message):
        lab_state(dict(_body(), **change))


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "classes",
                "points",
                "loss",
                "reg",
                "delta",
                "lr",
                "optimizer",
                "batch",
                "features",
                "seed",
                "W",
                "b",
                "opt",
                "t",
                "steps",
                "point",
                "grid",
                "view",
                "check",
                "expression",
                "values",
                "kind",
                "n",
                "noise",
            ]
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.text(max_size=3), inner, max_size=3)
            ),
            max_leaves=12,
        ),
    ),
    st.sampled_from([*list(server.ROUTES), "nope"]),
)
def test_any_json_gets_an_answer_or_a_clear_refusal(body, route):
    status, payload = server.handle(route, body)
    assert status in (200, 400, 404)
    if status != 200:
        assert isinstance(payload["error"], str) and payload["error"]
    else:
        json.dumps(payload, allow_nan=False)


# -- the server over loopback ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def running():
    srv = server.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _request(srv, method, path, body=None, headers=None, raw=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=10)
    h = {"Host": f"127.0.0.1:{srv.server_port}"}
    if body is not None:
        raw = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    conn.request(method, path, raw, h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r, data


def test_the_page_and_its_files_are_served(running):
    r, data = _request(running, "GET", "/")
    assert r.status == 200 and b"linclass playground" in data
    assert r.getheader("Content-Type").startswith("text/html")
    assert "default-src 'self'" in r.getheader("Content-Security-Policy")
    assert r.getheader("X-Content-Type-Options") == "nosniff"
    for name in ("app.js", "circuit.js", "style.css"):
        r, data = _request(running, "GET", f"/static/{name}")
        assert r.status == 200 and len(data) > 1000
    # nothing offline-breaking: no address outside the page's own server
    page = b"".join(
        _request(running, "GET", p)[1]
        for p in ("/", "/static/app.js", "/static/circuit.js", "/static/style.css")
    )
    assert not re.search(rb"https?://(?!www\.w3\.org/2000/svg)", page)


@pytest.mark.parametrize(
    "path",
    [
        "/static/../state.py",
        "/../../etc/passwd",
        "/static/",
        "/static/app.js/..",
        "/api/evaluate",
        "/%2e%2e/server.py",
    ],
)
def test_no_other_file_is_served(running, path):
    r, data = _request(running, "GET", path)
    assert r.status == 404
    assert b"Traceback" not in data and b"import" not in data


def test_the_api_answers_over_loopback(running):
    r, data = _request(running, "POST", "/api/train", dict(_body(), steps=3))
    assert r.status == 200
    out = json.loads(data)
    assert out["t"] == 3 and len(out["history"]) == 3
    want = lab.train(lab_state(_body()), steps=3)
    np.testing.assert_allclose(out["W"], want["W"])


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "127.0.0.1:1", "localhost.evil:{port}", "", "127.0.0.1"]
)
def test_a_foreign_host_header_is_refused(running, host):
    # DNS rebinding: a page on evil.example whose name now points at 127.0.0.1
    r, data = _request(running, "GET", "/", headers={"Host": host.format(port=running.server_port)})
    assert r.status == 403 and b"answers only on" in data


def test_localhost_by_name_is_answered(running):
    r, _ = _request(running, "GET", "/", headers={"Host": f"localhost:{running.server_port}"})
    assert r.status == 200


def test_a_foreign_origin_is_refused(running):
    r, data = _request(
        running, "POST", "/api/evaluate", _body(), headers={"Origin": "https://evil.example"}
    )
    assert r.status == 403 and b"refused" in data
    r, _ = _request(
        running,
        "POST",
        "/api/evaluate",
        _body(),
        headers={"Origin": f"http://127.0.0.1:{running.server_port}"},
    )
    assert r.status == 200


@pytest.mark.parametrize(
    "headers,raw,status,message",
    [
        ({"Content-Type": "text/plain"}, b"{}", 415, b"application/json"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=b", 415, b"application/json"),
        ({"Content-Type": "application/json"}, b"{not json", 400, b"not valid JSON"),
        ({"Content-Type": "application/json"}, b"[1, 2]", 400, b"JSON object"),
        ({"Content-Type": "application/json"}, b'{"classes": 99}', 400, b"classes must be"),
        ({"Content-Type": "application/json"}, b"[" * 100_000, 400, b"not valid JSON"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(running, headers, raw, status, message):
    r, data = _request(running, "POST", "/api/evaluate", raw=raw, headers=headers)
    assert r.status == status
    assert message in data and b"Traceback" not in data
    assert "error" in json.loads(data)


def test_a_body_over_the_limit_is_refused_unread(running):
    conn = http.client.HTTPConnection("127.0.0.1", running.server_port, timeout=10)
    conn.putrequest("POST", "/api/evaluate", skip_host=True)
    conn.putheader("Host", f"127.0.0.1:{running.server_port}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(server.MAX_BODY + 1))
    conn.endheaders()
    r = conn.getresponse()
    assert r.status == 413 and b"at most" in r.read()
    conn.close()


def test_unknown_calls_and_methods(running):
    r, data = _request(running, "POST", "/api/shell", {})
    assert r.status == 404 and b"the calls are" in data
    r, _ = _request(running, "DELETE", "/")
    assert r.status == 405
    r, _ = _request(running, "POST", "/", {})
    assert r.status == 404


def test_the_server_binds_loopback_only(running):
    assert running.server_address[0] == "127.0.0.1"


def test_idle_timeout_stops_the_server():
    srv = server.start(idle_timeout=0.3)
    assert srv.thread.is_alive()
    srv.thread.join(timeout=10)
    assert not srv.thread.is_alive()
    srv.server_close()


# -- the command --------------------------------------------------------------------------------


def _playground(*args):
    # Ctrl-C as in a terminal: a test run in the background hands its children SIGINT ignored
    return subprocess.Popen(
        [sys.executable, "-m", "linclass", "playground", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_linclass_playground_serves_until_interrupted(sig):
    proc = _playground("--idle-exit", "60")
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert url, line
        port = int(url.group(1))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


def test_linclass_playground_idle_exit():
    proc = _playground("--idle-exit", "1")
    try:
        assert proc.wait(timeout=30) == 0
        assert "127.0.0.1" in proc.stdout.read()
    finally:
        proc.kill()
        proc.wait()


def test_open_starts_the_users_browser_on_the_page(tmp_path):
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-m", "linclass", "playground", "--open", "--idle-exit", "2"],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, BROWSER=str(browser), PYTHONUNBUFFERED="1"),
    )
    try:
        assert proc.wait(timeout=30) == 0
        url = re.search(r"http://127\.0\.0\.1:\d+/", proc.stdout.read()).group(0)
        assert opened.read_text().strip() == url
    finally:
        proc.kill()
        proc.wait()


def test_a_port_in_use_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = _playground("--port", str(port))
        try:
            assert proc.wait(timeout=30) == 2
            err = proc.stderr.read()
            assert f"port {port} is in use" in err and "Traceback" not in err
        finally:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("port", ["-1", "70000", "http"])
def test_a_bad_port_is_a_usage_error(port):
    proc = subprocess.run(
        [sys.executable, "-m", "linclass", "playground", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--port" in proc.stderr


def test_show_returns_the_page_for_a_notebook():
    import linclass.playground as playground

    def url(shown):  # an IPython IFrame, or the URL where IPython is not installed
        return shown if isinstance(shown, str) else shown.src

    first = url(playground.show(query="loss=softmax"))
    assert re.match(r"http://127\.0\.0\.1:\d+/#loss=softmax", first)
    assert url(playground.show()) == first.split("#")[0]  # the same server
    r, _data = _request(playground._shown, "GET", "/")
    assert r.status == 200


def test_an_unexpected_failure_is_a_500_with_one_line(monkeypatch):
    def broken(body):
        raise KeyError("a bug")

    monkeypatch.setitem(server.ROUTES, "evaluate", broken)
    status, payload = server.handle("evaluate", {})
    assert status == 500 and "KeyError" in payload["error"] and "Traceback" not in payload["error"]


def test_a_refused_request_ends_its_connection(running):
    # its body is never read: the next bytes on the connection must not become a request
    conn = http.client.HTTPConnection("127.0.0.1", running.server_port, timeout=10)
    conn.request(
        "POST",
        "/api/evaluate",
        b'{"classes": 3}',
        {"Host": f"127.0.0.1:{running.server_port}", "Content-Type": "text/plain"},
    )
    r = conn.getresponse()
    assert r.status == 415 and r.getheader("Connection") == "close"
    r.read()
    conn.close()
