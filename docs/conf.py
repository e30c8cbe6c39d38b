"""Sphinx configuration of gradcore's documentation site.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (``pip install ".[docs]"``).
The site documents the *installed* gradcore: autodoc imports it, the gallery and the
notebooks run it. The API reference is written here at build time, one page per public
name, from ``gradcore.__all__`` and each public module's ``__all__`` (see
:func:`public_names`), so a name added to ``__all__`` gets its page without an edit here.
Set ``GRADCORE_DOCS_FAST=1`` to skip running the gallery and the notebooks.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pathlib
import re
import sys
import types

HERE = pathlib.Path(__file__).resolve().parent
# `python -m sphinx` from the checkout puts it first on sys.path, where the source folder
# would hide the installed package
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != HERE.parent]

import gradcore  # noqa: E402

if pathlib.Path(gradcore.__file__).resolve().parent == HERE.parent / "gradcore":
    raise RuntimeError("the docs document the installed gradcore: pip install . first")

project = "gradcore"
author = "The gradcore developers"
copyright = "the gradcore developers, MIT licence"
release = version = gradcore.__version__

FAST = os.environ.get("GRADCORE_DOCS_FAST") == "1"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_nb",
]

# Only the sources: the PNG figures beside them (linked from the README) are not pages.
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.json",
                    "auto_examples/*.md5", "*.png"]
templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
nitpicky = True  # a broken cross-reference is an error under -W
nitpick_ignore_regex = [
    # types named in numpydoc "Parameters" that are prose, not objects
    (r"py:class", r"(array|ndarray|array-like|sequence|mapping|path|callable|optional|"
                  r"iterable|object|number|any|int|float|str|bool|bytes|tuple|list|dict|"
                  r"None|default|of|or|and|to|shape|.*\(.*|.*\).*|.*[,:].*|[0-9].*|"
                  r"[A-Za-z_]+ [A-Za-z_].*|.*[^A-Za-z0-9_.].*)"),
    (r"py:class", r"(numpy\.typing|npt|np)\..*"),
    (r"py:class", r"(Data|PathLike|P|R|Constraint|_.*|gradcore\._.*)"),
    (r"py:(class|obj)", r"(matplotlib|pandas|dask|distributed|sklearn|bokeh)\..*"),
    # the modules inside gradcore.experiments and gradcore.dashboard: their public names
    # are documented where the package hands them on (gradcore.experiments.chapter5 is the
    # function), so references to the modules and to names only they hold are not links
    (r"py:mod", r"(gradcore\.(experiments|dashboard)\.)?(jobs|runner|store|dask_backend|"
                r"chapter5|depth|phase|chain|speeds|mnist|results|output|frames|book|app|"
                r"controls|figures|server|settings|training)"),
    (r"py:(func|data|class|attr|meth)", r"gradcore\.(experiments|dashboard)\.[a-z_]+\..*"),
    (r"py:(func|data|class|attr)", r"(speeds_csv|phase_csv|depth_csv|FIELDS|SNAPSHOT_INTERVAL|"
                                   r"OUTPUT_FORMATS|FIGURE_FORMATS|FRAME_COLUMNS|MANIFEST|"
                                   r"TooManyRuns|Limits\..*)"),
    # attributes that an "Attributes" section describes, or a property without a docstring
    (r"py:attr", r"(speeds|gradcore\.Network\.params|JobResult\..*)"),
]

# autodoc, autosummary, numpydoc
autosummary_generate = True
autosummary_ignore_module_all = False
autodoc_typehints = "none"  # numpydoc's Parameters say the types, in words
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

def gradcore_figures(block: object, block_vars: dict, gallery_conf: dict) -> str:
    """Sphinx-gallery scraper for the figures gradcore draws without pyplot: every
    matplotlib Figure the example's code block left in a variable, saved once."""
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    seen = block_vars.setdefault("gradcore_seen", set())
    paths = []
    for value in list(block_vars["example_globals"].values()):
        if isinstance(value, Figure) and id(value) not in seen:
            seen.add(id(value))
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=96)
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


# the gallery: examples/*.py, each run when the docs build (plot_* files)
sphinx_gallery_conf = {
    "image_scrapers": (gradcore_figures,),
    "capture_repr": (),
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"typed_usage\.py",
    "plot_gallery": "False" if FAST else "True",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "within_subsection_order": "FileNameSortKey",
}

# the notebooks (MyST Markdown): executed at every build, an error in a cell fails it
nb_execution_mode = "off" if FAST else "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 300
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# the gallery's configuration holds a function (its figure scraper), which Sphinx cannot
# cache: it then rebuilds everything each time, which is what CI does anyway
suppress_warnings = ["mystnb.unknown_mime_type", "config.cache"]

html_theme = "pydata_sphinx_theme"
html_title = f"gradcore {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []
html_show_sourcelink = False


# ---------------------------------------------------------------- the API reference

#: Public modules besides those named in gradcore.__all__: the optional extras' modules
#: and the command line.
EXTRA_MODULES = ("gradcore.sklearn", "gradcore.dashboard", "gradcore.cli")


def public_modules() -> list[str]:
    """``gradcore``, the modules gradcore.__all__ names, and :data:`EXTRA_MODULES` that
    import (an extra that is not installed is left out, with a message)."""
    names = ["gradcore"]
    names += [f"gradcore.{n}" for n in gradcore.__all__
              if isinstance(getattr(gradcore, n), types.ModuleType)]
    for name in EXTRA_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            print(f"docs: {name} left out of the API reference: {exc}", file=sys.stderr)
            continue
        names.append(name)
    return names


def public_names(module: str) -> list[str]:
    """The names of ``module.__all__`` that are not modules (they have their own page)."""
    mod = importlib.import_module(module)
    return [n for n in getattr(mod, "__all__", [])
            if not isinstance(getattr(mod, n), types.ModuleType)]


def _summary(module: str) -> str:
    doc = inspect.getdoc(importlib.import_module(module)) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


_ABS = re.compile(r"(?<![\\|`])\|(?=[^\s|])([^|\n`]*?[^\s|\\])\|(?![_|`])")
_TRAILING_UNDERSCORE = re.compile(r"(?<![`\w])([A-Za-z]\w*)_(?=[\s.,;:)]|$)")


def plain_text_docstrings(app: object, what: str, name: str, obj: object, options: object,
                          lines: list[str]) -> None:
    """Docstrings are written to be read as text: ``|w|`` is an absolute value, not an
    RST substitution, and ``n_iter_`` a scikit-learn attribute, not a link."""
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("+", "|", ">>>", "...")):
            continue
        line = _ABS.sub(lambda m: f"\\|{m.group(1)}\\|", line)
        lines[i] = _TRAILING_UNDERSCORE.sub(lambda m: f"{m.group(1)}\\_", line)


def skip_inherited_machinery(app: object, what: str, name: str, obj: object, skip: bool,
                             options: object) -> bool | None:
    """Leave out the metadata-routing methods scikit-learn adds to every estimator."""
    if name == "get_metadata_routing" or (name.startswith("set_") and
                                          name.endswith("_request")):
        return True
    return None


def setup(app: object) -> None:
    app.connect("autodoc-process-docstring", plain_text_docstrings)  # type: ignore[attr-defined]
    app.connect("autodoc-skip-member", skip_inherited_machinery)  # type: ignore[attr-defined]


def write_api_pages() -> None:
    """``api/index.rst`` and one page per public module, each with an autosummary table
    whose stubs (one page per name) autosummary generates."""
    api = HERE / "api"
    api.mkdir(exist_ok=True)
    modules = public_modules()
    index = ["API reference", "=============", "",
             "Every public name of gradcore, one page each, generated from its docstring.",
             "Everything under ``gradcore._*`` is private.", "", ".. toctree::",
             "   :maxdepth: 1", ""]
    index += [f"   {m}" for m in modules]
    _write(api / "index.rst", "\n".join(index) + "\n")
    for m in modules:
        title = f"``{m}``"
        lines = [title, "=" * len(title), "", f".. automodule:: {m}", "   :no-members:", "",
                 f".. currentmodule:: {m}", ""]
        names = public_names(m)
        if names:
            lines += [".. autosummary::", "   :toctree: generated/", "   :nosignatures:", ""]
            lines += [f"   {n}" for n in names]
        _write(api / f"{m}.rst", "\n".join(lines) + "\n")


def _write(path: pathlib.Path, text: str) -> None:
    """Write only if changed, so that Sphinx rebuilds only what changed."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


write_api_pages()
