"""What the installed distribution declares about itself."""

from __future__ import annotations

from importlib.metadata import distribution, files


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
