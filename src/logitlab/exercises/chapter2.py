"""Exercises of chapter 2: softmax.

Questions 1, 2 and 4 ask for a function (a stable softmax along any axis, a softmax with
temperature, a masked softmax); question 3 asks for two values (the temperature at which the top
class reaches probability 0.9, and the entropy there). Every check runs the learner's answer on
ordinary and extreme inputs (float32 logits of 1000 and 1e4, rows of -1000, ``-inf`` masks, ties,
batches, ``axis=0``) and names the common mistakes it recognises.
"""

from __future__ import annotations

import functools

import numpy as np

from ..tolerance import probabilities
from ..checking import Case, FunctionQuestion, Mistake, ValueQuestion, frozen, questions_in, same
from ..numerics import softmax
from .mistakes import exp_normalise

__all__ = ["q1", "q2", "q3", "q4", "QUESTIONS", "Q3_LOGITS", "Q3_TARGET"]


_F32 = np.float32
_REFERENCE_LOGITS = np.array([0.1, 0.3, 0.5, 0.9])


# -- Question 1: a stable softmax along any axis -------------------------------------------------

def _softmax_reference(x, axis=-1):
    return softmax(x, axis=axis)


def _softmax_no_max(x, axis=-1):
    return exp_normalise(x, axis)


def _softmax_mean_shift(x, axis=-1):
    x = np.asarray(x)
    return exp_normalise(x - np.mean(x, axis=axis, keepdims=True), axis)


def _softmax_global_max(x, axis=-1):
    x = np.asarray(x)
    return exp_normalise(x - np.max(x), axis)


def _softmax_last_axis_only(x, axis=-1):
    return softmax(x, axis=-1)


def _softmax_whole_array(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def _softmax_twice(x, axis=-1):
    return softmax(softmax(x, axis=axis), axis=axis)


q1 = FunctionQuestion(
    id="2.1",
    title="a numerically stable softmax along any axis",
    name="stable_softmax",
    reference=_softmax_reference,
    sizes=probabilities,
    cases=[
        Case((_REFERENCE_LOGITS,), label="([0.1, 0.3, 0.5, 0.9], the chapter's reference logits)"),
        Case((np.array([1000.0, 0.0], dtype=_F32),), label="([1000, 0] in float32)"),
        Case((np.array([1000.0, 1000.0, 1000.0], dtype=_F32),), label="([1000, 1000, 1000] in float32: a tie)"),
        Case((np.array([-1000.0, -1000.0], dtype=_F32),), label="([-1000, -1000] in float32)"),
        Case((np.array([1e4, 0.0, -1e4], dtype=_F32),), label="([1e4, 0, -1e4] in float32)"),
        Case((np.array([0.0, -np.inf, 1.0]),), label="([0, -inf, 1]: a masked class)"),
        Case((np.array([[0.0, 0.0], [-1000.0, -1000.0]], dtype=_F32),),
             label="([[0, 0], [-1000, -1000]] in float32: a batch of two rows)"),
        Case((np.array([[1.0, 2.0, 3.0], [1000.0, 999.0, 998.0]], dtype=_F32),),
             label="([[1, 2, 3], [1000, 999, 998]] in float32)"),
        Case((np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),), {"axis": 0}),
        Case((np.array([[1000.0, 0.0], [0.0, -1000.0]], dtype=_F32),), {"axis": 0},
             label="([[1000, 0], [0, -1000]] in float32, axis=0)"),
    ],
    mistakes=[
        Mistake(
            "no_max_subtraction",
            _softmax_no_max,
            "you applied the definition exp(x) / sum(exp(x)) directly. In float32, exp(1000) is "
            "inf and inf / inf is NaN; for [-1000, -1000] every exp(...) is 0 and 0 / 0 is NaN. "
            "Subtract the maximum along the axis first: exp(x - max(x)) / sum(exp(x - max(x))).",
        ),
        Mistake(
            "mean_instead_of_max",
            _softmax_mean_shift,
            "you subtracted the mean instead of the maximum. Any shift gives the same softmax in "
            "exact arithmetic, but only the maximum guarantees that every exponent is <= 0 (no "
            "overflow) and that one of them is 0 (the sum is at least 1): for [1000, 0] the mean "
            "is 500 and exp(500) still overflows float32. Use np.max(x, axis=axis, keepdims=True).",
        ),
        Mistake(
            "global_max",
            _softmax_global_max,
            "you subtracted the maximum of the whole array (np.max(x) without axis) instead of "
            "each slice's own maximum. That avoids overflow, but a row far below the overall "
            "maximum underflows: with rows [0, 0] and [-1000, -1000], the second row becomes "
            "exp(-1000) / (exp(-1000) + exp(-1000)) = 0 / 0 = NaN. Use "
            "np.max(x, axis=axis, keepdims=True).",
        ),
        Mistake(
            "ignored_axis",
            _softmax_last_axis_only,
            "your function always normalises the last axis: with axis=0 each column must sum to "
            "1, not each row. Pass the `axis` argument on to np.max and np.sum (with "
            "keepdims=True).",
        ),
        Mistake(
            "whole_array",
            _softmax_whole_array,
            "you normalised over the whole array (np.sum(e) without axis), so a batch sums to 1 "
            "as a whole instead of row by row. Sum along the axis with keepdims=True: "
            "np.sum(e, axis=axis, keepdims=True).",
        ),
        Mistake(
            "softmax_twice",
            _softmax_twice,
            "you applied softmax twice: the result of the first softmax is already a "
            "probability vector, and a second softmax flattens it towards uniform. Apply it once, "
            "to the logits.",
        ),
    ],
    hints=[
        "Softmax does not change when the same constant is subtracted from every logit of a "
        "slice. Which constant makes every exponent at most 0?",
        "Subtract m = np.max(x, axis=axis, keepdims=True), take np.exp, and divide by the sum "
        "along the same axis (keepdims=True so that it broadcasts).",
        "Each slice needs its own maximum: a single maximum for the whole array lets a row far "
        "below it underflow to 0 / 0.",
    ],
)


# -- Question 2: softmax with temperature --------------------------------------------------------

def _temperature_reference(logits, temperature):
    return softmax(logits, axis=-1, temperature=temperature)


def _temperature_multiplied(logits, temperature):
    return softmax(np.asarray(logits) * temperature, axis=-1)


def _temperature_after_softmax(logits, temperature):
    return softmax(logits, axis=-1) ** (1.0 / temperature)


def _temperature_ignored(logits, temperature):
    return softmax(logits, axis=-1)


def _temperature_no_max(logits, temperature):
    return exp_normalise(np.asarray(logits) / temperature)


q2 = FunctionQuestion(
    id="2.2",
    title="softmax with temperature",
    name="temperature_softmax",
    reference=_temperature_reference,
    sizes=lambda logits, temperature: probabilities(np.asarray(logits) / temperature),
    cases=[
        Case((_REFERENCE_LOGITS, 1.0), label="([0.1, 0.3, 0.5, 0.9], temperature=1)"),
        Case((_REFERENCE_LOGITS, 0.5), label="([0.1, 0.3, 0.5, 0.9], temperature=0.5)"),
        Case((np.array([2.0, 1.0, 0.5, -1.0]), 3.0), label="([2, 1, 0.5, -1], temperature=3)"),
        Case((np.array([3.0, 2.9, 0.0], dtype=_F32), 0.01),
             label="([3, 2.9, 0] in float32, temperature=0.01)"),
        Case((np.array([1000.0, 0.0, -1000.0], dtype=_F32), 10.0),
             label="([1000, 0, -1000] in float32, temperature=10)"),
        Case((np.array([[1e4, 0.0, 1.0], [0.5, -np.inf, 0.5]], dtype=_F32), 2.0),
             label="(a float32 batch: [1e4, 0, 1] and [0.5, -inf, 0.5], temperature=2)"),
        Case((np.array([[4.0, 1.0, -2.0], [0.0, 0.0, 0.0]]), 100.0),
             label="(a batch [[4, 1, -2], [0, 0, 0]], temperature=100)"),
    ],
    mistakes=[
        Mistake(
            "multiplied_by_temperature",
            _temperature_multiplied,
            "you multiplied the logits by the temperature; they must be divided by it: "
            "softmax(z / T). Dividing by a small T makes the gaps between logits larger (a sharper "
            "distribution); multiplying does the opposite.",
        ),
        Mistake(
            "temperature_after_softmax",
            _temperature_after_softmax,
            "you raised the probabilities to the power 1 / T but did not renormalise, so the "
            "result no longer sums to 1. softmax(z)**(1/T) is proportional to exp(z / T), so "
            "dividing by its sum would be right, but the simplest way is to divide the logits by "
            "T before the softmax.",
        ),
        Mistake(
            "temperature_ignored",
            _temperature_ignored,
            "your result does not depend on the temperature: it is the plain softmax. Dividing "
            "exp(z) (or the probabilities) by T changes nothing once you normalise. The "
            "temperature divides the logits, inside the exponential: exp(z / T).",
        ),
        Mistake(
            "no_max_subtraction",
            _temperature_no_max,
            "you computed exp(z / T) without subtracting the maximum. A small temperature makes "
            "z / T large (3 / 0.01 = 300), and exp(300) overflows float32 to inf, so the result "
            "is NaN. Subtract the maximum of z / T along the last axis before exponentiating.",
        ),
    ],
    hints=[
        "The temperature T divides the logits: p = softmax(z / T). T < 1 sharpens the "
        "distribution, T > 1 flattens it.",
        "Dividing by a small T makes the logits large: subtract the maximum of z / T (along the "
        "last axis, keepdims=True) before np.exp, as in question 1.",
    ],
)


# -- Question 3: the temperature that makes the top class 90% likely -----------------------------

#: The logits of question 3 (float64).
Q3_LOGITS = frozen([2.0, 1.0, 0.5, -1.0])
#: The probability the top class should reach.
Q3_TARGET = 0.9


def _top_probability(temperature, logits=Q3_LOGITS):
    return float(np.max(softmax(logits, temperature=temperature)))


def _solve_temperature(logits=Q3_LOGITS, target=Q3_TARGET):
    """Bisection on log(T): the top class's probability falls as T grows."""
    low, high = np.log(1e-3), np.log(1e3)
    for _ in range(200):
        mid = 0.5 * (low + high)
        if _top_probability(np.exp(mid), logits) > target:
            low = mid
        else:
            high = mid
    return float(np.exp(0.5 * (low + high)))


def _entropy(p, log=np.log):
    p = np.asarray(p, dtype=float)
    return float(-np.sum(np.where(p > 0, p * log(np.where(p > 0, p, 1.0)), 0.0)))


@functools.lru_cache(maxsize=1)
def _q3_solution():
    temperature = _solve_temperature()
    return temperature, _entropy(softmax(Q3_LOGITS, temperature=temperature))


def _q3_expected():
    temperature, entropy = _q3_solution()
    return {"temperature_90": temperature, "entropy_90": entropy}


def _q3_multiplied():
    temperature, _ = _q3_solution()
    return {"temperature_90": 1.0 / temperature}


def _q3_bits():
    temperature, _ = _q3_solution()
    return {"entropy_90": _entropy(softmax(Q3_LOGITS, temperature=temperature), np.log2)}


def _q3_entropy_at_one():
    return {"entropy_90": _entropy(softmax(Q3_LOGITS))}


# A numerical solution is only as exact as its solver's tolerance: accept 1e-4 relative.
_solved = functools.partial(same, rtol=1e-4, atol=1e-6)

q3 = ValueQuestion(
    id="2.3",
    title="the temperature that makes the top class 90% likely",
    names=["temperature_90", "entropy_90"],
    expected=_q3_expected,
    mistakes=[
        Mistake(
            "multiplied_by_temperature",
            _q3_multiplied,
            "your `temperature_90` is the reciprocal of the right one: you multiplied the logits "
            "by T instead of dividing them. With softmax(z / T) the top class becomes more likely "
            "as T falls below 1.",
        ),
        Mistake(
            "entropy_in_bits",
            _q3_bits,
            "your `entropy_90` is in bits (log base 2). The question asks for nats, the natural "
            "logarithm: -sum(p * np.log(p)). (Bits = nats / log(2).)",
        ),
        Mistake(
            "entropy_at_temperature_one",
            _q3_entropy_at_one,
            "your `entropy_90` is the entropy of softmax(z) at T = 1. Compute it for the "
            "distribution at the temperature you found: p = softmax(z / temperature_90).",
        ),
    ],
    hints=[
        "The top class's probability softmax(z / T)[0] falls steadily as T grows (from 1 as "
        "T -> 0 to 1/4 as T -> inf), so there is exactly one T where it equals 0.9. Solve for it "
        "numerically: bisection, or scipy.optimize.brentq on f(T) = softmax(z / T)[0] - 0.9.",
        "Search T between 0.01 and 10 (f changes sign there). Then the entropy in nats is "
        "-sum(p * log(p)) with p = softmax(z / temperature_90).",
    ],
    compare=_solved,
)


# -- Question 4: a masked softmax ----------------------------------------------------------------

def _masked_reference(logits, mask):
    x = np.asarray(logits)
    keep = np.asarray(mask, dtype=bool)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64
    x = np.where(keep, x, -np.inf).astype(dtype)
    top = np.max(x, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    e = np.exp(x - top)
    total = np.sum(e, axis=-1, keepdims=True)
    return np.where(total > 0, e / np.where(total > 0, total, 1), 0).astype(dtype)


def _masked_with_zero(logits, mask):
    return softmax(np.where(np.asarray(mask, dtype=bool), logits, 0.0), axis=-1)


def _masked_after_softmax(logits, mask):
    return softmax(logits, axis=-1) * np.asarray(mask, dtype=bool)


def _masked_renormalised_after_softmax(logits, mask):
    kept = softmax(logits, axis=-1) * np.asarray(mask, dtype=bool)
    return kept / np.sum(kept, axis=-1, keepdims=True)


def _masked_finite_fill(logits, mask):
    x = np.asarray(logits)
    return softmax(np.where(np.asarray(mask, dtype=bool), x, -1e9).astype(x.dtype), axis=-1)


def _masked_nan_for_empty_row(logits, mask):
    x = np.where(np.asarray(mask, dtype=bool), np.asarray(logits), -np.inf)
    return exp_normalise(x - np.max(x, axis=-1, keepdims=True))


q4 = FunctionQuestion(
    id="2.4",
    title="a masked softmax",
    name="masked_softmax",
    reference=_masked_reference,
    sizes=probabilities,
    cases=[
        Case((np.array([2.0, 1.0, 0.5, -1.0]), np.array([True, False, True, True])),
             label="([2, 1, 0.5, -1], mask [True, False, True, True])"),
        Case((_REFERENCE_LOGITS, np.ones(4, dtype=bool)),
             label="([0.1, 0.3, 0.5, 0.9], nothing masked)"),
        Case((np.array([1000.0, 0.0, 5.0], dtype=_F32), np.array([False, True, True])),
             label="([1000, 0, 5] in float32, mask [False, True, True]: the masked class is far ahead)"),
        Case((np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]], dtype=_F32),
              np.array([[True, True, False], [False, True, True]])),
             label="(a float32 batch [[1e4, 0, -1e4], [0, 0, 0]], masks [[T, T, F], [F, T, T]])"),
        Case((np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
              np.array([[True, True, True], [False, False, False]])),
             label="(a batch whose second row is fully masked)"),
        Case((np.array([3.0, 3.0, 3.0, 3.0], dtype=_F32), np.array([True, False, True, False])),
             label="([3, 3, 3, 3] in float32, mask [True, False, True, False]: a tie)"),
    ],
    mistakes=[
        Mistake(
            "mask_with_zero",
            _masked_with_zero,
            "you replaced the masked logits with 0. A logit of 0 is an ordinary score, not "
            "'impossible': the masked class still gets probability exp(0) / sum. Replace them "
            "with -inf (np.where(mask, logits, -np.inf)), whose exponential is exactly 0.",
        ),
        Mistake(
            "zeroed_after_softmax",
            _masked_after_softmax,
            "you took the softmax of all the logits and then set the masked probabilities to 0, "
            "so the allowed ones no longer sum to 1. Mask the logits before the softmax "
            "(with -inf), so that the probability mass is shared among the allowed classes only.",
        ),
        Mistake(
            "renormalised_after_softmax",
            _masked_renormalised_after_softmax,
            "you zeroed the masked probabilities after the softmax and renormalised. That is "
            "right in exact arithmetic, but when a masked class has a much larger logit (1000 "
            "against 0 and 5), the allowed classes' probabilities underflow to 0 before you "
            "renormalise, and 0 / 0 is NaN. Mask the logits with -inf before the softmax.",
        ),
        Mistake(
            "finite_mask_value",
            _masked_finite_fill,
            "you masked with a large negative finite number (like -1e9). That works for a row "
            "with at least one allowed class, but a fully masked row then gets a uniform "
            "distribution, as if every class were allowed; it must be all zeros. Use -inf, and "
            "return zeros where a row has no allowed class.",
        ),
        Mistake(
            "nan_for_empty_row",
            _masked_nan_for_empty_row,
            "masking with -inf is right, but a fully masked row gives NaN: its maximum is -inf, "
            "-inf - (-inf) is NaN. Treat that case on its own: for example, replace a -inf "
            "maximum by 0 before subtracting, and return zeros where the sum of exponentials "
            "is 0.",
        ),
    ],
    hints=[
        "Set every masked logit to -inf with np.where(mask, logits, -np.inf): exp(-inf) is exactly "
        "0, so a masked class gets no probability and the others share all of it.",
        "Then apply the stable softmax of question 1 along the last axis.",
        "A fully masked row has maximum -inf and sum of exponentials 0: subtract 0 instead of "
        "-inf there (np.where(np.isfinite(m), m, 0)) and return zeros where the sum is 0.",
    ],
)

QUESTIONS = questions_in(globals())
