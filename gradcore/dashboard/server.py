"""The dashboard's Bokeh server, and ``gradcore dashboard``.

The server is Bokeh's own (Tornado), assembled from its parts so that it can listen on a
port the OS picks (``port=0``) and still know the names it answers to
(:func:`allowed_origins`): the address it serves, ``http://HOST:PORT/gradcore``, and the
names the user allows. A request whose ``Host`` header names anything else is refused (403)
before Bokeh sees it, and a websocket whose ``Origin`` does is refused by Bokeh: another web
site the user visits can neither open the page through a name of its own that resolves to
this machine (DNS rebinding) nor connect to its sessions. Sessions whose page has gone are
destroyed within about :data:`UNUSED_SESSION_MS` + :data:`CHECK_UNUSED_MS` ms; their
training stopped already, when the page's connection closed (:mod:`~gradcore.dashboard.app`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import webbrowser
from collections.abc import Collection, Sequence
from typing import Any, TextIO

from bokeh.application import Application as BokehApplication
from bokeh.application.handlers.function import FunctionHandler
from bokeh.server.server import BaseServer
from bokeh.server.tornado import BokehTornado
from bokeh.server.util import bind_sockets
from tornado.httpserver import HTTPServer
from tornado.httputil import (
    HTTPHeaders,
    HTTPMessageDelegate,
    HTTPServerRequest,
    split_host_and_port,
)
from tornado.ioloop import IOLoop
from tornado.routing import Router
from tornado.web import Application, OutputTransform, RequestHandler

from .app import make_document
from .training import stop_all

__all__ = ["APP_PATH", "DEFAULT_PORT", "UNUSED_SESSION_MS", "CHECK_UNUSED_MS",
           "is_loopback", "page_url", "allowed_origins", "host_allowed", "make_server",
           "serve"]

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


def _has_port(name: str) -> bool:
    return name.rpartition("]")[2].count(":") == 1 if name.startswith("[") else ":" in name


def allowed_origins(host: str, port: int, names: Sequence[str] | None = None) -> list[str]:
    """The ``name:port`` addresses the page may be reached at, sorted.

    The served address itself: ``host``, and for a loopback host also ``localhost`` and
    ``127.0.0.1``; for all interfaces (``0.0.0.0``, ``::``), only ``localhost`` and
    ``127.0.0.1``. Then each of ``names`` (host names or addresses as checked by
    ``gradcore dashboard --allow-origin``), with ``port`` unless it carries its own.
    """
    if _is_wildcard(host):
        served = {"localhost", "127.0.0.1"}
    elif is_loopback(host):
        served = {host, "localhost", "127.0.0.1"}
    else:
        served = {host}
    bracketed = {f"[{n}]" if ":" in n else n for n in served}
    origins = {f"{n}:{port}" for n in bracketed}
    origins |= {n if _has_port(n) else f"{n}:{port}" for n in names or ()}
    return sorted(n.lower() for n in origins)


def host_allowed(host: str, origins: Collection[str]) -> bool:
    """True if a request's ``Host`` header names one of ``origins`` (``name:port``; a
    header without a port means port 80, as in HTTP)."""
    host = host.strip().lower()
    if not host:
        return False
    name, port = split_host_and_port(host)
    return f"{name}:{port or 80}" in origins


class _Refused(RequestHandler):
    """403 and one line of text, for a request whose Host the server does not answer to."""

    def prepare(self) -> None:
        self.set_status(403)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("gradcore dashboard: refused: this server does not answer to the host "
                    "name in the address; 'gradcore dashboard --allow-origin NAME' lets it\n")


class _KnownHostsOnly(Router):
    """Hands a request to the Bokeh application only if its Host header is allowed.

    Every request, the page's and the websocket's included, is checked before any handler
    runs, so a refused one creates no session and starts no training.
    """

    def __init__(self, app: Application, origins: Collection[str]) -> None:
        self._app, self._origins = app, frozenset(origins)

    def find_handler(self, request: HTTPServerRequest,
                     **kwargs: Any) -> HTTPMessageDelegate | None:
        if host_allowed(request.headers.get("Host", ""), self._origins):
            return self._app.find_handler(request, **kwargs)
        return self._app.get_handler_delegate(request, _Refused)


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


def make_server(host: str = "127.0.0.1", port: int = 0, io_loop: IOLoop | None = None, *,
                allow_origin: Sequence[str] | None = None) -> tuple[BaseServer, int]:
    """Start serving the dashboard on ``host:port`` (0: a free port) in ``io_loop``.

    The server answers only to :func:`allowed_origins` of ``host``, the port and
    ``allow_origin``: other ``Host`` headers get 403, other websocket origins are refused.
    Returns the started server and the port it listens on. The loop must run (in this
    thread) for the server to answer. Raises OSError when the address cannot be bound.
    """
    sockets, port = bind_sockets(host, port)
    try:
        origins = allowed_origins(host, port, allow_origin)
        tornado_app = BokehTornado(
            {APP_PATH: BokehApplication(FunctionHandler(make_document))},
            extra_websocket_origins=origins,
            check_unused_sessions_milliseconds=CHECK_UNUSED_MS,
            unused_session_lifetime_milliseconds=UNUSED_SESSION_MS)
        tornado_app.add_transform(_PageNotCached)
        http = HTTPServer(_KnownHostsOnly(tornado_app, origins))
        http.add_sockets(sockets)
    except Exception:
        for s in sockets:
            s.close()
        raise
    server = BaseServer(io_loop or IOLoop.current(), tornado_app, http)
    server.start()
    return server, port


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, open_browser: bool = True,
          allow_origin: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Serve the dashboard until Ctrl-C; the body of ``gradcore dashboard``.

    Prints the page's address (and opens it in the user's browser unless
    ``open_browser`` is false). Any host that is not a loopback address gets a warning:
    anyone who can reach the port can start trainings on this machine's CPU; and a line
    saying which names the server answers to (:func:`allowed_origins` with
    ``allow_origin``).

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
        server, port = make_server(host, port, IOLoop.current(), allow_origin=allow_origin)
    except OSError as exc:
        print(f"gradcore dashboard: error: cannot listen on {host}:{port}: {exc.strerror}",
              file=sys.stderr)
        loop.close()
        return EXIT_FAILURE
    url = page_url(host, port)
    print(f"gradcore dashboard: serving on {url} (Ctrl-C to stop)", file=out, flush=True)
    if allow_origin or not is_loopback(host):
        names = ", ".join(allowed_origins(host, port, allow_origin))
        print(f"gradcore dashboard: answering only to {names} (--allow-origin adds names)",
              file=out, flush=True)
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
