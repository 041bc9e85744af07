"""exercises/ is generated from solutions/ (`make exercises`); it must never drift."""

from pathlib import Path

import nbformat
import pytest

from logitlab.authoring import (
    MarkerError,
    make_exercise,
    stale_exercises,
    strip_solutions,
)

ROOT = Path(__file__).resolve().parents[1]


def test_exercises_are_up_to_date_with_solutions():
    problems = stale_exercises(ROOT / "solutions", ROOT / "exercises")
    assert not problems, "\n".join(problems) + "\nRun `make exercises` to regenerate exercises/."


def test_exercises_hide_every_solution():
    for path in sorted((ROOT / "exercises").glob("*.ipynb")):
        text = path.read_text()
        assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text, path


def test_a_function_body_becomes_not_implemented():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\nprint(1)"
    assert strip_solutions(source) == (
        'def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("Replace this line with your code.")\n\nprint(1)'
    )


def test_a_top_level_region_becomes_a_comment():
    source = "import numpy as np\n### BEGIN SOLUTION\nloss = 1.0\n### END SOLUTION\nex.q1.check()"
    assert strip_solutions(source) == "import numpy as np\n# YOUR CODE HERE\nex.q1.check()"


@pytest.mark.parametrize(
    "source, problem",
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
    ],
)
def test_broken_markers_are_reported(source, problem):
    with pytest.raises(MarkerError, match=problem):
        strip_solutions(source)


def test_cells_tagged_solution_are_dropped_and_outputs_cleared():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Q"),
        nbformat.v4.new_code_cell("### BEGIN SOLUTION\ny = 2\n### END SOLUTION\nprint(y)"),
        nbformat.v4.new_markdown_cell("Why: ...", metadata={"tags": ["solution"]}),
    ]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="2\n")]
    exercise = make_exercise(nb)
    assert [c.cell_type for c in exercise.cells] == ["markdown", "code"]
    assert exercise.cells[1].outputs == []
    assert "y = 2" not in exercise.cells[1].source


def test_solution_code_is_folded_on_the_website():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source:
                assert "hide-input" in cell.metadata.get("tags", []), (
                    f"{path.name} cell {index}: a solution cell must be tagged hide-input"
                )


def test_exercise_stubs_are_not_folded():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("### BEGIN SOLUTION\ny = 2\n### END SOLUTION",
                                          metadata={"tags": ["hide-input"]})]
    assert "tags" not in make_exercise(nb).cells[0].metadata


def test_a_solution_title_becomes_an_exercise_title():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Solutions: softmax\n\nText about # Solutions: here.")]
    assert make_exercise(nb).cells[0].source == "# Exercises: softmax\n\nText about # Solutions: here."


def test_solution_and_exercise_pages_have_their_own_titles():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        first = nbformat.read(path, as_version=4).cells[0].source
        generated = nbformat.read(ROOT / "exercises" / path.name, as_version=4).cells[0].source
        assert first.startswith("# Solutions: "), path.name
        assert generated.startswith("# Exercises: "), path.name
