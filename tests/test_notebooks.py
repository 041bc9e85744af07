"""Every notebook is stored executed, so that nbval has outputs to compare, and runs anywhere.

nbval compares a cell's new outputs with its stored ones, and silently passes a cell that was
never executed: these tests make sure there is no such cell, and that the stored outputs are
clean (no errors, no TensorFlow C++ log lines, no progress bars). Every notebook also runs
wherever it is opened: its first code cell is the setup cell made from `_config.yml`, it declares
the standard `python3` kernel, and its links are Markdown links that Jupyter follows
(tests/test_standalone.py runs the notebooks so, outside the repository).
"""

import copy
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from logitlab.authoring import SETUP_CELL_ID, set_up_notebook, setup_cell_source

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("chapters", "solutions", "exercises")
NOTEBOOKS = sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.ipynb"))
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]

TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|absl::InitializeLog|oneDNN custom operations", re.M)
PROGRESS_BAR = re.compile(r"\d+/\d+ \S*━|\[=+>?\.*\]")


def _text(output):
    if output.get("output_type") == "stream":
        return output.get("text", "")
    return "".join(str(v) for v in output.get("data", {}).values())


def code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]


def test_there_are_notebooks():
    for folder in FOLDERS:
        assert list((ROOT / folder).glob("*.ipynb")), f"no notebooks in {folder}/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_code_cell_was_executed_and_has_output(path):
    cells = code_cells(path)
    unexecuted = [i for i, c in cells if c.get("execution_count") is None]
    assert not unexecuted, f"code cells {unexecuted} were never executed: run `logitlab execute {path.name}`"
    silent = [i for i, c in cells if not c.get("outputs")]
    assert not silent, (
        f"code cells {silent} have no stored output, so nbval compares nothing there: end each "
        "cell with a printed result, a figure or a glued value"
    )
    counts = [c.execution_count for _, c in cells]
    assert counts == list(range(1, len(counts) + 1)), (
        f"execution counts {counts} are not 1..{len(counts)}: the notebook was not run top to "
        "bottom in one fresh kernel; re-run it with `logitlab execute`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_are_clean(path):
    for i, cell in code_cells(path):
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", f"cell {i} stored an error: {output.get('ename')}"
            text = _text(output)
            assert not TF_LOG_LINE.search(text), f"cell {i} stored a TensorFlow C++ log line"
            assert not PROGRESS_BAR.search(text), f"cell {i} stored a Keras progress bar"


MARKDOWN_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def test_the_setup_cell_installs_from_the_repository_of_config_yml():
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    source = setup_cell_source(ROOT / "_config.yml")
    assert f'%pip install --quiet "logitlab @ git+{url}"' in source
    assert source.count("git+") == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_code_cell_is_the_setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert (first.get("id"), first.source) == (SETUP_CELL_ID, setup_cell_source(ROOT / "_config.yml")), (
        f"the first code cell of {path.name} is not the setup cell: run `logitlab execute {path}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_runs_anywhere(path):
    """Standard kernel, Markdown links, glue from logitlab: what `logitlab standalone` ensures."""
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"] == {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                         "language": "python"}, "the notebook must declare the python3 kernel"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            assert "{doc}" not in cell.source, f"cell {i}: a {{doc}} role shows raw in Jupyter: use a Markdown link"
            for target in MARKDOWN_LINK.findall(cell.source):
                if "://" not in target and not target.startswith("#"):
                    assert (path.parent / target.split("#")[0]).is_file(), f"cell {i}: link to a missing {target}"
        elif cell.cell_type == "code":
            assert "myst_nb" not in cell.source, (
                f"cell {i} imports myst_nb, which a learner's install lacks: `from logitlab import glue`"
            )
    assert not set_up_notebook(copy.deepcopy(nb), path), f"run `logitlab execute {path}`"
