"""The dashboard in a real browser: headless Chromium driven by Selenium.

The dashboard's Bokeh server runs in this process, in a thread with its own event loop, on a
free port of 127.0.0.1, so the tests can see its training threads. Every page is checked for
errors in the browser console, and the server's log for warnings and errors. The command
line (``gradcore dashboard --no-browser``) is tested in a child process.

These tests skip only when chromium or chromedriver is missing (Debian:
``apt-get install chromium chromium-driver``). Every wait has a generous limit: they check
what the page shows, not how fast. With ``GRADCORE_DASHBOARD_SCREENSHOT=path`` set, the
screenshot test writes its picture there as well (``docs/dashboard.png`` is made so).
"""

from __future__ import annotations

import asyncio
import base64
import html
import http.client
import itertools
import logging
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from tornado.ioloop import IOLoop

from gradcore.dashboard import server as server_module
from gradcore.dashboard import training
from gradcore.dashboard.server import (
    APP_PATH,
    allowed_origins,
    host_allowed,
    is_loopback,
    make_server,
    page_url,
)
from gradcore.dashboard.settings import (
    ACTIVATION_CHOICES,
    COST_CHOICES,
    INIT_CHOICES,
    LIMITS,
    NESTEROV_CHOICES,
    SCHEDULE_CHOICES,
)

WAIT = 120.0  # seconds for anything the page should do; it takes a few at most
# seconds for the book's run (500 epochs, about 3 s alone): the training threads yield the
# CPU to the server and the browser, so on one core shared with a busy process they get
# about a tenth of it
RUN_WAIT = 400.0

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")

# the deepest Bokeh element of the given CSS class (a widget's host), or the element
# matching the selector inside its shadow root: Bokeh draws every widget in a shadow DOM
FIND = """
const [cls, inner] = arguments;
function find(root) {
  const hit = root.querySelector('.' + cls);
  if (hit) return hit;
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) { const f = find(el.shadowRoot); if (f) return f; }
  }
  return null;
}
const host = find(document);
if (!host || !inner) return host;
return host.shadowRoot ? host.shadowRoot.querySelector(inner) : host.querySelector(inner);
"""

# what the browser's Bokeh document holds: the current run's points and visible curves
STATE = """
const doc = window.Bokeh && Bokeh.documents.length ? Bokeh.documents[0] : null;
if (!doc) return null;
const m = (name) => doc.get_model_by_name(name);
const src = m('current-epochs');
if (!src) return null;
const hidden = [];
for (let j = 1; j <= 8; j++) {
  const col = Array.from(src.data['hidden_' + j]);
  hidden.push({visible: m('current-speed-hidden_' + j).visible,
               finite: col.some(Number.isFinite)});
}
const kept = [1, 2, 3].map((i) => m('kept' + i + '-epochs').data.epoch.length);
return {points: src.data.epoch.length, hidden: hidden, kept: kept,
        output: m('current-speed-output').visible, message: m('message').text,
        ratio: m('ratio').text, runs: m('runs').text,
        bars: m('current-bars').data.top.length};
"""

# the theory's lines at initialisation: per hidden layer, visible, dash pattern and values
THEORY = """
const doc = Bokeh.documents[0];
const src = doc.get_model_by_name('current-theory');
const out = [];
for (let j = 1; j <= 8; j++) {
  const r = doc.get_model_by_name('current-theory-hidden_' + j);
  out.push({visible: r.visible, dash: JSON.stringify(r.glyph.line_dash),
            values: Array.from(src.data['hidden_' + j] || [])});
}
return out;
"""


# ------------------------------------------------------------------ fixtures


# What Bokeh's server logs when a page closes while an update to it is under way: the
# connection is gone before the server has noticed. Not a fault; anything else is.
_PAGE_GONE = "Failed sending message as connection was closed"


class ServerLog(logging.Handler):
    """Warnings and errors logged by one server's thread while the server runs."""

    def __init__(self, thread: str) -> None:
        super().__init__(logging.WARNING)
        self.thread = thread
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName == self.thread:
            self.records.append(record)

    def problems(self) -> list[str]:
        """The messages logged since the last call, but for a page closing mid-update."""
        found = [f"{r.name}: {r.getMessage()}" for r in self.records
                 if r.getMessage() != _PAGE_GONE]
        self.records.clear()
        return found


class Server:
    """The dashboard's server running in a thread of this process (``make_server``'s
    arguments: a free port of 127.0.0.1 unless told)."""

    _count = itertools.count(1)

    def __init__(self, host: str = "127.0.0.1", **kwargs: Any) -> None:
        self._host, self._kwargs = host, kwargs
        self._ready = threading.Event()
        name = f"dashboard-test-server-{next(self._count)}"
        self.log = ServerLog(name)
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def _serve(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.bokeh, self.port = make_server(self._host, 0, IOLoop.current(), **self._kwargs)
        self._ready.set()
        self.loop.run_forever()
        self.bokeh.stop()
        self.loop.close()

    #: the loggers whose warnings the tests read (the refusals), each set to WARNING while a
    #: server runs: importing dask.distributed, as other tests do, sets "tornado" to
    #: CRITICAL and "bokeh" to ERROR, which would hide them
    READ = ("tornado.access", "bokeh.server.views.ws")

    def start(self) -> None:
        logging.getLogger().addHandler(self.log)
        self._levels = {n: logging.getLogger(n).level for n in self.READ}
        for n in self.READ:
            logging.getLogger(n).setLevel(logging.WARNING)
        self._thread.start()
        assert self._ready.wait(WAIT), "the server did not start"
        self.url = f"http://127.0.0.1:{self.port}/gradcore"

    def sessions(self) -> list[Any]:
        """The page sessions the server holds (not yet destroyed)."""
        done = threading.Event()
        found: list[Any] = []

        def read() -> None:  # in the server's loop, which owns the sessions
            found.extend(self.bokeh.get_sessions(APP_PATH))
            done.set()

        self.loop.call_soon_threadsafe(read)
        assert done.wait(WAIT)
        return found

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(WAIT)
        logging.getLogger().removeHandler(self.log)
        for n, level in self._levels.items():
            logging.getLogger(n).setLevel(level)
        assert not self._thread.is_alive()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """The dashboard's server on a free port of 127.0.0.1."""
    s = Server()
    s.start()
    try:
        yield s
    finally:
        s.stop()
    assert training.stop_all(WAIT) and training.live_runs() == []
    assert not s.log.problems()


@pytest.fixture(scope="module")
def browser(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium (skips if chromium or chromedriver is missing)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("the dashboard's browser tests need chromium and chromedriver on PATH "
                    "(Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1150",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # not the sanitizer runtimes a test run may preload into Python (tools/sanitize.sh)
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER, env=env)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The dashboard open in a new tab of the browser."""

    def __init__(self, driver: Any, url: str) -> None:
        self.driver = driver
        self.home = driver.current_window_handle
        driver.switch_to.new_window("tab")
        self.tab = driver.current_window_handle
        driver.get(url)
        self.wait(lambda s: s["points"] > 0, "the page shows the first points")

    def state(self) -> dict[str, Any] | None:
        self.driver.switch_to.window(self.tab)
        state: dict[str, Any] | None = self.driver.execute_script(STATE)
        return state

    def wait(self, predicate: Callable[[dict[str, Any]], bool], what: str,
             timeout: float = WAIT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if state is not None and predicate(state):
                return state
            if time.monotonic() > deadline:
                pytest.fail(f"not within {timeout} s: {what} (page state: {state})")
            time.sleep(0.1)

    def element(self, cls: str, inner: str | None = None) -> Any:
        self.driver.switch_to.window(self.tab)
        el = self.driver.execute_script(FIND, cls, inner)
        assert el is not None, f"no element .{cls} {inner or ''} on the page"
        return el

    def type(self, field: str, text: str) -> None:
        box = self.element(f"gc-{field}", "input")
        # a field enabled by another one (the weight scale by the initialisation) becomes
        # usable only once the server's answer reached the page: wait for it, as a user would
        _wait_until(lambda: box.is_enabled() and box.is_displayed(), f"{field} is usable")
        box.clear()
        box.send_keys(text, Keys.ENTER)

    def choose(self, field: str, value: str) -> None:
        label = dict({"init": INIT_CHOICES, "cost": COST_CHOICES,
                      "activation": ACTIVATION_CHOICES, "nesterov": NESTEROV_CHOICES,
                      "schedule": SCHEDULE_CHOICES}[field])[value]
        Select(self.element(f"gc-{field}", "select")).select_by_visible_text(label)

    def click(self, button: str) -> None:
        self.element(f"gc-{button}", "button").click()

    def shown_text(self, cls: str) -> str:
        text: str = self.driver.execute_script(
            "const el = arguments[0]; return (el.shadowRoot || el).textContent;",
            self.element(cls))
        return text

    def console_errors(self) -> list[dict[str, Any]]:
        """Errors in the browser's console since the last call (any tab)."""
        return [e for e in self.driver.get_log("browser")
                if e["level"] in ("SEVERE", "ERROR")]

    def close(self) -> None:
        """Close the page's tab (again: nothing)."""
        if self.tab in self.driver.window_handles:
            self.driver.switch_to.window(self.tab)
            self.driver.close()
        self.driver.switch_to.window(self.home)


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Page]:
    """A fresh page; afterwards its console and the server's log must hold no errors, and
    its run must end once it is closed."""
    browser.get_log("browser")  # forget earlier pages' messages
    p = Page(browser, server.url)
    yield p
    errors = p.console_errors()
    p.close()
    assert not errors, errors
    _wait_until(lambda: not training.live_runs(), "the page's training ended after it closed")
    assert not server.log.problems()


def _wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def _visible_hidden(state: dict[str, Any]) -> int:
    return sum(h["visible"] for h in state["hidden"])


def _start_long_run(page: Page, hidden: int = 8) -> training.TrainingRun:
    """Start a run that takes minutes (8 hidden layers of 100, 5000 epochs); return it."""
    page.type("hidden", str(hidden))
    page.type("width", "100")
    page.type("epochs", "5000")
    page.click("start")
    page.wait(lambda s: _visible_hidden(s) == hidden, f"{hidden} hidden-layer curves")
    runs = [r for r in training.live_runs() if r.settings.width == 100]
    assert len(runs) == 1
    return runs[0]


# ------------------------------------------------------------------ the page


def test_the_page_comes_alive_with_the_books_run(page: Page):
    state = page.wait(lambda s: s["bars"] == 18, "bars of six neurons of three layers")
    assert _visible_hidden(state) == 3 and state["output"]
    assert [h["finite"] for h in state["hidden"]] == [True] * 3 + [False] * 5
    assert state["message"] == "" and state["kept"] == [0, 0, 0]
    state = page.wait(lambda s: "slower than hidden layer 3" in s["ratio"], "the ratio")
    assert "[784,30,30,30,10] default init, η = 0.1, λ = 5, full batch" in state["runs"]
    assert "slower than hidden layer 3" in page.shown_text("gc-ratio")
    assert "Limits: 1–8 hidden layers of 1–100 neurons" in page.shown_text("gc-limits")


def test_the_speed_plot_gains_points_over_time(page: Page):
    _start_long_run(page)
    seen = [page.wait(lambda s: s["points"] > 0, "the first points")["points"]]
    for _ in range(2):
        seen.append(page.wait(lambda s: s["points"] > seen[-1], "more points")["points"])
    assert seen == sorted(set(seen))


def test_six_hidden_layers_show_six_curves(page: Page):
    page.type("hidden", "6")
    page.click("start")
    state = page.wait(lambda s: _visible_hidden(s) == 6 and s["points"] > 0
                      and s["hidden"][5]["finite"], "six hidden-layer curves with points")
    assert [h["visible"] for h in state["hidden"]] == [True] * 6 + [False] * 2
    assert not state["hidden"][6]["finite"] and state["output"]
    state = page.wait(lambda s: s["bars"] == 36, "bars of six neurons of six layers")
    assert "slower than hidden layer 6" in page.wait(
        lambda s: "hidden layer 6" in s["ratio"], "the ratio of six layers")["ratio"]


def test_a_refused_value_shows_its_message_and_the_run_goes_on(page: Page):
    page.type("width", "500")
    page.type("eta", "fast")
    page.click("start")
    state = page.wait(lambda s: s["message"] != "", "a message")
    assert html.escape("Neurons per hidden layer (1–100) must be <= 100, got 500") in state[
        "message"]
    assert html.escape("must be a finite number > 0 and <= 100, got 'fast'") in state[
        "message"]
    shown = page.shown_text("gc-message")
    assert "must be <= 100, got 500" in shown and "got 'fast'" in shown
    assert _visible_hidden(state) == 3  # still the book's run
    page.type("width", "20")
    page.type("eta", "0.5")
    page.type("hidden", "2")
    page.click("start")
    page.wait(lambda s: s["message"] == "" and _visible_hidden(s) == 2, "the message goes")


def test_a_diverging_run_says_why_it_ended(page: Page):
    page.choose("init", "scale")
    for field, text in (("scale", "1000"), ("eta", "100"), ("lmbda", "1000"),
                        ("images", "100"), ("epochs", "300")):
        page.type(field, text)
    page.click("start")
    state = page.wait(lambda s: "diverged" in s["message"], "the divergence message")
    assert "Try a smaller η, λ or weight scale" in state["message"]
    assert "diverged" in page.wait(lambda s: "diverged" in s["runs"], "the run's state")["runs"]
    page.type("epochs", "0")
    page.click("start")
    page.wait(lambda s: html.escape("Epochs (1–5000) must be >= 1, got 0") in s["message"]
              and "diverged" not in s["message"], "the refusal replaces it")


def test_closing_the_page_stops_its_paused_training(page: Page):
    run = _start_long_run(page)
    page.click("pause")
    _wait_until(lambda: run.feed.state == "paused", "the run pauses")
    done = run.feed.epochs_done
    page.wait(lambda s: "paused" in s["ratio"], "the page says paused")
    assert run.alive and run.feed.epochs_done == done
    page.close()
    _wait_until(lambda: not run.alive, "the training thread ended after the page closed")
    assert run.feed.state == "stopped"
    assert run.name not in {t.name for t in threading.enumerate()}


def test_closing_the_page_stops_its_running_training(page: Page):
    run = _start_long_run(page)
    page.close()
    _wait_until(lambda: not run.alive, "the training thread ended after the page closed")
    assert run.feed.state == "stopped" and run.feed.epochs_done < 5000


def test_two_tabs_have_their_own_runs(page: Page, browser: Any, server: Server):
    page.type("hidden", "2")
    page.click("start")
    page.wait(lambda s: _visible_hidden(s) == 2, "two curves in the first tab")
    other = Page(browser, server.url)
    try:
        other.type("hidden", "5")
        other.click("start")
        other.wait(lambda s: _visible_hidden(s) == 5, "five curves in the second tab")
        assert _visible_hidden(page.wait(lambda s: True, "the first tab's state")) == 2
        assert not other.console_errors()
    finally:
        other.close()


def test_leaving_the_page_in_its_tab_stops_its_training(page: Page):
    run = _start_long_run(page)
    page.driver.get("about:blank")  # the page may not stay in the back/forward cache
    _wait_until(lambda: not run.alive, "the training thread ended after the page was left")
    assert run.feed.state == "stopped"


def test_keep_this_run_overlays_it_beside_a_new_one(page: Page):
    page.type("epochs", "40")
    page.click("start")
    # 40 points alone can be the page's first run passing epoch 40 before the server has
    # started the new one (seen under ASan): wait for the 40-epoch run's own row
    page.wait(lambda s: s["points"] == 40 and "<td>40 / 40</td><td>finished</td>" in s["runs"],
              "the first run's 40 epochs, finished")
    page.choose("init", "large")
    page.click("keep")
    state = page.wait(lambda s: s["kept"][0] == 40 and "kept 1" in s["runs"], "a kept run")
    assert "large init" in page.wait(lambda s: "large init" in s["runs"], "the new run")["runs"]
    assert state["kept"][1:] == [0, 0]
    page.click("reset")
    page.wait(lambda s: s["kept"] == [0, 0, 0] and "kept 1" not in s["runs"],
              "reset forgets the kept run")


def test_relu_and_he_are_labelled_and_the_theory_is_drawn_dashed(page: Page):
    page.choose("activation", "relu")
    page.choose("init", "he")
    page.type("momentum", "0.9")
    page.choose("nesterov", "yes")
    page.type("epochs", "60")
    page.click("start")
    state = page.wait(lambda s: "relu, he init" in s["runs"] and s["points"] > 0
                      and "theory at initialisation" in s["ratio"],
                      "the relu + he run, labelled, with the theory's ratio")
    assert "[784,30,30,30,10] relu, he init, η = 0.1, λ = 5, full batch, Nesterov 0.9" \
        in html.unescape(state["runs"])
    lines = page.driver.execute_script(THEORY)
    assert [line["visible"] for line in lines] == [True] * 3 + [False] * 5
    for line in lines[:3]:
        assert "10" in line["dash"] and "5" in line["dash"]  # long dashes
        (a, b) = line["values"]
        assert a == b and a > 0  # a level line: the speed predicted at initialisation
    predicted = [line["values"][0] for line in lines[:3]]
    # ReLU with He's weights is at its critical point: the three layers alike, within the
    # sampling of 30 x 30 weights
    assert max(predicted) / min(predicted) < 1.3
    # anchored at the measured speed of the last hidden layer at epoch 0
    first = page.driver.execute_script(
        "return Bokeh.documents[0].get_model_by_name('current-epochs').data.hidden_3[0];")
    assert predicted[2] == pytest.approx(first, rel=1e-9)


def test_screenshot(page: Page, browser: Any, tmp_path: pathlib.Path):
    """The README's picture: the book's run kept beside the same net with large weights."""
    browser.set_window_size(1280, 1250)
    page.wait(lambda s: s["points"] == 500, "the book's run finished", RUN_WAIT)
    page.choose("init", "large")
    page.click("keep")
    page.wait(lambda s: s["kept"][0] == 500 and s["points"] == 500, "the second run done",
              RUN_WAIT)
    time.sleep(1.0)  # let the last frame draw
    path = tmp_path / "dashboard.png"
    assert browser.save_screenshot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = os.environ.get("GRADCORE_DASHBOARD_SCREENSHOT")
    if target:
        shutil.copyfile(path, target)


# ------------------------------------------------------------------ who may start a run


def _get(port: int, host: str, path: str = APP_PATH,
         headers: dict[str, str] | None = None) -> tuple[int, str]:
    """GET ``path`` from 127.0.0.1:``port`` with the Host header ``host``: status and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _websocket(port: int, origin: str) -> int:
    """Open the websocket of a fresh page session as a browser on ``origin`` would (the
    Host header the served address): the status of the handshake, 101 if accepted."""
    status, page = _get(port, f"127.0.0.1:{port}")
    assert status == 200
    token = re.search(r'"token":"([^"]+)"', page)
    assert token, page[-500:]
    status, _ = _get(port, f"127.0.0.1:{port}", f"{APP_PATH}/ws", {
        "Upgrade": "websocket", "Connection": "Upgrade", "Origin": origin,
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Protocol": f"bokeh, {token.group(1)}"})
    return status


def _only_refusals(problems: list[str]) -> bool:
    """The server logged nothing but refused requests (403) and refused websockets."""
    return all(re.match(r"tornado\.access: 403 GET ", p)
               or p.startswith("bokeh.server.views.ws: Refusing websocket connection")
               for p in problems)


def test_requests_for_the_page_start_no_training_until_a_browser_draws_it(
        browser: Any, server: Server):
    """A GET alone (another web site's link, image or script, a prefetch) builds a session
    but starts no run: more of them than the server has room for leave a page drawn in a
    browser its own run."""
    for _ in range(LIMITS.max_runs + 2):
        status, body = _get(server.port, f"127.0.0.1:{server.port}")
        assert status == 200 and "bokeh" in body.lower()
        assert training.live_runs() == []
    browser.get_log("browser")
    page = Page(browser, server.url)  # waits for the page's first points: its run started
    try:
        state = page.wait(lambda s: "[784,30,30,30,10]" in s["runs"], "the book's run")
        assert state["message"] == ""
        assert len(training.live_runs()) <= 1
        assert not page.console_errors()
    finally:
        page.close()
    _wait_until(lambda: not training.live_runs(), "the page's training ended after it closed")
    assert not server.log.problems()


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1.evil.example:{port}",
                                  "localhost:{other}", "127.0.0.1", ""])
def test_a_request_naming_another_host_is_refused_and_starts_nothing(server: Server,
                                                                     host: str):
    """DNS rebinding: a foreign name that resolves to this machine reaches the port, but
    the browser says the name in the Host header, and the server refuses it."""
    host = host.format(port=server.port, other=server.port + 1)
    for path in (APP_PATH, f"{APP_PATH}/ws", "/static/js/bokeh.min.js"):
        status, body = _get(server.port, host, path)
        assert status == 403 and "--allow-origin" in body, (path, status)
    assert training.live_runs() == []
    for allowed in (f"localhost:{server.port}", f"LocalHost:{server.port}"):
        assert _get(server.port, allowed)[0] == 200
    assert training.live_runs() == []
    # the server logs a request after answering it: these lines are in by the next answer
    problems = server.log.problems()
    assert len(problems) == 3 and _only_refusals(problems), problems


@pytest.mark.parametrize("allow, allowed, refused", [
    (None, ["127.0.0.1", "localhost"], ["evil.example", "dash.example", "192.168.1.5"]),
    (["dash.example", "192.168.1.5"], ["127.0.0.1", "localhost", "dash.example",
                                       "192.168.1.5"], ["evil.example", "dash.example.evil"]),
])
def test_serving_all_interfaces_answers_only_to_the_names_allowed(allow, allowed, refused):
    """--host 0.0.0.0: the page and its websocket only for localhost, 127.0.0.1 and the
    names given (--allow-origin), not for whatever name a request brings."""
    s = Server("0.0.0.0", **({} if allow is None else {"allow_origin": allow}))
    s.start()
    try:
        for name in allowed:
            assert _get(s.port, f"{name}:{s.port}")[0] == 200, name
            assert _websocket(s.port, f"http://{name}:{s.port}") == 101, name
        assert s.log.problems() == []
        for name in refused:
            assert _get(s.port, f"{name}:{s.port}")[0] == 403, name
            assert _websocket(s.port, f"http://{name}:{s.port}") == 403, name
        problems = s.log.problems()
        assert _only_refusals(problems), problems
        for name in refused:
            assert any(f"from Origin 'http://{name}:{s.port}'" in p for p in problems), name
        assert training.live_runs() == []
    finally:
        s.stop()
    assert _only_refusals(s.log.problems())  # the access log's last lines


def test_closing_the_page_stops_its_run_as_its_connection_closes(browser: Any,
                                                                 monkeypatch):
    """The run stops when the page's websocket closes, not when the server destroys the
    page's session, which it does only some time later: here sessions would outlive their
    page by ten minutes, and the run stops while its session is still there."""
    monkeypatch.setattr(server_module, "UNUSED_SESSION_MS", 600_000)
    s = Server()
    s.start()
    try:
        page = Page(browser, s.url)
        run = _start_long_run(page)
        page.close()
        _wait_until(lambda: run.stopping and not run.alive,
                    "the training thread ended after the page closed")
        assert run.feed.state == "stopped" and run.feed.epochs_done < 5000
        (session,) = s.sessions()
        assert session.connection_count == 0 and not session.destroyed
    finally:
        s.stop()
    assert not s.log.problems()


# ------------------------------------------------------------------ the command line


def _command(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "gradcore", "dashboard", *args],
                            cwd=pathlib.Path(__file__).parent, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_command_prints_the_address_serves_and_stops_on_ctrl_c():
    proc = _command("--no-browser", "--port", "0")
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        match = re.search(r"http://127\.0\.0\.1:(\d+)/gradcore", line)
        assert match, line
        with urllib.request.urlopen(match.group(0), timeout=WAIT) as r:
            assert r.status == 200 and b"bokeh" in r.read().lower()
        root = f"http://127.0.0.1:{match.group(1)}/"
        with urllib.request.urlopen(root, timeout=WAIT) as r:
            assert r.url.endswith("/gradcore")
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "stopped" in out and err == ""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_command_on_all_interfaces_answers_to_loopback_and_the_names_given():
    proc = _command("--no-browser", "--host", "0.0.0.0", "--port", "0",
                    "--allow-origin", "Dash.Example,proxy.example:8443",
                    "--allow-origin", "[::1]")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/gradcore", line)
        assert match, line
        port = int(match.group(1))
        names = proc.stdout.readline()
        assert names.strip() == (
            f"gradcore dashboard: answering only to 127.0.0.1:{port}, [::1]:{port}, "
            f"dash.example:{port}, localhost:{port}, proxy.example:8443 "
            f"(--allow-origin adds names)")
        for host, status in ((f"dash.example:{port}", 200), ("proxy.example:8443", 200),
                             (f"localhost:{port}", 200), (f"evil.example:{port}", 403),
                             (f"proxy.example:{port}", 403)):
            assert _get(port, host)[0] == status, host
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "--host 0.0.0.0 is not a loopback address" in err and "Traceback" not in err


def test_command_help_names_the_hosts_allowed_by_default():
    proc = subprocess.run([sys.executable, "-m", "gradcore", "dashboard", "--help"],
                          cwd=pathlib.Path(__file__).parent, capture_output=True, text=True,
                          timeout=WAIT, check=True)
    text = " ".join(proc.stdout.split())
    assert "--allow-origin NAMES" in text
    assert "With --host 0.0.0.0 the default is localhost and 127.0.0.1 only" in text


@pytest.mark.parametrize("value", ["*", "*:5006", "*.example", "http://dash.lan", "dash.lan/x",
                                   "dash.lan:0", "dash.lan:65536", "dash.lan:", "-dash.lan",
                                   "a..b", "[::1", "[zz::1]", "[::1]5006", "", "dash lan"])
def test_command_refuses_an_origin_that_names_no_host(value):
    proc = _command("--no-browser", "--port", "0", f"--allow-origin={value}")
    _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 2, err
    assert "allow_origin must be a host name or IP address, optionally with :PORT" in err
    assert repr(value) in err


def test_serve_checks_its_origins_before_listening():
    from gradcore import dashboard

    with pytest.raises(ValueError, match=r"allow_origin\[1\] must be a host name .* got '\*'"):
        dashboard.serve("127.0.0.1", 0, open_browser=False, allow_origin=["dash.lan", "*"])
    with pytest.raises(TypeError, match="allow_origin must be None or a non-empty sequence"):
        dashboard.serve("127.0.0.1", 0, open_browser=False, allow_origin="dash.lan")


def test_command_warns_about_any_other_host_and_reports_a_bad_address():
    # TEST-NET-1 is on no interface of this machine: the warning, then a clean failure
    proc = _command("--no-browser", "--host", "192.0.2.1", "--port", "0")
    _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 1
    assert "anyone who can reach the port can use this machine's CPU" in err
    assert "cannot listen on 192.0.2.1" in err and "Traceback" not in err


def test_command_refuses_a_bad_port():
    proc = _command("--port", "70000")
    _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 2 and "must be <= 65535" in err


def test_without_bokeh_the_command_says_what_to_install(monkeypatch, capsys):
    from gradcore import dashboard

    monkeypatch.setitem(sys.modules, "bokeh", None)  # import bokeh raises ImportError
    assert dashboard.main("127.0.0.1", 0, False) == 1
    assert 'pip install "gradcore[dashboard]"' in capsys.readouterr().err


@pytest.mark.parametrize("host, loopback, url", [
    ("127.0.0.1", True, "http://127.0.0.1:5006/gradcore"),
    ("localhost", True, "http://localhost:5006/gradcore"),
    ("127.0.0.2", True, "http://127.0.0.2:5006/gradcore"),
    ("::1", True, "http://[::1]:5006/gradcore"),
    ("0.0.0.0", False, "http://127.0.0.1:5006/gradcore"),
    ("192.0.2.1", False, "http://192.0.2.1:5006/gradcore"),
    ("example.org", False, "http://example.org:5006/gradcore"),
])
def test_loopback_hosts_and_page_addresses(host, loopback, url):
    assert is_loopback(host) is loopback
    assert page_url(host, 5006) == url


@pytest.mark.parametrize("host, names, origins", [
    ("127.0.0.1", None, ["127.0.0.1:5006", "localhost:5006"]),
    ("127.0.0.2", None, ["127.0.0.1:5006", "127.0.0.2:5006", "localhost:5006"]),
    ("::1", None, ["127.0.0.1:5006", "[::1]:5006", "localhost:5006"]),
    ("0.0.0.0", None, ["127.0.0.1:5006", "localhost:5006"]),
    ("::", None, ["127.0.0.1:5006", "localhost:5006"]),
    ("192.0.2.1", None, ["192.0.2.1:5006"]),
    ("0.0.0.0", ["dash.lan", "proxy.example:443", "[fe80::1]", "[fe80::1]:8080"],
     ["127.0.0.1:5006", "[fe80::1]:5006", "[fe80::1]:8080", "dash.lan:5006",
      "localhost:5006", "proxy.example:443"]),
])
def test_the_names_a_server_answers_to(host, names, origins):
    assert allowed_origins(host, 5006, names) == origins


@pytest.mark.parametrize("header, allowed", [
    ("localhost:5006", True), ("LOCALHOST:5006", True), (" 127.0.0.1:5006 ", True),
    ("[::1]:5006", True), ("dash.lan", True), ("dash.lan:80", True), ("localhost", False),
    ("localhost:5007", False), ("evil.example:5006", False),
    ("localhost.evil.example:5006", False), ("dash.lan:5006", False), ("", False),
])
def test_a_host_header_is_allowed_only_if_it_names_an_origin(header, allowed):
    origins = ["127.0.0.1:5006", "[::1]:5006", "localhost:5006", "dash.lan:80"]
    assert host_allowed(header, origins) is allowed
