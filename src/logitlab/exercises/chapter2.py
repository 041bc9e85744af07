"""Exercises of chapter 2: softmax.

Questions 1, 2 and 4 ask for a function (one step of an online log-sum-exp over a batch split into
chunks, where a row can be fully masked; a softmax with temperature; a masked softmax); question
3 asks for two values (the temperature at which the top class reaches probability 0.9, and the
entropy there). Every check runs the learner's answer on ordinary and extreme inputs (float32
logits of 1000 and 1e4, rows of -1000, ``-inf`` masks and masked chunks, ties, batches) and
names the common mistakes it recognises.
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


# -- Question 1: one step of an online log-sum-exp over a batch, masked chunks included -----------

def _online_reference(m, s, chunk):
    """The exact update, in float64: each row's new maximum, and its sum rescaled to it."""
    m = np.asarray(m, dtype=float)
    s = np.asarray(s, dtype=float)
    c = np.asarray(chunk, dtype=float)
    new_m = np.maximum(m, np.max(c, axis=-1))
    finite = np.isfinite(new_m)
    shift = np.where(finite, new_m, 0.0)  # a row with nothing finite yet: m stays -inf, s stays 0
    new_s = s * np.exp(np.where(finite, m - shift, 0.0)) + np.sum(np.exp(c - shift[:, None]), axis=-1)
    return new_m, np.where(finite, new_s, 0.0)


def _online_unguarded(m, s, chunk):
    m, s, c = (np.asarray(a, dtype=float) for a in (m, s, chunk))
    new_m = np.maximum(m, np.max(c, axis=-1))
    return new_m, s * np.exp(m - new_m) + np.sum(np.exp(c - new_m[:, None]), axis=-1)


def _online_skip_whole_chunk(m, s, chunk):
    """The chapter's guard, copied: skip the chunk only when *every* row of it is masked."""
    c = np.asarray(chunk, dtype=float)
    if np.max(c) == -np.inf:
        return np.asarray(m, dtype=float), np.asarray(s, dtype=float)
    return _online_unguarded(m, s, chunk)


def _online_not_rescaled(m, s, chunk):
    m, s, c = (np.asarray(a, dtype=float) for a in (m, s, chunk))
    new_m = np.maximum(m, np.max(c, axis=-1))
    finite = np.isfinite(new_m)
    shift = np.where(finite, new_m, 0.0)
    return new_m, np.where(finite, s + np.sum(np.exp(c - shift[:, None]), axis=-1), 0.0)


def _online_rescaled_upwards(m, s, chunk, guarded=True):
    """s * exp(new_m - m); unguarded, a row with m = -inf gets 0 * inf = NaN."""
    m, s, c = (np.asarray(a, dtype=float) for a in (m, s, chunk))
    new_m = np.maximum(m, np.max(c, axis=-1))
    finite = np.isfinite(new_m)
    shift = np.where(finite, new_m, 0.0)
    factor = np.exp(np.where(finite & np.isfinite(m), shift - m, 0.0) if guarded else shift - m)
    new_s = s * factor + np.sum(np.exp(c - shift[:, None]), axis=-1)
    return new_m, np.where(finite, new_s, 0.0) if guarded else new_s


def _online_chunk_max(m, s, chunk):
    """float(np.max(chunk)) as in the chapter's one-row code: one maximum for the whole batch."""
    m, s, c = (np.asarray(a, dtype=float) for a in (m, s, chunk))
    new_m = np.maximum(m, np.max(c))
    finite = np.isfinite(new_m)
    shift = np.where(finite, new_m, 0.0)
    new_s = s * np.exp(np.where(finite, m - shift, 0.0)) + np.sum(np.exp(c - shift[:, None]), axis=-1)
    return new_m, np.where(finite, new_s, 0.0)


_NEG = -np.inf

q1 = FunctionQuestion(
    id="2.1",
    title="one step of an online log-sum-exp, masked chunks included",
    name="online_update",
    reference=_online_reference,
    cases=[
        Case((np.array([_NEG]), np.array([0.0]), np.array([[1.0, 2.0, 0.5]])),
             label="(m=[-inf], s=[0], chunk [[1, 2, 0.5]]): the first chunk"),
        Case((np.array([1.0, 5.0]), np.array([1.5, 2.0]), np.array([[3.0, 0.0, -1.0], [1.0, 2.0, 4.0]])),
             label="(m=[1, 5], s=[1.5, 2], chunk [[3, 0, -1], [1, 2, 4]]): the maximum grows in row 0 only"),
        Case((np.array([_NEG, _NEG, 0.5]), np.array([0.0, 0.0, 1.0]),
              np.array([[_NEG, _NEG], [0.5, _NEG], [_NEG, _NEG]])),
             label="(m=[-inf, -inf, 0.5], s=[0, 0, 1], chunk [[-inf, -inf], [0.5, -inf], [-inf, -inf]]): "
                   "masked rows"),
        Case((np.array([_NEG, _NEG]), np.array([0.0, 0.0]), np.full((2, 3), _NEG)),
             label="(m=[-inf, -inf], s=[0, 0], a chunk of -inf only): nothing seen yet"),
        Case((np.array([2.0]), np.array([1.25]), np.array([[_NEG, _NEG, _NEG, _NEG]])),
             label="(m=[2], s=[1.25], chunk [[-inf, -inf, -inf, -inf]]): a masked chunk after logits"),
        Case((np.array([_NEG, _NEG]), np.array([0.0, 0.0]), np.array([[1000.0, 999.0], [-1000.0, -1001.0]])),
             label="(m=[-inf, -inf], s=[0, 0], chunk [[1000, 999], [-1000, -1001]]): rows 2000 apart"),
        Case((np.array([1e4, -1e4], dtype=_F32), np.array([1.0, 2.0], dtype=_F32),
              np.array([[1e4 + 1, 0.0, 1e4], [-1e4, 9000.0, _NEG]], dtype=_F32)),
             label="(float32 m=[1e4, -1e4], s=[1, 2], chunk [[10001, 0, 1e4], [-1e4, 9000, -inf]])"),
        Case((np.array([3.0, 0.0]), np.array([2.5, 1.0]), np.array([[3.0, 3.0], [-2.0, -0.5]])),
             label="(m=[3, 0], s=[2.5, 1], chunk [[3, 3], [-2, -0.5]]): ties with the running maximum"),
    ],
    mistakes=[
        Mistake(
            "masked_row_nan",
            (_online_unguarded, _online_skip_whole_chunk),
            "a row that has seen no finite logit yet (m = -inf) and gets a chunk of -inf only "
            "comes out NaN: its new maximum is -inf too, and exp(m - new_m) = exp(-inf - (-inf)) "
            "is NaN. Skipping a chunk only when the *whole* chunk is -inf is not enough in a batch: "
            "one row can be masked while the others are not. Decide row by row, with np.where: "
            "where new_m is -inf, keep m = -inf and s = 0 (and subtract 0 instead of -inf).",
        ),
        Mistake(
            "not_rescaled",
            _online_not_rescaled,
            "you added the chunk's sum to s without rescaling s: s was a sum of exp(z - m) for "
            "the old maximum m, and once the maximum grows to new_m every old term must become "
            "exp(z - new_m) = exp(z - m) * exp(m - new_m). Multiply s by exp(m - new_m) first.",
        ),
        Mistake(
            "rescaled_upwards",
            (_online_rescaled_upwards, functools.partial(_online_rescaled_upwards, guarded=False)),
            "you rescaled s by exp(new_m - m), the wrong way round: that factor is >= 1 and can "
            "overflow. The old terms exp(z - m) become exp(z - new_m) = exp(z - m) * exp(m - new_m), "
            "and m - new_m <= 0.",
        ),
        Mistake(
            "one_maximum_for_the_batch",
            _online_chunk_max,
            "you took one maximum for the whole chunk (np.max(chunk) without an axis, as the "
            "chapter's one-row code does with float(np.max(chunk))). In a batch each row needs its "
            "own maximum: np.max(chunk, axis=-1). With one maximum, a row far below it gets "
            "exp(-2000) = 0 for every logit, and its sum is 0 instead of about 1.37.",
        ),
    ],
    hints=[
        "Row by row, the new maximum is new_m = np.maximum(m, np.max(chunk, axis=-1)), and the new "
        "sum is s * exp(m - new_m) + sum(exp(chunk - new_m)) along the last axis: every exponent "
        "is <= 0.",
        "Where new_m is -inf the row has seen nothing finite: -inf - (-inf) is NaN. Replace new_m "
        "by 0 there before subtracting (np.where(np.isfinite(new_m), new_m, 0)), and make sure s "
        "stays 0 for that row.",
        "new_m has shape (batch,) and chunk (batch, n): subtract new_m[:, None] (or keepdims) "
        "from the chunk so that each row uses its own maximum.",
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
        "last axis, keepdims=True) before np.exp, so that every exponent is at most 0.",
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
        "Then apply the stable softmax (subtract each row's maximum) along the last axis.",
        "A fully masked row has maximum -inf and sum of exponentials 0: subtract 0 instead of "
        "-inf there (np.where(np.isfinite(m), m, 0)) and return zeros where the sum is 0.",
    ],
)

QUESTIONS = questions_in(globals())
