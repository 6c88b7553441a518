"""The playground: a local web page where a linear classifier, its loss and its circuit move
as you drag.

``linclass playground`` (or ``serve()``) serves it on 127.0.0.1; ``show()`` puts it in a
notebook. Every number on the page is computed here, in Python, by linclass's own losses,
optimizers, gradient checks and graph engine (``lab``, ``circuits``); the page's script only
draws and sends the state back (``server``). See the documentation's playground page
(docs/playground.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import Playground

__all__ = ["serve", "show", "start"]

_shown = None  # the notebook's server, started once


def start(port: int = 0, verbose: bool = False, idle_timeout: float | None = None) -> Playground:
    """Start the server in a background thread; returns it (``.url``, ``.shutdown()``)."""
    from .server import start as _start

    return _start(port, verbose, idle_timeout)


def serve(
    port: int = 0,
    open_browser: bool = False,
    verbose: bool = False,
    idle_timeout: float | None = None,
    announce: Callable[[str], object] = print,
) -> Playground:
    """Serve the playground until interrupted (Ctrl-C or SIGTERM) or idle for
    ``idle_timeout`` seconds."""
    import signal
    import threading

    from .server import Playground

    server = Playground(port, verbose, idle_timeout)
    announce(server.url)
    if open_browser:
        import webbrowser

        webbrowser.open(server.url)
    main = threading.current_thread() is threading.main_thread()
    if main:  # SIGTERM (kill, a service manager) stops it as cleanly as Ctrl-C
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if main:
            signal.signal(signal.SIGTERM, previous)
    return server


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def show(width: str | int = "100%", height: int = 900, query: str = "") -> Any:
    """Show the playground inline in a Jupyter notebook (the server starts once, on a free
    port). ``query`` is a state string as in the page's URL, e.g. ``"loss=softmax&hide=circuit"``.
    Without IPython it returns the URL."""
    global _shown
    if _shown is None:
        _shown = start()
    url = _shown.url + (f"#{query}" if query else "")
    try:
        from IPython.display import IFrame
    except ImportError:
        return url
    return IFrame(url, width=width, height=height)
