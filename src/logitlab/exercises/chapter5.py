"""Exercises of chapter 5: greedy decoding, temperature, top-k and top-p sampling.

Questions 1, 2 and 4 ask for a function (the top-k filter, the top-k probabilities, the top-p
filter); question 3 asks for two values computed with TensorFlow (greedy tokens and a softmax at
temperature 0.5); question 5 asks for a sampler, checked statistically. Every check runs the
learner's answer on ordinary and extreme inputs (float32 logits of 1000 and 1e4, ``-inf`` masks,
ties at the k-th value, batches, ``k`` equal to the vocabulary size, a top-p boundary that is
reached exactly) and names the common mistakes it recognises.

Conventions, as in :mod:`logitlab.sampling`: a filter returns logits with the excluded tokens set
to ``-inf``; ties at the k-th value keep the lower index (``tf.math.top_k``); top-p keeps the most
likely tokens, in that order, until the mass of the kept tokens reaches ``p``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..tolerance import magnitude, probabilities
from ..checking import Case, FunctionQuestion, Mistake, ValueQuestion, frozen, questions_in, same
from ..numerics import softmax
from ..probing import Seeded
from ..sampling import top_k_filter, top_p_filter
from .mistakes import exp_normalise

__all__ = ["q1", "q2", "q3", "q4", "q5", "QUESTIONS", "Q3_LOGITS", "Q3_TEMPERATURE"]

_F32 = np.float32
_NEG_INF = -np.inf



def _close_rows(got, expected, **tolerance):
    """Like :func:`same`, but a row of ``expected`` that holds a NaN only asks ``got``'s row for one.

    The correct answers never contain NaN, so this changes nothing for them; it lets a mistake
    that overflows (exp(1000) is inf, inf / inf is NaN) be recognised whichever entries of the
    broken row the learner's code happens to turn into NaN.
    """
    try:  # the arrays keep their dtypes: the tolerance follows them
        expected_array = np.asarray(expected)
        if not np.isnan(expected_array.astype(float)).any():
            return same(got, expected, **tolerance)
        got_array = np.asarray(got.numpy() if hasattr(got, "numpy") else got)
        got_array.astype(float)
    except Exception:
        return same(got, expected, **tolerance)
    if got_array.shape != expected_array.shape:
        return f"expected shape {expected_array.shape}, got shape {got_array.shape}"
    broken = np.isnan(expected_array.astype(float)).any(axis=-1)
    got_broken = np.isnan(got_array.astype(float)).any(axis=-1)
    if np.any(broken != got_broken):
        return "NaN in different rows"
    if np.any(~broken):
        return same(got_array[~broken], expected_array[~broken], **tolerance)
    return None


def _as_array(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _stable_softmax(z, axis=-1):
    z = np.asarray(z, dtype=float)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _keep_first(x, k, ascending_ties=False):
    """A mask that keeps the ``k`` largest entries of each row (``k`` clipped to the row size).

    Ties go to the lower index, or to the higher one with ``ascending_ties`` (what taking the
    last ``k`` entries of an ascending ``np.argsort`` does).
    """
    x = np.asarray(x, dtype=float)
    k = int(min(max(k, 0), x.shape[-1]))
    if ascending_ties:
        chosen = np.argsort(x, axis=-1, kind="stable")[..., x.shape[-1] - k:]
    else:
        chosen = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(x.shape, dtype=bool)
    np.put_along_axis(keep, chosen, True, axis=-1)
    return keep


def _kth_largest(x, k):
    """The k-th largest value of each row, with the axis kept (for threshold-style filters)."""
    x = np.asarray(x, dtype=float)
    return np.sort(x, axis=-1)[..., x.shape[-1] - k: x.shape[-1] - k + 1]


#: Fifty logits with long runs of ties: a sort that is not stable breaks the lower-index rule on
#: runs this long (NumPy's default sort is only stable on short arrays).
_LONG_TIES = np.concatenate([[0.5], np.ones(30), np.zeros(10), -np.ones(9)])


# -- Question 1: the top-k filter ---------------------------------------------------------------

def _topk_reference(logits, k):
    return top_k_filter(logits, k)


def _topk_k_plus_one(logits, k, ascending_ties=False):
    x = np.asarray(logits, dtype=float)
    return np.where(_keep_first(x, k + 1, ascending_ties), x, _NEG_INF)


def _topk_strict_threshold(logits, k):
    x = np.asarray(logits, dtype=float)
    return np.where(x > _kth_largest(x, k), x, _NEG_INF)


def _topk_zero_not_inf(logits, k):
    x = np.asarray(logits, dtype=float)
    return np.where(_keep_first(x, k), x, 0.0)


def _topk_ties_all_kept(logits, k):
    x = np.asarray(logits, dtype=float)
    return np.where(x >= _kth_largest(x, k), x, _NEG_INF)


def _topk_ties_higher_index(logits, k):
    x = np.asarray(logits, dtype=float)
    return np.where(_keep_first(x, k, ascending_ties=True), x, _NEG_INF)


def _topk_whole_batch(logits, k):
    x = np.asarray(logits, dtype=float)
    threshold = np.sort(x, axis=None)[x.size - k]
    return np.where(x >= threshold, x, _NEG_INF)


q1 = FunctionQuestion(
    id="5.1",
    title="the top-k filter",
    name="top_k_filter",
    reference=_topk_reference,
    cases=[
        Case((np.array([1.0, 3.0, 2.0, 0.5, -1.0]), 2)),
        Case((np.array([-2.0, -0.5, -3.0, -1.0]), 2), label="([-2, -0.5, -3, -1], 2): negative logits"),
        Case((np.array([2.0, 1.0, 2.0, 2.0]), 2), label="([2, 1, 2, 2], 2): a three-way tie at the 2nd value"),
        Case((_LONG_TIES, 17), label="(50 logits: 0.5, then 30 tied 1s, then 0s and -1s, k=17): a long run of ties"),
        Case((np.stack([_LONG_TIES, _LONG_TIES[::-1]]).astype(_F32), 9),
             label="(float32 batch: the 50 logits and their reverse, k=9): long runs of ties"),
        Case((np.array([[0.5, 2.0, 1.0, -1.0], [3.0, -2.0, 0.0, 1.0]]), 3),
             label="(a batch of 2 rows, k=3)"),
        Case((np.array([[1000.0, 999.0, 0.0, -1000.0], [1e4, -1e4, 5.0, 1e4 - 1]], dtype=_F32), 2),
             label="(float32 logits of 1000 and 1e4, k=2)"),
        Case((np.array([0.0, _NEG_INF, 1.0, _NEG_INF, -2.0]), 2), label="([0, -inf, 1, -inf, -2], 2): masked tokens"),
        Case((np.array([0.0, _NEG_INF, 1.0, _NEG_INF]), 3),
             label="([0, -inf, 1, -inf], 3): k larger than the number of unmasked tokens"),
        Case((np.array([[0.3, -0.2, 0.1]]), 1), label="([[0.3, -0.2, 0.1]], 1): k=1 is greedy"),
        Case((np.array([0.3, -0.2, 0.1, 4.0]), 4), label="([0.3, -0.2, 0.1, 4], 4): k = vocabulary size"),
    ],
    mistakes=[
        Mistake(
            "kept_k_plus_one",
            (_topk_k_plus_one, functools.partial(_topk_k_plus_one, ascending_ties=True)),
            "your filter keeps k + 1 tokens: an off-by-one in the index of the k-th largest value. "
            "In an ascending sort of n logits, the k-th largest is at index n - k (np.sort(x)[..., -k]), "
            "and np.argsort(...)[..., -k:] gives the last k indices.",
        ),
        Mistake(
            "strict_threshold",
            _topk_strict_threshold,
            "your filter keeps only k - 1 tokens: you compared the logits with the k-th largest "
            "value using `>`, which drops the k-th token itself. Keep exactly the k largest.",
        ),
        Mistake(
            "zero_instead_of_inf",
            _topk_zero_not_inf,
            "you set the excluded logits to 0 instead of -inf. A logit of 0 is not excluded: "
            "exp(0) = 1, so those tokens keep probability, and when the kept logits are negative "
            "an 'excluded' token even becomes the most likely. Use -np.inf.",
        ),
        Mistake(
            "ties_keep_more_than_k",
            _topk_ties_all_kept,
            "your filter keeps every logit >= the k-th largest value, so a tie at the k-th value "
            "keeps more than k tokens ([2, 1, 2, 2] with k=2 must keep 2 tokens, not 3). Keep "
            "exactly k, the lower index first on ties, as tf.math.top_k does: pick positions "
            "with a stable sort (np.argsort(-x, kind='stable')[..., :k]) instead of a threshold.",
        ),
        Mistake(
            "ties_prefer_higher_index",
            _topk_ties_higher_index,
            "on a tie at the k-th value your filter keeps the higher index; the convention (that "
            "of tf.math.top_k and of logitlab) keeps the lower one. The last k entries of an "
            "ascending np.argsort put equal values in reverse order: use the first k of a stable "
            "sort of -x, np.argsort(-x, axis=-1, kind='stable')[..., :k].",
        ),
        Mistake(
            "whole_batch_threshold",
            _topk_whole_batch,
            "you took the k largest logits of the whole batch instead of each row's own k largest "
            "(np.sort without an axis flattens the array). Sort along the last axis, "
            "axis=-1, and keep the axis (keepdims or [..., None]) so the threshold broadcasts row by row.",
        ),
    ],
    hints=[
        "Sort each row from the largest value down, remembering the positions: "
        "np.argsort(-x, axis=-1, kind='stable') (stable, so ties keep the lower index first).",
        "The first k columns of that argsort are the positions to keep. Build a boolean mask "
        "with np.put_along_axis (or np.take_along_axis on a rank array).",
        "Return np.where(mask, x, -np.inf): excluded tokens get -inf, not 0.",
    ],
)


# -- Question 2: the top-k probabilities -------------------------------------------------------

def _topk_probs_reference(logits, k):
    return softmax(top_k_filter(logits, k))


def _topk_probs_not_renormalised(logits, k):
    x = np.asarray(logits, dtype=float)
    return np.where(_keep_first(x, k), _stable_softmax(x), 0.0)


def _topk_probs_zero_logits(logits, k):
    x = np.asarray(logits, dtype=float)
    return _stable_softmax(np.where(_keep_first(x, k), x, 0.0))


def _topk_probs_naive(logits, k):
    x = np.asarray(logits)
    return exp_normalise(np.where(_keep_first(x, k), x, _NEG_INF))


def _topk_probs_batch_normalised(logits, k):
    x = np.asarray(logits, dtype=float)
    e = np.where(_keep_first(x, k), np.exp(x - np.max(x, axis=-1, keepdims=True)), 0.0)
    return e / np.sum(e)


q2 = FunctionQuestion(
    id="5.2",
    title="the probabilities after top-k",
    name="top_k_probabilities",
    reference=_topk_probs_reference,
    sizes=probabilities,
    cases=[
        Case((np.array([1.0, 3.0, 2.0, 0.5, -1.0]), 2)),
        Case((np.array([-2.0, -0.5, -3.0, -1.0]), 3), label="([-2, -0.5, -3, -1], 3): negative logits"),
        Case((np.array([[0.5, 2.0, 1.0, -1.0], [3.0, -2.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]), 2),
             label="(a batch of 3 rows, the last one a four-way tie, k=2)"),
        Case((_LONG_TIES, 17), label="(50 logits: 0.5, then 30 tied 1s, then 0s and -1s, k=17): a long run of ties"),
        Case((np.array([[1000.0, 999.0, 0.0, -1000.0], [1e4, -1e4, 5.0, 1e4 - 1]], dtype=_F32), 2),
             label="(float32 logits of 1000 and 1e4, k=2)"),
        Case((np.array([0.0, _NEG_INF, 1.0, _NEG_INF, -2.0]), 3), label="([0, -inf, 1, -inf, -2], 3): masked tokens"),
        Case((np.array([0.3, -0.2, 0.1, 4.0]), 1), label="([0.3, -0.2, 0.1, 4], 1): k=1 is greedy"),
    ],
    mistakes=[
        Mistake(
            "not_renormalised",
            _topk_probs_not_renormalised,
            "you took the softmax over all tokens and then zeroed the excluded ones: the kept "
            "probabilities no longer add up to 1. Mask the logits first (excluded ones to -inf) "
            "and take the softmax of the result, or divide the kept probabilities by their sum.",
        ),
        Mistake(
            "zero_instead_of_inf",
            _topk_probs_zero_logits,
            "the excluded tokens still get probability: you set their logits to 0 instead of "
            "-inf before the softmax, and exp(0) = 1. Use -np.inf.",
        ),
        Mistake(
            "unstable_softmax",
            _topk_probs_naive,
            "your softmax overflows: exp(1000) is inf in float32 (and exp(1e4) in float64), and "
            "inf / inf is NaN. Subtract each row's maximum logit before exponentiating "
            "(np.max(z, axis=-1, keepdims=True)); a -inf logit still gives exp(-inf) = 0.",
        ),
        Mistake(
            "normalised_over_batch",
            _topk_probs_batch_normalised,
            "you divided by the sum over the whole batch, so each row adds up to less than 1. "
            "Normalise each row by its own sum: np.sum(e, axis=-1, keepdims=True).",
        ),
    ],
    hints=[
        "Start from your top_k_filter of question 1: the excluded logits become -inf.",
        "Then take a stable softmax along the last axis: subtract the row maximum, exponentiate "
        "(exp(-inf) = 0), divide by the row sum.",
        "The softmax of the masked logits is automatically renormalised over the kept tokens: "
        "each row sums to 1 and has exactly k non-zero entries.",
    ],
    compare=_close_rows,
)


# -- Question 3: greedy tokens and temperature with TensorFlow -----------------------------------

#: The logits of question 3: an ordinary row, a row at the scale of 1000, negative logits with a
#: masked token, and a row at the scale of 1e4 (float32, 4 rows of 6 tokens).
Q3_LOGITS = frozen(
    [
        [1.0, 2.0, 0.5, -1.0, 2.5, 0.0],
        [1000.0, 998.0, 999.0, 0.0, -1000.0, 997.0],
        [-5.0, -4.5, -4.75, -15.0, -np.inf, -4.6],
        [1e4, 0.0, -1e4, 9999.0, 0.5, 1.0],
    ],
    dtype=_F32,
)
#: The temperature of question 3.
Q3_TEMPERATURE = 0.5


def _q3_expected():
    return {
        "greedy_ids": np.argmax(Q3_LOGITS, axis=-1),
        "cool_probs": softmax(Q3_LOGITS, temperature=Q3_TEMPERATURE),
    }


def _q3_multiplied():
    return {"cool_probs": softmax(Q3_LOGITS * _F32(Q3_TEMPERATURE))}


def _q3_naive():
    return {"cool_probs": exp_normalise(Q3_LOGITS / _F32(Q3_TEMPERATURE))}


def _q3_wrong_axis():
    return {"greedy_ids": np.argmax(Q3_LOGITS, axis=0)}


def _q3_extra_axis():
    return {"greedy_ids": np.argmax(Q3_LOGITS, axis=-1)[:, None]}


q3 = ValueQuestion(
    id="5.3",
    title="greedy tokens and a temperature with TensorFlow",
    names=["greedy_ids", "cool_probs"],
    expected=_q3_expected,
    scale=1.0,  # probabilities, exponentials of logits / T of up to 2e4
    exponent=magnitude(Q3_LOGITS) / Q3_TEMPERATURE,
    mistakes=[
        Mistake(
            "temperature_multiplied",
            _q3_multiplied,
            "`cool_probs` multiplies the logits by the temperature. Temperature divides them: "
            "softmax(z / T). With T = 0.5 the distribution must get sharper, not flatter.",
        ),
        Mistake(
            "unstable_softmax",
            _q3_naive,
            "`cool_probs` overflows: z / T is 2000 in the second row and 20000 in the last, "
            "exp of that is inf in float32, and inf / inf is NaN. Use tf.nn.softmax(z / T) (which "
            "subtracts the maximum for you) or subtract each row's maximum first.",
        ),
        Mistake(
            "argmax_over_batch",
            _q3_wrong_axis,
            "`greedy_ids` takes the argmax over the batch (axis=0): it says which row has the "
            "largest logit for each token. Greedy decoding picks, in each row, the token with "
            "the largest logit: tf.argmax(logits, axis=-1), one id per row.",
        ),
        Mistake(
            "extra_axis",
            _q3_extra_axis,
            "`greedy_ids` has shape (4, 1), as tf.math.top_k(logits, k=1).indices returns it. "
            "Keep one id per row, shape (4,): use tf.argmax(logits, axis=-1), or take [:, 0].",
        ),
    ],
    hints=[
        "Greedy decoding takes the token with the largest logit in each row: tf.argmax along the "
        "last axis. There is no softmax needed: softmax never changes which logit is largest.",
        "Temperature divides the logits before the softmax: tf.nn.softmax(logits / T).",
        "Both answers keep the batch axis: greedy_ids has shape (4,), cool_probs (4, 6).",
    ],
    compare=_close_rows,
)


# -- Question 4: the top-p filter ----------------------------------------------------------------

def _topp_reference(logits, p):
    return top_p_filter(logits, p)


def _sorted_masses(x, descending=True):
    """The order of the tokens, their sorted probabilities and the mass of the tokens before them."""
    probs = _stable_softmax(x)
    order = np.argsort(-x if descending else x, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    cumulative = np.cumsum(sorted_probs, axis=-1)
    return order, sorted_probs, cumulative


def _unsort(keep_sorted, order):
    keep = np.zeros(keep_sorted.shape, dtype=bool)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return keep


def _topp_crossing_excluded(logits, p):
    x = np.asarray(logits, dtype=float)
    order, _, cumulative = _sorted_masses(x)
    return np.where(_unsort(cumulative <= p, order), x, _NEG_INF)


def _topp_boundary_kept(logits, p):
    x = np.asarray(logits, dtype=float)
    order, sorted_probs, cumulative = _sorted_masses(x)
    return np.where(_unsort(cumulative - sorted_probs <= p, order), x, _NEG_INF)


def _topp_least_likely(logits, p):
    x = np.asarray(logits, dtype=float)
    order, sorted_probs, cumulative = _sorted_masses(x, descending=False)
    return np.where(_unsort(cumulative - sorted_probs < p, order), x, _NEG_INF)


def _topp_probabilities(logits, p):
    x = np.asarray(logits, dtype=float)
    return np.where(np.isfinite(top_p_filter(x, p)), _stable_softmax(x), 0.0)


q4 = FunctionQuestion(
    id="5.4",
    title="the top-p (nucleus) filter",
    name="top_p_filter",
    reference=_topp_reference,
    cases=[
        Case((np.log(np.array([0.1, 0.4, 0.05, 0.3, 0.15])), 0.8),
             label="(log([0.1, 0.4, 0.05, 0.3, 0.15]), p=0.8)"),
        Case((np.array([0.0, 0.0, 0.0, 0.0]), 0.5),
             label="([0, 0, 0, 0], p=0.5): two tokens reach 0.5 exactly"),
        Case((np.array([[2.0, 0.0, 1.0, -1.0], [0.0, 3.0, 0.5, 0.2]]), 0.7),
             label="(a batch of 2 rows, p=0.7)"),
        Case((np.array([[1000.0, 999.0, 998.0, 0.0], [1e4, 1e4 - 0.5, -1e4, 1e4 - 3.0]], dtype=_F32), 0.9),
             label="(float32 logits of 1000 and 1e4, p=0.9)"),
        Case((np.array([1.0, _NEG_INF, 0.0, _NEG_INF, 2.0]), 0.95),
             label="([1, -inf, 0, -inf, 2], p=0.95): masked tokens"),
        Case((np.array([3.0, 0.0, 1.0, 2.0]), 0.2), label="([3, 0, 1, 2], p=0.2): the top token alone passes p"),
        Case((np.zeros(40), 0.31), label="(40 tied logits of 0, p=0.31): keeps the first 13 tokens"),
        Case((np.array([[0.5, -0.3, 0.2]]), 1.0), label="([[0.5, -0.3, 0.2]], p=1.0): keep every token"),
    ],
    mistakes=[
        Mistake(
            "crossing_token_excluded",
            _topp_crossing_excluded,
            "you kept only the tokens whose cumulative probability (their own included) is at "
            "most p, which drops the token that crosses p: the kept mass is then below p, and "
            "when the most likely token alone exceeds p nothing is kept at all. Keep a token "
            "while the mass of the tokens *before* it is below p (cumsum - sorted_probs < p).",
        ),
        Mistake(
            "boundary_token_kept",
            _topp_boundary_kept,
            "you also kept a token when the tokens before it already add up to exactly p "
            "(mass_before <= p). They already reach p: the nucleus is the *smallest* set with mass "
            ">= p, so keep a token only while the mass before it is strictly below p.",
        ),
        Mistake(
            "least_likely_kept",
            _topp_least_likely,
            "you accumulated the probabilities from the least likely token up (an ascending "
            "sort), so you kept the unlikely tail. Sort from the most likely down: "
            "np.argsort(-x, axis=-1, kind='stable').",
        ),
        Mistake(
            "returned_probabilities",
            _topp_probabilities,
            "you returned probabilities (0 for excluded tokens). The filter must return logits: "
            "the kept logits unchanged and -inf for the excluded ones, so that a softmax of the "
            "result renormalises over the nucleus.",
        ),
    ],
    hints=[
        "Compute the probabilities with a stable softmax, then sort each row from the most likely "
        "token down (np.argsort(-x, axis=-1, kind='stable'), np.take_along_axis).",
        "For each sorted token, the mass before it is np.cumsum(sorted_probs, axis=-1) - "
        "sorted_probs. Keep it while that mass is < p: the first token is always kept, and so "
        "is the token that crosses p.",
        "Scatter the sorted mask back to the original positions (np.put_along_axis) and return "
        "np.where(keep, x, -np.inf).",
    ],
)


# -- Question 5: a top-k sampler, checked statistically -----------------------------------------

#: How many draws each case of question 5 asks for, and how far a token's frequency may be from
#: its probability: 0.02 is more than 5 standard deviations of a frequency over 20000 draws
#: (at most sqrt(0.25 / 20000) = 0.0035), so a right sampler practically never fails, and every
#: named mistake is off by far more on some case.
Q5_DRAWS = 20000
Q5_TOLERANCE = 0.02


def _q5_distribution(logits, k, rng=None, num_samples=Q5_DRAWS, temperature=1.0):
    """What the reference stands for: the filtered distribution, and how many draws to expect."""
    z = np.asarray(logits, dtype=float) / temperature
    return softmax(top_k_filter(z, k)), num_samples


def _q5_no_filter(logits, k, rng=None, num_samples=Q5_DRAWS, temperature=1.0):
    return _stable_softmax(np.asarray(logits, dtype=float) / temperature), num_samples


def _q5_uniform(logits, k, rng=None, num_samples=Q5_DRAWS, temperature=1.0):
    keep = _keep_first(np.asarray(logits, dtype=float), k)
    return keep / np.sum(keep), num_samples


def _q5_multiplied(logits, k, rng=None, num_samples=Q5_DRAWS, temperature=1.0):
    z = np.asarray(logits, dtype=float) * temperature
    return softmax(top_k_filter(z, k)), num_samples


def _q5_k_plus_one(logits, k, rng=None, num_samples=Q5_DRAWS, temperature=1.0):
    z = np.asarray(logits, dtype=float) / temperature
    return _stable_softmax(np.where(_keep_first(z, k + 1), z, _NEG_INF)), num_samples


def _consistent(samples, expected, **tolerance):
    """Whether token ids drawn by the learner could come from the expected distribution.

    ``expected`` is ``(probabilities, num_samples)``. The ids must be integers in the vocabulary,
    one per draw; a token of probability 0 must never be drawn; and each token's frequency must
    be within ``Q5_TOLERANCE`` of its probability.
    """
    probs, num_samples = expected
    probs = np.asarray(probs, dtype=float)
    try:
        ids = np.asarray(samples.numpy() if hasattr(samples, "numpy") else samples)
        ids = ids.astype(float)
    except Exception:
        return f"expected an array of token ids, got {type(samples).__name__}"
    if ids.shape != (num_samples,):
        return f"expected {num_samples} token ids in an array of shape ({num_samples},), got shape {ids.shape}"
    if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)) or np.any(ids < 0) or np.any(ids >= probs.size):
        return f"token ids must be whole numbers from 0 to {probs.size - 1}"
    counts = np.bincount(ids.astype(np.int64), minlength=probs.size)
    frequencies = counts / num_samples
    impossible = np.flatnonzero((probs == 0) & (counts > 0))
    if impossible.size:
        token = int(impossible[0])
        return (f"token {token} was drawn {int(counts[token])} times, but it is not among the k "
                f"largest logits, so its probability is 0")
    if np.max(np.abs(frequencies - probs)) > Q5_TOLERANCE:
        with np.printoptions(precision=3, suppress=True):
            return (f"over {num_samples} draws the tokens came out with frequencies "
                    f"{np.round(frequencies, 3)}, too far from the top-k probabilities "
                    f"{np.round(probs, 3)}")
    return None


def _q5_case(logits, k, temperature, seed, label):
    """A case whose ``rng`` is a fresh ``np.random.default_rng(seed)`` at every call.

    The reference and the mistakes return distributions and ignore it; the learner's sampler
    receives a new generator each time, so a check gives the same verdict every time it runs.
    """
    kwargs = {"rng": Seeded(seed), "num_samples": Q5_DRAWS, "temperature": temperature}
    return Case((logits, k), kwargs, label=label)


_Q5_FIRST = (np.array([2.0, 1.0, 0.5, 0.0, -1.0]), 3, 1.0)


q5 = FunctionQuestion(
    id="5.5",
    title="a top-k sampler",
    name="sample_top_k",
    reference=_q5_distribution,
    cases=[
        _q5_case(*_Q5_FIRST, 1, "([2, 1, 0.5, 0, -1], k=3, temperature=1.0)"),
        _q5_case(np.array([1.0, 3.0, 2.0, 3.0, 0.5]), 2, 0.5, 2,
                 "([1, 3, 2, 3, 0.5], k=2, temperature=0.5): a tie"),
        _q5_case(np.array([0.0, _NEG_INF, 0.5, 1.0, _NEG_INF, 2.0]), 4, 2.0, 3,
                 "([0, -inf, 0.5, 1, -inf, 2], k=4, temperature=2.0): masked tokens"),
        _q5_case(np.array([1000.0, 999.0, 998.0, 0.0, -1000.0], dtype=_F32), 2, 1.0, 4,
                 "(float32 [1000, 999, 998, 0, -1000], k=2, temperature=1.0)"),
        _q5_case(np.array([1e4, 1e4 - 1.0, 0.0, -1e4], dtype=_F32), 3, 1.0, 5,
                 "(float32 [1e4, 1e4 - 1, 0, -1e4], k=3, temperature=1.0)"),
        _q5_case(np.array([0.2, 0.1, -0.3, 0.0, 0.4, -0.1]), 5, 0.25, 6,
                 "([0.2, 0.1, -0.3, 0, 0.4, -0.1], k=5, temperature=0.25)"),
        # reproducibility: the first case again, with a generator seeded alike, then differently
        _q5_case(*_Q5_FIRST, 1, "([2, 1, 0.5, 0, -1], k=3, temperature=1.0, rng seeded 1 again)"),
        _q5_case(*_Q5_FIRST, 101, "([2, 1, 0.5, 0, -1], k=3, temperature=1.0, rng seeded 101)"),
    ],
    same_calls=[(0, 6)],
    different_calls=[(0, 7)],
    mistakes=[
        Mistake(
            "no_filter",
            _q5_no_filter,
            "your sampler draws from the softmax over every token: tokens outside the k largest "
            "logits come out too. Set the logits outside the top k to -inf before the softmax.",
        ),
        Mistake(
            "uniform_over_top_k",
            _q5_uniform,
            "your sampler picks uniformly among the k kept tokens (rng.choice of the indices), "
            "ignoring their probabilities. Draw with the renormalised softmax of the kept logits: "
            "rng.choice(len(logits), size=num_samples, p=probs).",
        ),
        Mistake(
            "temperature_multiplied",
            _q5_multiplied,
            "your sampler multiplies the logits by the temperature. Temperature divides them: "
            "softmax(z / T), so that T < 1 sharpens the distribution and T > 1 flattens it.",
        ),
        Mistake(
            "kept_k_plus_one",
            _q5_k_plus_one,
            "your sampler keeps k + 1 tokens: an off-by-one in the top-k filter. Keep exactly the "
            "k largest logits (your top_k_filter of question 1 does).",
        ),
    ],
    hints=[
        "Divide the logits by the temperature, apply your top_k_filter of question 1, and take a "
        "stable softmax: that is the distribution to sample from.",
        "rng.choice(len(probs), size=num_samples, p=probs) draws token ids with those "
        "probabilities (the probabilities must add up to 1: renormalise after filtering).",
        "Use the generator you are given (rng), not np.random: the same generator state must give "
        "the same samples, which is what makes generated text reproducible.",
    ],
    compare=_consistent,
)

QUESTIONS = questions_in(globals())
