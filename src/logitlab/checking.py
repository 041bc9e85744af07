"""Exercise questions with ``check()``, ``hint()`` and ``solution()``, in the manner of learntools.

A question knows the names of the answers the learner defines in the notebook (a function such
as ``stable_softmax`` or a value such as ``loss``). ``check()`` looks them up in the notebook's
namespace, tests them on several inputs (extreme ones included), and says one of three things:
``correct``, ``not yet attempted``, or what is wrong. It recognises common wrong answers
(:class:`Mistake`) and names them. It never raises at the learner for a wrong answer.

A question runs the learner's code through :mod:`logitlab.probing` and judges only what comes
back, as data (:meth:`Question.judge`). The grader (:mod:`logitlab.grading`) runs the probes in the
learner's kernel and the judgement in a process where no learner code ran, so a notebook cannot
change how it is marked. How close a number must be is decided in one place,
:mod:`logitlab.tolerance`.
"""

from __future__ import annotations

import dataclasses
import html
import re
import sys
import traceback
import warnings
from typing import Any, Sequence

import numpy as np

from .probing import (INTERRUPTED, MISSING, NOT_CALLED, RAISED, RETURNED, opaque, pack, pack_probes,
                      run, unpack)
from .tolerance import compare, magnitude, precision, show

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
    "frozen",
    "questions_in",
    "same",
]

CORRECT = "correct"
INCORRECT = "incorrect"
UNATTEMPTED = "not yet attempted"



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


def same(got, expected, scale=0.0, exponent=0.0, eps=None, rtol=0.0, atol=0.0):
    """Return ``None`` if ``got`` matches ``expected`` within rounding, else why not.

    The one tolerance policy of every check (:func:`logitlab.tolerance.compare`): it follows the
    dtypes and the size of the quantities involved (``scale``).
    """
    return compare(got, expected, scale=scale, exponent=exponent, eps=eps, rtol=rtol, atol=atol)


def frozen(array, dtype=None):
    """A read-only copy of ``array``: question data an answer cannot change in place."""
    array = np.array(array, dtype=dtype, copy=True)
    array.flags.writeable = False
    return array


@dataclasses.dataclass(frozen=True)
class Case:
    """One input on which a function answer is tested: positional args and keyword args.

    ``errstate`` is NumPy's error handling during the learner's call (all errors ignored unless
    it says otherwise). Arguments may hold :class:`~logitlab.probing.Seeded` and
    :class:`~logitlab.probing.Built` markers.
    """

    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    label: str = ""
    errstate: dict = dataclasses.field(default_factory=dict)

    def probe(self, name):
        """The probe that calls the learner's function ``name`` on this case (see :mod:`probing`)."""
        return {"call": name, "args": tuple(self.args), "kwargs": dict(self.kwargs), "errstate": dict(self.errstate)}

    def call(self, function):
        """Call one of the checks' own functions (reference, mistake) on fresh copies of the inputs."""
        arrays = {}
        args = unpack(pack(tuple(self.args), arrays), arrays)
        kwargs = unpack(pack(dict(self.kwargs), arrays), arrays)
        return function(*args, **kwargs)

    def interpret(self, outcome):
        """What the learner's outcome means for this case (a subclass may map an error to a value)."""
        return outcome

    def tolerance(self, expected):
        """The ``scale`` and ``eps`` of the comparison: the size and precision of the inputs."""
        floats = [a for a in _leaves(self.args) + _leaves(self.kwargs) if _is_float_array(a)]
        return {"scale": magnitude(expected, *floats),
                "eps": precision(*(np.asarray(a).dtype for a in floats))}

    def describe(self):
        if self.label:
            return self.label
        parts = [_short(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return "(" + ", ".join(parts) + ")"


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _is_float_array(value):
    return isinstance(value, (np.ndarray, np.generic, float)) and np.asarray(value).dtype.kind == "f"


def _short(value):
    if isinstance(value, np.ndarray):
        return show(value) if value.size <= 8 else f"an array of shape {value.shape}"
    return repr(value)


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A common wrong answer, recognised by reproducing it.

    ``answer`` is a function (for a function question) or a value (for a value question) that
    makes the mistake; when the learner's answer agrees with it, ``message`` is shown. A function
    question's mistake may be made in several ways (e.g. breaking ties either way): ``answer``
    is then a tuple of functions, and agreeing with any one of them names the mistake.
    """

    name: str
    answer: Any
    message: str

    def variants(self):
        return tuple(self.answer) if isinstance(self.answer, (tuple, list)) else (self.answer,)


class Question:
    """Base class: a question with an id, points, hints and a worked solution.

    A question declares its *probes* (what to call or read in the learner's namespace, on which
    inputs) and *judges* what they gave (:meth:`judge`), which is data only. ``check()`` does
    both in the notebook; the grader runs the probes in the learner's kernel and judges the data
    in a process where no learner code ran. The worked solution is written once, in the solution
    notebook: ``solution()`` shows the code stored from it (``logitlab/exercises/solutions.json``).
    """

    def __init__(self, id, title, answer_names, hints, points=1):
        self.id = id
        self.title = title
        self.answer_names = tuple(answer_names)
        self.hints = tuple(hints)
        self.points = points
        self.mistakes: Sequence[Mistake] = ()

    @property
    def solution_code(self):
        from .exercises import solution_code

        return solution_code(self.id)

    # -- what the learner calls -------------------------------------------------------------
    def check(self, namespace=None):
        """Check the learner's answer and show the result (never raises for a wrong answer)."""
        result = self.evaluate(namespace if namespace is not None else _caller_namespace())
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
        """Show the worked solution (the code of the solution notebook)."""
        print(f"Solution to question {self.id}:\n\n{self.solution_code}")

    # -- probes and judgement ---------------------------------------------------------------
    def probes(self):  # pragma: no cover - abstract
        """The probes to run in the learner's namespace (see :mod:`logitlab.probing`)."""
        raise NotImplementedError

    def evaluate(self, namespace) -> CheckResult:
        """Run the probes against ``namespace`` (a dict of the learner's names) and judge them."""
        arrays = {}
        return self.judge(run(pack_probes(self.probes(), arrays), arrays, namespace))

    def judge(self, outcomes) -> CheckResult:
        """Return the :class:`CheckResult` for what the probes gave (data); never raises."""
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return self._judge(list(outcomes))
        except Exception as err:  # a bug in a check must not reach the learner as a traceback
            detail = "".join(traceback.format_exception_only(type(err), err)).strip()
            return CheckResult(INCORRECT, f"the check could not evaluate your answer ({detail}).")

    def _judge(self, outcomes) -> CheckResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def _missing(self, outcomes):
        names = [p.get("call") or p.get("value") for p, o in zip(self.probes(), outcomes) if o.kind == MISSING]
        names = list(dict.fromkeys(names))
        if names:
            return CheckResult(
                UNATTEMPTED, f"define {', '.join(f'`{n}`' for n in names)} in the cell above, then check again.")
        return None

    def __repr__(self):
        return f"<question {self.id}: {self.title} ({self.points} point{'s' if self.points != 1 else ''})>"


def _got(outcome):
    """The learner's returned value as the comparisons see it: data, or a stand-in of its type."""
    return outcome.value if outcome.value is not None else opaque(outcome.type_name)


class FunctionQuestion(Question):
    """The learner writes a function; it is called on each :class:`Case` and compared.

    ``sizes`` says how large the quantities involved are, for the tolerance: a function of the
    case's arguments returning ``{"scale": ..., "exponent": ...}`` (see :mod:`logitlab.tolerance`;
    :func:`~logitlab.tolerance.probabilities` for answers that are probabilities); by default the
    scale is the largest magnitude among the inputs and the expected values.

    ``same_calls`` and ``different_calls`` are pairs of case indices whose results must be
    identical, or must differ: the reproducibility of an answer that takes a seeded generator
    (called twice with generators seeded alike it must draw the same; seeded differently, not).
    """

    def __init__(self, id, title, name, reference, cases, hints, mistakes=(), points=1,
                 compare=same, sizes=None, same_calls=(), different_calls=()):
        super().__init__(id, title, (name,), hints, points)
        self.name = name
        self.reference = reference
        self.cases = tuple(cases)
        self.mistakes = tuple(mistakes)
        self.compare = compare
        self.sizes = sizes
        self.same_calls = tuple(same_calls)
        self.different_calls = tuple(different_calls)

    def probes(self):
        return [case.probe(self.name) for case in self.cases]

    def _judge(self, outcomes):
        missing = self._missing(outcomes)
        if missing:
            return missing
        first = outcomes[0]
        if first.kind == RETURNED and first.message == "not callable":
            if first.type_name in ("NoneType", "ellipsis"):
                return CheckResult(UNATTEMPTED, f"write the body of `{self.name}`, then check again.")
            return CheckResult(INCORRECT, f"`{self.name}` should be a function, got {first.type_name}.")
        got = []
        for case, outcome in zip(self.cases, outcomes):
            outcome = case.interpret(outcome)
            call = f"`{self.name}{case.describe()}`"
            if outcome.kind == RAISED and outcome.type_name == "NotImplementedError":
                return CheckResult(UNATTEMPTED, f"`{self.name}` still raises NotImplementedError: replace that line with your code.")
            if outcome.kind == RAISED:
                return CheckResult(INCORRECT, f"{call} raised {outcome.type_name}: {outcome.message}")
            if outcome.kind in (INTERRUPTED, NOT_CALLED):
                return CheckResult(INCORRECT, f"{call} did not finish within the check's time limit (an endless loop?).")
            if outcome.value is None and outcome.type_name in ("NoneType", "ellipsis"):
                return CheckResult(UNATTEMPTED if outcome.type_name == "ellipsis" else INCORRECT,
                                   f"`{self.name}` returned {'Ellipsis' if outcome.type_name == 'ellipsis' else 'None'}: "
                                   "did you forget `return`?")
            got.append((case, _got(outcome)))
        failures = [(case, value, why) for case, value in got
                    if (why := self._differs(case, value, case.call(self.reference))) is not None]
        if failures:
            for mistake in self.mistakes:
                if any(all(self._agrees(variant, case, value) for case, value in got)
                       for variant in mistake.variants()):
                    return CheckResult(INCORRECT, mistake.message, mistake.name)
            case, _, why = failures[0]
            return CheckResult(INCORRECT, f"wrong result for `{self.name}{case.describe()}`: {why}.")
        return self._reproducible([value for _, value in got]) or CheckResult(CORRECT)

    def _differs(self, case, got, expected):
        tolerance = case.tolerance(expected)
        if self.sizes is not None:
            tolerance.update(case.call(self.sizes))
        return self.compare(got, expected, **tolerance)

    def _agrees(self, wrong, case, got):
        try:
            return self._differs(case, got, case.call(wrong)) is None
        except Exception:
            return False

    def _reproducible(self, values):
        for i, j in self.same_calls:
            if not np.array_equal(values[i], values[j]):
                return CheckResult(
                    INCORRECT,
                    f"called twice with generators seeded alike, `{self.name}{self.cases[i].describe()}` gave "
                    "different results: draw with the generator `rng` you are given (rng.choice), not with "
                    "np.random, so that the same generator state gives the same samples.")
        for i, j in self.different_calls:
            if np.array_equal(values[i], values[j]):
                return CheckResult(
                    INCORRECT,
                    f"with generators seeded differently, `{self.name}` gave exactly the same results for "
                    f"{self.cases[i].describe()} and {self.cases[j].describe()}: draw with the generator `rng` "
                    "you are given, not with a generator of your own.")
        return None


class ValueQuestion(Question):
    """The learner computes one or more values; they are compared with expected values.

    ``scale`` and ``exponent`` are the sizes of the quantities the values are computed from (the
    question's data), for the tolerance (:mod:`logitlab.tolerance`); by default, the scale is the
    size of the expected values.
    """

    def __init__(self, id, title, names, expected, hints, mistakes=(), points=1,
                 compare=same, scale=0.0, exponent=0.0):
        super().__init__(id, title, names, hints, points)
        self.expected = expected  # a callable returning {name: value}, computed when checked
        self.mistakes = tuple(mistakes)  # each mistake's answer is a callable returning {name: value}
        self.compare = compare
        self.scale = scale
        self.exponent = exponent

    def probes(self):
        return [{"value": name} for name in self.answer_names]

    def _judge(self, outcomes):
        missing = self._missing(outcomes)
        if missing:
            return missing
        empty = [n for n, o in zip(self.answer_names, outcomes) if o.value is None and o.type_name in ("NoneType", "ellipsis")]
        if empty:
            return CheckResult(UNATTEMPTED, f"give {', '.join(f'`{n}`' for n in empty)} a value, then check again.")
        answers = {n: _got(o) for n, o in zip(self.answer_names, outcomes)}
        expected = self.expected()
        problems = [(n, why) for n in self.answer_names if (why := self._differs(answers[n], expected[n])) is not None]
        if not problems:
            return CheckResult(CORRECT)
        for mistake in self.mistakes:
            wrong = mistake.answer()
            if all(self._differs(answers[n], wrong[n]) is None for n in wrong):
                return CheckResult(INCORRECT, mistake.message, mistake.name)
        name, why = problems[0]
        return CheckResult(INCORRECT, f"`{name}` is not right: {why}.")

    def _differs(self, got, expected):
        return self.compare(got, expected, scale=max(self.scale, magnitude(expected)), exponent=self.exponent)


def questions_in(namespace):
    """The questions defined in a chapter module's ``namespace``, in the order of their ids."""
    found = [v for v in namespace.values() if isinstance(v, Question)]
    return sorted(found, key=lambda q: tuple(int(part) for part in q.id.split(".")))


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
