"""Maintainer tools: exercise notebooks are generated from the solution notebooks.

A solution notebook marks what the learner must write between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` lines. The exercise notebook is the same notebook with every such region
replaced: inside a function body by ``raise NotImplementedError`` (so the cell runs and the check
says "not yet attempted"), at the top level by a comment (the answer is simply not defined yet).
Cells tagged ``solution`` are dropped. In the solution notebooks every cell with a solution
region carries the tag ``hide-input``, so the website folds the worked code until the reader asks
for it; the exercise notebook drops that tag. A solution notebook's title, ``# Solutions: ...``,
becomes ``# Exercises: ...``, so the two pages are told apart in the book's navigation. The question
text, checks and hints are shared, so the two can never drift; ``logitlab exercises --check`` fails
when ``exercises/`` is out of date.

The worked solutions are written once, in the solution notebooks: :func:`solution_codes` reads the
code of each solution cell (the cell followed by ``ex.qN.check()``, with its markers and its
closing ``print`` left out), and ``logitlab exercises`` stores it in
``logitlab/exercises/solutions.json``, which ``ex.qN.solution()`` shows.

Every notebook is also made to run wherever it is opened (:func:`set_up_notebook`, applied by
``logitlab execute`` and ``logitlab standalone``): its first code cell is the setup cell made from
:data:`SETUP_TEMPLATE` and the repository URL of ``_config.yml``, it declares the standard
``python3`` kernel, its links are ordinary Markdown links, and it glues with ``logitlab.glue``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from .kernel import KERNEL_SPEC_METADATA

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SOLUTION_TAG = "solution"
PLACEHOLDER = "# YOUR CODE HERE"
HIDDEN_TAG = "hide-input"  # on the website, a solution's code stays folded until the reader opens it
_SOLUTION_TITLE = re.compile(r"^# Solutions:", re.MULTILINE)
_MARKER = re.compile(r"^(?P<indent>[ \t]*)### (?P<kind>BEGIN|END) SOLUTION\s*$")


class MarkerError(ValueError):
    """A solution region is not closed, not opened, or nested."""


def strip_solutions(source, where="cell"):
    """Return ``source`` with each marked solution region replaced by its exercise stub."""
    out, region_indent = [], None
    for number, line in enumerate(source.splitlines(), 1):
        match = _MARKER.match(line)
        if match and match["kind"] == "BEGIN":
            if region_indent is not None:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution region")
            region_indent = match["indent"]
            out.append(f"{region_indent}{PLACEHOLDER}")
            if region_indent:
                out.append(f'{region_indent}raise NotImplementedError("Replace this line with your code.")')
        elif match and match["kind"] == "END":
            if region_indent is None:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}")
            region_indent = None
        elif region_indent is None:
            out.append(line)
    if region_indent is not None:
        raise MarkerError(f"{where}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def has_solution(source):
    return any(_MARKER.match(line) for line in source.splitlines())


def chapter_of(nb):
    """The question module a notebook imports (``from logitlab.exercises import chapter2``)."""
    for cell in nb.cells:
        match = re.search(r"from\s+logitlab\.exercises\s+import\s+(chapter\d+)", cell.source)
        if cell.cell_type == "code" and match:
            return match.group(1)
    return None


_CHECK_CALL = re.compile(r"^\s*\w+\.q(\d+)\.check\(\)", re.MULTILINE)


def solution_view(source):
    """What ``solution()`` shows of a solution cell: its code without the markers and the final
    ``print`` that only tells the learner to run the check."""
    lines = [line for line in source.splitlines() if not _MARKER.match(line)]
    while lines and (not lines[-1].strip() or lines[-1].startswith("print(")):
        lines.pop()
    return "\n".join(lines)


def solution_codes(solutions_dir):
    """``{question id: code}`` from every solution notebook in ``solutions_dir``.

    A question's code is that of the solution cell(s) since the previous check, and the
    question is the one whose ``ex.qN.check()`` follows them.
    """
    codes = {}
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        chapter = chapter_of(nb)
        if chapter is None:
            continue
        number, pending = chapter.removeprefix("chapter"), []
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if has_solution(cell.source):
                pending.append(solution_view(cell.source))
            check = _CHECK_CALL.search(cell.source)
            if check and pending:
                codes[f"{number}.{check.group(1)}"] = "\n\n".join(pending)
                pending = []
    return codes


def solutions_text(solutions_dir):
    """The text of ``solutions.json`` for ``solutions_dir`` (sorted, so it is stable)."""
    return json.dumps(solution_codes(solutions_dir), indent=1, sort_keys=True) + "\n"


def _solutions_file():
    from .exercises import SOLUTIONS_FILE

    return SOLUTIONS_FILE


def make_exercise(solution_nb):
    """Return a new exercise notebook (without outputs) made from a solution notebook."""
    exercise = nbformat.v4.new_notebook(metadata=solution_nb.metadata)
    chapter = chapter_of(solution_nb)
    if chapter:  # the grader reads the chapter from here, whatever the learner does to the cells
        exercise.metadata["logitlab"] = {"chapter": chapter}
    for index, cell in enumerate(solution_nb.cells):
        if SOLUTION_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.source
        if cell.cell_type == "code":
            metadata = dict(cell.metadata)
            if has_solution(source):  # the stub the learner fills in is never hidden
                tags = [t for t in metadata.get("tags", []) if t != HIDDEN_TAG]
                metadata.pop("tags", None)
                if tags:
                    metadata["tags"] = tags
            source = strip_solutions(source, where=f"cell {index}")
            new = nbformat.v4.new_code_cell(source, metadata=metadata)
        elif cell.cell_type == "markdown":
            source = _SOLUTION_TITLE.sub("# Exercises:", source)
            new = nbformat.v4.new_markdown_cell(source, metadata=dict(cell.metadata))
        else:
            new = nbformat.v4.new_raw_cell(source, metadata=dict(cell.metadata))
        if "id" in cell:
            new["id"] = cell["id"]
        exercise.cells.append(new)
    return exercise


def source_view(nb):
    """What must agree between a generated and a stored exercise: cell kinds, sources, tags."""
    return [nb.metadata.get("logitlab")] + [
        (cell.cell_type, cell.source, tuple(cell.get("metadata", {}).get("tags", [])))
        for cell in nb.cells
    ]


def exercise_path(solution_path, exercises_dir):
    return Path(exercises_dir) / Path(solution_path).name


def stale_exercises(solutions_dir, exercises_dir):
    """Return a list of problems: exercises missing, out of date, or without a solution."""
    problems = []
    solutions = sorted(Path(solutions_dir).glob("*.ipynb"))
    for path in solutions:
        target = exercise_path(path, exercises_dir)
        expected = make_exercise(nbformat.read(path, as_version=4))
        if not target.exists():
            problems.append(f"{target} is missing (generate it from {path})")
        elif source_view(nbformat.read(target, as_version=4)) != source_view(expected):
            problems.append(f"{target} is out of date with {path}")
    names = {p.name for p in solutions}
    for path in sorted(Path(exercises_dir).glob("*.ipynb")):
        if path.name not in names:
            problems.append(f"{path} has no solution notebook in {solutions_dir}")
    stored = _solutions_file()
    if not stored.exists() or stored.read_text(encoding="utf-8") != solutions_text(solutions_dir):
        problems.append(f"{stored} is out of date with the code of {solutions_dir}")
    return problems


def build_exercises(solutions_dir, exercises_dir, execute=True, only_stale=False):
    """Write the exercise notebooks; execute them so they are stored with their outputs.

    Returns a list of ``(path, seconds)``.
    """
    from .execution import execute_notebook

    Path(exercises_dir).mkdir(parents=True, exist_ok=True)
    written = []
    stored, text = _solutions_file(), solutions_text(solutions_dir)
    if not stored.exists() or stored.read_text(encoding="utf-8") != text:
        stored.write_text(text, encoding="utf-8")
        written.append((stored, 0.0))
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        target = exercise_path(path, exercises_dir)
        exercise = make_exercise(nbformat.read(path, as_version=4))
        if only_stale and target.exists() and source_view(nbformat.read(target, as_version=4)) == source_view(exercise):
            continue
        seconds = execute_notebook(exercise, Path(exercises_dir)) if execute else 0.0
        nbformat.write(exercise, target)
        written.append((target, seconds))
    return written


# --- Notebooks that run anywhere (Colab, Binder, VS Code, any Jupyter) ---------------------------

SETUP_CELL_ID = "setup"
# The first code cell of every notebook; {pip_url} is made from `repository.url` in _config.yml.
SETUP_TEMPLATE = """\
# Run this cell first. It installs the course package, logitlab, if this Python does not
# have it yet (on Colab, for example), then prepares TensorFlow for the course.
try:
    import logitlab
except ModuleNotFoundError:
    %pip install --quiet "logitlab @ {pip_url}"
    import logitlab

logitlab.setup()"""
CONFIG_NAME = "_config.yml"
_DOC_ROLE = re.compile(r"\{doc\}`(?:(?P<text>[^`<]*?)\s*<(?P<target>[^`>]+)>|(?P<bare>[^`<>]+))`")
_MYST_NB_GLUE = re.compile(r"^from myst_nb import glue$", re.MULTILINE)
_TITLE = re.compile(r"^# (.+)$", re.MULTILINE)


def find_config(start):
    """Return the ``_config.yml`` of the book that holds ``start`` (a file or folder)."""
    start = Path(start).resolve()
    for folder in [start, *start.parents]:
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    raise FileNotFoundError(
        f"no {CONFIG_NAME} in {start} or above it: run this on the course's notebooks, inside the repository"
    )


def pip_url(config_path):
    """The ``git+`` URL that pip installs the course package from: ``repository.url`` of the book."""
    import yaml

    config = yaml.safe_load(Path(config_path).read_text()) or {}
    url = str((config.get("repository") or {}).get("url") or "")
    if not re.fullmatch(r"https://[^\s\"']+", url):
        raise ValueError(
            f"{config_path}: repository.url must be the repository's https:// URL (got {url!r}); "
            "the launch buttons and every notebook's setup cell are made from it"
        )
    return "git+" + url.rstrip("/")


def setup_cell_source(config_path):
    """The text of the setup cell, the first code cell of every notebook."""
    return SETUP_TEMPLATE.format(pip_url=pip_url(config_path))


def _title(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        match = _TITLE.search(cell.source) if cell.cell_type == "markdown" else None
        if match:
            return match.group(1).strip()
    raise ValueError(f"{path} has no '# ' title to use as a link's text")


def markdown_links(source, folder):
    """Rewrite MyST ``{doc}`` roles as Markdown links to the notebooks, which Jupyter shows too.

    ``{doc}`text <target>``` becomes ``[text](target.ipynb)``; a bare ``{doc}`target``` takes the
    target's title as its text. The website resolves both the same way.
    """
    def replace(match):
        target = (match["target"] or match["bare"]).strip()
        path = Path(folder) / f"{target}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(f"{{doc}}`{target}` in {folder}: there is no notebook {path}")
        text = (match["text"] or "").strip() or _title(path)
        return f"[{text}]({target}.ipynb)"

    return _DOC_ROLE.sub(replace, source)


def set_up_notebook(nb, path, config_path=None):
    """Make the notebook ``nb`` (stored at ``path``) run wherever it is opened; return whether it changed.

    - Its first code cell is the setup cell (:func:`setup_cell_source`); a setup cell whose text
      changes loses its stale outputs.
    - It declares the standard ``python3`` kernel.
    - ``{doc}`` roles become Markdown links (:func:`markdown_links`).
    - ``from myst_nb import glue`` becomes ``from logitlab import glue`` (the same stored output,
      without the website's tools).
    """
    path = Path(path)
    source = setup_cell_source(config_path or find_config(path))
    before = nbformat.writes(nb)
    old = [c for c in nb.cells if c.get("id") == SETUP_CELL_ID]
    cells = [c for c in nb.cells if c.get("id") != SETUP_CELL_ID]
    if old and old[0].cell_type == "code" and old[0].source == source:
        cell = old[0]
    else:
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = SETUP_CELL_ID
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    cells.insert(first_code, cell)
    for other in cells:
        if other.cell_type == "markdown":
            other.source = markdown_links(other.source, path.parent)
        elif other.cell_type == "code":
            other.source = _MYST_NB_GLUE.sub("from logitlab import glue", other.source)
    nb.cells = cells
    nb.metadata["kernelspec"] = dict(KERNEL_SPEC_METADATA)
    return nbformat.writes(nb) != before


def set_up_files(paths, check=False):
    """Apply :func:`set_up_notebook` to notebook files; return the paths that changed (or would)."""
    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if set_up_notebook(nb, path):
            changed.append(path)
            if not check:
                nbformat.write(nb, path)
    return changed
