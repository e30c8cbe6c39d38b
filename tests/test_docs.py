"""The documentation site: every public name has a reference page, and the build is
strict. Skipped without Sphinx (``pip install ".[docs]"``)."""

from __future__ import annotations

import importlib
import os
import pathlib
import subprocess
import sys
import types

import pytest

import gradcore

pytest.importorskip("sphinx")
pytest.importorskip("numpydoc")
pytest.importorskip("sphinx_gallery")
pytest.importorskip("myst_nb")
pytest.importorskip("pydata_sphinx_theme")

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
EXTRAS = ("gradcore.sklearn", "gradcore.dashboard", "gradcore.cli")


def _public() -> dict[str, list[str]]:
    """Public module -> the non-module names of its __all__ (independently of conf.py)."""
    modules = ["gradcore", *(f"gradcore.{n}" for n in gradcore.__all__
                             if isinstance(getattr(gradcore, n), types.ModuleType))]
    for name in EXTRAS:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        modules.append(name)
    out = {}
    for m in modules:
        mod = importlib.import_module(m)
        out[m] = [n for n in mod.__all__ if not isinstance(getattr(mod, n), types.ModuleType)]
    return out


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    """The object inventory of a build of the site without running the gallery and the
    notebooks (GRADCORE_DOCS_FAST=1), warnings as errors."""
    from sphinx.util.inventory import InventoryFile

    out = tmp_path_factory.mktemp("html")
    env = {**os.environ, "GRADCORE_DOCS_FAST": "1", "MPLBACKEND": "Agg"}
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-d",
                          str(out / ".doctrees"), str(DOCS), str(out)],
                         cwd=out, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(out / "objects.inv", "rb") as f:
        inv = InventoryFile.load(f, "", lambda base, uri: uri)
    return out, inv


def test_every_public_name_has_a_reference_page_of_its_own(inventory):
    out, inv = inventory
    objects = {name: _uri(item) for kind, entries in inv.items() if kind.startswith("py:")
               for name, item in entries.items()}
    missing = []
    for module, names in _public().items():
        if module not in objects:
            missing.append(f"module {module}")
        for n in names:
            full = f"{module}.{n}"
            uri = objects.get(full, "").split("#")[0]
            if not uri.endswith(f"generated/{full}.html") or not (out / uri).is_file():
                missing.append(full)
    assert not missing, f"no reference page for: {', '.join(missing)}"
    assert len(objects) > 100


def _uri(item: object) -> str:
    """An inventory entry's page (an object with ``uri`` since Sphinx 8.2, a tuple before)."""
    uri = getattr(item, "uri", None)
    return str(uri if uri is not None else item[2])  # type: ignore[index]


def test_a_broken_cross_reference_fails_the_build(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", _BROKEN_BUILD, str(DOCS), str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "GRADCORE_DOCS_FAST": "1", "MPLBACKEND": "Agg"})
    assert run.returncode != 0
    assert "gradcore.no_such_function" in run.stderr


_BROKEN_BUILD = """
import shutil, subprocess, sys, pathlib
docs, tmp = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
site = tmp / "site" / "docs"
shutil.copytree(docs, site, ignore=shutil.ignore_patterns("_build", "api", "auto_examples"))
shutil.copytree(docs.parent / "examples", site.parent / "examples")
index = site / "index.rst"
index.write_text(index.read_text() + "\\nSee :func:`gradcore.no_such_function`.\\n")
sys.exit(subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html",
                         str(site), str(tmp / "out")]).returncode)
"""
