"""The dashboard: what a page's run costs beyond plain training, and how soon closing
pages stops their runs.

run_training (the whole of a page's run: train() plus recording every epoch and a snapshot
of the bars a few times a second) against train() with the same settings, both on one
kernel thread as a page runs them; and one snapshot alone.

Closing pages: eight pages of a real server, open in headless Chromium, each training a
net for minutes, are closed one after the other; for each the time from its tab's close to
the end of its training thread is recorded. The benchmark's time is closing all eight until
the last run has stopped; the summary line (and ``extra_info``) gives the median and the
longest time per page. It is a report, with no limit: on a shared machine the training
threads (at a lower priority) can take long to reach their next mini-batch.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from tornado.ioloop import IOLoop

import gradcore
from gradcore.dashboard import Settings, run_training, training
from gradcore.dashboard.server import make_server
from gradcore.dashboard.training import Feed, take_snapshot
from gradcore.datasets import mnist_first_1000

SETTINGS = Settings(epochs=100)  # the book's [784,30,30,30,10], full batch on 1,000 images
RECORDING_FLOOR = 0.85  # a page's run at least 85 % of plain train()'s speed


def _plain_train() -> np.ndarray:
    X, y = mnist_first_1000()
    net = gradcore.Network(SETTINGS.sizes, init=SETTINGS.init, seed=SETTINGS.seed)
    with gradcore.thread_limit(1):
        result = gradcore.train(net, X, y, epochs=SETTINGS.epochs, batch_size=len(X),
                                eta=SETTINGS.eta, lmbda=SETTINGS.lmbda, seed=SETTINGS.seed)
    return result.history.learning_speeds


def _page_run() -> np.ndarray:
    feed = Feed(SETTINGS.epochs, SETTINGS.n_layers)
    with gradcore.thread_limit(1):  # as a page's training thread runs it
        assert run_training(SETTINGS, feed) == "finished"
    return feed.drain().speeds


@pytest.mark.speed_ratio(baseline="train", floors={"run_training": RECORDING_FLOOR})
@pytest.mark.parametrize("impl", ["train", "run_training"])
def test_training_step(benchmark, impl):
    benchmark.group = f"dashboard run, {SETTINGS.epochs} epochs of [784,30,30,30,10]"
    speeds = benchmark.pedantic(_plain_train if impl == "train" else _page_run, rounds=9,
                                iterations=1)
    np.testing.assert_allclose(speeds, _plain_train(), rtol=1e-12)


def test_snapshot(benchmark):
    X, y = mnist_first_1000()
    net = gradcore.Network(SETTINGS.sizes, seed=0)
    benchmark.group = "dashboard snapshot (gradient and accuracy, 1,000 images)"
    snap = benchmark(take_snapshot, net, X, y, 0)
    _, nabla_b = net.gradient(X, y)
    assert np.array_equal(snap.deltas[0], nabla_b[0][:len(snap.deltas[0])])
    assert snap.accuracy == net.accuracy(X, y)


# ------------------------------------------------------------------ closing pages

PAGES = 8  # the server's limit of trainings at once
WAIT = 120.0  # seconds for anything a page should do
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")

# a run of minutes (8 hidden layers of 100, 5000 epochs): set the form, press Start
START_LONG_RUN = """
const doc = Bokeh.documents[0];
for (const [name, value] of Object.entries(arguments[0])) {
  const input = doc.get_model_by_name(name);
  input.value = value;
  input.value_input = value;
}
function find(root) {
  const hit = root.querySelector('.gc-start');
  if (hit) return hit;
  for (const el of root.querySelectorAll('*')) {
    if (el.shadowRoot) { const f = find(el.shadowRoot); if (f) return f; }
  }
  return null;
}
find(document).shadowRoot.querySelector('button').click();
"""
POINTS = """
const doc = window.Bokeh && Bokeh.documents.length ? Bokeh.documents[0] : null;
const src = doc ? doc.get_model_by_name('current-epochs') : null;
return src ? src.data.epoch.length : 0;
"""


def _until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"not within {WAIT} s: {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def dashboard_url() -> Iterator[str]:
    """The dashboard's server on a free port of 127.0.0.1, in a thread of this process."""
    ready, box = threading.Event(), {}

    def serve() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server, box["port"] = make_server("127.0.0.1", 0, IOLoop.current())
        box["loop"] = loop
        ready.set()
        loop.run_forever()
        server.stop()
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(WAIT)
    yield f"http://127.0.0.1:{box['port']}/gradcore"
    box["loop"].call_soon_threadsafe(box["loop"].stop)
    thread.join(WAIT)
    assert training.stop_all(WAIT)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("needs chromium and chromedriver (Debian: chromium chromium-driver)")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(arg)
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(
        executable_path=CHROMEDRIVER, env=env))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def _open_pages(driver: Any, url: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """PAGES tabs, each training a net for minutes: (tabs and their runs, in order)."""
    _until(lambda: not training.live_runs(), "no run left from before")
    pages: list[tuple[str, training.TrainingRun]] = []
    for _ in range(PAGES):
        driver.switch_to.new_window("tab")
        driver.get(url)
        _until(lambda: driver.execute_script(POINTS) > 0, "the page's first points")
        known = {run for _, run in pages}
        driver.execute_script(START_LONG_RUN, {"hidden": "8", "width": "100",
                                               "epochs": "5000"})

        def new_runs(known: set[training.TrainingRun] = known) -> list[training.TrainingRun]:
            return [r for r in training.live_runs()
                    if r.settings.width == 100 and r not in known]

        _until(lambda: len(new_runs()) == 1, "the page's long run")
        pages.append((driver.current_window_handle, new_runs()[0]))
    return (driver, pages), {}


def _close_pages(driver: Any, pages: list[tuple[str, Any]], delays: list[float]) -> None:
    """Close every tab, one after the other; record each run's delay from close to stop."""
    ended: dict[int, float] = {}

    def watch(i: int, run: training.TrainingRun) -> None:
        run.join(WAIT)
        ended[i] = time.monotonic()

    watchers = [threading.Thread(target=watch, args=(i, run), daemon=True)
                for i, (_, run) in enumerate(pages)]
    for w in watchers:
        w.start()
    closed = []
    for tab, _ in pages:
        driver.switch_to.window(tab)
        closed.append(time.monotonic())
        driver.close()
    driver.switch_to.window(driver.window_handles[0])
    for w in watchers:
        w.join(WAIT)
    assert all(run.feed.state == "stopped" and not run.alive for _, run in pages)
    delays.extend(ended[i] - closed[i] for i in range(len(pages)))


def test_closing_pages_stops_their_runs(benchmark, chromium, dashboard_url, capsys):
    benchmark.group = f"dashboard: closing {PAGES} pages until their runs stop"
    delays: list[float] = []
    benchmark.pedantic(lambda driver, pages: _close_pages(driver, pages, delays),
                       setup=lambda: _open_pages(chromium, dashboard_url), rounds=3,
                       iterations=1)
    median, longest = statistics.median(delays), max(delays)
    benchmark.extra_info.update(stop_median_s=median, stop_max_s=longest,
                                pages=len(delays))
    with capsys.disabled():
        print(f"\nclosing a page to its run's stop, {len(delays)} pages closed {PAGES} at a "
              f"time: median {median:.3f} s, longest {longest:.3f} s")
