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


GLUED_FLOAT = re.compile(r"-?\d+\.(\d+)(?:e[-+]?\d+)?")
MAX_GLUED_DECIMALS = 8


def glued_values(nb):
    """(cell index, name, stored text) of every value the notebook glues with myst-nb."""
    for i, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if record:
                prefix = record.get("mime_prefix", "")
                yield i, record["name"], output.get("data", {}).get(prefix + "text/plain", "")


def test_the_rounding_rule_flags_a_raw_float32():
    raw, rounded = repr(float(__import__("numpy").float32(-1.8085293))), repr(round(-1.8085293, 4))
    assert GLUED_FLOAT.fullmatch(raw) and len(GLUED_FLOAT.fullmatch(raw).group(1)) > MAX_GLUED_DECIMALS
    assert len(GLUED_FLOAT.fullmatch(rounded).group(1)) <= MAX_GLUED_DECIMALS


GLUED_NOTEBOOKS = sorted(p for folder in ("chapters", "solutions", "exercises") for p in (ROOT / folder).glob("*.ipynb"))


@pytest.mark.parametrize("path", GLUED_NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in GLUED_NOTEBOOKS])
def test_glued_numbers_are_rounded(path):
    """A glued float stores every digit, and nbval compares them all: the last ones are one CPU's.

    Glue the value rounded to the precision the prose shows (``round(float(x), 3)``), which every
    platform agrees on.
    """
    nb = nbformat.read(path, as_version=4)
    raw = [
        (i, name, text) for i, name, text in glued_values(nb)
        if (m := GLUED_FLOAT.fullmatch(text.strip())) and len(m.group(1)) > MAX_GLUED_DECIMALS
    ]
    assert not raw, (
        f"glued floats stored with every digit: {raw}. Glue a rounded value, for example "
        "glue('name', round(float(value), 3), display=False)."
    )
