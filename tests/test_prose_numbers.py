"""Numbers in the prose come from the code: a precise number typed into markdown is a defect.

A decimal with three or more digits after the point (0.839, 16.118), written in a markdown cell
outside code and math, is a result that should be computed in a cell and glued with myst-nb's
``{glue:text}`` role, so the text cannot drift from what the notebook computes. Numbers in
``code spans``, in math (``$...$``, ``$$...$$``) and in glue roles are not prose.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for folder in ("chapters", "solutions") for p in (ROOT / folder).glob("*.ipynb"))

NOT_PROSE = re.compile(
    r"```.*?```|:::.*?:::|\$\$.*?\$\$|\$[^$\n]+\$|\{glue(?::\w+)?\}`[^`]*`|`[^`\n]*`|\]\([^)]*\)",
    re.S,
)
PRECISE = re.compile(r"(?<![\w.])-?\d+\.\d{3,}(?!\w|\.\d)")


def precise_numbers(markdown):
    return PRECISE.findall(NOT_PROSE.sub(" ", markdown))


def test_the_rule_finds_typed_numbers_and_ignores_glue_code_and_math():
    text = "Loss is 0.8393. Also {glue:text}`ch3_mean:.4f`, `0.1234`, $e^{0.1234}$ and 1e-7 or 0.5."
    assert precise_numbers(text) == ["0.8393"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_prose_numbers_are_glued(path):
    nb = nbformat.read(path, as_version=4)
    typed = {
        i: found for i, cell in enumerate(nb.cells)
        if cell.cell_type == "markdown" and (found := precise_numbers(cell.source))
    }
    assert not typed, (
        f"markdown cells state numbers typed by hand: {typed}. Compute them in a cell and glue "
        "them (glue('name', value, display=False), then {glue:text}`name:.4f` in the text)."
    )
