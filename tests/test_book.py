"""The website builds with Sphinx warnings treated as errors, and shows the notebooks' outputs."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--path-output", str(out),
         "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, (
        "jupyter-book build failed (warnings are errors):\n" + result.stdout[-6000:] + result.stderr[-6000:]
    )
    return out / "_build" / "html"


def test_every_toc_entry_is_a_page(site):
    for name in _toc_files():
        assert (site / f"{name}.html").exists(), f"{name} has no page"


def test_every_notebook_is_in_the_toc():
    listed = set(_toc_files())
    for folder in ("chapters", "exercises", "solutions"):
        for path in (ROOT / folder).glob("*.ipynb"):
            assert f"{folder}/{path.stem}" in listed, f"{folder}/{path.name} is not in _toc.yml"


@pytest.mark.parametrize("name", [f for f in _toc_files() if "/" in f])
def test_pages_show_outputs_figures_and_glued_numbers(site, name):
    page = (site / f"{name}.html").read_text()
    nb = nbformat.read(ROOT / f"{name}.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    if outputs:
        assert "cell_output" in page, f"{name}: the page shows none of the notebook's outputs"
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    assert page.count("<img") >= images, f"{name}: {images} figures in the notebook, fewer on the page"
    assert not re.search(r"\{glue:?\w*\}", page), f"{name}: an unresolved glue role is on the page"
