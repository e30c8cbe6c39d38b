"""What a newcomer meets first: the version, dir(gradcore), and importing from the
checkout by mistake."""

from __future__ import annotations

import importlib.metadata
import pathlib
import subprocess
import sys

import gradcore

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_the_version_is_the_distribution_s():
    assert gradcore.__version__ == importlib.metadata.version("gradcore")


def test_dir_lists_only_public_names():
    names = dir(gradcore)
    assert "Any" not in names and "importlib" not in names
    public = set(gradcore.__all__) | {"sklearn", "cli"}
    assert set(names) == public
    for name in names:  # each one is really there
        assert getattr(gradcore, name) is not None


def test_importing_the_source_folder_says_what_happened_and_what_to_do():
    source = ROOT / "gradcore"
    if any(p.suffix == ".so" for p in source.glob("_core*")):  # an in-place build
        return
    run = subprocess.run([sys.executable, "-c", "import gradcore"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: gradcore was imported from")
    assert str(source) in last and "no compiled core" in last
    assert "outside the checkout" in last and "pip install ." in last
