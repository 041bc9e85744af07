"""Exercises of chapter 1: logits.

Questions 1 to 3 ask for a function (the binary logit, a sigmoid that never overflows, the
log-softmax); questions 4 and 5 ask for values (logits recovered from probabilities, accepted up to
a constant per row, and odds computed from logit differences). Every check runs the learner's
answer on ordinary and extreme inputs (probabilities of 0 and 1, float32 logits of 1000 and 1e4,
ties, ``-inf`` masks, batches, ``axis=0``) and names the common mistakes it recognises.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..checking import Case, FunctionQuestion, Mistake, ValueQuestion, frozen, questions_in, same
from ..numerics import log_softmax, sigmoid, softmax
from ..probing import RAISED, RETURNED, Outcome
from ..tolerance import precision, probabilities
from .mistakes import exp_normalise

__all__ = ["q1", "q2", "q3", "q4", "q5", "QUESTIONS", "Q4_PROBS", "Q5_LOGITS"]


_F32 = np.float32


# -- Question 1: the binary logit ----------------------------------------------------------------

def _logit_reference(p):
    p = np.asarray(p)
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def _logit_log_only(p):
    return np.log(np.asarray(p))


def _logit_sign_flipped(p):
    p = np.asarray(p)
    return np.log((1 - p) / p)


def _logit_log10(p):
    p = np.asarray(p)
    return np.log10(p / (1 - p))


def _logit_clipped(p):
    p = np.clip(np.asarray(p), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


q1 = FunctionQuestion(
    id="1.1",
    title="the binary logit, the inverse of the sigmoid",
    name="logit",
    reference=_logit_reference,
    cases=[
        Case((np.array([0.5, 0.25, 0.75, 0.9]),)),
        Case((np.array([1e-12, 0.5, 1 - 1e-12]),), label="([1e-12, 0.5, 1 - 1e-12]: near 0 and 1)"),
        Case((np.array([0.0, 1.0]),), label="([0, 1]: the logit is -inf and +inf)"),
        Case((np.array([1e-6, 0.5, 0.999], dtype=_F32),), label="([1e-6, 0.5, 0.999] in float32)"),
        Case((np.array([[0.1, 0.2, 0.3], [0.6, 0.99, 1e-30]]),), label="(a 2 x 3 array)"),
    ],
    mistakes=[
        Mistake(
            "log_only",
            _logit_log_only,
            "you returned log(p), the log-probability. The binary logit is the log of the odds, "
            "log(p / (1 - p)): for p = 0.5 it is 0 (even odds), not log(0.5). log(p) is the "
            "multi-class story (a logit up to a constant), which does not apply to a single "
            "probability.",
        ),
        Mistake(
            "sign_flipped",
            _logit_sign_flipped,
            "your logit has the wrong sign: you computed log((1 - p) / p), the log-odds of the "
            "*other* outcome. A probability above 0.5 must give a positive logit: log(p / (1 - p)).",
        ),
        Mistake(
            "log10",
            _logit_log10,
            "you used a base-10 logarithm. Logits are natural logarithms (the sigmoid uses e^x), "
            "so use np.log, not np.log10: your values are too small by a factor of ln(10).",
        ),
        Mistake(
            "clipped",
            _logit_clipped,
            "you clipped p to [1e-7, 1 - 1e-7] first, so p = 1e-12 gives about -16.1 instead of "
            "-27.6, and p = 0 gives a finite number instead of -inf. The logit of p = 1e-12 is "
            "perfectly representable: do not clip, let 0 and 1 give -inf and +inf.",
        ),
    ],
    hints=[
        "The odds of an event of probability p are p / (1 - p); the logit is their natural "
        "logarithm.",
        "np.log(p) - np.log1p(-p) computes the same thing, and keeps the precision of 1 - p for "
        "small p. Work on whole arrays: no Python loop, no math.log.",
        "At p = 0 and p = 1 NumPy gives -inf and +inf (with a divide-by-zero warning, which you "
        "may silence with np.errstate(divide='ignore')). That is the right answer: do not clip.",
    ],
)


# -- Question 2: a sigmoid that never overflows --------------------------------------------------

@dataclasses.dataclass(frozen=True)
class _NoOverflowCase(Case):
    """A case run with NumPy's overflow errors turned on: an overflow counts as a NaN result.

    ``1 / (1 + np.exp(-x))`` returns the right 0 for x = -1000, but only after exp(1000)
    overflowed to inf (NumPy prints a RuntimeWarning). The question asks for a sigmoid that does
    not overflow at all, so here an overflow makes the whole result NaN, which no right answer
    gives, and which the overflowing mistakes are recognised by.
    """

    errstate: dict = dataclasses.field(default_factory=lambda: {"over": "raise"})

    def _nan(self):
        return np.full(np.shape(self.args[0]), np.nan)

    def call(self, function):
        with np.errstate(over="raise"):
            try:
                return super().call(function)
            except FloatingPointError:
                return self._nan()

    def interpret(self, outcome):
        if outcome.kind == RAISED and outcome.type_name == "FloatingPointError":
            return Outcome(RETURNED, self._nan(), "ndarray")
        return outcome


def _sigmoid_reference(x):
    return sigmoid(x)


def _sigmoid_naive(x):
    return 1 / (1 + np.exp(-np.asarray(x)))


def _sigmoid_exp_ratio(x):
    e = np.exp(np.asarray(x))
    return e / (1 + e)


def _sigmoid_where_both(x):
    x = np.asarray(x)
    return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def _sigmoid_sign_flipped(x):
    return sigmoid(-np.asarray(x))


q2 = FunctionQuestion(
    id="1.2",
    title="a sigmoid that never overflows",
    name="stable_sigmoid",
    reference=_sigmoid_reference,
    sizes=probabilities,  # probabilities: quantities of size 1, exponentials of the logits
    cases=[
        _NoOverflowCase((np.array([-3.0, -1.0, 0.0, 1.0, 3.0]),)),
        _NoOverflowCase((np.array([-1000.0], dtype=_F32),), label="([-1000] in float32)"),
        _NoOverflowCase((np.array([1000.0], dtype=_F32),), label="([1000] in float32)"),
        _NoOverflowCase((np.array([-1e4, -20.0, 0.0, 20.0, 1e4], dtype=_F32),),
                        label="([-1e4, -20, 0, 20, 1e4] in float32)"),
        _NoOverflowCase((np.array([[0.5, -100.0], [100.0, -0.5]], dtype=_F32),),
                        label="([[0.5, -100], [100, -0.5]] in float32, a 2 x 2 array)"),
    ],
    mistakes=[
        Mistake(
            "naive_overflow",
            _sigmoid_naive,
            "1 / (1 + np.exp(-x)) overflows for large negative x: exp(1000) is inf (in float32 "
            "already from x = -89). The result happens to be 0, but NumPy warns 'overflow "
            "encountered in exp', and the same inf turns into NaN as soon as it meets another inf "
            "or a 0. Exponentiate only -|x|: with e = np.exp(-np.abs(x)), the sigmoid is "
            "1 / (1 + e) where x >= 0 and e / (1 + e) where x < 0.",
        ),
        Mistake(
            "exp_ratio_overflow",
            _sigmoid_exp_ratio,
            "exp(x) / (1 + exp(x)) overflows for large positive x: exp(1000) is inf and "
            "inf / inf is NaN, where the answer is 1. Exponentiate only -|x|: with "
            "e = np.exp(-np.abs(x)), the sigmoid is 1 / (1 + e) where x >= 0 and e / (1 + e) "
            "where x < 0.",
        ),
        Mistake(
            "where_evaluates_both",
            _sigmoid_where_both,
            "you chose between 1 / (1 + exp(-x)) and exp(x) / (1 + exp(x)) with np.where, which is "
            "the right idea, but np.where computes BOTH formulas for every element before choosing, "
            "so exp(1000) is still computed (and overflows) for x = 1000 and x = -1000. Compute "
            "e = np.exp(-np.abs(x)) once (it never overflows), then choose between 1 / (1 + e) "
            "and e / (1 + e).",
        ),
        Mistake(
            "sign_flipped",
            _sigmoid_sign_flipped,
            "you computed sigmoid(-x) = 1 / (1 + exp(x)): large positive logits give probabilities "
            "near 0 instead of near 1. The sigmoid is 1 / (1 + exp(-x)), increasing in x.",
        ),
    ],
    hints=[
        "exp overflows only for a large positive argument. For x >= 0, 1 / (1 + exp(-x)) only "
        "exponentiates a number <= 0; for x < 0, multiply top and bottom by exp(x): "
        "exp(x) / (1 + exp(x)), which again only exponentiates a number < 0.",
        "Both cases exponentiate -|x|. Compute e = np.exp(-np.abs(x)) once.",
        "Then return np.where(x >= 0, 1 / (1 + e), e / (1 + e)): neither branch can overflow, "
        "even though np.where evaluates both.",
    ],
)


# -- Question 3: log-probabilities from logits ---------------------------------------------------

def _lsm_reference(z, axis=-1):
    return log_softmax(z, axis=axis)


def _lsm_returned_logits(z, axis=-1):
    return np.asarray(z)


def _lsm_max_only(z, axis=-1):
    z = np.asarray(z)
    return z - np.max(z, axis=axis, keepdims=True)


def _lsm_log_of_softmax(z, axis=-1):
    return np.log(softmax(z, axis=axis))


def _lsm_log_of_naive_softmax(z, axis=-1):
    return np.log(exp_normalise(z, axis=axis))


def _lsm_no_max(z, axis=-1):
    z = np.asarray(z)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _lsm_last_axis_only(z, axis=-1):
    return log_softmax(z, axis=-1)


q3 = FunctionQuestion(
    id="1.3",
    title="log-probabilities from logits (log-softmax)",
    name="log_softmax",
    reference=_lsm_reference,
    cases=[
        Case((np.array([0.1, 0.3, 0.5, 0.9]),), label="([0.1, 0.3, 0.5, 0.9], the chapter's example)"),
        Case((np.array([1000.0, 0.0, -1000.0], dtype=_F32),), label="([1000, 0, -1000] in float32)"),
        Case((np.array([0.0, -200.0], dtype=_F32),), label="([0, -200] in float32)"),
        Case((np.array([[2.0, 2.0, 2.0], [1e4, 0.0, 1e4]], dtype=_F32),),
             label="([[2, 2, 2], [1e4, 0, 1e4]] in float32: ties and huge logits)"),
        Case((np.array([1.0, -np.inf, 3.0]),), label="([1, -inf, 3]: a masked class)"),
        Case((np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 9.0]]),), {"axis": 0}),
    ],
    mistakes=[
        Mistake(
            "returned_logits",
            _lsm_returned_logits,
            "you returned the logits unchanged. Logits are log-probabilities only up to a constant: "
            "subtract logsumexp(z) along the axis so that exp of the result sums to 1.",
        ),
        Mistake(
            "max_not_logsumexp",
            _lsm_max_only,
            "you subtracted the maximum logit, which makes the largest entry 0, but that is only "
            "the log-probability when one class takes all the probability. Subtract the "
            "log-sum-exp: z - (m + log(sum(exp(z - m)))) with m the maximum.",
        ),
        Mistake(
            "log_of_softmax",
            _lsm_log_of_softmax,
            "you took the log of the softmax. A class far behind gets a probability that "
            "underflows to exactly 0 (e^-200 in float32), and log(0) = -inf, where the right "
            "answer is about -200. Compute z - logsumexp(z) directly, never forming the "
            "probabilities.",
        ),
        Mistake(
            "log_of_naive_softmax",
            _lsm_log_of_naive_softmax,
            "you took the log of a softmax that does not subtract the maximum: exp(1000) is inf, "
            "inf / inf is NaN, and a class far behind gets probability 0, whose log is -inf. Two "
            "fixes are needed: subtract the maximum before exponentiating, and never form the "
            "probabilities at all: return z - logsumexp(z) along the axis.",
        ),
        Mistake(
            "no_max_subtraction",
            _lsm_no_max,
            "you computed z - log(sum(exp(z))) without subtracting the maximum first: exp(1000) "
            "is inf, so the result is -inf or NaN. Use logsumexp(z) = m + log(sum(exp(z - m))) "
            "with m = max(z) along the axis.",
        ),
        Mistake(
            "ignored_axis",
            _lsm_last_axis_only,
            "your function always works along the last axis: with axis=0 the classes are along "
            "the first axis. Pass `axis` on to np.max and np.sum (with keepdims=True).",
        ),
    ],
    hints=[
        "log softmax(z)_i = z_i - log(sum_j exp(z_j)): the logits minus their log-sum-exp.",
        "Compute the log-sum-exp stably: m = np.max(z, axis=axis, keepdims=True), then "
        "m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True)).",
        "Keep the reduced axis (keepdims=True) so the subtraction broadcasts, and use `axis` "
        "everywhere.",
    ],
)


# -- Question 4: logits from probabilities -------------------------------------------------------

_Q4_HIDDEN = np.array(
    [
        [2.0, 1.0, 0.1, -1.0],
        [0.0, 0.0, 0.0, 0.0],
        [30.0, 0.0, -5.0, 2.0],
    ]
)
#: The probabilities of question 4: the softmax of some logits (a tie in the second row, and
#: probabilities below 1e-12 in the third).
Q4_PROBS = frozen(softmax(_Q4_HIDDEN))


def _same_up_to_shift(got, expected, **tolerance):
    """Like :func:`same`, but logits are compared after centring each row (any shift is right)."""
    try:
        got = np.asarray(got.numpy() if hasattr(got, "numpy") else got)
        tolerance["eps"] = max(precision(got.dtype), tolerance.get("eps") or 0.0)
        got = got.astype(float)
    except Exception:
        return f"expected a number or an array of numbers, got {type(got).__name__}"
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        return f"expected shape {expected.shape}, got shape {got.shape}"
    if not np.all(np.isfinite(got)):
        return "some of your logits are not finite (inf or NaN); every probability here is above 0"
    centred = got - got.mean(axis=-1, keepdims=True)
    target = expected - expected.mean(axis=-1, keepdims=True)
    why = same(centred, target, **tolerance)
    if why is None:
        return None
    return f"{why} (both shifted so that each row has mean 0: any constant per row is accepted)"


def _q4_expected():
    return {"recovered_logits": np.log(Q4_PROBS)}


def _q4_binary_logit():
    return {"recovered_logits": np.log(Q4_PROBS / (1 - Q4_PROBS))}


def _q4_probabilities():
    return {"recovered_logits": Q4_PROBS}


def _q4_log10():
    return {"recovered_logits": np.log10(Q4_PROBS)}


def _q4_epsilon():
    return {"recovered_logits": np.log(Q4_PROBS + 1e-7)}


q4 = ValueQuestion(
    id="1.4",
    title="logits that reproduce given probabilities",
    names=["recovered_logits"],
    expected=_q4_expected,
    mistakes=[
        Mistake(
            "binary_logit_per_class",
            _q4_binary_logit,
            "you applied the binary logit log(p / (1 - p)) to each class. That inverts a sigmoid, "
            "not a softmax: the softmax of those values is not the given probabilities. For a "
            "softmax, log(p) works, and so does log(p) + c for any constant c per row.",
        ),
        Mistake(
            "probabilities_as_logits",
            _q4_probabilities,
            "you used the probabilities themselves as logits. The softmax of [0.7, 0.2, 0.1] is "
            "not [0.7, 0.2, 0.1]: it is much flatter. Take the logarithm: the softmax inverts exp.",
        ),
        Mistake(
            "log10",
            _q4_log10,
            "you used a base-10 logarithm. The softmax exponentiates with e, so undo it with the "
            "natural logarithm np.log: base-10 logs are too small by a factor of ln(10) and give "
            "a flatter distribution.",
        ),
        Mistake(
            "added_epsilon",
            _q4_epsilon,
            "you added a small epsilon (1e-7) before the logarithm. No probability here is 0, so "
            "there is nothing to protect against, and the epsilon swamps the three smallest ones "
            "(below 1e-12): their log-probabilities all come out near -16 instead of -28, -30 "
            "and -35. Take np.log(p) as it is.",
        ),
    ],
    hints=[
        "softmax(z)_i = exp(z_i) / sum_j exp(z_j), so log(softmax(z)_i) = z_i - logsumexp(z): "
        "the log-probabilities are the logits minus one constant per row.",
        "So np.log(ex.Q4_PROBS) is a valid answer, and so is np.log(ex.Q4_PROBS) + 5 or anything "
        "else shifted by a constant per row: the softmax cannot tell them apart.",
        "Do not use log(p / (1 - p)): that is the binary logit, the inverse of the sigmoid.",
    ],
    compare=_same_up_to_shift,
)


# -- Question 5: odds from logit differences -----------------------------------------------------

#: The logits of question 5, in float32: an ordinary row, a row where classes 0 and 1 are both far
#: behind class 2 (their probabilities underflow to 0), and a row at the scale of 1e4.
Q5_LOGITS = frozen(
    [
        [2.0, 0.5, -1.0],
        [-1000.0, -1003.0, 0.0],
        [1e4, 9998.0, 0.0],
    ],
    dtype=_F32,
)


def _q5_expected():
    return {"odds": np.exp(Q5_LOGITS[:, 0] - Q5_LOGITS[:, 1])}


def _q5_ratio_of_softmax():
    p = softmax(Q5_LOGITS)
    with np.errstate(invalid="ignore"):
        return {"odds": p[:, 0] / p[:, 1]}


def _q5_log_odds():
    return {"odds": Q5_LOGITS[:, 0] - Q5_LOGITS[:, 1]}


def _q5_reversed():
    return {"odds": np.exp(Q5_LOGITS[:, 1] - Q5_LOGITS[:, 0])}


q5 = ValueQuestion(
    id="1.5",
    title="the odds of class 0 against class 1, from the logits",
    names=["odds"],
    expected=_q5_expected,
    mistakes=[
        Mistake(
            "ratio_of_softmax",
            _q5_ratio_of_softmax,
            "you divided the two softmax probabilities. In the second row both are about e^-1000, "
            "which is 0 in float32, and 0 / 0 is NaN. The ratio of two probabilities depends only "
            "on the difference of their logits: p0 / p1 = exp(z0 - z1). Use that.",
        ),
        Mistake(
            "log_odds_not_odds",
            _q5_log_odds,
            "you returned the logit difference z0 - z1, which is the log of the odds. The odds "
            "are its exponential: np.exp(z0 - z1).",
        ),
        Mistake(
            "reversed",
            _q5_reversed,
            "you computed the odds of class 1 against class 0, exp(z1 - z0). The question asks "
            "for p0 / p1 = exp(z0 - z1).",
        ),
    ],
    hints=[
        "p0 / p1 = exp(z0 - L) / exp(z1 - L), where L = logsumexp(z): the L cancels.",
        "So the odds are exp(z0 - z1), one value per row: use the columns ex.Q5_LOGITS[:, 0] and "
        "ex.Q5_LOGITS[:, 1].",
        "Do not compute the softmax: in the second row both probabilities underflow to 0.",
    ],
)

QUESTIONS = questions_in(globals())
