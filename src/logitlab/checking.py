"""Exercise questions with ``check()``, ``hint()`` and ``solution()``, in the manner of learntools.

A question knows the names of the answers the learner defines in the notebook (a function such
as ``stable_softmax`` or a value such as ``loss``). ``check()`` looks them up in the notebook's
namespace, tests them on several inputs (extreme ones included), and says one of three things:
``correct``, ``not yet attempted``, or what is wrong. It recognises common wrong answers
(:class:`Mistake`) and names them. It never raises at the learner for a wrong answer.

The same :meth:`Question.evaluate` is what the grader (:mod:`logitlab.grading`) calls, outside the
learner's kernel, so a notebook cannot change how it is marked.
"""

from __future__ import annotations

import dataclasses
import html
import re
import sys
import textwrap
import traceback
import warnings
from typing import Any, Sequence

import numpy as np

__all__ = [
    "CORRECT",
    "INCORRECT",
    "UNATTEMPTED",
    "Case",
    "CheckResult",
    "FunctionQuestion",
    "Mistake",
    "Question",
    "ValueQuestion",
    "same",
]

CORRECT = "correct"
INCORRECT = "incorrect"
UNATTEMPTED = "not yet attempted"

_MISSING = object()


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one question: a status and feedback for the learner."""

    status: str
    feedback: str = ""
    mistake: str | None = None  # the name of the recognised mistake, if any

    @property
    def passed(self) -> bool:
        return self.status == CORRECT

    def _title(self):
        return {CORRECT: "Correct", UNATTEMPTED: "Not yet attempted", INCORRECT: "Incorrect"}[self.status]

    def __str__(self):
        text = self._title()
        return f"{text}: {self.feedback}" if self.feedback else text

    def _repr_html_(self):
        colour = {CORRECT: "#2e7d32", UNATTEMPTED: "#6d6d6d", INCORRECT: "#c62828"}[self.status]
        body = f": {_code_spans(html.escape(self.feedback))}" if self.feedback else ""
        return f'<p><strong style="color:{colour}">{self._title()}</strong>{body}</p>'

    def __repr__(self):
        return str(self)


def _code_spans(escaped):
    """Show the feedback's `code` spans as code in the notebook (the text is already escaped)."""
    return re.sub(r"`([^`\n]+)`", r"<code>\1</code>", escaped)


def same(got, expected, rtol=1e-6, atol=1e-9):
    """Return ``None`` if ``got`` matches ``expected`` (shape and values), else why not."""
    try:
        got_array = np.asarray(got.numpy() if hasattr(got, "numpy") else got, dtype=float)
    except Exception:
        return f"expected a number or an array of numbers, got {type(got).__name__}"
    expected = np.asarray(expected, dtype=float)
    if got_array.shape != expected.shape:
        return f"expected shape {expected.shape}, got shape {got_array.shape}"
    if not np.allclose(got_array, expected, rtol=rtol, atol=atol, equal_nan=True):
        return (
            f"expected {_show(expected)}, got {_show(got_array)}"
        )
    return None


def _show(value):
    array = np.asarray(value, dtype=float)
    with np.printoptions(precision=6, suppress=False, threshold=12, edgeitems=3):
        text = np.array2string(array, separator=", ")
    return " ".join(text.split())


@dataclasses.dataclass(frozen=True)
class Case:
    """One input on which a function answer is tested: positional args and keyword args."""

    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    label: str = ""

    def call(self, function):
        args = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in self.args)
        return function(*args, **self.kwargs)

    def describe(self):
        if self.label:
            return self.label
        parts = [_short(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return "(" + ", ".join(parts) + ")"


def _short(value):
    if isinstance(value, np.ndarray):
        return _show(value) if value.size <= 8 else f"an array of shape {value.shape}"
    return repr(value)


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A common wrong answer, recognised by reproducing it.

    ``answer`` is a function (for a function question) or a value (for a value question) that
    makes the mistake; when the learner's answer agrees with it, ``message`` is shown.
    """

    name: str
    answer: Any
    message: str


class Question:
    """Base class: a question with an id, points, hints and a worked solution."""

    def __init__(self, id, title, answer_names, hints, solution, points=1):
        self.id = id
        self.title = title
        self.answer_names = tuple(answer_names)
        self.hints = tuple(hints)
        self.solution_code = textwrap.dedent(solution).strip("\n")
        self.points = points
        self.mistakes: Sequence[Mistake] = ()

    # -- what the learner calls -------------------------------------------------------------
    def check(self, namespace=None):
        """Check the learner's answer and show the result (never raises for a wrong answer)."""
        answers = self.collect(namespace if namespace is not None else _caller_namespace())
        result = self.evaluate(answers)
        _display(result)

    def hint(self, n=None):
        """Show a hint; ``hint(2)`` shows the second one, ``hint()`` all of them."""
        if not self.hints:
            text = "No hint for this question."
        elif n is None:
            text = "\n".join(f"Hint {i}: {h}" for i, h in enumerate(self.hints, 1))
        else:
            n = max(1, min(int(n), len(self.hints)))
            text = f"Hint {n} of {len(self.hints)}: {self.hints[n - 1]}"
        print(text)

    def solution(self):
        """Show a worked solution."""
        print(f"Solution to question {self.id}:\n\n{self.solution_code}")

    # -- what the grader calls --------------------------------------------------------------
    def collect(self, namespace):
        """Pick this question's answers out of a namespace (missing ones are left out)."""
        return {name: namespace[name] for name in self.answer_names if name in namespace}

    def evaluate(self, answers) -> CheckResult:
        """Return the :class:`CheckResult` for the given answers; never raises."""
        missing = [n for n in self.answer_names if n not in answers]
        if missing:
            return CheckResult(
                UNATTEMPTED, f"define {', '.join(f'`{n}`' for n in missing)} in the cell above, then check again."
            )
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return self._evaluate(answers)
        except Exception as err:  # a bug in a check must not reach the learner as a traceback
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            return CheckResult(INCORRECT, f"the check could not evaluate your answer ({detail}).")

    def _evaluate(self, answers) -> CheckResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"<question {self.id}: {self.title} ({self.points} point{'s' if self.points != 1 else ''})>"


class FunctionQuestion(Question):
    """The learner writes a function; it is called on each :class:`Case` and compared."""

    def __init__(self, id, title, name, reference, cases, hints, solution, mistakes=(), points=1,
                 compare=same):
        super().__init__(id, title, (name,), hints, solution, points)
        self.name = name
        self.reference = reference
        self.cases = tuple(cases)
        self.mistakes = tuple(mistakes)
        self.compare = compare

    def _evaluate(self, answers):
        function = answers[self.name]
        if function is None or function is Ellipsis:
            return CheckResult(UNATTEMPTED, f"write the body of `{self.name}`, then check again.")
        if not callable(function):
            return CheckResult(INCORRECT, f"`{self.name}` should be a function, got {type(function).__name__}.")
        outcomes = []
        for case in self.cases:
            try:
                got = case.call(function)
            except NotImplementedError:
                return CheckResult(UNATTEMPTED, f"`{self.name}` still raises NotImplementedError: replace that line with your code.")
            except Exception as err:
                return CheckResult(
                    INCORRECT,
                    f"`{self.name}{case.describe()}` raised {type(err).__name__}: {err}",
                )
            if got is None or got is Ellipsis:
                return CheckResult(UNATTEMPTED if got is Ellipsis else INCORRECT,
                                   f"`{self.name}` returned {got!r}: did you forget `return`?")
            outcomes.append((case, got))
        failures = [(case, got, why) for case, got in outcomes
                    if (why := self.compare(got, case.call(self.reference))) is not None]
        if not failures:
            return CheckResult(CORRECT)
        for mistake in self.mistakes:
            if all(self._agrees(mistake.answer, case, got) for case, got in outcomes):
                return CheckResult(INCORRECT, mistake.message, mistake.name)
        case, _, why = failures[0]
        return CheckResult(INCORRECT, f"wrong result for `{self.name}{case.describe()}`: {why}.")

    def _agrees(self, wrong, case, got):
        try:
            return self.compare(got, case.call(wrong)) is None
        except Exception:
            return False


class ValueQuestion(Question):
    """The learner computes one or more values; they are compared with expected values."""

    def __init__(self, id, title, names, expected, hints, solution, mistakes=(), points=1,
                 compare=same):
        super().__init__(id, title, names, hints, solution, points)
        self.expected = expected  # a callable returning {name: value}, computed when checked
        self.mistakes = tuple(mistakes)  # each mistake's answer is a callable returning {name: value}
        self.compare = compare

    def _evaluate(self, answers):
        if any(answers[n] is None or answers[n] is Ellipsis for n in self.answer_names):
            empty = [n for n in self.answer_names if answers[n] is None or answers[n] is Ellipsis]
            return CheckResult(UNATTEMPTED, f"give {', '.join(f'`{n}`' for n in empty)} a value, then check again.")
        expected = self.expected()
        problems = [(n, why) for n in self.answer_names if (why := self.compare(answers[n], expected[n])) is not None]
        if not problems:
            return CheckResult(CORRECT)
        for mistake in self.mistakes:
            wrong = mistake.answer()
            if all(self.compare(answers[n], wrong[n]) is None for n in wrong):
                return CheckResult(INCORRECT, mistake.message, mistake.name)
        name, why = problems[0]
        return CheckResult(INCORRECT, f"`{name}` is not right: {why}.")


def _caller_namespace():
    """The notebook's namespace: ``__main__``, where the learner's cells define their names."""
    return vars(sys.modules["__main__"])


def _display(result):
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display(result)
            return
    except ImportError:  # pragma: no cover - IPython ships with the kernel
        pass
    print(result)
