"""What the installed distribution declares about itself."""

from __future__ import annotations

import re
from importlib.metadata import distribution, files
from pathlib import Path


def test_the_licences_of_everything_shipped_are_declared():
    meta = distribution("gradcore").metadata
    assert meta["License-Expression"] == "MIT AND CC-BY-SA-3.0"  # MNIST images: CC BY-SA
    assert sorted(meta.get_all("License-File")) == ["LICENSE",
                                                   "gradcore/data/MNIST-LICENSE.txt"]
    shipped = {str(f) for f in files("gradcore") or []}
    assert "gradcore/data/mnist_first_1000.npz" in shipped
    assert "gradcore/data/MNIST-LICENSE.txt" in shipped


def test_project_urls_point_at_the_sources_of_the_science_and_the_data():
    urls = dict(u.split(", ", 1) for u in distribution("gradcore").metadata.get_all(
        "Project-URL"))
    assert urls["Book chapter"].endswith("neuralnetworksanddeeplearning.com/chap5.html")
    assert "mnist" in urls["MNIST database"]


def test_the_package_index_page_has_no_image_a_relative_link_would_break():
    # The README's figures are files of the source tree (docs/*.png): a package index shows
    # the description without them, so there each figure is its caption and its file name.
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    figures = re.findall(r"!\[(.*?)\]\((docs/[^)\s]+\.png)\)", readme)
    assert len(figures) >= 4
    # the body of METADATA; "Description" holds it whichever importlib.metadata reads it
    # (the importlib_metadata backport, once imported, serves the stdlib's calls too)
    description = distribution("gradcore").metadata["Description"]
    assert "](docs/" not in description
    for caption, path in figures:
        assert f"Figure (`{path}` in the source distribution): {caption}" in description
    assert description.count("## ") == readme.count("## ")  # the rest as it is
