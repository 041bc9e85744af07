"""What every question of every chapter guarantees, whatever its topic.

- The chapter module lists its questions in order (``q1``, ``q2``, ... with ids ``N.1``, ``N.2``).
- Each question names at least three common mistakes, and offers hints and a worked solution.
- The reference answer and the worked solution that ``solution()`` prints both pass, run in
  chapter order as the learner would run them.
- A function question left as it is in the exercise notebook (missing, ``None``, or still raising
  ``NotImplementedError``) is "not yet attempted", never "incorrect".
- No answer, however broken, makes ``evaluate`` raise.

The topic-specific tests (independent right answers, every named mistake recognised, unnamed
wrong answers) are the battery: ``test_exercises_battery.py`` with the answers of each chapter in
``tests/battery/chapterN.py``.
"""

import importlib
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from logitlab.checking import CORRECT, INCORRECT, UNATTEMPTED, FunctionQuestion, ValueQuestion
from logitlab.exercises import CHAPTERS

MODULES = {name: importlib.import_module(f"logitlab.exercises.{name}") for name in CHAPTERS}
ALL_QUESTIONS = [q for module in MODULES.values() for q in module.QUESTIONS]
FUNCTION_QUESTIONS = [q for q in ALL_QUESTIONS if isinstance(q, FunctionQuestion)]
VALUE_QUESTIONS = [q for q in ALL_QUESTIONS if isinstance(q, ValueQuestion)]
# A function question's reference is itself a right answer, except a sampler's (question 5.5):
# its reference gives the distribution that the learner's draws are tested against (its right
# answers are in the battery).
SAMPLERS = {"5.5"}
DETERMINISTIC = [q for q in FUNCTION_QUESTIONS if q.id not in SAMPLERS]


def _module_of(q):
    return MODULES[f"chapter{q.id.split('.')[0]}"]


@pytest.mark.parametrize("name", CHAPTERS)
def test_the_module_lists_its_questions_in_order(name):
    module, number = MODULES[name], name.removeprefix("chapter")
    assert 3 <= len(module.QUESTIONS) <= 5
    assert [q.id for q in module.QUESTIONS] == [f"{number}.{i}" for i in range(1, len(module.QUESTIONS) + 1)]
    assert module.QUESTIONS == [getattr(module, f"q{i}") for i in range(1, len(module.QUESTIONS) + 1)]
    assert all(isinstance(q, (FunctionQuestion, ValueQuestion)) for q in module.QUESTIONS)


@pytest.mark.parametrize("q", ALL_QUESTIONS, ids=lambda q: q.id)
def test_each_question_names_at_least_three_mistakes(q):
    names = [m.name for m in q.mistakes]
    assert len(names) >= 3
    assert len(set(names)) == len(names), "two mistakes of one question share a name"
    assert all(m.message.strip() for m in q.mistakes)


@pytest.mark.parametrize("q", ALL_QUESTIONS, ids=lambda q: q.id)
def test_hints_and_the_solution_print(q, capsys):
    assert len(q.hints) >= 2
    q.hint()
    q.hint(2)
    q.solution()
    out = capsys.readouterr().out
    assert f"Hint 2 of {len(q.hints)}" in out
    assert f"Solution to question {q.id}" in out
    assert q.solution_code.strip() in out


@pytest.mark.parametrize("q", DETERMINISTIC, ids=lambda q: q.id)
def test_the_reference_answer_passes(q):
    result = q.evaluate({q.name: q.reference})
    assert result.status == CORRECT, result.feedback


def _worked_solutions(module, upto):
    """Run the worked solutions of ``module``'s questions up to ``upto``, in order, as a learner
    runs the notebook (a later question may use an earlier question's function)."""
    namespace = {"np": np, "tf": tf, "keras": keras, "ex": module}
    for q in module.QUESTIONS:
        exec(q.solution_code, namespace)
        if q is upto:
            return namespace
    raise AssertionError(f"{upto.id} is not in its chapter's QUESTIONS")


@pytest.mark.parametrize("q", ALL_QUESTIONS, ids=lambda q: q.id)
def test_the_worked_solution_passes(q):
    namespace = _worked_solutions(_module_of(q), q)
    result = q.evaluate(namespace)
    assert result.status == CORRECT, result.feedback


def _raise_not_implemented(*args, **kwargs):
    raise NotImplementedError("Replace this line with your code.")


@pytest.mark.parametrize("q", FUNCTION_QUESTIONS, ids=lambda q: q.id)
@pytest.mark.parametrize("answers", ["missing", "none", "stub"])
def test_an_unattempted_function_is_reported_as_such(q, answers):
    given = {"missing": {}, "none": {q.name: None}, "stub": {q.name: _raise_not_implemented}}[answers]
    result = q.evaluate(given)
    assert result.status == UNATTEMPTED
    assert q.name in result.feedback or "NotImplementedError" in result.feedback


def _raises(*args, **kwargs):
    raise RuntimeError("boom")


GARBAGE = {
    "raises": _raises,
    "string": lambda *args, **kwargs: "logits",
    "wrong shape": lambda *args, **kwargs: np.zeros(7),
    "ellipsis": lambda *args, **kwargs: Ellipsis,
    "no return": lambda *args, **kwargs: None,
    "not callable": 3.0,
    "wrong signature": lambda: 0.0,
    "object": lambda *args, **kwargs: object(),
    "overflow error": lambda *args, **kwargs: np.float32(1e30) * np.float32(1e30),
    "all nan": lambda *args, **kwargs: np.full(20000, np.nan),
    "huge integers": lambda *args, **kwargs: np.full(20000, 10**6),
    "a tensor": lambda *args, **kwargs: tf.constant([[0.5, 0.5]]),
    "a generator": lambda *args, **kwargs: (i for i in range(3)),
}


@pytest.mark.parametrize("q", FUNCTION_QUESTIONS, ids=lambda q: q.id)
@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_never_raises(q, kind):
    result = q.evaluate({q.name: GARBAGE[kind]})
    assert result.status in (INCORRECT, UNATTEMPTED)
    assert result.feedback
    if kind == "raises":
        assert "RuntimeError" in result.feedback


def test_feedback_shows_code_spans_as_code_and_escapes_the_rest():
    from logitlab.checking import CheckResult

    result = CheckResult(INCORRECT, "`top_k_filter` kept 3 < 4 tokens; use `np.argsort(-z)`")
    assert result._repr_html_() == (
        '<p><strong style="color:#c62828">Incorrect</strong>: <code>top_k_filter</code> kept '
        "3 &lt; 4 tokens; use <code>np.argsort(-z)</code></p>"
    )
    assert str(result) == "Incorrect: `top_k_filter` kept 3 < 4 tokens; use `np.argsort(-z)`"


@pytest.mark.parametrize("q", VALUE_QUESTIONS, ids=lambda q: q.id)
@pytest.mark.parametrize("given", ["missing", "none", "ellipsis", "one left out"])
def test_an_unattempted_value_is_reported_as_such(q, given):
    names = q.answer_names
    values = {"missing": {}, "none": {n: None for n in names}, "ellipsis": {n: Ellipsis for n in names},
              "one left out": {n: 1.0 for n in names[1:]}}[given]
    result = q.evaluate(values)
    assert result.status == UNATTEMPTED
    assert names[0] in result.feedback


VALUE_GARBAGE = {
    "string": "logits",
    "wrong shape": np.zeros((2, 2)),
    "ragged": [1, [2, 3]],
    "object": object(),
    "a tensor": tf.zeros([5]),
    "all nan": np.full((3, 4), np.nan),
    "-inf": np.full((3, 4), -np.inf),
    "a generator": (i for i in range(3)),
}


@pytest.mark.parametrize("q", VALUE_QUESTIONS, ids=lambda q: q.id)
@pytest.mark.parametrize("kind", sorted(VALUE_GARBAGE))
def test_garbage_values_never_raise(q, kind):
    result = q.evaluate({n: VALUE_GARBAGE[kind] for n in q.answer_names})
    assert result.status == INCORRECT
    assert result.feedback


@pytest.mark.parametrize("name", CHAPTERS)
def test_question_data_is_read_only(name):
    """An answer such as `logits = ex.Q3_LOGITS; logits /= T` cannot change the question."""
    arrays = [v for k, v in vars(MODULES[name]).items() if k.startswith("Q") and isinstance(v, np.ndarray)]
    for array in arrays:
        with pytest.raises(ValueError, match="read-only"):
            array /= 2


def test_solution_shows_the_code_of_the_solution_notebook():
    from logitlab.authoring import solution_codes

    codes = solution_codes(Path(__file__).resolve().parents[1] / "solutions")
    assert sorted(codes) == sorted(q.id for q in ALL_QUESTIONS)
    for q in ALL_QUESTIONS:
        assert q.solution_code == codes[q.id]
        assert "### BEGIN SOLUTION" not in q.solution_code
