"""The questions of the exercise notebooks, one module per chapter.

In an exercise notebook::

    from logitlab.exercises import chapter2 as ex
    ex.q1.check()      # correct / not yet attempted / what is wrong
    ex.q1.hint()
    ex.q1.solution()
"""

import importlib

CHAPTERS = ("chapter1", "chapter2", "chapter3", "chapter4", "chapter5", "chapter6")


def questions(chapter):
    """Return the questions of a chapter module (``"chapter2"``), in order."""
    module = importlib.import_module(f"{__name__}.{chapter}")
    return list(module.QUESTIONS)
