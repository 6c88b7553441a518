"""The playground's web server: the page's files and a small JSON API, on loopback only.

Routes: ``GET /`` (the page), ``GET /static/<file>`` (its script and style, from the package),
and ``POST /api/<name>`` for ``dataset``, ``evaluate``, ``train``, ``circuit`` and ``expression``.

Safety: the server binds 127.0.0.1; it answers only requests whose ``Host`` header names
loopback (a page on another site that rebinds its DNS name to 127.0.0.1 gets 403), refuses a
cross-site ``Origin``, takes only ``application/json`` bodies of at most ``MAX_BODY`` bytes (so a
form on another site cannot post to it without a CORS preflight, which is never granted), checks
every field (``linclass.playground.state``), parses typed expressions with ``linclass circuit``'s
``ast`` walker, and reads no file but its own static ones. A bad request gets a 4xx with a JSON
``{"error": message}``; an unexpected failure a 500 with a one-line message, never a traceback.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import numpy as np

from ..errors import LinclassError
from . import circuits, lab
from .datasets import DATASETS, make_dataset
from .state import (
    MAX_CLASSES,
    MAX_GRID,
    MAX_POINTS,
    MAX_STEPS,
    StateError,
    choice,
    integer,
    lab_state,
    number,
)

__all__ = ["MAX_BODY", "Playground", "start", "handle"]

MAX_BODY = 512 * 1024
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/circuit.js": ("circuit.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self'; script-src 'self'; "
    # notebooks: Jupyter on loopback, VS Code's webviews
    "frame-ancestors 'self' http://127.0.0.1:* "
    "http://localhost:* vscode-webview:",
}
LOOPBACK = ("127.0.0.1", "localhost")


def _view(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "grid": integer(body, "grid", 80, 4, MAX_GRID),
        "view": number(body, "view", 3.0, 0.1, 1e3),
    }


def _dataset(body: dict[str, Any]) -> dict[str, Any]:
    kind = choice(body, "kind", tuple(DATASETS), "blobs")
    X, y, val = make_dataset(
        kind,
        integer(body, "classes", 3, 2, MAX_CLASSES),
        integer(body, "n", 150, 1, MAX_POINTS),
        number(body, "noise", 0.0, 0.0, 10.0),
        integer(body, "seed", 0, 0, 2**32 - 1),
        number(body, "val_fraction", 0.3, 0.0, 0.9),
    )
    return {
        "points": [
            [round(a, 4), round(c, 4), int(k), int(v)] for (a, c), k, v in zip(X.tolist(), y, val)
        ]
    }


def _evaluate(body: dict[str, Any]) -> dict[str, Any]:
    return lab.evaluate(lab_state(body), check=bool(body.get("check", True)), **_view(body))


def _train(body: dict[str, Any]) -> dict[str, Any]:
    return lab.train(
        lab_state(body),
        integer(body, "steps", 1, 1, MAX_STEPS),
        check=bool(body.get("check", True)),
        **_view(body),
    )


def _circuit(body: dict[str, Any]) -> dict[str, Any]:
    state = lab_state(body)
    return circuits.circuit_json(circuits.point_circuit(state, integer(body, "point", 0)))


def _expression(body: dict[str, Any]) -> dict[str, Any]:
    expression = body.get("expression")
    if not isinstance(expression, str):
        raise StateError("expression must be a string, such as (x + y) * z.")
    return circuits.circuit_json(circuits.expression_circuit(expression, body.get("values", {})))


ROUTES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "dataset": _dataset,
    "evaluate": _evaluate,
    "train": _train,
    "circuit": _circuit,
    "expression": _expression,
}


def handle(name: str, body: Any) -> tuple[HTTPStatus, dict[str, Any]]:
    """Answer one API call in Python: ``(status, JSON-ready dict)``. The server calls this; so
    can a test or a notebook."""
    if name not in ROUTES:
        return HTTPStatus.NOT_FOUND, {
            "error": f"no API call {name!r}; the calls are {', '.join(ROUTES)}."
        }
    if not isinstance(body, dict):
        return HTTPStatus.BAD_REQUEST, {"error": "the request must be a JSON object."}
    try:
        with np.errstate(all="ignore"):
            return HTTPStatus.OK, ROUTES[name](body)
    except (LinclassError, ValueError) as e:
        return HTTPStatus.BAD_REQUEST, {"error": str(e)}
    except Exception as e:  # a bug: one line to the page, never a traceback (tests look for 500s)
        return HTTPStatus.INTERNAL_SERVER_ERROR, {
            "error": f"the playground failed on this request ({type(e).__name__}); please "
            "report it with the state (Export state)."
        }


class _Handler(BaseHTTPRequestHandler):
    server_version = "linclass-playground"
    sys_version = ""
    protocol_version = "HTTP/1.1"  # the page's requests reuse one connection
    disable_nagle_algorithm = True  # headers and body leave at once, not 40 ms apart

    def log_message(self, format, *args):
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status, payload, content_type="application/json"):
        data = (
            payload
            if isinstance(payload, bytes)
            else json.dumps(payload, allow_nan=False, separators=(",", ":")).encode()
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in HEADERS.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status, message):
        # a refused request's body may be unread: end the connection rather than read it as
        # the next request
        self.close_connection = True
        self._send(status, {"error": message})

    def _host_ok(self):
        host = (self.headers.get("Host") or "").strip().lower()
        name, _, port = host.rpartition(":")
        if name not in LOOPBACK or port != str(self.server.server_port):
            self._error(
                HTTPStatus.FORBIDDEN,
                "the playground answers only on "
                f"http://127.0.0.1:{self.server.server_port}/ (Host header "
                f"{host[:80]!r} refused).",
            )
            return False
        origin = self.headers.get("Origin")
        if origin is not None and origin not in self.server.origins:
            self._error(
                HTTPStatus.FORBIDDEN,
                f"requests from {origin[:80]!r} are refused: "
                "only the playground's own page may call its API.",
            )
            return False
        return True

    def do_GET(self):
        self.server.touch()
        if not self._host_ok():
            return
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == "/favicon.ico":
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
            return
        if path not in STATIC:
            self._error(HTTPStatus.NOT_FOUND, f"no page {path[:80]!r}: open / instead.")
            return
        name, content_type = STATIC[path]
        data = resources.files(__package__).joinpath("static", name).read_bytes()
        self._send(HTTPStatus.OK, data, content_type)

    do_HEAD = do_GET

    def do_POST(self):
        self.server.touch()
        if not self._host_ok():
            return
        if not self.path.startswith("/api/"):
            self._error(HTTPStatus.NOT_FOUND, "POST only to /api/<call>.")
            return
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind != "application/json":
            self._error(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "send the request as Content-Type: application/json.",
            )
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._error(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is needed.")
            return
        if int(length) > MAX_BODY:
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the request is {int(length):,} bytes; at most {MAX_BODY:,}.",
            )
            return
        try:
            body = json.loads(self.rfile.read(int(length)))
        except (ValueError, RecursionError):
            self._error(HTTPStatus.BAD_REQUEST, "the request body is not valid JSON.")
            return
        status, payload = handle(self.path[len("/api/") :], body)
        try:
            self._send(status, payload)
        except ValueError:  # a number JSON cannot carry: say so, do not send half an answer
            self._error(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "the result holds numbers that are not "
                "finite (the weights blew up): reset, or lower the step size.",
            )

    def do_PUT(self):
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and POST are answered.")

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT


class Playground(ThreadingHTTPServer):
    """The server on 127.0.0.1; ``url`` says where. ``idle_timeout`` seconds with no request
    stop it (None: never)."""

    daemon_threads = True
    allow_reuse_address = False
    thread: threading.Thread  # set by start()

    def __init__(
        self, port: int = 0, verbose: bool = False, idle_timeout: float | None = None
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.verbose = verbose
        self.idle_timeout = idle_timeout
        self.last_request = time.monotonic()
        self.origins = {f"http://{h}:{self.server_port}" for h in LOOPBACK}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/"

    def touch(self) -> None:
        self.last_request = time.monotonic()

    def service_actions(self) -> None:
        if (
            self.idle_timeout is not None
            and time.monotonic() - self.last_request > self.idle_timeout
        ):
            threading.Thread(target=self.shutdown, daemon=True).start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


def start(port: int = 0, verbose: bool = False, idle_timeout: float | None = None) -> Playground:
    """Start a server in a background thread (``.thread``) and return it (``.url``;
    ``.shutdown()`` and ``.server_close()`` stop it)."""
    server = Playground(port, verbose, idle_timeout)
    server.thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        daemon=True,
        name="linclass-playground",
    )
    server.thread.start()
    return server
