"""The dashboard's Bokeh server, and ``gradcore dashboard``.

The server is Bokeh's own (Tornado), assembled from its parts so that it can listen on a
port the OS picks (``port=0``) and still accept websocket connections from exactly the
address it serves: ``http://HOST:PORT/gradcore``. Sessions whose page has gone are
destroyed within about :data:`UNUSED_SESSION_MS` + :data:`CHECK_UNUSED_MS` ms, which
stops their training.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import webbrowser
from typing import TextIO

from bokeh.application import Application
from bokeh.application.handlers.function import FunctionHandler
from bokeh.server.server import BaseServer
from bokeh.server.tornado import BokehTornado
from bokeh.server.util import bind_sockets
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.ioloop import IOLoop
from tornado.web import OutputTransform

from .app import make_document
from .training import stop_all

__all__ = ["APP_PATH", "DEFAULT_PORT", "UNUSED_SESSION_MS", "CHECK_UNUSED_MS",
           "is_loopback", "page_url", "make_server", "serve"]

APP_PATH = "/gradcore"
DEFAULT_PORT = 5006
#: A session without a connection for this long is destroyed (and its training stopped).
UNUSED_SESSION_MS = 3000
#: How often the server looks for such sessions.
CHECK_UNUSED_MS = 1000

EXIT_OK, EXIT_FAILURE, EXIT_INTERRUPTED = 0, 1, 130


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    return host in ("", "0.0.0.0", "::")


def page_url(host: str, port: int) -> str:
    """The page's address; for an all-interfaces host, the one on this machine."""
    shown = "127.0.0.1" if _is_wildcard(host) else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}{APP_PATH}"


def _origins(host: str, port: int) -> list[str]:
    """Websocket origins accepted: the served address (any name, if serving all of them)."""
    if _is_wildcard(host):
        return [f"*:{port}"]
    names = {host, "localhost", "127.0.0.1"} if is_loopback(host) else {host}
    return [f"[{name}]:{port}" if ":" in name else f"{name}:{port}" for name in sorted(names)]


class _PageNotCached(OutputTransform):
    """``Cache-Control: no-store`` on the page itself (not on Bokeh's static files).

    A browser keeps a page it navigates away from in its back/forward cache, websocket
    open, unless the page may not be stored: without this, leaving the page in the same
    tab would not end its session, and its training would go on unseen.
    """

    def __init__(self, request: HTTPServerRequest) -> None:
        self._page = request.path.rstrip("/") == APP_PATH

    def transform_first_chunk(self, status_code: int, headers: HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, HTTPHeaders, bytes]:
        if self._page:
            headers["Cache-Control"] = "no-store"
        return status_code, headers, chunk


def make_server(host: str = "127.0.0.1", port: int = 0,
                io_loop: IOLoop | None = None) -> tuple[BaseServer, int]:
    """Start serving the dashboard on ``host:port`` (0: a free port) in ``io_loop``.

    Returns the started server and the port it listens on. The loop must run (in this
    thread) for the server to answer. Raises OSError when the address cannot be bound.
    """
    sockets, port = bind_sockets(host, port)
    try:
        tornado_app = BokehTornado(
            {APP_PATH: Application(FunctionHandler(make_document))},
            extra_websocket_origins=_origins(host, port),
            check_unused_sessions_milliseconds=CHECK_UNUSED_MS,
            unused_session_lifetime_milliseconds=UNUSED_SESSION_MS)
        tornado_app.add_transform(_PageNotCached)
        http = HTTPServer(tornado_app)
        http.add_sockets(sockets)
    except Exception:
        for s in sockets:
            s.close()
        raise
    server = BaseServer(io_loop or IOLoop.current(), tornado_app, http)
    server.start()
    return server, port


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, open_browser: bool = True,
          out: TextIO | None = None) -> int:
    """Serve the dashboard until Ctrl-C; the body of ``gradcore dashboard``.

    Prints the page's address (and opens it in the user's browser unless
    ``open_browser`` is false). Any host that is not a loopback address gets a warning:
    anyone who can reach the port can start trainings on this machine's CPU.

    Returns
    -------
    int
        130 after Ctrl-C (every training stopped), 1 if the address cannot be bound.
    """
    out = out or sys.stdout
    if not is_loopback(host):
        print(f"gradcore dashboard: warning: --host {host} is not a loopback address: "
              f"anyone who can reach the port can use this machine's CPU", file=sys.stderr,
              flush=True)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        server, port = make_server(host, port, IOLoop.current())
    except OSError as exc:
        print(f"gradcore dashboard: error: cannot listen on {host}:{port}: {exc.strerror}",
              file=sys.stderr)
        loop.close()
        return EXIT_FAILURE
    url = page_url(host, port)
    print(f"gradcore dashboard: serving on {url} (Ctrl-C to stop)", file=out, flush=True)
    if open_browser:
        loop.call_soon(webbrowser.open, url)
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        print("\ngradcore dashboard: stopped", file=out, flush=True)
    finally:
        server.stop()
        stop_all()
        loop.close()
        asyncio.set_event_loop(None)
    return EXIT_INTERRUPTED
