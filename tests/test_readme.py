"""Every ```python block of the README, and of the user-guide pages that hold the examples
the README used to carry, runs as written (so the README and the docs stay true)."""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
# the pages of docs/ whose examples once were the README's: each must keep at least one
GUIDE = ROOT / "docs" / "user_guide"
PAGES = [GUIDE / f"{name}.md" for name in ("networks", "data", "chain", "cli", "sweeps",
                                           "dashboard", "saving", "sklearn")]


def _blocks(path: pathlib.Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"),
                      flags=re.S | re.M)


BLOCKS = _blocks(README)
PAGE_BLOCKS = [(page, code) for page in PAGES for code in _blocks(page)]


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_each_guide_page_has_python_examples(page):
    assert _blocks(page)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    capsys.readouterr()


@pytest.mark.parametrize("page, code", PAGE_BLOCKS,
                         ids=[f"{p.stem}-block{i}" for i, (p, _) in enumerate(PAGE_BLOCKS)])
def test_guide_block_runs(page, code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(page), "exec"), {"__name__": "__docs__"})
    capsys.readouterr()
