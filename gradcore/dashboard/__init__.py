"""A live dashboard in the browser: each layer's speed of learning while a network trains.

``gradcore dashboard`` (or :func:`serve`) starts a Bokeh server on 127.0.0.1 and opens the
page, which, as soon as the browser has drawn it, trains the book's [784, 30, 30, 30, 10]
on the 1,000 embedded MNIST images (full batch, η = 0.1, λ = 5.0) and shows, several
times a second, every layer's speed of learning on a log scale, the mean ∂C/∂b of the
first six neurons of every hidden layer, the cost, the accuracy and the first/last
hidden-layer speed ratio. The form changes the net and the training; "Keep this run"
overlays a run and starts another beside it. Closing the page stops its run.

Modules:

* :mod:`~gradcore.dashboard.settings` -- :class:`Settings`, the limits, and reading the
  page's form (no web framework needed);
* :mod:`~gradcore.dashboard.training` -- :func:`run_training`, the plain function a run
  executes, and :class:`TrainingRun`, its thread (no web framework needed);
* :mod:`~gradcore.dashboard.figures`, :mod:`~gradcore.dashboard.controls`,
  :mod:`~gradcore.dashboard.app` -- the page, in Bokeh;
* :mod:`~gradcore.dashboard.server` -- the server and :func:`serve`.

The page needs the ``dashboard`` extra (``pip install "gradcore[dashboard]"``: Bokeh).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from .._validation import validated
from .settings import LIMITS, Limits, Settings, SettingsError, parse_settings
from .training import TrainingRun, run_training

__all__ = ["LIMITS", "Limits", "Settings", "SettingsError", "parse_settings", "run_training",
           "TrainingRun", "serve", "main"]


@validated("dashboard.serve")
def serve(host: str = "127.0.0.1", port: int = 5006, *, open_browser: bool = True,
          allow_origin: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Serve the dashboard until Ctrl-C (see :func:`gradcore.dashboard.server.serve`).

    ``allow_origin``: host names or addresses (optionally ``name:port``) the server answers
    to besides its own address; see :func:`gradcore.dashboard.server.allowed_origins`.
    """
    from .server import serve as _serve

    return _serve(host, port, open_browser=open_browser, allow_origin=allow_origin, out=out)


@validated("dashboard.main")
def main(host: str, port: int, open_browser: bool,
         allow_origin: Sequence[str] | None = None) -> int:
    """``gradcore dashboard``: :func:`serve`, or status 1 with a hint when Bokeh is missing."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        print("gradcore dashboard: error: the dashboard needs Bokeh: "
              "pip install \"gradcore[dashboard]\"", file=sys.stderr)
        return 1
    return serve(host, port, open_browser=open_browser, allow_origin=allow_origin)
