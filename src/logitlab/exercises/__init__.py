"""The questions of the exercise notebooks, one module per chapter.

In an exercise notebook::

    from logitlab.exercises import chapter2 as ex
    ex.q1.check()      # correct / not yet attempted / what is wrong
    ex.q1.hint()
    ex.q1.solution()

Chapters are the modules named ``chapterN`` in this package, and a chapter's questions are the
questions its module defines (:func:`logitlab.checking.questions_in`): no list is kept by hand.
The worked solutions are written once, in ``solutions/NN_*.ipynb``; ``logitlab exercises``
stores their code in ``solutions.json`` here, which ``solution()`` shows.
"""

import functools
import importlib
import json
import pkgutil
import re
from pathlib import Path

SOLUTIONS_FILE = Path(__file__).with_name("solutions.json")

CHAPTERS = tuple(sorted(
    (m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"chapter\d+", m.name)),
    key=lambda name: int(name.removeprefix("chapter")),
))


def questions(chapter):
    """Return the questions of a chapter module (``"chapter2"``), in order."""
    if chapter not in CHAPTERS:
        raise ImportError(f"no exercise chapter {chapter!r}")
    module = importlib.import_module(f"{__name__}.{chapter}")
    return list(module.QUESTIONS)


@functools.lru_cache(maxsize=1)
def _solutions():
    try:
        return json.loads(SOLUTIONS_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def solution_code(qid):
    """The worked solution of question ``qid`` (``"2.1"``), as written in its solution notebook."""
    code = _solutions().get(qid)
    if code is None:
        return f"No worked solution is stored for question {qid}: run `logitlab exercises`."
    return code
