"""The battery: independent answers to every question of every chapter, as learners write them.

Each chapter's answers live in ``tests/battery/chapterN.py`` (data: ``RIGHT``, ``NAMED``,
``UNNAMED``); the test logic is written once, here. Chapters are found by discovery
(:data:`logitlab.exercises.CHAPTERS`), so a new chapter without a battery fails
``test_every_chapter_has_a_full_battery`` instead of being skipped. A function question's answer
is the function; a value question's answer is a function that returns the learner's values.

- every RIGHT answer (SciPy, TensorFlow, loops, float32 where the question allows it, the
  chapter's and the hints' formulas) is *Correct*; there are at least five per question;
- every named mistake, written as a learner would write it, is recognised by its name;
- every UNNAMED wrong answer (at least three per question) is *Incorrect*.
"""

import importlib
from pathlib import Path

import nbformat
import numpy as np
import pytest

from logitlab.authoring import chapter_of
from logitlab.checking import CORRECT, INCORRECT, ValueQuestion
from logitlab.exercises import CHAPTERS, questions

ROOT = Path(__file__).resolve().parents[1]
MIN_RIGHT, MIN_UNNAMED = 5, 3


def _battery(chapter):
    try:
        return importlib.import_module(f"battery.{chapter}")
    except ModuleNotFoundError:
        return None


BATTERIES = {chapter: _battery(chapter) for chapter in CHAPTERS}
QUESTIONS = {q.id: q for chapter in CHAPTERS for q in questions(chapter)}


def _params(kind):
    found = []
    for chapter, battery in BATTERIES.items():
        table = getattr(battery, kind, {}) if battery else {}
        for key, answers in table.items():
            for answer in answers if kind != "NAMED" else [answers]:
                qid = key[0] if kind == "NAMED" else key
                label = f"{qid}-{key[1]}" if kind == "NAMED" else f"{qid}-{answer.__name__}"
                found.append(pytest.param(key, answer, id=label))
    return found


def _namespace(q, answer):
    """What the learner's notebook holds: the function, or the values the answer computes."""
    with np.errstate(all="ignore"):
        return answer() if isinstance(q, ValueQuestion) else {q.name: answer}


def _evaluate(q, answer):
    with np.errstate(all="ignore"):
        return q.evaluate(_namespace(q, answer))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_has_a_full_battery(chapter):
    battery = BATTERIES[chapter]
    assert battery is not None, f"tests/battery/{chapter}.py is missing"
    ids = [q.id for q in questions(chapter)]
    assert sorted(battery.RIGHT) == sorted(ids) and sorted(battery.UNNAMED) == sorted(ids)
    for qid in ids:
        assert len(battery.RIGHT[qid]) >= MIN_RIGHT, qid
        assert len(battery.UNNAMED[qid]) >= MIN_UNNAMED, qid
        assert len({a.__name__ for a in battery.RIGHT[qid]}) == len(battery.RIGHT[qid]), qid
    named = {(q.id, m.name) for q in questions(chapter) for m in q.mistakes}
    assert set(battery.NAMED) == named


def test_every_chapter_has_notebooks_and_every_notebook_a_chapter():
    for folder in ("solutions", "exercises"):
        found = sorted(chapter_of(nbformat.read(p, as_version=4)) for p in (ROOT / folder).glob("*.ipynb"))
        assert found == sorted(CHAPTERS), folder


@pytest.mark.parametrize("qid, answer", _params("RIGHT"))
def test_a_right_answer_is_correct(qid, answer):
    result = _evaluate(QUESTIONS[qid], answer)
    assert result.status == CORRECT, result.feedback


@pytest.mark.parametrize("key, answer", _params("NAMED"))
def test_a_named_mistake_is_recognised(key, answer):
    qid, name = key
    q = QUESTIONS[qid]
    result = _evaluate(q, answer)
    assert result.status == INCORRECT
    assert result.mistake == name, (result.mistake, result.feedback)
    assert result.feedback == next(m.message for m in q.mistakes if m.name == name)


@pytest.mark.parametrize("qid, answer", _params("UNNAMED"))
def test_an_unnamed_mistake_is_incorrect(qid, answer):
    result = _evaluate(QUESTIONS[qid], answer)
    assert result.status == INCORRECT, result.feedback
    assert result.feedback
